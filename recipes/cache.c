#include "recipes/cache.h"
#include "common/bytes.h"
#include "common/strbuf.h"
#include "common/xalloc.h"
#include "recipes/melange.h"
#include "recipes/pipeline.h"

#include <stdalign.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Bumped whenever the encoding changes: old entries are then ignored. */
#define RPL_CACHE_VERSION 4

/* ---- encoding ------------------------------------------------------------------ */

static void put_list(struct rpl_strbuf *b, const struct rpl_textlist *l)
{
	rpl_put_u32(b, (uint32_t)l->n);
	for (size_t i = 0; i < l->n; i++)
		rpl_put_str(b, l->v[i].s);
}

static void put_deps(struct rpl_strbuf *b, const struct rpl_dependencies *d)
{
	put_list(b, &d->runtime);
	put_list(b, &d->provides);
	put_list(b, &d->replaces);
	rpl_put_str(b, d->provider_priority.s);
	rpl_put_str(b, d->replaces_priority.s);
}

/* A text with where it was written (an executor's error points there). */
static void put_text_at(struct rpl_strbuf *b, const struct rpl_text *t)
{
	rpl_put_str(b, t->s);
	rpl_put_u32(b, t->line);
	rpl_put_u32(b, t->col);
}

void *rpl_cache_encode(const struct rpl_recipe_summary *r, const struct rpl_compiled *compiled,
                       size_t ncompiled, size_t *len)
{
	struct rpl_strbuf b = RPL_STRBUF_INIT;

	rpl_put_u32(&b, RPL_CACHE_VERSION);
	rpl_put_str(&b, r->name.s);
	rpl_put_u32(&b, r->name.line);
	rpl_put_u32(&b, r->name.col);
	rpl_put_str(&b, r->version.s);
	rpl_put_u64(&b, r->epoch);
	rpl_put_str(&b, r->timeout.s);
	rpl_put_u64(&b, r->timeout_seconds);
	put_text_at(&b, &r->cpu);
	put_text_at(&b, &r->memory);
	put_deps(&b, &r->dependencies);
	put_list(&b, &r->target_architecture);
	rpl_put_u64(&b, r->nsubpackages_static);
	rpl_put_u32(&b, (uint32_t)r->nsubpackages);
	for (size_t i = 0; i < r->nsubpackages; i++) {
		const struct rpl_subpackage_summary *sp = &r->subpackages[i];
		rpl_put_str(&b, sp->name.s);
		rpl_put_u32(&b, sp->line);
		rpl_put_u32(&b, sp->col);
		rpl_put_str(&b, sp->if_.s);
		put_deps(&b, &sp->dependencies);
	}
	rpl_put_u32(&b, (uint32_t)ncompiled);
	for (size_t k = 0; k < ncompiled; k++) {
		const struct rpl_compiled *c = &compiled[k];
		rpl_put_str(&b, c->arch);
		rpl_put_u32(&b, (uint32_t)c->nneeds);
		for (size_t i = 0; i < c->nneeds; i++) {
			rpl_put_str(&b, c->needs[i].name);
			rpl_put_str(&b, c->needs[i].via);
			rpl_put_str(&b, c->needs[i].subpackage);
		}
		rpl_put_u32(&b, (uint32_t)c->nsubs);
		for (size_t i = 0; i < c->nsubs; i++) {
			rpl_put_str(&b, c->subs[i].name);
			rpl_put_u8(&b, c->subs[i].enabled != 0);
		}
		rpl_put_u32(&b, (uint32_t)c->npipeline_files);
		for (size_t i = 0; i < c->npipeline_files; i++)
			rpl_put_str(&b, c->pipeline_files[i]);
	}
	*len = b.len;
	return rpl_strbuf_detach(&b);
}

/* ---- decoding ------------------------------------------------------------------ */

/* A reading position and the arena its strings go to. */
struct cur {
	struct rpl_cursor in;
	struct rpl_arena *a;
};

static const char *get_str(struct cur *c)
{
	return rpl_get_str(&c->in, c->a);
}

static struct rpl_text get_text(struct cur *c)
{
	const char *s = get_str(c);

	return rpl_text_make(s ? s : "");
}

static struct rpl_text get_text_at(struct cur *c)
{
	struct rpl_text t = get_text(c);

