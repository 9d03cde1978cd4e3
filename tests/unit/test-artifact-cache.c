/*
 * The artifact cache's local side (orchestrator/artifact_cache.h) and the
 * apk check it relies on (runners/apkverify.h): a stored job comes back
 * byte for byte; a different key, job or arch is a miss or a refusal; a
 * tampered blob, a manifest edited, a layer that would write outside the
 * job's outputs, an artifact or an apk signed by an untrusted key are
 * refused with nothing put in place; a native image's blobs come back as
 * an OCI layout with its index.  The registry side is tested end to end
 * (tests/e2e/0160-cache.sh).
 */
#include "common/error.h"
#include "common/file.h"
#include "common/sha256.h"
#include "common/strbuf.h"
#include "orchestrator/artifact_cache.h"
#include "runners/apkverify.h"
#include "runners/apkwrite.h"
#include "runners/repo.h"

#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/unit/testlib.h"

static char dir[256], cwd[4096];
static struct rpl_signer key_a, key_b;

#define APK "packages/x86_64/foo-1.0-r0.apk"

static int setup(void **state)
{
	(void)state;
	if (!getcwd(cwd, sizeof(cwd)) || rpl_test_mkdtemp(dir, sizeof(dir), "acache") || chdir(dir))
		return -1;
	/* Two keys: a.rsa builds, b.rsa is nobody the cache trusts. */
	if (rpl_signer_generate("a.rsa", 1024) || rpl_signer_generate("b.rsa", 1024) ||
	    rpl_signer_load(&key_a, "a.rsa") || rpl_signer_load(&key_b, "b.rsa"))
		return -1;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	rpl_signer_release(&key_a);
	rpl_signer_release(&key_b);
	if (chdir(cwd))
		return -1;
	return rpl_test_remove_tree(dir);
}

/* Writes the package foo (one file holding `text`) to APK, signed by `key`. */
static void write_apk(const struct rpl_signer *key, const char *text)
{
	struct rpl_apk_meta m;

	rpl_test_write_file(dir, "tree/usr/share/foo/hello", text);
	memset(&m, 0, sizeof(m));
	m.name = "foo";
	m.version = "1.0-r0";
	m.arch = "x86_64";
	m.origin = "foo";
	m.source_date_epoch = 1700000000;
	assert_int_equal(rpl_mkdirs("packages/x86_64"), 0);
	assert_int_equal(rpl_apk_write("tree", NULL, 0, &m, key, APK, NULL), 0);
}

static char *slurp(const char *path)
{
	char *text;
	size_t len;

	assert_int_equal(rpl_read_file(path, &text, &len), 0);
	return text;
}

static struct rpl_cache *cache_with(const struct rpl_signer *signer, const char *trusted)
{
	char *keys[] = { (char *)trusted };
	struct rpl_cache_opts o = { RPL_CACHE_DIR, NULL, signer, keys, trusted ? 1 : 0, "latest" };

	return rpl_cache_new(&o);
}

static char *const apk_outputs[] = { APK };

static void item(struct rpl_cache_item *it, const char *name, uint8_t key_byte)
{
	memset(it, 0, sizeof(*it));
	it->kind = "package";
	it->name = name;
	it->arch = "x86_64";
	memset(it->key, key_byte, sizeof(it->key));
	it->outputs = apk_outputs;
	it->noutputs = 1;
}

/* The path of the local blob of `file`'s bytes. */
static char *blob_of(const char *file)
{
	char *text, hex[65];
	size_t len;
	uint8_t d[RPL_SHA256_LEN];
	struct rpl_strbuf p = RPL_STRBUF_INIT;

	assert_int_equal(rpl_read_file(file, &text, &len), 0);
	rpl_sha256(text, len, d);
	rpl_hex(d, sizeof(d), hex);
	free(text);
	rpl_strbuf_addf(&p, RPL_CACHE_DIR "/blobs/sha256/%s", hex);
	return rpl_strbuf_detach(&p);
}

/* Fetches `it` and expects a refusal matching `why`, with nothing put in place. */
static void expect_refused(struct rpl_cache *c, struct rpl_cache_item *it, const char *why)
{
	const char *where;
	char *refused;

	unlink(APK);
	assert_int_equal(rpl_cache_fetch(c, it, &where, &refused), 0);
	assert_null(where);
	assert_non_null(refused);
	if (!strstr(refused, why))
		fail_msg("refused with '%s', not for '%s'", refused, why);
	assert_int_equal(access(APK, F_OK), -1);
	free(refused);
}

