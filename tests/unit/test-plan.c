/*
 * Planning: which jobs a plan selects, and why, on a small monorepo in a
 * fresh temporary directory:
 *
 *   lib     subpackage lib-dev; source dir lib/ (x.patch)
 *   app     builds against lib-dev; source dir app/
 *   tool    builds against app
 *   a, b    build against each other (a cycle); a/src.txt
 *   img     an image installing app
 *   libimg  an image installing lib-dev
 *
 * It covers staleness against the state store (never built, up to date,
 * changed, added and removed inputs, a failed build, other settings),
 * propagation to dependents and images, the Merkle input hashes (cycles
 * included), selection by name and by a list of changed files, and the
 * JSON.  Each plan gets a fresh state handle, as each ripple run would.
 */
#include "orchestrator/plan.h"
#include "common/error.h"
#include "graph/graph.h"
#include "orchestrator/gitchange.h"
#include "orchestrator/state.h"
#include "recipes/scan.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include <cmocka.h>

#include "tests/unit/testlib.h"

#define ARCH "x86_64"

/* ---- the temporary monorepo ------------------------------------------------------ */

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

/* A recipe for `name` that builds against `needs` (a NULL-terminated list). */
static void recipe(const char *name, const char *subpackage, const char *const *needs)
{
	char text[2048], file[256];
	size_t n;

	n = (size_t)snprintf(text, sizeof(text),
	                     "package:\n"
	                     "  name: %s\n"
	                     "  version: 1.0.0\n"
	                     "  epoch: 0\n",
	                     name);
	if (needs && *needs) {
		n += (size_t)snprintf(text + n, sizeof(text) - n,
		                      "environment:\n  contents:\n    packages:\n");
		for (; *needs; needs++)
			n += (size_t)snprintf(text + n, sizeof(text) - n, "      - %s\n", *needs);
	}
	if (subpackage)
		n += (size_t)snprintf(text + n, sizeof(text) - n,
		                      "subpackages:\n  - name: %s\n    pipeline:\n"
		                      "      - runs: echo sub\n",
		                      subpackage);
	snprintf(text + n, sizeof(text) - n, "pipeline:\n  - runs: echo %s\n", name);
	snprintf(file, sizeof(file), "%s.yaml", name);
	write_file(file, text);
}

