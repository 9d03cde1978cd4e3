/*
 * fetch: a source's bytes from the network, a mirror URL or a mirror
 * directory, checked against the recipe's digest as they arrive and kept
 * in the cache by that digest; then copied into the workspace and, unless
 * told not to, unpacked there through a staging directory no step reaches.
 */
#include "runners/fetch.h"
#include "common/error.h"
#include "common/file.h"
#include "common/http.h"
#include "common/sha256.h"
#include "common/strbuf.h"
#include "common/xalloc.h"
#include "runners/build.h"
#include "runners/native.h"
#include "runners/workspace.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

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

/* Reads the local file `path` into `f` as a download would arrive. */
static int read_local(const char *path, struct rpl_hashed_file *f)
{
	char buf[65536];
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC), err = 0;

	if (fd < 0)
		return rpl_error(-errno, "cannot read '%s': %s", path, strerror(errno));
	while (!err && (n = read(fd, buf, sizeof(buf))) > 0)
		err = rpl_hashed_file_write(f, buf, (size_t)n);
	if (!err && n < 0)
		err = -errno;
	close(fd);
	return err ? rpl_error(err, "cannot copy '%s': %s", path, strerror(-err)) : 0;
}

/*
 * Downloads `uri` into `f`.  Sources come from the network: never from
 * the host's files, even by a redirect.  They have no size limit of their
 * own (what they unpack to has one); a stalled transfer fails.
 */
static int download(const char *uri, struct rpl_hashed_file *f)
{
	struct rpl_http_req req = {
		.url = uri,
		.schemes = "http,https,ftp",
		.follow = 1,
		.fail_status = 1,
		.sink = rpl_hashed_file_write,
		.sink_ud = f,
	};
	struct rpl_http_resp resp;
	int err = rpl_http_perform(&req, &resp);

	rpl_http_resp_release(&resp);
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
	struct rpl_strbuf key = RPL_STRBUF_INIT;
	struct rpl_hashed_file f = { -1, NULL, NULL };
	char got[EVP_MAX_MD_SIZE * 2 + 1];
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
	if ((err = rpl_hashed_file_open(&f, cache_dir, md == EVP_sha512())) ||
	    (err = local ? read_local(local, &f) : download(uri, &f)) ||
	    (err = rpl_hashed_file_finish(&f, got)))
		goto out;
	if (md && strcasecmp(got, want)) {
		/* Nothing is cached from a download that is not what was expected. */
		char *shown = rpl_http_redact(uri);
		err = rpl_error(-RPL_EPARSE, "%s: checksum mismatch: expected %s %s, got %s", shown,
		                md == EVP_sha256() ? "sha256" : "sha512", want, got);
		free(shown);
		goto out;
	}
	if (!md) {
		rpl_strbuf_reset(&key);
		rpl_strbuf_addf(&key, "%s/unverified-sha256:%s", cache_dir, got);
	}
	if (!(err = rpl_hashed_file_keep(&f, key.buf)))
		*path = rpl_strbuf_detach(&key);
out:
	rpl_hashed_file_release(&f);
	rpl_strbuf_release(&key);
	return err;
}

int rpl_fetch_cached(const char *cache_dir, const char *uri, const char *sha256, const char *sha512,
                     char **path)
{
	return fetch_cached(cache_dir, uri, NULL, sha256, sha512, path);
}

/* Whether a path has a ".." component. */
int rpl_fetch_has_dotdot(const char *p)
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
static int fetch_mirrored(struct rpl_build *b, const char *uri, const char *sha256,
                          const char *sha512, char **cached)
{
	for (size_t i = 0; i < b->o->nmirrors; i++) {
		const char *from = b->o->mirror_from[i], *to = b->o->mirror_to[i];
		size_t n = strlen(from);
		struct rpl_strbuf m = RPL_STRBUF_INIT;
		char *file = NULL;
		int err, missing = 0;

		if (!n || strncmp(uri, from, n))
			continue;
		if (rpl_fetch_has_dotdot(uri + n))
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
			char *shown = rpl_http_redact(m.buf);
			rpl_say("fetch: %s from the mirror %s", uri, shown);
			free(shown);
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
static int unpack_into(struct rpl_build *b, const char *archive, const char *uri, const char *rel,
                       int strip)
{
	struct rpl_strbuf stage = RPL_STRBUF_INIT;
	struct rpl_extract_opts eo = rpl_build_limits(b, strip, 0);

	eo.what = uri;
	int sfd = -1, dfd = -1, err;

	rpl_strbuf_addf(&stage, "%s.unpack", b->work);
	if (!(err = rpl_ws_fresh_dir(stage.buf, &sfd)) &&
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

int rpl_fetch_step(struct rpl_build *b, const struct rpl_cstep *s, const char *wd)
{
	const char *uri = rpl_build_with(&s->with, "uri"),
	           *sha256 = rpl_build_with(&s->with, "expected-sha256"),
	           *sha512 = rpl_build_with(&s->with, "expected-sha512"),
	           *none = rpl_build_with(&s->with, "expected-none");
	const char *dir = rpl_build_with(&s->with, "directory"),
	           *strip = rpl_build_with(&s->with, "strip-components");
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
	if (!rpl_build_with(&s->with, "extract") ||
	    rpl_build_truthy(rpl_build_with(&s->with, "extract")))
		err = unpack_into(b, cached, uri, dest, strip ? atoi(strip) : 1);
	if (!err && rpl_build_truthy(rpl_build_with(&s->with, "delete")) &&
	    unlinkat(wfd, base, 0) < 0)
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
