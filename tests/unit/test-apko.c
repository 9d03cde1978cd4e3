/*
 * apko image configurations: schema, include merging, validation, archs and
 * the JSON description.  Fixtures live in tests/fixtures/apko/.
 */
#include "recipes/apko.h"
#include "common/error.h"
#include "common/strbuf.h"
#include "common/utf8.h"
#include "recipes/yaml.h"

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
#include <jansson.h>

#include "tests/unit/testlib.h"

#define FIX RPL_FIXTURES "/apko/"

static struct rpl_image *load_ok(const char *path)
{
	struct rpl_image *img = rpl_image_load(path);

	if (!img)
		fail_msg("loading %s: %s", path, rpl_errmsg());
	return img;
}

/* Loads `rel` (under the fixtures) and expects exactly `want` as the message. */
static void expect_error(const char *rel, const char *want_fmt, ...)
{
	char path[4096], want[8192];
	va_list ap;
	struct rpl_image *img;

	snprintf(path, sizeof(path), FIX "%s", rel);
	va_start(ap, want_fmt);
	vsnprintf(want, sizeof(want), want_fmt, ap);
	va_end(ap);
	rpl_error_clear();
	img = rpl_image_load(path);
	assert_null(img);
	assert_string_equal(rpl_errmsg(), want);
}

static void test_full_schema(void **state)
{
	struct rpl_image *img = load_ok(FIX "full.apko.yaml");
	const struct rpl_apko_config *c = &img->config;
	const struct rpl_apko_contents *ct = &c->contents;

	(void)state;
	assert_string_equal(img->name, "full");
	assert_string_equal(img->file, FIX "full.apko.yaml");
	assert_int_equal(img->ninputs, 1);
	assert_string_equal(img->inputs[0], FIX "full.apko.yaml");

	assert_int_equal(ct->repositories.n, 2);
	/* apko trims trailing slashes from repositories. */
	assert_string_equal(ct->repositories.v[0].s, "https://packages.wolfi.dev/os");
	assert_string_equal(ct->repositories.v[1].s, "@local /work/packages");
	assert_int_equal(ct->repositories.v[1].line, 5);
	assert_int_equal(ct->repositories.v[1].col, 7);
	assert_string_equal(ct->build_repositories.v[0].s, "https://build.example/os");
	assert_string_equal(ct->runtime_repositories.v[0].s, "https://runtime.example/os");
	assert_string_equal(ct->keyring.v[0].s,
	                    "https://packages.wolfi.dev/os/wolfi-signing.rsa.pub");
	assert_int_equal(ct->nruntime_keyring, 1);
	assert_string_equal(ct->runtime_keyring[0].name.s, "local-melange.rsa.pub");
	assert_string_equal(ct->runtime_keyring[0].content.s,
	                    "-----BEGIN PUBLIC KEY-----\n-----END PUBLIC KEY-----\n");
	assert_int_equal(ct->packages.n, 3);
	assert_string_equal(ct->packages.v[0].s, "wolfi-base");
	assert_string_equal(ct->packages.v[1].s, "busybox=1.36.1-r0");
	assert_string_equal(ct->packages.v[2].s, "hello@local");
	assert_int_equal(ct->has_baseimage, 0);

	assert_string_equal(c->entrypoint.command.s, "/usr/bin/hello --greet");
	assert_string_equal(c->entrypoint.shell_fragment.s, "echo hi");
	assert_int_equal(c->entrypoint.services.n, 1);
	assert_string_equal(c->entrypoint.services.v[0].key.s, "web");
	assert_string_equal(c->entrypoint.services.v[0].val.s, "/usr/bin/web");
	assert_string_equal(c->cmd.s, "--help");
	assert_string_equal(c->stop_signal.s, "SIGTERM");
	assert_string_equal(c->work_dir.s, "/app");

	assert_string_equal(c->accounts.run_as.s, "nonroot");
	assert_int_equal(c->accounts.nusers, 2);
	assert_string_equal(c->accounts.users[0].username.s, "nonroot");
	assert_int_equal(c->accounts.users[0].uid, 65532);
	/* Defaults: gid = uid (has_gid stays 0), /home/<name>; the shell stays unset. */
	assert_int_equal(c->accounts.users[0].has_gid, 0);
	assert_int_equal(c->accounts.users[0].gid, 65532);
	assert_string_equal(c->accounts.users[0].shell.s, "");
	assert_string_equal(c->accounts.users[0].homedir.s, "/home/nonroot");
	assert_int_equal(c->accounts.users[1].uid, 1000);
	assert_int_equal(c->accounts.users[1].has_gid, 1);
	assert_int_equal(c->accounts.users[1].gid, 2000);
	assert_string_equal(c->accounts.users[1].shell.s, "/bin/bash");
	assert_string_equal(c->accounts.users[1].homedir.s, "/srv/app");
	assert_int_equal(c->accounts.ngroups, 1);
	assert_string_equal(c->accounts.groups[0].groupname.s, "nonroot");
	assert_int_equal(c->accounts.groups[0].gid, 65532);
	assert_int_equal(c->accounts.groups[0].members.n, 1);
	assert_string_equal(c->accounts.groups[0].members.v[0].s, "nonroot");

	assert_int_equal(c->archs.n, 4);
	assert_string_equal(c->archs.v[3].s, "armhf");

	assert_int_equal(c->environment.n, 2);
	assert_string_equal(c->environment.v[0].key.s, "PATH");
	assert_string_equal(c->environment.v[1].key.s, "ANSWER");
	assert_string_equal(c->environment.v[1].val.s, "42");

	assert_int_equal(c->npaths, 6);
	assert_string_equal(c->paths[0].path.s, "/app");
	assert_string_equal(c->paths[0].type.s, "directory");
	assert_int_equal(c->paths[0].has_uid, 1);
	assert_int_equal(c->paths[0].uid, 65532);
	assert_int_equal(c->paths[0].has_gid, 1);
	assert_int_equal(c->paths[0].gid, 65532);
	assert_int_equal(c->paths[0].recursive, 1);
	assert_int_equal(c->paths[1].has_uid, 0);
	assert_int_equal(c->paths[1].recursive, 0);
	assert_string_equal(c->paths[3].source.s, "/app/data");

	assert_string_equal(c->vcs_url.s, "https://github.com/example/images@abc123");
	assert_int_equal(c->annotations.n, 2);
	assert_string_equal(c->annotations.v[0].key.s, "org.opencontainers.image.title");
	assert_string_equal(c->annotations.v[0].val.s, "Full");
	assert_int_equal(c->volumes.n, 1);
	assert_string_equal(c->volumes.v[0].s, "/data");
	assert_int_equal(c->has_layering, 1);
	assert_string_equal(c->layering.strategy.s, "origin");
	assert_int_equal(c->layering.budget, 10);
	assert_string_equal(c->format.s, "tar");
	assert_int_equal(c->ncert_additional, 1);
	assert_string_equal(c->cert_additional[0].name.s, "corp-ca.pem");
	assert_int_equal(c->cert_providers.n, 1);
	assert_string_equal(c->cert_providers.v[0].s, "mozilla");
	rpl_image_free(img);
}

