/*
 * The external runner: melange and apko as child processes.  Each job's
 * process runs in a session of its own (setsid), so that stopping a job
 * stops everything it started; its stdout and stderr go to the job's log.
 *
 * Children are started with posix_spawn (glibc's is a vfork-style clone: no
 * copy of ripple's page tables, which for a big plan cost more than a
 * trivial job itself) and watched through a pidfd on the loop.  Kernels
 * without pidfd_open (before 5.3) get libuv's uv_spawn instead.
 */
#define _GNU_SOURCE /* posix_spawn's SETSID and addchdir_np (glibc 2.29) */
#include "common/error.h"
#include "common/file.h"
#include "common/strbuf.h"
#include "common/xalloc.h"
#include "runners/executor.h"
#include "runners/runner.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

const char *rpl_run_status_name(enum rpl_run_status s)
{
	static const char *const names[] = { "ok", "failed", "crashed", "timeout", "cancelled" };

	return (unsigned)s < sizeof(names) / sizeof(*names) ? names[s] : "unknown";
}

struct ext {
	struct rpl_runner base;
	struct rpl_external_opts o;
	int pidfd; /* 1: posix_spawn + pidfd; 0: uv_spawn */
};

enum stage { BUILD, TEST };

struct ext_job {
	struct ext *r;
	struct rpl_run_job *job;
	uv_loop_t *loop;
	uv_process_t proc; /* uv_spawn's child */
	uv_poll_t poll;    /* or posix_spawn's, watched through its pidfd */
	pid_t pid;
	int pidfd;
	uv_timer_t timeout, grace;
	int log_fd;
	enum stage stage;
	int running; /* a process is alive */
	int handles; /* open libuv handles, closed before `done` */
	int stopping;
	int remote_cancelled; /* the executor was told to stop the job elsewhere */
	enum rpl_run_status status;
	char message[1024];
	uint64_t stage_start; /* uv_hrtime(): monotonic, for the stage's duration */
	struct before {
		int exists;
		int64_t ino, size, mtime_ns;
	} * before; /* each output as it was when the job started */
	rpl_run_done_fn done;
	void *arg;
};

/* ---- command lines ----------------------------------------------------------------- */

void rpl_argv_add(struct rpl_argv *a, const char *s)
{
	RPL_ALLOC_GROW(a->v, a->n + 2, a->alloc);
	a->v[a->n++] = rpl_xstrdup(s);
	a->v[a->n] = NULL;
}

static void arg2(struct rpl_argv *a, const char *flag, const char *value)
{
	rpl_argv_add(a, flag);
	rpl_argv_add(a, value);
}

void rpl_argv_free(char **argv)
{
	for (size_t i = 0; argv && argv[i]; i++)
		free(argv[i]);
	free(argv);
}

/* The keys every melange and apko command gets: the signing key's public half, the keyrings. */
static void keys(const struct rpl_external_opts *o, struct rpl_argv *a)
{
	if (o->signing_key) {
		struct rpl_strbuf pub = RPL_STRBUF_INIT;
		rpl_strbuf_addf(&pub, "%s.pub", o->signing_key);
		arg2(a, "--keyring-append", pub.buf);
		rpl_strbuf_release(&pub);
	}
	for (size_t i = 0; i < o->nkeyrings; i++)
		arg2(a, "--keyring-append", o->keyrings[i]);
}

/* The repositories and keys every melange and apko command gets. */
static void repos(const struct rpl_external_opts *o, struct rpl_argv *a)
{
	arg2(a, "--repository-append", o->out_dir);
	for (size_t i = 0; i < o->nrepositories; i++)
		arg2(a, "--repository-append", o->repositories[i]);
	keys(o, a);
}

/* `ripple native-image`: only the local repository, and a push under the job's name. */
static void native_image_command(const struct rpl_external_opts *o, const struct rpl_run_job *j,
                                 struct rpl_argv *a)
{
	rpl_argv_add(a, o->native_image);
	rpl_argv_add(a, "native-image");
	rpl_argv_add(a, j->file);
	arg2(a, "--arch", j->arch);
	arg2(a, "--out-dir", "images");
	arg2(a, "--repository-append", o->out_dir);
	keys(o, a);
	if (o->push) {
		struct rpl_strbuf ref = RPL_STRBUF_INIT;
		rpl_strbuf_addf(&ref, "%s/%s", o->push, j->name);
		arg2(a, "--push", ref.buf);
		rpl_strbuf_release(&ref);
	}
}

