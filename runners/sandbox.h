/*
 * The sandbox a native build's steps run in (bubblewrap).
 *
 * A step sees what a build needs and nothing else: the host's /usr and /etc
 * read-only (with the /bin, /sbin and /lib* links or directories beside
 * them), its workspace read-write at /home/build, the packages installed
 * for it read-only at /usr/local, a fresh /dev, /proc and /tmp, no network
 * and no other namespace of the host (so no host unix socket, abstract or
 * not), and no capabilities.  The monorepo, the home directories, /run,
 * /var, /srv, /opt and /mnt are not there at all, wherever the monorepo
 * lives; paths that must stay hidden but fall under a bound directory
 * (the signing key, the monorepo itself under /usr/src, say) are masked.
 *
 * Inside, the step runs as uid 0 of a user namespace of its own, which is
 * not the host's root: when ripple runs as root, the sandbox is started as
 * the unprivileged host user `nobody`, so files only root may read stay
 * unreadable (the workspace is handed to that user first).  That user may
 * not be able to reach the workspace by its path (a monorepo under /root),
 * so the sandbox's parent, still root, first binds it in a private mount
 * namespace under a /tmp of its own, where bwrap finds it.
 *
 * With a sysroot (a root filesystem of the arch being built, for a build
 * under emulation: runners/emulate.h), the sysroot's /usr, /etc and its
 * /bin, /sbin and /lib* links or directories are bound read-only in place
 * of the host's, which are then not there at all; the workspace, the
 * packages at /usr/local (over the sysroot's own), /dev, /proc and /tmp are
 * as above.  A binfmt interpreter that the kernel opens by its path (a
 * handler without the F flag) is bound read-only at that path.
 */
#ifndef RPL_SANDBOX_H
#define RPL_SANDBOX_H

#include <stddef.h>
#include <sys/types.h>

struct rpl_kvlist;

struct rpl_sandbox {
	/* The workspace, bound read-write at /home/build, and a tree bound
	 * read-only at /usr/local (-1, NULL: none), open and by host path. */
	int ws_fd, deps_fd;
	const char *ws_path, *deps_path;
	/* The root filesystem bound in place of the host's system directories
	 * (-1, NULL: the host's), and a host file bound at its own path (NULL:
	 * none), both set by the caller. */
	int sysroot_fd;
	const char *sysroot, *bind_file;
	/* Host paths no step may see, even under a bound directory. */
	char **hidden;
	size_t nhidden, alloc;
};

/* Starts `sb` with nothing hidden and no packages. */
void rpl_sandbox_init(struct rpl_sandbox *sb, int ws_fd, const char *ws_path);
void rpl_sandbox_release(struct rpl_sandbox *sb);

/* Hides the host path `path` (resolved through its links; a missing path is ignored). */
void rpl_sandbox_hide(struct rpl_sandbox *sb, const char *path);

/*
 * Hands the tree of `dirfd` to the user steps run as (nothing to do unless
 * ripple runs as root).  Returns 0 or an error with a message.
 */
int rpl_sandbox_own(const struct rpl_sandbox *sb, int dirfd);

/*
 * Runs `script` with /bin/sh -c in the sandbox, in /home/build, with the
 * variables `env` (NAME=VALUE strings, `nenv` of them) and nothing of
 * ripple's own environment.  Returns 0, or an error whose message says how
 * the step ended.
 */
int rpl_sandbox_run(const struct rpl_sandbox *sb, char *const *env, size_t nenv,
                    const char *script);

#endif
