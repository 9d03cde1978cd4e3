/*
 * What `ripple build` writes for programs (orchestrator/build_events.c):
 * --events, --report and --junit.
 */
#ifndef RPL_BUILD_EVENTS_H
#define RPL_BUILD_EVENTS_H

#include <jansson.h>

struct bjob;
struct build;
struct rpl_sched_result;

/*
 * Writes the event `e` (it takes the reference) as one line of the
 * --events file, with the time added, and flushes it; without --events it
 * only drops `e`.
 */
void rpl_build_event(struct build *b, json_t *e);

/* {"name", "kind", "arch"} of a job: new reference. */
json_t *rpl_build_job_json(const struct bjob *j);

/* The "plan" event: the run and its jobs, before any starts. */
void rpl_build_event_plan(struct build *b);

/* The "end" event: the run's `status` and what its jobs came to. */
void rpl_build_event_end(struct build *b, const struct rpl_sched_result *res, const char *status);

/*
 * The run as JSON (--report): every job with its status, reasons, time,
 * attempts, log and cache, the summary and the critical path, written to
 * `path` atomically.  Returns 0 or an error (reported through rpl_error).
 */
int rpl_build_write_report(struct build *b, const struct rpl_sched_result *res, const char *status,
                           const char *path);

/*
 * The same as JUnit XML (--junit): a testcase per job, a failure with the
 * last 8 kB of its log, the jobs that did not finish as skipped.  Returns
 * 0 or an error.
 */
int rpl_build_write_junit(struct build *b, const struct rpl_sched_result *res, const char *path);

#endif
