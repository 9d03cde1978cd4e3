/*
 * The commands of the native tools: `ripple native-build` (one recipe, one
 * arch, no melange: runners/native.h; also what `ripple build --runner
 * native` runs for each package job), `ripple keygen` and `ripple index`.
 */
#include "common/error.h"
#include "common/file.h"
#include "common/xalloc.h"
#include "orchestrator/cli.h"
#include "recipes/repoconfig.h"
#include "runners/emulate.h"
#include "runners/image.h"
#include "runners/native.h"
#include "runners/push.h"
#include "runners/repo.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct nopts {
	struct rpl_native_opts n;
	char **env_files, **pipeline_dirs, **repos, **keyrings, **annotations;
	size_t nenv, npipe, nrepos, nkeyrings, nannotations;
	long bits;
	const char *tag, *lockfile, *lock_out, *push_ref, *docker;
	uint64_t max_image_size;
};

static void push(char ***v, size_t *n, const char *s)
{
	*v = rpl_xrealloc(*v, (*n + 1) * sizeof(**v));
	(*v)[(*n)++] = (char *)s;
}

enum {
	O_OUT = 1000,
	O_SOURCE,
	O_KEY,
	O_ENV,
	O_PIPE,
	O_SDE,
	O_BITS,
	O_REPO,
	O_KEYRING,
	O_TAG,
	O_LOCKFILE,
	O_LOCK,
	O_PUSH,
	O_ANNOTATION,
	O_DOCKER,
	O_TEST,
	O_MAX_SIZE,
	O_MAX_RATIO,
	O_MAX_IMAGE,
	O_SYSROOT,
	O_NAMESPACE
};

static void native_opt(struct rpl_cli *cli, int opt, const char *arg, void *ctx)
{
	struct nopts *o = ctx;
	char *end;

	(void)cli;
	switch (opt) {
	case O_OUT:
		o->n.out_dir = arg;
		break;
	case O_SOURCE:
		o->n.source_dir = arg;
		break;
	case O_KEY:
		o->n.signing_key = arg;
		break;
	case O_ENV:
		push(&o->env_files, &o->nenv, arg);
		break;
	case O_PIPE:
		push(&o->pipeline_dirs, &o->npipe, arg);
		break;
	case O_SDE:
		o->n.source_date_epoch = strtoll(arg, &end, 10);
		if (!*arg || *end || o->n.source_date_epoch < 0)
			rpl_die(RPL_EXIT_USAGE, "--source-date-epoch wants seconds, not '%s'", arg);
		break;
	case O_REPO:
		push(&o->repos, &o->nrepos, arg);
		break;
	case O_KEYRING:
		push(&o->keyrings, &o->nkeyrings, arg);
		break;
	case O_TAG:
		o->tag = arg;
		break;
	case O_LOCKFILE:
		o->lockfile = arg;
		break;
	case O_LOCK:
		o->lock_out = arg;
		break;
	case O_PUSH:
		o->push_ref = arg;
		break;
	case O_DOCKER:
		o->docker = arg;
		break;
	case O_TEST:
		o->n.test = 1;
		break;
	case O_NAMESPACE:
		if (!*arg)
			rpl_die(RPL_EXIT_USAGE, "--namespace wants a name, not ''");
		o->n.namespace = arg;
		break;
	case O_MAX_SIZE:
		if (rpl_parse_size(arg, &o->n.max_extract_size) || !o->n.max_extract_size)
			rpl_die(RPL_EXIT_USAGE,
			        "--max-extract-size wants a size (bytes, or with K, M, G, T), not "
			        "'%s'",
			        arg);
		break;
	case O_MAX_RATIO:
		o->n.max_extract_ratio = strtoull(arg, &end, 10);
		if (!*arg || *end || !o->n.max_extract_ratio)
			rpl_die(RPL_EXIT_USAGE,
			        "--max-extract-ratio wants a positive number, not '%s'", arg);
		break;
	case O_SYSROOT:
		o->n.sysroot = arg;
		break;
	case O_MAX_IMAGE:
		if (rpl_parse_size(arg, &o->max_image_size) || !o->max_image_size)
			rpl_die(RPL_EXIT_USAGE,
			        "--max-image-size wants a size (bytes, or with K, M, G, T), not '%s'",
			        arg);
		break;
	case O_ANNOTATION:
		if (!strchr(arg, ':') || *arg == ':')
			rpl_die(RPL_EXIT_USAGE, "--annotations wants KEY:VALUE, not '%s'", arg);
		push(&o->annotations, &o->nannotations, arg);
		break;
	case O_BITS:
		o->bits = strtol(arg, &end, 10);
		if (!*arg || *end || o->bits < 2048 || o->bits > 16384)
			rpl_die(RPL_EXIT_USAGE, "--bits wants 2048 to 16384, not '%s'", arg);
		break;
	}
}

