/*
 * The content-addressed artifact cache (docs/distributed.md#the-artifact-cache): every built job's
 * outputs (apks, an image's blobs, apko's tarball) stored under the job's
 * input hash, in `.ripple/cache` and, when `.ripple.yaml` names one, in a
 * repository of an OCI registry (`cache: REGISTRY/REPO`), as an OCI
 * artifact manifest whose layers are the files, tagged with the hash in
 * hex (ORAS's shape).  What comes back is checked before any of it is
 * written where a build would: the manifest's digest, each layer's sha256,
 * the artifact's signature and, for apks, each package's own signature and
 * data hash, against the trusted public keys.
 */
#ifndef RPL_ARTIFACT_CACHE_H
#define RPL_ARTIFACT_CACHE_H

#include "common/sha256.h"

#include <stddef.h>
#include <stdint.h>

struct rpl_signer;
struct rpl_cache;

#define RPL_CACHE_DIR ".ripple/cache"
#define RPL_CACHE_ARTIFACT_TYPE "application/vnd.ripple.job.v1"

struct rpl_cache_opts {
	const char *dir;                 /* the local cache: RPL_CACHE_DIR */
	const char *remote;              /* REGISTRY/REPO, or NULL */
	const struct rpl_signer *signer; /* signs what is stored; NULL: nothing is */
	char *const *keys;               /* PEM public keys an artifact may be signed by */
	size_t nkeys;
	const char *tag; /* of native images in their layouts: "latest" */
};

/* One job's entry: what it is, its key and the files it makes (root-relative). */
struct rpl_cache_item {
	const char *kind; /* "package" or "image" */
	const char *name, *arch;
	uint8_t key[RPL_SHA256_LEN]; /* the job's input hash */
	char *const *outputs;        /* a package's apks; an image's <arch>.manifest or .tar */
	size_t noutputs;
	/* How long its build took: given to rpl_cache_store, kept as an
	 * annotation (not signed: it only orders later builds), set by
	 * rpl_cache_fetch (0 when the entry has none). */
	double seconds;
};

/* A cache with `o`'s settings (its strings are copied).  Never NULL. */
struct rpl_cache *rpl_cache_new(const struct rpl_cache_opts *o);
void rpl_cache_free(struct rpl_cache *c);

/* Whether anything can be stored (a signer) and fetched (a trusted key). */
int rpl_cache_can_store(const struct rpl_cache *c);
int rpl_cache_can_fetch(const struct rpl_cache *c);

/*
 * Puts `it`'s artifact in place: from the local cache, else from the
 * registry (and then into the local cache as well).  Returns 1 when its
 * files are where the job would have written them (*where: "local" or the
 * registry's REGISTRY/REPO), 0 when no copy was there or usable, or an
 * error when one could not be read.  A copy that was found and refused (a
 * digest, a signature or a package that does not check out) puts nothing
 * in place: why is in *refused (malloc'd, NULL when none was), and the
 * next source is tried.  Calls on different items may run on different
 * threads at once.
 */
int rpl_cache_fetch(struct rpl_cache *c, struct rpl_cache_item *it, const char **where,
                    char **refused);

/*
 * Stores the outputs of a job that was just built: into the local cache,
 * then into the registry.  Returns 0 or an error (the build stands; the
 * entry is missing or only local).
 */
int rpl_cache_store(struct rpl_cache *c, const struct rpl_cache_item *it);

/*
 * The text an artifact's signature covers: "ripple artifact 1", the key
 * in hex, "kind name arch", the image manifest's digest ("-" when none),
 * then "digest size title" per layer, a line each.  Malloc'd.
 */
struct rpl_cache_layer {
	const char *title, *digest;
	uint64_t size;
};
char *rpl_cache_statement(const struct rpl_cache_item *it, const char *manifest,
                          const struct rpl_cache_layer *layers, size_t n);

#endif
