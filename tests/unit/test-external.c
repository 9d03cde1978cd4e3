/*
 * The external runner (runners/external.c) with stand-in melange, apko and
 * ripple executables that the test writes into a temporary PATH.  Each
 * stand-in records its command line, working directory, environment,
 * stdin and session in the monorepo, writes to stdout and stderr, and then
 * does what its recipe's name says: succeed (writing its output), fail,
 * crash, produce nothing, sleep (with a child), or ignore SIGTERM.
 *
 * Covered: the command lines built for melange build/test, apko, native
 * builds and images with every option; the child's cwd, environment,
 * stdin and session; the log (the command, the output, the outcome);
 * outputs that must be new; the test stage; failure, crash, timeout and
 * cancellation (with and without the grace period, the whole process
 * group stopped); a program that cannot be started; the native builder's
 * "ripple: " reason; SIGCHLD ignored by a parent.  Every run case runs
 * twice: with posix_spawn and a pidfd, and with libuv's uv_spawn
 * (RIPPLE_SPAWN=uv).
 */
#include "runners/runner.h"
#include "common/error.h"

#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include <cmocka.h>

#include "tests/unit/testlib.h"

static char root[256], bin[300];
static char *old_path;

/* The stand-in for melange and apko: $0 says which. */
static const char standin[] =
        "#!/bin/sh\n"
        "prog=${0##*/}\n"
        "echo \"$prog $*\" >> calls\n"
        "echo \"pwd=$(pwd) mark=${RPL_TEST_MARK:-} sid=$(cut -d' ' -f6 /proc/$$/stat) pid=$$\" "
        ">> calls\n"
        "if read -r line; then echo stdin=data >> calls; else echo stdin=eof >> calls; fi\n"
        "echo \"$prog to stdout\"\n"
        "echo \"$prog to stderr\" >&2\n"
        "stage=$1 file=$2\n"
        "case $file in\n"
        "ok.yaml | testfail.yaml)\n"
        "  if [ \"$stage\" = test ]; then [ $file = testfail.yaml ] && exit 4; exit 0; fi\n"
        "  mkdir -p out && echo built > out/$file.out ;;\n"
        "img.apko.yaml) echo image > \"$4\" ;;\n"
        "noimg.apko.yaml) ;;\n"
        "fail.yaml) exit 3 ;;\n"
        "reason.yaml) echo 'ripple: not this'; echo 'ripple: the last reason'; exit 1 ;;\n"
        "crash.yaml) kill -SEGV $$ ;;\n"
        "noout.yaml) ;;\n"
        "sleep.yaml) sleep 100 & echo $! > child.pid; wait ;;\n"
        "stubborn.yaml) trap '' TERM; sleep 100 & echo $! > child.pid; wait; wait ;;\n"
        "esac\n"
        "exit 0\n";

static void write_exec(const char *name)
{
	char path[512], rel[64];

	snprintf(rel, sizeof(rel), ".bin/%s", name);
	rpl_test_write_file(root, rel, standin);
	snprintf(path, sizeof(path), "%s/%s", bin, name);
	assert_int_equal(chmod(path, 0755), 0);
}

static int setup(void **state)
{
	char path[4096];

	(void)state;
	if (rpl_test_mkdtemp(root, sizeof(root), "external"))
		return -1;
	snprintf(bin, sizeof(bin), "%s/.bin", root);
	write_exec("melange");
	write_exec("apko");
	write_exec("ripple");
	old_path = strdup(getenv("PATH") ? getenv("PATH") : "/usr/bin:/bin");
	snprintf(path, sizeof(path), "%s:%s", bin, old_path);
	setenv("PATH", path, 1);
	setenv("RPL_TEST_MARK", "inherited", 1);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	if (old_path)
		setenv("PATH", old_path, 1);
	free(old_path);
	old_path = NULL;
	rpl_test_remove_tree(root);
	root[0] = '\0';
	return 0;
}

static char *read_text(const char *rel)
{
	char path[512], *buf;
	FILE *f;
	long n;

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	if (!(f = fopen(path, "r")))
		return strdup("");
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	buf = calloc(1, (size_t)n + 1);
	assert_non_null(buf);
	if (fread(buf, 1, (size_t)n, f) != (size_t)n)
		fail_msg("short read of %s", path);
	fclose(f);
	return buf;
}

static void remove_rel(const char *rel)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	unlink(path);
}

