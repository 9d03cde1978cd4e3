/*
 * Scanning a monorepo: which files are recipes or images, which are
 * skipped, the archs each recipe builds for, duplicate origins, and the
 * input files of one build.  Each test lays out a small repo in a fresh
 * temporary directory.
 */
#include "recipes/scan.h"
#include "common/error.h"
#include "recipes/apko.h"
#include "recipes/melange.h"
#include "recipes/yaml.h"

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/unit/testlib.h"

/* ---- the temporary repo --------------------------------------------------- */

static char root[256];

static void make_root(void)
{
	if (rpl_test_mkdtemp(root, sizeof(root), "scan"))
		fail_msg("mkdtemp: %s", strerror(errno));
}

static void make_dirs(char *path)
{
	for (char *p = path + strlen(root) + 1; (p = strchr(p, '/')); p++) {
		*p = '\0';
		if (mkdir(path, 0755) && errno != EEXIST)
			fail_msg("mkdir %s: %s", path, strerror(errno));
		*p = '/';
	}
}

static void write_file(const char *rel, const char *text)
{
	rpl_test_write_file(root, rel, text);
}

static void symlink_in_root(const char *target, const char *rel)
{
	char path[1024];

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	make_dirs(path);
	if (symlink(target, path))
		fail_msg("symlink %s: %s", path, strerror(errno));
}

static int remove_root(void **state)
{
	(void)state;
	rpl_test_remove_tree(root);
	root[0] = '\0';
	return 0;
}

static const char tool_pipeline[] = "needs:\n"
                                    "  packages:\n"
                                    "    - tool\n"
                                    "runs: tool\n";

static const char hello_recipe[] = "package:\n"
                                   "  name: hello\n"
                                   "  version: 1.0.0\n"
                                   "pipeline:\n"
                                   "  - uses: local/tool\n";

/* A repo with one of everything the scan has to tell apart. */
static void make_main_repo(void)
{
	make_root();
	write_file(".ripple.yaml", "archs: [x86_64, aarch64]\n");
	write_file("hello.yaml", hello_recipe);
	write_file("hello/patch.diff", "--- a\n");
	write_file("hello/sub/file.txt", "x\n");
	write_file("hello/.hidden", "x\n");
	write_file("all.yaml", "package:\n"
	                       "  name: everywhere\n"
	                       "  version: 1\n"
	                       "  target-architecture: [all]\n");
	write_file("sub/x.melange.yaml", "package:\n"
	                                 "  name: xpkg\n"
	                                 "  version: 2.0\n"
	                                 "  target-architecture: [aarch64]\n"
	                                 "pipeline:\n"
	                                 "  - uses: local/tool\n");
	write_file("sub/data.txt", "d\n");
	write_file("sub/deeper/y.txt", "y\n");
	/* Below the top level only *.melange.yaml are recipes. */
	write_file("sub/notes.yaml", "package:\n  name: not-a-recipe\n  version: 1\n");
	write_file("images/base.apko.yaml", "contents:\n"
	                                    "  packages: [hello]\n"
	                                    "archs: [x86_64]\n");
	/* A top-level yaml that looks like an apko config is an image. */
	write_file("img.yaml", "contents:\n  packages: [busybox]\n");
	/* Some other YAML: not ours, silently skipped. */
	write_file("ci.yaml", "on: push\njobs:\n  build:\n    runs-on: ubuntu-latest\n");
	write_file("empty.yaml", "");
	/* Hidden directories are not scanned. */
	write_file(".hidden/secret.yaml", "package:\n  name: secret\n  version: 1\n");
	write_file(".github/workflows/x.melange.yaml", "package:\n  name: gh\n  version: 1\n");
	/* Pipeline dirs hold pipelines, not recipes. */
	write_file("pipelines/local/tool.yaml", tool_pipeline);
	write_file("build-common.env", "A=1\n");
	write_file("build-x86_64.env", "B=2\n");
}

static void scan_ok(struct rpl_scan *s, const struct rpl_scan_opts *opts)
{
	int err = rpl_scan_run(s, root, opts);

	if (err)
		fail_msg("scan: %s", rpl_errmsg());
}

static const struct rpl_scan_entry *entry(const struct rpl_scan *s, const char *file)
{
	for (size_t i = 0; i < s->nentries; i++)
		if (!strcmp(s->entries[i].file, file))
			return &s->entries[i];
	fail_msg("no entry for %s", file);
	return NULL;
}

static void assert_archs(const struct rpl_scan_entry *e, const char *const *want, size_t n)
{
	if (e->narchs != n)
		fail_msg("%s: %zu archs, want %zu", e->file, e->narchs, n);
	for (size_t i = 0; i < n; i++)
		assert_string_equal(e->archs[i], want[i]);
}

/* Compares and frees `got`; returns the number of mismatches, each printed. */
static int check_files(const char *what, char **got, size_t n, const char *const *want,
                       size_t nwant)
{
	int bad = 0;

	for (size_t i = 0; i < n || i < nwant; i++) {
		if (i >= n)
			print_error("%s: file %zu missing, want %s\n", what, i, want[i]);
		else if (i >= nwant)
			print_error("%s: file %zu unexpected: %s\n", what, i, got[i]);
		else if (strcmp(got[i], want[i]))
			print_error("%s: file %zu is %s, want %s\n", what, i, got[i], want[i]);
		else
			continue;
		bad++;
	}
	rpl_scan_inputs_free(got, n);
	return bad;
}

