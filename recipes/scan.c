/*
 * The scan walks the tree once on the calling thread (cheap: names only),
 * then parses and compiles each candidate file as one libuv work item.
 * Work items touch only their own entry and read-only shared state (the
 * pipeline library, the selected archs), so they need no locks.
 */
#include "recipes/scan.h"
#include "common/error.h"
#include "common/file.h"
#include "common/sha256.h"
#include "common/strbuf.h"
#include "common/utf8.h"
#include "common/xalloc.h"
#include "recipes/apko.h"
#include "recipes/cache.h"
#include "recipes/melange.h"
#include "recipes/yaml.h"

#include <dirent.h>
#include <errno.h>
#include <fnmatch.h>
#include <stdalign.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <uv.h>

enum cand_kind { CAND_TOPLEVEL, CAND_MELANGE, CAND_APKO };

struct work {
	struct rpl_scan *scan;
	struct rpl_scan_entry *entry;
	enum cand_kind cand;
	int compile;
	int keep_full;
	const struct rpl_scan_cache *scan_cache;
	int skip; /* a top-level yaml that is neither recipe nor image */
	int link; /* a symbolic link: it must lead to a file below the root */
};

struct candvec {
	struct work *v;
	size_t n, alloc;
};

/*
 * Files go to the thread pool in batches: a warm scan decodes a file from
 * the parse cache in about 10 us, so a request (a lock, a signal, a
 * completion) per file is overhead; 16 per request still spread a cold
 * scan's uneven recipes over the threads.
 */
enum { BATCH = 16 };

struct batch {
	uv_work_t req;
	struct work *v;
	size_t n;
};

static int excluded(const struct rpl_scan *s, const char *rel)
{
	for (size_t i = 0; i < s->config.exclude.n; i++)
		if (!fnmatch(s->config.exclude.v[i].s, rel, FNM_PATHNAME))
			return 1;
	return 0;
}

static int image_glob(const struct rpl_repoconfig *cfg, const char *rel)
{
	for (size_t i = 0; i < cfg->images.n; i++)
		if (!fnmatch(cfg->images.v[i].s, rel, FNM_PATHNAME))
			return 1;
	return 0;
}

static int is_pipeline_dir(const struct rpl_scan *s, const char *rel)
{
	for (size_t i = 0; i < s->config.pipeline_dirs.n; i++)
		if (!strcmp(s->config.pipeline_dirs.v[i].s, rel))
			return 1;
	return 0;
}

int rpl_scan_structural(const struct rpl_repoconfig *cfg, const char *rel)
{
	const char *slash = strrchr(rel, '/');

	if (!slash && rpl_str_endswith(rel, ".yaml"))
		return 1; /* a top-level recipe or image, or .ripple.yaml */
	if (rpl_str_endswith(rel, ".melange.yaml") || rpl_str_endswith(rel, ".apko.yaml") ||
	    image_glob(cfg, rel))
		return 1;
	for (size_t i = 0; i < cfg->pipeline_dirs.n; i++) {
		size_t n = strlen(cfg->pipeline_dirs.v[i].s);
		if (!strncmp(rel, cfg->pipeline_dirs.v[i].s, n) && rel[n] == '/')
			return 1;
	}
	return 0;
}

static void add_cand(struct candvec *cv, struct rpl_scan *s, const char *rel, enum cand_kind k,
                     int link)
{
	struct work *w;

	RPL_ALLOC_GROW(cv->v, cv->n + 1, cv->alloc);
	w = &cv->v[cv->n++];
	memset(w, 0, sizeof(*w));
	w->scan = s;
	w->cand = k;
	w->link = link;
	w->entry = rpl_xcalloc(1, sizeof(*w->entry));
	w->entry->file = rpl_xstrdup(rel);
	w->entry->kind = k == CAND_APKO ? RPL_ENTRY_IMAGE : RPL_ENTRY_RECIPE;
}