/* `text` contains `want`. */
static void expect_in(const char *text, const char *want)
{
	if (!strstr(text, want))
		fail_msg("'%s' not found in:\n%s", want, text);
}

static void expect_file_in(const char *rel, const char *want)
{
	char *t = read_text(rel);

	expect_in(t, want);
	free(t);
}

/* ---- command lines ------------------------------------------------------------------ */

static char *joined(char **argv)
{
	size_t n = 1;
	char *s;

	for (char **a = argv; *a; a++)
		n += strlen(*a) + 1;
	s = calloc(1, n);
	assert_non_null(s);
	for (char **a = argv; *a; a++) {
		if (a != argv)
			strncat(s, " ", n - strlen(s) - 1);
		strncat(s, *a, n - strlen(s) - 1);
	}
	return s;
}

static void expect_argv(struct rpl_runner *r, const struct rpl_run_job *j, const char *want)
{
	char **argv = rpl_external_argv(r, j), *got = joined(argv);

	assert_string_equal(got, want);
	free(got);
	rpl_argv_free(argv);
}

static char *pipelines[] = { "pipelines", "more/pipelines" };
static char *repos[] = { "https://packages.wolfi.dev/os" };
static char *keys[] = { "wolfi-signing.rsa.pub" };
static char *envs[] = { "build-common.env", "build-x86_64.env" };
static char *margs[] = { "--debug" };
static char *aargs[] = { "--sbom=false", "--vcs=false" };

static struct rpl_external_opts full_opts(void)
{
	struct rpl_external_opts o;

	memset(&o, 0, sizeof(o));
	o.root = root;
	o.melange = "melange";
	o.apko = "apko";
	o.out_dir = "packages";
	o.signing_key = "melange.rsa";
	o.pipeline_dirs = pipelines;
	o.npipeline_dirs = 2;
	o.repositories = repos;
	o.nrepositories = 1;
	o.keyrings = keys;
	o.nkeyrings = 1;
	o.container_runner = "bubblewrap";
	o.melange_args = margs;
	o.nmelange_args = 1;
	o.apko_args = aargs;
	o.napko_args = 2;
	return o;
}

static const struct rpl_run_job pkg_job = { .kind = "package",
	                                    .name = "foo",
	                                    .arch = "x86_64",
	                                    .file = "foo.yaml",
	                                    .source_dir = "foo",
	                                    .env_files = envs,
	                                    .nenv_files = 2 };

static void test_argv_melange(void **state)
{
	struct rpl_external_opts o = full_opts();
	struct rpl_runner *r = rpl_process_runner_new(&o);
	struct rpl_run_job bare = pkg_job;

	(void)state;
	assert_string_equal(r->name, "external");
	expect_argv(r, &pkg_job,
	            "melange build foo.yaml --arch x86_64 --out-dir packages --signing-key "
	            "melange.rsa --generate-index=false --source-dir foo --pipeline-dir pipelines "
	            "--pipeline-dir more/pipelines --repository-append packages "
	            "--repository-append https://packages.wolfi.dev/os --keyring-append "
	            "melange.rsa.pub --keyring-append wolfi-signing.rsa.pub --env-file "
	            "build-common.env --env-file build-x86_64.env --runner bubblewrap --debug");
	r->free(r);

	/* Nothing optional: the flags every build has. */
	memset(&o, 0, sizeof(o));
	o.melange = "/opt/melange";
	o.out_dir = "out";
	r = rpl_process_runner_new(&o);
	bare.source_dir = NULL;
	bare.nenv_files = 0;
	expect_argv(
	        r, &bare,
	        "/opt/melange build foo.yaml --arch x86_64 --out-dir out --generate-index=false "
	        "--repository-append out");
	r->free(r);
}

