/*
 * A run as people read it: what `ripple history RUN` prints and what the
 * HTML report (orchestrator/report_html.h) draws.  It is made from the
 * state store's records of the run alone (rpl_state_run_read), so the
 * report of a run made a week later is the page its build wrote at its end.
 *
 * The end of a build adds to those records what only the whole run knows
 * (rpl_report_record): the lane each job ran in, the failure each skipped
 * job waited on, and the critical path.
 */
#ifndef RPL_REPORT_H
#define RPL_REPORT_H

#include "orchestrator/state.h"

#include <stddef.h>
#include <stdint.h>

struct rpl_sched;
struct json_t;

/* Skipped jobs that waited on one failure. */
struct rpl_report_group {
	/* The failed job, or NULL when the run did not record it (a run from
	 * before schema 5): then the skips are grouped by their message. */
	const struct rpl_run_row *cause;
	const char *why; /* the skips' message ("waiting on b (x86_64) failed") */
	const struct rpl_run_row **jobs;
	size_t njobs;
};

struct rpl_report {
	struct rpl_run run; /* the records; each row's slot is filled in */
	size_t nlanes;      /* lanes used: at most the run's -j */
	int lanes_derived;  /* 1: not recorded, worked out from start and end times */
	int64_t t0, t1;     /* the first start and the last end, ns (0 when nothing ran) */
	size_t ok, failed, skipped, cancelled, not_run;
	double work;                         /* the sum of the durations of the jobs that ran */
	const struct rpl_run_row **failures; /* failed or timed out, in start order */
	size_t nfailures;
	struct rpl_report_group *groups; /* the largest first */
	size_t ngroups;
	const struct rpl_run_row **path; /* the critical path, first job first */
	size_t npath;
	double path_seconds;
	const struct rpl_report_group **by_row; /* a failed row's group, by row index */
};

/*
 * Reads run `run` (the last one when 0) into `r`.  Returns 1, 0 when there
 * is no such run, or an error with its message; `r` is to be released with
 * rpl_report_release in every case.
 */
int rpl_report_load(struct rpl_state *st, int64_t run, struct rpl_report *r);
void rpl_report_release(struct rpl_report *r);

/* The group of skips that `failure` (a row of r->run) caused, or NULL. */
const struct rpl_report_group *rpl_report_group_of(const struct rpl_report *r,
                                                   const struct rpl_run_row *failure);

/*
 * The run as JSON (`ripple history RUN --json`): {"run", "summary",
 * "lanes", "critical_path", "jobs", "failures", "skipped"}; docs/build.md
 * lists the fields.  A new reference.
 */
struct json_t *rpl_report_json(const struct rpl_report *r);

/*
 * At the end of a build: writes each job's lane, a skipped job's cause and
 * the critical path of the run `run` just scheduled by `s` into its
 * run_job rows, in one transaction.  Returns 0 or an error.
 */
int rpl_report_record(struct rpl_state *st, int64_t run, const struct rpl_sched *s);

/*
 * Lanes for n intervals [start[i], end[i]) (start 0: never ran, lane -1):
 * each interval takes the lowest lane free when it starts, in start order,
 * as a scheduler of `-j` lanes would give them, so no more lanes are used
 * than were ever busy at once.  Returns the number of lanes.  O(n log n).
 */
size_t rpl_report_lanes(size_t n, const int64_t *start, const int64_t *end, int64_t *lane);

/* "0.4s", "1m02s", "3h05m". */
void rpl_report_fmt_secs(double s, char *buf, size_t n);

#endif
