#!/bin/sh
# ripple build with stand-in runners (tests/e2e/bin/melange and apko, first
# on PATH): they log when each job starts and ends, write real apks, and fail,
# crash or dawdle as a recipe's comments ask.  Checked: the -j and
# --arch-jobs limits are reached and never passed; every job starts after its
# dependencies ended; the index lists each package before its dependents
# build; a failure skips exactly its dependents; timeouts, crash retries and
# missing outputs; SIGINT stops everything, exits 130, and the next run
# builds only what did not finish; events are JSON lines; --report, --junit,
# --dry-run, history; the exit codes.
. "$(dirname "$0")/lib.sh"

standin_repo
cat > .ripple.yaml <<'EOY'
archs: [x86_64, aarch64]
EOY
# a <- b <- c <- img;  a <- d;  e alone.  Each takes 0.4 s.
slow() { printf '# standin-sleep: %s\n' "$1"; }
{ pkg a; slow 0.4; } > a.yaml
{ pkg b a-dev; slow 0.4; printf '# standin-needs-index: a a-dev\n'; } > b.yaml
{ pkg c b; slow 0.4; printf '# standin-needs-index: b b-dev\n'; } > c.yaml
{ pkg d a; slow 0.4; } > d.yaml
{ pkg e; slow 0.4; } > e.yaml
cat > img.apko.yaml <<'EOY'
contents:
  packages:
    - c
EOY
git init -q
git add -A
git -c user.name=t -c user.email=t@t commit -qm init

# overlap: the most jobs the stand-ins saw running at once (all, or one arch).
overlap() {
	python3 - "$STANDIN_DIR/events" "${1:-}" <<'PY'
import sys
ev = [l.split() for l in open(sys.argv[1])]
ev = [e for e in ev if not sys.argv[2] or e[2] == sys.argv[2]]
ev.sort(key=lambda e: (float(e[3]), e[0] == "start"))
n = best = 0
for e in ev:
    n += 1 if e[0] == "start" else -1
    best = max(best, n)
print(best)
PY
}
# after A B ARCH: A's first start came after B's last end.
after() {
	python3 - "$STANDIN_DIR/events" "$1" "$2" "$3" <<'PY' || fail "$1 ($3) started before $2 ended"
import sys
ev = [l.split() for l in open(sys.argv[1])]
start = min(float(e[3]) for e in ev if e[0] == "start" and e[1] == sys.argv[2] and e[2] == sys.argv[4])
end = max(float(e[3]) for e in ev if e[0] == "end" and e[1] == sys.argv[3] and e[2] == sys.argv[4])
assert start >= end, (start, end)
PY
}
started() { grep -c "^start $1 $2 " "$STANDIN_DIR/events" || true; }

# ---- a whole build: limits, order, index, events, reports -------------------------
run 0 "$RIPPLE" build -j 3 --arch-jobs 2 --events "$T/ev.jsonl" --report "$T/report.json" \
	--junit "$T/junit.xml"
expect_out '^run 1: 12 jobs \(10 packages, 2 images\); logs in \.ripple/logs/1/$'
expect_out '^done: 12 built, 0 failed, 0 skipped in '
[ "$(overlap)" -le 3 ] || fail "more than -j 3 at once: $(overlap)"
[ "$(overlap)" -eq 3 ] || fail "-j 3 never reached: $(overlap)"
for arch in x86_64 aarch64; do
	[ "$(overlap $arch)" -le 2 ] || fail "more than --arch-jobs 2 of $arch at once"
	after b a $arch
	after c b $arch
	after d a $arch
	after img c $arch
done
for p in a a-dev b b-dev c c-dev d d-dev e e-dev; do
	[ -f "packages/x86_64/$p-1.0.0-r0.apk" ] || fail "no packages/x86_64/$p-1.0.0-r0.apk"