#define N(a) (sizeof(a) / sizeof(*(a)))

/* ---- tests ---------------------------------------------------------------- */

static void test_detection(void **state)
{
	struct rpl_scan s;
	const struct rpl_scan_opts opts = { .compile = 1, .keep_full = 1 };
	static const char *const files[] = {
		"all.yaml", "hello.yaml", "images/base.apko.yaml", "img.yaml", "sub/x.melange.yaml",
	};

	(void)state;
	make_main_repo();
	scan_ok(&s, &opts);
	assert_int_equal(s.nerrors, 0);
	if (s.nentries != N(files)) {
		for (size_t i = 0; i < s.nentries; i++)
			print_error("entry %s\n", s.entries[i].file);
		fail_msg("%zu entries, want %zu", s.nentries, N(files));
	}
	for (size_t i = 0; i < N(files); i++) {
		const struct rpl_scan_entry *e = &s.entries[i];

		assert_string_equal(e->file, files[i]);
		if (e->error)
			fail_msg("%s: %s", e->file, e->error);
	}
	assert_int_equal(entry(&s, "hello.yaml")->kind, RPL_ENTRY_RECIPE);
	assert_non_null(entry(&s, "hello.yaml")->recipe);
	assert_null(entry(&s, "hello.yaml")->image);
	assert_int_equal(entry(&s, "sub/x.melange.yaml")->kind, RPL_ENTRY_RECIPE);
	assert_int_equal(entry(&s, "images/base.apko.yaml")->kind, RPL_ENTRY_IMAGE);
	assert_non_null(entry(&s, "images/base.apko.yaml")->image);
	assert_null(entry(&s, "images/base.apko.yaml")->recipe);
	assert_int_equal(entry(&s, "img.yaml")->kind, RPL_ENTRY_IMAGE);

	assert_ptr_equal(rpl_scan_find(&s, "hello"), entry(&s, "hello.yaml"));
	assert_ptr_equal(rpl_scan_find(&s, "xpkg"), entry(&s, "sub/x.melange.yaml"));
	assert_ptr_equal(rpl_scan_find(&s, "everywhere"), entry(&s, "all.yaml"));
	assert_null(rpl_scan_find(&s, "not-a-recipe"));
	assert_null(rpl_scan_find(&s, "secret"));
	assert_null(rpl_scan_find(&s, "gh"));
	assert_null(rpl_scan_find(&s, "base"));
	rpl_scan_release(&s);
}

static void test_archs(void **state)
{
	struct rpl_scan s;
	const struct rpl_scan_opts opts = { .compile = 1, .keep_full = 1 };
	static const char *const both[] = { "x86_64", "aarch64" };
	static const char *const arm[] = { "aarch64" };
	const struct rpl_scan_entry *e;

	(void)state;
	make_main_repo();
	scan_ok(&s, &opts);
	assert_int_equal(s.config.present, 1);
	assert_int_equal(s.narchs, 2);
	assert_string_equal(s.archs[0], "x86_64");
	assert_string_equal(s.archs[1], "aarch64");
	assert_archs(entry(&s, "hello.yaml"), both, 2);
	assert_archs(entry(&s, "all.yaml"), both, 2);
	/* target-architecture names apk archs. */
	assert_archs(entry(&s, "sub/x.melange.yaml"), arm, 1);

	/* One compile per arch, with the repo pipeline's needs. */
	e = entry(&s, "hello.yaml");
	assert_non_null(e->compiled);
	assert_string_equal(e->compiled[0].arch, "x86_64");
	assert_string_equal(e->compiled[1].arch, "aarch64");
	assert_int_equal(e->compiled[1].nneeds, 1);
	assert_string_equal(e->compiled[1].needs[0].name, "tool");
	assert_int_equal(e->compiled[1].npipeline_files, 1);
	assert_string_equal(e->compiled[1].pipeline_files[0], "pipelines/local/tool.yaml");
	rpl_scan_release(&s);

	/* Archs chosen on the command line win over .ripple.yaml. */
	{
		const char *const only[] = { "x86_64" };
		const struct rpl_scan_opts o = {
			.archs = only, .narchs = 1, .compile = 1, .keep_full = 1
		};

		scan_ok(&s, &o);
		assert_int_equal(s.narchs, 1);
		assert_archs(entry(&s, "hello.yaml"), only, 1);
		assert_archs(entry(&s, "sub/x.melange.yaml"), NULL, 0);
		rpl_scan_release(&s);
	}
}

/* A parse cache that has nothing: the scan still gives each entry its key. */
static const void *cache_miss(void *ctx, const char *file, const uint8_t key[RPL_SHA256_LEN],
                              size_t *len)
{
	(void)ctx;
	(void)file;
	(void)key;
	*len = 0;
	return NULL;
}

