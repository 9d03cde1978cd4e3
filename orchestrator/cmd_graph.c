/*
 * The graph commands: text, graph, deps, rdeps, cycles, and vercmp.  Each
 * scans the monorepo, builds the graph of one architecture and prints a
 * view of it.
 */
#include "common/error.h"
#include "common/xalloc.h"
#include "graph/apkindex.h"
#include "graph/graph.h"
#include "graph/output.h"
#include "graph/version.h"
#include "orchestrator/cli.h"
#include "recipes/melange.h"
#include "recipes/scan.h"

#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct gopts {
	const char *type;   /* text -t */
	const char *format; /* graph --format */
	int deps, rdeps;
	unsigned depth;
	const char **repos;
	size_t nrepos;
	char **names;
	int nnames;
};

static const char common_help[] =
        "  -C DIR                  the monorepo root (default: .)\n"
        "  --arch A                the architecture (default: the first configured)\n"
        "  -r, --repository-append DIR|URL\n"
        "                          an apk repository whose APKINDEX resolves names the repo\n"
        "                          does not provide (repeatable; DIR/<arch>/APKINDEX.tar.gz)\n"
        "  -h, --help              show this help\n";

static void graph_opt(struct rpl_cli *cli, int opt, const char *arg, void *ctx)
{
	struct gopts *o = ctx;
	char *end;

	(void)cli;
	switch (opt) {
	case 't':
		o->type = arg;
		break;
	case 'f':
		o->format = arg;
		break;
	case 'D':
		o->deps = 1;
		break;
	case 'R':
		o->rdeps = 1;
		break;
	case 'd':
		o->depth = (unsigned)strtoul(arg, &end, 10);
		if (*end || !*arg)
			rpl_die(RPL_EXIT_USAGE, "--depth wants a number, not '%s'", arg);
		break;
	case 'r':
		o->repos = rpl_xrealloc(o->repos, (o->nrepos + 1) * sizeof(*o->repos));
		o->repos[o->nrepos++] = arg;
		break;
	}
}

static void parse(struct rpl_cli *cli, int argc, char **argv, const char *usage, struct gopts *o,
                  int want_names)
{
	static const struct option opts[] = {
		{ "type", required_argument, NULL, 't' },
		{ "format", required_argument, NULL, 'f' },
		{ "deps", no_argument, NULL, 'D' },
		{ "rdeps", no_argument, NULL, 'R' },
		{ "depth", required_argument, NULL, 'd' },
		{ "repository-append", required_argument, NULL, 'r' },
		{ NULL, 0, NULL, 0 },
	};

	optind = rpl_cli_getopt(cli, argc, argv, usage, opts, "t:r:", graph_opt, o);
	o->names = argv + optind;
	o->nnames = argc - optind;
	if (want_names >= 0 && o->nnames != want_names) {
		fprintf(stderr, "%s: expected %d argument%s\n", argv[0], want_names,
		        want_names == 1 ? "" : "s");
		rpl_cli_usage(usage, RPL_EXIT_USAGE);
	}
}

/* Scan, load the extra indexes, build the graph of the selected arch. */
static void load(struct rpl_cli *cli, struct gopts *o, struct rpl_scan *scan, struct rpl_graph *g,
                 struct rpl_apkindex **idx)
{
	struct rpl_graph_opts go = { 0 };

	/* Indexes are read after the scan, which enters the monorepo: relative
	 * repository paths are taken from where ripple was started. */
	*idx = rpl_xcalloc(o->nrepos ? o->nrepos : 1, sizeof(**idx));
	rpl_cli_scan(cli, scan, 1, NULL);
	go.arch = scan->narchs ? scan->archs[0] : "x86_64";
	for (size_t i = 0; i < o->nrepos; i++)
		if (rpl_apkindex_load(&(*idx)[i], o->repos[i], go.arch))
			rpl_die(RPL_EXIT_USAGE, "%s", rpl_errmsg());
	go.indexes = rpl_xmalloc((o->nrepos ? o->nrepos : 1) * sizeof(*go.indexes));
	for (size_t i = 0; i < o->nrepos; i++)
		((struct rpl_apkindex **)go.indexes)[i] = &(*idx)[i];
	go.nindexes = o->nrepos;
	if (rpl_graph_build(g, scan, &go))
		rpl_die(RPL_EXIT_USAGE, "%s", rpl_errmsg());
	free((void *)go.indexes);
}

