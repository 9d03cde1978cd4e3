/*
 * What the unit tests share: a temporary directory, and writing the files
 * of a monorepo under it.  Failures of rpl_test_write_file end the current
 * cmocka test with a message.
 */
#ifndef RPL_TESTLIB_H
#define RPL_TESTLIB_H

/* Writes `text` to `root`/`rel`, creating the directories on the way. */
void rpl_test_write_file(const char *root, const char *rel, const char *text);

#include <stddef.h>

/*
 * Makes a fresh directory "$TMPDIR/rpl-<tag>-XXXXXX" (TMPDIR defaults to
 * /tmp) and puts its path in `out`.  Returns 0, or -1 with errno set.
 */
int rpl_test_mkdtemp(char *out, size_t n, const char *tag);

/*
 * Removes the tree at `path` (nothing when `path` is empty).  Returns 0, or
 * -1 after printing why.
 */
int rpl_test_remove_tree(const char *path);

#endif