static void test_argv_apko(void **state)
{
	struct rpl_external_opts o = full_opts();
	struct rpl_runner *r = rpl_process_runner_new(&o);
	char *outs[] = { "images/web/x86_64.tar" };
	struct rpl_run_job img = { .kind = "image",
		                   .name = "web",
		                   .arch = "x86_64",
		                   .file = "web.apko.yaml",
		                   .outputs = outs,
		                   .noutputs = 1 };

	(void)state;
	expect_argv(r, &img,
	            "apko build web.apko.yaml web:latest images/web/x86_64.tar --arch x86_64 "
	            "--repository-append packages --repository-append "
	            "https://packages.wolfi.dev/os --keyring-append melange.rsa.pub "
	            "--keyring-append wolfi-signing.rsa.pub --sbom=false --vcs=false");
	img.noutputs = 0;
	expect_argv(r, &img,
	            "apko build web.apko.yaml web:latest image.tar --arch x86_64 "
	            "--repository-append packages --repository-append "
	            "https://packages.wolfi.dev/os --keyring-append melange.rsa.pub "
	            "--keyring-append wolfi-signing.rsa.pub --sbom=false --vcs=false");
	r->free(r);
}

static void test_argv_native(void **state)
{
	struct rpl_external_opts o = full_opts();
	struct rpl_runner *r;
	struct rpl_run_job img = {
		.kind = "image", .name = "web", .arch = "aarch64", .file = "web.apko.yaml"
	};

	(void)state;
	o.native = "/usr/bin/ripple";
	o.native_image = "/usr/bin/ripple";
	o.test = 1;
	o.push = "127.0.0.1:5000/wolfi";
	r = rpl_process_runner_new(&o);
	expect_argv(r, &pkg_job,
	            "/usr/bin/ripple native-build foo.yaml --arch x86_64 --test --out-dir packages "
	            "--source-dir foo --signing-key melange.rsa --pipeline-dir pipelines "
	            "--pipeline-dir more/pipelines --env-file build-common.env --env-file "
	            "build-x86_64.env");
	expect_argv(r, &img,
	            "/usr/bin/ripple native-image web.apko.yaml --arch aarch64 --out-dir images "
	            "--repository-append packages --keyring-append melange.rsa.pub "
	            "--keyring-append wolfi-signing.rsa.pub --push 127.0.0.1:5000/wolfi/web");
	r->free(r);
}

static void test_argv_add(void **state)
{
	struct rpl_argv a = { NULL, 0, 0 };
	char word[16];

	(void)state;
	for (int i = 0; i < 100; i++) {
		snprintf(word, sizeof(word), "w%d", i);
		rpl_argv_add(&a, word);
		assert_null(a.v[a.n]);
	}
	assert_int_equal(a.n, 100);
	assert_string_equal(a.v[0], "w0");
	assert_string_equal(a.v[99], "w99");
	rpl_argv_free(a.v);
	rpl_argv_free(NULL);
}

/* ---- running ------------------------------------------------------------------------ */

struct outcome {
	int calls;
	enum rpl_run_status status;
	char message[1024];
};

static void on_done(struct rpl_run_job *job, enum rpl_run_status status, const char *message,
                    void *arg)
{
	struct outcome *o = arg;

	assert_null(job->priv);
	o->calls++;
	o->status = status;
	snprintf(o->message, sizeof(o->message), "%s", message ? message : "");
}

/* A job of `kind` for `file`, logging to logs/<file>.log, producing out/<file>.out. */
struct job {
	struct rpl_run_job j;
	char log[128], out[128];
	char *outs[1];
};

static void make_job(struct job *jb, const char *kind, const char *file)
{
	memset(jb, 0, sizeof(*jb));
	snprintf(jb->log, sizeof(jb->log), "logs/%s.log", file);
	snprintf(jb->out, sizeof(jb->out), "out/%s.out", file);
	jb->outs[0] = jb->out;
	jb->j.kind = kind;
	jb->j.name = "x";
	jb->j.arch = "x86_64";
	jb->j.file = file;
	jb->j.outputs = jb->outs;
	jb->j.noutputs = 1;
	jb->j.log_path = jb->log;
}

static struct rpl_external_opts run_opts(void)
{
	struct rpl_external_opts o;

	memset(&o, 0, sizeof(o));
	o.root = root;
	o.melange = "melange";
	o.apko = "apko";
	o.out_dir = "packages";
	o.kill_grace = 0.2;
	return o;
}

/* Starts `jb` and runs the loop until everything it started is gone. */
static void run_job(const struct rpl_external_opts *o, struct job *jb, struct outcome *out)
{
	struct rpl_runner *r = rpl_process_runner_new(o);
	uv_loop_t loop;

	memset(out, 0, sizeof(*out));
	assert_int_equal(uv_loop_init(&loop), 0);
	if (r->start(r, &jb->j, &loop, on_done, out))
		fail_msg("start: %s", rpl_errmsg());
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&loop), 0);
	assert_int_equal(out->calls, 1);
	r->free(r);
}