static int make_repo(void **state)
{
	const char *const app_needs[] = { "lib-dev", NULL };
	const char *const tool_needs[] = { "app", NULL };
	const char *const a_needs[] = { "b", NULL };
	const char *const b_needs[] = { "a", NULL };

	(void)state;
	if (rpl_test_mkdtemp(root, sizeof(root), "plan"))
		return -1;
	write_file(".ripple.yaml", "archs: [" ARCH "]\n");
	recipe("lib", "lib-dev", NULL);
	write_file("lib/x.patch", "--- a\n+++ b\n");
	recipe("app", NULL, app_needs);
	write_file("app/main.c", "int answer = 42;\n");
	recipe("tool", NULL, tool_needs);
	write_file("tool/t.txt", "t\n");
	recipe("a", NULL, a_needs);
	write_file("a/src.txt", "a\n");
	recipe("b", NULL, b_needs);
	write_file("b/src.txt", "b\n");
	write_file("img.apko.yaml", "contents:\n  packages:\n    - app\n");
	write_file("libimg.apko.yaml", "contents:\n  packages:\n    - lib-dev\n");
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

/* A scan and the plan made from it (the plan points into the scan). */
struct run {
	struct rpl_scan scan;
	struct rpl_plan plan;
	int err; /* what rpl_plan_make returned */
};

static struct rpl_state *state_open(void)
{
	struct rpl_state *st = NULL;

	if (rpl_state_open(&st, root, 1))
		fail_msg("rpl_state_open: %s", rpl_errmsg());
	return st;
}

static void run_try(struct run *r, struct rpl_state *st, const struct rpl_plan_opts *o)
{
	struct rpl_scan_opts so = { NULL, 0, 1, 0, NULL };

	memset(r, 0, sizeof(*r));
	if (rpl_scan_run(&r->scan, root, &so))
		fail_msg("scan: %s", rpl_errmsg());
	for (size_t i = 0; i < r->scan.nentries; i++)
		if (r->scan.entries[i].error)
			fail_msg("%s", r->scan.entries[i].error);
	r->err = rpl_plan_make(&r->plan, &r->scan, st, o);
}

static void run_ok(struct run *r, struct rpl_state *st, const struct rpl_plan_opts *o)
{
	run_try(r, st, o);
	if (r->err)
		fail_msg("rpl_plan_make: %s", rpl_errmsg());
}

static void run_release(struct run *r)
{
	rpl_plan_release(&r->plan);
	rpl_scan_release(&r->scan);
}

/*
 * A staleness plan with a fresh handle on the store: `with_state` 0 plans
 * without one, 1 with one, 2 with one preloaded as `ripple plan` does.
 */
static void stale(struct run *r, int with_state, int dependents)
{
	struct rpl_plan_opts o = { 0 };
	struct rpl_state *st = with_state ? state_open() : NULL;

	if (with_state == 2 && rpl_state_preload(st))
		fail_msg("rpl_state_preload: %s", rpl_errmsg());
	o.mode = RPL_SELECT_STALE;
	o.rebuild_dependents = dependents;
	run_ok(r, st, &o);
	rpl_state_close(st);
}

/* Records every job of the repo as built from what it is now. */
static void record_all(void)
{
	struct rpl_plan_opts o = { 0 };
	struct rpl_state *st = state_open();
	struct run r;

	o.mode = RPL_SELECT_ALL;
	o.force = 1;
	run_ok(&r, st, &o);
	if (rpl_plan_record(&r.plan, st))
		fail_msg("rpl_plan_record: %s", rpl_errmsg());
	run_release(&r);
	rpl_state_close(st);
}

static struct rpl_job *job(const struct run *r, const char *name)
{
	struct rpl_job *j = rpl_plan_find(&r->plan, name, ARCH);

	if (!j)
		fail_msg("no job '%s'", name);
	return j;
}

/* The names of the selected jobs, sorted so that the order does not matter. */
static void selected(const struct run *r, char *out, size_t len)
{
	const char *names[64];
	size_t n = 0, k = 0;

	for (size_t i = 0; i < r->plan.norder && n < 64; i++)
		names[n++] = r->plan.order[i]->node->name;
	for (size_t i = 1; i < n; i++)
		for (size_t m = i; m > 0 && strcmp(names[m - 1], names[m]) > 0; m--) {
			const char *t = names[m];
			names[m] = names[m - 1];
			names[m - 1] = t;
		}
	out[0] = '\0';
	for (size_t i = 0; i < n && k < len; i++)
		k += (size_t)snprintf(out + k, len - k, "%s%s", i ? " " : "", names[i]);
}

static void expect_selected(const struct run *r, const char *want)
{
	char got[1024];

	selected(r, got, sizeof(got));
	assert_string_equal(got, want);
}

/* A job's reasons joined by "; ", or "-" when it is not selected. */
static void expect_reasons(const struct run *r, const char *name, const char *want)
{
	const struct rpl_job *j = job(r, name);
	char got[2048] = "-";
	size_t k = 0;

	if (j->selected)
		for (size_t i = 0; i < j->nreasons && k < sizeof(got); i++)
			k += (size_t)snprintf(got + k, sizeof(got) - k, "%s%s", i ? "; " : "",
			                      j->reasons[i]);
	assert_string_equal(got, want);
}

/* Where `name` is in the execution order (fails when not selected). */
static size_t position(const struct run *r, const char *name)
{
	for (size_t i = 0; i < r->plan.norder; i++)
		if (!strcmp(r->plan.order[i]->node->name, name))
			return i;
	fail_msg("'%s' is not in the order", name);
	return 0;
}

static void hex(const uint8_t *d, char out[RPL_SHA256_HEX])
{
	rpl_hex(d, RPL_SHA256_LEN, out);
}

static void expect_same_hash(const uint8_t *a, const uint8_t *b)
{
	char ha[RPL_SHA256_HEX], hb[RPL_SHA256_HEX];

	hex(a, ha);
	hex(b, hb);
	assert_string_equal(ha, hb);
}

static void expect_other_hash(const uint8_t *a, const uint8_t *b)
{
	char ha[RPL_SHA256_HEX], hb[RPL_SHA256_HEX];

	hex(a, ha);
	hex(b, hb);
	assert_string_not_equal(ha, hb);
}

#define ALL "a app b img lib libimg tool"

/* How a test that uses the store opens it (see stale()): its prestate. */
#define WITH(state) (*(state) ? *(const int *)*(state) : 1)

/* ---- (a) never built ----------------------------------------------------------------- */

static void test_default_without_records_selects_all(void **state)
{
	(void)state;
	for (int with_state = 0; with_state <= 2; with_state++) {
		struct run r;

		stale(&r, with_state, 0);
		assert_int_equal(r.plan.njobs, 7);
		expect_selected(&r, ALL);
		for (size_t i = 0; i < r.plan.njobs; i++) {
			const struct rpl_job *j = &r.plan.jobs[i];
			assert_true(j->nreasons >= 1);
			assert_string_equal(j->reasons[0], "never built");
			assert_string_equal(j->arch, ARCH);
		}
		/* The images say "never built" first, then what they contain. */
		expect_reasons(&r, "img", "never built; contains app (rebuilt)");
		expect_reasons(&r, "lib", "never built");
		assert_string_equal(job(&r, "lib")->kind, "package");
		assert_string_equal(job(&r, "img")->kind, "image");
		run_release(&r);
	}
}

/* Dependencies first; the members of a cycle together. */
static void test_order(void **state)
{
	struct run r;
	size_t pa, pb;

	(void)state;
	stale(&r, 0, 0);
	assert_int_equal(r.plan.norder, 7);
	assert_true(position(&r, "lib") < position(&r, "app"));
	assert_true(position(&r, "app") < position(&r, "tool"));
	assert_true(position(&r, "app") < position(&r, "img"));
	assert_true(position(&r, "lib") < position(&r, "libimg"));
	pa = position(&r, "a");
	pb = position(&r, "b");
	assert_int_equal(pa > pb ? pa - pb : pb - pa, 1);
	run_release(&r);
}

/* What a job reads: its recipe and its source dir, sorted. */
static void test_inputs(void **state)
{
	struct run r;
	const struct rpl_job *j;

	(void)state;
	write_file("lib/sub/y.txt", "y\n");
	stale(&r, 0, 0);
	j = job(&r, "lib");
	assert_int_equal(j->ninputs, 3);
	assert_string_equal(j->inputs[0], "lib.yaml");
	assert_string_equal(j->inputs[1], "lib/sub/y.txt");
	assert_string_equal(j->inputs[2], "lib/x.patch");
	j = job(&r, "img");
	assert_int_equal(j->ninputs, 1);
	assert_string_equal(j->inputs[0], "img.apko.yaml");
	run_release(&r);
}

/* ---- (b) recorded: nothing to do ------------------------------------------------------ */

static void test_recorded_selects_nothing(void **state)
{
	struct run r;

	record_all();
	stale(&r, WITH(state), 0);
	assert_int_equal(r.plan.njobs, 7);
	expect_selected(&r, "");
	assert_int_equal(r.plan.norder, 0);
	for (size_t i = 0; i < r.plan.njobs; i++)
		assert_int_equal(r.plan.jobs[i].recorded, 1);
	run_release(&r);

	stale(&r, WITH(state), 1);
	expect_selected(&r, "");
	run_release(&r);

	/* Without a state every job counts as never built. */
	stale(&r, 0, 0);
	expect_selected(&r, ALL);
	run_release(&r);
}

/* ---- (c) a changed source file ------------------------------------------------------- */

static void test_changed_source_selects_origin_and_images(void **state)
{
	struct run r;

	record_all();
	write_file("lib/x.patch", "--- a\n+++ b\n@@ changed\n");

	stale(&r, WITH(state), 0);
	expect_selected(&r, "lib libimg");
	expect_reasons(&r, "lib", "lib/x.patch changed");
	expect_reasons(&r, "libimg", "contains lib (rebuilt)");
	expect_reasons(&r, "app", "-");
	expect_reasons(&r, "img", "-");
	run_release(&r);

	stale(&r, WITH(state), 1);
	expect_selected(&r, "app img lib libimg tool");
	expect_reasons(&r, "lib", "lib/x.patch changed");
	expect_reasons(&r, "app", "depends on lib (rebuilt)");
	expect_reasons(&r, "tool", "depends on app (rebuilt)");
	expect_reasons(&r, "img", "contains app (rebuilt)");
	expect_reasons(&r, "libimg", "contains lib (rebuilt)");
	expect_reasons(&r, "a", "-");
	assert_true(position(&r, "lib") < position(&r, "app"));
	assert_true(position(&r, "app") < position(&r, "tool"));
	run_release(&r);
}

static void test_changed_recipe(void **state)
{
	const char *const needs[] = { "lib-dev", NULL };
	const char *const more[] = { "lib-dev", "busybox", NULL };
	struct run r;

	record_all();
	/* app's recipe gains a need that nothing in the repo provides. */
	recipe("app", NULL, more);
	stale(&r, WITH(state), 0);
	expect_selected(&r, "app img");
	expect_reasons(&r, "app", "app.yaml changed");
	expect_reasons(&r, "img", "contains app (rebuilt)");
	run_release(&r);

	/* Put back as it was: up to date again. */
	recipe("app", NULL, needs);
	stale(&r, WITH(state), 1);
	expect_selected(&r, "");
	run_release(&r);
}

/*
 * A dependency rebuilt by an earlier run while its dependents were not:
 * with --rebuild-dependents the recorded input hashes tell.
 */
static void test_dependencies_changed_since_last_build(void **state)
{
	char *const names[] = { "lib" };
	struct rpl_plan_opts o = { 0 };
	struct rpl_state *st;
	struct run r;

	record_all();
	write_file("lib/x.patch", "--- a\n+++ b\n@@ changed\n");
	o.mode = RPL_SELECT_NAMES;
	o.names = names;
	o.nnames = 1;
	st = state_open();
	run_ok(&r, st, &o);
	expect_selected(&r, "lib libimg");
	assert_int_equal(rpl_plan_record(&r.plan, st), 0);
	run_release(&r);
	rpl_state_close(st);

	stale(&r, WITH(state), 0);
	expect_selected(&r, "");
	run_release(&r);

	stale(&r, WITH(state), 1);
	expect_reasons(&r, "lib", "-");
	expect_reasons(&r, "libimg", "-");
	expect_reasons(&r, "app", "its dependencies changed since its last build");
	/* tool follows app, which is rebuilt this time: the specific reason wins. */
	expect_reasons(&r, "tool", "depends on app (rebuilt)");

	expect_reasons(&r, "a", "-");
	assert_true(job(&r, "img")->selected);
	run_release(&r);
}

static void test_failed_build_and_other_settings(void **state)
{
	struct rpl_plan_opts o = { 0 };
	struct rpl_job_record rec;
	struct rpl_state *st;
	struct run r;

	record_all();
	st = state_open();
	assert_int_equal(rpl_state_job_get(st, "tool", "package", ARCH, &rec), 1);
	snprintf(rec.status, sizeof(rec.status), "failed");
	assert_int_equal(rpl_state_job_put(st, "tool", "package", ARCH, &rec), 0);
	rpl_job_record_release(&rec);
	rpl_state_close(st);

	stale(&r, WITH(state), 0);
	expect_selected(&r, "tool");
	expect_reasons(&r, "tool", "last build failed");
	run_release(&r);

	/* Another runner: every own hash differs, and no input did. */
	record_all();
	o.mode = RPL_SELECT_STALE;
	o.runner = "docker";
	st = state_open();
	if (WITH(state) == 2)
		assert_int_equal(rpl_state_preload(st), 0);
	run_ok(&r, st, &o);
	rpl_state_close(st);
	expect_selected(&r, ALL);
	expect_reasons(&r, "lib", "build settings changed (arch, runner or ripple)");
	expect_reasons(&r, "img",
	               "build settings changed (arch, runner or ripple); "
	               "contains app (rebuilt)");
	run_release(&r);
}

/* ---- (d) Merkle hashes ------------------------------------------------------------------ */

struct hashes {
	uint8_t own[RPL_SHA256_LEN], input[RPL_SHA256_LEN];
};

enum { H_LIB, H_APP, H_TOOL, H_A, H_B, H_IMG, H_LIBIMG, H_N };
static const char *const hashed[H_N] = { "lib", "app", "tool", "a", "b", "img", "libimg" };

static void hashes_now(struct hashes *out)
{
	struct run r;

	stale(&r, 0, 0);
	for (size_t i = 0; i < H_N; i++) {
		const struct rpl_job *j = job(&r, hashed[i]);
		memcpy(out[i].own, j->own, RPL_SHA256_LEN);
		memcpy(out[i].input, j->input, RPL_SHA256_LEN);
	}
	run_release(&r);
}

static void test_merkle_hashes(void **state)
{
	struct hashes before[H_N], again[H_N], after[H_N], tool[H_N];

	(void)state;
	hashes_now(before);
	hashes_now(again);
	for (int i = 0; i < H_N; i++) {
		expect_same_hash(again[i].own, before[i].own);
		expect_same_hash(again[i].input, before[i].input);
	}

	write_file("lib/x.patch", "--- a\n+++ b\n@@ changed\n");
	hashes_now(after);
	expect_other_hash(after[H_LIB].own, before[H_LIB].own);
	expect_other_hash(after[H_LIB].input, before[H_LIB].input);
	/* app's own files did not change; what it builds against did. */
	expect_same_hash(after[H_APP].own, before[H_APP].own);
	expect_other_hash(after[H_APP].input, before[H_APP].input);
	expect_same_hash(after[H_TOOL].own, before[H_TOOL].own);
	expect_other_hash(after[H_TOOL].input, before[H_TOOL].input);
	expect_same_hash(after[H_IMG].own, before[H_IMG].own);
	expect_other_hash(after[H_IMG].input, before[H_IMG].input);
	expect_other_hash(after[H_LIBIMG].input, before[H_LIBIMG].input);
	/* Unrelated jobs keep both. */
	expect_same_hash(after[H_A].input, before[H_A].input);
	expect_same_hash(after[H_B].input, before[H_B].input);

	/* A dependent's change does not reach what it depends on. */
	write_file("tool/t.txt", "t2\n");
	hashes_now(tool);
	expect_other_hash(tool[H_TOOL].own, after[H_TOOL].own);
	expect_same_hash(tool[H_APP].input, after[H_APP].input);
	expect_same_hash(tool[H_LIB].input, after[H_LIB].input);
	expect_same_hash(tool[H_IMG].input, after[H_IMG].input);
}

/* ---- (e) a cycle ---------------------------------------------------------------------------- */

static void test_cycle_hashes(void **state)
{
	struct hashes before[H_N], after[H_N];

	(void)state;
	hashes_now(before);
	expect_other_hash(before[H_A].own, before[H_B].own);
	expect_other_hash(before[H_A].input, before[H_B].input);

	write_file("a/src.txt", "a2\n");
	hashes_now(after);
	expect_other_hash(after[H_A].own, before[H_A].own);
	expect_same_hash(after[H_B].own, before[H_B].own);
	/* b builds against a: its input hash follows a's edit. */
	expect_other_hash(after[H_B].input, before[H_B].input);
	expect_other_hash(after[H_A].input, before[H_A].input);
	expect_same_hash(after[H_LIB].input, before[H_LIB].input);

	/* And the other way round. */
	write_file("b/src.txt", "b2\n");
	hashes_now(before);
	expect_same_hash(before[H_A].own, after[H_A].own);
	expect_other_hash(before[H_A].input, after[H_A].input);
}

/* With --rebuild-dependents a cycle member's edit selects the other member. */
static void test_cycle_dependents(void **state)
{
	struct run r;

	record_all();
	write_file("a/src.txt", "a2\n");
	stale(&r, WITH(state), 0);
	expect_selected(&r, "a");
	expect_reasons(&r, "a", "a/src.txt changed");
	run_release(&r);

	stale(&r, WITH(state), 1);
	expect_selected(&r, "a b");
	expect_reasons(&r, "b", "depends on a (rebuilt)");
	run_release(&r);
}

/* ---- (f) by name --------------------------------------------------------------------------- */

static void names_plan(struct run *r, char *const *names, size_t n, int dependents)
{
	struct rpl_plan_opts o = { 0 };

	o.mode = RPL_SELECT_NAMES;
	o.names = names;
	o.nnames = n;
	o.rebuild_dependents = dependents;
	run_try(r, NULL, &o);
}

static void test_names(void **state)
{
	char *const sub[] = { "lib-dev" };
	char *const img[] = { "img" };
	char *const two[] = { "tool", "a" };
	char *const bad[] = { "tool", "nosuch" };
	struct run r;

	(void)state;
	/* A subpackage selects its origin; the image that contains it follows. */
	names_plan(&r, sub, 1, 0);
	assert_int_equal(r.err, 0);
	expect_selected(&r, "lib libimg");
	expect_reasons(&r, "lib", "never built; requested");
	expect_reasons(&r, "libimg", "contains lib (rebuilt)");
	assert_ptr_equal(rpl_plan_find(&r.plan, "lib-dev", ARCH), job(&r, "lib"));
	assert_null(rpl_plan_find(&r.plan, "lib", "aarch64"));
	run_release(&r);

	names_plan(&r, sub, 1, 1);
	assert_int_equal(r.err, 0);
	expect_selected(&r, "app img lib libimg tool");
	run_release(&r);

	names_plan(&r, img, 1, 0);
	assert_int_equal(r.err, 0);
	expect_selected(&r, "img");
	expect_reasons(&r, "img", "never built; requested");
	run_release(&r);

	names_plan(&r, two, 2, 0);
	assert_int_equal(r.err, 0);
	expect_selected(&r, "a tool");
	run_release(&r);

	names_plan(&r, bad, 2, 0);
	assert_int_equal(r.err, -RPL_ENOTFOUND);
	assert_string_equal(rpl_errmsg(), "no package or image named 'nosuch'");
	run_release(&r);
}

/*
 * NAMEs with records: an up-to-date name is left out, and nothing follows
 * it as rebuilt; an image that contains it is in scope and is selected
 * when it is stale on its own account, for that reason.  --force keeps the
 * name, and then its image follows it.
 */
static void test_names_up_to_date(void **state)
{
	char *const sub[] = { "lib-dev" };
	char *const app[] = { "app" };
	struct rpl_plan_opts o = { 0 };
	struct rpl_state *st;
	struct run r;
	char why[256];

	(void)state;
	record_all();
	o.mode = RPL_SELECT_NAMES;
	o.names = sub;
	o.nnames = 1;
	st = state_open();
	run_ok(&r, st, &o);
	expect_selected(&r, "");
	assert_int_equal(r.plan.ncandidates, 2);
	assert_int_equal(r.plan.nup_to_date, 2);
	assert_int_equal(r.plan.nstale_left, 0);
	rpl_plan_nothing(&r.plan, why, sizeof(why));
	assert_string_equal(why, "the 2 selected jobs are up to date");
	run_release(&r);

	write_file("libimg.apko.yaml", "contents:\n  packages:\n    - lib-dev\n# v2\n");
	write_file("tool/t.txt", "t2\n");
	rpl_state_close(st); /* a handle keeps the digests it took */
	st = state_open();
	run_ok(&r, st, &o);
	expect_selected(&r, "libimg");
	expect_reasons(&r, "libimg", "libimg.apko.yaml changed");
	assert_int_equal(r.plan.nup_to_date, 1);
	assert_int_equal(r.plan.nstale_left, 1);
	assert_int_equal(job(&r, "tool")->stale, 1);
	assert_int_equal(job(&r, "lib")->stale, 0);
	run_release(&r);

	o.force = 1;
	run_ok(&r, st, &o);
	expect_selected(&r, "lib libimg");
	expect_reasons(&r, "lib", "up to date, rebuilt as --force asks; requested");
	expect_reasons(&r, "libimg", "contains lib (rebuilt)");
	assert_int_equal(r.plan.nup_to_date, 0);
	run_release(&r);

	/* Up to date, with a stale job elsewhere: the plan says so. */
	o.force = 0;
	o.names = app;
	run_ok(&r, st, &o);
	expect_selected(&r, "");
	rpl_plan_nothing(&r.plan, why, sizeof(why));
	assert_string_equal(why, "the 2 selected jobs are up to date (2 jobs are stale: see "
	                         "`ripple plan`)");
	run_release(&r);
	rpl_state_close(st);
}

static void test_all(void **state)
{
	struct rpl_plan_opts o = { 0 };
	struct rpl_state *st;
	struct run r;

	(void)state;
	record_all();
	o.mode = RPL_SELECT_ALL;
	/* Without a state every job is stale: --all is the default then. */
	run_ok(&r, NULL, &o);
	expect_selected(&r, ALL);
	expect_reasons(&r, "lib", "never built");
	assert_int_equal(r.plan.mode, RPL_SELECT_STALE);
	run_release(&r);

	st = state_open();
	run_ok(&r, st, &o);
	expect_selected(&r, "");
	run_release(&r);

	o.force = 1;
	run_ok(&r, st, &o);
	expect_selected(&r, ALL);
	expect_reasons(&r, "lib", "up to date, rebuilt as --force asks");
	expect_reasons(&r, "img", "contains app (rebuilt)");
	run_release(&r);
	rpl_state_close(st);
}

/*
 * An image whose package was rebuilt in a later run than the image (the
 * image's job was interrupted) is stale, though its own inputs are the same.
 */
static void test_image_follows_a_later_build(void **state)
{
	char *const lib[] = { "lib" };
	struct rpl_plan_opts o = { 0 };
	struct rpl_state *st;
	struct run r;

	(void)state;
	record_all();
	write_file("lib/x.patch", "--- a\n+++ b\n@@ v2\n");
	/* lib alone is recorded (as a run stopped before libimg would leave it). */
	o.mode = RPL_SELECT_NAMES;
	o.names = lib;
	o.nnames = 1;
	st = state_open();
	run_ok(&r, st, &o);
	expect_selected(&r, "lib libimg");
	r.plan.norder = 1; /* lib comes first */
	assert_string_equal(r.plan.order[0]->node->name, "lib");
	if (rpl_plan_record(&r.plan, st))
		fail_msg("rpl_plan_record: %s", rpl_errmsg());
	run_release(&r);
	rpl_state_close(st);

	stale(&r, WITH(state), 0);
	expect_selected(&r, "libimg");
	expect_reasons(&r, "libimg", "packages it contains were rebuilt since its last build");
	run_release(&r);
}

/* ---- (g) added and removed inputs -------------------------------------------------------- */

static void test_inputs_added_and_removed(void **state)
{
	struct run r;

	record_all();
	write_file("lib/new.txt", "new\n");
	stale(&r, WITH(state), 0);
	expect_selected(&r, "lib libimg");
	expect_reasons(&r, "lib", "lib/new.txt added");
	run_release(&r);

	remove_file("lib/x.patch");
	stale(&r, WITH(state), 0);
	expect_reasons(&r, "lib", "lib/new.txt added; lib/x.patch removed");
	run_release(&r);

	record_all();
	remove_file("lib/new.txt");
	write_file("lib/x.patch", "back, and different\n");
	stale(&r, WITH(state), 0);
	expect_reasons(&r, "lib", "lib/new.txt removed; lib/x.patch added");
	run_release(&r);
}

/*
 * An input that cannot be read (a dangling symlink in a source dir) fails
 * the plan with its name; the message comes back from the hashing thread.
 */
static void test_unreadable_input(void **state)
{
	struct rpl_plan_opts o = { 0 };
	char link[1024];
	int with = WITH(state);

	snprintf(link, sizeof(link), "%s/app/gone.c", root);
	if (symlink("nowhere.c", link))
		fail_msg("symlink %s: %s", link, strerror(errno));
	for (int st_kind = 0; st_kind <= with; st_kind += with) {
		struct rpl_state *st = st_kind ? state_open() : NULL;
		struct run r;

		if (st_kind == 2 && rpl_state_preload(st))
			fail_msg("rpl_state_preload: %s", rpl_errmsg());
		o.mode = RPL_SELECT_STALE;
		run_try(&r, st, &o);
		assert_int_equal(r.err, -ENOENT);
		assert_string_equal(rpl_errmsg(), "'app/gone.c' disappeared while planning");
		run_release(&r);
		rpl_state_close(st);
	}
}

/*
 * An input of something that is not a job of this arch (an aarch64 image
 * whose file vanished after the scan) fails nothing, and every job after it
 * still gets its inputs and hash.
 */
static void test_unreadable_input_elsewhere(void **state)
{
	struct rpl_plan_opts o = { 0 };
	struct rpl_state *st = WITH(state) ? state_open() : NULL;
	struct run r;
	const struct rpl_job *j;

	if (WITH(state) == 2 && rpl_state_preload(st))
		fail_msg("rpl_state_preload: %s", rpl_errmsg());
	write_file("0-arm.apko.yaml", "contents:\n  packages:\n    - app\n"
	                              "archs: [aarch64]\n");
	memset(&r, 0, sizeof(r));
	if (rpl_scan_run(&r.scan, root, &(struct rpl_scan_opts){ NULL, 0, 1, 0, NULL }))
		fail_msg("scan: %s", rpl_errmsg());
	remove_file("0-arm.apko.yaml");
	o.mode = RPL_SELECT_STALE;
	if (rpl_plan_make(&r.plan, &r.scan, st, &o))
		fail_msg("rpl_plan_make: %s", rpl_errmsg());
	assert_null(rpl_plan_find(&r.plan, "0-arm", ARCH));
	j = job(&r, "tool");
	assert_int_equal(j->ninputs, 2);
	assert_string_equal(j->inputs[1], "tool/t.txt");
	expect_selected(&r, ALL);
	run_release(&r);
	rpl_state_close(st);
}

/*
 * Two archs: both graphs have every job (and an aarch64-only image only
 * the aarch64 one); an error in the second arch's graph alone (two aarch64
 * images of one name) fails the plan with its message.
 */
static void test_two_archs(void **state)
{
	struct rpl_plan_opts o = { 0 };
	struct run r;

	(void)state;
	write_file(".ripple.yaml", "archs: [" ARCH ", aarch64]\n");
	write_file("one/arm.apko.yaml", "contents:\n  packages:\n    - app\narchs: [aarch64]\n");
	o.mode = RPL_SELECT_STALE;
	run_ok(&r, NULL, &o);
	assert_int_equal(r.plan.ngraphs, 2);
	assert_non_null(rpl_plan_find(&r.plan, "tool", "aarch64"));
	assert_non_null(rpl_plan_find(&r.plan, "arm", "aarch64"));
	assert_null(rpl_plan_find(&r.plan, "arm", ARCH));
	assert_int_equal(r.plan.njobs, 2 * 7 + 1);
	run_release(&r);

	write_file("two/arm.apko.yaml", "contents:\n  packages:\n    - lib\narchs: [aarch64]\n");
	run_try(&r, NULL, &o);
	assert_int_equal(r.err, -RPL_EDUP);
	assert_string_equal(rpl_errmsg(), "two/arm.apko.yaml: another image is also named 'arm'");
	run_release(&r);
}

/* ---- changed files ------------------------------------------------------------------------ */

static void test_changed_files_from_caller(void **state)
{
	char *paths[] = { "a/src.txt", "docs/notes.yaml",       "lib/x.patch",
		          "old.yaml",  "sub/gone.melange.yaml", "web.apko.yaml" };
	char *deleted[] = { "docs/notes.yaml", "old.yaml", "sub/gone.melange.yaml",
		            "web.apko.yaml" };
	struct rpl_changes ch = { paths, 6, deleted, 4, "HEAD~1 (test)" };
	struct rpl_plan_opts o = { 0 };
	struct run r;

	(void)state;
	o.mode = RPL_SELECT_CHANGED;
	o.changes = &ch;
	run_ok(&r, NULL, &o);
	expect_selected(&r, "a lib libimg");
	expect_reasons(&r, "lib", "lib/x.patch changed");
	expect_reasons(&r, "a", "a/src.txt changed");
	expect_reasons(&r, "libimg", "contains lib (rebuilt)");
	assert_string_equal(r.plan.base, "HEAD~1 (test)");
	/* Deleted recipes and images are reported; other YAML is not. */
	assert_int_equal(r.plan.ndeleted, 3);
	assert_string_equal(r.plan.deleted[0], "old.yaml");
	assert_string_equal(r.plan.deleted[1], "sub/gone.melange.yaml");
	assert_string_equal(r.plan.deleted[2], "web.apko.yaml");
	run_release(&r);

	/* With --rebuild-dependents: b follows a, app and tool follow lib. */
	o.rebuild_dependents = 1;
	run_ok(&r, NULL, &o);
	expect_selected(&r, ALL);
	expect_reasons(&r, "b", "depends on a (rebuilt)");
	run_release(&r);
}

static void test_changed_from_git(void **state)
{
	struct rpl_plan_opts o = { 0 };
	char cmd[1024];
	struct run r;

	(void)state;
	if (system("git --version >/dev/null 2>&1"))
		rpl_test_skip("git is not installed");
	snprintf(cmd, sizeof(cmd),
	         "cd '%s' && git -c init.defaultBranch=main init -q && git add -A && "
	         "git -c user.name=t -c user.email=t@example.com -c commit.gpgsign=false "
	         "commit -qm one",
	         root);
	assert_int_equal(system(cmd), 0);
	write_file("tool/t.txt", "t2\n");

	o.mode = RPL_SELECT_CHANGED;
	o.since = "HEAD";
	run_ok(&r, NULL, &o);
	expect_selected(&r, "tool");
	expect_reasons(&r, "tool", "tool/t.txt changed");
	assert_string_equal(r.plan.base, "HEAD");
	run_release(&r);

	o.since = "no-such-ref";
	run_try(&r, NULL, &o);
	assert_int_equal(r.err, -RPL_EUSAGE);
	assert_non_null(strstr(rpl_errmsg(), "unknown revision"));
	run_release(&r);
}

/* ---- (h) JSON ---------------------------------------------------------------------------------- */

static void expect_json(const struct run *r, const char *want)
{
	json_t *j = rpl_plan_json(&r->plan);
	char *s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);

	assert_non_null(s);
	assert_string_equal(s, want);
	free(s);
	json_decref(j);
}