/* hello.yaml's parse-cache key in a scan of the main repo as it is now. */
static void hello_key(uint8_t out[RPL_SHA256_LEN])
{
	const struct rpl_scan_cache cache = { cache_miss, NULL, NULL, { 1 } };
	const struct rpl_scan_opts opts = { .compile = 1, .cache = &cache };
	struct rpl_scan s;

	scan_ok(&s, &opts);
	memcpy(out, entry(&s, "hello.yaml")->cache_key, RPL_SHA256_LEN);
	rpl_scan_release(&s);
}

/*
 * The key holds what a recipe's evaluation reads: a build's keys of
 * .ripple.yaml leave it, the archs and the pipelines change it.
 */
static void test_cache_key(void **state)
{
	uint8_t first[RPL_SHA256_LEN], again[RPL_SHA256_LEN];

	(void)state;
	make_main_repo();
	hello_key(first);
	write_file(".ripple.yaml", "archs: [x86_64, aarch64]\nkeep-runs: 5\n"
	                           "cache: registry.example/ripple\nsigning-key: k.rsa\n");
	hello_key(again);
	assert_memory_equal(first, again, RPL_SHA256_LEN);
	write_file(".ripple.yaml", "archs: [x86_64]\n");
	hello_key(again);
	assert_memory_not_equal(first, again, RPL_SHA256_LEN);
	write_file(".ripple.yaml", "archs: [x86_64, aarch64]\n");
	hello_key(again);
	assert_memory_equal(first, again, RPL_SHA256_LEN);
	/* A pipeline's text, or where the pipelines are looked for. */
	write_file("pipelines/local/tool.yaml", "needs:\n  packages:\n    - tool\nruns: tool 2\n");
	hello_key(again);
	assert_memory_not_equal(first, again, RPL_SHA256_LEN);
	hello_key(first);
	write_file(".ripple.yaml", "archs: [x86_64, aarch64]\npipeline-dirs: [other, pipelines]\n");
	write_file("other/local/tool.yaml", "needs:\n  packages:\n    - tool\nruns: tool 2\n");
	hello_key(again);
	assert_memory_not_equal(first, again, RPL_SHA256_LEN);
}

/* A scan keeps recipes' summaries; recompiling reads the whole recipe again. */
static void test_slim_and_recompile(void **state)
{
	struct rpl_scan s;
	const struct rpl_scan_opts opts = { .compile = 1, .keep_full = 0 };
	static const char *const both[] = { "x86_64", "aarch64" };
	struct rpl_scan_entry *e;

	(void)state;
	make_main_repo();
	scan_ok(&s, &opts);
	assert_int_equal(s.nerrors, 0);
	e = (struct rpl_scan_entry *)entry(&s, "hello.yaml");
	assert_null(e->recipe);
	assert_string_equal(e->summary->name.s, "hello");
	assert_archs(e, both, 2);
	assert_int_equal(e->compiled[0].nneeds, 1);
	assert_string_equal(e->compiled[0].needs[0].name, "tool");
	assert_null(e->compiled[0].steps);

	assert_int_equal(rpl_scan_recompile(&s, e, RPL_COMPILE_STEPS), 0);
	assert_non_null(e->recipe);
	assert_string_equal(e->recipe->package.name.s, "hello");
	assert_archs(e, both, 2);
	assert_int_equal(e->compiled[1].nsteps, 1);
	assert_string_equal(e->compiled[1].steps[0].uses, "local/tool");
	assert_string_equal(e->compiled[1].steps[0].pipeline_file, "pipelines/local/tool.yaml");
	assert_string_equal(e->compiled[1].needs[0].name, "tool");
	/* Duplicate detection works on summaries too. */
	assert_ptr_equal(rpl_scan_find(&s, "xpkg"), entry(&s, "sub/x.melange.yaml"));
	rpl_scan_release(&s);
}

static void test_repoconfig_archs(void **state)
{
	struct rpl_scan s;
	const struct rpl_scan_opts opts = { .compile = 0, .keep_full = 1 };
	static const char *const want[] = { "aarch64", "x86_64" };

	(void)state;
	make_root();
	/* OCI names are read as apk names, in the order given. */
	write_file(".ripple.yaml", "archs: [arm64, amd64]\n");
	write_file("hello.yaml", "package:\n  name: hello\n  version: 1\n");
	scan_ok(&s, &opts);
	assert_int_equal(s.narchs, 2);
	assert_string_equal(s.archs[0], "aarch64");
	assert_string_equal(s.archs[1], "x86_64");
	assert_archs(entry(&s, "hello.yaml"), want, 2);
	/* Without compile, nothing is compiled. */
	assert_null(entry(&s, "hello.yaml")->compiled);
	rpl_scan_release(&s);
	remove_root(NULL);

	make_root();
	write_file(".ripple.yaml", "archs: [x86_64, sparc]\n");
	rpl_error_clear();
	assert_int_not_equal(rpl_scan_run(&s, root, &opts), 0);
	assert_string_equal(rpl_errmsg(), ".ripple.yaml:1:17: unknown architecture 'sparc'");
	rpl_scan_release(&s);
	remove_root(NULL);

	make_root();
	write_file(".ripple.yaml", "arch: [x86_64]\n");
	rpl_error_clear();
	assert_int_not_equal(rpl_scan_run(&s, root, &opts), 0);
	assert_string_equal(rpl_errmsg(), ".ripple.yaml:1:1: unknown key 'arch' in .ripple.yaml");
	rpl_scan_release(&s);
}

