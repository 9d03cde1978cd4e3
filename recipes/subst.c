#include "recipes/subst.h"
#include "common/arena.h"
#include "common/error.h"
#include "common/strbuf.h"
#include "common/xalloc.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * Substitution builds its result in a buffer on the stack and only spills
 * to the heap for long text: most values are short, and a whole-repo scan
 * substitutes hundreds of thousands of them.
 */
struct sbuf {
	char *p;
	size_t len, cap;
	int over; /* something was refused: the result would pass RPL_SUBST_MAX_LEN */
	char stack[1024];
};

static void sbuf_init(struct sbuf *b)
{
	b->p = b->stack;
	b->len = 0;
	b->cap = sizeof(b->stack);
	b->over = 0;
}

static void sbuf_add(struct sbuf *b, const char *s, size_t n)
{
	if (b->over || n > RPL_SUBST_MAX_LEN - b->len) {
		b->over = 1;
		return;
	}
	if (b->len + n > b->cap) {
		size_t cap = (b->len + n) * 2;
		char *p = rpl_xmalloc(cap);
		memcpy(p, b->p, b->len);
		if (b->p != b->stack)
			free(b->p);
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
}

static void sbuf_addstr(struct sbuf *b, const char *s)
{
	sbuf_add(b, s, strlen(s));
}

static void sbuf_release(struct sbuf *b)
{
	if (b->p != b->stack)
		free(b->p);
}

enum { VARMAP_LINEAR = 16 };

static size_t name_hash(const char *name, size_t len)
{
	uint64_t h = 14695981039346656037u; /* FNV-1a */

	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)name[i]) * 1099511628211u;
	return (size_t)h;
}

static int name_is(const char *s, const char *name, size_t len)
{
	return !strncmp(s, name, len) && !s[len];
}

/* The index into m->v of `name` (its first `len` bytes), or -1. */
static long find(const struct rpl_varmap *m, const char *name, size_t len)
{
	if (!m->slots) {
		for (size_t i = 0; i < m->n; i++)
			if (name_is(m->v[i].name, name, len))
				return (long)i;
		return -1;
	}
	for (size_t i = name_hash(name, len) & (m->nslots - 1); m->slots[i];
	     i = (i + 1) & (m->nslots - 1))
		if (name_is(m->v[m->slots[i] - 1].name, name, len))
			return (long)m->slots[i] - 1;
	return -1;
}

static void index_add(struct rpl_varmap *m, size_t at)
{
	const char *name = m->v[at].name;
	size_t i = name_hash(name, strlen(name)) & (m->nslots - 1);

	while (m->slots[i])
		i = (i + 1) & (m->nslots - 1);
	m->slots[i] = at + 1;
}

void rpl_varmap_set(struct rpl_varmap *m, const char *name, const char *value)
{
	long at = find(m, name, strlen(name));

	if (at >= 0) {
		m->v[at].value = value;
		return;
	}
	RPL_ALLOC_GROW(m->v, m->n + 1, m->alloc);
	m->v[m->n].name = name;
	m->v[m->n].value = value;
	m->n++;
	if (m->n <= VARMAP_LINEAR)
		return;
	/* Kept at most half full: rebuilt twice as large when it would not be. */
	if (2 * m->n > m->nslots) {
		free(m->slots);
		m->nslots = m->nslots ? 2 * m->nslots : 4 * VARMAP_LINEAR;
		while (2 * m->n > m->nslots)
			m->nslots *= 2;
		m->slots = rpl_xcalloc(m->nslots, sizeof(*m->slots));
		for (size_t i = 0; i < m->n; i++)
			index_add(m, i);
	} else {
		index_add(m, m->n - 1);
	}
}

static const char *lookup(const struct rpl_varmap *m, const char *name, size_t len)
{
	for (; m; m = m->parent) {
		long at = find(m, name, len);
		if (at >= 0)
			return m->v[at].value;
	}
	return NULL;
}

