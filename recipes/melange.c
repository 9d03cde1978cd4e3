/*
 * Parsing a melange recipe: strict decode into the model, then the
 * parse-time half of melange's substitution (pkg/config/config.go),
 * range expansion of subpackages, the strict second pass
 * over dependency lists, and validation.
 *
 * The order of operations follows melange's ParseConfiguration so that the
 * same text yields the same strings:
 *   1. decode (unknown keys are errors);
 *   2. map = package.{name,version,description,epoch,full-version} + raw vars;
 *      each var-transform substitutes `from` strictly against the map so far
 *      and stores its regex replacement as vars.<to>;
 *   3. one replacer pass over package, pipelines, subpackages (ranged ones
 *      once per item, keys sorted bytewise, with range.key/range.value),
 *      environment and test;
 *   4. provides/runtime/replaces/packages/priorities again, strictly;
 *   5. validation.
 */
#include "recipes/melange.h"
#include "common/error.h"
#include "common/strbuf.h"
#include "common/xalloc.h"
#include "recipes/subst.h"

#include <errno.h>
#include <limits.h>
#include <stdalign.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- schemas ------------------------------------------------------------ */

static const struct rpl_field needs_fields[] = {
	{ "packages", RPL_F_STRLIST, 0, NULL, 0, NULL },
	RPL_FIELD_END,
};
static const struct rpl_schema needs_schema = { "needs", sizeof(struct rpl_textlist),
	                                        needs_fields };

static const struct rpl_field input_fields[] = {
	RPL_FIELD("description", RPL_F_STR, struct rpl_input_decl, description),
	RPL_FIELD("default", RPL_F_STR, struct rpl_input_decl, default_value),
	RPL_FIELD("required", RPL_F_BOOL, struct rpl_input_decl, required),
	RPL_FIELD_END,
};
static const struct rpl_schema input_schema = { "pipeline input", sizeof(struct rpl_input_decl),
	                                        input_fields };

struct step_inputs {
	struct rpl_input_decl *v;
	size_t n;
};

/* `inputs:` maps an input name to its declaration. */
static int decode_inputs(const struct rpl_dctx *c, const struct rpl_ynode *n, void *dst)
{
	struct step_inputs *in = dst;

	if (rpl_ynode_is_null(n))
		return 0;
	if (n->type != RPL_YMAP)
		return rpl_decode_error(c, n, "inputs: expected a mapping, found %s",
		                        rpl_ynode_kind(n));
	in->n = n->map.n;
	in->v = rpl_arena_alloc(c->arena, in->n * sizeof(*in->v));
	for (size_t i = 0; i < n->map.n; i++) {
		struct rpl_input_decl *d = &in->v[i];
		const struct rpl_ynode *v = n->map.pairs[i].value;
		int err = rpl_decode_str(c, n->map.pairs[i].key, &d->name);

		if (!err)
			err = rpl_decode(c, v, &input_schema, d);
		if (err)
			return err;
		d->has_default = rpl_ymap_get(v, "default") != NULL;
	}
	return 0;
}

static const struct rpl_field assertion_fields[] = {
	{ "required-steps", RPL_F_INT, 0, NULL, 0, NULL },
	RPL_FIELD_END,
};
static const struct rpl_schema assertion_schema = { "assertions", sizeof(int64_t),
	                                            assertion_fields };

static int decode_needs(const struct rpl_dctx *c, const struct rpl_ynode *n, void *dst)
{
	struct rpl_step *s = (struct rpl_step *)((char *)dst - offsetof(struct rpl_step, needs));

	s->has_needs = !rpl_ynode_is_null(n);
	/* yaml.v3 sets a null `needs` to nil and a `packages` key to its
	 * list; a mapping without `packages` leaves the list as it was. */
	s->needs_given = !s->has_needs || rpl_ymap_get(n, "packages") != NULL;
	return rpl_decode(c, n, &needs_schema, dst);
}

static int decode_assertions(const struct rpl_dctx *c, const struct rpl_ynode *n, void *dst)
{
	struct rpl_step *s =
	        (struct rpl_step *)((char *)dst - offsetof(struct rpl_step, required_steps));

	s->has_assertions = !rpl_ynode_is_null(n);
	return rpl_decode(c, n, &assertion_schema, dst);
}

static const struct rpl_field step_fields[] = {
	RPL_FIELD("name", RPL_F_STR, struct rpl_step, name),
	RPL_FIELD("uses", RPL_F_STR, struct rpl_step, uses),
	RPL_FIELD("with", RPL_F_STRMAP, struct rpl_step, with),
	RPL_FIELD("runs", RPL_F_STR, struct rpl_step, runs),
	RPL_FIELD_LIST("pipeline", struct rpl_step, steps, nsteps, &rpl_step_schema),
	RPL_FIELD("if", RPL_F_STR, struct rpl_step, if_),
	RPL_FIELD("working-directory", RPL_F_STR, struct rpl_step, working_directory),
	RPL_FIELD_FN("needs", struct rpl_step, needs, decode_needs),
	RPL_FIELD_FN("inputs", struct rpl_step, inputs, decode_inputs),
	RPL_FIELD("environment", RPL_F_STRMAP, struct rpl_step, environment),
	RPL_FIELD_FN("assertions", struct rpl_step, required_steps, decode_assertions),
	RPL_FIELD("label", RPL_F_STR, struct rpl_step, label),
	RPL_FIELD_END,
};
const struct rpl_schema rpl_step_schema = { "pipeline step", sizeof(struct rpl_step), step_fields,
	                                    RPL_AT(struct rpl_step) };

static const struct rpl_field deps_fields[] = {
	RPL_FIELD("runtime", RPL_F_STRLIST, struct rpl_dependencies, runtime),
	RPL_FIELD("provides", RPL_F_STRLIST, struct rpl_dependencies, provides),
	RPL_FIELD("replaces", RPL_F_STRLIST, struct rpl_dependencies, replaces),
	RPL_FIELD("provider-priority", RPL_F_STR, struct rpl_dependencies, provider_priority),
	RPL_FIELD("replaces-priority", RPL_F_STR, struct rpl_dependencies, replaces_priority),
	RPL_FIELD_END,
};
static const struct rpl_schema deps_schema = { "dependencies", sizeof(struct rpl_dependencies),
	                                       deps_fields };

static const struct rpl_field pkgopt_fields[] = {
	RPL_FIELD("no-provides", RPL_F_BOOL, struct rpl_pkg_options, no_provides),
	RPL_FIELD("no-depends", RPL_F_BOOL, struct rpl_pkg_options, no_depends),
	RPL_FIELD("no-commands", RPL_F_BOOL, struct rpl_pkg_options, no_commands),
	RPL_FIELD("no-versioned-shlib-deps", RPL_F_BOOL, struct rpl_pkg_options,
	          no_versioned_shlib_deps),
	RPL_FIELD_END,
};
static const struct rpl_schema pkgopt_schema = { "options", sizeof(struct rpl_pkg_options),
	                                         pkgopt_fields };

static const struct rpl_field trigger_fields[] = {
	RPL_FIELD("script", RPL_F_STR, struct rpl_scriptlets, trigger_script),
	RPL_FIELD("paths", RPL_F_STRLIST, struct rpl_scriptlets, trigger_paths),
	RPL_FIELD_END,
};
static const struct rpl_schema trigger_schema = { "trigger", sizeof(struct rpl_scriptlets),
	                                          trigger_fields };

static const struct rpl_field scriptlet_fields[] = {
	{ "trigger", RPL_F_STRUCT, 0, &trigger_schema, 0, NULL },
	RPL_FIELD("pre-install", RPL_F_STR, struct rpl_scriptlets, pre_install),
	RPL_FIELD("post-install", RPL_F_STR, struct rpl_scriptlets, post_install),
	RPL_FIELD("pre-deinstall", RPL_F_STR, struct rpl_scriptlets, pre_deinstall),
	RPL_FIELD("post-deinstall", RPL_F_STR, struct rpl_scriptlets, post_deinstall),
	RPL_FIELD("pre-upgrade", RPL_F_STR, struct rpl_scriptlets, pre_upgrade),
	RPL_FIELD("post-upgrade", RPL_F_STR, struct rpl_scriptlets, post_upgrade),
	RPL_FIELD_END,
};
static const struct rpl_schema scriptlet_schema = { "scriptlets", sizeof(struct rpl_scriptlets),
	                                            scriptlet_fields };

