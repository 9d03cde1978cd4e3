/*
 * Building the graph of one architecture from a scan, then ordering it.
 *
 * Order of work: origin nodes; the registry of every name they provide
 * (and the external indexes); build and runtime edges by resolving each
 * recipe's needs; image nodes and their closure over runtime dependencies;
 * reverse edges; Tarjan's SCCs over build and image edges; a topological
 * sort of the condensation; the bootstrap order inside each SCC.
 *
 * Bootstrap policy: inside a cycle nothing can be built from scratch.  The
 * members get an order, and a member waits only for the members it builds
 * against that come before it; an edge to a member after it (a back edge)
 * is met by the copy the output repository or a published one already
 * holds.  Each back edge is a build against an older copy, so the order
 * keeps them few: finding the fewest is the NP-hard feedback arc set
 * problem, and the heuristic is Eades-Lin-Smyth's greedy order followed by
 * sifting (each member moved to where the fewest of its edges point back,
 * until nothing moves).  Both are deterministic, so the order is the same
 * on every run and machine.  Back edges count distinct pairs of members.
 */
#include "graph/graph.h"
#include "common/error.h"
#include "common/xalloc.h"
#include "graph/apkindex.h"
#include "graph/resolve.h"
#include "recipes/apko.h"
#include "recipes/melange.h"
#include "recipes/pipeline.h"
#include "recipes/scan.h"

#include <stdlib.h>
#include <string.h>

struct nodevec {
	struct rpl_node **v;
	size_t n, alloc;
};

struct edgevec {
	struct rpl_edge *v;
	size_t n, alloc;
};

struct builder {
	struct rpl_graph *g;
	struct rpl_registry *reg;
	struct nodevec nodes;
	struct edgevec *edges; /* per node id during construction */
	size_t edges_alloc;
};

const char *rpl_node_kind_name(enum rpl_node_kind k)
{
	switch (k) {
	case RPL_NODE_ORIGIN:
		return "package";
	case RPL_NODE_IMAGE:
		return "image";
	case RPL_NODE_EXTERNAL:
		return "external";
	}
	return "?";
}

const char *rpl_edge_kind_name(enum rpl_edge_kind k)
{
	switch (k) {
	case RPL_EDGE_BUILD:
		return "build";
	case RPL_EDGE_RUNTIME:
		return "runtime";
	case RPL_EDGE_IMAGE:
		return "image";
	}
	return "?";
}

static struct rpl_node *new_node(struct builder *b, enum rpl_node_kind kind, const char *name)
{
	struct rpl_node *n = rpl_arena_alloc(&b->g->arena, sizeof(*n));

	n->kind = kind;
	n->name = rpl_arena_strdup(&b->g->arena, name);
	n->version = "";
	n->id = (uint32_t)b->nodes.n;
	RPL_ALLOC_GROW(b->nodes.v, b->nodes.n + 1, b->nodes.alloc);
	b->nodes.v[b->nodes.n++] = n;
	/* Edge vectors are indexed by the construction-time id. */
	RPL_ALLOC_GROW(b->edges, b->nodes.n, b->edges_alloc);
	memset(&b->edges[n->id], 0, sizeof(*b->edges));
	rpl_strmap_slot(&b->g->by_name[kind], n->name)->value = n;
	return n;
}

static struct rpl_node *external(struct builder *b, const char *name, const char *version,
                                 const char *source)
{
	struct rpl_node *n = rpl_strmap_get(&b->g->by_name[RPL_NODE_EXTERNAL], name);

	if (n)
		return n;
	n = new_node(b, RPL_NODE_EXTERNAL, name);
	if (version)
		n->version = rpl_arena_strdup(&b->g->arena, version);
	n->source = source;
	return n;
}

static void add_edge(struct builder *b, struct rpl_node *from, struct rpl_node *to,
                     enum rpl_edge_kind kind, const char *dep, const char *provider,
                     const char *via, const char *sub)
{
	struct edgevec *ev;

	ev = &b->edges[from->id];
	RPL_ALLOC_GROW(ev->v, ev->n + 1, ev->alloc);
	ev->v[ev->n].to = to;
	ev->v[ev->n].kind = kind;
	ev->v[ev->n].dep = dep;
	ev->v[ev->n].provider = provider;
	ev->v[ev->n].via = via;
	ev->v[ev->n].subpackage = sub;
	ev->n++;
}

static const char *const *texts(struct rpl_arena *a, const struct rpl_textlist *l)
{
	const char **v = l->n ? rpl_arena_alloc(a, l->n * sizeof(*v)) : NULL;

	for (size_t i = 0; i < l->n; i++)
		v[i] = l->v[i].s;
	return v;
}

static int64_t priority(const struct rpl_text *t)
{
	return t->s && *t->s ? strtoll(t->s, NULL, 10) : 0;
}

