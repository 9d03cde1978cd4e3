/*
 * The native package builder: one melange recipe built for one arch by
 * ripple itself, without melange.
 *
 * The recipe is compiled with its steps (recipes/pipeline.h); the
 * workspace (.ripple/work/<arch>/<name>, seen as /home/build) gets the
 * source dir's files and an output tree per (sub)package under
 * melange-out/.  Steps run in order, the main pipeline then each enabled
 * subpackage's, each as `/bin/sh -c` in a bubblewrap sandbox: no network,
 * the host's root read-only, the workspace writable, /tmp private.  `fetch`
 * and `git-checkout` are done by ripple outside the sandbox (common/http.h with
 * the digests checked and a content-addressed cache in .ripple/cache;
 * libgit2 with the expected commit checked).  Build needs that a package of
 * packages/<arch> provides are installed (their data sections unpacked)
 * under /usr/local in the sandbox, where compilers, the linker, pkg-config
 * and the loader look by default — bubblewrap 0.8 has no overlay to put
 * them under /usr; every other need is taken from the host, and the log
 * says which.  Then each tree gets its SBOM (runners/sbom.h) and becomes a
 * package (runners/apkwrite.h) carrying what melange's carry: the commit
 * (the recipe's `commit`, else its repository's HEAD: runners/provenance.h),
 * the maintainer (the namespace) and .melange.yaml (runners/melangeyaml.h).
 *
 * Another arch than the host's builds under emulation (qemu-user through
 * binfmt_misc), its steps in that arch's sysroot (runners/emulate.h); one
 * this machine cannot run is refused before anything starts.
 *
 * It runs as its own process (`ripple native-build`), so the scheduler
 * treats it like any external runner: a process group, a log, a timeout.
 */
#ifndef RPL_NATIVE_H
#define RPL_NATIVE_H

#include <stddef.h>
#include <stdint.h>

struct rpl_native_opts {
	const char *file; /* the recipe, relative to the root (the cwd) */
	const char *arch;
	const char *out_dir;     /* "packages" */
	const char *source_dir;  /* NULL: the recipe's (`<name>/` or its own dir) */
	const char *signing_key; /* or NULL */
	char *const *env_files;
	size_t nenv_files;
	char *const *pipeline_dirs;
	size_t npipeline_dirs;
	const char *state_dir;     /* ".ripple": work/ and cache/ go there */
	int64_t source_date_epoch; /* < 0: $SOURCE_DATE_EPOCH, else the recipe's last commit */
	/* fetch: a uri starting with mirror_from[i] is first fetched from
	 * mirror_to[i] + the rest (a directory, relative to the cwd, or a URL). */
	char *const *mirror_from, *const *mirror_to;
	size_t nmirrors;
	int test; /* then run each written package's test pipeline, as melange test does */
	/* melange's --namespace: the packages' `maintainer`, their SBOMs' purl
	 * namespace and supplier; NULL or "": "unknown", melange's default. */
	const char *namespace;
	/* Unpacking limits (runners/extract.h); 0: the defaults. */
	uint64_t max_extract_size, max_extract_ratio;
	/* The root filesystem the steps see instead of the host's (required for
	 * an arch that is not the host's: runners/emulate.h), or NULL; and where
	 * it was set, for messages (NULL: "--sysroot"). */
	const char *sysroot, *sysroot_origin;
};

/* Builds; progress and step output go to stdout and stderr.  Returns 0 or an error. */
int rpl_native_build(const struct rpl_native_opts *o);

/* Downloads `uri` into the cache unless there; returns its cached path (malloc'd).
 * Defined with the fetch step, in runners/fetch.c. */
int rpl_fetch_cached(const char *cache_dir, const char *uri, const char *sha256, const char *sha512,
                     char **path);

#endif
