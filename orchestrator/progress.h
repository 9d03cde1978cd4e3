/*
 * A running build's progress: how far it is, what runs, when it should
 * end, and how its skips are summed up.  The build publishes it for
 * `ripple status` in another terminal as `.ripple/status.json`, replaced
 * whole (temporary file + rename) when jobs start and end, at most twice a
 * second, and once more at the end:
 *
 *   {"version": 1, "pid", "run", "command", "state": "running"|"ok"|
 *    "failed"|"interrupted", "started_ns", "updated_ns", "jobs" (-j),
 *    "total", "done", "ok", "failed", "skipped", "eta_seconds" (at
 *    updated_ns; null when nothing is left to estimate),
 *    "running": [{"name", "kind", "arch", "started_ns", "estimate"}]}
 *
 * A file that says "running" is true only while its pid holds the state
 * store's lock (rpl_state_holder): a build killed outright leaves it behind.
 */
#ifndef RPL_PROGRESS_H
#define RPL_PROGRESS_H

#include <stddef.h>
#include <stdint.h>

struct rpl_sched_job;
struct rpl_strbuf;
struct json_t;

#define RPL_PROGRESS_FILE ".ripple/status.json"

/* Counts of a run's jobs, from their scheduler states. */
struct rpl_progress_counts {
	size_t total, done, ok, failed, skipped, running;
};

void rpl_progress_count(struct rpl_sched_job *const *jobs, size_t n, struct rpl_progress_counts *c);

/*
 * Seconds until the run ends, from each job's estimate (its last recorded
 * duration; sched.h): the larger of the work left spread over `lanes`
 * (-j) and the longest chain of estimates still to run, a running job's
 * part shortened by how long it has run.  Returns -1 when no job is left.
 */
double rpl_progress_eta(struct rpl_sched_job *const *jobs, size_t n, size_t lanes, int64_t now_ns);

/*
 * "5 skipped: 3 waiting on b (x86_64) failed, 2 waiting on ...": the
 * skipped jobs counted by the failure they waited on, the largest first,
 * at most `max_causes` named (then "and N more causes").  Appends nothing
 * when no job was skipped.
 */
void rpl_progress_skip_summary(struct rpl_sched_job *const *jobs, size_t n, size_t max_causes,
                               struct rpl_strbuf *out);

/* What a build writes of itself (the file's fields above). */
struct rpl_progress_pub {
	int64_t run;
	const char *command;
	size_t lanes;
	int64_t started_ns;
	int64_t written_ns; /* when the file was last written */
};

/*
 * Writes RPL_PROGRESS_FILE for the run, now when `force` or when the last
 * write is half a second old, else not (a later call does: the scheduler's
 * tick comes every second).  `state` is "running"
 * until the end.  Returns 0 or an error with its message.
 */
int rpl_progress_publish(struct rpl_progress_pub *p, struct rpl_sched_job *const *jobs, size_t n,
                         const char *state, int force, int64_t now_ns);

/*
 * Reads RPL_PROGRESS_FILE of the monorepo at the current directory: 1 and
 * a new reference in *out, 0 when there is none, or an error with its
 * message (a file that is not the JSON above).
 */
int rpl_progress_read(struct json_t **out);

#endif
