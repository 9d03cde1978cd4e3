#!/bin/sh
# The Wolfi snapshot's graph: its cycles, and a build order in which every
# dependency between different components comes first.
. "$(dirname "$0")/lib.sh"

corpus=$RPL_SHARED/corpus/wolfi-os
[ -d "$corpus" ] || skip "no corpus at $corpus"

run 0 "$RIPPLE" cycles -C "$corpus" --arch x86_64 --json
json_eq '[len(c) for c in d]' '[408, 17]'
json_eq '"busybox" in d[0] and "gcc" in d[0] and "glibc-2.43" in d[0]' True
json_eq '"gtk-3" in d[1] and "gstreamer" in d[1]' True

run 0 "$RIPPLE" text -C "$corpus" --arch x86_64 -t name
cp "$T/out" "$T/order"
[ "$(wc -l < "$T/order")" -eq 3400 ] || fail "text lists $(wc -l < "$T/order") packages, expected 3400"
[ -z "$(sort "$T/order" | uniq -d)" ] || fail "text lists a package twice"

run 0 "$RIPPLE" graph -C "$corpus" --arch x86_64 --format json
python3 - "$T/out" "$T/order" <<'PY' || fail "build order violates a dependency"
import json, sys
g = json.load(open(sys.argv[1]))
pos = {name.strip(): i for i, name in enumerate(open(sys.argv[2]))}
scc = {(n["kind"], n["name"]): n["scc"] for n in g["nodes"]}
edges = [e for e in g["edges"] if e["kind"] == "build" and e["to_kind"] == "package"
         and scc[("package", e["from"])] != scc[("package", e["to"])]]
bad = [(e["from"], e["to"]) for e in edges if pos[e["to"]] > pos[e["from"]]]
checked = len(edges)

print(f"{checked} cross-component build edges checked, {len(bad)} out of order")
sys.exit(1 if bad else 0)
PY

# aarch64 resolves on its own: x86_64-only recipes are not in its graph.
run 0 "$RIPPLE" text -C "$corpus" --arch aarch64 -t name
[ "$(wc -l < "$T/out")" -eq 3397 ] || fail "aarch64 text lists $(wc -l < "$T/out"), expected 3397"
