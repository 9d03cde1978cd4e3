/*
 * melange's two substitution engines, the variable scopes they read, and
 * Go's regexp.ReplaceAllString as var-transforms use it.  The cases are
 * tables; every expected regex result was checked against Go's regexp.
 */
#include "recipes/subst.h"
#include "common/arena.h"
#include "common/error.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define N(a) (sizeof(a) / sizeof(*(a)))

/* Table cases report every mismatch, then fail once. */
static int nfailed;

#define CASE_FAIL(...)                    \
	do {                              \
		print_error(__VA_ARGS__); \
		print_error("\n");        \
		nfailed++;                \
	} while (0)

/* ---- variable maps --------------------------------------------------------- */

static void test_varmap(void **state)
{
	struct rpl_varmap m = RPL_VARMAP_INIT, copy = RPL_VARMAP_INIT;

	(void)state;
	assert_null(rpl_varmap_get(&m, "a"));
	rpl_varmap_set(&m, "a", "1");
	rpl_varmap_set(&m, "b", "2");
	rpl_varmap_set(&m, "a", "3"); /* replaces */
	assert_int_equal(m.n, 2);
	assert_string_equal(rpl_varmap_get(&m, "a"), "3");
	assert_string_equal(rpl_varmap_get(&m, "b"), "2");
	/* Names match whole, not by prefix. */
	assert_null(rpl_varmap_get(&m, "aa"));
	assert_null(rpl_varmap_get(&m, ""));
	rpl_varmap_set(&m, "ab", "4");
	assert_string_equal(rpl_varmap_get(&m, "a"), "3");
	assert_string_equal(rpl_varmap_get(&m, "ab"), "4");

	rpl_varmap_set(&copy, "b", "old");
	rpl_varmap_copy(&copy, &m);
	assert_int_equal(copy.n, 3);
	assert_string_equal(rpl_varmap_get(&copy, "b"), "2");
	rpl_varmap_release(&copy);
	assert_int_equal(copy.n, 0);
	rpl_varmap_release(&m);
}

static void test_varmap_parent(void **state)
{
	struct rpl_varmap root = RPL_VARMAP_INIT, mid = RPL_VARMAP_INIT, leaf = RPL_VARMAP_INIT;
	struct rpl_arena a;
	const char *out;

	(void)state;
	rpl_arena_init(&a);
	rpl_varmap_set(&root, "x", "root-x");
	rpl_varmap_set(&root, "y", "root-y");
	rpl_varmap_set(&root, "z", "root-z");
	mid.parent = &root;
	rpl_varmap_set(&mid, "y", "mid-y");
	leaf.parent = &mid;
	rpl_varmap_set(&leaf, "z", "leaf-z");

	assert_string_equal(rpl_varmap_get(&leaf, "x"), "root-x");
	assert_string_equal(rpl_varmap_get(&leaf, "y"), "mid-y");
	assert_string_equal(rpl_varmap_get(&leaf, "z"), "leaf-z");
	/* Shadowing does not touch the parent. */
	assert_string_equal(rpl_varmap_get(&mid, "z"), "root-z");
	assert_string_equal(rpl_varmap_get(&root, "y"), "root-y");
	assert_null(rpl_varmap_get(&leaf, "w"));

	assert_int_equal(rpl_subst_strict(&a, "${{x}} ${{y}} ${{z}}", &leaf, RPL_SUBST_PLAIN, &out),
	                 0);
	assert_string_equal(out, "root-x mid-y leaf-z");
	assert_string_equal(rpl_subst_parse(&a, "${{x}} ${{y}} ${{z}}", &mid),
	                    "root-x mid-y root-z");
	rpl_varmap_release(&leaf);
	rpl_varmap_release(&mid);
	rpl_varmap_release(&root);
	rpl_arena_release(&a);
}

/* ---- phase A: parse time -------------------------------------------------- */

