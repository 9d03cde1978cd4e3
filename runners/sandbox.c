#define _GNU_SOURCE /* unshare */
#include "runners/sandbox.h"
#include "common/error.h"
#include "common/strbuf.h"
#include "common/xalloc.h"
#include "runners/runner.h"
#include "runners/workspace.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* The host directories a build reads, bound read-only where they are. */
static const char *const bound_dirs[] = { "/usr", "/etc", NULL };
/* Beside them, what a merged-/usr system keeps as links (older ones as directories). */
static const char *const root_entries[] = { "/bin",   "/sbin",   "/lib", "/lib32",
	                                    "/lib64", "/libx32", NULL };

void rpl_sandbox_init(struct rpl_sandbox *sb, int ws_fd, const char *ws_path)
{
	memset(sb, 0, sizeof(*sb));
	sb->ws_fd = ws_fd;
	sb->ws_path = ws_path;
	sb->deps_fd = sb->sysroot_fd = -1;
}

void rpl_sandbox_release(struct rpl_sandbox *sb)
{
	for (size_t i = 0; i < sb->nhidden; i++)
		free(sb->hidden[i]);
	free(sb->hidden);
	memset(sb, 0, sizeof(*sb));
	sb->ws_fd = sb->deps_fd = sb->sysroot_fd = -1;
}

void rpl_sandbox_hide(struct rpl_sandbox *sb, const char *path)
{
	char real[PATH_MAX];

	if (!path || !realpath(path, real))
		return;
	RPL_ALLOC_GROW(sb->hidden, sb->nhidden + 1, sb->alloc);
	sb->hidden[sb->nhidden++] = rpl_xstrdup(real);
}

static int under(const char *path, const char *dir)
{
	size_t n = strlen(dir);

	return !strncmp(path, dir, n) && (path[n] == '/' || !path[n]);
}

/* The host user steps run as when ripple is root ("nobody"); 0 when ripple is not root. */
static int sandbox_user(uid_t *uid, gid_t *gid)
{
	const struct passwd *pw;

	if (geteuid() != 0)
		return 0;
	pw = getpwnam("nobody");
	*uid = pw ? pw->pw_uid : 65534;
	*gid = pw ? pw->pw_gid : 65534;
	return 1;
}

static int own_tree(int dirfd, uid_t uid, gid_t gid)
{
	DIR *d;
	struct dirent *de;
	int fd = dup(dirfd), err = 0;

	if (fd < 0 || fchown(dirfd, uid, gid) < 0 || !(d = fdopendir(fd))) {
		err = rpl_error(-errno, "cannot hand the workspace to the sandbox's user: %s",
		                strerror(errno));
		if (fd >= 0)
			close(fd);
		return err;
	}
	while (!err && (de = readdir(d))) {
		struct stat st;
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    fchownat(dirfd, de->d_name, uid, gid, AT_SYMLINK_NOFOLLOW) < 0) {
			err = rpl_error(-errno, "cannot hand '%s' to the sandbox's user: %s",
			                de->d_name, strerror(errno));
		} else if (S_ISDIR(st.st_mode)) {
			int sub;
			if ((err = rpl_ws_open(dirfd, de->d_name, O_RDONLY | O_DIRECTORY, &sub)))
				err = rpl_error(err, "cannot open '%s': %s", de->d_name,
				                strerror(-err));
			else {
				err = own_tree(sub, uid, gid);
				close(sub);
			}
		}
	}
	closedir(d);
	return err;
}

int rpl_sandbox_own(const struct rpl_sandbox *sb, int dirfd)
{
	uid_t uid;
	gid_t gid;

	return sandbox_user(&uid, &gid) ? own_tree(dirfd, uid, gid) : 0;
}

static void add3(struct rpl_argv *a, const char *opt, const char *x, const char *y)
{
	rpl_argv_add(a, opt);
	rpl_argv_add(a, x);
	if (y)
		rpl_argv_add(a, y);
}

/* Where the parent binds the workspace and the packages for an unprivileged bwrap. */
#define STAGE "/tmp"
#define STAGE_WS STAGE "/ws"
#define STAGE_DEPS STAGE "/deps"
#define STAGE_SYSROOT STAGE "/sysroot"

/* Whether `path`, as the sandbox sees it, lies under a system directory it binds. */
static int under_bound(const char *path)
{
	for (const char *const *d = bound_dirs; *d; d++)
		if (under(path, *d))
			return 1;
	return 0;
}