static void apko_command(const struct rpl_external_opts *o, const struct rpl_run_job *j,
                         struct rpl_argv *a)
{
	struct rpl_strbuf tag = RPL_STRBUF_INIT;

	rpl_strbuf_addf(&tag, "%s:latest", j->name);
	rpl_argv_add(a, o->apko);
	rpl_argv_add(a, "build");
	rpl_argv_add(a, j->file);
	rpl_argv_add(a, tag.buf);
	rpl_argv_add(a, j->noutputs ? j->outputs[0] : "image.tar");
	arg2(a, "--arch", j->arch);
	repos(o, a);
	/* apko looks an include up in its working directory (the root),
	 * then in the include paths: the image's own directory too, as
	 * ripple's reader does (recipes/apko.c resolve_include). */
	if (strchr(j->file, '/')) {
		char *dir = rpl_path_dirname(j->file);
		arg2(a, "--include-paths", dir);
		free(dir);
	}
	for (size_t i = 0; i < o->napko_args; i++)
		rpl_argv_add(a, o->apko_args[i]);
	rpl_strbuf_release(&tag);
}

/* `ripple native-build`, building and testing in one run. */
static void native_build_command(const struct rpl_external_opts *o, const struct rpl_run_job *j,
                                 struct rpl_argv *a)
{
	rpl_argv_add(a, o->native);
	rpl_argv_add(a, "native-build");
	rpl_argv_add(a, j->file);
	arg2(a, "--arch", j->arch);
	if (o->test)
		rpl_argv_add(a, "--test");
	arg2(a, "--out-dir", o->out_dir);
	if (j->source_dir)
		arg2(a, "--source-dir", j->source_dir);
	if (o->signing_key)
		arg2(a, "--signing-key", o->signing_key);
	for (size_t i = 0; i < o->npipeline_dirs; i++)
		arg2(a, "--pipeline-dir", o->pipeline_dirs[i]);
	for (size_t i = 0; i < j->nenv_files; i++)
		arg2(a, "--env-file", j->env_files[i]);
	/* The one melange argument the native builder honours: the
	 * packages' maintainer and their SBOMs' namespace. */
	for (size_t i = 0; i < o->nmelange_args; i++) {
		const char *m = o->melange_args[i];
		if (!strcmp(m, "--namespace") && i + 1 < o->nmelange_args)
			arg2(a, "--namespace", o->melange_args[++i]);
		else if (!strncmp(m, "--namespace=", 12))
			arg2(a, "--namespace", m + 12);
	}
}

static void melange_command(const struct rpl_external_opts *o, const struct rpl_run_job *j,
                            enum stage stage, struct rpl_argv *a)
{
	rpl_argv_add(a, o->melange);
	rpl_argv_add(a, stage == BUILD ? "build" : "test");
	rpl_argv_add(a, j->file);
	arg2(a, "--arch", j->arch);
	if (stage == BUILD) {
		arg2(a, "--out-dir", o->out_dir);
		if (o->signing_key)
			arg2(a, "--signing-key", o->signing_key);
		/* ripple merges each job's packages into the index itself. */
		rpl_argv_add(a, "--generate-index=false");
	}
	if (j->source_dir)
		arg2(a, "--source-dir", j->source_dir);
	for (size_t i = 0; i < o->npipeline_dirs; i++)
		arg2(a, "--pipeline-dir", o->pipeline_dirs[i]);
	repos(o, a);
	for (size_t i = 0; stage == BUILD && i < j->nenv_files; i++)
		arg2(a, "--env-file", j->env_files[i]);
	if (o->container_runner)
		arg2(a, "--runner", o->container_runner);
	for (size_t i = 0; i < o->nmelange_args; i++)
		rpl_argv_add(a, o->melange_args[i]);
}

static char **command(const struct ext *r, const struct rpl_run_job *j, enum stage stage)
{
	const struct rpl_external_opts *o = &r->o;
	struct rpl_argv a = { NULL, 0, 0 };
	int image = !strcmp(j->kind, "image");

	if (image && o->native_image)
		native_image_command(o, j, &a);
	else if (image)
		apko_command(o, j, &a);
	else if (o->native)
		native_build_command(o, j, &a);
	else
		melange_command(o, j, stage, &a);
	return a.v;
}

