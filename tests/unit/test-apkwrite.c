/*
 * The APK writer: what it writes reads back (with ripple's reader and with
 * libarchive), names past 100 bytes (ustar prefix, PAX path), long link
 * targets, the PAX SHA-1 records, the analysis of a tree with an ELF
 * library and executables, the same bytes twice, and errors.
 */
#include "common/error.h"
#include "common/file.h"
#include "common/strbuf.h"
#include "runners/apk.h"
#include "runners/apkwrite.h"

#include <archive.h>
#include <archive_entry.h>
#include <openssl/evp.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/unit/testlib.h"

static char dir[256];

static int setup(void **state)
{
	(void)state;
	return rpl_test_mkdtemp(dir, sizeof(dir), "apkwrite");
}

static int teardown(void **state)
{
	(void)state;
	return rpl_test_remove_tree(dir);
}

static char *in_dir(const char *rel)
{
	return rpl_path_join(dir, rel);
}

static void meta(struct rpl_apk_meta *m, const char *name)
{
	memset(m, 0, sizeof(*m));
	m->name = name;
	m->version = "1.2-r3";
	m->arch = "x86_64";
	m->origin = name;
	m->description = "a test";
	m->source_date_epoch = 1700000000;
}

/* Every data entry of an apk, as libarchive reads it: "name|link|sha1\n". */
static void listing(const char *apk, struct rpl_strbuf *out)
{
	struct archive *a = archive_read_new();
	struct archive_entry *e;

	archive_read_support_filter_gzip(a);
	archive_read_support_format_tar(a);
	assert_int_equal(archive_read_open_filename(a, apk, 65536), ARCHIVE_OK);
	while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
		const char *n = archive_entry_pathname(e), *l = archive_entry_symlink(e);
		if (n[0] == '.')
			continue;
		assert_int_equal(archive_entry_mtime(e), 1700000000);
		assert_int_equal(archive_entry_uid(e), 0);
		rpl_strbuf_addf(out, "%s|%s\n", n, l ? l : "");
	}
	archive_read_free(a);
}

static void test_names_and_links(void **state)
{
	char longdir[200], longname[512], target[200], *tree = in_dir("tree"),
	                                               *apk = in_dir("x.apk");
	struct rpl_apk_meta m;
	struct rpl_strbuf got = RPL_STRBUF_INIT, want = RPL_STRBUF_INIT;
	struct rpl_apk back;

	(void)state;
	/* A directory of 120 bytes (prefix split) and a file name past 155 + 100. */
	memset(longdir, 'd', 120);
	longdir[120] = '\0';
	snprintf(longname, sizeof(longname), "tree/%s/%0130d", longdir, 7);
	rpl_test_write_file(dir, longname, "deep\n");
	rpl_test_write_file(dir, "tree/usr/share/x", "x\n");
	memset(target, 't', 150);
	target[150] = '\0';
	{
		char *l = in_dir("tree/usr/share/far");
		assert_int_equal(symlink(target, l), 0);
		free(l);
	}
	meta(&m, "names");
	assert_int_equal(rpl_apk_write(tree, NULL, 0, &m, NULL, apk, NULL), 0);
	listing(apk, &got);
	rpl_strbuf_addf(&want,
	                "%s|\n%s/%0130d|\nusr|\nusr/share|\nusr/share/far|%s\nusr/share/x|\n",
	                longdir, longdir, 7, target);
	assert_string_equal(got.buf, want.buf);
	/* ripple's reader: .PKGINFO as written, datahash is the data section's. */
	assert_int_equal(rpl_apk_read(apk, &back), 0);
	assert_string_equal(back.pkgname, "names");
	assert_string_equal(back.pkgver, "1.2-r3");
	assert_int_equal(back.builddate, 1700000000);
	assert_non_null(back.datahash);
	assert_int_equal(strlen(back.datahash), 64);
	rpl_apk_release(&back);
	rpl_strbuf_release(&got);
	rpl_strbuf_release(&want);
	free(tree);
	free(apk);
}

