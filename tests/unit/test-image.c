/*
 * The native image assembler against hostile apks, as data files
 * (tests/fixtures/image, *.case): each case describes packages entry by
 * entry, the apks are written here byte by byte (so that they can hold what
 * no packager writes), indexed into a repository, and an image of them is
 * assembled.  The case says which error it must end with, or what the layer
 * must and must not hold.
 *
 * A case file:
 *
 *   # what it checks
 *   == apk NAME [nodatahash]   a package (version 1.0-r0), one entry a line:
 *   d PATH                     a directory
 *   f PATH TEXT                a file holding TEXT (the rest of the line)
 *   z PATH SIZE                a file of SIZE zero bytes
 *   F PATH SIZE                a header that promises SIZE bytes, and no data
 *   X PATH SIZE                a PAX extended header of SIZE bytes (one comment
 *                              record) for the entry that follows
 *   l PATH TARGET              a symlink
 *   h PATH TARGET              a hard link
 *   c PATH / b PATH / p PATH   a character device, a block device, a FIFO
 *                              (TYPE:MODE sets the mode, e.g. f:4755)
 *   == tamper NAME             the data section NAME's apk gets after it was
 *                              indexed, entries as above
 *   == control NAME            entries for NAME's control section, after .PKGINFO
 *   == world                   the image's packages (default: every apk)
 *   == max-size                what the packages may unpack to (default: the
 *                              assembler's), in bytes
 *   == error                   a part of the message the build must end with
 *   == layer                   lines the layer's listing must hold:
 *                              TYPE MODE PATH [-> LINK] [= TEXT]
 *   == absent                  paths the layer must not hold
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "common/error.h"
#include "common/sha256.h"
#include "common/file.h"
#include "common/strbuf.h"
#include "common/xalloc.h"
#include "recipes/apko.h"
#include "runners/apk.h"
#include "runners/image.h"
#include "runners/imglock.h"
#include "runners/repo.h"
#include "runners/tar.h"
#include "tests/unit/testlib.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CASES RPL_FIXTURES "/image"

struct apk {
	char name[64];
	int nodatahash;
	struct rpl_strbuf entries, tamper, control; /* entry lines */
};

struct kase {
	struct apk apks[8];
	size_t napks;
	struct rpl_strbuf world, error, layer, absent, max_size;
};

static char tmp[256];

static int setup(void **state)
{
	(void)state;
	return rpl_test_mkdtemp(tmp, sizeof(tmp), "image");
}

static int teardown(void **state)
{
	(void)state;
	return rpl_test_remove_tree(tmp);
}

/* The data tar of `lines` (entry lines), its end blocks included. */
static void data_tar(const char *file, const char *lines, struct rpl_strbuf *tar)
{
	static const char zeros[65536], end[1024];

	for (const char *l = lines; l && *l;) {
		size_t ll = strcspn(l, "\n");
		char *line = rpl_xstrndup(l, ll), *path, *arg;
		struct rpl_tar_entry e = { 0 };
		unsigned long long size = 0;
		char type = line[0];

		l += ll + (l[ll] == '\n');
		path = strchr(line, ' ');
		if (!ll || !path)
			fail_msg("%s: not an entry line: '%s'", file, line);
		*path++ = '\0';
		arg = strchr(path, ' ');
		if (arg)
			*arg++ = '\0';
		e.name = path;
		e.mtime = 1700000000;
		e.owner = "root";
		e.mode = type == 'd' ? 0755 : type == 'l' ? 0777 : 0644;
		if (line[1] == ':')
			e.mode = (unsigned)strtoul(line + 2, NULL, 8);
		switch (type) {
		case 'd':
			e.type = '5';
			break;
		case 'f':
			e.type = '0';
			e.size = arg ? strlen(arg) : 0;
			break;
		case 'z':
		case 'F':
			e.type = '0';
			e.size = size = strtoull(arg ? arg : "0", NULL, 10);
			break;
		case 'X':
			e.type = 'x';
			e.size = size = strtoull(arg ? arg : "0", NULL, 10);
			if (size < 32)
				fail_msg("%s: a PAX header of %llu bytes is too small", file, size);
			break;
		case 'l':
			e.type = '2';
			e.link = arg;
			break;
		case 'h':
			e.type = '1';
			e.link = arg;
			break;
		case 'c':
			e.type = '3';
			e.devmajor = 1;
			e.devminor = 3;
			break;
		case 'b':
			e.type = '4';
			e.devmajor = 8;
			break;
		case 'p':
			e.type = '6';
			break;
		default:
			fail_msg("%s: unknown entry type '%c'", file, type);
		}
		rpl_tar_header(tar, &e);
		if (type == 'f' && arg) {
			rpl_strbuf_addstr(tar, arg);
			rpl_tar_pad(tar, e.size);
		} else if (type == 'X') {
			/* "SIZE comment=zzz...\n": the length counts its own digits. */
			int digits = snprintf(NULL, 0, "%llu", size);
			rpl_strbuf_addf(tar, "%llu comment=", size);
			for (uint64_t left = size - (uint64_t)digits - 9; left; left--)
				rpl_strbuf_addch(tar, left == 1 ? '\n' : 'z');
			rpl_tar_pad(tar, (size_t)size);
		} else if (type == 'z') {
			for (uint64_t left = size; left;) {
				size_t n = left < sizeof(zeros) ? (size_t)left : sizeof(zeros);
				rpl_strbuf_add(tar, zeros, n);
				left -= n;
			}
			rpl_tar_pad(tar, (size_t)size);
		}
		free(line);
	}
	rpl_strbuf_add(tar, end, sizeof(end));
}