static int walk(struct rpl_scan *s, struct candvec *cv, const char *rel, int depth)
{
	char *abs = rel[0] ? rpl_path_join(s->root, rel) : rpl_xstrdup(s->root);
	DIR *d = opendir(abs);
	struct dirent *de;
	int err = 0;

	if (!d) {
		err = rpl_error(-errno, "cannot read directory '%s': %s", abs, strerror(errno));
		free(abs);
		return err;
	}
	while (!err && (de = readdir(d))) {
		const char *n = de->d_name;
		char *child;
		int is_dir, link = 0;

		if (n[0] == '.' && !rpl_scan_dot_recipe(n))
			continue; /* .git, .ripple, hidden files and dirs */
		child = rel[0] ? rpl_path_join(rel, n) : rpl_xstrdup(n);
		if (de->d_type == DT_UNKNOWN || de->d_type == DT_LNK) {
			struct stat st;
			char *full = rpl_path_join(s->root, child);
			link = lstat(full, &st) == 0 && S_ISLNK(st.st_mode);
			is_dir = stat(full, &st) == 0 && S_ISDIR(st.st_mode);
			free(full);
			/* Links to directories are not followed (as Go's WalkDir does
			 * not): they can loop, and a recipe would be found twice. */
			if (link && is_dir) {
				free(child);
				continue;
			}
		} else {
			is_dir = de->d_type == DT_DIR;
		}
		if (excluded(s, child)) {
			/* skipped by .ripple.yaml */
		} else if (is_dir) {
			if (!is_pipeline_dir(s, child))
				err = walk(s, cv, child, depth + 1);
		} else if (rpl_str_endswith(n, ".melange.yaml")) {
			add_cand(cv, s, child, CAND_MELANGE, link);
		} else if (rpl_str_endswith(n, ".apko.yaml") || image_glob(&s->config, child)) {
			add_cand(cv, s, child, CAND_APKO, link);
		} else if (depth == 0 && rpl_str_endswith(n, ".yaml")) {
			add_cand(cv, s, child, CAND_TOPLEVEL, link);
		}
		free(child);
	}
	closedir(d);
	free(abs);
	return err;
}

static char *path_in_root(const struct rpl_scan *s, const char *rel)
{
	return strcmp(s->root, ".") ? rpl_path_join(s->root, rel) : rpl_xstrdup(rel);
}

/* The archs a recipe builds for: the selected ones its target-architecture allows. */
static void pick_archs(struct rpl_scan *s, struct rpl_scan_entry *e)
{
	e->archs =
	        rpl_arena_alloc(&e->summary->arena, (s->narchs ? s->narchs : 1) * sizeof(char *));
	e->narchs =
	        rpl_recipe_archs(&e->summary->target_architecture, s->archs, s->narchs, e->archs);
}

static void set_error(struct rpl_scan_entry *e)
{
	e->error = rpl_xstrdup(rpl_errmsg()[0] ? rpl_errmsg() : "unknown error");
}

static void do_recipe(struct work *w, struct rpl_ydoc *doc)
{
	struct rpl_scan_entry *e = w->entry;
	struct rpl_scan *s = w->scan;

	e->recipe = rpl_recipe_from_yaml(doc);
	if (!e->recipe) {
		set_error(e);
		return;
	}
	e->summary = rpl_recipe_summarize(e->recipe, (s->narchs ? s->narchs : 1) * sizeof(char *) +
	                                                     alignof(max_align_t));
	pick_archs(s, e);
	if (!w->compile)
		return;
	e->compiled = rpl_xcalloc(e->narchs ? e->narchs : 1, sizeof(*e->compiled));
	for (size_t i = 0; i < e->narchs; i++) {
		if (rpl_compile(e->recipe, &s->lib, e->archs[i], 0, &e->compiled[i])) {
			set_error(e);
			return;
		}
	}
	if (w->scan_cache)
		e->cache_data = rpl_cache_encode(e->summary, e->compiled, e->narchs, &e->cache_len);
	if (!w->keep_full) {
		rpl_recipe_free(e->recipe);
		e->recipe = NULL;
	}
}

