#!/bin/sh
# Watching a build from another terminal, with the stand-in melange
# (tests/e2e/bin) dawdling: while it runs, `ripple status` reports its run,
# its running jobs, done/total and an ETA from recorded durations; `plan`,
# `why`, `history` and `history RUN` answer at once without waiting for it
# (readers of the state store take no lock); the writers `mark` and `build`
# with --no-wait exit 75 naming it.  After it: status says how it ended; a
# build killed outright is told from a running one; a monorepo without state
# gets answers and keeps no .ripple/.
. "$(dirname "$0")/lib.sh"

STANDIN_DIR=$T/standin
mkdir -p "$STANDIN_DIR" "$T/repo" "$T/empty"
export STANDIN_DIR
PATH=$RPL_SOURCE_DIR/tests/e2e/bin:$PATH
export PATH
cd "$T/repo"
# a <- c; b, d alone.  Each takes SLEEP seconds.
SLEEP=2.5
for n in a b d; do { pkg $n; printf '# standin-sleep: %s\n' $SLEEP; } > $n.yaml; done
{ pkg c a; printf '# standin-sleep: %s\n' $SLEEP; } > c.yaml
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

# start_build ARGS...: a build in the background ($builder), and waits until
# `ripple status` sees two jobs running.
start_build() {
	"$RIPPLE" build --arch x86_64 -j 2 "$@" > "$T/build.out" 2>&1 &
	builder=$!
	i=0
	until "$RIPPLE" status > "$T/st" 2>&1 && grep -q '^running (2):' "$T/st"; do
		i=$((i + 1))
		[ $i -lt 100 ] || fail "status never showed the build: $(cat "$T/st" "$T/build.out")"
		sleep 0.1
	done
}

# alive: the background build is still running (each answer came before its end).
alive() {
	kill -0 "$builder" 2>/dev/null || fail "the build ended before the check: $(cat "$T/build.out")"
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
run 75 "$RIPPLE" mark --no-wait
expect_err "another ripple \\(pid $builder\\) is using this monorepo's state"
run 75 "$RIPPLE" build --no-wait
expect_err "another ripple \\(pid $builder\\)"
alive
wait "$builder" || fail "the build failed: $(cat "$T/build.out")"
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
# 4 jobs of 2.5 s on 2 lanes, a <- c: 5 s at the start, less as it goes.
start_build --force --all
run 0 "$RIPPLE" status --json
python3 - "$T/out" "$SLEEP" <<'PY' || fail "ETA: $(cat "$T/out")"
import json, sys
d = json.load(open(sys.argv[1]))
s = float(sys.argv[2])
assert d["live"] and d["run"] == 2, d
# Two jobs run, each estimated at its last duration (about SLEEP).
assert all(abs(j["estimate"] - s) < 1.5 for j in d["running"]), d["running"]
# What is left is at most 2 x SLEEP of chain, at least what the running jobs still need.
assert 0 < d["eta_seconds"] <= 2 * s + 1, d["eta_seconds"]
PY
alive
wait "$builder" || fail "the second build failed: $(cat "$T/build.out")"

# ---- a build killed outright: its status file stays, and says "running" ----------------
start_build --force --all
kill -9 "$builder"
wait "$builder" 2>/dev/null || true
run 0 "$RIPPLE" status
expect_out '^no build running; run 3 \(pid [0-9]+\) stopped without finishing: killed\? \(ripple history 3\)$'
run 0 "$RIPPLE" status --json
json_eq 'd["live"], d["state"]' "False running"
run 0 "$RIPPLE" history 3
expect_out '^run 3: running, started .*\(no end recorded\)'
# The next build stops what the killed one left running, and finds nothing to do.
run 0 "$RIPPLE" build --arch x86_64
expect_out '^nothing to build'
run 2 "$RIPPLE" status extra
expect_err '^usage: ripple status'
run 0 "$RIPPLE" status --help
expect_out '^usage: ripple status'
