/*
 * The parse cache's binary encoding (recipes/cache.c): recipes parsed and
 * compiled for x86_64 and aarch64, their summaries encoded and decoded
 * again field by field; arch selection; and bytes that are not a complete
 * entry (every truncation, another version, random corruption), which must
 * give NULL and never crash.  Run under ASan for the last.  The repository
 * pipelines are tests/fixtures/cache/pipelines/.
 */
#include "recipes/cache.h"
#include "common/error.h"
#include "recipes/melange.h"
#include "recipes/pipeline.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define N(a) (sizeof(a) / sizeof(*(a)))
#define FIX RPL_FIXTURES "/cache"

static struct rpl_pipeline_lib lib;

static const char *const both[] = { "x86_64", "aarch64" };

/*
 * Everything the format carries: identity with a position, epoch, timeout,
 * resources (cpu and memory, with positions),
 * every dependency field, target archs, a range (so nstatic differs from
 * nsubpackages), subpackage conditions by arch and by range value, needs
 * from the environment, repo pipelines (nested), built-ins, inline steps,
 * an arch-conditional step and subpackage pipelines.
 */
static const char full_recipe[] =
        "package:\n"
        "  name: hello\n"
        "  version: 1.2.3\n"
        "  epoch: 4\n"
        "  description: not carried by the cache\n"
        "  url: https://example.com/hello\n"
        "  timeout: 1h30m\n"
        "  resources:\n"
        "    cpu: \"2\"\n"
        "    memory: 4Gi\n"
        "  target-architecture:\n"
        "    - x86_64\n"
        "    - aarch64\n"
        "  dependencies:\n"
        "    runtime:\n"
        "      - libfoo\n"
        "      - so:libbar.so.1\n"
        "    provides:\n"
        "      - greeter=1.2.3\n"
        "      - cmd:hello=1.2.3\n"
        "    replaces:\n"
        "      - oldhello\n"
        "    provider-priority: 10\n"
        "    replaces-priority: 5\n"
        "environment:\n"
        "  contents:\n"
        "    packages:\n"
        "      - build-base\n"
        "      - busybox\n"
        "data:\n"
        "  - name: flavours\n"
        "    items:\n"
        "      mild: '1'\n"
        "      hot: '0'\n"
        "pipeline:\n"
        "  - uses: local/build\n"
        "  - uses: fetch\n"
        "    with:\n"
        "      uri: https://example.com/hello-${{package.version}}.tar.gz\n"
        "      expected-sha256: 0000000000000000000000000000000000000000000000000000000000000000\n"
        "  - name: inline\n"
        "    runs: echo inline\n"
        "    needs:\n"
        "      packages:\n"
        "        - inline-tool\n"
        "  - if: ${{build.arch}} == 'aarch64'\n"
        "    runs: echo arm only\n"
        "    needs:\n"
        "      packages:\n"
        "        - arm-tool\n"
        "subpackages:\n"
        "  - name: hello-dev\n"
        "    if: ${{build.arch}} == 'x86_64'\n"
        "    description: headers\n"
        "    dependencies:\n"
        "      runtime:\n"
        "        - hello\n"
        "      provides:\n"
        "        - hello-headers\n"
        "      replaces:\n"
        "        - hello-include\n"
        "      provider-priority: 3\n"
        "      replaces-priority: 7\n"
        "    pipeline:\n"
        "      - uses: local/split\n"
        "      - runs: echo dev\n"
        "        needs:\n"
        "          packages:\n"
        "            - dev-tool\n"
        "  - range: flavours\n"
        "    name: hello-${{range.key}}\n"
        "    if: \"'${{range.value}}' != '0'\"\n"
        "    dependencies:\n"
        "      runtime:\n"
        "        - hello-base-${{range.key}}\n"
        "  - name: hello-doc\n"
        "    pipeline:\n"
        "      - uses: strip\n";

/* No repository pipeline, so no pipeline files, but needs; every arch. */
static const char repoless_recipe[] = "package:\n"
                                      "  name: tool\n"
                                      "  version: 0.1\n"
                                      "  epoch: 0\n"
                                      "pipeline:\n"
                                      "  - uses: strip\n"
                                      "  - runs: make\n"
                                      "    needs:\n"
                                      "      packages:\n"
                                      "        - make\n"
                                      "        - gcc\n";

