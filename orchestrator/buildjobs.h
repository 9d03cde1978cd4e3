/*
 * The dependencies of a build's jobs, for the scheduler (orchestrator/sched.h).
 *
 * A job waits for the selected jobs of its arch that it builds against:
 * build edges for a package, the packages it installs for an image.  Inside
 * a dependency cycle a member waits only for the members before it in
 * bootstrap order (graph/graph.h); a back edge, to a member after it, is met
 * by the copy a repository already holds and is not waited for.  A member
 * waits for an earlier member with rpl_sched_after, so that it still builds
 * when that one fails, when every package it needs from it is already in
 * the output repository or an -r repository; otherwise it needs that
 * member's success, as jobs outside cycles always do.
 *
 * Jobs are found by (graph, node id) through an index, so setting up a run
 * of N jobs with E edges costs O(N + E).
 */
#ifndef RPL_BUILDJOBS_H
#define RPL_BUILDJOBS_H

#include <stddef.h>

struct rpl_plan;
struct rpl_job;
struct rpl_sched;
struct rpl_sched_job;

struct rpl_buildjobs_opts {
	const char *out_dir; /* the output repository: <out_dir>/<arch>/APKINDEX.tar.gz */
	char *const *repos;  /* -r: more repositories, local or http(s) */
	size_t nrepos;
};

/*
 * Adds the dependencies among `n` jobs: sjobs[i] is the scheduler's job of
 * plan job jobs[i] (all of plan `p`).  Reads the repositories' indexes only
 * when a cycle member waits for another; one that cannot be read is warned
 * about and counts as holding nothing.
 */
void rpl_buildjobs_deps(struct rpl_sched *s, const struct rpl_plan *p, struct rpl_job *const *jobs,
                        struct rpl_sched_job *const *sjobs, size_t n,
                        const struct rpl_buildjobs_opts *o);

#endif
