#define _GNU_SOURCE /* O_PATH */
#include "runners/extract.h"
#include "common/error.h"
#include "common/file.h"
#include "common/strbuf.h"
#include "common/xalloc.h"
#include "runners/workspace.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Whether an entry name stays inside where it is unpacked. */
static int safe_name(const char *name)
{
	if (!name || name[0] == '/')
		return 0;
	for (const char *p = name; p; p = strchr(p, '/') ? strchr(p, '/') + 1 : NULL)
		if (p[0] == '.' && p[1] == '.' && (p[2] == '/' || !p[2]))
			return 0;
	return 1;
}

/* `name` without its first `strip` components; NULL when nothing is left. */
static const char *stripped(const char *name, int strip)
{
	for (int i = 0; i < strip && name; i++) {
		const char *s = strchr(name, '/');
		name = s && s[1] ? s + 1 : NULL;
	}
	return name && *name ? name : NULL;
}

static const char *kind_of(unsigned type)
{
	switch (type) {
	case AE_IFCHR:
		return "a character device";
	case AE_IFBLK:
		return "a block device";
	case AE_IFIFO:
		return "a FIFO";
	case AE_IFSOCK:
		return "a socket";
	default:
		return "of an unknown type";
	}
}

struct unpack {
	struct archive *a, *w;
	const char *what; /* the archive's name, for messages */
	const struct rpl_extract_opts *o;
	uint64_t max_size, max_ratio, floor, written;
	int destfd;
	char dest[PATH_MAX];
};

/* The bytes written so far are within both limits. */
static int within_limits(struct unpack *u, const char *entry)
{
	la_int64_t read = archive_filter_bytes(u->a, -1);

	if (u->written > u->max_size)
		return rpl_error(-EFBIG,
		                 "'%s' unpacks to more than %llu bytes (at %s): refused "
		                 "(--max-extract-size)",
		                 u->what, (unsigned long long)u->max_size, entry);
	if (u->max_ratio != UINT64_MAX && u->written > u->floor &&
	    u->written / (uint64_t)(read > 0 ? read : 1) > u->max_ratio)
		return rpl_error(-EFBIG,
		                 "'%s' unpacks to %llu bytes from %lld (at %s), more than %llu "
		                 "times its size: a decompression bomb? (--max-extract-ratio)",
		                 u->what, (unsigned long long)u->written, (long long)read, entry,
		                 (unsigned long long)u->max_ratio);
	return 0;
}

static int write_error(struct unpack *u, const char *entry)
{
	int e = archive_errno(u->w);

	if (e > 0)
		return rpl_error(-e, "cannot unpack '%s' of '%s': %s", entry, u->what, strerror(e));
	return rpl_error(-RPL_ELIB, "cannot unpack '%s' of '%s': %s", entry, u->what,
	                 archive_error_string(u->w));
}

/* A hard link's target must be a file this archive already unpacked, reached through no link. */
static int check_hardlink(struct unpack *u, const char *name, const char *target)
{
	struct stat st;
	int fd, err = rpl_ws_open(u->destfd, target, O_PATH, &fd);

	if (err == -ENOENT)
		return rpl_error(-RPL_EPARSE, "'%s': %s is a hard link to '%s', which is not there",
		                 u->what, name, target);
	if (err == -ELOOP)
		return rpl_error(-RPL_EPARSE,
		                 "'%s': %s is a hard link to '%s', which is (or goes through) a "
		                 "symbolic link",
		                 u->what, name, target);
	if (err)
		return rpl_error(-RPL_EPARSE,
		                 "'%s': %s is a hard link to '%s', which is not inside the archive "
		                 "(%s)",
		                 u->what, name, target, strerror(-err));
	err = fstat(fd, &st) < 0 ? -errno : 0;
	close(fd);
	if (!err && !S_ISREG(st.st_mode))
		err = rpl_error(-RPL_EPARSE, "'%s': %s is a hard link to '%s', which is not a file",
		                u->what, name, target);
	return err;
}

static int unpack_named(struct unpack *u, struct archive_entry *e, const char *name);

static int unpack_entry(struct unpack *u, struct archive_entry *e)
{
	/* Kept: setting the entry's path below frees the one it had. */
	char *own = rpl_xstrdup(archive_entry_pathname(e) ? archive_entry_pathname(e) : "");
	int err = unpack_named(u, e, stripped(own, u->o->strip));

	free(own);
	return err;
}

