/*
 * The tree fingerprint behind the no-op memo: stable while nothing changes,
 * different after an edit, an added or removed file or a touched mtime,
 * blind to hidden paths (.git, .ripple, dotfiles), with the file count and
 * the newest mtime.  Each test works in a fresh temporary directory.
 */
#include "orchestrator/memo.h"
#include "common/error.h"
#include "common/sha256.h"
#include "orchestrator/state.h"

#include <dirent.h>
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
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/unit/testlib.h"

/* ---- the temporary tree ------------------------------------------------------- */

static char root[256];

static int make_root(void **state)
{
	(void)state;
	return rpl_test_mkdtemp(root, sizeof(root), "memo");
}

static int remove_root(void **state)
{
	(void)state;
	rpl_test_remove_tree(root);
	root[0] = '\0';
	return 0;
}

static void full_path(char *out, size_t n, const char *rel)
{
	snprintf(out, n, "%s/%s", root, rel);
}

/* Writes in place: an existing file keeps its inode. */
static void write_file(const char *rel, const char *text)
{
	rpl_test_write_file(root, rel, text);
}

static void set_mtime_ns(const char *rel, int64_t ns)
{
	char path[1024];
	struct timespec ts[2];

	full_path(path, sizeof(path), rel);
	ts[0].tv_sec = (time_t)(ns / 1000000000);
	ts[0].tv_nsec = (long)(ns % 1000000000);
	ts[1] = ts[0];
	if (utimensat(AT_FDCWD, path, ts, AT_SYMLINK_NOFOLLOW))
		fail_msg("utimensat %s: %s", path, strerror(errno));
}

static int64_t mtime_ns(const char *rel)
{
	char path[1024];
	struct stat sb;

	full_path(path, sizeof(path), rel);
	if (lstat(path, &sb))
		fail_msg("stat %s: %s", path, strerror(errno));
	return (int64_t)sb.st_mtim.tv_sec * 1000000000 + sb.st_mtim.tv_nsec;
}

static void print(struct rpl_tree_print *tp)
{
	if (rpl_tree_fingerprint(root, tp, NULL))
		fail_msg("rpl_tree_fingerprint: %s", rpl_errmsg());
}

/* The fingerprint as hex, so that a failed comparison shows both values. */
static void print_hex(char out[RPL_SHA256_HEX])
{
	struct rpl_tree_print tp;

	print(&tp);
	rpl_hex(tp.digest, RPL_SHA256_LEN, out);
}

static void expect_changed(const char *before, const char *what)
{
	char after[RPL_SHA256_HEX];

	print_hex(after);
	if (!strcmp(before, after))
		fail_msg("fingerprint unchanged after %s: %s", what, after);
}

static void expect_same(const char *before)
{
	char after[RPL_SHA256_HEX];

	print_hex(after);
	assert_string_equal(after, before);
}

/*
 * A small monorepo whose files and directories all carry fixed mtimes
 * in the past, so that no test depends on the clock.
 */
static const char *const tree_files[] = { "a.yaml", "a/x.patch", "b.yaml", "sub/c.melange.yaml",
	                                  "sub/deep/d.txt" };
static const char *const tree_dirs[] = { "a", "sub/deep", "sub" };
#define BASE_NS INT64_C(1600000000000000000)

static void make_tree(void)
{
	for (size_t i = 0; i < sizeof(tree_files) / sizeof(*tree_files); i++)
		write_file(tree_files[i], tree_files[i]);
	write_file(".git/HEAD", "ref: refs/heads/main\n");
	write_file(".git/objects/info", "x\n");
	write_file(".ripple/state.db", "db\n");
	write_file(".hidden-file", "secret\n");
	write_file("sub/.swp", "editor\n");
	for (size_t i = 0; i < sizeof(tree_files) / sizeof(*tree_files); i++)
		set_mtime_ns(tree_files[i], BASE_NS + (int64_t)i * 1000);
	for (size_t i = 0; i < sizeof(tree_dirs) / sizeof(*tree_dirs); i++)
		set_mtime_ns(tree_dirs[i], BASE_NS + 500);
}

/* ---- tests --------------------------------------------------------------------- */

