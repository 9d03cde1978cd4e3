#include "common/bytes.h"

#include <string.h>

void rpl_put_u8(struct rpl_strbuf *b, uint8_t v)
{
	rpl_strbuf_addch(b, (char)v);
}

void rpl_put_u32(struct rpl_strbuf *b, uint32_t v)
{
	unsigned char x[4] = { (unsigned char)v, (unsigned char)(v >> 8), (unsigned char)(v >> 16),
		               (unsigned char)(v >> 24) };
	rpl_strbuf_add(b, x, 4);
}

void rpl_put_u64(struct rpl_strbuf *b, uint64_t v)
{
	rpl_put_u32(b, (uint32_t)v);
	rpl_put_u32(b, (uint32_t)(v >> 32));
}

void rpl_put_str(struct rpl_strbuf *b, const char *s)
{
	size_t n;

	if (!s) {
		rpl_put_u32(b, RPL_BYTES_NONE);
		return;
	}
	n = strlen(s);
	rpl_put_u32(b, (uint32_t)n);
	rpl_strbuf_add(b, s, n);
}

const void *rpl_get_bytes(struct rpl_cursor *c, size_t n)
{
	const void *p = c->p;

	if (c->bad || (size_t)(c->end - c->p) < n) {
		c->bad = 1;
		return NULL;
	}
	c->p += n;
	return p;
}

uint8_t rpl_get_u8(struct rpl_cursor *c)
{
	const unsigned char *p = rpl_get_bytes(c, 1);

	return p ? *p : 0;
}

uint32_t rpl_get_u32(struct rpl_cursor *c)
{
	const unsigned char *p = rpl_get_bytes(c, 4);

	if (!p)
		return 0;
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

uint64_t rpl_get_u64(struct rpl_cursor *c)
{
	uint64_t lo = rpl_get_u32(c);

	return lo | (uint64_t)rpl_get_u32(c) << 32;
}

size_t rpl_get_count(struct rpl_cursor *c, size_t min_size)
{
	uint32_t n = rpl_get_u32(c);

	if (min_size && (size_t)(c->end - c->p) / min_size < n)
		c->bad = 1;
	return c->bad ? 0 : n;
}

const char *rpl_get_str(struct rpl_cursor *c, struct rpl_arena *a)
{
	uint32_t n = rpl_get_u32(c);
	const char *p;

	if (n == RPL_BYTES_NONE && !c->bad)
		return NULL;
	if (!(p = rpl_get_bytes(c, n)))
		return "";
	return rpl_arena_strndup(a, p, n);
}

uint32_t rpl_strtab_add(struct rpl_strtab *t, const char *s)
{
	struct rpl_strmap_slot *slot;
	uint32_t off;

	if (!s)
		return RPL_BYTES_NONE;
	slot = rpl_strmap_slot(&t->ids, s);
	if (slot->value)
		return (uint32_t)((uintptr_t)slot->value - 1);
	off = (uint32_t)t->data.len;
	rpl_strbuf_add(&t->data, s, strlen(s) + 1);
	slot->value = (void *)(uintptr_t)(off + 1);
	return off;
}

void rpl_strtab_release(struct rpl_strtab *t)
{
	rpl_strbuf_release(&t->data);
	rpl_strmap_release(&t->ids);
}

const char *rpl_strtab_at(const char *data, size_t len, uint32_t ref, struct rpl_cursor *c)
{
	if (ref == RPL_BYTES_NONE)
		return NULL;
	if (ref >= len) {
		c->bad = 1;
		return "";
	}
	return data + ref;
}
