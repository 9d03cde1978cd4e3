/*
 * A graph as bytes, for the plan snapshot (orchestrator/snapshot.h): the
 * nodes in id order with their edges and reverse edges, then the
 * components.  Strings are references into a string table the caller
 * writes alongside (common/bytes.h).
 *
 *   u32 arch; u32 nnodes, norigins, nimages, nexternals, nunresolved
 *   per node: u8 kind; u32 name, version, source, scc, pos; u64 duration
 *             (IEEE bits); u32 ndeps; per edge: u32 to; u8 kind;
 *             u32 dep, provider, via, subpackage; u32 nrdeps; u32 ids
 *   u32 nsccs; per component: u32 n; u32 member ids; u64 nclosing; u32 key
 */
#include "common/bytes.h"
#include "common/error.h"
#include "graph/graph.h"

#include <errno.h>
#include <string.h>

#define EDGE_BYTES 21 /* the smallest encoded edge */

void rpl_graph_encode(const struct rpl_graph *g, struct rpl_strbuf *out, struct rpl_strtab *tab)
{
	rpl_put_u32(out, rpl_strtab_add(tab, g->arch));
	rpl_put_u32(out, (uint32_t)g->nnodes);
	rpl_put_u32(out, (uint32_t)g->norigins);
	rpl_put_u32(out, (uint32_t)g->nimages);
	rpl_put_u32(out, (uint32_t)g->nexternals);
	rpl_put_u32(out, (uint32_t)g->nunresolved);
	for (size_t i = 0; i < g->nnodes; i++) {
		const struct rpl_node *v = g->nodes[i];
		uint64_t bits;

		memcpy(&bits, &v->duration, sizeof(bits));
		rpl_put_u8(out, (uint8_t)v->kind);
		rpl_put_u32(out, rpl_strtab_add(tab, v->name));
		rpl_put_u32(out, rpl_strtab_add(tab, v->version));
		rpl_put_u32(out, rpl_strtab_add(tab, v->source));
		rpl_put_u32(out, v->scc);
		rpl_put_u32(out, v->pos);
		rpl_put_u64(out, bits);
		rpl_put_u32(out, (uint32_t)v->ndeps);
		for (size_t e = 0; e < v->ndeps; e++) {
			const struct rpl_edge *ed = &v->deps[e];
			rpl_put_u32(out, ed->to->id);
			rpl_put_u8(out, (uint8_t)ed->kind);
			rpl_put_u32(out, rpl_strtab_add(tab, ed->dep));
			rpl_put_u32(out, rpl_strtab_add(tab, ed->provider));
			rpl_put_u32(out, rpl_strtab_add(tab, ed->via));
			rpl_put_u32(out, rpl_strtab_add(tab, ed->subpackage));
		}
		rpl_put_u32(out, (uint32_t)v->nrdeps);
		for (size_t r = 0; r < v->nrdeps; r++)
			rpl_put_u32(out, v->rdeps[r]->id);
	}
	rpl_put_u32(out, (uint32_t)g->nsccs);
	for (size_t c = 0; c < g->nsccs; c++) {
		const struct rpl_scc *s = &g->sccs[c];
		rpl_put_u32(out, (uint32_t)s->n);
		for (size_t m = 0; m < s->n; m++)
			rpl_put_u32(out, s->members[m]->id);
		rpl_put_u64(out, s->nclosing);
		rpl_put_u32(out, rpl_strtab_add(tab, s->key));
	}
}

/* A node id read from `in`: one of the graph's, else the cursor goes bad. */
static struct rpl_node *node_at(struct rpl_graph *g, struct rpl_cursor *in)
{
	uint32_t id = rpl_get_u32(in);

	if (id >= g->nnodes) {
		in->bad = 1;
		return g->nnodes ? g->nodes[0] : NULL;
	}
	return g->nodes[id];
}

