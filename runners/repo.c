#include "runners/repo.h"
#include "common/error.h"
#include "common/file.h"
#include "common/strbuf.h"
#include "common/strmap.h"
#include "common/arena.h"
#include "common/xalloc.h"
#include "runners/apk.h"
#include "runners/tar.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/encoder.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#define MAX_INDEX (256u << 20)

static int ssl_error(const char *what)
{
	char buf[256] = "";
	unsigned long e = ERR_get_error();

	if (e)
		ERR_error_string_n(e, buf, sizeof(buf));
	ERR_clear_error();
	return rpl_error(-RPL_ELIB, "%s%s%s", what, *buf ? ": " : "", buf);
}

/* ---- keys -------------------------------------------------------------------------- */

int rpl_signer_load(struct rpl_signer *s, const char *path)
{
	FILE *f = fopen(path, "r");
	const char *base = strrchr(path, '/');

	memset(s, 0, sizeof(*s));
	if (!f)
		return rpl_error(-errno, "cannot open the signing key '%s': %s", path,
		                 strerror(errno));
	s->key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	if (!s->key)
		return ssl_error(path);
	if (EVP_PKEY_get_base_id(s->key) != EVP_PKEY_RSA) {
		rpl_signer_release(s);
		return rpl_error(-RPL_EUSAGE, "'%s' is not an RSA key", path);
	}
	/* apk finds the key as /etc/apk/keys/<name>: "<basename>.pub". */
	s->name = rpl_xmalloc(strlen(path) + 5);
	sprintf(s->name, "%s.pub", base ? base + 1 : path);
	return 0;
}

void rpl_signer_release(struct rpl_signer *s)
{
	EVP_PKEY_free(s->key);
	free(s->name);
	memset(s, 0, sizeof(*s));
}

/* PEM of `key`: the private key as PKCS#1 (as melange keygen writes it), or the public one. */
static int pem_of(EVP_PKEY *key, int private, char **out, size_t *len)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *p;
	long n;
	int ok;

	if (private) {
		OSSL_ENCODER_CTX *ctx = OSSL_ENCODER_CTX_new_for_pkey(
		        key, OSSL_KEYMGMT_SELECT_KEYPAIR, "PEM", "type-specific", NULL);
		ok = ctx && OSSL_ENCODER_to_bio(ctx, b);
		OSSL_ENCODER_CTX_free(ctx);
	} else {
		ok = PEM_write_bio_PUBKEY(b, key);
	}
	if (!ok) {
		BIO_free(b);
		return ssl_error("cannot encode the key");
	}
	n = BIO_get_mem_data(b, &p);
	*out = rpl_xmalloc((size_t)n + 1);
	memcpy(*out, p, (size_t)n);
	*len = (size_t)n;
	BIO_free(b);
	return 0;
}

int rpl_signer_generate(const char *path, int bits)
{
	EVP_PKEY *key = EVP_RSA_gen((unsigned)bits);
	char *pem = NULL, *pub = NULL, *pubpath = NULL;
	size_t len = 0, publen = 0;
	int err;

	if (!key)
		return ssl_error("cannot generate an RSA key");
	if ((err = pem_of(key, 1, &pem, &len)) || (err = pem_of(key, 0, &pub, &publen)))
		goto out;
	pubpath = rpl_xmalloc(strlen(path) + 5);
	sprintf(pubpath, "%s.pub", path);
	/* Private from its first byte: never readable by others, even briefly. */
	err = rpl_write_file_atomic_mode(path, pem, len, 0600);
	if (!err)
		err = rpl_write_file_atomic(pubpath, pub, publen);
out:
	free(pem);
	free(pub);
	free(pubpath);
	EVP_PKEY_free(key);
	return err;
}

/* ---- tar and gzip ---------------------------------------------------------------------- */

struct tar_file {
	const char *name;
	const void *data;
	size_t len;
	const char *owner; /* uname and gname, or NULL for none */
};