/*
 * The apk file of `a`: control section (no end blocks, as apks have it), data
 * section.  The data section holds the entries `lines`; its datahash is that
 * of the entries `hashed` (the same, but for a tampered apk).
 */
static void write_apk(const char *file, const struct apk *a, const char *lines, const char *hashed,
                      const char *path)
{
	struct rpl_strbuf tar = RPL_STRBUF_INIT, data = RPL_STRBUF_INIT, pkginfo = RPL_STRBUF_INIT,
	                  ctl = RPL_STRBUF_INIT, apk = RPL_STRBUF_INIT;
	struct rpl_tar_entry e = { 0 };
	unsigned char d[32];
	char hex[65];

	data_tar(file, hashed, &tar);
	assert_int_equal(rpl_gzip(tar.buf, tar.len, 0, &data), 0);
	EVP_Digest(data.buf, data.len, d, NULL, EVP_sha256(), NULL);
	rpl_strbuf_reset(&tar);
	rpl_strbuf_reset(&data);
	data_tar(file, lines, &tar);
	assert_int_equal(rpl_gzip(tar.buf, tar.len, 0, &data), 0);
	rpl_hex(d, 32, hex);
	rpl_strbuf_addf(&pkginfo,
	                "pkgname = %s\npkgver = 1.0-r0\narch = x86_64\nsize = 1\norigin = %s\n"
	                "pkgdesc = a test\n",
	                a->name, a->name);
	if (!a->nodatahash)
		rpl_strbuf_addf(&pkginfo, "datahash = %s\n", hex);
	rpl_strbuf_reset(&tar);
	e.name = ".PKGINFO";
	e.type = '0';
	e.mode = 0644;
	e.size = pkginfo.len;
	e.owner = "root";
	rpl_tar_header(&tar, &e);
	rpl_strbuf_add(&tar, pkginfo.buf, pkginfo.len);
	rpl_tar_pad(&tar, pkginfo.len);
	if (a->control.len) {
		data_tar(file, a->control.buf, &tar);
		tar.len -= 1024; /* no end blocks */
	}
	assert_int_equal(rpl_gzip(tar.buf, tar.len, 0, &ctl), 0);
	rpl_strbuf_add(&apk, ctl.buf, ctl.len);
	rpl_strbuf_add(&apk, data.buf, data.len);
	assert_int_equal(rpl_write_file_atomic(path, apk.buf, apk.len), 0);
	rpl_strbuf_release(&tar);
	rpl_strbuf_release(&data);
	rpl_strbuf_release(&pkginfo);
	rpl_strbuf_release(&ctl);
	rpl_strbuf_release(&apk);
}

/* The JSON blob `digest` of the OCI layout `layout`. */
static json_t *blob_json(const char *layout, const char *digest)
{
	struct rpl_strbuf p = RPL_STRBUF_INIT;
	char *text;
	size_t len;
	json_t *j;

	assert_non_null(digest);
	rpl_strbuf_addf(&p, "%s/blobs/sha256/%s", layout, digest + 7);
	assert_int_equal(rpl_read_file(p.buf, &text, &len), 0);
	j = json_loads(text, 0, NULL);
	assert_non_null(j);
	free(text);
	rpl_strbuf_release(&p);
	return j;
}

static const char *first_digest(json_t *j, const char *list)
{
	return json_string_value(
	        json_object_get(json_array_get(json_object_get(j, list), 0), "digest"));
}

