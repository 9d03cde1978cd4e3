#!/bin/sh
# `ripple build --all` of the Wolfi snapshot (a git copy in a temp dir) with
# a fast stand-in melange that copies pre-made apks into place and fails
# only gnulib, a member of the 408-package toolchain cycle.  Checked, from
# the --report and ripple's own graph (`graph --format json`, `cycles
# --json`): what is skipped is exactly what waits on gnulib, transitively,
# through the edges ripple waits on (not the cycle's back edges).  With no
# copy of gnulib anywhere, its forward waiters in the cycle (make, coreutils,
# sed, ...) are skipped with it, and so is most of the distro; with last
# night's gnulib in packages/, they build against it, and at least 3,000 of
# the 3,400 packages are built.  Takes about 2 minutes on the shared 2-core
# machine (4 under ASan), most of it the second build.
. "$(dirname "$0")/lib.sh"

corpus=$RPL_SHARED/corpus/wolfi-os
[ -d "$corpus" ] || skip "no corpus at $corpus"

cp -r "$corpus" "$T/repo"
chmod -R u+w "$T/repo"
cd "$T/repo"
git init -q
git add -A
git -c user.name=t -c user.email=t@t commit -qm import

# Every recipe's apks, made once: a control section with .PKGINFO and an
# empty data section, named as ripple expects them.
run 0 "$RIPPLE" ls --json --arch x86_64
python3 - "$T/out" "$T/apks" <<'PY'
import gzip, io, json, os, sys, tarfile
def member(entries):
    b = io.BytesIO()
    with tarfile.open(fileobj=b, mode="w", format=tarfile.GNU_FORMAT) as t:
        for name, data in entries:
            i = tarfile.TarInfo(name)
            i.size = len(data)
            i.mtime = 1700000000
            t.addfile(i, io.BytesIO(data))
    return gzip.compress(b.getvalue(), mtime=0)
empty = member([])
for r in json.load(open(sys.argv[1])):
    if r["kind"] != "package":
        continue
    d = os.path.join(sys.argv[2], os.path.basename(r["file"])[:-len(".yaml")])
    os.makedirs(d)
    ver = "%s-r%d" % (r["version"], r["epoch"])
    for p in [r["name"]] + r["subpackages"]:
        info = ("pkgname = %s\npkgver = %s\narch = x86_64\nsize = 1\norigin = %s\n"
                % (p, ver, r["name"])).encode()
        with open(os.path.join(d, "%s-%s.apk" % (p, ver)), "wb") as f:
            f.write(member([(".PKGINFO", info)]) + empty)
PY

# The stand-in: two processes per job (sh and cp).
mkdir -p "$T/bin"
cat > "$T/bin/melange" <<EOF
#!/bin/sh
# melange build FILE --arch A --out-dir D ...
file=\$2 arch= out=packages
shift 2
while [ \$# -gt 0 ]; do
	case \$1 in --arch) arch=\$2; shift ;; --out-dir) out=\$2; shift ;; esac
	shift
done
name=\${file##*/}
name=\${name%.yaml}
if [ "\$name" = gnulib ]; then
	echo "error: gnulib does not build tonight"
	exit 1
fi
[ -d "\$out/\$arch" ] || mkdir -p "\$out/\$arch"
exec cp "$T/apks/\$name/"*.apk "\$out/\$arch/"
EOF
chmod +x "$T/bin/melange"
PATH=$T/bin:$PATH
export PATH

run 0 "$RIPPLE" graph --arch x86_64 --format json
cp "$T/out" "$T/graph.json"
run 0 "$RIPPLE" cycles --arch x86_64 --json
cp "$T/out" "$T/cycles.json"

# check REPORT HELD MIN: the report's skipped jobs are exactly those that
# wait on gnulib, transitively, through edges that need the other job's
# success: not back edges, nor (when HELD) a cycle member's wait for gnulib,
# which the repository holds; gnulib failed, the rest built, at least MIN.
check() {
	python3 - "$1" "$T/graph.json" "$T/cycles.json" "$2" "$3" <<'PY'
import json, sys
report = json.load(open(sys.argv[1]))
g = json.load(open(sys.argv[2]))
cycles = json.load(open(sys.argv[3]))
held, least = sys.argv[4] == "1", int(sys.argv[5])
back = {(e["from"], e["to"]) for c in cycles for e in c["edges"] if e["back"]}
scc = {n["name"]: n["scc"] for n in g["nodes"] if n["kind"] == "package"}
needs = {}
for e in g["edges"]:
    a, b = e["from"], e["to"]
    if e["kind"] != "build" or e["to_kind"] != "package" or a == b or (a, b) in back:
        continue
    if held and b == "gnulib" and scc[a] == scc[b]:
        continue
    needs.setdefault(b, set()).add(a)
waits, todo = set(), ["gnulib"]
while todo:
    for a in needs.get(todo.pop(), ()):
        if a not in waits:
            waits.add(a)
            todo.append(a)
status = {j["name"]: j["status"] for j in report["jobs"]}
skipped = {n for n, s in status.items() if s == "skipped"}
ok = sum(s == "ok" for s in status.values())
print(f"{ok} built, 1 failed, {len(skipped)} skipped (expected {len(waits)})")
assert [n for n, s in status.items() if s == "failed"] == ["gnulib"]
assert skipped == waits, (sorted(skipped - waits)[:10], sorted(waits - skipped)[:10])
assert ok == len(status) - 1 - len(waits) and ok >= least, ok
PY
}

# ---- no copy of gnulib anywhere: its forward waiters go with it --------------------
run 1 "$RIPPLE" build --all -j 4 --arch x86_64 --report "$T/r1.json"
expect_out '^[0-9]+ skipped: [0-9]+ waiting on gnulib \(x86_64\) failed'
grep -q 'skipped make x86_64' "$T/out" && fail "skips listed one per line without -v"
check "$T/r1.json" 0 0 || fail "the build without a copy of gnulib"

# ---- last night's gnulib in packages/: the cycle builds against it -----------------
rm -rf .ripple packages
mkdir -p packages/x86_64
cp "$T/apks/gnulib/"*.apk packages/x86_64/
run 0 "$RIPPLE" index packages/x86_64
run 1 "$RIPPLE" build --all -j 4 --arch x86_64 --report "$T/r2.json"
expect_out '^done: [0-9]+ built, 1 failed, [0-9]+ skipped in '
check "$T/r2.json" 1 3000 || fail "the build with a copy of gnulib"
cp "$T/r2.json" "$T/out"
json_eq '[j["message"] for j in d["jobs"] if j["name"] == "make"]' \
	"[\"built against the repository's copy of gnulib (x86_64), which did not build\"]"
