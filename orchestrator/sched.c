#include "orchestrator/sched.h"
#include "common/error.h"
#include "common/xalloc.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

const char *rpl_sched_state_name(enum rpl_sched_state s)
{
	static const char *const names[] = { "pending", "ready",   "running",   "ok",
		                             "failed",  "skipped", "cancelled", "not run" };

	return (unsigned)s < sizeof(names) / sizeof(*names) ? names[s] : "unknown";
}

/* A max-heap of ready jobs by priority; ties go to the job added first. */
struct heap {
	struct rpl_sched_job **v;
	size_t n, alloc;
};

struct arch_queue {
	char *arch;
	struct heap ready;
	size_t running;
};

struct rpl_sched {
	struct rpl_runner *runner;
	struct rpl_sched_opts o;
	struct rpl_sched_hooks h;
	struct rpl_sched_job **jobs;
	size_t njobs, alloc;
	struct arch_queue *archs;
	size_t narchs;
	size_t running, ended;

	uv_loop_t loop;
	uv_signal_t sigint, sigterm, sighup; /* a closed terminal stops the run as ^C does */
	uv_timer_t tick;
	int stopping, signals, closing;
};

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ---- the ready queues ------------------------------------------------------------- */

static size_t seq(const struct rpl_sched_job *j)
{
	return j->index;
}

static int before(const struct rpl_sched_job *a, const struct rpl_sched_job *b)
{
	if (a->priority != b->priority)
		return a->priority > b->priority;
	return seq(a) < seq(b);
}

static void heap_swap(struct heap *h, size_t i, size_t k)
{
	struct rpl_sched_job *t = h->v[i];

	h->v[i] = h->v[k];
	h->v[k] = t;
}

static void heap_push(struct heap *h, struct rpl_sched_job *j)
{
	size_t i;

	RPL_ALLOC_GROW(h->v, h->n + 1, h->alloc);
	i = h->n++;
	h->v[i] = j;
	while (i && before(h->v[i], h->v[(i - 1) / 2])) {
		heap_swap(h, i, (i - 1) / 2);
		i = (i - 1) / 2;
	}
}

static struct rpl_sched_job *heap_pop(struct heap *h)
{
	struct rpl_sched_job *top = h->v[0];
	size_t i = 0;

	h->v[0] = h->v[--h->n];
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		if (l < h->n && before(h->v[l], h->v[m]))
			m = l;
		if (r < h->n && before(h->v[r], h->v[m]))
			m = r;
		if (m == i)
			break;
		heap_swap(h, i, m);
		i = m;
	}
	return top;
}

/* ---- building the graph ---------------------------------------------------------- */

struct rpl_sched *rpl_sched_new(struct rpl_runner *runner, const struct rpl_sched_opts *o,
                                const struct rpl_sched_hooks *hooks)
{
	struct rpl_sched *s = rpl_xcalloc(1, sizeof(*s));

	s->runner = runner;
	s->o = *o;
	if (!s->o.jobs)
		s->o.jobs = 1;
	if (hooks)
		s->h = *hooks;
	return s;
}

struct rpl_sched_job *rpl_sched_add(struct rpl_sched *s, const char *arch)
{
	struct rpl_sched_job *j = rpl_xcalloc(1, sizeof(*j));
	size_t a;

	for (a = 0; a < s->narchs && strcmp(s->archs[a].arch, arch); a++)
		;
	if (a == s->narchs) {
		s->archs = rpl_xrealloc(s->archs, (s->narchs + 1) * sizeof(*s->archs));
		memset(&s->archs[a], 0, sizeof(*s->archs));
		s->archs[a].arch = rpl_xstrdup(arch);
		s->narchs++;
	}
	j->arch_index = a;
	j->run.arch = s->archs[a].arch;
	j->index = s->njobs;
	RPL_ALLOC_GROW(s->jobs, s->njobs + 1, s->alloc);
	s->jobs[s->njobs++] = j;
	return j;
}

static void add_dep(struct rpl_sched_job *job, struct rpl_sched_job *dep, int after)
{
	for (size_t i = 0; i < job->ndeps; i++)
		if (job->deps[i] == dep) {
			/* Added twice: needing the success wins over waiting for the end. */
			for (size_t r = 0; !after && r < dep->nrdeps; r++)
				if (dep->rdeps[r] == job)
					dep->rdeps_after[r] = 0;
			return;
		}
	RPL_ALLOC_GROW_FEW(job->deps, job->ndeps + 1, job->deps_alloc);
	job->deps[job->ndeps++] = dep;
	RPL_ALLOC_GROW_FEW(dep->rdeps, dep->nrdeps + 1, dep->rdeps_alloc);
	RPL_ALLOC_GROW_FEW(dep->rdeps_after, dep->nrdeps + 1, dep->rdeps_after_alloc);
	dep->rdeps_after[dep->nrdeps] = (unsigned char)after;
	dep->rdeps[dep->nrdeps++] = job;
}

