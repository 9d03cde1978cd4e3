/*
 * The YAML tree: positions, raw scalars, nulls, anchors, merge keys and the
 * errors a recipe author sees.  Inputs are small in-memory documents.
 */
#include "recipes/yaml.h"
#include "common/error.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static void parse_ok(struct rpl_ydoc *doc, const char *text)
{
	int err = rpl_yaml_parse(doc, "t.yaml", text, strlen(text));

	if (err)
		fail_msg("parsing: %s", rpl_errmsg());
}

/* Parses `text` and expects -RPL_EPARSE with exactly `want` as the message. */
static void expect_error(const char *text, const char *want)
{
	struct rpl_ydoc doc;
	int err;

	rpl_error_clear();
	err = rpl_yaml_parse(&doc, "t.yaml", text, strlen(text));
	rpl_ydoc_release(&doc);
	if (err != -RPL_EPARSE)
		fail_msg("returned %d, want -RPL_EPARSE with \"%s\"", err, want);
	assert_string_equal(rpl_errmsg(), want);
}

static void assert_pos(const struct rpl_ynode *n, unsigned line, unsigned col)
{
	assert_non_null(n);
	assert_int_equal(n->line, line);
	assert_int_equal(n->col, col);
}

static void assert_scalar(const struct rpl_ynode *n, const char *want)
{
	assert_non_null(n);
	assert_int_equal(n->type, RPL_YSCALAR);
	assert_string_equal(n->scalar.s, want);
	assert_int_equal(n->scalar.len, strlen(want));
}

static void test_positions(void **state)
{
	struct rpl_ydoc doc;
	const struct rpl_ynode *b, *item, *c;

	(void)state;
	parse_ok(&doc, "a: 1\n"
	               "b:\n"
	               "  - x\n"
	               "  - y: z\n"
	               "    w: \"q\"\n"
	               "c: {k: v}\n"
	               "d: [p, q]\n");
	assert_string_equal(doc.file, "t.yaml");
	assert_int_equal(doc.root->type, RPL_YMAP);
	assert_pos(doc.root, 1, 1);
	assert_int_equal(doc.root->map.n, 4);
	assert_pos(doc.root->map.pairs[0].key, 1, 1);
	assert_pos(doc.root->map.pairs[0].value, 1, 4);
	assert_pos(doc.root->map.pairs[1].key, 2, 1);

	b = rpl_ymap_get(doc.root, "b");
	assert_int_equal(b->type, RPL_YSEQ);
	assert_pos(b, 3, 3);
	assert_int_equal(b->seq.n, 2);
	assert_scalar(b->seq.items[0], "x");
	assert_pos(b->seq.items[0], 3, 5);
	item = b->seq.items[1];
	assert_int_equal(item->type, RPL_YMAP);
	assert_pos(item, 4, 5);
	assert_pos(rpl_ymap_get(item, "y"), 4, 8);
	assert_pos(item->map.pairs[1].key, 5, 5);
	assert_pos(rpl_ymap_get(item, "w"), 5, 8);

	c = rpl_ymap_get(doc.root, "c");
	assert_int_equal(c->type, RPL_YMAP);
	assert_pos(c, 6, 4);
	assert_pos(rpl_ymap_get(c, "k"), 6, 8);
	assert_pos(rpl_ymap_get(doc.root, "d"), 7, 4);
	assert_pos(rpl_ymap_get(doc.root, "d")->seq.items[1], 7, 8);

	assert_null(rpl_ymap_get(doc.root, "nope"));
	assert_null(rpl_ymap_get(b, "x")); /* not a mapping */
	assert_null(rpl_ymap_get(NULL, "x"));
	assert_string_equal(rpl_ynode_kind(doc.root), "a mapping");
	assert_string_equal(rpl_ynode_kind(b), "a sequence");
	assert_string_equal(rpl_ynode_kind(b->seq.items[0]), "a scalar");
	assert_string_equal(rpl_ynode_kind(NULL), "nothing");
	rpl_ydoc_release(&doc);
}

