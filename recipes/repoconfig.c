#include "recipes/repoconfig.h"
#include "common/error.h"
#include "common/file.h"
#include "recipes/apko.h"
#include "recipes/yaml.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>

static const struct rpl_field slurm_fields[] = {
	RPL_FIELD("partitions", RPL_F_STRMAP, struct rpl_repoconfig_slurm, partitions),
	RPL_FIELD("cpu", RPL_F_STR, struct rpl_repoconfig_slurm, cpu),
	RPL_FIELD("memory", RPL_F_STR, struct rpl_repoconfig_slurm, memory),
	RPL_FIELD("args", RPL_F_STRLIST, struct rpl_repoconfig_slurm, args),
	RPL_FIELD_END,
};
static const struct rpl_schema slurm_schema = { "slurm", sizeof(struct rpl_repoconfig_slurm),
	                                        slurm_fields };

static const struct rpl_field fields[] = {
	RPL_FIELD("archs", RPL_F_STRLIST, struct rpl_repoconfig, archs),
	RPL_FIELD("pipeline-dirs", RPL_F_STRLIST, struct rpl_repoconfig, pipeline_dirs),
	RPL_FIELD("env-files", RPL_F_STRLIST, struct rpl_repoconfig, env_files),
	RPL_FIELD("images", RPL_F_STRLIST, struct rpl_repoconfig, images),
	RPL_FIELD("exclude", RPL_F_STRLIST, struct rpl_repoconfig, exclude),
	RPL_FIELD("signing-key", RPL_F_STR, struct rpl_repoconfig, signing_key),
	RPL_FIELD("melange-args", RPL_F_STRLIST, struct rpl_repoconfig, melange_args),
	RPL_FIELD("apko-args", RPL_F_STRLIST, struct rpl_repoconfig, apko_args),
	RPL_FIELD("source-mirrors", RPL_F_STRMAP, struct rpl_repoconfig, source_mirrors),
	RPL_FIELD("max-extract-size", RPL_F_STR, struct rpl_repoconfig, max_extract_size_text),
	RPL_FIELD("max-extract-ratio", RPL_F_U64, struct rpl_repoconfig, max_extract_ratio),
	RPL_FIELD("sysroots", RPL_F_STRMAP, struct rpl_repoconfig, sysroots),
	RPL_FIELD("cache", RPL_F_STR, struct rpl_repoconfig, cache),
	RPL_FIELD("trusted-keys", RPL_F_STRLIST, struct rpl_repoconfig, trusted_keys),
	RPL_FIELD("executor", RPL_F_STR, struct rpl_repoconfig, executor),
	RPL_FIELD("keep-runs", RPL_F_STR, struct rpl_repoconfig, keep_runs_text),
	RPL_FIELD_SUB("slurm", RPL_F_STRUCT, struct rpl_repoconfig, slurm, &slurm_schema),
	RPL_FIELD_END,
};
static const struct rpl_schema schema = { RPL_REPOCONFIG_FILE, sizeof(struct rpl_repoconfig),
	                                  fields };

static char host_arch[sizeof(((struct utsname *)0)->machine)];

static void find_host_arch(void)
{
	struct utsname u;
	const char *apk;

	if (uname(&u) < 0) {
		snprintf(host_arch, sizeof(host_arch), "x86_64");
		return;
	}
	apk = rpl_apko_arch_to_apk(u.machine);
	snprintf(host_arch, sizeof(host_arch), "%s", apk ? apk : u.machine);
}

const char *rpl_host_arch(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;

	pthread_once(&once, find_host_arch);
	return host_arch;
}

