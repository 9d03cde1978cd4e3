/*
 * Checking an APK v2 package that came from elsewhere (the artifact cache)
 * before it enters an output repository: its signature (the first gzip
 * member, one `.SIGN.RSA256.<key>` or `.SIGN.RSA.<key>` entry, over the
 * control member's compressed bytes) must verify with one of the trusted
 * public keys, and its data member must be what the signed control
 * section's `datahash` says.  Together they bind every byte of the
 * package but the signature's own to the key's holder.
 */
#ifndef RPL_APKVERIFY_H
#define RPL_APKVERIFY_H

#include <stddef.h>

/*
 * Checks the `len` bytes at `data` (`name` stands for them in messages)
 * against the PEM public keys at the paths `keys`.  Returns 0 when one key
 * verifies the signature and the data is whole; else an error with a
 * message saying which check failed.
 */
int rpl_apk_verify(const void *data, size_t len, const char *name, char *const *keys, size_t nkeys);

#endif