static void test_success(void **state)
{
	struct rpl_external_opts o = run_opts();
	struct job jb;
	struct outcome out;
	char *calls, *log, sid[64];
	long pid = 0;

	(void)state;
	make_job(&jb, "package", "ok.yaml");
	/* ripple's own stdin has data: the child must not see it. */
	{
		int fds[2], saved = dup(0);
		assert_int_equal(pipe(fds), 0);
		assert_int_equal(write(fds[1], "data\n", 5), 5);
		close(fds[1]);
		dup2(fds[0], 0);
		close(fds[0]);
		run_job(&o, &jb, &out);
		dup2(saved, 0);
		close(saved);
	}
	assert_int_equal(out.status, RPL_RUN_OK);
	assert_string_equal(out.message, "");
	expect_file_in("out/ok.yaml.out", "built");

	/* Run in the root, with ripple's environment, stdin at EOF, in a
	 * session of its own (its pid is its session's id). */
	calls = read_text("calls");
	expect_in(calls, "melange build ok.yaml --arch x86_64 --out-dir packages");
	{
		char want[512];
		snprintf(want, sizeof(want), "pwd=%s mark=inherited ", root);
		expect_in(calls, want);
	}
	expect_in(calls, "stdin=eof");
	{
		const char *p = strstr(calls, "sid=");
		assert_non_null(p);
		assert_int_equal(sscanf(p, "sid=%63s pid=%ld", sid, &pid), 2);
		assert_int_equal(atol(sid), pid);
	}
	free(calls);

	/* The log: the command, both streams, the outcome. */
	log = read_text("logs/ok.yaml.log");
	assert_int_equal(strncmp(log, "$ melange build ok.yaml --arch x86_64", 37), 0);
	expect_in(log, "melange to stdout\n");
	expect_in(log, "melange to stderr\n");
	expect_in(log, "# ripple: melange build exited with status 0 (");
	free(log);

	/* A second run appends to the log. */
	run_job(&o, &jb, &out);
	assert_int_equal(out.status, RPL_RUN_OK);
	log = read_text("logs/ok.yaml.log");
	assert_non_null(strstr(strstr(log, "exited with status 0") + 1, "$ melange build"));
	free(log);
}

static void test_image(void **state)
{
	struct rpl_external_opts o = run_opts();
	struct job jb;
	struct outcome out;
	char *calls;

	(void)state;
	make_job(&jb, "image", "img.apko.yaml");
	/* apko writes where it is told: the runner makes the directory. */
	snprintf(jb.out, sizeof(jb.out), "images/x/deep/img.tar");
	run_job(&o, &jb, &out);
	assert_int_equal(out.status, RPL_RUN_OK);
	expect_file_in("images/x/deep/img.tar", "image");
	calls = read_text("calls");
	expect_in(calls, "apko build img.apko.yaml x:latest images/x/deep/img.tar --arch x86_64");
	free(calls);
	expect_file_in("logs/img.apko.yaml.log", "# ripple: apko build exited with status 0");

	/* An image job that wrote nothing. */
	make_job(&jb, "image", "noimg.apko.yaml");
	snprintf(jb.out, sizeof(jb.out), "images/y/img.tar");
	run_job(&o, &jb, &out);
	assert_int_equal(out.status, RPL_RUN_FAILED);
	assert_string_equal(out.message, "runner reported success but produced no "
	                                 "images/y/img.tar");
}

static void test_failure(void **state)
{
	struct rpl_external_opts o = run_opts();
	struct job jb;
	struct outcome out;

	(void)state;
	make_job(&jb, "package", "fail.yaml");
	run_job(&o, &jb, &out);
	assert_int_equal(out.status, RPL_RUN_FAILED);
	assert_string_equal(out.message, "melange build exited with status 3");
	expect_file_in("logs/fail.yaml.log", "# ripple: melange build exited with status 3 (");
}

/* A parent that ignores SIGCHLD would have children reaped unseen. */
static void test_sigchld_ignored(void **state)
{
	struct rpl_external_opts o = run_opts();
	struct sigaction sa, old;
	struct job jb;
	struct outcome out;

	(void)state;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_IGN;
	sigaction(SIGCHLD, &sa, &old);
	make_job(&jb, "package", "fail.yaml");
	run_job(&o, &jb, &out);
	sigaction(SIGCHLD, &old, NULL);
	assert_int_equal(out.status, RPL_RUN_FAILED);
	assert_string_equal(out.message, "melange build exited with status 3");
}

