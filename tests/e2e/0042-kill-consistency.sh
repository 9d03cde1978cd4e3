#!/bin/sh
# ripple build killed outright, again and again, then run once more: the
# output repository is always consistent after that one rerun.  The example
# monorepo (native runner) is rebuilt with `build --force --all` and killed
# with SIGKILL at a delay spread from 0.05 s to the whole build's time: half
# the times the whole process tree at once (a machine losing power), half
# the times ripple alone, its jobs left running as orphans (the rerun starts
# at once, or after they had time to finish and a `ripple plan`).  Each build gets another
# SOURCE_DATE_EPOCH, so that a rebuilt apk differs from the one indexed
# (same inputs, other bytes).  After each rerun (`ripple build`, no
# --force), checked: every C: (Q1 + base64 of the SHA-1 of the control
# member) and S: of packages/<arch>/APKINDEX.tar.gz is the apk's on disk;
# every apk there is indexed; the index's signature verifies (openssl);
# every package job recorded as built has its apks in the index; no run is
# left "running"; no temporary file or staging directory is left; no
# process of a killed run is left.  Then an apk rebuilt by hand with
# `ripple native-build` is found though a plan memoised the tree, and a job
# whose test fails after its apk was written leaves the index true to it.  RIPPLE_KILL_SEED
# repeats a sequence, RIPPLE_KILLS sets how many (default 21).
. "$(dirname "$0")/lib.sh"
need_sandbox cc git openssl python3
EXAMPLE=$RPL_SOURCE_DIR/examples/monorepo
[ -f "$EXAMPLE/libmsg.yaml" ] || fail "no example at $EXAMPLE"
export PATH="$(printf '%s' "$PATH" | tr ':' '\n' | while read -r d; do
	[ -x "$d/apko" ] || [ -x "$d/melange" ] || printf '%s:' "$d"
done)"
export GIT_AUTHOR_NAME=t GIT_AUTHOR_EMAIL=t@t GIT_COMMITTER_NAME=t GIT_COMMITTER_EMAIL=t@t
KILLS=${RIPPLE_KILLS:-21}
SEED=${RIPPLE_KILL_SEED:-$(date +%s)}
echo "seed $SEED, $KILLS kills"

mkdir -p "$T/repo"
(cd "$EXAMPLE" && git ls-files -co --exclude-standard 2>/dev/null || find . -type f) |
	(cd "$EXAMPLE" && tar -cf - -T -) | tar -xf - -C "$T/repo"
cd "$T/repo"
"$RIPPLE" keygen local.rsa --bits 2048 >/dev/null
git init -q
git add -A
git commit -qm "the example"

# kill PID tree|parent: SIGKILL PID and every process under it at once, or PID alone.
cat > "$T/kill.py" <<'PY'
import os, signal, sys
pid, mode = int(sys.argv[1]), sys.argv[2]
def children(p):
    out = []
    try:
        for t in os.listdir("/proc/%d/task" % p):
            with open("/proc/%d/task/%s/children" % (p, t)) as f:
                out += [int(x) for x in f.read().split()]
    except OSError:
        pass
    return out
if mode == "parent":
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass  # the build ended first
    sys.exit(0)
# Stopped from the top down, nothing forks past us; then all die together.
stopped, todo = [], [pid]
while todo:
    p = todo.pop()
    if p in stopped:
        continue
    try:
        os.kill(p, signal.SIGSTOP)
    except ProcessLookupError:
        continue
    stopped.append(p)
    todo += children(p)
for p in stopped:
    try:
        os.kill(p, signal.SIGKILL)
    except ProcessLookupError:
        pass
PY

# check: the repository, the records and the tree after a rerun.
cat > "$T/check.py" <<'PY'
import base64, glob, hashlib, io, os, re, sqlite3, subprocess, sys, tarfile, tempfile, zlib

def members(data):
    """The gzip members of `data`: (compressed bytes, content) each."""
    out, off = [], 0
    while off < len(data):
        d = zlib.decompressobj(31)
        raw = d.decompress(data[off:])
        if not d.eof:
            raise ValueError("a gzip member is cut short at byte %d" % off)
        n = len(data) - off - len(d.unused_data)
        out.append((data[off:off + n], raw))
        off += n
    return out