static const struct rpl_field copyright_fields[] = {
	RPL_FIELD("paths", RPL_F_STRLIST, struct rpl_copyright, paths),
	RPL_FIELD("attestation", RPL_F_STR, struct rpl_copyright, attestation),
	RPL_FIELD("license", RPL_F_STR, struct rpl_copyright, license),
	RPL_FIELD("license-path", RPL_F_STR, struct rpl_copyright, license_path),
	RPL_FIELD("detection-override", RPL_F_STR, struct rpl_copyright, detection_override),
	RPL_FIELD_END,
};
static const struct rpl_schema copyright_schema = { "copyright", sizeof(struct rpl_copyright),
	                                            copyright_fields,
	                                            RPL_AT(struct rpl_copyright) };

static const struct rpl_field cpe_fields[] = {
	RPL_FIELD("part", RPL_F_STR, struct rpl_cpe, part),
	RPL_FIELD("vendor", RPL_F_STR, struct rpl_cpe, vendor),
	RPL_FIELD("product", RPL_F_STR, struct rpl_cpe, product),
	RPL_FIELD("edition", RPL_F_STR, struct rpl_cpe, edition),
	RPL_FIELD("language", RPL_F_STR, struct rpl_cpe, language),
	RPL_FIELD("sw_edition", RPL_F_STR, struct rpl_cpe, sw_edition),
	RPL_FIELD("target_sw", RPL_F_STR, struct rpl_cpe, target_sw),
	RPL_FIELD("target_hw", RPL_F_STR, struct rpl_cpe, target_hw),
	RPL_FIELD("other", RPL_F_STR, struct rpl_cpe, other),
	RPL_FIELD_END,
};
static const struct rpl_schema cpe_schema = { "cpe", sizeof(struct rpl_cpe), cpe_fields };

static const struct rpl_field setcap_fields[] = {
	RPL_FIELD("path", RPL_F_STR, struct rpl_setcap, path),
	RPL_FIELD("add", RPL_F_STRMAP, struct rpl_setcap, add),
	RPL_FIELD("reason", RPL_F_STR, struct rpl_setcap, reason),
	RPL_FIELD_END,
};
static const struct rpl_schema setcap_schema = { "setcap", sizeof(struct rpl_setcap), setcap_fields,
	                                         RPL_AT(struct rpl_setcap) };

static const struct rpl_field resources_fields[] = {
	RPL_FIELD("cpu", RPL_F_STR, struct rpl_resources, cpu),
	RPL_FIELD("cpumodel", RPL_F_STR, struct rpl_resources, cpumodel),
	RPL_FIELD("memory", RPL_F_STR, struct rpl_resources, memory),
	RPL_FIELD("disk", RPL_F_STR, struct rpl_resources, disk),
	RPL_FIELD_END,
};
static const struct rpl_schema resources_schema = { "resources", sizeof(struct rpl_resources),
	                                            resources_fields };

static const struct rpl_field checks_fields[] = {
	RPL_FIELD("disabled", RPL_F_STRLIST, struct rpl_checks, disabled),
	RPL_FIELD("enabled", RPL_F_STRLIST, struct rpl_checks, enabled),
	RPL_FIELD_END,
};
static const struct rpl_schema checks_schema = { "checks", sizeof(struct rpl_checks),
	                                         checks_fields };

static const struct rpl_field test_fields[] = {
	RPL_FIELD_SUB("environment", RPL_F_STRUCT, struct rpl_test, environment,
	              &rpl_apko_config_schema),
	RPL_FIELD_LIST("pipeline", struct rpl_test, steps, nsteps, &rpl_step_schema),
	RPL_FIELD_END,
};
static const struct rpl_schema test_schema = { "test", sizeof(struct rpl_test), test_fields };

static const struct rpl_field package_fields[] = {
	RPL_FIELD("name", RPL_F_STR, struct rpl_package, name),
	RPL_FIELD("version", RPL_F_STR, struct rpl_package, version),
	RPL_FIELD("epoch", RPL_F_U64, struct rpl_package, epoch),
	RPL_FIELD("description", RPL_F_STR, struct rpl_package, description),
	RPL_FIELD("url", RPL_F_STR, struct rpl_package, url),
	RPL_FIELD("commit", RPL_F_STR, struct rpl_package, commit),
	RPL_FIELD("annotations", RPL_F_STRMAP, struct rpl_package, annotations),
	RPL_FIELD_LIST("copyright", struct rpl_package, copyright, ncopyright, &copyright_schema),
	RPL_FIELD_SUB("cpe", RPL_F_STRUCT, struct rpl_package, cpe, &cpe_schema),
	RPL_FIELD_SUB("dependencies", RPL_F_STRUCT, struct rpl_package, dependencies, &deps_schema),
	RPL_FIELD("target-architecture", RPL_F_STRLIST, struct rpl_package, target_architecture),
	RPL_FIELD_SUB("options", RPL_F_STRUCT, struct rpl_package, options, &pkgopt_schema),
	RPL_FIELD_SUB("checks", RPL_F_STRUCT, struct rpl_package, checks, &checks_schema),
	RPL_FIELD_LIST("setcap", struct rpl_package, setcap, nsetcap, &setcap_schema),
	RPL_FIELD("timeout", RPL_F_STR, struct rpl_package, timeout),
	RPL_FIELD_SUB("resources", RPL_F_STRUCT, struct rpl_package, resources, &resources_schema),
	RPL_FIELD_SUB("test-resources", RPL_F_STRUCT, struct rpl_package, test_resources,
	              &resources_schema),
	RPL_FIELD_SUB("scriptlets", RPL_F_STRUCT, struct rpl_package, scriptlets,
	              &scriptlet_schema),
	RPL_FIELD_END,
};
static const struct rpl_schema package_schema = { "package", sizeof(struct rpl_package),
	                                          package_fields, RPL_AT(struct rpl_package) };

static const struct rpl_field subpackage_fields[] = {
	RPL_FIELD("if", RPL_F_STR, struct rpl_subpackage, if_),
	RPL_FIELD("range", RPL_F_STR, struct rpl_subpackage, range),
	RPL_FIELD("name", RPL_F_STR, struct rpl_subpackage, name),
	RPL_FIELD_LIST("pipeline", struct rpl_subpackage, steps, nsteps, &rpl_step_schema),
	RPL_FIELD_SUB("dependencies", RPL_F_STRUCT, struct rpl_subpackage, dependencies,
	              &deps_schema),
	RPL_FIELD_SUB("options", RPL_F_STRUCT, struct rpl_subpackage, options, &pkgopt_schema),
	RPL_FIELD_SUB("scriptlets", RPL_F_STRUCT, struct rpl_subpackage, scriptlets,
	              &scriptlet_schema),
	RPL_FIELD("description", RPL_F_STR, struct rpl_subpackage, description),
	RPL_FIELD("annotations", RPL_F_STRMAP, struct rpl_subpackage, annotations),
	RPL_FIELD("url", RPL_F_STR, struct rpl_subpackage, url),
	RPL_FIELD("commit", RPL_F_STR, struct rpl_subpackage, commit),
	RPL_FIELD_SUB("checks", RPL_F_STRUCT, struct rpl_subpackage, checks, &checks_schema),
	RPL_FIELD_SUB("test", RPL_F_PTR, struct rpl_subpackage, test, &test_schema),
	RPL_FIELD_LIST("setcap", struct rpl_subpackage, setcap, nsetcap, &setcap_schema),
	RPL_FIELD_END,
};
static const struct rpl_schema subpackage_schema = { "subpackage", sizeof(struct rpl_subpackage),
	                                             subpackage_fields,
	                                             RPL_AT(struct rpl_subpackage) };

