/*
 * The plan snapshot (snapshot.h): the file .ripple/snapshot, beside the
 * state store, read with one read().  (Earlier ripples kept it in the
 * store as the blob "snapshot", read through SQLite's pages: a pread or a
 * mapped page each, 10,000 of them at 16x Wolfi.  A save removes it.)
 *
 *   STR "ripple snapshot 2"; 32 bytes key
 *   u32 n; n bytes: the string table (NUL-terminated strings)
 *   u32 narchs; u32 arch each (the scan's, in order)
 *   u32 nfiles; per file, sorted by path:
 *       u32 path; u8 flags; u64 size, mtime_ns, ino; 32 bytes sha256
 *   u32 nrecipes; per recipe: u32 file index; 32 bytes sha256 of its
 *       parse-cache encoding (what planning knows of it)
 *   u32 ngraphs; per graph: the graph (graph/codec.c); u32 njobs; per job
 *       in graph order: u32 node id; u32 source dir (none for an image);
 *       32 bytes own hash; 32 bytes input hash; u32 ninputs; u32 file
 *       index of each input, in path order
 *
 * File flags: SHAPES (its change, appearing or going means a new scan),
 * MISSING (did not exist: an env file that may appear, a missing
 * .ripple.yaml), RACY (changed within a second of the plan, or not a
 * regular file: hashed again every time), NODIGEST (neither an input nor
 * shaping: its changes do not matter).  Integers are little-endian
 * (common/bytes.h).
 *
 * A recipe whose text changed is parsed and compiled again on its own: when
 * its encoding is the same (a step's script edited, a comment added), the
 * graph and every input list still hold and only its jobs' own hashes
 * change; otherwise (a version, a dependency, a subpackage) the plan scans.
 */
#include "orchestrator/snapshot.h"
#include "common/bytes.h"
#include "common/error.h"
#include "common/file.h"
#include "common/strmap.h"
#include "common/xalloc.h"
#include "graph/graph.h"
#include "orchestrator/memo.h"
#include "orchestrator/plan.h"
#include "orchestrator/state.h"
#include "recipes/pipeline.h"
#include "recipes/repoconfig.h"
#include "recipes/scan.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>

#define MAGIC "ripple snapshot 2"
#define FILE_NAME ".ripple/snapshot"
#define BLOB "snapshot" /* where earlier ripples kept it */
#define FILE_BYTES (4 + 1 + 24 + RPL_SHA256_LEN)

enum { F_SHAPES = 1, F_MISSING = 2, F_RACY = 4, F_NODIGEST = 8 };

struct sfile {
	const char *path;
	unsigned flags;
	struct rpl_file_stat st;
	uint8_t digest[RPL_SHA256_LEN];
};

void rpl_snapshot_key(const char *const *archs, size_t narchs, const char *runner,
                      uint8_t out[RPL_SHA256_LEN])
{
	uint8_t self[RPL_SHA256_LEN];
	struct rpl_sha256 h;

	rpl_self_identity(self);
	rpl_sha256_init(&h);
	rpl_sha256_update_str(&h, MAGIC);
	rpl_sha256_update(&h, self, sizeof(self));
	rpl_sha256_update_str(&h, runner ? runner : "auto");
	rpl_sha256_update_str(&h, rpl_host_arch());
	for (size_t i = 0; i < narchs; i++)
		rpl_sha256_update_str(&h, archs[i]);
	rpl_sha256_final(&h, out);
}

static struct rpl_file_stat stat_of(const struct stat *sb)
{
	return (struct rpl_file_stat){ (int64_t)sb->st_size,
		                       (int64_t)sb->st_mtim.tv_sec * 1000000000 +
		                               sb->st_mtim.tv_nsec,
		                       (int64_t)sb->st_ino };
}

/* ---- saving -------------------------------------------------------------------- */

/* The files of a snapshot being made: path -> index + 1 in `v`. */
struct table {
	struct rpl_arena *arena;
	struct rpl_strmap index;
	struct sfile *v;
	size_t n, alloc;
};

/* The entry of `path`, made when new: stat'ed now (lstat), NODIGEST. */
static struct sfile *table_get(struct table *t, const char *root, const char *path, int *made)
{
	struct rpl_strmap_slot *slot = rpl_strmap_slot(&t->index, path);
	struct sfile *f;
	struct stat sb;
	char *full;

