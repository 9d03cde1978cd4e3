#include "runners/apk.h"
#include "common/error.h"
#include "common/strbuf.h"
#include "common/xalloc.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

/* A control section is a few kilobytes; anything past this is not one. */
#define MAX_CONTROL (64u << 20)

/* ---- gzip members ---------------------------------------------------------------- */

/* Compressed bytes, from memory or read from a file in chunks. */
struct source {
	int fd; /* -1: memory */
	const unsigned char *p;
	size_t n; /* bytes at p not yet consumed */
	unsigned char buf[65536];
	uint64_t consumed; /* compressed bytes taken by next_member() */
	int err;
};

static int fill(struct source *s)
{
	ssize_t r;

	if (s->n || s->fd < 0)
		return 0;
	do
		r = read(s->fd, s->buf, sizeof(s->buf));
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return s->err = -errno;
	s->p = s->buf;
	s->n = (size_t)r;
	return 0;
}

/*
 * Inflates the next gzip member into `out`, feeding its compressed bytes to
 * `md` (when not NULL) and to `raw` (when not NULL).  Returns 1 for a
 * member, 0 at the end of the input, or an error.
 */
static int next_member(struct source *s, struct rpl_strbuf *out, size_t max_out, EVP_MD_CTX *md,
                       struct rpl_strbuf *raw)
{
	z_stream z;
	unsigned char chunk[65536];
	int rc = Z_OK, err = 0;

	if ((err = fill(s)))
		return err;
	if (!s->n)
		return 0;
	memset(&z, 0, sizeof(z));
	if (inflateInit2(&z, 15 + 16) != Z_OK)
		return rpl_error(-RPL_ELIB, "zlib: cannot start inflating");
	while (rc != Z_STREAM_END) {
		size_t used;

		if ((err = fill(s)))
			break;
		if (!s->n) {
			err = rpl_error(-RPL_EPARSE, "a gzip member is cut short");
			break;
		}
		z.next_in = (unsigned char *)s->p;
		z.avail_in = (uInt)(s->n > UINT32_MAX ? UINT32_MAX : s->n);
		do {
			z.next_out = chunk;
			z.avail_out = sizeof(chunk);
			rc = inflate(&z, Z_NO_FLUSH);
			if (rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR) {
				err = rpl_error(-RPL_EPARSE, "not gzip data (%s)",
				                z.msg ? z.msg : "zlib error");
				break;
			}
			rpl_strbuf_add(out, chunk, sizeof(chunk) - z.avail_out);
			if (out->len > max_out) {
				err = rpl_error(-RPL_EPARSE,
				                "a gzip member inflates past %zu bytes", max_out);
				break;
			}
		} while (rc != Z_STREAM_END && z.avail_in && !err);
		if (err)
			break;
		used = (size_t)(z.next_in - s->p);
		if (md)
			EVP_DigestUpdate(md, s->p, used);
		if (raw)
			rpl_strbuf_add(raw, s->p, used);
		s->p += used;
		s->n -= used;
		s->consumed += used;
		if (rc == Z_BUF_ERROR && !used && z.avail_in) {
			err = rpl_error(-RPL_EPARSE, "not gzip data");
			break;
		}
	}
	inflateEnd(&z);
	return err ? err : 1;
}

int rpl_gzip_members(const void *data, size_t len, size_t max_out,
                     int (*fn)(void *ctx, const void *member, size_t member_len, const void *out,
                               size_t out_len),
                     void *ctx)
{
	struct source *s = rpl_xcalloc(1, sizeof(*s));
	struct rpl_strbuf out = RPL_STRBUF_INIT;
	int rc;

	s->fd = -1;
	s->p = data;
	s->n = len;
	for (;;) {
		const unsigned char *start = s->p;
		rpl_strbuf_reset(&out);
		if ((rc = next_member(s, &out, max_out, NULL, NULL)) <= 0)
			break;
		if ((rc = fn(ctx, start, (size_t)(s->p - start), out.buf, out.len)))
			break;
	}
	rpl_strbuf_release(&out);
	free(s);
	return rc < 0 ? rc : 0;
}

/* ---- the control section ----------------------------------------------------------- */

