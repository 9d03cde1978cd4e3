#!/bin/sh
# Hostile recipes against the native builder.  The monorepo lives outside
# /tmp and /home (under /var/tmp, and under /usr/local/src when that is
# writable), and a canary directory stands for the rest of the host.  Each
# recipe tries one way out: links planted before fetch and git-checkout, a
# melange-out tree replaced by a link to the monorepo, a working directory
# above the workspace, file:// of the signing key and mirror uris that climb
# out, a tarball with a device node, a 3 GiB decompression bomb, a source
# dir that is a link out, a background process outliving its step.  Each
# fails with its message.  A spy recipe that builds reports what a step can
# see: not the key, the monorepo, /etc/shadow, /run, a host unix socket, an
# abstract socket, nor host root.  Afterwards every file outside the
# workspaces is byte for byte what it was, and the signing key is in no apk
# and nowhere in the cache.
. "$(dirname "$0")/lib.sh"
need_sandbox python3
# libgit2 1.5's clone leaks (tests/lsan-libgit2.supp); only an ASan build reads this.
LSAN_OPTIONS=fast_unwind_on_malloc=0:suppressions=$RPL_SOURCE_DIR/tests/lsan-libgit2.supp
export LSAN_OPTIONS

R=$(mktemp -d /var/tmp/ripple-hostile.XXXXXX)
CANARY=$(mktemp -d /var/tmp/ripple-canary.XXXXXX)
trap 'kill $sock_pid 2>/dev/null; rm -rf "$T" "$R" "$CANARY" "${R2:-}"' EXIT INT TERM
echo canary > "$CANARY/file"
mkdir "$CANARY/dir"
cd "$R"
git init -q . && git config user.email t@example.com && git config user.name t
mkdir -p mirror git/up
printf 'archs: [%s]\nsigning-key: local.rsa\nsource-mirrors:\n  "https://mirror.example/": "mirror/"\n' \
	"$arch" > .ripple.yaml
run 0 "$RIPPLE" keygen local.rsa --bits 2048
keyline=$(sed -n 2p local.rsa)

# A good tarball, one with a device node, and the bomb (3 GiB of zeros in
# 3 MiB: concatenated gzip members are one stream).
python3 - "$R/mirror" <<'EOF'
import gzip, io, sys, tarfile
d = sys.argv[1]
def tgz(name, entries):
    b = io.BytesIO()
    with tarfile.open(fileobj=b, mode="w:gz") as t:
        for info, data in entries:
            t.addfile(info, io.BytesIO(data) if data else None)
    open(f"{d}/{name}", "wb").write(b.getvalue())
def f(name, data):
    i = tarfile.TarInfo(name); i.size = len(data); return i, data
