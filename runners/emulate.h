/*
 * Whether the native builder can build for an architecture on this machine,
 * and how: natively for the host's, under emulation for another.
 *
 * A foreign arch's programs run when the kernel hands its ELF executables to
 * a registered, enabled binfmt_misc handler (qemu-user, as Debian's
 * qemu-user-static and binfmt-support register it).  A handler with the F
 * (fix-binary) flag had its interpreter opened when it was registered, so it
 * works in the sandbox's mount namespace as it is; without F the kernel opens
 * the interpreter by its path at each exec, so that path must lead to it
 * inside the sandbox too.
 *
 * The steps of such a build need a userland of that arch (a /bin/sh, the
 * compilers): a sysroot, a directory holding the arch's root filesystem
 * (usr/, bin/, lib/, etc/ ...), which the sandbox binds read-only in place of
 * the host's system directories (runners/sandbox.h).  It is named per arch in
 * .ripple.yaml (`sysroots: {aarch64: DIR}`) or by `native-build --sysroot`;
 * docs/build.md says how to make one.  A sysroot may be given for the host's
 * arch too: the build then sees it instead of the host's /usr.
 */
#ifndef RPL_EMULATE_H
#define RPL_EMULATE_H

#include <limits.h>

/* The binfmt_misc directory, for tests: otherwise /proc/sys/fs/binfmt_misc. */
#define RPL_BINFMT_DIR_ENV "RIPPLE_BINFMT_DIR"

/* A binfmt_misc handler that runs an arch's ELF executables. */
struct rpl_binfmt {
	char name[256];             /* its entry, e.g. "qemu-aarch64" */
	char interpreter[PATH_MAX]; /* as registered */
	int fix_binary;             /* the F flag */
};

/* How a build for one arch runs here. */
struct rpl_emulation {
	int emulated; /* not the host's arch: through `binfmt` */
	struct rpl_binfmt binfmt;
	char sysroot[PATH_MAX]; /* absolute and resolved; "" for the host's root */
	/* A host file to bind at the same path in the sandbox (the interpreter of a
	 * handler without F that the sysroot does not hold); "" for none. */
	char bind_interpreter[PATH_MAX];
};

/*
 * Finds, in the binfmt_misc directory `dir` (NULL: $RIPPLE_BINFMT_DIR, else
 * /proc/sys/fs/binfmt_misc), an enabled handler that takes `arch`'s ELF
 * executables and shared objects (PIE programs).  Returns 0 and fills *out,
 * or -RPL_ENOTFOUND with a message saying why (binfmt_misc not mounted or
 * disabled, no such handler, the handler disabled), or -RPL_EUSAGE for an
 * arch whose ELF machine ripple does not know.
 */
int rpl_binfmt_find(const char *dir, const char *arch, struct rpl_binfmt *out);

/*
 * Decides how to build for `arch` (an apk name) with the sysroot `sysroot`
 * (a path, or NULL for none; `origin` names where it was set, e.g.
 * ".ripple.yaml:4:12" or "--sysroot", and prefixes messages about it).  The
 * host's arch builds natively, in the sysroot when one is given; another
 * needs a binfmt handler for it and a sysroot whose /bin/sh is there (and
 * is an ELF of that arch, or a script) and which has a usr/local directory
 * (where the build's packages are bound).  Returns 0 and fills *out, or
 * -RPL_EUSAGE with a message that names the reason, to print after "cannot
 * build for ARCH here: ".
 */
int rpl_emulate_check(const char *arch, const char *sysroot, const char *origin,
                      struct rpl_emulation *out);

#endif