done
gzip -dc packages/aarch64/APKINDEX.tar.gz | tar -xOf - APKINDEX > "$T/index"
[ "$(grep -c '^P:' "$T/index")" = 10 ] || fail "index: $(cat "$T/index")"
[ -f images/img/x86_64.tar ] || fail "no image output"
python3 - "$T/ev.jsonl" <<'PY' || fail "events are not the JSON lines expected"
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1])]
kinds = [e["event"] for e in ev]
assert kinds[0] == "plan" and len(ev[0]["jobs"]) == 12, kinds[0]
assert kinds[-1] == "end" and ev[-1]["status"] == "ok" and ev[-1]["ok"] == 12, ev[-1]
assert kinds.count("start") == 12 and kinds.count("finish") == 12, kinds
assert all("time" in e for e in ev)
PY
python3 - "$T/report.json" "$T/junit.xml" <<'PY' || fail "report or junit"
import json, sys, xml.etree.ElementTree as ET
r = json.load(open(sys.argv[1]))
assert r["status"] == "ok" and r["summary"]["ok"] == 12, r["summary"]
assert [j["name"] for j in r["critical_path"]["jobs"]][-1] == "img", r["critical_path"]
assert all(j["status"] == "ok" and j["log"].startswith(".ripple/logs/1/") for j in r["jobs"])
s = ET.parse(sys.argv[2]).getroot().find("testsuite")
assert s.get("tests") == "12" and s.get("failures") == "0", s.attrib
PY
[ -s .ripple/logs/1/x86_64/b.log ] || fail "no log for b"
grep -q '^\$ melange build b.yaml --arch x86_64 --out-dir packages' .ripple/logs/1/x86_64/b.log ||
	fail "b's log lacks its command: $(cat .ripple/logs/1/x86_64/b.log)"

# Nothing changed: nothing to build, and a plan agrees.
: > "$STANDIN_DIR/events"
run 0 "$RIPPLE" build
expect_out '^nothing to build: no job.s inputs changed since its last successful build$'
[ ! -s "$STANDIN_DIR/events" ] || fail "a no-op build ran something"
run 0 "$RIPPLE" plan
expect_out '^nothing to do'

# ---- a failure skips exactly its dependents; the rest is built ---------------------
printf '# standin-fail: b does not compile\n' >> b.yaml
sed -i 's/standin-sleep: 0.4/standin-sleep: 0.1/' a.yaml d.yaml e.yaml
: > "$STANDIN_DIR/events"
run 1 "$RIPPLE" build --all --rebuild-dependents --report "$T/r2.json" --junit "$T/j2.xml"
expect_out 'FAILED b x86_64 .*melange build exited with status 1'
expect_out '^  \| error: b does not compile$'
# Skips are summed up by the failure they waited on (-v lists them: 0045).
expect_out '^4 skipped: 2 waiting on b \(aarch64\) failed, 2 waiting on b \(x86_64\) failed \(-v lists them\)$'
grep -q 'skipped c x86_64' "$T/out" && fail "a skip on a line of its own without -v"
expect_out '^done: 6 built, 2 failed, 4 skipped'
[ "$(started c x86_64)" = 0 ] || fail "c started though b failed"
[ "$(started e aarch64)" = 1 ] || fail "e was not built"
python3 - "$T/r2.json" "$T/j2.xml" <<'PY' || fail "the failure's report"
import json, sys, xml.etree.ElementTree as ET
r = json.load(open(sys.argv[1]))
st = {(j["name"], j["arch"]): j for j in r["jobs"]}
assert st[("b", "x86_64")]["status"] == "failed", st[("b", "x86_64")]
assert st[("c", "aarch64")]["message"] == "waiting on b (aarch64) failed"
assert r["summary"] == {"ok": 6, "failed": 2, "skipped": 4, "cancelled": 0, "not_run": 0,
                        "up_to_date": 0}, r["summary"]
s = ET.parse(sys.argv[2]).getroot().find("testsuite")
assert s.get("failures") == "2" and s.get("skipped") == "4", s.attrib
fails = [c for c in s if c.find("failure") is not None]
assert {c.get("name") for c in fails} == {"b"}, fails
assert "b does not compile" in fails[0].find("failure").text
PY
run 0 "$RIPPLE" history
expect_out 'failed +6 built +2 failed +4 skipped +[0-9.]+s +ripple build --all'
expect_out '^  run 2  b (x86_64|aarch64) \(failed\): melange build exited with status 1$'

# --no-keep-going (the default without --all): nothing new starts after a failure.
: > "$STANDIN_DIR/events"
run 1 "$RIPPLE" build -j 1 --arch x86_64
expect_out 'FAILED b x86_64'
[ "$(grep -c '^start' "$STANDIN_DIR/events")" = 1 ] || fail "jobs started after the failure"

# Fixed: the next run builds what is missing and nothing else.
sed -i '/standin-fail/d' b.yaml
: > "$STANDIN_DIR/events"
run 0 "$RIPPLE" build --rebuild-dependents
expect_out '^done: 6 built, 0 failed, 0 skipped'
[ "$(started a x86_64)" = 0 ] || fail "a was built again"

