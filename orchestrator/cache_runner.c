/*
 * The caching runner (orchestrator/cache_runner.h).  Each job it holds is
 * in one phase: LOOKUP (a worker fetches), BUILD (the inner runner has it)
 * or STORE (a worker stores what was built).  A cancel in LOOKUP ends the
 * job as cancelled once the worker is done (or at once, when the work had
 * not begun); in BUILD it goes to the inner runner; a STORE finishes, as it
 * only copies what is already built.  The job's own `priv` is the inner
 * runner's: this runner keeps its jobs in a list of its own.
 */
#include "orchestrator/cache_runner.h"
#include "common/error.h"
#include "common/file.h"
#include "common/xalloc.h"
#include "orchestrator/artifact_cache.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum phase { LOOKUP, BUILD, STORE };

struct cjob;

struct crunner {
	struct rpl_runner r; /* first: the scheduler's handle */
	struct rpl_cache_runner_opts o;
	struct cjob *jobs; /* held now */
};

struct cjob {
	struct crunner *r;
	struct rpl_run_job *job;
	uv_loop_t *loop;
	uv_work_t work;
	rpl_run_done_fn done;
	void *arg;
	enum phase phase;
	uint64_t build_started; /* uv_hrtime() */
	int cancelled;
	struct rpl_cache_item item;
	int hit;
	const char *where;
	char *refused, *store_err;
	enum rpl_run_status status; /* the build's, for after STORE */
	char *message;
	struct cjob *next;
};

static void unlink_job(struct cjob *cj)
{
	for (struct cjob **p = &cj->r->jobs; *p; p = &(*p)->next)
		if (*p == cj) {
			*p = cj->next;
			break;
		}
}

static void finish(struct cjob *cj, enum rpl_run_status status, const char *message)
{
	rpl_run_done_fn done = cj->done;
	struct rpl_run_job *job = cj->job;
	void *arg = cj->arg;
	char *msg = message ? rpl_xstrdup(message) : NULL;

	unlink_job(cj);
	free(cj->refused);
	free(cj->store_err);
	free(cj->message);
	free(cj);
	done(job, status, msg, arg);
	free(msg);
}

/* A line in the job's log: what the cache did. */
static void log_line(const struct rpl_run_job *job, const char *msg)
{
	char *dir = rpl_path_dirname(job->log_path);
	FILE *f;

	rpl_mkdirs(dir);
	free(dir);
	if ((f = fopen(job->log_path, "a"))) {
		fprintf(f, "ripple: %s\n", msg);
		fclose(f);
	}
}

static void on_store(uv_work_t *w)
{
	struct cjob *cj = w->data;

	if (rpl_cache_store(cj->r->o.cache, &cj->item))
		cj->store_err = rpl_xstrdup(rpl_errmsg());
}

static void after_store(uv_work_t *w, int status)
{
	struct cjob *cj = w->data;

	(void)status;
	if (cj->store_err) {
		rpl_warn("%s", cj->store_err);
		log_line(cj->job, cj->store_err);
	}
	finish(cj, cj->status, cj->message);
}

static void inner_done(struct rpl_run_job *job, enum rpl_run_status status, const char *message,
                       void *arg)
{
	struct cjob *cj = arg;

	(void)job;
	cj->item.seconds = (double)(uv_hrtime() - cj->build_started) / 1e9;
	if (status == RPL_RUN_OK && rpl_cache_can_store(cj->r->o.cache)) {
		cj->phase = STORE;
		cj->status = status;
		cj->message = message ? rpl_xstrdup(message) : NULL;
		cj->work.data = cj;
		if (!uv_queue_work(cj->loop, &cj->work, on_store, after_store))
			return;
	}
	finish(cj, status, message);
}

static void start_inner(struct cjob *cj)
{
	struct rpl_runner *in = cj->r->o.inner;

	cj->phase = BUILD;
	cj->build_started = uv_hrtime();
	if (in->start(in, cj->job, cj->loop, inner_done, cj))
		finish(cj, RPL_RUN_FAILED, rpl_errmsg());
}

