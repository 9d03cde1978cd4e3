/*
 * The `fetch` step of the native builder: a source downloaded through
 * common/http.h (or taken from a mirror), its digest checked, kept in a
 * content-addressed cache under .ripple/cache (rpl_fetch_cached(), declared
 * in runners/native.h), copied into the workspace and unpacked there.
 */
#ifndef RPL_FETCH_H
#define RPL_FETCH_H

struct rpl_build;
struct rpl_cstep;

/*
 * Runs the fetch step `s` in the working directory `wd` (under
 * /home/build).  Returns 0, or an error (a missing digest, a mismatch, a
 * refused uri or mirror, a download or unpacking failure).
 */
int rpl_fetch_step(struct rpl_build *b, const struct rpl_cstep *s, const char *wd);

/* Whether the path `p` has a ".." component (a mirrored uri's rest must not). */
int rpl_fetch_has_dotdot(const char *p);

#endif
