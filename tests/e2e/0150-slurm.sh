#!/bin/sh
# ripple build --executor slurm against a real one-node Slurm cluster
# (tests/e2e/slurm-cluster.sh: munged, slurmctld, slurmd on loopback ports),
# with the stand-in melange and apko of tests/e2e/bin.  Checked: every job
# ran as a Slurm job (the stand-in saw $SLURM_JOB_ID, and jobcomp/filetxt
# recorded that id under the job's name <name>@<arch>), in its arch's
# partition, with the recipe's CPUs and memory; dependencies first; a
# failure skips only its dependents; a job Slurm cannot place fails with
# Slurm's reason; a timeout and SIGINT cancel the Slurm jobs (scancel), so
# that no job is left running; bad executor settings are exit-2 errors
# with their file:line:col; the next run cancels the Slurm jobs of a
# ripple killed outright.  Skips only where Slurm or munge is missing or
# cannot start.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/slurm-cluster.sh"
trap 'slurm_stop; rm -rf "$T"' EXIT INT TERM

standin_repo
cat >.ripple.yaml <<'EOY'
archs: [x86_64, aarch64]
executor: slurm
slurm:
  partitions:
    x86_64: amd
    aarch64: arm
EOY
slow() { printf '# standin-sleep: %s\n' "$1"; }
# a <- b <- c <- img;  a <- d;  e alone (2 CPUs, 1 GiB);  f fails <- g.
{ pkg a; slow 0.3; } >a.yaml
{ pkg b a-dev; slow 0.3; printf '# standin-needs-index: a a-dev\n'; } >b.yaml
{ pkg c b; slow 0.3; printf '# standin-needs-index: b b-dev\n'; } >c.yaml
{ pkg d a; slow 0.3; } >d.yaml
cat >e.yaml <<'EOY'
package:
  name: e
  version: 1.0.0
  resources:
    cpu: "2"
    memory: 1Gi
subpackages:
  - name: e-dev
pipeline:
  - runs: echo e
EOY
{ pkg f; printf '# standin-fail: f does not build\n'; } >f.yaml
{ pkg g f; } >g.yaml
cat >img.apko.yaml <<'EOY'
contents:
  packages:
    - c
EOY
git init -q
git add -A
git -c user.name=t -c user.email=t@t commit -qm init

# ---- bad settings: exit 2 before anything runs (no cluster needed) -----------------------

run 2 "$RIPPLE" build --executor nosuch --all
expect_err "--executor: 'nosuch' is not an executor \\(local, slurm\\)"
cp .ripple.yaml good.yaml
printf 'archs: [x86_64, aarch64]\nexecutor: slurm\nslurm:\n  partitions:\n    x86_64: amd\n' >.ripple.yaml
run 2 "$RIPPLE" build --all
expect_err '^ripple: \.ripple\.yaml:5:5: slurm: partitions: no partition for aarch64'
printf 'executor: sbatch\n' >.ripple.yaml
run 2 "$RIPPLE" build --all
expect_err "^ripple: \\.ripple\\.yaml:1:11: executor: 'sbatch' is not an executor"
printf 'executor: slurm\nslurm:\n  memory: lots\n' >.ripple.yaml
run 2 "$RIPPLE" build --all
expect_err "^ripple: \\.ripple\\.yaml:3:11: slurm: memory 'lots' is not a size"
mv good.yaml .ripple.yaml
mkdir -p ../bad && cp -r .ripple.yaml ../bad/ && (
	cd ../bad
	printf 'package:\n  name: h\n  resources:\n    cpu: many\n  version: 1.0.0\n' >h.yaml
	run 2 "$RIPPLE" build --all
	expect_err "^h\\.yaml:4:10: resources: cpu 'many' is not a number of CPUs"
)
# A dry run shows the srun command lines and needs no cluster.
run 0 "$RIPPLE" build --all --dry-run
expect_out '\$ srun --job-name=e@x86_64 --comment=ripple package [^ ]+ [^ ]+ --partition=amd --nodes=1 --ntasks=1 --cpus-per-task=2 --mem=1024M'
expect_out '\$ srun --job-name=a@aarch64 .* --partition=arm .*--cpus-per-task=1 '
expect_out "--chdir=$T/repo melange build a.yaml --arch aarch64"
[ ! -e packages ] || fail "a dry run wrote packages/"

# ---- the cluster ------------------------------------------------------------------------

slurm_start "$T/slurm"
JOBCOMP=$T/slurm/jobcomp.txt

# ---- a build: every job a Slurm job, order, failure isolation ---------------------------

