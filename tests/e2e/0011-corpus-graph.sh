#!/bin/sh
# The Wolfi snapshot's graph: its cycles, and a build order in which every
# dependency between different components comes first.
. "$(dirname "$0")/lib.sh"

corpus=$RPL_SHARED/corpus/wolfi-os
[ -d "$corpus" ] || skip "no corpus at $corpus"

run 0 "$RIPPLE" cycles -C "$corpus" --arch x86_64 --json
cp "$T/out" "$T/cycles"
json_eq '[len(c["members"]) for c in d]' '[408, 17]'
json_eq '"busybox" in d[0]["members"] and "gcc" in d[0]["members"] and "glibc-2.43" in d[0]["members"]' True
json_eq '"gtk-3" in d[1]["members"] and "gstreamer" in d[1]["members"]' True
# The order keeps back edges few: 143 of the core cycle's 4,816 pairs (the
# greedy order before Eades-Lin-Smyth and sifting left 1,556), 2 of 34.
json_eq '[(len(c["edges"]), c["back_edges"]) for c in d]' '[(4816, 143), (34, 2)]'
json_eq 'all(c["back_edges"] == sum(e["back"] for e in c["edges"]) for c in d)' True

run 0 "$RIPPLE" text -C "$corpus" --arch x86_64 -t name
cp "$T/out" "$T/order"
[ "$(wc -l < "$T/order")" -eq 3400 ] || fail "text lists $(wc -l < "$T/order") packages, expected 3400"
[ -z "$(sort "$T/order" | uniq -d)" ] || fail "text lists a package twice"

run 0 "$RIPPLE" graph -C "$corpus" --arch x86_64 --format json
python3 - "$T/out" "$T/order" "$T/cycles" <<'PY' || fail "build order violates a dependency"
import json, sys
g = json.load(open(sys.argv[1]))
pos = {name.strip(): i for i, name in enumerate(open(sys.argv[2]))}
back = {(e["from"], e["to"]) for c in json.load(open(sys.argv[3])) for e in c["edges"] if e["back"]}
scc = {(n["kind"], n["name"]): n["scc"] for n in g["nodes"]}
edges = [e for e in g["edges"] if e["kind"] == "build" and e["to_kind"] == "package"
         and e["from"] != e["to"]]
# Every build edge points to an earlier package, except exactly the back edges.
bad = [(e["from"], e["to"]) for e in edges
       if (pos[e["to"]] > pos[e["from"]]) != ((e["from"], e["to"]) in back)]
inside = [e for e in edges if scc[("package", e["from"])] == scc[("package", e["to"])]]
print(f"{len(edges)} build edges checked ({len(inside)} inside cycles), {len(bad)} out of order")
sys.exit(1 if bad else 0)
PY

# aarch64 resolves on its own: x86_64-only recipes are not in its graph.
run 0 "$RIPPLE" text -C "$corpus" --arch aarch64 -t name
[ "$(wc -l < "$T/out")" -eq 3397 ] || fail "aarch64 text lists $(wc -l < "$T/out"), expected 3397"
