#!/bin/sh
# Cycles at Wolfi's scale: back edges, the critical path and a failure's
# reach, before (members chained in the old greedy order) and after (each
# member waits for the earlier members it builds against, in the
# Eades-Lin-Smyth + sifting order), and the cost of `build --all -n`
# against `plan --all`.
#
#   bench/cycles.sh [MONOREPO]     (default: ../shared/corpus/wolfi-os; RUNS=10)
#   BASE=path/to/old/ripple bench/cycles.sh    also times an older binary
#
# The monorepo is copied into a temp dir and made a git repository.  The
# graph and the order come from ripple (`graph --format json`, `cycles
# --json`, `text`); the "before" order is the old greedy one (next: the
# member with the fewest dependencies on members not yet placed, ties by
# name), computed here.  Durations are the scheduler's estimates with no
# history: 30 s plus one per 100 bytes of recipe.
set -eu
cd "$(dirname "$0")/.."
src=${1:-../shared/corpus/wolfi-os}
ripple=$(pwd)/${RIPPLE:-build/ripple}
[ -d "$src" ] || { echo "bench: no monorepo at $src" >&2; exit 77; }
[ -x "$ripple" ] || { echo "bench: build ripple first (cmake --build build)" >&2; exit 2; }
for t in hyperfine git python3; do
	command -v $t >/dev/null || { echo "bench: $t is missing (scripts/setup)" >&2; exit 2; }
done

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
repo=$work/repo
cp -r "$src" "$repo"
chmod -R u+w "$repo"
arch=$(uname -m)
(cd "$repo" && git init -q && git add -A && git -c user.name=b -c user.email=b@b commit -qm import)

"$ripple" -C "$repo" graph --arch "$arch" --format json > "$work/graph.json"
"$ripple" -C "$repo" cycles --arch "$arch" --json > "$work/cycles.json"
"$ripple" -C "$repo" text --arch "$arch" -t name > "$work/order.txt"
"$ripple" -C "$repo" ls --arch "$arch" --json > "$work/ls.json"

python3 - "$work" "$repo" <<'PY'
import json, os, sys
work, repo = sys.argv[1], sys.argv[2]
g = json.load(open(os.path.join(work, "graph.json")))
cycles = json.load(open(os.path.join(work, "cycles.json")))
order = [l.strip() for l in open(os.path.join(work, "order.txt"))]
files = {r["name"]: r["file"] for r in json.load(open(os.path.join(work, "ls.json")))
         if r["kind"] == "package"}
est = {n: 30 + os.stat(os.path.join(repo, files[n])).st_size / 100 for n in order}
needs = [(e["from"], e["to"]) for e in g["edges"] if e["kind"] == "build"
         and e["from_kind"] == "package" and e["to_kind"] == "package" and e["from"] != e["to"]]
edges = set(needs)

def old_greedy(members):
    """The order before: fewest needs of members not yet placed, ties by name."""
    open_, users = {m: 0 for m in members}, {m: [] for m in members}
    for a, b in needs:
        if a in members and b in members:
            open_[a] += 1
            users[b].append(a)
    left, out = sorted(members), []
    while left:
        m = min(left, key=lambda x: (open_[x], x))
        out.append(m)
        left.remove(m)
        for u in users[m]:
            open_[u] -= 1
    return out

def back_edges(members, seq):
    pos = {m: i for i, m in enumerate(seq)}
    return sum(1 for a, b in edges if a in pos and b in pos and pos[b] > pos[a])

def critical(seq, chained, cycle_orders):
    """Longest chain of estimates; `seq` is the global order."""
    pos = {n: i for i, n in enumerate(seq)}
    waits = {n: set() for n in seq}
    for a, b in edges:
        if pos[b] < pos[a]:
            waits[a].add(b)
    if chained:
        for c in cycle_orders:
            for a, b in zip(c, c[1:]):
                waits[b].add(a)
    best, prev = {}, {}
    for n in seq:
        d = max(waits[n], key=lambda w: best[w], default=None)
        best[n] = est[n] + (best[d] if d else 0)
        prev[n] = d
    end = max(seq, key=lambda n: best[n])
    path = [end]
    while prev[path[-1]]:
        path.append(prev[path[-1]])
    return best[end], len(path), waits

def reach(waits, root, soft=lambda a, b: False):
    rd = {}
    for a, ws in waits.items():
        for b in ws:
            if not soft(a, b):
                rd.setdefault(b, set()).add(a)
    seen, todo = set(), [root]
    while todo:
        for a in rd.get(todo.pop(), ()):
            if a not in seen:
                seen.add(a)
                todo.append(a)
    return seen

after_orders = [c["members"] for c in cycles]
before_orders = [old_greedy(set(c)) for c in after_orders]
# The global order before: the same components, members in the old order.
before_seq, k = list(order), {}
for c_old, c_new in zip(before_orders, after_orders):
    slots = [i for i, n in enumerate(order) if n in set(c_new)]
    for i, n in zip(slots, c_old):
        before_seq[i] = n

print("cycle members  pairs  back edges before (old greedy)  after (ripple cycles)")
for c_old, c in zip(before_orders, cycles):
    m = set(c["members"])
    pairs = sum(1 for a, b in edges if a in m and b in m)
    mine = back_edges(m, c["members"])
    assert mine == c["back_edges"], (mine, c["back_edges"])
    print(f"{len(m):13d} {pairs:6d} {back_edges(m, c_old):33d} {c['back_edges']:21d}")

work_total = sum(est.values())
cb, nb, wb = critical(before_seq, True, before_orders)
cr, nr, wr = critical(before_seq, False, before_orders)
ca, na, wa = critical(order, False, after_orders)
h = lambda s: f"{s:8.0f} s ({s / 3600:4.1f} h)"
print(f"\nestimated work, {len(order)} packages: {h(work_total)}")
print(f"critical path before (chained, old order):   {h(cb)}, {nb} jobs")
print(f"critical path, real edges in the old order:  {h(cr)}, {nr} jobs")
print(f"critical path after (real edges, new order): {h(ca)}, {na} jobs")
for j in (8, 32):
    print(f"  lower bound on the makespan at -j {j}: before {h(max(cb, work_total / j))}, "
          f"after {h(max(ca, work_total / j))}")

if "gnulib" in est:
    core = {n for c in after_orders for n in c if "gnulib" in c}
    held = lambda a, b: b == "gnulib" and a in core
    print("\ngnulib fails: skipped before (chained) %d; after, no copy of it held %d; "
          "after, last night's copy held %d (of %d)"
          % (len(reach(wb, "gnulib")), len(reach(wa, "gnulib")),
             len(reach(wa, "gnulib", held)), len(order)))
PY

echo
runs=${RUNS:-10}
"$ripple" -C "$repo" plan --all --arch "$arch" >/dev/null   # the parse cache, warm
set -- -n "plan --all" "$ripple -C $repo plan --all --arch $arch" \
	-n "build --all -n" "$ripple -C $repo build --all -n --arch $arch"
if [ -n "${BASE:-}" ]; then
	set -- "$@" -n "build --all -n, $BASE" "$BASE -C $repo build --all -n --arch $arch"
fi
hyperfine -N -w 2 -r "$runs" --export-json "$work/h.json" "$@" >/dev/null
python3 - "$work/h.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["results"]
base = r[0]["mean"]
for x in r:
    print(f"{x['command']:40s} {x['mean'] * 1000:7.1f} ms ± {x['stddev'] * 1000:5.1f}"
          f"  ({x['mean'] / base:.2f}x plan --all)")
PY
