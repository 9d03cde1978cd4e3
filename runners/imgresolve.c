#include "runners/imgresolve.h"
#include "common/error.h"
#include "common/strbuf.h"
#include "common/strmap.h"
#include "common/xalloc.h"
#include "graph/apkindex.h"
#include "graph/version.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One package of some repository, and whether it is still allowed. */
struct cand_pkg {
	const struct rpl_apkindex_pkg *p;
	size_t repo;
	const char *tag;
	int disqualified;
	char why[256];
	int selected;
	int emitted, installing; /* in the output; its dependencies being installed */
};

/* The package as a provider of a name, at a version ("" when unversioned). */
struct cand {
	struct cand_pkg *pkg;
	char *version;
};

struct clist {
	struct cand *v;
	size_t n, alloc;
};

struct solver {
	struct cand_pkg *pkgs;
	size_t npkgs;
	struct rpl_strmap names; /* name -> struct clist * */
	struct rpl_resolved_pkg *out;
	size_t nout, out_alloc;
	struct rpl_strmap
	        chosen; /* name -> struct cand_pkg * (selected packages' names and provides) */
	char **keys;    /* strings the maps point at */
	size_t nkeys, keys_alloc;
};

static const char *keep(struct solver *s, const char *str, size_t n)
{
	char *k = rpl_xmalloc(n + 1);

	memcpy(k, str, n);
	k[n] = '\0';
	RPL_ALLOC_GROW(s->keys, s->nkeys + 1, s->keys_alloc);
	s->keys[s->nkeys++] = k;
	return k;
}

static void add_cand(struct solver *s, const char *name, size_t nlen, struct cand_pkg *p,
                     const char *version)
{
	const char *key = keep(s, name, nlen);
	struct rpl_strmap_slot *slot = rpl_strmap_slot(&s->names, key);
	struct clist *l = slot->value;

	if (!l)
		slot->value = l = rpl_xcalloc(1, sizeof(*l));
	RPL_ALLOC_GROW(l->v, l->n + 1, l->alloc);
	l->v[l->n].pkg = p;
	l->v[l->n++].version = rpl_xstrdup(version ? version : "");
}

static const struct clist *cands(const struct solver *s, const char *name)
{
	return rpl_strmap_get(&s->names, name);
}

/* Whether candidate `c` satisfies constraint `k` (an unversioned provide never meets a version). */
static int satisfies(const struct cand *c, const struct rpl_constraint *k)
{
	if (k->op == RPL_VOP_ANY)
		return 1;
	if (!*c->version)
		return 0;
	return rpl_constraint_match(k, c->version);
}

/* apko's comparePackages: 1 when `a` is better than `b` for name `name`. */
static int better(const struct cand *a, const struct cand *b, const char *name,
                  const struct rpl_constraint *k)
{
	int c;

	if (*k->tag) {
		int ta = !strcmp(a->pkg->tag, k->tag), tb = !strcmp(b->pkg->tag, k->tag);
		if (ta != tb)
			return ta;
	}
	if (*a->version && *b->version && (c = rpl_version_cmp(a->version, b->version)))
		return c > 0;
	if (!strcmp(a->pkg->p->name, name) && !strcmp(b->pkg->p->name, name) &&
	    (c = rpl_version_cmp(a->pkg->p->version, b->pkg->p->version)))
		return c > 0;
	if (a->pkg->p->provider_priority != b->pkg->p->provider_priority)
		return a->pkg->p->provider_priority > b->pkg->p->provider_priority;
	if ((c = rpl_version_cmp(a->pkg->p->version, b->pkg->p->version)))
		return c > 0;
	return strcmp(a->pkg->p->name, b->pkg->p->name) < 0;
}

/* The candidates still allowed for `k`, and the best of them. */
static size_t count(const struct solver *s, const struct rpl_constraint *k,
                    const struct cand **best)
{
	const struct clist *l = cands(s, k->name);
	size_t n = 0;

	*best = NULL;
	for (size_t i = 0; l && i < l->n; i++) {
		const struct cand *c = &l->v[i];
		if (c->pkg->disqualified || !satisfies(c, k))
			continue;
		/* A tagged repository serves only requests pinned to its tag. */
		if (*c->pkg->tag && strcmp(c->pkg->tag, k->tag))
			continue;
		n++;
		if (!*best || better(c, *best, k->name, k))
			*best = c;
	}
	return n;
}

