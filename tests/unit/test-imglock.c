/*
 * apko.lock.json (runners/imglock.c), written and read back in a fresh
 * temporary directory for an apko config with an include: the config
 * checksum (over the file and its include, in read order), each package's
 * section ranges and checksums, the keyring (sorted, one per name, with
 * its content), the repositories (a tag's label dropped), the file's
 * layout, several archs in one file, a config edit invalidating the lock,
 * and the errors of reading (not JSON, another version, a package without
 * a field, no packages for the arch).
 */
#include "runners/imglock.h"
#include "common/error.h"
#include "common/sha256.h"
#include "recipes/apko.h"
#include "runners/apk.h"

#include <errno.h>
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tests/unit/testlib.h"

static char dir[256];
static const char img_text[] = "include: base.yaml\n"
                               "contents:\n  packages:\n    - hello\n";
static const char base_text[] = "contents:\n  packages:\n    - busybox\n"
                                "archs: [x86_64, aarch64]\n";

static int make_dir(void **state)
{
	(void)state;
	if (rpl_test_mkdtemp(dir, sizeof(dir), "imglock"))
		return -1;
	rpl_test_write_file(dir, "base.yaml", base_text);
	rpl_test_write_file(dir, "img.apko.yaml", img_text);
	rpl_test_write_file(dir, "keys/b.rsa.pub", "-----BEGIN PUBLIC KEY-----\nBBB\n");
	rpl_test_write_file(dir, "keys/a.rsa.pub", "-----BEGIN PUBLIC KEY-----\nAAA\n");
	return 0;
}

static int remove_dir(void **state)
{
	(void)state;
	rpl_test_remove_tree(dir);
	dir[0] = '\0';
	return 0;
}

static void path_of(char *out, size_t n, const char *rel)
{
	snprintf(out, n, "%s/%s", dir, rel);
}

static struct rpl_image *load(void)
{
	char p[512];
	struct rpl_image *img;

	path_of(p, sizeof(p), "img.apko.yaml");
	if (!(img = rpl_image_load(p)))
		fail_msg("rpl_image_load: %s", rpl_errmsg());
	return img;
}

/* Standard base64, written here so the test does not trust the code's. */
static void b64(const uint8_t *d, size_t n, const char *prefix, char *out)
{
	static const char al[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t k = strlen(prefix);

	memcpy(out, prefix, k);

	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)d[i] << 16 | (i + 1 < n ? (uint32_t)d[i + 1] << 8 : 0) |
		             (i + 2 < n ? d[i + 2] : 0);
		out[k++] = al[v >> 18 & 63];
		out[k++] = al[v >> 12 & 63];
		out[k++] = i + 1 < n ? al[v >> 6 & 63] : '=';
		out[k++] = i + 2 < n ? al[v & 63] : '=';
	}
	out[k] = '\0';
}

/* A package as rpl_apk_read would give it; `seed` makes its checksums its own. */
static void fake_apk(struct rpl_apk *a, const char *name, const char *ver, int seed, int signed_)
{
	memset(a, 0, sizeof(*a));
	a->pkgname = (char *)name;
	a->pkgver = (char *)ver;
	for (int i = 0; i < RPL_SHA1_LEN; i++) {
		a->control_sha1[i] = (uint8_t)(seed * 7 + i);
		a->signature_sha1[i] = (uint8_t)(seed * 11 + 3 * i);
	}
	for (int i = 0; i < 32; i++)
		a->data_sha256[i] = (uint8_t)(seed * 13 + 5 * i);
	a->control_off = signed_ ? 700 : 0;
	a->data_off = a->control_off + 400;
	a->file_size = a->data_off + 5000 + (uint64_t)seed;
}

static json_t *load_json(const char *path)
{
	json_error_t je;
	json_t *j = json_load_file(path, 0, &je);

	if (!j)
		fail_msg("%s: %s", path, je.text);
	return j;
}

static const char *str_at(json_t *o, const char *a, const char *b)
{
	json_t *v = json_object_get(o, a);
	return json_string_value(b ? json_object_get(v, b) : v);
}

/* ---- the config checksum ---------------------------------------------------------- */

