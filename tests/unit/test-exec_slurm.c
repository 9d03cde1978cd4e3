/*
 * The Slurm executor (runners/exec_slurm.c) without a cluster: quantities
 * as Slurm's --cpus-per-task and --mem, the srun command a job becomes,
 * srun's exits and failures read back, and the two places it asks Slurm
 * (capacity from sinfo; cancel through squeue and scancel) against small
 * stand-in scripts that print what the real tools print and record how
 * they were called.  The real cluster is tests/e2e/0150-slurm.sh.
 */
#include "common/error.h"
#include "common/strbuf.h"
#include "runners/executor.h"
#include "runners/runner.h"

#include <fcntl.h>
#include <setjmp.h>
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

#define N(a) (sizeof(a) / sizeof(*(a)))

static char dir[256];

static int setup(void **state)
{
	(void)state;
	return rpl_test_mkdtemp(dir, sizeof(dir), "exec-slurm");
}

static int teardown(void **state)
{
	(void)state;
	return rpl_test_remove_tree(dir);
}

/* Writes an executable script `name` in the temp dir; its path goes in `path`. */
static void script(const char *name, const char *text, char *path, size_t n)
{
	snprintf(path, n, "%s/%s", dir, name);
	rpl_test_write_file(dir, name, text);
	if (chmod(path, 0755))
		fail_msg("chmod %s failed", path);
}

static void test_cpus(void **state)
{
	static const struct {
		const char *q;
		long want;
	} good[] = { { "1", 1 },     { "2", 2 },   { "16", 16 }, { "1.5", 2 }, { "500m", 1 },
		     { "2500m", 3 }, { "0.1", 1 }, { "2.0", 2 }, { ".5", 1 },  { "1000m", 1 } };
	static const char *const bad[] = { "",   "abc", "-1",    "0",  "0m",
		                           "1x", "m",   "1.2.3", "2 ", "1e3" };

	(void)state;
	for (size_t i = 0; i < N(good); i++) {
		long got = -1;
		if (rpl_slurm_cpus(good[i].q, &got) || got != good[i].want)
			fail_msg("cpus '%s': %ld, want %ld", good[i].q, got, good[i].want);
	}
	for (size_t i = 0; i < N(bad); i++) {
		long got = -1;
		if (rpl_slurm_cpus(bad[i], &got) != -RPL_EUSAGE)
			fail_msg("cpus '%s' was accepted as %ld", bad[i], got);
	}
}

static void test_memory(void **state)
{
	static const struct {
		const char *q;
		uint64_t want;
	} good[] = {
		{ "4Gi", 4096 },       { "512Mi", 512 },  { "1Mi", 1 },     { "1Ki", 1 },
		{ "1G", 954 },         { "1500M", 1431 }, { "1000000", 1 }, { "2Ti", 2097152 },
		{ "1.5Gi", 1536 },     { "1048576", 1 },  { "1048577", 2 }, { "64k", 1 },
		{ "1Pi", 1073741824 },
	};
	static const char *const bad[] = { "",    "lots", "4GB", "4gi", "0",
		                           "0Gi", "-1Gi", "Gi",  "4 Gi" };

	(void)state;
	for (size_t i = 0; i < N(good); i++) {
		uint64_t got = 0;
		if (rpl_slurm_mem_mib(good[i].q, &got) || got != good[i].want)
			fail_msg("memory '%s': %llu MiB, want %llu", good[i].q,
			         (unsigned long long)got, (unsigned long long)good[i].want);
	}
	for (size_t i = 0; i < N(bad); i++) {
		uint64_t got = 0;
		if (rpl_slurm_mem_mib(bad[i], &got) != -RPL_EUSAGE)
			fail_msg("memory '%s' was accepted as %llu MiB", bad[i],
			         (unsigned long long)got);
	}
}

static char *archs[] = { "x86_64", "aarch64" };
static char *parts[] = { "amd", "arm" };
static char *extra[] = { "--account=builds" };

static struct rpl_executor *make(const char *cpu, const char *mem, size_t nparts)
{
	struct rpl_slurm_opts o;
	struct rpl_executor *x = NULL;

