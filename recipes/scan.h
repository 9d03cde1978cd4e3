/*
 * Scanning a monorepo: find every melange recipe and apko image, parse and
 * compile them in parallel on the libuv thread pool, and check that origin
 * names are unique.
 *
 * Recipes are top-level *.yaml files with a `package:` section and nested
 * *.melange.yaml files (`.melange.yaml` among them); images are *.apko.yaml
 * files anywhere (`.apko.yaml` too), top-level *.yaml files that look like
 * apko configs, and the `images:` globs of .ripple.yaml.  `.git`, other
 * hidden files and directories and ripple's own outputs are skipped.
 */
#ifndef RPL_SCAN_H
#define RPL_SCAN_H

#include "recipes/pipeline.h"
#include "common/sha256.h"
#include "recipes/repoconfig.h"

#include <stddef.h>

enum rpl_entry_kind { RPL_ENTRY_RECIPE, RPL_ENTRY_IMAGE };

struct rpl_scan_entry {
	enum rpl_entry_kind kind;
	char *file; /* relative to the monorepo root */
	/* With a parse cache: the entry's key, and its fresh encoding when it
	 * was parsed rather than read from the cache (for the caller to store). */
	uint8_t cache_key[RPL_SHA256_LEN];
	void *cache_data;
	size_t cache_len;
	/* Once the encoding is stored (rpl_scan_entry_drop_encoding), its sha256. */
	uint8_t encoding_digest[RPL_SHA256_LEN];
	int has_encoding_digest;
	int cached; /* read from the cache */
	/* With a parse cache: the recipe's sha256, and when its text was read
	 * (a plan reuses it instead of reading the file again). */
	uint8_t digest[RPL_SHA256_LEN];
	int has_digest;
	int64_t read_ns;

	/* RECIPE, NULL on error: what the graph and the plan read of it. */
	struct rpl_recipe_summary *summary;
	/* The whole recipe, with keep_full or once rpl_scan_recompile read it. */
	struct rpl_recipe *recipe;
	const char **archs; /* archs this recipe is built for, among the selected ones */
	size_t narchs;
	struct rpl_compiled *compiled; /* one per arch in `archs` */
	struct rpl_image *image;       /* IMAGE, NULL on error */
	char *error;                   /* the message when parsing or compiling failed */
};

/*
 * A parse cache the scan reads (recipes/cache.h has the format).  `get` is
 * called from several worker threads at once, so it must only read.  A key
 * is the sha256 of the recipe's path and content digest, `salt` (the caller's
 * identity: a new ripple must not trust an old one's entries) and all else
 * its evaluation read: the selected archs and every pipeline (with where
 * .ripple.yaml's pipeline-dirs found it); .ripple.yaml's other keys do
 * not change what a recipe encodes.
 */
struct rpl_scan_cache {
	const void *(*get)(void *ctx, const char *file, const uint8_t key[RPL_SHA256_LEN],
	                   size_t *len);

	/* Optional: the file's sha256 when a stat cache knows it unchanged
	 * (returns 1), so an unchanged recipe is not even read. */
	int (*digest)(void *ctx, const char *file, uint8_t out[RPL_SHA256_LEN]);
	void *ctx;
	uint8_t salt[RPL_SHA256_LEN];
};

struct rpl_scan_opts {
	const char *const *archs; /* NULL: the repo config's archs */
	size_t narchs;
	int compile; /* compile each recipe for its archs */
	/* Keep every recipe whole besides its summary (rpl_recipe_summarize),
	 * which alone keeps a scan of thousands of recipes small.  Commands
	 * that show one recipe reload it instead. */
	int keep_full;
	const struct rpl_scan_cache *cache; /* NULL: parse everything */
};

struct rpl_scan {
	char *root;
	char *real_root; /* realpath(root): recipes, images and pipelines stay below it */
	struct rpl_repoconfig config;
	struct rpl_pipeline_lib lib;
	const char **archs; /* the selected archs */
	size_t narchs;
	struct rpl_scan_entry *entries; /* sorted by file */
	size_t nentries;
	size_t nerrors;
	size_t ncached;    /* recipes read from the parse cache */
	char ***env_files; /* per selected arch: the env files that exist */
	size_t *nenv_files;
	uint8_t env[RPL_SHA256_LEN]; /* what every cache key shares */
};

