/*
 * Unpacking an archive that may be hostile: a fetched source tarball, or an
 * apk's data section installed into a build's sandbox.
 *
 * libarchive reads the archive (any format and compression it knows) and
 * writes it with its secure options (no `..`, nothing written through a
 * symlink).  On top of that every entry is checked before it is written:
 * its name stays inside the destination once leading components are
 * stripped; only files, directories, symlinks and hard links to files
 * already unpacked are accepted (device nodes, FIFOs and sockets are
 * refused); setuid and setgid bits are dropped; and the bytes written are
 * bounded in total and, past a floor, in proportion to the bytes read, so
 * that a decompression bomb stops with a message instead of filling the
 * disk.  Every write error (ENOSPC among them) fails the extraction with
 * strerror's text.
 *
 * The destination must be a directory nobody else writes meanwhile (a
 * fresh staging directory); the caller moves the result where it belongs
 * (runners/workspace.h).
 */
#ifndef RPL_EXTRACT_H
#define RPL_EXTRACT_H

#include <stddef.h>
#include <stdint.h>

/* 64 GiB: more than any real source tree, well below what a bomb reaches. */
#define RPL_EXTRACT_MAX_SIZE (64ULL << 30)
/* Bytes written per byte read, once RPL_EXTRACT_RATIO_FLOOR is written.
 * Source tarballs expand 3-15x; gzip of zeros is ~1000x, xz ~7000x. */
#define RPL_EXTRACT_MAX_RATIO 100
#define RPL_EXTRACT_RATIO_FLOOR (1ULL << 30)

struct rpl_extract_opts {
	int strip;            /* leading path components dropped (melange's strip-components) */
	int skip_dotfiles;    /* leave out top-level names starting with '.' (an apk's control) */
	uint64_t max_size;    /* bytes written in all; 0: RPL_EXTRACT_MAX_SIZE */
	uint64_t max_ratio;   /* 0: RPL_EXTRACT_MAX_RATIO; UINT64_MAX: no ratio check */
	uint64_t ratio_floor; /* 0: RPL_EXTRACT_RATIO_FLOOR */
	const char *what;     /* the archive's name in messages; NULL: its path */
};

/*
 * Unpacks the archive at `path` into the directory `dest` (created when
 * missing).  Returns 0 or an error whose message names the archive and the
 * entry at fault; `dest` may then hold part of the archive.
 */
int rpl_extract(const char *path, const char *dest, const struct rpl_extract_opts *o);

/* The same for an archive in memory (`data`, `len`). */
int rpl_extract_memory(const void *data, size_t len, const char *name, const char *dest,
                       const struct rpl_extract_opts *o);

#endif
