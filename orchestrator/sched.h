/*
 * The scheduler: runs jobs on a libuv loop through a runner, dependencies
 * first, as many at once as allowed.
 *
 * Ready jobs wait in one queue per arch ordered by critical path: a job's
 * priority is its estimated duration plus the longest chain of estimates of
 * what waits on it, so the long chains start first.  At most `jobs` run at
 * once, and at most `arch_jobs` of one arch.  A job that fails makes every
 * job that needs it, transitively, skipped ("waiting on bar (x86_64)
 * failed"); the others go on (`keep_going`), or no new job starts.  A runner
 * crash is retried `retries` times.  SIGINT or SIGTERM stops every running
 * job (a second one kills them at once) and the run ends as interrupted.
 *
 * The caller adds jobs and their dependencies, then runs.  A dependency
 * either needs the other job's success (rpl_sched_dep) or only waits for it
 * to end (rpl_sched_after: a member of a dependency cycle that builds
 * against an earlier member can fall back to the copy a repository already
 * holds).  Its callbacks see each start, finish and skip; `finished` may
 * still turn a success into a failure (an output that cannot be indexed,
 * say).
 */
#ifndef RPL_SCHED_H
#define RPL_SCHED_H

#include "runners/runner.h"

#include <stddef.h>
#include <stdint.h>

enum rpl_sched_state {
	RPL_SCHED_PENDING, /* waiting on dependencies */
	RPL_SCHED_READY,
	RPL_SCHED_RUNNING,
	RPL_SCHED_OK,
	RPL_SCHED_FAILED, /* failed, timed out or crashed past its retries */
	RPL_SCHED_SKIPPED,
	RPL_SCHED_CANCELLED, /* stopped by an interrupt */
	RPL_SCHED_NOT_RUN,   /* never started: the run stopped first */
};

const char *rpl_sched_state_name(enum rpl_sched_state s);

struct rpl_sched_job {
	struct rpl_run_job run; /* what the runner sees */
	void *user;             /* the caller's */
	double estimate;        /* seconds */
	double priority;        /* estimate + the longest chain after it */
	enum rpl_sched_state state;
	enum rpl_run_status status; /* of the last attempt */
	int attempts;
	int64_t started_ns, finished_ns; /* wall clock, of the last attempt */
	/* Why it failed or was skipped; for a success, the jobs it waited for
	 * with rpl_sched_after that did not succeed ("built against the
	 * repository's copy of bar (x86_64), which failed"). */
	char *message;

	/* internal */
	struct rpl_sched_job **deps, **rdeps;
	unsigned char *rdeps_after; /* per rdep: it only waits for this job to end */
	size_t ndeps, nrdeps, deps_alloc, rdeps_alloc, rdeps_after_alloc;
	char *fallback; /* the message a success keeps */
	size_t waiting;
	size_t arch_index;
	size_t heap_at;
	size_t index; /* in the order added */
};

struct rpl_sched;

struct rpl_sched_hooks {
	void (*started)(void *ctx, struct rpl_sched_job *j);
	/* A job ended (any state but skipped).  For a success, returning
	 * non-zero with j->message set makes it a failure. */
	int (*finished)(void *ctx, struct rpl_sched_job *j);
	void (*skipped)(void *ctx, struct rpl_sched_job *j);
	void (*tick)(void *ctx); /* about once a second */
	void *ctx;
};

struct rpl_sched_opts {
	size_t jobs;      /* at once; 0: 1 */
	size_t arch_jobs; /* at once per arch; 0: no limit but `jobs` */
	int keep_going;
	int retries;
};

struct rpl_sched *rpl_sched_new(struct rpl_runner *runner, const struct rpl_sched_opts *o,
                                const struct rpl_sched_hooks *hooks);
void rpl_sched_free(struct rpl_sched *s);

/* A new job of `arch`, in state pending; the caller fills run, user, estimate. */
struct rpl_sched_job *rpl_sched_add(struct rpl_sched *s, const char *arch);
/* `job` starts only after `dep` succeeded, and is skipped when `dep` does not. */
void rpl_sched_dep(struct rpl_sched *s, struct rpl_sched_job *job, struct rpl_sched_job *dep);
/*
 * `job` starts only after `dep` ended, however it ended: when `dep` failed
 * or was skipped, `job` runs all the same (against an older copy of what
 * `dep` makes) and says so in its message.  A pair also added with
 * rpl_sched_dep needs the success.
 */
void rpl_sched_after(struct rpl_sched *s, struct rpl_sched_job *job, struct rpl_sched_job *dep);

struct rpl_sched_result {
	size_t ok, failed, skipped, cancelled, not_run;
	int interrupted; /* by a signal */
	double seconds;  /* wall time of the run */
};

/*
 * Runs every job to an end state.  Returns 0 (see `res` for how it went)
 * or an error (a dependency cycle, no event loop).
 */
int rpl_sched_run(struct rpl_sched *s, struct rpl_sched_result *res);

/* The jobs, in the order they were added. */
struct rpl_sched_job *const *rpl_sched_jobs(const struct rpl_sched *s, size_t *n);

/*
 * The chain of jobs that took longest end to end in this run (by measured
 * durations of jobs that ran, through their dependencies): a malloc'd array,
 * dependencies first, and its total in *seconds.
 */
struct rpl_sched_job **rpl_sched_critical_path(const struct rpl_sched *s, size_t *n,
                                               double *seconds);

#endif
