/*
 * The state store's readers (RPL_STATE_READ, RPL_STATE_TRY): no lock taken,
 * nothing created, upgraded or written; what a writer commits meanwhile is
 * not mixed into a reader's moment; a store of another schema version is
 * refused, never touched; and who holds the lock, asked without taking it.
 * Each test works in a fresh temporary directory.
 */
#include "orchestrator/state.h"
#include "common/error.h"
#include "common/sha256.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <sqlite3.h>

#include <cmocka.h>

#include "tests/unit/testlib.h"

static char root[256];

static int make_root(void **state)
{
	(void)state;
	return rpl_test_mkdtemp(root, sizeof(root), "state-read");
}

static int remove_root(void **state)
{
	(void)state;
	rpl_test_remove_tree(root);
	root[0] = '\0';
	return 0;
}

static struct rpl_state *open_as(int mode)
{
	struct rpl_state *st = NULL;

	if (rpl_state_open(&st, root, mode))
		fail_msg("rpl_state_open(%d): %s", mode, rpl_errmsg());
	assert_non_null(st);
	return st;
}

static int exists(const char *rel)
{
	char path[1024];
	struct stat sb;

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	return stat(path, &sb) == 0;
}

static struct rpl_job_record record(const char *status)
{
	struct rpl_job_record rec;

	memset(&rec, 0, sizeof(rec));
	memset(rec.own_hash, 1, RPL_SHA256_LEN);
	memset(rec.input_hash, 2, RPL_SHA256_LEN);
	snprintf(rec.status, sizeof(rec.status), "%s", status);
	rec.duration = 3;
	return rec;
}

static int64_t runs(struct rpl_state *st)
{
	json_t *h = rpl_state_history(st, 100);
	int64_t n;

	assert_non_null(h);
	n = (int64_t)json_array_size(json_object_get(h, "runs"));
	json_decref(h);
	return n;
}

/* A monorepo without state: the reader sees an empty store and makes nothing. */
static void test_reader_of_nothing_creates_nothing(void **state)
{
	struct rpl_job_record rec = record("ok"), got;
	struct rpl_state *st;
	uint8_t d[RPL_SHA256_LEN];
	char buf[64];

	(void)state;
	st = open_as(RPL_STATE_READ);
	assert_true(rpl_state_is_reader(st));
	assert_int_equal(runs(st), 0);
	assert_int_equal(rpl_state_job_get(st, "a", "package", "x86_64", &got), 0);
	/* Its writes are dropped, not errors: what it would cache, a writer caches. */
	assert_int_equal(rpl_state_begin(st), 0);
	assert_int_equal(rpl_state_job_put(st, "a", "package", "x86_64", &rec), 0);
	assert_int_equal(rpl_state_meta_set(st, "k", "v"), 0);
	assert_int_equal(rpl_state_blob_put(st, "snapshot", "x", 1), 0);
	assert_int_equal(rpl_state_commit(st), 0);
	assert_int_equal(rpl_state_job_get(st, "a", "package", "x86_64", &got), 0);
	assert_int_equal(rpl_state_meta_get(st, "k", buf, sizeof(buf)), 0);
	rpl_test_write_file(root, "a.yaml", "package: {}\n");
	assert_int_equal(rpl_state_digest(st, "a.yaml", d), 0);
	rpl_state_close(st);
	assert_false(exists(".ripple"));
}

/*
 * A reader beside a writer that holds the lock: it does not wait, reads
 * what was committed when it opened (not what the writer commits after),
 * and writes nothing to the database the writer sees.
 */