/* A ustar archive of `files` (mode 0644, 0/0, mtime 0), with or without the end blocks. */
static int tar_make(const struct tar_file *files, size_t n, int trailer, struct rpl_strbuf *out)
{
	struct archive *a = archive_write_new();
	size_t cap = 4096, used = 0;
	char *buf;
	int err = 0;

	for (size_t i = 0; i < n; i++)
		cap += 1024 + files[i].len;
	buf = rpl_xmalloc(cap);
	archive_write_set_format_ustar(a);
	archive_write_set_bytes_per_block(a, 512);
	archive_write_set_bytes_in_last_block(a, 1);
	if (archive_write_open_memory(a, buf, cap, &used) != ARCHIVE_OK) {
		err = rpl_error(-RPL_ELIB, "tar: %s", archive_error_string(a));
		goto out;
	}
	for (size_t i = 0; i < n && !err; i++) {
		struct archive_entry *e = archive_entry_new();
		archive_entry_set_pathname(e, files[i].name);
		archive_entry_set_filetype(e, AE_IFREG);
		archive_entry_set_perm(e, 0644);
		archive_entry_set_size(e, (la_int64_t)files[i].len);
		archive_entry_set_mtime(e, 0, 0);
		if (files[i].owner) {
			archive_entry_set_uname(e, files[i].owner);
			archive_entry_set_gname(e, files[i].owner);
		}
		if (archive_write_header(a, e) != ARCHIVE_OK ||
		    (files[i].len && archive_write_data(a, files[i].data, files[i].len) !=
		                             (la_ssize_t)files[i].len))
			err = rpl_error(-RPL_ELIB, "tar: %s", archive_error_string(a));
		archive_entry_free(e);
	}
	if (!err && archive_write_close(a) != ARCHIVE_OK)
		err = rpl_error(-RPL_ELIB, "tar: %s", archive_error_string(a));
	if (!err) {
		/* The signature member ends without the two zero blocks (apk's way). */
		if (!trailer && used >= 1024)
			used -= 1024;
		rpl_strbuf_add(out, buf, used);
	}
out:
	archive_write_free(a);
	free(buf);
	return err;
}

/* ---- reading an index ----------------------------------------------------------------- */

struct index_read {
	const unsigned char *start; /* of the file */
	char *text, *description, *signer;
	unsigned char *sig;               /* the signature bytes */
	const unsigned char *signed_from; /* where the signed data begins */
	size_t siglen;
	int members;
	int err;
};

static int index_member(void *ctx, const void *member, size_t member_len, const void *out,
                        size_t out_len)
{
	struct index_read *r = ctx;
	struct archive *a = archive_read_new();
	struct archive_entry *e;
	int first = 1;

	archive_read_support_format_tar(a);
	if (archive_read_open_memory(a, out, out_len) != ARCHIVE_OK) {
		r->err = rpl_error(-RPL_EPARSE, "not a tar archive: %s", archive_error_string(a));
		archive_read_free(a);
		return 1;
	}
	while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
		const char *name = archive_entry_pathname(e);
		la_int64_t size = archive_entry_size(e);
		char **slot = NULL;

		if (!name)
			continue;
		if (first && r->members == 0 && !strncmp(name, ".SIGN.", 6)) {
			const char *k = strchr(name + 6, '.');
			size_t want = size > 0 && size < 65536 ? (size_t)size : 0;
			la_ssize_t got;
			r->sig = rpl_xmalloc(want ? want : 1);
			got = want ? archive_read_data(a, r->sig, want) : 0;
			r->signer = rpl_xstrdup(k ? k + 1 : name + 6);
			r->siglen = got > 0 ? (size_t)got : 0;
			r->signed_from = (const unsigned char *)member + member_len;
			break;
		}
		first = 0;
		if (!strcmp(name, "APKINDEX"))
			slot = &r->text;
		else if (!strcmp(name, "DESCRIPTION"))
			slot = &r->description;
		if (slot && !*slot && size >= 0 && (size_t)size <= MAX_INDEX) {
			*slot = rpl_xmalloc((size_t)size + 1);
			if (archive_read_data(a, *slot, (size_t)size) != size) {
				r->err = rpl_error(-RPL_EPARSE, "%s is cut short", name);
				break;
			}
			(*slot)[size] = '\0';
		}
	}
	archive_read_free(a);
	r->members++;
	return r->err != 0;
}

