/*
 * Making a plan: graphs per arch, the hashes of every job, selection with
 * reasons, propagation to dependents and images, and the order.
 *
 * Hashes.  own = sha256("ripple job 1", kind, name, arch, runner, and each
 * input file's path and sha256 in path order).  input = sha256(own, the
 * sorted input hashes of its in-repo dependencies and the name, version and
 * source of its external ones).  Inside a cycle no member's input hash can
 * come first, so the members share one: sha256 of their sorted own hashes
 * and of everything outside the cycle they depend on; each member's input
 * hash is then sha256(own, that).  Build edges count for packages, image
 * edges for images.
 */
#include "orchestrator/plan.h"
#include "common/error.h"
#include "common/file.h"
#include "common/xalloc.h"
#include "graph/graph.h"
#include "orchestrator/forced.h"
#include "orchestrator/gitchange.h"
#include "orchestrator/state.h"
#include "recipes/apko.h"
#include "recipes/melange.h"
#include "recipes/scan.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uv.h>

static void add_reason(struct rpl_plan *p, struct rpl_job *j, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

static void add_reason(struct rpl_plan *p, struct rpl_job *j, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	/* The same reason twice ("a.yaml changed", from git and from the record) once. */
	for (size_t i = 0; i < j->nreasons; i++)
		if (!strcmp(j->reasons[i], buf))
			return;
	RPL_ALLOC_GROW_FEW(j->reasons, j->nreasons + 1, j->reasons_alloc);
	j->reasons[j->nreasons++] = rpl_arena_strdup(&p->arena, buf);
}

/*
 * The own hash of a job, from its scan entry alone: the graph is not needed,
 * so these are taken on a second thread while the graphs are built.
 */
struct own {
	char **inputs;
	uint8_t (*digests)[RPL_SHA256_LEN];
	size_t ninputs;
	uint8_t hash[RPL_SHA256_LEN];
	int taken; /* the thread saw this (entry, arch) as a job */
	int err;
	const char *errmsg; /* messages are per thread: carried back in here */
};

struct own_work {
	const struct rpl_scan *scan;
	struct rpl_state *st;
	struct rpl_arena *arena;
	const char *runner;
	struct own *owns; /* [arch * nentries + entry] */
	size_t nentries;
};

void rpl_own_hash(const char *kind, const char *name, const char *arch, const char *runner,
                  char *const *paths, const uint8_t (*digests)[RPL_SHA256_LEN], size_t n,
                  uint8_t out[RPL_SHA256_LEN])
{
	struct rpl_sha256 h;

	rpl_sha256_init(&h);
	rpl_sha256_update_str(&h, "ripple job 1");
	rpl_sha256_update_str(&h, kind);
	rpl_sha256_update_str(&h, name);
	rpl_sha256_update_str(&h, arch);
	rpl_sha256_update_str(&h, runner);
	for (size_t i = 0; i < n; i++) {
		rpl_sha256_update_str(&h, paths[i]);
		rpl_sha256_update(&h, digests[i], RPL_SHA256_LEN);
	}
	rpl_sha256_final(&h, out);
}

/* Reads each input's digest (through the stat cache) and the own hash. */
static int own_hash(const struct own_work *w, const struct rpl_scan_entry *e, const char *arch,
                    struct own *o)
{
	const char *kind = rpl_node_kind_name(e->image ? RPL_NODE_IMAGE : RPL_NODE_ORIGIN);
	const char *name = e->image ? e->image->name : e->summary->name.s;
	char **files;
	size_t n;
	int err = 0;

	rpl_scan_inputs(w->scan, e, arch, &files, &n);
	o->inputs = rpl_arena_alloc(w->arena, (n ? n : 1) * sizeof(*o->inputs));
	o->digests = rpl_arena_alloc(w->arena, (n ? n : 1) * sizeof(*o->digests));
	for (size_t i = 0; i < n && !err; i++) {
		o->inputs[i] = rpl_arena_strdup(w->arena, files[i]);
		if (w->st) {
			err = rpl_state_digest(w->st, files[i], o->digests[i]);
		} else {
			char *path = rpl_path_join(w->scan->root, files[i]), *text;
			size_t len;
			err = rpl_read_file(path, &text, &len);
			if (!err) {
				rpl_sha256(text, len, o->digests[i]);
				free(text);
			}
			free(path);
		}
		if (err == -ENOENT)
			err = rpl_error(-ENOENT, "'%s' disappeared while planning", files[i]);
		else if (err)
			err = rpl_error_prefix(err, "%s %s", kind, name);
	}
	o->ninputs = n;
	if (!err)
		rpl_own_hash(kind, name, arch, w->runner, o->inputs,
		             (const uint8_t(*)[RPL_SHA256_LEN])o->digests, n, o->hash);
	rpl_scan_inputs_free(files, n);
	return err;
}

/*
 * Every (entry, arch) that can be a job: recipes compiled for the arch and
 * every image (an image outside the arch costs a few stats and is unused).
 * Each keeps its own error, reported only if the graph makes it a job.
 */
static void own_hashes(void *arg)
{
	struct own_work *w = arg;

	for (size_t a = 0; a < w->scan->narchs; a++)
		for (size_t i = 0; i < w->nentries; i++) {
			const struct rpl_scan_entry *e = &w->scan->entries[i];
			struct own *o = &w->owns[a * w->nentries + i];
			if (!e->image && !(e->summary && rpl_scan_compiled(e, w->scan->archs[a])))
				continue;
			o->taken = 1;
			if ((o->err = own_hash(w, e, w->scan->archs[a], o)))
				o->errmsg = rpl_arena_strdup(w->arena, rpl_errmsg());
		}
}

static int orders(const struct rpl_job *j, const struct rpl_edge *e)
{
	return j->node->kind == RPL_NODE_IMAGE ? e->kind == RPL_EDGE_IMAGE
	                                       : e->kind == RPL_EDGE_BUILD;
}

static int cmp_digest(const void *a, const void *b)
{
	return memcmp(a, b, RPL_SHA256_LEN);
}

struct digests {
	uint8_t (*v)[RPL_SHA256_LEN];
	size_t n, alloc;
};

static void push_digest(struct digests *d, const uint8_t *x)
{
	RPL_ALLOC_GROW(d->v, d->n + 1, d->alloc);
	memcpy(d->v[d->n++], x, RPL_SHA256_LEN);
}

/* An input hash: sha256 of the own hash and the dependencies' digests, sorted. */
static void combine(const uint8_t own[RPL_SHA256_LEN], struct digests *d,
                    uint8_t out[RPL_SHA256_LEN])
{
	struct rpl_sha256 h;

	if (d->n)
		qsort(d->v, d->n, RPL_SHA256_LEN, cmp_digest);
	rpl_sha256_init(&h);
	rpl_sha256_update(&h, own, RPL_SHA256_LEN);
	for (size_t i = 0; i < d->n; i++)
		rpl_sha256_update(&h, d->v[i], RPL_SHA256_LEN);
	rpl_sha256_final(&h, out);
}

/* An external dependency's part of an input hash: what it is and where it comes from. */
static void external_digest(const struct rpl_node *v, uint8_t out[RPL_SHA256_LEN])
{
	struct rpl_sha256 x;

	rpl_sha256_init(&x);
	rpl_sha256_update_str(&x, v->name);
	rpl_sha256_update_str(&x, v->version);
	rpl_sha256_update_str(&x, v->source ? v->source : "");
	rpl_sha256_final(&x, out);
}

/*
 * Input hashes of one graph's jobs, component by component (see the top).
 * A component whose members all have a known input hash (from a snapshot)
 * and none of whose dependencies got a new one keeps them.
 */
static void input_hashes(struct rpl_graph *g, struct rpl_job **job_of)
{
	char *renewed = rpl_xcalloc(g->nnodes ? g->nnodes : 1, 1);

	for (size_t c = 0; c < g->nsccs; c++) {
		const struct rpl_scc *s = &g->sccs[c];
		struct digests d = { NULL, 0, 0 };
		uint8_t shared[RPL_SHA256_LEN];
		struct rpl_sha256 h;
		int keep = 1;

		for (size_t m = 0; m < s->n && keep; m++) {
			const struct rpl_node *v = s->members[m];
			const struct rpl_job *j = job_of[v->id];

			if (j && !j->input_known)
				keep = 0;
			for (size_t e = 0; j && e < v->ndeps && keep; e++)
				if (orders(j, &v->deps[e]) && renewed[v->deps[e].to->id])
					keep = 0;
		}
		if (keep)
			continue;
		for (size_t m = 0; m < s->n; m++) {
			const struct rpl_node *v = s->members[m];
			struct rpl_job *j = job_of[v->id];

			if (!j)
				continue;
			renewed[v->id] = 1;
			if (s->n > 1)
				push_digest(&d, j->own);
			for (size_t e = 0; e < v->ndeps; e++) {
				const struct rpl_edge *ed = &v->deps[e];
				if (!orders(j, ed) || ed->to->scc == c)
					continue;
				if (job_of[ed->to->id]) {
					push_digest(&d, job_of[ed->to->id]->input);
				} else {
					uint8_t xd[RPL_SHA256_LEN];
					external_digest(ed->to, xd);
					push_digest(&d, xd);
				}
			}
			if (s->n == 1) {
				combine(j->own, &d, j->input);
				d.n = 0;
			}
		}
		if (s->n > 1) {
			if (d.n)
				qsort(d.v, d.n, RPL_SHA256_LEN, cmp_digest);
			rpl_sha256_init(&h);
			for (size_t i = 0; i < d.n; i++)
				rpl_sha256_update(&h, d.v[i], RPL_SHA256_LEN);
			rpl_sha256_final(&h, shared);
			for (size_t m = 0; m < s->n; m++) {
				struct rpl_job *j = job_of[s->members[m]->id];
				if (!j)
					continue;
				rpl_sha256_init(&h);
				rpl_sha256_update(&h, j->own, RPL_SHA256_LEN);
				rpl_sha256_update(&h, shared, RPL_SHA256_LEN);
				rpl_sha256_final(&h, j->input);
			}
		}
		free(d.v);
	}
	free(renewed);
}

/* Reasons of a job whose own hash differs from its record: which inputs. */
static int diff_inputs(struct rpl_plan *p, struct rpl_state *st, struct rpl_job *j,
                       struct rpl_job_record *rec)
{
	size_t a = 0, b = 0, differ = 0;
	int err = rpl_state_job_inputs(st, j->node->name, j->kind, j->arch, rec);

	if (err)
		return err;

	/* Both lists are sorted by path: one merge walk. */
	while (a < j->ninputs || b < rec->ninputs) {
		int c = a == j->ninputs     ? 1
		        : b == rec->ninputs ? -1
		                            : strcmp(j->inputs[a], rec->paths[b]);
		if (c < 0) {
			add_reason(p, j, "%s added", j->inputs[a++]);
			differ++;
		} else if (c > 0) {
			add_reason(p, j, "%s removed", rec->paths[b++]);
			differ++;
		} else {
			if (memcmp(j->digests[a], rec->digests[b], RPL_SHA256_LEN)) {
				add_reason(p, j, "%s changed", j->inputs[a]);
				differ++;
			}
			a++;
			b++;
		}
	}
	if (!differ)
		add_reason(p, j, "build settings changed (arch, runner or ripple)");
	return 0;
}

/*
 * Whether the record of `j` says it must be rebuilt (see plan.h): 1, 0 when
 * it is up to date, or an error.  With `explain`, the reasons are added;
 * with EXPLAIN_RECORD, only those a record gives ("never built" is left to
 * the selector's reason: git's, on a fresh clone, says it all).
 */
enum { EXPLAIN_NONE, EXPLAIN_ALL, EXPLAIN_RECORD };

static int check_stale(struct rpl_plan *p, struct rpl_state *st, struct rpl_job *j, int explain)
{
	struct rpl_job_record rec;
	int found = st ? rpl_state_job_get(st, j->node->name, j->kind, j->arch, &rec) : 0;
	int stale = 0, err = 0;
	int64_t run;

	if (found < 0)
		return found;
	if (!found) {
		if (explain == EXPLAIN_ALL)
			add_reason(p, j, "never built");
		return 1;
	}
	j->own_recorded = !memcmp(rec.own_hash, j->own, RPL_SHA256_LEN);
	if (strcmp(rec.status, "ok")) {
		stale = 1;
		if (explain)
			add_reason(p, j, "last build %s", rec.status);
		goto out;
	}
	j->recorded = 1;
	memcpy(j->recorded_input, rec.input_hash, RPL_SHA256_LEN);
	if (!j->own_recorded) {
		stale = 1;
		if (explain)
			err = diff_inputs(p, st, j, &rec);
	} else if (rpl_forced_pending(p->forced, j->node->name, j->kind, j->arch, &rec, &run)) {
		stale = 1;
		if (explain)
			add_reason(p, j, "forced by run %lld, which did not finish it",
			           (long long)run);
	} else if (j->node->kind == RPL_NODE_IMAGE ||
	           (p->mode != RPL_SELECT_STALE && j->candidate)) {
		/* An image follows what it contains, even into a later run: the
		 * input it would be built from now is not the one it was.  So
		 * does a package that is named or reads a changed file: it is up
		 * to date when built from exactly these inputs.  A package out
		 * of scope is stale as `ripple plan` would find it, by its own
		 * inputs (and the check does not cost a lookup per edge of the
		 * whole graph). */
		uint8_t now[RPL_SHA256_LEN];
		if (!(err = rpl_plan_built_input(p, j, st, now)) &&
		    memcmp(now, rec.input_hash, RPL_SHA256_LEN)) {
			stale = 1;
			if (explain && j->node->kind == RPL_NODE_IMAGE)
				add_reason(p, j,
				           "packages it contains were rebuilt since its "
				           "last build");
			else if (explain)
				add_reason(p, j, "its dependencies changed since its last build");
		}
	}
out:
	rpl_job_record_release(&rec);
	return err ? err : stale;
}

int rpl_plan_stale_reasons(struct rpl_plan *p, struct rpl_state *st, struct rpl_job *j)
{
	int r = check_stale(p, st, j, EXPLAIN_ALL);

	return r < 0 ? r : 0;
}

static int in_sorted(char *const *v, size_t n, const char *s)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = strcmp(v[mid], s);
		if (!c)
			return 1;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
}

