/*
 * The one HTTP client (libcurl) of ripple: index fetches (graph/apkindex.c),
 * source and apk downloads (runners/fetch.c, runners/image.c) and the OCI
 * registry client (runners/registry.c) all go through rpl_http_perform().
 *
 * Every request gets the same guards: libcurl initialised once for the
 * process (thread-safe, no signals, so worker threads may fetch), a
 * connect timeout and a low-speed limit (a stalled transfer fails, a slow
 * but moving one does not), an optional total timeout, a cap on the body
 * enforced on the announced length and on the bytes as they come (a
 * server may lie about or omit Content-Length), and a list of allowed
 * schemes for the URL and for every redirect ("http,https" by default; a
 * file:// URL is never fetched unless asked for).  Messages show URLs only
 * through rpl_http_redact(): no credentials, no query values, and never a
 * request header.
 */
#ifndef RPL_HTTP_H
#define RPL_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "common/strbuf.h"

/* The guards a request gets when it names none (0 in its field). */
#define RPL_HTTP_CONNECT_TIMEOUT 30   /* seconds to connect */
#define RPL_HTTP_LOW_SPEED_LIMIT 1024 /* bytes per second ... */
#define RPL_HTTP_LOW_SPEED_TIME 60    /* ... for this many seconds fails */
#define RPL_HTTP_SCHEMES "http,https"

/*
 * Takes the `n` bytes at `p` of a body as they arrive.  Returns 0, or a
 * negative code (-errno) that stops the transfer and is what
 * rpl_http_perform() returns.
 */
typedef int (*rpl_http_sink_fn)(void *ud, const void *p, size_t n);

struct rpl_http_req {
	const char *method; /* "GET" when NULL; "HEAD" asks for no body */
	const char *url;
	/* "Name: value" lines sent with the request, NULL-terminated, or NULL.
	 * Their values never appear in messages. */
	const char *const *headers;
	/* The request body (PUT, POST): `body_len` bytes, NULL for none. */
	const void *body;
	size_t body_len;
	/* The most bytes of response body taken; 0: no limit. */
	uint64_t max_bytes;
	/* Comma-separated schemes allowed, for the URL and for redirects
	 * ("http,https,ftp"); NULL: RPL_HTTP_SCHEMES. */
	const char *schemes;
	long connect_timeout_s; /* 0: RPL_HTTP_CONNECT_TIMEOUT */
	long low_speed_limit;   /* bytes/s; 0: RPL_HTTP_LOW_SPEED_LIMIT */
	long low_speed_time_s;  /* 0: RPL_HTTP_LOW_SPEED_TIME */
	long timeout_s;         /* the whole transfer; 0: no limit */
	int follow;             /* follow redirects (at most 10) */
	int fail_status;        /* an HTTP status of 400 or more is an error */
	/* Starts each message, before the URL: "cannot fetch" when NULL
	 * ("push: HEAD" gives "push: HEAD <url>: <reason>"). */
	const char *what;
	/* Names what the body is in the message for one over max_bytes
	 * ("an apk": "..., the most an apk may be here"), or NULL. */
	const char *item;
	/* Where the body goes; NULL: into the response's `body`. */
	rpl_http_sink_fn sink;
	void *sink_ud;
};

struct rpl_http_resp {
	long status;             /* the last response's HTTP status, 0 for none */
	struct rpl_strbuf body;  /* the body, unless the request had a sink */
	uint64_t got;            /* bytes of body taken */
	struct rpl_strbuf heads; /* the last response's header lines, as sent */
};

void rpl_http_resp_init(struct rpl_http_resp *r);
void rpl_http_resp_release(struct rpl_http_resp *r);

/*
 * Sends `req` and takes the answer into `resp` (initialised by the call;
 * release it after, whatever the result).  Returns 0 when an answer came
 * (see resp->status; with req->fail_status only one under 400), or an
 * error whose message is "<what> <url>: <reason>" with the URL redacted:
 * -RPL_EUSAGE for a URL whose scheme is not allowed (or a redirect to
 * one), -RPL_ENOTFOUND for HTTP 404 and 410 and -RPL_ELIB for other
 * statuses (with fail_status: "not found (HTTP 404)"), -RPL_EPARSE for a
 * body over max_bytes, the sink's code when it refused bytes, and -EIO
 * when no answer came (no connection, a timeout, a broken transfer).
 */
int rpl_http_perform(const struct rpl_http_req *req, struct rpl_http_resp *resp);

/*
 * The value of the response header `name` (case-insensitive) of the last
 * response, without surrounding blanks, malloc'd; NULL when it has none.
 */
char *rpl_http_header(const struct rpl_http_resp *resp, const char *name);

/*
 * `url` as it may be shown: user:password@ replaced by "***@" and the
 * value of every query parameter by "***" (a signed URL's signature, a
 * token); a fragment is dropped.  Returns a malloc'd string.
 */
char *rpl_http_redact(const char *url);

/* `s` percent-encoded for a URL's query (RFC 3986 unreserved kept), malloc'd. */
char *rpl_http_escape(const char *s);

#endif
