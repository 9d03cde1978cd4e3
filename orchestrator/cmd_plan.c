/*
 * `ripple plan`, `ripple why` and `ripple mark`: what must be rebuilt and
 * why, and recording jobs as built.
 */
#include "common/error.h"
#include "graph/graph.h"
#include "common/strmap.h"
#include "common/xalloc.h"
#include "orchestrator/cli.h"
#include "orchestrator/gitchange.h"
#include "orchestrator/memo.h"
#include "orchestrator/plan.h"
#include "orchestrator/selectors.h"
#include "orchestrator/snapshot.h"
#include "orchestrator/state.h"
#include "recipes/scan.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <uv.h>

/* Parses a plan command's selectors, enters the monorepo and opens its state store. */
static void begin(struct rpl_cli *cli, int argc, char **argv, const char *usage, struct popts *o,
                  struct rpl_state **st)
{
	int first = rpl_cli_getopt(cli, argc, argv, usage, rpl_selector_options, NULL,
	                           rpl_selector_opt, o);

	rpl_selectors_begin(cli, first, argc, argv, o, st);
}

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/*
 * The half of git's answer that needs no walk of the tree, asked on a
 * thread of its own while the tree is walked (the message comes back too).
 */
struct git_ask {
	const char *since;
	struct rpl_git_scan *scan;
	int err;
	char msg[1024];
};

static void ask_git(void *arg)
{
	struct git_ask *a = arg;

	if ((a->err = rpl_git_scan_begin(".", a->since, &a->scan)))
		snprintf(a->msg, sizeof(a->msg), "%s", rpl_errmsg());
}

/* Up to 8 names of v, space-separated, then "and N more". */
static void print_names(struct rpl_node *const *v, size_t n)
{
	for (size_t i = 0; i < n && i < 8; i++)
		printf("%s%s", i ? " " : "", v[i]->name);
	if (n > 8)
		printf(" and %zu more", n - 8);
}

/*
 * --explain for a member of a cycle: its place in the bootstrap order, the
 * members before it that it builds against and that this plan rebuilds (a
 * build waits for them), and its back edges (it builds against the copy the
 * repository already holds).
 */
static void explain_cycle(const struct rpl_plan *p, const struct rpl_job *j)
{
	const struct rpl_node *v = j->node;
	const struct rpl_scc *s = &j->graph->sccs[v->scc];
	struct rpl_job **job_of = p->job_of ? p->job_of[j->graph - p->graphs] : NULL;
	size_t before, after, nwait = 0;
	struct rpl_node **to, **wait;

	if (s->n < 2)
		return;
	to = rpl_graph_cycle_deps(j->graph, v, &before, &after);
	wait = rpl_xmalloc((before ? before : 1) * sizeof(*wait));
	for (size_t i = 0; i < before; i++)
		if (job_of && job_of[to[i]->id] && job_of[to[i]->id]->selected)
			wait[nwait++] = to[i];
	printf("  %-32s %-8s in a cycle of %zu packages, place %zu in bootstrap order: ", "", "",
	       s->n, (size_t)(v->pos - s->members[0]->pos) + 1);
	if (nwait) {
		printf("waits for ");
		print_names(wait, nwait);
		printf(" (members before it that it builds against)");
	} else {
		printf("waits for no member");
	}
	if (after) {
		printf("; back edges to ");
		print_names(to + before, after);
		printf(" (built after it: it builds against the copies the repository already "
		       "holds)");
	}
	putchar('\n');
	free(wait);
	free(to);
}

/* `scan` may be NULL: a plan from the snapshot scanned nothing. */
static void finish(struct rpl_scan *scan, struct rpl_state *st, struct rpl_plan *p)
{
	rpl_plan_release(p);
	rpl_state_close(st);
	if (scan)
		rpl_scan_release(scan);
}

static const char plan_usage[] =
        "usage: ripple plan [NAME...|--all|--changed|--since REF] [--rebuild-dependents]\n"
        "                   [--force] [--explain] [--rescan] [--json] [-C DIR] [--arch A]\n"
        "\n"
        "The jobs (package or image, arch) that must run, in the order they would run,\n"
        "each with its reasons: \"foo/fix.patch changed\", \"never built\", \"depends on\n"
        "bar (rebuilt)\".  --explain prints every reason; --json prints\n"
        "{\"jobs\":[{\"name\",\"kind\",\"arch\",\"reasons\":[...]}]}.  `ripple build` with the\n"
        "same selectors builds exactly these jobs (docs/incremental.md).\n"
        "\n"
        "After a small edit the plan comes from what the last full scan kept (the\n"
        "snapshot; docs/incremental.md); --explain says how it was made.\n"
        "  --rescan                scan every recipe and hash every input, ignoring the\n"
        "                          snapshot and the no-op memo\n"
        "\n";

