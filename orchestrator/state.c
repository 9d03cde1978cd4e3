/*
 * The state store, `.ripple/state.db` (SQLite, WAL), schema version 6:
 *
 *   meta(key TEXT PRIMARY KEY, value TEXT)
 *       "schema" = "6".  Stores of versions 2 to 5 are upgraded in place
 *       (3 added the blob table; 4 the job's log, job_output and run_job;
 *       5 repo_file and the indexes run_open and job_output_path;
 *       run_job's slot, cause and critical and its index by job; 6 the
 *       job's cache),
 *       keeping their records.  Any other version: the file is deleted and
 *       made again; it holds caches and records, never sources.
 *       "generation": bumped with every job record written.
 *       "noop:<mode>": the memo of the last plan that selected nothing
 *       (orchestrator/memo.h).
 *       "repo-checked": the memo key of the last no-op build that found its
 *       output repositories consistent (orchestrator/cmd_build.c).
 *   stat(path TEXT PRIMARY KEY, size INTEGER, mtime_ns INTEGER,
 *        ino INTEGER, digest BLOB, hashed_ns INTEGER)
 *       The stat cache: a file whose size, mtime and inode are unchanged
 *       has the recorded sha256.  As in git, an entry whose mtime is within
 *       a second of when it was hashed is "racy" (the file may have changed
 *       again in the same timestamp tick) and is hashed again.
 *   parse(file TEXT PRIMARY KEY, key BLOB, data BLOB)
 *       The parse cache: `data` (recipes/cache.h) is valid while `key` (a digest of the
 *       file's content and of everything else its evaluation read) matches.
 *   job(name TEXT, kind TEXT, arch TEXT, own_hash BLOB, input_hash BLOB,
 *       status TEXT, duration REAL, finished_ns INTEGER, log TEXT,
 *       cache TEXT, PRIMARY KEY(name, kind, arch))
 *       `cache`: where the last successful build's outputs came from when
 *       they were fetched from the artifact cache ("local" or
 *       REGISTRY/REPO, orchestrator/artifact_cache.h); NULL when built.
 *   job_input(name TEXT, kind TEXT, arch TEXT, path TEXT, digest BLOB,
 *       PRIMARY KEY(name, kind, arch, path))
 *       What each job was last built from, for staleness and its reasons.
 *   job_output(name TEXT, kind TEXT, arch TEXT, path TEXT, digest BLOB,
 *       PRIMARY KEY(name, kind, arch, path))
 *       The files its last successful build produced (apks), with sha256;
 *       index job_output_path finds the job that produced a file.
 *   run(id INTEGER PRIMARY KEY, command TEXT, status TEXT,
 *       started_ns INTEGER, finished_ns INTEGER)
 *       A run whose status is still 'running' while no ripple holds the
 *       lock was killed (index run_open finds them); the next build stops
 *       what it left running and sets it to 'killed'.
 *   run_job(run INTEGER, name TEXT, kind TEXT, arch TEXT, status TEXT,
 *       started_ns INTEGER, duration REAL, log TEXT, message TEXT,
 *       slot INTEGER, cause_name TEXT, cause_kind TEXT, cause_arch TEXT,
 *       critical INTEGER, PRIMARY KEY(run, name, kind, arch))
 *       What each run did with each job: `ripple history` and the report.
 *       The newest runs are kept, the rest forgotten (orchestrator/prune.h).
 *       Written in batches as jobs end (with the next index write, else
 *       within a second: orchestrator/build_index.h); the rest when the run ends
 *       (orchestrator/report.c): `slot`, the lane (0 to -j - 1) the job
 *       ran in; `cause_*`, the failed job a skipped one waited on;
 *       `critical`, its place on the run's critical path (1 first), NULL
 *       off it.  All three are NULL in runs recorded before version 5 or
 *       killed before their end.
 *       Index run_job_job(name, kind, arch, run): a job's earlier runs (its
 *       previous duration).
 *   blob(name TEXT PRIMARY KEY, data BLOB)
 *       Larger derived values: "forced", the forced list
 *       (orchestrator/forced.c).  (The plan snapshot, "snapshot" here
 *       before, is the file .ripple/snapshot: orchestrator/snapshot.c.)
 *   repo_file(dir TEXT, name TEXT, size INTEGER, mtime_ns INTEGER,
 *       ino INTEGER, seen_ns INTEGER, csum TEXT, PRIMARY KEY(dir, name))
 *       What ripple last saw of the files of an output repository
 *       (`packages/<arch>`, runners/repo.h) when it last wrote or checked
 *       its index: each apk listed, with its stat then and the C: of its
 *       record, and APKINDEX.tar.gz itself (csum '').
 *
 * Statements are prepared once, in an enum-indexed table (tup's habit).
 */
#include "orchestrator/state.h"
#include "common/arena.h"
#include "common/error.h"
#include "common/file.h"
#include "common/strmap.h"
#include "common/xalloc.h"
#include "runners/repo.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/sysmacros.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define SCHEMA_VERSION RPL_STATE_SCHEMA

enum stmt {
	ST_STAT_GET,
	ST_STAT_PUT,
	ST_PARSE_PUT,
	ST_JOB_GET,
	ST_JOB_PUT,
	ST_JOB_INPUTS_GET,
	ST_JOB_INPUTS_DEL,
	ST_JOB_INPUT_PUT,
	ST_RUN_BEGIN,
	ST_RUN_END,
	ST_META_GET,
	ST_META_SET,
	ST_PARSE_ALL,
	ST_PARSE_DEL,
	ST_STAT_ALL,
	ST_BLOB_GET,
	ST_JOB_OUTPUTS_DEL,
	ST_JOB_OUTPUT_PUT,
	ST_RUN_JOB_PUT,
	ST_BLOB_PUT,
	ST_JOB_ALL,
	ST_REPO_GET,
	ST_REPO_PUT,
	ST_REPO_DEL,
	ST_REPO_DIRS,
	ST_OUTPUT_OWNER,
	ST_OUTPUTS_OK,
	ST_JOB_STATUS,
	ST_RUNS_OPEN,
	ST_RUN_JOB_DETAIL,
	ST_RUN_GET,
	ST_RUN_JOBS,
	ST_RUNS_ALL,
	ST_RUN_FORGET,
	ST_RUN_JOBS_FORGET,
	ST_JOB_LOGS,
	ST_BLOB_DEL,
	ST_COUNT
};