static void index_read_release(struct index_read *r)
{
	free(r->text);
	free(r->description);
	free(r->signer);
	free(r->sig);
	memset(r, 0, sizeof(*r));
}

/* The parts of the index file `data` (release them with index_read_release). */
static int read_index(const char *path, const char *data, size_t len, struct index_read *r)
{
	int err;

	memset(r, 0, sizeof(*r));
	r->start = (const unsigned char *)data;
	err = rpl_gzip_members(data, len, MAX_INDEX, index_member, r);
	if (!err)
		err = r->err;
	if (!err && !r->text)
		err = rpl_error(-RPL_EPARSE, "no APKINDEX inside");
	if (err) {
		err = rpl_error(err, "'%s' is not an APKINDEX.tar.gz: %s", path, rpl_errmsg());
		index_read_release(r);
	}
	return err;
}

int rpl_repo_read_index(const char *path, char **text, char **signer)
{
	struct index_read r;
	char *data;
	size_t len;
	int err = rpl_read_file(path, &data, &len);

	*text = NULL;
	*signer = NULL;
	if (err)
		return err;
	if (!(err = read_index(path, data, len, &r))) {
		*text = r.text;
		*signer = r.signer;
		r.text = r.signer = NULL;
		index_read_release(&r);
	}
	free(data);
	return err;
}

int rpl_repo_verify_index(const char *path, const char *pubkey)
{
	struct index_read r;
	EVP_PKEY *key = NULL;
	EVP_MD_CTX *md = NULL;
	FILE *f;
	char *data;
	size_t len;
	int err = rpl_read_file(path, &data, &len);

	if (err)
		return err;
	if ((err = read_index(path, data, len, &r))) {
		free(data);
		return err;
	}
	if (!r.signer) {
		err = rpl_error(-RPL_EPARSE, "'%s' is not signed", path);
		goto out;
	}
	if (!(f = fopen(pubkey, "r"))) {
		err = rpl_error(-errno, "cannot open '%s': %s", pubkey, strerror(errno));
		goto out;
	}
	key = PEM_read_PUBKEY(f, NULL, NULL, NULL);
	fclose(f);
	if (!key) {
		err = ssl_error(pubkey);
		goto out;
	}
	md = EVP_MD_CTX_new();
	if (EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, key) != 1 ||
	    EVP_DigestVerify(md, r.sig, r.siglen, r.signed_from,
	                     len - (size_t)(r.signed_from - (const unsigned char *)data)) != 1) {
		ERR_clear_error();
		err = rpl_error(-RPL_EPARSE, "'%s': the signature does not verify with '%s'", path,
		                pubkey);
	}
out:
	EVP_MD_CTX_free(md);
	EVP_PKEY_free(key);
	index_read_release(&r);
	free(data);
	return err;
}

/* ---- merging ----------------------------------------------------------------------------- */

struct record {
	char *text; /* with its trailing blank line */
	char *key;  /* "name\nversion" */
};

struct records {
	struct record *v;
	size_t n, alloc;
	struct rpl_strmap at;  /* key -> index + 1 in v */
	struct rpl_arena keys; /* the map's keys */
};

/* "P\nV" of a record's text, or NULL when it lacks either. */
static char *record_key(const char *text)
{
	const char *p = NULL, *v = NULL;
	size_t pl = 0, vl = 0;
	char *key;

	for (const char *l = text; *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : l + strlen(l)) {
		size_t n = strcspn(l, "\n");
		if (!strncmp(l, "P:", 2)) {
			p = l + 2;
			pl = n - 2;
		} else if (!strncmp(l, "V:", 2)) {
			v = l + 2;
			vl = n - 2;
		}
	}
	if (!p || !v)
		return NULL;
	key = rpl_xmalloc(pl + vl + 2);
	memcpy(key, p, pl);
	key[pl] = '\n';
	memcpy(key + pl + 1, v, vl);
	key[pl + vl + 1] = '\0';
	return key;
}

