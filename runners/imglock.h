/*
 * apko's lock file (`apko.lock.json`, version v1; apko's pkg/build/lock.go):
 * the exact apks an image was assembled from, per arch, with the byte
 * ranges and checksums of their sections, plus the keyring and the
 * repositories.  Writing records one arch's resolution into the file (other
 * archs already there are kept while the config is unchanged); reading gives
 * the packages locked for one arch, in install order, after checking that
 * the file was made from this config (a SHA-256 over the config file and
 * every file it includes, in read order).
 */
#ifndef RPL_IMGLOCK_H
#define RPL_IMGLOCK_H

#include "recipes/apko.h"
#include "runners/apk.h"

#include <stddef.h>

/* One installed package, for writing. */
struct rpl_lock_entry {
	const char *url;           /* where the apk was read: a path or an http(s) URL */
	const struct rpl_apk *apk; /* as read */
};

/* One locked package, for reading. */
struct rpl_lock_pkg {
	char *name, *version, *url;
	char *checksum;      /* "Q1<b64 of the control section's SHA-1>" */
	char *data_checksum; /* "sha256-<b64>", or NULL */
};

/* "sha256-<b64>" of the config file and its includes. */
int rpl_imglock_config_checksum(const struct rpl_image *img, char out[64]);

int rpl_imglock_write(const char *path, const struct rpl_image *img, const char *arch,
                      char *const *keys, size_t nkeys, char *const *repos, size_t nrepos,
                      const struct rpl_lock_entry *pkgs, size_t npkgs);

int rpl_imglock_read(const char *path, const struct rpl_image *img, const char *arch,
                     struct rpl_lock_pkg **out, size_t *n);
void rpl_imglock_free(struct rpl_lock_pkg *p, size_t n);

#endif