/* yaml.v3 reads ints with base 0: 0o755, 0755, 0x1ff and 0b... all work. */
static void test_integers(void **state)
{
	struct rpl_image *img = load_ok(FIX "full.apko.yaml");
	const struct rpl_apko_path *p = img->config.paths;

	(void)state;
	assert_int_equal(p[0].has_permissions, 1);
	assert_int_equal(p[0].permissions, 0755); /* 0o755 */
	assert_int_equal(p[1].permissions, 0755); /* 0755 */
	assert_int_equal(p[2].permissions, 0644); /* 420 */
	assert_int_equal(p[3].permissions, 0777); /* 0x1ff */
	assert_int_equal(p[4].permissions, 0644); /* 0b110100100 */
	assert_int_equal(p[5].permissions, 0644); /* 0_644 */
	/* "08" is not octal; yaml.v3 reads it as the float 8. */
	assert_int_equal(p[5].has_gid, 1);
	assert_int_equal(p[5].gid, 8);
	rpl_image_free(img);
}

static void test_include_merge(void **state)
{
	struct rpl_image *img = load_ok(FIX "inc/top.apko.yaml");
	const struct rpl_apko_config *c = &img->config;
	const struct rpl_kv *kv;

	(void)state;
	assert_string_equal(img->name, "top");
	/* The top file first, then includes as read, each below the top file's
	 * directory (the include path; the cwd has none of them). */
	assert_int_equal(img->ninputs, 3);
	assert_string_equal(img->inputs[0], FIX "inc/top.apko.yaml");
	assert_string_equal(img->inputs[1], FIX "inc/base/mid.yaml");
	assert_string_equal(img->inputs[2], FIX "inc/common/root.yaml");

	/* Lists: the included file's items first. */
	assert_int_equal(c->contents.packages.n, 3);
	assert_string_equal(c->contents.packages.v[0].s, "root-pkg");
	assert_string_equal(c->contents.packages.v[1].s, "mid-pkg");
	assert_string_equal(c->contents.packages.v[2].s, "top-pkg");
	assert_int_equal(c->contents.repositories.n, 2);
	assert_string_equal(c->contents.repositories.v[0].s, "https://root.example/os");
	assert_string_equal(c->contents.repositories.v[1].s, "https://top.example/os");
	assert_int_equal(c->npaths, 2);
	assert_string_equal(c->paths[0].path.s, "/root");
	assert_string_equal(c->paths[1].path.s, "/top");
	assert_int_equal(c->accounts.nusers, 2);
	assert_string_equal(c->accounts.users[0].username.s, "rootuser");
	assert_string_equal(c->accounts.users[1].username.s, "topuser");
	assert_int_equal(c->volumes.n, 2);
	assert_string_equal(c->volumes.v[0].s, "/root");
	assert_string_equal(c->volumes.v[1].s, "/top");

	/* Scalars: the includer wins when set, else the included value shows. */
	assert_string_equal(c->cmd.s, "top-cmd");
	assert_string_equal(c->work_dir.s, "/mid");
	assert_string_equal(c->stop_signal.s, "SIGINT");
	assert_string_equal(c->accounts.run_as.s, "rootuser");
	assert_string_equal(c->entrypoint.command.s, "/bin/mid");
	assert_int_equal(c->archs.n, 1);
	assert_string_equal(c->archs.v[0].s, "aarch64");
	/* MergeInto does not copy vcs-url. */
	assert_true(c->vcs_url.s == NULL || !*c->vcs_url.s);
	/* The include value is the top file's own. */
	assert_string_equal(c->include.s, "base/mid.yaml");

	/* Maps: merged key-wise, the includer winning. */
	assert_int_equal(c->environment.n, 4);
	kv = rpl_kvlist_get(&c->environment, "SHARED");
	assert_non_null(kv);
	assert_string_equal(kv->val.s, "top");
	kv = rpl_kvlist_get(&c->environment, "MID");
	assert_non_null(kv);
	assert_string_equal(kv->val.s, "m");
	kv = rpl_kvlist_get(&c->environment, "ROOT");
	assert_non_null(kv);
	assert_string_equal(kv->val.s, "r");
	assert_int_equal(c->annotations.n, 2);
	assert_string_equal(rpl_kvlist_get(&c->annotations, "a")->val.s, "top");
	assert_string_equal(rpl_kvlist_get(&c->annotations, "b")->val.s, "mid");
	rpl_image_free(img);
}

