/*
 * The local executor (commands run as they are, as children of ripple) and
 * what every executor may use: running a short command to its end and
 * reading what it printed (sinfo, squeue, scancel).
 */
#define _GNU_SOURCE /* pipe2 */
#include "runners/executor.h"
#include "common/error.h"
#include "common/strbuf.h"
#include "common/xalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static void local_free(struct rpl_executor *x)
{
	free(x);
}

struct rpl_executor *rpl_executor_local_new(void)
{
	struct rpl_executor *x = rpl_xcalloc(1, sizeof(*x));

	x->name = "local";
	x->free = local_free;
	return x;
}

int rpl_exec_capture(char *const *argv, struct rpl_strbuf *out)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	sigset_t none, all;
	int p[2], rc, st = 0;
	pid_t pid, got;
	char buf[4096];
	ssize_t n;

	if (pipe2(p, O_CLOEXEC) < 0)
		return rpl_error(-errno, "cannot run %s: pipe: %s", argv[0], strerror(errno));
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, p[1], 1);
	posix_spawn_file_actions_adddup2(&fa, p[1], 2);
	/* The child starts with no signal blocked or ignored, whatever ripple's loop set. */
	posix_spawnattr_init(&at);
	sigemptyset(&none);
	sigfillset(&all);
	posix_spawnattr_setsigmask(&at, &none);
	posix_spawnattr_setsigdefault(&at, &all);
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
	rc = posix_spawnp(&pid, argv[0], &fa, &at, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	close(p[1]);
	if (rc) {
		close(p[0]);
		return rpl_error(-rc, "cannot run %s: %s", argv[0], strerror(rc));
	}
	while ((n = read(p[0], buf, sizeof(buf))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			break;
		rpl_strbuf_add(out, buf, (size_t)n);
	}
	close(p[0]);
	do
		got = waitpid(pid, &st, 0);
	while (got < 0 && errno == EINTR);
	if (got < 0)
		return rpl_error(-errno, "cannot wait for %s: %s", argv[0], strerror(errno));
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}
