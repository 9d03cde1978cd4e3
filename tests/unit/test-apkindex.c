/*
 * APKINDEX reader: record parsing, the signed archives melange writes
 * (../shared/conformance/apko-golden), apk-tools' solver repositories, and
 * loading from a repository directory.
 */
#include "graph/apkindex.h"
#include "common/error.h"
#include "common/file.h"
#include "common/xalloc.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/unit/testlib.h"
#include <archive.h>
#include <archive_entry.h>

#define SHARED RPL_SOURCE_DIR "/../shared/conformance"
#define GOLDEN SHARED "/apko-golden/packages"
#define SOLVER SHARED "/apk-tools/solver"

static void parse_ok(struct rpl_apkindex *idx, const char *text)
{
	int err = rpl_apkindex_parse_text(idx, "t", text, strlen(text));

	if (err)
		fail_msg("parse failed (%d): %s", err, rpl_errmsg());
}

static void expect_parse_error_len(const char *text, size_t len, const char *want)
{
	struct rpl_apkindex idx;
	int err;

	rpl_error_clear();
	err = rpl_apkindex_parse_text(&idx, "t", text, len);
	assert_int_equal(err, -RPL_EPARSE);
	assert_string_equal(rpl_errmsg(), want);
	assert_int_equal(idx.npkgs, 0);
	/* Releasing after an error is harmless. */
	rpl_apkindex_release(&idx);
}

static void test_fields(void **state)
{
	struct rpl_apkindex idx;
	const struct rpl_apkindex_pkg *p;

	(void)state;
	parse_ok(&idx, "C:Q1abc=\n"
	               "P:hello\n"
	               "V:1.2.3-r4\n"
	               "A:x86_64\n"
	               "S:6998\n"
	               "I:6435\n"
	               "T:a description: with colons\n"
	               "o:hello-origin\n"
	               "t:1700000000\n"
	               "c:deadbeef\n"
	               "D:so:libc.so.6 busybox  cmd:sh>=1\n"
	               "p:cmd:hello=1.2.3-r4 so:libhello.so.1=1\n"
	               "k:100\n"
	               "Z:an unknown field\n"
	               "\n"
	               "P:minimal\n"
	               "V:0\n"
	               "\n");
	assert_string_equal(idx.source, "t");
	assert_string_equal(idx.description, "");
	assert_int_equal(idx.signed_, 0);
	assert_int_equal(idx.npkgs, 2);

	p = &idx.pkgs[0];
	assert_string_equal(p->name, "hello");
	assert_string_equal(p->version, "1.2.3-r4");
	assert_string_equal(p->arch, "x86_64");
	assert_string_equal(p->origin, "hello-origin");
	assert_string_equal(p->checksum, "Q1abc=");
	assert_string_equal(p->commit, "deadbeef");
	assert_int_equal(p->size, 6998);
	assert_int_equal(p->installed_size, 6435);
	assert_int_equal(p->build_time, 1700000000);
	assert_int_equal(p->provider_priority, 100);
	assert_int_equal(p->ndepends, 3);
	assert_string_equal(p->depends[0], "so:libc.so.6");
	assert_string_equal(p->depends[1], "busybox");
	assert_string_equal(p->depends[2], "cmd:sh>=1");
	assert_int_equal(p->nprovides, 2);
	assert_string_equal(p->provides[0], "cmd:hello=1.2.3-r4");
	assert_string_equal(p->provides[1], "so:libhello.so.1=1");

	/* Absent fields: empty strings, zero numbers, empty lists. */
	p = &idx.pkgs[1];
	assert_string_equal(p->name, "minimal");
	assert_string_equal(p->version, "0");
	assert_string_equal(p->arch, "");
	assert_string_equal(p->origin, "");
	assert_string_equal(p->checksum, "");
	assert_string_equal(p->commit, "");
	assert_int_equal(p->size, 0);
	assert_int_equal(p->provider_priority, 0);
	assert_int_equal(p->ndepends, 0);
	assert_null(p->depends);
	assert_int_equal(p->nprovides, 0);
	assert_null(p->provides);
	rpl_apkindex_release(&idx);
}

