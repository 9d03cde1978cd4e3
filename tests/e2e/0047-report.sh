#!/bin/sh
# The report of a run, in a real browser: a monorepo of 17 packages and 3
# images for two archs is built twice with the stand-in runners
# (tests/e2e/bin), the second time with nodejs failing (so npm, yarn and the
# node image are skipped) and python slower.  Checked: `ripple history RUN`
# (text, -v, --json) and its errors; `build --report-html` and `ripple
# report RUN --html` write the same page; headless Chromium renders it and
# its DOM has every job in the table, the failure with the escaped end of
# its log, the skips grouped under their failure, a timeline bar per job
# that ran, in at most -j lanes, with the critical path, and the durations
# against the previous build; the table sorts and filters; the page loads
# nothing; a screenshot is taken (copied to $RPL_REPORT_PNG when set: that
# is docs/report.png).
. "$(dirname "$0")/lib.sh"

standin_repo
printf 'archs: [x86_64, aarch64]\n' > .ripple.yaml

# p NAME SECONDS DEP...: a package that builds against DEPs in SECONDS.
p() {
	n=$1 s=$2
	shift 2
	{
		pkg "$n" "$@"
		printf '# standin-sleep: %s\n' "$s"
	} > "$n.yaml"
}
p zlib 0.3
p openssl 0.6
p pcre2 0.3
p libffi 0.2
p ncurses 0.4
p readline 0.3 ncurses
p sqlite 0.5 readline
p python-3.12 0.5 zlib openssl libffi sqlite readline
p py3-setuptools 0.3 python-3.12
p py3-pip 0.3 py3-setuptools
p curl 0.6 zlib openssl
p git 0.8 curl pcre2 zlib
p nodejs 0.9 openssl zlib
p npm 0.3 nodejs
p yarn 0.2 npm
p go 0.7
p crane 0.3 go
img() {
	n=$1
	shift
	printf 'contents:\n  packages:\n' > "$n.apko.yaml"
	for x in "$@"; do printf '    - %s\n' "$x" >> "$n.apko.yaml"; done
}
img python py3-pip
img node yarn
img git-image git crane
git init -q
git add -A
git -c user.name=t -c user.email=t@t commit -qm init

# ---- errors and help first --------------------------------------------------------------
run 0 "$RIPPLE" report --help
expect_out '^usage: ripple report \[RUN\] --html FILE'
run 0 "$RIPPLE" history --help
expect_out 'ripple history RUN \[-v\]'
run 2 "$RIPPLE" report --html "$T/none.html"
expect_err 'no run in the state store yet'
run 2 "$RIPPLE" report
expect_err '^usage: ripple report'
run 2 "$RIPPLE" history 1
expect_err 'no run 1 in the state store'
run 2 "$RIPPLE" history one
expect_err "'one' is not a run number"

# ---- run 1: everything builds ----------------------------------------------------------
run 0 "$RIPPLE" build -j 4 --report-html nightly-1.html
expect_out '^done: 40 built, 0 failed, 0 skipped'
[ -s nightly-1.html ] || fail "build --report-html wrote nothing"

# ---- run 2: nodejs fails, python is slower ---------------------------------------------
printf '# standin-fail: ../deps/v8/src/base/macros.h:337:7: error: <T> & "friends" are not trivially copyable\n' >> nodejs.yaml
sed -i 's/standin-sleep: 0.5/standin-sleep: 2.2/' python-3.12.yaml
run 1 "$RIPPLE" build --all --force -j 4 --report-html nightly.html
expect_out '^done: 32 built, 2 failed, 6 skipped'

# ---- history RUN -----------------------------------------------------------------------
run 0 "$RIPPLE" history 2
expect_out '^run 2: failed, started .*: ripple build --all --force -j 4 --report-html nightly.html$'
expect_out '^  40 jobs: 32 built, 2 failed, 6 skipped; .* of work in 4 lanes$'
expect_out '^critical path [0-9.]+s: .*python-3\.12 \((x86_64|aarch64)\) 2\.[0-9]s'
expect_out '^ +[0-9.]+s  python-3\.12 \(x86_64\).*\([0-9.]+s in run 1\)$'
expect_out '^ +[0-9.]+s  nodejs \(x86_64\) failed: melange build exited with status 1$'
expect_out '^ +log: \.ripple/logs/2/x86_64/nodejs\.log; 3 skipped because of it$'
expect_out '^  3 waited on nodejs \(x86_64\): image node \(x86_64\), npm \(x86_64\), yarn \(x86_64\)$'
[ "$(grep -c '^  [0-9]* waited on' "$T/out")" = 2 ] || fail "want two groups of skips: $(cat "$T/out")"
grep -q '^    npm (x86_64)$' "$T/out" && fail "skips listed one by one without -v"
run 0 "$RIPPLE" history 2 -v
expect_out '^  3 waited on nodejs \(aarch64\):$'
expect_out '^    image node \(aarch64\)$'
run 0 "$RIPPLE" history last --json
json_eq '[d["run"]["id"], d["summary"]["failed"], d["summary"]["skipped"], d["lanes"]]' '[2, 2, 6, 4]'
json_eq 'sorted((g["cause"]["name"], g["cause"]["arch"], len(g["jobs"])) for g in d["skipped"])' \
	"[('nodejs', 'aarch64', 3), ('nodejs', 'x86_64', 3)]"
