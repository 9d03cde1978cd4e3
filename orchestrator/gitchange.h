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
void rpl_changes_release(struct rpl_changes *c);

#endif