/* The command as the executor runs it: NULL with an error when it cannot. */
static char **command_for(const struct ext *r, const struct rpl_run_job *j, enum stage stage)
{
	struct rpl_executor *x = r->o.executor;
	char **argv = command(r, j, stage), **wrapped;

	if (!x || !x->wrap)
		return argv;
	wrapped = x->wrap(x, j, argv);
	rpl_argv_free(argv);
	return wrapped;
}

char **rpl_external_argv(const struct rpl_runner *r, const struct rpl_run_job *job)
{
	return command_for((const struct ext *)r, job, BUILD);
}

/* ---- processes ------------------------------------------------------------------------ */

static void logf_(struct ext_job *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void logf_(struct ext_job *e, const char *fmt, ...)
{
	char buf[4096];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n > (int)sizeof(buf) - 1)
		n = (int)sizeof(buf) - 1;
	/* A log that cannot be written loses lines, not the build. */
	if (e->log_fd >= 0 && n > 0 && write(e->log_fd, buf, (size_t)n) < 0)
		return;
}

static void handle_closed(uv_handle_t *h)
{
	struct ext_job *e = h->data;

	if (--e->handles)
		return;
	if (e->log_fd >= 0)
		close(e->log_fd);
	e->job->priv = NULL;
	if (e->done)
		e->done(e->job, e->status, e->message[0] ? e->message : NULL, e->arg);
	free(e->before);
	free(e);
}

/* Everything stopped: close the timers; `done` runs when the last handle is closed. */
static void finish(struct ext_job *e)
{
	uv_timer_stop(&e->timeout);
	uv_timer_stop(&e->grace);
	uv_close((uv_handle_t *)&e->timeout, handle_closed);
	uv_close((uv_handle_t *)&e->grace, handle_closed);
}

static int spawn(struct ext_job *e);

static void verify_outputs(struct ext_job *e)
{
	const struct rpl_run_job *j = e->job;

	for (size_t i = 0; i < j->noutputs; i++) {
		char *p = rpl_path_join(e->r->o.root, j->outputs[i]);
		struct stat sb;
		/* One left by an earlier build, untouched, does not count. */
		int there = stat(p, &sb) == 0 &&
		            !(e->before[i].exists && e->before[i].ino == (int64_t)sb.st_ino &&
		              e->before[i].size == (int64_t)sb.st_size &&
		              e->before[i].mtime_ns ==
		                      (int64_t)sb.st_mtim.tv_sec * 1000000000 + sb.st_mtim.tv_nsec);
		free(p);
		if (!there) {
			e->status = RPL_RUN_FAILED;
			snprintf(e->message, sizeof(e->message),
			         "runner reported success but produced no %s", j->outputs[i]);
			logf_(e, "# ripple: %s\n", e->message);
			return;
		}
	}
}

static void proc_closed(uv_handle_t *h)
{
	struct ext_job *e = h->data;

	e->handles--;
	if (e->status == RPL_RUN_OK && e->stage == BUILD && e->r->o.test && !e->r->o.native &&
	    !strcmp(e->job->kind, "package") && !e->stopping) {
		e->stage = TEST;
		if (spawn(e) == 0)
			return;
		e->status = RPL_RUN_FAILED;
		snprintf(e->message, sizeof(e->message), "%s", rpl_errmsg());
	}
	if (e->status == RPL_RUN_OK)
		verify_outputs(e);
	finish(e);
}

/* The last 8 kB of the job's log, NUL-terminated: 0, or -1 when unreadable. */
static int log_tail(struct ext_job *e, char *buf, size_t n)
{
	char *path = rpl_path_join(e->r->o.root, e->job->log_path);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	off_t size;
	ssize_t got;

	free(path);
	if (fd < 0)
		return -1;
	size = lseek(fd, 0, SEEK_END);
	lseek(fd, size > (off_t)n - 1 ? size - (off_t)n + 1 : 0, SEEK_SET);
	got = read(fd, buf, n - 1);
	close(fd);
	if (got <= 0)
		return -1;
	buf[got] = '\0';
	return 0;
}

/* Why the executor could not run the job, from its log: 1 with `out` set, or 0. */
static int executor_reason(struct ext_job *e, char *out, size_t n)
{
	struct rpl_executor *x = e->r->o.executor;
	char buf[8192];

	if (!x || !x->explain || log_tail(e, buf, sizeof(buf)))
		return 0;
	return x->explain(x, buf, out, n);
}

