#!/bin/sh
# Planning on a real monorepo, against ninja in the same run.
#
#   bench/plan.sh [MONOREPO]       (default: ../shared/corpus/wolfi-os)
#
# The monorepo is copied into a temp dir and made a git repository.  The
# anchor is ninja's no-op on an equivalent build.ninja generated from
# ripple's own graph: one edge per recipe, its inputs being the recipe and
# the files of its source dir, its order-only deps the recipes it builds
# against (cycle-closing edges dropped, as ninja refuses cycles).
# Budgets (docs/benchmarks.md): warm no-op plan and build <= ninja's no-op,
# one-file-change plan <= 50 ms, cold first plan <= 400 ms, and
# `plan --since HEAD~1` after a one-recipe commit <= 50 ms.
set -eu
cd "$(dirname "$0")/.."
src=${1:-../shared/corpus/wolfi-os}
ripple=$(pwd)/${RIPPLE:-build/ripple}
[ -d "$src" ] || { echo "bench: no monorepo at $src" >&2; exit 77; }
[ -x "$ripple" ] || { echo "bench: build ripple first (cmake --build build)" >&2; exit 2; }
for t in hyperfine ninja git python3; do
	command -v $t >/dev/null || { echo "bench: $t is missing (scripts/setup)" >&2; exit 2; }
done

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
repo=$work/repo
cp -r "$src" "$repo"
chmod -R u+w "$repo"
arch=$(uname -m)
(cd "$repo" && git init -q && git add -A && git -c user.name=b -c user.email=b@b commit -qm import)
patchfile=$(cd "$repo" && ls -d */*.patch 2>/dev/null | head -1)
[ -n "$patchfile" ] || patchfile=$(cd "$repo" && ls *.yaml | head -1)

# The equivalent ninja build, from ripple's graph.
"$ripple" -C "$repo" graph --arch "$arch" --format json > "$work/graph.json"
"$ripple" -C "$repo" text --arch "$arch" -t name > "$work/order.txt"
python3 bench/ninja-gen.py "$work/graph.json" "$work/order.txt" "$repo" "$work/ninja"
ninja -C "$work/ninja" >/dev/null

"$ripple" -C "$repo" mark --all --arch "$arch" >/dev/null
sleep 1.1   # past the racy window of the files just written
"$ripple" -C "$repo" plan --arch "$arch" >/dev/null

hyperfine -N -w 3 -r "${RUNS:-20}" --export-json "$work/h.json" \
	-n "ninja no-op (anchor)" "ninja -C $work/ninja" \
	-n "ripple plan, warm no-op" "$ripple -C $repo plan --arch $arch" \
	-n "ripple build, warm no-op" "$ripple -C $repo build --arch $arch" >/dev/null
hyperfine -N -w 2 -r "${RUNS:-20}" --export-json "$work/h2.json" \
	--prepare "sh -c 'echo \"# \$RANDOM\" >> $repo/$patchfile'" \
	-n "ripple plan, one file changed" "$ripple -C $repo plan --arch $arch" >/dev/null
(cd "$repo" && git checkout -q -- "$patchfile")
hyperfine -N -w 1 -r "${RUNS_COLD:-5}" --export-json "$work/h3.json" \
	--prepare "rm -rf $repo/.ripple" \
	-n "ripple plan, cold (no state)" "$ripple -C $repo plan --arch $arch" >/dev/null
# The hook's case: a commit on top of the base touched one recipe (a step's
# script, say), and ripple plans what it changed.  Every run amends the
# commit with a new edit first, so every plan is the first after an edit.
recipe=$(cd "$repo" && ls *.yaml | sed -n 100p)
(cd "$repo" && echo '# bench' >> "$recipe" && git -c user.name=b -c user.email=b@b commit -qam bench &&
	git status --short >/dev/null)
"$ripple" -C "$repo" plan --since HEAD~1 --arch "$arch" >/dev/null
amend="sh -c 'echo \"# \$RANDOM\" >> $repo/$recipe && git -C $repo -c user.name=b -c user.email=b@b commit -qa --amend --no-edit'"
hyperfine -N -w 2 -r "${RUNS:-20}" --export-json "$work/h4.json" --prepare "$amend" \
	-n "git diff --name-only HEAD~1 (anchor)" "git -C $repo diff --name-only HEAD~1" \
	-n "ripple plan --since HEAD~1" "$ripple -C $repo plan --since HEAD~1 --arch $arch" >/dev/null

# How the last plan was made, for the record.
echo "# $(cd "$repo" && echo '# once more' >> "$recipe" && "$ripple" plan --since HEAD~1 --arch "$arch" --explain | head -1)"
python3 - "$work" "$patchfile" <<'PY'
import json, sys
w = sys.argv[1]
r = json.load(open(w + "/h.json"))["results"]
r2 = json.load(open(w + "/h2.json"))["results"][0]
r3 = json.load(open(w + "/h3.json"))["results"][0]
r4 = json.load(open(w + "/h4.json"))["results"]
ms = lambda x: x["mean"] * 1000
ninja, noops = r[0], r[1:]
print(f"{ninja['command']:34s} {ms(ninja):7.1f} ms ± {ninja['stddev']*1000:.1f}")
for noop in noops:
    print(f"{noop['command']:34s} {ms(noop):7.1f} ms ± {noop['stddev']*1000:.1f}  {noop['mean']/ninja['mean']:.2f}x ninja  budget <= ninja: {'within' if noop['mean'] <= ninja['mean'] else 'OVER'}")
print(f"{r2['command']:34s} {ms(r2):7.1f} ms ± {r2['stddev']*1000:.1f}  ({sys.argv[2]})  budget 50 ms: {'within' if ms(r2) <= 50 else 'OVER'}")
print(f"{r3['command']:34s} {ms(r3):7.1f} ms ± {r3['stddev']*1000:.1f}  budget 400 ms: {'within' if ms(r3) <= 400 else 'OVER'}")
g, c = r4
print(f"{g['command']:34s} {ms(g):7.1f} ms ± {g['stddev']*1000:.1f}")
print(f"{c['command']:34s} {ms(c):7.1f} ms ± {c['stddev']*1000:.1f}  {c['mean']/g['mean']:.1f}x git diff  budget 50 ms: {'within' if ms(c) <= 50 else 'OVER'}")
PY
