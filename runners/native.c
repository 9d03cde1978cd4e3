#include "runners/native.h"
#include "runners/apk.h"
#include "common/error.h"
#include "common/file.h"
#include "common/strbuf.h"
#include "common/xalloc.h"
#include "graph/apkindex.h"
#include "recipes/melange.h"
#include "recipes/pipeline.h"
#include "recipes/repoconfig.h"
#include "recipes/scan.h"
#include "runners/apkwrite.h"
#include "runners/melangeyaml.h"
#include "runners/provenance.h"
#include "runners/repo.h"
#include "runners/runner.h"
#include "runners/emulate.h"
#include "runners/sandbox.h"
#include "runners/sbom.h"
#include "runners/workspace.h"
#include "runners/extract.h"
#include "common/sha256.h"

#include <archive.h>
#include <archive_entry.h>
#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <git2.h>
#include <limits.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

struct build {
	const struct rpl_native_opts *o;
	struct rpl_recipe *r;
	struct rpl_compiled c;
	struct rpl_pipeline_lib lib;
	int have_lib, have_compiled;
	/* The workspace (host path and directory fd), the packages installed for
	 * the steps, and the download cache. */
	char *work, *deps, *cache;
	int wsfd;
	struct rpl_sandbox sb;
	struct rpl_emulation emu; /* how this arch runs here, and in what root */
	char *version;
	int64_t sde;
	/* The variables the steps get: the recipe's, or a test's while it runs. */
	const struct rpl_kvlist *env;
	/* Where the recipe comes from (its repository's HEAD), the packages the
	 * build had (`name=version` from the output repository, else as the
	 * recipe names them), and the .melange.yaml every package carries. */
	struct rpl_provenance prov;
	char **env_pkgs;
	size_t nenv_pkgs, aenv_pkgs;
	char *melange_yaml;
	size_t melange_yaml_len;
	/* The apks this build wrote, for its tests. */
	struct built_apk {
		char *path;
		struct rpl_apk apk;
	} * built;
	size_t nbuilt;
};

static const char *kv_get(const struct rpl_kvlist *l, const char *key)
{
	for (size_t i = 0; i < l->n; i++)
		if (!strcmp(l->v[i].key.s, key))
			return l->v[i].val.s;
	return NULL;
}

static int truthy(const char *s)
{
	return s && (!strcmp(s, "true") || !strcmp(s, "yes") || !strcmp(s, "1"));
}

/* The extraction limits of this build. */
static struct rpl_extract_opts limits(const struct build *b, int strip, int skip_dotfiles)
{
	struct rpl_extract_opts e = {
		strip, skip_dotfiles, b->o->max_extract_size, b->o->max_extract_ratio, 0, NULL
	};
	return e;
}

/* ---- the workspace ------------------------------------------------------------------------ */

/*
 * Copies the repository's tree `from` into the directory `to`, keeping
 * modes (less setuid and setgid) and links; anything else is refused.
 * From the monorepo root itself (a root `.melange.yaml`'s source dir),
 * hidden entries (.git, .ripple and its live state) and ripple's outputs
 * stay behind.
 */
static int copy_tree(const char *from, int to)
{
	int root = !strcmp(from, ".");
	DIR *d = opendir(from);
	struct dirent *de;
	int err = 0;

	if (!d)
		return rpl_error(-errno, "cannot read '%s': %s", from, strerror(errno));
	while (!err && (de = readdir(d))) {
		char *src;
		struct stat st;
		int sub;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (root && (de->d_name[0] == '.' || rpl_scan_output_dir(de->d_name)))
			continue;
		src = rpl_path_join(from, de->d_name);
		if (lstat(src, &st) < 0) {
			err = rpl_error(-errno, "cannot stat '%s'", src);
		} else if (S_ISDIR(st.st_mode)) {
			if (!(err = rpl_ws_mkdirs(to, de->d_name, &sub))) {
				err = copy_tree(src, sub);
				close(sub);
			}
		} else if (S_ISLNK(st.st_mode)) {
			char target[PATH_MAX];
			ssize_t n = readlink(src, target, sizeof(target) - 1);
			if (n < 0 || (target[n] = '\0', symlinkat(target, to, de->d_name) < 0))
				err = rpl_error(-errno, "cannot copy the link '%s'", src);
		} else if (S_ISREG(st.st_mode)) {
			err = rpl_ws_copy_file(src, to, de->d_name, st.st_mode & 0777);
		} else {
			err = rpl_error(-RPL_EUSAGE,
			                "'%s' is neither a file, a directory nor a link: refused",
			                src);
		}
		free(src);
	}
	closedir(d);
	return err;
}

/*
 * Makes `path` a fresh, empty directory and opens it; the steps' user owns
 * it.  Its parent is ripple's, so the path itself cannot be a step's link.
 */
static int fresh_dir(struct build *b, const char *path, int *fd)
{
	int err;

	*fd = -1;
	if ((err = rpl_ws_remove_path(path)) || (err = rpl_mkdirs(path)))
		return err;
	if ((*fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0)
		return rpl_error(-errno, "cannot open '%s': %s", path, strerror(errno));
	return 0;
}

/* The source dir as a real directory inside the monorepo; NULL (no copy) when missing. */
static int source_dir(struct build *b, char **out)
{
	const char *o_src = b->o->source_dir;
	char *src, root[PATH_MAX], real[PATH_MAX];
	struct stat st;
	size_t n;

	*out = NULL;
	if (o_src)
		src = rpl_xstrdup(o_src);
	else if (strchr(b->o->file, '/'))
		src = rpl_path_dirname(b->o->file);
	else
		src = rpl_xstrdup(b->r->package.name.s);
	if (lstat(src, &st) < 0) {
		free(src);
		return 0;
	}
	if (!getcwd(root, sizeof(root)) || !realpath(src, real)) {
		int err = rpl_error(-errno, "cannot resolve '%s': %s", src, strerror(errno));
		free(src);
		return err;
	}
	n = strlen(root);
	if (S_ISLNK(st.st_mode) || !S_ISDIR(st.st_mode) || strncmp(real, root, n) ||
	    (real[n] != '/' && !(o_src && !real[n]))) {
		int err = rpl_error(-RPL_EUSAGE,
		                    "the source dir '%s' is %s: refused (its files become the "
		                    "workspace's)",
		                    src,
		                    S_ISLNK(st.st_mode)    ? "a symbolic link"
		                    : !S_ISDIR(st.st_mode) ? "not a directory"
		                    : real[n]              ? "outside the monorepo"
		                                           : "the monorepo itself");
		free(src);
		return err;
	}
	*out = src;
	return 0;
}

/* ---- fetch ------------------------------------------------------------------------------- */

struct download {
	int fd;
	EVP_MD_CTX *md;
	int err;
};

static size_t on_data(char *p, size_t size, size_t n, void *ud)
{
	struct download *d = ud;
	size_t len = size * n;

	EVP_DigestUpdate(d->md, p, len);
	for (size_t done = 0; done < len;) {
		ssize_t w = write(d->fd, p + done, len - done);
		if (w < 0) {
			d->err = -errno;
			return 0;
		}
		done += (size_t)w;
	}
	return len;
}

/* The digest of a file with `md`, in hex. */
static int digest_file(const char *path, const EVP_MD *md, char *out)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned char buf[65536], d[EVP_MAX_MD_SIZE];
	unsigned int dl = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0) {
		EVP_MD_CTX_free(ctx);
		return -errno;
	}
	EVP_DigestInit_ex(ctx, md, NULL);
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		EVP_DigestUpdate(ctx, buf, (size_t)n);
	EVP_DigestFinal_ex(ctx, d, &dl);
	rpl_hex(d, dl, out);
	close(fd);
	EVP_MD_CTX_free(ctx);
	return n < 0 ? -errno : 0;
}