static void fill_map(struct rpl_varmap *m)
{
	rpl_varmap_set(m, "package.name", "hello");
	rpl_varmap_set(m, "package.version", "1.2.3");
	rpl_varmap_set(m, "vars.self", "${{package.name}}");
	rpl_varmap_set(m, "vars.empty", "");
	rpl_varmap_set(m, "build.arch", "x86_64");
}

struct parse_case {
	const char *in, *want;
};

static const struct parse_case parse_cases[] = {
	{ "${{package.name}}", "hello" },
	{ "a-${{package.name}}-${{package.version}}.tar", "a-hello-1.2.3.tar" },
	{ "${{package.name}}${{package.name}}", "hellohello" },
	/* Exact tokens only: spaces inside the braces are not tolerated. */
	{ "${{ package.name }}", "${{ package.name }}" },
	{ "${{package.name }}", "${{package.name }}" },
	/* Unknown tokens stay as written, known ones around them are replaced. */
	{ "${{targets.destdir}}/${{package.name}}", "${{targets.destdir}}/hello" },
	{ "${{inputs.x}}", "${{inputs.x}}" },
	/* A single pass: a value holding a token is not expanded again. */
	{ "${{vars.self}}", "${{package.name}}" },
	{ "x${{vars.empty}}y", "xy" },
	{ "$${{package.name}}", "$hello" },
	{ "${{package.name}}}", "hello}" },
	{ "${{${{package.name}}}}", "${{hello}}" },
	{ "${{package.name}", "${{package.name}" },
	{ "${package.name}", "${package.name}" },
	{ "", "" },
	{ "no tokens", "no tokens" },
};

static void test_subst_parse(void **state)
{
	struct rpl_varmap m = RPL_VARMAP_INIT;
	struct rpl_arena a;

	(void)state;
	nfailed = 0;
	rpl_arena_init(&a);
	fill_map(&m);
	for (size_t i = 0; i < N(parse_cases); i++) {
		const char *got = rpl_subst_parse(&a, parse_cases[i].in, &m);
		if (strcmp(got, parse_cases[i].want))
			CASE_FAIL("rpl_subst_parse(\"%s\") = \"%s\", want \"%s\"",
			          parse_cases[i].in, got, parse_cases[i].want);
	}
	rpl_varmap_release(&m);
	rpl_arena_release(&a);
	assert_int_equal(nfailed, 0);
}

/* Nothing replaced: the input itself comes back, no copy. */
static void test_subst_parse_no_copy(void **state)
{
	struct rpl_varmap m = RPL_VARMAP_INIT;
	struct rpl_arena a;
	const char *in = "keep ${{unknown}} as is";
	const char *in2 = "${{package.name}}";

	(void)state;
	rpl_arena_init(&a);
	fill_map(&m);
	assert_ptr_equal(rpl_subst_parse(&a, in, &m), in);
	assert_ptr_not_equal(rpl_subst_parse(&a, in2, &m), in2);
	rpl_varmap_release(&m);
	rpl_arena_release(&a);
}

/* ---- phase B: compile time ------------------------------------------------ */

struct strict_case {
	const char *in;
	enum rpl_subst_mode mode;
	const char *want; /* NULL: an error */
	const char *msg;  /* the error message */
};

