/*
 * The HTML report of a run (report_html.h).  Everything is drawn here, in
 * C, as static markup: the page reads without its script, and the script
 * only sorts and filters the table of jobs.  The timeline is an SVG of one
 * bar per job that ran, in the lane it ran in, at its start and as long as
 * it took; its width grows with the busiest lane's count of jobs (about
 * ten pixels a job, scrolled sideways) so that a nightly's thousands of
 * short jobs stay apart.
 */
#include "orchestrator/report_html.h"
#include "common/error.h"
#include "common/file.h"
#include "common/strbuf.h"
#include "common/xalloc.h"
#include "orchestrator/report.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* The end of a failure's log: this many lines at most, ... */
#define TAIL_LINES 40
/* ... this many bytes at most per log, and all of them within a budget. */
#define TAIL_MAX 8192
#define TAIL_MIN 1024
#define TAIL_BUDGET (4 << 20)
/* Failures shown open, and skipped groups listed open, up to these. */
#define OPEN_FAILURES 20
#define OPEN_GROUP 200
/* How many of the slowed-down jobs are listed. */
#define SLOWER_SHOWN 15

/* Geometry of the timeline, in pixels. */
#define AXIS_H 26
#define LANE_H 24
#define BAR_H 18
#define PX_PER_JOB 10
#define MIN_W 1160
#define MAX_W 40000
#define STR_(x) #x
#define STR(x) STR_(x)

static const char css[] =
        ":root{--bg:#f6f7f9;--card:#fff;--ink:#1c2024;--dim:#60646c;--line:#e0e1e6;"
        "--ok:#3e63dd;--img:#12a594;--bad:#e5484d;--slow:#f76b15;--cancel:#8b8d98;"
        "--cp:#ffb224;--cpline:#ad5700;--code:#f0f0f3}"
        "@media(prefers-color-scheme:dark){:root{--bg:#111113;--card:#18191b;--ink:#edeef0;"
        "--dim:#b0b4ba;--line:#2e3135;--code:#212225}}"
        "*{box-sizing:border-box}"
        "body{margin:0;background:var(--bg);color:var(--ink);"
        "font:14px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif}"
        "main{max-width:1320px;margin:0 auto;padding:20px 24px 48px}"
        "h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:0 0 10px}"
        "a{color:inherit}code,pre{font:12.5px/1.4 ui-monospace,'DejaVu Sans Mono',monospace}"
        ".cmd{background:var(--code);padding:2px 6px;border-radius:4px}"
        ".meta{color:var(--dim);margin:6px 0 14px}"
        ".badge{display:inline-block;font-size:13px;font-weight:600;padding:2px 10px;"
        "border-radius:10px;color:#fff;vertical-align:3px;margin-left:6px;background:var(--ok)}"
        ".badge.failed{background:var(--bad)}.badge.interrupted,.badge.running"
        "{background:var(--cancel)}.badge.ok{background:#30a46c}"
        "nav{margin:0 0 16px;color:var(--dim)}nav a{margin-right:14px}"
        ".cards{display:flex;flex-wrap:wrap;gap:10px;margin-bottom:18px}"
        ".card{background:var(--card);border:1px solid var(--line);border-radius:8px;"
        "padding:8px 14px;min-width:118px}.card b{display:block;font-size:20px}"
        ".card span{color:var(--dim);font-size:12.5px}.card.bad b{color:var(--bad)}"
        "section{background:var(--card);border:1px solid var(--line);border-radius:8px;"
        "padding:14px 16px;margin-bottom:18px}"
        ".note{color:var(--dim);font-size:12.5px;margin:6px 0 0}"
        ".legend{display:flex;flex-wrap:wrap;gap:14px;color:var(--dim);font-size:12.5px;"
        "margin-bottom:8px}.legend i{display:inline-block;width:12px;height:12px;"
        "border-radius:2px;vertical-align:-1px;margin-right:5px}"
        ".tl{display:flex}.lanes{flex:none;padding-top:" STR(
                AXIS_H) "px;"
                        "padding-right:8px;color:var(--dim);font-size:12px;text-align:right}"
                        ".lanes div{height:" STR(LANE_H) "px;line-height:" STR(
                                BAR_H) "px}"
                                       ".scroll{overflow-x:auto;flex:1;border-left:1px solid var(--line)}"
                                       "svg{display:block}svg .ax{fill:var(--dim);font-size:11px}"
                                       "svg .gr{stroke:var(--line)}svg .ln{fill:var(--bg)}"
                                       "svg rect.j{fill:var(--ok)}svg rect.im{fill:var(--img)}"
                                       "svg rect.failed{fill:var(--bad)}svg rect.timeout{fill:var(--slow)}"
                                       "svg rect.cancelled{fill:var(--cancel)}"
                                       "svg rect.cp{fill:var(--cp);stroke:var(--cpline);stroke-width:1.5}"
                                       "svg rect.failed{fill:var(--bad)}svg rect.timeout{fill:var(--slow)}"
                                       "svg rect.j:hover{opacity:.75}"
                                       "svg text.bl{fill:#fff;font-size:11px;pointer-events:none}"
                                       "svg text.bl.cp{fill:#3b2300}svg .ar{fill-opacity:.72}"
                                       "svg .path{fill:none;stroke:var(--cpline);stroke-width:1.5;stroke-dasharray:3 2}"
                                       ".fail{border-top:1px solid var(--line);padding:10px 0 4px}"
                                       ".fail:first-of-type{border-top:0;padding-top:0}"
                                       ".fail summary{cursor:pointer}.fail .name{font-weight:600;color:var(--bad)}"
                                       ".fail .msg{margin:4px 0}.dim{color:var(--dim)}"
                                       "pre.log{background:var(--code);border-radius:6px;padding:8px 10px;margin:6px 0 0;"
                                       "overflow-x:auto;max-height:420px;white-space:pre}"
                                       ".group{border-top:1px solid var(--line);padding:8px 0}"
                                       ".group:first-of-type{border-top:0;padding-top:0}.group summary{cursor:pointer}"
                                       ".names{margin:6px 0 0;line-height:1.9}"
                                       ".names a{background:var(--code);border-radius:4px;padding:1px 6px;margin-right:4px;"
                                       "text-decoration:none;white-space:nowrap}"
                                       "ol.cp{margin:0;padding-left:26px}ol.cp li{margin:2px 0}"
                                       ".bar{display:inline-block;height:9px;background:var(--cp);border-radius:2px;"
                                       "margin-left:8px;vertical-align:0}"
                                       "table{border-collapse:collapse;width:100%;font-size:13px}"
                                       "th,td{padding:3px 8px;border-bottom:1px solid var(--line);text-align:left;"
                                       "white-space:nowrap}th{position:sticky;top:0;background:var(--card)}"
                                       "table.js th{cursor:pointer;user-select:none}td.n,th.n{text-align:right}"
                                       "tr.failed td:nth-child(4),tr.timeout td:nth-child(4){color:var(--bad);"
                                       "font-weight:600}tr.skipped td,tr.not-run td{color:var(--dim)}"
                                       "tr:target td{background:#fff3c4;color:#1c2024}"
                                       ".up{color:var(--bad)}.down{color:#30a46c}"
                                       "#filter{font:inherit;padding:4px 8px;width:280px;margin:0 0 8px;"
                                       "border:1px solid var(--line);border-radius:6px;background:var(--card);"
                                       "color:var(--ink)}"
                                       "#all{content-visibility:auto}"
                                       "footer{color:var(--dim);font-size:12px;text-align:center}";

