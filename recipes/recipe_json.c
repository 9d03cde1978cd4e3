#include "recipes/recipe_json.h"
#include "recipes/apko.h"
#include "recipes/melange.h"
#include "recipes/pipeline.h"
#include "recipes/scan.h"

#include <jansson.h>
#include <string.h>

static json_t *texts(const struct rpl_textlist *l)
{
	json_t *a = json_array();

	for (size_t i = 0; i < l->n; i++)
		json_array_append_new(a, json_string(l->v[i].s));
	return a;
}

static json_t *kvs(const struct rpl_kvlist *kv)
{
	json_t *o = json_object();

	for (size_t i = 0; i < kv->n; i++)
		json_object_set_new(o, kv->v[i].key.s, json_string(kv->v[i].val.s));
	return o;
}

static void set_str(json_t *o, const char *k, const char *v)
{
	if (v && *v)
		json_object_set_new(o, k, json_string(v));
}

static json_t *archs_json(const struct rpl_scan_entry *e)
{
	json_t *a = json_array();

	for (size_t i = 0; i < e->narchs; i++)
		json_array_append_new(a, json_string(e->archs[i]));
	return a;
}

json_t *rpl_entry_summary_json(const struct rpl_scan_entry *e)
{
	json_t *o;

	if (e->image)
		return rpl_image_to_json(e->image);
	const struct rpl_recipe_summary *r = e->summary;
	json_t *subs = json_array();

	o = json_object();
	json_object_set_new(o, "kind", json_string("package"));
	json_object_set_new(o, "name", json_string(r->name.s));
	json_object_set_new(o, "file", json_string(e->file));
	json_object_set_new(o, "version", json_string(r->version.s));
	json_object_set_new(o, "epoch", json_integer((json_int_t)r->epoch));
	for (size_t i = 0; i < r->nsubpackages; i++)
		json_array_append_new(subs, json_string(r->subpackages[i].name.s));
	json_object_set_new(o, "subpackages", subs);
	json_object_set_new(o, "provides", texts(&r->dependencies.provides));
	json_object_set_new(o, "archs", archs_json(e));
	return o;
}

static json_t *steps_json(const struct rpl_cstep *steps, size_t n)
{
	json_t *a = json_array();

	for (size_t i = 0; i < n; i++) {
		const struct rpl_cstep *s = &steps[i];
		json_t *o = json_object();

		set_str(o, "name", s->name);
		set_str(o, "uses", s->uses);
		set_str(o, "pipeline-file", s->pipeline_file);
		if (s->with.n)
			json_object_set_new(o, "with", kvs(&s->with));
		set_str(o, "if", s->if_);
		if (s->skipped) {
			json_object_set_new(o, "skipped", json_true());
			json_array_append_new(a, o);
			continue;
		}
		set_str(o, "working-directory", s->working_directory);
		if (s->environment.n)
			json_object_set_new(o, "environment", kvs(&s->environment));
		if (s->needs.n)
			json_object_set_new(o, "needs", texts(&s->needs));
		set_str(o, "runs", s->runs);
		if (s->nsteps)
			json_object_set_new(o, "pipeline", steps_json(s->steps, s->nsteps));
		json_array_append_new(a, o);
	}
	return a;
}

static json_t *needs_json(const struct rpl_need *needs, size_t n)
{
	json_t *a = json_array();

	for (size_t i = 0; i < n; i++) {
		json_t *o = json_object();
		json_object_set_new(o, "name", json_string(needs[i].name));
		json_object_set_new(o, "via", json_string(needs[i].via));
		if (needs[i].subpackage)
			json_object_set_new(o, "subpackage", json_string(needs[i].subpackage));
		json_array_append_new(a, o);
	}
	return a;
}

static json_t *deps_json(const struct rpl_dependencies *d)
{
	json_t *o = json_object();

	json_object_set_new(o, "runtime", texts(&d->runtime));
	json_object_set_new(o, "provides", texts(&d->provides));
	json_object_set_new(o, "replaces", texts(&d->replaces));
	set_str(o, "provider-priority", d->provider_priority.s);
	set_str(o, "replaces-priority", d->replaces_priority.s);
	return o;
}

json_t *rpl_entry_detail_json(const struct rpl_scan *s, const struct rpl_scan_entry *e,
                              const char *arch)
{
	json_t *o = rpl_entry_summary_json(e);
	char **files;
	size_t nfiles;

	if (e->recipe) {
		const struct rpl_recipe *r = e->recipe;
		const struct rpl_compiled *c = rpl_scan_compiled(e, arch);
		json_t *rt = json_object(), *subs = json_array(), *vars = json_object();

		set_str(o, "description", r->package.description.s);
		set_str(o, "url", r->package.url.s);
		json_object_set_new(o, "arch", json_string(arch));
		json_object_set_new(o, "dependencies", deps_json(&r->package.dependencies));
		json_object_set_new(rt, r->package.name.s, texts(&r->package.dependencies.runtime));
		for (size_t i = 0; i < r->nsubpackages; i++) {
			const struct rpl_subpackage *sp = &r->subpackages[i];
			json_t *so = json_object();

			json_object_set_new(rt, sp->name.s, texts(&sp->dependencies.runtime));
			json_object_set_new(so, "name", json_string(sp->name.s));
			set_str(so, "description", sp->description.s);
			set_str(so, "if", sp->if_.s);
			json_object_set_new(so, "dependencies", deps_json(&sp->dependencies));
			if (c && i < c->nsubs) {
				json_object_set_new(so, "enabled",
				                    json_boolean(c->subs[i].enabled));
				json_object_set_new(
				        so, "pipeline",
				        steps_json(c->subs[i].steps, c->subs[i].nsteps));
			}
			json_array_append_new(subs, so);
		}
		json_object_set_new(o, "runtime_deps", rt);
		json_object_set_new(o, "subpackage_details", subs);
		json_object_set_new(o, "environment_packages",
		                    texts(&r->environment.contents.packages));
		for (size_t i = 0; i < r->vars.n; i++)
			json_object_set_new(vars, r->vars.v[i].key.s,
			                    json_string(r->vars.v[i].val.s));
		for (size_t i = 0; i < r->transformed.n; i++)
			json_object_set_new(vars, r->transformed.v[i].key.s,
			                    json_string(r->transformed.v[i].val.s));
		json_object_set_new(o, "vars", vars);
		if (c) {
			json_t *pf = json_array();
			json_object_set_new(o, "pipeline", steps_json(c->steps, c->nsteps));
			json_object_set_new(o, "build_deps", needs_json(c->needs, c->nneeds));
			json_object_set_new(o, "test_deps",
			                    needs_json(c->test_needs, c->ntest_needs));
			for (size_t i = 0; i < c->npipeline_files; i++)
				json_array_append_new(pf, json_string(c->pipeline_files[i]));
			json_object_set_new(o, "pipeline_files", pf);
		}
	}
	rpl_scan_inputs(s, e, arch, &files, &nfiles);
	json_t *in = json_array();
	for (size_t i = 0; i < nfiles; i++)
		json_array_append_new(in, json_string(files[i]));
	json_object_set_new(o, "inputs", in);
	rpl_scan_inputs_free(files, nfiles);
	return o;
}
