/*
 * apko.lock.json: see imglock.h.  The layout follows apko's pkg/lock: two
 * spaces of indent and a trailing newline; keys in struct order; keyring
 * entries sorted by name; packages per arch in install order.
 */
#include "runners/imglock.h"
#include "common/error.h"
#include "common/file.h"
#include "common/sha256.h"
#include "common/strbuf.h"
#include "common/xalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

static void b64(const uint8_t *d, size_t n, const char *prefix, char *out)
{
	size_t p = strlen(prefix);

	memcpy(out, prefix, p);
	EVP_EncodeBlock((unsigned char *)out + p, d, (int)n);
}

int rpl_imglock_config_checksum(const struct rpl_image *img, char out[64])
{
	struct rpl_sha256 h;
	uint8_t d[RPL_SHA256_LEN];

	rpl_sha256_init(&h);
	for (size_t i = 0; i < img->ninputs; i++) {
		char *text;
		size_t len;
		int err = rpl_read_file(img->inputs[i], &text, &len);
		if (err) {
			rpl_sha256_final(&h, d);
			return err;
		}
		rpl_sha256_update(&h, text, len);
		free(text);
	}
	rpl_sha256_final(&h, d);
	b64(d, sizeof(d), "sha256-", out);
	return 0;
}

static const char *base_name(const char *p)
{
	const char *s = strrchr(p, '/');
	return s ? s + 1 : p;
}

static const char *strip_scheme(const char *s)
{
	if (!strncmp(s, "https://", 8))
		return s + 8;
	if (!strncmp(s, "http://", 7))
		return s + 7;
	return s;
}

static json_t *range(uint64_t from, uint64_t to, const char *sum)
{
	char r[64];

	snprintf(r, sizeof(r), "bytes=%llu-%llu", (unsigned long long)from,
	         (unsigned long long)(to ? to - 1 : 0));
	return json_pack("{s:s,s:s}", "range", r, "checksum", sum);
}

static json_t *package(const struct rpl_lock_entry *e, const char *arch)
{
	const struct rpl_apk *a = e->apk;
	json_t *p = json_object();
	char sum[80];

	json_object_set_new(p, "name", json_string(a->pkgname));
	json_object_set_new(p, "url", json_string(e->url));
	json_object_set_new(p, "version", json_string(a->pkgver));
	json_object_set_new(p, "architecture", json_string(arch));
	if (a->control_off) {
		b64(a->signature_sha1, RPL_SHA1_LEN, "sha1-", sum);
		json_object_set_new(p, "signature", range(0, a->control_off, sum));
	}
	b64(a->control_sha1, RPL_SHA1_LEN, "sha1-", sum);
	json_object_set_new(p, "control", range(a->control_off, a->data_off, sum));
	b64(a->data_sha256, 32, "sha256-", sum);
	json_object_set_new(p, "data", range(a->data_off, a->file_size, sum));
	b64(a->control_sha1, RPL_SHA1_LEN, "Q1", sum);
	json_object_set_new(p, "checksum", json_string(sum));
	return p;
}

/* Entries of `old` (an array) for other archs, then `fresh`'s. */
static json_t *merge_arch(json_t *old, const char *arch, json_t *fresh)
{
	json_t *out = json_array(), *e;
	size_t i;

	json_array_foreach(old, i, e)
	{
		const char *a = json_string_value(json_object_get(e, "architecture"));
		if (a && strcmp(a, arch))
			json_array_append(out, e);
	}
	json_array_extend(out, fresh);
	json_decref(fresh);
	return out;
}

static int cmp_key_name(const void *a, const void *b)
{
	return strcmp(json_string_value(json_object_get(*(json_t *const *)a, "name")),
	              json_string_value(json_object_get(*(json_t *const *)b, "name")));
}

/* A lock on the directory of `path` in `*lockfd`: the file is replaced, and a
 * lock file would be left in the user's tree. */
static int lock_dir(const char *path, int *lockfd)
{
	char *dir = rpl_path_dirname(path);
	int err = 0;

	*lockfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (*lockfd < 0 || flock(*lockfd, LOCK_EX) < 0) {
		err = rpl_error(-errno, "cannot lock '%s': %s", dir, strerror(errno));
		if (*lockfd >= 0)
			close(*lockfd);
	}
	free(dir);
	return err;
}

