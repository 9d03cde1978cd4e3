/*
 * --test: a package's test pipeline in a workspace of its own, with the
 * package, the test's environment and their run-time needs installed in
 * the sandbox; the test's workspace stands in for the build's while it runs.
 */
#include "runners/buildtest.h"
#include "common/error.h"
#include "common/file.h"
#include "common/strbuf.h"
#include "common/xalloc.h"
#include "graph/apkindex.h"
#include "recipes/melange.h"
#include "runners/build.h"
#include "runners/deps.h"
#include "runners/native.h"
#include "runners/workspace.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Whether `need` (a name, `so:...`, `cmd:...`, maybe with a version) is `name` or in `provides`. */
static int satisfies(const char *name, char *const *provides, size_t nprovides, const char *need)
{
	size_t n = rpl_deps_name_len(need);

	if (strlen(name) == n && !strncmp(name, need, n))
		return 1;
	for (size_t k = 0; k < nprovides; k++)
		if (rpl_deps_name_len(provides[k]) == n && !strncmp(provides[k], need, n))
			return 1;
	return 0;
}
/* The apks a test installs, and the needs nothing here provides. */
struct test_apks {
	char **apks;
	size_t napks, aa;
	struct rpl_strbuf host; /* " name name...": taken from the host */
};

/*
 * The apks that meet the test's needs (the package under test and the
 * test's environment), breadth first through their run-time dependencies:
 * from the apks this build wrote, else the local repository's index `idx`.
 */
static void test_apks(const struct rpl_build *b, const struct rpl_ctest *t, const char *name,
                      const struct rpl_apkindex *idx, struct test_apks *out)
{
	char **queue = NULL;
	size_t nq = 0, qa = 0;

	RPL_ALLOC_GROW(queue, nq + 1, qa);
	queue[nq++] = rpl_xstrdup(name);
	for (size_t i = 0; i < b->c.ntest_needs; i++) {
		const struct rpl_need *nd = &b->c.test_needs[i];
		if ((!t->sub && !nd->subpackage) ||
		    (t->sub && nd->subpackage && !strcmp(t->sub, nd->subpackage))) {
			RPL_ALLOC_GROW(queue, nq + 1, qa);
			queue[nq++] = rpl_xstrdup(nd->name);
		}
	}
	for (size_t q = 0; q < nq; q++) {
		const char *need = queue[q], *path = NULL;
		char *const *depends = NULL;
		size_t ndepends = 0;
		struct rpl_strbuf ip = RPL_STRBUF_INIT;
		const struct rpl_apkindex_pkg *p;
		int seen = 0;

		/* A need met (or not) once is settled: "so:libc.so.6" of many packages. */
		for (size_t i = 0; i < q && !seen; i++)
			seen = rpl_deps_name_len(queue[i]) == rpl_deps_name_len(need) &&
			       !strncmp(queue[i], need, rpl_deps_name_len(need));
		if (seen)
			continue;
		for (size_t i = 0; i < b->nbuilt && !path; i++) {
			const struct rpl_apk *a = &b->built[i].apk;
			if (satisfies(a->pkgname, a->provides, a->nprovides, need)) {
				path = b->built[i].path;
				depends = a->depends;
				ndepends = a->ndepends;
			}
		}
		if (!path && idx->npkgs && (p = rpl_deps_providing(idx, need))) {
			rpl_strbuf_addf(&ip, "%s/%s/%s-%s.apk", b->o->out_dir, b->o->arch, p->name,
			                p->version);
			path = ip.buf;
			depends = (char *const *)p->depends;
			ndepends = p->ndepends;
		}
		if (!path) {
			rpl_strbuf_addf(&out->host, " %.*s", (int)rpl_deps_name_len(need), need);
			continue;
		}
		for (size_t i = 0; i < out->napks && !seen; i++)
			seen = !strcmp(out->apks[i], path);
		if (!seen) {
			RPL_ALLOC_GROW(out->apks, out->napks + 1, out->aa);
			out->apks[out->napks++] = rpl_xstrdup(path);
			for (size_t i = 0; i < ndepends; i++) {
				RPL_ALLOC_GROW(queue, nq + 1, qa);
				queue[nq++] = rpl_xstrdup(depends[i]);
			}
		}
		rpl_strbuf_release(&ip);
	}
	for (size_t i = 0; i < nq; i++)
		free(queue[i]);
	free(queue);
}

