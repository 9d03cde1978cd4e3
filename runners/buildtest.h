/*
 * A package's test run by the native builder (`--test`), as `melange test`
 * runs it: the test pipeline in a fresh workspace with the package and
 * what it needs installed in the sandbox.
 */
#ifndef RPL_BUILDTEST_H
#define RPL_BUILDTEST_H

struct rpl_build;
struct rpl_ctest;

/* Runs the test `t` of a package this build wrote; returns 0 when it passed, or an error. */
int rpl_buildtest_run(struct rpl_build *b, const struct rpl_ctest *t);

#endif
