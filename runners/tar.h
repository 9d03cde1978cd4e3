/*
 * tar headers as Go's archive/tar writes them (runners/tar.c).
 */
#ifndef RPL_TAR_H
#define RPL_TAR_H

#include <stddef.h>
#include <stdint.h>

struct rpl_strbuf;

struct rpl_tar_entry {
	const char *name; /* relative, no trailing / */
	char type;        /* '0' file, '5' dir, '2' symlink, '1' hard link, '3' char device */
	unsigned mode;    /* permission and special bits */
	uint64_t size;
	int64_t mtime;     /* seconds; negative is written as 0 */
	const char *link;  /* symlink or hard link target */
	const char *owner; /* uname; NULL: none */
	const char *sha1;  /* hex: an APK-TOOLS.checksum.SHA1 PAX record; NULL: none */
	uint32_t uid, gid;
	const char *group; /* gname when it differs from owner */
	uint32_t devmajor, devminor;
};

/* Appends the header (and a PAX header before it when needed) of `e`. */
void rpl_tar_header(struct rpl_strbuf *out, const struct rpl_tar_entry *e);
/* Appends the zeros that pad `n` bytes of content to a 512-byte block. */
void rpl_tar_pad(struct rpl_strbuf *out, size_t n);

/*
 * Appends `data` as one gzip member (zlib, best compression, the tars'
 * companion).  `os_unknown` writes OS 255 in the header, as Go's gzip does
 * (image layers); else zlib's own.  Returns 0 or an error.
 */
int rpl_gzip(const void *data, size_t len, int os_unknown, struct rpl_strbuf *out);

#endif
