#!/bin/sh
# The artifact cache (docs/distributed.md#the-artifact-cache) on examples/monorepo, with ripple's own
# builder and assembler and a real docker-registry on 127.0.0.1 as the
# remote: (1) clone A builds --all and stores every job, locally and in the
# registry, as a signed OCI artifact tagged with its input hash; (2) a fresh
# clone B in another directory, with a signing key of its own, builds --all
# with zero jobs run, and its apks and image blobs are byte for byte A's,
# its index signed by its own key; (3) a blob tampered with in the
# registry's storage is refused, that job built, the rest fetched; (4)
# --no-cache builds; (5) the local cache alone: after a change and its
# revert, the earlier outputs come from .ripple/cache, and a tampered local
# blob is refused and rebuilt, a registry that does not answer is said once;
# (6) bad settings are refused with their
# place in .ripple.yaml.
. "$(dirname "$0")/lib.sh"
need_sandbox skopeo cc git
command -v docker-registry >/dev/null || skip "docker-registry is not installed"
EXAMPLE=$RPL_SOURCE_DIR/examples/monorepo
[ -f "$EXAMPLE/libmsg.yaml" ] || fail "no example at $EXAMPLE"
# apko or melange on PATH would be used instead of ripple's own runners.
export PATH="$(printf '%s' "$PATH" | tr ':' '\n' | while read -r d; do
	[ -x "$d/apko" ] || [ -x "$d/melange" ] || printf '%s:' "$d"
done)"
export GIT_AUTHOR_NAME=t GIT_AUTHOR_EMAIL=t@t GIT_COMMITTER_NAME=t GIT_COMMITTER_EMAIL=t@t
export DOCKER_CONFIG="$T/docker" # no credentials: the registry wants none
NJOBS=9

registry_start
CACHE=127.0.0.1:$port/ripple/cache

# The CI machine's key: the origin trusts its public half.
"$RIPPLE" keygen "$T/ci.rsa" --bits 2048 >/dev/null
mkdir -p "$T/origin"
(cd "$EXAMPLE" && git ls-files -co --exclude-standard 2>/dev/null || find . -type f) |
	(cd "$EXAMPLE" && tar -cf - -T -) | tar -xf - -C "$T/origin"
cd "$T/origin"
mkdir keys
cp "$T/ci.rsa.pub" keys/ci.rsa.pub
printf 'cache: %s\ntrusted-keys: [keys/ci.rsa.pub]\n' "$CACHE" >> .ripple.yaml
git init -q
git add -A
git commit -qm "the example, with a cache"

# finished FILE: "name kind arch cache" of each finish event (cache: "-" when built), sorted.
finished() {
	python3 - "$1" <<'PY'
import json, sys
for l in sorted("%s %s %s %s" % (e["name"], e["kind"], e["arch"], e.get("cache", "-"))
                for e in map(json.loads, open(sys.argv[1])) if e["event"] == "finish"):
    print(l)
PY
}

# cache_key "KIND NAME ARCH": the key of the job's entry in ./.ripple/cache.
cache_key() {
	python3 - "$1" <<'PY'
import glob, json, os, sys
for r in glob.glob(".ripple/cache/refs/*"):
    m = json.load(open(".ripple/cache/blobs/sha256/" + open(r).read().strip()[7:]))
    if m["annotations"]["ripple.job"] == sys.argv[1]:
        print(os.path.basename(r))
PY
}

