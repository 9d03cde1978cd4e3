/*
 * The Slurm executor: each job's command runs through srun as a Slurm job
 * of one task on one node (runners/executor.h).
 *
 * srun rather than sbatch: srun stays in the foreground until its job has
 * ended, streams the job's output back (so the log fills as it would for a
 * local job), and exits with the job's status; ripple watches srun like
 * any child.  sbatch --wait polls the controller on a timer of seconds,
 * which would cap the throughput of short jobs.
 *
 * Stopping a job: srun does not say its job id on success, so the job is
 * found by its name and a comment that names this ripple process and its
 * monorepo ("ripple <kind> <host>:<pid> <root>"), through squeue, and cancelled with
 * scancel; then srun is signalled like any local job.  A job still waiting
 * for its allocation is cancelled the same way, and srun cancels its own
 * request when signalled before the controller knew of it.
 *
 * Priority: ripple submits only ready jobs, highest critical-path priority
 * first, and no more than the partitions hold (-j defaults to their
 * capacity), so Slurm's queue keeps ripple's order.  Jobs that do wait in
 * the queue are ordered the same way by --nice: from 1000 for a job with
 * nothing after it down towards 0 for the longest chains.
 */
#include "common/error.h"
#include "common/strbuf.h"
#include "common/xalloc.h"
#include "runners/executor.h"
#include "runners/runner.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct slurm {
	struct rpl_executor base;
	struct rpl_slurm_opts o;
	long cpus;    /* per job without resources */
	uint64_t mem; /* MiB, 0: the cluster's default */
	char host[256];
	char *tag; /* "<host>:<pid> <workdir>", in every job's comment */
};

/* ---- quantities ---------------------------------------------------------------------- */

/* `v` (>= 0, not huge) rounded up to a whole number, ignoring float noise. */
static double up(double v)
{
	double w = (double)(uint64_t)v;

	return v - w > 1e-9 ? w + 1 : w;
}

/* A decimal number "12", "1.5", ".5" at the start of `s`; *end past it. */
static int decimal(const char *s, double *v, const char **end)
{
	const char *p = s;
	double x = 0, scale = 1;
	int digits = 0;

	for (; *p >= '0' && *p <= '9'; p++, digits++)
		x = x * 10 + (*p - '0');
	if (*p == '.')
		for (p++; *p >= '0' && *p <= '9'; p++, digits++)
			x += (*p - '0') * (scale /= 10);
	if (!digits || x > 1e18)
		return -RPL_EUSAGE;
	*v = x;
	*end = p;
	return 0;
}

int rpl_slurm_cpus(const char *q, long *out)
{
	const char *end;
	double v;

	if (!q || decimal(q, &v, &end))
		return -RPL_EUSAGE;
	if (!strcmp(end, "m"))
		v /= 1000;
	else if (*end)
		return -RPL_EUSAGE;
	if (v <= 0 || v > 1e6)
		return -RPL_EUSAGE;
	*out = (long)up(v);
	if (*out < 1)
		*out = 1;
	return 0;
}

int rpl_slurm_mem_mib(const char *q, uint64_t *out)
{
	static const struct {
		const char *suffix;
		double bytes;
	} units[] = {
		{ "", 1 },
		{ "k", 1e3 },
		{ "K", 1e3 },
		{ "M", 1e6 },
		{ "G", 1e9 },
		{ "T", 1e12 },
		{ "P", 1e15 },
		{ "Ki", 1024.0 },
		{ "Mi", 1024.0 * 1024 },
		{ "Gi", 1024.0 * 1024 * 1024 },
		{ "Ti", 1024.0 * 1024 * 1024 * 1024 },
		{ "Pi", 1024.0 * 1024 * 1024 * 1024 * 1024 },
	};
	const char *end;
	double v, mib;

	if (!q || decimal(q, &v, &end))
		return -RPL_EUSAGE;
	for (size_t i = 0; i < sizeof(units) / sizeof(*units); i++)
		if (!strcmp(end, units[i].suffix)) {
			if (v * units[i].bytes > 1e18)
				return -RPL_EUSAGE;
			mib = up(v * units[i].bytes / (1024.0 * 1024));
			if (v <= 0)
				return -RPL_EUSAGE;
			*out = mib < 1 ? 1 : (uint64_t)mib;
			return 0;
		}
	return -RPL_EUSAGE;
}

