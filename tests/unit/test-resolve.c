/*
 * Resolver cases as data files (tests/fixtures/resolve, one .case file each).
 * Each case holds a tiny monorepo and the edges its graph must have:
 *
 *   # what the case checks
 *   arch: aarch64                 (optional; default x86_64)
 *   == foo.yaml                   a file of the monorepo, until the next ==
 *   package: ...
 *   == pipelines/x.yaml
 *   ...
 *   == expect
 *   foo needs bar -> bar          the build need `bar` of origin foo leads to node bar
 *   foo needs qux -> external qux an external node (nothing in the repo provides it)
 *   foo needs quux -> none        no edge for that need (a `!conflict`, or a step skipped on this arch)
 *   img image greet -> greet      image img installs something of origin greet
 *   foo absent                    origin foo is not in this arch's graph
 *   order: a b c                  origins in build order (more in check_graph)
 *
 * The harness writes the files to a temp dir, scans it for the arch, builds
 * the graph and checks every expectation, naming the case and line.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "tests/unit/testlib.h"

#include "common/bytes.h"
#include "common/file.h"
#include "common/xalloc.h"
#include "graph/graph.h"
#include "recipes/scan.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void mkdirs(const char *path)
{
	char *p = rpl_xstrdup(path);

	for (char *s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		mkdir(p, 0755);
		*s = '/';
	}
	free(p);
}

static void write_file(const char *dir, const char *name, const char *text, size_t len)
{
	char *path = rpl_path_join(dir, name);
	FILE *f;

	mkdirs(path);
	f = fopen(path, "w");
	assert_non_null(f);
	fwrite(text, 1, len, f);
	fclose(f);
	free(path);
}

static const struct rpl_edge *find_edge(const struct rpl_node *n, const char *dep,
                                        enum rpl_edge_kind kind)
{
	for (size_t i = 0; i < n->ndeps; i++)
		if (n->deps[i].kind == kind && !strcmp(n->deps[i].dep, dep))
			return &n->deps[i];
	return NULL;
}

static const struct rpl_edge *find_image_edge(const struct rpl_node *n, const char *to)
{
	for (size_t i = 0; i < n->ndeps; i++)
		if (n->deps[i].kind == RPL_EDGE_IMAGE && !strcmp(n->deps[i].to->name, to))
			return &n->deps[i];
	return NULL;
}

/* Joins node names with spaces into `buf`. */
static void names(char *buf, size_t size, struct rpl_node *const *v, size_t n)
{
	size_t len = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < n && len < size; i++)
		len += (size_t)snprintf(buf + len, size - len, "%s%s", i ? " " : "", v[i]->name);
}

static int compare_list(const char *casefile, int line, const char *what, const char *got,
                        const char *want)
{
	if (!strcmp(got, want))
		return 0;
	print_error("%s:%d: %s is '%s', expected '%s'\n", casefile, line, what, got, want);
	return 1;
}

/*
 * The graph-wide expectations, "KEYWORD ARGS: VALUES":
 *   order: a b c                    origins in build order
 *   cycle: a b                      a cycle with these members, in bootstrap order
 *   back: a->b c->d                 every cycle's back edges (distinct pairs, in graph order)
 *   deps NAME [N]: x y              what NAME depends on (build and image edges, depth N)
 *   rdeps NAME [N]: x y             what depends on NAME
 *   critical a=5 b=3 ...: 8 a b     durations given; the longest path's total and nodes
 */
