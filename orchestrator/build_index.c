/*
 * The output repositories of `ripple build`, packages/<arch>/, kept in
 * memory for the run: each package job's apks are merged into its arch's
 * index as it finishes, the index is written when a job is about to read
 * it or a second has passed, and the jobs are recorded as built in one
 * transaction once the index on disk lists them.  Before and after a run
 * the repositories are checked against the job records (docs/build.md,
 * "Killed outright").
 */
#include "orchestrator/build_index.h"

#include "common/error.h"
#include "common/file.h"
#include "common/sha256.h"
#include "common/xalloc.h"
#include "graph/graph.h"
#include "orchestrator/build.h"
#include "orchestrator/plan.h"
#include "orchestrator/sched.h"
#include "orchestrator/state.h"
#include "runners/repo.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void know_row(void *ctx, const char *name, const struct rpl_repo_seen *s)
{
	rpl_repo_know(ctx, name, s);
}

struct seen_put {
	struct build *b;
	const char *dir;
	int err;
};

static void put_row(void *ctx, const char *name, const struct rpl_repo_seen *s)
{
	struct seen_put *p = ctx;

	if (!p->err)
		p->err = rpl_state_repo_put(p->b->st, p->dir, name, s);
}

/* Stores what the index saw of its files since the last time (in the caller's transaction). */
static int store_seen(struct build *b, struct out_index *x)
{
	struct seen_put p = { b, x->dir, 0 };

	rpl_repo_seen_changes(x->ix, put_row, &p);
	return p.err;
}

/* The output repository of `dir`, opened on first use. */
static int out_index(struct build *b, const char *dir, struct out_index **out)
{
	struct out_index *x;
	int err;

	for (size_t i = 0; i < b->nindexes; i++)
		if (!strcmp(b->indexes[i].dir, dir)) {
			*out = &b->indexes[i];
			return 0;
		}
	b->indexes = rpl_xrealloc(b->indexes, (b->nindexes + 1) * sizeof(*b->indexes));
	x = &b->indexes[b->nindexes];
	memset(x, 0, sizeof(*x));
	/* What was seen of its files when it was last written or checked. */
	if ((err = rpl_repo_open_lazy(&x->ix, dir)) ||
	    (err = rpl_state_repo_each(b->st, dir, know_row, x->ix))) {
		rpl_repo_close(x->ix);
		return err;
	}
	x->dir = rpl_xstrdup(dir);
	x->flushed_ns = now_ns();
	b->nindexes++;
	*out = x;
	return 0;
}

/*
 * Records a job as built: its outputs' digests and what it was built
 * against.  `in_tx`: the caller holds a transaction (a batch of records).
 */
static int record_ok(struct build *b, struct bjob *j, int in_tx)
{
	uint8_t(*digests)[RPL_SHA256_LEN] =
	        rpl_xcalloc(j->noutputs ? j->noutputs : 1, RPL_SHA256_LEN);
	struct rpl_job_record rec;
	int err = 0;

	for (size_t i = 0; i < j->noutputs && !err; i++) {
		char *text;
		size_t len;
		if (!(err = rpl_read_file(j->outputs[i], &text, &len))) {
			rpl_sha256(text, len, digests[i]);
			free(text);
		}
	}
	if (!err) {
		memset(&rec, 0, sizeof(rec));
		memcpy(rec.own_hash, j->plan->own, RPL_SHA256_LEN);
		/* What it was built against, not what the plan hoped for. */
		err = rpl_plan_built_input(b->p, j->plan, b->st, rec.input_hash);
	}
	if (!err) {
		snprintf(rec.status, sizeof(rec.status), "ok");
		rec.duration = secs(j->sj->started_ns, j->sj->finished_ns);
		/* Fetched: what its build took is what a later build will take. */
		if (j->cached && j->cached_seconds > 0)
			rec.duration = j->cached_seconds;
		rec.finished_ns = j->sj->finished_ns;
		rec.paths = j->plan->inputs;
		rec.digests = j->plan->digests;
		rec.ninputs = j->plan->ninputs;
		rec.log = j->log;
		rec.cache = j->cached;
		rec.outputs = j->outputs;
		rec.output_digests = (const uint8_t(*)[RPL_SHA256_LEN])digests;
		rec.noutputs = j->noutputs;
		if (in_tx) {
			err = rpl_state_job_put(b->st, j->plan->node->name, j->plan->kind,
			                        j->plan->arch, &rec);
		} else if (!(err = rpl_state_begin(b->st))) {
			err = rpl_state_job_put(b->st, j->plan->node->name, j->plan->kind,
			                        j->plan->arch, &rec);
			if (err)
				rpl_state_commit(b->st);
			else
				err = rpl_state_commit(b->st);
		}
	}
	free(digests);
	return err;
}