static const struct strict_case strict_cases[] = {
	{ "${{package.name}}", RPL_SUBST_PLAIN, "hello", NULL },
	{ "${{ package.name }}", RPL_SUBST_PLAIN, "hello", NULL },
	{ "${{   package.name}}-${{package.version  }}", RPL_SUBST_PLAIN, "hello-1.2.3", NULL },
	{ "${{package.name}}${{build.arch}}", RPL_SUBST_PLAIN, "hellox86_64", NULL },
	/* No re-scan of substituted text. */
	{ "${{vars.self}}", RPL_SUBST_PLAIN, "${{package.name}}", NULL },
	{ "a${{vars.empty}}b", RPL_SUBST_PLAIN, "ab", NULL },
	{ "$ {{x}} }}", RPL_SUBST_PLAIN, "$ {{x}} }}", NULL },
	{ "", RPL_SUBST_PLAIN, "", NULL },
	{ "${{x}}", RPL_SUBST_PLAIN, NULL, "variable 'x' not defined" },
	{ "ok ${{package.name}} then ${{ inputs.missing }}", RPL_SUBST_PLAIN, NULL,
	  "variable 'inputs.missing' not defined" },
	{ "${{ a b }}", RPL_SUBST_PLAIN, NULL, "malformed substitution '${{ a b }}'" },
	{ "${{}}", RPL_SUBST_PLAIN, NULL, "malformed substitution '${{}}'" },
	{ "x ${{package.name", RPL_SUBST_PLAIN, NULL, "malformed substitution '${{package.name'" },
	{ "${{package.name}\nnext", RPL_SUBST_PLAIN, NULL,
	  "malformed substitution '${{package.name}'" },
	/* Only spaces are skipped inside the braces, as goparsify's Exact(" "). */
	{ "${{\tpackage.name}}", RPL_SUBST_PLAIN, NULL,
	  "malformed substitution '${{\tpackage.name}}'" },
	{ "${{pkg/name}}", RPL_SUBST_PLAIN, NULL, "malformed substitution '${{pkg/name}}'" },

	/* Quoted mode: each value as Go's strconv.Quote writes it. */
	{ "${{build.arch}} == 'aarch64'", RPL_SUBST_QUOTED, "\"x86_64\" == 'aarch64'", NULL },
	{ "${{vars.tricky}}", RPL_SUBST_QUOTED, "\"say \\\"hi\\\"\\nback\\\\slash\\ttab\"", NULL },
	{ "${{vars.self}} != ''", RPL_SUBST_QUOTED, "\"${{package.name}}\" != ''", NULL },
	{ "${{vars.empty}}", RPL_SUBST_QUOTED, "\"\"", NULL },
	{ "${{vars.ctl}}", RPL_SUBST_QUOTED, "\"\\x01\\x7f\\r\"", NULL },
	{ "${{vars.utf8}}", RPL_SUBST_QUOTED, "\"caf\xc3\xa9\"", NULL },
	/* strconv.Quote's letter escapes for BEL, BS, FF and VT. */
	{ "${{vars.bell}}", RPL_SUBST_QUOTED, "\"\\a\\b\\f\\v\"", NULL },
	/* Non-printable runes and invalid UTF-8 are escaped too. */
	{ "${{vars.nbsp}}", RPL_SUBST_QUOTED, "\"a\\u00a0b\"", NULL },
	{ "${{vars.badutf8}}", RPL_SUBST_QUOTED, "\"\\xff\"", NULL },
	{ "${{nope}} == ''", RPL_SUBST_QUOTED, NULL, "variable 'nope' not defined" },
};

static void test_subst_strict(void **state)
{
	struct rpl_varmap m = RPL_VARMAP_INIT;
	struct rpl_arena a;

	(void)state;
	nfailed = 0;
	rpl_arena_init(&a);
	fill_map(&m);
	rpl_varmap_set(&m, "vars.tricky", "say \"hi\"\nback\\slash\ttab");
	rpl_varmap_set(&m, "vars.ctl", "\x01\x7f\r");
	rpl_varmap_set(&m, "vars.utf8", "caf\xc3\xa9");
	rpl_varmap_set(&m, "vars.bell", "\a\b\f\v");
	rpl_varmap_set(&m, "vars.nbsp",
	               "a\xc2\xa0"
	               "b");
	rpl_varmap_set(&m, "vars.badutf8", "\xff");
	for (size_t i = 0; i < N(strict_cases); i++) {
		const struct strict_case *c = &strict_cases[i];
		const char *out = NULL;
		int err;

		rpl_error_clear();
		err = rpl_subst_strict(&a, c->in, &m, c->mode, &out);
		if (c->want) {
			if (err)
				CASE_FAIL("case %zu \"%s\": error %d \"%s\", want \"%s\"", i, c->in,
				          err, rpl_errmsg(), c->want);
			else if (strcmp(out, c->want))
				CASE_FAIL("case %zu \"%s\": got \"%s\", want \"%s\"", i, c->in, out,
				          c->want);
		} else {
			if (err != -RPL_ESUBST)
				CASE_FAIL("case %zu \"%s\": returned %d (\"%s\"), want -RPL_ESUBST",
				          i, c->in, err, err ? rpl_errmsg() : out);
			else if (strcmp(rpl_errmsg(), c->msg))
				CASE_FAIL("case %zu \"%s\": message \"%s\", want \"%s\"", i, c->in,
				          rpl_errmsg(), c->msg);
		}
	}
	rpl_varmap_release(&m);
	rpl_arena_release(&a);
	assert_int_equal(nfailed, 0);
}

