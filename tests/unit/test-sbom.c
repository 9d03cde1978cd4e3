/*
 * The SBOM documents against what melange and apko wrote for the same
 * inputs (../shared/conformance/apko-golden: the SBOM inside melange's
 * replayout apk, apko's per-arch and index SBOMs of its golden image):
 * the same elements, values and key order, but for creationInfo (the
 * tool, and melange's local-time rendering of the date).  Those cases skip
 * when the conformance data is absent; the hash and purl cases do not.
 */
#include "common/file.h"
#include "common/xalloc.h"
#include "runners/sbom.h"

#include <archive.h>
#include <archive_entry.h>
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#define GOLDEN RPL_SOURCE_DIR "/../shared/conformance/apko-golden"

static int have_golden(void)
{
	return access(GOLDEN "/golden/index.json", R_OK) == 0;
}

/* The member `name` of the apk `path` (every section read as one tar stream). */
static char *apk_member(const char *path, const char *name, size_t *len)
{
	struct archive *a = archive_read_new();
	struct archive_entry *e;
	char *out = NULL;

	archive_read_support_filter_gzip(a);
	archive_read_support_format_tar(a);
	assert_int_equal(archive_read_open_filename(a, path, 16384), ARCHIVE_OK);
	while (!out && archive_read_next_header(a, &e) == ARCHIVE_OK)
		if (!strcmp(archive_entry_pathname(e), name)) {
			*len = (size_t)archive_entry_size(e);
			out = rpl_xmalloc(*len + 1);
			assert_int_equal(archive_read_data(a, out, *len), (la_ssize_t)*len);
			out[*len] = '\0';
		}
	archive_read_free(a);
	assert_non_null(out);
	return out;
}

/* `text` parsed, with creationInfo and the index's sourceInfo set to fixed values. */
static json_t *normalised(const char *text)
{
	json_t *d = json_loads(text, 0, NULL), *p;
	size_t i;

	assert_non_null(d);
	json_object_set_new(json_object_get(d, "creationInfo"), "created", json_string("C"));
	json_object_set_new(json_object_get(d, "creationInfo"), "creators", json_string("T"));
	json_array_foreach(json_object_get(d, "packages"), i, p)
	{
		if (json_object_get(p, "sourceInfo"))
			json_object_set_new(p, "sourceInfo", json_string("S"));
	}
	return d;
}

/* Same elements, values and key order. */
static void assert_same_document(const char *ours, const char *theirs)
{
	json_t *a = normalised(ours), *b = normalised(theirs);
	char *sa = json_dumps(a, JSON_INDENT(1) | JSON_PRESERVE_ORDER),
	     *sb = json_dumps(b, JSON_INDENT(1) | JSON_PRESERVE_ORDER);

	if (strcmp(sa, sb))
		fprintf(stderr, "--- ours\n%s\n--- theirs\n%s\n", sa, sb);
	assert_string_equal(sa, sb);
	free(sa);
	free(sb);
	json_decref(a);
	json_decref(b);
}

static void test_fnv128a(void **state)
{
	char h[33];

	(void)state;
	rpl_sbom_fnv128a("", 0, h);
	assert_string_equal(h, "6c62272e07bb014262b821756295c58d"); /* the offset basis */
	/* The namespace of every golden apk's document (namespace unknown, 1.0.0-r0). */
	rpl_sbom_fnv128a("apk-unknown-1.0.0-r0", 20, h);
	assert_string_equal(h, "bb8fad8d08b5437d4e29562963c7d341");
}