	*made = !slot->value;
	if (slot->value)
		return &t->v[(uintptr_t)slot->value - 1];
	RPL_ALLOC_GROW(t->v, t->n + 1, t->alloc);
	f = &t->v[t->n++];
	memset(f, 0, sizeof(*f));
	f->path = slot->key = rpl_arena_strdup(t->arena, path);
	slot->value = (void *)(uintptr_t)t->n;
	f->flags = F_NODIGEST;
	full = rpl_path_join(root, path);
	if (lstat(full, &sb) < 0)
		f->flags |= F_MISSING;
	else
		f->st = stat_of(&sb);
	if (!(f->flags & F_MISSING) && !S_ISREG(sb.st_mode))
		f->flags |= F_RACY;
	free(full);
	return f;
}

static const struct sfile *sort_base;

static int cmp_index(const void *a, const void *b)
{
	return strcmp(sort_base[*(const size_t *)a].path, sort_base[*(const size_t *)b].path);
}

/* The table's entries in path order: `order[k]` is an index, `rank[i]` its place. */
static void sort_table(const struct table *t, size_t **order, uint32_t **rank)
{
	*order = rpl_xmalloc((t->n ? t->n : 1) * sizeof(**order));
	*rank = rpl_xmalloc((t->n ? t->n : 1) * sizeof(**rank));
	for (size_t i = 0; i < t->n; i++)
		(*order)[i] = i;
	sort_base = t->v;
	if (t->n)
		qsort(*order, t->n, sizeof(**order), cmp_index);
	for (size_t k = 0; k < t->n; k++)
		(*rank)[(*order)[k]] = (uint32_t)k;
}

/* Every file the snapshot must watch, with its flags and digest. */
static int fill_table(struct table *t, struct rpl_state *st, const struct rpl_scan *scan,
                      const struct rpl_plan *p, const struct rpl_tree_files *files,
                      int64_t started_ns)
{
	int made, err = 0;

	/* The tree as the walk saw it. */
	for (size_t i = 0; i < files->n; i++) {
		const struct rpl_tree_file *w = &files->v[i];
		const char *path = files->paths.buf + w->path;
		struct sfile *f = table_get(t, scan->root, path, &made);

		f->st = w->st;
		f->flags = F_NODIGEST;
		if (!S_ISREG(w->mode) || w->st.mtime_ns >= started_ns - 1000000000)
			f->flags |= F_RACY;
		if (rpl_scan_structural(&scan->config, path))
			f->flags |= F_SHAPES;
	}
	/* Every input of every job, with the digest its own hash took. */
	for (size_t i = 0; i < p->njobs; i++) {
		const struct rpl_job *j = &p->jobs[i];
		for (size_t k = 0; k < j->ninputs; k++) {
			struct sfile *f = table_get(t, scan->root, j->inputs[k], &made);
			if (made) /* not seen by the walk (a linked dir): always hash it */
				f->flags |= F_RACY;
			f->flags &= ~(unsigned)(F_NODIGEST | F_MISSING);
			memcpy(f->digest, j->digests[k], RPL_SHA256_LEN);
			if (j->node->kind == RPL_NODE_IMAGE)
				f->flags |= F_SHAPES; /* an image file or an include */
		}
	}
	/* Recipes and images (those built for no arch here too), the repo
	 * config and the env files that may yet appear. */
	for (size_t i = 0; i < scan->nentries; i++)
		table_get(t, scan->root, scan->entries[i].file, &made)->flags |= F_SHAPES;
	table_get(t, scan->root, ".ripple.yaml", &made)->flags |= F_SHAPES;
	for (size_t a = 0; a < scan->narchs; a++)
		for (size_t i = 0; i < scan->config.env_files.n; i++) {
			char *rel =
			        rpl_scan_env_file(scan->config.env_files.v[i].s, scan->archs[a]);
			struct sfile *f = table_get(t, scan->root, rel, &made);
			if (f->flags & F_MISSING)
				f->flags |= F_SHAPES;
			free(rel);
		}
	/* What shapes the scan is compared by content: a touch is no change. */
	for (size_t i = 0; i < t->n && !err; i++) {
		struct sfile *f = &t->v[i];
		if ((f->flags & (F_SHAPES | F_NODIGEST | F_MISSING)) == (F_SHAPES | F_NODIGEST)) {
			err = rpl_state_digest(st, f->path, f->digest);
			f->flags &= ~(unsigned)F_NODIGEST;
		}
	}
	return err;
}

