/*
 * A bump allocator for data that lives and dies together (a parsed recipe,
 * the graph).  Nothing is freed individually; rpl_arena_release() frees all.
 */
#ifndef RPL_ARENA_H
#define RPL_ARENA_H

#include <stdarg.h>
#include <stddef.h>

struct rpl_arena_block;

struct rpl_arena {
	struct rpl_arena_block *head;
	size_t block_size;
	size_t total; /* bytes handed out, for statistics */
};

#define RPL_ARENA_INIT     \
	{                  \
		NULL, 0, 0 \
	}

void rpl_arena_init(struct rpl_arena *a);
/* Starts with one block of `hint` bytes: for an arena whose size is known
 * roughly (a recipe: a few times its file), so it fits in one block; the
 * blocks after it (if it does not) double from `hint` when that is small. */
void rpl_arena_init_sized(struct rpl_arena *a, size_t hint);
void rpl_arena_release(struct rpl_arena *a);

/* Zeroed, max-aligned memory owned by the arena.  Never NULL. */
void *rpl_arena_alloc(struct rpl_arena *a, size_t n);
char *rpl_arena_strdup(struct rpl_arena *a, const char *s);
char *rpl_arena_strndup(struct rpl_arena *a, const char *s, size_t n);
char *rpl_arena_printf(struct rpl_arena *a, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));

/* Copies `n` elements of `size` bytes into the arena (NULL when n is 0). */
void *rpl_arena_memdup(struct rpl_arena *a, const void *p, size_t n, size_t size);

#endif
