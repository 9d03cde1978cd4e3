/*
 * Pushing an OCI layout to a registry (runners/push.c) against a real HTTP
 * server on 127.0.0.1: a thread of this test that speaks the handful of
 * distribution-API endpoints the pusher calls (blob HEAD, upload POST and
 * PUT, manifest PUT, a token realm), keeps what was pushed, checks each
 * blob's bytes against its digest as a registry does, and records every
 * request.  The layouts are written by the test in a temporary directory.
 *
 * Covered: a one-arch image (blobs first, each HEAD then POST then PUT
 * ?digest=, then the manifest by tag with its media type); a multi-arch
 * index (children by digest before the index by tag, a shared layer sent
 * once); blobs the registry has (not sent again); apko's untagged layout;
 * a tag in the reference; an upload location relative or absolute, and on
 * another host (no credentials sent there); Basic credentials from
 * $DOCKER_CONFIG/config.json (by host and by https://host); the bearer
 * token dance (scope and service asked for, the token used, a token
 * refused); and the errors: a bad reference, no such tag, a blob missing
 * from the layout, a bad digest, a refused manifest, an upload refused, no
 * server at all.
 */
#include "runners/push.h"
#include "common/error.h"
#include "common/sha256.h"

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
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/unit/testlib.h"

/* ---- the registry ------------------------------------------------------------------- */

#define MAXREQ 128
#define MAXBLOB 32

/* "user:pass" in base64 (RFC 4648). */
#define BASIC "dXNlcjpwYXNz"
#define TOKEN "tok-123"

enum auth_mode { OPEN, NEED_BASIC, NEED_BEARER };

struct request {
	char method[16], path[1024], auth[256], ctype[128];
	char body_digest[80]; /* "sha256:<hex>" of the body */
	size_t body_len;
};

struct registry {
	int fd, port;
	pthread_t thread;
	pthread_mutex_t mu;
	enum auth_mode auth;
	int absolute_location; /* 1: on this origin, 2: on "localhost" (another origin) */
	int refuse_manifest, refuse_upload, refuse_token;
	struct request req[MAXREQ];
	size_t nreq;
	char have[MAXBLOB][80]; /* blobs stored */
	size_t nhave;
	int bad_blob; /* a blob whose bytes did not match its digest */
};

static void digest_of(const void *p, size_t n, char out[80])
{
	uint8_t d[RPL_SHA256_LEN];
	char hex[RPL_SHA256_HEX];

	rpl_sha256(p, n, d);
	rpl_hex(d, sizeof(d), hex);
	snprintf(out, 80, "sha256:%s", hex);
}

static int has_blob(struct registry *g, const char *d)
{
	for (size_t i = 0; i < g->nhave; i++)
		if (!strcmp(g->have[i], d))
			return 1;
	return 0;
}

static void reply(int c, int code, const char *extra, const char *body)
{
	char head[2048];
	int n = snprintf(head, sizeof(head),
	                 "HTTP/1.1 %d X\r\nContent-Length: %zu\r\nConnection: close\r\n%s\r\n",
	                 code, body ? strlen(body) : 0, extra ? extra : "");

	if (write(c, head, (size_t)n) < 0)
		return;
	if (body && write(c, body, strlen(body)) < 0)
		return;
}

static const char *query(const char *path, const char *key, char *out, size_t n)
{
	const char *q = strchr(path, '?');
	size_t len = strlen(key);

	out[0] = '\0';
	for (const char *p = q; p; p = strchr(p + 1, '&'))
		if (!strncmp(p + 1, key, len) && p[1 + len] == '=') {
			snprintf(out, n, "%.*s", (int)strcspn(p + 2 + len, "&"), p + 2 + len);
			return out;
		}
	return NULL;
}

