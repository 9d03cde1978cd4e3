/*
 * `.ripple.yaml` at the monorepo root: settings that belong to the repo, not
 * to one user.  Every key is optional:
 *
 *   archs: [x86_64, aarch64]        default architectures (else the host's)
 *   pipeline-dirs: [pipelines]      searched before the built-ins, in order
 *   env-files: [build-common.env, build-${{build.arch}}.env]
 *   images: [images/STAR.apko.yaml]  globs of apko configs, besides detection (STAR = *)
 *   exclude: [scratch/STAR]          globs of files the scan skips
 *   signing-key: local.rsa           signs packages and indexes (made when missing)
 *   source-mirrors:                  fetch URLs under a prefix from a mirror
 *     https://example.org/src/: sources/    (a directory or URL) first
 *   max-extract-size: 64G            what one source archive may unpack to
 *   max-extract-ratio: 100           ... per byte of archive (past 1 GiB)
 *   sysroots:                        the native builder's root filesystem per arch,
 *     aarch64: /srv/sysroot/aarch64  needed to build one that is not the host's
 *                                    (runners/emulate.h); root-relative or absolute
 *   cache: ghcr.io/acme/ripple-cache  the artifact cache's registry repository, besides
 *                                    .ripple/cache (docs/distributed.md#the-artifact-cache)
 *   trusted-keys: [keys/ci.rsa.pub]   public keys whose signatures a cached artifact may
 *                                    carry, besides the signing key's own
 *   executor: slurm                  where jobs run: local (default) or slurm
 *   slurm:                           the Slurm executor (docs/distributed.md)
 *     partitions: {x86_64: amd64, aarch64: arm64}   partition per arch
 *     cpu: "1"                       per job without `resources:` (default 1)
 *     memory: 4Gi                    ... (default: the cluster's)
 *     args: [--account=builds]       more srun arguments
 */
#ifndef RPL_REPOCONFIG_H
#define RPL_REPOCONFIG_H

#include "common/arena.h"
#include "common/sha256.h"
#include "recipes/decode.h"

#include <stdint.h>

#define RPL_REPOCONFIG_FILE ".ripple.yaml"

struct rpl_repoconfig_slurm {
	struct rpl_kvlist partitions; /* arch (apk's name) -> partition */
	struct rpl_text cpu, memory;
	struct rpl_textlist args;
};

struct rpl_repoconfig {
	struct rpl_arena arena;
	int present;               /* the file exists */
	struct rpl_textlist archs; /* apk names after normalisation */
	struct rpl_textlist pipeline_dirs;
	struct rpl_textlist env_files;
	struct rpl_textlist images;
	struct rpl_textlist exclude;
	/* For `ripple build`: the key that signs packages and indexes, and
	 * arguments for every melange and apko command. */
	struct rpl_text signing_key;
	struct rpl_textlist melange_args, apko_args;
	struct rpl_kvlist source_mirrors; /* URL prefix -> directory (root-relative) or URL */
	/* The native builder's unpacking limits (runners/extract.h); 0: defaults. */
	struct rpl_text max_extract_size_text;
	uint64_t max_extract_size, max_extract_ratio;
	struct rpl_kvlist sysroots; /* apk arch (normalised) -> directory */
	/* The artifact cache (orchestrator/artifact_cache.h): REGISTRY/REPO or
	 * unset, and the public keys (root-relative paths) it trusts. */
	struct rpl_text cache;
	struct rpl_textlist trusted_keys;
	struct rpl_text executor; /* "local" or "slurm"; empty when absent */
	/* How many ended runs `ripple build` keeps (orchestrator/prune.h); 0
	 * all of them, -1 not set. */
	struct rpl_text keep_runs_text;
	long keep_runs;
	struct rpl_repoconfig_slurm slurm;
	uint8_t digest[RPL_SHA256_LEN]; /* of the file's text; zeros when absent */
};

/*
 * Reads `<root>/.ripple.yaml` if it exists and fills defaults (pipeline dirs
 * ["pipelines"], env files [build-common.env, build-${{build.arch}}.env]).
 * Returns 0 or an error with a "file:line:col: ..." message.
 */
int rpl_repoconfig_load(struct rpl_repoconfig *cfg, const char *root);
void rpl_repoconfig_release(struct rpl_repoconfig *cfg);

/*
 * Reads a size: bytes, or a number with K, M, G, T or P (powers of 1024;
 * "64G", "64GiB", "64GB" alike).  Returns 0 or -RPL_EUSAGE.
 */
int rpl_parse_size(const char *s, uint64_t *out);

/*
 * The sysroot `cfg` names for `arch` (an apk name), or NULL; where it is
 * set (".ripple.yaml:LINE:COL") goes into `origin` (`size` bytes).
 */
const char *rpl_repoconfig_sysroot(const struct rpl_repoconfig *cfg, const char *arch, char *origin,
                                   size_t size);

/* The host's architecture as an apk name (x86_64, aarch64, ...). */
const char *rpl_host_arch(void);

#endif