# ---- timeouts, crashes, missing outputs ----------------------------------------------
sed -i 's/standin-sleep: .*/standin-sleep: 5/' e.yaml
run 1 "$RIPPLE" build --arch x86_64 --timeout 1
expect_out 'FAILED e x86_64 \(1\.[0-9]s\): timed out after 1s'
sed -i 's/standin-sleep: .*/standin-sleep: 0.1/' e.yaml
printf '# standin-crash-once: yes\n' >> e.yaml
run 1 "$RIPPLE" build --arch x86_64
expect_out 'FAILED e x86_64 .*melange build was killed by signal 11'
rm -f "$STANDIN_DIR"/crashed-*
run 0 "$RIPPLE" build --arch x86_64 --retries 1 --events "$T/ev3.jsonl"
expect_out '^retry e x86_64: melange build was killed by signal 11'
expect_out '^done: 1 built'
grep -q '"event":"retry"' "$T/ev3.jsonl" || fail "no retry event"
sed -i '/standin-crash-once/d' e.yaml
printf '# standin-no-subpackages: yes\n' >> e.yaml
run 1 "$RIPPLE" build --arch x86_64
expect_out 'FAILED e x86_64 .*runner reported success but produced no packages/x86_64/e-dev-1\.0\.0-r0\.apk'
sed -i '/standin-no-subpackages/d' e.yaml

# ---- --dry-run does nothing --------------------------------------------------------
runs_before=$(ls .ripple/logs | wc -l)
: > "$STANDIN_DIR/events"
run 0 "$RIPPLE" build --dry-run
expect_out '^dry run: 1 job would run'
expect_out '^    \$ melange build e.yaml --arch x86_64 --out-dir packages'
[ ! -s "$STANDIN_DIR/events" ] || fail "--dry-run ran something"
[ "$(ls .ripple/logs | wc -l)" = "$runs_before" ] || fail "--dry-run wrote logs"
run 0 "$RIPPLE" plan
expect_out '^1 job \(1 package, 0 images\) of 12:$'

# ---- SIGINT: everything stops, 130; the next run finishes only the rest ----------------
run 0 "$RIPPLE" build
sed -i 's/standin-sleep: .*/standin-sleep: 3/' b.yaml c.yaml d.yaml
sed -i 's/standin-sleep: .*/standin-sleep: 0.1/' a.yaml
printf '# v2\n' >> a.yaml
: > "$STANDIN_DIR/events"
set +e
"$RIPPLE" build -j 2 --arch x86_64 --rebuild-dependents > "$T/int.out" 2>&1 &
pid=$!
# Once a is built and b and d run, interrupt.
i=0
while [ "$(grep -c '^start' "$STANDIN_DIR/events")" -lt 3 ] && [ $i -lt 100 ]; do
	sleep 0.1
	i=$((i + 1))
done
kill -INT $pid
wait $pid
code=$?
set -e
[ $code = 130 ] || { cat "$T/int.out"; fail "interrupted build exited $code"; }
grep -q '^interrupted: 1 built' "$T/int.out" || fail "$(cat "$T/int.out")"
sleep 0.5
! pgrep -f "standin-sleep|tests/e2e/bin/melange" >/dev/null 2>&1 || true
: > "$STANDIN_DIR/events"
sed -i 's/standin-sleep: 3/standin-sleep: 0.1/' b.yaml c.yaml d.yaml
run 0 "$RIPPLE" build --arch x86_64 --rebuild-dependents
[ "$(started a x86_64)" = 0 ] || fail "a was built again after the interrupt"
[ "$(started b x86_64)" = 1 ] || fail "b was not finished"
[ "$(started d x86_64)" = 1 ] || fail "d was not finished"

# ---- a cycle builds as a unit; .ripple.yaml's key and arguments; --test ---------------
openssl genrsa -traditional -out local.rsa 2048 2>/dev/null
openssl rsa -in local.rsa -pubout -out local.rsa.pub 2>/dev/null
printf 'signing-key: local.rsa\nmelange-args: [--namespace, test]\n' >> .ripple.yaml
{ pkg x y-dev; slow 0.3; } > x.yaml
{ pkg y x-dev; slow 0.3; } > y.yaml
: > "$STANDIN_DIR/events"
run 0 "$RIPPLE" build --arch x86_64 -j 4 --test x y
python3 - "$STANDIN_DIR/events" <<'PY' || fail "the cycle's members overlapped"
import sys
ev = [l.split() for l in open(sys.argv[1]) if l.split()[1] in ("x", "y")]
span = {}
for e in ev:
    span.setdefault(e[1], []).append(float(e[3]))
