#include "runners/apkwrite.h"
#include "runners/workspace.h"
#include "common/error.h"
#include "common/sha256.h"
#include "common/file.h"
#include "common/strbuf.h"
#include "common/xalloc.h"
#include "runners/repo.h"
#include "runners/tar.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

/* ---- the tree ---------------------------------------------------------------------- */

struct node {
	char *path; /* relative, no leading ./, no trailing / */
	struct stat st;
};

struct tree {
	struct node *v;
	size_t n, alloc;
	uint64_t size; /* what melange calls the installed size */
};

static int cmp_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Pre-order, each directory's entries sorted bytewise (fs.WalkDir's order). */
static int walk(struct tree *t, const char *root, const char *rel)
{
	char *abs = rel[0] ? rpl_path_join(root, rel) : rpl_xstrdup(root);
	DIR *d = opendir(abs);
	char **names = NULL;
	size_t n = 0, alloc = 0;
	struct dirent *de;
	int err = 0;

	if (!d) {
		err = rpl_error(-errno, "cannot read '%s': %s", abs, strerror(errno));
		free(abs);
		return err;
	}
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) {
			RPL_ALLOC_GROW(names, n + 1, alloc);
			names[n++] = rpl_xstrdup(de->d_name);
		}
	closedir(d);
	if (n)
		qsort(names, n, sizeof(*names), cmp_name);
	for (size_t i = 0; i < n && !err; i++) {
		char *child = rel[0] ? rpl_path_join(rel, names[i]) : rpl_xstrdup(names[i]);
		char *full = rpl_path_join(root, child);
		struct node *x;

		RPL_ALLOC_GROW(t->v, t->n + 1, t->alloc);
		x = &t->v[t->n];
		if (lstat(full, &x->st) < 0) {
			err = rpl_error(-errno, "cannot stat '%s': %s", full, strerror(errno));
			free(child);
		} else {
			x->path = child;
			t->n++;
			t->size += (uint64_t)x->st.st_size;
			if (S_ISDIR(x->st.st_mode))
				err = walk(t, root, child);
		}
		free(full);
	}
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	free(abs);
	return err;
}

static void tree_release(struct tree *t)
{
	for (size_t i = 0; i < t->n; i++)
		free(t->v[i].path);
	free(t->v);
	memset(t, 0, sizeof(*t));
}

/* ---- analysis (melange's SCA, the common cases) --------------------------------------- */

struct names {
	char **v;
	size_t n, alloc;
};

static void add_name(struct names *l, const char *s)
{
	for (size_t i = 0; i < l->n; i++)
		if (!strcmp(l->v[i], s))
			return;
	RPL_ALLOC_GROW(l->v, l->n + 1, l->alloc);
	l->v[l->n++] = rpl_xstrdup(s);
}

static void names_release(struct names *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	memset(l, 0, sizeof(*l));
}

static int in_dir(const char *path, const char *const *dirs)
{
	const char *slash = strrchr(path, '/');
	size_t n = slash ? (size_t)(slash - path) : 0;

	for (; *dirs; dirs++)
		if (strlen(*dirs) == n && !strncmp(path, *dirs, n))
			return 1;
	return 0;
}

static const char *const bin_dirs[] = { "bin", "sbin", "usr/bin", "usr/sbin", NULL };
static const char *const lib_dirs[] = { "lib", "usr/lib", "lib64", "usr/lib64", NULL };
static const char *const pc_dirs[] = { "usr/lib/pkgconfig",         "usr/local/lib/pkgconfig",
	                               "usr/local/share/pkgconfig", "usr/lib64/pkgconfig",
	                               "usr/share/pkgconfig",       NULL };

/* "1.2" of libfoo.so.1.2: what follows .so. when it is digits and dots, else "0". */
static void libver(const char *soname, char *out, size_t n)
{
	const char *v = strstr(soname, ".so.");

	snprintf(out, n, "0");
	if (!v || !v[4])
		return;
	v += 4;
	if (strspn(v, "0123456789.") == strlen(v))
		snprintf(out, n, "%s", v);
}

