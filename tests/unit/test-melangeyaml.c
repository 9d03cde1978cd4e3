/*
 * The .melange.yaml member: what it writes reads back through ripple's own
 * strict recipe parser as the same recipe: strings that YAML would take
 * for numbers or booleans are quoted, multi-line scripts stay whole, the
 * commit and the pinned environment are there, `uses:` steps keep their
 * inputs and expanded steps, disabled subpackages are left out.
 */
#include "common/error.h"
#include "recipes/melange.h"
#include "recipes/pipeline.h"
#include "runners/melangeyaml.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static const char recipe[] = "package:\n"
                             "  name: odd\n"
                             "  version: \"2.10\"\n"
                             "  epoch: 7\n"
                             "  description: \"yes\"\n"
                             "  copyright:\n"
                             "    - license: MIT\n"
                             "      attestation: \"1999\"\n"
                             "  dependencies:\n"
                             "    runtime:\n"
                             "      - \"true\"\n"
                             "    provider-priority: \"10\"\n"
                             "  options:\n"
                             "    no-provides: true\n"
                             "pipeline:\n"
                             "  - name: two lines\n"
                             "    runs: |\n"
                             "      echo ${{package.version}} > ${{targets.destdir}}/v\n"
                             "      echo 'done: yes'\n"
                             "subpackages:\n"
                             "  - name: odd-doc\n"
                             "    pipeline:\n"
                             "      - uses: strip\n"
                             "  - name: odd-never\n"
                             "    if: ${{build.arch}} == 'nowhere'\n"
                             "    pipeline:\n"
                             "      - runs: exit 1\n";

static void test_round_trip(void **state)
{
	struct rpl_pipeline_lib lib;
	struct rpl_compiled c;
	struct rpl_recipe *r, *back;
	char *const pkgs[] = { "busybox", "zlib=1.3-r0" };
	char *text;
	size_t len;

	(void)state;
	assert_int_equal(rpl_pipeline_lib_init(&lib, ".", NULL, 0), 0);
	r = rpl_recipe_parse("odd.yaml", recipe, strlen(recipe));
	assert_non_null(r);
	assert_int_equal(rpl_compile(r, &lib, "x86_64", RPL_COMPILE_STEPS, &c), 0);
	assert_int_equal(rpl_melange_yaml(r, &c, "0123456789abcdef0123456789abcdef01234567", pkgs,
	                                  2, &text, &len),
	                 0);
	assert_int_equal(strlen(text), len);
	/* A YAML reader that knows no schema reads these as strings too. */
	assert_non_null(strstr(text, "version: \"2.10\"\n"));
	assert_non_null(strstr(text, "- \"true\"\n"));
	assert_non_null(strstr(text, "provider-priority: \"10\"\n"));
	assert_non_null(strstr(text, "epoch: 7\n"));
	back = rpl_recipe_parse(".melange.yaml", text, len);
	if (!back)
		fail_msg("%s\n---\n%s", rpl_errmsg(), text);
	assert_string_equal(back->package.version.s, "2.10");
	assert_int_equal(back->package.epoch, 7);
	assert_string_equal(back->package.description.s, "yes");
	assert_string_equal(back->package.commit.s, "0123456789abcdef0123456789abcdef01234567");
	assert_string_equal(back->package.copyright[0].attestation.s, "1999");
	assert_string_equal(back->package.dependencies.runtime.v[0].s, "true");
	assert_string_equal(back->package.dependencies.provider_priority.s, "10");
	assert_true(back->package.options.no_provides);
	assert_int_equal(back->environment.contents.packages.n, 2);
	assert_string_equal(back->environment.contents.packages.v[1].s, "zlib=1.3-r0");
	assert_int_equal(back->nsteps, 1);
	/* Substituted, as melange writes the compiled pipeline. */
	assert_string_equal(back->steps[0].runs.s,
	                    "echo 2.10 > /home/build/melange-out/odd/v\necho 'done: yes'\n");
	assert_int_equal(back->nsubpackages, 1);
	assert_string_equal(back->subpackages[0].name.s, "odd-doc");
	assert_string_equal(back->subpackages[0].steps[0].uses.s, "strip");
	assert_true(back->subpackages[0].steps[0].nsteps > 0);
	rpl_recipe_free(back);
	free(text);
	rpl_compiled_release(&c);
	rpl_recipe_free(r);
	rpl_pipeline_lib_release(&lib);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
