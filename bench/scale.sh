#!/bin/sh
# Planning as the monorepo grows: 1x, 4x and 16x the Wolfi snapshot.
#
#   bench/scale.sh [SRC]     (default ../shared/corpus/wolfi-os; SIZES="1 4 16",
#                             RUNS=5, SCALE_JOBS=50000, SCALE_JOBS=0 skips it)
#
# Each size is made by bench/scale-gen.py in a temp dir (copies of every
# recipe with renamed packages and dependencies: the same graph shape, N
# times) and made a git repository.  Measured at each size, each against
# an anchor in the same run:
#   warm no-op plan and build         vs ninja's no-op on the equivalent build.ninja
#   plan --changed, nothing changed   vs git status
#   plan after one patch edited       (budget 100 ms at 16x, 50 ms at 1x)
#   plan --since HEAD~1 after a one-recipe commit  vs git diff --name-only HEAD~1
#   cold first plan                   (and its RSS; budget 300 MB at 16x, 64 MB at 1x)
# with the peak RSS of one run of each, and at the end the growth of every
# figure from the smallest size to the largest.  Then the scheduler:
# bench/build.sh with SCALE_JOBS trivial jobs against ninja (budget 0.9x).
set -eu
cd "$(dirname "$0")/.."
src=${1:-../shared/corpus/wolfi-os}
ripple=$(pwd)/${RIPPLE:-build/ripple}
sizes=${SIZES:-1 4 16}
runs=${RUNS:-5}
[ -d "$src" ] || { echo "bench: no monorepo at $src" >&2; exit 77; }
[ -x "$ripple" ] || { echo "bench: build ripple first (cmake --build build)" >&2; exit 2; }
for t in hyperfine ninja git python3; do
	command -v $t >/dev/null || { echo "bench: $t is missing (scripts/setup)" >&2; exit 2; }
done
arch=$(uname -m)
case $arch in arm64) arch=aarch64 ;; esac

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
git_() { git -C "$repo" -c user.name=b -c user.email=b@b "$@"; }

# rss CMD...: "MS MB", the wall time and peak RSS of one run of CMD.
rss() {
	python3 -c '
import os, subprocess, sys, time
t = time.monotonic()
p = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL)
_, status, ru = os.wait4(p.pid, 0)
print("%.0f %.0f" % ((time.monotonic() - t) * 1000, ru.ru_maxrss / 1024))
' "$@"
}

