#include "orchestrator/gitchange.h"
#include "common/error.h"
#include "common/strbuf.h"
#include "common/xalloc.h"

#include <git2.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

static int file_cb(const git_diff_delta *d, float progress, void *payload)
{
	struct collect *c = payload;

	(void)progress;
	/* libgit2 1.5 blends tree->index and index->workdir and can call a file
	 * changed back to the base's content "modified"; its ids say otherwise. */
	if (d->status == GIT_DELTA_MODIFIED && (d->new_file.flags & GIT_DIFF_FLAG_VALID_ID) &&
	    (d->old_file.flags & GIT_DIFF_FLAG_VALID_ID) &&
	    git_oid_equal(&d->old_file.id, &d->new_file.id) && d->old_file.mode == d->new_file.mode)
		return 0;

	add_path(c, d->old_file.path, d->status == GIT_DELTA_DELETED);
	if (d->new_file.path && (!d->old_file.path || strcmp(d->new_file.path, d->old_file.path)))
		add_path(c, d->new_file.path, 0);
	return 0;
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

int rpl_git_changes(const char *root, const char *since, struct rpl_changes *out)
{
	git_repository *repo = NULL;
	git_object *obj = NULL;
	git_commit *base = NULL;
	git_tree *tree = NULL;
	git_diff *diff = NULL;
	git_diff_options opts = GIT_DIFF_OPTIONS_INIT;
	struct rpl_strbuf desc = RPL_STRBUF_INIT;
	struct collect c = { out, 0, 0, "" };
	char real_root[PATH_MAX], real_wd[PATH_MAX], *prefix = NULL;
	int rc, err = 0;

	memset(out, 0, sizeof(*out));
	git_libgit2_init();
	if ((rc = git_repository_open_ext(&repo, root, 0, NULL)) < 0) {
		char where[PATH_MAX];
		if (!realpath(root, where))
			snprintf(where, sizeof(where), "%s", root);
		err = rc == GIT_ENOTFOUND
		              ? rpl_error(-RPL_ENOTFOUND, "'%s' is not in a git repository", where)
		              : git_err("open");
		goto out;
	}
	if (git_repository_is_bare(repo)) {
		err = rpl_error(-RPL_EUSAGE, "'%s' is a bare git repository", root);
		goto out;
	}
	/* Paths from git are relative to the work tree; ours to the monorepo root. */
	if (!realpath(root, real_root) || !realpath(git_repository_workdir(repo), real_wd)) {
		err = rpl_error(-RPL_ELIB, "cannot resolve '%s'", root);
		goto out;
	}
	if (strcmp(real_root, real_wd)) {
		size_t n = strlen(real_wd);
		if (strncmp(real_root, real_wd, n) || real_root[n] != '/') {
			err = rpl_error(-RPL_EUSAGE, "'%s' is outside its git work tree", root);
			goto out;
		}
		struct rpl_strbuf p = RPL_STRBUF_INIT;
		rpl_strbuf_addf(&p, "%s/", real_root + n + 1);
		prefix = rpl_strbuf_detach(&p);
		c.prefix = prefix;
	}
	if (since) {
		if ((rc = git_revparse_single(&obj, repo, since)) < 0) {
			err = rpl_error(-RPL_EUSAGE, "git: unknown revision '%s'", since);
			goto out;
		}
		if ((rc = git_object_peel((git_object **)&base, obj, GIT_OBJECT_COMMIT)) < 0) {
			err = rpl_error(-RPL_EUSAGE, "git: '%s' is not a commit", since);
			goto out;
		}
		rpl_strbuf_addstr(&desc, since);
	} else if ((err = default_base(repo, &base, &desc))) {
		goto out;
	}
	if (base && (rc = git_commit_tree(&tree, base)) < 0) {
		err = git_err("tree");
		goto out;
	}
	/* UPDATE_INDEX refreshes the stat data of entries found unchanged, as
	 * `git status` does: otherwise every run re-reads the files whose index
	 * entries are racy. */
	opts.flags = GIT_DIFF_INCLUDE_UNTRACKED | GIT_DIFF_RECURSE_UNTRACKED_DIRS |
	             GIT_DIFF_SKIP_BINARY_CHECK | GIT_DIFF_UPDATE_INDEX;
	if ((rc = git_diff_tree_to_workdir_with_index(&diff, repo, tree, &opts)) < 0) {
		err = git_err("diff");
		goto out;
	}
	{
		git_index *idx = NULL;
		/* Best effort, as git status: a held index.lock just skips it. */
		if (git_repository_index(&idx, repo) == 0)
			git_index_write(idx);
		git_index_free(idx);
	}

	if ((rc = git_diff_foreach(diff, file_cb, NULL, NULL, NULL, &c)) < 0) {
		err = git_err("diff");
		goto out;
	}
	sort_unique(out->paths, &out->npaths);
	sort_unique(out->deleted, &out->ndeleted);
	out->base = rpl_strbuf_detach(&desc);
out:
	rpl_strbuf_release(&desc);
	free(prefix);
	git_diff_free(diff);
	git_tree_free(tree);
	git_commit_free(base);
	git_object_free(obj);
	git_repository_free(repo);
	git_libgit2_shutdown();
	if (err)
		rpl_changes_release(out);
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
