/*
 * The scheduler with a runner of its own: jobs are libuv timers that end as
 * each test says.  Checked: dependencies first; the critical path first when
 * the slots are few; the -j and per-arch limits; a failure skips exactly
 * its transitive dependents; a cycle's members, waiting only for earlier
 * members they build against, run side by side and a failure skips only
 * those that wait on it; a wait for the end (rpl_sched_after) runs after a
 * failure and says so; without keep-going nothing new starts; crash
 * retries; a signal cancels what runs; a cycle is refused; the critical
 * path of what ran.
 */
#include "common/error.h"
#include "orchestrator/sched.h"

#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

/* ---- a runner of timers ----------------------------------------------------------- */

struct plan {
	const char *name;
	unsigned ms;
	enum rpl_run_status status; /* at the end */
	int crash_times;            /* crash on the first attempts */
	int signal_after;           /* raise SIGINT when it starts */
};

struct fake {
	struct rpl_runner base;
	const struct plan *plans;
	size_t nplans;
	char log[4096]; /* "+a +b -a ..." */
	size_t running, max_running, max_arch[2];
	size_t running_arch[2];
	int attempts[32];
};

struct fjob {
	uv_timer_t t;
	struct fake *f;
	struct rpl_run_job *job;
	const struct plan *p;
	enum rpl_run_status status;
	rpl_run_done_fn done;
	void *arg;
};

static const struct plan *plan_of(const struct fake *f, const char *name)
{
	for (size_t i = 0; i < f->nplans; i++)
		if (!strcmp(f->plans[i].name, name))
			return &f->plans[i];
	fail_msg("no plan for %s", name);
	return NULL;
}

static size_t arch_slot(const char *arch)
{
	return strcmp(arch, "x86_64") != 0;
}

static void closed(uv_handle_t *h)
{
	struct fjob *j = h->data;
	struct fake *f = j->f;

	f->running--;
	f->running_arch[arch_slot(j->job->arch)]--;
	snprintf(f->log + strlen(f->log), sizeof(f->log) - strlen(f->log), "-%s ", j->job->name);
	j->job->priv = NULL;
	j->done(j->job, j->status, j->status == RPL_RUN_OK ? NULL : "it did", j->arg);
	free(j);
}

static void fire(uv_timer_t *t)
{
	uv_close((uv_handle_t *)t, closed);
}

static int fake_start(struct rpl_runner *r, struct rpl_run_job *job, uv_loop_t *loop,
                      rpl_run_done_fn done, void *arg)
{
	struct fake *f = (struct fake *)r;
	struct fjob *j = calloc(1, sizeof(*j));
	const struct plan *p = plan_of(f, job->name);
	int attempt = ++f->attempts[p - f->plans];

	j->f = f;
	j->job = job;
	j->p = p;
	j->done = done;
	j->arg = arg;
	j->status = attempt <= p->crash_times ? RPL_RUN_CRASHED : p->status;
	job->priv = j;
	f->running++;
	f->running_arch[arch_slot(job->arch)]++;
	if (f->running > f->max_running)
		f->max_running = f->running;
	for (size_t a = 0; a < 2; a++)
		if (f->running_arch[a] > f->max_arch[a])
			f->max_arch[a] = f->running_arch[a];
	snprintf(f->log + strlen(f->log), sizeof(f->log) - strlen(f->log), "+%s ", job->name);
	uv_timer_init(loop, &j->t);
	j->t.data = j;
	uv_timer_start(&j->t, fire, p->ms, 0);
	if (p->signal_after)
		raise(SIGINT);
	return 0;
}

static void fake_cancel(struct rpl_runner *r, struct rpl_run_job *job, int now)
{
	struct fjob *j = job->priv;

	(void)r;
	(void)now;
	if (!j || j->status == RPL_RUN_CANCELLED)
		return;
	j->status = RPL_RUN_CANCELLED;
	uv_timer_stop(&j->t);
	uv_timer_start(&j->t, fire, 0, 0);
}

static struct fake *fake_new(const struct plan *plans, size_t n)
{
	struct fake *f = calloc(1, sizeof(*f));

	f->base.name = "fake";
	f->base.start = fake_start;
	f->base.cancel = fake_cancel;
	f->plans = plans;
	f->nplans = n;
	return f;
}

/* ---- helpers ------------------------------------------------------------------------------ */