static void register_origin(struct builder *b, struct rpl_node *n, const char *arch)
{
	const struct rpl_recipe_summary *r = n->entry->summary;
	const struct rpl_compiled *c = rpl_scan_compiled(n->entry, arch);
	struct rpl_arena *a = &b->g->arena;
	const struct rpl_dependencies *d = &r->dependencies;

	rpl_registry_add_package(b->reg, r->name.s, n->version, priority(&d->provider_priority), n,
	                         NULL, texts(a, &d->provides), d->provides.n, texts(a, &d->runtime),
	                         d->runtime.n);
	for (size_t i = 0; i < r->nsubpackages; i++) {
		const struct rpl_subpackage_summary *sp = &r->subpackages[i];

		if (c && i < c->nsubs && !c->subs[i].enabled)
			continue;
		d = &sp->dependencies;
		rpl_registry_add_package(
		        b->reg, sp->name.s, n->version, priority(&d->provider_priority), n, NULL,
		        texts(a, &d->provides), d->provides.n, texts(a, &d->runtime), d->runtime.n);
	}
}

/* The node a resolution leads to, creating externals as needed. */
static struct rpl_node *target(struct builder *b, const char *dep, const struct rpl_resolution *res)
{
	struct rpl_constraint c;

	if (res->status == RPL_RESOLVED) {
		if (res->best->origin)
			return res->best->origin;
		return external(b, res->best->pkg, res->best->pkg_version, res->best->source);
	}
	if (rpl_constraint_parse(dep, &c))
		return NULL;
	return external(b, c.name, NULL, NULL);
}

static int build_edges(struct builder *b, struct rpl_node *n, const char *arch)
{
	const struct rpl_compiled *c = rpl_scan_compiled(n->entry, arch);
	const struct rpl_recipe_summary *r = n->entry->summary;

	for (size_t i = 0; c && i < c->nneeds; i++) {
		const struct rpl_need *need = &c->needs[i];
		struct rpl_resolution res;
		struct rpl_node *to;

		if (rpl_registry_resolve(b->reg, need->name, n, n->version, &res)) {
			/* melange would fail to resolve it too; the graph records it as
			 * an unresolvable external rather than refusing the whole repo. */
			add_edge(b, n, external(b, need->name, NULL, NULL), RPL_EDGE_BUILD,
			         need->name, NULL, need->via, need->subpackage);
			continue;
		}
		if (res.status == RPL_RESOLVE_CONFLICT)
			continue;
		to = target(b, need->name, &res);
		if (!to || to == n)
			continue;
		add_edge(b, n, to, RPL_EDGE_BUILD, need->name,
		         res.status == RPL_RESOLVED ? res.best->pkg : NULL, need->via,
		         need->subpackage);
	}
	/* Runtime edges, to repo origins only: what a package pulls in when installed. */
	for (size_t s = 0; s <= r->nsubpackages; s++) {
		const struct rpl_dependencies *d =
		        s ? &r->subpackages[s - 1].dependencies : &r->dependencies;

		if (s && c && s - 1 < c->nsubs && !c->subs[s - 1].enabled)
			continue;
		for (size_t i = 0; i < d->runtime.n; i++) {
			struct rpl_resolution res;

			/* A runtime dependency apk cannot parse only loses its edge. */
			if (rpl_registry_resolve(b->reg, d->runtime.v[i].s, NULL, NULL, &res))
				continue;
			if (res.status == RPL_RESOLVED && res.best->origin && res.best->origin != n)
				add_edge(b, n, res.best->origin, RPL_EDGE_RUNTIME,
				         d->runtime.v[i].s, res.best->pkg, NULL,
				         s ? r->subpackages[s - 1].name.s : NULL);
		}
	}
	return 0;
}

/*
 * An image depends on the origin of every package it installs: its
 * `contents.packages` and, transitively, their runtime dependencies.
 */
static int image_edges(struct builder *b, struct rpl_node *n)
{
	const struct rpl_textlist *pkgs = &n->entry->image->config.contents.packages;
	struct rpl_strmap seen = RPL_STRMAP_INIT, origins = RPL_STRMAP_INIT;
	const char **queue = NULL;
	size_t head = 0, tail = 0, alloc = 0;
	int err = 0;

	for (size_t i = 0; i < pkgs->n; i++) {
		RPL_ALLOC_GROW(queue, tail + 1, alloc);
		queue[tail++] = pkgs->v[i].s;
	}
	while (head < tail) {
		const char *dep = queue[head++];
		struct rpl_resolution res;
		const struct rpl_provider *p;
		struct rpl_node *to;
		struct rpl_strmap_slot *s;

		if ((err = rpl_registry_resolve(b->reg, dep, NULL, NULL, &res))) {
			err = rpl_error_prefix(-RPL_ESCHEMA, "%s: package '%s'", n->entry->file,
			                       dep);
			break;
		}
		if (res.status == RPL_RESOLVE_CONFLICT)
			continue;
		to = target(b, dep, &res);
		p = res.status == RPL_RESOLVED ? res.best : NULL;
		if (to && !rpl_strmap_get(&origins, to->name)) {
			rpl_strmap_slot(&origins, to->name)->value = to;
			add_edge(b, n, to, RPL_EDGE_IMAGE, dep, p ? p->pkg : NULL, NULL, NULL);
		}
		if (!p)
			continue;
		s = rpl_strmap_slot(&seen, p->pkg);
		if (s->value)
			continue;
		s->value = (void *)p;
		for (size_t i = 0; i < p->nruntime; i++) {
			RPL_ALLOC_GROW(queue, tail + 1, alloc);
			queue[tail++] = p->runtime[i];
		}
	}
	free(queue);
	rpl_strmap_release(&seen);
	rpl_strmap_release(&origins);
	return err;
}