/* Reads the local file `path` through `d` as a download would arrive. */
static int read_local(const char *path, struct download *d)
{
	char buf[65536];
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return rpl_error(-errno, "cannot read '%s': %s", path, strerror(errno));
	while ((n = read(fd, buf, sizeof(buf))) > 0 && !d->err)
		on_data(buf, 1, (size_t)n, d);
	if (n < 0 && !d->err)
		d->err = -errno;
	close(fd);
	return d->err ? rpl_error(d->err, "cannot copy '%s': %s", path, strerror(-d->err)) : 0;
}

static int curl_get(const char *uri, struct download *d)
{
	char errbuf[CURL_ERROR_SIZE] = "";
	CURL *c;
	CURLcode rc;
	int err = 0;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	if (!(c = curl_easy_init()))
		return rpl_error(-RPL_ELIB, "cannot fetch %s: curl_easy_init failed", uri);
	curl_easy_setopt(c, CURLOPT_URL, uri);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(c, CURLOPT_FAILONERROR, 1L);
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(c, CURLOPT_MAXREDIRS, 10L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 30L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "ripple");
	/* Sources come from the network: never from the host's files, even by a redirect. */
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https,ftp");
	curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https,ftp");
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, d);
	rc = curl_easy_perform(c);
	if (rc != CURLE_OK || d->err)
		err = rpl_error(d->err ? d->err : -RPL_ELIB, "cannot fetch %s: %s", uri,
		                d->err    ? strerror(-d->err)
		                : *errbuf ? errbuf
		                          : curl_easy_strerror(rc));
	curl_easy_cleanup(c);
	return err;
}

/*
 * Puts what `uri` names (or, when `local` is set, the file `local` that a
 * mirror directory holds for it) into the cache unless it is there, and
 * returns its cached path.  With a digest the entry is named by it and a
 * mismatch caches nothing.
 */