/* The current entry's content (at most MAX_CONTROL bytes), NUL-terminated. */
static int entry_data(struct archive *ar, struct archive_entry *e, const char *name, char **out,
                      size_t *len)
{
	la_int64_t size = archive_entry_size(e);

	*out = NULL;
	if (size < 0 || size > (la_int64_t)MAX_CONTROL)
		return rpl_error(-RPL_EPARSE, "%s is too large", name);
	*out = rpl_xmalloc((size_t)size + 1);
	if (archive_read_data(ar, *out, (size_t)size) != size)
		return rpl_error(-RPL_EPARSE, "%s is cut short", name);
	(*out)[size] = '\0';
	*len = (size_t)size;
	return 0;
}

/* The name of the first entry of a tar, and its content when it is `want`. */
static int tar_entry(const void *tar, size_t len, const char *want, char **name, char **content,
                     size_t *content_len)
{
	struct archive *ar = archive_read_new();
	struct archive_entry *e;
	int err = 0;

	*name = NULL;
	*content = NULL;
	archive_read_support_format_tar(ar);
	if (archive_read_open_memory(ar, tar, len) != ARCHIVE_OK) {
		err = rpl_error(-RPL_EPARSE, "not a tar archive: %s", archive_error_string(ar));
		goto out;
	}
	/* Control sections have no end-of-archive blocks: stop at what we want. */
	while (archive_read_next_header(ar, &e) == ARCHIVE_OK) {
		const char *n = archive_entry_pathname(e);
		if (!*name)
			*name = rpl_xstrdup(n ? n : "");
		if (want && n && !strcmp(n, want)) {
			err = entry_data(ar, e, want, content, content_len);
			break;
		}
		if (!want)
			break;
	}
out:
	archive_read_free(ar);
	return err;
}

/*
 * The scripts of a control section: every entry but .PKGINFO whose mode has
 * r-x for all (apk's rule for what goes into scripts.tar), in order.  The
 * section has no end blocks: reading stops at its end.
 */
static int control_scripts(const void *tar, size_t len, struct rpl_apk *a)
{
	struct archive *ar = archive_read_new();
	struct archive_entry *e;
	int err = 0;

	archive_read_support_format_tar(ar);
	if (archive_read_open_memory(ar, tar, len) != ARCHIVE_OK) {
		err = rpl_error(-RPL_EPARSE, "not a tar archive: %s", archive_error_string(ar));
		goto out;
	}
	while (!err) {
		const char *n;
		struct rpl_apk_script *sc;
		int rc = archive_read_next_header(ar, &e);

		if (rc == ARCHIVE_EOF)
			break;
		if (rc == ARCHIVE_FATAL) {
			err = rpl_error(-RPL_EPARSE, "a damaged control section: %s",
			                archive_error_string(ar));
			break;
		}
		if (rc != ARCHIVE_OK && rc != ARCHIVE_WARN)
			break;
		n = archive_entry_pathname(e);
		if (!n || !strcmp(n, ".PKGINFO") || archive_entry_filetype(e) != AE_IFREG ||
		    (archive_entry_perm(e) & 0555) != 0555)
			continue;
		a->scripts = rpl_xrealloc(a->scripts, (a->nscripts + 1) * sizeof(*a->scripts));
		sc = &a->scripts[a->nscripts++];
		sc->name = rpl_xstrdup(n);
		sc->mode = archive_entry_perm(e);
		sc->len = 0;
		err = entry_data(ar, e, n, &sc->data, &sc->len);
	}
out:
	archive_read_free(ar);
	return err;
}

static void push(char ***v, size_t *n, const char *s)
{
	*v = rpl_xrealloc(*v, (*n + 1) * sizeof(**v));
	(*v)[(*n)++] = rpl_xstrdup(s);
}

static void set_once(char **field, const char *value)
{
	if (!*field)
		*field = rpl_xstrdup(value);
}

