/*
 * The tree is built from libyaml's event stream with an explicit stack, so
 * deeply nested input cannot overflow the C stack.  All nodes and strings
 * live in the document's arena.
 *
 * An alias shares its anchored node, so the tree is never larger than the
 * text; but every walk over it (decoding, substitution, the parse cache)
 * visits an aliased subtree once per use, and decoding copies its strings.
 * Nine anchors, each a list of ten aliases of the one before ("billion
 * laughs"), are a few hundred bytes that expand to 10^9 nodes.  So the
 * builder keeps the expanded size of every anchored node (its nodes and
 * scalar bytes, aliases inside it counted expanded), adds it to a total
 * for the document at each alias, and fails at the alias that takes the
 * total past RPL_YAML_MAX_ALIAS_NODES or RPL_YAML_MAX_ALIAS_BYTES.
 */
#include "recipes/yaml.h"
#include "common/error.h"
#include "common/xalloc.h"

#include <stdlib.h>
#include <string.h>
#include <yaml.h>

/* How big a subtree is with its aliases expanded. */
struct extent {
	uint64_t nodes, bytes;
};

struct frame {
	struct rpl_ynode *node;
	size_t first; /* index of its first child in builder.kids */
	const char *anchor;
	struct extent kids; /* of the children so far, expanded */
};

struct anchor {
	const char *name;
	struct rpl_ynode *node;
	struct extent size; /* the node's own, expanded */
};

struct builder {
	struct rpl_ydoc *doc;
	struct frame *stack;
	size_t depth, alloc;
	/* Children of every open node, innermost last; a node's children are
	 * copied into the arena when it ends.  One array for all levels keeps
	 * the builder to a handful of allocations per document. */
	struct rpl_ynode **kids;
	size_t nkids, kids_alloc;
	struct anchor *anchors;
	size_t nanchors, anchors_alloc;
	struct extent aliased; /* what the aliases so far expand to */
};

enum { MAX_DEPTH = 1000 };

static struct rpl_ynode *new_node(struct rpl_ydoc *doc, enum rpl_ytype type, yaml_mark_t mark)
{
	struct rpl_ynode *n = rpl_arena_alloc(&doc->arena, sizeof(*n));

	n->type = type;
	n->line = (uint32_t)mark.line + 1;
	n->col = (uint32_t)mark.column + 1;
	return n;
}

static void add_anchor(struct builder *b, const char *name, struct rpl_ynode *n, struct extent size)
{
	if (!name)
		return;
	RPL_ALLOC_GROW(b->anchors, b->nanchors + 1, b->anchors_alloc);
	b->anchors[b->nanchors].name = rpl_arena_strdup(&b->doc->arena, name);
	b->anchors[b->nanchors].node = n;
	b->anchors[b->nanchors].size = size;
	b->nanchors++;
}

static const struct anchor *find_anchor(struct builder *b, const char *name)
{
	/* Latest definition wins: YAML allows an anchor to be redefined. */
	for (size_t i = b->nanchors; i-- > 0;)
		if (!strcmp(b->anchors[i].name, name))
			return &b->anchors[i];
	return NULL;
}

static int is_merge_key(const struct rpl_ynode *k)
{
	return k->type == RPL_YSCALAR && !k->scalar.quoted && k->scalar.len == 2 &&
	       !memcmp(k->scalar.s, "<<", 2);
}

static int key_equal(const struct rpl_ynode *a, const struct rpl_ynode *b)
{
	return a->type == RPL_YSCALAR && b->type == RPL_YSCALAR && a->scalar.len == b->scalar.len &&
	       !memcmp(a->scalar.s, b->scalar.s, a->scalar.len);
}

/*
 * The keys of one mapping being built, for the duplicate check: a linear
 * scan over the few keys most mappings hold, and past KEYSET_LINEAR a hash
 * table of indices into the pairs, so that a mapping of a million keys
 * (or many merges of a big one) is not a trillion compares.
 */
struct keyset {
	size_t *slots; /* 1 + an index into the pairs; 0 is empty */
	size_t mask;
};

enum { KEYSET_LINEAR = 16 };

