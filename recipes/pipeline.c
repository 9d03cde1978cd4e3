/*
 * Compiling a recipe for one architecture, after melange's Compile
 * (pkg/build/compile.go).
 *
 * Each step is compiled in a scope: the recipe's base map (package.*,
 * targets.*, host/cross triplets, build.arch, vars, options) extended by the
 * `inputs.*` of every enclosing `uses:`.  A `uses:` step takes the body of
 * its definition (runs, needs, nested pipeline) and keeps its own name, with,
 * if and working-directory.  Substitution here is strict: an undefined
 * variable is an error.  A step whose `if:` is false contributes nothing.
 */
#include "recipes/pipeline.h"
#include "common/error.h"
#include "common/file.h"
#include "common/strbuf.h"
#include "common/strmap.h"
#include "common/xalloc.h"
#include "recipes/cond.h"
#include "recipes/subst.h"
#include "recipes/yaml.h"

#include <dirent.h>
#include <errno.h>
#include <stdalign.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* ---- the library of definitions ----------------------------------------- */

struct defvec {
	struct rpl_pipeline_def *v;
	size_t n, alloc;
	struct rpl_sha256 h; /* over every definition read */
};

/*
 * Adds the definition `name` from `text`, or with the error `unread` when
 * its file could not be read (a recipe using it then fails, as with one
 * that does not parse).
 */
static void add_def(struct rpl_pipeline_lib *lib, struct defvec *dv, const char *name,
                    const char *file, int builtin, const char *text, size_t len, const char *unread)
{
	rpl_sha256_update_str(&dv->h, name);
	rpl_sha256_update_str(&dv->h, file);
	rpl_sha256_update(&dv->h, text, len);
	struct rpl_ydoc doc;
	struct rpl_pipeline_def *d;
	struct rpl_dctx dc = { &lib->arena, NULL, 1 };

	RPL_ALLOC_GROW(dv->v, dv->n + 1, dv->alloc);
	d = &dv->v[dv->n++];
	memset(d, 0, sizeof(*d));
	d->name = rpl_arena_strdup(&lib->arena, name);
	d->file = rpl_arena_strdup(&lib->arena, file);
	d->builtin = builtin;
	dc.file = d->file;
	if (unread) {
		rpl_sha256_update_str(&dv->h, unread);
		d->error = rpl_arena_strdup(&lib->arena, unread);
		return;
	}
	if (rpl_yaml_parse(&doc, d->file, text, len) ||
	    rpl_decode(&dc, doc.root, &rpl_step_schema, &d->step))
		d->error = rpl_arena_strdup(&lib->arena, rpl_errmsg());
	rpl_ydoc_release(&doc);
	for (size_t i = 0; i < d->step.ninputs; i++)
		d->step.inputs[i].var =
		        rpl_arena_printf(&lib->arena, "inputs.%s", d->step.inputs[i].name.s);
}

/*
 * Adds every *.yaml below `dir` (the pipeline name is the path below
 * `base`).  Links to directories are not followed (two links to "." would
 * walk the tree 2^depth times), and a file that is not a regular one, is
 * too large or leads outside `real_root` becomes a definition with that
 * error rather than being read.
 */
static int scan_dir(struct rpl_pipeline_lib *lib, struct defvec *dv, const char *root,
                    const char *real_root, const char *rel_base, const char *sub)
{
	char *path = sub[0] ? rpl_path_join(rel_base, sub) : rpl_xstrdup(rel_base);
	char *abs = rpl_path_join(root, path);
	DIR *d = opendir(abs);
	struct dirent *de;
	int err = 0;

	if (!d) {
		if (errno != ENOENT && errno != ENOTDIR)
			err = rpl_error(-errno, "cannot read pipeline dir '%s': %s", abs,
			                strerror(errno));
		goto out;
	}
	while (!err && (de = readdir(d))) {
		char *child, *rel, *full;
		struct stat st;

		if (de->d_name[0] == '.')
			continue;
		child = sub[0] ? rpl_path_join(sub, de->d_name) : rpl_xstrdup(de->d_name);
		rel = rpl_path_join(rel_base, child);
		full = rpl_path_join(root, rel);
		if (lstat(full, &st) < 0) {
			/* gone since readdir */
		} else if (S_ISDIR(st.st_mode)) {
			err = scan_dir(lib, dv, root, real_root, rel_base, child);
		} else if (rpl_str_endswith(de->d_name, ".yaml") &&
		           !(S_ISLNK(st.st_mode) && stat(full, &st) == 0 && S_ISDIR(st.st_mode))) {
			char *text = NULL;
			size_t len = 0;
			char *name = rpl_xstrndup(child, strlen(child) - 5);

			if (real_root && rpl_path_check_inside(real_root, full))
				add_def(lib, dv, name, rel, 0, "", 0, rpl_errmsg());
			else if (rpl_read_file_max(full, RPL_YAML_MAX_FILE, &text, &len))
				add_def(lib, dv, name, rel, 0, "", 0, rpl_errmsg());
			else
				add_def(lib, dv, name, rel, 0, text, len, NULL);
			free(text);
			free(name);
		}
		free(full);
		free(rel);
		free(child);
	}
	closedir(d);
out:
	free(abs);
	free(path);
	return err;
}

