#include "recipes/cache.h"
#include "common/strbuf.h"
#include "common/xalloc.h"
#include "recipes/melange.h"
#include "recipes/pipeline.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Bumped whenever the encoding changes: old entries are then ignored. */
#define RPL_CACHE_VERSION 3
#define NONE UINT32_MAX

/* ---- encoding ------------------------------------------------------------------ */

static void put_u32(struct rpl_strbuf *b, uint32_t v)
{
	unsigned char x[4] = { (unsigned char)v, (unsigned char)(v >> 8), (unsigned char)(v >> 16),
		               (unsigned char)(v >> 24) };
	rpl_strbuf_add(b, x, 4);
}

static void put_u64(struct rpl_strbuf *b, uint64_t v)
{
	put_u32(b, (uint32_t)v);
	put_u32(b, (uint32_t)(v >> 32));
}

static void put_str(struct rpl_strbuf *b, const char *s)
{
	size_t n;

	if (!s) {
		put_u32(b, NONE);
		return;
	}
	n = strlen(s);
	put_u32(b, (uint32_t)n);
	rpl_strbuf_add(b, s, n);
}

static void put_list(struct rpl_strbuf *b, const struct rpl_textlist *l)
{
	put_u32(b, (uint32_t)l->n);
	for (size_t i = 0; i < l->n; i++)
		put_str(b, l->v[i].s);
}

static void put_deps(struct rpl_strbuf *b, const struct rpl_dependencies *d)
{
	put_list(b, &d->runtime);
	put_list(b, &d->provides);
	put_list(b, &d->replaces);
	put_str(b, d->provider_priority.s);
	put_str(b, d->replaces_priority.s);
}

void *rpl_cache_encode(const struct rpl_recipe *r, const struct rpl_compiled *compiled,
                       size_t ncompiled, size_t *len)
{
	const struct rpl_package *p = &r->package;
	struct rpl_strbuf b = RPL_STRBUF_INIT;

	put_u32(&b, RPL_CACHE_VERSION);
	put_str(&b, p->name.s);
	put_u32(&b, p->name.line);
	put_u32(&b, p->name.col);
	put_str(&b, p->version.s);
	put_u64(&b, p->epoch);
	put_str(&b, p->timeout.s);
	put_u64(&b, p->timeout_seconds);
	put_deps(&b, &p->dependencies);
	put_list(&b, &p->target_architecture);
	put_u64(&b, r->nsubpackages_static);
	put_u32(&b, (uint32_t)r->nsubpackages);
	for (size_t i = 0; i < r->nsubpackages; i++) {
		const struct rpl_subpackage *sp = &r->subpackages[i];
		put_str(&b, sp->name.s);
		put_u32(&b, sp->line);
		put_u32(&b, sp->col);
		put_str(&b, sp->if_.s);
		put_deps(&b, &sp->dependencies);
	}
	put_u32(&b, (uint32_t)ncompiled);
	for (size_t k = 0; k < ncompiled; k++) {
		const struct rpl_compiled *c = &compiled[k];
		put_str(&b, c->arch);
		put_u32(&b, (uint32_t)c->nneeds);
		for (size_t i = 0; i < c->nneeds; i++) {
			put_str(&b, c->needs[i].name);
			put_str(&b, c->needs[i].via);
			put_str(&b, c->needs[i].subpackage);
		}
		put_u32(&b, (uint32_t)c->nsubs);
		for (size_t i = 0; i < c->nsubs; i++) {
			put_str(&b, c->subs[i].name);
			rpl_strbuf_addch(&b, (char)(c->subs[i].enabled != 0));
		}
		put_u32(&b, (uint32_t)c->npipeline_files);
		for (size_t i = 0; i < c->npipeline_files; i++)
			put_str(&b, c->pipeline_files[i]);
	}
	*len = b.len;
	return rpl_strbuf_detach(&b);
}

/* ---- decoding ------------------------------------------------------------------ */

/* A reading position; any short read marks it bad and every later read fails. */
struct cur {
	const unsigned char *p, *end;
	struct rpl_arena *a;
	int bad;
};

static uint32_t get_u32(struct cur *c)
{
	uint32_t v;

	if (c->bad || c->end - c->p < 4) {
		c->bad = 1;
		return 0;
	}
	v = (uint32_t)c->p[0] | (uint32_t)c->p[1] << 8 | (uint32_t)c->p[2] << 16 |
	    (uint32_t)c->p[3] << 24;
	c->p += 4;
	return v;
}

static uint64_t get_u64(struct cur *c)
{
	uint64_t lo = get_u32(c);

	return lo | (uint64_t)get_u32(c) << 32;
}

/* A string in the arena; NULL for none (and "" after a bad read). */
static const char *get_str(struct cur *c)
{
	uint32_t n = get_u32(c);
	const char *s;

	if (n == NONE && !c->bad)
		return NULL;
	if (c->bad || (size_t)(c->end - c->p) < n) {
		c->bad = 1;
		return "";
	}
	s = rpl_arena_strndup(c->a, (const char *)c->p, n);
	c->p += n;
	return s;
}

static struct rpl_text get_text(struct cur *c)
{
	const char *s = get_str(c);

	return rpl_text_make(s ? s : "");
}

/* A count no larger than the bytes left could hold (one byte each at least). */
static size_t get_count(struct cur *c)
{
	uint32_t n = get_u32(c);

	if ((size_t)(c->end - c->p) < n)
		c->bad = 1;
	return c->bad ? 0 : n;
}

