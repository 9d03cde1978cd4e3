/*
 * A run as people read it (report.h): loaded from the store's records,
 * with lanes, skips grouped by the failure they waited on and the critical
 * path; and, at the end of a build, the part of those records that only
 * the whole run knows.
 */
#include "orchestrator/report.h"
#include "common/arena.h"
#include "common/error.h"
#include "common/strmap.h"
#include "common/xalloc.h"
#include "orchestrator/sched.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void rpl_report_fmt_secs(double s, char *buf, size_t n)
{
	if (s < 0)
		s = 0;
	if (s < 60)
		snprintf(buf, n, "%.1fs", s);
	else if (s < 3600)
		snprintf(buf, n, "%dm%02ds", (int)s / 60, (int)s % 60);
	else
		snprintf(buf, n, "%dh%02dm", (int)s / 3600, (int)s % 3600 / 60);
}

/* ---- lanes ---------------------------------------------------------------------------- */

/* An interval to place; ties of start go to the one given first. */
struct span {
	int64_t start, end;
	size_t i;
};

static int span_cmp(const void *a, const void *b)
{
	const struct span *x = a, *y = b;

	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	return x->i < y->i ? -1 : x->i > y->i;
}

/* A binary min-heap of (key, lane) pairs: busy lanes by end time, or free
 * lanes by number (key = lane). */
struct lane_heap {
	struct lane_item {
		int64_t key, lane;
	} * v;
	size_t n, alloc;
};

static int lane_less(const struct lane_item *a, const struct lane_item *b)
{
	return a->key != b->key ? a->key < b->key : a->lane < b->lane;
}

static void lane_push(struct lane_heap *h, int64_t key, int64_t lane)
{
	size_t i;

	RPL_ALLOC_GROW(h->v, h->n + 1, h->alloc);
	i = h->n++;
	h->v[i].key = key;
	h->v[i].lane = lane;
	while (i && lane_less(&h->v[i], &h->v[(i - 1) / 2])) {
		struct lane_item t = h->v[i];
		h->v[i] = h->v[(i - 1) / 2];
		h->v[(i - 1) / 2] = t;
		i = (i - 1) / 2;
	}
}

static struct lane_item lane_pop(struct lane_heap *h)
{
	struct lane_item top = h->v[0];
	size_t i = 0;

	h->v[0] = h->v[--h->n];
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		if (l < h->n && lane_less(&h->v[l], &h->v[m]))
			m = l;
		if (r < h->n && lane_less(&h->v[r], &h->v[m]))
			m = r;
		if (m == i)
			break;
		struct lane_item t = h->v[i];
		h->v[i] = h->v[m];
		h->v[m] = t;
		i = m;
	}
	return top;
}

size_t rpl_report_lanes(size_t n, const int64_t *start, const int64_t *end, int64_t *lane)
{
	struct span *order = rpl_xmalloc((n ? n : 1) * sizeof(*order));
	struct lane_heap busy = { NULL, 0, 0 }, idle = { NULL, 0, 0 };
	size_t k = 0, nlanes = 0;

	for (size_t i = 0; i < n; i++) {
		lane[i] = -1;
		if (start[i] > 0) {
			order[k].start = start[i];
			order[k].end = end[i] > start[i] ? end[i] : start[i];
			order[k++].i = i;
		}
	}
	qsort(order, k, sizeof(*order), span_cmp);
	for (size_t x = 0; x < k; x++) {
		while (busy.n && busy.v[0].key <= order[x].start) {
			struct lane_item done = lane_pop(&busy);
			lane_push(&idle, done.lane, done.lane);
		}
		lane[order[x].i] = idle.n ? lane_pop(&idle).lane : (int64_t)nlanes++;
		lane_push(&busy, order[x].end, lane[order[x].i]);
	}
	free(busy.v);
	free(idle.v);
	free(order);
	return nlanes;
}

/* ---- loading a run -------------------------------------------------------------------- */

static int ran(const struct rpl_run_row *j)
{
	return j->started_ns > 0;
}

static int failed(const struct rpl_run_row *j)
{
	return !strcmp(j->status, "failed") || !strcmp(j->status, "timeout");
}

static int64_t end_ns(const struct rpl_run_row *j)
{
	return j->started_ns + (int64_t)(j->duration * 1e9 + 0.5);
}

static const char *key_of(struct rpl_arena *a, const char *name, const char *kind, const char *arch)
{
	return rpl_arena_printf(a, "%s\t%s\t%s", name, kind, arch);
}

static int group_cmp(const void *a, const void *b)
{
	const struct rpl_report_group *x = a, *y = b;

	if (x->njobs != y->njobs)
		return x->njobs > y->njobs ? -1 : 1;
	return strcmp(x->why, y->why);
}