static int check_graph(const char *casefile, int line, struct rpl_graph *g, char *exp)
{
	char *colon = strchr(exp, ':'), *args[16], *want = colon + 1, got[4096];
	int nargs = 0, fail = 0;

	*colon = '\0';
	while (*want == ' ')
		want++;
	for (char *tok = strtok(exp, " \t"); tok && nargs < 16; tok = strtok(NULL, " \t"))
		args[nargs++] = tok;
	if (!strcmp(args[0], "order")) {
		struct rpl_node *v[512];
		size_t n = 0;
		for (size_t i = 0; i < g->nnodes && n < 512; i++)
			if (g->order[i]->kind == RPL_NODE_ORIGIN)
				v[n++] = g->order[i];
		names(got, sizeof(got), v, n);
		return compare_list(casefile, line, "the order", got, want);
	}
	if (!strcmp(args[0], "cycle")) {
		for (size_t i = 0; i < g->nsccs; i++) {
			names(got, sizeof(got), g->sccs[i].members, g->sccs[i].n);
			if (g->sccs[i].n > 1 && !strcmp(got, want))
				return 0;
		}
		print_error("%s:%d: no cycle '%s'\n", casefile, line, want);
		for (size_t i = 0; i < g->nsccs; i++)
			if (g->sccs[i].n > 1) {
				names(got, sizeof(got), g->sccs[i].members, g->sccs[i].n);
				print_error("  there is '%s'\n", got);
			}
		return 1;
	}
	if (!strcmp(args[0], "back")) {
		size_t len = 0, nback = 0, counted = 0;
		got[0] = '\0';
		for (size_t i = 0; i < g->nnodes; i++) {
			const struct rpl_node *v = g->order[i];
			size_t before, after;
			struct rpl_node **c = rpl_graph_cycle_deps(g, v, &before, &after);
			for (size_t k = before; k < before + after && len < sizeof(got); k++)
				len += (size_t)snprintf(got + len, sizeof(got) - len, "%s%s->%s",
				                        len ? " " : "", v->name, c[k]->name);
			nback += after;
			free(c);
		}
		for (size_t i = 0; i < g->nsccs; i++)
			counted += rpl_graph_back_edges(g, &g->sccs[i]);
		if (counted != nback) {
			print_error("%s:%d: %zu back edges counted, %zu listed\n", casefile, line,
			            counted, nback);
			return 1;
		}
		return compare_list(casefile, line, "the back edges", got, want);
	}
	if ((!strcmp(args[0], "deps") || !strcmp(args[0], "rdeps")) && nargs >= 2) {
		struct rpl_node *root = rpl_graph_find(g, args[1]), **v;
		size_t n;
		if (!root) {
			print_error("%s:%d: no node %s\n", casefile, line, args[1]);
			return 1;
		}
		v = rpl_graph_closure(g, &root, 1,
		                      args[0][0] == 'r' ? RPL_WALK_RDEPS : RPL_WALK_DEPS,
		                      (1u << RPL_EDGE_BUILD) | (1u << RPL_EDGE_IMAGE),
		                      nargs > 2 ? (unsigned)atoi(args[2]) : 0, &n);
		names(got, sizeof(got), v, n);
		free(v);
		return compare_list(casefile, line, args[0], got, want);
	}
	if (!strcmp(args[0], "critical")) {
		struct rpl_node **path;
		size_t n;
		double total;
		char list[2048];
		for (int i = 1; i < nargs; i++) {
			char *eq = strchr(args[i], '=');
			struct rpl_node *v;
			if (!eq) {
				print_error("%s:%d: want NAME=SECONDS, not %s\n", casefile, line,
				            args[i]);
				return 1;
			}
			*eq = '\0';
			v = rpl_graph_find(g, args[i]);
			if (!v) {
				print_error("%s:%d: no node %s\n", casefile, line, args[i]);
				return 1;
			}
			v->duration = atof(eq + 1);
		}
		total = rpl_graph_critical_path(g, &path, &n);
		names(list, sizeof(list), path, n);
		snprintf(got, sizeof(got), "%g %s", total, list);
		free(path);
		fail = compare_list(casefile, line, "the critical path", got, want);
		for (size_t i = 0; i < g->nnodes; i++)
			g->nodes[i]->duration = 0;
		return fail;
	}
	print_error("%s:%d: unknown expectation '%s'\n", casefile, line, args[0]);
	return 1;
}

