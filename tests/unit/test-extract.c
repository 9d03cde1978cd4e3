/*
 * Unpacking hostile archives (runners/extract.h): what a good archive
 * gives, and each way a bad one is refused with nothing written outside
 * the destination: device nodes and FIFOs (tar cannot carry sockets), setuid bits, `..`, writes through
 * a symlink, hard links out of the archive or to nothing, the size and
 * ratio limits, and a full disk.
 */
#define _GNU_SOURCE /* unshare */
#include "common/error.h"
#include "common/file.h"
#include "runners/extract.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/unit/testlib.h"

static char dir[256];

static int setup(void **state)
{
	(void)state;
	return rpl_test_mkdtemp(dir, sizeof(dir), "extract");
}

static int teardown(void **state)
{
	(void)state;
	return rpl_test_remove_tree(dir);
}

/* An archive being written in memory (pax, gzip). */
struct tarball {
	struct archive *a;
	char *buf;
	size_t cap, len;
};

static void tb_open(struct tarball *t)
{
	t->cap = 64 << 20;
	t->buf = malloc(t->cap);
	t->a = archive_write_new();
	archive_write_set_format_pax_restricted(t->a);
	archive_write_add_filter_gzip(t->a);
	assert_int_equal(archive_write_open_memory(t->a, t->buf, t->cap, &t->len), ARCHIVE_OK);
}

/* One entry: type AE_IF*, `data` for files (`size` bytes, zeros when NULL), `link` for links. */
static void tb_add(struct tarball *t, const char *name, unsigned type, unsigned perm,
                   const char *data, size_t size, const char *link, int hard)
{
	struct archive_entry *e = archive_entry_new();
	static const char zeros[65536];

	archive_entry_set_pathname(e, name);
	archive_entry_set_filetype(e, type);
	archive_entry_set_perm(e, perm);
	archive_entry_set_size(e, type == AE_IFREG && !hard ? (la_int64_t)size : 0);
	if (link && hard)
		archive_entry_set_hardlink(e, link);
	else if (link)
		archive_entry_set_symlink(e, link);
	assert_int_equal(archive_write_header(t->a, e), ARCHIVE_OK);
	if (type == AE_IFREG && !hard)
		for (size_t done = 0; done < size;) {
			size_t n = size - done < sizeof(zeros) ? size - done : sizeof(zeros);
			assert_true(archive_write_data(t->a, data ? data + done : zeros, n) ==
			            (la_ssize_t)n);
			done += n;
		}
	archive_entry_free(e);
}

static void tb_close(struct tarball *t)
{
	assert_int_equal(archive_write_close(t->a), ARCHIVE_OK);
	archive_write_free(t->a);
}

static int unpack(struct tarball *t, const char *dest, const struct rpl_extract_opts *o)
{
	return rpl_extract_memory(t->buf, t->len, "t.tar.gz", dest, o);
}

/* `rel` under the test's directory (four at a time may be in use). */
static char *at(const char *rel)
{
	static char p[4][512];
	static unsigned next;
	char *out = p[next++ % 4];

	snprintf(out, sizeof(p[0]), "%s/%s", dir, rel);
	return out;
}