void rpl_sched_dep(struct rpl_sched *s, struct rpl_sched_job *job, struct rpl_sched_job *dep)
{
	(void)s;
	add_dep(job, dep, 0);
}

void rpl_sched_after(struct rpl_sched *s, struct rpl_sched_job *job, struct rpl_sched_job *dep)
{
	(void)s;
	add_dep(job, dep, 1);
}

struct rpl_sched_job *const *rpl_sched_jobs(const struct rpl_sched *s, size_t *n)
{
	*n = s->njobs;
	return s->jobs;
}

void rpl_sched_free(struct rpl_sched *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->njobs; i++) {
		free(s->jobs[i]->deps);
		free(s->jobs[i]->rdeps);
		free(s->jobs[i]->rdeps_after);
		free(s->jobs[i]->message);
		free(s->jobs[i]->fallback);
		free(s->jobs[i]);
	}
	for (size_t a = 0; a < s->narchs; a++) {
		free(s->archs[a].arch);
		free(s->archs[a].ready.v);
	}
	free(s->archs);
	free(s->jobs);
	free(s);
}

/*
 * A topological order, dependencies first (Kahn).  Returns a malloc'd
 * array, or NULL when the dependencies have a cycle.
 */
static struct rpl_sched_job **topo(const struct rpl_sched *s)
{
	struct rpl_sched_job **order = rpl_xmalloc((s->njobs ? s->njobs : 1) * sizeof(*order));
	size_t *left = rpl_xmalloc((s->njobs ? s->njobs : 1) * sizeof(*left));
	size_t head = 0, tail = 0;

	for (size_t i = 0; i < s->njobs; i++) {
		left[i] = s->jobs[i]->ndeps;
		if (!left[i])
			order[tail++] = s->jobs[i];
	}
	while (head < tail) {
		struct rpl_sched_job *j = order[head++];
		for (size_t r = 0; r < j->nrdeps; r++)
			if (--left[seq(j->rdeps[r])] == 0)
				order[tail++] = j->rdeps[r];
	}
	free(left);
	if (tail != s->njobs) {
		free(order);
		return NULL;
	}
	return order;
}

/* ---- running ------------------------------------------------------------------------------ */

static void set_message(struct rpl_sched_job *j, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));