/* The tar entries of the layer of the image in `layout`, one line each (see the top). */
static void layer_listing(const char *layout, struct rpl_strbuf *out)
{
	struct rpl_strbuf p = RPL_STRBUF_INIT;
	json_t *index, *inner, *manifest;
	struct archive *a;
	struct archive_entry *e;

	rpl_strbuf_addf(&p, "%s/index.json", layout);
	index = json_load_file(p.buf, 0, NULL);
	assert_non_null(index);
	inner = blob_json(layout, first_digest(index, "manifests"));
	manifest = blob_json(layout, first_digest(inner, "manifests"));
	rpl_strbuf_reset(&p);
	rpl_strbuf_addf(&p, "%s/blobs/sha256/%s", layout, first_digest(manifest, "layers") + 7);
	a = archive_read_new();
	archive_read_support_filter_gzip(a);
	archive_read_support_format_tar(a);
	assert_int_equal(archive_read_open_filename(a, p.buf, 65536), ARCHIVE_OK);
	json_decref(index);
	json_decref(inner);
	json_decref(manifest);
	rpl_strbuf_release(&p);
	while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
		mode_t t = archive_entry_filetype(e);
		const char *link = archive_entry_symlink(e), *hard = archive_entry_hardlink(e);
		char c = hard            ? '1'
		         : t == AE_IFDIR ? '5'
		         : t == AE_IFLNK ? '2'
		         : t == AE_IFCHR ? '3'
		         : t == AE_IFREG ? '0'
		                         : '?';
		rpl_strbuf_addf(out, "%c %04o %s", c, (unsigned)archive_entry_perm(e),
		                archive_entry_pathname(e));
		if (link || hard)
			rpl_strbuf_addf(out, " -> %s", link ? link : hard);
		if (c == '0' && archive_entry_size(e) > 0 && archive_entry_size(e) < 64) {
			char buf[64];
			la_ssize_t n = archive_read_data(a, buf, sizeof(buf));
			rpl_strbuf_addstr(out, " = ");
			for (la_ssize_t i = 0; i < n; i++)
				rpl_strbuf_addstr(out,
				                  buf[i] == '\n' ? "\\n" : (char[]){ buf[i], 0 });
		}
		rpl_strbuf_addch(out, '\n');
	}
	archive_read_free(a);
}

static void section_done(struct kase *k, const char *file, const char *section,
                         struct rpl_strbuf *body)
{
	char name[64] = "", flag[32] = "";
	struct rpl_strbuf *to = NULL;

	if (sscanf(section, "apk %63s %31s", name, flag) >= 1) {
		struct apk *a = &k->apks[k->napks++];
		snprintf(a->name, sizeof(a->name), "%s", name);
		a->nodatahash = !strcmp(flag, "nodatahash");
		rpl_strbuf_add(&a->entries, body->buf ? body->buf : "", body->len);
		return;
	}
	if (sscanf(section, "tamper %63s", name) == 1 ||
	    sscanf(section, "control %63s", name) == 1) {
		for (size_t i = 0; i < k->napks; i++)
			if (!strcmp(k->apks[i].name, name))
				to = section[0] == 't' ? &k->apks[i].tamper : &k->apks[i].control;
		if (!to)
			fail_msg("%s: %s: no apk before it", file, section);
	} else if (!strcmp(section, "world")) {
		to = &k->world;
	} else if (!strcmp(section, "error")) {
		to = &k->error;
	} else if (!strcmp(section, "layer")) {
		to = &k->layer;
	} else if (!strcmp(section, "absent")) {
		to = &k->absent;
	} else if (!strcmp(section, "max-size")) {
		to = &k->max_size;
	} else {
		fail_msg("%s: unknown section '%s'", file, section);
	}
	rpl_strbuf_add(to, body->buf ? body->buf : "", body->len);
}

static void parse_case(const char *file, struct kase *k)
{
	char *text, section[128] = "";
	size_t len;
	struct rpl_strbuf body = RPL_STRBUF_INIT;

	assert_int_equal(rpl_read_file(file, &text, &len), 0);
	for (char *l = text; *l;) {
		size_t ll = strcspn(l, "\n");
		if (!strncmp(l, "== ", 3)) {
			if (*section)
				section_done(k, file, section, &body);
			snprintf(section, sizeof(section), "%.*s", (int)ll - 3, l + 3);
			rpl_strbuf_reset(&body);
		} else if (*section && ll && l[0] != '#') {
			rpl_strbuf_add(&body, l, ll);
			rpl_strbuf_addch(&body, '\n');
		}
		l += ll + (l[ll] == '\n');
	}
	if (*section)
		section_done(k, file, section, &body);
	rpl_strbuf_release(&body);
	free(text);
	while (k->error.len && k->error.buf[k->error.len - 1] == '\n')
		k->error.buf[--k->error.len] = '\0';
}

static void release_case(struct kase *k)
{
	for (size_t i = 0; i < k->napks; i++) {
		rpl_strbuf_release(&k->apks[i].entries);
		rpl_strbuf_release(&k->apks[i].tamper);
		rpl_strbuf_release(&k->apks[i].control);
	}
	rpl_strbuf_release(&k->world);
	rpl_strbuf_release(&k->error);
	rpl_strbuf_release(&k->layer);
	rpl_strbuf_release(&k->absent);
	rpl_strbuf_release(&k->max_size);
}

