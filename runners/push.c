/*
 * Pushing an OCI layout's tagged image to a registry over the OCI
 * distribution API (libcurl): for each manifest its blobs (a HEAD first,
 * then a monolithic upload: POST for a location, PUT with ?digest=), the
 * manifests by digest, and the image index by tag.  Credentials come from
 * ~/.docker/config.json (`auths.<host>.auth`, base64 user:password): sent as
 * Basic, or traded for a bearer token when the registry asks for one
 * (WWW-Authenticate: Bearer realm=...,service=...).  127.0.0.1, localhost
 * and ::1 are spoken to over plain http, anything else over https.
 */
#include "runners/push.h"
#include "common/error.h"
#include "common/file.h"
#include "common/sha256.h"
#include "common/strbuf.h"
#include "common/xalloc.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

struct reg {
	char *base; /* http(s)://host[:port] */
	char *host; /* as written, for ~/.docker/config.json */
	char *repo; /* path in the registry */
	char *tag;
	char *basic; /* base64 user:password, or NULL */
	char *token; /* a bearer token once obtained */
};

struct resp {
	long code;
	struct rpl_strbuf body;
	char *location, *auth, *digest;
};

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
	rpl_strbuf_add(&((struct resp *)ud)->body, p, size * n);
	return size * n;
}

static void header_value(const char *line, size_t len, const char *name, char **out)
{
	size_t n = strlen(name);

	if (len > n + 1 && !strncasecmp(line, name, n) && line[n] == ':') {
		const char *v = line + n + 1;
		size_t vl = len - n - 1;
		while (vl && (*v == ' ' || *v == '\t'))
			v++, vl--;
		while (vl && (v[vl - 1] == '\r' || v[vl - 1] == '\n'))
			vl--;
		free(*out);
		*out = rpl_xstrndup(v, vl);
	}
}

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
	struct resp *r = ud;

	header_value(p, size * n, "Location", &r->location);
	header_value(p, size * n, "WWW-Authenticate", &r->auth);
	header_value(p, size * n, "Docker-Content-Digest", &r->digest);
	return size * n;
}

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
 * URL on another host, such as an upload location elsewhere).  Returns 0
 * (see r->code) or an error for no answer at all.
 */
static int request(const struct reg *g, enum auth how, const char *method, const char *url,
                   const char *ctype, const void *body, size_t len, struct resp *r)
{
	CURL *c = curl_easy_init();
	struct curl_slist *h = NULL;
	char errbuf[CURL_ERROR_SIZE] = "";
	struct rpl_strbuf auth = RPL_STRBUF_INIT;
	CURLcode rc;

	memset(r, 0, sizeof(*r));
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 30L);
	/* A transfer that stalls (under 1 KB/s for a minute) fails instead of hanging. */
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1024L);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, 60L);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "ripple");
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
	if (!strcmp(method, "HEAD"))
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	if (body || !strcmp(method, "PUT") || !strcmp(method, "POST")) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body ? body : "");
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	}
	if (ctype) {
		rpl_strbuf_addf(&auth, "Content-Type: %s", ctype);
		h = curl_slist_append(h, auth.buf);
		rpl_strbuf_reset(&auth);
	}
	if (how == AUTH_REGISTRY && g->token)
		rpl_strbuf_addf(&auth, "Authorization: Bearer %s", g->token);
	else if (how != AUTH_NONE && g->basic)
		rpl_strbuf_addf(&auth, "Authorization: Basic %s", g->basic);
	if (auth.len)
		h = curl_slist_append(h, auth.buf);
	h = curl_slist_append(h, "Accept: application/vnd.oci.image.index.v1+json, "
	                         "application/vnd.oci.image.manifest.v1+json");
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	rc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->code);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	rpl_strbuf_release(&auth);
	if (rc != CURLE_OK)
		return rpl_error(-RPL_ELIB, "push: %s %s: %s", method, url,
		                 *errbuf ? errbuf : curl_easy_strerror(rc));
	return 0;
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
static int same_origin(const struct reg *g, const char *url)
{
	size_t n = strlen(g->base);
	return !strncmp(url, g->base, n) && (url[n] == '/' || !url[n]);
}