static int check(const char *casefile, int line, struct rpl_graph *g, char *exp)
{
	char *words[8];
	int n = 0;

	if (!strncmp(exp, "back:", 5) || (strchr(exp, ':') && !strstr(exp, "->")))
		return check_graph(casefile, line, g, exp);

	for (char *tok = strtok(exp, " \t"); tok && n < 8; tok = strtok(NULL, " \t"))
		words[n++] = tok;
	if (!n)
		return 0;
	if (n == 2 && !strcmp(words[1], "absent")) {
		const struct rpl_node *v = rpl_graph_find(g, words[0]);
		if (v && v->kind == RPL_NODE_ORIGIN && !strcmp(v->name, words[0])) {
			print_error("%s:%d: %s is in the %s graph\n", casefile, line, words[0],
			            g->arch);
			return 1;
		}
		return 0;
	}
	if (n < 5 || strcmp(words[3], "->")) {
		print_error("%s:%d: cannot read expectation\n", casefile, line);
		return 1;
	}
	const struct rpl_node *from = rpl_graph_find(g, words[0]);
	if (!from) {
		print_error("%s:%d: no node %s\n", casefile, line, words[0]);
		return 1;
	}
	const struct rpl_edge *e = !strcmp(words[1], "image")
	                                   ? find_image_edge(from, words[4])
	                                   : find_edge(from, words[2], RPL_EDGE_BUILD);
	if (!strcmp(words[4], "none")) {
		if (e) {
			print_error("%s:%d: %s has an edge for %s (to %s), expected none\n",
			            casefile, line, words[0], words[2], e->to->name);
			return 1;
		}
		return 0;
	}
	const char *want = words[4];
	int want_external = 0;
	if (!strcmp(words[4], "external") && n >= 6) {
		want_external = 1;
		want = words[5];
	}
	if (!e) {
		print_error("%s:%d: %s has no edge for %s\n", casefile, line, words[0], words[2]);
		return 1;
	}
	if (strcmp(e->to->name, want) || (want_external && e->to->kind != RPL_NODE_EXTERNAL) ||
	    (!want_external && e->to->kind == RPL_NODE_EXTERNAL)) {
		print_error("%s:%d: %s needs %s -> %s%s, expected %s%s\n", casefile, line, words[0],
		            words[2], e->to->kind == RPL_NODE_EXTERNAL ? "external " : "",
		            e->to->name, want_external ? "external " : "", want);
		return 1;
	}
	return 0;
}

/* Whether a word of `line` finds a node of another name (a provided name). */
static int names_provided(const struct rpl_graph *g, const char *line)
{
	char *copy = rpl_xstrdup(line), *save = NULL;
	int found = 0;

	for (char *w = strtok_r(copy, " :=", &save); w && !found;
	     w = strtok_r(NULL, " :=", &save)) {
		const struct rpl_node *v = rpl_graph_find(g, w);
		found = v && strcmp(v->name, w);
	}
	free(copy);
	return found;
}

static int same_str(const char *a, const char *b)
{
	return a == b || (a && b && !strcmp(a, b));
}

/*
 * The graph, encoded and decoded again (graph/codec.c), is the same graph:
 * nodes, edges, reverse edges, components, order.  Every prefix of the
 * encoding is refused cleanly.  Returns the decoded graph in `out`.
 */
static void roundtrip(const struct rpl_graph *g, struct rpl_graph *out)
{
	struct rpl_strbuf b = RPL_STRBUF_INIT;
	struct rpl_strtab tab = RPL_STRTAB_INIT;
	struct rpl_cursor c;

	rpl_graph_encode(g, &b, &tab);
	c = rpl_cursor_make(b.buf, b.len);
	assert_int_equal(rpl_graph_decode(out, &c, tab.data.buf, tab.data.len), 0);
	assert_true(c.p == c.end);
	assert_string_equal(out->arch, g->arch);
	assert_int_equal(out->nnodes, g->nnodes);
	assert_int_equal(out->norigins, g->norigins);
	assert_int_equal(out->nimages, g->nimages);
	assert_int_equal(out->nexternals, g->nexternals);
	assert_int_equal(out->nunresolved, g->nunresolved);
	for (size_t i = 0; i < g->nnodes; i++) {
		const struct rpl_node *x = g->nodes[i], *y = out->nodes[i];
		assert_int_equal(x->kind, y->kind);
		assert_string_equal(x->name, y->name);
		assert_true(same_str(x->version, y->version));
		assert_true(same_str(x->source, y->source));
		assert_int_equal(x->scc, y->scc);
		assert_int_equal(x->pos, y->pos);
		assert_ptr_equal(out->order[y->pos], y);
		assert_null(y->entry);
		assert_int_equal(x->ndeps, y->ndeps);
		for (size_t e = 0; e < x->ndeps; e++) {
			assert_int_equal(x->deps[e].to->id, y->deps[e].to->id);
			assert_int_equal(x->deps[e].kind, y->deps[e].kind);
			assert_true(same_str(x->deps[e].dep, y->deps[e].dep));
			assert_true(same_str(x->deps[e].provider, y->deps[e].provider));
			assert_true(same_str(x->deps[e].via, y->deps[e].via));
			assert_true(same_str(x->deps[e].subpackage, y->deps[e].subpackage));
		}
		assert_int_equal(x->nrdeps, y->nrdeps);
		for (size_t r = 0; r < x->nrdeps; r++)
			assert_int_equal(x->rdeps[r]->id, y->rdeps[r]->id);
	}
	assert_int_equal(out->nsccs, g->nsccs);
	for (size_t k = 0; k < g->nsccs; k++) {
		assert_int_equal(out->sccs[k].n, g->sccs[k].n);
		assert_int_equal(out->sccs[k].nclosing, g->sccs[k].nclosing);
		assert_string_equal(out->sccs[k].key, g->sccs[k].key);
		for (size_t m = 0; m < g->sccs[k].n; m++)
			assert_int_equal(out->sccs[k].members[m]->id, g->sccs[k].members[m]->id);
	}
	for (size_t n = 0; n < b.len; n++) {
		struct rpl_graph bad;
		c = rpl_cursor_make(b.buf, n);
		assert_int_not_equal(rpl_graph_decode(&bad, &c, tab.data.buf, tab.data.len), 0);
	}
	rpl_strtab_release(&tab);
	rpl_strbuf_release(&b);
}

