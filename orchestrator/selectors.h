/*
 * What `plan`, `why`, `mark` and `build` share: the job selectors (NAMEs,
 * --all, --changed, --since, --rebuild-dependents and friends), opening the
 * state store, and making the plan from a scan (orchestrator/cmd_plan.c).
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
};

/* The --help text of the selectors, and their options (NULL-terminated). */
extern const char rpl_selector_help[];
extern const struct option rpl_selector_options[];

/* rpl_cli_getopt's callback for the selector options (`ctx` is a struct popts). */
void rpl_selector_opt(struct rpl_cli *cli, int opt, const char *arg, void *ctx);

/*
 * After the options: the NAMEs from argv[first], the selection mode; enters
 * the monorepo and opens (locks) its state store.  Exits 2 on usage errors.
 */
void rpl_selectors_begin(struct rpl_cli *cli, int first, int argc, char **argv, struct popts *o,
                         struct rpl_state **st);

/*
 * Scans (through the parse cache) and makes the plan.  Recipes that do not
 * parse stop it (exit 2): a plan without them would be wrong.
 */
void rpl_selectors_plan(struct rpl_cli *cli, struct popts *o, struct rpl_scan *scan,
                        struct rpl_state *st, struct rpl_plan *p);

#endif