static void test_good_archive(void **state)
{
	struct tarball t;
	struct rpl_extract_opts o = { 1, 0, 0, 0, 0 };
	struct stat st, st2;
	char buf[64];
	ssize_t n;

	(void)state;
	tb_open(&t);
	tb_add(&t, "pkg-1.0/", AE_IFDIR, 0755, NULL, 0, NULL, 0);
	tb_add(&t, "pkg-1.0/bin/tool", AE_IFREG, 04755, "#!/bin/sh\n", 10, NULL, 0);
	tb_add(&t, "pkg-1.0/bin/alias", AE_IFREG, 0755, NULL, 0, "pkg-1.0/bin/tool", 1);
	tb_add(&t, "pkg-1.0/lib/link", AE_IFLNK, 0777, NULL, 0, "/etc/passwd", 0);
	tb_add(&t, "pkg-1.0/share/dir", AE_IFDIR, 02775, NULL, 0, NULL, 0);
	tb_close(&t);
	assert_int_equal(unpack(&t, at("good"), &o), 0);
	assert_int_equal(stat(at("good/bin/tool"), &st), 0);
	/* setuid (and setgid) dropped, the rest kept. */
	assert_int_equal(st.st_mode & 07777, 0755);
	assert_int_equal(stat(at("good/share/dir"), &st2), 0);
	assert_int_equal(st2.st_mode & 07777, 0775);
	assert_int_equal(stat(at("good/bin/alias"), &st2), 0);
	assert_true(st.st_ino == st2.st_ino);
	/* An absolute link may be unpacked; it is only never written through. */
	n = readlink(at("good/lib/link"), buf, sizeof(buf) - 1);
	assert_int_equal(n, 11);
	buf[n] = '\0';
	assert_string_equal(buf, "/etc/passwd");
	free(t.buf);
}

/* An archive with one bad entry after a good one: the error names it. */
static void refused(const char *name, unsigned type, const char *link, int hard,
                    const char *message)
{
	struct tarball t;
	int err;

	tb_open(&t);
	tb_add(&t, "ok", AE_IFREG, 0644, "ok\n", 3, NULL, 0);
	tb_add(&t, "lnk", AE_IFLNK, 0777, NULL, 0, at("outside"), 0);
	tb_add(&t, name, type, 0644, "x\n", type == AE_IFREG ? 2 : 0, link, hard);
	tb_close(&t);
	rpl_error_clear();
	err = unpack(&t, at("bad"), NULL);
	if (!err || !strstr(rpl_errmsg(), message))
		fail_msg("%s: err %d, message '%s', expected '%s'", name, err, rpl_errmsg(),
		         message);
	free(t.buf);
	rpl_test_remove_tree(at("bad"));
}

static void test_refused_entries(void **state)
{
	struct stat st;

	(void)state;
	assert_int_equal(rpl_mkdirs(at("outside")), 0);
	rpl_test_write_file(dir, "outside/secret", "secret\n");
	refused("dev", AE_IFCHR, NULL, 0, "dev is a character device: refused");
	refused("blk", AE_IFBLK, NULL, 0, "blk is a block device: refused");
	refused("fifo", AE_IFIFO, NULL, 0, "fifo is a FIFO: refused");
	refused("../escape", AE_IFREG, NULL, 0, "an entry outside its directory: ../escape");
	refused("a/../../escape", AE_IFREG, NULL, 0, "an entry outside its directory");
	refused("/abs", AE_IFREG, NULL, 0, "an entry outside its directory: /abs");
	/* Through the link the archive itself made. */
	refused("lnk/planted", AE_IFREG, NULL, 0, "lnk/planted");
	refused("hl", AE_IFREG, "missing", 1, "hl is a hard link to 'missing', which is not there");
	refused("hl", AE_IFREG, "../x", 1, "hl is a hard link outside its directory");
	refused("hl", AE_IFREG, "lnk/secret", 1, "hard link to 'lnk/secret', which is (or goes");
	refused("hl", AE_IFREG, "lnk", 1, "hard link to 'lnk', which is (or goes through) a sym");
	refused("hl", AE_IFREG, ".", 1, "hard link to '.', which is not a file");
	/* Nothing reached the directory the link points to. */
	assert_int_equal(stat(at("outside/planted"), &st), -1);
	assert_int_equal(stat(at("outside/hl"), &st), -1);
}