static const char x86_only_recipe[] = "package:\n"
                                      "  name: x86-only\n"
                                      "  version: 2\n"
                                      "  epoch: 1\n"
                                      "  target-architecture:\n"
                                      "    - x86_64\n"
                                      "pipeline:\n"
                                      "  - runs: true\n";

/* A recipe parsed, compiled for the archs it builds among `both`, summarized and encoded. */
struct entry {
	struct rpl_recipe *r;
	struct rpl_recipe_summary *sum;
	const char *archs[N(both)];
	size_t narchs;
	struct rpl_compiled c[N(both)];
	unsigned char *enc;
	size_t len;
};

static void entry_make(struct entry *e, const char *file, const char *text)
{
	memset(e, 0, sizeof(*e));
	e->r = rpl_recipe_parse(file, text, strlen(text));
	if (!e->r)
		fail_msg("%s does not parse: %s", file, rpl_errmsg());
	e->narchs = rpl_recipe_archs(&e->r->package.target_architecture, both, N(both), e->archs);
	for (size_t i = 0; i < e->narchs; i++) {
		int err = rpl_compile(e->r, &lib, e->archs[i], 0, &e->c[i]);
		if (err)
			fail_msg("%s does not compile for %s: %s", file, e->archs[i], rpl_errmsg());
	}
	e->sum = rpl_recipe_summarize(e->r, 0);
	e->enc = rpl_cache_encode(e->sum, e->c, e->narchs, &e->len);
	assert_non_null(e->enc);
	assert_true(e->len > 4);
}

static void entry_release(struct entry *e)
{
	for (size_t i = 0; i < e->narchs; i++)
		rpl_compiled_release(&e->c[i]);
	rpl_recipe_summary_free(e->sum);
	rpl_recipe_free(e->r);
	free(e->enc);
}

/* What rpl_cache_decode gives. */
struct decoded {
	struct rpl_recipe_summary *r;
	const char **archs;
	size_t narchs;
	struct rpl_compiled *c;
};

static struct rpl_recipe_summary *decode(const void *p, size_t len, const char *const *sel,
                                         size_t nsel, struct decoded *d)
{
	d->archs = NULL;
	d->narchs = 0;
	d->c = NULL;
	d->r = rpl_cache_decode(p, len, "decoded/file.yaml", sel, nsel, &d->archs, &d->narchs,
	                        &d->c);
	return d->r;
}

static void decoded_release(struct decoded *d)
{
	if (!d->r)
		return;
	for (size_t i = 0; i < d->narchs; i++)
		rpl_compiled_release(&d->c[i]);
	free(d->c);
	rpl_recipe_summary_free(d->r);
	d->r = NULL;
}

/* ---- comparisons --------------------------------------------------------- */

static void str_eq(const char *what, const char *want, const char *got)
{
	if (!want && !got)
		return;
	if (!want || !got || strcmp(want, got))
		fail_msg("%s: got %s%s%s, want %s%s%s", what, got ? "'" : "", got ? got : "NULL",
		         got ? "'" : "", want ? "'" : "", want ? want : "NULL", want ? "'" : "");
}

static void list_eq(const char *what, const struct rpl_textlist *want,
                    const struct rpl_textlist *got)
{
	char w[128];

	if (want->n != got->n)
		fail_msg("%s: %zu entries, want %zu", what, got->n, want->n);
	for (size_t i = 0; i < want->n; i++) {
		snprintf(w, sizeof(w), "%s[%zu]", what, i);
		str_eq(w, want->v[i].s, got->v[i].s);
	}
}

static void deps_eq(const char *what, const struct rpl_dependencies *want,
                    const struct rpl_dependencies *got)
{
	char w[128];

	snprintf(w, sizeof(w), "%s runtime", what);
	list_eq(w, &want->runtime, &got->runtime);
	snprintf(w, sizeof(w), "%s provides", what);
	list_eq(w, &want->provides, &got->provides);
	snprintf(w, sizeof(w), "%s replaces", what);
	list_eq(w, &want->replaces, &got->replaces);
	snprintf(w, sizeof(w), "%s provider-priority", what);
	str_eq(w, want->provider_priority.s, got->provider_priority.s);
	snprintf(w, sizeof(w), "%s replaces-priority", what);
	str_eq(w, want->replaces_priority.s, got->replaces_priority.s);
}