/* The dynamic facts of an ELF file: DT_SONAME, DT_NEEDED, PT_INTERP. */
static void elf_facts(const char *path, int in_libdir, struct names *provides,
                      struct names *depends)
{
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	Elf *e;
	size_t nph;

	if (fd < 0)
		return;
	e = elf_begin(fd, ELF_C_READ, NULL);
	if (!e || elf_kind(e) != ELF_K_ELF) {
		elf_end(e);
		close(fd);
		return;
	}
	if (elf_getphdrnum(e, &nph) == 0) {
		for (size_t i = 0; i < nph; i++) {
			GElf_Phdr ph;
			if (!gelf_getphdr(e, (int)i, &ph) || ph.p_type != PT_INTERP)
				continue;
			{
				size_t len;
				char *img = elf_rawfile(e, &len);
				if (img && ph.p_offset < len && ph.p_filesz <= len - ph.p_offset &&
				    ph.p_filesz) {
					char interp[512];
					const char *base;
					size_t k = ph.p_filesz < sizeof(interp)
					                   ? ph.p_filesz
					                   : sizeof(interp) - 1;
					memcpy(interp, img + ph.p_offset, k);
					interp[k] = '\0';
					base = strrchr(interp, '/');
					base = base ? base + 1 : interp;
					if (*base) {
						char dep[600];
						snprintf(dep, sizeof(dep), "so:%s", base);
						add_name(depends, dep);
					}
				}
			}
		}
	}
	for (Elf_Scn *scn = NULL; (scn = elf_nextscn(e, scn));) {
		GElf_Shdr sh;
		Elf_Data *data;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_DYNAMIC)
			continue;
		data = elf_getdata(scn, NULL);
		for (size_t i = 0; data && sh.sh_entsize && i < sh.sh_size / sh.sh_entsize; i++) {
			GElf_Dyn dyn;
			const char *s;
			char buf[600], ver[64];

			if (!gelf_getdyn(data, (int)i, &dyn))
				break;
			if (dyn.d_tag != DT_NEEDED && dyn.d_tag != DT_SONAME)
				continue;
			s = elf_strptr(e, sh.sh_link, dyn.d_un.d_val);
			if (!s || !*s)
				continue;
			if (dyn.d_tag == DT_NEEDED && strstr(s, ".so.")) {
				snprintf(buf, sizeof(buf), "so:%s", s);
				add_name(depends, buf);
			} else if (dyn.d_tag == DT_SONAME && in_libdir) {
				libver(s, ver, sizeof(ver));
				snprintf(buf, sizeof(buf), "so:%s=%s", s, ver);
				add_name(provides, buf);
			}
		}
	}
	elf_end(e);
	close(fd);
}

/*
 * The library `base` in a lib dir of one of the sibling trees, opened, or
 * -1: a regular file, its links resolved inside its tree as they will be
 * once installed (a step may have left `usr -> /` in a tree).
 */
static int sibling_lib(char *const *siblings, size_t n, const char *base)
{
	for (size_t i = 0; i < n; i++) {
		int root = open(siblings[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (root < 0)
			continue;
		for (const char *const *d = lib_dirs; *d; d++) {
			char *f = rpl_path_join(*d, base);
			struct stat st;
			int fd, err = rpl_ws_open_in_root(root, f, O_RDONLY | O_NONBLOCK, &fd);
			free(f);
			if (err)
				continue;
			if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
				close(root);
				return fd;
			}
			close(fd);
		}
		close(root);
	}
	return -1;
}

/* The DT_SONAME of the ELF file open at `fd` (closed), into `out`; 0 when it has none. */
static int elf_soname(int fd, char *out, size_t n)
{
	int found = 0;
	Elf *e;

	e = elf_begin(fd, ELF_C_READ, NULL);
	for (Elf_Scn *scn = NULL;
	     e && elf_kind(e) == ELF_K_ELF && !found && (scn = elf_nextscn(e, scn));) {
		GElf_Shdr sh;
		Elf_Data *data;
		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_DYNAMIC || !sh.sh_entsize)
			continue;
		data = elf_getdata(scn, NULL);
		for (size_t i = 0; data && i < sh.sh_size / sh.sh_entsize; i++) {
			GElf_Dyn dyn;
			const char *s;
			if (!gelf_getdyn(data, (int)i, &dyn))
				break;
			if (dyn.d_tag == DT_SONAME &&
			    (s = elf_strptr(e, sh.sh_link, dyn.d_un.d_val))) {
				snprintf(out, n, "%s", s);
				found = 1;
				break;
			}
		}
	}
	elf_end(e);
	close(fd);
	return found;
}

