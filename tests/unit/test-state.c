/*
 * The state store: creating .ripple/, schema rebuilds, the stat cache and
 * git's racy rule, the parse cache, job records (from the database and
 * preloaded), the generation, meta values, runs (and those that never
 * ended), what was seen of output repositories, the job that produced a
 * file, a record set to "interrupted", and the lock.  Each test
 * works in a fresh temporary directory and reopens the store where a new
 * ripple process would (a handle remembers the digests it took).
 */
#include "orchestrator/state.h"
#include "runners/repo.h"
#include "common/strmap.h"
#include "common/error.h"
#include "common/sha256.h"

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <sqlite3.h>

#include <cmocka.h>

#include "tests/unit/testlib.h"

/* ---- the temporary directory ---------------------------------------------- */

static char root[256];

static int make_root(void **state)
{
	(void)state;
	return rpl_test_mkdtemp(root, sizeof(root), "state");
}

static int remove_root(void **state)
{
	(void)state;
	rpl_test_remove_tree(root);
	root[0] = '\0';
	return 0;
}

static void full_path(char *out, size_t n, const char *rel)
{
	snprintf(out, n, "%s/%s", root, rel);
}

/* Writes `text` in place (O_TRUNC keeps the inode of an existing file). */
static void write_file(const char *rel, const char *text)
{
	rpl_test_write_file(root, rel, text);
}

static void stat_file(const char *rel, struct stat *sb)
{
	char path[1024];

	full_path(path, sizeof(path), rel);
	if (stat(path, sb))
		fail_msg("stat %s: %s", path, strerror(errno));
}

static void set_mtime(const char *rel, struct timespec mtime)
{
	char path[1024];
	struct timespec ts[2] = { mtime, mtime };

	full_path(path, sizeof(path), rel);
	if (utimensat(AT_FDCWD, path, ts, 0))
		fail_msg("utimensat %s: %s", path, strerror(errno));
}

static struct timespec seconds_ago(time_t s)
{
	struct timespec now;

	clock_gettime(CLOCK_REALTIME, &now);
	now.tv_sec -= s;
	return now;
}

static struct rpl_state *open_ok(void)
{
	struct rpl_state *st = NULL;
	int err = rpl_state_open(&st, root, 1);

	if (err)
		fail_msg("rpl_state_open: %s", rpl_errmsg());
	assert_non_null(st);
	return st;
}

static void hex_of(const uint8_t d[RPL_SHA256_LEN], char out[RPL_SHA256_HEX])
{
	rpl_hex(d, RPL_SHA256_LEN, out);
}

static void hex_sha(const char *text, char out[RPL_SHA256_HEX])
{
	uint8_t d[RPL_SHA256_LEN];

	rpl_sha256(text, strlen(text), d);
	hex_of(d, out);
}

/* The digest of `rel` from a fresh handle, as hex. */
static void digest_hex(const char *rel, char out[RPL_SHA256_HEX])
{
	struct rpl_state *st = open_ok();
	uint8_t d[RPL_SHA256_LEN];
	int err = rpl_state_digest(st, rel, d);

	if (err)
		fail_msg("digest %s: %d %s", rel, err, rpl_errmsg());
	hex_of(d, out);
	rpl_state_close(st);
}

static void fill_digest(uint8_t d[RPL_SHA256_LEN], int seed)
{
	for (int i = 0; i < RPL_SHA256_LEN; i++)
		d[i] = (uint8_t)(seed * 31 + i);
}

/* ---- opening ----------------------------------------------------------------- */

static void test_open_creates_dir_db_and_gitignore(void **state)
{
	struct rpl_state *st;
	struct stat sb;
	char buf[64] = "";
	FILE *f;

	(void)state;
	st = open_ok();
	stat_file(".ripple", &sb);
	assert_true(S_ISDIR(sb.st_mode));
	stat_file(".ripple/state.db", &sb);
	assert_true(S_ISREG(sb.st_mode));
	stat_file(".ripple/lock", &sb);
	assert_true(S_ISREG(sb.st_mode));

	{
		char path[1024];
		full_path(path, sizeof(path), ".ripple/.gitignore");
		f = fopen(path, "r");
		assert_non_null(f);
		assert_non_null(fgets(buf, sizeof(buf), f));
		fclose(f);
	}
	/* `*` ignores the whole directory, itself included. */
	assert_string_equal(buf, "*\n");
	assert_int_equal(rpl_state_meta_get(st, "schema", buf, sizeof(buf)), 1);
	assert_string_equal(buf, "6");
	rpl_state_close(st);
}

static void test_open_missing_root_fails(void **state)
{
	struct rpl_state *st = (struct rpl_state *)&st;
	char path[1024];
	int err;

	(void)state;
	full_path(path, sizeof(path), "no/such/dir");
	err = rpl_state_open(&st, path, 1);
	assert_int_equal(err, -ENOENT);
	assert_null(st);
	assert_non_null(strstr(rpl_errmsg(), "cannot create"));
}

static void test_reopen_keeps_records(void **state)
{
	struct rpl_state *st = open_ok();
	struct rpl_job_record rec = { 0 }, got;
	char buf[64];

	(void)state;
	fill_digest(rec.own_hash, 1);
	fill_digest(rec.input_hash, 2);
	snprintf(rec.status, sizeof(rec.status), "ok");
	assert_int_equal(rpl_state_job_put(st, "zlib", "package", "x86_64", &rec), 0);
	assert_int_equal(rpl_state_meta_set(st, "colour", "blue"), 0);
	rpl_state_close(st);

	st = open_ok();
	assert_int_equal(rpl_state_job_get(st, "zlib", "package", "x86_64", &got), 1);
	assert_memory_equal(got.own_hash, rec.own_hash, RPL_SHA256_LEN);
	assert_memory_equal(got.input_hash, rec.input_hash, RPL_SHA256_LEN);
	assert_string_equal(got.status, "ok");
	rpl_job_record_release(&got);
	assert_int_equal(rpl_state_meta_get(st, "colour", buf, sizeof(buf)), 1);
	assert_string_equal(buf, "blue");
	assert_int_equal(rpl_state_generation(st), 1);
	rpl_state_close(st);
}

/* Another schema version: the file is rebuilt empty. */
static void test_other_schema_version_is_rebuilt(void **state)
{
	struct rpl_state *st = open_ok();
	struct rpl_job_record rec = { 0 }, got;
	uint8_t key[RPL_SHA256_LEN];
	char buf[64];

	(void)state;
	snprintf(rec.status, sizeof(rec.status), "ok");
	assert_int_equal(rpl_state_job_put(st, "zlib", "package", "x86_64", &rec), 0);
	fill_digest(key, 3);
	assert_int_equal(rpl_state_parse_put(st, "zlib.yaml", key, "data", 4), 0);
	assert_int_equal(rpl_state_meta_set(st, "colour", "blue"), 0);
	assert_int_equal(rpl_state_meta_set(st, "schema", "1"), 0);
	rpl_state_close(st);

	st = open_ok();
	assert_int_equal(rpl_state_job_get(st, "zlib", "package", "x86_64", &got), 0);
	assert_int_equal(rpl_state_meta_get(st, "colour", buf, sizeof(buf)), 0);
	assert_int_equal(rpl_state_meta_get(st, "schema", buf, sizeof(buf)), 1);
	assert_string_equal(buf, "6");
	assert_int_equal(rpl_state_generation(st), 0);
	rpl_state_close(st);
}

