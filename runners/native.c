/*
 * The native package builder's driver (runners/native.h): the recipe
 * compiled, the workspace made from its source dir, the steps run in the
 * sandbox (fetch and git-checkout by ripple itself: fetch.c,
 * gitcheckout.c; the build's packages from the local repository: deps.c),
 * every (sub)package written with its SBOM, then the tests (buildtest.c).
 */
#include "runners/native.h"
#include "runners/apk.h"
#include "common/error.h"
#include "common/file.h"
#include "common/strbuf.h"
#include "common/xalloc.h"
#include "recipes/melange.h"
#include "recipes/pipeline.h"
#include "recipes/repoconfig.h"
#include "runners/apkwrite.h"
#include "runners/build.h"
#include "runners/buildtest.h"
#include "runners/deps.h"
#include "runners/emulate.h"
#include "runners/fetch.h"
#include "runners/gitcheckout.h"
#include "runners/melangeyaml.h"
#include "runners/provenance.h"
#include "runners/repo.h"
#include "runners/runner.h"
#include "runners/sandbox.h"
#include "runners/sbom.h"
#include "runners/workspace.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const char *rpl_build_with(const struct rpl_kvlist *l, const char *key)
{
	for (size_t i = 0; i < l->n; i++)
		if (!strcmp(l->v[i].key.s, key))
			return l->v[i].val.s;
	return NULL;
}

int rpl_build_truthy(const char *s)
{
	return s && (!strcmp(s, "true") || !strcmp(s, "yes") || !strcmp(s, "1"));
}

struct rpl_extract_opts rpl_build_limits(const struct rpl_build *b, int strip, int skip_dotfiles)
{
	struct rpl_extract_opts e = {
		strip, skip_dotfiles, b->o->max_extract_size, b->o->max_extract_ratio, 0, NULL
	};
	return e;
}

/* ---- the workspace ------------------------------------------------------------------------ */

/* The source dir as a real directory inside the monorepo; NULL (no copy) when missing. */
static int source_dir(struct rpl_build *b, char **out)
{
	const char *o_src = b->o->source_dir;
	char *src, root[PATH_MAX], real[PATH_MAX];
	struct stat st;
	size_t n;

	*out = NULL;
	if (o_src)
		src = rpl_xstrdup(o_src);
	else if (strchr(b->o->file, '/'))
		src = rpl_path_dirname(b->o->file);
	else
		src = rpl_xstrdup(b->r->package.name.s);
	if (lstat(src, &st) < 0) {
		free(src);
		return 0;
	}
	if (!getcwd(root, sizeof(root)) || !realpath(src, real)) {
		int err = rpl_error(-errno, "cannot resolve '%s': %s", src, strerror(errno));
		free(src);
		return err;
	}
	n = strlen(root);
	if (S_ISLNK(st.st_mode) || !S_ISDIR(st.st_mode) || strncmp(real, root, n) ||
	    (real[n] != '/' && !(o_src && !real[n]))) {
		int err = rpl_error(-RPL_EUSAGE,
		                    "the source dir '%s' is %s: refused (its files become the "
		                    "workspace's)",
		                    src,
		                    S_ISLNK(st.st_mode)    ? "a symbolic link"
		                    : !S_ISDIR(st.st_mode) ? "not a directory"
		                    : real[n]              ? "outside the monorepo"
		                                           : "the monorepo itself");
		free(src);
		return err;
	}
	*out = src;
	return 0;
}

/* ---- steps ---------------------------------------------------------------------------------- */

/* Shell-quotes `s` with single quotes. */
static void quote(struct rpl_strbuf *b, const char *s)
{
	rpl_strbuf_addch(b, '\'');
	for (; *s; s++)
		if (*s == '\'')
			rpl_strbuf_addstr(b, "'\\''");
		else
			rpl_strbuf_addch(b, *s);
	rpl_strbuf_addch(b, '\'');
}

static void env_add(struct rpl_argv *e, const char *k, const char *v)
{
	struct rpl_strbuf kv = RPL_STRBUF_INIT;

	rpl_strbuf_addf(&kv, "%s=%s", k, v);
	rpl_argv_add(e, kv.buf);
	rpl_strbuf_release(&kv);
}