static void test_config_checksum_covers_includes(void **state)
{
	struct rpl_image *img = load();
	char sum[64], want[64], again[64], text[512];
	uint8_t d[RPL_SHA256_LEN];
	struct rpl_sha256 h;
	char p[512];

	(void)state;
	assert_int_equal(img->ninputs, 2);
	assert_int_equal(rpl_imglock_config_checksum(img, sum), 0);
	/* The file, then what it includes, as read. */
	rpl_sha256_init(&h);
	rpl_sha256_update(&h, img_text, strlen(img_text));
	rpl_sha256_update(&h, base_text, strlen(base_text));
	rpl_sha256_final(&h, d);
	b64(d, sizeof(d), "sha256-", want);
	assert_string_equal(sum, want);

	/* An edit of the include changes it. */
	snprintf(text, sizeof(text), "contents:\n  packages:\n    - busybox\n    - bash\n");
	rpl_test_write_file(dir, "base.yaml", text);
	assert_int_equal(rpl_imglock_config_checksum(img, again), 0);
	assert_string_not_equal(again, sum);

	/* A file gone is an error. */
	path_of(p, sizeof(p), "base.yaml");
	assert_int_equal(remove(p), 0);
	assert_int_equal(rpl_imglock_config_checksum(img, again), -ENOENT);
	rpl_image_free(img);
}

/* ---- writing ------------------------------------------------------------------------- */

