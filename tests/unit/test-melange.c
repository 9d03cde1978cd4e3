/*
 * Parsing melange recipes: vars, var-transforms, parse-time substitution,
 * range expansion, the strict second pass and validation
 * (as melange's pkg/config/config.go does them).  Recipes are in memory.
 */
#include "recipes/melange.h"
#include "common/error.h"
#include "recipes/yaml.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define FILE_NAME "pkg.yaml"

static struct rpl_recipe *parse_ok(const char *text)
{
	struct rpl_recipe *r;

	rpl_error_clear();
	r = rpl_recipe_parse(FILE_NAME, text, strlen(text));
	if (!r)
		fail_msg("parsing: %s", rpl_errmsg());
	return r;
}

/* Parses `text` and expects NULL with exactly `want` as the message. */
static void expect_error(const char *text, const char *want)
{
	struct rpl_recipe *r;

	rpl_error_clear();
	r = rpl_recipe_parse(FILE_NAME, text, strlen(text));
	if (r) {
		rpl_recipe_free(r);
		fail_msg("parsed, want the error \"%s\"", want);
	}
	assert_string_equal(rpl_errmsg(), want);
}

/* As expect_error, for messages whose tail comes from a library (PCRE2, libyaml). */
static void expect_error_prefix(const char *text, const char *prefix)
{
	struct rpl_recipe *r;

	rpl_error_clear();
	r = rpl_recipe_parse(FILE_NAME, text, strlen(text));
	if (r) {
		rpl_recipe_free(r);
		fail_msg("parsed, want an error starting \"%s\"", prefix);
	}
	if (strncmp(rpl_errmsg(), prefix, strlen(prefix)))
		fail_msg("message \"%s\", want a prefix \"%s\"", rpl_errmsg(), prefix);
}

#define MINIMAL           \
	"package:\n"      \
	"  name: hello\n" \
	"  version: 1.2.3\n"

/* ---- package fields, vars, phase A -------------------------------------- */

static void test_vars_and_package_fields(void **state)
{
	struct rpl_recipe *r = parse_ok("package:\n"
	                                "  name: hello\n"
	                                "  version: 1.2.3\n"
	                                "  epoch: 4\n"
	                                "  description: says ${{package.name}} ${{vars.extra}}\n"
	                                "  url: https://example.com/${{package.name}}\n"
	                                "  copyright:\n"
	                                "    - license: MIT\n"
	                                "vars:\n"
	                                "  extra: bonus\n"
	                                "  self: ${{package.name}}\n"
	                                "  py: 3.10\n"
	                                "pipeline:\n"
	                                "  - name: build ${{package.name}}\n"
	                                "    runs: |\n"
	                                "      echo ${{package.version}} ${{package.epoch}}\n"
	                                "      echo ${{package.full-version}} ${{vars.extra}}\n"
	                                "      echo ${{vars.self}} ${{vars.py}}\n"
	                                "      echo ${{package.description}}\n"
	                                "      echo ${{targets.destdir}} ${{ package.name }}\n");

	(void)state;
	assert_string_equal(r->file, FILE_NAME);
	assert_string_equal(r->package.name.s, "hello");
	assert_string_equal(r->package.version.s, "1.2.3");
	assert_int_equal(r->package.epoch, 4);
	assert_string_equal(rpl_recipe_full_version(r), "1.2.3-r4");
	assert_string_equal(r->package.description.s, "says hello bonus");
	assert_string_equal(r->package.url.s, "https://example.com/hello");
	assert_int_equal(r->package.ncopyright, 1);
	assert_string_equal(r->package.copyright[0].license.s, "MIT");

	/* Vars stay raw, in source order. */
	assert_int_equal(r->vars.n, 3);
	assert_string_equal(r->vars.v[1].key.s, "self");
	assert_string_equal(r->vars.v[1].val.s, "${{package.name}}");
	assert_string_equal(r->vars.v[2].val.s, "3.10");

	assert_int_equal(r->nsteps, 1);
	assert_string_equal(r->steps[0].name.s, "build hello");
	/* One pass: a var holding a token keeps it; package.description is
	 * the raw text; unknown and spaced tokens wait for compile time. */
	assert_string_equal(r->steps[0].runs.s, "echo 1.2.3 4\n"
	                                        "echo 1.2.3-r4 bonus\n"
	                                        "echo ${{package.name}} 3.10\n"
	                                        "echo says ${{package.name}} ${{vars.extra}}\n"
	                                        "echo ${{targets.destdir}} ${{ package.name }}\n");
	assert_int_equal(r->steps[0].line, 14);
	assert_int_equal(r->steps[0].col, 5);
	rpl_recipe_free(r);
}

struct epoch_case {
	const char *text;
	uint64_t want;
};