/* What `ripple plan` works with, from its options to the plan it prints. */
struct planning {
	struct popts o;
	struct rpl_state *st;
	struct rpl_scan scan, *scanned; /* scanned: NULL when the plan came from the snapshot */
	struct rpl_plan p;
	struct rpl_changes changes; /* --changed, --since */
	struct rpl_tree_files files;
	struct rpl_snapshot_use use;
	struct rpl_noop noop;
	int walked, from_snapshot;
	int64_t started;
};

/*
 * The warm no-op: the same tree, records and options as a plan that had
 * nothing to do.  Prints so and returns 1 on a hit; else walks the tree
 * into `files` (when it can) and returns 0.
 */
static int noop_hit(struct rpl_cli *cli, struct planning *pl)
{
	char what[64];

	if (rpl_noop_check(cli, &pl->o, pl->st, &pl->files, &pl->noop, what, sizeof(what))) {
		if (cli->json)
			printf("{\n  \"jobs\": []\n}\n");
		else
			printf("nothing to do: %s up to date\n", what);
		return 1;
	}
	pl->walked = pl->noop.walked;
	return 0;
}

/*
 * --changed, --since: what git says changed, from the answer asked on its
 * own thread and the walk of the tree when there was one.  With nothing
 * changed no recipe needs reading: prints so and returns 0; else 1.
 */
static int changed_files(struct rpl_cli *cli, struct planning *pl, struct git_ask *ask)
{
	int err = ask->err;

	if (err)
		rpl_die(RPL_EXIT_USAGE, "%s", ask->msg);
	if (pl->walked)
		err = rpl_git_scan_finish(ask->scan, &pl->files, &pl->changes);
	else
		err = rpl_git_changes(".", pl->o.plan.since, &pl->changes);
	rpl_git_scan_free(ask->scan);
	if (err)
		rpl_die(RPL_EXIT_USAGE, "%s", rpl_errmsg());
	pl->o.plan.changes = &pl->changes;
	if (pl->changes.npaths)
		return 1;
	if (cli->json) {
		json_t *j = json_pack("{s:[],s:s}", "jobs", "base", pl->changes.base);
		rpl_cli_print_json(j);
		json_decref(j);
	} else
		printf("changes since %s\nnothing to do: no file changed\n", pl->changes.base);
	rpl_changes_release(&pl->changes);
	return 0;
}

/*
 * Makes the plan: after a small edit from what the last scan kept (the
 * snapshot), else from a scan, which then is kept for the next plan.
 */
static void make_plan(struct rpl_cli *cli, struct planning *pl)
{
	uint8_t skey[RPL_SHA256_LEN];

	if (pl->walked) {
		rpl_snapshot_key(cli->archs, cli->narchs, pl->o.plan.runner, skey);
		if (pl->o.rescan)
			snprintf(pl->use.why, sizeof(pl->use.why), "--rescan");
		else if ((pl->from_snapshot =
		                  rpl_snapshot_plan(&pl->p, pl->st, ".", skey, &pl->files,
		                                    &pl->o.plan, &pl->use)) < 0)
			rpl_die(RPL_EXIT_USAGE, "%s", rpl_errmsg());
	}
	if (!pl->from_snapshot) {
		/* The walk's stats serve the digests: no second stat of every file. */
		if (pl->walked)
			rpl_state_use_stats(pl->st, rpl_tree_files_index(&pl->files));
		rpl_selectors_plan(cli, &pl->o, &pl->scan, pl->st, &pl->p);
		pl->scanned = &pl->scan;
		if (pl->walked &&
		    rpl_snapshot_save(pl->st, skey, &pl->scan, &pl->p, &pl->files, pl->started))
			rpl_warn("%s (the next plan scans again)", rpl_errmsg());
		rpl_state_use_stats(pl->st, NULL);
	}
}

