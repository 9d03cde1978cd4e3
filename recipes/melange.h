/*
 * The melange build configuration (melange's pkg/config/config.go) after
 * parsing and parse-time substitution: one recipe = one origin package
 * with its subpackages, ranges expanded.
 */
#ifndef RPL_MELANGE_H
#define RPL_MELANGE_H

#include "common/arena.h"
#include "recipes/apko.h"
#include "recipes/decode.h"

#include <stdint.h>

struct rpl_input_decl {
	struct rpl_text name;
	const char *var; /* "inputs.<name>", set when a pipeline library loads it */
	struct rpl_text description;
	struct rpl_text default_value;
	int has_default;
	int required;
};

struct rpl_step {
	struct rpl_text name;
	struct rpl_text uses;
	struct rpl_kvlist with;
	struct rpl_text runs;
	struct rpl_step *steps; /* nested `pipeline:` */
	size_t nsteps;
	struct rpl_text if_;
	struct rpl_text working_directory;
	struct rpl_textlist needs; /* needs.packages */
	int has_needs;
	/* `needs:` is null or names `packages:`: decoded onto a calling step
	 * (a definition file's), it replaces that step's needs.packages. */
	int needs_given;
	struct rpl_input_decl *inputs; /* pipeline definition files only */
	size_t ninputs;
	struct rpl_kvlist environment;
	int64_t required_steps; /* assertions.required-steps */
	int has_assertions;
	struct rpl_text label;
	uint32_t line, col; /* where the step starts */
};

struct rpl_dependencies {
	struct rpl_textlist runtime;
	struct rpl_textlist provides;
	struct rpl_textlist replaces;
	struct rpl_text provider_priority;
	struct rpl_text replaces_priority;
};

struct rpl_pkg_options {
	int no_provides, no_depends, no_commands, no_versioned_shlib_deps;
};

struct rpl_scriptlets {
	struct rpl_text trigger_script;
	struct rpl_textlist trigger_paths;
	struct rpl_text pre_install, post_install, pre_deinstall, post_deinstall;
	struct rpl_text pre_upgrade, post_upgrade;
};

struct rpl_copyright {
	struct rpl_textlist paths;
	struct rpl_text attestation;
	struct rpl_text license;
	struct rpl_text license_path;
	struct rpl_text detection_override;
	uint32_t line, col;
};

struct rpl_cpe {
	struct rpl_text part, vendor, product, edition, language, sw_edition, target_sw, target_hw,
	        other;
};

struct rpl_setcap {
	struct rpl_text path;
	struct rpl_kvlist add;
	struct rpl_text reason;
	uint32_t line, col;
};

struct rpl_resources {
	struct rpl_text cpu, cpumodel, memory, disk;
};

struct rpl_checks {
	struct rpl_textlist disabled;
	struct rpl_textlist enabled;
};

struct rpl_test {
	struct rpl_apko_config environment;
	struct rpl_step *steps;
	size_t nsteps;
};

struct rpl_package {
	struct rpl_text name;
	struct rpl_text version;
	uint64_t epoch;
	struct rpl_text description;
	struct rpl_text url;
	struct rpl_text commit;
	struct rpl_kvlist annotations;
	struct rpl_copyright *copyright;
	size_t ncopyright;
	struct rpl_cpe cpe;
	struct rpl_dependencies dependencies;
	struct rpl_textlist target_architecture;
	struct rpl_pkg_options options;
	struct rpl_checks checks;
	struct rpl_setcap *setcap;
	size_t nsetcap;
	struct rpl_text timeout;
	uint64_t timeout_seconds; /* parsed from `timeout`, 0 when unset */
	struct rpl_resources resources;
	struct rpl_resources test_resources;
	struct rpl_scriptlets scriptlets;
	uint32_t line, col; /* the `package:` mapping */
};

struct rpl_subpackage {
	struct rpl_text if_;
	struct rpl_text range;
	struct rpl_text name;
	struct rpl_step *steps;
	size_t nsteps;
	struct rpl_dependencies dependencies;
	struct rpl_pkg_options options;
	struct rpl_scriptlets scriptlets;
	struct rpl_text description;
	struct rpl_kvlist annotations;
	struct rpl_text url;
	struct rpl_text commit;
	struct rpl_checks checks;
	struct rpl_test *test;
	struct rpl_setcap *setcap;
	size_t nsetcap;
	uint32_t line, col;
};

