/*
 * apko image configurations: the strict schema, `include` resolution and
 * merging, and apko's Validate (pkg/build/types/).
 *
 * Loading happens in three steps per file.  The file is parsed and decoded
 * strictly (strings are copied into the image's arena, so the YAML tree is
 * released at once), then the items only that file contributes (users,
 * paths, keys, ...) are checked while its tree is still at hand to point at,
 * and finally its `include` is loaded the same way and merged under it as
 * apko's MergeInto does.  The checks of values where one file wins over
 * another (archs, layering, format, entrypoint) run once on the merged
 * result, which remembers the file each winner came from.
 */
#include "recipes/apko.h"
#include "common/arena.h"
#include "common/error.h"
#include "common/file.h"
#include "common/strbuf.h"
#include "common/utf8.h"
#include "common/xalloc.h"

#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define CONTAINER(p, type, member) ((type *)(void *)((char *)(p)-offsetof(type, member)))

/* Include chains longer than this are treated as runaway even without a cycle. */
enum { MAX_INCLUDE_DEPTH = 64 };

/* --- errors --------------------------------------------------------------- */

static int verr_at(const char *file, uint32_t line, uint32_t col, const char *fmt, va_list ap)
{
	struct rpl_strbuf sb = RPL_STRBUF_INIT;
	int err;

	if (line)
		rpl_strbuf_addf(&sb, "%s:%u:%u: ", file, line, col);
	else
		rpl_strbuf_addf(&sb, "%s: ", file);
	rpl_strbuf_vaddf(&sb, fmt, ap);
	err = rpl_error(-RPL_ESCHEMA, "%s", sb.buf);
	rpl_strbuf_release(&sb);
	return err;
}

/*
 * Reports an error at text `t`, or at node `n` when the text has no position
 * (the key was absent), so that every message points into the file.
 */