	memset(&o, 0, sizeof(o));
	o.workdir = "/shared/repo";
	o.archs = archs;
	o.partitions = parts;
	o.npartitions = nparts;
	o.cpu = cpu;
	o.memory = mem;
	o.args = extra;
	o.nargs = 1;
	assert_int_equal(rpl_executor_slurm_new(&o, &x), 0);
	return x;
}

/* The job's comment: "ripple <kind> <host>:<pid> <workdir>". */
static void tag(char *out, size_t n, const char *kind, const char *workdir)
{
	char host[256];

	assert_int_equal(gethostname(host, sizeof(host)), 0);
	host[sizeof(host) - 1] = '\0';
	snprintf(out, n, "--comment=ripple %s %s:%ld %s", kind, host, (long)getpid(), workdir);
}

static void argv_is(char **got, const char *const *want, size_t n)
{
	size_t i = 0;

	assert_non_null(got);
	for (; got[i] && i < n; i++)
		if (strcmp(got[i], want[i]))
			fail_msg("argv[%zu]: '%s', want '%s'", i, got[i], want[i]);
	if (got[i] || i != n)
		fail_msg("argv has %s entries than the %zu wanted", got[i] ? "more" : "fewer", n);
}

static void test_wrap(void **state)
{
	char *cmd[] = { "melange", "build", "foo.yaml", "--arch", "aarch64", NULL };
	struct rpl_run_job job;
	struct rpl_executor *x = make(NULL, "2Gi", 2);
	char comment[400];
	char **argv;

	(void)state;
	memset(&job, 0, sizeof(job));
	job.kind = "package";
	job.name = "foo";
	job.arch = "aarch64";
	job.file = "foo.yaml";
	job.cpu = "3";
	job.timeout = 90;
	job.priority = 60;
	tag(comment, sizeof(comment), "package", "/shared/repo");
	argv = x->wrap(x, &job, cmd);
	{
		const char *const want[] = { "srun",
			                     "--job-name=foo@aarch64",
			                     comment,
			                     "--partition=arm",
			                     "--nodes=1",
			                     "--ntasks=1",
			                     "--cpus-per-task=3",
			                     "--mem=2048M",
			                     "--time=3",
			                     "--nice=500",
			                     "--chdir=/shared/repo",
			                     "--account=builds",
			                     "melange",
			                     "build",
			                     "foo.yaml",
			                     "--arch",
			                     "aarch64" };
		argv_is(argv, want, N(want));
	}
	rpl_argv_free(argv);

	/* The job's memory over the default; no timeout, no --time; no
	 * priority: the largest nice; an image's comment says so. */
	job.kind = "image";
	job.arch = "x86_64";
	job.cpu = NULL;
	job.memory = "512Mi";
	job.timeout = 0;
	job.priority = 0;
	tag(comment, sizeof(comment), "image", "/shared/repo");
	argv = x->wrap(x, &job, cmd);
	{
		const char *const want[] = { "srun",
			                     "--job-name=foo@x86_64",
			                     comment,
			                     "--partition=amd",
			                     "--nodes=1",
			                     "--ntasks=1",
			                     "--cpus-per-task=1",
			                     "--mem=512M",
			                     "--nice=1000",
			                     "--chdir=/shared/repo",
			                     "--account=builds",
			                     "melange",
			                     "build",
			                     "foo.yaml",
			                     "--arch",
			                     "aarch64" };
		argv_is(argv, want, N(want));
	}
	rpl_argv_free(argv);

	/* A bad quantity in a job: nothing runs, and the message says why. */
	job.memory = "much";
	rpl_error_clear();
	assert_null(x->wrap(x, &job, cmd));
	assert_string_equal(rpl_errmsg(), "foo.yaml: resources: memory 'much' is not a size");
	x->free(x);

	/* No partition map: the cluster's default partition, no --partition. */
	x = make("2", NULL, 0);
	job.memory = NULL;
	argv = x->wrap(x, &job, cmd);
	for (char **a = argv; *a; a++) {
		assert_false(!strncmp(*a, "--partition", 11));
		assert_false(!strncmp(*a, "--mem", 5));
	}
	assert_string_equal(argv[5], "--cpus-per-task=2");
	rpl_argv_free(argv);
	x->free(x);
}

