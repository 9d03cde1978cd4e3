/*
 * `ripple history`: what the state store remembers of past builds — the
 * recent runs with their counts, the recent failures with their logs, and
 * the slowest jobs (their last successful build); `ripple history RUN`:
 * one run whole (orchestrator/report.h).  `ripple report` writes a run as
 * an HTML page (orchestrator/report_html.h).
 */
#include "common/error.h"
#include "common/file.h"
#include "common/strbuf.h"
#include "orchestrator/cli.h"
#include "orchestrator/report.h"
#include "orchestrator/report_html.h"
#include "orchestrator/state.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct hopts {
	long runs;
	int verbose;
	const char *html;
};

static void history_opt(struct rpl_cli *cli, int opt, const char *arg, void *ctx)
{
	struct hopts *o = ctx;
	char *end;

	(void)cli;
	if (opt == 'n') {
		o->runs = strtol(arg, &end, 10);
		if (!*arg || *end || o->runs < 1)
			rpl_die(RPL_EXIT_USAGE, "-n wants a number of runs, not '%s'", arg);
	} else if (opt == 'v') {
		o->verbose = 1;
	} else if (opt == 'H') {
		o->html = arg;
	}
}

static const struct option history_opts[] = {
	{ "runs", required_argument, NULL, 'n' },
	{ "no-wait", no_argument, NULL, 'W' },
	{ "verbose", no_argument, NULL, 'v' },
	{ NULL, 0, NULL, 0 },
};

static const char history_usage[] =
        "usage: ripple history [-n RUNS] [--json] [-C DIR] [--no-wait]\n"
        "       ripple history RUN [-v] [--json] [-C DIR] [--no-wait]\n"
        "\n"
        "The last RUNS (default 10) runs of `ripple build` with how many jobs each\n"
        "built, failed and skipped; the recent failures with their messages and logs;\n"
        "and the slowest jobs as last built.  --json prints\n"
        "{\"runs\":[...],\"failures\":[...],\"slowest\":[...]}.\n"
        "\n"
        "With RUN (a run's number, or 'last'): that run whole — its critical path,\n"
        "the jobs it built with their durations against their previous build, the\n"
        "failed ones with their logs, and the skipped ones grouped by the failure\n"
        "they waited on (-v, --verbose: each skipped job on a line of its own).\n"
        "--json prints {\"run\", \"summary\", \"lanes\", \"critical_path\", \"jobs\",\n"
        "\"failures\", \"skipped\"} (see docs/build.md).  `ripple report RUN --html F`\n"
        "draws the same run as a web page.\n"
        "\n"
        "History reads the state store without its lock: it answers while a build\n"
        "runs (and shows that build's run as far as it has got); --no-wait is\n"
        "accepted and changes nothing.\n";

static void when(int64_t ns, char *buf, size_t n)
{
	time_t t = (time_t)(ns / 1000000000);
	struct tm tm;

	if (!ns || !localtime_r(&t, &tm) || !strftime(buf, n, "%Y-%m-%d %H:%M:%S", &tm))
		snprintf(buf, n, "-");
}

static const char *str(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s ? s : "";
}

/* A run's number from an operand: "last" is 0, the store's last run. */
static int64_t run_number(const char *arg)
{
	char *end;
	long long n;

	if (!strcmp(arg, "last"))
		return 0;
	n = strtoll(arg, &end, 10);
	if (!*arg || *end || n < 1)
		rpl_die(RPL_EXIT_USAGE, "'%s' is not a run number (ripple history lists them)",
		        arg);
	return (int64_t)n;
}

/* A reader: history and reports never wait for a build, nor write. */
static struct rpl_state *open_store(void)
{
	struct rpl_state *st;
	int err;

	if ((err = rpl_state_open(&st, ".", RPL_STATE_READ)))
		rpl_die(err == -EWOULDBLOCK ? RPL_EXIT_BUSY : RPL_EXIT_USAGE, "%s", rpl_errmsg());
	return st;
}