static int cmp_def(const void *a, const void *b)
{
	const struct rpl_pipeline_def *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	return c ? c : x->builtin - y->builtin;
}

int rpl_pipeline_lib_init(struct rpl_pipeline_lib *lib, const char *root, const char *const *dirs,
                          size_t ndirs)
{
	struct defvec dv = { NULL, 0, 0, { NULL } };
	int err = 0;

	char *real_root = realpath(root, NULL);

	rpl_arena_init(&lib->arena);
	rpl_sha256_init(&dv.h);
	for (size_t i = 0; i < ndirs && !err; i++)
		err = scan_dir(lib, &dv, root, real_root, dirs[i], "");
	free(real_root);
	for (size_t i = 0; i < rpl_nbuiltin_pipelines && !err; i++) {
		const struct rpl_builtin_pipeline *b = &rpl_builtin_pipelines[i];
		char file[256];

		snprintf(file, sizeof(file), "builtin:%s", b->name);
		add_def(lib, &dv, b->name, file, 1, b->text, b->len, NULL);
	}
	/* A stable sort keeps the earlier dir first among repo files of one name. */
	for (size_t i = 1; i < dv.n; i++) {
		struct rpl_pipeline_def t = dv.v[i];
		size_t j = i;
		while (j > 0 && cmp_def(&dv.v[j - 1], &t) > 0) {
			dv.v[j] = dv.v[j - 1];
			j--;
		}
		dv.v[j] = t;
	}
	rpl_sha256_final(&dv.h, lib->digest);
	lib->defs = rpl_arena_memdup(&lib->arena, dv.v, dv.n, sizeof(*dv.v));

	lib->ndefs = dv.n;
	free(dv.v);
	return err;
}

void rpl_pipeline_lib_release(struct rpl_pipeline_lib *lib)
{
	rpl_arena_release(&lib->arena);
	lib->defs = NULL;
	lib->ndefs = 0;
}

const struct rpl_pipeline_def *rpl_pipeline_lib_find(const struct rpl_pipeline_lib *lib,
                                                     const char *name)
{
	size_t lo = 0, hi = lib->ndefs;

	/* The first entry of the name: repo dirs sort before built-ins. */
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (strcmp(lib->defs[mid].name, name) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < lib->ndefs && !strcmp(lib->defs[lo].name, name))
		return &lib->defs[lo];
	return NULL;
}

/* ---- arch names ----------------------------------------------------------- */

struct arch_info {
	const char *apk, *go, *gnu, *rust;
};

static const struct arch_info arches[] = {
	{ "x86_64", "amd64", "x86_64-pc-linux-gnu", "x86_64-unknown-linux-gnu" },
	{ "aarch64", "arm64", "aarch64-unknown-linux-gnu", "aarch64-unknown-linux-gnu" },
	{ "x86", "386", "i686-pc-linux-gnu", "i686-unknown-linux-gnu" },
	{ "armhf", "arm", "arm-unknown-linux-gnueabihf", "arm-unknown-linux-gnueabihf" },
	{ "armv7", "arm", "armv7-unknown-linux-gnueabihf", "armv7-unknown-linux-gnueabihf" },
	{ "ppc64le", "ppc64le", "powerpc64le-unknown-linux-gnu", "powerpc64le-unknown-linux-gnu" },
	{ "riscv64", "riscv64", "riscv64-unknown-linux-gnu", "riscv64gc-unknown-linux-gnu" },
	{ "s390x", "s390x", "s390x-ibm-linux-gnu", "s390x-unknown-linux-gnu" },
	{ "loongarch64", "loong64", "loongarch64-unknown-linux-gnu",
	  "loongarch64-unknown-linux-gnu" },
};

static const struct arch_info *arch_find(const char *arch)
{
	for (size_t i = 0; i < sizeof(arches) / sizeof(*arches); i++)
		if (!strcmp(arches[i].apk, arch))
			return &arches[i];
	return NULL;
}

const char *rpl_arch_triplet(const char *arch, int rust, int musl)
{
	static _Thread_local char buf[64];
	const struct arch_info *a = arch_find(arch);
	const char *t, *gnu;

	if (!a)
		return NULL;
	t = rust ? a->rust : a->gnu;
	if (!musl)
		return t;
	/* The musl triplet swaps the trailing "gnu" ABI word for "musl". */
	gnu = strstr(t, "-gnu");
	snprintf(buf, sizeof(buf), "%.*s-musl%s", (int)(gnu - t), t, gnu + 4);
	return buf;
}

const char *rpl_arch_goarch(const char *arch)
{
	const struct arch_info *a = arch_find(arch);
	return a ? a->go : NULL;
}

/* ---- compiling ------------------------------------------------------------ */

struct needvec {
	struct rpl_need *v;
	size_t n, alloc;
};

