/*
 * The packages of the output repository (packages/<arch>) a native build
 * or test needs, unpacked beside the workspace and bound as the sandbox's
 * /usr/local; what the repository does not provide is taken from the host.
 */
#ifndef RPL_DEPS_H
#define RPL_DEPS_H

#include <stddef.h>

struct rpl_apkindex;
struct rpl_apkindex_pkg;
struct rpl_build;

/* The length of the name in a need ("so:libc.so.6", "foo>=1.2"): up to its version constraint. */
size_t rpl_deps_name_len(const char *s);

/* The package of the index that is or provides `need`, or NULL. */
const struct rpl_apkindex_pkg *rpl_deps_providing(const struct rpl_apkindex *idx, const char *need);

/* Unpacks an apk's data section into `root` (its control entries left out); 0 or an error. */
int rpl_deps_unpack(const struct rpl_build *b, const char *apk, const char *root);

/*
 * Makes `deps`/usr (where packages were unpacked, maybe missing) the
 * sandbox's /usr/local, replacing what was bound before; b->sb owns the
 * path and fd.  Returns 0 or an error.
 */
int rpl_deps_bind(struct rpl_build *b, const char *deps);

/*
 * Unpacks under b->deps the build needs some package of packages/<arch>
 * provides, transitively through their runtime dependencies there, and
 * records every need in b->env_pkgs.  Returns 0 or an error.
 */
int rpl_deps_install(struct rpl_build *b);

#endif
