#include "recipes/decode.h"
#include "common/arena.h"
#include "common/error.h"
#include "common/strbuf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int rpl_decode_error(const struct rpl_dctx *c, const struct rpl_ynode *n, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	rpl_verror_at(-RPL_ESCHEMA, c->file, n ? n->line : 1, n ? n->col : 1, fmt, ap);
	va_end(ap);
	return -RPL_ESCHEMA;
}

struct rpl_text rpl_text_make(const char *s)
{
	struct rpl_text t = { s, 0, 0 };
	return t;
}

const struct rpl_kv *rpl_kvlist_get(const struct rpl_kvlist *kv, const char *key)
{
	for (size_t i = 0; i < kv->n; i++)
		if (!strcmp(kv->v[i].key.s, key))
			return &kv->v[i];
	return NULL;
}

/*
 * Strings are copied into the decode arena so the YAML tree can be freed as
 * soon as decoding is done.
 */
static struct rpl_text text_of(const struct rpl_dctx *c, const struct rpl_ynode *n)
{
	struct rpl_text t = { "", n->line, n->col };

	/* yaml.v3 decodes null into a string field as "". */
	if (!rpl_ynode_is_null(n))
		t.s = rpl_arena_strndup(c->arena, n->scalar.s, n->scalar.len);
	return t;
}

int rpl_decode_str(const struct rpl_dctx *c, const struct rpl_ynode *n, struct rpl_text *out)
{
	if (n->type != RPL_YSCALAR)
		return rpl_decode_error(c, n, "expected a string, found %s", rpl_ynode_kind(n));
	*out = text_of(c, n);
	return 0;
}

int rpl_decode_strlist(const struct rpl_dctx *c, const struct rpl_ynode *n,
                       struct rpl_textlist *out)
{
	if (rpl_ynode_is_null(n)) {
		out->v = NULL;
		out->n = 0;
		return 0;
	}
	if (n->type != RPL_YSEQ)
		return rpl_decode_error(c, n, "expected a list of strings, found %s",
		                        rpl_ynode_kind(n));
	out->n = n->seq.n;
	out->v = out->n ? rpl_arena_alloc(c->arena, out->n * sizeof(*out->v)) : NULL;
	for (size_t i = 0; i < n->seq.n; i++) {
		int err = rpl_decode_str(c, n->seq.items[i], &out->v[i]);
		if (err)
			return err;
	}
	return 0;
}

int rpl_decode_strmap(const struct rpl_dctx *c, const struct rpl_ynode *n, struct rpl_kvlist *out)
{
	if (rpl_ynode_is_null(n)) {
		out->v = NULL;
		out->n = 0;
		return 0;
	}
	if (n->type != RPL_YMAP)
		return rpl_decode_error(c, n, "expected a mapping of strings, found %s",
		                        rpl_ynode_kind(n));
	out->n = n->map.n;
	out->v = out->n ? rpl_arena_alloc(c->arena, out->n * sizeof(*out->v)) : NULL;
	for (size_t i = 0; i < n->map.n; i++) {
		int err = rpl_decode_str(c, n->map.pairs[i].key, &out->v[i].key);
		if (!err)
			err = rpl_decode_str(c, n->map.pairs[i].value, &out->v[i].val);
		if (err)
			return err;
	}
	return 0;
}

/*
 * An integer as yaml.v3 reads one into an int field: a plain scalar,
 * underscores dropped, then Go's ParseInt with base 0 (0x hex, 0o or a
 * leading 0 octal, 0b binary, an optional sign).  Quoted scalars are strings.
 */
static int yaml_int(const struct rpl_ynode *n, int *neg, uint64_t *mag)
{
	char digits[64];
	const char *p;
	size_t k = 0;
	unsigned base = 10;

	if (n->type != RPL_YSCALAR || n->scalar.quoted || n->scalar.tagged_str)
		return -1;
	for (p = n->scalar.s; *p && k + 1 < sizeof(digits); p++)
		if (*p != '_')
			digits[k++] = *p;
	if (*p)
		return -1;
	digits[k] = '\0';
	p = digits;
	*neg = 0;
	if (*p == '+' || *p == '-')
		*neg = *p++ == '-';
	if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X'))
		base = 16, p += 2;
	else if (p[0] == '0' && (p[1] == 'o' || p[1] == 'O'))
		base = 8, p += 2;
	else if (p[0] == '0' && (p[1] == 'b' || p[1] == 'B'))
		base = 2, p += 2;
	else if (p[0] == '0' && p[1])
		base = 8, p += 1;
	if (!*p)
		return -1;
	*mag = 0;
	for (; *p; p++) {
		unsigned d;
		if (*p >= '0' && *p <= '9')
			d = (unsigned)(*p - '0');
		else if (*p >= 'a' && *p <= 'f')
			d = (unsigned)(*p - 'a' + 10);
		else if (*p >= 'A' && *p <= 'F')
			d = (unsigned)(*p - 'A' + 10);
		else
			return -1;
		if (d >= base || *mag > (UINT64_MAX - d) / base)
			return -1;
		*mag = *mag * base + d;
	}
	return 0;
}