struct strvec {
	const char **v;
	size_t n, alloc;
};

struct cctx {
	const struct rpl_recipe *r;
	const struct rpl_pipeline_lib *lib;
	struct rpl_compiled *out;
	struct rpl_arena *a;
	unsigned flags;
	const char *sub; /* subpackage being compiled, NULL for the main pipeline */
	struct needvec *needs;
	struct strvec *files;
	int depth;
	/* Inside a pipeline definition: its file, and the recipe's `uses:`
	 * that led there (see step_error). */
	const char *in_def;
	uint32_t at_line, at_col;
	int skipping; /* inside a step whose if: is false */
	/* Steps compiled and bytes substituted so far: `uses:` of pipelines
	 * that use pipelines multiply both (ten steps of ten uses of ... nine
	 * deep is 10^9 steps), so each is bounded per compile. */
	size_t nsteps, spent;
};

enum { MAX_USES_DEPTH = 32 };

static void add_need(struct cctx *c, const char *name, const char *via)
{
	RPL_ALLOC_GROW(c->needs->v, c->needs->n + 1, c->needs->alloc);
	c->needs->v[c->needs->n].name = name;
	c->needs->v[c->needs->n].via = via;
	c->needs->v[c->needs->n].subpackage = c->sub;
	c->needs->n++;
}

static void add_file(struct cctx *c, const char *file)
{
	for (size_t i = 0; i < c->files->n; i++)
		if (!strcmp(c->files->v[i], file))
			return;
	RPL_ALLOC_GROW(c->files->v, c->files->n + 1, c->files->alloc);
	c->files->v[c->files->n++] = file;
}
/*
 * Formats an error at line:col of the file being compiled.  Inside a
 * pipeline definition the message starts at the recipe's `uses:` that led
 * there and then names the definition's own position:
 *   foo.yaml:12:11: in pipelines/x.yaml:4:9: runs: variable 'y' not defined
 */
static int step_error(struct cctx *c, uint32_t line, uint32_t col, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));

static int step_error(struct cctx *c, uint32_t line, uint32_t col, const char *fmt, ...)
{
	struct rpl_strbuf sb = RPL_STRBUF_INIT;
	va_list ap;

	if (c->in_def)
		rpl_strbuf_addf(&sb, "%s:%u:%u: in %s:%u:%u: ", c->r->file, c->at_line, c->at_col,
		                c->in_def, line ? line : 1, line ? col : 1);
	else
		rpl_strbuf_addf(&sb, "%s:%u:%u: ", c->r->file, line ? line : 1, line ? col : 1);
	va_start(ap, fmt);
	rpl_strbuf_vaddf(&sb, fmt, ap);
	va_end(ap);
	rpl_error(-RPL_ESCHEMA, "%s", sb.buf);
	rpl_strbuf_release(&sb);
	return -RPL_ESCHEMA;
}

/* Which file positions refer to: entering a definition, and back. */
struct where {
	const char *in_def;
	uint32_t at_line, at_col;
};

static struct where enter_def(struct cctx *c, const struct rpl_step *s,
                              const struct rpl_pipeline_def *def)
{
	struct where saved = { c->in_def, c->at_line, c->at_col };

	if (!c->in_def) {
		c->at_line = s->uses.line;
		c->at_col = s->uses.col;
	}
	c->in_def = def->file;
	return saved;
}

static void leave_def(struct cctx *c, struct where saved)
{
	c->in_def = saved.in_def;
	c->at_line = saved.at_line;
	c->at_col = saved.at_col;
}

static int is_hex(const char *s, size_t want)
{
	size_t n = 0;

	for (; s[n]; n++)
		if (!((s[n] >= '0' && s[n] <= '9') || (s[n] >= 'a' && s[n] <= 'f') ||
		      (s[n] >= 'A' && s[n] <= 'F')))
			return 0;
	return n == want;
}

/* melange's validateWith length checks for checksum and commit inputs. */
static const char *check_input_value(const char *key, const char *val)
{
	if (!*val)
		return NULL;
	if (!strcmp(key, "expected-sha256") && !is_hex(val, 64))
		return "expected-sha256 must be 64 hexadecimal characters";
	if (!strcmp(key, "expected-sha512") && !is_hex(val, 128))
		return "expected-sha512 must be 128 hexadecimal characters";
	if (!strcmp(key, "expected-commit") && !is_hex(val, 40))
		return "expected-commit must be 40 hexadecimal characters";
	return NULL;
}

/* Counts `n` bytes substituted into `what` at line:col against RPL_SUBST_MAX_TOTAL. */
static int spend(struct cctx *c, size_t n, const char *what, uint32_t line, uint32_t col)
{
	c->spent += n;
	if (c->spent > RPL_SUBST_MAX_TOTAL)
		return step_error(c, line, col,
		                  "%s: substitution makes more than %zu MiB of text for one arch",
		                  what, RPL_SUBST_MAX_TOTAL >> 20);
	return 0;
}

