#!/bin/sh
# Cold scan + parse + compile of a whole monorepo (ripple ls), and the same
# plus the dependency graph and its order (ripple text), against the anchor
# of plainly reading and sha256-hashing the same YAML files, in one run.
#
#   bench/parse.sh [MONOREPO]      (default: ../shared/corpus/wolfi-os)
#
# Budgets (docs/benchmarks.md): the parse within 250 ms, parse + graph within
# 300 ms and 64 MB RSS on the 2-core machine.
set -eu
cd "$(dirname "$0")/.."
repo=${1:-../shared/corpus/wolfi-os}
ripple=${RIPPLE:-build/ripple}
[ -d "$repo" ] || { echo "bench: no monorepo at $repo" >&2; exit 77; }
[ -x "$ripple" ] || { echo "bench: build ripple first (cmake --build build)" >&2; exit 2; }
command -v hyperfine >/dev/null || { echo "bench: hyperfine is missing (scripts/setup)" >&2; exit 2; }

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
files=$(cd "$repo" && find . -name '*.yaml' -not -path './.git/*' | wc -l)
bytes=$(cd "$repo" && find . -name '*.yaml' -not -path './.git/*' -print0 | xargs -0 cat | wc -c)
echo "monorepo: $repo ($files yaml files, $bytes bytes), $(nproc) cores"

hyperfine -N -w 3 -r "${RUNS:-20}" --export-json "$out/h.json" \
	-n "read+sha256 (anchor)" "sh -c 'cd $repo && find . -name \"*.yaml\" -not -path \"./.git/*\" -print0 | xargs -0 sha256sum >/dev/null'" \
	-n "ripple ls (parse+compile)" "$ripple ls -C $repo" \
	-n "ripple text (parse+graph)" "$ripple text -C $repo" >/dev/null

rss() { /usr/bin/time -f %M "$@" 2>&1 >/dev/null | tail -1; }
ls_rss=$(rss "$ripple" ls -C "$repo")
text_rss=$(rss "$ripple" text -C "$repo")

python3 - "$out/h.json" "$ls_rss" "$text_rss" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["results"]
rss = [None, int(sys.argv[2]), int(sys.argv[3])]
budget = [None, 0.250, 0.300]
a = r[0]
for i, x in enumerate(r):
    line = f"{x['command']:28s} {x['mean']*1000:7.1f} ms ± {x['stddev']*1000:5.1f}"
    if i:
        line += f"  {x['mean']/a['mean']:4.2f}x anchor  RSS {rss[i]/1024:5.1f} MB"
        line += f"  budget {budget[i]*1000:.0f} ms: {'within' if x['mean'] <= budget[i] else 'OVER'}"
    print(line)
print(f"RSS budget for parse+graph: 64 MB: {'within' if rss[2] <= 64 * 1024 else 'OVER'}")
PY