const char *rpl_varmap_get(const struct rpl_varmap *m, const char *name)
{
	return lookup(m, name, strlen(name));
}

void rpl_varmap_copy(struct rpl_varmap *dst, const struct rpl_varmap *src)
{
	for (size_t i = 0; i < src->n; i++)
		rpl_varmap_set(dst, src->v[i].name, src->v[i].value);
}

void rpl_varmap_release(struct rpl_varmap *m)
{
	free(m->v);
	free(m->slots);
	m->v = NULL;
	m->slots = NULL;
	m->n = m->alloc = m->nslots = 0;
}

const char *rpl_subst_parse(struct rpl_arena *a, const char *s, const struct rpl_varmap *m)
{
	struct sbuf sb;
	const char *p = s, *copied = s, *open;
	const char *res;

	sbuf_init(&sb);
	while ((open = strstr(p, "${{"))) {
		const char *name = open + 3, *close = strstr(name, "}}");
		const char *val;

		if (!close)
			break;
		val = lookup(m, name, (size_t)(close - name));
		if (!val) {
			p = open + 1;
			continue;
		}
		sbuf_add(&sb, copied, (size_t)(open - copied));
		sbuf_addstr(&sb, val);
		p = copied = close + 2;
	}
	if (copied == s)
		return s;
	sbuf_addstr(&sb, copied);
	res = sb.over ? NULL : rpl_arena_strndup(a, sb.p, sb.len);
	sbuf_release(&sb);
	return res;
}

static int is_name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '.' || c == '-' || c == '_';
}

/* Decodes one UTF-8 sequence; returns its length, or 0 when invalid. */
static size_t utf8_decode(const unsigned char *p, uint32_t *r)
{
	if (p[0] < 0x80) {
		*r = p[0];
		return 1;
	}
	if (p[0] >= 0xc2 && p[0] <= 0xdf && (p[1] & 0xc0) == 0x80) {
		*r = ((uint32_t)(p[0] & 0x1f) << 6) | (p[1] & 0x3f);
		return 2;
	}
	if (p[0] >= 0xe0 && p[0] <= 0xef && (p[1] & 0xc0) == 0x80 && (p[2] & 0xc0) == 0x80) {
		*r = ((uint32_t)(p[0] & 0x0f) << 12) | ((uint32_t)(p[1] & 0x3f) << 6) |
		     (p[2] & 0x3f);
		return *r >= 0x800 && (*r < 0xd800 || *r > 0xdfff) ? 3 : 0;
	}
	if (p[0] >= 0xf0 && p[0] <= 0xf4 && (p[1] & 0xc0) == 0x80 && (p[2] & 0xc0) == 0x80 &&
	    (p[3] & 0xc0) == 0x80) {
		*r = ((uint32_t)(p[0] & 0x07) << 18) | ((uint32_t)(p[1] & 0x3f) << 12) |
		     ((uint32_t)(p[2] & 0x3f) << 6) | (p[3] & 0x3f);
		return *r >= 0x10000 && *r <= 0x10ffff ? 4 : 0;
	}
	return 0;
}

/*
 * Go's unicode.IsPrint for what recipes hold: not the controls, the spaces
 * other than ' ', the format characters, the separators, private use and
 * the noncharacters.  Unassigned code points count as printable here.
 */
static int go_isprint(uint32_t r)
{
	static const uint32_t not_print[][2] = {
		{ 0x0000, 0x001f }, { 0x007f, 0x00a0 },   { 0x00ad, 0x00ad },    { 0x0600, 0x0605 },
		{ 0x061c, 0x061c }, { 0x06dd, 0x06dd },   { 0x070f, 0x070f },    { 0x1680, 0x1680 },
		{ 0x180e, 0x180e }, { 0x2000, 0x200f },   { 0x2028, 0x202f },    { 0x205f, 0x206f },
		{ 0x3000, 0x3000 }, { 0xd800, 0xf8ff },   { 0xfeff, 0xfeff },    { 0xfff9, 0xfffb },
		{ 0xfffe, 0xffff }, { 0xe0001, 0xe007f }, { 0xf0000, 0x10ffff },
	};

	for (size_t i = 0; i < sizeof(not_print) / sizeof(*not_print); i++)
		if (r >= not_print[i][0] && r <= not_print[i][1])
			return 0;
	return 1;
}

