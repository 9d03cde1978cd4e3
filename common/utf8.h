/*
 * Names made of bytes nobody checked (an image's name is its file name)
 * must be text before they reach a file name, JSON or XML: jansson refuses
 * invalid UTF-8 (the name would print as null), XML 1.0 refuses control
 * characters, and a newline or a bidirectional override in a name confuses
 * every line-oriented output and the terminal showing it.
 */
#ifndef RPL_UTF8_H
#define RPL_UTF8_H

#include <stdint.h>
#include <stddef.h>

struct rpl_strbuf;

/*
 * Decodes the UTF-8 sequence at `p` (of at most `n` bytes): returns its
 * length and the code point in *cp, or 0 when it is not valid UTF-8
 * (overlong, a surrogate, past U+10FFFF, truncated).
 */
size_t rpl_utf8_decode(const unsigned char *p, size_t n, uint32_t *cp);

/*
 * What is wrong with `s` as a name: NULL when it is valid UTF-8 holding no
 * control character (C0, DEL, C1), line or paragraph separator (U+2028,
 * U+2029) or bidirectional formatting character (U+202A-U+202E,
 * U+2066-U+2069); else "is not valid UTF-8" or "holds a control character".
 */
const char *rpl_utf8_name_problem(const char *s);

/*
 * Appends `s` with every byte that is not valid UTF-8 and every character
 * rpl_utf8_name_problem refuses written as \xNN or \u{NNNN}, and '\' as
 * "\\", so that a message about a bad name is one clean line.
 */
void rpl_utf8_escape(struct rpl_strbuf *sb, const char *s);

#endif
