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

const char rpl_selector_help[] =
        "selectors (default: every job whose inputs differ from its last recorded build):\n"
        "  NAME...                 these packages (origin or subpackage names) or images\n"
        "  --all                   every job that is not up to date (with --force: every job)\n"
        "  --changed               jobs reading a file changed since the merge-base of HEAD\n"
        "                          with its upstream (else HEAD~1), including staged,\n"
        "                          unstaged and untracked changes\n"
        "  --since REF             the same against REF\n"
        "  --rebuild-dependents    also every package that builds against a selected one\n"
        "                          (transitively); images always follow their packages\n"
        "  --force                 also the selected jobs that are up to date (without it,\n"
        "                          a job built from exactly the same inputs is left out)\n"
        "\n"
        "  -C DIR                  the monorepo root (default: .)\n"
        "  --arch A[,B]            architectures (default: .ripple.yaml archs, else the host's)\n"
        "  --no-wait               fail (exit 75) instead of waiting when another ripple\n"
        "                          holds the state; plan and why never wait: they read it\n"

        "  -h, --help              show this help\n";

void rpl_selector_opt(struct rpl_cli *cli, int opt, const char *arg, void *ctx)
{
	struct popts *o = ctx;

	(void)cli;
	switch (opt) {
	case 'A':
		o->all = 1;
		break;
	case 'c':
		o->changed = 1;
		break;
	case 's':
		o->changed = 1;
		o->plan.since = arg;
		break;
	case 'R':
		o->plan.rebuild_dependents = 1;
		break;
	case 'F':
		o->plan.force = 1;
		break;
	case 'e':
		o->explain = 1;
		break;
	case 'W':
		o->no_wait = 1;
		break;
	case 'S':
		o->rescan = 1;
		break;
	}
}

const struct option rpl_selector_options[] = {
	{ "all", no_argument, NULL, 'A' },
	{ "changed", no_argument, NULL, 'c' },
	{ "since", required_argument, NULL, 's' },
	{ "rebuild-dependents", no_argument, NULL, 'R' },
	{ "explain", no_argument, NULL, 'e' },
	{ "no-wait", no_argument, NULL, 'W' },
	{ "rescan", no_argument, NULL, 'S' },
	{ "force", no_argument, NULL, 'F' },
	{ NULL, 0, NULL, 0 },
};

void rpl_selectors_begin(struct rpl_cli *cli, int first, int argc, char **argv, struct popts *o,
                         struct rpl_state **st)
{
	int err;

	o->plan.names = argv + first;
	o->plan.nnames = (size_t)(argc - first);
	if (o->all + o->changed + (o->plan.nnames > 0) > 1)
		rpl_die(RPL_EXIT_USAGE, "choose one of NAMEs, --all and --changed/--since");
	/* --all without --force selects what the default does (plan.h). */
	o->plan.mode = o->all           ? (o->plan.force ? RPL_SELECT_ALL : RPL_SELECT_STALE)
	               : o->changed     ? RPL_SELECT_CHANGED
	               : o->plan.nnames ? RPL_SELECT_NAMES
	                                : RPL_SELECT_STALE;
	rpl_cli_enter(cli);
	if ((err = rpl_state_open(st, ".",
	                          o->reader    ? RPL_STATE_TRY
	                          : o->no_wait ? RPL_STATE_NO_WAIT
	                                       : RPL_STATE_WAIT)))
		rpl_die(err == -EWOULDBLOCK ? RPL_EXIT_BUSY : RPL_EXIT_USAGE, "%s", rpl_errmsg());
}

/* Parses a plan command's selectors, enters the monorepo and opens its state store. */
static void begin(struct rpl_cli *cli, int argc, char **argv, const char *usage, struct popts *o,
                  struct rpl_state **st)
{
	int first = rpl_cli_getopt(cli, argc, argv, usage, rpl_selector_options, NULL,
	                           rpl_selector_opt, o);

	rpl_selectors_begin(cli, first, argc, argv, o, st);
}

/*
 * Scans and makes the plan.  Recipes that do not parse stop it (exit 2):
 * a plan without them would be wrong.
 */
/* The parse cache, read from the state store once for the worker threads. */
struct pcache {
	struct rpl_arena arena;
	struct rpl_strmap rows; /* file -> struct prow */
	struct rpl_state *st;   /* preloaded: its stat cache is read-only meanwhile */
};

static int pcache_digest(void *ctx, const char *file, uint8_t out[RPL_SHA256_LEN])
{
	const struct pcache *pc = ctx;

	return rpl_state_digest_known(pc->st, file, out);
}

