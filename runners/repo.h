/*
 * The output repository, `packages/<arch>/` in melange's layout: the apks
 * and their APKINDEX.tar.gz (reference/melange.md §4.9).  Adding packages
 * merges their records into the index as `melange index --merge` does (a
 * record of the same name and version is replaced in place, others are
 * appended), writes it atomically and signs it when a key is given, so that
 * the jobs that follow build against what was just built.
 */
#ifndef RPL_REPO_H
#define RPL_REPO_H

#include <stddef.h>
#include <stdint.h>

struct evp_pkey_st;

/* An RSA signing key and the name apk looks it up by ("<basename>.pub"). */
struct rpl_signer {
	struct evp_pkey_st *key;
	char *name;
};

/* Loads a PEM RSA private key (PKCS#1 or PKCS#8).  Returns 0 or an error. */
int rpl_signer_load(struct rpl_signer *s, const char *path);
/* A new RSA key of `bits` written as PEM to `path` (0600) and its public
 * half to `path`.pub.  Returns 0 or an error. */
int rpl_signer_generate(const char *path, int bits);
void rpl_signer_release(struct rpl_signer *s);

/* RSA PKCS#1 v1.5 over SHA-256 of `data`: a malloc'd signature.  Returns 0 or an error. */
int rpl_signer_sign(const struct rpl_signer *k, const void *data, size_t len, unsigned char **sig,
                    size_t *siglen);

/*
 * Merges the packages `apks` (paths) into `dir`/APKINDEX.tar.gz, signed with
 * `key` when not NULL.  Returns 0 or an error with a message; on error the
 * index is left as it was.
 */
int rpl_repo_add(const char *dir, char *const *apks, size_t n, const struct rpl_signer *key);

/*
 * The same in steps, for a build that adds packages as they finish: the
 * index of `dir` read once (rpl_repo_open; none yet is an empty one), apks
 * merged in memory (rpl_repo_merge: all of them or, on error, none), and
 * written whole and atomically, signed when `key` is given, when the caller
 * wants it current on disk (rpl_repo_flush; nothing to do when nothing was
 * merged since the last).  Records are found by name and version in
 * constant time, so a run that adds thousands of packages stays linear.
 */
struct rpl_repo_index;
int rpl_repo_open(struct rpl_repo_index **ix, const char *dir);
int rpl_repo_merge(struct rpl_repo_index *ix, char *const *apks, size_t n);
int rpl_repo_flush(struct rpl_repo_index *ix, const struct rpl_signer *key);
int rpl_repo_dirty(const struct rpl_repo_index *ix); /* merged since the last flush */
void rpl_repo_close(struct rpl_repo_index *ix);

/*
 * The APKINDEX text of an index file (its signature, if any, set aside),
 * malloc'd in *text; *signer gets the key name of its signature or NULL.
 * Returns 0 or an error.
 */
int rpl_repo_read_index(const char *path, char **text, char **signer);

/*
 * Whether the index at `path` carries a signature that the PEM public key
 * at `pubkey` verifies: 0 when it does, else an error saying why.
 */
int rpl_repo_verify_index(const char *path, const char *pubkey);

#endif