/* Whether `listing` has the line `line`, or (as_path) a line naming the path `line`. */
static int has_line(const char *listing, const char *line, size_t n, int as_path)
{
	for (const char *l = listing; l && *l;) {
		size_t ll = strcspn(l, "\n");
		if (!as_path && ll == n && !memcmp(l, line, n))
			return 1;
		if (as_path && ll > 7 && !strncmp(l + 7, line, n) &&
		    (l[7 + n] == '\n' || l[7 + n] == ' ' || !l[7 + n]))
			return 1;
		l += ll + (l[ll] == '\n');
	}
	return 0;
}

/* Each line of `want` is (or, absent, names a path that is not) in the listing. */
static int check_lines(const char *file, const char *listing, const char *want, int absent)
{
	int failures = 0;

	for (const char *l = want; l && *l;) {
		size_t ll = strcspn(l, "\n");
		if (has_line(listing, l, ll, absent) == absent) {
			print_error("%s: the layer %s '%.*s'\n", file, absent ? "holds" : "lacks",
			            (int)ll, l);
			failures++;
		}
		l += ll + (l[ll] == '\n');
	}
	if (failures)
		print_error("%s: the layer:\n%s", file, listing);
	return failures;
}

/* Assembles `config` from the repository repos[0] into `out`, with the limit `max_size`. */
static int build_max(struct rpl_image_opts *o, const char *config, char **repos, const char *out,
                     const char *cache, const char *lockfile, uint64_t max_size)
{
	memset(o, 0, sizeof(*o));
	o->max_size = max_size;
	o->file = config;
	o->arch = "x86_64";
	o->out_dir = out;
	o->tag = "latest";
	o->repositories = repos;
	o->nrepositories = 1;
	o->cache_dir = cache;
	o->source_date_epoch = 0;
	o->lockfile = lockfile;
	rpl_error_clear();
	return rpl_image_build(o);
}

static int build(struct rpl_image_opts *o, const char *config, char **repos, const char *out,
                 const char *cache, const char *lockfile)
{
	return build_max(o, config, repos, out, cache, lockfile, 0);
}

