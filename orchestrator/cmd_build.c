/*
 * `ripple build`: scan, graph, plan, schedule, record.  The selected jobs
 * run through a runner (runners/runner.h) on the scheduler
 * (orchestrator/sched.h); each package job's apks are merged into
 * packages/<arch>/APKINDEX.tar.gz as soon as it finishes, so later jobs
 * build against them; every job's outcome is recorded in the state store,
 * so a run that was interrupted or failed is resumed by running again.
 */
#include "common/error.h"
#include "common/file.h"
#include "common/strbuf.h"
#include "common/xalloc.h"
#include "graph/graph.h"
#include "orchestrator/artifact_cache.h"
#include "orchestrator/buildexec.h"
#include "orchestrator/buildjobs.h"
#include "orchestrator/cache_runner.h"
#include "orchestrator/cli.h"
#include "orchestrator/forced.h"
#include "orchestrator/leftover.h"
#include "orchestrator/memo.h"
#include "orchestrator/plan.h"
#include "orchestrator/progress.h"
#include "orchestrator/report.h"
#include "orchestrator/report_html.h"
#include "orchestrator/sched.h"
#include "orchestrator/selectors.h"
#include "orchestrator/state.h"
#include "orchestrator/status_line.h"
#include "recipes/apko.h"
#include "recipes/melange.h"
#include "recipes/repoconfig.h"
#include "recipes/scan.h"
#include "runners/emulate.h"
#include "runners/repo.h"
#include "runners/runner.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct bopts {
	struct popts sel;
	long jobs, arch_jobs, retries;
	double timeout;
	int keep_going; /* -1: the default (on with --all) */
	int dry_run, test, verbose, no_cache;
	const char *runner, *container_runner, *signing_key;
	const char *events, *report, *junit, *push;
	const char *report_html;
	const char *executor; /* NULL: .ripple.yaml's, else local */
	char **runner_args, **apko_args, **repos, **keyrings;
	size_t nrunner_args, napko_args, nrepos, nkeyrings;
};

static void push_arg(char ***v, size_t *n, const char *s)
{
	*v = rpl_xrealloc(*v, (*n + 1) * sizeof(**v));
	(*v)[(*n)++] = (char *)s;
}

/*
 * How many of the melange arguments v[from..to) the native builder does not
 * take: all but `--namespace NS` (`--namespace=NS`), its packages'
 * maintainer and SBOM namespace (runners/external.c passes it on).
 */
static size_t not_native(char *const *v, size_t from, size_t to)
{
	size_t n = 0;

	for (size_t i = from; i < to; i++) {
		if (!strcmp(v[i], "--namespace") && i + 1 < to)
			i++;
		else if (strncmp(v[i], "--namespace=", 12))
			n++;
	}
	return n;
}

/*
 * --container-runner, --runner-arg and --apko-arg (and .ripple.yaml's
 * melange-args and apko-args) are for melange and apko: the native
 * builders take none of them but melange's --namespace.  Asked for with `--runner native` they are a
 * usage error; when `--runner auto` chose the native builder (or they come
 * from .ripple.yaml) a warning says they are not used.  `native_pkgs` and
 * `native_imgs` say which builds are native; the counts are the command
 * line's and .ripple.yaml's.
 */
static void check_native_options(const struct bopts *o, int native_pkgs, int native_imgs,
                                 size_t cfg_melange, size_t cfg_apko)
{
	int asked = !strcmp(o->runner, "native");
	size_t cfg_n = o->nrunner_args >= cfg_melange ? cfg_melange : 0;
	size_t cli_melange = not_native(o->runner_args, cfg_n, o->nrunner_args);
	size_t cli_apko = o->napko_args - (o->napko_args >= cfg_apko ? cfg_apko : 0);
	const char *pkg_flag = o->container_runner ? "--container-runner"
	                       : cli_melange       ? "--runner-arg"
	                                           : NULL;

	if (native_pkgs && pkg_flag && asked)
		rpl_die(RPL_EXIT_USAGE,
		        "%s is an option for melange: --runner native builds packages without it",
		        pkg_flag);
	if (native_imgs && cli_apko && asked)
		rpl_die(RPL_EXIT_USAGE,
		        "--apko-arg is an option for apko: --runner native assembles images "
		        "without it");
	if (native_pkgs && pkg_flag)
		rpl_warn("%s is not used: melange is not on PATH, so the native builder builds "
		         "the packages",
		         pkg_flag);
	else if (native_pkgs && not_native(o->runner_args, 0, cfg_n))
		rpl_warn(".ripple.yaml's melange-args are not used by the native builder");
	if (native_imgs && cli_apko)
		rpl_warn("--apko-arg is not used: apko is not on PATH, so the native assembler "
		         "builds the images");
	else if (native_imgs && cfg_apko)
		rpl_warn(".ripple.yaml's apko-args are not used by the native assembler");
}

/* Puts `cfg`'s arguments before those of the command line. */
static void merge_args(char ***v, size_t *n, const struct rpl_textlist *cfg)
{
	char **all;

	if (!cfg->n)
		return;
	all = rpl_xmalloc((cfg->n + *n + 1) * sizeof(*all));
	for (size_t i = 0; i < cfg->n; i++)
		all[i] = (char *)cfg->v[i].s;
	for (size_t i = 0; i < *n; i++)
		all[cfg->n + i] = (*v)[i];
	free(*v);
	*v = all;
	*n += cfg->n;
}

static long number(const char *opt, const char *arg, long min)
{
	char *end;
	long v = strtol(arg, &end, 10);

	if (!*arg || *end || v < min)
		rpl_die(RPL_EXIT_USAGE, "%s wants a number of at least %ld, not '%s'", opt, min,
		        arg);
	return v;
}

/* Long-only options have values past any letter the selectors use. */
enum {
	O_ARCH_JOBS = 1000,
	O_NO_KEEP_GOING,
	O_TIMEOUT,
	O_RETRIES,
	O_TEST,
	O_RUNNER,
	O_CONTAINER_RUNNER,
	O_SIGNING_KEY,
	O_EVENTS,
	O_REPORT,
	O_JUNIT,
	O_RUNNER_ARG,
	O_APKO_ARG,
	O_KEYRING,
	O_PUSH,
	O_REPORT_HTML,
	O_NO_CACHE,
	O_EXECUTOR,
};

static void build_opt(struct rpl_cli *cli, int opt, const char *arg, void *ctx)
{
	struct bopts *o = ctx;

	switch (opt) {
	case 'j':
		o->jobs = number("-j", arg, 1);
		break;
	case O_ARCH_JOBS:
		o->arch_jobs = number("--arch-jobs", arg, 1);
		break;
	case 'k':
		o->keep_going = 1;
		break;
	case O_NO_KEEP_GOING:
		o->keep_going = 0;
		break;
	case O_TIMEOUT:
		o->timeout = (double)number("--timeout", arg, 1);
		break;
	case O_RETRIES:
		o->retries = number("--retries", arg, 0);
		break;
	case 'n':
		o->dry_run = 1;
		break;
	case O_TEST:
		o->test = 1;
		break;
	case 'v':
		o->verbose = 1;
		break;
	case O_RUNNER:
		o->runner = arg;
		break;
	case O_CONTAINER_RUNNER:
		o->container_runner = arg;
		break;
	case O_SIGNING_KEY:
		o->signing_key = arg;
		break;
	case O_EVENTS:
		o->events = arg;
		break;
	case O_REPORT:
		o->report = arg;
		break;
	case O_JUNIT:
		o->junit = arg;
		break;
	case O_RUNNER_ARG:
		push_arg(&o->runner_args, &o->nrunner_args, arg);
		break;
	case O_APKO_ARG:
		push_arg(&o->apko_args, &o->napko_args, arg);
		break;
	case 'r':
		push_arg(&o->repos, &o->nrepos, arg);
		break;
	case O_KEYRING:
		push_arg(&o->keyrings, &o->nkeyrings, arg);
		break;
	case O_PUSH:
		o->push = arg;
		break;
	case O_REPORT_HTML:
		o->report_html = arg;
		break;
	case O_NO_CACHE:
		o->no_cache = 1;
		break;
	case O_EXECUTOR:
		o->executor = arg;
		break;
	default:
		rpl_selector_opt(cli, opt, arg, &o->sel);
	}
}

static const struct option build_only[] = {
	{ "jobs", required_argument, NULL, 'j' },
	{ "arch-jobs", required_argument, NULL, O_ARCH_JOBS },
	{ "keep-going", no_argument, NULL, 'k' },
	{ "no-keep-going", no_argument, NULL, O_NO_KEEP_GOING },
	{ "timeout", required_argument, NULL, O_TIMEOUT },
	{ "retries", required_argument, NULL, O_RETRIES },
	{ "dry-run", no_argument, NULL, 'n' },
	{ "test", no_argument, NULL, O_TEST },
	{ "verbose", no_argument, NULL, 'v' },
	{ "runner", required_argument, NULL, O_RUNNER },
	{ "container-runner", required_argument, NULL, O_CONTAINER_RUNNER },
	{ "signing-key", required_argument, NULL, O_SIGNING_KEY },
	{ "events", required_argument, NULL, O_EVENTS },
	{ "report", required_argument, NULL, O_REPORT },
	{ "junit", required_argument, NULL, O_JUNIT },
	{ "runner-arg", required_argument, NULL, O_RUNNER_ARG },
	{ "apko-arg", required_argument, NULL, O_APKO_ARG },
	{ "repository-append", required_argument, NULL, 'r' },
	{ "keyring-append", required_argument, NULL, O_KEYRING },
	{ "push", required_argument, NULL, O_PUSH },
	{ "report-html", required_argument, NULL, O_REPORT_HTML },
	{ "no-cache", no_argument, NULL, O_NO_CACHE },
	{ "executor", required_argument, NULL, O_EXECUTOR },
};

