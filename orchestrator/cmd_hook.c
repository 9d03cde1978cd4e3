/*
 * `ripple hook install|uninstall`: git hooks that build (or plan) what a
 * commit or a push changed.
 *
 * The hook is a small sh script in the repository's hooks directory (libgit2
 * finds it: core.hooksPath when set, else .git/hooks).  It runs this ripple
 * binary, or the `ripple` on PATH when that one is gone, in the monorepo
 * directory it was installed from (which may be a subdirectory of the git
 * work tree).  When no ripple can be found it says so and exits 0: a missing
 * tool never blocks a commit.  post-commit builds `--since HEAD~1` (every
 * job of a root commit); a post-commit hook cannot block anything, and a
 * failed build says so and leaves the commit alone.  pre-push builds what the
 * pushed commits changed since the remote's commit and blocks the push when
 * the build fails (`git push --no-verify` pushes anyway).  A hook that ripple
 * did not write is never replaced or removed.
 */
#include "common/error.h"
#include "common/file.h"
#include "common/strbuf.h"
#include "common/xalloc.h"
#include "orchestrator/cli.h"

#include <errno.h>
#include <git2.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* What marks a hook as ripple's. */
#define MARK "# ripple-hook v1"

static const char hook_usage[] =
        "usage: ripple hook install [--post-commit | --pre-push] [--plan-only] [-C DIR]\n"
        "       ripple hook uninstall [--post-commit | --pre-push] [-C DIR]\n"
        "\n"
        "install writes a git hook for the monorepo at DIR (default .):\n"
        "  --post-commit  (default) after each commit, `ripple build --since HEAD~1`:\n"
        "                 what the commit changed; it never blocks the commit\n"
        "  --pre-push     before a push, build what the pushed commits changed since\n"
        "                 the remote's; a failed build stops the push\n"
        "                 (git push --no-verify pushes anyway)\n"
        "  --plan-only    `ripple plan --explain` instead of building\n"
        "  --force        replace a hook of the same name that ripple did not write\n"
        "The hook runs this ripple binary (or `ripple` on PATH when it is gone) and\n"
        "does nothing, successfully, when neither exists.  It lives where git looks\n"
        "for hooks: core.hooksPath, else .git/hooks.  uninstall removes ripple's\n"
        "hooks (both kinds unless one is named) and leaves others alone.\n";

enum { O_POST = 1000, O_PRE, O_PLAN, O_FORCE };

struct hopts {
	int post, pre, plan_only, force;
};

static void hook_opt(struct rpl_cli *cli, int opt, const char *arg, void *ctx)
{
	struct hopts *o = ctx;

	(void)cli;
	(void)arg;
	o->post |= opt == O_POST;
	o->pre |= opt == O_PRE;
	o->plan_only |= opt == O_PLAN;
	o->force |= opt == O_FORCE;
}

static const struct option hook_opts[] = {
	{ "post-commit", no_argument, NULL, O_POST },
	{ "pre-push", no_argument, NULL, O_PRE },
	{ "plan-only", no_argument, NULL, O_PLAN },
	{ "force", no_argument, NULL, O_FORCE },
	{ NULL, 0, NULL, 0 },
};

/* Single-quoted for sh. */
static void sh_quote(struct rpl_strbuf *sb, const char *s)
{
	rpl_strbuf_addch(sb, '\'');
	for (; *s; s++) {
		if (*s == '\'')
			rpl_strbuf_addstr(sb, "'\\''");
		else
			rpl_strbuf_addch(sb, *s);
	}
	rpl_strbuf_addch(sb, '\'');
}

/*
 * The hooks directory and the monorepo's path inside the work tree ("." at
 * the top), from libgit2.  Exits 2 outside a git work tree.
 */
