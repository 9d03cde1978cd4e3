/*
 * Old runs and their logs forgotten (orchestrator/prune.h).  The logs go
 * first and the rows after, so that an interrupted prune leaves runs whose
 * logs are gone (history says so) rather than logs no run names; those
 * are found anyway, as directories of unknown runs.
 */
#include "orchestrator/prune.h"
#include "common/arena.h"
#include "common/error.h"
#include "common/file.h"
#include "common/strbuf.h"
#include "common/strmap.h"
#include "common/xalloc.h"
#include "orchestrator/state.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define LOGS ".ripple/logs"

struct runs {
	size_t keep, ended;
	int64_t *all, *forget;
	size_t nall, nforget, all_alloc, forget_alloc;
};

static void each_run(void *ctx, int64_t id, int running)
{
	struct runs *r = ctx;

	RPL_ALLOC_GROW(r->all, r->nall + 1, r->all_alloc);
	r->all[r->nall++] = id;
	if (running || ++r->ended <= r->keep)
		return;
	RPL_ALLOC_GROW(r->forget, r->nforget + 1, r->forget_alloc);
	r->forget[r->nforget++] = id;
}

struct kept {
	struct rpl_arena arena;
	struct rpl_strmap logs;
};

static void each_log(void *ctx, const char *log)
{
	struct kept *k = ctx;
	struct rpl_strmap_slot *slot;

	if (!rpl_str_startswith(log, LOGS "/"))
		return;
	slot = rpl_strmap_slot(&k->logs, log);
	if (!slot->value) {
		slot->key = rpl_arena_strdup(&k->arena, log);
		slot->value = (void *)1;
	}
}

/* `sb` cut back to its first `len` bytes. */
static void cut(struct rpl_strbuf *sb, size_t len)
{
	if (sb->buf) {
		sb->len = len;
		sb->buf[len] = '\0';
	}
}

static int listed(const int64_t *v, size_t n, int64_t id)
{
	for (size_t i = 0; i < n; i++)
		if (v[i] == id)
			return 1;
	return 0;
}

/* A run's id from its log directory's name ("17"), or 0. */
static int64_t run_of(const char *name)
{
	char *end;
	long long id;

	if (name[0] < '1' || name[0] > '9')
		return 0;
	errno = 0;
	id = strtoll(name, &end, 10);
	return *end || errno ? 0 : (int64_t)id;
}

/*
 * Removes what is under the directory `dirfd` (whose path from the root is
 * `rel`) but the files in `keep`, then the directory itself if that left
 * it empty.  Symbolic links are removed, never followed.
 */
static int clear_dir(int parent, const char *name, struct rpl_strbuf *rel,
                     const struct rpl_strmap *keep, struct rpl_prune_result *res, int depth)
{
	int fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	size_t len = rel->len;
	struct dirent *de;
	DIR *d;
	int err = 0;

	if (fd < 0)
		return errno == ENOENT ? 0
		                       : rpl_error(-errno, "cannot open '%s': %s", rel->buf,
		                                   strerror(errno));
	if (!(d = fdopendir(fd))) {
		close(fd);
		return rpl_error(-errno, "cannot read '%s': %s", rel->buf, strerror(errno));
	}
	while (!err && (de = readdir(d))) {
		struct stat sb;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		cut(rel, len);
		rpl_strbuf_addf(rel, "/%s", de->d_name);
		if (fstatat(fd, de->d_name, &sb, AT_SYMLINK_NOFOLLOW) < 0)
			continue; /* gone meanwhile */
		if (S_ISDIR(sb.st_mode)) {
			if (depth < 4)
				err = clear_dir(fd, de->d_name, rel, keep, res, depth + 1);
			continue;
		}
		if (rpl_strmap_get(keep, rel->buf))
			continue;
		if (unlinkat(fd, de->d_name, 0) < 0) {
			if (errno != ENOENT)
				err = rpl_error(-errno, "cannot remove '%s': %s", rel->buf,
				                strerror(errno));
			continue;
		}
		res->logs++;
		res->bytes += (uint64_t)sb.st_size;
	}
	closedir(d);
	cut(rel, len);
	/* Not empty: a kept log is in it. */
	if (!err && unlinkat(parent, name, AT_REMOVEDIR) < 0 && errno != ENOTEMPTY &&
	    errno != EEXIST && errno != ENOENT)
		err = rpl_error(-errno, "cannot remove '%s': %s", rel->buf, strerror(errno));
	return err;
}

/* The log directories of the runs to forget and of runs the store does not know. */
static int clear_logs(const char *root, const struct runs *r, const struct rpl_strmap *keep,
                      struct rpl_prune_result *res)
{
	char *path = rpl_path_join(root, LOGS);
	struct rpl_strbuf rel = RPL_STRBUF_INIT;
	DIR *d = opendir(path);
	struct dirent *de;
	int err = 0;

	free(path);
	if (!d)
		return errno == ENOENT
		               ? 0
		               : rpl_error(-errno, "cannot read '%s': %s", LOGS, strerror(errno));
	while (!err && (de = readdir(d))) {
		int64_t id = run_of(de->d_name);

		if (!id || (listed(r->all, r->nall, id) && !listed(r->forget, r->nforget, id)))
			continue;
		cut(&rel, 0);
		rpl_strbuf_addf(&rel, "%s/%s", LOGS, de->d_name);
		err = clear_dir(dirfd(d), de->d_name, &rel, keep, res, 0);
	}
	closedir(d);
	rpl_strbuf_release(&rel);
	return err;
}

int rpl_prune_runs(struct rpl_state *st, const char *root, size_t keep,
                   struct rpl_prune_result *res)
{
	struct runs r;
	struct kept kept = { .logs = RPL_STRMAP_INIT };
	int err;

	memset(res, 0, sizeof(*res));
	if (!keep)
		return 0;
	memset(&r, 0, sizeof(r));
	r.keep = keep;
	rpl_arena_init(&kept.arena);
	err = rpl_state_runs_each(st, each_run, &r);
	if (!err)
		err = rpl_state_job_logs(st, each_log, &kept);
	if (!err)
		err = clear_logs(root, &r, &kept.logs, res);
	if (!err && !(err = rpl_state_runs_forget(st, r.forget, r.nforget)))
		res->runs = r.nforget;
	free(r.all);
	free(r.forget);
	rpl_strmap_release(&kept.logs);
	rpl_arena_release(&kept.arena);
	return err;
}