static const char *const sql[ST_COUNT] = {
	[ST_STAT_GET] = "SELECT size, mtime_ns, ino, digest, hashed_ns FROM stat WHERE path = ?1",
	[ST_STAT_PUT] = "INSERT OR REPLACE INTO stat(path, size, mtime_ns, ino, digest, hashed_ns) "
	                "VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
	[ST_PARSE_PUT] = "INSERT OR REPLACE INTO parse(file, key, data) VALUES (?1, ?2, ?3)",
	[ST_JOB_GET] = "SELECT own_hash, input_hash, status, duration, finished_ns FROM job "
	               "WHERE name = ?1 AND kind = ?2 AND arch = ?3",
	[ST_JOB_PUT] =
	        "INSERT OR REPLACE INTO job(name, kind, arch, own_hash, input_hash, status, "
	        "duration, finished_ns, log, cache) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
	[ST_JOB_INPUTS_GET] = "SELECT path, digest FROM job_input WHERE name = ?1 AND kind = ?2 "
	                      "AND arch = ?3 ORDER BY path",
	[ST_JOB_INPUTS_DEL] = "DELETE FROM job_input WHERE name = ?1 AND kind = ?2 AND arch = ?3",
	[ST_JOB_INPUT_PUT] = "INSERT OR REPLACE INTO job_input(name, kind, arch, path, digest) "
	                     "VALUES (?1, ?2, ?3, ?4, ?5)",
	[ST_RUN_BEGIN] = "INSERT INTO run(command, status, started_ns) VALUES (?1, 'running', ?2)",
	[ST_RUN_END] = "UPDATE run SET status = ?2, finished_ns = ?3 WHERE id = ?1",
	[ST_META_GET] = "SELECT value FROM meta WHERE key = ?1",
	[ST_META_SET] = "INSERT OR REPLACE INTO meta(key, value) VALUES (?1, ?2)",
	[ST_PARSE_ALL] = "SELECT file, key, data FROM parse",
	[ST_PARSE_DEL] = "DELETE FROM parse WHERE file = ?1",
	[ST_JOB_OUTPUTS_DEL] = "DELETE FROM job_output WHERE name = ?1 AND kind = ?2 AND arch = ?3",
	[ST_JOB_OUTPUT_PUT] = "INSERT OR REPLACE INTO job_output(name, kind, arch, path, digest) "
	                      "VALUES (?1, ?2, ?3, ?4, ?5)",
	[ST_RUN_JOB_PUT] = "INSERT OR REPLACE INTO run_job(run, name, kind, arch, status, "
	                   "started_ns, duration, log, message) "
	                   "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
	[ST_BLOB_GET] = "SELECT rowid, length(data) FROM blob WHERE name = ?1",
	[ST_BLOB_PUT] = "INSERT OR REPLACE INTO blob(name, data) VALUES (?1, ?2)",
	[ST_STAT_ALL] = "SELECT path, size, mtime_ns, ino, digest, hashed_ns FROM stat",
	[ST_JOB_ALL] = "SELECT name, kind, arch, own_hash, input_hash, status, duration, "
	               "finished_ns FROM job",
	[ST_REPO_GET] = "SELECT name, size, mtime_ns, ino, seen_ns, csum FROM repo_file "
	                "WHERE dir = ?1",
	[ST_REPO_PUT] = "INSERT OR REPLACE INTO repo_file(dir, name, size, mtime_ns, ino, seen_ns, "
	                "csum) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
	[ST_REPO_DEL] = "DELETE FROM repo_file WHERE dir = ?1 AND name = ?2",
	[ST_REPO_DIRS] = "SELECT DISTINCT dir FROM repo_file",
	[ST_OUTPUT_OWNER] = "SELECT o.name, o.kind, o.arch, o.digest FROM job_output o JOIN job j "
	                    "ON j.name = o.name AND j.kind = o.kind AND j.arch = o.arch "
	                    "WHERE o.path = ?1 AND j.status = 'ok'",
	[ST_OUTPUTS_OK] = "SELECT o.name, o.kind, o.arch, o.path FROM job_output o JOIN job j "
	                  "ON j.name = o.name AND j.kind = o.kind AND j.arch = o.arch "
	                  "WHERE j.status = 'ok' AND o.kind = ?1",
	[ST_JOB_STATUS] = "UPDATE job SET status = ?4 WHERE name = ?1 AND kind = ?2 AND arch = ?3",
	[ST_RUNS_OPEN] = "SELECT id FROM run WHERE status = 'running' ORDER BY id",
	[ST_RUN_JOB_DETAIL] = "UPDATE run_job SET slot = ?5, cause_name = ?6, cause_kind = ?7,"
	                      " cause_arch = ?8, critical = ?9"
	                      " WHERE run = ?1 AND name = ?2 AND kind = ?3 AND arch = ?4",
	/* Run ?1, or the last one when ?1 is 0. */
	[ST_RUN_GET] = "SELECT id, command, status, started_ns, finished_ns FROM run"
	               " WHERE id = ?1 OR (?1 = 0 AND id = (SELECT max(id) FROM run))",
	/* A run's jobs, each with its last successful build in an earlier run
	 * (found through run_job_job), started jobs first in start order. */
	[ST_RUN_JOBS] = "SELECT j.name, j.kind, j.arch, j.status, j.started_ns, j.duration, j.log,"
	                " j.message, j.slot, j.cause_name, j.cause_kind, j.cause_arch, j.critical,"
	                " p.run, p.duration FROM run_job j LEFT JOIN run_job p ON p.rowid ="
	                " (SELECT q.rowid FROM run_job q WHERE q.name = j.name AND q.kind = j.kind"
	                " AND q.arch = j.arch AND q.run < j.run AND q.status = 'ok'"
	                " ORDER BY q.run DESC LIMIT 1)"
	                " WHERE j.run = ?1 ORDER BY j.started_ns = 0, j.started_ns, j.arch, j.name",
	[ST_RUNS_ALL] = "SELECT id, status = 'running' FROM run ORDER BY id DESC",
	[ST_RUN_FORGET] = "DELETE FROM run WHERE id = ?1",
	[ST_RUN_JOBS_FORGET] = "DELETE FROM run_job WHERE run = ?1",
	[ST_JOB_LOGS] = "SELECT log FROM job WHERE log IS NOT NULL",
	[ST_BLOB_DEL] = "DELETE FROM blob WHERE name = ?1",
};

static const char schema_sql[] =
        "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
        "CREATE TABLE IF NOT EXISTS stat(path TEXT PRIMARY KEY, size INTEGER NOT NULL,"
        " mtime_ns INTEGER NOT NULL, ino INTEGER NOT NULL, digest BLOB NOT NULL,"
        " hashed_ns INTEGER NOT NULL);"
        "CREATE TABLE IF NOT EXISTS parse(file TEXT PRIMARY KEY, key BLOB NOT NULL,"
        " data BLOB NOT NULL);"
        "CREATE TABLE IF NOT EXISTS job(name TEXT NOT NULL, kind TEXT NOT NULL,"
        " arch TEXT NOT NULL, own_hash BLOB NOT NULL, input_hash BLOB NOT NULL,"
        " status TEXT NOT NULL, duration REAL NOT NULL, finished_ns INTEGER NOT NULL,"
        " log TEXT, cache TEXT, PRIMARY KEY(name, kind, arch));"
        "CREATE TABLE IF NOT EXISTS job_input(name TEXT NOT NULL, kind TEXT NOT NULL,"
        " arch TEXT NOT NULL, path TEXT NOT NULL, digest BLOB NOT NULL,"
        " PRIMARY KEY(name, kind, arch, path));"
        "CREATE TABLE IF NOT EXISTS run(id INTEGER PRIMARY KEY, command TEXT NOT NULL,"
        " status TEXT NOT NULL, started_ns INTEGER NOT NULL, finished_ns INTEGER);"
        "CREATE TABLE IF NOT EXISTS blob(name TEXT PRIMARY KEY, data BLOB NOT NULL);"
        "CREATE TABLE IF NOT EXISTS job_output(name TEXT NOT NULL, kind TEXT NOT NULL,"
        " arch TEXT NOT NULL, path TEXT NOT NULL, digest BLOB NOT NULL,"
        " PRIMARY KEY(name, kind, arch, path));"
        "CREATE TABLE IF NOT EXISTS run_job(run INTEGER NOT NULL, name TEXT NOT NULL,"
        " kind TEXT NOT NULL, arch TEXT NOT NULL, status TEXT NOT NULL,"
        " started_ns INTEGER NOT NULL, duration REAL NOT NULL, log TEXT, message TEXT,"
        " slot INTEGER, cause_name TEXT, cause_kind TEXT, cause_arch TEXT, critical INTEGER,"
        " PRIMARY KEY(run, name, kind, arch));"
        "CREATE TABLE IF NOT EXISTS repo_file(dir TEXT NOT NULL, name TEXT NOT NULL,"
        " size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL, ino INTEGER NOT NULL,"
        " seen_ns INTEGER NOT NULL, csum TEXT NOT NULL, PRIMARY KEY(dir, name));"
        "CREATE INDEX IF NOT EXISTS run_open ON run(status) WHERE status = 'running';"
        "CREATE INDEX IF NOT EXISTS job_output_path ON job_output(path);"
        "CREATE INDEX IF NOT EXISTS run_job_job ON run_job(name, kind, arch, run);"
        "INSERT OR IGNORE INTO meta(key, value) VALUES ('schema', '" SCHEMA_VERSION "');";

struct rpl_state {
	sqlite3 *db;
	sqlite3_stmt *st[ST_COUNT];
	char *root;
	int lock_fd;
	/* Opened for reading (RPL_STATE_READ): no lock, one read transaction
	 * for the handle's life, and every write dropped (step_done). */
	int reader;
	/* After rpl_state_preload: the stat cache and the job records in
	 * memory (one query each instead of one per file and per job). */
	int preloaded;                 /* the stat cache */
	int jobs_preloaded;            /* the job records */
	const struct rpl_strmap *lent; /* rpl_state_use_stats */
	struct rpl_arena mem;
	struct rpl_strmap stats; /* path -> struct stat_row */
	struct rpl_strmap jobs;  /* "name\tkind\tarch" -> struct job_row */
	/* Digests already taken by this process: an env file read by every
	 * job of an arch is stat'ed once, not thousands of times. */
	struct rpl_strmap seen; /* path -> uint8_t[RPL_SHA256_LEN] */
};

struct stat_row {
	int64_t size, mtime, ino, hashed;
	uint8_t digest[RPL_SHA256_LEN];
};

struct job_row {
	struct rpl_job_record rec; /* without its inputs */
};

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int db_error(struct rpl_state *st, const char *what)
{
	return rpl_error(-RPL_ELIB, "state database: %s: %s", what, sqlite3_errmsg(st->db));
}

/*
 * Takes .ripple/lock.  The holder's pid is written into the file so that a
 * second process can say who it waits for.
 */