/* The last "ripple: " line of the job's log (what native-build failed on). */
static int last_ripple_line(struct ext_job *e, char *out, size_t n)
{
	char buf[8192];
	int found = 0;

	if (log_tail(e, buf, sizeof(buf)))
		return 0;
	for (char *l = buf; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
		if (!strncmp(l, "ripple: ", 8)) {
			size_t k = strcspn(l + 8, "\n");
			snprintf(out, n, "%.*s", (int)k, l + 8);
			found = 1;
		}
	return found;
}

static void job_exited(struct ext_job *e, int64_t status, int sig, uv_handle_t *h)
{
	int image = !strcmp(e->job->kind, "image");
	int native = image ? e->r->o.native_image != NULL : e->r->o.native != NULL;
	const char *what = e->stage == TEST ? "test"
	                   : native         ? image ? "native-image" : "native-build"
	                                    : "build";
	const char *prog = native ? "ripple" : image ? "apko" : "melange";
	double secs = (double)(uv_hrtime() - e->stage_start) / 1e9;

	/* What the executor wrapped exited, not the wrapper. */
	if (e->r->o.executor && e->r->o.executor->exited)
		e->r->o.executor->exited(e->r->o.executor, &status, &sig);
	e->running = 0;
	logf_(e, "# ripple: %s %s %s %lld (%.1fs)\n", prog, what,
	      sig ? "killed by signal" : "exited with status", (long long)(sig ? sig : status),
	      secs);
	if (e->stopping) {
		/* status already says cancelled or timed out */
	} else if (sig) {
		e->status = RPL_RUN_CRASHED;
		snprintf(e->message, sizeof(e->message), "%s %s was killed by signal %d (%s)", prog,
		         what, sig, strsignal(sig));
	} else if (status && executor_reason(e, e->message, sizeof(e->message))) {
		/* It never ran: the executor says why (no such partition, say). */
		e->status = RPL_RUN_FAILED;
	} else if (status && native && last_ripple_line(e, e->message, sizeof(e->message))) {
		/* ripple native-build ends with its reason on a "ripple: " line. */
		e->status = RPL_RUN_FAILED;
	} else if (status) {
		e->status = RPL_RUN_FAILED;
		snprintf(e->message, sizeof(e->message), "%s %s exited with status %lld", prog,
		         what, (long long)status);
	}
	uv_close(h, proc_closed);
}

static void proc_exited(uv_process_t *p, int64_t status, int sig)
{
	job_exited(p->data, status, sig, (uv_handle_t *)p);
}

/* The pidfd is readable: the child has exited. */
static void pidfd_ready(uv_poll_t *w, int status, int events)
{
	struct ext_job *e = w->data;
	int st = 0;
	pid_t got;

	(void)status;
	(void)events;
	do
		got = waitpid(e->pid, &st, WNOHANG);
	while (got < 0 && errno == EINTR);
	if (got == 0)
		return; /* not yet */
	uv_poll_stop(w);
	close(e->pidfd);
	e->pidfd = -1;
	if (got < 0)
		job_exited(e, 127, 0, (uv_handle_t *)w);
	else
		job_exited(e, WIFEXITED(st) ? WEXITSTATUS(st) : 0,
		           WIFSIGNALED(st) ? WTERMSIG(st) : 0, (uv_handle_t *)w);
}

/* posix_spawn in a session of its own, stdin from /dev/null, output to the log. */
static int spawn_pidfd(struct ext_job *e, char **argv)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	sigset_t none, all;
	int rc;

	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, e->log_fd, 1);
	posix_spawn_file_actions_adddup2(&fa, e->log_fd, 2);
	if (e->r->o.root)
		posix_spawn_file_actions_addchdir_np(&fa, e->r->o.root);
	posix_spawnattr_init(&at);
	sigemptyset(&none);
	sigfillset(&all);
	posix_spawnattr_setsigmask(&at, &none);
	posix_spawnattr_setsigdefault(&at, &all);
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK |
	                                      POSIX_SPAWN_SETSIGDEF);
	rc = posix_spawnp(&e->pid, argv[0], &fa, &at, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	if (rc)
		return rpl_error(-rc, "cannot run %s: %s", argv[0], strerror(rc));
	e->pidfd = (int)syscall(SYS_pidfd_open, e->pid, 0);
	if (e->pidfd < 0) {
		rc = errno;
		kill(-e->pid, SIGKILL);
		waitpid(e->pid, NULL, 0);
		return rpl_error(-rc, "cannot watch %s: pidfd_open: %s", argv[0], strerror(rc));
	}
	uv_poll_init(e->loop, &e->poll, e->pidfd);
	e->poll.data = e;
	uv_poll_start(&e->poll, UV_READABLE, pidfd_ready);
	return 0;
}