static void test_json(void **state)
{
	char *paths[] = { "lib/x.patch", "old.yaml" };
	char *deleted[] = { "old.yaml" };
	struct rpl_changes ch = { paths, 2, deleted, 1, "HEAD~1 (test)" };
	struct rpl_plan_opts o = { 0 };
	struct run r;

	record_all();
	stale(&r, WITH(state), 0);
	expect_json(&r, "{\"jobs\":[]}");
	run_release(&r);

	write_file("lib/x.patch", "changed\n");
	stale(&r, WITH(state), 0);
	expect_json(&r, "{\"jobs\":["
	                "{\"arch\":\"x86_64\",\"kind\":\"package\",\"name\":\"lib\","
	                "\"reasons\":[\"lib/x.patch changed\"]},"
	                "{\"arch\":\"x86_64\",\"kind\":\"image\",\"name\":\"libimg\","
	                "\"reasons\":[\"contains lib (rebuilt)\"]}]}");
	run_release(&r);

	o.mode = RPL_SELECT_CHANGED;
	o.changes = &ch;
	run_ok(&r, NULL, &o);
	expect_json(&r, "{\"base\":\"HEAD~1 (test)\",\"deleted\":[\"old.yaml\"],\"jobs\":["
	                "{\"arch\":\"x86_64\",\"kind\":\"package\",\"name\":\"lib\","
	                "\"reasons\":[\"lib/x.patch changed\"]},"
	                "{\"arch\":\"x86_64\",\"kind\":\"image\",\"name\":\"libimg\","
	                "\"reasons\":[\"contains lib (rebuilt)\"]}]}");
	run_release(&r);
}