static int take_lock(struct rpl_state *st, const char *dir, int no_wait)
{
	char *path = rpl_path_join(dir, "lock");
	char pid[32] = "";
	int fd, err = 0;

	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0) {
		err = rpl_error(-errno, "cannot open '%s': %s", path, strerror(errno));
		goto out;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		ssize_t n;
		if (errno != EWOULDBLOCK) {
			err = rpl_error(-errno, "cannot lock '%s': %s", path, strerror(errno));
			close(fd);
			goto out;
		}
		n = pread(fd, pid, sizeof(pid) - 1, 0);
		pid[n > 0 ? n : 0] = '\0';
		pid[strcspn(pid, "\n")] = '\0';
		if (no_wait) {
			err = rpl_error(
			        -EWOULDBLOCK,
			        "another ripple (pid %s) is using this monorepo's state (%s)",
			        *pid ? pid : "?", path);
			close(fd);
			goto out;
		}
		fprintf(stderr, "ripple: waiting for ripple pid %s to finish with %s\n",
		        *pid ? pid : "?", path);
		if (flock(fd, LOCK_EX) < 0) {
			err = rpl_error(-errno, "cannot lock '%s': %s", path, strerror(errno));
			close(fd);
			goto out;
		}
	}
	snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) == 0 && pwrite(fd, pid, strlen(pid), 0) < 0)
		rpl_warn("cannot write '%s': %s", path, strerror(errno));
	st->lock_fd = fd;
out:
	free(path);
	return err;
}

static int exec(struct rpl_state *st, const char *s)
{
	char *msg = NULL;

	if (sqlite3_exec(st->db, s, NULL, NULL, &msg) != SQLITE_OK) {
		int err = rpl_error(-RPL_ELIB, "state database: %s", msg ? msg : "error");
		sqlite3_free(msg);
		return err;
	}
	return 0;
}

/* The schema version stored, or "" for a new database. */
static int stored_version(struct rpl_state *st, char *out, size_t n)
{
	sqlite3_stmt *s;
	int rc;

	*out = '\0';
	rc = sqlite3_prepare_v2(st->db, "SELECT value FROM meta WHERE key = 'schema'", -1, &s,
	                        NULL);
	if (rc != SQLITE_OK)
		return 0; /* no meta table: new */
	if (sqlite3_step(s) == SQLITE_ROW)
		snprintf(out, n, "%s", (const char *)sqlite3_column_text(s, 0));
	sqlite3_finalize(s);
	return 0;
}

/* Deletes the database files: they hold caches and records, never sources. */
static void remove_db(struct rpl_state *st, const char *path)
{
	static const char *const suffixes[] = { "", "-wal", "-shm" };

	sqlite3_close(st->db);
	st->db = NULL;
	for (size_t i = 0; i < sizeof(suffixes) / sizeof(*suffixes); i++) {
		char p[4096];
		snprintf(p, sizeof(p), "%s%s", path, suffixes[i]);
		unlink(p);
	}
}

/*
 * Opens the database, starting over when it is of another schema version
 * or not a readable database at all (a crash mid-write on a filesystem
 * without ordered writes, a stray file): once, with a warning.
 */
