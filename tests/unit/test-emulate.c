/*
 * Emulated builds (runners/emulate.c): which binfmt_misc handler runs an
 * arch's programs, read from copies of real handler files
 * (tests/fixtures/binfmt/: Debian's qemu-user-static registrations, an
 * extension handler, python's, one for ET_EXEC only, one disabled,
 * binfmt_misc off), and what a sysroot must hold, from sysroots made in a
 * temporary directory.
 */
#include "runners/emulate.h"
#include "common/error.h"
#include "recipes/repoconfig.h"

#include <errno.h>
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

#define FIX RPL_FIXTURES "/binfmt/"

static char tmp[256];

static int setup(void **state)
{
	(void)state;
	return rpl_test_mkdtemp(tmp, sizeof(tmp), "emulate");
}

static int teardown(void **state)
{
	(void)state;
	unsetenv(RPL_BINFMT_DIR_ENV);
	return rpl_test_remove_tree(tmp);
}

/* The arch that is not the host's in these tests, and its handler's name. */
static const char *other(void)
{
	return strcmp(rpl_host_arch(), "aarch64") ? "aarch64" : "x86_64";
}

static void expect_handler(const char *dir, const char *arch, const char *name, int fix)
{
	struct rpl_binfmt b;
	int err = rpl_binfmt_find(dir, arch, &b);

	if (err)
		fail_msg("%s: %s", arch, rpl_errmsg());
	assert_string_equal(b.name, name);
	assert_int_equal(b.fix_binary, fix);
}

static void expect_none(const char *dir, const char *arch, int code, const char *msg)
{
	struct rpl_binfmt b;

	assert_int_equal(rpl_binfmt_find(dir, arch, &b), code);
	if (!strstr(rpl_errmsg(), msg))
		fail_msg("message '%s' lacks '%s'", rpl_errmsg(), msg);
}

static void test_registered(void **state)
{
	(void)state;
	expect_handler(FIX "registered", "aarch64", "qemu-aarch64", 1);
	expect_handler(FIX "registered", "x86_64", "qemu-x86_64", 1);
	/* Little-endian 32-bit ARM is qemu-arm's, not qemu-armeb's. */
	expect_handler(FIX "registered", "armv7", "qemu-arm", 1);
	expect_handler(FIX "registered", "armhf", "qemu-arm", 1);
	/* A big-endian machine. */
	expect_handler(FIX "registered", "s390x", "qemu-s390x", 1);
	/* Nothing takes these: jar and python's handlers are not for ELF files. */
	/* qemu-riscv64 there takes ET_EXEC only (no mask), not PIE programs. */
	expect_none(FIX "registered", "riscv64", -RPL_ENOTFOUND,
	            "no binfmt_misc handler for riscv64 ELF programs is registered in");
	expect_none(FIX "registered", "ppc64le", -RPL_ENOTFOUND, "qemu-user-static");
	expect_none(FIX "registered", "x86", -RPL_ENOTFOUND, "no binfmt_misc handler for x86");
	expect_none(FIX "registered", "mips", -RPL_EUSAGE, "no ELF machine for the arch 'mips'");
}

static void test_interpreter(void **state)
{
	struct rpl_binfmt b;

	(void)state;
	assert_int_equal(rpl_binfmt_find(FIX "registered", "aarch64", &b), 0);
	assert_string_equal(b.interpreter, "/usr/libexec/qemu-binfmt/aarch64-binfmt-P");
}

static void test_not_usable(void **state)
{
	(void)state;
	expect_none(FIX "disabled", "aarch64", -RPL_ENOTFOUND,
	            "qemu-aarch64 would run aarch64 "
	            "programs, but it is disabled");
	expect_none(FIX "off", "aarch64", -RPL_ENOTFOUND, "binfmt_misc is disabled");
	expect_none(FIX "nowhere", "aarch64", -RPL_ENOTFOUND,
	            "binfmt_misc is not mounted at " FIX "nowhere");
	/* The environment names the directory when the caller does not. */
	setenv(RPL_BINFMT_DIR_ENV, FIX "off", 1);
	expect_none(NULL, "aarch64", -RPL_ENOTFOUND, "binfmt_misc is disabled");
}

