/*
 * Pushing an OCI layout's tagged image to a registry over the OCI
 * distribution API (runners/registry.h): for each manifest its blobs (a
 * HEAD first, then a monolithic upload), the manifests by digest, and the
 * image index by tag.
 */
#include "runners/push.h"
#include "common/error.h"
#include "common/file.h"
#include "common/sha256.h"
#include "common/strbuf.h"
#include "common/xalloc.h"
#include "runners/registry.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

static int read_blob(const char *layout, const char *digest, char **data, size_t *len)
{
	char *dir = rpl_path_join(layout, "blobs/sha256"), *path;
	int err;

	if (!rpl_registry_valid_digest(digest)) {
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

static int push_blob(struct rpl_registry *g, const char *layout, const char *digest)
{
	char *data = NULL;
	size_t len;
	int err = rpl_registry_blob_exists(g, digest);

	if (err)
		return err < 0 ? err : 0; /* there already */
	if (!(err = read_blob(layout, digest, &data, &len)))
		err = rpl_registry_blob_upload(g, digest, data, len);
	free(data);
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
static int push_document(struct rpl_registry *g, const char *layout, const char *data, size_t len,
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
		err = rpl_registry_manifest_put(g, ref, media, data, len);
	json_decref(doc);
	return err;
}

int rpl_push(const char *layout, const char *tag, const char *ref, char digest[80])
{
	struct rpl_registry *g;
	const char *slash = strchr(ref, '/'), *colon;
	char *index_text = NULL, *inner_text = NULL, *host, *repo, *rtag;
	size_t len, i;
	json_t *index = NULL, *m, *desc = NULL;
	int err = 0, lockfd = -1, named = 0;

	if (!slash)
		return rpl_error(-RPL_EUSAGE, "push: '%s' is not REGISTRY/REPO[:TAG]", ref);
	host = rpl_xstrndup(ref, (size_t)(slash - ref));
	colon = strrchr(slash, ':');
	repo = colon ? rpl_xstrndup(slash + 1, (size_t)(colon - slash - 1))
	             : rpl_xstrdup(slash + 1);
	rtag = rpl_xstrdup(colon ? colon + 1 : tag);
	g = rpl_registry_new("push", host, repo);

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
			err = push_document(g, layout, inner_text, len,
			                    json_string_value(json_object_get(desc, "mediaType")),
			                    rtag, 0);
		if (!err)
			snprintf(digest, 80, "%s", d);
	} else if (!named && json_array_size(json_object_get(index, "manifests"))) {
		/* apko's layout: index.json is itself the image's index, untagged. */
		unsigned char d[32];
		char hex[65];
		rpl_sha256(index_text, len, d);
		rpl_hex(d, sizeof(d), hex);
		err = push_document(g, layout, index_text, len, MEDIA_INDEX, rtag, 0);
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
	rpl_registry_free(g);
	free(host);
	free(repo);
	free(rtag);
	return err;
}
