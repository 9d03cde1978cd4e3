/*
 * Which files changed, from git (libgit2): what `--changed` and `--since`
 * select.  Works on a fresh clone: no state is needed.
 */
#ifndef RPL_GITCHANGE_H
#define RPL_GITCHANGE_H

#include <stddef.h>

struct rpl_changes {
	char **paths; /* relative to the monorepo root, sorted, unique; deleted ones too */
	size_t npaths;
	char **deleted; /* the subset that no longer exists */
	size_t ndeleted;
	char *base; /* how the base was chosen, for messages: "origin/main (merge-base 1a2b3c4)" */
};

/*
 * The files that differ between a base commit and the working tree
 * (committed since the base, staged, unstaged and untracked).  The base is
 * `since` (any revision git understands) or, when NULL, the merge-base of
 * HEAD with its upstream branch, else HEAD~1, else the empty tree.  `root`
 * may be a subdirectory of the repository; paths outside it are left out.
 * Returns 0 or an error with a message (not a git repository, bad revision).
 */
int rpl_git_changes(const char *root, const char *since, struct rpl_changes *out);

/*
 * The same in two halves, for a caller that walks the tree anyway: begin
 * needs git alone (so it can run on a thread while the tree is walked),
 * finish compares the index with `files`, a walk of `root`
 * (rpl_tree_fingerprint).  Untracked files under hidden directories, which
 * the walk skips, are not listed: they are never inputs.
 */
struct rpl_git_scan;
struct rpl_tree_files;
int rpl_git_scan_begin(const char *root, const char *since, struct rpl_git_scan **out);
int rpl_git_scan_finish(struct rpl_git_scan *g, const struct rpl_tree_files *files,
                        struct rpl_changes *out);
void rpl_git_scan_free(struct rpl_git_scan *g);
void rpl_changes_release(struct rpl_changes *c);

#endif
