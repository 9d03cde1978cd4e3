/*
 * The SPDX 2.3 JSON documents ripple writes, in the shape melange and apko
 * write them (reference/melange.md §0 step 9, reference/apko.md §3.10):
 *
 * - a package's own SBOM, `var/lib/db/sbom/<name>-<version>.spdx.json` in
 *   its data section, as melange's SPDX generator makes it: an operating
 *   system element, the apk (purl `pkg:apk/<namespace>/<name>@<version>
 *   ?arch=<arch>`) and the recipe it was built from (`<path>` at the
 *   monorepo's commit, a `pkg:github` purl), the apk DESCRIBED_BY the recipe;
 * - an image's SBOM per arch, as apko makes it: the image (its manifest
 *   digest), its layer and its operating system (from /etc/os-release),
 *   then every installed package's own SBOM merged in (the elements it
 *   describes and what they reach), each CONTAINed by the image;
 * - the image index's SBOM: the index and each arch's image, VARIANT_OF.
 *
 * Nothing in them is random or read from the clock: `created` is
 * SOURCE_DATE_EPOCH (UTC), a package document's namespace is melange's
 * FNV-128a of "apk-<namespace>-<version>", an image document's is apko's
 * fixed one, so the same inputs give the same bytes.  The JSON is written
 * as Go's encoder writes it (two-space indent, `<>&` escaped, a final
 * newline), keys in the order of melange's and apko's structs.
 */
#ifndef RPL_SBOM_H
#define RPL_SBOM_H

#include <stddef.h>
#include <stdint.h>

struct json_t;

/* What the tool of these documents calls itself: "ripple (<version>)". */
extern const char rpl_sbom_tool[];

/*
 * An upstream source that a `fetch` or `git-checkout` step of the package's
 * pipeline brought in, from the step's compiled inputs; melange records it
 * GENERATED_FROM (its SBOMPackageForUpstreamSource).  `index` is the
 * step's place in its pipeline, which melange adds to the element's id.
 */
struct rpl_sbom_source {
	int git;                               /* git-checkout, else fetch */
	const char *uri, *sha256, *sha512;     /* fetch; the checksums may be NULL or "" */
	const char *purl_name, *purl_version;  /* fetch */
	const char *repository, *branch, *tag; /* git-checkout; NULL or "" when not given */
	const char *expected_commit, *type_hint;
	size_t index;
};

struct rpl_sbom_apk {
	const char *name;      /* the (sub)package */
	const char *version;   /* "<version>-r<epoch>" */
	const char *arch;      /* apk arch */
	const char *namespace; /* melange's --namespace: purl namespace and supplier */
	const char *license;   /* the origin's license expression; NULL or "": NOASSERTION */
	const char *copyright; /* the attestations, one a line; NULL or "": NOASSERTION */
	const char *config;    /* the recipe, as a path from the monorepo's root */
	const char *commit;    /* the monorepo's HEAD; NULL or "": "unknown", as melange */
	const char *repo_url;  /* NULL: melange's "https://unknown/unknown/unknown" */
	int64_t created;       /* SOURCE_DATE_EPOCH */
	/* What the package's own pipeline fetched (a subpackage's), then what
	 * the main pipeline did (for every package of the build). */
	const struct rpl_sbom_source *own, *main;
	size_t nown, nmain;
	/* The texts of the origin's `license-path` files, by their `license`
	 * (melange's hasExtractedLicensingInfos), sorted by license here. */
	char *const *license_ids, *const *license_texts;
	size_t nlicense_infos;
};

/* A package's SBOM document; returns the JSON text (malloc'd, ends in "\n"). */
char *rpl_sbom_apk(const struct rpl_sbom_apk *a);

/* Melange's document namespace hash: FNV-128a of "apk-<ns>-<version>", 32 hex digits. */
void rpl_sbom_fnv128a(const void *data, size_t len, char out[33]);

struct rpl_sbom_image {
	const char *name;               /* the image: the purl's name */
	const char *oci_arch, *variant; /* variant may be NULL */
	const char *manifest;           /* "sha256:<hex>" */
	const char *layer;              /* "sha256:<hex>", the compressed layer */
	/* /etc/os-release's ID, NAME and VERSION_ID; NULL when missing. */
	const char *os_id, *os_name, *os_version;
	const char *vcs_url; /* the config's vcs-url, or NULL: a SOURCE element, GENERATED_FROM */
	int64_t created;
	/* The installed packages' own SBOM documents, in install order; a
	 * document that is not SPDX JSON is skipped, as apko skips it. */
	const char *const *docs;
	const size_t *lens;
	size_t ndocs;
};

/* An arch's image SBOM; returns the JSON text (malloc'd, ends in "\n"). */
char *rpl_sbom_image(const struct rpl_sbom_image *im);

/*
 * The image index's SBOM: `index` is the image index (its "manifests" with
 * digests and platforms), `digest` its own "sha256:<hex>", `name` the
 * image's name, `created` the index's RFC 3339 time (its latest arch's),
 * `vcs_url` as for an image.  Returns the JSON text (malloc'd, ends in "\n").
 */
char *rpl_sbom_index(const char *name, const char *digest, const struct json_t *index,
                     const char *os_name, const char *vcs_url, const char *created);

#endif
