/*
 * The apko image configuration (apko's pkg/build/types/): the model of an image
 * recipe and of melange's `environment:` block, which is the same type.
 */
#ifndef RPL_APKO_H
#define RPL_APKO_H

#include "recipes/decode.h"

#include <stdint.h>

struct rpl_apko_keyring_entry {
	struct rpl_text name;
	struct rpl_text content;
};

struct rpl_apko_contents {
	struct rpl_textlist repositories;
	struct rpl_textlist build_repositories;
	struct rpl_textlist runtime_repositories;
	struct rpl_textlist keyring;
	struct rpl_apko_keyring_entry *runtime_keyring;
	size_t nruntime_keyring;
	struct rpl_textlist packages;
	struct rpl_text baseimage_image;
	struct rpl_text baseimage_apkindex;
	int has_baseimage;
};

struct rpl_apko_entrypoint {
	struct rpl_text type;
	struct rpl_text command;
	struct rpl_text shell_fragment;
	struct rpl_kvlist services;
};

struct rpl_apko_user {
	struct rpl_text username;
	uint32_t uid;
	uint32_t gid;
	int has_gid;
	struct rpl_text shell;
	struct rpl_text homedir;
};

struct rpl_apko_group {
	struct rpl_text groupname;
	uint32_t gid;
	struct rpl_textlist members;
};

struct rpl_apko_accounts {
	struct rpl_text run_as;
	struct rpl_apko_user *users;
	size_t nusers;
	struct rpl_apko_group *groups;
	size_t ngroups;
};

struct rpl_apko_path {
	struct rpl_text path;
	struct rpl_text type; /* directory, empty-file, hardlink, symlink, permissions */
	uint32_t uid, gid;
	int has_uid, has_gid;
	uint32_t permissions;
	int has_permissions;
	struct rpl_text source;
	int recursive;
};

struct rpl_apko_layering {
	struct rpl_text strategy;
	int64_t budget;
};

struct rpl_apko_certificate {
	struct rpl_text name;
	struct rpl_text content;
};

struct rpl_apko_config {
	struct rpl_apko_contents contents;
	struct rpl_apko_entrypoint entrypoint;
	struct rpl_text cmd;
	struct rpl_text stop_signal;
	struct rpl_text work_dir;
	struct rpl_apko_accounts accounts;
	struct rpl_textlist archs; /* as written; see rpl_apko_arch_normalise() */
	struct rpl_kvlist environment;
	struct rpl_apko_path *paths;
	size_t npaths;
	struct rpl_text vcs_url;
	struct rpl_kvlist annotations;
	struct rpl_text include;
	struct rpl_textlist volumes;
	struct rpl_apko_layering layering;
	int has_layering;
	struct rpl_text format;
	struct rpl_apko_certificate *cert_additional;
	size_t ncert_additional;
	struct rpl_textlist cert_providers;
};

/* The strict schema of an image configuration, for embedding (melange's environment). */
extern const struct rpl_schema rpl_apko_config_schema;

/* An apko image recipe file after `include` resolution. */
struct rpl_image {
	struct rpl_arena arena;
	const char *file;              /* path as given */
	const char *name;              /* file name without .apko.yaml/.yaml */
	struct rpl_apko_config config; /* merged */
	const char **inputs;           /* the file and every file it includes, in read order */
	size_t ninputs;
};

/*
 * Reads the apko recipe at `path` (relative to the cwd), follows `include`
 * as apko does when ripple runs it (the path relative to the working
 * directory, here the cwd, else below the top file's directory, which
 * ripple passes as apko's --include-paths), and merges as apko's MergeInto does (the
 * includer wins on scalars, on the entrypoint as a whole and on archs as a
 * whole; lists concatenate with the included file first; environment and
 * annotations merge key-wise; vcs-url is not inherited).  Validates the
 * result as apko's Validate (layering strategy, format, path types, uid 0
 * users, key and certificate names, archs, ...) and applies its defaults
 * (user homedir and gid; service-bundle's command and s6 package;
 * trailing '/' trimmed from repositories).  Returns a heap object owning all
 * its strings, or NULL with the message set ("file:line:col: ..."; an include
 * cycle is reported at the include that closes it and names the chain).
 */
struct rpl_image *rpl_image_load(const char *path);

/*
 * As rpl_image_load, for a file of the monorepo whose root is `workdir`
 * (as `path` spells it: "." or the directory `path` starts with; includes
 * are looked up there first) and whose real path (realpath()) is
 * `real_root`: an include that leads outside it, through `..` or a
 * symbolic link, is an error at the include.  NULL `real_root` allows any
 * place.  Every file must be a regular one of at most RPL_YAML_MAX_FILE
 * bytes.
 */
struct rpl_image *rpl_image_load_in(const char *real_root, const char *workdir, const char *path);
void rpl_image_free(struct rpl_image *img);

/*
 * Maps an arch as written in apko (x86_64, amd64, aarch64, arm64, ...) to
 * apk's name (x86_64, aarch64, ...).  Returns NULL for an unknown arch.
 */
const char *rpl_apko_arch_to_apk(const char *arch);

/* How many architectures apko knows. */
#define RPL_APKO_NARCHS 9

/*
 * Normalises `archs` as apko's ParseArchitectures does: aliases fold
 * together, duplicates go, "all" means every arch and "host" the machine
 * ripple runs on, and the result is in apko's (sorted OCI name) order.
 * Fills `out` (room for RPL_APKO_NARCHS) with apk names (static strings) and
 * returns how many; unknown names are skipped (rpl_image_load rejects them).
 * Returns 0 for an empty list: the caller picks the default.
 */
size_t rpl_apko_arch_normalise(const struct rpl_textlist *archs, const char **out);

/* Whether the YAML tree looks like an apko config rather than a melange recipe. */
int rpl_apko_looks_like(const struct rpl_ynode *root);

struct json_t;

/*
 * A JSON description of `img` for `ripple show` and tests: kind, name, file,
 * archs (normalised apk names), packages, repositories, inputs, includes,
 * entrypoint, cmd, environment, accounts, paths, annotations, work-dir,
 * stop-signal, volumes and layering, keyed in apko's spelling.  Returns a
 * new reference (json_decref() it).
 */
struct json_t *rpl_image_to_json(const struct rpl_image *img);

#endif