/* Every field the format carries. */
static void recipe_eq(const struct rpl_recipe_summary *w, const struct rpl_recipe_summary *g)
{
	str_eq("file", "decoded/file.yaml", g->file);
	str_eq("name", w->name.s, g->name.s);
	assert_int_equal(g->name.line, w->name.line);
	assert_int_equal(g->name.col, w->name.col);
	str_eq("version", w->version.s, g->version.s);
	assert_int_equal(g->epoch, w->epoch);
	str_eq("timeout", w->timeout.s, g->timeout.s);
	assert_int_equal(g->timeout_seconds, w->timeout_seconds);
	str_eq("cpu", w->cpu.s, g->cpu.s);
	assert_int_equal(g->cpu.line, w->cpu.line);
	assert_int_equal(g->cpu.col, w->cpu.col);
	str_eq("memory", w->memory.s, g->memory.s);
	assert_int_equal(g->memory.line, w->memory.line);
	deps_eq("package", &w->dependencies, &g->dependencies);
	list_eq("target-architecture", &w->target_architecture, &g->target_architecture);

	assert_int_equal(g->nsubpackages_static, w->nsubpackages_static);
	assert_int_equal(g->nsubpackages, w->nsubpackages);
	for (size_t i = 0; i < w->nsubpackages; i++) {
		const struct rpl_subpackage_summary *ws = &w->subpackages[i],
		                                    *gs = &g->subpackages[i];
		char what[64];

		snprintf(what, sizeof(what), "subpackage %zu", i);
		str_eq(what, ws->name.s, gs->name.s);
		assert_int_equal(gs->line, ws->line);
		assert_int_equal(gs->col, ws->col);
		str_eq("subpackage if", ws->if_.s, gs->if_.s);
		deps_eq(what, &ws->dependencies, &gs->dependencies);
	}
}

static void compiled_eq(const struct rpl_compiled *want, const struct rpl_compiled *got)
{
	char what[128];

	str_eq("arch", want->arch, got->arch);
	if (got->nneeds != want->nneeds)
		fail_msg("%s: %zu needs, want %zu", want->arch, got->nneeds, want->nneeds);
	for (size_t i = 0; i < want->nneeds; i++) {
		snprintf(what, sizeof(what), "%s need %zu name", want->arch, i);
		str_eq(what, want->needs[i].name, got->needs[i].name);
		snprintf(what, sizeof(what), "%s need %zu via", want->arch, i);
		str_eq(what, want->needs[i].via, got->needs[i].via);
		snprintf(what, sizeof(what), "%s need %zu subpackage", want->arch, i);
		str_eq(what, want->needs[i].subpackage, got->needs[i].subpackage);
	}
	if (got->nsubs != want->nsubs)
		fail_msg("%s: %zu subs, want %zu", want->arch, got->nsubs, want->nsubs);
	for (size_t i = 0; i < want->nsubs; i++) {
		snprintf(what, sizeof(what), "%s sub %zu", want->arch, i);
		str_eq(what, want->subs[i].name, got->subs[i].name);
		if (!got->subs[i].enabled != !want->subs[i].enabled)
			fail_msg("%s enabled: %d, want %d", what, got->subs[i].enabled,
			         want->subs[i].enabled);
	}
	if (got->npipeline_files != want->npipeline_files)
		fail_msg("%s: %zu pipeline files, want %zu", want->arch, got->npipeline_files,
		         want->npipeline_files);
	for (size_t i = 0; i < want->npipeline_files; i++) {
		snprintf(what, sizeof(what), "%s pipeline file %zu", want->arch, i);
		str_eq(what, want->pipeline_files[i], got->pipeline_files[i]);
	}
}

