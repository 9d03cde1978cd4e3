/*
 * git-checkout: the repository cloned with libgit2 beside the workspace,
 * out of the steps' reach, checked against the expected commit, then moved
 * in without following a link a step left.
 */
#include "runners/gitcheckout.h"
#include "common/error.h"
#include "common/strbuf.h"
#include "common/xalloc.h"
#include "runners/build.h"
#include "runners/fetch.h"
#include "runners/native.h"
#include "runners/workspace.h"

#include <errno.h>
#include <fcntl.h>
#include <git2.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

static int git_err(const char *what)
{
	const git_error *e = git_error_last();

	return rpl_error(-RPL_ELIB, "git-checkout: %s: %s", what,
	                 e && e->message ? e->message : "error");
}

/*
 * Where to clone `repo` from: a mirror directory's copy when a mirror
 * prefix matches and the directory has it, else the repository itself,
 * which must be a network URL (a local path or file:// would read the
 * host's files).
 */
static int clone_source(struct rpl_build *b, const char *repo, char **from)
{
	*from = NULL;
	for (size_t i = 0; i < b->o->nmirrors; i++) {
		const char *pre = b->o->mirror_from[i], *to = b->o->mirror_to[i];
		size_t n = strlen(pre);
		char real_dir[PATH_MAX], real[PATH_MAX];
		struct rpl_strbuf p = RPL_STRBUF_INIT;
		size_t k;

		if (!n || strncmp(repo, pre, n))
			continue;
		if (rpl_fetch_has_dotdot(repo + n))
			return rpl_error(-RPL_EUSAGE,
			                 "git-checkout %s: a mirrored repository must not contain "
			                 "'..': refused",
			                 repo);
		if (!strncmp(to, "file://", 7))
			to += 7;
		if (strstr(to, "://")) {
			rpl_strbuf_addf(&p, "%s%s", to, repo + n);
			*from = rpl_strbuf_detach(&p);
			return 0;
		}
		if (!realpath(to, real_dir))
			continue;
		rpl_strbuf_addf(&p, "%s/%s", real_dir, repo + n);
		k = strlen(real_dir);
		if (realpath(p.buf, real) && !strncmp(real, real_dir, k) && real[k] == '/') {
			rpl_strbuf_release(&p);
			rpl_say("git-checkout: %s from the mirror %s", repo, to);
			*from = rpl_xstrdup(real);
			return 0;
		}
		rpl_strbuf_release(&p);
	}
	if (strncasecmp(repo, "https://", 8) && strncasecmp(repo, "http://", 7) &&
	    strncasecmp(repo, "git://", 6))
		return rpl_error(-RPL_EUSAGE,
		                 "git-checkout %s: only https, http and git repositories are "
		                 "cloned (local ones come from a source mirror directory)",
		                 repo);
	*from = rpl_xstrdup(repo);
	return 0;
}

/*
 * The clone's tag checked out (forced: the tag's tree, whatever the default
 * branch held) with HEAD detached at it, or, without a tag, its HEAD; *obj
 * is what the name resolved to and *commit its commit (the caller frees
 * both, also on error).  Returns 0 or an error.
 */
static int check_out(git_repository *r, const char *repo, const char *tag, git_object **obj,
                     git_commit **commit)
{
	git_checkout_options o = GIT_CHECKOUT_OPTIONS_INIT;
	char ref[512];

	if (!tag || !*tag) {
		if (git_revparse_single(obj, r, "HEAD") < 0 ||
		    git_object_peel((git_object **)commit, *obj, GIT_OBJECT_COMMIT) < 0)
			return git_err("HEAD");
		return 0;
	}
	snprintf(ref, sizeof(ref), "refs/tags/%s", tag);
	if (git_revparse_single(obj, r, ref) < 0)
		return rpl_error(-RPL_ENOTFOUND, "git-checkout: %s has no tag %s", repo, tag);
	if (git_object_peel((git_object **)commit, *obj, GIT_OBJECT_COMMIT) < 0 ||
	    git_checkout_tree(r, (git_object *)*commit,
	                      &(git_checkout_options)GIT_CHECKOUT_OPTIONS_INIT) < 0 ||
	    git_repository_set_head_detached(r, git_commit_id(*commit)) < 0)
		return git_err(tag);
	o.checkout_strategy = GIT_CHECKOUT_FORCE;
	if (git_checkout_head(r, &o) < 0)
		return git_err(tag);
	return 0;
}