static void test_reader_beside_a_writer(void **state)
{
	struct rpl_job_record rec = record("ok"), got;
	struct rpl_state *w, *r, *r2;
	uint8_t d[RPL_SHA256_LEN];
	char buf[64];
	long pid = -1;

	(void)state;
	w = open_as(RPL_STATE_NO_WAIT);
	assert_false(rpl_state_is_reader(w));
	assert_true(rpl_state_run_begin(w, "build") > 0);
	assert_int_equal(rpl_state_job_put(w, "a", "package", "x86_64", &rec), 0);
	/* The holder is seen, without taking the lock. */
	assert_int_equal(rpl_state_holder(root, &pid), 1);
	assert_int_equal(pid, (long)getpid());

	r = open_as(RPL_STATE_READ);
	assert_int_equal(runs(r), 1);
	assert_int_equal(rpl_state_job_get(r, "a", "package", "x86_64", &got), 1);
	assert_string_equal(got.status, "ok");
	rpl_job_record_release(&got);

	/* The writer goes on; the open reader stays at its moment. */
	assert_true(rpl_state_run_begin(w, "build again") > 0);
	assert_int_equal(runs(r), 1);
	/* A reader's writes never reach the store. */
	assert_int_equal(rpl_state_meta_set(r, "from-reader", "x"), 0);
	rpl_test_write_file(root, "b.yaml", "package: {}\n");
	assert_int_equal(rpl_state_digest(r, "b.yaml", d), 0);
	rpl_state_close(r);
	assert_int_equal(rpl_state_meta_get(w, "from-reader", buf, sizeof(buf)), 0);

	/* TRY finds the lock held: a reader, of the store as it is now. */
	r2 = open_as(RPL_STATE_TRY);
	assert_true(rpl_state_is_reader(r2));
	assert_int_equal(runs(r2), 2);
	rpl_state_close(r2);
	rpl_state_close(w);

	/* Nobody holds it now; TRY takes the lock and is a writer. */
	assert_int_equal(rpl_state_holder(root, &pid), 0);
	w = open_as(RPL_STATE_TRY);
	assert_false(rpl_state_is_reader(w));
	assert_int_equal(rpl_state_holder(root, &pid), 1);
	rpl_state_close(w);
}

/* Sets the stored schema version of the store at root, behind ripple's back. */
static void set_version(const char *v)
{
	char db[1024], q[128];
	sqlite3 *h;

	snprintf(db, sizeof(db), "%s/.ripple/state.db", root);
	snprintf(q, sizeof(q), "UPDATE meta SET value = '%s' WHERE key = 'schema'", v);
	assert_int_equal(sqlite3_open(db, &h), SQLITE_OK);
	assert_int_equal(sqlite3_exec(h, q, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(h);
}

/*
 * A store of another version: a reader neither upgrades nor rebuilds it;
 * it says what it found, and which error tells a writer upgrading it from
 * one that is not there.
 */
static void test_reader_refuses_another_schema(void **state)
{
	struct rpl_state *st = NULL, *w;
	char buf[64];

	(void)state;
	w = open_as(RPL_STATE_WAIT);
	assert_true(rpl_state_run_begin(w, "build") > 0);
	rpl_state_close(w);
	set_version("99");

	assert_int_equal(rpl_state_open(&st, root, RPL_STATE_READ), -RPL_ESCHEMA);
	assert_null(st);
	if (!strstr(rpl_errmsg(), "schema version 99"))
		fail_msg("message: %s", rpl_errmsg());

	/* Held by a writer that has not upgraded it (another ripple's version). */
	w = open_as(RPL_STATE_NO_WAIT); /* rebuilds it: this version, no runs */
	set_version("99");
	assert_int_equal(rpl_state_open(&st, root, RPL_STATE_READ), -EWOULDBLOCK);
	if (!strstr(rpl_errmsg(), "another ripple (pid"))
		fail_msg("message: %s", rpl_errmsg());
	set_version(RPL_STATE_SCHEMA);
	rpl_state_close(w);

	/* Untouched by the readers: still the writer's records. */
	set_version("99");
	assert_int_equal(rpl_state_open(&st, root, RPL_STATE_READ), -RPL_ESCHEMA);
	set_version(RPL_STATE_SCHEMA);
	st = open_as(RPL_STATE_READ);
	assert_int_equal(rpl_state_meta_get(st, "schema", buf, sizeof(buf)), 1);
	assert_string_equal(buf, RPL_STATE_SCHEMA);
	assert_int_equal(runs(st), 0);
	rpl_state_close(st);
}

/* A database file with no tables yet (a writer making it this moment): empty. */
static void test_reader_of_a_store_being_made(void **state)
{
	struct rpl_state *st;
	char db[1024];
	sqlite3 *h;

	(void)state;
	snprintf(db, sizeof(db), "%s/.ripple/state.db", root);
	rpl_test_write_file(root, ".ripple/keep", "");
	assert_int_equal(sqlite3_open(db, &h), SQLITE_OK);
	assert_int_equal(sqlite3_exec(h, "PRAGMA journal_mode=WAL", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(h);
	st = open_as(RPL_STATE_READ);
	assert_int_equal(runs(st), 0);
	rpl_state_close(st);
	/* Still without tables: the reader made none. */
	assert_int_equal(sqlite3_open(db, &h), SQLITE_OK);
	assert_int_not_equal(sqlite3_exec(h, "SELECT * FROM meta", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, make_root, remove_root)
		T(test_reader_of_nothing_creates_nothing),
		T(test_reader_beside_a_writer),
		T(test_reader_refuses_another_schema),
		T(test_reader_of_a_store_being_made),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
