/*
 * The state store: `.ripple/state.db`, SQLite in WAL mode.  It remembers
 * file digests (a stat cache), parsed recipes (a parse cache keyed by
 * content digest), what every job was last built from, and runs.  The
 * schema is described at the top of state.c.
 *
 * One process at a time writes the store (rpl_state_open takes an
 * exclusive lock on .ripple/lock); a second writer waits, or with
 * RPL_STATE_NO_WAIT fails and names the holder.  Readers (RPL_STATE_READ)
 * take no lock and never wait.
 */
#ifndef RPL_STATE_H
#define RPL_STATE_H

#include "common/arena.h"
#include "common/sha256.h"

#include <stddef.h>
#include <stdint.h>

/* The schema version this ripple reads and writes (state.c has the schema). */
#define RPL_STATE_SCHEMA "6"

struct rpl_state;

/* How rpl_state_open takes the store. */
enum rpl_state_mode {
	RPL_STATE_WAIT = 0,    /* the lock: wait while another ripple holds it */
	RPL_STATE_NO_WAIT = 1, /* the lock, or -EWOULDBLOCK at once */
	/*
	 * No lock: read what is committed, never waiting for a build (SQLite
	 * WAL readers never wait for the writer).  Nothing is created,
	 * upgraded or written: the writes of the functions below are dropped
	 * (what they cache, the next writer caches), and begin/commit do
	 * nothing.  The reads of one handle see one moment of the store.  No
	 * database yet: an empty store.  A database of another schema version:
	 * an error, -EWOULDBLOCK while another ripple holds the lock (it may be
	 * upgrading it), -RPL_ESCHEMA when none does.
	 */
	RPL_STATE_READ = 2,
	/* The lock when it is free (as RPL_STATE_NO_WAIT), else a reader. */
	RPL_STATE_TRY = 3,
};

/*
 * Opens (creating .ripple/ and the database when missing) the store of the
 * monorepo at `root`, as `mode` (enum rpl_state_mode) says.  A database of
 * another schema version is rebuilt: it holds only caches and records,
 * never sources.  Returns 0 or an error with a message; -EWOULDBLOCK when
 * RPL_STATE_NO_WAIT and another ripple holds it.
 */
int rpl_state_open(struct rpl_state **st, const char *root, int mode);
/* Whether `st` was opened as a reader (RPL_STATE_READ, or TRY that found the lock held). */
int rpl_state_is_reader(const struct rpl_state *st);

/*
 * Whether another process holds the store of `root` (.ripple/lock), asked
 * without taking the lock even for a moment: 1 with the holder's pid in
 * *pid (0 when it cannot be seen), 0 when none does, or an error.
 */
int rpl_state_holder(const char *root, long *pid);
void rpl_state_close(struct rpl_state *st);

/* Groups the writes that follow into one transaction (one per phase). */
int rpl_state_begin(struct rpl_state *st);
int rpl_state_commit(struct rpl_state *st);

/*
 * The sha256 of the file at `path` (relative to the root), from the stat
 * cache when size, mtime and inode match and the entry is not racy (its
 * mtime is not older than a second before it was hashed: git's rule), else
 * by reading it.  A handle takes each file's digest once and then keeps it
 * (one command = one snapshot of the tree): a command that changes files
 * and hashes them again needs a new handle.  Returns 0, or -ENOENT for a
 * missing file, or an error.
 */
int rpl_state_digest(struct rpl_state *st, const char *path, uint8_t out[RPL_SHA256_LEN]);

/*
 * Every parse-cache row, for a scan that reads them from several threads:
 * `fn` is called once per row; the strings are valid only during the call.
 */
int rpl_state_parse_each(struct rpl_state *st,
                         void (*fn)(void *ctx, const char *file, const uint8_t *key,
                                    const void *data, size_t len),
                         void *ctx);
int rpl_state_parse_delete(struct rpl_state *st, const char *file);

/*
 * Reads the whole stat cache and every job record (without its inputs)
 * into memory, so that a plan over thousands of jobs makes two queries
 * instead of one per file and per job.  Records written later are not seen
 * by rpl_state_job_get.
 */
int rpl_state_preload(struct rpl_state *st);

/* The job records alone: for a plan that takes few digests (from a snapshot). */
int rpl_state_preload_jobs(struct rpl_state *st);

/*
 * Stops reading the store through a memory map (which a plan, reading the
 * whole parse cache and the snapshot, wants): a build reads it once and
 * writes it for long after, and the pages of the map it read would stay
 * in its RSS (90 MB at 50,000 jobs).  Returns 0 or an error.
 */
int rpl_state_unmap(struct rpl_state *st);

/* What a walk of the tree saw of one regular file, moments ago (lstat). */
struct rpl_file_stat {
	int64_t size, mtime_ns, ino;
};

