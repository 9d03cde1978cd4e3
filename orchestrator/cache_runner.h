/*
 * A runner in front of another that consults the artifact cache
 * (orchestrator/artifact_cache.h): a job it is given is first looked up by
 * its key on a libuv worker thread; a hit puts the job's files in place
 * and the job ends as a success without the inner runner; a miss, or a
 * copy refused, starts the inner runner, and what it builds is stored
 * (also on a worker) before the job ends.  The scheduler does not know.
 */
#ifndef RPL_CACHE_RUNNER_H
#define RPL_CACHE_RUNNER_H

#include "common/sha256.h"
#include "runners/runner.h"

#include <stdint.h>

struct rpl_cache;

/* The cache entry of `job`: 0 with `key` set, 1 for a job the cache stays out of. */
typedef int (*rpl_cache_key_fn)(void *ctx, const struct rpl_run_job *job,
                                uint8_t key[RPL_SHA256_LEN]);
/*
 * `job` came from the cache at `where` ("local" or REGISTRY/REPO), built
 * elsewhere in `seconds` (0: not known); called just before its done.
 */
typedef void (*rpl_cache_hit_fn)(void *ctx, const struct rpl_run_job *job, const char *where,
                                 double seconds);

struct rpl_cache_runner_opts {
	struct rpl_runner *inner; /* owned: freed with this runner */
	struct rpl_cache *cache;  /* the caller's */
	int lookup;               /* 0: only store what is built (--force) */
	rpl_cache_key_fn key;
	rpl_cache_hit_fn hit;
	void *ctx;
};

struct rpl_runner *rpl_cache_runner_new(const struct rpl_cache_runner_opts *o);

#endif