static void analyse(const char *dir, const struct tree *t, char *const *siblings, size_t nsiblings,
                    const struct rpl_apk_meta *m, struct names *provides, struct names *depends)
{
	elf_version(EV_CURRENT);
	for (size_t i = 0; i < t->n; i++) {
		const struct node *x = &t->v[i];
		const char *base = strrchr(x->path, '/');
		char *full = rpl_path_join(dir, x->path);
		char buf[8192];

		base = base ? base + 1 : x->path;
		if (S_ISREG(x->st.st_mode)) {
			if ((x->st.st_mode & 0555) == 0555 && in_dir(x->path, bin_dirs)) {
				snprintf(buf, sizeof(buf), "cmd:%s=%s", base, m->version);
				if (!m->no_commands)
					add_name(provides, buf);
			}
			if (rpl_str_endswith(base, ".pc") && in_dir(x->path, pc_dirs)) {
				snprintf(buf, sizeof(buf), "pc:%.*s=%s", (int)(strlen(base) - 3),
				         base, m->version);
				add_name(provides, buf);
			}
			elf_facts(full, in_dir(x->path, lib_dirs), provides, depends);
		} else if (S_ISLNK(x->st.st_mode) && strstr(base, ".so")) {
			char target[4096];
			ssize_t k = readlink(full, target, sizeof(target) - 1);
			if (k > 0) {
				const char *tb;
				target[k] = '\0';
				tb = strrchr(target, '/');
				tb = tb ? tb + 1 : target;
				/* A -dev package's link to its sibling's library: a
				 * dependency on that library's SONAME. */
				int lib = sibling_lib(siblings, nsiblings, tb);
				char soname[1024];
				if (lib >= 0) {
					snprintf(buf, sizeof(buf), "so:%s",
					         elf_soname(lib, soname, sizeof(soname)) ? soname
					                                                 : tb);
					add_name(depends, buf);
				}
			}
		}
		free(full);
	}
}

/* The part of a dependency or provide that names it: up to `=` (and `>=`). */
static size_t name_len(const char *s)
{
	size_t n = strcspn(s, "=<>~");

	return n;
}

/* ---- gzip into a file, hashing what it writes ------------------------------------------ */

struct sink {
	z_stream z;
	int fd;
	EVP_MD_CTX *md; /* over the compressed bytes */
	int err;
};

static int sink_write(struct sink *s, const void *data, size_t len, int flush)
{
	unsigned char buf[65536];
	int rc;

	s->z.next_in = (unsigned char *)data;
	s->z.avail_in = (uInt)len;
	do {
		size_t n;
		s->z.next_out = buf;
		s->z.avail_out = sizeof(buf);
		rc = deflate(&s->z, flush);
		n = sizeof(buf) - s->z.avail_out;
		if (n) {
			EVP_DigestUpdate(s->md, buf, n);
			for (size_t off = 0; off < n && !s->err;) {
				ssize_t w = write(s->fd, buf + off, n - off);
				if (w < 0 && errno == EINTR)
					continue;
				if (w < 0)
					s->err = rpl_error(-errno, "cannot write: %s",
					                   strerror(errno));
				else
					off += (size_t)w;
			}
		}
	} while (!s->err && (s->z.avail_out == 0 || (flush == Z_FINISH && rc != Z_STREAM_END)));
	return s->err;
}

