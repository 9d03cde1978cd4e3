#!/bin/sh
# ripple plan/why/mark on a small monorepo made into a git repository: what
# a change to a patch, a repo pipeline, an env file or a dependency selects,
# with reasons; the state store (mark, staleness) and git (--changed,
# --since) agree; a fresh clone needs no state.
. "$(dirname "$0")/lib.sh"

mkdir -p "$T/repo/pipelines/local" "$T/repo/zlib"
cd "$T/repo"
cat > .ripple.yaml <<'EOY'
archs: [x86_64, aarch64]
EOY
pkg zlib > zlib.yaml
echo 'fix' > zlib/fix.patch
pkg openssl zlib-dev > openssl.yaml
pkg curl openssl-dev > curl.yaml
{ pkg tool; printf '  - uses: local/helper\n'; } > tool.yaml
cat > pipelines/local/helper.yaml <<'EOY'
pipeline:
  - runs: echo helping
EOY
cat > web.apko.yaml <<'EOY'
contents:
  packages:
    - curl
EOY
cat > base.apko.yaml <<'EOY'
contents:
  packages:
    - zlib
EOY
echo 'CFLAGS=-O2' > build-x86_64.env
git init -q
git add -A
git -c user.name=t -c user.email=t@t commit -qm init
echo 'a monorepo' > README
git add README
git -c user.name=t -c user.email=t@t commit -qm readme

jobs() { python3 -c "import json; print(' '.join(j['name'] + '/' + j['arch'] for j in json.load(open('$T/out'))['jobs']))"; }

# A fresh repo: everything is new to the state store.
run 0 "$RIPPLE" plan --json
json_eq 'len(d["jobs"])' 12
json_eq 'set(j["reasons"][0] for j in d["jobs"])' "{'never built'}"
[ -f .ripple/state.db ] || fail "no state database"
[ -z "$(git status --porcelain)" ] || fail "ripple's state shows in git status: $(git status --porcelain)"

run 0 "$RIPPLE" mark --all
expect_out '^recorded 12 jobs as built$'
run 0 "$RIPPLE" plan
expect_out '^nothing to do: 12 jobs up to date$'
run 0 "$RIPPLE" plan --changed --json
json_eq 'd["jobs"]' '[]'

# A patch in zlib/: zlib for both archs and the images that contain it.
echo 'fix 2' > zlib/fix.patch
run 0 "$RIPPLE" plan --json
[ "$(jobs)" = "zlib/x86_64 zlib/aarch64 base/x86_64 base/aarch64" ] || fail "patch: $(jobs)"
json_eq 'd["jobs"][0]["reasons"]' "['zlib/fix.patch changed']"
json_eq 'd["jobs"][2]["reasons"]' "['contains zlib (rebuilt)']"
cp "$T/out" "$T/warm.json"
run 0 "$RIPPLE" plan --since HEAD --json
cmp -s "$T/out" "$T/warm.json" || python3 -c "
import json
a=json.load(open('$T/out'))['jobs']; b=json.load(open('$T/warm.json'))['jobs']
assert a == b, (a, b)"

# --rebuild-dependents: openssl and curl follow, and the web image.
run 0 "$RIPPLE" plan --rebuild-dependents --json
[ "$(jobs)" = "zlib/x86_64 zlib/aarch64 base/x86_64 base/aarch64 openssl/x86_64 openssl/aarch64 curl/x86_64 curl/aarch64 web/x86_64 web/aarch64" ] ||
	fail "dependents: $(jobs)"
json_eq '[j["reasons"] for j in d["jobs"] if j["name"] == "curl"][0]' "['depends on openssl (rebuilt)']"

# A fresh clone of the committed change gives the same answer from git alone.
git -c user.name=t -c user.email=t@t commit -qam 'patch zlib'
git clone -q "$T/repo" "$T/clone"
run 0 "$RIPPLE" -C "$T/clone" plan --since HEAD~1 --json
cp "$T/out" "$T/clone.json"
run 0 "$RIPPLE" plan --json
python3 -c "
import json
a=json.load(open('$T/clone.json'))['jobs']; b=json.load(open('$T/out'))['jobs']
assert a == b, (a, b)" || fail "fresh clone --since and warm state disagree"
[ ! -e "$T/clone/.ripple/state.db" ] || true
# In the clone, --changed compares with the upstream branch: nothing yet.
run 0 "$RIPPLE" -C "$T/clone" plan --changed --json
json_eq 'd["jobs"]' '[]'
json_eq 'd["base"].startswith("origin/")' True
echo 'fix 4' > "$T/clone/zlib/fix.patch"
run 0 "$RIPPLE" -C "$T/clone" plan --changed --json
[ "$(jobs)" = "zlib/x86_64 zlib/aarch64 base/x86_64 base/aarch64" ] || fail "clone --changed: $(jobs)"
run 0 "$RIPPLE" mark zlib base
expect_out '^recorded 4 jobs as built$'

