/*
 * The APK v2 reader (runners/apk.h): the gzip members (signature, control,
 * data), the control tar's .PKGINFO and scripts, from memory.  A package
 * that reads is turned into its APKINDEX record, as the repository writer
 * does; the bytes are also split into members with rpl_gzip_members.
 *
 * Mutated gzip seldom inflates, so an input that is not gzip is also made
 * into a package here: up to its first NUL byte it is the .PKGINFO, the
 * rest a .post-install script, written as a control section and followed
 * by a data member.  That puts the .PKGINFO parser and the scripts' reader
 * in front of the fuzzer directly.
 */
#include "tests/fuzz/fuzz.h"
#include "common/error.h"
#include "common/strbuf.h"
#include "runners/apk.h"
#include "runners/tar.h"

#include <stdlib.h>
#include <string.h>

/* What the reader keeps must lie inside the file. */
static void check(const struct rpl_apk *a, size_t size)
{
	RPL_FUZZ_CHECK(a->pkgname && a->pkgver, "a package without pkgname or pkgver");
	RPL_FUZZ_CHECK(a->file_size == size, "file_size is not the input's size");
	RPL_FUZZ_CHECK(a->control_off <= a->data_off && a->data_off <= size,
	               "sections outside the file");
	for (size_t i = 0; i < a->nscripts; i++)
		RPL_FUZZ_CHECK(a->scripts[i].name && a->scripts[i].data &&
		                       strlen(a->scripts[i].data) <= a->scripts[i].len,
		               "a script without its name or data");
}

static int count_member(void *ctx, const void *member, size_t member_len, const void *out,
                        size_t out_len)
{
	(void)member;
	(void)out;
	(void)out_len;
	RPL_FUZZ_CHECK(member_len > 0, "an empty gzip member");
	(*(size_t *)ctx)++;
	return 0;
}

static void read_apk(const void *data, size_t size)
{
	struct rpl_apk a;

	if (rpl_apk_read_memory(data, size, "fuzz.apk", &a) == 0) {
		char *rec;

		check(&a, size);
		rec = rpl_apk_index_record(&a);
		RPL_FUZZ_CHECK(rec && strstr(rec, "\nP:"), "an index record without P:");
		free(rec);
		rpl_apk_release(&a);
	}
}

static void add_entry(struct rpl_strbuf *tar, const char *name, unsigned mode, const void *p,
                      size_t n)
{
	struct rpl_tar_entry e = { 0 };

	e.name = name;
	e.type = '0';
	e.mode = mode;
	e.size = n;
	rpl_tar_header(tar, &e);
	rpl_strbuf_add(tar, p, n);
	rpl_tar_pad(tar, n);
}

/* The package whose .PKGINFO and script are `data` (see the top). */
static void read_made_apk(const uint8_t *data, size_t size)
{
	struct rpl_strbuf tar = RPL_STRBUF_INIT, apk = RPL_STRBUF_INIT;
	const uint8_t *nul = memchr(data, 0, size);
	size_t info = nul ? (size_t)(nul - data) : size;

	add_entry(&tar, ".PKGINFO", 0644, data, info);
	if (nul)
		add_entry(&tar, ".post-install", 0755, nul + 1, size - info - 1);
	/* A control section has no end-of-archive blocks. */
	if (rpl_gzip(tar.buf, tar.len, 0, &apk) || rpl_gzip("data", 4, 0, &apk))
		rpl_fuzz_fail(__FILE__, __LINE__, "cannot gzip");
	read_apk(apk.buf, apk.len);
	rpl_strbuf_release(&apk);
	rpl_strbuf_release(&tar);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t members = 0;

	read_apk(data, size);
	rpl_gzip_members(data, size, 1u << 20, count_member, &members);
	if (size && !(size >= 2 && data[0] == 0x1f && data[1] == 0x8b))
		read_made_apk(data, size);
	rpl_error_clear();
	return 0;
}
