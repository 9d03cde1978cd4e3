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
	struct rpl_strbuf tw = RPL_STRBUF_INIT, td = RPL_STRBUF_INIT, host = RPL_STRBUF_INIT,
	                  used = RPL_STRBUF_INIT;
	char **queue = NULL, **apks = NULL, *work = b->work, *deps = b->deps;
	size_t nq = 0, qa = 0, napks = 0, aa = 0;
	int err = 0, twfd = -1, wsfd = b->wsfd, deps_fd;
	const char *deps_path;

	int loaded = rpl_apkindex_load(&idx, b->o->out_dir, b->o->arch) == 0;

	if (!loaded)
		memset(&idx, 0, sizeof(idx));
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
	/* Resolve breadth first, following run-time dependencies. */
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
		if (!path && idx.npkgs && (p = rpl_deps_providing(&idx, need))) {
			rpl_strbuf_addf(&ip, "%s/%s/%s-%s.apk", b->o->out_dir, b->o->arch, p->name,
			                p->version);
			path = ip.buf;
			depends = (char *const *)p->depends;
			ndepends = p->ndepends;
		}
		if (!path) {
			rpl_strbuf_addf(&host, " %.*s", (int)rpl_deps_name_len(need), need);
			continue;
		}
		for (size_t i = 0; i < napks && !seen; i++)
			seen = !strcmp(apks[i], path);
		if (!seen) {
			RPL_ALLOC_GROW(apks, napks + 1, aa);
			apks[napks++] = rpl_xstrdup(path);
			for (size_t i = 0; i < ndepends; i++) {
				RPL_ALLOC_GROW(queue, nq + 1, qa);
				queue[nq++] = rpl_xstrdup(depends[i]);
			}
		}
		rpl_strbuf_release(&ip);
	}
	rpl_strbuf_addf(&tw, "%s.test-%s", b->work, name);
	rpl_strbuf_addf(&td, "%s.deps", tw.buf);
	if ((err = rpl_ws_fresh_dir(tw.buf, &twfd)) || (err = rpl_ws_remove_path(td.buf)) ||
	    (err = rpl_mkdirs(td.buf)))
		goto out;
	for (size_t i = 0; i < napks && !err; i++) {
		const char *base = strrchr(apks[i], '/');
		err = rpl_deps_unpack(b, apks[i], td.buf);
		rpl_strbuf_addf(&used, " %s", base ? base + 1 : apks[i]);
	}
	if (err || (err = rpl_sandbox_own(&b->sb, twfd)))
		goto out;
	rpl_say("test %s: installed in the sandbox (under /usr/local):%s", name, used.buf);
	if (host.len)
		rpl_say("test %s: needs taken from the host:%s", name, host.buf);
	/* The test's workspace and packages stand in for the build's while it runs. */
	b->work = tw.buf;
	b->deps = td.buf;
	b->wsfd = b->sb.ws_fd = twfd;
	b->sb.ws_path = tw.buf;
	deps_fd = b->sb.deps_fd;
	deps_path = b->sb.deps_path;
	b->sb.deps_fd = -1;
	b->sb.deps_path = NULL;
	if (!(err = rpl_deps_bind(b, td.buf))) {
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
	if (err)
		err = rpl_error(err, "the test of %s failed: %s", name, rpl_errmsg());
	else
		rpl_say("test %s: passed", name);
out:
	for (size_t i = 0; i < nq; i++)
		free(queue[i]);
	free(queue);
	for (size_t i = 0; i < napks; i++)
		free(apks[i]);
	free(apks);
	if (twfd >= 0)
		close(twfd);
	rpl_strbuf_release(&tw);
	rpl_strbuf_release(&td);
	rpl_strbuf_release(&host);
	rpl_strbuf_release(&used);
	if (loaded)
		rpl_apkindex_release(&idx);
	return err;
}