int rpl_parse_size(const char *s, uint64_t *out)
{
	static const char units[] = "KMGTP";
	char *end;
	unsigned long long v;
	const char *u;
	int shift = 0;

	if (!s || *s < '0' || *s > '9')
		return -RPL_EUSAGE;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return -RPL_EUSAGE;
	if (*end && (u = strchr(units, *end))) {
		shift = 10 * (int)(u - units + 1);
		end++;
		if (*end == 'i')
			end++;
		if (*end == 'B')
			end++;
	}
	if (*end || (shift && v > (UINT64_MAX >> shift)))
		return -RPL_EUSAGE;
	*out = (uint64_t)v << shift;
	return 0;
}

static void set_default(struct rpl_repoconfig *cfg, struct rpl_textlist *l, const char *const *vals,
                        size_t n)
{
	if (l->n)
		return;
	l->v = rpl_arena_alloc(&cfg->arena, n * sizeof(*l->v));
	l->n = n;
	for (size_t i = 0; i < n; i++)
		l->v[i] = rpl_text_make(vals[i]);
}

/* `a`, an arch as the config names it, as apk names it; `what` leads the error. */
static int apk_arch(struct rpl_text *a, const char *what)
{
	const char *apk = rpl_apko_arch_to_apk(a->s);

	if (!apk)
		return rpl_error(-RPL_ESCHEMA, "%s:%u:%u: %sunknown architecture '%s'",
		                 RPL_REPOCONFIG_FILE, a->line, a->col, what, a->s);
	a->s = apk;
	return 0;
}

static int check_max_extract_size(struct rpl_repoconfig *cfg)
{
	const struct rpl_text *t = &cfg->max_extract_size_text;

	if (t->s && *t->s && rpl_parse_size(t->s, &cfg->max_extract_size))
		return rpl_error(-RPL_ESCHEMA,
		                 "%s:%u:%u: max-extract-size: '%s' is not a size (bytes, or "
		                 "with K, M, G, T)",
		                 RPL_REPOCONFIG_FILE, t->line, t->col, t->s);
	return 0;
}

/* The cache is REGISTRY/REPO: both named, no tag, no space, no trailing slash. */
static int check_cache(const struct rpl_repoconfig *cfg)
{
	const char *c = cfg->cache.s, *slash;

	if (!c || !*c)
		return 0;
	slash = strchr(c, '/');
	if (!slash || slash == c || !slash[1] || strchr(slash, ':') || strchr(c, ' ') ||
	    c[strlen(c) - 1] == '/')
		return rpl_error(-RPL_ESCHEMA,
		                 "%s:%u:%u: cache: '%s' is not REGISTRY/REPO (such as "
		                 "ghcr.io/acme/ripple-cache), with no tag",
		                 RPL_REPOCONFIG_FILE, cfg->cache.line, cfg->cache.col, c);
	return 0;
}

static int check_executor(const struct rpl_repoconfig *cfg)
{
	if (cfg->executor.s && *cfg->executor.s && strcmp(cfg->executor.s, "local") &&
	    strcmp(cfg->executor.s, "slurm"))
		return rpl_error(-RPL_ESCHEMA,
		                 "%s:%u:%u: executor: '%s' is not an executor (local, slurm)",
		                 RPL_REPOCONFIG_FILE, cfg->executor.line, cfg->executor.col,
		                 cfg->executor.s);
	return 0;
}

/* keep-runs: a count of runs, 0 for all of them. */
static int check_keep_runs(struct rpl_repoconfig *cfg)
{
	const struct rpl_text *t = &cfg->keep_runs_text;
	char *end;
	long v;

	if (!t->s || !*t->s)
		return 0;
	errno = 0;
	v = strtol(t->s, &end, 10);
	if (*end || errno || v < 0 || t->s[0] < '0' || t->s[0] > '9')
		return rpl_error(-RPL_ESCHEMA,
		                 "%s:%u:%u: keep-runs: '%s' is not a number of runs (0 keeps "
		                 "every run)",
		                 RPL_REPOCONFIG_FILE, t->line, t->col, t->s);
	cfg->keep_runs = v;
	return 0;
}