struct prow {
	uint8_t key[RPL_SHA256_LEN];
	const void *data;
	size_t len;
};

static void pcache_row(void *ctx, const char *file, const uint8_t *key, const void *data,
                       size_t len)
{
	struct pcache *pc = ctx;
	struct prow *r = rpl_arena_alloc(&pc->arena, sizeof(*r));

	memcpy(r->key, key, RPL_SHA256_LEN);
	r->data = rpl_arena_memdup(&pc->arena, data, len, 1);
	r->len = len;
	rpl_strmap_slot(&pc->rows, rpl_arena_strdup(&pc->arena, file))->value = r;
}

static const void *pcache_get(void *ctx, const char *file, const uint8_t key[RPL_SHA256_LEN],
                              size_t *len)
{
	const struct pcache *pc = ctx;
	const struct prow *r = rpl_strmap_get(&pc->rows, file);

	if (!r || memcmp(r->key, key, RPL_SHA256_LEN))
		return NULL;
	*len = r->len;
	return r->data;
}

/*
 * Writes what the scan parsed afresh into the parse cache and forgets the
 * rows of recipes that are gone, in one transaction.
 */
static int pcache_store(struct rpl_state *st, const struct pcache *pc, const struct rpl_scan *scan)
{
	struct rpl_strmap present = RPL_STRMAP_INIT;
	int err = rpl_state_begin(st);

	for (size_t i = 0; !err && i < scan->nentries; i++) {
		const struct rpl_scan_entry *e = &scan->entries[i];
		rpl_strmap_slot(&present, e->file)->value = (void *)e;
		if (e->cache_data && !e->error)
			err = rpl_state_parse_put(st, e->file, e->cache_key, e->cache_data,
			                          e->cache_len);
	}
	for (size_t i = 0; !err && i < pc->rows.cap; i++) {
		const char *file = pc->rows.slots[i].key;
		if (file && !rpl_strmap_get(&present, file))
			err = rpl_state_parse_delete(st, file);
	}
	if (!err)
		err = rpl_state_commit(st);
	rpl_strmap_release(&present);
	return err;
}

void rpl_selectors_plan(struct rpl_cli *cli, struct popts *o, struct rpl_scan *scan,
                        struct rpl_state *st, struct rpl_plan *p)
{
	struct pcache pc = { RPL_ARENA_INIT, RPL_STRMAP_INIT, NULL };

	struct rpl_scan_cache cache = { pcache_get, pcache_digest, &pc, { 0 } };
	int err;

	pc.st = st;
	rpl_arena_init(&pc.arena);
	if (rpl_state_preload(st))
		rpl_warn("%s", rpl_errmsg());
	rpl_self_identity(cache.salt);
	if (rpl_state_parse_each(st, pcache_row, &pc))
		rpl_warn("%s (parsing everything)", rpl_errmsg());
	rpl_cli_scan(cli, scan, 1, &cache);
	if (pcache_store(st, &pc, scan))
		rpl_warn("%s", rpl_errmsg());
	rpl_strmap_release(&pc.rows);
	rpl_arena_release(&pc.arena);

	if (scan->nerrors)
		rpl_die(RPL_EXIT_USAGE, "%zu recipe%s did not parse; fix them first", scan->nerrors,
		        scan->nerrors == 1 ? "" : "s");
	if ((err = rpl_plan_make(p, scan, st, &o->plan)))
		rpl_die(RPL_EXIT_USAGE, "%s", rpl_errmsg());
}

/*
 * The memo key of a staleness plan: the tree, the records' generation, the
 * options and the ripple binary itself (a rebuilt ripple may hash
 * differently).  See orchestrator/memo.h.
 */
