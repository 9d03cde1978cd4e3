/*
 * `.ripple.yaml` (recipes/repoconfig.c): defaults when it is absent, every
 * key, OCI arch names normalised to apk's, errors with their positions, and
 * the digest of its text.  Each case writes the file into a temporary
 * directory made by the run.
 */
#include "recipes/repoconfig.h"
#include "common/error.h"
#include "common/file.h"
#include "common/sha256.h"
#include "recipes/apko.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/unit/testlib.h"

#define N(a) (sizeof(a) / sizeof(*(a)))

static char root[256];

static int setup(void **state)
{
	(void)state;
	return rpl_test_mkdtemp(root, sizeof(root), "repoconfig");
}

static int teardown(void **state)
{
	(void)state;
	return rpl_test_remove_tree(root);
}

static const char *config_path(void)
{
	static char path[512];

	snprintf(path, sizeof(path), "%s/" RPL_REPOCONFIG_FILE, root);
	return path;
}

static void write_config(const char *text)
{
	FILE *f = fopen(config_path(), "w");

	if (!f)
		fail_msg("cannot write %s: %s", config_path(), strerror(errno));
	fputs(text, f);
	fclose(f);
}

static void remove_config(void)
{
	if (unlink(config_path()) && errno != ENOENT)
		fail_msg("cannot remove %s: %s", config_path(), strerror(errno));
}

/* Asserts `l` holds exactly `want`. */
static void list_is(const char *what, const struct rpl_textlist *l, const char *const *want,
                    size_t n)
{
	if (l->n != n)
		fail_msg("%s: %zu entries, want %zu", what, l->n, n);
	for (size_t i = 0; i < n; i++)
		if (strcmp(l->v[i].s, want[i]))
			fail_msg("%s[%zu]: '%s', want '%s'", what, i, l->v[i].s, want[i]);
}

static const char *const default_dirs[] = { "pipelines" };
static const char *const default_envs[] = { "build-common.env", "build-${{build.arch}}.env" };

static int all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return 0;
	return 1;
}

static void digest_is_sha_of(const struct rpl_repoconfig *cfg, const char *text)
{
	uint8_t want[RPL_SHA256_LEN];
	char hw[RPL_SHA256_HEX], hg[RPL_SHA256_HEX];

	rpl_sha256(text, strlen(text), want);
	rpl_hex(want, sizeof(want), hw);
	rpl_hex(cfg->digest, sizeof(cfg->digest), hg);
	assert_string_equal(hg, hw);
}

static void test_host_arch(void **state)
{
	const char *host = rpl_host_arch();
	const char *apk;

	(void)state;
	assert_non_null(host);
	/* Already an apk name: normalising it changes nothing. */
	apk = rpl_apko_arch_to_apk(host);
	assert_non_null(apk);
	assert_string_equal(apk, host);
#if defined(__x86_64__)
	assert_string_equal(host, "x86_64");
#elif defined(__aarch64__)
	assert_string_equal(host, "aarch64");
#endif
	assert_ptr_equal(rpl_host_arch(), host);
}

static void test_absent(void **state)
{
	struct rpl_repoconfig cfg;
	const char *host[1];

	(void)state;
	remove_config();
	host[0] = rpl_host_arch();
	assert_int_equal(rpl_repoconfig_load(&cfg, root), 0);
	assert_int_equal(cfg.present, 0);
	list_is("archs", &cfg.archs, host, 1);
	list_is("pipeline-dirs", &cfg.pipeline_dirs, default_dirs, N(default_dirs));
	list_is("env-files", &cfg.env_files, default_envs, N(default_envs));
	assert_int_equal(cfg.images.n, 0);
	assert_int_equal(cfg.exclude.n, 0);
	assert_true(all_zero(cfg.digest, sizeof(cfg.digest)));
	rpl_repoconfig_release(&cfg);
	assert_int_equal(cfg.archs.n, 0);

	/* A root that does not exist has no config either. */
	assert_int_equal(rpl_repoconfig_load(&cfg, "/nonexistent/ripple-root"), 0);
	assert_int_equal(cfg.present, 0);
	list_is("pipeline-dirs", &cfg.pipeline_dirs, default_dirs, N(default_dirs));
	rpl_repoconfig_release(&cfg);
}

