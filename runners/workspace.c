#include "runners/workspace.h"
#include "common/error.h"
#include "common/file.h"
#include "common/strbuf.h"
#include "common/xalloc.h"
#include "recipes/scan.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

int rpl_ws_relpath(const char *wd, const char *path, char **rel)
{
	struct rpl_strbuf full = RPL_STRBUF_INIT, out = RPL_STRBUF_INIT;
	const char **comp = NULL;
	size_t n = 0, alloc = 0;
	char *p, *save = NULL;
	int err = 0;

	*rel = NULL;
	if (path && path[0] == '/')
		rpl_strbuf_addstr(&full, path);
	else
		rpl_strbuf_addf(&full, "%s/%s", wd, path ? path : "");
	for (p = strtok_r(full.buf, "/", &save); p; p = strtok_r(NULL, "/", &save)) {
		if (!strcmp(p, "."))
			continue;
		if (!strcmp(p, "..")) {
			/* Above the workspace is outside it, even on the way back in. */
			if (n <= 2) {
				err = -1;
				break;
			}
			n--;
			continue;
		}
		RPL_ALLOC_GROW(comp, n + 1, alloc);
		comp[n++] = p;
	}
	if (!err && (n < 2 || strcmp(comp[0], "home") || strcmp(comp[1], "build")))
		err = -1;
	for (size_t i = 2; !err && i < n; i++)
		rpl_strbuf_addf(&out, "%s%s", i > 2 ? "/" : "", comp[i]);
	free(comp);
	rpl_strbuf_release(&full);
	if (err) {
		rpl_strbuf_release(&out);
		if (path && path[0] == '/')
			return rpl_error(-RPL_EUSAGE, "'%s' is outside %s", path, RPL_WORKSPACE);
		if (!path || !*path)
			return rpl_error(-RPL_EUSAGE, "'%s' is outside %s", wd, RPL_WORKSPACE);
		return rpl_error(-RPL_EUSAGE, "'%s' in '%s' is outside %s", path ? path : "", wd,
		                 RPL_WORKSPACE);
	}
	*rel = out.buf ? rpl_strbuf_detach(&out) : rpl_xstrdup("");
	return 0;
}

static int open2(int dirfd, const char *rel, int flags, unsigned long long resolve, int *fd)
{
	struct open_how how;
	long r;

	memset(&how, 0, sizeof(how));
	how.flags = (unsigned long long)(flags | O_CLOEXEC);
	how.resolve = resolve;
	if (flags & O_CREAT)
		how.mode = 0644;
	do
		r = syscall(SYS_openat2, dirfd, rel && *rel ? rel : ".", &how, sizeof(how));
	while (r < 0 && errno == EINTR);
	if (r < 0) {
		*fd = -1;
		return -errno;
	}
	*fd = (int)r;
	return 0;
}

int rpl_ws_open(int dirfd, const char *rel, int flags, int *fd)
{
	return open2(dirfd, rel, flags,
	             RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS, fd);
}

int rpl_ws_open_in_root(int dirfd, const char *rel, int flags, int *fd)
{
	return open2(dirfd, rel, flags, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS, fd);
}

/* A message for an error of rpl_ws_open on `rel`. */
static int open_error(int err, const char *rel)
{
	if (err == -ELOOP)
		return rpl_error(err, "'%s' goes through a symbolic link: refused", rel);
	if (err == -EXDEV)
		return rpl_error(err, "'%s' leaves its directory: refused", rel);
	return rpl_error(err, "cannot open '%s': %s", rel, strerror(-err));
}

int rpl_ws_mkdirs(int dirfd, const char *rel, int *fd)
{
	char *copy = rpl_xstrdup(rel ? rel : ""), *p, *save = NULL;
	int cur = -1, err = rpl_ws_open(dirfd, "", O_RDONLY | O_DIRECTORY, &cur);

	for (p = strtok_r(copy, "/", &save); !err && p; p = strtok_r(NULL, "/", &save)) {
		int next;
		if (!strcmp(p, "..")) {
			err = -EXDEV;
			break;
		}
		err = rpl_ws_open(cur, p, O_RDONLY | O_DIRECTORY, &next);
		if (err == -ENOENT) {
			if (mkdirat(cur, p, 0755) < 0 && errno != EEXIST)
				err = -errno;
			else
				err = rpl_ws_open(cur, p, O_RDONLY | O_DIRECTORY, &next);
		}
		close(cur);
		cur = err ? -1 : next;
	}
	free(copy);
	if (err) {
		if (cur >= 0)
			close(cur);
		*fd = -1;
		return open_error(err, rel);
	}
	*fd = cur;
	return 0;
}