static void test_epoch(void **state)
{
	/* yaml.v3 reads an integer as Go's ParseInt with base 0 (and takes an
	 * integral float): melange's `epoch: 017` is 15. */
	static const struct epoch_case cases[] = {
		{ "4", 4 },     { "0", 0 },     { "08", 8 },       { "017", 15 },
		{ "0o17", 15 }, { "0x10", 16 }, { "1_000", 1000 }, { "+1", 1 },
		{ "1.0", 1 },   { "1e2", 100 }, { "~", 0 },
	};
	struct rpl_recipe *r = parse_ok(MINIMAL);
	char text[256];
	int failed = 0;

	(void)state;
	assert_int_equal(r->package.epoch, 0);
	assert_string_equal(rpl_recipe_full_version(r), "1.2.3-r0");
	rpl_recipe_free(r);

	r = parse_ok(MINIMAL "  epoch: 18446744073709551615\n");
	assert_true(r->package.epoch == UINT64_MAX);
	assert_string_equal(rpl_recipe_full_version(r), "1.2.3-r18446744073709551615");
	rpl_recipe_free(r);

	expect_error(MINIMAL "  epoch: -1\n",
	             FILE_NAME ":4:10: expected an unsigned integer, found \"-1\"");
	expect_error(MINIMAL "  epoch: two\n",
	             FILE_NAME ":4:10: expected an unsigned integer, found \"two\"");
	expect_error(MINIMAL "  epoch: [1]\n",
	             FILE_NAME ":4:10: expected an unsigned integer, found a sequence");
	/* Floats past int64 are refused before any conversion (fuzz: melange-1). */
	expect_error(MINIMAL "  epoch: 1e300\n",
	             FILE_NAME ":4:10: expected an unsigned integer, found \"1e300\"");
	expect_error(MINIMAL "  epoch: -1e300\n",
	             FILE_NAME ":4:10: expected an unsigned integer, found \"-1e300\"");

	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		snprintf(text, sizeof(text), MINIMAL "  epoch: %s\n", cases[i].text);
		rpl_error_clear();
		r = rpl_recipe_parse(FILE_NAME, text, strlen(text));
		if (!r) {
			print_error("epoch: %s: %s, want %llu\n", cases[i].text, rpl_errmsg(),
			            (unsigned long long)cases[i].want);
			failed++;
			continue;
		}
		if (r->package.epoch != cases[i].want) {
			print_error("epoch: %s read as %llu, want %llu\n", cases[i].text,
			            (unsigned long long)r->package.epoch,
			            (unsigned long long)cases[i].want);
			failed++;
		}
		rpl_recipe_free(r);
	}
	/* A quoted number is a string, which yaml.v3 will not put in a uint64. */
	rpl_error_clear();
	r = rpl_recipe_parse(FILE_NAME, MINIMAL "  epoch: '1'\n", strlen(MINIMAL "  epoch: '1'\n"));
	if (r) {
		print_error("epoch: '1' read as %llu, want an error\n",
		            (unsigned long long)r->package.epoch);
		rpl_recipe_free(r);
		failed++;
	} else if (strncmp(rpl_errmsg(), FILE_NAME ":4:10: expected an unsigned integer",
	                   strlen(FILE_NAME ":4:10: expected an unsigned integer"))) {
		print_error("epoch: '1': \"%s\"\n", rpl_errmsg());
		failed++;
	}
	assert_int_equal(failed, 0);
}

/* ---- var-transforms ------------------------------------------------------- */

static void test_var_transforms(void **state)
{
	struct rpl_recipe *r = parse_ok("package:\n"
	                                "  name: go-1.22\n"
	                                "  version: 1.22.5\n"
	                                "var-transforms:\n"
	                                "  - from: ${{package.version}}\n"
	                                "    match: ^(\\d+)\\.(\\d+)\\.\\d+$\n"
	                                "    replace: $1.$2\n"
	                                "    to: short-version\n"
	                                "  - from: ${{vars.short-version}}\n"
	                                "    match: \\.\n"
	                                "    replace: \"\"\n"
	                                "    to: nodot\n"
	                                "  - from: ${{ package.name }}\n"
	                                "    match: (?P<maj>\\d+)\\.(?P<min>\\d+)\n"
	                                "    replace: ${min}.${maj}\n"
	                                "    to: named\n"
	                                "  - from: ${{vars.flavour}}\n"
	                                "    match: nomatch\n"
	                                "    replace: x\n"
	                                "    to: untouched\n"
	                                "vars:\n"
	                                "  flavour: plain\n"
	                                "pipeline:\n"
	                                "  - runs: ${{vars.short-version}} ${{vars.nodot}} "
	                                "${{vars.named}} ${{vars.untouched}}\n");

	(void)state;
	assert_int_equal(r->nvar_transforms, 4);
	assert_string_equal(r->var_transforms[0].match.s, "^(\\d+)\\.(\\d+)\\.\\d+$");
	assert_string_equal(r->var_transforms[0].replace.s, "$1.$2");
	assert_int_equal(r->transformed.n, 4);
	assert_string_equal(r->transformed.v[0].key.s, "short-version");
	assert_string_equal(r->transformed.v[0].val.s, "1.22");
	assert_string_equal(r->transformed.v[1].key.s, "nodot");
	assert_string_equal(r->transformed.v[1].val.s, "122");
	assert_string_equal(r->transformed.v[2].val.s, "go-22.1");
	assert_string_equal(r->transformed.v[3].val.s, "plain");
	assert_string_equal(r->steps[0].runs.s, "1.22 122 go-22.1 plain");
	rpl_recipe_free(r);
}

static void test_var_transform_errors(void **state)
{
	(void)state;
	/* `from` is substituted strictly, against the transforms before it only. */
	expect_error(MINIMAL "var-transforms:\n"
	                     "  - from: ${{vars.later}}\n"
	                     "    match: x\n"
	                     "    replace: y\n"
	                     "    to: first\n"
	                     "  - from: a\n"
	                     "    match: a\n"
	                     "    replace: b\n"
	                     "    to: later\n",
	             FILE_NAME ":5:11: var-transforms 'from': variable 'vars.later' not defined");
	expect_error(MINIMAL "var-transforms:\n"
	                     "  - from: ${{build.arch}}\n"
	                     "    match: x\n"
	                     "    replace: y\n"
	                     "    to: t\n",
	             FILE_NAME ":5:11: var-transforms 'from': variable 'build.arch' not defined");
	expect_error_prefix(MINIMAL "var-transforms:\n"
	                            "  - from: a\n"
	                            "    match: (\n"
	                            "    replace: y\n"
	                            "    to: t\n",
	                    FILE_NAME
	                    ":6:12: var-transforms 'match': regex '(' does not compile: ");
	expect_error(MINIMAL "var-transforms:\n"
	                     "  - from: a\n"
	                     "    match: a\n"
	                     "    replace: b\n",
	             FILE_NAME ":5:5: var-transforms[0]: 'to' is required");
	expect_error(MINIMAL "var-transforms:\n"
	                     "  - from: a\n"
	                     "    to: b\n"
	                     "    matches: a\n",
	             FILE_NAME ":7:5: unknown key 'matches' in var-transforms entry");
}