/* Decodes `e` for both archs and compares everything; the re-encoding is byte-identical. */
static void roundtrip(const struct entry *e)
{
	struct decoded d;
	unsigned char *again;
	size_t len;

	if (!decode(e->enc, e->len, both, N(both), &d))
		fail_msg("%s: a fresh encoding does not decode", e->r->package.name.s);
	recipe_eq(e->sum, d.r);
	assert_int_equal(d.narchs, e->narchs);
	for (size_t i = 0; i < e->narchs; i++) {
		str_eq("decoded arch", e->archs[i], d.archs[i]);
		compiled_eq(&e->c[i], &d.c[i]);
	}
	again = rpl_cache_encode(d.r, d.c, d.narchs, &len);
	assert_int_equal(len, e->len);
	assert_memory_equal(again, e->enc, len);
	free(again);
	decoded_release(&d);
}

/* ---- the cases ------------------------------------------------------------ */

static int need_index(const struct rpl_compiled *c, const char *name, const char *sub)
{
	for (size_t i = 0; i < c->nneeds; i++)
		if (!strcmp(c->needs[i].name, name) &&
		    (sub ? c->needs[i].subpackage && !strcmp(c->needs[i].subpackage, sub)
		         : !c->needs[i].subpackage))
			return (int)i;
	return -1;
}

/*
 * The full recipe: first that the parse and compiles hold what the case is
 * meant to exercise, then that the cache gives all of it back.
 */
static void test_roundtrip_full(void **state)
{
	struct entry e;
	const struct rpl_recipe_summary *s;

	(void)state;
	entry_make(&e, "hello.yaml", full_recipe);
	s = e.sum;
	assert_int_equal(e.narchs, 2);
	assert_string_equal(s->name.s, "hello");
	assert_int_equal(s->name.line, 2);
	assert_int_equal(s->name.col, 9);
	assert_int_equal(s->epoch, 4);
	assert_int_equal(s->timeout_seconds, 5400);
	assert_string_equal(s->cpu.s, "2");
	assert_int_equal(s->cpu.line, 9);
	assert_int_equal(s->cpu.col, 10);
	assert_string_equal(s->memory.s, "4Gi");
	assert_string_equal(s->dependencies.provider_priority.s, "10");
	assert_int_equal(s->nsubpackages_static, 3);
	assert_int_equal(s->nsubpackages, 4);
	assert_string_equal(s->subpackages[0].if_.s, "${{build.arch}} == 'x86_64'");
	assert_string_equal(s->subpackages[0].dependencies.replaces_priority.s, "7");
	assert_int_equal(s->subpackages[0].line, 52);
	assert_int_equal(s->subpackages[0].col, 5);
	assert_int_equal(s->subpackages[3].if_.s[0], '\0');

	/* x86_64 then aarch64: the conditions differ by arch and by range. */
	assert_string_equal(e.c[0].arch, "x86_64");
	assert_int_equal(e.c[0].nsubs, 4);
	assert_int_equal(e.c[0].subs[0].enabled, 1);
	assert_int_equal(e.c[1].subs[0].enabled, 0);
	for (size_t k = 0; k < 2; k++) {
		int sub_need = need_index(&e.c[k], "splitter", "hello-dev");

		assert_int_equal(e.c[k].npipeline_files, 3);
		assert_string_equal(e.c[k].pipeline_files[0], "pipelines/local/build.yaml");
		assert_string_equal(e.c[k].pipeline_files[1], "pipelines/local/helper.yaml");
		assert_string_equal(e.c[k].pipeline_files[2], "pipelines/local/split.yaml");
		assert_true(sub_need >= 0);
		assert_string_equal(e.c[k].needs[sub_need].via, "local/split");
		assert_true(need_index(&e.c[k], "build-base", NULL) >= 0);
		assert_true(need_index(&e.c[k], "helper-tool", NULL) >= 0);
		assert_true(need_index(&e.c[k], "wget", NULL) >= 0);
	}
	assert_int_equal(need_index(&e.c[0], "arm-tool", NULL), -1);
	assert_true(need_index(&e.c[1], "arm-tool", NULL) >= 0);
	assert_true(e.c[1].nneeds > e.c[0].nneeds);
	/* Range keys in byte order: hello-hot (value '0') is disabled everywhere. */
	for (size_t k = 0; k < 2; k++) {
		assert_string_equal(e.c[k].subs[1].name, "hello-hot");
		assert_int_equal(e.c[k].subs[1].enabled, 0);
		assert_string_equal(e.c[k].subs[2].name, "hello-mild");
		assert_int_equal(e.c[k].subs[2].enabled, 1);
		assert_string_equal(e.c[k].subs[3].name, "hello-doc");
		assert_int_equal(e.c[k].subs[3].enabled, 1);
	}

	roundtrip(&e);
	entry_release(&e);
}

