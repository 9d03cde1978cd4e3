#include "orchestrator/leftover.h"
#include "common/error.h"
#include "common/file.h"
#include "common/strbuf.h"
#include "common/xalloc.h"
#include "runners/workspace.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

void rpl_leftover_tag(int64_t run, const char *root)
{
	struct rpl_strbuf v = RPL_STRBUF_INIT;

	rpl_strbuf_addf(&v, "%lld:%s", (long long)run, root);
	if (setenv(RPL_LEFTOVER_ENV, v.buf, 1) < 0)
		rpl_warn("cannot set %s: %s", RPL_LEFTOVER_ENV, strerror(errno));
	rpl_strbuf_release(&v);
}

/* The whole of a small /proc file, NUL-terminated (*len without the NUL); NULL when unreadable. */
static char *proc_file(long pid, const char *what, size_t *len)
{
	char path[64], *buf = NULL;
	size_t n = 0, cap = 0;
	int fd;

	snprintf(path, sizeof(path), "/proc/%ld/%s", pid, what);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return NULL;
	for (;;) {
		ssize_t r;
		if (n + 4096 + 1 > cap) {
			cap = cap ? cap * 2 : 8192;
			buf = rpl_xrealloc(buf, cap);
		}
		r = read(fd, buf + n, cap - n - 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	if (!buf)
		buf = rpl_xmalloc(1);
	buf[n] = '\0';
	*len = n;
	return buf;
}

/* The state letter and process group of `pid` (/proc/PID/stat), or 0 when it is gone. */
static char proc_state(long pid, long *pgrp)
{
	size_t len;
	char *stat = proc_file(pid, "stat", &len), *p, state = 0;

	*pgrp = 0;
	/* "pid (comm) S ppid pgrp ...": comm may hold anything, so from its last ')'. */
	if (stat && (p = strrchr(stat, ')')) && sscanf(p + 1, " %c %*d %ld", &state, pgrp) != 2)
		state = 0;
	free(stat);
	return state;
}

int rpl_leftover_alive(long pid)
{
	long pgrp;
	char st;

	if (pid <= 0 || (kill((pid_t)pid, 0) < 0 && errno == ESRCH))
		return 0;
	/* Gone meanwhile, or no /proc to ask: then kill(2)'s word stands. */
	if (!(st = proc_state(pid, &pgrp)))
		return access("/proc/self/stat", F_OK) < 0;
	return st != 'Z' && st != 'X';
}

/* Whether the environment of `pid` carries a tag of a build of `root`. */
static int tagged(long pid, const char *root)
{
	size_t len, klen = strlen(RPL_LEFTOVER_ENV);
	char *env = proc_file(pid, "environ", &len);
	int found = 0;

	for (size_t at = 0; env && at < len && !found; at += strlen(env + at) + 1) {
		const char *e = env + at, *colon;
		if (strncmp(e, RPL_LEFTOVER_ENV, klen) || e[klen] != '=')
			continue;
		colon = strchr(e + klen + 1, ':');
		found = colon && !strcmp(colon + 1, root);
	}
	free(env);
	return found;
}

/* Every pid in /proc but this process, in *pids (malloc'd). */
static size_t all_pids(long **pids)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	size_t n = 0, alloc = 0;
	long self = (long)getpid();

	*pids = NULL;
	if (!d)
		return 0;
	while ((de = readdir(d))) {
		char *end;
		long pid = strtol(de->d_name, &end, 10);
		if (!isdigit((unsigned char)de->d_name[0]) || *end || pid == self)
			continue;
		RPL_ALLOC_GROW(*pids, n + 1, alloc);
		(*pids)[n++] = pid;
	}
	closedir(d);
	return n;
}

int rpl_leftover_stop(const char *root, double wait_s, size_t *nstopped)
{
	long *pids, *mine = NULL;
	size_t n = all_pids(&pids), nmine = 0, alloc = 0;
	pid_t own_group = getpgrp();
	struct timespec tick = { 0, 20 * 1000 * 1000 };
	int err = 0;

	for (size_t i = 0; i < n; i++)
		if (tagged(pids[i], root)) {
			RPL_ALLOC_GROW(mine, nmine + 1, alloc);
			mine[nmine++] = pids[i];
		}
	/* Each job leads a process group of its own (a session, in fact):
	 * the group goes, with whatever it started and did not tag. */
	for (size_t i = 0; i < nmine; i++) {
		long pgrp;
		if (proc_state(mine[i], &pgrp) && pgrp > 1 && pgrp != (long)own_group)
			kill(-(pid_t)pgrp, SIGKILL);
		kill((pid_t)mine[i], SIGKILL);
	}
	/* They are not our children: gone is when /proc says so (or a zombie). */
	for (double waited = 0; nmine; waited += 0.02) {
		size_t alive = 0;
		for (size_t i = 0; i < nmine; i++)
			alive += rpl_leftover_alive(mine[i]);
		if (!alive)
			break;
		if (waited >= wait_s) {
			err = rpl_error(-ETIMEDOUT,
			                "%zu process%s of a killed run still alive after %.0fs",
			                alive, alive == 1 ? "" : "es", wait_s);
			break;
		}
		nanosleep(&tick, NULL);
	}
	*nstopped = nmine;
	free(mine);
	free(pids);
	return err;
}

long rpl_leftover_temp_pid(const char *name)
{
	static const char *const marks[] = { ".tmp.", ".apk.data." };
	const char *digits = NULL;
	char *end;
	long pid;

	if (!strncmp(name, ".download.", 10))
		digits = name + 10;
	for (size_t i = 0; !digits && i < sizeof(marks) / sizeof(*marks); i++) {
		const char *m = NULL;
		for (const char *p = strstr(name, marks[i]); p; p = strstr(p + 1, marks[i]))
			m = p;
		if (m && m > name)
			digits = m + strlen(marks[i]);
	}
	if (!digits || !isdigit((unsigned char)*digits))
		return 0;
	pid = strtol(digits, &end, 10);
	return *end || pid <= 0 ? 0 : pid;
}

/* Removes the dead writers' temporary files of the directory `dir` (named `prefix`...). */
static int sweep_dir_prefix(const char *dir, const char *prefix, size_t *n)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int err = 0;

	if (!d)
		return errno == ENOENT || errno == ENOTDIR
		               ? 0
		               : rpl_error(-errno, "cannot read '%s': %s", dir, strerror(errno));
	while ((de = readdir(d))) {
		long pid = rpl_leftover_temp_pid(de->d_name);
		char *path;
		if (!pid || (prefix && strncmp(de->d_name, prefix, strlen(prefix))) ||
		    rpl_leftover_alive(pid))
			continue;
		path = rpl_path_join(dir, de->d_name);
		if (unlink(path) == 0)
			(*n)++;
		else if (errno != ENOENT && !err)
			err = rpl_error(-errno, "cannot remove '%s': %s", path, strerror(errno));
		free(path);
	}
	closedir(d);
	return err;
}