static int cmp_node(const void *a, const void *b)
{
	const struct rpl_node *x = *(struct rpl_node *const *)a, *y = *(struct rpl_node *const *)b;

	if ((x->kind == RPL_NODE_EXTERNAL) != (y->kind == RPL_NODE_EXTERNAL))
		return x->kind == RPL_NODE_EXTERNAL ? 1 : -1;
	return strcmp(x->name, y->name);
}

/* ---- ordering --------------------------------------------------------------- */

static int orders(const struct rpl_edge *e)
{
	return e->kind == RPL_EDGE_BUILD || e->kind == RPL_EDGE_IMAGE;
}

/*
 * Tarjan's algorithm without recursion: an explicit stack of (node, next
 * edge) frames, so a 3,000-deep dependency chain cannot overflow the C
 * stack.  Components come out in reverse topological order of the
 * condensation (a component after every component it can reach) — that is,
 * dependencies first.
 */
static void tarjan(struct rpl_graph *g, uint32_t *comp_of, size_t *ncomp)
{
	size_t n = g->nnodes;
	uint32_t *index = rpl_xmalloc(n * sizeof(*index));
	uint32_t *low = rpl_xmalloc(n * sizeof(*low));
	char *on = rpl_xcalloc(n, 1);
	uint32_t *stack = rpl_xmalloc(n * sizeof(*stack));
	struct frame {
		uint32_t v;
		size_t e;
	} *calls = rpl_xmalloc(n * sizeof(*calls));
	size_t sp = 0, cp = 0;
	uint32_t next = 0;
	const uint32_t unset = UINT32_MAX;

	*ncomp = 0;
	for (size_t i = 0; i < n; i++)
		index[i] = unset;
	for (size_t root = 0; root < n; root++) {
		if (index[root] != unset)
			continue;
		calls[cp].v = (uint32_t)root;
		calls[cp].e = 0;
		cp++;
		index[root] = low[root] = next++;
		stack[sp++] = (uint32_t)root;
		on[root] = 1;
		while (cp) {
			struct frame *f = &calls[cp - 1];
			const struct rpl_node *v = g->nodes[f->v];

			if (f->e < v->ndeps) {
				const struct rpl_edge *e = &v->deps[f->e++];
				uint32_t w = e->to->id;

				if (!orders(e))
					continue;
				if (index[w] == unset) {
					index[w] = low[w] = next++;
					stack[sp++] = w;
					on[w] = 1;
					calls[cp].v = w;
					calls[cp].e = 0;
					cp++;
				} else if (on[w] && index[w] < low[f->v]) {
					low[f->v] = index[w];
				}
				continue;
			}
			/* All edges of v done: close its component if it is a root. */
			uint32_t vid = f->v;
			cp--;
			if (cp && low[vid] < low[calls[cp - 1].v])
				low[calls[cp - 1].v] = low[vid];
			if (low[vid] == index[vid]) {
				uint32_t w;
				do {
					w = stack[--sp];
					on[w] = 0;
					comp_of[w] = (uint32_t)*ncomp;
				} while (w != vid);
				(*ncomp)++;
			}
		}
	}
	free(index);
	free(low);
	free(on);
	free(stack);
	free(calls);
}

/*
 * The members of one SCC as a graph of their own, for ordering them: member
 * i is scc->members[i]; out[i] are the members it builds against and in[i]
 * those that build against it, each pair once however many needs make it.
 */
struct local {
	size_t n;
	size_t *out_at,
	        *in_at; /* member i's lists start at out + out_at[i], end at out_at[i + 1] */
	uint32_t *out, *in;
};

