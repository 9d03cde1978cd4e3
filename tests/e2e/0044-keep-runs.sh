#!/bin/sh
# Old runs forgotten: with the stand-in melange, a monorepo of two packages
# is built five times.  Each build keeps the newest --keep-runs (or
# .ripple.yaml keep-runs:) runs and their logs and forgets the rest, rows and
# log directories, except the log of a job's last build (b's, from the first
# run); 0 keeps every run; a bad count
# is an error naming where it is.
. "$(dirname "$0")/lib.sh"

standin_repo
pkg a > a.yaml
pkg b > b.yaml
git init -q
git add -A
git -c user.name=t -c user.email=t@t commit -qm init
arch=$(uname -m)
[ "$arch" = arm64 ] && arch=aarch64

runs() { "$RIPPLE" history --json | python3 -c 'import json,sys; print(" ".join(str(r["id"]) for r in json.load(sys.stdin)["runs"]))'; }
edit_a() { echo "# $1" >> a.yaml; }

run 0 "$RIPPLE" build --keep-runs 2
[ -f .ripple/logs/1/$arch/a.log ] && [ -f .ripple/logs/1/$arch/b.log ] || fail "run 1 left no logs"
edit_a 2
run 0 "$RIPPLE" build --keep-runs 2
if grep -q forgot "$T/out"; then fail "two runs kept of two: nothing to forget"; fi
edit_a 3
run 0 "$RIPPLE" build --keep-runs 2
expect_out '^forgot 1 run older than the newest 2 \(keep-runs\) and 1 log file \('
[ "$(runs)" = "3 2" ] || fail "runs kept: $(runs), expected 3 2"
# a's log of run 1 is gone; b was last built in run 1: its log stays.
[ ! -e .ripple/logs/1/$arch/a.log ] || fail "a's log of the forgotten run is still there"
[ -f .ripple/logs/1/$arch/b.log ] || fail "b's last log was removed"
run 2 "$RIPPLE" history 1
expect_err 'no run 1'

# .ripple.yaml's keep-runs, and 0: every run.
printf 'keep-runs: 1\n' > .ripple.yaml
edit_a 4
run 0 "$RIPPLE" build
expect_out '^forgot 2 runs older than the newest 1 '
[ "$(runs)" = "4" ] || fail "runs kept: $(runs), expected 4"
[ ! -d .ripple/logs/2 ] && [ ! -d .ripple/logs/3 ] || fail "forgotten runs' logs left"
edit_a 5
run 0 "$RIPPLE" build --keep-runs 0
[ "$(runs)" = "5 4" ] || fail "--keep-runs 0 forgot runs: $(runs)"

# Bad counts.
run 2 "$RIPPLE" build --keep-runs -1
expect_err -- '--keep-runs wants a number of at least 0'
printf 'keep-runs: many\n' > .ripple.yaml
edit_a 6
run 2 "$RIPPLE" build
expect_err "^ripple: \.ripple\.yaml:1:12: keep-runs: 'many' is not a number of runs"
echo ok
