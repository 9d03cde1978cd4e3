/*
 * Where a recipe comes from, as melange records it in a package: the
 * commit of the git repository that holds it (its HEAD, found from the
 * recipe's directory, as `melange build` detects it when --git-commit is
 * not given) and that repository's URL (the `origin` remote).
 *
 * A dirty tree is reported, not hidden: HEAD is still what is recorded (a
 * package says which commit its recipe was built on, as melange's do), and
 * `dirty` tells the caller that the recipe or its files differ from that
 * commit, so that it can say so.
 */
#ifndef RPL_PROVENANCE_H
#define RPL_PROVENANCE_H

#include <stddef.h>
#include <stdint.h>

struct rpl_provenance {
	char commit[41]; /* HEAD's id, or "" (not in a git repository, no commit yet) */
	char *repo_url;  /* the origin remote's URL, or NULL */
	char *path;      /* the recipe, relative to the repository's root, or NULL */
	int dirty;       /* one of `paths` differs from HEAD (changed, staged, untracked) */
};

/*
 * Looks up the repository that holds `file` and what it says of `file`
 * and of `paths` (more files and directories the recipe reads, relative to
 * the current directory; may be NULL).  Not being in a repository is no
 * error: `commit` is then empty.  Returns 0; rpl_provenance_release() must
 * be called.
 */
int rpl_provenance_get(const char *file, char *const *paths, size_t npaths,
                       struct rpl_provenance *p);
void rpl_provenance_release(struct rpl_provenance *p);

/*
 * When `file` last changed in git: the time of the newest commit of the
 * current directory's repository (HEAD's history, at most 100,000 commits)
 * that changed it, or 0 when that cannot be told.
 */
int64_t rpl_provenance_last_commit_time(const char *file);

#endif