static void test_subst_strict_no_copy(void **state)
{
	struct rpl_varmap m = RPL_VARMAP_INIT;
	struct rpl_arena a;
	const char *in = "plain text", *out = NULL;

	(void)state;
	rpl_arena_init(&a);
	assert_int_equal(rpl_subst_strict(&a, in, &m, RPL_SUBST_PLAIN, &out), 0);
	assert_ptr_equal(out, in);
	rpl_arena_release(&a);
}

/* Past a few entries a map is hashed: every name is still found, replaced and shadowed. */
static void test_varmap_large(void **state)
{
	struct rpl_varmap m = RPL_VARMAP_INIT, child = RPL_VARMAP_INIT, copy = RPL_VARMAP_INIT;
	struct rpl_arena a;
	char name[32];

	(void)state;
	rpl_arena_init(&a);
	for (int i = 0; i < 5000; i++) {
		snprintf(name, sizeof(name), "vars.v%d", i);
		rpl_varmap_set(&m, rpl_arena_strdup(&a, name), rpl_arena_printf(&a, "%d", i));
	}
	rpl_varmap_set(&m, "vars.v17", "replaced");
	assert_int_equal(m.n, 5000);
	assert_string_equal(rpl_varmap_get(&m, "vars.v0"), "0");
	assert_string_equal(rpl_varmap_get(&m, "vars.v4999"), "4999");
	assert_string_equal(rpl_varmap_get(&m, "vars.v17"), "replaced");
	assert_null(rpl_varmap_get(&m, "vars.v5000"));
	assert_null(rpl_varmap_get(&m, "vars.v"));
	child.parent = &m;
	rpl_varmap_set(&child, "vars.v3", "shadow");
	assert_string_equal(rpl_varmap_get(&child, "vars.v3"), "shadow");
	assert_string_equal(rpl_varmap_get(&child, "vars.v4"), "4");
	rpl_varmap_copy(&copy, &m);
	assert_int_equal(copy.n, 5000);
	assert_string_equal(rpl_varmap_get(&copy, "vars.v4321"), "4321");
	/* A token's name is looked up by its length, not up to a NUL. */
	assert_string_equal(rpl_subst_parse(&a, "${{vars.v42}}${{vars.v4}}", &m), "424");
	rpl_varmap_release(&copy);
	rpl_varmap_release(&child);
	rpl_varmap_release(&m);
	rpl_arena_release(&a);
}

/*
 * No substitution makes more than RPL_SUBST_MAX_LEN: a var that is ten
 * uses of the one before, nine deep, would be 10^9 bytes.
 */