struct world {
	struct fake *f;
	struct rpl_sched *s;
	struct rpl_sched_job *j[16];
	size_t n;
	int skipped, finished;
};

static int on_finished(void *ctx, struct rpl_sched_job *j)
{
	(void)j;
	((struct world *)ctx)->finished++;
	return 0;
}

static void on_skipped(void *ctx, struct rpl_sched_job *j)
{
	(void)j;
	((struct world *)ctx)->skipped++;
}

static void world(struct world *w, const struct plan *plans, size_t n,
                  const struct rpl_sched_opts *o)
{
	struct rpl_sched_hooks h = { NULL, on_finished, on_skipped, NULL, w };

	memset(w, 0, sizeof(*w));
	w->f = fake_new(plans, n);
	w->s = rpl_sched_new(&w->f->base, o, &h);
}

static struct rpl_sched_job *job(struct world *w, const char *name, const char *arch,
                                 double estimate)
{
	struct rpl_sched_job *j = rpl_sched_add(w->s, arch);

	j->run.name = name;
	j->run.kind = "package";
	j->estimate = estimate;
	w->j[w->n++] = j;
	return j;
}

static void done_world(struct world *w)
{
	rpl_sched_free(w->s);
	free(w->f);
}

/* The position of `what` ("+a" or "-a") in the log, or -1. */
static long at(const struct world *w, const char *what)
{
	char key[64];
	const char *p;

	snprintf(key, sizeof(key), "%s ", what);
	p = strstr(w->f->log, key);
	return p ? p - w->f->log : -1;
}

/* ---- tests ------------------------------------------------------------------------------------ */

static void test_dependencies_first_and_limits(void **state)
{
	static const struct plan plans[] = {
		{ "a", 30, RPL_RUN_OK, 0, 0 }, { "b", 30, RPL_RUN_OK, 0, 0 },
		{ "c", 30, RPL_RUN_OK, 0, 0 }, { "d", 30, RPL_RUN_OK, 0, 0 },
		{ "e", 30, RPL_RUN_OK, 0, 0 }, { "f", 30, RPL_RUN_OK, 0, 0 },
	};
	struct rpl_sched_opts o = { 3, 2, 1, 0 };
	struct rpl_sched_result r;
	struct world w;

	(void)state;
	world(&w, plans, 6, &o);
	job(&w, "a", "x86_64", 1);
	job(&w, "b", "x86_64", 1);
	job(&w, "c", "x86_64", 1);
	job(&w, "d", "aarch64", 1);
	job(&w, "e", "aarch64", 1);
	job(&w, "f", "aarch64", 1);
	rpl_sched_dep(w.s, w.j[1], w.j[0]); /* b after a */
	rpl_sched_dep(w.s, w.j[2], w.j[1]); /* c after b */
	assert_int_equal(rpl_sched_run(w.s, &r), 0);
	assert_int_equal(r.ok, 6);
	assert_int_equal(r.failed + r.skipped + r.not_run + r.cancelled, 0);
	assert_false(r.interrupted);
	assert_true(at(&w, "+b") > at(&w, "-a"));
	assert_true(at(&w, "+c") > at(&w, "-b"));
	assert_int_equal(w.f->max_running, 3);
	assert_true(w.f->max_arch[0] <= 2 && w.f->max_arch[1] <= 2);
	assert_int_equal(w.f->max_arch[1], 2);
	done_world(&w);
}

/* One slot: the long chain starts before short independent jobs. */
static void test_critical_path_first(void **state)
{
	static const struct plan plans[] = {
		/* Measured, head + tail is 8 times short: the critical path below
		 * holds however slow a loaded machine makes each. */
		{ "short", 5, RPL_RUN_OK, 0, 0 },
		{ "head", 20, RPL_RUN_OK, 0, 0 },
		{ "tail", 20, RPL_RUN_OK, 0, 0 },
	};
	struct rpl_sched_opts o = { 1, 0, 1, 0 };
	struct rpl_sched_result r;
	struct rpl_sched_job **path;
	size_t n;
	double secs;
	struct world w;

	(void)state;
	world(&w, plans, 3, &o);
	job(&w, "short", "x86_64", 50); /* added first, bigger alone ... */
	job(&w, "head", "x86_64", 30);  /* ... but head + tail is 60 */
	job(&w, "tail", "x86_64", 30);
	rpl_sched_dep(w.s, w.j[2], w.j[1]);
	assert_int_equal(rpl_sched_run(w.s, &r), 0);
	/* head (60 to go) before short (50); then short (50) before tail (30). */
	assert_string_equal(w.f->log, "+head -head +short -short +tail -tail ");
	assert_true(w.j[1]->priority == 60 && w.j[0]->priority == 50);
	path = rpl_sched_critical_path(w.s, &n, &secs);
	assert_int_equal(n, 2);
	assert_ptr_equal(path[0], w.j[1]);
	assert_ptr_equal(path[1], w.j[2]);
	assert_true(secs > 0);
	free(path);
	done_world(&w);
}