static void test_write_layout(void **state)
{
	struct rpl_image *img = load();
	struct rpl_apk a, b;
	struct rpl_lock_entry pkgs[2] = { { "https://packages.wolfi.dev/os/x86_64/busybox.apk",
		                            &a },
		                          { "packages/x86_64/hello-1.0-r0.apk", &b } };
	char lock[512], ka[512], kb[512], sum[64], want[128];
	char *keys[3] = { kb, ka, kb },
	     *repos[2] = { "https://packages.wolfi.dev/os", "@local /work/packages" };
	json_t *j, *p, *k, *r;
	FILE *f;
	char text[16384];
	size_t len;

	(void)state;
	path_of(lock, sizeof(lock), "apko.lock.json");
	path_of(ka, sizeof(ka), "keys/a.rsa.pub");
	path_of(kb, sizeof(kb), "keys/b.rsa.pub");
	fake_apk(&a, "busybox", "1.36.1-r2", 1, 1);
	fake_apk(&b, "hello", "1.0-r0", 2, 0);
	assert_int_equal(rpl_imglock_write(lock, img, "x86_64", keys, 3, repos, 2, pkgs, 2), 0);

	/* Two spaces of indent, keys in apko's order, a trailing newline. */
	f = fopen(lock, "r");
	assert_non_null(f);
	len = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	text[len] = '\0';
	assert_true(len > 0 && text[len - 1] == '\n' && text[len - 2] == '}');
	{
		const char head[] = "{\n  \"version\": \"v1\",\n  \"config\": {\n    \"name\": "
		                    "\"img.apko.yaml\",\n";
		assert_memory_equal(text, head, strlen(head));
	}
	assert_true(strstr(text, "\"keyring\"") < strstr(text, "\"build_repositories\""));
	assert_true(strstr(text, "\"repositories\"") < strstr(text, "\"packages\""));

	j = load_json(lock);
	assert_string_equal(str_at(j, "version", NULL), "v1");
	assert_string_equal(str_at(j, "config", "name"), "img.apko.yaml");
	assert_int_equal(rpl_imglock_config_checksum(img, sum), 0);
	assert_string_equal(str_at(j, "config", "checksum"), sum);

	/* The keyring: sorted by name, one entry per name, with the key's text. */
	k = json_object_get(json_object_get(j, "contents"), "keyring");
	assert_int_equal(json_array_size(k), 2);
	assert_string_equal(str_at(json_array_get(k, 0), "name", NULL), ka);
	assert_string_equal(str_at(json_array_get(k, 0), "url", NULL), ka);
	assert_string_equal(str_at(json_array_get(k, 0), "content", NULL),
	                    "-----BEGIN PUBLIC KEY-----\nAAA\n");
	assert_string_equal(str_at(json_array_get(k, 1), "name", NULL), kb);
	assert_int_equal(json_array_size(json_object_get(json_object_get(j, "contents"),
	                                                 "build_repositories")),
	                 0);

	/* Repositories: per arch, without the scheme in the name, "@tag" dropped. */
	r = json_object_get(json_object_get(j, "contents"), "repositories");
	assert_int_equal(json_array_size(r), 2);
	assert_string_equal(str_at(json_array_get(r, 0), "name", NULL),
	                    "packages.wolfi.dev/os/x86_64");
	assert_string_equal(str_at(json_array_get(r, 0), "url", NULL),
	                    "https://packages.wolfi.dev/os/x86_64/APKINDEX.tar.gz");
	assert_string_equal(str_at(json_array_get(r, 0), "architecture", NULL), "x86_64");
	assert_string_equal(str_at(json_array_get(r, 1), "name", NULL), "/work/packages/x86_64");
	assert_string_equal(str_at(json_array_get(r, 1), "url", NULL),
	                    "/work/packages/x86_64/APKINDEX.tar.gz");

	/* Packages in install order, with their sections' ranges and checksums. */
	p = json_object_get(json_object_get(j, "contents"), "packages");
	assert_int_equal(json_array_size(p), 2);
	assert_string_equal(str_at(json_array_get(p, 0), "name", NULL), "busybox");
	assert_string_equal(str_at(json_array_get(p, 0), "version", NULL), "1.36.1-r2");
	assert_string_equal(str_at(json_array_get(p, 0), "url", NULL), pkgs[0].url);
	assert_string_equal(str_at(json_array_get(p, 0), "architecture", NULL), "x86_64");
	assert_string_equal(str_at(json_array_get(p, 0), "signature", "range"), "bytes=0-699");
	b64(a.signature_sha1, RPL_SHA1_LEN, "sha1-", want);
	assert_string_equal(str_at(json_array_get(p, 0), "signature", "checksum"), want);
	assert_string_equal(str_at(json_array_get(p, 0), "control", "range"), "bytes=700-1099");
	b64(a.control_sha1, RPL_SHA1_LEN, "sha1-", want);
	assert_string_equal(str_at(json_array_get(p, 0), "control", "checksum"), want);
	assert_string_equal(str_at(json_array_get(p, 0), "data", "range"), "bytes=1100-6100");
	b64(a.data_sha256, 32, "sha256-", want);
	assert_string_equal(str_at(json_array_get(p, 0), "data", "checksum"), want);
	b64(a.control_sha1, RPL_SHA1_LEN, "Q1", want);
	assert_string_equal(str_at(json_array_get(p, 0), "checksum", NULL), want);
	/* An unsigned package has no signature section. */
	assert_null(json_object_get(json_array_get(p, 1), "signature"));
	assert_string_equal(str_at(json_array_get(p, 1), "control", "range"), "bytes=0-399");
	assert_string_equal(str_at(json_array_get(p, 1), "data", "range"), "bytes=400-5401");
	json_decref(j);
	rpl_image_free(img);
}