/* The entrypoint is inherited only as a whole, when the includer sets none. */
static void test_include_entrypoint_whole(void **state)
{
	struct rpl_image *img = load_ok(FIX "inc/override.yaml");
	const struct rpl_apko_entrypoint *e = &img->config.entrypoint;

	(void)state;
	assert_true(e->command.s == NULL || !*e->command.s);
	assert_int_equal(e->services.n, 1);
	assert_string_equal(e->services.v[0].key.s, "b");
	rpl_image_free(img);
}

static void test_include_cycle(void **state)
{
	(void)state;
	expect_error("cycle/a.yaml",
	             FIX "cycle/b.yaml:1:10: include cycle: " FIX "cycle/a.yaml -> " FIX
	                 "cycle/b.yaml -> " FIX "cycle/a.yaml");
	expect_error("cycle/self.yaml", FIX "cycle/self.yaml:1:10: include cycle: " FIX
	                                    "cycle/self.yaml -> " FIX "cycle/self.yaml");
}

static void test_include_missing(void **state)
{
	(void)state;
	expect_error("missing.yaml",
	             FIX "missing.yaml:1:10: cannot read include "
	                 "'does-not-exist.yaml': it is neither in the working "
	                 "directory ('.') nor in the include path '" RPL_FIXTURES "/apko'");
}

static void test_missing_file(void **state)
{
	(void)state;
	expect_error("nope.yaml", "cannot read '" FIX "nope.yaml': No such file or directory");
}

static void test_unknown_key(void **state)
{
	(void)state;
	expect_error("bad/unknown-key.yaml",
	             FIX "bad/unknown-key.yaml:4:3: unknown key 'pakages' in contents");
}

static void test_wrong_type(void **state)
{
	(void)state;
	expect_error("bad/wrong-type.yaml",
	             FIX "bad/wrong-type.yaml:2:13: expected a list of strings, found a scalar");
}

static void test_validation(void **state)
{
	(void)state;
	expect_error("bad/uid0.yaml", FIX "bad/uid0.yaml:4:12: user 'toor': uid 0 is reserved "
	                                  "(to run as root, use 'run-as: 0')");
	expect_error("bad/layering.yaml", FIX "bad/layering.yaml:2:13: unknown layering strategy "
	                                      "'size' (only origin is supported)");
	expect_error("bad/path-type.yaml",
	             FIX "bad/path-type.yaml:3:11: path '/x': unknown type 'fifo' (want directory, "
	                 "empty-file, hardlink, symlink or permissions)");
	expect_error("bad/symlink-source.yaml",
	             FIX "bad/symlink-source.yaml:3:11: path '/x': a symlink needs a source");
	expect_error("bad/arch.yaml", FIX "bad/arch.yaml:1:17: unknown arch 'sparc64'");
	expect_error(
	        "bad/quoted-permissions.yaml", FIX
	        "bad/quoted-permissions.yaml:4:18: 'permissions': expected an unsigned integer, found "
	        "the string \"0755\"");
	expect_error("bad/erofs-layering.yaml",
	             FIX "bad/erofs-layering.yaml:1:9: format 'erofs' cannot be combined with "
	                 "layering");
	expect_error("bad/keyring-name.yaml",
	             FIX "bad/keyring-name.yaml:3:13: runtime_keyring entry '../evil.rsa.pub' has "
	                 "an invalid name, it must match ^[a-zA-Z0-9_-]+[a-zA-Z0-9_.-]*$");
	expect_error("bad/empty.yaml", FIX "bad/empty.yaml:1:1: empty image configuration");
}

/* Validate's mutation for s6, and `layering: {}` meaning one layer. */
static void test_service_bundle(void **state)
{
	struct rpl_image *img = load_ok(FIX "service-bundle.yaml");
	const struct rpl_apko_config *c = &img->config;

	(void)state;
	assert_string_equal(c->entrypoint.command.s, "/bin/s6-svscan /sv");
	assert_int_equal(c->contents.packages.n, 2);
	assert_string_equal(c->contents.packages.v[1].s, "s6");
	assert_int_equal(c->has_layering, 1);
	assert_string_equal(c->layering.strategy.s, "");
	rpl_image_free(img);
}

/*
 * apko's Validate acts on service-bundle alone: any other type is kept as
 * written, with the command as it is and no s6 added.
 */