static void test_stored_comes_back(void **state)
{
	struct rpl_cache *c = cache_with(&key_a, "a.rsa.pub");
	struct rpl_cache_item it;
	const char *where;
	char *before, *after, *refused;

	(void)state;
	write_apk(&key_a, "hello\n");
	before = slurp(APK);
	item(&it, "foo", 1);
	it.seconds = 12.5; /* what the build took, kept beside the artifact */
	assert_int_equal(rpl_cache_store(c, &it), 0);
	unlink(APK);
	it.seconds = 0;
	assert_int_equal(rpl_cache_fetch(c, &it, &where, &refused), 1);
	assert_string_equal(where, "local");
	assert_null(refused);
	assert_true(it.seconds == 12.5);
	after = slurp(APK);
	assert_string_equal(after, before);
	/* Another key is a miss, and says nothing. */
	unlink(APK);
	item(&it, "foo", 2);
	assert_int_equal(rpl_cache_fetch(c, &it, &where, &refused), 0);
	assert_null(refused);
	assert_int_equal(access(APK, F_OK), -1);
	free(before);
	free(after);
	rpl_cache_free(c);
}

static void test_statement(void **state)
{
	struct rpl_cache_item it;
	struct rpl_cache_layer l[] = { { "packages/x86_64/a.apk", "sha256:00", 12 },
		                       { "packages/x86_64/b.apk", "sha256:11", 0 } };
	char *s;

	(void)state;
	item(&it, "foo", 0xab);
	s = rpl_cache_statement(&it, NULL, l, 2);
	assert_string_equal(s, "ripple artifact 1\n"
	                       "abababababababababababababababababababababababababababababababab\n"
	                       "package foo x86_64\n"
	                       "-\n"
	                       "sha256:00 12 packages/x86_64/a.apk\n"
	                       "sha256:11 0 packages/x86_64/b.apk\n");
	free(s);
}

static void test_tampered_blob_is_refused(void **state)
{
	struct rpl_cache *c = cache_with(&key_a, "a.rsa.pub");
	struct rpl_cache_item it;
	char *blob;
	FILE *f;

	(void)state;
	write_apk(&key_a, "hello\n");
	blob = blob_of(APK);
	item(&it, "foo", 3);
	assert_int_equal(rpl_cache_store(c, &it), 0);
	assert_non_null(f = fopen(blob, "r+"));
	fputc('X', f);
	fclose(f);
	expect_refused(c, &it, "is not what its name says");
	/* Gone altogether: refused as well, not taken for a miss. */
	unlink(blob);
	expect_refused(c, &it, "is missing");
	free(blob);
	rpl_cache_free(c);
}

static void test_other_job_or_untrusted_signer_is_refused(void **state)
{
	struct rpl_cache *c = cache_with(&key_a, "a.rsa.pub"), *other;
	struct rpl_cache_item it;

	(void)state;
	write_apk(&key_a, "hello\n");
	item(&it, "foo", 4);
	assert_int_equal(rpl_cache_store(c, &it), 0);
	/* The same key asked for by another job. */
	item(&it, "bar", 4);
	expect_refused(c, &it, "the artifact is of 'package foo x86_64'");
	/* A cache that trusts only b.rsa. */
	item(&it, "foo", 4);
	other = cache_with(NULL, "b.rsa.pub");
	expect_refused(other, &it, "does not verify with any trusted key");
	rpl_cache_free(other);
	rpl_cache_free(c);
}

static void test_apk_by_untrusted_key_is_refused(void **state)
{
	struct rpl_cache *c = cache_with(&key_a, "a.rsa.pub");
	struct rpl_cache_item it;

	(void)state;
	/* The artifact is signed by a.rsa, the package inside by b.rsa. */
	write_apk(&key_b, "hello\n");
	item(&it, "foo", 5);
	assert_int_equal(rpl_cache_store(c, &it), 0);
	expect_refused(c, &it, "is signed by b.rsa.pub, which no trusted key verifies");
	/* Unsigned. */
	write_apk(NULL, "hello\n");
	item(&it, "foo", 6);
	assert_int_equal(rpl_cache_store(c, &it), 0);
	expect_refused(c, &it, "is not signed");
	rpl_cache_free(c);
}

/*
 * The local manifest of `key_byte`'s entry with its first `from` replaced
 * by `to`, stored under its new digest and pointed to by the entry.
 */
