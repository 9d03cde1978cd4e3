/*
 * The output repository, `packages/<arch>/` in melange's layout: the apks
 * and their APKINDEX.tar.gz (melange's pkg/index/index.go).  Adding packages
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
/* Writes the public half of `s` as PEM to `path`.  Returns 0 or an error. */
int rpl_signer_write_public(const struct rpl_signer *s, const char *path);

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
/* The same, the index read only once needed (a check, a merge, a flush). */
int rpl_repo_open_lazy(struct rpl_repo_index **ix, const char *dir);
int rpl_repo_merge(struct rpl_repo_index *ix, char *const *apks, size_t n);
int rpl_repo_flush(struct rpl_repo_index *ix, const struct rpl_signer *key);
int rpl_repo_dirty(const struct rpl_repo_index *ix); /* merged since the last flush */
void rpl_repo_close(struct rpl_repo_index *ix);

/*
 * Keeping the index true to its directory, across runs that may be killed
 * at any moment.  An apk is written whole under a temporary name and
 * renamed into place, so each apk there is whole; but it may be another
 * build of the package than its record describes, or listed by no record,
 * or a record may name an apk that is gone.  What ripple saw of each file
 * when it last wrote or checked the index (struct rpl_repo_seen) is kept
 * by the caller (the state store) and given back with rpl_repo_know; with
 * it, a check of an unchanged directory stats its files and reads nothing.
 */
#define RPL_REPO_CSUM_LEN 32

/*
 * `seen_ns` is when the stat was taken: a file modified within a second
 * before may have changed again unseen (git's racy rule).  `csum` is an
 * apk's C: in the index as then written ("Q1..."), "" for the index itself.
 */
struct rpl_repo_seen {
	int64_t size, mtime_ns, ino; /* lstat(2) */
	int64_t seen_ns;
	char csum[RPL_REPO_CSUM_LEN];
};

/* Tells `ix` what was last seen of the file `name` of its directory (before rpl_repo_check). */
void rpl_repo_know(struct rpl_repo_index *ix, const char *name, const struct rpl_repo_seen *s);

/* `name` (an apk of the directory) was not what the index or ripple's record of it said;
 * `mended`: the index was changed for it. */
typedef void (*rpl_repo_fix_fn)(void *ctx, const char *name, const char *what, int mended);

/*
 * Makes the index of `ix` (in memory: rpl_repo_dirty tells whether it must
 * be written) describe exactly the apks of its directory.  Files with the
 * stat they were seen with, not racy, are taken as seen; an apk whose stat
 * changed has the SHA-1 of its control member taken again (reading only
 * that far), and is read whole only when it differs from its record.  A
 * record whose apk is gone or is not an apk is dropped; a record whose apk
 * is another build is replaced by that apk's; an apk no record lists is
 * added, if it is a whole apk (its data is what its datahash says) of the
 * package its name says.  `fix` is called for each of these, and for an
 * apk the index describes but ripple last saw indexed as another build.
 * Returns 1 when the index was read and compared whole, 0 when the stats
 * sufficed, or an error (an index that cannot be parsed is not one: it is
 * made again from the apks, with a warning).
 */
int rpl_repo_check(struct rpl_repo_index *ix, rpl_repo_fix_fn fix, void *ctx);

/* Whether the index lists the apk file `name` (after rpl_repo_check). */
int rpl_repo_lists(const struct rpl_repo_index *ix, const char *name);

/*
 * What was seen since the last call (checks, merges and flushes), for the
 * caller to keep: fn(ctx, name, seen) per file, seen NULL for one to forget.
 * An index that must still be written is reported once it is.
 */
void rpl_repo_seen_changes(struct rpl_repo_index *ix,
                           void (*fn)(void *ctx, const char *name, const struct rpl_repo_seen *s),
                           void *ctx);

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