/* Whether a top-level YAML file is meant as a recipe (even a broken one). */
static int looks_like_melange(const struct rpl_ynode *root)
{
	static const char *const keys[] = { "package",     "pipeline", "subpackages",
		                            "environment", "vars",     "var-transforms",
		                            "data",        "update",   "test" };

	if (!root)
		return 0;
	if (root->type != RPL_YMAP)
		return 1;
	for (size_t i = 0; i < sizeof(keys) / sizeof(*keys); i++)
		if (rpl_ymap_get(root, keys[i]))
			return 1;
	return 0;
}

/*
 * With a parse cache: the entry's key, and the recipe from the cache when
 * it has it.  Returns 1 when the entry is complete.
 */
static int from_cache(struct work *w, const char *text, size_t len)
{
	struct rpl_scan_entry *e = w->entry;
	const struct rpl_scan_cache *cache = w->scan_cache;
	struct rpl_scan *s = w->scan;
	uint8_t content[RPL_SHA256_LEN];
	struct rpl_sha256 h;
	const void *cached;
	size_t clen;

	if (text)
		rpl_sha256(text, len, content);
	else if (!cache->digest || !cache->digest(cache->ctx, e->file, content))
		return 0;
	memcpy(e->digest, content, sizeof(content));
	e->has_digest = text != NULL;
	rpl_sha256_init(&h);
	rpl_sha256_update(&h, s->env, sizeof(s->env));
	rpl_sha256_update_str(&h, e->file);
	rpl_sha256_update(&h, content, sizeof(content));
	rpl_sha256_final(&h, e->cache_key);
	if (!w->compile || w->keep_full ||
	    !(cached = cache->get(cache->ctx, e->file, e->cache_key, &clen)))
		return 0;
	e->summary = rpl_cache_decode(cached, clen, e->file, s->archs, s->narchs, &e->archs,
	                              &e->narchs, &e->compiled);
	e->cached = e->summary != NULL;
	return e->cached;
}

static void work_one(struct work *w)
{
	struct rpl_scan_entry *e = w->entry;
	char *path = path_in_root(w->scan, e->file);
	struct rpl_ydoc doc;
	char *text = NULL;
	const char *problem;
	size_t len;

	rpl_error_clear();
	/* A path that is no clean text would print as null in JSON and break
	 * line-oriented output; an image's loader says so of its name. */
	if (w->cand != CAND_APKO && (problem = rpl_utf8_name_problem(e->file))) {
		struct rpl_strbuf esc = RPL_STRBUF_INIT;

		rpl_utf8_escape(&esc, e->file);
		rpl_error(-RPL_ESCHEMA, "%s:1:1: the file's path %s", esc.buf, problem);
		rpl_strbuf_release(&esc);
		set_error(e);
		goto out;
	}
	/* A link may not take the scan out of the repository. */
	if (w->link && rpl_path_check_inside(w->scan->real_root, path)) {
		set_error(e);
		goto out;
	}
	if (w->cand == CAND_APKO) {
		e->image = rpl_image_load_in(w->scan->real_root, w->scan->root, path);
		if (!e->image)
			set_error(e);
		goto out;
	}
	/* An unchanged recipe with a cached parse is not even read. */
	if (w->scan_cache && from_cache(w, NULL, 0))
		goto out;
	{
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		e->read_ns = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
	}

	if (rpl_read_file_max(path, RPL_YAML_MAX_FILE, &text, &len)) {
		set_error(e);
		goto out;
	}
	if (w->scan_cache && from_cache(w, text, len))
		goto out;

	if (rpl_yaml_parse(&doc, e->file, text, len)) {
		set_error(e);
	} else if (w->cand == CAND_TOPLEVEL && !rpl_ymap_get(doc.root, "package") &&
	           rpl_apko_looks_like(doc.root)) {
		e->kind = RPL_ENTRY_IMAGE;
		e->image = rpl_image_load_in(w->scan->real_root, w->scan->root, path);
		if (!e->image)
			set_error(e);
	} else if (w->cand == CAND_TOPLEVEL && !looks_like_melange(doc.root)) {
		/* Some other YAML file (a CI config, say): not ours. */
		w->skip = 1;
	} else {
		do_recipe(w, &doc);
	}
	rpl_ydoc_release(&doc);
out:
	free(text);
	free(path);
}

