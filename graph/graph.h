/*
 * The build graph of one architecture: a node per origin (recipe), image and
 * external name; edges from a node to what it depends on.
 *
 *   build    origin -> origin whose (sub)package satisfies a build need
 *            origin -> external for a need nothing in the repo provides
 *   runtime  origin -> origin for the runtime dependencies of its packages
 *   image    image  -> every origin whose packages it installs, following
 *            runtime dependencies through the repo
 *
 * Names resolve with apk's rules (graph/resolve.h).  Build edges decide the
 * order: strongly connected components (Tarjan) are found, the condensation
 * is sorted topologically, dependencies first, and the members of each
 * component are ordered by the bootstrap policy (graph.c).  Every build or
 * image edge then points to a node earlier in graph order, except a cycle's
 * back edges: from a member to one after it, met by the copy a repository
 * already holds rather than waited for.  All nodes, edges and strings live
 * in the graph's arena.
 */
#ifndef RPL_GRAPH_H
#define RPL_GRAPH_H

#include "common/arena.h"
#include "common/strmap.h"

#include <stddef.h>
#include <stdint.h>

struct rpl_scan;
struct rpl_scan_entry;
struct rpl_apkindex;

enum rpl_node_kind { RPL_NODE_ORIGIN, RPL_NODE_IMAGE, RPL_NODE_EXTERNAL };
enum rpl_edge_kind { RPL_EDGE_BUILD, RPL_EDGE_RUNTIME, RPL_EDGE_IMAGE };

struct rpl_node;

struct rpl_edge {
	struct rpl_node *to; /* the dependency */
	enum rpl_edge_kind kind;
	const char *dep;        /* the need as written: "git", "so:libz.so.1", "go>=1.22" */
	const char *provider;   /* the package that satisfies it (a subpackage, say), or NULL */
	const char *via;        /* build: "environment" or the pipeline; else NULL */
	const char *subpackage; /* build: the subpackage whose pipeline needs it, or NULL */
};

struct rpl_node {
	enum rpl_node_kind kind;
	const char *name;
	const char *version; /* origins: "<version>-r<epoch>"; resolved externals: the index's */
	const struct rpl_scan_entry *entry; /* NULL for externals */
	const char *source;    /* externals: the index that provides it, NULL when unresolved */
	uint32_t id;           /* index in graph.nodes */
	uint32_t scc;          /* index in graph.sccs */
	uint32_t pos;          /* index in graph.order */
	struct rpl_edge *deps; /* what this depends on, in need order, one edge per need */
	size_t ndeps;
	struct rpl_node **rdeps; /* distinct nodes with an edge to this one */
	size_t nrdeps;
	double duration; /* seconds, for the critical path; 0 when unknown */
};

/* A strongly connected component of the build edges. */
struct rpl_scc {
	struct rpl_node **members; /* in bootstrap order, contiguous in graph order */
	size_t n;
	size_t nclosing; /* build edges between members (needs: one pair may have several) */
	const char *key; /* the smallest member name: orders ready components */
};

struct rpl_graph {
	struct rpl_arena arena;
	const char *arch;
	struct rpl_node **nodes; /* origins and images by name, then externals by name */
	size_t nnodes;
	/* Names by kind (RPL_NODE_*): an image may share its name with a
	 * package, and a need that no package satisfies (a version the repo
	 * lacks, a self-dependency) becomes an external of the package's name. */
	struct rpl_strmap by_name[3];
	struct rpl_scc *sccs; /* topological order of the condensation, dependencies first */
	size_t nsccs;
	struct rpl_node **order; /* every node, dependencies first; SCC members contiguous */
	size_t norigins, nimages, nexternals;
	size_t nunresolved; /* externals no index provides */
	void *registry;     /* graph/resolve.h, for queries after the build */
};

struct rpl_graph_opts {
	const char *arch;
	struct rpl_apkindex *const *indexes; /* --repository-append, already loaded */
	size_t nindexes;
};

/*
 * Builds the graph of `scan` for `opts->arch`: only origins that build for
 * the arch and images that include it.  Recipes with errors are left out
 * (the scan reported them).  Returns 0 or an error with a message.
 */
int rpl_graph_build(struct rpl_graph *g, const struct rpl_scan *scan,
                    const struct rpl_graph_opts *opts);
void rpl_graph_release(struct rpl_graph *g);

/*
 * The node named `name`: an origin, else an image, else an external, else
 * the origin of a subpackage or provided name.  NULL when unknown.
 */

struct rpl_node *rpl_graph_find(const struct rpl_graph *g, const char *name);

enum rpl_walk {
	RPL_WALK_DEPS,  /* what the roots depend on */
	RPL_WALK_RDEPS, /* what depends on the roots */
};

/*
 * The nodes reachable from `roots` (not the roots themselves) along edges
 * of the kinds in `kinds` (a bit set of 1 << RPL_EDGE_*), up to `depth`
 * steps (0: unlimited), in graph order.  Returns a malloc'd array.
 */
struct rpl_node **rpl_graph_closure(const struct rpl_graph *g, struct rpl_node *const *roots,
                                    size_t nroots, enum rpl_walk dir, unsigned kinds,
                                    unsigned depth, size_t *n);

/*
 * The longest chain of waits weighted by node durations: build and image
 * edges, but not a cycle's back edges, so a cycle's members overlap as far
 * as their edges allow.  Fills a malloc'd path, dependencies first, and
 * returns its total duration.
 */
double rpl_graph_critical_path(const struct rpl_graph *g, struct rpl_node ***path, size_t *n);

/* Whether `e`, an edge of `from`, is a back edge (a build edge to a member of
 * from's cycle placed after it). */
int rpl_edge_is_back(const struct rpl_node *from, const struct rpl_edge *e);

/*
 * The members of v's cycle that v builds against, each once, in bootstrap
 * order: the first *nbefore come before v (v waits for them), the *nafter
 * after them come after v (back edges).  A malloc'd array; NULL with both
 * counts 0 when v is in no cycle.
 */
struct rpl_node **rpl_graph_cycle_deps(const struct rpl_graph *g, const struct rpl_node *v,
                                       size_t *nbefore, size_t *nafter);

/* The back edges of a cycle: distinct pairs of members. */
size_t rpl_graph_back_edges(const struct rpl_graph *g, const struct rpl_scc *s);

struct rpl_strbuf;
struct rpl_strtab;
struct rpl_cursor;

/*
 * A graph as bytes (graph/codec.c has the layout), its strings added to
 * `strings`, a table the caller stores alongside.  The decoded graph is
 * the same graph, except that its nodes have no scan entry (entry is NULL)
 * and rpl_graph_find finds only node names (provided names need the
 * resolver, which is not kept).  rpl_graph_decode returns 0 or an error
 * (a damaged encoding), leaving `g` released.
 */
void rpl_graph_encode(const struct rpl_graph *g, struct rpl_strbuf *out,
                      struct rpl_strtab *strings);
int rpl_graph_decode(struct rpl_graph *g, struct rpl_cursor *in, const char *strings, size_t len);

const char *rpl_node_kind_name(enum rpl_node_kind k);
const char *rpl_edge_kind_name(enum rpl_edge_kind k);

#endif