/* Substitutes `t` strictly; an error points at `t` in the current file. */
static int subst_text(struct cctx *c, const struct rpl_text *t, const struct rpl_varmap *scope,
                      enum rpl_subst_mode mode, const char *what, const char **out)
{
	if (rpl_subst_strict(c->a, t->s, scope, mode, out)) {
		char msg[512];
		snprintf(msg, sizeof(msg), "%s", rpl_errmsg());
		return step_error(c, t->line, t->col, "%s: %s", what, msg);
	}
	return spend(c, *out != t->s ? strlen(*out) : 0, what, t->line, t->col);
}

/* Substitutes and evaluates an `if:`; `*cond` is 1 for an empty one. */
static int eval_if(struct cctx *c, const struct rpl_text *t, const struct rpl_varmap *scope,
                   const char **out, int *cond)
{
	int err = subst_text(c, t, scope, RPL_SUBST_QUOTED, "if", out);

	*cond = 1;
	if (!err && rpl_cond_eval(*out, cond)) {
		char msg[512];
		snprintf(msg, sizeof(msg), "%s", rpl_errmsg());
		err = step_error(c, t->line, t->col, "cannot parse condition '%s': %s", t->s, msg);
	}
	return err;
}

static int compile_steps(struct cctx *c, const struct rpl_step *src, size_t n,
                         const struct rpl_varmap *scope, struct rpl_cstep **out, size_t *nout);

/*
 * As subst_text for a value of the calling step while its definition
 * is entered: positions are the caller's (`outer`), and the scope keeps
 * the step's inputs, as melange substitutes the merged step.
 */
static int subst_own(struct cctx *c, struct where outer, const struct rpl_text *t,
                     const struct rpl_varmap *scope, const char *what, const char **out)
{
	struct where inner = { c->in_def, c->at_line, c->at_col };
	int err;

	leave_def(c, outer);
	err = subst_text(c, t, scope, RPL_SUBST_PLAIN, what, out);
	leave_def(c, inner);
	return err;
}

/*
 * Fills the scope of a `uses:` step: every declared input gets the step's
 * `with` value or its default, resolved against the parent scope.  Errors
 * in `with` point at the step; errors in a default, into the definition.
 */
static int bind_inputs(struct cctx *c, const struct rpl_step *s, const struct rpl_pipeline_def *def,
                       const struct rpl_varmap *parent, struct rpl_varmap *scope,
                       struct rpl_kvlist *with)
{
	const struct rpl_step *body = &def->step;

	for (size_t i = 0; i < s->with.n; i++) {
		size_t k;
		for (k = 0; k < body->ninputs; k++)
			if (!strcmp(body->inputs[k].name.s, s->with.v[i].key.s))
				break;
		if (k == body->ninputs)
			return step_error(c, s->with.v[i].key.line, s->with.v[i].key.col,
			                  "undefined input '%s' to pipeline '%s'",
			                  s->with.v[i].key.s, s->uses.s);
	}
	with->n = body->ninputs;
	with->v = with->n ? rpl_arena_alloc(c->a, with->n * sizeof(*with->v)) : NULL;
	for (size_t k = 0; k < body->ninputs; k++) {
		const struct rpl_input_decl *in = &body->inputs[k];
		const struct rpl_kv *given = rpl_kvlist_get(&s->with, in->name.s);
		const struct rpl_text *src =
		        given && *given->val.s ? &given->val : &in->default_value;
		const char *val, *bad;
		int err;

		if (in->required && !*src->s)
			return step_error(c, s->uses.line, s->uses.col,
			                  "required input '%s' for pipeline '%s' is missing",
			                  in->name.s, s->uses.s);
		if (src == &in->default_value) {
			struct where saved = enter_def(c, s, def);
			err = subst_text(c, src, parent, RPL_SUBST_PLAIN, "input default", &val);
			leave_def(c, saved);
		} else {
			err = subst_text(c, src, parent, RPL_SUBST_PLAIN, "input", &val);
		}
		if (err)
			return err;
		if ((bad = check_input_value(in->name.s, val)))
			return step_error(c, src->line, src->col, "%s", bad);
		with->v[k].key = in->name;
		with->v[k].val = rpl_text_make(val);
		rpl_varmap_set(scope, in->var, val);
	}
	return 0;
}

/*
 * The definition a `uses:` step names, loaded into `d`: known, valid and not
 * nested too deep; its file counted among the recipe's inputs and its inputs
 * bound in `scope`.
 */
static int use_def(struct cctx *c, const struct rpl_step *s, const struct rpl_varmap *parent,
                   struct rpl_varmap *scope, struct rpl_cstep *d,
                   const struct rpl_pipeline_def **out)
{
	const struct rpl_pipeline_def *def = rpl_pipeline_lib_find(c->lib, s->uses.s);

	if (!def)
		return step_error(
		        c, s->uses.line, s->uses.col,
		        "unknown pipeline '%s' (not in the repository's pipeline dirs nor built in)",
		        s->uses.s);
	if (def->error)
		return step_error(c, s->uses.line, s->uses.col, "pipeline '%s' is invalid: %s",
		                  s->uses.s, def->error);
	if (c->depth >= MAX_USES_DEPTH)
		return step_error(c, s->uses.line, s->uses.col,
		                  "pipeline '%s' nests 'uses' more than %d deep (a cycle?)",
		                  s->uses.s, MAX_USES_DEPTH);
	*out = def;
	d->uses = s->uses.s;
	d->pipeline_file = def->file;
	if (!def->builtin)
		add_file(c, def->file);
	return bind_inputs(c, s, def, parent, scope, &d->with);
}