static void test_roundtrip_repoless(void **state)
{
	struct entry e;

	(void)state;
	entry_make(&e, "tool.yaml", repoless_recipe);
	assert_int_equal(e.narchs, 2);
	assert_int_equal(e.sum->target_architecture.n, 0);
	assert_int_equal(e.sum->nsubpackages, 0);
	for (size_t k = 0; k < 2; k++) {
		assert_int_equal(e.c[k].npipeline_files, 0);
		assert_int_equal(e.c[k].nsubs, 0);
		assert_true(need_index(&e.c[k], "scanelf", NULL) >= 0);
		assert_true(need_index(&e.c[k], "gcc", NULL) >= 0);
	}
	roundtrip(&e);
	entry_release(&e);
}

static void test_roundtrip_x86_only(void **state)
{
	struct entry e;

	(void)state;
	entry_make(&e, "x86-only.yaml", x86_only_recipe);
	assert_int_equal(e.narchs, 1);
	assert_string_equal(e.archs[0], "x86_64");
	assert_string_equal(e.sum->timeout.s, "");
	roundtrip(&e);
	entry_release(&e);
}

/* The summary holds what the recipe says, in strings and arrays of its own. */
static void test_summary_is_the_recipes(void **state)
{
	struct entry e;
	const struct rpl_package *p;
	const struct rpl_recipe_summary *s;

	(void)state;
	entry_make(&e, "hello.yaml", full_recipe);
	p = &e.r->package;
	s = e.sum;
	str_eq("file", e.r->file, s->file);
	assert_ptr_not_equal(s->file, e.r->file);
	str_eq("name", p->name.s, s->name.s);
	assert_ptr_not_equal(s->name.s, p->name.s);
	str_eq("version", p->version.s, s->version.s);
	str_eq("timeout", p->timeout.s, s->timeout.s);
	str_eq("cpu", p->resources.cpu.s, s->cpu.s);
	assert_int_equal(s->memory.line, p->resources.memory.line);
	deps_eq("package", &p->dependencies, &s->dependencies);
	assert_ptr_not_equal(s->dependencies.runtime.v, p->dependencies.runtime.v);
	list_eq("target-architecture", &p->target_architecture, &s->target_architecture);
	assert_int_equal(s->nsubpackages, e.r->nsubpackages);
	for (size_t i = 0; i < s->nsubpackages; i++) {
		str_eq("subpackage", e.r->subpackages[i].name.s, s->subpackages[i].name.s);
		str_eq("subpackage if", e.r->subpackages[i].if_.s, s->subpackages[i].if_.s);
		deps_eq("subpackage", &e.r->subpackages[i].dependencies,
		        &s->subpackages[i].dependencies);
		assert_int_equal(s->subpackages[i].line, e.r->subpackages[i].line);
	}
	/* It outlives the recipe. */
	rpl_recipe_free(e.r);
	e.r = NULL;
	assert_string_equal(s->name.s, "hello");
	assert_string_equal(s->subpackages[0].if_.s, "${{build.arch}} == 'x86_64'");
	entry_release(&e);
}

