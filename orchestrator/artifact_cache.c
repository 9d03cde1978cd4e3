/*
 * The artifact cache (orchestrator/artifact_cache.h, docs/distributed.md#the-artifact-cache).
 *
 * The local cache, `.ripple/cache/`, version 1:
 *
 *   blobs/sha256/<hex>   content-addressed files: each artifact manifest and
 *                        each file of an artifact, named by its sha256 (and
 *                        checked against it whenever read)
 *   refs/<key>           "sha256:<hex>\n": the artifact manifest of the job
 *                        whose input hash is <key> (64 hex digits)
 *
 * In a registry the same manifest is tagged <key> in the repository
 * `cache:` names, its layers and its empty config pushed as blobs.  An
 * artifact manifest is an OCI image manifest (ORAS's artifact shape):
 *
 *   { "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
 *     "artifactType": "application/vnd.ripple.job.v1",
 *     "config": <the empty descriptor, application/vnd.oci.empty.v1+json, "{}">,
 *     "layers": [ { "mediaType", "digest", "size",
 *                   "annotations": { "org.opencontainers.image.title": PATH } } ... ],
 *     "annotations": { "ripple.cache.version": "1", "ripple.key": <key>,
 *                      "ripple.job": "KIND NAME ARCH",
 *                      "ripple.manifest": <a native image's manifest digest>,
 *                      "ripple.signer": <key name>, "ripple.signature": <base64> } }
 *
 * PATH is where the file goes, relative to the monorepo root: a package's
 * apks (packages/<arch>/<name>-<version>.apk), a native image's blobs
 * (images/<name>/blobs/sha256/<hex>: its manifest, config and layers) with
 * images/<name>/<arch>.entry.json and sboms/sbom-<arch>.spdx.json, or
 * apko's images/<name>/<arch>.tar.  The signature (RSA PKCS#1 v1.5 over
 * SHA-256, by the key that built the job) covers rpl_cache_statement():
 * the key, the job and every layer's digest, size and path.
 */
#include "orchestrator/artifact_cache.h"
#include "common/error.h"
#include "common/file.h"
#include "common/strbuf.h"
#include "common/xalloc.h"
#include "runners/apkverify.h"
#include "runners/image.h"
#include "runners/registry.h"
#include "runners/repo.h"

#include <errno.h>
#include <jansson.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MEDIA_EMPTY "application/vnd.oci.empty.v1+json"
#define MEDIA_APK "application/vnd.ripple.apk"
#define MEDIA_BLOB "application/vnd.ripple.oci-blob"
#define MEDIA_TAR "application/x-tar"
#define MEDIA_JSON "application/json"
#define TITLE "org.opencontainers.image.title"
#define MAX_MANIFEST ((size_t)4 << 20)
#define MAX_BLOB ((size_t)4 << 30)

struct rpl_cache {
	char *dir, *remote, *host, *repo, *tag;
	const struct rpl_signer *signer;
	char **keys;
	size_t nkeys;
	pthread_mutex_t write_lock; /* temporary names are per process: one writer at a time */
	int remote_down;            /* under write_lock: it did not answer once, so not again */
	pthread_mutex_t empty_lock; /* the empty config blob is pushed by one job, once */
	int empty_pushed;
};

struct rpl_cache *rpl_cache_new(const struct rpl_cache_opts *o)
{
	struct rpl_cache *c = rpl_xcalloc(1, sizeof(*c));

	c->dir = rpl_xstrdup(o->dir ? o->dir : RPL_CACHE_DIR);
	c->tag = rpl_xstrdup(o->tag ? o->tag : "latest");
	if (o->remote && *o->remote) {
		const char *slash = strchr(o->remote, '/');
		c->remote = rpl_xstrdup(o->remote);
		if (slash) {
			c->host = rpl_xstrndup(o->remote, (size_t)(slash - o->remote));
			c->repo = rpl_xstrdup(slash + 1);
		}
	}
	c->signer = o->signer;
	c->keys = rpl_xcalloc(o->nkeys + 1, sizeof(*c->keys));
	for (size_t i = 0; i < o->nkeys; i++)
		c->keys[c->nkeys++] = rpl_xstrdup(o->keys[i]);
	pthread_mutex_init(&c->write_lock, NULL);
	pthread_mutex_init(&c->empty_lock, NULL);
	return c;
}

