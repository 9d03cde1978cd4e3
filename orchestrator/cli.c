#include "orchestrator/cli.h"
#include "common/error.h"
#include "common/xalloc.h"
#include "recipes/apko.h"
#include "recipes/repoconfig.h"
#include "recipes/scan.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void rpl_cli_add_archs(struct rpl_cli *cli, const char *list)
{
	const char *p = list;

	if (!*p)
		rpl_die(RPL_EXIT_USAGE, "--arch wants a comma-separated list of architectures");
	while (*p) {
		size_t len = strcspn(p, ",");
		char *name = rpl_xstrndup(p, len);
		const char *apk;

		if (!len)
			rpl_die(RPL_EXIT_USAGE, "empty architecture name in '%s'", list);

		if (!strcmp(name, "host")) {
			free(name);
			name = rpl_xstrdup(rpl_host_arch());
		}
		apk = rpl_apko_arch_to_apk(name);
		if (!apk)
			rpl_die(RPL_EXIT_USAGE, "unknown architecture '%s'", name);
		free(name);
		/* x86_64 and amd64 are one arch: each is listed once. */
		for (size_t i = 0; apk && i < cli->narchs; i++)
			if (!strcmp(cli->archs[i], apk))
				apk = NULL;
		if (apk) {
			cli->archs =
			        rpl_xrealloc(cli->archs, (cli->narchs + 1) * sizeof(*cli->archs));
			cli->archs[cli->narchs++] = apk;
		}

		p += len;
		if (*p == ',')
			p++;
	}
}

void rpl_cli_enter(struct rpl_cli *cli)
{
	if (cli->dir && chdir(cli->dir) < 0)
		rpl_die(RPL_EXIT_USAGE, "cannot enter '%s': %s", cli->dir, strerror(errno));
	cli->dir = NULL; /* entered: later calls stay here */
}

int rpl_cli_scan(struct rpl_cli *cli, struct rpl_scan *scan, int compile,
                 const struct rpl_scan_cache *cache)
{
	struct rpl_scan_opts opts = { cli->archs, cli->narchs, compile, 0, cache };

	int err;

	rpl_cli_enter(cli);
	err = rpl_scan_run(scan, ".", &opts);
	if (err)
		rpl_die(RPL_EXIT_USAGE, "%s", rpl_errmsg());
	for (size_t i = 0; i < scan->nentries; i++)
		if (scan->entries[i].error)
			fprintf(stderr, "%s\n", scan->entries[i].error);
	return 0;
}

void rpl_cli_usage(const char *text, int status)
{
	fputs(text, status ? stderr : stdout);
	exit(status);
}

void rpl_cli_print_json(json_t *v)
{
	char *s = json_dumps(v, JSON_INDENT(2) | JSON_PRESERVE_ORDER);

	if (s) {
		fputs(s, stdout);
		fputc('\n', stdout);
		free(s);
	}
}

int rpl_cli_getopt(struct rpl_cli *cli, int argc, char **argv, const char *usage,
                   const struct option *extra, const char *extra_short, rpl_cli_opt_fn fn,
                   void *ctx)
{
	/* Long-only options take values no letter can clash with. */
	enum { OPT_ARCH = 0x10000, OPT_JSON };
	static const struct option common[] = {
		{ "arch", required_argument, NULL, OPT_ARCH },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "help", no_argument, NULL, 'h' },
	};
	struct option opts[64];
	char shorts[64];
	size_t n = 0;
	int c;

	for (size_t i = 0; i < sizeof(common) / sizeof(*common); i++)
		opts[n++] = common[i];
	for (; extra && extra->name && n + 1 < sizeof(opts) / sizeof(*opts); extra++)
		opts[n++] = *extra;
	memset(&opts[n], 0, sizeof(opts[n]));
	snprintf(shorts, sizeof(shorts), "C:h%s", extra_short ? extra_short : "");

	optind = 1;
	while ((c = getopt_long(argc, argv, shorts, opts, NULL)) != -1) {
		switch (c) {
		case 'C':
			cli->dir = optarg;
			break;
		case OPT_ARCH:
			rpl_cli_add_archs(cli, optarg);
			break;
		case OPT_JSON:
			cli->json = 1;
			break;
		case 'h':
			rpl_cli_usage(usage, 0);
		case '?':
		case ':':
			rpl_cli_usage(usage, RPL_EXIT_USAGE);
		default:
			if (!fn)
				rpl_cli_usage(usage, RPL_EXIT_USAGE);
			fn(cli, c, optarg, ctx);
		}
	}
	return optind;
}