static const char every_key[] = "# the repo's settings\n"
                                "archs: [amd64, arm64, arm/v7, 386, riscv64, ppc64le]\n"
                                "pipeline-dirs:\n"
                                "  - pipelines\n"
                                "  - shared/pipelines\n"
                                "env-files:\n"
                                "  - common.env\n"
                                "images:\n"
                                "  - images/*.apko.yaml\n"
                                "  - other/**/*.yaml\n"
                                "exclude: ['scratch/*', \"old/*\"]\n"
                                "cache: ghcr.io/acme/ripple-cache\n"
                                "trusted-keys: [keys/ci.rsa.pub, keys/old.rsa.pub]\n";

static void test_every_key(void **state)
{
	static const char *const archs[] = { "x86_64", "aarch64", "armv7",
		                             "x86",    "riscv64", "ppc64le" };
	static const char *const dirs[] = { "pipelines", "shared/pipelines" };
	static const char *const envs[] = { "common.env" };
	static const char *const images[] = { "images/*.apko.yaml", "other/**/*.yaml" };
	static const char *const exclude[] = { "scratch/*", "old/*" };
	static const char *const keys[] = { "keys/ci.rsa.pub", "keys/old.rsa.pub" };
	struct rpl_repoconfig cfg;

	(void)state;
	write_config(every_key);
	assert_int_equal(rpl_repoconfig_load(&cfg, root), 0);
	assert_int_equal(cfg.present, 1);
	list_is("archs", &cfg.archs, archs, N(archs));
	list_is("pipeline-dirs", &cfg.pipeline_dirs, dirs, N(dirs));
	list_is("env-files", &cfg.env_files, envs, N(envs));
	list_is("images", &cfg.images, images, N(images));
	list_is("exclude", &cfg.exclude, exclude, N(exclude));
	assert_string_equal(cfg.cache.s, "ghcr.io/acme/ripple-cache");
	list_is("trusted-keys", &cfg.trusted_keys, keys, N(keys));
	digest_is_sha_of(&cfg, every_key);
	rpl_repoconfig_release(&cfg);
}

/*
 * One arch written twice, or in its OCI and apk spellings, is one arch: the
 * list feeds the scan, which would otherwise plan every job twice.  Either
 * the duplicate is dropped or it is an error at its position.
 */
static void test_duplicate_archs(void **state)
{
	static const char *const texts[] = {
		"archs: [amd64, x86_64]\n",
		"archs: [x86_64, aarch64, x86_64]\n",
		"archs:\n  - arm64\n  - aarch64\n",
	};
	int nfailed = 0;

	(void)state;
	for (size_t t = 0; t < N(texts); t++) {
		struct rpl_repoconfig cfg;
		int err;

		write_config(texts[t]);
		rpl_error_clear();
		err = rpl_repoconfig_load(&cfg, root);
		if (err && (err != -RPL_ESCHEMA || strncmp(rpl_errmsg(), ".ripple.yaml:", 13))) {
			print_error("%s: returned %d (%s), want 0 or -RPL_ESCHEMA at a position\n",
			            texts[t], err, rpl_errmsg());
			nfailed++;
		}
		for (size_t i = 0; !err && i < cfg.archs.n; i++)
			for (size_t j = 0; j < i; j++)
				if (!strcmp(cfg.archs.v[i].s, cfg.archs.v[j].s)) {
					print_error("%s: archs[%zu] and archs[%zu] are both '%s'\n",
					            texts[t], j, i, cfg.archs.v[i].s);
					nfailed++;
				}
		rpl_repoconfig_release(&cfg);
	}
	assert_int_equal(nfailed, 0);
}

