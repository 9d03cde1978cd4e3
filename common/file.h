/*
 * Whole-file reads, atomic writes and path helpers.
 */
#ifndef RPL_FILE_H
#define RPL_FILE_H

#include <stddef.h>

/*
 * Reads `path` into a malloc'd, NUL-terminated buffer (*len excludes the
 * NUL).  Only a regular file (or a link to one) is read: anything else (a
 * FIFO would block, /dev/zero never ends) is refused with -EINVAL, a
 * directory with -EISDIR.  Returns 0 or -errno with the message set.
 */
int rpl_read_file(const char *path, char **buf, size_t *len);

/* The same, and a file of more than `max` bytes is refused with -EFBIG. */
int rpl_read_file_max(const char *path, size_t max, char **buf, size_t *len);

/*
 * Opens `path` for reading if it is a regular file (or a link to one) and
 * returns the descriptor; otherwise -errno with the message set, as
 * rpl_read_file refuses.  A FIFO cannot block it and a device is not opened.
 */
int rpl_open_regular(const char *path);

/* What a file of `mode` (st_mode) is, for messages: "a FIFO", "a directory". */
const char *rpl_file_kind(unsigned mode);

/*
 * Checks that `path`, every symbolic link in it resolved, is `real_root`
 * (an absolute path from realpath()) or below it.  Returns 0, -EXDEV with
 * "'path' leads to '...', outside the repository", or the error of
 * resolving it.
 */
int rpl_path_check_inside(const char *real_root, const char *path);

/*
 * Writes `n` bytes to `path` through a temporary file in the same directory,
 * fsync and rename, so readers see the old or the new contents, never a mix.
 */
int rpl_write_file_atomic(const char *path, const void *p, size_t n);
/* The same, the file created with `mode` (less the umask) from the start. */
int rpl_write_file_atomic_mode(const char *path, const void *p, size_t n, unsigned mode);

/*
 * The same from `nparts` pieces, with or without the fsync (`sync`): a
 * cache that checks itself when read can skip it, a torn copy costing only
 * its rebuild.
 */
struct iovec;
int rpl_write_file_atomic_v(const char *path, const struct iovec *parts, size_t nparts,
                            unsigned mode, int sync);

/* "a" + "/" + "b" without doubling the slash; "b" alone when it is absolute
 * or `a` is "." or empty.  malloc'd. */
char *rpl_path_join(const char *a, const char *b);

/* mkdir -p: `path` and its missing parents (0755).  Returns 0 or an error. */
int rpl_mkdirs(const char *path);

/* Whether `s` ends with `suffix`. */
int rpl_str_endswith(const char *s, const char *suffix);
int rpl_str_startswith(const char *s, const char *prefix);

/* The directory part of `path` ("." when it has none); malloc'd. */
char *rpl_path_dirname(const char *path);

/* Whether a location (a repository, an index, an apk) is an http:// or
 * https:// URL rather than a path; the scheme's case does not matter. */
int rpl_is_url(const char *s);

/*
 * A file written into a directory under a temporary name while its bytes
 * are hashed, then kept under a name known only at the end (its digest, in
 * a content-addressed cache) or removed: what a download is written into.
 */
struct rpl_hashed_file {
	int fd;
	void *md;   /* EVP_MD_CTX */
	char *path; /* the temporary name, until kept */
};

/* Starts "<dir>/.download.<pid>", hashing with SHA-512 when `sha512`, else SHA-256. */
int rpl_hashed_file_open(struct rpl_hashed_file *f, const char *dir, int sha512);
/* Appends `n` bytes (an rpl_http sink: `f` is the rpl_hashed_file). Returns 0 or -errno. */
int rpl_hashed_file_write(void *f, const void *p, size_t n);
/* Closes the file and puts the digest in `hex` (lowercase, 129 bytes will do). */
int rpl_hashed_file_finish(struct rpl_hashed_file *f, char *hex);
/* Renames the finished file to `dest`. */
int rpl_hashed_file_keep(struct rpl_hashed_file *f, const char *dest);
/* Removes what was not kept and frees the rest; safe after a failed open. */
void rpl_hashed_file_release(struct rpl_hashed_file *f);

#endif
