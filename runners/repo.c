#include "runners/repo.h"
#include "common/error.h"
#include "common/sha256.h"
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
#include <dirent.h>
#include <sys/stat.h>
#include <time.h>
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
	s->name = rpl_strfmt("%s.pub", base ? base + 1 : path);
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
	pubpath = rpl_strfmt("%s.pub", path);
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

int rpl_signer_write_public(const struct rpl_signer *s, const char *path)
{
	char *pub = NULL;
	size_t len = 0;
	int err = pem_of(s->key, 0, &pub, &len);

	if (!err)
		err = rpl_write_file_atomic(path, pub, len);
	free(pub);
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
	name = rpl_strfmt(".SIGN.RSA256.%s", k->name);
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

/* ---- what an apk's record says of it --------------------------------------------------- */

/* "Q1" and the base64 of a control member's SHA-1: the C: of a record. */
static void csum_text(const uint8_t sha1[RPL_SHA1_LEN], char out[RPL_REPO_CSUM_LEN])
{
	unsigned char b64[64];

	if (EVP_EncodeBlock(b64, sha1, RPL_SHA1_LEN) != 28)
		RPL_BUG("the base64 of a SHA-1 is 28 characters");
	out[0] = 'Q';
	out[1] = '1';
	memcpy(out + 2, b64, 29);
}

/* One line's value of a record ("C:" -> after it, up to the newline), or "". */
static void record_field(const char *text, const char *key, char *out, size_t n)
{
	size_t kl = strlen(key);

	*out = '\0';
	for (const char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
		if (!strncmp(l, key, kl)) {
			size_t vl = strcspn(l + kl, "\n");
			snprintf(out, n, "%.*s", (int)(vl < n ? vl : n - 1), l + kl);
			return;
		}
}

struct control_seek {
	int members;
	int found;
	uint8_t sha1[RPL_SHA1_LEN];
};

/* The first gzip members of an apk: a signature (skipped), then the control member. */
static int control_member(void *ctx, const void *member, size_t member_len, const void *out,
                          size_t out_len)
{
	struct control_seek *c = ctx;
	struct archive *a;
	struct archive_entry *e;
	int signature = 0;

	if (c->members++ == 0 && out_len >= 512) {
		/* The signature member's one entry is named .SIGN.*, as rpl_apk_read
		 * sees it.  A plain header says so itself (name at 0, type at 156,
		 * no ustar prefix at 345); another (a PAX or GNU long name, a
		 * prefix) is left to libarchive. */
		const char *h = out;
		if ((h[156] == '0' || h[156] == '\0') && h[345] == '\0')
			signature = !strncmp(h, ".SIGN.", 6);
		else
			signature = -1;
	}
	if (signature == 1)
		return 0;
	if (signature == -1) {
		signature = 0;
		a = archive_read_new();
		archive_read_support_format_tar(a);
		if (archive_read_open_memory(a, out, out_len) == ARCHIVE_OK &&
		    archive_read_next_header(a, &e) == ARCHIVE_OK && archive_entry_pathname(e))
			signature = !strncmp(archive_entry_pathname(e), ".SIGN.", 6);
		archive_read_free(a);
		if (signature)
			return 0;
	}
	EVP_Digest(member, member_len, c->sha1, NULL, EVP_sha1(), NULL);
	c->found = 1;
	return 1;
}

/*
 * The C: of the apk at `path`, reading no further into the file than its
 * control member (a few kilobytes, whatever the size of the package).
 * Returns 0, or an error when it is not an apk.
 */
static int control_csum(const char *path, char out[RPL_REPO_CSUM_LEN])
{
	struct control_seek c;
	size_t len = 0, cap = 65536;
	char *buf = NULL;
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC), eof = 0, err = 0;

	if (fd < 0)
		return rpl_error(-errno, "cannot open '%s': %s", path, strerror(errno));
	/* Read more only while the control member is cut short. */
	for (;;) {
		ssize_t r;
		buf = rpl_xrealloc(buf, cap);
		while (len < cap && (r = read(fd, buf + len, cap - len)) != 0) {
			if (r < 0 && errno == EINTR)
				continue;
			if (r < 0) {
				err = rpl_error(-errno, "cannot read '%s': %s", path,
				                strerror(errno));
				goto out;
			}
			len += (size_t)r;
		}
		eof = len < cap;
		memset(&c, 0, sizeof(c));
		err = rpl_gzip_members(buf, len, MAX_INDEX, control_member, &c);
		if (c.found || eof || cap >= MAX_INDEX)
			break;
		cap *= 4;
	}
	if (c.found) {
		err = 0;
		csum_text(c.sha1, out);
	} else {
		err = rpl_error(-RPL_EPARSE, "'%s' is not an apk: %s", path,
		                err ? rpl_errmsg() : "no control section");
	}
out:
	close(fd);
	free(buf);
	return err;
}

/* What the index knows of a file of its directory (rpl_repo_know, rpl_repo_check). */
struct known {
	struct rpl_repo_seen s;
	int gone;    /* forgotten: not listed any more */
	int changed; /* since rpl_repo_seen_changes last told */
};

struct rpl_repo_index {
	char *dir, *path;
	struct records rs;
	char *description;
	int loaded, dirty;
	struct rpl_strmap known; /* apk file name -> struct known */
	struct rpl_arena mem;    /* its keys and values */
	struct known index;      /* APKINDEX.tar.gz itself */
	int have_index;
};

/*
 * The wall-clock time now, in ns: a timestamp that is stored (`seen_ns`)
 * and compared with files' mtimes, so CLOCK_REALTIME, not the monotonic
 * clock that durations are measured with (uv_hrtime()).
 */
static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* lstat's size, mtime and inode of `path`, seen now. */
static int seen_of(const char *path, struct rpl_repo_seen *s)
{
	struct stat sb;

	memset(s, 0, sizeof(*s));
	s->seen_ns = now_ns(); /* before the stat: the safe side of the racy rule */
	if (lstat(path, &sb) < 0)
		return -errno;
	s->size = (int64_t)sb.st_size;
	s->mtime_ns = (int64_t)sb.st_mtim.tv_sec * 1000000000 + sb.st_mtim.tv_nsec;
	s->ino = (int64_t)sb.st_ino;
	return 0;
}

static int same_stat(const struct rpl_repo_seen *a, const struct rpl_repo_seen *b)
{
	return a->size == b->size && a->mtime_ns == b->mtime_ns && a->ino == b->ino;
}

/*
 * Git's racy rule: a file modified less than a second before it was seen
 * may have been modified again within the same timestamp tick, unseen.
 */
static int racy(const struct rpl_repo_seen *s)
{
	return s->mtime_ns >= s->seen_ns - 1000000000;
}

static struct known *known_slot(struct rpl_repo_index *ix, const char *name)
{
	struct rpl_strmap_slot *slot = rpl_strmap_slot(&ix->known, name);

	if (!slot->value) {
		slot->key = rpl_arena_strdup(&ix->mem, name);
		slot->value = rpl_arena_alloc(&ix->mem, sizeof(struct known));
		((struct known *)slot->value)->gone = 1;
	}
	return slot->value;
}

static void know(struct rpl_repo_index *ix, const char *name, const struct rpl_repo_seen *s)
{
	struct known *k = known_slot(ix, name);

	k->s = *s;
	k->gone = 0;
	k->changed = 1;
}

/* The index read from its file, once; none yet is an empty one. */
static int load(struct rpl_repo_index *ix)
{
	char *data = NULL;
	size_t len;
	int err;

	if (ix->loaded)
		return 0;
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
	if (err)
		return rpl_error(err, "cannot update '%s': %s", ix->path, rpl_errmsg());
	ix->loaded = 1;
	return 0;
}

int rpl_repo_open_lazy(struct rpl_repo_index **out, const char *dir)
{
	struct rpl_repo_index *ix = rpl_xcalloc(1, sizeof(*ix));

	rpl_arena_init(&ix->rs.keys);
	rpl_arena_init(&ix->mem);
	ix->dir = rpl_xstrdup(dir);
	ix->path = rpl_path_join(dir, "APKINDEX.tar.gz");
	*out = ix;
	return 0;
}

int rpl_repo_open(struct rpl_repo_index **out, const char *dir)
{
	int err = rpl_repo_open_lazy(out, dir);

	if (!err && (err = load(*out))) {
		rpl_repo_close(*out);
		*out = NULL;
	}
	return err;
}

/* The name of `path` in the index's directory, or NULL when it lies elsewhere. */
static const char *name_in_dir(const struct rpl_repo_index *ix, const char *path)
{
	const char *base = strrchr(path, '/');
	size_t n = base ? (size_t)(base - path) : 0;

	if (!base)
		return !strcmp(ix->dir, ".") ? path : NULL;
	return strlen(ix->dir) == n && !strncmp(ix->dir, path, n) ? base + 1 : NULL;
}

int rpl_repo_merge(struct rpl_repo_index *ix, char *const *apks, size_t n)
{
	char **recs = rpl_xcalloc(n + 1, sizeof(*recs));
	struct rpl_repo_seen *seen = rpl_xcalloc(n + 1, sizeof(*seen));
	int err = load(ix);

	/* All or nothing: every apk is read before any record goes in.  Each
	 * is stat'ed before it is read: a file replaced in between is seen as
	 * changed by the next check, never the other way round. */
	for (size_t i = 0; i < n && !err; i++) {
		struct rpl_apk a;
		int stat_err = seen_of(apks[i], &seen[i]);
		if (!(err = rpl_apk_read(apks[i], &a))) {
			recs[i] = rpl_apk_index_record(&a);
			if (stat_err)
				seen[i].seen_ns = -1;
			else
				csum_text(a.control_sha1, seen[i].csum);
			rpl_apk_release(&a);
		}
	}
	for (size_t i = 0; i < n; i++) {
		const char *name = name_in_dir(ix, apks[i]);
		if (err) {
			free(recs[i]);
			continue;
		}
		merge(&ix->rs, recs[i]);
		if (name && seen[i].seen_ns >= 0)
			know(ix, name, &seen[i]);
	}
	free(recs);
	free(seen);
	if (err)
		return rpl_error(err, "cannot update '%s': %s", ix->path, rpl_errmsg());
	ix->dirty |= n > 0;
	return 0;
}

int rpl_repo_flush(struct rpl_repo_index *ix, const struct rpl_signer *key)
{
	struct rpl_strbuf text = RPL_STRBUF_INIT, tar = RPL_STRBUF_INIT, gz = RPL_STRBUF_INIT,
	                  out = RPL_STRBUF_INIT;
	int err = load(ix);

	if (err || !ix->dirty)
		return err;
	for (size_t i = 0; i < ix->rs.n; i++)
		if (ix->rs.v[i].text) /* NULL: dropped by a check */
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
	if (!(err = rpl_write_file_atomic(ix->path, out.buf, out.len))) {
		ix->dirty = 0;
		if (seen_of(ix->path, &ix->index.s) == 0) {
			ix->have_index = 1;
			ix->index.changed = 1;
		}
	}
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

/* ---- keeping the index true to its directory ---------------------------------------------- */

void rpl_repo_know(struct rpl_repo_index *ix, const char *name, const struct rpl_repo_seen *s)
{
	if (!strcmp(name, "APKINDEX.tar.gz")) {
		ix->index.s = *s;
		ix->index.gone = 0;
		ix->have_index = 1;
		return;
	}
	know(ix, name, s);
	known_slot(ix, name)->changed = 0; /* as stored */
}

int rpl_repo_lists(const struct rpl_repo_index *ix, const char *name)
{
	const struct known *k = rpl_strmap_get(&ix->known, name);

	return k && !k->gone;
}

void rpl_repo_seen_changes(struct rpl_repo_index *ix,
                           void (*fn)(void *ctx, const char *name, const struct rpl_repo_seen *s),
                           void *ctx)
{
	for (size_t i = 0; i < ix->known.cap; i++) {
		const struct rpl_strmap_slot *slot = &ix->known.slots[i];
		struct known *k = slot->key ? slot->value : NULL;
		if (!k || !k->changed)
			continue;
		fn(ctx, slot->key, k->gone ? NULL : &k->s);
		k->changed = 0;
	}
	if (ix->index.changed) {
		fn(ctx, "APKINDEX.tar.gz", ix->have_index ? &ix->index.s : NULL);
		ix->index.changed = 0;
	}
}

/* An apk of the directory, as listed now. */
struct disk_apk {
	char *name;
	struct rpl_repo_seen s;
	int listed; /* by a record of the index */
	int read;   /* found to be no apk for it */
};

struct disk {
	struct disk_apk *v;
	size_t n, alloc;
	struct rpl_strmap at; /* name -> struct disk_apk * (set once the list is whole) */
	struct rpl_repo_seen index;
	int have_index;
};

static void disk_release(struct disk *d)
{
	for (size_t i = 0; i < d->n; i++)
		free(d->v[i].name);
	free(d->v);
	rpl_strmap_release(&d->at);
}

/* The regular files `*.apk` of the directory and its index, with their stats. */
static int list_disk(struct rpl_repo_index *ix, struct disk *d)
{
	DIR *dir = opendir(ix->dir);
	struct dirent *de;
	int err = 0;

	memset(d, 0, sizeof(*d));
	if (!dir)
		return errno == ENOENT ? 0
		                       : rpl_error(-errno, "cannot read '%s': %s", ix->dir,
		                                   strerror(errno));
	while ((de = readdir(dir))) {
		struct rpl_repo_seen s;
		char *path;
		int is_index = !strcmp(de->d_name, "APKINDEX.tar.gz");
		if (de->d_name[0] == '.' || (!is_index && !rpl_str_endswith(de->d_name, ".apk")))
			continue;
		path = rpl_path_join(ix->dir, de->d_name);
		err = seen_of(path, &s);
		free(path);
		if (err == -ENOENT) { /* gone meanwhile */
			err = 0;
			continue;
		}
		if (err) {
			err = rpl_error(err, "cannot stat '%s/%s': %s", ix->dir, de->d_name,
			                strerror(-err));
			break;
		}
		if (is_index) {
			d->index = s;
			d->have_index = 1;
			continue;
		}
		RPL_ALLOC_GROW(d->v, d->n + 1, d->alloc);
		d->v[d->n].name = rpl_xstrdup(de->d_name);
		d->v[d->n].s = s;
		d->v[d->n].listed = 0;
		d->v[d->n++].read = 0;
	}
	closedir(dir);
	for (size_t i = 0; i < d->n; i++) {
		struct rpl_strmap_slot *slot = rpl_strmap_slot(&d->at, d->v[i].name);
		slot->key = d->v[i].name;
		slot->value = &d->v[i];
	}
	return err;
}

/* The known entry of `name` when the file is still exactly as seen then. */
static const struct known *unchanged(const struct rpl_repo_index *ix, const struct disk_apk *f)
{
	const struct known *k = rpl_strmap_get(&ix->known, f->name);

	return k && !k->gone && same_stat(&k->s, &f->s) && !racy(&k->s) ? k : NULL;
}

/*
 * Whether the directory is as ripple last saw it: the same index file, the
 * same apks.  Apks whose stat alone changed (touched, copied back, or seen
 * too soon after they were written) have their control member's SHA-1
 * taken again: the same as seen, and the index still describes them.
 */
static int as_seen(struct rpl_repo_index *ix, const struct disk *d)
{
	size_t nknown = 0;

	if (ix->dirty || d->have_index != ix->have_index ||
	    (d->have_index && (!same_stat(&d->index, &ix->index.s) || racy(&ix->index.s))))
		return 0;
	for (size_t i = 0; i < ix->known.cap; i++)
		if (ix->known.slots[i].key && !((struct known *)ix->known.slots[i].value)->gone)
			nknown++;
	if (nknown != d->n)
		return 0;
	for (size_t i = 0; i < d->n; i++) {
		const struct known *k = rpl_strmap_get(&ix->known, d->v[i].name);
		if (!k || k->gone || k->s.size != d->v[i].s.size)
			return 0;
	}
	for (size_t i = 0; i < d->n; i++) {
		struct known *k = rpl_strmap_get(&ix->known, d->v[i].name);
		char csum[RPL_REPO_CSUM_LEN], *path;
		int err;
		if (unchanged(ix, &d->v[i]))
			continue;
		path = rpl_path_join(ix->dir, d->v[i].name);
		err = control_csum(path, csum);
		free(path);
		if (err || strcmp(csum, k->s.csum))
			return 0;
		memcpy(csum, k->s.csum, sizeof(csum));
		k->s = d->v[i].s;
		memcpy(k->s.csum, csum, sizeof(csum));
		k->changed = 1;
	}
	return 1;
}

/*
 * The record of the apk `path` read whole, for an index: NULL when it is
 * not an apk, or not a whole one (its data section is not what its
 * datahash says: cut short, or damaged), or not the package `name` says.
 */
static char *record_of(const char *path, const char *name, char csum[RPL_REPO_CSUM_LEN])
{
	struct rpl_apk a;
	char hex[65], *rec = NULL, *want;

	if (rpl_apk_read(path, &a)) {
		rpl_warn("%s; left out of the index", rpl_errmsg());
		return NULL;
	}
	rpl_hex(a.data_sha256, sizeof(a.data_sha256), hex);
	want = rpl_strfmt("%s-%s.apk", a.pkgname, a.pkgver);
	if (a.datahash && strcmp(a.datahash, hex))
		rpl_warn("'%s' is not a whole apk (its data is not what its datahash says); "
		         "left out of the index",
		         path);
	else if (strcmp(want, name))
		rpl_warn("'%s' holds %s; left out of the index", path, want);
	else {
		rec = rpl_apk_index_record(&a);
		csum_text(a.control_sha1, csum);
	}
	free(want);
	rpl_apk_release(&a);
	return rec;
}

/* The index read for a check: one that cannot be read is made again from the apks. */
static int load_for_check(struct rpl_repo_index *ix)
{
	int err = load(ix);

	if (err == -RPL_EPARSE) {
		rpl_warn("%s; making it again from the apks there", rpl_errmsg());
		records_release(&ix->rs);
		rpl_arena_init(&ix->rs.keys);
		ix->loaded = ix->dirty = 1;
		err = 0;
	}
	return err;
}

/* What was known as listed is forgotten; NULL (never known) is left so. */
static void forget(struct known *k)
{
	if (k && !k->gone) {
		k->gone = 1;
		k->changed = 1;
	}
}

/*
 * The record `r` against its file in `d`: dropped when the file is gone,
 * read again when the file is another build than it says (or no apk), and
 * known as seen when it stays.  Each mend and each finding goes to `fix`.
 */
static void check_record(struct rpl_repo_index *ix, struct disk *d, struct record *r,
                         rpl_repo_fix_fn fix, void *ctx)
{
	char name[1024], c[RPL_REPO_CSUM_LEN], idx_c[64], idx_s[32], *path;
	struct disk_apk *f;
	const struct known *k;
	struct known *was;
	const char *nl;

	if (!r->text || !r->key || !(nl = strchr(r->key, '\n')))
		return;
	snprintf(name, sizeof(name), "%.*s-%s.apk", (int)(nl - r->key), r->key, nl + 1);
	was = rpl_strmap_get(&ix->known, name);
	if (!(f = rpl_strmap_get(&d->at, name))) {
		free(r->text);
		r->text = NULL;
		ix->dirty = 1;
		forget(was);
		fix(ctx, name, "gone", 1);
		return;
	}
	f->listed = 1;
	record_field(r->text, "C:", idx_c, sizeof(idx_c));
	record_field(r->text, "S:", idx_s, sizeof(idx_s));
	path = rpl_path_join(ix->dir, name);
	if ((k = unchanged(ix, f)))
		memcpy(c, k->s.csum, sizeof(c));
	else if (control_csum(path, c))
		*c = '\0';
	if (!*c || strcmp(c, idx_c) || strtoll(idx_s, NULL, 10) != f->s.size) {
		/* Another build of it than the index says, or not an apk at all. */
		char *rec = *c ? record_of(path, name, c) : NULL;
		if (!*c)
			rpl_warn("%s; left out of the index", rpl_errmsg());
		free(r->text);
		r->text = rec;
		f->read = !rec;
		ix->dirty = 1;
		fix(ctx, name, rec ? "another build of it than the index listed" : "not an apk", 1);
	} else if (was && !was->gone && strcmp(was->s.csum, c)) {
		/* As the index says, but not as ripple last saw it listed. */
		fix(ctx, name, "written since ripple last saw it indexed", 0);
	}
	free(path);
	if (r->text) {
		struct rpl_repo_seen s = f->s;
		memcpy(s.csum, c, sizeof(s.csum));
		know(ix, name, &s);
	} else {
		f->listed = 0;
		forget(was);
	}
}

/* Apks that no record lists, and that are whole apks, are added to the index. */
static void add_unlisted(struct rpl_repo_index *ix, struct disk *d, rpl_repo_fix_fn fix, void *ctx)
{
	for (size_t i = 0; i < d->n; i++) {
		struct disk_apk *f = &d->v[i];
		char c[RPL_REPO_CSUM_LEN], *path, *rec;
		if (f->listed || f->read)
			continue;
		path = rpl_path_join(ix->dir, f->name);
		if ((rec = record_of(path, f->name, c))) {
			struct rpl_repo_seen s = f->s;
			merge(&ix->rs, rec);
			memcpy(s.csum, c, sizeof(s.csum));
			know(ix, f->name, &s);
			f->listed = 1;
			ix->dirty = 1;
			fix(ctx, f->name, "not in the index", 1);
		}
		free(path);
	}
}

/* What was known and is no longer listed is forgotten. */
static void forget_unlisted(struct rpl_repo_index *ix, const struct disk *d, rpl_repo_fix_fn fix,
                            void *ctx)
{
	for (size_t i = 0; i < ix->known.cap; i++) {
		struct known *k = ix->known.slots[i].key ? ix->known.slots[i].value : NULL;
		const struct disk_apk *f;
		if (!k || k->gone)
			continue;
		f = rpl_strmap_get(&d->at, ix->known.slots[i].key);
		if (!f || !f->listed)
			forget(k);
		/* Seen indexed, and now neither in the index nor there. */
		if (!f)
			fix(ctx, ix->known.slots[i].key, "gone", 0);
	}
}

/* Whether the checked index is to be written, and if not, that it was seen now. */
static void settle_index(struct rpl_repo_index *ix, const struct disk *d)
{
	/* No index where there was none and nothing to list: none to write. */
	if (!d->have_index) {
		size_t live = 0;
		for (size_t i = 0; i < ix->rs.n; i++)
			live += ix->rs.v[i].text != NULL;
		if (!live)
			ix->dirty = 0;
	}
	/* An index that stays as it is was seen now. */
	if (!ix->dirty) {
		ix->have_index = d->have_index;
		ix->index.s = d->index;
		ix->index.changed = 1;
	}
}

int rpl_repo_check(struct rpl_repo_index *ix, rpl_repo_fix_fn fix, void *ctx)
{
	struct disk d;
	int err = list_disk(ix, &d);

	if (err)
		goto out;
	if (as_seen(ix, &d))
		goto out; /* err = 0: the index was not read */
	if ((err = load_for_check(ix)))
		goto out;
	for (size_t i = 0; i < ix->rs.n; i++)
		check_record(ix, &d, &ix->rs.v[i], fix, ctx);
	add_unlisted(ix, &d, fix, ctx);
	forget_unlisted(ix, &d, fix, ctx);
	settle_index(ix, &d);
	err = 1;
out:
	disk_release(&d);
	return err;
}

void rpl_repo_close(struct rpl_repo_index *ix)
{
	if (!ix)
		return;
	records_release(&ix->rs);
	rpl_strmap_release(&ix->known);
	rpl_arena_release(&ix->mem);
	free(ix->description);
	free(ix->dir);
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
