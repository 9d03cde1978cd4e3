/*
 * Compiling recipes against a pipeline library: `uses:` lookup (repo dirs
 * before built-ins), inputs, nested uses, `if:`, needs in walk order, the
 * pipeline files a build reaches, and the compile-time variables
 * (melange's pkg/build/compile.go, pkg/build/pipelines/).  The repo pipelines live
 * in a temporary directory made by each run.
 */
#include "recipes/pipeline.h"
#include "common/error.h"
#include "common/file.h"
#include "recipes/melange.h"

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

#include <cmocka.h>

#include "tests/unit/testlib.h"

#define FILE_NAME "pkg.yaml"

/* ---- the temporary repo --------------------------------------------------- */

static char root[256];
static struct rpl_pipeline_lib lib;

static void write_file(const char *rel, const char *text)
{
	rpl_test_write_file(root, rel, text);
}

static const char outer_yaml[] = "name: outer\n"
                                 "inputs:\n"
                                 "  pkg:\n"
                                 "    description: what inner installs\n"
                                 "    default: outer-default\n"
                                 "  flag:\n"
                                 "    required: true\n"
                                 "needs:\n"
                                 "  packages:\n"
                                 "    - outer-tool\n"
                                 "pipeline:\n"
                                 "  - uses: local/inner\n"
                                 "    with:\n"
                                 "      pkg: ${{inputs.pkg}}-via-outer\n"
                                 "  - runs: echo ${{inputs.flag}} ${{ inputs.pkg }}\n";

static const char inner_yaml[] = "inputs:\n"
                                 "  pkg:\n"
                                 "    default: inner-default\n"
                                 "needs:\n"
                                 "  packages:\n"
                                 "    - ${{inputs.pkg}}\n"
                                 "pipeline:\n"
                                 "  - runs: echo inner ${{inputs.pkg}} ${{targets.contextdir}}\n";

static int setup(void **state)
{
	const char *const dirs[] = { "pipelines", "more-pipelines", "missing-dir" };
	(void)state;
	if (rpl_test_mkdtemp(root, sizeof(root), "pipeline"))
		return -1;
	write_file("pipelines/local/outer.yaml", outer_yaml);
	write_file("pipelines/local/inner.yaml", inner_yaml);
	/* Shadows the built-in fetch. */
	write_file("pipelines/fetch.yaml", "inputs:\n"
	                                   "  uri:\n"
	                                   "    required: true\n"
	                                   "  expected-sha256: {}\n"
	                                   "needs:\n"
	                                   "  packages:\n"
	                                   "    - my-fetcher\n"
	                                   "pipeline:\n"
	                                   "  - runs: myfetch ${{inputs.uri}}\n");
	write_file("pipelines/tests/check.yaml", "needs:\n"
	                                         "  packages:\n"
	                                         "    - checker\n"
	                                         "runs: check ${{context.name}}\n");
	/* Definitions with no needs, an empty `needs:` mapping and a null one. */
	write_file("pipelines/plain.yaml", "inputs:\n"
	                                   "  pkg:\n"
	                                   "    default: dflt\n"
	                                   "runs: plain ${{inputs.pkg}}\n");
	write_file("pipelines/needs-empty.yaml", "needs: {}\nruns: needs-empty\n");
	write_file("pipelines/needs-null.yaml", "needs:\nruns: needs-null\n");
	write_file("pipelines/noruns.yaml", "needs:\n  packages: [noruns-tool]\n");
	write_file("pipelines/broken.yaml", "pipeline: [\n");
	write_file("pipelines/desc.yaml", "runs: echo ${{package.description}}\n");
	write_file("pipelines/loop.yaml", "pipeline:\n  - uses: loop\n");
	write_file("pipelines/badnested.yaml",
	           "pipeline:\n  - runs: echo ok\n  - runs: echo ${{vars.nope}}\n");
	write_file("pipelines/usesmissing.yaml", "pipeline:\n  - uses: does/not-exist\n");
	/* Unknown keys are tolerated in definition files, as yaml.Unmarshal does. */
	write_file("pipelines/lenient.yaml", "frobnicate: yes\nruns: ok\n");
	write_file("pipelines/README.md", "not a pipeline\n");
	/* The first dir listed wins over a later one. */
	write_file("more-pipelines/local/inner.yaml", "runs: shadowed\n");
	write_file("more-pipelines/extra.yaml", "runs: extra\n");
	/* fan/p1 is ten uses of fan/p2, ... down to fan/p6: 111,111 steps. */
	for (int k = 1; k <= 6; k++) {
		char rel[64], text[512];
		int n = 0;

		snprintf(rel, sizeof(rel), "pipelines/fan/p%d.yaml", k);
		if (k == 6)
			snprintf(text, sizeof(text), "runs: leaf\n");
		else
			for (int i = 0, m = snprintf(text, sizeof(text), "pipeline:\n"); i < 10;
			     i++)
				m += n = snprintf(text + m, sizeof(text) - (size_t)m,
				                  "  - uses: fan/p%d\n", k + 1);
		(void)n;
		write_file(rel, text);
	}
	return rpl_pipeline_lib_init(&lib, root, dirs, 3);
}

static int teardown(void **state)
{
	(void)state;
	rpl_pipeline_lib_release(&lib);
	rpl_test_remove_tree(root);
	return 0;
}