static int sweep_dir(const char *dir, size_t *n)
{
	return sweep_dir_prefix(dir, NULL, n);
}

int rpl_leftover_sweep_beside(const char *path, size_t *n)
{
	char *dir = rpl_path_dirname(path), *prefix;
	const char *base = strrchr(path, '/');
	int err;

	*n = 0;
	prefix = rpl_strfmt("%s.", base ? base + 1 : path);
	err = sweep_dir_prefix(dir, prefix, n);
	free(prefix);
	free(dir);
	return err;
}

/*
 * The subdirectories of `dir` (not hidden), joined to it; malloc'd,
 * NULL-terminated.  `follow`: a link to a directory counts.
 */
static char **subdirs(const char *dir, int follow)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char **v = NULL;
	size_t n = 0, alloc = 0;

	RPL_ALLOC_GROW(v, 1, alloc);
	v[0] = NULL;
	if (!d)
		return v;
	while ((de = readdir(d))) {
		struct stat sb;
		char *path;
		if (de->d_name[0] == '.')
			continue;
		path = rpl_path_join(dir, de->d_name);
		if ((follow ? stat(path, &sb) : lstat(path, &sb)) == 0 && S_ISDIR(sb.st_mode)) {
			RPL_ALLOC_GROW(v, n + 2, alloc);
			v[n++] = path;
			v[n] = NULL;
		} else {
			free(path);
		}
	}
	closedir(d);
	return v;
}