/* Go's strconv.Quote. */
static void go_quote(struct sbuf *sb, const char *v)
{
	const unsigned char *p = (const unsigned char *)v;
	char esc[16];

	sbuf_add(sb, "\"", 1);
	while (*p) {
		uint32_t r;
		size_t n = utf8_decode(p, &r);

		if (!n) {
			snprintf(esc, sizeof(esc), "\\x%02x", *p);
			sbuf_addstr(sb, esc);
			p++;
			continue;
		}
		if (r == '"' || r == '\\') {
			esc[0] = '\\';
			esc[1] = (char)r;
			sbuf_add(sb, esc, 2);
		} else if (r == ' ' || go_isprint(r)) {
			sbuf_add(sb, (const char *)p, n);
		} else if (r < 0x80 && strchr("\a\b\f\n\r\t\v", (int)r) && r) {
			static const char letters[] = "abtnvfr"; /* \a=7 ... \r=13 */
			esc[0] = '\\';
			esc[1] = letters[r - 7];
			sbuf_add(sb, esc, 2);
		} else if (r < 0x20 || r == 0x7f) {
			snprintf(esc, sizeof(esc), "\\x%02x", (unsigned)r);
			sbuf_addstr(sb, esc);
		} else if (r < 0x10000) {
			snprintf(esc, sizeof(esc), "\\u%04x", (unsigned)r);
			sbuf_addstr(sb, esc);
		} else {
			snprintf(esc, sizeof(esc), "\\U%08x", (unsigned)r);
			sbuf_addstr(sb, esc);
		}
		p += n;
	}
	sbuf_add(sb, "\"", 1);
}

int rpl_subst_strict(struct rpl_arena *a, const char *s, const struct rpl_varmap *m,
                     enum rpl_subst_mode mode, const char **out)
{
	struct sbuf sb;
	const char *p = s, *open;
	int err = 0;

	if (!strstr(s, "${{")) {
		*out = s;
		return 0;
	}
	sbuf_init(&sb);
	while ((open = strstr(p, "${{"))) {
		const char *q = open + 3, *name, *val;
		size_t len;

		sbuf_add(&sb, p, (size_t)(open - p));
		while (*q == ' ')
			q++;
		name = q;
		while (is_name_char(*q))
			q++;
		len = (size_t)(q - name);
		while (*q == ' ')
			q++;
		if (!len || q[0] != '}' || q[1] != '}') {
			err = rpl_error(-RPL_ESUBST, "malformed substitution '%.*s'",
			                (int)strcspn(open, "\n"), open);
			goto out;
		}
		val = lookup(m, name, len);
		if (!val) {
			err = rpl_error(-RPL_ESUBST, "variable '%.*s' not defined", (int)len, name);
			goto out;
		}
		if (mode == RPL_SUBST_QUOTED)
			go_quote(&sb, val);
		else
			sbuf_addstr(&sb, val);
		p = q + 2;
		if (sb.over)
			break;
	}
	sbuf_addstr(&sb, p);
	if (sb.over) {
		err = rpl_error(-RPL_ESUBST, "substituting makes a string longer than %zu MiB",
		                RPL_SUBST_MAX_LEN >> 20);
		goto out;
	}
	*out = rpl_arena_strndup(a, sb.p, sb.len);
out:
	sbuf_release(&sb);
	return err;
}

/* Go's template names: letters (any Unicode letter: non-ASCII bytes), digits, '_'. */
static int is_word(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_' || (unsigned char)c >= 0x80;
}

/*
 * Go's Regexp.expand: appends `repl` with group references filled from the
 * match in `ov`.  A `$` that does not start a valid reference is literal.
 */