/* Each recipe's file and the digest of what planning knows of it. */
static void put_recipes(struct rpl_strbuf *body, const struct table *t, const uint32_t *rank,
                        const struct rpl_scan *scan)
{
	size_t n = 0;

	for (size_t i = 0; i < scan->nentries; i++)
		n += scan->entries[i].summary && !scan->entries[i].error;
	rpl_put_u32(body, (uint32_t)n);
	for (size_t i = 0; i < scan->nentries; i++) {
		const struct rpl_scan_entry *e = &scan->entries[i];
		uintptr_t at = (uintptr_t)rpl_strmap_get(&t->index, e->file);
		uint8_t d[RPL_SHA256_LEN];

		if (!e->summary || e->error)
			continue;
		rpl_scan_entry_encoding_digest(e, d);
		rpl_put_u32(body, rank[at - 1]);
		rpl_strbuf_add(body, d, RPL_SHA256_LEN);
	}
}

int rpl_snapshot_save(struct rpl_state *st, const uint8_t key[RPL_SHA256_LEN],
                      const struct rpl_scan *scan, const struct rpl_plan *p,
                      const struct rpl_tree_files *files, int64_t started_ns)
{
	struct rpl_arena arena;
	struct table t = { &arena, RPL_STRMAP_INIT, NULL, 0, 0 };
	struct rpl_strtab tab = RPL_STRTAB_INIT;
	struct rpl_strbuf body = RPL_STRBUF_INIT, out = RPL_STRBUF_INIT;
	size_t *order = NULL;
	uint32_t *rank = NULL;
	int err;

	rpl_arena_init(&arena);
	if ((err = rpl_state_begin(st)))
		goto out;
	if ((err = fill_table(&t, st, scan, p, files, started_ns))) {
		rpl_state_commit(st);
		goto out;
	}
	sort_table(&t, &order, &rank);

	rpl_put_u32(&body, (uint32_t)scan->narchs);
	for (size_t a = 0; a < scan->narchs; a++)
		rpl_put_u32(&body, rpl_strtab_add(&tab, scan->archs[a]));
	rpl_put_u32(&body, (uint32_t)t.n);
	for (size_t k = 0; k < t.n; k++) {
		const struct sfile *f = &t.v[order[k]];
		rpl_put_u32(&body, rpl_strtab_add(&tab, f->path));
		rpl_put_u8(&body, (uint8_t)f->flags);
		rpl_put_u64(&body, (uint64_t)f->st.size);
		rpl_put_u64(&body, (uint64_t)f->st.mtime_ns);
		rpl_put_u64(&body, (uint64_t)f->st.ino);
		rpl_strbuf_add(&body, f->digest, RPL_SHA256_LEN);
	}
	put_recipes(&body, &t, rank, scan);
	rpl_put_u32(&body, (uint32_t)p->ngraphs);
	for (size_t a = 0; a < p->ngraphs; a++) {
		const struct rpl_graph *g = &p->graphs[a];
		size_t njobs = 0;

		rpl_graph_encode(g, &body, &tab);
		for (size_t i = 0; i < p->njobs; i++)
			njobs += p->jobs[i].graph == g;
		rpl_put_u32(&body, (uint32_t)njobs);
		for (size_t i = 0; i < p->njobs; i++) {
			const struct rpl_job *j = &p->jobs[i];
			char *dir;

			if (j->graph != g)
				continue;
			dir = j->node->entry ? rpl_scan_source_dir(j->node->entry) : NULL;
			rpl_put_u32(&body, j->node->id);
			rpl_put_u32(&body, rpl_strtab_add(&tab, dir ? rpl_arena_strdup(&arena, dir)
			                                            : NULL));
			free(dir);
			rpl_strbuf_add(&body, j->own, RPL_SHA256_LEN);
			rpl_strbuf_add(&body, j->input, RPL_SHA256_LEN);
			rpl_put_u32(&body, (uint32_t)j->ninputs);
			for (size_t k = 0; k < j->ninputs; k++) {
				uintptr_t at = (uintptr_t)rpl_strmap_get(&t.index, j->inputs[k]);
				rpl_put_u32(&body, rank[at - 1]);
			}
		}
	}

	rpl_put_str(&out, MAGIC);
	rpl_strbuf_add(&out, key, RPL_SHA256_LEN);
	rpl_put_u32(&out, (uint32_t)tab.data.len);
	{
		struct iovec parts[3] = { { out.buf, out.len },
			                  { tab.data.buf, tab.data.len },
			                  { body.buf, body.len } };
		char *path = rpl_path_join(scan->root, FILE_NAME);

		/* A reader writes nothing: not the store, not beside it.  No
		 * fsync: a snapshot checks itself (format, key, every file's
		 * stat), and one torn by a crash only costs the next plan a scan. */
		if (!rpl_state_is_reader(st) &&
		    !(err = rpl_write_file_atomic_v(path, parts, 3, 0644, 0)))
			err = rpl_state_blob_delete(st, BLOB);
		free(path);
	}
	if (!err)
		err = rpl_state_commit(st);
	else
		rpl_state_commit(st);
out:
	free(order);
	free(rank);
	free(t.v);
	rpl_strmap_release(&t.index);
	rpl_strtab_release(&tab);
	rpl_strbuf_release(&body);
	rpl_strbuf_release(&out);
	rpl_arena_release(&arena);
	return err;
}