/* What version 6 added, taken away again. */
#define V5_DOWNGRADE "ALTER TABLE job DROP COLUMN cache;"

/* What versions 5 and 6 added, taken away again. */
static const char v4_downgrade[] =
        V5_DOWNGRADE " DROP TABLE repo_file; DROP INDEX run_open; DROP INDEX job_output_path;"
                     " DROP INDEX run_job_job; ALTER TABLE run_job DROP COLUMN slot;"
                     " ALTER TABLE run_job DROP COLUMN cause_name;"
                     " ALTER TABLE run_job DROP COLUMN cause_kind;"
                     " ALTER TABLE run_job DROP COLUMN cause_arch;"
                     " ALTER TABLE run_job DROP COLUMN critical;";

/*
 * Stores of versions 2 (no blob table), 3 (no job log, job_output,
 * run_job), 4 (no repo_file, run_job without its details) and 5 (no job
 * cache) are upgraded in place: records stay.
 */
static void upgrade_from(const char *version, const char *downgrade)
{
	struct rpl_state *st = open_ok();
	struct rpl_job_record rec = { 0 }, got;
	char db[1024], buf[64], sqlbuf[512];
	void *data;
	size_t len;
	sqlite3 *h;

	snprintf(rec.status, sizeof(rec.status), "ok");
	fill_digest(rec.own_hash, 7);
	assert_int_equal(rpl_state_job_put(st, "zlib", "package", "x86_64", &rec), 0);
	rpl_state_close(st);
	full_path(db, sizeof(db), ".ripple/state.db");
	assert_int_equal(sqlite3_open(db, &h), SQLITE_OK);
	snprintf(sqlbuf, sizeof(sqlbuf), "%s UPDATE meta SET value = '%s' WHERE key = 'schema';",
	         downgrade, version);
	assert_int_equal(sqlite3_exec(h, sqlbuf, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(h);

	st = open_ok();
	assert_int_equal(rpl_state_meta_get(st, "schema", buf, sizeof(buf)), 1);
	assert_string_equal(buf, "6");
	assert_int_equal(rpl_state_job_get(st, "zlib", "package", "x86_64", &got), 1);
	assert_memory_equal(got.own_hash, rec.own_hash, RPL_SHA256_LEN);
	assert_int_equal(rpl_state_blob_get(st, "snapshot", &data, &len), 0);
	assert_int_equal(rpl_state_blob_put(st, "snapshot", "abc", 3), 0);
	rec.log = ".ripple/logs/1/x86_64/zlib.log";
	rec.cache = "local";
	assert_int_equal(rpl_state_job_put(st, "zlib", "package", "x86_64", &rec), 0);
	{
		struct rpl_repo_seen seen = { 1, 2, 3, 4, "Q1x" };
		assert_int_equal(rpl_state_repo_put(st, "packages/x86_64", "a.apk", &seen), 0);
	}
	rpl_state_close(st);
}

static void test_schema_2_to_5_are_upgraded(void **state)
{
	static const char *const v4 = v4_downgrade;
	static const char v3[] =
	        "DROP TABLE repo_file; DROP INDEX run_open;"
	        " DROP INDEX job_output_path; DROP TABLE job_output; DROP TABLE run_job;"
	        " ALTER TABLE job DROP COLUMN log; ALTER TABLE job DROP COLUMN cache;";
	char v2[256];

	(void)state;
	upgrade_from("5", V5_DOWNGRADE);
	rpl_test_remove_tree(root);
	assert_int_equal(mkdir(root, 0755), 0);
	upgrade_from("4", v4);
	rpl_test_remove_tree(root);
	assert_int_equal(mkdir(root, 0755), 0);
	upgrade_from("3", v3);
	rpl_test_remove_tree(root);
	assert_int_equal(mkdir(root, 0755), 0);
	snprintf(v2, sizeof(v2), "%s DROP TABLE blob;", v3);
	upgrade_from("2", v2);
}

/*
 * A store of version 4 (run_job without slot, cause and critical, and
 * without its index by job) is upgraded in place: its runs stay, read back
 * with nothing recorded for the new columns, and take them from then on.
 */
static void test_schema_4_is_upgraded(void **state)
{
	static const char *const v4 = v4_downgrade;
	struct rpl_run_job_record skip = {
		"web", "image", "x86_64", "skipped", 0, 0, NULL, "waiting on curl (x86_64) failed"
	};
	struct rpl_run_job_detail d = { -1, "curl", "package", "x86_64", 0 };
	struct rpl_state *st;
	struct rpl_run r;
	int64_t run;
	char db[1024], buf[64];
	sqlite3 *h;
	sqlite3_stmt *q;

	(void)state;
	upgrade_from("4", v4);
	st = open_ok();
	assert_true((run = rpl_state_run_begin(st, "build")) > 0);
	assert_int_equal(rpl_state_run_job_put(st, run, &skip), 0);
	rpl_state_close(st);
	/* Back to version 4, with the run in it. */
	full_path(db, sizeof(db), ".ripple/state.db");
	assert_int_equal(sqlite3_open(db, &h), SQLITE_OK);
	assert_int_equal(sqlite3_exec(h, v4, NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_exec(h, "UPDATE meta SET value = '4' WHERE key = 'schema'", NULL,
	                              NULL, NULL),
	                 SQLITE_OK);
	sqlite3_close(h);

	st = open_ok();
	assert_int_equal(rpl_state_meta_get(st, "schema", buf, sizeof(buf)), 1);
	assert_string_equal(buf, "6");
	assert_int_equal(rpl_state_run_read(st, run, &r), 1);
	assert_int_equal(r.njobs, 1);
	assert_string_equal(r.jobs[0].name, "web");
	assert_int_equal(r.jobs[0].slot, -1);
	assert_null(r.jobs[0].cause_name);
	rpl_run_release(&r);
	assert_int_equal(rpl_state_run_job_detail_put(st, run, "web", "image", "x86_64", &d), 0);
	assert_int_equal(rpl_state_run_read(st, run, &r), 1);
	assert_string_equal(r.jobs[0].cause_name, "curl");
	assert_string_equal(r.jobs[0].cause_arch, "x86_64");
	rpl_run_release(&r);
	rpl_state_close(st);

	/* The index is back: a job's earlier runs are found through it. */
	assert_int_equal(sqlite3_open(db, &h), SQLITE_OK);
	assert_int_equal(
	        sqlite3_prepare_v2(h,
	                           "SELECT count(*) FROM sqlite_master WHERE type = 'index'"
	                           " AND name = 'run_job_job'",
	                           -1, &q, NULL),
	        SQLITE_OK);
	assert_int_equal(sqlite3_step(q), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(q, 0), 1);
	sqlite3_finalize(q);
	sqlite3_close(h);
}

/*
 * One run read back whole: its jobs in start order (those that never
 * started last), their details, and each job's last successful build in an
 * earlier run.
 */
static void test_run_read(void **state)
{
	struct rpl_state *st = open_ok();
	struct rpl_run_job_record a1 = { "a", "package", "x86_64", "ok", 100, 2.0, "l/a", NULL };
	struct rpl_run_job_record a2 = {
		"a", "package", "x86_64", "failed", 300, 1.0, "l/a2", "no"
	};
	struct rpl_run_job_record a3 = { "a", "package", "x86_64", "ok", 500, 3.0, "l/a3", NULL };
	struct rpl_run_job_record b3 = { "b", "package", "x86_64", "ok", 400, 1.5, "l/b3", NULL };
	struct rpl_run_job_record c3 = { "c", "image", "x86_64", "skipped", 0, 0, NULL, "why" };
	struct rpl_run_job_detail d = { 1, NULL, NULL, NULL, 2 };
	struct rpl_run r;
	int64_t run1, run2, run3;

	(void)state;
	run1 = rpl_state_run_begin(st, "build one");
	assert_int_equal(rpl_state_run_job_put(st, run1, &a1), 0);
	assert_int_equal(rpl_state_run_end(st, run1, "ok"), 0);
	run2 = rpl_state_run_begin(st, "build two");
	assert_int_equal(rpl_state_run_job_put(st, run2, &a2), 0);
	run3 = rpl_state_run_begin(st, "build three");
	assert_int_equal(rpl_state_run_job_put(st, run3, &c3), 0);
	assert_int_equal(rpl_state_run_job_put(st, run3, &a3), 0);
	assert_int_equal(rpl_state_run_job_put(st, run3, &b3), 0);
	assert_int_equal(rpl_state_run_job_detail_put(st, run3, "a", "package", "x86_64", &d), 0);

	/* 0: the last run. */
	assert_int_equal(rpl_state_run_read(st, 0, &r), 1);
	assert_int_equal(r.id, run3);
	assert_string_equal(r.command, "build three");
	assert_string_equal(r.status, "running");
	assert_int_equal(r.finished_ns, 0);
	assert_int_equal(r.njobs, 3);
	assert_string_equal(r.jobs[0].name, "b");
	assert_int_equal(r.jobs[0].prev_run, 0);
	assert_true(r.jobs[0].prev_duration < 0);
	assert_int_equal(r.jobs[0].slot, -1);
	assert_string_equal(r.jobs[1].name, "a");
	assert_int_equal(r.jobs[1].started_ns, 500);
	/* Run 2 failed it: the previous build is run 1's. */
	assert_int_equal(r.jobs[1].prev_run, run1);
	assert_true(r.jobs[1].prev_duration == 2.0);
	assert_int_equal(r.jobs[1].slot, 1);
	assert_int_equal(r.jobs[1].critical, 2);
	assert_string_equal(r.jobs[2].name, "c");
	assert_string_equal(r.jobs[2].message, "why");
	assert_null(r.jobs[2].log);
	rpl_run_release(&r);

	assert_int_equal(rpl_state_run_read(st, run1, &r), 1);
	assert_int_equal(r.njobs, 1);
	assert_int_equal(r.jobs[0].prev_run, 0);
	assert_true(r.finished_ns > 0);
	rpl_run_release(&r);
	assert_int_equal(rpl_state_run_read(st, run3 + 1, &r), 0);
	rpl_run_release(&r);
	rpl_state_close(st);
}

/* Runs, what they did with each job, and what history makes of them. */
static void test_runs_and_history(void **state)
{
	struct rpl_state *st = open_ok();
	struct rpl_job_record rec = { 0 };
	static char *outputs[] = { "packages/x86_64/zlib-1-r0.apk" };
	uint8_t od[1][RPL_SHA256_LEN];
	int64_t run;
	json_t *h, *r;

	(void)state;
	run = rpl_state_run_begin(st, "build --all");
	assert_true(run > 0);
	{
		struct rpl_run_job_record ok = {
			"zlib", "package",    "x86_64", "ok", 1700000000000000000,
			12.5,   "l/zlib.log", NULL
		};
		struct rpl_run_job_record bad = { "curl",
			                          "package",
			                          "x86_64",
			                          "failed",
			                          1700000001000000000,
			                          3.0,
			                          "l/curl.log",
			                          "melange exited with status 1" };
		struct rpl_run_job_record skip = { "web",    "image",
			                           "x86_64", "skipped",
			                           0,        0,
			                           NULL,     "waiting on curl (x86_64) failed" };
		assert_int_equal(rpl_state_run_job_put(st, run, &ok), 0);
		assert_int_equal(rpl_state_run_job_put(st, run, &bad), 0);
		assert_int_equal(rpl_state_run_job_put(st, run, &skip), 0);
	}
	snprintf(rec.status, sizeof(rec.status), "ok");
	rec.duration = 12.5;
	rec.log = "l/zlib.log";
	fill_digest(od[0], 9);
	rec.outputs = outputs;
	rec.output_digests = (const uint8_t(*)[RPL_SHA256_LEN])od;
	rec.noutputs = 1;
	assert_int_equal(rpl_state_job_put(st, "zlib", "package", "x86_64", &rec), 0);
	assert_int_equal(rpl_state_run_end(st, run, "failed"), 0);

	h = rpl_state_history(st, 10);
	assert_non_null(h);
	r = json_array_get(json_object_get(h, "runs"), 0);
	assert_string_equal(json_string_value(json_object_get(r, "command")), "build --all");
	assert_string_equal(json_string_value(json_object_get(r, "status")), "failed");
	assert_int_equal(json_integer_value(json_object_get(r, "built")), 1);
	assert_int_equal(json_integer_value(json_object_get(r, "failed")), 1);
	assert_int_equal(json_integer_value(json_object_get(r, "skipped")), 1);
	assert_int_equal(json_array_size(json_object_get(h, "failures")), 1);
	r = json_array_get(json_object_get(h, "failures"), 0);
	assert_string_equal(json_string_value(json_object_get(r, "name")), "curl");
	assert_string_equal(json_string_value(json_object_get(r, "message")),
	                    "melange exited with status 1");
	r = json_array_get(json_object_get(h, "slowest"), 0);
	assert_string_equal(json_string_value(json_object_get(r, "name")), "zlib");
	assert_true(json_real_value(json_object_get(r, "duration")) == 12.5);
	json_decref(h);
	rpl_state_close(st);
}

/* Blobs: absent, written, replaced, empty; the caller owns the copy. */
static void test_blob_roundtrip(void **state)
{
	struct rpl_state *st = open_ok();
	static char big[200000];
	void *data = (void *)1;
	size_t len = 99;

	(void)state;
	assert_int_equal(rpl_state_blob_get(st, "snapshot", &data, &len), 0);
	assert_null(data);
	assert_int_equal(len, 0);
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (char)(i * 7);
	assert_int_equal(rpl_state_blob_put(st, "snapshot", big, sizeof(big)), 0);
	assert_int_equal(rpl_state_blob_put(st, "other", "x", 1), 0);
	rpl_state_close(st);

	st = open_ok();
	assert_int_equal(rpl_state_blob_get(st, "snapshot", &data, &len), 1);
	assert_int_equal(len, sizeof(big));
	assert_memory_equal(data, big, sizeof(big));
	free(data);
	assert_int_equal(rpl_state_blob_put(st, "snapshot", "", 0), 0);
	assert_int_equal(rpl_state_blob_get(st, "snapshot", &data, &len), 1);
	assert_int_equal(len, 0);
	free(data);
	assert_int_equal(rpl_state_blob_get(st, "other", &data, &len), 1);
	assert_memory_equal(data, "x", 1);
	free(data);
	/* From pieces: one blob, in order, empty pieces allowed. */
	{
		struct iovec parts[4] = { { "head", 4 }, { big, 1000 }, { "", 0 }, { "tail", 4 } };
		assert_int_equal(rpl_state_blob_putv(st, "parts", parts, 4), 0);
		assert_int_equal(rpl_state_blob_get(st, "parts", &data, &len), 1);
		assert_int_equal(len, 1008);
		assert_memory_equal(data, "head", 4);
		assert_memory_equal((char *)data + 4, big, 1000);
		assert_memory_equal((char *)data + 1004, "tail", 4);
		free(data);
	}
	rpl_state_close(st);
}

static void count_row(void *ctx, const char *file, const uint8_t *key, const void *data, size_t len)
{
	(void)file;
	(void)key;
	(void)data;
	(void)len;
	(*(int *)ctx)++;
}

/* A database written by some other ripple, with other tables: rebuilt too. */
static void test_foreign_schema_database_is_rebuilt(void **state)
{
	char dir[1024], db[1024];
	sqlite3 *h;
	struct rpl_state *st;
	struct rpl_job_record rec = { 0 }, got;
	int rows = 0;

	(void)state;
	full_path(dir, sizeof(dir), ".ripple");
	assert_int_equal(mkdir(dir, 0755), 0);
	full_path(db, sizeof(db), ".ripple/state.db");
	assert_int_equal(sqlite3_open(db, &h), SQLITE_OK);
	assert_int_equal(sqlite3_exec(h,
	                              "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT);"
	                              "INSERT INTO meta VALUES ('schema', '99');"
	                              "CREATE TABLE job(x INTEGER);"
	                              "CREATE TABLE parse(file TEXT, extra TEXT);"
	                              "INSERT INTO parse VALUES ('old.yaml', 'x');",
	                              NULL, NULL, NULL),
	                 SQLITE_OK);
	sqlite3_close(h);

	st = open_ok();
	snprintf(rec.status, sizeof(rec.status), "ok");
	fill_digest(rec.own_hash, 4);
	assert_int_equal(rpl_state_job_put(st, "zlib", "package", "x86_64", &rec), 0);
	assert_int_equal(rpl_state_job_get(st, "zlib", "package", "x86_64", &got), 1);
	assert_memory_equal(got.own_hash, rec.own_hash, RPL_SHA256_LEN);
	rpl_job_record_release(&got);
	assert_int_equal(rpl_state_parse_each(st, count_row, &rows), 0);
	assert_int_equal(rows, 0);
	rpl_state_close(st);
}

/* ---- the stat cache ------------------------------------------------------------ */

static void test_digest_is_sha256_of_the_file(void **state)
{
	char want[RPL_SHA256_HEX], got[RPL_SHA256_HEX];

	(void)state;
	write_file("f.txt", "hello world\n");
	hex_sha("hello world\n", want);
	digest_hex("f.txt", got);
	assert_string_equal(got, want);

	/* An empty file too. */
	write_file("empty", "");
	hex_sha("", want);
	digest_hex("empty", got);
	assert_string_equal(got, want);
}

/*
 * An entry whose file was last modified well before it was hashed is
 * trusted while size, mtime and inode match: an edit that restores all
 * three (as nothing but a deliberate test would) comes back with the old
 * digest.  That is what proves the cache was used.
 */
static void test_digest_served_from_stat_cache(void **state)
{
	char before[RPL_SHA256_HEX], after[RPL_SHA256_HEX], fresh[RPL_SHA256_HEX];
	struct stat a, b;

	(void)state;
	write_file("f.txt", "hello world\n");
	set_mtime("f.txt", seconds_ago(10));
	stat_file("f.txt", &a);
	digest_hex("f.txt", before);

	write_file("f.txt", "HELLO WORLD\n");
	set_mtime("f.txt", a.st_mtim);
	stat_file("f.txt", &b);
	assert_int_equal(b.st_ino, a.st_ino);
	assert_int_equal(b.st_size, a.st_size);
	assert_int_equal(b.st_mtim.tv_sec, a.st_mtim.tv_sec);
	assert_int_equal(b.st_mtim.tv_nsec, a.st_mtim.tv_nsec);

	digest_hex("f.txt", after);
	assert_string_equal(after, before);

	/* Any change the stat sees (here the mtime) hashes again. */
	set_mtime("f.txt", seconds_ago(5));
	digest_hex("f.txt", after);
	hex_sha("HELLO WORLD\n", fresh);
	assert_string_equal(after, fresh);
}

/* A size change is seen even with the mtime restored. */
static void test_digest_rehashed_on_size_change(void **state)
{
	char got[RPL_SHA256_HEX], want[RPL_SHA256_HEX];
	struct stat a;

	(void)state;
	write_file("f.txt", "short\n");
	set_mtime("f.txt", seconds_ago(10));
	stat_file("f.txt", &a);
	digest_hex("f.txt", got);

	write_file("f.txt", "a longer text\n");
	set_mtime("f.txt", a.st_mtim);
	digest_hex("f.txt", got);
	hex_sha("a longer text\n", want);
	assert_string_equal(got, want);
}

/*
 * Git's racy rule: a file modified within a second of being hashed may
 * change again in the same timestamp tick, so its entry is not trusted.
 */
static void test_digest_racy_entry_is_rehashed(void **state)
{
	char before[RPL_SHA256_HEX], after[RPL_SHA256_HEX], want[RPL_SHA256_HEX];
	struct stat a, b;

	(void)state;
	write_file("r.txt", "racy one\n");
	/* Modified "now", however slow the machine was to get here. */
	set_mtime("r.txt", seconds_ago(0));
	stat_file("r.txt", &a);
	digest_hex("r.txt", before);
	hex_sha("racy one\n", want);
	assert_string_equal(before, want);

	write_file("r.txt", "racy two\n");
	set_mtime("r.txt", a.st_mtim);
	stat_file("r.txt", &b);
	assert_int_equal(b.st_ino, a.st_ino);
	assert_int_equal(b.st_size, a.st_size);
	assert_int_equal(b.st_mtim.tv_nsec, a.st_mtim.tv_nsec);

	digest_hex("r.txt", after);
	hex_sha("racy two\n", want);
	assert_string_equal(after, want);
}

/* After rpl_state_preload the same rules hold, from memory. */
static void test_digest_after_preload(void **state)
{
	struct rpl_state *st;
	uint8_t d[RPL_SHA256_LEN];
	char old[RPL_SHA256_HEX], got[RPL_SHA256_HEX], want[RPL_SHA256_HEX];
	struct stat a;

	(void)state;
	write_file("old.txt", "old text\n");
	set_mtime("old.txt", seconds_ago(10));
	stat_file("old.txt", &a);
	write_file("new.txt", "new text\n");
	digest_hex("old.txt", old);
	set_mtime("new.txt", seconds_ago(0));
	digest_hex("new.txt", got);

	write_file("old.txt", "OLD TEXT\n");
	set_mtime("old.txt", a.st_mtim);

	st = open_ok();
	assert_int_equal(rpl_state_preload(st), 0);
	/* Trusted: the stale digest is what the cache says. */
	assert_int_equal(rpl_state_digest_known(st, "old.txt", d), 1);
	hex_of(d, got);
	assert_string_equal(got, old);
	/* Racy, or never seen: not known. */
	assert_int_equal(rpl_state_digest_known(st, "new.txt", d), 0);
	assert_int_equal(rpl_state_digest_known(st, "nosuch.txt", d), 0);

	assert_int_equal(rpl_state_digest(st, "old.txt", d), 0);
	hex_of(d, got);
	assert_string_equal(got, old);
	assert_int_equal(rpl_state_digest(st, "new.txt", d), 0);
	hex_of(d, got);
	hex_sha("new text\n", want);
	assert_string_equal(got, want);
	rpl_state_close(st);
}

/*
 * Lent stats (what the tree walk saw) stand in for stat(): a file whose
 * lent stat matches its cache row keeps the cached digest even though it
 * changed, and a file the loan does not list is stat'ed as usual.
 */
static void test_digest_with_lent_stats(void **state)
{
	struct rpl_strmap lent = RPL_STRMAP_INIT;
	struct rpl_file_stat fs;
	struct rpl_state *st;
	uint8_t d[RPL_SHA256_LEN];
	char old[RPL_SHA256_HEX], got[RPL_SHA256_HEX], want[RPL_SHA256_HEX];
	struct stat a;

	(void)state;
	write_file("l.txt", "lent one\n");
	set_mtime("l.txt", seconds_ago(10));
	stat_file("l.txt", &a);
	digest_hex("l.txt", old);
	write_file("other.txt", "other\n");
	set_mtime("other.txt", seconds_ago(10));
	digest_hex("other.txt", got);

	/* Both change; the loan still shows l.txt as it was. */
	write_file("l.txt", "LENT TWO, longer\n");
	write_file("other.txt", "OTHER\n");
	fs.size = (int64_t)a.st_size;
	fs.ino = (int64_t)a.st_ino;
	fs.mtime_ns = (int64_t)a.st_mtim.tv_sec * 1000000000 + a.st_mtim.tv_nsec;
	rpl_strmap_slot(&lent, "l.txt")->value = &fs;

	for (int preload = 0; preload < 2; preload++) {
		st = open_ok();
		if (preload)
			assert_int_equal(rpl_state_preload(st), 0);
		rpl_state_use_stats(st, &lent);
		if (preload) {
			assert_int_equal(rpl_state_digest_known(st, "l.txt", d), 1);
			hex_of(d, got);
			assert_string_equal(got, old);
		}
		assert_int_equal(rpl_state_digest(st, "l.txt", d), 0);
		hex_of(d, got);
		assert_string_equal(got, old);
		assert_int_equal(rpl_state_digest(st, "other.txt", d), 0);
		hex_of(d, got);
		hex_sha("OTHER\n", want);
		assert_string_equal(got, want);
		rpl_state_close(st);
	}

	/* Without the loan the change is seen. */
	digest_hex("l.txt", got);
	hex_sha("LENT TWO, longer\n", want);
	assert_string_equal(got, want);
	rpl_strmap_release(&lent);
}

static void test_digest_missing_file(void **state)
{
	struct rpl_state *st = open_ok();
	uint8_t d[RPL_SHA256_LEN];

	(void)state;
	assert_int_equal(rpl_state_digest(st, "nosuch.txt", d), -ENOENT);
	/* A path through a regular file is just as missing. */
	write_file("plain", "x");
	assert_int_equal(rpl_state_digest(st, "plain/child", d), -ENOENT);
	rpl_state_close(st);

	/* A file that was cached and then deleted. */
	write_file("gone.txt", "soon gone\n");
	st = open_ok();
	assert_int_equal(rpl_state_digest(st, "gone.txt", d), 0);
	rpl_state_close(st);
	{
		char path[1024];
		full_path(path, sizeof(path), "gone.txt");
		assert_int_equal(unlink(path), 0);
	}
	st = open_ok();
	assert_int_equal(rpl_state_digest(st, "gone.txt", d), -ENOENT);
	rpl_state_close(st);
}

/*
 * An input that is no regular file is refused, not read: a FIFO would block
 * the plan until something writes to it (the alarm makes that a failure),
 * and a link to /dev/zero would hash forever.
 */
static void test_digest_irregular(void **state)
{
	struct rpl_state *st = open_ok();
	uint8_t d[RPL_SHA256_LEN];
	char path[1024], want[2048];

	(void)state;
	full_path(path, sizeof(path), "fifo");
	assert_int_equal(mkfifo(path, 0644), 0);
	full_path(path, sizeof(path), "zero");
	assert_int_equal(symlink("/dev/zero", path), 0);
	alarm(20);
	rpl_error_clear();
	assert_int_equal(rpl_state_digest(st, "fifo", d), -EINVAL);
	snprintf(want, sizeof(want), "cannot read '%s/fifo': it is a FIFO, not a regular file",
	         root);
	assert_string_equal(rpl_errmsg(), want);
	rpl_error_clear();
	assert_int_equal(rpl_state_digest(st, "zero", d), -EINVAL);
	snprintf(want, sizeof(want),
	         "cannot read '%s/zero': it is a character device, not a regular file", root);
	assert_string_equal(rpl_errmsg(), want);
	alarm(0);
	rpl_state_close(st);
}

/* ---- the parse cache --------------------------------------------------------- */

struct parse_rows {
	char files[8][64];
	uint8_t keys[8][RPL_SHA256_LEN];
	char data[8][64];
	size_t n;
};

static void collect_row(void *ctx, const char *file, const uint8_t *key, const void *data,
                        size_t len)
{
	struct parse_rows *r = ctx;

	if (r->n == 8)
		return;
	snprintf(r->files[r->n], sizeof(r->files[r->n]), "%s", file);
	memcpy(r->keys[r->n], key, RPL_SHA256_LEN);
	snprintf(r->data[r->n], sizeof(r->data[r->n]), "%.*s", (int)len, (const char *)data);
	r->n++;
}

static const char *row_data(const struct parse_rows *r, const char *file, const uint8_t *key)
{
	for (size_t i = 0; i < r->n; i++)
		if (!strcmp(r->files[i], file)) {
			if (key)
				assert_memory_equal(r->keys[i], key, RPL_SHA256_LEN);
			return r->data[i];
		}
	return NULL;
}

static void test_parse_cache_put_each_delete(void **state)
{
	struct rpl_state *st = open_ok();
	struct parse_rows rows = { 0 };
	uint8_t k1[RPL_SHA256_LEN], k2[RPL_SHA256_LEN], k3[RPL_SHA256_LEN];

	(void)state;
	fill_digest(k1, 1);
	fill_digest(k2, 2);
	fill_digest(k3, 3);
	assert_int_equal(rpl_state_parse_each(st, collect_row, &rows), 0);
	assert_int_equal(rows.n, 0);

	assert_int_equal(rpl_state_parse_put(st, "a.yaml", k1, "alpha", 5), 0);
	assert_int_equal(rpl_state_parse_put(st, "sub/b.melange.yaml", k2, "beta", 4), 0);
	assert_int_equal(rpl_state_parse_each(st, collect_row, &rows), 0);
	assert_int_equal(rows.n, 2);
	assert_string_equal(row_data(&rows, "a.yaml", k1), "alpha");
	assert_string_equal(row_data(&rows, "sub/b.melange.yaml", k2), "beta");

	/* A second put of a file replaces its row. */
	assert_int_equal(rpl_state_parse_put(st, "a.yaml", k3, "gamma!", 6), 0);
	rpl_state_close(st);
	st = open_ok();
	memset(&rows, 0, sizeof(rows));
	assert_int_equal(rpl_state_parse_each(st, collect_row, &rows), 0);
	assert_int_equal(rows.n, 2);
	assert_string_equal(row_data(&rows, "a.yaml", k3), "gamma!");

	assert_int_equal(rpl_state_parse_delete(st, "a.yaml"), 0);
	/* Deleting what is not there is not an error. */
	assert_int_equal(rpl_state_parse_delete(st, "nosuch.yaml"), 0);
	memset(&rows, 0, sizeof(rows));
	assert_int_equal(rpl_state_parse_each(st, collect_row, &rows), 0);
	assert_int_equal(rows.n, 1);
	assert_null(row_data(&rows, "a.yaml", NULL));
	assert_string_equal(row_data(&rows, "sub/b.melange.yaml", k2), "beta");
	rpl_state_close(st);
}

/* ---- job records ---------------------------------------------------------------- */

static void put_three_inputs(struct rpl_state *st, struct rpl_job_record *rec)
{
	/* Deliberately unsorted: the store gives them back in path order. */
	static char *paths[] = { "zlib/z.patch", "build-common.env", "zlib.yaml" };
	static uint8_t digests[3][RPL_SHA256_LEN];

	memset(rec, 0, sizeof(*rec));
	fill_digest(rec->own_hash, 10);
	fill_digest(rec->input_hash, 11);
	for (int i = 0; i < 3; i++)
		fill_digest(digests[i], 20 + i);
	snprintf(rec->status, sizeof(rec->status), "ok");
	rec->duration = 12.5;
	rec->finished_ns = INT64_C(1700000000123456789);
	rec->paths = paths;
	rec->digests = digests;
	rec->ninputs = 3;
	assert_int_equal(rpl_state_job_put(st, "zlib", "package", "x86_64", rec), 0);
}

static void check_three_inputs(const struct rpl_job_record *want, const struct rpl_job_record *got)
{
	/* Sorted: build-common.env (1), zlib.yaml (2), zlib/z.patch (0). */
	static const int from[3] = { 1, 2, 0 };

	assert_memory_equal(got->own_hash, want->own_hash, RPL_SHA256_LEN);
	assert_memory_equal(got->input_hash, want->input_hash, RPL_SHA256_LEN);
	assert_string_equal(got->status, "ok");
	assert_true(got->duration == 12.5);
	assert_int_equal(got->finished_ns, INT64_C(1700000000123456789));
	assert_int_equal(got->ninputs, 3);
	for (int i = 0; i < 3; i++) {
		assert_string_equal(got->paths[i], want->paths[from[i]]);
		assert_memory_equal(got->digests[i], want->digests[from[i]], RPL_SHA256_LEN);
	}
}

static void test_job_put_get_roundtrip(void **state)
{
	struct rpl_state *st = open_ok();
	struct rpl_job_record rec, got, fewer = { 0 };

	(void)state;
	put_three_inputs(st, &rec);
	assert_int_equal(rpl_state_job_get(st, "zlib", "package", "x86_64", &got), 1);
	assert_int_equal(got.ninputs, 0); /* inputs only when asked for */
	assert_int_equal(rpl_state_job_inputs(st, "zlib", "package", "x86_64", &got), 0);
	check_three_inputs(&rec, &got);
	rpl_job_record_release(&got);

	/* Name, kind and arch all make the key. */
	assert_int_equal(rpl_state_job_get(st, "zlib", "package", "aarch64", &got), 0);
	assert_int_equal(got.ninputs, 0);
	assert_null(got.paths);
	assert_int_equal(rpl_state_job_get(st, "zlib", "image", "x86_64", &got), 0);
	assert_int_equal(rpl_state_job_get(st, "nosuch", "package", "x86_64", &got), 0);

	/* Writing a record again replaces its inputs; a zero finished_ns means now. */
	snprintf(fewer.status, sizeof(fewer.status), "failed");
	assert_int_equal(rpl_state_job_put(st, "zlib", "package", "x86_64", &fewer), 0);
	assert_int_equal(rpl_state_job_get(st, "zlib", "package", "x86_64", &got), 1);
	assert_string_equal(got.status, "failed");
	assert_int_equal(rpl_state_job_inputs(st, "zlib", "package", "x86_64", &got), 0);
	assert_string_equal(got.status, "failed");
	assert_int_equal(got.ninputs, 0);
	assert_true(got.finished_ns > INT64_C(1700000000000000000));
	rpl_job_record_release(&got);
	rpl_state_close(st);
}

static void test_preload_then_job_get(void **state)
{
	struct rpl_state *st = open_ok();
	struct rpl_job_record rec, got, other = { 0 };

	(void)state;
	put_three_inputs(st, &rec);
	snprintf(other.status, sizeof(other.status), "ok");
	fill_digest(other.own_hash, 40);
	assert_int_equal(rpl_state_job_put(st, "base", "image", "x86_64", &other), 0);
	rpl_state_close(st);

	st = open_ok();
	assert_int_equal(rpl_state_preload(st), 0);
	assert_int_equal(rpl_state_job_get(st, "zlib", "package", "x86_64", &got), 1);
	assert_int_equal(got.ninputs, 0); /* inputs only when asked for */
	assert_int_equal(rpl_state_job_inputs(st, "zlib", "package", "x86_64", &got), 0);
	check_three_inputs(&rec, &got);
	rpl_job_record_release(&got);
	/* Twice: the caller owns copies, the preloaded rows stay intact. */
	assert_int_equal(rpl_state_job_get(st, "zlib", "package", "x86_64", &got), 1);
	assert_int_equal(got.ninputs, 0); /* inputs only when asked for */
	assert_int_equal(rpl_state_job_inputs(st, "zlib", "package", "x86_64", &got), 0);
	check_three_inputs(&rec, &got);
	rpl_job_record_release(&got);

	assert_int_equal(rpl_state_job_get(st, "base", "image", "x86_64", &got), 1);
	assert_memory_equal(got.own_hash, other.own_hash, RPL_SHA256_LEN);
	assert_int_equal(got.ninputs, 0);
	rpl_job_record_release(&got);
	assert_int_equal(rpl_state_job_get(st, "base", "package", "x86_64", &got), 0);
	assert_int_equal(rpl_state_job_get(st, "zlib", "package", "aarch64", &got), 0);
	rpl_state_close(st);
}

static void test_generation_increases_with_each_put(void **state)
{
	struct rpl_state *st = open_ok();
	struct rpl_job_record rec = { 0 };
	int64_t g0, g1, g2, g3;

	(void)state;
	snprintf(rec.status, sizeof(rec.status), "ok");
	g0 = rpl_state_generation(st);
	assert_int_equal(rpl_state_job_put(st, "a", "package", "x86_64", &rec), 0);
	g1 = rpl_state_generation(st);
	/* The same record again still counts as a write. */
	assert_int_equal(rpl_state_job_put(st, "a", "package", "x86_64", &rec), 0);
	g2 = rpl_state_generation(st);
	assert_true(g1 > g0);
	assert_true(g2 > g1);
	rpl_state_close(st);

	st = open_ok();
	assert_int_equal(rpl_state_generation(st), g2);
	assert_int_equal(rpl_state_begin(st), 0);
	assert_int_equal(rpl_state_job_put(st, "b", "image", "x86_64", &rec), 0);
	assert_int_equal(rpl_state_commit(st), 0);
	g3 = rpl_state_generation(st);
	assert_true(g3 > g2);
	rpl_state_close(st);
}

static void test_meta_get_set(void **state)
{
	struct rpl_state *st = open_ok();
	char buf[64], small[4];

	(void)state;
	snprintf(buf, sizeof(buf), "untouched");
	assert_int_equal(rpl_state_meta_get(st, "noop:stale", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "untouched");
	assert_int_equal(rpl_state_meta_set(st, "noop:stale", "abc123"), 0);
	assert_int_equal(rpl_state_meta_get(st, "noop:stale", buf, sizeof(buf)), 1);
	assert_string_equal(buf, "abc123");
	assert_int_equal(rpl_state_meta_set(st, "noop:stale", "def"), 0);
	assert_int_equal(rpl_state_meta_get(st, "noop:stale", buf, sizeof(buf)), 1);
	assert_string_equal(buf, "def");
	/* A short buffer gets a terminated prefix. */
	assert_int_equal(rpl_state_meta_set(st, "long", "0123456789"), 0);
	assert_int_equal(rpl_state_meta_get(st, "long", small, sizeof(small)), 1);
	assert_string_equal(small, "012");
	rpl_state_close(st);
}

static void test_runs(void **state)
{
	struct rpl_state *st = open_ok();
	char db[1024];
	sqlite3 *h;
	sqlite3_stmt *s;
	int64_t a, b;

	(void)state;
	a = rpl_state_run_begin(st, "plan");
	b = rpl_state_run_begin(st, "build");
	assert_true(a > 0);
	assert_true(b > a);
	assert_int_equal(rpl_state_run_end(st, a, "ok"), 0);
	rpl_state_close(st);

	full_path(db, sizeof(db), ".ripple/state.db");
	assert_int_equal(sqlite3_open(db, &h), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(h,
	                                    "SELECT command, status, finished_ns IS NOT NULL "
	                                    "FROM run ORDER BY id",
	                                    -1, &s, NULL),
	                 SQLITE_OK);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	assert_string_equal((const char *)sqlite3_column_text(s, 0), "plan");
	assert_string_equal((const char *)sqlite3_column_text(s, 1), "ok");
	assert_int_equal(sqlite3_column_int(s, 2), 1);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	assert_string_equal((const char *)sqlite3_column_text(s, 0), "build");
	assert_string_equal((const char *)sqlite3_column_text(s, 1), "running");
	assert_int_equal(sqlite3_column_int(s, 2), 0);
	assert_int_equal(sqlite3_step(s), SQLITE_DONE);
	sqlite3_finalize(s);
	sqlite3_close(h);
}

/* ---- output repositories and the records of their files -------------------------------------- */

struct rows {
	char names[8][64];
	struct rpl_repo_seen seen[8];
	size_t n;
};

static void collect_seen(void *ctx, const char *name, const struct rpl_repo_seen *s)
{
	struct rows *r = ctx;

	assert_true(r->n < 8);
	snprintf(r->names[r->n], sizeof(r->names[r->n]), "%s", name);
	r->seen[r->n++] = *s;
}

static void collect_dir(void *ctx, const char *dir)
{
	struct rows *r = ctx;

	assert_true(r->n < 8);
	snprintf(r->names[r->n++], sizeof(r->names[0]), "%s", dir);
}

/* What was seen of a repository's files is stored per directory, replaced and forgotten. */
static void test_repo_rows(void **state)
{
	struct rpl_state *st = open_ok();
	struct rpl_repo_seen a = { 10, 20, 30, 40, "Q1aaaa" }, b = { 11, 21, 31, 41, "" };
	struct rows r = { 0 };

	(void)state;
	assert_int_equal(rpl_state_repo_put(st, "packages/x86_64", "a-1-r0.apk", &a), 0);
	assert_int_equal(rpl_state_repo_put(st, "packages/x86_64", "APKINDEX.tar.gz", &b), 0);
	assert_int_equal(rpl_state_repo_put(st, "packages/aarch64", "a-1-r0.apk", &a), 0);
	a.size = 12;
	assert_int_equal(rpl_state_repo_put(st, "packages/x86_64", "a-1-r0.apk", &a), 0);
	rpl_state_close(st);

	st = open_ok();
	assert_int_equal(rpl_state_repo_each(st, "packages/x86_64", collect_seen, &r), 0);
	assert_int_equal(r.n, 2);
	for (size_t i = 0; i < r.n; i++) {
		const struct rpl_repo_seen *want = !strcmp(r.names[i], "a-1-r0.apk") ? &a : &b;
		assert_int_equal(r.seen[i].size, want->size);
		assert_int_equal(r.seen[i].mtime_ns, want->mtime_ns);
		assert_int_equal(r.seen[i].ino, want->ino);
		assert_int_equal(r.seen[i].seen_ns, want->seen_ns);
		assert_string_equal(r.seen[i].csum, want->csum);
	}
	assert_int_equal(rpl_state_repo_put(st, "packages/x86_64", "a-1-r0.apk", NULL), 0);
	memset(&r, 0, sizeof(r));
	assert_int_equal(rpl_state_repo_each(st, "packages/x86_64", collect_seen, &r), 0);
	assert_int_equal(r.n, 1);
	assert_string_equal(r.names[0], "APKINDEX.tar.gz");
	memset(&r, 0, sizeof(r));
	assert_int_equal(rpl_state_repo_dirs(st, collect_dir, &r), 0);
	assert_int_equal(r.n, 2);
	assert_true(!strcmp(r.names[0], "packages/aarch64") ||
	            !strcmp(r.names[1], "packages/aarch64"));
	rpl_state_close(st);
}

static void collect_output(void *ctx, const struct rpl_job_id *job, const char *path)
{
	struct rows *r = ctx;

	assert_true(r->n < 8);
	snprintf(r->names[r->n++], sizeof(r->names[0]), "%s %s %s", job->name, job->arch, path);
}

/*
 * The job that built a file, while its last build succeeded; a record set
 * to "interrupted" keeps its inputs, is no owner any more and changes the
 * generation, preloaded or not.
 */
static void test_output_owner_and_status(void **state)
{
	struct rpl_state *st = open_ok();
	struct rpl_job_record rec = { 0 }, got;
	char *outs[] = { "packages/x86_64/zlib-1-r0.apk", "packages/x86_64/zlib-dev-1-r0.apk" };
	uint8_t digests[2][RPL_SHA256_LEN], d[RPL_SHA256_LEN];
	struct rpl_job_id id;
	struct rows r = { 0 };
	int64_t gen;

	(void)state;
	fill_digest(digests[0], 1);
	fill_digest(digests[1], 2);
	put_three_inputs(st, &rec);
	rec.outputs = outs;
	rec.output_digests = (const uint8_t(*)[RPL_SHA256_LEN])digests;
	rec.noutputs = 2;
	assert_int_equal(rpl_state_job_put(st, "zlib", "package", "x86_64", &rec), 0);
	assert_int_equal(rpl_state_output_owner(st, outs[1], &id, d), 1);
	assert_string_equal(id.name, "zlib");
	assert_string_equal(id.kind, "package");
	assert_string_equal(id.arch, "x86_64");
	assert_memory_equal(d, digests[1], RPL_SHA256_LEN);
	rpl_job_id_release(&id);
	assert_int_equal(rpl_state_output_owner(st, "packages/x86_64/other.apk", &id, d), 0);
	assert_int_equal(rpl_state_outputs_each(st, "package", collect_output, &r), 0);
	assert_int_equal(r.n, 2);
	assert_string_equal(r.names[0], "zlib x86_64 packages/x86_64/zlib-1-r0.apk");
	memset(&r, 0, sizeof(r));
	assert_int_equal(rpl_state_outputs_each(st, "image", collect_output, &r), 0);
	assert_int_equal(r.n, 0);

	assert_int_equal(rpl_state_preload_jobs(st), 0);
	gen = rpl_state_generation(st);
	assert_int_equal(rpl_state_job_set_status(st, "zlib", "package", "x86_64", "interrupted"),
	                 0);
	assert_true(rpl_state_generation(st) > gen);
	assert_int_equal(rpl_state_job_get(st, "zlib", "package", "x86_64", &got), 1);
	assert_string_equal(got.status, "interrupted");
	rpl_job_record_release(&got);
	assert_int_equal(rpl_state_output_owner(st, outs[0], &id, d), 0);
	rpl_state_close(st);

	st = open_ok();
	assert_int_equal(rpl_state_job_get(st, "zlib", "package", "x86_64", &got), 1);
	assert_string_equal(got.status, "interrupted");
	assert_int_equal(rpl_state_job_inputs(st, "zlib", "package", "x86_64", &got), 0);
	assert_int_equal(got.ninputs, 3);
	rpl_job_record_release(&got);
	memset(&r, 0, sizeof(r));
	assert_int_equal(rpl_state_outputs_each(st, "package", collect_output, &r), 0);
	assert_int_equal(r.n, 0);
	rpl_state_close(st);
}

/* Runs that never ended, oldest first, until they are ended. */
static void test_runs_open(void **state)
{
	struct rpl_state *st = open_ok();
	int64_t a, b, c, *ids;
	size_t n;

	(void)state;
	a = rpl_state_run_begin(st, "build");
	b = rpl_state_run_begin(st, "build");
	c = rpl_state_run_begin(st, "build");
	assert_int_equal(rpl_state_run_end(st, b, "ok"), 0);
	rpl_state_close(st);

	st = open_ok();
	assert_int_equal(rpl_state_runs_open(st, &ids, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(ids[0], a);
	assert_int_equal(ids[1], c);
	free(ids);
	assert_int_equal(rpl_state_run_end(st, a, "killed"), 0);
	assert_int_equal(rpl_state_run_end(st, c, "killed"), 0);
	assert_int_equal(rpl_state_runs_open(st, &ids, &n), 0);
	assert_int_equal(n, 0);
	free(ids);
	rpl_state_close(st);
}

/* ---- the lock --------------------------------------------------------------------- */

static void test_lock_names_the_holder(void **state)
{
	int up[2], down[2], status;
	struct rpl_state *st = (struct rpl_state *)&st;
	char ok = 0, want[64];
	pid_t pid;
	int err;

	(void)state;
	assert_int_equal(pipe(up), 0);
	assert_int_equal(pipe(down), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		/* The child: hold the store until the parent says so. */
		struct rpl_state *cst;
		char c = rpl_state_open(&cst, root, 1) == 0 ? 'y' : 'n';
		close(up[0]);
		close(down[1]);
		if (write(up[1], &c, 1) != 1)
			_exit(2);
		if (read(down[0], &c, 1) < 0)
			_exit(3);
		if (cst)
			rpl_state_close(cst);
		_exit(0);
	}
	close(up[1]);
	close(down[0]);
	assert_int_equal(read(up[0], &ok, 1), 1);
	assert_int_equal(ok, 'y');

	err = rpl_state_open(&st, root, 1);
	assert_int_equal(err, -EWOULDBLOCK);
	assert_null(st);
	snprintf(want, sizeof(want), "pid %ld", (long)pid);
	if (!strstr(rpl_errmsg(), want))
		fail_msg("message '%s' does not name '%s'", rpl_errmsg(), want);

	close(down[1]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	close(up[0]);

	st = open_ok();
	rpl_state_close(st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, make_root, remove_root)
		T(test_open_creates_dir_db_and_gitignore),
		T(test_open_missing_root_fails),
		T(test_reopen_keeps_records),
		T(test_other_schema_version_is_rebuilt),
		T(test_foreign_schema_database_is_rebuilt),
		T(test_schema_2_to_5_are_upgraded),
		T(test_schema_4_is_upgraded),
		T(test_run_read),
		T(test_runs_and_history),
		T(test_blob_roundtrip),
		T(test_digest_is_sha256_of_the_file),
		T(test_digest_served_from_stat_cache),
		T(test_digest_rehashed_on_size_change),
		T(test_digest_racy_entry_is_rehashed),
		T(test_digest_with_lent_stats),
		T(test_digest_after_preload),
		T(test_digest_missing_file),
		T(test_digest_irregular),
		T(test_parse_cache_put_each_delete),
		T(test_job_put_get_roundtrip),
		T(test_preload_then_job_get),
		T(test_generation_increases_with_each_put),
		T(test_meta_get_set),
		T(test_runs),
		T(test_repo_rows),
		T(test_output_owner_and_status),
		T(test_runs_open),
		T(test_lock_names_the_holder),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