static int path_cmp(const void *a, const void *b)
{
	const struct rpl_run_row *const *x = a, *const *y = b;

	return (*x)->critical < (*y)->critical ? -1 : (*x)->critical > (*y)->critical;
}

/* Lanes from the recorded start and end times, when a run lacks them. */
static void derive_lanes(struct rpl_report *r)
{
	size_t n = r->run.njobs;
	int64_t *start = rpl_xmalloc((n ? n : 1) * sizeof(*start));
	int64_t *end = rpl_xmalloc((n ? n : 1) * sizeof(*end));
	int64_t *lane = rpl_xmalloc((n ? n : 1) * sizeof(*lane));

	for (size_t i = 0; i < n; i++) {
		start[i] = r->run.jobs[i].started_ns;
		end[i] = end_ns(&r->run.jobs[i]);
	}
	r->nlanes = rpl_report_lanes(n, start, end, lane);
	for (size_t i = 0; i < n; i++)
		r->run.jobs[i].slot = lane[i];
	r->lanes_derived = 1;
	free(start);
	free(end);
	free(lane);
}

/* Skipped jobs by the failure they waited on (else by their message). */
static void group_skips(struct rpl_report *r, struct rpl_strmap *byfail)
{
	struct rpl_strmap bykey = RPL_STRMAP_INIT;
	size_t alloc = 0;

	/* Two passes: count, then fill; the groups never move while filled. */
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < r->run.njobs; i++) {
			const struct rpl_run_row *j = &r->run.jobs[i];
			const char *key;
			struct rpl_strmap_slot *slot;
			size_t g;
			if (strcmp(j->status, "skipped"))
				continue;
			key = j->cause_name ? key_of(&r->run.mem, j->cause_name, j->cause_kind,
			                             j->cause_arch)
			                    : rpl_arena_printf(&r->run.mem, "\n%s",
			                                       j->message ? j->message : "skipped");
			slot = rpl_strmap_slot(&bykey, key);
			if (!slot->value) {
				struct rpl_report_group *grp;
				RPL_ALLOC_GROW(r->groups, r->ngroups + 1, alloc);
				grp = &r->groups[r->ngroups++];
				memset(grp, 0, sizeof(*grp));
				grp->cause = j->cause_name ? rpl_strmap_get(byfail, key) : NULL;
				grp->why = j->message ? j->message : "skipped";
				slot->value = (void *)(uintptr_t)r->ngroups; /* index + 1 */
			}
			g = (size_t)(uintptr_t)slot->value - 1;
			if (pass)
				r->groups[g].jobs[r->groups[g].njobs++] = j;
			else
				r->groups[g].njobs++;
		}
		if (pass)
			break;
		for (size_t g = 0; g < r->ngroups; g++) {
			r->groups[g].jobs = rpl_arena_alloc(
			        &r->run.mem, r->groups[g].njobs * sizeof(*r->groups[g].jobs));
			r->groups[g].njobs = 0;
		}
	}
	rpl_strmap_release(&bykey);
	if (r->ngroups)
		qsort(r->groups, r->ngroups, sizeof(*r->groups), group_cmp);
	/* Then each failure finds its group at once. */
	r->by_row = rpl_xcalloc(r->run.njobs ? r->run.njobs : 1, sizeof(*r->by_row));
	for (size_t g = 0; g < r->ngroups; g++)
		if (r->groups[g].cause)
			r->by_row[r->groups[g].cause - r->run.jobs] = &r->groups[g];
}

int rpl_report_load(struct rpl_state *st, int64_t run, struct rpl_report *r)
{
	struct rpl_strmap byfail = RPL_STRMAP_INIT;
	int rc, derive = 0;

	memset(r, 0, sizeof(*r));
	if ((rc = rpl_state_run_read(st, run, &r->run)) <= 0)
		return rc;
	r->failures = rpl_xmalloc((r->run.njobs ? r->run.njobs : 1) * sizeof(*r->failures));
	r->path = rpl_xmalloc((r->run.njobs ? r->run.njobs : 1) * sizeof(*r->path));
	for (size_t i = 0; i < r->run.njobs; i++) {
		const struct rpl_run_row *j = &r->run.jobs[i];
		if (!strcmp(j->status, "ok"))
			r->ok++;
		else if (failed(j))
			r->failed++;
		else if (!strcmp(j->status, "skipped"))
			r->skipped++;
		else if (!strcmp(j->status, "cancelled"))
			r->cancelled++;
		else
			r->not_run++;
		if (failed(j)) {
			r->failures[r->nfailures++] = j;
			rpl_strmap_slot(&byfail, key_of(&r->run.mem, j->name, j->kind, j->arch))
			        ->value = (void *)j;
		}
		if (j->critical > 0) {
			r->path[r->npath++] = j;
			r->path_seconds += j->duration;
		}
		if (ran(j)) {
			int64_t e = end_ns(j);
			if (!r->t0 || j->started_ns < r->t0)
				r->t0 = j->started_ns;
			if (e > r->t1)
				r->t1 = e;
			r->work += j->duration;
			if (j->slot < 0)
				derive = 1;
			else if ((size_t)j->slot + 1 > r->nlanes)
				r->nlanes = (size_t)j->slot + 1;
		}
	}
	if (derive)
		derive_lanes(r);
	qsort(r->path, r->npath, sizeof(*r->path), path_cmp);
	group_skips(r, &byfail);
	rpl_strmap_release(&byfail);
	return 1;
}

