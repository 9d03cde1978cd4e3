/*
 * The graph as data (graph/output.c): JSON, Graphviz dot and the cycles,
 * for the graph of a small monorepo scanned in a fresh temporary directory:
 *
 *   lib    subpackage lib-dev
 *   app    builds against lib-dev and lib (two needs, one origin) and git
 *          (nothing provides it: an external); runtime dependency on lib
 *   tool   builds against app
 *   a b c  a cycle of three;  d e  a cycle of two
 *   img    an image installing app (and lib, which app needs at run time)
 *   tool   an image named like a package
 *
 * The checks read the outputs back (jansson; dot line by line) and compare
 * them with the graph itself: every node and edge, in graph order, with
 * its kind; the `keep` mask; dot's ids, shapes and styles, one arrow per
 * pair and kind; the cycles largest first with their back edges.
 */
#include "graph/output.h"
#include "common/error.h"
#include "graph/graph.h"
#include "recipes/scan.h"

#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tests/unit/testlib.h"

#define ARCH "x86_64"

static char root[256];

struct world {
	struct rpl_scan scan;
	struct rpl_graph g;
};

static void recipe(const char *name, const char *extra)
{
	char text[2048], file[256];

	snprintf(text, sizeof(text),
	         "package:\n  name: %s\n  version: 1.0.0\n  epoch: 2\n%s"
	         "pipeline:\n  - runs: echo %s\n",
	         name, extra, name);
	snprintf(file, sizeof(file), "%s.yaml", name);
	rpl_test_write_file(root, file, text);
}

#define NEEDS(...) "environment:\n  contents:\n    packages:\n" __VA_ARGS__

static int setup(void **state)
{
	struct world *w = calloc(1, sizeof(*w));
	struct rpl_scan_opts so = { NULL, 0, 1, 0, NULL };
	struct rpl_graph_opts go = { ARCH, NULL, 0 };

	if (!w || rpl_test_mkdtemp(root, sizeof(root), "output"))
		return -1;
	rpl_test_write_file(root, ".ripple.yaml", "archs: [" ARCH "]\n");
	recipe("lib", "subpackages:\n  - name: lib-dev\n");
	recipe("app", "  dependencies:\n    runtime:\n      - lib\n" NEEDS("      - lib-dev\n"
	                                                                   "      - lib\n"
	                                                                   "      - git\n"));
	recipe("tool", NEEDS("      - app\n"));
	recipe("a", NEEDS("      - b\n"));
	recipe("b", NEEDS("      - c\n"));
	recipe("c", NEEDS("      - a\n"));
	recipe("d", NEEDS("      - e\n"));
	recipe("e", NEEDS("      - d\n"));
	rpl_test_write_file(root, "img.apko.yaml", "contents:\n  packages:\n    - app\n");
	rpl_test_write_file(root, "tool.apko.yaml", "contents:\n  packages:\n    - tool\n");
	if (rpl_scan_run(&w->scan, root, &so)) {
		print_error("scan: %s\n", rpl_errmsg());
		return -1;
	}
	for (size_t i = 0; i < w->scan.nentries; i++)
		if (w->scan.entries[i].error) {
			print_error("%s\n", w->scan.entries[i].error);
			return -1;
		}
	if (rpl_graph_build(&w->g, &w->scan, &go)) {
		print_error("graph: %s\n", rpl_errmsg());
		return -1;
	}
	*state = w;
	return 0;
}

static int teardown(void **state)
{
	struct world *w = *state;

	rpl_graph_release(&w->g);
	rpl_scan_release(&w->scan);
	free(w);
	rpl_test_remove_tree(root);
	return 0;
}

/* The node of `kind` named `name`. */
static const struct rpl_node *node(const struct rpl_graph *g, enum rpl_node_kind kind,
                                   const char *name)
{
	for (size_t i = 0; i < g->nnodes; i++)
		if (g->nodes[i]->kind == kind && !strcmp(g->nodes[i]->name, name))
			return g->nodes[i];
	fail_msg("no %s node '%s'", rpl_node_kind_name(kind), name);
	return NULL;
}