def first_name(raw):
    return tarfile.open(fileobj=io.BytesIO(raw)).next().name

def csum(path):
    ms = members(open(path, "rb").read())
    i = 1 if first_name(ms[0][1]).startswith(".SIGN.") else 0
    return "Q1" + base64.b64encode(hashlib.sha1(ms[i][0]).digest()).decode()

bad, pub, root = [], sys.argv[1], os.getcwd()
db = sqlite3.connect(".ripple/state.db")
built = db.execute("SELECT o.name, o.path FROM job_output o JOIN job j ON j.name = o.name"
                   " AND j.kind = o.kind AND j.arch = o.arch"
                   " WHERE j.status = 'ok' AND o.kind = 'package'").fetchall()
for d in sorted(glob.glob("packages/*/")):
    ix = d + "APKINDEX.tar.gz"
    apks = {os.path.basename(p) for p in glob.glob(d + "*.apk")}
    data = open(ix, "rb").read()
    ms = members(data)
    if not first_name(ms[0][1]).startswith(".SIGN."):
        bad.append("%s is not signed" % ix)
    else:
        sig = tarfile.open(fileobj=io.BytesIO(ms[0][1]))
        sig = sig.extractfile(sig.next()).read()
        with tempfile.TemporaryDirectory() as t:
            open(t + "/sig", "wb").write(sig)
            open(t + "/data", "wb").write(data[len(ms[0][0]):])
            r = subprocess.run(["openssl", "dgst", "-sha256", "-verify", pub, "-signature",
                                t + "/sig", t + "/data"], capture_output=True, text=True)
            if r.returncode:
                bad.append("%s: the signature does not verify: %s" % (ix, r.stdout + r.stderr))
        ms = ms[1:]
    text = tarfile.open(fileobj=io.BytesIO(b"".join(m[1] for m in ms)))
    text = text.extractfile("APKINDEX").read().decode()
    listed = set()
    for rec in text.split("\n\n"):
        f = dict((l[:1], l[2:]) for l in rec.splitlines() if l[1:2] == ":")
        if not f:
            continue
        name = "%s-%s.apk" % (f["P"], f["V"])
        listed.add(name)
        p = d + name
        if not os.path.exists(p):
            bad.append("%s lists %s, which is not there" % (ix, name))
            continue
        if f.get("S") != str(os.path.getsize(p)):
            bad.append("%s: S:%s of %s, which has %d bytes" % (ix, f.get("S"), name, os.path.getsize(p)))
        if f.get("C") != csum(p):
            bad.append("%s: C:%s of %s, which has %s" % (ix, f.get("C"), name, csum(p)))
    for a in sorted(apks - listed):
        bad.append("%s%s is not in %s" % (d, a, ix))
    for job, path in built:
        if path.startswith(d) and os.path.basename(path) not in listed:
            bad.append("%s is recorded as built, but %s is not in %s" % (job, path, ix))
for (run,) in db.execute("SELECT id FROM run WHERE status = 'running'"):
    bad.append("run %d is still 'running'" % run)
for top, dirs, files in os.walk("."):
    if top == "./.git":
        dirs[:] = []
        continue
    for n in files + dirs:
        if re.search(r"\.tmp\.[0-9]+$|\.data\.[0-9]+$|^\.download\.[0-9]+$|\.(unpack|git-checkout)$", n):
            bad.append("left behind: " + os.path.join(top, n))
for p in os.listdir("/proc"):
    try:
        env = open("/proc/%s/environ" % p, "rb").read().split(b"\0")
    except OSError:
        continue
    if any(e.startswith(b"RIPPLE_RUN=") and e.endswith(b":" + root.encode()) for e in env):
        bad.append("pid %s of a killed run still runs: %s" % (p, open("/proc/%s/cmdline" % p).read().replace("\0", " ")))
for b in bad:
    print(b)
sys.exit(1 if bad else 0)
PY