static const struct rpl_field data_fields[] = {
	RPL_FIELD("name", RPL_F_STR, struct rpl_data, name),
	RPL_FIELD("items", RPL_F_STRMAP, struct rpl_data, items),
	RPL_FIELD_END,
};
static const struct rpl_schema data_schema = { "data", sizeof(struct rpl_data), data_fields };

static const struct rpl_field vt_fields[] = {
	RPL_FIELD("from", RPL_F_STR, struct rpl_var_transform, from),
	RPL_FIELD("match", RPL_F_STR, struct rpl_var_transform, match),
	RPL_FIELD("replace", RPL_F_STR, struct rpl_var_transform, replace),
	RPL_FIELD("to", RPL_F_STR, struct rpl_var_transform, to),
	RPL_FIELD_END,
};
static const struct rpl_schema vt_schema = { "var-transforms entry",
	                                     sizeof(struct rpl_var_transform), vt_fields,
	                                     RPL_AT(struct rpl_var_transform) };

static const struct rpl_field capabilities_fields[] = {
	RPL_FIELD("add", RPL_F_STRLIST, struct rpl_capabilities, add),
	RPL_FIELD("drop", RPL_F_STRLIST, struct rpl_capabilities, drop),
	RPL_FIELD_END,
};
static const struct rpl_schema capabilities_schema = { "capabilities",
	                                               sizeof(struct rpl_capabilities),
	                                               capabilities_fields };

/* `options: {name: {vars: {...}, environment: {contents: {packages: {add, remove}}}}}` */
struct option_pkgs {
	struct rpl_textlist add, remove;
};
static const struct rpl_field optpkgs_fields[] = {
	RPL_FIELD("add", RPL_F_STRLIST, struct option_pkgs, add),
	RPL_FIELD("remove", RPL_F_STRLIST, struct option_pkgs, remove),
	RPL_FIELD_END,
};
static const struct rpl_schema optpkgs_schema = { "options packages", sizeof(struct option_pkgs),
	                                          optpkgs_fields };
static const struct rpl_field optcontents_fields[] = {
	{ "packages", RPL_F_STRUCT, 0, &optpkgs_schema, 0, NULL },
	RPL_FIELD_END,
};
static const struct rpl_schema optcontents_schema = { "options contents",
	                                              sizeof(struct option_pkgs),
	                                              optcontents_fields };
static const struct rpl_field optenv_fields[] = {
	{ "contents", RPL_F_STRUCT, 0, &optcontents_schema, 0, NULL },
	RPL_FIELD_END,
};
static const struct rpl_schema optenv_schema = { "options environment", sizeof(struct option_pkgs),
	                                         optenv_fields };
struct option_body {
	struct rpl_kvlist vars;
	struct option_pkgs pkgs;
};
static const struct rpl_field optbody_fields[] = {
	RPL_FIELD("vars", RPL_F_STRMAP, struct option_body, vars),
	RPL_FIELD_SUB("environment", RPL_F_STRUCT, struct option_body, pkgs, &optenv_schema),
	RPL_FIELD_END,
};
static const struct rpl_schema optbody_schema = { "build option", sizeof(struct option_body),
	                                          optbody_fields };

struct build_options {
	struct rpl_build_option *v;
	size_t n;
};

static int decode_build_options(const struct rpl_dctx *c, const struct rpl_ynode *n, void *dst)
{
	struct build_options *bo = dst;

	if (rpl_ynode_is_null(n))
		return 0;
	if (n->type != RPL_YMAP)
		return rpl_decode_error(c, n, "options: expected a mapping, found %s",
		                        rpl_ynode_kind(n));
	bo->n = n->map.n;
	bo->v = rpl_arena_alloc(c->arena, bo->n * sizeof(*bo->v));
	for (size_t i = 0; i < n->map.n; i++) {
		struct option_body body = { 0 };
		int err = rpl_decode_str(c, n->map.pairs[i].key, &bo->v[i].name);

		if (!err)
			err = rpl_decode(c, n->map.pairs[i].value, &optbody_schema, &body);
		if (err)
			return err;
		bo->v[i].vars = body.vars;
		bo->v[i].add = body.pkgs.add;
		bo->v[i].remove = body.pkgs.remove;
	}
	return 0;
}

/*
 * `update:` is validated (its keys are as strict as melange's) but only
 * `enabled` is kept; ripple does not act on update policies.
 */
struct update_scratch {
	int enabled, manual, require_sequential, shared, enable_prerelease_tags, use_tag;
	struct rpl_text s;
	struct rpl_textlist l;
	int64_t i;
	const struct rpl_ynode *node;
};
#define UPD_STR(k)                                                              \
	{                                                                       \
		k, RPL_F_STR, offsetof(struct update_scratch, s), NULL, 0, NULL \
	}
#define UPD_BOOL(k)                                                                    \
	{                                                                              \
		k, RPL_F_BOOL, offsetof(struct update_scratch, use_tag), NULL, 0, NULL \
	}
#define UPD_SUB(k, sch)                          \
	{                                        \
		k, RPL_F_STRUCT, 0, sch, 0, NULL \
	}
#define UPD_LIST(k)                                                                 \
	{                                                                           \
		k, RPL_F_STRLIST, offsetof(struct update_scratch, l), NULL, 0, NULL \
	}
static const struct rpl_field upd_schedule_fields[] = { UPD_STR("reason"), UPD_STR("period"),
	                                                RPL_FIELD_END };
static const struct rpl_schema upd_schedule = { "update.schedule", sizeof(struct update_scratch),
	                                        upd_schedule_fields };
static const struct rpl_field upd_rm_fields[] = {
	{ "identifier", RPL_F_INT, offsetof(struct update_scratch, i), NULL, 0, NULL },
	UPD_STR("strip-prefix"),
	UPD_STR("strip-suffix"),
	UPD_STR("version-filter-contains"),
	UPD_STR("version-filter-prefix"),
	RPL_FIELD_END
};
static const struct rpl_schema upd_rm = { "update.release-monitor", sizeof(struct update_scratch),
	                                  upd_rm_fields };
static const struct rpl_field upd_gh_fields[] = {
	UPD_STR("identifier"),        UPD_STR("strip-prefix"),
	UPD_STR("strip-suffix"),      UPD_STR("tag-filter"),
	UPD_STR("tag-filter-prefix"), UPD_STR("tag-filter-contains"),
	UPD_BOOL("use-tag"),          RPL_FIELD_END
};
static const struct rpl_schema upd_gh = { "update.github", sizeof(struct update_scratch),
	                                  upd_gh_fields };
static const struct rpl_field upd_git_fields[] = { UPD_STR("strip-prefix"), UPD_STR("strip-suffix"),
	                                           UPD_STR("tag-filter-prefix"),
	                                           UPD_STR("tag-filter-contains"), RPL_FIELD_END };
static const struct rpl_schema upd_git = { "update.git", sizeof(struct update_scratch),
	                                   upd_git_fields };
static const struct rpl_field upd_oci_fields[] = {
	UPD_STR("identifier"),        UPD_STR("strip-prefix"),        UPD_STR("strip-suffix"),
	UPD_STR("tag-filter-prefix"), UPD_STR("tag-filter-contains"), RPL_FIELD_END
};
static const struct rpl_schema upd_oci = { "update.oci", sizeof(struct update_scratch),
	                                   upd_oci_fields };
static const struct rpl_field upd_src_fields[] = {
	UPD_STR("name"),          UPD_STR("stream"),       UPD_LIST("ignore"),
	UPD_STR("commit_source"), UPD_BOOL("use_release"), RPL_FIELD_END
};
static const struct rpl_schema upd_src = { "update.version_data.sources",
	                                   sizeof(struct update_scratch), upd_src_fields };