/* yaml.v3 decodes scalars into strings as written: no float or bool reading. */
static void test_raw_scalars(void **state)
{
	struct rpl_ydoc doc;

	(void)state;
	parse_ok(&doc, "f: 3.10\n"
	               "b: true\n"
	               "o: 0755\n"
	               "h: 0x1F\n"
	               "e: 1e3\n");
	assert_scalar(rpl_ymap_get(doc.root, "f"), "3.10");
	assert_scalar(rpl_ymap_get(doc.root, "b"), "true");
	assert_scalar(rpl_ymap_get(doc.root, "o"), "0755");
	assert_scalar(rpl_ymap_get(doc.root, "h"), "0x1F");
	assert_scalar(rpl_ymap_get(doc.root, "e"), "1e3");
	rpl_ydoc_release(&doc);
}

static void test_map_key_raw(void **state)
{
	struct rpl_ydoc doc;

	(void)state;
	parse_ok(&doc, "items:\n"
	               "  3.10: '310'\n"
	               "  3.9: '39'\n"
	               "  true: yes\n");
	const struct rpl_ynode *items = rpl_ymap_get(doc.root, "items");
	assert_int_equal(items->map.n, 3);
	assert_scalar(items->map.pairs[0].key, "3.10");
	assert_scalar(items->map.pairs[0].value, "310");
	assert_scalar(items->map.pairs[1].key, "3.9");
	assert_scalar(items->map.pairs[2].key, "true");
	assert_scalar(items->map.pairs[2].value, "yes");
	rpl_ydoc_release(&doc);
}

static void test_quoted_flag(void **state)
{
	struct rpl_ydoc doc;

	(void)state;
	parse_ok(&doc, "plain: x\n"
	               "single: 'x'\n"
	               "double: \"x\"\n"
	               "literal: |\n"
	               "  x\n"
	               "folded: >\n"
	               "  x\n"
	               "tagged: !!str 12\n"
	               "esc: \"a\\tb\"\n");
	assert_int_equal(rpl_ymap_get(doc.root, "plain")->scalar.quoted, 0);
	assert_int_equal(rpl_ymap_get(doc.root, "single")->scalar.quoted, 1);
	assert_int_equal(rpl_ymap_get(doc.root, "double")->scalar.quoted, 1);
	assert_int_equal(rpl_ymap_get(doc.root, "literal")->scalar.quoted, 1);
	assert_scalar(rpl_ymap_get(doc.root, "literal"), "x\n");
	assert_int_equal(rpl_ymap_get(doc.root, "folded")->scalar.quoted, 1);
	assert_int_equal(rpl_ymap_get(doc.root, "tagged")->scalar.quoted, 0);
	assert_int_equal(rpl_ymap_get(doc.root, "tagged")->scalar.tagged_str, 1);
	assert_int_equal(rpl_ymap_get(doc.root, "plain")->scalar.tagged_str, 0);
	assert_scalar(rpl_ymap_get(doc.root, "tagged"), "12");
	/* The value is the decoded text, escapes applied. */
	assert_scalar(rpl_ymap_get(doc.root, "esc"), "a\tb");
	rpl_ydoc_release(&doc);
}

static void test_nulls(void **state)
{
	struct rpl_ydoc doc;

	(void)state;
	parse_ok(&doc, "empty:\n"
	               "tilde: ~\n"
	               "null: null\n"
	               "Null: Null\n"
	               "NULL: NULL\n"
	               "quoted: \"null\"\n"
	               "squoted: ''\n"
	               "tagged: !!str ~\n"
	               "nil: nil\n"
	               "nUll: nUll\n"
	               "list: []\n");
	assert_true(rpl_ynode_is_null(rpl_ymap_get(doc.root, "empty")));
	assert_scalar(rpl_ymap_get(doc.root, "empty"), "");
	assert_true(rpl_ynode_is_null(rpl_ymap_get(doc.root, "tilde")));
	assert_true(rpl_ynode_is_null(rpl_ymap_get(doc.root, "null")));
	assert_true(rpl_ynode_is_null(rpl_ymap_get(doc.root, "Null")));
	assert_true(rpl_ynode_is_null(rpl_ymap_get(doc.root, "NULL")));
	assert_false(rpl_ynode_is_null(rpl_ymap_get(doc.root, "quoted")));
	assert_false(rpl_ynode_is_null(rpl_ymap_get(doc.root, "squoted")));
	assert_false(rpl_ynode_is_null(rpl_ymap_get(doc.root, "tagged")));
	assert_false(rpl_ynode_is_null(rpl_ymap_get(doc.root, "nil")));
	assert_false(rpl_ynode_is_null(rpl_ymap_get(doc.root, "nUll")));
	assert_false(rpl_ynode_is_null(rpl_ymap_get(doc.root, "list")));
	assert_false(rpl_ynode_is_null(doc.root));
	/* An absent node reads as null. */
	assert_true(rpl_ynode_is_null(NULL));
	rpl_ydoc_release(&doc);
}

