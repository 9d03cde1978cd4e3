#include "common/file.h"
#include "common/error.h"
#include "common/sha256.h"
#include "common/strbuf.h"
#include "common/xalloc.h"

#include <errno.h>
#include <openssl/evp.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

const char *rpl_file_kind(unsigned mode)
{
	switch (mode & S_IFMT) {
	case S_IFREG:
		return "a regular file";
	case S_IFDIR:
		return "a directory";
	case S_IFIFO:
		return "a FIFO";
	case S_IFCHR:
		return "a character device";
	case S_IFBLK:
		return "a block device";
	case S_IFSOCK:
		return "a socket";
	case S_IFLNK:
		return "a symbolic link";
	}
	return "not a file";
}

int rpl_open_regular(const char *path)
{
	struct stat st;
	int fd;

	/* stat first so that a device is never even opened (opening some has
	 * effects), then O_NONBLOCK so that a FIFO swapped in meanwhile cannot
	 * block the open, and fstat to be sure of what was opened. */
	if (stat(path, &st) < 0)
		return rpl_error(-errno, "cannot open '%s': %s", path, strerror(errno));
	if (!S_ISREG(st.st_mode))
		goto irregular;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd < 0)
		return rpl_error(-errno, "cannot open '%s': %s", path, strerror(errno));
	if (fstat(fd, &st) < 0) {
		int err = rpl_error(-errno, "cannot stat '%s': %s", path, strerror(errno));
		close(fd);
		return err;
	}
	if (S_ISREG(st.st_mode))
		return fd;
	close(fd);
irregular:
	return rpl_error(S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL,
	                 "cannot read '%s': it is %s, not a regular file", path,
	                 rpl_file_kind((unsigned)st.st_mode));
}

int rpl_read_file_max(const char *path, size_t max, char **buf, size_t *len)
{
	struct stat st;
	size_t cap, n = 0;
	char *p;
	int fd, err = 0;

	fd = rpl_open_regular(path);
	if (fd < 0)
		return fd;
	if (fstat(fd, &st) < 0) {
		err = rpl_error(-errno, "cannot stat '%s': %s", path, strerror(errno));
		goto out;
	}
	if ((uint64_t)st.st_size > max)
		goto too_big;
	cap = st.st_size > 0 ? (size_t)st.st_size + 1 : 4096;
	p = rpl_xmalloc(cap);
	for (;;) {
		ssize_t r;

		if (n + 1 >= cap) {
			cap *= 2;
			p = rpl_xrealloc(p, cap);
		}
		r = read(fd, p + n, cap - n - 1);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			err = rpl_error(-errno, "cannot read '%s': %s", path, strerror(errno));
			free(p);
			goto out;
		}
		if (r == 0)
			break;
		n += (size_t)r;
		/* The file may have grown since fstat. */
		if (n > max) {
			free(p);
			goto too_big;
		}
	}
	p[n] = '\0';
	*buf = p;
	*len = n;
out:
	close(fd);
	return err;
too_big:
	err = rpl_error(-EFBIG, "cannot read '%s': larger than %zu MiB", path, max >> 20);
	goto out;
}

int rpl_read_file(const char *path, char **buf, size_t *len)
{
	return rpl_read_file_max(path, SIZE_MAX, buf, len);
}

int rpl_path_check_inside(const char *real_root, const char *path)
{
	char *real = realpath(path, NULL);
	size_t n = strlen(real_root);
	int err = 0;

	if (!real)
		return rpl_error(-errno, "cannot resolve '%s': %s", path, strerror(errno));
	/* "/" holds everything; otherwise the root itself or below it. */
	if (strcmp(real_root, "/") &&
	    (strncmp(real, real_root, n) || (real[n] != '/' && real[n] != '\0')))
		err = rpl_error(-EXDEV, "'%s' leads to '%s', outside the repository", path, real);
	free(real);
	return err;
}

int rpl_write_file_atomic(const char *path, const void *p, size_t n)
{
	return rpl_write_file_atomic_mode(path, p, n, 0644);
}

int rpl_write_file_atomic_mode(const char *path, const void *p, size_t n, unsigned mode)
{
	struct iovec part = { (void *)p, n };

	return rpl_write_file_atomic_v(path, &part, 1, mode, 1);
}