static const char build_usage[] =
        "usage: ripple build [NAME...|--all|--changed|--since REF] [options]\n"
        "\n"
        "Builds what the plan selects (see `ripple plan`: the same jobs, for the same\n"
        "reasons), dependencies first, and records each job.  Without selectors, or\n"
        "with --all: every job whose inputs changed since its last successful build,\n"
        "so a run that failed or was interrupted (even one with --force) is finished\n"
        "by running it again.  NAMEs, --changed and --since skip jobs already built\n"
        "from the same inputs unless --force.\n"
        "\n"
        "  -j, --jobs N            jobs at once (default: the number of CPUs)\n"
        "  --arch-jobs N           jobs at once per architecture\n"
        "  -k, --keep-going        go on after a failure with what does not depend on it\n"
        "                          (the default with --all); --no-keep-going stops\n"
        "                          starting jobs after the first failure\n"
        "  --timeout SECS          per job (default: the package's `timeout`, else none)\n"
        "  --retries N             start a job again when its runner crashed (default 0)\n"
        "  -n, --dry-run           print what would run, and do nothing\n"
        "  --test                  run each package's test pipeline after it builds (melange\n"
        "                          test, or the native builder's own run of it)\n"
        "  --runner R              external: melange and apko on PATH; native: packages\n"
        "                          and images built by ripple itself (ripple native-build,\n"
        "                          native-image); auto (default): melange and apko when\n"
        "                          on PATH, else native\n"
        "  --executor E            where jobs run: local (default), or slurm: each job as a\n"
        "                          Slurm job through srun (-j defaults to the partitions'\n"
        "                          CPUs; .ripple.yaml `executor:`, `slurm:`; see\n"
        "                          docs/distributed.md)\n"
        "  --container-runner R    melange's own --runner (bubblewrap, docker, qemu)\n"
        "  --signing-key KEY       sign the packages and packages/<arch>/APKINDEX.tar.gz\n"
        "  -r, --repository-append R   and --keyring-append K: more for melange and apko\n"
        "  --runner-arg ARG        one more argument for every melange command (repeatable);\n"
        "                          --apko-arg ARG the same for apko (these three are an\n"
        "                          error with --runner native)\n"
        "  --events FILE           JSON lines: plan, start, finish, skip, fail, end\n"
        "  --report FILE           a JSON report of the run; --junit FILE the same as JUnit XML\n"
        "  --report-html FILE      the run's report as one HTML page (see ripple report)\n"
        "  -v, --verbose           a line for each skipped job (else they are summed up\n"
        "                          by the failure they waited on, at the end)\n"
        "  --push REGISTRY[/PATH]  push each image built to REGISTRY[/PATH]/<name>:latest\n"
        "                          (images assembled by ripple; see ripple push)\n"
        "  --no-cache              neither fetch from nor store into the artifact cache\n"
        "                          (.ripple/cache, and .ripple.yaml's `cache:` registry);\n"
        "                          --force and --test build, and store what they build\n"
        "\n"
        "Outputs: packages/<arch>/*.apk and APKINDEX.tar.gz; images/<name>/<arch>.tar from\n"
        "apko, or the OCI layout images/<name>/ (with <arch>.manifest) from ripple;\n"
        "logs in .ripple/logs/<run>/<arch>/<name>.log.  Exit status: 0 every job built,\n"
        "1 a job failed (the rest went on as far as it could), 2 bad input, 75\n"
        "--no-wait and another ripple holds the state, 130 interrupted (run again to\n"
        "finish).  `ripple status` in another terminal shows the build as it runs.\n"
        "\n";

/* ---- the run ---------------------------------------------------------------------------- */

struct bjob {
	struct rpl_job *plan;
	struct rpl_sched_job *sj;
	char **outputs;
	size_t noutputs;
	char *file, *source_dir, *log;
	char *cached;          /* fetched from the artifact cache: where ("local", REGISTRY/REPO) */
	double cached_seconds; /* ... and how long its build took there (0: not known) */
	int unindexed;         /* ran, and its apks (if it wrote any) were not indexed */
};

struct build {
	struct bopts *o;
	struct rpl_state *st;
	struct rpl_scan *scan;
	struct rpl_plan *p;
	struct rpl_sched *sched;
	struct rpl_signer signer;
	int have_signer;
	int64_t run;
	struct bjob *jobs;
	size_t njobs, done, up_to_date, cached;
	struct rpl_cache *cache; /* NULL: --no-cache */
	FILE *events;
	int tty;                     /* a smart terminal: a status line, no "start" lines */
	struct rpl_status_line line; /* orchestrator/status_line.h */
	struct rpl_progress_pub pub; /* what `ripple status` reads */
	int native_image;            /* images assembled by ripple: their outputs differ */
	int64_t started_ns;
	/* The output repositories, one per arch dir, kept in memory for the run
	 * and written when a job is about to need them or a second has passed. */
	struct out_index {
		char *dir;
		struct rpl_repo_index *ix;
		int64_t flushed_ns;
		struct bjob **pending; /* merged, to be recorded once written */
		size_t npending, pending_alloc;
		int checking; /* by this check */
		int compared; /* by the last check, whole (rpl_repo_check) */
	} * indexes;
	size_t nindexes;
	char root[PATH_MAX]; /* the monorepo, absolute: the tag of this run's processes */
	size_t rebuilt;      /* job records the check found untrue */
};

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static double secs(int64_t a, int64_t b)
{
	return b > a ? (double)(b - a) / 1e9 : 0;
}

static void fmt_secs(double s, char *buf, size_t n)
{
	if (s < 60)
		snprintf(buf, n, "%.1fs", s);
	else if (s < 3600)
		snprintf(buf, n, "%dm%02ds", (int)s / 60, (int)s % 60);
	else
		snprintf(buf, n, "%dh%02dm", (int)s / 3600, (int)s % 3600 / 60);
}

static struct bjob *bjob_of(struct build *b, const struct rpl_sched_job *sj)
{
	return sj->user;
}

static void event(struct build *b, json_t *e)
{
	char *line;

	if (b->events) {
		json_object_set_new(e, "time", json_real((double)now_ns() / 1e9));
		line = json_dumps(e, JSON_COMPACT);
		fprintf(b->events, "%s\n", line);
		fflush(b->events);
		free(line);
	}
	json_decref(e);
}

static json_t *job_json(const struct bjob *j)
{
	return json_pack("{s:s,s:s,s:s}", "name", j->plan->node->name, "kind", j->plan->kind,
	                 "arch", j->plan->arch);
}

/* The status line of a terminal: what runs, for how long. */
/* "foo" for a package job, "image foo" for an image job: in the lines people read. */
static const char *kind_prefix(const struct rpl_sched_job *sj)
{
	return sj->run.kind && !strcmp(sj->run.kind, "image") ? "image " : "";
}

static void clear_status(struct build *b)
{
	rpl_status_line_clear(&b->line);
}

/*
 * After any change: the status line ("[done/total elapsed ETA failed] N
 * running: what, for how long") and the file `ripple status` reads.
 */
static void show_status(struct build *b)
{
	struct rpl_sched_job *const *jobs;
	struct rpl_progress_counts c;
	struct rpl_strbuf head = RPL_STRBUF_INIT;
	char **items, t[32];
	size_t njobs, n = 0;
	int64_t now = now_ns();
	double eta;

	if (!b->sched || !b->run)
		return;
	jobs = rpl_sched_jobs(b->sched, &njobs);
	if (b->pub.run && rpl_progress_publish(&b->pub, jobs, njobs, "running", 0, now))
		rpl_warn("%s", rpl_errmsg());
	if (!b->tty)
		return;
	rpl_progress_count(jobs, njobs, &c);
	fmt_secs(secs(b->started_ns, now), t, sizeof(t));
	rpl_strbuf_addf(&head, "[%zu/%zu %s", b->done, b->njobs, t);
	if ((eta = rpl_progress_eta(jobs, njobs, b->pub.lanes, now)) >= 0) {
		fmt_secs(eta, t, sizeof(t));
		rpl_strbuf_addf(&head, " ETA %s", t);
	}
	if (c.failed)
		rpl_strbuf_addf(&head, " %zu failed", c.failed);
	rpl_strbuf_addf(&head, "] %zu running%s", c.running, c.running ? ":" : "");
	items = rpl_xmalloc((c.running ? c.running : 1) * sizeof(*items));
	for (size_t i = 0; i < njobs && n < c.running; i++) {
		const struct rpl_sched_job *sj = jobs[i];
		struct rpl_strbuf it = RPL_STRBUF_INIT;
		if (sj->state != RPL_SCHED_RUNNING)
			continue;
		fmt_secs(secs(sj->started_ns, now), t, sizeof(t));
		rpl_strbuf_addf(&it, "%s%s %s %s", kind_prefix(sj), sj->run.name, sj->run.arch, t);
		items[n++] = rpl_strbuf_detach(&it);
	}
	rpl_status_line_show(&b->line, rpl_strbuf_str(&head), items, n);
	for (size_t i = 0; i < n; i++)
		free(items[i]);
	free(items);
	rpl_strbuf_release(&head);
}

