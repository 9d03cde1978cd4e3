/*
 * The HTTP client (common/http.c) against a real HTTP server on
 * 127.0.0.1: a thread of this test that answers by path, records the last
 * request's head and body, and keeps the connections it was told to leave
 * unanswered open until it stops.
 *
 * Covered: a 200 body into the response and into a sink; a sink's error
 * passed up; response headers; request headers, method and body sent; a
 * HEAD whose Content-Length is over the cap; a 404 and a 500 that name
 * their status; the size cap on an announced length and on a body sent
 * without one; disallowed schemes (file://, ftp:// when only http is
 * allowed, no scheme) refused before any connection, and redirects to
 * them refused; a redirect followed, and not followed unless asked; the
 * redaction of credentials, query values and Authorization headers in
 * messages; a server that accepts and never answers, under a low-speed
 * limit and under a total timeout; no server at all.
 */
#include "common/error.h"
#include "common/http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/unit/testlib.h"

/* ---- the server --------------------------------------------------------------------- */

#define MAXHANG 8

struct server {
	int fd, port;
	pthread_t thread;
	pthread_mutex_t mu;
	char head[4096]; /* the last request's head */
	char body[4096]; /* and its body */
	size_t body_len;
	int hang[MAXHANG]; /* connections left unanswered */
	size_t nhang;
};

static struct server srv;

static void put(int c, const void *p, size_t n)
{
	while (n) {
		ssize_t w = send(c, p, n, MSG_NOSIGNAL);
		if (w <= 0)
			return;
		p = (const char *)p + w;
		n -= (size_t)w;
	}
}

static void reply(int c, int code, const char *extra, const char *body)
{
	char head[2048];
	int n = snprintf(head, sizeof(head),
	                 "HTTP/1.1 %d X\r\nContent-Length: %zu\r\nConnection: close\r\n%s\r\n",
	                 code, body ? strlen(body) : 0, extra ? extra : "");

	put(c, head, (size_t)n);
	if (body)
		put(c, body, strlen(body));
}

/* A body of `n` bytes sent with no Content-Length: its end is the connection's. */
static void reply_unsized(int c, size_t n)
{
	static const char head[] = "HTTP/1.0 200 OK\r\nConnection: close\r\n\r\n";
	char chunk[4096];

	memset(chunk, 'z', sizeof(chunk));
	put(c, head, sizeof(head) - 1);
	for (size_t done = 0; done < n; done += sizeof(chunk))
		put(c, chunk, sizeof(chunk));
}

/* Answers one request by its path; returns 1 when the connection is to stay open. */
static int serve(int c, const char *path, const char *method)
{
	char extra[512];

	if (!strcmp(path, "/ok") || !strncmp(path, "/ok?", 4)) {
		reply(c, 200, "X-Test:  one two \r\nLocation: /elsewhere\r\n", "hello");
	} else if (!strcmp(path, "/echo")) {
		reply(c, 200, NULL, method);
	} else if (!strcmp(path, "/big-head")) {
		/* A HEAD is told the size of what it did not ask for. */
		static const char h[] =
		        "HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\nConnection: close\r\n\r\n";
		put(c, h, sizeof(h) - 1);
	} else if (!strcmp(path, "/big-unsized")) {
		reply_unsized(c, 1 << 20);
	} else if (!strcmp(path, "/fail")) {
		reply(c, 500, NULL, "oops");
	} else if (!strcmp(path, "/redir-ok")) {
		reply(c, 302, "Location: /ok\r\n", NULL);
	} else if (!strcmp(path, "/redir-file")) {
		reply(c, 302, "Location: file:///etc/passwd\r\n", NULL);
	} else if (!strcmp(path, "/redir-ftp")) {
		snprintf(extra, sizeof(extra), "Location: ftp://127.0.0.1:%d/x\r\n", srv.port);
		reply(c, 302, extra, NULL);
	} else if (!strcmp(path, "/hang")) {
		return 1;
	} else {
		reply(c, 404, NULL, "not here");
	}
	return 0;
}