/* A failure skips its dependents, transitively, and nothing else. */
static void test_failure_skips_dependents(void **state)
{
	static const struct plan plans[] = {
		{ "a", 5, RPL_RUN_OK, 0, 0 },     { "b", 5, RPL_RUN_FAILED, 0, 0 },
		{ "c", 5, RPL_RUN_OK, 0, 0 },     { "d", 5, RPL_RUN_OK, 0, 0 },
		{ "other", 5, RPL_RUN_OK, 0, 0 },
	};
	struct rpl_sched_opts o = { 2, 0, 1, 0 };
	struct rpl_sched_result r;
	struct world w;

	(void)state;
	world(&w, plans, 5, &o);
	job(&w, "a", "x86_64", 1);
	job(&w, "b", "x86_64", 1);
	job(&w, "c", "x86_64", 1);
	job(&w, "d", "x86_64", 1);
	job(&w, "other", "aarch64", 1);
	rpl_sched_dep(w.s, w.j[1], w.j[0]); /* a <- b <- c <- d */
	rpl_sched_dep(w.s, w.j[2], w.j[1]);
	rpl_sched_dep(w.s, w.j[3], w.j[2]);
	assert_int_equal(rpl_sched_run(w.s, &r), 0);
	assert_int_equal(r.ok, 2);
	assert_int_equal(r.failed, 1);
	assert_int_equal(r.skipped, 2);
	assert_int_equal(w.skipped, 2);
	assert_int_equal(w.j[2]->state, RPL_SCHED_SKIPPED);
	assert_string_equal(w.j[2]->message, "waiting on b (x86_64) failed");
	assert_string_equal(w.j[3]->message, "waiting on b (x86_64) failed");
	assert_int_equal(w.j[4]->state, RPL_SCHED_OK);
	assert_int_equal(at(&w, "+c"), -1);
	done_world(&w);
}

/*
 * A cycle's members as buildjobs.c adds them: each waits for the earlier
 * members it builds against (core m1 m2 m3 m4 lib tool, the back edge
 * core->tool not waited for).  The four ms wait for core alone and run three
 * at a time under -j 3; m3 fails, which skips lib and tool (they wait on
 * it) and nothing else.
 */
static void test_cycle_forward_waits(void **state)
{
	static const struct plan plans[] = {
		{ "core", 5, RPL_RUN_OK, 0, 0 }, { "m1", 40, RPL_RUN_OK, 0, 0 },
		{ "m2", 40, RPL_RUN_OK, 0, 0 },  { "m3", 40, RPL_RUN_FAILED, 0, 0 },
		{ "m4", 40, RPL_RUN_OK, 0, 0 },  { "lib", 5, RPL_RUN_OK, 0, 0 },
		{ "tool", 5, RPL_RUN_OK, 0, 0 },
	};
	struct rpl_sched_opts o = { 3, 0, 1, 0 };
	struct rpl_sched_result r;
	struct world w;

	(void)state;
	world(&w, plans, 7, &o);
	for (size_t i = 0; i < 7; i++)
		job(&w, plans[i].name, "x86_64", 1);
	for (size_t m = 1; m <= 4; m++) {
		rpl_sched_dep(w.s, w.j[m], w.j[0]); /* m -> core */
		rpl_sched_dep(w.s, w.j[6], w.j[m]); /* tool -> m */
	}
	rpl_sched_dep(w.s, w.j[5], w.j[3]); /* lib -> m3 */
	rpl_sched_dep(w.s, w.j[5], w.j[0]); /* lib -> core */
	rpl_sched_dep(w.s, w.j[6], w.j[5]); /* tool -> lib */
	assert_int_equal(rpl_sched_run(w.s, &r), 0);
	assert_int_equal(r.ok, 4);
	assert_int_equal(r.failed, 1);
	assert_int_equal(r.skipped, 2);
	assert_int_equal(w.j[5]->state, RPL_SCHED_SKIPPED);
	assert_int_equal(w.j[6]->state, RPL_SCHED_SKIPPED);
	assert_string_equal(w.j[6]->message, "waiting on m3 (x86_64) failed");
	for (size_t m = 1; m <= 4; m++) {
		char what[8];
		snprintf(what, sizeof(what), "+%s", plans[m].name);
		assert_true(at(&w, what) > at(&w, "-core"));
	}
	assert_int_equal(w.j[4]->state, RPL_SCHED_OK);
	assert_int_equal(w.f->max_running, 3);
	done_world(&w);
}