/* Sorting by a column (numbers by data-v) and filtering by text: linear
 * per keystroke, n log n per sort.  The table gets the class "js" when the
 * script runs (its headers then look clickable). */
static const char script[] =
        "(function(){var t=document.getElementById('jobs');if(!t)return;"
        "var b=t.tBodies[0],f=document.getElementById('filter');t.classList.add('js');"
        "f.addEventListener('input',function(){var q=f.value.toLowerCase();"
        "for(var i=0;i<b.rows.length;i++){var r=b.rows[i];"
        "r.hidden=q!==''&&r.textContent.toLowerCase().indexOf(q)<0;}});"
        "t.tHead.addEventListener('click',function(e){var h=e.target.closest('th');"
        "if(!h)return;var c=h.cellIndex,up=h.dataset.d!=='a',n=h.classList.contains('n');"
        "h.dataset.d=up?'a':'d';var rows=Array.prototype.slice.call(b.rows);"
        "function k(r){var x=r.cells[c];"
        "return n?parseFloat(x.dataset.v===undefined?'-1e300':x.dataset.v):x.textContent;}"
        "rows.sort(function(x,y){var p=k(x),q=k(y),s=p<q?-1:p>q?1:0;return up?s:-s;});"
        "var d=document.createDocumentFragment();rows.forEach(function(r){d.appendChild(r);});"
        "b.appendChild(d);});})();";

/* ---- text ---------------------------------------------------------------------------- */

/* Text for an element or an attribute: markup characters escaped, control
 * characters other than newline and tab left out. */
static void esc(struct rpl_strbuf *out, const char *s)
{
	for (; s && *s; s++) {
		unsigned char c = (unsigned char)*s;
		switch (c) {
		case '&':
			rpl_strbuf_addstr(out, "&amp;");
			break;
		case '<':
			rpl_strbuf_addstr(out, "&lt;");
			break;
		case '>':
			rpl_strbuf_addstr(out, "&gt;");
			break;
		case '"':
			rpl_strbuf_addstr(out, "&quot;");
			break;
		case '\'':
			rpl_strbuf_addstr(out, "&#39;");
			break;
		default:
			if (c >= 0x20 || c == '\n' || c == '\t')
				rpl_strbuf_addch(out, (char)c);
		}
	}
}

static void secs(double s, char *buf, size_t n)
{
	rpl_report_fmt_secs(s, buf, n);
}

