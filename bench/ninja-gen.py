#!/usr/bin/env python3
"""The ninja build equivalent to a monorepo's plan, the anchor of bench/.

    bench/ninja-gen.py GRAPH.json ORDER.txt REPO OUTDIR

GRAPH.json is `ripple graph --format json`, ORDER.txt `ripple text -t name`.
One edge per recipe: its inputs the recipe and the files of its source
directory, its order-only dependencies the recipes it builds against
(edges that close a cycle dropped, as ninja refuses cycles).  Writes
OUTDIR/build.ninja.
"""
import json, os, sys
g = json.load(open(sys.argv[1]))
order = [l.strip() for l in open(sys.argv[2])]
pos = {n: i for i, n in enumerate(order)}
repo, out = sys.argv[3], sys.argv[4]
deps = {n: set() for n in order}
for e in g["edges"]:
    if e["kind"] == "build" and e["from_kind"] == "package" and e["to_kind"] == "package":
        if pos[e["to"]] < pos[e["from"]]:          # drop cycle-closing edges
            deps[e["from"]].add(e["to"])
os.makedirs(out, exist_ok=True)
with open(os.path.join(out, "build.ninja"), "w") as f:
    f.write("rule stamp\n  command = touch $out\n\n")
    for n in order:
        ins = [os.path.join(repo, n + ".yaml")]
        d = os.path.join(repo, n)
        if os.path.isdir(d):
            for root, _, files in os.walk(d):
                ins += [os.path.join(root, x) for x in files]
        f.write("build %s.stamp: stamp %s" % (n, " ".join(i.replace(" ", "$ ") for i in ins)))
        if deps[n]:
            f.write(" || " + " ".join(d + ".stamp" for d in sorted(deps[n])))
        f.write("\n")
print(f"build.ninja: {len(order)} edges, {sum(len(v) for v in deps.values())} order-only deps")