/* ---- planning from it ---------------------------------------------------------- */

enum { SAME, CHANGED, REMOVED };

/* A snapshot being read: its files and what became of each. */
struct reading {
	const char *root;
	struct rpl_state *st;
	struct rpl_repoconfig cfg;
	struct sfile *files;
	size_t nfiles;
	struct rpl_strmap index; /* path -> index + 1 */
	char *fate;              /* SAME, CHANGED, REMOVED */
	const char **archs;      /* the scan's */
	size_t narchs;
	char *is_recipe, *reparse;
	uint8_t (*encoding)[RPL_SHA256_LEN]; /* of each recipe */
	struct rpl_pipeline_lib lib;         /* loaded for the first recipe to parse */
	int lib_loaded;
	uint8_t (*now)[RPL_SHA256_LEN];
	const char **added; /* inputs-to-be: new files that shape nothing */
	char *added_used;   /* ... that are under some job's source dir */
	size_t nadded, added_alloc;
	struct rpl_snapshot_use *use;
};

/* Gives up on the snapshot, saying why ("<path> <what>" or `what`).  Returns 0. */
static int stop(struct reading *r, const char *path, const char *what)
{
	snprintf(r->use->why, sizeof(r->use->why), "%s%s%s", path ? path : "", path ? " " : "",
	         what);
	return 0;
}

/*
 * Compares a file of the snapshot with what is there now (`cur`, or NULL
 * when it is gone).  Returns 1 to go on, 0 to give up (why set), <0 error.
 */
static int compare(struct reading *r, size_t i, const struct stat *cur, int regular)
{
	struct sfile *f = &r->files[i];
	int err;

	if (f->flags & F_MISSING)
		return cur ? stop(r, f->path, "appeared") : 1;
	if (!cur) {
		if (f->flags & F_SHAPES)
			return stop(r, f->path, "was removed");
		if (!(f->flags & F_NODIGEST))
			r->fate[i] = REMOVED;
		return 1;
	}
	if (f->flags & F_NODIGEST)
		return 1; /* not an input of anything, and it shapes nothing */
	if (!(f->flags & F_RACY) && regular) {
		struct rpl_file_stat now = stat_of(cur);
		if (now.size == f->st.size && now.mtime_ns == f->st.mtime_ns &&
		    now.ino == f->st.ino)
			return 1;
	}
	err = rpl_state_digest(r->st, f->path, r->now[i]);
	if (err == -ENOENT)
		return compare(r, i, NULL, 0);
	if (err)
		return err;
	if (!memcmp(r->now[i], f->digest, RPL_SHA256_LEN))
		return 1;
	if ((f->flags & F_SHAPES) && !r->is_recipe[i])
		return stop(r, f->path, "changed");
	r->reparse[i] = r->is_recipe[i];
	r->fate[i] = CHANGED;
	return 1;
}

/*
 * The recipes whose text changed, parsed and compiled again: each must
 * encode as before, else the graph may differ.  Returns 1 to go on, 0 to
 * give up (why set), <0 error.
 */