json_eq 'sorted({j["slot"] for j in d["jobs"] if j["started_ns"]})' '[0, 1, 2, 3]'
json_eq '[j["previous"]["run"] for j in d["jobs"] if j["name"] == "zlib"]' '[1, 1]'
json_eq 'd["critical_path"]["jobs"][-1]["name"] in ("py3-pip", "python")' 'True'
# The lanes are real: no two jobs of a lane overlap.
python3 - "$T/out" <<'PY' || fail "two jobs of one lane overlap"
import json, sys
d = json.load(open(sys.argv[1]))
lanes = {}
for j in d["jobs"]:
    if j["started_ns"]:
        lanes.setdefault(j["slot"], []).append((j["started_ns"], j["started_ns"] + j["seconds"] * 1e9))
for spans in lanes.values():
    spans.sort()
    for (a0, a1), (b0, b1) in zip(spans, spans[1:]):
        assert b0 >= a1 - 1e6, (a0, a1, b0, b1)
PY

# ---- ripple report: the same page as the build's --------------------------------------------
run 0 "$RIPPLE" report 2 --html "$T/again.html"
strip() { sed 's/made by ripple from .ripple\/state.db on [^<]*//' "$1"; }
[ "$(strip "$T/again.html")" = "$(strip nightly.html)" ] ||
	fail "ripple report 2 differs from the build's --report-html"
run 0 "$RIPPLE" report 1 --html "$T/old.html"
grep -q '<title>ripple run 1: ok, 40 built, 0 failed, 0 skipped</title>' "$T/old.html" ||
	fail "report 1 is not run 1's"
run 0 "$RIPPLE" report --html - 
grep -q '<title>ripple run 2: failed' "$T/out" || fail "report --html - did not print run 2's page"
# Nothing is loaded from anywhere: no src, no link, no url(), no remote href.
if grep -Eo '(src=|<link|url\(|href="[a-z]+:|@import)[^ ]{0,40}' nightly.html; then
	fail "the page refers to something outside it"
fi

# ---- in a browser ----------------------------------------------------------------------------
command -v chromium >/dev/null || skip "chromium is not installed (scripts/setup installs it)"
profile=$(mktemp -d "$T/chromium.XXXXXX")
chrome() {
	# Chromium writes its own noise on stderr (no D-Bus here); it is kept for a
	# failure.  A browser that hangs fails the test instead of holding it.
	timeout 120 chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
		--disable-background-networking --disable-component-update --disable-sync \
		--user-data-dir="$profile" "$@" 2>"$T/chromium.err"
}
chrome --dump-dom "file://$T/repo/nightly.html" > "$T/dom.html" || {
	cat "$T/chromium.err" >&2
	fail "chromium could not render the report"
}
"$RIPPLE" history 2 --json > "$T/run2.json"
python3 - "$T/dom.html" "$T/run2.json" <<'PY' || fail "the rendered report lacks what it must show"
import json, sys
from html.parser import HTMLParser

run = json.load(open(sys.argv[2]))

class Page(HTMLParser):
    """Collects the table rows, the text of each section and the timeline's shapes."""
    def __init__(self):
        super().__init__()
        self.stack, self.rows, self.row, self.cell = [], [], None, None
        self.text = {}
        self.bars, self.paths, self.tables = [], 0, {}
        self.section = None
    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "section":
            self.section = a.get("id")
        if tag == "table":
            self.tables[a.get("id")] = a.get("class", "")
        if tag == "tr" and a.get("id", "").startswith("j"):
            self.row = [a["class"]]
        if tag == "td" and self.row is not None:
            self.cell = ""
        if tag == "rect" and "j" in a.get("class", "").split():
            self.bars.append((a["class"].split(), float(a["y"]), float(a["x"]), float(a["width"])))
        if tag == "path" and a.get("class") == "path":
            self.paths += 1
    def handle_endtag(self, tag):
        if tag == "td" and self.row is not None:
            self.row.append(self.cell)
            self.cell = None
        if tag == "tr" and self.row is not None:
            self.rows.append(self.row)
            self.row = None
        if tag == "section":
            self.section = None
    def handle_data(self, data):
        if self.cell is not None:
            self.cell += data
        if self.section:
            self.text[self.section] = self.text.get(self.section, "") + data

page = Page()
page.feed(open(sys.argv[1]).read())