static void test_apk_fields(void **state)
{
	struct rpl_sbom_apk a = { "foo-dev",
		                  "1.2-r3",
		                  "aarch64",
		                  "wolfi",
		                  "MIT AND BSD-3-Clause",
		                  "(c) me\n",
		                  "pkgs/foo.yaml",
		                  "0123456789abcdef0123456789abcdef01234567",
		                  "https://github.com/wolfi-dev/os.git",
		                  86400 };
	char *s = rpl_sbom_apk(&a);
	json_t *d = json_loads(s, 0, NULL), *p;

	(void)state;
	assert_non_null(d);
	assert_int_equal(s[strlen(s) - 1], '\n');
	assert_string_equal(
	        json_string_value(json_object_get(json_object_get(d, "creationInfo"), "created")),
	        "1970-01-02T00:00:00Z");
	assert_string_equal(json_string_value(json_object_get(d, "name")), "apk-foo-dev-1.2-r3");
	p = json_array_get(json_object_get(d, "packages"), 1);
	assert_string_equal(json_string_value(json_object_get(p, "SPDXID")),
	                    "SPDXRef-Package-apk-foo-dev-1.2-r3");
	assert_string_equal(json_string_value(json_object_get(p, "supplier")),
	                    "Organization: Wolfi");
	assert_string_equal(json_string_value(json_object_get(p, "licenseDeclared")),
	                    "MIT AND BSD-3-Clause");
	assert_string_equal(json_string_value(json_object_get(p, "copyrightText")), "(c) me\n");
	assert_string_equal(
	        json_string_value(json_object_get(
	                json_array_get(json_object_get(p, "externalRefs"), 0), "referenceLocator")),
	        "pkg:apk/wolfi/foo-dev@1.2-r3?arch=aarch64");
	p = json_array_get(json_object_get(d, "packages"), 2);
	assert_string_equal(json_string_value(json_object_get(p, "SPDXID")),
	                    "SPDXRef-Package-Melange-pkgs-foo.yaml-"
	                    "0123456789abcdef0123456789abcdef01234567");
	/* A GitHub remote gives its owner and repository, without .git. */
	assert_string_equal(
	        json_string_value(json_object_get(
	                json_array_get(json_object_get(p, "externalRefs"), 0), "referenceLocator")),
	        "pkg:github/wolfi-dev/os@0123456789abcdef0123456789abcdef01234567"
	        "#pkgs/foo.yaml");
	json_decref(d);
	free(s);
}

static void test_apk_as_melange(void **state)
{
	struct rpl_sbom_apk a = { "replayout",
		                  "1.0.0-r0",
		                  "x86_64",
		                  "unknown",
		                  "MIT",
		                  NULL,
		                  "replayout.melange.yaml",
		                  "326e0ed687bdfeadac839dc9b25686e4442c9d04",
		                  NULL,
		                  0 };
	char *ours, *theirs;
	size_t len;

	(void)state;
	if (!have_golden())
		skip();
	theirs = apk_member(GOLDEN "/packages/x86_64/replayout-1.0.0-r0.apk",
	                    "var/lib/db/sbom/replayout-1.0.0-r0.spdx.json", &len);
	ours = rpl_sbom_apk(&a);
	assert_same_document(ours, theirs);
	free(ours);
	free(theirs);
}

static void test_image_as_apko(void **state)
{
	const char *names[] = { "pretend-baselayout", "replayout" };
	char *docs[2], *ours, *theirs, path[512];
	size_t lens[2], len;
	struct rpl_sbom_image im = {
		"golden",
		"amd64",
		NULL,
		"sha256:69f0237c7f8cf0b8a329d1bf1d6870c870c4ec323e39d3a6da59596632d0f2f4",
		"sha256:c7557730da0e2d7fb242d8d1ac6dcf7e3a2439732aa5981270b4f3a02454b738",
		"replaces",
		"Replaces",
		"1.0.0",
		NULL,
		0,
		(const char *const *)docs,
		lens,
		2,
	};

	(void)state;
	if (!have_golden())
		skip();
	for (int i = 0; i < 2; i++) {
		char member[256];
		snprintf(path, sizeof(path), GOLDEN "/packages/x86_64/%s-1.0.0-r0.apk", names[i]);
		snprintf(member, sizeof(member), "var/lib/db/sbom/%s-1.0.0-r0.spdx.json", names[i]);
		docs[i] = apk_member(path, member, &lens[i]);
	}
	ours = rpl_sbom_image(&im);
	assert_int_equal(rpl_read_file(GOLDEN "/golden/sboms/sbom-x86_64.spdx.json", &theirs, &len),
	                 0);
	assert_same_document(ours, theirs);
	free(ours);
	free(theirs);
	free(docs[0]);
	free(docs[1]);
}