struct rpl_data {
	struct rpl_text name;
	struct rpl_kvlist items;
};

struct rpl_var_transform {
	struct rpl_text from, match, replace, to;
	uint32_t line, col;
};

struct rpl_build_option {
	struct rpl_text name;
	struct rpl_kvlist vars;
	struct rpl_textlist add;
	struct rpl_textlist remove;
};

struct rpl_capabilities {
	struct rpl_textlist add, drop;
};

/*
 * The most subpackages a recipe may have once its ranges are expanded.
 * Wolfi's most is 110; each more costs every compile and the checks of
 * unique names.
 */
#define RPL_MELANGE_MAX_SUBPACKAGES 5000

/* A parsed recipe.  All memory is in `arena`. */
struct rpl_recipe {
	struct rpl_arena arena;
	const char *file; /* path relative to the monorepo root */
	struct rpl_package package;
	struct rpl_apko_config environment;
	struct rpl_capabilities capabilities;
	struct rpl_step *steps;
	size_t nsteps;
	struct rpl_subpackage *subpackages; /* after range expansion */
	size_t nsubpackages;
	size_t nsubpackages_static; /* entries written in the file, before range */
	struct rpl_data *data;      /* kept for show; ranges are already expanded */
	size_t ndata;
	struct rpl_kvlist vars; /* raw, as written */
	struct rpl_var_transform *var_transforms;
	size_t nvar_transforms;
	struct rpl_kvlist transformed; /* vars.<to> => value, in transform order */
	struct rpl_build_option *options;
	size_t noptions;
	struct rpl_test *test;
	int update_enabled; /* `update:` is validated, not interpreted */
};

/*
 * Parses melange recipe text `buf` (named `file` in messages): strict decode,
 * vars and var-transforms, parse-time substitution, range expansion and
 * validation.  Returns a heap recipe, or NULL with a "file:line:col: ..."
 * message (rpl_errmsg()).
 */
struct rpl_recipe *rpl_recipe_parse(const char *file, const char *buf, size_t len);

/* As rpl_recipe_parse on a tree already parsed by the caller. */
struct rpl_recipe *rpl_recipe_from_yaml(const struct rpl_ydoc *doc);

void rpl_recipe_free(struct rpl_recipe *r);

/* A subpackage as a recipe's summary keeps it. */
struct rpl_subpackage_summary {
	struct rpl_text name, if_;
	struct rpl_dependencies dependencies;
	uint32_t line, col;
};

/*
 * What a whole-repo scan keeps of every recipe, and what the parse cache
 * stores (recipes/cache.h): the package's identity, its dependencies,
 * target architectures, timeout and resources, and each subpackage's
 * name, `if` and dependencies, in an arena of its own sized to fit.  A
 * recipe is 1.4 KB and a subpackage 416 bytes before any string; this is
 * what 50,000 recipes must hold (docs/benchmarks.md).
 */
struct rpl_recipe_summary {
	struct rpl_arena arena;
	const char *file; /* path relative to the monorepo root */
	struct rpl_text name, version, timeout;
	uint64_t epoch, timeout_seconds;
	struct rpl_text cpu, memory; /* resources:, where they were written */
	struct rpl_dependencies dependencies;
	struct rpl_textlist target_architecture;
	struct rpl_subpackage_summary *subpackages; /* after range expansion */
	size_t nsubpackages, nsubpackages_static;
};

/*
 * The summary of `r`, owning its memory; its arena has room for `extra`
 * more bytes of the caller's.
 */
struct rpl_recipe_summary *rpl_recipe_summarize(const struct rpl_recipe *r, size_t extra);
void rpl_recipe_summary_free(struct rpl_recipe_summary *s);

/*
 * The archs among `selected` a recipe builds for (`target`, its
 * target-architecture:
 * empty or "all" means every one).  Writes them to `out` (room for
 * nselected) in the order of `selected` and returns how many.
 */
size_t rpl_recipe_archs(const struct rpl_textlist *target, const char *const *selected,
                        size_t nselected, const char **out);

/* "<version>-r<epoch>", in the recipe's arena. */
const char *rpl_recipe_full_version(struct rpl_recipe *r);

/* The step schema, shared with pipeline definition files. */
extern const struct rpl_schema rpl_step_schema;

/* Whether `name` is a valid melange package name (^[a-zA-Z\d][a-zA-Z\d+_.-]*$). */
int rpl_melange_valid_name(const char *name);

#endif