static void test_layout_tolerance(void **state)
{
	struct rpl_apkindex idx;

	(void)state;
	/* No blank line after the last record, nor a final newline. */
	parse_ok(&idx, "P:a\nV:1\n\nP:b\nV:2");
	assert_int_equal(idx.npkgs, 2);
	assert_string_equal(idx.pkgs[1].name, "b");
	assert_string_equal(idx.pkgs[1].version, "2");
	rpl_apkindex_release(&idx);

	/* Several blank lines between records, leading blank lines, CRLF. */
	parse_ok(&idx, "\n\nP:a\r\nV:1\r\n\r\n\n\nP:b\nV:2\n\n\n");
	assert_int_equal(idx.npkgs, 2);
	assert_string_equal(idx.pkgs[0].version, "1");
	rpl_apkindex_release(&idx);

	/* Nothing at all is an empty index. */
	parse_ok(&idx, "");
	assert_int_equal(idx.npkgs, 0);
	rpl_apkindex_release(&idx);

	/* Negative priority and the extremes of the numbers. */
	parse_ok(&idx, "P:a\nV:1\nk:-9223372036854775808\nS:18446744073709551615\n");
	assert_true(idx.pkgs[0].provider_priority == INT64_MIN);
	assert_true(idx.pkgs[0].size == UINT64_MAX);
	rpl_apkindex_release(&idx);
}

static void expect_parse_error(const char *text, const char *want)
{
	expect_parse_error_len(text, strlen(text), want);
}

static void test_malformed(void **state)
{
	(void)state;
	expect_parse_error("P:a\nV:1\n\nC:Q1x\nV:2\n\nP:c\nV:3\n",
	                   "t:4: record has no P: (package name)");
	expect_parse_error("P:a\nV:1\n\nP:b\nS:1", "t:4: record for 'b' has no V: (version)");
	expect_parse_error("P:a\nV:\n", "t:1: record for 'a' has no V: (version)");
	expect_parse_error("P:a\nV:1\nnonsense\n",
	                   "t:3: expected a 'X:value' line, got 'nonsense'");
	expect_parse_error("P:a\nV:1\nS:12k\n", "t:3: S: expects a number, got '12k'");
	expect_parse_error("P:a\nV:1\nI:-1\n", "t:3: I: expects a number, got '-1'");
	expect_parse_error("P:a\nV:1\nS:18446744073709551616\n",
	                   "t:3: S: expects a number, got '18446744073709551616'");
	expect_parse_error("P:a\nV:1\nk:9223372036854775808\n",
	                   "t:3: k: expects a number, got '9223372036854775808'");
	/* A NUL would make a name of "" or an empty dependency (found by fuzz-apkindex). */
	expect_parse_error_len("P:\0\nV:1\n", 8, "t:1: a NUL byte in the line");
	expect_parse_error_len("P:a\nV:1\nD:b \0c\n", 15, "t:3: a NUL byte in the line");
}

/* ---- the signed indexes melange wrote for apko's golden tests ---------- */

struct want_pkg {
	const char *name, *checksum, *provides, *depends;
	uint64_t size, installed_size;
};

static const struct rpl_apkindex_pkg *find_pkg(const struct rpl_apkindex *idx, const char *name)
{
	for (size_t i = 0; i < idx->npkgs; i++)
		if (!strcmp(idx->pkgs[i].name, name))
			return &idx->pkgs[i];
	fail_msg("no package '%s' in %s", name, idx->source);
	return NULL;
}

