/*
 * The report of a run as one self-contained HTML page (the nightly
 * report): inline CSS and a few lines of inline JS (sorting and filtering
 * the table of jobs), nothing loaded from anywhere.  It shows the run's
 * counts, a timeline of every job per lane with the critical path drawn
 * over it, each failure with the end of its log, the skipped jobs grouped
 * by the failure they waited on, the critical path, the jobs slower than
 * their previous build, and every job with its duration against its
 * previous build.  docs/build.md describes it.
 *
 * The page is linear in the jobs (a bar, a table row and a link each; no
 * per-pair work in C or in the page's script): about 0.4 kB per job, so a
 * Wolfi nightly of 7,000 jobs is a page of a few megabytes.  Log tails
 * share a budget (4 MiB) so that a run where everything failed stays
 * readable too.
 */
#ifndef RPL_REPORT_HTML_H
#define RPL_REPORT_HTML_H

#include <stdint.h>

struct rpl_report;
struct rpl_state;
struct rpl_strbuf;

/*
 * Appends the page of `r` to `out`.  Log files are read relative to the
 * current directory (the monorepo root: the records name them so).
 */
void rpl_report_html(const struct rpl_report *r, struct rpl_strbuf *out);

/*
 * Writes the page of run `run` of the store (the last run when 0) to
 * `path`, through a temporary file and a rename.  Returns 0, or an error
 * with its message (-ENOENT: no such run).
 */
int rpl_report_html_write(struct rpl_state *st, int64_t run, const char *path);

#endif