static void test_subst_bounded(void **state)
{
	struct rpl_varmap m = RPL_VARMAP_INIT;
	struct rpl_arena a;
	size_t big = RPL_SUBST_MAX_LEN / 4;
	char *val = malloc(big + 1);
	const char *out = NULL;

	(void)state;
	assert_non_null(val);
	memset(val, 'x', big);
	val[big] = '\0';
	rpl_arena_init(&a);
	rpl_varmap_set(&m, "b", val);
	/* Four uses are exactly the bound; a fifth byte is past it. */
	out = rpl_subst_parse(&a, "${{b}}${{b}}${{b}}${{b}}", &m);
	assert_non_null(out);
	assert_int_equal(strlen(out), RPL_SUBST_MAX_LEN);
	assert_null(rpl_subst_parse(&a, "${{b}}${{b}}${{b}}${{b}}!", &m));
	assert_int_equal(
	        rpl_subst_strict(&a, "${{b}}${{b}}${{b}}${{b}}", &m, RPL_SUBST_PLAIN, &out), 0);
	rpl_error_clear();
	assert_int_equal(
	        rpl_subst_strict(&a, "${{b}}${{b}}${{b}}${{b}}${{b}}", &m, RPL_SUBST_PLAIN, &out),
	        -RPL_ESUBST);
	assert_string_equal(rpl_errmsg(), "substituting makes a string longer than 1 MiB");

	/* A regex replacement that repeats every character is bounded too. */
	rpl_error_clear();
	assert_int_equal(rpl_regex_replace_all(&a, "(.)", val, "$1$1$1$1$1", &out), -RPL_EPARSE);
	assert_string_equal(rpl_errmsg(), "regex '(.)': the replacement is longer than 1 MiB");
	assert_int_equal(rpl_regex_replace_all(&a, "(.)", val, "$1$1$1$1", &out), 0);
	assert_int_equal(strlen(out), RPL_SUBST_MAX_LEN);
	rpl_varmap_release(&m);
	rpl_arena_release(&a);
	free(val);
}

/* ---- Go's Regexp.ReplaceAllString ----------------------------------------- */

struct regex_case {
	const char *re, *src, *repl, *want;
};

