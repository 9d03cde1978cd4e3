/*
 * The report of a run: lanes from start and end times; what the end of a
 * build records (each job's lane, the failure each skipped job waited on,
 * the critical path) from a scheduler's finished jobs; a run loaded back
 * (totals, failures, skips grouped by their failure or, in older runs, by
 * their message, lanes worked out when not recorded, the path); its JSON;
 * and the HTML page: markup escaped, log tails cut and cleaned, every job
 * once, and a size linear in the jobs at a Wolfi nightly's 7,000.
 */
#include "common/error.h"
#include "common/strbuf.h"
#include "orchestrator/report.h"
#include "orchestrator/report_html.h"
#include "orchestrator/sched.h"
#include "orchestrator/state.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include <cmocka.h>

#include "tests/unit/testlib.h"

static char root[256];

static int make_root(void **state)
{
	(void)state;
	return rpl_test_mkdtemp(root, sizeof(root), "report");
}

static int remove_root(void **state)
{
	(void)state;
	rpl_test_remove_tree(root);
	root[0] = '\0';
	return 0;
}

static struct rpl_state *open_ok(void)
{
	struct rpl_state *st = NULL;

	if (rpl_state_open(&st, root, 1))
		fail_msg("rpl_state_open: %s", rpl_errmsg());
	return st;
}

#define S 1000000000LL                 /* a second, in ns */
#define T0 (1700000000LL * 1000000000) /* when the runs start */

