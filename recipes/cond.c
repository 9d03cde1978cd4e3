#include "recipes/cond.h"
#include "common/error.h"
#include "common/strbuf.h"

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
	if (!ps->err)
		ps->err = rpl_error(-RPL_EPARSE, "cannot parse condition '%s': %s at offset %d",
		                    ps->expr, what, (int)(ps->p - ps->expr));
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

static int expr(struct parser *ps, int *res);

static int atom(struct parser *ps, int *res)
{
	struct rpl_strbuf a = RPL_STRBUF_INIT, b = RPL_STRBUF_INIT;
	int neg;

	skip_ws(ps);
	if (*ps->p == '(') {
		ps->p++;
		if (expr(ps, res))
			return ps->err;
		skip_ws(ps);
		if (*ps->p != ')')
			return fail(ps, "expected ')'");
		ps->p++;
		return 0;
	}
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

static int expr(struct parser *ps, int *res)
{
	if (atom(ps, res))
		return ps->err;
	for (;;) {
		int rhs, and;

		skip_ws(ps);
		if (!strncmp(ps->p, "&&", 2))
			and = 1;
		else if (!strncmp(ps->p, "||", 2))
			and = 0;
		else
			return 0;
		ps->p += 2;
		if (atom(ps, &rhs))
			return ps->err;
		*res = and? (*res && rhs) : (*res || rhs);
	}
}

int rpl_cond_eval(const char *e, int *result)
{
	struct parser ps = { e, e, 0 };

	skip_ws(&ps);
	if (!*ps.p) {
		*result = 1;
		return 0;
	}
	if (expr(&ps, result))
		return ps.err;
	skip_ws(&ps);
	if (*ps.p)
		return fail(&ps, "unexpected text");
	return 0;
}