static void test_duplicates_and_errors(void **state)
{
	struct rpl_scan s;
	const struct rpl_scan_opts opts = { .compile = 1, .keep_full = 1 };

	(void)state;
	make_root();
	write_file(".ripple.yaml", "archs: [x86_64]\n");
	write_file("dup1.yaml", "package:\n  name: same\n  version: 1\n");
	write_file("other/dup2.melange.yaml", "package:\n  name: same\n  version: 2\n");
	write_file("broken.yaml", "package:\n  name: bad name\n  version: 1\n");
	write_file("badpipe.yaml", "package:\n  name: badpipe\n  version: 1\n"
	                           "pipeline:\n  - uses: no/such\n");
	write_file("syntax.yaml", "package:\n  name: [\n");
	scan_ok(&s, &opts);
	assert_int_equal(s.nentries, 5);
	assert_int_equal(s.nerrors, 4);

	/* The later file (by path) is the duplicate, and the message names both. */
	assert_null(entry(&s, "dup1.yaml")->error);
	assert_non_null(entry(&s, "dup1.yaml")->recipe);
	assert_ptr_equal(rpl_scan_find(&s, "same"), entry(&s, "dup1.yaml"));
	assert_string_equal(entry(&s, "other/dup2.melange.yaml")->error,
	                    "other/dup2.melange.yaml:2:9: package 'same' is already defined in "
	                    "dup1.yaml");
	assert_null(entry(&s, "other/dup2.melange.yaml")->recipe);

	assert_string_equal(entry(&s, "broken.yaml")->error,
	                    "broken.yaml:2:9: package name 'bad name' is invalid");
	assert_null(entry(&s, "broken.yaml")->recipe);
	assert_string_equal(entry(&s, "badpipe.yaml")->error,
	                    "badpipe.yaml:5:11: unknown pipeline 'no/such' (not in the "
	                    "repository's pipeline dirs nor built in)");
	assert_null(entry(&s, "badpipe.yaml")->recipe);
	assert_null(rpl_scan_find(&s, "badpipe"));
	assert_non_null(entry(&s, "syntax.yaml")->error);
	assert_true(!strncmp(entry(&s, "syntax.yaml")->error, "syntax.yaml:", 12));
	rpl_scan_release(&s);
}

/*
 * A recipe that fails (to compile, here) claims no name: the good recipe
 * with that name is not "already defined", and the broken one keeps its
 * own message, whichever comes first by path.
 */
static void test_broken_claims_no_name(void **state)
{
	struct rpl_scan s;
	const struct rpl_scan_opts opts = { .compile = 1, .keep_full = 1 };

	(void)state;
	make_root();
	write_file(".ripple.yaml", "archs: [x86_64]\n");
	write_file("a-broken.yaml", "package:\n  name: same\n  version: 1\n"
	                            "pipeline:\n  - uses: no/such\n");
	write_file("b-good.yaml", "package:\n  name: same\n  version: 2\n");
	write_file("c-broken.yaml", "package:\n  name: same\n  version: 3\n"
	                            "pipeline:\n  - runs: ${{vars.nope}}\n");
	scan_ok(&s, &opts);
	assert_int_equal(s.nentries, 3);
	assert_int_equal(s.nerrors, 2);
	assert_null(entry(&s, "b-good.yaml")->error);
	assert_ptr_equal(rpl_scan_find(&s, "same"), entry(&s, "b-good.yaml"));
	assert_string_equal(entry(&s, "a-broken.yaml")->error,
	                    "a-broken.yaml:5:11: unknown pipeline 'no/such' (not in the "
	                    "repository's pipeline dirs nor built in)");
	assert_null(entry(&s, "a-broken.yaml")->recipe);
	assert_string_equal(entry(&s, "c-broken.yaml")->error,
	                    "c-broken.yaml:5:11: runs: variable 'vars.nope' not defined");
	assert_null(entry(&s, "c-broken.yaml")->recipe);
	rpl_scan_release(&s);
}

/*
 * `.melange.yaml` (melange's default config name) and `.apko.yaml` are read
 * wherever they are; a root `.melange.yaml` builds from the whole tree
 * (melange's default source dir is the config's), less hidden files and
 * ripple's outputs.  Other hidden files stay unread.
 */
