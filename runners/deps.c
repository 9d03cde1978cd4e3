/*
 * The build's packages from the local repository: the needs some package
 * of packages/<arch> provides, and what those need at run time there,
 * unpacked beside the workspace and bound as the sandbox's /usr/local.
 */
#include "runners/deps.h"
#include "common/error.h"
#include "common/file.h"
#include "common/strbuf.h"
#include "common/xalloc.h"
#include "graph/apkindex.h"
#include "runners/build.h"
#include "runners/native.h"
#include "runners/workspace.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

size_t rpl_deps_name_len(const char *s)
{
	return strcspn(s, "=<>~");
}

/* The package of the index that is or provides `need`, or NULL. */
const struct rpl_apkindex_pkg *rpl_deps_providing(const struct rpl_apkindex *idx, const char *need)
{
	size_t n = rpl_deps_name_len(need);

	for (size_t i = 0; i < idx->npkgs; i++) {
		const struct rpl_apkindex_pkg *p = &idx->pkgs[i];
		if (strlen(p->name) == n && !strncmp(p->name, need, n))
			return p;
		for (size_t k = 0; k < p->nprovides; k++)
			if (rpl_deps_name_len(p->provides[k]) == n &&
			    !strncmp(p->provides[k], need, n))
				return p;
	}
	return NULL;
}

/* Unpacks an apk's data section into `root` (its control entries left out). */
int rpl_deps_unpack(const struct rpl_build *b, const char *apk, const char *root)
{
	struct rpl_extract_opts eo = rpl_build_limits(b, 0, 1);

	return rpl_extract(apk, root, &eo);
}

/* The packages unpacked under `deps` become the sandbox's /usr/local. */
int rpl_deps_bind(struct rpl_build *b, const char *deps)
{
	char *usr = rpl_path_join(deps, "usr");
	int fd = open(usr, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC), err = 0;

	if (fd < 0 && errno != ENOENT)
		err = rpl_error(-errno, "cannot open '%s': %s", usr, strerror(errno));
	if (b->sb.deps_fd >= 0)
		close(b->sb.deps_fd);
	free((char *)b->sb.deps_path);
	b->sb.deps_fd = fd;
	b->sb.deps_path = usr;
	return err;
}

/*
 * The build needs some package of packages/<arch> provides, transitively
 * through their runtime dependencies there, unpacked under b->deps.
 */
int rpl_deps_install(struct rpl_build *b)
{
	struct rpl_apkindex idx;
	const struct rpl_apkindex_pkg **todo = NULL;
	size_t ntodo = 0, alloc = 0;
	struct rpl_strbuf local = RPL_STRBUF_INIT, host = RPL_STRBUF_INIT;
	int err = 0;

	int loaded = rpl_apkindex_load(&idx, b->o->out_dir, b->o->arch) == 0;

	if (!loaded)
		memset(&idx, 0, sizeof(idx)); /* no local repository yet */
	for (size_t i = 0; i < b->c.nneeds; i++) {
		const char *need = b->c.needs[i].name;
		const struct rpl_apkindex_pkg *p =
		        idx.npkgs ? rpl_deps_providing(&idx, need) : NULL;
		int seen = 0;
		if (!p) {
			if (!strstr(host.buf ? host.buf : "", need)) {
				rpl_strbuf_addf(&host, " %.*s", (int)rpl_deps_name_len(need), need);
				RPL_ALLOC_GROW(b->env_pkgs, b->nenv_pkgs + 1, b->aenv_pkgs);
				b->env_pkgs[b->nenv_pkgs++] = rpl_xstrdup(need);
			}
			continue;
		}
		for (size_t k = 0; k < ntodo && !seen; k++)
			seen = todo[k] == p;
		if (!seen) {
			RPL_ALLOC_GROW(todo, ntodo + 1, alloc);
			todo[ntodo++] = p;
		}
	}
	/* What they need at run time, when the local repository has it too. */
	for (size_t k = 0; k < ntodo; k++)
		for (size_t d = 0; d < todo[k]->ndepends; d++) {
			const struct rpl_apkindex_pkg *p =
			        rpl_deps_providing(&idx, todo[k]->depends[d]);
			int seen = !p;
			for (size_t x = 0; x < ntodo && !seen; x++)
				seen = todo[x] == p;
			if (!seen) {
				RPL_ALLOC_GROW(todo, ntodo + 1, alloc);
				todo[ntodo++] = p;
			}
		}
	if (host.len)
		rpl_say("build needs taken from the host:%s", host.buf);
	if (ntodo) {
		struct rpl_strbuf d = RPL_STRBUF_INIT;
		rpl_strbuf_addf(&d, "%s.deps", b->work);
		b->deps = rpl_strbuf_detach(&d);
		if (!(err = rpl_ws_remove_path(b->deps)))
			err = rpl_mkdirs(b->deps);
	}
	for (size_t k = 0; k < ntodo && !err; k++) {
		struct rpl_strbuf apk = RPL_STRBUF_INIT;
		rpl_strbuf_addf(&apk, "%s/%s/%s-%s.apk", b->o->out_dir, b->o->arch, todo[k]->name,
		                todo[k]->version);
		err = rpl_deps_unpack(b, apk.buf, b->deps);
		rpl_strbuf_addf(&local, " %s-%s", todo[k]->name, todo[k]->version);
		rpl_strbuf_reset(&apk);
		rpl_strbuf_addf(&apk, "%s=%s", todo[k]->name, todo[k]->version);
		RPL_ALLOC_GROW(b->env_pkgs, b->nenv_pkgs + 1, b->aenv_pkgs);
		b->env_pkgs[b->nenv_pkgs++] = rpl_strbuf_detach(&apk);
	}
	if (ntodo && !err)
		err = rpl_deps_bind(b, b->deps);
	if (local.len && !err)
		rpl_say("installed in the sandbox from %s/%s (under /usr/local):%s", b->o->out_dir,
		        b->o->arch, local.buf);
	free(todo);
	rpl_strbuf_release(&local);
	rpl_strbuf_release(&host);
	if (loaded)
		rpl_apkindex_release(&idx);
	return err;
}
