#include "graph/output.h"
#include "common/xalloc.h"
#include "graph/graph.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

static int kept(const char *keep, const struct rpl_node *n)
{
	return !keep || keep[n->id];
}

json_t *rpl_graph_json(const struct rpl_graph *g, const char *keep)
{
	json_t *o = json_object(), *nodes = json_array(), *edges = json_array();

	json_object_set_new(o, "arch", json_string(g->arch));
	for (size_t i = 0; i < g->nnodes; i++) {
		const struct rpl_node *n = g->order[i];
		json_t *j;

		if (!kept(keep, n))
			continue;
		j = json_object();
		json_object_set_new(j, "name", json_string(n->name));
		json_object_set_new(j, "kind", json_string(rpl_node_kind_name(n->kind)));
		if (*n->version)
			json_object_set_new(j, "version", json_string(n->version));
		json_object_set_new(j, "scc", json_integer(n->scc));
		if (n->kind == RPL_NODE_EXTERNAL)
			json_object_set_new(j, "source",
			                    n->source ? json_string(n->source) : json_null());
		json_array_append_new(nodes, j);
	}
	for (size_t i = 0; i < g->nnodes; i++) {
		const struct rpl_node *n = g->order[i];

		if (!kept(keep, n))
			continue;
		for (size_t e = 0; e < n->ndeps; e++) {
			const struct rpl_edge *ed = &n->deps[e];
			json_t *j;

			if (!kept(keep, ed->to))
				continue;
			j = json_object();
			json_object_set_new(j, "from", json_string(n->name));
			json_object_set_new(j, "to", json_string(ed->to->name));
			json_object_set_new(j, "kind", json_string(rpl_edge_kind_name(ed->kind)));
			/* Names are unique per kind only (an image may be named like
			 * its package; an external like the package that needs an
			 * older copy of itself), so edges say the kinds too. */
			json_object_set_new(j, "from_kind",
			                    json_string(rpl_node_kind_name(n->kind)));
			json_object_set_new(j, "to_kind",
			                    json_string(rpl_node_kind_name(ed->to->kind)));

			json_object_set_new(j, "dep", json_string(ed->dep));
			if (ed->via)
				json_object_set_new(j, "via", json_string(ed->via));
			json_array_append_new(edges, j);
		}
	}
	json_object_set_new(o, "nodes", nodes);
	json_object_set_new(o, "edges", edges);
	return o;
}

/* `s` inside a dot string: a quote or a backslash is escaped. */
static void dot_escaped(FILE *f, const char *s)
{
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fputc('\\', f);
		fputc(*s, f);
	}
}

/* Node ids carry the kind of images and externals: names are unique per kind only. */
static void dot_id(FILE *f, const struct rpl_node *n)
{
	fputc('"', f);
	if (n->kind != RPL_NODE_ORIGIN)
		fprintf(f, "%s:", rpl_node_kind_name(n->kind));
	dot_escaped(f, n->name);
	fputc('"', f);
}

void rpl_graph_dot(const struct rpl_graph *g, const char *keep, FILE *f)
{
	fprintf(f, "digraph ripple {\n\trankdir=LR;\n\tlabel=\"%s\";\n", g->arch);
	for (size_t i = 0; i < g->nnodes; i++) {
		const struct rpl_node *n = g->order[i];

		if (!kept(keep, n))
			continue;
		fputc('\t', f);
		dot_id(f, n);
		fputs(" [label=\"", f);
		dot_escaped(f, n->name);
		fputc('"', f);
		if (n->kind == RPL_NODE_IMAGE)
			fputs(",shape=box", f);
		else if (n->kind == RPL_NODE_EXTERNAL)
			fputs(",style=dashed,color=red", f);
		fputs("];\n", f);
	}
	for (size_t i = 0; i < g->nnodes; i++) {
		const struct rpl_node *n = g->order[i];
		const struct rpl_node *last = NULL;

		if (!kept(keep, n))
			continue;
		for (size_t e = 0; e < n->ndeps; e++) {
			const struct rpl_edge *ed = &n->deps[e];

			/* One arrow per pair and kind: several needs may name one origin. */
			if (!kept(keep, ed->to) ||
			    (ed->to == last && e && n->deps[e - 1].kind == ed->kind))
				continue;
			last = ed->to;
			fputc('\t', f);
			dot_id(f, n);
			fputs(" -> ", f);
			dot_id(f, ed->to);
			if (ed->kind == RPL_EDGE_RUNTIME)
				fputs(" [style=dotted]", f);
			else if (ed->kind == RPL_EDGE_IMAGE)
				fputs(" [color=blue]", f);
			fputs(";\n", f);
		}
	}
	fputs("}\n", f);
}

static int cmp_size(const void *a, const void *b)
{
	const struct rpl_scc *x = *(const struct rpl_scc *const *)a;
	const struct rpl_scc *y = *(const struct rpl_scc *const *)b;

	if (x->n != y->n)
		return x->n > y->n ? -1 : 1;
	return strcmp(x->members[0]->name, y->members[0]->name);
}

json_t *rpl_graph_cycles_json(const struct rpl_graph *g)
{
	const struct rpl_scc **v = rpl_xmalloc((g->nsccs ? g->nsccs : 1) * sizeof(*v));
	json_t *a = json_array();
	size_t n = 0;

	for (size_t i = 0; i < g->nsccs; i++)
		if (g->sccs[i].n > 1)
			v[n++] = &g->sccs[i];
	if (n)
		qsort(v, n, sizeof(*v), cmp_size);
	for (size_t i = 0; i < n; i++) {
		json_t *c = json_object(), *m = json_array(), *edges = json_array();
		size_t nback = 0;

		for (size_t k = 0; k < v[i]->n; k++) {
			const struct rpl_node *from = v[i]->members[k];
			size_t before, after;
			struct rpl_node **to = rpl_graph_cycle_deps(g, from, &before, &after);

			json_array_append_new(m, json_string(from->name));
			for (size_t e = 0; e < before + after; e++)
				json_array_append_new(
				        edges, json_pack("{s:s,s:s,s:b}", "from", from->name, "to",
				                         to[e]->name, "back", e >= before));
			nback += after;
			free(to);
		}
		json_object_set_new(c, "members", m);
		json_object_set_new(c, "back_edges", json_integer((json_int_t)nback));
		json_object_set_new(c, "edges", edges);
		json_array_append_new(a, c);
	}
	free(v);
	return a;
}