static void test_dot_recipes(void **state)
{
	struct rpl_scan s;
	const struct rpl_scan_opts opts = { .compile = 1, .keep_full = 1 };
	static const char *const want_root[] = {
		".melange.yaml",
		"build-common.env",
		"main.c",
		"sub/lib.c",
	};
	static const char *const want_sub[] = { "build-common.env", "sub/.melange.yaml",
		                                "sub/lib.c" };
	const struct rpl_scan_entry *e;
	char **files, *dir;
	size_t n;
	int bad;

	(void)state;
	make_root();
	write_file(".ripple.yaml", "archs: [x86_64]\n");
	write_file(".melange.yaml", "package:\n  name: proj\n  version: 1\n"
	                            "pipeline:\n  - runs: make\n");
	write_file("main.c", "int main;\n");
	write_file("build-common.env", "A=1\n");
	write_file("sub/.melange.yaml", "package:\n  name: sublib\n  version: 1\n");
	write_file("sub/lib.c", "int lib;\n");
	write_file(".apko.yaml", "contents:\n  packages: [proj]\n");
	write_file("img/web/.apko.yaml", "contents:\n  packages: [sublib]\n");
	write_file(".other.yaml", "package:\n  name: hidden\n  version: 1\n");
	write_file("packages/x86_64/proj-1-r0.apk", "built\n");
	write_file("images/proj/index.json", "{}\n");
	scan_ok(&s, &opts);
	assert_int_equal(s.nerrors, 0);
	assert_int_equal(s.nentries, 4);
	e = entry(&s, ".melange.yaml");
	assert_int_equal(e->kind, RPL_ENTRY_RECIPE);
	assert_string_equal(e->summary->name.s, "proj");
	assert_string_equal(dir = rpl_scan_source_dir(e), ".");
	free(dir);
	assert_int_equal(rpl_scan_inputs(&s, e, "x86_64", &files, &n), 0);
	bad = check_files(".melange.yaml", files, n, want_root, N(want_root));
	e = entry(&s, "sub/.melange.yaml");
	assert_string_equal(dir = rpl_scan_source_dir(e), "sub");
	free(dir);
	assert_int_equal(rpl_scan_inputs(&s, e, "x86_64", &files, &n), 0);
	bad += check_files("sub/.melange.yaml", files, n, want_sub, N(want_sub));
	assert_int_equal(bad, 0);
	/* An image in `.apko.yaml` is named after its directory. */
	e = entry(&s, "img/web/.apko.yaml");
	assert_int_equal(e->kind, RPL_ENTRY_IMAGE);
	assert_string_equal(e->image->name, "web");
	e = entry(&s, ".apko.yaml");
	assert_int_equal(e->kind, RPL_ENTRY_IMAGE);
	assert_string_equal(e->image->name, strrchr(root, '/') + 1);
	assert_true(rpl_scan_dot_recipe(".melange.yaml") && rpl_scan_dot_recipe(".apko.yaml"));
	assert_false(rpl_scan_dot_recipe(".other.yaml") || rpl_scan_dot_recipe(".git"));
	rpl_scan_release(&s);
}

static void test_inputs(void **state)
{
	struct rpl_scan s;
	const struct rpl_scan_opts opts = { .compile = 1, .keep_full = 1 };
	char **files;
	size_t n;
	int bad = 0;
	static const char *const hello_x86[] = {
		"build-common.env", "build-x86_64.env",   "hello.yaml",
		"hello/patch.diff", "hello/sub/file.txt", "pipelines/local/tool.yaml",
	};
	/* No build-aarch64.env in the repo: only files that exist are inputs.
	 * Hidden files (hello/.hidden) are not: the memo's walk skips them. */
	static const char *const hello_arm[] = {
		"build-common.env",          "hello.yaml", "hello/patch.diff", "hello/sub/file.txt",
		"pipelines/local/tool.yaml",
	};
	/* A nested recipe's source dir is its own directory. */
	static const char *const xpkg_arm[] = {
		"build-common.env", "pipelines/local/tool.yaml", "sub/data.txt", "sub/deeper/y.txt",
		"sub/notes.yaml",   "sub/x.melange.yaml",
	};
	static const char *const everywhere[] = { "all.yaml", "build-common.env" };
	static const char *const image[] = { "images/base.apko.yaml" };

	(void)state;
	make_main_repo();
	scan_ok(&s, &opts);
	assert_int_equal(rpl_scan_inputs(&s, entry(&s, "hello.yaml"), "x86_64", &files, &n), 0);
	bad += check_files("hello x86_64", files, n, hello_x86, N(hello_x86));
	assert_int_equal(rpl_scan_inputs(&s, entry(&s, "hello.yaml"), "aarch64", &files, &n), 0);
	bad += check_files("hello aarch64", files, n, hello_arm, N(hello_arm));
	assert_int_equal(
	        rpl_scan_inputs(&s, entry(&s, "sub/x.melange.yaml"), "aarch64", &files, &n), 0);
	bad += check_files("xpkg aarch64", files, n, xpkg_arm, N(xpkg_arm));
	/* No <name>/ dir beside all.yaml ("everywhere/"), no pipelines. */
	assert_int_equal(rpl_scan_inputs(&s, entry(&s, "all.yaml"), "aarch64", &files, &n), 0);
	bad += check_files("everywhere", files, n, everywhere, N(everywhere));
	/* An image: its file, relative to the root like every other input. */
	assert_int_equal(
	        rpl_scan_inputs(&s, entry(&s, "images/base.apko.yaml"), "x86_64", &files, &n), 0);
	bad += check_files("image", files, n, image, N(image));
	rpl_scan_release(&s);
	assert_int_equal(bad, 0);
}

