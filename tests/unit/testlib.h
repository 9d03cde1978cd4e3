/*
 * What the unit tests share: a temporary directory, writing the files of a
 * monorepo under it, and skipping cases that lack what they need.
 * Failures of rpl_test_write_file end the current cmocka test with a
 * message.
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

/*
 * Skips the current cmocka test for the reason `fmt` (printed on stderr
 * as "SKIP: <reason>") and counts it for rpl_test_result.  Every skip goes
 * through here, so that a test with skipped cases is reported skipped, not
 * passed (docs/testing.md).
 */
void rpl_test_skip(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/*
 * What a test's main returns once its groups ran with `failed` failures:
 * `failed` when there are any; else, when cases were skipped, 77 (ctest's
 * SKIP_RETURN_CODE for unit tests) after printing how many; else 0.
 */
int rpl_test_result(int failed);

/*
 * The value of header `name` (case-insensitive) in an HTTP message head
 * (the lines after the first), in `out`; "" when there is none.  For the
 * tests that play an HTTP server.
 */
void rpl_test_http_header(const char *head, const char *name, char *out, size_t n);

#endif
