/*
 * The `.melange.yaml` member of a package's control section: the recipe
 * as it was built (reference/melange.md §4.3), which melange writes so that
 * `melange rebuild` can build the package again from the package alone.
 *
 * Written here with libyaml's emitter, block style, two-space indent:
 * `package` (identity, commit, copyright, dependencies, options,
 * scriptlets: the keys the recipe sets), `environment.contents` with the
 * packages the build had (pinned `name=version` for those installed from
 * the output repository, the rest as the recipe wrote them: the host
 * provided them), `pipeline` and `subpackages` as compiled for the arch:
 * substituted, every `uses:` with its inputs and its expanded steps.
 * Strings that YAML would read as something else (numbers, booleans) are
 * quoted, so the text reads back as the same strings.
 */
#ifndef RPL_MELANGEYAML_H
#define RPL_MELANGEYAML_H

#include <stddef.h>

struct rpl_recipe;
struct rpl_compiled;

/*
 * Writes the document for `r` compiled as `c` (with its steps), `commit`
 * being what the package records (NULL or "": left out), `packages` the
 * build environment's packages.  Returns 0 with the text in *out
 * (malloc'd, NUL-terminated, *len bytes), or an error with a message.
 */
int rpl_melange_yaml(const struct rpl_recipe *r, const struct rpl_compiled *c, const char *commit,
                     char *const *packages, size_t npackages, char **out, size_t *len);

#endif