static void test_crash(void **state)
{
	struct rpl_external_opts o = run_opts();
	struct job jb;
	struct outcome out;
	char want[256];

	(void)state;
	make_job(&jb, "package", "crash.yaml");
	run_job(&o, &jb, &out);
	assert_int_equal(out.status, RPL_RUN_CRASHED);
	snprintf(want, sizeof(want), "melange build was killed by signal %d (%s)", SIGSEGV,
	         strsignal(SIGSEGV));
	assert_string_equal(out.message, want);
	snprintf(want, sizeof(want), "# ripple: melange build killed by signal %d (", SIGSEGV);
	expect_file_in("logs/crash.yaml.log", want);
}

/* Success without the outputs, or with only an old copy of them, is a failure. */
static void test_outputs_must_be_new(void **state)
{
	struct rpl_external_opts o = run_opts();
	struct job jb;
	struct outcome out;

	(void)state;
	make_job(&jb, "package", "noout.yaml");
	run_job(&o, &jb, &out);
	assert_int_equal(out.status, RPL_RUN_FAILED);
	assert_string_equal(out.message, "runner reported success but produced no "
	                                 "out/noout.yaml.out");
	expect_file_in("logs/noout.yaml.log",
	               "# ripple: runner reported success but produced no out/noout.yaml.out");
	/* Left by an earlier build, untouched: still none. */
	rpl_test_write_file(root, "out/noout.yaml.out", "old\n");
	run_job(&o, &jb, &out);
	assert_int_equal(out.status, RPL_RUN_FAILED);
	/* Rewritten by this one (ok.yaml writes its output anew): fine. */
	make_job(&jb, "package", "ok.yaml");
	rpl_test_write_file(root, "out/ok.yaml.out", "old\n");
	run_job(&o, &jb, &out);
	assert_int_equal(out.status, RPL_RUN_OK);
	expect_file_in("out/ok.yaml.out", "built");
}

static void test_test_stage(void **state)
{
	struct rpl_external_opts o = run_opts();
	struct job jb;
	struct outcome out;
	char *calls;

	(void)state;
	o.test = 1;
	make_job(&jb, "package", "ok.yaml");
	run_job(&o, &jb, &out);
	assert_int_equal(out.status, RPL_RUN_OK);
	calls = read_text("calls");
	expect_in(calls, "melange build ok.yaml --arch x86_64");
	/* The test stage: no --out-dir, --signing-key or index flag. */
	expect_in(calls, "melange test ok.yaml --arch x86_64 --repository-append packages\n");
	free(calls);
	expect_file_in("logs/ok.yaml.log", "# ripple: melange test exited with status 0");

	make_job(&jb, "package", "testfail.yaml");
	run_job(&o, &jb, &out);
	assert_int_equal(out.status, RPL_RUN_FAILED);
	assert_string_equal(out.message, "melange test exited with status 4");

	/* A failed build is not tested. */
	remove_rel("calls");
	make_job(&jb, "package", "fail.yaml");
	run_job(&o, &jb, &out);
	assert_string_equal(out.message, "melange build exited with status 3");
	calls = read_text("calls");
	assert_null(strstr(calls, "melange test"));
	free(calls);

	/* Images are not tested. */
	remove_rel("calls");
	make_job(&jb, "image", "img.apko.yaml");
	run_job(&o, &jb, &out);
	calls = read_text("calls");
	expect_in(calls, "apko build img.apko.yaml");
	assert_null(strstr(calls, "melange test"));
	assert_null(strstr(calls, "apko test"));
	free(calls);
}