/* Why nothing is left for `k`, for the message. */
static void explain(const struct solver *s, const struct rpl_constraint *k, struct rpl_strbuf *b)
{
	const struct clist *l = cands(s, k->name);

	if (!l || !l->n) {
		rpl_strbuf_addf(b, "nothing provides %s", k->name);
		return;
	}
	static const char *const ops[] = { "", "=", "<", "<=", ">", ">=", "~" };

	rpl_strbuf_addf(b, "no %s%s%s%s%s can be installed:", k->name, ops[k->op], k->version,
	                *k->tag ? "@" : "", k->tag);
	for (size_t i = 0; i < l->n && i < 4; i++) {
		const struct cand *c = &l->v[i];
		rpl_strbuf_addf(b, " %s-%s %s;", c->pkg->p->name, c->pkg->p->version,
		                c->pkg->disqualified ? c->pkg->why
		                : *c->pkg->tag && strcmp(c->pkg->tag, k->tag)
		                        ? "is only in a pinned repository"
		                        : "does not match the version");
	}
	b->len--; /* the last ';' */
	b->buf[b->len] = '\0';
}

/* Rules `p` out, saying why: "<reason> <what>". */
static void disqualify(struct cand_pkg *p, const char *reason, const char *what)
{
	if (p->disqualified)
		return;
	p->disqualified = 1;
	snprintf(p->why, sizeof(p->why), "%s %s", reason, what);
}

/* The chosen package's names and versioned provides are taken: other providers of those go. */
static void choose(struct solver *s, struct cand_pkg *p)
{
	p->selected = 1;
	rpl_strmap_slot(&s->chosen, p->p->name)->value = p;
	for (size_t i = 0; i < p->p->nprovides; i++) {
		const char *pr = p->p->provides[i], *eq = strchr(pr, '=');
		const char *key = keep(s, pr, eq ? (size_t)(eq - pr) : strlen(pr));
		const struct clist *l;

		rpl_strmap_slot(&s->chosen, key)->value = p;
		if (!eq)
			continue;
		l = cands(s, key);
		for (size_t k = 0; l && k < l->n; k++)
			if (l->v[k].pkg != p && !l->v[k].pkg->selected && *l->v[k].version &&
			    strcmp(l->v[k].version, eq + 1))
				disqualify(l->v[k].pkg, "conflicts with", p->p->name);
	}
	/* Another version of the same package cannot be installed beside it. */
	{
		const struct clist *l = cands(s, p->p->name);
		for (size_t k = 0; l && k < l->n; k++)
			if (l->v[k].pkg != p && !strcmp(l->v[k].pkg->p->name, p->p->name))
				disqualify(l->v[k].pkg, "is another version of", p->p->name);
	}
}

/* Whether a chosen package already meets `k`. */
static const struct cand_pkg *met(const struct solver *s, const struct rpl_constraint *k)
{
	const struct cand_pkg *p = rpl_strmap_get(&s->chosen, k->name);
	const struct clist *l;

	if (!p || k->op == RPL_VOP_ANY)
		return p;
	l = cands(s, k->name);
	for (size_t i = 0; l && i < l->n; i++)
		if (l->v[i].pkg == p && satisfies(&l->v[i], k))
			return p;
	return NULL;
}

static void emit(struct solver *s, struct cand_pkg *p)
{
	p->emitted = 1;
	RPL_ALLOC_GROW(s->out, s->nout + 1, s->out_alloc);
	s->out[s->nout].pkg = p->p;
	s->out[s->nout++].repo = p->repo;
}