static int spawn(struct ext_job *e)
{
	char **argv = command_for(e->r, e->job, e->stage);
	uv_process_options_t po;
	uv_stdio_container_t stdio[3];
	int rc;

	if (!argv) {
		logf_(e, "# ripple: %s\n", rpl_errmsg());
		return -RPL_EUSAGE;
	}
	memset(&po, 0, sizeof(po));
	stdio[0].flags = UV_IGNORE;
	stdio[1].flags = UV_INHERIT_FD;
	stdio[1].data.fd = e->log_fd;
	stdio[2].flags = UV_INHERIT_FD;
	stdio[2].data.fd = e->log_fd;
	po.file = argv[0];
	po.args = argv;
	po.cwd = e->r->o.root;
	po.stdio = stdio;
	po.stdio_count = 3;
	/* A session of its own: its process group can be stopped as a whole. */
	po.flags = UV_PROCESS_DETACHED;
	po.exit_cb = proc_exited;
	logf_(e, "$");
	for (char **a = argv; *a; a++)
		logf_(e, " %s", *a);
	logf_(e, "\n");
	e->proc.data = e;
	e->stage_start = uv_hrtime();
	if (e->r->pidfd) {
		if ((rc = spawn_pidfd(e, argv)))
			logf_(e, "# ripple: %s\n", rpl_errmsg());
	} else if ((rc = uv_spawn(e->loop, &e->proc, &po))) {
		rc = rpl_error(-RPL_ELIB, "cannot run %s: %s", argv[0], uv_strerror(rc));
		logf_(e, "# ripple: %s\n", rpl_errmsg());
		/* A failed spawn still leaves a handle to close, counted like the
		 * timers so that `e` outlives it. */
		e->proc.data = e;
		e->handles++;
		uv_close((uv_handle_t *)&e->proc, handle_closed);
	} else {
		e->pid = e->proc.pid;
	}
	if (!rc) {
		e->handles++;
		e->running = 1;
	}
	rpl_argv_free(argv);
	return rc;
}

static void kill_group(struct ext_job *e, int sig)
{
	struct rpl_executor *x = e->r->o.executor;

	/* The job elsewhere first, while its wrapper still holds it: a
	 * wrapper killed outright (srun by SIGKILL) would leave it running. */
	if (e->running && x && x->cancel && !e->remote_cancelled) {
		e->remote_cancelled = 1;
		x->cancel(x, e->job, e->log_fd);
	}
	if (e->running && e->pid > 0)
		kill(-e->pid, sig);
}

static void grace_over(uv_timer_t *t)
{
	struct ext_job *e = t->data;

	kill_group(e, SIGKILL);
}

static void stop(struct ext_job *e, enum rpl_run_status why, int now)
{
	if (!e->running) {
		/* Its process has ended and its outcome stands, unless a test
		 * stage was still to come: that one does not start. */
		int test_next = e->stage == BUILD && e->status == RPL_RUN_OK && e->r->o.test &&
		                !e->r->o.native && !strcmp(e->job->kind, "package");
		if (test_next && !e->stopping) {
			e->status = why;
			snprintf(e->message, sizeof(e->message), "interrupted before its test");
		}
		e->stopping = 1;
		return;
	}
	if (!e->stopping) {
		e->stopping = 1;
		e->status = why;
		if (why == RPL_RUN_TIMEOUT)
			snprintf(e->message, sizeof(e->message), "timed out after %.0fs",
			         e->job->timeout);
		else
			snprintf(e->message, sizeof(e->message), "interrupted");
		logf_(e, "# ripple: %s\n", e->message);
	}
	if (now) {
		kill_group(e, SIGKILL);
		return;
	}
	kill_group(e, SIGTERM);
	uv_timer_start(&e->grace, grace_over,
	               (uint64_t)((e->r->o.kill_grace > 0 ? e->r->o.kill_grace : 10) * 1000), 0);
}

