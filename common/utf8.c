#include "common/utf8.h"
#include "common/strbuf.h"

#include <string.h>

size_t rpl_utf8_decode(const unsigned char *p, size_t n, uint32_t *cp)
{
	size_t len;
	uint32_t c, min;

	if (!n)
		return 0;
	if (p[0] < 0x80) {
		*cp = p[0];
		return 1;
	}
	if ((p[0] & 0xe0) == 0xc0)
		len = 2, c = p[0] & 0x1fu, min = 0x80;
	else if ((p[0] & 0xf0) == 0xe0)
		len = 3, c = p[0] & 0x0fu, min = 0x800;
	else if ((p[0] & 0xf8) == 0xf0)
		len = 4, c = p[0] & 0x07u, min = 0x10000;
	else
		return 0;
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		c = (c << 6) | (p[i] & 0x3fu);
	}
	if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return len;
}

/* A character no name may hold, though it is valid UTF-8. */
static int refused(uint32_t c)
{
	return c < 0x20 || (c >= 0x7f && c <= 0x9f) || c == 0x2028 || c == 0x2029 ||
	       (c >= 0x202a && c <= 0x202e) || (c >= 0x2066 && c <= 0x2069);
}

const char *rpl_utf8_name_problem(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s);

	while (n) {
		uint32_t c;
		size_t len = rpl_utf8_decode(p, n, &c);

		if (!len)
			return "is not valid UTF-8";
		if (refused(c))
			return "holds a control character";
		p += len;
		n -= len;
	}
	return NULL;
}

void rpl_utf8_escape(struct rpl_strbuf *sb, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s);

	while (n) {
		uint32_t c;
		size_t len = rpl_utf8_decode(p, n, &c);

		if (!len) {
			rpl_strbuf_addf(sb, "\\x%02x", *p);
			len = 1;
		} else if (c < 0x80 && refused(c)) {
			rpl_strbuf_addf(sb, "\\x%02x", (unsigned)c);
		} else if (refused(c)) {
			rpl_strbuf_addf(sb, "\\u{%04x}", (unsigned)c);
		} else if (c == '\\') {
			rpl_strbuf_addstr(sb, "\\\\");
		} else {
			rpl_strbuf_add(sb, p, len);
		}
		p += len;
		n -= len;
	}
}
