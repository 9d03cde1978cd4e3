/*
 * Name resolution: every name the repo provides for one architecture, and
 * the choice among providers by apk's rules.
 *
 * A name is provided by an origin package, a subpackage (after range
 * expansion, when its `if:` holds for the arch), or a `provides:` entry of
 * either (`name=version`, or unversioned: the package's own version).  An
 * external APKINDEX (--repository-append) adds its packages and provides.
 *
 * The best provider for a constraint, among those whose version for the
 * requested name satisfies it:
 *   1. the highest version for the requested name;
 *   2. the highest provider-priority;
 *   3. one from the repo over one from an external index;
 *   4. the highest package version;
 *   5. the smallest package name (a stable tie-break).
 * This is the order of apko v1.2.21, which wolfictl used; newer apko puts
 * provider-priority first.  A candidate of the requester's own origin at
 * the requester's own version is refused, as melange refuses to satisfy a
 * package's build needs with itself.
 */
#ifndef RPL_RESOLVE_H
#define RPL_RESOLVE_H

#include "common/arena.h"
#include "common/strmap.h"
#include "graph/version.h"

#include <stddef.h>
#include <stdint.h>

struct rpl_node;
struct rpl_textlist;
struct rpl_apkindex;

struct rpl_provider {
	const char *name;    /* the name provided */
	const char *version; /* the version it is provided at */
	const char *pkg;     /* the package providing it */
	const char *pkg_version;
	struct rpl_node *origin; /* the repo origin; NULL for an external index's package */
	const char *source;      /* the external index; NULL for the repo */
	int64_t priority;
	/* Runtime dependencies of `pkg`: from the recipe, or the index's D: */
	const char *const *runtime;
	size_t nruntime;
};

struct rpl_registry {
	struct rpl_arena *arena;
	struct rpl_strmap names; /* name -> struct rpl_provlist * */
	struct rpl_strmap pkgs;  /* package name -> its own struct rpl_provider * */
};

void rpl_registry_init(struct rpl_registry *r, struct rpl_arena *a);
void rpl_registry_release(struct rpl_registry *r);

/* Adds a provider (copied into the arena). */
void rpl_registry_add(struct rpl_registry *r, const struct rpl_provider *p);

/*
 * Adds a package and what it provides: `pkg` at `version` provides itself and
 * each of `provides` ("name" or "name=ver").  Returns the package's own entry.
 */
const struct rpl_provider *rpl_registry_add_package(struct rpl_registry *r, const char *pkg,
                                                    const char *version, int64_t priority,
                                                    struct rpl_node *origin, const char *source,
                                                    const char *const *provides, size_t nprovides,
                                                    const char *const *runtime, size_t nruntime);

/* Adds every package of an APKINDEX as an external provider. */
void rpl_registry_add_index(struct rpl_registry *r, const struct rpl_apkindex *idx);

enum rpl_resolve_status {
	RPL_RESOLVED,
	RPL_RESOLVE_NONE,     /* nothing provides the name */
	RPL_RESOLVE_VERSION,  /* providers exist, none at a matching version */
	RPL_RESOLVE_SELF,     /* only the requester itself provides it */
	RPL_RESOLVE_CONFLICT, /* a `!name` entry: nothing to resolve */
};

struct rpl_resolution {
	enum rpl_resolve_status status;
	const struct rpl_provider *best;
	size_t ncandidates; /* providers that matched, before the self rule */
};

/*
 * Resolves dependency string `dep` for `self` (NULL: no self rule, as for
 * images).  Returns 0 and fills `res`, or -RPL_EPARSE for a malformed
 * dependency string (message set).
 */
int rpl_registry_resolve(const struct rpl_registry *r, const char *dep, const struct rpl_node *self,
                         const char *self_version, struct rpl_resolution *res);

/* The entry of package `pkg` (its own name), or NULL. */
const struct rpl_provider *rpl_registry_package(const struct rpl_registry *r, const char *pkg);

#endif