/* The native builder's last "ripple: " line is the failure's message. */
static void test_native_reason(void **state)
{
	struct rpl_external_opts o = run_opts();
	struct job jb;
	struct outcome out;
	char *calls;

	(void)state;
	o.native = "ripple";
	o.test = 1;
	make_job(&jb, "package", "reason.yaml");
	run_job(&o, &jb, &out);
	assert_int_equal(out.status, RPL_RUN_FAILED);
	assert_string_equal(out.message, "the last reason");
	expect_file_in("logs/reason.yaml.log",
	               "# ripple: ripple native-build exited with status 1 (");
	/* Without a reason line: the status. */
	make_job(&jb, "package", "fail.yaml");
	run_job(&o, &jb, &out);
	assert_string_equal(out.message, "ripple native-build exited with status 3");
	/* --test goes to native-build itself: no melange test stage. */
	make_job(&jb, "package", "ok.yaml");
	run_job(&o, &jb, &out);
	assert_int_equal(out.status, RPL_RUN_OK);
	calls = read_text("calls");
	expect_in(calls, "ripple native-build ok.yaml --arch x86_64 --test --out-dir packages");
	assert_null(strstr(calls, "melange"));
	free(calls);
}

/* Whether process `pid` is gone (or a zombie nobody waits for), waiting up to 10 s. */
static int gone(long pid)
{
	for (int i = 0; i < 1000; i++) {
		char path[64], st[256] = "";
		FILE *f;
		snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
		if (!(f = fopen(path, "r")))
			return 1;
		if (!fgets(st, sizeof(st), f))
			st[0] = '\0';
		fclose(f);
		if (strstr(st, ") Z ") || strstr(st, ") X "))
			return 1;
		usleep(10000);
	}
	return 0;
}

static long child_pid(void)
{
	char *t = read_text("child.pid");
	long pid = atol(t);

	free(t);
	assert_true(pid > 0);
	return pid;
}

static void test_timeout(void **state)
{
	struct rpl_external_opts o = run_opts();
	struct job jb;
	struct outcome out;

	(void)state;
	make_job(&jb, "package", "sleep.yaml");
	jb.j.timeout = 1;
	run_job(&o, &jb, &out);
	assert_int_equal(out.status, RPL_RUN_TIMEOUT);
	assert_string_equal(out.message, "timed out after 1s");
	expect_file_in("logs/sleep.yaml.log", "# ripple: timed out after 1s\n");
	/* The sleeping child of the build went with it. */
	assert_true(gone(child_pid()));
}

struct canceller {
	uv_timer_t t;
	struct rpl_runner *r;
	struct rpl_run_job *j;
	int now;
};

/* Cancels once the stand-in has written its child's pid (it is running). */
static void cancel_when_running(uv_timer_t *t)
{
	struct canceller *c = t->data;
	char path[512];
	struct stat sb;

	snprintf(path, sizeof(path), "%s/child.pid", root);
	if (stat(path, &sb) || sb.st_size == 0)
		return;
	uv_timer_stop(t);
	uv_close((uv_handle_t *)t, NULL);
	c->r->cancel(c->r, c->j, c->now);
}

static void run_cancelled(const char *file, int now, struct outcome *out)
{
	struct rpl_external_opts o = run_opts();
	struct rpl_runner *r = rpl_process_runner_new(&o);
	struct canceller c;
	struct job jb;
	uv_loop_t loop;

	remove_rel("child.pid");
	make_job(&jb, "package", file);
	memset(out, 0, sizeof(*out));
	assert_int_equal(uv_loop_init(&loop), 0);
	if (r->start(r, &jb.j, &loop, on_done, out))
		fail_msg("start: %s", rpl_errmsg());
	assert_non_null(jb.j.priv);
	c.r = r;
	c.j = &jb.j;
	c.now = now;
	uv_timer_init(&loop, &c.t);
	c.t.data = &c;
	uv_timer_start(&c.t, cancel_when_running, 10, 10);
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&loop), 0);
	assert_int_equal(out->calls, 1);
	/* Cancelling what has finished does nothing. */
	r->cancel(r, &jb.j, 1);
	r->free(r);
}

static void test_cancel(void **state)
{
	struct outcome out;

	(void)state;
	/* SIGTERM to the group ends it. */
	run_cancelled("sleep.yaml", 0, &out);
	assert_int_equal(out.status, RPL_RUN_CANCELLED);
	assert_string_equal(out.message, "interrupted");
	assert_true(gone(child_pid()));
	expect_file_in("logs/sleep.yaml.log", "# ripple: interrupted\n");

	/* SIGTERM ignored: SIGKILL after the grace period. */
	run_cancelled("stubborn.yaml", 0, &out);
	assert_int_equal(out.status, RPL_RUN_CANCELLED);
	assert_true(gone(child_pid()));
	expect_file_in("logs/stubborn.yaml.log", "killed by signal 9");

	/* At once: SIGKILL straight away. */
	run_cancelled("stubborn.yaml", 1, &out);
	assert_int_equal(out.status, RPL_RUN_CANCELLED);
	assert_true(gone(child_pid()));
}