/* Answers one request as a registry would. */
static void serve(struct registry *g, int c, const char *head, const char *body, size_t blen)
{
	struct request r;
	char extra[512] = "", v[256];
	const char *p;

	memset(&r, 0, sizeof(r));
	sscanf(head, "%15s %1023s", r.method, r.path);
	rpl_test_http_header(head, "Authorization", r.auth, sizeof(r.auth));
	rpl_test_http_header(head, "Content-Type", r.ctype, sizeof(r.ctype));
	digest_of(body, blen, r.body_digest);
	r.body_len = blen;
	pthread_mutex_lock(&g->mu);
	if (g->nreq < MAXREQ)
		g->req[g->nreq++] = r;

	p = r.path;
	if (!strncmp(p, "/token", 6)) {
		if (g->refuse_token || strcmp(r.auth, "Basic " BASIC))
			reply(c, 401, NULL, "{}");
		else
			reply(c, 200, "Content-Type: application/json\r\n",
			      "{\"token\": \"" TOKEN "\"}");
		goto out;
	}
	/* Anything else is the registry's and may need credentials. */
	if ((g->auth == NEED_BASIC && strcmp(r.auth, "Basic " BASIC)) ||
	    (g->auth == NEED_BEARER && strcmp(r.auth, "Bearer " TOKEN))) {
		if (g->auth == NEED_BEARER)
			snprintf(extra, sizeof(extra),
			         "WWW-Authenticate: Bearer realm=\"http://127.0.0.1:%d/token\","
			         "service=\"test-registry\"\r\n",
			         g->port);
		reply(c, 401, extra, "{\"errors\": [{\"code\": \"UNAUTHORIZED\"}]}");
		goto out;
	}
	if (!strcmp(r.method, "HEAD") && strstr(p, "/blobs/sha256:")) {
		reply(c, has_blob(g, strstr(p, "/blobs/") + 7) ? 200 : 404, NULL, NULL);
	} else if (!strcmp(r.method, "POST") && strstr(p, "/blobs/uploads/")) {
		if (g->refuse_upload) {
			reply(c, 403, NULL, "denied");
			goto out;
		}
		if (g->absolute_location)
			snprintf(extra, sizeof(extra),
			         "Location: http://%s:%d/upload/u%zu?state=abc\r\n",
			         g->absolute_location == 2 ? "localhost" : "127.0.0.1", g->port,
			         g->nreq);
		else
			snprintf(extra, sizeof(extra), "Location: /upload/u%zu?state=abc\r\n",
			         g->nreq);
		reply(c, 202, extra, NULL);
	} else if (!strcmp(r.method, "PUT") && !strncmp(p, "/upload/", 8)) {
		/* The monolithic upload: the bytes must be what the digest says. */
		if (!query(p, "digest", v, sizeof(v)) || strcmp(v, r.body_digest) ||
		    !query(p, "state", v, sizeof(v))) {
			g->bad_blob = 1;
			reply(c, 400, NULL, "{\"errors\": [{\"code\": \"DIGEST_INVALID\"}]}");
		} else {
			if (!has_blob(g, r.body_digest) && g->nhave < MAXBLOB)
				snprintf(g->have[g->nhave++], 80, "%s", r.body_digest);
			reply(c, 201, NULL, NULL);
		}
	} else if (!strcmp(r.method, "PUT") && strstr(p, "/manifests/")) {
		if (g->refuse_manifest)
			reply(c, 400, NULL, "{\"errors\": [{\"code\": \"MANIFEST_INVALID\"}]}");
		else
			reply(c, 201, NULL, NULL);
	} else {
		reply(c, 404, NULL, "not here");
	}
out:
	pthread_mutex_unlock(&g->mu);
}

static void *registry_main(void *arg)
{
	struct registry *g = arg;

	for (;;) {
		char *buf = NULL, *end;
		size_t len = 0, cap = 0, want;
		char cl[32], expect[64];
		int c = accept(g->fd, NULL, NULL);

		if (c < 0)
			break;
		/* The head, then Content-Length bytes of body. */
		for (;;) {
			ssize_t got;
			if (len + 4096 + 1 > cap) {
				cap = (len + 4096 + 1) * 2;
				buf = realloc(buf, cap);
			}
			got = read(c, buf + len, cap - len - 1);
			if (got <= 0)
				break;
			len += (size_t)got;
			buf[len] = '\0';
			if (!(end = strstr(buf, "\r\n\r\n")))
				continue;
			rpl_test_http_header(buf, "Content-Length", cl, sizeof(cl));
			want = (size_t)(end + 4 - buf) + (size_t)strtoull(cl, NULL, 10);
			rpl_test_http_header(buf, "Expect", expect, sizeof(expect));
			if (expect[0] && len == (size_t)(end + 4 - buf) && want > len) {
				if (write(c, "HTTP/1.1 100 Continue\r\n\r\n", 25) < 0)
					break;
				expect[0] = '\0';
			}
			if (len >= want) {
				end[2] = '\0'; /* the head ends with its last header's CRLF */
				serve(g, c, buf, end + 4, want - (size_t)(end + 4 - buf));
				break;
			}
		}
		free(buf);
		close(c);
	}
	return NULL;
}

