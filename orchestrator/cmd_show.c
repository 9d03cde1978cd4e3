/*
 * `ripple show NAME`: one package or image as ripple understands it: the
 * evaluated pipeline, build dependencies with the pipeline each came from,
 * runtime dependencies and every input file.
 */
#include "common/error.h"
#include "orchestrator/cli.h"
#include "recipes/melange.h"
#include "recipes/pipeline.h"
#include "recipes/recipe_json.h"
#include "recipes/scan.h"

#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

static const char usage[] =
        "usage: ripple show [-C DIR] [--arch A] [--json] NAME\n"
        "\n"
        "Show one package (by origin or subpackage name) or image (by name or file):\n"
        "its evaluated pipeline, build dependencies and where each comes from,\n"
        "runtime dependencies and the files its build reads.\n"
        "\n"
        "  -C DIR            the monorepo root (default: .)\n"
        "  --arch A          the architecture to evaluate for (default: the first configured)\n"
        "  --json            print one JSON object\n"
        "  -h, --help        show this help\n";

static const struct rpl_scan_entry *find(const struct rpl_scan *s, const char *name)
{
	const struct rpl_scan_entry *e = rpl_scan_find(s, name);

	if (e)
		return e;
	for (size_t i = 0; i < s->nentries; i++) {
		const struct rpl_scan_entry *x = &s->entries[i];
		if (!strcmp(x->file, name))
			return x;
		if (x->image && !strcmp(x->image->name, name))
			return x;
		if (x->summary)
			for (size_t k = 0; k < x->summary->nsubpackages; k++)
				if (!strcmp(x->summary->subpackages[k].name.s, name))
					return x;
	}
	return NULL;
}

/*
 * A recipe that failed to parse has no name to find it by; its file does:
 * `show bad` finds bad.yaml, so the user sees its error, not "no such package".
 */
static const struct rpl_scan_entry *find_broken(const struct rpl_scan *s, const char *name)
{
	for (size_t i = 0; i < s->nentries; i++) {
		const struct rpl_scan_entry *x = &s->entries[i];
		const char *base = strrchr(x->file, '/');
		size_t n = strlen(name);

		base = base ? base + 1 : x->file;
		if (x->error && !strncmp(base, name, n) &&
		    (!strcmp(base + n, ".yaml") || !strcmp(base + n, ".melange.yaml") ||
		     !strcmp(base + n, ".apko.yaml")))
			return x;
	}
	return NULL;
}

static void print_list(const char *label, json_t *arr)
{
	size_t i;
	json_t *v;

	if (!arr || !json_array_size(arr))
		return;
	printf("%s:\n", label);
	json_array_foreach(arr, i, v)
	{
		if (json_is_string(v)) {
			printf("  %s\n", json_string_value(v));
		} else {
			const char *sub = json_string_value(json_object_get(v, "subpackage"));
			printf("  %-32s via %s%s%s\n",
			       json_string_value(json_object_get(v, "name")),
			       json_string_value(json_object_get(v, "via")), sub ? " in " : "",
			       sub ? sub : "");
		}
	}
}

static void print_text(json_t *o)
{
	const char *kind = json_string_value(json_object_get(o, "kind"));

	printf("%s %s", kind, json_string_value(json_object_get(o, "name")));
	if (!strcmp(kind, "package"))
		printf(" %s-r%lld", json_string_value(json_object_get(o, "version")),
		       (long long)json_integer_value(json_object_get(o, "epoch")));
	printf("\nfile: %s\n", json_string_value(json_object_get(o, "file")));
	if (json_object_get(o, "arch"))
		printf("arch: %s\n", json_string_value(json_object_get(o, "arch")));
	print_list("subpackages", json_object_get(o, "subpackages"));
	print_list("provides", json_object_get(o, "provides"));
	print_list("packages", json_object_get(o, "packages"));
	print_list("build dependencies", json_object_get(o, "build_deps"));
	print_list("inputs", json_object_get(o, "inputs"));
}

int rpl_cmd_show(struct rpl_cli *cli, int argc, char **argv)
{
	const struct rpl_scan_entry *e;
	struct rpl_scan scan;
	const char *arch;
	int status = RPL_EXIT_OK;
	json_t *o;

	optind = rpl_cli_getopt(cli, argc, argv, usage, NULL, NULL, NULL, NULL);
	if (optind + 1 != argc) {
		fprintf(stderr, "ripple show: expected exactly one NAME\n");
		rpl_cli_usage(usage, RPL_EXIT_USAGE);
	}
	if (cli->narchs > 1)
		rpl_die(RPL_EXIT_USAGE, "show evaluates one architecture at a time, not %zu",
		        cli->narchs);
	rpl_cli_scan(cli, &scan, 1, NULL);
	e = find(&scan, argv[optind]);
	if (!e)
		e = find_broken(&scan, argv[optind]);
	if (!e) {
		fprintf(stderr, "ripple: no package or image named '%s'\n", argv[optind]);
		rpl_scan_release(&scan);
		return RPL_EXIT_USAGE;
	}
	if (e->error) {
		rpl_scan_release(&scan);
		return RPL_EXIT_USAGE;
	}
	if (rpl_scan_recompile(&scan, (struct rpl_scan_entry *)e, RPL_COMPILE_STEPS))
		rpl_die(RPL_EXIT_USAGE, "%s", rpl_errmsg());
	arch = scan.narchs ? scan.archs[0] : "x86_64";
	if (e->summary && e->narchs && cli->narchs == 0)
		arch = e->archs[0];
	o = rpl_entry_detail_json(&scan, e, arch);
	if (cli->json)
		rpl_cli_print_json(o);
	else
		print_text(o);
	json_decref(o);
	if (scan.nerrors && cli->strict)
		status = RPL_EXIT_USAGE;
	rpl_scan_release(&scan);
	return status;
}
