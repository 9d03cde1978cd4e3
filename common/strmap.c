#include "common/strmap.h"
#include "common/xalloc.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static uint64_t hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ULL;
	}
	return h;
}

/* The slot of `key` (hash `h`), or the empty slot where it would go. */
static struct rpl_strmap_slot *find(const struct rpl_strmap_slot *slots, size_t cap,
                                    const char *key, uint64_t h)
{
	size_t i = (size_t)h & (cap - 1);

	while (slots[i].key && (slots[i].hash != h || strcmp(slots[i].key, key)))
		i = (i + 1) & (cap - 1);
	return (struct rpl_strmap_slot *)&slots[i];
}

void *rpl_strmap_get(const struct rpl_strmap *m, const char *key)
{
	if (!m->cap)
		return NULL;
	return find(m->slots, m->cap, key, hash(key))->value;
}

/* Doubles the table; the stored hashes place the keys without rehashing. */
static void grow(struct rpl_strmap *m)
{
	size_t cap = m->cap ? m->cap * 2 : 64;
	struct rpl_strmap_slot *slots = rpl_xcalloc(cap, sizeof(*slots));

	for (size_t i = 0; i < m->cap; i++)
		if (m->slots[i].key) {
			size_t j = (size_t)m->slots[i].hash & (cap - 1);
			while (slots[j].key)
				j = (j + 1) & (cap - 1);
			slots[j] = m->slots[i];
		}
	free(m->slots);
	m->slots = slots;
	m->cap = cap;
}

struct rpl_strmap_slot *rpl_strmap_slot(struct rpl_strmap *m, const char *key)
{
	uint64_t h = hash(key);
	struct rpl_strmap_slot *s;

	/* A key already there keeps its slot: only an insertion may grow. */
	if (m->cap && (s = find(m->slots, m->cap, key, h))->key)
		return s;
	/* Keep the load under 1/2 so probes stay short. */
	if ((m->n + 1) * 2 > m->cap)
		grow(m);
	s = find(m->slots, m->cap, key, h);

	if (!s->key) {
		s->key = key;
		s->value = NULL;
		s->hash = h;
		m->n++;
	}
	return s;
}

void rpl_strmap_release(struct rpl_strmap *m)
{
	free(m->slots);
	m->slots = NULL;
	m->cap = m->n = 0;
}
