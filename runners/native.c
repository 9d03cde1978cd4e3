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
#include "runners/apkwrite.h"
#include "runners/repo.h"
#include "runners/runner.h"

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

#define WORKSPACE "/home/build"

struct build {
	const struct rpl_native_opts *o;
	struct rpl_recipe *r;
	struct rpl_compiled c;
	struct rpl_pipeline_lib lib;
	int have_lib, have_compiled;
	char *work, *deps, *cache;
	char *version;
	int64_t sde;
	int nfetch;
	/* The variables the steps get: the recipe's, or a test's while it runs. */
	const struct rpl_kvlist *env;
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

/* The host path of a path in the sandbox's workspace; NULL outside it. */
static char *host_path(const struct build *b, const char *in, const char *rel)
{
	struct rpl_strbuf p = RPL_STRBUF_INIT;
	size_t n = strlen(WORKSPACE);

	if (in[0] != '/')
		rpl_strbuf_addf(&p, "%s/%s", WORKSPACE, in);
	else
		rpl_strbuf_addstr(&p, in);
	if (rel && *rel && strcmp(rel, "."))
		rpl_strbuf_addf(&p, "%s%s", rel[0] == '/' ? "" : "/", rel);
	if (rel && rel[0] == '/') {
		rpl_strbuf_reset(&p);
		rpl_strbuf_addstr(&p, rel);
	}
	if (strncmp(p.buf, WORKSPACE, n) || (p.buf[n] && p.buf[n] != '/') ||
	    strstr(p.buf, "/../")) {
		rpl_strbuf_release(&p);
		return NULL;
	}
	{
		char *out = rpl_xmalloc(strlen(b->work) + p.len + 1);
		sprintf(out, "%s%s", b->work, p.buf + n);
		rpl_strbuf_release(&p);
		return out;
	}
}

/* ---- removing and copying trees -------------------------------------------------------- */

static int remove_tree(const char *path)
{
	struct stat st;
	DIR *d;
	struct dirent *de;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISDIR(st.st_mode))
		return unlink(path) < 0 ? -errno : 0;
	if (!(d = opendir(path)))
		return -errno;
	while ((de = readdir(d))) {
		char *child;
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		child = rpl_path_join(path, de->d_name);
		remove_tree(child);
		free(child);
	}
	closedir(d);
	return rmdir(path) < 0 ? -errno : 0;
}

/* Copies one regular file, keeping its mode. */
static int copy_tree_file(const char *from, const char *to)
{
	char *text;
	size_t len;
	struct stat st;
	int fd, err = rpl_read_file(from, &text, &len);

	if (err)
		return err;
	fd = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	          stat(from, &st) == 0 ? st.st_mode & 07777 : 0644);
	if (fd < 0 || write(fd, text, len) != (ssize_t)len)
		err = rpl_error(-errno, "cannot write '%s': %s", to, strerror(errno));
	if (fd >= 0)
		close(fd);
	free(text);
	return err;
}

/* Copies the tree `from` into `to` (created), keeping modes and links. */
static int copy_tree(const char *from, const char *to)
{
	DIR *d = opendir(from);
	struct dirent *de;
	int err = 0;

	if (!d)
		return rpl_error(-errno, "cannot read '%s': %s", from, strerror(errno));
	if ((err = rpl_mkdirs(to))) {
		closedir(d);
		return err;
	}
	while (!err && (de = readdir(d))) {
		char *src, *dst;
		struct stat st;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		src = rpl_path_join(from, de->d_name);
		dst = rpl_path_join(to, de->d_name);
		if (lstat(src, &st) < 0) {
			err = rpl_error(-errno, "cannot stat '%s'", src);
		} else if (S_ISDIR(st.st_mode)) {
			err = copy_tree(src, dst);
		} else if (S_ISLNK(st.st_mode)) {
			char target[PATH_MAX];
			ssize_t n = readlink(src, target, sizeof(target) - 1);
			if (n < 0 || (target[n] = '\0', symlink(target, dst) < 0))
				err = rpl_error(-errno, "cannot copy the link '%s'", src);
		} else if (S_ISREG(st.st_mode)) {
			err = copy_tree_file(src, dst);
		}
		free(src);
		free(dst);
	}
	closedir(d);
	return err;
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
	if (write(d->fd, p, len) != (ssize_t)len) {
		d->err = -errno;
		return 0;
	}
	return len;
}

