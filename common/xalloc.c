#include "common/xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void oom(size_t n)
{
	fprintf(stderr, "ripple: out of memory allocating %zu bytes\n", n);
	abort();
}

void *rpl_xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		oom(n);
	return p;
}

void *rpl_xcalloc(size_t nmemb, size_t size)
{
	void *p = calloc(nmemb ? nmemb : 1, size ? size : 1);
	if (!p)
		oom(nmemb * size);
	return p;
}

void *rpl_xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);
	if (!q)
		oom(n);
	return q;
}

char *rpl_xstrdup(const char *s)
{
	return rpl_xstrndup(s, strlen(s));
}

char *rpl_xstrndup(const char *s, size_t n)
{
	char *p = rpl_xmalloc(n + 1);
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}
