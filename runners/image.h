/*
 * The native image assembler: an apko config built into an OCI image
 * without apko (apko's pkg/apk/apk/ and pkg/build/).
 *
 * The repositories' APKINDEXes are read (local directories, or http(s)
 * through the download cache) and their signatures checked against the
 * keyring; the packages are resolved (runners/imgresolve.h) and each apk is
 * checked on read (the control section's SHA-1 against the index's C:, the
 * data section's SHA-256 against `datahash`) and unpacked into an image tree
 * in resolution order, with file conflicts refused unless one package
 * replaces the other; paths resolve inside the tree, and hostile entries
 * (links out of it, hard links to other packages' files, devices) and apks
 * that would unpack past the limit below are refused.  Then apko's
 * skeleton and database (/etc/apk/world, repositories, arch, keys,
 * /usr/lib/apk/db/installed), the accounts
 * (/etc/passwd, /etc/group), /etc/apko.json and the `paths` mutations.  The
 * tree becomes one layer (sorted walk, owners 0:0 unless set, mtimes from
 * the packages and 0 for what the assembler made), with an image config
 * (entrypoint, cmd, env, work-dir, user, stop-signal, annotations, `created`
 * from SOURCE_DATE_EPOCH), a manifest, and an entry for the arch in the
 * image index; all of it written as an OCI layout in `out_dir/<name>/`,
 * tagged so that skopeo and umoci find it.  The same inputs give the same
 * digests.
 */
#ifndef RPL_IMAGE_H
#define RPL_IMAGE_H

#include <stddef.h>
#include <stdint.h>

/*
 * The most the packages of one image may unpack to, together, by default
 * (`--max-image-size`): every byte of their data sections' tar streams,
 * whether installed or not, a copy of the file for each hard link, and
 * their scripts.  The tree is held in memory and the layer is made from it,
 * so this is about what one native-image process may take; an apk that
 * would take more is refused as a decompression bomb.
 */
#define RPL_IMAGE_MAX_SIZE ((uint64_t)4 << 30)

/*
 * The most an APKINDEX.tar.gz may be on disk or over HTTP (runners/repo.c
 * also refuses one that inflates past 256 MiB).  Wolfi's is about 20 MiB.
 */
#define RPL_IMAGE_MAX_INDEX ((uint64_t)256 << 20)

struct rpl_image_opts {
	const char *file;          /* the apko config */
	const char *arch;          /* apk arch */
	const char *out_dir;       /* "images" */
	const char *tag;           /* "latest" */
	char *const *repositories; /* besides the config's */
	size_t nrepositories;
	char *const *keyrings; /* besides the config's */
	size_t nkeyrings;
	const char *cache_dir;     /* downloads */
	int64_t source_date_epoch; /* < 0: $SOURCE_DATE_EPOCH, else 0 */
	char *const *annotations;  /* "KEY:VALUE", over the config's (apko's --annotations) */
	size_t nannotations;
	const char *lockfile;       /* install exactly what this apko.lock.json lists */
	const char *lock_out;       /* record what was installed into this apko.lock.json */
	const char *docker_archive; /* also write the arch's image here as a docker-archive */
	uint64_t max_size;          /* what the packages may unpack to; 0: RPL_IMAGE_MAX_SIZE */
	char digest[80];            /* out: the manifest digest, "sha256:..." */
	char layout[4096];          /* out: the OCI layout written, out_dir/<name> */
};

/* Assembles; progress on stdout.  Returns 0 or an error with a message. */
int rpl_image_build(struct rpl_image_opts *o);

/*
 * Puts the manifest `digest` (`size` bytes) of `arch`, whose blobs are
 * already in `layout`/blobs, into the layout's image index tagged `tag`
 * (under the layout's lock, as an assembly does) and writes
 * `layout`/<arch>.manifest: what the artifact cache does with an image
 * it fetched.  The index's annotations and its SBOM come from
 * `layout`/<arch>.entry.json, which the assembly wrote beside the manifest
 * and the cache keeps with the image's blobs, so the
 * layout is the one the assembly made.  Returns 0 or an error.
 */
int rpl_image_layout_add(const char *layout, const char *tag, const char *arch, const char *digest,
                         size_t size);

#endif