static void hex(const unsigned char *d, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", d[i]);
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
	hex(d, dl, out);
	close(fd);
	EVP_MD_CTX_free(ctx);
	return n < 0 ? -errno : 0;
}

int rpl_fetch_cached(const char *cache_dir, const char *uri, const char *sha256, const char *sha512,
                     char **path)
{
	const EVP_MD *md = sha256 && *sha256   ? EVP_sha256()
	                   : sha512 && *sha512 ? EVP_sha512()
	                                       : NULL;
	const char *want = sha256 && *sha256 ? sha256 : sha512;
	struct rpl_strbuf key = RPL_STRBUF_INIT, tmp = RPL_STRBUF_INIT;
	struct download d = { -1, NULL, 0 };
	char errbuf[CURL_ERROR_SIZE] = "", got[EVP_MAX_MD_SIZE * 2 + 1];
	unsigned char dg[EVP_MAX_MD_SIZE];
	unsigned int dl = 0;
	CURL *c = NULL;
	CURLcode rc;
	int err;

	*path = NULL;
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
	curl_global_init(CURL_GLOBAL_DEFAULT);
	c = curl_easy_init();
	curl_easy_setopt(c, CURLOPT_URL, uri);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(c, CURLOPT_FAILONERROR, 1L);
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(c, CURLOPT_MAXREDIRS, 10L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 30L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "ripple");
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https,ftp,file");
#endif
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &d);
	rc = curl_easy_perform(c);
	if (rc != CURLE_OK || d.err) {
		err = rpl_error(-RPL_ELIB, "cannot fetch %s: %s", uri,
		                *errbuf ? errbuf : curl_easy_strerror(rc));
		goto out;
	}
	EVP_DigestFinal_ex(d.md, dg, &dl);
	hex(dg, dl, got);
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
	if (c)
		curl_easy_cleanup(c);
	rpl_strbuf_release(&key);
	rpl_strbuf_release(&tmp);
	return err;
}

/* Whether an archive's entry name stays inside where it is unpacked. */
static int safe_name(const char *name)
{
	if (!name || name[0] == '/')
		return 0;
	for (const char *p = name; p; p = strchr(p, '/') ? strchr(p, '/') + 1 : NULL)
		if (p[0] == '.' && p[1] == '.' && (p[2] == '/' || !p[2]))
			return 0;
	return 1;
}

