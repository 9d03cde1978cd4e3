/*
 * Pipeline resolution and compilation (melange's
 * pkg/build/compile.go and pkg/build/pipelines/): `uses:` is looked up in the monorepo's pipeline dirs first, then
 * in ripple's built-in pipelines; inputs are checked and substituted; the
 * build needs are gathered from every main and subpackage step reached.
 */
#ifndef RPL_PIPELINE_H
#define RPL_PIPELINE_H

#include "common/arena.h"
#include "common/sha256.h"
#include "recipes/decode.h"
#include "recipes/melange.h"

#include <stddef.h>

struct rpl_builtin_pipeline {
	const char *name; /* "fetch", "go/build" */
	const char *text;
	size_t len;
};

/* Generated from recipes/pipelines/ at build time. */
extern const struct rpl_builtin_pipeline rpl_builtin_pipelines[];
extern const size_t rpl_nbuiltin_pipelines;

/* One pipeline definition, parsed. */
struct rpl_pipeline_def {
	const char *name;
	const char *file; /* repo-relative path, or "builtin:<name>" */
	int builtin;
	struct rpl_step step; /* the definition as a step: inputs, needs, runs, pipeline */
	const char *error;    /* parse error, reported when the pipeline is used */
};

/*
 * The pipelines a monorepo can use.  Loaded once, read-only afterwards, so
 * compiles on several threads may share it.
 */
struct rpl_pipeline_lib {
	struct rpl_arena arena;
	/* sha256 over every definition's name, file and text: all a compile
	 * may have read, for cache keys. */
	uint8_t digest[RPL_SHA256_LEN];

	struct rpl_pipeline_def *defs; /* sorted by (name, repo before builtin) */
	size_t ndefs;
};

/*
 * Loads every *.yaml below each of `dirs` (relative to `root`; missing dirs
 * are skipped) and the built-ins.  A malformed file does not fail the load,
 * nor does one that is no regular file (a FIFO, a link to a device), is
 * larger than RPL_YAML_MAX_FILE or leads outside `root` through a link: its
 * error is reported by the compiles that use it.  Links to directories are
 * not followed.  Returns 0 or -errno.
 */
int rpl_pipeline_lib_init(struct rpl_pipeline_lib *lib, const char *root, const char *const *dirs,
                          size_t ndirs);
void rpl_pipeline_lib_release(struct rpl_pipeline_lib *lib);

/* The definition `uses: name` resolves to, or NULL. */
const struct rpl_pipeline_def *rpl_pipeline_lib_find(const struct rpl_pipeline_lib *lib,
                                                     const char *name);

/* A compiled step: substituted, with the effective inputs of a `uses:` step. */
struct rpl_cstep {
	const char *name;
	const char *uses;
	const char *pipeline_file; /* where `uses` resolved */
	struct rpl_kvlist with;    /* every declared input with its value */
	const char *runs;
	const char *if_;
	const char *working_directory;
	struct rpl_kvlist environment;
	struct rpl_textlist needs;
	struct rpl_cstep *steps;
	size_t nsteps;
	int skipped; /* `if:` was false */
};

/* One build need and where it came from. */
struct rpl_need {
	const char *name;       /* the entry as written: "go", "so:libz.so.1", "foo>=1.2" */
	const char *via;        /* "environment" or the pipeline that needs it */
	const char *subpackage; /* the subpackage whose pipeline needs it, or NULL */
};

struct rpl_csub {
	const char *name;
	int enabled; /* the subpackage's `if:` for this arch */
	struct rpl_cstep *steps;
	size_t nsteps;
};

/* A test pipeline: the package's own (sub NULL) or a subpackage's. */
struct rpl_ctest {
	const char *sub;
	struct rpl_cstep *steps;
	size_t nsteps;
	const struct rpl_kvlist *environment; /* the test's variables (in the recipe) */
};

/* A recipe compiled for one architecture. */
struct rpl_compiled {
	struct rpl_arena arena;
	const char *arch;
	unsigned flags; /* as given to rpl_compile */
	struct rpl_cstep *steps;
	size_t nsteps;
	struct rpl_csub *subs;
	size_t nsubs;
	struct rpl_need
	        *needs; /* build env: environment packages then pipeline needs, walk order */
	size_t nneeds;
	struct rpl_need *test_needs;
	size_t ntest_needs;
	const char **pipeline_files; /* repo pipeline files the build reaches, sorted, unique */
	size_t npipeline_files;
	const char **test_pipeline_files;
	size_t ntest_pipeline_files;
	struct rpl_ctest *tests; /* with RPL_COMPILE_STEPS: the test pipelines there are */
	size_t ntests;
};

enum {
	/* Keep the compiled step trees (for show).  Without it only the needs,
	 * subpackage conditions and files are kept, in strings of their own, so
	 * the result does not point into the recipe. */
	RPL_COMPILE_STEPS = 1,
};

/*
 * The most steps one compile (a recipe for one arch: main, subpackage and
 * test pipelines, every `uses:` expanded) may make.  Wolfi's most is 357.
 */
#define RPL_COMPILE_MAX_STEPS 20000

/*
 * Compiles `r` for `arch` (an apk arch name).  Returns 0, or -RPL_ESCHEMA /
 * -RPL_ESUBST / -RPL_ENOTFOUND with a "file:line:col: ..." message.
 * rpl_compiled_release() must be called in both cases.
 */
int rpl_compile(const struct rpl_recipe *r, const struct rpl_pipeline_lib *lib, const char *arch,
                unsigned flags, struct rpl_compiled *out);
void rpl_compiled_release(struct rpl_compiled *c);

/* GNU and Rust target triplets for an apk arch ("x86_64-pc-linux-gnu"). */
const char *rpl_arch_triplet(const char *arch, int rust, int musl);
/* Go's name for an apk arch ("amd64"). */
const char *rpl_arch_goarch(const char *arch);

#endif
