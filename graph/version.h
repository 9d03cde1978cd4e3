/*
 * apk versions and dependency constraints as apko implements them
 * (pkg/apk/apk/version.go): the grammar
 *   [0-9]+(\.[0-9]+)*[a-z]?(_(alpha|beta|pre|rc)[0-9]*)?(_(cvs|svn|git|hg|p)[0-9]*)?(-r[0-9]+)?
 * and its ordering; constraints `name[op version][@tag]` with op one of
 * = < > <= >= ~ =~ ~=, a leading `!` for conflicts, and virtual names
 * (so:, cmd:, pc:).
 */
#ifndef RPL_VERSION_H
#define RPL_VERSION_H

#include <stddef.h>

/*
 * Whether `v` fits apko's version grammar, every number included: apko
 * reads each with strconv.Atoi, so a component, suffix number or revision
 * above 2^63-1 makes the version invalid.
 */
int rpl_version_valid(const char *v);

/*
 * Compares two versions: -1, 0, 1, in apko's order (numeric components
 * as integers, so leading zeros do not count; then letter; pre-suffix with
 * none above all; pre number; post-suffix with none below all; post
 * number; revision).  Both must be valid (check first); an invalid one
 * compares as if it were "0".
 */
int rpl_version_cmp(const char *a, const char *b);

enum rpl_vop {
	RPL_VOP_ANY,   /* no version given */
	RPL_VOP_EQ,    /* = */
	RPL_VOP_LT,    /* < */
	RPL_VOP_LE,    /* <= */
	RPL_VOP_GT,    /* > */
	RPL_VOP_GE,    /* >= */
	RPL_VOP_FUZZY, /* ~, =~, ~= : the version starts with the given components
			* (version.c, includes(), has the exact rule) */
};

struct rpl_constraint {
	char name[256];    /* without version, pin or `!` */
	char version[128]; /* "" for RPL_VOP_ANY */
	char tag[64];      /* the @pin, "" when none */
	enum rpl_vop op;
	int conflict; /* leading `!` */
};

/*
 * Parses a dependency string ("foo", "foo>=1.2-r3", "so:libc.so.6",
 * "!bar", "foo=1.0@local", "foo~1.2").  Returns 0, or -RPL_EPARSE with a
 * message for an empty name, an unknown operator ("><", "=="), an
 * operator without a version, a version that does not fit the grammar, or
 * a tag that is empty or not [A-Za-z0-9]+.  apko accepts all of those
 * silently (as "any version" or "nothing matches"), and reads "~=" as "any
 * version"; ripple reads "~=" as fuzzy, like "~" and "=~" and apk-tools.
 * A `so:` dependency whose operator contains '=' and whose text after it
 * does not end in -rN gets the version "0.<version>", as apko does.
 */
int rpl_constraint_parse(const char *s, struct rpl_constraint *c);

/*
 * Whether version `v` satisfies `c`: always for RPL_VOP_ANY, never for a
 * `v` outside the grammar (apko skips such packages).  The tag and the
 * conflict flag are the caller's business.  Note `=1.2` matches 1.2-r0
 * (no revision is revision 0) but not 1.2-r1.
 */
int rpl_constraint_match(const struct rpl_constraint *c, const char *v);

/* "so", "cmd", "pc" prefixes: whether `name` is a virtual (contains ':'). */
int rpl_name_is_virtual(const char *name);

#endif
