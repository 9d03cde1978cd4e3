/*
 * What a `ripple build` killed outright (SIGKILL, a crash, a machine losing
 * power) leaves behind, and the next build takes away: the jobs it had
 * started, still running as orphans when only ripple itself was killed,
 * and the temporary files and directories of writers that never got to
 * rename or remove them.
 *
 * The next build holds .ripple/lock, so no other build of the monorepo is
 * alive: a process that carries a build's tag (RPL_LEFTOVER_ENV, set in
 * ripple's environment before it starts jobs, so every job and what it
 * starts inherit it) belongs to a dead run.  A temporary file names its
 * writer's pid; it is removed only when that pid is no live process, so
 * that a `ripple native-build` started by hand, which takes no lock, keeps
 * what it is writing.
 */
#ifndef RPL_LEFTOVER_H
#define RPL_LEFTOVER_H

#include <stddef.h>
#include <stdint.h>

#define RPL_LEFTOVER_ENV "RIPPLE_RUN"

/*
 * Puts RIPPLE_RUN=<run>:<root> in this process's environment: the tag of
 * the processes this run starts.  `root` is the monorepo's absolute path.
 */
void rpl_leftover_tag(int64_t run, const char *root);

/*
 * Kills (SIGKILL, their whole process groups) the processes tagged with
 * `root` by a run other than this process, and waits up to `wait_s`
 * seconds for them to be gone.  *n gets how many were found.  Returns 0,
 * or -ETIMEDOUT (with a message) when some outlived the wait.
 */
int rpl_leftover_stop(const char *root, double wait_s, size_t *n);

/*
 * The pid that the name of a temporary file gives, or 0 when `name` is not
 * one: "<file>.tmp.<pid>" (rpl_write_file_atomic, the apk writer),
 * "<file>.apk.data.<pid>" (the apk writer of ripple 0.x), ".download.<pid>"
 * (fetch's cache).
 */
long rpl_leftover_temp_pid(const char *name);

/* Whether a process `pid` exists (a zombie does not count). */
int rpl_leftover_alive(long pid);

/*
 * Removes, in the monorepo at the current directory, the temporary files
 * whose writer is gone: in packages/<arch>/, images/<name>/ and its
 * blobs/sha256/, .ripple/ and .ripple/cache/ (with the artifact cache's
 * blobs/sha256/ and refs/); and, when no `ripple
 * native-build` works in the monorepo (`root`, absolute: a process whose
 * working directory is inside it), the staging directories of the native
 * builder beside the workspaces in .ripple/work/<arch>/ (<name>.unpack,
 * <name>.git-checkout).  The
 * workspaces themselves stay, as after any build: the next build of the
 * package starts its own afresh.  *n gets how many entries were removed.
 * Returns 0 or an error (the first removal that failed).
 */
int rpl_leftover_sweep(const char *root, size_t *n);

/*
 * Removes the temporary files of `path` ("<path>.tmp.<pid>", and those of
 * "<path>.<suffix>", as "<path>.pub.tmp.<pid>") whose writer is gone: for
 * a file written outside the places above, as the signing key.  *n gets
 * how many.  Returns 0 or an error.
 */
int rpl_leftover_sweep_beside(const char *path, size_t *n);

#endif