static void get_list(struct cur *c, struct rpl_textlist *l)
{
	l->n = get_count(c);
	l->v = l->n ? rpl_arena_alloc(c->a, l->n * sizeof(*l->v)) : NULL;
	for (size_t i = 0; i < l->n; i++)
		l->v[i] = get_text(c);
}

static void get_deps(struct cur *c, struct rpl_dependencies *d)
{
	get_list(c, &d->runtime);
	get_list(c, &d->provides);
	get_list(c, &d->replaces);
	d->provider_priority = get_text(c);
	d->replaces_priority = get_text(c);
}

/* One arch's compile, read into `out` (its own arena). */
static int get_compiled(struct cur *c, const char *arch, struct rpl_compiled *out)
{
	struct rpl_arena *saved = c->a;

	memset(out, 0, sizeof(*out));
	rpl_arena_init_sized(&out->arena, 1024);
	c->a = &out->arena;
	out->arch = rpl_arena_strdup(c->a, arch);
	out->nneeds = get_count(c);
	out->needs = out->nneeds ? rpl_arena_alloc(c->a, out->nneeds * sizeof(*out->needs)) : NULL;
	for (size_t i = 0; i < out->nneeds; i++) {
		out->needs[i].name = get_str(c);
		out->needs[i].via = get_str(c);
		out->needs[i].subpackage = get_str(c);
		if (!out->needs[i].name || !out->needs[i].via)
			c->bad = 1;
	}
	out->nsubs = get_count(c);
	out->subs = out->nsubs ? rpl_arena_alloc(c->a, out->nsubs * sizeof(*out->subs)) : NULL;
	for (size_t i = 0; i < out->nsubs && !c->bad; i++) {
		out->subs[i].name = get_str(c);
		if (c->p >= c->end || !out->subs[i].name)
			c->bad = 1;
		else
			out->subs[i].enabled = *c->p++ != 0;
	}
	out->npipeline_files = get_count(c);
	out->pipeline_files = out->npipeline_files
	                              ? rpl_arena_alloc(c->a, out->npipeline_files * sizeof(char *))
	                              : NULL;
	for (size_t i = 0; i < out->npipeline_files; i++)
		if (!(out->pipeline_files[i] = get_str(c)))
			c->bad = 1;
	c->a = saved;
	return c->bad ? -1 : 0;
}

struct rpl_recipe *rpl_cache_decode(const void *data, size_t len, const char *file,
                                    const char *const *selected, size_t nselected,
                                    const char ***archs_out, size_t *narchs_out,
                                    struct rpl_compiled **compiled_out)
{
	struct rpl_recipe *r = rpl_xcalloc(1, sizeof(*r));
	struct rpl_package *p = &r->package;
	struct cur c = { data, (const unsigned char *)data + len, &r->arena, 0 };
	struct rpl_compiled *compiled = NULL;
	const char **archs;
	size_t narchs = 0, ncompiled, found = 0;

	rpl_arena_init_sized(&r->arena, len + 1024);
	r->slim = 1;
	r->file = rpl_arena_strdup(&r->arena, file);
	p->description = p->url = p->commit = rpl_text_make("");
	if (get_u32(&c) != RPL_CACHE_VERSION)
		goto fail;
	p->name = get_text(&c);
	p->name.line = get_u32(&c);
	p->name.col = get_u32(&c);
	p->version = get_text(&c);
	p->epoch = get_u64(&c);
	p->timeout = get_text(&c);
	p->timeout_seconds = get_u64(&c);
	get_deps(&c, &p->dependencies);
	get_list(&c, &p->target_architecture);
	r->nsubpackages_static = (size_t)get_u64(&c);
	r->nsubpackages = get_count(&c);
	r->subpackages =
	        r->nsubpackages
	                ? rpl_arena_alloc(&r->arena, r->nsubpackages * sizeof(*r->subpackages))
	                : NULL;
	for (size_t i = 0; i < r->nsubpackages; i++) {
		struct rpl_subpackage *sp = &r->subpackages[i];
		sp->range = sp->url = sp->commit = sp->description = rpl_text_make("");
		sp->name = get_text(&c);
		sp->line = get_u32(&c);
		sp->col = get_u32(&c);
		sp->if_ = get_text(&c);
		get_deps(&c, &sp->dependencies);
	}
	if (c.bad || !*p->name.s)
		goto fail;

	/* The compiles come in the order they were made; keep the ones asked for. */
	archs = rpl_arena_alloc(&r->arena, (nselected ? nselected : 1) * sizeof(*archs));
	narchs = rpl_recipe_archs(r, selected, nselected, archs);
	compiled = rpl_xcalloc(narchs ? narchs : 1, sizeof(*compiled));
	ncompiled = get_count(&c);
	for (size_t k = 0; k < ncompiled && !c.bad; k++) {
		const char *arch = get_str(&c);
		size_t at = narchs;
		struct rpl_compiled tmp;

		for (size_t i = 0; arch && i < narchs; i++)
			if (!strcmp(archs[i], arch))
				at = i;
		if (get_compiled(&c, arch ? arch : "", &tmp)) {
			rpl_compiled_release(&tmp);
			break;
		}
		if (at < narchs && !compiled[at].arch) {
			compiled[at] = tmp;
			found++;
		} else {
			rpl_compiled_release(&tmp);
		}
	}
	/* A complete entry and nothing after it. */
	if (c.bad || found != narchs || c.p != c.end)
		goto fail;

	*archs_out = archs;
	*narchs_out = narchs;
	*compiled_out = compiled;
	return r;
fail:
	for (size_t i = 0; compiled && i < narchs; i++)

		if (compiled[i].arch)
			rpl_compiled_release(&compiled[i]);
	free(compiled);
	rpl_recipe_free(r);
	return NULL;
}
