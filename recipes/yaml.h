/*
 * A YAML document tree over libyaml that keeps the line and column of every
 * node, so a recipe error can point at its source ("file:line:col: what").
 *
 * Scalars keep their raw text, as yaml.v3 does when it decodes into strings:
 * `3.10` stays "3.10" and `true` stays "true".  Aliases resolve to the
 * anchored node (shared, not copied) and `<<` merge keys are applied.
 */
#ifndef RPL_YAML_H
#define RPL_YAML_H

#include "common/arena.h"

#include <stddef.h>
#include <stdint.h>

enum rpl_ytype { RPL_YSCALAR, RPL_YSEQ, RPL_YMAP };

struct rpl_ynode;

struct rpl_ypair {
	struct rpl_ynode *key;
	struct rpl_ynode *value;
};

struct rpl_ynode {
	enum rpl_ytype type;
	uint32_t line, col; /* 1-based */
	union {
		struct {
			const char *s;
			size_t len;
			unsigned quoted : 1;     /* any style but plain */
			unsigned tagged_str : 1; /* explicit !!str */
		} scalar;
		struct {
			struct rpl_ynode **items;
			size_t n;
		} seq;
		struct {
			struct rpl_ypair *pairs;
			size_t n;
		} map;
	};
};

struct rpl_ydoc {
	struct rpl_arena arena;
	const char *file;       /* owned by the arena */
	struct rpl_ynode *root; /* NULL for an empty document */
	size_t len;             /* bytes of source text */
};

/*
 * How much the aliases of one document may add to a walk of its tree: the
 * nodes and the scalar bytes of every aliased subtree, counted once per
 * alias (aliases inside it expanded).  The largest recipe of Wolfi's 3,401
 * is 1,689 nodes and 46 KB of text in all, and none uses an alias; these
 * bounds are 60 and 350 times that and still make any walk of the tree
 * take milliseconds, where a "billion laughs" document would make 10^9.
 */
#define RPL_YAML_MAX_ALIAS_NODES 100000
#define RPL_YAML_MAX_ALIAS_BYTES (16 << 20)

/*
 * The largest YAML file ripple reads whole to parse (a recipe, an image, a
 * pipeline, .ripple.yaml).  Wolfi's largest is 68 KB; a tree takes up to
 * about 15 times its text in memory, so this keeps one parse well under a
 * gigabyte.
 */
#define RPL_YAML_MAX_FILE ((size_t)16 << 20)

/*
 * Parses the first document of `buf` into `doc` (whose arena is initialised
 * here).  `file` names the input in messages.  Returns 0, or -RPL_EPARSE with
 * a "file:line:col: ..." message; in both cases rpl_ydoc_release() frees.
 * Duplicate mapping keys are an error, as in yaml.v3, and so is an alias
 * that takes the document's expansion past the bounds above (the message
 * points at that alias).
 */
int rpl_yaml_parse(struct rpl_ydoc *doc, const char *file, const char *buf, size_t len);
void rpl_ydoc_release(struct rpl_ydoc *doc);

/* A plain scalar that YAML 1.2 core resolves to null ("", "~", "null"). */
int rpl_ynode_is_null(const struct rpl_ynode *n);

/* The value of `key` in mapping `map`, or NULL. */
struct rpl_ynode *rpl_ymap_get(const struct rpl_ynode *map, const char *key);

/* "a mapping", "a sequence", "a string" - for messages. */
const char *rpl_ynode_kind(const struct rpl_ynode *n);

#endif