static void edit_manifest(uint8_t key_byte, const char *from, const char *to)
{
	char hex[65], *ref, *digest, *path, *text, *hit;
	struct rpl_strbuf p = RPL_STRBUF_INIT, out = RPL_STRBUF_INIT;
	uint8_t k[RPL_SHA256_LEN], d[RPL_SHA256_LEN];
	size_t len;

	memset(k, key_byte, sizeof(k));
	rpl_hex(k, sizeof(k), hex);
	rpl_strbuf_addf(&p, RPL_CACHE_DIR "/refs/%s", hex);
	ref = rpl_strbuf_detach(&p);
	digest = slurp(ref);
	digest[strcspn(digest, "\n")] = '\0';
	rpl_strbuf_addf(&p, RPL_CACHE_DIR "/blobs/sha256/%s", digest + 7);
	path = rpl_strbuf_detach(&p);
	assert_int_equal(rpl_read_file(path, &text, &len), 0);
	assert_non_null(hit = strstr(text, from));
	rpl_strbuf_add(&out, text, (size_t)(hit - text));
	rpl_strbuf_addstr(&out, to);
	rpl_strbuf_addstr(&out, hit + strlen(from));
	rpl_sha256(out.buf, out.len, d);
	rpl_hex(d, sizeof(d), hex);
	rpl_strbuf_addf(&p, RPL_CACHE_DIR "/blobs/sha256/%s", hex);
	assert_int_equal(rpl_write_file_atomic(p.buf, out.buf, out.len), 0);
	rpl_strbuf_reset(&p);
	rpl_strbuf_addf(&p, "sha256:%s\n", hex);
	assert_int_equal(rpl_write_file_atomic(ref, p.buf, p.len), 0);
	rpl_strbuf_release(&p);
	rpl_strbuf_release(&out);
	free(ref);
	free(digest);
	free(path);
	free(text);
}

static void test_edited_manifest_is_refused(void **state)
{
	struct rpl_cache *c = cache_with(&key_a, "a.rsa.pub");
	struct rpl_cache_item it;

	(void)state;
	write_apk(&key_a, "hello\n");
	item(&it, "foo", 7);
	assert_int_equal(rpl_cache_store(c, &it), 0);
	/* A layer that would write elsewhere: refused before any signature. */
	edit_manifest(7, "\"" APK "\"", "\"../../etc/passwd\"");
	expect_refused(c, &it, "would write '../../etc/passwd', not a file of the job");
	/* A well-formed edit (another title of the job's) breaks the signature. */
	write_apk(&key_a, "hello\n");
	item(&it, "foo", 8);
	assert_int_equal(rpl_cache_store(c, &it), 0);
	edit_manifest(8, "\"ripple.cache.version\":\"1\"",
	              "\"ripple.cache.version\":\"1\",\"x\":\"y\"");
	{
		const char *where;
		char *refused;
		/* Annotations outside the signed statement do not matter... */
		assert_int_equal(rpl_cache_fetch(c, &it, &where, &refused), 1);
		assert_null(refused);
	}
	/* ... a layer's size does. */
	edit_manifest(8, ",\"annotations\":{\"org.opencontainers.image.title\"",
	              "1,\"annotations\":{\"org.opencontainers.image.title\"");
	expect_refused(c, &it, "does not verify with any trusted key");
	rpl_cache_free(c);
}

static void test_apk_verify(void **state)
{
	char *keys[] = { "b.rsa.pub", "a.rsa.pub" }, *text;
	size_t len;

	(void)state;
	write_apk(&key_a, "hello\n");
	assert_int_equal(rpl_read_file(APK, &text, &len), 0);
	assert_int_equal(rpl_apk_verify(text, len, APK, keys, 2), 0);
	assert_int_not_equal(rpl_apk_verify(text, len, APK, keys, 1), 0);
	assert_non_null(strstr(rpl_errmsg(), "which no trusted key verifies"));
	/* A byte of the data section changed (its last bytes: the gzip trailer). */
	text[len - 5] ^= 0x01;
	assert_int_not_equal(rpl_apk_verify(text, len, APK, keys, 2), 0);
	free(text);
}