static void locate(char **hooks_dir, char **rel, int *shared)
{
	git_repository *repo = NULL;
	git_config *cfg = NULL;
	git_buf hp = { 0 };
	char here[PATH_MAX], cwd[PATH_MAX], top[PATH_MAX];
	const char *wd;
	size_t n;

	git_libgit2_init();
	if (!getcwd(here, sizeof(here)))
		rpl_die(RPL_EXIT_FAILED, "cannot know the current directory: %s", strerror(errno));
	if (git_repository_open_ext(&repo, ".", 0, NULL) < 0 || git_repository_is_bare(repo))
		rpl_die(RPL_EXIT_USAGE,
		        "%s is not in a git work tree: there is nowhere to install "
		        "a hook",
		        here);
	wd = git_repository_workdir(repo);
	if (!realpath(wd, top) || !realpath(here, cwd))
		rpl_die(RPL_EXIT_FAILED, "cannot resolve the work tree: %s", strerror(errno));
	n = strlen(top);
	if (strncmp(cwd, top, n) || (cwd[n] && cwd[n] != '/'))
		rpl_die(RPL_EXIT_FAILED, "%s is not inside the work tree %s", cwd, top);
	*rel = rpl_xstrdup(cwd[n] ? cwd + n + 1 : ".");
	/* core.hooksPath, relative to the work tree when relative; else the
	 * hooks of the common git dir (a linked worktree shares them). */
	*shared = 0;
	if (git_repository_config_snapshot(&cfg, repo) == 0 &&
	    git_config_get_path(&hp, cfg, "core.hooksPath") == 0 && hp.ptr && *hp.ptr) {
		char *common = rpl_xstrdup(git_repository_commondir(repo));
		size_t cl = strlen(common), tl = strlen(top);
		*hooks_dir = hp.ptr[0] == '/' ? rpl_xstrdup(hp.ptr) : rpl_path_join(top, hp.ptr);
		/* Outside this repository, hooks run for every repository. */
		while (cl > 1 && common[cl - 1] == '/')
			common[--cl] = '\0';
		*shared = !((!strncmp(*hooks_dir, top, tl) && (*hooks_dir)[tl] == '/') ||
		            (!strncmp(*hooks_dir, common, cl) && (*hooks_dir)[cl] == '/'));
		free(common);
	} else {
		*hooks_dir = rpl_path_join(git_repository_commondir(repo), "hooks");
	}
	git_buf_dispose(&hp);
	git_config_free(cfg);
	git_repository_free(repo);
	git_libgit2_shutdown();
}

static int is_ours(const char *path)
{
	char *text = NULL;
	size_t len;
	int ours;

	if (rpl_read_file(path, &text, &len))
		return 0;
	ours = strstr(text, MARK) != NULL;
	free(text);
	return ours;
}

static void script(struct rpl_strbuf *s, const char *kind, const char *self, const char *rel,
                   int plan_only)
{
	const char *cmd = plan_only ? "plan --explain" : "build";

	rpl_strbuf_addf(s,
	                "#!/bin/sh\n" MARK " (%s): written by `ripple hook install`;\n"
	                "# `ripple hook uninstall` removes it.\n"
	                "ripple=",
	                kind);
	sh_quote(s, self);
	rpl_strbuf_addstr(s, "\nmonorepo=");
	sh_quote(s, rel);
	rpl_strbuf_addstr(s, "\n[ -x \"$ripple\" ] || ripple=$(command -v ripple 2>/dev/null) || "
	                     "ripple=\n"
	                     "if [ -z \"$ripple\" ]; then\n"
	                     "\techo \"ripple hook: ripple is not installed; nothing was built\" "
	                     ">&2\n"
	                     "\texit 0\n"
	                     "fi\n"
	                     "cd \"$(git rev-parse --show-toplevel)/$monorepo\" || exit 0\n");
	if (!strcmp(kind, "post-commit")) {
		rpl_strbuf_addf(
		        s,
		        "if git rev-parse -q --verify HEAD~1 >/dev/null; then\n"
		        "\t\"$ripple\" %s --since HEAD~1\n"
		        "else\n"
		        "\t\"$ripple\" %s --all\n"
		        "fi\n"
		        "status=$?\n"
		        "[ $status -eq 0 ] || echo \"ripple hook: ripple %s exited $status; "
		        "the commit stands\" >&2\n"
		        "exit 0\n",
		        cmd, cmd, cmd);
		return;
	}
	/* pre-push: stdin has "<local ref> <local sha> <remote ref> <remote sha>". */
	rpl_strbuf_addf(s,
	                "zero=0000000000000000000000000000000000000000\n"
	                "status=0\n"
	                "while read -r lref lsha rref rsha; do\n"
	                "\t[ \"$lsha\" = \"$zero\" ] && continue\n"
	                "\tif [ \"$rsha\" = \"$zero\" ] || ! git cat-file -e \"$rsha^{commit}\" "
	                "2>/dev/null; then\n"
	                "\t\t\"$ripple\" %s --changed || status=$?\n"
	                "\telse\n"
	                "\t\t\"$ripple\" %s --since \"$rsha\" || status=$?\n"
	                "\tfi\n"
	                "done\n"
	                "if [ $status -ne 0 ]; then\n"
	                "\techo \"ripple hook: ripple %s exited $status; the push is stopped "
	                "(git push --no-verify pushes anyway)\" >&2\n"
	                "\texit 1\n"
	                "fi\n"
	                "exit 0\n",
	                cmd, cmd, cmd);
}