static int select_changed(struct rpl_plan *p, const char *root, const struct rpl_plan_opts *o)
{
	struct rpl_changes own, ch;
	int err = 0;

	if (o->changes) {
		ch = *o->changes;
	} else {
		if ((err = rpl_git_changes(root, o->since, &own)))
			return err;
		ch = own;
	}
	p->base = rpl_xstrdup(ch.base ? ch.base : "");
	for (size_t i = 0; i < p->njobs; i++) {
		struct rpl_job *j = &p->jobs[i];
		for (size_t k = 0; k < j->ninputs; k++)
			if (in_sorted(ch.paths, ch.npaths, j->inputs[k])) {
				add_reason(p, j, "%s changed", j->inputs[k]);
				j->picked = 1;
			}
	}
	/* A deleted recipe or image has no job left: say so. */
	for (size_t i = 0; i < ch.ndeleted; i++) {
		const char *f = ch.deleted[i];
		int recipe = (!strchr(f, '/') && rpl_str_endswith(f, ".yaml")) ||
		             rpl_str_endswith(f, ".melange.yaml") ||
		             rpl_str_endswith(f, ".apko.yaml");
		if (!recipe)
			continue;
		p->deleted = rpl_xrealloc(p->deleted, (p->ndeleted + 1) * sizeof(*p->deleted));
		p->deleted[p->ndeleted++] = rpl_xstrdup(f);
	}
	if (!o->changes)
		rpl_changes_release(&own);
	return 0;
}