static int fetch_cached(const char *cache_dir, const char *uri, const char *local,
                        const char *sha256, const char *sha512, char **path)
{
	const EVP_MD *md = sha256 && *sha256   ? EVP_sha256()
	                   : sha512 && *sha512 ? EVP_sha512()
	                                       : NULL;
	const char *want = sha256 && *sha256 ? sha256 : sha512;
	struct rpl_strbuf key = RPL_STRBUF_INIT, tmp = RPL_STRBUF_INIT;
	struct download d = { -1, NULL, 0 };
	char got[EVP_MAX_MD_SIZE * 2 + 1];
	unsigned char dg[EVP_MAX_MD_SIZE];
	unsigned int dl = 0;
	int err;

	*path = NULL;
	if (!local && strncasecmp(uri, "http://", 7) && strncasecmp(uri, "https://", 8) &&
	    strncasecmp(uri, "ftp://", 6))
		return rpl_error(-RPL_EUSAGE,
		                 "cannot fetch %s: only http, https and ftp are fetched (local "
		                 "files come from a source mirror directory)",
		                 uri);
	if ((err = rpl_mkdirs(cache_dir)))
		return err;
	if (md) {
		rpl_strbuf_addf(&key, "%s/%s:%s", cache_dir,
		                md == EVP_sha256() ? "sha256" : "sha512", want);
		/* Cached and still what it claims to be: no download. */
		if (digest_file(key.buf, md, got) == 0 && !strcasecmp(got, want)) {
			*path = rpl_strbuf_detach(&key);
			return 0;
		}
		unlink(key.buf);
	}
	rpl_strbuf_addf(&tmp, "%s/.download.%d", cache_dir, (int)getpid());
	d.fd = open(tmp.buf, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (d.fd < 0) {
		err = rpl_error(-errno, "cannot write '%s': %s", tmp.buf, strerror(errno));
		goto out;
	}
	d.md = EVP_MD_CTX_new();
	EVP_DigestInit_ex(d.md, md ? md : EVP_sha256(), NULL);
	if ((err = local ? read_local(local, &d) : curl_get(uri, &d)))
		goto out;
	if (close(d.fd) < 0) {
		d.fd = -1;
		err = rpl_error(-errno, "cannot write '%s': %s", tmp.buf, strerror(errno));
		goto out;
	}
	d.fd = -1;
	EVP_DigestFinal_ex(d.md, dg, &dl);
	rpl_hex(dg, dl, got);
	if (md && strcasecmp(got, want)) {
		/* Nothing is cached from a download that is not what was expected. */
		err = rpl_error(-RPL_EPARSE, "%s: checksum mismatch: expected %s %s, got %s", uri,
		                md == EVP_sha256() ? "sha256" : "sha512", want, got);
		goto out;
	}
	if (!md) {
		rpl_strbuf_reset(&key);
		rpl_strbuf_addf(&key, "%s/unverified-sha256:%s", cache_dir, got);
	}
	if (rename(tmp.buf, key.buf) < 0) {
		err = rpl_error(-errno, "cannot write '%s': %s", key.buf, strerror(errno));
		goto out;
	}
	*path = rpl_strbuf_detach(&key);
out:
	if (d.fd >= 0)
		close(d.fd);
	if (err)
		unlink(tmp.buf);
	EVP_MD_CTX_free(d.md);
	rpl_strbuf_release(&key);
	rpl_strbuf_release(&tmp);
	return err;
}

int rpl_fetch_cached(const char *cache_dir, const char *uri, const char *sha256, const char *sha512,
                     char **path)
{
	return fetch_cached(cache_dir, uri, NULL, sha256, sha512, path);
}

/* Whether a path has a ".." component. */
static int has_dotdot(const char *p)
{
	for (; p; p = strchr(p, '/') ? strchr(p, '/') + 1 : NULL)
		if (p[0] == '.' && p[1] == '.' && (p[2] == '/' || !p[2]))
			return 1;
	return 0;
}

/*
 * The file a mirror directory `dir` (relative to the monorepo root, or
 * absolute) holds for the rest of a uri, or NULL with an error: it must be
 * a regular file that lies inside the directory once its links are
 * resolved.  *missing says the directory simply does not have it.
 */
static int mirror_file(const char *dir, const char *rest, char **file, int *missing)
{
	char real_dir[PATH_MAX], real[PATH_MAX];
	struct rpl_strbuf p = RPL_STRBUF_INIT;
	struct stat st;
	size_t n;
	int err = 0;

	*file = NULL;
	*missing = 0;
	if (!realpath(dir, real_dir)) {
		*missing = 1;
		return rpl_error(-errno, "the mirror '%s' cannot be read: %s", dir,
		                 strerror(errno));
	}
	while (*rest == '/')
		rest++;
	rpl_strbuf_addf(&p, "%s/%s", real_dir, rest);
	n = strlen(real_dir);
	if (!realpath(p.buf, real)) {
		*missing = errno == ENOENT;
		err = rpl_error(-errno, "%s: %s", p.buf, strerror(errno));
	} else if (strncmp(real, real_dir, n) || real[n] != '/') {
		err = rpl_error(-RPL_EUSAGE, "'%s' leads outside the mirror '%s': refused", p.buf,
		                dir);
	} else if (stat(real, &st) < 0 || !S_ISREG(st.st_mode)) {
		err = rpl_error(-RPL_EUSAGE, "'%s' of the mirror '%s' is not a file: refused", rest,
		                dir);
	} else {
		*file = rpl_xstrdup(real);
	}
	rpl_strbuf_release(&p);
	return err;
}

/*
 * A uri under a configured mirror prefix comes from the mirror first (a
 * directory, or a URL); when the mirror does not have it, from the uri
 * itself.  The digest is checked either way.  Nothing outside a mirror
 * directory is read: file:// uris are refused, and so are mirrored uris
 * whose rest climbs with "..".
 */
static int fetch_mirrored(struct build *b, const char *uri, const char *sha256, const char *sha512,
                          char **cached)
{
	for (size_t i = 0; i < b->o->nmirrors; i++) {
		const char *from = b->o->mirror_from[i], *to = b->o->mirror_to[i];
		size_t n = strlen(from);
		struct rpl_strbuf m = RPL_STRBUF_INIT;
		char *file = NULL;
		int err, missing = 0;

		if (!n || strncmp(uri, from, n))
			continue;
		if (has_dotdot(uri + n))
			return rpl_error(-RPL_EUSAGE,
			                 "fetch %s: a mirrored uri must not contain '..': refused",
			                 uri);
		if (!strncmp(to, "file://", 7))
			to += 7;
		if (strstr(to, "://")) {
			rpl_strbuf_addf(&m, "%s%s%s", to,
			                to[strlen(to) - 1] != '/' && uri[n] != '/' ? "/" : "",
			                uri + n);
			err = fetch_cached(b->cache, m.buf, NULL, sha256, sha512, cached);
		} else {
			rpl_strbuf_addstr(&m, to);
			err = mirror_file(to, uri + n, &file, &missing);
			if (!err)
				err = fetch_cached(b->cache, uri, file, sha256, sha512, cached);
			else if (!missing)
				return err;
		}
		free(file);
		if (!err) {
			rpl_say("fetch: %s from the mirror %s", uri, m.buf);
			rpl_strbuf_release(&m);
			return 0;
		}
		if (err == -RPL_EPARSE) { /* a mirror that serves other bytes is wrong */
			rpl_strbuf_release(&m);
			return err;
		}
		rpl_say("fetch: the mirror has no %s (%s); trying the uri", uri, rpl_errmsg());
		rpl_strbuf_release(&m);
	}
	return fetch_cached(b->cache, uri, NULL, sha256, sha512, cached);
}

/*
 * Unpacks `archive` into the workspace directory `rel`: first into a
 * staging directory beside the workspace, which no step can reach, then
 * moved in entry by entry without following a link a step left.
 */
static int unpack_into(struct build *b, const char *archive, const char *uri, const char *rel,
                       int strip)
{
	struct rpl_strbuf stage = RPL_STRBUF_INIT;
	struct rpl_extract_opts eo = limits(b, strip, 0);

	eo.what = uri;
	int sfd = -1, dfd = -1, err;

	rpl_strbuf_addf(&stage, "%s.unpack", b->work);
	if (!(err = fresh_dir(b, stage.buf, &sfd)) &&
	    !(err = rpl_extract(archive, stage.buf, &eo)) &&
	    !(err = rpl_ws_mkdirs(b->wsfd, rel, &dfd)) && !(err = rpl_ws_move(sfd, dfd, 1)))
		err = rpl_sandbox_own(&b->sb, dfd);
	if (sfd >= 0)
		close(sfd);
	if (dfd >= 0)
		close(dfd);
	rpl_ws_remove_path(stage.buf);
	rpl_strbuf_release(&stage);
	return err;
}

static int do_fetch(struct build *b, const struct rpl_cstep *s, const char *wd)
{
	const char *uri = kv_get(&s->with, "uri"), *sha256 = kv_get(&s->with, "expected-sha256"),
	           *sha512 = kv_get(&s->with, "expected-sha512"),
	           *none = kv_get(&s->with, "expected-none");
	const char *dir = kv_get(&s->with, "directory"),
	           *strip = kv_get(&s->with, "strip-components");
	const char *base;
	char *cached = NULL, *where = NULL, *dest = NULL;
	int err, wfd = -1;

	if (!uri || !*uri)
		return rpl_error(-RPL_EUSAGE, "fetch: no uri");
	if (!(sha256 && *sha256) && !(sha512 && *sha512) && !(none && *none))
		return rpl_error(-RPL_EUSAGE,
		                 "fetch %s: one of expected-sha256, expected-sha512 or "
		                 "expected-none must be set",
		                 uri);
	if ((err = rpl_ws_relpath(wd, NULL, &where)) || (err = rpl_ws_relpath(wd, dir, &dest)))
		goto out;
	rpl_say("fetch %s", uri);
	if ((err = fetch_mirrored(b, uri, sha256, sha512, &cached)))
		goto out;
	rpl_say("fetch: %s verified (%s)", uri,
	        sha256 && *sha256   ? "sha256"
	        : sha512 && *sha512 ? "sha512"
	                            : "unchecked");
	base = strrchr(uri, '/');
	base = base && base[1] && strcmp(base + 1, ".") && strcmp(base + 1, "..") ? base + 1
	                                                                          : "download";
	if ((err = rpl_ws_mkdirs(b->wsfd, where, &wfd)) ||
	    (err = rpl_ws_copy_file(cached, wfd, base, 0644)) ||
	    (err = rpl_sandbox_own(&b->sb, wfd)))
		goto out;
	if (!kv_get(&s->with, "extract") || truthy(kv_get(&s->with, "extract")))
		err = unpack_into(b, cached, uri, dest, strip ? atoi(strip) : 1);
	if (!err && truthy(kv_get(&s->with, "delete")) && unlinkat(wfd, base, 0) < 0)
		err = rpl_error(-errno, "cannot remove '%s': %s", base, strerror(errno));
out:
	if (err)
		err = rpl_error(err, "fetch: %s", rpl_errmsg());
	if (wfd >= 0)
		close(wfd);
	free(cached);
	free(where);
	free(dest);
	return err;
}

/* ---- git-checkout ------------------------------------------------------------------------- */

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
static int clone_source(struct build *b, const char *repo, char **from)
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
		if (has_dotdot(repo + n))
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

static int do_git_checkout(struct build *b, const struct rpl_cstep *s, const char *wd)
{
	const char *repo = kv_get(&s->with, "repository"), *tag = kv_get(&s->with, "tag"),
	           *branch = kv_get(&s->with, "branch"),
	           *want = kv_get(&s->with, "expected-commit"),
	           *dest = kv_get(&s->with, "destination");
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
	if (tag && *tag) {
		char ref[512];
		snprintf(ref, sizeof(ref), "refs/tags/%s", tag);
		if (git_revparse_single(&obj, r, ref) < 0) {
			err = rpl_error(-RPL_ENOTFOUND, "git-checkout: %s has no tag %s", repo,
			                tag);
			goto out;
		}
		if (git_object_peel((git_object **)&commit, obj, GIT_OBJECT_COMMIT) < 0 ||
		    git_checkout_tree(r, (git_object *)commit,
		                      &(git_checkout_options)GIT_CHECKOUT_OPTIONS_INIT) < 0 ||
		    git_repository_set_head_detached(r, git_commit_id(commit)) < 0) {
			err = git_err(tag);
			goto out;
		}
		/* A forced checkout: the tag's tree, whatever the default branch held. */
		{
			git_checkout_options o = GIT_CHECKOUT_OPTIONS_INIT;
			o.checkout_strategy = GIT_CHECKOUT_FORCE;
			if (git_checkout_head(r, &o) < 0) {
				err = git_err(tag);
				goto out;
			}
		}
	} else if (git_revparse_single(&obj, r, "HEAD") < 0 ||
	           git_object_peel((git_object **)&commit, obj, GIT_OBJECT_COMMIT) < 0) {
		err = git_err("HEAD");
		goto out;
	}
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

/* ---- steps ---------------------------------------------------------------------------------- */

/* Shell-quotes `s` with single quotes. */
static void quote(struct rpl_strbuf *b, const char *s)
{
	rpl_strbuf_addch(b, '\'');
	for (; *s; s++)
		if (*s == '\'')
			rpl_strbuf_addstr(b, "'\\''");
		else
			rpl_strbuf_addch(b, *s);
	rpl_strbuf_addch(b, '\'');
}

static void env_add(struct rpl_argv *e, const char *k, const char *v)
{
	struct rpl_strbuf kv = RPL_STRBUF_INIT;

	rpl_strbuf_addf(&kv, "%s=%s", k, v);
	rpl_argv_add(e, kv.buf);
	rpl_strbuf_release(&kv);
}

/* Runs one step's script in the sandbox, in `wd` (inside the workspace); returns 0 or an error. */
static int run_script(struct build *b, const struct rpl_cstep *s, const char *wd)
{
	struct rpl_argv env = { NULL, 0, 0 };
	struct rpl_strbuf script = RPL_STRBUF_INIT, sde = RPL_STRBUF_INIT, dir = RPL_STRBUF_INIT;
	const struct rpl_kvlist *renv = b->env ? b->env : &b->r->environment.environment;
	char *rel = NULL;
	int err;

	if ((err = rpl_ws_relpath(wd, NULL, &rel)))
		return rpl_error(err, "working-directory: %s", rpl_errmsg());
	rpl_strbuf_addf(&dir, "%s%s%s", RPL_WORKSPACE, *rel ? "/" : "", rel);
	rpl_strbuf_addstr(&script,
	                  "set -e\n(set -o pipefail) 2>/dev/null && set -o pipefail\n[ -d ");
	quote(&script, dir.buf);
	rpl_strbuf_addstr(&script, " ] || mkdir -p ");
	quote(&script, dir.buf);
	rpl_strbuf_addstr(&script, "\ncd ");
	quote(&script, dir.buf);
	rpl_strbuf_addf(&script, "\n%s\nexit 0\n", s->runs);
	rpl_strbuf_addf(&sde, "%lld", (long long)b->sde);

	env_add(&env, "HOME", RPL_WORKSPACE);
	env_add(&env, "SOURCE_DATE_EPOCH", sde.buf);
	/* Programs of local packages find their libraries, as they would at /usr/lib. */
	if (b->sb.deps_fd >= 0)
		env_add(&env, "LD_LIBRARY_PATH", "/usr/local/lib");
	for (size_t i = 0; i < renv->n; i++)
		env_add(&env, renv->v[i].key.s, renv->v[i].val.s);
	/* PATH beats the recipe's environment; only a step's own PATH changes it. */
	env_add(&env, "PATH", "/usr/local/sbin:/usr/local/bin:/usr/bin:/usr/sbin:/sbin:/bin");
	for (size_t i = 0; i < s->environment.n; i++)
		env_add(&env, s->environment.v[i].key.s, s->environment.v[i].val.s);
	err = rpl_sandbox_run(&b->sb, env.v, env.n, script.buf);
	rpl_argv_free(env.v);
	rpl_strbuf_release(&script);
	rpl_strbuf_release(&sde);
	rpl_strbuf_release(&dir);
	free(rel);
	return err;
}

/*
 * What a step is called in messages: its name, else what it uses, else the
 * first line of what it runs (malloc'd).
 */
static char *step_label(const struct rpl_cstep *s)
{
	struct rpl_strbuf l = RPL_STRBUF_INIT;

	if (s->name && *s->name)
		rpl_strbuf_addstr(&l, s->name);
	else if (s->uses && *s->uses)
		rpl_strbuf_addstr(&l, s->uses);
	else if (s->runs && *s->runs) {
		const char *r = s->runs + strspn(s->runs, " \t\n");
		size_t n = strcspn(r, "\n");
		rpl_strbuf_addf(&l, "'%.*s%s'", (int)(n > 60 ? 60 : n), r, n > 60 ? "..." : "");
	} else
		rpl_strbuf_addstr(&l, "a step");
	return rpl_strbuf_detach(&l);
}

/*
 * A step and what it contains, in melange's order: its `runs`, then its
 * children.  `from` is the pipeline the steps come from (NULL: the recipe).
 */
static int run_steps(struct build *b, const struct rpl_cstep *steps, size_t n, const char *wd,
                     const char *from)
{
	int err = 0;

	for (size_t i = 0; i < n && !err; i++) {
		const struct rpl_cstep *s = &steps[i];
		const char *swd =
		        s->working_directory && *s->working_directory ? s->working_directory : wd;
		char *abs_wd = NULL, *label;

		if (s->skipped)
			continue;
		if (swd[0] != '/') {
			abs_wd = rpl_path_join(wd, swd);
			swd = abs_wd;
		}
		label = step_label(s);
		if (s->uses && !strcmp(s->uses, "fetch")) {
			err = do_fetch(b, s, swd);
		} else if (s->uses && !strcmp(s->uses, "git-checkout")) {
			err = do_git_checkout(b, s, swd);
		} else {
			if (s->runs && *s->runs) {
				rpl_say("step %s", label);
				if ((err = run_script(b, s, swd)) && from)
					err = rpl_error(err, "step %s of the pipeline %s: %s",
					                label, from, rpl_errmsg());
				else if (err)
					err = rpl_error(err, "step %s: %s", label, rpl_errmsg());
			}
			if (!err)
				err = run_steps(b, s->steps, s->nsteps, swd,
				                s->uses && *s->uses ? s->uses : from);
		}
		free(label);
		free(abs_wd);
	}
	return err;
}

/* ---- build dependencies from the local repository ----------------------------------------- */

static size_t name_len(const char *s)
{
	return strcspn(s, "=<>~");
}

/* The package of the index that is or provides `need`, or NULL. */
static const struct rpl_apkindex_pkg *providing(const struct rpl_apkindex *idx, const char *need)
{
	size_t n = name_len(need);

	for (size_t i = 0; i < idx->npkgs; i++) {
		const struct rpl_apkindex_pkg *p = &idx->pkgs[i];
		if (strlen(p->name) == n && !strncmp(p->name, need, n))
			return p;
		for (size_t k = 0; k < p->nprovides; k++)
			if (name_len(p->provides[k]) == n && !strncmp(p->provides[k], need, n))
				return p;
	}
	return NULL;
}

/* Unpacks an apk's data section into `root` (its control entries left out). */
static int unpack_apk(const struct build *b, const char *apk, const char *root)
{
	struct rpl_extract_opts eo = limits(b, 0, 1);

	return rpl_extract(apk, root, &eo);
}

/* The packages unpacked under `deps` become the sandbox's /usr/local. */
static int bind_deps(struct build *b, const char *deps)
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
static int install_deps(struct build *b)
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
		const struct rpl_apkindex_pkg *p = idx.npkgs ? providing(&idx, need) : NULL;
		int seen = 0;
		if (!p) {
			if (!strstr(host.buf ? host.buf : "", need)) {
				rpl_strbuf_addf(&host, " %.*s", (int)name_len(need), need);
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
			const struct rpl_apkindex_pkg *p = providing(&idx, todo[k]->depends[d]);
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
		err = unpack_apk(b, apk.buf, b->deps);
		rpl_strbuf_addf(&local, " %s-%s", todo[k]->name, todo[k]->version);
		rpl_strbuf_reset(&apk);
		rpl_strbuf_addf(&apk, "%s=%s", todo[k]->name, todo[k]->version);
		RPL_ALLOC_GROW(b->env_pkgs, b->nenv_pkgs + 1, b->aenv_pkgs);
		b->env_pkgs[b->nenv_pkgs++] = rpl_strbuf_detach(&apk);
	}
	if (ntodo && !err)
		err = bind_deps(b, b->deps);
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

/* ---- SOURCE_DATE_EPOCH ---------------------------------------------------------------------- */

/* When `file` last changed in git (the commit time), or 0. */
static int64_t last_commit_time(const char *file)
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

/* ---- the build ------------------------------------------------------------------------------- */

static int cmp_cstr(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void text_list(const struct rpl_textlist *l, char ***out, size_t *n)
{
	*out = rpl_xmalloc((l->n ? l->n : 1) * sizeof(**out));
	for (size_t i = 0; i < l->n; i++)
		(*out)[i] = (char *)l->v[i].s;
	*n = l->n;
}

/*
 * The package trees the steps filled must still be directories of the
 * workspace (a step may have replaced one with a link to anywhere): the
 * apk writer walks them without following links below them.
 */
static int check_trees(struct build *b, char *const *trees, size_t ntrees)
{
	for (size_t i = 0; i < ntrees; i++) {
		int fd, err = rpl_ws_open(b->wsfd, trees[i], O_RDONLY | O_DIRECTORY, &fd);
		if (err)
			return rpl_error(err, "%s %s: refused", trees[i],
			                 err == -ELOOP     ? "is (or goes through) a symbolic link"
			                 : err == -ENOTDIR ? "is not a directory"
			                 : err == -ENOENT  ? "was removed"
			                                   : strerror(-err));
		close(fd);
	}
	return 0;
}

/* The fetch and git-checkout steps of a pipeline, as the SBOM records their sources. */
static struct rpl_sbom_source *sources_of(const struct rpl_cstep *steps, size_t n, size_t *count)
{
	struct rpl_sbom_source *v = rpl_xcalloc(n + 1, sizeof(*v));

	*count = 0;
	for (size_t i = 0; i < n; i++) {
		const struct rpl_cstep *st = &steps[i];
		struct rpl_sbom_source *x;
		if (st->skipped || !st->uses ||
		    (strcmp(st->uses, "fetch") && strcmp(st->uses, "git-checkout")))
			continue;
		x = &v[(*count)++];
		x->git = !strcmp(st->uses, "git-checkout");
		x->uri = kv_get(&st->with, "uri");
		x->sha256 = kv_get(&st->with, "expected-sha256");
		x->sha512 = kv_get(&st->with, "expected-sha512");
		x->purl_name = kv_get(&st->with, "purl-name");
		x->purl_version = kv_get(&st->with, "purl-version");
		x->repository = kv_get(&st->with, "repository");
		x->branch = kv_get(&st->with, "branch");
		x->tag = kv_get(&st->with, "tag");
		x->expected_commit = kv_get(&st->with, "expected-commit");
		x->type_hint = kv_get(&st->with, "type-hint");
		x->index = i;
	}
	return v;
}

/* The most of a `license-path` file the SBOM takes in. */
#define MAX_LICENSE_TEXT ((size_t)1 << 20)

/*
 * The text of the copyright entry's `license-path`, a path in the workspace
 * (relative to it, or under /home/build) as melange reads it after the
 * build, through no link.  Returns 0 with the text in *out, or an error.
 */
static int license_text(struct build *b, const struct rpl_copyright *c, char **out)
{
	struct rpl_strbuf t = RPL_STRBUF_INIT;
	char *rel = NULL, buf[65536];
	int fd = -1, err;
	ssize_t n;

	*out = NULL;
	if ((err = rpl_ws_relpath(RPL_WORKSPACE, c->license_path.s, &rel)))
		return rpl_error(err, "%s:%u:%u: license-path: %s", b->o->file, c->line, c->col,
		                 rpl_errmsg());
	if ((err = rpl_ws_open(b->wsfd, rel, O_RDONLY | O_CLOEXEC, &fd))) {
		err = rpl_error(err, "%s:%u:%u: license-path '%s': cannot read it: %s", b->o->file,
		                c->line, c->col, c->license_path.s,
		                err == -ELOOP ? "it goes through a symbolic link" : strerror(-err));
		goto out;
	}
	while ((n = read(fd, buf, sizeof(buf))) > 0 && t.len + (size_t)n <= MAX_LICENSE_TEXT)
		rpl_strbuf_add(&t, buf, (size_t)n);
	if (n != 0) {
		err = rpl_error(n < 0 ? -errno : -RPL_EPARSE, "%s:%u:%u: license-path '%s': %s",
		                b->o->file, c->line, c->col, c->license_path.s,
		                n < 0 ? strerror(errno) : "larger than 1 MiB");
		goto out;
	}
	*out = rpl_strbuf_detach(&t);
out:
	if (fd >= 0)
		close(fd);
	free(rel);
	rpl_strbuf_release(&t);
	return err;
}

/*
 * Writes the package's SBOM into its tree, as melange does before it makes
 * the apk: melange-out/<name>/var/lib/db/sbom/<name>-<version>.spdx.json,
 * replacing what a step may have put there (never through a link).
 */
static int write_sbom(struct build *b, const char *name, const char *commit)
{
	const struct rpl_package *p = &b->r->package;
	struct rpl_strbuf dir = RPL_STRBUF_INIT, file = RPL_STRBUF_INIT, lic = RPL_STRBUF_INIT,
	                  copy = RPL_STRBUF_INIT;
	struct rpl_sbom_apk a;
	struct rpl_sbom_source *upstream = NULL, *own = NULL;
	char *doc = NULL, **ids = rpl_xcalloc(p->ncopyright + 1, sizeof(char *)),
	     **texts = rpl_xcalloc(p->ncopyright + 1, sizeof(char *));
	size_t ninfos = 0;
	int fd = -1, out = -1, err = 0;

	for (size_t i = 0; i < p->ncopyright; i++) {
		if (lic.len)
			rpl_strbuf_addstr(&lic, " AND ");
		rpl_strbuf_addstr(&lic, p->copyright[i].license.s);
		if (*p->copyright[i].attestation.s)
			rpl_strbuf_addf(&copy, "%s\n", p->copyright[i].attestation.s);
	}
	memset(&a, 0, sizeof(a));
	a.name = name;
	a.version = b->version;
	a.arch = b->o->arch;
	a.namespace = b->o->namespace && *b->o->namespace ? b->o->namespace : "unknown";
	a.license = lic.buf;
	a.copyright = copy.buf;
	a.config = b->prov.path ? b->prov.path : b->o->file;
	a.commit = commit;
	a.repo_url = b->prov.repo_url;
	a.created = b->sde;
	a.main = upstream = sources_of(b->c.steps, b->c.nsteps, &a.nmain);
	for (size_t i = 0; i < b->c.nsubs && !own; i++)
		if (!strcmp(b->c.subs[i].name, name))
			own = sources_of(b->c.subs[i].steps, b->c.subs[i].nsteps, &a.nown);
	a.own = own;
	/* license-path files by their license, a later entry over an earlier one. */
	for (size_t i = 0; i < p->ncopyright && !err; i++) {
		const struct rpl_copyright *c = &p->copyright[i];
		char *text;
		size_t at = ninfos;
		if (!*c->license_path.s)
			continue;
		if ((err = license_text(b, c, &text)))
			break;
		for (size_t k = 0; k < ninfos; k++)
			if (!strcmp(ids[k], c->license.s))
				at = k;
		if (at == ninfos)
			ids[ninfos++] = (char *)c->license.s;
		else
			free(texts[at]);
		texts[at] = text;
	}
	if (err)
		goto out;
	a.license_ids = ids;
	a.license_texts = texts;
	a.nlicense_infos = ninfos;
	doc = rpl_sbom_apk(&a);
	rpl_strbuf_addf(&dir, "melange-out/%s/var/lib/db/sbom", name);
	rpl_strbuf_addf(&file, "%s-%s.spdx.json", name, b->version);
	if ((err = rpl_ws_mkdirs(b->wsfd, dir.buf, &fd)))
		goto out;
	if (unlinkat(fd, file.buf, 0) < 0 && errno != ENOENT) {
		err = rpl_error(-errno, "cannot replace %s/%s: %s", dir.buf, file.buf,
		                strerror(errno));
		goto out;
	}
	errno = 0;
	out = openat(fd, file.buf, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (out < 0 || write(out, doc, strlen(doc)) != (ssize_t)strlen(doc))
		err = rpl_error(-(errno ? errno : EIO), "cannot write %s/%s: %s", dir.buf, file.buf,
		                strerror(errno ? errno : EIO));
out:
	if (out >= 0)
		close(out);
	if (fd >= 0)
		close(fd);
	free(doc);
	free(upstream);
	free(own);
	for (size_t i = 0; i < ninfos; i++)
		free(texts[i]);
	free(texts);
	free(ids);
	rpl_strbuf_release(&dir);
	rpl_strbuf_release(&file);
	rpl_strbuf_release(&lic);
	rpl_strbuf_release(&copy);
	return err;
}

/* Writes the apk of one (sub)package; `commit` is what its .PKGINFO records. */
static int package(struct build *b, const char *name, const char *desc, const char *commit,
                   const struct rpl_dependencies *deps, const struct rpl_pkg_options *opts,
                   const struct rpl_scriptlets *sc, char *const *trees, size_t ntrees,
                   const struct rpl_signer *key)
{
	const struct rpl_package *p = &b->r->package;
	struct rpl_apk_meta m;
	char **licenses = rpl_xmalloc((p->ncopyright ? p->ncopyright : 1) * sizeof(char *));
	char *dir = rpl_path_join(b->work, "melange-out"), *tree = rpl_path_join(dir, name),
	     **abs_trees = rpl_xmalloc((ntrees ? ntrees : 1) * sizeof(*abs_trees));
	struct rpl_strbuf path = RPL_STRBUF_INIT, log = RPL_STRBUF_INIT, odir = RPL_STRBUF_INIT;
	int err;

	memset(&m, 0, sizeof(m));
	m.name = name;
	m.version = b->version;
	m.arch = b->o->arch;
	m.origin = p->name.s;
	m.description = desc;
	m.url = p->url.s;
	m.commit = commit;
	m.maintainer = b->o->namespace && *b->o->namespace ? b->o->namespace : "unknown";
	m.melange_yaml = b->melange_yaml;
	m.melange_yaml_len = b->melange_yaml_len;
	for (size_t i = 0; i < p->ncopyright; i++)
		licenses[m.nlicenses++] = (char *)p->copyright[i].license.s;
	m.licenses = licenses;
	text_list(&deps->runtime, (char ***)&m.depends, &m.ndepends);
	text_list(&deps->provides, (char ***)&m.provides, &m.nprovides);
	text_list(&deps->replaces, (char ***)&m.replaces, &m.nreplaces);
	m.provider_priority = deps->provider_priority.s;
	m.replaces_priority = deps->replaces_priority.s;
	m.source_date_epoch = b->sde;
	m.no_commands = opts->no_commands;
	m.no_depends = opts->no_depends;
	m.no_provides = opts->no_provides;
	m.pre_install = sc->pre_install.s;
	m.post_install = sc->post_install.s;
	m.pre_deinstall = sc->pre_deinstall.s;
	m.post_deinstall = sc->post_deinstall.s;
	m.pre_upgrade = sc->pre_upgrade.s;
	m.post_upgrade = sc->post_upgrade.s;
	m.trigger = sc->trigger_script.s;
	text_list(&sc->trigger_paths, (char ***)&m.triggers, &m.ntriggers);
	rpl_strbuf_addf(&odir, "%s/%s", b->o->out_dir, b->o->arch);
	rpl_strbuf_addf(&path, "%s/%s-%s.apk", odir.buf, name, b->version);
	if (!(err = write_sbom(b, name, commit)) && !(err = rpl_mkdirs(odir.buf))) {
		for (size_t i = 0; i < ntrees; i++)
			abs_trees[i] = rpl_path_join(b->work, trees[i]);
		err = rpl_apk_write(tree, abs_trees, ntrees, &m, key, path.buf, &log);
		for (size_t i = 0; i < ntrees; i++)
			free(abs_trees[i]);
	}
	if (log.len)
		printf("ripple: %s", log.buf);
	if (!err) {
		struct built_apk *w;
		rpl_say("wrote %s", path.buf);
		b->built = rpl_xrealloc(b->built, (b->nbuilt + 1) * sizeof(*b->built));
		w = &b->built[b->nbuilt];
		if (!(err = rpl_apk_read(path.buf, &w->apk))) {
			w->path = rpl_xstrdup(path.buf);
			b->nbuilt++;
		}
	}
	free((void *)m.depends);
	free((void *)m.provides);
	free((void *)m.replaces);
	free((void *)m.triggers);
	free(licenses);
	free(abs_trees);
	free(dir);
	free(tree);
	rpl_strbuf_release(&path);
	rpl_strbuf_release(&log);
	rpl_strbuf_release(&odir);
	return err;
}

/* Whether `need` (a name, `so:...`, `cmd:...`, maybe with a version) is `name` or in `provides`. */
static int satisfies(const char *name, char *const *provides, size_t nprovides, const char *need)
{
	size_t n = name_len(need);

	if (strlen(name) == n && !strncmp(name, need, n))
		return 1;
	for (size_t k = 0; k < nprovides; k++)
		if (name_len(provides[k]) == n && !strncmp(provides[k], need, n))
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
static int run_test(struct build *b, const struct rpl_ctest *t)
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
			seen = name_len(queue[i]) == name_len(need) &&
			       !strncmp(queue[i], need, name_len(need));
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
		if (!path && idx.npkgs && (p = providing(&idx, need))) {
			rpl_strbuf_addf(&ip, "%s/%s/%s-%s.apk", b->o->out_dir, b->o->arch, p->name,
			                p->version);
			path = ip.buf;
			depends = (char *const *)p->depends;
			ndepends = p->ndepends;
		}
		if (!path) {
			rpl_strbuf_addf(&host, " %.*s", (int)name_len(need), need);
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
	if ((err = fresh_dir(b, tw.buf, &twfd)) || (err = rpl_ws_remove_path(td.buf)) ||
	    (err = rpl_mkdirs(td.buf)))
		goto out;
	for (size_t i = 0; i < napks && !err; i++) {
		const char *base = strrchr(apks[i], '/');
		err = unpack_apk(b, apks[i], td.buf);
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
	if (!(err = bind_deps(b, td.buf))) {
		b->env = t->environment; /* a test has its own variables, not the build's */
		err = run_steps(b, t->steps, t->nsteps, RPL_WORKSPACE, NULL);
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

/* The sandbox gets the arch's sysroot and the interpreter to bind, if any (runners/emulate.h). */
static int use_emulation(struct build *b)
{
	const struct rpl_emulation *e = &b->emu;

	if (*e->sysroot) {
		b->sb.sysroot = e->sysroot;
		b->sb.sysroot_fd = open(e->sysroot, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (b->sb.sysroot_fd < 0)
			return rpl_error(-errno, "cannot open the sysroot '%s': %s", e->sysroot,
			                 strerror(errno));
	}
	if (*e->bind_interpreter)
		b->sb.bind_file = e->bind_interpreter;
	if (e->emulated)
		rpl_say("%s programs run under emulation (binfmt_misc %s: %s%s), in the sysroot %s",
		        b->o->arch, e->binfmt.name, e->binfmt.interpreter,
		        *e->bind_interpreter ? ", bound into the sandbox" : "", e->sysroot);
	else if (*e->sysroot)
		rpl_say("the steps run in the sysroot %s", e->sysroot);
	return 0;
}

int rpl_native_build(const struct rpl_native_opts *o)
{
	struct build b;
	struct rpl_signer key;
	int have_key = 0, have_sb = 0, err;
	char *text = NULL, *src = NULL, **trees = NULL;
	size_t len, ntrees = 0;
	const char *env_sde = getenv("SOURCE_DATE_EPOCH"), *commit;

	memset(&b, 0, sizeof(b));
	b.o = o;
	b.wsfd = -1;
	if ((err = rpl_emulate_check(o->arch, o->sysroot, o->sysroot_origin, &b.emu)))
		return rpl_error(err, "cannot build for %s on this %s machine: %s", o->arch,
		                 rpl_host_arch(), rpl_errmsg());
	if ((err = rpl_pipeline_lib_init(&b.lib, ".", (const char *const *)o->pipeline_dirs,
	                                 o->npipeline_dirs)))
		return rpl_error(err, "cannot read the pipelines: %s", rpl_errmsg());
	b.have_lib = 1;
	if ((err = rpl_read_file(o->file, &text, &len)))
		goto out;
	if (!(b.r = rpl_recipe_parse(o->file, text, len))) {
		err = -RPL_ESCHEMA;
		goto out;
	}
	if ((err = rpl_compile(b.r, &b.lib, o->arch, RPL_COMPILE_STEPS, &b.c))) {
		rpl_compiled_release(&b.c);
		goto out;
	}
	b.have_compiled = 1;
	{
		struct rpl_strbuf v = RPL_STRBUF_INIT;
		rpl_strbuf_addf(&v, "%s-r%llu", b.r->package.version.s,
		                (unsigned long long)b.r->package.epoch);
		b.version = rpl_strbuf_detach(&v);
	}
	b.sde = o->source_date_epoch >= 0 ? o->source_date_epoch
	        : env_sde && *env_sde     ? strtoll(env_sde, NULL, 10)
	                                  : last_commit_time(o->file);
	{
		struct rpl_strbuf w = RPL_STRBUF_INIT, c = RPL_STRBUF_INIT;
		char cwd[PATH_MAX];
		if (!getcwd(cwd, sizeof(cwd))) {
			err = rpl_error(-errno, "cannot tell the current directory");
			goto out;
		}
		rpl_strbuf_addf(&w, "%s/%s/work/%s/%s", cwd, o->state_dir, o->arch,
		                b.r->package.name.s);
		rpl_strbuf_addf(&c, "%s/cache", o->state_dir);
		b.work = rpl_strbuf_detach(&w);
		b.cache = rpl_strbuf_detach(&c);
	}
	rpl_say("building %s-%s for %s (SOURCE_DATE_EPOCH=%lld) in %s", b.r->package.name.s,
	        b.version, o->arch, (long long)b.sde, b.work);
	if ((err = fresh_dir(&b, b.work, &b.wsfd)))
		goto out;
	rpl_sandbox_init(&b.sb, b.wsfd, b.work);
	have_sb = 1;
	if ((err = use_emulation(&b)))
		goto out;
	/* What no step may see, even where it lies under a directory the sandbox binds. */
	{
		char cwd[PATH_MAX];
		if (getcwd(cwd, sizeof(cwd)))
			rpl_sandbox_hide(&b.sb, cwd);
		rpl_sandbox_hide(&b.sb, o->signing_key);
		rpl_sandbox_hide(&b.sb, o->out_dir);
		rpl_sandbox_hide(&b.sb, o->state_dir);
	}
	/* The source dir's files are the workspace's to start with. */
	if ((err = source_dir(&b, &src)) || (src && (err = copy_tree(src, b.wsfd))))
		goto out;
	/* The commit the packages record: the recipe's own, else its repository's HEAD. */
	rpl_provenance_get(o->file, src ? &src : NULL, src ? 1 : 0, &b.prov);
	if (b.prov.dirty && *b.prov.commit)
		rpl_say("%s has uncommitted changes: the packages record HEAD %s, which does not "
		        "hold them",
		        o->file, b.prov.commit);
	/* An output tree per package built. */
	trees = rpl_xmalloc((b.c.nsubs + 1) * sizeof(*trees));
	for (size_t i = 0; i <= b.c.nsubs; i++) {
		const char *name = i ? b.c.subs[i - 1].name : b.r->package.name.s;
		struct rpl_strbuf t = RPL_STRBUF_INIT;
		int fd;
		if (i && !b.c.subs[i - 1].enabled)
			continue;
		rpl_strbuf_addf(&t, "melange-out/%s", name);
		trees[ntrees++] = rpl_strbuf_detach(&t);
		if ((err = rpl_ws_mkdirs(b.wsfd, trees[ntrees - 1], &fd)))
			goto out;
		close(fd);
	}
	if ((err = rpl_sandbox_own(&b.sb, b.wsfd)))
		goto out;
	if ((err = install_deps(&b)))
		goto out;
	if ((err = run_steps(&b, b.c.steps, b.c.nsteps, RPL_WORKSPACE, NULL)))
		goto out;
	for (size_t i = 0; i < b.c.nsubs && !err; i++)
		if (b.c.subs[i].enabled) {
			rpl_say("subpackage %s", b.c.subs[i].name);
			err = run_steps(&b, b.c.subs[i].steps, b.c.subs[i].nsteps, RPL_WORKSPACE,
			                NULL);
		}
	if (err || (err = check_trees(&b, trees, ntrees)))
		goto out;
	commit = *b.r->package.commit.s ? b.r->package.commit.s : b.prov.commit;
	if (b.nenv_pkgs)
		qsort(b.env_pkgs, b.nenv_pkgs, sizeof(*b.env_pkgs), cmp_cstr);
	if ((err = rpl_melange_yaml(b.r, &b.c, commit, b.env_pkgs, b.nenv_pkgs, &b.melange_yaml,
	                            &b.melange_yaml_len)))
		goto out;
	if (o->signing_key) {
		if ((err = rpl_signer_load(&key, o->signing_key)))
			goto out;
		have_key = 1;
	}
	err = package(&b, b.r->package.name.s, b.r->package.description.s, commit,
	              &b.r->package.dependencies, &b.r->package.options, &b.r->package.scriptlets,
	              trees, ntrees, have_key ? &key : NULL);
	for (size_t i = 0; i < b.r->nsubpackages && !err; i++) {
		const struct rpl_subpackage *sp = &b.r->subpackages[i];
		int enabled = 0;
		for (size_t k = 0; k < b.c.nsubs; k++)
			if (!strcmp(b.c.subs[k].name, sp->name.s))
				enabled = b.c.subs[k].enabled;
		if (enabled)
			err = package(&b, sp->name.s,
			              *sp->description.s ? sp->description.s
			                                 : b.r->package.description.s,
			              *sp->commit.s ? sp->commit.s : commit, &sp->dependencies,
			              &sp->options, &sp->scriptlets, trees, ntrees,
			              have_key ? &key : NULL);
	}
	/* --test: each test of a package written here, as melange test would. */
	for (size_t i = 0; o->test && !err && i < b.c.ntests; i++) {
		const struct rpl_ctest *t = &b.c.tests[i];
		int written = 0;
		for (size_t k = 0; k < b.nbuilt; k++)
			written |= !strcmp(b.built[k].apk.pkgname,
			                   t->sub ? t->sub : b.r->package.name.s);
		if (written)
			err = run_test(&b, t);
	}
out:
	for (size_t i = 0; i < b.nbuilt; i++) {
		rpl_apk_release(&b.built[i].apk);
		free(b.built[i].path);
	}
	free(b.built);
	rpl_provenance_release(&b.prov);
	for (size_t i = 0; i < b.nenv_pkgs; i++)
		free(b.env_pkgs[i]);
	free(b.env_pkgs);
	free(b.melange_yaml);
	if (have_key)
		rpl_signer_release(&key);
	for (size_t i = 0; i < ntrees; i++)
		free(trees[i]);
	free(trees);
	free(src);
	free(text);
	free(b.version);
	free(b.work);
	free(b.deps);
	free(b.cache);
	if (have_sb) {
		if (b.sb.deps_fd >= 0)
			close(b.sb.deps_fd);
		free((char *)b.sb.deps_path);
		if (b.sb.sysroot_fd >= 0)
			close(b.sb.sysroot_fd);
		rpl_sandbox_release(&b.sb);
	}
	if (b.wsfd >= 0)
		close(b.wsfd);
	if (b.have_compiled)
		rpl_compiled_release(&b.c);
	rpl_recipe_free(b.r);
	if (b.have_lib)
		rpl_pipeline_lib_release(&b.lib);
	return err;
}
