#!/bin/sh
# Cold scan + parse + compile of a whole monorepo, against the anchor of
# plainly reading and sha256-hashing the same YAML files, in one run.
#
#   bench/parse.sh [MONOREPO]      (default: ../shared/corpus/wolfi-os)
#
# Prints the mean of each command and the ratio.  The budget (DESIGN.md) is
# a full parse of wolfi-os within 250 ms on the 2-core machine.
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
echo "monorepo: $repo ($files yaml files, $bytes bytes)"

hyperfine -N -w 3 -r "${RUNS:-20}" --export-json "$out/h.json" \
	-n "read+sha256 (anchor)" "sh -c 'cd $repo && find . -name \"*.yaml\" -not -path \"./.git/*\" -print0 | xargs -0 sha256sum >/dev/null'" \
	-n "ripple ls (parse+compile)" "$ripple ls -C $repo" >/dev/null

python3 - "$out/h.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["results"]
a, b = r[0], r[1]
print(f"{a['command']:28s} {a['mean']*1000:7.1f} ms ± {a['stddev']*1000:.1f}")
print(f"{b['command']:28s} {b['mean']*1000:7.1f} ms ± {b['stddev']*1000:.1f}  (user {b['user']*1000:.0f} ms, sys {b['system']*1000:.0f} ms)")
print(f"ratio ripple/anchor: {b['mean']/a['mean']:.2f}x   budget: 250 ms -> {'within' if b['mean'] <= 0.250 else 'OVER'}")
PY