/* Installs `p`'s dependencies, depth first, then `p`. */
static int install(struct solver *s, struct cand_pkg *p, int depth)
{
	struct rpl_constraint *deps;
	size_t nd = p->p->ndepends;
	char *done;
	int err = 0;

	if (depth > 256)
		return rpl_error(-RPL_ECYCLE, "dependencies of %s nest too deep", p->p->name);
	p->installing = 1;
	deps = rpl_xcalloc(nd ? nd : 1, sizeof(*deps));
	done = rpl_xcalloc(nd ? nd : 1, 1);
	for (size_t i = 0; i < nd && !err; i++) {
		if (rpl_constraint_parse(p->p->depends[i], &deps[i]))
			err = rpl_error(-RPL_EPARSE, "%s-%s: %s", p->p->name, p->p->version,
			                rpl_errmsg());
		else if (deps[i].conflict) {
			/* `!b` excludes every b; `!b>1` only the b it matches. */
			const struct clist *l = cands(s, deps[i].name);
			for (size_t k = 0; l && k < l->n; k++) {
				struct cand_pkg *c = l->v[k].pkg;
				if (c == p ||
				    (deps[i].op != RPL_VOP_ANY && !satisfies(&l->v[k], &deps[i])))
					continue;
				if (c->selected)
					err = rpl_error(-RPL_EPARSE, "%s-%s conflicts with %s-%s",
					                p->p->name, p->p->version, c->p->name,
					                c->p->version);
				disqualify(c, "conflicts with", p->p->name);
			}
			done[i] = 1;
		}
	}
	/* Repeatedly: the open dependency with the fewest candidates (ties by name). */
	for (;;) {
		size_t at = nd, fewest = (size_t)-1;
		const struct cand *best = NULL, *b;

		for (size_t i = 0; i < nd && !err; i++) {
			size_t n;
			const struct cand_pkg *m = NULL;
			if (done[i])
				continue;
			/* What the package provides itself, or what is chosen already
			 * (installed first when it is not yet). */
			if (!strcmp(deps[i].name, p->p->name) || (m = met(s, &deps[i]))) {
				struct cand_pkg *mp = (struct cand_pkg *)m;
				done[i] = 1;
				if (mp && mp != p && !mp->emitted && !mp->installing)
					err = install(s, mp, depth + 1);
				continue;
			}
			n = count(s, &deps[i], &b);
			if (!n) {
				struct rpl_strbuf why = RPL_STRBUF_INIT;
				explain(s, &deps[i], &why);
				err = rpl_error(-RPL_ENOTFOUND, "%s (needed by %s-%s)", why.buf,
				                p->p->name, p->p->version);
				rpl_strbuf_release(&why);
				break;
			}
			if (n < fewest ||
			    (n == fewest && strcmp(deps[i].name, deps[at].name) < 0)) {
				fewest = n;
				at = i;
				best = b;
			}
		}
		if (err || at == nd)
			break;
		done[at] = 1;
		if (best->pkg->selected)
			continue;
		choose(s, best->pkg);
		err = install(s, best->pkg, depth + 1);
	}
	if (!err && !p->emitted)
		emit(s, p);
	p->installing = 0;
	free(deps);
	free(done);
	return err;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * Every package of the repositories in `s->pkgs`, and those apko could
 * install (a version it can read, this arch or none) as candidates for
 * their name and each name they provide.
 */
static void load_candidates(struct solver *s, const struct rpl_repo_ref *repos, size_t nrepos,
                            const char *arch)
{
	size_t total = 0, k = 0;

	for (size_t r = 0; r < nrepos; r++)
		total += repos[r].index->npkgs;
	s->pkgs = rpl_xcalloc(total ? total : 1, sizeof(*s->pkgs));
	for (size_t r = 0; r < nrepos; r++)
		for (size_t i = 0; i < repos[r].index->npkgs; i++) {
			struct cand_pkg *p = &s->pkgs[k++];
			p->p = &repos[r].index->pkgs[i];
			p->repo = r;
			p->tag = repos[r].tag ? repos[r].tag : "";
			/* apko skips packages whose version it cannot read; another
			 * arch's package cannot be installed. */
			if (!rpl_version_valid(p->p->version))
				continue;
			if (arch && p->p->arch && *p->p->arch && strcmp(p->p->arch, arch) &&
			    strcmp(p->p->arch, "noarch"))
				continue;
			add_cand(s, p->p->name, strlen(p->p->name), p, p->p->version);
			for (size_t j = 0; j < p->p->nprovides; j++) {
				const char *pr = p->p->provides[j], *eq = strchr(pr, '=');
				add_cand(s, pr, eq ? (size_t)(eq - pr) : strlen(pr), p,
				         eq ? eq + 1 : "");
			}
		}
	s->npkgs = total;
}

/* The world's entries parsed into `w`; its versions and conflicts disqualify candidates. */
static int apply_world(struct solver *s, char *const *sorted, struct rpl_constraint *w,
                       size_t nworld)
{
	for (size_t i = 0; i < nworld; i++) {
		const struct clist *l;
		if (rpl_constraint_parse(sorted[i], &w[i]))
			return rpl_error(-RPL_EPARSE, "'%s': %s", sorted[i], rpl_errmsg());
		l = cands(s, w[i].name);
		for (size_t j = 0; l && j < l->n; j++) {
			if (w[i].conflict && (w[i].op == RPL_VOP_ANY || satisfies(&l->v[j], &w[i])))
				disqualify(l->v[j].pkg, "is excluded by", sorted[i]);
			else if (w[i].conflict)
				continue;
			else if (w[i].op != RPL_VOP_ANY && *l->v[j].version &&
			         !satisfies(&l->v[j], &w[i]))
				disqualify(l->v[j].pkg, "does not match", sorted[i]);
		}
	}
	return 0;
}

/* The top-level package of each world entry in `top`: the entry with the
 * fewest candidates left chooses first, repeatedly. */
static int choose_top(struct solver *s, char *const *sorted, const struct rpl_constraint *w,
                      size_t nworld, struct cand_pkg **top)
{
	for (size_t round = 0; round < nworld; round++) {
		size_t at = nworld, fewest = (size_t)-1;
		const struct cand *best = NULL, *b;
		for (size_t i = 0; i < nworld; i++) {
			size_t c;
			if (w[i].conflict || top[i])
				continue;
			c = count(s, &w[i], &b);
			if (!c) {
				struct rpl_strbuf why = RPL_STRBUF_INIT;
				int err;
				explain(s, &w[i], &why);
				err = rpl_error(-RPL_ENOTFOUND, "cannot install %s: %s", sorted[i],
				                why.buf);
				rpl_strbuf_release(&why);
				return err;
			}
			if (c < fewest) {
				fewest = c;
				at = i;
				best = b;
			}
		}
		if (at == nworld)
			break;
		top[at] = best->pkg;
		if (!best->pkg->selected)
			choose(s, best->pkg);
	}
	return 0;
}

static void solver_release(struct solver *s)
{
	for (size_t i = 0; i < s->names.cap; i++) {
		struct clist *l = s->names.slots[i].value;
		for (size_t j = 0; l && j < l->n; j++)
			free(l->v[j].version);
		if (l)
			free(l->v);
		free(l);
	}
	rpl_strmap_release(&s->names);
	rpl_strmap_release(&s->chosen);
	for (size_t i = 0; i < s->nkeys; i++)
		free(s->keys[i]);
	free(s->keys);
	free(s->out);
	free(s->pkgs);
}

int rpl_image_resolve(const struct rpl_repo_ref *repos, size_t nrepos, const char *arch,
                      char *const *world, size_t nworld, struct rpl_resolved_pkg **out, size_t *n)
{
	struct solver s;
	struct rpl_constraint *w = rpl_xcalloc(nworld ? nworld : 1, sizeof(*w));
	char **sorted = rpl_xmalloc((nworld ? nworld : 1) * sizeof(*sorted));
	struct cand_pkg **top = rpl_xcalloc(nworld ? nworld : 1, sizeof(*top));
	int err;

	memset(&s, 0, sizeof(s));
	*out = NULL;
	*n = 0;
	load_candidates(&s, repos, nrepos, arch);
	/* The world in sorted order; its versions and conflicts disqualify first. */
	memcpy(sorted, world, nworld * sizeof(*sorted));
	if (nworld)
		qsort(sorted, nworld, sizeof(*sorted), cmp_str);
	err = apply_world(&s, sorted, w, nworld);
	if (!err)
		err = choose_top(&s, sorted, w, nworld, top);
	/* Then each one's dependencies, in world order. */
	for (size_t i = 0; i < nworld && !err; i++)
		if (top[i] && !top[i]->emitted)
			err = install(&s, top[i], 0);
	if (!err) {
		*out = s.out;
		*n = s.nout;
		s.out = NULL;
	}
	solver_release(&s);
	free(w);
	free(sorted);
	free(top);
	return err;
}