/*
 * The index of a large repository takes long to write (all of it is
 * compressed again each time): written once a second, a run of 50,000
 * packages spent more time writing it than building.  So the time between
 * two writes made for no job's sake is at least FLUSH_RATIO times what the
 * last one took, which keeps the writes to a tenth of the run whatever the
 * repository's size; a job that others wait for still has it written at
 * once.
 */
#define FLUSH_EVERY 1000000000 /* ns */
#define FLUSH_RATIO 10

int rpl_build_flush_due(int64_t now, int64_t flushed_ns, int64_t write_ns)
{
	int64_t gap = write_ns > FLUSH_EVERY / FLUSH_RATIO ? write_ns * FLUSH_RATIO : FLUSH_EVERY;

	return now - flushed_ns >= gap;
}

void rpl_build_run_row(struct build *b, const struct bjob *j, const char *status)
{
	if (b->o->dry_run)
		return;
	RPL_ALLOC_GROW(b->rows, b->nrows + 1, b->rows_alloc);
	b->rows[b->nrows].j = j;
	b->rows[b->nrows].status = status;
	b->nrows++;
}

/* Writes the queued run_job rows, in the caller's transaction. */
static void write_rows(struct build *b)
{
	for (size_t i = 0; i < b->nrows; i++) {
		const struct bjob *j = b->rows[i].j;
		const struct rpl_sched_job *sj = j->sj;
		struct rpl_run_job_record r = {
			j->plan->node->name,
			j->plan->kind,
			j->plan->arch,
			b->rows[i].status,
			sj->started_ns,
			secs(sj->started_ns, sj->finished_ns),
			sj->started_ns ? j->log : NULL,
			sj->message,
		};
		if (rpl_state_run_job_put(b->st, b->run, &r))
			rpl_warn("%s", rpl_errmsg());
	}
	b->nrows = 0;
	b->rows_ns = now_ns();
}

int rpl_build_rows_flush(struct build *b)
{
	if (!b->nrows)
		return 0;
	if (rpl_state_begin(b->st)) {
		rpl_warn("%s", rpl_errmsg());
		b->nrows = 0;
		return -1;
	}
	write_rows(b);
	if (rpl_state_commit(b->st)) {
		rpl_warn("%s", rpl_errmsg());
		return -1;
	}
	return 0;
}

/*
 * Writes an index and then records the packages it was waiting to show: a
 * package is recorded as built only once the index on disk lists it, so a
 * run killed in between builds it again rather than leave it out of the
 * index for good.  The run_job rows waiting go in the same transaction.
 */