/*
 * Lends `seen` (path relative to the root -> struct rpl_file_stat; see
 * rpl_tree_fingerprint): rpl_state_digest and rpl_state_digest_known take
 * a listed file's stat from it instead of calling stat() again.  It must
 * stay unchanged while the handle uses it; NULL ends the loan.
 */
struct rpl_strmap;
void rpl_state_use_stats(struct rpl_state *st, const struct rpl_strmap *seen);

/*
 * Records that `path` had `digest` when it was read at `read_ns` (a scan
 * read it anyway): the stat cache gets the entry without a second read,
 * with git's racy rule applied against `read_ns`.
 */
int rpl_state_digest_seed(struct rpl_state *st, const char *path,
                          const uint8_t digest[RPL_SHA256_LEN], int64_t read_ns);

/*
 * The digest of `path` when the preloaded stat cache says the file is

 * unchanged (1), else 0.  Only reads: safe from several threads at once.
 */
int rpl_state_digest_known(const struct rpl_state *st, const char *path,
                           uint8_t out[RPL_SHA256_LEN]);

/* The parse cache: `data` (recipes/cache.h) stored under (file, key digest). */
int rpl_state_parse_put(struct rpl_state *st, const char *file, const uint8_t key[RPL_SHA256_LEN],
                        const void *data, size_t len);

/* What a job was last built from. */
struct rpl_job_record {
	uint8_t own_hash[RPL_SHA256_LEN];
	uint8_t input_hash[RPL_SHA256_LEN];
	char status[16]; /* "ok", "failed" */
	double duration;
	int64_t finished_ns;
	/* Each input's digest at that build, for "what changed" reasons. */
	char **paths;
	uint8_t (*digests)[RPL_SHA256_LEN];
	size_t ninputs;
	/* Written by rpl_state_job_put, not read back by rpl_state_job_get
	 * (the caller's strings): the job's log and the files it produced. */
	const char *log;
	const char *cache; /* "local" or REGISTRY/REPO: fetched, not built (NULL: built) */
	char *const *outputs;
	const uint8_t (*output_digests)[RPL_SHA256_LEN];
	size_t noutputs;
};

/*
 * Fills `rec` for (name, kind, arch), all but its inputs; returns 1 when
 * found, 0 when not, <0 on error.
 */
int rpl_state_job_get(struct rpl_state *st, const char *name, const char *kind, const char *arch,
                      struct rpl_job_record *rec);

/* Fills the inputs of `rec` (paths sorted) from the record of (name, kind, arch). */
int rpl_state_job_inputs(struct rpl_state *st, const char *name, const char *kind, const char *arch,
                         struct rpl_job_record *rec);
int rpl_state_job_put(struct rpl_state *st, const char *name, const char *kind, const char *arch,
                      const struct rpl_job_record *rec);
void rpl_job_record_release(struct rpl_job_record *rec);

/*
 * Small named values in the meta table.  rpl_state_meta_get copies into
 * `buf` and returns 1 when found, 0 when not.
 */
int rpl_state_meta_get(struct rpl_state *st, const char *key, char *buf, size_t n);
int rpl_state_meta_set(struct rpl_state *st, const char *key, const char *value);

/*
 * Larger named values (the forced list).  rpl_state_blob_get gives a
 * malloc'd copy and returns 1, or 0 when there is none, or an error.
 */
int rpl_state_blob_get(struct rpl_state *st, const char *name, void **data, size_t *len);
int rpl_state_blob_put(struct rpl_state *st, const char *name, const void *data, size_t len);
/* The same, from pieces written one after another (no copy of the whole). */
struct iovec;
int rpl_state_blob_putv(struct rpl_state *st, const char *name, const struct iovec *parts,
                        size_t n);

/* Removes blob `name` (nothing when there is none).  Returns 0 or an error. */
int rpl_state_blob_delete(struct rpl_state *st, const char *name);

/*
 * The generation of the job records: it changes whenever a record is
 * written, so a memo of a plan can tell that the records it read are gone.
 */
int64_t rpl_state_generation(struct rpl_state *st);

/* What one run did with one job, for `ripple history`. */
struct rpl_run_job_record {
	const char *name, *kind, *arch;
	const char *status; /* "ok", "failed", "timeout", "skipped", "cancelled" */
	int64_t started_ns;
	double duration;
	const char *log, *message; /* may be NULL */
};

int rpl_state_run_job_put(struct rpl_state *st, int64_t run, const struct rpl_run_job_record *r);

/*
 * The last `nruns` runs (with counts of jobs built, failed and skipped),
 * recent failures and the slowest jobs, as
 * {"runs":[...],"failures":[...],"slowest":[...]}; NULL on error.
 */
struct json_t;
struct json_t *rpl_state_history(struct rpl_state *st, int64_t nruns);

/*
 * What the end of a run adds to a job's row (orchestrator/report.c), once
 * the whole run is known.
 */