static uint64_t key_hash(const struct rpl_ynode *k)
{
	uint64_t h = 14695981039346656037u; /* FNV-1a */

	for (size_t i = 0; i < k->scalar.len; i++)
		h = (h ^ (unsigned char)k->scalar.s[i]) * 1099511628211u;
	return h;
}

/* A set for a mapping that will hold at most `max` pairs. */
static void keyset_init(struct keyset *ks, size_t max)
{
	size_t cap = 1;

	ks->slots = NULL;
	ks->mask = 0;
	if (max <= KEYSET_LINEAR)
		return;
	while (cap < 2 * max)
		cap *= 2;
	ks->slots = rpl_xcalloc(cap, sizeof(*ks->slots));
	ks->mask = cap - 1;
}

static void keyset_release(struct keyset *ks)
{
	free(ks->slots);
}

/* The index of the pair whose key equals `key` among the first `n`, or -1. */
static long find_pair(const struct keyset *ks, const struct rpl_ypair *pairs, size_t n,
                      const struct rpl_ynode *key)
{
	if (!ks->slots) {
		for (size_t i = 0; i < n; i++)
			if (key_equal(pairs[i].key, key))
				return (long)i;
		return -1;
	}
	for (size_t i = key_hash(key) & ks->mask; ks->slots[i]; i = (i + 1) & ks->mask)
		if (key_equal(pairs[ks->slots[i] - 1].key, key))
			return (long)ks->slots[i] - 1;
	return -1;
}

/* Records that pair `at` (a scalar key not in the set yet) is there. */
static void keyset_add(struct keyset *ks, const struct rpl_ypair *pairs, size_t at)
{
	size_t i;

	if (!ks->slots)
		return;
	for (i = key_hash(pairs[at].key) & ks->mask; ks->slots[i]; i = (i + 1) & ks->mask)
		;
	ks->slots[i] = at + 1;
}

/* At most the explicit pairs and every pair a merge could bring. */
static size_t most_pairs(struct rpl_ynode *const *kids, size_t nkids)
{
	size_t max = nkids / 2;

	for (size_t i = 0; i + 1 < nkids; i += 2) {
		const struct rpl_ynode *v = kids[i + 1];

		if (!is_merge_key(kids[i]))
			continue;
		if (v->type == RPL_YMAP)
			max += v->map.n;
		for (size_t s = 0; v->type == RPL_YSEQ && s < v->seq.n; s++)
			if (v->seq.items[s]->type == RPL_YMAP)
				max += v->seq.items[s]->map.n;
	}
	return max;
}

/* The pairs of a mapping being finished, and the set of their keys. */
struct pairs {
	struct rpl_ypair *v;
	size_t n, alloc;
	struct keyset ks;
};

static void pairs_add(struct pairs *p, struct rpl_ypair pair)
{
	RPL_ALLOC_GROW(p->v, p->n + 1, p->alloc);
	p->v[p->n] = pair;
	keyset_add(&p->ks, p->v, p->n);
	p->n++;
}

/* The explicit pairs, each key a scalar and unique, beside one `<<` key at most. */
static int explicit_pairs(const struct rpl_ydoc *doc, struct pairs *p,
                          struct rpl_ynode *const *kids, size_t nkids)
{
	const struct rpl_ynode *merge = NULL;

	for (size_t i = 0; i + 1 < nkids; i += 2) {
		struct rpl_ynode *k = kids[i], *v = kids[i + 1];
		long at;

		if (is_merge_key(k)) {
			/* yaml.v3 allows one merge key per mapping, like any key. */
			if (merge)
				return rpl_error(
				        -RPL_EPARSE,
				        "%s:%u:%u: mapping key \"<<\" already defined at line %u",
				        doc->file, k->line, k->col, merge->line);
			merge = k;
			continue;
		}
		if (k->type != RPL_YSCALAR)
			return rpl_error(-RPL_EPARSE, "%s:%u:%u: mapping keys must be scalars",
			                 doc->file, k->line, k->col);
		at = find_pair(&p->ks, p->v, p->n, k);
		if (at >= 0)
			return rpl_error(
			        -RPL_EPARSE,
			        "%s:%u:%u: mapping key \"%.*s\" already defined at line %u",
			        doc->file, k->line, k->col, (int)k->scalar.len, k->scalar.s,
			        p->v[at].key->line);
		pairs_add(p, (struct rpl_ypair){ k, v });
	}
	return 0;
}