/* A key left out keeps its default; the ones given replace theirs. */
static void test_partial(void **state)
{
	static const char *const archs[] = { "ppc64le", "s390x" };
	static const char *const envs[] = { "only.env" };
	const char *host[1] = { rpl_host_arch() };
	struct rpl_repoconfig cfg;

	(void)state;
	write_config("archs:\n  - ppc64le\n  - s390x\n");
	assert_int_equal(rpl_repoconfig_load(&cfg, root), 0);
	list_is("archs", &cfg.archs, archs, N(archs));
	list_is("pipeline-dirs", &cfg.pipeline_dirs, default_dirs, N(default_dirs));
	list_is("env-files", &cfg.env_files, default_envs, N(default_envs));
	assert_int_equal(cfg.images.n, 0);
	rpl_repoconfig_release(&cfg);

	write_config("env-files: [only.env]\n");
	assert_int_equal(rpl_repoconfig_load(&cfg, root), 0);
	list_is("archs", &cfg.archs, host, 1);
	list_is("env-files", &cfg.env_files, envs, N(envs));
	list_is("pipeline-dirs", &cfg.pipeline_dirs, default_dirs, N(default_dirs));
	rpl_repoconfig_release(&cfg);

	/* A key with no value is as good as absent. */
	write_config("archs:\nimages:\n");
	assert_int_equal(rpl_repoconfig_load(&cfg, root), 0);
	list_is("archs", &cfg.archs, host, 1);
	assert_int_equal(cfg.images.n, 0);
	rpl_repoconfig_release(&cfg);
}

/* A file that is there but empty: present, with a digest, and the defaults. */
static void test_empty_file(void **state)
{
	struct rpl_repoconfig cfg;

	(void)state;
	write_config("");
	assert_int_equal(rpl_repoconfig_load(&cfg, root), 0);
	assert_int_equal(cfg.present, 1);
	list_is("pipeline-dirs", &cfg.pipeline_dirs, default_dirs, N(default_dirs));
	list_is("env-files", &cfg.env_files, default_envs, N(default_envs));
	assert_int_equal(cfg.archs.n, 1);
	digest_is_sha_of(&cfg, "");
	assert_false(all_zero(cfg.digest, sizeof(cfg.digest)));
	rpl_repoconfig_release(&cfg);

	write_config("# nothing but a comment\n");
	assert_int_equal(rpl_repoconfig_load(&cfg, root), 0);
	assert_int_equal(cfg.present, 1);
	digest_is_sha_of(&cfg, "# nothing but a comment\n");
	rpl_repoconfig_release(&cfg);
}

/* The digest follows the bytes, comments and spacing included. */
static void test_digest(void **state)
{
	static const char a[] = "archs: [x86_64]\n";
	static const char b[] = "archs: [x86_64]  # same settings\n";
	struct rpl_repoconfig ca, cb;

	(void)state;
	write_config(a);
	assert_int_equal(rpl_repoconfig_load(&ca, root), 0);
	write_config(b);
	assert_int_equal(rpl_repoconfig_load(&cb, root), 0);
	digest_is_sha_of(&ca, a);
	digest_is_sha_of(&cb, b);
	assert_memory_not_equal(ca.digest, cb.digest, sizeof(ca.digest));
	rpl_repoconfig_release(&ca);
	rpl_repoconfig_release(&cb);
}

struct bad_config {
	const char *text;
	int code;
	const char *msg; /* the whole message, or its start when `prefix` */
	int prefix;
};

