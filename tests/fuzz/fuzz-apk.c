/*
 * The APK v2 reader (runners/apk.h): the gzip members (signature, control,
 * data), the control tar's .PKGINFO and scripts, from memory.  A package
 * that reads is turned into its APKINDEX record, as the repository writer
 * does; the bytes are also split into members with rpl_gzip_members.
 */
#include "tests/fuzz/fuzz.h"
#include "common/error.h"
#include "runners/apk.h"

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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rpl_apk a;
	size_t members = 0;

	if (rpl_apk_read_memory(data, size, "fuzz.apk", &a) == 0) {
		char *rec;

		check(&a, size);
		rec = rpl_apk_index_record(&a);
		RPL_FUZZ_CHECK(rec && strstr(rec, "\nP:"), "an index record without P:");
		free(rec);
		rpl_apk_release(&a);
	}
	rpl_gzip_members(data, size, 1u << 20, count_member, &members);
	rpl_error_clear();
	return 0;
}