/*
 * rpl_sched_after: the waiter starts once the other job ended, and runs when
 * it failed or was skipped, saying what it built against; a job that needs
 * the success is skipped.  A pair added both ways needs the success.
 */
static void test_after_failure_runs(void **state)
{
	static const struct plan plans[] = {
		{ "a", 10, RPL_RUN_FAILED, 0, 0 }, { "b", 5, RPL_RUN_OK, 0, 0 },
		{ "c", 5, RPL_RUN_OK, 0, 0 },      { "d", 5, RPL_RUN_OK, 0, 0 },
		{ "e", 5, RPL_RUN_OK, 0, 0 },      { "f", 5, RPL_RUN_OK, 0, 0 },
	};
	struct rpl_sched_opts o = { 4, 0, 1, 0 };
	struct rpl_sched_result r;
	struct world w;

	(void)state;
	world(&w, plans, 6, &o);
	for (size_t i = 0; i < 6; i++)
		job(&w, plans[i].name, "x86_64", 1);
	rpl_sched_after(w.s, w.j[1], w.j[0]); /* b waits for a to end */
	rpl_sched_dep(w.s, w.j[2], w.j[1]);   /* c needs b */
	rpl_sched_dep(w.s, w.j[3], w.j[0]);   /* d needs a */
	rpl_sched_after(w.s, w.j[4], w.j[3]); /* e waits for d to end */
	rpl_sched_after(w.s, w.j[4], w.j[0]); /* ... and for a */
	rpl_sched_after(w.s, w.j[5], w.j[0]); /* f: both ways, so it needs a */
	rpl_sched_dep(w.s, w.j[5], w.j[0]);
	assert_int_equal(rpl_sched_run(w.s, &r), 0);
	assert_int_equal(r.failed, 1);
	assert_int_equal(r.ok, 3);
	assert_int_equal(r.skipped, 2);
	assert_true(at(&w, "+b") > at(&w, "-a"));
	assert_true(at(&w, "+c") > at(&w, "-b"));
	assert_int_equal(w.j[1]->state, RPL_SCHED_OK);
	assert_string_equal(
	        w.j[1]->message,
	        "built against the repository's copy of a (x86_64), which did not build");
	assert_null(w.j[2]->message);
	assert_int_equal(w.j[3]->state, RPL_SCHED_SKIPPED);
	assert_int_equal(w.j[4]->state, RPL_SCHED_OK);
	assert_string_equal(
	        w.j[4]->message,
	        "built against the repository's copy of d (x86_64), a (x86_64), which did not build");
	assert_int_equal(w.j[5]->state, RPL_SCHED_SKIPPED);
	assert_string_equal(w.j[5]->message, "waiting on a (x86_64) failed");
	assert_int_equal(at(&w, "+d"), -1);
	assert_int_equal(at(&w, "+f"), -1);
	done_world(&w);
}

/* Without keep-going, no job starts after a failure; the rest is not run. */
static void test_stop_after_failure(void **state)
{
	static const struct plan plans[] = {
		{ "bad", 5, RPL_RUN_FAILED, 0, 0 },
		{ "x", 5, RPL_RUN_OK, 0, 0 },
		{ "y", 5, RPL_RUN_OK, 0, 0 },
	};
	struct rpl_sched_opts o = { 1, 0, 0, 0 };
	struct rpl_sched_result r;
	struct world w;

	(void)state;
	world(&w, plans, 3, &o);
	job(&w, "bad", "x86_64", 100);
	job(&w, "x", "x86_64", 1);
	job(&w, "y", "x86_64", 1);
	assert_int_equal(rpl_sched_run(w.s, &r), 0);
	assert_string_equal(w.f->log, "+bad -bad ");
	assert_int_equal(r.failed, 1);
	assert_int_equal(r.not_run, 2);
	assert_int_equal(w.j[1]->state, RPL_SCHED_NOT_RUN);
	done_world(&w);
}

