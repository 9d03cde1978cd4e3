/*
 * The YAML document tree (recipes/yaml.h): parse, then visit every node the
 * way the decoders do (kinds, null checks, key lookups, every scalar byte),
 * checking what the header promises: 1-based positions and known types.
 *
 * Aliases share nodes, so the walk has a budget: a tree that expands past it
 * (billion laughs) is the parser's to bound, not the walk's to explode on.
 */
#include "tests/fuzz/fuzz.h"
#include "common/error.h"
#include "recipes/yaml.h"

#include <stdlib.h>
#include <string.h>

enum { WALK_BUDGET = 200000, WALK_DEPTH = 10000 };

static unsigned char sink;

static void walk(const struct rpl_ynode *n, size_t depth, size_t *budget)
{
	if (!*budget || depth > WALK_DEPTH)
		return;
	(*budget)--;
	RPL_FUZZ_CHECK(n->line >= 1 && n->col >= 1, "a node without a 1-based position");
	rpl_ynode_kind(n);
	switch (n->type) {
	case RPL_YSCALAR:
		RPL_FUZZ_CHECK(n->scalar.s != NULL, "a scalar without text");
		for (size_t i = 0; i < n->scalar.len; i++)
			sink ^= (unsigned char)n->scalar.s[i];
		rpl_ynode_is_null(n);
		break;
	case RPL_YSEQ:
		for (size_t i = 0; i < n->seq.n; i++)
			walk(n->seq.items[i], depth + 1, budget);
		break;
	case RPL_YMAP:
		for (size_t i = 0; i < n->map.n; i++) {
			const struct rpl_ypair *p = &n->map.pairs[i];

			walk(p->key, depth + 1, budget);
			walk(p->value, depth + 1, budget);
			/* A plain key without a NUL in it is found again by name. */
			if (p->key->type == RPL_YSCALAR &&
			    strlen(p->key->scalar.s) == p->key->scalar.len)
				RPL_FUZZ_CHECK(rpl_ymap_get(n, p->key->scalar.s) != NULL,
				               "a key rpl_ymap_get does not find");
		}
		break;
	default:
		RPL_FUZZ_CHECK(0, "a node of an unknown type");
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rpl_ydoc doc;
	size_t budget = WALK_BUDGET;

	if (rpl_yaml_parse(&doc, "fuzz.yaml", (const char *)data, size) == 0 && doc.root)
		walk(doc.root, 0, &budget);
	rpl_ydoc_release(&doc);
	rpl_error_clear();
	return 0;
}
