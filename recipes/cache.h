/*
 * A recipe as the parse cache keeps it: what planning needs of it (the
 * identity, dependencies, target architectures and timeout of its summary
 * (struct rpl_recipe_summary), and its compiled build needs, subpackage conditions and pipeline
 * files per arch).  Reading it back gives the structures a parse and
 * compile would, less descriptions, URLs and test needs: a command that
 * shows a recipe reads the recipe itself.
 *
 * The encoding is a compact binary one, because a warm plan of Wolfi reads
 * 3,400 of them (jansson took 60% of that plan).  Integers are little-
 * endian; STR = u32 length + bytes (length 0xffffffff: none); LIST = u32
 * count + STRs.  Format version 3:
 *
 *   u32 3; STR name; u32 line, col; STR version; u64 epoch; STR timeout;
 *   u64 timeout_s; DEPS; LIST target; u64 nstatic;
 *   u32 nsubs; per sub: STR name; u32 line, col; STR if; DEPS
 *   u32 narchs; per arch: STR arch;
 *     u32 nneeds; per need: STR name, STR via, STR subpackage
 *     u32 nsubs; per sub: STR name, u8 enabled
 *     LIST pipeline files
 *   DEPS = LIST runtime, LIST provides, LIST replaces, STR pp, STR rp
 */
#ifndef RPL_CACHE_H
#define RPL_CACHE_H

#include <stddef.h>

struct rpl_recipe_summary;
struct rpl_compiled;

/* The encoding (malloc'd, *len bytes) of a recipe's summary and its compiles, one per arch. */
void *rpl_cache_encode(const struct rpl_recipe_summary *r, const struct rpl_compiled *compiled,
                       size_t ncompiled, size_t *len);

/*
 * Reads an encoding back: a new summary (file set to `file`), the archs
 * among `selected` it builds for (in its arena) and its compile for each
 * (a malloc'd array).  Returns NULL when the bytes are not a complete entry
 * of this format or lack one of those archs (the caller then parses).
 */
struct rpl_recipe_summary *rpl_cache_decode(const void *data, size_t len, const char *file,
                                            const char *const *selected, size_t nselected,
                                            const char ***archs, size_t *narchs,
                                            struct rpl_compiled **compiled);

#endif