	t.line = rpl_get_u32(&c->in);
	t.col = rpl_get_u32(&c->in);
	return t;
}

/* A count no larger than the bytes left could hold (four bytes each at least). */
static size_t get_count(struct cur *c)
{
	return rpl_get_count(&c->in, 4);
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

/* What the string at `in` takes in an arena (and skips it): 0 for none. */
static size_t skip_str(struct rpl_cursor *in)
{
	uint32_t n = rpl_get_u32(in);

	if (n == RPL_BYTES_NONE && !in->bad)
		return 0;
	return rpl_get_bytes(in, n) ? (size_t)n + 1 : 0;
}

#define ALIGN alignof(max_align_t)

/*
 * What get_compiled will put in its arena for the compile at `in` (which
 * it skips), strings packed and each array aligned, so that its one block
 * is made that size: a scan of 50,000 recipes keeps 50,000 of these, and a
 * fixed kilobyte each was mostly empty.  Too small only costs another
 * block.
 */
static size_t compiled_size(struct rpl_cursor *in, size_t arch_len)
{
	size_t size = arch_len + 1, n;

	n = rpl_get_count(in, 4);
	size += n * sizeof(struct rpl_need) + ALIGN;
	for (size_t i = 0; i < n && !in->bad; i++)
		size += skip_str(in) + skip_str(in) + skip_str(in);
	n = rpl_get_count(in, 4);
	size += n * sizeof(struct rpl_csub) + ALIGN;
	for (size_t i = 0; i < n && !in->bad; i++) {
		size += skip_str(in);
		rpl_get_u8(in);
	}
	n = rpl_get_count(in, 4);
	size += n * sizeof(char *) + ALIGN;
	for (size_t i = 0; i < n && !in->bad; i++)
		size += skip_str(in);
	return size;
}

/* What get_list puts in the arena for the list at `in` (which it skips). */
static size_t list_size(struct rpl_cursor *in)
{
	size_t n = rpl_get_count(in, 4), size = n ? n * sizeof(struct rpl_text) + ALIGN : 0;

	for (size_t i = 0; i < n && !in->bad; i++)
		size += skip_str(in);
	return size;
}

static size_t deps_size(struct rpl_cursor *in)
{
	size_t size = list_size(in) + list_size(in) + list_size(in);

	return size + skip_str(in) + skip_str(in);
}

/*
 * What rpl_cache_decode puts in the recipe's arena for the entry at `in`
 * (a copy: nothing is consumed), in the order it reads it, for the same
 * reason as compiled_size.  The compiles' own arenas are not counted, only
 * their arch names, which go here.
 */
static size_t recipe_size(struct rpl_cursor in, size_t file_len, size_t nselected)
{
	size_t size = file_len + 1, n;

	rpl_get_u32(&in); /* the version */
	size += skip_str(&in);
	rpl_get_u32(&in);
	rpl_get_u32(&in);
	size += skip_str(&in);
	rpl_get_u64(&in);
	size += skip_str(&in);
	rpl_get_u64(&in);
	for (int k = 0; k < 2; k++) { /* cpu, memory */
		size += skip_str(&in);
		rpl_get_u32(&in);
		rpl_get_u32(&in);
	}
	size += deps_size(&in) + list_size(&in);
	rpl_get_u64(&in);
	n = rpl_get_count(&in, 4);
	size += n * sizeof(struct rpl_subpackage_summary) + ALIGN;
	for (size_t i = 0; i < n && !in.bad; i++) {
		size += skip_str(&in);
		rpl_get_u32(&in);
		rpl_get_u32(&in);
		size += skip_str(&in) + deps_size(&in);
	}
	size += (nselected ? nselected : 1) * sizeof(char *) + ALIGN;
	n = rpl_get_count(&in, 4);
	for (size_t k = 0; k < n && !in.bad; k++) {
		size_t arch = skip_str(&in);
		size += arch;
		compiled_size(&in, arch);
	}
	return size;
}

/* One arch's compile, read into `out` (its own arena). */
static int get_compiled(struct cur *c, const char *arch, struct rpl_compiled *out)
{
	struct rpl_arena *saved = c->a;

	memset(out, 0, sizeof(*out));
	{
		struct rpl_cursor at = c->in;
		rpl_arena_init_sized(&out->arena, compiled_size(&at, strlen(arch)));
	}
	c->a = &out->arena;
	out->arch = rpl_arena_strdup(c->a, arch);
	out->nneeds = get_count(c);
	out->needs = out->nneeds ? rpl_arena_alloc(c->a, out->nneeds * sizeof(*out->needs)) : NULL;
	for (size_t i = 0; i < out->nneeds; i++) {
		out->needs[i].name = get_str(c);
		out->needs[i].via = get_str(c);
		out->needs[i].subpackage = get_str(c);
		if (!out->needs[i].name || !out->needs[i].via)
			c->in.bad = 1;
	}
	out->nsubs = get_count(c);
	out->subs = out->nsubs ? rpl_arena_alloc(c->a, out->nsubs * sizeof(*out->subs)) : NULL;
	for (size_t i = 0; i < out->nsubs; i++) {
		out->subs[i].name = get_str(c);
		out->subs[i].enabled = rpl_get_u8(&c->in) != 0;
		if (!out->subs[i].name)
			c->in.bad = 1;
	}
	out->npipeline_files = get_count(c);
	out->pipeline_files = out->npipeline_files
	                              ? rpl_arena_alloc(c->a, out->npipeline_files * sizeof(char *))
	                              : NULL;
	for (size_t i = 0; i < out->npipeline_files; i++)
		if (!(out->pipeline_files[i] = get_str(c)))
			c->in.bad = 1;
	c->a = saved;
	return c->in.bad ? -1 : 0;
}

struct rpl_recipe_summary *rpl_cache_decode(const void *data, size_t len, const char *file,
                                            const char *const *selected, size_t nselected,
                                            const char ***archs_out, size_t *narchs_out,
                                            struct rpl_compiled **compiled_out)
{
	struct rpl_recipe_summary *r = rpl_xcalloc(1, sizeof(*r));
	struct cur c = { rpl_cursor_make(data, len), &r->arena };
	struct rpl_compiled *compiled = NULL;
	const char **archs;
	size_t narchs = 0, ncompiled, found = 0;

	rpl_arena_init_sized(&r->arena, recipe_size(c.in, strlen(file), nselected));
	r->file = rpl_arena_strdup(&r->arena, file);
	if (rpl_get_u32(&c.in) != RPL_CACHE_VERSION)
		goto fail;
	r->name = get_text(&c);
	r->name.line = rpl_get_u32(&c.in);
	r->name.col = rpl_get_u32(&c.in);
	r->version = get_text(&c);
	r->epoch = rpl_get_u64(&c.in);
	r->timeout = get_text(&c);
	r->timeout_seconds = rpl_get_u64(&c.in);
	r->cpu = get_text_at(&c);
	r->memory = get_text_at(&c);
	get_deps(&c, &r->dependencies);
	get_list(&c, &r->target_architecture);
	r->nsubpackages_static = (size_t)rpl_get_u64(&c.in);
	r->nsubpackages = get_count(&c);
	r->subpackages =
	        r->nsubpackages
	                ? rpl_arena_alloc(&r->arena, r->nsubpackages * sizeof(*r->subpackages))
	                : NULL;
	for (size_t i = 0; i < r->nsubpackages; i++) {
		struct rpl_subpackage_summary *sp = &r->subpackages[i];
		sp->name = get_text(&c);
		sp->line = rpl_get_u32(&c.in);
		sp->col = rpl_get_u32(&c.in);
		sp->if_ = get_text(&c);
		get_deps(&c, &sp->dependencies);
	}
	if (c.in.bad || !*r->name.s)
		goto fail;

	/* The compiles come in the order they were made; keep the ones asked for. */
	archs = rpl_arena_alloc(&r->arena, (nselected ? nselected : 1) * sizeof(*archs));
	narchs = rpl_recipe_archs(&r->target_architecture, selected, nselected, archs);
	compiled = rpl_xcalloc(narchs ? narchs : 1, sizeof(*compiled));
	ncompiled = get_count(&c);
	for (size_t k = 0; k < ncompiled && !c.in.bad; k++) {
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
	if (c.in.bad || found != narchs || c.in.p != c.in.end)
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
	rpl_recipe_summary_free(r);
	return NULL;
}
