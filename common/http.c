/*
 * The HTTP client (common/http.h): one libcurl easy handle per request,
 * with every guard set on it here so that no caller can forget one.
 */
#include "common/http.h"
#include "common/error.h"
#include "common/strbuf.h"
#include "common/xalloc.h"

#include <curl/curl.h>

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Response headers kept at most: a registry's are a few hundred bytes. */
#define MAX_HEADS (64 << 10)

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_rc;

/* curl_global_init is not thread-safe in older libcurl; it runs exactly once. */
static void global_init(void)
{
	global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

void rpl_http_resp_init(struct rpl_http_resp *r)
{
	memset(r, 0, sizeof(*r));
	rpl_strbuf_init(&r->body);
	rpl_strbuf_init(&r->heads);
}

void rpl_http_resp_release(struct rpl_http_resp *r)
{
	rpl_strbuf_release(&r->body);
	rpl_strbuf_release(&r->heads);
	memset(r, 0, sizeof(*r));
}

char *rpl_http_redact(const char *url)
{
	struct rpl_strbuf sb = RPL_STRBUF_INIT;
	const char *p = url, *auth = strstr(url, "://"), *end, *at = NULL;

	/* The authority: whatever comes before its last '@' is userinfo. */
	if (auth && strcspn(url, "/?#") == (size_t)(auth - url) + 1) {
		auth += 3;
		end = auth + strcspn(auth, "/?#");
		for (const char *q = auth; q < end; q++)
			if (*q == '@')
				at = q;
		rpl_strbuf_add(&sb, url, (size_t)(auth - url));
		if (at) {
			rpl_strbuf_addstr(&sb, "***");
			p = at;
		} else {
			p = auth;
		}
	}
	end = p + strcspn(p, "?#");
	rpl_strbuf_add(&sb, p, (size_t)(end - p));
	/* The query: its keys are kept, every value goes. */
	if (*end == '?') {
		const char *q = end + 1, *qend = q + strcspn(q, "#");

		rpl_strbuf_addch(&sb, '?');
		while (q < qend) {
			size_t n = strcspn(q, "&#");
			const char *eq = memchr(q, '=', n);

			if (eq)
				rpl_strbuf_add(&sb, q, (size_t)(eq - q + 1));
			if (eq ? eq + 1 < q + n : n > 0)
				rpl_strbuf_addstr(&sb, "***");
			q += n;
			if (*q == '&') {
				rpl_strbuf_addch(&sb, '&');
				q++;
			}
		}
	}
	return rpl_strbuf_detach(&sb);
}

char *rpl_http_escape(const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	struct rpl_strbuf sb = RPL_STRBUF_INIT;

	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (isalnum(*p) || *p == '-' || *p == '.' || *p == '_' || *p == '~') {
			rpl_strbuf_addch(&sb, (char)*p);
		} else {
			rpl_strbuf_addch(&sb, '%');
			rpl_strbuf_addch(&sb, hex[*p >> 4]);
			rpl_strbuf_addch(&sb, hex[*p & 15]);
		}
	}
	return rpl_strbuf_detach(&sb);
}

char *rpl_http_header(const struct rpl_http_resp *resp, const char *name)
{
	const char *l = rpl_strbuf_str(&resp->heads);
	size_t n = strlen(name);
	char *out = NULL;

	/* The last of repeated headers wins, as it did for registry.c. */
	for (; *l; l += strcspn(l, "\n"), l += *l == '\n') {
		const char *v, *e;

		if (strncasecmp(l, name, n) || l[n] != ':')
			continue;
		v = l + n + 1;
		e = v + strcspn(v, "\r\n");
		while (v < e && (*v == ' ' || *v == '\t'))
			v++;
		while (e > v && (e[-1] == ' ' || e[-1] == '\t'))
			e--;
		free(out);
		out = rpl_xstrndup(v, (size_t)(e - v));
	}
	return out;
}

/* Whether the scheme of `url` is one of the comma-separated `schemes`. */
static int scheme_allowed(const char *url, const char *schemes)
{
	size_t n = strcspn(url, ":/?#");

	if (!n || strncmp(url + n, "://", 3))
		return 0;
	for (const char *s = schemes; *s;) {
		size_t len = strcspn(s, ",");

		if (len == n && !strncasecmp(s, url, n))
			return 1;
		s += len;
		s += *s == ',';
	}
	return 0;
}