static int decode_upd_sources(const struct rpl_dctx *c, const struct rpl_ynode *n, void *dst)
{
	struct update_scratch tmp;

	if (rpl_ynode_is_null(n))
		return 0;
	if (n->type != RPL_YSEQ)
		return rpl_decode_error(c, n, "sources: expected a list, found %s",
		                        rpl_ynode_kind(n));
	for (size_t i = 0; i < n->seq.n; i++) {
		int err;
		memset(&tmp, 0, sizeof(tmp));
		err = rpl_decode(c, n->seq.items[i], &upd_src, &tmp);
		if (err)
			return err;
	}
	return 0;
}
static const struct rpl_field upd_vd_fields[] = { UPD_STR("version_format"),
	                                          { "sources", RPL_F_CUSTOM, 0, NULL, 0,
	                                            decode_upd_sources },
	                                          RPL_FIELD_END };
static const struct rpl_schema upd_vd = { "update.version_data", sizeof(struct update_scratch),
	                                  upd_vd_fields };
static const struct rpl_field upd_vt_fields[] = { UPD_STR("match"), UPD_STR("replace"),
	                                          RPL_FIELD_END };
static const struct rpl_schema upd_vt = { "update.version-transform", sizeof(struct update_scratch),
	                                  upd_vt_fields };
static int decode_upd_vt(const struct rpl_dctx *c, const struct rpl_ynode *n, void *dst)
{
	struct update_scratch tmp;

	if (rpl_ynode_is_null(n))
		return 0;
	if (n->type != RPL_YSEQ)
		return rpl_decode_error(c, n, "version-transform: expected a list, found %s",
		                        rpl_ynode_kind(n));
	for (size_t i = 0; i < n->seq.n; i++) {
		int err;
		memset(&tmp, 0, sizeof(tmp));
		err = rpl_decode(c, n->seq.items[i], &upd_vt, &tmp);
		if (err)
			return err;
	}
	return 0;
}
static const struct rpl_field update_fields[] = {
	{ "enabled", RPL_F_BOOL, offsetof(struct update_scratch, enabled), NULL, 0, NULL },
	{ "manual", RPL_F_BOOL, offsetof(struct update_scratch, manual), NULL, 0, NULL },
	{ "require-sequential", RPL_F_BOOL, offsetof(struct update_scratch, require_sequential),
	  NULL, 0, NULL },
	{ "shared", RPL_F_BOOL, offsetof(struct update_scratch, shared), NULL, 0, NULL },
	UPD_STR("version-separator"),
	UPD_LIST("ignore-regex-patterns"),
	UPD_STR("exclude-reason"),
	{ "enable-prerelease-tags", RPL_F_BOOL,
	  offsetof(struct update_scratch, enable_prerelease_tags), NULL, 0, NULL },
	UPD_SUB("schedule", &upd_schedule),
	UPD_SUB("release-monitor", &upd_rm),
	UPD_SUB("github", &upd_gh),
	UPD_SUB("git", &upd_git),
	UPD_SUB("oci", &upd_oci),
	UPD_SUB("version_data", &upd_vd),
	{ "version-transform", RPL_F_CUSTOM, 0, NULL, 0, decode_upd_vt },
	RPL_FIELD_END,
};
static const struct rpl_schema update_schema = { "update", sizeof(struct update_scratch),
	                                         update_fields };

static int decode_update(const struct rpl_dctx *c, const struct rpl_ynode *n, void *dst)
{
	struct update_scratch tmp = { 0 };
	int err = rpl_decode(c, n, &update_schema, &tmp);

	if (!err)
		*(int *)dst = tmp.enabled;
	return err;
}

static const struct rpl_field recipe_fields[] = {
	RPL_FIELD_SUB("package", RPL_F_STRUCT, struct rpl_recipe, package, &package_schema),
	RPL_FIELD_SUB("environment", RPL_F_STRUCT, struct rpl_recipe, environment,
	              &rpl_apko_config_schema),
	RPL_FIELD_SUB("capabilities", RPL_F_STRUCT, struct rpl_recipe, capabilities,
	              &capabilities_schema),
	RPL_FIELD_LIST("pipeline", struct rpl_recipe, steps, nsteps, &rpl_step_schema),
	RPL_FIELD_LIST("subpackages", struct rpl_recipe, subpackages, nsubpackages,
	               &subpackage_schema),
	RPL_FIELD_LIST("data", struct rpl_recipe, data, ndata, &data_schema),
	RPL_FIELD_FN("update", struct rpl_recipe, update_enabled, decode_update),
	RPL_FIELD("vars", RPL_F_STRMAP, struct rpl_recipe, vars),
	RPL_FIELD_LIST("var-transforms", struct rpl_recipe, var_transforms, nvar_transforms,
	               &vt_schema),
	RPL_FIELD_FN("options", struct rpl_recipe, options, decode_build_options),
	RPL_FIELD_SUB("test", RPL_F_PTR, struct rpl_recipe, test, &test_schema),
	RPL_FIELD_END,
};
static const struct rpl_schema recipe_schema = { "melange recipe", sizeof(struct rpl_recipe),
	                                         recipe_fields };

/* ---- parse-time substitution --------------------------------------------- */

struct pctx {
	struct rpl_recipe *r;
	struct rpl_arena *a;
	const char *file;
	const struct rpl_varmap *map;
	/* Substitute into copies (range expansion shares one decoded subpackage
	 * between its copies); otherwise in place. */
	int copy;
	/* Bytes substitution and range expansion made so far, against
	 * RPL_SUBST_MAX_TOTAL; the first thing refused (a string too long, or
	 * one past the total) and where it was (line 0: not known here). */
	size_t spent;
	enum { REFUSED_NONE, REFUSED_LONG, REFUSED_TOTAL } refused;
	struct rpl_text refused_at;
};

/* Counts `n` bytes made at `t`; past the total the parse is refused there. */
static void spend(struct pctx *x, size_t n, const struct rpl_text *t)
{
	x->spent += n;
	if (x->spent > RPL_SUBST_MAX_TOTAL && !x->refused) {
		x->refused = REFUSED_TOTAL;
		x->refused_at = *t;
	}
}