/* The pairs `<<` merges: those of its mapping (or list of mappings) whose keys
 * are not there yet. */
static int merged_pairs(const struct rpl_ydoc *doc, struct pairs *p, struct rpl_ynode *const *kids,
                        size_t nkids)
{
	for (size_t i = 0; i + 1 < nkids; i += 2) {
		struct rpl_ynode *k = kids[i], *v = kids[i + 1];
		struct rpl_ynode *const *srcs = &v;
		size_t nsrc = 1;

		if (!is_merge_key(k))
			continue;
		if (v->type == RPL_YSEQ) {
			srcs = (struct rpl_ynode *const *)v->seq.items;
			nsrc = v->seq.n;
		}
		for (size_t s = 0; s < nsrc; s++) {
			const struct rpl_ynode *src = srcs[s];

			if (src->type != RPL_YMAP)
				return rpl_error(
				        -RPL_EPARSE,
				        "%s:%u:%u: map merge requires map or sequence of maps as the value",
				        doc->file, src->line, src->col);
			for (size_t j = 0; j < src->map.n; j++)
				if (find_pair(&p->ks, p->v, p->n, src->map.pairs[j].key) < 0)
					pairs_add(p, src->map.pairs[j]);
		}
	}
	return 0;
}

/*
 * Turns the collected key/value children into pairs.  Explicit keys must be
 * unique; `<<` merges the pairs of a mapping (or a list of mappings) whose
 * keys are not already present, as yaml.v3 does.
 */
static int finish_map(struct builder *b, struct frame *f)
{
	struct rpl_ydoc *doc = b->doc;
	/* No child yet anywhere: kids is still NULL, and NULL + 0 is undefined. */
	struct rpl_ynode **kids = b->kids ? b->kids + f->first : NULL;
	size_t nkids = b->nkids - f->first;
	struct pairs p = { .v = NULL };
	int err;

	keyset_init(&p.ks, most_pairs(kids, nkids));
	err = explicit_pairs(doc, &p, kids, nkids);
	if (!err)
		err = merged_pairs(doc, &p, kids, nkids);
	if (!err) {
		f->node->map.pairs = rpl_arena_memdup(&doc->arena, p.v, p.n, sizeof(*p.v));
		f->node->map.n = p.n;
	}
	keyset_release(&p.ks);
	free(p.v);
	return err;
}

static int push(struct builder *b, struct rpl_ynode *n, const char *anchor)
{
	if (b->depth >= MAX_DEPTH)
		return rpl_error(-RPL_EPARSE, "%s:%u:%u: nesting deeper than %d levels",
		                 b->doc->file, n->line, n->col, MAX_DEPTH);
	RPL_ALLOC_GROW(b->stack, b->depth + 1, b->alloc);
	struct frame *f = &b->stack[b->depth++];
	f->node = n;
	f->first = b->nkids;
	f->anchor = anchor ? rpl_arena_strdup(&b->doc->arena, anchor) : NULL;
	f->kids.nodes = f->kids.bytes = 0;
	return 0;
}

/* Makes `n` (whose expanded size is `size`) the next child of the open node. */
static void attach(struct builder *b, struct rpl_ynode *n, struct extent size)
{
	struct frame *f;

	if (!b->depth) {
		if (!b->doc->root)
			b->doc->root = n;
		return;
	}
	f = &b->stack[b->depth - 1];
	f->kids.nodes += size.nodes;
	f->kids.bytes += size.bytes;
	RPL_ALLOC_GROW(b->kids, b->nkids + 1, b->kids_alloc);
	b->kids[b->nkids++] = n;
}

/*
 * Attaches the node anchor `a` names once more, and counts what that adds
 * to every walk of the tree; `mark` is the alias, where a refusal points.
 */
