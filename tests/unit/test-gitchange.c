/*
 * What git reports changed: against --since REF (committed, staged,
 * unstaged and untracked), deletions and renames, the default base of
 * --changed (upstream merge-base, HEAD~1, the empty tree), a monorepo root
 * below the work tree, and the errors.  Each test makes its repositories
 * with the git command line in a fresh temporary directory, and is skipped
 * when git is not installed.
 */
#include "orchestrator/gitchange.h"
#include "common/error.h"

#include <errno.h>
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

/* ---- temporary repositories ----------------------------------------------- */

static char root[256]; /* the temporary directory; repositories live inside it */

/* What the test got: released by the teardown too, when an assert fails. */
static struct rpl_changes got;

static int make_root(void **state)
{
	(void)state;
	return rpl_test_mkdtemp(root, sizeof(root), "gitchange");
}

static int remove_root(void **state)
{
	(void)state;
	rpl_changes_release(&got);
	rpl_test_remove_tree(root);
	root[0] = '\0';
	return 0;
}

static void need_git(void)
{
	if (system("git --version >/dev/null 2>&1"))
		rpl_test_skip("git is not installed");
}

/* Runs a shell command inside `root`; the test fails when it does. */
static void sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void sh(const char *fmt, ...)
{
	char cmd[2048];
	int n;
	va_list ap;

	n = snprintf(cmd, sizeof(cmd), "cd '%s' && ", root);
	va_start(ap, fmt);
	vsnprintf(cmd + n, sizeof(cmd) - (size_t)n, fmt, ap);
	va_end(ap);
	if (system(cmd))
		fail_msg("command failed: %s", cmd);
}

/* The git every test uses: no user configuration, a fixed identity and branch. */
#define GIT                                                                          \
	"git -c user.name=t -c user.email=t@example.com -c init.defaultBranch=main " \
	"-c commit.gpgsign=false "

static void write_file(const char *rel, const char *text)
{
	rpl_test_write_file(root, rel, text);
}

static void changes_ok(const char *rel_root, const char *since, struct rpl_changes *c)
{
	char path[1024];

	snprintf(path, sizeof(path), "%s/%s", root, rel_root);
	if (rpl_git_changes(path, since, c))
		fail_msg("rpl_git_changes(%s, %s): %s", rel_root, since ? since : "NULL",
		         rpl_errmsg());
}

/* Joins a list as "a b c" so that a mismatch shows both lists whole. */
static void join(char *const *v, size_t n, char *out, size_t len)
{
	size_t k = 0;

	out[0] = '\0';
	for (size_t i = 0; i < n && k < len; i++)
		k += (size_t)snprintf(out + k, len - k, "%s%s", i ? " " : "", v[i]);
}

static void expect_paths(const struct rpl_changes *c, const char *paths, const char *deleted)
{
	char buf[2048];

	join(c->paths, c->npaths, buf, sizeof(buf));
	assert_string_equal(buf, paths);
	join(c->deleted, c->ndeleted, buf, sizeof(buf));
	assert_string_equal(buf, deleted);
}

/* repo/ with a, b, c, d and sub/e committed on main. */
static void base_repo(void)
{
	write_file("repo/a", "a\n");
	write_file("repo/b", "b\n");
	write_file("repo/c", "c\n");
	write_file("repo/d", "d\n");
	write_file("repo/sub/e", "e\n");
	sh("cd repo && " GIT "init -q && " GIT "add -A && " GIT "commit -qm one");
}

/* ---- --since ------------------------------------------------------------------ */

static void test_since_lists_every_kind_of_change(void **state)
{
	(void)state;
	need_git();
	base_repo();
	sh("cd repo && " GIT "tag base");
	write_file("repo/a", "a2\n");
	sh("cd repo && " GIT "commit -qam two");
	write_file("repo/b", "b2\n");
	sh("cd repo && " GIT "add b");
	write_file("repo/c", "c2\n");
	write_file("repo/u", "untracked\n");
	write_file("repo/newdir/deep/v", "untracked too\n");

	changes_ok("repo", "base", &got);
	expect_paths(&got, "a b c newdir/deep/v u", "");
	assert_string_equal(got.base, "base");
	rpl_changes_release(&got);

	/* Against HEAD the committed change to a is not a change. */
	changes_ok("repo", "HEAD", &got);
	expect_paths(&got, "b c newdir/deep/v u", "");
	assert_string_equal(got.base, "HEAD");
	rpl_changes_release(&got);

	/* Any revision git understands. */
	changes_ok("repo", "HEAD~1", &got);
	expect_paths(&got, "a b c newdir/deep/v u", "");
	rpl_changes_release(&got);
}

