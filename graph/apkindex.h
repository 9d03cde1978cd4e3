/*
 * APKINDEX files (melange's pkg/index, apko's pkg/apk/apk/apkindex.go): the package records of an apk
 * repository.  ripple reads them to resolve names that nothing in the
 * monorepo provides (`--repository-append`), and later to resolve images.
 */
#ifndef RPL_APKINDEX_H
#define RPL_APKINDEX_H

#include "common/arena.h"

#include <stddef.h>
#include <stdint.h>

/*
 * One record.  Strings and arrays live in the index's arena.  Absent string
 * fields are "" (never NULL), absent numbers 0, absent lists NULL with a
 * count of 0.
 */
struct rpl_apkindex_pkg {
	const char *name;        /* P: */
	const char *version;     /* V: */
	const char *arch;        /* A: */
	const char *origin;      /* o: ("" when absent) */
	const char *checksum;    /* C: as written ("Q1...") */
	uint64_t size;           /* S: */
	uint64_t installed_size; /* I: */
	const char **depends;    /* D:, split on spaces */
	size_t ndepends;
	const char **provides; /* p:, split on spaces */
	size_t nprovides;
	int64_t provider_priority; /* k: */
	uint64_t build_time;       /* t: */
	const char *commit;        /* c: */
};

struct rpl_apkindex {
	struct rpl_arena arena;
	const char *source;      /* the path or URL it was read from (credentials redacted) */
	const char *description; /* the DESCRIPTION entry, "" when absent */
	struct rpl_apkindex_pkg *pkgs;
	size_t npkgs;
	int signed_; /* a .SIGN.* entry was present (not verified here) */
	/* The key name of that entry, e.g. "melange.rsa.pub"; "" if unsigned. */
	const char *sign_key;
};

/*
 * Every function below initialises *idx (whatever it held is overwritten, not
 * released).  On success the caller owns it and frees it with
 * rpl_apkindex_release(); on error it holds nothing, and releasing it anyway
 * is harmless.
 *
 * Parses the text of an APKINDEX (the member inside the tar).  `source`
 * names it in messages.  Records are kept in file order.  Returns 0 or
 * -RPL_EPARSE ("source:line: ..."): a line not of the form `X:value` or
 * holding a NUL byte, a record without P: or V: (the line of its first
 * field), a bad S:/I:/t:/k:.
 */
int rpl_apkindex_parse_text(struct rpl_apkindex *idx, const char *source, const char *text,
                            size_t len);

/*
 * The most an APKINDEX.tar.gz may be, on disk or over HTTP, and the most its
 * entries may inflate to, together.  Wolfi's is about 20 MiB inflated.
 */
#define RPL_APKINDEX_MAX ((uint64_t)256 << 20)

/*
 * Reads an APKINDEX.tar.gz from memory: every gzip member in turn (a signed
 * index is a signature member followed by the index), the APKINDEX and
 * DESCRIPTION entries.  libarchive reads the concatenated members as one
 * stream.  Returns 0 or -RPL_EPARSE ("cannot read 'source': ..." for a bad
 * archive, one without an APKINDEX entry or one whose entries inflate past
 * RPL_APKINDEX_MAX, "source:line: ..." for bad text).
 */
int rpl_apkindex_parse_targz(struct rpl_apkindex *idx, const char *source, const void *data,
                             size_t len);

/*
 * Loads the index for `arch` of repository `repo`: a local directory (a
 * leading file:// is dropped) or an http(s):// URL; the file is
 * `<repo>/<arch>/APKINDEX.tar.gz` as apk lays repositories out.  `repo` may
 * also name a file ending in .tar.gz directly, and `arch` may then be NULL.
 * HTTP goes through common/http.h: http and https only, redirects followed,
 * 10 s to connect, a stalled transfer fails (no total limit), at most
 * RPL_APKINDEX_MAX bytes, safe on worker threads.  Errors name the path or
 * the URL (redacted): -RPL_ENOTFOUND for a missing file or HTTP 404/410
 * ("cannot fetch URL: not found (HTTP 404)"), -RPL_ELIB for other HTTP
 * statuses, -RPL_EPARSE for an index over the limit, -EIO when no answer
 * came (curl's message), -errno for other read errors, or the parse errors
 * above.
 */
int rpl_apkindex_load(struct rpl_apkindex *idx, const char *repo, const char *arch);

void rpl_apkindex_release(struct rpl_apkindex *idx);

#endif
