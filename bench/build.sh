#!/bin/sh
# The build scheduler against ninja, in the same run.
#
#   bench/build.sh [N]        (default 10000 jobs; RUNS=3)
#
# Throughput: a synthetic monorepo of N trivial packages, each built by a
# stand-in `melange` that copies a real (pre-made) apk into place, so that
# ripple does all its own per-job work: start the runner, check the apk
# appeared, merge it into packages/<arch>/APKINDEX.tar.gz, record the job.
# The anchor is ninja running the same N stand-in commands, whose outputs
# are the apks (-j 2 both).  Budget (docs/benchmarks.md): ripple's throughput >= 0.9x
# ninja's.
#
# Makespan: a random DAG of 60 jobs whose stand-ins sleep 0.05-0.4 s, -j 2.
# No schedule beats max(critical path, total work / jobs); budget: ripple's
# makespan <= 1.05x that bound.
set -eu
cd "$(dirname "$0")/.."
n=${1:-10000}
ripple=$(pwd)/${RIPPLE:-build/ripple}
[ -x "$ripple" ] || { echo "bench: build ripple first (cmake --build build)" >&2; exit 2; }
for t in hyperfine ninja python3; do
	command -v $t >/dev/null || { echo "bench: $t is missing (scripts/setup)" >&2; exit 2; }
done
arch=$(uname -m)
case $arch in arm64) arch=aarch64 ;; esac

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/repo" "$work/dag" "$work/apks" "$work/bin" "$work/ninja/packages/$arch"

# The stand-in melange: the recipe's pre-made apk, copied into place, after
# the sleep a `# sleep: S` line of the recipe asks for (only when
# STANDIN_SLEEP is set: reading the recipe costs a process).
cat > "$work/bin/melange" <<EOF
#!/bin/sh
# melange build FILE --arch A --out-dir D ...
file=\$2 arch= out=packages
shift 2
while [ \$# -gt 0 ]; do
	case \$1 in --arch) arch=\$2; shift ;; --out-dir) out=\$2; shift ;; esac
	shift
done
[ -z "\${STANDIN_SLEEP:-}" ] || sleep \$(sed -n 's/^  # sleep: //p' "\$file")
name=\${file##*/}
[ -d "\$out/\$arch" ] || mkdir -p "\$out/\$arch"
exec cp "$work/apks/\${name%.yaml}-1.0-r0.apk" "\$out/\$arch/"
EOF
chmod +x "$work/bin/melange"

# The recipes (N trivial ones, and the 60 of the DAG with their sleeps and
# dependencies), an apk for each (a control section with .PKGINFO and an
# empty data section), the ninja file, and the DAG's bound.
python3 - "$n" "$work" "$arch" <<'PY' > "$work/bound"
import gzip, io, os, random, sys, tarfile
n, work, arch = int(sys.argv[1]), sys.argv[2], sys.argv[3]

def member(entries):
    b = io.BytesIO()
    with tarfile.open(fileobj=b, mode="w", format=tarfile.GNU_FORMAT) as t:
        for name, data in entries:
            i = tarfile.TarInfo(name)
            i.size = len(data)
            i.mtime = 1700000000
            t.addfile(i, io.BytesIO(data))
    return gzip.compress(b.getvalue(), mtime=0)

def package(d, name, extra=""):
    with open(os.path.join(work, d, name + ".yaml"), "w") as f:
        f.write("package:\n  name: %s\n  version: \"1.0\"\n  epoch: 0\n  description: bench\n%s"
                "pipeline:\n  - runs: \"true\"\n" % (name, extra))
    info = ("pkgname = %s\npkgver = 1.0-r0\narch = %s\nsize = 0\norigin = %s\n"
            "pkgdesc = bench\nbuilddate = 1700000000\nlicense = MIT\n" % (name, arch, name)).encode()
    with open(os.path.join(work, "apks", name + "-1.0-r0.apk"), "wb") as f:
        f.write(member([(".PKGINFO", info)]) + member([]))

ninja = ["rule standin\n  command = %s/bin/melange build %s/repo/$name.yaml --arch %s --out-dir packages\n\n"
         % (work, work, arch)]
for i in range(n):
    name = "p%05d" % i
    package("repo", name)
    ninja.append("build packages/%s/%s-1.0-r0.apk: standin\n  name = %s\n" % (arch, name, name))
with open(os.path.join(work, "ninja", "build.ninja"), "w") as f:
    f.writelines(ninja)

random.seed(7)
m, jobs = 60, 2
dur = [round(random.uniform(0.05, 0.4), 2) for _ in range(m)]
deps = [sorted(random.sample(range(i), min(i, random.randint(0, 3)))) for i in range(m)]
finish = []
for i in range(m):
    extra = "  # sleep: %s\n" % dur[i]
    if deps[i]:
        extra += "environment:\n  contents:\n    packages:\n" + "".join("      - d%02d\n" % j for j in deps[i])
    package("dag", "d%02d" % i, extra)
    finish.append(dur[i] + max([finish[j] for j in deps[i]], default=0))
print("%.3f %.3f" % (max(finish), sum(dur) / jobs))
PY

export PATH="$work/bin:$PATH"
"$ripple" -C "$work/repo" build --all --runner external -j 2 >/dev/null # state and snapshot warm
# ripple's peak RSS (the last run's), when GNU time is there.
rss=
[ ! -x /usr/bin/time ] || rss="/usr/bin/time -f %M -o $work/rss"
hyperfine -N -w 1 -r "${RUNS:-3}" --export-json "$work/h.json" \
	--prepare "sh -c 'rm -rf $work/ninja/.ninja_log $work/ninja/packages/$arch && mkdir $work/ninja/packages/$arch'" \
	-n "ninja -j2, $n stand-in commands (anchor)" "ninja -C $work/ninja -j 2" \
	--prepare "sh -c 'rm -rf $work/repo/packages'" \
	-n "ripple build --all --force -j2, $n jobs" \
	"$rss $ripple -C $work/repo build --all --force --runner external -j 2" >/dev/null

# The DAG: a first run records the durations the scheduler orders by.
export STANDIN_SLEEP=1
"$ripple" -C "$work/dag" build --all --runner external -j 2 >/dev/null
"$ripple" -C "$work/dag" build --all --force --runner external -j 2 | tail -1 > "$work/dagdone"

python3 - "$work/h.json" "$work/bound" "$work/dagdone" "$work/rss" <<'PY'
import json, os, re, sys
h = json.load(open(sys.argv[1]))["results"]
ninja = [r for r in h if r["command"].startswith("ninja")][0]
rip = [r for r in h if r["command"].startswith("ripple")][0]
print("%-46s %8.3f s ± %.3f" % (ninja["command"], ninja["mean"], ninja["stddev"] or 0))
print("%-46s %8.3f s ± %.3f   throughput %.2fx ninja (budget >= 0.9x)" % (
    rip["command"], rip["mean"], rip["stddev"] or 0, ninja["mean"] / rip["mean"]))
if os.path.exists(sys.argv[4]):
    print("ripple's peak RSS: %d MB" % (int(open(sys.argv[4]).read().split()[-1]) // 1024))
cp, work = map(float, open(sys.argv[2]).read().split())
bound = max(cp, work)
m = float(re.search(r" in ([0-9.]+)s", open(sys.argv[3]).read()).group(1))
print("makespan, 60-job random DAG, -j2: %.2f s; bound max(critical path %.2f, work/2 %.2f) = %.2f;"
      " %.3fx the bound (budget <= 1.05x)" % (m, cp, work, bound, m / bound))
PY
