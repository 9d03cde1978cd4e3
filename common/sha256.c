#include "common/sha256.h"
#include "common/error.h"

#include <openssl/evp.h>
#include <pthread.h>
#include <string.h>

/*
 * OpenSSL 3 looks the algorithm up on every implicit fetch; a plan hashes
 * tens of thousands of small things, so the implementation is fetched once.
 */
static EVP_MD *fetched;

static void fetch_sha256(void)
{
	fetched = EVP_MD_fetch(NULL, "SHA256", NULL);
}

static const EVP_MD *sha256_md(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;

	pthread_once(&once, fetch_sha256);
	return fetched ? fetched : EVP_sha256();
}

void rpl_sha256_init(struct rpl_sha256 *h)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();

	if (!ctx || EVP_DigestInit_ex(ctx, sha256_md(), NULL) != 1)
		RPL_BUG("EVP sha256 init failed");
	h->ctx = ctx;
}

void rpl_sha256_update(struct rpl_sha256 *h, const void *p, size_t n)
{
	if (n && EVP_DigestUpdate(h->ctx, p, n) != 1)
		RPL_BUG("EVP sha256 update failed");
}

void rpl_sha256_update_str(struct rpl_sha256 *h, const char *s)
{
	rpl_sha256_update(h, s, strlen(s) + 1);
}

void rpl_sha256_final(struct rpl_sha256 *h, uint8_t out[RPL_SHA256_LEN])
{
	unsigned int len = 0;

	if (EVP_DigestFinal_ex(h->ctx, out, &len) != 1 || len != RPL_SHA256_LEN)
		RPL_BUG("EVP sha256 final failed");
	EVP_MD_CTX_free(h->ctx);
	h->ctx = NULL;
}

void rpl_sha256(const void *p, size_t n, uint8_t out[RPL_SHA256_LEN])
{
	struct rpl_sha256 h;

	rpl_sha256_init(&h);
	rpl_sha256_update(&h, p, n);
	rpl_sha256_final(&h, out);
}

void rpl_hex(const uint8_t *p, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[p[i] >> 4];
		out[2 * i + 1] = digits[p[i] & 15];
	}
	out[2 * n] = '\0';
}

void rpl_oci_digest(const void *p, size_t n, char out[RPL_OCI_DIGEST])
{
	uint8_t d[RPL_SHA256_LEN];

	rpl_sha256(p, n, d);
	memcpy(out, "sha256:", 7);
	rpl_hex(d, sizeof(d), out + 7);
}