/* A program that is not there: an error from start, `done` never called. */
static void test_cannot_start(void **state)
{
	struct rpl_external_opts o = run_opts();
	struct rpl_runner *r;
	struct outcome out;
	struct job jb;
	uv_loop_t loop;

	(void)state;
	o.melange = "ripple-test-no-such-melange";
	r = rpl_process_runner_new(&o);
	make_job(&jb, "package", "ok.yaml");
	memset(&out, 0, sizeof(out));
	assert_int_equal(uv_loop_init(&loop), 0);
	/* posix_spawn's ENOENT, or libuv's failure. */
	assert_true(r->start(r, &jb.j, &loop, on_done, &out) < 0);
	expect_in(rpl_errmsg(), "cannot run ripple-test-no-such-melange");
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&loop), 0);
	assert_int_equal(out.calls, 0);
	assert_null(jb.j.priv);
	expect_file_in("logs/ok.yaml.log", "# ripple: cannot run ripple-test-no-such-melange");

	/* A log that cannot be opened (its directory is a file). */
	rpl_test_write_file(root, "blocked", "a file\n");
	snprintf(jb.log, sizeof(jb.log), "blocked/x.log");
	o.melange = "melange";
	r->free(r);
	r = rpl_process_runner_new(&o);
	assert_true(r->start(r, &jb.j, &loop, on_done, &out) < 0);
	assert_int_equal(out.calls, 0);
	r->free(r);
}

static void test_status_names(void **state)
{
	(void)state;
	assert_string_equal(rpl_run_status_name(RPL_RUN_OK), "ok");
	assert_string_equal(rpl_run_status_name(RPL_RUN_FAILED), "failed");
	assert_string_equal(rpl_run_status_name(RPL_RUN_CRASHED), "crashed");
	assert_string_equal(rpl_run_status_name(RPL_RUN_TIMEOUT), "timeout");
	assert_string_equal(rpl_run_status_name(RPL_RUN_CANCELLED), "cancelled");
	assert_string_equal(rpl_run_status_name((enum rpl_run_status)99), "unknown");
}

static int use_pidfd(void **state)
{
	(void)state;
	unsetenv("RIPPLE_SPAWN");
	return 0;
}

static int use_uv(void **state)
{
	(void)state;
	setenv("RIPPLE_SPAWN", "uv", 1);
	return 0;
}

int main(void)
{
	const struct CMUnitTest lines[] = {
		cmocka_unit_test(test_argv_melange), cmocka_unit_test(test_argv_apko),
		cmocka_unit_test(test_argv_native),  cmocka_unit_test(test_argv_add),
		cmocka_unit_test(test_status_names),
	};
#define RUNS(how)                                                                             \
	{                                                                                     \
		cmocka_unit_test_setup_teardown(test_success, how, NULL),                     \
		        cmocka_unit_test_setup_teardown(test_image, how, NULL),               \
		        cmocka_unit_test_setup_teardown(test_failure, how, NULL),             \
		        cmocka_unit_test_setup_teardown(test_sigchld_ignored, how, NULL),     \
		        cmocka_unit_test_setup_teardown(test_crash, how, NULL),               \
		        cmocka_unit_test_setup_teardown(test_outputs_must_be_new, how, NULL), \
		        cmocka_unit_test_setup_teardown(test_test_stage, how, NULL),          \
		        cmocka_unit_test_setup_teardown(test_native_reason, how, NULL),       \
		        cmocka_unit_test_setup_teardown(test_timeout, how, NULL),             \
		        cmocka_unit_test_setup_teardown(test_cancel, how, NULL),              \
		        cmocka_unit_test_setup_teardown(test_cannot_start, how, NULL),        \
	}
	const struct CMUnitTest pidfd[] = RUNS(use_pidfd);
	const struct CMUnitTest uvspawn[] = RUNS(use_uv);
	int failed = 0;

	failed += cmocka_run_group_tests_name("command lines", lines, NULL, NULL);
	failed += cmocka_run_group_tests_name("posix_spawn + pidfd", pidfd, setup, teardown);
	failed += cmocka_run_group_tests_name("uv_spawn", uvspawn, setup, teardown);
	return failed;
}