static int flush_index(struct build *b, struct out_index *x)
{
	int64_t t0 = now_ns();
	int err = rpl_repo_flush(x->ix, b->have_signer ? &b->signer : NULL);

	if (err)
		goto out;
	/* One transaction for the batch: thousands of leaf packages at once,
	 * with what the index now says of their files. */
	if ((err = rpl_state_begin(b->st))) {
		rpl_warn("%s", rpl_errmsg());
		x->npending = 0;
		goto out;
	}
	if (store_seen(b, x)) {
		rpl_warn("%s", rpl_errmsg());
		err = -1;
	}
	for (size_t i = 0; i < x->npending; i++) {
		/* A record that cannot be written: the run fails (and the job is
		 * built again next time). */
		if (record_ok(b, x->pending[i], 1)) {
			rpl_warn("%s", rpl_errmsg());
			err = -1;
		}
	}
	write_rows(b);
	if (rpl_state_commit(b->st)) {
		rpl_warn("%s", rpl_errmsg());
		err = -1;
	}
	x->npending = 0;
out:
	x->flushed_ns = now_ns();
	x->write_ns = x->flushed_ns - t0;
	return err;
}

/*
 * Writes the indexes that changed: all of them (`all`), or those whose
 * turn has come (rpl_build_flush_due), and the run_job rows waiting when
 * they are a second old.  An index is also written at once when a package
 * that other jobs wait for is added (rpl_build_job_built()).
 */
int rpl_build_indexes_flush(struct build *b, int all)
{
	int64_t now = now_ns();
	int err = 0;

	for (size_t i = 0; i < b->nindexes; i++) {
		struct out_index *x = &b->indexes[i];
		if (!rpl_repo_dirty(x->ix) ||
		    (!all && !rpl_build_flush_due(now, x->flushed_ns, x->write_ns)))
			continue;
		if (flush_index(b, x)) {
			rpl_warn("%s (packages not recorded as built are built again next time)",
			         rpl_errmsg());
			err = -1;
		}
	}
	if ((all || now - b->rows_ns >= FLUSH_EVERY) && rpl_build_rows_flush(b))
		err = -1;
	return err;
}

/* The sha256 of the file at `path`, read in pieces (an apk may be large). */
static int file_sha256(const char *path, uint8_t out[RPL_SHA256_LEN])
{
	struct rpl_sha256 h;
	char buf[65536];
	int fd = open(path, O_RDONLY | O_CLOEXEC), err = 0;

	if (fd < 0)
		return -errno;
	rpl_sha256_init(&h);
	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			err = n < 0 ? -errno : 0;
			break;
		}
		rpl_sha256_update(&h, buf, (size_t)n);
	}
	rpl_sha256_final(&h, out);
	close(fd);
	return err;
}

/*
 * A job recorded as built whose files are not what it built is built
 * again: "last build interrupted".  Its inputs stay recorded, for the
 * reasons of later plans.
 */
static void not_built(struct build *b, const struct rpl_job_id *id, const char *path,
                      const char *why)
{
	if (rpl_state_job_set_status(b->st, id->name, id->kind, id->arch, "interrupted")) {
		rpl_warn("%s", rpl_errmsg());
		return;
	}
	b->rebuilt++;
	printf("%s: %s: %s %s is built again\n", path, why, id->name, id->arch);
}

struct fix_ctx {
	struct build *b;
	const char *dir;
};

/*
 * rpl_repo_check found the apk `name` not as recorded.  The index now
 * describes the file; the record of the job that built it is true only if
 * the file is still the one that build produced (the same sha256: the
 * index alone was behind, or ahead of the record).  Otherwise the file
 * came from a build that never finished its bookkeeping (killed after the
 * apk was renamed into place, before its index or its record was written),
 * built from inputs nobody can tell now: its job is built again.
 */
static void on_fix(void *ctx, const char *name, const char *what, int mended)
{
	struct fix_ctx *f = ctx;
	struct rpl_job_id id;
	uint8_t want[RPL_SHA256_LEN], got[RPL_SHA256_LEN];
	char *path = rpl_path_join(f->dir, name);
	int owner = rpl_state_output_owner(f->b->st, path, &id, want), err;

	if (owner < 0)
		rpl_warn("%s", rpl_errmsg());
	if (owner == 1) {
		err = file_sha256(path, got);
		if (err || memcmp(got, want, RPL_SHA256_LEN))
			not_built(f->b, &id, path, what);
		else if (mended)
			printf("%s: %s: indexed as it is (what the last build of %s %s made)\n",
			       path, what, id.name, id.arch);
		rpl_job_id_release(&id);
	} else if (mended) {
		printf("%s: %s: the index is mended\n", path, what);
	}
	free(path);
}