static int unpack_named(struct unpack *u, struct archive_entry *e, const char *name)
{
	const char *link = archive_entry_hardlink(e);
	unsigned type = archive_entry_filetype(e);
	struct rpl_strbuf p = RPL_STRBUF_INIT;
	uint64_t declared;
	int err = 0, rc;

	/* A header's worth for each entry: an archive of empty files is bounded too. */
	u->written += 512;
	if ((err = within_limits(u, name ? name : "the first entries")))
		return err;
	if (!name || (u->o->skip_dotfiles && name[0] == '.'))
		return 0;
	if (!safe_name(name))
		return rpl_error(-RPL_EPARSE, "'%s' has an entry outside its directory: %s",
		                 u->what, name);
	if (link) {
		const char *t = stripped(link, u->o->strip);
		if (!t || !safe_name(t))
			return rpl_error(-RPL_EPARSE,
			                 "'%s': %s is a hard link outside its directory: %s",
			                 u->what, name, link);
		if ((err = check_hardlink(u, name, t)))
			return err;
		rpl_strbuf_addf(&p, "%s/%s", u->dest, t);
		archive_entry_set_hardlink(e, p.buf);
		rpl_strbuf_reset(&p);
	} else if (type != AE_IFREG && type != AE_IFDIR && type != AE_IFLNK) {
		return rpl_error(-RPL_EPARSE, "'%s': %s is %s: refused", u->what, name,
		                 kind_of(type));
	}
	/* Nothing unpacked here runs with another's rights. */
	archive_entry_set_perm(e, archive_entry_perm(e) & 01777);
	rpl_strbuf_addf(&p, "%s/%s", u->dest, name);
	archive_entry_set_pathname(e, p.buf);
	/* A file is as long as it says, whatever data follows (libarchive
	 * extends it to that size): the size limit counts that first. */
	declared = type == AE_IFREG && !link && archive_entry_size(e) > 0
	                   ? (uint64_t)archive_entry_size(e)
	                   : 0;
	if (declared > u->max_size - u->written)
		err = rpl_error(-EFBIG,
		                "'%s' unpacks to more than %llu bytes (at %s): refused "
		                "(--max-extract-size)",
		                u->what, (unsigned long long)u->max_size, name);
	/* libarchive reports a failed write(2) as a mere warning: any is an error here. */
	else if (archive_write_header(u->w, e) != ARCHIVE_OK)
		err = write_error(u, name);
	if (!err && declared) {
		const void *buf;
		size_t len;
		la_int64_t off;
		uint64_t data = 0;
		while (!err &&
		       (rc = archive_read_data_block(u->a, &buf, &len, &off)) == ARCHIVE_OK) {
			u->written += len;
			data += len;
			if (!(err = within_limits(u, name)) &&
			    archive_write_data_block(u->w, buf, len, off) != ARCHIVE_OK)
				err = write_error(u, name);
		}
		if (!err && rc != ARCHIVE_EOF)
			err = rpl_error(-RPL_EPARSE, "cannot unpack '%s': %s", u->what,
			                archive_error_string(u->a));
		/* What the data left out (holes, a short entry) is still the file's. */
		if (!err && data < declared) {
			u->written += declared - data;
			err = within_limits(u, name);
		}
	}
	if (archive_write_finish_entry(u->w) != ARCHIVE_OK && !err)
		err = write_error(u, name);
	rpl_strbuf_release(&p);
	return err;
}

static int unpack(struct unpack *u, const char *dest)
{
	struct archive_entry *e;
	int err, rc = ARCHIVE_OK;

	u->max_size = u->o->max_size ? u->o->max_size : RPL_EXTRACT_MAX_SIZE;
	u->max_ratio = u->o->max_ratio ? u->o->max_ratio : RPL_EXTRACT_MAX_RATIO;
	u->floor = u->o->ratio_floor ? u->o->ratio_floor : RPL_EXTRACT_RATIO_FLOOR;
	/* The physical path: libarchive refuses to write through a link on the way. */
	if ((err = rpl_mkdirs(dest)))
		return err;
	if (!realpath(dest, u->dest))
		return rpl_error(-errno, "cannot resolve '%s': %s", dest, strerror(errno));
	if ((u->destfd = open(u->dest, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return rpl_error(-errno, "cannot open '%s': %s", u->dest, strerror(errno));
	archive_write_disk_set_options(u->w, ARCHIVE_EXTRACT_TIME | ARCHIVE_EXTRACT_PERM |
	                                             ARCHIVE_EXTRACT_SECURE_NODOTDOT |
	                                             ARCHIVE_EXTRACT_SECURE_SYMLINKS);
	while (!err && (rc = archive_read_next_header(u->a, &e)) == ARCHIVE_OK)
		err = unpack_entry(u, e);
	if (!err && rc != ARCHIVE_EOF)
		err = rpl_error(-RPL_EPARSE, "cannot unpack '%s': %s", u->what,
		                archive_error_string(u->a));
	close(u->destfd);
	return err;
}

static int run(struct archive *a, int opened, const char *what, const char *dest,
               const struct rpl_extract_opts *o)
{
	static const struct rpl_extract_opts none;
	struct unpack u;
	int err;

	memset(&u, 0, sizeof(u));
	u.a = a;
	u.w = archive_write_disk_new();
	u.what = what;
	u.o = o ? o : &none;
	u.destfd = -1;
	if (opened != ARCHIVE_OK)
		err = rpl_error(-RPL_EPARSE, "cannot unpack '%s': %s", what,
		                archive_error_string(a));
	else
		err = unpack(&u, dest);
	archive_read_free(a);
	archive_write_free(u.w);
	return err;
}

static struct archive *reader(void)
{
	struct archive *a = archive_read_new();

	archive_read_support_filter_all(a);
	archive_read_support_format_all(a);
	return a;
}

int rpl_extract(const char *path, const char *dest, const struct rpl_extract_opts *o)
{
	struct archive *a = reader();

	return run(a, archive_read_open_filename(a, path, 65536), o && o->what ? o->what : path,
	           dest, o);
}

int rpl_extract_memory(const void *data, size_t len, const char *name, const char *dest,
                       const struct rpl_extract_opts *o)
{
	struct archive *a = reader();

	return run(a, archive_read_open_memory(a, data, len), name, dest, o);
}