static void test_entrypoint_other_type(void **state)
{
	struct rpl_image *img = load_ok(FIX "entrypoint-type.yaml");
	const struct rpl_apko_config *c = &img->config;

	(void)state;
	assert_string_equal(c->entrypoint.type.s, "systemd");
	assert_string_equal(c->entrypoint.command.s, "/usr/bin/serve --port 80");
	assert_int_equal(c->contents.packages.n, 1);
	assert_string_equal(c->contents.packages.v[0].s, "server");
	rpl_image_free(img);
}

static void test_arch_to_apk(void **state)
{
	static const char *const cases[][2] = {
		{ "x86", "x86" },
		{ "386", "x86" },
		{ "x86_64", "x86_64" },
		{ "amd64", "x86_64" },
		{ "aarch64", "aarch64" },
		{ "arm64", "aarch64" },
		{ "armhf", "armhf" },
		{ "arm/v6", "armhf" },
		{ "armv7", "armv7" },
		{ "arm/v7", "armv7" },
		{ "loongarch64", "loongarch64" },
		{ "loong64", "loongarch64" },
		{ "ppc64le", "ppc64le" },
		{ "riscv64", "riscv64" },
		{ "s390x", "s390x" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++)
		assert_string_equal(rpl_apko_arch_to_apk(cases[i][0]), cases[i][1]);
	assert_null(rpl_apko_arch_to_apk("sparc64"));
	assert_null(rpl_apko_arch_to_apk("all"));
	assert_null(rpl_apko_arch_to_apk(""));
	assert_null(rpl_apko_arch_to_apk(NULL));
}

static void test_arch_normalise(void **state)
{
	struct rpl_image *img = load_ok(FIX "full.apko.yaml");
	const char *out[RPL_APKO_NARCHS];
	struct rpl_text all = rpl_text_make("all");
	struct rpl_textlist l = { &all, 1 };
	size_t n;

	(void)state;
	/* x86_64, arm64, amd64, armhf: deduplicated, in apko's (OCI name) order. */
	n = rpl_apko_arch_normalise(&img->config.archs, out);
	assert_int_equal(n, 3);
	assert_string_equal(out[0], "x86_64");
	assert_string_equal(out[1], "armhf");
	assert_string_equal(out[2], "aarch64");
	n = rpl_apko_arch_normalise(&l, out);
	assert_int_equal(n, RPL_APKO_NARCHS);
	assert_string_equal(out[0], "x86");
	assert_string_equal(out[8], "s390x");
	l.n = 0;
	assert_int_equal(rpl_apko_arch_normalise(&l, out), 0);
	rpl_image_free(img);
}

static void test_json(void **state)
{
	struct rpl_image *img = load_ok(FIX "inc/top.apko.yaml");
	json_t *j = rpl_image_to_json(img), *v;

	(void)state;
	assert_string_equal(json_string_value(json_object_get(j, "kind")), "image");
	assert_string_equal(json_string_value(json_object_get(j, "name")), "top");
	assert_string_equal(json_string_value(json_object_get(j, "file")), FIX "inc/top.apko.yaml");
	v = json_object_get(j, "archs");
	assert_int_equal(json_array_size(v), 1);
	assert_string_equal(json_string_value(json_array_get(v, 0)), "aarch64");
	v = json_object_get(j, "packages");
	assert_int_equal(json_array_size(v), 3);
	assert_string_equal(json_string_value(json_array_get(v, 2)), "top-pkg");
	assert_int_equal(json_array_size(json_object_get(j, "inputs")), 3);
	v = json_object_get(j, "includes");
	assert_int_equal(json_array_size(v), 2);
	assert_string_equal(json_string_value(json_array_get(v, 0)), FIX "inc/base/mid.yaml");
	assert_string_equal(json_string_value(json_object_get(j, "cmd")), "top-cmd");
	assert_string_equal(json_string_value(json_object_get(j, "work-dir")), "/mid");
	assert_string_equal(json_string_value(json_object_get(j, "stop-signal")), "SIGINT");
	assert_string_equal(
	        json_string_value(json_object_get(json_object_get(j, "environment"), "SHARED")),
	        "top");
	assert_string_equal(
	        json_string_value(json_object_get(json_object_get(j, "entrypoint"), "command")),
	        "/bin/mid");
	v = json_object_get(json_object_get(j, "accounts"), "users");
	assert_int_equal(json_array_size(v), 2);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(v, 1), "gid")), 2000);
	v = json_object_get(j, "paths");
	assert_int_equal(json_integer_value(json_object_get(json_array_get(v, 1), "permissions")),
	                 0755);
	assert_null(json_object_get(j, "layering"));
	assert_null(json_object_get(j, "vcs-url"));
	json_decref(j);
	rpl_image_free(img);

	img = load_ok(FIX "full.apko.yaml");
	j = rpl_image_to_json(img);
	v = json_object_get(j, "archs");
	assert_int_equal(json_array_size(v), 3);
	assert_string_equal(json_string_value(json_array_get(v, 0)), "x86_64");
	v = json_object_get(j, "layering");
	assert_string_equal(json_string_value(json_object_get(v, "strategy")), "origin");
	assert_int_equal(json_integer_value(json_object_get(v, "budget")), 10);
	json_decref(j);
	rpl_image_free(img);
}