/* .ripple.yaml: pipeline dirs, env files, image globs and excludes. */
static void test_repoconfig(void **state)
{
	struct rpl_scan s;
	const struct rpl_scan_opts opts = { .compile = 1, .keep_full = 1 };
	char **files;
	size_t n;
	int bad;
	static const char *const want[] = { "envs/aarch64.env", "hello.yaml",
		                            "pipes/local/tool.yaml" };

	(void)state;
	make_root();
	write_file(".ripple.yaml", "archs: [aarch64]\n"
	                           "pipeline-dirs: [pipes]\n"
	                           "env-files: ['envs/${{build.arch}}.env', envs/missing.env]\n"
	                           "images: ['oci/*.yaml']\n"
	                           "exclude: ['scratch/*', 'old.yaml']\n");
	write_file("hello.yaml", hello_recipe);
	write_file("pipes/local/tool.yaml", tool_pipeline);
	write_file("envs/aarch64.env", "X=1\n");
	write_file("envs/x86_64.env", "X=2\n");
	write_file("oci/web.yaml", "contents:\n  packages: [hello]\n");
	write_file("scratch/wip.melange.yaml", "package: {name: wip, version: 1}\n");
	write_file("old.yaml", "package: {name: old, version: 1}\n");
	scan_ok(&s, &opts);
	assert_int_equal(s.nerrors, 0);
	assert_int_equal(s.nentries, 2);
	assert_string_equal(s.entries[0].file, "hello.yaml");
	assert_string_equal(s.entries[1].file, "oci/web.yaml");
	assert_int_equal(s.entries[1].kind, RPL_ENTRY_IMAGE);
	assert_int_equal(rpl_scan_inputs(&s, &s.entries[0], "aarch64", &files, &n), 0);
	bad = check_files("hello aarch64", files, n, want, N(want));
	rpl_scan_release(&s);
	assert_int_equal(bad, 0);
}

/*
 * A symlink back up the tree must not make the scan walk the same recipes
 * again under longer and longer paths (as wolfictl's filepath.WalkDir does
 * not follow links to directories).
 */
static void test_symlink_cycle(void **state)
{
	struct rpl_scan s;
	const struct rpl_scan_opts opts = { .compile = 0, .keep_full = 1 };

	(void)state;
	make_root();
	write_file(".ripple.yaml", "archs: [x86_64]\n");
	write_file("sub/x.melange.yaml", "package:\n  name: xpkg\n  version: 1\n");
	symlink_in_root(".", "sub/self");
	scan_ok(&s, &opts);
	if (s.nentries != 1) {
		print_error("%zu entries, %zu errors; first: %s\n", s.nentries, s.nerrors,
		            s.nentries > 1 ? s.entries[1].file : "");
		rpl_scan_release(&s);
		fail_msg("a symlink cycle was followed");
	}
	assert_int_equal(s.nerrors, 0);
	assert_string_equal(s.entries[0].file, "sub/x.melange.yaml");
	rpl_scan_release(&s);
}

static void fifo_in_root(const char *rel)
{
	char path[1024];

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	make_dirs(path);
	if (mkfifo(path, 0644))
		fail_msg("mkfifo %s: %s", path, strerror(errno));
}

/* The entry for `file` failed with a message holding `want`. */
static void assert_entry_error(const struct rpl_scan *s, const char *file, const char *want)
{
	const struct rpl_scan_entry *e = entry(s, file);

	if (!e->error || !strstr(e->error, want))
		fail_msg("%s: error \"%s\", want one with \"%s\"", file, e->error ? e->error : "",
		         want);
	assert_null(e->recipe);
	assert_null(e->summary);
	assert_null(e->image);
}

/*
 * Files the scan must not read: a FIFO (the read would block until someone
 * writes; the alarm turns such a hang into a failure), a link to /dev/zero
 * (never ends), a file past RPL_YAML_MAX_FILE, and links leading out of
 * the repository.  Each is an error of its own entry; a link to a recipe
 * inside the repository is read as usual.
 */