/* The lock file as another arch's run wrote it, while the config is the same
 * (checksum `sum`); NULL otherwise. */
static json_t *same_config_lock(const char *path, const char *sum)
{
	json_t *old = json_load_file(path, 0, NULL);
	const char *v =
	        json_string_value(json_object_get(json_object_get(old, "config"), "checksum"));

	if (old && (!v || strcmp(v, sum))) {
		json_decref(old);
		old = NULL;
	}
	return old;
}

/* The keyring: each key file read whole, sorted by name, one entry per name. */
static int keyring_of(char *const *keys, size_t nkeys, json_t **keyring)
{
	json_t **ks = rpl_xcalloc(nkeys + 1, sizeof(*ks));
	char *text;
	int err = 0;

	for (size_t i = 0; i < nkeys && !err; i++) {
		size_t len;
		if ((err = rpl_read_file(keys[i], &text, &len)))
			break;
		ks[i] = json_pack("{s:s,s:s,s:s%}", "name", keys[i], "url", keys[i], "content",
		                  text, len);
		free(text);
		if (!ks[i])
			err = rpl_error(-RPL_EPARSE, "%s: a key that is not UTF-8 text", keys[i]);
	}
	if (err) {
		for (size_t k = 0; k < nkeys; k++)
			json_decref(ks[k]);
		free(ks);
		return err;
	}
	qsort(ks, nkeys, sizeof(*ks), cmp_key_name);
	*keyring = json_array();
	for (size_t i = 0, kept = 0; i < nkeys; i++) {
		/* One entry per name. */
		if (i && !cmp_key_name(&ks[kept], &ks[i])) {
			json_decref(ks[i]);
		} else {
			json_array_append_new(*keyring, ks[i]);
			kept = i;
		}
	}
	free(ks);
	return 0;
}

/* The repositories' indexes for `arch`; a "@tag location"'s label is not recorded. */
static json_t *repositories_of(char *const *repos, size_t nrepos, const char *arch)
{
	json_t *rl = json_array();

	for (size_t i = 0; i < nrepos; i++) {
		const char *r = repos[i];
		struct rpl_strbuf name = RPL_STRBUF_INIT, url = RPL_STRBUF_INIT;
		if (*r == '@')
			for (r += strcspn(r, " "); *r == ' '; r++)
				;
		rpl_strbuf_addf(&name, "%s/%s", strip_scheme(r), arch);
		rpl_strbuf_addf(&url, "%s/%s/APKINDEX.tar.gz", r, arch);
		json_array_append_new(rl, json_pack("{s:s,s:s,s:s}", "name", name.buf, "url",
		                                    url.buf, "architecture", arch));
		rpl_strbuf_release(&name);
		rpl_strbuf_release(&url);
	}
	return rl;
}

/* "contents": this run's keyring, and its repositories and packages merged
 * with other archs' in `old`. */
static json_t *contents_of(json_t *keyring, json_t *old, const char *arch, json_t *rl, json_t *pl)
{
	json_t *contents = json_object(), *was = json_object_get(old, "contents");

	json_object_set_new(contents, "keyring", keyring);
	json_object_set_new(contents, "build_repositories", json_array());
	json_object_set_new(contents, "runtime_repositories", json_array());
	json_object_set_new(contents, "repositories",
	                    merge_arch(json_object_get(was, "repositories"), arch, rl));
	json_object_set_new(contents, "packages",
	                    merge_arch(json_object_get(was, "packages"), arch, pl));
	return contents;
}

/* `root` as apko writes it (two spaces of indent, a trailing newline), replacing `path`. */
static int write_lock(const char *path, json_t *root)
{
	char *text = root ? json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
	int err;

	if (!text) {
		err = rpl_error(-RPL_EPARSE,
		                "%s: cannot encode the lock file (a name that is not UTF-8?)",
		                path);
	} else {
		struct rpl_strbuf b = RPL_STRBUF_INIT;
		rpl_strbuf_addf(&b, "%s\n", text);
		err = rpl_write_file_atomic(path, b.buf, b.len);
		rpl_strbuf_release(&b);
	}
	free(text);
	return err;
}