/* The plan for people: how it was made (--explain), then each job with its reasons. */
static void print_plan(const struct planning *pl)
{
	const struct rpl_plan *p = &pl->p;
	const struct rpl_snapshot_use *use = &pl->use;
	int explain = pl->o.explain;
	size_t npkg = 0;

	if (explain && pl->walked) {
		if (pl->from_snapshot)
			printf("from the snapshot of the last scan: %zu input file%s changed, %zu "
			       "job%s hashed again, %zu recipe%s parsed again\n",
			       use->changed, use->changed == 1 ? "" : "s", use->jobs,
			       use->jobs == 1 ? "" : "s", use->reparsed,
			       use->reparsed == 1 ? "" : "s");
		else
			printf("scanned every recipe: %s\n", use->why);
	}
	for (size_t i = 0; i < p->norder; i++)
		npkg += p->order[i]->node->kind == RPL_NODE_ORIGIN;
	if (p->base)
		printf("changes since %s\n", p->base);
	for (size_t i = 0; i < p->ndeleted; i++)
		printf("deleted: %s (nothing to build; its packages stay in the repository)\n",
		       p->deleted[i]);
	if (!p->norder) {
		char why[256];
		rpl_plan_nothing(p, why, sizeof(why));
		printf("nothing to do: %s\n", why);
		return;
	}
	printf("%zu job%s (%zu package%s, %zu image%s) of %zu:\n", p->norder,
	       p->norder == 1 ? "" : "s", npkg, npkg == 1 ? "" : "s", p->norder - npkg,
	       p->norder - npkg == 1 ? "" : "s", p->njobs);
	for (size_t i = 0; i < p->norder; i++) {
		const struct rpl_job *j = p->order[i];
		printf("  %-32s %-8s %s%s\n", j->node->name, j->arch, j->reasons[0],
		       j->nreasons > 1 && !explain ? " ..." : "");
		for (size_t k = 1; explain && k < j->nreasons; k++)
			printf("  %-32s %-8s %s\n", "", "", j->reasons[k]);
		if (explain)
			explain_cycle(p, j);
	}
	if (p->nup_to_date)
		printf("%zu more selected job%s up to date (--force rebuilds %s)\n", p->nup_to_date,
		       p->nup_to_date == 1 ? " is" : "s are", p->nup_to_date == 1 ? "it" : "them");
}

int rpl_cmd_plan(struct rpl_cli *cli, int argc, char **argv)
{
	struct planning pl = { .files = RPL_TREE_FILES_INIT,
		               .use = { "", 0, 0, 0 },
		               .noop = { "", 0, 0 },
		               .started = now_ns() };
	struct rpl_tree_print tp;
	char usage[4096];
	struct git_ask ask = { NULL, NULL, 0, "" };
	uv_thread_t asker;
	int asking = 0, go_on = 1;

	snprintf(usage, sizeof(usage), "%s%s", plan_usage, rpl_selector_help);
	pl.o.reader = 1; /* a plan does not wait for a build */
	begin(cli, argc, argv, usage, &pl.o, &pl.st);
	/* The tree as it is (for the memo, the snapshot and the stat cache)
	 * and, for --changed, what git says, both at once: each is a walk of
	 * the work tree. */
	if (pl.o.plan.mode == RPL_SELECT_CHANGED) {
		ask.since = pl.o.plan.since;
		asking = uv_thread_create(&asker, ask_git, &ask) == 0;
		if (!asking)
			ask_git(&ask);
	}
	if (pl.o.plan.mode == RPL_SELECT_STALE)
		go_on = !noop_hit(cli, &pl);
	else if (pl.o.plan.mode == RPL_SELECT_CHANGED)
		pl.walked = rpl_tree_fingerprint(".", &tp, &pl.files) == 0;
	if (asking)
		uv_thread_join(&asker);
	if (go_on && pl.o.plan.mode == RPL_SELECT_CHANGED)
		go_on = changed_files(cli, &pl, &ask);
	if (!go_on) {
		rpl_state_close(pl.st);
		rpl_tree_files_release(&pl.files);
		return RPL_EXIT_OK;
	}
	make_plan(cli, &pl);
	if (pl.o.plan.mode == RPL_SELECT_CHANGED)
		rpl_changes_release(&pl.changes);
	if (pl.o.plan.mode == RPL_SELECT_STALE && !pl.p.norder)
		rpl_noop_save(pl.st, &pl.noop, pl.p.njobs);
	if (cli->json) {
		json_t *j = rpl_plan_json(&pl.p);
		rpl_cli_print_json(j);
		json_decref(j);
	} else {
		print_plan(&pl);
	}
	finish(pl.scanned, pl.st, &pl.p);
	rpl_tree_files_release(&pl.files);
	return RPL_EXIT_OK;
}