static void *server_main(void *arg)
{
	(void)arg;
	for (;;) {
		char buf[16384], cl[32], method[16] = "", path[1024] = "", *end = NULL;
		size_t len = 0, want = 0;
		int keep = 0, c = accept(srv.fd, NULL, NULL);

		if (c < 0)
			break;
		/* The head, then Content-Length bytes of body. */
		for (;;) {
			ssize_t got = read(c, buf + len, sizeof(buf) - 1 - len);
			if (got <= 0)
				break;
			len += (size_t)got;
			buf[len] = '\0';
			if (!end && (end = strstr(buf, "\r\n\r\n"))) {
				rpl_test_http_header(buf, "Content-Length", cl, sizeof(cl));
				want = (size_t)(end + 4 - buf) + (size_t)strtoull(cl, NULL, 10);
				if (strstr(buf, "Expect: 100-continue") && len < want)
					put(c, "HTTP/1.1 100 Continue\r\n\r\n", 25);
			}
			if (end && len >= want)
				break;
		}
		if (end) {
			pthread_mutex_lock(&srv.mu);
			snprintf(srv.head, sizeof(srv.head), "%.*s", (int)(end + 2 - buf), buf);
			srv.body_len = len - (size_t)(end + 4 - buf);
			memcpy(srv.body, end + 4, srv.body_len);
			pthread_mutex_unlock(&srv.mu);
			sscanf(buf, "%15s %1023s", method, path);
			keep = serve(c, path, method);
		}
		if (keep && srv.nhang < MAXHANG)
			srv.hang[srv.nhang++] = c;
		else
			close(c);
	}
	return NULL;
}

static int server_start(void **state)
{
	struct sockaddr_in a;
	socklen_t alen = sizeof(a);
	int one = 1;

	(void)state;
	memset(&srv, 0, sizeof(srv));
	pthread_mutex_init(&srv.mu, NULL);
	srv.fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (srv.fd < 0)
		return -1;
	setsockopt(srv.fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(srv.fd, (struct sockaddr *)&a, sizeof(a)) || listen(srv.fd, 16) ||
	    getsockname(srv.fd, (struct sockaddr *)&a, &alen))
		return -1;
	srv.port = ntohs(a.sin_port);
	return pthread_create(&srv.thread, NULL, server_main, NULL) ? -1 : 0;
}

static int server_stop(void **state)
{
	(void)state;
	shutdown(srv.fd, SHUT_RDWR);
	pthread_join(srv.thread, NULL);
	close(srv.fd);
	for (size_t i = 0; i < srv.nhang; i++)
		close(srv.hang[i]);
	pthread_mutex_destroy(&srv.mu);
	return 0;
}

/* ---- helpers ------------------------------------------------------------------------ */

static char *url_of(const char *path)
{
	char *u = malloc(1200);

	assert_non_null(u);
	snprintf(u, 1200, "http://127.0.0.1:%d%s", srv.port, path);
	return u;
}

/* Fails, showing both, unless the last message holds `needle`. */
static void assert_msg_has(const char *needle)
{
	if (!strstr(rpl_errmsg(), needle))
		fail_msg("message \"%s\" does not hold \"%s\"", rpl_errmsg(), needle);
}

static void assert_msg_lacks(const char *needle)
{
	if (strstr(rpl_errmsg(), needle))
		fail_msg("message \"%s\" holds \"%s\"", rpl_errmsg(), needle);
}

/* GETs `path` of the server with `req`'s other fields; returns the result. */
static int get(const char *path, struct rpl_http_req *req, struct rpl_http_resp *resp)
{
	char *u = url_of(path);
	int err;

	req->url = u;
	err = rpl_http_perform(req, resp);
	req->url = NULL;
	free(u);
	return err;
}

/* ---- cases -------------------------------------------------------------------------- */