void rpl_report_release(struct rpl_report *r)
{
	free(r->failures);
	free(r->path);
	free(r->groups);
	free(r->by_row);
	rpl_run_release(&r->run);
	memset(r, 0, sizeof(*r));
}

const struct rpl_report_group *rpl_report_group_of(const struct rpl_report *r,
                                                   const struct rpl_run_row *failure)
{
	return r->by_row[failure - r->run.jobs];
}

/* ---- JSON ----------------------------------------------------------------------------- */

static json_t *job_ref(const char *name, const char *kind, const char *arch)
{
	return json_pack("{s:s,s:s,s:s}", "name", name, "kind", kind, "arch", arch);
}

static json_t *str_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

json_t *rpl_report_json(const struct rpl_report *r)
{
	json_t *o = json_object(), *jobs = json_array(), *fails = json_array(),
	       *skipped = json_array(), *path = json_array();

	json_object_set_new(
	        o, "run",
	        json_pack("{s:I,s:o,s:o,s:I,s:o,s:f}", "id", (json_int_t)r->run.id, "command",
	                  str_or_null(r->run.command), "status", str_or_null(r->run.status),
	                  "started_ns", (json_int_t)r->run.started_ns, "finished_ns",
	                  r->run.finished_ns ? json_integer(r->run.finished_ns) : json_null(),
	                  "seconds",
	                  r->run.finished_ns > r->run.started_ns
	                          ? (double)(r->run.finished_ns - r->run.started_ns) / 1e9
	                          : 0.0));
	json_object_set_new(o, "summary",
	                    json_pack("{s:I,s:I,s:I,s:I,s:I,s:I}", "jobs", (json_int_t)r->run.njobs,
	                              "ok", (json_int_t)r->ok, "failed", (json_int_t)r->failed,
	                              "skipped", (json_int_t)r->skipped, "cancelled",
	                              (json_int_t)r->cancelled, "not_run", (json_int_t)r->not_run));
	json_object_set_new(o, "lanes", json_integer((json_int_t)r->nlanes));
	json_object_set_new(o, "work_seconds", json_real(r->work));
	for (size_t i = 0; i < r->npath; i++) {
		json_t *x = job_ref(r->path[i]->name, r->path[i]->kind, r->path[i]->arch);
		json_object_set_new(x, "seconds", json_real(r->path[i]->duration));
		json_array_append_new(path, x);
	}
	json_object_set_new(o, "critical_path",
	                    json_pack("{s:f,s:o}", "seconds", r->path_seconds, "jobs", path));
	for (size_t i = 0; i < r->run.njobs; i++) {
		const struct rpl_run_row *j = &r->run.jobs[i];
		json_t *x = job_ref(j->name, j->kind, j->arch);
		json_object_set_new(x, "status", json_string(j->status));
		json_object_set_new(x, "slot", j->slot >= 0 ? json_integer(j->slot) : json_null());
		json_object_set_new(x, "started_ns",
		                    ran(j) ? json_integer(j->started_ns) : json_null());
		json_object_set_new(x, "seconds", json_real(j->duration));
		json_object_set_new(x, "previous",
		                    j->prev_run
		                            ? json_pack("{s:I,s:f}", "run", (json_int_t)j->prev_run,
		                                        "seconds", j->prev_duration)
		                            : json_null());
		json_object_set_new(x, "critical", json_boolean(j->critical > 0));
		json_object_set_new(x, "log", str_or_null(j->log));
		json_object_set_new(x, "message", str_or_null(j->message));
		json_object_set_new(x, "cause",
		                    j->cause_name
		                            ? job_ref(j->cause_name, j->cause_kind, j->cause_arch)
		                            : json_null());
		json_array_append_new(jobs, x);
	}
	json_object_set_new(o, "jobs", jobs);
	for (size_t i = 0; i < r->nfailures; i++) {
		const struct rpl_run_row *j = r->failures[i];
		const struct rpl_report_group *g = rpl_report_group_of(r, j);
		json_t *x = job_ref(j->name, j->kind, j->arch);
		json_object_set_new(x, "status", json_string(j->status));
		json_object_set_new(x, "seconds", json_real(j->duration));
		json_object_set_new(x, "log", str_or_null(j->log));
		json_object_set_new(x, "message", str_or_null(j->message));
		json_object_set_new(x, "skipped", json_integer(g ? (json_int_t)g->njobs : 0));
		json_array_append_new(fails, x);
	}
	json_object_set_new(o, "failures", fails);
	for (size_t g = 0; g < r->ngroups; g++) {
		const struct rpl_report_group *grp = &r->groups[g];
		json_t *list = json_array();
		for (size_t k = 0; k < grp->njobs; k++)
			json_array_append_new(list, job_ref(grp->jobs[k]->name, grp->jobs[k]->kind,
			                                    grp->jobs[k]->arch));
		json_array_append_new(
		        skipped, json_pack("{s:o,s:s,s:o}", "cause",
		                           grp->cause ? job_ref(grp->cause->name, grp->cause->kind,
		                                                grp->cause->arch)
		                                      : json_null(),
		                           "message", grp->why, "jobs", list));
	}
	json_object_set_new(o, "skipped", skipped);
	return o;
}