static int run_case(const char *file, const char *name)
{
	struct kase k;
	struct rpl_strbuf p = RPL_STRBUF_INIT, listing = RPL_STRBUF_INIT;
	char *apks[8], *repo, *dir, *config, *out, *cache;
	char *repos[1];
	struct rpl_image_opts o;
	int err, failures = 0;

	memset(&k, 0, sizeof(k));
	parse_case(file, &k);
	rpl_strbuf_addf(&p, "%s/%s", tmp, name);
	repo = rpl_strbuf_detach(&p);
	dir = rpl_path_join(repo, "x86_64");
	out = rpl_path_join(repo, "images");
	cache = rpl_path_join(repo, "cache");
	assert_int_equal(rpl_mkdirs(dir), 0);
	for (size_t i = 0; i < k.napks; i++) {
		rpl_strbuf_addf(&p, "%s/%s-1.0-r0.apk", dir, k.apks[i].name);
		apks[i] = rpl_strbuf_detach(&p);
		write_apk(file, &k.apks[i], k.apks[i].entries.buf, k.apks[i].entries.buf, apks[i]);
	}
	if (rpl_repo_add(dir, apks, k.napks, NULL))
		fail_msg("%s: %s", file, rpl_errmsg());
	for (size_t i = 0; i < k.napks; i++)
		if (k.apks[i].tamper.len)
			write_apk(file, &k.apks[i], k.apks[i].tamper.buf, k.apks[i].entries.buf,
			          apks[i]);
	rpl_strbuf_addstr(&p, "contents:\n  packages:\n");
	if (k.world.len) {
		for (const char *l = k.world.buf; *l;) {
			size_t ll = strcspn(l, "\n");
			rpl_strbuf_addf(&p, "    - %.*s\n", (int)ll, l);
			l += ll + (l[ll] == '\n');
		}
	} else {
		for (size_t i = 0; i < k.napks; i++)
			rpl_strbuf_addf(&p, "    - %s\n", k.apks[i].name);
	}
	rpl_test_write_file(repo, "image.apko.yaml", p.buf);
	rpl_strbuf_reset(&p);
	config = rpl_path_join(repo, "image.apko.yaml");
	repos[0] = repo;
	err = build_max(&o, config, repos, out, cache, NULL,
	                k.max_size.len ? strtoull(k.max_size.buf, NULL, 10) : 0);
	if (k.error.len) {
		if (!err) {
			print_error("%s: built, expected an error with '%s'\n", file, k.error.buf);
			failures++;
		} else if (!strstr(rpl_errmsg(), k.error.buf)) {
			print_error("%s: error '%s', expected '%s'\n", file, rpl_errmsg(),
			            k.error.buf);
			failures++;
		}
		/* A refused build leaves no image behind. */
		rpl_strbuf_addf(&p, "%s/image/index.json", out);
		if (access(p.buf, F_OK) == 0) {
			print_error("%s: refused, but %s was written\n", file, p.buf);
			failures++;
		}
	} else if (err) {
		print_error("%s: %s\n", file, rpl_errmsg());
		failures++;
	} else {
		layer_listing(o.layout, &listing);
		failures += check_lines(file, listing.buf, k.layer.buf, 0);
		failures += check_lines(file, listing.buf, k.absent.buf, 1);
	}
	for (size_t i = 0; i < k.napks; i++)
		free(apks[i]);
	free(repo);
	free(dir);
	free(out);
	free(cache);
	free(config);
	rpl_strbuf_release(&p);
	rpl_strbuf_release(&listing);
	release_case(&k);
	return failures;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void test_cases(void **state)
{
	DIR *d = opendir(CASES);
	struct dirent *de;
	char *names[256];
	size_t n = 0;
	int failures = 0;

	(void)state;
	assert_non_null(d);
	while ((de = readdir(d)) && n < 256)
		if (rpl_str_endswith(de->d_name, ".case"))
			names[n++] = rpl_xstrdup(de->d_name);
	closedir(d);
	qsort(names, n, sizeof(*names), cmp_str);
	for (size_t i = 0; i < n; i++) {
		char *file = rpl_path_join(CASES, names[i]);
		names[i][strlen(names[i]) - 5] = '\0';
		failures += run_case(file, names[i]);
		free(file);
		free(names[i]);
	}
	assert_true(n > 0);
	assert_int_equal(failures, 0);
}

/*
 * An apk without datahash is refused from an index, but a lock file that
 * records its data section's checksum vouches for it, and catches the data
 * swapped.
 */
static void test_lockfile(void **state)
{
	struct apk a = { "nohash", 1, RPL_STRBUF_INIT, RPL_STRBUF_INIT, RPL_STRBUF_INIT };
	char *dir = rpl_path_join(tmp, "lock"), *arch = rpl_path_join(dir, "x86_64"), *repos[1];
	char *apk = rpl_path_join(arch, "nohash-1.0-r0.apk"), *config, *lock, *out, *cache;
	struct rpl_image_opts o;
	struct rpl_lock_entry le;
	struct rpl_apk read;
	struct rpl_image *img;

	(void)state;
	assert_int_equal(rpl_mkdirs(arch), 0);
	rpl_strbuf_addstr(&a.entries, "d usr\nf usr/x y\n");
	write_apk("lock", &a, a.entries.buf, a.entries.buf, apk);
	assert_int_equal(rpl_repo_add(arch, &apk, 1, NULL), 0);
	rpl_test_write_file(dir, "image.apko.yaml", "contents:\n  packages:\n    - nohash\n");
	config = rpl_path_join(dir, "image.apko.yaml");
	lock = rpl_path_join(dir, "image.lock.json");
	out = rpl_path_join(dir, "images");
	cache = rpl_path_join(dir, "cache");
	repos[0] = dir;
	assert_int_not_equal(build(&o, config, repos, out, cache, NULL), 0);
	assert_non_null(strstr(rpl_errmsg(), "has no datahash"));

	assert_int_equal(rpl_apk_read(apk, &read), 0);
	assert_non_null(img = rpl_image_load(config));
	le.url = apk;
	le.apk = &read;
	assert_int_equal(rpl_imglock_write(lock, img, "x86_64", NULL, 0, repos, 1, &le, 1), 0);
	rpl_image_free(img);
	rpl_apk_release(&read);
	if (build(&o, config, repos, out, cache, lock))
		fail_msg("%s", rpl_errmsg());

	rpl_strbuf_reset(&a.entries);
	rpl_strbuf_addstr(&a.entries, "d usr\nf usr/x evil\n");
	write_apk("lock", &a, a.entries.buf, a.entries.buf, apk);
	assert_int_not_equal(build(&o, config, repos, out, cache, lock), 0);
	assert_non_null(strstr(rpl_errmsg(), "the data section does not match the lock file"));

	rpl_strbuf_release(&a.entries);
	free(dir);
	free(arch);
	free(apk);
	free(config);
	free(lock);
	free(out);
	free(cache);
}

/*
 * A local repository's files are bounded before they are read: an
 * APKINDEX.tar.gz larger than RPL_IMAGE_MAX_INDEX (a sparse file: no disk
 * taken) or that is a FIFO (which would block, or a device, which would
 * never end), and an apk larger than the limit.
 */
static void test_local_limits(void **state)
{
	struct apk a = { "small", 0, RPL_STRBUF_INIT, RPL_STRBUF_INIT, RPL_STRBUF_INIT };
	char *dir = rpl_path_join(tmp, "limits"), *arch = rpl_path_join(dir, "x86_64"), *repos[1];
	char *apk = rpl_path_join(arch, "small-1.0-r0.apk"), *index, *moved, *config, *out, *cache;
	struct rpl_image_opts o;
	int fd;

	(void)state;
	assert_int_equal(rpl_mkdirs(arch), 0);
	rpl_strbuf_addstr(&a.entries, "d usr\nf usr/x y\n");
	write_apk("limits", &a, a.entries.buf, a.entries.buf, apk);
	assert_int_equal(rpl_repo_add(arch, &apk, 1, NULL), 0);
	rpl_test_write_file(dir, "image.apko.yaml", "contents:\n  packages:\n    - small\n");
	config = rpl_path_join(dir, "image.apko.yaml");
	out = rpl_path_join(dir, "images");
	cache = rpl_path_join(dir, "cache");
	index = rpl_path_join(arch, "APKINDEX.tar.gz");
	moved = rpl_path_join(dir, "APKINDEX.tar.gz");
	repos[0] = dir;
	if (build(&o, config, repos, out, cache, NULL))
		fail_msg("%s", rpl_errmsg());

	/* The apk is larger than what the packages may unpack to. */
	assert_int_not_equal(build_max(&o, config, repos, out, cache, NULL, 256), 0);
	assert_non_null(strstr(rpl_errmsg(), "small-1.0-r0.apk' is larger than 256 bytes, the "
	                                     "most an apk may be here"));

	assert_int_equal(rename(index, moved), 0);
	fd = open(index, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)RPL_IMAGE_MAX_INDEX + 1), 0);
	close(fd);
	assert_int_not_equal(build(&o, config, repos, out, cache, NULL), 0);
	assert_non_null(strstr(rpl_errmsg(), "APKINDEX.tar.gz' is larger than 256 MiB, the most "
	                                     "an APKINDEX may be here"));

	assert_int_equal(unlink(index), 0);
	assert_int_equal(mkfifo(index, 0644), 0);
	assert_int_not_equal(build(&o, config, repos, out, cache, NULL), 0);
	assert_non_null(strstr(rpl_errmsg(), "APKINDEX.tar.gz' is not a regular file"));

	rpl_strbuf_release(&a.entries);
	free(dir);
	free(arch);
	free(apk);
	free(index);
	free(moved);
	free(config);
	free(out);
	free(cache);
}