static void memo_key(const struct rpl_cli *cli, const struct popts *o, struct rpl_state *st,
                     const struct rpl_tree_print *tp, char hex[RPL_SHA256_HEX])
{
	struct rpl_sha256 h;
	uint8_t d[RPL_SHA256_LEN];
	struct stat exe;
	int64_t v[4] = { rpl_state_generation(st), o->plan.rebuild_dependents, 0, 0 };

	if (stat("/proc/self/exe", &exe) == 0) {
		v[2] = (int64_t)exe.st_size;
		v[3] = (int64_t)exe.st_mtim.tv_sec * 1000000000 + exe.st_mtim.tv_nsec;
	}
	rpl_sha256_init(&h);
	rpl_sha256_update(&h, "ripple noop memo 1", 18);
	rpl_sha256_update(&h, tp->digest, sizeof(tp->digest));
	rpl_sha256_update(&h, v, sizeof(v));
	for (size_t i = 0; i < cli->narchs; i++)
		rpl_sha256_update_str(&h, cli->archs[i]);
	rpl_sha256_update_str(&h, o->plan.runner ? o->plan.runner : "auto"); /* as rpl_plan_make */
	rpl_sha256_final(&h, d);
	rpl_hex(d, sizeof(d), hex);
}

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int rpl_noop_check(struct rpl_cli *cli, const struct popts *o, struct rpl_state *st,
                   struct rpl_tree_files *files, struct rpl_noop *n, char *what, size_t wn)
{
	struct rpl_tree_print tp;
	char memo[128] = "";
	int64_t started = now_ns();

	memset(n, 0, sizeof(*n));
	if (rpl_tree_fingerprint(".", &tp, files) != 0)
		return 0;
	n->walked = 1;
	/* A file changed within the last second may change again unseen. */
	n->settled = tp.newest_ns < started - 1000000000;
	memo_key(cli, o, st, &tp, n->key);
	if (o->rescan || !rpl_state_meta_get(st, "noop:stale", memo, sizeof(memo)) ||
	    strncmp(memo, n->key, RPL_SHA256_HEX - 1) || memo[RPL_SHA256_HEX - 1] != ' ')
		return 0;
	snprintf(what, wn, "%s", memo + RPL_SHA256_HEX);
	return 1;
}

void rpl_noop_forget(struct rpl_state *st)
{
	if (rpl_state_meta_set(st, "noop:stale", ""))
		rpl_warn("%s", rpl_errmsg());
}