/* A crash is retried; past the retries it is a failure. */
static void test_crash_retries(void **state)
{
	static const struct plan plans[] = {
		{ "flaky", 5, RPL_RUN_OK, 1, 0 },
		{ "broken", 5, RPL_RUN_OK, 5, 0 },
	};
	struct rpl_sched_opts o = { 2, 0, 1, 2 };
	struct rpl_sched_result r;
	struct world w;

	(void)state;
	world(&w, plans, 2, &o);
	job(&w, "flaky", "x86_64", 1);
	job(&w, "broken", "x86_64", 1);
	assert_int_equal(rpl_sched_run(w.s, &r), 0);
	assert_int_equal(w.j[0]->state, RPL_SCHED_OK);
	assert_int_equal(w.j[0]->attempts, 2);
	assert_int_equal(w.j[1]->state, RPL_SCHED_FAILED);
	assert_int_equal(w.j[1]->attempts, 3);
	assert_int_equal(w.j[1]->status, RPL_RUN_CRASHED);
	done_world(&w);
}

/* A SIGINT cancels what runs; nothing else starts; the run says interrupted. */
static void test_signal_cancels(void **state)
{
	static const struct plan plans[] = {
		{ "first", 5, RPL_RUN_OK, 0, 0 },
		{ "long", 5000, RPL_RUN_OK, 0, 1 },
		{ "later", 5, RPL_RUN_OK, 0, 0 },
	};
	struct rpl_sched_opts o = { 1, 0, 1, 0 };
	struct rpl_sched_result r;
	struct world w;

	(void)state;
	world(&w, plans, 3, &o);
	job(&w, "first", "x86_64", 10);
	job(&w, "long", "x86_64", 5);
	job(&w, "later", "x86_64", 1);
	assert_int_equal(rpl_sched_run(w.s, &r), 0);
	assert_true(r.interrupted);
	assert_int_equal(w.j[0]->state, RPL_SCHED_OK);
	assert_int_equal(w.j[1]->state, RPL_SCHED_CANCELLED);
	assert_int_equal(w.j[2]->state, RPL_SCHED_NOT_RUN);
	assert_true(r.seconds < 4);
	done_world(&w);
}

static void test_cycle_refused(void **state)
{
	static const struct plan plans[] = { { "a", 5, RPL_RUN_OK, 0, 0 },
		                             { "b", 5, RPL_RUN_OK, 0, 0 } };
	struct rpl_sched_opts o = { 1, 0, 1, 0 };
	struct rpl_sched_result r;
	struct world w;

	(void)state;
	world(&w, plans, 2, &o);
	job(&w, "a", "x86_64", 1);
	job(&w, "b", "x86_64", 1);
	rpl_sched_dep(w.s, w.j[0], w.j[1]);
	rpl_sched_dep(w.s, w.j[1], w.j[0]);
	assert_int_equal(rpl_sched_run(w.s, &r), -RPL_ECYCLE);
	assert_string_equal(w.f->log, "");
	done_world(&w);
}

static void test_nothing_to_do(void **state)
{
	struct rpl_sched_opts o = { 4, 0, 1, 0 };
	struct rpl_sched_result r;
	struct world w;

	(void)state;
	world(&w, NULL, 0, &o);
	assert_int_equal(rpl_sched_run(w.s, &r), 0);
	assert_int_equal(r.ok + r.failed + r.not_run, 0);
	done_world(&w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dependencies_first_and_limits),
		cmocka_unit_test(test_critical_path_first),
		cmocka_unit_test(test_failure_skips_dependents),
		cmocka_unit_test(test_cycle_forward_waits),
		cmocka_unit_test(test_after_failure_runs),
		cmocka_unit_test(test_stop_after_failure),
		cmocka_unit_test(test_crash_retries),
		cmocka_unit_test(test_signal_cancels),
		cmocka_unit_test(test_cycle_refused),
		cmocka_unit_test(test_nothing_to_do),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
