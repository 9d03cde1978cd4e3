/*
 * `ripple build`: scan, graph, plan, schedule, record.  The selected jobs
 * run through a runner (runners/runner.h) on the scheduler
 * (orchestrator/sched.h); each package job's apks are merged into
 * packages/<arch>/APKINDEX.tar.gz as soon as it finishes, so later jobs
 * build against them; every job's outcome is recorded in the state store,
 * so a run that was interrupted or failed is resumed by running again.
 *
 * This file is the command, in steps (rpl_cmd_build at the end), the
 * scheduler's hooks and the jobs' setup; the output repositories and the
 * records of built jobs are in build_index.c, the --events, --report and
 * --junit writers in build_events.c, what the terminal shows in
 * build_status.c, and the run they share in build.h.
 */
#include "common/error.h"
#include "common/file.h"
#include "common/strbuf.h"
#include "common/xalloc.h"
#include "graph/graph.h"
#include "orchestrator/artifact_cache.h"
#include "orchestrator/build.h"
#include "orchestrator/build_events.h"
#include "orchestrator/build_index.h"
#include "orchestrator/build_status.h"
#include "orchestrator/buildexec.h"
#include "orchestrator/buildjobs.h"
#include "orchestrator/cache_runner.h"
#include "orchestrator/cli.h"
#include "orchestrator/forced.h"
#include "orchestrator/leftover.h"
#include "orchestrator/memo.h"
#include "orchestrator/plan.h"
#include "orchestrator/progress.h"
#include "orchestrator/prune.h"
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

#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

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
	O_KEEP_RUNS,
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
	case O_KEEP_RUNS:
		o->keep_runs = number("--keep-runs", arg, 0);
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
	{ "keep-runs", required_argument, NULL, O_KEEP_RUNS },
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
        "  --keep-runs N           after the run, forget all but the newest N runs and their\n"
        "                          logs (default: .ripple.yaml's `keep-runs:`, else 30;\n"
        "                          0 keeps every run; each job's last log is kept)\n"
        "\n"
        "Outputs: packages/<arch>/*.apk and APKINDEX.tar.gz; images/<name>/<arch>.tar from\n"
        "apko, or the OCI layout images/<name>/ (with <arch>.manifest) from ripple;\n"
        "logs in .ripple/logs/<run>/<arch>/<name>.log.  Exit status: 0 every job built,\n"
        "1 a job failed (the rest went on as far as it could), 2 bad input, 75\n"
        "--no-wait and another ripple holds the state, 130 interrupted (run again to\n"
        "finish).  `ripple status` in another terminal shows the build as it runs.\n"
        "\n";

/* ---- the run ---------------------------------------------------------------------------- */