/* Runs one step's script in the sandbox, in `wd` (inside the workspace); returns 0 or an error. */
static int run_script(struct rpl_build *b, const struct rpl_cstep *s, const char *wd)
{
	struct rpl_argv env = { NULL, 0, 0 };
	struct rpl_strbuf script = RPL_STRBUF_INIT, sde = RPL_STRBUF_INIT, dir = RPL_STRBUF_INIT;
	const struct rpl_kvlist *renv = b->env ? b->env : &b->r->environment.environment;
	char *rel = NULL;
	int err;

	if ((err = rpl_ws_relpath(wd, NULL, &rel)))
		return rpl_error(err, "working-directory: %s", rpl_errmsg());
	rpl_strbuf_addf(&dir, "%s%s%s", RPL_WORKSPACE, *rel ? "/" : "", rel);
	rpl_strbuf_addstr(&script,
	                  "set -e\n(set -o pipefail) 2>/dev/null && set -o pipefail\n[ -d ");
	quote(&script, dir.buf);
	rpl_strbuf_addstr(&script, " ] || mkdir -p ");
	quote(&script, dir.buf);
	rpl_strbuf_addstr(&script, "\ncd ");
	quote(&script, dir.buf);
	rpl_strbuf_addf(&script, "\n%s\nexit 0\n", s->runs);
	rpl_strbuf_addf(&sde, "%lld", (long long)b->sde);

	env_add(&env, "HOME", RPL_WORKSPACE);
	env_add(&env, "SOURCE_DATE_EPOCH", sde.buf);
	/* Programs of local packages find their libraries, as they would at /usr/lib. */
	if (b->sb.deps_fd >= 0)
		env_add(&env, "LD_LIBRARY_PATH", "/usr/local/lib");
	for (size_t i = 0; i < renv->n; i++)
		env_add(&env, renv->v[i].key.s, renv->v[i].val.s);
	/* PATH beats the recipe's environment; only a step's own PATH changes it. */
	env_add(&env, "PATH", "/usr/local/sbin:/usr/local/bin:/usr/bin:/usr/sbin:/sbin:/bin");
	for (size_t i = 0; i < s->environment.n; i++)
		env_add(&env, s->environment.v[i].key.s, s->environment.v[i].val.s);
	err = rpl_sandbox_run(&b->sb, env.v, env.n, script.buf);
	rpl_argv_free(env.v);
	rpl_strbuf_release(&script);
	rpl_strbuf_release(&sde);
	rpl_strbuf_release(&dir);
	free(rel);
	return err;
}

/*
 * What a step is called in messages: its name, else what it uses, else the
 * first line of what it runs (malloc'd).
 */
static char *step_label(const struct rpl_cstep *s)
{
	struct rpl_strbuf l = RPL_STRBUF_INIT;

	if (s->name && *s->name)
		rpl_strbuf_addstr(&l, s->name);
	else if (s->uses && *s->uses)
		rpl_strbuf_addstr(&l, s->uses);
	else if (s->runs && *s->runs) {
		const char *r = s->runs + strspn(s->runs, " \t\n");
		size_t n = strcspn(r, "\n");
		rpl_strbuf_addf(&l, "'%.*s%s'", (int)(n > 60 ? 60 : n), r, n > 60 ? "..." : "");
	} else
		rpl_strbuf_addstr(&l, "a step");
	return rpl_strbuf_detach(&l);
}

/*
 * A step and what it contains, in melange's order: its `runs`, then its
 * children.  `from` is the pipeline the steps come from (NULL: the recipe).
 */
