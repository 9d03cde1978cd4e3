/*
 * Writes the binary seeds of the fuzz corpora with ripple's own writers, so
 * none is committed and they follow the writers as these change:
 *
 *   <out>/apk/       apks from rpl_apk_write: plain, with scriptlets and
 *                    links, signed, an empty tree
 *   <out>/apkindex/  APKINDEX.tar.gz from rpl_repo_add, unsigned and signed,
 *                    and the index text
 *   <out>/extract/   tars written with libarchive: plain and compressed, pax
 *                    long names, links, and the hostile entries
 *                    runners/extract.h refuses (.., absolute, devices, a
 *                    FIFO, setuid, hard links outside), plus an apk
 *
 * Usage: fuzz-mkseeds OUT.  Every output is a few hundred bytes to a few KB.
 * The bytes do not depend on the time (SOURCE_DATE_EPOCH is fixed) except
 * where a signature's key is generated afresh.
 */
#include "common/error.h"
#include "common/file.h"
#include "common/strbuf.h"
#include "runners/apkwrite.h"
#include "runners/repo.h"
#include "runners/workspace.h"

#include <archive.h>
#include <archive_entry.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

static const char *out;

static _Noreturn void die(const char *what)
{
	fprintf(stderr, "fuzz-mkseeds: %s: %s\n", what, rpl_errmsg());
	exit(1);
}

/* `out`/`dir`/`rel`, or `out`/`dir` when `rel` is "". */
static char *at(const char *dir, const char *rel)
{
	char *d = rpl_path_join(out, dir), *p;

	if (!*rel)
		return d;
	p = rpl_path_join(d, rel);
	free(d);
	return p;
}

static void write_text(const char *dir, const char *rel, const char *text)
{
	char *p = at(dir, rel), *parent = rpl_path_dirname(p);

	if (rpl_mkdirs(parent) || rpl_write_file_atomic(p, text, strlen(text)))
		die(p);
	free(parent);
	free(p);
}

static void meta(struct rpl_apk_meta *m, const char *name)
{
	memset(m, 0, sizeof(*m));
	m->name = name;
	m->version = "1.2.3-r1";
	m->arch = "x86_64";
	m->origin = name;
	m->description = "a fuzz seed";
	m->url = "https://example.com/";
	m->source_date_epoch = 1700000000;
}

static void write_apk(const char *tree, const struct rpl_apk_meta *m, const struct rpl_signer *k,
                      const char *name)
{
	char *t = at("work", tree), *d = at("apk", ""), *p = at("apk", name);

	if (rpl_mkdirs(t) || rpl_mkdirs(d) || rpl_apk_write(t, NULL, 0, m, k, p, NULL))
		die(p);
	free(t);
	free(d);
	free(p);
}

static void apks(const struct rpl_signer *key)
{
	static char *const depends[] = { "so:libc.so.6", "busybox>=1.36" };
	static char *const provides[] = { "cmd:seed=1.2.3-r1", "seed-virtual=1" };
	static char *const licenses[] = { "MIT" };
	static char *const triggers[] = { "/usr/share/seed" };
	struct rpl_apk_meta m;
	char *link;

	write_text("work", "plain/usr/share/seed/README", "seed\n");
	write_text("work", "full/usr/bin/seed", "#!/bin/sh\necho seed\n");
	write_text("work", "full/etc/seed.conf", "a = b\n");
	link = at("work", "full/usr/bin/seed-link");
	if (symlink("seed", link) < 0)
		die(link);
	free(link);
	if (rpl_mkdirs((link = at("work", "empty"))))
		die(link);
	free(link);

	meta(&m, "seed");
	write_apk("plain", &m, NULL, "plain.apk");
	meta(&m, "seed-full");
	m.depends = depends;
	m.ndepends = 2;
	m.provides = provides;
	m.nprovides = 2;
	m.licenses = licenses;
	m.nlicenses = 1;
	m.commit = "0123456789abcdef0123456789abcdef01234567";
	m.provider_priority = "10";
	m.post_install = "#!/bin/sh\necho installed\n";
	m.pre_deinstall = "#!/bin/sh\necho going\n";
	m.trigger = "#!/bin/sh\necho trigger\n";
	m.triggers = triggers;
	m.ntriggers = 1;
	write_apk("full", &m, NULL, "full.apk");
	meta(&m, "seed-signed");
	write_apk("plain", &m, key, "signed.apk");
	meta(&m, "seed-empty");
	write_apk("empty", &m, NULL, "empty.apk");
}

