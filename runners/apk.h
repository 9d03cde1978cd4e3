/*
 * Reading APK v2 packages (melange's pkg/build/package.go): a byte concatenation of
 * gzip members — an optional signature, the control section (.PKGINFO and
 * scriptlets), the data section.  What an index needs of a package is read
 * without touching its data: the .PKGINFO fields, the SHA-1 of the control
 * member's compressed bytes (the index's C: field) and the file's size.
 */
#ifndef RPL_APK_H
#define RPL_APK_H

#include <stddef.h>
#include <stdint.h>

#define RPL_SHA1_LEN 20

struct rpl_apk {
	/* .PKGINFO, as written (NULL when absent) */
	char *pkgname, *pkgver, *arch, *origin, *pkgdesc, *url, *commit, *maintainer;
	char *license; /* the first license line */
	char *datahash, *provider_priority, *replaces_priority;
	int64_t builddate; /* -1 when absent */
	uint64_t installed_size;
	char **depends, **provides, **replaces; /* in file order */
	size_t ndepends, nprovides, nreplaces;
	size_t pkginfo_len; /* bytes of .PKGINFO */

	uint8_t control_sha1[RPL_SHA1_LEN];
	uint8_t data_sha256[32]; /* of the data member's compressed bytes: `datahash` */
	uint64_t file_size;
	/* The sections, as apko's lock file records them: [0, control_off) is the
	 * signature member (empty when unsigned), [control_off, data_off) the
	 * control member, the rest the data member. */
	uint64_t control_off, data_off;
	uint8_t signature_sha1[RPL_SHA1_LEN]; /* of the signature member, when there is one */
	char *signature_key; /* "melange.rsa.pub" of .SIGN.RSA256.melange.rsa.pub, or NULL */
	char *triggers;      /* `triggers =` of .PKGINFO: space-separated paths, or NULL */
	struct rpl_apk_script {
		char *name; /* ".post-install", ... */
		char *data;
		size_t len;
		unsigned mode;
	} * scripts; /* the control section's scripts, in its order */
	size_t nscripts;
};

/*
 * Reads the package at `path`.  Returns 0, or an error with a message
 * naming the file (not an apk, no .PKGINFO, no pkgname or pkgver).
 */
int rpl_apk_read(const char *path, struct rpl_apk *out);
/* The same for the `len` bytes of a package at `data` (its file_size is
 * `len`); `name` stands for the file in messages. */
int rpl_apk_read_memory(const void *data, size_t len, const char *name, struct rpl_apk *out);
void rpl_apk_release(struct rpl_apk *a);

/*
 * The APKINDEX record of `a` (melange's template, §4.9), ending with the
 * blank line that separates records.  Returns a malloc'd string.
 */
char *rpl_apk_index_record(const struct rpl_apk *a);

/*
 * Splits `len` bytes of concatenated gzip members: calls `fn` with each
 * member's compressed bytes and its decompressed content, in order, until
 * `fn` returns non-zero.  Decompressed members larger than `max_out` are an
 * error (a gzip bomb, or not a control section).  Returns 0 or an error.
 */
int rpl_gzip_members(const void *data, size_t len, size_t max_out,
                     int (*fn)(void *ctx, const void *member, size_t member_len, const void *out,
                               size_t out_len),
                     void *ctx);

#endif