/* ---- ranges --------------------------------------------------------------- */

static const char range_recipe[] =
        "package:\n"
        "  name: py3-requests\n"
        "  version: 2.31.0\n"
        "  epoch: 1\n"
        "  commit: abc123\n"
        "data:\n"
        "  - name: py-versions\n"
        "    items:\n"
        "      3.10: '310'\n"
        "      3.9: '39'\n"
        "      3.12: '312'\n"
        "subpackages:\n"
        "  - range: py-versions\n"
        "    name: py${{range.key}}-requests\n"
        "    description: requests for python ${{range.key}}\n"
        "    if: ${{range.value}} != '0'\n"
        "    url: https://example.com/${{range.key}}\n"
        "    annotations:\n"
        "      python: ${{range.key}}\n"
        "    dependencies:\n"
        "      provides:\n"
        "        - py3-requests\n"
        "      provider-priority: ${{range.value}}\n"
        "      runtime:\n"
        "        - python-${{range.key}}\n"
        "    pipeline:\n"
        "      - runs: echo ${{range.key}} ${{range.value}} ${{package.name}}\n"
        "        pipeline:\n"
        "          - runs: nested ${{range.key}}\n"
        "    test:\n"
        "      pipeline:\n"
        "        - runs: python${{range.key}} -c 'import requests'\n"
        "  - name: ${{package.name}}-doc\n"
        "    description: docs, not ${{range.key}}\n"
        "    commit: def456\n";

/* Keys are sorted bytewise ("3.10" < "3.12" < "3.9"), one copy each. */
static void test_range_expansion(void **state)
{
	struct rpl_recipe *r = parse_ok(range_recipe);
	static const char *const keys[] = { "3.10", "3.12", "3.9" };
	static const char *const vals[] = { "310", "312", "39" };

	(void)state;
	assert_int_equal(r->nsubpackages, 4);
	assert_int_equal(r->nsubpackages_static, 2);
	for (size_t i = 0; i < 3; i++) {
		const struct rpl_subpackage *sp = &r->subpackages[i];
		char buf[256];

		snprintf(buf, sizeof(buf), "py%s-requests", keys[i]);
		assert_string_equal(sp->name.s, buf);
		snprintf(buf, sizeof(buf), "requests for python %s", keys[i]);
		assert_string_equal(sp->description.s, buf);
		snprintf(buf, sizeof(buf), "%s != '0'", vals[i]);
		assert_string_equal(sp->if_.s, buf);
		snprintf(buf, sizeof(buf), "https://example.com/%s", keys[i]);
		assert_string_equal(sp->url.s, buf);
		assert_int_equal(sp->annotations.n, 1);
		assert_string_equal(sp->annotations.v[0].val.s, keys[i]);
		assert_string_equal(sp->range.s, "py-versions");
		assert_int_equal(sp->dependencies.provides.n, 1);
		assert_string_equal(sp->dependencies.provides.v[0].s, "py3-requests");
		assert_string_equal(sp->dependencies.provider_priority.s, vals[i]);
		snprintf(buf, sizeof(buf), "python-%s", keys[i]);
		assert_string_equal(sp->dependencies.runtime.v[0].s, buf);
		assert_int_equal(sp->nsteps, 1);
		snprintf(buf, sizeof(buf), "echo %s %s py3-requests", keys[i], vals[i]);
		assert_string_equal(sp->steps[0].runs.s, buf);
		assert_int_equal(sp->steps[0].nsteps, 1);
		snprintf(buf, sizeof(buf), "nested %s", keys[i]);
		assert_string_equal(sp->steps[0].steps[0].runs.s, buf);
		assert_non_null(sp->test);
		snprintf(buf, sizeof(buf), "python%s -c 'import requests'", keys[i]);
		assert_string_equal(sp->test->steps[0].runs.s, buf);
		/* Commit defaults to the package's. */
		assert_string_equal(sp->commit.s, "abc123");
		/* Every copy points at the range entry in the file. */
		assert_int_equal(sp->line, 13);
		assert_int_equal(sp->col, 5);
	}
	assert_string_equal(r->subpackages[3].name.s, "py3-requests-doc");
	/* Outside a ranged subpackage range.* is unknown and left as written. */
	assert_string_equal(r->subpackages[3].description.s, "docs, not ${{range.key}}");
	assert_string_equal(r->subpackages[3].commit.s, "def456");
	assert_int_equal(r->subpackages[3].line, 33);
	/* The data stays for show. */
	assert_int_equal(r->ndata, 1);
	assert_int_equal(r->data[0].items.n, 3);
	assert_string_equal(r->data[0].items.v[0].key.s, "3.10");
	rpl_recipe_free(r);
}

static void test_range_errors(void **state)
{
	(void)state;
	expect_error(MINIMAL "subpackages:\n"
	                     "  - range: nope\n"
	                     "    name: x-${{range.key}}\n",
	             FILE_NAME ":5:12: subpackages[0] (\"x-${{range.key}}\") specified undefined "
	                       "range: \"nope\"");
	/* An empty range yields no subpackage. */
	struct rpl_recipe *r = parse_ok(MINIMAL "data:\n"
	                                        "  - name: none\n"
	                                        "    items: {}\n"
	                                        "subpackages:\n"
	                                        "  - range: none\n"
	                                        "    name: x-${{range.key}}\n");
	assert_int_equal(r->nsubpackages, 0);
	assert_int_equal(r->nsubpackages_static, 1);
	rpl_recipe_free(r);
}

/* ---- the strict second pass ----------------------------------------------- */

