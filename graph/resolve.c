#include "graph/resolve.h"
#include "common/error.h"
#include "common/xalloc.h"
#include "graph/apkindex.h"

#include <stdlib.h>
#include <string.h>

struct rpl_provlist {
	struct rpl_provider **v;
	size_t n, alloc;
};

void rpl_registry_init(struct rpl_registry *r, struct rpl_arena *a)
{
	memset(r, 0, sizeof(*r));
	r->arena = a;
}

void rpl_registry_release(struct rpl_registry *r)
{
	for (size_t i = 0; i < r->names.cap; i++) {
		struct rpl_provlist *l = r->names.slots[i].value;
		if (l)
			free(l->v);
	}
	rpl_strmap_release(&r->names);
	rpl_strmap_release(&r->pkgs);
}

void rpl_registry_add(struct rpl_registry *r, const struct rpl_provider *p)
{
	struct rpl_provider *c = rpl_arena_memdup(r->arena, p, 1, sizeof(*p));
	struct rpl_strmap_slot *s = rpl_strmap_slot(&r->names, c->name);
	struct rpl_provlist *l = s->value;

	if (!l) {
		l = rpl_arena_alloc(r->arena, sizeof(*l));
		s->value = l;
	}
	RPL_ALLOC_GROW_FEW(l->v, l->n + 1, l->alloc);
	l->v[l->n++] = c;
}

const struct rpl_provider *rpl_registry_add_package(struct rpl_registry *r, const char *pkg,
                                                    const char *version, int64_t priority,
                                                    struct rpl_node *origin, const char *source,
                                                    const char *const *provides, size_t nprovides,
                                                    const char *const *runtime, size_t nruntime)
{
	struct rpl_provider p = { pkg,    version,  pkg,     version, origin,
		                  source, priority, runtime, nruntime };
	struct rpl_strmap_slot *s;

	rpl_registry_add(r, &p);
	s = rpl_strmap_slot(&r->pkgs, pkg);
	/* The first package of a name wins: the repo is added before indexes. */
	if (!s->value) {
		struct rpl_provlist *l = rpl_strmap_get(&r->names, pkg);
		s->value = l->v[l->n - 1];
	}
	for (size_t i = 0; i < nprovides; i++) {
		struct rpl_constraint c;

		/* A provides entry is "name" or "name=version" (apk also writes "~="). */
		if (rpl_constraint_parse(provides[i], &c) || c.conflict)
			continue;
		p.name = rpl_arena_strdup(r->arena, c.name);
		p.version = c.op == RPL_VOP_ANY ? version : rpl_arena_strdup(r->arena, c.version);
		rpl_registry_add(r, &p);
	}
	return s->value;
}

void rpl_registry_add_index(struct rpl_registry *r, const struct rpl_apkindex *idx)
{
	for (size_t i = 0; i < idx->npkgs; i++) {
		const struct rpl_apkindex_pkg *k = &idx->pkgs[i];
		rpl_registry_add_package(r, k->name, k->version, k->provider_priority, NULL,
		                         idx->source, k->provides, k->nprovides, k->depends,
		                         k->ndepends);
	}
}

const struct rpl_provider *rpl_registry_package(const struct rpl_registry *r, const char *pkg)
{
	return rpl_strmap_get(&r->pkgs, pkg);
}

/* <0 when `a` is the better provider. */
static int better(const struct rpl_provider *a, const struct rpl_provider *b)
{
	int c = rpl_version_cmp(a->version, b->version);

	if (c)
		return -c;
	if (a->priority != b->priority)
		return a->priority > b->priority ? -1 : 1;
	if (!a->source != !b->source)
		return a->source ? 1 : -1;
	c = rpl_version_cmp(a->pkg_version, b->pkg_version);
	if (c)
		return -c;
	return strcmp(a->pkg, b->pkg);
}

int rpl_registry_resolve(const struct rpl_registry *r, const char *dep, const struct rpl_node *self,
                         const char *self_version, struct rpl_resolution *res)
{
	struct rpl_constraint c;
	const struct rpl_provlist *l;
	int err, any_version = 0, self_only = 0;

	memset(res, 0, sizeof(*res));
	if ((err = rpl_constraint_parse(dep, &c)))
		return err;
	if (c.conflict) {
		res->status = RPL_RESOLVE_CONFLICT;
		return 0;
	}
	l = rpl_strmap_get(&r->names, c.name);
	if (!l || !l->n) {
		res->status = RPL_RESOLVE_NONE;
		return 0;
	}
	for (size_t i = 0; i < l->n; i++) {
		const struct rpl_provider *p = l->v[i];

		if (!rpl_constraint_match(&c, p->version))
			continue;
		any_version = 1;
		res->ncandidates++;
		if (self && p->origin == self && self_version &&
		    !strcmp(p->pkg_version, self_version)) {
			self_only = 1;
			continue;
		}
		if (!res->best || better(p, res->best) < 0)
			res->best = p;
	}
	if (res->best)
		res->status = RPL_RESOLVED;
	else if (self_only)
		res->status = RPL_RESOLVE_SELF;
	else
		res->status = any_version ? RPL_RESOLVE_NONE : RPL_RESOLVE_VERSION;
	return 0;
}