int rpl_build_run_steps(struct rpl_build *b, const struct rpl_cstep *steps, size_t n,
                        const char *wd, const char *from)
{
	int err = 0;

	for (size_t i = 0; i < n && !err; i++) {
		const struct rpl_cstep *s = &steps[i];
		const char *swd =
		        s->working_directory && *s->working_directory ? s->working_directory : wd;
		char *abs_wd = NULL, *label;

		if (s->skipped)
			continue;
		if (swd[0] != '/') {
			abs_wd = rpl_path_join(wd, swd);
			swd = abs_wd;
		}
		label = step_label(s);
		if (s->uses && !strcmp(s->uses, "fetch")) {
			err = rpl_fetch_step(b, s, swd);
		} else if (s->uses && !strcmp(s->uses, "git-checkout")) {
			err = rpl_git_checkout_step(b, s, swd);
		} else {
			if (s->runs && *s->runs) {
				rpl_say("step %s", label);
				if ((err = run_script(b, s, swd)) && from)
					err = rpl_error(err, "step %s of the pipeline %s: %s",
					                label, from, rpl_errmsg());
				else if (err)
					err = rpl_error(err, "step %s: %s", label, rpl_errmsg());
			}
			if (!err)
				err = rpl_build_run_steps(b, s->steps, s->nsteps, swd,
				                          s->uses && *s->uses ? s->uses : from);
		}
		free(label);
		free(abs_wd);
	}
	return err;
}

/* ---- the build ------------------------------------------------------------------------------- */

