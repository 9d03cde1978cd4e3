/*
 * The output repository: reading apks (the signed ones melange wrote, in
 * ../shared/conformance/apko-golden, and ones made here with tar and gzip),
 * their index records against melange's own APKINDEX, merging, signing and
 * verifying, the errors, and the check that keeps an index true to the apks
 * of its directory after a run killed at any moment (the stats that let
 * an unchanged directory go unread, another build of an apk, an apk no
 * record lists, a gone one, what is no whole apk, a damaged index).  Each
 * test works in a fresh temp directory.
 */
#include "common/error.h"
#include "common/sha256.h"
#include "common/file.h"
#include "common/strbuf.h"
#include "runners/apk.h"
#include "runners/repo.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/unit/testlib.h"

#define GOLDEN RPL_SOURCE_DIR "/../shared/conformance/apko-golden/packages"

static const char *const golden_apks[] = {
	"custom-ca-certs-1-1.0.0-r0.apk",
	"custom-ca-certs-2-1.0.0-r0.apk",
	"pretend-baselayout-1.0.0-r0.apk",
	"replayout-1.0.0-r0.apk",
};

static char dir[256];

static int setup(void **state)
{
	(void)state;
	return rpl_test_mkdtemp(dir, sizeof(dir), "repo");
}

static int teardown(void **state)
{
	(void)state;
	return rpl_test_remove_tree(dir);
}

static void need_golden(void)
{
	struct stat sb;

	if (stat(GOLDEN, &sb) < 0)
		rpl_test_skip("no conformance data at '%s'", GOLDEN);
}

static void sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void sh(const char *fmt, ...)
{
	char cmd[4096];
	int n = snprintf(cmd, sizeof(cmd), "cd '%s' && ", dir);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd + n, sizeof(cmd) - (size_t)n, fmt, ap);
	va_end(ap);
	if (system(cmd))
		fail_msg("command failed: %s", cmd);
}

static char *in_dir(const char *rel)
{
	return rpl_path_join(dir, rel);
}

/* An apk made with tar and gzip: .PKGINFO `pkginfo`, one data file. */
static void make_apk(const char *name, const char *pkginfo)
{
	rpl_test_write_file(dir, "work/.PKGINFO", pkginfo);
	rpl_test_write_file(dir, "work/data/usr/share/x", "x\n");
	sh("cd work && tar -cf - .PKGINFO | gzip -9n > ../c.gz && tar -C data -cf - usr | "
	   "gzip -9n > ../d.gz && cd .. && cat c.gz d.gz > '%s' && rm -rf work c.gz d.gz",
	   name);
}

/* The golden index's records, one string per record. */
static char *golden_text(const char *arch)
{
	char path[512], *text, *signer;

	snprintf(path, sizeof(path), "%s/%s/APKINDEX.tar.gz", GOLDEN, arch);
	if (rpl_repo_read_index(path, &text, &signer))
		fail_msg("%s", rpl_errmsg());
	assert_string_equal(signer, "melange.rsa.pub");
	free(signer);
	return text;
}

/* Every golden apk gives exactly melange's record for it. */
static void test_golden_records(void **state)
{
	static const char *const archs[] = { "x86_64", "aarch64" };

	(void)state;
	need_golden();
	for (size_t a = 0; a < 2; a++) {
		char *want = golden_text(archs[a]);
		struct rpl_strbuf got = RPL_STRBUF_INIT;

		for (size_t i = 0; i < 4; i++) {
			char path[512];
			struct rpl_apk apk;
			char *rec;

			snprintf(path, sizeof(path), "%s/%s/%s", GOLDEN, archs[a], golden_apks[i]);
			if (rpl_apk_read(path, &apk))
				fail_msg("%s", rpl_errmsg());
			assert_string_equal(apk.signature_key, "melange.rsa.pub");
			assert_string_equal(apk.arch, archs[a]);
			assert_int_equal(apk.builddate, -1);
			rec = rpl_apk_index_record(&apk);
			rpl_strbuf_addstr(&got, rec);
			free(rec);
			rpl_apk_release(&apk);
		}
		assert_string_equal(got.buf, want);
		rpl_strbuf_release(&got);
		free(want);
	}
}