/* ---- the command --------------------------------------------------------------------- */

const char *rpl_slurm_partition(const struct rpl_executor *x, const char *arch)
{
	const struct slurm *s = (const struct slurm *)x;

	for (size_t i = 0; i < s->o.npartitions; i++)
		if (!strcmp(s->o.archs[i], arch))
			return s->o.partitions[i];
	return NULL;
}

static void jobname(struct rpl_strbuf *sb, const struct rpl_run_job *job)
{
	rpl_strbuf_addf(sb, "%s@%s", job->name, job->arch);
}

static void comment(const struct slurm *s, struct rpl_strbuf *sb, const struct rpl_run_job *job)
{
	rpl_strbuf_addf(sb, "ripple %s %s", job->kind, s->tag);
}

static void flag(struct rpl_argv *a, struct rpl_strbuf *sb)
{
	rpl_argv_add(a, sb->buf);
	rpl_strbuf_reset(sb);
}

static char **slurm_wrap(struct rpl_executor *x, const struct rpl_run_job *job, char *const *argv)
{
	struct slurm *s = (struct slurm *)x;
	struct rpl_argv a = { NULL, 0, 0 };
	struct rpl_strbuf sb = RPL_STRBUF_INIT;
	const char *part = rpl_slurm_partition(x, job->arch);
	long cpus = s->cpus;
	uint64_t mem = s->mem;

	if (job->cpu && *job->cpu && rpl_slurm_cpus(job->cpu, &cpus)) {
		rpl_error(-RPL_EUSAGE, "%s: resources: cpu '%s' is not a number of CPUs", job->file,
		          job->cpu);
		return NULL;
	}
	if (job->memory && *job->memory && rpl_slurm_mem_mib(job->memory, &mem)) {
		rpl_error(-RPL_EUSAGE, "%s: resources: memory '%s' is not a size", job->file,
		          job->memory);
		return NULL;
	}
	rpl_argv_add(&a, s->o.srun ? s->o.srun : "srun");
	rpl_strbuf_addstr(&sb, "--job-name=");
	jobname(&sb, job);
	flag(&a, &sb);
	rpl_strbuf_addstr(&sb, "--comment=");
	comment(s, &sb, job);
	flag(&a, &sb);
	if (part) {
		rpl_strbuf_addf(&sb, "--partition=%s", part);
		flag(&a, &sb);
	}
	rpl_argv_add(&a, "--nodes=1");
	rpl_argv_add(&a, "--ntasks=1");
	rpl_strbuf_addf(&sb, "--cpus-per-task=%ld", cpus);
	flag(&a, &sb);
	if (mem) {
		rpl_strbuf_addf(&sb, "--mem=%lluM", (unsigned long long)mem);
		flag(&a, &sb);
	}
	/* Slurm's own limit is a backstop, a minute past ripple's: should
	 * ripple itself be gone, the job still ends. */
	if (job->timeout > 0) {
		rpl_strbuf_addf(&sb, "--time=%.0f", up(job->timeout / 60) + 1);
		flag(&a, &sb);
	}
	rpl_strbuf_addf(&sb, "--nice=%d",
	                (int)(1000.0 / (1.0 + (job->priority > 0 ? job->priority : 0) / 60.0)));
	flag(&a, &sb);
	rpl_strbuf_addf(&sb, "--chdir=%s", s->o.workdir);
	flag(&a, &sb);
	for (size_t i = 0; i < s->o.nargs; i++)
		rpl_argv_add(&a, s->o.args[i]);
	for (size_t i = 0; argv[i]; i++)
		rpl_argv_add(&a, argv[i]);
	rpl_strbuf_release(&sb);
	return a.v;
}

