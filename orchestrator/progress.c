/*
 * A running build's progress, and the file it publishes it in
 * (orchestrator/progress.h has the file's layout, version 1).
 */
#include "orchestrator/progress.h"
#include "common/error.h"
#include "common/file.h"
#include "common/strbuf.h"
#include "common/strmap.h"
#include "common/xalloc.h"
#include "orchestrator/sched.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PROGRESS_VERSION 1
/* The file is written at most this often (ns); the tick writes what waits. */
#define PUBLISH_EVERY 500000000

static int unfinished(const struct rpl_sched_job *j)
{
	return j->state == RPL_SCHED_PENDING || j->state == RPL_SCHED_READY ||
	       j->state == RPL_SCHED_RUNNING;
}

void rpl_progress_count(struct rpl_sched_job *const *jobs, size_t n, struct rpl_progress_counts *c)
{
	memset(c, 0, sizeof(*c));
	c->total = n;
	for (size_t i = 0; i < n; i++) {
		switch (jobs[i]->state) {
		case RPL_SCHED_OK:
			c->ok++;
			break;
		case RPL_SCHED_FAILED:
			c->failed++;
			break;
		case RPL_SCHED_SKIPPED:
			c->skipped++;
			break;
		case RPL_SCHED_RUNNING:
			c->running++;
			break;
		default:
			break;
		}
		c->done += !unfinished(jobs[i]);
	}
}

double rpl_progress_eta(struct rpl_sched_job *const *jobs, size_t n, size_t lanes, int64_t now_ns)
{
	double work = 0, chain = 0;
	size_t left = 0;

	for (size_t i = 0; i < n; i++) {
		const struct rpl_sched_job *j = jobs[i];
		double own = j->estimate, after = j->priority - j->estimate;
		if (!unfinished(j))
			continue;
		left++;
		/* A running job has done part of its estimate: the rest is left,
		 * nothing when it has run past it (it may end any moment). */
		if (j->state == RPL_SCHED_RUNNING && j->started_ns) {
			own -= (double)(now_ns - j->started_ns) / 1e9;
			if (own < 0)
				own = 0;
		}
		work += own;
		if (after < 0)
			after = 0;
		if (own + after > chain)
			chain = own + after;
	}
	if (!left)
		return -1;
	work /= (double)(lanes ? lanes : 1);
	return work > chain ? work : chain;
}

struct cause {
	const char *why;
	size_t n;
};

static int by_count(const void *a, const void *b)
{
	const struct cause *x = *(const struct cause *const *)a,
	                   *y = *(const struct cause *const *)b;

	if (x->n != y->n)
		return x->n < y->n ? 1 : -1;
	return strcmp(x->why, y->why);
}

void rpl_progress_skip_summary(struct rpl_sched_job *const *jobs, size_t n, size_t max_causes,
                               struct rpl_strbuf *out)
{
	struct rpl_strmap by_why = RPL_STRMAP_INIT;
	struct cause *causes = rpl_xcalloc(n ? n : 1, sizeof(*causes));
	struct cause **sorted;
	size_t ncauses = 0, skipped = 0;

	/* The scheduler names the failure a skip waited on in its message,
	 * the same for every job that one failure skipped (sched.c). */
	for (size_t i = 0; i < n; i++) {
		const char *why = jobs[i]->message ? jobs[i]->message : "skipped";
		struct rpl_strmap_slot *slot;
		if (jobs[i]->state != RPL_SCHED_SKIPPED)
			continue;
		skipped++;
		slot = rpl_strmap_slot(&by_why, why);
		if (!slot->value) {
			causes[ncauses].why = why;
			slot->value = &causes[ncauses++];
		}
		((struct cause *)slot->value)->n++;
	}
	if (!skipped)
		goto out;
	sorted = rpl_xmalloc(ncauses * sizeof(*sorted));
	for (size_t i = 0; i < ncauses; i++)
		sorted[i] = &causes[i];
	qsort(sorted, ncauses, sizeof(*sorted), by_count);
	rpl_strbuf_addf(out, "%zu skipped:", skipped);
	for (size_t i = 0; i < ncauses && i < max_causes; i++)
		rpl_strbuf_addf(out, "%s %zu %s", i ? "," : "", sorted[i]->n, sorted[i]->why);
	if (ncauses > max_causes) {
		size_t rest = 0;
		for (size_t i = max_causes; i < ncauses; i++)
			rest += sorted[i]->n;
		rpl_strbuf_addf(out, ", and %zu waiting on %zu other failure%s", rest,
		                ncauses - max_causes, ncauses - max_causes == 1 ? "" : "s");
	}
	free(sorted);
out:
	free(causes);
	rpl_strmap_release(&by_why);
}