static void test_golden_fields(void **state)
{
	struct rpl_apk apk;

	(void)state;
	need_golden();
	assert_int_equal(rpl_apk_read(GOLDEN "/x86_64/replayout-1.0.0-r0.apk", &apk), 0);
	assert_string_equal(apk.pkgname, "replayout");
	assert_string_equal(apk.pkgver, "1.0.0-r0");
	assert_string_equal(apk.origin, "replayout");
	assert_string_equal(apk.url, "");
	assert_int_equal(apk.installed_size, 3389);
	assert_int_equal(apk.file_size, 2961);
	assert_int_equal(apk.ndepends, 1);
	assert_string_equal(apk.depends[0], "pretend-baselayout");
	assert_int_equal(apk.nreplaces, 1);
	assert_string_equal(apk.datahash,
	                    "ce688706f6aa287b05f02c507876b43389992b08fb4f84f99117bd5694e45d4c");
	{
		/* The data member's digest, as read, is what .PKGINFO says. */
		char hex[65];
		rpl_hex(apk.data_sha256, sizeof(apk.data_sha256), hex);
		assert_string_equal(hex, apk.datahash);
	}
	{
		/* The sections' byte ranges and the signature's SHA-1, for lock files. */
		char b64[64];
		assert_int_equal(apk.control_off, 647);
		assert_int_equal(apk.data_off, 1661);
		EVP_EncodeBlock((unsigned char *)b64, apk.signature_sha1, RPL_SHA1_LEN);
		assert_string_equal(b64, "M3D5FSI+rv4Qe3oJqVtR1CvOVKE=");
	}
	rpl_apk_release(&apk);
}

static void test_golden_signature(void **state)
{
	char *copy;

	(void)state;
	need_golden();
	assert_int_equal(
	        rpl_repo_verify_index(GOLDEN "/x86_64/APKINDEX.tar.gz", GOLDEN "/melange.rsa.pub"),
	        0);
	assert_int_equal(
	        rpl_repo_verify_index(GOLDEN "/aarch64/APKINDEX.tar.gz", GOLDEN "/melange.rsa.pub"),
	        0);
	/* One byte changed after the signature: refused. */
	sh("cp '%s/x86_64/APKINDEX.tar.gz' idx && chmod u+w idx && "
	   "printf 'X' | dd of=idx bs=1 seek=700 conv=notrunc 2>/dev/null",
	   GOLDEN);
	copy = in_dir("idx");
	assert_int_not_equal(rpl_repo_verify_index(copy, GOLDEN "/melange.rsa.pub"), 0);
	free(copy);
}

/* Adding melange's apks to an empty repository gives melange's index. */
static void test_add_gives_melanges_index(void **state)
{
	char *apks[4], *want, *text, *signer, *index;

	(void)state;
	need_golden();
	for (size_t i = 0; i < 4; i++) {
		sh("cp '%s/x86_64/%s' .", GOLDEN, golden_apks[i]);
		apks[i] = in_dir(golden_apks[i]);
	}
	assert_int_equal(rpl_repo_add(dir, apks, 2, NULL), 0);
	assert_int_equal(rpl_repo_add(dir, apks + 2, 2, NULL), 0);
	index = in_dir("APKINDEX.tar.gz");
	assert_int_equal(rpl_repo_read_index(index, &text, &signer), 0);
	assert_null(signer);
	want = golden_text("x86_64");
	assert_string_equal(text, want);
	free(text);

	/* Again, in another order: records keep their places. */
	assert_int_equal(rpl_repo_add(dir, apks + 1, 3, NULL), 0);
	assert_int_equal(rpl_repo_add(dir, apks, 1, NULL), 0);
	assert_int_equal(rpl_repo_read_index(index, &text, &signer), 0);
	assert_string_equal(text, want);
	free(text);
	free(want);
	free(index);
	for (size_t i = 0; i < 4; i++)
		free(apks[i]);
}

