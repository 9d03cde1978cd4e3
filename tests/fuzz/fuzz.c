#include "tests/fuzz/fuzz.h"
#include "runners/workspace.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void rpl_fuzz_fail(const char *file, int line, const char *what)
{
	fprintf(stderr, "fuzz: %s:%d: %s\n", file, line, what);
	abort();
}

int rpl_fuzz_known(const char *id)
{
	const char *known = getenv("RPL_FUZZ_KNOWN");
	size_t n = strlen(id);

	for (const char *p = known; p && *p;) {
		size_t len = strcspn(p, " ,");
		if (len == n && !strncmp(p, id, n))
			return 1;
		p += len;
		p += strspn(p, " ,");
	}
	return 0;
}

static char *tmpdirs[4];
static size_t ntmpdirs;

static void remove_tmpdirs(void)
{
	for (size_t i = 0; i < ntmpdirs; i++) {
		rpl_ws_remove_path(tmpdirs[i]);
		free(tmpdirs[i]);
	}
	ntmpdirs = 0;
}

const char *rpl_fuzz_tmpdir(const char *tag)
{
	const char *base = getenv("TMPDIR");
	size_t n;
	char *dir;

	if (!base || !*base)
		base = "/tmp";
	if (ntmpdirs == sizeof(tmpdirs) / sizeof(*tmpdirs))
		rpl_fuzz_fail(__FILE__, __LINE__, "too many temporary directories");
	n = strlen(base) + strlen(tag) + sizeof("/rpl-fuzz--XXXXXX");
	dir = malloc(n);
	if (!dir)
		rpl_fuzz_fail(__FILE__, __LINE__, "out of memory");
	snprintf(dir, n, "%s/rpl-fuzz-%s-XXXXXX", base, tag);
	if (!mkdtemp(dir)) {
		perror(dir);
		rpl_fuzz_fail(__FILE__, __LINE__, "cannot make a temporary directory");
	}
	if (!ntmpdirs)
		atexit(remove_tmpdirs);
	tmpdirs[ntmpdirs++] = dir;
	return dir;
}