static const struct option native_opts[] = {
	{ "out-dir", required_argument, NULL, O_OUT },
	{ "source-dir", required_argument, NULL, O_SOURCE },
	{ "signing-key", required_argument, NULL, O_KEY },
	{ "env-file", required_argument, NULL, O_ENV },
	{ "pipeline-dir", required_argument, NULL, O_PIPE },
	{ "source-date-epoch", required_argument, NULL, O_SDE },
	{ "bits", required_argument, NULL, O_BITS },
	{ "repository-append", required_argument, NULL, O_REPO },
	{ "keyring-append", required_argument, NULL, O_KEYRING },
	{ "tag", required_argument, NULL, O_TAG },
	{ "test", no_argument, NULL, O_TEST },
	{ "max-extract-size", required_argument, NULL, O_MAX_SIZE },
	{ "max-extract-ratio", required_argument, NULL, O_MAX_RATIO },
	{ "sysroot", required_argument, NULL, O_SYSROOT },
	{ "namespace", required_argument, NULL, O_NAMESPACE },
	{ NULL, 0, NULL, 0 },
};

static const struct option image_opts[] = {
	{ "out-dir", required_argument, NULL, O_OUT },
	{ "source-date-epoch", required_argument, NULL, O_SDE },
	{ "repository-append", required_argument, NULL, O_REPO },
	{ "keyring-append", required_argument, NULL, O_KEYRING },
	{ "tag", required_argument, NULL, O_TAG },
	{ "lockfile", required_argument, NULL, O_LOCKFILE },
	{ "lock", required_argument, NULL, O_LOCK },
	{ "push", required_argument, NULL, O_PUSH },
	{ "annotations", required_argument, NULL, O_ANNOTATION },
	{ "docker-archive", required_argument, NULL, O_DOCKER },
	{ "max-image-size", required_argument, NULL, O_MAX_IMAGE },
	{ NULL, 0, NULL, 0 },
};

static const char native_usage[] =
        "usage: ripple native-build FILE [--arch A] [--out-dir DIR] [--source-dir DIR]\n"
        "                           [--signing-key KEY] [--env-file F]... [--pipeline-dir D]...\n"
        "                           [--source-date-epoch SECS] [--test] [-C DIR]\n"
        "                           [--max-extract-size SIZE] [--max-extract-ratio N]\n"
        "                           [--sysroot DIR] [--namespace NS]\n"
        "\n"
        "Builds one melange recipe for one architecture (default the host's) without\n"
        "melange: its steps run in a bubblewrap sandbox without network, fetch and\n"
        "git-checkout are done by ripple with their digests checked, and real APK v2\n"
        "packages are written to DIR/<arch>/ (default packages).  Packages of DIR/<arch>\n"
        "that the build needs are installed in the sandbox.  `ripple build --runner\n"
        "native` runs this for each package job.  SOURCE_DATE_EPOCH: --source-date-epoch,\n"
        "else the environment's, else the recipe's last commit time.  --test then runs\n"
        "each written package's test pipeline as melange test does, with the package and\n"
        "its test environment installed in the sandbox.  A source archive may unpack to\n"
        "--max-extract-size bytes (default .ripple.yaml's max-extract-size, else 64G)\n"
        "and, past 1 GiB, to --max-extract-ratio times its size (default 100): more is\n"
        "refused as a decompression bomb.  Another --arch than the host's builds under\n"
        "emulation when a binfmt_misc handler (qemu-user) runs its programs, with the\n"
        "steps in a root filesystem of that arch: --sysroot DIR, else .ripple.yaml's\n"
        "sysroots: {ARCH: DIR} (see docs/build.md); without both it is refused before\n"
        "anything starts.  Each package carries what melange's do: `commit` (the\n"
        "recipe's, else HEAD of the git repository holding it), `maintainer` NS\n"
        "(--namespace, else the --namespace of .ripple.yaml's melange-args, else\n"
        "unknown), a .melange.yaml control member and an SPDX SBOM under\n"
        "var/lib/db/sbom/.  Exit status 0 built (and tested), 1 the build or a test\n"
        "failed, 2 bad usage (or an arch this machine cannot build).\n";