static int open_db(struct rpl_state *st, const char *path, int retried)
{
	char version[32];
	int err, rc;

	if (sqlite3_open_v2(path, &st->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
	    SQLITE_OK)
		return db_error(st, path);
	sqlite3_busy_timeout(st->db, 10000);
	/* A plan reads the whole parse cache: mapped, not one pread per page.
	 * Reads of a mapped database bypass the page cache, so it holds only
	 * the pages a transaction writes: 512 KiB (not SQLite's 2 MiB) spills a
	 * snapshot of megabytes to the WAL as it is written. */
	err = exec(st, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
	               " PRAGMA mmap_size=268435456; PRAGMA cache_size=-512;");
	rc = sqlite3_errcode(st->db);
	if (err && !retried && (rc == SQLITE_NOTADB || rc == SQLITE_CORRUPT)) {
		rpl_warn("%s is damaged (%s); starting a new one", path, rpl_errmsg());
		remove_db(st, path);
		return open_db(st, path, 1);
	}
	if (err)
		return err;
	stored_version(st, version, sizeof(version));
	if (!strcmp(version, "2") || !strcmp(version, "3") || !strcmp(version, "4") ||
	    !strcmp(version, "5")) {
		/* 3 added a table, 4 a column and two tables, 5 a table, columns
		 * and three indexes, 6 a column: keep the records.  Before 4, run_job is made
		 * whole.  One transaction: a crash halfway leaves the old version whole. */
		if ((err = exec(st, "BEGIN IMMEDIATE")))
			return err;
		if (!strcmp(version, "2") || !strcmp(version, "3"))
			err = exec(st, "ALTER TABLE job ADD COLUMN log TEXT");
		else if (!strcmp(version, "4"))
			err = exec(st, "ALTER TABLE run_job ADD COLUMN slot INTEGER;"
			               " ALTER TABLE run_job ADD COLUMN cause_name TEXT;"
			               " ALTER TABLE run_job ADD COLUMN cause_kind TEXT;"
			               " ALTER TABLE run_job ADD COLUMN cause_arch TEXT;"
			               " ALTER TABLE run_job ADD COLUMN critical INTEGER;");
		if (!err)
			err = exec(st, "ALTER TABLE job ADD COLUMN cache TEXT");
		if (!err && !(err = exec(st, schema_sql)))
			err = exec(st, "UPDATE meta SET value = '" SCHEMA_VERSION
			               "' WHERE key = 'schema'");
		if (err) {
			sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
			return err;
		}
		return exec(st, "COMMIT");
	}
	if (*version && strcmp(version, SCHEMA_VERSION)) {
		/* Another schema: start over. */
		remove_db(st, path);
		return open_db(st, path, retried);
	}
	return exec(st, schema_sql);
}

/*
 * Whether a process holds the flock on `path`, and which, read from
 * /proc/locks: asking by taking a shared lock, even for a moment, would make
 * a writer that starts in that moment wait, or fail with --no-wait.
 * Returns 1 (held; *pid the holder, 0 when not shown), 0, or -errno.
 */
static int flock_holder(const char *path, long *pid)
{
	struct stat sb;
	char line[256];
	FILE *f;
	int held = 0;

	*pid = 0;
	if (stat(path, &sb) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!(f = fopen("/proc/locks", "re")))
		return -errno;
	/* "1: FLOCK  ADVISORY  WRITE 4242 08:01:1234 0 EOF"; waiters have "->". */
	while (!held && fgets(line, sizeof(line), f)) {
		char type[16], mode[16], rw[16];
		unsigned maj, min;
		unsigned long long ino;
		long who;
		const char *p = strchr(line, ':');
		if (!p)
			continue;
		p++;
		while (*p == ' ')
			p++;
		if (!strncmp(p, "->", 2))
			continue;
		if (sscanf(p, "%15s %15s %15s %ld %x:%x:%llu", type, mode, rw, &who, &maj, &min,
		           &ino) == 7 &&
		    !strcmp(type, "FLOCK") && ino == (unsigned long long)sb.st_ino &&
		    maj == major(sb.st_dev) && min == minor(sb.st_dev)) {
			held = 1;
			*pid = who > 0 ? who : 0;
		}
	}
	fclose(f);
	return held;
}

int rpl_state_holder(const char *root, long *pid)
{
	char *path = rpl_path_join(root, ".ripple/lock");
	int r = flock_holder(path, pid);

	if (r < 0)
		rpl_error(r, "cannot tell who holds '%s': %s", path, strerror(-r));
	free(path);
	return r;
}

/*
 * A reader's store when there is none to read (no database yet, or one a
 * writer is still making): empty, in memory, with the schema.
 */
static int open_empty(struct rpl_state *st)
{
	int err;

	if (sqlite3_open_v2(":memory:", &st->db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK)
		return db_error(st, "an empty store");
	if ((err = exec(st, schema_sql)))
		return err;
	return exec(st, "PRAGMA query_only=1; BEGIN");
}

/*
 * Opens `path` for reading: no lock, nothing created or upgraded, nothing
 * written.  Its reads are one transaction, so they see one moment of the
 * store however many records a build commits meanwhile (WAL readers never
 * wait for the writer).  A database of another schema version is a writer
 * upgrading it (it does so in one transaction, just after taking the lock):
 * while one holds the lock, it is read again for up to two seconds.
 */
static int open_reader(struct rpl_state *st, const char *root, const char *path)
{
	char version[32];
	long pid = 0;
	int err, held;
	struct stat sb;

	st->reader = 1;
	/* Opened again each time: a writer replacing a store of a version it
	 * cannot upgrade deletes the file and makes a new one. */
	for (int tries = 0;; tries++) {
		if (stat(path, &sb) < 0)
			return errno == ENOENT ? open_empty(st)
			                       : rpl_error(-errno, "cannot read '%s': %s", path,
			                                   strerror(errno));
		if (sqlite3_open_v2(path, &st->db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
			return db_error(st, path);
		sqlite3_busy_timeout(st->db, 10000);
		if ((err = exec(st, "PRAGMA query_only=1; PRAGMA mmap_size=268435456; BEGIN")))
			return err;
		stored_version(st, version, sizeof(version));
		if (!strcmp(version, SCHEMA_VERSION))
			return 0;
		sqlite3_close(st->db); /* ends the read transaction */
		st->db = NULL;
		/* No tables yet: made this moment by a writer, nothing committed. */
		if (!*version)
			return open_empty(st);
		held = rpl_state_holder(root, &pid);
		if (held <= 0 || tries == 100)
			break;
		sleep_ms(20);
	}
	if (held > 0)
		return rpl_error(
		        -EWOULDBLOCK,
		        "'%s' is of schema version %s and another ripple (pid %ld) holds it; "
		        "this ripple reads version %s",
		        path, version, pid, SCHEMA_VERSION);
	return rpl_error(-RPL_ESCHEMA,
	                 "'%s' is of schema version %s; this ripple reads version %s (a plan or "
	                 "build upgrades it)",
	                 path, version, SCHEMA_VERSION);
}

int rpl_state_open(struct rpl_state **out, const char *root, int mode)
{
	struct rpl_state *st = rpl_xcalloc(1, sizeof(*st));
	char *dir = rpl_path_join(root, ".ripple"), *db = rpl_path_join(dir, "state.db");
	int err = 0;

	st->lock_fd = -1;
	st->root = rpl_xstrdup(root);
	rpl_arena_init(&st->mem);

	if (mode == RPL_STATE_READ) {
		if ((err = open_reader(st, root, db)))
			goto out;
		goto prepare;
	}
	if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
		err = rpl_error(-errno, "cannot create '%s': %s", dir, strerror(errno));
		goto out;
	}
	err = take_lock(st, dir, mode != RPL_STATE_WAIT);
	if (err == -EWOULDBLOCK && mode == RPL_STATE_TRY) {
		rpl_error_clear();
		if ((err = open_reader(st, root, db)))
			goto out;
		goto prepare;
	}
	if (err)
		goto out;
	/* Keep .ripple/ out of `git status` (and so out of --changed). */
	{
		char *ignore = rpl_path_join(dir, ".gitignore");
		struct stat sb;
		if (stat(ignore, &sb) < 0 && rpl_write_file_atomic(ignore, "*\n", 2))
			rpl_warn("%s", rpl_errmsg());
		free(ignore);
	}

	if ((err = open_db(st, db, 0)))
		goto out;
prepare:
	for (int i = 0; i < ST_COUNT; i++)
		if (sqlite3_prepare_v3(st->db, sql[i], -1, SQLITE_PREPARE_PERSISTENT, &st->st[i],
		                       NULL) != SQLITE_OK) {
			err = db_error(st, sql[i]);
			goto out;
		}
out:
	free(db);
	free(dir);
	if (err) {
		rpl_state_close(st);
		st = NULL;
	}
	*out = st;
	return err;
}

void rpl_state_close(struct rpl_state *st)
{
	if (!st)
		return;
	for (int i = 0; i < ST_COUNT; i++)
		sqlite3_finalize(st->st[i]);
	if (st->db)
		sqlite3_close(st->db);
	if (st->lock_fd >= 0)
		close(st->lock_fd); /* releases the flock */
	rpl_strmap_release(&st->stats);
	rpl_strmap_release(&st->seen);
	rpl_strmap_release(&st->jobs);
	rpl_arena_release(&st->mem);
	free(st->root);
	free(st);
}

/* A reader's transaction is its one read transaction, held until it closes. */
int rpl_state_begin(struct rpl_state *st)
{
	return st->reader ? 0 : exec(st, "BEGIN IMMEDIATE");
}

int rpl_state_commit(struct rpl_state *st)
{
	return st->reader ? 0 : exec(st, "COMMIT");
}

int rpl_state_is_reader(const struct rpl_state *st)
{
	return st->reader;
}

static sqlite3_stmt *stmt(struct rpl_state *st, enum stmt which)
{
	sqlite3_stmt *s = st->st[which];

	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	return s;
}

/*
 * Runs a statement that returns no rows.  A reader's writes are dropped
 * here, the one place every write passes: what it would have cached (a
 * digest, a parsed recipe, a plan's memo) the next writer caches.
 */
static int step_done(struct rpl_state *st, sqlite3_stmt *s)
{
	int rc;

	if (st->reader && !sqlite3_stmt_readonly(s)) {
		sqlite3_reset(s);
		return 0;
	}
	rc = sqlite3_step(s);

	sqlite3_reset(s);
	return rc == SQLITE_DONE ? 0 : db_error(st, sqlite3_sql(s));
}

/* "name<TAB>kind<TAB>arch" into buf[a + b + c + 3] (the lengths given). */
static char *put_job_key(char *buf, const char *name, size_t a, const char *kind, size_t b,
                         const char *arch, size_t c)
{
	memcpy(buf, name, a);
	buf[a] = '\t';
	memcpy(buf + a + 1, kind, b);
	buf[a + 1 + b] = '\t';
	memcpy(buf + a + b + 2, arch, c + 1);
	return buf;
}

/* A job's key in the records map, kept in `a`. */
static const char *job_key(struct rpl_arena *a, const char *name, const char *kind,
                           const char *arch)
{
	size_t x = strlen(name), y = strlen(kind), z = strlen(arch);

	return put_job_key(rpl_arena_alloc(a, x + y + z + 3), name, x, kind, y, arch, z);
}

/*
 * The same key in `buf`, for lookups (a plan makes one per job and edge:
 * no printf).  Returns NULL when it does not fit, which no record's does.
 */
static const char *job_key_buf(char *buf, size_t n, const char *name, const char *kind,
                               const char *arch)
{
	size_t a = strlen(name), b = strlen(kind), c = strlen(arch);

	return a + b + c + 3 > n ? NULL : put_job_key(buf, name, a, kind, b, arch, c);
}

int rpl_state_preload_jobs(struct rpl_state *st)
{
	sqlite3_stmt *s = stmt(st, ST_JOB_ALL);
	int rc;

	if (st->jobs_preloaded)
		return 0;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct job_row *r = rpl_arena_alloc(&st->mem, sizeof(*r));
		const char *key = job_key(&st->mem, (const char *)sqlite3_column_text(s, 0),
		                          (const char *)sqlite3_column_text(s, 1),
		                          (const char *)sqlite3_column_text(s, 2));
		if (sqlite3_column_bytes(s, 3) == RPL_SHA256_LEN)
			memcpy(r->rec.own_hash, sqlite3_column_blob(s, 3), RPL_SHA256_LEN);
		if (sqlite3_column_bytes(s, 4) == RPL_SHA256_LEN)
			memcpy(r->rec.input_hash, sqlite3_column_blob(s, 4), RPL_SHA256_LEN);
		snprintf(r->rec.status, sizeof(r->rec.status), "%s",
		         (const char *)sqlite3_column_text(s, 5));
		r->rec.duration = sqlite3_column_double(s, 6);
		r->rec.finished_ns = sqlite3_column_int64(s, 7);
		rpl_strmap_slot(&st->jobs, key)->value = r;
	}
	sqlite3_reset(s);
	if (rc != SQLITE_DONE)
		return db_error(st, "reading the job records");
	st->jobs_preloaded = 1;
	return 0;
}

int rpl_state_unmap(struct rpl_state *st)
{
	return exec(st, "PRAGMA mmap_size=0");
}

int rpl_state_preload(struct rpl_state *st)
{
	sqlite3_stmt *s = stmt(st, ST_STAT_ALL);
	int rc;

	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct stat_row *r = rpl_arena_alloc(&st->mem, sizeof(*r));
		if (sqlite3_column_bytes(s, 4) != RPL_SHA256_LEN)
			continue;
		r->size = sqlite3_column_int64(s, 1);
		r->mtime = sqlite3_column_int64(s, 2);
		r->ino = sqlite3_column_int64(s, 3);
		memcpy(r->digest, sqlite3_column_blob(s, 4), RPL_SHA256_LEN);
		r->hashed = sqlite3_column_int64(s, 5);
		rpl_strmap_slot(&st->stats,
		                rpl_arena_strdup(&st->mem, (const char *)sqlite3_column_text(s, 0)))
		        ->value = r;
	}
	sqlite3_reset(s);
	if (rc != SQLITE_DONE)
		return db_error(st, "reading the stat cache");

	st->preloaded = 1;
	return rpl_state_preload_jobs(st);
}

/* Whether the cached row still describes the file (git's racy rule included). */
static int stat_clean(const struct stat_row *r, const struct stat *sb)
{
	int64_t mtime = (int64_t)sb->st_mtim.tv_sec * 1000000000 + sb->st_mtim.tv_nsec;

	return r && r->size == (int64_t)sb->st_size && r->mtime == mtime &&
	       r->ino == (int64_t)sb->st_ino && mtime < r->hashed - 1000000000;
}

void rpl_state_use_stats(struct rpl_state *st, const struct rpl_strmap *seen)
{
	st->lent = seen;
}

/* stat(2) of `path` (`full` from the cwd), or what the lent walk saw of it. */
static int stat_path(const struct rpl_state *st, const char *path, const char *full,
                     struct stat *sb)
{
	const struct rpl_file_stat *f = st->lent ? rpl_strmap_get(st->lent, path) : NULL;

	if (!f)
		return stat(full, sb);
	memset(sb, 0, sizeof(*sb));
	sb->st_mode = S_IFREG;
	sb->st_size = (off_t)f->size;
	sb->st_ino = (ino_t)f->ino;
	sb->st_mtim.tv_sec = (time_t)(f->mtime_ns / 1000000000);
	sb->st_mtim.tv_nsec = (long)(f->mtime_ns % 1000000000);
	return 0;
}

int rpl_state_digest_known(const struct rpl_state *st, const char *path,
                           uint8_t out[RPL_SHA256_LEN])
{
	const struct stat_row *r = st->preloaded ? rpl_strmap_get(&st->stats, path) : NULL;
	char *full;
	struct stat sb;
	int clean;

	if (!r)
		return 0;
	full = rpl_path_join(st->root, path);
	clean = stat_path(st, path, full, &sb) == 0 && stat_clean(r, &sb);
	free(full);
	if (clean)
		memcpy(out, r->digest, RPL_SHA256_LEN);
	return clean;
}

/*
 * The sha256 of a regular file's bytes.  Anything else under a package's
 * dir (a FIFO would block the read, a link to /dev/zero never ends it) is
 * refused as an input.
 */
static int hash_file(const char *path, uint8_t out[RPL_SHA256_LEN])
{
	struct rpl_sha256 h;
	char buf[65536];
	int fd = rpl_open_regular(path), err = 0;

	if (fd < 0)
		return fd;
	rpl_sha256_init(&h);
	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err = rpl_error(-errno, "cannot read '%s': %s", path, strerror(errno));
			break;
		}
		if (!n)
			break;
		rpl_sha256_update(&h, buf, (size_t)n);
	}
	rpl_sha256_final(&h, out);
	close(fd);
	return err;
}