static int reparse(struct reading *r)
{
	for (size_t i = 0; i < r->nfiles; i++) {
		uint8_t d[RPL_SHA256_LEN];
		void *data;
		size_t len;

		if (!r->reparse[i])
			continue;
		if (!r->lib_loaded) {
			const char **dirs =
			        rpl_xmalloc((r->cfg.pipeline_dirs.n + 1) * sizeof(*dirs));
			int err;
			for (size_t k = 0; k < r->cfg.pipeline_dirs.n; k++)
				dirs[k] = r->cfg.pipeline_dirs.v[k].s;
			err = rpl_pipeline_lib_init(&r->lib, r->root, dirs, r->cfg.pipeline_dirs.n);
			free(dirs);
			if (err)
				return stop(r, NULL, "the pipelines do not load");
			r->lib_loaded = 1;
		}
		if (rpl_scan_encode_file(r->root, &r->lib, r->archs, r->narchs, r->files[i].path,
		                         &data, &len))
			return stop(r, r->files[i].path, "changed");
		rpl_sha256(data, len, d);
		free(data);
		if (memcmp(d, r->encoding[i], RPL_SHA256_LEN))
			return stop(r, r->files[i].path, "changed");
		r->use->reparsed++;
	}
	return 1;
}

/* What became of every file: the walk's, then those it did not see. */
static int compare_tree(struct reading *r, const struct rpl_tree_files *files)
{
	char *seen = rpl_xcalloc(r->nfiles ? r->nfiles : 1, 1);
	int go = 1;

	for (size_t k = 0; k < files->n && go > 0; k++) {
		const struct rpl_tree_file *w = &files->v[k];
		const char *path = files->paths.buf + w->path;
		uintptr_t at = (uintptr_t)rpl_strmap_get(&r->index, path);
		struct stat sb;

		if (!at) {
			if (rpl_scan_structural(&r->cfg, path))
				go = stop(r, path, "was added");
			RPL_ALLOC_GROW(r->added, r->nadded + 1, r->added_alloc);
			r->added[r->nadded++] = path;
			continue;
		}
		seen[at - 1] = 1;
		memset(&sb, 0, sizeof(sb));
		sb.st_size = (off_t)w->st.size;
		sb.st_ino = (ino_t)w->st.ino;
		sb.st_mtim.tv_sec = (time_t)(w->st.mtime_ns / 1000000000);
		sb.st_mtim.tv_nsec = (long)(w->st.mtime_ns % 1000000000);
		go = compare(r, at - 1, &sb, S_ISREG(w->mode));
	}
	for (size_t i = 0; i < r->nfiles && go > 0; i++) {
		struct stat sb;
		char *full;
		int there;

		if (seen[i])
			continue;
		full = rpl_path_join(r->root, r->files[i].path);
		/* A directory where a file was: the file is gone (the walk saw
		 * what is in the directory). */
		there = lstat(full, &sb) == 0 && !S_ISDIR(sb.st_mode);
		free(full);
		go = compare(r, i, there ? &sb : NULL, there && S_ISREG(sb.st_mode));
	}
	free(seen);
	return go;
}

struct input {
	char *path;
	const uint8_t *digest;
};

static int cmp_input(const void *a, const void *b)
{
	return strcmp(((const struct input *)a)->path, ((const struct input *)b)->path);
}

/*
 * A job that reads a changed, added or removed file: its inputs again and
 * its own hash.  `extra` are the added files under its source dir.
 */