/* A tick of the time axis: "0", "30s", "1m30s", "2h". */
static void tick_label(double s, double step, char *buf, size_t n)
{
	long t = (long)(s + 0.5);

	if (step < 1)
		snprintf(buf, n, "%.1fs", s);
	else if (t < 60)
		snprintf(buf, n, "%lds", t);
	else if (t < 3600 && t % 60)
		snprintf(buf, n, "%ldm%02lds", t / 60, t % 60);
	else if (t < 3600)
		snprintf(buf, n, "%ldm", t / 60);
	else if (t % 3600)
		snprintf(buf, n, "%ldh%02ldm", t / 3600, t % 3600 / 60);
	else
		snprintf(buf, n, "%ldh", t / 3600);
}

static void when(int64_t ns, char *buf, size_t n)
{
	time_t t = (time_t)(ns / 1000000000);
	struct tm tm;

	if (!ns || !localtime_r(&t, &tm) || !strftime(buf, n, "%Y-%m-%d %H:%M:%S %Z", &tm))
		snprintf(buf, n, "-");
}

/* "a (x86_64)" or "image a (x86_64)", escaped. */
static void job_label(struct rpl_strbuf *out, const char *name, const char *kind, const char *arch)
{
	if (kind && !strcmp(kind, "image"))
		rpl_strbuf_addstr(out, "image ");
	esc(out, name);
	rpl_strbuf_addstr(out, " <span class=\"dim\">");
	esc(out, arch);
	rpl_strbuf_addstr(out, "</span>");
}

static int64_t end_of(const struct rpl_run_row *j)
{
	return j->started_ns + (int64_t)(j->duration * 1e9 + 0.5);
}

static size_t row_index(const struct rpl_report *r, const struct rpl_run_row *j)
{
	return (size_t)(j - r->run.jobs);
}

/* ---- log tails ---------------------------------------------------------------------- */

/*
 * The last `lines` lines of the log at `path`, at most `max` bytes of it,
 * read from its end (a log may be large).  Terminal escapes are dropped,
 * a lone carriage return ends a line.  Returns 0 or -errno.
 */