static void test_bad_defaults(void **state)
{
	struct rpl_slurm_opts o;
	struct rpl_executor *x = NULL;

	(void)state;
	memset(&o, 0, sizeof(o));
	o.workdir = "/r";
	o.cpu = "two";
	assert_int_equal(rpl_executor_slurm_new(&o, &x), -RPL_EUSAGE);
	assert_null(x);
	o.cpu = NULL;
	o.memory = "4GB";
	assert_int_equal(rpl_executor_slurm_new(&o, &x), -RPL_EUSAGE);
	assert_non_null(strstr(rpl_errmsg(), "'4GB' is not a size"));
}

static void test_exits(void **state)
{
	struct rpl_executor *x = make(NULL, NULL, 0);
	char msg[256];
	int64_t st;
	int sig;

	(void)state;
	st = 139, sig = 0;
	x->exited(x, &st, &sig);
	assert_int_equal(sig, 11);
	assert_int_equal(st, 0);
	st = 1, sig = 0;
	x->exited(x, &st, &sig);
	assert_int_equal(sig, 0);
	assert_int_equal(st, 1);
	st = 128, sig = 0;
	x->exited(x, &st, &sig);
	assert_int_equal(sig, 0);
	assert_int_equal(st, 128);
	st = 0, sig = 9; /* srun itself killed: stays so */
	x->exited(x, &st, &sig);
	assert_int_equal(sig, 9);

	assert_int_equal(x->explain(x, "melange build foo\nerror: it broke\n", msg, sizeof(msg)),
	                 0);
	assert_int_equal(
	        x->explain(x,
	                   "$ srun ...\nsrun: error: Memory specification can not be satisfied\n"
	                   "srun: error: Unable to allocate resources: Requested node "
	                   "configuration is not available\n",
	                   msg, sizeof(msg)),
	        1);
	assert_string_equal(
	        msg, "slurm could not run it: Requested node configuration is not available");
	x->free(x);
}

/* What sinfo --noheader --Node --format=%n|%c|%t|%P prints for a cluster
 * of seven nodes: some in two partitions, some not taking jobs. */
static const char sinfo_text[] = "#!/bin/sh\n"
                                 "[ \"$*\" = '--noheader --Node --format=%n|%c|%t|%P' ] || "
                                 "{ echo \"bad args: $*\"; exit 3; }\n"
                                 "cat <<'EOF'\n"
                                 "n1|4|idle|amd*\n"
                                 "n1|4|idle|arm\n"
                                 "n2|8|mix|amd*\n"
                                 "n3|16|down*|amd*\n"
                                 "n4|2|idle*|arm\n"
                                 "n5|32|drain|arm\n"
                                 "n6|6|alloc~|arm\n"
                                 "n7|64|idle|big\n"
                                 "EOF\n";

static void test_capacity(void **state)
{
	struct rpl_slurm_opts o;
	struct rpl_executor *x;
	char sinfo[512], broken[512];
	char *one[] = { "aarch64" }, *both[] = { "x86_64", "aarch64" }, *x86[] = { "x86_64" };
	size_t jobs = 0;

	(void)state;
	script("sinfo", sinfo_text, sinfo, sizeof(sinfo));
	script("sinfo-broken",
	       "#!/bin/sh\necho 'slurm_load_partitions: Unable to contact slurm controller'\nexit 1\n",
	       broken, sizeof(broken));
	memset(&o, 0, sizeof(o));
	o.workdir = "/r";
	o.archs = archs;
	o.partitions = parts;
	o.npartitions = 2;
	o.sinfo = sinfo;
	assert_int_equal(rpl_executor_slurm_new(&o, &x), 0);
	/* amd and arm: n1 once (4), n2 (8), n6 (6, powered down but wakes) */
	assert_int_equal(rpl_slurm_capacity(x, both, 2, &jobs), 0);
	assert_int_equal(jobs, 18);
	/* arm alone: n1 and n6 */
	assert_int_equal(rpl_slurm_capacity(x, one, 1, &jobs), 0);
	assert_int_equal(jobs, 10);
	x->free(x);

	/* Jobs of 4 CPUs: 12 CPUs of amd hold 3 (4 + 8, divided). */
	o.cpu = "4";
	assert_int_equal(rpl_executor_slurm_new(&o, &x), 0);
	assert_int_equal(rpl_slurm_capacity(x, x86, 1, &jobs), 0);
	assert_int_equal(jobs, 3);
	x->free(x);

	/* No map: the default partition (amd*). */
	o.cpu = NULL;
	o.npartitions = 0;
	assert_int_equal(rpl_executor_slurm_new(&o, &x), 0);
	assert_int_equal(rpl_slurm_capacity(x, both, 2, &jobs), 0);
	assert_int_equal(jobs, 12);
	x->free(x);

	/* Bigger jobs than the CPUs there are: still one at a time. */
	o.cpu = "100";
	assert_int_equal(rpl_executor_slurm_new(&o, &x), 0);
	assert_int_equal(rpl_slurm_capacity(x, both, 2, &jobs), 0);
	assert_int_equal(jobs, 1);
	x->free(x);

	o.sinfo = broken;
	assert_int_equal(rpl_executor_slurm_new(&o, &x), 0);
	rpl_error_clear();
	assert_int_equal(rpl_slurm_capacity(x, both, 2, &jobs), -RPL_EUSAGE);
	assert_string_equal(rpl_errmsg(), "sinfo failed (status 1): slurm_load_partitions: Unable "
	                                  "to contact slurm controller");
	x->free(x);
}