int rpl_cmd_hook(struct rpl_cli *cli, int argc, char **argv)
{
	struct hopts o;
	const char *kinds[2];
	char *hooks = NULL, *rel = NULL, self[PATH_MAX];
	size_t nkinds = 0;
	int first, install, shared;
	ssize_t k;

	memset(&o, 0, sizeof(o));
	first = rpl_cli_getopt(cli, argc, argv, hook_usage, hook_opts, NULL, hook_opt, &o);
	if (argc - first != 1 ||
	    (strcmp(argv[first], "install") && strcmp(argv[first], "uninstall")))
		rpl_cli_usage(hook_usage, RPL_EXIT_USAGE);
	install = !strcmp(argv[first], "install");
	if (install && o.post && o.pre)
		rpl_die(RPL_EXIT_USAGE, "install one hook at a time: --post-commit or --pre-push");
	if (o.post || !o.pre) /* install: the default; uninstall: unless --pre-push */
		kinds[nkinds++] = "post-commit";
	if (o.pre || (!install && !o.post))
		kinds[nkinds++] = "pre-push";
	rpl_cli_enter(cli);
	locate(&hooks, &rel, &shared);
	if (install && shared && !o.force)
		rpl_die(RPL_EXIT_USAGE,
		        "core.hooksPath is %s, outside this repository: a hook there runs for every "
		        "repository that uses it; --force installs it anyway",
		        hooks);

	for (size_t i = 0; i < nkinds; i++) {
		char *path = rpl_path_join(hooks, kinds[i]);
		int exists = access(path, F_OK) == 0, ours = exists && is_ours(path);

		if (!install) {
			if (ours && unlink(path) < 0)
				rpl_die(RPL_EXIT_FAILED, "cannot remove %s: %s", path,
				        strerror(errno));
			if (ours)
				printf("removed %s\n", path);
			else if (exists)
				printf("left %s alone: ripple did not write it\n", path);
			free(path);
			continue;
		}
		if (exists && !ours && !o.force)
			rpl_die(RPL_EXIT_USAGE,
			        "%s exists and ripple did not write it; --force replaces it", path);
		k = readlink("/proc/self/exe", self, sizeof(self) - 1);
		if (k <= 0)
			rpl_die(RPL_EXIT_FAILED, "cannot find this ripple binary");
		self[k] = '\0';
		{
			struct rpl_strbuf s = RPL_STRBUF_INIT;
			script(&s, kinds[i], self, rel, o.plan_only);
			if (rpl_mkdirs(hooks) || rpl_write_file_atomic(path, s.buf, s.len))
				rpl_die(RPL_EXIT_FAILED, "%s", rpl_errmsg());
			if (chmod(path, 0755) < 0)
				rpl_die(RPL_EXIT_FAILED, "cannot make %s executable: %s", path,
				        strerror(errno));
			rpl_strbuf_release(&s);
		}
		printf("installed %s: %s %s for the monorepo at %s\n", path,
		       o.plan_only ? "plans" : "builds",
		       !strcmp(kinds[i], "post-commit") ? "what each commit changed"
		                                        : "what each push changes",
		       rel);
		free(path);
	}
	free(hooks);
	free(rel);
	return RPL_EXIT_OK;
}