static int err_at(const char *file, const struct rpl_text *t, const struct rpl_ynode *n,
                  const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static int err_at(const char *file, const struct rpl_text *t, const struct rpl_ynode *n,
                  const char *fmt, ...)
{
	uint32_t line = 0, col = 0;
	va_list ap;
	int err;

	if (t && t->line) {
		line = t->line;
		col = t->col;
	} else if (n) {
		line = n->line;
		col = n->col;
	}
	va_start(ap, fmt);
	err = verr_at(file, line, col, fmt, ap);
	va_end(ap);
	return err;
}

static int empty(const struct rpl_text *t)
{
	return !t->s || !*t->s;
}

/* --- integers as yaml.v3 reads them ----------------------------------------- */

/*
 * yaml.v3 resolves a plain scalar that starts with a digit or sign as an int
 * through strconv.ParseInt(s, 0, 64) after deleting every '_'.  So 0x1ed,
 * 0o755, 0b111101101 and the leading-zero octal 0755 are all integers.  A
 * leading-zero string that is not valid octal ("08") fails ParseInt but then
 * resolves as the float 8, which decodes into an unsigned field as 8; that is
 * reproduced too.  Other floats are refused rather than truncated.
 */
static int parse_digits(const char *s, unsigned base, uint64_t *out)
{
	uint64_t v = 0;

	for (; *s; s++) {
		unsigned d;

		if (*s >= '0' && *s <= '9')
			d = (unsigned)(*s - '0');
		else if (*s >= 'a' && *s <= 'z')
			d = (unsigned)(*s - 'a' + 10);
		else if (*s >= 'A' && *s <= 'Z')
			d = (unsigned)(*s - 'A' + 10);
		else
			return -1;
		if (d >= base)
			return -1;
		if (v > (UINT64_MAX - d) / base)
			return -2;
		v = v * base + d;
	}
	*out = v;
	return 0;
}

/* Returns 0, -1 when `in` is not an integer, or -2 when it overflows 64 bits. */
static int parse_yaml_int(const char *in, int *neg, uint64_t *mag)
{
	struct rpl_strbuf sb = RPL_STRBUF_INIT;
	const char *s;
	unsigned base = 10;
	int r;

	*neg = 0;
	/* yaml.v3 only tries to read a number from a scalar that starts like one. */
	if (!((*in >= '0' && *in <= '9') || *in == '+' || *in == '-'))
		return -1;
	for (s = in; *s; s++)
		if (*s != '_')
			rpl_strbuf_addch(&sb, *s);
	s = rpl_strbuf_str(&sb);
	if (*s == '+' || *s == '-')
		*neg = *s++ == '-';
	if (!*s) {
		r = -1;
		goto out;
	}
	if (s[0] == '0') {
		char p = s[1] ? (char)(s[1] | 0x20) : '\0';

		if (s[1] && s[2] && (p == 'b' || p == 'o' || p == 'x')) {
			base = p == 'b' ? 2 : p == 'o' ? 8 : 16;
			s += 2;
		} else {
			base = 8;
			s += 1;
		}
	}
	r = parse_digits(s, base, mag);
	/* "08" is not octal but it is the float 8, which yaml.v3 stores as 8. */
	if (r == -1 && base == 8 && s[-1] == '0' && strspn(s, "0123456789") == strlen(s))
		r = parse_digits(s, 10, mag);
out:
	rpl_strbuf_release(&sb);
	return r;
}

/* Decodes an unsigned 32-bit integer; `has` (optional) records presence. */
static int decode_u32(const struct rpl_dctx *c, const struct rpl_ynode *n, const char *key,
                      uint32_t *out, int *has)
{
	uint64_t mag;
	int neg, r;

	*out = 0;
	if (has)
		*has = 0;
	if (rpl_ynode_is_null(n))
		return 0;
	if (n->type != RPL_YSCALAR)
		return rpl_decode_error(c, n, "'%s': expected an unsigned integer, found %s", key,
		                        rpl_ynode_kind(n));
	if (n->scalar.quoted || n->scalar.tagged_str)
		return rpl_decode_error(
		        c, n, "'%s': expected an unsigned integer, found the string \"%s\"", key,
		        n->scalar.s);
	r = parse_yaml_int(n->scalar.s, &neg, &mag);
	if (r == -1)
		return rpl_decode_error(c, n, "'%s': expected an unsigned integer, found \"%s\"",
		                        key, n->scalar.s);
	if (r == -2 || (neg && mag) || mag > UINT32_MAX)
		return rpl_decode_error(c, n,
		                        "'%s': %s is out of range for a 32-bit unsigned integer",
		                        key, n->scalar.s);
	*out = (uint32_t)mag;
	if (has)
		*has = 1;
	return 0;
}

static int decode_i64(const struct rpl_dctx *c, const struct rpl_ynode *n, const char *key,
                      int64_t *out)
{
	uint64_t mag;
	int neg, r;

	*out = 0;
	if (rpl_ynode_is_null(n))
		return 0;
	if (n->type != RPL_YSCALAR)
		return rpl_decode_error(c, n, "'%s': expected an integer, found %s", key,
		                        rpl_ynode_kind(n));
	if (n->scalar.quoted || n->scalar.tagged_str)
		return rpl_decode_error(c, n, "'%s': expected an integer, found the string \"%s\"",
		                        key, n->scalar.s);
	r = parse_yaml_int(n->scalar.s, &neg, &mag);
	if (r == -1)
		return rpl_decode_error(c, n, "'%s': expected an integer, found \"%s\"", key,
		                        n->scalar.s);
	if (r == -2 || mag > (uint64_t)INT64_MAX + (neg ? 1 : 0))
		return rpl_decode_error(c, n, "'%s': %s is out of range for a 64-bit integer", key,
		                        n->scalar.s);
	*out = neg ? (int64_t)(0 - mag) : (int64_t)mag;
	return 0;
}

static int decode_user_uid(const struct rpl_dctx *c, const struct rpl_ynode *n, void *dst)
{
	return decode_u32(c, n, "uid", dst, NULL);
}

static int decode_user_gid(const struct rpl_dctx *c, const struct rpl_ynode *n, void *dst)
{
	struct rpl_apko_user *u = CONTAINER(dst, struct rpl_apko_user, gid);

	return decode_u32(c, n, "gid", &u->gid, &u->has_gid);
}

static int decode_group_gid(const struct rpl_dctx *c, const struct rpl_ynode *n, void *dst)
{
	return decode_u32(c, n, "gid", dst, NULL);
}

static int decode_path_uid(const struct rpl_dctx *c, const struct rpl_ynode *n, void *dst)
{
	struct rpl_apko_path *p = CONTAINER(dst, struct rpl_apko_path, uid);

	return decode_u32(c, n, "uid", &p->uid, &p->has_uid);
}

static int decode_path_gid(const struct rpl_dctx *c, const struct rpl_ynode *n, void *dst)
{
	struct rpl_apko_path *p = CONTAINER(dst, struct rpl_apko_path, gid);

	return decode_u32(c, n, "gid", &p->gid, &p->has_gid);
}

static int decode_path_permissions(const struct rpl_dctx *c, const struct rpl_ynode *n, void *dst)
{
	struct rpl_apko_path *p = CONTAINER(dst, struct rpl_apko_path, permissions);

	return decode_u32(c, n, "permissions", &p->permissions, &p->has_permissions);
}

static int decode_budget(const struct rpl_dctx *c, const struct rpl_ynode *n, void *dst)
{
	return decode_i64(c, n, "budget", dst);
}

/* --- schema ----------------------------------------------------------------- */

static const struct rpl_field keyring_entry_fields[] = {
	RPL_FIELD("name", RPL_F_STR, struct rpl_apko_keyring_entry, name),
	RPL_FIELD("content", RPL_F_STR, struct rpl_apko_keyring_entry, content),
	RPL_FIELD_END,
};

static const struct rpl_schema keyring_entry_schema = {
	"runtime_keyring entry",
	sizeof(struct rpl_apko_keyring_entry),
	keyring_entry_fields,
};

/* contents.baseimage is a pointer in apko; here two texts and a flag. */
struct baseimage {
	struct rpl_text image;
	struct rpl_text apkindex;
};

static const struct rpl_field baseimage_fields[] = {
	RPL_FIELD("image", RPL_F_STR, struct baseimage, image),
	RPL_FIELD("apkindex", RPL_F_STR, struct baseimage, apkindex),
	RPL_FIELD_END,
};

static const struct rpl_schema baseimage_schema = {
	"baseimage",
	sizeof(struct baseimage),
	baseimage_fields,
};

static int decode_baseimage(const struct rpl_dctx *c, const struct rpl_ynode *n, void *dst)
{
	struct rpl_apko_contents *ct = CONTAINER(dst, struct rpl_apko_contents, baseimage_image);
	struct baseimage b;
	int err;

	if (rpl_ynode_is_null(n))
		return 0;
	memset(&b, 0, sizeof(b));
	err = rpl_decode(c, n, &baseimage_schema, &b);
	if (err)
		return err;
	ct->baseimage_image = b.image;
	ct->baseimage_apkindex = b.apkindex;
	/* Without an image value, remember where the block is for messages. */
	if (!ct->baseimage_image.line) {
		ct->baseimage_image = rpl_text_make("");
		ct->baseimage_image.line = n->line;
		ct->baseimage_image.col = n->col;
	}
	ct->has_baseimage = 1;
	return 0;
}

static const struct rpl_field contents_fields[] = {
	RPL_FIELD("repositories", RPL_F_STRLIST, struct rpl_apko_contents, repositories),
	RPL_FIELD("build_repositories", RPL_F_STRLIST, struct rpl_apko_contents,
	          build_repositories),
	RPL_FIELD("runtime_repositories", RPL_F_STRLIST, struct rpl_apko_contents,
	          runtime_repositories),
	RPL_FIELD("keyring", RPL_F_STRLIST, struct rpl_apko_contents, keyring),
	RPL_FIELD_LIST("runtime_keyring", struct rpl_apko_contents, runtime_keyring,
	               nruntime_keyring, &keyring_entry_schema),
	RPL_FIELD("packages", RPL_F_STRLIST, struct rpl_apko_contents, packages),
	RPL_FIELD_FN("baseimage", struct rpl_apko_contents, baseimage_image, decode_baseimage),
	RPL_FIELD_END,
};

static const struct rpl_schema contents_schema = {
	"contents",
	sizeof(struct rpl_apko_contents),
	contents_fields,
};

static const struct rpl_field entrypoint_fields[] = {
	RPL_FIELD("type", RPL_F_STR, struct rpl_apko_entrypoint, type),
	RPL_FIELD("command", RPL_F_STR, struct rpl_apko_entrypoint, command),
	RPL_FIELD("shell-fragment", RPL_F_STR, struct rpl_apko_entrypoint, shell_fragment),
	RPL_FIELD("services", RPL_F_STRMAP, struct rpl_apko_entrypoint, services),
	RPL_FIELD_END,
};

static const struct rpl_schema entrypoint_schema = {
	"entrypoint",
	sizeof(struct rpl_apko_entrypoint),
	entrypoint_fields,
};

static const struct rpl_field user_fields[] = {
	RPL_FIELD("username", RPL_F_STR, struct rpl_apko_user, username),
	RPL_FIELD_FN("uid", struct rpl_apko_user, uid, decode_user_uid),
	RPL_FIELD_FN("gid", struct rpl_apko_user, gid, decode_user_gid),
	RPL_FIELD("shell", RPL_F_STR, struct rpl_apko_user, shell),
	RPL_FIELD("homedir", RPL_F_STR, struct rpl_apko_user, homedir),
	RPL_FIELD_END,
};

static const struct rpl_schema user_schema = {
	"user",
	sizeof(struct rpl_apko_user),
	user_fields,
};

static const struct rpl_field group_fields[] = {
	RPL_FIELD("groupname", RPL_F_STR, struct rpl_apko_group, groupname),
	RPL_FIELD_FN("gid", struct rpl_apko_group, gid, decode_group_gid),
	RPL_FIELD("members", RPL_F_STRLIST, struct rpl_apko_group, members),
	RPL_FIELD_END,
};

static const struct rpl_schema group_schema = {
	"group",
	sizeof(struct rpl_apko_group),
	group_fields,
};

static const struct rpl_field accounts_fields[] = {
	RPL_FIELD("run-as", RPL_F_STR, struct rpl_apko_accounts, run_as),
	RPL_FIELD_LIST("users", struct rpl_apko_accounts, users, nusers, &user_schema),
	RPL_FIELD_LIST("groups", struct rpl_apko_accounts, groups, ngroups, &group_schema),
	RPL_FIELD_END,
};

static const struct rpl_schema accounts_schema = {
	"accounts",
	sizeof(struct rpl_apko_accounts),
	accounts_fields,
};

static const struct rpl_field path_fields[] = {
	RPL_FIELD("path", RPL_F_STR, struct rpl_apko_path, path),
	RPL_FIELD("type", RPL_F_STR, struct rpl_apko_path, type),
	RPL_FIELD_FN("uid", struct rpl_apko_path, uid, decode_path_uid),
	RPL_FIELD_FN("gid", struct rpl_apko_path, gid, decode_path_gid),
	RPL_FIELD_FN("permissions", struct rpl_apko_path, permissions, decode_path_permissions),
	RPL_FIELD("source", RPL_F_STR, struct rpl_apko_path, source),
	RPL_FIELD("recursive", RPL_F_BOOL, struct rpl_apko_path, recursive),
	RPL_FIELD_END,
};

static const struct rpl_schema path_schema = {
	"path",
	sizeof(struct rpl_apko_path),
	path_fields,
};

static const struct rpl_field layering_fields[] = {
	RPL_FIELD("strategy", RPL_F_STR, struct rpl_apko_layering, strategy),
	RPL_FIELD_FN("budget", struct rpl_apko_layering, budget, decode_budget),
	RPL_FIELD_END,
};

static const struct rpl_schema layering_schema = {
	"layering",
	sizeof(struct rpl_apko_layering),
	layering_fields,
};

static int decode_layering(const struct rpl_dctx *c, const struct rpl_ynode *n, void *dst)
{
	struct rpl_apko_config *cfg = CONTAINER(dst, struct rpl_apko_config, layering);
	int err;

	if (rpl_ynode_is_null(n))
		return 0;
	memset(&cfg->layering, 0, sizeof(cfg->layering));
	err = rpl_decode(c, n, &layering_schema, &cfg->layering);
	if (err)
		return err;
	/* A missing strategy still needs a place to point at. */
	if (!cfg->layering.strategy.line) {
		cfg->layering.strategy = rpl_text_make("");
		cfg->layering.strategy.line = n->line;
		cfg->layering.strategy.col = n->col;
	}
	cfg->has_layering = 1;
	return 0;
}

static const struct rpl_field certificate_fields[] = {
	RPL_FIELD("name", RPL_F_STR, struct rpl_apko_certificate, name),
	RPL_FIELD("content", RPL_F_STR, struct rpl_apko_certificate, content),
	RPL_FIELD_END,
};

static const struct rpl_schema certificate_schema = {
	"certificate",
	sizeof(struct rpl_apko_certificate),
	certificate_fields,
};

/* `certificates` is a pointer in apko; its two members live flat in the config here. */
struct certificates {
	struct rpl_apko_certificate *additional;
	size_t nadditional;
	struct rpl_textlist providers;
};

static const struct rpl_field certificates_fields[] = {
	RPL_FIELD_LIST("additional", struct certificates, additional, nadditional,
	               &certificate_schema),
	RPL_FIELD("providers", RPL_F_STRLIST, struct certificates, providers),
	RPL_FIELD_END,
};

static const struct rpl_schema certificates_schema = {
	"certificates",
	sizeof(struct certificates),
	certificates_fields,
};

static int decode_certificates(const struct rpl_dctx *c, const struct rpl_ynode *n, void *dst)
{
	struct rpl_apko_config *cfg = CONTAINER(dst, struct rpl_apko_config, cert_additional);
	struct certificates certs;
	int err;

	memset(&certs, 0, sizeof(certs));
	err = rpl_decode(c, n, &certificates_schema, &certs);
	if (err)
		return err;
	cfg->cert_additional = certs.additional;
	cfg->ncert_additional = certs.nadditional;
	cfg->cert_providers = certs.providers;
	return 0;
}

static const struct rpl_field config_fields[] = {
	RPL_FIELD_SUB("contents", RPL_F_STRUCT, struct rpl_apko_config, contents, &contents_schema),
	RPL_FIELD_SUB("entrypoint", RPL_F_STRUCT, struct rpl_apko_config, entrypoint,
	              &entrypoint_schema),
	RPL_FIELD("cmd", RPL_F_STR, struct rpl_apko_config, cmd),
	RPL_FIELD("stop-signal", RPL_F_STR, struct rpl_apko_config, stop_signal),
	RPL_FIELD("work-dir", RPL_F_STR, struct rpl_apko_config, work_dir),
	RPL_FIELD_SUB("accounts", RPL_F_STRUCT, struct rpl_apko_config, accounts, &accounts_schema),
	RPL_FIELD("archs", RPL_F_STRLIST, struct rpl_apko_config, archs),
	RPL_FIELD("environment", RPL_F_STRMAP, struct rpl_apko_config, environment),
	RPL_FIELD_LIST("paths", struct rpl_apko_config, paths, npaths, &path_schema),
	RPL_FIELD("vcs-url", RPL_F_STR, struct rpl_apko_config, vcs_url),
	RPL_FIELD("annotations", RPL_F_STRMAP, struct rpl_apko_config, annotations),
	RPL_FIELD("include", RPL_F_STR, struct rpl_apko_config, include),
	RPL_FIELD("volumes", RPL_F_STRLIST, struct rpl_apko_config, volumes),
	RPL_FIELD_FN("layering", struct rpl_apko_config, layering, decode_layering),
	RPL_FIELD("format", RPL_F_STR, struct rpl_apko_config, format),
	RPL_FIELD_FN("certificates", struct rpl_apko_config, cert_additional, decode_certificates),
	RPL_FIELD_END,
};

const struct rpl_schema rpl_apko_config_schema = {
	"image configuration",
	sizeof(struct rpl_apko_config),
	config_fields,
};

/* --- architectures ---------------------------------------------------------- */

/*
 * apko's architectures, sorted by their OCI name as ParseArchitectures
 * sorts them.  Each is accepted under either name.
 */
static const struct arch {
	const char *oci;
	const char *apk;
} archs[RPL_APKO_NARCHS] = {
	{ "386", "x86" },         { "amd64", "x86_64" },    { "arm/v6", "armhf" },
	{ "arm/v7", "armv7" },    { "arm64", "aarch64" },   { "loong64", "loongarch64" },
	{ "ppc64le", "ppc64le" }, { "riscv64", "riscv64" }, { "s390x", "s390x" },
};

static const struct arch *find_arch(const char *name)
{
	for (size_t i = 0; i < RPL_APKO_NARCHS; i++)
		if (!strcmp(name, archs[i].oci) || !strcmp(name, archs[i].apk))
			return &archs[i];
	return NULL;
}

/* The machine ripple was built for, as apko's "host" means runtime.GOARCH. */
static const char *host_arch(void)
{
#if defined(__x86_64__)
	return "x86_64";
#elif defined(__aarch64__)
	return "aarch64";
#elif defined(__i386__)
	return "x86";
#elif defined(__arm__) && defined(__ARM_ARCH) && __ARM_ARCH >= 7
	return "armv7";
#elif defined(__arm__)
	return "armhf";
#elif defined(__loongarch64)
	return "loongarch64";
#elif defined(__powerpc64__) && defined(__LITTLE_ENDIAN__)
	return "ppc64le";
#elif defined(__riscv) && __riscv_xlen == 64
	return "riscv64";
#elif defined(__s390x__)
	return "s390x";
#else
	return "x86_64";
#endif
}

static int arch_name_valid(const char *name)
{
	return find_arch(name) || !strcmp(name, "all") || !strcmp(name, "host");
}

const char *rpl_apko_arch_to_apk(const char *arch)
{
	const struct arch *a = arch ? find_arch(arch) : NULL;

	return a ? a->apk : NULL;
}

size_t rpl_apko_arch_normalise(const struct rpl_textlist *list, const char **out)
{
	int seen[RPL_APKO_NARCHS] = { 0 };
	size_t n = 0;

	for (size_t i = 0; i < list->n; i++) {
		const char *s = list->v[i].s;
		const struct arch *a;

		if (!strcmp(s, "all")) {
			for (size_t j = 0; j < RPL_APKO_NARCHS; j++)
				seen[j] = 1;
			continue;
		}
		if (!strcmp(s, "host"))
			s = host_arch();
		a = find_arch(s);
		if (a)
			seen[a - archs] = 1;
	}
	for (size_t j = 0; j < RPL_APKO_NARCHS; j++)
		if (seen[j])
			out[n++] = archs[j].apk;
	return n;
}

/* --- validation ------------------------------------------------------------- */

/* ^[a-zA-Z0-9_-]+[a-zA-Z0-9_.-]*$, the names of key and certificate files. */
static int valid_file_name(const char *s)
{
	if (!(*s == '_' || *s == '-' || (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
	      (*s >= '0' && *s <= '9')))
		return 0;
	for (; *s; s++)
		if (!(*s == '_' || *s == '-' || *s == '.' || (*s >= 'a' && *s <= 'z') ||
		      (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9')))
			return 0;
	return 1;
}

#define NAME_RE "^[a-zA-Z0-9_-]+[a-zA-Z0-9_.-]*$"

/*
 * The node of item `i` of list root[k1][k2] (k2 may be NULL), to point at
 * when the item lacks the value a message is about.
 */
static const struct rpl_ynode *list_item(const struct rpl_ynode *root, const char *k1,
                                         const char *k2, size_t i)
{
	const struct rpl_ynode *n = rpl_ymap_get(root, k1);

	if (n && k2)
		n = rpl_ymap_get(n, k2);
	if (!n || n->type != RPL_YSEQ || i >= n->seq.n)
		return root;
	return n->seq.items[i];
}

static const char *const path_types[] = { "directory", "empty-file", "hardlink", "symlink",
	                                  "permissions" };

/* The checks of the items a file contributes to lists (apko's Validate, per item). */
static int validate_items(const struct rpl_apko_config *cfg, const char *file,
                          const struct rpl_ynode *root)
{
	const struct rpl_apko_contents *ct = &cfg->contents;

	for (size_t i = 0; i < cfg->accounts.nusers; i++) {
		const struct rpl_apko_user *u = &cfg->accounts.users[i];
		const struct rpl_ynode *item = list_item(root, "accounts", "users", i);

		if (empty(&u->username))
			return err_at(file, NULL, item, "user has no username");
		if (!u->uid) {
			const struct rpl_ynode *uid = rpl_ymap_get(item, "uid");
			return err_at(
			        file, NULL, uid ? uid : item,
			        "user '%s': uid 0 is reserved (to run as root, use 'run-as: 0')",
			        u->username.s);
		}
	}
	for (size_t i = 0; i < cfg->accounts.ngroups; i++) {
		const struct rpl_apko_group *g = &cfg->accounts.groups[i];

		if (empty(&g->groupname))
			return err_at(file, NULL, list_item(root, "accounts", "groups", i),
			              "group has no groupname");
	}
	for (size_t i = 0; i < cfg->npaths; i++) {
		const struct rpl_apko_path *p = &cfg->paths[i];
		const struct rpl_ynode *item = list_item(root, "paths", NULL, i);
		size_t t;

		for (t = 0; t < sizeof(path_types) / sizeof(*path_types); t++)
			if (!strcmp(p->type.s ? p->type.s : "", path_types[t]))
				break;
		if (t == sizeof(path_types) / sizeof(*path_types))
			return err_at(
			        file, &p->type, item,
			        "path '%s': unknown type '%s' (want directory, empty-file, hardlink, symlink or permissions)",
			        p->path.s ? p->path.s : "", p->type.s ? p->type.s : "");
		if ((!strcmp(p->type.s, "hardlink") || !strcmp(p->type.s, "symlink")) &&
		    empty(&p->source))
			return err_at(file, &p->type, item, "path '%s': a %s needs a source",
			              p->path.s ? p->path.s : "", p->type.s);
	}
	for (size_t i = 0; i < ct->nruntime_keyring; i++) {
		const struct rpl_apko_keyring_entry *k = &ct->runtime_keyring[i];
		const struct rpl_ynode *item = list_item(root, "contents", "runtime_keyring", i);

		if (empty(&k->name))
			return err_at(file, NULL, item, "runtime_keyring entry has no name");
		if (!valid_file_name(k->name.s))
			return err_at(
			        file, &k->name, item,
			        "runtime_keyring entry '%s' has an invalid name, it must match " NAME_RE,
			        k->name.s);
		if (empty(&k->content))
			return err_at(file, &k->name, item,
			              "runtime_keyring entry '%s' has no content", k->name.s);
		for (size_t j = 0; j < i; j++)
			if (!strcmp(ct->runtime_keyring[j].name.s, k->name.s))
				return err_at(file, &k->name, item,
				              "runtime_keyring entry '%s' is a duplicate",
				              k->name.s);
	}
	for (size_t i = 0; i < cfg->ncert_additional; i++) {
		const struct rpl_apko_certificate *cert = &cfg->cert_additional[i];
		const struct rpl_ynode *item = list_item(root, "certificates", "additional", i);

		if (empty(&cert->name))
			return err_at(file, NULL, item, "additional certificate has no name");
		if (!valid_file_name(cert->name.s))
			return err_at(
			        file, &cert->name, item,
			        "additional certificate '%s' has an invalid name, it must match " NAME_RE,
			        cert->name.s);
	}
	return 0;
}

/* Which file each value that one file wins came from, for messages. */
struct origin {
	const char *entrypoint;
	const char *archs;
	const char *layering;
	const char *format;
	const char *baseimage;
};

static int layering_is_empty(const struct rpl_apko_config *cfg)
{
	/* apko builds one layer for an absent or empty (`{}`) layering block. */
	return !cfg->has_layering || (empty(&cfg->layering.strategy) && !cfg->layering.budget);
}

/*
 * `format` is tar or erofs; newer apko also takes erofs+<compressor>[,level=N]
 * (types.LayerFormat).
 */
static int format_valid(const char *f)
{
	static const char *const compressors[] = { "zstd", "lz4", "lz4hc", "deflate" };
	const char *plus = strchr(f, '+');
	size_t clen;

	if (!plus)
		return !*f || !strcmp(f, "tar") || !strcmp(f, "erofs");
	if ((size_t)(plus - f) != 5 || strncmp(f, "erofs", 5))
		return 0;
	plus++;
	clen = strcspn(plus, ",");
	for (size_t i = 0; i < sizeof(compressors) / sizeof(*compressors); i++)
		if (strlen(compressors[i]) == clen && !strncmp(plus, compressors[i], clen))
			return 1;
	return 0;
}

static int is_erofs(const char *f)
{
	return !strncmp(f, "erofs", 5) && (f[5] == '\0' || f[5] == '+');
}

static struct rpl_textlist textlist_append(struct rpl_arena *a, const struct rpl_textlist *l,
                                           struct rpl_text t)
{
	struct rpl_textlist out;

	out.n = l->n + 1;
	out.v = rpl_arena_alloc(a, out.n * sizeof(*out.v));
	if (l->n)
		memcpy(out.v, l->v, l->n * sizeof(*out.v));
	out.v[l->n] = t;
	return out;
}

/* Repository URLs lose trailing slashes when parsed (apko's trimRepos). */
static void trim_repos(struct rpl_arena *a, struct rpl_textlist *l)
{
	for (size_t i = 0; i < l->n; i++) {
		size_t len = strlen(l->v[i].s);

		if (!len || l->v[i].s[len - 1] != '/')
			continue;
		while (len && l->v[i].s[len - 1] == '/')
			len--;
		l->v[i].s = rpl_arena_strndup(a, l->v[i].s, len);
	}
}

/* apko's Validate on the merged configuration, which also fills in defaults. */
static int validate_merged(struct rpl_image *img, const struct origin *org)
{
	struct rpl_apko_config *cfg = &img->config;
	struct rpl_arena *a = &img->arena;

	trim_repos(a, &cfg->contents.repositories);
	trim_repos(a, &cfg->contents.build_repositories);
	trim_repos(a, &cfg->contents.runtime_repositories);

	/* apko's Validate acts on service-bundle only and takes any other type
	 * as written (the image's entrypoint is then its command). */
	if (!empty(&cfg->entrypoint.type) && !strcmp(cfg->entrypoint.type.s, "service-bundle")) {
		/* ValidateServiceBundle: s6 supervises the services. */
		cfg->entrypoint.command = rpl_text_make("/bin/s6-svscan /sv");
		cfg->contents.packages =
		        textlist_append(a, &cfg->contents.packages, rpl_text_make("s6"));
	}
	for (size_t i = 0; i < cfg->archs.n; i++)
		if (!arch_name_valid(cfg->archs.v[i].s))
			return err_at(org->archs, &cfg->archs.v[i], NULL, "unknown arch '%s'",
			              cfg->archs.v[i].s);
	if (!layering_is_empty(cfg) && strcmp(cfg->layering.strategy.s, "origin"))
		return err_at(org->layering, &cfg->layering.strategy, NULL,
		              "unknown layering strategy '%s' (only origin is supported)",
		              cfg->layering.strategy.s);
	if (!format_valid(cfg->format.s ? cfg->format.s : ""))
		return err_at(org->format, &cfg->format, NULL,
		              "unknown format '%s' (want tar or erofs)", cfg->format.s);
	if (cfg->format.s && is_erofs(cfg->format.s) && !layering_is_empty(cfg))
		return err_at(org->format, &cfg->format, NULL,
		              "format '%s' cannot be combined with layering", cfg->format.s);
	if (cfg->contents.has_baseimage) {
		const struct rpl_apko_entrypoint *e = &cfg->entrypoint;
		const struct rpl_apko_accounts *acc = &cfg->accounts;

		if (!empty(&e->type) || !empty(&e->command) || !empty(&e->shell_fragment) ||
		    e->services.n || !empty(&cfg->cmd) || !empty(&cfg->stop_signal) ||
		    !empty(&cfg->work_dir) || !empty(&acc->run_as) || acc->nusers || acc->ngroups ||
		    cfg->environment.n || cfg->npaths || cfg->annotations.n)
			return err_at(
			        org->baseimage, &cfg->contents.baseimage_image, NULL,
			        "with a baseimage, only contents, archs and include may be set");
	}
	for (size_t i = 0; i < cfg->accounts.nusers; i++) {
		struct rpl_apko_user *u = &cfg->accounts.users[i];

		if (empty(&u->homedir))
			u->homedir = rpl_text_make(rpl_arena_printf(a, "/home/%s", u->username.s));
		if (!u->has_gid)
			u->gid = u->uid;
		/* The shell stays as written: apko.json echoes it so; /etc/passwd says /bin/sh. */
	}
	return 0;
}

/* --- merging ---------------------------------------------------------------- */

static void *concat(struct rpl_arena *a, const void *x, size_t nx, const void *y, size_t ny,
                    size_t size, size_t *n)
{
	char *out;

	*n = nx + ny;
	if (!*n)
		return NULL;
	out = rpl_arena_alloc(a, *n * size);
	if (nx)
		memcpy(out, x, nx * size);
	if (ny)
		memcpy(out + nx * size, y, ny * size);
	return out;
}

static void concat_textlist(struct rpl_arena *a, const struct rpl_textlist *inc,
                            struct rpl_textlist *tgt)
{
	tgt->v = concat(a, inc->v, inc->n, tgt->v, tgt->n, sizeof(*tgt->v), &tgt->n);
}

/* Keys of `inc` that `tgt` lacks are added after tgt's own. */
static void merge_map(struct rpl_arena *a, const struct rpl_kvlist *inc, struct rpl_kvlist *tgt)
{
	struct rpl_kv *v;
	size_t n = tgt->n;

	if (!inc->n)
		return;
	v = rpl_arena_alloc(a, (tgt->n + inc->n) * sizeof(*v));
	if (tgt->n)
		memcpy(v, tgt->v, tgt->n * sizeof(*v));
	for (size_t i = 0; i < inc->n; i++)
		if (!rpl_kvlist_get(tgt, inc->v[i].key.s))
			v[n++] = inc->v[i];
	tgt->v = v;
	tgt->n = n;
}

static int entrypoint_is_zero(const struct rpl_apko_entrypoint *e)
{
	return empty(&e->type) && empty(&e->command) && empty(&e->shell_fragment) && !e->services.n;
}

static void take_text(struct rpl_text *tgt, const struct rpl_text *inc)
{
	if (empty(tgt))
		*tgt = *inc;
}

/*
 * Merges the included configuration `inc` into its includer `tgt` as apko's
 * ImageConfiguration.MergeInto does: the includer keeps every value it sets
 * (the entrypoint as a whole, archs as a whole), maps gain the included keys
 * the includer lacks, and lists are the included items followed by the
 * includer's.  vcs-url is not inherited (MergeInto does not copy it).
 */
static int merge_into(struct rpl_arena *a, const struct rpl_apko_config *inc,
                      const struct origin *inc_org, struct rpl_apko_config *tgt,
                      struct origin *tgt_org, const char *tgt_file)
{
	struct rpl_apko_contents *tc = &tgt->contents;
	const struct rpl_apko_contents *ic = &inc->contents;

	/* A runtime key name may appear once in the merged image. */
	for (size_t i = 0; i < tc->nruntime_keyring; i++)
		for (size_t j = 0; j < ic->nruntime_keyring; j++)
			if (!strcmp(tc->runtime_keyring[i].name.s, ic->runtime_keyring[j].name.s))
				return err_at(tgt_file, &tc->runtime_keyring[i].name, NULL,
				              "runtime_keyring entry '%s' is a duplicate",
				              tc->runtime_keyring[i].name.s);

	if (entrypoint_is_zero(&tgt->entrypoint)) {
		tgt->entrypoint = inc->entrypoint;
		tgt_org->entrypoint = inc_org->entrypoint;
	}
	take_text(&tgt->cmd, &inc->cmd);
	take_text(&tgt->stop_signal, &inc->stop_signal);
	take_text(&tgt->work_dir, &inc->work_dir);
	if (!tgt->archs.n) {
		tgt->archs = inc->archs;
		tgt_org->archs = inc_org->archs;
	}
	take_text(&tgt->accounts.run_as, &inc->accounts.run_as);
	tgt->accounts.users =
	        concat(a, inc->accounts.users, inc->accounts.nusers, tgt->accounts.users,
	               tgt->accounts.nusers, sizeof(*tgt->accounts.users), &tgt->accounts.nusers);
	tgt->accounts.groups = concat(a, inc->accounts.groups, inc->accounts.ngroups,
	                              tgt->accounts.groups, tgt->accounts.ngroups,
	                              sizeof(*tgt->accounts.groups), &tgt->accounts.ngroups);
	merge_map(a, &inc->environment, &tgt->environment);
	tgt->paths = concat(a, inc->paths, inc->npaths, tgt->paths, tgt->npaths,
	                    sizeof(*tgt->paths), &tgt->npaths);
	merge_map(a, &inc->annotations, &tgt->annotations);
	concat_textlist(a, &inc->volumes, &tgt->volumes);
	if (layering_is_empty(tgt) && inc->has_layering) {
		tgt->layering = inc->layering;
		tgt->has_layering = 1;
		tgt_org->layering = inc_org->layering;
	}
	if (empty(&tgt->format) && !empty(&inc->format)) {
		tgt->format = inc->format;
		tgt_org->format = inc_org->format;
	}
	tgt->cert_additional = concat(a, inc->cert_additional, inc->ncert_additional,
	                              tgt->cert_additional, tgt->ncert_additional,
	                              sizeof(*tgt->cert_additional), &tgt->ncert_additional);
	concat_textlist(a, &inc->cert_providers, &tgt->cert_providers);

	concat_textlist(a, &ic->repositories, &tc->repositories);
	concat_textlist(a, &ic->build_repositories, &tc->build_repositories);
	concat_textlist(a, &ic->runtime_repositories, &tc->runtime_repositories);
	concat_textlist(a, &ic->keyring, &tc->keyring);
	tc->runtime_keyring =
	        concat(a, ic->runtime_keyring, ic->nruntime_keyring, tc->runtime_keyring,
	               tc->nruntime_keyring, sizeof(*tc->runtime_keyring), &tc->nruntime_keyring);
	concat_textlist(a, &ic->packages, &tc->packages);
	if (!tc->has_baseimage && ic->has_baseimage) {
		tc->baseimage_image = ic->baseimage_image;
		tc->baseimage_apkindex = ic->baseimage_apkindex;
		tc->has_baseimage = 1;
		tgt_org->baseimage = inc_org->baseimage;
	}
	return 0;
}

/* --- loading ---------------------------------------------------------------- */

struct chain_link {
	const char *path;
	dev_t dev;
	ino_t ino;
};

struct loader {
	struct rpl_image *img;
	const char *real_root;    /* includes stay below it; NULL: anywhere */
	const char *workdir;      /* apko's working directory, as paths are written */
	char *top_dir;            /* the top file's directory: the include path */
	struct chain_link *chain; /* the files being loaded, outermost first */
	size_t nchain, chain_alloc;
	const char **inputs;
	size_t ninputs, inputs_alloc;
};

/* "a.yaml -> b.yaml -> a.yaml" for the current chain plus `path`. */
static int cycle_error(struct loader *l, const char *from, const struct rpl_text *at,
                       const char *path)
{
	struct rpl_strbuf sb = RPL_STRBUF_INIT;
	int err;

	for (size_t i = 0; i < l->nchain; i++)
		rpl_strbuf_addf(&sb, "%s -> ", l->chain[i].path);
	rpl_strbuf_addstr(&sb, path);
	err = rpl_error(-RPL_ECYCLE, "%s:%u:%u: include cycle: %s", from, at->line, at->col,
	                sb.buf);
	rpl_strbuf_release(&sb);
	return err;
}

/*
 * Where apko finds an include (paths.ResolvePath): the path as written,
 * which is relative to its working directory, if anything is there, else
 * below each include path in turn.  ripple runs apko in the monorepo root
 * with `--include-paths` the top file's directory, so those are the two
 * places, for every include of the chain.  Returns the path (malloc'd) or
 * NULL when neither has it.
 */
static char *resolve_include(const struct loader *l, const char *inc)
{
	const char *const bases[] = { l->workdir, l->top_dir };
	struct stat st;

	for (size_t i = 0; i < sizeof(bases) / sizeof(*bases); i++) {
		struct rpl_strbuf sb = RPL_STRBUF_INIT;
		char *p;

		/* Go's path.Join puts even an absolute include below the base. */
		if (i && inc[0] == '/') {
			rpl_strbuf_addf(&sb, "%s%s", bases[i], inc);
			p = rpl_strbuf_detach(&sb);
		} else {
			p = rpl_path_join(bases[i], inc);
		}
		if (stat(p, &st) == 0)
			return p;
		free(p);
	}
	return NULL;
}

/*
 * Whether `path` may be loaded (its stat in `st`): a regular file, inside the
 * root when included, not already on the include chain, not too deep.
 */
static int check_file(struct loader *l, const char *path, const char *from,
                      const struct rpl_text *at, struct stat *st)
{
	int e = 0;

	if (stat(path, st) < 0)
		e = errno;
	else if (S_ISDIR(st->st_mode))
		e = EISDIR;
	if (e) {
		if (from)
			return err_at(from, at, NULL, "cannot read include '%s': %s", path,
			              strerror(e));
		return rpl_error(-e, "cannot read '%s': %s", path, strerror(e));
	}
	/* A FIFO would block the read and /dev/zero never end it. */
	if (!S_ISREG(st->st_mode)) {
		if (from)
			return err_at(from, at, NULL,
			              "cannot read include '%s': it is %s, not a regular file",
			              path, rpl_file_kind((unsigned)st->st_mode));
		return rpl_error(-EINVAL, "cannot read '%s': it is %s, not a regular file", path,
		                 rpl_file_kind((unsigned)st->st_mode));
	}
	if (from && l->real_root && rpl_path_check_inside(l->real_root, path))
		return err_at(from, at, NULL, "include %s", rpl_errmsg());
	for (size_t i = 0; i < l->nchain; i++)
		if (l->chain[i].dev == st->st_dev && l->chain[i].ino == st->st_ino)
			return cycle_error(l, from, at, path);
	if (l->nchain >= MAX_INCLUDE_DEPTH)
		return err_at(from, at, NULL, "includes nested deeper than %d files",
		              MAX_INCLUDE_DEPTH);
	return 0;
}

/* `path` among the image's inputs and pushed on the include chain; its name in the arena. */
static const char *enter_file(struct loader *l, const char *path, const struct stat *st)
{
	const char *file = rpl_arena_strdup(&l->img->arena, path);

	RPL_ALLOC_GROW(l->inputs, l->ninputs + 1, l->inputs_alloc);
	l->inputs[l->ninputs++] = file;
	RPL_ALLOC_GROW(l->chain, l->nchain + 1, l->chain_alloc);
	l->chain[l->nchain].path = file;
	l->chain[l->nchain].dev = st->st_dev;
	l->chain[l->nchain].ino = st->st_ino;
	l->nchain++;
	return file;
}

/* The file read, parsed, decoded into `out` and its items checked. */
static int decode_file(struct loader *l, const char *path, const char *file, const char *from,
                       const struct rpl_text *at, struct rpl_apko_config *out)
{
	struct rpl_ydoc doc;
	struct rpl_dctx ctx;
	char *buf = NULL;
	size_t len;
	int err = rpl_read_file_max(path, RPL_YAML_MAX_FILE, &buf, &len);

	if (err) {
		if (from)
			err = err_at(from, at, NULL, "include: %s", rpl_errmsg());
		return err;
	}
	err = rpl_yaml_parse(&doc, file, buf, len);
	if (!err && !doc.root)
		err = rpl_error(-RPL_ESCHEMA, "%s:1:1: empty image configuration", file);
	if (!err) {
		memset(&ctx, 0, sizeof(ctx));
		ctx.arena = &l->img->arena;
		ctx.file = file;
		err = rpl_decode(&ctx, doc.root, &rpl_apko_config_schema, out);
		if (!err)
			err = validate_items(out, file, doc.root);
	}
	/* The tree is not needed any more: decoding copied every string. */
	rpl_ydoc_release(&doc);
	free(buf);
	return err;
}

static int load_file(struct loader *l, const char *path, const char *from,
                     const struct rpl_text *at, struct rpl_apko_config *out, struct origin *org);

/* The file `out` includes, loaded and merged under it. */
static int load_include(struct loader *l, const char *file, struct rpl_apko_config *out,
                        struct origin *org)
{
	struct rpl_apko_config inc;
	struct origin inc_org;
	char *inc_path = resolve_include(l, out->include.s);
	int err;

	if (!inc_path)
		err = err_at(file, &out->include, NULL,
		             "cannot read include '%s': it is neither in the working "
		             "directory ('%s') nor in the include path '%s'",
		             out->include.s, l->workdir, l->top_dir);
	else
		err = load_file(l, inc_path, file, &out->include, &inc, &inc_org);
	if (!err)
		err = merge_into(&l->img->arena, &inc, &inc_org, out, org, file);
	free(inc_path);
	return err;
}

/*
 * Loads `path` into `out` with its includes merged.  `from`/`at` name the
 * include value that asked for it (NULL for the top file).
 */
static int load_file(struct loader *l, const char *path, const char *from,
                     const struct rpl_text *at, struct rpl_apko_config *out, struct origin *org)
{
	struct stat st;
	const char *file;
	int err;

	memset(out, 0, sizeof(*out));
	if ((err = check_file(l, path, from, at, &st)))
		return err;
	file = enter_file(l, path, &st);
	err = decode_file(l, path, file, from, at, out);
	if (!err) {
		org->entrypoint = org->archs = org->layering = org->format = org->baseimage = file;
		if (!empty(&out->include))
			err = load_include(l, file, out, org);
	}
	l->nchain--;
	return err;
}

static const char *image_name(struct rpl_arena *a, const char *path)
{
	static const char *const exts[] = { ".apko.yaml", ".apko.yml", ".yaml", ".yml" };
	const char *base = strrchr(path, '/');
	size_t len;

	base = base ? base + 1 : path;
	len = strlen(base);
	/* `.apko.yaml` names its directory's image (the repo's, at the root). */
	if (!strcmp(base, ".apko.yaml") || !strcmp(base, ".apko.yml")) {
		char *dir = rpl_path_dirname(path), *real = realpath(dir, NULL);
		const char *slash = real ? strrchr(real, '/') : NULL;
		const char *name = slash && slash[1] ? rpl_arena_strdup(a, slash + 1) : "image";

		free(real);
		free(dir);
		return name;
	}
	for (size_t i = 0; i < sizeof(exts) / sizeof(*exts); i++) {
		size_t el = strlen(exts[i]);

		if (len > el && !strcmp(base + len - el, exts[i]))
			return rpl_arena_strndup(a, base, len - el);
	}
	return rpl_arena_strdup(a, base);
}

/*
 * An image is named after its file, whose bytes nobody checked: the name
 * becomes images/<name>/, a JSON string and a JUnit test name, so it must
 * be text on one line, as package names are.  The position is the file's
 * start: the name is not written in it.
 */
static int check_names(const struct rpl_image *img)
{
	const char *name_problem = rpl_utf8_name_problem(img->name);
	const char *file_problem = rpl_utf8_name_problem(img->file);
	struct rpl_strbuf file = RPL_STRBUF_INIT, name = RPL_STRBUF_INIT;
	int err = 0;

	if (!name_problem && !file_problem)
		return 0;
	rpl_utf8_escape(&file, img->file);
	rpl_utf8_escape(&name, img->name);
	if (name_problem)
		err = rpl_error(-RPL_ESCHEMA,
		                "%s:1:1: image name '%s' %s (an image is named after its file)",
		                file.buf, name.buf, name_problem);
	else
		err = rpl_error(-RPL_ESCHEMA, "%s:1:1: the file's path %s", file.buf, file_problem);
	rpl_strbuf_release(&name);
	rpl_strbuf_release(&file);
	return err;
}

struct rpl_image *rpl_image_load(const char *path)
{
	return rpl_image_load_in(NULL, ".", path);
}

struct rpl_image *rpl_image_load_in(const char *real_root, const char *workdir, const char *path)
{
	struct rpl_image *img = rpl_xcalloc(1, sizeof(*img));
	struct loader l;
	struct origin org;
	int err;

	memset(&l, 0, sizeof(l));
	l.img = img;
	l.real_root = real_root;
	l.workdir = workdir;
	l.top_dir = rpl_path_dirname(path);
	rpl_arena_init(&img->arena);
	img->file = rpl_arena_strdup(&img->arena, path);
	img->name = image_name(&img->arena, path);

	err = check_names(img);
	if (!err)
		err = load_file(&l, path, NULL, NULL, &img->config, &org);
	if (!err)
		err = validate_merged(img, &org);
	if (!err) {
		img->inputs = rpl_arena_memdup(&img->arena, l.inputs, l.ninputs, sizeof(*l.inputs));
		img->ninputs = l.ninputs;
	}
	free(l.inputs);
	free(l.chain);
	free(l.top_dir);
	if (err) {
		rpl_image_free(img);
		img = NULL;
	}
	return img;
}

void rpl_image_free(struct rpl_image *img)
{
	if (!img)
		return;
	rpl_arena_release(&img->arena);
	free(img);
}

int rpl_apko_looks_like(const struct rpl_ynode *root)
{
	return root && root->type == RPL_YMAP && rpl_ymap_get(root, "contents") &&
	       !rpl_ymap_get(root, "package");
}

/* --- JSON ------------------------------------------------------------------- */

static json_t *jstr(const char *s)
{
	json_t *j = json_string(s ? s : "");

	/* Only invalid UTF-8 fails, which libyaml has already refused. */
	return j ? j : json_null();
}

static void set_str(json_t *o, const char *key, const struct rpl_text *t)
{
	if (!empty(t))
		json_object_set_new(o, key, jstr(t->s));
}

static json_t *textlist_json(const struct rpl_textlist *l)
{
	json_t *arr = json_array();

	for (size_t i = 0; i < l->n; i++)
		json_array_append_new(arr, jstr(l->v[i].s));
	return arr;
}

static void set_list(json_t *o, const char *key, const struct rpl_textlist *l)
{
	if (l->n)
		json_object_set_new(o, key, textlist_json(l));
}

static json_t *kvlist_json(const struct rpl_kvlist *kv)
{
	json_t *obj = json_object();

	for (size_t i = 0; i < kv->n; i++)
		json_object_set_new(obj, kv->v[i].key.s, jstr(kv->v[i].val.s));
	return obj;
}

static json_t *entrypoint_json(const struct rpl_apko_entrypoint *e)
{
	json_t *o = json_object();

	set_str(o, "type", &e->type);
	set_str(o, "command", &e->command);
	set_str(o, "shell-fragment", &e->shell_fragment);
	if (e->services.n)
		json_object_set_new(o, "services", kvlist_json(&e->services));
	return o;
}

static json_t *accounts_json(const struct rpl_apko_accounts *acc)
{
	json_t *o = json_object();

	set_str(o, "run-as", &acc->run_as);
	if (acc->nusers) {
		json_t *users = json_array();

		for (size_t i = 0; i < acc->nusers; i++) {
			const struct rpl_apko_user *u = &acc->users[i];
			json_t *j = json_object();

			set_str(j, "username", &u->username);
			json_object_set_new(j, "uid", json_integer(u->uid));
			json_object_set_new(j, "gid", json_integer(u->gid));
			set_str(j, "shell", &u->shell);
			set_str(j, "homedir", &u->homedir);
			json_array_append_new(users, j);
		}
		json_object_set_new(o, "users", users);
	}
	if (acc->ngroups) {
		json_t *groups = json_array();

		for (size_t i = 0; i < acc->ngroups; i++) {
			const struct rpl_apko_group *g = &acc->groups[i];
			json_t *j = json_object();

			set_str(j, "groupname", &g->groupname);
			json_object_set_new(j, "gid", json_integer(g->gid));
			set_list(j, "members", &g->members);
			json_array_append_new(groups, j);
		}
		json_object_set_new(o, "groups", groups);
	}
	return o;
}

static json_t *paths_json(const struct rpl_apko_path *paths, size_t n)
{
	json_t *arr = json_array();

	for (size_t i = 0; i < n; i++) {
		const struct rpl_apko_path *p = &paths[i];
		json_t *j = json_object();

		set_str(j, "path", &p->path);
		set_str(j, "type", &p->type);
		if (p->has_uid)
			json_object_set_new(j, "uid", json_integer(p->uid));
		if (p->has_gid)
			json_object_set_new(j, "gid", json_integer(p->gid));
		if (p->has_permissions)
			json_object_set_new(j, "permissions", json_integer(p->permissions));
		set_str(j, "source", &p->source);
		if (p->recursive)
			json_object_set_new(j, "recursive", json_true());
		json_array_append_new(arr, j);
	}
	return arr;
}

json_t *rpl_image_to_json(const struct rpl_image *img)
{
	const struct rpl_apko_config *cfg = &img->config;
	const char *archv[RPL_APKO_NARCHS];
	size_t narch = rpl_apko_arch_normalise(&cfg->archs, archv);
	json_t *o = json_object(), *arr;

	json_object_set_new(o, "kind", json_string("image"));
	json_object_set_new(o, "name", jstr(img->name));
	json_object_set_new(o, "file", jstr(img->file));
	arr = json_array();
	for (size_t i = 0; i < narch; i++)
		json_array_append_new(arr, json_string(archv[i]));
	json_object_set_new(o, "archs", arr);
	json_object_set_new(o, "packages", textlist_json(&cfg->contents.packages));
	json_object_set_new(o, "repositories", textlist_json(&cfg->contents.repositories));
	set_list(o, "build_repositories", &cfg->contents.build_repositories);
	set_list(o, "runtime_repositories", &cfg->contents.runtime_repositories);
	set_list(o, "keyring", &cfg->contents.keyring);
	arr = json_array();
	for (size_t i = 0; i < img->ninputs; i++)
		json_array_append_new(arr, jstr(img->inputs[i]));
	json_object_set_new(o, "inputs", arr);
	arr = json_array();
	for (size_t i = 1; i < img->ninputs; i++)
		json_array_append_new(arr, jstr(img->inputs[i]));
	json_object_set_new(o, "includes", arr);
	json_object_set_new(o, "entrypoint", entrypoint_json(&cfg->entrypoint));
	set_str(o, "cmd", &cfg->cmd);
	set_str(o, "work-dir", &cfg->work_dir);
	set_str(o, "stop-signal", &cfg->stop_signal);
	json_object_set_new(o, "environment", kvlist_json(&cfg->environment));
	json_object_set_new(o, "accounts", accounts_json(&cfg->accounts));
	if (cfg->npaths)
		json_object_set_new(o, "paths", paths_json(cfg->paths, cfg->npaths));
	json_object_set_new(o, "annotations", kvlist_json(&cfg->annotations));
	set_list(o, "volumes", &cfg->volumes);
	set_str(o, "vcs-url", &cfg->vcs_url);
	if (cfg->has_layering) {
		json_t *j = json_object();

		set_str(j, "strategy", &cfg->layering.strategy);
		if (cfg->layering.budget)
			json_object_set_new(j, "budget", json_integer(cfg->layering.budget));
		json_object_set_new(o, "layering", j);
	}
	set_str(o, "format", &cfg->format);
	return o;
}