/* srun exits 128+N when its task was killed by signal N. */
static void slurm_exited(struct rpl_executor *x, int64_t *status, int *sig)
{
	(void)x;
	if (!*sig && *status > 128 && *status < 128 + 65) {
		*sig = (int)(*status - 128);
		*status = 0;
	}
}

/* srun's last word when the job never ran: no allocation (a partition that
 * does not exist, more CPUs or memory than any node has, no controller). */
static int slurm_explain(struct rpl_executor *x, const char *tail, char *out, size_t n)
{
	static const char needle[] = "srun: error: Unable to allocate resources: ";
	const char *at = NULL;

	(void)x;
	for (const char *p = strstr(tail, needle); p; p = strstr(p + 1, needle))
		at = p;
	if (!at)
		return 0;
	at += sizeof(needle) - 1;
	snprintf(out, n, "slurm could not run it: %.*s", (int)strcspn(at, "\n"), at);
	return 1;
}

static void log_line(int fd, const char *what, const char *text)
{
	struct rpl_strbuf sb = RPL_STRBUF_INIT;

	rpl_strbuf_addf(&sb, "# ripple: %s%s%s\n", what, text && *text ? ": " : "",
	                text ? text : "");
	/* A log that cannot be written loses lines, not the cancel. */
	if (fd >= 0 && write(fd, sb.buf, sb.len) < 0)
		errno = 0;
	rpl_strbuf_release(&sb);
}

static void slurm_cancel(struct rpl_executor *x, const struct rpl_run_job *job, int log_fd)
{
	struct slurm *s = (struct slurm *)x;
	struct rpl_strbuf name = RPL_STRBUF_INIT, want = RPL_STRBUF_INIT, out = RPL_STRBUF_INIT,
	                  uid = RPL_STRBUF_INIT;
	struct rpl_argv cancel = { NULL, 0, 0 };
	char *q[] = { (char *)(s->o.squeue ? s->o.squeue : "squeue"),
		      "--noheader",
		      "--user",
		      NULL,
		      "--name",
		      NULL,
		      "--format=%A|%k",
		      NULL };
	int rc;

	jobname(&name, job);
	comment(s, &want, job);
	rpl_strbuf_addf(&uid, "%lu", (unsigned long)getuid());
	q[3] = uid.buf;
	q[5] = name.buf;
	rc = rpl_exec_capture(q, &out);
	if (rc) {
		log_line(log_fd, "squeue failed", rc < 0 ? rpl_errmsg() : rpl_strbuf_str(&out));
		goto done;
	}
	rpl_argv_add(&cancel, s->o.scancel ? s->o.scancel : "scancel");
	for (char *l = out.buf; l && *l;) {
		size_t len = strcspn(l, "\n"), id = strcspn(l, "|");
		if (id < len && len - id - 1 == want.len &&
		    !strncmp(l + id + 1, want.buf, want.len)) {
			l[id] = '\0';
			rpl_argv_add(&cancel, l);
		}
		l += len + (l[len] == '\n');
	}
	if (cancel.n > 1) {
		struct rpl_strbuf ids = RPL_STRBUF_INIT;
		for (size_t i = 1; i < cancel.n; i++)
			rpl_strbuf_addf(&ids, "%s%s", i > 1 ? " " : "", cancel.v[i]);
		log_line(log_fd, "scancel", ids.buf);
		rpl_strbuf_release(&ids);
		rpl_strbuf_reset(&out);
		rc = rpl_exec_capture(cancel.v, &out);
		if (rc)
			log_line(log_fd, "scancel failed",
			         rc < 0 ? rpl_errmsg() : rpl_strbuf_str(&out));
	}
	rpl_argv_free(cancel.v);
done:
	rpl_strbuf_release(&uid);
	rpl_strbuf_release(&out);
	rpl_strbuf_release(&want);
	rpl_strbuf_release(&name);
}