/* Puts `text` (one record) in place of the one of the same key, else at the end. */
static void merge(struct records *rs, char *text)
{
	char *key = record_key(text);
	struct rpl_strmap_slot *slot;

	if (key && (slot = rpl_strmap_slot(&rs->at, key))->value) {
		size_t i = (size_t)(uintptr_t)slot->value - 1;
		free(rs->v[i].text);
		free(key);
		rs->v[i].text = text;
		return;
	}
	if (key) {
		slot->key = rpl_arena_strdup(&rs->keys, key); /* the map keeps its own copy */
		slot->value = (void *)(uintptr_t)(rs->n + 1);
	}
	RPL_ALLOC_GROW(rs->v, rs->n + 1, rs->alloc);
	rs->v[rs->n].text = text;
	rs->v[rs->n++].key = key;
}

static void records_release(struct records *rs)
{
	for (size_t i = 0; i < rs->n; i++) {
		free(rs->v[i].text);
		free(rs->v[i].key);
	}
	free(rs->v);
	rpl_strmap_release(&rs->at);
	rpl_arena_release(&rs->keys);
	memset(rs, 0, sizeof(*rs));
}

/* Splits an APKINDEX text into records at blank lines. */
static void split_records(struct records *rs, const char *text)
{
	const char *p = text;

	for (;;) {
		const char *end;
		size_t n;
		struct rpl_strbuf b = RPL_STRBUF_INIT;

		p += strspn(p, "\n"); /* blank lines between records, however many */
		if (!*p)
			break;
		end = strstr(p, "\n\n");
		n = end ? (size_t)(end - p) + 2 : strlen(p);
		rpl_strbuf_add(&b, p, n);
		while (b.len < 2 || b.buf[b.len - 1] != '\n' || b.buf[b.len - 2] != '\n')
			rpl_strbuf_addch(&b, '\n');
		merge(rs, rpl_strbuf_detach(&b));
		p += n;
	}
}

int rpl_signer_sign(const struct rpl_signer *k, const void *data, size_t len, unsigned char **sig,
                    size_t *siglen)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	int err = 0;

	*sig = NULL;
	*siglen = 0;
	if (EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, k->key) != 1 ||
	    EVP_DigestSign(md, NULL, siglen, data, len) != 1) {
		err = ssl_error("cannot sign");
		goto out;
	}
	*sig = rpl_xmalloc(*siglen);
	if (EVP_DigestSign(md, *sig, siglen, data, len) != 1) {
		err = ssl_error("cannot sign");
		free(*sig);
		*sig = NULL;
	}
out:
	EVP_MD_CTX_free(md);
	return err;
}

/* The signature member of an index: a tar of one entry, no end blocks, gzip. */
static int sign(const struct rpl_signer *k, const void *data, size_t len, struct rpl_strbuf *out)
{
	unsigned char *sig;
	size_t siglen;
	struct rpl_strbuf tar = RPL_STRBUF_INIT;
	char *name;
	int err = rpl_signer_sign(k, data, len, &sig, &siglen);

	if (err)
		return rpl_error(err, "cannot sign the index: %s", rpl_errmsg());
	name = rpl_xmalloc(strlen(k->name) + 16);
	sprintf(name, ".SIGN.RSA256.%s", k->name);
	{
		struct tar_file f = { name, sig, siglen, "root" };
		if (!(err = tar_make(&f, 1, 0, &tar)))
			err = rpl_gzip(tar.buf, tar.len, 0, out);
	}
	free(name);
	free(sig);
	rpl_strbuf_release(&tar);
	return err;
}

struct rpl_repo_index {
	char *path;
	struct records rs;
	char *description;
	int dirty;
};