int rpl_progress_publish(struct rpl_progress_pub *p, struct rpl_sched_job *const *jobs, size_t n,
                         const char *state, int force, int64_t now_ns)
{
	struct rpl_progress_counts c;
	json_t *o, *running;
	double eta;
	char *text;
	int err;

	if (!force && now_ns - p->written_ns < PUBLISH_EVERY)
		return 0;
	rpl_progress_count(jobs, n, &c);
	eta = rpl_progress_eta(jobs, n, p->lanes, now_ns);
	running = json_array();
	for (size_t i = 0; i < n; i++) {
		const struct rpl_sched_job *j = jobs[i];
		if (j->state != RPL_SCHED_RUNNING)
			continue;
		json_array_append_new(
		        running, json_pack("{s:s,s:s,s:s,s:I,s:f}", "name", j->run.name, "kind",
		                           j->run.kind ? j->run.kind : "package", "arch",
		                           j->run.arch, "started_ns", (json_int_t)j->started_ns,
		                           "estimate", j->estimate));
	}
	o = json_pack("{s:i,s:I,s:I,s:s,s:s,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:o,s:o}", "version",
	              PROGRESS_VERSION, "pid", (json_int_t)getpid(), "run", (json_int_t)p->run,
	              "command", p->command ? p->command : "build", "state", state, "started_ns",
	              (json_int_t)p->started_ns, "updated_ns", (json_int_t)now_ns, "jobs",
	              (json_int_t)p->lanes, "total", (json_int_t)c.total, "done",
	              (json_int_t)c.done, "ok", (json_int_t)c.ok, "failed", (json_int_t)c.failed,
	              "skipped", (json_int_t)c.skipped, "eta_seconds",
	              eta < 0 ? json_null() : json_real(eta), "running", running);
	if (!o)
		return rpl_error(-EINVAL, "cannot make %s", RPL_PROGRESS_FILE);
	text = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	err = rpl_write_file_atomic(RPL_PROGRESS_FILE, text, strlen(text));
	free(text);
	p->written_ns = now_ns;
	return err;
}

int rpl_progress_read(json_t **out)
{
	json_error_t e;
	char *text;
	size_t len;
	json_t *o;
	int err;

	*out = NULL;
	if ((err = rpl_read_file_max(RPL_PROGRESS_FILE, 16 << 20, &text, &len))) {
		if (err != -ENOENT)
			return err;
		rpl_error_clear();
		return 0;
	}
	o = json_loadb(text, len, 0, &e);
	free(text);
	if (!o || !json_is_object(o) ||
	    json_integer_value(json_object_get(o, "version")) != PROGRESS_VERSION ||
	    !json_is_string(json_object_get(o, "state"))) {
		if (!o)
			err = rpl_error_at(-RPL_EPARSE, RPL_PROGRESS_FILE, (unsigned)e.line,
			                   (unsigned)e.column, "%s", e.text);
		else
			err = rpl_error_at(-RPL_EPARSE, RPL_PROGRESS_FILE, 1, 1,
			                   "not a build's status (version %d, with a state)",
			                   PROGRESS_VERSION);
		json_decref(o);
		return err;
	}
	*out = o;
	return 1;
}