/* Loads run `id` or exits: 2 when there is no such run. */
static void load_run(struct rpl_state *st, int64_t id, struct rpl_report *r)
{
	int rc = rpl_report_load(st, id, r);

	if (rc < 0)
		rpl_die(RPL_EXIT_FAILED, "%s", rpl_errmsg());
	if (!rc) {
		if (id)
			rpl_die(RPL_EXIT_USAGE,
			        "no run %lld in the state store (see ripple history)",
			        (long long)id);
		rpl_die(RPL_EXIT_USAGE, "no run in the state store yet");
	}
}

/* "a (x86_64)", "image img (x86_64)": as the build's own lines name jobs. */
static const char *row_name(const struct rpl_run_row *j, char *buf, size_t n)
{
	snprintf(buf, n, "%s%s (%s)", !strcmp(j->kind, "image") ? "image " : "", j->name, j->arch);
	return buf;
}

/* The groups of skips listed in one line each name this many jobs at most. */
#define GROUP_NAMES 10

static void print_run(const struct rpl_report *r, int verbose)
{
	char t[64], d[32], name[512];
	size_t k;

	when(r->run.started_ns, t, sizeof(t));
	rpl_report_fmt_secs(r->run.finished_ns > r->run.started_ns
	                            ? (double)(r->run.finished_ns - r->run.started_ns) / 1e9
	                            : 0,
	                    d, sizeof(d));
	printf("run %lld: %s, started %s, took %s: ripple %s\n", (long long)r->run.id,
	       r->run.status ? r->run.status : "?", t, r->run.finished_ns ? d : "(no end recorded)",
	       r->run.command ? r->run.command : "");
	rpl_report_fmt_secs(r->work, d, sizeof(d));
	printf("  %zu job%s: %zu built, %zu failed, %zu skipped", r->run.njobs,
	       r->run.njobs == 1 ? "" : "s", r->ok, r->failed, r->skipped);
	if (r->cancelled + r->not_run)
		printf(", %zu not finished", r->cancelled + r->not_run);
	printf("; %s of work in %zu lane%s%s\n", d, r->nlanes, r->nlanes == 1 ? "" : "s",
	       r->lanes_derived ? " (worked out from the times)" : "");

	rpl_report_fmt_secs(r->path_seconds, d, sizeof(d));
	if (r->npath) {
		printf("critical path %s:", d);
		for (k = 0; k < r->npath; k++) {
			char s[32];
			rpl_report_fmt_secs(r->path[k]->duration, s, sizeof(s));
			printf("%s %s %s", k ? " ->" : "", row_name(r->path[k], name, sizeof(name)),
			       s);
		}
		putchar('\n');
	} else {
		printf("critical path: not recorded\n");
	}

	printf("built (%zu):\n", r->ok);
	for (k = 0; k < r->run.njobs; k++) {
		const struct rpl_run_row *j = &r->run.jobs[k];
		char prev[64] = "";
		if (strcmp(j->status, "ok"))
			continue;
		rpl_report_fmt_secs(j->duration, d, sizeof(d));
		if (j->prev_run) {
			char p[32];
			rpl_report_fmt_secs(j->prev_duration, p, sizeof(p));
			snprintf(prev, sizeof(prev), "  (%s in run %lld)", p,
			         (long long)j->prev_run);
		}
		printf("  %8s  %s%s%s\n", d, row_name(j, name, sizeof(name)),
		       j->critical > 0 ? "  [critical path]" : "", prev);
	}
	printf("failed (%zu):\n", r->nfailures);
	for (k = 0; k < r->nfailures; k++) {
		const struct rpl_run_row *j = r->failures[k];
		const struct rpl_report_group *g = rpl_report_group_of(r, j);
		rpl_report_fmt_secs(j->duration, d, sizeof(d));
		printf("  %8s  %s %s: %s\n", d, row_name(j, name, sizeof(name)), j->status,
		       j->message ? j->message : "failed");
		printf("            log: %s", j->log ? j->log : "(none)");
		if (g)
			printf("; %zu skipped because of it", g->njobs);
		putchar('\n');
	}
	printf("skipped (%zu)%s\n", r->skipped,
	       r->skipped ? ", by the failure they waited on:" : ":");
	for (size_t g = 0; g < r->ngroups; g++) {
		const struct rpl_report_group *grp = &r->groups[g];
		if (grp->cause)
			printf("  %zu waited on %s:", grp->njobs,
			       row_name(grp->cause, name, sizeof(name)));
		else
			printf("  %zu %s:", grp->njobs, grp->why);
		for (k = 0; k < grp->njobs; k++) {
			if (verbose) {
				printf("\n    %s", row_name(grp->jobs[k], name, sizeof(name)));
				continue;
			}
			if (k == GROUP_NAMES) {
				printf(" and %zu more (-v lists them)", grp->njobs - k);
				break;
			}
			printf("%s %s", k ? "," : "", row_name(grp->jobs[k], name, sizeof(name)));
		}
		putchar('\n');
	}
	if (r->cancelled + r->not_run) {
		printf("not finished (%zu):\n", r->cancelled + r->not_run);
		for (k = 0; k < r->run.njobs; k++) {
			const struct rpl_run_row *j = &r->run.jobs[k];
			if (!strcmp(j->status, "cancelled") || !strcmp(j->status, "not run"))
				printf("  %s %s\n", row_name(j, name, sizeof(name)), j->status);
		}
	}
}

