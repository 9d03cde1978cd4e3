/*
 * tar headers the way Go's archive/tar writes them (melange and
 * apko write with it): USTAR, with a PAX header before an entry that needs one (a record
 * of its own, a name that cannot be split into USTAR's prefix and name, a
 * long link).  Apks and image layers are written with these; libarchive
 * cannot write PAX records of other names than its own.
 */
#include "runners/tar.h"
#include "common/error.h"
#include "common/strbuf.h"

#include <stdio.h>
#include <string.h>
#include <zlib.h>

/* A zero-padded octal field of `width` bytes, the last one NUL. */
static void octal(char *field, size_t width, uint64_t v)
{
	field[width - 1] = '\0';
	for (size_t i = width - 1; i-- > 0; v >>= 3)
		field[i] = (char)('0' + (v & 7));
}

static void pax_record(struct rpl_strbuf *b, const char *k, const char *v)
{
	size_t body = 1 + strlen(k) + 1 + strlen(v) + 1, n = body + 1;
	char lenbuf[32];

	/* The length counts its own digits. */
	for (;;) {
		snprintf(lenbuf, sizeof(lenbuf), "%zu", n);
		if (strlen(lenbuf) + body == n)
			break;
		n = strlen(lenbuf) + body;
	}
	rpl_strbuf_addf(b, "%zu %s=%s\n", n, k, v);
}

static void checksum(unsigned char *h)
{
	unsigned sum = 0;

	memset(h + 148, ' ', 8);
	for (size_t i = 0; i < 512; i++)
		sum += h[i];
	snprintf((char *)h + 148, 8, "%06o", sum);
	h[155] = ' ';
}

void rpl_tar_pad(struct rpl_strbuf *out, size_t n)
{
	static const char zeros[512];

	if (n % 512)
		rpl_strbuf_add(out, zeros, 512 - n % 512);
}

/* Splits a long name into ustar's prefix and name; 0 when it cannot. */
static int split(const char *name, size_t *at)
{
	size_t len = strlen(name);

	for (size_t i = len > 101 ? len - 101 : 0; i < len && i <= 155; i++)
		if (name[i] == '/' && i > 0 && len - i - 1 <= 100 && len - i - 1 > 0) {
			*at = i;
			return 1;
		}
	return 0;
}

void rpl_tar_header(struct rpl_strbuf *out, const struct rpl_tar_entry *e)
{
	unsigned char h[512];
	size_t nlen = strlen(e->name), at = 0;
	int long_name = nlen > 100, long_link = e->link && strlen(e->link) > 100;
	int pax = e->sha1 || long_link || (long_name && (e->sha1 || !split(e->name, &at)));

	if (pax) {
		struct rpl_strbuf rec = RPL_STRBUF_INIT;
		char pname[256];
		const char *slash = strrchr(e->name, '/');

		/* Records in key order: APK-TOOLS... < linkpath < path. */
		if (e->sha1)
			pax_record(&rec, "APK-TOOLS.checksum.SHA1", e->sha1);
		if (long_link)
			pax_record(&rec, "linkpath", e->link);
		if (long_name)
			pax_record(&rec, "path", e->name);
		if (slash)
			snprintf(pname, sizeof(pname), "%.*s/PaxHeaders.0/%s",
			         (int)(slash - e->name), e->name, slash + 1);
		else
			snprintf(pname, sizeof(pname), "PaxHeaders.0/%s", e->name);
		memset(h, 0, sizeof(h));
		memcpy(h, pname, strlen(pname) < 100 ? strlen(pname) : 100);
		octal((char *)h + 100, 8, 0);
		octal((char *)h + 108, 8, 0);
		octal((char *)h + 116, 8, 0);
		octal((char *)h + 124, 12, rec.len);
		octal((char *)h + 136, 12, 0);
		h[156] = 'x';
		memcpy(h + 257,
		       "ustar\0"
		       "00",
		       8);
		checksum(h);
		rpl_strbuf_add(out, h, 512);
		rpl_strbuf_add(out, rec.buf, rec.len);
		rpl_tar_pad(out, rec.len);
		rpl_strbuf_release(&rec);
		at = 0;
	} else if (long_name) {
		split(e->name, &at);
	}
	memset(h, 0, sizeof(h));
	if (at) {
		memcpy(h + 345, e->name, at);
		memcpy(h, e->name + at + 1, nlen - at - 1);
	} else {
		memcpy(h, e->name, nlen < 100 ? nlen : 100);
	}
	octal((char *)h + 100, 8, e->mode & 07777);
	octal((char *)h + 108, 8, e->uid);
	octal((char *)h + 116, 8, e->gid);
	octal((char *)h + 124, 12, e->size);
	octal((char *)h + 136, 12, (uint64_t)(e->mtime > 0 ? e->mtime : 0));
	h[156] = (unsigned char)e->type;
	if (e->link)
		memcpy(h + 157, e->link, strlen(e->link) < 100 ? strlen(e->link) : 100);
	memcpy(h + 257,
	       "ustar\0"
	       "00",
	       8);
	if (e->owner) {
		memcpy(h + 265, e->owner, strlen(e->owner) < 32 ? strlen(e->owner) : 31);
		memcpy(h + 297, e->group ? e->group : e->owner,
		       strlen(e->group ? e->group : e->owner) < 32
		               ? strlen(e->group ? e->group : e->owner)
		               : 31);
	}
	octal((char *)h + 329, 8, e->devmajor);
	octal((char *)h + 337, 8, e->devminor);
	checksum(h);
	rpl_strbuf_add(out, h, 512);
}

int rpl_gzip(const void *data, size_t len, int os_unknown, struct rpl_strbuf *out)
{
	z_stream z;
	gz_header h;
	unsigned char chunk[65536];
	int rc;

	memset(&z, 0, sizeof(z));
	memset(&h, 0, sizeof(h));
	if (deflateInit2(&z, Z_BEST_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) !=
	    Z_OK)
		return rpl_error(-RPL_ELIB, "zlib: cannot start deflating");
	if (os_unknown) {
		h.os = 255;
		deflateSetHeader(&z, &h);
	}
	z.next_in = (unsigned char *)data;
	/* avail_in is 32 bits: more than 4 GiB goes in in slices. */
	do {
		size_t slice = len > 1u << 30 ? 1u << 30 : len;
		int flush = slice == len ? Z_FINISH : Z_NO_FLUSH;
		z.avail_in = (uInt)slice;
		len -= slice;
		do {
			z.next_out = chunk;
			z.avail_out = sizeof(chunk);
			rc = deflate(&z, flush);
			rpl_strbuf_add(out, chunk, sizeof(chunk) - z.avail_out);
		} while (rc == Z_OK && (flush == Z_FINISH || z.avail_in));
	} while (rc == Z_OK && len);
	deflateEnd(&z);
	return rc == Z_STREAM_END ? 0 : rpl_error(-RPL_ELIB, "zlib: deflate failed");
}
