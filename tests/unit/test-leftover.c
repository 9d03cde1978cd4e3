/*
 * What a killed build leaves behind (orchestrator/leftover.h): the names of
 * temporary files and the pids they give; a sweep that removes those of
 * dead writers where ripple writes, keeps a live writer's and everything
 * else, and removes staging directories without following the links a
 * step planted in them unless a process works in the monorepo; and the
 * processes a killed run left running, found by their tag and killed.
 */
#include "common/error.h"
#include "common/file.h"
#include "orchestrator/leftover.h"

#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/unit/testlib.h"

static char dir[256], real[PATH_MAX], cwd[PATH_MAX];

static int setup(void **state)
{
	(void)state;
	if (!getcwd(cwd, sizeof(cwd)) || rpl_test_mkdtemp(dir, sizeof(dir), "leftover") ||
	    !realpath(dir, real) || chdir(real) < 0)
		return -1;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	if (chdir(cwd) < 0)
		return -1;
	return rpl_test_remove_tree(dir);
}

static int exists(const char *rel)
{
	struct stat sb;

	return lstat(rel, &sb) == 0;
}

/* The pid of a process that was and is no more. */
static long dead_pid(void)
{
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0)
		_exit(0);
	assert_int_equal(waitpid(pid, NULL, 0), pid);
	return (long)pid;
}

static void test_temp_names(void **state)
{
	(void)state;
	assert_int_equal(rpl_leftover_temp_pid("foo-1.0-r0.apk.tmp.123"), 123);
	assert_int_equal(rpl_leftover_temp_pid("foo-1.0-r0.apk.data.tmp.9"), 9);
	assert_int_equal(rpl_leftover_temp_pid("foo-1.0-r0.apk.data.77"), 77);
	assert_int_equal(rpl_leftover_temp_pid("APKINDEX.tar.gz.tmp.4242"), 4242);
	assert_int_equal(rpl_leftover_temp_pid(".download.5"), 5);
	assert_int_equal(rpl_leftover_temp_pid(".gitignore.tmp.6"), 6);
	assert_int_equal(rpl_leftover_temp_pid("foo-1.0-r0.apk"), 0);
	assert_int_equal(rpl_leftover_temp_pid("APKINDEX.tar.gz"), 0);
	assert_int_equal(rpl_leftover_temp_pid("x.tmp."), 0);
	assert_int_equal(rpl_leftover_temp_pid("x.tmp.12a"), 0);
	assert_int_equal(rpl_leftover_temp_pid("x.tmp.0"), 0);
	assert_int_equal(rpl_leftover_temp_pid("x.tmp.-3"), 0);
	assert_int_equal(rpl_leftover_temp_pid(".tmp.3"), 0);
	assert_int_equal(rpl_leftover_temp_pid("notes.tmpfile"), 0);
	assert_int_equal(rpl_leftover_temp_pid(".download.x"), 0);
}

static void test_alive(void **state)
{
	(void)state;
	assert_true(rpl_leftover_alive((long)getpid()));
	assert_false(rpl_leftover_alive(dead_pid()));
	assert_false(rpl_leftover_alive(0));
}

/*
 * Dead writers' temporaries go from every place ripple writes them; a
 * live writer's stay, and so do the files they would have become, the
 * workspaces, and look-alikes elsewhere in the tree.
 */
