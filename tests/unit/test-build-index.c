/*
 * The batches of `ripple build` (orchestrator/build_index.h): when an
 * index is written again for no job's sake (a second after the last
 * write, or ten times what that write took), and the run_job rows queued
 * as jobs end, written in one transaction, each job once, with its status,
 * duration, log and message, and none in a dry run.
 */
#include "common/error.h"
#include "graph/graph.h"
#include "orchestrator/build.h"
#include "orchestrator/build_index.h"
#include "orchestrator/plan.h"
#include "orchestrator/sched.h"
#include "orchestrator/state.h"
#include "testlib.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define SEC 1000000000LL
#define MS 1000000LL

static void flush_due_a_second_after_a_quick_write(void **state)
{
	(void)state;
	/* A write of 20 ms: the next one a second after it, not before. */
	assert_int_equal(rpl_build_flush_due(10 * SEC + 999 * MS, 10 * SEC, 20 * MS), 0);
	assert_int_equal(rpl_build_flush_due(11 * SEC, 10 * SEC, 20 * MS), 1);
	/* Never written yet (0 ns taken): a second too. */
	assert_int_equal(rpl_build_flush_due(SEC - 1, 0, 0), 0);
	assert_int_equal(rpl_build_flush_due(SEC, 0, 0), 1);
	/* 100 ms is where ten times the write is a second. */
	assert_int_equal(rpl_build_flush_due(SEC, 0, 100 * MS), 1);
}

static void flush_due_ten_times_a_slow_write(void **state)
{
	(void)state;
	/* A write of 400 ms: four seconds between writes, so that writing
	 * stays a tenth of the run. */
	assert_int_equal(rpl_build_flush_due(10 * SEC + 3 * SEC, 10 * SEC, 400 * MS), 0);
	assert_int_equal(rpl_build_flush_due(10 * SEC + 4 * SEC - 1, 10 * SEC, 400 * MS), 0);
	assert_int_equal(rpl_build_flush_due(10 * SEC + 4 * SEC, 10 * SEC, 400 * MS), 1);
	/* A write of 2 s: 20 s. */
	assert_int_equal(rpl_build_flush_due(19 * SEC, 0, 2 * SEC), 0);
	assert_int_equal(rpl_build_flush_due(20 * SEC, 0, 2 * SEC), 1);
}

/* Three jobs of a run: a built, b failed with a message, c never started. */
struct three {
	struct rpl_node nodes[3];
	struct rpl_job jobs[3];
	struct rpl_sched_job sjobs[3];
	struct bjob bjobs[3];
	struct bopts o;
	struct build b;
	char root[256];
};

static void three_init(struct three *t)
{
	static const char *names[] = { "a", "b", "c" };
	static char *logs[] = { ".ripple/logs/1/x86_64/a.log", ".ripple/logs/1/x86_64/b.log",
		                ".ripple/logs/1/x86_64/c.log" };

	memset(t, 0, sizeof(*t));
	for (size_t i = 0; i < 3; i++) {
		t->nodes[i].name = names[i];
		t->jobs[i].node = &t->nodes[i];
		t->jobs[i].kind = "package";
		t->jobs[i].arch = "x86_64";
		t->bjobs[i].plan = &t->jobs[i];
		t->bjobs[i].sj = &t->sjobs[i];
		t->bjobs[i].log = logs[i];
	}
	t->sjobs[0].started_ns = 5 * SEC;
	t->sjobs[0].finished_ns = 7 * SEC;
	t->sjobs[1].started_ns = 6 * SEC;
	t->sjobs[1].finished_ns = 6 * SEC + 500 * MS;
	t->sjobs[1].message = "exit 1";
	t->b.o = &t->o;
	if (rpl_test_mkdtemp(t->root, sizeof(t->root), "build-index"))
		fail_msg("mkdtemp: %s", strerror(errno));
	if (rpl_state_open(&t->b.st, t->root, 1))
		fail_msg("rpl_state_open: %s", rpl_errmsg());
	t->b.run = rpl_state_run_begin(t->b.st, "build --all");
	assert_true(t->b.run > 0);
}