static void test_stable_across_calls(void **state)
{
	char a[RPL_SHA256_HEX], b[RPL_SHA256_HEX];
	struct rpl_tree_print p1, p2;

	(void)state;
	make_tree();
	print_hex(a);
	print_hex(b);
	assert_string_equal(a, b);
	print(&p1);
	print(&p2);
	assert_int_equal(p1.nfiles, p2.nfiles);
	assert_int_equal(p1.newest_ns, p2.newest_ns);
}

static void test_counts_files(void **state)
{
	struct rpl_tree_print tp;

	(void)state;
	make_tree();
	print(&tp);
	/* Five visible files; directories and hidden files do not count. */
	assert_int_equal(tp.nfiles, 5);

	write_file("sub/deep/e.txt", "e");
	print(&tp);
	assert_int_equal(tp.nfiles, 6);

	/* A symlink is a file of the tree; it is not followed. */
	{
		char path[1024];
		full_path(path, sizeof(path), "link");
		assert_int_equal(symlink("sub", path), 0);
	}
	print(&tp);
	assert_int_equal(tp.nfiles, 7);
}

/*
 * The files a walk lends to the state store: every visible regular file with
 * the stat the walk saw; no directories, symlinks or hidden paths.
 */
static void test_files_kept(void **state)
{
	struct rpl_tree_print tp;
	struct rpl_tree_files files;
	const struct rpl_strmap *m;
	char path[1024];
	size_t n = 0;

	(void)state;
	make_tree();
	full_path(path, sizeof(path), "link");
	assert_int_equal(symlink("a.yaml", path), 0);
	assert_int_equal(rpl_tree_fingerprint(root, &tp, &files), 0);
	m = rpl_tree_files_index(&files);
	for (size_t i = 0; i < m->cap; i++)
		n += m->slots[i].key != NULL;
	assert_int_equal(n, 5);
	for (size_t i = 0; i < sizeof(tree_files) / sizeof(*tree_files); i++) {
		const struct rpl_file_stat *f = rpl_strmap_get(m, tree_files[i]);
		struct stat sb;

		if (!f)
			fail_msg("'%s' not kept", tree_files[i]);
		full_path(path, sizeof(path), tree_files[i]);
		assert_int_equal(stat(path, &sb), 0);
		assert_int_equal(f->size, sb.st_size);
		assert_int_equal(f->ino, sb.st_ino);
		assert_int_equal(f->mtime_ns, BASE_NS + (int64_t)i * 1000);
	}
	assert_null(rpl_strmap_get(m, "link"));
	assert_null(rpl_strmap_get(m, "sub"));
	assert_null(rpl_strmap_get(m, ".hidden-file"));
	rpl_tree_files_release(&files);
}

static void test_empty_tree(void **state)
{
	struct rpl_tree_print tp;

	(void)state;
	print(&tp);
	assert_int_equal(tp.nfiles, 0);
	assert_int_equal(tp.newest_ns, 0);
}

static void test_newest_mtime(void **state)
{
	struct rpl_tree_print tp;

	(void)state;
	make_tree();
	print(&tp);
	/* The last file of tree_files has the newest time. */
	assert_int_equal(tp.newest_ns, BASE_NS + 4000);

	set_mtime_ns("a/x.patch", BASE_NS + 123456789);
	print(&tp);
	assert_int_equal(tp.newest_ns, BASE_NS + 123456789);

	/* Hidden files are no input: their time does not count. */
	set_mtime_ns(".hidden-file", BASE_NS + 999999999);
	set_mtime_ns(".ripple/state.db", BASE_NS + 999999999);
	print(&tp);
	assert_int_equal(tp.newest_ns, BASE_NS + 123456789);

	/* A file written now is the newest. */
	write_file("sub/deep/d.txt", "now");
	print(&tp);
	assert_int_equal(tp.newest_ns, mtime_ns("sub/deep/d.txt"));
}

static void test_content_change_of_size(void **state)
{
	char before[RPL_SHA256_HEX];
	int64_t t;

	(void)state;
	make_tree();
	print_hex(before);
	/* Even with the mtime put back, the size tells. */
	t = mtime_ns("sub/deep/d.txt");
	write_file("sub/deep/d.txt", "a longer content than before");
	set_mtime_ns("sub/deep/d.txt", t);
	expect_changed(before, "a change of size");
}

static void test_mtime_change(void **state)
{
	char before[RPL_SHA256_HEX];

	(void)state;
	make_tree();
	print_hex(before);
	set_mtime_ns("b.yaml", BASE_NS - 1);
	expect_changed(before, "a new mtime");
	/* Putting it back gives the old fingerprint again. */
	set_mtime_ns("b.yaml", BASE_NS + 2000);
	expect_same(before);
}