dev = tarfile.TarInfo("x/null"); dev.type = tarfile.CHRTYPE; dev.devmajor, dev.devminor = 1, 3
tgz("good.tar.gz", [f("x/README", b"hello\n")])
tgz("dev.tar.gz", [f("x/README", b"hello\n"), (dev, None)])
size = 3 << 30
hdr = tarfile.TarInfo("x/zeros"); hdr.size = size
chunk = gzip.compress(bytes(64 << 20), 9, mtime=0)
with open(f"{d}/bomb.tar.gz", "wb") as out:
    out.write(gzip.compress(hdr.tobuf(format=tarfile.GNU_FORMAT), mtime=0))
    for _ in range(size // (64 << 20)):
        out.write(chunk)
    out.write(gzip.compress(bytes(1024), mtime=0))
EOF
ln -s ../local.rsa mirror/keylink
(cd git/up && git init -q && echo up > f && git add f &&
	git -c user.email=t@example.com -c user.name=t commit -qm up)
mv git/up mirror/up

# hostile NAME [STEPS...]: a recipe NAME whose pipeline is the text on stdin.
hostile() {
	{
		printf 'package:\n  name: %s\n  version: 1\n  epoch: 0\n  description: hostile\n' "$1"
		printf '  copyright:\n    - license: MIT\npipeline:\n'
		cat
	} > "$1.yaml"
}

hostile plant-fetch <<EOF
  - runs: ln -s $CANARY/dir /home/build/src
  - uses: fetch
    with:
      uri: https://mirror.example/good.tar.gz
      expected-none: true
      directory: src
EOF
hostile plant-fetch-wd <<EOF
  - runs: ln -s $CANARY/dir /home/build/dl
  - uses: fetch
    working-directory: dl
    with:
      uri: https://mirror.example/good.tar.gz
      expected-none: true
      extract: false
EOF
hostile plant-git <<EOF
  - runs: ln -s $CANARY/dir /home/build/src
  - uses: git-checkout
    with:
      repository: https://mirror.example/up
      destination: src
EOF
hostile plant-git-file <<EOF
  - runs: mkdir -p /home/build/src && ln -s $CANARY/file /home/build/src/f
  - uses: git-checkout
    with:
      repository: https://mirror.example/up
      destination: src
EOF
hostile linked-out <<EOF
  - runs: rm -rf /home/build/melange-out/linked-out && ln -s $R /home/build/melange-out/linked-out
EOF
hostile linked-out-root <<EOF
  - runs: rm -rf /home/build/melange-out && ln -s / /home/build/melange-out
EOF
hostile above <<'EOF'
  - runs: echo out > escaped
    working-directory: /home/build/..
EOF
hostile above-fetch <<'EOF'
  - uses: fetch
    with:
      uri: https://mirror.example/good.tar.gz
      expected-none: true
      directory: ../../etc
EOF
hostile file-key <<EOF
  - uses: fetch
    with:
      uri: file://$R/local.rsa
      expected-none: true
      extract: false
EOF
hostile mirror-dotdot <<'EOF'
  - uses: fetch
    with:
      uri: https://mirror.example/../local.rsa
      expected-none: true
      extract: false
EOF
hostile mirror-link <<'EOF'
  - uses: fetch
    with:
      uri: https://mirror.example/keylink
      expected-none: true
      extract: false
EOF
hostile device <<'EOF'
  - uses: fetch
    with:
      uri: https://mirror.example/dev.tar.gz
      expected-none: true
EOF
hostile bomb <<'EOF'
  - uses: fetch
    with:
      uri: https://mirror.example/bomb.tar.gz
      expected-none: true
EOF
hostile sbom-dir <<EOF
  - runs: mkdir -p /home/build/melange-out/sbom-dir/var/lib/db && ln -s $CANARY/dir /home/build/melange-out/sbom-dir/var/lib/db/sbom
EOF
hostile sbom-file <<EOF
  - runs: |
      mkdir -p /home/build/melange-out/sbom-file/var/lib/db/sbom
      ln -s $CANARY/file /home/build/melange-out/sbom-file/var/lib/db/sbom/sbom-file-1-r0.spdx.json
EOF
hostile linked-src <<'EOF'
  - runs: true
EOF
ln -s "$CANARY/dir" linked-src
hostile lingering <<EOF
  - runs: (sleep 1; ln -s $CANARY/dir /home/build/late) >/dev/null 2>&1 &
  - runs: sleep 2; [ ! -e /home/build/late ]
  - runs: mkdir -p /home/build/melange-out/lingering && echo ok > /home/build/melange-out/lingering/ok
EOF

# A host unix socket (in the canary dir) and an abstract one.
python3 - "$CANARY/sock" <<'EOF' &
import os, socket, sys, time
a = socket.socket(socket.AF_UNIX); a.bind(sys.argv[1]); a.listen()
b = socket.socket(socket.AF_UNIX); b.bind("\0ripple-e2e-%d" % os.getppid()); b.listen()
time.sleep(600)
EOF
sock_pid=$!
i=0
until [ -S "$CANARY/sock" ]; do i=$((i + 1)); [ $i -lt 50 ] || fail "no socket"; sleep 0.1; done
abstract="ripple-e2e-$$"

# The spy builds, and its package says what its step could see.
cat > spy.yaml <<EOF
package:
  name: spy
  version: 1
  epoch: 0
  description: what a step sees
  copyright:
    - license: MIT
pipeline:
  - runs: |
      o=\${{targets.destdir}}/usr/share/spy
      mkdir -p \$o
      see() { if eval "\$2" >/dev/null 2>&1; then echo "\$1 yes"; else echo "\$1 no"; fi >> \$o/seen; }
      see key "cat $R/local.rsa"
      see repo "cat $R/.ripple.yaml"
      see canary "cat $CANARY/file"
      see shadow "cat /etc/shadow"
      see run "ls /run/* /var/run/*"
      see sock "python3 -c \"import socket; socket.socket(socket.AF_UNIX).connect('$CANARY/sock')\""
      see abstract "python3 -c \"import socket; socket.socket(socket.AF_UNIX).connect('\\\\0$abstract')\""
      see net "python3 -c \"import socket; socket.create_connection(('127.0.0.1', 22), 1)\""
      see usr-write "touch /usr/ripple-spy"
      see home "ls /home/*/ /root"
      id -u > \$o/uid
      cp $R/local.rsa \$o/ 2>/dev/null || true
EOF
git add -A >/dev/null 2>&1 && git commit -qm hostile

# Everything outside the workspaces, before.
sums() {
	find "$R" "$CANARY" -path "$R/.ripple" -prune -o -path "$R/packages" -prune -o \
		-path "$R/.git" -prune -o -type f -print | sort | xargs sha256sum
	ls -la "$CANARY" "$CANARY/dir" | grep -v ' \.$\| \.\.$\|^total'
}
sums > "$T/before"

# refused NAME MESSAGE: native-build NAME fails within 60 s with MESSAGE in its output.
refused() {
	set +e
	timeout 60 "$RIPPLE" native-build "$1.yaml" --signing-key local.rsa >"$T/out" 2>"$T/err"
	got=$?
	set -e
	[ "$got" = 1 ] || { cat "$T/out" "$T/err" >&2; fail "$1: exited $got, expected 1"; }
	grep -Eq -- "$2" "$T/err" || { cat "$T/out" "$T/err" >&2; fail "$1: no '$2' in stderr"; }
	[ ! -e "packages/$arch/$1-1-r0.apk" ] || fail "$1: an apk was written"
}
refused plant-fetch "fetch: 'src' goes through a symbolic link: refused"
refused plant-fetch-wd "fetch: 'dl' goes through a symbolic link: refused"
refused plant-git "git-checkout: 'src' goes through a symbolic link: refused"
refused linked-out "melange-out/linked-out is \(or goes through\) a symbolic link: refused"
refused linked-out-root "melange-out/linked-out-root is \(or goes through\) a symbolic link: refused"
refused above "working-directory: '/home/build/\.\.' is outside /home/build"
refused above-fetch "fetch: '\.\./\.\./etc' in '/home/build' is outside /home/build"
refused file-key "cannot fetch file://.*local.rsa: only http, https and ftp are fetched"
refused mirror-dotdot "a mirrored uri must not contain '\.\.': refused"
refused mirror-link "leads outside the mirror 'mirror/': refused"
refused device "dev.tar.gz.: null is a character device: refused"
start=$(date +%s)
refused bomb "more than 100 times its size: a decompression bomb\?"
[ $(($(date +%s) - start)) -lt 30 ] || fail "the bomb took $(($(date +%s) - start)) s to refuse"
refused linked-src "the source dir 'linked-src' is a symbolic link: refused"
# The SBOM ripple writes into a package tree: never through a planted link.
refused sbom-dir "melange-out/sbom-dir/var/lib/db/sbom' goes through a symbolic link: refused"
run 0 "$RIPPLE" native-build sbom-file.yaml
[ "$(cat "$CANARY/file")" = canary ] || fail "the SBOM was written through a link"
run 0 "$RIPPLE" native-build lingering.yaml
# git-checkout over a planted file link replaces the link, never writes through it.
run 0 "$RIPPLE" native-build plant-git-file.yaml
[ "$(cat "$CANARY/file")" = canary ] || fail "the canary file was written"

run 0 "$RIPPLE" native-build spy.yaml --signing-key local.rsa
mkdir "$T/spy"
gzip -dc "packages/$arch/spy-1-r0.apk" | tar -xf - -C "$T/spy" 2>/dev/null
seen=$T/spy/usr/share/spy/seen
for what in key repo canary shadow run sock abstract net usr-write home; do
	grep -qx "$what no" "$seen" || fail "a step could see $what: $(cat "$seen")"
done
[ ! -e "$T/spy/usr/share/spy/local.rsa" ] || fail "the key was copied into the package"
# Root inside, and on the host the files it wrote belong to an unprivileged user.
[ "$(cat "$T/spy/usr/share/spy/uid")" = 0 ] || fail "the step ran as uid $(cat "$T/spy/usr/share/spy/uid")"
owner=$(stat -c %u ".ripple/work/$arch/spy/melange-out/spy/usr/share/spy/seen")
[ "$owner" != 0 ] || fail "the step's files belong to the host's root"
[ "$(id -u)" = 0 ] && { [ "$owner" = "$(id -u nobody)" ] || fail "owner $owner, not nobody"; }

# Nothing outside the workspaces changed, and the key went nowhere.
sums > "$T/after"
diff "$T/before" "$T/after" >&2 || fail "files outside the workspaces changed"
for apk in packages/"$arch"/*.apk; do
	! gzip -dc "$apk" 2>/dev/null | grep -qF "$keyline" || fail "the signing key is in $apk"
done
! grep -rqF "$keyline" .ripple/cache 2>/dev/null || fail "the signing key is in .ripple/cache"

# A monorepo under a directory the sandbox binds (/usr/local/src) is masked.
if [ -w /usr/local ] && mkdir -p /usr/local/src 2>/dev/null; then
	R2=$(mktemp -d /usr/local/src/ripple-hostile.XXXXXX)
	cp .ripple.yaml local.rsa local.rsa.pub spy.yaml "$R2/"
	cd "$R2"
	sed -i "s|$R|$R2|g" spy.yaml
	run 0 "$RIPPLE" native-build spy.yaml --signing-key local.rsa
	rm -rf "$T/spy" && mkdir "$T/spy"
	gzip -dc "packages/$arch/spy-1-r0.apk" | tar -xf - -C "$T/spy" 2>/dev/null
	grep -qx "key no" "$T/spy/usr/share/spy/seen" || fail "under /usr/local/src: the key is seen"
	grep -qx "repo no" "$T/spy/usr/share/spy/seen" || fail "under /usr/local/src: the repo is seen"
	cd "$R"
fi
exit 0