void rpl_cache_free(struct rpl_cache *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->nkeys; i++)
		free(c->keys[i]);
	free(c->keys);
	free(c->dir);
	free(c->remote);
	free(c->host);
	free(c->repo);
	free(c->tag);
	pthread_mutex_destroy(&c->write_lock);
	pthread_mutex_destroy(&c->empty_lock);
	free(c);
}

int rpl_cache_can_store(const struct rpl_cache *c)
{
	return c->signer != NULL;
}

int rpl_cache_can_fetch(const struct rpl_cache *c)
{
	return c->nkeys > 0;
}

/* ---- small pieces ----------------------------------------------------------------------- */

static void key_hex(const struct rpl_cache_item *it, char out[2 * RPL_SHA256_LEN + 1])
{
	rpl_hex(it->key, RPL_SHA256_LEN, out);
}

/* A native image job: its one output is images/<name>/<arch>.manifest. */
static int native_image(const struct rpl_cache_item *it)
{
	return !strcmp(it->kind, "image") && it->noutputs == 1 &&
	       rpl_str_endswith(it->outputs[0], ".manifest");
}

/* The blob path of `digest` under `dir` (a layout or the cache): dir/blobs/sha256/<hex>. */
static char *blob_path(const char *dir, const char *digest)
{
	struct rpl_strbuf p = RPL_STRBUF_INIT;

	rpl_strbuf_addf(&p, "%s/blobs/sha256/%s", dir, digest + 7);
	return rpl_strbuf_detach(&p);
}

/* Writes `data` to `path` atomically, its directory made first (under the write lock). */
static int put_file(struct rpl_cache *c, const char *path, const void *data, size_t len)
{
	char *dir = rpl_path_dirname(path);
	int err;

	pthread_mutex_lock(&c->write_lock);
	err = rpl_mkdirs(dir);
	if (!err)
		err = rpl_write_file_atomic(path, data, len);
	pthread_mutex_unlock(&c->write_lock);
	free(dir);
	return err;
}

char *rpl_cache_statement(const struct rpl_cache_item *it, const char *manifest,
                          const struct rpl_cache_layer *layers, size_t n)
{
	struct rpl_strbuf s = RPL_STRBUF_INIT;
	char hex[2 * RPL_SHA256_LEN + 1];

	key_hex(it, hex);
	rpl_strbuf_addf(&s, "ripple artifact 1\n%s\n%s %s %s\n%s\n", hex, it->kind, it->name,
	                it->arch, manifest && *manifest ? manifest : "-");
	for (size_t i = 0; i < n; i++)
		rpl_strbuf_addf(&s, "%s %llu %s\n", layers[i].digest,
		                (unsigned long long)layers[i].size, layers[i].title);
	return rpl_strbuf_detach(&s);
}

/* Whether one of the trusted keys verifies `sig` over `text`. */
static int trusted(const struct rpl_cache *c, const char *text, const unsigned char *sig,
                   size_t siglen)
{
	for (size_t i = 0; i < c->nkeys; i++) {
		FILE *f = fopen(c->keys[i], "r");
		EVP_PKEY *k;
		EVP_MD_CTX *md;
		int ok;
		if (!f)
			continue;
		k = PEM_read_PUBKEY(f, NULL, NULL, NULL);
		fclose(f);
		if (!k) {
			ERR_clear_error();
			continue;
		}
		md = EVP_MD_CTX_new();
		ok = EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, k) == 1 &&
		     EVP_DigestVerify(md, sig, siglen, (const unsigned char *)text, strlen(text)) ==
		             1;
		ERR_clear_error();
		EVP_MD_CTX_free(md);
		EVP_PKEY_free(k);
		if (ok)
			return 1;
	}
	return 0;
}

/* ---- one artifact's files ----------------------------------------------------------------- */

struct afile {
	char *title; /* where it goes, root-relative */
	const char *media;
	char digest[80];
	char *data;
	size_t len;
};

struct artifact {
	struct afile *v;
	size_t n, alloc;
	char manifest[80]; /* a native image's manifest digest, or "" */
	size_t manifest_size;
};

static struct afile *add_file(struct artifact *a, const char *title, const char *media)
{
	struct afile *f;

	RPL_ALLOC_GROW(a->v, a->n + 1, a->alloc);
	f = &a->v[a->n++];
	memset(f, 0, sizeof(*f));
	f->title = rpl_xstrdup(title);
	f->media = media;
	return f;
}

static void artifact_release(struct artifact *a)
{
	for (size_t i = 0; i < a->n; i++) {
		free(a->v[i].title);
		free(a->v[i].data);
	}
	free(a->v);
	memset(a, 0, sizeof(*a));
}