/* What was written reads back, for its arch only, in install order. */
static void test_round_trip_per_arch(void **state)
{
	struct rpl_image *img = load();
	struct rpl_apk a, b, c;
	struct rpl_lock_entry x86[2] = { { "r/x86_64/a.apk", &a }, { "r/x86_64/b.apk", &b } };
	struct rpl_lock_entry arm[1] = { { "r/aarch64/c.apk", &c } };
	struct rpl_lock_pkg *got;
	size_t n;
	char lock[512], want[64];

	(void)state;
	path_of(lock, sizeof(lock), "apko.lock.json");
	fake_apk(&a, "zlib", "1.3-r0", 3, 1);
	fake_apk(&b, "busybox", "1.36-r0", 4, 1);
	fake_apk(&c, "glibc", "2.39-r1", 5, 0);
	assert_int_equal(rpl_imglock_write(lock, img, "x86_64", NULL, 0, NULL, 0, x86, 2), 0);
	assert_int_equal(rpl_imglock_write(lock, img, "aarch64", NULL, 0, NULL, 0, arm, 1), 0);

	assert_int_equal(rpl_imglock_read(lock, img, "x86_64", &got, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(got[0].name, "zlib");
	assert_string_equal(got[0].version, "1.3-r0");
	assert_string_equal(got[0].url, "r/x86_64/a.apk");
	b64(a.control_sha1, RPL_SHA1_LEN, "Q1", want);
	assert_string_equal(got[0].checksum, want);
	b64(a.data_sha256, 32, "sha256-", want);
	assert_string_equal(got[0].data_checksum, want);
	assert_string_equal(got[1].name, "busybox");
	rpl_imglock_free(got, n);

	assert_int_equal(rpl_imglock_read(lock, img, "aarch64", &got, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(got[0].name, "glibc");
	rpl_imglock_free(got, n);

	/* Locking x86_64 again replaces its packages and keeps aarch64's. */
	assert_int_equal(rpl_imglock_write(lock, img, "x86_64", NULL, 0, NULL, 0, x86 + 1, 1), 0);
	assert_int_equal(rpl_imglock_read(lock, img, "x86_64", &got, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(got[0].name, "busybox");
	rpl_imglock_free(got, n);
	assert_int_equal(rpl_imglock_read(lock, img, "aarch64", &got, &n), 0);
	assert_int_equal(n, 1);
	rpl_imglock_free(got, n);

	/* An arch nobody locked. */
	assert_int_equal(rpl_imglock_read(lock, img, "riscv64", &got, &n), -RPL_ENOTFOUND);
	assert_null(got);
	assert_int_equal(n, 0);
	assert_non_null(strstr(rpl_errmsg(), "locks no packages for riscv64"));
	rpl_image_free(img);
}

/* After an edit of the config (here its include) the lock no longer holds. */
static void test_config_edit_invalidates(void **state)
{
	struct rpl_image *img = load();
	struct rpl_apk a;
	struct rpl_lock_entry e[1] = { { "a.apk", &a } };
	struct rpl_lock_pkg *got;
	size_t n;
	char lock[512];
	json_t *j;

	(void)state;
	path_of(lock, sizeof(lock), "apko.lock.json");
	fake_apk(&a, "zlib", "1.3-r0", 3, 1);
	assert_int_equal(rpl_imglock_write(lock, img, "aarch64", NULL, 0, NULL, 0, e, 1), 0);
	rpl_test_write_file(dir, "base.yaml", "contents:\n  packages:\n    - toybox\n");
	assert_int_equal(rpl_imglock_read(lock, img, "aarch64", &got, &n), -RPL_EPARSE);
	assert_non_null(strstr(rpl_errmsg(), "was made from another version of"));
	assert_non_null(strstr(rpl_errmsg(), "lock it again"));

	/* Writing another arch now starts afresh: aarch64's entry is gone. */
	assert_int_equal(rpl_imglock_write(lock, img, "x86_64", NULL, 0, NULL, 0, e, 1), 0);
	j = load_json(lock);
	assert_int_equal(
	        json_array_size(json_object_get(json_object_get(j, "contents"), "packages")), 1);
	json_decref(j);
	assert_int_equal(rpl_imglock_read(lock, img, "aarch64", &got, &n), -RPL_ENOTFOUND);
	assert_int_equal(rpl_imglock_read(lock, img, "x86_64", &got, &n), 0);
	rpl_imglock_free(got, n);
	rpl_image_free(img);
}

static void test_write_errors(void **state)
{
	struct rpl_image *img = load();
	struct rpl_apk a;
	struct rpl_lock_entry e[1] = { { "a.apk", &a } };
	char lock[512], key[512], missing[512];
	char *keys[1] = { key }, *nokey[1] = { missing };

	(void)state;
	fake_apk(&a, "zlib", "1.3-r0", 3, 1);
	path_of(lock, sizeof(lock), "apko.lock.json");
	/* A key that is not text cannot go in JSON. */
	rpl_test_write_file(dir, "keys/bad.pub", "\xff\xfe not utf-8\n");
	path_of(key, sizeof(key), "keys/bad.pub");
	assert_int_equal(rpl_imglock_write(lock, img, "x86_64", keys, 1, NULL, 0, e, 1),
	                 -RPL_EPARSE);
	assert_non_null(strstr(rpl_errmsg(), "not UTF-8"));
	/* A key that is not there. */
	path_of(missing, sizeof(missing), "keys/none.pub");
	assert_int_equal(rpl_imglock_write(lock, img, "x86_64", nokey, 1, NULL, 0, e, 1), -ENOENT);
	/* Neither left a lock file behind. */
	assert_null(fopen(lock, "r"));
	/* A directory that does not exist. */
	path_of(lock, sizeof(lock), "no/such/apko.lock.json");
	assert_true(rpl_imglock_write(lock, img, "x86_64", NULL, 0, NULL, 0, e, 1) < 0);
	rpl_image_free(img);
}

static void test_read_errors(void **state)
{
	struct rpl_image *img = load();
	struct rpl_lock_pkg *got;
	size_t n;
	char lock[512], sum[64], text[2048];

	(void)state;
	path_of(lock, sizeof(lock), "apko.lock.json");
	assert_true(rpl_imglock_read(lock, img, "x86_64", &got, &n) < 0);

	rpl_test_write_file(dir, "apko.lock.json", "{\n  \"version\": \"v1\",\n  oops\n}\n");
	assert_int_equal(rpl_imglock_read(lock, img, "x86_64", &got, &n), -RPL_EPARSE);
	/* Where jansson stopped, as file:line:col. */
	snprintf(text, sizeof(text), "%s:3:", lock);
	assert_int_equal(strncmp(rpl_errmsg(), text, strlen(text)), 0);

	rpl_test_write_file(dir, "apko.lock.json", "{\"version\": \"v2\"}\n");
	assert_int_equal(rpl_imglock_read(lock, img, "x86_64", &got, &n), -RPL_EPARSE);
	assert_non_null(strstr(rpl_errmsg(), "not an apko lock file of version v1"));

	/* The right config, but a package without its checksum. */
	assert_int_equal(rpl_imglock_config_checksum(img, sum), 0);
	snprintf(text, sizeof(text),
	         "{\"version\": \"v1\", \"config\": {\"checksum\": \"%s\"}, \"contents\": "
	         "{\"packages\": [{\"name\": \"a\", \"version\": \"1-r0\", \"url\": \"a.apk\", "
	         "\"architecture\": \"aarch64\"}, {\"name\": \"b\", \"version\": \"1-r0\", "
	         "\"url\": \"b.apk\", \"architecture\": \"x86_64\", \"checksum\": \"Q1x\"}, "
	         "{\"name\": \"c\", \"version\": \"1-r0\", \"url\": \"c.apk\", "
	         "\"architecture\": \"x86_64\"}]}}\n",
	         sum);
	rpl_test_write_file(dir, "apko.lock.json", text);
	assert_int_equal(rpl_imglock_read(lock, img, "x86_64", &got, &n), -RPL_EPARSE);
	assert_null(got);
	assert_non_null(strstr(rpl_errmsg(), "package 3 lacks"));
	/* Another arch's entries are not looked at; no data checksum is fine. */
	assert_int_equal(rpl_imglock_read(lock, img, "aarch64", &got, &n), -RPL_EPARSE);
	assert_non_null(strstr(rpl_errmsg(), "package 1 lacks"));

	snprintf(text, sizeof(text),
	         "{\"version\": \"v1\", \"config\": {\"checksum\": \"%s\"}, \"contents\": "
	         "{\"packages\": [{\"name\": \"b\", \"version\": \"1-r0\", \"url\": \"b.apk\", "
	         "\"architecture\": \"x86_64\", \"checksum\": \"Q1x\"}]}}\n",
	         sum);
	rpl_test_write_file(dir, "apko.lock.json", text);
	assert_int_equal(rpl_imglock_read(lock, img, "x86_64", &got, &n), 0);
	assert_int_equal(n, 1);
	assert_null(got[0].data_checksum);
	rpl_imglock_free(got, n);
	rpl_image_free(img);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, make_dir, remove_dir)
		T(test_config_checksum_covers_includes),
		T(test_write_layout),
		T(test_round_trip_per_arch),
		T(test_config_edit_invalidates),
		T(test_write_errors),
		T(test_read_errors),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
