/*
 * What `ripple build` shows as it runs (orchestrator/build_status.c): the
 * status line of a smart terminal, the file `ripple status` reads, and the
 * lines printed above the status line.
 */
#ifndef RPL_BUILD_STATUS_H
#define RPL_BUILD_STATUS_H

#include <stddef.h>

struct build;
struct rpl_sched_job;
struct rpl_sched_result;

/* "" for a package job, "image " for an image job: the lines say "image foo". */
const char *rpl_build_kind_prefix(const struct rpl_sched_job *sj);

/*
 * After any change: the status line ("[done/total elapsed ETA failed] N
 * running: what, for how long") and the file `ripple status` reads (a
 * failure to write it is warned).  Nothing before the run has begun.
 */
void rpl_build_status_show(struct build *b);

/* Clears the status line, so that what follows is printed in its place. */
void rpl_build_status_clear(struct build *b);

/* Prints a line (printf's `fmt`, without the newline) above the status line. */
void rpl_build_say(struct build *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The last `lines` lines of the log at `path`, indented, after a failure (nothing if unread). */
void rpl_build_log_tail(struct build *b, const char *path, size_t lines);

/*
 * The run's first line: its number, its jobs (`npkg` packages, `nimg`
 * images), how many were up to date, where the logs go.
 */
void rpl_build_print_start(struct build *b, size_t npkg, size_t nimg);

/*
 * The run's last lines: what was built, fetched, failed, skipped and not
 * finished, in how long, the critical path, the skipped jobs summed up by
 * the failure they waited on, and what to do after an interruption.
 */
void rpl_build_print_summary(struct build *b, const struct rpl_sched_result *res);

#endif