/* ---- helpers -------------------------------------------------------------- */

static struct rpl_recipe *recipe(const char *text)
{
	struct rpl_recipe *r = rpl_recipe_parse(FILE_NAME, text, strlen(text));

	if (!r)
		fail_msg("parsing: %s", rpl_errmsg());
	return r;
}

static void compile_ok(const struct rpl_recipe *r, const char *arch, unsigned flags,
                       struct rpl_compiled *c)
{
	if (rpl_compile(r, &lib, arch, flags, c))
		fail_msg("compiling for %s: %s", arch, rpl_errmsg());
}

/* Compiles `text` for x86_64 and expects exactly `want`. */
static void expect_compile_error(const char *text, const char *arch, const char *want)
{
	struct rpl_recipe *r = recipe(text);
	struct rpl_compiled c;
	int err;

	rpl_error_clear();
	err = rpl_compile(r, &lib, arch, RPL_COMPILE_STEPS, &c);
	rpl_compiled_release(&c);
	rpl_recipe_free(r);
	if (!err)
		fail_msg("compiled for %s, want the error \"%s\"", arch, want);
	assert_string_equal(rpl_errmsg(), want);
}

/*
 * For errors inside a definition file: the message must point at the
 * recipe's step (`prefix`, its file:line:), name the definition file, and
 * end with `suffix`.
 */
static int expect_compile_error_in(const char *text, const char *prefix, const char *def_file,
                                   const char *suffix)
{
	struct rpl_recipe *r = recipe(text);
	struct rpl_compiled c;
	const char *msg;
	size_t len;
	int err;

	rpl_error_clear();
	err = rpl_compile(r, &lib, "x86_64", RPL_COMPILE_STEPS, &c);
	rpl_compiled_release(&c);
	rpl_recipe_free(r);
	if (!err) {
		print_error("compiled, want an error ending \"%s\"\n", suffix);
		return 1;
	}
	msg = rpl_errmsg();
	len = strlen(msg);
	if (strncmp(msg, prefix, strlen(prefix)) || !strstr(msg, def_file) ||
	    len < strlen(suffix) || strcmp(msg + len - strlen(suffix), suffix)) {
		print_error("message \"%s\": want it to start \"%s\", name %s and end \"%s\"\n",
		            msg, prefix, def_file, suffix);
		return 1;
	}
	return 0;
}

struct want_need {
	const char *name, *via, *subpackage;
};

static void check_needs(const struct rpl_need *got, size_t n, const struct want_need *want,
                        size_t nwant)
{
	for (size_t i = 0; i < n || i < nwant; i++) {
		if (i >= n)
			fail_msg("need %zu: missing, want %s via %s", i, want[i].name, want[i].via);
		if (i >= nwant)
			fail_msg("need %zu: unexpected %s via %s", i, got[i].name, got[i].via);
		if (strcmp(got[i].name, want[i].name) || strcmp(got[i].via, want[i].via))
			fail_msg("need %zu: %s via %s, want %s via %s", i, got[i].name, got[i].via,
			         want[i].name, want[i].via);
		if (!want[i].subpackage)
			assert_null(got[i].subpackage);
		else if (!got[i].subpackage || strcmp(got[i].subpackage, want[i].subpackage))
			fail_msg("need %zu (%s): subpackage %s, want %s", i, got[i].name,
			         got[i].subpackage ? got[i].subpackage : "(none)",
			         want[i].subpackage);
	}
}

#define NWANT(a) (sizeof(a) / sizeof(*(a)))

static const char main_recipe[] =
        "package:\n"
        "  name: hello\n"
        "  version: 1.0.0\n"
        "  epoch: 2\n"
        "environment:\n"
        "  contents:\n"
        "    packages:\n"
        "      - build-base\n"
        "      - busybox\n"
        "pipeline:\n"
        "  - uses: local/outer\n"
        "    with:\n"
        "      flag: yes-please\n"
        "  - uses: fetch\n"
        "    with:\n"
        "      uri: https://example.com/${{package.name}}-${{package.version}}.tar.gz\n"
        "  - if: ${{build.arch}} == 'aarch64'\n"
        "    runs: echo arm only\n"
        "    needs:\n"
        "      packages:\n"
        "        - arm-tool\n"
        "    pipeline:\n"
        "      - runs: nested\n"
        "        needs:\n"
        "          packages: [arm-nested]\n"
        "  - uses: strip\n"
        "  - name: inline\n"
        "    runs: echo ${{host.triplet.gnu}} ${{targets.contextdir}} ${{build.goarch}}\n"
        "    needs:\n"
        "      packages:\n"
        "        - inline-tool\n"
        "subpackages:\n"
        "  - name: hello-dev\n"
        "    if: ${{build.arch}} == 'x86_64'\n"
        "    pipeline:\n"
        "      - uses: local/inner\n"
        "      - runs: echo ${{targets.contextdir}} ${{targets.subpkgdir}} ${{subpkg.name}} "
        "${{context.name}}\n"
        "    test:\n"
        "      pipeline:\n"
        "        - runs: test-dev\n"
        "          needs:\n"
        "            packages: [dev-tester]\n"
        "test:\n"
        "  environment:\n"
        "    contents:\n"
        "      packages: [test-base]\n"
        "  pipeline:\n"
        "    - uses: tests/check\n"
        "    - runs: x\n"
        "      needs:\n"
        "        packages: [test-inline]\n";