int rpl_state_digest_seed(struct rpl_state *st, const char *path,
                          const uint8_t digest[RPL_SHA256_LEN], int64_t read_ns)
{
	char *full = rpl_path_join(st->root, path);
	struct stat sb;
	sqlite3_stmt *s;
	int err = 0;

	/* A file that changed since the read is left to rpl_state_digest. */
	if (stat(full, &sb) < 0 ||
	    (int64_t)sb.st_mtim.tv_sec * 1000000000 + sb.st_mtim.tv_nsec >= read_ns)
		goto out;
	rpl_strmap_slot(&st->seen, rpl_arena_strdup(&st->mem, path))->value =
	        rpl_arena_memdup(&st->mem, digest, RPL_SHA256_LEN, 1);
	s = stmt(st, ST_STAT_PUT);
	sqlite3_bind_text(s, 1, path, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, (int64_t)sb.st_size);
	sqlite3_bind_int64(s, 3, (int64_t)sb.st_mtim.tv_sec * 1000000000 + sb.st_mtim.tv_nsec);
	sqlite3_bind_int64(s, 4, (int64_t)sb.st_ino);
	sqlite3_bind_blob(s, 5, digest, RPL_SHA256_LEN, SQLITE_STATIC);
	sqlite3_bind_int64(s, 6, read_ns);
	err = step_done(st, s);
out:
	free(full);
	return err;
}

int rpl_state_digest(struct rpl_state *st, const char *path, uint8_t out[RPL_SHA256_LEN])
{
	const uint8_t *seen = rpl_strmap_get(&st->seen, path);
	char *full;
	struct stat sb;
	sqlite3_stmt *s;
	int64_t mtime, now;
	int err = 0;

	if (seen) {
		memcpy(out, seen, RPL_SHA256_LEN);
		return 0;
	}
	full = rpl_path_join(st->root, path);

	if (stat_path(st, path, full, &sb) < 0) {
		err = errno == ENOENT || errno == ENOTDIR
		              ? -ENOENT
		              : rpl_error(-errno, "cannot stat '%s': %s", path, strerror(errno));
		goto out;
	}
	mtime = (int64_t)sb.st_mtim.tv_sec * 1000000000 + sb.st_mtim.tv_nsec;
	if (st->preloaded) {
		struct stat_row *r = rpl_strmap_get(&st->stats, path);
		if (stat_clean(r, &sb)) {
			memcpy(out, r->digest, RPL_SHA256_LEN);
			goto out;
		}
		goto rehash;
	}
	s = stmt(st, ST_STAT_GET);
	sqlite3_bind_text(s, 1, path, -1, SQLITE_STATIC);
	if (sqlite3_step(s) == SQLITE_ROW && sqlite3_column_int64(s, 0) == (int64_t)sb.st_size &&
	    sqlite3_column_int64(s, 1) == mtime &&
	    sqlite3_column_int64(s, 2) == (int64_t)sb.st_ino &&
	    sqlite3_column_bytes(s, 3) == RPL_SHA256_LEN &&
	    mtime < sqlite3_column_int64(s, 4) - 1000000000) {
		memcpy(out, sqlite3_column_blob(s, 3), RPL_SHA256_LEN);
		sqlite3_reset(s);
		goto out;
	}
	sqlite3_reset(s);
rehash:
	now = now_ns();
	if ((err = hash_file(full, out)))
		goto out;
	s = stmt(st, ST_STAT_PUT);
	sqlite3_bind_text(s, 1, path, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, (int64_t)sb.st_size);
	sqlite3_bind_int64(s, 3, mtime);
	sqlite3_bind_int64(s, 4, (int64_t)sb.st_ino);
	sqlite3_bind_blob(s, 5, out, RPL_SHA256_LEN, SQLITE_STATIC);
	sqlite3_bind_int64(s, 6, now);
	err = step_done(st, s);
out:
	if (!err)
		rpl_strmap_slot(&st->seen, rpl_arena_strdup(&st->mem, path))->value =
		        rpl_arena_memdup(&st->mem, out, RPL_SHA256_LEN, 1);
	free(full);
	return err;
}

int rpl_state_parse_each(struct rpl_state *st,
                         void (*fn)(void *ctx, const char *file, const uint8_t *key,
                                    const void *data, size_t len),
                         void *ctx)
{
	sqlite3_stmt *s = stmt(st, ST_PARSE_ALL);
	int rc;

	while ((rc = sqlite3_step(s)) == SQLITE_ROW)
		if (sqlite3_column_bytes(s, 1) == RPL_SHA256_LEN)
			fn(ctx, (const char *)sqlite3_column_text(s, 0), sqlite3_column_blob(s, 1),
			   sqlite3_column_blob(s, 2), (size_t)sqlite3_column_bytes(s, 2));
	sqlite3_reset(s);
	return rc == SQLITE_DONE ? 0 : db_error(st, "reading the parse cache");
}

int rpl_state_parse_delete(struct rpl_state *st, const char *file)
{
	sqlite3_stmt *s = stmt(st, ST_PARSE_DEL);

	sqlite3_bind_text(s, 1, file, -1, SQLITE_STATIC);
	return step_done(st, s);
}

int rpl_state_parse_put(struct rpl_state *st, const char *file, const uint8_t key[RPL_SHA256_LEN],
                        const void *data, size_t len)
{
	sqlite3_stmt *s = stmt(st, ST_PARSE_PUT);

	sqlite3_bind_text(s, 1, file, -1, SQLITE_STATIC);
	sqlite3_bind_blob(s, 2, key, RPL_SHA256_LEN, SQLITE_STATIC);
	sqlite3_bind_blob(s, 3, data, (int)len, SQLITE_STATIC);
	return step_done(st, s);
}

/* Binds (name, kind, arch) to the parameters from `at` on. */
static void bind_job_at(sqlite3_stmt *s, int at, const char *name, const char *kind,
                        const char *arch)
{
	sqlite3_bind_text(s, at, name, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, at + 1, kind, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, at + 2, arch, -1, SQLITE_STATIC);
}

static void bind_job(sqlite3_stmt *s, const char *name, const char *kind, const char *arch)
{
	bind_job_at(s, 1, name, kind, arch);
}

int rpl_state_job_get(struct rpl_state *st, const char *name, const char *kind, const char *arch,
                      struct rpl_job_record *rec)
{
	sqlite3_stmt *s = stmt(st, ST_JOB_GET);

