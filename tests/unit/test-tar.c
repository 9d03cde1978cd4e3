/*
 * The tar writer (runners/tar.c) and its gzip companion, read back by
 * libarchive and zlib, the readers apk-tools and image tools rely on:
 * every entry type with its metadata, names that fit USTAR's name and
 * prefix fields and names and links that need a PAX header, the apk
 * checksum record, the header checksum and padding, the same bytes for the
 * same entries, and gzip members (one and several, Go's OS byte).
 */
#include "runners/tar.h"
#include "common/strbuf.h"

#include <archive.h>
#include <archive_entry.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include <cmocka.h>

/* ---- writing and reading ------------------------------------------------------------ */

/* Appends `e` and its content (files only) to `tar`. */
static void put(struct rpl_strbuf *tar, struct rpl_tar_entry e, const char *content)
{
	if (content)
		e.size = strlen(content);
	rpl_tar_header(tar, &e);
	if (content) {
		rpl_strbuf_add(tar, content, e.size);
		rpl_tar_pad(tar, e.size);
	}
}

/* The two zero blocks that end an archive. */
static void finish(struct rpl_strbuf *tar)
{
	static const char zeros[1024];

	rpl_strbuf_add(tar, zeros, sizeof(zeros));
}

struct got {
	char name[512], link[512], uname[64], gname[64], content[256];
	unsigned mode, type; /* AE_IF* */
	int64_t size, mtime, uid, gid;
	unsigned devmajor, devminor;
	int hardlink;
};

/* Reads every entry of `tar` with libarchive (at most `max`); returns how many. */
static size_t read_all(const struct rpl_strbuf *tar, struct got *out, size_t max)
{
	struct archive *a = archive_read_new();
	struct archive_entry *ae;
	size_t n = 0;
	int rc;

	archive_read_support_format_tar(a);
	archive_read_support_filter_gzip(a);
	if (archive_read_open_memory(a, tar->buf, tar->len) != ARCHIVE_OK)
		fail_msg("libarchive: %s", archive_error_string(a));
	while ((rc = archive_read_next_header(a, &ae)) == ARCHIVE_OK) {
		struct got *g = &out[n];
		const char *s;
		la_ssize_t got;

		if (n == max)
			fail_msg("more than %zu entries", max);
		memset(g, 0, sizeof(*g));
		snprintf(g->name, sizeof(g->name), "%s", archive_entry_pathname(ae));
		if ((s = archive_entry_hardlink(ae))) {
			g->hardlink = 1;
			snprintf(g->link, sizeof(g->link), "%s", s);
		} else if ((s = archive_entry_symlink(ae))) {
			snprintf(g->link, sizeof(g->link), "%s", s);
		}
		if ((s = archive_entry_uname(ae)))
			snprintf(g->uname, sizeof(g->uname), "%s", s);
		if ((s = archive_entry_gname(ae)))
			snprintf(g->gname, sizeof(g->gname), "%s", s);
		g->mode = archive_entry_mode(ae) & 07777;
		g->type = archive_entry_filetype(ae);
		g->size = archive_entry_size(ae);
		g->mtime = archive_entry_mtime(ae);
		g->uid = archive_entry_uid(ae);
		g->gid = archive_entry_gid(ae);
		g->devmajor = (unsigned)archive_entry_rdevmajor(ae);
		g->devminor = (unsigned)archive_entry_rdevminor(ae);
		got = archive_read_data(a, g->content, sizeof(g->content) - 1);
		if (got < 0)
			fail_msg("libarchive: %s", archive_error_string(a));
		g->content[got] = '\0';
		n++;
	}
	if (rc != ARCHIVE_EOF)
		fail_msg("libarchive: %s", archive_error_string(a));
	archive_read_free(a);
	return n;
}

/* The 512-byte header blocks of `tar` whose type flag is `type`. */
static size_t count_type(const struct rpl_strbuf *tar, char type, size_t *first)
{
	size_t n = 0;

	for (size_t off = 0; off + 512 <= tar->len; off += 512) {
		const unsigned char *h = (const unsigned char *)tar->buf + off;
		if (!memcmp(h + 257, "ustar", 5) && h[156] == (unsigned char)type) {
			if (!n && first)
				*first = off;
			n++;
		}
	}
	return n;
}

