/*
 * Building for an arch that is not the host's (runners/emulate.h).
 *
 * binfmt_misc (Documentation/admin-guide/binfmt-misc.rst) shows each
 * registered handler as a file of its directory:
 *
 *   enabled                      or "disabled"
 *   interpreter /usr/libexec/qemu-binfmt/aarch64-binfmt-P
 *   flags: PF
 *   offset 0
 *   magic 7f454c460201010000000000000000000200b700
 *   mask ffffffffffffff00fffffffffffffffffeffffff
 *
 * (an extension handler says "extension .jar" instead of offset, magic and
 * mask), and `status` says whether binfmt_misc as a whole is enabled.  A
 * handler takes a file when the file's bytes from `offset`, masked, equal
 * the magic masked the same way.  Rather than knowing qemu's magic strings,
 * ripple makes the first bytes of an ELF executable (ET_EXEC) and of a PIE
 * program (ET_DYN) of the arch and asks each enabled handler whether it
 * would take both.
 */
#include "runners/emulate.h"
#include "common/error.h"
#include "common/strbuf.h"
#include "recipes/repoconfig.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* An arch's ELF identity: class (1: 32-bit, 2: 64-bit), data (1: LSB, 2: MSB), e_machine. */
static const struct elfm {
	const char *arch;
	unsigned char cls, data;
	uint16_t machine;
} elfms[] = {
	{ "x86_64", 2, 1, 62 },   { "aarch64", 2, 1, 183 }, { "x86", 1, 1, 3 },
	{ "armv7", 1, 1, 40 },    { "armhf", 1, 1, 40 },    { "ppc64le", 2, 1, 21 },
	{ "riscv64", 2, 1, 243 }, { "s390x", 2, 2, 22 },    { "loongarch64", 2, 1, 258 },
};

#define HEADER_LEN 64
#define MAX_MAGIC 128

static const struct elfm *find_elfm(const char *arch)
{
	for (size_t i = 0; i < sizeof(elfms) / sizeof(*elfms); i++)
		if (!strcmp(elfms[i].arch, arch))
			return &elfms[i];
	return NULL;
}

static void put16(unsigned char *p, unsigned v, int msb)
{
	p[msb ? 1 : 0] = (unsigned char)(v & 0xff);
	p[msb ? 0 : 1] = (unsigned char)(v >> 8);
}

/* The first bytes of an ELF file of type `type` (2: ET_EXEC, 3: ET_DYN) for `m`. */
static void elf_header(const struct elfm *m, unsigned type, unsigned char h[HEADER_LEN])
{
	memset(h, 0, HEADER_LEN);
	memcpy(h, "\177ELF", 4);
	h[4] = m->cls;
	h[5] = m->data;
	h[6] = 1; /* EV_CURRENT */
	put16(h + 16, type, m->data == 2);
	put16(h + 18, m->machine, m->data == 2);
	h[m->data == 2 ? 23 : 20] = 1; /* e_version */
}

struct handler {
	int enabled, magic_type, fix;
	long offset;
	unsigned char magic[MAX_MAGIC], mask[MAX_MAGIC];
	size_t nmagic, nmask;
	char interpreter[PATH_MAX];
};

static int hexval(char c)
{
	return c >= '0' && c <= '9'   ? c - '0'
	       : c >= 'a' && c <= 'f' ? c - 'a' + 10
	       : c >= 'A' && c <= 'F' ? c - 'A' + 10
	                              : -1;
}

static size_t unhex(const char *s, unsigned char *out, size_t max)
{
	size_t n = 0;

	while (n < max && hexval(s[0]) >= 0 && hexval(s[1]) >= 0) {
		out[n++] = (unsigned char)(hexval(s[0]) << 4 | hexval(s[1]));
		s += 2;
	}
	return n;
}

/* Reads a small text file whole; returns its length, or -1. */
static ssize_t read_small(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	ssize_t n, got = 0;

	if (fd < 0)
		return -1;
	while ((size_t)got < size - 1 && (n = read(fd, buf + got, size - 1 - (size_t)got)) > 0)
		got += n;
	close(fd);
	buf[got] = '\0';
	return got;
}