static void test_index_as_apko(void **state)
{
	char *text, *ours, *theirs;
	size_t len;
	json_t *index;

	(void)state;
	if (!have_golden())
		skip();
	assert_int_equal(rpl_read_file(GOLDEN "/golden/index.json", &text, &len), 0);
	index = json_loadb(text, len, 0, NULL);
	assert_non_null(index);
	/* apko names its own organisation as the index's supplier; ripple the OS's. */
	ours = rpl_sbom_index(
	        "golden", "sha256:b5f05e6fc882c97d61c1daee566954ae6fc09924f8e152293e2b97a06092069f",
	        index, "Chainguard, Inc.", NULL, "1970-01-01T00:00:00Z");
	assert_int_equal(rpl_read_file(GOLDEN "/golden/sboms/sbom-index.spdx.json", &theirs, &len),
	                 0);
	assert_same_document(ours, theirs);
	json_decref(index);
	free(text);
	free(ours);
	free(theirs);
}

/* The value of `key` in the element `id` of `doc`, "" when missing. */
static const char *field(json_t *doc, const char *id, const char *key)
{
	size_t i;
	json_t *p;

	json_array_foreach(json_object_get(doc, "packages"), i, p)
	{
		if (!strcmp(json_string_value(json_object_get(p, "SPDXID")), id)) {
			json_t *v = json_object_get(p, key);
			if (!strcmp(key, "purl"))
				v = json_object_get(
				        json_array_get(json_object_get(p, "externalRefs"), 0),
				        "referenceLocator");
			return json_is_string(v) ? json_string_value(v) : "";
		}
	}
	fail_msg("no element %s", id);
	return NULL;
}

/*
 * The upstream sources of fetch and git-checkout steps, GENERATED_FROM, as
 * melange's SBOMPackageForUpstreamSource makes them: ids, purls, download
 * locations, checksums and suppliers; a checkout without tag or commit
 * gives none; a subpackage's own come before the recipe, the main
 * pipeline's after it.
 */
static void test_sources(void **state)
{
	static const char
	        c40[] = "cccccccccccccccccccccccccccccccccccccccc",
	        d40[] = "dddddddddddddddddddddddddddddddddddddddd",
	        h64[] = "0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f";
	struct rpl_sbom_source main_src[3], own[1];
	struct rpl_sbom_apk a = { "foo-doc",  "1.2-r0",
		                  "x86_64",   "wolfi",
		                  "MIT",      NULL,
		                  "foo.yaml", "0123456789abcdef0123456789abcdef01234567",
		                  NULL,       0 };
	char *s, id[256];
	json_t *d, *r;

	(void)state;
	memset(main_src, 0, sizeof(main_src));
	memset(own, 0, sizeof(own));
	main_src[0].uri = "https://example.com/foo-1.2.tar.gz";
	main_src[0].sha256 = h64;
	main_src[0].purl_name = "foo";
	main_src[0].purl_version = "1.2";
	main_src[1].git = 1;
	main_src[1].repository = "https://github.com/Kubernetes/Kubectl.git";
	main_src[1].tag = "v1.2";
	main_src[1].expected_commit = c40;
	main_src[1].index = 2;
	main_src[2].git = 1; /* no tag, no commit: no element */
	main_src[2].repository = "https://github.com/x/y";
	main_src[2].branch = "main";
	main_src[2].index = 4;
	own[0].git = 1;
	own[0].repository = "https://git.example.org/team/tool.git";
	own[0].expected_commit = d40;
	own[0].index = 0;
	a.main = main_src;
	a.nmain = 3;
	a.own = own;
	a.nown = 1;
	s = rpl_sbom_apk(&a);
	d = json_loads(s, 0, NULL);
	assert_non_null(d);
	assert_int_equal(json_array_size(json_object_get(d, "packages")), 6);

	assert_string_equal(
	        field(d, "SPDXRef-Package-foo-1.2-0", "purl"),
	        "pkg:generic/foo@1.2?checksum=sha256%3A0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f"
	        "0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f&download_url=https%3A%2F%2Fexample.com%2F"
	        "foo-1.2.tar.gz");
	assert_string_equal(field(d, "SPDXRef-Package-foo-1.2-0", "downloadLocation"),
	                    "https://example.com/foo-1.2.tar.gz");
	assert_string_equal(field(d, "SPDXRef-Package-foo-1.2-0", "licenseDeclared"),
	                    "NOASSERTION");
	assert_string_equal(field(d, "SPDXRef-Package-foo-1.2-0", "supplier"),
	                    "Organization: Wolfi");

	snprintf(id, sizeof(id), "SPDXRef-Package-github.com-Kubernetes-Kubectl.git-v1.2-%s-2",
	         c40);
	assert_string_equal(field(d, id, "name"), "Kubectl");
	assert_string_equal(field(d, id, "versionInfo"), "v1.2");
	assert_string_equal(field(d, id, "purl"), "pkg:github/kubernetes/kubectl@v1.2");
	assert_string_equal(field(d, id, "licenseDeclared"), "MIT");
	assert_string_equal(field(d, id, "supplier"), "Organization: Kubernetes");
	{
		char want[256];
		snprintf(want, sizeof(want),
		         "https://github.com/Kubernetes/Kubectl/archive/%s.tar.gz", c40);
		assert_string_equal(field(d, id, "downloadLocation"), want);
	}

	snprintf(id, sizeof(id), "SPDXRef-Package-git.example.org-team-tool.git-%s-0", d40);
	assert_string_equal(field(d, id, "name"), "team/tool");
	assert_string_equal(field(d, id, "supplier"), "Organization: Wolfi");
	{
		char want[512];
		snprintf(
		        want, sizeof(want),
		        "pkg:generic/team%%2Ftool@%s?vcs_url=git%%2Bhttps%%3A%%2F%%2Fgit.example.org%%2F"
		        "team%%2Ftool.git%%40%s",
		        d40, d40);
		assert_string_equal(field(d, id, "purl"), want);
	}

	assert_null(json_object_get(d, "hasExtractedLicensingInfos"));
	r = json_object_get(d, "relationships");
	assert_int_equal(json_array_size(r), 4);
	assert_string_equal(
	        json_string_value(json_object_get(json_array_get(r, 0), "relationshipType")),
	        "GENERATED_FROM");
	assert_string_equal(
	        json_string_value(json_object_get(json_array_get(r, 0), "relatedSpdxElement")), id);
	assert_string_equal(
	        json_string_value(json_object_get(json_array_get(r, 1), "relationshipType")),
	        "DESCRIBED_BY");
	assert_string_equal(
	        json_string_value(json_object_get(json_array_get(r, 2), "relatedSpdxElement")),
	        "SPDXRef-Package-foo-1.2-0");
	json_decref(d);
	free(s);
}