/* ---- the library ---------------------------------------------------------- */

static void test_lib_lookup(void **state)
{
	const struct rpl_pipeline_def *d;

	(void)state;
	d = rpl_pipeline_lib_find(&lib, "fetch");
	assert_non_null(d);
	assert_int_equal(d->builtin, 0);
	assert_string_equal(d->file, "pipelines/fetch.yaml");
	d = rpl_pipeline_lib_find(&lib, "strip");
	assert_non_null(d);
	assert_int_equal(d->builtin, 1);
	assert_string_equal(d->file, "builtin:strip");
	d = rpl_pipeline_lib_find(&lib, "go/build");
	assert_non_null(d);
	assert_int_equal(d->builtin, 1);
	d = rpl_pipeline_lib_find(&lib, "local/inner");
	assert_non_null(d);
	assert_string_equal(d->file, "pipelines/local/inner.yaml");
	assert_int_equal(d->step.ninputs, 1);
	assert_string_equal(d->step.inputs[0].var, "inputs.pkg");
	assert_string_equal(d->step.inputs[0].default_value.s, "inner-default");
	d = rpl_pipeline_lib_find(&lib, "extra");
	assert_non_null(d);
	assert_string_equal(d->file, "more-pipelines/extra.yaml");
	d = rpl_pipeline_lib_find(&lib, "lenient");
	assert_non_null(d);
	assert_null(d->error);
	assert_string_equal(d->step.runs.s, "ok");
	d = rpl_pipeline_lib_find(&lib, "broken");
	assert_non_null(d);
	assert_non_null(d->error);
	assert_null(rpl_pipeline_lib_find(&lib, "README"));
	assert_null(rpl_pipeline_lib_find(&lib, "README.md"));
	assert_null(rpl_pipeline_lib_find(&lib, "local"));
	assert_null(rpl_pipeline_lib_find(&lib, "nope"));
	assert_null(rpl_pipeline_lib_find(&lib, ""));
	/* Sorted by name, a repo file before the built-in of the same name. */
	for (size_t i = 1; i < lib.ndefs; i++) {
		int c = strcmp(lib.defs[i - 1].name, lib.defs[i].name);
		assert_true(c < 0 || (c == 0 && lib.defs[i - 1].builtin <= lib.defs[i].builtin));
	}
}

/* ---- needs ---------------------------------------------------------------- */

static void test_needs_x86_64(void **state)
{
	struct rpl_recipe *r = recipe(main_recipe);
	struct rpl_compiled c;
	static const struct want_need want[] = {
		{ "build-base", "environment", NULL },
		{ "busybox", "environment", NULL },
		{ "outer-tool", "local/outer", NULL },
		/* inner's `with` resolved in outer's scope, where inputs.pkg is its default. */
		{ "outer-default-via-outer", "local/inner", NULL },
		{ "my-fetcher", "fetch", NULL },
		/* the aarch64-only step and its children are skipped */
		{ "binutils", "strip", NULL },
		{ "scanelf", "strip", NULL },
		{ "inline-tool", "inline", NULL },
		{ "inner-default", "local/inner", "hello-dev" },
	};
	/* melange installs the package under test first, then the test env. */
	static const struct want_need want_test[] = {
		{ "hello", "test", NULL },
		{ "test-base", "environment", NULL },
		{ "checker", "tests/check", NULL },
		{ "test-inline", "pipeline", NULL },
		{ "hello-dev", "test", "hello-dev" },
		{ "dev-tester", "pipeline", "hello-dev" },
	};

	(void)state;
	compile_ok(r, "x86_64", 0, &c);

	assert_string_equal(c.arch, "x86_64");
	check_needs(c.needs, c.nneeds, want, NWANT(want));
	check_needs(c.test_needs, c.ntest_needs, want_test, NWANT(want_test));
	/* Repo files reached, sorted and unique (inner is used twice); built-ins are not files. */
	assert_int_equal(c.npipeline_files, 3);
	assert_string_equal(c.pipeline_files[0], "pipelines/fetch.yaml");
	assert_string_equal(c.pipeline_files[1], "pipelines/local/inner.yaml");
	assert_string_equal(c.pipeline_files[2], "pipelines/local/outer.yaml");
	assert_int_equal(c.ntest_pipeline_files, 1);
	assert_string_equal(c.test_pipeline_files[0], "pipelines/tests/check.yaml");
	/* Without RPL_COMPILE_STEPS only the needs are kept. */
	assert_null(c.steps);
	assert_int_equal(c.nsteps, 0);
	assert_int_equal(c.nsubs, 1);
	assert_string_equal(c.subs[0].name, "hello-dev");
	assert_int_equal(c.subs[0].enabled, 1);
	assert_null(c.subs[0].steps);
	rpl_compiled_release(&c);
	rpl_recipe_free(r);
}