static void three_release(struct three *t)
{
	free(t->b.rows);
	rpl_state_close(t->b.st);
	rpl_test_remove_tree(t->root);
}

static const struct rpl_run_row *row_of(const struct rpl_run *r, const char *name)
{
	for (size_t i = 0; i < r->njobs; i++)
		if (!strcmp(r->jobs[i].name, name))
			return &r->jobs[i];
	return NULL;
}

static void rows_queued_then_written_at_once(void **state)
{
	struct three t;
	struct rpl_run r;
	const struct rpl_run_row *a, *b, *c;

	(void)state;
	three_init(&t);
	rpl_build_run_row(&t.b, &t.bjobs[0], "ok");
	rpl_build_run_row(&t.b, &t.bjobs[1], "failed");
	rpl_build_run_row(&t.b, &t.bjobs[2], "not run");
	assert_int_equal(t.b.nrows, 3);

	/* Queued only: the run has no rows yet. */
	memset(&r, 0, sizeof(r));
	assert_int_equal(rpl_state_run_read(t.b.st, t.b.run, &r), 1);
	assert_int_equal(r.njobs, 0);
	rpl_run_release(&r);

	assert_int_equal(rpl_build_rows_flush(&t.b), 0);
	assert_int_equal(t.b.nrows, 0);
	memset(&r, 0, sizeof(r));
	assert_int_equal(rpl_state_run_read(t.b.st, t.b.run, &r), 1);
	assert_int_equal(r.njobs, 3);
	a = row_of(&r, "a");
	b = row_of(&r, "b");
	c = row_of(&r, "c");
	assert_non_null(a);
	assert_non_null(b);
	assert_non_null(c);
	assert_string_equal(a->status, "ok");
	assert_int_equal(a->started_ns, 5 * SEC);
	assert_true(a->duration > 1.99 && a->duration < 2.01);
	assert_string_equal(a->log, ".ripple/logs/1/x86_64/a.log");
	assert_null(a->message);
	assert_string_equal(b->status, "failed");
	assert_string_equal(b->message, "exit 1");
	assert_string_equal(c->status, "not run");
	assert_null(c->log); /* it never started: no log to point to */
	rpl_run_release(&r);

	/* Nothing queued: nothing written, no error. */
	assert_int_equal(rpl_build_rows_flush(&t.b), 0);
	three_release(&t);
}

static void rows_flushed_by_indexes_flush_all(void **state)
{
	struct three t;
	struct rpl_run r;

	(void)state;
	three_init(&t);
	rpl_build_run_row(&t.b, &t.bjobs[0], "ok");
	/* No index to write; `all` (the end of a run) writes the rows. */
	assert_int_equal(rpl_build_indexes_flush(&t.b, 1), 0);
	assert_int_equal(t.b.nrows, 0);
	memset(&r, 0, sizeof(r));
	assert_int_equal(rpl_state_run_read(t.b.st, t.b.run, &r), 1);
	assert_int_equal(r.njobs, 1);
	assert_string_equal(r.jobs[0].name, "a");
	rpl_run_release(&r);
	three_release(&t);
}

static void no_rows_in_a_dry_run(void **state)
{
	struct three t;

	(void)state;
	three_init(&t);
	t.o.dry_run = 1;
	rpl_build_run_row(&t.b, &t.bjobs[0], "ok");
	assert_int_equal(t.b.nrows, 0);
	three_release(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(flush_due_a_second_after_a_quick_write),
		cmocka_unit_test(flush_due_ten_times_a_slow_write),
		cmocka_unit_test(rows_queued_then_written_at_once),
		cmocka_unit_test(rows_flushed_by_indexes_flush_all),
		cmocka_unit_test(no_rows_in_a_dry_run),
	};

	return rpl_test_result(cmocka_run_group_tests(tests, NULL, NULL));
}