static void local_init(struct local *l, const struct rpl_scc *scc, const uint32_t *comp_of,
                       uint32_t self, uint32_t *index_of)
{
	size_t n = scc->n, npairs = 0, alloc = 0, *out_fill, *in_fill;
	uint32_t *seen = rpl_xcalloc(n, sizeof(*seen));
	uint32_t(*pairs)[2] = NULL;

	for (size_t i = 0; i < n; i++)
		index_of[scc->members[i]->id] = (uint32_t)i;
	for (size_t i = 0; i < n; i++) {
		const struct rpl_node *v = scc->members[i];
		for (size_t e = 0; e < v->ndeps; e++) {
			const struct rpl_edge *ed = &v->deps[e];
			uint32_t j;
			if (ed->kind != RPL_EDGE_BUILD || comp_of[ed->to->id] != self)
				continue;
			j = index_of[ed->to->id];
			if (j == i || seen[j] == i + 1)
				continue;
			seen[j] = (uint32_t)(i + 1);
			RPL_ALLOC_GROW(pairs, npairs + 1, alloc);
			pairs[npairs][0] = (uint32_t)i;
			pairs[npairs][1] = j;
			npairs++;
		}
	}
	l->n = n;
	l->out_at = rpl_xcalloc(n + 1, sizeof(*l->out_at));
	l->in_at = rpl_xcalloc(n + 1, sizeof(*l->in_at));
	l->out = rpl_xmalloc((npairs ? npairs : 1) * sizeof(*l->out));
	l->in = rpl_xmalloc((npairs ? npairs : 1) * sizeof(*l->in));
	for (size_t k = 0; k < npairs; k++) {
		l->out_at[pairs[k][0] + 1]++;
		l->in_at[pairs[k][1] + 1]++;
	}
	for (size_t i = 0; i < n; i++) {
		l->out_at[i + 1] += l->out_at[i];
		l->in_at[i + 1] += l->in_at[i];
	}
	out_fill = rpl_xmalloc(n * sizeof(*out_fill));
	in_fill = rpl_xmalloc(n * sizeof(*in_fill));
	memcpy(out_fill, l->out_at, n * sizeof(*out_fill));
	memcpy(in_fill, l->in_at, n * sizeof(*in_fill));
	for (size_t k = 0; k < npairs; k++) {
		l->out[out_fill[pairs[k][0]]++] = pairs[k][1];
		l->in[in_fill[pairs[k][1]]++] = pairs[k][0];
	}
	free(in_fill);
	free(out_fill);
	free(pairs);
	free(seen);
}

static void local_release(struct local *l)
{
	free(l->out_at);
	free(l->in_at);
	free(l->out);
	free(l->in);
}

/*
 * Eades, Lin and Smyth's greedy order ("A fast and effective heuristic for
 * the feedback arc set problem", 1993), dependencies first: a member that
 * builds against no member left goes next; one that no member left builds
 * against goes last; otherwise next comes the member with the most
 * dependents left less its dependencies left.  Ties go to the smaller
 * index, i.e. name.  Fills `order` with member indexes.
 */
static void els_order(const struct local *l, uint32_t *order)
{
	size_t n = l->n, front = 0, back = n, left = n;
	long *deps = rpl_xmalloc(n * sizeof(*deps)), *dependents = rpl_xmalloc(n * sizeof(*deps));
	char *placed = rpl_xcalloc(n, 1);

	for (size_t i = 0; i < n; i++) {
		deps[i] = (long)(l->out_at[i + 1] - l->out_at[i]);
		dependents[i] = (long)(l->in_at[i + 1] - l->in_at[i]);
	}
#define PLACE(i, at)                                                          \
	do {                                                                  \
		size_t p_ = (i);                                              \
		placed[p_] = 1;                                               \
		order[at] = (uint32_t)p_;                                     \
		left--;                                                       \
		for (size_t k_ = l->out_at[p_]; k_ < l->out_at[p_ + 1]; k_++) \
			dependents[l->out[k_]]--;                             \
		for (size_t k_ = l->in_at[p_]; k_ < l->in_at[p_ + 1]; k_++)   \
			deps[l->in[k_]]--;                                    \
	} while (0)
	while (left) {
		int moved = 1;
		size_t best = n;

		while (moved && left) {
			moved = 0;
			for (size_t i = 0; i < n; i++)
				if (!placed[i] && !dependents[i]) {
					PLACE(i, --back);
					moved = 1;
				}
			for (size_t i = 0; i < n; i++)
				if (!placed[i] && !deps[i]) {
					PLACE(i, front++);
					moved = 1;
				}
		}
		for (size_t i = 0; i < n && left; i++)
			if (!placed[i] &&
			    (best == n || dependents[i] - deps[i] > dependents[best] - deps[best]))
				best = i;
		if (best < n)
			PLACE(best, front++);
	}
#undef PLACE
	free(placed);
	free(dependents);
	free(deps);
}

/* Work allowed to sifting, in member visits: whole passes over 408 members take ~170,000. */
#define SIFT_BUDGET (64u << 20)
#define SIFT_PASSES 32

/*
 * Sifting, a local search after the greedy order: each member in turn is
 * taken out and put back where the fewest of its own edges point forward
 * (to a member after it), when that is strictly fewer than where it was;
 * passes repeat until one moves nothing.  The count of a member at each
 * place comes from one sweep: passing a member it builds against takes one
 * back edge away, passing one that builds against it adds one.  A pass
 * costs n^2 steps, so large components get fewer passes (SIFT_BUDGET).
 */
