/*
 * The OCI distribution API for one repository (runners/registry.h).  Each
 * request is one rpl_http_perform() (common/http.h); a 401 with a Bearer
 * challenge is answered by fetching a token from the realm (with the Basic
 * credentials, if any) and sending the request once more.  A blob download that is
 * redirected elsewhere (a storage backend's signed URL) is followed
 * without the registry's credentials.
 */
#include "runners/registry.h"
#include "common/error.h"
#include "common/http.h"
#include "common/sha256.h"
#include "common/strbuf.h"
#include "common/xalloc.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct rpl_registry {
	const char *what; /* the start of messages */
	char *base;       /* http(s)://host[:port] */
	char *host;       /* as written, for ~/.docker/config.json */
	char *repo;       /* path in the registry */
	char *basic;      /* base64 user:password, or NULL */
	char *token;      /* a bearer token once obtained */
};

/* What is kept of a request's answer. */
struct resp {
	long code;
	struct rpl_strbuf body;
	char *location, *auth, *digest;
};

/* The most body taken from an answer that is neither a blob nor a manifest. */
#define REPLY_MAX (1 << 20)

static void resp_release(struct resp *r)
{
	rpl_strbuf_release(&r->body);
	free(r->location);
	free(r->auth);
	free(r->digest);
	memset(r, 0, sizeof(*r));
}

enum auth { AUTH_NONE, AUTH_REGISTRY, AUTH_BASIC };

/*
 * One request.  AUTH_REGISTRY sends the token or the Basic credentials,
 * AUTH_BASIC the credentials only (to a token realm), AUTH_NONE nothing (a
 * URL on another host, such as an upload location elsewhere).  `max`
 * bounds the body kept (0: REPLY_MAX).  Returns 0 (see r->code), or an
 * error: -EIO for no answer at all, -RPL_EPARSE for a body over `max`.
 */
static int request(const struct rpl_registry *g, enum auth how, const char *method, const char *url,
                   const char *ctype, const void *body, size_t len, size_t max, struct resp *r)
{
	struct rpl_strbuf type = RPL_STRBUF_INIT, auth = RPL_STRBUF_INIT;
	const char *headers[4];
	size_t nh = 0;
	char *what = rpl_strfmt("%s: %s", g->what, method);
	struct rpl_http_req req = {
		.method = method,
		.url = url,
		.headers = headers,
		.body = body,
		.body_len = len,
		.max_bytes = max ? max : REPLY_MAX,
		.what = what,
	};
	struct rpl_http_resp hr;
	int err;

	memset(r, 0, sizeof(*r));
	if (ctype) {
		rpl_strbuf_addf(&type, "Content-Type: %s", ctype);
		headers[nh++] = type.buf;
	}
	if (how == AUTH_REGISTRY && g->token)
		rpl_strbuf_addf(&auth, "Authorization: Bearer %s", g->token);
	else if (how != AUTH_NONE && g->basic)
		rpl_strbuf_addf(&auth, "Authorization: Basic %s", g->basic);
	if (auth.len)
		headers[nh++] = auth.buf;
	headers[nh++] = "Accept: " RPL_MEDIA_OCI_INDEX ", " RPL_MEDIA_OCI_MANIFEST;
	headers[nh] = NULL;
	/* No answer at all is -EIO, unlike an answer that refuses (r->code). */
	err = rpl_http_perform(&req, &hr);
	r->code = hr.status;
	r->body = hr.body;
	rpl_strbuf_init(&hr.body);
	r->location = rpl_http_header(&hr, "Location");
	r->auth = rpl_http_header(&hr, "WWW-Authenticate");
	r->digest = rpl_http_header(&hr, "Docker-Content-Digest");
	rpl_http_resp_release(&hr);
	rpl_strbuf_release(&type);
	rpl_strbuf_release(&auth);
	free(what);
	return err;
}

/*
 * A parameter of a WWW-Authenticate challenge (`Bearer k1="v1",k2=v2`): the
 * list is walked pair by pair, so a key that appears inside another's
 * value (Harbor's realm ends in /service/token) is not mistaken for one.
 */