static size_t count(const char *hay, const char *needle)
{
	size_t n = 0;

	for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

/* ---- lanes ------------------------------------------------------------------------------ */

static void test_lanes(void **state)
{
	/* d [60,80) c [20,30) b [10,50) a [1,100) e never ran f [100,120): out of order. */
	int64_t start[] = { 60, 20, 10, 1, 0, 100 }, end[] = { 80, 30, 50, 100, 0, 120 }, lane[6];
	int64_t seq_s[] = { 10, 20, 30 }, seq_e[] = { 20, 30, 40 }, seq_l[3];

	(void)state;
	assert_int_equal(rpl_report_lanes(6, start, end, lane), 3);
	assert_int_equal(lane[3], 0); /* a, first */
	assert_int_equal(lane[2], 1); /* b */
	assert_int_equal(lane[1], 2); /* c */
	assert_int_equal(lane[0], 1); /* d: b's lane, the lowest free at 60 */
	assert_int_equal(lane[4], -1);
	assert_int_equal(lane[5], 0); /* f: a's, free from its end on */
	/* One after another: one lane. */
	assert_int_equal(rpl_report_lanes(3, seq_s, seq_e, seq_l), 1);
	assert_int_equal(seq_l[0], 0);
	assert_int_equal(seq_l[2], 0);
	assert_int_equal(rpl_report_lanes(0, start, end, lane), 0);
}

/* ---- the end of a build, and the run loaded back ------------------------------------------ */

struct fake_job {
	const char *name, *kind;
	enum rpl_sched_state state;
	double from, to; /* seconds after T0; from < 0: never started */
	const char *message;
};

/*
 * a ok [0,2); e fails [0,1); b needs a, fails [2,3); g needs a, ok [2,6);
 * c needs b, d needs c: skipped by b; f needs b and e: skipped by e, which
 * failed first; h needs g, never ran (the run stopped).  The critical
 * path: a then g.
 */
static const struct fake_job jobs[] = {
	{ "a", "package", RPL_SCHED_OK, 0, 2, NULL },
	{ "e", "package", RPL_SCHED_FAILED, 0, 1, "melange build exited with status 1" },
	{ "b", "package", RPL_SCHED_FAILED, 2, 3, "melange build exited with status 2" },
	{ "g", "package", RPL_SCHED_OK, 2, 6, NULL },
	{ "c", "package", RPL_SCHED_SKIPPED, -1, 0, "waiting on b (x86_64) failed" },
	{ "d", "image", RPL_SCHED_SKIPPED, -1, 0, "waiting on b (x86_64) failed" },
	{ "f", "package", RPL_SCHED_SKIPPED, -1, 0, "waiting on e (x86_64) failed" },
	{ "h", "package", RPL_SCHED_NOT_RUN, -1, 0, NULL },
};
#define NJOBS (sizeof(jobs) / sizeof(*jobs))

static const char *status_of(const struct fake_job *f)
{
	return f->state == RPL_SCHED_OK        ? "ok"
	       : f->state == RPL_SCHED_FAILED  ? "failed"
	       : f->state == RPL_SCHED_SKIPPED ? "skipped"
	                                       : "not run";
}

/* The run as the build records it as its jobs end; `details`: and at its end. */
static int64_t record_run(struct rpl_state *st, int details)
{
	struct rpl_sched *s = rpl_sched_new(NULL, &(struct rpl_sched_opts){ 2, 0, 1, 0 }, NULL);
	struct rpl_sched_job *sj[NJOBS];
	int64_t run = rpl_state_run_begin(st, "build --all");

	assert_true(run > 0);
	for (size_t i = 0; i < NJOBS; i++) {
		struct rpl_run_job_record r;
		sj[i] = rpl_sched_add(s, "x86_64");
		sj[i]->run.name = jobs[i].name;
		sj[i]->run.kind = jobs[i].kind;
		sj[i]->state = jobs[i].state;
		if (jobs[i].from >= 0) {
			sj[i]->started_ns = T0 + (int64_t)(jobs[i].from * S);
			sj[i]->finished_ns = T0 + (int64_t)(jobs[i].to * S);
		}
		memset(&r, 0, sizeof(r));
		r.name = jobs[i].name;
		r.kind = jobs[i].kind;
		r.arch = "x86_64";
		r.status = status_of(&jobs[i]);
		r.started_ns = sj[i]->started_ns;
		r.duration = jobs[i].from >= 0 ? jobs[i].to - jobs[i].from : 0;
		r.message = jobs[i].message;
		assert_int_equal(rpl_state_run_job_put(st, run, &r), 0);
	}
	rpl_sched_dep(s, sj[2], sj[0]); /* b needs a */
	rpl_sched_dep(s, sj[3], sj[0]); /* g needs a */
	rpl_sched_dep(s, sj[4], sj[2]); /* c needs b */
	rpl_sched_dep(s, sj[5], sj[4]); /* d needs c */
	rpl_sched_dep(s, sj[6], sj[2]); /* f needs b */
	rpl_sched_dep(s, sj[6], sj[1]); /* and e */
	rpl_sched_dep(s, sj[7], sj[3]); /* h needs g */
	if (details)
		assert_int_equal(rpl_report_record(st, run, s), 0);
	assert_int_equal(rpl_state_run_end(st, run, "failed"), 0);
	rpl_sched_free(s);
	return run;
}

static const struct rpl_run_row *row(const struct rpl_report *r, const char *name)
{
	for (size_t i = 0; i < r->run.njobs; i++)
		if (!strcmp(r->run.jobs[i].name, name))
			return &r->run.jobs[i];
	fail_msg("no job %s in the run", name);
	return NULL;
}

static void test_record_and_load(void **state)
{
	struct rpl_state *st = open_ok();
	struct rpl_report r;
	int64_t run = record_run(st, 1);
	json_t *j, *g;

	(void)state;
	assert_int_equal(rpl_report_load(st, run, &r), 1);
	assert_int_equal(r.run.njobs, NJOBS);
	assert_int_equal(r.ok, 2);
	assert_int_equal(r.failed, 2);
	assert_int_equal(r.skipped, 3);
	assert_int_equal(r.not_run, 1);
	assert_int_equal(r.nlanes, 2);
	assert_false(r.lanes_derived);
	assert_true(r.t0 == T0 && r.t1 == T0 + 6 * S);
	assert_true(r.work == 2 + 1 + 1 + 4);
	/* Lanes: a and e at once, then b takes the lowest free one. */
	assert_int_equal(row(&r, "a")->slot, 0);
	assert_int_equal(row(&r, "e")->slot, 1);
	assert_int_equal(row(&r, "b")->slot, 0);
	assert_int_equal(row(&r, "g")->slot, 1);
	assert_int_equal(row(&r, "c")->slot, -1);
	/* Causes: the first failure to reach each skip. */
	assert_string_equal(row(&r, "c")->cause_name, "b");
	assert_string_equal(row(&r, "d")->cause_name, "b");
	assert_string_equal(row(&r, "f")->cause_name, "e");
	assert_null(row(&r, "h")->cause_name);
	/* The critical path. */
	assert_int_equal(r.npath, 2);
	assert_string_equal(r.path[0]->name, "a");
	assert_string_equal(r.path[1]->name, "g");
	assert_true(r.path_seconds == 6);
	/* Failures in start order; skips by failure, the largest group first. */
	assert_int_equal(r.nfailures, 2);
	assert_string_equal(r.failures[0]->name, "e");
	assert_string_equal(r.failures[1]->name, "b");
	assert_int_equal(r.ngroups, 2);
	assert_string_equal(r.groups[0].cause->name, "b");
	assert_int_equal(r.groups[0].njobs, 2);
	assert_string_equal(r.groups[0].jobs[0]->name, "c");
	assert_string_equal(r.groups[0].jobs[1]->name, "d");
	assert_string_equal(r.groups[1].cause->name, "e");
	assert_int_equal(r.groups[1].njobs, 1);
	assert_ptr_equal(rpl_report_group_of(&r, row(&r, "b")), &r.groups[0]);
	assert_ptr_equal(rpl_report_group_of(&r, row(&r, "e")), &r.groups[1]);

	j = rpl_report_json(&r);
	assert_int_equal(
	        json_integer_value(json_object_get(json_object_get(j, "summary"), "not_run")), 1);
	assert_int_equal(json_integer_value(json_object_get(j, "lanes")), 2);
	g = json_array_get(json_object_get(j, "skipped"), 0);
	assert_string_equal(json_string_value(json_object_get(json_object_get(g, "cause"), "name")),
	                    "b");
	assert_int_equal(json_array_size(json_object_get(g, "jobs")), 2);
	g = json_array_get(json_object_get(j, "failures"), 1);
	assert_string_equal(json_string_value(json_object_get(g, "name")), "b");
	assert_int_equal(json_integer_value(json_object_get(g, "skipped")), 2);
	assert_int_equal(
	        json_array_size(json_object_get(json_object_get(j, "critical_path"), "jobs")), 2);
	json_decref(j);
	rpl_report_release(&r);

	/* The last run, by 0; and a run that is not there. */
	assert_int_equal(rpl_report_load(st, 0, &r), 1);
	assert_int_equal(r.run.id, run);
	rpl_report_release(&r);
	assert_int_equal(rpl_report_load(st, run + 1, &r), 0);
	rpl_report_release(&r);
	rpl_state_close(st);
}

/* A run recorded without its end's details (before schema 5, or killed). */
static void test_load_without_details(void **state)
{
	struct rpl_state *st = open_ok();
	struct rpl_report r;
	int64_t run = record_run(st, 0);

	(void)state;
	assert_int_equal(rpl_report_load(st, run, &r), 1);
	assert_true(r.lanes_derived);
	assert_int_equal(r.nlanes, 2);
	assert_int_equal(row(&r, "a")->slot, 0);
	assert_int_equal(row(&r, "e")->slot, 1);
	assert_int_equal(row(&r, "b")->slot, 0);
	assert_int_equal(r.npath, 0);
	/* By their message: the same groups. */
	assert_int_equal(r.ngroups, 2);
	assert_null(r.groups[0].cause);
	assert_string_equal(r.groups[0].why, "waiting on b (x86_64) failed");
	assert_int_equal(r.groups[0].njobs, 2);
	assert_null(rpl_report_group_of(&r, row(&r, "b")));
	rpl_report_release(&r);
	rpl_state_close(st);
}

/* ---- the page ------------------------------------------------------------------------------- */

static void test_html_escapes_and_tails(void **state)
{
	struct rpl_state *st = open_ok();
	struct rpl_report r;
	struct rpl_strbuf log = RPL_STRBUF_INIT, page = RPL_STRBUF_INIT;
	char path[512], missing[512];
	int64_t run;

	(void)state;
	/* 100 lines with colours and markup, a progress bar and a title. */
	for (int i = 1; i <= 100; i++)
		rpl_strbuf_addf(&log, "line %d \033[1;31mred\033[0m <b>&amp;</b>\n", i);
	rpl_strbuf_addstr(&log, "10%\r50%\r100%\r\n\033]0;title\007done");
	rpl_test_write_file(root, "bad.log", log.buf);
	snprintf(path, sizeof(path), "%s/bad.log", root);
	snprintf(missing, sizeof(missing), "%s/missing.log", root);
	run = rpl_state_run_begin(st, "build <x> & \"y\"");
	{
		struct rpl_run_job_record bad = {
			"x<script>alert(1)</script>", "package", "x86_64", "failed", T0, 1.5, path,
			"it said <no> & 'left'"
		};
		struct rpl_run_job_record gone = {
			"gone", "package", "x86_64", "timeout",
			T0 + S, 2,         missing,  "timed out after 2s"
		};
		assert_int_equal(rpl_state_run_job_put(st, run, &bad), 0);
		assert_int_equal(rpl_state_run_job_put(st, run, &gone), 0);
	}
	assert_int_equal(rpl_report_load(st, run, &r), 1);
	rpl_report_html(&r, &page);

	/* Markup from the records is text; the page's own script is the one script. */
	assert_null(strstr(page.buf, "<script>alert"));
	assert_non_null(strstr(page.buf, "x&lt;script&gt;alert(1)&lt;/script&gt;"));
	assert_non_null(strstr(page.buf, "it said &lt;no&gt; &amp; &#39;left&#39;"));
	assert_non_null(strstr(page.buf, "ripple build &lt;x&gt; &amp; &quot;y&quot;"));
	assert_int_equal(count(page.buf, "<script>"), 1);
	/* The tail: the last lines, cleaned of escapes, markup escaped. */
	assert_non_null(strstr(page.buf, "line 100 red &lt;b&gt;&amp;amp;&lt;/b&gt;\n"));
	/* 40 lines: done, 100%, 50%, 10% and lines 65 to 100. */
	assert_non_null(strstr(page.buf, "line 65 red"));
	assert_null(strstr(page.buf, "line 64 red"));
	assert_null(strstr(page.buf, "\033"));
	assert_non_null(strstr(page.buf, "10%\n50%\n100%\ndone"));
	assert_non_null(strstr(page.buf, "(cannot read the log: No such file or directory)"));
	/* Both failures, the timed-out one marked so on the timeline. */
	assert_non_null(strstr(page.buf, "Failures (2)"));
	assert_non_null(strstr(page.buf, "class=\"j timeout\""));
	assert_int_equal(count(page.buf, "<tr id=\"j"), 2);
	rpl_report_release(&r);
	rpl_strbuf_release(&page);
	rpl_strbuf_release(&log);

	/* Written whole to the file asked for; no run, no page. */
	snprintf(path, sizeof(path), "%s/out/report.html", root);
	assert_true(rpl_report_html_write(st, run, path) < 0); /* no such directory */
	snprintf(path, sizeof(path), "%s/report.html", root);
	assert_int_equal(rpl_report_html_write(st, 0, path), 0);
	assert_int_equal(rpl_report_html_write(st, run + 5, path), -ENOENT);
	assert_non_null(strstr(rpl_errmsg(), "no run"));
	rpl_state_close(st);
}

/*
 * A Wolfi nightly: 7,000 jobs on 8 lanes after a run that built them all;
 * 100 failures skip 10 jobs each.  Every job is on the page once, and the
 * page stays under 600 bytes a job.
 */
static void test_html_at_7000_jobs(void **state)
{
	enum { N = 7000, LANES = 8, FAILS = 100, SKIPS = 10 };
	struct rpl_state *st = open_ok();
	struct rpl_report r;
	struct rpl_strbuf page = RPL_STRBUF_INIT;
	int64_t run1, run2, at[LANES] = { 0 };
	char name[64], cause[64], msg[128];

	(void)state;
	run1 = rpl_state_run_begin(st, "build --all");
	run2 = rpl_state_run_begin(st, "build --all --force");
	assert_int_equal(rpl_state_begin(st), 0);
	for (int i = 0; i < N; i++) {
		int f = i < FAILS * (SKIPS + 1) ? i / (SKIPS + 1) : -1, lane = i % LANES;
		int skip = f >= 0 && i % (SKIPS + 1) != 0;
		double d = 1 + (i * 7919) % 300;
		struct rpl_run_job_record one = { name,       "package", "x86_64", "ok",
			                          T0 + i * S, d,         NULL,     NULL };
		struct rpl_run_job_detail det = { lane, NULL, NULL, NULL, 0 };
		snprintf(name, sizeof(name), "py3-package-number-%d", i);
		assert_int_equal(rpl_state_run_job_put(st, run1, &one), 0);
		one.started_ns = T0 + 86400 * S + at[lane];
		one.duration = d * 1.05;
		if (skip) {
			snprintf(cause, sizeof(cause), "py3-package-number-%d",
			         i - i % (SKIPS + 1));
			snprintf(msg, sizeof(msg), "waiting on %s (x86_64) failed", cause);
			one.status = "skipped";
			one.started_ns = 0;
			one.duration = 0;
			one.message = msg;
			det.slot = -1;
			det.cause_name = cause;
			det.cause_kind = "package";
			det.cause_arch = "x86_64";
		} else {
			if (f >= 0) {
				one.status = "failed";
				one.log = ".ripple/logs/2/x86_64/missing.log";
				one.message = "melange build exited with status 1";
			}
			at[lane] += (int64_t)(one.duration * S);
		}
		det.critical = !skip && i % 97 == 0 ? i / 97 + 1 : 0;
		assert_int_equal(rpl_state_run_job_put(st, run2, &one), 0);
		assert_int_equal(
		        rpl_state_run_job_detail_put(st, run2, name, "package", "x86_64", &det), 0);
	}
	assert_int_equal(rpl_state_commit(st), 0);

	assert_int_equal(rpl_report_load(st, run2, &r), 1);
	assert_int_equal(r.failed, FAILS);
	assert_int_equal(r.skipped, FAILS * SKIPS);
	assert_int_equal(r.ngroups, FAILS);
	assert_int_equal(r.nlanes, LANES);
	assert_int_equal(r.groups[0].njobs, SKIPS);
	rpl_report_html(&r, &page);
	assert_int_equal(count(page.buf, "<tr id=\"j"), N);
	assert_int_equal(count(page.buf, "<rect class=\"j"), N - FAILS * SKIPS);
	assert_int_equal(count(page.buf, "<details class=\"group\""), FAILS);
	if (page.len > (size_t)N * 600)
		fail_msg("the page of %d jobs is %zu bytes, %zu a job", N, page.len, page.len / N);
	rpl_report_release(&r);
	rpl_strbuf_release(&page);
	rpl_state_close(st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lanes),
#define T(f) cmocka_unit_test_setup_teardown(f, make_root, remove_root)
		T(test_record_and_load),        T(test_load_without_details),
		T(test_html_escapes_and_tails), T(test_html_at_7000_jobs),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