/*
 * Scans the monorepo at `root`.  Returns 0 when the scan itself worked (some
 * entries may still carry errors: see nerrors), or an error for problems
 * with the repo as a whole (unreadable root, bad .ripple.yaml, an env file
 * that is not a regular file).
 *
 * A recipe or image that is not a regular file (a FIFO, a link to a
 * device), that is larger than RPL_YAML_MAX_FILE or that is a link leading
 * outside the root gets an error of its own and is not read.
 */
int rpl_scan_run(struct rpl_scan *s, const char *root, const struct rpl_scan_opts *opts);
void rpl_scan_release(struct rpl_scan *s);

/*
 * One recipe file (relative to `root`) parsed and compiled as a scan with
 * `lib` for `archs` would, given as its parse-cache encoding (recipes/
 * cache.h; malloc'd): what planning knows of it.  Returns 0, or an error
 * when it does not parse or is no longer a melange recipe.
 */
int rpl_scan_encode_file(const char *root, const struct rpl_pipeline_lib *lib,
                         const char *const *archs, size_t narchs, const char *file, void **data,
                         size_t *len);

/* The sha256 of a scanned recipe's parse-cache encoding. */
void rpl_scan_entry_encoding_digest(const struct rpl_scan_entry *e, uint8_t out[RPL_SHA256_LEN]);
/* Frees the fresh encoding (once stored), keeping its sha256. */
void rpl_scan_entry_drop_encoding(struct rpl_scan_entry *e);

/*
 * Compiles `e` again for every arch with `flags` (RPL_COMPILE_STEPS to keep
 * the step trees, which a scan drops), first reading the whole recipe again
 * when the scan kept only its summary.  Returns 0 or the error.
 */
int rpl_scan_recompile(struct rpl_scan *s, struct rpl_scan_entry *e, unsigned flags);

/*
 * Whether a file at `rel` (relative to the root) shapes the scan by its
 * path alone: a recipe or image the walk would take (whatever its content),
 * .ripple.yaml, or a file under a pipeline dir.  Changing, adding or
 * removing one can change what there is to build; any other file can only
 * be an input.
 */
int rpl_scan_structural(const struct rpl_repoconfig *cfg, const char *rel);

/* What `e` compiled to for `arch`, or NULL when it is not built for it. */
const struct rpl_compiled *rpl_scan_compiled(const struct rpl_scan_entry *e, const char *arch);

/* The recipe entry whose origin is `name`, or NULL. */
const struct rpl_scan_entry *rpl_scan_find(const struct rpl_scan *s, const char *name);

/*
 * Every file the build of `e` for `arch` reads, relative to the root, sorted:
 * the recipe, the files of its source dir (`<name>/` beside a top-level
 * recipe; the recipe's own dir for a nested one), the repo pipelines it
 * reaches and the env files that exist for the arch.  For an image: its
 * file and includes.  The strings and array are malloc'd; free with
 * rpl_scan_inputs_free().
 */
/*
 * A recipe's source dir (malloc'd): `<name>/` beside a top-level recipe, the
 * recipe's own directory for a nested one or a `.melange.yaml` ("." for
 * one at the root, melange's default of the config's directory); NULL for
 * an image.
 */
char *rpl_scan_source_dir(const struct rpl_scan_entry *e);

/*
 * Whether the file name `name` (no directory) is one of the hidden names a
 * recipe or image may have: `.melange.yaml` (melange's default config
 * file) and `.apko.yaml`.  Every other name starting with '.' is hidden:
 * never scanned, never an input.
 */
int rpl_scan_dot_recipe(const char *name);

/*
 * The top-level directories ripple writes its outputs to (packages/,
 * images/): a source dir that is the monorepo root leaves them out.
 */
int rpl_scan_output_dir(const char *rel);

/* An env-files entry of .ripple.yaml for `arch`: ${{build.arch}} substituted (malloc'd). */
char *rpl_scan_env_file(const char *pattern, const char *arch);

int rpl_scan_inputs(const struct rpl_scan *s, const struct rpl_scan_entry *e, const char *arch,
                    char ***files, size_t *n);
void rpl_scan_inputs_free(char **files, size_t n);

#endif
