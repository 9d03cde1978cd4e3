/*
 * `ripple history`: what the state store remembers of past builds — the
 * recent runs with their counts, the recent failures with their logs, and
 * the slowest jobs (their last successful build).
 */
#include "common/error.h"
#include "orchestrator/cli.h"
#include "orchestrator/state.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct hopts {
	long runs;
	int no_wait;
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
	} else if (opt == 'W') {
		o->no_wait = 1;
	}
}

static const struct option history_opts[] = {
	{ "runs", required_argument, NULL, 'n' },
	{ "no-wait", no_argument, NULL, 'W' },
	{ NULL, 0, NULL, 0 },
};

static const char history_usage[] =
        "usage: ripple history [-n RUNS] [--json] [-C DIR] [--no-wait]\n"
        "\n"
        "The last RUNS (default 10) runs of `ripple build` with how many jobs each\n"
        "built, failed and skipped; the recent failures with their messages and logs;\n"
        "and the slowest jobs as last built.  --json prints\n"
        "{\"runs\":[...],\"failures\":[...],\"slowest\":[...]}.\n";

static void when(json_t *ns, char *buf, size_t n)
{
	time_t t = (time_t)(json_integer_value(ns) / 1000000000);
	struct tm tm;

	if (!json_integer_value(ns) || !localtime_r(&t, &tm) ||
	    !strftime(buf, n, "%Y-%m-%d %H:%M:%S", &tm))
		snprintf(buf, n, "-");
}

static const char *str(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s ? s : "";
}

int rpl_cmd_history(struct rpl_cli *cli, int argc, char **argv)
{
	struct hopts o = { 10, 0 };
	struct rpl_state *st;
	json_t *h, *v;
	size_t i;
	int err;

	if (rpl_cli_getopt(cli, argc, argv, history_usage, history_opts, "n:", history_opt, &o) !=
	    argc)
		rpl_cli_usage(history_usage, RPL_EXIT_USAGE);
	rpl_cli_enter(cli);
	if ((err = rpl_state_open(&st, ".", o.no_wait)))
		rpl_die(err == -EWOULDBLOCK ? RPL_EXIT_FAILED : RPL_EXIT_USAGE, "%s", rpl_errmsg());
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
		when(json_object_get(v, "started_ns"), t, sizeof(t));
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