static void test_limits(void **state)
{
	struct tarball t;
	struct rpl_extract_opts size = { 0, 0, 1 << 20, 0, 0 }, ratio = { 0, 0, 0, 50, 1 << 20 },
	                        roomy = { 0, 0, 4 << 20, 0, 0 };

	(void)state;
	tb_open(&t);
	tb_add(&t, "zeros", AE_IFREG, 0644, NULL, 3 << 20, NULL, 0);
	tb_close(&t);
	/* 3 MiB of zeros are a few KiB of gzip. */
	assert_true(t.len < 64 << 10);
	assert_int_equal(unpack(&t, at("size"), &size), -EFBIG);
	assert_non_null(strstr(rpl_errmsg(), "unpacks to more than 1048576 bytes (at zeros)"));
	assert_int_equal(unpack(&t, at("ratio"), &ratio), -EFBIG);
	assert_non_null(strstr(rpl_errmsg(), "a decompression bomb?"));
	assert_int_equal(unpack(&t, at("roomy"), &roomy), 0);
	free(t.buf);
	/* A file's declared size counts before its data: nothing of it is made. */
	tb_open(&t);
	tb_add(&t, "small", AE_IFREG, 0644, "s\n", 2, NULL, 0);
	tb_add(&t, "declared", AE_IFREG, 0644, NULL, 2 << 20, NULL, 0);
	tb_close(&t);
	assert_int_equal(unpack(&t, at("declared"), &size), -EFBIG);
	assert_non_null(strstr(rpl_errmsg(), "(at declared)"));
	assert_int_equal(access(at("declared/small"), F_OK), 0);
	assert_int_equal(access(at("declared/declared"), F_OK), -1);
	free(t.buf);
}

static void test_extract_file_and_garbage(void **state)
{
	struct tarball t;
	FILE *f;

	(void)state;
	tb_open(&t);
	tb_add(&t, "a/b", AE_IFREG, 0644, "hi\n", 3, NULL, 0);
	tb_close(&t);
	assert_non_null(f = fopen(at("t.tgz"), "w"));
	fwrite(t.buf, 1, t.len, f);
	fclose(f);
	assert_int_equal(rpl_extract(at("t.tgz"), at("file"), NULL), 0);
	assert_int_equal(access(at("file/a/b"), F_OK), 0);
	/* A truncated archive is an error, not a silent partial tree. */
	assert_non_null(f = fopen(at("short.tgz"), "w"));
	fwrite(t.buf, 1, t.len / 2, f);
	fclose(f);
	assert_int_not_equal(rpl_extract(at("short.tgz"), at("short"), NULL), 0);
	assert_int_not_equal(rpl_extract(at("missing.tgz"), at("none"), NULL), 0);
	free(t.buf);
}

/*
 * A full disk (a 256 KiB tmpfs in a mount namespace of a child's own) fails
 * the extraction with strerror's text.
 */
static void test_no_space(void **state)
{
	struct tarball t;
	int fds[2], status;
	char msg[512] = "";
	pid_t pid;

	(void)state;
	tb_open(&t);
	tb_add(&t, "big", AE_IFREG, 0644, NULL, 1 << 20, NULL, 0);
	tb_close(&t);
	assert_int_equal(rpl_mkdirs(at("small")), 0);
	assert_int_equal(pipe(fds), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int err;
		if (unshare(CLONE_NEWNS | (geteuid() ? CLONE_NEWUSER : 0)) < 0 ||
		    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
		    mount("t", at("small"), "tmpfs", 0, "size=256k") < 0)
			_exit(77);
		err = unpack(&t, at("small/x"), NULL);
		if (write(fds[1], rpl_errmsg(), strlen(rpl_errmsg())) < 0)
			_exit(2);
		_exit(err == -ENOSPC ? 0 : 1);
	}
	close(fds[1]);
	if (read(fds[0], msg, sizeof(msg) - 1) < 0)
		msg[0] = '\0';
	close(fds[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (WIFEXITED(status) && WEXITSTATUS(status) == 77) {
		free(t.buf);
		rpl_test_skip("no mount namespace here: %s", msg);
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		fail_msg("a full disk gave: '%s'", msg);
	assert_non_null(strstr(msg, "No space left on device"));
	assert_non_null(strstr(msg, "cannot unpack 'big'"));
	free(t.buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good_archive),
		cmocka_unit_test(test_refused_entries),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_extract_file_and_garbage),
		cmocka_unit_test(test_no_space),
	};
	return rpl_test_result(cmocka_run_group_tests(tests, setup, teardown));
}