static void test_empty_documents(void **state)
{
	struct rpl_ydoc doc;

	(void)state;
	parse_ok(&doc, "");
	assert_null(doc.root);
	rpl_ydoc_release(&doc);
	parse_ok(&doc, "# only a comment\n");
	assert_null(doc.root);
	rpl_ydoc_release(&doc);
	parse_ok(&doc, "---\n...\n");
	assert_non_null(doc.root);
	assert_true(rpl_ynode_is_null(doc.root));
	rpl_ydoc_release(&doc);
	parse_ok(&doc, "[a, b]\n");
	assert_int_equal(doc.root->type, RPL_YSEQ);
	assert_int_equal(doc.root->seq.n, 2);
	rpl_ydoc_release(&doc);
}

static void test_anchors_aliases(void **state)
{
	struct rpl_ydoc doc;
	const struct rpl_ynode *base, *other, *list;

	(void)state;
	parse_ok(&doc, "base: &b\n"
	               "  x: 1\n"
	               "  y: 2\n"
	               "other: *b\n"
	               "s: &sc hello\n"
	               "t: *sc\n"
	               "list: [*sc, *b]\n"
	               "re: &sc again\n"
	               "u: *sc\n");
	base = rpl_ymap_get(doc.root, "base");
	other = rpl_ymap_get(doc.root, "other");
	/* Shared, not copied: the alias is the anchored node itself. */
	assert_ptr_equal(other, base);
	assert_int_equal(other->map.n, 2);
	assert_pos(other, 1, 7); /* an anchored block map starts at its anchor */
	assert_scalar(rpl_ymap_get(doc.root, "t"), "hello");
	assert_ptr_equal(rpl_ymap_get(doc.root, "t"), rpl_ymap_get(doc.root, "s"));
	list = rpl_ymap_get(doc.root, "list");
	assert_int_equal(list->seq.n, 2);
	assert_scalar(list->seq.items[0], "hello");
	assert_ptr_equal(list->seq.items[1], base);
	/* A redefined anchor: later aliases see the latest definition. */
	assert_scalar(rpl_ymap_get(doc.root, "u"), "again");
	rpl_ydoc_release(&doc);

	expect_error("a: *nope\n", "t.yaml:1:4: unknown anchor 'nope' referenced");
	/* An anchor is defined once its node is complete, so it cannot contain itself. */
	expect_error("a: &x [1, *x]\n", "t.yaml:1:11: unknown anchor 'x' referenced");
}