# A repo pipeline: exactly the recipes that reach it.
echo '  - runs: echo more' >> pipelines/local/helper.yaml
run 0 "$RIPPLE" plan --json
[ "$(jobs)" = "tool/x86_64 tool/aarch64" ] || fail "pipeline: $(jobs)"
json_eq 'd["jobs"][0]["reasons"]' "['pipelines/local/helper.yaml changed']"
# --changed goes back to HEAD~1 here (no upstream): the zlib commit too, but
# zlib and base are marked built from it: up to date, they are left out.
run 0 "$RIPPLE" plan --changed --json
[ "$(jobs)" = "tool/x86_64 tool/aarch64" ] || fail "pipeline --changed: $(jobs)"
run 0 "$RIPPLE" plan --changed
expect_out '^4 more selected jobs are up to date \(--force rebuilds them\)$'
run 0 "$RIPPLE" plan --changed --force --json
[ "$(jobs)" = "tool/x86_64 tool/aarch64 zlib/x86_64 zlib/aarch64 base/x86_64 base/aarch64" ] ||
	fail "pipeline --changed --force: $(jobs)"
run 0 "$RIPPLE" plan --since HEAD --json
[ "$(jobs)" = "tool/x86_64 tool/aarch64" ] || fail "pipeline --since HEAD: $(jobs)"
run 0 "$RIPPLE" mark tool

# An env file: every recipe of that arch, and images follow.
echo 'CFLAGS=-O3' > build-x86_64.env
run 0 "$RIPPLE" plan --json
[ "$(jobs)" = "curl/x86_64 openssl/x86_64 tool/x86_64 zlib/x86_64 base/x86_64 web/x86_64" ] ||
	[ "$(jobs)" = "zlib/x86_64 openssl/x86_64 curl/x86_64 tool/x86_64 base/x86_64 web/x86_64" ] ||
	python3 -c "
import json
j=json.load(open('$T/out'))['jobs']
assert sorted(x['name'] for x in j) == ['base','curl','openssl','tool','web','zlib'], j
assert all(x['arch'] == 'x86_64' for x in j), j" || fail "env file: $(jobs)"
json_eq '[j["reasons"] for j in d["jobs"] if j["name"] == "zlib"][0]' "['build-x86_64.env changed']"
echo 'CFLAGS=-O2' > build-x86_64.env
run 0 "$RIPPLE" plan
expect_out '^nothing to do: 12 jobs up to date$'

# why, for a job that is up to date and one that is not.
run 0 "$RIPPLE" why zlib --arch x86_64
expect_out '^zlib x86_64 \(package 1.0.0-r0\)$'
expect_out 'up to date'
expect_out '^    zlib/fix.patch$'
echo 'fix 3' > zlib/fix.patch
run 0 "$RIPPLE" why zlib-dev
expect_out 'rebuild: zlib/fix.patch changed'
run 2 "$RIPPLE" why nosuch
expect_err "no package or image named 'nosuch'"
run 2 "$RIPPLE" plan nosuch
expect_err "no package or image named 'nosuch'"

# A deleted recipe is reported, not silently forgotten.
git rm -q tool.yaml
run 0 "$RIPPLE" plan --changed
expect_out '^deleted: tool.yaml'

# Two ripples: a writer (mark) waits, or with --no-wait says who holds the lock
# and exits 75; plan and why never wait, they read.
python3 -c "
import fcntl, os, time
fd = os.open('.ripple/lock', os.O_RDWR)
fcntl.flock(fd, fcntl.LOCK_EX)
os.ftruncate(fd, 0); os.write(fd, b'4242\n')
open('$T/locked', 'w').close()
time.sleep(3)
" &
holder=$!
while [ ! -e "$T/locked" ]; do sleep 0.1; done
run 75 "$RIPPLE" mark --no-wait
expect_err 'another ripple \(pid 4242\)'
run 0 "$RIPPLE" plan --no-wait
expect_out 'zlib'
run 0 "$RIPPLE" why zlib
expect_out 'rebuild:'
grep -q waiting "$T/err" && fail "why waited: $(cat "$T/err")"
run 2 "$RIPPLE" mark nosuch
expect_err 'waiting for ripple pid 4242'
wait $holder

run 2 "$RIPPLE" plan --all zlib
expect_err 'choose one of'
run 2 "$RIPPLE" plan --since no-such-ref
expect_err "unknown revision 'no-such-ref'"
run 0 "$RIPPLE" plan --help
expect_out '^usage: ripple plan'