static void test_file_added_and_removed(void **state)
{
	char before[RPL_SHA256_HEX], added[RPL_SHA256_HEX], path[1024];

	(void)state;
	make_tree();
	print_hex(before);
	write_file("new.yaml", "new");
	expect_changed(before, "adding a file");
	print_hex(added);

	full_path(path, sizeof(path), "new.yaml");
	assert_int_equal(unlink(path), 0);
	expect_changed(added, "removing a file");

	full_path(path, sizeof(path), "a/x.patch");
	assert_int_equal(unlink(path), 0);
	set_mtime_ns("a", BASE_NS + 500); /* the directory's time is not what tells */
	expect_changed(before, "removing a file of the original tree");
}

/*
 * A file replaced through tmp + rename, as editors and git do, with the
 * same size and mtime: only the inode tells.
 */
static void test_inode_change(void **state)
{
	char before[RPL_SHA256_HEX], from[1024], to[1024];
	int64_t t;

	(void)state;
	make_tree();
	t = mtime_ns("b.yaml");
	print_hex(before);
	write_file("b.yaml.tmp", "B.YAML");
	set_mtime_ns("b.yaml.tmp", t);
	full_path(from, sizeof(from), "b.yaml.tmp");
	full_path(to, sizeof(to), "b.yaml");
	assert_int_equal(rename(from, to), 0);
	assert_int_equal(mtime_ns("b.yaml"), t);
	expect_changed(before, "a new inode");
}

static void test_mode_change(void **state)
{
	char before[RPL_SHA256_HEX], path[1024];

	(void)state;
	make_tree();
	print_hex(before);
	full_path(path, sizeof(path), "a/x.patch");
	assert_int_equal(chmod(path, 0755), 0);
	expect_changed(before, "chmod +x");
}

/* A rename keeps size, mtime and inode: the path tells. */
static void test_rename(void **state)
{
	char before[RPL_SHA256_HEX], from[1024], to[1024];

	(void)state;
	make_tree();
	print_hex(before);
	full_path(from, sizeof(from), "b.yaml");
	full_path(to, sizeof(to), "bb.yaml");
	assert_int_equal(rename(from, to), 0);
	expect_changed(before, "a rename");
}

/* Hidden paths are never inputs: whatever happens in them does not count. */
static void test_hidden_paths_ignored(void **state)
{
	char before[RPL_SHA256_HEX];

	(void)state;
	make_tree();
	print_hex(before);

	write_file(".git/HEAD", "ref: refs/heads/another-branch-name\n");
	write_file(".git/objects/info", "changed, and longer than before\n");
	write_file(".git/index.lock", "new\n");
	write_file(".ripple/state.db", "a bigger database\n");
	write_file(".ripple/lock", "123\n");
	write_file(".hidden-file", "a longer secret\n");
	write_file(".new-hidden", "x\n");
	/* An existing dotfile below the root, edited in place. */
	write_file("sub/.swp", "editor state, longer\n");
	set_mtime_ns("sub/.swp", BASE_NS + 999999999);
	expect_same(before);
}

static void test_missing_root(void **state)
{
	struct rpl_tree_print tp;
	char path[1024];

	(void)state;
	full_path(path, sizeof(path), "nosuch");
	assert_int_equal(rpl_tree_fingerprint(path, &tp, NULL), -ENOENT);
	if (!strstr(rpl_errmsg(), "nosuch"))
		fail_msg("message: '%s'", rpl_errmsg());
}

static void test_self_identity_is_stable(void **state)
{
	uint8_t a[RPL_SHA256_LEN], b[RPL_SHA256_LEN], zero[RPL_SHA256_LEN] = { 0 };
	char ha[RPL_SHA256_HEX], hb[RPL_SHA256_HEX], hz[RPL_SHA256_HEX];

	(void)state;
	rpl_self_identity(a);
	rpl_self_identity(b);
	rpl_hex(a, sizeof(a), ha);
	rpl_hex(b, sizeof(b), hb);
	rpl_hex(zero, sizeof(zero), hz);
	assert_string_equal(ha, hb);
	assert_string_not_equal(ha, hz);
}

