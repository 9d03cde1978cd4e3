/*
 * The status line: what fits in a width (items while they fit, then
 * "+N more"; a head too long cut; UTF-8 never split; never wider than
 * asked), plain lines and no status line off a terminal or with
 * TERM=dumb, and on a real terminal (a pty of 30 columns) a line redrawn in
 * place with "\r" and clear-to-end-of-line, one column short of the width.
 */
#define _XOPEN_SOURCE 600
#include "orchestrator/status_line.h"
#include "common/strbuf.h"

#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include <cmocka.h>

static char *items[] = { "a x86_64 1.0s", "b x86_64 2.0s", "image c aarch64 3.0s" };

static void fit(size_t columns, const char *head, size_t n, const char *want)
{
	struct rpl_strbuf sb = RPL_STRBUF_INIT;

	rpl_status_line_fit(&sb, head, items, n, columns);
	assert_string_equal(rpl_strbuf_str(&sb), want);
	rpl_strbuf_release(&sb);
}

static size_t columns_of(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		n += ((unsigned char)*s & 0xc0) != 0x80;
	return n;
}

static void test_fit(void **state)
{
	(void)state;
	fit(200, "[1/9] 3 running:", 3,
	    "[1/9] 3 running: a x86_64 1.0s, b x86_64 2.0s, image c aarch64 3.0s");
	/* Exactly wide enough for all. */
	fit(67, "[1/9] 3 running:", 3,
	    "[1/9] 3 running: a x86_64 1.0s, b x86_64 2.0s, image c aarch64 3.0s");
	fit(66, "[1/9] 3 running:", 3, "[1/9] 3 running: a x86_64 1.0s, b x86_64 2.0s +1 more");
	fit(40, "[1/9] 3 running:", 3, "[1/9] 3 running: a x86_64 1.0s +2 more");
	fit(25, "[1/9] 3 running:", 3, "[1/9] 3 running: +3 more");
	fit(20, "[1/9] 3 running:", 3, "[1/9] 3 running:");
	fit(8, "[1/9] 3 running:", 3, "[1/9] 3 ");
	fit(2, "\xc3\xb1\xc3\xb1\xc3\xb1", 0, "\xc3\xb1\xc3\xb1"); /* two columns of ñ */
	for (size_t w = 0; w < 80; w++) {
		struct rpl_strbuf sb = RPL_STRBUF_INIT;
		rpl_status_line_fit(&sb, "[12/20 1m02s ETA 3m10s 2 failed] 3 running:", items, 3,
		                    w);
		if (columns_of(rpl_strbuf_str(&sb)) > w)
			fail_msg("%zu columns: '%s'", w, rpl_strbuf_str(&sb));
		rpl_strbuf_release(&sb);
	}
}

/* Off a terminal: no status line, plain lines. */
static void test_plain(void **state)
{
	struct rpl_status_line sl;
	FILE *f = tmpfile();
	char buf[256];
	size_t n;

	(void)state;
	assert_non_null(f);
	setenv("TERM", "xterm", 1);
	rpl_status_line_init(&sl, f);
	assert_false(sl.smart);
	rpl_status_line_show(&sl, "[0/1] 1 running:", items, 1);
	rpl_status_line_print(&sl, "[1/1] ok a x86_64 (1.0s)");
	rpl_status_line_clear(&sl);
	rewind(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	assert_string_equal(buf, "[1/1] ok a x86_64 (1.0s)\n");
	rpl_status_line_release(&sl);
	fclose(f);
}

/* A pty of `cols` columns: its master (to read what was drawn) and its slave as a FILE. */
static FILE *pty(int *master, unsigned short cols)
{
	struct winsize ws = { 24, cols, 0, 0 };
	struct termios t;
	int slave;

	*master = posix_openpt(O_RDWR | O_NOCTTY);
	assert_true(*master >= 0);
	assert_int_equal(grantpt(*master), 0);
	assert_int_equal(unlockpt(*master), 0);
	slave = open(ptsname(*master), O_RDWR | O_NOCTTY);
	assert_true(slave >= 0);
	assert_int_equal(ioctl(slave, TIOCSWINSZ, &ws), 0);
	/* Raw output: "\n" stays "\n". */
	assert_int_equal(tcgetattr(slave, &t), 0);
	t.c_oflag &= ~(tcflag_t)OPOST;
	assert_int_equal(tcsetattr(slave, TCSANOW, &t), 0);
	return fdopen(slave, "w");
}

static size_t drain(int master, char *buf, size_t n)
{
	struct pollfd p = { master, POLLIN, 0 };
	size_t got = 0;

	while (got + 1 < n && poll(&p, 1, 100) == 1) {
		ssize_t r = read(master, buf + got, n - 1 - got);
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	buf[got] = '\0';
	return got;
}

static void test_terminal(void **state)
{
	struct rpl_status_line sl;
	char buf[1024];
	int master;
	FILE *f = pty(&master, 30);

	(void)state;
	setenv("TERM", "xterm", 1);
	rpl_status_line_init(&sl, f);
	assert_true(sl.smart);
	assert_int_equal(rpl_status_line_width(&sl), 30);
	rpl_status_line_show(&sl, "[0/3] 3 running:", items, 3);
	drain(master, buf, sizeof(buf));
	/* 29 columns: the head, one item and " +2 more" take 38. */
	assert_string_equal(buf, "\r[0/3] 3 running: +3 more\033[K");
	/* 30 columns of line in a 30-column terminal: not drawn in the last column. */
	rpl_status_line_show(&sl, "[0/1] 1 running:", items, 1);
	drain(master, buf, sizeof(buf));
	assert_string_equal(buf, "\r[0/1] 1 running: +1 more\033[K");
	rpl_status_line_show(&sl, "[0/1] 1 run:", items, 1);
	drain(master, buf, sizeof(buf));
	assert_string_equal(buf, "\r[0/1] 1 run: a x86_64 1.0s\033[K");
	/* A line above it, and the status line again. */
	rpl_status_line_print(&sl, "[1/2] ok a");
	drain(master, buf, sizeof(buf));
	assert_string_equal(buf, "\r\033[K[1/2] ok a\n\r[0/1] 1 run: a x86_64 1.0s\033[K");
	rpl_status_line_clear(&sl);
	drain(master, buf, sizeof(buf));
	assert_string_equal(buf, "\r\033[K");
	rpl_status_line_release(&sl);

	/* TERM=dumb: plain, even on a terminal. */
	setenv("TERM", "dumb", 1);
	rpl_status_line_init(&sl, f);
	assert_false(sl.smart);
	rpl_status_line_show(&sl, "[0/1] 1 running:", items, 1);
	rpl_status_line_print(&sl, "x");
	drain(master, buf, sizeof(buf));
	assert_string_equal(buf, "x\n");
	rpl_status_line_release(&sl);
	fclose(f);
	close(master);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fit),
		cmocka_unit_test(test_plain),
		cmocka_unit_test(test_terminal),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