static void test_irregular_files(void **state)
{
	struct rpl_scan s;
	const struct rpl_scan_opts opts = { .compile = 1, .keep_full = 1 };
	char path[1024];
	int fd;

	(void)state;
	make_root();
	write_file(".ripple.yaml", "archs: [x86_64]\n");
	write_file("ok.yaml", "package:\n  name: ok\n  version: 1\n");
	write_file("store/linked.txt", "package:\n  name: linked\n  version: 1\n");
	symlink_in_root("store/linked.txt", "linked.yaml");
	fifo_in_root("fifo.yaml");
	fifo_in_root("sub/fifo.melange.yaml");
	fifo_in_root("images/fifo.apko.yaml");
	symlink_in_root("/dev/zero", "zero.yaml");
	symlink_in_root("/etc/passwd", "outside.yaml");
	symlink_in_root("/etc/passwd", "images/outside.apko.yaml");
	write_file("big.yaml", "");
	snprintf(path, sizeof(path), "%s/big.yaml", root);
	fd = open(path, O_WRONLY);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)RPL_YAML_MAX_FILE + 1), 0);
	close(fd);

	alarm(20);
	scan_ok(&s, &opts);
	alarm(0);
	assert_int_equal(s.nentries, 9);
	assert_int_equal(s.nerrors, 7);
	assert_null(entry(&s, "ok.yaml")->error);
	assert_null(entry(&s, "linked.yaml")->error);
	assert_non_null(rpl_scan_find(&s, "linked"));
	assert_entry_error(&s, "fifo.yaml", "fifo.yaml': it is a FIFO, not a regular file");
	assert_entry_error(&s, "sub/fifo.melange.yaml",
	                   "fifo.melange.yaml': it is a FIFO, not a regular file");
	assert_entry_error(&s, "images/fifo.apko.yaml",
	                   "fifo.apko.yaml': it is a FIFO, not a regular file");
	assert_entry_error(&s, "zero.yaml",
	                   "zero.yaml' leads to '/dev/zero', outside the repository");
	assert_entry_error(&s, "outside.yaml",
	                   "outside.yaml' leads to '/etc/passwd', outside the repository");
	assert_entry_error(&s, "images/outside.apko.yaml",
	                   "outside.apko.yaml' leads to '/etc/passwd', outside the repository");
	assert_entry_error(&s, "big.yaml", "big.yaml': larger than 16 MiB");
	rpl_scan_release(&s);
}

/* A link inside the repository to a FIFO inside it leads nowhere outside, and is still refused. */
static void test_link_to_fifo_inside(void **state)
{
	struct rpl_scan s;
	const struct rpl_scan_opts opts = { .compile = 0, .keep_full = 1 };

	(void)state;
	make_root();
	write_file(".ripple.yaml", "archs: [x86_64]\n");
	fifo_in_root("store/fifo");
	symlink_in_root("store/fifo", "viafifo.yaml");
	alarm(20);
	scan_ok(&s, &opts);
	alarm(0);
	assert_int_equal(s.nerrors, 1);
	assert_entry_error(&s, "viafifo.yaml", "viafifo.yaml': it is a FIFO, not a regular file");
	rpl_scan_release(&s);
}

/*
 * Pipelines: one that is a FIFO, a link out of the repository or an alias
 * bomb fails the recipes that use it, not the scan; links to directories
 * in a pipeline dir (two links to "." would walk it 2^depth times) are not
 * followed.  An env file that is there but no regular file fails the scan:
 * every job of the arch would read it.
 */
static void test_irregular_pipelines_and_env(void **state)
{
	struct rpl_scan s;
	const struct rpl_scan_opts opts = { .compile = 1, .keep_full = 1 };
	char *bomb = NULL;
	size_t len = 0, cap = 0;
	int err;

	(void)state;
	make_root();
	write_file(".ripple.yaml", "archs: [x86_64]\n");
	write_file("pipelines/good.yaml", "runs: true\n");
	fifo_in_root("pipelines/fifo.yaml");
	symlink_in_root("/etc/passwd", "pipelines/outside.yaml");
	symlink_in_root(".", "pipelines/loop1");
	symlink_in_root(".", "pipelines/loop2");
	for (int k = 0; k < 10; k++) {
		char line[256];
		int n = snprintf(line, sizeof(line),
		                 k ? "  - &p%d {pipeline: [" : "pipeline:\n  - &p0 {runs: x}\n", k);
		if (k) {
			for (int i = 0; i < 10; i++)
				n += snprintf(line + n, sizeof(line) - (size_t)n, "%s*p%d",
				              i ? ", " : "", k - 1);
			snprintf(line + n, sizeof(line) - (size_t)n, "]}\n");
		}
		while (len + strlen(line) + 1 > cap) {
			cap = cap ? 2 * cap : 4096;
			bomb = realloc(bomb, cap);
			assert_non_null(bomb);
		}
		memcpy(bomb + len, line, strlen(line) + 1);
		len += strlen(line);
	}
	write_file("pipelines/bomb.yaml", bomb);
	free(bomb);
	write_file("good.yaml",
	           "package:\n  name: good\n  version: 1\npipeline:\n  - uses: good\n");
	write_file("usefifo.yaml",
	           "package:\n  name: usefifo\n  version: 1\npipeline:\n  - uses: fifo\n");
	write_file("useout.yaml",
	           "package:\n  name: useout\n  version: 1\npipeline:\n  - uses: outside\n");
	write_file("usebomb.yaml",
	           "package:\n  name: usebomb\n  version: 1\npipeline:\n  - uses: bomb\n");

	alarm(20);
	scan_ok(&s, &opts);
	alarm(0);
	assert_int_equal(s.nentries, 4);
	assert_int_equal(s.nerrors, 3);
	assert_null(entry(&s, "good.yaml")->error);
	assert_entry_error(&s, "usefifo.yaml",
	                   "usefifo.yaml:5:11: pipeline 'fifo' is invalid: cannot read '");
	assert_entry_error(&s, "usefifo.yaml", "fifo.yaml': it is a FIFO, not a regular file");
	assert_entry_error(&s, "useout.yaml",
	                   "outside.yaml' leads to '/etc/passwd', outside the repository");
	assert_entry_error(&s, "usebomb.yaml",
	                   "usebomb.yaml:5:11: pipeline 'bomb' is invalid: pipelines/bomb.yaml:7:");
	assert_entry_error(&s, "usebomb.yaml", "aliases expand to more than 100000 nodes");
	/* Nothing was found through the loops. */
	for (size_t i = 0; i < s.lib.ndefs; i++)
		if (strstr(s.lib.defs[i].name, "loop"))
			fail_msg("pipeline %s found through a link to a directory",
			         s.lib.defs[i].name);
	rpl_scan_release(&s);

	fifo_in_root("build-x86_64.env");
	alarm(20);
	rpl_error_clear();
	err = rpl_scan_run(&s, root, &opts);
	alarm(0);
	assert_int_equal(err, -EINVAL);
	assert_string_equal(rpl_errmsg(),
	                    "env file 'build-x86_64.env' is a FIFO, not a regular file");
	rpl_scan_release(&s);
}