static char *param(const char *h, const char *key)
{
	const char *p = h + strcspn(h, " "); /* past the scheme */
	size_t kl = strlen(key);

	while (*p) {
		const char *k, *v;
		size_t n, vl;
		p += strspn(p, " ,");
		k = p;
		n = strcspn(p, "=, ");
		if (p[n] != '=')
			break;
		v = p + n + 1;
		if (*v == '"') {
			const char *e = strchr(++v, '"');
			vl = e ? (size_t)(e - v) : strlen(v);
			p = e ? e + 1 : v + vl;
		} else {
			vl = strcspn(v, ",");
			p = v + vl;
		}
		if (n == kl && !strncasecmp(k, key, kl))
			return rpl_xstrndup(v, vl);
	}
	return NULL;
}

/* Whether `url` is on the registry itself (its credentials may go there). */
static int same_origin(const struct rpl_registry *g, const char *url)
{
	size_t n = strlen(g->base);
	return !strncmp(url, g->base, n) && (url[n] == '/' || !url[n]);
}

/* Trades the credentials for a bearer token, as the registry asked. */
static int get_token(struct rpl_registry *g, const char *challenge)
{
	char *realm = param(challenge, "realm"), *service = param(challenge, "service");
	struct rpl_strbuf url = RPL_STRBUF_INIT;
	struct resp r;
	json_t *j;
	int err;

	if (!realm)
		return rpl_error(-RPL_EUSAGE, "%s: the registry wants a token but gives no realm",
		                 g->what);
	{
		char *scope = rpl_strfmt("repository:%s:pull,push", g->repo);
		char *es = rpl_http_escape(scope);
		rpl_strbuf_addf(&url, "%s%cscope=%s", realm, strchr(realm, '?') ? '&' : '?', es);
		if (service) {
			char *sv = rpl_http_escape(service);
			rpl_strbuf_addf(&url, "&service=%s", sv);
			free(sv);
		}
		free(es);
		free(scope);
	}
	err = request(g, AUTH_BASIC, "GET", url.buf, NULL, NULL, 0, 1 << 20, &r);
	if (!err && r.code != 200)
		err = rpl_error(-RPL_EUSAGE, "%s: %s refused a token (HTTP %ld)%s", g->what, realm,
		                r.code,
		                r.code == 401 ? g->basic ? ": the credentials were refused"
		                                         : ": no credentials for this registry in "
		                                           "~/.docker/config.json ($DOCKER_CONFIG)"
		                              : "");
	if (!err) {
		j = json_loadb(r.body.buf ? r.body.buf : "", r.body.len, 0, NULL);
		const char *t = json_string_value(json_object_get(j, "token"));
		if (!t)
			t = json_string_value(json_object_get(j, "access_token"));
		if (t) {
			free(g->token);
			g->token = rpl_xstrdup(t);
		} else
			err = rpl_error(-RPL_EUSAGE, "%s: %s gave no token", g->what, realm);
		json_decref(j);
	}
	resp_release(&r);
	rpl_strbuf_release(&url);
	free(realm);
	free(service);
	return err;
}

/* A request, once more with a token if the registry asks for one. */
static int call(struct rpl_registry *g, const char *method, const char *url, const char *ctype,
                const void *body, size_t len, size_t max, struct resp *r)
{
	enum auth how = same_origin(g, url) ? AUTH_REGISTRY : AUTH_NONE;
	int err = request(g, how, method, url, ctype, body, len, max, r);

	/* Asked for a token, or for a new one (they expire, often in minutes). */
	if (!err && how == AUTH_REGISTRY && r->code == 401 && r->auth &&
	    !strncasecmp(r->auth, "Bearer", 6)) {
		char *challenge = rpl_xstrdup(r->auth);
		resp_release(r);
		err = get_token(g, challenge);
		free(challenge);
		if (!err)
			err = request(g, how, method, url, ctype, body, len, max, r);
	}
	if (!err && r->code == 401)
		err = rpl_error(-RPL_EUSAGE,
		                "%s: %s %s: not authorized (credentials in "
		                "~/.docker/config.json?)",
		                g->what, method, url);
	return err;
}

int rpl_registry_valid_digest(const char *d)
{
	if (!d || strncmp(d, "sha256:", 7) || strlen(d) != 71)
		return 0;
	for (d += 7; *d; d++)
		if (!((*d >= '0' && *d <= '9') || (*d >= 'a' && *d <= 'f')))
			return 0;
	return 1;
}

