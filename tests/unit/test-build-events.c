/*
 * What `ripple build` writes for programs and people, apart from a run:
 * the JUnit XML of a run's jobs (a testcase per job; a failure with its
 * message and the tail of its log, escaped, characters XML does not allow
 * replaced; the jobs that did not finish as skipped), the --events lines
 * (one JSON object a line, with the time), and durations as the lines
 * print them.
 */
#include "common/file.h"
#include "graph/graph.h"
#include "orchestrator/build.h"
#include "orchestrator/build_events.h"
#include "orchestrator/build_status.h"
#include "orchestrator/report.h"
#include "orchestrator/plan.h"
#include "orchestrator/sched.h"
#include "testlib.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

/* Three jobs: foo built, bar failed (with a log), baz skipped. */
struct three {
	struct rpl_node nodes[3];
	struct rpl_job jobs[3];
	struct rpl_sched_job sjobs[3];
	struct bjob bjobs[3];
	struct bopts o;
	struct build b;
};

static void three_init(struct three *t, const char *log)
{
	static const char *names[] = { "foo", "bar", "baz" };
	static const enum rpl_sched_state states[] = { RPL_SCHED_OK, RPL_SCHED_FAILED,
		                                       RPL_SCHED_SKIPPED };
	static char *messages[] = { NULL, "exit 1: <\"a\" & b>", "waits for bar, which failed" };

	memset(t, 0, sizeof(*t));
	for (size_t i = 0; i < 3; i++) {
		t->nodes[i].name = names[i];
		t->jobs[i].node = &t->nodes[i];
		t->jobs[i].kind = "package";
		t->jobs[i].arch = "x86_64";
		t->sjobs[i].state = states[i];
		t->sjobs[i].message = messages[i];
		t->bjobs[i].plan = &t->jobs[i];
		t->bjobs[i].sj = &t->sjobs[i];
		t->bjobs[i].log = (char *)log;
	}
	t->sjobs[0].started_ns = 1000000000;
	t->sjobs[0].finished_ns = 2500000000;
	t->b.o = &t->o;
	t->b.run = 7;
	t->b.jobs = t->bjobs;
	t->b.njobs = 3;
}

static void test_junit(void **state)
{
	char dir[4096], *log, *xml;
	struct rpl_sched_result res = { 1, 1, 1, 0, 0, 0, 3.25 };
	struct three t;
	size_t len;

	(void)state;
	assert_int_equal(rpl_test_mkdtemp(dir, sizeof(dir), "build-events"), 0);
	rpl_test_write_file(dir, "bar.log", "compiling\ncc: error: a<b\x01\n");
	log = rpl_path_join(dir, "bar.log");
	three_init(&t, log);
	xml = rpl_path_join(dir, "junit.xml");
	assert_int_equal(rpl_build_write_junit(&t.b, &res, xml), 0);
	{
		char *text;
		assert_int_equal(rpl_read_file(xml, &text, &len), 0);
		assert_string_equal(
		        text,
		        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		        "<testsuites>\n"
		        "  <testsuite name=\"ripple build\" tests=\"3\" failures=\"1\" errors=\"0\" "
		        "skipped=\"1\" time=\"3.250\">\n"
		        "    <testcase classname=\"package.x86_64\" name=\"foo\" time=\"1.500\"/>\n"
		        "    <testcase classname=\"package.x86_64\" name=\"bar\" time=\"0.000\">\n"
		        "      <failure message=\"exit 1: &lt;&quot;a&quot; &amp; b&gt;\">compiling\n"
		        "cc: error: a&lt;b?\n"
		        "</failure>\n"
		        "    </testcase>\n"
		        "    <testcase classname=\"package.x86_64\" name=\"baz\" time=\"0.000\">\n"
		        "      <skipped message=\"waits for bar, which failed\"/>\n"
		        "    </testcase>\n"
		        "  </testsuite>\n"
		        "</testsuites>\n");
		free(text);
	}
	free(xml);
	free(log);
	assert_int_equal(rpl_test_remove_tree(dir), 0);
}

static void test_events(void **state)
{
	struct rpl_sched_result res = { 1, 1, 1, 0, 0, 0, 3.25 };
	struct three t;
	char line[1024];

	(void)state;
	three_init(&t, "x.log");
	/* Without --events an event is only dropped. */
	rpl_build_event_plan(&t.b);
	t.b.events = tmpfile();
	assert_non_null(t.b.events);
	rpl_build_event_plan(&t.b);
	rpl_build_event_end(&t.b, &res, "failed");
	rewind(t.b.events);
	assert_non_null(fgets(line, sizeof(line), t.b.events));
	assert_non_null(strstr(line, "{\"event\":\"plan\",\"run\":7,\"jobs\":[{\"name\":\"foo\","
	                             "\"kind\":\"package\",\"arch\":\"x86_64\"},"));
	assert_non_null(strstr(line, "\"time\":"));
	assert_int_equal(line[strlen(line) - 1], '\n');
	assert_non_null(fgets(line, sizeof(line), t.b.events));
	assert_non_null(strstr(line, "{\"event\":\"end\",\"status\":\"failed\",\"ok\":1,"
	                             "\"failed\":1,\"skipped\":1,\"not_finished\":0,"
	                             "\"seconds\":3.25"));
	assert_null(fgets(line, sizeof(line), t.b.events));
	fclose(t.b.events);
}

static void secs_are(double s, const char *want)
{
	char buf[32];

	rpl_report_fmt_secs(s, buf, sizeof(buf));
	assert_string_equal(buf, want);
}

static void test_durations(void **state)
{
	struct rpl_sched_job sj;

	(void)state;
	secs_are(0, "0.0s");
	secs_are(4.5, "4.5s");
	secs_are(59.9, "59.9s");
	secs_are(60, "1m00s");
	secs_are(187, "3m07s");
	secs_are(3600, "1h00m");
	secs_are(7500, "2h05m");
	memset(&sj, 0, sizeof(sj));
	assert_string_equal(rpl_build_kind_prefix(&sj), "");
	sj.run.kind = "package";
	assert_string_equal(rpl_build_kind_prefix(&sj), "");
	sj.run.kind = "image";
	assert_string_equal(rpl_build_kind_prefix(&sj), "image ");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_junit),
		cmocka_unit_test(test_events),
		cmocka_unit_test(test_durations),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