/* .PKGINFO: `key = value` lines; `#` starts a comment. */
static void parse_pkginfo(struct rpl_apk *a, char *text)
{
	for (char *line = text, *next; line && *line; line = next) {
		char *eq, *key, *val, *end;

		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		if (*line == '#' || !(eq = strchr(line, '=')))
			continue;
		key = line;
		end = eq;
		while (end > key && end[-1] == ' ')
			end--;
		*end = '\0';
		val = eq + 1;
		while (*val == ' ')
			val++;
		if (!strcmp(key, "pkgname"))
			set_once(&a->pkgname, val);
		else if (!strcmp(key, "pkgver"))
			set_once(&a->pkgver, val);
		else if (!strcmp(key, "arch"))
			set_once(&a->arch, val);
		else if (!strcmp(key, "size"))
			a->installed_size = strtoull(val, NULL, 10);
		else if (!strcmp(key, "origin"))
			set_once(&a->origin, val);
		else if (!strcmp(key, "pkgdesc"))
			set_once(&a->pkgdesc, val);
		else if (!strcmp(key, "url"))
			set_once(&a->url, val);
		else if (!strcmp(key, "commit"))
			set_once(&a->commit, val);
		else if (!strcmp(key, "maintainer"))
			set_once(&a->maintainer, val);
		else if (!strcmp(key, "builddate"))
			a->builddate = strtoll(val, NULL, 10);
		else if (!strcmp(key, "license"))
			set_once(&a->license, val);
		else if (!strcmp(key, "depend"))
			push(&a->depends, &a->ndepends, val);
		else if (!strcmp(key, "provides"))
			push(&a->provides, &a->nprovides, val);
		else if (!strcmp(key, "replaces"))
			push(&a->replaces, &a->nreplaces, val);
		else if (!strcmp(key, "provider_priority"))
			set_once(&a->provider_priority, val);
		else if (!strcmp(key, "replaces_priority"))
			set_once(&a->replaces_priority, val);
		else if (!strcmp(key, "datahash"))
			set_once(&a->datahash, val);
		else if (!strcmp(key, "triggers"))
			set_once(&a->triggers, val);
	}
}

/* Reads the package from `s` (a file or memory); `path` names it in messages. */
static int read_apk(struct source *s, const char *path, struct rpl_apk *a)
{
	struct rpl_strbuf out = RPL_STRBUF_INIT;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	char *first = NULL, *pkginfo = NULL;
	size_t pkginfo_len = 0;
	int rc, err = 0;

	/* The first member is the signature when its one entry says so. */
	EVP_DigestInit_ex(md, EVP_sha1(), NULL);
	rc = next_member(s, &out, MAX_CONTROL, md, NULL);
	if (rc <= 0) {
		err = rpl_error(rc ? rc : -RPL_EPARSE, "'%s' is not an apk: %s", path,
		                rc ? rpl_errmsg() : "empty file");
		goto out;
	}
	if ((err = tar_entry(out.buf, out.len, NULL, &first, &pkginfo, &pkginfo_len)))
		goto bad;
	if (first && !strncmp(first, ".SIGN.", 6)) {
		const char *k = strchr(first + 6, '.');
		a->signature_key = rpl_xstrdup(k ? k + 1 : first + 6);
		a->control_off = s->consumed;
		EVP_DigestFinal_ex(md, a->signature_sha1, NULL);
		rpl_strbuf_reset(&out);
		EVP_DigestInit_ex(md, EVP_sha1(), NULL);
		rc = next_member(s, &out, MAX_CONTROL, md, NULL);
		if (rc <= 0) {
			err = rpl_error(rc ? rc : -RPL_EPARSE, "'%s' has no control section", path);
			goto out;
		}
	}
	EVP_DigestFinal_ex(md, a->control_sha1, NULL);
	a->data_off = s->consumed;
	/* What follows the control member is the data member. */
	EVP_DigestInit_ex(md, EVP_sha256(), NULL);
	for (;;) {
		if ((err = fill(s)))
			goto bad;
		if (!s->n)
			break;
		EVP_DigestUpdate(md, s->p, s->n);
		s->n = 0;
	}
	EVP_DigestFinal_ex(md, a->data_sha256, NULL);
	free(first);
	if ((err = tar_entry(out.buf, out.len, ".PKGINFO", &first, &pkginfo, &pkginfo_len)))
		goto bad;
	if (!pkginfo) {
		err = rpl_error(-RPL_EPARSE, "'%s' is not an apk: no .PKGINFO", path);
		goto out;
	}
	a->pkginfo_len = pkginfo_len;
	parse_pkginfo(a, pkginfo);
	if ((err = control_scripts(out.buf, out.len, a)))
		goto bad;
	if (!a->pkgname || !a->pkgver)
		err = rpl_error(-RPL_EPARSE, "'%s': .PKGINFO has no %s", path,
		                a->pkgname ? "pkgver" : "pkgname");
	goto out;
bad:
	err = rpl_error(err, "'%s' is not an apk: %s", path, rpl_errmsg());
out:
	free(first);
	free(pkginfo);
	rpl_strbuf_release(&out);
	EVP_MD_CTX_free(md);
	return err;
}