static void work_cb(uv_work_t *req)
{
	struct batch *b = (struct batch *)req;

	for (size_t i = 0; i < b->n; i++)
		work_one(&b->v[i]);
}

static void after_cb(uv_work_t *req, int status)
{
	(void)req;
	(void)status;
}

static void entry_release(struct rpl_scan_entry *e)
{
	if (e->compiled)
		for (size_t i = 0; i < e->narchs; i++)
			rpl_compiled_release(&e->compiled[i]);
	free(e->compiled);
	rpl_recipe_free(e->recipe);
	rpl_recipe_summary_free(e->summary);
	rpl_image_free(e->image);
	free(e->error);
	free(e->file);
	free(e->cache_data);
}

static int cmp_entry(const void *a, const void *b)
{
	return strcmp(((const struct rpl_scan_entry *)a)->file,
	              ((const struct rpl_scan_entry *)b)->file);
}

static int cmp_by_name(const void *a, const void *b)
{
	const struct rpl_scan_entry *x = *(const struct rpl_scan_entry *const *)a;
	const struct rpl_scan_entry *y = *(const struct rpl_scan_entry *const *)b;
	int c = strcmp(x->summary->name.s, y->summary->name.s);

	return c ? c : strcmp(x->file, y->file);
}

/*
 * Two recipes with one origin name: the later file (by path) gets the
 * error.  Only a recipe that parsed and compiled claims its name: one
 * that failed keeps its own error and makes no other "already defined".
 */
static void check_duplicates(struct rpl_scan *s)
{
	struct rpl_scan_entry **v = rpl_xmalloc((s->nentries + 1) * sizeof(*v));
	size_t n = 0;

	for (size_t i = 0; i < s->nentries; i++)
		if (s->entries[i].summary && !s->entries[i].error)
			v[n++] = &s->entries[i];
	qsort(v, n, sizeof(*v), cmp_by_name);
	for (size_t i = 1; i < n; i++) {
		struct rpl_scan_entry *prev = v[i - 1], *e = v[i];
		const struct rpl_text *nm = &e->summary->name;
		struct rpl_strbuf sb = RPL_STRBUF_INIT;

		if (strcmp(prev->summary->name.s, nm->s))
			continue;
		/* prev may itself be a duplicate already marked; name the first file. */
		size_t first = i - 1;
		while (first > 0 && !strcmp(v[first - 1]->summary->name.s, nm->s))
			first--;
		rpl_strbuf_addf(&sb, "%s:%u:%u: package '%s' is already defined in %s", e->file,
		                nm->line, nm->col, nm->s, v[first]->file);
		free(e->error);
		e->error = rpl_strbuf_detach(&sb);
	}
	/* Entries with errors keep no recipe: nothing may take them for one. */
	for (size_t i = 0; i < s->nentries; i++) {
		if (s->entries[i].error && s->entries[i].summary) {
			struct rpl_scan_entry *e = &s->entries[i];
			if (e->compiled)
				for (size_t k = 0; k < e->narchs; k++)
					rpl_compiled_release(&e->compiled[k]);
			free(e->compiled);
			e->compiled = NULL;
			rpl_recipe_free(e->recipe);
			e->recipe = NULL;
			rpl_recipe_summary_free(e->summary);
			e->summary = NULL;
			e->narchs = 0;
			e->archs = NULL;
		}
	}
	free(v);
}

