/*
 * Writing APK v2 packages as melange does (pkg/build/package.go): a data
 * section (a tar of the package tree with an APK-TOOLS.checksum.SHA1 PAX
 * record per file and link, mtimes at SOURCE_DATE_EPOCH, owners 0:0), a
 * control section (.PKGINFO in melange's field order, then .melange.yaml
 * and the scriptlets in bytewise name order, no end blocks) whose
 * `datahash` is the SHA-256 of the compressed data section, and, with a key,
 * a signature section over the compressed control section.  The same tree,
 * metadata and SOURCE_DATE_EPOCH give the same bytes.
 *
 * Before writing, the tree is analysed as melange's SCA does for the common
 * cases (§3.2): `so:` provides from the SONAMEs of libraries in lib dirs,
 * `so:` depends from DT_NEEDED and the ELF interpreter, `cmd:` provides for
 * executables in bin dirs, `pc:` provides for pkg-config files, and `so:`
 * depends of a -dev package's .so links on its sibling's library.
 *
 * libarchive cannot write PAX records of other names than its own, so the
 * tar headers are written here (§4.5); zlib compresses, OpenSSL hashes and
 * signs, libelf reads ELF files.
 */
#ifndef RPL_APKWRITE_H
#define RPL_APKWRITE_H

#include <stddef.h>
#include <stdint.h>

struct rpl_signer;
struct rpl_strbuf;

struct rpl_apk_meta {
	const char *name;    /* pkgname */
	const char *version; /* "<version>-r<epoch>" */
	const char *arch;
	const char *origin;
	const char *description, *url, *commit, *maintainer; /* may be NULL */
	char *const *licenses;
	size_t nlicenses;
	char *const *depends, *const *provides, *const *replaces; /* as configured */
	size_t ndepends, nprovides, nreplaces;
	const char *provider_priority, *replaces_priority; /* may be NULL */
	int64_t source_date_epoch;
	int no_commands, no_depends, no_provides; /* the package's options */
	/* Scriptlets (NULL or empty: none), written into the control section
	 * as melange does (mode 0755), and the trigger's paths (`triggers =`). */
	const char *pre_install, *post_install, *pre_deinstall, *post_deinstall;
	const char *pre_upgrade, *post_upgrade, *trigger;
	char *const *triggers;
	size_t ntriggers;
	/* The `.melange.yaml` control member (NULL: none), after .PKGINFO, 0644. */
	const char *melange_yaml;
	size_t melange_yaml_len;
};

/*
 * Writes the package of the tree `dir` to `path` (atomically).  `siblings`
 * are the trees of the other packages of the same build (for -dev links).
 * `log`, when not NULL, gets a line with what the analysis added.  Returns 0
 * or an error.
 */
int rpl_apk_write(const char *dir, char *const *siblings, size_t nsiblings,
                  const struct rpl_apk_meta *m, const struct rpl_signer *key, const char *path,
                  struct rpl_strbuf *log);

#endif