/* Trades the credentials for a bearer token, as the registry asked. */
static int get_token(struct reg *g, const char *challenge)
{
	char *realm = param(challenge, "realm"), *service = param(challenge, "service");
	struct rpl_strbuf url = RPL_STRBUF_INIT;
	struct resp r;
	json_t *j;
	int err;

	if (!realm)
		return rpl_error(-RPL_EUSAGE,
		                 "push: the registry wants a token but gives no realm");
	{
		CURL *c = curl_easy_init();
		struct rpl_strbuf scope = RPL_STRBUF_INIT;
		char *es, *sv;
		rpl_strbuf_addf(&scope, "repository:%s:pull,push", g->repo);
		es = curl_easy_escape(c, scope.buf, 0);
		rpl_strbuf_addf(&url, "%s%cscope=%s", realm, strchr(realm, '?') ? '&' : '?', es);
		if (service) {
			sv = curl_easy_escape(c, service, 0);
			rpl_strbuf_addf(&url, "&service=%s", sv);
			curl_free(sv);
		}
		curl_free(es);
		curl_easy_cleanup(c);
		rpl_strbuf_release(&scope);
	}
	err = request(g, AUTH_BASIC, "GET", url.buf, NULL, NULL, 0, &r);
	if (!err && r.code != 200)
		err = rpl_error(-RPL_EUSAGE, "push: %s refused a token (HTTP %ld)%s", realm, r.code,
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
			err = rpl_error(-RPL_EUSAGE, "push: %s gave no token", realm);
		json_decref(j);
	}
	resp_release(&r);
	rpl_strbuf_release(&url);
	free(realm);
	free(service);
	return err;
}

/* A request, once more with a token if the registry asks for one. */
static int call(struct reg *g, const char *method, const char *url, const char *ctype,
                const void *body, size_t len, struct resp *r)
{
	enum auth how = same_origin(g, url) ? AUTH_REGISTRY : AUTH_NONE;
	int err = request(g, how, method, url, ctype, body, len, r);

	/* Asked for a token, or for a new one (they expire, often in minutes). */
	if (!err && how == AUTH_REGISTRY && r->code == 401 && r->auth &&
	    !strncasecmp(r->auth, "Bearer", 6)) {
		char *challenge = rpl_xstrdup(r->auth);
		resp_release(r);
		err = get_token(g, challenge);
		free(challenge);
		if (!err)
			err = request(g, how, method, url, ctype, body, len, r);
	}
	if (!err && r->code == 401)
		err = rpl_error(-RPL_EUSAGE,
		                "push: %s %s: not authorized (credentials in "
		                "~/.docker/config.json?)",
		                method, url);
	return err;
}

/* "sha256:" and 64 lowercase hex digits: nothing else names a file or a URL. */
static int valid_digest(const char *d)
{
	if (!d || strncmp(d, "sha256:", 7) || strlen(d) != 71)
		return 0;
	for (d += 7; *d; d++)
		if (!((*d >= '0' && *d <= '9') || (*d >= 'a' && *d <= 'f')))
			return 0;
	return 1;
}

static int read_blob(const char *layout, const char *digest, char **data, size_t *len)
{
	char *dir = rpl_path_join(layout, "blobs/sha256"), *path;
	int err;

	if (!valid_digest(digest)) {
		free(dir);
		return rpl_error(-RPL_EPARSE, "push: %s: a descriptor with no sha256 digest ('%s')",
		                 layout, digest ? digest : "");
	}
	path = rpl_path_join(dir, digest + 7);
	err = rpl_read_file(path, data, len);
	free(dir);
	free(path);
	return err;
}