/* Prints a line above the status line. */
static void say(struct build *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void say(struct build *b, const char *fmt, ...)
{
	va_list ap;

	clear_status(b);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	show_status(b);
	fflush(stdout);
}

/* The last lines of a log, indented, after a failure. */
static void log_tail(struct build *b, const char *path, size_t lines)
{
	char *text;
	size_t len, n = 0;
	const char *p;

	if (rpl_read_file(path, &text, &len))
		return;
	p = text + len;
	while (p > text && n <= lines)
		if (*--p == '\n' && p + 1 < text + len)
			n++;
	if (*p == '\n')
		p++;
	clear_status(b);
	printf("  --- %s (last %zu lines)\n", path, lines);
	for (const char *l = p; *l;) {
		size_t k = strcspn(l, "\n");
		printf("  | %.*s\n", (int)k, l);
		l += k + (l[k] == '\n');
	}
	free(text);
}

static void record_run_job(struct build *b, const struct bjob *j, const char *status)
{
	const struct rpl_sched_job *sj = j->sj;
	struct rpl_run_job_record r = {
		j->plan->node->name,
		j->plan->kind,
		j->plan->arch,
		status,
		sj->started_ns,
		secs(sj->started_ns, sj->finished_ns),
		sj->started_ns ? j->log : NULL,
		sj->message,
	};

	if (!b->o->dry_run && rpl_state_run_job_put(b->st, b->run, &r))
		rpl_warn("%s", rpl_errmsg());
}

static void know_row(void *ctx, const char *name, const struct rpl_repo_seen *s)
{
	rpl_repo_know(ctx, name, s);
}

struct seen_put {
	struct build *b;
	const char *dir;
	int err;
};

static void put_row(void *ctx, const char *name, const struct rpl_repo_seen *s)
{
	struct seen_put *p = ctx;

	if (!p->err)
		p->err = rpl_state_repo_put(p->b->st, p->dir, name, s);
}

/* Stores what the index saw of its files since the last time (in the caller's transaction). */
static int store_seen(struct build *b, struct out_index *x)
{
	struct seen_put p = { b, x->dir, 0 };

	rpl_repo_seen_changes(x->ix, put_row, &p);
	return p.err;
}

/* The output repository of `dir`, opened on first use. */
static int out_index(struct build *b, const char *dir, struct out_index **out)
{
	struct out_index *x;
	int err;

	for (size_t i = 0; i < b->nindexes; i++)
		if (!strcmp(b->indexes[i].dir, dir)) {
			*out = &b->indexes[i];
			return 0;
		}
	b->indexes = rpl_xrealloc(b->indexes, (b->nindexes + 1) * sizeof(*b->indexes));
	x = &b->indexes[b->nindexes];
	memset(x, 0, sizeof(*x));
	/* What was seen of its files when it was last written or checked. */
	if ((err = rpl_repo_open_lazy(&x->ix, dir)) ||
	    (err = rpl_state_repo_each(b->st, dir, know_row, x->ix))) {
		rpl_repo_close(x->ix);
		return err;
	}
	x->dir = rpl_xstrdup(dir);
	x->flushed_ns = now_ns();
	b->nindexes++;
	*out = x;
	return 0;
}

/*
 * Records a job as built: its outputs' digests and what it was built
 * against.  `in_tx`: the caller holds a transaction (a batch of records).
 */
static int record_ok(struct build *b, struct bjob *j, int in_tx)
{
	uint8_t(*digests)[RPL_SHA256_LEN] =
	        rpl_xcalloc(j->noutputs ? j->noutputs : 1, RPL_SHA256_LEN);
	struct rpl_job_record rec;
	int err = 0;

	for (size_t i = 0; i < j->noutputs && !err; i++) {
		char *text;
		size_t len;
		if (!(err = rpl_read_file(j->outputs[i], &text, &len))) {
			rpl_sha256(text, len, digests[i]);
			free(text);
		}
	}
	if (!err) {
		memset(&rec, 0, sizeof(rec));
		memcpy(rec.own_hash, j->plan->own, RPL_SHA256_LEN);
		/* What it was built against, not what the plan hoped for. */
		err = rpl_plan_built_input(b->p, j->plan, b->st, rec.input_hash);
	}
	if (!err) {
		snprintf(rec.status, sizeof(rec.status), "ok");
		rec.duration = secs(j->sj->started_ns, j->sj->finished_ns);
		/* Fetched: what its build took is what a later build will take. */
		if (j->cached && j->cached_seconds > 0)
			rec.duration = j->cached_seconds;
		rec.finished_ns = j->sj->finished_ns;
		rec.paths = j->plan->inputs;
		rec.digests = j->plan->digests;
		rec.ninputs = j->plan->ninputs;
		rec.log = j->log;
		rec.cache = j->cached;
		rec.outputs = j->outputs;
		rec.output_digests = (const uint8_t(*)[RPL_SHA256_LEN])digests;
		rec.noutputs = j->noutputs;
		if (in_tx) {
			err = rpl_state_job_put(b->st, j->plan->node->name, j->plan->kind,
			                        j->plan->arch, &rec);
		} else if (!(err = rpl_state_begin(b->st))) {
			err = rpl_state_job_put(b->st, j->plan->node->name, j->plan->kind,
			                        j->plan->arch, &rec);
			if (err)
				rpl_state_commit(b->st);
			else
				err = rpl_state_commit(b->st);
		}
	}
	free(digests);
	return err;
}

/*
 * Writes an index and then records the packages it was waiting to show: a
 * package is recorded as built only once the index on disk lists it, so a
 * run killed in between builds it again rather than leave it out of the
 * index for good.
 */
static int flush_index(struct build *b, struct out_index *x)
{
	int err = rpl_repo_flush(x->ix, b->have_signer ? &b->signer : NULL);

	x->flushed_ns = now_ns();
	if (err)
		return err;
	/* One transaction for the batch: thousands of leaf packages at once,
	 * with what the index now says of their files. */
	if ((err = rpl_state_begin(b->st))) {
		rpl_warn("%s", rpl_errmsg());
		x->npending = 0;
		return err;
	}
	if (store_seen(b, x)) {
		rpl_warn("%s", rpl_errmsg());
		err = -1;
	}
	for (size_t i = 0; i < x->npending; i++) {
		/* A record that cannot be written: the run fails (and the job is
		 * built again next time). */
		if (record_ok(b, x->pending[i], 1)) {
			rpl_warn("%s", rpl_errmsg());
			err = -1;
		}
	}
	if (rpl_state_commit(b->st)) {
		rpl_warn("%s", rpl_errmsg());
		err = -1;
	}
	x->npending = 0;
	return err;
}

/*
 * Writes the indexes that changed: all of them (`all`), or those last
 * written a second ago or more.  An index is also written at once when a
 * package that other jobs wait for is added (built()).
 */
static int flush_indexes(struct build *b, int all)
{
	int64_t now = now_ns();
	int err = 0;

	for (size_t i = 0; i < b->nindexes; i++) {
		struct out_index *x = &b->indexes[i];
		if (!rpl_repo_dirty(x->ix) || (!all && now - x->flushed_ns < 1000000000))
			continue;
		if (flush_index(b, x)) {
			rpl_warn("%s (packages not recorded as built are built again next time)",
			         rpl_errmsg());
			err = -1;
		}
	}
	return err;
}

/* ---- the output repositories against their records -------------------------------------- */

/* The sha256 of the file at `path`, read in pieces (an apk may be large). */
static int file_sha256(const char *path, uint8_t out[RPL_SHA256_LEN])
{
	struct rpl_sha256 h;
	char buf[65536];
	int fd = open(path, O_RDONLY | O_CLOEXEC), err = 0;

	if (fd < 0)
		return -errno;
	rpl_sha256_init(&h);
	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			err = n < 0 ? -errno : 0;
			break;
		}
		rpl_sha256_update(&h, buf, (size_t)n);
	}
	rpl_sha256_final(&h, out);
	close(fd);
	return err;
}

/*
 * A job recorded as built whose files are not what it built is built
 * again: "last build interrupted".  Its inputs stay recorded, for the
 * reasons of later plans.
 */
static void not_built(struct build *b, const struct rpl_job_id *id, const char *path,
                      const char *why)
{
	if (rpl_state_job_set_status(b->st, id->name, id->kind, id->arch, "interrupted")) {
		rpl_warn("%s", rpl_errmsg());
		return;
	}
	b->rebuilt++;
	printf("%s: %s: %s %s is built again\n", path, why, id->name, id->arch);
}

struct fix_ctx {
	struct build *b;
	const char *dir;
};

/*
 * rpl_repo_check found the apk `name` not as recorded.  The index now
 * describes the file; the record of the job that built it is true only if
 * the file is still the one that build produced (the same sha256: the
 * index alone was behind, or ahead of the record).  Otherwise the file
 * came from a build that never finished its bookkeeping (killed after the
 * apk was renamed into place, before its index or its record was written),
 * built from inputs nobody can tell now: its job is built again.
 */
static void on_fix(void *ctx, const char *name, const char *what, int mended)
{
	struct fix_ctx *f = ctx;
	struct rpl_job_id id;
	uint8_t want[RPL_SHA256_LEN], got[RPL_SHA256_LEN];
	char *path = rpl_path_join(f->dir, name);
	int owner = rpl_state_output_owner(f->b->st, path, &id, want), err;

	if (owner < 0)
		rpl_warn("%s", rpl_errmsg());
	if (owner == 1) {
		err = file_sha256(path, got);
		if (err || memcmp(got, want, RPL_SHA256_LEN))
			not_built(f->b, &id, path, what);
		else if (mended)
			printf("%s: %s: indexed as it is (what the last build of %s %s made)\n",
			       path, what, id.name, id.arch);
		rpl_job_id_release(&id);
	} else if (mended) {
		printf("%s: %s: the index is mended\n", path, what);
	}
	free(path);
}

struct unlisted {
	struct build *b;
	struct unlisted_one {
		struct rpl_job_id id;
		char *path;
	} * v;
	size_t n, alloc;
};

/* A package job's output in a directory compared whole, and not listed by its index. */
static void collect_unlisted(void *ctx, const struct rpl_job_id *id, const char *path)
{
	struct unlisted *u = ctx;
	const char *name = strrchr(path, '/');

	for (size_t i = 0; name && i < u->b->nindexes; i++) {
		const struct out_index *x = &u->b->indexes[i];
		size_t dl = strlen(x->dir);
		struct unlisted_one *o;
		if (!x->compared || strncmp(path, x->dir, dl) || path + dl != name ||
		    rpl_repo_lists(x->ix, name + 1))
			continue;
		RPL_ALLOC_GROW(u->v, u->n + 1, u->alloc);
		o = &u->v[u->n++];
		o->id.name = rpl_xstrdup(id->name);
		o->id.kind = rpl_xstrdup(id->kind);
		o->id.arch = rpl_xstrdup(id->arch);
		o->path = rpl_xstrdup(path);
	}
}

