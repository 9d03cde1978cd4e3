/*
 * A build's progress: its counts, its ETA (work over the lanes, or the
 * longest chain still to run, a running job's part shortened by how long it
 * has run), the skips summed up by the failure they waited on, and the
 * status file written (at most twice a second unless forced) and read back.
 */
#include "orchestrator/progress.h"
#include "common/error.h"
#include "common/strbuf.h"
#include "orchestrator/sched.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include <cmocka.h>

#include "tests/unit/testlib.h"

#define S 1000000000LL /* ns in a second */

static struct rpl_sched_job jobs[8];
static struct rpl_sched_job *ptrs[8];

/* Job i: `state`, `estimate` seconds, `after` seconds of chain waiting on it. */
static void job(size_t i, enum rpl_sched_state state, double estimate, double after)
{
	memset(&jobs[i], 0, sizeof(jobs[i]));
	jobs[i].state = state;
	jobs[i].estimate = estimate;
	jobs[i].priority = estimate + after;
	jobs[i].run.name = "j";
	jobs[i].run.arch = "x86_64";
	ptrs[i] = &jobs[i];
}

static void test_eta_is_work_over_lanes_or_the_chain(void **state)
{
	(void)state;
	/* Four independent jobs of 10 s on 2 lanes: 20 s. */
	for (size_t i = 0; i < 4; i++)
		job(i, RPL_SCHED_PENDING, 10, 0);
	assert_true(rpl_progress_eta(ptrs, 4, 2, 0) == 20);
	/* On 8 lanes the work is 5 s, but each job takes 10 s. */
	assert_true(rpl_progress_eta(ptrs, 4, 8, 0) == 10);
	/* One of them has 25 s of jobs waiting on it: that chain is longer. */
	job(0, RPL_SCHED_READY, 10, 25);
	assert_true(rpl_progress_eta(ptrs, 4, 2, 0) == 35);
	/* It has run 4 s of its 10; finished jobs count for nothing. */
	jobs[0].state = RPL_SCHED_RUNNING;
	jobs[0].started_ns = 100 * S;
	job(3, RPL_SCHED_OK, 10, 0);
	assert_true(rpl_progress_eta(ptrs, 4, 2, 104 * S) == 31);
	/* Past its estimate: nothing of its own is left, the chain still is. */
	assert_true(rpl_progress_eta(ptrs, 4, 2, 150 * S) == 25);
	/* Nothing left at all. */
	for (size_t i = 0; i < 4; i++)
		job(i, i % 2 ? RPL_SCHED_SKIPPED : RPL_SCHED_FAILED, 10, 0);
	assert_true(rpl_progress_eta(ptrs, 4, 2, 0) < 0);
}

static void test_counts(void **state)
{
	struct rpl_progress_counts c;

	(void)state;
	job(0, RPL_SCHED_OK, 1, 0);
	job(1, RPL_SCHED_FAILED, 1, 0);
	job(2, RPL_SCHED_SKIPPED, 1, 0);
	job(3, RPL_SCHED_RUNNING, 1, 0);
	job(4, RPL_SCHED_PENDING, 1, 0);
	job(5, RPL_SCHED_CANCELLED, 1, 0);
	rpl_progress_count(ptrs, 6, &c);
	assert_int_equal(c.total, 6);
	assert_int_equal(c.done, 4);
	assert_int_equal(c.ok, 1);
	assert_int_equal(c.failed, 1);
	assert_int_equal(c.skipped, 1);
	assert_int_equal(c.running, 1);
}

static void test_skips_summed_up_by_cause(void **state)
{
	struct rpl_strbuf sb = RPL_STRBUF_INIT;

	(void)state;
	job(0, RPL_SCHED_FAILED, 1, 0);
	for (size_t i = 1; i < 7; i++) {
		job(i, RPL_SCHED_SKIPPED, 1, 0);
		jobs[i].message = i < 5   ? "waiting on b (x86_64) failed"
		                  : i < 6 ? "waiting on x (aarch64) failed"
		                          : "waiting on y (x86_64) failed";
	}
	rpl_progress_skip_summary(ptrs, 7, 5, &sb);
	assert_string_equal(rpl_strbuf_str(&sb),
	                    "6 skipped: 4 waiting on b (x86_64) failed, 1 waiting on x (aarch64) "
	                    "failed, 1 waiting on y (x86_64) failed");
	rpl_strbuf_reset(&sb);
	rpl_progress_skip_summary(ptrs, 7, 1, &sb);
	assert_string_equal(rpl_strbuf_str(&sb), "6 skipped: 4 waiting on b (x86_64) failed, and 2 "
	                                         "waiting on 2 other failures");
	rpl_strbuf_reset(&sb);
	rpl_progress_skip_summary(ptrs, 1, 5, &sb);
	assert_string_equal(rpl_strbuf_str(&sb), "");
	rpl_strbuf_release(&sb);
}