static int parse_str(struct rpl_ydoc *doc, const char *yaml)
{
	return rpl_yaml_parse(doc, "test.yaml", yaml, strlen(yaml));
}

static void test_looks_like(void **state)
{
	struct rpl_ydoc doc;

	(void)state;
	assert_int_equal(parse_str(&doc, "contents:\n  packages: [a]\n"), 0);
	assert_true(rpl_apko_looks_like(doc.root));
	rpl_ydoc_release(&doc);
	assert_int_equal(parse_str(&doc, "package:\n  name: a\nenvironment:\n  contents: {}\n"), 0);
	assert_false(rpl_apko_looks_like(doc.root));
	rpl_ydoc_release(&doc);
	assert_int_equal(parse_str(&doc, "package: {}\ncontents: {}\n"), 0);
	assert_false(rpl_apko_looks_like(doc.root));
	rpl_ydoc_release(&doc);
	assert_int_equal(parse_str(&doc, "- contents\n"), 0);
	assert_false(rpl_apko_looks_like(doc.root));
	rpl_ydoc_release(&doc);
	assert_false(rpl_apko_looks_like(NULL));
}

/* melange embeds the schema for its `environment:` block. */
struct wrapper {
	struct rpl_text name;
	struct rpl_apko_config env;
};

static const struct rpl_field wrapper_fields[] = {
	RPL_FIELD("name", RPL_F_STR, struct wrapper, name),
	RPL_FIELD_SUB("environment", RPL_F_STRUCT, struct wrapper, env, &rpl_apko_config_schema),
	RPL_FIELD_END,
};

static const struct rpl_schema wrapper_schema = { "recipe", sizeof(struct wrapper),
	                                          wrapper_fields };

static void test_embedded(void **state)
{
	static const char yaml[] = "name: x\n"
	                           "environment:\n"
	                           "  contents:\n"
	                           "    packages: [build-base]\n"
	                           "  accounts:\n"
	                           "    users:\n"
	                           "      - username: build\n"
	                           "        uid: 1000\n"
	                           "        gid: 0o1750\n"
	                           "  paths:\n"
	                           "    - path: /home/build\n"
	                           "      type: directory\n"
	                           "      permissions: 0755\n"
	                           "  layering: {strategy: origin, budget: 0x10}\n"
	                           "  certificates:\n"
	                           "    additional: [{name: a, content: b}]\n";
	struct rpl_arena arena;
	struct rpl_ydoc doc;
	struct rpl_dctx ctx;
	struct wrapper w;

	(void)state;
	rpl_arena_init(&arena);
	assert_int_equal(parse_str(&doc, yaml), 0);
	memset(&w, 0, sizeof(w));
	memset(&ctx, 0, sizeof(ctx));
	ctx.arena = &arena;
	ctx.file = "test.yaml";
	assert_int_equal(rpl_decode(&ctx, doc.root, &wrapper_schema, &w), 0);
	rpl_ydoc_release(&doc);
	assert_string_equal(w.name.s, "x");
	assert_string_equal(w.env.contents.packages.v[0].s, "build-base");
	assert_int_equal(w.env.accounts.users[0].uid, 1000);
	assert_int_equal(w.env.accounts.users[0].has_gid, 1);
	assert_int_equal(w.env.accounts.users[0].gid, 01750);
	assert_int_equal(w.env.paths[0].has_permissions, 1);
	assert_int_equal(w.env.paths[0].permissions, 0755);
	assert_int_equal(w.env.has_layering, 1);
	assert_int_equal(w.env.layering.budget, 16);
	assert_int_equal(w.env.ncert_additional, 1);
	assert_string_equal(w.env.cert_additional[0].name.s, "a");

	/* Unknown keys inside the embedded struct are errors too. */
	assert_int_equal(parse_str(&doc, "environment:\n  contnets: {}\n"), 0);
	memset(&w, 0, sizeof(w));
	assert_int_equal(rpl_decode(&ctx, doc.root, &wrapper_schema, &w), -RPL_ESCHEMA);
	assert_string_equal(rpl_errmsg(),
	                    "test.yaml:2:3: unknown key 'contnets' in image configuration");
	rpl_ydoc_release(&doc);
	rpl_arena_release(&arena);
}

/*
 * Loads `yaml` from a temporary file (named in `path`, which must hold
 * "/tmp/rpl-test-apko-XXXXXX"); returns the load error (0 on success).
 */
static int load_text(const char *yaml, char *path, char *msg, size_t msglen)
{
	struct rpl_image *img;
	int fd = mkstemp(path);
	size_t len = strlen(yaml);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, yaml, len), (ssize_t)len);
	close(fd);
	img = rpl_image_load(path);
	unlink(path);
	snprintf(msg, msglen, "%s", img ? "" : rpl_errmsg());
	rpl_image_free(img);
	return img ? 0 : -1;
}

