#!/bin/sh
# A dependency cycle of 12 packages built with the stand-in melange
# (tests/e2e/bin): core needs tool, m01..m09 need core, lib needs m03 and
# core, tool needs every m and lib-dev.  Checked: the bootstrap order and its
# one back edge (core->tool, met by the repository); members wait only for
# the earlier members they build against, so the ms run side by side up to
# -j (from the --events JSON lines); when m03 fails and no repository holds
# it, exactly the members that wait on it through forward edges (lib, tool)
# are skipped and the other 9 are built; when packages/ already holds m03,
# they build against that copy and say so.
. "$(dirname "$0")/lib.sh"

standin_repo
printf 'archs: [x86_64]\n' > .ripple.yaml
slow() { printf '# standin-sleep: 0.3\n'; }
ms="m01 m02 m03 m04 m05 m06 m07 m08 m09"
{ pkg core tool; slow; } > core.yaml
for m in $ms; do { pkg $m core; slow; } > $m.yaml; done
{ pkg lib m03 core; slow; } > lib.yaml
# shellcheck disable=SC2086
{ pkg tool $ms lib-dev; slow; } > tool.yaml
git init -q
git add -A
git -c user.name=t -c user.email=t@t commit -qm init

run 0 "$RIPPLE" cycles --json
cp "$T/out" "$T/cycles.json"
json_eq 'd[0]["members"]' "['core', 'm01', 'm02', 'm03', 'm04', 'm05', 'm06', 'm07', 'm08', 'm09', 'lib', 'tool']"
json_eq '[(e["from"], e["to"]) for e in d[0]["edges"] if e["back"]]' "[('core', 'tool')]"
json_eq 'd[0]["back_edges"]' 1

# check EVENTS REPORT JOBS FAILED: from the --events JSON lines, the most
# jobs that ran at once is JOBS; every job started after the earlier members
# it builds against ended (forward edges of `ripple cycles --json`), unless
# one of them failed; FAILED failed and what waits on it through forward
# edges, transitively, is exactly what was skipped when packages/ held no
# copy of it (SKIPS=1), or nothing was (SKIPS=0), every other job built.
check() {
	python3 - "$1" "$2" "$T/cycles.json" "$3" "$4" "$SKIPS" <<'PY'
import json, sys
events = [json.loads(l) for l in open(sys.argv[1])]
report = json.load(open(sys.argv[2]))
cycle = json.load(open(sys.argv[3]))[0]
jobs, failed, skips = int(sys.argv[4]), sys.argv[5], sys.argv[6] == "1"
start = {e["name"]: e["time"] for e in events if e["event"] == "start"}
end = {e["name"]: e["time"] for e in events if e["event"] in ("finish", "fail")}
marks = sorted([(t, 1) for t in start.values()] + [(t, -1) for t in end.values()])
now = most = 0
for _, d in marks:
    now += d
    most = max(most, now)
assert most == jobs, f"{most} jobs ran at once, expected {jobs}"
forward = [(e["from"], e["to"]) for e in cycle["edges"] if not e["back"]]
for a, b in forward:
    if a in start:
        assert start[a] >= end[b], f"{a} started before {b} ended"
waits = {failed}
while True:
    more = {a for a, b in forward if b in waits} - waits
    if not more:
        break
    waits |= more
status = {j["name"]: j["status"] for j in report["jobs"]}
want = {n: "failed" if n == failed else "skipped" if skips and n in waits else "ok"
        for n in cycle["members"]}
assert status == want, f"{status} != {want}"
print(f"{sum(v == 'ok' for v in status.values())} built, skipped {sorted(n for n in status if status[n] == 'skipped')}, at most {most} at once")
PY
}

# ---- m03 fails, and no repository holds it -----------------------------------------
printf '# standin-fail: m03 is broken\n' >> m03.yaml
run 1 "$RIPPLE" build -k -j 4 -v --events "$T/ev1.jsonl" --report "$T/r1.json"
expect_out '^done: 9 built, 1 failed, 2 skipped in '
expect_out '^2 skipped: 2 waiting on m03 \(x86_64\) failed$'
expect_out 'skipped lib x86_64: waiting on m03 \(x86_64\) failed'
expect_out 'skipped tool x86_64: waiting on m03 \(x86_64\) failed'
SKIPS=1 check "$T/ev1.jsonl" "$T/r1.json" 4 m03 || fail "the cycle's build (no copy held)"

# ---- m03 fixed: the rest builds -----------------------------------------------------
sed -i '/standin-fail/d' m03.yaml
run 0 "$RIPPLE" build -j 4
expect_out '^done: 3 built, 0 failed, 0 skipped in '

# ---- m03 fails again, but packages/ holds the last one: lib and tool build against it
printf '# standin-fail: m03 is broken\n' >> m03.yaml
run 1 "$RIPPLE" build --all --force -j 3 --events "$T/ev2.jsonl" --report "$T/r2.json"
expect_out '^done: 11 built, 1 failed, 0 skipped in '
SKIPS=0 check "$T/ev2.jsonl" "$T/r2.json" 3 m03 || fail "the cycle's build (a copy held)"
cp "$T/r2.json" "$T/out"
json_eq '[j.get("message") for j in d["jobs"] if j["name"] in ("lib", "tool")]' \
	"[\"built against the repository's copy of m03 (x86_64), which did not build\", \"built against the repository's copy of m03 (x86_64), which did not build\"]"