/*
 * The env files that exist for each selected arch (.ripple.yaml's
 * env-files, with ${{build.arch}} substituted): looked up once, not once
 * per recipe.
 */
char *rpl_scan_env_file(const char *pattern, const char *arch)
{
	struct rpl_strbuf sb = RPL_STRBUF_INIT;
	const char *v = strstr(pattern, "${{build.arch}}");

	if (v) {
		rpl_strbuf_add(&sb, pattern, (size_t)(v - pattern));
		rpl_strbuf_addstr(&sb, arch);
		rpl_strbuf_addstr(&sb, v + strlen("${{build.arch}}"));
	} else {
		rpl_strbuf_addstr(&sb, pattern);
	}
	return rpl_strbuf_detach(&sb);
}

static int find_env_files(struct rpl_scan *s)
{
	int err = 0;

	s->env_files = rpl_xcalloc(s->narchs ? s->narchs : 1, sizeof(*s->env_files));
	s->nenv_files = rpl_xcalloc(s->narchs ? s->narchs : 1, sizeof(*s->nenv_files));
	for (size_t a = 0; a < s->narchs; a++) {
		s->env_files[a] = rpl_xcalloc(s->config.env_files.n + 1, sizeof(char *));
		for (size_t i = 0; i < s->config.env_files.n; i++) {
			char *rel = rpl_scan_env_file(s->config.env_files.v[i].s, s->archs[a]);
			char *full = path_in_root(s, rel);
			struct stat st;
			int there = stat(full, &st) == 0;

			/* One that is there but no regular file (a FIFO, a link to a
			 * device) would hang or never end the hash of every job. */
			if (there && !S_ISREG(st.st_mode) && !err)
				err = rpl_error(-EINVAL, "env file '%s' is %s, not a regular file",
				                rel, rpl_file_kind((unsigned)st.st_mode));
			if (there && !err)
				s->env_files[a][s->nenv_files[a]++] = rel;
			else
				free(rel);
			free(full);
		}
	}
	return err;
}