/* license-path texts: after the relationships, sorted by license (melange's order is a Go map's). */
static void test_licensing_infos(void **state)
{
	char *const ids[] = { "LicenseRef-zed", "LicenseRef-abc" }, *const texts[] = { "Z\n",
		                                                                       "A\n" };
	struct rpl_sbom_apk a = { "foo", "1-r0",     "x86_64", "unknown", "LicenseRef-zed",
		                  NULL,  "foo.yaml", NULL,     NULL,      0 };
	char *s;
	json_t *d, *li;
	const char *key;
	json_t *v;
	int at = 0;

	(void)state;
	a.license_ids = ids;
	a.license_texts = texts;
	a.nlicense_infos = 2;
	s = rpl_sbom_apk(&a);
	d = json_loads(s, JSON_PRESERVE_ORDER, NULL);
	assert_non_null(d);
	json_object_foreach(d, key, v)
	{
		(void)v;
		if (!strcmp(key, "hasExtractedLicensingInfos"))
			break;
		at++;
	}
	assert_int_equal(at, 9); /* the last key, after relationships */
	li = json_object_get(d, "hasExtractedLicensingInfos");
	assert_int_equal(json_array_size(li), 2);
	assert_string_equal(json_string_value(json_object_get(json_array_get(li, 0), "licenseId")),
	                    "LicenseRef-abc");
	assert_string_equal(
	        json_string_value(json_object_get(json_array_get(li, 0), "extractedText")), "A\n");
	assert_string_equal(json_string_value(json_object_get(json_array_get(li, 1), "licenseId")),
	                    "LicenseRef-zed");
	json_decref(d);
	free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fnv128a),         cmocka_unit_test(test_apk_fields),
		cmocka_unit_test(test_apk_as_melange),  cmocka_unit_test(test_image_as_apko),
		cmocka_unit_test(test_index_as_apko),   cmocka_unit_test(test_sources),
		cmocka_unit_test(test_licensing_infos),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