/* Signed with a new key: verifies with it, not with another. */
static void test_sign_and_verify(void **state)
{
	struct rpl_signer k;
	char *key = in_dir("local-melange.rsa"), *pub = in_dir("local-melange.rsa.pub");
	char *apk = in_dir("hello-1.0-r0.apk"), *index = in_dir("APKINDEX.tar.gz");
	char *other = in_dir("other.rsa"), *other_pub = in_dir("other.rsa.pub");
	char *text, *signer;
	struct stat sb;

	(void)state;
	assert_int_equal(rpl_signer_generate(key, 2048), 0);
	assert_int_equal(stat(key, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	assert_int_equal(rpl_signer_load(&k, key), 0);
	assert_string_equal(k.name, "local-melange.rsa.pub");
	make_apk("hello-1.0-r0.apk", "pkgname = hello\npkgver = 1.0-r0\narch = x86_64\nsize = 2\n");
	assert_int_equal(rpl_repo_add(dir, &apk, 1, &k), 0);
	assert_int_equal(rpl_repo_verify_index(index, pub), 0);
	assert_int_equal(rpl_repo_read_index(index, &text, &signer), 0);
	assert_string_equal(signer, "local-melange.rsa.pub");
	assert_non_null(strstr(text, "P:hello\nV:1.0-r0\nA:x86_64\n"));
	free(text);
	free(signer);
	/* Re-signed on every add: still one signature, still valid. */
	assert_int_equal(rpl_repo_add(dir, &apk, 1, &k), 0);
	assert_int_equal(rpl_repo_verify_index(index, pub), 0);
	/* Another key's .pub does not verify it. */
	assert_int_equal(rpl_signer_generate(other, 2048), 0);
	assert_int_not_equal(rpl_repo_verify_index(index, other_pub), 0);
	/* Unsigned: nothing to verify. */
	assert_int_equal(rpl_repo_add(dir, &apk, 1, NULL), 0);
	assert_int_not_equal(rpl_repo_verify_index(index, pub), 0);
	assert_non_null(strstr(rpl_errmsg(), "not signed"));
	rpl_signer_release(&k);
	free(key);
	free(pub);
	free(apk);
	free(index);
	free(other);
	free(other_pub);
}

/* Apks made by other tools: a control tar with end blocks, no signature. */
static void test_plain_apk_and_merge(void **state)
{
	char *a = in_dir("a-1-r0.apk"), *a2 = in_dir("a-2-r0.apk"), *b = in_dir("b-1-r0.apk");
	char *index = in_dir("APKINDEX.tar.gz"), *text, *signer;
	struct rpl_apk apk;

	(void)state;
	make_apk("a-1-r0.apk", "# made by hand\npkgname = a\npkgver = 1-r0\narch = x86_64\n"
	                       "size = 10\norigin = a\npkgdesc = the a\nbuilddate = 1700000000\n"
	                       "license = MIT\nlicense = BSD\ndepend = so:libc.so.6\n"
	                       "depend = b\nprovides = cmd:a=1-r0\nprovider_priority = 5\n");
	make_apk("a-2-r0.apk", "pkgname = a\npkgver = 2-r0\narch = x86_64\n");
	make_apk("b-1-r0.apk", "pkgname = b\npkgver = 1-r0\n");
	assert_int_equal(rpl_apk_read(a, &apk), 0);
	assert_null(apk.signature_key);
	assert_string_equal(apk.license, "MIT");
	{
		char *rec = rpl_apk_index_record(&apk);
		/* C: is the SHA-1 of the control member; the rest is the template. */
		assert_memory_equal(rec, "C:Q1", 4);
		assert_memory_equal(strchr(rec, '\n') + 1, "P:a\nV:1-r0\nA:x86_64\nS:", 21);
		assert_non_null(strstr(rec, "\nI:10\nT:the a\nL:MIT\no:a\nt:1700000000\n"
		                            "D:so:libc.so.6 b\np:cmd:a=1-r0\nk:5\n\n"));
		free(rec);
	}
	rpl_apk_release(&apk);

	assert_int_equal(rpl_repo_add(dir, &a, 1, NULL), 0);
	assert_int_equal(rpl_repo_add(dir, &b, 1, NULL), 0);
	assert_int_equal(rpl_repo_add(dir, &a2, 1, NULL), 0);
	/* a-1 again: replaced in place, not appended. */
	assert_int_equal(rpl_repo_add(dir, &a, 1, NULL), 0);
	assert_int_equal(rpl_repo_read_index(index, &text, &signer), 0);
	{
		const char *p1 = strstr(text, "P:a\nV:1-r0"), *pb = strstr(text, "P:b\nV:1-r0"),
		           *p2 = strstr(text, "P:a\nV:2-r0");
		assert_non_null(p1);
		assert_non_null(pb);
		assert_non_null(p2);
		assert_true(p1 < pb && pb < p2);
		assert_null(strstr(p1 + 1, "P:a\nV:1-r0"));
	}
	free(text);
	free(a);
	free(a2);
	free(b);
	free(index);
}

/* An index whose records are apart by many blank lines keeps every record when merged into. */
static void test_blank_lines_between_records(void **state)
{
	char *index = in_dir("APKINDEX.tar.gz"), *c = in_dir("c.apk"), *text, *signer;

	(void)state;
	rpl_test_write_file(dir, "idx/APKINDEX",
	                    "\n\nC:Q1x\nP:x\nV:1-r0\n\n\n\n\nC:Q1y\nP:y\nV:1-r0\n\n\n\n");
	rpl_test_write_file(dir, "idx/DESCRIPTION", "");
	sh("cd idx && tar -cf - APKINDEX DESCRIPTION | gzip -9n > ../APKINDEX.tar.gz");
	make_apk("c.apk", "pkgname = c\npkgver = 1-r0\narch = x86_64\n");
	assert_int_equal(rpl_repo_add(dir, &c, 1, NULL), 0);
	assert_int_equal(rpl_repo_read_index(index, &text, &signer), 0);
	assert_non_null(strstr(text, "P:x\n"));
	assert_non_null(strstr(text, "P:y\n"));
	assert_non_null(strstr(text, "P:c\n"));
	assert_null(strstr(text, "\n\n\n"));
	free(text);
	free(signer);
	free(index);
	free(c);
}

static void test_errors(void **state)
{
	char *junk = in_dir("junk.apk"), *noinfo = in_dir("noinfo.apk"), *idx = in_dir("x");
	char *missing = in_dir("missing.apk"), *text, *signer;
	struct rpl_apk apk;
	struct rpl_signer k;

	(void)state;
	rpl_test_write_file(dir, "junk.apk", "not gzip at all\n");
	assert_int_not_equal(rpl_apk_read(junk, &apk), 0);
	assert_non_null(strstr(rpl_errmsg(), "junk.apk"));
	assert_int_not_equal(rpl_apk_read(missing, &apk), 0);
	assert_non_null(strstr(rpl_errmsg(), "missing.apk"));
	rpl_test_write_file(dir, "work/readme", "hi\n");
	sh("cd work && tar -cf - readme | gzip > ../noinfo.apk");
	assert_int_not_equal(rpl_apk_read(noinfo, &apk), 0);
	assert_non_null(strstr(rpl_errmsg(), "no .PKGINFO"));
	make_apk("noname.apk", "pkgver = 1-r0\n");
	{
		char *p = in_dir("noname.apk");
		assert_int_not_equal(rpl_apk_read(p, &apk), 0);
		assert_non_null(strstr(rpl_errmsg(), "no pkgname"));
		/* A broken package leaves the index as it was (here: none). */
		assert_int_not_equal(rpl_repo_add(dir, &p, 1, NULL), 0);
		free(p);
	}
	{
		char *p = in_dir("APKINDEX.tar.gz");
		assert_int_not_equal(access(p, F_OK), 0);
		/* A damaged index is reported, not overwritten. */
		rpl_test_write_file(dir, "APKINDEX.tar.gz", "garbage");
		assert_int_not_equal(rpl_repo_add(dir, &junk, 0, NULL), 0);
		assert_non_null(strstr(rpl_errmsg(), "is not an APKINDEX.tar.gz"));
		assert_int_not_equal(rpl_repo_read_index(p, &text, &signer), 0);
		free(p);
	}
	rpl_test_write_file(dir, "x", "-----BEGIN NOTHING-----\n");
	assert_int_not_equal(rpl_signer_load(&k, idx), 0);
	free(junk);
	free(noinfo);
	free(idx);
	free(missing);
}

/* ---- keeping the index true to its directory -------------------------------------------- */

/* What a caller keeps between checks (the state store, in ripple build). */
struct seen_db {
	char names[16][64];
	struct rpl_repo_seen seen[16];
	size_t n;
	char fixes[16][160];
	size_t nfixes;
};

static void db_put(void *ctx, const char *name, const struct rpl_repo_seen *s)
{
	struct seen_db *db = ctx;
	size_t i = 0;

	while (i < db->n && strcmp(db->names[i], name))
		i++;
	if (!s) {
		if (i < db->n) {
			db->n--;
			memmove(db->names[i], db->names[db->n], sizeof(db->names[i]));
			db->seen[i] = db->seen[db->n];
		}
		return;
	}
	assert_true(i < 16);
	if (i == db->n)
		db->n++;
	snprintf(db->names[i], sizeof(db->names[i]), "%s", name);
	db->seen[i] = *s;
}

static void on_fix(void *ctx, const char *name, const char *what, int mended)
{
	struct seen_db *db = ctx;

	assert_true(db->nfixes < 16);
	snprintf(db->fixes[db->nfixes++], sizeof(db->fixes[0]), "%s: %s%s", name, what,
	         mended ? " (mended)" : "");
}

/* One check as a run makes it: the rows given back, the index written when mended. */
static int check(struct seen_db *db)
{
	struct rpl_repo_index *ix;
	int r;

	db->nfixes = 0;
	assert_int_equal(rpl_repo_open_lazy(&ix, dir), 0);
	for (size_t i = 0; i < db->n; i++)
		rpl_repo_know(ix, db->names[i], &db->seen[i]);
	r = rpl_repo_check(ix, on_fix, db);
	if (r < 0)
		fail_msg("%s", rpl_errmsg());
	if (rpl_repo_dirty(ix) && rpl_repo_flush(ix, NULL))
		fail_msg("%s", rpl_errmsg());
	rpl_repo_seen_changes(ix, db_put, db);
	rpl_repo_close(ix);
	return r;
}

static void expect_fixes(const struct seen_db *db, size_t n, ...)
{
	va_list ap;

	if (db->nfixes != n) {
		for (size_t i = 0; i < db->nfixes; i++)
			print_message("fix: %s\n", db->fixes[i]);
		fail_msg("%zu fixes, expected %zu", db->nfixes, n);
	}
	va_start(ap, n);
	for (size_t i = 0; i < n; i++) {
		const char *want = va_arg(ap, const char *);
		int found = 0;
		for (size_t k = 0; k < db->nfixes; k++)
			found |= !strcmp(db->fixes[k], want);
		if (!found)
			fail_msg("no fix '%s' (first: '%s')", want, db->fixes[0]);
	}
	va_end(ap);
}

/* The index's record of `name`-`ver`, or NULL. */
static char *record(const char *name, const char *ver)
{
	char *index = in_dir("APKINDEX.tar.gz"), *text, *signer, key[128], *at, *rec = NULL;

	if (rpl_repo_read_index(index, &text, &signer))
		fail_msg("%s", rpl_errmsg());
	snprintf(key, sizeof(key), "P:%s\nV:%s\n", name, ver);
	if ((at = strstr(text, key))) {
		while (at > text && !(at[-1] == '\n' && at - 1 > text && at[-2] == '\n'))
			at--;
		rec = strndup(at, (size_t)(strstr(at, "\n\n") - at) + 1);
	}
	free(text);
	free(signer);
	free(index);
	return rec;
}

/* Whether the index's C: and S: of `name`-`ver` are those of its file now. */
static int describes(const char *name, const char *ver)
{
	char file[128], *path, *rec = record(name, ver), *now;
	struct rpl_apk a;
	int same;

	snprintf(file, sizeof(file), "%s-%s.apk", name, ver);
	path = in_dir(file);
	if (!rec || rpl_apk_read(path, &a)) {
		free(rec);
		free(path);
		return 0;
	}
	now = rpl_apk_index_record(&a);
	same = !strcmp(rec, now) ||
	       (strstr(now, rec) == now); /* a record ends with its blank line */
	rpl_apk_release(&a);
	free(now);
	free(rec);
	free(path);
	return same;
}

/* Files as if written an hour ago: past the racy second, so seen once is seen for good. */
static void age(const char *name)
{
	sh("touch -d '1 hour ago' '%s'", name);
}

static void pkg(const char *name, const char *ver, const char *extra)
{
	char file[128], info[512];

	snprintf(file, sizeof(file), "%s-%s.apk", name, ver);
	snprintf(info, sizeof(info), "pkgname = %s\npkgver = %s\narch = x86_64\n%s", name, ver,
	         extra ? extra : "");
	make_apk(file, info);
	age(file);
}

static void index_all(void)
{
	char *apks[8];
	size_t n = 0;

	sh("ls *.apk > list");
	{
		char *list = in_dir("list"), *text;
		size_t len;
		assert_int_equal(rpl_read_file(list, &text, &len), 0);
		for (char *l = strtok(text, "\n"); l && n < 8; l = strtok(NULL, "\n"))
			apks[n++] = in_dir(l);
		free(text);
		free(list);
	}
	assert_int_equal(rpl_repo_add(dir, apks, n, NULL), 0);
	for (size_t i = 0; i < n; i++)
		free(apks[i]);
	age("APKINDEX.tar.gz");
}

/*
 * A directory as ripple last saw it is taken as seen (the stats suffice,
 * the index is not read); seen for the first time, the index is compared
 * whole and found true.  A touched apk has its C: taken again: the same.
 */
static void test_check_as_seen(void **state)
{
	struct seen_db db = { 0 };

	(void)state;
	pkg("a", "1-r0", NULL);
	pkg("b", "1-r0", NULL);
	index_all();
	assert_int_equal(check(&db), 1);
	expect_fixes(&db, 0);
	assert_int_equal(db.n, 3); /* a, b and the index */
	assert_int_equal(check(&db), 0);
	expect_fixes(&db, 0);
	/* Touched, a is read as far as its control member, not the index. */
	sh("touch -d '2 hours ago' a-1-r0.apk");
	assert_int_equal(check(&db), 0);
	expect_fixes(&db, 0);
	assert_int_equal(check(&db), 0);
	assert_true(describes("a", "1-r0"));
}

/*
 * After a run killed between renaming apks into place and writing their
 * index: another build of a listed apk is indexed as it is, an apk no
 * record lists is added, a record whose apk is gone is dropped, and each
 * is told to the caller.
 */
static void test_check_mends(void **state)
{
	struct seen_db db = { 0 };
	char *rec;

	(void)state;
	pkg("a", "1-r0", NULL);
	pkg("b", "1-r0", NULL);
	pkg("gone", "1-r0", NULL);
	index_all();
	assert_int_equal(check(&db), 1);
	pkg("a", "1-r0", "pkgdesc = rebuilt\n");
	pkg("c", "1-r0", NULL);
	sh("rm gone-1-r0.apk");
	assert_false(describes("a", "1-r0"));
	assert_int_equal(check(&db), 1);
	expect_fixes(&db, 3, "a-1-r0.apk: another build of it than the index listed (mended)",
	             "c-1-r0.apk: not in the index (mended)", "gone-1-r0.apk: gone (mended)");
	assert_true(describes("a", "1-r0"));
	assert_true(describes("b", "1-r0"));
	assert_true(describes("c", "1-r0"));
	assert_null(rec = record("gone", "1-r0"));
	/* Once mended, as seen. */
	age("APKINDEX.tar.gz");
	assert_int_equal(check(&db), 1); /* the index was written since: read once more */
	expect_fixes(&db, 0);
	assert_int_equal(check(&db), 0);
	expect_fixes(&db, 0);
}

/*
 * An apk the index describes, but not as ripple last saw it indexed (the
 * index was written and the run killed before it noted so) is told, the
 * index unchanged; the same when the caller knows nothing yet is not.
 */
static void test_check_index_ahead(void **state)
{
	struct seen_db db = { 0 };

	(void)state;
	pkg("a", "1-r0", NULL);
	index_all();
	assert_int_equal(check(&db), 1);
	pkg("a", "1-r0", "pkgdesc = rebuilt\n");
	index_all();
	assert_int_equal(check(&db), 1);
	expect_fixes(&db, 1, "a-1-r0.apk: written since ripple last saw it indexed");
	assert_true(describes("a", "1-r0"));
	assert_int_equal(check(&db), 0);
	expect_fixes(&db, 0);
}

/*
 * What is no whole apk is never indexed: a file that is not one, one cut
 * short (its data no longer what its datahash says), one holding another
 * package than its name says.  A record whose file turned into one of
 * those is dropped.
 */
static void test_check_refuses_what_is_no_apk(void **state)
{
	struct seen_db db = { 0 };
	char *rec;

	(void)state;
	pkg("a", "1-r0", NULL);
	index_all();
	assert_int_equal(check(&db), 1);
	rpl_test_write_file(dir, "junk-1-r0.apk", "not gzip at all\n");
	make_apk("other-1-r0.apk", "pkgname = b\npkgver = 1-r0\n");
	/* A datahash, then the data cut short. */
	rpl_test_write_file(dir, "work/.PKGINFO", "");
	sh("mkdir -p work/data/usr && head -c 100000 /dev/urandom > work/data/usr/x && "
	   "tar -C work/data -cf - usr | gzip -1n > d.gz && "
	   "printf 'pkgname = cut\\npkgver = 1-r0\\ndatahash = %%s\\n' $(sha256sum d.gz | cut -c1-64) "
	   "> work/.PKGINFO && (cd work && tar -cf - .PKGINFO | gzip -9n > ../c.gz) && "
	   "cat c.gz d.gz | head -c -2000 > cut-1-r0.apk && rm -rf work c.gz d.gz");
	rpl_test_write_file(dir, "a-1-r0.apk", "");
	assert_int_equal(check(&db), 1);
	expect_fixes(&db, 1, "a-1-r0.apk: not an apk (mended)");
	assert_null(rec = record("a", "1-r0"));
	assert_null(rec = record("cut", "1-r0"));
	assert_null(rec = record("b", "1-r0"));
	assert_null(rec = record("junk", "1-r0"));
}

/* An index that is none is made again from the apks, with a warning. */
static void test_check_remakes_a_damaged_index(void **state)
{
	struct seen_db db = { 0 };

	(void)state;
	pkg("a", "1-r0", NULL);
	rpl_test_write_file(dir, "APKINDEX.tar.gz", "garbage");
	assert_int_equal(check(&db), 1);
	expect_fixes(&db, 1, "a-1-r0.apk: not in the index (mended)");
	assert_true(describes("a", "1-r0"));
}

/* No directory, or nothing in it: nothing to do, and no index is made. */
static void test_check_empty(void **state)
{
	struct seen_db db = { 0 };
	char *index = in_dir("APKINDEX.tar.gz");

	(void)state;
	assert_int_equal(check(&db), 0);
	expect_fixes(&db, 0);
	assert_int_not_equal(access(index, F_OK), 0);
	pkg("a", "1-r0", NULL);
	index_all();
	assert_int_equal(check(&db), 1);
	sh("rm a-1-r0.apk APKINDEX.tar.gz");
	assert_int_equal(check(&db), 1);
	expect_fixes(&db, 1, "a-1-r0.apk: gone");
	assert_int_not_equal(access(index, F_OK), 0);
	assert_int_equal(db.n, 0);
	assert_int_equal(check(&db), 0);
	free(index);
}

/* A merge notes what it saw of the apks, and a flush of the index. */
static void test_merge_notes_what_it_saw(void **state)
{
	struct seen_db db = { 0 };
	struct rpl_repo_index *ix;
	char *a = in_dir("a-1-r0.apk");

	(void)state;
	pkg("a", "1-r0", NULL);
	assert_int_equal(rpl_repo_open(&ix, dir), 0);
	assert_int_equal(rpl_repo_merge(ix, &a, 1), 0);
	assert_int_equal(rpl_repo_flush(ix, NULL), 0);
	rpl_repo_seen_changes(ix, db_put, &db);
	rpl_repo_close(ix);
	assert_int_equal(db.n, 2);
	for (size_t i = 0; i < db.n; i++)
		if (!strcmp(db.names[i], "a-1-r0.apk"))
			assert_memory_equal(db.seen[i].csum, "Q1", 2);
		else
			assert_string_equal(db.names[i], "APKINDEX.tar.gz");
	age("APKINDEX.tar.gz");          /* and a is old: what was seen is exact */
	assert_int_equal(check(&db), 1); /* the index's stat changed with the touch */
	expect_fixes(&db, 0);
	assert_int_equal(check(&db), 0);
	free(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
		T(test_golden_records),
		T(test_golden_fields),
		T(test_golden_signature),
		T(test_add_gives_melanges_index),
		T(test_sign_and_verify),
		T(test_plain_apk_and_merge),
		T(test_blank_lines_between_records),
		T(test_errors),
		T(test_check_as_seen),
		T(test_check_mends),
		T(test_check_index_ahead),
		T(test_check_refuses_what_is_no_apk),
		T(test_check_remakes_a_damaged_index),
		T(test_check_empty),
		T(test_merge_notes_what_it_saw),
#undef T
	};
	return rpl_test_result(cmocka_run_group_tests(tests, NULL, NULL));
}
