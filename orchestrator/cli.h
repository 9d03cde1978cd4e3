/*
 * What every command shares: the monorepo root (-C), architecture lists,
 * help text and the scan that most commands start with.
 */
#ifndef RPL_CLI_H
#define RPL_CLI_H

#include <stdio.h>

struct rpl_scan;
struct json_t;

struct rpl_cli {
	const char *dir;    /* -C: the monorepo root */
	const char **archs; /* --arch, split on commas; NULL when not given */
	size_t narchs;
	int json;
	int strict;
};

struct rpl_command {
	const char *name;
	const char *summary;
	int (*run)(struct rpl_cli *cli, int argc, char **argv);
};

/* Splits a comma list of archs (apk or OCI names) into cli->archs; exits 2 on a bad name. */
void rpl_cli_add_archs(struct rpl_cli *cli, const char *list);

/*
 * Enters cli->dir (chdir, so recipe paths in messages are relative to the
 * root) and scans it.  Prints each broken recipe's message to stderr.
 * Returns 0, or exits 2 when the repo cannot be scanned at all.
 */
int rpl_cli_scan(struct rpl_cli *cli, struct rpl_scan *scan, int compile);

/* Prints `text` and exits 0 for --help, or prints it to stderr and exits 2. */
_Noreturn void rpl_cli_usage(const char *text, int status);

/* Writes a jansson value to stdout, pretty-printed, with a newline. */
void rpl_cli_print_json(struct json_t *v);

int rpl_cmd_ls(struct rpl_cli *cli, int argc, char **argv);
int rpl_cmd_show(struct rpl_cli *cli, int argc, char **argv);
int rpl_cmd_text(struct rpl_cli *cli, int argc, char **argv);
int rpl_cmd_graph(struct rpl_cli *cli, int argc, char **argv);
int rpl_cmd_deps(struct rpl_cli *cli, int argc, char **argv);
int rpl_cmd_rdeps(struct rpl_cli *cli, int argc, char **argv);
int rpl_cmd_cycles(struct rpl_cli *cli, int argc, char **argv);
int rpl_cmd_vercmp(struct rpl_cli *cli, int argc, char **argv);

#endif
