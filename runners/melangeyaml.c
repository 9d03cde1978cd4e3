#include "runners/melangeyaml.h"
#include "common/error.h"
#include "common/strbuf.h"
#include "common/xalloc.h"
#include "recipes/melange.h"
#include "recipes/pipeline.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

struct out {
	yaml_emitter_t e;
	struct rpl_strbuf text;
	int failed;
};

static int on_write(void *data, unsigned char *buf, size_t size)
{
	rpl_strbuf_add(&((struct out *)data)->text, buf, size);
	return 1;
}

static void emit(struct out *o, yaml_event_t *ev)
{
	if (!o->failed && !yaml_emitter_emit(&o->e, ev))
		o->failed = 1;
	else if (o->failed)
		yaml_event_delete(ev);
}

static const char *nz(const char *s)
{
	return s ? s : "";
}

/* Whether a plain `s` would read back as something other than this string. */
static int needs_quotes(const char *s)
{
	static const char *const words[] = { "true", "false", "yes", "no",   "on",
		                             "off",  "y",     "n",   "null", "~" };
	char *end;

	if (!*s)
		return 1;
	for (size_t i = 0; i < sizeof(words) / sizeof(*words); i++)
		if (!strcasecmp(s, words[i]))
			return 1;
	(void)strtod(s, &end);
	return !*end || (s[0] == '0' && (s[1] == 'x' || s[1] == 'o'));
}

static void str(struct out *o, const char *s)
{
	yaml_event_t ev;
	yaml_scalar_style_t style = strchr(s, '\n')   ? YAML_LITERAL_SCALAR_STYLE
	                            : needs_quotes(s) ? YAML_DOUBLE_QUOTED_SCALAR_STYLE
	                                              : YAML_ANY_SCALAR_STYLE;

	yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)s, (int)strlen(s), 1, 1,
	                             style);
	emit(o, &ev);
}

/* A number, or a boolean: plain. */
static void raw(struct out *o, const char *s)
{
	yaml_event_t ev;

	yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)s, (int)strlen(s), 1, 1,
	                             YAML_PLAIN_SCALAR_STYLE);
	emit(o, &ev);
}

static void map_start(struct out *o)
{
	yaml_event_t ev;

	yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_MAPPING_STYLE);
	emit(o, &ev);
}

static void map_end(struct out *o)
{
	yaml_event_t ev;

	yaml_mapping_end_event_initialize(&ev);
	emit(o, &ev);
}

static void seq_start(struct out *o)
{
	yaml_event_t ev;

	yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_SEQUENCE_STYLE);
	emit(o, &ev);
}

static void seq_end(struct out *o)
{
	yaml_event_t ev;

	yaml_sequence_end_event_initialize(&ev);
	emit(o, &ev);
}

/* key: value, when value is set. */
static void kv(struct out *o, const char *key, const char *value)
{
	if (value && *value) {
		str(o, key);
		str(o, value);
	}
}

/* key: true, when set. */
static void flag(struct out *o, const char *key, int set)
{
	if (set) {
		str(o, key);
		raw(o, "true");
	}
}

static void list(struct out *o, const char *key, const struct rpl_textlist *l)
{
	if (!l->n)
		return;
	str(o, key);
	seq_start(o);
	for (size_t i = 0; i < l->n; i++)
		str(o, nz(l->v[i].s));
	seq_end(o);
}

static void kvmap(struct out *o, const char *key, const struct rpl_kvlist *l)
{
	if (!l->n)
		return;
	str(o, key);
	map_start(o);
	for (size_t i = 0; i < l->n; i++) {
		str(o, nz(l->v[i].key.s));
		str(o, nz(l->v[i].val.s));
	}
	map_end(o);
}