/* ---- what a killed run left --------------------------------------------------------------- */

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
	json_t *e = rpl_build_job_json(bjob_of(b, sj));

	json_object_set_new(e, "event", json_string("start"));
	json_object_set_new(e, "attempt", json_integer(sj->attempts));
	json_object_set_new(e, "log", json_string(bjob_of(b, sj)->log));
	rpl_build_event(b, e);
	if (!b->tty)
		rpl_build_say(b, "start %s%s %s", rpl_build_kind_prefix(sj), sj->run.name,
		              sj->run.arch);
	rpl_build_status_show(b);
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
		rpl_build_say(b, "retry %s%s %s: %s", rpl_build_kind_prefix(sj), sj->run.name,
		              sj->run.arch, sj->message);
		e = rpl_build_job_json(j);
		json_object_set_new(e, "event", json_string("retry"));
		json_object_set_new(e, "message", json_string(sj->message ? sj->message : ""));
		rpl_build_event(b, e);
		return 0;
	}
	if (sj->state == RPL_SCHED_OK && rpl_build_job_built(b, j)) {
		free(sj->message);
		sj->message = rpl_xstrdup(rpl_errmsg());
		bad = 1;
	}
	j->unindexed = (sj->state != RPL_SCHED_OK || bad) && !strcmp(j->plan->kind, "package");
	b->done++;
	rpl_report_fmt_secs(took, t, sizeof(t));
	e = rpl_build_job_json(j);
	json_object_set_new(e, "seconds", json_real(took));
	json_object_set_new(e, "log", json_string(j->log));
	if (sj->state == RPL_SCHED_OK && !bad && j->cached) {
		json_object_set_new(e, "event", json_string("finish"));
		json_object_set_new(e, "status", json_string("ok"));
		json_object_set_new(e, "cache", json_string(j->cached));
		b->cached++;
		rpl_build_run_row(b, j, "ok");
		rpl_build_say(b, "[%zu/%zu] from cache %s%s %s (%s)", b->done, b->njobs,
		              rpl_build_kind_prefix(sj), sj->run.name, sj->run.arch, j->cached);
	} else if (sj->state == RPL_SCHED_OK && !bad) {
		json_object_set_new(e, "event", json_string("finish"));
		json_object_set_new(e, "status", json_string("ok"));
		rpl_build_run_row(b, j, "ok");
		rpl_build_say(b, "[%zu/%zu] ok %s%s %s (%s)", b->done, b->njobs,
		              rpl_build_kind_prefix(sj), sj->run.name, sj->run.arch, t);
	} else {
		const char *status = sj->state == RPL_SCHED_CANCELLED ? "cancelled"
		                     : sj->status == RPL_RUN_TIMEOUT  ? "timeout"
		                                                      : "failed";
		json_object_set_new(
		        e, "event",
		        json_string(sj->state == RPL_SCHED_CANCELLED ? "cancel" : "fail"));
		json_object_set_new(e, "status", json_string(status));
		json_object_set_new(e, "message", json_string(sj->message ? sj->message : ""));
		rpl_build_run_row(b, j, status);
		if (sj->state != RPL_SCHED_CANCELLED) {
			record_failure(b, j, status);
			rpl_build_say(b, "[%zu/%zu] FAILED %s%s %s (%s): %s", b->done, b->njobs,
			              rpl_build_kind_prefix(sj), sj->run.name, sj->run.arch, t,
			              sj->message ? sj->message : "failed");
			rpl_build_log_tail(b, j->log, 20);
		} else {
			rpl_build_say(b, "[%zu/%zu] cancelled %s%s %s (%s)", b->done, b->njobs,
			              rpl_build_kind_prefix(sj), sj->run.name, sj->run.arch, t);
		}
	}
	rpl_build_event(b, e);
	return bad;
}

static void on_skipped(void *ctx, struct rpl_sched_job *sj)
{
	struct build *b = ctx;
	struct bjob *j = bjob_of(b, sj);
	json_t *e = rpl_build_job_json(j);

	b->done++;
	json_object_set_new(e, "event", json_string("skip"));
	json_object_set_new(e, "message", json_string(sj->message));
	rpl_build_event(b, e);
	rpl_build_run_row(b, j, "skipped");
	/* Thousands of them are summed up at the end, unless -v. */
	if (b->o->verbose)
		rpl_build_say(b, "[%zu/%zu] skipped %s%s %s: %s", b->done, b->njobs,
		              rpl_build_kind_prefix(sj), sj->run.name, sj->run.arch, sj->message);
	else
		rpl_build_status_show(b);
}

static void on_tick(void *ctx)
{
	rpl_build_indexes_flush(ctx, 0);
	rpl_build_status_show(ctx);
}

/* ---- setting the jobs up ---------------------------------------------------------------- */

