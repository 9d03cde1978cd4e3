/*
 * What the unit tests share: writing the files of a monorepo under a temp
 * directory.  Failures end the current cmocka test with a message.
 */
#ifndef RPL_TESTLIB_H
#define RPL_TESTLIB_H

/* Writes `text` to `root`/`rel`, creating the directories on the way. */
void rpl_test_write_file(const char *root, const char *rel, const char *text);

#endif