/* Unpacks an archive (any format and compression libarchive reads) into `dest`. */
static int extract(const char *archive_path, const char *dest, int strip)
{
	struct archive *a = archive_read_new(), *w = archive_write_disk_new();
	struct archive_entry *e;
	int err = 0, rc;

	archive_read_support_filter_all(a);
	archive_read_support_format_all(a);
	/* Entry names are checked here (safe_name); the destination is absolute. */
	archive_write_disk_set_options(w, ARCHIVE_EXTRACT_TIME | ARCHIVE_EXTRACT_PERM |
	                                          ARCHIVE_EXTRACT_SECURE_NODOTDOT |
	                                          ARCHIVE_EXTRACT_SECURE_SYMLINKS);
	if ((err = rpl_mkdirs(dest)))
		goto out;
	if (archive_read_open_filename(a, archive_path, 65536) != ARCHIVE_OK) {
		err = rpl_error(-RPL_EPARSE, "cannot unpack '%s': %s", archive_path,
		                archive_error_string(a));
		goto out;
	}
	while ((rc = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
		const char *name = archive_entry_pathname(e), *link = archive_entry_hardlink(e);
		struct rpl_strbuf p = RPL_STRBUF_INIT;
		int skip = 0;

		for (int i = 0; i < strip && name && !skip; i++) {
			const char *s = strchr(name, '/');
			skip = !s || !s[1];
			name = s ? s + 1 : name;
		}
		if (skip || !name || !*name)
			continue;
		if (!safe_name(name) || (link && !safe_name(link))) {
			err = rpl_error(-RPL_EPARSE, "'%s' has an entry outside its directory: %s",
			                archive_path, name);
			break;
		}
		rpl_strbuf_addf(&p, "%s/%s", dest, name);
		archive_entry_set_pathname(e, p.buf);
		if (link) {
			const char *l = link;
			for (int i = 0; i < strip && l; i++)
				l = strchr(l, '/') ? strchr(l, '/') + 1 : NULL;
			rpl_strbuf_reset(&p);
			rpl_strbuf_addf(&p, "%s/%s", dest, l ? l : "");
			archive_entry_set_hardlink(e, p.buf);
		}
		rpl_strbuf_release(&p);
		if (archive_write_header(w, e) != ARCHIVE_OK) {
			err = rpl_error(-RPL_EPARSE, "cannot unpack '%s': %s", archive_path,
			                archive_error_string(w));
			break;
		}
		if (archive_entry_size(e) > 0) {
			const void *buf;
			size_t len;
			la_int64_t off;
			while ((rc = archive_read_data_block(a, &buf, &len, &off)) == ARCHIVE_OK)
				if (archive_write_data_block(w, buf, len, off) != ARCHIVE_OK)
					break;
		}
		archive_write_finish_entry(w);
	}
	if (!err && rc != ARCHIVE_EOF && rc != ARCHIVE_OK)
		err = rpl_error(-RPL_EPARSE, "cannot unpack '%s': %s", archive_path,
		                archive_error_string(a));
out:
	archive_read_free(a);
	archive_write_free(w);
	return err;
}

/*
 * A uri under a configured mirror prefix is fetched from the mirror first (a
 * directory relative to the monorepo root, as a file:// URL, or a URL); when
 * the mirror does not have it, from the uri itself.  The digest is checked
 * either way.
 */
static int fetch_mirrored(struct build *b, const char *uri, const char *sha256, const char *sha512,
                          char **cached)
{
	for (size_t i = 0; i < b->o->nmirrors; i++) {
		const char *from = b->o->mirror_from[i], *to = b->o->mirror_to[i];
		size_t n = strlen(from);
		struct rpl_strbuf m = RPL_STRBUF_INIT;
		int err;

		if (!n || strncmp(uri, from, n))
			continue;
		if (strstr(to, "://")) {
			rpl_strbuf_addf(&m, "%s%s", to, uri + n);
		} else {
			char cwd[4096];
			if (!getcwd(cwd, sizeof(cwd)))
				return rpl_error(-errno, "fetch: cannot know the cwd: %s",
				                 strerror(errno));
			rpl_strbuf_addf(&m, "file://%s%s%s%s%s", to[0] == '/' ? "" : cwd,
			                to[0] == '/' ? "" : "/", to,
			                n && to[strlen(to) - 1] != '/' && uri[n] != '/' ? "/" : "",
			                uri + n);
		}
		err = rpl_fetch_cached(b->cache, m.buf, sha256, sha512, cached);
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
	return rpl_fetch_cached(b->cache, uri, sha256, sha512, cached);
}

static int do_fetch(struct build *b, const struct rpl_cstep *s, const char *wd)
{
	const char *uri = kv_get(&s->with, "uri"), *sha256 = kv_get(&s->with, "expected-sha256"),
	           *sha512 = kv_get(&s->with, "expected-sha512"),
	           *none = kv_get(&s->with, "expected-none");
	const char *dir = kv_get(&s->with, "directory"),
	           *strip = kv_get(&s->with, "strip-components");
	const char *base;
	char *cached = NULL, *where = NULL, *file = NULL, *dest = NULL;
	int err;

	if (!uri || !*uri)
		return rpl_error(-RPL_EUSAGE, "fetch: no uri");
	if (!(sha256 && *sha256) && !(sha512 && *sha512) && !(none && *none))
		return rpl_error(-RPL_EUSAGE,
		                 "fetch %s: one of expected-sha256, expected-sha512 or "
		                 "expected-none must be set",
		                 uri);
	rpl_say("fetch %s", uri);
	if ((err = fetch_mirrored(b, uri, sha256, sha512, &cached)))
		return err;
	rpl_say("fetch: %s verified (%s)", uri,
	        sha256 && *sha256   ? "sha256"
	        : sha512 && *sha512 ? "sha512"
	                            : "unchecked");
	base = strrchr(uri, '/');
	base = base && base[1] ? base + 1 : "download";
	if (!(where = host_path(b, wd, NULL)) || !(dest = host_path(b, wd, dir ? dir : "."))) {
		err = rpl_error(-RPL_EUSAGE, "fetch: '%s' is outside %s", dir ? dir : wd,
		                WORKSPACE);
		goto out;
	}
	file = rpl_path_join(where, base);
	if ((err = rpl_mkdirs(where)) || (err = copy_tree_file(cached, file)))
		goto out;
	if (!kv_get(&s->with, "extract") || truthy(kv_get(&s->with, "extract")))
		err = extract(file, dest, strip ? atoi(strip) : 1);
	if (!err && truthy(kv_get(&s->with, "delete")))
		unlink(file);
out:
	free(cached);
	free(where);
	free(file);
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

/* Moves every entry of `from` into `to`. */
static int move_entries(const char *from, const char *to)
{
	DIR *d = opendir(from);
	struct dirent *de;
	int err = 0;

	if (!d)
		return rpl_error(-errno, "cannot read '%s'", from);
	if ((err = rpl_mkdirs(to))) {
		closedir(d);
		return err;
	}
	while (!err && (de = readdir(d))) {
		char *src, *dst;
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		src = rpl_path_join(from, de->d_name);
		dst = rpl_path_join(to, de->d_name);
		remove_tree(dst);
		if (rename(src, dst) < 0)
			err = rpl_error(-errno, "cannot move '%s': %s", src, strerror(errno));
		free(src);
		free(dst);
	}
	closedir(d);
	return err;
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
	char *tmp = NULL, *to = NULL, hexid[GIT_OID_HEXSZ + 1];
	int err = 0;

	if (!repo || !*repo)
		return rpl_error(-RPL_EUSAGE, "git-checkout: no repository");
	if (tag && *tag && branch && *branch)
		return rpl_error(-RPL_EUSAGE, "git-checkout: tag and branch are exclusive");
	rpl_say("git-checkout %s %s", repo, tag && *tag ? tag : branch && *branch ? branch : "");
	git_libgit2_init();
	tmp = rpl_path_join(b->work, ".ripple-git-checkout");
	remove_tree(tmp);
	if (branch && *branch)
		co.checkout_branch = branch;
	if (git_clone(&r, repo, tmp, &co) < 0) {
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
	if (!(to = host_path(b, wd, dest ? dest : "."))) {
		err = rpl_error(-RPL_EUSAGE, "git-checkout: '%s' is outside %s", dest, WORKSPACE);
		goto out;
	}
	err = move_entries(tmp, to);
out:
	git_commit_free(commit);
	git_object_free(obj);
	git_repository_free(r);
	if (tmp)
		remove_tree(tmp);
	free(tmp);
	free(to);
	git_libgit2_shutdown();
	return err;
}

/* ---- the sandbox -------------------------------------------------------------------------- */

static void setenv_arg(struct rpl_argv *a, const char *k, const char *v)
{
	rpl_argv_add(a, "--setenv");
	rpl_argv_add(a, k);
	rpl_argv_add(a, v);
}

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

/* Runs one step's script in the sandbox; returns 0 or an error. */
static int run_script(struct build *b, const struct rpl_cstep *s, const char *wd)
{
	struct rpl_argv a = { NULL, 0, 0 };
	struct rpl_strbuf script = RPL_STRBUF_INIT, sde = RPL_STRBUF_INIT;
	const struct rpl_kvlist *renv = b->env ? b->env : &b->r->environment.environment;
	pid_t pid;
	int status, err = 0;

	rpl_strbuf_addstr(&script,
	                  "set -e\n(set -o pipefail) 2>/dev/null && set -o pipefail\n[ -d ");
	quote(&script, wd);
	rpl_strbuf_addstr(&script, " ] || mkdir -p ");
	quote(&script, wd);
	rpl_strbuf_addstr(&script, "\ncd ");
	quote(&script, wd);
	rpl_strbuf_addf(&script, "\n%s\nexit 0\n", s->runs);
	rpl_strbuf_addf(&sde, "%lld", (long long)b->sde);

	rpl_argv_add(&a, "bwrap");
	rpl_argv_add(&a, "--ro-bind");
	rpl_argv_add(&a, "/");
	rpl_argv_add(&a, "/");
	rpl_argv_add(&a, "--tmpfs");
	rpl_argv_add(&a, "/home");
	rpl_argv_add(&a, "--bind");
	rpl_argv_add(&a, b->work);
	rpl_argv_add(&a, WORKSPACE);
	rpl_argv_add(&a, "--dev");
	rpl_argv_add(&a, "/dev");
	rpl_argv_add(&a, "--proc");
	rpl_argv_add(&a, "/proc");
	rpl_argv_add(&a, "--tmpfs");
	rpl_argv_add(&a, "/tmp");
	if (b->deps) {
		char *usr = rpl_path_join(b->deps, "usr");
		struct stat st;
		if (stat(usr, &st) == 0 && S_ISDIR(st.st_mode)) {
			rpl_argv_add(&a, "--ro-bind");
			rpl_argv_add(&a, usr);
			rpl_argv_add(&a, "/usr/local");
		}
		free(usr);
	}
	rpl_argv_add(&a, "--unshare-all"); /* no network, among the rest */
	rpl_argv_add(&a, "--die-with-parent");
	rpl_argv_add(&a, "--new-session");
	rpl_argv_add(&a, "--chdir");
	rpl_argv_add(&a, WORKSPACE);
	rpl_argv_add(&a, "--clearenv");
	setenv_arg(&a, "HOME", WORKSPACE);
	setenv_arg(&a, "SOURCE_DATE_EPOCH", sde.buf);
	/* Programs of local packages find their libraries, as they would at /usr/lib. */
	if (b->deps)
		setenv_arg(&a, "LD_LIBRARY_PATH", "/usr/local/lib");
	for (size_t i = 0; i < renv->n; i++)
		setenv_arg(&a, renv->v[i].key.s, renv->v[i].val.s);
	/* PATH beats the recipe's environment; only a step's own PATH changes it. */
	setenv_arg(&a, "PATH", "/usr/local/sbin:/usr/local/bin:/usr/bin:/usr/sbin:/sbin:/bin");
	for (size_t i = 0; i < s->environment.n; i++)
		setenv_arg(&a, s->environment.v[i].key.s, s->environment.v[i].val.s);
	rpl_argv_add(&a, "/bin/sh");
	rpl_argv_add(&a, "-c");
	rpl_argv_add(&a, script.buf);

	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0) {
		err = rpl_error(-errno, "cannot fork: %s", strerror(errno));
	} else if (pid == 0) {
		execvp(a.v[0], a.v);
		fprintf(stderr, "ripple: cannot run bwrap: %s\n", strerror(errno));
		_exit(127);
	} else {
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
		if (WIFSIGNALED(status))
			err = rpl_error(-RPL_ELIB, "the step was killed by signal %d",
			                WTERMSIG(status));
		else if (WEXITSTATUS(status) == 127)
			err = rpl_error(-RPL_ELIB,
			                "the step could not run (is bubblewrap installed?)");
		else if (WEXITSTATUS(status))
			err = rpl_error(-RPL_ELIB, "the step exited with status %d",
			                WEXITSTATUS(status));
	}
	rpl_argv_free(a.v);
	rpl_strbuf_release(&script);
	rpl_strbuf_release(&sde);
	return err;
}

/* A step and what it contains, in melange's order: its `runs`, then its children. */
static int run_steps(struct build *b, const struct rpl_cstep *steps, size_t n, const char *wd)
{
	int err = 0;

	for (size_t i = 0; i < n && !err; i++) {
		const struct rpl_cstep *s = &steps[i];
		const char *swd =
		        s->working_directory && *s->working_directory ? s->working_directory : wd;
		char *abs_wd = NULL;

		if (s->skipped)
			continue;
		if (swd[0] != '/') {
			abs_wd = rpl_path_join(wd, swd);
			swd = abs_wd;
		}
		if (s->uses && !strcmp(s->uses, "fetch")) {
			err = do_fetch(b, s, swd);
		} else if (s->uses && !strcmp(s->uses, "git-checkout")) {
			err = do_git_checkout(b, s, swd);
		} else {
			if (s->runs && *s->runs) {
				rpl_say("step %s", s->name && *s->name   ? s->name
				                   : s->uses && *s->uses ? s->uses
				                                         : "(runs)");
				err = run_script(b, s, swd);
				if (err)
					err = rpl_error(err, "%s: %s",
					                s->name   ? s->name
					                : s->uses ? s->uses
					                          : "a step",
					                rpl_errmsg());
			}
			if (!err)
				err = run_steps(b, s->steps, s->nsteps, swd);
		}
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
static int unpack_apk(const char *apk, const char *root)
{
	struct archive *a = archive_read_new(), *w = archive_write_disk_new();
	struct archive_entry *e;
	int err = 0, rc;

	archive_read_support_filter_gzip(a);
	archive_read_support_format_tar(a);
	archive_write_disk_set_options(w, ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_SECURE_NODOTDOT |
	                                          ARCHIVE_EXTRACT_SECURE_SYMLINKS);
	if (archive_read_open_filename(a, apk, 65536) != ARCHIVE_OK) {
		err = rpl_error(-RPL_EPARSE, "cannot read '%s': %s", apk, archive_error_string(a));
		goto out;
	}
	while ((rc = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
		const char *name = archive_entry_pathname(e);
		struct rpl_strbuf p = RPL_STRBUF_INIT;

		if (!name || name[0] == '.')
			continue; /* .SIGN.*, .PKGINFO, scriptlets */
		if (!safe_name(name)) {
			err = rpl_error(-RPL_EPARSE, "'%s' has an entry outside its root: %s", apk,
			                name);
			break;
		}
		rpl_strbuf_addf(&p, "%s/%s", root, name);
		archive_entry_set_pathname(e, p.buf);
		rpl_strbuf_release(&p);
		if (archive_write_header(w, e) == ARCHIVE_OK && archive_entry_size(e) > 0) {
			const void *buf;
			size_t len;
			la_int64_t off;
			while (archive_read_data_block(a, &buf, &len, &off) == ARCHIVE_OK)
				archive_write_data_block(w, buf, len, off);
		}
		archive_write_finish_entry(w);
	}
out:
	archive_read_free(a);
	archive_write_free(w);
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
			if (!strstr(host.buf ? host.buf : "", need))
				rpl_strbuf_addf(&host, " %.*s", (int)name_len(need), need);
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
		b->deps = rpl_xmalloc(strlen(b->work) + 8);
		sprintf(b->deps, "%s.deps", b->work);
		remove_tree(b->deps);
		rpl_mkdirs(b->deps);
	}
	for (size_t k = 0; k < ntodo && !err; k++) {
		struct rpl_strbuf apk = RPL_STRBUF_INIT;
		rpl_strbuf_addf(&apk, "%s/%s/%s-%s.apk", b->o->out_dir, b->o->arch, todo[k]->name,
		                todo[k]->version);
		err = unpack_apk(apk.buf, b->deps);
		rpl_strbuf_addf(&local, " %s-%s", todo[k]->name, todo[k]->version);
		rpl_strbuf_release(&apk);
	}
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

static void text_list(const struct rpl_textlist *l, char ***out, size_t *n)
{
	*out = rpl_xmalloc((l->n ? l->n : 1) * sizeof(**out));
	for (size_t i = 0; i < l->n; i++)
		(*out)[i] = (char *)l->v[i].s;
	*n = l->n;
}

/* Writes the apk of one (sub)package. */
static int package(struct build *b, const char *name, const char *desc,
                   const struct rpl_dependencies *deps, const struct rpl_pkg_options *opts,
                   const struct rpl_scriptlets *sc, char *const *trees, size_t ntrees,
                   const struct rpl_signer *key)
{
	const struct rpl_package *p = &b->r->package;
	struct rpl_apk_meta m;
	char **licenses = rpl_xmalloc((p->ncopyright ? p->ncopyright : 1) * sizeof(char *));
	char *dir = rpl_path_join(b->work, "melange-out"), *tree = rpl_path_join(dir, name);
	struct rpl_strbuf path = RPL_STRBUF_INIT, log = RPL_STRBUF_INIT, odir = RPL_STRBUF_INIT;
	int err;

	memset(&m, 0, sizeof(m));
	m.name = name;
	m.version = b->version;
	m.arch = b->o->arch;
	m.origin = p->name.s;
	m.description = desc;
	m.url = p->url.s;
	m.commit = p->commit.s;
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
	if (!(err = rpl_mkdirs(odir.buf)))
		err = rpl_apk_write(tree, trees, ntrees, &m, key, path.buf, &log);
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
	int err = 0;

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
	remove_tree(tw.buf);
	remove_tree(td.buf);
	if ((err = rpl_mkdirs(tw.buf)) || (err = rpl_mkdirs(td.buf)))
		goto out;
	for (size_t i = 0; i < napks && !err; i++) {
		const char *base = strrchr(apks[i], '/');
		err = unpack_apk(apks[i], td.buf);
		rpl_strbuf_addf(&used, " %s", base ? base + 1 : apks[i]);
	}
	if (err)
		goto out;
	rpl_say("test %s: installed in the sandbox (under /usr/local):%s", name, used.buf);
	if (host.len)
		rpl_say("test %s: needs taken from the host:%s", name, host.buf);
	b->work = tw.buf;
	b->deps = td.buf;
	b->env = t->environment; /* a test has its own variables, not the build's */
	err = run_steps(b, t->steps, t->nsteps, WORKSPACE);
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
	rpl_strbuf_release(&tw);
	rpl_strbuf_release(&td);
	rpl_strbuf_release(&host);
	rpl_strbuf_release(&used);
	if (loaded)
		rpl_apkindex_release(&idx);
	return err;
}

int rpl_native_build(const struct rpl_native_opts *o)
{
	struct build b;
	struct rpl_signer key;
	int have_key = 0, err;
	char *text = NULL, *src = NULL, **trees = NULL;
	size_t len, ntrees = 0;
	const char *env_sde = getenv("SOURCE_DATE_EPOCH");

	memset(&b, 0, sizeof(b));
	b.o = o;
	if (strcmp(o->arch, rpl_host_arch()))
		return rpl_error(
		        -RPL_EUSAGE,
		        "cannot build for %s on this %s machine: the native runner builds "
		        "for the host's architecture only (use melange, with qemu, for others)",
		        o->arch, rpl_host_arch());
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
	b.version = rpl_xmalloc(strlen(b.r->package.version.s) + 32);
	sprintf(b.version, "%s-r%llu", b.r->package.version.s,
	        (unsigned long long)b.r->package.epoch);
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
	remove_tree(b.work);
	if ((err = rpl_mkdirs(b.work)))
		goto out;
	/* The source dir's files are the workspace's to start with. */
	if (o->source_dir)
		src = rpl_xstrdup(o->source_dir);
	else if (strchr(o->file, '/'))
		src = rpl_path_dirname(o->file);
	else
		src = rpl_xstrdup(b.r->package.name.s);
	{
		struct stat st;
		if (stat(src, &st) == 0 && S_ISDIR(st.st_mode) && (err = copy_tree(src, b.work)))
			goto out;
	}
	/* An output tree per package built. */
	trees = rpl_xmalloc((b.c.nsubs + 1) * sizeof(*trees));
	for (size_t i = 0; i <= b.c.nsubs; i++) {
		const char *name = i ? b.c.subs[i - 1].name : b.r->package.name.s;
		struct rpl_strbuf t = RPL_STRBUF_INIT;
		if (i && !b.c.subs[i - 1].enabled)
			continue;
		rpl_strbuf_addf(&t, "%s/melange-out/%s", b.work, name);
		trees[ntrees++] = rpl_strbuf_detach(&t);
		if ((err = rpl_mkdirs(trees[ntrees - 1])))
			goto out;
	}
	if ((err = install_deps(&b)))
		goto out;
	if ((err = run_steps(&b, b.c.steps, b.c.nsteps, WORKSPACE)))
		goto out;
	for (size_t i = 0; i < b.c.nsubs && !err; i++)
		if (b.c.subs[i].enabled) {
			rpl_say("subpackage %s", b.c.subs[i].name);
			err = run_steps(&b, b.c.subs[i].steps, b.c.subs[i].nsteps, WORKSPACE);
		}
	if (err)
		goto out;
	if (o->signing_key) {
		if ((err = rpl_signer_load(&key, o->signing_key)))
			goto out;
		have_key = 1;
	}
	err = package(&b, b.r->package.name.s, b.r->package.description.s,
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
			              &sp->dependencies, &sp->options, &sp->scriptlets, trees,
			              ntrees, have_key ? &key : NULL);
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
	if (b.have_compiled)
		rpl_compiled_release(&b.c);
	rpl_recipe_free(b.r);
	if (b.have_lib)
		rpl_pipeline_lib_release(&b.lib);
	return err;
}