static void registry_start(struct registry *g)
{
	struct sockaddr_in a;
	socklen_t alen = sizeof(a);
	int one = 1;

	memset(g, 0, sizeof(*g));
	pthread_mutex_init(&g->mu, NULL);
	g->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(g->fd >= 0);
	setsockopt(g->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(g->fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(g->fd, 16), 0);
	assert_int_equal(getsockname(g->fd, (struct sockaddr *)&a, &alen), 0);
	g->port = ntohs(a.sin_port);
	assert_int_equal(pthread_create(&g->thread, NULL, registry_main, g), 0);
}

static void registry_stop(struct registry *g)
{
	shutdown(g->fd, SHUT_RDWR);
	pthread_join(g->thread, NULL);
	close(g->fd);
	pthread_mutex_destroy(&g->mu);
}

/* ---- layouts ------------------------------------------------------------------------ */

static char dir[256];

static int setup(void **state)
{
	(void)state;
	if (rpl_test_mkdtemp(dir, sizeof(dir), "push"))
		return -1;
	/* No credentials unless a test writes some. */
	setenv("DOCKER_CONFIG", dir, 1);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	unsetenv("DOCKER_CONFIG");
	rpl_test_remove_tree(dir);
	dir[0] = '\0';
	return 0;
}

/* Writes `text` as a blob of the layout `lay`; its digest goes in `d`. */
static void blob(const char *lay, const char *text, char d[80])
{
	char rel[512];

	digest_of(text, strlen(text), d);
	snprintf(rel, sizeof(rel), "%s/blobs/sha256/%s", lay, d + 7);
	rpl_test_write_file(dir, rel, text);
}

#define MT_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define MT_INDEX "application/vnd.oci.image.index.v1+json"

struct image {
	char config[80], layer[80], manifest[80];
	char manifest_text[2048];
};

/* One arch's image: a config, a layer (`shared` or its own), its manifest. */
static void image(const char *lay, const char *arch, const char *shared, struct image *im)
{
	char text[512];

	snprintf(text, sizeof(text), "{\"architecture\": \"%s\", \"os\": \"linux\"}", arch);
	blob(lay, text, im->config);
	snprintf(text, sizeof(text), "layer bytes of %s", shared ? shared : arch);
	blob(lay, text, im->layer);
	snprintf(im->manifest_text, sizeof(im->manifest_text),
	         "{\"schemaVersion\": 2, \"mediaType\": \"" MT_MANIFEST "\", "
	         "\"config\": {\"mediaType\": \"application/vnd.oci.image.config.v1+json\", "
	         "\"digest\": \"%s\", \"size\": 1}, \"layers\": [{\"mediaType\": "
	         "\"application/vnd.oci.image.layer.v1.tar+gzip\", \"digest\": \"%s\", \"size\": "
	         "1}]}",
	         im->config, im->layer);
	blob(lay, im->manifest_text, im->manifest);
}

/* A layout whose index.json tags one arch's manifest "latest". */
static void single_layout(const char *lay, struct image *im)
{
	char text[1024], rel[512];

	image(lay, "amd64", NULL, im);
	snprintf(text, sizeof(text),
	         "{\"schemaVersion\": 2, \"manifests\": [{\"mediaType\": \"" MT_MANIFEST "\", "
	         "\"digest\": \"%s\", \"size\": 1, \"annotations\": "
	         "{\"org.opencontainers.image.ref.name\": \"latest\"}}]}",
	         im->manifest);
	snprintf(rel, sizeof(rel), "%s/index.json", lay);
	rpl_test_write_file(dir, rel, text);
	snprintf(rel, sizeof(rel), "%s/oci-layout", lay);
	rpl_test_write_file(dir, rel, "{\"imageLayoutVersion\": \"1.0.0\"}");
}

static void path_of(char *out, size_t n, const char *rel)
{
	snprintf(out, n, "%s/%s", dir, rel);
}

static void ref_of(char *out, size_t n, const struct registry *g, const char *rest)
{
	snprintf(out, n, "127.0.0.1:%d/%s", g->port, rest);
}

/* The index of the first request `method` on a path starting with `prefix`, after `from`. */
static size_t find_req(const struct registry *g, size_t from, const char *method,
                       const char *prefix)
{
	for (size_t i = from; i < g->nreq; i++)
		if (!strcmp(g->req[i].method, method) &&
		    !strncmp(g->req[i].path, prefix, strlen(prefix)))
			return i;
	return SIZE_MAX;
}

static size_t count_req(const struct registry *g, const char *method, const char *part)
{
	size_t n = 0;

	for (size_t i = 0; i < g->nreq; i++)
		n += !strcmp(g->req[i].method, method) && strstr(g->req[i].path, part);
	return n;
}

/* The blob `d` went up once: HEAD, POST, then PUT of its bytes with ?digest=. */
static void expect_blob_pushed(const struct registry *g, const char *repo, const char *d)
{
	char path[512], q[128];
	size_t head, post, put = SIZE_MAX;

	snprintf(path, sizeof(path), "/v2/%s/blobs/%s", repo, d);
	head = find_req(g, 0, "HEAD", path);
	assert_int_not_equal(head, SIZE_MAX);
	snprintf(path, sizeof(path), "/v2/%s/blobs/uploads/", repo);
	post = find_req(g, head, "POST", path);
	assert_int_not_equal(post, SIZE_MAX);
	snprintf(q, sizeof(q), "digest=%s", d);
	for (size_t i = post; i < g->nreq && put == SIZE_MAX; i++)
		if (!strcmp(g->req[i].method, "PUT") && strstr(g->req[i].path, q))
			put = i;
	assert_int_not_equal(put, SIZE_MAX);
	assert_string_equal(g->req[put].body_digest, d);
	assert_string_equal(g->req[put].ctype, "application/octet-stream");
	assert_int_equal(count_req(g, "PUT", q), 1);
}

/* ---- pushes ------------------------------------------------------------------------- */

static void test_single_arch(void **state)
{
	struct registry g;
	struct image im;
	char lay[512], ref[256], digest[80] = "", path[512];
	size_t man;

	(void)state;
	single_layout("lay", &im);
	path_of(lay, sizeof(lay), "lay");
	registry_start(&g);
	ref_of(ref, sizeof(ref), &g, "test/app");
	if (rpl_push(lay, "latest", ref, digest))
		fail_msg("rpl_push: %s", rpl_errmsg());
	registry_stop(&g);

	assert_string_equal(digest, im.manifest);
	assert_int_equal(g.bad_blob, 0);
	expect_blob_pushed(&g, "test/app", im.config);
	expect_blob_pushed(&g, "test/app", im.layer);
	assert_int_equal(g.nhave, 2);
	/* Then the manifest, by the tag, as it is in the layout, with its type. */
	man = find_req(&g, 0, "PUT", "/v2/test/app/manifests/latest");
	assert_int_not_equal(man, SIZE_MAX);
	assert_int_equal(man, g.nreq - 1);
	assert_string_equal(g.req[man].body_digest, im.manifest);
	assert_string_equal(g.req[man].ctype, MT_MANIFEST);
	/* Nothing was sent with credentials: there are none. */
	for (size_t i = 0; i < g.nreq; i++)
		assert_string_equal(g.req[i].auth, "");
	/* The layout's lock file, and nothing else new in it. */
	path_of(path, sizeof(path), "lay/.lock");
	{
		struct stat sb;
		assert_int_equal(stat(path, &sb), 0);
	}
}

/* Blobs the registry has are not sent again; a tag in the reference wins. */
static void test_existing_blobs_and_tag(void **state)
{
	struct registry g;
	struct image im;
	char lay[512], ref[256], digest[80];

	(void)state;
	single_layout("lay", &im);
	path_of(lay, sizeof(lay), "lay");
	registry_start(&g);
	snprintf(g.have[g.nhave++], 80, "%s", im.layer);
	ref_of(ref, sizeof(ref), &g, "org/team/app:v1.2");
	assert_int_equal(rpl_push(lay, "latest", ref, digest), 0);
	registry_stop(&g);
	expect_blob_pushed(&g, "org/team/app", im.config);
	assert_int_equal(count_req(&g, "HEAD", im.layer), 1);
	assert_int_equal(count_req(&g, "POST", "/blobs/uploads/"), 1);
	assert_int_not_equal(find_req(&g, 0, "PUT", "/v2/org/team/app/manifests/v1.2"), SIZE_MAX);
	assert_int_equal(count_req(&g, "PUT", "/manifests/latest"), 0);
}

/* A multi-arch image: each manifest by digest, then the index by tag. */
static void test_multi_arch_index(void **state)
{
	struct registry g;
	struct image amd, arm;
	char text[2048], idx[80], rel[512], lay[512], ref[256], digest[80], path[512];
	size_t put_amd, put_arm, put_idx;

	(void)state;
	image("multi", "amd64", "both", &amd);
	image("multi", "arm64", "both", &arm);
	assert_string_equal(amd.layer, arm.layer);
	snprintf(text, sizeof(text),
	         "{\"schemaVersion\": 2, \"mediaType\": \"" MT_INDEX "\", \"manifests\": ["
	         "{\"mediaType\": \"" MT_MANIFEST "\", \"digest\": \"%s\", \"size\": 1}, "
	         "{\"mediaType\": \"" MT_MANIFEST "\", \"digest\": \"%s\", \"size\": 1}]}",
	         amd.manifest, arm.manifest);
	blob("multi", text, idx);
	snprintf(text, sizeof(text),
	         "{\"schemaVersion\": 2, \"manifests\": [{\"mediaType\": \"" MT_INDEX "\", "
	         "\"digest\": \"%s\", \"size\": 1, \"annotations\": "
	         "{\"org.opencontainers.image.ref.name\": \"web\"}}]}",
	         idx);
	snprintf(rel, sizeof(rel), "multi/index.json");
	rpl_test_write_file(dir, rel, text);
	path_of(lay, sizeof(lay), "multi");

	registry_start(&g);
	g.absolute_location = 1;
	ref_of(ref, sizeof(ref), &g, "web");
	assert_int_equal(rpl_push(lay, "web", ref, digest), 0);
	registry_stop(&g);
	assert_string_equal(digest, idx);
	assert_int_equal(g.bad_blob, 0);
	/* Three distinct blobs: two configs and the shared layer, stored once. */
	assert_int_equal(g.nhave, 3);
	snprintf(path, sizeof(path), "/v2/web/manifests/%s", amd.manifest);
	put_amd = find_req(&g, 0, "PUT", path);
	snprintf(path, sizeof(path), "/v2/web/manifests/%s", arm.manifest);
	put_arm = find_req(&g, 0, "PUT", path);
	put_idx = find_req(&g, 0, "PUT", "/v2/web/manifests/web");
	assert_int_not_equal(put_amd, SIZE_MAX);
	assert_int_not_equal(put_arm, SIZE_MAX);
	assert_int_equal(put_idx, g.nreq - 1);
	assert_true(put_amd < put_idx && put_arm < put_idx);
	assert_string_equal(g.req[put_amd].body_digest, amd.manifest);
	assert_string_equal(g.req[put_idx].body_digest, idx);
	assert_string_equal(g.req[put_idx].ctype, MT_INDEX);
	/* A manifest's blobs go up before it. */
	assert_true(find_req(&g, 0, "HEAD", "/v2/web/blobs/") < put_amd);
	expect_blob_pushed(&g, "web", amd.config);
	expect_blob_pushed(&g, "web", arm.config);
}

/* apko's layout: index.json itself is the image's index, untagged. */
static void test_apko_layout(void **state)
{
	struct registry g;
	struct image im;
	char text[1024], lay[512], ref[256], digest[80], want[80];
	size_t put;

	(void)state;
	image("apko", "amd64", NULL, &im);
	snprintf(text, sizeof(text),
	         "{\"schemaVersion\": 2, \"mediaType\": \"" MT_INDEX "\", \"manifests\": ["
	         "{\"mediaType\": \"" MT_MANIFEST "\", \"digest\": \"%s\", \"size\": 1}]}",
	         im.manifest);
	rpl_test_write_file(dir, "apko/index.json", text);
	digest_of(text, strlen(text), want);
	path_of(lay, sizeof(lay), "apko");
	registry_start(&g);
	ref_of(ref, sizeof(ref), &g, "apko-img:1");
	assert_int_equal(rpl_push(lay, "latest", ref, digest), 0);
	registry_stop(&g);
	assert_string_equal(digest, want);
	put = find_req(&g, 0, "PUT", "/v2/apko-img/manifests/1");
	assert_int_equal(put, g.nreq - 1);
	assert_string_equal(g.req[put].body_digest, want);
	assert_string_equal(g.req[put].ctype, MT_INDEX);
}

/* ---- credentials -------------------------------------------------------------------- */

static void docker_config(const struct registry *g, int https)
{
	char text[512];

	snprintf(text, sizeof(text), "{\"auths\": {\"%s127.0.0.1:%d\": {\"auth\": \"" BASIC "\"}}}",
	         https ? "https://" : "", g->port);
	rpl_test_write_file(dir, "config.json", text);
}

static void test_basic_credentials(void **state)
{
	struct registry g;
	struct image im;
	char lay[512], ref[256], digest[80];

	(void)state;
	single_layout("lay", &im);
	path_of(lay, sizeof(lay), "lay");
	for (int https = 0; https < 2; https++) {
		registry_start(&g);
		g.auth = NEED_BASIC;
		docker_config(&g, https);
		ref_of(ref, sizeof(ref), &g, "test/app");
		if (rpl_push(lay, "latest", ref, digest))
			fail_msg("rpl_push (https key %d): %s", https, rpl_errmsg());
		registry_stop(&g);
		for (size_t i = 0; i < g.nreq; i++)
			assert_string_equal(g.req[i].auth, "Basic " BASIC);
		assert_int_equal(g.nhave, 2);
	}
}

/* Without credentials a registry that wants them says so. */
static void test_basic_refused(void **state)
{
	struct registry g;
	struct image im;
	char lay[512], ref[256], digest[80];

	(void)state;
	single_layout("lay", &im);
	path_of(lay, sizeof(lay), "lay");
	registry_start(&g);
	g.auth = NEED_BASIC;
	ref_of(ref, sizeof(ref), &g, "test/app");
	assert_int_equal(rpl_push(lay, "latest", ref, digest), -RPL_EUSAGE);
	registry_stop(&g);
	assert_non_null(strstr(rpl_errmsg(), "not authorized"));
	assert_int_equal(g.nhave, 0);
}

static void test_bearer_token(void **state)
{
	struct registry g;
	struct image im;
	char lay[512], ref[256], digest[80], v[256];
	size_t tok;

	(void)state;
	single_layout("lay", &im);
	path_of(lay, sizeof(lay), "lay");
	registry_start(&g);
	g.auth = NEED_BEARER;
	docker_config(&g, 0);
	ref_of(ref, sizeof(ref), &g, "test/app");
	if (rpl_push(lay, "latest", ref, digest))
		fail_msg("rpl_push: %s", rpl_errmsg());
	registry_stop(&g);
	assert_int_equal(g.nhave, 2);
	/* The first request was refused with a challenge, then a token was asked
	 * for with the credentials, for this repository, push and pull. */
	assert_string_equal(g.req[0].auth, "Basic " BASIC);
	tok = find_req(&g, 0, "GET", "/token");
	assert_int_equal(tok, 1);
	assert_string_equal(g.req[tok].auth, "Basic " BASIC);
	assert_non_null(query(g.req[tok].path, "scope", v, sizeof(v)));
	assert_string_equal(v, "repository%3Atest%2Fapp%3Apull%2Cpush");
	assert_non_null(query(g.req[tok].path, "service", v, sizeof(v)));
	assert_string_equal(v, "test-registry");
	/* Once: every later request to the registry carries the token. */
	assert_int_equal(count_req(&g, "GET", "/token"), 1);
	for (size_t i = tok + 1; i < g.nreq; i++)
		assert_string_equal(g.req[i].auth, "Bearer " TOKEN);
	assert_int_equal(find_req(&g, 0, "PUT", "/v2/test/app/manifests/latest"), g.nreq - 1);
}

static void test_bearer_without_credentials(void **state)
{
	struct registry g;
	struct image im;
	char lay[512], ref[256], digest[80];

	(void)state;
	single_layout("lay", &im);
	path_of(lay, sizeof(lay), "lay");
	registry_start(&g);
	g.auth = NEED_BEARER;
	ref_of(ref, sizeof(ref), &g, "test/app");
	assert_int_equal(rpl_push(lay, "latest", ref, digest), -RPL_EUSAGE);
	registry_stop(&g);
	assert_non_null(strstr(rpl_errmsg(), "refused a token (HTTP 401)"));
	assert_non_null(strstr(rpl_errmsg(), "no credentials for this registry"));

	/* With credentials the realm refuses. */
	registry_start(&g);
	g.auth = NEED_BEARER;
	g.refuse_token = 1;
	docker_config(&g, 0);
	ref_of(ref, sizeof(ref), &g, "test/app");
	assert_int_equal(rpl_push(lay, "latest", ref, digest), -RPL_EUSAGE);
	registry_stop(&g);
	assert_non_null(strstr(rpl_errmsg(), "the credentials were refused"));
	assert_int_equal(g.nhave, 0);
}

/* An upload location on another origin gets no credentials. */
static void test_location_elsewhere_gets_no_credentials(void **state)
{
	struct registry g;
	struct image im;
	char lay[512], ref[256], digest[80];
	size_t uploads = 0;

	(void)state;
	single_layout("lay", &im);
	path_of(lay, sizeof(lay), "lay");
	registry_start(&g);
	g.absolute_location = 2; /* http://localhost:PORT/upload/... */
	docker_config(&g, 0);
	ref_of(ref, sizeof(ref), &g, "test/app");
	if (rpl_push(lay, "latest", ref, digest))
		fail_msg("rpl_push: %s", rpl_errmsg());
	registry_stop(&g);
	for (size_t i = 0; i < g.nreq; i++) {
		if (!strncmp(g.req[i].path, "/upload/", 8)) {
			assert_string_equal(g.req[i].auth, "");
			uploads++;
		} else {
			assert_string_equal(g.req[i].auth, "Basic " BASIC);
		}
	}
	assert_int_equal(uploads, 2);
	assert_int_equal(g.nhave, 2);
}

/* ---- errors ------------------------------------------------------------------------- */

static void test_bad_reference_and_tag(void **state)
{
	struct registry g;
	struct image im;
	char lay[512], ref[256], digest[80];

	(void)state;
	single_layout("lay", &im);
	path_of(lay, sizeof(lay), "lay");
	assert_int_equal(rpl_push(lay, "latest", "no-slash", digest), -RPL_EUSAGE);
	assert_non_null(strstr(rpl_errmsg(), "'no-slash' is not REGISTRY/REPO[:TAG]"));
	registry_start(&g);
	ref_of(ref, sizeof(ref), &g, "test/app");
	assert_int_equal(rpl_push(lay, "other", ref, digest), -RPL_ENOTFOUND);
	assert_non_null(strstr(rpl_errmsg(), "has no image tagged other"));
	/* No layout at all. */
	path_of(lay, sizeof(lay), "nothing-here");
	assert_int_equal(mkdir(lay, 0755), 0);
	assert_int_equal(rpl_push(lay, "latest", ref, digest), -ENOENT);
	registry_stop(&g);
	assert_int_equal(g.nreq, 0);
}

static void test_layout_errors(void **state)
{
	struct registry g;
	struct image im;
	char lay[512], ref[256], digest[80], path[1024], text[1024];

	(void)state;
	single_layout("lay", &im);
	path_of(lay, sizeof(lay), "lay");
	registry_start(&g);
	ref_of(ref, sizeof(ref), &g, "test/app");

	/* A layer the layout lacks. */
	snprintf(path, sizeof(path), "%s/blobs/sha256/%.64s", lay, im.layer + 7);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(rpl_push(lay, "latest", ref, digest), -ENOENT);
	/* The manifest was not put without it. */
	assert_int_equal(count_req(&g, "PUT", "/manifests/"), 0);

	/* A descriptor whose digest could name any file. */
	snprintf(text, sizeof(text),
	         "{\"manifests\": [{\"mediaType\": \"" MT_MANIFEST "\", \"digest\": "
	         "\"sha256:../../etc/passwd\", \"annotations\": "
	         "{\"org.opencontainers.image.ref.name\": \"latest\"}}]}");
	rpl_test_write_file(dir, "lay/index.json", text);
	assert_int_equal(rpl_push(lay, "latest", ref, digest), -RPL_EPARSE);
	assert_non_null(strstr(rpl_errmsg(), "a descriptor with no sha256 digest"));

	/* Not JSON. */
	rpl_test_write_file(dir, "lay/index.json", "{ not json");
	assert_int_equal(rpl_push(lay, "latest", ref, digest), -RPL_EPARSE);
	assert_non_null(strstr(rpl_errmsg(), "index.json is not JSON"));

	/* Something tagged that is not an image. */
	blob("lay", "{\"mediaType\": \"application/vnd.example+json\"}", digest);
	snprintf(text, sizeof(text),
	         "{\"manifests\": [{\"mediaType\": \"application/vnd.example+json\", \"digest\": "
	         "\"%s\", \"annotations\": {\"org.opencontainers.image.ref.name\": \"latest\"}}]}",
	         digest);
	rpl_test_write_file(dir, "lay/index.json", text);
	assert_int_equal(rpl_push(lay, "latest", ref, digest), -RPL_EUSAGE);
	assert_non_null(strstr(rpl_errmsg(), "not an image"));
	registry_stop(&g);
}

static void test_registry_refuses(void **state)
{
	struct registry g;
	struct image im;
	char lay[512], ref[256], digest[80];

	(void)state;
	single_layout("lay", &im);
	path_of(lay, sizeof(lay), "lay");

	registry_start(&g);
	g.refuse_manifest = 1;
	ref_of(ref, sizeof(ref), &g, "test/app");
	assert_int_equal(rpl_push(lay, "latest", ref, digest), -RPL_ELIB);
	registry_stop(&g);
	/* The registry's status and its body, said. */
	assert_non_null(strstr(rpl_errmsg(), "manifest latest: HTTP 400"));
	assert_non_null(strstr(rpl_errmsg(), "MANIFEST_INVALID"));

	registry_start(&g);
	g.refuse_upload = 1;
	ref_of(ref, sizeof(ref), &g, "test/app");
	assert_int_equal(rpl_push(lay, "latest", ref, digest), -RPL_ELIB);
	registry_stop(&g);
	assert_non_null(strstr(rpl_errmsg(), "cannot start an upload (HTTP 403)"));
	assert_int_equal(count_req(&g, "PUT", ""), 0);

	/* Nobody listening any more on that port: no answer at all is -EIO, unlike a refusal. */
	assert_int_equal(rpl_push(lay, "latest", ref, digest), -EIO);
	assert_non_null(strstr(rpl_errmsg(), "push: HEAD http://127.0.0.1:"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
		T(test_single_arch),
		T(test_existing_blobs_and_tag),
		T(test_multi_arch_index),
		T(test_apko_layout),
		T(test_basic_credentials),
		T(test_basic_refused),
		T(test_bearer_token),
		T(test_bearer_without_credentials),
		T(test_location_elsewhere_gets_no_credentials),
		T(test_bad_reference_and_tag),
		T(test_layout_errors),
		T(test_registry_refuses),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
