#include "recipes/cache.h"
#include "common/xalloc.h"
#include "recipes/melange.h"
#include "recipes/pipeline.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

static json_t *list_json(const struct rpl_textlist *l)
{
	json_t *a = json_array();

	for (size_t i = 0; i < l->n; i++)
		json_array_append_new(a, json_string(l->v[i].s));
	return a;
}

static json_t *deps_json(const struct rpl_dependencies *d)
{
	return json_pack("{s:o,s:o,s:o,s:s,s:s}", "runtime", list_json(&d->runtime), "provides",
	                 list_json(&d->provides), "replaces", list_json(&d->replaces), "pp",
	                 d->provider_priority.s, "rp", d->replaces_priority.s);
}

static json_t *needs_json(const struct rpl_need *v, size_t n)
{
	json_t *a = json_array();

	for (size_t i = 0; i < n; i++)
		json_array_append_new(a,
		                      json_pack("[s,s,s?]", v[i].name, v[i].via, v[i].subpackage));
	return a;
}

static json_t *files_json(const char *const *v, size_t n)
{
	json_t *a = json_array();

	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, json_string(v[i]));
	return a;
}

char *rpl_cache_encode(const struct rpl_recipe *r, const struct rpl_compiled *compiled,
                       size_t ncompiled)
{
	const struct rpl_package *p = &r->package;
	json_t *o, *subs = json_array(), *comp = json_object();
	char *text;

	for (size_t i = 0; i < r->nsubpackages; i++) {
		const struct rpl_subpackage *sp = &r->subpackages[i];
		json_array_append_new(
		        subs, json_pack("{s:s,s:s,s:s,s:o,s:[i,i]}", "name", sp->name.s, "if",
		                        sp->if_.s, "description", sp->description.s, "deps",
		                        deps_json(&sp->dependencies), "at", sp->line, sp->col));
	}
	for (size_t k = 0; k < ncompiled; k++) {
		const struct rpl_compiled *c = &compiled[k];
		json_t *cs = json_array();

		for (size_t i = 0; i < c->nsubs; i++)
			json_array_append_new(
			        cs, json_pack("[s,b]", c->subs[i].name, c->subs[i].enabled));
		json_object_set_new(
		        comp, c->arch,
		        json_pack("{s:o,s:o,s:o,s:o,s:o}", "needs", needs_json(c->needs, c->nneeds),
		                  "test_needs", needs_json(c->test_needs, c->ntest_needs), "subs",
		                  cs, "files", files_json(c->pipeline_files, c->npipeline_files),
		                  "test_files",
		                  files_json(c->test_pipeline_files, c->ntest_pipeline_files)));
	}
	o = json_pack("{s:i,s:s,s:[i,i],s:s,s:I,s:s,s:s,s:s,s:I,s:o,s:o,s:I,s:o,s:o}", "v", 1,
	              "name", p->name.s, "at", p->name.line, p->name.col, "version", p->version.s,
	              "epoch", (json_int_t)p->epoch, "description", p->description.s, "url",
	              p->url.s, "timeout", p->timeout.s, "timeout_s",
	              (json_int_t)p->timeout_seconds, "deps", deps_json(&p->dependencies), "target",
	              list_json(&p->target_architecture), "nstatic",
	              (json_int_t)r->nsubpackages_static, "subs", subs, "compiled", comp);
	if (!o)
		return NULL;
	text = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return text;
}

/* ---- decoding ----------------------------------------------------------------- */

static const char *str(struct rpl_arena *a, json_t *v)
{
	return json_is_string(v) ? rpl_arena_strdup(a, json_string_value(v)) : NULL;
}

static int text_of(struct rpl_arena *a, json_t *v, struct rpl_text *t)
{
	t->s = str(a, v);
	t->line = t->col = 0;
	return t->s ? 0 : -1;
}

static int list_of(struct rpl_arena *a, json_t *v, struct rpl_textlist *l)
{
	size_t i;
	json_t *x;

	if (!json_is_array(v))
		return -1;
	l->n = json_array_size(v);
	l->v = l->n ? rpl_arena_alloc(a, l->n * sizeof(*l->v)) : NULL;
	json_array_foreach(v, i, x) if (text_of(a, x, &l->v[i])) return -1;
	return 0;
}

static int deps_of(struct rpl_arena *a, json_t *v, struct rpl_dependencies *d)
{
	return list_of(a, json_object_get(v, "runtime"), &d->runtime) ||
	       list_of(a, json_object_get(v, "provides"), &d->provides) ||
	       list_of(a, json_object_get(v, "replaces"), &d->replaces) ||
	       text_of(a, json_object_get(v, "pp"), &d->provider_priority) ||
	       text_of(a, json_object_get(v, "rp"), &d->replaces_priority);
}

static int at_of(json_t *v, uint32_t *line, uint32_t *col)
{
	if (!json_is_array(v) || json_array_size(v) != 2)
		return -1;
	*line = (uint32_t)json_integer_value(json_array_get(v, 0));
	*col = (uint32_t)json_integer_value(json_array_get(v, 1));
	return 0;
}

static int needs_of(struct rpl_arena *a, json_t *v, struct rpl_need **out, size_t *n)
{
	size_t i;
	json_t *x;

	if (!json_is_array(v))
		return -1;
	*n = json_array_size(v);
	*out = *n ? rpl_arena_alloc(a, *n * sizeof(**out)) : NULL;
	json_array_foreach(v, i, x)
	{
		(*out)[i].name = str(a, json_array_get(x, 0));
		(*out)[i].via = str(a, json_array_get(x, 1));
		(*out)[i].subpackage = str(a, json_array_get(x, 2));
		if (!(*out)[i].name || !(*out)[i].via)
			return -1;
	}
	return 0;
}