/*
 * The test's steps with its workspace `tw` (open as `twfd`) and its
 * packages `td` standing in for the build's while they run, and its own
 * variables; the build's are put back after.
 */
static int run_in_test_workspace(struct rpl_build *b, const struct rpl_ctest *t, char *tw, char *td,
                                 int twfd)
{
	char *work = b->work, *deps = b->deps;
	int err, wsfd = b->wsfd, deps_fd = b->sb.deps_fd;
	const char *deps_path = b->sb.deps_path;

	b->work = tw;
	b->deps = td;
	b->wsfd = b->sb.ws_fd = twfd;
	b->sb.ws_path = tw;
	b->sb.deps_fd = -1;
	b->sb.deps_path = NULL;
	if (!(err = rpl_deps_bind(b, td))) {
		b->env = t->environment; /* a test has its own variables, not the build's */
		err = rpl_build_run_steps(b, t->steps, t->nsteps, RPL_WORKSPACE, NULL);
	}
	if (b->sb.deps_fd >= 0)
		close(b->sb.deps_fd);
	free((char *)b->sb.deps_path);
	b->sb.deps_fd = deps_fd;
	b->sb.deps_path = deps_path;
	b->wsfd = b->sb.ws_fd = wsfd;
	b->sb.ws_path = work;
	b->work = work;
	b->deps = deps;
	b->env = NULL;
	return err;
}

/*
 * A package's test, as `melange test` runs it: the test pipeline in a fresh
 * workspace, with the package under test, the test's environment and what
 * they need at run time installed under /usr/local in the sandbox (from the
 * apks this build wrote, else the local repository; the rest is taken from
 * the host and listed).
 */
int rpl_buildtest_run(struct rpl_build *b, const struct rpl_ctest *t)
{
	const char *name = t->sub ? t->sub : b->r->package.name.s;
	struct rpl_apkindex idx;
	struct test_apks ta = { NULL, 0, 0, RPL_STRBUF_INIT };
	struct rpl_strbuf tw = RPL_STRBUF_INIT, td = RPL_STRBUF_INIT, used = RPL_STRBUF_INIT;
	int err = 0, twfd = -1;

	int loaded = rpl_apkindex_load(&idx, b->o->out_dir, b->o->arch) == 0;

	if (!loaded)
		memset(&idx, 0, sizeof(idx));
	test_apks(b, t, name, &idx, &ta);
	rpl_strbuf_addf(&tw, "%s.test-%s", b->work, name);
	rpl_strbuf_addf(&td, "%s.deps", tw.buf);
	if ((err = rpl_ws_fresh_dir(tw.buf, &twfd)) || (err = rpl_ws_remove_path(td.buf)) ||
	    (err = rpl_mkdirs(td.buf)))
		goto out;
	for (size_t i = 0; i < ta.napks && !err; i++) {
		const char *base = strrchr(ta.apks[i], '/');
		err = rpl_deps_unpack(b, ta.apks[i], td.buf);
		rpl_strbuf_addf(&used, " %s", base ? base + 1 : ta.apks[i]);
	}
	if (err || (err = rpl_sandbox_own(&b->sb, twfd)))
		goto out;
	rpl_say("test %s: installed in the sandbox (under /usr/local):%s", name, used.buf);
	if (ta.host.len)
		rpl_say("test %s: needs taken from the host:%s", name, ta.host.buf);
	if ((err = run_in_test_workspace(b, t, tw.buf, td.buf, twfd)))
		err = rpl_error(err, "the test of %s failed: %s", name, rpl_errmsg());
	else
		rpl_say("test %s: passed", name);
out:
	for (size_t i = 0; i < ta.napks; i++)
		free(ta.apks[i]);
	free(ta.apks);
	if (twfd >= 0)
		close(twfd);
	rpl_strbuf_release(&tw);
	rpl_strbuf_release(&td);
	rpl_strbuf_release(&ta.host);
	rpl_strbuf_release(&used);
	if (loaded)
		rpl_apkindex_release(&idx);
	return err;
}