static int attach_alias(struct builder *b, const struct anchor *a, yaml_mark_t mark)
{
	b->aliased.nodes += a->size.nodes;
	b->aliased.bytes += a->size.bytes;
	if (b->aliased.nodes > RPL_YAML_MAX_ALIAS_NODES)
		return rpl_error(
		        -RPL_EPARSE,
		        "%s:%zu:%zu: aliases expand to more than %d nodes in this document",
		        b->doc->file, mark.line + 1, mark.column + 1, RPL_YAML_MAX_ALIAS_NODES);
	if (b->aliased.bytes > RPL_YAML_MAX_ALIAS_BYTES)
		return rpl_error(
		        -RPL_EPARSE,
		        "%s:%zu:%zu: aliases expand to more than %d MiB of text in this document",
		        b->doc->file, mark.line + 1, mark.column + 1,
		        RPL_YAML_MAX_ALIAS_BYTES >> 20);
	attach(b, a->node, a->size);
	return 0;
}

static int pop(struct builder *b)
{
	struct frame *f = &b->stack[--b->depth];
	struct rpl_ynode *n = f->node;
	struct extent size = { 1 + f->kids.nodes, f->kids.bytes };
	int err = 0;

	if (n->type == RPL_YSEQ) {
		n->seq.n = b->nkids - f->first;
		n->seq.items = n->seq.n ? rpl_arena_memdup(&b->doc->arena, b->kids + f->first,
		                                           n->seq.n, sizeof(*b->kids))
		                        : NULL;
	} else {
		err = finish_map(b, f);
	}
	b->nkids = f->first;
	if (!err) {
		add_anchor(b, f->anchor, n, size);
		attach(b, n, size);
	}
	return err;
}

static const char *const scalar_null[] = { "", "~", "null", "Null", "NULL" };

int rpl_ynode_is_null(const struct rpl_ynode *n)
{
	if (!n)
		return 1;
	if (n->type != RPL_YSCALAR || n->scalar.quoted || n->scalar.tagged_str)
		return 0;
	for (size_t i = 0; i < sizeof(scalar_null) / sizeof(*scalar_null); i++)
		if (!strcmp(n->scalar.s, scalar_null[i]))
			return 1;
	return 0;
}

/* The 1-based line and column of byte `off` of `buf`. */
static void offset_to_mark(const char *buf, size_t len, size_t off, size_t *line, size_t *col)
{
	const char *nl = NULL;

	*line = 1;
	for (size_t i = 0; i < off && i < len; i++)
		if (buf[i] == '\n') {
			(*line)++;
			nl = buf + i;
		}
	*col = (size_t)(buf + off - (nl ? nl + 1 : buf)) + 1;
}

/*
 * One message for a libyaml error, at the place a person would look: where
 * an unclosed quote or bracket opened (libyaml's context mark, as yaml.v3
 * reports it), where a bad byte is (libyaml gives only an offset for
 * reader errors), and plain words for a tab used as indentation.
 */
static int syntax_error(const yaml_parser_t *p, const char *file, const char *buf, size_t len)
{
	size_t line = p->problem_mark.line + 1, col = p->problem_mark.column + 1;
	const char *problem = p->problem ? p->problem : "syntax error";
	const char *context = p->context ? p->context : "";

	if (p->error == YAML_READER_ERROR) {
		offset_to_mark(buf, len, p->problem_offset, &line, &col);
		return rpl_error(-RPL_EPARSE, "%s:%zu:%zu: yaml: %s (byte %#x)", file, line, col,
		                 problem, p->problem_value < 0 ? 0 : (unsigned)p->problem_value);
	}
	if (p->problem_mark.index < len && buf[p->problem_mark.index] == '\t' &&
	    strstr(problem, "cannot start any token"))
		return rpl_error(
		        -RPL_EPARSE,
		        "%s:%zu:%zu: yaml: a tab character here; YAML indents with spaces only",
		        file, line, col);
	if (p->context && (strstr(context, "quoted scalar") || strstr(context, "flow"))) {
		return rpl_error(-RPL_EPARSE,
		                 "%s:%zu:%zu: yaml: %s %s (opened here, not closed by line %zu)",
		                 file, p->context_mark.line + 1, p->context_mark.column + 1,
		                 problem, context, line);
	}
	return rpl_error(-RPL_EPARSE, "%s:%zu:%zu: yaml: %s%s%s", file, line, col, problem,
	                 p->context ? " " : "", context);
}