static int files_of(struct rpl_arena *a, json_t *v, const char ***out, size_t *n)
{
	size_t i;
	json_t *x;

	if (!json_is_array(v))
		return -1;
	*n = json_array_size(v);
	*out = *n ? rpl_arena_alloc(a, *n * sizeof(**out)) : NULL;
	json_array_foreach(v, i, x) if (!((*out)[i] = str(a, x))) return -1;
	return 0;
}

static int compiled_of(json_t *v, const char *arch, struct rpl_compiled *c)
{
	json_t *subs = json_object_get(v, "subs"), *x;
	struct rpl_arena *a = &c->arena;
	size_t i;

	memset(c, 0, sizeof(*c));
	rpl_arena_init_sized(a, 1024);
	c->arch = rpl_arena_strdup(a, arch);
	if (!json_is_object(v) || !json_is_array(subs) ||
	    needs_of(a, json_object_get(v, "needs"), &c->needs, &c->nneeds) ||
	    needs_of(a, json_object_get(v, "test_needs"), &c->test_needs, &c->ntest_needs) ||
	    files_of(a, json_object_get(v, "files"), &c->pipeline_files, &c->npipeline_files) ||
	    files_of(a, json_object_get(v, "test_files"), &c->test_pipeline_files,
	             &c->ntest_pipeline_files))
		return -1;
	c->nsubs = json_array_size(subs);
	c->subs = c->nsubs ? rpl_arena_alloc(a, c->nsubs * sizeof(*c->subs)) : NULL;
	json_array_foreach(subs, i, x)
	{
		c->subs[i].name = str(a, json_array_get(x, 0));
		c->subs[i].enabled = json_is_true(json_array_get(x, 1));
		if (!c->subs[i].name)
			return -1;
	}
	return 0;
}

struct rpl_recipe *rpl_cache_decode(const char *text, const char *file, const char *const *selected,
                                    size_t nselected, const char ***archs_out, size_t *narchs_out,
                                    struct rpl_compiled **compiled_out)
{
	struct rpl_compiled *compiled = NULL;
	const char **archs;
	size_t narchs;
	json_t *o = json_loads(text, 0, NULL), *subs, *comp, *x;
	struct rpl_recipe *r = NULL;
	struct rpl_package *p;
	struct rpl_arena *a;
	size_t i, done = 0;

	if (!o || json_integer_value(json_object_get(o, "v")) != 1)
		goto fail;
	r = rpl_xcalloc(1, sizeof(*r));
	a = &r->arena;
	rpl_arena_init_sized(a, 2048);
	r->slim = 1;
	r->file = rpl_arena_strdup(a, file);
	p = &r->package;
	subs = json_object_get(o, "subs");
	comp = json_object_get(o, "compiled");
	if (text_of(a, json_object_get(o, "name"), &p->name) ||
	    at_of(json_object_get(o, "at"), &p->name.line, &p->name.col) ||
	    text_of(a, json_object_get(o, "version"), &p->version) ||
	    text_of(a, json_object_get(o, "description"), &p->description) ||
	    text_of(a, json_object_get(o, "url"), &p->url) ||
	    text_of(a, json_object_get(o, "timeout"), &p->timeout) ||
	    deps_of(a, json_object_get(o, "deps"), &p->dependencies) ||
	    list_of(a, json_object_get(o, "target"), &p->target_architecture) ||
	    !json_is_array(subs) || !json_is_object(comp))
		goto fail;
	p->epoch = (uint64_t)json_integer_value(json_object_get(o, "epoch"));
	p->timeout_seconds = (uint64_t)json_integer_value(json_object_get(o, "timeout_s"));
	r->nsubpackages_static = (size_t)json_integer_value(json_object_get(o, "nstatic"));
	r->nsubpackages = json_array_size(subs);
	r->subpackages = r->nsubpackages
	                         ? rpl_arena_alloc(a, r->nsubpackages * sizeof(*r->subpackages))
	                         : NULL;
	json_array_foreach(subs, i, x)
	{
		struct rpl_subpackage *sp = &r->subpackages[i];
		sp->range = sp->url = sp->commit = rpl_text_make("");
		if (text_of(a, json_object_get(x, "name"), &sp->name) ||
		    text_of(a, json_object_get(x, "if"), &sp->if_) ||
		    text_of(a, json_object_get(x, "description"), &sp->description) ||
		    deps_of(a, json_object_get(x, "deps"), &sp->dependencies) ||
		    at_of(json_object_get(x, "at"), &sp->line, &sp->col))
			goto fail;
	}
	archs = rpl_arena_alloc(a, (nselected ? nselected : 1) * sizeof(*archs));
	narchs = rpl_recipe_archs(r, selected, nselected, archs);
	compiled = rpl_xcalloc(narchs ? narchs : 1, sizeof(*compiled));
	for (done = 0; done < narchs; done++)
		if (compiled_of(json_object_get(comp, archs[done]), archs[done], &compiled[done])) {
			rpl_compiled_release(&compiled[done]);
			goto fail;
		}
	json_decref(o);
	*archs_out = archs;
	*narchs_out = narchs;
	*compiled_out = compiled;
	return r;
fail:
	while (done-- > 0)
		rpl_compiled_release(&compiled[done]);
	free(compiled);
	rpl_recipe_free(r);
	json_decref(o);
	return NULL;
}