run 1 "$RIPPLE" build --all -k -v
expect_out '^ripple: slurm: 2 jobs at once, what the partitions hold'
expect_out 'FAILED f x86_64 .*melange build exited with status 1'
expect_out 'skipped g aarch64: waiting on f \(aarch64\) failed'
for arch in x86_64 aarch64; do
	for p in a a-dev b c d e; do
		[ -s "packages/$arch/$p-1.0.0-r0.apk" ] || fail "no $p apk for $arch"
	done
	[ ! -e "packages/$arch/g-1.0.0-r0.apk" ] || fail "g was built after f failed ($arch)"
done

# jobs: name@arch, the Slurm job id the stand-in saw, and what jobcomp says of that id.
python3 - "$STANDIN_DIR/events" "$JOBCOMP" <<'PY' || fail "the jobs did not all run as Slurm jobs"
import sys
starts = [l.split() for l in open(sys.argv[1]) if l.startswith("start ")]
comp = {}
for l in open(sys.argv[2]):
    f = dict(kv.split("=", 1) for kv in l.split() if "=" in kv)
    comp[f["JobId"]] = f
want = {(n, a) for n in ("a", "b", "c", "d", "e", "f", "img") for a in ("x86_64", "aarch64")}
got = {(s[1], s[2]) for s in starts}
assert got == want, ("jobs that started", sorted(got ^ want))
part = {"x86_64": "amd", "aarch64": "arm"}
for s in starts:
    assert len(s) == 5, ("started outside Slurm", s)
    c = comp[s[4]]
    assert c["Name"] == "%s@%s" % (s[1], s[2]), (s, c["Name"])
    assert c["Partition"] == part[s[2]], (s, c["Partition"])
    failed = s[1] == "f"
    assert c["JobState"] == ("FAILED" if failed else "COMPLETED"), (s, c["JobState"])
    assert c["ExitCode"] == ("1:0" if failed else "0:0"), (s, c["ExitCode"])
    if s[1] == "e":
        assert c["ProcCnt"] == "2", ("e asked for 2 CPUs", c["ProcCnt"])
assert len(comp) == len(starts), ("Slurm ran jobs ripple did not ask for", len(comp), len(starts))
print(len(starts), "jobs, each one Slurm job")
PY
grep -q -- '--mem=1024M' .ripple/logs/*/x86_64/e.log || fail "e's log has no srun --mem=1024M"

# after A B ARCH: A's first start came after B's last end.
after() {
	python3 - "$STANDIN_DIR/events" "$1" "$2" "$3" <<'PY' || fail "$1 ($3) started before $2 ended"
import sys
ev = [l.split() for l in open(sys.argv[1])]
start = min(float(e[3]) for e in ev if e[0] == "start" and e[1] == sys.argv[2] and e[2] == sys.argv[4])
end = max(float(e[3]) for e in ev if e[0] == "end" and e[1] == sys.argv[3] and e[2] == sys.argv[4])
assert start >= end, (start, end)
PY
}
for arch in x86_64 aarch64; do
	after b a $arch
	after c b $arch
	after d a $arch
	after img c $arch
done
# No -j: the partitions' capacity, the node's 2 CPUs (amd and arm share it).
most=$(python3 - "$STANDIN_DIR/events" <<'PY'
import sys
ev = sorted((float(e[3]), e[0] == "start") for e in (l.split() for l in open(sys.argv[1])))
n = best = 0
for _, s in ev:
    n += 1 if s else -1
    best = max(best, n)
print(best)
PY
)
[ "$most" -le 2 ] || fail "$most jobs ran at once on a 2-CPU cluster"

# The critical path first: with -j 1 and no durations known yet, a (whose
# chain a-b-c-img is the longest) starts first, and e (nothing after it)
# only after b and f (each with a job after it).
mkdir -p ../prio && cp ./*.yaml .ripple.yaml ../prio/ && (
	cd ../prio
	git init -q && git add -A && git -c user.name=t -c user.email=t@t commit -qm init
	: >"$STANDIN_DIR/events"
	run 1 "$RIPPLE" build --all -k -j 1 --arch x86_64
	order=$(sed -n 's/^start \([^ ]*\) .*/\1/p' "$STANDIN_DIR/events" | tr '\n' ' ')
	python3 -c '
import sys
o = sys.argv[1].split()
assert o[0] == "a" and o.index("e") > max(o.index("b"), o.index("f")), o
' "$order" || fail "with -j 1 the jobs started in the order $order"
)

# ---- a job Slurm cannot place fails with Slurm's reason -------------------------------

mkdir -p ../huge && cp .ripple.yaml ../huge/ && (
	cd ../huge
	printf 'package:\n  name: big\n  version: 1.0.0\n  resources:\n    memory: 4000Ti\n' >big.yaml
	run 1 "$RIPPLE" build --all --arch x86_64
	expect_out 'FAILED big x86_64 .*slurm could not run it: .*(not available|can not be satisfied|Memory)'
)