static void test_same_bytes_twice(void **state)
{
	char *tree = in_dir("tree"), *a = in_dir("a.apk"), *b = in_dir("b.apk"), *ta, *tb;
	struct rpl_apk_meta m;
	size_t la, lb;

	(void)state;
	rpl_test_write_file(dir, "tree/usr/bin/tool", "#!/bin/sh\necho tool\n");
	rpl_test_write_file(dir, "tree/usr/lib/pkgconfig/tool.pc", "Name: tool\n");
	{
		char *p = in_dir("tree/usr/bin/tool");
		assert_int_equal(chmod(p, 0755), 0);
		free(p);
	}
	meta(&m, "tool");
	assert_int_equal(rpl_apk_write(tree, NULL, 0, &m, NULL, a, NULL), 0);
	sleep(1); /* what changes with time must not show */
	assert_int_equal(rpl_apk_write(tree, NULL, 0, &m, NULL, b, NULL), 0);
	assert_int_equal(rpl_read_file(a, &ta, &la), 0);
	assert_int_equal(rpl_read_file(b, &tb, &lb), 0);
	assert_int_equal(la, lb);
	assert_memory_equal(ta, tb, la);
	free(ta);
	free(tb);
	{
		struct rpl_apk back;
		assert_int_equal(rpl_apk_read(a, &back), 0);
		/* cmd: for an executable in a bin dir, pc: for a pkg-config file. */
		assert_int_equal(back.nprovides, 2);
		assert_string_equal(back.provides[0], "cmd:tool=1.2-r3");
		assert_string_equal(back.provides[1], "pc:tool=1.2-r3");
		rpl_apk_release(&back);
	}
	free(tree);
	free(a);
	free(b);
}

/* A shared library and a program built here: so: provides and depends. */
/* Scriptlets: in the control section after .PKGINFO, bytewise, 0755; the trigger's paths. */
static void test_scriptlets(void **state)
{
	char *tree = in_dir("tree"), *apk = in_dir("s.apk");
	static char *const paths[] = { "/usr/share/fonts", "/usr/lib/modules" };
	struct rpl_apk_meta m;
	struct rpl_apk back;
	struct rpl_strbuf names = RPL_STRBUF_INIT;
	struct archive *a = archive_read_new();
	struct archive_entry *e;

	(void)state;
	rpl_test_write_file(dir, "tree/usr/share/s/x", "x\n");
	meta(&m, "scripted");
	m.post_install = "#!/bin/sh\necho installed\n";
	m.pre_deinstall = "#!/bin/sh\necho going\n";
	m.trigger = "#!/bin/sh\nfc-cache\n";
	m.pre_upgrade = ""; /* empty: not written */
	m.triggers = paths;
	m.ntriggers = 2;
	m.melange_yaml = "package:\n  name: scripted\n";
	m.melange_yaml_len = strlen(m.melange_yaml);
	assert_int_equal(rpl_apk_write(tree, NULL, 0, &m, NULL, apk, NULL), 0);
	/* The first gzip member is the control section (unsigned). */
	archive_read_support_filter_gzip(a);
	archive_read_support_format_tar(a);
	assert_int_equal(archive_read_open_filename(a, apk, 65536), ARCHIVE_OK);
	while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
		const char *n = archive_entry_pathname(e);
		if (n[0] != '.')
			break;
		rpl_strbuf_addf(&names, "%s %o\n", n, (unsigned)archive_entry_perm(e));
		assert_int_equal(archive_entry_mtime(e), 1700000000);
		if (!strcmp(n, ".melange.yaml")) {
			char buf[64] = "";
			assert_int_equal(archive_read_data(a, buf, sizeof(buf) - 1),
			                 (la_ssize_t)m.melange_yaml_len);
			assert_string_equal(buf, m.melange_yaml);
		}
	}
	archive_read_free(a);
	/* melange's order (bytewise); .melange.yaml is no script (not executable). */
	assert_string_equal(names.buf, ".PKGINFO 644\n.melange.yaml 644\n.post-install 755\n"
	                               ".pre-deinstall 755\n.trigger 755\n");
	assert_int_equal(rpl_apk_read(apk, &back), 0);
	assert_string_equal(back.triggers, "/usr/share/fonts /usr/lib/modules ");
	assert_int_equal(back.nscripts, 3);
	assert_string_equal(back.scripts[0].name, ".post-install");
	assert_string_equal(back.scripts[0].data, "#!/bin/sh\necho installed\n");
	assert_int_equal(back.scripts[0].mode, 0755);
	assert_string_equal(back.scripts[2].name, ".trigger");
	rpl_apk_release(&back);
	rpl_strbuf_release(&names);
	free(tree);
	free(apk);
}