/*
 * An index record without C: vouches for nothing of its apk: refused, not
 * installed unchecked.
 */
static void test_index_without_checksum(void **state)
{
	struct apk a = { "unchecked", 0, RPL_STRBUF_INIT, RPL_STRBUF_INIT, RPL_STRBUF_INIT };
	char *dir = rpl_path_join(tmp, "noc"), *arch = rpl_path_join(dir, "x86_64"), *repos[1];
	char *apk = rpl_path_join(arch, "unchecked-1.0-r0.apk"), *index, *text, *signer;
	char *config, *out, *cache;
	struct rpl_strbuf kept = RPL_STRBUF_INIT, tar = RPL_STRBUF_INIT, gz = RPL_STRBUF_INIT;
	struct rpl_tar_entry e = { 0 };
	struct rpl_image_opts o;
	static const char end[1024];

	(void)state;
	assert_int_equal(rpl_mkdirs(arch), 0);
	rpl_strbuf_addstr(&a.entries, "d usr\nf usr/x y\n");
	write_apk("noc", &a, a.entries.buf, a.entries.buf, apk);
	assert_int_equal(rpl_repo_add(arch, &apk, 1, NULL), 0);
	index = rpl_path_join(arch, "APKINDEX.tar.gz");
	assert_int_equal(rpl_repo_read_index(index, &text, &signer), 0);
	for (const char *l = text; *l;) {
		size_t ll = strcspn(l, "\n");
		if (strncmp(l, "C:", 2))
			rpl_strbuf_add(&kept, l, ll + (l[ll] == '\n'));
		l += ll + (l[ll] == '\n');
	}
	assert_null(strstr(kept.buf, "C:"));
	e.name = "APKINDEX";
	e.type = '0';
	e.mode = 0644;
	e.size = kept.len;
	rpl_tar_header(&tar, &e);
	rpl_strbuf_add(&tar, kept.buf, kept.len);
	rpl_tar_pad(&tar, kept.len);
	rpl_strbuf_add(&tar, end, sizeof(end));
	assert_int_equal(rpl_gzip(tar.buf, tar.len, 0, &gz), 0);
	assert_int_equal(rpl_write_file_atomic(index, gz.buf, gz.len), 0);
	rpl_test_write_file(dir, "image.apko.yaml", "contents:\n  packages:\n    - unchecked\n");
	config = rpl_path_join(dir, "image.apko.yaml");
	out = rpl_path_join(dir, "images");
	cache = rpl_path_join(dir, "cache");
	repos[0] = dir;
	assert_int_not_equal(build(&o, config, repos, out, cache, NULL), 0);
	assert_non_null(strstr(rpl_errmsg(), "unchecked-1.0-r0.apk: the index gives no checksum "
	                                     "(C:) for it"));

	free(text);
	free(signer);
	rpl_strbuf_release(&a.entries);
	rpl_strbuf_release(&kept);
	rpl_strbuf_release(&tar);
	rpl_strbuf_release(&gz);
	free(dir);
	free(arch);
	free(apk);
	free(index);
	free(config);
	free(out);
	free(cache);
}

