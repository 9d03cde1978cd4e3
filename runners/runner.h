/*
 * The runner interface: how the scheduler has a job built without knowing
 * what builds it (docs/architecture.md, Runners).  A runner starts a job on the
 * scheduler's libuv loop and calls `done` exactly once, from the loop, when
 * it has finished, failed, timed out or been cancelled; everything it
 * started (processes, timers) is gone by then.
 */
#ifndef RPL_RUNNER_H
#define RPL_RUNNER_H

#include <stddef.h>
#include <uv.h>

enum rpl_run_status {
	RPL_RUN_OK,
	RPL_RUN_FAILED,    /* the build failed, or produced less than it must */
	RPL_RUN_CRASHED,   /* the runner itself died (a signal nobody sent): worth a retry */
	RPL_RUN_TIMEOUT,   /* it ran past its timeout and was stopped */
	RPL_RUN_CANCELLED, /* stopped on request (an interrupt) */
};

const char *rpl_run_status_name(enum rpl_run_status s);

/* One job as a runner sees it.  Paths are relative to the monorepo root. */
struct rpl_run_job {
	const char *kind; /* "package" or "image" */
	const char *name;
	const char *arch;
	const char *file;       /* the melange recipe or apko config */
	const char *source_dir; /* packages */
	char *const *env_files; /* packages: the arch's env files */
	size_t nenv_files;
	char *const *outputs; /* what it must have produced (anew) when it succeeds */
	size_t noutputs;
	const char *log_path; /* where its output goes (appended) */
	double timeout;       /* seconds; 0: none */
	/* For executors that place jobs elsewhere (runners/executor.h): the
	 * recipe's resources (Kubernetes-style quantities, "2", "4Gi"; NULL:
	 * the executor's defaults) and the scheduler's critical-path priority
	 * (seconds; higher runs first). */
	const char *cpu, *memory;
	double priority;

	void *priv; /* the runner's, between start and done */
};

struct rpl_runner;
struct rpl_executor;

typedef void (*rpl_run_done_fn)(struct rpl_run_job *job, enum rpl_run_status status,
                                const char *message, void *arg);

struct rpl_runner {
	const char *name;
	/*
	 * Starts `job` on `loop`.  Returns 0, `done` following later; or an
	 * error with a message (nothing started, `done` not called).
	 */
	int (*start)(struct rpl_runner *r, struct rpl_run_job *job, uv_loop_t *loop,
	             rpl_run_done_fn done, void *arg);
	/*
	 * Stops a started job: its processes are asked to end, then killed
	 * after a grace period (at once when `now`); `done` follows with
	 * RPL_RUN_CANCELLED.
	 */
	void (*cancel)(struct rpl_runner *r, struct rpl_run_job *job, int now);
	void (*free)(struct rpl_runner *r);
};

/*
 * The process runner's options: `melange build` for packages (then
 * `melange test` when asked), `apko build` for images, with
 * melange-compatible flags, or ripple's native builders in their place.
 */
struct rpl_external_opts {
	const char *root;    /* the processes' working directory */
	const char *melange; /* program names or paths */
	const char *apko;
	const char *out_dir;     /* melange's --out-dir: "packages" */
	const char *signing_key; /* or NULL */
	char *const *pipeline_dirs;
	size_t npipeline_dirs;
	char *const *repositories; /* --repository-append, besides out_dir */
	size_t nrepositories;
	char *const *keyrings; /* --keyring-append, besides the signing key's .pub */
	size_t nkeyrings;
	const char *container_runner; /* melange --runner, or NULL */
	char *const *melange_args;    /* appended to every melange command */
	size_t nmelange_args;
	char *const *apko_args;
	size_t napko_args;
	int test; /* run `melange test` after a package builds */
	/* The native package builder: this ripple binary, run as
	 * `native-build` for package jobs instead of melange (NULL: melange). */
	const char *native;
	/* The same for image jobs: `native-image` instead of apko. */
	const char *native_image;
	const char *push;  /* native images: pushed to <push>/<name>:latest, or NULL */
	double kill_grace; /* seconds from SIGTERM to SIGKILL; 0: 10 */
	/* Where the commands run (runners/executor.h); NULL: here.  The
	 * runner does not own it. */
	struct rpl_executor *executor;
};

/*
 * The process runner: every job as a process in its own process group,
 * with its log under .ripple/logs/.  The process is melange or apko, or,
 * with `native` and `native_image`, this ripple binary's `native-build`
 * and `native-image`; either way it runs through `executor` (NULL: here).  Returns the
 * runner (freed by its `free`); `o` is copied, the strings it points to
 * must outlive the runner.
 */
struct rpl_runner *rpl_process_runner_new(const struct rpl_external_opts *o);

/* The argv of a job's first command as its executor runs it (NULL-terminated,
 * malloc'd; NULL with an error when the executor cannot run it), for
 * --dry-run and logs. */
char **rpl_external_argv(const struct rpl_runner *r, const struct rpl_run_job *job);
void rpl_argv_free(char **argv);

/* An argv being built: `v` stays NULL-terminated; free it with rpl_argv_free(v). */
struct rpl_argv {
	char **v;
	size_t n, alloc;
};

/* Appends a copy of `s`. */
void rpl_argv_add(struct rpl_argv *a, const char *s);

#endif