static int one_run(struct rpl_cli *cli, int64_t id, int verbose)
{
	struct rpl_state *st = open_store();
	struct rpl_report r;

	load_run(st, id, &r);
	rpl_state_close(st);
	if (cli->json) {
		json_t *j = rpl_report_json(&r);
		rpl_cli_print_json(j);
		json_decref(j);
	} else {
		print_run(&r, verbose);
	}
	rpl_report_release(&r);
	return RPL_EXIT_OK;
}

static const struct option report_opts[] = {
	{ "html", required_argument, NULL, 'H' },
	{ "no-wait", no_argument, NULL, 'W' },
	{ NULL, 0, NULL, 0 },
};

static const char report_usage[] =
        "usage: ripple report [RUN] --html FILE [--json] [-C DIR] [--no-wait]\n"
        "\n"
        "Writes the report of RUN (a run's number, or 'last', the default) as one\n"
        "self-contained HTML page, FILE ('-': stdout), written whole to a temporary\n"
        "file and renamed: the run's counts; a timeline of every job in the lane it\n"
        "ran in, with the critical path drawn over it; each failure with the end of\n"
        "its log; the skipped jobs grouped by the failure they waited on; the jobs\n"
        "slower than their previous build; and every job with its duration against\n"
        "its previous build.  The page loads nothing from anywhere.  FILE is relative\n"
        "to the monorepo root, as every path of ripple's; `ripple build\n"
        "--report-html FILE` writes the same page at the end of a build.  --json also\n"
        "prints the run as `ripple history RUN --json` does.  It reads the state\n"
        "while a build runs, as `ripple history` does.\n";

