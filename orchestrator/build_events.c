/*
 * What `ripple build` writes for programs: the --events lines (JSON, one
 * an event: plan, start, retry, finish, fail, cancel, skip, end), the
 * --report JSON of the run and the same as JUnit XML (--junit).
 */
#include "orchestrator/build_events.h"

#include "common/file.h"
#include "common/strbuf.h"
#include "common/xalloc.h"
#include "graph/graph.h"
#include "orchestrator/build.h"
#include "orchestrator/plan.h"
#include "orchestrator/sched.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void rpl_build_event(struct build *b, json_t *e)
{
	char *line;

	if (b->events) {
		json_object_set_new(e, "time", json_real((double)now_ns() / 1e9));
		line = json_dumps(e, JSON_COMPACT);
		fprintf(b->events, "%s\n", line);
		fflush(b->events);
		free(line);
	}
	json_decref(e);
}

json_t *rpl_build_job_json(const struct bjob *j)
{
	return json_pack("{s:s,s:s,s:s}", "name", j->plan->node->name, "kind", j->plan->kind,
	                 "arch", j->plan->arch);
}

static json_t *report_json(struct build *b, const struct rpl_sched_result *res, const char *status)
{
	json_t *r = json_object(), *jobs = json_array(), *cp = json_array();
	struct rpl_sched_job **path;
	size_t npath;
	double pathsecs;

	for (size_t i = 0; i < b->njobs; i++) {
		const struct bjob *j = &b->jobs[i];
		const struct rpl_sched_job *sj = j->sj;
		json_t *x = rpl_build_job_json(j), *reasons = json_array();
		for (size_t k = 0; k < j->plan->nreasons; k++)
			json_array_append_new(reasons, json_string(j->plan->reasons[k]));
		json_object_set_new(x, "status", json_string(rpl_sched_state_name(sj->state)));
		json_object_set_new(x, "reasons", reasons);
		json_object_set_new(x, "seconds", json_real(secs(sj->started_ns, sj->finished_ns)));
		json_object_set_new(x, "attempts", json_integer(sj->attempts));
		if (sj->started_ns)
			json_object_set_new(x, "log", json_string(j->log));
		if (sj->message)
			json_object_set_new(x, "message", json_string(sj->message));
		if (j->cached)
			json_object_set_new(x, "cache", json_string(j->cached));
		json_array_append_new(jobs, x);
	}
	path = rpl_sched_critical_path(b->sched, &npath, &pathsecs);
	for (size_t i = 0; i < npath; i++)
		json_array_append_new(cp, rpl_build_job_json(bjob_of(b, path[i])));
	free(path);
	json_object_set_new(r, "run", json_integer(b->run));
	json_object_set_new(r, "status", json_string(status));
	json_object_set_new(r, "seconds", json_real(res->seconds));
	json_object_set_new(
	        r, "summary",
	        json_pack("{s:I,s:I,s:I,s:I,s:I,s:I}", "ok", (json_int_t)res->ok, "failed",
	                  (json_int_t)res->failed, "skipped", (json_int_t)res->skipped, "cancelled",
	                  (json_int_t)res->cancelled, "not_run", (json_int_t)res->not_run,
	                  "up_to_date", (json_int_t)b->up_to_date));
	json_object_set_new(r, "critical_path",
	                    json_pack("{s:f,s:o}", "seconds", pathsecs, "jobs", cp));
	json_object_set_new(r, "jobs", jobs);
	return r;
}

static void xml_escape(struct rpl_strbuf *out, const char *s)
{
	for (; s && *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '<')
			rpl_strbuf_addstr(out, "&lt;");
		else if (c == '>')
			rpl_strbuf_addstr(out, "&gt;");
		else if (c == '&')
			rpl_strbuf_addstr(out, "&amp;");
		else if (c == '"')
			rpl_strbuf_addstr(out, "&quot;");
		else if (c < 0x20 && c != '\n' && c != '\t')
			rpl_strbuf_addch(out, '?'); /* not allowed in XML 1.0 */
		else
			rpl_strbuf_addch(out, (char)c);
	}
}

