#include "runners/image.h"
#include "runners/imglock.h"
#include "common/error.h"
#include "common/file.h"
#include "common/http.h"
#include "common/sha256.h"
#include "common/strbuf.h"
#include "common/strmap.h"
#include "common/xalloc.h"
#include "graph/apkindex.h"
#include "recipes/apko.h"
#include "runners/apk.h"
#include "runners/imgresolve.h"
#include "runners/repo.h"
#include "runners/sbom.h"
#include "runners/tar.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

/* apk arch -> OCI architecture and variant. */
static const char *oci_arch(const char *apk, const char **variant)
{
	static const struct {
		const char *apk, *oci, *variant;
	} map[] = {
		{ "x86_64", "amd64", NULL },
		{ "aarch64", "arm64", NULL },
		{ "x86", "386", NULL },
		{ "armhf", "arm", "v6" },
		{ "armv7", "arm", "v7" },
		{ "ppc64le", "ppc64le", NULL },
		{ "riscv64", "riscv64", NULL },
		{ "s390x", "s390x", NULL },
		{ "loongarch64", "loong64", NULL },
	};

	*variant = NULL;
	for (size_t i = 0; i < sizeof(map) / sizeof(*map); i++)
		if (!strcmp(map[i].apk, apk)) {
			*variant = map[i].variant;
			return map[i].oci;
		}
	return apk;
}

/* ---- the image tree -------------------------------------------------------------------- */

/*
 * The tree is a table of nodes keyed by their path in the image, without
 * links: a path that goes through a symlink is resolved component by
 * component before it is looked up or made, as the kernel would resolve it
 * in the container, with the image as its root.  So nothing can be put
 * under a link, and no link leads anywhere but into the tree.
 */
struct node {
	char *path; /* relative, no trailing /, no link in it */
	char type;  /* '0' file, '5' dir, '2' symlink, '3' char device (the assembler's /dev) */
	unsigned mode;
	uint32_t uid, gid;
	int64_t mtime;
	char *link;
	char *data; /* file content */
	size_t size;
	uint8_t sha1[20];
	int pkg; /* index of the package that installed it, -1: the assembler */
	uint32_t major, minor;
};

struct fs {
	struct node *v;
	size_t n, alloc;
	struct rpl_strmap index; /* path -> index + 1 */
	/* What the packages unpack to (see RPL_IMAGE_MAX_SIZE): `used` as their
	 * entries' headers promise it, before it is read; `inflated` as it is
	 * read, which also covers what libarchive reads on its own (extended
	 * headers, skipped entries).  Neither may pass `max`. */
	uint64_t used, inflated, max;
};

/*
 * Counts `n` more bytes into what the packages unpack to, or refuses them
 * when they would take it past the limit: the message names `file`
 * and `what` of it.
 */
static int fs_charge(struct fs *f, uint64_t n, const char *file, const char *what)
{
	char lim[32];

	if (n <= f->max - f->used) {
		f->used += n;
		return 0;
	}
	return rpl_error(-RPL_EPARSE,
	                 "%s: %s would take the image past %s, the most its packages may "
	                 "unpack to (a decompression bomb? --max-image-size raises the limit)",
	                 file, what, rpl_size_text(f->max, lim));
}

/* Links followed in one lookup: Linux's limit (path_resolution(7)), and apko's. */
#define MAX_LINK_HOPS 40

enum { WALK_FOLLOW = 1, WALK_MKDIR = 2 };

/* The node at `path`, a path without links ("" is the root, which has none). */
static struct node *fs_at(struct fs *f, const char *path)
{
	uintptr_t at = (uintptr_t)rpl_strmap_get(&f->index, path);

	return at ? &f->v[at - 1] : NULL;
}

/* A new node at `path` (a path without links, not in the tree yet). */
static struct node *fs_new(struct fs *f, const char *path, char type)
{
	struct node *x;

	RPL_ALLOC_GROW(f->v, f->n + 1, f->alloc);
	x = &f->v[f->n++];
	memset(x, 0, sizeof(*x));
	x->path = rpl_xstrdup(path);
	x->type = type;
	x->pkg = -1;
	rpl_strmap_slot(&f->index, x->path)->value = (void *)(uintptr_t)f->n;
	return x;
}

static void cut(struct rpl_strbuf *b, size_t len)
{
	b->len = len;
	b->buf[len] = '\0';
}

static int walk(struct fs *f, const char *path, struct rpl_strbuf *cur, int flags, int *hops);

/*
 * Follows the link at `cur` (whose directory is its first `at` bytes) into
 * `cur`: where it leads, which must be in the tree, and a directory when the
 * walk goes on (`last` is 0).
 */
static int follow(struct fs *f, struct rpl_strbuf *cur, size_t at, int last, int *hops)
{
	char *where = rpl_xstrdup(cur->buf), *link = rpl_xstrdup(fs_at(f, cur->buf)->link);
	struct node *x;
	int err;

	if (++*hops > MAX_LINK_HOPS) {
		err = rpl_error(-RPL_EPARSE, "too many levels of links (more than %d)",
		                MAX_LINK_HOPS);
		goto out;
	}
	cut(cur, link[0] == '/' ? 0 : at);
	err = walk(f, link, cur, WALK_FOLLOW, hops);
	if (err == -EXDEV)
		err = rpl_error(-RPL_EPARSE,
		                "the link /%s points to %s, which climbs out of the image", where,
		                link);
	else if (err == -ENOENT || (!err && !(x = fs_at(f, cur->buf))))
		err = rpl_error(-RPL_ENOTFOUND,
		                "the link /%s points to %s, which is not in the image", where,
		                link);
	else if (!err && !last && x->type != '5')
		err = rpl_error(-RPL_EPARSE, "/%s is not a directory", cur->buf);
out:
	free(where);
	free(link);
	return err;
}

/*
 * Resolves `path` from `cur` (a path without links: where the walk is)
 * into `cur`, one component at a time.  A link met on the way is followed:
 * an absolute target from the image's root, a relative one from the
 * directory holding the link; `..` goes up one directory, and above the
 * root is -EXDEV (apko's tree has no parent of its root either, and the
 * kernel's would be outside the image).  The last component's link is
 * followed only with WALK_FOLLOW.  A missing directory on the way is made
 * (0755) with WALK_MKDIR, else it is -ENOENT; the last component may be
 * missing.  -EXDEV and -ENOENT come without a message, for the caller to
 * say whose path it was; other errors have one.
 */
static int walk(struct fs *f, const char *path, struct rpl_strbuf *cur, int flags, int *hops)
{
	for (const char *p = path, *next;; p = next) {
		size_t n, at = cur->len;
		struct node *x;
		int last, err = 0;

		while (*p == '/')
			p++;
		if (!*p)
			return 0;
		n = strcspn(p, "/");
		for (next = p + n; *next == '/'; next++)
			;
		last = !*next;
		if (n == 1 && p[0] == '.')
			continue;
		if (n == 2 && p[0] == '.' && p[1] == '.') {
			const char *slash = strrchr(cur->buf, '/');
			if (!at)
				return -EXDEV;
			cut(cur, slash ? (size_t)(slash - cur->buf) : 0);
			continue;
		}
		if (at)
			rpl_strbuf_addch(cur, '/');
		rpl_strbuf_add(cur, p, n);
		x = fs_at(f, cur->buf);
		if (!x && last)
			return 0;
		if (!x && !(flags & WALK_MKDIR))
			return -ENOENT;
		if (!x)
			fs_new(f, cur->buf, '5')->mode = 0755;
		else if (x->type == '2' && (!last || (flags & WALK_FOLLOW)))
			err = follow(f, cur, at, last, hops);
		else if (!last && x->type != '5')
			err = rpl_error(-RPL_EPARSE, "/%s is not a directory", cur->buf);
		if (err)
			return err;
	}
}

/*
 * Where `path` is in the tree: 0 with `out` holding its path without links
 * (its last component may be missing), or an error with a message.
 */
static int fs_resolve(struct fs *f, const char *path, int flags, struct rpl_strbuf *out)
{
	int hops = 0, err;

	rpl_strbuf_reset(out);
	rpl_strbuf_grow(out, 64);
	out->buf[0] = '\0';
	err = walk(f, path, out, flags, &hops);
	if (err == -EXDEV)
		return rpl_error(-RPL_EPARSE, "'%s' climbs out of the image", path);
	if (err == -ENOENT)
		return rpl_error(-RPL_ENOTFOUND, "a directory of '%s' is not in the image", path);
	return err;
}

/* The node `path` names (a link in its last component not followed), or NULL. */
static struct node *fs_get(struct fs *f, const char *path)
{
	struct rpl_strbuf where = RPL_STRBUF_INIT;
	struct node *x = NULL;

	if (!fs_resolve(f, path, 0, &where))
		x = fs_at(f, where.buf);
	rpl_strbuf_release(&where);
	return x;
}

/*
 * The node `path` names (a link in its last component not followed), made
 * of `type` when missing, with its missing parents as 0755 directories.
 * NULL with a message when `path` cannot be reached (it goes through a link
 * that leaves the image, or through a file).
 */
static struct node *fs_put(struct fs *f, const char *path, char type)
{
	struct rpl_strbuf where = RPL_STRBUF_INIT;
	struct node *x = NULL;

	if (!fs_resolve(f, path, WALK_MKDIR, &where)) {
		if (!where.len)
			rpl_error(-RPL_EPARSE, "'%s' is the root of the image", path);
		else if (!(x = fs_at(f, where.buf)))
			x = fs_new(f, where.buf, type);
	}
	rpl_strbuf_release(&where);
	return x;
}

/* fs_put() in what the assembler makes before any package: cannot fail. */
static struct node *fs_made(struct fs *f, const char *path, char type)
{
	struct node *x = fs_put(f, path, type);

	if (!x)
		RPL_BUG(rpl_errmsg());
	return x;
}

/* Gives `x` the content `data` (malloc'd, now the node's). */
static void take_data(struct node *x, char *data, size_t len)
{
	free(x->data);
	x->data = data;
	x->size = len;
	EVP_Digest(data, len, x->sha1, NULL, EVP_sha1(), NULL);
}

static void set_data(struct node *x, const void *data, size_t len)
{
	char *copy = rpl_xmalloc(len ? len : 1);

	memcpy(copy, data, len);
	take_data(x, copy, len);
}

/* Makes `x` a node of `type`, without the content or link of what it was. */
static void set_type(struct node *x, char type)
{
	x->type = type;
	free(x->link);
	x->link = NULL;
	if (type != '0') {
		free(x->data);
		x->data = NULL;
		x->size = 0;
	}
}

/* A file the assembler writes (mtime 0, 0:0), over what was there but a directory. */
static int fs_file(struct fs *f, const char *path, const char *text, size_t len, unsigned mode)
{
	struct node *x = fs_put(f, path, '0');

	if (!x)
		return rpl_error(-RPL_EPARSE, "cannot write /%s: %s", path, rpl_errmsg());
	if (x->type == '5')
		return rpl_error(-RPL_EPARSE, "cannot write /%s: a package made it a directory",
		                 path);
	set_type(x, '0');
	x->mode = mode;
	x->mtime = 0;
	x->pkg = -1;
	set_data(x, text, len);
	return 0;
}

static void fs_release(struct fs *f)
{
	for (size_t i = 0; i < f->n; i++) {
		free(f->v[i].path);
		free(f->v[i].link);
		free(f->v[i].data);
	}
	free(f->v);
	rpl_strmap_release(&f->index);
}

/* ---- packages ---------------------------------------------------------------------------- */

/* An entry of a package's data tar, as its header says (the database records these). */
struct pent {
	char *name;  /* as the package names it */
	char *where; /* where it went in the tree: `name` with its links resolved */
	uint32_t uid, gid;
	unsigned mode; /* permission and special bits */
	int dir;
};

struct ipkg {
	struct rpl_apk apk;
	char *file;         /* the apk: local, or downloaded into the cache */
	const char *url;    /* where it came from, as messages name it */
	struct pent *paths; /* its data tar's entries, for the database */
	size_t npaths, alloc;
};

/*
 * Whether an entry name is one apk-tools installs: relative, without `.`,
 * `..` or empty components and without control characters.
 */
