/*
 * `ripple status`: the build running in this monorepo, seen from another
 * terminal, from what it publishes (orchestrator/progress.h) and from who
 * holds the state store's lock.  It reads; it takes no lock and waits for
 * nothing.
 */
#include "common/error.h"
#include "orchestrator/cli.h"
#include "orchestrator/leftover.h"
#include "orchestrator/progress.h"
#include "orchestrator/report.h"
#include "orchestrator/state.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static const char status_usage[] =
        "usage: ripple status [--json] [-C DIR]\n"
        "\n"
        "The build running in this monorepo, from another terminal: its run and\n"
        "command, how many of its jobs are done, failed and skipped, the jobs running\n"
        "and for how long, the time since it started and an ETA (from each job's last\n"
        "recorded duration, spread over its -j lanes and along the longest chain of\n"
        "jobs still to run; a job never built counts as the scheduler's guess).\n"
        "With no build running it says so, and how the last one ended.\n"
        "\n"
        "--json prints {\"live\": true|false, ...} with the build's own status\n"
        "(docs/build.md), its elapsed and ETA seconds as of now.  Exit status: 0\n"
        "whether a build runs or not; 2 for bad usage or an unreadable status file.\n";

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static json_int_t num(json_t *o, const char *key)
{
	return json_integer_value(json_object_get(o, key));
}

static const char *text(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s ? s : "";
}

static double since(int64_t then, int64_t now)
{
	return then && now > then ? (double)(now - then) / 1e9 : 0;
}

/*
 * Whether the build that wrote `st` is running now: its file says so and
 * its pid holds the lock.  Without /proc/locks to ask, whether that pid is
 * alive.  `holder` gets the lock's holder (0: none or not seen).
 */
static int is_live(json_t *st, long *holder)
{
	long pid = (long)num(st, "pid");
	int held = rpl_state_holder(".", holder);

	if (held < 0) {
		*holder = 0;
		return !strcmp(text(st, "state"), "running") && rpl_leftover_alive(pid);
	}
	return held && !strcmp(text(st, "state"), "running") && (*holder == pid || !*holder);
}

/* The status as of `now`: the build's own fields, with elapsed and ETA brought up to date. */
static json_t *as_of(json_t *st, int live, int64_t now)
{
	json_t *o = st ? json_deep_copy(st) : json_object(), *eta, *v;
	size_t i;

	json_object_set_new(o, "live", json_boolean(live));
	if (!st || !live)
		return o;
	json_object_set_new(o, "elapsed_seconds", json_real(since(num(st, "started_ns"), now)));
	if ((eta = json_object_get(st, "eta_seconds")) && json_is_number(eta)) {
		double left = json_number_value(eta) - since(num(st, "updated_ns"), now);
		json_object_set_new(o, "eta_seconds", json_real(left > 0 ? left : 0));
	}
	json_array_foreach(json_object_get(o, "running"), i, v)
	        json_object_set_new(v, "seconds", json_real(since(num(v, "started_ns"), now)));
	return o;
}

static void print_live(json_t *o)
{
	char t[32], e[32];
	json_t *v;
	size_t i;

	printf("run %lld (pid %lld): ripple %s\n", (long long)num(o, "run"),
	       (long long)num(o, "pid"), text(o, "command"));
	rpl_report_fmt_secs(json_number_value(json_object_get(o, "elapsed_seconds")), t, sizeof(t));
	printf("[%lld/%lld] %lld built, %lld failed, %lld skipped; %s elapsed",
	       (long long)num(o, "done"), (long long)num(o, "total"), (long long)num(o, "ok"),
	       (long long)num(o, "failed"), (long long)num(o, "skipped"), t);
	if (json_is_number(json_object_get(o, "eta_seconds"))) {
		rpl_report_fmt_secs(json_number_value(json_object_get(o, "eta_seconds")), e,
		                    sizeof(e));
		printf(", ETA %s", e);
	}
	printf(" (-j %lld)\n", (long long)num(o, "jobs"));
	printf("running (%zu):\n", json_array_size(json_object_get(o, "running")));
	json_array_foreach(json_object_get(o, "running"), i, v)
	{
		char name[512];
		snprintf(name, sizeof(name), "%s%s %s",
		         !strcmp(text(v, "kind"), "image") ? "image " : "", text(v, "name"),
		         text(v, "arch"));
		rpl_report_fmt_secs(json_number_value(json_object_get(v, "seconds")), t, sizeof(t));
		rpl_report_fmt_secs(json_number_value(json_object_get(v, "estimate")), e,
		                    sizeof(e));
		printf("  %-40s %8s  (expected %s)\n", name, t, e);
	}
}

int rpl_cmd_status(struct rpl_cli *cli, int argc, char **argv)
{
	json_t *st = NULL, *o;
	long holder = 0;
	int first, found, live = 0;

	first = rpl_cli_getopt(cli, argc, argv, status_usage, NULL, NULL, NULL, NULL);
	if (first < argc)
		rpl_cli_usage(status_usage, RPL_EXIT_USAGE);
	rpl_cli_enter(cli);
	if ((found = rpl_progress_read(&st)) < 0)
		rpl_die(RPL_EXIT_USAGE, "%s", rpl_errmsg());
	if (found)
		live = is_live(st, &holder);
	else if (rpl_state_holder(".", &holder) < 0)
		holder = 0;
	o = as_of(st, live, now_ns());
	if (cli->json) {
		rpl_cli_print_json(o);
	} else if (live) {
		print_live(o);
	} else {
		printf("no build running");
		if (holder)
			printf(" (ripple pid %ld holds the state store)", holder);
		if (!found)
			printf("\n");
		else if (!strcmp(text(st, "state"), "running"))
			printf("; run %lld (pid %lld) stopped without finishing: killed? (ripple "
			       "history %lld)\n",
			       (long long)num(st, "run"), (long long)num(st, "pid"),
			       (long long)num(st, "run"));
		else
			printf("; the last, run %lld, ended %s: %lld built, %lld failed, %lld skipped of "
			       "%lld (ripple history %lld)\n",
			       (long long)num(st, "run"), text(st, "state"),
			       (long long)num(st, "ok"), (long long)num(st, "failed"),
			       (long long)num(st, "skipped"), (long long)num(st, "total"),
			       (long long)num(st, "run"));
	}
	json_decref(o);
	json_decref(st);
	return RPL_EXIT_OK;
}