/* ---- entries ------------------------------------------------------------------------ */

static void test_every_type_round_trips(void **state)
{
	struct rpl_strbuf tar = RPL_STRBUF_INIT;
	struct got g[8];
	struct rpl_tar_entry dir = {
		.name = "usr/share", .type = '5', .mode = 0755, .mtime = 1700000000
	};
	struct rpl_tar_entry file = { .name = "usr/share/hello",
		                      .type = '0',
		                      .mode = 04711,
		                      .mtime = 1700000001,
		                      .owner = "root",
		                      .uid = 12,
		                      .gid = 34,
		                      .group = "wheel" };
	struct rpl_tar_entry sym = {
		.name = "usr/bin/hi", .type = '2', .mode = 0777, .link = "../share/hello"
	};
	struct rpl_tar_entry hard = {
		.name = "usr/share/hello2", .type = '1', .mode = 0644, .link = "usr/share/hello"
	};
	struct rpl_tar_entry dev = {
		.name = "dev/null", .type = '3', .mode = 0666, .devmajor = 1, .devminor = 3
	};
	size_t n;

	(void)state;
	put(&tar, dir, NULL);
	put(&tar, file, "hello, world\n");
	put(&tar, sym, NULL);
	put(&tar, hard, NULL);
	put(&tar, dev, NULL);
	finish(&tar);
	assert_int_equal(tar.len % 512, 0);
	/* Nothing here needs a PAX header. */
	assert_int_equal(count_type(&tar, 'x', NULL), 0);

	n = read_all(&tar, g, 8);
	assert_int_equal(n, 5);
	assert_string_equal(g[0].name, "usr/share");
	assert_int_equal(g[0].type, AE_IFDIR);
	assert_int_equal(g[0].mode, 0755);
	assert_int_equal(g[0].mtime, 1700000000);

	assert_string_equal(g[1].name, "usr/share/hello");
	assert_int_equal(g[1].type, AE_IFREG);
	assert_int_equal(g[1].mode, 04711);
	assert_int_equal(g[1].size, 13);
	assert_string_equal(g[1].content, "hello, world\n");
	assert_int_equal(g[1].mtime, 1700000001);
	assert_string_equal(g[1].uname, "root");
	assert_string_equal(g[1].gname, "wheel");
	assert_int_equal(g[1].uid, 12);
	assert_int_equal(g[1].gid, 34);

	assert_string_equal(g[2].name, "usr/bin/hi");
	assert_int_equal(g[2].type, AE_IFLNK);
	assert_string_equal(g[2].link, "../share/hello");

	assert_string_equal(g[3].name, "usr/share/hello2");
	assert_int_equal(g[3].hardlink, 1);
	assert_string_equal(g[3].link, "usr/share/hello");

	assert_string_equal(g[4].name, "dev/null");
	assert_int_equal(g[4].type, AE_IFCHR);
	assert_int_equal(g[4].devmajor, 1);
	assert_int_equal(g[4].devminor, 3);
	rpl_strbuf_release(&tar);
}

/* Without a group the owner's name is the group's too; without an owner neither is set. */
static void test_owner_names(void **state)
{
	struct rpl_strbuf tar = RPL_STRBUF_INIT;
	struct got g[2];

	(void)state;
	put(&tar, (struct rpl_tar_entry){ .name = "a", .type = '0', .mode = 0644, .owner = "bin" },
	    "a");
	put(&tar, (struct rpl_tar_entry){ .name = "b", .type = '0', .mode = 0644 }, "b");
	finish(&tar);
	assert_int_equal(read_all(&tar, g, 2), 2);
	assert_string_equal(g[0].uname, "bin");
	assert_string_equal(g[0].gname, "bin");
	assert_string_equal(g[1].uname, "");
	assert_string_equal(g[1].gname, "");
	rpl_strbuf_release(&tar);
}