static void expand(struct rpl_strbuf *sb, const char *repl, const char *src, PCRE2_SIZE *ov,
                   uint32_t ngroups, const pcre2_code *code)
{
	const char *p = repl;

	/* The caller refuses the result past RPL_SUBST_MAX_LEN: stop there
	 * rather than repeat a long group a long replacement's times. */
	while (*p && sb->len <= RPL_SUBST_MAX_LEN) {
		const char *dollar = strchr(p, '$');
		const char *name;
		size_t len;
		int brace = 0;

		if (!dollar) {
			rpl_strbuf_addstr(sb, p);
			return;
		}
		rpl_strbuf_add(sb, p, (size_t)(dollar - p));
		p = dollar + 1;
		if (*p == '$') {
			rpl_strbuf_addch(sb, '$');
			p++;
			continue;
		}
		if (*p == '{') {
			brace = 1;
			p++;
		}
		name = p;
		while (is_word(*p))
			p++;
		len = (size_t)(p - name);
		if (!len || (brace && *p != '}')) {
			/* Malformed: the `$` stands for itself. */
			rpl_strbuf_addch(sb, '$');
			p = dollar + 1;
			continue;
		}
		if (brace)
			p++;

		long group = -1;
		int numeric = len < 9;
		for (size_t i = 0; i < len; i++)
			if (name[i] < '0' || name[i] > '9')
				numeric = 0;
		/* Go reads "01" as a name, not a number: no group has it. */
		if (len > 1 && name[0] == '0')
			numeric = 0;
		if (numeric) {
			char *stop;
			char tmp[32];
			if (len < sizeof(tmp)) {
				memcpy(tmp, name, len);
				tmp[len] = '\0';
				group = strtol(tmp, &stop, 10);
			}
		} else {
			char tmp[256];
			if (len < sizeof(tmp)) {
				memcpy(tmp, name, len);
				tmp[len] = '\0';
				int g = pcre2_substring_number_from_name(code, (PCRE2_SPTR)tmp);
				group = g >= 0 ? g : -1;
			}
		}
		if (group >= 0 && (uint32_t)group < ngroups && ov[2 * group] != PCRE2_UNSET)
			rpl_strbuf_add(sb, src + ov[2 * group], ov[2 * group + 1] - ov[2 * group]);
	}
}

/*
 * PCRE2 accepts constructs Go's RE2 refuses; a var-transform that uses one
 * would pass ripple and fail in melange.  Returns what is refused, or NULL.
 */
static const char *re2_refuses(const char *re)
{
	int in_class = 0;

	for (const char *p = re; *p; p++) {
		if (*p == '\\' && p[1]) {
			char e = p[1];
			if (!in_class && e >= '1' && e <= '9')
				return "backreferences";
			if (!in_class && (e == 'Z' || e == 'G' || e == 'K' || e == 'R' || e == 'X'))
				return "\\Z, \\G, \\K, \\R and \\X escapes";
			p++;
			continue;
		}
		if (in_class) {
			if (*p == ']')
				in_class = 0;
			continue;
		}
		if (*p == '[') {
			in_class = 1;
			if (p[1] == '^')
				p++;
			if (p[1] == ']')
				p++;
			continue;
		}
		if (*p == '(' && p[1] == '?') {
			const char *q = p + 2;
			if (*q == '=' || *q == '!' || (*q == '<' && (q[1] == '=' || q[1] == '!')))
				return "lookaround assertions";
			if (*q == '>' || *q == '|' || *q == 'R' || (*q >= '0' && *q <= '9') ||
			    *q == '&' || *q == '(' || *q == '#')
				return "atomic, branch-reset, recursive and comment groups";
		}
		if ((*p == '*' || *p == '+' || *p == '?' || *p == '}') && p[1] == '+')
			return "possessive quantifiers";
	}
	return NULL;
}