static int cmp_cstr(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void text_list(const struct rpl_textlist *l, char ***out, size_t *n)
{
	*out = rpl_xmalloc((l->n ? l->n : 1) * sizeof(**out));
	for (size_t i = 0; i < l->n; i++)
		(*out)[i] = (char *)l->v[i].s;
	*n = l->n;
}

/*
 * The package trees the steps filled must still be directories of the
 * workspace (a step may have replaced one with a link to anywhere): the
 * apk writer walks them without following links below them.
 */
static int check_trees(struct rpl_build *b, char *const *trees, size_t ntrees)
{
	for (size_t i = 0; i < ntrees; i++) {
		int fd, err = rpl_ws_open(b->wsfd, trees[i], O_RDONLY | O_DIRECTORY, &fd);
		if (err)
			return rpl_error(err, "%s %s: refused", trees[i],
			                 err == -ELOOP     ? "is (or goes through) a symbolic link"
			                 : err == -ENOTDIR ? "is not a directory"
			                 : err == -ENOENT  ? "was removed"
			                                   : strerror(-err));
		close(fd);
	}
	return 0;
}

/* The fetch and git-checkout steps of a pipeline, as the SBOM records their sources. */
static struct rpl_sbom_source *sources_of(const struct rpl_cstep *steps, size_t n, size_t *count)
{
	struct rpl_sbom_source *v = rpl_xcalloc(n + 1, sizeof(*v));

	*count = 0;
	for (size_t i = 0; i < n; i++) {
		const struct rpl_cstep *st = &steps[i];
		struct rpl_sbom_source *x;
		if (st->skipped || !st->uses ||
		    (strcmp(st->uses, "fetch") && strcmp(st->uses, "git-checkout")))
			continue;
		x = &v[(*count)++];
		x->git = !strcmp(st->uses, "git-checkout");
		x->uri = rpl_build_with(&st->with, "uri");
		x->sha256 = rpl_build_with(&st->with, "expected-sha256");
		x->sha512 = rpl_build_with(&st->with, "expected-sha512");
		x->purl_name = rpl_build_with(&st->with, "purl-name");
		x->purl_version = rpl_build_with(&st->with, "purl-version");
		x->repository = rpl_build_with(&st->with, "repository");
		x->branch = rpl_build_with(&st->with, "branch");
		x->tag = rpl_build_with(&st->with, "tag");
		x->expected_commit = rpl_build_with(&st->with, "expected-commit");
		x->type_hint = rpl_build_with(&st->with, "type-hint");
		x->index = i;
	}
	return v;
}

/* The most of a `license-path` file the SBOM takes in. */
#define MAX_LICENSE_TEXT ((size_t)1 << 20)

/*
 * The text of the copyright entry's `license-path`, a path in the workspace
 * (relative to it, or under /home/build) as melange reads it after the
 * build, through no link.  Returns 0 with the text in *out, or an error.
 */
static int license_text(struct rpl_build *b, const struct rpl_copyright *c, char **out)
{
	struct rpl_strbuf t = RPL_STRBUF_INIT;
	char *rel = NULL, buf[65536];
	int fd = -1, err;
	ssize_t n;

	*out = NULL;
	if ((err = rpl_ws_relpath(RPL_WORKSPACE, c->license_path.s, &rel)))
		return rpl_error(err, "%s:%u:%u: license-path: %s", b->o->file, c->line, c->col,
		                 rpl_errmsg());
	if ((err = rpl_ws_open(b->wsfd, rel, O_RDONLY | O_CLOEXEC, &fd))) {
		err = rpl_error(err, "%s:%u:%u: license-path '%s': cannot read it: %s", b->o->file,
		                c->line, c->col, c->license_path.s,
		                err == -ELOOP ? "it goes through a symbolic link" : strerror(-err));
		goto out;
	}
	while ((n = read(fd, buf, sizeof(buf))) > 0 && t.len + (size_t)n <= MAX_LICENSE_TEXT)
		rpl_strbuf_add(&t, buf, (size_t)n);
	if (n != 0) {
		err = rpl_error(n < 0 ? -errno : -RPL_EPARSE, "%s:%u:%u: license-path '%s': %s",
		                b->o->file, c->line, c->col, c->license_path.s,
		                n < 0 ? strerror(errno) : "larger than 1 MiB");
		goto out;
	}
	*out = rpl_strbuf_detach(&t);
out:
	if (fd >= 0)
		close(fd);
	free(rel);
	rpl_strbuf_release(&t);
	return err;
}

/* The package's licence, its copyrights' joined by AND, and their attestations, a line each. */
static void licenses(const struct rpl_package *p, struct rpl_strbuf *lic, struct rpl_strbuf *copy)
{
	for (size_t i = 0; i < p->ncopyright; i++) {
		if (lic->len)
			rpl_strbuf_addstr(lic, " AND ");
		rpl_strbuf_addstr(lic, p->copyright[i].license.s);
		if (*p->copyright[i].attestation.s)
			rpl_strbuf_addf(copy, "%s\n", p->copyright[i].attestation.s);
	}
}

/* license-path files by their license into `ids` and `texts` (`*n` of them),
 * a later entry over an earlier one.  The texts are the caller's, also on error. */
static int license_infos(struct rpl_build *b, const struct rpl_package *p, char **ids, char **texts,
                         size_t *n)
{
	int err = 0;

	for (size_t i = 0; i < p->ncopyright; i++) {
		const struct rpl_copyright *c = &p->copyright[i];
		char *text;
		size_t at = *n;
		if (!*c->license_path.s)
			continue;
		if ((err = license_text(b, c, &text)))
			break;
		for (size_t k = 0; k < *n; k++)
			if (!strcmp(ids[k], c->license.s))
				at = k;
		if (at == *n)
			ids[(*n)++] = (char *)c->license.s;
		else
			free(texts[at]);
		texts[at] = text;
	}
	return err;
}

/* `doc` as melange-out/<name>/var/lib/db/sbom/<name>-<version>.spdx.json,
 * replacing what is there (never through a link). */
static int place_sbom(struct rpl_build *b, const char *name, const char *doc)
{
	struct rpl_strbuf dir = RPL_STRBUF_INIT, file = RPL_STRBUF_INIT;
	int fd = -1, out = -1, err;

	rpl_strbuf_addf(&dir, "melange-out/%s/var/lib/db/sbom", name);
	rpl_strbuf_addf(&file, "%s-%s.spdx.json", name, b->version);
	if ((err = rpl_ws_mkdirs(b->wsfd, dir.buf, &fd)))
		goto out;
	if (unlinkat(fd, file.buf, 0) < 0 && errno != ENOENT) {
		err = rpl_error(-errno, "cannot replace %s/%s: %s", dir.buf, file.buf,
		                strerror(errno));
		goto out;
	}
	errno = 0;
	out = openat(fd, file.buf, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (out < 0 || write(out, doc, strlen(doc)) != (ssize_t)strlen(doc))
		err = rpl_error(-(errno ? errno : EIO), "cannot write %s/%s: %s", dir.buf, file.buf,
		                strerror(errno ? errno : EIO));
out:
	if (out >= 0)
		close(out);
	if (fd >= 0)
		close(fd);
	rpl_strbuf_release(&dir);
	rpl_strbuf_release(&file);
	return err;
}

/* Writes the package's SBOM into its tree, as melange does before it makes
 * the apk, replacing what a step may have put there. */
static int write_sbom(struct rpl_build *b, const char *name, const char *commit)
{
	const struct rpl_package *p = &b->r->package;
	struct rpl_strbuf lic = RPL_STRBUF_INIT, copy = RPL_STRBUF_INIT;
	struct rpl_sbom_apk a;
	struct rpl_sbom_source *upstream = NULL, *own = NULL;
	char *doc = NULL, **ids = rpl_xcalloc(p->ncopyright + 1, sizeof(char *)),
	     **texts = rpl_xcalloc(p->ncopyright + 1, sizeof(char *));
	size_t ninfos = 0;
	int err;

	licenses(p, &lic, &copy);
	memset(&a, 0, sizeof(a));
	a.name = name;
	a.version = b->version;
	a.arch = b->o->arch;
	a.namespace = b->o->namespace && *b->o->namespace ? b->o->namespace : "unknown";
	a.license = lic.buf;
	a.copyright = copy.buf;
	a.config = b->prov.path ? b->prov.path : b->o->file;
	a.commit = commit;
	a.repo_url = b->prov.repo_url;
	a.created = b->sde;
	a.main = upstream = sources_of(b->c.steps, b->c.nsteps, &a.nmain);
	for (size_t i = 0; i < b->c.nsubs && !own; i++)
		if (!strcmp(b->c.subs[i].name, name))
			own = sources_of(b->c.subs[i].steps, b->c.subs[i].nsteps, &a.nown);
	a.own = own;
	if (!(err = license_infos(b, p, ids, texts, &ninfos))) {
		a.license_ids = ids;
		a.license_texts = texts;
		a.nlicense_infos = ninfos;
		doc = rpl_sbom_apk(&a);
		err = place_sbom(b, name, doc);
	}
	free(doc);
	free(upstream);
	free(own);
	for (size_t i = 0; i < ninfos; i++)
		free(texts[i]);
	free(texts);
	free(ids);
	rpl_strbuf_release(&lic);
	rpl_strbuf_release(&copy);
	return err;
}

/* Writes the apk of one (sub)package; `commit` is what its .PKGINFO records. */
static int package(struct rpl_build *b, const char *name, const char *desc, const char *commit,
                   const struct rpl_dependencies *deps, const struct rpl_pkg_options *opts,
                   const struct rpl_scriptlets *sc, char *const *trees, size_t ntrees,
                   const struct rpl_signer *key)
{
	const struct rpl_package *p = &b->r->package;
	struct rpl_apk_meta m;
	char **licenses = rpl_xmalloc((p->ncopyright ? p->ncopyright : 1) * sizeof(char *));
	char *dir = rpl_path_join(b->work, "melange-out"), *tree = rpl_path_join(dir, name),
	     **abs_trees = rpl_xmalloc((ntrees ? ntrees : 1) * sizeof(*abs_trees));
	struct rpl_strbuf path = RPL_STRBUF_INIT, log = RPL_STRBUF_INIT, odir = RPL_STRBUF_INIT;
	int err;

	memset(&m, 0, sizeof(m));
	m.name = name;
	m.version = b->version;
	m.arch = b->o->arch;
	m.origin = p->name.s;
	m.description = desc;
	m.url = p->url.s;
	m.commit = commit;
	m.maintainer = b->o->namespace && *b->o->namespace ? b->o->namespace : "unknown";
	m.melange_yaml = b->melange_yaml;
	m.melange_yaml_len = b->melange_yaml_len;
	for (size_t i = 0; i < p->ncopyright; i++)
		licenses[m.nlicenses++] = (char *)p->copyright[i].license.s;
	m.licenses = licenses;
	text_list(&deps->runtime, (char ***)&m.depends, &m.ndepends);
	text_list(&deps->provides, (char ***)&m.provides, &m.nprovides);
	text_list(&deps->replaces, (char ***)&m.replaces, &m.nreplaces);
	m.provider_priority = deps->provider_priority.s;
	m.replaces_priority = deps->replaces_priority.s;
	m.source_date_epoch = b->sde;
	m.no_commands = opts->no_commands;
	m.no_depends = opts->no_depends;
	m.no_provides = opts->no_provides;
	m.pre_install = sc->pre_install.s;
	m.post_install = sc->post_install.s;
	m.pre_deinstall = sc->pre_deinstall.s;
	m.post_deinstall = sc->post_deinstall.s;
	m.pre_upgrade = sc->pre_upgrade.s;
	m.post_upgrade = sc->post_upgrade.s;
	m.trigger = sc->trigger_script.s;
	text_list(&sc->trigger_paths, (char ***)&m.triggers, &m.ntriggers);
	rpl_strbuf_addf(&odir, "%s/%s", b->o->out_dir, b->o->arch);
	rpl_strbuf_addf(&path, "%s/%s-%s.apk", odir.buf, name, b->version);
	if (!(err = write_sbom(b, name, commit)) && !(err = rpl_mkdirs(odir.buf))) {
		for (size_t i = 0; i < ntrees; i++)
			abs_trees[i] = rpl_path_join(b->work, trees[i]);
		err = rpl_apk_write(tree, abs_trees, ntrees, &m, key, path.buf, &log);
		for (size_t i = 0; i < ntrees; i++)
			free(abs_trees[i]);
	}
	if (log.len)
		printf("ripple: %s", log.buf);
	if (!err) {
		struct rpl_built_apk *w;
		rpl_say("wrote %s", path.buf);
		b->built = rpl_xrealloc(b->built, (b->nbuilt + 1) * sizeof(*b->built));
		w = &b->built[b->nbuilt];
		if (!(err = rpl_apk_read(path.buf, &w->apk))) {
			w->path = rpl_xstrdup(path.buf);
			b->nbuilt++;
		}
	}
	free((void *)m.depends);
	free((void *)m.provides);
	free((void *)m.replaces);
	free((void *)m.triggers);
	free(licenses);
	free(abs_trees);
	free(dir);
	free(tree);
	rpl_strbuf_release(&path);
	rpl_strbuf_release(&log);
	rpl_strbuf_release(&odir);
	return err;
}

/* The sandbox gets the arch's sysroot and the interpreter to bind, if any (runners/emulate.h). */
static int use_emulation(struct rpl_build *b)
{
	const struct rpl_emulation *e = &b->emu;

	if (*e->sysroot) {
		b->sb.sysroot = e->sysroot;
		b->sb.sysroot_fd = open(e->sysroot, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (b->sb.sysroot_fd < 0)
			return rpl_error(-errno, "cannot open the sysroot '%s': %s", e->sysroot,
			                 strerror(errno));
	}
	if (*e->bind_interpreter)
		b->sb.bind_file = e->bind_interpreter;
	if (e->emulated)
		rpl_say("%s programs run under emulation (binfmt_misc %s: %s%s), in the sysroot %s",
		        b->o->arch, e->binfmt.name, e->binfmt.interpreter,
		        *e->bind_interpreter ? ", bound into the sandbox" : "", e->sysroot);
	else if (*e->sysroot)
		rpl_say("the steps run in the sysroot %s", e->sysroot);
	return 0;
}

/*
 * The recipe read and compiled for the arch with the pipelines, its
 * version (<version>-r<epoch>) and SOURCE_DATE_EPOCH: the option, the
 * environment, else the recipe's last commit.
 */
static int read_recipe(struct rpl_build *b)
{
	const struct rpl_native_opts *o = b->o;
	const char *env_sde = getenv("SOURCE_DATE_EPOCH");
	struct rpl_strbuf v = RPL_STRBUF_INIT;
	size_t len;
	int err;

	if ((err = rpl_pipeline_lib_init(&b->lib, ".", (const char *const *)o->pipeline_dirs,
	                                 o->npipeline_dirs)))
		return rpl_error(err, "cannot read the pipelines: %s", rpl_errmsg());
	b->have_lib = 1;
	if ((err = rpl_read_file(o->file, &b->text, &len)))
		return err;
	if (!(b->r = rpl_recipe_parse(o->file, b->text, len)))
		return -RPL_ESCHEMA;
	if ((err = rpl_compile(b->r, &b->lib, o->arch, RPL_COMPILE_STEPS, &b->c))) {
		rpl_compiled_release(&b->c);
		return err;
	}
	b->have_compiled = 1;
	rpl_strbuf_addf(&v, "%s-r%llu", b->r->package.version.s,
	                (unsigned long long)b->r->package.epoch);
	b->version = rpl_strbuf_detach(&v);
	b->sde = o->source_date_epoch >= 0 ? o->source_date_epoch
	         : env_sde && *env_sde     ? strtoll(env_sde, NULL, 10)
	                                   : rpl_provenance_last_commit_time(o->file);
	return 0;
}

/*
 * The workspace, .ripple/work/<arch>/<name> made afresh, and the sandbox
 * over it, with what no step may see hidden; the source dir's files are the
 * workspace's to start with, and each package built gets an output tree.
 */
static int prepare_workspace(struct rpl_build *b)
{
	const struct rpl_native_opts *o = b->o;
	struct rpl_strbuf w = RPL_STRBUF_INIT, c = RPL_STRBUF_INIT;
	char cwd[PATH_MAX];
	int err;

	if (!getcwd(cwd, sizeof(cwd)))
		return rpl_error(-errno, "cannot tell the current directory");
	rpl_strbuf_addf(&w, "%s/%s/work/%s/%s", cwd, o->state_dir, o->arch, b->r->package.name.s);
	rpl_strbuf_addf(&c, "%s/cache", o->state_dir);
	b->work = rpl_strbuf_detach(&w);
	b->cache = rpl_strbuf_detach(&c);
	rpl_say("building %s-%s for %s (SOURCE_DATE_EPOCH=%lld) in %s", b->r->package.name.s,
	        b->version, o->arch, (long long)b->sde, b->work);
	if ((err = rpl_ws_fresh_dir(b->work, &b->wsfd)))
		return err;
	rpl_sandbox_init(&b->sb, b->wsfd, b->work);
	b->have_sb = 1;
	if ((err = use_emulation(b)))
		return err;
	/* What no step may see, even where it lies under a directory the sandbox binds. */
	if (getcwd(cwd, sizeof(cwd)))
		rpl_sandbox_hide(&b->sb, cwd);
	rpl_sandbox_hide(&b->sb, o->signing_key);
	rpl_sandbox_hide(&b->sb, o->out_dir);
	rpl_sandbox_hide(&b->sb, o->state_dir);
	if ((err = source_dir(b, &b->src)) || (b->src && (err = rpl_ws_copy_tree(b->src, b->wsfd))))
		return err;
	/* The commit the packages record: the recipe's own, else its repository's HEAD. */
	rpl_provenance_get(o->file, b->src ? &b->src : NULL, b->src ? 1 : 0, &b->prov);
	if (b->prov.dirty && *b->prov.commit)
		rpl_say("%s has uncommitted changes: the packages record HEAD %s, which does not "
		        "hold them",
		        o->file, b->prov.commit);
	/* An output tree per package built. */
	b->trees = rpl_xmalloc((b->c.nsubs + 1) * sizeof(*b->trees));
	for (size_t i = 0; i <= b->c.nsubs; i++) {
		const char *name = i ? b->c.subs[i - 1].name : b->r->package.name.s;
		struct rpl_strbuf t = RPL_STRBUF_INIT;
		int fd;
		if (i && !b->c.subs[i - 1].enabled)
			continue;
		rpl_strbuf_addf(&t, "melange-out/%s", name);
		b->trees[b->ntrees++] = rpl_strbuf_detach(&t);
		if ((err = rpl_ws_mkdirs(b->wsfd, b->trees[b->ntrees - 1], &fd)))
			return err;
		close(fd);
	}
	return rpl_sandbox_own(&b->sb, b->wsfd);
}

/*
 * The build itself: its packages installed, the main pipeline, then each
 * enabled subpackage's; then the trees the steps filled are checked.
 */
static int build_steps(struct rpl_build *b)
{
	int err;

	if ((err = rpl_deps_install(b)) ||
	    (err = rpl_build_run_steps(b, b->c.steps, b->c.nsteps, RPL_WORKSPACE, NULL)))
		return err;
	for (size_t i = 0; i < b->c.nsubs && !err; i++)
		if (b->c.subs[i].enabled) {
			rpl_say("subpackage %s", b->c.subs[i].name);
			err = rpl_build_run_steps(b, b->c.subs[i].steps, b->c.subs[i].nsteps,
			                          RPL_WORKSPACE, NULL);
		}
	return err ? err : check_trees(b, b->trees, b->ntrees);
}

/*
 * Each package built: the .melange.yaml they carry, then the main package
 * and every enabled subpackage, signed with the key when there is one.
 */
static int write_packages(struct rpl_build *b)
{
	const struct rpl_package *p = &b->r->package;
	const char *commit = *p->commit.s ? p->commit.s : b->prov.commit;
	struct rpl_signer key;
	int have_key = 0, err;

	if (b->nenv_pkgs)
		qsort(b->env_pkgs, b->nenv_pkgs, sizeof(*b->env_pkgs), cmp_cstr);
	if ((err = rpl_melange_yaml(b->r, &b->c, commit, b->env_pkgs, b->nenv_pkgs,
	                            &b->melange_yaml, &b->melange_yaml_len)))
		return err;
	if (b->o->signing_key) {
		if ((err = rpl_signer_load(&key, b->o->signing_key)))
			return err;
		have_key = 1;
	}
	err = package(b, p->name.s, p->description.s, commit, &p->dependencies, &p->options,
	              &p->scriptlets, b->trees, b->ntrees, have_key ? &key : NULL);
	for (size_t i = 0; i < b->r->nsubpackages && !err; i++) {
		const struct rpl_subpackage *sp = &b->r->subpackages[i];
		int enabled = 0;
		for (size_t k = 0; k < b->c.nsubs; k++)
			if (!strcmp(b->c.subs[k].name, sp->name.s))
				enabled = b->c.subs[k].enabled;
		if (enabled)
			err = package(b, sp->name.s,
			              *sp->description.s ? sp->description.s : p->description.s,
			              *sp->commit.s ? sp->commit.s : commit, &sp->dependencies,
			              &sp->options, &sp->scriptlets, b->trees, b->ntrees,
			              have_key ? &key : NULL);
	}
	if (have_key)
		rpl_signer_release(&key);
	return err;
}

/* --test: each test of a package written here, as melange test would. */
static int run_tests(struct rpl_build *b)
{
	int err = 0;

	for (size_t i = 0; !err && i < b->c.ntests; i++) {
		const struct rpl_ctest *t = &b->c.tests[i];
		int written = 0;
		for (size_t k = 0; k < b->nbuilt; k++)
			written |= !strcmp(b->built[k].apk.pkgname,
			                   t->sub ? t->sub : b->r->package.name.s);
		if (written)
			err = rpl_buildtest_run(b, t);
	}
	return err;
}

static void build_release(struct rpl_build *b)
{
	for (size_t i = 0; i < b->nbuilt; i++) {
		rpl_apk_release(&b->built[i].apk);
		free(b->built[i].path);
	}
	free(b->built);
	rpl_provenance_release(&b->prov);
	for (size_t i = 0; i < b->nenv_pkgs; i++)
		free(b->env_pkgs[i]);
	free(b->env_pkgs);
	free(b->melange_yaml);
	for (size_t i = 0; i < b->ntrees; i++)
		free(b->trees[i]);
	free(b->trees);
	free(b->src);
	free(b->text);
	free(b->version);
	free(b->work);
	free(b->deps);
	free(b->cache);
	if (b->have_sb) {
		if (b->sb.deps_fd >= 0)
			close(b->sb.deps_fd);
		free((char *)b->sb.deps_path);
		if (b->sb.sysroot_fd >= 0)
			close(b->sb.sysroot_fd);
		rpl_sandbox_release(&b->sb);
	}
	if (b->wsfd >= 0)
		close(b->wsfd);
	if (b->have_compiled)
		rpl_compiled_release(&b->c);
	rpl_recipe_free(b->r);
	if (b->have_lib)
		rpl_pipeline_lib_release(&b->lib);
}

int rpl_native_build(const struct rpl_native_opts *o)
{
	struct rpl_build b;
	int err;

	memset(&b, 0, sizeof(b));
	b.o = o;
	b.wsfd = -1;
	if ((err = rpl_emulate_check(o->arch, o->sysroot, o->sysroot_origin, &b.emu)))
		return rpl_error(err, "cannot build for %s on this %s machine: %s", o->arch,
		                 rpl_host_arch(), rpl_errmsg());
	if (!(err = read_recipe(&b)) && !(err = prepare_workspace(&b)) &&
	    !(err = build_steps(&b)) && !(err = write_packages(&b)) && o->test)
		err = run_tests(&b);
	build_release(&b);
	return err;
}