# ---- (1) clone A builds everything and stores it ----------------------------------------
git clone -q "$T/origin" "$T/a"
cd "$T/a"
cp "$T/ci.rsa" local.rsa
cp "$T/ci.rsa.pub" local.rsa.pub
run 0 "$RIPPLE" build --all --events "$T/a.jsonl"
expect_out "^done: $NJOBS built, 0 failed, 0 skipped"
cp "$T/err" "$T/a.err"
[ "$(finished "$T/a.jsonl" | grep -c ' -$')" = $NJOBS ] || fail "A: $(finished "$T/a.jsonl")"
nrefs=$(ls .ripple/cache/refs | wc -l)
[ "$nrefs" = $NJOBS ] || fail "A's local cache holds $nrefs entries, not $NJOBS"
# Each entry is in the registry under its key, the same manifest, signed by A's key.
for ref in .ripple/cache/refs/*; do
	key=$(basename "$ref")
	skopeo inspect --tls-verify=false --raw "docker://$CACHE:$key" > "$T/out" ||
		fail "$key is not in the registry; A's build said: $(cat "$T/a.err")"
	[ "sha256:$(sha256sum "$T/out" | cut -d' ' -f1)" = "$(cat "$ref")" ] ||
		fail "the registry's $key is not A's $(cat "$ref")"
	json_eq 'd["artifactType"]' application/vnd.ripple.job.v1
	json_eq 'd["annotations"]["ripple.key"]' "$key"
	json_eq 'd["annotations"]["ripple.signer"]' local.rsa.pub
done
hello_apk=$(ls packages/$arch/hello-*.apk)
hello_digest=$(sha256sum "$hello_apk" | cut -d' ' -f1)
[ -f ".ripple/cache/blobs/sha256/$hello_digest" ] || fail "hello's apk is not in the local cache"

# ---- (2) a fresh clone elsewhere builds nothing ------------------------------------------
mkdir -p "$T/elsewhere/deeper"
git clone -q "$T/origin" "$T/elsewhere/deeper/b"
cd "$T/elsewhere/deeper/b"
run 0 "$RIPPLE" build --all --events "$T/b.jsonl" --report "$T/b.json"
expect_out "^done: 0 built, $NJOBS from cache, 0 failed, 0 skipped"
expect_out "^made the signing key local.rsa"
[ "$(finished "$T/b.jsonl" | grep -c " $CACHE\$")" = $NJOBS ] || fail "B: $(finished "$T/b.jsonl")"
python3 -c "import json; r = json.load(open('$T/b.json')); assert [j['cache'] for j in r['jobs']] == ['$CACHE'] * $NJOBS, r" ||
	fail "B's report does not say where its jobs came from"
# Zero jobs ran: no runner's output in any log, each says where it came from.
for log in .ripple/logs/1/$arch/*; do
	grep -q "^ripple: from the cache ($CACHE), key [0-9a-f]\{64\}\$" "$log" || fail "$log: $(cat "$log")"
	! grep -q -e '^ripple: fetch' -e 'sandbox' -e '^ripple: image ' "$log" || fail "$log ran: $(cat "$log")"
done
# The keys B computed in its directory are the keys A computed in its own.
for key in $(sed -n 's/^ripple: from the cache (.*), key //p' .ripple/logs/1/$arch/*); do
	[ -f "$T/a/.ripple/cache/refs/$key" ] || fail "B's key $key is none of A's"
done
cmp -s local.rsa.pub "$T/ci.rsa.pub" && fail "B signs with the CI key"
# Byte for byte what A built: every apk, every image blob and index.
n=0
for f in $(cd "$T/a" && find packages images -type f ! -name APKINDEX.tar.gz ! -name .lock | sort); do
	cmp -s "$T/a/$f" "$f" || fail "$f differs from A's"
	n=$((n + 1))
done
[ "$n" -gt 20 ] || fail "only $n files compared"
for f in $(find packages images -type f ! -name APKINDEX.tar.gz ! -name .lock); do
	[ -f "$T/a/$f" ] || fail "B has $f, A does not"
done
# B's index lists them all and is signed by B's own key: an image assembled
# against it with only B's key checks it.
gzip -dc "packages/$arch/APKINDEX.tar.gz" | tar -xOf - APKINDEX 2>/dev/null > "$T/index"
[ "$(grep -c '^P:' "$T/index")" = 11 ] || fail "index: $(grep '^P:' "$T/index")"
run 0 "$RIPPLE" native-image containers/hello.apko.yaml --arch "$arch" --out-dir "$T/check" \
	--repository-append packages --keyring-append local.rsa.pub
run 0 skopeo inspect "oci:images/hello:latest-$ociarch"
json_eq 'd["Architecture"]' "$ociarch"
# Recorded as fetched, and up to date: the next build does nothing.
python3 - <<PY || fail "B's state: not every job recorded as from the cache"
import sqlite3
db = sqlite3.connect(".ripple/state.db")
rows = db.execute("SELECT status, cache FROM job").fetchall()
assert len(rows) == $NJOBS and all(r == ("ok", "$CACHE") for r in rows), rows
PY
# Each keeps the duration of the build that made it (for the critical path of later builds).
python3 - <<'PY' || fail "B's durations are not those of A's builds"
import glob, json, sqlite3
took = {}
for r in glob.glob(".ripple/cache/refs/*"):
    m = json.load(open(".ripple/cache/blobs/sha256/" + open(r).read().strip()[7:]))
    kind, name, arch = m["annotations"]["ripple.job"].split()
    took[(name, kind, arch)] = float(m["annotations"]["ripple.seconds"])
db = sqlite3.connect(".ripple/state.db")
for name, kind, arch, d in db.execute("SELECT name, kind, arch, duration FROM job"):
    assert abs(d - took[(name, kind, arch)]) < 0.001 and d > 0, (name, d, took)
PY
run 0 "$RIPPLE" build
expect_out '^nothing to build'

# ---- (3) a tampered blob in the registry is refused, and that job built ------------------
blob="$T/registry/docker/registry/v2/blobs/sha256/$(printf %.2s "$hello_digest")/$hello_digest/data"
[ -f "$blob" ] || fail "no $blob in the registry's storage"
python3 - "$blob" <<'PY'
import sys
p = sys.argv[1]
b = bytearray(open(p, "rb").read())
b[len(b) // 2] ^= 0xff
open(p, "wb").write(bytes(b))
PY
git clone -q "$T/origin" "$T/c"
cd "$T/c"
run 0 "$RIPPLE" build --all --events "$T/c.jsonl"
expect_err "cache: package hello $arch: refused the copy in $CACHE \(sha256:[0-9a-f]{64}\): cache: the blob sha256:$hello_digest of 127.0.0.1:$port/ripple/cache has the digest sha256:[0-9a-f]{64}; hello $arch is built instead"
expect_out "^done: 1 built, $((NJOBS - 1)) from cache, 0 failed, 0 skipped"
finished "$T/c.jsonl" > "$T/c.finished"
grep -qx "hello package $arch -" "$T/c.finished" || fail "hello was not built: $(finished "$T/c.jsonl")"
[ -f "packages/$arch/$(basename "$hello_apk")" ] || fail "no hello apk after the rebuild"
# What was built is stored again: the registry's copy is whole once more.
key=$(cache_key "package hello $arch")
[ -n "$key" ] || fail "hello is not in C's local cache"
run 0 skopeo inspect --tls-verify=false --raw "docker://$CACHE:$key"
json_eq 'd["layers"][0]["digest"]' "sha256:$(sha256sum "packages/$arch/$(basename "$hello_apk")" | cut -d' ' -f1)"

# ---- (4) --no-cache builds ----------------------------------------------------------------
git clone -q "$T/origin" "$T/d"
cd "$T/d"
run 0 "$RIPPLE" build --all --no-cache
expect_out "^done: $NJOBS built, 0 failed"
[ ! -d .ripple/cache/refs ] && [ ! -d .ripple/cache/blobs ] || fail "--no-cache stored: $(ls -R .ripple/cache)"

# ---- (5) the local cache alone ------------------------------------------------------------
kill $registry
wait $registry 2>/dev/null || true
cd "$T/elsewhere/deeper/b"
# The registry gone: said once, then the run goes on without it.
printf '# down\n' >> words.yaml
run 0 "$RIPPLE" build
expect_out '^done: 3 built, 0 failed'
[ "$(grep -c "cache: cannot read $CACHE (not asked again in this run)" "$T/err")" = 1 ] ||
	fail "the registry's absence: $(cat "$T/err")"
git checkout -q words.yaml
run 0 "$RIPPLE" build
expect_out '^done: 0 built, 3 from cache, 0 failed'
sed -i '/^cache:/d' .ripple.yaml
motd_apk=$(ls packages/$arch/motd-*.apk)
cp "$motd_apk" "$T/motd-before.apk"
printf '# a comment\n' >> motd.yaml
run 0 "$RIPPLE" build
expect_out '^done: 3 built, 0 failed'
cmp -s "$motd_apk" "$T/motd-before.apk" && fail "motd was not rebuilt"
git checkout -q motd.yaml
run 0 "$RIPPLE" build
expect_out '^done: 0 built, 3 from cache, 0 failed'
expect_out "from cache motd $arch \(local\)"
cmp -s "$motd_apk" "$T/motd-before.apk" || fail "motd's apk is not the earlier one"
motd_key=$(sed -n "s/^ripple: from the cache (local), key //p" .ripple/logs/*/$arch/motd.log)
[ -f ".ripple/cache/refs/$motd_key" ] || fail "motd's key: '$motd_key'"
# A local blob tampered with: refused, and the job built again.
motd_blob=.ripple/cache/blobs/sha256/$(sha256sum "$T/motd-before.apk" | cut -d' ' -f1)
printf 'x' >> "$motd_blob"
printf '# a comment\n' >> motd.yaml
run 0 "$RIPPLE" build
git checkout -q motd.yaml
run 0 "$RIPPLE" build
expect_err "cache: package motd $arch: refused the copy in local \(sha256:[0-9a-f]{64}\): cache: '.ripple/cache/blobs/sha256/[0-9a-f]{64}' is not what its name says"
expect_out "ok motd $arch"
expect_out '^done: 1 built, 2 from cache, 0 failed'
# An artifact whose manifest was edited no longer verifies.
printf '# another\n' >> motd.yaml
run 0 "$RIPPLE" build
git checkout -q motd.yaml
m=.ripple/cache/blobs/sha256/$(cut -c8- ".ripple/cache/refs/$motd_key")
sed -i 's/"ripple.job"/"ripple.jab"/' "$m"
run 0 "$RIPPLE" build
expect_err "cache: package motd $arch: refused the copy in local"
expect_out "ok motd $arch"

# ---- (6) bad settings ---------------------------------------------------------------------
printf 'cache: no-repo-here\n' >> .ripple.yaml
run 2 "$RIPPLE" build
expect_err "^ripple: \.ripple\.yaml:[0-9]+:8: cache: 'no-repo-here' is not REGISTRY/REPO"
sed -i '/^cache:/d; s|trusted-keys: .*|trusted-keys: [keys/missing.pub]|' .ripple.yaml
printf '# again\n' >> motd.yaml
run 2 "$RIPPLE" build
expect_err "\.ripple\.yaml:[0-9]+:[0-9]+: trusted-keys: cannot read 'keys/missing.pub'"
run 0 "$RIPPLE" build --help
expect_out '^  --no-cache'
