/*
 * melange's `if:` conditions (pkg/cond): a table of expressions and their
 * values, then a table of expressions that do not parse.
 */
#include "recipes/cond.h"
#include "common/error.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#define N(a) (sizeof(a) / sizeof(*(a)))

struct cond_case {
	const char *expr;
	int want;
};

static const struct cond_case cases[] = {
	{ "'a' == 'a'", 1 },
	{ "'a' != 'a'", 0 },
	{ "'a' == 'b'", 0 },
	{ "'a' != 'b'", 1 },
	{ "\"a\" == 'a'", 1 },
	{ "\"a\" != 'a'", 0 },
	{ "'a'=='a'", 1 },
	{ "'' == ''", 1 },
	{ "'a' == ''", 0 },
	/* Case matters. */
	{ "'A' == 'a'", 0 },
	/* The shape substitution leaves: `${{build.arch}} == 'aarch64'` on x86_64. */
	{ "\"x86_64\" == 'aarch64'", 0 },
	{ "\"aarch64\" == 'aarch64'", 1 },

	/* && and || bind equally and evaluate left to right. */
	{ "'a'=='a' || 'a'=='b' && 'a'=='b'", 0 }, /* (T || F) && F */
	{ "'a'=='b' && 'a'=='b' || 'a'=='a'", 1 }, /* (F && F) || T */
	{ "'a'=='b' && 'a'=='a' || 'a'=='a'", 1 },
	{ "'a'=='a' && 'a'=='b' || 'a'=='b'", 0 },
	{ "'a'=='a' || 'a'=='b' || 'a'=='b'", 1 },
	{ "'a'=='a' && 'b'=='b' && 'c'=='c'", 1 },
	{ "'a'=='a' && 'b'=='b' && 'c'=='d'", 0 },
	/* Parentheses group. */
	{ "'a'=='a' || ('a'=='b' && 'a'=='b')", 1 },
	{ "('a'=='b' || 'a'=='a') && 'b'=='b'", 1 },
	{ "('a'=='b' || 'a'=='a') && ('b'=='c')", 0 },
	{ "(('a'=='a'))", 1 },
	{ "( 'a' == 'a' )", 1 },
	{ "((('a'=='b') || 'x'=='x') && (('y'=='y')))", 1 },

	/* Escapes: \\ \' \" \n \t; others are kept as written. */
	{ "'it\\'s' == \"it's\"", 1 },
	{ "\"say \\\"hi\\\"\" == 'say \"hi\"'", 1 },
	{ "'a\\\\b' == \"a\\\\b\"", 1 },
	{ "'\\n' == \"\\n\"", 1 },
	{ "'\\t' == '\t'", 1 },
	{ "'\\n' == 'n'", 0 },
	{ "'\\q' == '\\\\q'", 1 },
	{ "'\\x41' == 'A'", 0 },

	/* Whitespace of every kind between tokens, none needed. */
	{ "'a'\t==\n'a'\r\n", 1 },
	{ "  'a'  ==  'a'  ", 1 },

	/* An empty expression is true. */
	{ "", 1 },
	{ "   \n", 1 },

	/* A variable left in the text reads as "". */
	{ "${{x}} == ''", 1 },
	{ "${{ build.arch }} == 'x86_64'", 0 },
	{ "${{a}} == ${{b}}", 1 },
	{ "${{a}} != ''", 0 },
	/* Inside quotes it is only text. */
	{ "'${{x}}' == ''", 0 },
	{ "'${{x}}' == \"${{x}}\"", 1 },
};

struct bad_case {
	const char *expr;
};