static void sift(const struct local *l, uint32_t *order)
{
	size_t n = l->n, spent = 0;
	uint32_t *pos = rpl_xmalloc(n * sizeof(*pos));
	int *delta = rpl_xcalloc(n, sizeof(*delta));

	for (size_t p = 0; p < n; p++)
		pos[order[p]] = (uint32_t)p;
	for (int pass = 0; pass < SIFT_PASSES && spent + n * n <= SIFT_BUDGET; pass++) {
		int moved = 0;

		spent += n * n;
		for (size_t v = 0; v < n; v++) {
			size_t here = pos[v], slot = 0, best_slot = 0;
			long cost = (long)(l->out_at[v + 1] - l->out_at[v]), now = 0, best;

			for (size_t k = l->out_at[v]; k < l->out_at[v + 1]; k++) {
				delta[l->out[k]]--;
				now += pos[l->out[k]] > here;
			}
			for (size_t k = l->in_at[v]; k < l->in_at[v + 1]; k++) {
				delta[l->in[k]]++;
				now += pos[l->in[k]] < here;
			}
			/* cost: v's back edges when v goes in front of the `slot`th other. */
			best = cost;
			for (size_t p = 0; p < n; p++) {
				if (order[p] == v)
					continue;
				cost += delta[order[p]];
				slot++;
				if (cost < best) {
					best = cost;
					best_slot = slot;
				}
			}
			for (size_t k = l->out_at[v]; k < l->out_at[v + 1]; k++)
				delta[l->out[k]] = 0;
			for (size_t k = l->in_at[v]; k < l->in_at[v + 1]; k++)
				delta[l->in[k]] = 0;
			if (best >= now)
				continue;
			/* v goes to index best_slot of the order without it: the members
			 * between there and where it was shift by one. */
			if (best_slot < here) {
				memmove(order + best_slot + 1, order + best_slot,
				        (here - best_slot) * sizeof(*order));
			} else {
				memmove(order + here, order + here + 1,
				        (best_slot - here) * sizeof(*order));
			}
			order[best_slot] = (uint32_t)v;
			for (size_t p = best_slot < here ? best_slot : here;
			     p <= (best_slot < here ? here : best_slot); p++)
				pos[order[p]] = (uint32_t)p;
			moved = 1;
		}
		if (!moved)
			break;
	}
	free(delta);
	free(pos);
}

/* Orders the members of one SCC by the bootstrap policy (see the top of the file). */
static void bootstrap_order(struct rpl_scc *scc, const uint32_t *comp_of, uint32_t self,
                            uint32_t *index_of)
{
	struct local l;
	uint32_t *order = rpl_xmalloc(scc->n * sizeof(*order));
	struct rpl_node **out = rpl_xmalloc(scc->n * sizeof(*out));

	local_init(&l, scc, comp_of, self, index_of);
	els_order(&l, order);
	sift(&l, order);
	for (size_t i = 0; i < scc->n; i++)
		out[i] = scc->members[order[i]];
	memcpy(scc->members, out, scc->n * sizeof(*out));
	local_release(&l);
	free(out);
	free(order);
}

/* The key that orders ready components: their smallest member name. */
static const char *scc_key(const struct rpl_scc *s)
{
	return s->key;
}

static void heap_push(uint32_t *h, size_t *n, uint32_t v, const struct rpl_scc *sccs)
{
	size_t i = (*n)++;

	h[i] = v;
	while (i && strcmp(scc_key(&sccs[h[(i - 1) / 2]]), scc_key(&sccs[h[i]])) > 0) {
		uint32_t t = h[i];
		h[i] = h[(i - 1) / 2];
		h[(i - 1) / 2] = t;
		i = (i - 1) / 2;
	}
}

static uint32_t heap_pop(uint32_t *h, size_t *n, const struct rpl_scc *sccs)
{
	uint32_t top = h[0];
	size_t i = 0;

	h[0] = h[--(*n)];
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		if (l < *n && strcmp(scc_key(&sccs[h[l]]), scc_key(&sccs[h[m]])) < 0)
			m = l;
		if (r < *n && strcmp(scc_key(&sccs[h[r]]), scc_key(&sccs[h[m]])) < 0)
			m = r;
		if (m == i)
			break;
		uint32_t t = h[i];
		h[i] = h[m];
		h[m] = t;
		i = m;
	}
	return top;
}

/*
 * Components, their member order, and a topological order of the
 * condensation that does not depend on hash or input order: Kahn's
 * algorithm taking, among the ready components, the one whose smallest
 * member name is smallest.
 */
