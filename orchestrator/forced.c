/*
 * The list of forced rebuilds not yet done (orchestrator/forced.h), kept in
 * the state store's blob table under the name "forced" as JSON, version 1:
 *
 *   {"version": 1, "jobs": [[name, kind, arch, run, since_ns], ...]}
 *
 * `run` is the forced run, `since_ns` when it started (CLOCK_REALTIME): a
 * job is done with it once its record is "ok" and finished at or after
 * `since_ns`.  An empty blob means no list.  Another version is an error
 * that names the fix (`ripple build --all --force`), not a silent drop.
 */
#include "orchestrator/forced.h"
#include "common/arena.h"
#include "common/error.h"
#include "common/strbuf.h"
#include "common/strmap.h"
#include "common/xalloc.h"
#include "graph/graph.h"
#include "orchestrator/plan.h"
#include "orchestrator/selectors.h"
#include "orchestrator/state.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#define BLOB "forced"

struct entry {
	const char *name, *kind, *arch;
	int64_t run, since_ns;
};

struct rpl_forced {
	struct rpl_arena arena;
	struct rpl_strmap by_key; /* "kind\tname\tarch" -> struct entry */
	struct entry **v;         /* in the stored order */
	size_t n, alloc;
};

static char *key_of(struct rpl_arena *a, const char *name, const char *kind, const char *arch)
{
	struct rpl_strbuf k = RPL_STRBUF_INIT;
	char *s;

	rpl_strbuf_addf(&k, "%s\t%s\t%s", kind, name, arch);
	s = rpl_arena_strdup(a, k.buf);
	rpl_strbuf_release(&k);
	return s;
}

/* Adds (or, for a job already listed, moves to the later run) one entry. */
static void add(struct rpl_forced *f, const char *name, const char *kind, const char *arch,
                int64_t run, int64_t since_ns)
{
	struct rpl_strmap_slot *slot =
	        rpl_strmap_slot(&f->by_key, key_of(&f->arena, name, kind, arch));
	struct entry *e = slot->value;

	if (!e) {
		e = rpl_arena_alloc(&f->arena, sizeof(*e));
		e->name = rpl_arena_strdup(&f->arena, name);
		e->kind = rpl_arena_strdup(&f->arena, kind);
		e->arch = rpl_arena_strdup(&f->arena, arch);
		slot->value = e;
		RPL_ALLOC_GROW(f->v, f->n + 1, f->alloc);
		f->v[f->n++] = e;
	}
	e->run = run;
	e->since_ns = since_ns;
}

static struct rpl_forced *forced_new(void)
{
	struct rpl_forced *f = rpl_xcalloc(1, sizeof(*f));

	rpl_arena_init(&f->arena);
	return f;
}

void rpl_forced_free(struct rpl_forced *f)
{
	if (!f)
		return;
	rpl_strmap_release(&f->by_key);
	free(f->v);
	rpl_arena_release(&f->arena);
	free(f);
}

int rpl_forced_load(struct rpl_state *st, struct rpl_forced **out)
{
	void *data;
	size_t len;
	json_error_t jerr;
	json_t *doc = NULL, *jobs, *x;
	struct rpl_forced *f = NULL;
	int found, err = 0;
	size_t i;

	*out = NULL;
	if ((found = rpl_state_blob_get(st, BLOB, &data, &len)) <= 0)
		return found;
	if (!len)
		goto out;
	doc = json_loadb(data, len, 0, &jerr);
	jobs = json_object_get(doc, "jobs");
	if (!doc || json_integer_value(json_object_get(doc, "version")) != 1 ||
	    !json_is_array(jobs)) {
		err = rpl_error(-RPL_EPARSE,
		                "state database: the list of forced rebuilds is not version 1 "
		                "JSON; `ripple build --all --force` rebuilds everything");
		goto out;
	}
	f = forced_new();
	json_array_foreach(jobs, i, x)
	{
		const char *name = json_string_value(json_array_get(x, 0));
		const char *kind = json_string_value(json_array_get(x, 1));
		const char *arch = json_string_value(json_array_get(x, 2));
		json_t *run = json_array_get(x, 3), *since = json_array_get(x, 4);

		if (!name || !kind || !arch || !json_is_integer(run) || !json_is_integer(since)) {
			err = rpl_error(
			        -RPL_EPARSE,
			        "state database: entry %zu of the list of forced rebuilds is "
			        "not [name, kind, arch, run, since_ns]",
			        i + 1);
			goto out;
		}
		add(f, name, kind, arch, json_integer_value(run), json_integer_value(since));
	}
out:
	json_decref(doc);
	free(data);
	if (err)
		rpl_forced_free(f);
	else
		*out = f;
	return err;
}