	memset(rec, 0, sizeof(*rec));
	if (st->jobs_preloaded) {
		char key[1024];
		const struct job_row *r;
		if (!job_key_buf(key, sizeof(key), name, kind, arch) ||
		    !(r = rpl_strmap_get(&st->jobs, key)))
			return 0;
		*rec = r->rec;
		return 1;
	}

	bind_job(s, name, kind, arch);
	if (sqlite3_step(s) != SQLITE_ROW) {
		sqlite3_reset(s);
		return 0;
	}
	if (sqlite3_column_bytes(s, 0) == RPL_SHA256_LEN)
		memcpy(rec->own_hash, sqlite3_column_blob(s, 0), RPL_SHA256_LEN);
	if (sqlite3_column_bytes(s, 1) == RPL_SHA256_LEN)
		memcpy(rec->input_hash, sqlite3_column_blob(s, 1), RPL_SHA256_LEN);
	snprintf(rec->status, sizeof(rec->status), "%s", (const char *)sqlite3_column_text(s, 2));
	rec->duration = sqlite3_column_double(s, 3);
	rec->finished_ns = sqlite3_column_int64(s, 4);
	sqlite3_reset(s);
	return 1;
}

int rpl_state_job_inputs(struct rpl_state *st, const char *name, const char *kind, const char *arch,
                         struct rpl_job_record *rec)
{
	sqlite3_stmt *s = stmt(st, ST_JOB_INPUTS_GET);
	size_t alloc = 0;
	int rc;

	for (size_t i = 0; i < rec->ninputs; i++)
		free(rec->paths[i]);
	free(rec->paths);
	free(rec->digests);
	rec->paths = NULL;
	rec->digests = NULL;
	rec->ninputs = 0;
	bind_job(s, name, kind, arch);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (rec->ninputs == alloc) {
			alloc = alloc ? alloc * 2 : 8;
			rec->paths = rpl_xrealloc(rec->paths, alloc * sizeof(*rec->paths));
			rec->digests = rpl_xrealloc(rec->digests, alloc * sizeof(*rec->digests));
		}
		rec->paths[rec->ninputs] = rpl_xstrdup((const char *)sqlite3_column_text(s, 0));
		memset(rec->digests[rec->ninputs], 0, RPL_SHA256_LEN);
		if (sqlite3_column_bytes(s, 1) == RPL_SHA256_LEN)
			memcpy(rec->digests[rec->ninputs], sqlite3_column_blob(s, 1),
			       RPL_SHA256_LEN);
		rec->ninputs++;
	}
	sqlite3_reset(s);
	return rc == SQLITE_DONE ? 0 : db_error(st, "reading a job's inputs");
}

int rpl_state_blob_get(struct rpl_state *st, const char *name, void **data, size_t *len)
{
	sqlite3_stmt *s = stmt(st, ST_BLOB_GET);
	sqlite3_int64 rowid = 0;
	sqlite3_blob *b = NULL;
	int rc;

	*data = NULL;
	*len = 0;
	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		rowid = sqlite3_column_int64(s, 0);
		*len = (size_t)sqlite3_column_int64(s, 1);
	}
	sqlite3_reset(s);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return db_error(st, "reading a blob");
	if (rc != SQLITE_ROW)
		return 0;
	/* Read straight into our buffer (the snapshot is megabytes at scale):
	 * not into SQLite's copy of the value and then ours. */
	*data = rpl_xmalloc(*len ? *len : 1);
	if (*len && (sqlite3_blob_open(st->db, "main", "blob", "data", rowid, 0, &b) != SQLITE_OK ||
	             sqlite3_blob_read(b, *data, (int)*len, 0) != SQLITE_OK)) {
		sqlite3_blob_close(b);
		free(*data);
		*data = NULL;
		*len = 0;
		return db_error(st, "reading a blob");
	}
	sqlite3_blob_close(b);
	return 1;
}

int rpl_state_blob_put(struct rpl_state *st, const char *name, const void *data, size_t len)
{
	struct iovec part = { (void *)data, len };

	return rpl_state_blob_putv(st, name, &part, 1);
}

int rpl_state_blob_putv(struct rpl_state *st, const char *name, const struct iovec *parts, size_t n)
{
	sqlite3_stmt *s = stmt(st, ST_BLOB_PUT);
	sqlite3_blob *b = NULL;
	sqlite3_uint64 total = 0;
	int off = 0, err;

	if (st->reader)
		return 0; /* a reader writes nothing (step_done) */
	for (size_t i = 0; i < n; i++)
		total += parts[i].iov_len;
	if (total > INT32_MAX)
		return rpl_error(-EFBIG, "state database: '%s' is too large", name);
	/* Written in place, piece by piece: never a copy of the whole. */
	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_zeroblob64(s, 2, total);
	if ((err = step_done(st, s)))
		return err;
	if (sqlite3_blob_open(st->db, "main", "blob", "data", sqlite3_last_insert_rowid(st->db), 1,
	                      &b) != SQLITE_OK)
		return db_error(st, "writing a blob");
	for (size_t i = 0; i < n; i++) {
		if (parts[i].iov_len &&
		    sqlite3_blob_write(b, parts[i].iov_base, (int)parts[i].iov_len, off) !=
		            SQLITE_OK) {
			sqlite3_blob_close(b);
			return db_error(st, "writing a blob");
		}
		off += (int)parts[i].iov_len;
	}
	return sqlite3_blob_close(b) == SQLITE_OK ? 0 : db_error(st, "writing a blob");
}

int rpl_state_blob_delete(struct rpl_state *st, const char *name)
{
	sqlite3_stmt *s = stmt(st, ST_BLOB_DEL);

	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	return step_done(st, s);
}

int rpl_state_meta_get(struct rpl_state *st, const char *key, char *buf, size_t n)
{
	sqlite3_stmt *s = stmt(st, ST_META_GET);
	int found = 0;

	sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
	if (sqlite3_step(s) == SQLITE_ROW) {
		snprintf(buf, n, "%s", (const char *)sqlite3_column_text(s, 0));
		found = 1;
	}
	sqlite3_reset(s);
	return found;
}

int rpl_state_meta_set(struct rpl_state *st, const char *key, const char *value)
{
	sqlite3_stmt *s = stmt(st, ST_META_SET);

	sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, value, -1, SQLITE_STATIC);
	return step_done(st, s);
}

int64_t rpl_state_generation(struct rpl_state *st)
{
	char buf[32];

	return rpl_state_meta_get(st, "generation", buf, sizeof(buf)) ? strtoll(buf, NULL, 10) : 0;
}

int rpl_state_job_put(struct rpl_state *st, const char *name, const char *kind, const char *arch,
                      const struct rpl_job_record *rec)
{
	sqlite3_stmt *s = stmt(st, ST_JOB_PUT);
	char gen[32];
	int err;

	snprintf(gen, sizeof(gen), "%lld", (long long)rpl_state_generation(st) + 1);
	if ((err = rpl_state_meta_set(st, "generation", gen)))
		return err;

	bind_job(s, name, kind, arch);
	sqlite3_bind_blob(s, 4, rec->own_hash, RPL_SHA256_LEN, SQLITE_STATIC);
	sqlite3_bind_blob(s, 5, rec->input_hash, RPL_SHA256_LEN, SQLITE_STATIC);
	sqlite3_bind_text(s, 6, rec->status, -1, SQLITE_STATIC);
	sqlite3_bind_double(s, 7, rec->duration);
	sqlite3_bind_int64(s, 8, rec->finished_ns ? rec->finished_ns : now_ns());
	if (rec->log)
		sqlite3_bind_text(s, 9, rec->log, -1, SQLITE_STATIC);
	if (rec->cache)
		sqlite3_bind_text(s, 10, rec->cache, -1, SQLITE_STATIC);
	if ((err = step_done(st, s)))
		return err;
	s = stmt(st, ST_JOB_OUTPUTS_DEL);
	bind_job(s, name, kind, arch);
	if ((err = step_done(st, s)))
		return err;
	for (size_t i = 0; i < rec->noutputs; i++) {
		s = stmt(st, ST_JOB_OUTPUT_PUT);
		bind_job(s, name, kind, arch);
		sqlite3_bind_text(s, 4, rec->outputs[i], -1, SQLITE_STATIC);
		sqlite3_bind_blob(s, 5, rec->output_digests[i], RPL_SHA256_LEN, SQLITE_STATIC);
		if ((err = step_done(st, s)))
			return err;
	}
	s = stmt(st, ST_JOB_INPUTS_DEL);
	bind_job(s, name, kind, arch);
	if ((err = step_done(st, s)))
		return err;
	for (size_t i = 0; i < rec->ninputs; i++) {
		s = stmt(st, ST_JOB_INPUT_PUT);
		bind_job(s, name, kind, arch);
		sqlite3_bind_text(s, 4, rec->paths[i], -1, SQLITE_STATIC);
		sqlite3_bind_blob(s, 5, rec->digests[i], RPL_SHA256_LEN, SQLITE_STATIC);
		if ((err = step_done(st, s)))
			return err;
	}
	/* The preloaded records stay true: a build reads what it just wrote. */
	if (st->jobs_preloaded) {
		const char *key = job_key(&st->mem, name, kind, arch);
		struct rpl_strmap_slot *slot = rpl_strmap_slot(&st->jobs, key);
		struct job_row *r = slot->value;
		if (!r)
			slot->value = r = rpl_arena_alloc(&st->mem, sizeof(*r));
		memset(r, 0, sizeof(*r));
		memcpy(r->rec.own_hash, rec->own_hash, RPL_SHA256_LEN);
		memcpy(r->rec.input_hash, rec->input_hash, RPL_SHA256_LEN);
		snprintf(r->rec.status, sizeof(r->rec.status), "%s", rec->status);
		r->rec.duration = rec->duration;
		r->rec.finished_ns = rec->finished_ns;
	}
	return 0;
}