static void test_strict_second_pass(void **state)
{
	struct rpl_recipe *r =
	        parse_ok("package:\n"
	                 "  name: hello\n"
	                 "  version: 1.2.3\n"
	                 "  dependencies:\n"
	                 "    provides:\n"
	                 "      - ${{ package.name }}-compat=${{ package.full-version }}\n"
	                 "    runtime:\n"
	                 "      - ${{ vars.dep }}\n"
	                 "    replaces:\n"
	                 "      - old-${{ package.name }}\n"
	                 "    provider-priority: ${{ vars.prio }}\n"
	                 "vars:\n"
	                 "  dep: libfoo\n"
	                 "  prio: '5'\n"
	                 "environment:\n"
	                 "  contents:\n"
	                 "    packages:\n"
	                 "      - ${{ package.name }}-dev\n"
	                 "      - busybox\n"
	                 "subpackages:\n"
	                 "  - name: hello-sub\n"
	                 "    dependencies:\n"
	                 "      provides:\n"
	                 "        - ${{ package.name }}-alias\n"
	                 "    test:\n"
	                 "      environment:\n"
	                 "        contents:\n"
	                 "          packages:\n"
	                 "            - ${{ vars.dep }}-test\n"
	                 "test:\n"
	                 "  environment:\n"
	                 "    contents:\n"
	                 "      packages:\n"
	                 "        - ${{ package.name }}-tests\n");

	(void)state;
	assert_string_equal(r->package.dependencies.provides.v[0].s, "hello-compat=1.2.3-r0");
	assert_string_equal(r->package.dependencies.runtime.v[0].s, "libfoo");
	assert_string_equal(r->package.dependencies.replaces.v[0].s, "old-hello");
	assert_string_equal(r->package.dependencies.provider_priority.s, "5");
	assert_int_equal(r->environment.contents.packages.n, 2);
	assert_string_equal(r->environment.contents.packages.v[0].s, "hello-dev");
	assert_string_equal(r->environment.contents.packages.v[1].s, "busybox");
	assert_string_equal(r->subpackages[0].dependencies.provides.v[0].s, "hello-alias");
	assert_string_equal(r->subpackages[0].test->environment.contents.packages.v[0].s,
	                    "libfoo-test");
	assert_string_equal(r->test->environment.contents.packages.v[0].s, "hello-tests");
	rpl_recipe_free(r);
}

static void test_strict_second_pass_errors(void **state)
{
	(void)state;
	/* range.* exists only inside ranged subpackages: elsewhere the strict
	 * pass over provides finds it undefined. */
	expect_error(MINIMAL "subpackages:\n"
	                     "  - name: hello-sub\n"
	                     "    dependencies:\n"
	                     "      provides:\n"
	                     "        - py${{range.key}}-foo\n",
	             FILE_NAME ":8:11: provides: variable 'range.key' not defined");
	expect_error(MINIMAL "  dependencies:\n"
	                     "    runtime:\n"
	                     "      - ${{vars.nope}}\n",
	             FILE_NAME ":6:9: runtime: variable 'vars.nope' not defined");
	expect_error(MINIMAL "  dependencies:\n"
	                     "    replaces-priority: ${{ nope }}\n",
	             FILE_NAME ":5:24: replaces-priority: variable 'nope' not defined");
	expect_error(MINIMAL "environment:\n"
	                     "  contents:\n"
	                     "    packages:\n"
	                     "      - ${{targets.destdir}}\n",
	             FILE_NAME
	             ":7:9: environment packages: variable 'targets.destdir' not defined");
	expect_error(MINIMAL "  dependencies:\n"
	                     "    provides:\n"
	                     "      - ${{ a b }}\n",
	             FILE_NAME ":6:9: provides: malformed substitution '${{ a b }}'");
}

/* ---- strict decoding ------------------------------------------------------ */

static void test_unknown_keys(void **state)
{
	(void)state;
	expect_error(MINIMAL "  colour: red\n", FILE_NAME ":4:3: unknown key 'colour' in package");
	expect_error(MINIMAL "pipelines:\n  - runs: x\n",
	             FILE_NAME ":4:1: unknown key 'pipelines' in melange recipe");
	expect_error(MINIMAL "pipeline:\n  - run: x\n",
	             FILE_NAME ":5:5: unknown key 'run' in pipeline step");
	expect_error(MINIMAL
	             "pipeline:\n  - runs: x\n    pipeline:\n      - with: {}\n        usse: x\n",
	             FILE_NAME ":8:9: unknown key 'usse' in pipeline step");
	expect_error(MINIMAL "subpackages:\n  - name: x\n    version: 1\n",
	             FILE_NAME ":6:5: unknown key 'version' in subpackage");
	expect_error(MINIMAL "  dependencies:\n    provide: [x]\n",
	             FILE_NAME ":5:5: unknown key 'provide' in dependencies");
	expect_error(MINIMAL "environment:\n  contents:\n    pakages: [x]\n",
	             FILE_NAME ":6:5: unknown key 'pakages' in contents");
	expect_error(MINIMAL "update:\n  enabled: true\n  github:\n    identifer: a/b\n",
	             FILE_NAME ":7:5: unknown key 'identifer' in update.github");
}

static void test_wrong_types(void **state)
{
	(void)state;
	expect_error(MINIMAL "pipeline:\n  runs: x\n",
	             FILE_NAME ":5:3: 'pipeline': expected a list, found a mapping");
	expect_error(MINIMAL "  name2: [x]\n", FILE_NAME ":4:3: unknown key 'name2' in package");
	expect_error("package:\n  name: [x]\n  version: 1\n",
	             FILE_NAME ":2:9: expected a string, found a sequence");
	expect_error("- a\n- b\n",
	             FILE_NAME ":1:1: melange recipe: expected a mapping, found a sequence");
}

