/*
 * The `git-checkout` step of the native builder: a repository cloned with
 * libgit2 (from a mirror directory when one has it) beside the workspace,
 * the tag, branch and expected commit checked, then moved in.
 */
#ifndef RPL_GITCHECKOUT_H
#define RPL_GITCHECKOUT_H

struct rpl_build;
struct rpl_cstep;

/*
 * Runs the git-checkout step `s` in the working directory `wd` (under
 * /home/build).  Returns 0, or an error (a refused repository, a clone that
 * failed, a missing tag, another commit than the expected one).
 */
int rpl_git_checkout_step(struct rpl_build *b, const struct rpl_cstep *s, const char *wd);

#endif