/*
 * The step's needs.packages into `d`, each counted as a need unless the step
 * is skipped.  As with `runs`, a `uses:` step's own count unless the
 * definition gives its own (or a null `needs:`); they are the caller's text.
 */
static int compile_needs(struct cctx *c, const struct rpl_step *s, const struct rpl_step *body,
                         const struct rpl_pipeline_def *def, struct where saved,
                         const struct rpl_varmap *scope, struct rpl_cstep *d)
{
	const char *via = d->uses ? d->uses : (*s->name.s ? s->name.s : "pipeline");
	const struct rpl_step *ns = def && !body->needs_given ? s : body;
	int err;

	d->needs.n = ns->needs.n;
	d->needs.v = d->needs.n ? rpl_arena_alloc(c->a, d->needs.n * sizeof(*d->needs.v)) : NULL;
	for (size_t i = 0; i < ns->needs.n; i++) {
		const char *v;
		if (ns == s && def)
			err = subst_own(c, saved, &ns->needs.v[i], scope, "needs", &v);
		else
			err = subst_text(c, &ns->needs.v[i], scope, RPL_SUBST_PLAIN, "needs", &v);
		if (err)
			return err;
		d->needs.v[i] = rpl_text_make(v);
		if (*v && !c->skipping)
			add_need(c, v, via);
	}
	return 0;
}

static int compile_step(struct cctx *c, const struct rpl_step *s, const struct rpl_varmap *parent,
                        struct rpl_cstep *d)
{
	struct rpl_varmap scope = RPL_VARMAP_INIT;
	const struct rpl_step *body = s;
	const struct rpl_pipeline_def *def = NULL;
	struct where saved = { c->in_def, c->at_line, c->at_col };
	int err = 0, cond = 1, entered = 0;

	scope.parent = parent;
	d->name = s->name.s;
	if (++c->nsteps > RPL_COMPILE_MAX_STEPS) {
		err = step_error(c, s->line, s->col,
		                 "more than %d steps to compile for one arch (pipelines using "
		                 "pipelines?)",
		                 RPL_COMPILE_MAX_STEPS);
		goto out;
	}
	if (*s->uses.s && !s->nsteps) {
		if ((err = use_def(c, s, parent, &scope, d, &def)))
			goto out;
		body = &def->step;
	}

	/* The step's own if and working-directory survive loading its
	 * definition; they are text of the caller's file. */
	if (*s->if_.s && (err = eval_if(c, &s->if_, &scope, &d->if_, &cond)))
		goto out;
	if (*s->working_directory.s &&
	    (err = subst_text(c, &s->working_directory, &scope, RPL_SUBST_PLAIN,
	                      "working-directory", &d->working_directory)))
		goto out;
	if (def) {
		enter_def(c, s, def);
		c->depth++;
		entered = 1;
	}
	if (!*s->if_.s && (err = eval_if(c, &body->if_, &scope, &d->if_, &cond)))
		goto out;
	/* A step whose `if:` is false is still compiled, as melange compiles
	 * it (an undefined variable there is an error too), but contributes no
	 * needs, nor do its children. */
	if (!cond) {
		d->skipped = 1;
		c->skipping++;
	}
	if (!*s->working_directory.s &&
	    (err = subst_text(c, &body->working_directory, &scope, RPL_SUBST_PLAIN,
	                      "working-directory", &d->working_directory)))
		goto out;
	/* melange decodes the definition onto the step (compile.go's
	 * yaml.Unmarshal into the step): what the definition does not set
	 * stays the step's.  Validation keeps `runs` beside `uses` out of
	 * build pipelines, not out of tests. */
	if (def && !*body->runs.s)
		err = subst_own(c, saved, &s->runs, &scope, "runs", &d->runs);
	else
		err = subst_text(c, &body->runs, &scope, RPL_SUBST_PLAIN, "runs", &d->runs);
	if (err)
		goto out;
	d->environment = body->environment.n ? body->environment : s->environment;
	if ((err = compile_needs(c, s, body, def, saved, &scope, d)))
		goto out;
	err = compile_steps(c, body->steps, body->nsteps, &scope, &d->steps, &d->nsteps);
out:
	if (d->skipped)
		c->skipping--;
	if (entered)
		c->depth--;
	leave_def(c, saved);
	rpl_varmap_release(&scope);
	return err;
}