static int pos_error(const struct pctx *x, const struct rpl_text *t, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

/* The error for what `spend` or a substitution refused. */
static int refused_error(const struct pctx *x, const struct rpl_text *t)
{
	if (x->refused == REFUSED_LONG)
		return pos_error(x, t, "substituting makes a string longer than %zu MiB",
		                 RPL_SUBST_MAX_LEN >> 20);
	return pos_error(x, t, "substitution and range expansion make more than %zu MiB of text",
	                 RPL_SUBST_MAX_TOTAL >> 20);
}

static void *maybe_copy(struct pctx *x, const void *p, size_t n, size_t size)
{
	static const struct rpl_text nowhere = { NULL, 0, 0 };

	if (!x->copy)
		return (void *)p;
	spend(x, n * size, &nowhere);
	return rpl_arena_memdup(x->a, p, n, size);
}

static int pos_error(const struct pctx *x, const struct rpl_text *t, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	rpl_verror_at(-RPL_ESCHEMA, x->file, t ? t->line : 1, t ? t->col : 1, fmt, ap);
	va_end(ap);
	return -RPL_ESCHEMA;
}

static void sub_text(struct pctx *x, struct rpl_text *t)
{
	const char *s;

	if (!t->s || !*t->s || x->refused)
		return;
	s = rpl_subst_parse(x->a, t->s, x->map);
	if (!s) {
		x->refused = REFUSED_LONG;
		x->refused_at = *t;
	} else if (s != t->s) {
		spend(x, strlen(s), t);
		t->s = s;
	}
}

static void sub_list(struct pctx *x, struct rpl_textlist *l)
{
	struct rpl_text *v = maybe_copy(x, l->v, l->n, sizeof(*l->v));

	for (size_t i = 0; i < l->n; i++)
		sub_text(x, &v[i]);
	l->v = v;
}

static void sub_values(struct pctx *x, struct rpl_kvlist *kv)
{
	struct rpl_kv *v = maybe_copy(x, kv->v, kv->n, sizeof(*kv->v));

	for (size_t i = 0; i < kv->n; i++)
		sub_text(x, &v[i].val);
	kv->v = v;
}

/* Replaces `*steps` with substituted copies (melange's replacePipelines). */
static void sub_steps(struct pctx *x, struct rpl_step **steps, size_t n)
{
	struct rpl_step *v = maybe_copy(x, *steps, n, sizeof(**steps));

	for (size_t i = 0; i < n; i++) {
		struct rpl_step *s = &v[i];

		sub_text(x, &s->name);
		sub_values(x, &s->with);
		sub_text(x, &s->runs);
		sub_list(x, &s->needs);
		sub_text(x, &s->if_);
		sub_text(x, &s->working_directory);
		sub_values(x, &s->environment);
		sub_steps(x, &s->steps, s->nsteps);
	}
	*steps = v;
}

static void sub_deps(struct pctx *x, struct rpl_dependencies *d)
{
	sub_list(x, &d->runtime);
	sub_list(x, &d->provides);
	sub_list(x, &d->replaces);
	sub_text(x, &d->provider_priority);
	sub_text(x, &d->replaces_priority);
}

static void sub_scriptlets(struct pctx *x, struct rpl_scriptlets *s)
{
	sub_text(x, &s->trigger_script);
	sub_list(x, &s->trigger_paths);
	sub_text(x, &s->pre_install);
	sub_text(x, &s->post_install);
	sub_text(x, &s->pre_deinstall);
	sub_text(x, &s->post_deinstall);
	sub_text(x, &s->pre_upgrade);
	sub_text(x, &s->post_upgrade);
}

/* melange's replaceImageConfig: the fields of an environment it substitutes. */
static void sub_env(struct pctx *x, struct rpl_apko_config *e)
{
	sub_list(x, &e->contents.repositories);
	sub_list(x, &e->contents.build_repositories);
	sub_list(x, &e->contents.runtime_repositories);
	sub_list(x, &e->contents.keyring);
	sub_list(x, &e->contents.packages);
	sub_text(x, &e->entrypoint.command);
	sub_text(x, &e->entrypoint.shell_fragment);
	sub_values(x, &e->entrypoint.services);
	sub_text(x, &e->cmd);
	sub_text(x, &e->stop_signal);
	sub_text(x, &e->work_dir);
	sub_values(x, &e->environment);
	sub_text(x, &e->vcs_url);
	sub_values(x, &e->annotations);
	sub_list(x, &e->volumes);
}

static void sub_test(struct pctx *x, struct rpl_test **tp)
{
	struct rpl_test *t;

	if (!*tp)
		return;
	t = maybe_copy(x, *tp, 1, sizeof(*t));
	sub_env(x, &t->environment);
	sub_steps(x, &t->steps, t->nsteps);
	*tp = t;
}

static void sub_subpackage(struct pctx *x, struct rpl_subpackage *sp)
{
	sub_text(x, &sp->if_);
	sub_text(x, &sp->name);
	sub_steps(x, &sp->steps, sp->nsteps);
	sub_deps(x, &sp->dependencies);
	sub_scriptlets(x, &sp->scriptlets);
	sub_text(x, &sp->description);
	sub_values(x, &sp->annotations);
	sub_text(x, &sp->url);
	sub_test(x, &sp->test);
}

static void sub_package(struct pctx *x, struct rpl_package *p)
{
	sub_text(x, &p->name);
	sub_text(x, &p->version);
	sub_text(x, &p->description);
	sub_values(x, &p->annotations);
	sub_text(x, &p->url);
	sub_list(x, &p->target_architecture);
	for (size_t i = 0; i < p->ncopyright; i++) {
		sub_text(x, &p->copyright[i].license);
		sub_text(x, &p->copyright[i].license_path);
		sub_list(x, &p->copyright[i].paths);
	}
	sub_deps(x, &p->dependencies);
	sub_scriptlets(x, &p->scriptlets);
}

static int cmp_kv_key(const void *a, const void *b)
{
	return strcmp(((const struct rpl_kv *)a)->key.s, ((const struct rpl_kv *)b)->key.s);
}

/* Expands `range:` subpackages, one copy per data item, keys sorted bytewise. */
static int expand_subpackages(struct pctx *x, struct rpl_varmap *map)
{
	struct rpl_recipe *r = x->r;
	struct rpl_subpackage *out = NULL;
	size_t n = 0, alloc = 0;
	int err = 0;

	for (size_t i = 0; i < r->nsubpackages; i++) {
		const struct rpl_subpackage *sp = &r->subpackages[i];
		const struct rpl_data *d = NULL;
		struct rpl_kv *items;

		if (n >= RPL_MELANGE_MAX_SUBPACKAGES) {
			struct rpl_text at = { NULL, sp->line, sp->col };
			err = pos_error(x, &at, "more than %d subpackages (ranges expanded)",
			                RPL_MELANGE_MAX_SUBPACKAGES);
			goto out;
		}
		if (!*sp->range.s) {
			RPL_ALLOC_GROW(out, n + 1, alloc);
			out[n] = *sp;
			x->map = map;
			sub_subpackage(x, &out[n]);
			n++;
			continue;
		}
		for (size_t j = 0; j < r->ndata; j++)
			if (!strcmp(r->data[j].name.s, sp->range.s))
				d = &r->data[j];
		if (!d) {
			err = pos_error(
			        x, &sp->range,
			        "subpackages[%zu] (\"%s\") specified undefined range: \"%s\"", i,
			        sp->name.s, sp->range.s);
			goto out;
		}
		items = rpl_arena_memdup(x->a, d->items.v, d->items.n, sizeof(*items));
		if (d->items.n)
			qsort(items, d->items.n, sizeof(*items), cmp_kv_key);
		for (size_t j = 0; j < d->items.n && !x->refused; j++) {
			struct rpl_varmap m = RPL_VARMAP_INIT;

			if (n >= RPL_MELANGE_MAX_SUBPACKAGES) {
				err = pos_error(x, &sp->range,
				                "more than %d subpackages (ranges expanded)",
				                RPL_MELANGE_MAX_SUBPACKAGES);
				goto out;
			}
			/* The item's scope, over the recipe's (a copy per item
			 * would cost items x vars). */
			m.parent = map;
			rpl_varmap_set(&m, "range.key", items[j].key.s);
			rpl_varmap_set(&m, "range.value", items[j].val.s);
			RPL_ALLOC_GROW(out, n + 1, alloc);
			out[n] = *sp;
			x->map = &m;
			x->copy = 1;
			spend(x, sizeof(*out), &sp->range);
			sub_subpackage(x, &out[n]);
			x->copy = 0;
			if (x->refused && !x->refused_at.line)
				x->refused_at = sp->range;
			n++;
			rpl_varmap_release(&m);
		}
	}
	r->nsubpackages_static = r->nsubpackages;
	r->subpackages = rpl_arena_memdup(x->a, out, n, sizeof(*out));
	r->nsubpackages = n;
	x->map = map;
out:
	free(out);
	return err;
}

/* ---- the strict second pass ---------------------------------------------- */

static int strict_text(struct pctx *x, struct rpl_text *t, const char *what)
{
	const char *res;
	int err = rpl_subst_strict(x->a, t->s, x->map, RPL_SUBST_PLAIN, &res);

	if (err) {
		char msg[512];
		snprintf(msg, sizeof(msg), "%s", rpl_errmsg());
		return pos_error(x, t, "%s: %s", what, msg);
	}
	if (res != t->s)
		spend(x, strlen(res), t);
	if (x->refused)
		return refused_error(x, t);
	t->s = res;
	return 0;
}

static int strict_list(struct pctx *x, struct rpl_textlist *l, const char *what)
{
	for (size_t i = 0; i < l->n; i++) {
		int err = strict_text(x, &l->v[i], what);
		if (err)
			return err;
	}
	return 0;
}

static int strict_deps(struct pctx *x, struct rpl_dependencies *d)
{
	int err = strict_list(x, &d->provides, "provides");

	if (!err)
		err = strict_list(x, &d->runtime, "runtime");
	if (!err)
		err = strict_list(x, &d->replaces, "replaces");
	if (!err)
		err = strict_text(x, &d->provider_priority, "provider-priority");
	if (!err)
		err = strict_text(x, &d->replaces_priority, "replaces-priority");
	return err;
}

static int strict_pass(struct pctx *x)
{
	struct rpl_recipe *r = x->r;
	int err = strict_deps(x, &r->package.dependencies);

	for (size_t i = 0; !err && i < r->nsubpackages; i++) {
		err = strict_deps(x, &r->subpackages[i].dependencies);
		if (!err && r->subpackages[i].test)
			err = strict_list(x, &r->subpackages[i].test->environment.contents.packages,
			                  "test packages");
	}
	if (!err)
		err = strict_list(x, &r->environment.contents.packages, "environment packages");
	if (!err && r->test)
		err = strict_list(x, &r->test->environment.contents.packages, "test packages");
	return err;
}

/* ---- validation ---------------------------------------------------------- */

int rpl_melange_valid_name(const char *s)
{
	const char *p = s;

	if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9')))
		return 0;
	for (p++; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '+' || *p == '_' || *p == '.' || *p == '-'))
			return 0;
	return 1;
}