static void copy(const char *from_dir, const char *from, const char *to_dir, const char *to)
{
	char *src = at(from_dir, from), *dst = at(to_dir, to), *buf;
	size_t len;

	if (rpl_read_file(src, &buf, &len) || rpl_write_file_atomic(dst, buf, len))
		die(dst);
	free(buf);
	free(src);
	free(dst);
}

static void indexes(const struct rpl_signer *key)
{
	char *apk[2] = { at("apk", "plain.apk"), at("apk", "full.apk") };
	char *repo = at("work", "repo"), *signed_repo = at("work", "signed-repo"), *index, *text,
	     *signer;

	if (rpl_mkdirs(repo) || rpl_repo_add(repo, apk, 2, NULL))
		die(repo);
	if (rpl_mkdirs(signed_repo) || rpl_repo_add(signed_repo, apk, 1, key))
		die(signed_repo);
	if (rpl_mkdirs((index = at("apkindex", ""))))
		die(index);
	free(index);
	copy("work", "repo/APKINDEX.tar.gz", "apkindex", "APKINDEX.tar.gz");
	copy("work", "signed-repo/APKINDEX.tar.gz", "apkindex", "signed-APKINDEX.tar.gz");
	index = rpl_path_join(repo, "APKINDEX.tar.gz");
	if (rpl_repo_read_index(index, &text, &signer))
		die(index);
	write_text("apkindex", "APKINDEX", text);
	free(text);
	free(signer);
	free(index);
	free(repo);
	free(signed_repo);
	free(apk[0]);
	free(apk[1]);
}

/* One entry of a hand-made archive. */
struct ent {
	const char *name;
	unsigned type; /* AE_IF* */
	unsigned mode;
	const char *data;    /* files */
	const char *symlink; /* AE_IFLNK */
	const char *hardlink;
};

static void write_archive(const char *name, int format, int filter, const struct ent *e, size_t n)
{
	char *path = at("extract", name);
	struct archive *a = archive_write_new();

	/* No padding to a 10 KiB block: a seed should be as small as it can be. */
	archive_write_set_bytes_in_last_block(a, 1);
	if (archive_write_set_format(a, format) != ARCHIVE_OK ||
	    (filter != ARCHIVE_FILTER_NONE && archive_write_add_filter(a, filter) != ARCHIVE_OK) ||
	    archive_write_open_filename(a, path) != ARCHIVE_OK) {
		fprintf(stderr, "fuzz-mkseeds: %s: %s\n", path, archive_error_string(a));
		exit(1);
	}
	for (size_t i = 0; i < n; i++) {
		struct archive_entry *ae = archive_entry_new();
		size_t len = e[i].data ? strlen(e[i].data) : 0;

		archive_entry_set_pathname(ae, e[i].name);
		archive_entry_set_filetype(ae, e[i].type);
		archive_entry_set_perm(ae, e[i].mode);
		archive_entry_set_mtime(ae, 1700000000, 0);
		archive_entry_set_size(ae, (la_int64_t)len);
		if (e[i].symlink)
			archive_entry_set_symlink(ae, e[i].symlink);
		if (e[i].hardlink) {
			archive_entry_set_hardlink(ae, e[i].hardlink);
			archive_entry_set_size(ae, 0);
			len = 0;
		}
		if (e[i].type == AE_IFCHR)
			archive_entry_set_rdev(ae, makedev(1, 3));
		if (archive_write_header(a, ae) != ARCHIVE_OK ||
		    (len && archive_write_data(a, e[i].data, len) != (la_ssize_t)len)) {
			fprintf(stderr, "fuzz-mkseeds: %s: %s\n", path, archive_error_string(a));
			exit(1);
		}
		archive_entry_free(ae);
	}
	if (archive_write_close(a) != ARCHIVE_OK) {
		fprintf(stderr, "fuzz-mkseeds: %s: %s\n", path, archive_error_string(a));
		exit(1);
	}
	archive_write_free(a);
	free(path);
}

