/*
 * apk versions and dependency constraints, matching apko's
 * pkg/apk/apk/version.go, which melange uses too, rule for rule.
 *
 * A version is read into its parts once: the numeric components, an
 * optional letter, at most one pre-release suffix, at most one
 * post-release suffix, and the -rN revision.  Every number must fit a Go
 * int on a 64-bit host (apko parses each with strconv.Atoi, which fails
 * beyond 2^63-1, and a failed parse makes the whole version invalid); so
 * numbers are int64_t here, and leading zeros are insignificant ("1.02"
 * equals "1.2", unlike apk-tools, which compares such components as
 * decimal fractions).
 */
#include "graph/version.h"

#include "common/error.h"

#include <stdint.h>
#include <string.h>

/* Pre-suffixes rank below "none"; post-suffixes above it. */
enum { PRE_NONE, PRE_ALPHA, PRE_BETA, PRE_PRE, PRE_RC, PRE_RANK_NONE = 1000 };
enum { POST_NONE, POST_CVS, POST_SVN, POST_GIT, POST_HG, POST_P };

static const char *const pre_names[] = { "alpha", "beta", "pre", "rc" };
static const char *const post_names[] = { "cvs", "svn", "git", "hg", "p" };

struct ver {
	const char *nums; /* the first digit; components are read from here again */
	size_t ncomp;
	int letter; /* 0 when none */
	int pre;    /* PRE_* */
	int64_t pre_no;
	int post; /* POST_* */
	int64_t post_no;
	int64_t rev;
};

/*
 * Reads a run of digits at *p into *out and advances *p.  An empty run is
 * 0 unless `need` is set; a value beyond INT64_MAX fails, as Atoi does.
 */