static void add_dir(void *ctx, const char *dir)
{
	struct build *b = ctx;
	struct out_index *x;

	if (out_index(b, dir, &x))
		rpl_warn("%s", rpl_errmsg());
}

/*
 * Makes every output repository, `packages/<arch>/`, describe exactly its
 * apks, and the job records agree with them (docs/build.md, "Killed
 * outright"): a record whose apk is gone, or is not the file its build
 * wrote, is set so that the plan builds the job again.  Before a run, as
 * the last one may have been killed anywhere; after it (`after_run`), in
 * the directories where a package job failed or was stopped, as it may
 * have left a new apk unindexed.  Unchanged directories cost a stat of
 * each file.  Indexes to write are written by flush_indexes.  Returns 1
 * when anything was not as recorded (an index to write, a record
 * changed), 0 when all was, -1 on an error (warned).
 */
static int check_repos(struct build *b, int after_run)
{
	struct unlisted u = { b, NULL, 0, 0 };
	size_t rebuilt = b->rebuilt;
	int err = 0, changed = 0;
	DIR *d;

	/* After a run, only where a job wrote apks that it did not index. */
	if (after_run) {
		for (size_t i = 0; i < b->nindexes; i++)
			b->indexes[i].checking = 0;
		for (size_t i = 0; i < b->njobs; i++) {
			struct out_index *x;
			char *dir;
			if (!b->jobs[i].unindexed || !b->jobs[i].noutputs)
				continue;
			dir = rpl_path_dirname(b->jobs[i].outputs[0]);
			if (out_index(b, dir, &x))
				rpl_warn("%s", rpl_errmsg());
			else
				x->checking = 1;
			free(dir);
		}
		for (size_t i = 0; i < b->nindexes; i++)
			if (b->indexes[i].checking)
				goto check;
		return 0;
	}
	/* The arch dirs there are, and those where files were seen before. */
	if ((d = opendir("packages"))) {
		struct dirent *de;
		while ((de = readdir(d))) {
			struct stat sb;
			char *dir = rpl_path_join("packages", de->d_name);
			if (de->d_name[0] != '.' && stat(dir, &sb) == 0 && S_ISDIR(sb.st_mode))
				add_dir(b, dir);
			free(dir);
		}
		closedir(d);
	}
	if (rpl_state_repo_dirs(b->st, add_dir, b))
		rpl_warn("%s", rpl_errmsg());
	for (size_t i = 0; i < b->nindexes; i++)
		b->indexes[i].checking = 1;
check:
	if (rpl_state_begin(b->st)) {
		rpl_warn("%s", rpl_errmsg());
		return -1;
	}
	for (size_t i = 0; i < b->nindexes; i++) {
		struct out_index *x = &b->indexes[i];
		struct fix_ctx f = { b, x->dir };
		int r;
		x->compared = 0;
		if (!x->checking)
			continue;
		r = rpl_repo_check(x->ix, on_fix, &f);
		if (r < 0) {
			rpl_warn("%s", rpl_errmsg());
			err = -1;
		}
		x->compared = r == 1;
	}
	/* Jobs recorded as built whose apks no index lists (both gone, say):
	 * where the index was compared whole (elsewhere nothing changed). */
	for (size_t i = 0; i < b->nindexes; i++)
		if (b->indexes[i].compared) {
			if (rpl_state_outputs_each(b->st, "package", collect_unlisted, &u)) {
				rpl_warn("%s", rpl_errmsg());
				err = -1;
			}
			break;
		}
	for (size_t i = 0; i < u.n; i++) {
		not_built(b, &u.v[i].id, u.v[i].path, "not in the repository");
		rpl_job_id_release(&u.v[i].id);
		free(u.v[i].path);
	}
	free(u.v);
	/* What an index that stays as it is saw is kept now; the others' when written. */
	for (size_t i = 0; i < b->nindexes; i++) {
		struct out_index *x = &b->indexes[i];
		if (rpl_repo_dirty(x->ix))
			changed = 1;
		else if (store_seen(b, x)) {
			rpl_warn("%s", rpl_errmsg());
			err = -1;
		}
	}
	if (rpl_state_commit(b->st)) {
		rpl_warn("%s", rpl_errmsg());
		err = -1;
	}
	fflush(stdout);
	return err ? err : changed || b->rebuilt > rebuilt;
}

/*
 * What the last run, if it was killed outright, left behind: its jobs, if
 * they outlived it, are killed (nothing would record what they build; the
 * next run builds it again, and they would race its own jobs for the same
 * files), then the temporary files of dead writers are removed
 * (orchestrator/leftover.h).  Returns 1 when something was removed or
 * stopped, else 0.
 */
static int leftovers(struct build *b, const int64_t *killed, size_t nkilled)
{
	size_t stopped = 0, removed = 0;

	if (nkilled && rpl_leftover_stop(b->root, 10, &stopped))
		rpl_warn("%s", rpl_errmsg());
	if (stopped)
		printf("stopped %zu process%s left running by run %lld, which was killed\n",
		       stopped, stopped == 1 ? "" : "es", (long long)killed[nkilled - 1]);
	if (rpl_leftover_sweep(b->root, &removed))
		rpl_warn("%s", rpl_errmsg());
	if (removed)
		printf("removed %zu temporary file%s left by killed processes\n", removed,
		       removed == 1 ? "" : "s");
	return stopped || removed;
}

/*
 * A job's outputs are in place: a package's go into its arch's index, and
 * it is recorded as built when the index is written; other jobs at once.
 */
static int built(struct build *b, struct bjob *j)
{
	struct out_index *x;
	char *dir;
	int err;

	if (strcmp(j->plan->kind, "package") || !j->noutputs)
		return record_ok(b, j, 0);
	dir = rpl_path_dirname(j->outputs[0]);
	err = out_index(b, dir, &x);
	free(dir);
	if (err || (err = rpl_repo_merge(x->ix, j->outputs, j->noutputs)))
		return err;
	RPL_ALLOC_GROW(x->pending, x->npending + 1, x->pending_alloc);
	x->pending[x->npending++] = j;
	/* Jobs waiting for this one read the index: it is written now. */
	if ((j->sj->nrdeps || now_ns() - x->flushed_ns >= 1000000000) &&
	    (err = flush_index(b, x)) && x->npending && x->pending[x->npending - 1] == j)
		x->npending--; /* this job fails: it must not be recorded by a later write */
	return err;
}

/* A failed job is recorded as such: the next plan says "last build failed". */
static void record_failure(struct build *b, struct bjob *j, const char *status)
{
	struct rpl_job_record rec;

	memset(&rec, 0, sizeof(rec));
	memcpy(rec.own_hash, j->plan->own, RPL_SHA256_LEN);
	memcpy(rec.input_hash, j->plan->input, RPL_SHA256_LEN);
	snprintf(rec.status, sizeof(rec.status), "%s", status);
	rec.duration = secs(j->sj->started_ns, j->sj->finished_ns);
	rec.log = j->log;
	if (rpl_state_job_put(b->st, j->plan->node->name, j->plan->kind, j->plan->arch, &rec))
		rpl_warn("%s", rpl_errmsg());
}

static void on_started(void *ctx, struct rpl_sched_job *sj)
{
	struct build *b = ctx;
	json_t *e = job_json(bjob_of(b, sj));

	json_object_set_new(e, "event", json_string("start"));
	json_object_set_new(e, "attempt", json_integer(sj->attempts));
	json_object_set_new(e, "log", json_string(bjob_of(b, sj)->log));
	event(b, e);
	if (!b->tty)
		say(b, "start %s%s %s", kind_prefix(sj), sj->run.name, sj->run.arch);
	show_status(b);
}

static int on_finished(void *ctx, struct rpl_sched_job *sj)
{
	struct build *b = ctx;
	struct bjob *j = bjob_of(b, sj);
	double took = secs(sj->started_ns, sj->finished_ns);
	int bad = 0;
	char t[32];
	json_t *e;

	if (sj->state == RPL_SCHED_READY) { /* a crashed runner, to be retried */
		say(b, "retry %s%s %s: %s", kind_prefix(sj), sj->run.name, sj->run.arch,
		    sj->message);
		e = job_json(j);
		json_object_set_new(e, "event", json_string("retry"));
		json_object_set_new(e, "message", json_string(sj->message ? sj->message : ""));
		event(b, e);
		return 0;
	}
	if (sj->state == RPL_SCHED_OK && built(b, j)) {
		free(sj->message);
		sj->message = rpl_xstrdup(rpl_errmsg());
		bad = 1;
	}
	j->unindexed = (sj->state != RPL_SCHED_OK || bad) && !strcmp(j->plan->kind, "package");
	b->done++;
	fmt_secs(took, t, sizeof(t));
	e = job_json(j);
	json_object_set_new(e, "seconds", json_real(took));
	json_object_set_new(e, "log", json_string(j->log));
	if (sj->state == RPL_SCHED_OK && !bad && j->cached) {
		json_object_set_new(e, "event", json_string("finish"));
		json_object_set_new(e, "status", json_string("ok"));
		json_object_set_new(e, "cache", json_string(j->cached));
		b->cached++;
		record_run_job(b, j, "ok");
		say(b, "[%zu/%zu] from cache %s%s %s (%s)", b->done, b->njobs, kind_prefix(sj),
		    sj->run.name, sj->run.arch, j->cached);
	} else if (sj->state == RPL_SCHED_OK && !bad) {
		json_object_set_new(e, "event", json_string("finish"));
		json_object_set_new(e, "status", json_string("ok"));
		record_run_job(b, j, "ok");
		say(b, "[%zu/%zu] ok %s%s %s (%s)", b->done, b->njobs, kind_prefix(sj),
		    sj->run.name, sj->run.arch, t);
	} else {
		const char *status = sj->state == RPL_SCHED_CANCELLED ? "cancelled"
		                     : sj->status == RPL_RUN_TIMEOUT  ? "timeout"
		                                                      : "failed";
		json_object_set_new(
		        e, "event",
		        json_string(sj->state == RPL_SCHED_CANCELLED ? "cancel" : "fail"));
		json_object_set_new(e, "status", json_string(status));
		json_object_set_new(e, "message", json_string(sj->message ? sj->message : ""));
		record_run_job(b, j, status);
		if (sj->state != RPL_SCHED_CANCELLED) {
			record_failure(b, j, status);
			say(b, "[%zu/%zu] FAILED %s%s %s (%s): %s", b->done, b->njobs,
			    kind_prefix(sj), sj->run.name, sj->run.arch, t,
			    sj->message ? sj->message : "failed");
			log_tail(b, j->log, 20);
		} else {
			say(b, "[%zu/%zu] cancelled %s%s %s (%s)", b->done, b->njobs,
			    kind_prefix(sj), sj->run.name, sj->run.arch, t);
		}
	}
	event(b, e);
	return bad;
}