static void dependencies(struct out *o, const struct rpl_dependencies *d)
{
	if (!d->runtime.n && !d->provides.n && !d->replaces.n && !*nz(d->provider_priority.s) &&
	    !*nz(d->replaces_priority.s))
		return;
	str(o, "dependencies");
	map_start(o);
	list(o, "runtime", &d->runtime);
	list(o, "provides", &d->provides);
	list(o, "replaces", &d->replaces);
	kv(o, "provider-priority", d->provider_priority.s);
	kv(o, "replaces-priority", d->replaces_priority.s);
	map_end(o);
}

static void options(struct out *o, const struct rpl_pkg_options *p)
{
	if (!p->no_provides && !p->no_depends && !p->no_commands && !p->no_versioned_shlib_deps)
		return;
	str(o, "options");
	map_start(o);
	flag(o, "no-provides", p->no_provides);
	flag(o, "no-depends", p->no_depends);
	flag(o, "no-commands", p->no_commands);
	flag(o, "no-versioned-shlib-deps", p->no_versioned_shlib_deps);
	map_end(o);
}

static void scriptlets(struct out *o, const struct rpl_scriptlets *s)
{
	const struct {
		const char *key, *text;
	} v[] = {
		{ "pre-install", s->pre_install.s },     { "post-install", s->post_install.s },
		{ "pre-deinstall", s->pre_deinstall.s }, { "post-deinstall", s->post_deinstall.s },
		{ "pre-upgrade", s->pre_upgrade.s },     { "post-upgrade", s->post_upgrade.s },
	};
	int any = *nz(s->trigger_script.s) || s->trigger_paths.n;

	for (size_t i = 0; i < sizeof(v) / sizeof(*v); i++)
		any |= *nz(v[i].text) != '\0';
	if (!any)
		return;
	str(o, "scriptlets");
	map_start(o);
	if (*nz(s->trigger_script.s) || s->trigger_paths.n) {
		str(o, "trigger");
		map_start(o);
		kv(o, "script", s->trigger_script.s);
		list(o, "paths", &s->trigger_paths);
		map_end(o);
	}
	for (size_t i = 0; i < sizeof(v) / sizeof(*v); i++)
		kv(o, v[i].key, v[i].text);
	map_end(o);
}

static void steps(struct out *o, const struct rpl_cstep *s, size_t n)
{
	seq_start(o);
	for (size_t i = 0; i < n; i++) {
		map_start(o);
		kv(o, "name", s[i].name);
		kv(o, "uses", s[i].uses);
		kvmap(o, "with", &s[i].with);
		kv(o, "if", s[i].if_);
		kv(o, "working-directory", s[i].working_directory);
		kvmap(o, "environment", &s[i].environment);
		kv(o, "runs", s[i].runs);
		if (s[i].nsteps) {
			str(o, "pipeline");
			steps(o, s[i].steps, s[i].nsteps);
		}
		map_end(o);
	}
	seq_end(o);
}

static const struct rpl_subpackage *subpackage(const struct rpl_recipe *r, const char *name)
{
	for (size_t i = 0; i < r->nsubpackages; i++)
		if (!strcmp(nz(r->subpackages[i].name.s), name))
			return &r->subpackages[i];
	return NULL;
}

static void copyright(struct out *o, const struct rpl_package *p)
{
	if (!p->ncopyright)
		return;
	str(o, "copyright");
	seq_start(o);
	for (size_t i = 0; i < p->ncopyright; i++) {
		map_start(o);
		list(o, "paths", &p->copyright[i].paths);
		kv(o, "attestation", p->copyright[i].attestation.s);
		kv(o, "license", p->copyright[i].license.s);
		kv(o, "license-path", p->copyright[i].license_path.s);
		map_end(o);
	}
	seq_end(o);
}

static void package(struct out *o, const struct rpl_package *p, const char *commit)
{
	char epoch[32];

	str(o, "package");
	map_start(o);
	kv(o, "name", p->name.s);
	kv(o, "version", p->version.s);
	snprintf(epoch, sizeof(epoch), "%llu", (unsigned long long)p->epoch);
	str(o, "epoch");
	raw(o, epoch);
	kv(o, "description", p->description.s);
	kv(o, "url", p->url.s);
	kv(o, "commit", commit);
	list(o, "target-architecture", &p->target_architecture);
	copyright(o, p);
	dependencies(o, &p->dependencies);
	options(o, &p->options);
	scriptlets(o, &p->scriptlets);
	map_end(o);
}

