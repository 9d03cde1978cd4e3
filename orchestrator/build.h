/*
 * One `ripple build` run, as the pieces of the command share it: the
 * command itself (orchestrator/cmd_build.c), the output repositories and
 * the records of built jobs (build_index.h), the --events, --report and
 * --junit writers (build_events.h) and what a terminal shows
 * (build_status.h).  Nothing outside `ripple build` includes it.
 */
#ifndef RPL_BUILD_H
#define RPL_BUILD_H

#include "orchestrator/progress.h"
#include "orchestrator/sched.h"
#include "orchestrator/selectors.h"
#include "orchestrator/status_line.h"
#include "runners/repo.h"

#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

struct rpl_cache;
struct rpl_plan;
struct rpl_repo_index;
struct rpl_scan;
struct rpl_state;

/* The command line of `ripple build`. */
struct bopts {
	struct popts sel;
	long jobs, arch_jobs, retries;
	double timeout;
	int keep_going; /* -1: the default (on with --all) */
	int dry_run, test, verbose, no_cache;
	long keep_runs; /* -1: .ripple.yaml's, else RPL_KEEP_RUNS_DEFAULT */
	const char *runner, *container_runner, *signing_key;
	const char *events, *report, *junit, *push;
	const char *report_html;
	const char *executor; /* NULL: .ripple.yaml's, else local */
	char **runner_args, **apko_args, **repos, **keyrings;
	size_t nrunner_args, napko_args, nrepos, nkeyrings;
};

/* A selected job of the plan as the run knows it (the scheduler's `user`). */
struct bjob {
	struct rpl_job *plan;
	struct rpl_sched_job *sj;
	char **outputs;
	size_t noutputs;
	char *file, *source_dir, *log;
	char *cached;          /* fetched from the artifact cache: where ("local", REGISTRY/REPO) */
	double cached_seconds; /* ... and how long its build took there (0: not known) */
	int unindexed;         /* ran, and its apks (if it wrote any) were not indexed */
};

/* The output repository of one arch dir, kept in memory for the run (build_index.h). */
struct out_index {
	char *dir;
	struct rpl_repo_index *ix;
	int64_t flushed_ns;
	int64_t write_ns;      /* how long its last write took, with its records */
	struct bjob **pending; /* merged, to be recorded once written */
	size_t npending, pending_alloc;
	int checking; /* by this check */
	int compared; /* by the last check, whole (rpl_repo_check) */
};

struct build {
	struct bopts *o;
	struct rpl_state *st;
	struct rpl_scan *scan;
	struct rpl_plan *p;
	struct rpl_sched *sched;
	struct rpl_signer signer;
	int have_signer;
	int64_t run;
	struct bjob *jobs;
	size_t njobs, done, up_to_date, cached;
	struct rpl_cache *cache; /* NULL: --no-cache */
	FILE *events;
	int tty;                     /* a smart terminal: a status line, no "start" lines */
	struct rpl_status_line line; /* orchestrator/status_line.h */
	int64_t drawn_ns;            /* when its figures were last made */
	struct rpl_progress_pub pub; /* what `ripple status` reads */
	int native_image;            /* images assembled by ripple: their outputs differ */
	int64_t started_ns;
	/* The output repositories, one per arch dir, kept in memory for the run
	 * and written when a job is about to need them or a second has passed. */
	struct out_index *indexes;
	size_t nindexes;
	char root[PATH_MAX]; /* the monorepo, absolute: the tag of this run's processes */
	size_t rebuilt;      /* job records the check found untrue */
	/* What the run did with each job that ended (its run_job rows), written
	 * in batches (build_index.h). */
	struct run_row {
		const struct bjob *j;
		const char *status;
	} * rows;
	size_t nrows, rows_alloc;
	int64_t rows_ns; /* when they were last written */
};

static inline int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Seconds from `a` to `b` (0 when `b` is not later: a job that never started). */
static inline double secs(int64_t a, int64_t b)
{
	return b > a ? (double)(b - a) / 1e9 : 0;
}

static inline struct bjob *bjob_of(struct build *b, const struct rpl_sched_job *sj)
{
	(void)b;
	return sj->user;
}

#endif
