#include "orchestrator/memo.h"
#include "common/error.h"
#include "common/strbuf.h"
#include "common/xalloc.h"
#include "orchestrator/state.h"
#include "recipes/scan.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int cmp_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * One directory: entries sorted by name so the fingerprint does not depend
 * on readdir's order; fstatat relative to the directory's fd keeps path
 * lookups short.
 */
static int walk(int dirfd, struct rpl_strbuf *path, struct rpl_sha256 *h,
                struct rpl_tree_print *out, struct rpl_tree_files *files)
{
	DIR *d = fdopendir(dirfd);
	struct dirent *de;
	char **names = NULL;
	size_t n = 0, alloc = 0, len = path->len;
	int err = 0;

	if (!d) {
		close(dirfd);
		return -errno;
	}
	while ((de = readdir(d)))
		if (de->d_name[0] != '.' || rpl_scan_dot_recipe(de->d_name)) {
			RPL_ALLOC_GROW(names, n + 1, alloc);
			names[n++] = rpl_xstrdup(de->d_name);
		}
	if (n)
		qsort(names, n, sizeof(*names), cmp_name);
	for (size_t i = 0; i < n && !err; i++) {
		struct stat st;
		int64_t rec[4];

		if (fstatat(dirfd, names[i], &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue; /* vanished meanwhile */
		path->len = len;
		rpl_strbuf_addf(path, "%s/", names[i]);
		rpl_sha256_update(h, path->buf, path->len);
		rec[0] = (int64_t)st.st_size;
		rec[1] = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
		rec[2] = (int64_t)st.st_ino;
		rec[3] = (int64_t)st.st_mode;
		rpl_sha256_update(h, rec, sizeof(rec));
		if (rec[1] > out->newest_ns)
			out->newest_ns = rec[1];
		if (S_ISDIR(st.st_mode)) {
			int fd = openat(dirfd, names[i], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			if (fd >= 0)
				err = walk(fd, path, h, out, files);
		} else {
			out->nfiles++;
		}
		if (files && !S_ISDIR(st.st_mode)) {
			struct rpl_tree_file *f;

			RPL_ALLOC_GROW(files->v, files->n + 1, files->alloc);
			f = &files->v[files->n++];
			f->path = files->paths.len;
			f->st = (struct rpl_file_stat){ rec[0], rec[1], rec[2] };
			f->mode = (unsigned)st.st_mode;
			rpl_strbuf_add(&files->paths, path->buf, path->len - 1);
			rpl_strbuf_addch(&files->paths, '\0');
		}
	}
	path->len = len;
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	closedir(d);
	return err;
}

const struct rpl_strmap *rpl_tree_files_index(struct rpl_tree_files *files)
{
	if (!files->map.n)
		for (size_t i = 0; i < files->n; i++)
			if (S_ISREG(files->v[i].mode))
				rpl_strmap_slot(&files->map, files->paths.buf + files->v[i].path)
				        ->value = &files->v[i].st;
	return &files->map;
}

void rpl_tree_files_release(struct rpl_tree_files *files)
{
	rpl_strmap_release(&files->map);
	rpl_strbuf_release(&files->paths);
	free(files->v);
	*files = (struct rpl_tree_files)RPL_TREE_FILES_INIT;
}

int rpl_tree_fingerprint(const char *root, struct rpl_tree_print *out, struct rpl_tree_files *files)
{
	struct rpl_strbuf path = RPL_STRBUF_INIT;
	struct rpl_sha256 h;
	int fd, err;

	memset(out, 0, sizeof(*out));
	if (files)
		*files = (struct rpl_tree_files)RPL_TREE_FILES_INIT;
	fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return rpl_error(-errno, "cannot open '%s': %s", root, strerror(errno));
	rpl_sha256_init(&h);
	rpl_strbuf_grow(&path, 256);
	err = walk(fd, &path, &h, out, files);
	rpl_sha256_final(&h, out->digest);
	rpl_strbuf_release(&path);
	if (err)
		return rpl_error(err, "cannot walk '%s': %s", root, strerror(-err));
	return 0;
}

void rpl_self_identity(uint8_t out[RPL_SHA256_LEN])
{
	struct stat exe;
	int64_t v[2] = { 0, 0 };

	if (stat("/proc/self/exe", &exe) == 0) {
		v[0] = (int64_t)exe.st_size;
		v[1] = (int64_t)exe.st_mtim.tv_sec * 1000000000 + exe.st_mtim.tv_nsec;
	}
	rpl_sha256(v, sizeof(v), out);
}