static void test_needs_aarch64(void **state)
{
	struct rpl_recipe *r = recipe(main_recipe);
	struct rpl_compiled c;
	static const struct want_need want[] = {
		{ "build-base", "environment", NULL },
		{ "busybox", "environment", NULL },
		{ "outer-tool", "local/outer", NULL },
		{ "outer-default-via-outer", "local/inner", NULL },
		{ "my-fetcher", "fetch", NULL },
		{ "arm-tool", "pipeline", NULL },
		{ "arm-nested", "pipeline", NULL },
		{ "binutils", "strip", NULL },
		{ "scanelf", "strip", NULL },
		{ "inline-tool", "inline", NULL },
		/* A disabled subpackage's needs still count, as in melange. */
		{ "inner-default", "local/inner", "hello-dev" },
	};

	(void)state;
	compile_ok(r, "aarch64", RPL_COMPILE_STEPS, &c);
	check_needs(c.needs, c.nneeds, want, NWANT(want));
	assert_int_equal(c.subs[0].enabled, 0);
	assert_int_equal(c.nsteps, 5);
	assert_int_equal(c.steps[2].skipped, 0);
	assert_string_equal(c.steps[2].if_, "\"aarch64\" == 'aarch64'");
	assert_string_equal(c.steps[2].runs, "echo arm only");
	assert_string_equal(c.steps[4].runs,
	                    "echo aarch64-unknown-linux-gnu /home/build/melange-out/hello arm64");
	rpl_compiled_release(&c);
	rpl_recipe_free(r);
}

/* ---- compiled steps ------------------------------------------------------- */

static void test_compiled_steps(void **state)
{
	struct rpl_recipe *r = recipe(main_recipe);
	struct rpl_compiled c;
	const struct rpl_cstep *outer, *inner, *s;
	const struct rpl_kv *kv;

	(void)state;
	compile_ok(r, "x86_64", RPL_COMPILE_STEPS, &c);
	assert_int_equal(c.nsteps, 5);

	outer = &c.steps[0];
	assert_string_equal(outer->uses, "local/outer");
	assert_string_equal(outer->pipeline_file, "pipelines/local/outer.yaml");
	/* Every declared input, given or defaulted. */
	assert_int_equal(outer->with.n, 2);
	kv = rpl_kvlist_get(&outer->with, "pkg");
	assert_non_null(kv);
	assert_string_equal(kv->val.s, "outer-default");
	kv = rpl_kvlist_get(&outer->with, "flag");
	assert_non_null(kv);
	assert_string_equal(kv->val.s, "yes-please");
	assert_int_equal(outer->needs.n, 1);
	assert_string_equal(outer->needs.v[0].s, "outer-tool");
	assert_int_equal(outer->nsteps, 2);
	inner = &outer->steps[0];
	assert_string_equal(inner->uses, "local/inner");
	assert_string_equal(rpl_kvlist_get(&inner->with, "pkg")->val.s, "outer-default-via-outer");
	assert_int_equal(inner->nsteps, 1);
	assert_string_equal(inner->steps[0].runs,
	                    "echo inner outer-default-via-outer /home/build/melange-out/hello");
	/* A nested plain step sees the enclosing definition's inputs. */
	assert_string_equal(outer->steps[1].runs, "echo yes-please outer-default");

	s = &c.steps[1];
	assert_string_equal(s->uses, "fetch");
	assert_string_equal(s->pipeline_file, "pipelines/fetch.yaml");
	assert_string_equal(s->steps[0].runs, "myfetch https://example.com/hello-1.0.0.tar.gz");

	/* The aarch64-only step: skipped, its condition kept as substituted. */
	s = &c.steps[2];
	assert_int_equal(s->skipped, 1);
	assert_string_equal(s->if_, "\"x86_64\" == 'aarch64'");

	s = &c.steps[3];
	assert_string_equal(s->uses, "strip");
	assert_string_equal(s->pipeline_file, "builtin:strip");
	assert_string_equal(rpl_kvlist_get(&s->with, "opts")->val.s, "-g");

	s = &c.steps[4];
	assert_string_equal(s->name, "inline");
	assert_null(s->uses);
	assert_string_equal(s->runs,
	                    "echo x86_64-pc-linux-gnu /home/build/melange-out/hello amd64");

	/* Subpackage context: contextdir is the subpackage's dir. */
	assert_int_equal(c.nsubs, 1);
	assert_int_equal(c.subs[0].nsteps, 2);
	assert_string_equal(c.subs[0].steps[0].steps[0].runs,
	                    "echo inner inner-default /home/build/melange-out/hello-dev");
	assert_string_equal(
	        c.subs[0].steps[1].runs,
	        "echo /home/build/melange-out/hello-dev /home/build/melange-out/hello-dev "
	        "hello-dev hello-dev");
	rpl_compiled_release(&c);
	rpl_recipe_free(r);
}