static int finish(struct rpl_cli *cli, struct gopts *o, struct rpl_scan *scan, struct rpl_graph *g,
                  struct rpl_apkindex *idx)
{
	int status = scan->nerrors ? RPL_EXIT_USAGE : RPL_EXIT_OK;

	rpl_graph_release(g);
	for (size_t i = 0; i < o->nrepos; i++)
		rpl_apkindex_release(&idx[i]);
	free(idx);
	free(o->repos);
	rpl_scan_release(scan);
	(void)cli;
	return status;
}

static struct rpl_node *find_or_die(struct rpl_graph *g, const char *name)
{
	struct rpl_node *n = rpl_graph_find(g, name);

	if (!n)
		rpl_die(RPL_EXIT_USAGE, "no package or image named '%s' for %s", name, g->arch);
	return n;
}

static const char text_usage[] =
        "usage: ripple text [-t TYPE] [-C DIR] [--arch A] [-r REPO]\n"
        "\n"
        "Every package of the monorepo once, dependencies first (the build order;\n"
        "members of a cycle in bootstrap order).  TYPE is one of:\n"
        "  target (default)  make packages/<arch>/<name>-<version>-r<epoch>.apk\n"
        "  makefile          $(eval $(call build-package,<name>,<version>-<epoch>))\n"
        "  name              <name>\n"
        "  version           <version>-r<epoch>\n"
        "  name-version      <name>-<version>-r<epoch>\n"
        "\n";

int rpl_cmd_text(struct rpl_cli *cli, int argc, char **argv)
{
	struct gopts o = { .type = "target" };
	struct rpl_scan scan;
	struct rpl_graph g;
	struct rpl_apkindex *idx;
	char usage[2048];

	snprintf(usage, sizeof(usage), "%s%s", text_usage, common_help);
	parse(cli, argc, argv, usage, &o, 0);
	if (strcmp(o.type, "target") && strcmp(o.type, "makefile") && strcmp(o.type, "name") &&
	    strcmp(o.type, "version") && strcmp(o.type, "name-version"))
		rpl_die(RPL_EXIT_USAGE, "unknown text type '%s' (see ripple text --help)", o.type);
	load(cli, &o, &scan, &g, &idx);
	for (size_t i = 0; i < g.nnodes; i++) {
		const struct rpl_node *n = g.order[i];
		const struct rpl_recipe_summary *p;

		if (n->kind != RPL_NODE_ORIGIN)
			continue;
		p = n->entry->summary;
		if (!strcmp(o.type, "name"))
			printf("%s\n", n->name);
		else if (!strcmp(o.type, "version"))
			printf("%s\n", n->version);
		else if (!strcmp(o.type, "name-version"))
			printf("%s-%s\n", n->name, n->version);
		else if (!strcmp(o.type, "makefile"))
			printf("$(eval $(call build-package,%s,%s-%llu))\n", n->name, p->version.s,
			       (unsigned long long)p->epoch);
		else
			printf("make packages/%s/%s-%s.apk\n", g.arch, n->name, n->version);
	}
	return finish(cli, &o, &scan, &g, idx);
}

static const char graph_usage[] =
        "usage: ripple graph [NAME...] [--deps|--rdeps] [--depth N] [--format dot|json|text]\n"
        "                    [-C DIR] [--arch A] [-r REPO]\n"
        "\n"
        "The dependency graph of one architecture: build edges between packages,\n"
        "runtime edges, image edges, and external names nothing in the repo provides.\n"
        "With NAMEs, only those nodes and, with --deps/--rdeps, what they depend on or\n"
        "what depends on them (up to --depth steps).  JSON: {\"nodes\":[{\"name\",\"kind\",\n"
        "\"scc\"}],\"edges\":[{\"from\",\"to\",\"kind\"}]} where `from` depends on `to`.\n"
        "\n";

