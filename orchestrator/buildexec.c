#include "orchestrator/buildexec.h"
#include "common/error.h"
#include "common/strbuf.h"
#include "common/xalloc.h"
#include "recipes/melange.h"
#include "recipes/repoconfig.h"
#include "runners/executor.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int rpl_buildexec_open(struct rpl_buildexec *be, const char *name, const struct rpl_repoconfig *cfg,
                       const char *root, const char *const *archs, size_t narchs)
{
	const struct rpl_repoconfig_slurm *sc = &cfg->slurm;
	struct rpl_slurm_opts so;
	long cpus;
	uint64_t mem;
	int err;

	memset(be, 0, sizeof(*be));
	if (!name)
		name = cfg->executor.s && *cfg->executor.s ? cfg->executor.s : "local";
	if (!strcmp(name, "local")) {
		be->x = rpl_executor_local_new();
		return 0;
	}
	if (strcmp(name, "slurm"))
		return rpl_error(-RPL_EUSAGE, "--executor: '%s' is not an executor (local, slurm)",
		                 name);
	if (sc->cpu.s && *sc->cpu.s && rpl_slurm_cpus(sc->cpu.s, &cpus))
		return rpl_error(-RPL_ESCHEMA, "%s:%u:%u: slurm: cpu '%s' is not a number of CPUs",
		                 RPL_REPOCONFIG_FILE, sc->cpu.line, sc->cpu.col, sc->cpu.s);
	if (sc->memory.s && *sc->memory.s && rpl_slurm_mem_mib(sc->memory.s, &mem))
		return rpl_error(
		        -RPL_ESCHEMA, "%s:%u:%u: slurm: memory '%s' is not a size (4Gi, 512Mi, 2G)",
		        RPL_REPOCONFIG_FILE, sc->memory.line, sc->memory.col, sc->memory.s);
	/* With a map, every arch this run builds has its partition: an arch
	 * left out would land on whatever nodes the default partition has. */
	for (size_t i = 0; sc->partitions.n && i < narchs; i++) {
		size_t k = 0;
		while (k < sc->partitions.n && strcmp(sc->partitions.v[k].key.s, archs[i]))
			k++;
		if (k == sc->partitions.n)
			return rpl_error(-RPL_ESCHEMA,
			                 "%s:%u:%u: slurm: partitions: no partition for %s, which "
			                 "this build is for",
			                 RPL_REPOCONFIG_FILE, sc->partitions.v[0].key.line,
			                 sc->partitions.v[0].key.col, archs[i]);
	}
	be->slurm = 1;
	be->npartitions = sc->partitions.n;
	be->archs = rpl_xcalloc(be->npartitions + 1, sizeof(*be->archs));
	be->partitions = rpl_xcalloc(be->npartitions + 1, sizeof(*be->partitions));
	for (size_t i = 0; i < be->npartitions; i++) {
		be->archs[i] = (char *)sc->partitions.v[i].key.s;
		be->partitions[i] = (char *)sc->partitions.v[i].val.s;
	}
	be->nargs = sc->args.n;
	be->args = rpl_xcalloc(be->nargs + 1, sizeof(*be->args));
	for (size_t i = 0; i < be->nargs; i++)
		be->args[i] = (char *)sc->args.v[i].s;
	memset(&so, 0, sizeof(so));
	so.workdir = root;
	so.archs = be->archs;
	so.partitions = be->partitions;
	so.npartitions = be->npartitions;
	so.cpu = sc->cpu.s;
	so.memory = sc->memory.s;
	so.args = be->args;
	so.nargs = be->nargs;
	if ((err = rpl_executor_slurm_new(&so, &be->x)))
		rpl_buildexec_release(be);
	return err;
}

int rpl_buildexec_check_recipe(const struct rpl_buildexec *be, const struct rpl_recipe_summary *r)
{
	long cpus;
	uint64_t mem;

	if (!be->slurm || !r)
		return 0;
	if (r->cpu.s && *r->cpu.s && rpl_slurm_cpus(r->cpu.s, &cpus))
		return rpl_error(-RPL_ESCHEMA,
		                 "%s:%u:%u: resources: cpu '%s' is not a number of CPUs (\"2\", "
		                 "\"500m\")",
		                 r->file, r->cpu.line, r->cpu.col, r->cpu.s);
	if (r->memory.s && *r->memory.s && rpl_slurm_mem_mib(r->memory.s, &mem))
		return rpl_error(-RPL_ESCHEMA,
		                 "%s:%u:%u: resources: memory '%s' is not a size (4Gi, 512Mi, 2G)",
		                 r->file, r->memory.line, r->memory.col, r->memory.s);
	return 0;
}

int rpl_buildexec_ready(struct rpl_buildexec *be, const char *const *archs, size_t narchs,
                        size_t *jobs)
{
	char *version[] = { "srun", "--version", NULL };
	struct rpl_strbuf out = RPL_STRBUF_INIT;
	int rc;

	if (!be->slurm)
		return 0;
	rc = rpl_exec_capture(version, &out);
	if (rc > 0)
		rc = rpl_error(-RPL_EUSAGE,
		               "--executor slurm: `srun --version` failed (status %d): %.*s", rc,
		               (int)strcspn(rpl_strbuf_str(&out), "\n"), rpl_strbuf_str(&out));
	else if (rc < 0)
		rc = rpl_error_prefix(rc,
		                      "--executor slurm needs srun on PATH (Debian: slurm-client)");
	rpl_strbuf_release(&out);
	/* What runs that were killed outright left in Slurm's queue goes first. */
	if (!rc) {
		size_t n = 0;
		if (rpl_slurm_cancel_orphans(be->x, &n))
			rpl_warn("%s", rpl_errmsg());
		else if (n)
			rpl_say("cancelled %zu Slurm job%s left by a run that was killed", n,
			        n == 1 ? "" : "s");
	}
	if (!rc && jobs && (rc = rpl_slurm_capacity(be->x, (char *const *)archs, narchs, jobs)))
		rc = rpl_error_prefix(rc, "--executor slurm");
	else if (!rc && jobs)
		rpl_say("slurm: %zu job%s at once, what the partitions hold (-j to change)", *jobs,
		        *jobs == 1 ? "" : "s");
	return rc;
}

void rpl_buildexec_release(struct rpl_buildexec *be)
{
	if (be->x)
		be->x->free(be->x);
	free(be->archs);
	free(be->partitions);
	free(be->args);
	memset(be, 0, sizeof(*be));
}
