#include "recipes/subst.h"
#include "common/arena.h"
#include "common/error.h"
#include "common/strbuf.h"
#include "common/xalloc.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
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
	char stack[1024];
};

static void sbuf_init(struct sbuf *b)
{
	b->p = b->stack;
	b->len = 0;
	b->cap = sizeof(b->stack);
}

static void sbuf_add(struct sbuf *b, const char *s, size_t n)
{
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

void rpl_varmap_set(struct rpl_varmap *m, const char *name, const char *value)
{
	for (size_t i = 0; i < m->n; i++) {
		if (!strcmp(m->v[i].name, name)) {
			m->v[i].value = value;
			return;
		}
	}
	RPL_ALLOC_GROW(m->v, m->n + 1, m->alloc);
	m->v[m->n].name = name;
	m->v[m->n].value = value;
	m->n++;
}

static const char *lookup(const struct rpl_varmap *m, const char *name, size_t len)
{
	for (; m; m = m->parent)
		for (size_t i = m->n; i-- > 0;)
			if (!strncmp(m->v[i].name, name, len) && !m->v[i].name[len])
				return m->v[i].value;
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
	m->v = NULL;
	m->n = m->alloc = 0;
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
	res = rpl_arena_strndup(a, sb.p, sb.len);
	sbuf_release(&sb);
	return res;
}

static int is_name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '.' || c == '-' || c == '_';
}

/* Go's strconv.Quote for the ASCII and UTF-8 text recipes hold. */
static void go_quote(struct sbuf *sb, const char *v)
{
	sbuf_add(sb, "\"", 1);
	for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
		switch (*p) {
		case '"':
			sbuf_addstr(sb, "\\\"");
			break;
		case '\\':
			sbuf_addstr(sb, "\\\\");
			break;
		case '\n':
			sbuf_addstr(sb, "\\n");
			break;
		case '\t':
			sbuf_addstr(sb, "\\t");
			break;
		case '\r':
			sbuf_addstr(sb, "\\r");
			break;
		default:
			if (*p < 0x20 || *p == 0x7f) {
				char hex[8];
				snprintf(hex, sizeof(hex), "\\x%02x", *p);
				sbuf_addstr(sb, hex);
			} else {
				sbuf_add(sb, (const char *)p, 1);
			}
		}
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
	}
	sbuf_addstr(&sb, p);
	*out = rpl_arena_strndup(a, sb.p, sb.len);
out:
	sbuf_release(&sb);
	return err;
}

static int is_word(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_';
}

/*
 * Go's Regexp.expand: appends `repl` with group references filled from the
 * match in `ov`.  A `$` that does not start a valid reference is literal.
 */
static void expand(struct rpl_strbuf *sb, const char *repl, const char *src, PCRE2_SIZE *ov,
                   uint32_t ngroups, const pcre2_code *code)
{
	const char *p = repl;

	while (*p) {
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
		int numeric = 1;
		for (size_t i = 0; i < len; i++)
			if (name[i] < '0' || name[i] > '9')
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

int rpl_regex_replace_all(struct rpl_arena *a, const char *re, const char *src, const char *repl,
                          const char **out)
{
	struct rpl_strbuf sb = RPL_STRBUF_INIT;
	pcre2_code *code;
	pcre2_match_data *md;
	PCRE2_SIZE erroff, pos = 0, last_end = (PCRE2_SIZE)-1, copied = 0;
	PCRE2_SIZE len = strlen(src);
	int errcode, err = 0;
	uint32_t ngroups;

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
		int rc = pcre2_match(code, (PCRE2_SPTR)src, len, pos, 0, md, NULL);
		PCRE2_SIZE *ov;

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