/* Malformed input is refused with a positioned message, never a crash. */
static void test_bad_input(void **state)
{
	static const char *const bad[] = {
		"- a\n",
		"just a string\n",
		"contents: [1, 2]\n",
		"contents:\n  packages: {a: b}\n",
		"contents:\n  packages: [[a]]\n",
		"contents:\n  baseimage: [x]\n",
		"contents:\n  baseimage: {image: x, other: y}\n",
		"contents:\n  runtime_keyring: [a]\n",
		"contents:\n  runtime_keyring: [{content: x}]\n",
		"contents:\n  runtime_keyring: [{name: k}]\n",
		"contents:\n  runtime_keyring: [{name: k, content: x}, {name: k, content: y}]\n",
		"accounts: []\n",
		"accounts:\n  users: [1]\n",
		"accounts:\n  users: [{username: a}]\n",
		"accounts:\n  users: [{uid: 5}]\n",
		"accounts:\n  users: [{username: a, uid: -1}]\n",
		"accounts:\n  users: [{username: a, uid: 4294967296}]\n",
		"accounts:\n  users: [{username: a, uid: 99999999999999999999999}]\n",
		"accounts:\n  users: [{username: a, uid: 1.5}]\n",
		"accounts:\n  users: [{username: a, uid: 0x}]\n",
		"accounts:\n  users: [{username: a, uid: '+'}]\n",
		"accounts:\n  users: [{username: a, uid: +}]\n",
		"accounts:\n  users: [{username: a, uid: [1]}]\n",
		"accounts:\n  groups: [{gid: 5}]\n",
		"paths: [{path: /a, type: directory, permissions: 0o8}]\n",
		"paths: [{path: /a, type: directory, permissions: abc}]\n",
		"paths: [{path: /a, type: directory, recursive: maybe}]\n",
		"paths: [{path: /a}]\n",
		"paths: {a: b}\n",
		"archs: {a: b}\n",
		"archs: [all, sparc]\n",
		"environment: [a]\n",
		"environment: {a: [b]}\n",
		"entrypoint: /bin/sh\n",
		"entrypoint: {services: [a]}\n",
		"layering: 3\n",
		"layering: {budget: 2}\n",
		"layering: {strategy: origin, budget: x}\n",
		"format: squashfs\n",
		"format: tar+gzip\n",
		"format: erofs+xyz\n",
		"certificates: [a]\n",
		"certificates: {additional: [{name: .hidden, content: x}]}\n",
		"certificates: {additional: [{content: x}]}\n",
		"include: [a]\n",
		"include: /\n",
		"include: /nonexistent/x.yaml\n",
		"contents:\n  baseimage: {image: x}\ncmd: y\n",
		"options: {}\n",
		"os-release: {}\n",
		"a: b: c\n",
		"{\n",
	};
	char msg[4096];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		char path[] = "/tmp/rpl-test-apko-XXXXXX";
		unsigned line = 0, col = 0;
		int end = 0;

		if (!load_text(bad[i], path, msg, sizeof(msg)))
			fail_msg("accepted: %s", bad[i]);
		/* Every message is "file:line:col: what". */
		assert_memory_equal(msg, path, strlen(path));
		if (sscanf(msg + strlen(path), ":%u:%u: %n", &line, &col, &end) != 2 || !end ||
		    !line || !col)
			fail_msg("no position for %s: %s", bad[i], msg);
	}
}

static void test_good_input(void **state)
{
	static const char *const good[] = {
		"contents: {}\n",
		"contents:\n",
		"contents: {packages: [a]}\naccounts: {users: [{username: a, uid: +7_0}]}\n",
		"format: erofs\n",
		"format: erofs+zstd,level=3\nlayering: {}\n",
		"archs: [all]\n",
		"archs: [host]\n",
		"archs: [386, arm/v7, loong64, riscv64, s390x, ppc64le]\n",
		"paths: [{path: /a, type: directory, permissions: 0}]\n",
		"accounts:\n  users: [{username: a, uid: 4294967295}]\n",
		"entrypoint: {type: service-bundle, services: {a: b}}\n",
		"contents:\n  baseimage: {image: x, apkindex: y}\n  packages: [a]\narchs: [amd64]\n",
	};
	char msg[4096];

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(*good); i++) {
		char path[] = "/tmp/rpl-test-apko-XXXXXX";

		if (load_text(good[i], path, msg, sizeof(msg)))
			fail_msg("refused: %s: %s", good[i], msg);
	}
}

/* ---- files that must not be read --------------------------------------------- */

static char tmp[256];

static const char *tmp_file(const char *rel)
{
	static char path[2][1024];
	static int k;

	k = !k;
	snprintf(path[k], sizeof(path[k]), "%s/%s", tmp, rel);
	return path[k];
}

/* Loads `rel` below the temporary repo (confined to it) and expects `want`. */
static void expect_tmp_error(const char *real_root, const char *rel, const char *want)
{
	struct rpl_image *img;

	rpl_error_clear();
	alarm(20); /* a FIFO read would block: fail instead */
	img = rpl_image_load_in(real_root, tmp_file("repo"), tmp_file(rel));
	alarm(0);
	if (img) {
		rpl_image_free(img);
		fail_msg("%s loaded, want \"%s\"", rel, want);
	}
	assert_string_equal(rpl_errmsg(), want);
}

/*
 * An image or include that is a FIFO or a link to a device is refused, and
 * with a root an include that leads out of it (by `..` or by a link) too.
 */