static const struct entry *find(const struct rpl_forced *f, const char *name, const char *kind,
                                const char *arch)
{
	struct rpl_strbuf k = RPL_STRBUF_INIT;
	const struct entry *e;

	rpl_strbuf_addf(&k, "%s\t%s\t%s", kind, name, arch);
	e = rpl_strmap_get(&f->by_key, k.buf);
	rpl_strbuf_release(&k);
	return e;
}

static int pending(const struct entry *e, const struct rpl_job_record *rec)
{
	return !rec || strcmp(rec->status, "ok") || rec->finished_ns < e->since_ns;
}

int rpl_forced_pending(const struct rpl_forced *f, const char *name, const char *kind,
                       const char *arch, const struct rpl_job_record *rec, int64_t *run)
{
	const struct entry *e;

	if (!f || !f->n || !(e = find(f, name, kind, arch)) || !pending(e, rec))
		return 0;
	*run = e->run;
	return 1;
}

static int store(struct rpl_state *st, const struct rpl_forced *f)
{
	json_t *doc, *jobs = json_array();
	char *text = NULL;
	int err;

	for (size_t i = 0; i < f->n; i++) {
		const struct entry *e = f->v[i];
		json_array_append_new(jobs, json_pack("[s,s,s,I,I]", e->name, e->kind, e->arch,
		                                      (json_int_t)e->run, (json_int_t)e->since_ns));
	}
	doc = json_pack("{s:i,s:o}", "version", 1, "jobs", jobs);
	if (f->n)
		text = json_dumps(doc, JSON_COMPACT);
	err = rpl_state_blob_put(st, BLOB, text ? text : "", text ? strlen(text) : 0);
	/* The memo of a plan with nothing to do knew nothing of this list. */
	if (!err)
		rpl_noop_forget(st);
	free(text);
	json_decref(doc);
	return err;
}

int rpl_forced_update(struct rpl_state *st, const struct rpl_forced *old,
                      struct rpl_job *const *jobs, size_t n, int64_t run, int64_t now_ns)
{
	struct rpl_forced *f = forced_new();
	size_t kept = 0;
	int err = 0;

	for (size_t i = 0; old && i < old->n && !err; i++) {
		const struct entry *e = old->v[i];
		struct rpl_job_record rec;
		int found = rpl_state_job_get(st, e->name, e->kind, e->arch, &rec);

		if (found < 0) {
			err = found;
			break;
		}
		if (pending(e, found ? &rec : NULL)) {
			add(f, e->name, e->kind, e->arch, e->run, e->since_ns);
			kept++;
		}
		if (found)
			rpl_job_record_release(&rec);
	}
	for (size_t i = 0; i < n && !err; i++)
		add(f, jobs[i]->node->name, jobs[i]->kind, jobs[i]->arch, run, now_ns);
	/* Unchanged: nothing to write (the common case, no list at all). */
	if (!err && (n || kept != (old ? old->n : 0)) && !(err = rpl_state_begin(st))) {
		err = store(st, f);
		if (err)
			rpl_state_commit(st);
		else
			err = rpl_state_commit(st);
	}
	rpl_forced_free(f);
	return err;
}