/* Reads the file `title` into `f`, with its digest. */
static int read_into(struct afile *f)
{
	int err = rpl_read_file(f->title, &f->data, &f->len);

	if (!err)
		rpl_oci_digest(f->data, f->len, f->digest);
	return err;
}

/*
 * The files of a native image's layout besides its blobs that its assembly
 * wrote for this arch: what its index entry was made from, and its SBOM.
 * rpl_image_layout_add makes the index from the first.  `k`: 0 or 1.
 */
#define IMAGE_EXTRAS 2
static char *image_extra(const char *layout, const char *arch, int k)
{
	struct rpl_strbuf t = RPL_STRBUF_INIT;
	char *p;

	rpl_strbuf_addf(&t, k == 0 ? "%s.entry.json" : "sboms/sbom-%s.spdx.json", arch);
	p = rpl_path_join(layout, t.buf);
	rpl_strbuf_release(&t);
	return p;
}

/* The digests a native image manifest names: its config's, then its layers'. */
static int manifest_refs(const char *data, size_t len, const char *what, char ***out, size_t *n)
{
	json_t *m = json_loadb(data, len, 0, NULL), *l;
	const char *d = json_string_value(json_object_get(json_object_get(m, "config"), "digest"));
	size_t i;
	int err = 0;

	*out = NULL;
	*n = 0;
	if (!m || !rpl_registry_valid_digest(d)) {
		json_decref(m);
		return rpl_error(-RPL_EPARSE, "%s: not an image manifest with a sha256 config",
		                 what);
	}
	*out = rpl_xcalloc(json_array_size(json_object_get(m, "layers")) + 2, sizeof(**out));
	(*out)[(*n)++] = rpl_xstrdup(d);
	json_array_foreach(json_object_get(m, "layers"), i, l)
	{
		d = json_string_value(json_object_get(l, "digest"));
		if (!rpl_registry_valid_digest(d)) {
			err = rpl_error(-RPL_EPARSE, "%s: a layer with no sha256 digest", what);
			break;
		}
		(*out)[(*n)++] = rpl_xstrdup(d);
	}
	json_decref(m);
	return err;
}

static void refs_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* A built job's files, read from where it wrote them. */
static int collect(struct rpl_cache *c, const struct rpl_cache_item *it, struct artifact *a)
{
	int err = 0;

	memset(a, 0, sizeof(*a));
	if (native_image(it)) {
		char *layout = rpl_path_dirname(it->outputs[0]), *text, *mpath, **refs = NULL;
		size_t len, nrefs = 0;
		struct afile *m;
		if ((err = rpl_read_file(it->outputs[0], &text, &len))) {
			free(layout);
			return err;
		}
		snprintf(a->manifest, sizeof(a->manifest), "%.*s", (int)strcspn(text, "\n"), text);
		free(text);
		if (!rpl_registry_valid_digest(a->manifest)) {
			err = rpl_error(-RPL_EPARSE, "'%s' names no manifest digest",
			                it->outputs[0]);
			goto image_out;
		}
		mpath = blob_path(layout, a->manifest);
		m = add_file(a, mpath, MEDIA_BLOB);
		free(mpath);
		if ((err = read_into(m)))
			goto image_out;
		a->manifest_size = m->len;
		if (strcmp(m->digest, a->manifest)) {
			err = rpl_error(-RPL_EPARSE, "'%s' is not its digest", m->title);
			goto image_out;
		}
		if ((err = manifest_refs(m->data, m->len, m->title, &refs, &nrefs)))
			goto image_out;
		for (size_t i = 0; i < nrefs && !err; i++) {
			char *p = blob_path(layout, refs[i]);
			struct afile *f = add_file(a, p, MEDIA_BLOB);
			free(p);
			if (!(err = read_into(f)) && strcmp(f->digest, refs[i]))
				err = rpl_error(-RPL_EPARSE, "'%s' is not its digest", f->title);
		}
		for (int k = 0; k < IMAGE_EXTRAS && !err; k++) {
			char *p = image_extra(layout, it->arch, k);
			err = read_into(add_file(a, p, MEDIA_JSON));
			free(p);
		}
	image_out:
		refs_free(refs, nrefs);
		free(layout);
		return err;
	}
	(void)c;
	for (size_t i = 0; i < it->noutputs && !err; i++)
		err = read_into(add_file(a, it->outputs[i],
		                         !strcmp(it->kind, "package") ? MEDIA_APK : MEDIA_TAR));
	return err;
}