static int select_names(struct rpl_plan *p, char *const *names, size_t n)
{
	for (size_t k = 0; k < n; k++) {
		int found = 0;
		for (size_t g = 0; g < p->ngraphs; g++) {
			struct rpl_job *j = rpl_plan_find(p, names[k], p->graphs[g].arch);
			if (j) {
				j->picked = 1;
				found = 1;
			}
		}
		if (!found)
			return rpl_error(-RPL_ENOTFOUND, "no package or image named '%s'",
			                 names[k]);
	}
	return 0;
}

/* Selects `j` when a job it follows (see orders()) is rebuilt: one reason each. */
static void follow(struct rpl_plan *p, struct rpl_job *j, struct rpl_job **job_of)
{
	const struct rpl_node *v = j->node;

	for (size_t e = 0; e < v->ndeps; e++) {
		const struct rpl_edge *ed = &v->deps[e];
		struct rpl_job *d = job_of[ed->to->id];

		if (!orders(j, ed) || !d || !d->selected || d == j)
			continue;
		/* add_reason keeps one reason per rebuilt dependency, however
		 * many needs lead to it. */
		if (v->kind == RPL_NODE_IMAGE)
			add_reason(p, j, "contains %s (rebuilt)", ed->to->name);
		else
			add_reason(p, j, "depends on %s (rebuilt)", ed->to->name);
		j->selected = 1;
	}
}