static void test_sweep(void **state)
{
	char name[256];
	long dead = dead_pid(), live = (long)getpid();
	size_t n;
	static const char *const gone[] = {
		"packages/x86_64/a-1-r0.apk.tmp.",  "packages/x86_64/a-1-r0.apk.data.tmp.",
		"packages/x86_64/b-1-r0.apk.data.", "packages/x86_64/APKINDEX.tar.gz.tmp.",
		"images/img/index.json.tmp.",       "images/img/blobs/sha256/0123abcd.tmp.",
		".ripple/.gitignore.tmp.",          ".ripple/cache/.download.",
	};
	static const char *const kept[] = {
		"packages/x86_64/a-1-r0.apk",       "packages/x86_64/APKINDEX.tar.gz",
		"images/img/blobs/sha256/0123abcd", ".ripple/cache/sha256:0123",
		".ripple/work/x86_64/foo/file",     "src/notes.tmp.1",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(gone) / sizeof(*gone); i++) {
		snprintf(name, sizeof(name), "%s%ld", gone[i], dead);
		rpl_test_write_file(real, name, "x");
		snprintf(name, sizeof(name), "%s%ld", gone[i], live);
		rpl_test_write_file(real, name, "x");
	}
	for (size_t i = 0; i < sizeof(kept) / sizeof(*kept); i++)
		rpl_test_write_file(real, kept[i], "x");
	/* A staging dir whose steps planted a link to what must stay. */
	rpl_test_write_file(real, "outside/canary", "x");
	rpl_test_write_file(real, ".ripple/work/x86_64/foo.unpack/a/b", "x");
	assert_int_equal(symlink("../../../../../outside", ".ripple/work/x86_64/foo.unpack/out"),
	                 0);
	rpl_test_write_file(real, ".ripple/work/x86_64/foo.git-checkout/.git/HEAD", "x");

	assert_int_equal(rpl_leftover_sweep(real, &n), 0);
	assert_int_equal(n, sizeof(gone) / sizeof(*gone) + 2);
	for (size_t i = 0; i < sizeof(gone) / sizeof(*gone); i++) {
		snprintf(name, sizeof(name), "%s%ld", gone[i], dead);
		if (exists(name))
			fail_msg("%s is still there", name);
		snprintf(name, sizeof(name), "%s%ld", gone[i], live);
		if (!exists(name))
			fail_msg("%s, whose writer lives, was removed", name);
	}
	for (size_t i = 0; i < sizeof(kept) / sizeof(*kept); i++)
		if (!exists(kept[i]))
			fail_msg("%s was removed", kept[i]);
	assert_false(exists(".ripple/work/x86_64/foo.unpack"));
	assert_false(exists(".ripple/work/x86_64/foo.git-checkout"));
	assert_true(exists("outside/canary"));
	assert_int_equal(rpl_leftover_sweep(real, &n), 0);
	assert_int_equal(n, 0);
}

/*
 * While a native builder works in the monorepo (started by hand: it holds
 * no lock), staging directories stay; a shell in the monorepo is no
 * builder.
 */
static void test_sweep_keeps_staging_of_a_live_builder(void **state)
{
	pid_t pid;
	size_t n;

	(void)state;
	rpl_test_write_file(real, ".ripple/work/x86_64/foo.unpack/a", "x");
	/* By its argv[1], a native builder: sh running a script of that name. */
	rpl_test_write_file(real, ".ripple/work/x86_64/native-build", "sleep 30; :\n");
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		setsid(); /* its sleep goes with it */
		if (chdir(".ripple/work/x86_64") == 0)
			execl("/bin/sh", "sh", "native-build", (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 200; i++) {
		char path[64], cmd[256] = "";
		FILE *f;
		size_t k = 0;
		snprintf(path, sizeof(path), "/proc/%ld/cmdline", (long)pid);
		if ((f = fopen(path, "r"))) {
			k = fread(cmd, 1, sizeof(cmd) - 1, f);
			fclose(f);
		}
		if (k > 3 && !strcmp(cmd, "sh"))
			break;
		usleep(10000);
	}
	assert_int_equal(rpl_leftover_sweep(real, &n), 0);
	assert_int_equal(n, 0);
	assert_true(exists(".ripple/work/x86_64/foo.unpack/a"));
	kill(-pid, SIGKILL);
	assert_int_equal(waitpid(pid, NULL, 0), pid);
	assert_int_equal(rpl_leftover_sweep(real, &n), 0);
	assert_int_equal(n, 1);
	assert_false(exists(".ripple/work/x86_64/foo.unpack"));
}

/* A child that runs `sleep` with `tag` as RIPPLE_RUN (NULL: none), in a session of its own. */
static pid_t sleeper(const char *tag)
{
	char env[PATH_MAX + 64];
	pid_t pid;

	snprintf(env, sizeof(env), "%s=%s", RPL_LEFTOVER_ENV, tag ? tag : "");
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		char *envp[] = { env, NULL };
		setsid();
		execle("/bin/sleep", "sleep", "30", (char *)NULL, tag ? envp : envp + 1);
		_exit(127);
	}
	return pid;
}