void rpl_job_record_release(struct rpl_job_record *rec)
{
	for (size_t i = 0; i < rec->ninputs; i++)
		free(rec->paths[i]);
	free(rec->paths);
	free(rec->digests);
	memset(rec, 0, sizeof(*rec));
}

int64_t rpl_state_run_begin(struct rpl_state *st, const char *command)
{
	sqlite3_stmt *s = stmt(st, ST_RUN_BEGIN);
	int err;

	sqlite3_bind_text(s, 1, command, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, now_ns());
	if ((err = step_done(st, s)))
		return err;
	return sqlite3_last_insert_rowid(st->db);
}

int rpl_state_run_job_put(struct rpl_state *st, int64_t run, const struct rpl_run_job_record *r)
{
	sqlite3_stmt *s = stmt(st, ST_RUN_JOB_PUT);

	sqlite3_bind_int64(s, 1, run);
	bind_job_at(s, 2, r->name, r->kind, r->arch);
	sqlite3_bind_text(s, 5, r->status, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 6, r->started_ns);
	sqlite3_bind_double(s, 7, r->duration);
	if (r->log)
		sqlite3_bind_text(s, 8, r->log, -1, SQLITE_STATIC);
	if (r->message)
		sqlite3_bind_text(s, 9, r->message, -1, SQLITE_STATIC);
	return step_done(st, s);
}

/* Rows of `sql` (with ?1 bound to `n`) as JSON objects named by `cols`. */
static json_t *rows(struct rpl_state *st, const char *query, int64_t n, const char *const *cols,
                    size_t ncols)
{
	sqlite3_stmt *s;
	json_t *out = json_array();

	if (sqlite3_prepare_v2(st->db, query, -1, &s, NULL) != SQLITE_OK) {
		json_decref(out);
		db_error(st, query);
		return NULL;
	}
	sqlite3_bind_int64(s, 1, n);
	while (sqlite3_step(s) == SQLITE_ROW) {
		json_t *o = json_object();
		for (size_t i = 0; i < ncols; i++) {
			json_t *v;
			switch (sqlite3_column_type(s, (int)i)) {
			case SQLITE_INTEGER:
				v = json_integer(sqlite3_column_int64(s, (int)i));
				break;
			case SQLITE_FLOAT:
				v = json_real(sqlite3_column_double(s, (int)i));
				break;
			case SQLITE_NULL:
				v = json_null();
				break;
			default:
				v = json_string((const char *)sqlite3_column_text(s, (int)i));
			}
			json_object_set_new(o, cols[i], v ? v : json_null());
		}
		json_array_append_new(out, o);
	}
	sqlite3_finalize(s);
	return out;
}

json_t *rpl_state_history(struct rpl_state *st, int64_t nruns)
{
	static const char *const run_cols[] = { "id",          "command", "status", "started_ns",
		                                "finished_ns", "built",   "failed", "skipped" };
	static const char *const fail_cols[] = { "run",      "name",   "kind",
		                                 "arch",     "status", "started_ns",
		                                 "duration", "log",    "message" };
	static const char *const slow_cols[] = { "name", "kind", "arch", "duration",
		                                 "finished_ns" };
	json_t *h = json_object(), *runs, *fails, *slow;

	runs = rows(st,
	            "SELECT id, command, status, started_ns, finished_ns,"
	            " (SELECT count(*) FROM run_job WHERE run = run.id AND status = 'ok'),"
	            " (SELECT count(*) FROM run_job WHERE run = run.id AND status IN"
	            "   ('failed', 'timeout')),"
	            " (SELECT count(*) FROM run_job WHERE run = run.id AND status = 'skipped')"
	            " FROM run ORDER BY id DESC LIMIT ?1",
	            nruns, run_cols, 8);
	fails = rows(st,
	             "SELECT run, name, kind, arch, status, started_ns, duration, log, message"
	             " FROM run_job WHERE status IN ('failed', 'timeout')"
	             " ORDER BY run DESC, started_ns DESC LIMIT ?1",
	             nruns * 5, fail_cols, 9);
	slow = rows(st,
	            "SELECT name, kind, arch, duration, finished_ns FROM job WHERE status = 'ok'"
	            " ORDER BY duration DESC LIMIT ?1",
	            10, slow_cols, 5);
	if (!runs || !fails || !slow) {
		json_decref(h);
		json_decref(runs);
		json_decref(fails);
		json_decref(slow);
		return NULL;
	}
	json_object_set_new(h, "runs", runs);
	json_object_set_new(h, "failures", fails);
	json_object_set_new(h, "slowest", slow);
	return h;
}

int rpl_state_run_end(struct rpl_state *st, int64_t id, const char *status)
{
	sqlite3_stmt *s = stmt(st, ST_RUN_END);

	sqlite3_bind_int64(s, 1, id);
	sqlite3_bind_text(s, 2, status, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, now_ns());
	return step_done(st, s);
}

/* ---- output repositories ----------------------------------------------------------------- */

int rpl_state_repo_each(struct rpl_state *st, const char *dir,
                        void (*fn)(void *ctx, const char *name, const struct rpl_repo_seen *s),
                        void *ctx)
{
	sqlite3_stmt *s = stmt(st, ST_REPO_GET);
	int rc;

	sqlite3_bind_text(s, 1, dir, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct rpl_repo_seen seen;
		memset(&seen, 0, sizeof(seen));
		seen.size = sqlite3_column_int64(s, 1);
		seen.mtime_ns = sqlite3_column_int64(s, 2);
		seen.ino = sqlite3_column_int64(s, 3);
		seen.seen_ns = sqlite3_column_int64(s, 4);
		snprintf(seen.csum, sizeof(seen.csum), "%s",
		         (const char *)sqlite3_column_text(s, 5));
		fn(ctx, (const char *)sqlite3_column_text(s, 0), &seen);
	}
	sqlite3_reset(s);
	return rc == SQLITE_DONE ? 0 : db_error(st, "reading what was seen of the repositories");
}

int rpl_state_repo_put(struct rpl_state *st, const char *dir, const char *name,
                       const struct rpl_repo_seen *seen)
{
	sqlite3_stmt *s = stmt(st, seen ? ST_REPO_PUT : ST_REPO_DEL);

	sqlite3_bind_text(s, 1, dir, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, name, -1, SQLITE_STATIC);
	if (seen) {
		sqlite3_bind_int64(s, 3, seen->size);
		sqlite3_bind_int64(s, 4, seen->mtime_ns);
		sqlite3_bind_int64(s, 5, seen->ino);
		sqlite3_bind_int64(s, 6, seen->seen_ns);
		sqlite3_bind_text(s, 7, seen->csum, -1, SQLITE_STATIC);
	}
	return step_done(st, s);
}

int rpl_state_repo_dirs(struct rpl_state *st, void (*fn)(void *ctx, const char *dir), void *ctx)
{
	sqlite3_stmt *s = stmt(st, ST_REPO_DIRS);
	int rc;

	while ((rc = sqlite3_step(s)) == SQLITE_ROW)
		fn(ctx, (const char *)sqlite3_column_text(s, 0));
	sqlite3_reset(s);
	return rc == SQLITE_DONE ? 0 : db_error(st, "reading what was seen of the repositories");
}

