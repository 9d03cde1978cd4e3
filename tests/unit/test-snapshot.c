/*
 * The plan snapshot (orchestrator/snapshot.c) on a small monorepo in a
 * fresh temporary directory:
 *
 *   lib    subpackage lib-dev; source dir lib/ (x.patch)
 *   app    builds against lib-dev; source dir app/ (main.c)
 *   tool   builds against app
 *   img    an image installing app
 *
 * A plan from a full scan is saved; after an edit the plan is made from the
 * snapshot and compared with a plan from a new full scan: every job's
 * inputs, own and input hash and selection must be the same.  Edits that
 * touch only inputs (a source file changed, added or removed, a touch, a
 * recipe's script) are served and counted; edits that shape the scan (a
 * dependency, a recipe or pipeline added or removed, an image, an env file
 * appearing, .ripple.yaml) are refused with their reason.  A snapshot for
 * another key, of another format, or damaged anywhere (every truncation,
 * every flipped byte) is refused without a crash or a leak.
 *
 * Files are dated an hour back before the snapshot is made, so that its
 * stat comparison is exercised (files newer than a second before the plan
 * would be hashed every time, git's racy rule).
 */
#include "orchestrator/snapshot.h"
#include "common/error.h"
#include "common/file.h"
#include "graph/graph.h"
#include "orchestrator/memo.h"
#include "orchestrator/plan.h"
#include "orchestrator/state.h"
#include "recipes/scan.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/unit/testlib.h"

#define ARCH "x86_64"

static char root[256];

static void write_file(const char *rel, const char *text)
{
	rpl_test_write_file(root, rel, text);
}