/* The compile-time map (melange's compile.go). */
static void test_compile_variables(void **state)
{
	struct rpl_recipe *r = recipe(
	        "package:\n"
	        "  name: hello\n"
	        "  version: 1.0.0\n"
	        "  epoch: 2\n"
	        "vars:\n"
	        "  a: one\n"
	        "  b: ${{vars.a}}-two\n"
	        "var-transforms:\n"
	        "  - from: ${{package.version}}\n"
	        "    match: ^(\\d+)\\..*\n"
	        "    replace: $1\n"
	        "    to: major\n"
	        "options:\n"
	        "  fips:\n"
	        "    vars: {x: y}\n"
	        "pipeline:\n"
	        "  - runs: |\n"
	        "      ${{package.name}} ${{package.version}} ${{package.epoch}}\n"
	        "      ${{package.full-version}} ${{package.srcdir}}\n"
	        "      ${{targets.outdir}} ${{targets.destdir}} ${{targets.contextdir}}\n"
	        "      ${{targets.package.hello}} ${{targets.package.hello-doc}}\n"
	        "      ${{context.name}} ${{ vars.b }} ${{ vars.major }} ${{options.fips.enabled}}\n"
	        "      ${{host.triplet.rust}} ${{cross.triplet.gnu.glibc}} ${{cross.triplet.gnu.musl}}\n"
	        "      ${{cross.triplet.rust.glibc}} ${{cross.triplet.rust.musl}}\n"
	        "    working-directory: ${{targets.destdir}}/sub\n"
	        "subpackages:\n"
	        "  - name: hello-doc\n");
	struct rpl_compiled c;

	(void)state;
	compile_ok(r, "x86_64", RPL_COMPILE_STEPS, &c);
	assert_string_equal(c.steps[0].runs,
	                    "hello 1.0.0 2\n"
	                    "1.0.0-r2 /home/build\n"
	                    "/home/build/melange-out /home/build/melange-out/hello "
	                    "/home/build/melange-out/hello\n"
	                    "/home/build/melange-out/hello /home/build/melange-out/hello-doc\n"
	                    "hello one-two 1 false\n"
	                    "x86_64-unknown-linux-gnu x86_64-pc-linux-gnu x86_64-pc-linux-musl\n"
	                    "x86_64-unknown-linux-gnu x86_64-unknown-linux-musl\n");
	assert_string_equal(c.steps[0].working_directory, "/home/build/melange-out/hello/sub");
	rpl_compiled_release(&c);
	rpl_recipe_free(r);
}

static void test_triplets(void **state)
{
	(void)state;
	assert_string_equal(rpl_arch_triplet("x86_64", 0, 0), "x86_64-pc-linux-gnu");
	assert_string_equal(rpl_arch_triplet("aarch64", 0, 0), "aarch64-unknown-linux-gnu");
	assert_string_equal(rpl_arch_triplet("x86_64", 1, 0), "x86_64-unknown-linux-gnu");
	assert_string_equal(rpl_arch_triplet("aarch64", 1, 0), "aarch64-unknown-linux-gnu");
	assert_string_equal(rpl_arch_triplet("x86_64", 0, 1), "x86_64-pc-linux-musl");
	assert_string_equal(rpl_arch_triplet("aarch64", 1, 1), "aarch64-unknown-linux-musl");
	assert_null(rpl_arch_triplet("sparc", 0, 0));
	assert_string_equal(rpl_arch_goarch("x86_64"), "amd64");
	assert_string_equal(rpl_arch_goarch("aarch64"), "arm64");
	assert_null(rpl_arch_goarch("amd64"));
}

static void test_host_triplet_in_pipeline(void **state)
{
	struct rpl_recipe *r = recipe("package:\n"
	                              "  name: hello\n"
	                              "  version: 1\n"
	                              "pipeline:\n"
	                              "  - uses: autoconf/configure\n");
	struct rpl_compiled c;

	(void)state;
	compile_ok(r, "x86_64", RPL_COMPILE_STEPS, &c);
	/* Built-in defaults that refer to variables are resolved. */
	assert_string_equal(rpl_kvlist_get(&c.steps[0].with, "host")->val.s, "x86_64-pc-linux-gnu");
	rpl_compiled_release(&c);
	compile_ok(r, "aarch64", RPL_COMPILE_STEPS, &c);
	assert_string_equal(rpl_kvlist_get(&c.steps[0].with, "host")->val.s,
	                    "aarch64-unknown-linux-gnu");
	rpl_compiled_release(&c);
	rpl_recipe_free(r);
}

/* go/build needs ${{inputs.go-package}}: substituted with the input's value. */
static void test_needs_from_inputs(void **state)
{
	struct rpl_recipe *r = recipe("package:\n"
	                              "  name: hello\n"
	                              "  version: 1\n"
	                              "pipeline:\n"
	                              "  - uses: go/build\n"
	                              "    with:\n"
	                              "      packages: ./cmd/hello\n"
	                              "      output: hello\n"
	                              "      go-package: go-1.22\n");
	struct rpl_compiled c;

	(void)state;
	compile_ok(r, "x86_64", 0, &c);
	assert_true(c.nneeds >= 1);
	assert_string_equal(c.needs[0].name, "go-1.22");
	assert_string_equal(c.needs[0].via, "go/build");
	rpl_compiled_release(&c);
	rpl_recipe_free(r);
}

/* ---- errors --------------------------------------------------------------- */

#define HEAD                 \
	"package:\n"         \
	"  name: hello\n"    \
	"  version: 1.0.0\n" \
	"pipeline:\n"