static void check_golden(const char *arch, const struct want_pkg *want, size_t nwant)
{
	char path[4096];
	struct rpl_apkindex idx;
	char *buf;
	size_t len;
	int err;

	snprintf(path, sizeof(path), GOLDEN "/%s/APKINDEX.tar.gz", arch);
	if (access(path, R_OK) != 0)
		rpl_test_skip("no conformance data at '%s'", path);
	assert_int_equal(rpl_read_file(path, &buf, &len), 0);
	err = rpl_apkindex_parse_targz(&idx, path, buf, len);
	free(buf);
	if (err)
		fail_msg("%s: %s", path, rpl_errmsg());
	assert_string_equal(idx.source, path);
	assert_int_equal(idx.signed_, 1);
	assert_string_equal(idx.sign_key, "melange.rsa.pub");
	assert_string_equal(idx.description, "");
	assert_int_equal(idx.npkgs, nwant);
	for (size_t i = 0; i < nwant; i++) {
		const struct rpl_apkindex_pkg *p = &idx.pkgs[i];

		/* The records come in the order they are written. */
		assert_string_equal(p->name, want[i].name);
		assert_string_equal(p->version, "1.0.0-r0");
		assert_string_equal(p->arch, arch);
		assert_string_equal(p->origin, want[i].name);
		assert_string_equal(p->checksum, want[i].checksum);
		assert_int_equal(p->size, want[i].size);
		assert_int_equal(p->installed_size, want[i].installed_size);
		assert_int_equal(p->build_time, 0);
		assert_int_equal(p->provider_priority, 0);
		if (want[i].provides) {
			assert_int_equal(p->nprovides, 1);
			assert_string_equal(p->provides[0], want[i].provides);
		} else {
			assert_int_equal(p->nprovides, 0);
		}
		if (want[i].depends) {
			assert_int_equal(p->ndepends, 1);
			assert_string_equal(p->depends[0], want[i].depends);
		} else {
			assert_int_equal(p->ndepends, 0);
		}
	}
	assert_string_equal(find_pkg(&idx, "custom-ca-certs-1")->commit,
	                    "9d44001f59df63d4e03b43574b7285dd9e7a22f4");
	assert_string_equal(find_pkg(&idx, "replayout")->commit,
	                    "326e0ed687bdfeadac839dc9b25686e4442c9d04");
	rpl_apkindex_release(&idx);
}

static void test_golden_x86_64(void **state)
{
	static const struct want_pkg want[] = {
		{ "custom-ca-certs-1", "Q1L7EnY9Q9b23ejRHAmb0g09QaLEo=", "custom-ca-certificates",
		  NULL, 6998, 6435 },
		{ "custom-ca-certs-2", "Q1yXDHMYWZPTTipwenGmJ4rs1ZoQk=", "custom-ca-certificates",
		  NULL, 4548, 4916 },
		{ "pretend-baselayout", "Q1m6wB0UFePGN8Drz82pC8y2uAiu8=", NULL, NULL, 2930, 3476 },
		{ "replayout", "Q11/HhSewwwOXgl0r0ffb0O0BRtYc=", NULL, "pretend-baselayout", 2961,
		  3389 },
	};

	(void)state;
	check_golden("x86_64", want, sizeof(want) / sizeof(want[0]));
}

static void test_golden_aarch64(void **state)
{
	static const struct want_pkg want[] = {
		{ "custom-ca-certs-1", "Q1HYV3GHk9wRjFNygSSkFi7+gHkMs=", "custom-ca-certificates",
		  NULL, 7001, 6436 },
		{ "custom-ca-certs-2", "Q1E9ECSFYVWX/JK7euE0qnWbi45bA=", "custom-ca-certificates",
		  NULL, 4549, 4917 },
		{ "pretend-baselayout", "Q1JQ8nfsxa27d0f6oa056sdT5IcJY=", NULL, NULL, 2930, 3477 },
		{ "replayout", "Q1u62watWiRSQgVtAIuVuYoDOaVO4=", NULL, "pretend-baselayout", 2955,
		  3390 },
	};

	(void)state;
	check_golden("aarch64", want, sizeof(want) / sizeof(want[0]));
}

/* ---- apk-tools' solver repositories ------------------------------------ */