/* Only the permission and special bits are written; a negative mtime is 0. */
static void test_mode_bits_and_negative_mtime(void **state)
{
	struct rpl_strbuf tar = RPL_STRBUF_INIT;
	struct got g[1];

	(void)state;
	put(&tar,
	    (struct rpl_tar_entry){
	            .name = "x", .type = '0', .mode = 0100000 | 01755, .mtime = -5 },
	    "x");
	finish(&tar);
	assert_int_equal(read_all(&tar, g, 1), 1);
	assert_int_equal(g[0].mode, 01755);
	assert_int_equal(g[0].type, AE_IFREG);
	assert_int_equal(g[0].mtime, 0);
	/* The mode field itself: seven octal digits and a NUL. */
	assert_memory_equal(tar.buf + 100, "0001755", 8);
	rpl_strbuf_release(&tar);
}

/* The header checksum: the unsigned sum of the block with its field as spaces. */
static void test_header_checksum(void **state)
{
	struct rpl_strbuf tar = RPL_STRBUF_INIT;
	unsigned char h[512];
	unsigned sum = 0, field;

	(void)state;
	put(&tar,
	    (struct rpl_tar_entry){ .name = "etc/motd",
	                            .type = '0',
	                            .mode = 0644,
	                            .mtime = 1234567890,
	                            .owner = "root" },
	    "hi\n");
	memcpy(h, tar.buf, 512);
	assert_int_equal(sscanf((const char *)h + 148, "%o", &field), 1);
	memset(h + 148, ' ', 8);
	for (size_t i = 0; i < 512; i++)
		sum += h[i];
	assert_int_equal(field, sum);
	assert_memory_equal(tar.buf + 257,
	                    "ustar\0"
	                    "00",
	                    8);
	rpl_strbuf_release(&tar);
}

static void test_padding(void **state)
{
	struct rpl_strbuf b = RPL_STRBUF_INIT;

	(void)state;
	rpl_tar_pad(&b, 0);
	assert_int_equal(b.len, 0);
	rpl_tar_pad(&b, 512);
	assert_int_equal(b.len, 0);
	rpl_tar_pad(&b, 1);
	assert_int_equal(b.len, 511);
	rpl_strbuf_reset(&b);
	rpl_tar_pad(&b, 1025);
	assert_int_equal(b.len, 511);
	for (size_t i = 0; i < b.len; i++)
		assert_int_equal(b.buf[i], 0);
	rpl_strbuf_release(&b);
}

/* ---- long names and links ----------------------------------------------------------- */

static void long_path(char *out, size_t dirs, size_t each, const char *leaf)
{
	size_t k = 0;

	for (size_t d = 0; d < dirs; d++) {
		for (size_t i = 0; i < each; i++)
			out[k++] = (char)('a' + d % 26);
		out[k++] = '/';
	}
	snprintf(out + k, 256 - k, "%s", leaf);
}

/* A name over 100 bytes that splits at a '/' goes in USTAR's prefix: no PAX. */
static void test_long_name_in_prefix(void **state)
{
	struct rpl_strbuf tar = RPL_STRBUF_INIT;
	struct got g[1];
	char name[256];
	const char *slash;

	(void)state;
	long_path(name, 5, 29, "file.txt"); /* 150 bytes + the leaf */
	assert_true(strlen(name) > 100);
	put(&tar, (struct rpl_tar_entry){ .name = name, .type = '0', .mode = 0644 }, "x");
	finish(&tar);
	assert_int_equal(count_type(&tar, 'x', NULL), 0);
	/* As Go splits: at the first '/' that leaves at most 100 bytes for the
	 * name field; the prefix field holds what is before it. */
	slash = strchr(name + strlen(name) - 101, '/');
	assert_int_equal(strlen(slash + 1), 98);
	assert_memory_equal(tar.buf + 345, name, (size_t)(slash - name));
	assert_int_equal(tar.buf[345 + (slash - name)], '\0');
	assert_string_equal(tar.buf, slash + 1);
	assert_int_equal(read_all(&tar, g, 1), 1);
	assert_string_equal(g[0].name, name);
	rpl_strbuf_release(&tar);
}