static void test_irregular_and_outside(void **state)
{
	char real[4096], want[8192];
	struct rpl_image *img;

	(void)state;
	assert_int_equal(rpl_test_mkdtemp(tmp, sizeof(tmp), "apko"), 0);
	rpl_test_write_file(tmp, "outside.yaml", "contents: {packages: [evil]}\n");
	rpl_test_write_file(tmp, "repo/up.apko.yaml", "include: ../outside.yaml\n");
	rpl_test_write_file(tmp, "repo/link.apko.yaml", "include: inc/link.yaml\n");
	rpl_test_write_file(tmp, "repo/fifo-inc.apko.yaml", "include: inc/fifo.yaml\n");
	rpl_test_write_file(tmp, "repo/zero-inc.apko.yaml", "include: inc/zero.yaml\n");
	rpl_test_write_file(tmp, "repo/inc/ok.yaml", "contents: {packages: [fine]}\n");
	rpl_test_write_file(tmp, "repo/good.apko.yaml", "include: inc/ok.yaml\n");
	assert_int_equal(symlink("../../outside.yaml", tmp_file("repo/inc/link.yaml")), 0);
	assert_int_equal(symlink("/dev/zero", tmp_file("repo/inc/zero.yaml")), 0);
	assert_int_equal(mkfifo(tmp_file("repo/inc/fifo.yaml"), 0644), 0);
	assert_int_equal(mkfifo(tmp_file("repo/fifo.apko.yaml"), 0644), 0);
	assert_non_null(realpath(tmp_file("repo"), real));

	snprintf(want, sizeof(want),
	         "%s/repo/fifo-inc.apko.yaml:1:10: cannot read include '%s/repo/inc/fifo.yaml': "
	         "it is a FIFO, not a regular file",
	         tmp, tmp);
	expect_tmp_error(NULL, "repo/fifo-inc.apko.yaml", want);
	snprintf(want, sizeof(want),
	         "%s/repo/zero-inc.apko.yaml:1:10: cannot read include '%s/repo/inc/zero.yaml': "
	         "it is a character device, not a regular file",
	         tmp, tmp);
	expect_tmp_error(NULL, "repo/zero-inc.apko.yaml", want);
	snprintf(want, sizeof(want),
	         "cannot read '%s/repo/fifo.apko.yaml': it is a FIFO, not a regular file", tmp);
	expect_tmp_error(real, "repo/fifo.apko.yaml", want);

	/* Outside the root: refused with one, loaded without (a file given by hand). */
	snprintf(
	        want, sizeof(want),
	        "%s/repo/up.apko.yaml:1:10: include '%s/repo/../outside.yaml' leads to '%.*s/outside.yaml', "
	        "outside the repository",
	        tmp, tmp, (int)(strrchr(real, '/') - real), real);
	expect_tmp_error(real, "repo/up.apko.yaml", want);
	snprintf(
	        want, sizeof(want),
	        "%s/repo/link.apko.yaml:1:10: include '%s/repo/inc/link.yaml' leads to '%.*s/outside.yaml', "
	        "outside the repository",
	        tmp, tmp, (int)(strrchr(real, '/') - real), real);
	expect_tmp_error(real, "repo/link.apko.yaml", want);
	img = rpl_image_load(tmp_file("repo/link.apko.yaml"));
	assert_non_null(img);
	assert_string_equal(img->config.contents.packages.v[0].s, "evil");
	rpl_image_free(img);
	img = rpl_image_load_in(real, tmp_file("repo"), tmp_file("repo/good.apko.yaml"));
	assert_non_null(img);
	assert_string_equal(img->config.contents.packages.v[0].s, "fine");
	rpl_image_free(img);
	rpl_test_remove_tree(tmp);
}

/*
 * apko resolves an include as paths.ResolvePath does: relative to its
 * working directory (for ripple the monorepo root) when something is there,
 * else below each include path (ripple passes the top file's directory).
 * So apko's own examples/include.yaml ("include: examples/alpine-base.yaml")
 * loads from the repo root, an include beside the top file loads too, the
 * root wins over the top file's directory, and a nested include is not
 * looked up beside its includer.
 */