/* The image index the tag `latest` of `layout` names; its digest in `digest`. */
static json_t *tagged_index(const char *layout, char digest[80])
{
	char *p = rpl_path_join(layout, "index.json"), *text;
	size_t len, i;
	json_t *outer, *m, *inner = NULL;

	assert_int_equal(rpl_read_file(p, &text, &len), 0);
	outer = json_loadb(text, len, 0, NULL);
	json_array_foreach(json_object_get(outer, "manifests"), i, m)
	{
		const char *ref = json_string_value(json_object_get(
		        json_object_get(m, "annotations"), "org.opencontainers.image.ref.name"));
		if (ref && !strcmp(ref, "latest")) {
			const char *d = json_string_value(json_object_get(m, "digest"));
			inner = blob_json(layout, d);
			snprintf(digest, 80, "%s", d);
		}
	}
	assert_non_null(inner);
	json_decref(outer);
	free(text);
	free(p);
	return inner;
}

static json_t *file_json(const char *dir, const char *rel)
{
	char *p = rpl_path_join(dir, rel), *text;
	size_t len;
	json_t *j;

	assert_int_equal(rpl_read_file(p, &text, &len), 0);
	j = json_loadb(text, len, 0, NULL);
	assert_non_null(j);
	free(text);
	free(p);
	return j;
}

static int has_element(json_t *doc, const char *id)
{
	size_t i;
	json_t *p;

	json_array_foreach(json_object_get(doc, "packages"), i, p)
	{
		if (!strcmp(json_string_value(json_object_get(p, "SPDXID")), id))
			return 1;
	}
	return 0;
}

static int has_relationship(json_t *doc, const char *a, const char *type, const char *b)
{
	size_t i;
	json_t *r;

	json_array_foreach(json_object_get(doc, "relationships"), i, r)
	{
		if (!strcmp(json_string_value(json_object_get(r, "spdxElementId")), a) &&
		    !strcmp(json_string_value(json_object_get(r, "relationshipType")), type) &&
		    !strcmp(json_string_value(json_object_get(r, "relatedSpdxElement")), b))
			return 1;
	}
	return 0;
}

/*
 * What apko writes besides the image: the index's annotations (the image's,
 * vcs-url's source and revision, `created` the latest of the archs now in
 * it, so an arch built again earlier brings it back), and the SBOMs: the
 * OS from /etc/os-release (through its link), the package's own SBOM
 * merged (what it describes and reaches, not its OS element nor what it
 * does not reach), the index's naming the index's digest.
 */