static void on_skipped(void *ctx, struct rpl_sched_job *sj)
{
	struct build *b = ctx;
	struct bjob *j = bjob_of(b, sj);
	json_t *e = job_json(j);

	b->done++;
	json_object_set_new(e, "event", json_string("skip"));
	json_object_set_new(e, "message", json_string(sj->message));
	event(b, e);
	record_run_job(b, j, "skipped");
	/* Thousands of them are summed up at the end, unless -v. */
	if (b->o->verbose)
		say(b, "[%zu/%zu] skipped %s%s %s: %s", b->done, b->njobs, kind_prefix(sj),
		    sj->run.name, sj->run.arch, sj->message);
	else
		show_status(b);
}

static void on_tick(void *ctx)
{
	flush_indexes(ctx, 0);
	show_status(ctx);
}

/* ---- setting the jobs up ---------------------------------------------------------------- */

static char **outputs_of(const struct rpl_job *pj, int native_image, size_t *n)
{
	const struct rpl_scan_entry *e = pj->node->entry;
	char **v;
	size_t k = 0;

	if (pj->node->kind == RPL_NODE_IMAGE) {
		/* apko's tarball, or the native assembler's manifest digest. */
		v = rpl_xmalloc(sizeof(*v));
		v[0] = rpl_xmalloc(strlen(pj->node->name) + strlen(pj->arch) + 32);
		sprintf(v[0], "images/%s/%s.%s", pj->node->name, pj->arch,
		        native_image ? "manifest" : "tar");
		*n = 1;
		return v;
	}
	{
		const struct rpl_compiled *c = rpl_scan_compiled(e, pj->arch);
		size_t nsubs = c ? c->nsubs : 0;
		v = rpl_xmalloc((nsubs + 1) * sizeof(*v));
		for (size_t i = 0; i <= nsubs; i++) {
			const char *name = i ? c->subs[i - 1].name : pj->node->name;
			struct rpl_strbuf p = RPL_STRBUF_INIT;
			if (i && !c->subs[i - 1].enabled)
				continue;
			rpl_strbuf_addf(&p, "packages/%s/%s-%s.apk", pj->arch, name,
			                pj->node->version);
			v[k++] = rpl_strbuf_detach(&p);
		}
	}
	*n = k;
	return v;
}

/* Seconds a job is expected to take: its last build, else a guess from the recipe's size. */
static double estimate(struct build *b, const struct rpl_job *pj)
{
	struct rpl_job_record rec;
	struct stat sb;
	double est = pj->node->kind == RPL_NODE_IMAGE ? 10 : 30;

	if (rpl_state_job_get(b->st, pj->node->name, pj->kind, pj->arch, &rec) == 1) {
		if (rec.duration > 0)
			est = rec.duration;
		rpl_job_record_release(&rec);
		if (est != 30 && est != 10)
			return est;
	}
	if (pj->node->entry && stat(pj->node->entry->file, &sb) == 0)
		est += (double)sb.st_size / 100; /* a 10 kB recipe: ~2 more minutes */
	return est;
}

/* The scheduler's jobs, and their dependencies (orchestrator/buildjobs.h). */
static void add_jobs(struct build *b, struct rpl_job **sel, size_t n)
{
	double timeout = b->o->timeout;

	b->jobs = rpl_xcalloc(n ? n : 1, sizeof(*b->jobs));
	for (size_t i = 0; i < n; i++) {
		struct rpl_job *pj = sel[i];
		struct bjob *j = &b->jobs[b->njobs++];
		struct rpl_sched_job *sj = rpl_sched_add(b->sched, pj->arch);
		const struct rpl_scan_entry *e = pj->node->entry;
		struct rpl_strbuf log = RPL_STRBUF_INIT;

		j->plan = pj;
		j->sj = sj;
		sj->user = j;
		j->outputs = outputs_of(pj, b->native_image, &j->noutputs);
		j->file = rpl_xstrdup(e->file);
		j->source_dir = rpl_scan_source_dir(e);
		rpl_strbuf_addf(&log, ".ripple/logs/%lld/%s/%s.log", (long long)b->run, pj->arch,
		                pj->node->name);
		if (pj->node->kind == RPL_NODE_IMAGE)
			rpl_strbuf_addstr(&log, ".image");
		j->log = rpl_strbuf_detach(&log);
		sj->run.kind = pj->kind;
		sj->run.name = pj->node->name;
		sj->run.file = j->file;
		sj->run.source_dir = j->source_dir;
		sj->run.outputs = j->outputs;
		sj->run.noutputs = j->noutputs;
		sj->run.log_path = j->log;
		for (size_t a = 0; a < b->scan->narchs; a++)
			if (!strcmp(b->scan->archs[a], pj->arch)) {
				sj->run.env_files = b->scan->env_files[a];
				sj->run.nenv_files = b->scan->nenv_files[a];
			}
		if (e->recipe) {
			sj->run.cpu = e->recipe->package.resources.cpu.s;
			sj->run.memory = e->recipe->package.resources.memory.s;
		}
		sj->run.timeout = timeout > 0 ? timeout
		                  : e->recipe ? (double)e->recipe->package.timeout_seconds
		                              : 0;
		sj->estimate = b->o->dry_run ? 0 : estimate(b, pj); /* a dry run orders nothing */
	}
	{
		struct rpl_sched_job **sjobs = rpl_xmalloc((n ? n : 1) * sizeof(*sjobs));
		struct rpl_buildjobs_opts bo = { "packages", b->o->repos, b->o->nrepos };
		for (size_t i = 0; i < n; i++)
			sjobs[i] = b->jobs[i].sj;
		rpl_buildjobs_deps(b->sched, b->p, sel, sjobs, n, &bo);
		free(sjobs);
	}
}

/* ---- reports ------------------------------------------------------------------------------ */

static json_t *report_json(struct build *b, const struct rpl_sched_result *res, const char *status)
{
	json_t *r = json_object(), *jobs = json_array(), *cp = json_array();
	struct rpl_sched_job **path;
	size_t npath;
	double pathsecs;

	for (size_t i = 0; i < b->njobs; i++) {
		const struct bjob *j = &b->jobs[i];
		const struct rpl_sched_job *sj = j->sj;
		json_t *x = job_json(j), *reasons = json_array();
		for (size_t k = 0; k < j->plan->nreasons; k++)
			json_array_append_new(reasons, json_string(j->plan->reasons[k]));
		json_object_set_new(x, "status", json_string(rpl_sched_state_name(sj->state)));
		json_object_set_new(x, "reasons", reasons);
		json_object_set_new(x, "seconds", json_real(secs(sj->started_ns, sj->finished_ns)));
		json_object_set_new(x, "attempts", json_integer(sj->attempts));
		if (sj->started_ns)
			json_object_set_new(x, "log", json_string(j->log));
		if (sj->message)
			json_object_set_new(x, "message", json_string(sj->message));
		if (j->cached)
			json_object_set_new(x, "cache", json_string(j->cached));
		json_array_append_new(jobs, x);
	}
	path = rpl_sched_critical_path(b->sched, &npath, &pathsecs);
	for (size_t i = 0; i < npath; i++)
		json_array_append_new(cp, job_json(bjob_of(b, path[i])));
	free(path);
	json_object_set_new(r, "run", json_integer(b->run));
	json_object_set_new(r, "status", json_string(status));
	json_object_set_new(r, "seconds", json_real(res->seconds));
	json_object_set_new(
	        r, "summary",
	        json_pack("{s:I,s:I,s:I,s:I,s:I,s:I}", "ok", (json_int_t)res->ok, "failed",
	                  (json_int_t)res->failed, "skipped", (json_int_t)res->skipped, "cancelled",
	                  (json_int_t)res->cancelled, "not_run", (json_int_t)res->not_run,
	                  "up_to_date", (json_int_t)b->up_to_date));
	json_object_set_new(r, "critical_path",
	                    json_pack("{s:f,s:o}", "seconds", pathsecs, "jobs", cp));
	json_object_set_new(r, "jobs", jobs);
	return r;
}

static void xml_escape(struct rpl_strbuf *out, const char *s)
{
	for (; s && *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '<')
			rpl_strbuf_addstr(out, "&lt;");
		else if (c == '>')
			rpl_strbuf_addstr(out, "&gt;");
		else if (c == '&')
			rpl_strbuf_addstr(out, "&amp;");
		else if (c == '"')
			rpl_strbuf_addstr(out, "&quot;");
		else if (c < 0x20 && c != '\n' && c != '\t')
			rpl_strbuf_addch(out, '?'); /* not allowed in XML 1.0 */
		else
			rpl_strbuf_addch(out, (char)c);
	}
}