static void test_solver_repos(void **state)
{
	struct dirent *de;
	size_t nfiles = 0;
	DIR *d;

	(void)state;
	d = opendir(SOLVER);
	if (!d)
		rpl_test_skip("no conformance data at '%s'", SOLVER);
	while ((de = readdir(d))) {
		char path[4096];
		struct rpl_apkindex idx;
		char *buf;
		size_t len;
		int err;

		if (!rpl_str_endswith(de->d_name, ".repo"))
			continue;
		snprintf(path, sizeof(path), SOLVER "/%s", de->d_name);
		assert_int_equal(rpl_read_file(path, &buf, &len), 0);
		err = rpl_apkindex_parse_text(&idx, path, buf, len);
		free(buf);
		if (err)
			fail_msg("%s: %s", path, rpl_errmsg());
		if (idx.npkgs == 0)
			fail_msg("%s: no packages", path);
		for (size_t i = 0; i < idx.npkgs; i++) {
			assert_non_null(idx.pkgs[i].name);
			assert_non_null(idx.pkgs[i].version);
		}
		rpl_apkindex_release(&idx);
		nfiles++;
	}
	closedir(d);
	assert_true(nfiles > 0);
}

/* ---- archives and repositories on disk --------------------------------- */

/* Writes a gzip'd tar of `n` entries `names[i]` holding `bodies[i]`. */
static void write_tar(const char *path, int n, const char *const *names, const char *const *bodies)
{
	struct archive *a = archive_write_new();

	assert_non_null(a);
	assert_int_equal(archive_write_add_filter_gzip(a), ARCHIVE_OK);
	assert_int_equal(archive_write_set_format_ustar(a), ARCHIVE_OK);
	assert_int_equal(archive_write_open_filename(a, path), ARCHIVE_OK);
	for (int i = 0; i < n; i++) {
		struct archive_entry *e = archive_entry_new();
		size_t len = strlen(bodies[i]);

		archive_entry_set_pathname(e, names[i]);
		archive_entry_set_filetype(e, AE_IFREG);
		archive_entry_set_perm(e, 0644);
		archive_entry_set_size(e, (la_int64_t)len);
		assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
		assert_int_equal(archive_write_data(a, bodies[i], len), (la_ssize_t)len);
		archive_entry_free(e);
	}
	assert_int_equal(archive_write_close(a), ARCHIVE_OK);
	archive_write_free(a);
}

/* An unsigned APKINDEX.tar.gz as melange writes it: APKINDEX, DESCRIPTION. */
static void write_targz(const char *path, const char *apkindex, const char *description)
{
	const char *names[] = { "APKINDEX", "DESCRIPTION" };
	const char *bodies[] = { apkindex, description };

	write_tar(path, 2, names, bodies);
}

struct tmpdir {
	char path[256];
};

static void tmpdir_make(struct tmpdir *t)
{
	assert_int_equal(rpl_test_mkdtemp(t->path, sizeof(t->path), "apkindex"), 0);
}

static void tmpdir_remove(struct tmpdir *t)
{
	assert_int_equal(rpl_test_remove_tree(t->path), 0);
}