static void archives(void)
{
	static const struct ent tree[] = {
		{ "src-1.0/", AE_IFDIR, 0755, NULL, NULL, NULL },
		{ "src-1.0/configure", AE_IFREG, 0755, "#!/bin/sh\necho ok\n", NULL, NULL },
		{ "src-1.0/.hidden", AE_IFREG, 0644, "dot\n", NULL, NULL },
		{ "src-1.0/lib/", AE_IFDIR, 0700, NULL, NULL, NULL },
		{ "src-1.0/lib/a.c", AE_IFREG, 0644, "int a;\n", NULL, NULL },
		{ "src-1.0/lib/b.c", AE_IFREG, 0644, NULL, NULL, "src-1.0/lib/a.c" },
		{ "src-1.0/link", AE_IFLNK, 0777, NULL, "lib/a.c", NULL },
		{ "src-1.0/up", AE_IFLNK, 0777, NULL, "../..", NULL },
		{ "src-1.0/a-directory-name-long-enough-that-its-path-needs-a-pax-header-or-"
		  "the-ustar-prefix-field/long.txt",
		  AE_IFREG, 0644, "long\n", NULL, NULL },
	};
	static const struct ent hostile[] = {
		{ "ok/file", AE_IFREG, 0644, "ok\n", NULL, NULL },
		{ "ok/../../escape", AE_IFREG, 0644, "x\n", NULL, NULL },
		{ "/abs/file", AE_IFREG, 0644, "x\n", NULL, NULL },
		{ "ok/suid", AE_IFREG, 04755, "#!/bin/sh\n", NULL, NULL },
		{ "ok/null", AE_IFCHR, 0666, NULL, NULL, NULL },
		{ "ok/fifo", AE_IFIFO, 0644, NULL, NULL, NULL },
		{ "ok/out", AE_IFLNK, 0777, NULL, "../../outside", NULL },
		{ "ok/out/file", AE_IFREG, 0644, "through a link\n", NULL, NULL },
		{ "ok/hard", AE_IFREG, 0644, NULL, NULL, "../outside/f" },
		{ "ok/missing", AE_IFREG, 0644, NULL, NULL, "ok/nosuch" },
		{ "ok/passwd", AE_IFREG, 0644, NULL, NULL, "/etc/passwd" },
	};
	size_t nt = sizeof(tree) / sizeof(*tree);
	char *dir = at("extract", "");

	if (rpl_mkdirs(dir))
		die(dir);
	free(dir);
	write_archive("tree.tar", ARCHIVE_FORMAT_TAR_USTAR, ARCHIVE_FILTER_NONE, tree, nt);
	write_archive("tree.pax.tar.gz", ARCHIVE_FORMAT_TAR_PAX_RESTRICTED, ARCHIVE_FILTER_GZIP,
	              tree, nt);
	write_archive("tree.gnu.tar.bz2", ARCHIVE_FORMAT_TAR_GNUTAR, ARCHIVE_FILTER_BZIP2, tree,
	              nt);
	write_archive("tree.tar.xz", ARCHIVE_FORMAT_TAR_PAX_RESTRICTED, ARCHIVE_FILTER_XZ, tree,
	              nt);
	write_archive("tree.zip", ARCHIVE_FORMAT_ZIP, ARCHIVE_FILTER_NONE, tree, nt);
	write_archive("tree.cpio", ARCHIVE_FORMAT_CPIO_SVR4_NOCRC, ARCHIVE_FILTER_NONE, tree, nt);
	for (size_t i = 0; i < sizeof(hostile) / sizeof(*hostile); i++) {
		char name[32];
		/* One hostile entry after a good one: each refusal is its own seed. */
		struct ent two[2] = { hostile[0], hostile[i] };

		snprintf(name, sizeof(name), "hostile-%02zu.tar", i);
		write_archive(name, ARCHIVE_FORMAT_TAR_PAX_RESTRICTED, ARCHIVE_FILTER_NONE, two,
		              i ? 2 : 1);
	}
	write_archive("hostile-all.tar.gz", ARCHIVE_FORMAT_TAR_PAX_RESTRICTED, ARCHIVE_FILTER_GZIP,
	              hostile, sizeof(hostile) / sizeof(*hostile));
	copy("apk", "full.apk", "extract", "full.apk");
}

int main(int argc, char **argv)
{
	struct rpl_signer key;
	char *keyfile, *work;

	if (argc != 2) {
		fprintf(stderr, "usage: fuzz-mkseeds OUT\n");
		return 2;
	}
	out = argv[1];
	if (rpl_ws_remove_path(out) || rpl_mkdirs(out))
		die(out);
	work = at("work", "");
	keyfile = at("work", "seed.rsa");
	if (rpl_mkdirs(work) || rpl_signer_generate(keyfile, 1024) ||
	    rpl_signer_load(&key, keyfile))
		die(keyfile);
	apks(&key);
	indexes(&key);
	archives();
	rpl_signer_release(&key);
	free(keyfile);
	if (rpl_ws_remove_path(work))
		die(work);
	free(work);
	return 0;
}