/* A name that cannot be split (no '/' where one would have to be) gets a PAX path. */
static void test_unsplittable_name_gets_pax(void **state)
{
	struct rpl_strbuf tar = RPL_STRBUF_INIT;
	struct got g[2];
	char leaf[160], name[256];
	size_t at = 0;

	(void)state;
	memset(leaf, 'z', 130);
	leaf[130] = '\0';
	snprintf(name, sizeof(name), "usr/%s", leaf); /* the last part alone is over 100 */
	put(&tar, (struct rpl_tar_entry){ .name = name, .type = '0', .mode = 0644 }, "pax");
	put(&tar, (struct rpl_tar_entry){ .name = "short", .type = '0', .mode = 0644 }, "s");
	finish(&tar);
	assert_int_equal(count_type(&tar, 'x', &at), 1);
	assert_int_equal(at, 0);
	/* The PAX header is named after the entry, in a PaxHeaders.0 directory. */
	assert_memory_equal(tar.buf, "usr/PaxHeaders.0/zzz", 20);
	assert_int_equal(read_all(&tar, g, 2), 2);
	assert_string_equal(g[0].name, name);
	assert_string_equal(g[0].content, "pax");
	/* The next entry is not touched by the record before. */
	assert_string_equal(g[1].name, "short");
	assert_string_equal(g[1].content, "s");
	rpl_strbuf_release(&tar);
}

static void test_long_link_gets_pax(void **state)
{
	struct rpl_strbuf tar = RPL_STRBUF_INIT;
	struct got g[2];
	char target[256];

	(void)state;
	long_path(target, 4, 40, "target"); /* 164 + 6 bytes */
	put(&tar, (struct rpl_tar_entry){ .name = "l", .type = '2', .mode = 0777, .link = target },
	    NULL);
	put(&tar, (struct rpl_tar_entry){ .name = "h", .type = '1', .mode = 0644, .link = target },
	    NULL);
	finish(&tar);
	assert_int_equal(count_type(&tar, 'x', NULL), 2);
	assert_int_equal(read_all(&tar, g, 2), 2);
	assert_string_equal(g[0].name, "l");
	assert_string_equal(g[0].link, target);
	assert_int_equal(g[1].hardlink, 1);
	assert_string_equal(g[1].link, target);
	rpl_strbuf_release(&tar);
}

/*
 * Parses the PAX records of the extended header at `off`: each is
 * "<len> key=value\n" where <len> counts the whole record, its own digits too.
 * Fills `keys` with "key=value" joined by ';'.
 */
static void pax_records(const struct rpl_strbuf *tar, size_t off, char *keys, size_t n)
{
	unsigned long long size = strtoull(tar->buf + off + 124, NULL, 8);
	const char *p = tar->buf + off + 512, *end = p + size;
	size_t k = 0;

	keys[0] = '\0';
	while (p < end) {
		char *sp;
		unsigned long len = strtoul(p, &sp, 10);
		assert_true(len > 0 && p + len <= end);
		assert_int_equal(*sp, ' ');
		assert_int_equal(p[len - 1], '\n');
		k += (size_t)snprintf(keys + k, n - k, "%s%.*s", k ? ";" : "",
		                      (int)(p + len - 1 - (sp + 1)), sp + 1);
		p += len;
	}
	assert_true(p == end);
}

/* apk's checksum record, with a long path and a long link, in key order. */
static void test_pax_records(void **state)
{
	struct rpl_strbuf tar = RPL_STRBUF_INIT;
	const char *sha1 = "da39a3ee5e6b4b0d3255bfef95601890afd80709";
	char name[160], target[160], keys[1024], want[1024];
	struct got g[1];

	(void)state;
	memset(name, 'n', 120);
	name[120] = '\0';
	memset(target, 't', 110);
	target[110] = '\0';
	put(&tar,
	    (struct rpl_tar_entry){
	            .name = name, .type = '2', .mode = 0777, .link = target, .sha1 = sha1 },
	    NULL);
	finish(&tar);
	assert_int_equal(count_type(&tar, 'x', NULL), 1);
	pax_records(&tar, 0, keys, sizeof(keys));
	snprintf(want, sizeof(want), "APK-TOOLS.checksum.SHA1=%s;linkpath=%s;path=%s", sha1, target,
	         name);
	assert_string_equal(keys, want);
	assert_int_equal(read_all(&tar, g, 1), 1);
	assert_string_equal(g[0].name, name);
	assert_string_equal(g[0].link, target);
	rpl_strbuf_release(&tar);
}