static int compile_steps(struct cctx *c, const struct rpl_step *src, size_t n,
                         const struct rpl_varmap *scope, struct rpl_cstep **out, size_t *nout)
{
	struct rpl_cstep *v = n ? rpl_arena_alloc(c->a, n * sizeof(*v)) : NULL;

	for (size_t i = 0; i < n; i++) {
		int err = compile_step(c, &src[i], scope, &v[i]);
		if (err)
			return err;
	}
	*out = v;
	*nout = n;
	return 0;
}

/*
 * The compile-time map shared by every context of a recipe: melange's
 * NewSubstitutionMap less the entries that name the current (sub)package.
 */
static int common_map(struct cctx *c, const char *arch, struct rpl_varmap *m)
{
	const struct rpl_recipe *r = c->r;
	const struct rpl_package *p = &r->package;
	struct rpl_arena *a = c->a;
	const char *outdir = "/home/build/melange-out";
	struct rpl_varmap vars = RPL_VARMAP_INIT;
	int err = 0;

	rpl_varmap_set(m, "package.name", p->name.s);
	rpl_varmap_set(m, "package.version", p->version.s);
	rpl_varmap_set(m, "package.epoch",
	               rpl_arena_printf(a, "%llu", (unsigned long long)p->epoch));
	rpl_varmap_set(m, "package.full-version",
	               rpl_arena_printf(a, "%s-r%llu", p->version.s, (unsigned long long)p->epoch));
	rpl_varmap_set(m, "package.srcdir", "/home/build");
	rpl_varmap_set(m, "targets.outdir", outdir);
	rpl_varmap_set(m, "targets.destdir", rpl_arena_printf(a, "%s/%s", outdir, p->name.s));
	rpl_varmap_set(m, rpl_arena_printf(a, "targets.package.%s", p->name.s),
	               rpl_varmap_get(m, "targets.destdir"));
	for (size_t i = 0; i < r->nsubpackages; i++)
		rpl_varmap_set(m,
		               rpl_arena_printf(a, "targets.package.%s", r->subpackages[i].name.s),
		               rpl_arena_printf(a, "%s/%s", outdir, r->subpackages[i].name.s));
	if (!rpl_arch_triplet(arch, 0, 0))
		return rpl_error(-RPL_EUSAGE, "unknown architecture '%s'", arch);
	rpl_varmap_set(m, "host.triplet.gnu", rpl_arena_strdup(a, rpl_arch_triplet(arch, 0, 0)));
	rpl_varmap_set(m, "host.triplet.rust", rpl_arena_strdup(a, rpl_arch_triplet(arch, 1, 0)));
	rpl_varmap_set(m, "cross.triplet.gnu.glibc",
	               rpl_arena_strdup(a, rpl_arch_triplet(arch, 0, 0)));
	rpl_varmap_set(m, "cross.triplet.gnu.musl",
	               rpl_arena_strdup(a, rpl_arch_triplet(arch, 0, 1)));
	rpl_varmap_set(m, "cross.triplet.rust.glibc",
	               rpl_arena_strdup(a, rpl_arch_triplet(arch, 1, 0)));
	rpl_varmap_set(m, "cross.triplet.rust.musl",
	               rpl_arena_strdup(a, rpl_arch_triplet(arch, 1, 1)));
	rpl_varmap_set(m, "build.arch", arch);
	rpl_varmap_set(m, "build.goarch", rpl_arch_goarch(arch));

	/* Each var is resolved against the vars before it (melange's GetVarsFromConfig). */
	for (size_t i = 0; i < r->vars.n; i++) {
		const char *v;
		if (rpl_subst_strict(a, r->vars.v[i].val.s, &vars, RPL_SUBST_PLAIN, &v)) {
			char msg[512];
			snprintf(msg, sizeof(msg), "%s", rpl_errmsg());
			err = step_error(c, r->vars.v[i].val.line, r->vars.v[i].val.col,
			                 "vars.%s: %s", r->vars.v[i].key.s, msg);
			goto out;
		}
		if ((err = spend(c, v != r->vars.v[i].val.s ? strlen(v) : 0, "vars",
		                 r->vars.v[i].val.line, r->vars.v[i].val.col)))
			goto out;
		const char *name = rpl_arena_printf(a, "vars.%s", r->vars.v[i].key.s);
		rpl_varmap_set(&vars, name, v);
		rpl_varmap_set(m, name, v);
	}
	for (size_t i = 0; i < r->transformed.n; i++)
		rpl_varmap_set(m, rpl_arena_printf(a, "vars.%s", r->transformed.v[i].key.s),
		               r->transformed.v[i].val.s);
	for (size_t i = 0; i < r->noptions; i++)
		rpl_varmap_set(m, rpl_arena_printf(a, "options.%s.enabled", r->options[i].name.s),
		               "false");
out:
	rpl_varmap_release(&vars);
	return err;
}