/*
 * The system directories, the host's or the sysroot's, and the masks over
 * what must stay hidden in them.  `host` is the host path of the root they
 * come from ("" for the host's own), looked at here; `arg` the same root as
 * bwrap will find it (the staged sysroot when the sandbox starts as root).
 */
static void add_system(struct rpl_argv *a, const struct rpl_sandbox *sb, const char *host,
                       const char *arg)
{
	char target[PATH_MAX], src[PATH_MAX], bsrc[PATH_MAX];
	size_t nhost = strlen(host);
	struct stat st;

	for (const char *const *d = bound_dirs; *d; d++) {
		snprintf(src, sizeof(src), "%s%s", host, *d);
		snprintf(bsrc, sizeof(bsrc), "%s%s", arg, *d);
		/* A sysroot's link is a link inside, never a way to a host directory. */
		if (*host && lstat(src, &st) == 0 && S_ISLNK(st.st_mode)) {
			ssize_t n = readlink(src, target, sizeof(target) - 1);
			if (n > 0) {
				target[n] = '\0';
				add3(a, "--symlink", target, *d);
			}
		} else if (stat(src, &st) == 0 && S_ISDIR(st.st_mode)) {
			add3(a, "--ro-bind", bsrc, *d);
		}
	}
	for (const char *const *d = root_entries; *d; d++) {
		ssize_t n;
		snprintf(src, sizeof(src), "%s%s", host, *d);
		snprintf(bsrc, sizeof(bsrc), "%s%s", arg, *d);
		if (lstat(src, &st) < 0)
			continue;
		if (S_ISLNK(st.st_mode) && (n = readlink(src, target, sizeof(target) - 1)) > 0) {
			target[n] = '\0';
			add3(a, "--symlink", target, *d);
		} else if (S_ISDIR(st.st_mode)) {
			add3(a, "--ro-bind", bsrc, *d);
		}
	}
	for (size_t i = 0; i < sb->nhidden; i++) {
		const char *h = sb->hidden[i], *inside;
		/* A hidden path is masked where the sandbox shows it. */
		if (nhost && !(under(h, host) && h[nhost]))
			continue;
		inside = h + nhost;
		/* Under /usr/local, the build's own packages are bound instead. */
		if (!under_bound(inside) || (sb->deps_fd >= 0 && under(inside, "/usr/local")) ||
		    stat(h, &st) < 0)
			continue;
		if (S_ISDIR(st.st_mode))
			add3(a, "--tmpfs", inside, NULL);
		else
			add3(a, "--ro-bind", "/dev/null", inside);
	}
	if (sb->bind_file)
		add3(a, "--ro-bind", sb->bind_file, sb->bind_file);
}

/* Reopens the directory `path`, which must still be what `fd` is, in this mount namespace. */
static int reopen(const char *path, int fd)
{
	struct stat a, b;
	int nfd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

	if (nfd < 0)
		return -errno;
	if (fstat(nfd, &a) < 0 || fstat(fd, &b) < 0 || a.st_dev != b.st_dev ||
	    a.st_ino != b.st_ino) {
		close(nfd);
		return -ESTALE;
	}
	return nfd;
}

static int bind_at(int fd, const char *at)
{
	char src[32];

	snprintf(src, sizeof(src), "/proc/self/fd/%d", fd);
	return mkdir(at, 0755) < 0 || mount(src, at, NULL, MS_BIND, NULL) < 0 ? -errno : 0;
}

/*
 * In a mount namespace of the child's own, binds the workspace and the
 * packages under a fresh /tmp that the unprivileged user can reach.  The
 * bind's source must be a mount of this namespace, so both are reopened by
 * path after the unshare (and checked to be the same directories), before
 * /tmp is covered.
 */