int rpl_repo_open(struct rpl_repo_index **out, const char *dir)
{
	struct rpl_repo_index *ix = rpl_xcalloc(1, sizeof(*ix));
	char *data = NULL;
	size_t len;
	int err;

	*out = NULL;
	rpl_arena_init(&ix->rs.keys);
	ix->path = rpl_path_join(dir, "APKINDEX.tar.gz");
	err = rpl_read_file(ix->path, &data, &len);
	if (!err) {
		struct index_read r;
		if (!(err = read_index(ix->path, data, len, &r))) {
			split_records(&ix->rs, r.text);
			ix->description = r.description;
			r.description = NULL;
			index_read_release(&r);
		}
	} else if (err == -ENOENT) {
		err = 0;
		ix->dirty = 1; /* written on the first flush, even empty */
	}
	free(data);
	if (err) {
		err = rpl_error(err, "cannot update '%s': %s", ix->path, rpl_errmsg());
		rpl_repo_close(ix);
		return err;
	}
	*out = ix;
	return 0;
}

int rpl_repo_merge(struct rpl_repo_index *ix, char *const *apks, size_t n)
{
	char **recs = rpl_xcalloc(n + 1, sizeof(*recs));
	int err = 0;

	/* All or nothing: every apk is read before any record goes in. */
	for (size_t i = 0; i < n && !err; i++) {
		struct rpl_apk a;
		if (!(err = rpl_apk_read(apks[i], &a))) {
			recs[i] = rpl_apk_index_record(&a);
			rpl_apk_release(&a);
		}
	}
	for (size_t i = 0; i < n; i++) {
		if (!err)
			merge(&ix->rs, recs[i]);
		else
			free(recs[i]);
	}
	free(recs);
	if (err)
		return rpl_error(err, "cannot update '%s': %s", ix->path, rpl_errmsg());
	ix->dirty |= n > 0;
	return 0;
}

int rpl_repo_flush(struct rpl_repo_index *ix, const struct rpl_signer *key)
{
	struct rpl_strbuf text = RPL_STRBUF_INIT, tar = RPL_STRBUF_INIT, gz = RPL_STRBUF_INIT,
	                  out = RPL_STRBUF_INIT;
	int err = 0;

	if (!ix->dirty)
		return 0;
	for (size_t i = 0; i < ix->rs.n; i++)
		rpl_strbuf_addstr(&text, ix->rs.v[i].text);
	{
		struct tar_file files[2] = {
			{ "APKINDEX", text.buf ? text.buf : "", text.len, NULL },
			{ "DESCRIPTION", ix->description ? ix->description : "",
			  ix->description ? strlen(ix->description) : 0, NULL },
		};
		if ((err = tar_make(files, 2, 1, &tar)) ||
		    (err = rpl_gzip(tar.buf, tar.len, 0, &gz)))
			goto out;
	}
	if (key && (err = sign(key, gz.buf, gz.len, &out)))
		goto out;
	rpl_strbuf_add(&out, gz.buf, gz.len);
	if (!(err = rpl_write_file_atomic(ix->path, out.buf, out.len)))
		ix->dirty = 0;
out:
	if (err)
		err = rpl_error(err, "cannot update '%s': %s", ix->path, rpl_errmsg());
	rpl_strbuf_release(&text);
	rpl_strbuf_release(&tar);
	rpl_strbuf_release(&gz);
	rpl_strbuf_release(&out);
	return err;
}

int rpl_repo_dirty(const struct rpl_repo_index *ix)
{
	return ix->dirty;
}

void rpl_repo_close(struct rpl_repo_index *ix)
{
	if (!ix)
		return;
	records_release(&ix->rs);
	free(ix->description);
	free(ix->path);
	free(ix);
}

int rpl_repo_add(const char *dir, char *const *apks, size_t n, const struct rpl_signer *key)
{
	struct rpl_repo_index *ix;
	int err = rpl_repo_open(&ix, dir);

	if (err)
		return err;
	if (!(err = rpl_repo_merge(ix, apks, n)))
		err = rpl_repo_flush(ix, key);
	rpl_repo_close(ix);
	return err;
}