static void test_redact(void **state)
{
	static const char *const cases[][2] = {
		{ "https://host/a/b", "https://host/a/b" },
		{ "https://user:pass@host:8080/x", "https://***@host:8080/x" },
		{ "https://a@b@host/x", "https://***@host/x" },
		{ "https://host/x?token=abc&digest=sha256:1",
		  "https://host/x?token=***&digest=***" },
		{ "https://host/x?bare&k=", "https://host/x?***&k=" },
		{ "https://u:p@host/x?sig=1#frag", "https://***@host/x?sig=***" },
		{ "https://host/x#a@b", "https://host/x" },
		{ "https://host?t=1", "https://host?t=***" },
		{ "/local/path", "/local/path" },
		{ "weird/a://b@c", "weird/a://b@c" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *got = rpl_http_redact(cases[i][0]);
		assert_string_equal(got, cases[i][1]);
		free(got);
	}
}

static void test_escape(void **state)
{
	char *e = rpl_http_escape("repository:a/b:pull,push ~x_y-z.");

	(void)state;
	assert_string_equal(e, "repository%3Aa%2Fb%3Apull%2Cpush%20~x_y-z.");
	free(e);
	e = rpl_http_escape("");
	assert_string_equal(e, "");
	free(e);
}

static void test_ok_body_and_headers(void **state)
{
	struct rpl_http_req req = { .fail_status = 1 };
	struct rpl_http_resp resp;
	char *v;

	(void)state;
	assert_int_equal(get("/ok", &req, &resp), 0);
	assert_int_equal(resp.status, 200);
	assert_string_equal(rpl_strbuf_str(&resp.body), "hello");
	assert_int_equal(resp.got, 5);
	v = rpl_http_header(&resp, "x-test");
	assert_string_equal(v, "one two");
	free(v);
	v = rpl_http_header(&resp, "Location");
	assert_string_equal(v, "/elsewhere");
	free(v);
	assert_null(rpl_http_header(&resp, "X-Nope"));
	rpl_http_resp_release(&resp);
}

struct collect {
	char buf[64];
	size_t len;
	int fail_with;
};

static int collect(void *ud, const void *p, size_t n)
{
	struct collect *c = ud;

	if (c->fail_with)
		return c->fail_with;
	if (n > sizeof(c->buf) - 1 - c->len)
		n = sizeof(c->buf) - 1 - c->len;
	memcpy(c->buf + c->len, p, n);
	c->len += n;
	return 0;
}

static void test_sink(void **state)
{
	struct collect c = { "", 0, 0 };
	struct rpl_http_req req = { .fail_status = 1, .sink = collect, .sink_ud = &c };
	struct rpl_http_resp resp;

	(void)state;
	assert_int_equal(get("/ok", &req, &resp), 0);
	assert_string_equal(c.buf, "hello");
	assert_int_equal(resp.body.len, 0);
	rpl_http_resp_release(&resp);

	/* A sink that cannot take the bytes stops the transfer with its code. */
	c.fail_with = -ENOSPC;
	assert_int_equal(get("/ok", &req, &resp), -ENOSPC);
	assert_msg_has("cannot fetch http://127.0.0.1:");
	assert_msg_has(strerror(ENOSPC));
	rpl_http_resp_release(&resp);
}

static void test_method_headers_body(void **state)
{
	static const char *const headers[] = { "Content-Type: text/x-test", "X-Extra: 1", NULL };
	struct rpl_http_req req = {
		.method = "PUT", .headers = headers, .body = "abc\0def", .body_len = 7
	};
	struct rpl_http_resp resp;

	(void)state;
	assert_int_equal(get("/echo", &req, &resp), 0);
	assert_string_equal(rpl_strbuf_str(&resp.body), "PUT");
	rpl_http_resp_release(&resp);
	pthread_mutex_lock(&srv.mu);
	assert_int_equal(srv.body_len, 7);
	assert_memory_equal(srv.body, "abc\0def", 7);
	assert_non_null(strstr(srv.head, "\r\nContent-Type: text/x-test\r\n"));
	assert_non_null(strstr(srv.head, "\r\nX-Extra: 1\r\n"));
	assert_non_null(strstr(srv.head, "\r\nUser-Agent: ripple\r\n"));
	pthread_mutex_unlock(&srv.mu);

	/* A POST with no body sends an empty one. */
	req.method = "POST";
	req.body = NULL;
	req.body_len = 0;
	assert_int_equal(get("/echo", &req, &resp), 0);
	assert_string_equal(rpl_strbuf_str(&resp.body), "POST");
	rpl_http_resp_release(&resp);

	/* A HEAD's Content-Length is not a body over the cap. */
	memset(&req, 0, sizeof(req));
	req.method = "HEAD";
	req.max_bytes = 100;
	assert_int_equal(get("/big-head", &req, &resp), 0);
	assert_int_equal(resp.status, 200);
	rpl_http_resp_release(&resp);
}

static void test_status(void **state)
{
	struct rpl_http_req req = { .fail_status = 1 };
	struct rpl_http_resp resp;
	char want[128];

	(void)state;
	assert_int_equal(get("/missing", &req, &resp), -RPL_ENOTFOUND);
	snprintf(want, sizeof(want),
	         "cannot fetch http://127.0.0.1:%d/missing: not found (HTTP 404)", srv.port);
	assert_string_equal(rpl_errmsg(), want);
	assert_int_equal(resp.status, 404);
	rpl_http_resp_release(&resp);

	req.what = "push: GET";
	assert_int_equal(get("/fail", &req, &resp), -RPL_ELIB);
	snprintf(want, sizeof(want), "push: GET http://127.0.0.1:%d/fail: server error (HTTP 500)",
	         srv.port);
	assert_string_equal(rpl_errmsg(), want);
	rpl_http_resp_release(&resp);

	/* Without fail_status the answer is the caller's to judge, body and all. */
	req.fail_status = 0;
	assert_int_equal(get("/missing", &req, &resp), 0);
	assert_int_equal(resp.status, 404);
	assert_string_equal(rpl_strbuf_str(&resp.body), "not here");
	rpl_http_resp_release(&resp);
}

static void test_size_cap(void **state)
{
	struct rpl_http_req req = { .fail_status = 1, .max_bytes = 4 };
	struct rpl_http_resp resp;

	(void)state;
	/* Announced: "hello" is 5 bytes. */
	assert_int_equal(get("/ok", &req, &resp), -RPL_EPARSE);
	assert_msg_has("/ok: it is larger than 4 bytes; refusing it");
	assert_true(resp.got <= 4);
	rpl_http_resp_release(&resp);

	/* Not announced: the bytes are counted as they come. */
	req.max_bytes = 1000;
	req.item = "a test body";
	assert_int_equal(get("/big-unsized", &req, &resp), -RPL_EPARSE);
	assert_msg_has("/big-unsized: it is larger than 1000 bytes, the most a test body may be "
	               "here; refusing it");
	assert_true(resp.got <= 1000);
	assert_true(resp.body.len <= 1000);
	rpl_http_resp_release(&resp);

	/* Under the cap it all comes. */
	req.max_bytes = 2 << 20;
	assert_int_equal(get("/big-unsized", &req, &resp), 0);
	assert_int_equal(resp.body.len, 1 << 20);
	rpl_http_resp_release(&resp);
}

static void test_schemes(void **state)
{
	struct rpl_http_req req = { .fail_status = 1, .follow = 1 };
	struct rpl_http_resp resp;
	char ftp[128];

	(void)state;
	req.url = "file:///etc/passwd";
	assert_int_equal(rpl_http_perform(&req, &resp), -RPL_EUSAGE);
	assert_string_equal(
	        rpl_errmsg(),
	        "cannot fetch file:///etc/passwd: not an allowed URL (only http, https)");
	rpl_http_resp_release(&resp);

	snprintf(ftp, sizeof(ftp), "ftp://127.0.0.1:%d/x", srv.port);
	req.url = ftp;
	req.schemes = "http";
	assert_int_equal(rpl_http_perform(&req, &resp), -RPL_EUSAGE);
	assert_msg_has("not an allowed URL (only http)");
	rpl_http_resp_release(&resp);

	req.url = "127.0.0.1/x"; /* curl would guess http */
	assert_int_equal(rpl_http_perform(&req, &resp), -RPL_EUSAGE);
	rpl_http_resp_release(&resp);

	/* Redirects: followed within the schemes, refused outside them. */
	req.schemes = NULL;
	assert_int_equal(get("/redir-ok", &req, &resp), 0);
	assert_string_equal(rpl_strbuf_str(&resp.body), "hello");
	rpl_http_resp_release(&resp);
	assert_int_equal(get("/redir-file", &req, &resp), -RPL_EUSAGE);
	assert_msg_has(
	        "/redir-file: redirected to a scheme that is not allowed (only http, https)");
	rpl_http_resp_release(&resp);
	req.schemes = "http";
	assert_int_equal(get("/redir-ftp", &req, &resp), -RPL_EUSAGE);
	assert_msg_has("redirected to a scheme that is not allowed (only http)");
	rpl_http_resp_release(&resp);

	/* Not followed unless asked: the 302 is the answer. */
	req.follow = 0;
	req.schemes = NULL;
	assert_int_equal(get("/redir-file", &req, &resp), 0);
	assert_int_equal(resp.status, 302);
	rpl_http_resp_release(&resp);
}

static void test_redaction_in_messages(void **state)
{
	static const char *const headers[] = { "Authorization: Bearer sekrit-bearer", NULL };
	struct rpl_http_req req = { .fail_status = 1, .headers = headers };
	struct rpl_http_resp resp;
	char url[256], want[256];

	(void)state;
	snprintf(url, sizeof(url),
	         "http://user:hunter2@127.0.0.1:%d/missing?token=abc123&x=1#frag-secret", srv.port);
	req.url = url;
	assert_int_equal(rpl_http_perform(&req, &resp), -RPL_ENOTFOUND);
	snprintf(want, sizeof(want),
	         "cannot fetch http://***@127.0.0.1:%d/missing?token=***&x=***: not found (HTTP "
	         "404)",
	         srv.port);
	assert_string_equal(rpl_errmsg(), want);
	assert_msg_lacks("hunter2");
	assert_msg_lacks("abc123");
	assert_msg_lacks("sekrit");
	rpl_http_resp_release(&resp);
	/* The query did go to the server as it was. */
	pthread_mutex_lock(&srv.mu);
	assert_non_null(strstr(srv.head, "GET /missing?token=abc123&x=1 HTTP/1.1\r\n"));
	pthread_mutex_unlock(&srv.mu);

	/* A refused scheme and a failed connection redact too. */
	req.url = "file://me:pw@x/etc/passwd?k=v";
	assert_int_equal(rpl_http_perform(&req, &resp), -RPL_EUSAGE);
	assert_msg_has("file://***@x/etc/passwd?k=***");
	assert_msg_lacks("pw");
	rpl_http_resp_release(&resp);
}

static void test_timeouts(void **state)
{
	struct rpl_http_req req = { .fail_status = 1, .low_speed_limit = 1, .low_speed_time_s = 1 };
	struct rpl_http_resp resp;

	(void)state;
	/* The server takes the request and says nothing: a stalled transfer. */
	assert_int_equal(get("/hang", &req, &resp), -EIO);
	assert_msg_has("/hang: ");
	rpl_http_resp_release(&resp);

	/* And under a total timeout, with the low-speed limit far away. */
	req.low_speed_time_s = 600;
	req.timeout_s = 1;
	assert_int_equal(get("/hang", &req, &resp), -EIO);
	assert_msg_has("/hang: ");
	rpl_http_resp_release(&resp);
}

static void test_no_server(void **state)
{
	struct sockaddr_in a;
	socklen_t alen = sizeof(a);
	struct rpl_http_req req = { .fail_status = 1 };
	struct rpl_http_resp resp;
	char url[128];
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	(void)state;
	/* A port that was free a moment ago, with nobody listening. */
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &alen), 0);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/x", ntohs(a.sin_port));
	close(fd);
	req.url = url;
	assert_int_equal(rpl_http_perform(&req, &resp), -EIO);
	assert_msg_has(url);
	assert_int_equal(resp.status, 0);
	rpl_http_resp_release(&resp);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_redact),
		cmocka_unit_test(test_escape),
		cmocka_unit_test(test_ok_body_and_headers),
		cmocka_unit_test(test_sink),
		cmocka_unit_test(test_method_headers_body),
		cmocka_unit_test(test_status),
		cmocka_unit_test(test_size_cap),
		cmocka_unit_test(test_schemes),
		cmocka_unit_test(test_redaction_in_messages),
		cmocka_unit_test(test_timeouts),
		cmocka_unit_test(test_no_server),
	};

	return rpl_test_result(cmocka_run_group_tests(tests, server_start, server_stop));
}
