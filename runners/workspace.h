/*
 * What ripple itself does inside a build's workspace, after steps that may
 * be hostile have run there.
 *
 * A step may leave any symlink anywhere in its workspace: `src -> /`, or
 * `melange-out/foo -> ../../..`.  Whatever ripple writes, moves, removes or
 * reads there afterwards (fetch's download and its unpacked tree,
 * git-checkout's checkout, the package trees read to write apks, the
 * workspace removed before the next build) therefore goes through a
 * directory fd and openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS): no
 * component of a path is ever a link, and nothing resolves outside the
 * directory.  Paths that steps name are resolved lexically first
 * (rpl_ws_relpath), so `/home/build/..` is refused before anything is
 * opened.
 *
 * No step runs while ripple works on the workspace: each step's sandbox is
 * its own PID namespace, which the kernel empties when the step's shell
 * ends, so nothing can swap a directory for a link between a check and its
 * use.
 */
#ifndef RPL_WORKSPACE_H
#define RPL_WORKSPACE_H

#include <sys/types.h>

/* Where steps see their workspace, as melange's runners put it. */
#define RPL_WORKSPACE "/home/build"

/*
 * Resolves `path` as a step names it (absolute, or relative to the absolute
 * sandbox path `wd`; NULL or "" is `wd` itself) to a path relative to the
 * workspace, "" for the workspace itself, in *rel (malloc'd).  "." and ".."
 * are resolved lexically.  Returns 0, or -RPL_EUSAGE with a message when
 * the path leaves RPL_WORKSPACE.
 */
int rpl_ws_relpath(const char *wd, const char *path, char **rel);

/*
 * Opens `rel` ("" or "." for `dirfd` itself) beneath the directory `dirfd`
 * with open(2) `flags`, following no symlink on the way or at the end and
 * never leaving `dirfd`.  Returns 0 or -errno without a message: -ELOOP
 * when a component is a link, -EXDEV when the path would leave `dirfd`.
 */
int rpl_ws_open(int dirfd, const char *rel, int flags, int *fd);

/*
 * Opens `rel` in the tree of `dirfd` with links followed as if `dirfd`
 * were the root (an absolute link or ".." never leaves it), as a package
 * tree's links resolve once installed.  Returns 0 or -errno.
 */
int rpl_ws_open_in_root(int dirfd, const char *rel, int flags, int *fd);

/*
 * Opens the directory `rel` beneath `dirfd` as rpl_ws_open does, making
 * the directories that are missing (0755).  Returns 0 or an error with a
 * message naming `rel`.
 */
int rpl_ws_mkdirs(int dirfd, const char *rel, int *fd);

/* Removes the entry `name` of `dirfd` and all under it without following a link; a
 * missing entry is fine.  Returns 0 or an error with a message. */
int rpl_ws_remove(int dirfd, const char *name);

/* Removes the tree at the host path `path` (whose parent directories are
 * ripple's own) as rpl_ws_remove does.  Returns 0 or an error with a message. */
int rpl_ws_remove_path(const char *path);

/*
 * Moves every entry of the directory `from` into the directory `to`.  An
 * entry in the way is removed first, unless `merge` is set and both are
 * directories: then their entries merge the same way (what unpacking a
 * tarball over a tree does).  Returns 0 or an error with a message.
 */
int rpl_ws_move(int from, int to, int merge);

/*
 * Copies the host file `src` to the entry `name` of `dirfd` with `mode`,
 * replacing what is there (a link is replaced, never followed).  Every
 * write error is reported with strerror's text.  Returns 0 or an error.
 */
int rpl_ws_copy_file(const char *src, int dirfd, const char *name, mode_t mode);

/*
 * Copies the repository's tree `from` into the directory `to`, keeping
 * modes (less setuid and setgid) and links; anything else is refused.
 * From the monorepo root itself ("."), hidden entries and ripple's outputs
 * stay behind.  Returns 0 or an error with a message.
 */
int rpl_ws_copy_tree(const char *from, int to);

/*
 * Makes the host path `path` (whose parent directories are ripple's own) a
 * fresh, empty directory and opens it into *fd (-1 on error).  Returns 0 or
 * an error with a message.
 */
int rpl_ws_fresh_dir(const char *path, int *fd);

#endif