static char **outputs_of(const struct rpl_job *pj, int native_image, size_t *n)
{
	const struct rpl_scan_entry *e = pj->node->entry;
	char **v;
	size_t k = 0;

	if (pj->node->kind == RPL_NODE_IMAGE) {
		/* apko's tarball, or the native assembler's manifest digest. */
		struct rpl_strbuf p = RPL_STRBUF_INIT;
		v = rpl_xmalloc(sizeof(*v));
		rpl_strbuf_addf(&p, "images/%s/%s.%s", pj->node->name, pj->arch,
		                native_image ? "manifest" : "tar");
		v[0] = rpl_strbuf_detach(&p);
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
		if (e->summary) {
			sj->run.cpu = e->summary->cpu.s;
			sj->run.memory = e->summary->memory.s;
		}
		sj->run.timeout = timeout > 0  ? timeout
		                  : e->summary ? (double)e->summary->timeout_seconds
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

/* ---- the runner and what it needs ----------------------------------------------------------- */

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

/* ---- the command, step by step ---------------------------------------------------------------- */

/* What the command holds from its options to its exit status. */
struct cmd {
	struct bopts o;
	struct build b;
	struct rpl_scan scan;
	struct rpl_plan p;
	struct rpl_external_opts eo; /* the process runner's (runners/runner.h) */
	struct rpl_runner *runner, *sched_runner;
	struct rpl_buildexec bx;
	struct rpl_sched_result res;
	struct rpl_job **sel; /* the plan's selection, in order */
	size_t nsel, npkg, nimg;
	char **pdirs, self[4096];
	struct rpl_noop noop;
	int64_t *killed; /* runs that never ended */
	size_t nkilled;
	int quiet;    /* nothing asked for but the build: no events, no reports, not a dry run */
	int repaired; /* the check before the run mended something */
	int index_failed;
	const char *run_status;
	char *cmdline;
	long cpus;
};

/* Parses the command line into `o`; returns the index of the first NAME. */
static int parse_options(struct rpl_cli *cli, int argc, char **argv, struct bopts *o)
{
	struct option opts[64];
	char usage[8192];
	size_t n = 0;
	int first;

	o->keep_going = -1;
	o->keep_runs = -1;
	o->runner = "auto";
	for (const struct option *x = rpl_selector_options; x->name; x++)
		opts[n++] = *x;
	for (size_t i = 0; i < sizeof(build_only) / sizeof(*build_only); i++)
		opts[n++] = build_only[i];
	memset(&opts[n], 0, sizeof(opts[n]));
	snprintf(usage, sizeof(usage), "%s%s", build_usage, rpl_selector_help);
	first = rpl_cli_getopt(cli, argc, argv, usage, opts, "j:knr:v", build_opt, o);
	if (strcmp(o->runner, "auto") && strcmp(o->runner, "external") &&
	    strcmp(o->runner, "native"))
		rpl_die(RPL_EXIT_USAGE, "--runner: '%s' is not a runner (auto, external, native)",
		        o->runner);
	if (!strcmp(o->runner, "native"))
		check_native_options(o, 1, 1, 0, 0);
	if (o->keep_going < 0)
		o->keep_going = o->sel.all;
	return first;
}

/*
 * A build before this one may have been killed at any moment: what it left
 * is removed or stopped, the repositories are checked against the records,
 * and its run is closed.  Returns 1 when anything was mended.
 */
static int mend(struct cmd *c)
{
	int repaired = leftovers(&c->b, c->killed, c->nkilled);

	repaired |= rpl_build_repos_check(&c->b, 0) != 0;
	for (size_t i = 0; i < c->nkilled; i++)
		if (rpl_state_run_end(c->b.st, c->killed[i], "killed"))
			rpl_warn("%s", rpl_errmsg());
	return repaired;
}

/*
 * Enters the monorepo, opens (locks) its state store and mends what a
 * killed run left.  Returns 1 when the warm no-op, as `plan` knows it,
 * says there is nothing to do: nothing read, nothing recorded, once a
 * build has found the output repositories true to this same tree.
 */
static int open_state(struct rpl_cli *cli, int first, int argc, char **argv, struct cmd *c)
{
	struct bopts *o = &c->o;
	struct rpl_state *st;
	int hit = 0;

	rpl_selectors_begin(cli, first, argc, argv, &o->sel, &st);
	/* The runner is part of every own hash: the same default as `plan`. */
	o->sel.plan.runner = o->runner;
	c->b.o = o;
	c->b.st = st;
	/* A build reads its store once and then writes it for as long as it
	 * runs: mapped, the pages its plan read stay in its RSS (90 MB at
	 * 50,000 jobs) for no gain in time. */
	if (rpl_state_unmap(st))
		rpl_warn("%s", rpl_errmsg());
	if (!realpath(".", c->b.root))
		rpl_die(RPL_EXIT_FAILED, "cannot tell where the monorepo is: %s", strerror(errno));
	/* Runs that never ended were killed: what they left is looked at below. */
	if (!o->dry_run && rpl_state_runs_open(st, &c->killed, &c->nkilled))
		rpl_warn("%s", rpl_errmsg());
	c->quiet = !o->dry_run && !o->events && !o->report && !o->junit && !o->report_html;
	if (o->sel.plan.mode == RPL_SELECT_STALE && c->quiet) {
		struct rpl_tree_files files = RPL_TREE_FILES_INIT;
		char what[64], checked[128];
		hit = rpl_noop_check(cli, &o->sel, st, &files, &c->noop, what, sizeof(what));
		rpl_tree_files_release(&files);
		if (hit && !c->nkilled &&
		    rpl_state_meta_get(st, "repo-checked", checked, sizeof(checked)) &&
		    !strcmp(checked, c->noop.key))
			return 1;
	}
	if (!o->dry_run)
		c->repaired = mend(c);
	if (hit && !c->repaired) {
		if (c->noop.settled && rpl_state_meta_set(st, "repo-checked", c->noop.key))
			rpl_warn("%s", rpl_errmsg());
		return 1;
	}
	return 0;
}

/* The plan's selection, as it is: the up-to-date filter is the plan's. */
static void take_plan(struct cmd *c)
{
	c->b.scan = &c->scan;
	c->b.p = &c->p;
	rpl_status_line_init(&c->b.line, stdout);
	c->b.tty = c->b.line.smart;
	c->sel = c->p.order;
	c->nsel = c->p.norder;
	c->b.up_to_date = c->p.nup_to_date;
	for (size_t i = 0; i < c->nsel; i++)
		c->npkg += c->sel[i]->node->kind == RPL_NODE_ORIGIN;
	c->nimg = c->nsel - c->npkg;
}

/*
 * Nothing to run, nothing to record: the next no-op is quicker, and an
 * index the check mended is written all the same.  Returns the exit status.
 */
static int nothing_to_run(struct cmd *c)
{
	int status = RPL_EXIT_OK;

	if (c->o.sel.plan.mode == RPL_SELECT_STALE) {
		rpl_noop_save(c->b.st, &c->noop, c->p.njobs);
		if (!c->repaired && c->noop.walked && c->noop.settled &&
		    rpl_state_meta_set(c->b.st, "repo-checked", c->noop.key))
			rpl_warn("%s", rpl_errmsg());
	}
	for (size_t i = 0; i < c->b.nindexes; i++)
		if (rpl_repo_dirty(c->b.indexes[i].ix))
			setup_signer(&c->b, &c->scan);
	if (rpl_build_indexes_flush(&c->b, 1))
		status = RPL_EXIT_FAILED;
	if (c->p.mode == RPL_SELECT_STALE) {
		printf("nothing to build: no job's inputs changed since its last successful "
		       "build\n");
	} else {
		char why[256];
		rpl_plan_nothing(&c->p, why, sizeof(why));
		printf("nothing to build: %s\n", why);
	}
	return status;
}

/* The process runner's options from the command line and .ripple.yaml. */
static void runner_opts(struct cmd *c)
{
	const struct rpl_repoconfig *cfg = &c->scan.config;
	struct rpl_external_opts *eo = &c->eo;
	struct bopts *o = &c->o;
	size_t np = 0;

	c->pdirs = rpl_xmalloc((cfg->pipeline_dirs.n + 1) * sizeof(char *));
	for (size_t i = 0; i < cfg->pipeline_dirs.n; i++) {
		struct stat sb;
		if (stat(cfg->pipeline_dirs.v[i].s, &sb) == 0)
			c->pdirs[np++] = (char *)cfg->pipeline_dirs.v[i].s;
	}
	memset(eo, 0, sizeof(*eo));
	eo->root = ".";
	eo->melange = "melange";
	eo->apko = "apko";
	eo->out_dir = "packages";
	eo->signing_key = o->signing_key;
	eo->pipeline_dirs = c->pdirs;
	eo->npipeline_dirs = np;
	eo->repositories = o->repos;
	eo->nrepositories = o->nrepos;
	eo->keyrings = o->keyrings;
	eo->nkeyrings = o->nkeyrings;
	eo->container_runner = o->container_runner;
	eo->melange_args = o->runner_args;
	eo->nmelange_args = o->nrunner_args;
	eo->apko_args = o->apko_args;
	eo->napko_args = o->napko_args;
	eo->test = o->test;
}

/* melange and apko when asked for or found, else ripple itself. */
static void choose_builders(struct cmd *c)
{
	struct rpl_external_opts *eo = &c->eo;
	ssize_t k = readlink("/proc/self/exe", c->self, sizeof(c->self) - 1);
	int native = !strcmp(c->o.runner, "native"), autos = !strcmp(c->o.runner, "auto");

	if (k <= 0)
		rpl_die(RPL_EXIT_FAILED, "cannot find this ripple binary");
	c->self[k] = '\0';
	if (native || (autos && !on_path("melange")))
		eo->native = c->self;
	if (native || (autos && !on_path("apko")))
		eo->native_image = c->self;
	c->b.native_image = eo->native_image != NULL;
	eo->push = c->o.push;
	check_native_options(&c->o, eo->native && c->npkg, eo->native_image && c->nimg,
	                     c->scan.config.melange_args.n, c->scan.config.apko_args.n);
}

/* Where the jobs run; Slurm's partitions say how many fit at once. */
static void open_executor(struct cmd *c)
{
	struct bopts *o = &c->o;
	struct rpl_scan *scan = &c->scan;
	size_t jobs = o->jobs ? (size_t)o->jobs : (size_t)(c->cpus > 0 ? c->cpus : 1);

	if (rpl_buildexec_open(&c->bx, o->executor, &scan->config, c->b.root, scan->archs,
	                       scan->narchs))
		rpl_die(RPL_EXIT_USAGE, "%s", rpl_errmsg());
	for (size_t i = 0; i < c->nsel; i++)
		if (c->sel[i]->node->entry &&
		    rpl_buildexec_check_recipe(&c->bx, c->sel[i]->node->entry->summary)) {
			/* as the scan reports a recipe's errors */
			fprintf(stderr, "%s\n", rpl_errmsg());
			exit(RPL_EXIT_USAGE);
		}
	if (!o->dry_run &&
	    rpl_buildexec_ready(&c->bx, scan->archs, scan->narchs, o->jobs ? NULL : &jobs))
		rpl_die(RPL_EXIT_USAGE, "%s", rpl_errmsg());
	c->eo.executor = c->bx.x;
	o->jobs = (long)jobs;
}

/*
 * The signing key, the arguments of melange and apko, the mended indexes
 * written, then the runner (through the artifact cache unless --no-cache
 * or a dry run), where it runs, and the scheduler over it.
 */
static void prepare(struct cmd *c)
{
	struct bopts *o = &c->o;

	setup_signer(&c->b, &c->scan);
	/* .ripple.yaml's arguments first, the command line's after them. */
	merge_args(&o->runner_args, &o->nrunner_args, &c->scan.config.melange_args);
	merge_args(&o->apko_args, &o->napko_args, &c->scan.config.apko_args);
	/* Indexes the check mended are written before any job reads them. */
	if (!o->dry_run && rpl_build_indexes_flush(&c->b, 1))
		c->index_failed = 1;
	runner_opts(c);
	choose_builders(c);
	open_executor(c);
	c->runner = rpl_process_runner_new(&c->eo);
	c->sched_runner = c->runner;
	if (!o->dry_run && !o->no_cache) {
		c->b.cache = open_cache(&c->b, &c->scan);
		c->sched_runner = rpl_cache_runner_new(&(struct rpl_cache_runner_opts){
		        c->runner, c->b.cache, !o->sel.plan.force && !o->test, cache_key, cache_hit,
		        &c->b });
	}
	c->b.sched = rpl_sched_new(
	        c->sched_runner,
	        &(struct rpl_sched_opts){ (size_t)o->jobs, (size_t)o->arch_jobs, o->keep_going != 0,
	                                  (int)o->retries },
	        &(struct rpl_sched_hooks){ on_started, on_finished, on_skipped, on_tick, &c->b });
}

/* The tools the jobs need are there, or the build stops before any starts. */
static void check_tools(const struct cmd *c)
{
	const struct rpl_external_opts *eo = &c->eo;
	size_t npkg = c->npkg, nimg = c->nimg;

	if (npkg && !eo->native && !on_path("melange"))
		rpl_die(RPL_EXIT_USAGE,
		        "%zu package%s to build, but melange is not on PATH (--runner native "
		        "builds without it)",
		        npkg, npkg == 1 ? "" : "s");
	if (npkg && eo->native && !on_path("bwrap"))
		rpl_die(RPL_EXIT_USAGE, "the native runner needs bubblewrap (bwrap) on PATH");
	if (npkg && eo->native)
		check_native_archs(c->sel, c->nsel, &c->scan.config);
	if (c->o.push && nimg && !eo->native_image)
		rpl_die(RPL_EXIT_USAGE,
		        "--push works with images that ripple assembles (--runner native); "
		        "apko's images are pushed with `apko publish`");
	if (nimg && !eo->native_image && !on_path("apko"))
		rpl_die(RPL_EXIT_USAGE,
		        "%zu image%s to build, but apko is not on PATH (--runner native "
		        "assembles them without it)",
		        nimg, nimg == 1 ? "" : "s");
}

/*
 * Opens --events, begins the run in the state store (its number names the
 * logs and tags the jobs' processes), notes what --force rebuilds, makes
 * the scheduler's jobs and says what is about to run.
 */
static void begin_run(struct cmd *c, int argc, char **argv)
{
	struct bopts *o = &c->o;
	struct build *b = &c->b;
	struct rpl_strbuf cmd = RPL_STRBUF_INIT;

	if (o->events && !(b->events = fopen(o->events, "w")))
		rpl_die(RPL_EXIT_USAGE, "cannot write '%s': %s", o->events, strerror(errno));
	rpl_strbuf_addstr(&cmd, "build");
	for (int i = 1; i < argc; i++)
		rpl_strbuf_addf(&cmd, " %s", argv[i]);
	b->run = rpl_state_run_begin(b->st, cmd.buf);
	c->cmdline = rpl_strbuf_detach(&cmd); /* for `ripple status` */
	if (b->run < 0)
		rpl_die(RPL_EXIT_FAILED, "%s", rpl_errmsg());
	/* Jobs inherit the tag: a run after this one, if it is killed, finds them. */
	rpl_leftover_tag(b->run, b->root);
	/* What --force rebuilds stays pending until it is built, so that a plain
	 * rerun finishes an interrupted forced run (orchestrator/forced.h). */
	if (rpl_forced_update(b->st, c->p.forced, o->sel.plan.force ? c->sel : NULL,
	                      o->sel.plan.force ? c->nsel : 0, b->run, now_ns()))
		rpl_die(RPL_EXIT_FAILED, "%s", rpl_errmsg());
	add_jobs(b, c->sel, c->nsel);
	rpl_build_event_plan(b);
	rpl_build_print_start(b, c->npkg, c->nimg);
	b->started_ns = now_ns();
	b->pub = (struct rpl_progress_pub){ b->run, c->cmdline,
		                            o->jobs ? (size_t)o->jobs
		                                    : (size_t)(c->cpus > 0 ? c->cpus : 1),
		                            b->started_ns, 0 };
	rpl_build_status_show(b);
}

/*
 * Runs the jobs, writes the indexes they left, checks the repositories
 * where a job failed or was stopped, and closes the run in the state store
 * and in the file `ripple status` reads.
 */
static void run(struct cmd *c)
{
	struct build *b = &c->b;
	struct rpl_sched_job *const *jobs;
	size_t nj;

	if (rpl_sched_run(b->sched, &c->res))
		rpl_die(RPL_EXIT_FAILED, "%s", rpl_errmsg());
	rpl_build_status_clear(b);
	/* The packages are there, their index is not. */
	if (rpl_build_indexes_flush(b, 1))
		c->index_failed = 1;
	/* A job that failed or was stopped may have left a new apk that no index lists. */
	if (rpl_build_repos_check(b, 1) < 0 || rpl_build_indexes_flush(b, 1))
		c->index_failed = 1;

	for (size_t i = 0; i < b->njobs; i++)
		if (b->jobs[i].sj->state == RPL_SCHED_NOT_RUN)
			rpl_build_run_row(b, &b->jobs[i], "not run");
	/* Every row is written before the report adds to them. */
	rpl_build_rows_flush(b);
	if (rpl_report_record(b->st, b->run, b->sched))
		rpl_warn("%s", rpl_errmsg());
	c->run_status = c->res.interrupted ? "interrupted" : c->res.failed ? "failed" : "ok";
	if (rpl_state_run_end(b->st, b->run, c->run_status))
		rpl_warn("%s", rpl_errmsg());
	jobs = rpl_sched_jobs(b->sched, &nj);
	if (rpl_progress_publish(&b->pub, jobs, nj, c->run_status, 1, now_ns()))
		rpl_warn("%s", rpl_errmsg());
}

/* The summary, the end event and the reports asked for; returns the exit status. */
static int finish(struct cmd *c)
{
	const struct bopts *o = &c->o;
	const struct rpl_sched_result *res = &c->res;
	struct build *b = &c->b;

	rpl_build_print_summary(b, res);
	rpl_build_event_end(b, res, c->run_status);
	if (o->report && rpl_build_write_report(b, res, c->run_status, o->report))
		rpl_warn("%s", rpl_errmsg());
	if (o->junit && rpl_build_write_junit(b, res, o->junit))
		rpl_warn("%s", rpl_errmsg());
	if (o->report_html && rpl_report_html_write(b->st, b->run, o->report_html))
		rpl_warn("%s", rpl_errmsg());
	return res->interrupted                 ? RPL_EXIT_INTERRUPTED
	       : res->failed || c->index_failed ? RPL_EXIT_FAILED
	                                        : RPL_EXIT_OK;
}

/*
 * Old runs forgotten with their logs (orchestrator/prune.h), as many as
 * --keep-runs or .ripple.yaml's keep-runs: keep.  A failure is a warning:
 * the run itself is recorded.
 */
static void prune(struct cmd *c)
{
	long keep = c->o.keep_runs >= 0             ? c->o.keep_runs
	            : c->scan.config.keep_runs >= 0 ? c->scan.config.keep_runs
	                                            : RPL_KEEP_RUNS_DEFAULT;
	struct rpl_prune_result res;
	char size[32];

	if (rpl_prune_runs(c->b.st, c->b.root, (size_t)keep, &res))
		rpl_warn("%s (old runs are kept)", rpl_errmsg());
	if (res.runs || res.logs)
		printf("forgot %zu run%s older than the newest %ld (keep-runs) and %zu log file%s "
		       "(%s)\n",
		       res.runs, res.runs == 1 ? "" : "s", keep, res.logs, res.logs == 1 ? "" : "s",
		       rpl_size_text(res.bytes, size));
}

/* What the command line's options hold (also after a warm no-op). */
static void release_options(struct bopts *o)
{
	free(o->runner_args);
	free(o->apko_args);
	free(o->repos);
	free(o->keyrings);
}

/* Everything the command made, in reverse. */
static void release(struct cmd *c)
{
	struct build *b = &c->b;

	rpl_status_line_release(&b->line);
	free(c->cmdline);
	rpl_build_indexes_release(b);
	free(c->killed);
	if (b->events)
		fclose(b->events);
	for (size_t i = 0; i < b->njobs; i++) {
		for (size_t k = 0; k < b->jobs[i].noutputs; k++)
			free(b->jobs[i].outputs[k]);
		free(b->jobs[i].outputs);
		free(b->jobs[i].file);
		free(b->jobs[i].source_dir);
		free(b->jobs[i].log);
		free(b->jobs[i].cached);
	}
	free(b->jobs);
	rpl_sched_free(b->sched);
	if (c->sched_runner)
		c->sched_runner->free(c->sched_runner); /* and `runner`, when it wraps it */
	rpl_cache_free(b->cache);
	rpl_buildexec_release(&c->bx);
	if (b->have_signer)
		rpl_signer_release(&b->signer);
	free(c->pdirs);
	release_options(&c->o);
	rpl_plan_release(&c->p);
	rpl_state_close(b->st);
	rpl_scan_release(&c->scan);
}

int rpl_cmd_build(struct rpl_cli *cli, int argc, char **argv)
{
	struct cmd c;
	int first, status = RPL_EXIT_OK;

	memset(&c, 0, sizeof(c));
	c.cpus = sysconf(_SC_NPROCESSORS_ONLN);
	first = parse_options(cli, argc, argv, &c.o);
	if (open_state(cli, first, argc, argv, &c)) {
		printf("nothing to build: no job's inputs changed since its last successful "
		       "build\n");
		rpl_build_indexes_release(&c.b);
		free(c.killed);
		rpl_state_close(c.b.st);
		release_options(&c.o);
		return RPL_EXIT_OK;
	}
	rpl_selectors_plan(cli, &c.o.sel, &c.scan, c.b.st, &c.p);
	take_plan(&c);
	if (!c.nsel && c.quiet) {
		status = nothing_to_run(&c);
	} else {
		prepare(&c);
		if (c.o.dry_run) {
			add_jobs(&c.b, c.sel, c.nsel);
			dry_run(&c.b, c.runner);
		} else {
			check_tools(&c);
			begin_run(&c, argc, argv);
			run(&c);
			status = finish(&c);
			prune(&c);
		}
	}
	release(&c);
	return status;
}