static void on_lookup(uv_work_t *w)
{
	struct cjob *cj = w->data;

	char hex[2 * RPL_SHA256_LEN + 1], line[512];

	cj->hit = rpl_cache_fetch(cj->r->o.cache, &cj->item, &cj->where, &cj->refused) == 1;
	rpl_hex(cj->item.key, RPL_SHA256_LEN, hex);
	if (cj->hit) {
		snprintf(line, sizeof(line), "from the cache (%s), key %s", cj->where, hex);
		log_line(cj->job, line);
	}
}

static void after_lookup(uv_work_t *w, int status)
{
	struct cjob *cj = w->data;

	if (cj->refused) {
		rpl_warn("%s; %s %s is built instead", cj->refused, cj->job->name, cj->job->arch);
		log_line(cj->job, cj->refused);
	}
	if (status == UV_ECANCELED || cj->cancelled) {
		finish(cj, RPL_RUN_CANCELLED, "cancelled");
		return;
	}
	if (cj->hit) {
		if (cj->r->o.hit)
			cj->r->o.hit(cj->r->o.ctx, cj->job, cj->where, cj->item.seconds);
		finish(cj, RPL_RUN_OK, NULL);
		return;
	}
	start_inner(cj);
}

static int cr_start(struct rpl_runner *r, struct rpl_run_job *job, uv_loop_t *loop,
                    rpl_run_done_fn done, void *arg)
{
	struct crunner *cr = (struct crunner *)r;
	struct cjob *cj;
	uint8_t key[RPL_SHA256_LEN];

	if (cr->o.key(cr->o.ctx, job, key))
		return cr->o.inner->start(cr->o.inner, job, loop, done, arg);
	cj = rpl_xcalloc(1, sizeof(*cj));
	cj->r = cr;
	cj->job = job;
	cj->loop = loop;
	cj->done = done;
	cj->arg = arg;
	cj->item = (struct rpl_cache_item){ job->kind, job->name,    job->arch,
		                            { 0 },     job->outputs, job->noutputs };
	memcpy(cj->item.key, key, RPL_SHA256_LEN);
	cj->next = cr->jobs;
	cr->jobs = cj;
	cj->work.data = cj;
	if (!cr->o.lookup || !rpl_cache_can_fetch(cr->o.cache) ||
	    uv_queue_work(loop, &cj->work, on_lookup, after_lookup)) {
		cj->phase = BUILD;
		cj->build_started = uv_hrtime();
		if (cr->o.inner->start(cr->o.inner, job, loop, inner_done, cj)) {
			unlink_job(cj);
			free(cj);
			return -1; /* the inner runner's message stands */
		}
	}
	return 0;
}

static void cr_cancel(struct rpl_runner *r, struct rpl_run_job *job, int now)
{
	struct crunner *cr = (struct crunner *)r;

	for (struct cjob *cj = cr->jobs; cj; cj = cj->next)
		if (cj->job == job) {
			if (cj->phase == LOOKUP) {
				cj->cancelled = 1;
				uv_cancel((uv_req_t *)&cj->work);
			} else if (cj->phase == BUILD) {
				cr->o.inner->cancel(cr->o.inner, job, now);
			}
			return;
		}
	cr->o.inner->cancel(cr->o.inner, job, now);
}

static void cr_free(struct rpl_runner *r)
{
	struct crunner *cr = (struct crunner *)r;

	cr->o.inner->free(cr->o.inner);
	free(cr);
}

struct rpl_runner *rpl_cache_runner_new(const struct rpl_cache_runner_opts *o)
{
	struct crunner *cr = rpl_xcalloc(1, sizeof(*cr));

	cr->r.name = o->inner->name;
	cr->r.start = cr_start;
	cr->r.cancel = cr_cancel;
	cr->r.free = cr_free;
	cr->o = *o;
	return &cr->r;
}