/* ---- storing ------------------------------------------------------------------------------ */

static char *b64(const unsigned char *p, size_t n)
{
	char *out = rpl_xmalloc(4 * ((n + 2) / 3) + 1);

	EVP_EncodeBlock((unsigned char *)out, p, (int)n);
	return out;
}

/* The artifact manifest of `a`, signed. */
static int manifest_of(struct rpl_cache *c, const struct rpl_cache_item *it,
                       const struct artifact *a, char **out)
{
	struct rpl_cache_layer *ls = rpl_xcalloc(a->n + 1, sizeof(*ls));
	json_t *m = json_object(), *layers = json_array(), *ann = json_object(), *cfg;
	char hex[2 * RPL_SHA256_LEN + 1], empty[80], job[512], *text, *sig64;
	unsigned char *sig = NULL;
	size_t siglen;
	int err;

	for (size_t i = 0; i < a->n; i++) {
		json_t *l = json_object();
		ls[i] = (struct rpl_cache_layer){ a->v[i].title, a->v[i].digest, a->v[i].len };
		json_object_set_new(l, "mediaType", json_string(a->v[i].media));
		json_object_set_new(l, "digest", json_string(a->v[i].digest));
		json_object_set_new(l, "size", json_integer((json_int_t)a->v[i].len));
		json_object_set_new(l, "annotations", json_pack("{s:s}", TITLE, a->v[i].title));
		json_array_append_new(layers, l);
	}
	text = rpl_cache_statement(it, a->manifest, ls, a->n);
	err = rpl_signer_sign(c->signer, text, strlen(text), &sig, &siglen);
	free(text);
	free(ls);
	if (err) {
		json_decref(m);
		json_decref(layers);
		json_decref(ann);
		return err;
	}
	sig64 = b64(sig, siglen);
	free(sig);
	key_hex(it, hex);
	snprintf(job, sizeof(job), "%s %s %s", it->kind, it->name, it->arch);
	rpl_oci_digest("{}", 2, empty);
	json_object_set_new(ann, "ripple.cache.version", json_string("1"));
	json_object_set_new(ann, "ripple.key", json_string(hex));
	json_object_set_new(ann, "ripple.job", json_string(job));
	if (*a->manifest)
		json_object_set_new(ann, "ripple.manifest", json_string(a->manifest));
	if (it->seconds > 0) {
		char secs[32];
		snprintf(secs, sizeof(secs), "%.3f", it->seconds);
		json_object_set_new(ann, "ripple.seconds", json_string(secs));
	}
	json_object_set_new(ann, "ripple.signer", json_string(c->signer->name));
	json_object_set_new(ann, "ripple.signature", json_string(sig64));
	free(sig64);
	cfg = json_pack("{s:s,s:s,s:i}", "mediaType", MEDIA_EMPTY, "digest", empty, "size", 2);
	json_object_set_new(m, "schemaVersion", json_integer(2));
	json_object_set_new(m, "mediaType", json_string(RPL_MEDIA_OCI_MANIFEST));
	json_object_set_new(m, "artifactType", json_string(RPL_CACHE_ARTIFACT_TYPE));
	json_object_set_new(m, "config", cfg);
	json_object_set_new(m, "layers", layers);
	json_object_set_new(m, "annotations", ann);
	*out = json_dumps(m, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(m);
	return 0;
}

/* Puts the artifact's files and its manifest into the local cache, then its ref. */
static int store_local(struct rpl_cache *c, const struct rpl_cache_item *it,
                       const struct artifact *a, const char *manifest, size_t mlen)
{
	char hex[2 * RPL_SHA256_LEN + 1], mdigest[80], *p;
	struct rpl_strbuf ref = RPL_STRBUF_INIT, line = RPL_STRBUF_INIT;
	int err = 0;

	for (size_t i = 0; i < a->n && !err; i++) {
		p = blob_path(c->dir, a->v[i].digest);
		err = put_file(c, p, a->v[i].data, a->v[i].len);
		free(p);
	}
	rpl_oci_digest(manifest, mlen, mdigest);
	if (!err) {
		p = blob_path(c->dir, mdigest);
		err = put_file(c, p, manifest, mlen);
		free(p);
	}
	key_hex(it, hex);
	rpl_strbuf_addf(&ref, "%s/refs/%s", c->dir, hex);
	rpl_strbuf_addf(&line, "%s\n", mdigest);
	if (!err)
		err = put_file(c, ref.buf, line.buf, line.len);
	rpl_strbuf_release(&ref);
	rpl_strbuf_release(&line);
	return err;
}

static int store_remote(struct rpl_cache *c, const struct rpl_cache_item *it,
                        const struct artifact *a, const char *manifest, size_t mlen)
{
	struct rpl_registry *g = rpl_registry_new("cache", c->host, c->repo);
	char hex[2 * RPL_SHA256_LEN + 1], empty[80];
	int err = 0;

	/* Every artifact's config: uploads of one blob at once race in some
	 * registries (docker-registry may then not know it), so one job does it. */
	rpl_oci_digest("{}", 2, empty);
	pthread_mutex_lock(&c->empty_lock);
	if (!c->empty_pushed && !(err = rpl_registry_blob_put(g, empty, "{}", 2)))
		c->empty_pushed = 1;
	pthread_mutex_unlock(&c->empty_lock);
	for (size_t i = 0; i < a->n && !err; i++)
		err = rpl_registry_blob_put(g, a->v[i].digest, a->v[i].data, a->v[i].len);
	key_hex(it, hex);
	if (!err)
		err = rpl_registry_manifest_put(g, hex, RPL_MEDIA_OCI_MANIFEST, manifest, mlen);
	rpl_registry_free(g);
	return err;
}

/* Whether there is a registry to ask, which has not failed to answer in this run. */
static int remote_up(struct rpl_cache *c)
{
	int up;

	pthread_mutex_lock(&c->write_lock);
	up = c->host && !c->remote_down;
	pthread_mutex_unlock(&c->write_lock);
	return up;
}

int rpl_cache_store(struct rpl_cache *c, const struct rpl_cache_item *it)
{
	struct artifact a;
	char *manifest = NULL;
	int err;

	if (!c->signer)
		return 0;
	if (!(err = collect(c, it, &a)) && !(err = manifest_of(c, it, &a, &manifest)))
		err = store_local(c, it, &a, manifest, strlen(manifest));
	if (!err && remote_up(c) && (err = store_remote(c, it, &a, manifest, strlen(manifest))) &&
	    err == -EIO) {
		pthread_mutex_lock(&c->write_lock);
		c->remote_down = 1;
		pthread_mutex_unlock(&c->write_lock);
		err = rpl_error_prefix(err, "cache: %s is not stored into again in this run",
		                       c->remote);
	}
	if (err)
		err = rpl_error_prefix(err, "cache: %s %s %s not stored", it->kind, it->name,
		                       it->arch);
	free(manifest);
	artifact_release(&a);
	return err;
}

/* ---- fetching ----------------------------------------------------------------------------- */

/* Where an artifact comes from: the local cache (g NULL) or a registry. */
struct source {
	struct rpl_cache *c;
	struct rpl_registry *g;
	const char *name; /* "local" or REGISTRY/REPO */
};

/* A blob of the local cache, checked against its name. */
static int local_blob(struct rpl_cache *c, const char *digest, size_t max, char **data, size_t *len)
{
	char *p, got[80];
	int err;

	if (!rpl_registry_valid_digest(digest))
		return rpl_error(-RPL_EPARSE, "cache: '%s' is not a sha256 digest", digest);
	p = blob_path(c->dir, digest);
	err = rpl_read_file_max(p, max, data, len);
	if (err == -ENOENT)
		err = rpl_error(-RPL_ENOTFOUND, "cache: '%s' is missing", p);
	if (!err) {
		rpl_oci_digest(*data, *len, got);
		if (strcmp(got, digest)) {
			err = rpl_error(-RPL_EPARSE,
			                "cache: '%s' is not what its name says (sha256 %s)", p,
			                got + 7);
			free(*data);
			*data = NULL;
		}
	}
	free(p);
	return err;
}

static int src_blob(struct source *s, const char *digest, size_t max, char **data, size_t *len)
{
	if (s->g)
		return rpl_registry_blob_get(s->g, digest, max, data, len);
	return local_blob(s->c, digest, max, data, len);
}

/* The artifact manifest of `hex`: 0, -RPL_ENOTFOUND when there is none, or an error. */
static int src_manifest(struct source *s, const char *hex, char **data, size_t *len,
                        char digest[80])
{
	struct rpl_strbuf ref = RPL_STRBUF_INIT;
	char *text;
	size_t tl;
	int err;

	if (s->g)
		return rpl_registry_manifest_get(s->g, hex, MAX_MANIFEST, data, len, digest);
	rpl_strbuf_addf(&ref, "%s/refs/%s", s->c->dir, hex);
	err = rpl_read_file_max(ref.buf, 256, &text, &tl);
	if (err == -ENOENT)
		err = -RPL_ENOTFOUND;
	if (!err) {
		snprintf(digest, 80, "%.*s", (int)strcspn(text, "\n"), text);
		free(text);
		err = local_blob(s->c, digest, MAX_MANIFEST, data, len);
		if (err == -RPL_ENOTFOUND)
			err = rpl_error(-RPL_EPARSE, "cache: '%s' names %s, which is missing",
			                ref.buf, digest);
	}
	rpl_strbuf_release(&ref);
	return err;
}

static int in_list(char *const *v, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(v[i], s))
			return 1;
	return 0;
}