int rpl_state_output_owner(struct rpl_state *st, const char *path, struct rpl_job_id *owner,
                           uint8_t digest[RPL_SHA256_LEN])
{
	sqlite3_stmt *s = stmt(st, ST_OUTPUT_OWNER);
	int rc, found = 0;

	memset(owner, 0, sizeof(*owner));
	sqlite3_bind_text(s, 1, path, -1, SQLITE_STATIC);
	if ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		owner->name = rpl_xstrdup((const char *)sqlite3_column_text(s, 0));
		owner->kind = rpl_xstrdup((const char *)sqlite3_column_text(s, 1));
		owner->arch = rpl_xstrdup((const char *)sqlite3_column_text(s, 2));
		memset(digest, 0, RPL_SHA256_LEN);
		if (sqlite3_column_bytes(s, 3) == RPL_SHA256_LEN)
			memcpy(digest, sqlite3_column_blob(s, 3), RPL_SHA256_LEN);
		found = 1;
	}
	sqlite3_reset(s);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return db_error(st, "reading the outputs of the jobs");
	return found;
}

void rpl_job_id_release(struct rpl_job_id *id)
{
	free(id->name);
	free(id->kind);
	free(id->arch);
	memset(id, 0, sizeof(*id));
}

int rpl_state_outputs_each(struct rpl_state *st, const char *kind,
                           void (*fn)(void *ctx, const struct rpl_job_id *job, const char *path),
                           void *ctx)
{
	sqlite3_stmt *s = stmt(st, ST_OUTPUTS_OK);
	int rc;

	sqlite3_bind_text(s, 1, kind, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct rpl_job_id id = { (char *)sqlite3_column_text(s, 0),
			                 (char *)sqlite3_column_text(s, 1),
			                 (char *)sqlite3_column_text(s, 2) };
		fn(ctx, &id, (const char *)sqlite3_column_text(s, 3));
	}
	sqlite3_reset(s);
	return rc == SQLITE_DONE ? 0 : db_error(st, "reading the outputs of the jobs");
}

int rpl_state_job_set_status(struct rpl_state *st, const char *name, const char *kind,
                             const char *arch, const char *status)
{
	sqlite3_stmt *s;
	char gen[32];
	int err;

	snprintf(gen, sizeof(gen), "%lld", (long long)rpl_state_generation(st) + 1);
	if ((err = rpl_state_meta_set(st, "generation", gen)))
		return err;
	s = stmt(st, ST_JOB_STATUS);
	bind_job(s, name, kind, arch);
	sqlite3_bind_text(s, 4, status, -1, SQLITE_STATIC);
	if ((err = step_done(st, s)))
		return err;
	if (st->jobs_preloaded) {
		char key[1024];
		struct job_row *r;
		if (job_key_buf(key, sizeof(key), name, kind, arch) &&
		    (r = rpl_strmap_get(&st->jobs, key)))
			snprintf(r->rec.status, sizeof(r->rec.status), "%s", status);
	}
	return 0;
}

int rpl_state_runs_open(struct rpl_state *st, int64_t **ids, size_t *n)
{
	sqlite3_stmt *s = stmt(st, ST_RUNS_OPEN);
	size_t alloc = 0;
	int rc;

	*ids = NULL;
	*n = 0;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		RPL_ALLOC_GROW(*ids, *n + 1, alloc);
		(*ids)[(*n)++] = sqlite3_column_int64(s, 0);
	}
	sqlite3_reset(s);
	if (rc == SQLITE_DONE)
		return 0;
	free(*ids);
	*ids = NULL;
	*n = 0;
	return db_error(st, "reading the runs");
}

int rpl_state_runs_each(struct rpl_state *st, void (*fn)(void *ctx, int64_t id, int running),
                        void *ctx)
{
	sqlite3_stmt *s = stmt(st, ST_RUNS_ALL);
	int rc;

	while ((rc = sqlite3_step(s)) == SQLITE_ROW)
		fn(ctx, sqlite3_column_int64(s, 0), sqlite3_column_int(s, 1));
	sqlite3_reset(s);
	return rc == SQLITE_DONE ? 0 : db_error(st, "reading the runs");
}

int rpl_state_runs_forget(struct rpl_state *st, const int64_t *ids, size_t n)
{
	int err;

	if (!n)
		return 0;
	if ((err = rpl_state_begin(st)))
		return err;
	for (size_t i = 0; i < n && !err; i++) {
		sqlite3_stmt *s = stmt(st, ST_RUN_JOBS_FORGET);
		sqlite3_bind_int64(s, 1, ids[i]);
		if (!(err = step_done(st, s))) {
			s = stmt(st, ST_RUN_FORGET);
			sqlite3_bind_int64(s, 1, ids[i]);
			err = step_done(st, s);
		}
	}
	if (err) {
		exec(st, "ROLLBACK");
		return err;
	}
	return rpl_state_commit(st);
}

int rpl_state_job_logs(struct rpl_state *st, void (*fn)(void *ctx, const char *log), void *ctx)
{
	sqlite3_stmt *s = stmt(st, ST_JOB_LOGS);
	int rc;

	while ((rc = sqlite3_step(s)) == SQLITE_ROW)
		fn(ctx, (const char *)sqlite3_column_text(s, 0));
	sqlite3_reset(s);
	return rc == SQLITE_DONE ? 0 : db_error(st, "reading the jobs' logs");
}

/* ---- one run, whole ------------------------------------------------------------------ */

int rpl_state_run_job_detail_put(struct rpl_state *st, int64_t run, const char *name,
                                 const char *kind, const char *arch,
                                 const struct rpl_run_job_detail *d)
{
	sqlite3_stmt *s = stmt(st, ST_RUN_JOB_DETAIL);

	sqlite3_bind_int64(s, 1, run);
	bind_job_at(s, 2, name, kind, arch);
	if (d->slot >= 0)
		sqlite3_bind_int64(s, 5, d->slot);
	if (d->cause_name) {
		sqlite3_bind_text(s, 6, d->cause_name, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 7, d->cause_kind, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 8, d->cause_arch, -1, SQLITE_STATIC);
	}
	if (d->critical > 0)
		sqlite3_bind_int64(s, 9, d->critical);
	return step_done(st, s);
}

/* Column `i` as an arena string, NULL for SQL NULL. */
static const char *column_str(struct rpl_arena *a, sqlite3_stmt *s, int i)
{
	const unsigned char *t = sqlite3_column_text(s, i);

	return t ? rpl_arena_strdup(a, (const char *)t) : NULL;
}

int rpl_state_run_read(struct rpl_state *st, int64_t id, struct rpl_run *r)
{
	sqlite3_stmt *s = stmt(st, ST_RUN_GET);
	size_t alloc = 0;
	int rc;

	memset(r, 0, sizeof(*r));
	rpl_arena_init(&r->mem);
	sqlite3_bind_int64(s, 1, id);
	rc = sqlite3_step(s);
	if (rc != SQLITE_ROW) {
		sqlite3_reset(s);
		return rc == SQLITE_DONE ? 0 : db_error(st, "reading a run");
	}
	r->id = sqlite3_column_int64(s, 0);
	r->command = column_str(&r->mem, s, 1);
	r->status = column_str(&r->mem, s, 2);
	r->started_ns = sqlite3_column_int64(s, 3);
	r->finished_ns = sqlite3_column_int64(s, 4);
	sqlite3_reset(s);

	s = stmt(st, ST_RUN_JOBS);
	sqlite3_bind_int64(s, 1, r->id);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct rpl_run_row *j;
		RPL_ALLOC_GROW(r->jobs, r->njobs + 1, alloc);
		j = &r->jobs[r->njobs++];
		j->name = column_str(&r->mem, s, 0);
		j->kind = column_str(&r->mem, s, 1);
		j->arch = column_str(&r->mem, s, 2);
		j->status = column_str(&r->mem, s, 3);
		j->started_ns = sqlite3_column_int64(s, 4);
		j->duration = sqlite3_column_double(s, 5);
		j->log = column_str(&r->mem, s, 6);
		j->message = column_str(&r->mem, s, 7);
		j->slot =
		        sqlite3_column_type(s, 8) == SQLITE_NULL ? -1 : sqlite3_column_int64(s, 8);
		j->cause_name = column_str(&r->mem, s, 9);
		j->cause_kind = column_str(&r->mem, s, 10);
		j->cause_arch = column_str(&r->mem, s, 11);
		if (!j->cause_name || !j->cause_kind || !j->cause_arch)
			j->cause_name = j->cause_kind = j->cause_arch = NULL;
		j->critical = sqlite3_column_int64(s, 12);
		j->prev_run = sqlite3_column_int64(s, 13);
		j->prev_duration = j->prev_run ? sqlite3_column_double(s, 14) : -1;
	}
	sqlite3_reset(s);
	if (rc != SQLITE_DONE) {
		rpl_run_release(r);
		return db_error(st, "reading a run's jobs");
	}
	return 1;
}

void rpl_run_release(struct rpl_run *r)
{
	free(r->jobs);
	rpl_arena_release(&r->mem);
	memset(r, 0, sizeof(*r));
}