static void test_empty_and_no_package(void **state)
{
	(void)state;
	expect_error("", FILE_NAME ":1:1: empty recipe");
	expect_error("# nothing\n", FILE_NAME ":1:1: empty recipe");
	expect_error("pipeline:\n  - runs: x\n", FILE_NAME ":1:1: recipe has no 'package' section");
	expect_error_prefix("package:\n  name: [\n", FILE_NAME ":3:1: yaml: ");
	expect_error(MINIMAL "  name: again\n",
	             FILE_NAME ":4:3: mapping key \"name\" already defined at line 2");
}

/* ---- validation ----------------------------------------------------------- */

static void test_name_validation(void **state)
{
	(void)state;
	assert_true(rpl_melange_valid_name("hello"));
	assert_true(rpl_melange_valid_name("py3.10-foo_bar+x"));
	assert_true(rpl_melange_valid_name("0ad"));
	assert_false(rpl_melange_valid_name(""));
	assert_false(rpl_melange_valid_name("-x"));
	assert_false(rpl_melange_valid_name(".x"));
	assert_false(rpl_melange_valid_name("a b"));
	assert_false(rpl_melange_valid_name("a/b"));
	assert_false(rpl_melange_valid_name("a${{x}}"));

	expect_error("package:\n  version: 1\n", FILE_NAME ":2:3: package.name is required");
	expect_error("package:\n  name: -bad\n  version: 1\n",
	             FILE_NAME ":2:9: package name '-bad' is invalid");
	/* Validation sees the substituted name. */
	expect_error("package:\n  name: a${{vars.sp}}b\n  version: 1\nvars:\n  sp: ' '\n",
	             FILE_NAME ":2:9: package name 'a b' is invalid");
	expect_error(MINIMAL "subpackages:\n  - name: bad/name\n",
	             FILE_NAME ":5:11: subpackage name 'bad/name' is invalid");
	expect_error(MINIMAL "subpackages:\n  - description: x\n",
	             FILE_NAME ":1:1: subpackages[0]: name is required");
	expect_error(MINIMAL "subpackages:\n  - name: hello\n",
	             FILE_NAME ":5:11: subpackage name 'hello' is the same as the package name");
	expect_error(MINIMAL "subpackages:\n  - name: a\n  - name: b\n  - name: a\n", FILE_NAME
	             ":7:11: subpackage name 'a' is used more than once (also at line 5)");
	/* Names made by a range collide like written ones. */
	expect_error(MINIMAL
	             "data:\n  - name: d\n    items: {x: '1'}\n"
	             "subpackages:\n  - name: s-x\n  - range: d\n    name: s-${{range.key}}\n",
	             FILE_NAME ":10:11: subpackage name 's-x' is used more than once (also at line "
	                       "8)");
}

/*
 * A package is written as <name>-<version>-r<epoch>.apk, which must fit in
 * one file name (NAME_MAX, 255 bytes): the longest name that fits with
 * version 1.0 and epoch 7 is 255 - strlen("-1.0-r7.apk") = 244 bytes.
 */
static void test_name_lengths(void **state)
{
	char name[400], text[1024], want[512];
	struct rpl_recipe *r;

	(void)state;
	memset(name, 'a', 244);
	name[244] = '\0';
	snprintf(text, sizeof(text), "package:\n  name: %s\n  version: 1.0\n  epoch: 7\n", name);
	r = parse_ok(text);
	rpl_recipe_free(r);

	strcat(name, "b");
	snprintf(text, sizeof(text), "package:\n  name: %s\n  version: 1.0\n  epoch: 7\n", name);
	expect_error(text,
	             FILE_NAME ":2:9: package name "
	                       "'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa...' (245 bytes) makes its file "
	                       "name 256 bytes long, more than the 255 a file name may have");

	/* A subpackage: the same rule, with the origin's version and epoch. */
	snprintf(text, sizeof(text),
	         "package:\n  name: x\n  version: 1.0\n  epoch: 7\nsubpackages:\n  - name: %s\n",
	         name);
	expect_error(text, FILE_NAME ":6:11: subpackage name "
	                             "'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa...' (245 bytes) makes its "
	                             "file name 256 bytes long, more than the 255 a file name may "
	                             "have");

	/* A version that is longer than the name takes the blame. */
	memset(name, '1', 300);
	name[300] = '\0';
	snprintf(text, sizeof(text), "package:\n  name: x\n  version: %s\n", name);
	snprintf(want, sizeof(want),
	         FILE_NAME ":3:12: package version '%.32s...' (300 bytes) makes the file name of "
	                   "package 'x' 309 bytes long, more than the 255 a file name may have",
	         name);
	expect_error(text, want);
}

/* Appends printf output to a malloc'd string. */
static void addf(char **buf, size_t *len, size_t *cap, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));

static void addf(char **buf, size_t *len, size_t *cap, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	while (*len + (size_t)n + 1 > *cap) {
		*cap = *cap ? *cap * 2 : 4096;
		*buf = realloc(*buf, *cap);
		assert_non_null(*buf);
	}
	va_start(ap, fmt);
	vsnprintf(*buf + *len, *cap - *len, fmt, ap);
	va_end(ap);
	*len += (size_t)n;
}

/*
 * Parse-time substitution and range expansion are bounded: one string to
 * RPL_SUBST_MAX_LEN, all of a recipe's to RPL_SUBST_MAX_TOTAL, and the
 * subpackages a range makes to RPL_MELANGE_MAX_SUBPACKAGES.
 */
