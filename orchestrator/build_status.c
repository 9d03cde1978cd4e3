/*
 * What `ripple build` shows as it runs: on a smart terminal the status line
 * (orchestrator/status_line.h) with what runs and for how long, and the
 * file `ripple status` reads (orchestrator/progress.h); the lines printed
 * above it, the tail of a failed job's log, and the run's first and last
 * lines.
 */
#include "orchestrator/build_status.h"
#include "orchestrator/report.h"

#include "common/error.h"
#include "common/file.h"
#include "common/strbuf.h"
#include "common/xalloc.h"
#include "orchestrator/build.h"
#include "orchestrator/progress.h"
#include "orchestrator/sched.h"
#include "orchestrator/status_line.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *rpl_build_kind_prefix(const struct rpl_sched_job *sj)
{
	return sj->run.kind && !strcmp(sj->run.kind, "image") ? "image " : "";
}

void rpl_build_status_clear(struct build *b)
{
	rpl_status_line_clear(&b->line);
}

/*
 * The status line's figures are made again at most this often (ns): they
 * count every job, and a run of 50,000 short jobs starts and ends one
 * every millisecond or so.  In between, the last line is drawn again.
 */
#define DRAW_EVERY 50000000

void rpl_build_status_show(struct build *b)
{
	struct rpl_sched_job *const *jobs;
	struct rpl_progress_counts c;
	struct rpl_strbuf head = RPL_STRBUF_INIT;
	char **items, t[32];
	size_t njobs, n = 0;
	int64_t now = now_ns();
	double eta;

	if (!b->sched || !b->run)
		return;
	jobs = rpl_sched_jobs(b->sched, &njobs);
	if (b->pub.run && rpl_progress_publish(&b->pub, jobs, njobs, "running", 0, now))
		rpl_warn("%s", rpl_errmsg());
	if (!b->tty)
		return;
	if (b->drawn_ns && now - b->drawn_ns < DRAW_EVERY) {
		rpl_status_line_redraw(&b->line);
		return;
	}
	b->drawn_ns = now;
	rpl_progress_count(jobs, njobs, &c);
	rpl_report_fmt_secs(secs(b->started_ns, now), t, sizeof(t));
	rpl_strbuf_addf(&head, "[%zu/%zu %s", b->done, b->njobs, t);
	if ((eta = rpl_progress_eta(jobs, njobs, b->pub.lanes, now)) >= 0) {
		rpl_report_fmt_secs(eta, t, sizeof(t));
		rpl_strbuf_addf(&head, " ETA %s", t);
	}
	if (c.failed)
		rpl_strbuf_addf(&head, " %zu failed", c.failed);
	rpl_strbuf_addf(&head, "] %zu running%s", c.running, c.running ? ":" : "");
	items = rpl_xmalloc((c.running ? c.running : 1) * sizeof(*items));
	for (size_t i = 0; i < njobs && n < c.running; i++) {
		const struct rpl_sched_job *sj = jobs[i];
		struct rpl_strbuf it = RPL_STRBUF_INIT;
		if (sj->state != RPL_SCHED_RUNNING)
			continue;
		rpl_report_fmt_secs(secs(sj->started_ns, now), t, sizeof(t));
		rpl_strbuf_addf(&it, "%s%s %s %s", rpl_build_kind_prefix(sj), sj->run.name,
		                sj->run.arch, t);
		items[n++] = rpl_strbuf_detach(&it);
	}
	rpl_status_line_show(&b->line, rpl_strbuf_str(&head), items, n);
	for (size_t i = 0; i < n; i++)
		free(items[i]);
	free(items);
	rpl_strbuf_release(&head);
}

void rpl_build_say(struct build *b, const char *fmt, ...)
{
	va_list ap;

	rpl_build_status_clear(b);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	rpl_build_status_show(b);
	fflush(stdout);
}

void rpl_build_log_tail(struct build *b, const char *path, size_t lines)
{
	char *text;
	size_t len, n = 0;
	const char *p;

	if (rpl_read_file(path, &text, &len))
		return;
	p = text + len;
	while (p > text && n <= lines)
		if (*--p == '\n' && p + 1 < text + len)
			n++;
	if (*p == '\n')
		p++;
	rpl_build_status_clear(b);
	printf("  --- %s (last %zu lines)\n", path, lines);
	for (const char *l = p; *l;) {
		size_t k = strcspn(l, "\n");
		printf("  | %.*s\n", (int)k, l);
		l += k + (l[k] == '\n');
	}
	free(text);
}

void rpl_build_print_start(struct build *b, size_t npkg, size_t nimg)
{
	printf("run %lld: %zu job%s (%zu package%s, %zu image%s)", (long long)b->run, b->njobs,
	       b->njobs == 1 ? "" : "s", npkg, npkg == 1 ? "" : "s", nimg, nimg == 1 ? "" : "s");
	if (b->up_to_date)
		printf(", %zu already up to date", b->up_to_date);
	printf("; logs in .ripple/logs/%lld/\n", (long long)b->run);
	fflush(stdout);
}

void rpl_build_print_summary(struct build *b, const struct rpl_sched_result *res)
{
	struct rpl_sched_job **path;
	size_t npath;
	double pathsecs;
	char t[32], ct[32];

	rpl_report_fmt_secs(res->seconds, t, sizeof(t));
	printf("%s: %zu built, ", res->interrupted ? "interrupted" : "done", res->ok - b->cached);
	if (b->cached)
		printf("%zu from cache, ", b->cached);
	printf("%zu failed, %zu skipped", res->failed, res->skipped);
	if (res->cancelled + res->not_run)
		printf(", %zu not finished", res->cancelled + res->not_run);
	printf(" in %s", t);
	path = rpl_sched_critical_path(b->sched, &npath, &pathsecs);
	if (npath) {
		rpl_report_fmt_secs(pathsecs, ct, sizeof(ct));
		printf("; critical path %s:", ct);
		for (size_t i = 0; i < npath && i < 8; i++)
			printf("%s %s%s", i ? " ->" : "", rpl_build_kind_prefix(path[i]),
			       path[i]->run.name);
		if (npath > 8)
			printf(" -> ... (%zu jobs)", npath);
	}
	putchar('\n');
	free(path);
	if (res->skipped) {
		size_t nj;
		struct rpl_sched_job *const *jobs = rpl_sched_jobs(b->sched, &nj);
		struct rpl_strbuf sum = RPL_STRBUF_INIT;
		rpl_progress_skip_summary(jobs, nj, 5, &sum);
		printf("%s%s\n", rpl_strbuf_str(&sum), b->o->verbose ? "" : " (-v lists them)");
		rpl_strbuf_release(&sum);
	}
	if (res->interrupted)
		printf("run `ripple build` again to finish the rest\n");
}