int rpl_build_write_report(struct build *b, const struct rpl_sched_result *res, const char *status,
                           const char *path)
{
	json_t *r = report_json(b, res, status);
	char *text = json_dumps(r, JSON_INDENT(2));
	size_t len = strlen(text);
	int err;

	text = rpl_xrealloc(text, len + 2);
	text[len] = '\n';
	err = rpl_write_file_atomic(path, text, len + 1);
	free(text);
	json_decref(r);
	return err;
}

int rpl_build_write_junit(struct build *b, const struct rpl_sched_result *res, const char *path)
{
	struct rpl_strbuf x = RPL_STRBUF_INIT;
	int err;

	rpl_strbuf_addf(&x,
	                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	                "<testsuites>\n"
	                "  <testsuite name=\"ripple build\" tests=\"%zu\" failures=\"%zu\" "
	                "errors=\"0\" skipped=\"%zu\" time=\"%.3f\">\n",
	                b->njobs, res->failed, res->skipped + res->cancelled + res->not_run,
	                res->seconds);
	for (size_t i = 0; i < b->njobs; i++) {
		const struct bjob *j = &b->jobs[i];
		const struct rpl_sched_job *sj = j->sj;
		rpl_strbuf_addstr(&x, "    <testcase classname=\"");
		xml_escape(&x, j->plan->kind);
		rpl_strbuf_addch(&x, '.');
		xml_escape(&x, j->plan->arch);
		rpl_strbuf_addstr(&x, "\" name=\"");
		xml_escape(&x, j->plan->node->name);
		rpl_strbuf_addf(&x, "\" time=\"%.3f\"", secs(sj->started_ns, sj->finished_ns));
		if (sj->state == RPL_SCHED_OK) {
			rpl_strbuf_addstr(&x, "/>\n");
			continue;
		}
		rpl_strbuf_addstr(&x, ">\n");
		if (sj->state == RPL_SCHED_FAILED) {
			char *log = NULL;
			size_t len = 0;
			rpl_strbuf_addstr(&x, "      <failure message=\"");
			xml_escape(&x, sj->message ? sj->message : "failed");
			rpl_strbuf_addstr(&x, "\">");
			if (!rpl_read_file(j->log, &log, &len)) {
				xml_escape(&x, len > 8192 ? log + len - 8192 : log);
				free(log);
			}
			rpl_strbuf_addstr(&x, "</failure>\n");
		} else {
			rpl_strbuf_addstr(&x, "      <skipped message=\"");
			xml_escape(&x, sj->message ? sj->message : rpl_sched_state_name(sj->state));
			rpl_strbuf_addstr(&x, "\"/>\n");
		}
		rpl_strbuf_addstr(&x, "    </testcase>\n");
	}
	rpl_strbuf_addstr(&x, "  </testsuite>\n</testsuites>\n");
	err = rpl_write_file_atomic(path, x.buf, x.len);
	rpl_strbuf_release(&x);
	return err;
}

void rpl_build_event_plan(struct build *b)
{
	json_t *e = json_pack("{s:s,s:I,s:[]}", "event", "plan", "run", (json_int_t)b->run, "jobs");
	json_t *list = json_object_get(e, "jobs");

	for (size_t i = 0; i < b->njobs; i++)
		json_array_append_new(list, rpl_build_job_json(&b->jobs[i]));
	rpl_build_event(b, e);
}

void rpl_build_event_end(struct build *b, const struct rpl_sched_result *res, const char *status)
{
	json_t *e = json_pack("{s:s,s:s,s:I,s:I,s:I,s:I,s:f}", "event", "end", "status", status,
	                      "ok", (json_int_t)res->ok, "failed", (json_int_t)res->failed,
	                      "skipped", (json_int_t)res->skipped, "not_finished",
	                      (json_int_t)(res->cancelled + res->not_run), "seconds", res->seconds);

	rpl_build_event(b, e);
}