static int has_title(const struct artifact *a, const char *title)
{
	for (size_t k = 0; k < a->n; k++)
		if (!strcmp(a->v[k].title, title))
			return 1;
	return 0;
}

/* Whether a layer titled `t` is a file the job writes: for a native image, a
 * blob of its layout (`layout`) or one of the layout's other files. */
static int job_file(const struct rpl_cache_item *it, const char *layout, const char *t,
                    const char *digest)
{
	char *p;
	int ok;

	if (!layout)
		return in_list(it->outputs, it->noutputs, t);
	p = blob_path(layout, digest);
	ok = !strcmp(p, t);
	free(p);
	for (int k = 0; !ok && k < IMAGE_EXTRAS; k++) {
		p = image_extra(layout, it->arch, k);
		ok = !strcmp(p, t);
		free(p);
	}
	return ok;
}

/* Each layer of `m` into `a`: a path, digest and size, a file of the job's, each once. */
static int check_layers(const struct rpl_cache_item *it, json_t *m, const char *layout,
                        struct artifact *a)
{
	json_t *l;
	size_t i;

	json_array_foreach(json_object_get(m, "layers"), i, l)
	{
		const char *t = json_string_value(
		        json_object_get(json_object_get(l, "annotations"), TITLE));
		const char *d = json_string_value(json_object_get(l, "digest"));
		json_int_t size = json_integer_value(json_object_get(l, "size"));
		struct afile *f;
		if (!t || !rpl_registry_valid_digest(d) || size < 0)
			return rpl_error(-RPL_EPARSE, "layer %zu has no path, digest or size", i);
		if (!job_file(it, layout, t, d) || has_title(a, t))
			return rpl_error(-RPL_EPARSE,
			                 "layer %zu would write '%s', not a file of the job", i, t);
		f = add_file(a, t, MEDIA_BLOB);
		snprintf(f->digest, sizeof(f->digest), "%s", d);
		f->len = (size_t)size;
	}
	return 0;
}

