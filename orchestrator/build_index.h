/*
 * The output repositories of `ripple build` and the records of the jobs
 * that built into them (orchestrator/build_index.c): indexes written in
 * batches, a package recorded as built only once the index on disk lists
 * it, and the repositories checked against the records.
 */
#ifndef RPL_BUILD_INDEX_H
#define RPL_BUILD_INDEX_H

struct bjob;
struct build;

/*
 * A job's outputs are in place: a package's apks go into its arch's index,
 * and it is recorded as built when the index is written (at once when
 * other jobs wait for it, or a second has passed since the last write);
 * other jobs are recorded at once.  Returns 0 or an error: the job failed
 * and is not recorded.
 */
int rpl_build_job_built(struct build *b, struct bjob *j);

/*
 * Writes the indexes that changed: all of them (`all`), or those last
 * written a second ago or more, and records the packages they were
 * waiting to show.  Returns 0, or -1 when one could not be written or
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