# Every job of the run, once, with its status.
want = sorted((j["name"], j["kind"], j["arch"], j["status"]) for j in run["jobs"])
got = sorted((r[1], r[2], r[3], r[4]) for r in page.rows)
assert len(want) == 40 and got == want, (len(got), got, want)
assert page.tables.get("jobs") == "js", page.tables  # the script ran

# The failure, with the end of its log, escaped and shown as text.
f = page.text["failures"]
assert "Failures (2)" in f, f
assert "nodejs x86_64 failed after" in f and "nodejs aarch64 failed after" in f, f
assert "melange build exited with status 1" in f, f
assert '../deps/v8/src/base/macros.h:337:7: error: <T> & "friends" are not trivially copyable' in f, f
assert "$ melange build nodejs.yaml --arch x86_64" in f, f
assert "3 skipped" in f, f

# The skips, grouped under the failure they waited on.
s = " ".join(page.text["skipped"].split())
assert "Skipped (6), by the failure they waited on" in s, s
assert s.count("waited on nodejs") == 2, s
for n in ("npm x86_64", "yarn x86_64", "image node x86_64", "npm aarch64", "image node aarch64"):
    assert n in s, (n, s)

# The timeline: a bar per job that ran, in at most 4 lanes, none overlapping in
# a lane, failed ones marked, the critical path drawn.
ran = [j for j in run["jobs"] if j["started_ns"]]
assert len(page.bars) == len(ran) == 34, (len(page.bars), len(ran))
lanes = sorted({y for _, y, _, _ in page.bars})
assert len(lanes) == 4, lanes
assert sum("failed" in c for c, _, _, _ in page.bars) == 2
assert sum("cp" in c for c, _, _, _ in page.bars) == len(run["critical_path"]["jobs"]) >= 3
assert sum("im" in c for c, _, _, _ in page.bars) == 4  # python and git-image, two archs
assert page.paths == 1
for y in lanes:
    spans = sorted((x, x + w) for _, yy, x, w in page.bars if yy == y)
    for (a0, a1), (b0, b1) in zip(spans, spans[1:]):
        assert b0 >= a1 - 1.5, (y, a0, a1, b0, b1)

# Durations against the previous build: python is slower, everything has a previous.
c = " ".join(page.text["slower"].split())
assert "32 of the jobs built here were built in an earlier run too" in c, c
assert "python-3.12 x86_64" in c and "python-3.12 aarch64" in c, c
py = [r for r in page.rows if r[1] == "python-3.12"]
assert all(r[9].startswith("+") and r[9].endswith("%") and r[8] for r in py), py
assert "Critical path" in page.text["critical"]
PY

# The table's script: a click on "duration" sorts by it, a filter hides the rest.
sed 's|</body>|<script>var h=document.querySelectorAll("#jobs th")[6];h.click();h.click();var f=document.getElementById("filter");f.value="nodejs";f.dispatchEvent(new Event("input"));</script></body>|' \
	nightly.html > "$T/clicked.html"
chrome --dump-dom "file://$T/clicked.html" > "$T/clicked.dom" || fail "chromium could not render the page"
python3 - "$T/clicked.dom" <<'PY' || fail "the table does not sort or filter"
import sys
from html.parser import HTMLParser

class Rows(HTMLParser):
    """Each row of the table of jobs: hidden or not, its cells' data-v or text."""
    def __init__(self):
        super().__init__()
        self.rows, self.row = [], None
    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "tr" and a.get("id", "").startswith("j"):
            self.row = {"hidden": "hidden" in a, "cells": []}
        elif tag == "td" and self.row is not None:
            self.row["cells"].append(a.get("data-v", ""))
    def handle_data(self, data):
        if self.row is not None and self.row["cells"] and not self.row["cells"][-1]:
            self.row["cells"][-1] = data
    def handle_endtag(self, tag):
        if tag == "tr" and self.row is not None:
            self.rows.append(self.row)
            self.row = None

t = Rows()
t.feed(open(sys.argv[1]).read())
assert len(t.rows) == 40, len(t.rows)
shown = [r["cells"][0] for r in t.rows if not r["hidden"]]
assert shown == ["nodejs", "nodejs"], shown
# Clicked twice: the longest first, the jobs that never ran (no duration) last.
d = [float(r["cells"][6]) for r in t.rows if r["cells"][6]]
assert len(d) == 34 and d == sorted(d, reverse=True), d
assert all(not r["cells"][6] for r in t.rows[34:]), t.rows[34:]
PY

chrome --screenshot="$T/report.png" --window-size=1400,900 "file://$T/repo/nightly.html" >/dev/null || {
	cat "$T/chromium.err" >&2
	fail "chromium could not take a screenshot"
}
[ "$(head -c 8 "$T/report.png" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ] ||
	fail "the screenshot is not a PNG"
[ -z "${RPL_REPORT_PNG:-}" ] || cp "$T/report.png" "$RPL_REPORT_PNG"
exit 0