/* A handler of our own: `flags` and the interpreter's path. */
static void write_handler(const char *dir, const char *arch, const char *flags, const char *interp)
{
	char path[512], text[1024];
	const char *magic = !strcmp(arch, "aarch64") ? "7f454c460201010000000000000000000200b700"
	                                             : "7f454c4602010100000000000000000002003e00";

	snprintf(path, sizeof(path), "%s/status", dir);
	rpl_test_write_file("", path, "enabled\n");
	snprintf(path, sizeof(path), "%s/qemu-%s", dir, arch);
	snprintf(text, sizeof(text),
	         "enabled\ninterpreter %s\nflags: %s\noffset 0\nmagic %s\n"
	         "mask ffffffffffffff00fffffffffffffffffeffffff\n",
	         interp, flags, magic);
	rpl_test_write_file("", path, text);
}

/* The first 20 bytes of an ELF program for `arch` (little-endian). */
static void write_elf(const char *path, const char *arch)
{
	unsigned char h[64] = { 0x7f, 'E', 'L', 'F', 2, 1, 1 };
	unsigned machine = !strcmp(arch, "aarch64") ? 183 : 62;
	FILE *f = fopen(path, "wb");

	if (!f)
		fail_msg("cannot write %s: %s", path, strerror(errno));
	h[16] = 3;
	h[18] = (unsigned char)(machine & 0xff);
	h[19] = (unsigned char)(machine >> 8);
	fwrite(h, 1, sizeof(h), f);
	fclose(f);
}

/*
 * A merged-/usr sysroot for `arch` at tmp/NAME, with absolute links that
 * must be followed inside it: /bin -> /usr/bin, /usr/bin/sh -> /bin/busybox.
 */
static const char *make_sysroot(const char *name, const char *arch, int with_local)
{
	static char root[512];
	char p[600];

	snprintf(root, sizeof(root), "%s/%s", tmp, name);
	snprintf(p, sizeof(p), "%s/usr/bin/busybox", root);
	rpl_test_write_file("", p, "");
	write_elf(p, arch);
	snprintf(p, sizeof(p), "%s/usr/bin/sh", root);
	assert_int_equal(symlink("/bin/busybox", p), 0);
	snprintf(p, sizeof(p), "%s/bin", root);
	assert_int_equal(symlink("/usr/bin", p), 0);
	snprintf(p, sizeof(p), "%s/usr/local", root);
	if (with_local)
		assert_int_equal(mkdir(p, 0755), 0);
	return root;
}

static void expect_refused(const char *arch, const char *sysroot, const char *msg)
{
	struct rpl_emulation e;

	assert_int_equal(rpl_emulate_check(arch, sysroot, ".ripple.yaml:2:12", &e), -RPL_EUSAGE);
	if (!strstr(rpl_errmsg(), msg))
		fail_msg("message '%s' lacks '%s'", rpl_errmsg(), msg);
}

static void test_host(void **state)
{
	struct rpl_emulation e;
	const char *root;

	(void)state;
	/* The host's arch needs no handler and no sysroot. */
	setenv(RPL_BINFMT_DIR_ENV, FIX "nowhere", 1);
	assert_int_equal(rpl_emulate_check(rpl_host_arch(), NULL, NULL, &e), 0);
	assert_false(e.emulated);
	assert_string_equal(e.sysroot, "");
	/* A sysroot of the host's arch is used; one of another arch is refused. */
	root = make_sysroot("host", rpl_host_arch(), 1);
	assert_int_equal(rpl_emulate_check(rpl_host_arch(), root, NULL, &e), 0);
	assert_false(e.emulated);
	assert_string_equal(e.sysroot, root);
	root = make_sysroot("foreign", other(), 1);
	{
		char msg[128];
		snprintf(msg, sizeof(msg), "is for %s, not %s", other(), rpl_host_arch());
		expect_refused(rpl_host_arch(), root, msg);
	}
}