static void test_input_errors(void **state)
{
	(void)state;
	expect_compile_error(HEAD "  - uses: local/outer\n", "x86_64",
	                     FILE_NAME ":5:11: required input 'flag' for pipeline 'local/outer' is "
	                               "missing");
	expect_compile_error(HEAD "  - uses: local/outer\n"
	                          "    with:\n"
	                          "      flag: x\n"
	                          "      nope: y\n",
	                     "x86_64",
	                     FILE_NAME ":8:7: undefined input 'nope' to pipeline 'local/outer'");
	expect_compile_error(HEAD "  - uses: fetch\n"
	                          "    with:\n"
	                          "      uri: x\n"
	                          "      expected-sha256: abc\n",
	                     "x86_64",
	                     FILE_NAME ":8:24: expected-sha256 must be 64 hexadecimal characters");
	expect_compile_error(HEAD "  - uses: local/outer\n"
	                          "    with:\n"
	                          "      flag: ${{vars.nope}}\n",
	                     "x86_64", FILE_NAME ":7:13: input: variable 'vars.nope' not defined");
}

static void test_lookup_errors(void **state)
{
	(void)state;
	expect_compile_error(HEAD "  - uses: nope/nope\n", "x86_64",
	                     FILE_NAME
	                     ":5:11: unknown pipeline 'nope/nope' (not in the repository's "
	                     "pipeline dirs nor built in)");
	/* The definition's own error, whatever libyaml says, after the recipe's position. */
	{
		struct rpl_recipe *r = recipe(HEAD "  - uses: broken\n");
		struct rpl_compiled c;
		const char *want =
		        FILE_NAME ":5:11: pipeline 'broken' is invalid: pipelines/broken.yaml:";

		assert_int_not_equal(rpl_compile(r, &lib, "x86_64", 0, &c), 0);
		rpl_compiled_release(&c);
		rpl_recipe_free(r);
		if (strncmp(rpl_errmsg(), want, strlen(want)))
			fail_msg("message \"%s\", want a prefix \"%s\"", rpl_errmsg(), want);
	}
}

/*
 * Errors found inside a definition file point at the recipe step that uses
 * it and name the file, not a line of the definition read as if it were the
 * recipe's ("pkg.yaml:2:11:" for loop.yaml's line 2, or "pkg.yaml:1:1:").
 */
static void test_errors_inside_definitions(void **state)
{
	int failed = 0;

	(void)state;
	failed += expect_compile_error_in(
	        HEAD "  - runs: x\n  - uses: loop\n", FILE_NAME ":6:", "pipelines/loop.yaml",
	        "pipeline 'loop' nests 'uses' more than 32 deep (a cycle?)");
	failed += expect_compile_error_in(HEAD "  - runs: x\n  - uses: badnested\n",
	                                  FILE_NAME ":6:", "pipelines/badnested.yaml",
	                                  "runs: variable 'vars.nope' not defined");
	failed += expect_compile_error_in(HEAD "  - runs: x\n  - uses: usesmissing\n",
	                                  FILE_NAME ":6:", "pipelines/usesmissing.yaml",
	                                  "unknown pipeline 'does/not-exist' (not in the "
	                                  "repository's pipeline dirs nor built in)");
	assert_int_equal(failed, 0);
}

static void test_substitution_errors(void **state)
{
	struct rpl_recipe *r;
	struct rpl_compiled c;
	const char *msg, *first;

	(void)state;
	/* Errors point at the text that failed. */
	expect_compile_error(HEAD "  - runs: echo ok\n"
	                          "  - name: second\n"
	                          "    runs: echo ${{vars.nope}}\n",
	                     "x86_64", FILE_NAME ":7:11: runs: variable 'vars.nope' not defined");
	/* package.description exists at parse time only; the message leads from
	 * the recipe's `uses:` into the definition. */
	expect_compile_error(HEAD "  - uses: desc\n", "x86_64",
	                     FILE_NAME ":5:11: in pipelines/desc.yaml:1:7: runs: variable "
	                               "'package.description' not defined");
	/* targets.subpkgdir exists in subpackage context only. */
	expect_compile_error(HEAD "  - runs: ${{targets.subpkgdir}}\n", "x86_64",
	                     FILE_NAME ":5:11: runs: variable 'targets.subpkgdir' not defined");
	expect_compile_error(HEAD "  - runs: x\n"
	                          "    needs:\n"
	                          "      packages: ['${{ inputs.pkg }}']\n",
	                     "x86_64", FILE_NAME ":7:18: needs: variable 'inputs.pkg' not defined");
	expect_compile_error(HEAD "  - runs: x\n"
	                          "    if: ${{ nope }} == 'x'\n",
	                     "x86_64", FILE_NAME ":6:9: if: variable 'nope' not defined");
	expect_compile_error(HEAD "  - runs: x\n"
	                          "    working-directory: /${{nope}}\n",
	                     "x86_64",
	                     FILE_NAME ":6:24: working-directory: variable 'nope' not defined");
	/* A var that refers to package.* is undefined at compile time. */
	expect_compile_error("package:\n  name: hello\n  version: 1\n"
	                     "vars:\n  v: ${{package.name}}\n",
	                     "x86_64",
	                     FILE_NAME ":5:6: vars.v: variable 'package.name' not defined");
	expect_compile_error(HEAD "  - runs: x\n", "sparc", "unknown architecture 'sparc'");

	/* A condition that does not parse: at the `if:`, named once. */
	r = recipe(HEAD "  - runs: x\n"
	                "    if: ${{build.arch}} = 'x'\n");
	rpl_error_clear();
	assert_int_not_equal(rpl_compile(r, &lib, "x86_64", 0, &c), 0);
	rpl_compiled_release(&c);
	rpl_recipe_free(r);
	msg = rpl_errmsg();
	first = strstr(msg, "cannot parse condition");
	if (strncmp(msg, FILE_NAME ":6:9: cannot parse condition '", 33) ||
	    !strstr(msg, "expected == or !=") || !first ||
	    strstr(first + 1, "cannot parse condition"))
		fail_msg("message \"%s\": want \"" FILE_NAME ":6:9: cannot parse condition '...': "
		         "expected == or != ...\", the condition named once",
		         msg);
}