static void parse_handler(char *text, struct handler *h)
{
	memset(h, 0, sizeof(*h));
	for (char *line = text, *next; line && *line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		if (!strcmp(line, "enabled"))
			h->enabled = 1;
		else if (!strncmp(line, "interpreter ", 12))
			snprintf(h->interpreter, sizeof(h->interpreter), "%s", line + 12);
		else if (!strncmp(line, "flags:", 6))
			h->fix = strchr(line + 6, 'F') != NULL;
		else if (!strncmp(line, "offset ", 7))
			h->offset = strtol(line + 7, NULL, 10);
		else if (!strncmp(line, "magic ", 6)) {
			h->magic_type = 1;
			h->nmagic = unhex(line + 6, h->magic, sizeof(h->magic));
		} else if (!strncmp(line, "mask ", 5))
			h->nmask = unhex(line + 5, h->mask, sizeof(h->mask));
	}
}

/* Whether `h` takes a file that starts with `hd`. */
static int takes(const struct handler *h, const unsigned char hd[HEADER_LEN])
{
	if (!h->magic_type || !h->nmagic || h->offset < 0 ||
	    (size_t)h->offset + h->nmagic > HEADER_LEN)
		return 0;
	for (size_t i = 0; i < h->nmagic; i++) {
		unsigned char k = i < h->nmask ? h->mask[i] : 0xff;
		if ((hd[h->offset + i] & k) != (h->magic[i] & k))
			return 0;
	}
	return 1;
}

static int is_handler(const struct dirent *de)
{
	return de->d_name[0] != '.' && strcmp(de->d_name, "register") &&
	       strcmp(de->d_name, "status");
}

int rpl_binfmt_find(const char *dir, const char *arch, struct rpl_binfmt *out)
{
	const struct elfm *m = find_elfm(arch);
	unsigned char exec[HEADER_LEN], dyn[HEADER_LEN];
	struct dirent **names = NULL;
	char buf[4096], disabled[256] = "";
	struct rpl_strbuf p = RPL_STRBUF_INIT;
	int n, err = 0, found = 0;

	memset(out, 0, sizeof(*out));
	if (!dir)
		dir = getenv(RPL_BINFMT_DIR_ENV);
	if (!dir || !*dir)
		dir = "/proc/sys/fs/binfmt_misc";
	if (!m)
		return rpl_error(-RPL_EUSAGE, "ripple knows no ELF machine for the arch '%s'",
		                 arch);
	elf_header(m, 2, exec);
	elf_header(m, 3, dyn);
	rpl_strbuf_addf(&p, "%s/status", dir);
	if (read_small(p.buf, buf, sizeof(buf)) < 0) {
		err = rpl_error(
		        -RPL_ENOTFOUND,
		        "binfmt_misc is not mounted at %s, so nothing runs %s programs here", dir,
		        arch);
		goto out;
	}
	if (strncmp(buf, "enabled", 7)) {
		err = rpl_error(-RPL_ENOTFOUND, "binfmt_misc is disabled (%s says so)", p.buf);
		goto out;
	}
	if ((n = scandir(dir, &names, is_handler, alphasort)) < 0) {
		err = rpl_error(-RPL_ENOTFOUND, "cannot list %s: %s", dir, strerror(errno));
		goto out;
	}
	for (int i = 0; i < n; i++) {
		struct handler h;
		if (!found) {
			rpl_strbuf_reset(&p);
			rpl_strbuf_addf(&p, "%s/%s", dir, names[i]->d_name);
			if (read_small(p.buf, buf, sizeof(buf)) >= 0) {
				parse_handler(buf, &h);
				if (takes(&h, exec) && takes(&h, dyn)) {
					if (!h.enabled) {
						if (!*disabled)
							snprintf(disabled, sizeof(disabled), "%s",
							         names[i]->d_name);
					} else if (*h.interpreter) {
						snprintf(out->name, sizeof(out->name), "%s",
						         names[i]->d_name);
						memcpy(out->interpreter, h.interpreter,
						       sizeof(out->interpreter));
						out->fix_binary = h.fix;
						found = 1;
					}
				}
			}
		}
		free(names[i]);
	}
	free(names);
	if (found)
		goto out;
	if (*disabled)
		err = rpl_error(-RPL_ENOTFOUND,
		                "the binfmt_misc handler %s/%s would run %s programs, but it is "
		                "disabled",
		                dir, disabled, arch);
	else
		err = rpl_error(-RPL_ENOTFOUND,
		                "no binfmt_misc handler for %s ELF programs is registered in %s "
		                "(Debian's qemu-user-static and binfmt-support register one)",
		                arch, dir);
out:
	rpl_strbuf_release(&p);
	return err;
}