# no_jobs_left WHAT: no Slurm job is pending or running now, and the ones
# completing (Slurm's cleanup after the end) are gone within 15 s.
no_jobs_left() {
	left=$(squeue --noheader --states=PENDING,RUNNING,SUSPENDED)
	[ -z "$left" ] || fail "Slurm jobs left running after $1: $left"
	i=0
	while [ -n "$(squeue --noheader)" ]; do
		i=$((i + 1))
		[ $i -lt 150 ] || { squeue; fail "Slurm jobs still completing 15 s after $1"; }
		sleep 0.1
	done
}

# ---- a timeout cancels the Slurm job ----------------------------------------------------

{ pkg slowpoke; slow 60; } >slowpoke.yaml
git add -A && git -c user.name=t -c user.email=t@t commit -qm slow
run 1 "$RIPPLE" build slowpoke --arch x86_64 --timeout 1
expect_out 'FAILED slowpoke x86_64 .*timed out after 1s'
grep -q '^# ripple: scancel: [0-9]' .ripple/logs/*/x86_64/slowpoke.log || fail "the timeout did not scancel"
no_jobs_left "its timeout"
grep -q 'Name=slowpoke@x86_64 JobState=CANCELLED' "$JOBCOMP" || fail "slowpoke's Slurm job was not cancelled"

# ---- SIGINT: the Slurm jobs are cancelled, none is left -------------------------------

{ pkg x; slow 60; } >x.yaml
{ pkg y; slow 60; } >y.yaml
git add -A && git -c user.name=t -c user.email=t@t commit -qm more
: >"$STANDIN_DIR/events"
"$RIPPLE" build x y --arch x86_64 >"$T/int.out" 2>&1 &
pid=$!
i=0
until [ "$(grep -c '^start ' "$STANDIN_DIR/events")" = 2 ]; do
	i=$((i + 1))
	[ $i -lt 200 ] || { cat "$T/int.out"; squeue; fail "x and y did not both start in Slurm"; }
	sleep 0.1
done
[ "$(squeue --noheader --states=RUNNING | wc -l)" = 2 ] || { squeue; fail "x and y are not running in Slurm"; }
kill -INT $pid
set +e
wait $pid
st=$?
set -e
[ $st = 130 ] || { cat "$T/int.out"; fail "SIGINT: exit $st, expected 130"; }
no_jobs_left SIGINT
for p in x y; do
	grep -q "Name=$p@x86_64 JobState=CANCELLED" "$JOBCOMP" || fail "$p's Slurm job was not cancelled"
done
# ... and the next run builds them again.
sed -i 's/^# standin-sleep: 60$/# standin-sleep: 0.1/' x.yaml y.yaml
git add -A && git -c user.name=t -c user.email=t@t commit -qm fast
run 0 "$RIPPLE" build x y --arch x86_64
[ -s packages/x86_64/x-1.0.0-r0.apk ] || fail "x was not built after the interrupt"

# ---- SIGKILL: the next run cancels what the dead one left in Slurm ----------------------
# The job's environment drops ripple's run tag, as on another node: the
# next run's sweep of local leftovers cannot reach it, only Slurm can.
mkdir -p ../orphan && (
	cd ../orphan
	printf 'executor: slurm\nslurm:\n  args: ["--export=ALL,RIPPLE_RUN="]\n' >.ripple.yaml
	{ pkg z; slow 60; } >z.yaml
	git init -q && git add -A && git -c user.name=t -c user.email=t@t commit -qm init
	: >"$STANDIN_DIR/events"
	"$RIPPLE" build z >"$T/kill.out" 2>&1 &
	pid=$!
	i=0
	until grep -q '^start z ' "$STANDIN_DIR/events"; do
		i=$((i + 1))
		[ $i -lt 200 ] || { cat "$T/kill.out"; fail "z did not start in Slurm"; }
		sleep 0.1
	done
	kill -KILL $pid
	wait $pid || true
	[ -n "$(squeue --noheader --name=z@x86_64 --states=RUNNING)" ] || fail "z's Slurm job did not outlive its ripple"
	sed -i 's/^# standin-sleep: 60$/# standin-sleep: 0.1/' z.yaml
	git add -A && git -c user.name=t -c user.email=t@t commit -qm fast
	run 0 "$RIPPLE" build z
	expect_out '^ripple: cancelled 1 Slurm job left by a run that was killed$'
	no_jobs_left "the next run"
	grep -q 'Name=z@x86_64 JobState=CANCELLED' "$JOBCOMP" || fail "z's orphan was not cancelled"
)
echo "ok: $(wc -l <"$JOBCOMP") Slurm jobs recorded"