static void test_merge_keys(void **state)
{
	struct rpl_ydoc doc;
	const struct rpl_ynode *m1, *m2, *m3, *q;

	(void)state;
	parse_ok(&doc, "base: &b {x: 1, y: 2}\n"
	               "more: &m {z: 3, y: 9}\n"
	               "m1:\n"
	               "  <<: *b\n"
	               "  y: override\n"
	               "m2:\n"
	               "  w: 0\n"
	               "  <<: [*b, *m]\n"
	               "m3:\n"
	               "  y: first\n"
	               "  <<: *m\n"
	               "q:\n"
	               "  \"<<\": *b\n");
	m1 = rpl_ymap_get(doc.root, "m1");
	assert_int_equal(m1->map.n, 2);
	assert_scalar(rpl_ymap_get(m1, "x"), "1");
	/* Explicit keys win over merged ones, wherever they are written. */
	assert_scalar(rpl_ymap_get(m1, "y"), "override");
	assert_null(rpl_ymap_get(m1, "<<"));
	/* Explicit keys first, then merged keys in source order. */
	assert_scalar(m1->map.pairs[0].key, "y");
	assert_scalar(m1->map.pairs[1].key, "x");

	m2 = rpl_ymap_get(doc.root, "m2");
	assert_int_equal(m2->map.n, 4);
	assert_scalar(rpl_ymap_get(m2, "w"), "0");
	assert_scalar(rpl_ymap_get(m2, "x"), "1");
	/* In a list of maps the earlier map wins. */
	assert_scalar(rpl_ymap_get(m2, "y"), "2");
	assert_scalar(rpl_ymap_get(m2, "z"), "3");

	m3 = rpl_ymap_get(doc.root, "m3");
	assert_int_equal(m3->map.n, 2);
	assert_scalar(rpl_ymap_get(m3, "y"), "first");
	assert_scalar(rpl_ymap_get(m3, "z"), "3");
	/* The anchored maps are unchanged by merging into others. */
	assert_int_equal(rpl_ymap_get(doc.root, "base")->map.n, 2);
	assert_int_equal(rpl_ymap_get(doc.root, "more")->map.n, 2);

	/* A quoted "<<" is an ordinary key. */
	q = rpl_ymap_get(doc.root, "q");
	assert_int_equal(q->map.n, 1);
	assert_non_null(rpl_ymap_get(q, "<<"));
	assert_null(rpl_ymap_get(q, "x"));
	rpl_ydoc_release(&doc);

	expect_error("a:\n  <<: 1\n",
	             "t.yaml:2:7: map merge requires map or sequence of maps as the value");
	expect_error("b: &b {x: 1}\na:\n  <<: [*b, 2]\n",
	             "t.yaml:3:12: map merge requires map or sequence of maps as the value");
}

static void test_duplicate_keys(void **state)
{
	(void)state;
	expect_error("a: 1\nb: 2\na: 3\n",
	             "t.yaml:3:1: mapping key \"a\" already defined at line 1");
	expect_error("top:\n  k: 1\n  'k': 2\n",
	             "t.yaml:3:3: mapping key \"k\" already defined at line 2");
	expect_error("m: {x: 1, y: 2, x: 3}\n",
	             "t.yaml:1:17: mapping key \"x\" already defined at line 1");
	/* yaml.v3 checks every key for duplicates before merging, `<<` included
	 * ("line 5: mapping key "<<" already defined at line 4"). */
	expect_error("b: &b {x: 1}\nc: &c {y: 2}\nm:\n  <<: *b\n  <<: *c\n",
	             "t.yaml:5:3: mapping key \"<<\" already defined at line 4");
	/* A merged key equal to an explicit one is not a duplicate. */
	struct rpl_ydoc doc;
	parse_ok(&doc, "b: &b {x: 1}\nm:\n  x: 2\n  <<: *b\n");
	assert_scalar(rpl_ymap_get(rpl_ymap_get(doc.root, "m"), "x"), "2");
	rpl_ydoc_release(&doc);
}

static void test_non_scalar_key(void **state)
{
	(void)state;
	expect_error("? [a]\n: 1\n", "t.yaml:1:3: mapping keys must be scalars");
}

/*
 * libyaml's problem, at the place a person would look: where an unclosed
 * bracket or quote opened (as yaml.v3 reports it), and plain words for a tab.
 */
static void test_syntax_errors(void **state)
{
	(void)state;
	expect_error("a: [1, 2\n", "t.yaml:1:4: yaml: did not find expected ',' or ']' while "
	                           "parsing a flow sequence (opened here, not closed by line 2)");
	expect_error("a:\n\tb: 1\n", "t.yaml:2:1: yaml: a tab character here; YAML indents with "
	                             "spaces only");
	expect_error("a: b: c\n",
	             "t.yaml:1:5: yaml: mapping values are not allowed in this context");
	expect_error("- a\nb: 1\n", "t.yaml:2:1: yaml: did not find expected '-' indicator while "
	                            "parsing a block collection");
	expect_error("key: 'open\n",
	             "t.yaml:1:6: yaml: found unexpected end of stream while "
	             "scanning a quoted scalar (opened here, not closed by line 2)");
}

