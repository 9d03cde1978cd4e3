/*
 * Recipes and images as JSON (jansson), for `ripple ls --json` and
 * `ripple show --json`.  Every function returns a new reference.
 */
#ifndef RPL_RECIPE_JSON_H
#define RPL_RECIPE_JSON_H

struct json_t;
struct rpl_scan;
struct rpl_scan_entry;

/* {kind, name, file, version, epoch, subpackages, provides, archs} (images: kind, name, file, archs, packages). */
struct json_t *rpl_entry_summary_json(const struct rpl_scan_entry *e);

/*
 * The summary plus the evaluated pipeline for `arch`, build_deps (each with
 * the pipeline it came from), test_deps, runtime_deps per (sub)package,
 * subpackage details, vars and inputs.
 */
struct json_t *rpl_entry_detail_json(const struct rpl_scan *s, const struct rpl_scan_entry *e,
                                     const char *arch);

#endif
