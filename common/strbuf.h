/*
 * A growable, always NUL-terminated byte string (git's strbuf).
 */
#ifndef RPL_STRBUF_H
#define RPL_STRBUF_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

struct rpl_strbuf {
	char *buf;
	size_t len;
	size_t alloc;
};

#define RPL_STRBUF_INIT    \
	{                  \
		NULL, 0, 0 \
	}

void rpl_strbuf_init(struct rpl_strbuf *sb);
void rpl_strbuf_release(struct rpl_strbuf *sb);
/* Hands the buffer to the caller (free() it) and resets `sb`. */
char *rpl_strbuf_detach(struct rpl_strbuf *sb);
void rpl_strbuf_reset(struct rpl_strbuf *sb);
void rpl_strbuf_grow(struct rpl_strbuf *sb, size_t extra);
void rpl_strbuf_add(struct rpl_strbuf *sb, const void *p, size_t n);
void rpl_strbuf_addstr(struct rpl_strbuf *sb, const char *s);
void rpl_strbuf_addch(struct rpl_strbuf *sb, char c);
void rpl_strbuf_addf(struct rpl_strbuf *sb, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));
void rpl_strbuf_vaddf(struct rpl_strbuf *sb, const char *fmt, va_list ap);
/* The contents, "" for a never-grown buffer. */
const char *rpl_strbuf_str(const struct rpl_strbuf *sb);
/* A new string (free() it) formatted as printf does. */
char *rpl_strfmt(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A size as a person reads it, in `buf`: "256 MiB", "1536 KiB", "1000 bytes". */
const char *rpl_size_text(uint64_t n, char buf[32]);

#endif