static void order_graph(struct rpl_graph *g)
{
	size_t n = g->nnodes, ncomp;
	uint32_t *comp_of = rpl_xmalloc((n ? n : 1) * sizeof(*comp_of));
	uint32_t *index_of = rpl_xmalloc((n ? n : 1) * sizeof(*index_of)); /* in its SCC */
	struct rpl_scc *tmp;
	size_t *pending, *fill;
	uint32_t *heap;
	size_t nheap = 0, pos = 0;

	tarjan(g, comp_of, &ncomp);
	tmp = rpl_xcalloc(ncomp ? ncomp : 1, sizeof(*tmp));
	fill = rpl_xcalloc(ncomp ? ncomp : 1, sizeof(*fill));
	for (size_t i = 0; i < n; i++)
		tmp[comp_of[i]].n++;
	for (size_t c = 0; c < ncomp; c++)
		tmp[c].members = rpl_arena_alloc(&g->arena, tmp[c].n * sizeof(struct rpl_node *));
	/* Nodes are sorted by name, so members come out sorted too. */
	for (size_t i = 0; i < n; i++)
		tmp[comp_of[i]].members[fill[comp_of[i]]++] = g->nodes[i];
	for (size_t c = 0; c < ncomp; c++) {
		tmp[c].key = tmp[c].members[0]->name;
		if (tmp[c].n > 1)
			bootstrap_order(&tmp[c], comp_of, (uint32_t)c, index_of);
		for (size_t m = 0; m < tmp[c].n; m++)
			for (size_t e = 0; e < tmp[c].members[m]->ndeps; e++) {
				const struct rpl_edge *ed = &tmp[c].members[m]->deps[e];
				if (ed->kind == RPL_EDGE_BUILD && comp_of[ed->to->id] == c)
					tmp[c].nclosing++;
			}
	}

	/* pending[c]: ordering edges from c to other components not yet emitted. */
	pending = rpl_xcalloc(ncomp ? ncomp : 1, sizeof(*pending));
	for (size_t i = 0; i < n; i++)
		for (size_t e = 0; e < g->nodes[i]->ndeps; e++) {
			const struct rpl_edge *ed = &g->nodes[i]->deps[e];
			if (orders(ed) && comp_of[ed->to->id] != comp_of[i])
				pending[comp_of[i]]++;
		}
	heap = rpl_xmalloc((ncomp ? ncomp : 1) * sizeof(*heap));
	for (size_t c = 0; c < ncomp; c++)
		if (!pending[c])
			heap_push(heap, &nheap, (uint32_t)c, tmp);
	g->sccs = rpl_arena_alloc(&g->arena, (ncomp ? ncomp : 1) * sizeof(*g->sccs));
	g->order = rpl_arena_alloc(&g->arena, (n ? n : 1) * sizeof(*g->order));
	while (nheap) {
		uint32_t c = heap_pop(heap, &nheap, tmp);
		size_t idx = g->nsccs++;

		g->sccs[idx] = tmp[c];
		for (size_t m = 0; m < tmp[c].n; m++) {
			struct rpl_node *v = tmp[c].members[m];
			v->scc = (uint32_t)idx;
			v->pos = (uint32_t)pos;
			g->order[pos++] = v;
		}
		/* Release the components waiting on c, once per ordering edge. */
		for (size_t m = 0; m < tmp[c].n; m++) {
			const struct rpl_node *v = tmp[c].members[m];
			for (size_t r = 0; r < v->nrdeps; r++) {
				const struct rpl_node *u = v->rdeps[r];
				for (size_t e = 0; e < u->ndeps; e++) {
					const struct rpl_edge *ed = &u->deps[e];
					uint32_t cu = comp_of[u->id];
					if (ed->to != v || !orders(ed) || cu == c)
						continue;
					if (--pending[cu] == 0)
						heap_push(heap, &nheap, cu, tmp);
				}
			}
		}
	}
	if (pos != n)
		RPL_BUG("topological sort left nodes out");
	free(heap);
	free(pending);
	free(fill);
	free(tmp);
	free(index_of);
	free(comp_of);
}

/* ---- building --------------------------------------------------------------- */

/*
 * Ends construction: nodes sorted (origins and images by name, then
 * externals), ids reassigned, edges moved into the arena, and the distinct
 * dependents of each node recorded.
 */
static void freeze(struct builder *b)
{
	struct rpl_graph *g = b->g;
	size_t n = b->nodes.n;
	struct rpl_node **sorted = rpl_arena_memdup(&g->arena, b->nodes.v, n, sizeof(*b->nodes.v));
	size_t *count = rpl_xcalloc(n ? n : 1, sizeof(*count));
	size_t *last = rpl_xcalloc(n ? n : 1, sizeof(*last));

	for (size_t i = 0; i < n; i++) {
		struct rpl_node *v = b->nodes.v[i];
		struct edgevec *ev = &b->edges[v->id];

		v->deps = rpl_arena_memdup(&g->arena, ev->v, ev->n, sizeof(*ev->v));
		v->ndeps = ev->n;
	}
	if (n)
		qsort(sorted, n, sizeof(*sorted), cmp_node);
	for (size_t i = 0; i < n; i++) {
		sorted[i]->id = (uint32_t)i;
		if (sorted[i]->kind == RPL_NODE_EXTERNAL) {
			g->nexternals++;
			if (!sorted[i]->source)
				g->nunresolved++;
		}
	}
	g->nodes = sorted;
	g->nnodes = n;
	/* Two passes over the edges: count distinct dependents, then fill.
	 * last[t] holds 1 + the id of the last source seen for t. */
	for (size_t i = 0; i < n; i++)
		for (size_t e = 0; e < sorted[i]->ndeps; e++) {
			uint32_t t = sorted[i]->deps[e].to->id;
			if (last[t] != i + 1) {
				last[t] = i + 1;
				count[t]++;
			}
		}
	for (size_t i = 0; i < n; i++) {
		sorted[i]->rdeps =
		        count[i] ? rpl_arena_alloc(&g->arena, count[i] * sizeof(void *)) : NULL;
		last[i] = 0;
	}
	for (size_t i = 0; i < n; i++)
		for (size_t e = 0; e < sorted[i]->ndeps; e++) {
			struct rpl_node *t = sorted[i]->deps[e].to;
			if (last[t->id] != i + 1) {
				last[t->id] = i + 1;
				t->rdeps[t->nrdeps++] = sorted[i];
			}
		}
	free(count);
	free(last);
}