/*
 * The default selection (and --all without --force), in graph order,
 * dependencies first: a stale job is selected (select_stale), a package
 * follows a rebuilt build dependency when asked to (--rebuild-dependents),
 * an image always follows the packages it installs.  With `drift`
 * (staleness with dependents), a package whose recorded input hash differs
 * follows as well.
 */
static void propagate(struct rpl_plan *p, struct rpl_graph *g, struct rpl_job **job_of,
                      int dependents, int drift)
{
	for (size_t i = 0; i < g->nnodes; i++) {
		struct rpl_node *v = g->order[i];
		struct rpl_job *j = job_of[v->id];

		if (!j || (v->kind == RPL_NODE_ORIGIN && !dependents))
			continue;
		follow(p, j, job_of);
		/* A dependency rebuilt by an earlier run while this package was not:
		 * its recorded input hash tells.  Checked here, in order, so that
		 * what depends on it follows too. */
		if (drift && !j->selected && j->recorded &&
		    memcmp(j->recorded_input, j->input, RPL_SHA256_LEN)) {
			add_reason(p, j, "its dependencies changed since its last build");
			j->selected = 1;
		}
	}
}

/*
 * The other selections (NAMEs, --changed, --since, --all --force), in graph
 * order: a job is *in scope* (a candidate) when the selector picked it or
 * it follows one in scope (an image what it installs, a package with
 * --rebuild-dependents what it builds against), and a candidate is
 * selected when a job it builds against or installs is rebuilt, when it is
 * stale, or with --force; else it is up to date and left out, and nothing
 * follows it as rebuilt.  Returns 0 or an error.
 */