/* An apk read from memory reads as the same file read from disk; cut short, it is refused. */
static void test_read_memory(void **state)
{
	char *tree = in_dir("tree"), *apk = in_dir("m.apk"), *buf;
	struct rpl_apk_meta m;
	struct rpl_apk f, mem;
	size_t len, control_end;

	(void)state;
	rpl_test_write_file(dir, "tree/usr/share/m/x", "x\n");
	meta(&m, "mem");
	m.post_install = "#!/bin/sh\necho installed\n";
	assert_int_equal(rpl_apk_write(tree, NULL, 0, &m, NULL, apk, NULL), 0);
	assert_int_equal(rpl_read_file(apk, &buf, &len), 0);
	assert_int_equal(rpl_apk_read(apk, &f), 0);
	assert_int_equal(rpl_apk_read_memory(buf, len, "m.apk", &mem), 0);
	assert_string_equal(mem.pkgname, f.pkgname);
	assert_string_equal(mem.datahash, f.datahash);
	assert_int_equal(mem.file_size, len);
	assert_int_equal(mem.file_size, f.file_size);
	assert_int_equal(mem.control_off, f.control_off);
	assert_int_equal(mem.data_off, f.data_off);
	assert_memory_equal(mem.control_sha1, f.control_sha1, sizeof(f.control_sha1));
	assert_memory_equal(mem.data_sha256, f.data_sha256, sizeof(f.data_sha256));
	assert_int_equal(mem.nscripts, 1);
	assert_string_equal(mem.scripts[0].data, f.scripts[0].data);
	control_end = (size_t)f.data_off;
	rpl_apk_release(&mem);
	rpl_apk_release(&f);
	/* The control member cut in half: an error that names the package. */
	assert_int_not_equal(rpl_apk_read_memory(buf, control_end / 2, "m.apk", &mem), 0);
	assert_non_null(strstr(rpl_errmsg(), "'m.apk'"));
	assert_null(mem.pkgname);
	free(buf);
	free(tree);
	free(apk);
}