#if LIBCURL_VERSION_NUM < 0x075500
/* The CURLPROTO_ mask of a scheme list, for libcurl before 7.85. */
static long proto_mask(const char *schemes)
{
	static const struct {
		const char *name;
		long bit;
	} protos[] = { { "http", CURLPROTO_HTTP },
		       { "https", CURLPROTO_HTTPS },
		       { "ftp", CURLPROTO_FTP },
		       { "ftps", CURLPROTO_FTPS },
		       { "file", CURLPROTO_FILE } };
	long mask = 0;

	for (const char *s = schemes; *s;) {
		size_t len = strcspn(s, ",");

		for (size_t i = 0; i < sizeof(protos) / sizeof(protos[0]); i++)
			if (strlen(protos[i].name) == len && !strncasecmp(s, protos[i].name, len))
				mask |= protos[i].bit;
		s += len;
		s += *s == ',';
	}
	return mask;
}
#endif

/* "http,https" as a message reads it: "http, https". */
static char *schemes_text(const char *schemes)
{
	struct rpl_strbuf sb = RPL_STRBUF_INIT;

	for (const char *s = schemes; *s; s++)
		if (*s == ',')
			rpl_strbuf_addstr(&sb, ", ");
		else
			rpl_strbuf_addch(&sb, *s);
	return rpl_strbuf_detach(&sb);
}

/* What an HTTP status means, for "<reason> (HTTP <status>)". */
static const char *status_text(long status)
{
	switch (status) {
	case 400:
		return "bad request";
	case 401:
		return "not authorized";
	case 403:
		return "forbidden";
	case 404:
		return "not found";
	case 410:
		return "gone";
	case 429:
		return "too many requests";
	case 502:
		return "bad gateway";
	case 503:
		return "unavailable";
	case 504:
		return "gateway timeout";
	}
	return status >= 500 ? "server error" : "refused";
}

struct xfer {
	const struct rpl_http_req *req;
	struct rpl_http_resp *resp;
	int too_big, sink_err;
};

/* Takes body bytes up to the cap, whatever the server said its length was. */
static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
	struct xfer *x = ud;
	size_t len = size * n;

	if (x->req->max_bytes && len > x->req->max_bytes - x->resp->got) {
		x->too_big = 1;
		return 0; /* curl stops: more than may come */
	}
	x->resp->got += len;
	if (x->req->sink) {
		if ((x->sink_err = x->req->sink(x->req->sink_ud, p, len)))
			return 0;
	} else {
		rpl_strbuf_add(&x->resp->body, p, len);
	}
	return len;
}

/* Keeps the header lines of the last response (a redirect's or a 100's are dropped). */
static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
	struct xfer *x = ud;
	size_t len = size * n;

	if (len >= 5 && !strncmp(p, "HTTP/", 5))
		rpl_strbuf_reset(&x->resp->heads);
	if (x->resp->heads.len + len <= MAX_HEADS)
		rpl_strbuf_add(&x->resp->heads, p, len);
	return len;
}

/*
 * The message and code of a failed transfer.  `rc` is curl's result,
 * `errbuf` its words for it.
 */
static int failure(const struct rpl_http_req *req, const char *lead, const char *shown,
                   const char *schemes, CURLcode rc, const char *errbuf, const struct xfer *x)
{
	char lim[32];

	if (x->too_big || rc == CURLE_FILESIZE_EXCEEDED) {
		if (req->item)
			return rpl_error(-RPL_EPARSE,
			                 "%s %s: it is larger than %s, the most %s may be here; "
			                 "refusing it",
			                 lead, shown, rpl_size_text(req->max_bytes, lim),
			                 req->item);
		return rpl_error(-RPL_EPARSE, "%s %s: it is larger than %s; refusing it", lead,
		                 shown, rpl_size_text(req->max_bytes, lim));
	}
	if (x->sink_err)
		return rpl_error(x->sink_err, "%s %s: %s", lead, shown, rpl_strerror(x->sink_err));
	if (rc == CURLE_HTTP_RETURNED_ERROR) {
		long status = x->resp->status;

		return rpl_error(status == 404 || status == 410 ? -RPL_ENOTFOUND : -RPL_ELIB,
		                 "%s %s: %s (HTTP %ld)", lead, shown, status_text(status), status);
	}
	if (rc == CURLE_UNSUPPORTED_PROTOCOL) {
		/* The URL's own scheme was checked: this is where a redirect led. */
		char *list = schemes_text(schemes);
		int err = rpl_error(-RPL_EUSAGE,
		                    "%s %s: redirected to a scheme that is not allowed (only %s)",
		                    lead, shown, list);
		free(list);
		return err;
	}
	/* No answer at all: -EIO, unlike an answer that refuses. */
	return rpl_error(-EIO, "%s %s: %s", lead, shown, *errbuf ? errbuf : curl_easy_strerror(rc));
}

