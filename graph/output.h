/*
 * The graph as data: JSON (jansson) and Graphviz dot.  A `keep` mask (by node
 * id; NULL keeps everything) selects a subgraph: its nodes and the edges
 * between them.
 */
#ifndef RPL_OUTPUT_H
#define RPL_OUTPUT_H

#include <stdio.h>

struct json_t;
struct rpl_graph;

/* {"arch", "nodes":[{"name","kind","version","scc"}], "edges":[{"from","to","kind","dep"}]} */
struct json_t *rpl_graph_json(const struct rpl_graph *g, const char *keep);

/* A digraph, dependencies pointing right; externals dashed, images as boxes. */
void rpl_graph_dot(const struct rpl_graph *g, const char *keep, FILE *f);

/*
 * SCCs with more than one member, largest first: [{"members": [names in
 * bootstrap order], "back_edges": N, "edges": [{"from", "to", "back"}]}],
 * one edge per pair of members (`from` builds against `to`), in bootstrap
 * order of `from` then `to`; "back" when `to` comes after `from`.
 */
struct json_t *rpl_graph_cycles_json(const struct rpl_graph *g);

#endif
