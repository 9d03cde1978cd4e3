/*
 * A client of one repository of an OCI distribution registry (common/http.h),
 * shared by `ripple push` (runners/push.c) and the artifact cache
 * (orchestrator/artifact_cache.c): blobs by digest, manifests by tag or
 * digest.  Credentials come from ~/.docker/config.json
 * (`auths.<host>.auth`, base64 user:password; $DOCKER_CONFIG names another
 * directory): sent as Basic, or traded for a bearer token when the
 * registry asks for one (WWW-Authenticate: Bearer realm=...,service=...).
 * 127.0.0.1, localhost and ::1 are spoken to over plain http, anything
 * else over https.  One client is used by one thread at a time.  A
 * request that got no answer at all (no connection, a timeout) fails with
 * -EIO; an answer that refuses, with -RPL_ELIB and the HTTP status.
 */
#ifndef RPL_REGISTRY_H
#define RPL_REGISTRY_H

#include <stddef.h>

#define RPL_MEDIA_OCI_INDEX "application/vnd.oci.image.index.v1+json"
#define RPL_MEDIA_OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"

struct rpl_registry;

/*
 * A client for `repo` on `host` (host[:port]).  `what` starts each of its
 * messages ("push", "cache").  Returns a client (never NULL); nothing is
 * sent yet.
 */
struct rpl_registry *rpl_registry_new(const char *what, const char *host, const char *repo);
void rpl_registry_free(struct rpl_registry *g);

/* "sha256:" and 64 lowercase hex digits: nothing else names a file or a URL. */
int rpl_registry_valid_digest(const char *digest);

/* Whether the blob `digest` is there: 1, 0, or an error. */
int rpl_registry_blob_exists(struct rpl_registry *g, const char *digest);

/*
 * Uploads the `len` bytes of `data` as the blob `digest` unless the registry
 * has it (HEAD, then monolithic: POST, PUT).
 */
int rpl_registry_blob_put(struct rpl_registry *g, const char *digest, const void *data, size_t len);

/* The same without asking first: the caller knows the registry lacks it. */
int rpl_registry_blob_upload(struct rpl_registry *g, const char *digest, const void *data,
                             size_t len);

/*
 * Downloads the blob `digest`, at most `max` bytes, into *data (malloc'd)
 * and *len, and checks that its bytes have that digest.  Returns 0,
 * -RPL_ENOTFOUND when the registry has no such blob, or an error.
 */
int rpl_registry_blob_get(struct rpl_registry *g, const char *digest, size_t max, char **data,
                          size_t *len);

/* PUTs a manifest or index `data` of type `media` under `ref` (a tag or its digest). */
int rpl_registry_manifest_put(struct rpl_registry *g, const char *ref, const char *media,
                              const void *data, size_t len);

/*
 * GETs the manifest `ref` (a tag or a digest), at most `max` bytes: *data
 * (malloc'd), *len, and in `digest` the sha256 of its bytes
 * ("sha256:..."), which must be `ref` when `ref` is a digest and the
 * registry's Docker-Content-Digest when it gives one.  Returns 0,
 * -RPL_ENOTFOUND when there is none, or an error.
 */
int rpl_registry_manifest_get(struct rpl_registry *g, const char *ref, size_t max, char **data,
                              size_t *len, char digest[80]);

#endif