int rpl_write_file_atomic_v(const char *path, const struct iovec *parts, size_t nparts,
                            unsigned mode, int sync)
{
	struct rpl_strbuf tmp = RPL_STRBUF_INIT;
	int fd, err = 0;

	rpl_strbuf_addf(&tmp, "%s.tmp.%ld", path, (long)getpid());
	fd = open(tmp.buf, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, (mode_t)mode);
	if (fd < 0) {
		err = rpl_error(-errno, "cannot create '%s': %s", tmp.buf, strerror(errno));
		goto out;
	}
	for (size_t i = 0; i < nparts && !err; i++) {
		const char *c = parts[i].iov_base;
		size_t left = parts[i].iov_len;

		while (left && !err) {
			ssize_t w = write(fd, c, left);
			if (w < 0 && errno != EINTR)
				err = rpl_error(-errno, "cannot write '%s': %s", tmp.buf,
				                strerror(errno));
			else if (w > 0)
				c += w, left -= (size_t)w;
		}
	}
	if (!err && sync && fsync(fd) < 0)
		err = rpl_error(-errno, "cannot write '%s': %s", tmp.buf, strerror(errno));
	if (close(fd) < 0 && !err)
		err = rpl_error(-errno, "cannot write '%s': %s", tmp.buf, strerror(errno));
	if (!err && rename(tmp.buf, path) < 0)
		err = rpl_error(-errno, "cannot rename '%s' to '%s': %s", tmp.buf, path,
		                strerror(errno));
	if (err)
		unlink(tmp.buf);
out:
	rpl_strbuf_release(&tmp);
	return err;
}

char *rpl_path_join(const char *a, const char *b)
{
	struct rpl_strbuf sb = RPL_STRBUF_INIT;
	size_t la = strlen(a);

	/* "." + "x" is "x": paths stay as the user would write them. */
	if (!la || b[0] == '/' || !strcmp(a, "."))
		return rpl_xstrdup(b);
	rpl_strbuf_add(&sb, a, la);
	if (a[la - 1] != '/')
		rpl_strbuf_addch(&sb, '/');
	rpl_strbuf_addstr(&sb, b);
	return rpl_strbuf_detach(&sb);
}

int rpl_str_endswith(const char *s, const char *suffix)
{
	size_t ls = strlen(s), lx = strlen(suffix);

	return ls >= lx && !memcmp(s + ls - lx, suffix, lx);
}

int rpl_str_startswith(const char *s, const char *prefix)
{
	return !strncmp(s, prefix, strlen(prefix));
}

char *rpl_path_dirname(const char *path)
{
	const char *slash = strrchr(path, '/');

	if (!slash)
		return rpl_xstrdup(".");
	if (slash == path)
		return rpl_xstrdup("/");
	return rpl_xstrndup(path, (size_t)(slash - path));
}

int rpl_mkdirs(const char *path)
{
	char *p = rpl_xstrdup(path);
	int err = 0;

	for (char *s = p + 1;; s++) {
		char c = *s;
		if (c && c != '/')
			continue;
		*s = '\0';
		if (mkdir(p, 0755) < 0 && errno != EEXIST) {
			err = rpl_error(-errno, "cannot create '%s': %s", p, strerror(errno));
			break;
		}
		*s = c;
		if (!c)
			break;
	}
	free(p);
	return err;
}

int rpl_is_url(const char *s)
{
	return !strncasecmp(s, "http://", 7) || !strncasecmp(s, "https://", 8);
}

int rpl_hashed_file_open(struct rpl_hashed_file *f, const char *dir, int sha512)
{
	struct rpl_strbuf tmp = RPL_STRBUF_INIT;

	f->md = NULL;
	rpl_strbuf_addf(&tmp, "%s/.download.%d", dir, (int)getpid());
	f->path = rpl_strbuf_detach(&tmp);
	f->fd = open(f->path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (f->fd < 0)
		return rpl_error(-errno, "cannot write '%s': %s", f->path, strerror(errno));
	f->md = EVP_MD_CTX_new();
	if (!f->md || !EVP_DigestInit_ex(f->md, sha512 ? EVP_sha512() : EVP_sha256(), NULL))
		return rpl_error(-RPL_ELIB, "cannot hash '%s'", f->path);
	return 0;
}

int rpl_hashed_file_write(void *ud, const void *p, size_t n)
{
	struct rpl_hashed_file *f = ud;

	EVP_DigestUpdate(f->md, p, n);
	for (size_t done = 0; done < n;) {
		ssize_t w = write(f->fd, (const char *)p + done, n - done);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		done += (size_t)w;
	}
	return 0;
}

int rpl_hashed_file_finish(struct rpl_hashed_file *f, char *hex)
{
	unsigned char d[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	int rc = close(f->fd);

	f->fd = -1;
	if (rc < 0)
		return rpl_error(-errno, "cannot write '%s': %s", f->path, strerror(errno));
	EVP_DigestFinal_ex(f->md, d, &n);
	rpl_hex(d, n, hex);
	return 0;
}

int rpl_hashed_file_keep(struct rpl_hashed_file *f, const char *dest)
{
	if (rename(f->path, dest) < 0)
		return rpl_error(-errno, "cannot write '%s': %s", dest, strerror(errno));
	free(f->path);
	f->path = NULL;
	return 0;
}

void rpl_hashed_file_release(struct rpl_hashed_file *f)
{
	if (f->fd >= 0)
		close(f->fd);
	if (f->path)
		unlink(f->path);
	free(f->path);
	EVP_MD_CTX_free(f->md);
	f->fd = -1;
	f->path = NULL;
	f->md = NULL;
}