int rpl_git_checkout_step(struct rpl_build *b, const struct rpl_cstep *s, const char *wd)
{
	const char *repo = rpl_build_with(&s->with, "repository"),
	           *tag = rpl_build_with(&s->with, "tag"),
	           *branch = rpl_build_with(&s->with, "branch"),
	           *want = rpl_build_with(&s->with, "expected-commit"),
	           *dest = rpl_build_with(&s->with, "destination");
	git_clone_options co = GIT_CLONE_OPTIONS_INIT;
	git_repository *r = NULL;
	git_object *obj = NULL;
	git_commit *commit = NULL;
	char *tmp = NULL, *to = NULL, *from = NULL, hexid[GIT_OID_HEXSZ + 1];
	int err = 0, tmpfd = -1, tofd = -1;

	if (!repo || !*repo)
		return rpl_error(-RPL_EUSAGE, "git-checkout: no repository");
	if (tag && *tag && branch && *branch)
		return rpl_error(-RPL_EUSAGE, "git-checkout: tag and branch are exclusive");
	if ((err = rpl_ws_relpath(wd, dest, &to)))
		return rpl_error(err, "git-checkout: %s", rpl_errmsg());
	if ((err = clone_source(b, repo, &from))) {
		free(to);
		return err;
	}
	rpl_say("git-checkout %s %s", repo, tag && *tag ? tag : branch && *branch ? branch : "");
	git_libgit2_init();
	/* Cloned beside the workspace, out of the steps' reach, then moved in. */
	tmp = rpl_xmalloc(strlen(b->work) + 16);
	snprintf(tmp, strlen(b->work) + 16, "%s.git-checkout", b->work);
	if ((err = rpl_ws_remove_path(tmp)))
		goto out;
	if (branch && *branch)
		co.checkout_branch = branch;
	/* A local mirror's objects are copied, never hard-linked into the workspace. */
	co.local = GIT_CLONE_LOCAL_NO_LINKS;
	if (git_clone(&r, from, tmp, &co) < 0) {
		err = git_err(repo);
		goto out;
	}
	if ((err = check_out(r, repo, tag, &obj, &commit)))
		goto out;
	git_oid_tostr(hexid, sizeof(hexid), git_commit_id(commit));
	if (want && *want && strcasecmp(hexid, want) &&
	    strcasecmp(git_oid_tostr_s(git_object_id(obj)), want)) {
		err = rpl_error(-RPL_EPARSE, "git-checkout %s: expected commit %s, got %s", repo,
		                want, hexid);
		goto out;
	}
	rpl_say("git-checkout: %s at %s", repo, hexid);
	if ((tmpfd = open(tmp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
		err = rpl_error(-errno, "cannot open '%s': %s", tmp, strerror(errno));
		goto out;
	}
	if (!(err = rpl_ws_mkdirs(b->wsfd, to, &tofd)) && !(err = rpl_ws_move(tmpfd, tofd, 0)))
		err = rpl_sandbox_own(&b->sb, tofd);
	if (err)
		err = rpl_error(err, "git-checkout: %s", rpl_errmsg());
out:
	git_commit_free(commit);
	git_object_free(obj);
	git_repository_free(r);
	if (tmpfd >= 0)
		close(tmpfd);
	if (tofd >= 0)
		close(tofd);
	if (tmp)
		rpl_ws_remove_path(tmp);
	free(tmp);
	free(to);
	free(from);
	git_libgit2_shutdown();
	return err;
}