static int scoped(struct rpl_plan *p, struct rpl_graph *g, struct rpl_job **job_of,
                  const struct rpl_plan_opts *o, struct rpl_state *st)
{
	for (size_t i = 0; i < g->nnodes; i++) {
		struct rpl_node *v = g->order[i];
		struct rpl_job *j = job_of[v->id];
		int follows = v->kind == RPL_NODE_IMAGE || o->rebuild_dependents, r;

		if (!j)
			continue;
		j->candidate = j->picked;
		for (size_t e = 0; follows && e < v->ndeps && !j->candidate; e++) {
			const struct rpl_job *d = job_of[v->deps[e].to->id];
			j->candidate = orders(j, &v->deps[e]) && d && d != j && d->candidate;
		}
		if (!j->candidate) {
			if ((r = check_stale(p, st, j, EXPLAIN_NONE)) < 0)
				return r;
			j->stale = r;
			p->nstale_left += r;
			continue;
		}
		/* A candidate follows what it builds against when that is rebuilt
		 * (`build a b`, b building against a): --rebuild-dependents only
		 * widens the scope. */
		follow(p, j, job_of);
		/* Following a rebuilt job says why; its own staleness need not. */
		r = check_stale(p, st, j,
		                j->selected                     ? EXPLAIN_NONE
		                : p->mode == RPL_SELECT_CHANGED ? EXPLAIN_RECORD
		                                                : EXPLAIN_ALL);
		if (r < 0)
			return r;
		j->stale = r;
		p->ncandidates++;
		if (!r && !j->selected && !o->force) {
			j->nreasons = 0; /* the selector's own, such as a file git saw change */
			p->nup_to_date++;
			continue;
		}
		if (!r && !j->selected)
			add_reason(p, j, "up to date, rebuilt as --force asks");
		if (p->mode == RPL_SELECT_NAMES && j->picked)
			add_reason(p, j, "requested");
		j->selected = 1;
	}
	return 0;
}

