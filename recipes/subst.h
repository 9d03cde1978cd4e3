/*
 * melange's two substitution engines (melange's pkg/config/config.go
 * and pkg/build/compile.go) and the
 * variable maps they read.
 *
 * Phase A (parse time) replaces exact `${{name}}` tokens whose name is in the
 * map and leaves every other token untouched.  Phase B (compile time) accepts
 * spaces inside the braces and treats an undefined name as an error.
 * Neither re-scans what it substituted.
 */
#ifndef RPL_SUBST_H
#define RPL_SUBST_H

#include <stddef.h>

struct rpl_arena;

struct rpl_var {
	const char *name; /* without ${{ }}: "package.name", "vars.x" */
	const char *value;
};

/*
 * A scope: names not set here are looked up in `parent`.  Past a few
 * entries the map keeps a hash index, so that a recipe of 100,000 vars (or
 * of as many `${{...}}` tokens) is not 10^10 compares.
 */
struct rpl_varmap {
	struct rpl_var *v;
	size_t n, alloc;
	const struct rpl_varmap *parent;
	size_t *slots; /* 1 + an index into v; 0 is empty; NULL while small */
	size_t nslots;
};

#define RPL_VARMAP_INIT                   \
	{                                 \
		NULL, 0, 0, NULL, NULL, 0 \
	}

/* Sets `name` (replacing an earlier value).  Both strings must outlive the map. */
void rpl_varmap_set(struct rpl_varmap *m, const char *name, const char *value);
const char *rpl_varmap_get(const struct rpl_varmap *m, const char *name);
void rpl_varmap_copy(struct rpl_varmap *dst, const struct rpl_varmap *src);
void rpl_varmap_release(struct rpl_varmap *m);

/*
 * Substitution can multiply text: a var that is ten uses of the one before,
 * nine deep, is 10^9 bytes, and so is a chain of var-transforms that each
 * repeat every character ten times.  One substitution (or regex replacement)
 * may make at most RPL_SUBST_MAX_LEN bytes, and all substitutions of one
 * recipe's parse (or of one compile for one arch) at most
 * RPL_SUBST_MAX_TOTAL, which the callers count.  Of Wolfi's recipes the
 * longest substituted string is 33 KB and the most any recipe's parse and
 * compile make together is 475 KB.
 */
#define RPL_SUBST_MAX_LEN ((size_t)1 << 20)
#define RPL_SUBST_MAX_TOTAL ((size_t)16 << 20)

/*
 * Phase A.  Returns `s` itself when nothing was replaced, else an arena
 * copy; NULL when the result would be longer than RPL_SUBST_MAX_LEN.
 */
const char *rpl_subst_parse(struct rpl_arena *a, const char *s, const struct rpl_varmap *m);

enum rpl_subst_mode {
	RPL_SUBST_PLAIN,
	RPL_SUBST_QUOTED, /* values as Go's strconv.Quote, for `if:` conditions */
};

/*
 * Phase B.  On success stores the result (arena or `s` itself) in *out and
 * returns 0.  An undefined variable returns -RPL_ESUBST with the message
 * "variable 'X' not defined"; text that opens `${{` without a well-formed
 * close returns -RPL_ESUBST "malformed substitution ...", and a result
 * longer than RPL_SUBST_MAX_LEN -RPL_ESUBST too.  The caller adds the
 * position.
 */
int rpl_subst_strict(struct rpl_arena *a, const char *s, const struct rpl_varmap *m,
                     enum rpl_subst_mode mode, const char **out);

/*
 * Go's regexp.ReplaceAllString(src, repl) with pattern `re` (RE2 syntax run
 * through PCRE2): `$1`, `${1}`, `$name`, `${name}` and `$$` in `repl`.
 * Returns 0 and an arena string, or -RPL_EPARSE with the compile error or
 * when the result would be longer than RPL_SUBST_MAX_LEN.
 */
int rpl_regex_replace_all(struct rpl_arena *a, const char *re, const char *src, const char *repl,
                          const char **out);

#endif