struct unlisted {
	struct build *b;
	struct unlisted_one {
		struct rpl_job_id id;
		char *path;
	} * v;
	size_t n, alloc;
};

/* A package job's output in a directory compared whole, and not listed by its index. */
static void collect_unlisted(void *ctx, const struct rpl_job_id *id, const char *path)
{
	struct unlisted *u = ctx;
	const char *name = strrchr(path, '/');

	for (size_t i = 0; name && i < u->b->nindexes; i++) {
		const struct out_index *x = &u->b->indexes[i];
		size_t dl = strlen(x->dir);
		struct unlisted_one *o;
		if (!x->compared || strncmp(path, x->dir, dl) || path + dl != name ||
		    rpl_repo_lists(x->ix, name + 1))
			continue;
		RPL_ALLOC_GROW(u->v, u->n + 1, u->alloc);
		o = &u->v[u->n++];
		o->id.name = rpl_xstrdup(id->name);
		o->id.kind = rpl_xstrdup(id->kind);
		o->id.arch = rpl_xstrdup(id->arch);
		o->path = rpl_xstrdup(path);
	}
}

static void add_dir(void *ctx, const char *dir)
{
	struct build *b = ctx;
	struct out_index *x;

	if (out_index(b, dir, &x))
		rpl_warn("%s", rpl_errmsg());
}

/*
 * After a run, the indexes to check are those where a job wrote apks that
 * it did not index.  Returns how many there are.
 */
static size_t mark_unindexed(struct build *b)
{
	size_t n = 0;

	for (size_t i = 0; i < b->nindexes; i++)
		b->indexes[i].checking = 0;
	for (size_t i = 0; i < b->njobs; i++) {
		struct out_index *x;
		char *dir;
		if (!b->jobs[i].unindexed || !b->jobs[i].noutputs)
			continue;
		dir = rpl_path_dirname(b->jobs[i].outputs[0]);
		if (out_index(b, dir, &x))
			rpl_warn("%s", rpl_errmsg());
		else
			x->checking = 1;
		free(dir);
	}
	for (size_t i = 0; i < b->nindexes; i++)
		n += b->indexes[i].checking != 0;
	return n;
}

/* Before a run, every index is checked: the arch dirs there are, and those where files were seen before. */
static void mark_all(struct build *b)
{
	DIR *d;

	if ((d = opendir("packages"))) {
		struct dirent *de;
		while ((de = readdir(d))) {
			struct stat sb;
			char *dir = rpl_path_join("packages", de->d_name);
			if (de->d_name[0] != '.' && stat(dir, &sb) == 0 && S_ISDIR(sb.st_mode))
				add_dir(b, dir);
			free(dir);
		}
		closedir(d);
	}
	if (rpl_state_repo_dirs(b->st, add_dir, b))
		rpl_warn("%s", rpl_errmsg());
	for (size_t i = 0; i < b->nindexes; i++)
		b->indexes[i].checking = 1;
}

/*
 * Jobs recorded as built whose apks no index lists (both gone, say) are
 * built again: where the index was compared whole (elsewhere nothing
 * changed).  Returns 0, or -1 when the records could not be read (warned).
 */
static int check_unlisted(struct build *b)
{
	struct unlisted u = { b, NULL, 0, 0 };
	int err = 0;

	for (size_t i = 0; i < b->nindexes; i++)
		if (b->indexes[i].compared) {
			if (rpl_state_outputs_each(b->st, "package", collect_unlisted, &u)) {
				rpl_warn("%s", rpl_errmsg());
				err = -1;
			}
			break;
		}
	for (size_t i = 0; i < u.n; i++) {
		not_built(b, &u.v[i].id, u.v[i].path, "not in the repository");
		rpl_job_id_release(&u.v[i].id);
		free(u.v[i].path);
	}
	free(u.v);
	return err;
}