static int cmp_order(const void *a, const void *b)
{
	const struct rpl_job *x = *(struct rpl_job *const *)a, *y = *(struct rpl_job *const *)b;

	if (x->node->pos != y->node->pos)
		return x->node->pos < y->node->pos ? -1 : 1;
	return x->graph < y->graph ? -1 : x->graph > y->graph;
}

/* The default selection's first step: every stale job, with its reasons. */
static int select_stale(struct rpl_plan *p, struct rpl_state *st)
{
	for (size_t i = 0; i < p->njobs; i++) {
		struct rpl_job *j = &p->jobs[i];
		int r = check_stale(p, st, j, EXPLAIN_ALL);

		if (r < 0)
			return r;
		j->picked = j->candidate = 1;
		j->stale = j->selected = r;
	}
	p->ncandidates = p->njobs;
	return 0;
}

void rpl_plan_nothing(const struct rpl_plan *p, char *buf, size_t n)
{
	size_t k = p->nup_to_date, s = p->nstale_left;
	int len;

	if (p->mode == RPL_SELECT_STALE)
		len = snprintf(buf, n, "%zu job%s up to date", p->njobs, p->njobs == 1 ? "" : "s");
	else if (k)
		len = snprintf(buf, n, "the %zu selected job%s %s up to date", k, k == 1 ? "" : "s",
		               k == 1 ? "is" : "are");
	else if (p->mode == RPL_SELECT_CHANGED)
		len = snprintf(buf, n, "no job reads a file changed since %s",
		               p->base ? p->base : "the base");
	else
		len = snprintf(buf, n, "no job selected");
	if (s && len >= 0 && (size_t)len < n)
		snprintf(buf + len, n - (size_t)len, " (%zu job%s stale: see `ripple plan`)", s,
		         s == 1 ? " is" : "s are");
}

int rpl_plan_make(struct rpl_plan *p, const struct rpl_scan *scan, struct rpl_state *st,
                  const struct rpl_plan_opts *o)
{
	struct own_work w = {
		scan, st, NULL, o->runner ? o->runner : "auto", NULL, scan->nentries
	};
	uv_thread_t hasher;
	int hashing = 0;
	size_t n = 0;
	int err = 0;

	memset(p, 0, sizeof(*p));
	rpl_arena_init(&p->arena);
	p->ngraphs = scan->narchs;
	p->graphs = rpl_xcalloc(p->ngraphs ? p->ngraphs : 1, sizeof(*p->graphs));
	w.arena = &p->arena;
	/* One transaction for the stat cache's writes: thousands of files. */
	if (st && (err = rpl_state_begin(st)))
		goto out;
	/* The scan read every recipe it parsed: their digests need no second read. */
	for (size_t i = 0; st && i < scan->nentries && !err; i++)
		if (scan->entries[i].has_digest)
			err = rpl_state_digest_seed(st, scan->entries[i].file,
			                            scan->entries[i].digest,
			                            scan->entries[i].read_ns);
	if (err)
		goto out;

	/* Own hashes on a second thread (the only user of `st` meanwhile),
	 * graphs on this one. */
	w.owns = rpl_xcalloc(scan->nentries * scan->narchs + 1, sizeof(*w.owns));
	if (uv_thread_create(&hasher, own_hashes, &w))
		own_hashes(&w);
	else
		hashing = 1;
	for (size_t a = 0; a < scan->narchs && !err; a++) {
		struct rpl_graph_opts go = { scan->archs[a], NULL, 0 };
		err = rpl_graph_build(&p->graphs[a], scan, &go);
		n += p->graphs[a].norigins + p->graphs[a].nimages;
	}
	if (hashing)
		uv_thread_join(&hasher);
	if (err)
		goto out;

	p->jobs = rpl_xcalloc(n ? n : 1, sizeof(*p->jobs));
	for (size_t a = 0; a < p->ngraphs; a++) {
		struct rpl_graph *g = &p->graphs[a];

		for (size_t i = 0; i < g->nnodes; i++) {
			struct rpl_node *v = g->order[i];
			const struct own *own;
			struct rpl_job *j;

			if (v->kind == RPL_NODE_EXTERNAL)
				continue;
			own = &w.owns[a * scan->nentries + (size_t)(v->entry - scan->entries)];
			if (!own->taken) /* the graph and own_hashes disagree on what is a job */
				err = rpl_error(-EINVAL, "internal error: no hash for %s/%s",
				                v->name, g->arch);
			else if (own->err)
				err = rpl_error(own->err, "%s", own->errmsg);
			if (err)
				goto out;
			j = &p->jobs[p->njobs++];
			j->node = v;
			j->graph = g;
			j->arch = g->arch;
			j->kind = rpl_node_kind_name(v->kind);
			j->inputs = own->inputs;
			j->digests = own->digests;
			j->ninputs = own->ninputs;
			memcpy(j->own, own->hash, RPL_SHA256_LEN);
		}
	}
	if (st && (err = rpl_state_commit(st)))
		goto out;
	err = rpl_plan_select(p, scan->root, st, o);
out:
	free(w.owns);
	return err;
}

