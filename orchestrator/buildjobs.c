/*
 * The dependencies of a build's jobs (buildjobs.h).
 *
 * One pass over the selected jobs' edges.  A job of (graph, node) is found
 * through a per-graph array indexed by node id, and the edges of one job
 * that lead to the same job (several needs of one package, a package and
 * its -dev) are folded through a stamp per node, so the work is linear in
 * jobs and edges.  An earlier design looked the job of every edge up by a
 * scan of all jobs, and chained a cycle's members one after another: at
 * Wolfi's scale that was most of `build --all -n` (0.8 s against a 0.2 s
 * plan), and a cycle of 408 members became a chain that one failure cut.
 */
#include "orchestrator/buildjobs.h"
#include "common/error.h"
#include "common/strmap.h"
#include "common/xalloc.h"
#include "graph/apkindex.h"
#include "graph/graph.h"
#include "orchestrator/plan.h"
#include "orchestrator/sched.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* The package names the repositories of one arch hold, read on first use. */
struct held {
	int loaded;
	struct rpl_apkindex *indexes; /* the names' storage */
	size_t nindexes;
	struct rpl_strmap names;
};

static void held_load(struct held *h, const char *arch, const struct rpl_buildjobs_opts *o)
{
	h->loaded = 1;
	h->indexes = rpl_xcalloc(o->nrepos + 1, sizeof(*h->indexes));
	for (size_t k = 0; k <= o->nrepos; k++) {
		const char *repo = k ? o->repos[k - 1] : o->out_dir;
		struct rpl_apkindex *x = &h->indexes[h->nindexes];
		int err = rpl_apkindex_load(x, repo, arch);

		if (err) {
			/* An output repository not made yet holds nothing: no news. */
			if (k || err != -RPL_ENOTFOUND)
				rpl_warn("%s (cycle members that build against a member that "
				         "fails are skipped)",
				         rpl_errmsg());
			continue;
		}
		h->nindexes++;
		for (size_t i = 0; i < x->npkgs; i++)
			rpl_strmap_slot(&h->names, x->pkgs[i].name)->value = &x->pkgs[i];
	}
}

static int held_has(struct held *h, const char *arch, const struct rpl_buildjobs_opts *o,
                    const char *package)
{
	if (!h->loaded)
		held_load(h, arch, o);
	return package && rpl_strmap_get(&h->names, package) != NULL;
}

static void held_release(struct held *h)
{
	for (size_t i = 0; i < h->nindexes; i++)
		rpl_apkindex_release(&h->indexes[i]);
	free(h->indexes);
	rpl_strmap_release(&h->names);
}

static int orders(const struct rpl_job *j, const struct rpl_edge *e)
{
	return j->node->kind == RPL_NODE_IMAGE ? e->kind == RPL_EDGE_IMAGE
	                                       : e->kind == RPL_EDGE_BUILD;
}

/* Per graph: the scheduler's job of each node, and the folding of edges. */
struct per_graph {
	struct rpl_sched_job **job_of;
	uint32_t *stamp; /* 1 + the index of the last job that reached the node */
	char *fallback;  /* that job may fall back to a held copy of the node */
	struct held held;
};

void rpl_buildjobs_deps(struct rpl_sched *s, const struct rpl_plan *p, struct rpl_job *const *jobs,
                        struct rpl_sched_job *const *sjobs, size_t n,
                        const struct rpl_buildjobs_opts *o)
{
	struct per_graph *pg = rpl_xcalloc(p->ngraphs ? p->ngraphs : 1, sizeof(*pg));
	const struct rpl_node **targets = NULL;
	size_t targets_alloc = 0;

	for (size_t a = 0; a < p->ngraphs; a++) {
		size_t nn = p->graphs[a].nnodes ? p->graphs[a].nnodes : 1;
		pg[a].job_of = rpl_xcalloc(nn, sizeof(*pg[a].job_of));
		pg[a].stamp = rpl_xcalloc(nn, sizeof(*pg[a].stamp));
		pg[a].fallback = rpl_xcalloc(nn, 1);
	}
	for (size_t i = 0; i < n; i++)
		pg[jobs[i]->graph - p->graphs].job_of[jobs[i]->node->id] = sjobs[i];
	for (size_t i = 0; i < n; i++) {
		const struct rpl_job *j = jobs[i];
		const struct rpl_node *v = j->node;
		struct per_graph *g = &pg[j->graph - p->graphs];
		size_t ntargets = 0;

		for (size_t e = 0; e < v->ndeps; e++) {
			const struct rpl_edge *ed = &v->deps[e];
			const struct rpl_node *w = ed->to;
			int in_cycle = w->scc == v->scc;

			if (!orders(j, ed) || w == v || !g->job_of[w->id])
				continue;
			if (g->stamp[w->id] != i + 1) {
				g->stamp[w->id] = (uint32_t)(i + 1);
				if (rpl_edge_is_back(v, ed))
					continue;
				g->fallback[w->id] = (char)in_cycle;
				RPL_ALLOC_GROW(targets, ntargets + 1, targets_alloc);
				targets[ntargets++] = w;
			} else if (rpl_edge_is_back(v, ed)) {
				continue;
			}
			/* Every package it needs of an earlier member must be held. */
			if (g->fallback[w->id] && !held_has(&g->held, j->arch, o, ed->provider))
				g->fallback[w->id] = 0;
		}
		for (size_t t = 0; t < ntargets; t++) {
			struct rpl_sched_job *dep = g->job_of[targets[t]->id];
			if (g->fallback[targets[t]->id])
				rpl_sched_after(s, sjobs[i], dep);
			else
				rpl_sched_dep(s, sjobs[i], dep);
		}
	}
	for (size_t a = 0; a < p->ngraphs; a++) {
		held_release(&pg[a].held);
		free(pg[a].job_of);
		free(pg[a].stamp);
		free(pg[a].fallback);
	}
	free(pg);
	free(targets);
}