void rpl_noop_save(struct rpl_state *st, const struct rpl_noop *n, size_t njobs)
{
	char memo[128];

	if (!n->walked || !n->settled)
		return;
	snprintf(memo, sizeof(memo), "%s %zu job%s", n->key, njobs, njobs == 1 ? "" : "s");
	if (rpl_state_meta_set(st, "noop:stale", memo))
		rpl_warn("%s", rpl_errmsg());
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

int rpl_cmd_plan(struct rpl_cli *cli, int argc, char **argv)
{
	struct popts o = { 0 };
	struct rpl_scan scan, *scanned = NULL;
	struct rpl_state *st;
	struct rpl_plan p;
	char usage[4096];
	size_t npkg = 0;

	struct rpl_changes changes;
	struct rpl_tree_print tp;
	struct rpl_tree_files files = RPL_TREE_FILES_INIT;
	struct rpl_snapshot_use use = { "", 0, 0, 0 };
	uint8_t skey[RPL_SHA256_LEN];
	int walked = 0, from_snapshot = 0;

	struct rpl_noop noop = { "", 0, 0 };
	int64_t started = now_ns();
	struct git_ask ask = { NULL, NULL, 0, "" };
	uv_thread_t asker;
	int asking = 0;

	snprintf(usage, sizeof(usage), "%s%s", plan_usage, rpl_selector_help);
	o.reader = 1; /* a plan does not wait for a build */
	begin(cli, argc, argv, usage, &o, &st);
	/* The tree as it is (for the memo, the snapshot and the stat cache)
	 * and, for --changed, what git says, both at once: each is a walk of
	 * the work tree. */
	if (o.plan.mode == RPL_SELECT_CHANGED) {
		ask.since = o.plan.since;
		asking = uv_thread_create(&asker, ask_git, &ask) == 0;
		if (!asking)
			ask_git(&ask);
	}
	/* The warm no-op: the same tree, records and options as a plan that
	 * had nothing to do. */
	if (o.plan.mode == RPL_SELECT_STALE) {
		char what[64];
		if (rpl_noop_check(cli, &o, st, &files, &noop, what, sizeof(what))) {
			if (cli->json)
				printf("{\n  \"jobs\": []\n}\n");
			else
				printf("nothing to do: %s up to date\n", what);
			rpl_state_close(st);
			rpl_tree_files_release(&files);
			return RPL_EXIT_OK;
		}
		walked = noop.walked;
	} else if (o.plan.mode == RPL_SELECT_CHANGED) {
		walked = rpl_tree_fingerprint(".", &tp, &files) == 0;
	}
	if (asking)
		uv_thread_join(&asker);
	/* --changed with nothing changed: no recipe needs reading. */
	if (o.plan.mode == RPL_SELECT_CHANGED) {
		int err = ask.err;

		if (err)
			rpl_die(RPL_EXIT_USAGE, "%s", ask.msg);
		if (walked)
			err = rpl_git_scan_finish(ask.scan, &files, &changes);
		else
			err = rpl_git_changes(".", o.plan.since, &changes);
		rpl_git_scan_free(ask.scan);
		if (err)
			rpl_die(RPL_EXIT_USAGE, "%s", rpl_errmsg());
		o.plan.changes = &changes;
		if (!changes.npaths) {
			if (cli->json) {
				json_t *j = json_pack("{s:[],s:s}", "jobs", "base", changes.base);
				rpl_cli_print_json(j);
				json_decref(j);
			} else

				printf("changes since %s\nnothing to do: no file changed\n",
				       changes.base);
			rpl_changes_release(&changes);
			rpl_state_close(st);
			rpl_tree_files_release(&files);
			return RPL_EXIT_OK;
		}
	}
	/* After a small edit: the plan from what the last scan kept. */
	if (walked) {
		rpl_snapshot_key(cli->archs, cli->narchs, o.plan.runner, skey);
		if (o.rescan)
			snprintf(use.why, sizeof(use.why), "--rescan");
		else if ((from_snapshot =
		                  rpl_snapshot_plan(&p, st, ".", skey, &files, &o.plan, &use)) < 0)
			rpl_die(RPL_EXIT_USAGE, "%s", rpl_errmsg());
	}
	if (!from_snapshot) {
		/* The walk's stats serve the digests: no second stat of every file. */
		if (walked)
			rpl_state_use_stats(st, rpl_tree_files_index(&files));
		rpl_selectors_plan(cli, &o, &scan, st, &p);
		scanned = &scan;
		if (walked && rpl_snapshot_save(st, skey, &scan, &p, &files, started))
			rpl_warn("%s (the next plan scans again)", rpl_errmsg());
		rpl_state_use_stats(st, NULL);
	}
	if (o.plan.mode == RPL_SELECT_CHANGED)
		rpl_changes_release(&changes);
	if (o.plan.mode == RPL_SELECT_STALE && !p.norder)
		rpl_noop_save(st, &noop, p.njobs);
	if (cli->json) {
		json_t *j = rpl_plan_json(&p);
		rpl_cli_print_json(j);
		json_decref(j);
		finish(scanned, st, &p);
		rpl_tree_files_release(&files);
		return RPL_EXIT_OK;
	}
	if (o.explain && walked) {
		if (from_snapshot)
			printf("from the snapshot of the last scan: %zu input file%s changed, %zu "
			       "job%s hashed again, %zu recipe%s parsed again\n",
			       use.changed, use.changed == 1 ? "" : "s", use.jobs,
			       use.jobs == 1 ? "" : "s", use.reparsed,
			       use.reparsed == 1 ? "" : "s");
		else
			printf("scanned every recipe: %s\n", use.why);
	}
	for (size_t i = 0; i < p.norder; i++)
		npkg += p.order[i]->node->kind == RPL_NODE_ORIGIN;
	if (p.base)
		printf("changes since %s\n", p.base);
	for (size_t i = 0; i < p.ndeleted; i++)
		printf("deleted: %s (nothing to build; its packages stay in the repository)\n",
		       p.deleted[i]);
	if (!p.norder) {
		char why[256];
		rpl_plan_nothing(&p, why, sizeof(why));
		printf("nothing to do: %s\n", why);
	} else {
		printf("%zu job%s (%zu package%s, %zu image%s) of %zu:\n", p.norder,
		       p.norder == 1 ? "" : "s", npkg, npkg == 1 ? "" : "s", p.norder - npkg,
		       p.norder - npkg == 1 ? "" : "s", p.njobs);
		for (size_t i = 0; i < p.norder; i++) {
			const struct rpl_job *j = p.order[i];
			printf("  %-32s %-8s %s%s\n", j->node->name, j->arch, j->reasons[0],
			       j->nreasons > 1 && !o.explain ? " ..." : "");
			for (size_t k = 1; o.explain && k < j->nreasons; k++)
				printf("  %-32s %-8s %s\n", "", "", j->reasons[k]);
			if (o.explain)
				explain_cycle(&p, j);
		}
		if (p.nup_to_date)
			printf("%zu more selected job%s up to date (--force rebuilds %s)\n",
			       p.nup_to_date, p.nup_to_date == 1 ? " is" : "s are",
			       p.nup_to_date == 1 ? "it" : "them");
	}
	finish(scanned, st, &p);
	rpl_tree_files_release(&files);
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