static void test_include_resolution(void **state)
{
	char real[4096], wd[4096], want[8192];
	struct rpl_image *img;

	(void)state;
	assert_int_equal(rpl_test_mkdtemp(tmp, sizeof(tmp), "apko"), 0);
	rpl_test_write_file(tmp, "repo/examples/alpine-base.yaml",
	                    "contents:\n  packages: [alpine-baselayout]\n"
	                    "entrypoint:\n  command: /bin/sh -l\n");
	rpl_test_write_file(tmp, "repo/examples/include.yaml",
	                    "include: examples/alpine-base.yaml\n");
	rpl_test_write_file(tmp, "repo/images/hello.apko.yaml",
	                    "include: base.apko.yaml\ncontents: {packages: [hello]}\n");
	rpl_test_write_file(tmp, "repo/images/base.apko.yaml",
	                    "include: common.yaml\ncontents: {packages: [base]}\n");
	rpl_test_write_file(tmp, "repo/images/common.yaml", "contents: {packages: [beside]}\n");
	rpl_test_write_file(tmp, "repo/common.yaml", "contents: {packages: [at-root]}\n");
	rpl_test_write_file(tmp, "repo/deep/top.apko.yaml", "include: sub/mid.yaml\n");
	rpl_test_write_file(tmp, "repo/deep/sub/mid.yaml", "include: leaf.yaml\n");
	rpl_test_write_file(tmp, "repo/deep/sub/leaf.yaml", "contents: {packages: [leaf]}\n");
	assert_non_null(realpath(tmp_file("repo"), real));
	snprintf(wd, sizeof(wd), "%s/repo", tmp);

	img = rpl_image_load_in(real, wd, tmp_file("repo/examples/include.yaml"));
	if (!img)
		fail_msg("examples/include.yaml: %s", rpl_errmsg());
	assert_string_equal(img->config.contents.packages.v[0].s, "alpine-baselayout");
	assert_string_equal(img->config.entrypoint.command.s, "/bin/sh -l");
	assert_int_equal(img->ninputs, 2);
	snprintf(want, sizeof(want), "%s/repo/examples/alpine-base.yaml", tmp);
	assert_string_equal(img->inputs[1], want);
	rpl_image_free(img);

	/* base.apko.yaml beside the top file; common.yaml from the root first. */
	img = rpl_image_load_in(real, wd, tmp_file("repo/images/hello.apko.yaml"));
	if (!img)
		fail_msg("images/hello.apko.yaml: %s", rpl_errmsg());
	assert_int_equal(img->config.contents.packages.n, 3);
	assert_string_equal(img->config.contents.packages.v[0].s, "at-root");
	assert_string_equal(img->config.contents.packages.v[1].s, "base");
	assert_string_equal(img->config.contents.packages.v[2].s, "hello");
	rpl_image_free(img);

	snprintf(want, sizeof(want),
	         "%s/repo/deep/sub/mid.yaml:1:10: cannot read include 'leaf.yaml': it is neither "
	         "in the working directory ('%s/repo') nor in the include path '%s/repo/deep'",
	         tmp, tmp, tmp);
	expect_tmp_error(real, "repo/deep/top.apko.yaml", want);
	rpl_test_remove_tree(tmp);
}

/*
 * An image is named after its file: a name that is not valid UTF-8 (ls
 * --json printed null for it) or holds a control character (a newline
 * splits every line-oriented output, XML refuses it) is refused, with the
 * name escaped in the message.
 */
static void test_image_names(void **state)
{
	static const struct {
		const char *file, *want;
	} bad[] = {
		{ "bad\xff.apko.yaml",
		  "image name 'bad\\xff' is not valid UTF-8 (an image is named after its file)" },
		{ "two\nlines.apko.yaml",
		  "image name 'two\\x0alines' holds a control character (an image is named after its "
		  "file)" },
		{ "esc\x1b[31m.apko.yaml", "image name 'esc\\x1b[31m' holds a control character" },
		{ "rtl\xe2\x80\xae.apko.yaml",
		  "image name 'rtl\\u{202e}' holds a control character" },
		{ "c1\xc2\x85.apko.yaml", "image name 'c1\\u{0085}' holds a control character" },
		{ "over\xc0\xaflong.apko.yaml",
		  "image name 'over\\xc0\\xaflong' is not valid UTF-8" },
	};
	struct rpl_image *img;
	char want[2048];

	(void)state;
	assert_int_equal(rpl_test_mkdtemp(tmp, sizeof(tmp), "apko"), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		struct rpl_strbuf esc = RPL_STRBUF_INIT;

		rpl_test_write_file(tmp, bad[i].file, "contents: {packages: [a]}\n");
		rpl_utf8_escape(&esc, tmp_file(bad[i].file));
		rpl_error_clear();
		img = rpl_image_load(tmp_file(bad[i].file));
		assert_null(img);
		snprintf(want, sizeof(want), "%s:1:1: %s", esc.buf, bad[i].want);
		if (strncmp(rpl_errmsg(), want, strlen(want)))
			fail_msg("%zu: \"%s\", want \"%s\"", i, rpl_errmsg(), want);
		rpl_strbuf_release(&esc);
	}
	/* Any other text is a name. */
	rpl_test_write_file(tmp, "caf\xc3\xa9 \xe6\x97\xa5.apko.yaml",
	                    "contents: {packages: [a]}\n");
	img = rpl_image_load(tmp_file("caf\xc3\xa9 \xe6\x97\xa5.apko.yaml"));
	assert_non_null(img);
	assert_string_equal(img->name, "caf\xc3\xa9 \xe6\x97\xa5");
	rpl_image_free(img);
	rpl_test_remove_tree(tmp);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full_schema),
		cmocka_unit_test(test_integers),
		cmocka_unit_test(test_include_merge),
		cmocka_unit_test(test_include_entrypoint_whole),
		cmocka_unit_test(test_include_cycle),
		cmocka_unit_test(test_include_missing),
		cmocka_unit_test(test_missing_file),
		cmocka_unit_test(test_unknown_key),
		cmocka_unit_test(test_wrong_type),
		cmocka_unit_test(test_validation),
		cmocka_unit_test(test_service_bundle),
		cmocka_unit_test(test_entrypoint_other_type),
		cmocka_unit_test(test_include_resolution),
		cmocka_unit_test(test_arch_to_apk),
		cmocka_unit_test(test_arch_normalise),
		cmocka_unit_test(test_json),
		cmocka_unit_test(test_looks_like),
		cmocka_unit_test(test_embedded),
		cmocka_unit_test(test_bad_input),
		cmocka_unit_test(test_good_input),
		cmocka_unit_test(test_irregular_and_outside),
		cmocka_unit_test(test_image_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
