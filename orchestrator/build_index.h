/*
 * The output repositories of `ripple build` and the records of the jobs
 * that built into them (orchestrator/build_index.c): indexes written in
 * batches, a package recorded as built only once the index on disk lists
 * it, and the repositories checked against the records.
 */
#ifndef RPL_BUILD_INDEX_H
#define RPL_BUILD_INDEX_H

#include <stdint.h>

struct bjob;
struct build;

/*
 * A job's outputs are in place: a package's apks go into its arch's index,
 * and it is recorded as built when the index is written (at once when
 * other jobs wait for it, else when rpl_build_flush_due says); other jobs
 * are recorded at once.  Returns 0 or an error: the job failed and is not
 * recorded.
 */
int rpl_build_job_built(struct build *b, struct bjob *j);

/*
 * Whether an index last written at `flushed_ns`, a write that took
 * `write_ns`, is to be written again at `now` for no job's sake: a second
 * after the last write, or ten times as long as it took when that is
 * longer (a large index), so that writing it stays a small part of the
 * run.  Returns 1 or 0.
 */
int rpl_build_flush_due(int64_t now, int64_t flushed_ns, int64_t write_ns);

/*
 * Queues the run_job row of a job that ended (`status`: "ok", "failed",
 * "skipped", ...) for the next write: the transaction of the next index
 * write, else rpl_build_indexes_flush once a second, and the end of the
 * run (rpl_build_rows_flush).  `j` stays the caller's; nothing is queued
 * in a dry run.
 */
void rpl_build_run_row(struct build *b, const struct bjob *j, const char *status);

/* Writes the queued run_job rows in one transaction.  Returns 0, or -1 (warned). */
int rpl_build_rows_flush(struct build *b);

/*
 * Writes the indexes that changed: all of them (`all`), or those whose
 * turn has come (rpl_build_flush_due), and records the packages they were
 * waiting to show; with them, or when a second has passed (or `all`), the
 * queued run_job rows.  Returns 0, or -1 when one could not be written or
 * recorded (warned).
 */
int rpl_build_indexes_flush(struct build *b, int all);

/*
 * Makes every output repository describe exactly its apks, and the job
 * records agree with them: before a run every packages/<arch>/ and every
 * dir the store knows; after it (`after_run`) those where a package job
 * failed or was stopped.  Returns 1 when anything was not as recorded, 0
 * when all was, -1 on an error (warned).
 */
int rpl_build_repos_check(struct build *b, int after_run);

/* Closes the indexes (written or not) and forgets them. */
void rpl_build_indexes_release(struct build *b);

#endif
