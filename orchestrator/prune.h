/*
 * Old runs forgotten: after each `ripple build`, every ended run but the
 * newest `keep` loses its rows (run, run_job: `ripple history`, the
 * reports) and its logs (.ripple/logs/<run>/), so that a nightly of
 * 50,000 jobs does not grow the state and the disk without end.  The log
 * a job record names (its last build's: a failure's stays until the job
 * builds again) is kept wherever it is; a log directory of a run the
 * store no longer knows (left by a prune that was interrupted, or by a
 * store made again) goes the same way.  A run still marked running is
 * never forgotten.
 */
#ifndef RPL_PRUNE_H
#define RPL_PRUNE_H

#include <stddef.h>
#include <stdint.h>

struct rpl_state;

/* What .ripple.yaml's `keep-runs:` and `--keep-runs` default to. */
#define RPL_KEEP_RUNS_DEFAULT 30

struct rpl_prune_result {
	size_t runs;    /* forgotten */
	size_t logs;    /* log files removed */
	uint64_t bytes; /* their size */
};

/*
 * Forgets the ended runs older than the newest `keep` (0: none) and removes
 * their logs under `root`/.ripple/logs, the logs of job records excepted.
 * The caller holds the lock.  Returns 0 or an error (what was removed
 * before it is counted in `res`).
 */
int rpl_prune_runs(struct rpl_state *st, const char *root, size_t keep,
                   struct rpl_prune_result *res);

#endif