static int run_case(const char *path)
{
	char *text, *p, dir[256];
	const char *arch = "x86_64";
	char *cur = NULL, *body = NULL;
	size_t len;
	int failures = 0, line = 0, expect_line = 0;
	char *expect = NULL;
	struct rpl_scan scan;
	struct rpl_graph g, decoded;
	struct rpl_graph_opts go = { 0 };
	struct rpl_scan_opts so = { 0 };
	char cwd[4096];

	assert_int_equal(rpl_read_file(path, &text, &len), 0);
	assert_int_equal(rpl_test_mkdtemp(dir, sizeof(dir), "resolve"), 0);
	/* Split into files at lines that start with "== ". */
	p = text;
	while (*p) {
		char *eol = strchr(p, '\n');
		size_t l = eol ? (size_t)(eol - p) : strlen(p);
		line++;
		if (!cur && !strncmp(p, "arch: ", 6)) {
			p[l] = '\0';
			arch = p + 6;
		} else if (!strncmp(p, "== ", 3)) {
			if (cur && strcmp(cur, "expect"))
				write_file(dir, cur, body, (size_t)(p - body));
			p[l] = '\0';
			cur = p + 3;
			body = eol ? eol + 1 : p + l;
			if (!strcmp(cur, "expect")) {
				expect = body;
				expect_line = line + 1;
			}
		}
		p = eol ? eol + 1 : p + l;
	}
	if (cur && strcmp(cur, "expect"))
		write_file(dir, cur, body, strlen(body));
	assert_non_null(expect);

	so.archs = &arch;
	so.narchs = 1;
	so.compile = 1;
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	assert_int_equal(rpl_scan_run(&scan, dir, &so), 0);
	for (size_t i = 0; i < scan.nentries; i++)
		if (scan.entries[i].error) {
			print_error("%s: %s\n", path, scan.entries[i].error);
			failures++;
		}
	go.arch = arch;
	assert_int_equal(rpl_graph_build(&g, &scan, &go), 0);
	/* The decoded graph answers every expectation as the built one does. */
	roundtrip(&g, &decoded);
	for (char *l = strtok_r(expect, "\n", &p); l; l = strtok_r(NULL, "\n", &p)) {
		char *copy = rpl_xstrdup(l);
		if (l[0] != '#') {
			failures += check(path, expect_line, &g, copy);
			/* Except lines naming a subpackage or provided name:
			 * finding one takes the resolver, which a decoded graph
			 * does not keep. */
			strcpy(copy, l);
			if (!names_provided(&g, l))
				failures += check(path, expect_line, &decoded, copy);
		}
		free(copy);
		expect_line++;
	}
	rpl_graph_release(&decoded);
	rpl_graph_release(&g);
	rpl_scan_release(&scan);
	assert_int_equal(rpl_test_remove_tree(dir), 0);
	free(text);
	return failures;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void test_cases(void **state)
{
	const char *fixtures = RPL_FIXTURES "/resolve";
	DIR *d = opendir(fixtures);
	struct dirent *de;
	char **names = NULL;
	size_t n = 0, alloc = 0;
	int failures = 0;

	(void)state;
	assert_non_null(d);
	while ((de = readdir(d)))
		if (strstr(de->d_name, ".case")) {
			RPL_ALLOC_GROW(names, n + 1, alloc);
			names[n++] = rpl_path_join(fixtures, de->d_name);
		}
	closedir(d);
	qsort(names, n, sizeof(*names), cmp_str);
	for (size_t i = 0; i < n; i++) {
		int f = run_case(names[i]);
		if (f)
			print_error("FAILED: %s (%d)\n", names[i], f);
		failures += f;
		free(names[i]);
	}
	free(names);
	print_message("%zu resolver cases\n", n);
	assert_true(n >= 1);
	assert_int_equal(failures, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cases),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
