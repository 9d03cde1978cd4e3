#include "common/arena.h"
#include "common/xalloc.h"

#include <stdalign.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct rpl_arena_block {
	struct rpl_arena_block *next;
	size_t size;
	size_t used;
	alignas(max_align_t) unsigned char data[];
};

enum { MIN_BLOCK = 4 * 1024, MAX_BLOCK = 64 * 1024 };

void rpl_arena_init(struct rpl_arena *a)
{
	a->head = NULL;
	a->block_size = MIN_BLOCK;
	a->total = 0;
}

void rpl_arena_init_sized(struct rpl_arena *a, size_t hint)
{
	rpl_arena_init(a);
	a->block_size = hint < 256 ? 256 : hint;
}

void rpl_arena_release(struct rpl_arena *a)
{
	struct rpl_arena_block *b = a->head, *next;

	for (; b; b = next) {
		next = b->next;
		free(b);
	}
	a->head = NULL;
	a->total = 0;
}

/* Strings need no alignment: packing them saves a third of a recipe's arena. */
static void *arena_alloc(struct rpl_arena *a, size_t n, size_t align)
{
	struct rpl_arena_block *b = a->head;
	size_t off;

	n = n ? n : 1;
	if (b) {
		off = (b->used + align - 1) & ~(align - 1);
		if (off + n <= b->size) {
			b->used = off + n;
			a->total += n;
			return memset(b->data + off, 0, n);
		}
	}
	/* Blocks double up to 64 KiB so that thousands of small arenas stay
	 * small.  A sized arena (rpl_arena_init_sized) was meant to fit in its
	 * first block: when it does not, the next blocks double from that
	 * size, not from MIN_BLOCK, so an arena of thousands that needed a
	 * little more than its hint does not carry a mostly empty 4 KiB. */
	size_t size = a->block_size ? a->block_size : MIN_BLOCK;
	if (size < n)
		size = n;
	if (a->block_size > MAX_BLOCK) {
		a->block_size = MIN_BLOCK;
	} else if (a->block_size < MAX_BLOCK) {
		a->block_size = a->block_size ? a->block_size * 2 : 2 * MIN_BLOCK;
	}
	b = rpl_xmalloc(sizeof(*b) + size);
	b->size = size;
	b->used = n;
	/* A large one-off allocation goes behind the current block so the
	 * current block's free space is not wasted. */
	if (a->head && size == n && n > a->head->size - a->head->used) {
		b->next = a->head->next;
		a->head->next = b;
	} else {
		b->next = a->head;
		a->head = b;
	}
	a->total += n;
	return memset(b->data, 0, n);
}

void *rpl_arena_alloc(struct rpl_arena *a, size_t n)
{
	return arena_alloc(a, n, alignof(max_align_t));
}

char *rpl_arena_strndup(struct rpl_arena *a, const char *s, size_t n)
{
	char *p = arena_alloc(a, n + 1, 1);
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *rpl_arena_strdup(struct rpl_arena *a, const char *s)
{
	return rpl_arena_strndup(a, s, strlen(s));
}

char *rpl_arena_printf(struct rpl_arena *a, const char *fmt, ...)
{
	va_list ap;
	char small[256];
	int n;

	va_start(ap, fmt);
	n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0)
		return rpl_arena_strdup(a, "");
	if ((size_t)n < sizeof(small))
		return rpl_arena_strndup(a, small, (size_t)n);
	char *p = arena_alloc(a, (size_t)n + 1, 1);
	va_start(ap, fmt);
	vsnprintf(p, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return p;
}

void *rpl_arena_memdup(struct rpl_arena *a, const void *p, size_t n, size_t size)
{
	if (!n)
		return NULL;
	void *q = rpl_arena_alloc(a, n * size);
	memcpy(q, p, n * size);
	return q;
}