# ---- a first build, and how long a whole build takes --------------------------------------
start=$(date +%s.%N)
run 0 "$RIPPLE" build --all
whole=$(python3 -c "import time; print(round(time.time() - $start, 2))")
python3 "$T/check.py" local.rsa.pub > "$T/bad" || fail "after the first build: $(cat "$T/bad")"

# The delays, spread over the build and shuffled; the kill modes in turn.
python3 - "$SEED" "$KILLS" "$whole" > "$T/plan" <<'PY'
import random, sys
seed, n, whole = int(sys.argv[1]), int(sys.argv[2]), max(float(sys.argv[3]), 0.5)
r = random.Random(seed)
delays = [0.05 + (whole - 0.05) * i / (n - 1) + r.uniform(-0.05, 0.05) for i in range(n)]
r.shuffle(delays)
for i, d in enumerate(delays):
    mode = ("tree", "parent", "parent-wait")[i % 3]
    print("%.2f %s" % (max(d, 0.05), mode))
PY

i=0
mended=0
while read -r delay mode; do
	i=$((i + 1))
	SOURCE_DATE_EPOCH=$((1700000000 + i)) "$RIPPLE" build --force --all > "$T/killed.$i" 2>&1 &
	pid=$!
	sleep "$delay"
	python3 "$T/kill.py" $pid "${mode%-wait}"
	wait $pid 2>/dev/null || true
	# Orphans left to finish their builds (or not: the rerun stops them);
	# and a plan, whose no-op memo the rerun must not take for a check.
	if [ "$mode" = parent-wait ]; then
		sleep 1.1
		"$RIPPLE" plan > /dev/null
	fi
	set +e
	"$RIPPLE" build > "$T/rerun.$i" 2>&1
	status=$?
	set -e
	[ $status = 0 ] || fail "kill $i ($mode after ${delay}s): the rerun exited $status: $(cat "$T/rerun.$i")"
	if ! python3 "$T/check.py" local.rsa.pub > "$T/bad"; then
		cat "$T/rerun.$i" >&2
		fail "kill $i ($mode after ${delay}s, seed $SEED): not consistent after the rerun:
$(cat "$T/bad")"
	fi
	grep -q 'is built again\|the index is mended\|indexed as it is' "$T/rerun.$i" && mended=$((mended + 1))
	echo "kill $i: $mode after ${delay}s; rerun: $(grep -E '^(run |nothing|stopped|removed)' "$T/rerun.$i" | tr '\n' ' ')"
done < "$T/plan"
echo "$mended of $i reruns mended the repository or built again what it no longer described"
# Consistent is also settled: once more is a no-op.
run 0 "$RIPPLE" build
expect_out '^nothing to build: '

# ---- an apk rebuilt by hand, then a plan's no-op memo: the build still looks -----------------
arch=$(uname -m)
SOURCE_DATE_EPOCH=1650000000 run 0 "$RIPPLE" native-build motd.yaml --arch "$arch" \
	--out-dir packages --signing-key local.rsa
sleep 1.1
run 0 "$RIPPLE" plan
expect_out '^nothing to do'
run 0 "$RIPPLE" build
expect_out "^packages/$arch/motd-3-r1\.apk: another build of it than the index listed: motd $arch is built again"
python3 "$T/check.py" local.rsa.pub > "$T/bad" || fail "after motd was built by hand: $(cat "$T/bad")"

# ---- a job that fails after writing its apk: the run's own end mends the index -------------
sed -i "s/grep -x 'Hello from libmsg, tester!'/grep -x 'Goodbye, tester!'/" hello.yaml
grep -q Goodbye hello.yaml || fail "the test was not broken"
SOURCE_DATE_EPOCH=1600000000 run 1 "$RIPPLE" build hello --test --force
expect_out "FAILED hello .*the test of hello failed"
expect_out '^packages/.*/hello-2\.0-r0\.apk: another build of it than the index listed'
python3 "$T/check.py" local.rsa.pub > "$T/bad" || fail "after a failed test: $(cat "$T/bad")"
