/*
 * The plan snapshot: a plan after a small edit, without reading a recipe.
 *
 * A plan made from a full scan ends by keeping in the state store what it
 * derived from the tree: each arch's graph, every job's input files, own
 * and input hash, and the stat and digest of every file of the tree.  The
 * next plan walks the tree (the no-op memo walks it anyway) and compares.
 * When no file that shapes the scan changed — recipes (but for edits that
 * leave what planning knows of a recipe as it was), images and their
 * includes, pipelines and .ripple.yaml (rpl_scan_structural: by path,
 * whatever the edit), and the env files that may appear — only the jobs that
 * read a changed, added or removed file get new own hashes, input hashes
 * follow along the kept edges, and selection runs as after a scan
 * (rpl_plan_select).  Otherwise the caller scans and saves a new snapshot.
 *
 * The snapshot holds no job records: staleness is still decided against
 * the records of the moment.
 */
#ifndef RPL_SNAPSHOT_H
#define RPL_SNAPSHOT_H

#include "common/sha256.h"

#include <stddef.h>
#include <stdint.h>

struct rpl_plan;
struct rpl_plan_opts;
struct rpl_scan;
struct rpl_state;
struct rpl_tree_files;

/*
 * What a snapshot is valid for besides the tree: the archs asked for
 * (NULL: the repo's, decided by .ripple.yaml and the host), the runner and
 * this ripple binary.
 */
void rpl_snapshot_key(const char *const *archs, size_t narchs, const char *runner,
                      uint8_t out[RPL_SHA256_LEN]);

/*
 * Keeps what `p`, made from `scan`, derived from the tree.  `files` is the
 * walk taken before the plan began at `started_ns` (files changed within a
 * second of it are marked to be hashed again, git's racy rule).  Returns 0
 * or an error; the caller may carry on without a snapshot.
 */
int rpl_snapshot_save(struct rpl_state *st, const uint8_t key[RPL_SHA256_LEN],
                      const struct rpl_scan *scan, const struct rpl_plan *p,
                      const struct rpl_tree_files *files, int64_t started_ns);

struct rpl_snapshot_use {
	char why[512];   /* when it could not serve: the first reason */
	size_t changed;  /* input files changed, added or removed since it was made */
	size_t jobs;     /* jobs whose own hash was taken again */
	size_t reparsed; /* recipes parsed again (their text changed) */
};

/*
 * Makes the plan for `o` from the snapshot and the walk `files` of the
 * tree at `root`.  Returns 1 with `p` made, 0 when the snapshot cannot
 * serve (`use->why` says why; `p` is left released), or an error.
 */
int rpl_snapshot_plan(struct rpl_plan *p, struct rpl_state *st, const char *root,
                      const uint8_t key[RPL_SHA256_LEN], struct rpl_tree_files *files,
                      const struct rpl_plan_opts *o, struct rpl_snapshot_use *use);

#endif
