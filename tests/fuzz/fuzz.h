/*
 * What every fuzz harness shares: libFuzzer's entry points, which
 * tests/fuzz/replay.c also drives in builds without libFuzzer, and a
 * check that stops the run with a message when an invariant breaks.
 *
 * A harness must stay quiet (rpl_error only formats; nothing here prints
 * per input), free all it allocates, and leave the process as it found it,
 * so that LeakSanitizer's per-input check and a million runs in one
 * process both hold.
 */
#ifndef RPL_FUZZ_H
#define RPL_FUZZ_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* Aborts with "fuzz: <file>:<line>: <what>" when `cond` is false. */
#define RPL_FUZZ_CHECK(cond, what)                                 \
	do {                                                       \
		if (!(cond))                                       \
			rpl_fuzz_fail(__FILE__, __LINE__, (what)); \
	} while (0)

_Noreturn void rpl_fuzz_fail(const char *file, int line, const char *what);

/*
 * RPL_FUZZ_CHECK for a broken promise already reported as `id` (its
 * reproducer is tests/fuzz/crashes/<id>): stepped over when `id` is a word
 * of $RPL_FUZZ_KNOWN, which scripts/fuzz sets, so fuzzing goes on past it;
 * a failure everywhere else, so the reproducer still reproduces.
 */
#define RPL_FUZZ_CHECK_KNOWN(id, cond, what)                       \
	do {                                                       \
		if (!(cond) && !rpl_fuzz_known(id))                \
			rpl_fuzz_fail(__FILE__, __LINE__, (what)); \
	} while (0)

int rpl_fuzz_known(const char *id);

/*
 * A fresh directory "$TMPDIR/rpl-fuzz-<tag>-XXXXXX" for the process, removed
 * at exit; its path is malloc'd and lives as long as the process.
 */
const char *rpl_fuzz_tmpdir(const char *tag);

#endif