static void timed_out(uv_timer_t *t)
{
	stop(t->data, RPL_RUN_TIMEOUT, 0);
}

static int ext_start(struct rpl_runner *base, struct rpl_run_job *job, uv_loop_t *loop,
                     rpl_run_done_fn done, void *arg)
{
	struct ext *r = (struct ext *)base;
	struct ext_job *e = rpl_xcalloc(1, sizeof(*e));
	char *log = rpl_path_join(r->o.root, job->log_path), *dir = rpl_path_dirname(log);
	int err;

	e->r = r;
	e->job = job;
	e->loop = loop;
	e->before = rpl_xcalloc(job->noutputs ? job->noutputs : 1, sizeof(*e->before));
	for (size_t i = 0; i < job->noutputs; i++) {
		char *p = rpl_path_join(r->o.root, job->outputs[i]);
		struct stat sb;
		if (stat(p, &sb) == 0)
			e->before[i] = (struct before){ 1, (int64_t)sb.st_ino, (int64_t)sb.st_size,
				                        (int64_t)sb.st_mtim.tv_sec * 1000000000 +
				                                sb.st_mtim.tv_nsec };
		free(p);
	}
	e->status = RPL_RUN_OK;
	if ((err = rpl_mkdirs(dir))) {
		free(log);
		free(dir);
		free(e->before);
		free(e);
		return err;
	}
	e->log_fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	free(dir);
	if (e->log_fd < 0) {
		err = rpl_error(-errno, "cannot open the log '%s': %s", log, strerror(errno));
		free(log);
		free(e->before);
		free(e);
		return err;
	}
	free(log);
	/* apko writes its image where it is told: the directory must exist. */
	for (size_t i = 0; i < job->noutputs && !strcmp(job->kind, "image"); i++) {
		char *out = rpl_path_join(r->o.root, job->outputs[i]),
		     *odir = rpl_path_dirname(out);
		err = rpl_mkdirs(odir);
		free(out);
		free(odir);
		if (err) {
			close(e->log_fd);
			free(e->before);
			free(e);
			return err;
		}
	}
	uv_timer_init(loop, &e->timeout);
	uv_timer_init(loop, &e->grace);
	e->timeout.data = e->grace.data = e;
	e->handles = 2;
	if ((err = spawn(e))) {
		/* Nothing runs: close the timers quietly and report to the caller. */
		e->done = NULL;
		finish(e);
		return err;
	}
	e->done = done;
	e->arg = arg;
	job->priv = e;
	if (job->timeout > 0)
		uv_timer_start(&e->timeout, timed_out, (uint64_t)(job->timeout * 1000), 0);
	return 0;
}

static void ext_cancel(struct rpl_runner *base, struct rpl_run_job *job, int now)
{
	(void)base;
	if (job->priv)
		stop(job->priv, RPL_RUN_CANCELLED, now);
}

static void ext_free(struct rpl_runner *base)
{
	free(base);
}

struct rpl_runner *rpl_process_runner_new(const struct rpl_external_opts *o)
{
	struct ext *r = rpl_xcalloc(1, sizeof(*r));

	r->base.name = "external";
	r->base.start = ext_start;
	r->base.cancel = ext_cancel;
	r->base.free = ext_free;
	r->o = *o;
	/* With SIGCHLD ignored (inherited from some supervisors) the kernel
	 * reaps children itself and waitpid() cannot report their status. */
	{
		struct sigaction sa;
		if (sigaction(SIGCHLD, NULL, &sa) == 0 && sa.sa_handler == SIG_IGN) {
			sa.sa_handler = SIG_DFL;
			sigemptyset(&sa.sa_mask);
			sa.sa_flags = 0;
			sigaction(SIGCHLD, &sa, NULL);
		}
	}
	/* pidfd_open (Linux 5.3) on ourselves tells whether the kernel has it;
	 * RIPPLE_SPAWN=uv asks for libuv's way regardless (the tests use it). */
	{
		const char *how = getenv("RIPPLE_SPAWN");
		int fd = how && !strcmp(how, "uv") ? -1 : (int)syscall(SYS_pidfd_open, getpid(), 0);
		r->pidfd = fd >= 0;
		if (fd >= 0)
			close(fd);
	}
	return &r->base;
}
