/*
 * What every command shares: the monorepo root (-C), architecture lists,
 * help text and the scan that most commands start with.
 */
#ifndef RPL_CLI_H
#define RPL_CLI_H

#include <getopt.h>
#include <stdio.h>

struct rpl_scan;
struct rpl_scan_cache;
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

/* Enters cli->dir (chdir) once; exits 2 when it cannot. */
void rpl_cli_enter(struct rpl_cli *cli);

/*
 * Enters cli->dir (chdir, so recipe paths in messages are relative to the

 * root) and scans it.  Prints each broken recipe's message to stderr.
 * Returns 0, or exits 2 when the repo cannot be scanned at all.
 */
int rpl_cli_scan(struct rpl_cli *cli, struct rpl_scan *scan, int compile,
                 const struct rpl_scan_cache *cache);

/* A command's own options: called with getopt's value and argument. */
typedef void (*rpl_cli_opt_fn)(struct rpl_cli *cli, int opt, const char *arg, void *ctx);

/*
 * Parses argv for a command: -C DIR, --arch, --json and -h/--help, which
 * every command takes, plus `extra` (long options, NULL-terminated or NULL)
 * and `extra_short` (getopt letters) handed to `fn`.  Prints `usage` and
 * exits for --help (0) and bad options (2).  Returns the index of the first
 * operand.
 */
int rpl_cli_getopt(struct rpl_cli *cli, int argc, char **argv, const char *usage,
                   const struct option *extra, const char *extra_short, rpl_cli_opt_fn fn,
                   void *ctx);

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
int rpl_cmd_plan(struct rpl_cli *cli, int argc, char **argv);
int rpl_cmd_why(struct rpl_cli *cli, int argc, char **argv);
int rpl_cmd_mark(struct rpl_cli *cli, int argc, char **argv);
int rpl_cmd_build(struct rpl_cli *cli, int argc, char **argv);
int rpl_cmd_history(struct rpl_cli *cli, int argc, char **argv);
int rpl_cmd_status(struct rpl_cli *cli, int argc, char **argv);
int rpl_cmd_report(struct rpl_cli *cli, int argc, char **argv);
int rpl_cmd_native_build(struct rpl_cli *cli, int argc, char **argv);
int rpl_cmd_native_image(struct rpl_cli *cli, int argc, char **argv);
int rpl_cmd_push(struct rpl_cli *cli, int argc, char **argv);
int rpl_cmd_hook(struct rpl_cli *cli, int argc, char **argv);
int rpl_cmd_keygen(struct rpl_cli *cli, int argc, char **argv);
int rpl_cmd_index(struct rpl_cli *cli, int argc, char **argv);

#endif
