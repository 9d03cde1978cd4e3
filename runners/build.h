/*
 * One native package build's state (runners/native.h), shared by the files
 * of its parts: the driver (native.c), fetch (fetch.c), git-checkout
 * (gitcheckout.c), the packages installed for the steps (deps.c) and the
 * test runs (buildtest.c).  Not an interface for anything else: only the
 * native builder includes it.
 */
#ifndef RPL_BUILD_H
#define RPL_BUILD_H

#include "recipes/pipeline.h"
#include "runners/apk.h"
#include "runners/emulate.h"
#include "runners/extract.h"
#include "runners/provenance.h"
#include "runners/sandbox.h"

#include <stddef.h>
#include <stdint.h>

struct rpl_native_opts;
struct rpl_recipe;
struct rpl_kvlist;

/* An apk this build wrote, read back for its tests. */
struct rpl_built_apk {
	char *path;
	struct rpl_apk apk;
};

struct rpl_build {
	const struct rpl_native_opts *o;
	struct rpl_recipe *r;
	struct rpl_compiled c;
	struct rpl_pipeline_lib lib;
	char *text; /* the recipe's bytes */
	int have_lib, have_compiled, have_sb;
	/* The workspace (host path and directory fd), the packages installed for
	 * the steps, and the download cache. */
	char *work, *deps, *cache;
	int wsfd;
	/* The source dir copied into the workspace (or NULL), and the output
	 * tree of each package built (melange-out/<name>). */
	char *src, **trees;
	size_t ntrees;
	struct rpl_sandbox sb;
	struct rpl_emulation emu; /* how this arch runs here, and in what root */
	char *version;
	int64_t sde;
	/* The variables the steps get: the recipe's, or a test's while it runs. */
	const struct rpl_kvlist *env;
	/* Where the recipe comes from (its repository's HEAD), the packages the
	 * build had (`name=version` from the output repository, else as the
	 * recipe names them), and the .melange.yaml every package carries. */
	struct rpl_provenance prov;
	char **env_pkgs;
	size_t nenv_pkgs, aenv_pkgs;
	char *melange_yaml;
	size_t melange_yaml_len;
	/* The apks this build wrote, for its tests. */
	struct rpl_built_apk *built;
	size_t nbuilt;
};

/* The value of `key` in a step's `with` (or any variable list), or NULL. */
const char *rpl_build_with(const struct rpl_kvlist *l, const char *key);

/* Whether a `with` value says yes ("true", "yes", "1"). */
int rpl_build_truthy(const char *s);

/* The extraction limits of this build, with `strip` components and dotfiles skipped or not. */
struct rpl_extract_opts rpl_build_limits(const struct rpl_build *b, int strip, int skip_dotfiles);

/*
 * Runs `steps` and what they contain, in melange's order, in the working
 * directory `wd` (under /home/build); `from` is the pipeline they come from
 * for messages (NULL: the recipe).  Returns 0 or the first step's error.
 */
int rpl_build_run_steps(struct rpl_build *b, const struct rpl_cstep *steps, size_t n,
                        const char *wd, const char *from);

#endif