static void test_expansion_bounds(void **state)
{
	char *text = NULL;
	size_t len = 0, cap = 0;

	(void)state;
	/* Ten uses of a 200,000-byte var in one string. */
	addf(&text, &len, &cap, MINIMAL "vars:\n  big: ");
	for (int i = 0; i < 200000; i++)
		addf(&text, &len, &cap, "x");
	addf(&text, &len, &cap, "\npipeline:\n  - runs: ");
	for (int i = 0; i < 10; i++)
		addf(&text, &len, &cap, "${{vars.big}}");
	addf(&text, &len, &cap, "\n");
	expect_error(text, FILE_NAME ":7:11: substituting makes a string longer than 1 MiB");

	/* A var-transform that repeats every character ten times, chained. */
	len = 0;
	addf(&text, &len, &cap,
	     MINIMAL
	     "var-transforms:\n"
	     "  - {from: xxxxxxxxxx, match: '(.)', replace: '$1$1$1$1$1$1$1$1$1$1', to: t1}\n");
	for (int k = 2; k <= 9; k++)
		addf(&text, &len, &cap,
		     "  - {from: '${{vars.t%d}}', match: '(.)', replace: '$1$1$1$1$1$1$1$1$1$1', "
		     "to: t%d}\n",
		     k - 1, k);
	expect_error(text, FILE_NAME ":10:35: var-transforms 'match': regex '(.)': the replacement "
	                             "is longer than 1 MiB");

	/* 4,000 copies of a subpackage of 400 steps. */
	len = 0;
	addf(&text, &len, &cap, MINIMAL "data:\n  - name: d\n    items:\n");
	for (int i = 0; i < 4000; i++)
		addf(&text, &len, &cap, "      i%d: v\n", i);
	addf(&text, &len, &cap,
	     "subpackages:\n  - range: d\n    name: s-${{range.key}}\n    pipeline:\n");
	for (int i = 0; i < 400; i++)
		addf(&text, &len, &cap, "      - runs: echo %d\n", i);
	expect_error(text, FILE_NAME ":4008:12: substitution and range expansion make more than "
	                             "16 MiB of text");

	/* A range of 6,000 items. */
	len = 0;
	addf(&text, &len, &cap, MINIMAL "data:\n  - name: d\n    items:\n");
	for (int i = 0; i < 6000; i++)
		addf(&text, &len, &cap, "      i%d: v\n", i);
	addf(&text, &len, &cap, "subpackages:\n  - range: d\n    name: s-${{range.key}}\n");
	expect_error(text, FILE_NAME ":6008:12: more than 5000 subpackages (ranges expanded)");
	free(text);
}

static void test_version_validation(void **state)
{
	static const char *const good[] = { "1",       "1.2.3",
		                            "1.2.3a",  "2024.01.02",
		                            "1.0_rc1", "1.0_alpha",
		                            "1.0_p2",  "1.0_beta3_git20240101",
		                            "1.0-r2",  "1.0a_pre1_p1-r3" };
	static const char *const bad[] = { "v1.0",    "1.0-beta",   "1.0_rc1_rc2", "1..0",
		                           "1.0ab",   "1.0_p1_rc1", "1.0-r",       "1.0.",
		                           "1.0_foo", "1.0 " };
	char text[256], want[256];

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(*good); i++) {
		snprintf(text, sizeof(text), "package:\n  name: x\n  version: '%s'\n", good[i]);
		rpl_recipe_free(parse_ok(text));
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		snprintf(text, sizeof(text), "package:\n  name: x\n  version: '%s'\n", bad[i]);
		snprintf(want, sizeof(want),
		         FILE_NAME ":3:12: package version '%s' is not a valid apk version",
		         bad[i]);
		expect_error(text, want);
	}
	expect_error("package:\n  name: x\n", FILE_NAME ":2:3: package.version is required");
	expect_error("package:\n  name: x\n  version: ''\n",
	             FILE_NAME ":3:12: package.version is required");
}

static void test_priority_validation(void **state)
{
	struct rpl_recipe *r;

	(void)state;
	r = parse_ok(MINIMAL
	             "  dependencies:\n    provider-priority: 0\n    replaces-priority: '-3'\n");
	assert_string_equal(r->package.dependencies.provider_priority.s, "0");
	assert_string_equal(r->package.dependencies.replaces_priority.s, "-3");
	rpl_recipe_free(r);
	/* strconv.Atoi takes a sign but no spaces. */
	r = parse_ok(MINIMAL "  dependencies:\n    provider-priority: '+5'\n");
	rpl_recipe_free(r);
	expect_error(MINIMAL "  dependencies:\n    provider-priority: high\n",
	             FILE_NAME ":5:24: provider-priority 'high' is not an integer");
	expect_error(MINIMAL "subpackages:\n  - name: s\n    dependencies:\n"
	                     "      replaces-priority: 1.5\n",
	             FILE_NAME ":7:26: replaces-priority '1.5' is not an integer");
	expect_error(MINIMAL "  dependencies:\n    provider-priority: ' 5'\n",
	             FILE_NAME ":5:24: provider-priority ' 5' is not an integer");
}

static void test_step_validation(void **state)
{
	(void)state;
	expect_error(MINIMAL "pipeline:\n  - runs: x\n    with: {a: b}\n",
	             FILE_NAME ":5:5: pipeline step has 'with' but no 'uses'");
	expect_error(MINIMAL "pipeline:\n  - uses: fetch\n    runs: x\n",
	             FILE_NAME ":5:11: pipeline step has both 'uses' and 'runs'");
	expect_error(MINIMAL "pipeline:\n  - uses: ../evil\n",
	             FILE_NAME ":5:11: invalid pipeline name '../evil'");
	expect_error(MINIMAL "pipeline:\n  - uses: /abs\n",
	             FILE_NAME ":5:11: invalid pipeline name '/abs'");
	expect_error(MINIMAL "subpackages:\n  - name: s\n    pipeline:\n      - runs: x\n"
	                     "        pipeline:\n          - with: {a: b}\n",
	             FILE_NAME ":9:13: pipeline step has 'with' but no 'uses'");
}

/*
 * melange validates the main and subpackage pipelines only: in `test:` a
 * `with` without `uses` and `uses` beside `runs` are accepted; a pipeline
 * name that leaves the pipeline dirs is refused there too.
 */