/*
 * The jobs of runs of this monorepo from this host whose ripple is gone:
 * their comment names this root and host and a pid that is no process.
 * (A pid taken again by another process keeps its jobs: the safe side.)
 */
int rpl_slurm_cancel_orphans(struct rpl_executor *x, size_t *n)
{
	struct slurm *s = (struct slurm *)x;
	struct rpl_strbuf out = RPL_STRBUF_INIT, uid = RPL_STRBUF_INIT, ids = RPL_STRBUF_INIT;
	struct rpl_argv cancel = { NULL, 0, 0 };
	char *q[] = { (char *)(s->o.squeue ? s->o.squeue : "squeue"),
		      "--noheader",
		      "--user",
		      NULL,
		      "--format=%A|%k",
		      NULL };
	size_t hostlen = strlen(s->host);
	int rc;

	*n = 0;
	rpl_strbuf_addf(&uid, "%lu", (unsigned long)getuid());
	q[3] = uid.buf;
	rc = rpl_exec_capture(q, &out);
	if (rc) {
		if (rc > 0)
			rc = rpl_error(-RPL_EUSAGE, "squeue failed (status %d): %.*s", rc,
			               (int)strcspn(rpl_strbuf_str(&out), "\n"),
			               rpl_strbuf_str(&out));
		goto done;
	}
	rpl_argv_add(&cancel, s->o.scancel ? s->o.scancel : "scancel");
	for (char *l = out.buf; l && *l;) {
		size_t len = strcspn(l, "\n");
		char *end = l + len, *c = strchr(l, '|'), *p, *after;
		long pid;
		*end = '\0';
		/* "<id>|ripple <kind> <host>:<pid> <root>" */
		if (c && !strncmp(c + 1, "ripple ", 7) && (p = strchr(c + 8, ' ')) &&
		    !strncmp(p + 1, s->host, hostlen) && p[1 + hostlen] == ':') {
			pid = strtol(p + 2 + hostlen, &after, 10);
			if (pid > 0 && pid != (long)getpid() && *after == ' ' &&
			    !strcmp(after + 1, s->o.workdir) && kill((pid_t)pid, 0) < 0 &&
			    errno == ESRCH) {
				*c = '\0';
				rpl_argv_add(&cancel, l);
				rpl_strbuf_addf(&ids, "%s%s", ids.len ? " " : "", l);
			}
		}
		l = end + (end < out.buf + out.len);
	}
	*n = cancel.n - 1;
	if (*n) {
		rpl_strbuf_reset(&out);
		rc = rpl_exec_capture(cancel.v, &out);
		if (rc)
			rc = rpl_error(rc < 0 ? rc : -RPL_EUSAGE, "scancel %s failed: %.*s",
			               ids.buf, (int)strcspn(rpl_strbuf_str(&out), "\n"),
			               rpl_strbuf_str(&out));
	}
done:
	rpl_argv_free(cancel.v);
	rpl_strbuf_release(&ids);
	rpl_strbuf_release(&uid);
	rpl_strbuf_release(&out);
	return rc;
}

/* ---- capacity ------------------------------------------------------------------------ */

/* A node that takes jobs now, by sinfo's short state ("idle", "mix~"): one
 * that responds ("*" after the state says it does not) in a state that
 * runs jobs; power-saving flags are fine, Slurm wakes such nodes. */
static int node_up(const char *state)
{
	static const char *const up[] = { "idle", "alloc", "mix", "comp", "plnd" };
	size_t n = strspn(state, "abcdefghijklmnopqrstuvwxyz_");

	if (state[n] == '*')
		return 0;
	for (size_t i = 0; i < sizeof(up) / sizeof(*up); i++)
		if (strlen(up[i]) == n && !strncmp(state, up[i], n))
			return 1;
	return 0;
}