static const struct bad_config bad_configs[] = {
	{ "archs: [x86_64, sparc]\n", -RPL_ESCHEMA,
	  ".ripple.yaml:1:17: unknown architecture 'sparc'", 0 },
	{ "pipeline-dirs: [p]\narchs:\n  - amd64\n  - mips\n", -RPL_ESCHEMA,
	  ".ripple.yaml:4:5: unknown architecture 'mips'", 0 },
	/* apk's names and OCI's, but not Go's or uname's other spellings. */
	{ "archs: [arm]\n", -RPL_ESCHEMA, ".ripple.yaml:1:9: unknown architecture 'arm'", 0 },
	{ "archs: ['']\n", -RPL_ESCHEMA, ".ripple.yaml:1:9: unknown architecture ''", 0 },
	{ "archs: [x86_64]\nfrobnicate: 1\n", -RPL_ESCHEMA,
	  ".ripple.yaml:2:1: unknown key 'frobnicate'", 1 },
	{ "  arch: [x86_64]\n", -RPL_ESCHEMA, ".ripple.yaml:1:3: unknown key 'arch'", 1 },
	{ "archs: x86_64\n", -RPL_ESCHEMA, ".ripple.yaml:1:8: ", 1 },
	{ "images:\n  nested: map\n", -RPL_ESCHEMA, ".ripple.yaml:2:3: ", 1 },
	{ "executor: sbatch\n", -RPL_ESCHEMA,
	  ".ripple.yaml:1:11: executor: 'sbatch' is not an executor (local, slurm)", 0 },
	{ "keep-runs: -3\n", -RPL_ESCHEMA,
	  ".ripple.yaml:1:12: keep-runs: '-3' is not a number of runs (0 keeps every run)", 0 },
	{ "keep-runs: ten\n", -RPL_ESCHEMA,
	  ".ripple.yaml:1:12: keep-runs: 'ten' is not a number of runs (0 keeps every run)", 0 },
	{ "slurm:\n  partitions:\n    sparc: p\n", -RPL_ESCHEMA,
	  ".ripple.yaml:3:5: slurm: partitions: unknown architecture 'sparc'", 0 },
	{ "slurm:\n  partition: p\n", -RPL_ESCHEMA, ".ripple.yaml:2:3: unknown key 'partition'",
	  1 },
	{ "- just\n- a list\n", -RPL_ESCHEMA, ".ripple.yaml:1:1: ", 1 },
	{ "archs: [x86_64\n", -RPL_EPARSE, ".ripple.yaml:", 1 },
	{ "archs: [a]\narchs: [b]\n", -RPL_EPARSE, ".ripple.yaml:2:1: ", 1 },
	{ "sysroots:\n  aarch64: /a\n  sparc: /b\n", -RPL_ESCHEMA,
	  ".ripple.yaml:3:3: sysroots: unknown architecture 'sparc'", 0 },
	{ "sysroots: [/a]\n", -RPL_ESCHEMA, ".ripple.yaml:1:11: ", 1 },
	/* The artifact cache: REGISTRY/REPO, no tag, no trailing slash. */
	{ "cache: ghcr.io\n", -RPL_ESCHEMA,
	  ".ripple.yaml:1:8: cache: 'ghcr.io' is not REGISTRY/REPO", 1 },
	{ "archs: [x86_64]\ncache: 127.0.0.1:5000/c:latest\n", -RPL_ESCHEMA,
	  ".ripple.yaml:2:8: cache: '127.0.0.1:5000/c:latest' is not REGISTRY/REPO", 1 },
	{ "cache: reg/repo/\n", -RPL_ESCHEMA, ".ripple.yaml:1:8: cache: 'reg/repo/'", 1 },
	{ "cache: /repo\n", -RPL_ESCHEMA, ".ripple.yaml:1:8: cache: '/repo'", 1 },
	{ "trusted-keys: keys/ci.pub\n", -RPL_ESCHEMA, ".ripple.yaml:1:15: ", 1 },
};

/* sysroots: per arch, the OCI spelling normalised, with where each is set. */
static void test_sysroots(void **state)
{
	struct rpl_repoconfig cfg;
	char origin[64] = "";

	(void)state;
	write_config("archs: [x86_64]\nsysroots:\n  arm64: /srv/arm64\n  x86_64: roots/x86\n");
	assert_int_equal(rpl_repoconfig_load(&cfg, root), 0);
	assert_string_equal(rpl_repoconfig_sysroot(&cfg, "aarch64", origin, sizeof(origin)),
	                    "/srv/arm64");
	assert_string_equal(origin, ".ripple.yaml:3:10");
	assert_string_equal(rpl_repoconfig_sysroot(&cfg, "x86_64", origin, sizeof(origin)),
	                    "roots/x86");
	assert_string_equal(origin, ".ripple.yaml:4:11");
	assert_null(rpl_repoconfig_sysroot(&cfg, "armv7", origin, sizeof(origin)));
	rpl_repoconfig_release(&cfg);
}

static void test_errors(void **state)
{
	int nfailed = 0;

	(void)state;
	for (size_t i = 0; i < N(bad_configs); i++) {
		const struct bad_config *b = &bad_configs[i];
		struct rpl_repoconfig cfg;
		int err;

		write_config(b->text);
		rpl_error_clear();
		err = rpl_repoconfig_load(&cfg, root);
		if (err != b->code) {
			print_error("%s: returned %d (%s), want %d\n", b->text, err, rpl_errmsg(),
			            b->code);
			nfailed++;
		} else if (b->prefix ? strncmp(rpl_errmsg(), b->msg, strlen(b->msg))
		                     : strcmp(rpl_errmsg(), b->msg)) {
			print_error("%s: message \"%s\", want %s\"%s\"\n", b->text, rpl_errmsg(),
			            b->prefix ? "a prefix " : "", b->msg);
			nfailed++;
		}
		rpl_repoconfig_release(&cfg);
	}
	assert_int_equal(nfailed, 0);
}