static void test_test_step_validation(void **state)
{
	static const char *const ok[] = {
		MINIMAL "test:\n  pipeline:\n    - runs: x\n      with: {a: b}\n",
		MINIMAL "test:\n  pipeline:\n    - uses: fetch\n      runs: x\n",
		MINIMAL "subpackages:\n  - name: s\n    test:\n      pipeline:\n"
		        "        - uses: fetch\n          runs: x\n"
		        "        - runs: y\n          pipeline:\n            - with: {a: b}\n",
	};
	struct rpl_recipe *r;

	(void)state;
	for (size_t i = 0; i < sizeof(ok) / sizeof(*ok); i++) {
		if (!(r = rpl_recipe_parse(FILE_NAME, ok[i], strlen(ok[i]))))
			fail_msg("recipe %zu: %s", i, rpl_errmsg());
		rpl_recipe_free(r);
	}
	expect_error(MINIMAL "test:\n  pipeline:\n    - uses: ../evil\n",
	             FILE_NAME ":6:13: invalid pipeline name '../evil'");
}

/*
 * melange matches target-architecture against apk names literally, and
 * `all` only alone: another spelling would build the package for no arch,
 * so it is reported, not mapped.
 */
static void test_target_architecture(void **state)
{
	static const char *const sel[] = { "x86_64", "aarch64" };
	const char *out[2];
	struct rpl_recipe *r;

	(void)state;
	expect_error(MINIMAL "  target-architecture: [x86_64, amd64]\n",
	             FILE_NAME ":4:33: target-architecture: 'amd64' is not melange's name for an "
	                       "architecture (melange compares apk names and would build this "
	                       "for none): write 'x86_64'");
	expect_error(MINIMAL "  target-architecture: [arm64]\n",
	             FILE_NAME ":4:25: target-architecture: 'arm64' is not melange's name for an "
	                       "architecture (melange compares apk names and would build this "
	                       "for none): write 'aarch64'");
	expect_error(MINIMAL "  target-architecture: [mips]\n",
	             FILE_NAME ":4:25: target-architecture: unknown architecture 'mips'");
	expect_error(MINIMAL "  target-architecture: [x86_64, all]\n",
	             FILE_NAME ":4:33: target-architecture: 'all' means every architecture "
	                       "only as the one entry (melange matches it against no arch "
	                       "beside others)");
	r = parse_ok(MINIMAL "  target-architecture: [aarch64]\n");
	assert_int_equal(rpl_recipe_archs(&r->package.target_architecture, sel, 2, out), 1);
	assert_string_equal(out[0], "aarch64");
	rpl_recipe_free(r);
	r = parse_ok(MINIMAL "  target-architecture: [all]\n");
	assert_int_equal(rpl_recipe_archs(&r->package.target_architecture, sel, 2, out), 2);
	rpl_recipe_free(r);
}

static void test_setcap_validation(void **state)
{
	struct rpl_recipe *r;

	(void)state;
	r = parse_ok(MINIMAL "  setcap:\n    - path: /usr/bin/x\n"
	                     "      add:\n        cap_net_raw,cap_net_admin: +eip\n"
	                     "      reason: pings\n");
	assert_int_equal(r->package.nsetcap, 1);
	rpl_recipe_free(r);
	expect_error(MINIMAL "  setcap:\n    - path: /usr/bin/x\n"
	                     "      add:\n        cap_sys_module: +ep\n"
	                     "      reason: r\n",
	             FILE_NAME ":7:9: setcap: capability 'cap_sys_module' is not allowed");
	expect_error(MINIMAL "  setcap:\n    - path: /usr/bin/x\n      add: {cap_net_raw: +ep}\n",
	             FILE_NAME ":5:7: setcap: 'reason' is required");
}

/* ---- commit and timeout --------------------------------------------------- */

static void test_commit_default(void **state)
{
	struct rpl_recipe *r;

	(void)state;
	r = parse_ok(MINIMAL "  commit: c0ffee\n"
	                     "subpackages:\n  - name: a\n  - name: b\n    commit: beef\n");
	assert_string_equal(r->package.commit.s, "c0ffee");
	assert_string_equal(r->subpackages[0].commit.s, "c0ffee");
	assert_string_equal(r->subpackages[1].commit.s, "beef");
	rpl_recipe_free(r);
	r = parse_ok(MINIMAL "subpackages:\n  - name: a\n");
	assert_string_equal(r->subpackages[0].commit.s, "");
	rpl_recipe_free(r);
}

struct timeout_case {
	const char *text;
	uint64_t seconds;
};

static void test_timeout(void **state)
{
	static const struct timeout_case ok[] = {
		{ "1h30m", 5400 },
		{ "90s", 90 },
		{ "2h", 7200 },
		{ "1.5h", 5400 },
		{ ".5h", 1800 },
		{ "10m", 600 },
		{ "1h0m30s", 3630 },
		{ "0", 0 },
		{ "0s", 0 },
		{ "1h.5m", 3630 },
		{ "+1h", 3600 },
		/* Go accepts a negative duration; as a timeout it means none. */
		{ "-1h", 0 },
	};
	/* Strings time.ParseDuration refuses, and a bare integer, which yaml.v3
	 * will not put in a time.Duration. */
	static const char *const bad[] = { "3600",   "1e3s",   "0x10s",      "1h 30m",
		                           "1h-30m", "1h+30m", "1d",         "h",
		                           "1hh",    "-1",     "9999999999h" };
	char text[256], want[256];
	int failed = 0;

	(void)state;
	for (size_t i = 0; i < sizeof(ok) / sizeof(*ok); i++) {
		struct rpl_recipe *r;

		snprintf(text, sizeof(text), MINIMAL "  timeout: '%s'\n", ok[i].text);
		r = parse_ok(text);
		if (r->package.timeout_seconds != ok[i].seconds)
			fail_msg("timeout '%s': %llu seconds, want %llu", ok[i].text,
			         (unsigned long long)r->package.timeout_seconds,
			         (unsigned long long)ok[i].seconds);
		assert_string_equal(r->package.timeout.s, ok[i].text);
		rpl_recipe_free(r);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		struct rpl_recipe *r;

		snprintf(text, sizeof(text), MINIMAL "  timeout: '%s'\n", bad[i]);
		snprintf(want, sizeof(want),
		         FILE_NAME ":4:12: timeout '%s' is not a duration (like 90s, 2h)", bad[i]);
		rpl_error_clear();
		r = rpl_recipe_parse(FILE_NAME, text, strlen(text));
		if (r) {
			print_error("timeout '%s' accepted as %llu seconds, want \"%s\"\n", bad[i],
			            (unsigned long long)r->package.timeout_seconds, want);
			rpl_recipe_free(r);
			failed++;
		} else if (strcmp(rpl_errmsg(), want)) {
			print_error("timeout '%s': \"%s\", want \"%s\"\n", bad[i], rpl_errmsg(),
			            want);
			failed++;
		}
	}
	assert_int_equal(failed, 0);
	{
		struct rpl_recipe *r = parse_ok(MINIMAL "  timeout: 45m\n");
		assert_int_equal(r->package.timeout_seconds, 2700);
		rpl_recipe_free(r);
		r = parse_ok(MINIMAL);
		assert_int_equal(r->package.timeout_seconds, 0);
		assert_string_equal(r->package.timeout.s, "");
		rpl_recipe_free(r);
	}
}