static int retake(struct reading *r, struct rpl_plan *p, struct rpl_job *j, const uint32_t *idx,
                  const char *const *extra, size_t nextra, const char *runner)
{
	size_t n = 0, cap = j->ninputs + nextra;
	char **paths = rpl_arena_alloc(&p->arena, (cap ? cap : 1) * sizeof(*paths));
	uint8_t(*digests)[RPL_SHA256_LEN] =
	        rpl_arena_alloc(&p->arena, (cap ? cap : 1) * sizeof(*digests));
	struct input *v = rpl_xmalloc((cap ? cap : 1) * sizeof(*v));
	int err = 0;

	for (size_t k = 0; k < j->ninputs; k++) {
		const struct sfile *f = &r->files[idx[k]];
		if (r->fate[idx[k]] == REMOVED)
			continue;
		v[n].path = (char *)f->path;
		v[n++].digest = r->fate[idx[k]] == CHANGED ? r->now[idx[k]] : f->digest;
	}
	for (size_t k = 0; k < nextra && !err; k++) {
		uint8_t *d = rpl_arena_alloc(&p->arena, RPL_SHA256_LEN);
		err = rpl_state_digest(r->st, extra[k], d);
		v[n].path = rpl_arena_strdup(&p->arena, extra[k]);
		v[n++].digest = d;
	}
	if (err) {
		free(v);
		return err == -ENOENT ? rpl_error(err, "'%s' disappeared while planning", extra[0])
		                      : err;
	}
	if (n)
		qsort(v, n, sizeof(*v), cmp_input);
	for (size_t k = 0; k < n; k++) {
		paths[k] = v[k].path;
		memcpy(digests[k], v[k].digest, RPL_SHA256_LEN);
	}
	free(v);
	j->inputs = paths;
	j->digests = digests;
	j->ninputs = n;
	j->input_known = 0;
	rpl_own_hash(j->kind, j->node->name, j->arch, runner, paths,
	             (const uint8_t(*)[RPL_SHA256_LEN])digests, n, j->own);
	r->use->jobs++;
	return 0;
}

/* The added files below `dir` (a source dir), or none. */
static size_t added_under(struct reading *r, const char *dir, const char ***out, size_t *alloc)
{
	size_t n = 0, len = strlen(dir);

	for (size_t k = 0; k < r->nadded; k++)
		if (!strncmp(r->added[k], dir, len) && r->added[k][len] == '/') {
			RPL_ALLOC_GROW(*out, n + 1, *alloc);
			(*out)[n++] = r->added[k];
			r->added_used[k] = 1;
		}
	return n;
}

/*
 * The graphs and jobs, each job's inputs taken again where a file changed.
 * Returns 0, 1 for a damaged snapshot, or an error.
 */
static int read_jobs(struct reading *r, struct rpl_cursor *c, const char *tab, size_t tablen,
                     struct rpl_plan *p, const char *runner)
{
	size_t ngraphs = rpl_get_count(c, 4), jobs_alloc = 0;
	uint32_t *idx = NULL;
	const char **extra = NULL;
	size_t idx_alloc = 0, extra_alloc = 0;
	int err = 0;

	p->graphs = rpl_xcalloc(ngraphs ? ngraphs : 1, sizeof(*p->graphs));
	for (size_t a = 0; a < ngraphs && !err && !c->bad; a++) {
		struct rpl_graph *g = &p->graphs[a];
		size_t njobs;

		if (rpl_graph_decode(g, c, tab, tablen)) {
			err = 1;
			break;
		}
		p->ngraphs++;
		njobs = rpl_get_count(c, 8 + 2 * RPL_SHA256_LEN);
		RPL_ALLOC_GROW(p->jobs, p->njobs + njobs, jobs_alloc);
		for (size_t i = 0; i < njobs && !err && !c->bad; i++) {
			struct rpl_job *j = &p->jobs[p->njobs];
			uint32_t id = rpl_get_u32(c);
			const char *dir = rpl_strtab_at(tab, tablen, rpl_get_u32(c), c);
			const void *own = rpl_get_bytes(c, RPL_SHA256_LEN);
			const void *input = rpl_get_bytes(c, RPL_SHA256_LEN);
			size_t n = rpl_get_count(c, 4), nextra = 0;
			int touched = 0;

			if (c->bad || id >= g->nnodes || g->nodes[id]->kind == RPL_NODE_EXTERNAL) {
				err = 1;
				break;
			}
			memset(j, 0, sizeof(*j));
			j->node = g->nodes[id];
			j->graph = g;
			j->arch = g->arch;
			j->kind = rpl_node_kind_name(j->node->kind);
			memcpy(j->own, own, RPL_SHA256_LEN);
			memcpy(j->input, input, RPL_SHA256_LEN);
			j->input_known = 1;
			RPL_ALLOC_GROW(idx, n, idx_alloc);
			j->inputs = rpl_arena_alloc(&p->arena, (n ? n : 1) * sizeof(*j->inputs));
			j->digests = rpl_arena_alloc(&p->arena, (n ? n : 1) * sizeof(*j->digests));
			j->ninputs = n;
			for (size_t k = 0; k < n && !err; k++) {
				idx[k] = rpl_get_u32(c);
				if (idx[k] >= r->nfiles) {
					err = 1;
					break;
				}
				j->inputs[k] = (char *)r->files[idx[k]].path;
				memcpy(j->digests[k], r->files[idx[k]].digest, RPL_SHA256_LEN);
				touched |= r->fate[idx[k]] != SAME;
			}
			if (err)
				break;
			if (dir && r->nadded)
				nextra = added_under(r, dir, &extra, &extra_alloc);
			p->njobs++;
			if (touched || nextra)
				err = retake(r, p, j, idx, extra, nextra, runner);
		}
	}
	free(idx);
	free(extra);
	return err ? err : c->bad;
}