static int read_num(const char **p, int64_t *out, int need)
{
	const char *s = *p;
	int64_t v = 0;

	if (need && !(*s >= '0' && *s <= '9'))
		return -1;
	for (; *s >= '0' && *s <= '9'; s++) {
		int d = *s - '0';

		if (v > (INT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*out = v;
	*p = s;
	return 0;
}

/* The index of the name in `names` that `s` starts with, or -1. */
static int match_name(const char *s, const char *const *names, int n, size_t *len)
{
	for (int i = 0; i < n; i++) {
		size_t l = strlen(names[i]);

		if (!strncmp(s, names[i], l)) {
			*len = l;
			return i;
		}
	}
	return -1;
}

/*
 * Parses `s` against
 *   [0-9]+(\.[0-9]+)*[a-z]?(_(alpha|beta|pre|rc)[0-9]*)?(_(cvs|svn|git|hg|p)[0-9]*)?(-r[0-9]+)?
 * The regex is unambiguous for a left-to-right reader: the pre names and
 * the post names share no prefix that could make an early choice wrong
 * ("_pre" cannot be "_p" followed by anything valid).
 */
static int parse(const char *s, struct ver *v)
{
	const char *p = s;
	int64_t n;
	size_t len;
	int k;

	memset(v, 0, sizeof(*v));
	v->nums = s;
	if (read_num(&p, &n, 1))
		return -1;
	v->ncomp = 1;
	while (*p == '.') {
		p++;
		if (read_num(&p, &n, 1))
			return -1;
		v->ncomp++;
	}
	if (*p >= 'a' && *p <= 'z')
		v->letter = *p++;
	if (*p == '_' && (k = match_name(p + 1, pre_names, 4, &len)) >= 0) {
		v->pre = PRE_ALPHA + k;
		p += 1 + len;
		if (read_num(&p, &v->pre_no, 0))
			return -1;
	}
	if (*p == '_' && (k = match_name(p + 1, post_names, 5, &len)) >= 0) {
		v->post = POST_CVS + k;
		p += 1 + len;
		if (read_num(&p, &v->post_no, 0))
			return -1;
	}
	if (p[0] == '-' && p[1] == 'r') {
		p += 2;
		if (read_num(&p, &v->rev, 1))
			return -1;
	}
	return *p ? -1 : 0;
}

/* The next numeric component of an already validated version. */
static int64_t next_comp(const char **p)
{
	int64_t n = 0;

	if (**p == '.')
		(*p)++;
	read_num(p, &n, 1);
	return n;
}

static int sign(int64_t a, int64_t b)
{
	return a < b ? -1 : a > b;
}

/* apko's CompareVersions: the first difference, field by field. */
static int cmp_ver(const struct ver *a, const struct ver *b)
{
	const char *pa = a->nums, *pb = b->nums;
	size_t n = a->ncomp < b->ncomp ? a->ncomp : b->ncomp;
	int r;

	for (size_t i = 0; i < n; i++)
		if ((r = sign(next_comp(&pa), next_comp(&pb))))
			return r;
	if (a->ncomp != b->ncomp)
		return a->ncomp < b->ncomp ? -1 : 1;
	if ((r = sign(a->letter, b->letter)))
		return r;
	if ((r = sign(a->pre ? a->pre : PRE_RANK_NONE, b->pre ? b->pre : PRE_RANK_NONE)))
		return r;
	if ((r = sign(a->pre_no, b->pre_no)))
		return r;
	if ((r = sign(a->post, b->post)))
		return r;
	if ((r = sign(a->post_no, b->post_no)))
		return r;
	return sign(a->rev, b->rev);
}

/*
 * The fuzzy match, apko's includesVersion(actual, required).  Every numeric
 * component of `req` must equal the one at the same place in `act`.  If
 * `act` has more components it matches whatever follows (so ~1.2a accepts
 * 1.2.5, and ~1.2-r3 accepts 1.2.1-r0).  With as many components, each later
 * part of `req` that is set (letter, suffix, a non-zero suffix number or
 * revision) must be equal in `act`; unset or zero parts match anything, so
 * ~1.2 accepts 1.2_rc1, 1.2a and 1.2-r7, and ~1.2-r0 accepts 1.2-r5.  A
 * prefix of the components, not of the text: ~1.2 rejects 1.20.
 */
static int includes(const struct ver *act, const struct ver *req)
{
	const char *pa = act->nums, *pr = req->nums;

	if (act->ncomp < req->ncomp)
		return 0;
	for (size_t i = 0; i < req->ncomp; i++)
		if (next_comp(&pa) != next_comp(&pr))
			return 0;
	if (act->ncomp > req->ncomp)
		return 1;
	if (req->letter && act->letter != req->letter)
		return 0;
	if (req->pre && act->pre != req->pre)
		return 0;
	if (req->pre_no && act->pre_no != req->pre_no)
		return 0;
	if (req->post && act->post != req->post)
		return 0;
	if (req->post_no && act->post_no != req->post_no)
		return 0;
	if (req->rev && act->rev != req->rev)
		return 0;
	return 1;
}

int rpl_version_valid(const char *v)
{
	struct ver x;

	return parse(v, &x) == 0;
}

int rpl_version_cmp(const char *a, const char *b)
{
	struct ver va, vb;

	if (parse(a, &va))
		parse("0", &va);
	if (parse(b, &vb))
		parse("0", &vb);
	return cmp_ver(&va, &vb);
}

/* Whether `s` (of length n) ends with -r and at least one digit. */
static int ends_with_release(const char *s, size_t n)
{
	size_t d = n;

	while (d > 0 && s[d - 1] >= '0' && s[d - 1] <= '9')
		d--;
	return d < n && d >= 2 && s[d - 2] == '-' && s[d - 1] == 'r';
}

/*
 * Current apko reads "~" and "=~" as fuzzy and every other run of [=<>~]
 * ("~=" included) as "any version"; older apko had only "~".  "~=" is
 * fuzzy here, as in apk-tools, and the other runs are errors.
 */
static int op_from(const char *op, size_t n, enum rpl_vop *out)
{
	static const struct {
		const char *s;
		enum rpl_vop op;
	} ops[] = {
		{ "=", RPL_VOP_EQ },     { "<", RPL_VOP_LT },     { "<=", RPL_VOP_LE },
		{ ">", RPL_VOP_GT },     { ">=", RPL_VOP_GE },    { "~", RPL_VOP_FUZZY },
		{ "=~", RPL_VOP_FUZZY }, { "~=", RPL_VOP_FUZZY },
	};

	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		if (strlen(ops[i].s) == n && !memcmp(ops[i].s, op, n)) {
			*out = ops[i].op;
			return 0;
		}
	}
	return -1;
}

/*
 * Splits like apko's `^([^@=><~]+)(([=><~]+)([^@]+))?(@([a-zA-Z0-9]+))?$`
 * after its resolver has stripped a leading `!`, but refuses what apko
 * silently turns into "any version" or "no version matches": an unknown
 * operator, a missing or invalid version, a malformed tag.
 *
 * The so: rewrite follows apko's text rule: when the operator contains
 * '=' and the text after it (tag included) does not end in -rN, the
 * version becomes "0.<version>".  So "so:x=1.2-r3@tag" is rewritten too,
 * as in apko.  For "=~" apko inserts "0." before the `~`, which leaves a
 * version no package can match; here the version itself is prefixed.
 */
int rpl_constraint_parse(const char *s, struct rpl_constraint *c)
{
	const char *p = s, *name, *op, *ver, *tag = NULL;
	size_t nname, nop, nver, ntag = 0;
	int so;

	memset(c, 0, sizeof(*c));
	if (*p == '!') {
		c->conflict = 1;
		p++;
	}
	name = p;
	nname = strcspn(p, "@=<>~");
	p += nname;
	op = p;
	nop = strspn(p, "=<>~");
	p += nop;
	ver = p;
	nver = strcspn(p, "@");
	p += nver;
	if (*p == '@') {
		tag = p + 1;
		ntag = strlen(tag);
	}

	if (nname == 0)
		return rpl_error(-RPL_EPARSE, "missing package name in dependency '%s'", s);
	if (nname >= sizeof(c->name))
		return rpl_error(-RPL_EPARSE, "package name too long in dependency '%s'", s);
	if (tag) {
		size_t i;

		for (i = 0; i < ntag; i++) {
			char ch = tag[i];

			if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
			      (ch >= '0' && ch <= '9')))
				break;
		}
		if (ntag == 0 || i < ntag || ntag >= sizeof(c->tag))
			return rpl_error(-RPL_EPARSE,
			                 "invalid repository tag '%s' in dependency '%s'", tag, s);
		memcpy(c->tag, tag, ntag);
	}
	memcpy(c->name, name, nname);
	if (nop == 0) {
		c->op = RPL_VOP_ANY;
		return 0;
	}
	if (op_from(op, nop, &c->op))
		return rpl_error(-RPL_EPARSE, "unknown operator '%.*s' in dependency '%s'",
		                 (int)nop, op, s);
	if (nver == 0)
		return rpl_error(-RPL_EPARSE, "missing version after '%.*s' in dependency '%s'",
		                 (int)nop, op, s);

	so = !strncmp(name, "so:", 3) && memchr(op, '=', nop) &&
	     !ends_with_release(ver, strlen(ver));
	if (nver + (so ? 2 : 0) >= sizeof(c->version))
		return rpl_error(-RPL_EPARSE, "version too long in dependency '%s'", s);
	if (so)
		memcpy(c->version, "0.", 2);
	memcpy(c->version + (so ? 2 : 0), ver, nver);
	if (!rpl_version_valid(c->version))
		return rpl_error(-RPL_EPARSE, "invalid version '%.*s' in dependency '%s'",
		                 (int)nver, ver, s);
	return 0;
}

int rpl_constraint_match(const struct rpl_constraint *c, const char *v)
{
	struct ver act, req;
	int r;

	if (c->op == RPL_VOP_ANY)
		return 1;
	if (parse(v, &act) || parse(c->version, &req))
		return 0;
	if (c->op == RPL_VOP_FUZZY)
		return includes(&act, &req);
	r = cmp_ver(&act, &req);
	switch (c->op) {
	case RPL_VOP_EQ:
		return r == 0;
	case RPL_VOP_LT:
		return r < 0;
	case RPL_VOP_LE:
		return r <= 0;
	case RPL_VOP_GT:
		return r > 0;
	case RPL_VOP_GE:
		return r >= 0;
	default:
		return 0;
	}
}

int rpl_name_is_virtual(const char *name)
{
	return strchr(name, ':') != NULL;
}