static const char why_usage[] =
        "usage: ripple why NAME [--arch A] [selectors]\n"
        "\n"
        "Whether NAME would be built and why: the reasons, the files it reads, and\n"
        "the dependencies that are rebuilt with it.\n"
        "\n";

int rpl_cmd_why(struct rpl_cli *cli, int argc, char **argv)
{
	struct popts o = { 0 };
	struct rpl_scan scan;
	struct rpl_state *st;
	struct rpl_plan p;
	char usage[4096], *name;
	int status = RPL_EXIT_OK;
	size_t found = 0;

	snprintf(usage, sizeof(usage), "%s%s", why_usage, rpl_selector_help);
	/* The NAME is the subject, not a selector: take it off the operands. */
	{
		int first = rpl_cli_getopt(cli, argc, argv, usage, rpl_selector_options, NULL,
		                           rpl_selector_opt, &o);
		if (argc - first != 1) {
			fprintf(stderr, "ripple why: expected one NAME\n");
			rpl_cli_usage(usage, RPL_EXIT_USAGE);
		}
		name = argv[first];
		argc = first;
		o = (struct popts){ 0 };
	}
	o.reader = 1;
	begin(cli, argc, argv, usage, &o, &st);
	rpl_selectors_plan(cli, &o, &scan, st, &p);
	for (size_t g = 0; g < p.ngraphs; g++)
		found += rpl_plan_find(&p, name, p.graphs[g].arch) != NULL;
	if (!found) {
		fprintf(stderr, "ripple: no package or image named '%s'\n", name);
		status = RPL_EXIT_USAGE;
	}
	for (size_t g = 0; found && g < p.ngraphs; g++) {
		struct rpl_job *j = rpl_plan_find(&p, name, p.graphs[g].arch);

		if (!j) {
			printf("%s: not built for %s\n", name, p.graphs[g].arch);
			continue;
		}
		printf("%s %s (%s %s)\n", j->node->name, j->arch, j->kind, j->node->version);
		for (size_t k = 0; k < j->nreasons; k++)
			printf("  rebuild: %s\n", j->reasons[k]);
		if (!j->selected && !j->candidate && p.mode == RPL_SELECT_CHANGED)
			printf("  not selected: it reads no file changed since %s\n",
			       p.base ? p.base : "the base");
		if (!j->selected && !j->stale)
			printf("  up to date: built from these same inputs\n");
		if (!j->selected && j->stale) {
			if (rpl_plan_stale_reasons(&p, st, j))
				rpl_die(RPL_EXIT_FAILED, "%s", rpl_errmsg());
			for (size_t k = 0; k < j->nreasons; k++)
				printf("  stale: %s\n", j->reasons[k]);
		}
		printf("  reads:\n");
		for (size_t k = 0; k < j->ninputs; k++)
			printf("    %s\n", j->inputs[k]);
	}
	finish(&scan, st, &p);
	return status;
}

static const char mark_usage[] =
        "usage: ripple mark [NAME...|--all|--changed|--since REF] [-C DIR] [--arch A]\n"
        "\n"
        "Record the selected jobs as built from their current inputs, without\n"
        "building: to adopt packages built outside ripple (by melange by hand, or\n"
        "an existing repository), so that later plans only pick what changes next.\n"
        "\n";

int rpl_cmd_mark(struct rpl_cli *cli, int argc, char **argv)
{
	struct popts o = { 0 };
	struct rpl_scan scan;
	struct rpl_state *st;
	struct rpl_plan p;
	char usage[4096];
	int err;

	snprintf(usage, sizeof(usage), "%s%s", mark_usage, rpl_selector_help);
	o.plan.force = 1; /* what is selected is recorded, up to date or not */
	begin(cli, argc, argv, usage, &o, &st);
	rpl_selectors_plan(cli, &o, &scan, st, &p);
	if ((err = rpl_plan_record(&p, st)))
		rpl_die(RPL_EXIT_FAILED, "%s", rpl_errmsg());
	printf("recorded %zu job%s as built\n", p.norder, p.norder == 1 ? "" : "s");
	finish(&scan, st, &p);
	return RPL_EXIT_OK;
}