/*
 * melange substitutes runs, needs and working-directory of every step and
 * only then decides, when gathering needs, to skip a step whose `if:` is
 * false (compile.go: compilePipeline, then gatherDeps).  An undefined
 * variable in a step skipped on this arch is still an error.
 */
static void test_skipped_step_still_compiled(void **state)
{
	(void)state;
	expect_compile_error(HEAD "  - if: ${{build.arch}} == 'aarch64'\n"
	                          "    runs: echo ${{vars.nope}}\n",
	                     "x86_64", FILE_NAME ":6:11: runs: variable 'vars.nope' not defined");
	expect_compile_error(HEAD "  - if: ${{build.arch}} == 'aarch64'\n"
	                          "    runs: echo ok\n"
	                          "    pipeline:\n"
	                          "      - runs: echo ${{vars.nope}}\n",
	                     "x86_64", FILE_NAME ":8:15: runs: variable 'vars.nope' not defined");
}

/* A `uses:` step with its own `pipeline:` is taken as already compiled. */
static void test_uses_with_pipeline_not_loaded(void **state)
{
	struct rpl_recipe *r = recipe(HEAD "  - uses: nope/not-loaded\n"
	                                   "    pipeline:\n"
	                                   "      - runs: inline\n"
	                                   "        needs:\n"
	                                   "          packages: [inline-need]\n");
	struct rpl_compiled c;

	(void)state;
	compile_ok(r, "x86_64", RPL_COMPILE_STEPS, &c);
	assert_int_equal(c.nneeds, 1);
	assert_string_equal(c.needs[0].name, "inline-need");
	assert_null(c.steps[0].pipeline_file);
	assert_int_equal(c.npipeline_files, 0);
	rpl_compiled_release(&c);
	rpl_recipe_free(r);
}

/* The step's own if and working-directory survive loading its definition. */
static void test_step_overrides(void **state)
{
	struct rpl_recipe *r = recipe(HEAD "  - uses: tests/check\n"
	                                   "    working-directory: /w\n"
	                                   "    if: ${{build.arch}} != 'x86_64'\n"
	                                   "  - uses: tests/check\n"
	                                   "    name: named\n");
	struct rpl_compiled c;

	(void)state;
	compile_ok(r, "x86_64", RPL_COMPILE_STEPS, &c);
	assert_int_equal(c.steps[0].skipped, 1);
	assert_int_equal(c.steps[1].skipped, 0);
	assert_string_equal(c.steps[1].name, "named");
	assert_string_equal(c.steps[1].runs, "check hello");
	/* The skipped step's pipeline is still one the build reads. */
	assert_int_equal(c.nneeds, 1);
	assert_string_equal(c.needs[0].name, "checker");
	rpl_compiled_release(&c);
	compile_ok(r, "aarch64", RPL_COMPILE_STEPS, &c);
	assert_int_equal(c.steps[0].skipped, 0);
	assert_string_equal(c.steps[0].working_directory, "/w");
	assert_int_equal(c.nneeds, 2);
	rpl_compiled_release(&c);
	rpl_recipe_free(r);
}

/*
 * melange decodes a definition onto its `uses:` step: the step's own
 * needs.packages stay unless the definition sets `needs.packages` (or a
 * null `needs:`), and are substituted with the step's inputs.
 */
static void test_step_needs_merge(void **state)
{
	struct rpl_recipe *r = recipe(HEAD "  - uses: plain\n"
	                                   "    with: {pkg: zlib}\n"
	                                   "    needs:\n"
	                                   "      packages:\n"
	                                   "        - own-${{inputs.pkg}}\n"
	                                   "        - cmake\n"
	                                   "  - uses: needs-empty\n"
	                                   "    needs: {packages: [kept]}\n"
	                                   "  - uses: needs-null\n"
	                                   "    needs: {packages: [cleared]}\n"
	                                   "  - uses: tests/check\n"
	                                   "    needs: {packages: [replaced]}\n"
	                                   "  - uses: plain\n"
	                                   "    if: ${{build.arch}} == 'aarch64'\n"
	                                   "    needs: {packages: [only-on-arm]}\n");
	static const struct want_need want[] = {
		{ "own-zlib", "plain", NULL },
		{ "cmake", "plain", NULL },
		{ "kept", "needs-empty", NULL },
		{ "checker", "tests/check", NULL },
	};
	struct rpl_compiled c;

	(void)state;
	compile_ok(r, "x86_64", RPL_COMPILE_STEPS, &c);
	check_needs(c.needs, c.nneeds, want, NWANT(want));
	assert_string_equal(c.steps[0].runs, "plain zlib");
	rpl_compiled_release(&c);
	compile_ok(r, "aarch64", 0, &c);
	assert_int_equal(c.nneeds, 5);
	assert_string_equal(c.needs[4].name, "only-on-arm");
	rpl_compiled_release(&c);
	rpl_recipe_free(r);

	/* An error in the step's own needs points at the recipe, not the definition. */
	expect_compile_error(HEAD "  - uses: plain\n"
	                          "    needs:\n"
	                          "      packages:\n"
	                          "        - x-${{vars.nope}}\n",
	                     "x86_64", FILE_NAME ":8:11: needs: variable 'vars.nope' not defined");
}