int main(void)
{
	static const int plain = 1, preloaded = 2;
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_prestate_setup_teardown(f, make_repo, remove_repo, (void *)&plain)
#define P(f) { #f " (preloaded)", f, make_repo, remove_repo, (void *)&preloaded }
		T(test_default_without_records_selects_all),
		T(test_order),
		T(test_inputs),
		T(test_recorded_selects_nothing),
		P(test_recorded_selects_nothing),
		T(test_changed_source_selects_origin_and_images),
		P(test_changed_source_selects_origin_and_images),
		T(test_changed_recipe),
		P(test_changed_recipe),
		T(test_dependencies_changed_since_last_build),
		P(test_dependencies_changed_since_last_build),
		T(test_failed_build_and_other_settings),
		P(test_failed_build_and_other_settings),
		T(test_merkle_hashes),
		T(test_cycle_hashes),
		T(test_cycle_dependents),
		P(test_cycle_dependents),
		T(test_names),
		T(test_names_up_to_date),
		P(test_names_up_to_date),
		T(test_all),
		T(test_image_follows_a_later_build),
		P(test_image_follows_a_later_build),
		T(test_inputs_added_and_removed),
		P(test_inputs_added_and_removed),
		T(test_unreadable_input),
		P(test_unreadable_input),
		T(test_unreadable_input_elsewhere),
		P(test_unreadable_input_elsewhere),
		T(test_two_archs),
		T(test_changed_files_from_caller),
		T(test_changed_from_git),
		T(test_json),
		P(test_json),
#undef P
#undef T
	};

	/* The tests' repositories only: nothing from the caller's environment. */
	unsetenv("GIT_DIR");
	unsetenv("GIT_WORK_TREE");
	unsetenv("GIT_INDEX_FILE");
	setenv("GIT_CONFIG_NOSYSTEM", "1", 1);
	setenv("GIT_CONFIG_GLOBAL", "/dev/null", 1);
	return rpl_test_result(cmocka_run_group_tests(tests, NULL, NULL));
}
