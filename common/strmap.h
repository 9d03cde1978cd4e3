/*
 * A string-keyed hash map (open addressing, FNV-1a).  Keys are not copied:
 * they must outlive the map (an arena string, typically).  Used to intern
 * names and to find graph nodes by name in constant time.
 */
#ifndef RPL_STRMAP_H
#define RPL_STRMAP_H

#include <stddef.h>
#include <stdint.h>

struct rpl_strmap_slot {
	const char *key;
	void *value;
	uint64_t hash; /* of key: probes compare it before touching the string */
};

struct rpl_strmap {
	struct rpl_strmap_slot *slots;
	size_t cap; /* a power of two, or 0 */
	size_t n;
};

#define RPL_STRMAP_INIT    \
	{                  \
		NULL, 0, 0 \
	}

/* The value for `key`, or NULL. */
void *rpl_strmap_get(const struct rpl_strmap *m, const char *key);

/*
 * The slot for `key`, created (with a NULL value) when absent; the caller
 * fills `value`.  The pointer is valid until the next insertion.
 */
struct rpl_strmap_slot *rpl_strmap_slot(struct rpl_strmap *m, const char *key);

void rpl_strmap_release(struct rpl_strmap *m);

#endif
