#include "recipes/cond.h"
#include "common/error.h"
#include "common/strbuf.h"
#include "common/xalloc.h"

#include <stdlib.h>
#include <string.h>

struct parser {
	const char *expr;
	const char *p;
	int err;
};

static void skip_ws(struct parser *ps)
{
	while (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r')
		ps->p++;
}

static int fail(struct parser *ps, const char *what)
{
	if (!ps->err) {
		if (*ps->p)
			ps->err = rpl_error(-RPL_EPARSE, "%s near '%.24s'", what, ps->p);
		else
			ps->err = rpl_error(-RPL_EPARSE, "%s at the end", what);
	}
	return ps->err;
}

/* A quoted string (with \\ \' \" \n \t escapes) or a leftover ${{var}}. */
static int value(struct parser *ps, struct rpl_strbuf *out)
{
	char q;

	skip_ws(ps);
	if (!strncmp(ps->p, "${{", 3)) {
		const char *close = strstr(ps->p, "}}");
		if (!close)
			return fail(ps, "unterminated variable");
		ps->p = close + 2;
		return 0;
	}
	q = *ps->p;
	if (q != '\'' && q != '"')
		return fail(ps, "expected a quoted value");
	ps->p++;
	while (*ps->p && *ps->p != q) {
		if (*ps->p == '\\' && ps->p[1]) {
			char e = ps->p[1];
			switch (e) {
			case '\\':
			case '\'':
			case '"':
				rpl_strbuf_addch(out, e);
				break;
			case 'n':
				rpl_strbuf_addch(out, '\n');
				break;
			case 't':
				rpl_strbuf_addch(out, '\t');
				break;
			default:
				rpl_strbuf_add(out, ps->p, 2);
			}
			ps->p += 2;
			continue;
		}
		rpl_strbuf_addch(out, *ps->p++);
	}
	if (*ps->p != q)
		return fail(ps, "unterminated string");
	ps->p++;
	return 0;
}

/* A comparison: value (== | !=) value. */
static int compare(struct parser *ps, int *res)
{
	struct rpl_strbuf a = RPL_STRBUF_INIT, b = RPL_STRBUF_INIT;
	int neg;

	if (value(ps, &a))
		goto out;
	skip_ws(ps);
	if (!strncmp(ps->p, "==", 2))
		neg = 0;
	else if (!strncmp(ps->p, "!=", 2))
		neg = 1;
	else {
		fail(ps, "expected == or !=");
		goto out;
	}
	ps->p += 2;
	if (value(ps, &b))
		goto out;
	*res = !strcmp(rpl_strbuf_str(&a), rpl_strbuf_str(&b)) ^ neg;
out:
	rpl_strbuf_release(&a);
	rpl_strbuf_release(&b);
	return ps->err;
}

/*
 * One group being evaluated: the value so far and the operator waiting for
 * its right-hand side.  Groups live on a heap stack, not the C stack, so a
 * condition nested a million parentheses deep evaluates like a flat one
 * (melange's parser takes it too) even on a small worker-thread stack.
 */
struct group {
	int has, val, op; /* op: 0 none, 1 &&, 2 || */
};

static void combine(struct group *g, int v)
{
	if (!g->has)
		g->val = v;
	else if (g->op == 1)
		g->val = g->val && v;
	else
		g->val = g->val || v;
	g->has = 1;
	g->op = 0;
}

int rpl_cond_eval(const char *e, int *result)
{
	struct parser ps = { e, e, 0 };
	struct group *stack = NULL;
	size_t depth = 0, alloc = 0;
	int v = 0;

	skip_ws(&ps);
	if (!*ps.p) {
		*result = 1;
		return 0;
	}
	RPL_ALLOC_GROW(stack, depth + 1, alloc);
	memset(&stack[depth++], 0, sizeof(*stack));
	for (;;) {
		/* An atom: open groups, then a comparison. */
		skip_ws(&ps);
		while (*ps.p == '(') {
			ps.p++;
			RPL_ALLOC_GROW(stack, depth + 1, alloc);
			memset(&stack[depth++], 0, sizeof(*stack));
			skip_ws(&ps);
		}
		if (compare(&ps, &v))
			goto out;
		combine(&stack[depth - 1], v);
		/* Close groups, then either an operator or the end. */
		for (;;) {
			skip_ws(&ps);
			if (*ps.p != ')')
				break;
			if (depth == 1) {
				fail(&ps, "unexpected ')'");
				goto out;
			}
			ps.p++;
			v = stack[--depth].val;
			combine(&stack[depth - 1], v);
		}
		if (!strncmp(ps.p, "&&", 2) || !strncmp(ps.p, "||", 2)) {
			stack[depth - 1].op = ps.p[0] == '&' ? 1 : 2;
			ps.p += 2;
			continue;
		}
		if (*ps.p)
			fail(&ps, depth > 1 ? "expected ')'" : "unexpected text");
		else if (depth > 1)
			fail(&ps, "expected ')'");
		break;
	}
	if (!ps.err)
		*result = stack[0].val;
out:
	free(stack);
	return ps.err;
}