static const char *jstr(json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

/* The JSON node named `name` of `kind`, or NULL. */
static json_t *jnode(json_t *nodes, const char *kind, const char *name)
{
	size_t i;
	json_t *n;

	json_array_foreach(nodes, i, n)
	{
		if (!strcmp(jstr(n, "name"), name) && !strcmp(jstr(n, "kind"), kind))
			return n;
	}
	return NULL;
}

/* How many JSON edges go from (fk, from) to (tk, to) with edge kind `kind`. */
static size_t jedges(json_t *edges, const char *fk, const char *from, const char *tk,
                     const char *to, const char *kind)
{
	size_t i, n = 0;
	json_t *e;

	json_array_foreach(edges, i, e)
	{
		n += !strcmp(jstr(e, "from"), from) && !strcmp(jstr(e, "to"), to) &&
		     !strcmp(jstr(e, "from_kind"), fk) && !strcmp(jstr(e, "to_kind"), tk) &&
		     !strcmp(jstr(e, "kind"), kind);
	}
	return n;
}

/* ---- JSON ---------------------------------------------------------------------------- */

/* Every node in graph order and every edge, as the graph has them. */
static void test_json_is_the_graph(void **state)
{
	struct world *w = *state;
	const struct rpl_graph *g = &w->g;
	json_t *j = rpl_graph_json(g, NULL), *nodes, *edges;
	size_t nedges = 0, k = 0;

	assert_string_equal(jstr(j, "arch"), ARCH);
	nodes = json_object_get(j, "nodes");
	edges = json_object_get(j, "edges");
	assert_int_equal(json_array_size(nodes), g->nnodes);
	for (size_t i = 0; i < g->nnodes; i++) {
		const struct rpl_node *n = g->order[i];
		json_t *jn = json_array_get(nodes, i);
		assert_string_equal(jstr(jn, "name"), n->name);
		assert_string_equal(jstr(jn, "kind"), rpl_node_kind_name(n->kind));
		assert_int_equal(json_integer_value(json_object_get(jn, "scc")), n->scc);
		nedges += n->ndeps;
	}
	assert_int_equal(json_array_size(edges), nedges);
	/* Edges by source in graph order, each node's in need order. */
	for (size_t i = 0; i < g->nnodes; i++)
		for (size_t e = 0; e < g->order[i]->ndeps; e++, k++) {
			json_t *je = json_array_get(edges, k);
			const struct rpl_edge *ed = &g->order[i]->deps[e];
			assert_string_equal(jstr(je, "from"), g->order[i]->name);
			assert_string_equal(jstr(je, "to"), ed->to->name);
			assert_string_equal(jstr(je, "dep"), ed->dep);
		}

	/* Versions are "<version>-r<epoch>"; an unresolved external has a null source. */
	assert_string_equal(jstr(jnode(nodes, "package", "app"), "version"), "1.0.0-r2");
	assert_null(json_object_get(jnode(nodes, "package", "app"), "source"));
	assert_non_null(jnode(nodes, "external", "git"));
	assert_true(json_is_null(json_object_get(jnode(nodes, "external", "git"), "source")));
	assert_null(json_object_get(jnode(nodes, "external", "git"), "version"));
	/* An image and an origin of one name are two nodes. */
	assert_non_null(jnode(nodes, "image", "tool"));
	assert_non_null(jnode(nodes, "package", "tool"));
	/* A cycle's members share their component. */
	assert_int_equal(json_integer_value(json_object_get(jnode(nodes, "package", "a"), "scc")),
	                 json_integer_value(json_object_get(jnode(nodes, "package", "c"), "scc")));
	assert_int_not_equal(
	        json_integer_value(json_object_get(jnode(nodes, "package", "a"), "scc")),
	        json_integer_value(json_object_get(jnode(nodes, "package", "d"), "scc")));

	/* The edges of app: two needs met by lib, one external, one runtime. */
	assert_int_equal(jedges(edges, "package", "app", "package", "lib", "build"), 2);
	assert_int_equal(jedges(edges, "package", "app", "external", "git", "build"), 1);
	assert_int_equal(jedges(edges, "package", "app", "package", "lib", "runtime"), 1);
	assert_int_equal(jedges(edges, "image", "img", "package", "app", "image"), 1);
	assert_int_equal(jedges(edges, "image", "img", "package", "lib", "image"), 1);
	assert_int_equal(jedges(edges, "image", "tool", "package", "tool", "image"), 1);
	assert_int_equal(jedges(edges, "package", "tool", "package", "app", "build"), 1);
	{
		size_t i;
		json_t *e;
		int seen = 0;
		json_array_foreach(edges, i, e)
		{
			if (!strcmp(jstr(e, "from"), "app") && !strcmp(jstr(e, "dep"), "lib-dev")) {
				assert_string_equal(jstr(e, "via"), "environment");
				seen++;
			}
			if (!strcmp(jstr(e, "kind"), "runtime"))
				assert_null(json_object_get(e, "via"));
		}
		assert_int_equal(seen, 1);
	}
	json_decref(j);
}

/* A mask keeps its nodes and only the edges between them. */
static void test_json_keep(void **state)
{
	struct world *w = *state;
	const struct rpl_graph *g = &w->g;
	char *keep = calloc(g->nnodes, 1);
	json_t *j, *nodes, *edges;
	size_t i;
	json_t *e;

	assert_non_null(keep);
	keep[node(g, RPL_NODE_ORIGIN, "app")->id] = 1;
	keep[node(g, RPL_NODE_ORIGIN, "lib")->id] = 1;
	keep[node(g, RPL_NODE_IMAGE, "img")->id] = 1;
	j = rpl_graph_json(g, keep);
	nodes = json_object_get(j, "nodes");
	edges = json_object_get(j, "edges");
	assert_int_equal(json_array_size(nodes), 3);
	assert_non_null(jnode(nodes, "package", "app"));
	assert_non_null(jnode(nodes, "package", "lib"));
	assert_non_null(jnode(nodes, "image", "img"));
	/* app -> lib twice (build) and once (runtime), img -> app and lib (what
	 * app needs at run time); not app -> git. */
	assert_int_equal(json_array_size(edges), 5);
	json_array_foreach(edges, i, e)
	{
		assert_non_null(jnode(nodes, jstr(e, "from_kind"), jstr(e, "from")));
		assert_non_null(jnode(nodes, jstr(e, "to_kind"), jstr(e, "to")));
	}
	json_decref(j);

	/* Nothing kept: an empty graph of the arch. */
	memset(keep, 0, g->nnodes);
	j = rpl_graph_json(g, keep);
	assert_int_equal(json_array_size(json_object_get(j, "nodes")), 0);
	assert_int_equal(json_array_size(json_object_get(j, "edges")), 0);
	assert_string_equal(jstr(j, "arch"), ARCH);
	json_decref(j);
	free(keep);
}

/* ---- dot ----------------------------------------------------------------------------- */

/* The dot text of the graph with `keep`, in a malloc'd string. */
static char *dot(const struct rpl_graph *g, const char *keep)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	assert_non_null(f);
	rpl_graph_dot(g, keep, f);
	fclose(f);
	return text;
}