/* Each `want` is what Go's regexp.MustCompile(re).ReplaceAllString(src, repl) returns. */
static const struct regex_case regex_cases[] = {
	/* The wolfi short-version transform. */
	{ "^(\\d+)\\.(\\d+)\\.\\d+$", "1.22.5", "$1.$2", "1.22" },
	{ "^(\\d+)\\.(\\d+)\\.\\d+$", "1.22", "$1.$2", "1.22" }, /* no match: unchanged */
	{ "(\\d+)\\.(\\d+)", "10.20", "$2.$1", "20.10" },
	{ "(\\d+)", "v12", "${1}", "v12" },
	/* `$1x` names group "1x", which does not exist: empty. */
	{ "(\\d+)", "v12", "$1x", "v" },
	{ "(\\d+)", "v12", "${1}x", "v12x" },
	{ "(\\d+)", "v12", "$$1", "v$1" },
	{ "(\\d+)", "v12", "$0", "v12" },
	{ "(\\d+)", "v12", "$2", "v" },
	/* Malformed references are literal text. */
	{ "(\\d+)", "v12", "$", "v$" },
	{ "(\\d+)", "v12", "a$", "va$" },
	{ "(\\d+)", "v12", "${1", "v${1" },
	{ "(\\d+)", "v12", "${}", "v${}" },
	{ "(\\d+)", "v12", "$-", "v$-" },
	/* Go disallows leading zeros in group numbers: `$01` is the (absent) name "01". */
	{ "(\\d+)", "v12", "$01", "v" },
	/* Names are Unicode letters and digits: `$é` is the (absent) group "é". */
	{ "(\\d+)", "v12", "$\xc3\xa9", "v" },
	{ "(?P<maj>\\d+)\\.(?P<min>\\d+)", "1.22", "$min.$maj", "22.1" },
	{ "(?P<maj>\\d+)\\.(?P<min>\\d+)", "1.22", "${maj}x", "1x" },
	{ "(?P<maj>\\d+)\\.(?P<min>\\d+)", "1.22", "$majx", "" },
	{ "(?P<maj>\\d+)\\.(?P<min>\\d+)", "1.22", "$nope", "" },
	/* An unmatched group expands to nothing. */
	{ "(a)|(b)", "ab", "[$1$2]", "[a][b]" },
	{ "x", "abc", "Y", "abc" },
	{ "a", "banana", "o", "bonono" },
	{ "_", "1_2_3", ".", "1.2.3" },
	{ "\\.", "1.2.3", "", "123" },
	/* Empty matches: one abutting the previous match is ignored. */
	{ "a*", "baaac", "X", "XbXcX" },
	{ "x*", "ab", "-", "-a-b-" },
	{ "a*?", "aa", "X", "XaXaX" },
	{ "\xc3\xa9*",
	  "a\xc3\xa9"
	  "b",
	  "-", "-a-b-" },
	{ "^", "ab", "X", "Xab" },
	{ "\\b", "ab cd", "|", "|ab| |cd|" },
	/* `$` matches only at the very end of the text, not before a final newline. */
	{ "$", "ab\n", "X", "ab\nX" },
	{ "b$", "ab\n", "X", "ab\n" },
	/* RE2 runs in linear time: no backtracking limit to hit. */
	{ "(a+)+$", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab", "X",
	  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab" },
};

static void test_regex_replace_all(void **state)
{
	struct rpl_arena a;

	(void)state;
	nfailed = 0;
	rpl_arena_init(&a);
	for (size_t i = 0; i < N(regex_cases); i++) {
		const struct regex_case *c = &regex_cases[i];
		const char *out = NULL;
		int err = rpl_regex_replace_all(&a, c->re, c->src, c->repl, &out);

		if (err)
			CASE_FAIL("case %zu /%s/: error %s", i, c->re, rpl_errmsg());
		else if (strcmp(out, c->want))
			CASE_FAIL("case %zu /%s/ on \"%s\" with \"%s\": got \"%s\", want \"%s\"", i,
			          c->re, c->src, c->repl, out, c->want);
	}
	rpl_arena_release(&a);
	assert_int_equal(nfailed, 0);
}

struct bad_regex {
	const char *re;
	const char *msg_prefix;
};

/* Patterns Go's regexp.Compile refuses. */
static const struct bad_regex bad_regexes[] = {
	{ "(", "regex '(' does not compile: " },
	{ "a**", "regex 'a**' does not compile: " },
	{ "[z-a]", "regex '[z-a]' does not compile: " },
	/* RE2 has no lookaround, backreferences or \Z. */
	{ "(?=a)", "regex '(?=a)' does not compile: " },
	{ "(a)\\1", "regex '(a)\\1' does not compile: " },
	{ "a\\Z", "regex 'a\\Z' does not compile: " },
};

static void test_regex_errors(void **state)
{
	struct rpl_arena a;

	(void)state;
	nfailed = 0;
	rpl_arena_init(&a);
	for (size_t i = 0; i < N(bad_regexes); i++) {
		const char *out = "untouched";
		int err;

		rpl_error_clear();
		err = rpl_regex_replace_all(&a, bad_regexes[i].re, "aa", "x", &out);
		if (err != -RPL_EPARSE)
			CASE_FAIL("/%s/: returned %d (out \"%s\"), want -RPL_EPARSE",
			          bad_regexes[i].re, err, out);
		else if (strncmp(rpl_errmsg(), bad_regexes[i].msg_prefix,
		                 strlen(bad_regexes[i].msg_prefix)))
			CASE_FAIL("/%s/: message \"%s\", want a prefix \"%s\"", bad_regexes[i].re,
			          rpl_errmsg(), bad_regexes[i].msg_prefix);
	}
	rpl_arena_release(&a);
	assert_int_equal(nfailed, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_varmap),
		cmocka_unit_test(test_varmap_parent),
		cmocka_unit_test(test_subst_parse),
		cmocka_unit_test(test_subst_parse_no_copy),
		cmocka_unit_test(test_subst_strict),
		cmocka_unit_test(test_subst_strict_no_copy),
		cmocka_unit_test(test_regex_replace_all),
		cmocka_unit_test(test_regex_errors),
		cmocka_unit_test(test_varmap_large),
		cmocka_unit_test(test_subst_bounded),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