/*
 * Resolves `path` (absolute, as seen with `root` as /) to a host path under
 * root, following links as they would be followed inside, so that an
 * absolute link target stays inside the root.  Returns 0, or -errno.
 */
static int resolve_in(const char *root, const char *path, struct rpl_strbuf *out)
{
	struct rpl_strbuf rest = RPL_STRBUF_INIT;
	char cur[PATH_MAX] = "", host[PATH_MAX * 2];
	size_t ncur = 0;
	const char *at;
	int hops = 0, err = 0;

	rpl_strbuf_addstr(&rest, path);
	at = rest.buf;
	while (*at && !err) {
		size_t n = strcspn(at, "/");
		char comp[NAME_MAX + 1];
		struct stat st;
		if (n > NAME_MAX || ncur + n + 2 > sizeof(cur)) {
			err = -ENAMETOOLONG;
			break;
		}
		memcpy(comp, at, n);
		comp[n] = '\0';
		at += n + (at[n] == '/');
		if (!n || !strcmp(comp, "."))
			continue;
		if (!strcmp(comp, "..")) { /* never above the root */
			char *slash = strrchr(cur, '/');
			if (slash) {
				*slash = '\0';
				ncur = (size_t)(slash - cur);
			}
			continue;
		}
		snprintf(host, sizeof(host), "%s%s/%s", root, cur, comp);
		if (lstat(host, &st) < 0) {
			err = -errno;
		} else if (S_ISLNK(st.st_mode)) {
			char target[PATH_MAX];
			ssize_t len = readlink(host, target, sizeof(target) - 1);
			struct rpl_strbuf next = RPL_STRBUF_INIT;
			if (len <= 0 || ++hops > 40) {
				err = len <= 0 ? -errno : -ELOOP;
				break;
			}
			target[len] = '\0';
			if (target[0] == '/')
				cur[ncur = 0] = '\0';
			/* The link's target, then what was left after it. */
			rpl_strbuf_addf(&next, "%s/%s", target, at);
			rpl_strbuf_release(&rest);
			rest = next;
			at = rest.buf;
		} else {
			ncur += (size_t)snprintf(cur + ncur, sizeof(cur) - ncur, "/%s", comp);
		}
	}
	if (!err) {
		rpl_strbuf_reset(out);
		rpl_strbuf_addf(out, "%s%s", root, ncur ? cur : "/");
	}
	rpl_strbuf_release(&rest);
	return err;
}

static const char *machine_name(unsigned cls, unsigned machine)
{
	for (size_t i = 0; i < sizeof(elfms) / sizeof(*elfms); i++)
		if (elfms[i].machine == machine && elfms[i].cls == cls)
			return elfms[i].arch;
	return NULL;
}

/* The sysroot's /bin/sh must be there and be a script or an ELF program of `m`'s arch. */
static int check_shell(const char *root, const struct elfm *m, const char *origin)
{
	struct rpl_strbuf sh = RPL_STRBUF_INIT;
	unsigned char h[20];
	ssize_t n = -1;
	int fd, err = resolve_in(root, "/bin/sh", &sh);

	if (err) {
		err = rpl_error(-RPL_EUSAGE,
		                "%s: the sysroot %s has no /bin/sh for the steps to run with",
		                origin, root);
		goto out;
	}
	if ((fd = open(sh.buf, O_RDONLY | O_CLOEXEC | O_NONBLOCK)) >= 0) {
		n = read(fd, h, sizeof(h));
		close(fd);
	}
	if (n >= 2 && h[0] == '#' && h[1] == '!')
		goto out;
	if (n < 20 || memcmp(h, "\177ELF", 4)) {
		err = rpl_error(-RPL_EUSAGE, "%s: the sysroot's /bin/sh (%s) is not a program",
		                origin, sh.buf);
		goto out;
	}
	{
		unsigned machine =
		        h[5] == 2 ? (unsigned)h[18] << 8 | h[19] : (unsigned)h[19] << 8 | h[18];
		const char *what = machine_name(h[4], machine);
		if (h[4] != m->cls || machine != m->machine)
			err = rpl_error(-RPL_EUSAGE,
			                "%s: the sysroot %s is for %s, not %s (its /bin/sh is %s "
			                "ELF machine %u)",
			                origin, root, what ? what : "another machine", m->arch,
			                sh.buf, machine);
	}
out:
	rpl_strbuf_release(&sh);
	return err;
}