/* The build environment: the recipe's repositories and keyring, `packages` to install. */
static void environment(struct out *o, const struct rpl_apko_contents *ct, char *const *packages,
                        size_t npackages)
{
	str(o, "environment");
	map_start(o);
	str(o, "contents");
	map_start(o);
	list(o, "repositories", &ct->repositories);
	list(o, "keyring", &ct->keyring);
	str(o, "packages");
	seq_start(o);
	for (size_t i = 0; i < npackages; i++)
		str(o, packages[i]);
	seq_end(o);
	map_end(o);
	map_end(o);
}

/* The enabled subpackages, with what the recipe says of each and its compiled pipeline. */
static void subpackages(struct out *o, const struct rpl_recipe *r, const struct rpl_compiled *c)
{
	size_t enabled = 0;

	for (size_t i = 0; i < c->nsubs; i++)
		enabled += c->subs[i].enabled != 0;
	if (!enabled)
		return;
	str(o, "subpackages");
	seq_start(o);
	for (size_t i = 0; i < c->nsubs; i++) {
		const struct rpl_subpackage *sp = subpackage(r, c->subs[i].name);
		if (!c->subs[i].enabled)
			continue;
		map_start(o);
		kv(o, "name", c->subs[i].name);
		if (sp) {
			kv(o, "description", sp->description.s);
			kv(o, "url", sp->url.s);
			dependencies(o, &sp->dependencies);
			options(o, &sp->options);
			scriptlets(o, &sp->scriptlets);
		}
		if (c->subs[i].nsteps) {
			str(o, "pipeline");
			steps(o, c->subs[i].steps, c->subs[i].nsteps);
		}
		map_end(o);
	}
	seq_end(o);
}

/* The emitter, writing into o->text, and the stream and document begun. */
static int begin(struct out *o)
{
	yaml_event_t ev;

	memset(o, 0, sizeof(*o));
	if (!yaml_emitter_initialize(&o->e))
		return rpl_error(-ENOMEM, "cannot write .melange.yaml");
	yaml_emitter_set_output(&o->e, on_write, o);
	yaml_emitter_set_indent(&o->e, 2);
	yaml_emitter_set_width(&o->e, -1);
	yaml_emitter_set_unicode(&o->e, 1);
	yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING);
	emit(o, &ev);
	yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1);
	emit(o, &ev);
	return 0;
}

/* The document and stream ended, and the text handed to the caller. */
static int finish(struct out *o, char **text, size_t *len)
{
	yaml_event_t ev;

	yaml_document_end_event_initialize(&ev, 1);
	emit(o, &ev);
	yaml_stream_end_event_initialize(&ev);
	emit(o, &ev);
	if (o->failed || !yaml_emitter_flush(&o->e)) {
		int err = rpl_error(-RPL_EPARSE, "cannot write .melange.yaml: %s",
		                    o->e.problem ? o->e.problem : "libyaml failed");
		yaml_emitter_delete(&o->e);
		rpl_strbuf_release(&o->text);
		return err;
	}
	yaml_emitter_delete(&o->e);
	*len = o->text.len;
	*text = rpl_strbuf_detach(&o->text);
	return 0;
}

int rpl_melange_yaml(const struct rpl_recipe *r, const struct rpl_compiled *c, const char *commit,
                     char *const *packages, size_t npackages, char **text, size_t *len)
{
	struct out o;
	int err;

	if ((err = begin(&o)))
		return err;
	map_start(&o);
	package(&o, &r->package, commit);
	environment(&o, &r->environment.contents, packages, npackages);
	str(&o, "pipeline");
	steps(&o, c->steps, c->nsteps);
	subpackages(&o, r, c);
	map_end(&o);
	return finish(&o, text, len);
}