int rpl_cmd_graph(struct rpl_cli *cli, int argc, char **argv)
{
	struct gopts o = { .format = "dot" };
	struct rpl_scan scan;
	struct rpl_graph g;
	struct rpl_apkindex *idx;
	char usage[2048], *keep = NULL;

	snprintf(usage, sizeof(usage), "%s%s", graph_usage, common_help);
	parse(cli, argc, argv, usage, &o, -1);
	if (cli->json)
		o.format = "json";
	if (strcmp(o.format, "dot") && strcmp(o.format, "json") && strcmp(o.format, "text"))
		rpl_die(RPL_EXIT_USAGE, "unknown format '%s' (dot, json or text)", o.format);
	load(cli, &o, &scan, &g, &idx);
	if (o.nnames) {
		struct rpl_node **roots = rpl_xmalloc(o.nnames * sizeof(*roots));
		unsigned kinds = (1u << RPL_EDGE_BUILD) | (1u << RPL_EDGE_IMAGE);

		keep = rpl_xcalloc(g.nnodes ? g.nnodes : 1, 1);
		for (int i = 0; i < o.nnames; i++) {
			roots[i] = find_or_die(&g, o.names[i]);
			keep[roots[i]->id] = 1;
		}
		for (int dir = 0; dir < 2; dir++) {
			size_t n;
			struct rpl_node **c;
			if ((dir == 0 && !o.deps) || (dir == 1 && !o.rdeps))
				continue;
			c = rpl_graph_closure(&g, roots, (size_t)o.nnames,
			                      dir ? RPL_WALK_RDEPS : RPL_WALK_DEPS, kinds, o.depth,
			                      &n);
			for (size_t i = 0; i < n; i++)
				keep[c[i]->id] = 1;
			free(c);
		}
		free(roots);
	}
	if (!strcmp(o.format, "json")) {
		json_t *j = rpl_graph_json(&g, keep);
		rpl_cli_print_json(j);
		json_decref(j);
	} else if (!strcmp(o.format, "dot")) {
		rpl_graph_dot(&g, keep, stdout);
	} else {
		for (size_t i = 0; i < g.nnodes; i++) {
			const struct rpl_node *n = g.order[i];
			if (keep && !keep[n->id])
				continue;
			for (size_t e = 0; e < n->ndeps; e++)
				if (!keep || keep[n->deps[e].to->id])
					printf("%s -> %s (%s %s)\n", n->name, n->deps[e].to->name,
					       rpl_edge_kind_name(n->deps[e].kind), n->deps[e].dep);
		}
	}
	free(keep);
	return finish(cli, &o, &scan, &g, idx);
}

static const char deps_usage[] =
        "usage: %s NAME [--depth N] [--json] [-C DIR] [--arch A] [-r REPO]\n"
        "\n"
        "%s, build order, with the package each need resolved to.\n"
        "\n";

static int closure_cmd(struct rpl_cli *cli, int argc, char **argv, enum rpl_walk dir)
{
	struct gopts o = { 0 };
	struct rpl_scan scan;
	struct rpl_graph g;
	struct rpl_apkindex *idx;
	struct rpl_node *root, **c;
	char usage[2048], head[512];
	size_t n;

	snprintf(
	        head, sizeof(head), deps_usage, argv[0],
	        dir == RPL_WALK_DEPS
	                ? "What NAME needs to build (build edges, transitively; images: what they\ninstall)"
	                : "What must be rebuilt when NAME changes (packages that build against it,\ntransitively, and the images that install it)");
	snprintf(usage, sizeof(usage), "%s%s", head, common_help);
	parse(cli, argc, argv, usage, &o, 1);
	load(cli, &o, &scan, &g, &idx);
	root = find_or_die(&g, o.names[0]);
	c = rpl_graph_closure(&g, &root, 1, dir, (1u << RPL_EDGE_BUILD) | (1u << RPL_EDGE_IMAGE),
	                      o.depth, &n);
	if (cli->json) {
		json_t *a = json_array();
		for (size_t i = 0; i < n; i++) {
			json_t *j = json_object();
			json_object_set_new(j, "name", json_string(c[i]->name));
			json_object_set_new(j, "kind", json_string(rpl_node_kind_name(c[i]->kind)));
			json_array_append_new(a, j);
		}
		rpl_cli_print_json(a);
		json_decref(a);
	} else {
		for (size_t i = 0; i < n; i++)
			printf("%s%s\n", c[i]->name,
			       c[i]->kind == RPL_NODE_EXTERNAL
			               ? (c[i]->source ? " (external)" : " (external, unresolved)")
			       : c[i]->kind == RPL_NODE_IMAGE ? " (image)"
			                                      : "");
	}
	free(c);
	return finish(cli, &o, &scan, &g, idx);
}

int rpl_cmd_deps(struct rpl_cli *cli, int argc, char **argv)
{
	return closure_cmd(cli, argc, argv, RPL_WALK_DEPS);
}

