/*
 * Executors: where a runner's commands run.  The runner (runners/runner.h)
 * decides what a job runs (melange, apko, ripple's own native tools); the
 * executor underneath decides where.  `local` runs the command as a child
 * of ripple, as it always did.  `slurm` runs the same command as a Slurm
 * job through srun: on a node of the arch's partition, with the recipe's
 * CPUs and memory, its output streamed back into the job's log, its exit
 * status returned as srun's.  Either way ripple watches one local process
 * per job; an executor only rewrites the command line, reads the exit of
 * what it wrapped, and stops what the command started elsewhere.
 *
 * The monorepo is the shared directory: a Slurm node runs the job in the
 * same path (srun --chdir), writes its outputs and log there, and ripple
 * checks and indexes them as it does for local jobs (docs/distributed.md).
 */
#ifndef RPL_EXECUTOR_H
#define RPL_EXECUTOR_H

#include <stddef.h>
#include <stdint.h>

struct rpl_run_job;
struct rpl_strbuf;

struct rpl_executor {
	const char *name; /* "local", "slurm" */
	/*
	 * The command that runs `argv` for `job` (NULL-terminated, malloc'd,
	 * freed with rpl_argv_free); `argv` stays the caller's.  NULL with an
	 * error message when the job cannot be run this way.  NULL hook: `argv`
	 * itself runs.
	 */
	char **(*wrap)(struct rpl_executor *x, const struct rpl_run_job *job, char *const *argv);
	/*
	 * The wrapper's exit as the wrapped command's: a wrapper that reports
	 * its command's death by signal N as status 128+N hands back *sig = N
	 * and *status = 0.  NULL hook: the exit is the command's.
	 */
	void (*exited)(struct rpl_executor *x, int64_t *status, int *sig);
	/*
	 * Why a wrapped command that failed never ran, from the end of the
	 * job's log (`tail`): 1 with a message in `out`, or 0.
	 */
	int (*explain)(struct rpl_executor *x, const char *tail, char *out, size_t n);
	/*
	 * Stops what runs elsewhere for `job`, before its local process is
	 * signalled.  Best effort: what goes wrong is written to `log_fd`.
	 */
	void (*cancel)(struct rpl_executor *x, const struct rpl_run_job *job, int log_fd);
	void (*free)(struct rpl_executor *x);
};

/* The local executor: commands run here, as they are.  Never NULL. */
struct rpl_executor *rpl_executor_local_new(void);

/*
 * The Slurm executor.  Each job runs as
 *
 *   srun --job-name=<name>@<arch> --comment='ripple <kind> <host>:<pid> <workdir>'
 *        [--partition=<the arch's>] --nodes=1 --ntasks=1 --cpus-per-task=C
 *        [--mem=M] [--time=T] --nice=N --chdir=<workdir> [args...] <command>
 *
 * with C and M from the job's resources (else the defaults here), T a
 * minute past the job's timeout, and N lower for jobs of higher priority.
 */
struct rpl_slurm_opts {
	const char *workdir; /* absolute; the same path on every node */
	/* partition per arch: archs[i] runs in partitions[i]; an arch not
	 * listed runs in the cluster's default partition */
	char *const *archs;
	char *const *partitions;
	size_t npartitions;
	const char *cpu;    /* for jobs without resources: CPUs ("1" when NULL) */
	const char *memory; /* and memory ("4Gi"; NULL: the cluster's default) */
	char *const *args;  /* more srun arguments, before the command */
	size_t nargs;
	/* The Slurm programs (NULL: srun, squeue, scancel, sinfo on PATH). */
	const char *srun, *squeue, *scancel, *sinfo;
};

/* Returns 0 and the executor in *out, or an error (a bad cpu or memory default). */
int rpl_executor_slurm_new(const struct rpl_slurm_opts *o, struct rpl_executor **out);

/*
 * How many jobs of the default size the partitions of `archs` hold at once:
 * the CPUs of their nodes that are up (each node counted once), divided by
 * the default CPUs per job, at least 1.  Asks sinfo.  Returns 0 or an
 * error (sinfo failed: its message).
 */
int rpl_slurm_capacity(struct rpl_executor *x, char *const *archs, size_t narchs, size_t *jobs);

/*
 * Cancels the Slurm jobs that runs of ripple killed outright left behind:
 * jobs of this user whose comment names this host, this workdir and a pid
 * that is no live process.  *n gets how many.  Returns 0 or an error
 * (squeue or scancel failed: their message).
 */
int rpl_slurm_cancel_orphans(struct rpl_executor *x, size_t *n);

/* The partition `arch` runs in, or NULL (the cluster's default). */
const char *rpl_slurm_partition(const struct rpl_executor *x, const char *arch);

/*
 * A Kubernetes-style CPU quantity ("2", "1.5", "500m") as Slurm's
 * --cpus-per-task: rounded up, at least 1.  Returns 0 or -RPL_EUSAGE.
 */
int rpl_slurm_cpus(const char *q, long *out);

/*
 * A Kubernetes-style memory quantity ("4Gi", "512Mi", "2G", "1500M",
 * "1000000" bytes) as Slurm's --mem in MiB, rounded up, at least 1.
 * Returns 0 or -RPL_EUSAGE.
 */
int rpl_slurm_mem_mib(const char *q, uint64_t *out);

/*
 * Runs `argv` (PATH searched) with stdin from /dev/null, its stdout and
 * stderr together appended to `out`, and waits for it.  Returns its exit
 * status (0-255; 128+N for a signal), or an error when it cannot start.
 */
int rpl_exec_capture(char *const *argv, struct rpl_strbuf *out);

#endif