static char root[256];

static int in_root(void **state)
{
	(void)state;
	if (rpl_test_mkdtemp(root, sizeof(root), "progress") || chdir(root))
		return -1;
	rpl_test_write_file(root, ".ripple/keep", "");
	return 0;
}

static int out_of_root(void **state)
{
	(void)state;
	if (chdir("/"))
		return -1;
	rpl_test_remove_tree(root);
	return 0;
}

static void test_published_and_read_back(void **state)
{
	struct rpl_progress_pub p = { 7, "build --all", 2, 100 * S, 0 };
	json_t *o = NULL;

	(void)state;
	assert_int_equal(rpl_progress_read(&o), 0); /* none yet */
	job(0, RPL_SCHED_RUNNING, 10, 0);
	jobs[0].run.name = "gnulib";
	jobs[0].started_ns = 101 * S;
	job(1, RPL_SCHED_PENDING, 10, 0);
	job(2, RPL_SCHED_OK, 10, 0);
	assert_int_equal(rpl_progress_publish(&p, ptrs, 3, "running", 0, 103 * S), 0);
	assert_int_equal(rpl_progress_read(&o), 1);
	assert_string_equal(json_string_value(json_object_get(o, "state")), "running");
	assert_int_equal(json_integer_value(json_object_get(o, "run")), 7);
	assert_int_equal(json_integer_value(json_object_get(o, "pid")), getpid());
	assert_int_equal(json_integer_value(json_object_get(o, "total")), 3);
	assert_int_equal(json_integer_value(json_object_get(o, "done")), 1);
	/* The longest job left (10 s) outlasts the work over the lanes ((8 + 10) / 2). */
	assert_true(json_real_value(json_object_get(o, "eta_seconds")) == 10);
	assert_string_equal(json_string_value(json_object_get(
	                            json_array_get(json_object_get(o, "running"), 0), "name")),
	                    "gnulib");
	json_decref(o);

	/* A quarter second later: not written again, unless forced. */
	jobs[0].state = RPL_SCHED_OK;
	assert_int_equal(rpl_progress_publish(&p, ptrs, 3, "running", 0, 103 * S + S / 4), 0);
	assert_int_equal(rpl_progress_read(&o), 1);
	assert_int_equal(json_integer_value(json_object_get(o, "done")), 1);
	json_decref(o);
	assert_int_equal(rpl_progress_publish(&p, ptrs, 3, "ok", 1, 103 * S + S / 4), 0);
	assert_int_equal(rpl_progress_read(&o), 1);
	assert_int_equal(json_integer_value(json_object_get(o, "done")), 2);
	assert_string_equal(json_string_value(json_object_get(o, "state")), "ok");
	json_decref(o);
}

static void test_a_broken_file_is_an_error_at_its_place(void **state)
{
	json_t *o = NULL;

	(void)state;
	rpl_test_write_file(root, RPL_PROGRESS_FILE, "{\"version\": 1,\n \"state\": }\n");
	assert_int_equal(rpl_progress_read(&o), -RPL_EPARSE);
	assert_null(o);
	if (strncmp(rpl_errmsg(), ".ripple/status.json:2:", 22))
		fail_msg("message: %s", rpl_errmsg());
	rpl_test_write_file(root, RPL_PROGRESS_FILE, "{\"version\": 9, \"state\": \"ok\"}\n");
	assert_int_equal(rpl_progress_read(&o), -RPL_EPARSE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_eta_is_work_over_lanes_or_the_chain),
		cmocka_unit_test(test_counts),
		cmocka_unit_test(test_skips_summed_up_by_cause),
		cmocka_unit_test_setup_teardown(test_published_and_read_back, in_root, out_of_root),
		cmocka_unit_test_setup_teardown(test_a_broken_file_is_an_error_at_its_place,
		                                in_root, out_of_root),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
