/*
 * The status line of a terminal (orchestrator/status_line.h), after ninja's
 * LinePrinter.
 */
#include "orchestrator/status_line.h"
#include "common/xalloc.h"

#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

void rpl_status_line_init(struct rpl_status_line *sl, FILE *out)
{
	const char *term = getenv("TERM");

	memset(sl, 0, sizeof(*sl));
	sl->out = out;
	rpl_strbuf_init(&sl->head);
	sl->smart = isatty(fileno(out)) && term && *term && strcmp(term, "dumb") != 0;
}

static void forget_items(struct rpl_status_line *sl)
{
	for (size_t i = 0; i < sl->nitems; i++)
		free(sl->items[i]);
	free(sl->items);
	sl->items = NULL;
	sl->nitems = 0;
}

void rpl_status_line_release(struct rpl_status_line *sl)
{
	forget_items(sl);
	rpl_strbuf_release(&sl->head);
}

size_t rpl_status_line_width(const struct rpl_status_line *sl)
{
	struct winsize ws;

	if (ioctl(fileno(sl->out), TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
		return ws.ws_col;
	return 80;
}

/* The columns of `s`: its UTF-8 characters (continuation bytes take none). */
static size_t columns_of(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		n += ((unsigned char)*s & 0xc0) != 0x80;
	return n;
}

/* Appends the first `columns` characters of `s` (whole characters only). */
static void add_cut(struct rpl_strbuf *out, const char *s, size_t columns)
{
	size_t len = 0, n = 0;

	while (s[len]) {
		if (((unsigned char)s[len] & 0xc0) != 0x80 && n++ == columns)
			break;
		len++;
	}
	rpl_strbuf_add(out, s, len);
}

void rpl_status_line_fit(struct rpl_strbuf *out, const char *head, char *const *items, size_t n,
                         size_t columns)
{
	size_t used = columns_of(head), k = 0;
	char more[32];

	if (used > columns) {
		add_cut(out, head, columns);
		return;
	}
	rpl_strbuf_addstr(out, head);
	for (; k < n; k++) {
		size_t w = (k ? 2 : 1) + columns_of(items[k]);
		/* The last item needs no room for "+N more" after it. */
		size_t tail =
		        k + 1 < n ? (size_t)snprintf(more, sizeof(more), " +%zu more", n - k - 1)
		                  : 0;
		if (used + w + tail > columns)
			break;
		rpl_strbuf_addstr(out, k ? ", " : " ");
		rpl_strbuf_addstr(out, items[k]);
		used += w;
	}
	if (k < n) {
		snprintf(more, sizeof(more), " +%zu more", n - k);
		if (used + strlen(more) <= columns)
			rpl_strbuf_addstr(out, more);
	}
}

static void draw(struct rpl_status_line *sl)
{
	struct rpl_strbuf line = RPL_STRBUF_INIT;
	size_t width = rpl_status_line_width(sl);

	/* One column short: a line that fills the last column wraps on some
	 * terminals, and the next "\r" would then redraw a line too low. */
	rpl_status_line_fit(&line, rpl_strbuf_str(&sl->head), sl->items, sl->nitems,
	                    width > 1 ? width - 1 : 1);
	fputs("\r", sl->out);
	fputs(rpl_strbuf_str(&line), sl->out);
	fputs("\033[K", sl->out);
	fflush(sl->out);
	sl->shown = 1;
	rpl_strbuf_release(&line);
}

void rpl_status_line_show(struct rpl_status_line *sl, const char *head, char *const *items,
                          size_t n)
{
	if (!sl->smart)
		return;
	rpl_strbuf_reset(&sl->head);
	rpl_strbuf_addstr(&sl->head, head);
	forget_items(sl);
	sl->items = rpl_xmalloc((n ? n : 1) * sizeof(*sl->items));
	for (size_t i = 0; i < n; i++)
		sl->items[i] = rpl_xstrdup(items[i]);
	sl->nitems = n;
	draw(sl);
}

void rpl_status_line_redraw(struct rpl_status_line *sl)
{
	if (sl->smart && rpl_strbuf_str(&sl->head)[0])
		draw(sl);
}

void rpl_status_line_clear(struct rpl_status_line *sl)
{
	if (!sl->smart || !sl->shown)
		return;
	fputs("\r\033[K", sl->out);
	fflush(sl->out);
	sl->shown = 0;
}

void rpl_status_line_print(struct rpl_status_line *sl, const char *line)
{
	int was = sl->shown;

	rpl_status_line_clear(sl);
	fputs(line, sl->out);
	fputc('\n', sl->out);
	if (was)
		draw(sl);
	else
		fflush(sl->out);
}