int rpl_cmd_report(struct rpl_cli *cli, int argc, char **argv)
{
	struct hopts o = { 10, 0, NULL };
	struct rpl_state *st;
	struct rpl_report r;
	int64_t id = 0;
	int first;

	first = rpl_cli_getopt(cli, argc, argv, report_usage, report_opts, "", history_opt, &o);
	if (first + 1 < argc || !o.html)
		rpl_cli_usage(report_usage, RPL_EXIT_USAGE);
	if (cli->json && !strcmp(o.html, "-"))
		rpl_die(RPL_EXIT_USAGE, "--json and --html - would both write to stdout");
	if (first < argc)
		id = run_number(argv[first]);
	rpl_cli_enter(cli);
	st = open_store();
	load_run(st, id, &r);
	rpl_state_close(st);
	{
		struct rpl_strbuf page = RPL_STRBUF_INIT;
		rpl_report_html(&r, &page);
		if (!strcmp(o.html, "-")) {
			if (fwrite(page.buf, 1, page.len, stdout) != page.len)
				rpl_die(RPL_EXIT_FAILED, "cannot write the page: %s",
				        strerror(errno));
		} else if (rpl_write_file_atomic(o.html, page.buf, page.len)) {
			rpl_die(RPL_EXIT_FAILED, "%s", rpl_errmsg());
		}
		rpl_strbuf_release(&page);
	}
	if (cli->json) {
		json_t *j = rpl_report_json(&r);
		rpl_cli_print_json(j);
		json_decref(j);
	}
	rpl_report_release(&r);
	return RPL_EXIT_OK;
}

int rpl_cmd_history(struct rpl_cli *cli, int argc, char **argv)
{
	struct hopts o = { 10, 0, NULL };
	struct rpl_state *st;
	json_t *h, *v;
	size_t i;
	int first;

	first = rpl_cli_getopt(cli, argc, argv, history_usage, history_opts, "n:v", history_opt,
	                       &o);
	if (first + 1 < argc)
		rpl_cli_usage(history_usage, RPL_EXIT_USAGE);
	if (first < argc) {
		int64_t id = run_number(argv[first]);
		rpl_cli_enter(cli);
		return one_run(cli, id, o.verbose);
	}
	rpl_cli_enter(cli);
	st = open_store();
	if (!(h = rpl_state_history(st, o.runs)))
		rpl_die(RPL_EXIT_FAILED, "%s", rpl_errmsg());
	rpl_state_close(st);
	if (cli->json) {
		rpl_cli_print_json(h);
		json_decref(h);
		return RPL_EXIT_OK;
	}
	printf("runs:\n");
	if (!json_array_size(json_object_get(h, "runs")))
		printf("  (none yet)\n");
	json_array_foreach(json_object_get(h, "runs"), i, v)
	{
		char t[32];
		json_int_t s = json_integer_value(json_object_get(v, "started_ns")),
		           f = json_integer_value(json_object_get(v, "finished_ns"));
		when(json_integer_value(json_object_get(v, "started_ns")), t, sizeof(t));
		printf("  %-5lld %s  %-11s %3lld built %3lld failed %3lld skipped  %7.1fs  ripple %s\n",
		       (long long)json_integer_value(json_object_get(v, "id")), t, str(v, "status"),
		       (long long)json_integer_value(json_object_get(v, "built")),
		       (long long)json_integer_value(json_object_get(v, "failed")),
		       (long long)json_integer_value(json_object_get(v, "skipped")),
		       f > s ? (double)(f - s) / 1e9 : 0.0, str(v, "command"));
	}
	printf("recent failures:\n");
	if (!json_array_size(json_object_get(h, "failures")))
		printf("  (none)\n");
	json_array_foreach(json_object_get(h, "failures"), i, v)
	{
		printf("  run %lld  %s %s (%s): %s\n    log: %s\n",
		       (long long)json_integer_value(json_object_get(v, "run")), str(v, "name"),
		       str(v, "arch"), str(v, "status"), str(v, "message"), str(v, "log"));
	}
	printf("slowest jobs (last successful build):\n");
	if (!json_array_size(json_object_get(h, "slowest")))
		printf("  (none)\n");
	json_array_foreach(json_object_get(h, "slowest"), i, v)
	{
		printf("  %8.1fs  %s %s (%s)\n", json_real_value(json_object_get(v, "duration")),
		       str(v, "name"), str(v, "arch"), str(v, "kind"));
	}
	json_decref(h);
	return RPL_EXIT_OK;
}
