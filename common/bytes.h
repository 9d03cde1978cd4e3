/*
 * Binary records for ripple's caches (the parse cache, the plan snapshot):
 * little-endian integers and length-prefixed strings appended to a strbuf,
 * a bounds-checked reader, and a string table that keeps each distinct
 * string once and names it by its offset.
 *
 * Reading never trusts the bytes: a read past the end marks the cursor bad,
 * every later read then returns zero, and the caller checks `bad` once at
 * the end.
 */
#ifndef RPL_BYTES_H
#define RPL_BYTES_H

#include "common/arena.h"
#include "common/strbuf.h"
#include "common/strmap.h"

#include <stddef.h>
#include <stdint.h>

/* A string reference or length meaning "none" (a NULL string). */
#define RPL_BYTES_NONE UINT32_MAX

void rpl_put_u8(struct rpl_strbuf *b, uint8_t v);
void rpl_put_u32(struct rpl_strbuf *b, uint32_t v);
void rpl_put_u64(struct rpl_strbuf *b, uint64_t v);
/* u32 length and the bytes; NULL is written as length RPL_BYTES_NONE. */
void rpl_put_str(struct rpl_strbuf *b, const char *s);

struct rpl_cursor {
	const unsigned char *p, *end;
	int bad;
};

static inline struct rpl_cursor rpl_cursor_make(const void *data, size_t len)
{
	return (struct rpl_cursor){ data, (const unsigned char *)data + len, 0 };
}

uint8_t rpl_get_u8(struct rpl_cursor *c);
uint32_t rpl_get_u32(struct rpl_cursor *c);
uint64_t rpl_get_u64(struct rpl_cursor *c);
/* `n` bytes in place, or NULL (and bad) when fewer are left. */
const void *rpl_get_bytes(struct rpl_cursor *c, size_t n);
/*
 * A u32 count of items of at least `min_size` bytes each: a count the bytes
 * left could not hold marks the cursor bad and reads as 0, so a damaged
 * count never makes a caller allocate gigabytes.
 */
size_t rpl_get_count(struct rpl_cursor *c, size_t min_size);
/* A string copied into `a`; NULL for none (and "" after a bad read). */
const char *rpl_get_str(struct rpl_cursor *c, struct rpl_arena *a);

/*
 * The writing side of a string table: rpl_strtab_add returns the offset of
 * `s` in `data` (NUL-terminated there), adding it on first use, or
 * RPL_BYTES_NONE for NULL.  The map keys are the caller's strings: they
 * must outlive the table (as strmap keys do).
 */
struct rpl_strtab {
	struct rpl_strbuf data;
	struct rpl_strmap ids; /* string -> offset + 1 */
};

#define RPL_STRTAB_INIT                          \
	{                                        \
		RPL_STRBUF_INIT, RPL_STRMAP_INIT \
	}

uint32_t rpl_strtab_add(struct rpl_strtab *t, const char *s);
void rpl_strtab_release(struct rpl_strtab *t);

/*
 * The reading side: the string at offset `ref` of a table of `len` bytes
 * whose last byte is NUL, NULL for RPL_BYTES_NONE; an offset out of range
 * marks `c` bad and reads as "".
 */
const char *rpl_strtab_at(const char *data, size_t len, uint32_t ref, struct rpl_cursor *c);

#endif
