/*
 * Error codes and the one place an error message is formed.
 *
 * A fallible function returns 0, -errno, or -RPL_E* (project codes start at
 * 1024).  The function that decides an error formats its message once with
 * rpl_error(); the message lives in a thread-local buffer until the next
 * rpl_error() on the same thread, so parsers running on worker threads keep
 * their own messages.  Callers either pass the code up unchanged or take the
 * message with rpl_errmsg().
 */
#ifndef RPL_ERROR_H
#define RPL_ERROR_H

#include <stdarg.h>

enum {
	RPL_EBASE = 1024,
	RPL_EPARSE,    /* malformed input (yaml, recipe, config) */
	RPL_ESCHEMA,   /* well-formed but not a valid recipe or config */
	RPL_ESUBST,    /* undefined variable in a substitution */
	RPL_ENOTFOUND, /* a named thing (pipeline, package, file) does not exist */
	RPL_EDUP,      /* a name defined twice */
	RPL_ECYCLE,    /* a cycle where none is allowed (include) */
	RPL_EUSAGE,    /* bad command line */
	RPL_ELIB,      /* a library call failed */
	RPL_ELAST
};

/* Exit statuses shared by every command (docs/architecture.md, Conventions). */
enum {
	RPL_EXIT_OK = 0,
	RPL_EXIT_FAILED = 1,
	RPL_EXIT_USAGE = 2,
	/* --no-wait, and another ripple holds the state store: try again
	 * later (sysexits.h's EX_TEMPFAIL). */
	RPL_EXIT_BUSY = 75,
	RPL_EXIT_INTERRUPTED = 130,
};

/*
 * Formats "file:line:col: <msg>" for `code` and returns `code`: the one
 * shape of every message about a place in a file (line 0 reads as 1:1).
 */
int rpl_error_at(int code, const char *file, unsigned line, unsigned col, const char *fmt, ...)
        __attribute__((format(printf, 5, 6)));
int rpl_verror_at(int code, const char *file, unsigned line, unsigned col, const char *fmt,
                  va_list ap);

/* Formats the message for `code` and returns `code` unchanged. */

int rpl_error(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int rpl_verror(int code, const char *fmt, va_list ap);

/*
 * Puts "<formatted>: " in front of this thread's last message and returns
 * `code`, for a caller that adds context to an error it passes up.
 */
int rpl_error_prefix(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The last message formed on this thread ("" when none). */
const char *rpl_errmsg(void);

/* Forgets the last message of this thread. */
void rpl_error_clear(void);

/* A short description of a code: strerror() for -errno, our table otherwise. */
const char *rpl_strerror(int code);

/* Prints "ripple: <msg>" to stderr and exits with `status`.  CLI only. */
_Noreturn void rpl_die(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A progress line, "ripple: ..." on stdout, flushed (runners' logs read it). */
void rpl_say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Prints "ripple: warning: <msg>" to stderr. */
void rpl_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

_Noreturn void rpl_bug(const char *file, int line, const char *what);
#define RPL_BUG(what) rpl_bug(__FILE__, __LINE__, (what))

#endif