int rpl_graph_build(struct rpl_graph *g, const struct rpl_scan *scan,
                    const struct rpl_graph_opts *opts)
{
	struct rpl_registry *reg;
	struct builder b = { g, NULL, { NULL, 0, 0 }, NULL, 0 };
	const char *arch = opts->arch;
	int err = 0;

	memset(g, 0, sizeof(*g));
	rpl_arena_init(&g->arena);
	g->arch = rpl_arena_strdup(&g->arena, arch);
	reg = rpl_arena_alloc(&g->arena, sizeof(*reg));
	rpl_registry_init(reg, &g->arena);
	g->registry = reg;
	b.reg = reg;

	for (size_t i = 0; i < scan->nentries; i++) {
		const struct rpl_scan_entry *e = &scan->entries[i];
		struct rpl_node *n;

		if (!e->summary || !rpl_scan_compiled(e, arch))
			continue;
		n = new_node(&b, RPL_NODE_ORIGIN, e->summary->name.s);
		n->entry = e;
		n->version = rpl_arena_printf(&g->arena, "%s-r%llu", e->summary->version.s,
		                              (unsigned long long)e->summary->epoch);
		g->norigins++;
	}
	for (size_t i = 0; i < b.nodes.n; i++)
		register_origin(&b, b.nodes.v[i], arch);
	for (size_t i = 0; i < opts->nindexes; i++)
		rpl_registry_add_index(reg, opts->indexes[i]);
	for (size_t i = 0; i < scan->nentries; i++) {
		const struct rpl_scan_entry *e = &scan->entries[i];
		const struct rpl_textlist *archs;
		int ok;
		struct rpl_node *n;

		if (!e->image)
			continue;
		archs = &e->image->config.archs;
		ok = !archs->n;
		for (size_t k = 0; k < archs->n && !ok; k++) {
			const char *apk = rpl_apko_arch_to_apk(archs->v[k].s);
			ok = !strcmp(archs->v[k].s, "all") || (apk && !strcmp(apk, arch));
		}
		if (!ok)
			continue;
		if (rpl_strmap_get(&g->by_name[RPL_NODE_IMAGE], e->image->name)) {
			err = rpl_error(-RPL_EDUP, "%s: another image is also named '%s'", e->file,
			                e->image->name);
			goto out;
		}
		n = new_node(&b, RPL_NODE_IMAGE, e->image->name);
		n->entry = e;
		g->nimages++;
	}
	{
		size_t norigin_nodes = b.nodes.n;
		for (size_t i = 0; i < norigin_nodes && !err; i++) {
			struct rpl_node *n = b.nodes.v[i];
			if (n->kind == RPL_NODE_ORIGIN)
				err = build_edges(&b, n, arch);
			else if (n->kind == RPL_NODE_IMAGE)
				err = image_edges(&b, n);
		}
	}
	if (err)
		goto out;

	freeze(&b);
	order_graph(g);
out:
	for (size_t i = 0; i < b.nodes.n; i++)
		free(b.edges[i].v);
	free(b.edges);
	free(b.nodes.v);
	return err;
}

void rpl_graph_release(struct rpl_graph *g)
{
	if (g->registry)
		rpl_registry_release(g->registry);
	for (size_t k = 0; k < 3; k++)
		rpl_strmap_release(&g->by_name[k]);
	rpl_arena_release(&g->arena);
	memset(g, 0, sizeof(*g));
}

struct rpl_node *rpl_graph_find(const struct rpl_graph *g, const char *name)
{
	struct rpl_resolution res;

	/* A package before an image of the same name, and both before an
	 * external; then whatever origin provides the name. */
	for (size_t k = 0; k < 3; k++) {
		struct rpl_node *n = rpl_strmap_get(&g->by_name[k], name);
		if (n)
			return n;
	}
	if (!g->registry || rpl_registry_resolve(g->registry, name, NULL, NULL, &res) ||
	    res.status != RPL_RESOLVED || !res.best->origin)
		return NULL;
	return res.best->origin;
}

static int cmp_pos(const void *a, const void *b)
{
	const struct rpl_node *x = *(struct rpl_node *const *)a, *y = *(struct rpl_node *const *)b;

	return x->pos < y->pos ? -1 : x->pos > y->pos;
}