/* ---- the end of a build --------------------------------------------------------------- */

static int ended_ran(const struct rpl_sched_job *j)
{
	return (j->state == RPL_SCHED_OK || j->state == RPL_SCHED_FAILED ||
	        j->state == RPL_SCHED_CANCELLED) &&
	       j->started_ns > 0;
}

static int by_finish(const void *a, const void *b)
{
	const struct rpl_sched_job *const *x = a, *const *y = b;

	if ((*x)->finished_ns != (*y)->finished_ns)
		return (*x)->finished_ns < (*y)->finished_ns ? -1 : 1;
	return (*x)->index < (*y)->index ? -1 : (*x)->index > (*y)->index;
}

int rpl_report_record(struct rpl_state *st, int64_t run, const struct rpl_sched *s)
{
	size_t n, nfail = 0, npath, nstack;
	struct rpl_sched_job *const *jobs = rpl_sched_jobs(s, &n);
	size_t cap = n ? n : 1;
	int64_t *start = rpl_xmalloc(cap * sizeof(*start)), *end = rpl_xmalloc(cap * sizeof(*end)),
	        *lane = rpl_xmalloc(cap * sizeof(*lane)), *crit = rpl_xcalloc(cap, sizeof(*crit));
	const struct rpl_sched_job **cause = rpl_xcalloc(cap, sizeof(*cause));
	const struct rpl_sched_job **fails = rpl_xmalloc(cap * sizeof(*fails));
	const struct rpl_sched_job **stack = rpl_xmalloc(cap * sizeof(*stack));
	struct rpl_sched_job **path;
	double secs;
	int err;

	for (size_t i = 0; i < n; i++) {
		start[i] = ended_ran(jobs[i]) ? jobs[i]->started_ns : 0;
		end[i] = jobs[i]->finished_ns;
		if (jobs[i]->state == RPL_SCHED_FAILED)
			fails[nfail++] = jobs[i];
	}
	rpl_report_lanes(n, start, end, lane);
	/*
	 * A failure skips everything still waiting on it, transitively
	 * (sched.c's skip_dependents): so a skipped job's cause is the first
	 * failure, in the order they ended, that reaches it.
	 */
	qsort(fails, nfail, sizeof(*fails), by_finish);
	for (size_t f = 0; f < nfail; f++) {
		nstack = 0;
		stack[nstack++] = fails[f];
		while (nstack) {
			const struct rpl_sched_job *j = stack[--nstack];
			for (size_t r = 0; r < j->nrdeps; r++) {
				const struct rpl_sched_job *d = j->rdeps[r];
				if (d->state != RPL_SCHED_SKIPPED || cause[d->index])
					continue;
				cause[d->index] = fails[f];
				stack[nstack++] = d;
			}
		}
	}
	path = rpl_sched_critical_path(s, &npath, &secs);
	for (size_t i = 0; i < npath; i++)
		crit[path[i]->index] = (int64_t)i + 1;
	free(path);

	if (!(err = rpl_state_begin(st))) {
		for (size_t i = 0; i < n && !err; i++) {
			const struct rpl_sched_job *c = cause[i];
			struct rpl_run_job_detail d = {
				lane[i],
				c ? c->run.name : NULL,
				c ? c->run.kind : NULL,
				c ? c->run.arch : NULL,
				crit[i],
			};
			err = rpl_state_run_job_detail_put(st, run, jobs[i]->run.name,
			                                   jobs[i]->run.kind, jobs[i]->run.arch,
			                                   &d);
		}
		if (err)
			rpl_state_commit(st);
		else
			err = rpl_state_commit(st);
	}
	free(start);
	free(end);
	free(lane);
	free(crit);
	free(cause);
	free(fails);
	free(stack);
	return err;
}