static void test_elf_analysis(void **state)
{
	char cmd[2048], *tree = in_dir("out/libx"), *dev = in_dir("out/libx-dev"),
	                *apk = in_dir("libx.apk"), *devapk = in_dir("libx-dev.apk");
	char *siblings[2] = { tree, dev };
	struct rpl_apk_meta m;
	struct rpl_apk back;
	struct rpl_strbuf log = RPL_STRBUF_INIT;

	(void)state;
	if (system("cc --version >/dev/null 2>&1"))
		rpl_test_skip("no C compiler (cc)");
	rpl_test_write_file(dir, "x.c", "int x(void) { return 1; }\n");
	rpl_test_write_file(dir, "m.c", "int x(void); int main(void) { return x(); }\n");
	snprintf(cmd, sizeof(cmd),
	         "cd '%s' && mkdir -p out/libx/usr/lib out/libx/usr/bin out/libx-dev/usr/lib && "
	         "cc -shared -fPIC -Wl,-soname,libx.so.2 -o out/libx/usr/lib/libx.so.2.5 x.c && "
	         "ln -s libx.so.2.5 out/libx/usr/lib/libx.so.2 && "
	         "cc -o out/libx/usr/bin/m m.c out/libx/usr/lib/libx.so.2.5 && "
	         "ln -s libx.so.2 out/libx-dev/usr/lib/libx.so",
	         dir);
	assert_int_equal(system(cmd), 0);
	meta(&m, "libx");
	assert_int_equal(rpl_apk_write(tree, siblings, 2, &m, NULL, apk, &log), 0);
	assert_int_equal(rpl_apk_read(apk, &back), 0);
	{
		struct rpl_strbuf all = RPL_STRBUF_INIT;
		for (size_t i = 0; i < back.nprovides; i++)
			rpl_strbuf_addf(&all, "p %s\n", back.provides[i]);
		for (size_t i = 0; i < back.ndepends; i++)
			rpl_strbuf_addf(&all, "d %s\n", back.depends[i]);
		/* Its own library is provided, so not a dependency; libc is. */
		assert_non_null(strstr(all.buf, "p so:libx.so.2=2\n"));
		assert_non_null(strstr(all.buf, "p cmd:m=1.2-r3\n"));
		assert_non_null(strstr(all.buf, "d so:libc.so.6\n"));
		assert_null(strstr(all.buf, "d so:libx.so.2\n"));
		rpl_strbuf_release(&all);
	}
	rpl_apk_release(&back);
	meta(&m, "libx-dev");
	assert_int_equal(rpl_apk_write(dev, siblings, 2, &m, NULL, devapk, NULL), 0);
	assert_int_equal(rpl_apk_read(devapk, &back), 0);
	assert_int_equal(back.ndepends, 1);
	assert_string_equal(back.depends[0], "so:libx.so.2");
	rpl_apk_release(&back);
	if (!strstr(log.buf, "libx: found provides cmd:m=1.2-r3 provides so:libx.so.2=2 "))
		fail_msg("log: %s", log.buf);
	rpl_strbuf_release(&log);
	/*
	 * A sibling whose usr/lib a step made a link to a directory outside the
	 * trees: the -dev link's library is looked up inside that tree only, so
	 * nothing is read from where the link points.
	 */
	{
		char *evil = in_dir("out/evil"), *evildev = in_dir("out/evildev");
		char *sib[2] = { evil, evildev };
		snprintf(cmd, sizeof(cmd),
		         "cd '%s' && mkdir -p out/evil/usr out/evildev/usr/lib && "
		         "ln -s '%s/out/libx/usr/lib' out/evil/usr/lib && "
		         "ln -s libx.so.2.5 out/evildev/usr/lib/libx.so",
		         dir, dir);
		assert_int_equal(system(cmd), 0);
		meta(&m, "evildev");
		assert_int_equal(rpl_apk_write(evildev, sib, 2, &m, NULL, devapk, NULL), 0);
		assert_int_equal(rpl_apk_read(devapk, &back), 0);
		assert_int_equal(back.ndepends, 0);
		rpl_apk_release(&back);
		free(evil);
		free(evildev);
	}
	free(tree);
	free(dev);
	free(apk);
	free(devapk);
}

static void test_errors(void **state)
{
	char *apk = in_dir("x.apk"), *missing = in_dir("nosuch"), *tree = in_dir("tree");
	struct rpl_apk_meta m;

	(void)state;
	meta(&m, "x");
	assert_int_not_equal(rpl_apk_write(missing, NULL, 0, &m, NULL, apk, NULL), 0);
	assert_non_null(strstr(rpl_errmsg(), "nosuch"));
	assert_int_not_equal(access(apk, F_OK), 0);
	/* A fifo cannot be packaged; nothing is left half written. */
	rpl_test_write_file(dir, "tree/ok", "ok\n");
	{
		char *f = in_dir("tree/pipe");
		assert_int_equal(mkfifo(f, 0644), 0);
		free(f);
	}
	assert_int_not_equal(rpl_apk_write(tree, NULL, 0, &m, NULL, apk, NULL), 0);
	assert_non_null(strstr(rpl_errmsg(), "only files, directories and links"));
	assert_int_not_equal(access(apk, F_OK), 0);
	free(apk);
	free(missing);
	free(tree);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
		T(test_names_and_links), T(test_same_bytes_twice), T(test_scriptlets),
		T(test_read_memory),     T(test_elf_analysis),     T(test_errors),
#undef T
	};
	return rpl_test_result(cmocka_run_group_tests(tests, NULL, NULL));
}