/* How many lines of `text` are exactly `line` (a tab before it, a newline after). */
static size_t lines(const char *text, const char *line)
{
	size_t n = 0, len = strlen(line);

	for (const char *p = text; (p = strstr(p, line)); p += len)
		n += p > text && p[-1] == '\t' && p[len] == '\n';
	return n;
}

static void test_dot(void **state)
{
	struct world *w = *state;
	const struct rpl_graph *g = &w->g;
	char *text = dot(g, NULL);
	size_t arrows = 0, decls = 0;

	assert_int_equal(
	        strncmp(text, "digraph ripple {\n\trankdir=LR;\n\tlabel=\"" ARCH "\";\n",
	                strlen("digraph ripple {\n\trankdir=LR;\n\tlabel=\"" ARCH "\";\n")),
	        0);
	assert_int_equal(strcmp(text + strlen(text) - 2, "}\n"), 0);
	/* Nodes: origins by name, images and externals with their kind; a
	 * box for images, dashed red for externals. */
	assert_int_equal(lines(text, "\"app\" [label=\"app\"];"), 1);
	assert_int_equal(lines(text, "\"image:img\" [label=\"img\",shape=box];"), 1);
	assert_int_equal(lines(text, "\"image:tool\" [label=\"tool\",shape=box];"), 1);
	assert_int_equal(lines(text, "\"tool\" [label=\"tool\"];"), 1);
	assert_int_equal(lines(text, "\"external:git\" [label=\"git\",style=dashed,color=red];"),
	                 1);
	/* Arrows: one per pair and kind, dotted for runtime, blue for images. */
	assert_int_equal(lines(text, "\"app\" -> \"lib\";"), 1);
	assert_int_equal(lines(text, "\"app\" -> \"lib\" [style=dotted];"), 1);
	assert_int_equal(lines(text, "\"app\" -> \"external:git\";"), 1);
	assert_int_equal(lines(text, "\"image:img\" -> \"app\" [color=blue];"), 1);
	assert_int_equal(lines(text, "\"image:tool\" -> \"tool\" [color=blue];"), 1);
	assert_int_equal(lines(text, "\"a\" -> \"b\";"), 1);
	assert_int_equal(lines(text, "\"c\" -> \"a\";"), 1);
	/* Every node declared once; every distinct (from, to, kind) one arrow. */
	for (const char *p = text; (p = strstr(p, " [label=")); p++)
		decls++;
	for (const char *p = text; (p = strstr(p, " -> ")); p++)
		arrows++;
	assert_int_equal(decls, g->nnodes);
	{
		size_t distinct = 0;
		for (size_t i = 0; i < g->nnodes; i++)
			for (size_t e = 0; e < g->nodes[i]->ndeps; e++) {
				const struct rpl_edge *ed = &g->nodes[i]->deps[e];
				size_t k = 0;
				while (k < e && !(g->nodes[i]->deps[k].to == ed->to &&
				                  g->nodes[i]->deps[k].kind == ed->kind))
					k++;
				distinct += k == e;
			}
		assert_int_equal(arrows, distinct);
	}
	free(text);
}