/* amd64 and x86_64 are one arch: each is kept once. */
static void unique_archs(struct rpl_repoconfig *cfg)
{
	for (size_t i = 0; i < cfg->archs.n; i++)
		for (size_t j = i + 1; j < cfg->archs.n; j++)
			if (!strcmp(cfg->archs.v[i].s, cfg->archs.v[j].s)) {
				memmove(&cfg->archs.v[j], &cfg->archs.v[j + 1],
				        (cfg->archs.n - j - 1) * sizeof(*cfg->archs.v));
				cfg->archs.n--;
				j--;
			}
}

/* The decoded config checked, its archs in apk's names. */
static int check_config(struct rpl_repoconfig *cfg)
{
	int err = 0;

	for (size_t i = 0; !err && i < cfg->archs.n; i++)
		err = apk_arch(&cfg->archs.v[i], "");
	for (size_t i = 0; !err && i < cfg->sysroots.n; i++)
		err = apk_arch(&cfg->sysroots.v[i].key, "sysroots: ");
	if (!err)
		err = check_max_extract_size(cfg);
	if (!err)
		err = check_cache(cfg);
	if (!err)
		err = check_executor(cfg);
	if (!err)
		err = check_keep_runs(cfg);
	for (size_t i = 0; !err && i < cfg->slurm.partitions.n; i++)
		err = apk_arch(&cfg->slurm.partitions.v[i].key, "slurm: partitions: ");
	if (!err)
		unique_archs(cfg);
	return err;
}

/* The config file's `text` parsed, decoded and checked into `cfg`. */
static int read_config(struct rpl_repoconfig *cfg, const char *text, size_t len)
{
	struct rpl_dctx dc = { 0 };
	struct rpl_ydoc doc;
	int err;

	dc.arena = &cfg->arena;
	dc.file = RPL_REPOCONFIG_FILE;
	cfg->present = 1;
	rpl_sha256(text, len, cfg->digest);
	err = rpl_yaml_parse(&doc, RPL_REPOCONFIG_FILE, text, len);
	if (!err)
		err = rpl_decode(&dc, doc.root, &schema, cfg);
	rpl_ydoc_release(&doc);
	return err ? err : check_config(cfg);
}

int rpl_repoconfig_load(struct rpl_repoconfig *cfg, const char *root)
{
	static const char *const dirs[] = { "pipelines" };
	static const char *const envs[] = { "build-common.env", "build-${{build.arch}}.env" };
	char *path = rpl_path_join(root, RPL_REPOCONFIG_FILE);
	char *text = NULL;
	size_t len;
	int err;

	memset(cfg, 0, sizeof(*cfg));
	rpl_arena_init(&cfg->arena);
	cfg->keep_runs = -1;
	err = rpl_read_file_max(path, RPL_YAML_MAX_FILE, &text, &len);
	if (err == -ENOENT)
		err = 0;
	else if (!err)
		err = read_config(cfg, text, len);
	if (!err) {
		const char *host = rpl_host_arch();
		set_default(cfg, &cfg->pipeline_dirs, dirs, 1);
		set_default(cfg, &cfg->env_files, envs, 2);
		set_default(cfg, &cfg->archs, &host, 1);
	}
	free(text);
	free(path);
	return err;
}

const char *rpl_repoconfig_sysroot(const struct rpl_repoconfig *cfg, const char *arch, char *origin,
                                   size_t size)
{
	for (size_t i = 0; i < cfg->sysroots.n; i++) {
		const struct rpl_kv *kv = &cfg->sysroots.v[i];
		if (!strcmp(kv->key.s, arch)) {
			snprintf(origin, size, "%s:%u:%u", RPL_REPOCONFIG_FILE, kv->val.line,
			         kv->val.col);
			return kv->val.s;
		}
	}
	return NULL;
}

void rpl_repoconfig_release(struct rpl_repoconfig *cfg)
{
	rpl_arena_release(&cfg->arena);
	memset(cfg, 0, sizeof(*cfg));
}
