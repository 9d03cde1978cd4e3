/*
 * Unpacking a hostile archive (runners/extract.h) from memory into a fresh
 * directory, then checking what the header promises about the result, from
 * the tree itself rather than from the return code, since a failed
 * extraction may leave part of the archive behind:
 *
 *   - nothing was written outside the destination: a sibling directory
 *     `outside` (reachable as `../outside`) stays empty and nothing else
 *     appears next to the destination;
 *   - only files, directories and symlinks are there, none setuid or setgid;
 *   - every hard link is to a file inside the destination (an inode's link
 *     count is the number of its names found there);
 *   - after a success, the file sizes add up to no more than the size
 *     limit, holes included (after an error libarchive may have extended a
 *     cut-short file to its declared size; the caller removes the tree).
 *
 * The options come from the input's length, so one corpus explores both
 * strip-components and the skipping of dotfiles.  The size limit is small
 * (16 MiB) so a bomb stops quickly.
 */
#define _GNU_SOURCE /* O_PATH, fstatat */
#include "tests/fuzz/fuzz.h"
#include "common/error.h"
#include "common/file.h"
#include "runners/extract.h"
#include "runners/workspace.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_SIZE (16u << 20)

static const char *base;
static char *dest, *outside;

struct inode {
	dev_t dev;
	ino_t ino;
	nlink_t nlink, seen;
};

struct walk {
	struct inode *inodes;
	size_t n, alloc;
	unsigned long long bytes;
};

static void add_inode(struct walk *w, const struct stat *st)
{
	for (size_t i = 0; i < w->n; i++)
		if (w->inodes[i].dev == st->st_dev && w->inodes[i].ino == st->st_ino) {
			w->inodes[i].seen++;
			return;
		}
	if (w->n == w->alloc) {
		w->alloc = w->alloc ? 2 * w->alloc : 64;
		w->inodes = realloc(w->inodes, w->alloc * sizeof(*w->inodes));
		if (!w->inodes)
			abort();
	}
	w->inodes[w->n].dev = st->st_dev;
	w->inodes[w->n].ino = st->st_ino;
	w->inodes[w->n].nlink = st->st_nlink;
	w->inodes[w->n].seen = 1;
	w->n++;
	w->bytes += (unsigned long long)st->st_size;
}

/* Visits the entries of the directory `fd` (closed here), never through a link. */
static void walk_dir(struct walk *w, int fd, int depth)
{
	DIR *d;
	struct dirent *de;

	RPL_FUZZ_CHECK(depth < 4096, "an unpacked tree deeper than 4096 levels");
	/* An archive may make a directory unreadable: it is ours to look into. */
	fchmod(fd, 0700);
	d = fdopendir(fd);
	RPL_FUZZ_CHECK(d != NULL, "cannot read an unpacked directory");
	while ((de = readdir(d))) {
		struct stat st;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		RPL_FUZZ_CHECK(fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0,
		               "cannot stat an unpacked entry");
		RPL_FUZZ_CHECK(S_ISREG(st.st_mode) || S_ISDIR(st.st_mode) || S_ISLNK(st.st_mode),
		               "an unpacked entry that is not a file, directory or symlink");
		RPL_FUZZ_CHECK(S_ISLNK(st.st_mode) || !(st.st_mode & (S_ISUID | S_ISGID)),
		               "an unpacked entry with a setuid or setgid bit");
		if (S_ISREG(st.st_mode))
			add_inode(w, &st);
		if (S_ISDIR(st.st_mode)) {
			int sub = openat(dirfd(d), de->d_name,
			                 O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			RPL_FUZZ_CHECK(sub >= 0, "cannot open an unpacked directory");
			walk_dir(w, sub, depth + 1);
		}
	}
	closedir(d);
}

/* How many entries `path` has besides "." and "..". */
static size_t count_entries(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *de;
	size_t n = 0;

	RPL_FUZZ_CHECK(d != NULL, "cannot read a directory next to the destination");
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

static void check_tree(int ok)
{
	struct walk w = { NULL, 0, 0, 0 };
	int fd = open(dest, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

	RPL_FUZZ_CHECK(count_entries(outside) == 0, "an entry was written outside the destination");
	/* `dest` (when made) and `outside`, nothing else. */
	RPL_FUZZ_CHECK(count_entries(base) <= 2, "an entry appeared next to the destination");
	if (fd < 0)
		return;
	walk_dir(&w, fd, 0);
	for (size_t i = 0; i < w.n; i++)
		RPL_FUZZ_CHECK(w.inodes[i].seen == w.inodes[i].nlink,
		               "a hard link to a file outside the destination");
	RPL_FUZZ_CHECK(!ok || w.bytes <= MAX_SIZE, "files larger in all than the size limit");
	free(w.inodes);
}

static void free_paths(void)
{
	free(dest);
	free(outside);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	base = rpl_fuzz_tmpdir("extract");
	dest = rpl_path_join(base, "dest");
	outside = rpl_path_join(base, "outside");
	atexit(free_paths);
	if (rpl_mkdirs(outside))
		rpl_fuzz_fail(__FILE__, __LINE__, "cannot make the canary directory");
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rpl_extract_opts o = { 0 };

	o.strip = (int)(size & 1);
	o.skip_dotfiles = (int)((size >> 1) & 1);
	o.max_size = MAX_SIZE;
	check_tree(rpl_extract_memory(data, size, "fuzz.tar", dest, &o) == 0);
	RPL_FUZZ_CHECK(rpl_ws_remove_path(dest) == 0, "cannot remove the unpacked tree");
	rpl_error_clear();
	return 0;
}