/* SHA-1 of a file's content (the PAX checksum record). */
static int sha1_file(const char *path, char out[41])
{
	unsigned char buf[65536], d[20];
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC), err = 0;
	ssize_t n;

	if (fd < 0) {
		EVP_MD_CTX_free(md);
		return rpl_error(-errno, "cannot open '%s': %s", path, strerror(errno));
	}
	EVP_DigestInit_ex(md, EVP_sha1(), NULL);
	while ((n = read(fd, buf, sizeof(buf))) > 0 || (n < 0 && errno == EINTR))
		if (n > 0)
			EVP_DigestUpdate(md, buf, (size_t)n);
	if (n < 0)
		err = rpl_error(-errno, "cannot read '%s': %s", path, strerror(errno));
	EVP_DigestFinal_ex(md, d, NULL);
	rpl_hex(d, 20, out);
	close(fd);
	EVP_MD_CTX_free(md);
	return err;
}

/* The data section into `fd`; its SHA-256 (the datahash) in `digest`. */
static int write_data(const char *dir, const struct tree *t, int64_t sde, int fd,
                      unsigned char digest[32])
{
	struct sink s;
	struct rpl_strbuf b = RPL_STRBUF_INIT;
	static const char zeros[1024];
	int err = 0;

	memset(&s, 0, sizeof(s));
	s.fd = fd;
	s.md = EVP_MD_CTX_new();
	EVP_DigestInit_ex(s.md, EVP_sha256(), NULL);
	deflateInit2(&s.z, Z_BEST_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
	for (size_t i = 0; i < t->n && !err; i++) {
		const struct node *x = &t->v[i];
		char *full = rpl_path_join(dir, x->path);
		struct rpl_tar_entry e = { x->path, '0', (unsigned)x->st.st_mode, 0, sde, NULL,
			                   "root",  NULL };
		char sha[41], target[4096];

		rpl_strbuf_reset(&b);
		if (S_ISDIR(x->st.st_mode)) {
			e.type = '5';
			rpl_tar_header(&b, &e);
			err = sink_write(&s, b.buf, b.len, Z_NO_FLUSH);
		} else if (S_ISLNK(x->st.st_mode)) {
			ssize_t k = readlink(full, target, sizeof(target) - 1);
			unsigned char d[20];
			if (k < 0) {
				err = rpl_error(-errno, "cannot read the link '%s'", full);
			} else {
				target[k] = '\0';
				EVP_Digest(target, (size_t)k, d, NULL, EVP_sha1(), NULL);
				rpl_hex(d, 20, sha);
				e.type = '2';
				e.link = target;
				e.sha1 = sha;
				e.mode = 0777;
				rpl_tar_header(&b, &e);
				err = sink_write(&s, b.buf, b.len, Z_NO_FLUSH);
			}
		} else if (S_ISREG(x->st.st_mode)) {
			int in;
			if (!(err = sha1_file(full, sha))) {
				e.size = (uint64_t)x->st.st_size;
				e.sha1 = sha;
				rpl_tar_header(&b, &e);
				err = sink_write(&s, b.buf, b.len, Z_NO_FLUSH);
			}
			in = err ? -1 : open(full, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
			if (!err && in < 0)
				err = rpl_error(-errno, "cannot open '%s'", full);
			if (in >= 0) {
				char buf[65536];
				ssize_t n;
				uint64_t left = e.size;
				while (!err && left && (n = read(in, buf, sizeof(buf))) > 0) {
					if ((uint64_t)n > left)
						n = (ssize_t)left;
					err = sink_write(&s, buf, (size_t)n, Z_NO_FLUSH);
					left -= (uint64_t)n;
				}
				close(in);
				if (!err && left)
					err = rpl_error(-EIO, "'%s' shrank while packaging", full);
				if (!err && e.size % 512)
					err = sink_write(&s, zeros, 512 - e.size % 512, Z_NO_FLUSH);
			}
		} else {
			err = rpl_error(-RPL_EUSAGE,
			                "'%s': only files, directories and links can be "
			                "packaged",
			                full);
		}
		free(full);
	}
	if (!err)
		err = sink_write(&s, zeros, 1024, Z_FINISH);
	deflateEnd(&s.z);
	EVP_DigestFinal_ex(s.md, digest, NULL);
	EVP_MD_CTX_free(s.md);
	rpl_strbuf_release(&b);
	return err;
}

/* ---- the package ------------------------------------------------------------------------ */

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static char *pkginfo(const struct rpl_apk_meta *m, uint64_t size, const struct names *deps,
                     const struct names *provides, const char *datahash)
{
	struct rpl_strbuf b = RPL_STRBUF_INIT;

	rpl_strbuf_addf(&b, "# Generated by ripple\npkgname = %s\npkgver = %s\narch = %s\n",
	                m->name, m->version, m->arch);
	rpl_strbuf_addf(&b, "size = %llu\norigin = %s\n", (unsigned long long)size,
	                m->origin ? m->origin : m->name);
	rpl_strbuf_addf(&b, "pkgdesc = %s\nurl = %s\ncommit = %s\n",
	                m->description ? m->description : "", m->url ? m->url : "",
	                m->commit ? m->commit : "");
	if (m->maintainer && *m->maintainer)
		rpl_strbuf_addf(&b, "maintainer = %s\n", m->maintainer);
	if (m->source_date_epoch)
		rpl_strbuf_addf(&b, "builddate = %lld\n", (long long)m->source_date_epoch);
	for (size_t i = 0; i < m->nlicenses; i++)
		rpl_strbuf_addf(&b, "license = %s\n", m->licenses[i]);
	for (size_t i = 0; i < deps->n; i++)
		rpl_strbuf_addf(&b, "depend = %s\n", deps->v[i]);
	for (size_t i = 0; i < provides->n; i++)
		rpl_strbuf_addf(&b, "provides = %s\n", provides->v[i]);
	for (size_t i = 0; i < m->nreplaces; i++)
		rpl_strbuf_addf(&b, "replaces = %s\n", m->replaces[i]);
	if (m->provider_priority && *m->provider_priority)
		rpl_strbuf_addf(&b, "provider_priority = %s\n", m->provider_priority);
	if (m->replaces_priority && *m->replaces_priority)
		rpl_strbuf_addf(&b, "replaces_priority = %s\n", m->replaces_priority);
	if (m->ntriggers) {
		rpl_strbuf_addstr(&b, "triggers = ");
		for (size_t i = 0; i < m->ntriggers; i++)
			rpl_strbuf_addf(&b, "%s ", m->triggers[i]); /* melange's trailing space */
		rpl_strbuf_addch(&b, '\n');
	}
	rpl_strbuf_addf(&b, "datahash = %s\n", datahash);
	return rpl_strbuf_detach(&b);
}

/* One file of a section without end blocks (control, signature), owned by root. */
static void section_entry(struct rpl_strbuf *tar, const char *name, unsigned mode, const void *data,
                          size_t len, int64_t sde)
{
	struct rpl_tar_entry e = { name, '0', mode, len, sde, NULL, "root", NULL };

	rpl_tar_header(tar, &e);
	rpl_strbuf_add(tar, data, len);
	rpl_tar_pad(tar, len);
}

/* A section of one entry and no end blocks (the signature). */
static int one_entry_section(const char *name, const void *data, size_t len, int64_t sde,
                             struct rpl_strbuf *gz)
{
	struct rpl_strbuf tar = RPL_STRBUF_INIT;
	int err;

	section_entry(&tar, name, 0644, data, len, sde);
	err = rpl_gzip(tar.buf, tar.len, 0, gz);
	rpl_strbuf_release(&tar);
	return err;
}

/* The control section: .PKGINFO, .melange.yaml, then each non-empty scriptlet, in bytewise name order. */
static int control_section(const struct rpl_apk_meta *m, const char *info, struct rpl_strbuf *gz)
{
	const struct {
		const char *name, *text;
	} scripts[] = {
		{ ".post-deinstall", m->post_deinstall },
		{ ".post-install", m->post_install },
		{ ".post-upgrade", m->post_upgrade },
		{ ".pre-deinstall", m->pre_deinstall },
		{ ".pre-install", m->pre_install },
		{ ".pre-upgrade", m->pre_upgrade },
		{ ".trigger", m->trigger },
	};
	struct rpl_strbuf tar = RPL_STRBUF_INIT;
	int err;

	section_entry(&tar, ".PKGINFO", 0644, info, strlen(info), m->source_date_epoch);
	if (m->melange_yaml)
		section_entry(&tar, ".melange.yaml", 0644, m->melange_yaml, m->melange_yaml_len,
		              m->source_date_epoch);
	for (size_t i = 0; i < sizeof(scripts) / sizeof(*scripts); i++)
		if (scripts[i].text && *scripts[i].text)
			section_entry(&tar, scripts[i].name, 0755, scripts[i].text,
			              strlen(scripts[i].text), m->source_date_epoch);
	err = rpl_gzip(tar.buf, tar.len, 0, gz);
	rpl_strbuf_release(&tar);
	return err;
}

/* The found dependency `dep` is one of the package's own provides. */
static int provided_by_self(const struct names *provides, const char *dep)
{
	for (size_t k = 0; k < provides->n; k++)
		if (name_len(provides->v[k]) == name_len(dep) &&
		    !strncmp(provides->v[k], dep, name_len(dep)))
			return 1;
	return 0;
}

/*
 * What the package provides and depends on, sorted: the recipe's, and what
 * analysing its files finds unless the recipe turns that off (a found need the
 * package meets itself is no dependency).  What was found goes to `log`.
 */
static void package_names(const char *dir, const struct tree *t, char *const *siblings,
                          size_t nsiblings, const struct rpl_apk_meta *m, struct names *provides,
                          struct names *depends, struct rpl_strbuf *log)
{
	struct names sp = { NULL, 0, 0 }, sd = { NULL, 0, 0 };

	for (size_t i = 0; i < m->nprovides; i++)
		add_name(provides, m->provides[i]);
	for (size_t i = 0; i < m->ndepends; i++)
		add_name(depends, m->depends[i]);
	analyse(dir, t, siblings, nsiblings, m, &sp, &sd);
	for (size_t i = 0; !m->no_provides && i < sp.n; i++)
		add_name(provides, sp.v[i]);
	for (size_t i = 0; !m->no_depends && i < sd.n; i++)
		if (!provided_by_self(provides, sd.v[i]))
			add_name(depends, sd.v[i]);
	if (provides->n)
		qsort(provides->v, provides->n, sizeof(char *), cmp_str);
	if (depends->n)
		qsort(depends->v, depends->n, sizeof(char *), cmp_str);
	if (log && (sp.n || sd.n)) {
		rpl_strbuf_addf(log, "%s: found", m->name);
		for (size_t i = 0; i < sp.n; i++)
			rpl_strbuf_addf(log, " provides %s", sp.v[i]);
		for (size_t i = 0; i < sd.n; i++)
			rpl_strbuf_addf(log, " needs %s", sd.v[i]);
		rpl_strbuf_addch(log, '\n');
	}
	names_release(&sp);
	names_release(&sd);
}

/* The signature section: the control section signed with `key`, as .SIGN.RSA256.<key>. */
static int signature_section(const struct rpl_signer *key, const struct rpl_strbuf *control,
                             int64_t sde, struct rpl_strbuf *sig)
{
	unsigned char *s;
	size_t slen;
	char name[512];
	int err;

	if ((err = rpl_signer_sign(key, control->buf, control->len, &s, &slen)))
		return err;
	snprintf(name, sizeof(name), ".SIGN.RSA256.%s", key->name);
	err = one_entry_section(name, s, slen, sde, sig);
	free(s);
	return err;
}

/* Signature + control + the data in `data_fd`, written to `tmp` and renamed
 * into place whole; `tmp` is gone on failure. */
static int assemble(const char *tmp, const char *path, const struct rpl_strbuf *sig,
                    const struct rpl_strbuf *control, int data_fd)
{
	int out_fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644), err = 0;
	char buf[65536];
	ssize_t n;

	if (out_fd < 0)
		return rpl_error(-errno, "cannot create '%s': %s", tmp, strerror(errno));
	if (write(out_fd, sig->buf ? sig->buf : "", sig->len) != (ssize_t)sig->len ||
	    write(out_fd, control->buf, control->len) != (ssize_t)control->len)
		err = rpl_error(-EIO, "cannot write '%s'", tmp);
	lseek(data_fd, 0, SEEK_SET);
	while (!err && (n = read(data_fd, buf, sizeof(buf))) > 0)
		if (write(out_fd, buf, (size_t)n) != n)
			err = rpl_error(-EIO, "cannot write '%s'", tmp);
	if (!err && fsync(out_fd) < 0)
		err = rpl_error(-errno, "cannot write '%s': %s", tmp, strerror(errno));
	close(out_fd);
	if (!err && rename(tmp, path) < 0)
		err = rpl_error(-errno, "cannot write '%s': %s", path, strerror(errno));
	if (err)
		unlink(tmp);
	return err;
}

int rpl_apk_write(const char *dir, char *const *siblings, size_t nsiblings,
                  const struct rpl_apk_meta *m, const struct rpl_signer *key, const char *path,
                  struct rpl_strbuf *log)
{
	struct tree t = { NULL, 0, 0, 0 };
	struct names provides = { NULL, 0, 0 }, depends = { NULL, 0, 0 };
	struct rpl_strbuf control = RPL_STRBUF_INIT, sig = RPL_STRBUF_INIT;
	char *tmpdata = NULL, *tmp = NULL;
	unsigned char digest[32];
	char datahash[65], *info = NULL;
	struct stat root;
	int fd = -1, err;

	/* Beside the apk, for the rename; named as every temporary of ripple's,
	 * <file>.tmp.<pid>, which the next build removes once its writer is gone
	 * (orchestrator/leftover.h). */
	tmpdata = rpl_strfmt("%s.data.tmp.%d", path, (int)getpid());
	tmp = rpl_strfmt("%s.tmp.%d", path, (int)getpid());
	if (stat(dir, &root) < 0) {
		err = rpl_error(-errno, "cannot read '%s': %s", dir, strerror(errno));
		goto out;
	}
	t.size = (uint64_t)root.st_size;
	if ((err = walk(&t, dir, "")))
		goto out;
	package_names(dir, &t, siblings, nsiblings, m, &provides, &depends, log);

	fd = open(tmpdata, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		err = rpl_error(-errno, "cannot create '%s': %s", tmpdata, strerror(errno));
		goto out;
	}
	if ((err = write_data(dir, &t, m->source_date_epoch, fd, digest)))
		goto out;
	rpl_hex(digest, 32, datahash);
	info = pkginfo(m, t.size, &depends, &provides, datahash);
	if ((err = control_section(m, info, &control)))
		goto out;
	if (key && (err = signature_section(key, &control, m->source_date_epoch, &sig)))
		goto out;
	err = assemble(tmp, path, &sig, &control, fd);
out:
	if (fd >= 0)
		close(fd);
	unlink(tmpdata);
	free(tmpdata);
	free(tmp);
	free(info);
	names_release(&provides);
	names_release(&depends);
	rpl_strbuf_release(&control);
	rpl_strbuf_release(&sig);
	tree_release(&t);
	return err;
}