static int push_blob(struct reg *g, const char *layout, const char *digest)
{
	struct rpl_strbuf url = RPL_STRBUF_INIT;
	struct resp r;
	char *data = NULL;
	size_t len;
	int err;

	memset(&r, 0, sizeof(r));
	if (!valid_digest(digest)) {
		err = rpl_error(-RPL_EPARSE, "push: %s: a descriptor with no sha256 digest ('%s')",
		                layout, digest ? digest : "");
		goto out;
	}
	rpl_strbuf_addf(&url, "%s/v2/%s/blobs/%s", g->base, g->repo, digest);
	if ((err = call(g, "HEAD", url.buf, NULL, NULL, 0, &r)) || r.code == 200)
		goto out; /* there already */
	resp_release(&r);
	rpl_strbuf_reset(&url);
	rpl_strbuf_addf(&url, "%s/v2/%s/blobs/uploads/", g->base, g->repo);
	if ((err = call(g, "POST", url.buf, NULL, NULL, 0, &r)))
		goto out;
	if (r.code != 202 || !r.location) {
		err = rpl_error(-RPL_ELIB, "push: %s: cannot start an upload (HTTP %ld)", url.buf,
		                r.code);
		goto out;
	}
	rpl_strbuf_reset(&url);
	if (r.location[0] == '/')
		rpl_strbuf_addstr(&url, g->base);
	rpl_strbuf_addf(&url, "%s%sdigest=%s", r.location, strchr(r.location, '?') ? "&" : "?",
	                digest);
	resp_release(&r);
	if ((err = read_blob(layout, digest, &data, &len)) ||
	    (err = call(g, "PUT", url.buf, "application/octet-stream", data, len, &r)))
		goto out;
	if (r.code != 201)
		err = rpl_error(-RPL_ELIB, "push: blob %s: HTTP %ld", digest, r.code);
out:
	resp_release(&r);
	rpl_strbuf_release(&url);
	free(data);
	return err;
}

/* PUTs a manifest or index `data` under `ref` (a tag or its digest). */
static int put_bytes(struct reg *g, const char *data, size_t len, const char *ref,
                     const char *media)
{
	struct rpl_strbuf url = RPL_STRBUF_INIT;
	struct resp r;
	int err;

	rpl_strbuf_addf(&url, "%s/v2/%s/manifests/%s", g->base, g->repo, ref);
	err = call(g, "PUT", url.buf, media, data, len, &r);
	if (!err && r.code != 201)
		err = rpl_error(-RPL_ELIB, "push: manifest %s: HTTP %ld: %.200s", ref, r.code,
		                r.body.buf ? r.body.buf : "");
	resp_release(&r);
	rpl_strbuf_release(&url);
	return err;
}

#define MEDIA_INDEX "application/vnd.oci.image.index.v1+json"
#define MEDIA_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define MEDIA_DOCKER_LIST "application/vnd.docker.distribution.manifest.list.v2+json"
#define MEDIA_DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"

static int is_index(const char *media)
{
	return !strcmp(media, MEDIA_INDEX) || !strcmp(media, MEDIA_DOCKER_LIST);
}

/*
 * Pushes what the manifest or index `data` refers to, children first, then
 * `data` itself under `ref`.  `media` is its descriptor's mediaType, or
 * NULL to take the document's own.  Nested indexes are followed.
 */
