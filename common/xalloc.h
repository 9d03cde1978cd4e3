/*
 * Allocation that never returns NULL: running out of memory aborts with a
 * message, so callers do not carry error paths for it (git's xmalloc).
 */
#ifndef RPL_XALLOC_H
#define RPL_XALLOC_H

#include <stddef.h>

void *rpl_xmalloc(size_t n);
void *rpl_xcalloc(size_t nmemb, size_t size);
void *rpl_xrealloc(void *p, size_t n);
char *rpl_xstrdup(const char *s);
char *rpl_xstrndup(const char *s, size_t n);

/*
 * Grows `ptr` (an array of `alloc` elements) so that it holds at least `nr`
 * elements, the capacity going to `next` (an expression of `alloc`) or to
 * `nr` if that is more.
 */
#define RPL_ALLOC_GROW_TO(ptr, nr, alloc, next)                                       \
	do {                                                                          \
		if ((nr) > (alloc)) {                                                 \
			size_t rpl_new_alloc_ = (next);                               \
			if (rpl_new_alloc_ < (nr))                                    \
				rpl_new_alloc_ = (nr);                                \
			(ptr) = rpl_xrealloc((ptr), rpl_new_alloc_ * sizeof(*(ptr))); \
			(alloc) = rpl_new_alloc_;                                     \
		}                                                                     \
	} while (0)

/* The capacity grows by half again each time, as git's ALLOC_GROW. */
#define RPL_ALLOC_GROW(ptr, nr, alloc) RPL_ALLOC_GROW_TO(ptr, nr, alloc, ((alloc) + 16) * 3 / 2)

/*
 * For the many short lists of one each per job or name (a job's reasons,
 * the providers of a name): the capacity starts at what is needed and
 * doubles, where RPL_ALLOC_GROW's first step is 24 elements (192 bytes of
 * pointers for a list of one, 9.6 MB at 50,000 jobs).
 */
#define RPL_ALLOC_GROW_FEW(ptr, nr, alloc) \
	RPL_ALLOC_GROW_TO(ptr, nr, alloc, (alloc) ? (alloc)*2 : 1)

#endif
