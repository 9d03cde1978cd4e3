/*
 * What ripple does inside a workspace a step may have booby-trapped
 * (runners/workspace.h): paths that leave /home/build, and links planted
 * where ripple opens, makes, removes, moves or copies — each refused or
 * replaced, never followed, with the directory the link points to
 * unchanged.
 */
#include "common/error.h"
#include "common/file.h"
#include "runners/workspace.h"

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/unit/testlib.h"

static char dir[256];
static int ws = -1;

/* `rel` under the test's directory (four at a time may be in use). */
static char *at(const char *rel)
{
	static char p[4][512];
	static unsigned next;
	char *out = p[next++ % 4];

	snprintf(out, sizeof(p[0]), "%s/%s", dir, rel);
	return out;
}

/* A workspace `ws/` and, beside it, `outside/secret` that no operation may touch. */
static int setup(void **state)
{
	(void)state;
	if (rpl_test_mkdtemp(dir, sizeof(dir), "workspace") || rpl_mkdirs(at("ws")) ||
	    rpl_mkdirs(at("outside")))
		return -1;
	rpl_test_write_file(dir, "outside/secret", "secret\n");
	ws = open(at("ws"), O_RDONLY | O_DIRECTORY);
	return ws < 0 ? -1 : 0;
}

static int teardown(void **state)
{
	(void)state;
	close(ws);
	return rpl_test_remove_tree(dir);
}

/* The outside directory holds exactly its secret, unchanged. */
static void outside_untouched(void)
{
	char *text = NULL;
	size_t len;
	struct stat st;

	assert_int_equal(rpl_read_file(at("outside/secret"), &text, &len), 0);
	assert_string_equal(text, "secret\n");
	free(text);
	assert_int_equal(stat(at("outside"), &st), 0);
	assert_int_equal(st.st_nlink, 2); /* no directory was made in it */
	assert_int_equal(access(at("outside/planted"), F_OK), -1);
}

static void relpath_is(const char *wd, const char *path, const char *want)
{
	char *rel = NULL;
	int err = rpl_ws_relpath(wd, path, &rel);

	if (!want) {
		if (!err)
			fail_msg("'%s' in '%s' gave '%s', expected a refusal", path ? path : "", wd,
			         rel);
		assert_non_null(strstr(rpl_errmsg(), "is outside /home/build"));
		return;
	}
	if (err)
		fail_msg("'%s' in '%s': %s", path ? path : "", wd, rpl_errmsg());
	assert_string_equal(rel, want);
	free(rel);
}

static void test_relpath(void **state)
{
	(void)state;
	relpath_is("/home/build", NULL, "");
	relpath_is("/home/build", "", "");
	relpath_is("/home/build", ".", "");
	relpath_is("/home/build/", "src", "src");
	relpath_is("/home/build/src", "../confd", "confd");
	relpath_is("/home/build", "/home/build/a/./b/../c", "a/c");
	relpath_is("/home/build/src", "/home/build//x//", "x");
	relpath_is("/home/build", "..", NULL);
	relpath_is("/home/build", "/home/build/..", NULL);
	relpath_is("/home/build/src", "../../build/src", NULL);
	relpath_is("/home/build/src", "../..", NULL);
	relpath_is("/home/build", "/home/buildx", NULL);
	relpath_is("/home/build", "/tmp", NULL);
	relpath_is("/", "home/build", "");
	relpath_is("/home", "x", NULL);
}

static void test_open_refuses_links(void **state)
{
	int fd;

	(void)state;
	assert_int_equal(symlink(at("outside"), at("ws/out")), 0);
	assert_int_equal(symlink("../outside", at("ws/rel")), 0);
	assert_int_equal(rpl_ws_open(ws, "out/secret", O_RDONLY, &fd), -ELOOP);
	assert_int_equal(rpl_ws_open(ws, "out", O_RDONLY | O_DIRECTORY, &fd), -ELOOP);
	assert_int_equal(rpl_ws_open(ws, "rel/secret", O_RDONLY, &fd), -ELOOP);
	assert_int_equal(rpl_ws_open(ws, "../outside/secret", O_RDONLY, &fd), -EXDEV);
	assert_int_equal(rpl_ws_open(ws, at("outside/secret"), O_RDONLY, &fd), -EXDEV);
	assert_int_equal(rpl_ws_open(ws, "", O_RDONLY | O_DIRECTORY, &fd), 0);
	close(fd);
	/* Making directories through a planted link is refused. */
	assert_int_not_equal(rpl_ws_mkdirs(ws, "out/planted", &fd), 0);
	assert_non_null(strstr(rpl_errmsg(), "goes through a symbolic link: refused"));
	assert_int_not_equal(rpl_ws_mkdirs(ws, "../outside/planted", &fd), 0);
	assert_int_equal(rpl_ws_mkdirs(ws, "a/b/c", &fd), 0);
	close(fd);
	assert_int_equal(access(at("ws/a/b/c"), F_OK), 0);
	outside_untouched();
}