int rpl_scan_run(struct rpl_scan *s, const char *root, const struct rpl_scan_opts *opts)
{
	struct candvec cv = { NULL, 0, 0 };
	const char **dirs = NULL;
	struct batch *batches;
	uv_loop_t loop;
	int err;

	memset(s, 0, sizeof(*s));
	s->root = rpl_xstrdup(root);
	if (!(s->real_root = realpath(root, NULL)))
		return rpl_error(-errno, "cannot resolve '%s': %s", root, strerror(errno));
	if ((err = rpl_repoconfig_load(&s->config, root)))
		return err;
	if (opts && opts->narchs) {
		s->archs = rpl_xmalloc(opts->narchs * sizeof(*s->archs));
		for (size_t i = 0; i < opts->narchs; i++)
			s->archs[i] = opts->archs[i];
		s->narchs = opts->narchs;
	} else {
		s->archs = rpl_xmalloc(s->config.archs.n * sizeof(*s->archs));
		for (size_t i = 0; i < s->config.archs.n; i++)
			s->archs[i] = s->config.archs.v[i].s;
		s->narchs = s->config.archs.n;
	}
	if ((err = find_env_files(s)))
		return err;
	dirs = rpl_xmalloc((s->config.pipeline_dirs.n + 1) * sizeof(*dirs));
	for (size_t i = 0; i < s->config.pipeline_dirs.n; i++)
		dirs[i] = s->config.pipeline_dirs.v[i].s;
	err = rpl_pipeline_lib_init(&s->lib, root, dirs, s->config.pipeline_dirs.n);
	free(dirs);
	if (err)
		return err;
	if (opts && opts->cache) {
		struct rpl_sha256 h;
		rpl_sha256_init(&h);
		rpl_sha256_update(&h, "ripple scan env 2", 17);
		rpl_sha256_update(&h, opts->cache->salt, sizeof(opts->cache->salt));
		for (size_t i = 0; i < s->narchs; i++)
			rpl_sha256_update_str(&h, s->archs[i]);
		/* Of .ripple.yaml only what a recipe's parse and compile read:
		 * the archs (above) and the pipelines its pipeline-dirs find,
		 * whose digest holds each one's name, file and text, in the
		 * order they are searched.  A build's keys (keep-runs, cache,
		 * slurm, signing-key) and the scan's (images, exclude, env-files:
		 * which files are entries or inputs, not what an entry encodes)
		 * leave the cache as it is. */
		rpl_sha256_update(&h, s->lib.digest, sizeof(s->lib.digest));
		rpl_sha256_final(&h, s->env);
	}
	if ((err = walk(s, &cv, "", 0))) {
		for (size_t i = 0; i < cv.n; i++) {
			entry_release(cv.v[i].entry);
			free(cv.v[i].entry);
		}
		goto out;
	}

	if ((err = uv_loop_init(&loop))) {
		err = rpl_error(-RPL_ELIB, "cannot start the event loop: %s", uv_strerror(err));
		goto out;
	}
	batches = rpl_xcalloc(cv.n / BATCH + 1, sizeof(*batches));
	for (size_t i = 0; i < cv.n; i++) {
		struct batch *b = &batches[i / BATCH];

		cv.v[i].compile = opts ? opts->compile : 1;
		cv.v[i].keep_full = opts ? opts->keep_full : 1;
		cv.v[i].scan_cache = opts ? opts->cache : NULL;
		if (!b->n)
			b->v = &cv.v[i];
		if (++b->n == BATCH || i + 1 == cv.n)
			uv_queue_work(&loop, &b->req, work_cb, after_cb);
	}
	uv_run(&loop, UV_RUN_DEFAULT);
	uv_loop_close(&loop);
	free(batches);

	s->entries = rpl_xcalloc(cv.n + 1, sizeof(*s->entries));
	for (size_t i = 0; i < cv.n; i++) {
		if (cv.v[i].skip) {
			entry_release(cv.v[i].entry);
		} else {
			s->entries[s->nentries++] = *cv.v[i].entry;
		}
		free(cv.v[i].entry);
	}
	qsort(s->entries, s->nentries, sizeof(*s->entries), cmp_entry);
	check_duplicates(s);
	for (size_t i = 0; i < s->nentries; i++) {
		if (s->entries[i].error)
			s->nerrors++;
		s->ncached += s->entries[i].cached;
	}

out:
	free(cv.v);
	return err;
}

void rpl_scan_release(struct rpl_scan *s)
{
	for (size_t i = 0; i < s->nentries; i++)
		entry_release(&s->entries[i]);
	free(s->entries);
	for (size_t a = 0; s->env_files && a < s->narchs; a++) {
		for (size_t i = 0; i < s->nenv_files[a]; i++)
			free(s->env_files[a][i]);
		free(s->env_files[a]);
	}
	free(s->env_files);
	free(s->nenv_files);
	free(s->archs);
	rpl_pipeline_lib_release(&s->lib);
	rpl_repoconfig_release(&s->config);
	free(s->real_root);
	free(s->root);
	memset(s, 0, sizeof(*s));
}

const struct rpl_scan_entry *rpl_scan_find(const struct rpl_scan *s, const char *name)
{
	for (size_t i = 0; i < s->nentries; i++)
		if (s->entries[i].summary && !strcmp(s->entries[i].summary->name.s, name))
			return &s->entries[i];
	return NULL;
}

struct filevec {
	char **v;
	size_t n, alloc;
};

static void fv_add(struct filevec *fv, const char *f)
{
	RPL_ALLOC_GROW(fv->v, fv->n + 1, fv->alloc);
	fv->v[fv->n++] = rpl_xstrdup(f);
}

