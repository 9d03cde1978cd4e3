/*
 * The job selectors that `plan`, `why`, `mark` and `build` share
 * (orchestrator/selectors.h): their options, the selection mode, opening
 * the state store, the scan through the parse cache that the plan is made
 * from, and the warm no-op memo of the default selection.
 */
#include "common/error.h"
#include "common/strmap.h"
#include "common/xalloc.h"
#include "orchestrator/cli.h"
#include "orchestrator/memo.h"
#include "orchestrator/plan.h"
#include "orchestrator/selectors.h"
#include "orchestrator/state.h"
#include "recipes/scan.h"

#include <errno.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

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
 * rows of recipes that are gone, in one transaction; the encodings are
 * then freed, their digests kept.
 */
static int pcache_store(struct rpl_state *st, const struct pcache *pc, struct rpl_scan *scan)
{
	struct rpl_strmap present = RPL_STRMAP_INIT;
	int err = rpl_state_begin(st);

	for (size_t i = 0; !err && i < scan->nentries; i++) {
		struct rpl_scan_entry *e = &scan->entries[i];
		rpl_strmap_slot(&present, e->file)->value = (void *)e;
		if (e->cache_data && !e->error)
			err = rpl_state_parse_put(st, e->file, e->cache_key, e->cache_data,
			                          e->cache_len);
		/* Stored: the snapshot needs only its digest (megabytes at scale). */
		rpl_scan_entry_drop_encoding(e);
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

/* Scans through the parse cache and makes the plan (selectors.h). */
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
#ifdef __GLIBC__
	/* The scan's workers parsed whole recipes and kept summaries: give
	 * the pages they freed back before the graph is built (a fifth of a
	 * cold plan's peak RSS at Wolfi's size). */
	malloc_trim(0);
#endif

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