/* ---- where phase A applies ------------------------------------------------ */

static void test_phase_a_targets(void **state)
{
	struct rpl_recipe *r =
	        parse_ok("package:\n"
	                 "  name: hello\n"
	                 "  version: 1.2.3\n"
	                 "  target-architecture: ['${{vars.arch}}']\n"
	                 "  annotations: {a: '${{package.name}}'}\n"
	                 "  scriptlets:\n"
	                 "    post-install: echo ${{package.name}}\n"
	                 "vars:\n"
	                 "  arch: aarch64\n"
	                 "environment:\n"
	                 "  contents:\n"
	                 "    repositories: ['https://r/${{package.name}}']\n"
	                 "  environment:\n"
	                 "    V: ${{package.version}}\n"
	                 "pipeline:\n"
	                 "  - uses: fetch\n"
	                 "    with:\n"
	                 "      uri: https://x/${{package.name}}-${{package.version}}.tgz\n"
	                 "      expected-sha256: ${{vars.arch}}\n"
	                 "    if: ${{vars.arch}} == 'aarch64'\n"
	                 "    working-directory: /w/${{package.name}}\n"
	                 "    environment:\n"
	                 "      E: ${{package.name}}\n"
	                 "  - runs: x\n"
	                 "    needs:\n"
	                 "      packages: ['${{package.name}}-tools']\n");

	(void)state;
	assert_string_equal(r->package.target_architecture.v[0].s, "aarch64");
	assert_string_equal(r->package.annotations.v[0].val.s, "hello");
	assert_string_equal(r->package.scriptlets.post_install.s, "echo hello");
	assert_string_equal(r->environment.contents.repositories.v[0].s, "https://r/hello");
	assert_string_equal(r->environment.environment.v[0].val.s, "1.2.3");
	assert_string_equal(r->steps[0].uses.s, "fetch");
	assert_string_equal(rpl_kvlist_get(&r->steps[0].with, "uri")->val.s,
	                    "https://x/hello-1.2.3.tgz");
	assert_string_equal(rpl_kvlist_get(&r->steps[0].with, "expected-sha256")->val.s, "aarch64");
	assert_string_equal(r->steps[0].if_.s, "aarch64 == 'aarch64'");
	assert_string_equal(r->steps[0].working_directory.s, "/w/hello");
	assert_string_equal(r->steps[0].environment.v[0].val.s, "hello");
	assert_int_equal(r->steps[1].has_needs, 1);
	assert_string_equal(r->steps[1].needs.v[0].s, "hello-tools");
	rpl_recipe_free(r);
}

/* rpl_recipe_from_yaml works on a tree the caller parsed and still owns. */
static void test_from_yaml(void **state)
{
	struct rpl_ydoc doc;
	struct rpl_recipe *r;
	const char *text = MINIMAL "pipeline:\n  - runs: ${{package.name}}\n";

	(void)state;
	assert_int_equal(rpl_yaml_parse(&doc, "dir/x.melange.yaml", text, strlen(text)), 0);
	r = rpl_recipe_from_yaml(&doc);
	rpl_ydoc_release(&doc);
	assert_non_null(r);
	assert_string_equal(r->file, "dir/x.melange.yaml");
	assert_string_equal(r->steps[0].runs.s, "hello");
	rpl_recipe_free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vars_and_package_fields),
		cmocka_unit_test(test_epoch),
		cmocka_unit_test(test_var_transforms),
		cmocka_unit_test(test_var_transform_errors),
		cmocka_unit_test(test_range_expansion),
		cmocka_unit_test(test_range_errors),
		cmocka_unit_test(test_strict_second_pass),
		cmocka_unit_test(test_strict_second_pass_errors),
		cmocka_unit_test(test_unknown_keys),
		cmocka_unit_test(test_wrong_types),
		cmocka_unit_test(test_empty_and_no_package),
		cmocka_unit_test(test_name_validation),
		cmocka_unit_test(test_name_lengths),
		cmocka_unit_test(test_expansion_bounds),
		cmocka_unit_test(test_version_validation),
		cmocka_unit_test(test_priority_validation),
		cmocka_unit_test(test_step_validation),
		cmocka_unit_test(test_test_step_validation),
		cmocka_unit_test(test_target_architecture),
		cmocka_unit_test(test_setcap_validation),
		cmocka_unit_test(test_commit_default),
		cmocka_unit_test(test_timeout),
		cmocka_unit_test(test_phase_a_targets),
		cmocka_unit_test(test_from_yaml),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