static int safe(const char *name)
{
	if (!name || !*name || name[0] == '/')
		return 0;
	for (const char *p = name;; p++) {
		size_t n = strcspn(p, "/");
		if (!n || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
			return 0;
		for (size_t i = 0; i < n; i++)
			if ((unsigned char)p[i] < 0x20 || p[i] == 0x7f)
				return 0;
		p += n;
		if (!*p)
			return 1;
	}
}

static const char *nz(const char *s)
{
	return s ? s : "";
}

/* Whether `a` replaces `b` (its replaces lists b's name, with or without a version). */
static int replaces(const struct ipkg *a, const struct ipkg *b)
{
	size_t n = strlen(b->apk.pkgname);

	for (size_t i = 0; i < a->apk.nreplaces; i++)
		if (!strncmp(a->apk.replaces[i], b->apk.pkgname, n) &&
		    (!a->apk.replaces[i][n] || strchr("=<>~", a->apk.replaces[i][n])))
			return 1;
	return 0;
}

/* Link targets: the kernel's PATH_MAX, terminator excluded. */
#define MAX_LINK_LEN 4095

/*
 * What an entry of type `t` is when it is not one apko installs
 * (directories, files, symlinks, hard links: every other type is its
 * "unsupported file type"); NULL when it is.  apk-tools would mknod devices
 * and FIFOs, but an image gets its /dev from the assembler, and a device
 * node from a package (a second /dev/mem, a disk) is what a hostile one
 * would ship.
 */
static const char *refused_type(mode_t t)
{
	switch (t) {
	case AE_IFDIR:
	case AE_IFREG:
	case AE_IFLNK:
		return NULL;
	case AE_IFCHR:
		return "a character device";
	case AE_IFBLK:
		return "a block device";
	case AE_IFIFO:
		return "a FIFO";
	case AE_IFSOCK:
		return "a socket";
	default:
		return "an entry of an unknown type";
	}
}

/* Records an entry of a package's data tar, for the database. */
static void add_pent(struct ipkg *pk, const char *name, const char *where, struct archive_entry *e)
{
	RPL_ALLOC_GROW(pk->paths, pk->npaths + 1, pk->alloc);
	pk->paths[pk->npaths++] = (struct pent){ rpl_xstrdup(name),
		                                 rpl_xstrdup(where),
		                                 (uint32_t)archive_entry_uid(e),
		                                 (uint32_t)archive_entry_gid(e),
		                                 archive_entry_perm(e) & 07777u,
		                                 archive_entry_filetype(e) == AE_IFDIR };
}

/*
 * A directory entry of a package: made, or its time updated.  Where the
 * image has a link, the link stays when it leads to a directory (apk-tools
 * and apko keep it too, so that /bin -> usr/bin survives a package that
 * lists bin/).
 */
static int install_dir(struct fs *f, struct ipkg *pk, int at, const char *name, const char *where,
                       struct archive_entry *e)
{
	struct node *x = fs_at(f, where);

	if (x && x->type == '2') {
		struct rpl_strbuf to = RPL_STRBUF_INIT;
		int err = fs_resolve(f, where, WALK_FOLLOW, &to);

		if (err)
			err = rpl_error(err, "%s: /%s: %s", pk->url, name, rpl_errmsg());
		else if (fs_at(f, to.buf)->type != '5')
			err = rpl_error(-RPL_EPARSE,
			                "%s: /%s: a directory in the package, a link to /%s (not a "
			                "directory) in the image",
			                pk->url, name, to.buf);
		rpl_strbuf_release(&to);
		if (err)
			return err;
	} else if (x && x->type != '5') {
		return rpl_error(-RPL_EPARSE,
		                 "%s: /%s: a directory in the package, a file in the image",
		                 pk->url, name);
	} else {
		if (!x) {
			x = fs_new(f, where, '5');
			x->mode = archive_entry_perm(e);
		}
		x->mtime = archive_entry_mtime(e); /* the last installer's time */
		x->pkg = at;
	}
	add_pent(pk, name, where, e);
	return 0;
}

/*
 * The node (its index) that the hard link `name` of the package `at`
 * names: a regular file that the same package put in the tree before it
 * (apk-tools' rule: "no hard link target in archive"), found through the
 * tree's links.  Hard links go into the layer as copies of their file, so
 * none can name a member that the layer lacks or holds later.
 */
static int hardlink_target(struct fs *f, const struct ipkg *pkgs, int at, const char *name,
                           const char *target, size_t *idx)
{
	const struct ipkg *pk = &pkgs[at];
	struct rpl_strbuf where = RPL_STRBUF_INIT;
	struct node *y = NULL;
	int err = 0;

	if (!safe(target))
		err = rpl_error(-RPL_EPARSE,
		                "%s: /%s: the hard link points to %s, outside the image", pk->url,
		                name, target);
	else if ((err = fs_resolve(f, target, 0, &where)))
		err = rpl_error(err, "%s: /%s: the hard link points to %s: %s", pk->url, name,
		                target, rpl_errmsg());
	else if (!(y = fs_at(f, where.buf)))
		err = rpl_error(-RPL_ENOTFOUND,
		                "%s: /%s: the hard link points to %s, which is not in the image",
		                pk->url, name, target);
	else if (y->type != '0')
		err = rpl_error(-RPL_EPARSE,
		                "%s: /%s: the hard link points to %s, which is not a regular file",
		                pk->url, name, target);
	else if (y->pkg != at)
		err = rpl_error(-RPL_EPARSE,
		                "%s: /%s: the hard link points to %s, a file of %s, not of this "
		                "package",
		                pk->url, name, target,
		                y->pkg >= 0 ? pkgs[y->pkg].apk.pkgname : "the assembler");
	else
		*idx = (size_t)(y - f->v);
	rpl_strbuf_release(&where);
	return err;
}

/*
 * The data section of an apk file as libarchive reads it: from its offset
 * to the end of the file, every byte also going into a SHA-256, so that
 * what is installed is what was checked (fetch_apk()) even if the file
 * changed since.  It is inflated here rather than by libarchive's gzip
 * filter so that every byte it inflates to is counted (fs->inflated), the
 * bytes of entries and extended headers that libarchive skips or reads on
 * its own included: past the limit, reading fails.
 */
struct data_reader {
	int fd, eof, over;
	struct fs *f;
	EVP_MD_CTX *md;
	z_stream z;
	int zlive;   /* inflateInit2 done */
	int between; /* at the end of a gzip member */
	int done;    /* past the last member: what follows is no gzip data */
	unsigned char in[65536], out[65536];
};

/* More of the file into r->in (hashed as it comes); 0 at its end, or -errno. */
static int raw_fill(struct data_reader *r)
{
	ssize_t n;

	do
		n = read(r->fd, r->in, sizeof(r->in));
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	EVP_DigestUpdate(r->md, r->in, (size_t)n);
	r->z.next_in = r->in;
	r->z.avail_in = (uInt)n;
	r->eof = !n;
	return 0;
}

static la_ssize_t data_read(struct archive *a, void *ctx, const void **buf)
{
	struct data_reader *r = ctx;
	int rc, err;

	for (;;) {
		size_t n;

		if (!r->z.avail_in && !r->eof && (err = raw_fill(r)) < 0) {
			archive_set_error(a, -err, "%s", strerror(-err));
			return -1;
		}
		if (r->done || (!r->z.avail_in && r->eof))
			return 0; /* a member cut short is the tar's to notice */
		if (r->between) {
			/* Concatenated gzip members read as one stream, as gzip does;
			 * anything else after a member ends the stream, as libarchive's
			 * gzip filter has it. */
			if (r->z.next_in[0] != 0x1f) {
				r->done = 1;
				return 0;
			}
			inflateReset(&r->z);
			r->between = 0;
		}
		r->z.next_out = r->out;
		r->z.avail_out = sizeof(r->out);
		rc = inflate(&r->z, Z_NO_FLUSH);
		if (rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR) {
			archive_set_error(a, EILSEQ, "the data section is not gzip data (%s)",
			                  r->z.msg ? r->z.msg : "zlib error");
			return -1;
		}
		r->between = rc == Z_STREAM_END;
		n = sizeof(r->out) - r->z.avail_out;
		if (n > r->f->max - r->f->inflated) {
			r->over = 1;
			archive_set_error(a, EFBIG, "too large");
			return -1;
		}
		r->f->inflated += n;
		if (n) {
			*buf = r->out;
			return (la_ssize_t)n;
		}
	}
}

/* Reads what libarchive left of the file into the digest and compares. */
static int data_check(struct data_reader *r, const struct ipkg *pk)
{
	uint8_t d[32];
	int err;

	while (!r->eof)
		if ((err = raw_fill(r)) < 0)
			return rpl_error(err, "cannot read '%s': %s", pk->url, strerror(-err));
	EVP_DigestFinal_ex(r->md, d, NULL);
	if (memcmp(d, pk->apk.data_sha256, sizeof(d)))
		return rpl_error(-RPL_EPARSE, "%s: the data section changed while it was read",
		                 pk->url);
	return 0;
}

/* The message for a read of the data section that failed. */
static int data_error(struct archive *a, struct data_reader *r, const struct ipkg *pk)
{
	char lim[32];

	if (r->over)
		return rpl_error(-RPL_EPARSE,
		                 "%s: its data section inflates past %s, the most the image's "
		                 "packages may unpack to (a decompression bomb? --max-image-size "
		                 "raises the limit)",
		                 pk->url, rpl_size_text(r->f->max, lim));
	return rpl_error(-RPL_EPARSE, "cannot read '%s': %s", pk->url, archive_error_string(a));
}

/* One package's data section being installed: what install()'s steps share. */
struct installing {
	struct fs *f;
	struct ipkg *pk, *pkgs; /* the package, and those before it (pkgs[at] is pk) */
	int at;
	struct archive *a;
	struct data_reader *r;
	struct rpl_strbuf where, subject;
	int leading; /* still in the signature and control entries, which come first */
};

/* An entry's name as the tree knows it: no leading "./", no trailing '/' (malloc'd). */
static char *entry_name(struct archive_entry *e)
{
	char *name = rpl_xstrdup(archive_entry_pathname(e) ? archive_entry_pathname(e) : "");
	size_t n = strlen(name);

	while (n && name[n - 1] == '/')
		name[--n] = '\0';
	if (!strncmp(name, "./", 2))
		memmove(name, name + 2, strlen(name + 2) + 1);
	return name;
}

/* What an apk may not hold: an unsafe path, a device or FIFO, a bad symlink. */
static int check_entry(const struct installing *in, const char *name, struct archive_entry *e)
{
	mode_t t = archive_entry_filetype(e);
	const char *hard = archive_entry_hardlink(e), *what, *url = in->pk->url;

	if (!safe(name))
		return rpl_error(-RPL_EPARSE, "%s: refusing the path '%s'", url, name);
	if (!hard && (what = refused_type(t)))
		return rpl_error(-RPL_EPARSE,
		                 "%s: /%s: %s; an apk may hold only directories, files, "
		                 "symlinks and hard links",
		                 url, name, what);
	if (t == AE_IFLNK && (!(what = archive_entry_symlink(e)) || !*what))
		return rpl_error(-RPL_EPARSE, "%s: /%s: a symlink with an empty target", url, name);
	if (t == AE_IFLNK && strlen(what) > MAX_LINK_LEN)
		return rpl_error(-RPL_EPARSE,
		                 "%s: /%s: a symlink whose target is longer than %d bytes", url,
		                 name, MAX_LINK_LEN);
	return 0;
}

/*
 * The entry lands on a path another package installed: *keep says the
 * owner stays (it replaces the newcomer, or the content is identical);
 * else the newcomer takes it when it replaces the owner or shares its
 * origin, and anything else is a file conflict.
 */
static int owned_elsewhere(struct installing *in, struct node *x, struct archive_entry *e,
                           int *keep)
{
	struct ipkg *old = &in->pkgs[x->pkg], *pk = in->pk;

	*keep = 0;
	if (replaces(old, pk)) {
		*keep = 1;
		return 0;
	}
	if (replaces(pk, old) ||
	    !strcmp(old->apk.origin ? old->apk.origin : "", pk->apk.origin ? pk->apk.origin : ""))
		return 0;
	/* Identical content is no conflict: the first stays. */
	if (archive_entry_filetype(e) == AE_IFREG && x->type == '0' &&
	    x->size == (size_t)archive_entry_size(e)) {
		char *buf = rpl_xmalloc(x->size ? x->size : 1);
		uint8_t d[20];
		la_ssize_t got = archive_read_data(in->a, buf, x->size);
		EVP_Digest(buf, x->size, d, NULL, EVP_sha1(), NULL);
		free(buf);
		if (got < 0)
			return data_error(in->a, in->r, pk);
		if ((size_t)got == x->size && !memcmp(d, x->sha1, 20)) {
			*keep = 1;
			return 0;
		}
	}
	return rpl_error(-RPL_EPARSE,
	                 "file conflict: /%s is in both %s and %s (neither replaces the other)",
	                 in->where.buf, old->apk.pkgname, pk->apk.pkgname);
}

/*
 * The node's content from the entry: a symlink's target, a hard link's
 * data (the node `target` of the tree), or a file's bytes read from the
 * archive (`size` of them).
 */
static int fill_node(struct installing *in, struct node *x, const char *name,
                     struct archive_entry *e, la_int64_t size, size_t target)
{
	mode_t t = archive_entry_filetype(e);
	const char *hard = archive_entry_hardlink(e);
	char sz[32];

	if (t == AE_IFLNK) {
		x->type = '2';
		free(x->link);
		x->link = rpl_xstrdup(archive_entry_symlink(e) ? archive_entry_symlink(e) : "");
		EVP_Digest(x->link, strlen(x->link), x->sha1, NULL, EVP_sha1(), NULL);
	} else if (hard) {
		struct node *y = &in->f->v[target];
		set_type(x, '0');
		if (y != x) {
			int err;
			/* A copy in the tree and the layer: it counts as one. */
			rpl_strbuf_reset(&in->subject);
			rpl_strbuf_addf(&in->subject, "/%s (a hard link to %s of %s)", name, hard,
			                rpl_size_text(y->size, sz));
			if ((err = fs_charge(in->f, y->size, in->pk->url, in->subject.buf)))
				return err;
			set_data(x, y->data, y->size);
			x->mode = y->mode; /* one inode */
		}
	} else if (t == AE_IFREG) {
		char *buf = rpl_xmalloc(size > 0 ? (size_t)size : 1);
		la_ssize_t got = size > 0 ? archive_read_data(in->a, buf, (size_t)size) : 0;
		if (got != size) {
			free(buf);
			return got < 0 ? data_error(in->a, in->r, in->pk)
			               : rpl_error(-RPL_EPARSE, "%s: /%s is cut short", in->pk->url,
			                           name);
		}
		x->type = '0';
		free(x->link);
		x->link = NULL;
		take_data(x, buf, (size_t)size);
	}
	return 0;
}

/*
 * One entry of the data section into the tree: charged for what its
 * header promises, checked, placed where its name leads, then its owner
 * and content.  Returns 0 (installed, or skipped) or an error.
 */
static int install_entry(struct installing *in, struct archive_entry *e, const char *name)
{
	struct fs *f = in->f;
	struct ipkg *pk = in->pk;
	const char *hard = archive_entry_hardlink(e);
	la_int64_t size = archive_entry_size(e);
	size_t target = 0;
	struct node *x;
	char sz[32];
	int err, keep;

	/*
	 * What the header promises counts before anything is read or
	 * allocated, installed or not: its block and its content.
	 */
	if (size < 0)
		size = 0;
	rpl_strbuf_reset(&in->subject);
	rpl_strbuf_addf(&in->subject, "/%s (%s)", name, rpl_size_text((uint64_t)size, sz));
	if ((err = fs_charge(f, 512 + (((uint64_t)size + 511) & ~(uint64_t)511), pk->url,
	                     in->subject.buf)))
		return err;
	/* The signature and control entries come first. */
	if (in->leading && name[0] == '.')
		return 0;
	in->leading = 0;
	if ((err = check_entry(in, name, e)))
		return err;
	if ((err = fs_resolve(f, name, WALK_MKDIR, &in->where)))
		return rpl_error(err, "%s: /%s: %s", pk->url, name, rpl_errmsg());
	if (archive_entry_filetype(e) == AE_IFDIR)
		return install_dir(f, pk, in->at, name, in->where.buf, e);
	if (hard && (err = hardlink_target(f, in->pkgs, in->at, name, hard, &target)))
		return err;
	x = fs_at(f, in->where.buf);
	if (x && x->type == '5')
		return rpl_error(-RPL_EPARSE, "%s: /%s is a directory in the image", pk->url,
		                 in->where.buf);
	if (x && x->pkg >= 0 && x->pkg != in->at) {
		if ((err = owned_elsewhere(in, x, e, &keep)) || keep)
			return err;
	}
	add_pent(pk, name, in->where.buf, e);
	if (!x)
		x = fs_new(f, in->where.buf, '0');
	x->mode = archive_entry_perm(e);
	x->mtime = archive_entry_mtime(e);
	x->pkg = in->at;
	return fill_node(in, x, name, e, size, target);
}

/*
 * Unpacks one package's data section (only that: the control section is no
 * part of its files) into the tree.  Each entry goes where its name leads
 * in the tree as it is: through the links of its directories, never out of
 * the image (see walk()).
 */
static int install(struct fs *f, struct ipkg *pk, int at, struct ipkg *pkgs)
{
	struct installing in = {
		f, pk, pkgs, at, archive_read_new(), NULL, RPL_STRBUF_INIT, RPL_STRBUF_INIT, 1
	};
	struct data_reader *r = rpl_xcalloc(1, sizeof(*r));
	struct archive_entry *e;
	char *name = NULL;
	int err = 0, rc = ARCHIVE_OK;

	in.r = r;
	r->f = f;
	r->md = EVP_MD_CTX_new();
	EVP_DigestInit_ex(r->md, EVP_sha256(), NULL);
	r->fd = open(pk->file, O_RDONLY | O_CLOEXEC);
	if (r->fd < 0 || lseek(r->fd, (off_t)pk->apk.data_off, SEEK_SET) < 0) {
		err = rpl_error(-errno, "cannot read '%s': %s", pk->url, strerror(errno));
		goto out;
	}
	if (inflateInit2(&r->z, 15 + 16) != Z_OK) {
		err = rpl_error(-RPL_ELIB, "zlib: cannot start inflating");
		goto out;
	}
	r->zlive = 1;
	archive_read_support_format_tar(in.a);
	if (archive_read_open(in.a, r, NULL, data_read, NULL) != ARCHIVE_OK) {
		err = data_error(in.a, r, pk);
		goto out;
	}
	while ((rc = archive_read_next_header(in.a, &e)) == ARCHIVE_OK) {
		free(name);
		name = entry_name(e);
		if ((err = install_entry(&in, e, name)))
			break;
	}
	if (!err && rc != ARCHIVE_EOF)
		err = data_error(in.a, r, pk);
	if (!err)
		err = data_check(r, pk);
out:
	free(name);
	rpl_strbuf_release(&in.where);
	rpl_strbuf_release(&in.subject);
	archive_read_free(in.a);
	if (r->fd >= 0)
		close(r->fd);
	if (r->zlive)
		inflateEnd(&r->z);
	EVP_MD_CTX_free(r->md);
	free(r);
	return err;
}

/* ---- what apko writes besides the packages (§3.2, §3.3) ------------------------------------ */

static void b64(const uint8_t *d, size_t n, char *out)
{
	EVP_EncodeBlock((unsigned char *)out, d, (int)n);
}

static size_t ncomp(const char *p)
{
	size_t n = 1;
	for (; *p; p++)
		n += *p == '/';
	return n;
}

/*
 * go-apk's pathCompare: a tree walk in which each directory lists its files
 * before its subdirectories, each group bytewise.
 */
static int path_order(const void *pa, const void *pb)
{
	const struct pent *ea = pa, *eb = pb;
	const char *a = ea->name, *b = eb->name;
	size_t na = ncomp(a), nb = ncomp(b);

	for (size_t k = 0;; k++) {
		size_t la = strcspn(a, "/"), lb = strcspn(b, "/");
		int adir = k + 1 < na || ea->dir, bdir = k + 1 < nb || eb->dir, c;
		if (la != lb || memcmp(a, b, la)) {
			if (adir != bdir)
				return adir - bdir;
			c = memcmp(a, b, la < lb ? la : lb);
			return c ? c : (la > lb) - (la < lb);
		}
		if (k + 1 == na || k + 1 == nb)
			return (na > nb) - (na < nb);
		a += la + 1;
		b += lb + 1;
	}
}

/* A package's F:/M:/R:/a:/Z: lines: its entries still its own, in go-apk's order. */
static void write_files(struct fs *f, const struct ipkg *p, size_t at, struct rpl_strbuf *db)
{
	struct pent *e = rpl_xcalloc(p->npaths + 1, sizeof(*e));
	size_t n = 0, lastlen = 0;
	const char *lastdir = NULL;
	char c[64];

	for (size_t k = 0; k < p->npaths; k++) {
		const struct node *x = fs_at(f, p->paths[k].where);
		if (!x || (!p->paths[k].dir && x->pkg != (int)at))
			continue; /* overwritten by a later package */
		e[n++] = p->paths[k];
	}
	qsort(e, n, sizeof(*e), path_order);
	for (size_t k = 0; k < n; k++) {
		const char *slash = strrchr(e[k].name, '/');
		size_t dl = slash ? (size_t)(slash - e[k].name) : 0;
		const struct node *x;
		int listed = !slash;
		/* Orphans (a parent the package does not list) are left out. */
		for (size_t j = 0; j < n && !listed; j++)
			listed = e[j].dir && strlen(e[j].name) == dl &&
			         !memcmp(e[j].name, e[k].name, dl);
		if (!listed)
			continue;
		if (e[k].dir) {
			rpl_strbuf_addf(db, "F:%s\n", e[k].name);
			if (e[k].mode != 0755 || e[k].uid || e[k].gid)
				rpl_strbuf_addf(db, "M:%u:%u:%04o\n", e[k].uid, e[k].gid,
				                e[k].mode);
			lastdir = e[k].name;
			lastlen = strlen(e[k].name);
			continue;
		}
		if (!lastdir || dl != lastlen || strncmp(e[k].name, lastdir, lastlen)) {
			rpl_strbuf_addf(db, "F:%.*s\n", (int)dl, e[k].name);
			lastdir = e[k].name;
			lastlen = dl;
		}
		rpl_strbuf_addf(db, "R:%s\n", slash ? slash + 1 : e[k].name);
		if (e[k].mode != 0644 || e[k].uid || e[k].gid)
			rpl_strbuf_addf(db, "a:%u:%u:%04o\n", e[k].uid, e[k].gid, e[k].mode);
		x = fs_at(f, e[k].where);
		if (x && (x->type == '0' || x->type == '2')) {
			b64(x->sha1, 20, c);
			rpl_strbuf_addf(db, "Z:Q1%s\n", c);
		}
	}
	free(e);
}

/*
 * /usr/lib/apk/db/scripts.tar and triggers, as apk keeps them: each
 * package's scripts (in install order) as `<name>-<version>.Q1<control
 * SHA-1><script>` at SOURCE_DATE_EPOCH, then the end blocks; a line
 * `Q1<control SHA-1> <paths>` per package with triggers.
 */
static int scripts_db(struct fs *f, const struct ipkg *pkgs, size_t n, int64_t sde)
{
	struct rpl_strbuf tar = RPL_STRBUF_INIT, trig = RPL_STRBUF_INIT, name = RPL_STRBUF_INIT;
	static const char end[1024];
	char c[64];
	int err;

	for (size_t i = 0; i < n; i++) {
		const struct rpl_apk *a = &pkgs[i].apk;
		b64(a->control_sha1, 20, c);
		for (size_t k = 0; k < a->nscripts; k++) {
			struct rpl_tar_entry e = { 0 };
			rpl_strbuf_reset(&name);
			rpl_strbuf_addf(&name, "%s-%s.Q1%s%s", a->pkgname, a->pkgver, c,
			                a->scripts[k].name);
			e.name = name.buf;
			e.type = '0';
			e.mode = a->scripts[k].mode;
			e.size = a->scripts[k].len;
			e.mtime = sde;
			e.owner = "root";
			rpl_tar_header(&tar, &e);
			rpl_strbuf_add(&tar, a->scripts[k].data, a->scripts[k].len);
			rpl_tar_pad(&tar, a->scripts[k].len);
		}
		if (a->triggers) {
			const char *p = a->triggers;
			rpl_strbuf_addf(&trig, "Q1%s", c);
			while (*p) {
				size_t w;
				p += strspn(p, " ");
				w = strcspn(p, " ");
				if (w)
					rpl_strbuf_addf(&trig, " %.*s", (int)w, p);
				p += w;
			}
			rpl_strbuf_addch(&trig, '\n');
		}
	}
	rpl_strbuf_add(&tar, end, sizeof(end));
	if (!(err = fs_file(f, "usr/lib/apk/db/scripts.tar", tar.buf, tar.len, 0644)))
		err = fs_file(f, "usr/lib/apk/db/triggers", trig.buf ? trig.buf : "", trig.len,
		              0644);
	rpl_strbuf_release(&tar);
	rpl_strbuf_release(&trig);
	rpl_strbuf_release(&name);
	return err;
}

/* /usr/lib/apk/db/installed: a record per package, in install order. */
static void installed_db(struct fs *f, struct ipkg *pkgs, size_t n, struct rpl_strbuf *db)
{
	for (size_t i = 0; i < n; i++) {
		const struct ipkg *p = &pkgs[i];
		const struct rpl_apk *a = &p->apk;
		char c[64];

		b64(a->control_sha1, 20, c);
		rpl_strbuf_addf(db,
		                "P:%s\nV:%s\nA:%s\nL:%s\nT:%s\no:%s\nm:%s\nU:%s\nD:", a->pkgname,
		                a->pkgver, a->arch ? a->arch : "", a->license ? a->license : "",
		                a->pkgdesc ? a->pkgdesc : "", a->origin ? a->origin : "",
		                a->maintainer ? a->maintainer : "", a->url ? a->url : "");
		for (size_t k = 0; k < a->ndepends; k++)
			rpl_strbuf_addf(db, "%s%s", k ? " " : "", a->depends[k]);
		rpl_strbuf_addstr(db, "\np:");
		for (size_t k = 0; k < a->nprovides; k++)
			rpl_strbuf_addf(db, "%s%s", k ? " " : "", a->provides[k]);
		rpl_strbuf_addch(db, '\n');
		if (a->nreplaces) {
			rpl_strbuf_addstr(db, "r:");
			for (size_t k = 0; k < a->nreplaces; k++)
				rpl_strbuf_addf(db, "%s%s", k ? " " : "", a->replaces[k]);
			rpl_strbuf_addch(db, '\n');
		}
		rpl_strbuf_addf(
		        db, "c:%s\ni:[]\nt:%lld\nS:%llu\nI:%llu\nk:%lld\nC:Q1%s\n",
		        a->commit ? a->commit : "",
		        (long long)(a->builddate > 0 ? a->builddate : 0),
		        (unsigned long long)a->file_size, (unsigned long long)a->installed_size,
		        (long long)(a->provider_priority ? atoll(a->provider_priority) : 0), c);
		write_files(f, p, i, db);
		rpl_strbuf_addch(db, '\n');
	}
}

static void skeleton(struct fs *f, const char *arch)
{
	static const struct {
		const char *path;
		unsigned mode;
	} dirs[] = { { "tmp", 01777 },
		     { "dev", 0755 },
		     { "etc", 0755 },
		     { "opt", 0755 },
		     { "var", 0755 },
		     { "usr", 0755 },
		     { "proc", 0555 },
		     { "etc/apk", 0755 },
		     { "etc/apk/keys", 0755 },
		     { "usr/lib", 0755 },
		     { "usr/lib/apk", 0755 },
		     { "usr/lib/apk/db", 0755 },
		     { "usr/lib/apk/exec", 0755 },
		     { "var/cache", 0755 },
		     { "var/cache/apk", 0755 },
		     { "var/cache/misc", 0755 } };
	static const struct {
		const char *path;
		unsigned mode, major, minor;
	} devs[] = { { "dev/zero", 0666, 1, 5 },
		     { "dev/urandom", 0666, 1, 9 },
		     { "dev/null", 0666, 1, 3 },
		     { "dev/random", 0666, 1, 8 },
		     { "dev/console", 0620, 5, 1 } };
	char zeros[1024] = { 0 };
	struct rpl_strbuf a = RPL_STRBUF_INIT;

	for (size_t i = 0; i < sizeof(dirs) / sizeof(*dirs); i++) {
		struct node *x = fs_made(f, dirs[i].path, '5');
		x->type = '5';
		x->mode = dirs[i].mode;
	}
	for (size_t i = 0; i < sizeof(devs) / sizeof(*devs); i++) {
		struct node *x = fs_made(f, devs[i].path, '3');
		x->mode = devs[i].mode;
		x->major = devs[i].major;
		x->minor = devs[i].minor;
	}
	rpl_strbuf_addf(&a, "%s\n", arch);
	/* In a tree of nothing but the above, these cannot fail. */
	if (fs_file(f, "etc/apk/arch", a.buf, a.len, 0644) ||
	    fs_file(f, "usr/lib/apk/db/lock", "", 0, 0600) ||
	    fs_file(f, "usr/lib/apk/db/triggers", "", 0, 0644) ||
	    fs_file(f, "usr/lib/apk/db/scripts.tar", zeros, sizeof(zeros), 0644))
		RPL_BUG(rpl_errmsg());
	rpl_strbuf_release(&a);
}

/* /etc/passwd and /etc/group: the packages' and the config's accounts. */
static int accounts(struct fs *f, const struct rpl_apko_accounts *acc)
{
	struct rpl_strbuf pw = RPL_STRBUF_INIT, gr = RPL_STRBUF_INIT;
	struct node *x;
	int err = 0;

	if ((x = fs_get(f, "etc/passwd")) && x->type == '0')
		rpl_strbuf_add(&pw, x->data, x->size);
	if ((x = fs_get(f, "etc/group")) && x->type == '0')
		rpl_strbuf_add(&gr, x->data, x->size);
	for (size_t i = 0; i < acc->nusers; i++) {
		const struct rpl_apko_user *u = &acc->users[i];
		const char *home = *u->homedir.s ? u->homedir.s : "/home";
		struct node *h;
		if (pw.len && pw.buf[pw.len - 1] != '\n')
			rpl_strbuf_addch(&pw, '\n');
		rpl_strbuf_addf(&pw, "%s:x:%u:%u:Account created by apko:%s:%s\n", u->username.s,
		                u->uid, u->has_gid ? u->gid : u->uid, home,
		                *u->shell.s ? u->shell.s : "/bin/sh");
		if (home[0] == '/' && home[1] && safe(home + 1) && !fs_get(f, home + 1)) {
			if (!(h = fs_put(f, home + 1, '5'))) {
				err = rpl_error(-RPL_EPARSE, "accounts: the home of %s: %s",
				                u->username.s, rpl_errmsg());
				goto out;
			}
			h->type = '5';
			h->mode = 0700;
			h->uid = u->uid;
			h->gid = u->has_gid ? u->gid : u->uid;
		}
	}
	for (size_t i = 0; i < acc->ngroups; i++) {
		const struct rpl_apko_group *g = &acc->groups[i];
		if (gr.len && gr.buf[gr.len - 1] != '\n')
			rpl_strbuf_addch(&gr, '\n');
		rpl_strbuf_addf(&gr, "%s:x:%u:", g->groupname.s, g->gid);
		for (size_t k = 0; k < g->members.n; k++)
			rpl_strbuf_addf(&gr, "%s%s", k ? "," : "", g->members.v[k].s);
		rpl_strbuf_addch(&gr, '\n');
	}
	if (!fs_get(f, "etc/passwd") || acc->nusers)
		err = fs_file(f, "etc/passwd", pw.buf ? pw.buf : "", pw.len, 0644);
	if (!err && acc->ngroups)
		err = fs_file(f, "etc/group", gr.buf, gr.len, 0644);
out:
	rpl_strbuf_release(&pw);
	rpl_strbuf_release(&gr);
	return err;
}

/* The `paths` of the config. */
static int mutate_paths(struct fs *f, const struct rpl_apko_config *c)
{
	for (size_t i = 0; i < c->npaths; i++) {
		const struct rpl_apko_path *p = &c->paths[i];
		const char *path = p->path.s[0] == '/' ? p->path.s + 1 : p->path.s;
		const char *type = p->type.s;
		struct node *x = NULL;

		if (!safe(path))
			return rpl_error(-RPL_EUSAGE, "paths: refusing '%s'", p->path.s);
		if (strcmp(type, "permissions") && !(x = fs_put(f, path, '5')))
			return rpl_error(-RPL_EUSAGE, "paths: '%s': %s", p->path.s, rpl_errmsg());
		if (!strcmp(type, "directory")) {
			set_type(x, '5');
			x->mode = p->has_permissions ? p->permissions : 0755;
		} else if (!strcmp(type, "empty-file")) {
			set_type(x, '0');
			set_data(x, "", 0);
			x->mode = p->has_permissions ? p->permissions : 0644;
		} else if (!strcmp(type, "symlink") || !strcmp(type, "hardlink")) {
			if (!strcmp(type, "hardlink")) {
				const char *src =
				        p->source.s[0] == '/' ? p->source.s + 1 : p->source.s;
				struct node *s = fs_get(f, src);
				if (!s || s->type != '0')
					return rpl_error(-RPL_EUSAGE,
					                 "paths: no file '%s' to link to",
					                 p->source.s);
				if (s != x) {
					int err = fs_charge(f, s->size, "paths", p->path.s);
					if (err)
						return err;
					set_type(x, '0');
					set_data(x, s->data, s->size);
				}
				x->mode = s->mode;
			} else {
				set_type(x, '2');
				x->link = rpl_xstrdup(p->source.s);
				x->mode = 0777;
			}
		} else if (!strcmp(type, "permissions")) {
			if (!(x = fs_get(f, path)))
				return rpl_error(-RPL_EUSAGE, "paths: '%s' does not exist",
				                 p->path.s);
		} else {
			return rpl_error(-RPL_EUSAGE, "paths: unknown type '%s'", type);
		}
		if (p->has_permissions)
			x->mode = p->permissions;
		if (p->has_uid)
			x->uid = p->uid;
		if (p->has_gid)
			x->gid = p->gid;
	}
	return 0;
}

/* ---- the layer -------------------------------------------------------------------------------- */

static int cmp_path(const void *a, const void *b)
{
	const struct node *x = *(struct node *const *)a, *y = *(struct node *const *)b;

	/* fs.WalkDir order: a directory's entries sorted, each followed by its own. */
	return strcmp(x->path, y->path) < 0 ? -1 : strcmp(x->path, y->path) > 0;
}

/* Pre-order with siblings sorted: compare component by component. */
static int walk_order(const void *a, const void *b)
{
	const char *x = (*(struct node *const *)a)->path, *y = (*(struct node *const *)b)->path;

	for (;;) {
		size_t nx = strcspn(x, "/"), ny = strcspn(y, "/");
		int c = strncmp(x, y, nx < ny ? nx : ny);
		if (c)
			return c;
		if (nx != ny)
			return nx < ny ? -1 : 1;
		if (!x[nx] || !y[ny])
			return !x[nx] ? (y[ny] ? -1 : 0) : 1;
		x += nx + 1;
		y += ny + 1;
	}
}

/* A name for an id from the image's own /etc/passwd or /etc/group. */
static const char *name_of(struct fs *f, const char *file, uint32_t id, char *buf, size_t n)
{
	struct node *x = fs_get(f, file);

	if (!x || x->type != '0')
		return NULL;
	for (const char *l = x->data; l && l < x->data + x->size;) {
		const char *end = memchr(l, '\n', (size_t)(x->data + x->size - l));
		const char *c1 = memchr(l, ':', (size_t)((end ? end : x->data + x->size) - l));
		const char *c2 =
		        c1 ? memchr(c1 + 1, ':', (size_t)((end ? end : x->data + x->size) - c1 - 1))
		           : NULL;
		if (c1 && c2 && (size_t)(c1 - l) < n && (uint32_t)strtoul(c2 + 1, NULL, 10) == id) {
			memcpy(buf, l, (size_t)(c1 - l));
			buf[c1 - l] = '\0';
			return buf;
		}
		l = end ? end + 1 : NULL;
	}
	return NULL;
}

/*
 * The layer of the tree, which it consumes: each file's content moves into
 * the tar (the accounts files excepted, whose names the headers need), so
 * that the image is in memory once, not twice.
 */
static void layer_tar(struct fs *f, struct rpl_strbuf *tar)
{
	struct node **v = rpl_xmalloc((f->n ? f->n : 1) * sizeof(*v));
	const struct node *pw = fs_get(f, "etc/passwd"), *gr = fs_get(f, "etc/group");
	static const char zeros[1024];

	for (size_t i = 0; i < f->n; i++)
		v[i] = &f->v[i];
	(void)cmp_path;
	if (f->n)
		qsort(v, f->n, sizeof(*v), walk_order);
	for (size_t i = 0; i < f->n; i++) {
		struct node *x = v[i];
		char user[64], group[64];
		struct rpl_tar_entry e;

		memset(&e, 0, sizeof(e));
		e.name = x->path;
		e.type = x->type;
		e.mode = x->mode;
		e.mtime = x->mtime;
		e.uid = x->uid;
		e.gid = x->gid;
		e.owner = name_of(f, "etc/passwd", x->uid, user, sizeof(user));
		e.group = name_of(f, "etc/group", x->gid, group, sizeof(group));
		if (!e.owner && e.group)
			e.owner = "";
		if (e.owner && !e.group)
			e.group = "";
		/* The four types of the tree, devices only the assembler's (refused_type()). */
		if (!strchr("0523", x->type) || !x->type || (x->type == '3' && x->pkg >= 0))
			RPL_BUG("a node the layer cannot hold");
		e.link = x->type == '2' ? x->link : NULL;
		e.devmajor = x->major;
		e.devminor = x->minor;
		if (x->type == '0')
			e.size = x->size;
		rpl_tar_header(tar, &e);
		if (x->type == '0') {
			rpl_strbuf_add(tar, x->data, x->size);
			rpl_tar_pad(tar, x->size);
			if (x != pw && x != gr) {
				free(x->data);
				x->data = NULL;
			}
		}
	}
	rpl_strbuf_add(tar, zeros, sizeof(zeros));
	free(v);
}

/* ---- the OCI layout ------------------------------------------------------------------------------ */

static void digest_of(const void *data, size_t len, char out[80])
{
	uint8_t d[RPL_SHA256_LEN];
	char hex[RPL_SHA256_HEX];

	rpl_sha256(data, len, d);
	rpl_hex(d, sizeof(d), hex);
	snprintf(out, 80, "sha256:%s", hex);
}

static int put_blob(const char *layout, const void *data, size_t len, char digest[80])
{
	char *dir = rpl_path_join(layout, "blobs/sha256"), *path;
	int err;

	digest_of(data, len, digest);
	path = rpl_path_join(dir, digest + 7);
	if (!(err = rpl_mkdirs(dir)))
		err = rpl_write_file_atomic(path, data, len);
	free(dir);
	free(path);
	return err;
}

static char *dumps(json_t *j)
{
	char *s = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);

	json_decref(j);
	return s;
}