static int write_junit(struct build *b, const struct rpl_sched_result *res, const char *path)
{
	struct rpl_strbuf x = RPL_STRBUF_INIT;
	int err;

	rpl_strbuf_addf(&x,
	                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	                "<testsuites>\n"
	                "  <testsuite name=\"ripple build\" tests=\"%zu\" failures=\"%zu\" "
	                "errors=\"0\" skipped=\"%zu\" time=\"%.3f\">\n",
	                b->njobs, res->failed, res->skipped + res->cancelled + res->not_run,
	                res->seconds);
	for (size_t i = 0; i < b->njobs; i++) {
		const struct bjob *j = &b->jobs[i];
		const struct rpl_sched_job *sj = j->sj;
		rpl_strbuf_addstr(&x, "    <testcase classname=\"");
		xml_escape(&x, j->plan->kind);
		rpl_strbuf_addch(&x, '.');
		xml_escape(&x, j->plan->arch);
		rpl_strbuf_addstr(&x, "\" name=\"");
		xml_escape(&x, j->plan->node->name);
		rpl_strbuf_addf(&x, "\" time=\"%.3f\"", secs(sj->started_ns, sj->finished_ns));
		if (sj->state == RPL_SCHED_OK) {
			rpl_strbuf_addstr(&x, "/>\n");
			continue;
		}
		rpl_strbuf_addstr(&x, ">\n");
		if (sj->state == RPL_SCHED_FAILED) {
			char *log = NULL;
			size_t len = 0;
			rpl_strbuf_addstr(&x, "      <failure message=\"");
			xml_escape(&x, sj->message ? sj->message : "failed");
			rpl_strbuf_addstr(&x, "\">");
			if (!rpl_read_file(j->log, &log, &len)) {
				xml_escape(&x, len > 8192 ? log + len - 8192 : log);
				free(log);
			}
			rpl_strbuf_addstr(&x, "</failure>\n");
		} else {
			rpl_strbuf_addstr(&x, "      <skipped message=\"");
			xml_escape(&x, sj->message ? sj->message : rpl_sched_state_name(sj->state));
			rpl_strbuf_addstr(&x, "\"/>\n");
		}
		rpl_strbuf_addstr(&x, "    </testcase>\n");
	}
	rpl_strbuf_addstr(&x, "  </testsuite>\n</testsuites>\n");
	err = rpl_write_file_atomic(path, x.buf, x.len);
	rpl_strbuf_release(&x);
	return err;
}

/* ---- the command ---------------------------------------------------------------------------- */

/* Whether `prog` runs from PATH (or is a path that can be run). */
static int on_path(const char *prog)
{
	const char *path = getenv("PATH");

	if (strchr(prog, '/'))
		return access(prog, X_OK) == 0;
	for (const char *p = path ? path : ""; *p;) {
		size_t n = strcspn(p, ":");
		struct rpl_strbuf f = RPL_STRBUF_INIT;
		int ok;
		rpl_strbuf_addf(&f, "%.*s/%s", (int)n, p, prog);
		ok = access(f.buf, X_OK) == 0;
		rpl_strbuf_release(&f);
		if (ok)
			return 1;
		p += n + (p[n] == ':');
	}
	return 0;
}

/* ---- the artifact cache ---------------------------------------------------------------- */

/*
 * A job's key in the artifact cache: the input hash it is built from now
 * (its dependencies as last built, docs/distributed.md#the-artifact-cache).  Jobs without outputs
 * stay out of it.
 */
static int cache_key(void *ctx, const struct rpl_run_job *job, uint8_t key[RPL_SHA256_LEN])
{
	struct build *b = ctx;
	/* The scheduler hands its jobs' `run`, the first member of each. */
	const struct rpl_sched_job *sj = (const struct rpl_sched_job *)job;
	struct bjob *j = sj->user;

	if (!j->noutputs)
		return 1;
	if (rpl_plan_built_input(b->p, j->plan, b->st, key)) {
		rpl_warn("%s (%s %s is built without the cache)", rpl_errmsg(), job->name,
		         job->arch);
		return 1;
	}
	return 0;
}

static void cache_hit(void *ctx, const struct rpl_run_job *job, const char *where, double seconds)
{
	struct bjob *j = ((const struct rpl_sched_job *)job)->user;

	(void)ctx;
	free(j->cached);
	j->cached = rpl_xstrdup(where);
	j->cached_seconds = seconds;
}

/*
 * The artifact cache: .ripple/cache, and .ripple.yaml's `cache:` registry.
 * It trusts the signing key's public half and `trusted-keys:`; it stores
 * (signed) only when there is a signing key.
 */
static struct rpl_cache *open_cache(struct build *b, const struct rpl_scan *scan)
{
	const struct rpl_repoconfig *cfg = &scan->config;
	struct rpl_cache_opts co;
	struct rpl_strbuf pub = RPL_STRBUF_INIT;
	char **keys = rpl_xcalloc(cfg->trusted_keys.n + 2, sizeof(*keys));
	struct rpl_cache *c;
	size_t n = 0;

	if (b->o->signing_key) {
		rpl_strbuf_addf(&pub, "%s.pub", b->o->signing_key);
		if (access(pub.buf, R_OK) == 0)
			keys[n++] = pub.buf;
	}
	for (size_t i = 0; i < cfg->trusted_keys.n; i++) {
		const struct rpl_text *k = &cfg->trusted_keys.v[i];
		if (access(k->s, R_OK) != 0)
			rpl_die(RPL_EXIT_USAGE, "%s:%u:%u: trusted-keys: cannot read '%s': %s",
			        RPL_REPOCONFIG_FILE, k->line, k->col, k->s, strerror(errno));
		keys[n++] = (char *)k->s;
	}
	memset(&co, 0, sizeof(co));
	co.dir = RPL_CACHE_DIR;
	co.remote = cfg->cache.s && *cfg->cache.s ? cfg->cache.s : NULL;
	co.signer = b->have_signer ? &b->signer : NULL;
	co.keys = keys;
	co.nkeys = n;
	co.tag = "latest";
	c = rpl_cache_new(&co);
	rpl_strbuf_release(&pub);
	free(keys);
	return c;
}

static void dry_run(struct build *b, struct rpl_runner *runner)
{
	printf("dry run: %zu job%s would run (nothing is built, logged or recorded)\n", b->njobs,
	       b->njobs == 1 ? "" : "s");
	for (size_t i = 0; i < b->njobs; i++) {
		const struct bjob *j = &b->jobs[i];
		char **argv = rpl_external_argv(runner, &j->sj->run);
		printf("  %-32s %-8s %s\n    $", j->plan->node->name, j->plan->arch,
		       j->plan->nreasons ? j->plan->reasons[0] : "");
		for (char **a = argv; a && *a; a++)
			printf(" %s", *a);
		putchar('\n');
		rpl_argv_free(argv);
	}
}

/*
 * The signing key: --signing-key, else .ripple.yaml's, which is made on
 * first use (as Wolfi's Makefile makes local-melange.rsa); a key named on
 * the command line must exist.  Loaded unless it is a dry run.
 */
static void setup_signer(struct build *b, const struct rpl_scan *scan)
{
	struct bopts *o = b->o;

	if (b->have_signer)
		return;
	if (!o->signing_key && scan->config.signing_key.s && *scan->config.signing_key.s)
		o->signing_key = scan->config.signing_key.s;
	/* What a run killed while it made the key left of it. */
	if (o->signing_key && !o->dry_run) {
		size_t removed;
		if (rpl_leftover_sweep_beside(o->signing_key, &removed))
			rpl_warn("%s", rpl_errmsg());
	}
	if (o->signing_key && o->signing_key == scan->config.signing_key.s) {
		if (!o->dry_run && access(o->signing_key, F_OK) != 0) {
			struct rpl_strbuf pub = RPL_STRBUF_INIT;
			rpl_strbuf_addf(&pub, "%s.pub", o->signing_key);
			if (access(pub.buf, F_OK) == 0)
				rpl_die(RPL_EXIT_USAGE,
				        "%s: the signing key is missing but %s exists; restore the "
				        "key or remove both",
				        o->signing_key, pub.buf);
			rpl_strbuf_release(&pub);
			if (rpl_signer_generate(o->signing_key, 4096))
				rpl_die(RPL_EXIT_FAILED, "%s", rpl_errmsg());
			printf("made the signing key %s and %s.pub (named by %s); keep the key "
			       "out of git\n",
			       o->signing_key, o->signing_key, RPL_REPOCONFIG_FILE);
		}
	}
	if (o->signing_key && !o->dry_run) {
		struct rpl_strbuf pub = RPL_STRBUF_INIT;
		if (rpl_signer_load(&b->signer, o->signing_key))
			rpl_die(RPL_EXIT_USAGE, "%s", rpl_errmsg());
		b->have_signer = 1;
		/* Melange and apko are given the public key: a run killed between
		 * writing the two halves left the key alone. */
		rpl_strbuf_addf(&pub, "%s.pub", o->signing_key);
		if (access(pub.buf, F_OK) != 0 && errno == ENOENT) {
			if (rpl_signer_write_public(&b->signer, pub.buf))
				rpl_warn("%s", rpl_errmsg());
			else
				printf("made %s from %s\n", pub.buf, o->signing_key);
		}
		rpl_strbuf_release(&pub);
	}
}

/*
 * The native builder cannot build every arch here (runners/emulate.h): one
 * it cannot is refused before any job starts, with the reason.
 */
