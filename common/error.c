#include "common/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static _Thread_local char last_msg[4096];

/* Formatted into a copy first: an argument may be rpl_errmsg() itself. */
int rpl_verror(int code, const char *fmt, va_list ap)
{
	char msg[sizeof(last_msg)];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	memcpy(last_msg, msg, sizeof(msg));
	return code;
}

int rpl_error(int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	rpl_verror(code, fmt, ap);
	va_end(ap);
	return code;
}

int rpl_verror_at(int code, const char *file, unsigned line, unsigned col, const char *fmt,
                  va_list ap)
{
	char msg[sizeof(last_msg)];
	int n = snprintf(msg, sizeof(msg), "%s:%u:%u: ", file, line ? line : 1, line ? col : 1);

	if (n > 0 && (size_t)n < sizeof(msg))
		vsnprintf(msg + n, sizeof(msg) - (size_t)n, fmt, ap);
	memcpy(last_msg, msg, sizeof(msg));
	return code;
}

int rpl_error_at(int code, const char *file, unsigned line, unsigned col, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	rpl_verror_at(code, file, line, col, fmt, ap);
	va_end(ap);
	return code;
}

int rpl_error_prefix(int code, const char *fmt, ...)

{
	char old[sizeof(last_msg)];
	size_t n;
	va_list ap;

	memcpy(old, last_msg, sizeof(old));
	va_start(ap, fmt);
	vsnprintf(last_msg, sizeof(last_msg), fmt, ap);
	va_end(ap);
	n = strlen(last_msg);
	if (n + 2 < sizeof(last_msg)) {
		size_t room = sizeof(last_msg) - n - 3, len = strlen(old);
		memcpy(last_msg + n, ": ", 2);
		n += 2;
		if (len > room)
			len = room;
		memcpy(last_msg + n, old, len);
		last_msg[n + len] = '\0';
	}
	return code;
}

const char *rpl_errmsg(void)
{
	return last_msg;
}

void rpl_error_clear(void)
{
	last_msg[0] = '\0';
}

static const char *const messages[] = {
	[RPL_EPARSE - RPL_EBASE] = "malformed input",
	[RPL_ESCHEMA - RPL_EBASE] = "invalid recipe or configuration",
	[RPL_ESUBST - RPL_EBASE] = "undefined variable",
	[RPL_ENOTFOUND - RPL_EBASE] = "not found",
	[RPL_EDUP - RPL_EBASE] = "defined twice",
	[RPL_ECYCLE - RPL_EBASE] = "cycle",
	[RPL_EUSAGE - RPL_EBASE] = "bad usage",
	[RPL_ELIB - RPL_EBASE] = "library error",
};

const char *rpl_strerror(int code)
{
	int c = code < 0 ? -code : code;

	if (c > RPL_EBASE && c < RPL_ELAST && messages[c - RPL_EBASE])
		return messages[c - RPL_EBASE];
	if (c > 0 && c < RPL_EBASE)
		return strerror(c);
	return "unknown error";
}

void rpl_die(int status, const char *fmt, ...)
{
	va_list ap;

	fputs("ripple: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(status);
}

void rpl_say(const char *fmt, ...)
{
	va_list ap;

	printf("ripple: ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

void rpl_warn(const char *fmt, ...)
{
	va_list ap;

	fputs("ripple: warning: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void rpl_bug(const char *file, int line, const char *what)
{
	fprintf(stderr, "ripple: BUG at %s:%d: %s\n", file, line, what);
	abort();
}