/*
 * A file changed by a commit since the base and put back in the working
 * tree does not differ from the base: `git diff --name-only BASE` leaves it
 * out, and so must --since.  Both a change of size and one of the same size.
 */
static void test_since_change_reverted_in_worktree_is_no_change(void **state)
{
	(void)state;
	need_git();
	base_repo();
	sh("cd repo && " GIT "tag base");
	write_file("repo/a", "a-longer\n");
	write_file("repo/b", "B\n");
	sh("cd repo && " GIT "commit -qam two");
	write_file("repo/a", "a\n");
	write_file("repo/b", "b\n");

	changes_ok("repo", "base", &got);
	expect_paths(&got, "", "");
	rpl_changes_release(&got);
}

/* A file both committed since the base and edited again is listed once. */
static void test_since_is_unique(void **state)
{
	(void)state;
	need_git();
	base_repo();
	write_file("repo/a", "a2\n");
	sh("cd repo && " GIT "commit -qam two");
	write_file("repo/a", "a3\n");
	sh("cd repo && " GIT "add a");
	write_file("repo/a", "a4\n");
	changes_ok("repo", "HEAD~1", &got);
	expect_paths(&got, "a", "");
	rpl_changes_release(&got);
}

static void test_deleted_files(void **state)
{
	(void)state;
	need_git();
	base_repo();
	sh("cd repo && " GIT "rm -q c && " GIT "commit -qm 'drop c'");
	sh("cd repo && " GIT "rm -q a"); /* staged */
	sh("cd repo && rm b sub/e");     /* unstaged */
	changes_ok("repo", "HEAD~1", &got);
	expect_paths(&got, "a b c sub/e", "a b c sub/e");
	rpl_changes_release(&got);

	/* A deletion and an edit together: only the deletion is in `deleted`. */
	write_file("repo/d", "d2\n");
	changes_ok("repo", "HEAD", &got);
	expect_paths(&got, "a b d sub/e", "a b sub/e");
	rpl_changes_release(&got);
}

static void test_rename_lists_both_names(void **state)
{
	(void)state;
	need_git();
	base_repo();
	sh("cd repo && " GIT "mv a renamed");
	changes_ok("repo", "HEAD", &got);
	expect_paths(&got, "a renamed", "a");
	rpl_changes_release(&got);

	/* Committed, the rename is still both names. */
	sh("cd repo && " GIT "commit -qm rename");
	changes_ok("repo", "HEAD~1", &got);
	expect_paths(&got, "a renamed", "a");
	rpl_changes_release(&got);
}

/* ---- the working tree against the index ---------------------------------------- */

/* Ignored files and everything under an ignored directory are not changes. */
static void test_ignored_files_are_not_changes(void **state)
{
	(void)state;
	need_git();
	base_repo();
	write_file("repo/.gitignore", "*.log\nout/\n");
	sh("cd repo && " GIT "add .gitignore && " GIT "commit -qm ignore");
	write_file("repo/build.log", "noise\n");
	write_file("repo/sub/deep.log", "noise\n");
	write_file("repo/out/x86_64/foo.apk", "apk\n");
	write_file("repo/out/y", "y\n");
	write_file("repo/kept.txt", "new\n");
	changes_ok("repo", "HEAD", &got);
	expect_paths(&got, "kept.txt", "");
	rpl_changes_release(&got);
}

/* The mode is part of a file: an executable bit or a link's target. */
static void test_mode_and_link_changes(void **state)
{
	(void)state;
	need_git();
	base_repo();
	sh("cd repo && ln -s a link && " GIT "add link && " GIT "commit -qm link");
	sh("cd repo && chmod +x b && rm link && ln -s c link");
	changes_ok("repo", "HEAD", &got);
	expect_paths(&got, "b link", "");
	rpl_changes_release(&got);
	/* Put back as it was: no change, though the stat data differ. */
	sh("cd repo && chmod -x b && rm link && ln -s a link");
	changes_ok("repo", "HEAD", &got);
	expect_paths(&got, "", "");
	rpl_changes_release(&got);
}

/*
 * An edit of the same size within the second the index was written keeps
 * size and (coarse) mtime: the entry is racy and the file is hashed.
 */