int rpl_slurm_capacity(struct rpl_executor *x, char *const *archs, size_t narchs, size_t *jobs)
{
	struct slurm *s = (struct slurm *)x;
	struct rpl_strbuf out = RPL_STRBUF_INIT, seen = RPL_STRBUF_INIT;
	char *q[] = { (char *)(s->o.sinfo ? s->o.sinfo : "sinfo"), "--noheader", "--Node",
		      "--format=%n|%c|%t|%P", NULL };
	int rc, any_default = 0;
	long cpus = 0;

	for (size_t i = 0; i < narchs; i++)
		any_default |= !rpl_slurm_partition(x, archs[i]);
	rc = rpl_exec_capture(q, &out);
	if (rc) {
		if (rc > 0) {
			size_t k = strcspn(rpl_strbuf_str(&out), "\n");
			rc = rpl_error(-RPL_EUSAGE, "sinfo failed (status %d): %.*s", rc, (int)k,
			               rpl_strbuf_str(&out));
		}
		goto done;
	}
	rpl_strbuf_addch(&seen, '\n');
	for (char *l = out.buf; l && *l;) {
		size_t len = strcspn(l, "\n");
		char *f[4] = { l, NULL, NULL, NULL }, *end = l + len;
		int k = 1, used = 0;
		*end = '\0';
		for (char *p = l; *p && k < 4; p++)
			if (*p == '|') {
				*p = '\0';
				f[k++] = p + 1;
			}
		if (k == 4) {
			size_t plen = strlen(f[3]);
			int dflt = plen && f[3][plen - 1] == '*';
			if (dflt)
				f[3][--plen] = '\0';
			used = dflt && any_default;
			for (size_t i = 0; i < narchs && !used; i++) {
				const char *p = rpl_slurm_partition(x, archs[i]);
				used = p && !strcmp(p, f[3]);
			}
		}
		if (used && node_up(f[2])) {
			struct rpl_strbuf key = RPL_STRBUF_INIT;
			rpl_strbuf_addf(&key, "\n%s\n", f[0]);
			if (!strstr(seen.buf, key.buf)) {
				cpus += strtol(f[1], NULL, 10);
				rpl_strbuf_addf(&seen, "%s\n", f[0]);
			}
			rpl_strbuf_release(&key);
		}
		l = end + (end < out.buf + out.len);
	}
	*jobs = cpus / s->cpus > 0 ? (size_t)(cpus / s->cpus) : 1;
done:
	rpl_strbuf_release(&seen);
	rpl_strbuf_release(&out);
	return rc;
}

/* ---- lifecycle ----------------------------------------------------------------------- */

static void slurm_free(struct rpl_executor *x)
{
	free(((struct slurm *)x)->tag);
	free(x);
}

int rpl_executor_slurm_new(const struct rpl_slurm_opts *o, struct rpl_executor **out)
{
	struct slurm *s = rpl_xcalloc(1, sizeof(*s));

	s->o = *o;
	s->cpus = 1;
	if (o->cpu && *o->cpu && rpl_slurm_cpus(o->cpu, &s->cpus)) {
		free(s);
		return rpl_error(-RPL_EUSAGE, "slurm: cpu '%s' is not a number of CPUs", o->cpu);
	}
	if (o->memory && *o->memory && rpl_slurm_mem_mib(o->memory, &s->mem)) {
		free(s);
		return rpl_error(-RPL_EUSAGE, "slurm: memory '%s' is not a size (4Gi, 512Mi, 2G)",
		                 o->memory);
	}
	if (gethostname(s->host, sizeof(s->host)) < 0)
		snprintf(s->host, sizeof(s->host), "unknown");
	s->host[sizeof(s->host) - 1] = '\0';
	{
		struct rpl_strbuf tag = RPL_STRBUF_INIT;
		rpl_strbuf_addf(&tag, "%s:%ld %s", s->host, (long)getpid(), o->workdir);
		s->tag = rpl_strbuf_detach(&tag);
	}
	s->base.name = "slurm";
	s->base.wrap = slurm_wrap;
	s->base.exited = slurm_exited;
	s->base.explain = slurm_explain;
	s->base.cancel = slurm_cancel;
	s->base.free = slurm_free;
	*out = &s->base;
	return 0;
}