int rpl_cmd_native_build(struct rpl_cli *cli, int argc, char **argv)
{
	struct nopts o;
	struct rpl_repoconfig cfg;
	char origin[64] = "";
	int first, err;

	memset(&o, 0, sizeof(o));
	o.n.out_dir = "packages";
	o.n.state_dir = ".ripple";
	o.n.source_date_epoch = -1;
	first = rpl_cli_getopt(cli, argc, argv, native_usage, native_opts, NULL, native_opt, &o);
	if (argc - first != 1)
		rpl_cli_usage(native_usage, RPL_EXIT_USAGE);
	rpl_cli_enter(cli);
	o.n.file = argv[first];
	o.n.arch = cli->narchs ? cli->archs[0] : rpl_host_arch();
	if ((err = rpl_repoconfig_load(&cfg, ".")))
		rpl_die(RPL_EXIT_USAGE, "%s", rpl_errmsg());
	/* Without --pipeline-dir: the repo's (those that exist). */
	for (size_t i = 0; !o.npipe && i < cfg.pipeline_dirs.n; i++) {
		struct stat st;
		if (stat(cfg.pipeline_dirs.v[i].s, &st) == 0)
			push(&o.pipeline_dirs, &o.npipe, cfg.pipeline_dirs.v[i].s);
	}
	{
		size_t n = cfg.source_mirrors.n;
		char **from = rpl_xcalloc(n + 1, sizeof(*from)),
		     **to = rpl_xcalloc(n + 1, sizeof(*to));
		for (size_t i = 0; i < n; i++) {
			from[i] = (char *)cfg.source_mirrors.v[i].key.s;
			to[i] = (char *)cfg.source_mirrors.v[i].val.s;
		}
		o.n.mirror_from = from;
		o.n.mirror_to = to;
		o.n.nmirrors = n;
	}
	if (!o.n.sysroot)
		o.n.sysroot = rpl_repoconfig_sysroot(&cfg, o.n.arch, origin, sizeof(origin));
	o.n.sysroot_origin = o.n.sysroot && *origin ? origin : NULL;
	{
		/* An arch this machine cannot build is refused before anything starts. */
		struct rpl_emulation emu;
		if (rpl_emulate_check(o.n.arch, o.n.sysroot, o.n.sysroot_origin, &emu))
			rpl_die(RPL_EXIT_USAGE, "cannot build for %s on this %s machine: %s",
			        o.n.arch, rpl_host_arch(), rpl_errmsg());
	}
	/* The namespace melange would be given: one setting for both runners. */
	for (size_t i = 0; !o.n.namespace && i < cfg.melange_args.n; i++) {
		const char *a = cfg.melange_args.v[i].s;
		if (!strcmp(a, "--namespace") && i + 1 < cfg.melange_args.n)
			o.n.namespace = cfg.melange_args.v[i + 1].s;
		else if (!strncmp(a, "--namespace=", 12))
			o.n.namespace = a + 12;
	}
	if (!o.n.max_extract_size)
		o.n.max_extract_size = cfg.max_extract_size;
	if (!o.n.max_extract_ratio)
		o.n.max_extract_ratio = cfg.max_extract_ratio;
	o.n.env_files = o.env_files;
	o.n.nenv_files = o.nenv;
	o.n.pipeline_dirs = o.pipeline_dirs;
	o.n.npipeline_dirs = o.npipe;
	err = rpl_native_build(&o.n);
	if (err)
		fprintf(stderr, "ripple: %s\n", rpl_errmsg());
	free(o.env_files);
	free(o.pipeline_dirs);
	free((void *)o.n.mirror_from);
	free((void *)o.n.mirror_to);
	rpl_repoconfig_release(&cfg);
	return err ? RPL_EXIT_FAILED : RPL_EXIT_OK;
}

static const char keygen_usage[] =
        "usage: ripple keygen [NAME.rsa] [--bits N]\n"
        "\n"
        "Writes a new RSA signing key NAME.rsa (default melange.rsa; PKCS#1 PEM, mode\n"
        "0600) and its public half NAME.rsa.pub, as `melange keygen` does.  Sign with\n"
        "`ripple build --signing-key NAME.rsa`; apk and apko find the key by the\n"
        "name NAME.rsa.pub.  --bits: 2048 to 16384 (default 4096).\n";