/* Paths and image names that are no clean text are refused, escaped in the message. */
static void test_bad_names(void **state)
{
	struct rpl_scan s;
	const struct rpl_scan_opts opts = { .compile = 0, .keep_full = 1 };
	const char *recipe = "package:\n  name: r\n  version: 1\n";

	(void)state;
	make_root();
	write_file(".ripple.yaml", "archs: [x86_64]\n");
	write_file("ok.yaml", "package:\n  name: ok\n  version: 1\n");
	write_file("latin1-\xe9.yaml", recipe);
	write_file("d\x01r/x.melange.yaml", "package:\n  name: x\n  version: 1\n");
	write_file("images/two\nlines.apko.yaml", "contents: {packages: [a]}\n");
	write_file("images/fine.apko.yaml", "contents: {packages: [a]}\n");
	scan_ok(&s, &opts);
	assert_int_equal(s.nentries, 5);
	assert_int_equal(s.nerrors, 3);
	assert_entry_error(&s, "latin1-\xe9.yaml",
	                   "latin1-\\xe9.yaml:1:1: the file's path is not valid UTF-8");
	assert_entry_error(&s, "d\x01r/x.melange.yaml",
	                   "d\\x01r/x.melange.yaml:1:1: the file's path holds a control character");
	assert_entry_error(&s, "images/two\nlines.apko.yaml",
	                   "images/two\\x0alines.apko.yaml:1:1: image name 'two\\x0alines' holds a "
	                   "control character");
	assert_null(entry(&s, "images/fine.apko.yaml")->error);
	rpl_scan_release(&s);
}

/*
 * An unreadable directory fails the scan; the entries found before it are
 * freed (run under ASan, a leak shows here).  EMFILE stands in for EACCES,
 * which root does not get.
 */
static void test_walk_error(void **state)
{
	struct rpl_scan s;
	const struct rpl_scan_opts opts = { .compile = 0, .keep_full = 1 };
	struct rlimit old, lim;
	char name[64];
	int fd, err;

	(void)state;
	make_root();
	write_file(".ripple.yaml", "archs: [x86_64]\n");
	for (int i = 0; i < 20; i++) {
		snprintf(name, sizeof(name), "r%02d.yaml", i);
		write_file(name, "package:\n  name: r\n  version: 1\n");
		snprintf(name, sizeof(name), "d1/r%02d.melange.yaml", i);
		write_file(name, "package:\n  name: r\n  version: 1\n");
	}
	write_file("d1/d2/d3/d4/x.melange.yaml", "package:\n  name: deep\n  version: 1\n");

	/* Leave two descriptors free: the walk cannot open d1/d2. */
	fd = open("/dev/null", O_RDONLY); /* the lowest free descriptor */
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
	lim = old;
	lim.rlim_cur = (rlim_t)fd + 2;
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &lim), 0);
	rpl_error_clear();
	err = rpl_scan_run(&s, root, &opts);
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);
	assert_int_equal(err, -EMFILE);
	assert_non_null(strstr(rpl_errmsg(), "cannot read directory '"));
	rpl_scan_release(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_detection, remove_root),
		cmocka_unit_test_teardown(test_archs, remove_root),
		cmocka_unit_test_teardown(test_slim_and_recompile, remove_root),
		cmocka_unit_test_teardown(test_cache_key, remove_root),
		cmocka_unit_test_teardown(test_repoconfig_archs, remove_root),
		cmocka_unit_test_teardown(test_duplicates_and_errors, remove_root),
		cmocka_unit_test_teardown(test_broken_claims_no_name, remove_root),
		cmocka_unit_test_teardown(test_dot_recipes, remove_root),
		cmocka_unit_test_teardown(test_inputs, remove_root),
		cmocka_unit_test_teardown(test_repoconfig, remove_root),
		cmocka_unit_test_teardown(test_symlink_cycle, remove_root),
		cmocka_unit_test_teardown(test_walk_error, remove_root),
		cmocka_unit_test_teardown(test_irregular_files, remove_root),
		cmocka_unit_test_teardown(test_link_to_fifo_inside, remove_root),
		cmocka_unit_test_teardown(test_irregular_pipelines_and_env, remove_root),
		cmocka_unit_test_teardown(test_bad_names, remove_root),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