/* None missing: a native image's layout files (beside its blobs), or every output. */
static int check_whole(const struct rpl_cache_item *it, const char *layout,
                       const struct artifact *a)
{
	int err = 0;

	for (int k = 0; !err && layout && k < IMAGE_EXTRAS; k++) {
		char *p = image_extra(layout, it->arch, k);
		if (!has_title(a, p))
			err = rpl_error(-RPL_EPARSE, "the artifact lacks '%s'", p);
		free(p);
	}
	for (size_t i = 0; !err && !layout && i < it->noutputs; i++)
		if (!has_title(a, it->outputs[i]))
			err = rpl_error(-RPL_EPARSE, "the artifact lacks '%s'", it->outputs[i]);
	return err;
}

/* The base64 signature `sig64` over the artifact's statement, by a trusted key. */
static int check_signature(struct rpl_cache *c, const struct rpl_cache_item *it,
                           const struct artifact *a, const char *sig64, const char *signer)
{
	struct rpl_cache_layer *ls;
	unsigned char *sig;
	size_t n64, siglen;
	char *text;
	int ok, got;

	if (!sig64)
		return rpl_error(-RPL_EPARSE, "the artifact is not signed");
	ls = rpl_xcalloc(a->n + 1, sizeof(*ls));
	for (size_t i = 0; i < a->n; i++)
		ls[i] = (struct rpl_cache_layer){ a->v[i].title, a->v[i].digest, a->v[i].len };
	text = rpl_cache_statement(it, a->manifest, ls, a->n);
	free(ls);
	n64 = strlen(sig64);
	sig = rpl_xmalloc(n64 / 4 * 3 + 3);
	got = EVP_DecodeBlock(sig, (const unsigned char *)sig64, (int)n64);
	siglen = got < 0 ? 0 : (size_t)got;
	for (size_t k = n64; siglen && k > 0 && sig64[k - 1] == '='; k--)
		siglen--;
	ok = siglen && trusted(c, text, sig, siglen);
	free(sig);
	free(text);
	if (!ok)
		return rpl_error(
		        -RPL_EPARSE,
		        "the artifact's signature (by %s) does not verify with any trusted key",
		        signer ? signer : "no key");
	return 0;
}