static void test_load_dir(void **state)
{
	struct rpl_apkindex idx;
	struct tmpdir t;
	char dir[512], file[600], repo[600];
	int err;

	(void)state;
	tmpdir_make(&t);
	snprintf(dir, sizeof(dir), "%s/x86_64", t.path);
	assert_int_equal(mkdir(dir, 0755), 0);
	snprintf(file, sizeof(file), "%s/APKINDEX.tar.gz", dir);
	write_targz(file, "C:Q1x=\nP:hello\nV:2.0-r1\nA:x86_64\nD:libc\n\nP:libc\nV:1-r0\n\n",
	            "my repo\n");

	/* A directory, with and without a trailing slash, and as a file:// URL. */
	snprintf(repo, sizeof(repo), "%s/", t.path);
	err = rpl_apkindex_load(&idx, repo, "x86_64");
	if (err)
		fail_msg("%s", rpl_errmsg());
	assert_string_equal(idx.source, file);
	assert_string_equal(idx.description, "my repo");
	assert_int_equal(idx.signed_, 0);
	assert_string_equal(idx.sign_key, "");
	assert_int_equal(idx.npkgs, 2);
	assert_string_equal(idx.pkgs[0].name, "hello");
	assert_string_equal(idx.pkgs[0].depends[0], "libc");
	assert_string_equal(idx.pkgs[1].version, "1-r0");
	rpl_apkindex_release(&idx);

	snprintf(repo, sizeof(repo), "file://%s", t.path);
	assert_int_equal(rpl_apkindex_load(&idx, repo, "x86_64"), 0);
	assert_int_equal(idx.npkgs, 2);
	rpl_apkindex_release(&idx);

	/* The file itself; the arch is then not needed. */
	assert_int_equal(rpl_apkindex_load(&idx, file, NULL), 0);
	assert_string_equal(idx.source, file);
	assert_int_equal(idx.npkgs, 2);
	rpl_apkindex_release(&idx);

	/* Another arch has no index: an error naming the path. */
	rpl_error_clear();
	err = rpl_apkindex_load(&idx, t.path, "aarch64");
	assert_int_equal(err, -RPL_ENOTFOUND);
	snprintf(file, sizeof(file), "cannot open '%s/aarch64/APKINDEX.tar.gz': no such file",
	         t.path);
	assert_string_equal(rpl_errmsg(), file);
	rpl_apkindex_release(&idx);

	tmpdir_remove(&t);
}

static void test_load_golden_copy(void **state)
{
	struct rpl_apkindex idx;
	struct tmpdir t;
	char dir[512], file[600];
	char *buf;
	size_t len;

	(void)state;
	if (access(GOLDEN "/aarch64/APKINDEX.tar.gz", R_OK) != 0)
		rpl_test_skip("no conformance data at '%s'", GOLDEN "/aarch64/APKINDEX.tar.gz");
	tmpdir_make(&t);
	snprintf(dir, sizeof(dir), "%s/aarch64", t.path);
	assert_int_equal(mkdir(dir, 0755), 0);
	snprintf(file, sizeof(file), "%s/APKINDEX.tar.gz", dir);
	assert_int_equal(rpl_read_file(GOLDEN "/aarch64/APKINDEX.tar.gz", &buf, &len), 0);
	assert_int_equal(rpl_write_file_atomic(file, buf, len), 0);
	free(buf);

	assert_int_equal(rpl_apkindex_load(&idx, t.path, "aarch64"), 0);
	assert_int_equal(idx.signed_, 1);
	assert_string_equal(idx.sign_key, "melange.rsa.pub");
	assert_int_equal(idx.npkgs, 4);
	assert_string_equal(idx.pkgs[3].name, "replayout");
	assert_string_equal(idx.pkgs[3].arch, "aarch64");
	rpl_apkindex_release(&idx);

	/* The golden repository itself, laid out as apk expects. */
	assert_int_equal(rpl_apkindex_load(&idx, GOLDEN, "x86_64"), 0);
	assert_int_equal(idx.npkgs, 4);
	assert_string_equal(idx.pkgs[0].arch, "x86_64");
	rpl_apkindex_release(&idx);

	tmpdir_remove(&t);
}