static void test_racy_same_size_edit(void **state)
{
	(void)state;
	need_git();
	base_repo();
	/* Index and file written, then the file changed, all in one moment:
	 * size, inode and mtime of the entry match the file. */
	sh("cd repo && printf 'x\\n' > d && touch -d @1600000000 d && " GIT "commit -qam x && "
	   "printf 'y\\n' > d && touch -d @1600000000 d .git/index");
	changes_ok("repo", "HEAD", &got);
	expect_paths(&got, "d", "");
	rpl_changes_release(&got);
}

/*
 * A touched file is hashed once: the index gets its new stat data, as
 * `git status` would write them, and git then sees it clean too.
 */
static void test_touched_file_refreshes_the_index(void **state)
{
	char cmd[1200];

	(void)state;
	need_git();
	base_repo();
	sh("cd repo && touch -d '2001-01-01 00:00:00' a c");
	changes_ok("repo", "HEAD", &got);
	expect_paths(&got, "", "");
	rpl_changes_release(&got);
	/* git diff-files does not refresh: it lists entries whose stat data differ. */
	snprintf(cmd, sizeof(cmd), "cd '%s/repo' && test -z \"$(git diff-files --name-only)\"",
	         root);
	assert_int_equal(system(cmd), 0);
}

/* Tracked files under hidden directories are compared too; a staged
 * deletion of a file still on disk is a change. */
static void test_hidden_tracked_and_cached_removal(void **state)
{
	(void)state;
	need_git();
	base_repo();
	write_file("repo/.github/ci.yaml", "on: push\n");
	sh("cd repo && " GIT "add -A && " GIT "commit -qm ci");
	write_file("repo/.github/ci.yaml", "on: pull_request\n");
	sh("cd repo && " GIT "rm -q --cached b");
	changes_ok("repo", "HEAD", &got);
	expect_paths(&got, ".github/ci.yaml b", "");
	rpl_changes_release(&got);
}

/* ---- --changed: the default base ------------------------------------------------ */

static void test_default_base_is_head_parent(void **state)
{
	(void)state;
	need_git();
	base_repo();
	write_file("repo/b", "b2\n");
	write_file("repo/sub/f", "f\n");
	sh("cd repo && " GIT "add -A && " GIT "commit -qm two");
	write_file("repo/c", "c2\n");

	changes_ok("repo", NULL, &got);
	expect_paths(&got, "b c sub/f", "");
	assert_non_null(strstr(got.base, "HEAD~1"));
	rpl_changes_release(&got);
}

static void test_default_base_first_commit_is_empty_tree(void **state)
{
	(void)state;
	need_git();
	base_repo();
	/* The state store ignores itself: never a change. */
	write_file("repo/.ripple/.gitignore", "*\n");
	write_file("repo/.ripple/state.db", "x");
	write_file("repo/u", "untracked\n");

	changes_ok("repo", NULL, &got);
	expect_paths(&got, "a b c d sub/e u", "");
	assert_non_null(strstr(got.base, "empty tree"));
	rpl_changes_release(&got);
}

static void test_default_base_without_commits(void **state)
{
	(void)state;
	need_git();
	write_file("repo/a", "a\n");
	write_file("repo/b", "b\n");
	sh("cd repo && " GIT "init -q && " GIT "add a");

	changes_ok("repo", NULL, &got);
	expect_paths(&got, "a b", "");
	assert_non_null(strstr(got.base, "no commits"));
	rpl_changes_release(&got);
}

/*
 * With an upstream branch the base is the merge-base: what the clone
 * committed counts, what upstream got meanwhile does not.
 */
static void test_default_base_is_upstream_merge_base(void **state)
{
	(void)state;
	need_git();
	base_repo();
	write_file("repo/b", "b2\n");
	sh("cd repo && " GIT "commit -qam two");
	sh(GIT "clone -q repo clone");

	/* Nothing done in the clone yet: nothing changed. */
	changes_ok("clone", NULL, &got);
	expect_paths(&got, "", "");
	if (strncmp(got.base, "origin/main (merge-base ", 24))
		fail_msg("base '%s' does not start with 'origin/main (merge-base '", got.base);
	rpl_changes_release(&got);

	/* Upstream moves on, and the clone fetches it. */
	write_file("repo/upstream-only", "u\n");
	write_file("repo/d", "d-upstream\n");
	sh("cd repo && " GIT "add -A && " GIT "commit -qm upstream");
	sh("cd clone && " GIT "fetch -q");
	/* Two commits of its own, then a working-tree edit. */
	write_file("clone/mine", "m\n");
	sh("cd clone && " GIT "add -A && " GIT "commit -qm mine");
	write_file("clone/c", "c2\n");
	sh("cd clone && " GIT "commit -qam mine2");
	write_file("clone/sub/e", "e2\n");

	changes_ok("clone", NULL, &got);
	expect_paths(&got, "c mine sub/e", "");
	if (strncmp(got.base, "origin/", 7))
		fail_msg("base '%s' does not start with 'origin/'", got.base);
	rpl_changes_release(&got);
}