static void test_open_in_root(void **state)
{
	int fd, tree;
	char buf[16] = "";

	(void)state;
	assert_int_equal(rpl_mkdirs(at("tree/usr/lib")), 0);
	rpl_test_write_file(dir, "tree/usr/lib/libx.so.1", "x\n");
	assert_int_equal(symlink("libx.so.1", at("tree/usr/lib/libx.so")), 0);
	assert_int_equal(symlink(at("outside/secret"), at("tree/usr/lib/libabs.so")), 0);
	assert_int_equal(symlink("/", at("tree/usr/lib/root")), 0);
	tree = open(at("tree"), O_RDONLY | O_DIRECTORY);
	/* Links inside the tree are followed... */
	assert_int_equal(rpl_ws_open_in_root(tree, "usr/lib/libx.so", O_RDONLY, &fd), 0);
	assert_int_equal(read(fd, buf, sizeof(buf)), 2);
	close(fd);
	/* ...and absolute ones resolve inside it, never to the host. */
	assert_int_equal(rpl_ws_open_in_root(tree, "usr/lib/libabs.so", O_RDONLY, &fd), -ENOENT);
	assert_int_equal(rpl_ws_open_in_root(tree, "usr/lib/root/usr/lib/libx.so.1", O_RDONLY, &fd),
	                 0);
	close(fd);
	close(tree);
}

static void test_remove_never_follows(void **state)
{
	struct stat st;

	(void)state;
	assert_int_equal(rpl_mkdirs(at("ws/t/deep/er")), 0);
	rpl_test_write_file(dir, "ws/t/deep/er/f", "f\n");
	assert_int_equal(symlink(at("outside"), at("ws/t/link")), 0);
	assert_int_equal(symlink(at("outside/secret"), at("ws/t/deep/file-link")), 0);
	assert_int_equal(chmod(at("ws/t/deep/er"), 0500), 0);
	assert_int_equal(rpl_ws_remove(ws, "t"), 0);
	assert_int_equal(lstat(at("ws/t"), &st), -1);
	assert_int_equal(rpl_ws_remove(ws, "t"), 0); /* gone already: fine */
	assert_int_not_equal(rpl_ws_remove(ws, ".."), 0);
	assert_int_not_equal(rpl_ws_remove(ws, "a/../.."), 0);
	outside_untouched();
	/* A path whose last component is a link: the link goes, not its target. */
	assert_int_equal(symlink(at("outside"), at("ws/gone")), 0);
	assert_int_equal(rpl_ws_remove_path(at("ws/gone")), 0);
	outside_untouched();
}

static void test_move_replaces_links(void **state)
{
	int from, to;
	char *text = NULL;
	size_t len;
	struct stat st;

	(void)state;
	/* What a step planted: `src` and `src2/x` as links out. */
	assert_int_equal(rpl_mkdirs(at("ws/dst/src2")), 0);
	assert_int_equal(symlink(at("outside"), at("ws/dst/src")), 0);
	assert_int_equal(symlink(at("outside/secret"), at("ws/dst/src2/x")), 0);
	rpl_test_write_file(dir, "ws/dst/keep", "kept\n");
	/* What ripple unpacked beside the workspace. */
	rpl_test_write_file(dir, "stage/src/planted", "tree\n");
	rpl_test_write_file(dir, "stage/src2/x", "x\n");
	from = open(at("stage"), O_RDONLY | O_DIRECTORY);
	assert_int_equal(rpl_ws_mkdirs(ws, "dst", &to), 0);
	if (rpl_ws_move(from, to, 1))
		fail_msg("move: %s", rpl_errmsg());
	close(from);
	close(to);
	assert_int_equal(lstat(at("ws/dst/src"), &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(lstat(at("ws/dst/src2/x"), &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(rpl_read_file(at("ws/dst/keep"), &text, &len), 0);
	assert_string_equal(text, "kept\n");
	free(text);
	outside_untouched();
	/* Copying onto a planted link replaces the link. */
	assert_int_equal(symlink(at("outside/secret"), at("ws/download")), 0);
	rpl_test_write_file(dir, "cache/file", "fetched\n");
	assert_int_equal(rpl_ws_copy_file(at("cache/file"), ws, "download", 0644), 0);
	assert_int_equal(lstat(at("ws/download"), &st), 0);
	assert_true(S_ISREG(st.st_mode));
	outside_untouched();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_relpath),
		cmocka_unit_test(test_open_refuses_links),
		cmocka_unit_test(test_open_in_root),
		cmocka_unit_test(test_remove_never_follows),
		cmocka_unit_test(test_move_replaces_links),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