/*
 * Records whose length crosses a power of ten count their own digits: with
 * a checksum of 72 bytes the body "APK-TOOLS.checksum.SHA1=<72>\n" and its
 * space are 98 bytes, so the length is 101 ("100" would make it 101 long).
 */
static void test_pax_length_counts_itself(void **state)
{
	struct rpl_strbuf tar = RPL_STRBUF_INIT;
	char keys[2048], sum[200], want[256];

	(void)state;
	for (size_t len = 60; len <= 80; len++) {
		memset(sum, 'c', len);
		sum[len] = '\0';
		rpl_strbuf_reset(&tar);
		put(&tar,
		    (struct rpl_tar_entry){ .name = "f", .type = '0', .mode = 0644, .sha1 = sum },
		    "");
		pax_records(&tar, 0, keys, sizeof(keys));
		snprintf(want, sizeof(want), "APK-TOOLS.checksum.SHA1=%s", sum);
		assert_string_equal(keys, want);
		if (len == 71)
			assert_memory_equal(tar.buf + 512, "99 APK", 6);
		if (len == 72)
			assert_memory_equal(tar.buf + 512, "101 APK", 7);
	}
	rpl_strbuf_release(&tar);
}

/* ---- determinism and gzip ----------------------------------------------------------- */

static void make_layer(struct rpl_strbuf *tar)
{
	char name[200];

	memset(name, 'd', 150);
	name[150] = '\0';
	put(tar, (struct rpl_tar_entry){ .name = "etc", .type = '5', .mode = 0755 }, NULL);
	put(tar,
	    (struct rpl_tar_entry){ .name = "etc/os-release",
	                            .type = '0',
	                            .mode = 0644,
	                            .mtime = 42,
	                            .owner = "root",
	                            .sha1 = "da39a3ee5e6b4b0d3255bfef95601890afd80709" },
	    "ID=wolfi\n");
	put(tar, (struct rpl_tar_entry){ .name = name, .type = '0', .mode = 0600 }, "long\n");
	finish(tar);
}

static void test_same_entries_same_bytes(void **state)
{
	struct rpl_strbuf a = RPL_STRBUF_INIT, b = RPL_STRBUF_INIT, za = RPL_STRBUF_INIT,
	                  zb = RPL_STRBUF_INIT;

	(void)state;
	make_layer(&a);
	make_layer(&b);
	assert_int_equal(a.len, b.len);
	assert_memory_equal(a.buf, b.buf, a.len);
	assert_int_equal(rpl_gzip(a.buf, a.len, 1, &za), 0);
	assert_int_equal(rpl_gzip(b.buf, b.len, 1, &zb), 0);
	assert_int_equal(za.len, zb.len);
	assert_memory_equal(za.buf, zb.buf, za.len);
	rpl_strbuf_release(&a);
	rpl_strbuf_release(&b);
	rpl_strbuf_release(&za);
	rpl_strbuf_release(&zb);
}

/* Inflates `z` (gzip, members one after another) into `out`. */
static void gunzip(const struct rpl_strbuf *z, struct rpl_strbuf *out, int *members)
{
	z_stream s;
	unsigned char chunk[4096];
	int rc;

	memset(&s, 0, sizeof(s));
	assert_int_equal(inflateInit2(&s, 15 + 16), Z_OK);
	s.next_in = (unsigned char *)z->buf;
	s.avail_in = (uInt)z->len;
	*members = 0;
	for (;;) {
		s.next_out = chunk;
		s.avail_out = sizeof(chunk);
		rc = inflate(&s, Z_NO_FLUSH);
		rpl_strbuf_add(out, chunk, sizeof(chunk) - s.avail_out);
		if (rc == Z_STREAM_END) {
			(*members)++;
			if (!s.avail_in)
				break;
			assert_int_equal(inflateReset(&s), Z_OK);
		} else if (rc != Z_OK) {
			fail_msg("inflate: %d", rc);
		}
	}
	inflateEnd(&s);
}

