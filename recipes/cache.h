/*
 * A recipe as the parse cache keeps it: its slim copy (rpl_recipe_slim) and
 * its compiled needs per arch, as JSON text.  Reading it back gives the
 * same structures a parse and compile would, so a scan of an unchanged
 * recipe reads no YAML.  Format version 1:
 *
 *   {"v":1, "name":S, "at":[line,col], "version":S, "epoch":N, "description":S,
 *    "url":S, "timeout":S, "timeout_s":N, "deps":DEPS, "target":[S...],
 *    "nstatic":N, "subs":[{"name":S,"if":S,"description":S,"deps":DEPS,
 *    "at":[line,col]}...], "compiled":{ARCH:{"needs":[[name,via,sub|null]...],
 *    "test_needs":[...], "subs":[[name,enabled]...], "files":[S...],
 *    "test_files":[S...]}}}
 *   DEPS = {"runtime":[S...],"provides":[S...],"replaces":[S...],"pp":S,"rp":S}
 */
#ifndef RPL_CACHE_H
#define RPL_CACHE_H

#include <stddef.h>

struct rpl_recipe;
struct rpl_compiled;

/* JSON text (malloc'd) of a slim recipe and its compiles, one per arch. */
char *rpl_cache_encode(const struct rpl_recipe *slim, const struct rpl_compiled *compiled,
                       size_t ncompiled);

/*
 * Reads `text` back: a new slim recipe (file set to `file`), the archs
 * among `selected` it builds for (in its arena) and its compile for each
 * (a malloc'd array).  Returns NULL when the text is not a complete entry
 * of this format (the caller then parses the recipe).
 */
struct rpl_recipe *rpl_cache_decode(const char *text, const char *file, const char *const *selected,
                                    size_t nselected, const char ***archs, size_t *narchs,
                                    struct rpl_compiled **compiled);

#endif
