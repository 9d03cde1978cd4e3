/*
 * The no-op memo: a warm `ripple plan` (and later `ripple build`) that has
 * nothing to do answers without parsing a single recipe.
 *
 * A plan is a function of the files under the monorepo root, the job
 * records and the options.  The tree's fingerprint hashes every file's
 * path, size, mtime, inode and mode (hidden paths aside: they are never
 * inputs); when it, the records' generation and the options all match the
 * last plan that selected nothing, that answer still holds.  As with git's
 * racy rule, a plan is remembered only when no file is newer than a second
 * before it started, so an edit in the same timestamp tick is never missed.
 */
#ifndef RPL_MEMO_H
#define RPL_MEMO_H

#include "common/sha256.h"
#include "common/strbuf.h"
#include "common/strmap.h"
#include "orchestrator/state.h"

#include <stddef.h>
#include <stdint.h>

struct rpl_tree_print {
	uint8_t digest[RPL_SHA256_LEN];
	int64_t newest_ns; /* the newest mtime seen */
	size_t nfiles;
};

/*
 * The files a walk saw (every entry but directories), so that a plan that
 * has work to do does not stat them all a second time (rpl_state_use_stats)
 * and a snapshot can tell what changed.  The walk only appends to flat
 * arrays: a no-op, answered from the memo, never pays for the map.
 */
struct rpl_tree_file {
	size_t path; /* offset in rpl_tree_files.paths */
	struct rpl_file_stat st;
	unsigned mode; /* st_mode: a regular file, a link, ... */
};

struct rpl_tree_files {
	struct rpl_strbuf paths; /* NUL-terminated, one after another */
	struct rpl_tree_file *v;
	size_t n, alloc;
	struct rpl_strmap map; /* filled by rpl_tree_files_index */
};

#define RPL_TREE_FILES_INIT                                  \
	{                                                    \
		RPL_STRBUF_INIT, NULL, 0, 0, RPL_STRMAP_INIT \
	}

/* The regular files as a map: path relative to the root -> struct rpl_file_stat. */
const struct rpl_strmap *rpl_tree_files_index(struct rpl_tree_files *files);

/*
 * Walks `root` (not following links, skipping hidden entries), filling
 * `files` too unless it is NULL (release it with rpl_tree_files_release
 * even on failure).  Returns 0 or -errno.
 */
int rpl_tree_fingerprint(const char *root, struct rpl_tree_print *out,
                         struct rpl_tree_files *files);
void rpl_tree_files_release(struct rpl_tree_files *files);

/*
 * This ripple binary's identity (size and mtime of /proc/self/exe): part of
 * every memo and cache key, so a rebuilt ripple does not trust what an
 * older one computed.
 */
void rpl_self_identity(uint8_t out[RPL_SHA256_LEN]);

#endif
