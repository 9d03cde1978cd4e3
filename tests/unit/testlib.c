#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "tests/unit/testlib.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

void rpl_test_write_file(const char *root, const char *rel, const char *text)
{
	char path[4096];
	size_t len = strlen(text);
	int fd;

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	for (char *p = path + strlen(root) + 1; (p = strchr(p, '/')); p++) {
		*p = '\0';
		if (mkdir(path, 0755) && errno != EEXIST)
			fail_msg("mkdir %s: %s", path, strerror(errno));
		*p = '/';
	}
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		fail_msg("cannot write %s: %s", path, strerror(errno));
	if (write(fd, text, len) != (ssize_t)len)
		fail_msg("short write to %s", path);
	close(fd);
}

int rpl_test_mkdtemp(char *out, size_t n, const char *tag)
{
	const char *tmp = getenv("TMPDIR");

	if ((size_t)snprintf(out, n, "%s/rpl-%s-XXXXXX", tmp && *tmp ? tmp : "/tmp", tag) >= n) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return mkdtemp(out) ? 0 : -1;
}

int rpl_test_remove_tree(const char *path)
{
	char cmd[4096];

	if (!path[0])
		return 0;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", path);
	if (system(cmd)) {
		print_error("cannot remove %s\n", path);
		return -1;
	}
	return 0;
}

static int nskipped;

void rpl_test_skip(const char *fmt, ...)
{
	va_list ap;

	fputs("SKIP: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	nskipped++;
	skip();
	/* skip() ends the test; this is not reached. */
	abort();
}

int rpl_test_result(int failed)
{
	if (failed)
		return failed;
	if (nskipped) {
		fprintf(stderr, "SKIPPED: %d case%s (why above)\n", nskipped,
		        nskipped == 1 ? "" : "s");
		return 77;
	}
	return 0;
}

void rpl_test_http_header(const char *head, const char *name, char *out, size_t n)
{
	size_t len = strlen(name);

	out[0] = '\0';
	for (const char *l = strstr(head, "\r\n"); l && l[2]; l = strstr(l + 2, "\r\n")) {
		const char *h = l + 2;
		if (!strncasecmp(h, name, len) && h[len] == ':') {
			const char *v = h + len + 1, *e = strstr(v, "\r\n");
			while (*v == ' ')
				v++;
			snprintf(out, n, "%.*s", (int)(e ? e - v : (long)strlen(v)), v);
			return;
		}
	}
}