/* Basic credentials for `host` from ~/.docker/config.json, or NULL. */
static char *credentials(const char *host)
{
	const char *home = getenv("DOCKER_CONFIG");
	struct rpl_strbuf p = RPL_STRBUF_INIT;
	json_t *j, *auths;
	char *out = NULL;

	if (home)
		rpl_strbuf_addf(&p, "%s/config.json", home);
	else
		rpl_strbuf_addf(&p, "%s/.docker/config.json", getenv("HOME") ? getenv("HOME") : "");
	j = json_load_file(p.buf, 0, NULL);
	rpl_strbuf_release(&p);
	auths = json_object_get(j, "auths");
	if (auths) {
		const char *keys[3] = { host, NULL, NULL };
		char https[512];
		snprintf(https, sizeof(https), "https://%s", host);
		keys[1] = https;
		for (int i = 0; i < 2 && !out; i++) {
			const char *a = json_string_value(
			        json_object_get(json_object_get(auths, keys[i]), "auth"));
			if (a)
				out = rpl_xstrdup(a);
		}
	}
	json_decref(j);
	return out;
}

/* Whether host[:port] is this machine: only then is plain http used. */
static int loopback(const char *host)
{
	size_t n;

	if (!strncmp(host, "[::1]", 5))
		return !host[5] || host[5] == ':';
	n = strcspn(host, ":");
	return (n == 9 && (!strncmp(host, "127.0.0.1", 9) || !strncmp(host, "localhost", 9)));
}

struct rpl_registry *rpl_registry_new(const char *what, const char *host, const char *repo)
{
	struct rpl_registry *g = rpl_xcalloc(1, sizeof(*g));
	struct rpl_strbuf b = RPL_STRBUF_INIT;

	g->what = what;
	g->host = rpl_xstrdup(host);
	g->repo = rpl_xstrdup(repo);
	rpl_strbuf_addf(&b, "%s://%s", loopback(host) ? "http" : "https", host);
	g->base = rpl_strbuf_detach(&b);
	g->basic = credentials(host);
	return g;
}

void rpl_registry_free(struct rpl_registry *g)
{
	if (!g)
		return;
	free(g->base);
	free(g->host);
	free(g->repo);
	free(g->basic);
	free(g->token);
	free(g);
}

static int bad_digest(const struct rpl_registry *g, const char *digest)
{
	return rpl_error(-RPL_EPARSE, "%s: '%s' is not a sha256 digest", g->what,
	                 digest ? digest : "");
}

int rpl_registry_blob_exists(struct rpl_registry *g, const char *digest)
{
	struct rpl_strbuf url = RPL_STRBUF_INIT;
	struct resp r;
	int err;

	if (!rpl_registry_valid_digest(digest))
		return bad_digest(g, digest);
	rpl_strbuf_addf(&url, "%s/v2/%s/blobs/%s", g->base, g->repo, digest);
	err = call(g, "HEAD", url.buf, NULL, NULL, 0, 0, &r);
	if (!err)
		err = r.code == 200;
	resp_release(&r);
	rpl_strbuf_release(&url);
	return err;
}

int rpl_registry_blob_put(struct rpl_registry *g, const char *digest, const void *data, size_t len)
{
	int err = rpl_registry_blob_exists(g, digest);

	if (err)
		return err < 0 ? err : 0; /* there already */
	return rpl_registry_blob_upload(g, digest, data, len);
}

int rpl_registry_blob_upload(struct rpl_registry *g, const char *digest, const void *data,
                             size_t len)
{
	struct rpl_strbuf url = RPL_STRBUF_INIT;
	struct resp r;
	int err;

	memset(&r, 0, sizeof(r));
	if (!rpl_registry_valid_digest(digest))
		return bad_digest(g, digest);
	rpl_strbuf_addf(&url, "%s/v2/%s/blobs/uploads/", g->base, g->repo);
	if ((err = call(g, "POST", url.buf, NULL, NULL, 0, 0, &r)))
		goto out;
	if (r.code != 202 || !r.location) {
		err = rpl_error(-RPL_ELIB, "%s: %s: cannot start an upload (HTTP %ld)", g->what,
		                url.buf, r.code);
		goto out;
	}
	rpl_strbuf_reset(&url);
	if (r.location[0] == '/')
		rpl_strbuf_addstr(&url, g->base);
	rpl_strbuf_addf(&url, "%s%sdigest=%s", r.location, strchr(r.location, '?') ? "&" : "?",
	                digest);
	resp_release(&r);
	if ((err = call(g, "PUT", url.buf, "application/octet-stream", data, len, 0, &r)))
		goto out;
	/* Two uploads of one blob at once (the empty config of every artifact):
	 * the one that lost finds the blob there. */
	if (r.code != 201 && rpl_registry_blob_exists(g, digest) != 1)
		err = rpl_error(-RPL_ELIB, "%s: blob %s: HTTP %ld", g->what, digest, r.code);
out:
	resp_release(&r);
	rpl_strbuf_release(&url);
	return err;
}