static void remove_file(const char *rel)
{
	char path[1024];

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	if (unlink(path))
		fail_msg("unlink %s: %s", path, strerror(errno));
}

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Dates every file under `dir` an hour back (hidden ones too: the store's). */
static void age_tree(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	struct timespec ts[2];

	assert_non_null(d);
	clock_gettime(CLOCK_REALTIME, &ts[0]);
	ts[0].tv_sec -= 3600;
	ts[1] = ts[0];
	while ((e = readdir(d))) {
		char path[1024];
		struct stat sb;
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (lstat(path, &sb))
			continue;
		if (S_ISDIR(sb.st_mode))
			age_tree(path);
		utimensat(AT_FDCWD, path, ts, AT_SYMLINK_NOFOLLOW);
	}
	closedir(d);
}

static const char lib_yaml[] = "package:\n  name: lib\n  version: 1.0.0\n  epoch: 0\n"
                               "subpackages:\n  - name: lib-dev\n"
                               "pipeline:\n  - runs: echo lib\n";
static const char app_yaml[] = "package:\n  name: app\n  version: 1.0.0\n  epoch: 0\n"
                               "environment:\n  contents:\n    packages:\n      - lib-dev\n"
                               "pipeline:\n  - runs: echo app\n";

static int make_repo(void **state)
{
	(void)state;
	if (rpl_test_mkdtemp(root, sizeof(root), "snapshot"))
		return -1;
	write_file(".ripple.yaml", "archs: [" ARCH "]\n");
	write_file("lib.yaml", lib_yaml);
	write_file("lib/x.patch", "--- a\n+++ b\n");
	write_file("app.yaml", app_yaml);
	write_file("app/main.c", "int answer = 42;\n");
	write_file("tool.yaml", "package:\n  name: tool\n  version: 1.0.0\n  epoch: 0\n"
	                        "environment:\n  contents:\n    packages:\n      - app\n"
	                        "pipeline:\n  - runs: echo tool\n");
	write_file("img.apko.yaml", "contents:\n  packages:\n    - app\n");
	write_file("README", "not an input\n");
	return 0;
}

static int remove_repo(void **state)
{
	(void)state;
	rpl_test_remove_tree(root);
	root[0] = '\0';
	return 0;
}

/* ---- plans ------------------------------------------------------------------------ */

struct full {
	struct rpl_scan scan;
	struct rpl_plan plan;
};

static struct rpl_state *state_open(void)
{
	struct rpl_state *st = NULL;

	if (rpl_state_open(&st, root, 1))
		fail_msg("rpl_state_open: %s", rpl_errmsg());
	return st;
}

static struct rpl_plan_opts stale_opts(void)
{
	struct rpl_plan_opts o;

	memset(&o, 0, sizeof(o));
	o.mode = RPL_SELECT_STALE;
	return o;
}

static void default_key(uint8_t key[RPL_SHA256_LEN])
{
	rpl_snapshot_key(NULL, 0, NULL, key);
}

/* A plan from a full scan, with a fresh handle on the store. */
static void full_plan(struct full *f)
{
	struct rpl_scan_opts so = { NULL, 0, 1, 0, NULL };
	struct rpl_plan_opts o = stale_opts();
	struct rpl_state *st = state_open();

	memset(f, 0, sizeof(*f));
	if (rpl_scan_run(&f->scan, root, &so))
		fail_msg("scan: %s", rpl_errmsg());
	if (rpl_plan_make(&f->plan, &f->scan, st, &o))
		fail_msg("rpl_plan_make: %s", rpl_errmsg());
	rpl_state_close(st);
}

static void full_release(struct full *f)
{
	rpl_plan_release(&f->plan);
	rpl_scan_release(&f->scan);
}

/* Ages the tree, plans from a full scan and keeps the snapshot, as `ripple plan` does. */
static void save(void)
{
	struct rpl_scan_opts so = { NULL, 0, 1, 0, NULL };
	struct rpl_plan_opts o = stale_opts();
	struct rpl_tree_files files = RPL_TREE_FILES_INIT;
	struct rpl_tree_print tp;
	struct rpl_state *st = state_open();
	struct rpl_scan scan;
	struct rpl_plan p;
	uint8_t key[RPL_SHA256_LEN];
	int64_t started;

	rpl_state_close(st);
	age_tree(root);
	st = state_open();
	started = now_ns();
	assert_int_equal(rpl_tree_fingerprint(root, &tp, &files), 0);
	if (rpl_scan_run(&scan, root, &so))
		fail_msg("scan: %s", rpl_errmsg());
	if (rpl_plan_make(&p, &scan, st, &o))
		fail_msg("rpl_plan_make: %s", rpl_errmsg());
	default_key(key);
	if (rpl_snapshot_save(st, key, &scan, &p, &files, started))
		fail_msg("rpl_snapshot_save: %s", rpl_errmsg());
	rpl_plan_release(&p);
	rpl_scan_release(&scan);
	rpl_tree_files_release(&files);
	rpl_state_close(st);
}

/* The plan from the snapshot for `key` with the store `st`: what rpl_snapshot_plan returned. */
static int from_snapshot_in(struct rpl_state *st, struct rpl_plan *p,
                            const uint8_t key[RPL_SHA256_LEN], struct rpl_snapshot_use *use)
{
	struct rpl_plan_opts o = stale_opts();
	struct rpl_tree_files files = RPL_TREE_FILES_INIT;
	struct rpl_tree_print tp;
	int rc;

	assert_int_equal(rpl_tree_fingerprint(root, &tp, &files), 0);
	rc = rpl_snapshot_plan(p, st, root, key, &files, &o, use);
	rpl_tree_files_release(&files);
	return rc;
}

/* The same with a fresh handle on the store, as each ripple run has. */
static int from_snapshot(struct rpl_plan *p, const uint8_t key[RPL_SHA256_LEN],
                         struct rpl_snapshot_use *use)
{
	struct rpl_state *st = state_open();
	int rc = from_snapshot_in(st, p, key, use);

	rpl_state_close(st);
	return rc;
}

static const struct rpl_job *find(const struct rpl_plan *p, const struct rpl_job *like)
{
	for (size_t i = 0; i < p->njobs; i++)
		if (!strcmp(p->jobs[i].node->name, like->node->name) &&
		    !strcmp(p->jobs[i].kind, like->kind) && !strcmp(p->jobs[i].arch, like->arch))
			return &p->jobs[i];
	fail_msg("no %s job '%s' for %s", like->kind, like->node->name, like->arch);
	return NULL;
}

static void hex(const uint8_t *d, char out[RPL_SHA256_HEX])
{
	rpl_hex(d, RPL_SHA256_LEN, out);
}

/* `s`, made from the snapshot, is the plan a full scan makes now. */
static void expect_same_as_scan(const struct rpl_plan *s)
{
	struct full f;
	char a[RPL_SHA256_HEX], b[RPL_SHA256_HEX];

	full_plan(&f);
	assert_int_equal(s->njobs, f.plan.njobs);
	assert_int_equal(s->norder, f.plan.norder);
	for (size_t i = 0; i < f.plan.njobs; i++) {
		const struct rpl_job *want = &f.plan.jobs[i], *got = find(s, want);
		hex(got->own, a);
		hex(want->own, b);
		assert_string_equal(a, b);
		hex(got->input, a);
		hex(want->input, b);
		assert_string_equal(a, b);
		assert_int_equal(got->selected, want->selected);
		assert_int_equal(got->ninputs, want->ninputs);
		for (size_t k = 0; k < want->ninputs; k++) {
			assert_string_equal(got->inputs[k], want->inputs[k]);
			hex(got->digests[k], a);
			hex(want->digests[k], b);
			assert_string_equal(a, b);
		}
	}
	/* The same order too. */
	for (size_t i = 0; i < f.plan.norder; i++) {
		assert_string_equal(s->order[i]->node->name, f.plan.order[i]->node->name);
		assert_string_equal(s->order[i]->kind, f.plan.order[i]->kind);
	}
	full_release(&f);
}

/* The snapshot serves the plan: counts as given, the plan as a scan's. */
static void expect_served(size_t changed, size_t jobs, size_t reparsed)
{
	struct rpl_snapshot_use use;
	struct rpl_plan p;
	uint8_t key[RPL_SHA256_LEN];
	int rc;

	default_key(key);
	rc = from_snapshot(&p, key, &use);
	if (rc != 1)
		fail_msg("the snapshot did not serve (%d): %s", rc,
		         rc < 0 ? rpl_errmsg() : use.why);
	assert_int_equal(use.changed, changed);
	assert_int_equal(use.jobs, jobs);
	assert_int_equal(use.reparsed, reparsed);
	expect_same_as_scan(&p);
	rpl_plan_release(&p);
}

/* The snapshot cannot serve, and says `why`. */
static void expect_refused(const char *why)
{
	struct rpl_snapshot_use use;
	struct rpl_plan p;
	uint8_t key[RPL_SHA256_LEN];

	default_key(key);
	assert_int_equal(from_snapshot(&p, key, &use), 0);
	assert_string_equal(use.why, why);
}

/* ---- serving ----------------------------------------------------------------------- */

static void test_no_snapshot_yet(void **state)
{
	(void)state;
	expect_refused("no snapshot yet");
}

/*
 * The snapshot is a file beside the store, and a save takes away the blob
 * an earlier ripple kept it in.
 */
static void test_saved_beside_the_store(void **state)
{
	struct rpl_state *st = state_open();
	char path[512];
	void *data;
	size_t len;

	(void)state;
	if (rpl_state_blob_put(st, "snapshot", "old", 3))
		fail_msg("%s", rpl_errmsg());
	rpl_state_close(st);
	save();
	snprintf(path, sizeof(path), "%s/.ripple/snapshot", root);
	assert_int_equal(access(path, R_OK), 0);
	st = state_open();
	assert_int_equal(rpl_state_blob_get(st, "snapshot", &data, &len), 0);
	rpl_state_close(st);
	expect_served(0, 0, 0);
}

static void test_unchanged(void **state)
{
	(void)state;
	save();
	expect_served(0, 0, 0);
	/* Served again: nothing was consumed. */
	expect_served(0, 0, 0);
}

/* A source file of app edited: app's own hash, and the input hashes of
 * what builds against it (tool) or contains it (img). */
static void test_source_edit(void **state)
{
	(void)state;
	save();
	write_file("app/main.c", "int answer = 43;\n");
	expect_served(1, 1, 0);
}

/* Same size, new mtime: the stat differs, the digest decides. */
static void test_same_size_edit(void **state)
{
	(void)state;
	save();
	write_file("lib/x.patch", "--- b\n+++ a\n");
	expect_served(1, 1, 0);
}

static void test_source_added_and_removed(void **state)
{
	(void)state;
	save();
	write_file("app/extra.c", "int more;\n");
	write_file("app/sub/deep.h", "#define X 1\n");
	remove_file("lib/x.patch");
	/* Two files added under app/, one removed from lib/: both jobs again. */
	expect_served(3, 2, 0);
}

/* An input replaced by a directory of that name: the file is gone, the
 * files in the directory are new inputs. */
static void test_input_becomes_directory(void **state)
{
	(void)state;
	save();
	remove_file("app/main.c");
	write_file("app/main.c/part.c", "int part;\n");
	expect_served(2, 1, 0);
}

/* A file that is nobody's input: no job is taken again. */
static void test_non_input_edit(void **state)
{
	(void)state;
	save();
	write_file("README", "still not an input, but longer\n");
	write_file("NOTES", "new, and under no source dir\n");
	expect_served(0, 0, 0);
}

/* A touch of a recipe and a source file, the bytes the same: no change. */
static void test_touch_is_no_change(void **state)
{
	char path[1024];

	(void)state;
	save();
	snprintf(path, sizeof(path), "%s/app.yaml", root);
	assert_int_equal(utimensat(AT_FDCWD, path, NULL, 0), 0);
	snprintf(path, sizeof(path), "%s/app/main.c", root);
	assert_int_equal(utimensat(AT_FDCWD, path, NULL, 0), 0);
	expect_served(0, 0, 0);
}

/* A recipe's script edited: parsed again, the same as far as planning
 * knows; only its job's own hash changes. */
static void test_script_edit_is_reparsed(void **state)
{
	char text[1024];

	(void)state;
	save();
	snprintf(text, sizeof(text), "%s# a comment\n", app_yaml);
	write_file("app.yaml", text);
	expect_served(1, 1, 1);
}

/* ---- refusing ---------------------------------------------------------------------- */

struct shaping {
	const char *name;
	void (*edit)(void);
	const char *why;
};

static void edit_dependency(void)
{
	write_file("app.yaml", "package:\n  name: app\n  version: 1.0.0\n  epoch: 0\n"
	                       "environment:\n  contents:\n    packages:\n      - lib-dev\n"
	                       "      - tool\n"
	                       "pipeline:\n  - runs: echo app\n");
}

static void edit_version(void)
{
	write_file("lib.yaml", "package:\n  name: lib\n  version: 1.0.1\n  epoch: 0\n"
	                       "subpackages:\n  - name: lib-dev\n"
	                       "pipeline:\n  - runs: echo lib\n");
}

static void add_recipe(void)
{
	write_file("new.yaml", "package:\n  name: new\n  version: 1.0.0\n  epoch: 0\n"
	                       "pipeline:\n  - runs: echo new\n");
}

static void remove_recipe(void)
{
	remove_file("tool.yaml");
}

static void recipe_becomes_directory(void)
{
	remove_file("tool.yaml");
	write_file("tool.yaml/README", "a directory now\n");
}

static void edit_image(void)
{
	write_file("img.apko.yaml", "contents:\n  packages:\n    - app\n    - tool\n");
}

static void add_image(void)
{
	write_file("other.apko.yaml", "contents:\n  packages:\n    - lib\n");
}

static void add_env_file(void)
{
	write_file("build-" ARCH ".env", "CFLAGS=-O2\n");
}

static void edit_config(void)
{
	write_file(".ripple.yaml", "archs: [" ARCH "]\n# edited\n");
}

static void add_pipeline(void)
{
	write_file("pipelines/local/helper.yaml", "pipeline:\n  - runs: echo helping\n");
}

static void test_shaping_edits_are_refused(void **state)
{
	static const struct shaping cases[] = {
		{ "dependency", edit_dependency, "app.yaml changed" },
		{ "version", edit_version, "lib.yaml changed" },
		{ "recipe added", add_recipe, "new.yaml was added" },
		{ "recipe removed", remove_recipe, "tool.yaml was removed" },
		{ "recipe becomes a directory", recipe_becomes_directory, "tool.yaml was removed" },
		{ "image edited", edit_image, "img.apko.yaml changed" },
		{ "image added", add_image, "other.apko.yaml was added" },
		{ "env file appears", add_env_file, "build-" ARCH ".env appeared" },
		{ "config edited", edit_config, ".ripple.yaml changed" },
		{ "pipeline added", add_pipeline, "pipelines/local/helper.yaml was added" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		print_message("case: %s\n", cases[i].name);
		if (i) {
			remove_repo(state);
			assert_int_equal(make_repo(state), 0);
		}
		save();
		cases[i].edit();
		expect_refused(cases[i].why);
	}
}

/* Made for other archs (or runner, or binary): not used. */
static void test_other_key(void **state)
{
	const char *const archs[] = { "aarch64" };
	struct rpl_snapshot_use use;
	struct rpl_plan p;
	uint8_t key[RPL_SHA256_LEN], def[RPL_SHA256_LEN], runner[RPL_SHA256_LEN];

	(void)state;
	save();
	rpl_snapshot_key(archs, 1, NULL, key);
	default_key(def);
	rpl_snapshot_key(NULL, 0, "melange", runner);
	assert_memory_not_equal(key, def, RPL_SHA256_LEN);
	assert_memory_not_equal(runner, def, RPL_SHA256_LEN);
	assert_int_equal(from_snapshot(&p, key, &use), 0);
	assert_string_equal(use.why,
	                    "the snapshot was made for other archs, another runner or ripple");
	assert_int_equal(from_snapshot(&p, runner, &use), 0);
	/* The same arguments, the same key. */
	rpl_snapshot_key(NULL, 0, NULL, key);
	assert_memory_equal(key, def, RPL_SHA256_LEN);
	expect_served(0, 0, 0);
}

/* ---- damage ------------------------------------------------------------------------ */

/* The snapshot's bytes, from .ripple/snapshot. */
static void get_blob(void **data, size_t *len)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/.ripple/snapshot", root);
	if (rpl_read_file(path, (char **)data, len))
		fail_msg("%s", rpl_errmsg());
}

/* The snapshot replaced by `data` (the store `st` stays open meanwhile). */
static void put_blob_in(struct rpl_state *st, const void *data, size_t len)
{
	char path[512];

	(void)st;
	snprintf(path, sizeof(path), "%s/.ripple/snapshot", root);
	if (rpl_write_file_atomic(path, data, len))
		fail_msg("%s", rpl_errmsg());
}

static void put_blob(const void *data, size_t len)
{
	struct rpl_state *st = state_open();

	put_blob_in(st, data, len);
	rpl_state_close(st);
}

static void test_other_format(void **state)
{
	unsigned char *blob;
	size_t len;

	(void)state;
	save();
	get_blob((void **)&blob, &len);
	/* "ripple snapshot 2" after its length: the version digit. */
	assert_int_equal(blob[4 + 16], '2');
	blob[4 + 16] = '1';
	put_blob(blob, len);
	expect_refused("the snapshot is of another format");
	free(blob);
}

/* Every prefix of a snapshot is refused, never read past its end. */
static void test_every_truncation_is_refused(void **state)
{
	uint8_t key[RPL_SHA256_LEN];
	struct rpl_snapshot_use use;
	struct rpl_plan p;
	struct rpl_state *st;
	void *blob;
	size_t len;

	(void)state;
	save();
	get_blob(&blob, &len);
	default_key(key);
	st = state_open();
	for (size_t n = 0; n < len; n++) {
		void *cut = malloc(n ? n : 1);
		assert_non_null(cut);
		memcpy(cut, blob, n);
		put_blob_in(st, cut, n);
		free(cut);
		if (from_snapshot_in(st, &p, key, &use) != 0)
			fail_msg("a snapshot cut to %zu of %zu bytes was used", n, len);
		assert_true(use.why[0] != '\0');
	}
	/* The whole blob again: served. */
	put_blob_in(st, blob, len);
	rpl_state_close(st);
	expect_served(0, 0, 0);
	free(blob);
}

/*
 * Each byte flipped in turn: the snapshot is refused or it serves a plan,
 * but never fails the plan, crashes, reads out of bounds or leaks (ASan
 * says).  A flipped hash or stat only makes a plan with other hashes, or
 * hashes a file again; a flipped path may name a directory (the root).
 */
static void test_every_flipped_byte_is_survived(void **state)
{
	uint8_t key[RPL_SHA256_LEN];
	struct rpl_snapshot_use use;
	struct rpl_plan p;
	unsigned char *blob;
	struct rpl_state *st;
	size_t len, refused = 0;

	(void)state;
	save();
	get_blob((void **)&blob, &len);
	default_key(key);
	st = state_open();
	for (size_t i = 0; i < len; i++) {
		int rc;
		blob[i] ^= 0xa5;
		put_blob_in(st, blob, len);
		blob[i] ^= 0xa5;
		rc = from_snapshot_in(st, &p, key, &use);
		if (rc < 0)
			fail_msg("byte %zu flipped: %s", i, rpl_errmsg());
		if (rc == 1)
			rpl_plan_release(&p);
		else
			refused++;
	}
	rpl_state_close(st);
	print_message("%zu of %zu flipped bytes refused\n", refused, len);
	/* The magic, the key and the string table's length at least are checked. */
	assert_true(refused >= 4 + 17 + RPL_SHA256_LEN);
	free(blob);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, make_repo, remove_repo)
		T(test_no_snapshot_yet),
		T(test_saved_beside_the_store),
		T(test_unchanged),
		T(test_source_edit),
		T(test_same_size_edit),
		T(test_source_added_and_removed),
		T(test_input_becomes_directory),
		T(test_non_input_edit),
		T(test_touch_is_no_change),
		T(test_script_edit_is_reparsed),
		T(test_shaping_edits_are_refused),
		T(test_other_key),
		T(test_other_format),
		T(test_every_truncation_is_refused),
		T(test_every_flipped_byte_is_survived),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