/*
 * Adds the files below `rel`, recursively.  Hidden entries are skipped, as
 * the tree walk of the no-op memo skips them: an editor's swap file or a
 * .gitignore is not an input.
 */
static void add_tree(const struct rpl_scan *s, struct filevec *fv, const char *rel,
                     const char *skip)
{
	char *abs = path_in_root(s, rel);
	DIR *d = opendir(abs);
	struct dirent *de;

	free(abs);
	if (!d)
		return;
	while ((de = readdir(d))) {
		struct stat st;
		char *child, *full;

		if (de->d_name[0] == '.')
			continue;
		child = rpl_path_join(rel, de->d_name);
		/* The root as a source dir: ripple's outputs are not its inputs. */
		if (!strcmp(rel, ".") && rpl_scan_output_dir(child)) {
			free(child);
			continue;
		}
		full = path_in_root(s, child);
		if (lstat(full, &st) == 0) {
			if (S_ISDIR(st.st_mode))
				add_tree(s, fv, child, skip);
			else if (!skip || strcmp(child, skip))
				fv_add(fv, child);
		}
		free(full);
		free(child);
	}
	closedir(d);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

const struct rpl_compiled *rpl_scan_compiled(const struct rpl_scan_entry *e, const char *arch)
{
	for (size_t i = 0; e->compiled && i < e->narchs; i++)
		if (!strcmp(e->archs[i], arch))
			return &e->compiled[i];
	return NULL;
}

int rpl_scan_dot_recipe(const char *name)
{
	return !strcmp(name, ".melange.yaml") || !strcmp(name, ".apko.yaml");
}

int rpl_scan_output_dir(const char *rel)
{
	return !strcmp(rel, "packages") || !strcmp(rel, "images");
}

char *rpl_scan_source_dir(const struct rpl_scan_entry *e)
{
	const char *slash = strrchr(e->file, '/');

	if (!e->summary)
		return NULL;
	if (!slash && !strcmp(e->file, ".melange.yaml"))
		return rpl_xstrdup(".");
	if (!slash)
		return rpl_xstrdup(e->summary->name.s);
	return rpl_xstrndup(e->file, (size_t)(slash - e->file));
}

int rpl_scan_inputs(const struct rpl_scan *s, const struct rpl_scan_entry *e, const char *arch,
                    char ***files, size_t *n)
{
	struct filevec fv = { NULL, 0, 0 };

	if (e->image) {
		/* The loader saw paths under the root; inputs are relative to it. */
		size_t rootlen = strcmp(s->root, ".") ? strlen(s->root) : 0;
		for (size_t i = 0; i < e->image->ninputs; i++) {
			const char *in = e->image->inputs[i];
			if (rootlen && !strncmp(in, s->root, rootlen) && in[rootlen] == '/')
				in += rootlen + 1;
			fv_add(&fv, in);
		}

	} else if (e->summary) {
		const struct rpl_compiled *c = rpl_scan_compiled(e, arch);
		char *dir = rpl_scan_source_dir(e);

		fv_add(&fv, e->file);
		add_tree(s, &fv, dir, e->file);
		free(dir);
		for (size_t i = 0; c && i < c->npipeline_files; i++)
			fv_add(&fv, c->pipeline_files[i]);
		for (size_t a = 0; a < s->narchs; a++)
			if (!strcmp(s->archs[a], arch))
				for (size_t i = 0; i < s->nenv_files[a]; i++)
					fv_add(&fv, s->env_files[a][i]);
	}
	if (fv.n)
		qsort(fv.v, fv.n, sizeof(*fv.v), cmp_str);
	/* A source dir may hold an env file or pipeline the build reads too. */
	{
		size_t k = 0;
		for (size_t i = 0; i < fv.n; i++) {
			if (k && !strcmp(fv.v[i], fv.v[k - 1]))
				free(fv.v[i]);
			else
				fv.v[k++] = fv.v[i];
		}
		fv.n = k;
	}
	*files = fv.v;
	*n = fv.n;
	return 0;
}

void rpl_scan_inputs_free(char **files, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(files[i]);
	free(files);
}

int rpl_scan_encode_file(const char *root, const struct rpl_pipeline_lib *lib,
                         const char *const *archs, size_t narchs, const char *file, void **data,
                         size_t *len)
{
	struct rpl_scan s;
	struct rpl_scan_entry e;
	struct work w;
	int err = 0;

	memset(&s, 0, sizeof(s));
	memset(&e, 0, sizeof(e));
	memset(&w, 0, sizeof(w));
	s.root = (char *)root;
	if (!(s.real_root = realpath(root, NULL)))
		return rpl_error(-errno, "cannot resolve '%s': %s", root, strerror(errno));
	s.lib = *lib; /* read only, never released here */
	s.archs = (const char **)archs;
	s.narchs = narchs;
	e.kind = RPL_ENTRY_RECIPE;
	e.file = rpl_xstrdup(file);
	w.scan = &s;
	w.entry = &e;
	w.cand = strchr(file, '/') ? CAND_MELANGE : CAND_TOPLEVEL;
	w.compile = 1;
	w.keep_full = 1; /* encoded whole, as a scan encodes what it parsed */
	w.link = 1;      /* whether it is one is not known: check where it leads */
	work_one(&w);
	*data = NULL;
	*len = 0;
	if (e.error)
		err = rpl_error(-RPL_ESCHEMA, "%s", e.error);
	else if (w.skip || e.kind != RPL_ENTRY_RECIPE || !e.summary)
		err = rpl_error(-RPL_ESCHEMA, "%s: no longer a melange recipe", file);
	else
		*data = rpl_cache_encode(e.summary, e.compiled, e.narchs, len);
	entry_release(&e);
	free(s.real_root);
	return err;
}

void rpl_scan_entry_encoding_digest(const struct rpl_scan_entry *e, uint8_t out[RPL_SHA256_LEN])
{
	void *enc;
	size_t len;

	if (e->has_encoding_digest) {
		memcpy(out, e->encoding_digest, RPL_SHA256_LEN);
	} else if (e->cache_data) {
		rpl_sha256(e->cache_data, e->cache_len, out);
	} else {
		enc = rpl_cache_encode(e->summary, e->compiled, e->narchs, &len);
		rpl_sha256(enc, len, out);
		free(enc);
	}
}

void rpl_scan_entry_drop_encoding(struct rpl_scan_entry *e)
{
	if (!e->cache_data)
		return;
	rpl_sha256(e->cache_data, e->cache_len, e->encoding_digest);
	e->has_encoding_digest = 1;
	free(e->cache_data);
	e->cache_data = NULL;
	e->cache_len = 0;
}

int rpl_scan_recompile(struct rpl_scan *s, struct rpl_scan_entry *e, unsigned flags)
{
	if (!e->summary)
		return 0;
	if (!e->recipe) {
		char *path = path_in_root(s, e->file), *text;
		struct rpl_recipe *full;
		size_t len;
		int err = rpl_read_file_max(path, RPL_YAML_MAX_FILE, &text, &len);

		free(path);
		if (err)
			return err;
		full = rpl_recipe_parse(e->file, text, len);
		free(text);
		if (!full)
			return -RPL_ESCHEMA;
		e->recipe = full;
	}
	if (!e->compiled)
		e->compiled = rpl_xcalloc(e->narchs ? e->narchs : 1, sizeof(*e->compiled));
	for (size_t i = 0; i < e->narchs; i++) {
		int err;

		rpl_compiled_release(&e->compiled[i]);
		err = rpl_compile(e->recipe, &s->lib, e->archs[i], flags, &e->compiled[i]);
		if (err)
			return err;
	}
	return 0;
}