static void check_native_archs(struct rpl_job *const *sel, size_t n,
                               const struct rpl_repoconfig *cfg)
{
	const char *done[16];
	size_t ndone = 0;

	for (size_t i = 0; i < n; i++) {
		const char *arch = sel[i]->arch, *root;
		char origin[64] = "";
		struct rpl_emulation e;
		int seen = 0;
		if (sel[i]->node->kind != RPL_NODE_ORIGIN)
			continue;
		for (size_t k = 0; k < ndone && !seen; k++)
			seen = !strcmp(done[k], arch);
		if (seen)
			continue;
		root = rpl_repoconfig_sysroot(cfg, arch, origin, sizeof(origin));
		if (rpl_emulate_check(arch, root, root ? origin : NULL, &e))
			rpl_die(RPL_EXIT_USAGE,
			        "cannot build for %s on this %s machine with the native runner: %s",
			        arch, rpl_host_arch(), rpl_errmsg());
		if (ndone < sizeof(done) / sizeof(*done))
			done[ndone++] = arch;
	}
}

static void release_indexes(struct build *b)
{
	for (size_t i = 0; i < b->nindexes; i++) {
		rpl_repo_close(b->indexes[i].ix);
		free(b->indexes[i].dir);
		free(b->indexes[i].pending);
	}
	free(b->indexes);
	b->indexes = NULL;
	b->nindexes = 0;
}

int rpl_cmd_build(struct rpl_cli *cli, int argc, char **argv)
{
	struct bopts o;
	struct option opts[64];
	char usage[8192];
	struct rpl_scan scan;
	struct rpl_state *st;
	struct rpl_plan p;
	struct build b;
	struct rpl_runner *runner = NULL, *sched_runner = NULL;
	struct rpl_buildexec bx = { 0 };
	struct rpl_sched_result res;
	struct rpl_job **sel;
	char **pdirs, self[4096];
	size_t nsel = 0, n = 0, npkg = 0, nimg = 0;
	int first, status = RPL_EXIT_OK, index_failed = 0, quiet, hit = 0, repaired = 0;
	struct rpl_noop noop = { "", 0, 0 };
	int64_t *killed = NULL;
	size_t nkilled = 0;
	const char *run_status;
	char *cmdline = NULL;
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);

	memset(&o, 0, sizeof(o));
	memset(&b, 0, sizeof(b));
	o.keep_going = -1;
	o.runner = "auto";
	for (const struct option *x = rpl_selector_options; x->name; x++)
		opts[n++] = *x;
	for (size_t i = 0; i < sizeof(build_only) / sizeof(*build_only); i++)
		opts[n++] = build_only[i];
	memset(&opts[n], 0, sizeof(opts[n]));
	snprintf(usage, sizeof(usage), "%s%s", build_usage, rpl_selector_help);
	first = rpl_cli_getopt(cli, argc, argv, usage, opts, "j:knr:v", build_opt, &o);
	if (strcmp(o.runner, "auto") && strcmp(o.runner, "external") && strcmp(o.runner, "native"))
		rpl_die(RPL_EXIT_USAGE, "--runner: '%s' is not a runner (auto, external, native)",
		        o.runner);
	if (!strcmp(o.runner, "native"))
		check_native_options(&o, 1, 1, 0, 0);
	if (o.keep_going < 0)
		o.keep_going = o.sel.all;
	rpl_selectors_begin(cli, first, argc, argv, &o.sel, &st);
	/* The runner is part of every own hash: the same default as `plan`. */
	o.sel.plan.runner = o.runner;
	b.o = &o;
	b.st = st;
	if (!realpath(".", b.root))
		rpl_die(RPL_EXIT_FAILED, "cannot tell where the monorepo is: %s", strerror(errno));
	/* Runs that never ended were killed: what they left is looked at below. */
	if (!o.dry_run && rpl_state_runs_open(st, &killed, &nkilled))
		rpl_warn("%s", rpl_errmsg());
	/* The warm no-op, as `plan` knows it: nothing read, nothing recorded, once
	 * a build has found the output repositories true to this same tree. */
	quiet = !o.dry_run && !o.events && !o.report && !o.junit && !o.report_html;
	if (o.sel.plan.mode == RPL_SELECT_STALE && quiet) {
		struct rpl_tree_files files = RPL_TREE_FILES_INIT;
		char what[64], checked[128];
		hit = rpl_noop_check(cli, &o.sel, st, &files, &noop, what, sizeof(what));
		rpl_tree_files_release(&files);
		if (hit && !nkilled &&
		    rpl_state_meta_get(st, "repo-checked", checked, sizeof(checked)) &&
		    !strcmp(checked, noop.key))
			goto noop;
	}
	/* A build before this one may have been killed at any moment. */
	if (!o.dry_run) {
		repaired = leftovers(&b, killed, nkilled);
		repaired |= check_repos(&b, 0) != 0;
		for (size_t i = 0; i < nkilled; i++)
			if (rpl_state_run_end(st, killed[i], "killed"))
				rpl_warn("%s", rpl_errmsg());
	}
	if (hit && !repaired) {
		if (noop.settled && rpl_state_meta_set(st, "repo-checked", noop.key))
			rpl_warn("%s", rpl_errmsg());
		goto noop;
	}
	rpl_selectors_plan(cli, &o.sel, &scan, st, &p);

	b.scan = &scan;
	b.p = &p;
	rpl_status_line_init(&b.line, stdout);
	b.tty = b.line.smart;
	/* The plan's selection, as it is: the up-to-date filter is the plan's. */
	sel = p.order;
	nsel = p.norder;
	b.up_to_date = p.nup_to_date;
	for (size_t i = 0; i < nsel; i++)
		npkg += sel[i]->node->kind == RPL_NODE_ORIGIN;
	nimg = nsel - npkg;
	pdirs = NULL;
	if (!nsel && quiet) {
		/* Nothing to run, nothing to record; the next no-op is quicker. */
		if (o.sel.plan.mode == RPL_SELECT_STALE) {
			rpl_noop_save(st, &noop, p.njobs);
			if (!repaired && noop.walked && noop.settled &&
			    rpl_state_meta_set(st, "repo-checked", noop.key))
				rpl_warn("%s", rpl_errmsg());
		}
		/* An index the check mended is written all the same. */
		for (size_t i = 0; i < b.nindexes; i++)
			if (rpl_repo_dirty(b.indexes[i].ix))
				setup_signer(&b, &scan);
		if (flush_indexes(&b, 1))
			status = RPL_EXIT_FAILED;
		if (p.mode == RPL_SELECT_STALE) {
			printf("nothing to build: no job's inputs changed since its last successful "
			       "build\n");
		} else {
			char why[256];
			rpl_plan_nothing(&p, why, sizeof(why));
			printf("nothing to build: %s\n", why);
		}
		goto done;
	}

	setup_signer(&b, &scan);
	/* .ripple.yaml's arguments first, the command line's after them. */
	merge_args(&o.runner_args, &o.nrunner_args, &scan.config.melange_args);
	merge_args(&o.apko_args, &o.napko_args, &scan.config.apko_args);
	/* Indexes the check mended are written before any job reads them. */
	if (!o.dry_run && flush_indexes(&b, 1))
		index_failed = 1;
	pdirs = rpl_xmalloc((scan.config.pipeline_dirs.n + 1) * sizeof(char *));
	{
		struct rpl_external_opts eo;
		size_t np = 0;
		for (size_t i = 0; i < scan.config.pipeline_dirs.n; i++) {
			struct stat sb;
			if (stat(scan.config.pipeline_dirs.v[i].s, &sb) == 0)
				pdirs[np++] = (char *)scan.config.pipeline_dirs.v[i].s;
		}
		memset(&eo, 0, sizeof(eo));
		eo.root = ".";
		eo.melange = "melange";
		eo.apko = "apko";
		eo.out_dir = "packages";
		eo.signing_key = o.signing_key;
		eo.pipeline_dirs = pdirs;
		eo.npipeline_dirs = np;
		eo.repositories = o.repos;
		eo.nrepositories = o.nrepos;
		eo.keyrings = o.keyrings;
		eo.nkeyrings = o.nkeyrings;
		eo.container_runner = o.container_runner;
		eo.melange_args = o.runner_args;
		eo.nmelange_args = o.nrunner_args;
		eo.apko_args = o.apko_args;
		eo.napko_args = o.napko_args;
		eo.test = o.test;
		/* melange and apko when asked for or found, else ripple itself. */
		{
			ssize_t k = readlink("/proc/self/exe", self, sizeof(self) - 1);
			int native = !strcmp(o.runner, "native"), autos = !strcmp(o.runner, "auto");
			if (k <= 0)
				rpl_die(RPL_EXIT_FAILED, "cannot find this ripple binary");
			self[k] = '\0';
			if (native || (autos && !on_path("melange")))
				eo.native = self;
			if (native || (autos && !on_path("apko")))
				eo.native_image = self;
			b.native_image = eo.native_image != NULL;
			eo.push = o.push;
			check_native_options(&o, eo.native && npkg, eo.native_image && nimg,
			                     scan.config.melange_args.n, scan.config.apko_args.n);
		}
		/* Where the jobs run; Slurm's partitions say how many fit at once. */
		{
			size_t jobs = o.jobs ? (size_t)o.jobs : (size_t)(cpus > 0 ? cpus : 1);
			if (rpl_buildexec_open(&bx, o.executor, &scan.config, b.root, scan.archs,
			                       scan.narchs))
				rpl_die(RPL_EXIT_USAGE, "%s", rpl_errmsg());
			for (size_t i = 0; i < nsel; i++)
				if (sel[i]->node->entry &&
				    rpl_buildexec_check_recipe(&bx, sel[i]->node->entry->recipe)) {
					/* as the scan reports a recipe's errors */
					fprintf(stderr, "%s\n", rpl_errmsg());
					exit(RPL_EXIT_USAGE);
				}
			if (!o.dry_run && rpl_buildexec_ready(&bx, scan.archs, scan.narchs,
			                                      o.jobs ? NULL : &jobs))
				rpl_die(RPL_EXIT_USAGE, "%s", rpl_errmsg());
			eo.executor = bx.x;
			o.jobs = (long)jobs;
		}
		runner = rpl_process_runner_new(&eo);
		sched_runner = runner;
		if (!o.dry_run && !o.no_cache) {
			b.cache = open_cache(&b, &scan);
			sched_runner = rpl_cache_runner_new(&(struct rpl_cache_runner_opts){
			        runner, b.cache, !o.sel.plan.force && !o.test, cache_key, cache_hit,
			        &b });
		}
		b.sched =
		        rpl_sched_new(sched_runner,
		                      &(struct rpl_sched_opts){ (size_t)o.jobs, (size_t)o.arch_jobs,
		                                                o.keep_going != 0, (int)o.retries },
		                      &(struct rpl_sched_hooks){ on_started, on_finished,
		                                                 on_skipped, on_tick, &b });
		if (o.dry_run) {
			add_jobs(&b, sel, nsel);
			dry_run(&b, runner);
			goto done;
		}
		if (npkg && !eo.native && !on_path("melange"))
			rpl_die(RPL_EXIT_USAGE,
			        "%zu package%s to build, but melange is not on PATH (--runner native "
			        "builds without it)",
			        npkg, npkg == 1 ? "" : "s");
		if (npkg && eo.native && !on_path("bwrap"))
			rpl_die(RPL_EXIT_USAGE,
			        "the native runner needs bubblewrap (bwrap) on PATH");
		if (npkg && eo.native)
			check_native_archs(sel, nsel, &scan.config);
		if (o.push && nimg && !eo.native_image)
			rpl_die(RPL_EXIT_USAGE,
			        "--push works with images that ripple assembles (--runner native); "
			        "apko's images are pushed with `apko publish`");
		if (nimg && !eo.native_image && !on_path("apko"))
			rpl_die(RPL_EXIT_USAGE,
			        "%zu image%s to build, but apko is not on PATH (--runner native "
			        "assembles them without it)",
			        nimg, nimg == 1 ? "" : "s");
	}

	if (o.events && !(b.events = fopen(o.events, "w")))
		rpl_die(RPL_EXIT_USAGE, "cannot write '%s': %s", o.events, strerror(errno));
	{
		struct rpl_strbuf cmd = RPL_STRBUF_INIT;
		rpl_strbuf_addstr(&cmd, "build");
		for (int i = 1; i < argc; i++)
			rpl_strbuf_addf(&cmd, " %s", argv[i]);
		b.run = rpl_state_run_begin(st, cmd.buf);
		cmdline = rpl_strbuf_detach(&cmd); /* for `ripple status` */
		if (b.run < 0)
			rpl_die(RPL_EXIT_FAILED, "%s", rpl_errmsg());
		/* Jobs inherit the tag: a run after this one, if it is killed, finds them. */
		rpl_leftover_tag(b.run, b.root);
	}
	/* What --force rebuilds stays pending until it is built, so that a plain
	 * rerun finishes an interrupted forced run (orchestrator/forced.h). */
	if (rpl_forced_update(st, p.forced, o.sel.plan.force ? sel : NULL,
	                      o.sel.plan.force ? nsel : 0, b.run, now_ns()))
		rpl_die(RPL_EXIT_FAILED, "%s", rpl_errmsg());
	add_jobs(&b, sel, nsel);
	{
		json_t *e = json_pack("{s:s,s:I,s:[]}", "event", "plan", "run", (json_int_t)b.run,
		                      "jobs");
		json_t *list = json_object_get(e, "jobs");
		for (size_t i = 0; i < b.njobs; i++)
			json_array_append_new(list, job_json(&b.jobs[i]));
		event(&b, e);
	}
	printf("run %lld: %zu job%s (%zu package%s, %zu image%s)", (long long)b.run, b.njobs,
	       b.njobs == 1 ? "" : "s", npkg, npkg == 1 ? "" : "s", nimg, nimg == 1 ? "" : "s");
	if (b.up_to_date)
		printf(", %zu already up to date", b.up_to_date);
	printf("; logs in .ripple/logs/%lld/\n", (long long)b.run);
	fflush(stdout);
	b.started_ns = now_ns();
	b.pub = (struct rpl_progress_pub){ b.run, cmdline,
		                           o.jobs ? (size_t)o.jobs : (size_t)(cpus > 0 ? cpus : 1),
		                           b.started_ns, 0 };
	show_status(&b);
	if (rpl_sched_run(b.sched, &res))
		rpl_die(RPL_EXIT_FAILED, "%s", rpl_errmsg());
	clear_status(&b);
	/* The packages are there, their index is not. */
	if (flush_indexes(&b, 1))
		index_failed = 1;
	/* A job that failed or was stopped may have left a new apk that no index lists. */
	if (check_repos(&b, 1) < 0 || flush_indexes(&b, 1))
		index_failed = 1;

	for (size_t i = 0; i < b.njobs; i++)
		if (b.jobs[i].sj->state == RPL_SCHED_NOT_RUN)
			record_run_job(&b, &b.jobs[i], "not run");
	if (rpl_report_record(st, b.run, b.sched))
		rpl_warn("%s", rpl_errmsg());
	run_status = res.interrupted ? "interrupted" : res.failed ? "failed" : "ok";
	if (rpl_state_run_end(st, b.run, run_status))
		rpl_warn("%s", rpl_errmsg());
	{
		size_t nj;
		struct rpl_sched_job *const *jobs = rpl_sched_jobs(b.sched, &nj);
		if (rpl_progress_publish(&b.pub, jobs, nj, run_status, 1, now_ns()))
			rpl_warn("%s", rpl_errmsg());
	}
	{
		struct rpl_sched_job **path;
		size_t npath;
		double pathsecs;
		char t[32], ct[32];

		fmt_secs(res.seconds, t, sizeof(t));
		printf("%s: %zu built, ", res.interrupted ? "interrupted" : "done",
		       res.ok - b.cached);
		if (b.cached)
			printf("%zu from cache, ", b.cached);
		printf("%zu failed, %zu skipped", res.failed, res.skipped);
		if (res.cancelled + res.not_run)
			printf(", %zu not finished", res.cancelled + res.not_run);
		printf(" in %s", t);
		path = rpl_sched_critical_path(b.sched, &npath, &pathsecs);
		if (npath) {
			fmt_secs(pathsecs, ct, sizeof(ct));
			printf("; critical path %s:", ct);
			for (size_t i = 0; i < npath && i < 8; i++)
				printf("%s %s%s", i ? " ->" : "", kind_prefix(path[i]),
				       path[i]->run.name);
			if (npath > 8)
				printf(" -> ... (%zu jobs)", npath);
		}
		putchar('\n');
		free(path);
		if (res.skipped) {
			size_t nj;
			struct rpl_sched_job *const *jobs = rpl_sched_jobs(b.sched, &nj);
			struct rpl_strbuf sum = RPL_STRBUF_INIT;
			rpl_progress_skip_summary(jobs, nj, 5, &sum);
			printf("%s%s\n", rpl_strbuf_str(&sum), o.verbose ? "" : " (-v lists them)");
			rpl_strbuf_release(&sum);
		}
		if (res.interrupted)
			printf("run `ripple build` again to finish the rest\n");
	}
	{
		json_t *e = json_pack("{s:s,s:s,s:I,s:I,s:I,s:I,s:f}", "event", "end", "status",
		                      run_status, "ok", (json_int_t)res.ok, "failed",
		                      (json_int_t)res.failed, "skipped", (json_int_t)res.skipped,
		                      "not_finished", (json_int_t)(res.cancelled + res.not_run),
		                      "seconds", res.seconds);
		event(&b, e);
	}
	if (o.report) {
		json_t *r = report_json(&b, &res, run_status);
		char *text = json_dumps(r, JSON_INDENT(2));
		size_t len = strlen(text);
		text = rpl_xrealloc(text, len + 2);
		text[len] = '\n';
		if (rpl_write_file_atomic(o.report, text, len + 1))
			rpl_warn("%s", rpl_errmsg());
		free(text);
		json_decref(r);
	}
	if (o.junit && write_junit(&b, &res, o.junit))
		rpl_warn("%s", rpl_errmsg());
	if (o.report_html && rpl_report_html_write(st, b.run, o.report_html))
		rpl_warn("%s", rpl_errmsg());
	status = res.interrupted              ? RPL_EXIT_INTERRUPTED
	         : res.failed || index_failed ? RPL_EXIT_FAILED
	                                      : RPL_EXIT_OK;
