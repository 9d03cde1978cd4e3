/*
 * An apk's signature and data checked against trusted keys
 * (runners/apkverify.h).  The package is parsed by runners/apk.c, which
 * gives the sections' offsets and the data member's sha256; the signature
 * entry is read from the first member with libarchive, and verified with
 * OpenSSL: RSA PKCS#1 v1.5 over SHA-256 (.SIGN.RSA256., what ripple and
 * current melange write) or over SHA-1 (.SIGN.RSA., apk-tools' older form).
 */
#include "runners/apkverify.h"
#include "common/error.h"
#include "common/sha256.h"
#include "common/xalloc.h"
#include "runners/apk.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct sig {
	char *entry; /* ".SIGN.RSA256.<key>" */
	unsigned char *bytes;
	size_t len;
	int err;
};

/* The one entry of the signature member (its decompressed tar). */
static int sig_member(void *ctx, const void *member, size_t member_len, const void *out,
                      size_t out_len)
{
	struct sig *s = ctx;
	struct archive *a = archive_read_new();
	struct archive_entry *e;

	(void)member;
	(void)member_len;
	archive_read_support_format_tar(a);
	if (archive_read_open_memory(a, out, out_len) != ARCHIVE_OK ||
	    archive_read_next_header(a, &e) != ARCHIVE_OK) {
		s->err = -RPL_EPARSE;
	} else {
		la_int64_t size = archive_entry_size(e);
		s->entry = rpl_xstrdup(archive_entry_pathname(e) ? archive_entry_pathname(e) : "");
		if (size <= 0 || size > 65536) {
			s->err = -RPL_EPARSE;
		} else {
			s->bytes = rpl_xmalloc((size_t)size);
			if (archive_read_data(a, s->bytes, (size_t)size) != size)
				s->err = -RPL_EPARSE;
			s->len = (size_t)size;
		}
	}
	archive_read_free(a);
	return 1; /* only the first member */
}

/* Whether the PEM public key at `path` verifies `sig` over `data` with `md`. */
static int verifies(const char *path, const EVP_MD *md, const struct sig *sig, const void *data,
                    size_t len)
{
	FILE *f = fopen(path, "r");
	EVP_PKEY *key;
	EVP_MD_CTX *ctx;
	int ok;

	if (!f)
		return 0;
	key = PEM_read_PUBKEY(f, NULL, NULL, NULL);
	fclose(f);
	if (!key) {
		ERR_clear_error();
		return 0;
	}
	ctx = EVP_MD_CTX_new();
	ok = EVP_DigestVerifyInit(ctx, NULL, md, NULL, key) == 1 &&
	     EVP_DigestVerify(ctx, sig->bytes, sig->len, data, len) == 1;
	ERR_clear_error();
	EVP_MD_CTX_free(ctx);
	EVP_PKEY_free(key);
	return ok;
}

int rpl_apk_verify(const void *data, size_t len, const char *name, char *const *keys, size_t nkeys)
{
	struct rpl_apk a;
	struct sig sig = { NULL, NULL, 0, 0 };
	const EVP_MD *md;
	char hex[2 * RPL_SHA256_LEN + 1];
	int err;

	memset(&a, 0, sizeof(a));
	if ((err = rpl_apk_read_memory(data, len, name, &a)))
		return err;
	if (!a.signature_key) {
		err = rpl_error(-RPL_EPARSE, "'%s' is not signed", name);
		goto out;
	}
	rpl_hex(a.data_sha256, sizeof(a.data_sha256), hex);
	if (!a.datahash || strcmp(a.datahash, hex)) {
		err = rpl_error(-RPL_EPARSE,
		                "'%s': its data section is not what its datahash says (sha256 %s)",
		                name, hex);
		goto out;
	}
	err = rpl_gzip_members(data, (size_t)a.control_off, 65536, sig_member, &sig);
	if (!err && (sig.err || !sig.entry))
		err = -RPL_EPARSE;
	if (err) {
		err = rpl_error(-RPL_EPARSE, "'%s': its signature cannot be read", name);
		goto out;
	}
	if (!strncmp(sig.entry, ".SIGN.RSA256.", 13))
		md = EVP_sha256();
	else if (!strncmp(sig.entry, ".SIGN.RSA.", 10))
		md = EVP_sha1();
	else {
		err = rpl_error(-RPL_EPARSE, "'%s': a signature of a kind not known ('%s')", name,
		                sig.entry);
		goto out;
	}
	err = rpl_error(-RPL_EPARSE, "'%s' is signed by %s, which no trusted key verifies", name,
	                a.signature_key);
	for (size_t i = 0; i < nkeys; i++)
		if (verifies(keys[i], md, &sig, (const char *)data + a.control_off,
		             (size_t)(a.data_off - a.control_off))) {
			err = 0;
			rpl_error_clear();
			break;
		}
out:
	free(sig.entry);
	free(sig.bytes);
	rpl_apk_release(&a);
	return err;
}