int rpl_registry_blob_get(struct rpl_registry *g, const char *digest, size_t max, char **data,
                          size_t *len)
{
	struct rpl_strbuf url = RPL_STRBUF_INIT;
	struct resp r;
	char got[80];
	int err;

	*data = NULL;
	*len = 0;
	if (!rpl_registry_valid_digest(digest))
		return bad_digest(g, digest);
	rpl_strbuf_addf(&url, "%s/v2/%s/blobs/%s", g->base, g->repo, digest);
	err = call(g, "GET", url.buf, NULL, NULL, 0, max, &r);
	/* A storage backend's own URL: followed once, without the credentials. */
	for (int hops = 0; !err && hops < 4 && r.code >= 300 && r.code < 400 && r.location;
	     hops++) {
		rpl_strbuf_reset(&url);
		if (r.location[0] == '/')
			rpl_strbuf_addstr(&url, g->base);
		rpl_strbuf_addstr(&url, r.location);
		resp_release(&r);
		err = call(g, "GET", url.buf, NULL, NULL, 0, max, &r);
	}
	if (!err && r.code == 404)
		err = rpl_error(-RPL_ENOTFOUND, "%s: %s has no blob %s", g->what, g->repo, digest);
	else if (!err && r.code != 200)
		err = rpl_error(-RPL_ELIB, "%s: blob %s: HTTP %ld", g->what, digest, r.code);
	if (!err) {
		rpl_oci_digest(r.body.buf ? r.body.buf : "", r.body.len, got);
		if (strcmp(got, digest))
			err = rpl_error(-RPL_EPARSE, "%s: the blob %s of %s/%s has the digest %s",
			                g->what, digest, g->host, g->repo, got);
	}
	if (!err) {
		*len = r.body.len;
		*data = rpl_strbuf_detach(&r.body);
	}
	resp_release(&r);
	rpl_strbuf_release(&url);
	return err;
}

int rpl_registry_manifest_put(struct rpl_registry *g, const char *ref, const char *media,
                              const void *data, size_t len)
{
	struct rpl_strbuf url = RPL_STRBUF_INIT;
	struct resp r;
	int err;

	rpl_strbuf_addf(&url, "%s/v2/%s/manifests/%s", g->base, g->repo, ref);
	err = call(g, "PUT", url.buf, media, data, len, 1 << 20, &r);
	if (!err && r.code != 201)
		err = rpl_error(-RPL_ELIB, "%s: manifest %s: HTTP %ld: %.200s", g->what, ref,
		                r.code, r.body.buf ? r.body.buf : "");
	resp_release(&r);
	rpl_strbuf_release(&url);
	return err;
}

int rpl_registry_manifest_get(struct rpl_registry *g, const char *ref, size_t max, char **data,
                              size_t *len, char digest[80])
{
	struct rpl_strbuf url = RPL_STRBUF_INIT;
	struct resp r;
	int err;

	*data = NULL;
	*len = 0;
	rpl_strbuf_addf(&url, "%s/v2/%s/manifests/%s", g->base, g->repo, ref);
	err = call(g, "GET", url.buf, NULL, NULL, 0, max, &r);
	if (!err && r.code == 404)
		err = rpl_error(-RPL_ENOTFOUND, "%s: %s/%s has no manifest %s", g->what, g->host,
		                g->repo, ref);
	else if (!err && r.code != 200)
		err = rpl_error(-RPL_ELIB, "%s: manifest %s: HTTP %ld", g->what, ref, r.code);
	if (!err) {
		rpl_oci_digest(r.body.buf ? r.body.buf : "", r.body.len, digest);
		if ((!strncmp(ref, "sha256:", 7) && strcmp(ref, digest)) ||
		    (r.digest && strcmp(r.digest, digest)))
			err = rpl_error(-RPL_EPARSE,
			                "%s: the manifest %s of %s/%s has the digest %s, not %s",
			                g->what, ref, g->host, g->repo, digest,
			                r.digest && strcmp(r.digest, digest) ? r.digest : ref);
	}
	if (!err) {
		*len = r.body.len;
		*data = rpl_strbuf_detach(&r.body);
	}
	resp_release(&r);
	rpl_strbuf_release(&url);
	return err;
}
