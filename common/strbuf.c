#include "common/strbuf.h"
#include "common/xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void rpl_strbuf_init(struct rpl_strbuf *sb)
{
	sb->buf = NULL;
	sb->len = 0;
	sb->alloc = 0;
}

void rpl_strbuf_release(struct rpl_strbuf *sb)
{
	free(sb->buf);
	rpl_strbuf_init(sb);
}

char *rpl_strbuf_detach(struct rpl_strbuf *sb)
{
	char *p;

	rpl_strbuf_grow(sb, 0);
	p = sb->buf;
	rpl_strbuf_init(sb);
	return p;
}

void rpl_strbuf_reset(struct rpl_strbuf *sb)
{
	sb->len = 0;
	if (sb->buf)
		sb->buf[0] = '\0';
}

void rpl_strbuf_grow(struct rpl_strbuf *sb, size_t extra)
{
	RPL_ALLOC_GROW(sb->buf, sb->len + extra + 1, sb->alloc);
	sb->buf[sb->len] = '\0';
}

void rpl_strbuf_add(struct rpl_strbuf *sb, const void *p, size_t n)
{
	rpl_strbuf_grow(sb, n);
	memcpy(sb->buf + sb->len, p, n);
	sb->len += n;
	sb->buf[sb->len] = '\0';
}

void rpl_strbuf_addstr(struct rpl_strbuf *sb, const char *s)
{
	rpl_strbuf_add(sb, s, strlen(s));
}

void rpl_strbuf_addch(struct rpl_strbuf *sb, char c)
{
	rpl_strbuf_add(sb, &c, 1);
}

void rpl_strbuf_vaddf(struct rpl_strbuf *sb, const char *fmt, va_list ap)
{
	va_list cp;
	int n;

	rpl_strbuf_grow(sb, 64);
	va_copy(cp, ap);
	n = vsnprintf(sb->buf + sb->len, sb->alloc - sb->len, fmt, cp);
	va_end(cp);
	if (n < 0)
		return;
	if ((size_t)n >= sb->alloc - sb->len) {
		rpl_strbuf_grow(sb, (size_t)n);
		vsnprintf(sb->buf + sb->len, sb->alloc - sb->len, fmt, ap);
	}
	sb->len += (size_t)n;
}

void rpl_strbuf_addf(struct rpl_strbuf *sb, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	rpl_strbuf_vaddf(sb, fmt, ap);
	va_end(ap);
}

const char *rpl_strbuf_str(const struct rpl_strbuf *sb)
{
	return sb->buf ? sb->buf : "";
}

char *rpl_strfmt(const char *fmt, ...)
{
	struct rpl_strbuf sb = RPL_STRBUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	rpl_strbuf_vaddf(&sb, fmt, ap);
	va_end(ap);
	return rpl_strbuf_detach(&sb);
}

const char *rpl_size_text(uint64_t n, char buf[32])
{
	static const char *const units[] = { "bytes", "KiB", "MiB", "GiB", "TiB", "PiB" };
	int u = 0;

	/* Exact units only: 1536 KiB stays 1536 KiB, not a rounded 1.5 MiB. */
	while (u < 5 && n && !(n & 1023)) {
		n >>= 10;
		u++;
	}
	snprintf(buf, 32, "%llu %s", (unsigned long long)n, units[u]);
	return buf;
}
