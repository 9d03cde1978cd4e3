/*
 * The executor `ripple build` runs its jobs with (runners/executor.h):
 * --executor, else .ripple.yaml's `executor:`, else local; the Slurm
 * executor's settings come from .ripple.yaml's `slurm:` section.
 */
#ifndef RPL_BUILDEXEC_H
#define RPL_BUILDEXEC_H

#include <stddef.h>

struct rpl_executor;
struct rpl_recipe_summary;
struct rpl_repoconfig;

struct rpl_buildexec {
	struct rpl_executor *x;
	int slurm;
	/* what the Slurm executor's options point at */
	char **archs, **partitions;
	size_t npartitions;
	char **args;
	size_t nargs;
};

/*
 * Makes the executor: `name` ("local", "slurm"; NULL: the config's, else
 * local) for the monorepo at the absolute path `root`, which builds for
 * `archs`.  Returns 0, or an error with its message: a name that is not an
 * executor, a `slurm:` setting that is wrong (at its file:line:col), an
 * arch the `slurm: partitions:` map leaves out.
 */
int rpl_buildexec_open(struct rpl_buildexec *be, const char *name, const struct rpl_repoconfig *cfg,
                       const char *root, const char *const *archs, size_t narchs);

/*
 * Whether the executor can run `r`'s jobs as written: for Slurm, its
 * `resources:` cpu and memory are quantities.  Returns 0 or an error with
 * "file:line:col: ...".
 */
int rpl_buildexec_check_recipe(const struct rpl_buildexec *be, const struct rpl_recipe_summary *r);

/*
 * Before the first job: Slurm's srun answers, the jobs that killed runs of
 * this monorepo left in Slurm are cancelled (said on stdout), and when
 * `jobs` is not NULL it gets how many jobs the partitions of `archs` hold
 * at once (the default -j, said on stdout).  The local executor has
 * nothing to check and leaves *jobs.  Returns 0 or an error.
 */
int rpl_buildexec_ready(struct rpl_buildexec *be, const char *const *archs, size_t narchs,
                        size_t *jobs);

void rpl_buildexec_release(struct rpl_buildexec *be);

#endif