static void test_annotations_and_sboms(void **state)
{
	static const char doc[] =
	        "{\"SPDXID\":\"SPDXRef-DOCUMENT\",\"documentDescribes\":[\"SPDXRef-Package-apk-meta-"
	        "1.0-r0\"],\"packages\":[{\"SPDXID\":\"SPDXRef-OperatingSystem\",\"name\":\"unknown\"},"
	        "{\"SPDXID\":\"SPDXRef-Package-apk-meta-1.0-r0\",\"name\":\"meta\",\"supplier\":"
	        "\"Organization: X\"},{\"SPDXID\":\"SPDXRef-Package-Melange-meta.yaml-abc\",\"name\":"
	        "\"meta.yaml\"},{\"SPDXID\":\"SPDXRef-Package-stray\",\"name\":\"stray\"}],"
	        "\"relationships\":[{\"spdxElementId\":\"SPDXRef-Package-apk-meta-1.0-r0\","
	        "\"relationshipType\":\"DESCRIBED_BY\",\"relatedSpdxElement\":\"SPDXRef-Package-"
	        "Melange-meta.yaml-abc\"}]}";
	struct apk a = { "meta", 0, RPL_STRBUF_INIT, RPL_STRBUF_INIT, RPL_STRBUF_INIT };
	char *dir = rpl_path_join(tmp, "meta"), *arch = rpl_path_join(dir, "x86_64"), *repos[1];
	char *apk = rpl_path_join(arch, "meta-1.0-r0.apk"), *config, *out, *cache, *layout;
	struct rpl_image_opts o;
	json_t *idx, *man, *sbom, *ann;
	char image_id[4300], idx_digest[80], name[96];

	(void)state;
	assert_int_equal(rpl_mkdirs(arch), 0);
	rpl_strbuf_addf(&a.entries,
	                "d etc\nl etc/os-release ../usr/lib/os-release\nd usr\nd usr/lib\n"
	                "f usr/lib/os-release ID=testos\nd var\nd var/lib\nd var/lib/db\n"
	                "d var/lib/db/sbom\nf var/lib/db/sbom/meta-1.0-r0.spdx.json %s\n",
	                doc);
	write_apk("meta", &a, a.entries.buf, a.entries.buf, apk);
	assert_int_equal(rpl_repo_add(arch, &apk, 1, NULL), 0);
	rpl_test_write_file(dir, "meta.apko.yaml",
	                    "contents:\n  packages:\n    - meta\n"
	                    "vcs-url: https://github.com/x/y@0123abc\n"
	                    "annotations:\n  a: b\n");
	config = rpl_path_join(dir, "meta.apko.yaml");
	out = rpl_path_join(dir, "images");
	cache = rpl_path_join(dir, "cache");
	layout = rpl_path_join(out, "meta");
	repos[0] = dir;

	/* Built at 100, then again at 0: the index says 0, its only arch's time. */
	for (int i = 0; i < 2; i++) {
		memset(&o, 0, sizeof(o));
		o.file = config;
		o.arch = "x86_64";
		o.out_dir = out;
		o.tag = "latest";
		o.repositories = repos;
		o.nrepositories = 1;
		o.cache_dir = cache;
		o.source_date_epoch = i ? 0 : 100;
		assert_int_equal(rpl_image_build(&o), 0);
		idx = tagged_index(layout, idx_digest);
		ann = json_object_get(idx, "annotations");
		assert_string_equal(
		        json_string_value(json_object_get(ann, "org.opencontainers.image.created")),
		        i ? "1970-01-01T00:00:00Z" : "1970-01-01T00:01:40Z");
		json_decref(idx);
	}
	idx = tagged_index(layout, idx_digest);
	man = blob_json(layout, first_digest(idx, "manifests"));
	ann = json_object_get(idx, "annotations");
	assert_string_equal(json_string_value(json_object_get(ann, "a")), "b");
	assert_string_equal(
	        json_string_value(json_object_get(ann, "org.opencontainers.image.source")),
	        "https://github.com/x/y");
	assert_string_equal(
	        json_string_value(json_object_get(ann, "org.opencontainers.image.revision")),
	        "0123abc");
	assert_true(json_equal(ann, json_object_get(man, "annotations")));

	sbom = file_json(layout, "sboms/sbom-x86_64.spdx.json");
	snprintf(image_id, sizeof(image_id), "SPDXRef-Package-Image-sha256-%s", o.digest + 7);
	assert_true(has_element(sbom, image_id));
	assert_true(has_element(sbom, "SPDXRef-OperatingSystem-testos"));
	assert_true(has_element(sbom, "SPDXRef-Package-apk-meta-1.0-r0"));
	assert_true(has_element(sbom, "SPDXRef-Package-Melange-meta.yaml-abc"));
	assert_false(has_element(sbom, "SPDXRef-Package-stray"));
	assert_false(has_element(sbom, "SPDXRef-OperatingSystem"));
	assert_true(
	        has_relationship(sbom, image_id, "CONTAINS", "SPDXRef-Package-apk-meta-1.0-r0"));
	assert_true(has_relationship(sbom, "SPDXRef-Package-apk-meta-1.0-r0", "DESCRIBED_BY",
	                             "SPDXRef-Package-Melange-meta.yaml-abc"));
	/* vcs-url's source, as apko names it. */
	assert_true(has_relationship(sbom, image_id, "GENERATED_FROM",
	                             "SPDXRef-Package-https-C47C47github.comC47xC47yC640123abc"));
	json_decref(sbom);
	sbom = file_json(layout, "sboms/sbom-index.spdx.json");
	snprintf(name, sizeof(name), "sbom-%s", idx_digest);
	assert_string_equal(json_string_value(json_object_get(sbom, "name")), name);
	snprintf(image_id, sizeof(image_id), "SPDXRef-Package-sha256-%s", o.digest + 7);
	assert_true(has_element(sbom, image_id));
	assert_true(has_element(sbom, "SPDXRef-Package-https-C47C47github.comC47xC47yC640123abc"));
	json_decref(sbom);
	json_decref(man);
	json_decref(idx);
	rpl_strbuf_release(&a.entries);
	free(dir);
	free(arch);
	free(apk);
	free(config);
	free(out);
	free(cache);
	free(layout);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cases),
		cmocka_unit_test(test_lockfile),
		cmocka_unit_test(test_local_limits),
		cmocka_unit_test(test_index_without_checksum),
		cmocka_unit_test(test_annotations_and_sboms),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