int rpl_cmd_keygen(struct rpl_cli *cli, int argc, char **argv)
{
	struct nopts o;
	const char *name;
	int first;

	memset(&o, 0, sizeof(o));
	o.bits = 4096;
	first = rpl_cli_getopt(cli, argc, argv, keygen_usage, native_opts, NULL, native_opt, &o);
	if (argc - first > 1)
		rpl_cli_usage(keygen_usage, RPL_EXIT_USAGE);
	rpl_cli_enter(cli);
	name = argc - first == 1 ? argv[first] : "melange.rsa";
	if (!rpl_str_endswith(name, ".rsa"))
		rpl_die(RPL_EXIT_USAGE,
		        "'%s': a key's name must end in .rsa (apk looks it up as "
		        "NAME.rsa.pub)",
		        name);
	if (access(name, F_OK) == 0)
		rpl_die(RPL_EXIT_USAGE, "'%s' exists; remove it first", name);
	if (rpl_signer_generate(name, (int)o.bits))
		rpl_die(RPL_EXIT_FAILED, "%s", rpl_errmsg());
	printf("wrote %s and %s.pub (%ld-bit RSA)\n", name, name, o.bits);
	return RPL_EXIT_OK;
}

static const char index_usage[] =
        "usage: ripple index DIR [--signing-key KEY]\n"
        "\n"
        "Merges every *.apk of DIR into DIR/APKINDEX.tar.gz (records of the same name\n"
        "and version replaced in place, others appended, as `melange index --merge`),\n"
        "written whole and signed with KEY when given.\n";

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int rpl_cmd_index(struct rpl_cli *cli, int argc, char **argv)
{
	struct nopts o;
	struct rpl_signer key;
	char **apks = NULL;
	size_t n = 0;
	DIR *d;
	struct dirent *de;
	int first, err;

	memset(&o, 0, sizeof(o));
	first = rpl_cli_getopt(cli, argc, argv, index_usage, native_opts, NULL, native_opt, &o);
	if (argc - first != 1)
		rpl_cli_usage(index_usage, RPL_EXIT_USAGE);
	rpl_cli_enter(cli);
	if (!(d = opendir(argv[first])))
		rpl_die(RPL_EXIT_USAGE, "cannot read '%s': %s", argv[first], strerror(errno));
	while ((de = readdir(d)))
		if (rpl_str_endswith(de->d_name, ".apk"))
			push(&apks, &n, rpl_path_join(argv[first], de->d_name));
	closedir(d);
	if (n)
		qsort(apks, n, sizeof(*apks), cmp_str);
	if (o.n.signing_key && rpl_signer_load(&key, o.n.signing_key))
		rpl_die(RPL_EXIT_USAGE, "%s", rpl_errmsg());
	err = rpl_repo_add(argv[first], apks, n, o.n.signing_key ? &key : NULL);
	if (o.n.signing_key)
		rpl_signer_release(&key);
	for (size_t i = 0; i < n; i++)
		free(apks[i]);
	free(apks);
	if (err)
		rpl_die(RPL_EXIT_FAILED, "%s", rpl_errmsg());
	printf("%s/APKINDEX.tar.gz: %zu package%s merged%s\n", argv[first], n, n == 1 ? "" : "s",
	       o.n.signing_key ? ", signed" : "");
	return RPL_EXIT_OK;
}

static const char image_usage[] =
        "usage: ripple native-image FILE [--arch A] [--out-dir DIR] [--tag TAG]\n"
        "                           [--repository-append R]... [--keyring-append KEY]...\n"
        "                           [--lockfile LOCK | --lock LOCK] [--push REF]\n"
        "                           [--annotations KEY:VALUE]... [--docker-archive TAR]\n"
        "                           [--source-date-epoch SECS] [--max-image-size SIZE]\n"
        "                           [-C DIR]\n"
        "\n"
        "Assembles an apko image for one architecture without apko: the packages are\n"
        "resolved against the config's repositories and R (each index's signature\n"
        "checked against the keyring, each apk against its index), installed into one\n"
        "layer with apko's database, accounts and paths, and written as an OCI layout in\n"
        "DIR/<name>/ (default images/) tagged TAG (default latest) for the image index\n"
        "and TAG-<arch> for the arch's manifest.  `ripple build --runner native` runs\n"
        "this for each image job.  SOURCE_DATE_EPOCH: --source-date-epoch, else the\n"
        "environment's, else the newest package's build date.  As apko, it writes the\n"
        "SPDX SBOMs DIR/<name>/sboms/sbom-<arch>.spdx.json (with the packages' own) and\n"
        "sbom-index.spdx.json, and gives the index the image's annotations.\n"
        "\n"
        "  --lock LOCK      record the apks installed for this arch in LOCK (apko's\n"
        "                   apko.lock.json v1; other archs already in it are kept)\n"
        "  --lockfile LOCK  install exactly the apks LOCK lists for this arch, checked\n"
        "                   against its checksums, without resolving (LOCK must have\n"
        "                   been made from this config and its includes)\n"
        "  --push REF       then push the image to REGISTRY/REPO[:TAG] (see ripple push)\n"
        "  --annotations KEY:VALUE  an annotation over the config's, as apko's flag\n"
        "  --docker-archive TAR  also write the arch's image as a docker-archive tarball\n"
        "                   (for `docker load`), tagged <name>:TAG\n"
        "  --max-image-size SIZE  the most the packages may unpack to, together (default\n"
        "                   4G; bytes, or with K, M, G, T): the image is assembled in\n"
        "                   memory, so an apk that would take more is refused as a\n"
        "                   decompression bomb\n";