static int stage_binds(const struct rpl_sandbox *sb)
{
	int ws, deps = -1, sys = -1;

	if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return -errno;
	if ((ws = reopen(sb->ws_path, sb->ws_fd)) < 0)
		return ws;
	if (sb->deps_fd >= 0 && (deps = reopen(sb->deps_path, sb->deps_fd)) < 0)
		return deps;
	if (sb->sysroot_fd >= 0 && (sys = reopen(sb->sysroot, sb->sysroot_fd)) < 0)
		return sys;
	if (mount("ripple", STAGE, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=64k") < 0)
		return -errno;
	{
		int err = bind_at(ws, STAGE_WS);
		if (!err && deps >= 0)
			err = bind_at(deps, STAGE_DEPS);
		if (!err && sys >= 0)
			err = bind_at(sys, STAGE_SYSROOT);
		return err;
	}
}

static void exec_child(char **argv, const struct rpl_sandbox *sb)
{
	uid_t uid;
	gid_t gid;
	int err;

	if (sandbox_user(&uid, &gid)) {
		if ((err = stage_binds(sb))) {
			fprintf(stderr, "ripple: cannot set up the sandbox as root: %s\n",
			        strerror(-err));
			_exit(126);
		}
		if (setgroups(0, NULL) < 0 || setgid(gid) < 0 || setuid(uid) < 0) {
			fprintf(stderr, "ripple: cannot become uid %u for the sandbox: %s\n",
			        (unsigned)uid, strerror(errno));
			_exit(126);
		}
	} else if (fcntl(sb->ws_fd, F_SETFD, 0) < 0 ||
	           (sb->deps_fd >= 0 && fcntl(sb->deps_fd, F_SETFD, 0) < 0)) {
		/* Passed as descriptors: bwrap needs no path to them. */
		fprintf(stderr, "ripple: cannot pass the workspace to bwrap: %s\n",
		        strerror(errno));
		_exit(126);
	}
	if (chdir("/") < 0)
		_exit(126);
	execvp(argv[0], argv);
	fprintf(stderr, "ripple: cannot run bwrap: %s\n", strerror(errno));
	_exit(127);
}

int rpl_sandbox_run(const struct rpl_sandbox *sb, char *const *env, size_t nenv, const char *script)
{
	struct rpl_argv a = { NULL, 0, 0 };
	char ws[16], deps[16];
	uid_t uid;
	gid_t gid;
	pid_t pid;
	int status = 0, err = 0;

	snprintf(ws, sizeof(ws), "%d", sb->ws_fd);
	snprintf(deps, sizeof(deps), "%d", sb->deps_fd);
	rpl_argv_add(&a, "bwrap");
	if (!sb->sysroot)
		add_system(&a, sb, "", "");
	else
		add_system(&a, sb, sb->sysroot,
		           sandbox_user(&uid, &gid) ? STAGE_SYSROOT : sb->sysroot);
	add3(&a, "--dev", "/dev", NULL);
	add3(&a, "--proc", "/proc", NULL);
	add3(&a, "--tmpfs", "/tmp", NULL);
	add3(&a, "--tmpfs", "/var/tmp", NULL);
	if (sandbox_user(&uid, &gid)) {
		add3(&a, "--bind", STAGE_WS, RPL_WORKSPACE);
		if (sb->deps_fd >= 0)
			add3(&a, "--ro-bind", STAGE_DEPS, "/usr/local");
	} else {
		add3(&a, "--bind-fd", ws, RPL_WORKSPACE);
		if (sb->deps_fd >= 0)
			add3(&a, "--ro-bind-fd", deps, "/usr/local");
	}
	/* No network, IPC, PID or host user: uid 0 inside is not the host's root. */
	rpl_argv_add(&a, "--unshare-all");
	rpl_argv_add(&a, "--unshare-user");
	rpl_argv_add(&a, "--disable-userns");
	add3(&a, "--uid", "0", NULL);
	add3(&a, "--gid", "0", NULL);
	add3(&a, "--cap-drop", "ALL", NULL);
	rpl_argv_add(&a, "--die-with-parent");
	rpl_argv_add(&a, "--new-session");
	add3(&a, "--chdir", RPL_WORKSPACE, NULL);
	rpl_argv_add(&a, "--clearenv");
	for (size_t i = 0; i < nenv; i++) {
		const char *eq = strchr(env[i], '=');
		struct rpl_strbuf k = RPL_STRBUF_INIT;
		if (!eq)
			continue;
		rpl_strbuf_add(&k, env[i], (size_t)(eq - env[i]));
		add3(&a, "--setenv", k.buf, eq + 1);
		rpl_strbuf_release(&k);
	}
	add3(&a, "/bin/sh", "-c", script);

	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0)
		err = rpl_error(-errno, "cannot fork: %s", strerror(errno));
	else if (pid == 0)
		exec_child(a.v, sb);
	else {
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
		if (WIFSIGNALED(status))
			err = rpl_error(-RPL_ELIB, "the step was killed by signal %d",
			                WTERMSIG(status));
		else if (WEXITSTATUS(status) == 127)
			err = rpl_error(-RPL_ELIB,
			                "the step could not run (is bubblewrap installed?)");
		else if (WEXITSTATUS(status) == 126)
			err = rpl_error(-RPL_ELIB, "the sandbox could not start");
		else if (WEXITSTATUS(status))
			err = rpl_error(-RPL_ELIB, "the step exited with status %d",
			                WEXITSTATUS(status));
	}
	rpl_argv_free(a.v);
	return err;
}