static int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static const char *digits(const char *p)
{
	while (is_digit(*p))
		p++;
	return p;
}

static const char *one_of(const char *p, const char *const *words, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!strncmp(p, words[i], strlen(words[i])))
			return p + strlen(words[i]);
	return NULL;
}

/*
 * apko's version grammar, which melange requires of package.version:
 * ^[0-9]+(\.[0-9]+)*[a-z]?(_(alpha|beta|pre|rc)[0-9]*)?(_(cvs|svn|git|hg|p)[0-9]*)?(-r[0-9]+)?$
 */
static int valid_version(const char *v)
{
	static const char *const pre[] = { "_alpha", "_beta", "_pre", "_rc" };
	static const char *const post[] = { "_cvs", "_svn", "_git", "_hg", "_p" };
	const char *p = v, *q;

	if (!is_digit(*p))
		return 0;
	p = digits(p);
	while (*p == '.' && is_digit(p[1]))
		p = digits(p + 1);
	if (*p >= 'a' && *p <= 'z')
		p++;
	if ((q = one_of(p, pre, 4)))
		p = digits(q);
	if ((q = one_of(p, post, 5)))
		p = digits(q);
	if (p[0] == '-' && p[1] == 'r' && is_digit(p[2]))
		p = digits(p + 2);
	return *p == '\0';
}

/* Go's strconv.Atoi: an optional sign and digits, nothing else ("" is unset). */
static int is_int(const char *s)
{
	const char *p = s;

	if (!*s)
		return 1;
	if (*p == '+' || *p == '-')
		p++;
	if (!*p || strlen(p) > 18)
		return 0;
	for (; *p; p++)
		if (*p < '0' || *p > '9')
			return 0;
	return 1;
}

/*
 * melange's validatePipelines, which it runs on the main and subpackage
 * pipelines only (config.go validate): in test pipelines (`test` set)
 * `with` without `uses` and `uses` beside `runs` are accepted, and the
 * definition is decoded onto such a step (recipes/pipeline.c).  A pipeline
 * name may not leave the pipeline dirs anywhere.
 */
static int validate_steps(const struct pctx *x, const struct rpl_step *steps, size_t n, int test)
{
	for (size_t i = 0; i < n; i++) {
		const struct rpl_step *s = &steps[i];
		struct rpl_text at = { NULL, s->line, s->col };
		int has_uses = *s->uses.s, has_runs = *s->runs.s;

		if (!test && s->with.n && !has_uses)
			return pos_error(x, &at, "pipeline step has 'with' but no 'uses'");
		if (!test && has_uses && has_runs)
			return pos_error(x, &s->uses, "pipeline step has both 'uses' and 'runs'");
		if (has_uses && (s->uses.s[0] == '/' || strstr(s->uses.s, "..")))
			return pos_error(x, &s->uses, "invalid pipeline name '%s'", s->uses.s);
		int err = validate_steps(x, s->steps, s->nsteps, test);
		if (err)
			return err;
	}
	return 0;
}

/*
 * Go's time.ParseDuration: [-+]?([0-9]*(\.[0-9]*)?(ns|us|µs|ms|s|m|h))+ or
 * "0"; no spaces, no exponents, and no more than 2562047h (int64 ns).
 * A duration of zero or less means no timeout.
 */
static int parse_duration(const char *s, uint64_t *secs)
{
	static const struct {
		const char *unit;
		double ns;
	} units[] = {
		{ "ns", 1 },   { "us", 1e3 }, { "\xc2\xb5s", 1e3 }, { "\xce\xbcs", 1e3 },
		{ "ms", 1e6 }, { "s", 1e9 },  { "m", 60e9 },        { "h", 3600e9 },
	};
	const char *p = s;
	double total = 0;
	int neg = 0;

	if (*p == '-' || *p == '+')
		neg = *p++ == '-';
	if (!strcmp(p, "0")) {
		*secs = 0;
		return 0;
	}
	if (!*p)
		return -1;
	while (*p) {
		double v = 0, scale = 1;
		int digits = 0;
		size_t u;

		for (; *p >= '0' && *p <= '9'; p++, digits++)
			v = v * 10 + (*p - '0');
		if (*p == '.')
			for (p++; *p >= '0' && *p <= '9'; p++, digits++)
				v += (*p - '0') * (scale /= 10);
		if (!digits)
			return -1;
		for (u = 0; u < sizeof(units) / sizeof(*units); u++) {
			size_t n = strlen(units[u].unit);
			/* "ms" comes before "m" in the table, so "m" never takes it. */
			if (!strncmp(p, units[u].unit, n))
				break;
		}
		if (u == sizeof(units) / sizeof(*units))
			return -1;
		p += strlen(units[u].unit);
		total += v * units[u].ns;
	}
	if (total > 9223372036854775807.0)
		return -1;
	*secs = neg || total <= 0 ? 0 : (uint64_t)((total + 999999999.0) / 1e9);
	return 0;
}

static const char *const allowed_caps[] = { "cap_net_bind_service", "cap_net_admin", "cap_net_raw",
	                                    "cap_ipc_lock", "cap_sys_admin" };

static int validate_setcap(const struct pctx *x, const struct rpl_setcap *sc, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct rpl_text entry = { NULL, sc[i].line, sc[i].col };
		if (!*sc[i].path.s)
			return pos_error(x, &entry, "setcap: 'path' is required");
		if (!*sc[i].reason.s)
			return pos_error(x, &entry, "setcap: 'reason' is required");
		for (size_t k = 0; k < sc[i].add.n; k++) {
			const char *caps = sc[i].add.v[k].key.s;
			while (*caps) {
				size_t len = strcspn(caps, ",");
				int ok = 0;
				for (size_t c = 0; c < sizeof(allowed_caps) / sizeof(*allowed_caps);
				     c++)
					if (strlen(allowed_caps[c]) == len &&
					    !strncmp(allowed_caps[c], caps, len))
						ok = 1;
				if (!ok)
					return pos_error(x, &sc[i].add.v[k].key,
					                 "setcap: capability '%.*s' is not allowed",
					                 (int)len, caps);
				caps += len;
				if (*caps == ',')
					caps++;
			}
		}
	}
	return 0;
}

static int validate_deps(const struct pctx *x, const struct rpl_dependencies *d)
{
	if (!is_int(d->provider_priority.s))
		return pos_error(x, &d->provider_priority,
		                 "provider-priority '%s' is not an integer",
		                 d->provider_priority.s);
	if (!is_int(d->replaces_priority.s))
		return pos_error(x, &d->replaces_priority,
		                 "replaces-priority '%s' is not an integer",
		                 d->replaces_priority.s);
	return 0;
}