static void test_emulated(void **state)
{
	struct rpl_emulation e;
	const char *root;
	char dir[512];

	(void)state;
	/* Without a handler: refused, naming the reason. */
	setenv(RPL_BINFMT_DIR_ENV, FIX "off", 1);
	expect_refused(other(), NULL, "binfmt_misc is disabled");
	/* With one but without a sysroot: refused, saying what to set. */
	setenv(RPL_BINFMT_DIR_ENV, FIX "registered", 1);
	expect_refused(other(), NULL, "sysroots: {");
	/* A sysroot that is not there, has no /bin/sh, no usr/local, or is the host's. */
	expect_refused(other(), "/nonexistent/sysroot",
	               ".ripple.yaml:2:12: the sysroot "
	               "'/nonexistent/sysroot' is not a directory");
	snprintf(dir, sizeof(dir), "%s/empty", tmp);
	assert_int_equal(mkdir(dir, 0755), 0);
	expect_refused(other(), dir, "has no /bin/sh");
	expect_refused(other(), "/", "the host's root");
	root = make_sysroot("nolocal", other(), 0);
	expect_refused(other(), root, "has no usr/local directory");
	/* One of the host's arch is not the other arch's. */
	root = make_sysroot("hostroot", rpl_host_arch(), 1);
	expect_refused(other(), root, "is for");
	/* The right one: emulated, through the F handler, nothing to bind. */
	root = make_sysroot("good", other(), 1);
	assert_int_equal(rpl_emulate_check(other(), root, NULL, &e), 0);
	assert_true(e.emulated);
	assert_string_equal(e.sysroot, root);
	assert_int_equal(e.binfmt.fix_binary, 1);
	assert_string_equal(e.bind_interpreter, "");
}

static void test_script_shell(void **state)
{
	struct rpl_emulation e;
	char root[512], p[600];

	(void)state;
	setenv(RPL_BINFMT_DIR_ENV, FIX "registered", 1);
	snprintf(root, sizeof(root), "%s/script", tmp);
	snprintf(p, sizeof(p), "%s/bin/sh", root);
	rpl_test_write_file("", p, "#!/bin/busybox sh\n");
	snprintf(p, sizeof(p), "%s/usr/local", root);
	rpl_test_write_file("", p, "");
	expect_refused(other(), root, "has no usr/local directory");
	unlink(p);
	assert_int_equal(mkdir(p, 0755), 0);
	assert_int_equal(rpl_emulate_check(other(), root, NULL, &e), 0);
	/* A /bin/sh that is neither a script nor ELF. */
	snprintf(p, sizeof(p), "%s/bin/sh", root);
	rpl_test_write_file("", p, "MZ not a program at all\n");
	expect_refused(other(), root, "is not a program");
}

/* Without F the interpreter must be reachable by its path inside the sandbox. */
static void test_no_fix_binary(void **state)
{
	struct rpl_emulation e;
	const char *root;
	char dir[512], interp[512], p[1100];

	(void)state;
	snprintf(dir, sizeof(dir), "%s/binfmt", tmp);
	setenv(RPL_BINFMT_DIR_ENV, dir, 1);
	root = make_sysroot("nofix", other(), 1);
	/* Under /usr, which the sysroot replaces: refused unless the sysroot has it. */
	write_handler(dir, other(), "P", "/usr/bin/qemu-static");
	expect_refused(other(), root, "has no F flag, so its interpreter /usr/bin/qemu-static");
	snprintf(p, sizeof(p), "%s/usr/bin/qemu-static", root);
	rpl_test_write_file("", p, "");
	assert_int_equal(rpl_emulate_check(other(), root, NULL, &e), 0);
	assert_string_equal(e.bind_interpreter, "");
	/* Elsewhere: bound at its path when the host has it. */
	snprintf(interp, sizeof(interp), "%s/opt/qemu-static", tmp);
	write_handler(dir, other(), "", interp);
	expect_refused(other(), root, "which is not there");
	rpl_test_write_file("", interp, "");
	assert_int_equal(rpl_emulate_check(other(), root, NULL, &e), 0);
	assert_string_equal(e.bind_interpreter, interp);
	assert_int_equal(e.binfmt.fix_binary, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_registered),
		cmocka_unit_test(test_interpreter),
		cmocka_unit_test(test_not_usable),
		cmocka_unit_test_setup_teardown(test_host, setup, teardown),
		cmocka_unit_test_setup_teardown(test_emulated, setup, teardown),
		cmocka_unit_test_setup_teardown(test_script_shell, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_fix_binary, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