/* The directories of the root the sandbox takes from a sysroot (runners/sandbox.c). */
static const char *const sysroot_dirs[] = { "/usr",   "/etc",   "/bin",    "/sbin", "/lib",
	                                    "/lib32", "/lib64", "/libx32", NULL };

static int under_any(const char *path)
{
	for (const char *const *d = sysroot_dirs; *d; d++) {
		size_t n = strlen(*d);
		if (!strncmp(path, *d, n) && (path[n] == '/' || !path[n]))
			return 1;
	}
	return 0;
}

int rpl_emulate_check(const char *arch, const char *sysroot, const char *origin,
                      struct rpl_emulation *out)
{
	const struct elfm *m = find_elfm(arch);
	const char *host = rpl_host_arch();
	struct rpl_strbuf p = RPL_STRBUF_INIT;
	struct stat st;
	int err = 0;

	memset(out, 0, sizeof(*out));
	if (!origin)
		origin = "--sysroot";
	out->emulated = strcmp(arch, host) != 0;
	if (out->emulated && (err = rpl_binfmt_find(NULL, arch, &out->binfmt)))
		return rpl_error(-RPL_EUSAGE, "%s", rpl_errmsg());
	if (!sysroot || !*sysroot) {
		if (out->emulated)
			err = rpl_error(
			        -RPL_EUSAGE,
			        "%s runs %s programs, but the steps need a userland of that arch: "
			        "name a root filesystem for %s with `sysroots: {%s: DIR}` in "
			        ".ripple.yaml or --sysroot DIR (docs/build.md says how to make one)",
			        out->binfmt.name, arch, arch, arch);
		return err;
	}
	if (!m)
		return rpl_error(-RPL_EUSAGE, "ripple knows no ELF machine for the arch '%s'",
		                 arch);
	if (stat(sysroot, &st) < 0 || !S_ISDIR(st.st_mode) || !realpath(sysroot, out->sysroot))
		return rpl_error(-RPL_EUSAGE, "%s: the sysroot '%s' is not a directory", origin,
		                 sysroot);
	if (!strcmp(out->sysroot, "/"))
		return rpl_error(-RPL_EUSAGE, "%s: the sysroot '%s' is the host's root", origin,
		                 sysroot);
	if ((err = check_shell(out->sysroot, m, origin)))
		return err;
	if (resolve_in(out->sysroot, "/usr/local", &p) || stat(p.buf, &st) < 0 ||
	    !S_ISDIR(st.st_mode)) {
		err = rpl_error(-RPL_EUSAGE,
		                "%s: the sysroot %s has no usr/local directory, where the build's "
		                "packages are put",
		                origin, out->sysroot);
		goto out;
	}
	/* Without F, the kernel opens the interpreter by its path inside the sandbox. */
	if (out->emulated && !out->binfmt.fix_binary &&
	    resolve_in(out->sysroot, out->binfmt.interpreter, &p) != 0) {
		if (under_any(out->binfmt.interpreter))
			err = rpl_error(
			        -RPL_EUSAGE,
			        "%s: the binfmt_misc handler %s has no F flag, so its "
			        "interpreter %s must be in the sandbox, and the sysroot %s has "
			        "none there (copy it there, or register the handler with F)",
			        origin, out->binfmt.name, out->binfmt.interpreter, out->sysroot);
		else if (stat(out->binfmt.interpreter, &st) < 0)
			err = rpl_error(
			        -RPL_EUSAGE,
			        "the binfmt_misc handler %s names the interpreter %s, which "
			        "is not there",
			        out->binfmt.name, out->binfmt.interpreter);
		else
			memcpy(out->bind_interpreter, out->binfmt.interpreter,
			       sizeof(out->bind_interpreter));
	}
out:
	rpl_strbuf_release(&p);
	return err;
}