int rpl_imglock_write(const char *path, const struct rpl_image *img, const char *arch,
                      char *const *keys, size_t nkeys, char *const *repos, size_t nrepos,
                      const struct rpl_lock_entry *pkgs, size_t npkgs)
{
	char sum[64];
	json_t *old, *root, *keyring, *pl;
	int err, lockfd;

	if ((err = rpl_imglock_config_checksum(img, sum)))
		return err;
	/* Read, merged and written under a lock on its directory: two archs
	 * locking at once both keep their packages. */
	if ((err = lock_dir(path, &lockfd)))
		return err;
	old = same_config_lock(path, sum);
	if ((err = keyring_of(keys, nkeys, &keyring))) {
		json_decref(old);
		close(lockfd);
		return err;
	}
	pl = json_array();
	for (size_t i = 0; i < npkgs; i++)
		json_array_append_new(pl, package(&pkgs[i], arch));
	root = json_pack("{s:s,s:{s:s,s:s},s:o}", "version", "v1", "config", "name",
	                 base_name(img->file), "checksum", sum, "contents",
	                 contents_of(keyring, old, arch, repositories_of(repos, nrepos, arch), pl));
	err = write_lock(path, root);
	json_decref(root);
	json_decref(old);
	close(lockfd);
	return err;
}

static char *dup_field(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));
	return s ? rpl_xstrdup(s) : NULL;
}

void rpl_imglock_free(struct rpl_lock_pkg *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(p[i].name);
		free(p[i].version);
		free(p[i].url);
		free(p[i].checksum);
		free(p[i].data_checksum);
	}
	free(p);
}

int rpl_imglock_read(const char *path, const struct rpl_image *img, const char *arch,
                     struct rpl_lock_pkg **out, size_t *n)
{
	json_error_t je;
	json_t *root = json_load_file(path, 0, &je), *pl, *e;
	const char *v, *have;
	char sum[64];
	size_t i, k = 0;
	struct rpl_lock_pkg *p;
	int err;

	*out = NULL;
	*n = 0;
	if (!root)
		return rpl_error_at(-RPL_EPARSE, path, (unsigned)je.line, (unsigned)je.column, "%s",
		                    je.text);
	if (!(v = json_string_value(json_object_get(root, "version"))) || strcmp(v, "v1")) {
		json_decref(root);
		return rpl_error(-RPL_EPARSE, "%s: not an apko lock file of version v1", path);
	}
	if ((err = rpl_imglock_config_checksum(img, sum))) {
		json_decref(root);
		return err;
	}
	have = json_string_value(json_object_get(json_object_get(root, "config"), "checksum"));
	if (!have || strcmp(have, sum)) {
		err = rpl_error(-RPL_EPARSE,
		                "%s was made from another version of %s (config checksum %s, "
		                "now %s); lock it again",
		                path, img->file, have ? have : "none", sum);
		json_decref(root);
		return err;
	}
	pl = json_object_get(json_object_get(root, "contents"), "packages");
	p = rpl_xcalloc(json_array_size(pl) + 1, sizeof(*p));
	json_array_foreach(pl, i, e)
	{
		const char *a = json_string_value(json_object_get(e, "architecture"));
		if (!a || strcmp(a, arch))
			continue;
		p[k].name = dup_field(e, "name");
		p[k].version = dup_field(e, "version");
		p[k].url = dup_field(e, "url");
		p[k].checksum = dup_field(e, "checksum");
		p[k].data_checksum = dup_field(json_object_get(e, "data"), "checksum");
		if (!p[k].name || !p[k].version || !p[k].url || !p[k].checksum) {
			rpl_imglock_free(p, k + 1);
			json_decref(root);
			return rpl_error(-RPL_EPARSE,
			                 "%s: package %zu lacks a name, version, url or checksum",
			                 path, i + 1);
		}
		k++;
	}
	json_decref(root);
	if (!k) {
		free(p);
		return rpl_error(-RPL_ENOTFOUND, "%s locks no packages for %s", path, arch);
	}
	*out = p;
	*n = k;
	return 0;
}
