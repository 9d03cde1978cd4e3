/*
 * Forced rebuilds that did not finish.  `build --force` rebuilds jobs whose
 * records say they are up to date; if that run is interrupted, the records
 * of the jobs it did not reach still say so, and a plain rerun would leave
 * them as they are.  So a forced run first writes down what it was asked to
 * rebuild, and a job stays pending until a record newer than that run's
 * start replaces its own: the plan (orchestrator/plan.h) counts a pending
 * job as stale.
 */
#ifndef RPL_FORCED_H
#define RPL_FORCED_H

#include <stddef.h>
#include <stdint.h>

struct rpl_state;
struct rpl_job;
struct rpl_job_record;
struct rpl_forced;

/*
 * The forced rebuilds written down in `st`, in *out (NULL when there are
 * none; release with rpl_forced_free).  Returns 0 or an error with a
 * message (an unreadable list is an error: it would drop rebuilds).
 */
int rpl_forced_load(struct rpl_state *st, struct rpl_forced **out);
void rpl_forced_free(struct rpl_forced *f);

/*
 * Whether the job (name, kind, arch), whose last record is `rec`, is still
 * waiting for the forced rebuild of run *run: 1 (and *run set) or 0.  `f`
 * may be NULL.
 */
int rpl_forced_pending(const struct rpl_forced *f, const char *name, const char *kind,
                       const char *arch, const struct rpl_job_record *rec, int64_t *run);

/*
 * Before run `run` (started at `now_ns`) builds anything: keeps of `old`
 * what is still pending and adds `jobs` (those it forces; n may be 0), then
 * stores the list (or removes it when empty) when it changed.  A new list
 * also forgets the no-op memo, which would otherwise answer for it.
 * Returns 0 or an error with a message.
 */
int rpl_forced_update(struct rpl_state *st, const struct rpl_forced *old,
                      struct rpl_job *const *jobs, size_t n, int64_t run, int64_t now_ns);

#endif