static void test_select_archs(void **state)
{
	static const char *const x86[] = { "x86_64" };
	static const char *const arm[] = { "aarch64" };
	static const char *const reversed[] = { "aarch64", "x86_64" };
	static const char *const riscv[] = { "riscv64" };
	static const char *const with_riscv[] = { "x86_64", "riscv64" };
	struct entry hello, tool, x86only;
	struct decoded d;

	(void)state;
	entry_make(&hello, "hello.yaml", full_recipe);
	entry_make(&tool, "tool.yaml", repoless_recipe);
	entry_make(&x86only, "x86-only.yaml", x86_only_recipe);

	/* Only the arch asked for, though the entry holds two. */
	assert_non_null(decode(hello.enc, hello.len, x86, 1, &d));
	assert_int_equal(d.narchs, 1);
	assert_string_equal(d.archs[0], "x86_64");
	compiled_eq(&hello.c[0], &d.c[0]);
	decoded_release(&d);

	assert_non_null(decode(hello.enc, hello.len, arm, 1, &d));
	assert_int_equal(d.narchs, 1);
	assert_string_equal(d.archs[0], "aarch64");
	compiled_eq(&hello.c[1], &d.c[0]);
	decoded_release(&d);

	/* In the order asked for, each with its own compile. */
	assert_non_null(decode(hello.enc, hello.len, reversed, 2, &d));
	assert_int_equal(d.narchs, 2);
	assert_string_equal(d.archs[0], "aarch64");
	assert_string_equal(d.archs[1], "x86_64");
	compiled_eq(&hello.c[1], &d.c[0]);
	compiled_eq(&hello.c[0], &d.c[1]);
	decoded_release(&d);

	/* An arch the recipe does not build for is no arch, not a miss. */
	assert_non_null(decode(hello.enc, hello.len, riscv, 1, &d));
	assert_int_equal(d.narchs, 0);
	decoded_release(&d);
	assert_non_null(decode(x86only.enc, x86only.len, arm, 1, &d));
	assert_int_equal(d.narchs, 0);
	recipe_eq(x86only.sum, d.r);
	decoded_release(&d);
	assert_non_null(decode(x86only.enc, x86only.len, both, 2, &d));
	assert_int_equal(d.narchs, 1);
	assert_string_equal(d.archs[0], "x86_64");
	decoded_release(&d);
	assert_non_null(decode(tool.enc, tool.len, NULL, 0, &d));
	assert_int_equal(d.narchs, 0);
	decoded_release(&d);

	/* An arch it builds for but the entry lacks: the caller must parse. */
	assert_null(decode(tool.enc, tool.len, riscv, 1, &d));
	assert_null(decode(tool.enc, tool.len, with_riscv, 2, &d));

	entry_release(&x86only);
	entry_release(&tool);
	entry_release(&hello);
}

/* Every proper prefix of an entry is incomplete; each copy is exactly its size (ASan). */
static void test_truncations(void **state)
{
	struct entry es[3];
	struct decoded d;

	(void)state;
	entry_make(&es[0], "hello.yaml", full_recipe);
	entry_make(&es[1], "tool.yaml", repoless_recipe);
	entry_make(&es[2], "x86-only.yaml", x86_only_recipe);
	for (size_t k = 0; k < N(es); k++) {
		for (size_t n = 0; n < es[k].len; n++) {
			unsigned char *p = malloc(n ? n : 1);

			assert_non_null(p);
			memcpy(p, es[k].enc, n);
			if (decode(p, n, both, N(both), &d)) {
				decoded_release(&d);
				fail_msg("%s: the first %zu of %zu bytes decode",
				         es[k].r->package.name.s, n, es[k].len);
			}
			free(p);
		}
		entry_release(&es[k]);
	}
}

static void test_version_mismatch(void **state)
{
	static const uint32_t versions[] = { 0, 1, 2, 3, 5, 0x104, 0x04000000, UINT32_MAX };
	struct entry e;
	struct decoded d;

	(void)state;
	entry_make(&e, "hello.yaml", full_recipe);
	assert_int_equal(e.enc[0], 4);
	assert_int_equal(e.enc[1] | e.enc[2] | e.enc[3], 0);
	for (size_t i = 0; i < N(versions); i++) {
		for (int b = 0; b < 4; b++)
			e.enc[b] = (unsigned char)(versions[i] >> (8 * b));
		if (decode(e.enc, e.len, both, N(both), &d)) {
			decoded_release(&d);
			fail_msg("version %#x decodes", versions[i]);
		}
	}
	e.enc[0] = 4;
	e.enc[1] = e.enc[2] = e.enc[3] = 0;
	assert_non_null(decode(e.enc, e.len, both, N(both), &d));
	decoded_release(&d);
	entry_release(&e);
}

static uint64_t rng_state;

static uint64_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