/*
 * Checks the artifact manifest `m` for `it` and fills `a` with its layers
 * (no data yet): the job and key it says, each layer's digest and path
 * (only where the job writes, each once, none missing) and the signature.
 */
static int check_manifest(struct rpl_cache *c, const struct rpl_cache_item *it, json_t *m,
                          struct artifact *a)
{
	json_t *ann = json_object_get(m, "annotations");
	const char *key = json_string_value(json_object_get(ann, "ripple.key"));
	const char *job = json_string_value(json_object_get(ann, "ripple.job"));
	const char *mdig = json_string_value(json_object_get(ann, "ripple.manifest"));
	const char *sig64 = json_string_value(json_object_get(ann, "ripple.signature"));
	const char *signer = json_string_value(json_object_get(ann, "ripple.signer"));
	const char *type = json_string_value(json_object_get(m, "artifactType"));
	char hex[2 * RPL_SHA256_LEN + 1], want[512], *layout = NULL;
	int err;

	key_hex(it, hex);
	snprintf(want, sizeof(want), "%s %s %s", it->kind, it->name, it->arch);
	if (!json_is_object(m) || !type || strcmp(type, RPL_CACHE_ARTIFACT_TYPE) ||
	    !json_is_array(json_object_get(m, "layers")))
		return rpl_error(-RPL_EPARSE, "not a ripple artifact manifest");
	if (!key || strcmp(key, hex) || !job || strcmp(job, want))
		return rpl_error(-RPL_EPARSE, "the artifact is of '%s' %s, not of '%s' %s",
		                 job ? job : "", key ? key : "", want, hex);
	if (native_image(it)) {
		if (!rpl_registry_valid_digest(mdig))
			return rpl_error(-RPL_EPARSE, "the artifact names no image manifest");
		snprintf(a->manifest, sizeof(a->manifest), "%s", mdig);
		layout = rpl_path_dirname(it->outputs[0]);
	}
	err = check_layers(it, m, layout, a);
	if (!err)
		err = check_whole(it, layout, a);
	free(layout);
	return err ? err : check_signature(c, it, a, sig64, signer);
}

/*
 * The files' bytes, each checked: its digest and size, an apk's signature
 * and data against the trusted keys, a native image's manifest naming
 * exactly blobs of the artifact.
 */
static int check_files(struct source *s, const struct rpl_cache_item *it, struct artifact *a)
{
	int err = 0;

	for (size_t i = 0; i < a->n && !err; i++) {
		struct afile *f = &a->v[i];
		size_t len;
		if ((err = src_blob(s, f->digest, MAX_BLOB, &f->data, &len))) {
			if (err == -RPL_ENOTFOUND)
				err = rpl_error(-RPL_EPARSE, "%s", rpl_errmsg());
			break;
		}
		if (len != f->len)
			err = rpl_error(-RPL_EPARSE, "'%s' is %zu bytes, the manifest says %zu",
			                f->title, len, f->len);
		else if (!strcmp(it->kind, "package"))
			err = rpl_apk_verify(f->data, f->len, f->title, s->c->keys, s->c->nkeys);
	}
	if (!err && *a->manifest) {
		char **refs = NULL;
		size_t nrefs = 0, k = 0;
		while (k < a->n && strcmp(a->v[k].digest, a->manifest))
			k++;
		if (k == a->n)
			err = rpl_error(-RPL_EPARSE, "the image manifest %s is not in the artifact",
			                a->manifest);
		else if (!(err = manifest_refs(a->v[k].data, a->v[k].len, a->v[k].title, &refs,
		                               &nrefs))) {
			a->manifest_size = a->v[k].len;
			for (size_t r = 0; r < nrefs && !err; r++) {
				size_t j = 0;
				while (j < a->n && strcmp(a->v[j].digest, refs[r]))
					j++;
				if (j == a->n)
					err = rpl_error(
					        -RPL_EPARSE,
					        "the image's blob %s is not in the artifact",
					        refs[r]);
			}
		}
		refs_free(refs, nrefs);
	}
	return err;
}