/*
 * The names in the directory `fd` but "." and "..", read whole before any
 * is moved or removed (readdir's position is unspecified once entries go).
 */
static int list_dir(int fd, const char *name, char ***names, size_t *n)
{
	int dup_fd = dup(fd), err = 0;
	size_t alloc = 0;
	struct dirent *de;
	DIR *d;

	*names = NULL;
	*n = 0;
	if (dup_fd < 0 || !(d = fdopendir(dup_fd))) {
		err = rpl_error(-errno, "cannot read '%s': %s", name, strerror(errno));
		if (dup_fd >= 0)
			close(dup_fd);
		return err;
	}
	while ((errno = 0, de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) {
			RPL_ALLOC_GROW(*names, *n + 1, alloc);
			(*names)[(*n)++] = rpl_xstrdup(de->d_name);
		}
	if (errno)
		err = rpl_error(-errno, "cannot read '%s': %s", name, strerror(errno));
	closedir(d);
	return err;
}

static void free_names(char **names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

/* Removes what is inside the directory `fd`, called `name`. */
static int empty_dir(int fd, const char *name)
{
	char **names;
	size_t n;
	int err;

	/* A step may have left it unwritable; it is ours to remove. */
	fchmod(fd, 0700);
	err = list_dir(fd, name, &names, &n);
	for (size_t i = 0; !err && i < n; i++)
		err = rpl_ws_remove(fd, names[i]);
	free_names(names, n);
	return err;
}

int rpl_ws_remove(int dirfd, const char *name)
{
	struct stat st;
	int fd, err;

	if (!*name || !strcmp(name, ".") || !strcmp(name, "..") || strchr(name, '/'))
		return rpl_error(-EINVAL, "cannot remove '%s': not a name in a directory", name);
	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT
		               ? 0
		               : rpl_error(-errno, "cannot remove '%s': %s", name, strerror(errno));
	if (S_ISDIR(st.st_mode)) {
		fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			return rpl_error(-errno, "cannot remove '%s': %s", name, strerror(errno));
		err = empty_dir(fd, name);
		close(fd);
		if (err)
			return err;
		if (unlinkat(dirfd, name, AT_REMOVEDIR) < 0)
			return rpl_error(-errno, "cannot remove '%s': %s", name, strerror(errno));
		return 0;
	}
	if (unlinkat(dirfd, name, 0) < 0 && errno != ENOENT)
		return rpl_error(-errno, "cannot remove '%s': %s", name, strerror(errno));
	return 0;
}

int rpl_ws_remove_path(const char *path)
{
	char *dir = rpl_path_dirname(path);
	const char *base = strrchr(path, '/');
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), err;

	base = base ? base + 1 : path;
	if (fd < 0) {
		err = errno == ENOENT
		              ? 0
		              : rpl_error(-errno, "cannot open '%s': %s", dir, strerror(errno));
		free(dir);
		return err;
	}
	err = rpl_ws_remove(fd, base);
	close(fd);
	free(dir);
	return err;
}

/* Whether the entry `name` of `dirfd` is a directory itself (not a link to one). */
static int is_dir_at(int dirfd, const char *name)
{
	struct stat st;

	return fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
}

int rpl_ws_move(int from, int to, int merge)
{
	char **names;
	size_t n;
	int err = list_dir(from, "a directory to move", &names, &n);

	for (size_t i = 0; !err && i < n; i++) {
		const char *name = names[i];
		int f, t;
		if (!(merge && is_dir_at(from, name) && is_dir_at(to, name))) {
			if (!(err = rpl_ws_remove(to, name)) && renameat(from, name, to, name) < 0)
				err = rpl_error(-errno, "cannot move '%s': %s", name,
				                strerror(errno));
			continue;
		}
		if ((err = rpl_ws_open(from, name, O_RDONLY | O_DIRECTORY, &f))) {
			err = open_error(err, name);
			break;
		}
		if ((err = rpl_ws_open(to, name, O_RDONLY | O_DIRECTORY, &t))) {
			close(f);
			err = open_error(err, name);
			break;
		}
		err = rpl_ws_move(f, t, merge);
		close(f);
		close(t);
		if (!err && unlinkat(from, name, AT_REMOVEDIR) < 0)
			err = rpl_error(-errno, "cannot remove '%s': %s", name, strerror(errno));
	}
	free_names(names, n);
	return err;
}

int rpl_ws_copy_file(const char *src, int dirfd, const char *name, mode_t mode)
{
	char buf[65536];
	ssize_t n;
	int in, out, err;

	if ((in = open(src, O_RDONLY | O_CLOEXEC)) < 0)
		return rpl_error(-errno, "cannot read '%s': %s", src, strerror(errno));
	if ((err = rpl_ws_remove(dirfd, name))) {
		close(in);
		return err;
	}
	out = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
	if (out < 0) {
		err = rpl_error(-errno, "cannot write '%s': %s", name, strerror(errno));
		close(in);
		return err;
	}
	while (!err && (n = read(in, buf, sizeof(buf))) != 0) {
		if (n < 0) {
			if (errno != EINTR)
				err = rpl_error(-errno, "cannot read '%s': %s", src,
				                strerror(errno));
			continue;
		}
		for (ssize_t done = 0, w; !err && done < n; done += w)
			if ((w = write(out, buf + done, (size_t)(n - done))) < 0)
				err = rpl_error(-errno, "cannot write '%s': %s", name,
				                strerror(errno));
	}
	if (close(out) < 0 && !err)
		err = rpl_error(-errno, "cannot write '%s': %s", name, strerror(errno));
	close(in);
	return err;
}

/*
 * Copies the repository's tree `from` into the directory `to`, keeping
 * modes (less setuid and setgid) and links; anything else is refused.
 * From the monorepo root itself (a root `.melange.yaml`'s source dir),
 * hidden entries (.git, .ripple and its live state) and ripple's outputs
 * stay behind.
 */
int rpl_ws_copy_tree(const char *from, int to)
{
	int root = !strcmp(from, ".");
	DIR *d = opendir(from);
	struct dirent *de;
	int err = 0;

	if (!d)
		return rpl_error(-errno, "cannot read '%s': %s", from, strerror(errno));
	while (!err && (de = readdir(d))) {
		char *src;
		struct stat st;
		int sub;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (root && (de->d_name[0] == '.' || rpl_scan_output_dir(de->d_name)))
			continue;
		src = rpl_path_join(from, de->d_name);
		if (lstat(src, &st) < 0) {
			err = rpl_error(-errno, "cannot stat '%s'", src);
		} else if (S_ISDIR(st.st_mode)) {
			if (!(err = rpl_ws_mkdirs(to, de->d_name, &sub))) {
				err = rpl_ws_copy_tree(src, sub);
				close(sub);
			}
		} else if (S_ISLNK(st.st_mode)) {
			char target[PATH_MAX];
			ssize_t n = readlink(src, target, sizeof(target) - 1);
			if (n < 0 || (target[n] = '\0', symlinkat(target, to, de->d_name) < 0))
				err = rpl_error(-errno, "cannot copy the link '%s'", src);
		} else if (S_ISREG(st.st_mode)) {
			err = rpl_ws_copy_file(src, to, de->d_name, st.st_mode & 0777);
		} else {
			err = rpl_error(-RPL_EUSAGE,
			                "'%s' is neither a file, a directory nor a link: refused",
			                src);
		}
		free(src);
	}
	closedir(d);
	return err;
}

/*
 * Makes `path` a fresh, empty directory and opens it; the steps' user owns
 * it.  Its parent is ripple's, so the path itself cannot be a step's link.
 */
int rpl_ws_fresh_dir(const char *path, int *fd)
{
	int err;

	*fd = -1;
	if ((err = rpl_ws_remove_path(path)) || (err = rpl_mkdirs(path)))
		return err;
	if ((*fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0)
		return rpl_error(-errno, "cannot open '%s': %s", path, strerror(errno));
	return 0;
}