static void test_dot_keep(void **state)
{
	struct world *w = *state;
	const struct rpl_graph *g = &w->g;
	char *keep = calloc(g->nnodes, 1), *text;

	assert_non_null(keep);
	keep[node(g, RPL_NODE_ORIGIN, "tool")->id] = 1;
	keep[node(g, RPL_NODE_ORIGIN, "app")->id] = 1;
	keep[node(g, RPL_NODE_EXTERNAL, "git")->id] = 1;
	text = dot(g, keep);
	assert_int_equal(lines(text, "\"tool\" -> \"app\";"), 1);
	assert_int_equal(lines(text, "\"app\" -> \"external:git\";"), 1);
	assert_null(strstr(text, "\"lib\""));
	assert_null(strstr(text, "image:"));
	free(text);
	free(keep);
}

/* A name with a quote and a backslash (an image's file name may hold them). */
static void test_dot_quotes_names(void **state)
{
	struct rpl_scan scan;
	struct rpl_scan_opts so = { NULL, 0, 1, 0, NULL };
	struct rpl_graph_opts go = { ARCH, NULL, 0 };
	struct rpl_graph g;
	char *text;

	(void)state;
	rpl_test_write_file(root, "q\"b\\s.apko.yaml", "contents:\n  packages:\n    - lib\n");
	assert_int_equal(rpl_scan_run(&scan, root, &so), 0);
	assert_int_equal(rpl_graph_build(&g, &scan, &go), 0);
	text = dot(&g, NULL);
	/* Inside a dot string only \" and \\ may follow a backslash. */
	assert_int_equal(lines(text, "\"image:q\\\"b\\\\s\" [label=\"q\\\"b\\\\s\",shape=box];"),
	                 1);
	assert_int_equal(lines(text, "\"image:q\\\"b\\\\s\" -> \"lib\" [color=blue];"), 1);
	free(text);
	rpl_graph_release(&g);
	rpl_scan_release(&scan);
	{
		char p[512];
		snprintf(p, sizeof(p), "%s/q\"b\\s.apko.yaml", root);
		assert_int_equal(remove(p), 0);
	}
}

/* ---- cycles -------------------------------------------------------------------------- */

static const char *member(json_t *c, size_t i)
{
	return json_string_value(json_array_get(json_object_get(c, "members"), i));
}

static void test_cycles(void **state)
{
	struct world *w = *state;
	const struct rpl_graph *g = &w->g;
	json_t *a = rpl_graph_cycles_json(g), *big, *small, *e;
	size_t i, nback = 0;

	/* Only components of more than one member, the largest first. */
	assert_int_equal(json_array_size(a), 2);
	big = json_array_get(a, 0);
	small = json_array_get(a, 1);
	assert_int_equal(json_array_size(json_object_get(big, "members")), 3);
	assert_int_equal(json_array_size(json_object_get(small, "members")), 2);
	/* Members in bootstrap order: graph order. */
	for (size_t k = 0; k < 3; k++) {
		const struct rpl_node *n = node(g, RPL_NODE_ORIGIN, member(big, k));
		assert_ptr_equal(g->sccs[n->scc].members[k], n);
	}
	/* Each member builds against one other: three edges, a back edge
	 * wherever the target comes later. */
	assert_int_equal(json_array_size(json_object_get(big, "edges")), 3);
	json_array_foreach(json_object_get(big, "edges"), i, e)
	{
		const struct rpl_node *from = node(g, RPL_NODE_ORIGIN, jstr(e, "from"));
		const struct rpl_node *to = node(g, RPL_NODE_ORIGIN, jstr(e, "to"));
		int back = json_is_true(json_object_get(e, "back"));
		assert_int_equal(back, to->pos > from->pos);
		nback += (size_t)back;
	}
	assert_true(nback >= 1);
	assert_int_equal(json_integer_value(json_object_get(big, "back_edges")), nback);
	assert_int_equal(json_integer_value(json_object_get(small, "back_edges")), 1);
	assert_int_equal(json_array_size(json_object_get(small, "edges")), 2);
	json_decref(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_json_is_the_graph),
		cmocka_unit_test(test_json_keep),
		cmocka_unit_test(test_dot),
		cmocka_unit_test(test_dot_keep),
		cmocka_unit_test(test_dot_quotes_names),
		cmocka_unit_test(test_cycles),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