int rpl_yaml_parse(struct rpl_ydoc *doc, const char *file, const char *buf, size_t len)
{
	struct builder b = { .doc = doc };
	yaml_parser_t parser;
	yaml_event_t ev;
	int err = 0, done = 0, docs = 0;

	rpl_arena_init(&doc->arena);
	doc->file = rpl_arena_strdup(&doc->arena, file);
	doc->root = NULL;
	doc->len = len;
	if (!yaml_parser_initialize(&parser))
		return rpl_error(-RPL_ELIB, "%s: cannot initialise the yaml parser", file);
	yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);

	while (!done && !err) {
		if (!yaml_parser_parse(&parser, &ev)) {
			err = syntax_error(&parser, file, buf, len);
			break;
		}
		switch (ev.type) {
		case YAML_DOCUMENT_START_EVENT:
			docs++;
			break;
		case YAML_DOCUMENT_END_EVENT:
			/* Like yaml.v3's Decoder.Decode, only the first document counts. */
			done = 1;
			break;
		case YAML_STREAM_END_EVENT:
			done = 1;
			break;
		case YAML_SCALAR_EVENT: {
			struct rpl_ynode *n = new_node(doc, RPL_YSCALAR, ev.start_mark);
			const char *tag = (const char *)ev.data.scalar.tag;
			struct extent size = { 1, ev.data.scalar.length };

			n->scalar.s =
			        rpl_arena_strndup(&doc->arena, (const char *)ev.data.scalar.value,
			                          ev.data.scalar.length);
			n->scalar.len = ev.data.scalar.length;
			n->scalar.quoted = ev.data.scalar.style != YAML_PLAIN_SCALAR_STYLE;
			n->scalar.tagged_str = tag && !strcmp(tag, YAML_STR_TAG);
			add_anchor(&b, (const char *)ev.data.scalar.anchor, n, size);
			attach(&b, n, size);
			break;
		}
		case YAML_SEQUENCE_START_EVENT:
			err = push(&b, new_node(doc, RPL_YSEQ, ev.start_mark),
			           (const char *)ev.data.sequence_start.anchor);
			break;
		case YAML_MAPPING_START_EVENT:
			err = push(&b, new_node(doc, RPL_YMAP, ev.start_mark),
			           (const char *)ev.data.mapping_start.anchor);
			break;
		case YAML_SEQUENCE_END_EVENT:
		case YAML_MAPPING_END_EVENT:
			err = pop(&b);
			break;
		case YAML_ALIAS_EVENT: {
			const struct anchor *a =
			        find_anchor(&b, (const char *)ev.data.alias.anchor);

			if (!a)
				err = rpl_error(-RPL_EPARSE,
				                "%s:%zu:%zu: unknown anchor '%s' referenced", file,
				                ev.start_mark.line + 1, ev.start_mark.column + 1,
				                (const char *)ev.data.alias.anchor);
			else
				err = attach_alias(&b, a, ev.start_mark);
			break;
		}
		default:
			break;
		}
		yaml_event_delete(&ev);
	}
	(void)docs;
	free(b.kids);
	free(b.stack);
	free(b.anchors);
	yaml_parser_delete(&parser);
	return err;
}

void rpl_ydoc_release(struct rpl_ydoc *doc)
{
	rpl_arena_release(&doc->arena);
	doc->root = NULL;
	doc->file = NULL;
}

struct rpl_ynode *rpl_ymap_get(const struct rpl_ynode *map, const char *key)
{
	size_t klen = strlen(key);

	if (!map || map->type != RPL_YMAP)
		return NULL;
	for (size_t i = 0; i < map->map.n; i++) {
		const struct rpl_ynode *k = map->map.pairs[i].key;
		if (k->scalar.len == klen && !memcmp(k->scalar.s, key, klen))
			return map->map.pairs[i].value;
	}
	return NULL;
}

const char *rpl_ynode_kind(const struct rpl_ynode *n)
{
	if (!n)
		return "nothing";
	switch (n->type) {
	case RPL_YSCALAR:
		return "a scalar";
	case RPL_YSEQ:
		return "a sequence";
	case RPL_YMAP:
		return "a mapping";
	}
	return "?";
}
