#!/bin/sh
# Watching a build from another terminal, the stand-in melange
# (tests/e2e/bin) holding every job until the test opens a gate.  While it
# runs, `ripple status` reports its run, its running jobs, done/total and an
# ETA from recorded durations; `plan`, `why`, `history`, `history RUN`,
# `report` and `graph` answer at once without waiting for it (readers of the
# state store take no lock); the writers `mark` and `build` with --no-wait
# exit 75 naming it.  After it: status says how it ended; a build killed
# outright is told from a running one; a monorepo without state gets
# answers and keeps no .ripple/.
. "$(dirname "$0")/lib.sh"

mkdir -p "$T/empty"
standin_repo
# a <- c; b, d alone.  Each job ends once $T/go exists.
gate() { printf '# standin-wait-for: %s\n' "$T/go"; }
for n in a b d; do { pkg $n; gate; } > $n.yaml; done
{ pkg c a; gate; } > c.yaml
git init -q
git add -A
git -c user.name=t -c user.email=t@t commit -qm init

# No state yet: answers, and nothing is made.
run 0 "$RIPPLE" status -C "$T/empty"
expect_out '^no build running$'
run 0 "$RIPPLE" history -C "$T/empty"
expect_out '\(none yet\)'
[ ! -e "$T/empty/.ripple" ] || fail "a reader made $T/empty/.ripple"
run 2 "$RIPPLE" history -C "$T/empty" 1
expect_err 'no run 1 in the state store'

# start_build ARGS...: a build in the background ($builder), its jobs held
# until `open_gate`; waits until `ripple status` sees two jobs running.
start_build() {
	rm -f "$T/go"
	"$RIPPLE" build --arch x86_64 -j 2 "$@" > "$T/build.out" 2>&1 &
	builder=$!
	i=0
	until "$RIPPLE" status > "$T/st" 2>&1 && grep -q '^running (2):' "$T/st"; do
		i=$((i + 1))
		[ $i -lt 100 ] || fail "status never showed the build: $(cat "$T/st" "$T/build.out")"
		sleep 0.1
	done
}

# open_gate: the jobs end, and the build after them.
open_gate() {
	kill -0 "$builder" 2>/dev/null || fail "the build ended before the gate: $(cat "$T/build.out")"
	: > "$T/go"
	wait "$builder" || fail "the build failed: $(cat "$T/build.out")"
}

# ---- while the first build runs -------------------------------------------------------
start_build
run 0 "$RIPPLE" status
expect_out "^run 1 \\(pid $builder\\): ripple build --arch x86_64 -j 2$"
expect_out '^\[[0-2]/4\] [0-2] built, 0 failed, 0 skipped; [0-9.]+s elapsed, ETA [0-9m.]+s \(-j 2\)$'
expect_out '^  (a|b|d) x86_64 +[0-9.]+s  \(expected [0-9.ms]+\)$'
run 0 "$RIPPLE" status --json
json_eq 'd["live"], d["run"], d["pid"], d["total"], len(d["running"]), d["state"]' \
	"True 1 $builder 4 2 running"
run 0 "$RIPPLE" plan
expect_out '^4 jobs \(4 packages, 0 images\) of 4:$'
[ ! -s "$T/err" ] || fail "plan said: $(cat "$T/err")"
run 0 "$RIPPLE" why c
expect_out 'rebuild: never built'
run 0 "$RIPPLE" history
expect_out '^  1 .* running .*ripple build --arch x86_64 -j 2$'
run 0 "$RIPPLE" history 1
expect_out '^run 1: running, started '
run 0 "$RIPPLE" report --html "$T/run1.html"
grep -q '</html>' "$T/run1.html" || fail "no report page"
run 0 "$RIPPLE" graph --format text
expect_out 'c'
run 75 "$RIPPLE" mark --no-wait
expect_err "another ripple \\(pid $builder\\) is using this monorepo's state"
run 75 "$RIPPLE" build --no-wait
expect_err "another ripple \\(pid $builder\\)"
open_gate
grep -q '^done: 4 built, 0 failed, 0 skipped' "$T/build.out" || fail "build: $(cat "$T/build.out")"

# ---- after it ---------------------------------------------------------------------------
run 0 "$RIPPLE" status
expect_out '^no build running; the last, run 1, ended ok: 4 built, 0 failed, 0 skipped of 4 \(ripple history 1\)$'
run 0 "$RIPPLE" status --json
json_eq 'd["live"], d["state"], d["done"]' "False ok 4"
run 0 "$RIPPLE" history 1
expect_out '^run 1: ok, started .*, took [0-9.]+s: ripple build --arch x86_64 -j 2$'
expect_out '^built \(4\):$'

# ---- the second build: its ETA comes from the first one's durations ---------------------
run 0 "$RIPPLE" history --json
cp "$T/out" "$T/h1.json"
start_build --force --all
run 0 "$RIPPLE" status --json
python3 - "$T/out" "$T/h1.json" <<'PY' || fail "ETA: $(cat "$T/out")"
import json, sys
d = json.load(open(sys.argv[1]))
last = {j["name"]: j["duration"] for j in json.load(open(sys.argv[2]))["slowest"]}
assert d["live"] and d["run"] == 2 and len(last) == 4, (d, last)
# Each running job is expected to take what it took last time.
assert all(abs(j["estimate"] - last[j["name"]]) < 0.01 for j in d["running"]), (d, last)
# Left: at least the longest of them less what it has run; at most all of
# the work on one lane, less what has run.
run = max(j["seconds"] for j in d["running"])
low = max(last[j["name"]] for j in d["running"]) - run - 0.5
high = sum(last.values()) - run + 0.5
assert low <= d["eta_seconds"] <= high, (low, d["eta_seconds"], high)
PY
open_gate

# ---- a build killed outright: its status file stays, and says "running" ----------------
# (its jobs, held at the gate, outlive it; the next build stops them).
start_build --force --all
kill -9 "$builder"
wait "$builder" 2>/dev/null || true
run 0 "$RIPPLE" status
expect_out '^no build running; run 3 \(pid [0-9]+\) stopped without finishing: killed\? \(ripple history 3\)$'
run 0 "$RIPPLE" status --json
json_eq 'd["live"], d["state"]' "False running"
run 0 "$RIPPLE" history 3
expect_out '^run 3: running, started .*\(no end recorded\)'
# The next build stops what the killed one left running and finishes what the
# forced run did not (orchestrator/forced.h); then there is nothing to do.
: > "$T/go"
run 0 "$RIPPLE" build --arch x86_64
expect_out '^done: 4 built, 0 failed, 0 skipped'
run 0 "$RIPPLE" build --arch x86_64
expect_out '^nothing to build'
run 2 "$RIPPLE" status extra
expect_err '^usage: ripple status'
run 0 "$RIPPLE" status --help
expect_out '^usage: ripple status'