/* Like yaml.v3's Decoder.Decode, only the first document is read. */
static void test_first_document_only(void **state)
{
	struct rpl_ydoc doc;

	(void)state;
	parse_ok(&doc, "a: 1\n---\nb: 2\n");
	assert_int_equal(doc.root->map.n, 1);
	assert_scalar(rpl_ymap_get(doc.root, "a"), "1");
	assert_null(rpl_ymap_get(doc.root, "b"));
	rpl_ydoc_release(&doc);
	/* A broken second document is never looked at. */
	parse_ok(&doc, "a: 1\n---\nb: [\n");
	assert_int_equal(doc.root->map.n, 1);
	rpl_ydoc_release(&doc);
	/* Nor is a duplicate key across documents. */
	parse_ok(&doc, "---\na: 1\n...\n---\na: 2\n");
	assert_scalar(rpl_ymap_get(doc.root, "a"), "1");
	rpl_ydoc_release(&doc);
}

static char *nested(char open, char close, size_t depth)
{
	char *s = malloc(2 * depth + 2);

	assert_non_null(s);
	memset(s, open, depth);
	memset(s + depth, close, depth);
	s[2 * depth] = '\n';
	s[2 * depth + 1] = '\0';
	return s;
}

/* Deep nesting is an error with a position, not a stack overflow. */
static void test_deep_nesting(void **state)
{
	struct rpl_ydoc doc;
	char *s;

	(void)state;
	s = nested('[', ']', 1000);
	parse_ok(&doc, s);
	assert_int_equal(doc.root->type, RPL_YSEQ);
	rpl_ydoc_release(&doc);
	free(s);

	s = nested('[', ']', 1001);
	expect_error(s, "t.yaml:1:1001: nesting deeper than 1000 levels");
	free(s);

	s = nested('[', ']', 100000);
	expect_error(s, "t.yaml:1:1001: nesting deeper than 1000 levels");
	free(s);

	s = nested('{', '}', 5000);
	{
		int err = rpl_yaml_parse(&doc, "t.yaml", s, strlen(s));
		assert_int_equal(err, -RPL_EPARSE);
		rpl_ydoc_release(&doc);
	}
	free(s);
}

/* The error leaves the document releasable, and a second parse starts clean. */
static void test_release_after_error(void **state)
{
	struct rpl_ydoc doc;

	(void)state;
	assert_int_equal(rpl_yaml_parse(&doc, "t.yaml", "a: [", 4), -RPL_EPARSE);
	rpl_ydoc_release(&doc);
	assert_null(doc.root);
	parse_ok(&doc, "x: y\n");
	assert_scalar(rpl_ymap_get(doc.root, "x"), "y");
	rpl_ydoc_release(&doc);
}

/* Appends to a malloc'd string. */
static void add(char **buf, size_t *len, size_t *cap, const char *s)
{
	size_t n = strlen(s);

	while (*len + n + 1 > *cap) {
		*cap = *cap ? *cap * 2 : 4096;
		*buf = realloc(*buf, *cap);
		assert_non_null(*buf);
	}
	memcpy(*buf + *len, s, n + 1);
	*len += n;
}

/*
 * "Billion laughs": l9 is 10^9 nodes once expanded.  The parse fails at the
 * alias that takes the document past RPL_YAML_MAX_ALIAS_NODES: lines 2-5
 * add 12,340 nodes, each *l4 on line 6 adds 11,111, so the 8th does it
 * (col 10 + 7 * 5).
 */
static void test_alias_bomb(void **state)
{
	char *text = NULL, line[256];
	size_t len = 0, cap = 0;

	(void)state;
	add(&text, &len, &cap, "l0: &l0 lol\n");
	for (int k = 1; k <= 9; k++) {
		snprintf(line, sizeof(line), "l%d: &l%d [", k, k);
		add(&text, &len, &cap, line);
		for (int i = 0; i < 10; i++) {
			snprintf(line, sizeof(line), "%s*l%d", i ? ", " : "", k - 1);
			add(&text, &len, &cap, line);
		}
		add(&text, &len, &cap, "]\n");
	}
	expect_error(text,
	             "t.yaml:6:45: aliases expand to more than 100000 nodes in this document");
	free(text);
}