int rpl_apk_read(const char *path, struct rpl_apk *a)
{
	struct source *s = rpl_xcalloc(1, sizeof(*s));
	struct stat sb;
	int err;

	memset(a, 0, sizeof(*a));
	a->builddate = -1;
	s->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (s->fd < 0) {
		err = rpl_error(-errno, "cannot open '%s': %s", path, strerror(errno));
		goto out;
	}
	if (fstat(s->fd, &sb) == 0)
		a->file_size = (uint64_t)sb.st_size;
	err = read_apk(s, path, a);
	close(s->fd);
out:
	free(s);
	if (err)
		rpl_apk_release(a);
	return err;
}

int rpl_apk_read_memory(const void *data, size_t len, const char *name, struct rpl_apk *a)
{
	struct source *s = rpl_xcalloc(1, sizeof(*s));
	int err;

	memset(a, 0, sizeof(*a));
	a->builddate = -1;
	a->file_size = len;
	s->fd = -1;
	s->p = data;
	s->n = len;
	err = read_apk(s, name, a);
	free(s);
	if (err)
		rpl_apk_release(a);
	return err;
}

static void free_list(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

void rpl_apk_release(struct rpl_apk *a)
{
	char **fields[] = { &a->pkgname,
		            &a->pkgver,
		            &a->arch,
		            &a->origin,
		            &a->pkgdesc,
		            &a->url,
		            &a->commit,
		            &a->maintainer,
		            &a->license,
		            &a->datahash,
		            &a->provider_priority,
		            &a->replaces_priority,
		            &a->triggers,
		            &a->signature_key };

	for (size_t i = 0; i < sizeof(fields) / sizeof(*fields); i++)
		free(*fields[i]);
	free_list(a->depends, a->ndepends);
	free_list(a->provides, a->nprovides);
	free_list(a->replaces, a->nreplaces);
	for (size_t i = 0; i < a->nscripts; i++) {
		free(a->scripts[i].name);
		free(a->scripts[i].data);
	}
	free(a->scripts);
	memset(a, 0, sizeof(*a));
	a->builddate = -1;
}

/* ---- the index record ---------------------------------------------------------------- */

static void add_list(struct rpl_strbuf *b, const char *key, char *const *v, size_t n)
{
	if (!n)
		return;
	rpl_strbuf_addstr(b, key);
	for (size_t i = 0; i < n; i++)
		rpl_strbuf_addf(b, "%s%s", i ? " " : "", v[i]);
	rpl_strbuf_addch(b, '\n');
}

char *rpl_apk_index_record(const struct rpl_apk *a)
{
	struct rpl_strbuf b = RPL_STRBUF_INIT;
	unsigned char b64[64];

	EVP_EncodeBlock(b64, a->control_sha1, RPL_SHA1_LEN);
	rpl_strbuf_addf(&b, "C:Q1%s\nP:%s\nV:%s\n", b64, a->pkgname, a->pkgver);
	if (a->arch && *a->arch)
		rpl_strbuf_addf(&b, "A:%s\n", a->arch);
	if (a->file_size)
		rpl_strbuf_addf(&b, "S:%llu\n", (unsigned long long)a->file_size);
	if (a->installed_size)
		rpl_strbuf_addf(&b, "I:%llu\n", (unsigned long long)a->installed_size);
	rpl_strbuf_addf(&b, "T:%s\n", a->pkgdesc ? a->pkgdesc : "");
	if (a->url && *a->url)
		rpl_strbuf_addf(&b, "U:%s\n", a->url);
	if (a->license && *a->license)
		rpl_strbuf_addf(&b, "L:%s\n", a->license);
	if (a->origin && *a->origin)
		rpl_strbuf_addf(&b, "o:%s\n", a->origin);
	if (a->maintainer && *a->maintainer)
		rpl_strbuf_addf(&b, "m:%s\n", a->maintainer);
	/* melange's index always carries a build time: builddate 0 when absent. */
	rpl_strbuf_addf(&b, "t:%lld\n", (long long)(a->builddate > 0 ? a->builddate : 0));
	if (a->commit && *a->commit)
		rpl_strbuf_addf(&b, "c:%s\n", a->commit);
	add_list(&b, "D:", a->depends, a->ndepends);
	add_list(&b, "p:", a->provides, a->nprovides);
	if (a->provider_priority && *a->provider_priority && strcmp(a->provider_priority, "0"))
		rpl_strbuf_addf(&b, "k:%s\n", a->provider_priority);
	rpl_strbuf_addch(&b, '\n');
	return rpl_strbuf_detach(&b);
}