/* A native image job: its layout's blobs come back, and its index names them. */
static void test_native_image(void **state)
{
	struct rpl_cache *c = cache_with(&key_a, "a.rsa.pub");
	static char *const outs[] = { "images/img/x86_64.manifest" };
	struct rpl_cache_item it = { "image", "img", "x86_64", { 9 }, outs, 1 };
	char cfgd[80], layd[80], mand[80], hex[65], *manifest;
	json_t *mj;
	uint8_t d[RPL_SHA256_LEN];
	const char *where;
	char *refused;
	json_t *index;

	(void)state;
	/* A config, a layer and a manifest naming them, as the assembler writes. */
	rpl_sha256("{\"config\":{}}", 13, d);
	rpl_hex(d, sizeof(d), hex);
	snprintf(cfgd, sizeof(cfgd), "sha256:%s", hex);
	{
		char rel[200];
		snprintf(rel, sizeof(rel), "images/img/blobs/sha256/%s", cfgd + 7);
		rpl_test_write_file(dir, rel, "{\"config\":{}}");
		rpl_sha256("layer bytes", 11, d);
		rpl_hex(d, sizeof(d), hex);
		snprintf(layd, sizeof(layd), "sha256:%s", hex);
		snprintf(rel, sizeof(rel), "images/img/blobs/sha256/%s", layd + 7);
		rpl_test_write_file(dir, rel, "layer bytes");
		mj = json_pack("{s:i,s:s,s:{s:s,s:s,s:i},s:[{s:s,s:s,s:i}]}", "schemaVersion", 2,
		               "mediaType", "application/vnd.oci.image.manifest.v1+json", "config",
		               "mediaType", "application/vnd.oci.image.config.v1+json", "digest",
		               cfgd, "size", 13, "layers", "mediaType",
		               "application/vnd.oci.image.layer.v1.tar+gzip", "digest", layd,
		               "size", 11);
		manifest = json_dumps(mj, JSON_COMPACT);
		json_decref(mj);
		rpl_sha256(manifest, strlen(manifest), d);
		rpl_hex(d, sizeof(d), hex);
		snprintf(mand, sizeof(mand), "sha256:%s", hex);
		snprintf(rel, sizeof(rel), "images/img/blobs/sha256/%s", mand + 7);
		rpl_test_write_file(dir, rel, manifest);
		snprintf(rel, sizeof(rel), "%s\n", mand);
		rpl_test_write_file(dir, "images/img/x86_64.manifest", rel);
		/* What the index entry is made from, and the arch's SBOM. */
		rpl_test_write_file(dir, "images/img/x86_64.entry.json",
		                    "{\"name\":\"img\",\"annotations\":{\"org.example.a\":\"v\"},"
		                    "\"created\":\"2024-01-02T03:04:05Z\",\"os\":null,"
		                    "\"vcs-url\":null}");
		rpl_test_write_file(dir, "images/img/sboms/sbom-x86_64.spdx.json", "{\"sbom\":1}");
	}
	memset(it.key, 9, sizeof(it.key));
	assert_int_equal(rpl_cache_store(c, &it), 0);
	assert_int_equal(rpl_test_remove_tree("images"), 0);
	assert_int_equal(rpl_cache_fetch(c, &it, &where, &refused), 1);
	assert_null(refused);
	{
		char rel[200], *got;
		snprintf(rel, sizeof(rel), "images/img/blobs/sha256/%s", mand + 7);
		got = slurp(rel);
		assert_string_equal(got, manifest);
		free(got);
		snprintf(rel, sizeof(rel), "images/img/blobs/sha256/%s", layd + 7);
		got = slurp(rel);
		assert_string_equal(got, "layer bytes");
		free(got);
		got = slurp("images/img/x86_64.manifest");
		snprintf(rel, sizeof(rel), "%s\n", mand);
		assert_string_equal(got, rel);
		free(got);
		got = slurp("images/img/sboms/sbom-x86_64.spdx.json");
		assert_string_equal(got, "{\"sbom\":1}");
		free(got);
	}
	/* The layout's index: the tag's image index, which lists the manifest. */
	assert_non_null(index = json_load_file("images/img/index.json", 0, NULL));
	{
		json_t *m = json_array_get(json_object_get(index, "manifests"), 0);
		char *inner, rel[200];
		const char *ref = json_string_value(json_object_get(
		        json_object_get(m, "annotations"), "org.opencontainers.image.ref.name"));
		assert_string_equal(ref, "latest");
		snprintf(rel, sizeof(rel), "images/img/blobs/sha256/%s",
		         json_string_value(json_object_get(m, "digest")) + 7);
		inner = slurp(rel);
		assert_non_null(strstr(inner, mand));
		/* Its annotations are the assembly's, from the entry. */
		assert_non_null(strstr(inner, "\"org.example.a\":\"v\""));
		assert_non_null(strstr(inner, "2024-01-02T03:04:05Z"));
		free(inner);
	}
	json_decref(index);
	free(manifest);
	rpl_cache_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test(f)
		T(test_stored_comes_back),
		T(test_statement),
		T(test_tampered_blob_is_refused),
		T(test_other_job_or_untrusted_signer_is_refused),
		T(test_apk_by_untrusted_key_is_refused),
		T(test_edited_manifest_is_refused),
		T(test_apk_verify),
		T(test_native_image),
#undef T
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