/*
 * Makes every output repository, `packages/<arch>/`, describe exactly its
 * apks, and the job records agree with them (docs/build.md, "Killed
 * outright"): a record whose apk is gone, or is not the file its build
 * wrote, is set so that the plan builds the job again.  Before a run, as
 * the last one may have been killed anywhere; after it (`after_run`), in
 * the directories where a package job failed or was stopped, as it may
 * have left a new apk unindexed.  Unchanged directories cost a stat of
 * each file.  Indexes to write are written by rpl_build_indexes_flush.  Returns 1
 * when anything was not as recorded (an index to write, a record
 * changed), 0 when all was, -1 on an error (warned).
 */
int rpl_build_repos_check(struct build *b, int after_run)
{
	size_t rebuilt = b->rebuilt;
	int err = 0, changed = 0;

	if (after_run) {
		if (!mark_unindexed(b))
			return 0;
	} else {
		mark_all(b);
	}
	if (rpl_state_begin(b->st)) {
		rpl_warn("%s", rpl_errmsg());
		return -1;
	}
	for (size_t i = 0; i < b->nindexes; i++) {
		struct out_index *x = &b->indexes[i];
		struct fix_ctx f = { b, x->dir };
		int r;
		x->compared = 0;
		if (!x->checking)
			continue;
		r = rpl_repo_check(x->ix, on_fix, &f);
		if (r < 0) {
			rpl_warn("%s", rpl_errmsg());
			err = -1;
		}
		x->compared = r == 1;
	}
	if (check_unlisted(b))
		err = -1;
	/* What an index that stays as it is saw is kept now; the others' when written. */
	for (size_t i = 0; i < b->nindexes; i++) {
		struct out_index *x = &b->indexes[i];
		if (rpl_repo_dirty(x->ix))
			changed = 1;
		else if (store_seen(b, x)) {
			rpl_warn("%s", rpl_errmsg());
			err = -1;
		}
	}
	if (rpl_state_commit(b->st)) {
		rpl_warn("%s", rpl_errmsg());
		err = -1;
	}
	fflush(stdout);
	return err ? err : changed || b->rebuilt > rebuilt;
}

/*
 * A job's outputs are in place: a package's go into its arch's index, and
 * it is recorded as built when the index is written; other jobs at once.
 */
int rpl_build_job_built(struct build *b, struct bjob *j)
{
	struct out_index *x;
	char *dir;
	int err;

	if (strcmp(j->plan->kind, "package") || !j->noutputs)
		return record_ok(b, j, 0);
	dir = rpl_path_dirname(j->outputs[0]);
	err = out_index(b, dir, &x);
	free(dir);
	if (err || (err = rpl_repo_merge(x->ix, j->outputs, j->noutputs)))
		return err;
	RPL_ALLOC_GROW(x->pending, x->npending + 1, x->pending_alloc);
	x->pending[x->npending++] = j;
	/* Jobs waiting for this one read the index: it is written now. */
	if ((j->sj->nrdeps || rpl_build_flush_due(now_ns(), x->flushed_ns, x->write_ns)) &&
	    (err = flush_index(b, x)) && x->npending && x->pending[x->npending - 1] == j)
		x->npending--; /* this job fails: it must not be recorded by a later write */
	return err;
}

void rpl_build_indexes_release(struct build *b)
{
	for (size_t i = 0; i < b->nindexes; i++) {
		rpl_repo_close(b->indexes[i].ix);
		free(b->indexes[i].dir);
		free(b->indexes[i].pending);
	}
	free(b->indexes);
	free(b->rows);
	b->rows = NULL;
	b->nrows = b->rows_alloc = 0;
	b->indexes = NULL;
	b->nindexes = 0;
}
