#include "orchestrator/gitchange.h"
#include "common/error.h"
#include "common/file.h"
#include "common/strbuf.h"
#include "common/xalloc.h"
#include "orchestrator/memo.h"
#include "common/arena.h"
#include "common/strmap.h"

#include <git2.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int git_err(const char *what)
{
	const git_error *e = git_error_last();

	return rpl_error(-RPL_ELIB, "git: %s: %s", what, e && e->message ? e->message : "error");
}

struct collect {
	struct rpl_changes *out;
	size_t alloc, dalloc;
	const char *prefix; /* the monorepo root inside the work tree, "" or "dir/" */
};

static void add_path(struct collect *c, const char *path, int deleted)
{
	struct rpl_changes *o = c->out;
	size_t plen = strlen(c->prefix);

	if (!path || strncmp(path, c->prefix, plen))
		return;
	path += plen;
	RPL_ALLOC_GROW(o->paths, o->npaths + 1, c->alloc);
	o->paths[o->npaths++] = rpl_xstrdup(path);
	if (deleted) {
		RPL_ALLOC_GROW(o->deleted, o->ndeleted + 1, c->dalloc);
		o->deleted[o->ndeleted++] = rpl_xstrdup(path);
	}
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void sort_unique(char **v, size_t *n)
{
	size_t k = 0;

	if (!*n)
		return;
	qsort(v, *n, sizeof(*v), cmp_str);
	for (size_t i = 0; i < *n; i++) {
		if (k && !strcmp(v[k - 1], v[i])) {
			free(v[i]);
			continue;
		}
		v[k++] = v[i];
	}
	*n = k;
}

/*
 * The upstream branch of HEAD, from branch.<name>.remote/.merge.  (libgit2's
 * git_branch_upstream goes through git_remote_lookup, which leaks in the
 * libgit2 1.5 Debian ships; this covers the standard refspec layout.)
 */
static int find_upstream(git_repository *repo, git_reference *head, git_reference **up,
                         struct rpl_strbuf *name)
{
	git_config *cfg = NULL;
	const char *branch, *remote = NULL, *merge = NULL;
	struct rpl_strbuf key = RPL_STRBUF_INIT, ref = RPL_STRBUF_INIT;
	int rc = -1;

	if (!git_reference_is_branch(head) || git_repository_config_snapshot(&cfg, repo) < 0)
		return -1;
	branch = git_reference_shorthand(head);
	rpl_strbuf_addf(&key, "branch.%s.remote", branch);
	if (git_config_get_string(&remote, cfg, key.buf) < 0)
		goto out;
	rpl_strbuf_reset(&key);
	rpl_strbuf_addf(&key, "branch.%s.merge", branch);
	if (git_config_get_string(&merge, cfg, key.buf) < 0 || strncmp(merge, "refs/heads/", 11))
		goto out;
	if (!strcmp(remote, "."))
		rpl_strbuf_addstr(&ref, merge);
	else
		rpl_strbuf_addf(&ref, "refs/remotes/%s/%s", remote, merge + 11);
	rc = git_reference_lookup(up, repo, ref.buf);
	if (!rc)
		rpl_strbuf_addstr(name, ref.buf + (strcmp(remote, ".") ? 13 : 11));
out:
	rpl_strbuf_release(&key);
	rpl_strbuf_release(&ref);
	git_config_free(cfg);
	return rc;
}

/* The base commit for --changed: merge-base with upstream, else HEAD~1. */
static int default_base(git_repository *repo, git_commit **base, struct rpl_strbuf *desc)
{
	git_reference *head = NULL, *upstream = NULL;
	struct rpl_strbuf upname = RPL_STRBUF_INIT;
	git_commit *hc = NULL;
	git_oid mb;
	int rc;

	if ((rc = git_repository_head(&head, repo)) < 0) {
		/* An unborn branch: everything is new. */
		rpl_strbuf_addstr(desc, "no commits yet");
		return 0;
	}
	if ((rc = git_commit_lookup(&hc, repo, git_reference_target(head))) < 0) {
		rc = git_err("HEAD");
		goto out;
	}
	if (find_upstream(repo, head, &upstream, &upname) == 0 &&
	    git_merge_base(&mb, repo, git_reference_target(head), git_reference_target(upstream)) ==
	            0) {
		char hex[8];
		git_oid_tostr(hex, sizeof(hex), &mb);
		rpl_strbuf_addf(desc, "%s (merge-base %s)", upname.buf, hex);
		rc = git_commit_lookup(base, repo, &mb);
		if (rc < 0)
			rc = git_err("merge-base");
		goto out;
	}
	if (git_commit_parentcount(hc) > 0) {
		rpl_strbuf_addstr(desc, "HEAD~1 (no upstream branch)");
		rc = git_commit_parent(base, hc, 0);
		if (rc < 0)
			rc = git_err("HEAD~1");
		goto out;
	}
	rpl_strbuf_addstr(desc, "the empty tree (HEAD is the first commit)");
	rc = 0;
out:
	git_commit_free(hc);
	git_reference_free(upstream);
	git_reference_free(head);
	rpl_strbuf_release(&upname);
	return rc;
}

/*
 * Comparing the base with the working tree, in two halves.  The first
 * (rpl_git_scan_begin) needs git alone: the repository, the base's tree and
 * its differences with the index.  The second (rpl_git_scan_finish) holds
 * the index against a walk of the tree: an entry whose stat data match the
 * file (and is not racy: not modified in the second the index was written)
 * has the index's blob; any other file is hashed as git would store it.  A
 * path is changed when its blob or mode at the base differs from the
 * working tree's; a file no index entry names is untracked unless ignored.
 * This is what `git status` does, reusing the walk ripple makes anyway
 * instead of a second one inside libgit2.
 */
struct rpl_git_scan {
	git_repository *repo;
	git_index *index;
	git_diff *staged; /* base tree -> index */
	char *root;
	char *prefix; /* the monorepo root inside the work tree: "" or "dir/" */
	char *base;
	int64_t index_ns; /* when the index was written: entries as new are racy */
};

void rpl_git_scan_free(struct rpl_git_scan *g)
{
	if (!g)
		return;
	git_diff_free(g->staged);
	git_index_free(g->index);
	git_repository_free(g->repo);
	free(g->root);
	free(g->prefix);
	free(g->base);
	free(g);
	git_libgit2_shutdown();
}

int rpl_git_scan_begin(const char *root, const char *since, struct rpl_git_scan **out)
{
	struct rpl_git_scan *g = rpl_xcalloc(1, sizeof(*g));
	git_object *obj = NULL;
	git_commit *base = NULL;
	git_tree *tree = NULL;
	struct rpl_strbuf desc = RPL_STRBUF_INIT;
	char real_root[PATH_MAX], real_wd[PATH_MAX];
	struct stat sb;
	int rc, err = 0;

	*out = NULL;
	git_libgit2_init();
	/* As git: an object read is not hashed again to check it (libgit2's
	 * default does, a SHA-1 of every tree a comparison reads). */
	git_libgit2_opts(GIT_OPT_ENABLE_STRICT_HASH_VERIFICATION, 0);
	g->root = rpl_xstrdup(root);
	g->prefix = rpl_xstrdup("");
	if ((rc = git_repository_open_ext(&g->repo, root, 0, NULL)) < 0) {
		char where[PATH_MAX];
		if (!realpath(root, where))
			snprintf(where, sizeof(where), "%s", root);
		err = rc == GIT_ENOTFOUND
		              ? rpl_error(-RPL_ENOTFOUND, "'%s' is not in a git repository", where)
		              : git_err("open");
		goto out;
	}
	if (git_repository_is_bare(g->repo)) {
		err = rpl_error(-RPL_EUSAGE, "'%s' is a bare git repository", root);
		goto out;
	}
	/* Paths from git are relative to the work tree; ours to the monorepo root. */
	if (!realpath(root, real_root) || !realpath(git_repository_workdir(g->repo), real_wd)) {
		err = rpl_error(-RPL_ELIB, "cannot resolve '%s'", root);
		goto out;
	}
	if (strcmp(real_root, real_wd)) {
		size_t n = strlen(real_wd);
		struct rpl_strbuf p = RPL_STRBUF_INIT;
		if (strncmp(real_root, real_wd, n) || real_root[n] != '/') {
			err = rpl_error(-RPL_EUSAGE, "'%s' is outside its git work tree", root);
			goto out;
		}
		rpl_strbuf_addf(&p, "%s/", real_root + n + 1);
		free(g->prefix);
		g->prefix = rpl_strbuf_detach(&p);
	}
	if (since) {
		if ((rc = git_revparse_single(&obj, g->repo, since)) < 0) {
			err = rpl_error(-RPL_EUSAGE, "git: unknown revision '%s'", since);
			goto out;
		}
		if ((rc = git_object_peel((git_object **)&base, obj, GIT_OBJECT_COMMIT)) < 0) {
			err = rpl_error(-RPL_EUSAGE, "git: '%s' is not a commit", since);
			goto out;
		}
		rpl_strbuf_addstr(&desc, since);
	} else if ((err = default_base(g->repo, &base, &desc))) {
		goto out;
	}
	if (base && (rc = git_commit_tree(&tree, base)) < 0) {
		err = git_err("tree");
		goto out;
	}
	if (git_repository_index(&g->index, g->repo) < 0 ||
	    git_diff_tree_to_index(&g->staged, g->repo, tree, g->index, NULL) < 0) {
		err = git_err("index");
		goto out;
	}
	if (git_index_path(g->index) && stat(git_index_path(g->index), &sb) == 0)
		g->index_ns = (int64_t)sb.st_mtim.tv_sec * 1000000000 + sb.st_mtim.tv_nsec;
	g->base = rpl_strbuf_detach(&desc);
out:
	rpl_strbuf_release(&desc);
	git_tree_free(tree);
	git_commit_free(base);
	git_object_free(obj);
	if (err)
		rpl_git_scan_free(g);
	else
		*out = g;
	return err;
}

/* A file of the working tree as git sees it: its mode and blob id. */
struct work {
	int exists;
	uint32_t mode;
	git_oid id;
};

static uint32_t git_mode(mode_t m)
{
	if (S_ISLNK(m))
		return GIT_FILEMODE_LINK;
	return (m & S_IXUSR) ? GIT_FILEMODE_BLOB_EXECUTABLE : GIT_FILEMODE_BLOB;
}

/* The blob id of the file at `rel` (under the root) as git would store it. */
static int hash_work(struct rpl_git_scan *g, const char *rel, const char *gitpath, mode_t mode,
                     git_oid *id)
{
	char *full = rpl_path_join(g->root, rel);
	int err = 0;

	if (S_ISLNK(mode)) {
		char target[PATH_MAX];
		ssize_t n = readlink(full, target, sizeof(target));
		if (n < 0 || git_odb_hash(id, target, (size_t)n, GIT_OBJECT_BLOB) < 0)
			err = rpl_error(-RPL_ELIB, "git: cannot read the link '%s'", rel);
	} else if (git_repository_hashfile(id, g->repo, full, GIT_OBJECT_BLOB, gitpath) < 0) {
		err = git_err(rel);
	}
	free(full);
	return err;
}

/* Whether `gitpath` (a file) is ignored, remembering each directory's answer. */
static int ignored(struct rpl_git_scan *g, struct rpl_strmap *dirs, struct rpl_arena *a,
                   const char *gitpath)
{
	struct rpl_strbuf dir = RPL_STRBUF_INIT;
	int ign = 0;

	for (const char *s = strchr(gitpath, '/'); s && !ign; s = strchr(s + 1, '/')) {
		struct rpl_strmap_slot *slot;
		rpl_strbuf_reset(&dir);
		rpl_strbuf_add(&dir, gitpath, (size_t)(s - gitpath) + 1);
		slot = rpl_strmap_slot(dirs, rpl_arena_strdup(a, dir.buf));
		if (!slot->value) {
			int x = 0;
			git_ignore_path_is_ignored(&x, g->repo, dir.buf);
			slot->value = (void *)(uintptr_t)(x ? 2 : 1);
		}
		ign = (uintptr_t)slot->value == 2;
	}
	rpl_strbuf_release(&dir);
	if (!ign)
		git_ignore_path_is_ignored(&ign, g->repo, gitpath);
	return ign;
}

/*
 * What is at `rel` now: from the walk's entry `w` when there is one, else
 * from lstat (a hidden path the walk skips).  `e` is the index entry, whose
 * blob stands for the file while its stat data match.
 */
static int work_of(struct rpl_git_scan *g, const char *rel, const char *gitpath,
                   const struct rpl_tree_file *w, const git_index_entry *e, struct work *out,
                   int *refresh)
{
	struct stat sb;
	int64_t mtime;

	memset(out, 0, sizeof(*out));
	if (w) {
		memset(&sb, 0, sizeof(sb));
		sb.st_mode = (mode_t)w->mode;
		sb.st_size = (off_t)w->st.size;
		sb.st_ino = (ino_t)w->st.ino;
		mtime = w->st.mtime_ns;
	} else {
		char *full = rpl_path_join(g->root, rel);
		int there = lstat(full, &sb) == 0 && !S_ISDIR(sb.st_mode);
		free(full);
		if (!there)
			return 0;
		mtime = (int64_t)sb.st_mtim.tv_sec * 1000000000 + sb.st_mtim.tv_nsec;
	}
	out->exists = 1;
	out->mode = git_mode(sb.st_mode);
	if (e && e->mode == out->mode && e->file_size == (uint32_t)sb.st_size &&
	    e->ino == (uint32_t)sb.st_ino &&
	    (int64_t)e->mtime.seconds * 1000000000 + e->mtime.nanoseconds == mtime &&
	    mtime < g->index_ns) {
		git_oid_cpy(&out->id, &e->id);
		return 0;
	}
	if (hash_work(g, rel, gitpath, sb.st_mode, &out->id))
		return -1;
	/* Unchanged but for its stat data: refresh the entry, as git status does,
	 * so the next run need not read the file again. */
	if (e && refresh && git_oid_equal(&out->id, &e->id) && e->mode == out->mode &&
	    mtime < g->index_ns - 1000000000) {
		char *full = rpl_path_join(g->root, rel);
		git_index_entry fresh = *e;
		if (lstat(full, &sb) == 0 &&
		    (int64_t)sb.st_mtim.tv_sec * 1000000000 + sb.st_mtim.tv_nsec == mtime) {
			fresh.ctime.seconds = (int32_t)sb.st_ctim.tv_sec;
			fresh.ctime.nanoseconds = (uint32_t)sb.st_ctim.tv_nsec;
			fresh.mtime.seconds = (int32_t)sb.st_mtim.tv_sec;
			fresh.mtime.nanoseconds = (uint32_t)sb.st_mtim.tv_nsec;
			fresh.dev = (uint32_t)sb.st_dev;
			fresh.ino = (uint32_t)sb.st_ino;
			fresh.uid = (uint32_t)sb.st_uid;
			fresh.gid = (uint32_t)sb.st_gid;
			fresh.file_size = (uint32_t)sb.st_size;
			if (git_index_add(g->index, &fresh) == 0)
				*refresh = 1;
		}
		free(full);
	}
	return 0;
}

static int changed(int base_exists, uint32_t base_mode, const git_oid *base_id,
                   const struct work *w)
{
	if (base_exists != w->exists)
		return 1;
	return base_exists && (base_mode != w->mode || !git_oid_equal(base_id, &w->id));
}

/* The state of a scan's finish: the walk's files and the staged deltas by
 * path, and which of the walk's files git tracks (`seen`). */
struct finish {
	struct rpl_git_scan *g;
	const struct rpl_tree_files *files;
	struct collect c;
	struct rpl_strmap walk, staged;
	size_t plen;
	char *seen;
	int refresh;
};

static void finish_init(struct finish *f, struct rpl_git_scan *g,
                        const struct rpl_tree_files *files, struct rpl_changes *out)
{
	size_t ndeltas = git_diff_num_deltas(g->staged);

	memset(out, 0, sizeof(*out));
	memset(f, 0, sizeof(*f)); /* the maps empty */
	f->g = g;
	f->files = files;
	f->c = (struct collect){ out, 0, 0, g->prefix };
	f->plen = strlen(g->prefix);
	f->seen = rpl_xcalloc(files->n ? files->n : 1, 1);
	for (size_t i = 0; i < files->n; i++)
		rpl_strmap_slot(&f->walk, files->paths.buf + files->v[i].path)->value =
		        (void *)(uintptr_t)(i + 1);
	for (size_t i = 0; i < ndeltas; i++) {
		const git_diff_delta *d = git_diff_get_delta(g->staged, i);
		rpl_strmap_slot(&f->staged, d->old_file.path ? d->old_file.path : d->new_file.path)
		        ->value = (void *)d;
	}
}

static void finish_release(struct finish *f)
{
	rpl_strmap_release(&f->walk);
	rpl_strmap_release(&f->staged);
	free(f->seen);
}

/* The walk's entry for `rel`, marked as tracked; NULL when the walk has none. */
static const struct rpl_tree_file *tracked(struct finish *f, const char *rel)
{
	uintptr_t at = (uintptr_t)rpl_strmap_get(&f->walk, rel);

	if (!at)
		return NULL;
	f->seen[at - 1] = 1;
	return &f->files->v[at - 1];
}

/* A tracked file: its base side (the index's, unless staged) against now. */
static int index_entry_change(struct finish *f, const git_index_entry *e)
{
	const git_diff_delta *d;
	const struct rpl_tree_file *tf;
	struct work w;
	const char *rel;

	if (strncmp(e->path, f->g->prefix, f->plen))
		return 0;
	rel = e->path + f->plen;
	if (git_index_entry_stage(e) > 0) { /* a conflict: changed, whatever it holds */
		add_path(&f->c, e->path, 0);
		return 0;
	}
	tf = tracked(f, rel);
	d = rpl_strmap_get(&f->staged, e->path);
	if (e->mode == GIT_FILEMODE_COMMIT) {
		/* A submodule: only what the base and the index say of it. */
		if (d)
			add_path(&f->c, e->path, 0);
		return 0;
	}
	if (work_of(f->g, rel, e->path, tf, e, &w, &f->refresh))
		return -1;
	if (d ? changed(d->status != GIT_DELTA_ADDED, d->old_file.mode, &d->old_file.id, &w)
	      : changed(1, e->mode, &e->id, &w))
		add_path(&f->c, e->path, !w.exists && (!d || d->status != GIT_DELTA_ADDED));
	return 0;
}

/* A file at the base that the index no longer has (git rm, staged). */
static int staged_deletion(struct finish *f, const git_diff_delta *d)
{
	const char *path = d->old_file.path;
	const struct rpl_tree_file *tf;
	struct work w;

	if (d->status != GIT_DELTA_DELETED || strncmp(path, f->g->prefix, f->plen))
		return 0;
	tf = tracked(f, path + f->plen);
	if (d->old_file.mode == GIT_FILEMODE_COMMIT) {
		add_path(&f->c, path, 0);
		return 0;
	}
	if (work_of(f->g, path + f->plen, path, tf, NULL, &w, NULL))
		return -1;
	/* A staged deletion is a change even when the file is still there
	 * (git rm --cached): the next commit removes it. */
	add_path(&f->c, path, !w.exists);
	return 0;
}

/* What git does not track: new, unless ignored. */
static void untracked(struct finish *f)
{
	struct rpl_strmap dirs = RPL_STRMAP_INIT;
	struct rpl_strbuf gp = RPL_STRBUF_INIT;
	struct rpl_arena a;

	rpl_arena_init(&a);
	for (size_t i = 0; i < f->files->n; i++) {
		if (f->seen[i])
			continue;
		rpl_strbuf_reset(&gp);
		rpl_strbuf_addf(&gp, "%s%s", f->g->prefix,
		                f->files->paths.buf + f->files->v[i].path);
		if (!ignored(f->g, &dirs, &a, gp.buf))
			add_path(&f->c, gp.buf, 0);
	}
	rpl_strbuf_release(&gp);
	rpl_strmap_release(&dirs);
	rpl_arena_release(&a);
}

int rpl_git_scan_finish(struct rpl_git_scan *g, const struct rpl_tree_files *files,
                        struct rpl_changes *out)
{
	size_t nentries = git_index_entrycount(g->index);
	size_t ndeltas = git_diff_num_deltas(g->staged);
	struct finish f;
	int err = 0;

	finish_init(&f, g, files, out);
	for (size_t i = 0; i < nentries && !err; i++)
		err = index_entry_change(&f, git_index_get_byindex(g->index, i));
	for (size_t i = 0; i < ndeltas && !err; i++)
		err = staged_deletion(&f, git_diff_get_delta(g->staged, i));
	if (!err)
		untracked(&f);
	/* Best effort, as git status: a held index.lock just skips it. */
	if (!err && f.refresh)
		git_index_write(g->index);
	finish_release(&f);
	if (err) {
		rpl_changes_release(out);
		return rpl_errmsg()[0] ? -RPL_ELIB : err;
	}
	sort_unique(out->paths, &out->npaths);
	sort_unique(out->deleted, &out->ndeleted);
	out->base = rpl_xstrdup(g->base);
	return 0;
}

int rpl_git_changes(const char *root, const char *since, struct rpl_changes *out)
{
	struct rpl_git_scan *g;
	struct rpl_tree_print tp;
	struct rpl_tree_files files;
	int err;

	memset(out, 0, sizeof(*out));
	if ((err = rpl_git_scan_begin(root, since, &g)))
		return err;
	if (!(err = rpl_tree_fingerprint(root, &tp, &files)))
		err = rpl_git_scan_finish(g, &files, out);
	rpl_tree_files_release(&files);
	rpl_git_scan_free(g);
	return err;
}

void rpl_changes_release(struct rpl_changes *c)
{
	for (size_t i = 0; i < c->npaths; i++)
		free(c->paths[i]);
	for (size_t i = 0; i < c->ndeleted; i++)
		free(c->deleted[i]);
	free(c->paths);
	free(c->deleted);
	free(c->base);
	memset(c, 0, sizeof(*c));
}