/*
 * Each package becomes packages/<arch>/<name>-<version>-r<epoch>.apk (and
 * its log .ripple/logs/<run>/<arch>/<name>.log, shorter), and a file name
 * has at most NAME_MAX bytes: a longer one would fail only when the build
 * writes it.  The message blames the longer of the name and the version.
 */
static int check_apk_name(const struct pctx *x, const char *what, const struct rpl_text *name)
{
	const struct rpl_package *p = &x->r->package;
	char epoch[32];
	size_t len;

	snprintf(epoch, sizeof(epoch), "%llu", (unsigned long long)p->epoch);
	len = strlen(name->s) + strlen("-") + strlen(p->version.s) + strlen("-r") + strlen(epoch) +
	      strlen(".apk");
	if (len <= NAME_MAX)
		return 0;
	if (strlen(p->version.s) > strlen(name->s))
		return pos_error(x, &p->version,
		                 "package version '%.32s...' (%zu bytes) makes the file name of %s "
		                 "'%.32s' %zu bytes long, more than the %d a file name may have",
		                 p->version.s, strlen(p->version.s), what, name->s, len, NAME_MAX);
	return pos_error(x, name,
	                 "%s name '%.32s...' (%zu bytes) makes its file name %zu bytes long, "
	                 "more than the %d a file name may have",
	                 what, name->s, strlen(name->s), len, NAME_MAX);
}

/*
 * melange builds an arch when target-architecture is empty, is exactly
 * [all], or holds the arch's apk name (build.go: slices.Contains with
 * Arch.ToAPK()).  Any other spelling matches no arch, so melange would
 * silently build the package nowhere: `amd64`, `arm64` (apko's and Go's
 * names), a name no arch has, or `all` beside others are reported here.
 */
static int validate_archs(const struct pctx *x, const struct rpl_textlist *ta)
{
	for (size_t i = 0; i < ta->n; i++) {
		const struct rpl_text *t = &ta->v[i];
		const char *apk = rpl_apko_arch_to_apk(t->s);

		if (!strcmp(t->s, "all")) {
			if (ta->n > 1)
				return pos_error(x, t,
				                 "target-architecture: 'all' means every "
				                 "architecture only as the one entry (melange "
				                 "matches it against no arch beside others)");
		} else if (!apk) {
			return pos_error(x, t, "target-architecture: unknown architecture '%s'",
			                 t->s);
		} else if (strcmp(apk, t->s)) {
			return pos_error(x, t,
			                 "target-architecture: '%s' is not melange's name for an "
			                 "architecture (melange compares apk names and would "
			                 "build this for none): write '%s'",
			                 t->s, apk);
		}
	}
	return 0;
}

static int validate(const struct pctx *x)
{
	struct rpl_recipe *r = x->r;
	struct rpl_package *p = &r->package;
	struct rpl_text at = { NULL, p->line, p->col };
	int err;

	if (!*p->name.s)
		return pos_error(x, p->name.line ? &p->name : &at, "package.name is required");
	if (!rpl_melange_valid_name(p->name.s))
		return pos_error(x, &p->name, "package name '%s' is invalid", p->name.s);
	if (!*p->version.s)
		return pos_error(x, p->version.line ? &p->version : &at,
		                 "package.version is required");
	if (!valid_version(p->version.s))
		return pos_error(x, &p->version, "package version '%s' is not a valid apk version",
		                 p->version.s);
	if ((err = check_apk_name(x, "package", &p->name)))
		return err;
	for (size_t i = 0; i < p->ncopyright; i++) {
		struct rpl_text entry = { NULL, p->copyright[i].line, p->copyright[i].col };
		if (!*p->copyright[i].license.s)
			return pos_error(x, &entry, "copyright[%zu]: 'license' is required", i);
	}
	if ((err = validate_deps(x, &p->dependencies)))
		return err;
	if (*p->timeout.s && parse_duration(p->timeout.s, &p->timeout_seconds))
		return pos_error(x, &p->timeout, "timeout '%s' is not a duration (like 90s, 2h)",
		                 p->timeout.s);
	if ((err = validate_setcap(x, p->setcap, p->nsetcap)))
		return err;
	if ((err = validate_archs(x, &p->target_architecture)))
		return err;
	if ((err = validate_steps(x, r->steps, r->nsteps, 0)))
		return err;
	if (r->test && (err = validate_steps(x, r->test->steps, r->test->nsteps, 1)))
		return err;
	for (size_t i = 0; i < r->nsubpackages; i++) {
		const struct rpl_subpackage *sp = &r->subpackages[i];

		if (!*sp->name.s)
			return pos_error(x, &sp->name, "subpackages[%zu]: name is required", i);
		if (!rpl_melange_valid_name(sp->name.s))
			return pos_error(x, &sp->name, "subpackage name '%s' is invalid",
			                 sp->name.s);
		if ((err = check_apk_name(x, "subpackage", &sp->name)))
			return err;
		if (!strcmp(sp->name.s, p->name.s))
			return pos_error(x, &sp->name,
			                 "subpackage name '%s' is the same as the package name",
			                 sp->name.s);
		for (size_t j = 0; j < i; j++)
			if (!strcmp(sp->name.s, r->subpackages[j].name.s))
				return pos_error(
				        x, &sp->name,
				        "subpackage name '%s' is used more than once (also at line %u)",
				        sp->name.s, r->subpackages[j].name.line);
		if ((err = validate_deps(x, &sp->dependencies)))
			return err;
		if ((err = validate_setcap(x, sp->setcap, sp->nsetcap)))
			return err;
		if ((err = validate_steps(x, sp->steps, sp->nsteps, 0)))
			return err;
		if (sp->test && (err = validate_steps(x, sp->test->steps, sp->test->nsteps, 1)))
			return err;
	}
	return 0;
}

/* ---- entry points -------------------------------------------------------- */

/*
 * Builds the parse-time map: package fields, raw vars, then each
 * var-transform in order (its `from` substituted strictly against the map so
 * far, so a transform may use an earlier one's output).
 */
static int build_map(struct pctx *x, struct rpl_varmap *m)
{
	struct rpl_recipe *r = x->r;
	struct rpl_package *p = &r->package;

	rpl_varmap_set(m, "package.name", p->name.s);
	rpl_varmap_set(m, "package.version", p->version.s);
	rpl_varmap_set(m, "package.description", p->description.s);
	rpl_varmap_set(m, "package.epoch",
	               rpl_arena_printf(x->a, "%llu", (unsigned long long)p->epoch));
	rpl_varmap_set(
	        m, "package.full-version",
	        rpl_arena_printf(x->a, "%s-r%llu", p->version.s, (unsigned long long)p->epoch));
	for (size_t i = 0; i < r->vars.n; i++)
		rpl_varmap_set(m, rpl_arena_printf(x->a, "vars.%s", r->vars.v[i].key.s),
		               r->vars.v[i].val.s);

	struct rpl_kv *out = r->nvar_transforms
	                             ? rpl_arena_alloc(x->a, r->nvar_transforms * sizeof(*out))
	                             : NULL;
	for (size_t i = 0; i < r->nvar_transforms; i++) {
		struct rpl_var_transform *vt = &r->var_transforms[i];
		const char *from, *res;
		int err;

		struct rpl_text entry = { NULL, vt->line, vt->col };
		if (!*vt->to.s)
			return pos_error(x, &entry, "var-transforms[%zu]: 'to' is required", i);
		err = rpl_subst_strict(x->a, vt->from.s, m, RPL_SUBST_PLAIN, &from);
		if (err) {
			char msg[512];
			snprintf(msg, sizeof(msg), "%s", rpl_errmsg());
			return pos_error(x, &vt->from, "var-transforms 'from': %s", msg);
		}
		if (from != vt->from.s)
			spend(x, strlen(from), &vt->from);
		if (x->refused)
			return refused_error(x, &vt->from);
		err = rpl_regex_replace_all(x->a, vt->match.s, from, vt->replace.s, &res);
		if (err) {
			char msg[512];
			snprintf(msg, sizeof(msg), "%s", rpl_errmsg());
			return pos_error(x, &vt->match, "var-transforms 'match': %s", msg);
		}
		spend(x, strlen(res), &vt->replace);
		if (x->refused)
			return refused_error(x, &vt->replace);
		rpl_varmap_set(m, rpl_arena_printf(x->a, "vars.%s", vt->to.s), res);
		out[i].key = vt->to;
		out[i].val = rpl_text_make(res);
	}
	r->transformed.v = out;
	r->transformed.n = r->nvar_transforms;
	return 0;
}