/* squeue lists two jobs named foo@x86_64 of this ripple (one of them an
 * image's), one of another ripple, and one of another host; scancel
 * records its arguments. */
static void test_cancel(void **state)
{
	struct rpl_slurm_opts o;
	struct rpl_executor *x;
	struct rpl_run_job job;
	char squeue[512], scancel[512], mine[400], image[400], text[2048], logp[512], got[1024];
	struct rpl_strbuf sb = RPL_STRBUF_INIT;
	int fd;
	FILE *f;

	(void)state;
	tag(mine, sizeof(mine), "package", "/r");
	tag(image, sizeof(image), "image", "/r");
	snprintf(text, sizeof(text),
	         "#!/bin/sh\n"
	         "[ \"$*\" = '--noheader --user %lu --name foo@x86_64 --format=%%A|%%k' ] || "
	         "{ echo \"bad args: $*\"; exit 3; }\n"
	         "echo '41|%s'\necho '42|ripple package otherhost:1'\necho '43|%s'\n"
	         "echo '44|%s'\necho '45|%s trailing'\n",
	         (unsigned long)getuid(), mine + 10, mine + 10, image + 10, mine + 10);
	script("squeue", text, squeue, sizeof(squeue));
	snprintf(text, sizeof(text), "#!/bin/sh\necho \"$*\" > %s/scancelled\n", dir);
	script("scancel", text, scancel, sizeof(scancel));

	memset(&o, 0, sizeof(o));
	o.workdir = "/r";
	o.squeue = squeue;
	o.scancel = scancel;
	assert_int_equal(rpl_executor_slurm_new(&o, &x), 0);
	memset(&job, 0, sizeof(job));
	job.kind = "package";
	job.name = "foo";
	job.arch = "x86_64";
	snprintf(logp, sizeof(logp), "%s/job.log", dir);
	fd = open(logp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_true(fd >= 0);
	x->cancel(x, &job, fd);
	close(fd);

	snprintf(text, sizeof(text), "%s/scancelled", dir);
	f = fopen(text, "r");
	assert_non_null(f);
	assert_non_null(fgets(got, sizeof(got), f));
	fclose(f);
	assert_string_equal(got, "41 43\n");
	f = fopen(logp, "r");
	assert_non_null(f);
	assert_non_null(fgets(got, sizeof(got), f));
	fclose(f);
	assert_string_equal(got, "# ripple: scancel: 41 43\n");

	/* squeue failing is written to the log; nothing is cancelled. */
	x->free(x);
	unlink(text);
	script("squeue-broken", "#!/bin/sh\necho 'squeue: error: no controller'\nexit 1\n", squeue,
	       sizeof(squeue));
	o.squeue = squeue;
	assert_int_equal(rpl_executor_slurm_new(&o, &x), 0);
	fd = open(logp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	x->cancel(x, &job, fd);
	close(fd);
	assert_int_equal(access(text, F_OK), -1);
	f = fopen(logp, "r");
	assert_non_null(f);
	assert_non_null(fgets(got, sizeof(got), f));
	fclose(f);
	assert_string_equal(got, "# ripple: squeue failed: squeue: error: no controller\n");
	x->free(x);
	rpl_strbuf_release(&sb);
}

/* Jobs that killed runs left: only those of this host and workdir whose
 * ripple pid is gone are cancelled. */
static void test_orphans(void **state)
{
	struct rpl_slurm_opts o;
	struct rpl_executor *x;
	char squeue[512], scancel[512], text[4096], host[256], got[256], done[512];
	pid_t dead = fork();
	size_t n = 0;
	FILE *f;

	(void)state;
	assert_true(dead >= 0);
	if (dead == 0)
		_exit(0);
	assert_int_equal(waitpid(dead, NULL, 0), dead);
	assert_int_equal(gethostname(host, sizeof(host)), 0);
	host[sizeof(host) - 1] = '\0';
	snprintf(text, sizeof(text),
	         "#!/bin/sh\n"
	         "[ \"$*\" = '--noheader --user %lu --format=%%A|%%k' ] || "
	         "{ echo \"bad args: $*\"; exit 3; }\n"
	         "echo '51|ripple package %s:%ld /r'\n"
	         "echo '52|ripple package %s:%ld /r'\n"
	         "echo '53|ripple package %s:%ld /other'\n"
	         "echo '54|ripple package otherhost:%ld /r'\n"
	         "echo '55|ripple package %s:1 /r'\n"
	         "echo '56|a job of somebody else'\n"
	         "echo '57|ripple image %s:%ld /r'\n",
	         (unsigned long)getuid(), host, (long)dead, host, (long)getpid(), host, (long)dead,
	         (long)dead, host, host, (long)dead);
	script("squeue-all", text, squeue, sizeof(squeue));
	snprintf(done, sizeof(done), "%s/orphans-cancelled", dir);
	snprintf(text, sizeof(text), "#!/bin/sh\necho \"$*\" > %s\n", done);
	script("scancel-orphans", text, scancel, sizeof(scancel));
	memset(&o, 0, sizeof(o));
	o.workdir = "/r";
	o.squeue = squeue;
	o.scancel = scancel;
	assert_int_equal(rpl_executor_slurm_new(&o, &x), 0);
	assert_int_equal(rpl_slurm_cancel_orphans(x, &n), 0);
	assert_int_equal(n, 2);
	f = fopen(done, "r");
	assert_non_null(f);
	assert_non_null(fgets(got, sizeof(got), f));
	fclose(f);
	assert_string_equal(got, "51 57\n");
	x->free(x);

	/* None to cancel: scancel is not run. */
	unlink(done);
	o.workdir = "/nowhere";
	assert_int_equal(rpl_executor_slurm_new(&o, &x), 0);
	assert_int_equal(rpl_slurm_cancel_orphans(x, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(access(done, F_OK), -1);
	x->free(x);
}

static void test_capture(void **state)
{
	struct rpl_strbuf out = RPL_STRBUF_INIT;
	char *ok[] = { "sh", "-c", "echo out; echo err >&2; exit 3", NULL };
	char *sig[] = { "sh", "-c", "kill -TERM $$", NULL };
	char *none[] = { "/nonexistent/program", NULL };

	(void)state;
	assert_int_equal(rpl_exec_capture(ok, &out), 3);
	assert_string_equal(out.buf, "out\nerr\n");
	assert_int_equal(rpl_exec_capture(sig, &out), 128 + 15);
	assert_true(rpl_exec_capture(none, &out) < 0);
	assert_non_null(strstr(rpl_errmsg(), "/nonexistent/program"));
	rpl_strbuf_release(&out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cpus),    cmocka_unit_test(test_memory),
		cmocka_unit_test(test_wrap),    cmocka_unit_test(test_bad_defaults),
		cmocka_unit_test(test_exits),   cmocka_unit_test(test_capacity),
		cmocka_unit_test(test_cancel),  cmocka_unit_test(test_orphans),
		cmocka_unit_test(test_capture),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