/* The executor and the Slurm executor's settings; OCI arch names as apk's. */
static void test_executor(void **state)
{
	static const char text[] = "executor: slurm\n"
	                           "slurm:\n"
	                           "  partitions:\n"
	                           "    amd64: amd\n"
	                           "    aarch64: arm\n"
	                           "  cpu: \"2\"\n"
	                           "  memory: 4Gi\n"
	                           "  args: [--account=b, --qos=low]\n";
	static const char *const args[] = { "--account=b", "--qos=low" };
	struct rpl_repoconfig cfg;

	(void)state;
	write_config(text);
	assert_int_equal(rpl_repoconfig_load(&cfg, root), 0);
	assert_string_equal(cfg.executor.s, "slurm");
	assert_int_equal(cfg.slurm.partitions.n, 2);
	assert_string_equal(cfg.slurm.partitions.v[0].key.s, "x86_64");
	assert_string_equal(cfg.slurm.partitions.v[0].val.s, "amd");
	assert_string_equal(cfg.slurm.partitions.v[1].key.s, "aarch64");
	assert_string_equal(cfg.slurm.partitions.v[1].val.s, "arm");
	assert_string_equal(cfg.slurm.cpu.s, "2");
	assert_int_equal(cfg.slurm.memory.line, 7);
	assert_int_equal(cfg.slurm.memory.col, 11);
	list_is("args", &cfg.slurm.args, args, 2);
	rpl_repoconfig_release(&cfg);

	write_config("executor: local\n");
	assert_int_equal(rpl_repoconfig_load(&cfg, root), 0);
	assert_string_equal(cfg.executor.s, "local");
	assert_int_equal(cfg.slurm.partitions.n, 0);
	rpl_repoconfig_release(&cfg);
}

/* keep-runs: a count, 0 for every run; absent, -1 (the build's default). */
static void test_keep_runs(void **state)
{
	struct rpl_repoconfig cfg;

	(void)state;
	write_config("keep-runs: 7\n");
	assert_int_equal(rpl_repoconfig_load(&cfg, root), 0);
	assert_int_equal(cfg.keep_runs, 7);
	rpl_repoconfig_release(&cfg);
	write_config("keep-runs: 0\n");
	assert_int_equal(rpl_repoconfig_load(&cfg, root), 0);
	assert_int_equal(cfg.keep_runs, 0);
	rpl_repoconfig_release(&cfg);
	write_config("archs: [x86_64]\n");
	assert_int_equal(rpl_repoconfig_load(&cfg, root), 0);
	assert_int_equal(cfg.keep_runs, -1);
	rpl_repoconfig_release(&cfg);
}

/* A .ripple.yaml that cannot be read is an error naming it, not an absent file. */
static void test_unreadable(void **state)
{
	struct rpl_repoconfig cfg;
	int err;

	(void)state;
	remove_config();
	assert_int_equal(mkdir(config_path(), 0755), 0);
	rpl_error_clear();
	err = rpl_repoconfig_load(&cfg, root);
	assert_int_equal(err, -EISDIR);
	assert_non_null(strstr(rpl_errmsg(), RPL_REPOCONFIG_FILE));
	rpl_repoconfig_release(&cfg);
	assert_int_equal(rmdir(config_path()), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_host_arch),  cmocka_unit_test(test_absent),
		cmocka_unit_test(test_every_key),  cmocka_unit_test(test_duplicate_archs),
		cmocka_unit_test(test_partial),    cmocka_unit_test(test_empty_file),
		cmocka_unit_test(test_digest),     cmocka_unit_test(test_errors),
		cmocka_unit_test(test_unreadable), cmocka_unit_test(test_sysroots),
		cmocka_unit_test(test_executor),   cmocka_unit_test(test_keep_runs),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