static json_t *descriptor(const char *media, size_t size, const char *digest)
{
	json_t *d = json_object();

	json_object_set_new(d, "mediaType", json_string(media));
	json_object_set_new(d, "size", json_integer((json_int_t)size));
	json_object_set_new(d, "digest", json_string(digest));
	return d;
}

static void rfc3339(int64_t t, char *out, size_t n)
{
	time_t tt = (time_t)t;
	struct tm tm;

	gmtime_r(&tt, &tm);
	strftime(out, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static json_t *sorted(json_t *o);

/* Writes an SBOM document to `path` (atomically), making its directory. */
static int write_sbom(const char *path, const char *doc)
{
	char *dir = rpl_path_dirname(path);
	int err = rpl_mkdirs(dir);

	free(dir);
	return err ? err : rpl_write_file_atomic(path, doc, strlen(doc));
}

/*
 * The image index the layout's index.json names for `tag`, when there is
 * one already (*outer is then the layout's index, which the caller
 * releases); else a new, empty one.
 */
static json_t *tagged_index(const char *layout, const char *ipath, const char *tag, json_t **outer)
{
	json_t *inner = NULL, *m;
	char *text = NULL;
	size_t len, i;

	*outer = NULL;
	if (!rpl_read_file(ipath, &text, &len) && (*outer = json_loadb(text, len, 0, NULL))) {
		free(text);
		text = NULL;
		json_array_foreach(json_object_get(*outer, "manifests"), i, m)
		{
			const char *ref = json_string_value(
			        json_object_get(json_object_get(m, "annotations"),
			                        "org.opencontainers.image.ref.name"));
			if (ref && !strcmp(ref, tag)) {
				char *blob, *bt, digest[80];
				size_t bl;
				snprintf(digest, sizeof(digest), "%s",
				         json_string_value(json_object_get(m, "digest")));
				blob = rpl_path_join(layout, "blobs/sha256");
				bt = rpl_path_join(blob, digest + 7);
				if (!rpl_read_file(bt, &text, &bl)) {
					inner = json_loadb(text, bl, 0, NULL);
					free(text);
					text = NULL;
				}
				free(blob);
				free(bt);
			}
		}
	}
	free(text);
	if (!inner) {
		inner = json_object();
		json_object_set_new(inner, "schemaVersion", json_integer(2));
		json_object_set_new(inner, "mediaType",
		                    json_string("application/vnd.oci.image.index.v1+json"));
		json_object_set_new(inner, "manifests", json_array());
	}
	return inner;
}

/*
 * This arch's manifest into the index's `mans` in place of the arch's
 * previous one, sorted by architecture as apko writes them.
 */
static void put_manifest(json_t *mans, const char *arch, const char *variant,
                         const char *manifest_digest, size_t manifest_size)
{
	json_t *entry, *plat;
	size_t at = 0;

	for (size_t i = json_array_size(mans); i-- > 0;) {
		json_t *p = json_object_get(json_array_get(mans, i), "platform");
		if (!strcmp(nz(json_string_value(json_object_get(p, "architecture"))),
		            oci_arch(arch, &variant)))
			json_array_remove(mans, i);
	}
	entry = descriptor("application/vnd.oci.image.manifest.v1+json", manifest_size,
	                   manifest_digest);
	plat = json_object();
	json_object_set_new(plat, "architecture", json_string(oci_arch(arch, &variant)));
	json_object_set_new(plat, "os", json_string("linux"));
	if (variant)
		json_object_set_new(plat, "variant", json_string(variant));
	json_object_set_new(entry, "platform", plat);
	for (; at < json_array_size(mans); at++)
		if (strcmp(nz(json_string_value(json_object_get(
		                   json_object_get(json_array_get(mans, at), "platform"),
		                   "architecture"))),
		           oci_arch(arch, &variant)) > 0)
			break;
	json_array_insert_new(mans, at, entry);
}

/*
 * The index's annotations: the image's, with `created` the latest of the
 * archs' manifests now in the index (RFC 3339 in UTC, one width: the later
 * time is the larger string).
 */
static void index_annotations(const char *layout, json_t *inner, json_t *annotations,
                              const char *created)
{
	json_t *ann = json_deep_copy(annotations), *m;
	char latest[64];
	size_t i;

	snprintf(latest, sizeof(latest), "%s", created);
	json_array_foreach(json_object_get(inner, "manifests"), i, m)
	{
		const char *d = json_string_value(json_object_get(m, "digest"));
		char *bp = d && strchr(d, ':') ? rpl_path_join(layout, "blobs/sha256") : NULL,
		     *bt = bp ? rpl_path_join(bp, strchr(d, ':') + 1) : NULL, *mt;
		size_t ml;
		json_t *man;
		if (bt && !rpl_read_file(bt, &mt, &ml)) {
			const char *c;
			man = json_loadb(mt, ml, 0, NULL);
			c = json_string_value(json_object_get(json_object_get(man, "annotations"),
			                                      "org.opencontainers.image.created"));
			if (c && strlen(c) < sizeof(latest) && strcmp(c, latest) > 0)
				snprintf(latest, sizeof(latest), "%s", c);
			json_decref(man);
			free(mt);
		}
		free(bp);
		free(bt);
	}
	json_object_set_new(ann, "org.opencontainers.image.created", json_string(latest));
	json_object_set_new(inner, "annotations", sorted(ann));
}

/*
 * The layout's index.json: the tag's image index (`size` bytes, `digest`),
 * and each arch's manifest by itself, <tag>-<arch>, for tools that want one.
 */
static json_t *layout_index(json_t *inner, const char *tag, size_t size, const char *digest)
{
	json_t *outer = json_object(), *mans = json_array(), *entry, *m;
	char reftag[256];
	size_t i;

	json_object_set_new(outer, "schemaVersion", json_integer(2));
	json_object_set_new(outer, "mediaType",
	                    json_string("application/vnd.oci.image.index.v1+json"));
	entry = descriptor("application/vnd.oci.image.index.v1+json", size, digest);
	json_object_set_new(entry, "annotations",
	                    json_pack("{s:s}", "org.opencontainers.image.ref.name", tag));
	json_array_append_new(mans, entry);
	json_array_foreach(json_object_get(inner, "manifests"), i, m)
	{
		json_t *d = json_deep_copy(m);
		snprintf(reftag, sizeof(reftag), "%s-%s", tag,
		         json_string_value(
		                 json_object_get(json_object_get(m, "platform"), "architecture")));
		json_object_set_new(
		        d, "annotations",
		        json_pack("{s:s}", "org.opencontainers.image.ref.name", reftag));
		json_array_append_new(mans, d);
	}
	json_object_set_new(outer, "manifests", mans);
	return outer;
}

/*
 * The image index of the layout's tag, with this arch's manifest put in its
 * place and apko's annotations: the image's, with `created` the latest of
 * its archs'.  Its SBOM (`sboms/sbom-index.spdx.json`) is written with it.
 * All under the layout's lock, as another arch's assembly may write it too.
 */
static int update_index(const char *layout, const char *name, const char *tag, const char *arch,
                        const char *variant, const char *manifest_digest, size_t manifest_size,
                        json_t *annotations, const char *created, const char *os_name,
                        const char *vcs_url)
{
	char *ipath = rpl_path_join(layout, "index.json"), *lockp, *s = NULL, *sbom, *sp;
	json_t *outer = NULL, *inner = NULL;
	char inner_digest[80] = "";
	size_t sl;
	int fd, err = 0;

	lockp = rpl_path_join(layout, ".lock");
	fd = open(lockp, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	free(lockp);
	if (fd < 0 || flock(fd, LOCK_EX) < 0) {
		err = rpl_error(-errno, "cannot lock '%s': %s", layout, strerror(errno));
		goto out;
	}
	inner = tagged_index(layout, ipath, tag, &outer);
	put_manifest(json_object_get(inner, "manifests"), arch, variant, manifest_digest,
	             manifest_size);
	index_annotations(layout, inner, annotations, created);
	s = dumps(json_incref(inner));
	sl = strlen(s);
	if ((err = put_blob(layout, s, sl, inner_digest)))
		goto out;
	sbom = rpl_sbom_index(
	        name, inner_digest, inner, os_name, vcs_url,
	        json_string_value(json_object_get(json_object_get(inner, "annotations"),
	                                          "org.opencontainers.image.created")));
	sp = rpl_path_join(layout, "sboms/sbom-index.spdx.json");
	err = write_sbom(sp, sbom);
	free(sp);
	free(sbom);
	if (err)
		goto out;
	json_decref(outer);
	outer = layout_index(inner, tag, sl, inner_digest);
	free(s);
	s = dumps(json_incref(outer));
	if (!(err = rpl_write_file_atomic(ipath, s, strlen(s)))) {
		char *lp = rpl_path_join(layout, "oci-layout");
		static const char lay[] = "{\n    \"imageLayoutVersion\": \"1.0.0\"\n}";
		err = rpl_write_file_atomic(lp, lay, sizeof(lay) - 1);
		free(lp);
	}
out:
	if (fd >= 0)
		close(fd);
	free(s);
	json_decref(outer);
	json_decref(inner);
	free(ipath);
	return err;
}

/* ---- the build ------------------------------------------------------------------------------------ */

struct repo {
	char *where; /* the index file: local, or downloaded */
	char *base;  /* where its apks are: a directory or URL (without /<arch>) */
	char *tag;
	struct rpl_apkindex idx;
	int loaded;
};

/*
 * A file of a local repository (`what`: "an APKINDEX", "an apk"): it must
 * be a regular file of at most `max` bytes, so that neither a huge file nor
 * a device or FIFO in its place is read.
 */
static int check_local(const char *path, uint64_t max, const char *what)
{
	struct stat st;
	char lim[32];

	if (stat(path, &st) < 0)
		return rpl_error(errno == ENOENT ? -RPL_ENOTFOUND : -errno, "cannot open '%s': %s",
		                 path, strerror(errno));
	if (!S_ISREG(st.st_mode))
		return rpl_error(-RPL_EPARSE, "'%s' is not a regular file (%s must be one)", path,
		                 what);
	if ((uint64_t)st.st_size > max)
		return rpl_error(-RPL_EPARSE,
		                 "'%s' is larger than %s, the most %s may be here; refusing it",
		                 path, rpl_size_text(max, lim), what);
	return 0;
}

/*
 * Downloads `url` (http or https, redirects too) into the cache as
 * `unverified-sha256:<its digest>`, at most `max` bytes (`what` is "an
 * APKINDEX", "an apk"): a larger answer is refused as it comes, whether or
 * not the server said its length, and nothing of it is kept.  What it holds
 * is checked by the caller.  Returns the path (malloc'd) in *path.
 */
static int download(const char *cache, const char *url, uint64_t max, const char *what, char **path)
{
	struct rpl_strbuf key = RPL_STRBUF_INIT;
	struct rpl_hashed_file f = { -1, NULL, NULL };
	struct rpl_http_req req = {
		.url = url,
		.max_bytes = max,
		.item = what,
		.follow = 1,
		.fail_status = 1,
		.sink = rpl_hashed_file_write,
		.sink_ud = &f,
	};
	struct rpl_http_resp resp;
	char hex[RPL_SHA256_HEX];
	int err;

	*path = NULL;
	rpl_http_resp_init(&resp);
	if ((err = rpl_mkdirs(cache)) || (err = rpl_hashed_file_open(&f, cache, 0)) ||
	    (err = rpl_http_perform(&req, &resp)) || (err = rpl_hashed_file_finish(&f, hex)))
		goto out;
	rpl_strbuf_addf(&key, "%s/unverified-sha256:%s", cache, hex);
	if (!(err = rpl_hashed_file_keep(&f, key.buf)))
		*path = rpl_strbuf_detach(&key);
out:
	rpl_hashed_file_release(&f);
	rpl_http_resp_release(&resp);
	rpl_strbuf_release(&key);
	return err;
}

/*
 * Checks an index's signature (its signer: `signer`) against the keyring:
 * one key must verify it.
 */
static int check_signature(const char *index, const char *signer, char *const *keys, size_t nkeys)
{
	/* apko refuses an unsigned index unless told --ignore-signatures
	 * (go-apk getRepositoryIndex): without a keyring that is said loudly. */
	if (!nkeys && !signer) {
		rpl_warn("%s is not signed (apko would refuse it); no keyring given, so it is "
		         "used unchecked",
		         index);
		return 0;
	}
	if (!nkeys) {
		rpl_say("%s: no keyring given, its signature is not checked", index);
		return 0;
	}
	if (!signer)
		return rpl_error(-RPL_EPARSE, "'%s' is not signed", index);
	for (size_t i = 0; i < nkeys; i++)
		if (rpl_repo_verify_index(index, keys[i]) == 0)
			return 0;
	return rpl_error(-RPL_EPARSE, "'%s' is signed by %s, which no key of the keyring verifies",
	                 index, signer);
}

/* `layout`/<arch>.entry.json: what the image index's entry of `arch` was made from. */
static char *entry_path(const char *layout, const char *arch)
{
	struct rpl_strbuf t = RPL_STRBUF_INIT;
	char *p;

	rpl_strbuf_addf(&t, "%s.entry.json", arch);
	p = rpl_path_join(layout, t.buf);
	rpl_strbuf_release(&t);
	return p;
}

/*
 * Keeps beside the arch's manifest what update_index() took besides it, so
 * that the artifact cache can put a fetched image into a layout exactly as
 * its assembly did (rpl_image_layout_add).
 */
static int write_entry(const char *layout, const char *arch, const char *name, json_t *annotations,
                       const char *created, const char *os_name, const char *vcs_url)
{
	json_t *e = json_object();
	char *path = entry_path(layout, arch), *text;
	int err;

	json_object_set_new(e, "name", json_string(name));
	json_object_set_new(e, "annotations",
	                    annotations ? json_incref(annotations) : json_object());
	json_object_set_new(e, "created", json_string(created));
	json_object_set_new(e, "os", os_name ? json_string(os_name) : json_null());
	json_object_set_new(e, "vcs-url", vcs_url ? json_string(vcs_url) : json_null());
	text = dumps(e);
	err = rpl_write_file_atomic(path, text, strlen(text));
	free(text);
	free(path);
	return err;
}

int rpl_image_layout_add(const char *layout, const char *tag, const char *arch, const char *digest,
                         size_t size)
{
	const char *variant = NULL, *name, *created;
	struct rpl_strbuf t = RPL_STRBUF_INIT;
	char *mf, *text, *ep = entry_path(layout, arch);
	json_t *e = NULL, *ann;
	json_error_t je;
	size_t len;
	int err;

	oci_arch(arch, &variant);
	if (!(err = rpl_read_file(ep, &text, &len))) {
		e = json_loadb(text, len, 0, &je);
		free(text);
	}
	name = json_string_value(json_object_get(e, "name"));
	created = json_string_value(json_object_get(e, "created"));
	ann = json_object_get(e, "annotations");
	if (!err && (!name || !created || !json_is_object(ann)))
		err = rpl_error(-RPL_EPARSE, "'%s' is not an image's index entry", ep);
	free(ep);
	if (!err)
		err = update_index(layout, name, tag, arch, variant, digest, size, ann, created,
		                   json_string_value(json_object_get(e, "os")),
		                   json_string_value(json_object_get(e, "vcs-url")));
	json_decref(e);
	if (err)
		return err;
	rpl_strbuf_addf(&t, "%s.manifest", arch);
	mf = rpl_path_join(layout, t.buf);
	rpl_strbuf_reset(&t);
	rpl_strbuf_addf(&t, "%s\n", digest);
	err = rpl_write_file_atomic(mf, t.buf, t.len);
	free(mf);
	rpl_strbuf_release(&t);
	return err;
}

/*
 * The repository `spec` ("[@tag ]location") for `arch`: its index read
 * from disk or downloaded, at most RPL_IMAGE_MAX_INDEX bytes (and 256 MiB
 * inflated, runners/repo.c), its signature checked, its records parsed.
 *
 * A local repository without an index for `arch` holds nothing yet, as for
 * apko (a warning, not an error): a monorepo of images only never writes
 * packages/<arch>/, and an arch no package was built for has no index.  An
 * index that is there but is not a readable, signed APKINDEX is an error.
 */
static int open_repo(struct repo *r, const char *spec, const char *arch, const char *cache,
                     char *const *keys, size_t nkeys)
{
	const char *s = spec;
	struct rpl_strbuf p = RPL_STRBUF_INIT;
	char *text = NULL, *signer = NULL;
	int err;

	if (s[0] == '@') { /* "@tag location" */
		size_t n = strcspn(s + 1, " ");
		r->tag = rpl_xstrndup(s + 1, n);
		s += 1 + n;
		while (*s == ' ')
			s++;
	} else {
		r->tag = rpl_xstrdup("");
	}
	r->base = rpl_xstrdup(s);
	rpl_strbuf_addf(&p, "%s/%s/APKINDEX.tar.gz", s, arch);
	if (rpl_is_url(s)) {
		err = download(cache, p.buf, RPL_IMAGE_MAX_INDEX, "an APKINDEX", &r->where);
	} else {
		r->where = rpl_strbuf_detach(&p);
		err = check_local(r->where, RPL_IMAGE_MAX_INDEX, "an APKINDEX");
		if (err == -RPL_ENOTFOUND) {
			rpl_error_clear();
			rpl_warn("repository %s: no %s, taken as empty", spec, r->where);
			err = rpl_apkindex_parse_text(&r->idx, r->where, "", 0);
			r->loaded = !err;
			goto out;
		}
	}
	rpl_strbuf_release(&p);
	if (err || (err = rpl_repo_read_index(r->where, &text, &signer)) ||
	    (err = check_signature(r->where, signer, keys, nkeys)))
		goto out;
	/* The text as repo.c inflated it, within its bound (libarchive's has none). */
	if ((err = rpl_apkindex_parse_text(&r->idx, r->where, text, strlen(text))))
		goto out;
	r->loaded = 1;
out:
	free(text);
	free(signer);
	return err;
}

/* Splits a command line on blanks (apko's entrypoint and cmd are such strings). */
static json_t *words(const char *s)
{
	json_t *a = json_array();

	while (s && *s) {
		size_t n;
		while (*s == ' ' || *s == '\t')
			s++;
		n = strcspn(s, " \t");
		if (n)
			json_array_append_new(a, json_stringn(s, n));
		s += n;
	}
	return a;
}

static int cmp_cstr(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* `o` with its keys in bytewise order, as Go writes a map; `o` is consumed. */
static json_t *sorted(json_t *o)
{
	size_t n = json_object_size(o), k = 0;
	const char **keys = rpl_xcalloc(n + 1, sizeof(*keys));
	json_t *out = json_object(), *v;
	const char *key;

	json_object_foreach(o, key, v)
	{
		keys[k++] = key;
	}
	qsort(keys, n, sizeof(*keys), cmp_cstr);
	for (size_t i = 0; i < n; i++)
		json_object_set(out, keys[i], json_object_get(o, keys[i]));
	free(keys);
	json_decref(o);
	return out;
}

static json_t *kv_object(const struct rpl_kvlist *l)
{
	json_t *o = json_object();

	for (size_t i = 0; i < l->n; i++)
		json_object_set_new(o, l->v[i].key.s, json_string(l->v[i].val.s));
	return sorted(o);
}

/* Go's omitempty, for the fields of /etc/apko.json. */
static void set_str(json_t *o, const char *key, const char *v)
{
	if (*v)
		json_object_set_new(o, key, json_string(v));
}

static void set_uint(json_t *o, const char *key, uint32_t v)
{
	if (v)
		json_object_set_new(o, key, json_integer(v));
}

/* apko's ImageAccounts as JSON: run-as, users (gid a pointer: kept when set, even 0), groups. */
static json_t *accounts_json(const struct rpl_apko_accounts *a)
{
	json_t *o = json_object(), *l;

	set_str(o, "run-as", a->run_as.s);
	if (a->nusers) {
		l = json_array();
		for (size_t i = 0; i < a->nusers; i++) {
			const struct rpl_apko_user *u = &a->users[i];
			json_t *x = json_object();
			set_str(x, "username", u->username.s);
			set_uint(x, "uid", u->uid);
			if (u->has_gid)
				json_object_set_new(x, "gid", json_integer(u->gid));
			set_str(x, "shell", u->shell.s);
			set_str(x, "homedir", u->homedir.s);
			json_array_append_new(l, x);
		}
		json_object_set_new(o, "users", l);
	}
	if (a->ngroups) {
		l = json_array();
		for (size_t i = 0; i < a->ngroups; i++) {
			const struct rpl_apko_group *g = &a->groups[i];
			json_t *x = json_object(), *m;
			set_str(x, "groupname", g->groupname.s);
			set_uint(x, "gid", g->gid);
			if (g->members.n) {
				m = json_array();
				for (size_t k = 0; k < g->members.n; k++)
					json_array_append_new(m, json_string(g->members.v[k].s));
				json_object_set_new(x, "members", m);
			}
			json_array_append_new(l, x);
		}
		json_object_set_new(o, "groups", l);
	}
	return o;
}

/* /etc/apko.json: the config as it was built, packages pinned. */
static json_t *apko_json(const struct rpl_apko_config *c, const char *oarch, char **pinned,
                         size_t npinned, json_t *annotations)
{
	json_t *j = json_object(), *contents = json_object(), *l;

	l = json_array();
	for (size_t i = 0; i < c->contents.repositories.n; i++)
		json_array_append_new(l, json_string(c->contents.repositories.v[i].s));
	json_object_set_new(contents, "repositories", l);
	l = json_array();
	for (size_t i = 0; i < c->contents.keyring.n; i++)
		json_array_append_new(l, json_string(c->contents.keyring.v[i].s));
	json_object_set_new(contents, "keyring", l);
	l = json_array();
	for (size_t i = 0; i < npinned; i++)
		json_array_append_new(l, json_string(pinned[i]));
	json_object_set_new(contents, "packages", l);
	json_object_set_new(j, "contents", contents);
	json_object_set_new(j, "entrypoint",
	                    *c->entrypoint.command.s
	                            ? json_pack("{s:s}", "command", c->entrypoint.command.s)
	                            : json_object());
	if (*c->cmd.s)
		json_object_set_new(j, "cmd", json_string(c->cmd.s));
	if (*c->stop_signal.s)
		json_object_set_new(j, "stop-signal", json_string(c->stop_signal.s));
	if (*c->work_dir.s)
		json_object_set_new(j, "work-dir", json_string(c->work_dir.s));
	json_object_set_new(j, "accounts", accounts_json(&c->accounts));
	json_object_set_new(j, "archs", json_pack("[s]", oarch));
	if (c->environment.n)
		json_object_set_new(j, "environment", kv_object(&c->environment));
	if (c->npaths) {
		l = json_array();
		for (size_t i = 0; i < c->npaths; i++) {
			const struct rpl_apko_path *m = &c->paths[i];
			json_t *o = json_object();
			set_str(o, "path", m->path.s);
			set_str(o, "type", m->type.s);
			set_uint(o, "uid", m->uid);
			set_uint(o, "gid", m->gid);
			set_uint(o, "permissions", m->permissions);
			set_str(o, "source", m->source.s);
			if (m->recursive)
				json_object_set_new(o, "recursive", json_true());
			json_array_append_new(l, o);
		}
		json_object_set_new(j, "paths", l);
	}
	if (json_object_size(annotations))
		json_object_set(j, "annotations", annotations);
	if (c->volumes.n) {
		l = json_array();
		for (size_t i = 0; i < c->volumes.n; i++)
			json_array_append_new(l, json_string(c->volumes.v[i].s));
		json_object_set_new(j, "volumes", l);
	}
	return j;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * The apk at `url` (a path, or downloaded through the cache, at most `max`
 * bytes either way), checked against what the index or the lock file
 * (`from`) promised: the control section's SHA-1 against `q1` (the index's
 * C:), which so vouches for the .PKGINFO and its `datahash`; the data
 * section's SHA-256 against that datahash and, from a lock file, against
 * its recorded checksum (`data_sum`).  An apk whose data section no
 * checksum covers (no datahash, and no lock file checksum) is refused: the
 * index's C: does not reach it.
 */
static int fetch_apk(const char *url, const char *cache, const char *from, const char *q1,
                     const char *data_sum, uint64_t max, struct ipkg *out)
{
	char c[64], hex[65];
	int err;

	out->url = url;
	if (rpl_is_url(url)) {
		if ((err = download(cache, url, max, "an apk", &out->file)))
			return err;
	} else {
		out->file = rpl_xstrdup(url);
		if ((err = check_local(url, max, "an apk")))
			return err;
	}
	if ((err = rpl_apk_read(out->file, &out->apk)))
		return err;
	b64(out->apk.control_sha1, 20, c);
	if (!q1 || !*q1)
		return rpl_error(-RPL_EPARSE, "%s: %s gives no checksum (C:) for it", url, from);
	if (strncmp(q1, "Q1", 2) || strcmp(q1 + 2, c))
		return rpl_error(-RPL_EPARSE, "%s: the control section does not match %s (%s)", url,
		                 from, q1);
	rpl_hex(out->apk.data_sha256, sizeof(out->apk.data_sha256), hex);
	if (out->apk.datahash && strcmp(out->apk.datahash, hex))
		return rpl_error(-RPL_EPARSE, "%s: the data section does not match its datahash",
		                 url);
	if (!out->apk.datahash && !data_sum)
		return rpl_error(
		        -RPL_EPARSE,
		        "%s: its .PKGINFO has no datahash, so no checksum of %s covers its "
		        "data section; refusing it (a lock file that records the data "
		        "section's checksum would)",
		        url, from);
	if (data_sum) {
		char want[64];
		memcpy(want, "sha256-", 7);
		b64(out->apk.data_sha256, 32, want + 7);
		if (strcmp(data_sum, want))
			return rpl_error(-RPL_EPARSE,
			                 "%s: the data section does not match the lock file (%s)",
			                 url, data_sum);
	}
	return 0;
}

/* A package's .PKGINFO and scripts stay in memory until the database is written. */
static int charge_scripts(struct fs *f, const struct ipkg *pk)
{
	uint64_t n = pk->apk.pkginfo_len;

	for (size_t i = 0; i < pk->apk.nscripts; i++)
		n += pk->apk.scripts[i].len;
	return fs_charge(f, n, pk->url, "its .PKGINFO and scripts");
}

/* One member of a docker-archive: a file of `len` bytes, owned by root, time 0. */
static void archive_member(struct rpl_strbuf *tar, const char *name, const void *data, size_t len)
{
	struct rpl_tar_entry e = { 0 };

	e.name = name;
	e.type = '0';
	e.mode = 0644;
	e.size = len;
	rpl_tar_header(tar, &e);
	rpl_strbuf_add(tar, data, len);
	rpl_tar_pad(tar, len);
}

/*
 * The arch's image as a docker-archive (what `docker load` and skopeo's
 * docker-archive: read): manifest.json naming the config and the gzip'd
 * layer by digest, with REPOTAG; written atomically.
 */
static int docker_archive(const char *path, const char *layout, const char *config_digest,
                          const char *layer_digest, const char *repotag)
{
	struct rpl_strbuf tar = RPL_STRBUF_INIT, name = RPL_STRBUF_INIT;
	char *cfg = NULL, *layer = NULL, *bp, *ms;
	size_t clen, llen;
	json_t *m;
	int err;

	bp = rpl_path_join(layout, "blobs/sha256");
	rpl_strbuf_addf(&name, "%s/%s", bp, config_digest + 7);
	if (!(err = rpl_read_file(name.buf, &cfg, &clen))) {
		rpl_strbuf_reset(&name);
		rpl_strbuf_addf(&name, "%s/%s", bp, layer_digest + 7);
		err = rpl_read_file(name.buf, &layer, &llen);
	}
	free(bp);
	if (err)
		goto out;
	m = json_pack("[{s:s,s:[s],s:[s]}]", "Config", config_digest, "RepoTags", repotag, "Layers",
	              layer_digest + 7);
	if (!m) {
		err = rpl_error(-RPL_EUSAGE, "docker-archive: the tag '%s' is not UTF-8", repotag);
		goto out;
	}
	rpl_strbuf_reset(&name);
	rpl_strbuf_addf(&name, "%s.tar.gz", layer_digest + 7);
	json_string_set(json_array_get(json_object_get(json_array_get(m, 0), "Layers"), 0),
	                name.buf);
	ms = dumps(m); /* consumes m */
	archive_member(&tar, config_digest, cfg, clen);
	archive_member(&tar, name.buf, layer, llen);
	archive_member(&tar, "manifest.json", ms, strlen(ms));
	free(ms);
	{
		static const char end[1024]; /* the end: two zero blocks */
		rpl_strbuf_add(&tar, end, sizeof(end));
	}
	err = rpl_write_file_atomic(path, tar.buf, tar.len);
out:
	free(cfg);
	free(layer);
	rpl_strbuf_release(&tar);
	rpl_strbuf_release(&name);
	return err;
}

/* The node `path` names with links followed inside the image, or NULL. */
static struct node *fs_follow(struct fs *f, const char *path)
{
	struct rpl_strbuf cur = RPL_STRBUF_INIT, where = RPL_STRBUF_INIT;
	struct node *x = NULL;

	rpl_strbuf_addstr(&cur, path);
	for (int hops = 0; hops < 40; hops++) {
		char *dir;
		if (fs_resolve(f, cur.buf, 0, &where) || !(x = fs_at(f, where.buf)) ||
		    x->type != '2')
			break;
		dir = rpl_path_dirname(where.buf);
		rpl_strbuf_reset(&cur);
		if (x->link[0] == '/')
			rpl_strbuf_addstr(&cur, x->link + 1);
		else
			rpl_strbuf_addf(&cur, "%s/%s", strcmp(dir, ".") ? dir : "", x->link);
		free(dir);
		x = NULL;
	}
	rpl_strbuf_release(&cur);
	rpl_strbuf_release(&where);
	return x && x->type == '0' ? x : NULL;
}

/*
 * What the SBOM is made of, read from the tree before the layer is (which
 * lets go of the files' contents): what the image's /etc/os-release says
 * of it, as apko reads it, and each installed package's own SBOM (NULL
 * when it has none).
 */
struct sbom_inputs {
	char *id, *name, *version;
	char **docs;
	size_t *lens, n;
};

static void os_release(struct fs *f, struct sbom_inputs *r)
{
	struct node *x = fs_follow(f, "etc/os-release");
	const char *p = x ? x->data : NULL, *end = p ? p + x->size : NULL;

	while (p && p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p)), *eq;
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
		char **slot = NULL;
		if ((eq = memchr(p, '=', n))) {
			size_t k = (size_t)(eq - p), vl = n - k - 1;
			const char *v = eq + 1;
			slot = k == 2 && !strncmp(p, "ID", 2)             ? &r->id
			       : k == 4 && !strncmp(p, "NAME", 4)         ? &r->name
			       : k == 10 && !strncmp(p, "VERSION_ID", 10) ? &r->version
			                                                  : NULL;
			if (vl >= 2 && (v[0] == '"' || v[0] == '\'') && v[vl - 1] == v[0]) {
				v++;
				vl -= 2;
			}
			if (slot && !*slot)
				*slot = rpl_xstrndup(v, vl);
		}
		p += n + 1;
	}
}

/* The SBOM each package installed of itself: apko's lookup, <name>-<version>,
 * then without -rN, then <name>. */
static void sbom_inputs(struct fs *f, const struct ipkg *pkgs, size_t npk, struct sbom_inputs *in)
{
	struct rpl_strbuf t = RPL_STRBUF_INIT;

	os_release(f, in);
	in->docs = rpl_xcalloc(npk + 1, sizeof(*in->docs));
	in->lens = rpl_xcalloc(npk + 1, sizeof(*in->lens));
	in->n = npk;
	for (size_t i = 0; i < npk; i++) {
		const char *n = pkgs[i].apk.pkgname, *v = pkgs[i].apk.pkgver, *r = strrchr(v, '-');
		struct node *x;
		rpl_strbuf_reset(&t);
		rpl_strbuf_addf(&t, "var/lib/db/sbom/%s-%s.spdx.json", n, v);
		if (!(x = fs_follow(f, t.buf)) && r && r[1] == 'r') {
			rpl_strbuf_reset(&t);
			rpl_strbuf_addf(&t, "var/lib/db/sbom/%s-%.*s.spdx.json", n, (int)(r - v),
			                v);
			x = fs_follow(f, t.buf);
		}
		if (!x) {
			rpl_strbuf_reset(&t);
			rpl_strbuf_addf(&t, "var/lib/db/sbom/%s.spdx.json", n);
			x = fs_follow(f, t.buf);
		}
		if (x) {
			in->docs[i] = rpl_xstrndup(x->data ? x->data : "", x->size);
			in->lens[i] = x->size;
		}
	}
	rpl_strbuf_release(&t);
}

static void sbom_inputs_release(struct sbom_inputs *in)
{
	for (size_t i = 0; i < in->n; i++)
		free(in->docs[i]);
	free(in->docs);
	free(in->lens);
	free(in->id);
	free(in->name);
	free(in->version);
}

/*
 * The arch's SBOM, `sboms/sbom-<arch>.spdx.json` in the layout as in
 * apko's golden layout: the image, its layer and OS, and the SBOMs of its
 * packages.
 */
static int image_sbom(const struct sbom_inputs *in, const char *name, const char *layout,
                      const char *arch, const char *variant, const char *manifest,
                      const char *layer, int64_t bde, const char *vcs_url)
{
	struct rpl_sbom_image im;
	struct rpl_strbuf t = RPL_STRBUF_INIT;
	const char *oarch;
	char *doc, *path;
	int err;

	oarch = oci_arch(arch, &variant);
	memset(&im, 0, sizeof(im));
	im.name = name;
	im.oci_arch = oarch;
	im.variant = variant;
	im.manifest = manifest;
	im.layer = layer;
	im.os_id = in->id;
	im.os_name = in->name;
	im.os_version = in->version;
	im.vcs_url = vcs_url;
	im.created = bde;
	im.docs = (const char *const *)in->docs;
	im.lens = in->lens;
	im.ndocs = in->n;
	doc = rpl_sbom_image(&im);
	rpl_strbuf_reset(&t);
	rpl_strbuf_addf(&t, "sboms/sbom-%s.spdx.json", arch);
	path = rpl_path_join(layout, t.buf);
	err = write_sbom(path, doc);
	free(path);
	free(doc);
	rpl_strbuf_release(&t);
	return err;
}

/*
 * One image assembly for one arch: what rpl_image_build's steps hand each
 * other, from the config's annotations to the layout's digests.  `t` is
 * the steps' scratch buffer.
 */
struct assembly {
	struct rpl_image_opts *o;
	struct rpl_image *img;
	const struct rpl_apko_config *c;
	const char *variant, *oarch;
	json_t *annotations, *labels;
	/* The keys and repositories: the config's, then the options'. */
	char **keys, **specs;
	size_t nkeys, nspecs;
	struct repo *repos;
	struct rpl_repo_ref *refs;
	/* What is installed, in order: the lock file's, or the resolution's. */
	struct rpl_lock_pkg *locked;
	struct rpl_resolved_pkg *res;
	char **world, **urls, **pinned;
	size_t nres, npk;
	struct ipkg *pkgs;
	struct fs f;
	int64_t bde; /* SOURCE_DATE_EPOCH: the newest package's build date until decided */
	char created[64];
	struct sbom_inputs sin;
	struct rpl_strbuf tar, gz, t;
	char *layout;
	char layer_digest[80], diff_id[80], config_digest[80];
};

/*
 * apko acts on service-bundle alone (it writes an s6 tree under /sv); any
 * other entrypoint type it takes as written, and so does this.  A base
 * image is refused; layering is reported and not done.
 */
static int check_supported(const struct assembly *a)
{
	const struct rpl_apko_config *c = a->c;

	if (c->contents.has_baseimage || !strcmp(c->entrypoint.type.s, "service-bundle"))
		return rpl_error(-RPL_EUSAGE,
		                 "%s: %s is not supported by the native assembler (use apko)",
		                 a->o->file,
		                 c->contents.has_baseimage ? "a base image"
		                                           : "the service-bundle entrypoint type");
	if (c->has_layering)
		rpl_say("%s: layering is not done by the native assembler: one layer", a->o->file);
	return 0;
}

/*
 * The image's annotations: the config's, --annotations k:v over them, and
 * apko's source and revision from a vcs-url of the form URL@COMMIT; sorted.
 */
static int image_annotations(struct assembly *a)
{
	const struct rpl_image_opts *o = a->o;
	const char *at = strchr(a->c->vcs_url.s, '@');

	a->annotations = kv_object(&a->c->annotations);
	for (size_t i = 0; i < o->nannotations; i++) {
		const char *colon = strchr(o->annotations[i], ':');
		if (!colon || colon == o->annotations[i])
			return rpl_error(-RPL_EUSAGE, "--annotations wants KEY:VALUE, not '%s'",
			                 o->annotations[i]);
		rpl_strbuf_reset(&a->t);
		rpl_strbuf_add(&a->t, o->annotations[i], (size_t)(colon - o->annotations[i]));
		if (json_object_set_new(a->annotations, a->t.buf, json_string(colon + 1)))
			return rpl_error(-RPL_EUSAGE, "--annotations '%s': not UTF-8",
			                 o->annotations[i]);
	}
	if (at) {
		rpl_strbuf_reset(&a->t);
		rpl_strbuf_add(&a->t, a->c->vcs_url.s, (size_t)(at - a->c->vcs_url.s));
		json_object_set_new(a->annotations, "org.opencontainers.image.source",
		                    json_string(a->t.buf));
		json_object_set_new(a->annotations, "org.opencontainers.image.revision",
		                    json_string(at + 1));
	}
	a->annotations = sorted(a->annotations);
	rpl_strbuf_reset(&a->t);
	return 0;
}

/* The keys and the repositories: the config's, then the options'. */
static void keys_and_repositories(struct assembly *a)
{
	const struct rpl_apko_config *c = a->c;
	const struct rpl_image_opts *o = a->o;

	a->keys = rpl_xcalloc(c->contents.keyring.n + o->nkeyrings + 1, sizeof(*a->keys));
	for (size_t i = 0; i < c->contents.keyring.n; i++)
		a->keys[a->nkeys++] = (char *)c->contents.keyring.v[i].s;
	for (size_t i = 0; i < o->nkeyrings; i++)
		a->keys[a->nkeys++] = o->keyrings[i];
	a->specs =
	        rpl_xcalloc(c->contents.repositories.n + o->nrepositories + 1, sizeof(*a->specs));
	for (size_t i = 0; i < c->contents.repositories.n; i++)
		a->specs[a->nspecs++] = (char *)c->contents.repositories.v[i].s;
	for (size_t i = 0; i < o->nrepositories; i++)
		a->specs[a->nspecs++] = o->repositories[i];
	a->repos = rpl_xcalloc(a->nspecs + 1, sizeof(*a->repos));
	a->refs = rpl_xcalloc(a->nspecs + 1, sizeof(*a->refs));
}

/*
 * What to install, as URLs in order: exactly what the lock file lists, in
 * its order (no resolution); else the package list resolved as apko does
 * against the repositories' indexes, read and verified here.
 */
static int resolve(struct assembly *a)
{
	const struct rpl_image_opts *o = a->o;
	const struct rpl_apko_config *c = a->c;
	int err = 0;

	if (o->lockfile) {
		if ((err = rpl_imglock_read(o->lockfile, a->img, o->arch, &a->locked, &a->nres)))
			return err;
		rpl_say("lock file %s: %zu packages for %s", o->lockfile, a->nres, o->arch);
		a->urls = rpl_xcalloc(a->nres + 1, sizeof(*a->urls));
		for (size_t i = 0; i < a->nres; i++)
			a->urls[i] = rpl_xstrdup(a->locked[i].url);
		return 0;
	}
	for (size_t i = 0; i < a->nspecs && !err; i++) {
		if (!(err = open_repo(&a->repos[i], a->specs[i], o->arch, o->cache_dir, a->keys,
		                      a->nkeys))) {
			a->refs[i].index = &a->repos[i].idx;
			a->refs[i].tag = a->repos[i].tag;
			rpl_say("repository %s: %zu packages", a->specs[i], a->repos[i].idx.npkgs);
		}
	}
	if (err)
		return err;
	a->world = rpl_xcalloc(c->contents.packages.n + 1, sizeof(*a->world));
	for (size_t i = 0; i < c->contents.packages.n; i++)
		a->world[i] = (char *)c->contents.packages.v[i].s;
	if ((err = rpl_image_resolve(a->refs, a->nspecs, o->arch, a->world, c->contents.packages.n,
	                             &a->res, &a->nres)))
		return err;
	a->urls = rpl_xcalloc(a->nres + 1, sizeof(*a->urls));
	for (size_t i = 0; i < a->nres; i++) {
		rpl_strbuf_reset(&a->t);
		rpl_strbuf_addf(&a->t, "%s/%s/%s-%s.apk", a->repos[a->res[i].repo].base, o->arch,
		                a->res[i].pkg->name, a->res[i].pkg->version);
		a->urls[i] = rpl_strbuf_detach(&a->t);
	}
	return 0;
}

/*
 * The skeleton, then the packages in order, each fetched and checked
 * against the index (or the lock file) as it is read, and installed into
 * the tree; what is installed is pinned as name=version for the world.
 */
static int fetch_and_install(struct assembly *a)
{
	const struct rpl_lock_pkg *locked = a->locked;
	int err = 0;

	skeleton(&a->f, a->o->arch);
	a->pkgs = rpl_xcalloc(a->nres + 1, sizeof(*a->pkgs));
	a->pinned = rpl_xcalloc(a->nres + 1, sizeof(*a->pinned));
	for (size_t i = 0; i < a->nres && !err; i++) {
		struct ipkg *pk = &a->pkgs[a->npk++];
		if ((err = fetch_apk(a->urls[i], a->o->cache_dir,
		                     locked ? "the lock file" : "the index",
		                     locked ? locked[i].checksum : a->res[i].pkg->checksum,
		                     locked ? locked[i].data_checksum : NULL, a->f.max, pk)) ||
		    (err = charge_scripts(&a->f, pk)))
			break;
		if (locked && (strcmp(pk->apk.pkgname, locked[i].name) ||
		               strcmp(pk->apk.pkgver, locked[i].version))) {
			err = rpl_error(-RPL_EPARSE, "%s: is %s-%s, the lock file says %s-%s",
			                pk->url, pk->apk.pkgname, pk->apk.pkgver, locked[i].name,
			                locked[i].version);
			break;
		}
		if ((err = install(&a->f, pk, (int)i, a->pkgs)))
			break;
		if (pk->apk.builddate > a->bde)
			a->bde = pk->apk.builddate;
		a->pinned[i] = rpl_strfmt("%s=%s", pk->apk.pkgname, pk->apk.pkgver);
		rpl_say("installed %s-%s", pk->apk.pkgname, pk->apk.pkgver);
	}
	return err;
}

/* --lockfile-out: what was installed, as apko's lock file. */
static int write_lock(struct assembly *a)
{
	struct rpl_lock_entry *le = rpl_xcalloc(a->npk + 1, sizeof(*le));
	int err;

	for (size_t i = 0; i < a->npk; i++) {
		le[i].url = a->urls[i];
		le[i].apk = &a->pkgs[i].apk;
	}
	err = rpl_imglock_write(a->o->lock_out, a->img, a->o->arch, a->keys, a->nkeys, a->specs,
	                        a->nspecs, le, a->npk);
	free(le);
	if (!err)
		rpl_say("locked %zu packages for %s in %s", a->npk, a->o->arch, a->o->lock_out);
	return err;
}

/*
 * What apko writes into the tree besides the packages: apk's database, the
 * world, the repositories, the keys, the accounts, etc/apko.json, the
 * config's paths, and /lib/apk.
 */
static int write_databases(struct assembly *a)
{
	struct fs *f = &a->f;
	const struct rpl_apko_config *c = a->c;
	struct rpl_strbuf *t = &a->t;
	int err;

	rpl_strbuf_reset(t);
	installed_db(f, a->pkgs, a->npk, t);
	if ((err = fs_file(f, "usr/lib/apk/db/installed", t->buf ? t->buf : "", t->len, 0644)) ||
	    (err = scripts_db(f, a->pkgs, a->npk, a->bde)))
		return err;
	rpl_strbuf_reset(t);
	for (size_t i = 0; i < a->nres; i++)
		rpl_strbuf_addf(t, "%s\n", a->pinned[i]);
	if ((err = fs_file(f, "etc/apk/world", t->len ? t->buf : "\n", t->len ? t->len : 1, 0644)))
		return err;
	rpl_strbuf_reset(t);
	for (size_t i = 0; i < c->contents.repositories.n; i++)
		rpl_strbuf_addf(t, "%s\n", c->contents.repositories.v[i].s);
	if ((err = fs_file(f, "etc/apk/repositories", t->buf ? t->buf : "", t->len, 0644)))
		return err;
	for (size_t i = 0; i < a->nkeys; i++) {
		char *text, *dst;
		size_t len;
		const char *base = strrchr(a->keys[i], '/');
		if ((err = rpl_read_file(a->keys[i], &text, &len)))
			return err; /* a key that cannot be read is an error, not a silent gap */
		dst = rpl_path_join("etc/apk/keys", base ? base + 1 : a->keys[i]);
		err = fs_file(f, dst, text, len, 0644);
		free(dst);
		free(text);
		if (err)
			return err;
	}
	if ((err = accounts(f, &c->accounts)))
		return err;
	{
		char *s = dumps(apko_json(c, a->oarch, a->pinned, a->nres, a->annotations));
		rpl_strbuf_reset(t);
		rpl_strbuf_addf(t, "%s\n", s);
		err = fs_file(f, "etc/apko.json", t->buf, t->len, 0444);
		free(s);
		if (err)
			return err;
	}
	if ((err = mutate_paths(f, c)))
		return err;
	if (!fs_get(f, "lib/apk") && !(fs_get(f, "lib") && fs_get(f, "lib")->type == '2')) {
		struct node *x = fs_put(f, "lib/apk", '2');
		if (!x)
			return rpl_error(-RPL_EPARSE, "cannot make /lib/apk: %s", rpl_errmsg());
		set_type(x, '2');
		x->mode = 0777;
		x->link = rpl_xstrdup("../usr/lib/apk");
	}
	return 0;
}

/*
 * The layer: what the SBOM needs read from the tree first (the layer lets
 * go of the files' contents), then the tar, its diff id, and the gzipped
 * blob in the layout, which is made here.
 */
static int write_layer(struct assembly *a)
{
	int err;

	rfc3339(a->bde, a->created, sizeof(a->created));
	sbom_inputs(&a->f, a->pkgs, a->npk, &a->sin);
	layer_tar(&a->f, &a->tar);
	digest_of(a->tar.buf, a->tar.len, a->diff_id);
	if ((err = rpl_gzip(a->tar.buf, a->tar.len, 1, &a->gz)))
		return err;
	a->layout = rpl_path_join(a->o->out_dir, a->img->name);
	snprintf(a->o->layout, sizeof(a->o->layout), "%s", a->layout);
	return put_blob(a->layout, a->gz.buf, a->gz.len, a->layer_digest);
}

/* The config's Env: K=V sorted, with apko's PATH and SSL_CERT_FILE unless set. */
static json_t *config_env(struct assembly *a)
{
	const struct rpl_apko_config *c = a->c;
	json_t *env = json_array();
	char **kv = rpl_xcalloc(c->environment.n + 3, sizeof(*kv));
	size_t nkv = 0;
	int has_path = 0, has_ssl = 0;

	for (size_t i = 0; i < c->environment.n; i++) {
		rpl_strbuf_reset(&a->t);
		rpl_strbuf_addf(&a->t, "%s=%s", c->environment.v[i].key.s,
		                c->environment.v[i].val.s);
		kv[nkv++] = rpl_strbuf_detach(&a->t);
		has_path |= !strcmp(c->environment.v[i].key.s, "PATH");
		has_ssl |= !strcmp(c->environment.v[i].key.s, "SSL_CERT_FILE");
	}
	if (!has_path)
		kv[nkv++] = rpl_xstrdup("PATH=/usr/local/sbin:/usr/local/bin:"
		                        "/usr/bin:/usr/sbin:/sbin:/bin");
	if (!has_ssl)
		kv[nkv++] = rpl_xstrdup("SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt");
	qsort(kv, nkv, sizeof(*kv), cmp_cstr);
	for (size_t i = 0; i < nkv; i++) {
		json_array_append_new(env, json_string(kv[i]));
		free(kv[i]);
	}
	free(kv);
	return env;
}

/*
 * The image config, as apko writes it: the arch, the history, the layer's
 * diff id, and the container's command, entrypoint, environment, labels
 * (the manifest's annotations, made here), user, directory and signal.
 */
static json_t *image_config(struct assembly *a)
{
	const struct rpl_apko_config *c = a->c;
	json_t *cfg = json_object(), *hist = json_array(), *rootfs = json_object(),
	       *inner = json_object();
	const char *title = json_string_value(
	                   json_object_get(a->annotations, "org.opencontainers.image.title")),
	           *vendor = json_string_value(
	                   json_object_get(a->annotations, "org.opencontainers.image.vendor"));

	/* The manifest's annotations, which the config repeats as its labels. */
	a->labels = json_deep_copy(a->annotations);
	json_object_set_new(a->labels, "org.opencontainers.image.created", json_string(a->created));
	a->labels = sorted(a->labels);
	rpl_strbuf_reset(&a->t);
	if (title && vendor)
		rpl_strbuf_addf(&a->t, "%s by %s", title, vendor);
	else
		rpl_strbuf_addstr(&a->t, "This is a ripple single-layer image");
	json_object_set_new(cfg, "architecture", json_string(a->oarch));
	json_object_set_new(cfg, "author", json_string("ripple"));
	json_object_set_new(cfg, "created", json_string(a->created));
	json_array_append_new(hist,
	                      json_pack("{s:s,s:s,s:s,s:s}", "author", "ripple", "created",
	                                a->created, "created_by", "ripple", "comment", a->t.buf));
	json_object_set_new(cfg, "history", hist);
	json_object_set_new(cfg, "os", json_string("linux"));
	json_object_set_new(rootfs, "type", json_string("layers"));
	json_object_set_new(rootfs, "diff_ids", json_pack("[s]", a->diff_id));
	json_object_set_new(cfg, "rootfs", rootfs);
	if (*c->cmd.s)
		json_object_set_new(inner, "Cmd", words(c->cmd.s));
	/* apko: a shell fragment runs under /bin/sh -c, before any command. */
	if (*c->entrypoint.shell_fragment.s)
		json_object_set_new(
		        inner, "Entrypoint",
		        json_pack("[sss]", "/bin/sh", "-c", c->entrypoint.shell_fragment.s));
	else if (*c->entrypoint.command.s)
		json_object_set_new(inner, "Entrypoint", words(c->entrypoint.command.s));
	json_object_set_new(inner, "Env", config_env(a));
	json_object_set(inner, "Labels", a->labels);
	if (*c->accounts.run_as.s)
		json_object_set_new(inner, "User", json_string(c->accounts.run_as.s));
	if (*c->work_dir.s)
		json_object_set_new(inner, "WorkingDir", json_string(c->work_dir.s));
	if (*c->stop_signal.s)
		json_object_set_new(inner, "StopSignal", json_string(c->stop_signal.s));
	json_object_set_new(cfg, "config", inner);
	if (a->variant)
		json_object_set_new(cfg, "variant", json_string(a->variant));
	return cfg;
}

/*
 * The config and the manifest as blobs (the manifest's digest into
 * o->digest), the arch's SBOM, and the manifest in the layout's index.
 */
static int write_manifest(struct assembly *a)
{
	const struct rpl_image_opts *o = a->o;
	char *cs = dumps(image_config(a)), *ms;
	size_t clen = strlen(cs), mlen;
	json_t *m, *layers;
	int err;

	err = put_blob(a->layout, cs, clen, a->config_digest);
	free(cs);
	if (err)
		return err;
	m = json_object();
	json_object_set_new(m, "schemaVersion", json_integer(2));
	json_object_set_new(m, "mediaType",
	                    json_string("application/vnd.oci.image.manifest.v1+json"));
	json_object_set_new(
	        m, "config",
	        descriptor("application/vnd.oci.image.config.v1+json", clen, a->config_digest));
	layers = json_array();
	json_array_append_new(layers, descriptor("application/vnd.oci.image.layer.v1.tar+gzip",
	                                         a->gz.len, a->layer_digest));
	json_object_set_new(m, "layers", layers);
	json_object_set(m, "annotations", a->labels);
	ms = dumps(m);
	mlen = strlen(ms);
	if (!(err = put_blob(a->layout, ms, mlen, a->o->digest)) &&
	    !(err = image_sbom(&a->sin, a->img->name, a->layout, o->arch, a->variant, o->digest,
	                       a->layer_digest, a->bde, a->c->vcs_url.s)))
		err = update_index(a->layout, a->img->name, o->tag, o->arch, a->variant, o->digest,
		                   mlen, a->annotations, a->created, a->sin.name, a->c->vcs_url.s);
	free(ms);
	return err;
}

/*
 * What else the layout keeps of this arch: <arch>.entry.json, and
 * <arch>.manifest, what the scheduler checks for (this arch's manifest, by
 * digest); then --docker-archive's tarball.
 */
static int write_outputs(struct assembly *a)
{
	const struct rpl_image_opts *o = a->o;
	char *mf;
	int err;

	if ((err = write_entry(a->layout, o->arch, a->img->name, a->annotations, a->created,
	                       a->sin.name, a->c->vcs_url.s)))
		return err;
	rpl_strbuf_reset(&a->t);
	rpl_strbuf_addf(&a->t, "%s.manifest", o->arch);
	mf = rpl_path_join(a->layout, a->t.buf);
	rpl_strbuf_reset(&a->t);
	rpl_strbuf_addf(&a->t, "%s\n", o->digest);
	err = rpl_write_file_atomic(mf, a->t.buf, a->t.len);
	free(mf);
	rpl_say("image %s:%s for %s: manifest %s, layer %s (%zu bytes), %zu packages", a->img->name,
	        o->tag, a->oarch, o->digest, a->layer_digest, a->gz.len, a->nres);
	if (!err && o->docker_archive) {
		rpl_strbuf_reset(&a->t);
		rpl_strbuf_addf(&a->t, "%s:%s", a->img->name, o->tag);
		if (!(err = docker_archive(o->docker_archive, a->layout, a->config_digest,
		                           a->layer_digest, a->t.buf)))
			rpl_say("docker-archive %s: %s for %s", o->docker_archive, a->t.buf,
			        a->oarch);
	}
	return err;
}

static void assembly_release(struct assembly *a)
{
	for (size_t i = 0; i < a->npk; i++) {
		rpl_apk_release(&a->pkgs[i].apk);
		free(a->pkgs[i].file);
		for (size_t k = 0; k < a->pkgs[i].npaths; k++) {
			free(a->pkgs[i].paths[k].name);
			free(a->pkgs[i].paths[k].where);
		}
		free(a->pkgs[i].paths);
	}
	for (size_t i = 0; a->pinned && i < a->nres; i++)
		free(a->pinned[i]);
	for (size_t i = 0; a->urls && i < a->nres; i++)
		free(a->urls[i]);
	free(a->urls);
	rpl_imglock_free(a->locked, a->locked ? a->nres : 0);
	json_decref(a->annotations);
	json_decref(a->labels);
	sbom_inputs_release(&a->sin);
	for (size_t i = 0; i < a->nspecs; i++) {
		if (a->repos[i].loaded)
			rpl_apkindex_release(&a->repos[i].idx);
		free(a->repos[i].where);
		free(a->repos[i].base);
		free(a->repos[i].tag);
	}
	free(a->pinned);
	free(a->pkgs);
	free(a->res);
	free(a->world);
	free(a->repos);
	free(a->refs);
	free(a->keys);
	free(a->specs);
	free(a->layout);
	fs_release(&a->f);
	rpl_strbuf_release(&a->tar);
	rpl_strbuf_release(&a->gz);
	rpl_strbuf_release(&a->t);
	rpl_image_free(a->img);
}

int rpl_image_build(struct rpl_image_opts *o)
{
	const char *env_sde = getenv("SOURCE_DATE_EPOCH");
	struct assembly a;
	int err;

	memset(&a, 0, sizeof(a));
	a.o = o;
	a.f.max = o->max_size ? o->max_size : RPL_IMAGE_MAX_SIZE;
	if (!(a.img = rpl_image_load(o->file)))
		return -RPL_ESCHEMA;
	a.c = &a.img->config;
	a.oarch = oci_arch(o->arch, &a.variant);
	if ((err = check_supported(&a)) || (err = image_annotations(&a)))
		goto out;
	keys_and_repositories(&a);
	if ((err = resolve(&a)) || (err = fetch_and_install(&a)))
		goto out;
	if (o->lock_out && (err = write_lock(&a)))
		goto out;
	qsort(a.pinned, a.nres, sizeof(*a.pinned), cmp_str);
	/* SOURCE_DATE_EPOCH: the option, the environment, else the newest package. */
	a.bde = o->source_date_epoch >= 0 ? o->source_date_epoch
	        : env_sde && *env_sde     ? strtoll(env_sde, NULL, 10)
	                                  : a.bde;
	if (!(err = write_databases(&a)) && !(err = write_layer(&a)) && !(err = write_manifest(&a)))
		err = write_outputs(&a);
out:
	assembly_release(&a);
	return err;
}