static int log_tail(const char *path, size_t lines, size_t max, struct rpl_strbuf *out)
{
	struct stat sb;
	char *buf, *p, *clean;
	size_t n = 0, k = 0, got = 0;
	off_t from;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	if (fstat(fd, &sb) < 0) {
		close(fd);
		return -errno;
	}
	from = sb.st_size > (off_t)max * 2 ? sb.st_size - (off_t)max * 2 : 0;
	buf = rpl_xmalloc(max * 2 + 1);
	while (got < max * 2) {
		ssize_t r = pread(fd, buf + got, max * 2 - got, from + (off_t)got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	/* Clean first: escapes and carriage returns change what a line is. */
	clean = rpl_xmalloc(got + 1);
	for (size_t i = 0; i < got; i++) {
		unsigned char c = (unsigned char)buf[i];
		if (c == 0x1b) {
			/* CSI (ESC [ ... final), OSC (ESC ] ... BEL or ST), or ESC x. */
			if (i + 1 < got && buf[i + 1] == '[') {
				for (i += 2; i < got && !(buf[i] >= 0x40 && buf[i] <= 0x7e); i++)
					;
			} else if (i + 1 < got && buf[i + 1] == ']') {
				for (i += 2; i < got && buf[i] != 0x07 && buf[i] != 0x1b; i++)
					;
				if (i < got && buf[i] == 0x1b)
					i++;
			} else {
				i++;
			}
			continue;
		}
		if (c == '\r') {
			if (i + 1 < got && buf[i + 1] == '\n')
				continue;
			c = '\n';
		}
		clean[k++] = (char)c;
	}
	clean[k] = '\0';
	free(buf);
	/* The last lines, within `max` bytes. */
	while (k && clean[k - 1] == '\n')
		clean[--k] = '\0';
	p = clean + k;
	while (p > clean && n < lines && (size_t)(clean + k - p) < max) {
		if (*--p == '\n')
			n++;
	}
	if (*p == '\n')
		p++;
	if ((size_t)(clean + k - p) > max)
		p = clean + k - max;
	/* Not from the middle of a UTF-8 character. */
	while ((unsigned char)*p >= 0x80 && (unsigned char)*p < 0xc0)
		p++;
	if (p > clean && p[-1] != '\n')
		rpl_strbuf_addstr(out, "…");
	esc(out, p);
	free(clean);
	return 0;
}

/* ---- the parts of the page ---------------------------------------------------------------- */

static void card(struct rpl_strbuf *out, const char *value, const char *what, int bad)
{
	rpl_strbuf_addf(out, "<div class=\"card%s\"><b>", bad ? " bad" : "");
	esc(out, value);
	rpl_strbuf_addstr(out, "</b><span>");
	esc(out, what);
	rpl_strbuf_addstr(out, "</span></div>");
}

static void header(const struct rpl_report *r, struct rpl_strbuf *out)
{
	const char *status = r->run.status ? r->run.status : "?";
	char start[64], end[64], t[32], num[64];
	double wall = r->run.finished_ns > r->run.started_ns
	                      ? (double)(r->run.finished_ns - r->run.started_ns) / 1e9
	                      : (double)(r->t1 - r->t0) / 1e9;

	when(r->run.started_ns, start, sizeof(start));
	when(r->run.finished_ns, end, sizeof(end));
	rpl_strbuf_addf(out, "<h1>ripple run %lld <span class=\"badge ", (long long)r->run.id);
	esc(out, status);
	rpl_strbuf_addstr(out, "\">");
	esc(out, status);
	rpl_strbuf_addstr(out, "</span></h1>\n<div><code class=\"cmd\">ripple ");
	esc(out, r->run.command);
	rpl_strbuf_addstr(out, "</code></div>\n<p class=\"meta\">started ");
	esc(out, start);
	if (r->run.finished_ns) {
		rpl_strbuf_addstr(out, " · ended ");
		esc(out, end);
	}
	rpl_strbuf_addf(out, " · %zu job%s in %zu lane%s</p>\n", r->run.njobs,
	                r->run.njobs == 1 ? "" : "s", r->nlanes, r->nlanes == 1 ? "" : "s");

	rpl_strbuf_addstr(out, "<nav><a href=\"#timeline\">Timeline</a>");
	if (r->nfailures)
		rpl_strbuf_addf(out, "<a href=\"#failures\">Failures (%zu)</a>", r->nfailures);
	if (r->skipped)
		rpl_strbuf_addf(out, "<a href=\"#skipped\">Skipped (%zu)</a>", r->skipped);
	rpl_strbuf_addstr(
	        out,
	        "<a href=\"#critical\">Critical path</a>"
	        "<a href=\"#slower\">Against the previous build</a><a href=\"#all\">All jobs</a></nav>\n");

	rpl_strbuf_addstr(out, "<div class=\"cards\">");
	snprintf(num, sizeof(num), "%zu", r->ok);
	card(out, num, "built", 0);
	snprintf(num, sizeof(num), "%zu", r->failed);
	card(out, num, "failed", r->failed > 0);
	snprintf(num, sizeof(num), "%zu", r->skipped);
	card(out, num, "skipped", 0);
	if (r->cancelled + r->not_run) {
		snprintf(num, sizeof(num), "%zu", r->cancelled + r->not_run);
		card(out, num, "not finished", 0);
	}
	secs(wall, t, sizeof(t));
	card(out, t, "wall time", 0);
	secs(r->path_seconds, t, sizeof(t));
	snprintf(num, sizeof(num), "critical path (%zu job%s)", r->npath, r->npath == 1 ? "" : "s");
	card(out, r->npath ? t : "-", num, 0);
	secs(r->work, t, sizeof(t));
	snprintf(num, sizeof(num), "of work, %.1f× parallel", wall > 0 ? r->work / wall : 0.0);
	card(out, t, num, 0);
	rpl_strbuf_addstr(out, "</div>\n");
}

/* The timeline's geometry: lanes, width, the run's span and its scale in px a second. */
struct tl {
	size_t nl;
	int64_t t0;
	double span, w, height, scale, step;
};

/* Wide enough for the lane with the most jobs, within bounds; a tick every
 * round step that leaves 110 px or more between labels. */
static void tl_geometry(const struct rpl_report *r, struct tl *g)
{
	static const double steps[] = { 0.1,  0.2,  0.5,  1,     2,     5,     10,
		                        15,   30,   60,   120,   300,   600,   900,
		                        1800, 3600, 7200, 10800, 21600, 43200, 86400 };
	size_t most = 0, *per;
	double w;

	g->nl = r->nlanes ? r->nlanes : 1;
	g->t0 = r->t0;
	g->span = r->t1 > r->t0 ? (double)(r->t1 - r->t0) / 1e9 : 1;
	g->height = AXIS_H + (double)g->nl * LANE_H;
	per = rpl_xcalloc(g->nl, sizeof(*per));
	for (size_t i = 0; i < r->run.njobs; i++)
		if (r->run.jobs[i].slot >= 0 && (size_t)r->run.jobs[i].slot < g->nl &&
		    ++per[r->run.jobs[i].slot] > most)
			most = per[r->run.jobs[i].slot];
	free(per);
	w = (double)most * PX_PER_JOB;
	g->w = w < MIN_W ? MIN_W : w > MAX_W ? MAX_W : w;
	g->scale = (g->w - 8) / g->span;
	g->step = steps[sizeof(steps) / sizeof(*steps) - 1];
	for (size_t i = 0; i < sizeof(steps) / sizeof(*steps); i++)
		if (steps[i] * g->scale >= 110) {
			g->step = steps[i];
			break;
		}
}

static double tl_x(const struct tl *g, int64_t ns)
{
	return 4 + (double)(ns - g->t0) / 1e9 * g->scale;
}

/* The legend, the lanes' names, and the svg begun with its lanes and time axis. */
static void tl_frame(const struct tl *g, struct rpl_strbuf *out)
{
	rpl_strbuf_addstr(out, "<section id=\"timeline\"><h2>Timeline</h2>\n<div class=\"legend\">"
	                       "<span><i style=\"background:var(--ok)\"></i>package</span>"
	                       "<span><i style=\"background:var(--img)\"></i>image</span>"
	                       "<span><i style=\"background:var(--bad)\"></i>failed</span>"
	                       "<span><i style=\"background:var(--slow)\"></i>timed out</span>"
	                       "<span><i style=\"background:var(--cancel)\"></i>cancelled</span>"
	                       "<span><i style=\"background:var(--cp);outline:1.5px solid "
	                       "var(--cpline)\"></i>critical path</span></div>\n");
	rpl_strbuf_addstr(out, "<div class=\"tl\"><div class=\"lanes\">");
	for (size_t l = 0; l < g->nl; l++)
		rpl_strbuf_addf(out, "<div>slot %zu</div>", l + 1);
	rpl_strbuf_addf(
	        out, "</div><div class=\"scroll\"><svg id=\"tl\" width=\"%.0f\" height=\"%.0f\">",
	        g->w, g->height);
	for (size_t l = 0; l < g->nl; l++)
		rpl_strbuf_addf(
		        out, "<rect class=\"ln\" x=\"0\" y=\"%d\" width=\"%.0f\" height=\"%d\"/>",
		        AXIS_H + (int)l * LANE_H, g->w, BAR_H);
	for (double t = 0; t <= g->span + 1e-9; t += g->step) {
		char lab[32];
		double x = 4 + t * g->scale;
		tick_label(t, g->step, lab, sizeof(lab));
		rpl_strbuf_addf(out,
		                "<line class=\"gr\" x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%.0f\"/>"
		                "<text class=\"ax\" x=\"%.1f\" y=\"14\">%s</text>",
		                x, AXIS_H - 6, x, g->height, x + 3, lab);
	}
}

/* The critical path: from each job's end to the next one's start, under
 * the bars (it shows where a job waited for a lane). */
static void tl_critical_path(const struct rpl_report *r, const struct tl *g, struct rpl_strbuf *out)
{
	const struct rpl_run_row *prev = NULL;

	if (r->npath <= 1)
		return;
	rpl_strbuf_addstr(out, "<path class=\"path\" d=\"");
	for (size_t i = 0; i < r->npath; i++) {
		const struct rpl_run_row *j = r->path[i];
		double x0 = tl_x(g, j->started_ns);
		double y = AXIS_H + (double)j->slot * LANE_H + BAR_H / 2.0;
		if (j->slot < 0) /* ran, but was not placed (retried when the run stopped) */
			continue;
		if (prev)
			rpl_strbuf_addf(out, "M%.1f,%.1fL%.1f,%.1f", tl_x(g, end_of(prev)),
			                AXIS_H + (double)prev->slot * LANE_H + BAR_H / 2.0, x0, y);
		prev = j;
	}
	rpl_strbuf_addstr(out, "\"/>");
}

/* A name where it fits (about 6.5 px a character), with its arch where that
 * fits too; an image's as "image NAME". */
static void tl_bar_label(const struct rpl_run_row *j, int image, double x, int y, double bw,
                         struct rpl_strbuf *out)
{
	if (bw < 10 + 6.5 * (double)(strlen(j->name) + (image ? 6 : 0)))
		return;
	rpl_strbuf_addf(out, "<text class=\"bl%s\" x=\"%.1f\" y=\"%d\">%s",
	                j->critical > 0 && !strcmp(j->status, "ok") ? " cp" : "", x + 5, y + 13,
	                image ? "image " : "");
	esc(out, j->name);
	if (bw >= 10 + 6.5 * (double)(strlen(j->name) + (image ? 6 : 0) + 1 + strlen(j->arch))) {
		rpl_strbuf_addstr(out, "<tspan class=\"ar\"> ");
		esc(out, j->arch);
		rpl_strbuf_addstr(out, "</tspan>");
	}
	rpl_strbuf_addstr(out, "</text>");
}

/* Job `i`'s bar in its lane, linked to its row, its times in the title. */
static void tl_bar(const struct rpl_report *r, const struct tl *g, size_t i, struct rpl_strbuf *out)
{
	const struct rpl_run_row *j = &r->run.jobs[i];
	int image = !strcmp(j->kind, "image"), y;
	double x, bw;
	char d[32];

	if (j->started_ns <= 0 || j->slot < 0)
		return;
	x = tl_x(g, j->started_ns);
	bw = j->duration * g->scale;
	if (bw < 1)
		bw = 1;
	y = AXIS_H + (int)j->slot * LANE_H;
	secs(j->duration, d, sizeof(d));
	rpl_strbuf_addf(out, "<a href=\"#j%zu\"><rect class=\"j", i);
	if (image)
		rpl_strbuf_addstr(out, " im");
	if (j->critical > 0)
		rpl_strbuf_addstr(out, " cp");
	if (strcmp(j->status, "ok")) {
		rpl_strbuf_addch(out, ' ');
		esc(out, j->status);
	}
	rpl_strbuf_addf(out, "\" x=\"%.1f\" y=\"%d\" width=\"%.1f\" height=\"%d\" rx=\"2\"><title>",
	                x, y, bw, BAR_H);
	esc(out, j->name);
	rpl_strbuf_addch(out, ' ');
	esc(out, j->arch);
	rpl_strbuf_addf(out, " (%s): %s, %s", j->kind, j->status, d);
	if (j->prev_run) {
		secs(j->prev_duration, d, sizeof(d));
		rpl_strbuf_addf(out, "; %s in run %lld", d, (long long)j->prev_run);
	}
	rpl_strbuf_addstr(out, "</title></rect>");
	tl_bar_label(j, image, x, y, bw, out);
	rpl_strbuf_addstr(out, "</a>");
}

static void timeline(const struct rpl_report *r, struct rpl_strbuf *out)
{
	struct tl g;

	tl_geometry(r, &g);
	tl_frame(&g, out);
	tl_critical_path(r, &g, out);
	for (size_t i = 0; i < r->run.njobs; i++)
		tl_bar(r, &g, i, out);
	rpl_strbuf_addstr(out, "</svg></div></div>\n");
	if (r->lanes_derived)
		rpl_strbuf_addstr(out, "<p class=\"note\">This run did not record its lanes: "
		                       "they are worked out from when each job started and ended."
		                       "</p>\n");
	rpl_strbuf_addstr(out, "<p class=\"note\">Each bar is a job, in the lane (one of the run's "
	                       "-j) it ran in; hover for its times, click for its row.</p>"
	                       "</section>\n");
}

static void failures(const struct rpl_report *r, struct rpl_strbuf *out)
{
	size_t max = r->nfailures ? TAIL_BUDGET / r->nfailures : TAIL_MAX;

	max = max > TAIL_MAX ? TAIL_MAX : max < TAIL_MIN ? TAIL_MIN : max;
	if (!r->nfailures)
		return;
	rpl_strbuf_addf(out, "<section id=\"failures\"><h2>Failures (%zu)</h2>\n", r->nfailures);
	for (size_t i = 0; i < r->nfailures; i++) {
		const struct rpl_run_row *j = r->failures[i];
		const struct rpl_report_group *g = rpl_report_group_of(r, j);
		char d[32];
		secs(j->duration, d, sizeof(d));
		rpl_strbuf_addf(
		        out, "<details class=\"fail\" id=\"f%zu\"%s><summary><span class=\"name\">",
		        row_index(r, j), i < OPEN_FAILURES ? " open" : "");
		job_label(out, j->name, j->kind, j->arch);
		rpl_strbuf_addstr(out, "</span> ");
		esc(out, j->status);
		rpl_strbuf_addf(out, " after %s", d);
		if (g)
			rpl_strbuf_addf(out, " · <a href=\"#g%zu\">%zu skipped</a>",
			                (size_t)(g - r->groups), g->njobs);
		rpl_strbuf_addstr(out, "</summary>\n<div class=\"msg\">");
		esc(out, j->message ? j->message : "failed");
		rpl_strbuf_addstr(out, "</div>");
		if (j->log) {
			struct rpl_strbuf tail = RPL_STRBUF_INIT;
			int err = log_tail(j->log, TAIL_LINES, max, &tail);
			rpl_strbuf_addstr(out, "<div class=\"dim\">log: <code>");
			esc(out, j->log);
			rpl_strbuf_addstr(out, "</code></div>");
			if (err)
				rpl_strbuf_addf(
				        out, "<pre class=\"log\">(cannot read the log: %s)</pre>",
				        strerror(-err));
			else
				rpl_strbuf_addf(out, "<pre class=\"log\">%s</pre>",
				                rpl_strbuf_str(&tail));
			rpl_strbuf_release(&tail);
		}
		rpl_strbuf_addstr(out, "</details>\n");
	}
	rpl_strbuf_addstr(out, "</section>\n");
}

static void skipped(const struct rpl_report *r, struct rpl_strbuf *out)
{
	if (!r->skipped)
		return;
	rpl_strbuf_addf(out,
	                "<section id=\"skipped\"><h2>Skipped (%zu), by the failure they waited "
	                "on</h2>\n",
	                r->skipped);
	for (size_t g = 0; g < r->ngroups; g++) {
		const struct rpl_report_group *grp = &r->groups[g];
		rpl_strbuf_addf(out, "<details class=\"group\" id=\"g%zu\"%s><summary><b>%zu</b> ",
		                g, grp->njobs <= OPEN_GROUP ? " open" : "", grp->njobs);
		if (grp->cause) {
			rpl_strbuf_addf(out, "waited on <a href=\"#f%zu\">",
			                row_index(r, grp->cause));
			job_label(out, grp->cause->name, grp->cause->kind, grp->cause->arch);
			rpl_strbuf_addstr(out, "</a>, which ");
			esc(out, !strcmp(grp->cause->status, "timeout") ? "timed out" : "failed");
		} else {
			esc(out, grp->why);
		}
		rpl_strbuf_addstr(out, "</summary><div class=\"names\">");
		for (size_t k = 0; k < grp->njobs; k++) {
			const struct rpl_run_row *j = grp->jobs[k];
			rpl_strbuf_addf(out, "<a href=\"#j%zu\">", row_index(r, j));
			job_label(out, j->name, j->kind, j->arch);
			rpl_strbuf_addstr(out, "</a> ");
		}
		rpl_strbuf_addstr(out, "</div></details>\n");
	}
	rpl_strbuf_addstr(out, "</section>\n");
}

static void critical(const struct rpl_report *r, struct rpl_strbuf *out)
{
	double longest = 0;
	char t[32];

	rpl_strbuf_addstr(out, "<section id=\"critical\"><h2>Critical path");
	if (!r->npath) {
		rpl_strbuf_addstr(out, "</h2><p class=\"note\">Not recorded for this run (it ran "
		                       "nothing, or it was recorded before ripple kept it).</p>"
		                       "</section>\n");
		return;
	}
	secs(r->path_seconds, t, sizeof(t));
	rpl_strbuf_addf(out, " <span class=\"dim\">%s, %zu job%s</span></h2>\n<ol class=\"cp\">", t,
	                r->npath, r->npath == 1 ? "" : "s");
	for (size_t i = 0; i < r->npath; i++)
		if (r->path[i]->duration > longest)
			longest = r->path[i]->duration;
	for (size_t i = 0; i < r->npath; i++) {
		const struct rpl_run_row *j = r->path[i];
		secs(j->duration, t, sizeof(t));
		rpl_strbuf_addf(out, "<li><a href=\"#j%zu\">", row_index(r, j));
		job_label(out, j->name, j->kind, j->arch);
		rpl_strbuf_addf(out,
		                "</a> %s<span class=\"bar\" style=\"width:%.0fpx\"></span></li>", t,
		                longest > 0 ? 2 + 300 * j->duration / longest : 2);
	}
	rpl_strbuf_addstr(out, "</ol><p class=\"note\">The chain of jobs, each waiting on the one "
	                       "before, that took longest end to end: the run could not have been "
	                       "shorter than it without making these faster.</p></section>\n");
}

static int by_slowdown(const void *a, const void *b)
{
	const struct rpl_run_row *const *x = a, *const *y = b;
	double dx = (*x)->duration - (*x)->prev_duration, dy = (*y)->duration - (*y)->prev_duration;

	return dx > dy ? -1 : dx < dy;
}

/* Slower than its previous build by at least a second and a tenth. */
static int slowed(const struct rpl_run_row *j)
{
	double d = j->duration - j->prev_duration;

	return !strcmp(j->status, "ok") && j->prev_run && d >= 1 && d >= 0.1 * j->prev_duration;
}

static int sped_up(const struct rpl_run_row *j)
{
	double d = j->prev_duration - j->duration;

	return !strcmp(j->status, "ok") && j->prev_run && d >= 1 && d >= 0.1 * j->prev_duration;
}

static void slower(const struct rpl_report *r, struct rpl_strbuf *out)
{
	const struct rpl_run_row **v = rpl_xmalloc((r->run.njobs ? r->run.njobs : 1) * sizeof(*v));
	size_t n = 0, faster = 0, compared = 0;

	for (size_t i = 0; i < r->run.njobs; i++) {
		const struct rpl_run_row *j = &r->run.jobs[i];
		compared += j->prev_run && !strcmp(j->status, "ok");
		if (slowed(j))
			v[n++] = j;
		faster += sped_up(j);
	}
	qsort(v, n, sizeof(*v), by_slowdown);
	rpl_strbuf_addstr(out, "<section id=\"slower\"><h2>Against the previous build</h2>\n");
	if (compared)
		rpl_strbuf_addf(
		        out,
		        "<p>%zu of the jobs built here were built in an earlier run too: "
		        "<b>%zu</b> took longer this time, <b>%zu</b> less long (by a second "
		        "and 10%% or more); the table of all jobs has every change.</p>\n",
		        compared, n, faster);
	else
		rpl_strbuf_addstr(out, "<p>None of the jobs built here was built in an earlier run."
		                       "</p>\n");
	if (n) {
		rpl_strbuf_addstr(
		        out,
		        "<table><thead><tr><th>slower than before, the most first</th><th class=\"n\">"
		        "before</th><th class=\"n\">now</th><th class=\"n\">change</th>"
		        "</tr></thead><tbody>");
		for (size_t i = 0; i < n && i < SLOWER_SHOWN; i++) {
			char a[32], b[32];
			secs(v[i]->prev_duration, a, sizeof(a));
			secs(v[i]->duration, b, sizeof(b));
			rpl_strbuf_addf(out, "<tr><td><a href=\"#j%zu\">", row_index(r, v[i]));
			job_label(out, v[i]->name, v[i]->kind, v[i]->arch);
			rpl_strbuf_addf(
			        out,
			        "</a></td><td class=\"n\">%s <span class=\"dim\">(run %lld)"
			        "</span></td><td class=\"n\">%s</td><td class=\"n up\">+%.0f%%"
			        "</td></tr>",
			        a, (long long)v[i]->prev_run, b,
			        v[i]->prev_duration > 0
			                ? 100 * (v[i]->duration / v[i]->prev_duration - 1)
			                : 100.0);
		}
		rpl_strbuf_addstr(out, "</tbody></table>");
	}
	rpl_strbuf_addstr(out, "</section>\n");
	free(v);
}

static void all_jobs(const struct rpl_report *r, struct rpl_strbuf *out)
{
	/* Not laid out until scrolled to (content-visibility): the table of a
	 * nightly is most of the page's work for a browser; its height is
	 * guessed at a row's, and kept once known. */
	rpl_strbuf_addf(out,
	                "<section id=\"all\" style=\"contain-intrinsic-size:auto %zupx\">"
	                "<h2>All jobs (%zu)</h2>\n"
	                "<input id=\"filter\" type=\"search\" placeholder=\"filter: a name, "
	                "an arch, failed...\">\n"
	                "<table id=\"jobs\"><thead><tr><th>job</th><th>kind</th><th>arch</th>"
	                "<th>status</th><th class=\"n\">slot</th><th class=\"n\">start</th>"
	                "<th class=\"n\">duration</th><th class=\"n\">previous</th>"
	                "<th class=\"n\">change</th></tr></thead><tbody>\n",
	                100 + 25 * r->run.njobs, r->run.njobs);
	for (size_t i = 0; i < r->run.njobs; i++) {
		const struct rpl_run_row *j = &r->run.jobs[i];
		int went = j->started_ns > 0;
		char t[32];
		rpl_strbuf_addf(out, "<tr id=\"j%zu\" class=\"", i);
		for (const char *c = j->status; *c; c++)
			rpl_strbuf_addch(out, *c == ' ' ? '-' : *c);
		rpl_strbuf_addstr(out, "\"><td>");
		esc(out, j->name);
		rpl_strbuf_addstr(out, "</td><td>");
		esc(out, j->kind);
		rpl_strbuf_addstr(out, "</td><td>");
		esc(out, j->arch);
		rpl_strbuf_addstr(out, "</td><td>");
		esc(out, j->status);
		rpl_strbuf_addstr(out, "</td>");
		if (went && j->slot >= 0)
			rpl_strbuf_addf(out, "<td class=\"n\" data-v=\"%lld\">%lld</td>",
			                (long long)j->slot + 1, (long long)j->slot + 1);
		else
			rpl_strbuf_addstr(out, "<td class=\"n\"></td>");
		if (went) {
			double at = (double)(j->started_ns - r->t0) / 1e9;
			secs(at, t, sizeof(t));
			rpl_strbuf_addf(out, "<td class=\"n\" data-v=\"%.3f\">+%s</td>", at, t);
			secs(j->duration, t, sizeof(t));
			rpl_strbuf_addf(out, "<td class=\"n\" data-v=\"%.3f\">%s</td>", j->duration,
			                t);
		} else {
			rpl_strbuf_addstr(out, "<td class=\"n\"></td><td class=\"n\"></td>");
		}
		if (j->prev_run) {
			secs(j->prev_duration, t, sizeof(t));
			rpl_strbuf_addf(out, "<td class=\"n\" data-v=\"%.3f\">%s</td>",
			                j->prev_duration, t);
		} else {
			rpl_strbuf_addstr(out, "<td class=\"n\"></td>");
		}
		if (j->prev_run && went && !strcmp(j->status, "ok") && j->prev_duration > 0) {
			double pct = 100 * (j->duration / j->prev_duration - 1);
			rpl_strbuf_addf(out, "<td class=\"n%s\" data-v=\"%.1f\">%+.0f%%</td>",
			                slowed(j)    ? " up"
			                : sped_up(j) ? " down"
			                             : "",
			                pct, pct);
		} else {
			rpl_strbuf_addf(out, "<td class=\"n dim\">%s</td>",
			                went && !j->prev_run && !strcmp(j->status, "ok") ? "new"
			                                                                 : "");
		}
		rpl_strbuf_addstr(out, "</tr>\n");
	}
	rpl_strbuf_addstr(out, "</tbody></table></section>\n");
}

void rpl_report_html(const struct rpl_report *r, struct rpl_strbuf *out)
{
	char now[64];
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	when((int64_t)ts.tv_sec * 1000000000, now, sizeof(now));
	rpl_strbuf_addstr(out, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
	                       "<meta name=\"viewport\" content=\"width=device-width\">"
	                       "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src "
	                       "'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'\">");
	rpl_strbuf_addf(out, "<title>ripple run %lld: ", (long long)r->run.id);
	esc(out, r->run.status);
	rpl_strbuf_addf(out,
	                ", %zu built, %zu failed, %zu skipped</title>\n<style>%s</style>"
	                "</head>\n<body><main>\n",
	                r->ok, r->failed, r->skipped, css);
	header(r, out);
	timeline(r, out);
	failures(r, out);
	skipped(r, out);
	critical(r, out);
	slower(r, out);
	all_jobs(r, out);
	rpl_strbuf_addstr(out, "<footer>made by ripple from .ripple/state.db on ");
	esc(out, now);
	rpl_strbuf_addf(out, "</footer>\n</main>\n<script>%s</script>\n</body></html>\n", script);
}

int rpl_report_html_write(struct rpl_state *st, int64_t run, const char *path)
{
	struct rpl_report r;
	struct rpl_strbuf page = RPL_STRBUF_INIT;
	int rc = rpl_report_load(st, run, &r), err = 0;

	if (rc < 0)
		err = rc;
	else if (!rc)
		err = run ? rpl_error(-ENOENT, "no run %lld in the state store", (long long)run)
		          : rpl_error(-ENOENT, "no run in the state store yet");
	if (!err) {
		rpl_report_html(&r, &page);
		err = rpl_write_file_atomic(path, page.buf, page.len);
	}
	rpl_strbuf_release(&page);
	rpl_report_release(&r);
	return err;
}