/* The bound is on the total: exactly RPL_YAML_MAX_ALIAS_NODES is fine, one more is not. */
static void test_alias_budget(void **state)
{
	struct rpl_ydoc doc;
	char *text = NULL, want[128];
	size_t len = 0, cap = 0;

	(void)state;
	add(&text, &len, &cap, "s: &s x\nl: [");
	for (int i = 0; i < RPL_YAML_MAX_ALIAS_NODES; i++)
		add(&text, &len, &cap, i ? ",*s" : "*s");
	add(&text, &len, &cap, "]\n");
	parse_ok(&doc, text);
	assert_int_equal(rpl_ymap_get(doc.root, "l")->seq.n, RPL_YAML_MAX_ALIAS_NODES);
	rpl_ydoc_release(&doc);

	len -= 2;
	add(&text, &len, &cap, ",*s]\n");
	snprintf(want, sizeof(want),
	         "t.yaml:2:%zu: aliases expand to more than 100000 nodes in this document",
	         len - strlen("*s]\n") - strlen("s: &s x\n") + 1);
	expect_error(text, want);
	free(text);
}

/* Few aliases of one long scalar: bounded by the bytes they repeat. */
static void test_alias_bytes(void **state)
{
	struct rpl_ydoc doc;
	size_t big = 1 << 20, n = RPL_YAML_MAX_ALIAS_BYTES / (1 << 20);
	char *text = malloc(big + 64 + 4 * (n + 1)), *p = text;

	(void)state;
	assert_non_null(text);
	p += sprintf(p, "s: &s ");
	memset(p, 'x', big);
	p += big;
	p += sprintf(p, "\nl: [");
	for (size_t i = 0; i < n; i++)
		p += sprintf(p, "%s*s", i ? "," : "");
	p += sprintf(p, "]\n");
	parse_ok(&doc, text);
	rpl_ydoc_release(&doc);

	p -= 2;
	p += sprintf(p, ",*s]\n");
	expect_error(text,
	             "t.yaml:2:53: aliases expand to more than 16 MiB of text in this document");
	free(text);
}

/* A merged-into mapping counts what it merges; a big mapping still finds duplicates. */
static void test_big_mappings(void **state)
{
	struct rpl_ydoc doc;
	char *text = NULL, line[64];
	size_t len = 0, cap = 0;
	const struct rpl_ynode *m;

	(void)state;
	add(&text, &len, &cap, "base: &b\n");
	for (int i = 0; i < 1000; i++) {
		snprintf(line, sizeof(line), "  k%d: %d\n", i, i);
		add(&text, &len, &cap, line);
	}
	for (int i = 0; i < 20; i++) {
		snprintf(line, sizeof(line), "m%d:\n  k7: mine\n  <<: *b\n", i);
		add(&text, &len, &cap, line);
	}
	parse_ok(&doc, text);
	m = rpl_ymap_get(doc.root, "m19");
	assert_int_equal(m->map.n, 1000);
	assert_scalar(rpl_ymap_get(m, "k7"), "mine");
	assert_scalar(rpl_ymap_get(m, "k999"), "999");
	rpl_ydoc_release(&doc);

	add(&text, &len, &cap, "m20:\n  <<: *b\n  k3: x\n  k3: y\n");
	expect_error(text, "t.yaml:1065:3: mapping key \"k3\" already defined at line 1064");
	free(text);
}

/* Input need not be NUL-terminated: only `len` bytes are read. */
static void test_length_bounded(void **state)
{
	struct rpl_ydoc doc;
	const char text[] = "a: 1\nb: [";

	(void)state;
	assert_int_equal(rpl_yaml_parse(&doc, "t.yaml", text, 5), 0);
	assert_int_equal(doc.root->map.n, 1);
	rpl_ydoc_release(&doc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_positions),       cmocka_unit_test(test_raw_scalars),
		cmocka_unit_test(test_map_key_raw),     cmocka_unit_test(test_quoted_flag),
		cmocka_unit_test(test_nulls),           cmocka_unit_test(test_empty_documents),
		cmocka_unit_test(test_anchors_aliases), cmocka_unit_test(test_merge_keys),
		cmocka_unit_test(test_duplicate_keys),  cmocka_unit_test(test_non_scalar_key),
		cmocka_unit_test(test_syntax_errors),   cmocka_unit_test(test_first_document_only),
		cmocka_unit_test(test_deep_nesting),    cmocka_unit_test(test_release_after_error),
		cmocka_unit_test(test_length_bounded),  cmocka_unit_test(test_alias_bomb),
		cmocka_unit_test(test_alias_budget),    cmocka_unit_test(test_alias_bytes),
		cmocka_unit_test(test_big_mappings),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