static void test_gzip_round_trip(void **state)
{
	struct rpl_strbuf tar = RPL_STRBUF_INIT, z = RPL_STRBUF_INIT, back = RPL_STRBUF_INIT;
	struct got g[4];
	int members;

	(void)state;
	make_layer(&tar);
	assert_int_equal(rpl_gzip(tar.buf, tar.len, 0, &z), 0);
	/* gzip's magic, deflate, and zlib's own OS byte (Unix). */
	assert_int_equal((unsigned char)z.buf[0], 0x1f);
	assert_int_equal((unsigned char)z.buf[1], 0x8b);
	assert_int_equal(z.buf[2], 8);
	assert_int_not_equal((unsigned char)z.buf[9], 255);
	gunzip(&z, &back, &members);
	assert_int_equal(members, 1);
	assert_int_equal(back.len, tar.len);
	assert_memory_equal(back.buf, tar.buf, tar.len);
	/* libarchive reads the compressed layer as it is. */
	assert_int_equal(read_all(&z, g, 4), 3);
	assert_string_equal(g[1].content, "ID=wolfi\n");
	rpl_strbuf_release(&tar);
	rpl_strbuf_release(&z);
	rpl_strbuf_release(&back);
}

/* Go's gzip writes OS 255; members appended to one buffer make one stream. */
static void test_gzip_os_and_members(void **state)
{
	struct rpl_strbuf z = RPL_STRBUF_INIT, back = RPL_STRBUF_INIT;
	int members;

	(void)state;
	assert_int_equal(rpl_gzip("first ", 6, 1, &z), 0);
	assert_int_equal((unsigned char)z.buf[9], 255);
	assert_int_equal(rpl_gzip("", 0, 1, &z), 0);
	assert_int_equal(rpl_gzip("second", 6, 0, &z), 0);
	gunzip(&z, &back, &members);
	assert_int_equal(members, 3);
	assert_int_equal(back.len, 12);
	assert_memory_equal(back.buf, "first second", 12);
	rpl_strbuf_release(&z);
	rpl_strbuf_release(&back);
}

/* More than one deflate output chunk (64 KiB) of incompressible bytes. */
static void test_gzip_large(void **state)
{
	size_t n = 300000;
	unsigned char *data = malloc(n);
	struct rpl_strbuf z = RPL_STRBUF_INIT, back = RPL_STRBUF_INIT;
	uint32_t x = 2463534242u;
	int members;

	(void)state;
	assert_non_null(data);
	for (size_t i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		data[i] = (unsigned char)x;
	}
	assert_int_equal(rpl_gzip(data, n, 0, &z), 0);
	assert_true(z.len > 65536);
	gunzip(&z, &back, &members);
	assert_int_equal(members, 1);
	assert_int_equal(back.len, n);
	assert_memory_equal(back.buf, data, n);
	free(data);
	rpl_strbuf_release(&z);
	rpl_strbuf_release(&back);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_type_round_trips),
		cmocka_unit_test(test_owner_names),
		cmocka_unit_test(test_mode_bits_and_negative_mtime),
		cmocka_unit_test(test_header_checksum),
		cmocka_unit_test(test_padding),
		cmocka_unit_test(test_long_name_in_prefix),
		cmocka_unit_test(test_unsplittable_name_gets_pax),
		cmocka_unit_test(test_long_link_gets_pax),
		cmocka_unit_test(test_pax_records),
		cmocka_unit_test(test_pax_length_counts_itself),
		cmocka_unit_test(test_same_entries_same_bytes),
		cmocka_unit_test(test_gzip_round_trip),
		cmocka_unit_test(test_gzip_os_and_members),
		cmocka_unit_test(test_gzip_large),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