int rpl_regex_replace_all(struct rpl_arena *a, const char *re, const char *src, const char *repl,
                          const char **out)
{
	struct rpl_strbuf sb = RPL_STRBUF_INIT;
	pcre2_code *code;
	pcre2_match_data *md;
	PCRE2_SIZE erroff, pos = 0, last_end = (PCRE2_SIZE)-1, copied = 0;
	PCRE2_SIZE len = strlen(src);
	int errcode, err = 0;
	const char *refused;

	uint32_t ngroups;

	if ((refused = re2_refuses(re)))
		return rpl_error(
		        -RPL_EPARSE,
		        "regex '%s' does not compile: %s are not RE2 syntax (Go's regexp, which melange uses, refuses them)",
		        re, refused);
	code = pcre2_compile((PCRE2_SPTR)re, PCRE2_ZERO_TERMINATED,
	                     PCRE2_UTF | PCRE2_DOLLAR_ENDONLY, &errcode, &erroff, NULL);
	if (!code) {
		PCRE2_UCHAR msg[256];
		pcre2_get_error_message(errcode, msg, sizeof(msg));
		return rpl_error(-RPL_EPARSE, "regex '%s' does not compile: %s at offset %zu", re,
		                 (const char *)msg, (size_t)erroff);
	}
	md = pcre2_match_data_create_from_pattern(code, NULL);
	ngroups = pcre2_get_ovector_count(md);
	while (pos <= len) {
		/* PCRE2 checks the whole subject is UTF-8 on each call unless
		 * told not to: once is enough (each match was then quadratic). */
		uint32_t opts = pos ? PCRE2_NO_UTF_CHECK : 0;
		int rc = pcre2_match(code, (PCRE2_SPTR)src, len, pos, opts, md, NULL);
		PCRE2_SIZE *ov;

		/* RE2 never backtracks; PCRE2 can run out of steps where RE2 just
		 * finds no match.  The DFA matcher settles whether any match exists
		 * (it cannot give groups, so a real match stays an error). */
		if (rc == PCRE2_ERROR_MATCHLIMIT || rc == PCRE2_ERROR_DEPTHLIMIT) {
			int ws[4096];
			pcre2_match_data *dmd = pcre2_match_data_create(1, NULL);
			int drc = pcre2_dfa_match(code, (PCRE2_SPTR)src, len, pos, opts, dmd, NULL,
			                          ws, sizeof(ws) / sizeof(*ws));
			pcre2_match_data_free(dmd);
			if (drc == PCRE2_ERROR_NOMATCH)
				break;
		}
		if (rc == PCRE2_ERROR_NOMATCH)
			break;

		if (rc < 0) {
			PCRE2_UCHAR msg[256];
			pcre2_get_error_message(rc, msg, sizeof(msg));
			err = rpl_error(-RPL_EPARSE, "regex '%s': %s", re, (const char *)msg);
			goto out;
		}
		ov = pcre2_get_ovector_pointer(md);
		/* Go ignores an empty match that abuts the previous match. */
		if (!(ov[0] == ov[1] && ov[0] == last_end)) {
			rpl_strbuf_add(&sb, src + copied, ov[0] - copied);
			expand(&sb, repl, src, ov, ngroups, code);
			copied = ov[1];
		}
		if (sb.len + (len - copied) > RPL_SUBST_MAX_LEN) {
			err = rpl_error(-RPL_EPARSE,
			                "regex '%s': the replacement is longer than %zu MiB", re,
			                RPL_SUBST_MAX_LEN >> 20);
			goto out;
		}
		last_end = ov[1];
		if (ov[1] > ov[0]) {
			pos = ov[1];
		} else {
			/* Step over one UTF-8 character after an empty match. */
			pos = ov[1] + 1;
			while (pos < len && ((unsigned char)src[pos] & 0xc0) == 0x80)
				pos++;
		}
	}
	rpl_strbuf_add(&sb, src + copied, len - copied);
	*out = rpl_arena_strndup(a, rpl_strbuf_str(&sb), sb.len);
out:
	rpl_strbuf_release(&sb);
	pcre2_match_data_free(md);
	pcre2_code_free(code);
	return err;
}
