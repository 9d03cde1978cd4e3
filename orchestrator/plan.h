/*
 * The plan: which jobs (package or image, arch) must run, in what order,
 * and why.  A job's *own hash* covers the bytes of every file it reads, its
 * arch and the runner; its *input hash* adds the input hashes of what it
 * builds against in the repo (a Merkle chain, see plan.c).
 *
 * One selection, shared by plan, plan --explain, why, build --dry-run and
 * build (docs/incremental.md, "Selecting jobs").  A job is *stale* when no
 * successful build is recorded, its own hash differs from the record's, a
 * forced rebuild of it did not finish (orchestrator/forced.h), or (an
 * image always; a package outside the default selection) what it would be
 * built against now is not what it was built against.
 *
 *   default,       every stale job; then `--rebuild-dependents` adds every
 *   --all          package that builds against a selected one, transitively,
 *                  and every package whose dependencies were rebuilt since
 *                  its last build; an image follows the packages it installs
 *   --changed      the jobs that read a file git reports changed against the
 *   --since REF    base (and the working tree: staged, unstaged, untracked),
 *   NAMEs          or those named, and what follows them (images; packages
 *   --all --force  with --rebuild-dependents), less those that are up to
 *                  date and follow nothing rebuilt, unless --force
 */
#ifndef RPL_PLAN_H
#define RPL_PLAN_H

#include "common/arena.h"
#include "common/sha256.h"

#include <stddef.h>
#include <stdint.h>

struct rpl_scan;
struct rpl_state;
struct rpl_graph;
struct rpl_node;
struct json_t;
struct rpl_changes;
struct rpl_forced;

enum rpl_select {
	RPL_SELECT_STALE,
	RPL_SELECT_ALL,
	RPL_SELECT_CHANGED, /* git: --changed or --since */
	RPL_SELECT_NAMES,
};

struct rpl_plan_opts {
	enum rpl_select mode;
	const char *since; /* RPL_SELECT_CHANGED: the base; NULL for --changed's default */
	/* RPL_SELECT_CHANGED: what git reports, when the caller already asked
	 * (NULL: rpl_plan_make asks). */
	const struct rpl_changes *changes;

	char *const *names; /* RPL_SELECT_NAMES */
	size_t nnames;
	int rebuild_dependents;
	int force;          /* keep every candidate, stale or not */
	const char *runner; /* part of every own hash: output depends on it */
};

struct rpl_job {
	struct rpl_node *node;
	struct rpl_graph *graph;
	const char *arch;
	const char *kind; /* "package" or "image" */
	uint8_t own[RPL_SHA256_LEN];
	uint8_t input[RPL_SHA256_LEN];
	char **inputs; /* files read, relative to the root, sorted */
	uint8_t (*digests)[RPL_SHA256_LEN];
	size_t ninputs;
	const char **reasons;
	size_t nreasons, reasons_alloc;
	int selected;
	/* `input` is already right (a snapshot's), unless something the job
	 * builds against got a new one: rpl_plan_select then computes it. */
	int input_known;
	int picked;       /* the selector itself picked it (a NAME, a changed file) */
	int candidate;    /* picked, or follows a candidate (see plan.c); then filtered */
	int stale;        /* its record says it must be rebuilt (see the top) */
	int recorded;     /* the state store has a successful build of it */
	int own_recorded; /* its last record (ok or not) has this same own hash */
	uint8_t recorded_input[RPL_SHA256_LEN];
};

struct rpl_plan {
	struct rpl_arena arena;
	struct rpl_graph *graphs; /* one per arch of the scan */
	size_t ngraphs;
	struct rpl_job *jobs; /* every job */
	size_t njobs;
	struct rpl_job **order; /* the selected ones, dependencies first */
	size_t norder;
	char **deleted; /* recipes and images git reports deleted */
	size_t ndeleted;
	char *base;                /* the git base, for --changed/--since */
	struct rpl_job ***job_of;  /* per graph, per node id: its job (after rpl_plan_select) */
	enum rpl_select mode;      /* as selected: --all without --force is the default */
	size_t ncandidates;        /* candidates: picked, or following those */
	size_t nup_to_date;        /* of those, left out as up to date */
	size_t nstale_left;        /* stale jobs the selectors did not pick */
	struct rpl_forced *forced; /* forced rebuilds not yet done (NULL: none) */
};

/*
 * Makes the plan for `scan` (compiled for its archs).  `st` may be NULL
 * (no stat cache, no records: every job counts as never built).  Returns 0
 * or an error with a message (bad name, git failure, unreadable input).
 */
int rpl_plan_make(struct rpl_plan *p, const struct rpl_scan *scan, struct rpl_state *st,
                  const struct rpl_plan_opts *o);
void rpl_plan_release(struct rpl_plan *p);

/*
 * The part of every plan that follows its jobs: input hashes (along the
 * graphs' edges), selection by `o`, propagation to dependents and images,
 * and the order.  `p` has its graphs and jobs (own hashes and inputs set);
 * `root` is the monorepo, for git.  rpl_plan_make calls it, and so does a
 * plan made from a snapshot (orchestrator/snapshot.h).
 */
int rpl_plan_select(struct rpl_plan *p, const char *root, struct rpl_state *st,
                    const struct rpl_plan_opts *o);

/*
 * A job's own hash: sha256 of "ripple job 1", its kind, name, arch and
 * runner, then each input's path and sha256 (paths sorted).
 */
void rpl_own_hash(const char *kind, const char *name, const char *arch, const char *runner,
                  char *const *paths, const uint8_t (*digests)[RPL_SHA256_LEN], size_t n,
                  uint8_t out[RPL_SHA256_LEN]);

/* The job of (name, arch), an origin or image name; NULL when none. */
struct rpl_job *rpl_plan_find(const struct rpl_plan *p, const char *name, const char *arch);

/* {"jobs":[{"name","kind","arch","reasons":[...]}]} in execution order. */
struct json_t *rpl_plan_json(const struct rpl_plan *p);

/*
 * The input hash to record for `j` once it is built: its own hash and, for
 * each in-repo dependency, the input hash that dependency was last built
 * from (its planned one when it has no successful build), combined as input
 * hashes are.  It equals j->input when every dependency is up to date; when
 * one is stale and was not rebuilt first, the record says so, and `j`
 * follows that dependency when it is rebuilt.  Cycle members: j->input.
 */
int rpl_plan_built_input(const struct rpl_plan *p, const struct rpl_job *j, struct rpl_state *st,
                         uint8_t out[RPL_SHA256_LEN]);

/*
 * Why the plan selected nothing, for "nothing to do: ..." (plan) and
 * "nothing to build: ..." (build), into buf: every candidate is up to date,
 * no job reads a changed file, or no job is stale, with the number of stale
 * jobs the selectors left out.
 */
void rpl_plan_nothing(const struct rpl_plan *p, char *buf, size_t n);

/*
 * Adds to j->reasons why its record says it must be rebuilt (what
 * `ripple why` shows of a stale job the selectors did not pick), without
 * selecting it.  Returns 0 or an error.
 */
int rpl_plan_stale_reasons(struct rpl_plan *p, struct rpl_state *st, struct rpl_job *j);

/* Records each selected job as built from its current inputs (status "ok"). */
int rpl_plan_record(const struct rpl_plan *p, struct rpl_state *st);

#endif