/*
 * The snapshot's head: its format, its key (the archs, the runner, this
 * ripple) and its string table, copied into `arena` (*tab, *tablen).
 * Returns 1 to go on, 0 to give up (why set).
 */
static int read_head(struct reading *r, struct rpl_cursor *c, const uint8_t key[RPL_SHA256_LEN],
                     struct rpl_arena *arena, const char **tab, size_t *tablen)
{
	const char *magic;
	const void *stored;
	size_t mlen = rpl_get_u32(c);

	magic = rpl_get_bytes(c, mlen);
	if (!magic || mlen != strlen(MAGIC) || memcmp(magic, MAGIC, mlen))
		return stop(r, NULL, "the snapshot is of another format");
	stored = rpl_get_bytes(c, RPL_SHA256_LEN);
	if (!stored || memcmp(stored, key, RPL_SHA256_LEN))
		return stop(r, NULL,
		            "the snapshot was made for other archs, another runner or ripple");
	*tablen = rpl_get_count(c, 1);
	*tab = rpl_get_bytes(c, *tablen);
	if (!*tab || !*tablen || (*tab)[*tablen - 1])
		return stop(r, NULL, "the snapshot is damaged");
	*tab = rpl_arena_memdup(arena, *tab, *tablen, 1);
	return 1;
}

/*
 * The snapshot's archs, its files (path, stat, digest) and which of them
 * are recipes, with the digest of each recipe's encoding.  A damaged
 * record sets c->bad.
 */
static void read_files(struct reading *r, struct rpl_cursor *c, const char *tab, size_t tablen)
{
	size_t n;

	r->narchs = rpl_get_count(c, 4);
	r->archs = rpl_xcalloc(r->narchs ? r->narchs : 1, sizeof(*r->archs));
	for (size_t a = 0; a < r->narchs; a++)
		if (!(r->archs[a] = rpl_strtab_at(tab, tablen, rpl_get_u32(c), c)))
			c->bad = 1;
	r->nfiles = rpl_get_count(c, FILE_BYTES);
	r->files = rpl_xcalloc(r->nfiles ? r->nfiles : 1, sizeof(*r->files));
	r->fate = rpl_xcalloc(r->nfiles ? r->nfiles : 1, 1);
	r->is_recipe = rpl_xcalloc(r->nfiles ? r->nfiles : 1, 1);
	r->reparse = rpl_xcalloc(r->nfiles ? r->nfiles : 1, 1);
	r->encoding = rpl_xmalloc((r->nfiles ? r->nfiles : 1) * sizeof(*r->encoding));
	r->now = rpl_xmalloc((r->nfiles ? r->nfiles : 1) * sizeof(*r->now));
	for (size_t i = 0; i < r->nfiles && !c->bad; i++) {
		struct sfile *f = &r->files[i];
		const void *d;
		f->path = rpl_strtab_at(tab, tablen, rpl_get_u32(c), c);
		f->flags = rpl_get_u8(c);
		f->st.size = (int64_t)rpl_get_u64(c);
		f->st.mtime_ns = (int64_t)rpl_get_u64(c);
		f->st.ino = (int64_t)rpl_get_u64(c);
		if ((d = rpl_get_bytes(c, RPL_SHA256_LEN)))
			memcpy(f->digest, d, RPL_SHA256_LEN);
		if (!f->path)
			c->bad = 1;
		else
			rpl_strmap_slot(&r->index, f->path)->value = (void *)(uintptr_t)(i + 1);
	}
	n = rpl_get_count(c, 4 + RPL_SHA256_LEN);
	for (size_t k = 0; k < n && !c->bad; k++) {
		uint32_t at = rpl_get_u32(c);
		const void *d = rpl_get_bytes(c, RPL_SHA256_LEN);
		if (at >= r->nfiles || !d) {
			c->bad = 1;
			break;
		}
		r->is_recipe[at] = 1;
		memcpy(r->encoding[at], d, RPL_SHA256_LEN);
	}
}