static void free_list(char **v)
{
	for (char **p = v; *p; p++)
		free(*p);
	free(v);
}

/* Whether `pid` runs `ripple native-build` (its argv[1]), whatever the binary is called. */
static int native_builder(long pid)
{
	size_t len;
	char *cmd = proc_file(pid, "cmdline", &len);
	size_t first = cmd ? strlen(cmd) + 1 : 0;
	int yes = cmd && first < len && !strcmp(cmd + first, "native-build");

	free(cmd);
	return yes;
}

/*
 * Whether a `ripple native-build` other than this process works in the
 * monorepo at `root` (its working directory is inside it): one started by
 * hand, whose staging directories must stay.
 */
static int builder_inside(const char *root)
{
	long *pids;
	size_t n = all_pids(&pids), rl = strlen(root);
	int found = 0;

	for (size_t i = 0; i < n && !found; i++) {
		char link[64], cwd[4096];
		ssize_t k;
		snprintf(link, sizeof(link), "/proc/%ld/cwd", pids[i]);
		if ((k = readlink(link, cwd, sizeof(cwd) - 1)) <= 0)
			continue;
		cwd[k] = '\0';
		found = !strncmp(cwd, root, rl) && (cwd[rl] == '\0' || cwd[rl] == '/') &&
		        native_builder(pids[i]);
	}
	free(pids);
	return found;
}

/* Removes the native builder's staging directories in .ripple/work/<arch>/. */
static int sweep_work(const char *root, size_t *n)
{
	char **archs = subdirs(".ripple/work", 0);
	int err = 0, checked = 0;

	for (char **a = archs; *a && !err; a++) {
		DIR *d = opendir(*a);
		struct dirent *de;
		if (!d)
			continue;
		while ((de = readdir(d)) && !err) {
			char *path;
			if (!rpl_str_endswith(de->d_name, ".unpack") &&
			    !rpl_str_endswith(de->d_name, ".git-checkout"))
				continue;
			/* Asked once, and only when there is something to remove. */
			if (!checked++ && builder_inside(root)) {
				closedir(d);
				free_list(archs);
				return 0;
			}
			path = rpl_path_join(*a, de->d_name);
			if (!(err = rpl_ws_remove_path(path)))
				(*n)++;
			free(path);
		}
		closedir(d);
	}
	free_list(archs);
	return err;
}

int rpl_leftover_sweep(const char *root, size_t *n)
{
	char **pkgs = subdirs("packages", 1), **imgs = subdirs("images", 1);
	int err = 0, e;

	*n = 0;
	for (char **p = pkgs; *p; p++)
		if ((e = sweep_dir(*p, n)) && !err)
			err = e;
	for (char **p = imgs; *p; p++) {
		char *blobs = rpl_path_join(*p, "blobs/sha256");
		if ((e = sweep_dir(*p, n)) && !err)
			err = e;
		if ((e = sweep_dir(blobs, n)) && !err)
			err = e;
		free(blobs);
	}
	if ((e = sweep_dir(".ripple", n)) && !err)
		err = e;
	if ((e = sweep_dir(".ripple/cache", n)) && !err)
		err = e;
	/* The artifact cache (orchestrator/artifact_cache.c). */
	if ((e = sweep_dir(".ripple/cache/blobs/sha256", n)) && !err)
		err = e;
	if ((e = sweep_dir(".ripple/cache/refs", n)) && !err)
		err = e;
	if ((e = sweep_work(root, n)) && !err)
		err = e;
	free_list(pkgs);
	free_list(imgs);
	return err;
}