/* Touches every string of a decoded entry, so ASan sees any bad pointer. */
static size_t walk(const struct decoded *d, const char *const *sel, size_t nsel)
{
	const struct rpl_recipe_summary *r = d->r;
	size_t sum = strlen(r->file) + strlen(r->name.s) + strlen(r->version.s);

	for (size_t i = 0; i < r->dependencies.runtime.n; i++)
		sum += strlen(r->dependencies.runtime.v[i].s);
	for (size_t i = 0; i < r->nsubpackages; i++)
		sum += strlen(r->subpackages[i].name.s) + strlen(r->subpackages[i].if_.s) +
		       strlen(r->subpackages[i].dependencies.provider_priority.s);
	for (size_t k = 0; k < d->narchs; k++) {
		const struct rpl_compiled *c = &d->c[k];
		int asked = 0;

		for (size_t j = 0; j < nsel; j++)
			asked |= !strcmp(sel[j], d->archs[k]);
		if (!asked)
			fail_msg("decoded arch '%s' was not asked for", d->archs[k]);
		str_eq("compiled arch", d->archs[k], c->arch);
		for (size_t i = 0; i < c->nneeds; i++)
			sum += strlen(c->needs[i].name) + strlen(c->needs[i].via) +
			       (c->needs[i].subpackage ? strlen(c->needs[i].subpackage) : 0);
		for (size_t i = 0; i < c->nsubs; i++)
			sum += strlen(c->subs[i].name);
		for (size_t i = 0; i < c->npipeline_files; i++)
			sum += strlen(c->pipeline_files[i]);
	}
	return sum;
}

/*
 * Random damage: overwritten bytes, counts and lengths set to extremes,
 * truncation.  Any result is acceptable but a crash, a leak or a decoded
 * entry that breaks its own invariants.
 */
static void test_corruption(void **state)
{
	static const uint32_t nasty[] = { 0, 1, 0x7fffffff, 0xfffffffe, UINT32_MAX, 0x10000 };
	struct entry es[3];
	struct decoded d;
	size_t ndecoded = 0;

	(void)state;
	entry_make(&es[0], "hello.yaml", full_recipe);
	entry_make(&es[1], "tool.yaml", repoless_recipe);
	entry_make(&es[2], "x86-only.yaml", x86_only_recipe);
	rng_state = 0x5eed5eed12345678ULL;
	for (int it = 0; it < 2000; it++) {
		const struct entry *e = &es[it % 3];
		size_t len = e->len, nsel = 1 + rng() % 2;
		const char *const *sel = nsel == 2 ? both : &both[rng() % 2];
		unsigned char *p;
		int nflips = 1 + (int)(rng() % 4);

		if (rng() % 4 == 0)
			len -= rng() % len;
		p = malloc(len);
		assert_non_null(p);
		memcpy(p, e->enc, len);
		for (int f = 0; f < nflips; f++) {
			/* Byte 0 stays 3 mostly, so damage reaches past the version. */
			size_t at = len > 4 ? 4 + rng() % (len - 4) : 0;
			if (rng() % 2 || at + 4 > len) {
				p[at] = (unsigned char)rng();
			} else {
				uint32_t v = nasty[rng() % N(nasty)];
				for (int b = 0; b < 4; b++)
					p[at + (size_t)b] = (unsigned char)(v >> (8 * b));
			}
		}
		if (decode(p, len, sel, nsel, &d)) {
			ndecoded++;
			walk(&d, sel, nsel);
			decoded_release(&d);
		}
		free(p);
	}
	/* Damage inside string bytes leaves a decodable entry: the loop reached both outcomes. */
	print_message("%zu of 2000 damaged entries decoded\n", ndecoded);
	assert_true(ndecoded > 0);
	assert_true(ndecoded < 2000);
	for (size_t k = 0; k < N(es); k++)
		entry_release(&es[k]);
}

static int setup(void **state)
{
	const char *const dirs[] = { "pipelines" };

	(void)state;
	if (rpl_pipeline_lib_init(&lib, FIX, dirs, N(dirs))) {
		print_error("cannot load %s: %s\n", FIX, rpl_errmsg());
		return -1;
	}
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	rpl_pipeline_lib_release(&lib);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip_full),
		cmocka_unit_test(test_roundtrip_repoless),
		cmocka_unit_test(test_roundtrip_x86_only),
		cmocka_unit_test(test_summary_is_the_recipes),
		cmocka_unit_test(test_select_archs),
		cmocka_unit_test(test_truncations),
		cmocka_unit_test(test_version_mismatch),
		cmocka_unit_test(test_corruption),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
