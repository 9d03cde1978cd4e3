/*
 * Whole-file reads, atomic writes and path helpers.
 */
#ifndef RPL_FILE_H
#define RPL_FILE_H

#include <stddef.h>

/*
 * Reads `path` into a malloc'd, NUL-terminated buffer (*len excludes the
 * NUL).  Returns 0 or -errno with the message set.
 */
int rpl_read_file(const char *path, char **buf, size_t *len);

/*
 * Writes `n` bytes to `path` through a temporary file in the same directory,
 * fsync and rename, so readers see the old or the new contents, never a mix.
 */
int rpl_write_file_atomic(const char *path, const void *p, size_t n);
/* The same, the file created with `mode` (less the umask) from the start. */
int rpl_write_file_atomic_mode(const char *path, const void *p, size_t n, unsigned mode);

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

#endif