done:
	rpl_status_line_release(&b.line);
	free(cmdline);
	release_indexes(&b);
	free(killed);
	if (b.events)
		fclose(b.events);
	for (size_t i = 0; i < b.njobs; i++) {
		for (size_t k = 0; k < b.jobs[i].noutputs; k++)
			free(b.jobs[i].outputs[k]);
		free(b.jobs[i].outputs);
		free(b.jobs[i].file);
		free(b.jobs[i].source_dir);
		free(b.jobs[i].log);
		free(b.jobs[i].cached);
	}
	free(b.jobs);
	rpl_sched_free(b.sched);
	if (sched_runner)
		sched_runner->free(sched_runner); /* and `runner`, when it wraps it */
	rpl_cache_free(b.cache);
	rpl_buildexec_release(&bx);
	if (b.have_signer)
		rpl_signer_release(&b.signer);
	free(pdirs);
	free(o.runner_args);
	free(o.apko_args);
	free(o.repos);
	free(o.keyrings);
	rpl_plan_release(&p);
	rpl_state_close(st);
	rpl_scan_release(&scan);
	return status;

noop:
	printf("nothing to build: no job's inputs changed since its last successful build\n");
	release_indexes(&b);
	free(killed);
	rpl_state_close(st);
	free(o.runner_args);
	free(o.apko_args);
	free(o.repos);
	free(o.keyrings);
	return RPL_EXIT_OK;
}
