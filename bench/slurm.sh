#!/bin/sh
# Throughput of trivial jobs through Slurm against the local executor, in
# the same run.
#
#   bench/slurm.sh [N]        (default 2000 jobs; SLURM_JOBS="4 8": more -j values to try;
#                              SLURM_EXTRA_CONF="SchedulerParameters=...": more slurm.conf)
#
# A synthetic monorepo of N trivial packages, each built by a stand-in
# `melange` that copies a pre-made apk into place (as in bench/build.sh),
# so a job costs ripple's own per-job work plus how it is run.  The anchor
# is `ripple build --all --force --executor local -j 2`; then the same
# build with `--executor slurm` on a real one-node Slurm cluster started
# for the run (tests/e2e/slurm-cluster.sh: munged, slurmctld, slurmd on
# loopback ports, 2 CPUs), first with -j left to its default (the
# partition's capacity, 2), then with each -j of SLURM_JOBS (past the
# capacity, jobs wait in Slurm's queue: see docs/benchmarks.md).  Prints jobs/s
# and the ratio to local, and checks Slurm's job records: N jobs completed
# per Slurm run.
set -eu
cd "$(dirname "$0")/.."
n=${1:-2000}
ripple=$(pwd)/${RIPPLE:-build/ripple}
[ -x "$ripple" ] || { echo "bench: build ripple first (cmake --build build)" >&2; exit 2; }
command -v python3 >/dev/null || { echo "bench: python3 is missing (scripts/setup)" >&2; exit 2; }
arch=$(uname -m)
case $arch in arm64) arch=aarch64 ;; esac

T=$(mktemp -d)
fail() { echo "bench: $*" >&2; exit 1; }
skip() { echo "bench: cannot run: $*" >&2; exit 2; }
free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
. tests/e2e/slurm-cluster.sh
trap 'slurm_stop; rm -rf "$T"' EXIT INT TERM
mkdir -p "$T/repo" "$T/apks" "$T/bin"

cat >"$T/bin/melange" <<EOF
#!/bin/sh
# melange build FILE --arch A --out-dir D ...
file=\$2 arch= out=packages
shift 2
while [ \$# -gt 0 ]; do
	case \$1 in --arch) arch=\$2; shift ;; --out-dir) out=\$2; shift ;; esac
	shift
done
name=\${file##*/}
[ -d "\$out/\$arch" ] || mkdir -p "\$out/\$arch"
exec cp "$T/apks/\${name%.yaml}-1.0-r0.apk" "\$out/\$arch/"
EOF
chmod +x "$T/bin/melange"

python3 - "$n" "$T" "$arch" <<'PY'
import gzip, io, os, sys, tarfile
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

for i in range(n):
    name = "p%05d" % i
    with open(os.path.join(work, "repo", name + ".yaml"), "w") as f:
        f.write("package:\n  name: %s\n  version: \"1.0\"\n  epoch: 0\n  description: bench\n"
                "pipeline:\n  - runs: \"true\"\n" % name)
    info = ("pkgname = %s\npkgver = 1.0-r0\narch = %s\nsize = 0\norigin = %s\n"
            "pkgdesc = bench\nbuilddate = 1700000000\nlicense = MIT\n" % (name, arch, name)).encode()
    with open(os.path.join(work, "apks", name + "-1.0-r0.apk"), "wb") as f:
        f.write(member([(".PKGINFO", info)]) + member([]))
PY

export PATH="$T/bin:$PATH"
slurm_start "$T/slurm"
JOBCOMP=$T/slurm/jobcomp.txt

# timed LABEL ARGS...: one forced build of all N; prints "LABEL SECONDS".
timed() {
	label=$1
	shift
	rm -rf "$T/repo/packages"
	t0=$(date +%s.%N)
	"$ripple" -C "$T/repo" build --all --force --runner external "$@" >"$T/last.out" 2>&1 ||
		{ tail -20 "$T/last.out" >&2; fail "$label: the build failed"; }
	t1=$(date +%s.%N)
	grep -q "^done: $n built, 0 failed" "$T/last.out" || { tail -5 "$T/last.out" >&2; fail "$label: not $n built"; }
	echo "$label $(echo "$t1 - $t0" | bc -l 2>/dev/null || python3 -c "print($t1 - $t0)")" >>"$T/times"
}

# slurm_check LABEL: Slurm recorded N more completed jobs since the last
# check.  slurmctld writes a job's record as it leaves the completing state,
# which can be a moment after srun returned: up to 15 s are given.
seen=0
slurm_check() {
	i=0
	while :; do
		all=$(grep -c 'JobState=COMPLETED' "$JOBCOMP" 2>/dev/null || true)
		[ $((all - seen)) -lt "$n" ] && [ $i -lt 150 ] || break
		i=$((i + 1))
		sleep 0.1
	done
	[ $((all - seen)) = "$n" ] || fail "$1: Slurm recorded $((all - seen)) completed jobs, not $n"
	seen=$all
}

"$ripple" -C "$T/repo" build --all --runner external --executor local -j 2 >/dev/null # state warm
: >"$T/times"
timed "local,-j2" --executor local -j 2
timed "slurm,-j(default)" --executor slurm
slurm_check "slurm, -j default"
for j in ${SLURM_JOBS:-}; do
	timed "slurm,-j$j" --executor slurm -j "$j"
	slurm_check "slurm, -j $j"
done

python3 - "$T/times" "$n" <<'PY'
import sys
rows = [l.split() for l in open(sys.argv[1])]
n = int(sys.argv[2])
base = float(rows[0][1])
print("%d trivial jobs, one Slurm node of 2 CPUs; every Slurm job recorded by jobcomp" % n)
for label, secs in rows:
    s = float(secs)
    print("%-20s %8.2f s  %8.1f jobs/s  %6.3fx local" % (label.replace(",", " "), s, n / s, base / s))
PY