/* Writes the checked files where the job would have, then a native image's index. */
static int put_in_place(struct rpl_cache *c, const struct rpl_cache_item *it,
                        const struct artifact *a)
{
	int err = 0;

	/* An image's manifest last: nothing names a blob before it is there. */
	for (int pass = 0; pass < 2 && !err; pass++)
		for (size_t i = 0; i < a->n && !err; i++)
			if ((pass == 1) == !strcmp(a->v[i].digest, a->manifest))
				err = put_file(c, a->v[i].title, a->v[i].data, a->v[i].len);
	if (!err && native_image(it)) {
		char *layout = rpl_path_dirname(it->outputs[0]);
		pthread_mutex_lock(&c->write_lock);
		err = rpl_image_layout_add(layout, c->tag, it->arch, a->manifest, a->manifest_size);
		pthread_mutex_unlock(&c->write_lock);
		free(layout);
	}
	return err;
}

/* One source: 1 in place, 0 not there, or an error (refused or unreadable). */
static int fetch_from(struct source *s, const struct rpl_cache_item *it, double *seconds)
{
	char hex[2 * RPL_SHA256_LEN + 1], digest[80] = "", *data = NULL;
	struct artifact a;
	size_t len;
	json_t *m = NULL;
	int err;

	memset(&a, 0, sizeof(a));
	key_hex(it, hex);
	err = src_manifest(s, hex, &data, &len, digest);
	if (err == -RPL_ENOTFOUND) {
		rpl_error_clear();
		return 0;
	}
	/* No answer: the registry is left alone for the rest of the run. */
	if (err == -EIO && s->g) {
		pthread_mutex_lock(&s->c->write_lock);
		s->c->remote_down = 1;
		pthread_mutex_unlock(&s->c->write_lock);
		return rpl_error_prefix(err, "cache: cannot read %s (not asked again in this run)",
		                        s->name);
	}
	if (!err && !(m = json_loadb(data, len, 0, NULL)))
		err = rpl_error(-RPL_EPARSE, "not JSON");
	if (!err)
		err = check_manifest(s->c, it, m, &a);
	if (!err)
		err = check_files(s, it, &a);
	/* Fetched from the registry: kept locally for the next time. */
	if (!err && s->g && store_local(s->c, it, &a, data, len))
		rpl_warn("%s (the artifact is used, not kept)", rpl_errmsg());
	if (!err)
		err = put_in_place(s->c, it, &a);
	if (!err) {
		const char *t = json_string_value(
		        json_object_get(json_object_get(m, "annotations"), "ripple.seconds"));
		*seconds = t ? strtod(t, NULL) : 0;
		if (!(*seconds >= 0 && *seconds < 1e9))
			*seconds = 0;
	}
	if (err && *digest)
		err = rpl_error_prefix(err, "cache: %s %s %s: refused the copy in %s (%s)",
		                       it->kind, it->name, it->arch, s->name, digest);
	else if (err)
		err = rpl_error_prefix(err, "cache: %s %s %s: refused the copy in %s", it->kind,
		                       it->name, it->arch, s->name);
	json_decref(m);
	free(data);
	artifact_release(&a);
	return err ? err : 1;
}

int rpl_cache_fetch(struct rpl_cache *c, struct rpl_cache_item *it, const char **where,
                    char **refused)
{
	struct source local = { c, NULL, "local" };
	struct rpl_strbuf why = RPL_STRBUF_INIT;
	int r;

	*where = NULL;
	*refused = NULL;
	if (!c->nkeys)
		return 0;
	it->seconds = 0;
	r = fetch_from(&local, it, &it->seconds);
	if (r < 0)
		rpl_strbuf_addstr(&why, rpl_errmsg());
	if (r <= 0 && remote_up(c)) {
		struct source remote = { c, rpl_registry_new("cache", c->host, c->repo),
			                 c->remote };
		r = fetch_from(&remote, it, &it->seconds);
		if (r < 0)
			rpl_strbuf_addf(&why, "%s%s", why.len ? "; " : "", rpl_errmsg());
		rpl_registry_free(remote.g);
		if (r == 1)
			*where = c->remote;
	} else if (r == 1) {
		*where = "local";
	}
	if (why.len)
		*refused = rpl_strbuf_detach(&why);
	rpl_strbuf_release(&why);
	return r == 1 ? 1 : 0;
}