/*
 * A test step may have `uses:` beside `runs:` (melange does not validate
 * tests): the definition's runs win when it has them, else the step's stay.
 */
static void test_test_uses_beside_runs(void **state)
{
	struct rpl_recipe *r = recipe(HEAD "  - runs: make\n"
	                                   "test:\n"
	                                   "  pipeline:\n"
	                                   "    - uses: noruns\n"
	                                   "      runs: echo mine\n"
	                                   "    - uses: tests/check\n"
	                                   "      runs: echo lost\n"
	                                   "    - runs: echo with-ignored\n"
	                                   "      with: {a: b}\n");
	struct rpl_compiled c;

	(void)state;
	compile_ok(r, "x86_64", RPL_COMPILE_STEPS, &c);
	assert_int_equal(c.ntests, 1);
	assert_int_equal(c.tests[0].nsteps, 3);
	assert_string_equal(c.tests[0].steps[0].runs, "echo mine");
	assert_string_equal(c.tests[0].steps[1].runs, "check hello");
	assert_string_equal(c.tests[0].steps[2].runs, "echo with-ignored");
	assert_int_equal(c.ntest_needs, 3);
	assert_string_equal(c.test_needs[1].name, "noruns-tool");
	assert_string_equal(c.test_needs[2].name, "checker");
	rpl_compiled_release(&c);
	rpl_recipe_free(r);
}

/*
 * What a compile makes is bounded: pipelines that use pipelines multiply
 * steps (fan/p1 is 111,111 of them), and vars that use vars multiply text
 * (v0 is 10 bytes, each next one ten uses of the one before).
 */
static void test_compile_bounds(void **state)
{
	char text[4096];
	int n;

	(void)state;
	assert_int_equal(expect_compile_error_in("package:\n  name: fan\n  version: 1\npipeline:\n"
	                                         "  - uses: fan/p1\n",
	                                         FILE_NAME ":5:11: in ", "pipelines/fan/p",
	                                         "more than 20000 steps to compile for one arch "
	                                         "(pipelines using pipelines?)"),
	                 0);

	n = snprintf(text, sizeof(text),
	             "package:\n  name: v\n  version: 1\nvars:\n  v0: xxxxxxxxxx\n");
	for (int k = 1; k <= 9; k++) {
		n += snprintf(text + n, sizeof(text) - (size_t)n, "  v%d: \"", k);
		for (int i = 0; i < 10; i++)
			n += snprintf(text + n, sizeof(text) - (size_t)n, "${{vars.v%d}}", k - 1);
		n += snprintf(text + n, sizeof(text) - (size_t)n, "\"\n");
	}
	/* v5 is 10^6 bytes, v6 would be 10^7. */
	expect_compile_error(text, "x86_64",
	                     FILE_NAME
	                     ":11:7: vars.v6: substituting makes a string longer than 1 MiB");

	/* Each step may use v5; all of them together are bounded by the total. */
	n = snprintf(text, sizeof(text),
	             "package:\n  name: v\n  version: 1\nvars:\n  v0: xxxxxxxxxx\n");
	for (int k = 1; k <= 5; k++) {
		n += snprintf(text + n, sizeof(text) - (size_t)n, "  v%d: \"", k);
		for (int i = 0; i < 10; i++)
			n += snprintf(text + n, sizeof(text) - (size_t)n, "${{vars.v%d}}", k - 1);
		n += snprintf(text + n, sizeof(text) - (size_t)n, "\"\n");
	}
	n += snprintf(text + n, sizeof(text) - (size_t)n, "pipeline:\n");
	for (int i = 0; i < 20; i++)
		n += snprintf(text + n, sizeof(text) - (size_t)n, "  - runs: ${{vars.v5}}\n");
	/* v1-v5 make 1,111,100 bytes, each step 10^6: the 16th passes 16 MiB. */
	expect_compile_error(text, "x86_64",
	                     FILE_NAME ":27:11: runs: substitution makes more than 16 MiB of text "
	                               "for one arch");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lib_lookup),
		cmocka_unit_test(test_needs_x86_64),
		cmocka_unit_test(test_needs_aarch64),
		cmocka_unit_test(test_compiled_steps),
		cmocka_unit_test(test_compile_variables),
		cmocka_unit_test(test_triplets),
		cmocka_unit_test(test_host_triplet_in_pipeline),
		cmocka_unit_test(test_needs_from_inputs),
		cmocka_unit_test(test_input_errors),
		cmocka_unit_test(test_lookup_errors),
		cmocka_unit_test(test_substitution_errors),
		cmocka_unit_test(test_errors_inside_definitions),
		cmocka_unit_test(test_skipped_step_still_compiled),
		cmocka_unit_test(test_uses_with_pipeline_not_loaded),
		cmocka_unit_test(test_step_overrides),
		cmocka_unit_test(test_step_needs_merge),
		cmocka_unit_test(test_test_uses_beside_runs),
		cmocka_unit_test(test_compile_bounds),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