struct rpl_run_job_detail {
	int64_t slot; /* the lane it ran in, from 0; -1: it did not run */
	/* A skipped job: the failed job it waited on; NULL otherwise. */
	const char *cause_name, *cause_kind, *cause_arch;
	int64_t critical; /* its place on the run's critical path from 1; 0: off it */
};

int rpl_state_run_job_detail_put(struct rpl_state *st, int64_t run, const char *name,
                                 const char *kind, const char *arch,
                                 const struct rpl_run_job_detail *d);

/* One job of a run as read back: the row and its detail. */
struct rpl_run_row {
	const char *name, *kind, *arch, *status;
	int64_t started_ns; /* 0: it never started */
	double duration;
	const char *log, *message; /* NULL when none */
	int64_t slot;              /* -1: not recorded */
	/* The failure a skipped job waited on; NULL when not skipped or not
	 * recorded (a run before schema 5, or killed before its end). */
	const char *cause_name, *cause_kind, *cause_arch;
	int64_t critical;     /* place on the critical path from 1; 0: off it or not recorded */
	int64_t prev_run;     /* the last earlier run that built it, 0: none */
	double prev_duration; /* how long it took then; -1: none */
};

/* One run and what it did with each of its jobs; `mem` owns the strings. */
struct rpl_run {
	int64_t id;
	const char *command, *status;
	int64_t started_ns, finished_ns; /* finished 0: running, or killed */
	struct rpl_run_row *jobs;        /* started jobs first, in start order */
	size_t njobs;
	struct rpl_arena mem;
};

/*
 * Reads run `id` (the last run when `id` is 0) into `r`.  Returns 1, 0
 * when there is no such run, or an error; `r` is to be released with
 * rpl_run_release in every case.
 */
int rpl_state_run_read(struct rpl_state *st, int64_t id, struct rpl_run *r);
void rpl_run_release(struct rpl_run *r);

/* Starts a run record; returns its id (>0) or an error. */
int64_t rpl_state_run_begin(struct rpl_state *st, const char *command);
int rpl_state_run_end(struct rpl_state *st, int64_t id, const char *status);

/*
 * The runs that never ended (still 'running': killed, since the caller
 * holds the lock), oldest first, in a malloc'd array.  Returns 0 or an
 * error.
 */
int rpl_state_runs_open(struct rpl_state *st, int64_t **ids, size_t *n);

/* fn(ctx, id, running) for every run, newest first.  Returns 0 or an error. */
int rpl_state_runs_each(struct rpl_state *st, void (*fn)(void *ctx, int64_t id, int running),
                        void *ctx);

/*
 * Forgets the runs `ids`: their rows and their jobs' rows, in one
 * transaction (orchestrator/prune.h).  Returns 0 or an error.
 */
int rpl_state_runs_forget(struct rpl_state *st, const int64_t *ids, size_t n);

/* fn(ctx, log) for the log of every job record that has one.  Returns 0 or an error. */
int rpl_state_job_logs(struct rpl_state *st, void (*fn)(void *ctx, const char *log), void *ctx);

/*
 * What ripple last saw of the files of the output repository `dir`
 * ("packages/x86_64"; runners/repo.h): fn(ctx, name, seen) for each file;
 * both are valid during the call only.  Returns 0 or an error.
 */
struct rpl_repo_seen;
int rpl_state_repo_each(struct rpl_state *st, const char *dir,
                        void (*fn)(void *ctx, const char *name, const struct rpl_repo_seen *s),
                        void *ctx);
/* Stores what was seen of `name` in `dir`; `s` NULL forgets it. */
int rpl_state_repo_put(struct rpl_state *st, const char *dir, const char *name,
                       const struct rpl_repo_seen *s);
/* Each directory that rpl_state_repo_put stored something of. */
int rpl_state_repo_dirs(struct rpl_state *st, void (*fn)(void *ctx, const char *dir), void *ctx);

/* A job, by its key. */
struct rpl_job_id {
	char *name, *kind, *arch;
};
void rpl_job_id_release(struct rpl_job_id *id);

/*
 * The job whose last build succeeded and produced `path` (relative to the
 * root), in *owner (release it), and the sha256 that file had then:
 * returns 1, or 0 when no such job, or an error.
 */
int rpl_state_output_owner(struct rpl_state *st, const char *path, struct rpl_job_id *owner,
                           uint8_t digest[RPL_SHA256_LEN]);

/* fn(ctx, job, path) for every output of every job of `kind` whose last build succeeded. */
int rpl_state_outputs_each(struct rpl_state *st, const char *kind,
                           void (*fn)(void *ctx, const struct rpl_job_id *job, const char *path),
                           void *ctx);

/*
 * Sets the status of a job's record (its inputs stay): "interrupted" for a
 * job whose outputs are no longer what it built, so that the next plan
 * builds it again ("last build interrupted").  Returns 0 or an error.
 */
int rpl_state_job_set_status(struct rpl_state *st, const char *name, const char *kind,
                             const char *arch, const char *status);

#endif