/* ---- the monorepo root inside the work tree --------------------------------------- */

static void test_root_in_subdirectory(void **state)
{
	(void)state;
	need_git();
	write_file("repo/top.txt", "t\n");
	write_file("repo/mono/a.yaml", "a\n");
	write_file("repo/mono/x/y", "y\n");
	write_file("repo/mono2/f", "f\n");
	sh("cd repo && " GIT "init -q && " GIT "add -A && " GIT "commit -qm one");
	write_file("repo/top.txt", "t2\n");
	write_file("repo/mono/a.yaml", "a2\n");
	write_file("repo/mono/x/y", "y2\n");
	write_file("repo/mono/new", "n\n");
	write_file("repo/mono2/f", "f2\n");
	sh("cd repo && rm mono/x/y && " GIT "add -A mono2");

	changes_ok("repo/mono", "HEAD", &got);
	expect_paths(&got, "a.yaml new x/y", "x/y");
	rpl_changes_release(&got);

	/* The same repo from its top sees everything. */
	changes_ok("repo", "HEAD", &got);
	expect_paths(&got, "mono/a.yaml mono/new mono/x/y mono2/f top.txt", "mono/x/y");
	rpl_changes_release(&got);
}

/* ---- errors -------------------------------------------------------------------------- */

static void test_not_a_repository(void **state)
{
	char path[1024];
	int err;

	(void)state;
	write_file("plain/a", "a\n");
	snprintf(path, sizeof(path), "%s/plain", root);
	err = rpl_git_changes(path, NULL, &got);
	assert_int_equal(err, -RPL_ENOTFOUND);
	if (!strstr(rpl_errmsg(), "not in a git repository"))
		fail_msg("message: '%s'", rpl_errmsg());
	assert_int_equal(got.npaths, 0);
	assert_null(got.paths);
	assert_null(got.base);
}

static void test_unknown_revision(void **state)
{
	char path[1024];
	int err;

	(void)state;
	need_git();
	base_repo();
	snprintf(path, sizeof(path), "%s/repo", root);
	err = rpl_git_changes(path, "no-such-branch", &got);
	assert_int_equal(err, -RPL_EUSAGE);
	if (!strstr(rpl_errmsg(), "unknown revision 'no-such-branch'"))
		fail_msg("message: '%s'", rpl_errmsg());
	assert_int_equal(got.npaths, 0);
	assert_null(got.base);

	/* A revision that names a tree, not a commit. */
	err = rpl_git_changes(path, "HEAD^{tree}", &got);
	assert_int_equal(err, -RPL_EUSAGE);
	if (!strstr(rpl_errmsg(), "is not a commit"))
		fail_msg("message: '%s'", rpl_errmsg());
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, make_root, remove_root)
		T(test_since_lists_every_kind_of_change),
		T(test_since_change_reverted_in_worktree_is_no_change),
		T(test_since_is_unique),
		T(test_deleted_files),
		T(test_rename_lists_both_names),
		T(test_ignored_files_are_not_changes),
		T(test_mode_and_link_changes),
		T(test_racy_same_size_edit),
		T(test_touched_file_refreshes_the_index),
		T(test_hidden_tracked_and_cached_removal),
		T(test_default_base_is_head_parent),
		T(test_default_base_first_commit_is_empty_tree),
		T(test_default_base_without_commits),
		T(test_default_base_is_upstream_merge_base),
		T(test_root_in_subdirectory),
		T(test_not_a_repository),
		T(test_unknown_revision),
#undef T
	};

	/* The tests' repositories only: nothing from the caller's environment. */
	unsetenv("GIT_DIR");
	unsetenv("GIT_WORK_TREE");
	unsetenv("GIT_INDEX_FILE");
	setenv("GIT_CONFIG_NOSYSTEM", "1", 1);
	setenv("GIT_CONFIG_GLOBAL", "/dev/null", 1);
	return rpl_test_result(cmocka_run_group_tests(tests, NULL, NULL));
}