/* Killed: what a run of this monorepo tagged, and nothing else. */
static void test_stop(void **state)
{
	char mine[PATH_MAX + 32], other[PATH_MAX + 32];
	pid_t a, b, c;
	int status;
	size_t n;

	(void)state;
	snprintf(mine, sizeof(mine), "7:%s", real);
	snprintf(other, sizeof(other), "7:%s-other", real);
	a = sleeper(mine);
	b = sleeper(other);
	c = sleeper(NULL);
	/* Until each has exec'd, its environment is the test's own. */
	for (int i = 0; i < 200; i++) {
		char path[64], exe[PATH_MAX];
		ssize_t k;
		int done = 1;
		pid_t all[] = { a, b, c };
		for (int j = 0; j < 3; j++) {
			snprintf(path, sizeof(path), "/proc/%ld/exe", (long)all[j]);
			k = readlink(path, exe, sizeof(exe) - 1);
			exe[k > 0 ? k : 0] = '\0';
			done &= strstr(exe, "sleep") != NULL;
		}
		if (done)
			break;
		usleep(10000);
	}
	assert_int_equal(rpl_leftover_stop(real, 5, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(waitpid(a, &status, 0), a);
	assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	assert_int_equal(waitpid(b, &status, WNOHANG), 0);
	assert_int_equal(waitpid(c, &status, WNOHANG), 0);
	assert_int_equal(rpl_leftover_stop(real, 5, &n), 0);
	assert_int_equal(n, 0);
	kill(b, SIGKILL);
	kill(c, SIGKILL);
	waitpid(b, NULL, 0);
	waitpid(c, NULL, 0);
}

/* The tag this process gives its children. */
static void test_tag(void **state)
{
	const char *v;

	(void)state;
	rpl_leftover_tag(12, "/some/where");
	v = getenv(RPL_LEFTOVER_ENV);
	assert_non_null(v);
	assert_string_equal(v, "12:/some/where");
	unsetenv(RPL_LEFTOVER_ENV);
}

/* Beside a file written outside the swept places: its own temporaries only. */
static void test_sweep_beside(void **state)
{
	char a[64], b[64], c[64];
	long dead = dead_pid();
	size_t n;

	(void)state;
	snprintf(a, sizeof(a), "local.rsa.tmp.%ld", dead);
	snprintf(b, sizeof(b), "local.rsa.pub.tmp.%ld", dead);
	snprintf(c, sizeof(c), "other.rsa.tmp.%ld", dead);
	rpl_test_write_file(real, a, "x");
	rpl_test_write_file(real, b, "x");
	rpl_test_write_file(real, c, "x");
	rpl_test_write_file(real, "local.rsa", "x");
	assert_int_equal(rpl_leftover_sweep_beside("local.rsa", &n), 0);
	assert_int_equal(n, 2);
	assert_false(exists(a));
	assert_false(exists(b));
	assert_true(exists(c));
	assert_true(exists("local.rsa"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
		T(test_temp_names),   T(test_alive),
		T(test_sweep),        T(test_sweep_keeps_staging_of_a_live_builder),
		T(test_stop),         T(test_tag),
		T(test_sweep_beside),
#undef T
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
