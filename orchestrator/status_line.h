/*
 * The status line of a build on a terminal, as ninja's line printer draws
 * it: one line, cut to the terminal's width (read with TIOCGWINSZ each time,
 * so a resized window is followed), drawn again in place with "\r" and
 * clear-to-end-of-line; lines printed meanwhile go above it.  Not a
 * terminal, or TERM unset or "dumb": no status line at all, and the lines
 * are plain lines (the build then says when each job starts instead).
 */
#ifndef RPL_STATUS_LINE_H
#define RPL_STATUS_LINE_H

#include "common/strbuf.h"

#include <stdio.h>

struct rpl_status_line {
	FILE *out;
	int smart; /* a terminal that can redraw a line */
	int shown; /* a status line is on the screen now */
	/* What is shown, to draw again below a line printed above it. */
	struct rpl_strbuf head;
	char **items;
	size_t nitems;
};

/* Looks at `out` (its descriptor and TERM) to tell whether it is smart. */
void rpl_status_line_init(struct rpl_status_line *sl, FILE *out);
void rpl_status_line_release(struct rpl_status_line *sl);

/* The columns of the terminal; 80 when it cannot say. */
size_t rpl_status_line_width(const struct rpl_status_line *sl);

/*
 * Appends to `out` the line `head` followed by `items` (the first after a
 * space, the others after ", "), in at most `columns` columns: as many items as fit, then
 * " +N more" for the rest; a head too long alone is cut.  A column is a
 * UTF-8 character, never split.
 */
void rpl_status_line_fit(struct rpl_strbuf *out, const char *head, char *const *items, size_t n,
                         size_t columns);

/*
 * Draws the status line (head and items as rpl_status_line_fit puts them)
 * in place of the last one, one column short of the terminal's width so
 * that it never wraps.  Nothing when the terminal is not smart.
 */
void rpl_status_line_show(struct rpl_status_line *sl, const char *head, char *const *items,
                          size_t n);

/*
 * Draws the last status line shown again, as it was (after a line printed
 * above it, when its figures are not worth making again yet).  Nothing when
 * none was shown or the terminal is not smart.
 */
void rpl_status_line_redraw(struct rpl_status_line *sl);

/* Takes the status line off the screen (before other output, or at the end). */
void rpl_status_line_clear(struct rpl_status_line *sl);

/* Prints `line` and a newline above the status line, which is drawn again below it. */
void rpl_status_line_print(struct rpl_status_line *sl, const char *line);

#endif
