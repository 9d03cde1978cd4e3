/*
 * The melange recipe reader (recipes/melange.h): strict decode, vars and
 * var-transforms, substitution, range expansion and validation; then what a
 * scan does with a recipe that parses (its archs, its summary) and the
 * compile of its pipelines against ripple's built-in pipelines, for two
 * archs, once without and once with the step trees kept.
 */
#include "tests/fuzz/fuzz.h"
#include "common/error.h"
#include "recipes/melange.h"
#include "recipes/pipeline.h"

#include <stdlib.h>
#include <string.h>

static struct rpl_pipeline_lib lib;

static void release_lib(void)
{
	rpl_pipeline_lib_release(&lib);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	/* No repo dirs: only the built-ins, which are compiled into the binary. */
	if (rpl_pipeline_lib_init(&lib, ".", NULL, 0))
		rpl_fuzz_fail(__FILE__, __LINE__, "cannot load the built-in pipelines");
	atexit(release_lib);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const archs[] = { "x86_64", "aarch64" };
	const char *selected[2];
	struct rpl_recipe *r;
	struct rpl_recipe_summary *sum;
	size_t n;

	r = rpl_recipe_parse("fuzz.yaml", (const char *)data, size);
	if (!r)
		goto out;
	rpl_recipe_full_version(r);
	sum = rpl_recipe_summarize(r, 0);
	RPL_FUZZ_CHECK(sum != NULL && !strcmp(sum->name.s, r->package.name.s),
	               "rpl_recipe_summarize lost the name");
	rpl_recipe_summary_free(sum);
	n = rpl_recipe_archs(&r->package.target_architecture, archs, 2, selected);
	RPL_FUZZ_CHECK(n <= 2, "rpl_recipe_archs selected more archs than it was given");
	for (size_t i = 0; i < n; i++) {
		struct rpl_compiled c;

		rpl_compile(r, &lib, selected[i], i ? RPL_COMPILE_STEPS : 0, &c);
		rpl_compiled_release(&c);
	}
	rpl_recipe_free(r);
out:
	rpl_error_clear();
	return 0;
}