int rpl_plan_select(struct rpl_plan *p, const char *root, struct rpl_state *st,
                    const struct rpl_plan_opts *o)
{
	struct rpl_job ***job_of = rpl_xcalloc(p->ngraphs ? p->ngraphs : 1, sizeof(*job_of));
	int err = 0;

	p->job_of = job_of; /* kept: rpl_plan_built_input() reads it */
	for (size_t a = 0; a < p->ngraphs; a++)
		job_of[a] = rpl_xcalloc(p->graphs[a].nnodes ? p->graphs[a].nnodes : 1,
		                        sizeof(**job_of));
	for (size_t i = 0; i < p->njobs; i++) {
		struct rpl_job *j = &p->jobs[i];
		job_of[j->graph - p->graphs][j->node->id] = j;
	}
	for (size_t a = 0; a < p->ngraphs; a++)
		input_hashes(&p->graphs[a], job_of[a]);

	if (st && (err = rpl_forced_load(st, &p->forced)))
		goto out;
	/* --all without --force is the default: every stale job. */
	p->mode = o->mode == RPL_SELECT_ALL && !o->force ? RPL_SELECT_STALE : o->mode;
	switch (p->mode) {
	case RPL_SELECT_STALE:
		err = select_stale(p, st);
		for (size_t a = 0; a < p->ngraphs && !err; a++)
			propagate(p, &p->graphs[a], job_of[a], o->rebuild_dependents,
			          o->rebuild_dependents);
		break;
	case RPL_SELECT_ALL:
		for (size_t i = 0; i < p->njobs; i++)
			p->jobs[i].picked = 1;
		break;
	case RPL_SELECT_CHANGED:
		err = select_changed(p, root, o);
		break;
	case RPL_SELECT_NAMES:
		err = select_names(p, o->names, o->nnames);
		break;
	}
	for (size_t a = 0; a < p->ngraphs && !err && p->mode != RPL_SELECT_STALE; a++)
		err = scoped(p, &p->graphs[a], job_of[a], o, st);
	if (err)
		goto out;

	p->order = rpl_xmalloc((p->njobs ? p->njobs : 1) * sizeof(*p->order));
	for (size_t i = 0; i < p->njobs; i++)
		if (p->jobs[i].selected)
			p->order[p->norder++] = &p->jobs[i];
	if (p->norder)
		qsort(p->order, p->norder, sizeof(*p->order), cmp_order);
out:
	return err;
}

int rpl_plan_built_input(const struct rpl_plan *p, const struct rpl_job *j, struct rpl_state *st,
                         uint8_t out[RPL_SHA256_LEN])
{
	const struct rpl_graph *g = j->graph;
	const struct rpl_node *v = j->node;
	struct rpl_job **job_of = p->job_of ? p->job_of[g - p->graphs] : NULL;
	struct digests d = { NULL, 0, 0 };
	int err = 0;

	memcpy(out, j->input, RPL_SHA256_LEN);
	if (!job_of || g->sccs[v->scc].n > 1)
		return 0; /* a cycle's members share one hash: kept as planned */
	for (size_t e = 0; e < v->ndeps && !err; e++) {
		const struct rpl_edge *ed = &v->deps[e];
		const struct rpl_job *dj = job_of[ed->to->id];
		struct rpl_job_record rec;
		uint8_t xd[RPL_SHA256_LEN];
		int found;

		if (!orders(j, ed) || ed->to->scc == v->scc)
			continue;
		if (!dj) {
			external_digest(ed->to, xd);
			push_digest(&d, xd);
			continue;
		}
		found = rpl_state_job_get(st, dj->node->name, dj->kind, dj->arch, &rec);
		if (found < 0) {
			err = found;
			break;
		}
		push_digest(&d, found && !strcmp(rec.status, "ok") ? rec.input_hash : dj->input);
		if (found)
			rpl_job_record_release(&rec);
	}
	if (!err)
		combine(j->own, &d, out);
	free(d.v);
	return err;
}