static const struct bad_case bad[] = {
	{ "'a' 'b'" },       /* missing operator */
	{ "'a' = 'a'" },     /* not an operator */
	{ "'a' === 'a'" },   /* a third '=' is not a value */
	{ "'a' ==" },        /* missing right-hand side */
	{ "'a'" },           /* a value alone is not a comparison */
	{ "'a' == 'b" },     /* unterminated string */
	{ "\"a' == 'a'" },   /* unterminated: the quotes differ */
	{ "'a' == 'a' x" },  /* trailing text */
	{ "'a' == 'a')" },   /* unbalanced ')' */
	{ "('a' == 'a'" },   /* missing ')' */
	{ "'a' == 'a' &&" }, /* dangling operator */
	{ "&& 'a' == 'a'" }, /* leading operator */
	{ "a == 'a'" },      /* unquoted */
	{ "()" },            /* empty group */
	{ "'a' == 'a' & 'b' == 'b'" },
	{ "${{x == 'a'" }, /* unterminated variable */
	{ "true" },
};

static void test_values(void **state)
{
	int failed = 0;

	(void)state;
	for (size_t i = 0; i < N(cases); i++) {
		int res = -1, err;

		rpl_error_clear();
		err = rpl_cond_eval(cases[i].expr, &res);
		if (err) {
			print_error("\"%s\": error %d \"%s\", want %d\n", cases[i].expr, err,
			            rpl_errmsg(), cases[i].want);
			failed++;
		} else if (res != cases[i].want) {
			print_error("\"%s\": got %d, want %d\n", cases[i].expr, res, cases[i].want);
			failed++;
		}
	}
	assert_int_equal(failed, 0);
}

static void test_parse_errors(void **state)
{
	int failed = 0;

	(void)state;
	for (size_t i = 0; i < N(bad); i++) {
		int res = 7, err;

		rpl_error_clear();
		err = rpl_cond_eval(bad[i].expr, &res);
		if (err != -RPL_EPARSE) {
			print_error("\"%s\": returned %d (result %d), want -RPL_EPARSE\n",
			            bad[i].expr, err, res);
			failed++;
		} else if (!*rpl_errmsg()) {
			print_error("\"%s\": no message\n", bad[i].expr);
			failed++;
		}
	}
	assert_int_equal(failed, 0);
}

struct message_case {
	const char *expr, *says;
};

/* The message says what is wrong (the caller names the condition). */
static const struct message_case messages[] = {
	{ "'a' == 'b", "unterminated string" },    { "'a' == 'a' x", "unexpected" },
	{ "'a' 'b'", "expected == or !=" },        { "('a' == 'a'", "expected ')'" },
	{ "a == 'a'", "expected a quoted value" },
};

static void test_error_messages(void **state)
{
	int failed = 0;

	(void)state;
	for (size_t i = 0; i < N(messages); i++) {
		int res;

		rpl_error_clear();
		if (rpl_cond_eval(messages[i].expr, &res) != -RPL_EPARSE ||
		    !strstr(rpl_errmsg(), messages[i].says)) {
			print_error("\"%s\": message \"%s\", want it to say \"%s\"\n",
			            messages[i].expr, rpl_errmsg(), messages[i].says);
			failed++;
		}
	}
	assert_int_equal(failed, 0);
}

/*
 * Nesting is bounded only by the text: Go's recursive parser evaluates a
 * million nested groups (its stacks grow).  The evaluation runs in a child
 * process so that a stack overflow is reported as a failure, not a crash of
 * this test program.
 */
static void test_deep_nesting(void **state)
{
	const size_t depth = 1000000;
	char *expr = malloc(2 * depth + 16);
	pid_t pid;
	int status = 0;

	(void)state;
	assert_non_null(expr);
	memset(expr, '(', depth);
	memcpy(expr + depth, "'a'=='a'", 8);
	memset(expr + depth + 8, ')', depth);
	expr[2 * depth + 8] = '\0';
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int res = -1, err = rpl_cond_eval(expr, &res);
		_exit(err ? 2 : res == 1 ? 0 : 3);
	}
	free(expr);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (WIFSIGNALED(status))
		fail_msg("evaluating %zu nested groups killed the process with signal %d", depth,
		         WTERMSIG(status));
	/* 0: true, as Go evaluates it; 2 would be an error, 3 a wrong value. */
	assert_int_equal(WEXITSTATUS(status), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_values),
		cmocka_unit_test(test_parse_errors),
		cmocka_unit_test(test_error_messages),
		cmocka_unit_test(test_deep_nesting),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