struct rpl_node **rpl_graph_closure(const struct rpl_graph *g, struct rpl_node *const *roots,
                                    size_t nroots, enum rpl_walk dir, unsigned kinds,
                                    unsigned depth, size_t *nout)
{
	uint32_t *dist = rpl_xmalloc((g->nnodes ? g->nnodes : 1) * sizeof(*dist));
	struct rpl_node **queue = rpl_xmalloc((g->nnodes ? g->nnodes : 1) * sizeof(*queue));
	struct rpl_node **out;
	size_t head = 0, tail = 0, n = 0;

	for (size_t i = 0; i < g->nnodes; i++)
		dist[i] = UINT32_MAX;
	for (size_t i = 0; i < nroots; i++) {
		if (dist[roots[i]->id] == UINT32_MAX)
			queue[tail++] = roots[i];
		dist[roots[i]->id] = 0;
	}
	while (head < tail) {
		struct rpl_node *v = queue[head++];
		uint32_t d = dist[v->id];

		if (depth && d >= depth)
			continue;
		if (dir == RPL_WALK_DEPS) {
			for (size_t e = 0; e < v->ndeps; e++) {
				struct rpl_node *w = v->deps[e].to;
				if (!(kinds & (1u << v->deps[e].kind)) || dist[w->id] != UINT32_MAX)
					continue;
				dist[w->id] = d + 1;
				queue[tail++] = w;
			}
		} else {
			for (size_t r = 0; r < v->nrdeps; r++) {
				struct rpl_node *w = v->rdeps[r];
				int ok = 0;
				if (dist[w->id] != UINT32_MAX)
					continue;
				for (size_t e = 0; e < w->ndeps && !ok; e++)
					ok = w->deps[e].to == v &&
					     (kinds & (1u << w->deps[e].kind));
				if (!ok)
					continue;
				dist[w->id] = d + 1;
				queue[tail++] = w;
			}
		}
	}
	out = rpl_xmalloc((tail ? tail : 1) * sizeof(*out));
	for (size_t i = 0; i < tail; i++)
		if (dist[queue[i]->id] > 0)
			out[n++] = queue[i];
	if (n)
		qsort(out, n, sizeof(*out), cmp_pos);
	free(queue);
	free(dist);
	*nout = n;
	return out;
}

int rpl_edge_is_back(const struct rpl_node *from, const struct rpl_edge *e)
{
	return e->kind == RPL_EDGE_BUILD && e->to->scc == from->scc && e->to->pos > from->pos;
}

struct rpl_node **rpl_graph_cycle_deps(const struct rpl_graph *g, const struct rpl_node *v,
                                       size_t *nbefore, size_t *nafter)
{
	const struct rpl_scc *s = &g->sccs[v->scc];
	uint32_t base = s->members[0]->pos, self = v->pos - base;
	char *mark;
	struct rpl_node **out;
	size_t n = 0;

	*nbefore = *nafter = 0;
	if (s->n < 2)
		return NULL;
	/* Members are contiguous in graph order: pos - base is the place in the cycle. */
	mark = rpl_xcalloc(s->n, 1);
	for (size_t e = 0; e < v->ndeps; e++) {
		const struct rpl_edge *ed = &v->deps[e];
		if (ed->kind == RPL_EDGE_BUILD && ed->to->scc == v->scc && ed->to != v &&
		    !mark[ed->to->pos - base]) {
			mark[ed->to->pos - base] = 1;
			n++;
		}
	}
	out = rpl_xmalloc((n ? n : 1) * sizeof(*out));
	n = 0;
	for (size_t i = 0; i < s->n; i++)
		if (mark[i]) {
			out[n++] = s->members[i];
			if (i < self)
				(*nbefore)++;
			else
				(*nafter)++;
		}
	free(mark);
	return out;
}

size_t rpl_graph_back_edges(const struct rpl_graph *g, const struct rpl_scc *s)
{
	size_t total = 0;

	for (size_t m = 0; m < s->n; m++) {
		size_t before, after;
		free(rpl_graph_cycle_deps(g, s->members[m], &before, &after));
		total += after;
	}
	return total;
}

double rpl_graph_critical_path(const struct rpl_graph *g, struct rpl_node ***path, size_t *n)
{
	size_t nn = g->nnodes, len = 0;
	double *best = rpl_xcalloc(nn ? nn : 1, sizeof(*best));
	uint32_t *prev = rpl_xmalloc((nn ? nn : 1) * sizeof(*prev));
	uint32_t end = UINT32_MAX;
	double total = 0;

	/* Every edge that makes a node wait points to an earlier one in graph
	 * order (back edges do not wait): one pass. */
	for (size_t i = 0; i < nn; i++) {
		const struct rpl_node *v = g->order[i];
		double longest = 0;

		prev[i] = UINT32_MAX;
		for (size_t e = 0; e < v->ndeps; e++) {
			const struct rpl_edge *ed = &v->deps[e];
			if (ed->kind == RPL_EDGE_RUNTIME || rpl_edge_is_back(v, ed) ||
			    ed->to->pos >= v->pos || best[ed->to->pos] <= longest)
				continue;
			longest = best[ed->to->pos];
			prev[i] = ed->to->pos;
		}
		best[i] = longest + v->duration;
		if (end == UINT32_MAX || best[i] > total) {
			total = best[i];
			end = (uint32_t)i;
		}
	}
	*path = NULL;
	*n = 0;
	for (uint32_t k = end; k != UINT32_MAX; k = prev[k])
		len++;
	if (len) {
		*path = rpl_xmalloc(len * sizeof(**path));
		*n = len;
		for (uint32_t k = end; k != UINT32_MAX; k = prev[k])
			(*path)[--len] = g->order[k];
	}
	free(best);
	free(prev);
	return total;
}