int rpl_cmd_native_image(struct rpl_cli *cli, int argc, char **argv)
{
	struct nopts o;
	struct rpl_image_opts io;
	int first, err;

	memset(&o, 0, sizeof(o));
	memset(&io, 0, sizeof(io));
	o.n.out_dir = "images";
	o.n.source_date_epoch = -1;
	first = rpl_cli_getopt(cli, argc, argv, image_usage, image_opts, NULL, native_opt, &o);
	if (argc - first != 1)
		rpl_cli_usage(image_usage, RPL_EXIT_USAGE);
	rpl_cli_enter(cli);
	io.file = argv[first];
	io.arch = cli->narchs ? cli->archs[0] : rpl_host_arch();
	io.out_dir = o.n.out_dir;
	io.tag = o.tag ? o.tag : "latest";
	io.repositories = o.repos;
	io.nrepositories = o.nrepos;
	io.keyrings = o.keyrings;
	io.nkeyrings = o.nkeyrings;
	io.cache_dir = ".ripple/cache";
	io.source_date_epoch = o.n.source_date_epoch;
	io.lockfile = o.lockfile;
	io.annotations = o.annotations;
	io.docker_archive = o.docker;
	io.nannotations = o.nannotations;
	io.lock_out = o.lock_out;
	io.max_size = o.max_image_size;
	if (o.lockfile && o.lock_out)
		rpl_die(RPL_EXIT_USAGE, "--lockfile and --lock: one reads a lock file, the other "
		                        "writes one; give one");
	err = rpl_image_build(&io);
	if (!err && o.push_ref) {
		char digest[80];
		if (!(err = rpl_push(io.layout, io.tag, o.push_ref, digest)))
			printf("ripple: pushed %s@%s\n", o.push_ref, digest);
	}
	if (err)
		fprintf(stderr, "ripple: %s\n", rpl_errmsg());
	free(o.repos);
	free(o.keyrings);
	free(o.annotations);
	return err ? RPL_EXIT_FAILED : RPL_EXIT_OK;
}

static const char push_usage[] =
        "usage: ripple push LAYOUT REGISTRY/REPO[:TAG] [--tag TAG] [-C DIR]\n"
        "\n"
        "Pushes the image tagged TAG (default latest) of the OCI layout LAYOUT (e.g.\n"
        "images/<name>, as native-image writes it) to a registry over the OCI\n"
        "distribution API: blobs the registry lacks, each arch's manifest, then the\n"
        "image index under the reference's tag (default: TAG).  A tag that names one\n"
        "arch's manifest (latest-amd64) pushes that manifest; a layout whose index.json\n"
        "is itself the image index, untagged (apko's), is pushed whole.  Credentials\n"
        "come from ~/.docker/config.json ($DOCKER_CONFIG); 127.0.0.1 and localhost are\n"
        "spoken to over http, other registries over https.  Prints the reference and\n"
        "the pushed digest.\n";

int rpl_cmd_push(struct rpl_cli *cli, int argc, char **argv)
{
	struct nopts o;
	char digest[80];
	int first;

	memset(&o, 0, sizeof(o));
	first = rpl_cli_getopt(cli, argc, argv, push_usage, native_opts, NULL, native_opt, &o);
	if (argc - first != 2)
		rpl_cli_usage(push_usage, RPL_EXIT_USAGE);
	rpl_cli_enter(cli);
	if (rpl_push(argv[first], o.tag ? o.tag : "latest", argv[first + 1], digest))
		rpl_die(RPL_EXIT_FAILED, "%s", rpl_errmsg());
	{
		/* The reference with the tag it was pushed under. */
		const char *ref = argv[first + 1], *slash = strchr(ref, '/');
		int tagged = slash && strchr(slash, ':');
		printf("pushed %s%s%s@%s\n", ref, tagged ? "" : ":",
		       tagged  ? ""
		       : o.tag ? o.tag
		               : "latest",
		       digest);
	}
	return RPL_EXIT_OK;
}