int rpl_graph_decode(struct rpl_graph *g, struct rpl_cursor *in, const char *strings, size_t len)
{
	const char *tab;
	size_t nsum;

	memset(g, 0, sizeof(*g));
	rpl_arena_init(&g->arena);
	if (!len || strings[len - 1] != '\0')
		goto bad;
	tab = rpl_arena_memdup(&g->arena, strings, len, 1);
#define STR() rpl_strtab_at(tab, len, rpl_get_u32(in), in)
	g->arch = STR();
	g->nnodes = rpl_get_count(in, 30);
	g->norigins = rpl_get_u32(in);
	g->nimages = rpl_get_u32(in);
	g->nexternals = rpl_get_u32(in);
	g->nunresolved = rpl_get_u32(in);
	nsum = g->norigins + g->nimages + g->nexternals;
	if (in->bad || !g->arch || nsum != g->nnodes)
		goto bad;
	g->nodes = rpl_arena_alloc(&g->arena, (g->nnodes ? g->nnodes : 1) * sizeof(*g->nodes));
	g->order = rpl_arena_alloc(&g->arena, (g->nnodes ? g->nnodes : 1) * sizeof(*g->order));
	for (size_t i = 0; i < g->nnodes; i++) {
		g->nodes[i] = rpl_arena_alloc(&g->arena, sizeof(**g->nodes));
		g->nodes[i]->id = (uint32_t)i;
	}
	for (size_t i = 0; i < g->nnodes && !in->bad; i++) {
		struct rpl_node *v = g->nodes[i];
		uint64_t bits;

		v->kind = (enum rpl_node_kind)rpl_get_u8(in);
		v->name = STR();
		v->version = STR();
		v->source = STR();
		v->scc = rpl_get_u32(in);
		v->pos = rpl_get_u32(in);
		bits = rpl_get_u64(in);
		memcpy(&v->duration, &bits, sizeof(bits));
		if (v->kind > RPL_NODE_EXTERNAL || !v->name || v->pos >= g->nnodes ||
		    g->order[v->pos])
			goto bad;
		g->order[v->pos] = v;
		v->ndeps = rpl_get_count(in, EDGE_BYTES);
		v->deps = v->ndeps ? rpl_arena_alloc(&g->arena, v->ndeps * sizeof(*v->deps)) : NULL;
		for (size_t e = 0; e < v->ndeps; e++) {
			struct rpl_edge *ed = &v->deps[e];
			ed->to = node_at(g, in);
			ed->kind = (enum rpl_edge_kind)rpl_get_u8(in);
			ed->dep = STR();
			ed->provider = STR();
			ed->via = STR();
			ed->subpackage = STR();
			if (ed->kind > RPL_EDGE_IMAGE)
				goto bad;
		}
		v->nrdeps = rpl_get_count(in, 4);
		v->rdeps = v->nrdeps ? rpl_arena_alloc(&g->arena, v->nrdeps * sizeof(*v->rdeps))
		                     : NULL;
		for (size_t r = 0; r < v->nrdeps; r++)
			v->rdeps[r] = node_at(g, in);
		rpl_strmap_slot(&g->by_name[v->kind], v->name)->value = v;
	}
	g->nsccs = rpl_get_count(in, 16);
	if (!g->nnodes && g->nsccs)
		goto bad;
	g->sccs = rpl_arena_alloc(&g->arena, (g->nsccs ? g->nsccs : 1) * sizeof(*g->sccs));
	for (size_t c = 0; c < g->nsccs && !in->bad; c++) {
		struct rpl_scc *s = &g->sccs[c];
		s->n = rpl_get_count(in, 4);
		s->members = rpl_arena_alloc(&g->arena, (s->n ? s->n : 1) * sizeof(*s->members));
		/* Members are contiguous in graph order (graph.h relies on it). */
		for (size_t m = 0; m < s->n; m++)
			if ((s->members[m] = node_at(g, in))->scc != c ||
			    s->members[m]->pos != s->members[0]->pos + m)
				in->bad = 1;
		s->nclosing = (size_t)rpl_get_u64(in);
		s->key = STR();
	}
#undef STR
	for (size_t i = 0; i < g->nnodes && !in->bad; i++)
		if (g->nodes[i]->scc >= g->nsccs)
			in->bad = 1;
	if (in->bad)
		goto bad;
	return 0;
bad:
	rpl_graph_release(g);
	return rpl_error(-RPL_ESCHEMA, "damaged graph encoding");
}