int rpl_cmd_rdeps(struct rpl_cli *cli, int argc, char **argv)
{
	return closure_cmd(cli, argc, argv, RPL_WALK_RDEPS);
}

static const char cycles_usage[] =
        "usage: ripple cycles [--json] [-C DIR] [--arch A] [-r REPO]\n"
        "\n"
        "Every cycle of build dependencies (strongly connected component), largest\n"
        "first, its members in bootstrap order, each with the members it builds\n"
        "against.  A member waits for those before it (`->`); one after it is a back\n"
        "edge (`[back: ...]`): the member builds against the copy the repository\n"
        "already holds.  The order keeps back edges few (docs/graph.md).  --json\n"
        "prints [{\"members\", \"back_edges\", \"edges\": [{\"from\", \"to\", \"back\"}]}].\n"
        "\n";

/* "  name -> before...  [back: after...]" */
static void print_member(const struct rpl_graph *g, const struct rpl_node *v)
{
	size_t before, after;
	struct rpl_node **to = rpl_graph_cycle_deps(g, v, &before, &after);

	printf("  %s", v->name);
	for (size_t e = 0; e < before; e++)
		printf("%s%s", e ? " " : " -> ", to[e]->name);
	for (size_t e = before; e < before + after; e++)
		printf("%s%s", e > before ? " " : "  [back: ", to[e]->name);
	printf("%s\n", after ? "]" : "");
	free(to);
}

int rpl_cmd_cycles(struct rpl_cli *cli, int argc, char **argv)
{
	struct gopts o = { 0 };
	struct rpl_scan scan;
	struct rpl_graph g;
	struct rpl_apkindex *idx;
	char usage[2048];
	json_t *a;
	size_t i, members = 0, back = 0;
	json_t *c;

	snprintf(usage, sizeof(usage), "%s%s", cycles_usage, common_help);
	parse(cli, argc, argv, usage, &o, 0);
	load(cli, &o, &scan, &g, &idx);
	a = rpl_graph_cycles_json(&g);
	if (cli->json) {
		rpl_cli_print_json(a);
	} else {
		if (json_array_size(a))
			printf("members in bootstrap order: each waits for the members before it that "
			       "it builds\nagainst (->); a back edge goes to a member built after "
			       "it, so it builds against\nthe copy the repository already holds "
			       "([back: ...])\n");
		json_array_foreach(a, i, c)
		{
			json_t *m = json_object_get(c, "members");
			struct rpl_node *first =
			        rpl_graph_find(&g, json_string_value(json_array_get(m, 0)));
			const struct rpl_scc *s = &g.sccs[first->scc];
			size_t nback = (size_t)json_integer_value(json_object_get(c, "back_edges"));

			printf("cycle %zu: %zu packages, %zu edges within, %zu back edge%s\n",
			       i + 1, s->n, json_array_size(json_object_get(c, "edges")), nback,
			       nback == 1 ? "" : "s");
			for (size_t k = 0; k < s->n; k++)
				print_member(&g, s->members[k]);
			members += s->n;
			back += nback;
		}
		if (!json_array_size(a))
			printf("no cycles\n");
		else
			printf("%zu cycle%s, %zu packages, %zu back edge%s\n", json_array_size(a),
			       json_array_size(a) == 1 ? "" : "s", members, back,
			       back == 1 ? "" : "s");
	}
	json_decref(a);
	return finish(cli, &o, &scan, &g, idx);
}

static const char vercmp_usage[] =
        "usage: ripple vercmp A B\n"
        "\n"
        "Compare two apk versions as apk version -t does: prints <, = or >.\n"
        "An invalid version is an error (exit status 2).\n";

int rpl_cmd_vercmp(struct rpl_cli *cli, int argc, char **argv)
{
	int c;

	(void)cli;
	if (argc == 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")))
		rpl_cli_usage(vercmp_usage, 0);
	if (argc != 3)
		rpl_cli_usage(vercmp_usage, RPL_EXIT_USAGE);
	for (int i = 1; i < 3; i++)
		if (!rpl_version_valid(argv[i]))
			rpl_die(RPL_EXIT_USAGE, "'%s' is not a valid apk version", argv[i]);
	c = rpl_version_cmp(argv[1], argv[2]);
	puts(c < 0 ? "<" : c > 0 ? ">" : "=");
	return 0;
}