"$ripple" -C "$src" ls --json >"$work/names.json" 2>/dev/null || true
for k in $sizes; do
	repo=$work/x$k
	echo "== ${k}x"
	python3 bench/scale-gen.py "$src" "$repo" "$k" "$work/names.json"
	chmod -R u+w "$repo"
	# The copies' source dirs are hard links of the original's: the patch
	# that is edited must be a file of its own, or "one patch edited"
	# would edit it in every copy.
	patchfile=$(cd "$repo" && ls -d */*.patch | head -1)
	cp "$repo/$patchfile" "$repo/$patchfile.own"
	mv "$repo/$patchfile.own" "$repo/$patchfile"
	git -C "$repo" init -q
	git_ add -A
	git_ commit -qm import
	# An upstream at HEAD, as on a branch just pulled: --changed compares
	# with their merge-base, HEAD itself, so nothing changed is nothing.
	# (Without it the base of a first commit is the empty tree: every file.)
	git_ branch -q bench-upstream
	git_ branch -q --set-upstream-to=bench-upstream
	"$ripple" -C "$repo" graph --arch "$arch" --format json >"$work/graph.json" 2>/dev/null
	"$ripple" -C "$repo" text --arch "$arch" -t name >"$work/order.txt" 2>/dev/null
	python3 bench/ninja-gen.py "$work/graph.json" "$work/order.txt" "$repo" "$work/ninja$k"
	ninja -C "$work/ninja$k" >/dev/null
	recipe=$(cd "$repo" && ls *.yaml | sed -n 100p)
	out=$work/r$k
	mkdir -p "$out"

	# Cold: no state at all.
	rss "$ripple" -C "$repo" plan --arch "$arch" >"$out/cold.rss"
	hyperfine -N -w 0 -r "${RUNS_COLD:-3}" --export-json "$out/cold.json" \
		--prepare "rm -rf $repo/.ripple" \
		-n "cold first plan" "$ripple -C $repo plan --arch $arch" >/dev/null

	"$ripple" -C "$repo" mark --all --arch "$arch" >/dev/null
	sleep 1.1 # past the racy window of the files just written
	"$ripple" -C "$repo" plan --arch "$arch" >/dev/null
	"$ripple" -C "$repo" plan --changed --arch "$arch" >/dev/null
	git -C "$repo" status --short >/dev/null
	hyperfine -N -w 2 -r "$runs" --export-json "$out/noop.json" \
		-n "ninja no-op" "ninja -C $work/ninja$k" \
		-n "warm no-op plan" "$ripple -C $repo plan --arch $arch" \
		-n "warm no-op build" "$ripple -C $repo build --arch $arch" \
		-n "git status" "git -C $repo status --short" \
		-n "plan --changed, nothing changed" "$ripple -C $repo plan --changed --arch $arch" >/dev/null
	rss "$ripple" -C "$repo" plan --changed --arch "$arch" >"$out/changed.rss"

	hyperfine -N -w 1 -r "$runs" --export-json "$out/patch.json" \
		--prepare "sh -c 'echo \"# \$RANDOM\" >> $repo/$patchfile'" \
		-n "plan after one patch edited" "$ripple -C $repo plan --arch $arch" >/dev/null
	echo "# once more" >>"$repo/$patchfile"
	rss "$ripple" -C "$repo" plan --arch "$arch" >"$out/patch.rss"
	git -C "$repo" checkout -q -- "$patchfile"
	"$ripple" -C "$repo" plan --arch "$arch" >/dev/null

	echo '# bench' >>"$repo/$recipe"
	git_ commit -qam bench
	"$ripple" -C "$repo" plan --since HEAD~1 --arch "$arch" >/dev/null
	amend="sh -c 'echo \"# \$RANDOM\" >> $repo/$recipe && git -C $repo -c user.name=b -c user.email=b@b commit -qa --amend --no-edit'"
	hyperfine -N -w 1 -r "$runs" --export-json "$out/since.json" --prepare "$amend" \
		-n "git diff --name-only HEAD~1" "git -C $repo diff --name-only HEAD~1" \
		-n "plan --since HEAD~1" "$ripple -C $repo plan --since HEAD~1 --arch $arch" >/dev/null
	sh -c "$amend"
	rss "$ripple" -C "$repo" plan --since HEAD~1 --arch "$arch" >"$out/since.rss"
	rm -rf "$repo" "$work/ninja$k"
done

python3 - "$work" $sizes <<'PY'
import json, sys
w, sizes = sys.argv[1], sys.argv[2:]
def load(k, name):
    return {r["command"]: r["mean"] * 1000 for r in json.load(open(f"{w}/r{k}/{name}.json"))["results"]}
def rss(k, name):
    ms, mb = open(f"{w}/r{k}/{name}.rss").read().split()
    return float(mb)
rows = {}
for k in sizes:
    n, p, s, c = load(k, "noop"), load(k, "patch"), load(k, "since"), load(k, "cold")
    rows[k] = {
        "ninja no-op (anchor)": (n["ninja no-op"], None, None),
        "warm no-op plan": (n["warm no-op plan"], n["ninja no-op"], None),
        "warm no-op build": (n["warm no-op build"], n["ninja no-op"], None),
        "git status (anchor)": (n["git status"], None, None),
        "plan --changed, nothing changed": (n["plan --changed, nothing changed"], n["git status"], rss(k, "changed")),
        "plan after one patch edited": (p["plan after one patch edited"], None, rss(k, "patch")),
        "git diff --name-only (anchor)": (s["git diff --name-only HEAD~1"], None, None),
        "plan --since HEAD~1, one recipe": (s["plan --since HEAD~1"], s["git diff --name-only HEAD~1"], rss(k, "since")),
        "cold first plan": (c["cold first plan"], None, rss(k, "cold")),
    }
    print(f"\n{k}x: mean time, against its anchor, peak RSS of one run")
    for name, (ms, anchor, mb) in rows[k].items():
        ratio = f"{ms / anchor:5.2f}x anchor" if anchor else " " * 13
        mem = f"{mb:6.0f} MB" if mb else ""
        print(f"  {name:34s} {ms:8.1f} ms  {ratio}  {mem}")
lo, hi = sizes[0], sizes[-1]
if lo != hi:
    print(f"\ngrowth from {lo}x to {hi}x (time, RSS)")
    for name in rows[lo]:
        a, b = rows[lo][name], rows[hi][name]
        mem = f"{b[2] / a[2]:5.1f}x RSS" if a[2] and b[2] else ""
        print(f"  {name:34s} {b[0] / a[0]:5.1f}x time  {mem}")
PY

jobs=${SCALE_JOBS:-50000}
if [ "$jobs" != 0 ]; then
	echo "== the scheduler, $jobs trivial jobs"
	RUNS=${RUNS_BUILD:-1} bench/build.sh "$jobs"
fi