void rpl_plan_release(struct rpl_plan *p)
{
	for (size_t a = 0; p->job_of && a < p->ngraphs; a++)
		free(p->job_of[a]);
	free(p->job_of);
	for (size_t i = 0; i < p->njobs; i++)
		free(p->jobs[i].reasons);
	for (size_t a = 0; a < p->ngraphs; a++)
		rpl_graph_release(&p->graphs[a]);
	for (size_t i = 0; i < p->ndeleted; i++)
		free(p->deleted[i]);
	free(p->deleted);
	free(p->graphs);
	free(p->jobs);
	free(p->order);
	free(p->base);
	rpl_forced_free(p->forced);
	rpl_arena_release(&p->arena);
	memset(p, 0, sizeof(*p));
}

struct rpl_job *rpl_plan_find(const struct rpl_plan *p, const char *name, const char *arch)
{
	for (size_t i = 0; i < p->njobs; i++) {
		struct rpl_job *j = &p->jobs[i];
		if (strcmp(j->arch, arch))
			continue;
		if (!strcmp(j->node->name, name))
			return j;
	}
	/* A subpackage or provided name: the origin the graph resolves it to. */
	for (size_t g = 0; g < p->ngraphs; g++) {
		struct rpl_node *v;
		if (strcmp(p->graphs[g].arch, arch))
			continue;
		v = rpl_graph_find(&p->graphs[g], name);
		for (size_t i = 0; v && i < p->njobs; i++)
			if (p->jobs[i].node == v)
				return &p->jobs[i];
	}
	return NULL;
}

json_t *rpl_plan_json(const struct rpl_plan *p)
{
	json_t *o = json_object(), *jobs = json_array();

	for (size_t i = 0; i < p->norder; i++) {
		const struct rpl_job *j = p->order[i];
		json_t *x = json_object(), *r = json_array();

		json_object_set_new(x, "name", json_string(j->node->name));
		json_object_set_new(x, "kind", json_string(j->kind));
		json_object_set_new(x, "arch", json_string(j->arch));
		for (size_t k = 0; k < j->nreasons; k++)
			json_array_append_new(r, json_string(j->reasons[k]));
		json_object_set_new(x, "reasons", r);
		json_array_append_new(jobs, x);
	}
	json_object_set_new(o, "jobs", jobs);
	if (p->ndeleted) {
		json_t *d = json_array();
		for (size_t i = 0; i < p->ndeleted; i++)
			json_array_append_new(d, json_string(p->deleted[i]));
		json_object_set_new(o, "deleted", d);
	}
	if (p->base)
		json_object_set_new(o, "base", json_string(p->base));
	return o;
}

int rpl_plan_record(const struct rpl_plan *p, struct rpl_state *st)
{
	struct timespec ts;
	int64_t now;
	int err = rpl_state_begin(st);

	clock_gettime(CLOCK_REALTIME, &ts);
	now = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;

	for (size_t i = 0; !err && i < p->norder; i++) {
		const struct rpl_job *j = p->order[i];
		struct rpl_job_record rec = { 0 };

		memcpy(rec.own_hash, j->own, RPL_SHA256_LEN);
		memcpy(rec.input_hash, j->input, RPL_SHA256_LEN);
		snprintf(rec.status, sizeof(rec.status), "ok");
		rec.finished_ns = now; /* recorded now: no forced rebuild waits for it */
		rec.paths = j->inputs;
		rec.digests = j->digests;
		rec.ninputs = j->ninputs;
		err = rpl_state_job_put(st, j->node->name, j->kind, j->arch, &rec);
	}
	if (!err)
		err = rpl_state_commit(st);
	return err;
}
