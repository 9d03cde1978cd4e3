/*
 * Old runs forgotten (orchestrator/prune.c): against a real state store and
 * real log files in a temporary directory.
 */
#include "orchestrator/prune.h"
#include "common/error.h"
#include "orchestrator/state.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/unit/testlib.h"

static char root[256];

static int make_root(void **state)
{
	(void)state;
	return rpl_test_mkdtemp(root, sizeof(root), "prune");
}

static int remove_root(void **state)
{
	(void)state;
	rpl_test_remove_tree(root);
	root[0] = '\0';
	return 0;
}

static int exists(const char *rel)
{
	char path[1024];
	struct stat sb;

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	return lstat(path, &sb) == 0;
}

static struct rpl_state *open_ok(void)
{
	struct rpl_state *st = NULL;

	if (rpl_state_open(&st, root, 1))
		fail_msg("rpl_state_open: %s", rpl_errmsg());
	return st;
}

/* A run of one job, "a" on x86_64, with its log; ended unless `running`. */
static int64_t add_run(struct rpl_state *st, int running)
{
	int64_t id = rpl_state_run_begin(st, "build");
	struct rpl_run_job_record r = { "a", "package", "x86_64", "ok", 1, 1.0, NULL, NULL };
	char log[128];

	assert_true(id > 0);
	snprintf(log, sizeof(log), ".ripple/logs/%lld/x86_64/a.log", (long long)id);
	rpl_test_write_file(root, log, "a log line\n");
	r.log = log;
	assert_int_equal(rpl_state_run_job_put(st, id, &r), 0);
	if (!running)
		assert_int_equal(rpl_state_run_end(st, id, "ok"), 0);
	return id;
}

static int has_run(struct rpl_state *st, int64_t id)
{
	struct rpl_run r;
	int found = rpl_state_run_read(st, id, &r);

	assert_true(found >= 0);
	rpl_run_release(&r);
	return found;
}

static void log_of(int64_t run, char *out, size_t n)
{
	snprintf(out, n, ".ripple/logs/%lld/x86_64/a.log", (long long)run);
}

/* The newest `keep` ended runs stay, with their logs; older ones go, rows and files. */
static void test_keeps_the_newest(void **state)
{
	struct rpl_state *st = open_ok();
	struct rpl_prune_result res;
	int64_t id[5];
	char log[128];

	(void)state;
	for (size_t i = 0; i < 5; i++)
		id[i] = add_run(st, 0);
	assert_int_equal(rpl_prune_runs(st, root, 2, &res), 0);
	assert_int_equal(res.runs, 3);
	assert_int_equal(res.logs, 3);
	assert_int_equal(res.bytes, 3 * strlen("a log line\n"));
	for (size_t i = 0; i < 5; i++) {
		char dir[64];
		log_of(id[i], log, sizeof(log));
		snprintf(dir, sizeof(dir), ".ripple/logs/%lld", (long long)id[i]);
		assert_int_equal(has_run(st, id[i]), i >= 3);
		assert_int_equal(exists(log), i >= 3);
		assert_int_equal(exists(dir), i >= 3);
	}
	/* Again: nothing more to do. */
	assert_int_equal(rpl_prune_runs(st, root, 2, &res), 0);
	assert_int_equal(res.runs + res.logs, 0);
	/* 0 keeps every run. */
	assert_int_equal(rpl_prune_runs(st, root, 0, &res), 0);
	assert_true(has_run(st, id[3]) && has_run(st, id[4]));
	rpl_state_close(st);
}

/* The log a job record names survives its run; a running run is never forgotten. */
static void test_record_logs_and_running_runs_stay(void **state)
{
	struct rpl_state *st = open_ok();
	struct rpl_job_record rec;
	struct rpl_prune_result res;
	int64_t first, open, last;
	char kept[128], gone[128];

	(void)state;
	first = add_run(st, 0);
	open = add_run(st, 1);
	add_run(st, 0);
	last = add_run(st, 0);
	log_of(first, kept, sizeof(kept));
	snprintf(gone, sizeof(gone), ".ripple/logs/%lld/x86_64/b.log", (long long)first);
	rpl_test_write_file(root, gone, "b\n");
	memset(&rec, 0, sizeof(rec));
	memcpy(rec.status, "ok", 3);
	rec.log = kept;
	assert_int_equal(rpl_state_job_put(st, "a", "package", "x86_64", &rec), 0);

	assert_int_equal(rpl_prune_runs(st, root, 1, &res), 0);
	assert_int_equal(res.runs, 2); /* `first` and the one after `open` */
	assert_false(has_run(st, first));
	assert_true(has_run(st, open));
	assert_true(has_run(st, last));
	assert_true(exists(kept));
	assert_false(exists(gone));
	rpl_state_close(st);
}

/*
 * A log directory of a run the store does not know goes, whatever is in
 * it; a symbolic link in it is removed, not followed; other names stay.
 */
static void test_unknown_runs_logs_go(void **state)
{
	struct rpl_state *st = open_ok();
	struct rpl_prune_result res;
	char target[512], link[512];

	(void)state;
	add_run(st, 0);
	rpl_test_write_file(root, ".ripple/logs/977/x86_64/old.log", "old\n");
	rpl_test_write_file(root, ".ripple/logs/977/x86_64/deeper/x.log", "x\n");
	rpl_test_write_file(root, ".ripple/logs/notes/keep.txt", "mine\n");
	rpl_test_write_file(root, "outside/precious", "precious\n");
	snprintf(target, sizeof(target), "%s/outside", root);
	snprintf(link, sizeof(link), "%s/.ripple/logs/977/x86_64/link", root);
	assert_int_equal(symlink(target, link), 0);

	assert_int_equal(rpl_prune_runs(st, root, 5, &res), 0);
	assert_int_equal(res.runs, 0);
	assert_int_equal(res.logs, 3);
	assert_false(exists(".ripple/logs/977"));
	assert_true(exists(".ripple/logs/1/x86_64/a.log"));
	assert_true(exists(".ripple/logs/notes/keep.txt"));
	assert_true(exists("outside/precious"));
	rpl_state_close(st);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, make_root, remove_root)
	const struct CMUnitTest tests[] = {
		T(test_keeps_the_newest),
		T(test_record_logs_and_running_runs_stay),
		T(test_unknown_runs_logs_go),
	};
#undef T
	return rpl_test_result(cmocka_run_group_tests(tests, NULL, NULL));
}