int rpl_http_perform(const struct rpl_http_req *req, struct rpl_http_resp *resp)
{
	const char *method = req->method ? req->method : "GET";
	const char *schemes = req->schemes ? req->schemes : RPL_HTTP_SCHEMES;
	const char *lead = req->what ? req->what : "cannot fetch";
	int head = !strcmp(method, "HEAD");
	char errbuf[CURL_ERROR_SIZE] = "";
	struct xfer x = { req, resp, 0, 0 };
	struct curl_slist *h = NULL;
	char *shown = rpl_http_redact(req->url);
	CURL *c = NULL;
	CURLcode rc;
	int err = 0;

	rpl_http_resp_init(resp);
	if (!scheme_allowed(req->url, schemes)) {
		char *list = schemes_text(schemes);
		err = rpl_error(-RPL_EUSAGE, "%s %s: not an allowed URL (only %s)", lead, shown,
		                list);
		free(list);
		goto out;
	}
	pthread_once(&global_once, global_init);
	if (global_rc != CURLE_OK) {
		err = rpl_error(-RPL_ELIB, "%s %s: %s", lead, shown, curl_easy_strerror(global_rc));
		goto out;
	}
	if (!(c = curl_easy_init())) {
		err = rpl_error(-RPL_ELIB, "%s %s: curl_easy_init failed", lead, shown);
		goto out;
	}
	curl_easy_setopt(c, CURLOPT_URL, req->url);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	/* Timeouts must not use signals: requests run on worker threads too. */
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "ripple");
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT,
	                 req->connect_timeout_s ? req->connect_timeout_s
	                                        : RPL_HTTP_CONNECT_TIMEOUT);
	/* A transfer that stalls fails; one that is slow but moving does not. */
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT,
	                 req->low_speed_limit ? req->low_speed_limit : RPL_HTTP_LOW_SPEED_LIMIT);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME,
	                 req->low_speed_time_s ? req->low_speed_time_s : RPL_HTTP_LOW_SPEED_TIME);
	if (req->timeout_s)
		curl_easy_setopt(c, CURLOPT_TIMEOUT, req->timeout_s);
#if LIBCURL_VERSION_NUM >= 0x075500
	if (curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, schemes) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, schemes) != CURLE_OK) {
		err = rpl_error(-RPL_ELIB, "%s %s: this libcurl cannot speak %s", lead, shown,
		                schemes);
		goto out;
	}
#else
	curl_easy_setopt(c, CURLOPT_PROTOCOLS, proto_mask(schemes));
	curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS, proto_mask(schemes));
#endif
	if (req->follow) {
		curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
		curl_easy_setopt(c, CURLOPT_MAXREDIRS, 10L);
	}
	if (req->fail_status)
		curl_easy_setopt(c, CURLOPT_FAILONERROR, 1L);
	if (head)
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	else if (strcmp(method, "GET"))
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	if (req->body || !strcmp(method, "PUT") || !strcmp(method, "POST")) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, req->body ? req->body : "");
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
	}
	/* A length the server announces is refused before anything comes (a
	 * HEAD's Content-Length is the size of what it did not send). */
	if (req->max_bytes && !head)
		curl_easy_setopt(
		        c, CURLOPT_MAXFILESIZE_LARGE,
		        (curl_off_t)(req->max_bytes > INT64_MAX ? INT64_MAX : req->max_bytes));
	for (const char *const *l = req->headers; l && *l; l++)
		h = curl_slist_append(h, *l);
	if (h)
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &x);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, &x);
	rc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &resp->status);
	if (rc != CURLE_OK || x.too_big || x.sink_err)
		err = failure(req, lead, shown, schemes, rc, errbuf, &x);
out:
	curl_slist_free_all(h);
	if (c)
		curl_easy_cleanup(c);
	free(shown);
	return err;
}