struct rpl_recipe *rpl_recipe_from_yaml(const struct rpl_ydoc *doc)
{
	struct rpl_recipe *r = rpl_xcalloc(1, sizeof(*r));
	struct rpl_varmap map = RPL_VARMAP_INIT;
	struct pctx x;
	struct rpl_dctx dc = { 0 };
	int err;

	memset(&x, 0, sizeof(x));
	/* A parsed recipe takes about three times its text: one block fits it. */
	rpl_arena_init_sized(&r->arena, doc->len * 4);
	r->file = rpl_arena_strdup(&r->arena, doc->file);
	dc.arena = &r->arena;
	dc.file = r->file;
	x.r = r;
	x.a = &r->arena;
	x.file = r->file;
	x.map = &map;

	if (!doc->root || rpl_ynode_is_null(doc->root)) {
		err = rpl_error(-RPL_ESCHEMA, "%s:1:1: empty recipe", r->file);
		goto fail;
	}
	err = rpl_decode(&dc, doc->root, &recipe_schema, r);
	if (err)
		goto fail;
	if (!rpl_ymap_get(doc->root, "package")) {
		err = rpl_error(-RPL_ESCHEMA, "%s:%u:%u: recipe has no 'package' section", r->file,
		                doc->root->line, doc->root->col);
		goto fail;
	}

	if ((err = build_map(&x, &map)))
		goto fail;
	sub_package(&x, &r->package);
	sub_steps(&x, &r->steps, r->nsteps);
	if ((err = expand_subpackages(&x, &map)))
		goto fail;
	sub_env(&x, &r->environment);
	sub_test(&x, &r->test);
	if (x.refused) {
		err = refused_error(&x, &x.refused_at);
		goto fail;
	}
	for (size_t i = 0; i < r->nsubpackages; i++)
		if (!*r->subpackages[i].commit.s)
			r->subpackages[i].commit = r->package.commit;
	if ((err = strict_pass(&x)))
		goto fail;
	if ((err = validate(&x)))
		goto fail;
	rpl_varmap_release(&map);
	return r;
fail:
	rpl_varmap_release(&map);
	rpl_recipe_free(r);
	return NULL;
}

struct rpl_recipe *rpl_recipe_parse(const char *file, const char *buf, size_t len)
{
	struct rpl_ydoc doc;
	struct rpl_recipe *r = NULL;

	if (!rpl_yaml_parse(&doc, file, buf, len))
		r = rpl_recipe_from_yaml(&doc);
	rpl_ydoc_release(&doc);
	return r;
}

void rpl_recipe_free(struct rpl_recipe *r)
{
	if (!r)
		return;
	rpl_arena_release(&r->arena);
	free(r);
}

const char *rpl_recipe_full_version(struct rpl_recipe *r)
{
	return rpl_arena_printf(&r->arena, "%s-r%llu", r->package.version.s,
	                        (unsigned long long)r->package.epoch);
}

/*
 * A summary's strings and arrays are copied twice over the same code: once
 * with `a` NULL to count the bytes, once into an arena of that size.
 */
struct copier {
	struct rpl_arena *a;
	size_t size;
};

static void copy_text(struct copier *c, struct rpl_text *t)
{
	if (!t->s)
		return;
	if (c->a)
		t->s = rpl_arena_strdup(c->a, t->s);
	else
		c->size += strlen(t->s) + 1;
}

static void *copy_array(struct copier *c, const void *v, size_t n, size_t size)
{
	if (!n)
		return NULL;
	if (c->a)
		return rpl_arena_memdup(c->a, v, n, size);
	c->size += n * size + alignof(max_align_t);
	return (void *)v;
}

static void copy_list(struct copier *c, struct rpl_textlist *l)
{
	l->v = copy_array(c, l->v, l->n, sizeof(*l->v));
	for (size_t i = 0; i < l->n; i++)
		copy_text(c, &l->v[i]);
}

static void copy_deps(struct copier *c, struct rpl_dependencies *d)
{
	copy_list(c, &d->runtime);
	copy_list(c, &d->provides);
	copy_list(c, &d->replaces);
	copy_text(c, &d->provider_priority);
	copy_text(c, &d->replaces_priority);
}

/* Fills `s` from `r`, its strings and arrays through `c`. */
static void summarize(struct copier *c, const struct rpl_recipe *r, struct rpl_recipe_summary *s)
{
	const struct rpl_package *p = &r->package;

	s->file = r->file;
	s->name = p->name;
	s->version = p->version;
	s->timeout = p->timeout;
	s->epoch = p->epoch;
	s->timeout_seconds = p->timeout_seconds;
	s->cpu = p->resources.cpu;
	s->memory = p->resources.memory;
	s->dependencies = p->dependencies;
	s->target_architecture = p->target_architecture;
	s->nsubpackages = r->nsubpackages;
	s->nsubpackages_static = r->nsubpackages_static;
	if (c->a) {
		s->file = rpl_arena_strdup(c->a, r->file);
		s->subpackages =
		        r->nsubpackages
		                ? rpl_arena_alloc(c->a, r->nsubpackages * sizeof(*s->subpackages))
		                : NULL;
	} else {
		c->size += strlen(r->file) + 1 + alignof(max_align_t) +
		           r->nsubpackages * sizeof(*s->subpackages);
	}
	copy_text(c, &s->name);
	copy_text(c, &s->version);
	copy_text(c, &s->timeout);
	copy_text(c, &s->cpu);
	copy_text(c, &s->memory);
	copy_deps(c, &s->dependencies);
	copy_list(c, &s->target_architecture);
	for (size_t i = 0; i < r->nsubpackages; i++) {
		const struct rpl_subpackage *from = &r->subpackages[i];
		struct rpl_subpackage_summary to = { from->name, from->if_, from->dependencies,
			                             from->line, from->col };

		copy_text(c, &to.name);
		copy_text(c, &to.if_);
		copy_deps(c, &to.dependencies);
		if (c->a)
			s->subpackages[i] = to;
	}
}

struct rpl_recipe_summary *rpl_recipe_summarize(const struct rpl_recipe *r, size_t extra)
{
	struct rpl_recipe_summary *s = rpl_xcalloc(1, sizeof(*s)), sizing;
	struct copier count = { NULL, 0 }, copy = { &s->arena, 0 };

	memset(&sizing, 0, sizeof(sizing));
	summarize(&count, r, &sizing);
	rpl_arena_init_sized(&s->arena, count.size + extra);
	summarize(&copy, r, s);
	return s;
}

void rpl_recipe_summary_free(struct rpl_recipe_summary *s)
{
	if (!s)
		return;
	rpl_arena_release(&s->arena);
	free(s);
}

size_t rpl_recipe_archs(const struct rpl_textlist *ta, const char *const *selected,
                        size_t nselected, const char **out)
{
	/* As melange: empty or exactly [all] is every arch, else apk names
	 * match literally (validate_archs refused every other spelling). */
	int all = !ta->n || (ta->n == 1 && !strcmp(ta->v[0].s, "all"));
	size_t n = 0;

	for (size_t i = 0; i < nselected; i++) {
		int ok = all;
		for (size_t j = 0; !ok && j < ta->n; j++)
			ok = !strcmp(ta->v[j].s, selected[i]);
		if (ok)
			out[n++] = selected[i];
	}
	return n;
}
