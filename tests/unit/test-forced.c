/*
 * The list of forced rebuilds (orchestrator/forced.h): written by a forced
 * run, a job leaves it once a successful build newer than that run's start
 * is recorded, older entries are kept by a later run until then, and a
 * list that is not version 1 is an error rather than a silent drop.
 */
#include "common/error.h"
#include "graph/graph.h"
#include "orchestrator/forced.h"
#include "orchestrator/plan.h"
#include "orchestrator/state.h"
#include "testlib.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

static char root[256];

static int setup(void **state)
{
	(void)state;
	return rpl_test_mkdtemp(root, sizeof(root), "forced");
}

static int teardown(void **state)
{
	(void)state;
	return rpl_test_remove_tree(root);
}

static struct rpl_state *open_state(void)
{
	struct rpl_state *st = NULL;

	if (rpl_state_open(&st, root, 1))
		fail_msg("rpl_state_open: %s", rpl_errmsg());
	return st;
}

/* A record of (name, package, x86_64) with `status`, finished at `ns`. */
static void put(struct rpl_state *st, const char *name, const char *status, int64_t ns)
{
	struct rpl_job_record rec;

	memset(&rec, 0, sizeof(rec));
	snprintf(rec.status, sizeof(rec.status), "%s", status);
	rec.finished_ns = ns;
	assert_int_equal(rpl_state_job_put(st, name, "package", "x86_64", &rec), 0);
}

/* Whether `name` is pending by `f` against its record in `st`; the run in *run. */
static int pending(struct rpl_state *st, const struct rpl_forced *f, const char *name, int64_t *run)
{
	struct rpl_job_record rec;
	int found = rpl_state_job_get(st, name, "package", "x86_64", &rec), r;

	assert_true(found >= 0);
	r = rpl_forced_pending(f, name, "package", "x86_64", found ? &rec : NULL, run);
	if (found)
		rpl_job_record_release(&rec);
	return r;
}

static void test_pending_until_rebuilt(void **state)
{
	struct rpl_node na = { 0 }, nb = { 0 };
	struct rpl_job a = { 0 }, b = { 0 };
	struct rpl_job *forced[2] = { &a, &b };
	struct rpl_state *st = open_state();
	struct rpl_forced *f;
	int64_t run = 0;

	(void)state;
	na.name = "a";
	nb.name = "b";
	a.node = &na;
	b.node = &nb;
	a.kind = b.kind = "package";
	a.arch = b.arch = "x86_64";
	put(st, "a", "ok", 100);
	put(st, "b", "ok", 100);

	/* No list: nothing is pending. */
	assert_int_equal(rpl_forced_load(st, &f), 0);
	assert_null(f);
	assert_int_equal(pending(st, f, "a", &run), 0);

	/* Run 7 forces a and b at 1000; a is rebuilt at 1500, b is not. */
	assert_int_equal(rpl_forced_update(st, NULL, forced, 2, 7, 1000), 0);
	put(st, "a", "ok", 1500);
	assert_int_equal(rpl_forced_load(st, &f), 0);
	assert_non_null(f);
	assert_int_equal(pending(st, f, "a", &run), 0);
	assert_int_equal(pending(st, f, "b", &run), 1);
	assert_int_equal(run, 7);
	assert_int_equal(pending(st, f, "c", &run), 0);

	/* A plain run 8 keeps what is pending (b) and drops a. */
	assert_int_equal(rpl_forced_update(st, f, NULL, 0, 8, 2000), 0);
	rpl_forced_free(f);
	assert_int_equal(rpl_forced_load(st, &f), 0);
	assert_int_equal(pending(st, f, "b", &run), 1);
	assert_int_equal(run, 7);
	/* A failed build of b does not take it off. */
	put(st, "b", "failed", 2500);
	assert_int_equal(pending(st, f, "b", &run), 1);
	put(st, "b", "ok", 2600);
	assert_int_equal(pending(st, f, "b", &run), 0);

	/* Nothing left pending: the list is removed. */
	assert_int_equal(rpl_forced_update(st, f, NULL, 0, 9, 3000), 0);
	rpl_forced_free(f);
	assert_int_equal(rpl_forced_load(st, &f), 0);
	assert_null(f);
	rpl_state_close(st);
}

static void test_bad_list_is_an_error(void **state)
{
	struct rpl_state *st = open_state();
	struct rpl_forced *f = NULL;
	const char *v2 = "{\"version\": 2, \"jobs\": []}";
	const char *entry = "{\"version\": 1, \"jobs\": [[\"a\", \"package\"]]}";

	(void)state;
	assert_int_equal(rpl_state_blob_put(st, "forced", v2, strlen(v2)), 0);
	assert_int_equal(rpl_forced_load(st, &f), -RPL_EPARSE);
	assert_null(f);
	assert_non_null(strstr(rpl_errmsg(), "not version 1"));
	assert_int_equal(rpl_state_blob_put(st, "forced", entry, strlen(entry)), 0);
	assert_int_equal(rpl_forced_load(st, &f), -RPL_EPARSE);
	assert_string_equal(rpl_errmsg(), "state database: entry 1 of the list of forced rebuilds "
	                                  "is not [name, kind, arch, run, since_ns]");
	rpl_state_close(st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_pending_until_rebuilt, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_list_is_an_error, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
