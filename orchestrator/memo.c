#include "orchestrator/memo.h"
#include "common/error.h"
#include "common/strbuf.h"
#include "common/xalloc.h"
#include "orchestrator/state.h"
#include "recipes/scan.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int cmp_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * What the walk of some entries produced: the bytes to hash (each entry's
 * path and stat record, in walk order), the files seen and the counts.
 * Threads fill parts of the root's entries in any order; the parts are put
 * together in name order, so the fingerprint is the same as one thread's.
 */
struct part {
	struct rpl_strbuf rec;
	struct rpl_tree_files files;
	struct rpl_tree_print print;
	int list; /* fill `files` */
	int err;
};

static int walk(int dirfd, struct rpl_strbuf *path, struct part *out);

/* The entry `name` of `dirfd` (whose path is `path`), and all below it. */
static int entry(int dirfd, const char *name, struct rpl_strbuf *path, struct part *out)
{
	size_t len = path->len;
	struct stat st;
	int64_t rec[4];
	int err = 0;

	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return 0; /* vanished meanwhile */
	rpl_strbuf_addf(path, "%s/", name);
	rec[0] = (int64_t)st.st_size;
	rec[1] = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
	rec[2] = (int64_t)st.st_ino;
	rec[3] = (int64_t)st.st_mode;
	rpl_strbuf_add(&out->rec, path->buf, path->len);
	rpl_strbuf_add(&out->rec, rec, sizeof(rec));
	if (rec[1] > out->print.newest_ns)
		out->print.newest_ns = rec[1];
	if (S_ISDIR(st.st_mode)) {
		int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd >= 0)
			err = walk(fd, path, out);
	} else if (out->print.nfiles++, out->list) {
		struct rpl_tree_files *files = &out->files;
		struct rpl_tree_file *f;

		RPL_ALLOC_GROW(files->v, files->n + 1, files->alloc);
		f = &files->v[files->n++];
		f->path = files->paths.len;
		f->st = (struct rpl_file_stat){ rec[0], rec[1], rec[2] };
		f->mode = (unsigned)st.st_mode;
		rpl_strbuf_add(&files->paths, path->buf, path->len - 1);
		rpl_strbuf_addch(&files->paths, '\0');
	}
	path->len = len;
	return err;
}

/* The names of a directory that the walk sees, sorted (readdir's order is no order). */
static char **list(DIR *d, size_t *n)
{
	struct dirent *de;
	char **names = NULL;
	size_t alloc = 0;

	*n = 0;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.' || rpl_scan_dot_recipe(de->d_name)) {
			RPL_ALLOC_GROW(names, *n + 1, alloc);
			names[(*n)++] = rpl_xstrdup(de->d_name);
		}
	if (*n)
		qsort(names, *n, sizeof(*names), cmp_name);
	return names;
}

static void free_names(char **names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

/* One directory, entry by entry, relative to its fd (short path lookups). */
static int walk(int dirfd, struct rpl_strbuf *path, struct part *out)
{
	DIR *d = fdopendir(dirfd);
	char **names;
	size_t n;
	int err = 0;

	if (!d) {
		close(dirfd);
		return -errno;
	}
	names = list(d, &n);
	for (size_t i = 0; i < n && !err; i++)
		err = entry(dirfd, names[i], path, out);
	free_names(names, n);
	closedir(d);
	return err;
}

/*
 * The root's entries in chunks of CHUNK, taken by up to MAX_THREADS
 * threads: stat is most of a walk's time, and the kernel answers it in
 * parallel.  A small tree is walked by the caller alone.
 */
enum { CHUNK = 32, MAX_THREADS = 4 };

struct shared_walk {
	int rootfd;
	char **names;
	size_t nnames;
	struct part *parts; /* one per chunk */
	size_t nparts;
	_Atomic size_t next;
};

static void *walk_chunks(void *arg)
{
	struct shared_walk *w = arg;
	struct rpl_strbuf path = RPL_STRBUF_INIT;
	size_t c;

	rpl_strbuf_grow(&path, 256);
	while ((c = w->next++) < w->nparts) {
		struct part *p = &w->parts[c];
		size_t end = (c + 1) * CHUNK < w->nnames ? (c + 1) * CHUNK : w->nnames;

		for (size_t i = c * CHUNK; i < end && !p->err; i++)
			p->err = entry(w->rootfd, w->names[i], &path, p);
	}
	rpl_strbuf_release(&path);
	return NULL;
}

static size_t threads_for(size_t nparts)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	size_t n = cpus > 1 ? (size_t)cpus : 1;

	if (n > MAX_THREADS)
		n = MAX_THREADS;
	return n < nparts ? n : nparts ? nparts : 1;
}

/* The chunks, on threads where there are enough of them to share. */
static void walk_root(struct shared_walk *w)
{
	pthread_t tid[MAX_THREADS];
	size_t nthreads = threads_for(w->nparts), started = 0;

	if (w->nparts >= 8)
		for (; started + 1 < nthreads; started++)
			if (pthread_create(&tid[started], NULL, walk_chunks, w))
				break; /* fewer threads, same result */
	walk_chunks(w);
	for (size_t t = 0; t < started; t++)
		pthread_join(tid[t], NULL);
}

/* Part `p` appended to the fingerprint and to `files`; `p` released. */
static void merge_part(struct part *p, struct rpl_sha256 *h, struct rpl_tree_print *out,
                       struct rpl_tree_files *files)
{
	rpl_sha256_update(h, p->rec.buf, p->rec.len);
	out->nfiles += p->print.nfiles;
	if (p->print.newest_ns > out->newest_ns)
		out->newest_ns = p->print.newest_ns;
	if (files && p->files.n) {
		size_t base = files->paths.len;

		RPL_ALLOC_GROW(files->v, files->n + p->files.n, files->alloc);
		for (size_t k = 0; k < p->files.n; k++) {
			files->v[files->n] = p->files.v[k];
			files->v[files->n++].path += base;
		}
		rpl_strbuf_add(&files->paths, p->files.paths.buf, p->files.paths.len);
	}
	rpl_strbuf_release(&p->rec);
	rpl_tree_files_release(&p->files);
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
	struct shared_walk w;
	struct rpl_sha256 h;
	DIR *d;
	int err = 0;

	memset(out, 0, sizeof(*out));
	if (files)
		*files = (struct rpl_tree_files)RPL_TREE_FILES_INIT;
	memset(&w, 0, sizeof(w));
	if ((w.rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 ||
	    !(d = fdopendir(w.rootfd))) {
		err = errno;
		if (w.rootfd >= 0)
			close(w.rootfd);
		return rpl_error(-err, "cannot open '%s': %s", root, strerror(err));
	}
	w.names = list(d, &w.nnames);
	w.nparts = (w.nnames + CHUNK - 1) / CHUNK;
	w.parts = rpl_xcalloc(w.nparts ? w.nparts : 1, sizeof(*w.parts));
	for (size_t c = 0; c < w.nparts; c++)
		w.parts[c].list = files != NULL;
	walk_root(&w);
	rpl_sha256_init(&h);
	for (size_t c = 0; c < w.nparts; c++) {
		if (!err)
			err = w.parts[c].err;
		merge_part(&w.parts[c], &h, out, files);
	}
	rpl_sha256_final(&h, out->digest);
	free(w.parts);
	free_names(w.names, w.nnames);
	closedir(d);
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
