/*
 * The tree is built from libyaml's event stream with an explicit stack, so
 * deeply nested input cannot overflow the C stack.  All nodes and strings
 * live in the document's arena.
 */
#include "recipes/yaml.h"
#include "common/error.h"
#include "common/xalloc.h"

#include <stdlib.h>
#include <string.h>
#include <yaml.h>

struct frame {
	struct rpl_ynode *node;
	size_t first; /* index of its first child in builder.kids */
	const char *anchor;
};

struct anchor {
	const char *name;
	struct rpl_ynode *node;
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

static void add_anchor(struct builder *b, const char *name, struct rpl_ynode *n)
{
	if (!name)
		return;
	RPL_ALLOC_GROW(b->anchors, b->nanchors + 1, b->anchors_alloc);
	b->anchors[b->nanchors].name = rpl_arena_strdup(&b->doc->arena, name);
	b->anchors[b->nanchors].node = n;
	b->nanchors++;
}

static struct rpl_ynode *find_anchor(struct builder *b, const char *name)
{
	/* Latest definition wins: YAML allows an anchor to be redefined. */
	for (size_t i = b->nanchors; i-- > 0;)
		if (!strcmp(b->anchors[i].name, name))
			return b->anchors[i].node;
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

static int find_pair(struct rpl_ypair *pairs, size_t n, const struct rpl_ynode *key)
{
	for (size_t i = 0; i < n; i++)
		if (key_equal(pairs[i].key, key))
			return (int)i;
	return -1;
}

/*
 * Turns the collected key/value children into pairs.  Explicit keys must be
 * unique; `<<` merges the pairs of a mapping (or a list of mappings) whose
 * keys are not already present, as yaml.v3 does.
 */
static int finish_map(struct builder *b, struct frame *f)
{
	struct rpl_ydoc *doc = b->doc;
	struct rpl_ynode **kids = b->kids + f->first;
	size_t nkids = b->nkids - f->first;
	struct rpl_ypair *pairs = NULL;
	size_t n = 0, alloc = 0;
	const struct rpl_ynode *merge = NULL;
	int err = 0;

	for (size_t i = 0; i + 1 < nkids; i += 2) {
		struct rpl_ynode *k = kids[i], *v = kids[i + 1];
		int at;

		if (is_merge_key(k)) {
			/* yaml.v3 allows one merge key per mapping, like any key. */
			if (merge) {
				err = rpl_error(
				        -RPL_EPARSE,
				        "%s:%u:%u: mapping key \"<<\" already defined at line %u",
				        doc->file, k->line, k->col, merge->line);
				goto out;
			}
			merge = k;
			continue;
		}

		if (k->type != RPL_YSCALAR) {
			err = rpl_error(-RPL_EPARSE, "%s:%u:%u: mapping keys must be scalars",
			                doc->file, k->line, k->col);
			goto out;
		}
		at = find_pair(pairs, n, k);
		if (at >= 0) {
			err = rpl_error(-RPL_EPARSE,
			                "%s:%u:%u: mapping key \"%.*s\" already defined at line %u",
			                doc->file, k->line, k->col, (int)k->scalar.len, k->scalar.s,
			                pairs[at].key->line);
			goto out;
		}
		RPL_ALLOC_GROW(pairs, n + 1, alloc);
		pairs[n].key = k;
		pairs[n].value = v;
		n++;
	}
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

			if (src->type != RPL_YMAP) {
				err = rpl_error(
				        -RPL_EPARSE,
				        "%s:%u:%u: map merge requires map or sequence of maps as the value",
				        doc->file, src->line, src->col);
				goto out;
			}
			for (size_t j = 0; j < src->map.n; j++) {
				if (find_pair(pairs, n, src->map.pairs[j].key) >= 0)
					continue;
				RPL_ALLOC_GROW(pairs, n + 1, alloc);
				pairs[n++] = src->map.pairs[j];
			}
		}
	}
	f->node->map.pairs = rpl_arena_memdup(&doc->arena, pairs, n, sizeof(*pairs));
	f->node->map.n = n;
out:
	free(pairs);
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
	return 0;
}

static void attach(struct builder *b, struct rpl_ynode *n)
{
	if (!b->depth) {
		if (!b->doc->root)
			b->doc->root = n;
		return;
	}
	RPL_ALLOC_GROW(b->kids, b->nkids + 1, b->kids_alloc);
	b->kids[b->nkids++] = n;
}

static int pop(struct builder *b)
{
	struct frame *f = &b->stack[--b->depth];
	struct rpl_ynode *n = f->node;
	int err = 0;

	if (n->type == RPL_YSEQ) {
		n->seq.n = b->nkids - f->first;
		n->seq.items = rpl_arena_memdup(&b->doc->arena, b->kids + f->first, n->seq.n,
		                                sizeof(*b->kids));
	} else {
		err = finish_map(b, f);
	}
	b->nkids = f->first;
	if (!err) {
		add_anchor(b, f->anchor, n);
		attach(b, n);
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

			n->scalar.s =
			        rpl_arena_strndup(&doc->arena, (const char *)ev.data.scalar.value,
			                          ev.data.scalar.length);
			n->scalar.len = ev.data.scalar.length;
			n->scalar.quoted = ev.data.scalar.style != YAML_PLAIN_SCALAR_STYLE;
			n->scalar.tagged_str = tag && !strcmp(tag, YAML_STR_TAG);
			add_anchor(&b, (const char *)ev.data.scalar.anchor, n);
			attach(&b, n);
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
			struct rpl_ynode *n = find_anchor(&b, (const char *)ev.data.alias.anchor);

			if (!n)
				err = rpl_error(-RPL_EPARSE,
				                "%s:%zu:%zu: unknown anchor '%s' referenced", file,
				                ev.start_mark.line + 1, ev.start_mark.column + 1,
				                (const char *)ev.data.alias.anchor);
			else
				attach(&b, n);
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