static void test_bad_archives(void **state)
{
	struct rpl_apkindex idx;
	struct tmpdir t;
	char file[600];
	char *buf;
	size_t len;
	int err;

	(void)state;
	rpl_error_clear();
	err = rpl_apkindex_parse_targz(&idx, "junk", "not an archive", 14);
	assert_int_equal(err, -RPL_EPARSE);
	assert_true(!strncmp(rpl_errmsg(), "cannot read 'junk': ", 20));

	tmpdir_make(&t);
	snprintf(file, sizeof(file), "%s/x.tar.gz", t.path);

	/* A valid archive without an APKINDEX entry. */
	{
		const char *names[] = { "DESCRIPTION", "apkindex" };
		const char *bodies[] = { "", "P:a\nV:1\n" };

		write_tar(file, 2, names, bodies);
	}
	assert_int_equal(rpl_read_file(file, &buf, &len), 0);
	err = rpl_apkindex_parse_targz(&idx, "noindex", buf, len);
	assert_int_equal(err, -RPL_EPARSE);
	assert_string_equal(rpl_errmsg(),
	                    "cannot read 'noindex': no APKINDEX entry in the archive");

	/* A truncated archive. */
	err = rpl_apkindex_parse_targz(&idx, "short", buf, len / 2);
	free(buf);
	assert_int_equal(err, -RPL_EPARSE);
	assert_true(!strncmp(rpl_errmsg(), "cannot read 'short'", 19));

	/* An index whose text is malformed reports the archive and the line. */
	write_targz(file, "P:a\nV:1\n\nP:b\n", "");
	assert_int_equal(rpl_read_file(file, &buf, &len), 0);
	err = rpl_apkindex_parse_targz(&idx, "bad.tar.gz", buf, len);
	free(buf);
	assert_int_equal(err, -RPL_EPARSE);
	assert_string_equal(rpl_errmsg(), "bad.tar.gz:4: record for 'b' has no V: (version)");
	tmpdir_remove(&t);
}

/*
 * A gzip bomb: an APKINDEX entry that inflates past RPL_APKINDEX_MAX is
 * refused as it is read, and so is a file on disk larger than that.
 */
static void test_bounded(void **state)
{
	struct rpl_apkindex idx;
	struct tmpdir t;
	struct archive *a;
	struct archive_entry *e;
	char file[600], *buf, *zeros = rpl_xcalloc(1, 1 << 20);
	const uint64_t size = RPL_APKINDEX_MAX + (1 << 20);
	size_t len;
	int fd;

	(void)state;
	tmpdir_make(&t);
	snprintf(file, sizeof(file), "%s/bomb.tar.gz", t.path);
	a = archive_write_new();
	assert_int_equal(archive_write_add_filter_gzip(a), ARCHIVE_OK);
	assert_int_equal(archive_write_set_filter_option(a, "gzip", "compression-level", "1"),
	                 ARCHIVE_OK);
	assert_int_equal(archive_write_set_format_ustar(a), ARCHIVE_OK);
	assert_int_equal(archive_write_open_filename(a, file), ARCHIVE_OK);
	e = archive_entry_new();
	archive_entry_set_pathname(e, "APKINDEX");
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, 0644);
	archive_entry_set_size(e, (la_int64_t)size);
	assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
	for (uint64_t done = 0; done < size; done += 1 << 20)
		assert_int_equal(archive_write_data(a, zeros, 1 << 20), 1 << 20);
	archive_entry_free(e);
	assert_int_equal(archive_write_close(a), ARCHIVE_OK);
	archive_write_free(a);
	free(zeros);

	assert_int_equal(rpl_read_file(file, &buf, &len), 0);
	assert_true(len < (2 << 20)); /* it is a bomb */
	rpl_error_clear();
	assert_int_equal(rpl_apkindex_parse_targz(&idx, "bomb", buf, len), -RPL_EPARSE);
	assert_string_equal(rpl_errmsg(), "cannot read 'bomb': its APKINDEX inflates past 256 MiB "
	                                  "(a decompression bomb?)");
	free(buf);

	/* On disk, a file larger than the limit is not read at all. */
	fd = open(file, O_WRONLY | O_TRUNC);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)RPL_APKINDEX_MAX + 1), 0);
	close(fd);
	assert_int_equal(rpl_apkindex_load(&idx, file, NULL), -EFBIG);
	tmpdir_remove(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fields),         cmocka_unit_test(test_layout_tolerance),
		cmocka_unit_test(test_malformed),      cmocka_unit_test(test_golden_x86_64),
		cmocka_unit_test(test_golden_aarch64), cmocka_unit_test(test_solver_repos),
		cmocka_unit_test(test_load_dir),       cmocka_unit_test(test_load_golden_copy),
		cmocka_unit_test(test_bad_archives),   cmocka_unit_test(test_bounded),
	};

	return rpl_test_result(cmocka_run_group_tests(tests, NULL, NULL));
}
