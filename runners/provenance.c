#include "runners/provenance.h"
#include "common/xalloc.h"

#include <git2.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* `abs` relative to the directory `root` (both real paths), or NULL when outside it. */
static char *inside(const char *root, const char *abs)
{
	size_t n = strlen(root);

	while (n > 1 && root[n - 1] == '/')
		n--;
	if (strncmp(abs, root, n) || (abs[n] != '/' && abs[n] != '\0'))
		return NULL;
	return rpl_xstrdup(abs[n] ? abs + n + 1 : ".");
}

int rpl_provenance_get(const char *file, char *const *paths, size_t npaths,
                       struct rpl_provenance *p)
{
	git_repository *r = NULL;
	git_config *cfg = NULL;
	const char *url = NULL;
	git_status_list *st = NULL;
	char real[PATH_MAX], wd[PATH_MAX], *dir = NULL, **specs = NULL;
	size_t nspecs = 0;
	git_oid head;

	memset(p, 0, sizeof(*p));
	git_libgit2_init();
	if (!realpath(file, real))
		goto out;
	dir = rpl_xstrdup(real);
	*strrchr(dir, '/') = '\0';
	if (git_repository_open_ext(&r, *dir ? dir : "/", 0, NULL) < 0 ||
	    git_repository_is_bare(r) || !realpath(git_repository_workdir(r), wd))
		goto out;
	if (git_reference_name_to_id(&head, r, "HEAD") == 0)
		git_oid_tostr(p->commit, sizeof(p->commit), &head);
	/* The configured URL itself: git_remote_lookup would also compile
	 * regexes for insteadOf rules, which Debian's libgit2 leaks. */
	if (git_repository_config_snapshot(&cfg, r) == 0 &&
	    git_config_get_string(&url, cfg, "remote.origin.url") == 0 && url && *url)
		p->repo_url = rpl_xstrdup(url);
	p->path = inside(wd, real);

	/* The recipe's files against HEAD and the index, untracked ones too. */
	specs = rpl_xcalloc(npaths + 2, sizeof(*specs));
	if (p->path)
		specs[nspecs++] = rpl_xstrdup(p->path);
	for (size_t i = 0; i < npaths; i++) {
		char rp[PATH_MAX], *rel;
		if (realpath(paths[i], rp) && (rel = inside(wd, rp)))
			specs[nspecs++] = rel;
	}
	if (nspecs) {
		git_status_options so = GIT_STATUS_OPTIONS_INIT;
		so.show = GIT_STATUS_SHOW_INDEX_AND_WORKDIR;
		so.flags = GIT_STATUS_OPT_INCLUDE_UNTRACKED |
		           GIT_STATUS_OPT_RECURSE_UNTRACKED_DIRS |
		           GIT_STATUS_OPT_EXCLUDE_SUBMODULES;
		so.pathspec.strings = specs;
		so.pathspec.count = nspecs;
		if (git_status_list_new(&st, r, &so) == 0)
			p->dirty = git_status_list_entrycount(st) > 0;
	}
out:
	for (size_t i = 0; i < nspecs; i++)
		free(specs[i]);
	free(specs);
	free(dir);
	git_status_list_free(st);
	git_config_free(cfg);
	git_repository_free(r);
	git_libgit2_shutdown();
	return 0;
}

void rpl_provenance_release(struct rpl_provenance *p)
{
	free(p->repo_url);
	free(p->path);
	memset(p, 0, sizeof(*p));
}

/* When `file` last changed in git (the commit time), or 0. */
int64_t rpl_provenance_last_commit_time(const char *file)
{
	git_repository *r = NULL;
	git_revwalk *w = NULL;
	char real[PATH_MAX], rel[PATH_MAX];
	int64_t when = 0;
	git_oid id;
	size_t n;

	git_libgit2_init();
	if (git_repository_open_ext(&r, ".", 0, NULL) < 0 || git_repository_is_bare(r) ||
	    !realpath(file, real))
		goto out;
	n = strlen(git_repository_workdir(r));
	{
		char wd[PATH_MAX];
		if (!realpath(git_repository_workdir(r), wd))
			goto out;
		n = strlen(wd);
		if (strncmp(real, wd, n) || real[n] != '/')
			goto out;
		snprintf(rel, sizeof(rel), "%s", real + n + 1);
	}
	if (git_revwalk_new(&w, r) < 0 || git_revwalk_push_head(w) < 0)
		goto out;
	git_revwalk_sorting(w, GIT_SORT_TIME);
	for (int i = 0; i < 100000 && git_revwalk_next(&id, w) == 0; i++) {
		git_commit *c = NULL, *parent = NULL;
		git_tree *t = NULL, *pt = NULL;
		git_tree_entry *e = NULL, *pe = NULL;
		int changed;

		if (git_commit_lookup(&c, r, &id) < 0)
			break;
		git_commit_tree(&t, c);
		git_tree_entry_bypath(&e, t, rel);
		if (git_commit_parentcount(c) && git_commit_parent(&parent, c, 0) == 0) {
			git_commit_tree(&pt, parent);
			git_tree_entry_bypath(&pe, pt, rel);
		}
		changed = e && (!pe || !git_oid_equal(git_tree_entry_id(e), git_tree_entry_id(pe)));
		if (changed)
			when = (int64_t)git_commit_time(c);
		git_tree_entry_free(e);
		git_tree_entry_free(pe);
		git_tree_free(t);
		git_tree_free(pt);
		git_commit_free(parent);
		git_commit_free(c);
		if (changed)
			break;
	}
out:
	git_revwalk_free(w);
	git_repository_free(r);
	git_libgit2_shutdown();
	return when;
}