/* ---- a tree wide enough to be walked by several threads ---------------------- */

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * The fingerprint as its definition says, one entry after another: sorted
 * names, each entry's "path/" and its size, mtime, inode and mode, and
 * directories entered where they stand.  The visible files' paths go to
 * `paths` in that order.
 */
static void reference_walk(const char *rel, struct rpl_sha256 *h, char ***paths, size_t *n)
{
	char dir[4096], *names[1024];
	size_t count = 0;
	struct dirent *de;
	DIR *d;

	snprintf(dir, sizeof(dir), "%s%s%s", root, *rel ? "/" : "", rel);
	assert_non_null(d = opendir(dir));
	while ((de = readdir(d)))
		if (de->d_name[0] != '.') {
			assert_true(count < 1024);
			names[count++] = strdup(de->d_name);
		}
	closedir(d);
	qsort(names, count, sizeof(*names), cmp_str);
	for (size_t i = 0; i < count; i++) {
		char sub[2048], full[4096], rec[4096];
		struct stat sb;
		int64_t v[4];

		snprintf(sub, sizeof(sub), "%s%s%s", rel, *rel ? "/" : "", names[i]);
		snprintf(full, sizeof(full), "%s/%s", root, sub);
		assert_int_equal(lstat(full, &sb), 0);
		snprintf(rec, sizeof(rec), "%s/", sub);
		rpl_sha256_update(h, rec, strlen(rec));
		v[0] = (int64_t)sb.st_size;
		v[1] = (int64_t)sb.st_mtim.tv_sec * 1000000000 + sb.st_mtim.tv_nsec;
		v[2] = (int64_t)sb.st_ino;
		v[3] = (int64_t)sb.st_mode;
		rpl_sha256_update(h, v, sizeof(v));
		if (S_ISDIR(sb.st_mode)) {
			reference_walk(sub, h, paths, n);
		} else {
			*paths = realloc(*paths, (*n + 1) * sizeof(**paths));
			(*paths)[(*n)++] = strdup(sub);
		}
		free(names[i]);
	}
}

/*
 * 400 recipes with a patch directory each: the root's entries are walked
 * in chunks by several threads, and the result is the one entry-by-entry
 * walk's (digest, file list in walk order, counts), every time.
 */
static void test_wide_tree_in_walk_order(void **state)
{
	struct rpl_tree_print tp;
	struct rpl_tree_files files;
	struct rpl_sha256 h;
	uint8_t want[RPL_SHA256_LEN];
	char **paths = NULL, rel[64];
	size_t n = 0;

	(void)state;
	for (int i = 0; i < 400; i++) {
		snprintf(rel, sizeof(rel), "pkg-%03d.yaml", i);
		write_file(rel, "package: {}\n");
		snprintf(rel, sizeof(rel), "pkg-%03d/fix-%d.patch", i, i % 7);
		write_file(rel, "--- a\n+++ b\n");
		if (i % 50 == 0) {
			snprintf(rel, sizeof(rel), "pkg-%03d/deep/er/file", i);
			write_file(rel, "x");
		}
	}
	rpl_sha256_init(&h);
	reference_walk("", &h, &paths, &n);
	rpl_sha256_final(&h, want);
	assert_int_equal(n, 808);

	for (int round = 0; round < 3; round++) {
		assert_int_equal(rpl_tree_fingerprint(root, &tp, &files), 0);
		assert_memory_equal(tp.digest, want, RPL_SHA256_LEN);
		assert_int_equal(tp.nfiles, n);
		assert_int_equal(files.n, n);
		for (size_t i = 0; i < n; i++)
			assert_string_equal(files.paths.buf + files.v[i].path, paths[i]);
		rpl_tree_files_release(&files);
	}
	/* Without the file list, the same digest. */
	print(&tp);
	assert_memory_equal(tp.digest, want, RPL_SHA256_LEN);
	for (size_t i = 0; i < n; i++)
		free(paths[i]);
	free(paths);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, make_root, remove_root)
		T(test_stable_across_calls),
		T(test_counts_files),
		T(test_files_kept),
		T(test_empty_tree),
		T(test_newest_mtime),
		T(test_content_change_of_size),
		T(test_mtime_change),
		T(test_file_added_and_removed),
		T(test_inode_change),
		T(test_mode_change),
		T(test_rename),
		T(test_hidden_paths_ignored),
		T(test_missing_root),
		T(test_self_identity_is_stable),
		T(test_wide_tree_in_walk_order),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