/* The entries naming the current context: the main package or a subpackage. */
static void context_map(struct cctx *c, const struct rpl_varmap *common, const char *subname,
                        struct rpl_varmap *m)
{
	m->parent = common;
	if (subname) {
		const char *sd = rpl_varmap_get(
		        common, rpl_arena_printf(c->a, "targets.package.%s", subname));
		rpl_varmap_set(m, "targets.subpkgdir", sd);
		rpl_varmap_set(m, "targets.contextdir", sd);
		rpl_varmap_set(m, "subpkg.name", subname);
		rpl_varmap_set(m, "context.name", subname);
	} else {
		rpl_varmap_set(m, "targets.contextdir", rpl_varmap_get(common, "targets.destdir"));
		rpl_varmap_set(m, "context.name", c->r->package.name.s);
	}
}

static void add_env_needs(struct cctx *c, const struct rpl_textlist *pkgs)
{
	for (size_t i = 0; i < pkgs->n; i++)
		if (*pkgs->v[i].s)
			add_need(c, pkgs->v[i].s, "environment");
}

static int compile_test(struct cctx *c, const struct rpl_varmap *common, const char *subname,
                        const struct rpl_test *t)
{
	struct rpl_varmap m = RPL_VARMAP_INIT;
	struct rpl_cstep *steps;
	size_t nsteps;
	int err;

	if (!t)
		return 0;
	c->sub = subname;
	/* melange installs the package under test into the test environment. */
	add_need(c, subname ? subname : c->r->package.name.s, "test");
	add_env_needs(c, &t->environment.contents.packages);

	context_map(c, common, subname, &m);
	err = compile_steps(c, t->steps, t->nsteps, &m, &steps, &nsteps);
	rpl_varmap_release(&m);
	if (!err && (c->flags & RPL_COMPILE_STEPS)) {
		struct rpl_ctest *ct = &c->out->tests[c->out->ntests++];
		ct->sub = subname;
		ct->steps = steps;
		ct->nsteps = nsteps;
		ct->environment = &t->environment.environment;
	}
	return err;
}

static const char **finish_files(struct rpl_arena *a, struct strvec *sv, size_t *n)
{
	const char **v = rpl_arena_memdup(a, sv->v, sv->n, sizeof(*sv->v));

	for (size_t i = 1; i < sv->n; i++) {
		const char *t = v[i];
		size_t j = i;
		while (j > 0 && strcmp(v[j - 1], t) > 0) {
			v[j] = v[j - 1];
			j--;
		}
		v[j] = t;
	}
	*n = sv->n;
	free(sv->v);
	return v;
}

/*
 * Moves the needs into the compiled result.  Without the step trees the
 * result is self-contained: its strings are copied out of the scratch arena
 * and the recipe, so a scan may free the whole recipe after compiling.
 */
/*
 * `s` copied into the compiled result once: a recipe's needs repeat the
 * pipeline that needs them and the subpackage (tens of thousands of
 * copies over a monorepo).  `kept` maps the source to the copy.
 */
static const char *keep_string(struct rpl_arena *a, struct rpl_strmap *kept, const char *s)
{
	struct rpl_strmap_slot *slot;

	if (!s)
		return NULL;
	slot = rpl_strmap_slot(kept, s);
	if (!slot->value)
		slot->value = rpl_arena_strdup(a, s);
	return slot->value;
}

/* The needs `v` copied into `a`, their strings too when `copy`. */
static struct rpl_need *keep_needs(struct rpl_arena *a, const struct rpl_need *v, size_t n,
                                   int copy, struct rpl_strmap *kept)
{
	struct rpl_need *to = rpl_arena_memdup(a, v, n, sizeof(*v));

	for (size_t i = 0; copy && i < n; i++) {
		to[i].name = keep_string(a, kept, v[i].name);
		to[i].via = keep_string(a, kept, v[i].via);
		to[i].subpackage = keep_string(a, kept, v[i].subpackage);
	}
	return to;
}

/*
 * A compile without its steps moved into an arena of the size it takes: a
 * scan keeps one per recipe and arch (50,000 and more), and the kilobyte
 * its arena started with was mostly empty.  The pipeline files point into
 * the library, as before.
 */
static void compact(struct rpl_compiled *out)
{
	struct rpl_arena a;
	struct rpl_strmap kept = RPL_STRMAP_INIT;

	/* What the arena handed out, and each array's alignment. */
	rpl_arena_init_sized(&a, out->arena.total + 8 * alignof(max_align_t));
	out->arch = rpl_arena_strdup(&a, out->arch);
	out->subs = rpl_arena_memdup(&a, out->subs, out->nsubs, sizeof(*out->subs));
	for (size_t i = 0; i < out->nsubs; i++)
		out->subs[i].name = keep_string(&a, &kept, out->subs[i].name);
	out->needs = keep_needs(&a, out->needs, out->nneeds, 1, &kept);
	out->test_needs = keep_needs(&a, out->test_needs, out->ntest_needs, 1, &kept);
	out->pipeline_files = rpl_arena_memdup(&a, out->pipeline_files, out->npipeline_files,
	                                       sizeof(*out->pipeline_files));
	out->test_pipeline_files =
	        rpl_arena_memdup(&a, out->test_pipeline_files, out->ntest_pipeline_files,
	                         sizeof(*out->test_pipeline_files));
	rpl_strmap_release(&kept);
	rpl_arena_release(&out->arena);
	out->arena = a;
}