static int push_document(struct reg *g, const char *layout, const char *data, size_t len,
                         const char *media, const char *ref, int depth)
{
	json_t *doc = json_loadb(data, len, 0, NULL), *m;
	size_t i;
	int err = 0;

	if (!doc || !json_is_object(doc)) {
		json_decref(doc);
		return rpl_error(-RPL_EPARSE, "push: %s: %s is not a JSON manifest", layout, ref);
	}
	if (!media)
		media = json_string_value(json_object_get(doc, "mediaType"));
	if (!media)
		media = json_object_get(doc, "manifests") ? MEDIA_INDEX : MEDIA_MANIFEST;
	if (is_index(media)) {
		if (depth > 8)
			err = rpl_error(-RPL_EPARSE, "push: %s: image indexes nested too deep",
			                layout);
		json_array_foreach(json_object_get(doc, "manifests"), i, m)
		{
			const char *d = json_string_value(json_object_get(m, "digest"));
			char *child = NULL;
			size_t clen;
			if (err)
				break;
			if (!(err = read_blob(layout, d, &child, &clen)))
				err = push_document(
				        g, layout, child, clen,
				        json_string_value(json_object_get(m, "mediaType")), d,
				        depth + 1);
			free(child);
		}
	} else if (strcmp(media, MEDIA_MANIFEST) && strcmp(media, MEDIA_DOCKER_MANIFEST)) {
		err = rpl_error(-RPL_EUSAGE, "push: %s: %s is a %s, not an image", layout, ref,
		                media);
	} else {
		err = push_blob(g, layout,
		                json_string_value(
		                        json_object_get(json_object_get(doc, "config"), "digest")));
		json_array_foreach(json_object_get(doc, "layers"), i, m)
		{
			if (!err)
				err = push_blob(g, layout,
				                json_string_value(json_object_get(m, "digest")));
		}
	}
	if (!err)
		err = put_bytes(g, data, len, ref, media);
	json_decref(doc);
	return err;
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

int rpl_push(const char *layout, const char *tag, const char *ref, char digest[80])
{
	struct reg g;
	const char *slash = strchr(ref, '/'), *colon;
	char *index_text = NULL, *inner_text = NULL;
	size_t len, i;
	json_t *index = NULL, *m, *desc = NULL;
	int err = 0, lockfd = -1, named = 0;

	memset(&g, 0, sizeof(g));
	if (!slash)
		return rpl_error(-RPL_EUSAGE, "push: '%s' is not REGISTRY/REPO[:TAG]", ref);
	g.host = rpl_xstrndup(ref, (size_t)(slash - ref));
	colon = strrchr(slash, ':');
	g.repo = colon ? rpl_xstrndup(slash + 1, (size_t)(colon - slash - 1))
	               : rpl_xstrdup(slash + 1);
	g.tag = rpl_xstrdup(colon ? colon + 1 : tag);
	g.base = rpl_xmalloc(strlen(g.host) + 16);
	sprintf(g.base, "%s://%s", loopback(g.host) ? "http" : "https", g.host);
	g.basic = credentials(g.host);
	curl_global_init(CURL_GLOBAL_DEFAULT);

	/* The layout's image index for the tag, read and pushed under the layout's
	 * lock: of two arch jobs pushing one image, the last pushes the whole index. */
	{
		char *lp = rpl_path_join(layout, ".lock");
		lockfd = open(lp, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
		free(lp);
		if (lockfd < 0 || flock(lockfd, LOCK_EX) < 0) {
			err = rpl_error(-errno, "push: cannot lock '%s': %s", layout,
			                strerror(errno));
			goto out;
		}
	}
	{
		char *ip = rpl_path_join(layout, "index.json");
		err = rpl_read_file(ip, &index_text, &len);
		free(ip);
		if (err)
			goto out;
	}
	if (!(index = json_loadb(index_text, len, 0, NULL))) {
		err = rpl_error(-RPL_EPARSE, "push: %s/index.json is not JSON", layout);
		goto out;
	}
	/* The image the tag names: an index (multi-arch) or one arch's manifest. */
	json_array_foreach(json_object_get(index, "manifests"), i, m)
	{
		const char *r = json_string_value(json_object_get(
		        json_object_get(m, "annotations"), "org.opencontainers.image.ref.name"));
		named |= r != NULL;
		if (r && !strcmp(r, tag))
			desc = m;
	}
	if (desc) {
		const char *d = json_string_value(json_object_get(desc, "digest"));
		if (!(err = read_blob(layout, d, &inner_text, &len)))
			err = push_document(&g, layout, inner_text, len,
			                    json_string_value(json_object_get(desc, "mediaType")),
			                    g.tag, 0);
		if (!err)
			snprintf(digest, 80, "%s", d);
	} else if (!named && json_array_size(json_object_get(index, "manifests"))) {
		/* apko's layout: index.json is itself the image's index, untagged. */
		unsigned char d[32];
		char hex[65];
		rpl_sha256(index_text, len, d);
		rpl_hex(d, sizeof(d), hex);
		err = push_document(&g, layout, index_text, len, MEDIA_INDEX, g.tag, 0);
		if (!err)
			snprintf(digest, 80, "sha256:%s", hex);
	} else {
		err = rpl_error(-RPL_ENOTFOUND, "push: %s has no image tagged %s", layout, tag);
	}
out:
	if (lockfd >= 0)
		close(lockfd);
	json_decref(index);
	free(index_text);
	free(inner_text);
	free(g.base);
	free(g.host);
	free(g.repo);
	free(g.tag);
	free(g.basic);
	free(g.token);
	return err;
}