/*
 * yaml.v3 resolves a plain scalar that is not an int but is a float ("08",
 * "1.0", "1e2") as a float, and decodes an integral float into an int
 * field.  YAML 1.2 floats: [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?
 */
static int yaml_integral_float(const struct rpl_ynode *n, int *neg, uint64_t *mag)
{
	const char *p = n->scalar.s;
	char *end;
	double d;
	int digits = 0;

	if (n->type != RPL_YSCALAR || n->scalar.quoted || n->scalar.tagged_str)
		return -1;
	if (*p == '+' || *p == '-')
		p++;
	for (; *p >= '0' && *p <= '9'; p++)
		digits++;
	if (*p == '.')
		for (p++; *p >= '0' && *p <= '9'; p++)
			digits++;
	if (!digits)
		return -1;
	if (*p == 'e' || *p == 'E') {
		p++;
		if (*p == '+' || *p == '-')
			p++;
		if (*p < '0' || *p > '9')
			return -1;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	if (*p)
		return -1;
	d = strtod(n->scalar.s, &end);
	/* In range before the cast: converting a double past int64 is undefined. */
	if (d > 9.2e18 || d < -9.2e18 || d != (double)(int64_t)d)
		return -1;
	*neg = d < 0;
	*mag = (uint64_t)(d < 0 ? -d : d);
	return 0;
}

int rpl_decode_u64(const struct rpl_dctx *c, const struct rpl_ynode *n, uint64_t *out)
{
	uint64_t mag;
	int neg;

	if (rpl_ynode_is_null(n)) {
		*out = 0;
		return 0;
	}
	if (n->type != RPL_YSCALAR)
		return rpl_decode_error(c, n, "expected an unsigned integer, found %s",
		                        rpl_ynode_kind(n));
	if ((yaml_int(n, &neg, &mag) && yaml_integral_float(n, &neg, &mag)) || (neg && mag))
		return rpl_decode_error(c, n, "expected an unsigned integer, found %s\"%s\"",
		                        n->scalar.quoted ? "the string " : "", n->scalar.s);
	*out = mag;
	return 0;
}

static int decode_i64(const struct rpl_dctx *c, const struct rpl_ynode *n, int64_t *out)
{
	uint64_t mag;
	int neg;

	if (rpl_ynode_is_null(n)) {
		*out = 0;
		return 0;
	}
	if (n->type != RPL_YSCALAR)
		return rpl_decode_error(c, n, "expected an integer, found %s", rpl_ynode_kind(n));
	if ((yaml_int(n, &neg, &mag) && yaml_integral_float(n, &neg, &mag)) ||
	    mag > (uint64_t)INT64_MAX + (neg ? 1 : 0))

		return rpl_decode_error(c, n, "expected an integer, found %s\"%s\"",
		                        n->scalar.quoted ? "the string " : "", n->scalar.s);
	*out = neg ? (int64_t)(0 - mag) : (int64_t)mag;
	return 0;
}

int rpl_decode_bool(const struct rpl_dctx *c, const struct rpl_ynode *n, int *out)
{
	static const char *const yes[] = { "true", "True", "TRUE", "yes", "Yes", "YES",
		                           "on",   "On",   "ON",   "y",   "Y" };
	static const char *const no[] = { "false", "False", "FALSE", "no", "No", "NO",
		                          "off",   "Off",   "OFF",   "n",  "N" };

	if (rpl_ynode_is_null(n)) {
		*out = 0;
		return 0;
	}
	if (n->type == RPL_YSCALAR && !n->scalar.quoted) {
		for (size_t i = 0; i < sizeof(yes) / sizeof(*yes); i++) {
			if (!strcmp(n->scalar.s, yes[i])) {
				*out = 1;
				return 0;
			}
			if (!strcmp(n->scalar.s, no[i])) {
				*out = 0;
				return 0;
			}
		}
	}
	if (n->type != RPL_YSCALAR)
		return rpl_decode_error(c, n, "expected a boolean, found %s", rpl_ynode_kind(n));
	return rpl_decode_error(c, n, "expected a boolean, found \"%s\"", n->scalar.s);
}

static int decode_list(const struct rpl_dctx *c, const struct rpl_ynode *n,
                       const struct rpl_field *f, char *base)
{
	void **ptr = (void **)(base + f->off);
	size_t *count = (size_t *)(base + f->aux_off);
	char *items;

	if (rpl_ynode_is_null(n)) {
		*ptr = NULL;
		*count = 0;
		return 0;
	}
	if (n->type != RPL_YSEQ)
		return rpl_decode_error(c, n, "'%s': expected a list, found %s", f->key,
		                        rpl_ynode_kind(n));
	items = n->seq.n ? rpl_arena_alloc(c->arena, n->seq.n * f->sub->size) : NULL;
	for (size_t i = 0; i < n->seq.n; i++) {
		int err = rpl_decode(c, n->seq.items[i], f->sub, items + i * f->sub->size);
		if (err)
			return err;
	}
	*ptr = items;
	*count = n->seq.n;
	return 0;
}

/*
 * Gives every string of a struct (and of its embedded structs) the value ""
 * so that an absent key reads as an empty string, as in Go.
 */
static void init_struct(const struct rpl_schema *schema, void *dst)
{
	for (const struct rpl_field *f = schema->fields; f->key; f++) {
		char *p = (char *)dst + f->off;

		if (f->kind == RPL_F_STR)
			((struct rpl_text *)p)->s = "";
		else if (f->kind == RPL_F_STRUCT)
			init_struct(f->sub, p);
	}
}

static int decode_field(const struct rpl_dctx *c, const struct rpl_ynode *v,
                        const struct rpl_field *f, char *base)
{
	void *dst = base + f->off;

	switch (f->kind) {
	case RPL_F_STR:
		return rpl_decode_str(c, v, dst);
	case RPL_F_STRLIST:
		return rpl_decode_strlist(c, v, dst);
	case RPL_F_STRMAP:
		return rpl_decode_strmap(c, v, dst);
	case RPL_F_U64:
		if (f->aux_off)
			*(int *)(base + f->aux_off) = !rpl_ynode_is_null(v);
		return rpl_decode_u64(c, v, dst);
	case RPL_F_INT:
		return decode_i64(c, v, dst);
	case RPL_F_BOOL:
		return rpl_decode_bool(c, v, dst);
	case RPL_F_STRUCT:
		return rpl_decode(c, v, f->sub, dst);
	case RPL_F_PTR: {
		void *p;
		if (rpl_ynode_is_null(v))
			return 0;
		p = rpl_arena_alloc(c->arena, f->sub->size);
		*(void **)dst = p;
		return rpl_decode(c, v, f->sub, p);
	}
	case RPL_F_LIST:
		return decode_list(c, v, f, base);
	case RPL_F_CUSTOM:
		return f->fn(c, v, dst);
	case RPL_F_NODE:
		*(const struct rpl_ynode **)dst = v;
		return 0;
	}
	RPL_BUG("unknown field kind");
}

int rpl_decode(const struct rpl_dctx *c, const struct rpl_ynode *n, const struct rpl_schema *schema,
               void *dst)
{
	init_struct(schema, dst);
	if (schema->at_off && n) {
		uint32_t *at = (uint32_t *)((char *)dst + schema->at_off - 1);
		at[0] = n->line;
		at[1] = n->col;
	}
	if (rpl_ynode_is_null(n))
		return 0;
	if (n->type != RPL_YMAP)
		return rpl_decode_error(c, n, "%s: expected a mapping, found %s", schema->name,
		                        rpl_ynode_kind(n));
	for (size_t i = 0; i < n->map.n; i++) {
		const struct rpl_ynode *k = n->map.pairs[i].key;
		const struct rpl_field *f;
		int err;

		for (f = schema->fields; f->key; f++)
			if (!strcmp(f->key, k->scalar.s))
				break;
		if (!f->key && c->lenient)
			continue;
		if (!f->key)
			return rpl_decode_error(c, k, "unknown key '%s' in %s", k->scalar.s,
			                        schema->name);
		err = decode_field(c, n->map.pairs[i].value, f, dst);
		if (err)
			return err;
	}
	return 0;
}
