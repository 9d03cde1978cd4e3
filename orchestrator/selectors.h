/*
 * What `plan`, `why`, `mark` and `build` share: the job selectors (NAMEs,
 * --all, --changed, --since, --rebuild-dependents, --force and friends), opening the
 * state store, and making the plan from a scan (orchestrator/selectors.c).
 */
#ifndef RPL_SELECTORS_H
#define RPL_SELECTORS_H

#include "orchestrator/cli.h"
#include "orchestrator/plan.h"

struct rpl_scan;
struct rpl_state;

struct popts {
	struct rpl_plan_opts plan;
	int explain, no_wait, all, changed, rescan;
	int reader; /* plan, why: read while another ripple writes (RPL_STATE_TRY) */
};

/* The --help text of the selectors, and their options (NULL-terminated). */
extern const char rpl_selector_help[];
extern const struct option rpl_selector_options[];

/* rpl_cli_getopt's callback for the selector options (`ctx` is a struct popts). */
void rpl_selector_opt(struct rpl_cli *cli, int opt, const char *arg, void *ctx);

/*
 * After the options: the NAMEs from argv[first], the selection mode; enters
 * the monorepo and opens (locks) its state store, or with `reader` reads it
 * when another ripple holds it.  Exits 2 on usage errors, 75 when
 * --no-wait finds the store held.
 */
void rpl_selectors_begin(struct rpl_cli *cli, int first, int argc, char **argv, struct popts *o,
                         struct rpl_state **st);

/*
 * Scans (through the parse cache) and makes the plan.  Recipes that do not
 * parse stop it (exit 2): a plan without them would be wrong.
 */
void rpl_selectors_plan(struct rpl_cli *cli, struct popts *o, struct rpl_scan *scan,
                        struct rpl_state *st, struct rpl_plan *p);

/*
 * The warm no-op of the default (staleness) selection, shared by `plan`
 * and `build`: the memo in the state store says whether a plan with the
 * same tree, records, options and ripple binary had nothing to do
 * (orchestrator/memo.h).  rpl_noop_check walks the tree (into `files`, for
 * the caller's other uses) and returns 1 on a hit with the job count in
 * `what`; rpl_noop_save records a plan that turned out to have nothing to
 * do.  Only for RPL_SELECT_STALE.
 */
struct rpl_noop {
	char key[65];
	int walked;  /* the tree was walked: `files` is filled */
	int settled; /* no file changed in the last second: a memo may be saved */
};

struct rpl_tree_files;
int rpl_noop_check(struct rpl_cli *cli, const struct popts *o, struct rpl_state *st,
                   struct rpl_tree_files *files, struct rpl_noop *n, char *what, size_t wn);
void rpl_noop_save(struct rpl_state *st, const struct rpl_noop *n, size_t njobs);
/* Drops the memo: something it does not key on (orchestrator/forced.h) changed. */
void rpl_noop_forget(struct rpl_state *st);

#endif