(a0, a1), (b0, b1) = (min(span["x"]), max(span["x"])), (min(span["y"]), max(span["y"]))
assert a1 <= b0 or b1 <= a0, span
PY
log=$(ls .ripple/logs/*/x86_64/x.log | tail -1)
grep -q '^\$ melange build x.yaml .*--signing-key local.rsa --generate-index=false' "$log" ||
	fail "x's build: $(cat "$log")"
grep -q -- '--keyring-append local.rsa.pub .*--namespace test$' "$log" || fail "x: $(cat "$log")"
grep -q '^\$ melange test x.yaml --arch x86_64 ' "$log" || fail "no melange test: $(cat "$log")"
python3 - packages/x86_64/APKINDEX.tar.gz <<'PY' > "$T/sigcheck" || fail "index signature"
import io, subprocess, sys, tarfile, zlib
data = open(sys.argv[1], "rb").read()
d = zlib.decompressobj(16 + 15)
sigtar = d.decompress(data)
rest = d.unused_data
t = tarfile.open(fileobj=io.BytesIO(sigtar + b"\0" * 1024))
m = t.next()
assert m.name == ".SIGN.RSA256.local.rsa.pub", m.name
open("sig.bin", "wb").write(t.extractfile(m).read())
open("signed.bin", "wb").write(rest)
print(subprocess.run(["openssl", "dgst", "-sha256", "-verify", "local.rsa.pub", "-signature",
                      "sig.bin", "signed.bin"], capture_output=True, text=True).stdout)
PY
grep -q 'Verified OK' "$T/sigcheck" || fail "the index does not verify: $(cat "$T/sigcheck")"
rm -f sig.bin signed.bin

# A package's own timeout: stopped after it.
sed -i 's/^  version: 1.0.0$/  version: 1.0.0\n  timeout: 1s/; s/standin-sleep: .*/standin-sleep: 5/' e.yaml
run 1 "$RIPPLE" build --arch x86_64 e
expect_out 'FAILED e x86_64 \(1\.[0-9]s\): timed out after 1s'

# On a terminal: one status line, rewritten in place ([done/total elapsed ETA]
# N running: ...; 0043 checks it in a real terminal).
if command -v script >/dev/null 2>&1; then
	printf '# v4\n' >> a.yaml
	sed -i 's/standin-sleep: .*/standin-sleep: 1.5/' a.yaml
	script -qec "'$RIPPLE' build --arch x86_64 a" /dev/null > "$T/tty.out" 2>&1 ||
		fail "build on a terminal: $(cat "$T/tty.out")"
	grep -q "$(printf '\r')\[0/1 1\.[0-9]s ETA [0-9.]*s\] 1 running: a x86_64 1\.[0-9]s$(printf '\033\[K')" "$T/tty.out" ||
		fail "no status line: $(od -c "$T/tty.out" | head -20)"
	grep -q '^start a' "$T/tty.out" && fail "plain lines on a terminal"
fi

# ---- usage errors and a missing runner: 2 -----------------------------------------------
run 2 "$RIPPLE" build -j 0
expect_err '-j wants a number'
run 2 "$RIPPLE" build --runner nosuch
expect_err "--runner: 'nosuch' is not a runner \\(auto, external, native\\)"
printf '# v3\n' >> e.yaml
run 2 env PATH=/usr/bin:/bin "$RIPPLE" build --runner external
expect_err 'melange is not on PATH'
run 0 "$RIPPLE" build --help
expect_out '^usage: ripple build'
run 2 "$RIPPLE" build --all --force --runner external --push 127.0.0.1:9/x
expect_err '^ripple: --push works with images that ripple assembles'

# ---- killed outright: a package is never recorded as built while its index lacks it ----------
# q has no dependents, so its index is written within a second or at the end;
# the run is killed (no chance to finish) right after q ends.  Whatever the
# timing, the next run must leave an index that lists every package the state
# says is built.
mkdir -p "$T/kill"
cd "$T/kill"
printf 'archs: [x86_64]\n' > .ripple.yaml
{ pkg q; } > q.yaml
{ pkg slowpkg; slow 3; } > slowpkg.yaml
: > "$STANDIN_DIR/events"
"$RIPPLE" build -j 2 > "$T/kill.out" 2>&1 &
pid=$!
i=0
until grep -q '^end q ' "$STANDIN_DIR/events" 2>/dev/null; do
	i=$((i + 1))
	[ $i -lt 500 ] || { kill -9 $pid; fail "q never ended: $(cat "$T/kill.out")"; }
	sleep 0.01
done
kill -9 $pid
wait $pid 2>/dev/null || true
run 0 "$RIPPLE" build -j 2
gzip -dc packages/x86_64/APKINDEX.tar.gz | tar -xOf - APKINDEX 2>/dev/null > "$T/kill.index"
for p in q q-dev slowpkg slowpkg-dev; do
	grep -qx "P:$p" "$T/kill.index" || fail "$p is built but not in the index: $(cat "$T/kill.index")"
done
run 0 "$RIPPLE" plan
expect_out '^nothing to do'
