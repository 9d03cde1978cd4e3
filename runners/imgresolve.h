/*
 * Resolving an image's package list against APKINDEXes, as apko does
 * (apko's pkg/apk/apk/repo.go): every package is a candidate for its name and for
 * the name part of each of its provides; versioned world entries and `!name`
 * disqualify candidates everywhere; the world entry with the fewest
 * candidates left is chosen first, then each chosen package's dependencies
 * depth first, the one with the fewest candidates first.  The best candidate
 * is the one with the requested pin, then the highest version for the name
 * asked for, then the highest provider priority, then the highest package
 * version, then the smallest name.  The result is in install order:
 * dependencies before what needs them.
 */
#ifndef RPL_IMGRESOLVE_H
#define RPL_IMGRESOLVE_H

#include <stddef.h>

struct rpl_apkindex;
struct rpl_apkindex_pkg;

struct rpl_repo_ref {
	const struct rpl_apkindex *index;
	const char *tag; /* the @pin naming this repository, or "" */
};

struct rpl_resolved_pkg {
	const struct rpl_apkindex_pkg *pkg;
	size_t repo; /* index into the repositories given */
};

/*
 * Resolves `world` (apko's `contents.packages`: "name", "name=1.2-r0",
 * "name>=1", "name@tag", "!name") for `arch` (packages of another A: are
 * left out; NULL: any).  A tagged repository serves only entries pinned to
 * its tag.  Returns 0 with `*out` (malloc'd, in install order) or an error
 * whose message names what cannot be installed and why ("nothing provides
 * so:libfoo.so.1 (needed by bar-1.0-r0)").
 */
int rpl_image_resolve(const struct rpl_repo_ref *repos, size_t nrepos, const char *arch,
                      char *const *world, size_t nworld, struct rpl_resolved_pkg **out, size_t *n);

#endif
