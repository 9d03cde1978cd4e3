/*
 * SHA-256 through OpenSSL's EVP interface.
 */
#ifndef RPL_SHA256_H
#define RPL_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define RPL_SHA256_LEN 32
#define RPL_SHA256_HEX (RPL_SHA256_LEN * 2 + 1)

struct rpl_sha256 {
	void *ctx; /* EVP_MD_CTX */
};

void rpl_sha256_init(struct rpl_sha256 *h);
void rpl_sha256_update(struct rpl_sha256 *h, const void *p, size_t n);
/* Adds `s` with its NUL, so that consecutive strings cannot run together. */
void rpl_sha256_update_str(struct rpl_sha256 *h, const char *s);
/* Writes the digest and releases the context. */
void rpl_sha256_final(struct rpl_sha256 *h, uint8_t out[RPL_SHA256_LEN]);

void rpl_sha256(const void *p, size_t n, uint8_t out[RPL_SHA256_LEN]);
/* Lowercase hex of `n` bytes into `out` (2n+1 bytes). */
void rpl_hex(const uint8_t *p, size_t n, char *out);

/* "sha256:" and the hex of the SHA-256 of `n` bytes: an OCI digest. */
#define RPL_OCI_DIGEST (7 + RPL_SHA256_HEX)
void rpl_oci_digest(const void *p, size_t n, char out[RPL_OCI_DIGEST]);

#endif