int rpl_compile(const struct rpl_recipe *r, const struct rpl_pipeline_lib *lib, const char *arch,
                unsigned flags, struct rpl_compiled *out)
{
	struct needvec needs = { NULL, 0, 0 }, test_needs = { NULL, 0, 0 };
	struct strvec files = { NULL, 0, 0 }, test_files = { NULL, 0, 0 };
	struct rpl_varmap common = RPL_VARMAP_INIT, m = RPL_VARMAP_INIT;
	struct rpl_strmap kept = RPL_STRMAP_INIT;
	struct rpl_arena scratch;
	struct cctx c = { r, lib, out, &out->arena, flags, NULL, &needs, &files, 0 };
	int err;

	memset(out, 0, sizeof(*out));
	/* Without the steps a compile keeps well under a kilobyte. */
	rpl_arena_init_sized(&out->arena, flags & RPL_COMPILE_STEPS ? 16384 : 1024);
	/* Without RPL_COMPILE_STEPS the step trees are built in a scratch arena
	 * and only the needs and files are kept: a scan of thousands of
	 * recipes then holds kilobytes, not megabytes, of compiled text. */
	rpl_arena_init(&scratch);
	if (!(flags & RPL_COMPILE_STEPS))
		c.a = &scratch;
	out->arch = rpl_arena_strdup(&out->arena, arch);
	out->flags = flags;

	add_env_needs(&c, &r->environment.contents.packages);
	if ((err = common_map(&c, arch, &common)))
		goto out;
	context_map(&c, &common, NULL, &m);
	if ((err = compile_steps(&c, r->steps, r->nsteps, &m, &out->steps, &out->nsteps)))
		goto out;
	if (!(flags & RPL_COMPILE_STEPS))
		out->steps = NULL, out->nsteps = 0;
	out->nsubs = r->nsubpackages;
	out->subs =
	        out->nsubs ? rpl_arena_alloc(&out->arena, out->nsubs * sizeof(*out->subs)) : NULL;
	for (size_t i = 0; i < r->nsubpackages; i++) {
		const struct rpl_subpackage *sp = &r->subpackages[i];
		struct rpl_csub *cs = &out->subs[i];
		struct rpl_varmap sm = RPL_VARMAP_INIT;
		const char *cond_text;
		int cond;

		c.sub = sp->name.s;
		cs->name = sp->name.s;
		context_map(&c, &common, sp->name.s, &sm);
		/* The subpackage's `if` decides whether it is emitted; its needs count
		 * either way, as in melange, where it is evaluated after the compile. */
		err = eval_if(&c, &sp->if_, &sm, &cond_text, &cond);
		cs->enabled = cond;
		if (!err)
			err = compile_steps(&c, sp->steps, sp->nsteps, &sm, &cs->steps,
			                    &cs->nsteps);
		rpl_varmap_release(&sm);
		if (err)
			goto out;
	}

	/* Test pipelines: their needs and files are kept apart from the build's. */
	c.needs = &test_needs;
	c.files = &test_files;
	if (flags & RPL_COMPILE_STEPS)
		out->tests =
		        rpl_arena_alloc(&out->arena, (r->nsubpackages + 1) * sizeof(*out->tests));
	if ((err = compile_test(&c, &common, NULL, r->test)))
		goto out;
	for (size_t i = 0; i < r->nsubpackages; i++)
		if ((err = compile_test(&c, &common, r->subpackages[i].name.s,
		                        r->subpackages[i].test)))
			goto out;
out:
	out->needs = keep_needs(&out->arena, needs.v, needs.n, !(flags & RPL_COMPILE_STEPS), &kept);
	out->nneeds = needs.n;
	out->test_needs = keep_needs(&out->arena, test_needs.v, test_needs.n,
	                             !(flags & RPL_COMPILE_STEPS), &kept);
	out->ntest_needs = test_needs.n;
	out->pipeline_files = finish_files(&out->arena, &files, &out->npipeline_files);
	out->test_pipeline_files =
	        finish_files(&out->arena, &test_files, &out->ntest_pipeline_files);
	if (!(flags & RPL_COMPILE_STEPS))
		for (size_t i = 0; i < out->nsubs; i++) {
			out->subs[i].steps = NULL;
			out->subs[i].nsteps = 0;
			out->subs[i].name = keep_string(&out->arena, &kept, out->subs[i].name);
		}
	rpl_strmap_release(&kept);
	rpl_arena_release(&scratch);
	if (!(flags & RPL_COMPILE_STEPS))
		compact(out);
	free(needs.v);
	free(test_needs.v);
	rpl_varmap_release(&m);
	rpl_varmap_release(&common);
	return err;
}

void rpl_compiled_release(struct rpl_compiled *c)
{
	rpl_arena_release(&c->arena);
	memset(c, 0, sizeof(*c));
}