static void set_message(struct rpl_sched_job *j, const char *fmt, ...)
{
	char buf[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	free(j->message);
	j->message = rpl_xstrdup(buf);
}

static void close_all(struct rpl_sched *s)
{
	if (s->closing)
		return;
	s->closing = 1;
	uv_signal_stop(&s->sigint);
	uv_signal_stop(&s->sigterm);
	uv_signal_stop(&s->sighup);
	uv_timer_stop(&s->tick);
	uv_close((uv_handle_t *)&s->sigint, NULL);
	uv_close((uv_handle_t *)&s->sigterm, NULL);
	uv_close((uv_handle_t *)&s->sighup, NULL);
	uv_close((uv_handle_t *)&s->tick, NULL);
}

/* When nothing runs and nothing more will start, the run is over. */
static void check_end(struct rpl_sched *s)
{
	int ready = 0;

	if (s->running)
		return;
	for (size_t a = 0; a < s->narchs; a++)
		ready |= s->archs[a].ready.n > 0;
	if (ready && !s->stopping)
		return;
	for (size_t i = 0; i < s->njobs; i++) {
		struct rpl_sched_job *j = s->jobs[i];
		if (j->state == RPL_SCHED_PENDING || j->state == RPL_SCHED_READY) {
			j->state = RPL_SCHED_NOT_RUN;
			s->ended++;
		}
	}
	for (size_t a = 0; a < s->narchs; a++)
		s->archs[a].ready.n = 0;
	close_all(s);
}

static void on_done(struct rpl_run_job *run, enum rpl_run_status status, const char *message,
                    void *arg);

static void make_ready(struct rpl_sched *s, struct rpl_sched_job *j)
{
	j->state = RPL_SCHED_READY;
	heap_push(&s->archs[j->arch_index].ready, j);
}

static void end(struct rpl_sched *s, struct rpl_sched_job *j, enum rpl_run_status status,
                const char *message);

static void start(struct rpl_sched *s, struct rpl_sched_job *j)
{
	j->state = RPL_SCHED_RUNNING;
	j->attempts++;
	j->started_ns = now_ns();
	j->finished_ns = 0;
	j->run.priority = j->priority; /* an executor's queue orders by it too */
	s->running++;
	s->archs[j->arch_index].running++;
	if (s->h.started)
		s->h.started(s->h.ctx, j);
	rpl_error_clear();
	if (s->runner->start(s->runner, &j->run, &s->loop, on_done, s))
		end(s, j, RPL_RUN_FAILED, rpl_errmsg());
}

/* Starts ready jobs while there is room: the highest priority first. */
static void pump(struct rpl_sched *s)
{
	while (!s->stopping && s->running < s->o.jobs) {
		struct arch_queue *best = NULL;
		for (size_t a = 0; a < s->narchs; a++) {
			struct arch_queue *q = &s->archs[a];
			if (!q->ready.n || (s->o.arch_jobs && q->running >= s->o.arch_jobs))
				continue;
			if (!best || before(q->ready.v[0], best->ready.v[0]))
				best = q;
		}
		if (!best)
			break;
		start(s, heap_pop(&best->ready));
	}
}

/* One dependency of `d` is over, well or not: `d` is ready when it was the last. */
static void dep_ended(struct rpl_sched *s, struct rpl_sched_job *d)
{
	if (--d->waiting == 0 && d->state == RPL_SCHED_PENDING)
		make_ready(s, d);
}

/*
 * `j` failed or was skipped: what needs it, transitively, will not run
 * ("waiting on `failed` failed"); what only waits for it runs against an
 * older copy, and says so once it succeeds.
 */
static void skip_dependents(struct rpl_sched *s, struct rpl_sched_job *j,
                            const struct rpl_sched_job *failed)
{
	for (size_t r = 0; r < j->nrdeps; r++) {
		struct rpl_sched_job *d = j->rdeps[r];
		if (d->state != RPL_SCHED_PENDING)
			continue;
		if (j->rdeps_after[r]) {
			char *was = d->fallback;
			size_t len = (was ? strlen(was) : 0) + strlen(j->run.name) +
			             strlen(j->run.arch) + 8;
			d->fallback = rpl_xmalloc(len);
			snprintf(d->fallback, len, "%s%s%s (%s)", was ? was : "", was ? ", " : "",
			         j->run.name, j->run.arch);
			free(was);
			dep_ended(s, d);
			continue;
		}
		d->state = RPL_SCHED_SKIPPED;
		s->ended++;
		set_message(d, "waiting on %s (%s) failed", failed->run.name, failed->run.arch);
		if (s->h.skipped)
			s->h.skipped(s->h.ctx, d);
		skip_dependents(s, d, failed);
	}
}

static void end(struct rpl_sched *s, struct rpl_sched_job *j, enum rpl_run_status status,
                const char *message)
{
	s->running--;
	s->archs[j->arch_index].running--;
	j->finished_ns = now_ns();
	j->status = status;
	free(j->message);
	j->message = message ? rpl_xstrdup(message) : NULL;
	if (!message && status == RPL_RUN_OK && j->fallback)
		set_message(j, "built against the repository's copy of %s, which did not build",
		            j->fallback);

	if (status == RPL_RUN_CRASHED && j->attempts <= s->o.retries && !s->stopping) {
		/* The runner died, not the build: once more, from the queue. */
		j->state = RPL_SCHED_READY;
		if (s->h.finished)
			s->h.finished(s->h.ctx, j);
		make_ready(s, j);
	} else {
		j->state = status == RPL_RUN_OK          ? RPL_SCHED_OK
		           : status == RPL_RUN_CANCELLED ? RPL_SCHED_CANCELLED
		                                         : RPL_SCHED_FAILED;
		if (s->h.finished && s->h.finished(s->h.ctx, j) && j->state == RPL_SCHED_OK)
			j->state = RPL_SCHED_FAILED;
		s->ended++;
		if (j->state == RPL_SCHED_OK) {
			for (size_t r = 0; r < j->nrdeps; r++)
				dep_ended(s, j->rdeps[r]);
		} else if (j->state == RPL_SCHED_FAILED) {
			skip_dependents(s, j, j);
			if (!s->o.keep_going)
				s->stopping = 1;
		}
	}
	pump(s);
	check_end(s);
}

static void on_done(struct rpl_run_job *run, enum rpl_run_status status, const char *message,
                    void *arg)
{
	/* `run` is the first member of its scheduler job. */
	end(arg, (struct rpl_sched_job *)run, status, message);
}

static void on_signal(uv_signal_t *h, int signum)
{
	struct rpl_sched *s = h->data;

	(void)signum;
	s->signals++;
	s->stopping = 1;
	/* A second signal: no grace. */
	for (size_t i = 0; i < s->njobs; i++)
		if (s->jobs[i]->state == RPL_SCHED_RUNNING)
			s->runner->cancel(s->runner, &s->jobs[i]->run, s->signals > 1);
	check_end(s);
}

static void on_tick(uv_timer_t *t)
{
	struct rpl_sched *s = t->data;

	if (s->h.tick)
		s->h.tick(s->h.ctx);
}

int rpl_sched_run(struct rpl_sched *s, struct rpl_sched_result *res)
{
	struct rpl_sched_job **order = topo(s);
	int64_t t0 = now_ns();
	int rc;

	memset(res, 0, sizeof(*res));
	if (!order)
		return rpl_error(-RPL_ECYCLE,
		                 "internal error: the jobs' dependencies have a cycle");
	/* Critical path: what waits on a job, in reverse dependency order. */
	for (size_t i = s->njobs; i-- > 0;) {
		struct rpl_sched_job *j = order[i];
		double after = 0;
		for (size_t r = 0; r < j->nrdeps; r++)
			if (j->rdeps[r]->priority > after)
				after = j->rdeps[r]->priority;
		j->priority = j->estimate + after;
	}
	free(order);
	if ((rc = uv_loop_init(&s->loop)))
		return rpl_error(-RPL_ELIB, "cannot start the event loop: %s", uv_strerror(rc));
	uv_signal_init(&s->loop, &s->sigint);
	uv_signal_init(&s->loop, &s->sigterm);
	uv_signal_init(&s->loop, &s->sighup);
	uv_timer_init(&s->loop, &s->tick);
	s->sigint.data = s->sigterm.data = s->sighup.data = s->tick.data = s;
	uv_signal_start(&s->sigint, on_signal, SIGINT);
	uv_signal_start(&s->sigterm, on_signal, SIGTERM);
	{
		/* Unless ignored (nohup): then the run goes on as asked. */
		struct sigaction sa;
		if (sigaction(SIGHUP, NULL, &sa) != 0 || sa.sa_handler != SIG_IGN)
			uv_signal_start(&s->sighup, on_signal, SIGHUP);
	}
	uv_timer_start(&s->tick, on_tick, 1000, 1000);
	for (size_t i = 0; i < s->njobs; i++) {
		struct rpl_sched_job *j = s->jobs[i];
		j->waiting = j->ndeps;
		if (!j->waiting)
			make_ready(s, j);
	}
	pump(s);
	check_end(s);
	uv_run(&s->loop, UV_RUN_DEFAULT);
	uv_loop_close(&s->loop);

	for (size_t i = 0; i < s->njobs; i++)
		switch (s->jobs[i]->state) {
		case RPL_SCHED_OK:
			res->ok++;
			break;
		case RPL_SCHED_FAILED:
			res->failed++;
			break;
		case RPL_SCHED_SKIPPED:
			res->skipped++;
			break;
		case RPL_SCHED_CANCELLED:
			res->cancelled++;
			break;
		default:
			res->not_run++;
		}
	res->interrupted = s->signals > 0;
	res->seconds = (double)(now_ns() - t0) / 1e9;
	return 0;
}

struct rpl_sched_job **rpl_sched_critical_path(const struct rpl_sched *s, size_t *n,
                                               double *seconds)
{
	struct rpl_sched_job **order = topo(s), **path;
	double *best = rpl_xcalloc(s->njobs ? s->njobs : 1, sizeof(*best));
	size_t *prev = rpl_xmalloc((s->njobs ? s->njobs : 1) * sizeof(*prev));
	size_t end_at = (size_t)-1, len = 0;

	*n = 0;
	*seconds = 0;
	for (size_t i = 0; order && i < s->njobs; i++) {
		const struct rpl_sched_job *j = order[i];
		size_t k = seq(j);
		double d = j->finished_ns > j->started_ns && j->started_ns
		                   ? (double)(j->finished_ns - j->started_ns) / 1e9
		                   : 0;
		prev[k] = (size_t)-1;
		if (!d)
			continue;
		best[k] = d;
		for (size_t x = 0; x < j->ndeps; x++) {
			size_t p = seq(j->deps[x]);
			if (best[p] + d > best[k]) {
				best[k] = best[p] + d;
				prev[k] = p;
			}
		}
		if (end_at == (size_t)-1 || best[k] > best[end_at])
			end_at = k;
	}
	for (size_t k = end_at; k != (size_t)-1; k = prev[k])
		len++;
	path = rpl_xmalloc((len ? len : 1) * sizeof(*path));
	for (size_t k = end_at, i = len; k != (size_t)-1; k = prev[k])
		path[--i] = s->jobs[k];
	if (len)
		*seconds = best[end_at];
	*n = len;
	free(order);
	free(best);
	free(prev);
	return path;
}