/*
 * In one transaction (the digests taken now go to the stat cache): the
 * tree against the snapshot's files, the recipes to parse again, then the
 * jobs, those that read a changed file hashed again.  Returns 1 to go on,
 * 0 to give up (why set), <0 an error.
 */
static int bring_up_to_date(struct reading *r, struct rpl_cursor *c, const char *tab, size_t tablen,
                            struct rpl_plan *p, struct rpl_tree_files *files,
                            const struct rpl_plan_opts *o)
{
	int err, go;

	if ((err = rpl_state_begin(r->st)))
		return err;
	go = compare_tree(r, files);
	if (go > 0)
		go = reparse(r);
	if (go > 0) {
		int rc;

		r->added_used = rpl_xcalloc(r->nadded ? r->nadded : 1, 1);
		rc = read_jobs(r, c, tab, tablen, p, o->runner ? o->runner : "auto");
		if (rc == 1)
			go = stop(r, NULL, "the snapshot is damaged");
		else if (rc < 0)
			go = rc;
	}
	err = rpl_state_commit(r->st);
	return go < 0 ? go : err ? err : go;
}

static void reading_release(struct reading *r)
{
	free(r->files);
	free(r->fate);
	free(r->now);
	free(r->added);
	free(r->added_used);
	free(r->archs);
	free(r->is_recipe);
	free(r->reparse);
	free(r->encoding);
	if (r->lib_loaded)
		rpl_pipeline_lib_release(&r->lib);
	rpl_strmap_release(&r->index);
	rpl_repoconfig_release(&r->cfg);
}

int rpl_snapshot_plan(struct rpl_plan *p, struct rpl_state *st, const char *root,
                      const uint8_t key[RPL_SHA256_LEN], struct rpl_tree_files *files,
                      const struct rpl_plan_opts *o, struct rpl_snapshot_use *use)
{
	struct reading r;
	struct rpl_cursor c;
	const char *tab;
	char *blob = NULL, *path = rpl_path_join(root, FILE_NAME);
	size_t len, tablen;
	int err, go = 0;

	memset(&r, 0, sizeof(r));
	r.root = root;
	r.st = st;
	r.use = use;
	memset(use, 0, sizeof(*use));
	memset(p, 0, sizeof(*p));
	rpl_arena_init(&p->arena);
	err = rpl_read_file(path, &blob, &len);
	free(path);
	if (err) {
		stop(&r, NULL, err == -ENOENT ? "no snapshot yet" : rpl_errmsg());
		err = 0;
		goto out;
	}
	c = rpl_cursor_make(blob, len);
	if (!read_head(&r, &c, key, &p->arena, &tab, &tablen))
		goto out;
	read_files(&r, &c, tab, tablen);
	if (c.bad) {
		stop(&r, NULL, "the snapshot is damaged");
		goto out;
	}
	if (rpl_repoconfig_load(&r.cfg, root)) {
		stop(&r, NULL, ".ripple.yaml does not load");
		goto out;
	}
	if ((go = bring_up_to_date(&r, &c, tab, tablen, p, files, o)) <= 0) {
		err = go < 0 ? go : 0;
		goto out;
	}
	go = 0;
	for (size_t i = 0; i < r.nfiles; i++)
		use->changed += r.fate[i] != SAME;
	for (size_t k = 0; k < r.nadded; k++)
		use->changed += r.added_used[k];
	/* The selection reads every job's record (the up-to-date filter, in
	 * every mode): one query, not thousands. */
	if ((err = rpl_state_preload_jobs(st)))
		goto out;
	if (!(err = rpl_plan_select(p, root, st, o)))
		go = 1;
out:
	free(blob);
	reading_release(&r);
	if (err || go <= 0)
		rpl_plan_release(p);
	return err ? err : go;
}
