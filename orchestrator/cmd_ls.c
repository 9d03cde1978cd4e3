/*
 * `ripple ls`: every recipe and image of the monorepo, one line each or as
 * one JSON array.
 */
#include "common/error.h"
#include "orchestrator/cli.h"
#include "recipes/melange.h"
#include "recipes/recipe_json.h"
#include "recipes/scan.h"

#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

static const char usage[] =
        "usage: ripple ls [-C DIR] [--arch A[,B]] [--json] [--strict]\n"
        "\n"
        "List the packages (melange recipes) and images (apko configs) of a monorepo.\n"
        "Broken recipes are reported on stderr as file:line:col: messages and the exit\n"
        "status is 2; the others are still listed unless --strict is given.\n"
        "\n"
        "  -C DIR            the monorepo root (default: .)\n"
        "  --arch A[,B]      architectures to evaluate for (default: .ripple.yaml archs, else the host's)\n"
        "  --json            print one JSON array: kind, name, file, version, epoch,\n"
        "                    subpackages, provides, archs\n"
        "  --strict          print nothing when any recipe is broken\n"
        "  -h, --help        show this help\n";

static void print_text(const struct rpl_scan *s)
{
	for (size_t i = 0; i < s->nentries; i++) {
		const struct rpl_scan_entry *e = &s->entries[i];

		if (e->summary) {
			const struct rpl_recipe_summary *p = e->summary;
			printf("package %s %s-r%llu", p->name.s, p->version.s,
			       (unsigned long long)p->epoch);
			if (p->nsubpackages)
				printf(" (+%zu subpackages)", p->nsubpackages);
			printf(" [");
			for (size_t a = 0; a < e->narchs; a++)
				printf("%s%s", a ? "," : "", e->archs[a]);
			printf("] %s\n", e->file);
		} else if (e->image) {
			printf("image %s %s\n", e->image->name, e->file);
		}
	}
}

static void ls_opt(struct rpl_cli *cli, int opt, const char *arg, void *ctx)
{
	(void)opt;
	(void)arg;
	(void)ctx;
	cli->strict = 1; /* --strict, the only option of ls's own */
}

int rpl_cmd_ls(struct rpl_cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "strict", no_argument, NULL, 's' },
		{ NULL, 0, NULL, 0 },
	};
	struct rpl_scan scan;
	int c;

	optind = rpl_cli_getopt(cli, argc, argv, usage, opts, NULL, ls_opt, NULL);
	if (optind < argc) {
		fprintf(stderr, "ripple ls: unexpected argument '%s'\n", argv[optind]);
		rpl_cli_usage(usage, RPL_EXIT_USAGE);
	}
	rpl_cli_scan(cli, &scan, 1, NULL);
	if (!(cli->strict && scan.nerrors)) {
		if (cli->json) {
			json_t *a = json_array();
			for (size_t i = 0; i < scan.nentries; i++)
				if (!scan.entries[i].error)
					json_array_append_new(
					        a, rpl_entry_summary_json(&scan.entries[i]));
			rpl_cli_print_json(a);
			json_decref(a);
		} else {
			print_text(&scan);
		}
	}
	c = scan.nerrors ? RPL_EXIT_USAGE : RPL_EXIT_OK;
	if (scan.nerrors)
		fprintf(stderr, "ripple: %zu of %zu files have errors\n", scan.nerrors,
		        scan.nentries);
	rpl_scan_release(&scan);
	return c;
}
