#!/bin/sh
# The native package builder, for real: a C library fetched as a tarball
# from an HTTP server on 127.0.0.1 (digest checked), a program linking it
# (the library's -dev package installed into the sandbox from the local
# repository), a script-only package, and subpackages made with `range`,
# built by `ripple build --runner native` in bubblewrap and signed with a
# key from `ripple keygen`.  Checked: the packages and the signed index; the
# apks' bytes (PAX SHA-1 records, datahash, signature, .PKGINFO with what
# the analysis found); the program runs; a wrong digest fails and caches
# nothing; no network in the sandbox; the same inputs give the same bytes;
# a foreign arch is refused.
. "$(dirname "$0")/lib.sh"
need_sandbox cc

# The source tarball and a web server for it.
mkdir -p "$T/src/libhello-1.0" "$T/www" "$T/repo"
cat > "$T/src/libhello-1.0/hello.c" <<'EOC'
#include "hello.h"
const char *hello_greeting(void) { return "hello from libhello"; }
EOC
echo 'const char *hello_greeting(void);' > "$T/src/libhello-1.0/hello.h"
cat > "$T/src/libhello-1.0/Makefile" <<'EOM'
all: libhello.so.1
libhello.so.1: hello.c hello.h
	$(CC) -O2 -fPIC -shared -Wl,-soname,libhello.so.1 -o $@ hello.c
install: all
	install -Dm755 libhello.so.1 $(DESTDIR)/usr/lib/libhello.so.1
	ln -sf libhello.so.1 $(DESTDIR)/usr/lib/libhello.so
	install -Dm644 hello.h $(DESTDIR)/usr/include/hello.h
EOM
(cd "$T/src" && tar --mtime=@1600000000 --owner=0 --group=0 -czf "$T/www/libhello-1.0.tar.gz" libhello-1.0)
sha=$(sha256sum "$T/www/libhello-1.0.tar.gz" | cut -d' ' -f1)
port=$(free_port)
python3 -m http.server "$port" --bind 127.0.0.1 --directory "$T/www" >/dev/null 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; rm -rf "$T"' EXIT INT TERM
wait_port "$port" "the HTTP server"

cd "$T/repo"
printf 'archs: [%s]\nsigning-key: local.rsa\n' "$arch" > .ripple.yaml
cat > libhello.yaml <<EOY
package:
  name: libhello
  version: 1.0
  epoch: 0
  description: a greeting library
  copyright:
    - license: MIT
pipeline:
  - uses: fetch
    with:
      uri: http://127.0.0.1:$port/libhello-\${{package.version}}.tar.gz
      expected-sha256: $sha
  - uses: autoconf/make
  - uses: autoconf/make-install
subpackages:
  - name: libhello-dev
    description: libhello's headers and link
    pipeline:
      - runs: |
          mkdir -p \${{targets.subpkgdir}}/usr/lib
          mv \${{targets.destdir}}/usr/include \${{targets.subpkgdir}}/usr/
          mv \${{targets.destdir}}/usr/lib/libhello.so \${{targets.subpkgdir}}/usr/lib/
EOY
cat > hello.yaml <<'EOY'
package:
  name: hello
  version: 1.0
  epoch: 0
  description: says hello through libhello
  copyright:
    - license: MIT
environment:
  contents:
    packages:
      - libhello-dev
pipeline:
  - runs: |
      cat > hello.c <<'EOF'
      #include <stdio.h>
      #include <hello.h>
      int main(void) { puts(hello_greeting()); return 0; }
      EOF
      cc -O2 -o hello hello.c -lhello
      install -Dm755 hello ${{targets.destdir}}/usr/bin/hello
EOY
cat > greeting.yaml <<'EOY'
package:
  name: greeting
  version: 2.1
  epoch: 3
  description: a script
  copyright:
    - license: Apache-2.0
pipeline:
  - runs: |
      mkdir -p ${{targets.destdir}}/usr/bin
      printf '#!/bin/sh\necho "greetings, $1"\n' > ${{targets.destdir}}/usr/bin/greet
      chmod 755 ${{targets.destdir}}/usr/bin/greet
EOY
cat > langs.yaml <<'EOY'
package:
  name: langs
  version: 0.5
  epoch: 0
  description: a word in several languages
  copyright:
    - license: MIT
data:
  - name: words
    items:
      en: hello
      fr: bonjour
pipeline:
  - runs: mkdir -p ${{targets.destdir}}/usr/share/langs && echo all > ${{targets.destdir}}/usr/share/langs/README
subpackages:
  - range: words
    name: langs-${{range.key}}
    description: the ${{range.key}} word
    pipeline:
      - runs: |
          mkdir -p ${{targets.subpkgdir}}/usr/share/langs
          echo ${{range.value}} > ${{targets.subpkgdir}}/usr/share/langs/${{range.key}}
EOY
run 0 "$RIPPLE" keygen local.rsa --bits 2048
expect_out '^wrote local.rsa and local.rsa.pub'
run 2 "$RIPPLE" keygen local.rsa
expect_err 'exists'
git init -q
git add -A
git -c user.name=t -c user.email=t@t commit -qm init

# ---- the build ------------------------------------------------------------------------
run 0 "$RIPPLE" build --runner native -j 2
expect_out '^done: 4 built, 0 failed, 0 skipped'
for p in libhello-1.0-r0 libhello-dev-1.0-r0 hello-1.0-r0 greeting-2.1-r3 langs-0.5-r0 \
	langs-en-0.5-r0 langs-fr-0.5-r0; do
	[ -f "packages/$arch/$p.apk" ] || fail "no packages/$arch/$p.apk"
done
grep -q 'installed in the sandbox from packages/.* libhello-dev-1.0-r0' .ripple/logs/1/$arch/hello.log ||
	fail "hello's log: $(cat .ripple/logs/1/$arch/hello.log)"
grep -q 'fetch: http://127.0.0.1:.* verified (sha256)' .ripple/logs/1/$arch/libhello.log ||
	fail "libhello's log: $(cat .ripple/logs/1/$arch/libhello.log)"
# The fetched source is in the SBOM of libhello and of its -dev, GENERATED_FROM.
mkdir -p "$T/sbom"
gzip -dc "packages/$arch/libhello-dev-1.0-r0.apk" | tar -xf - -C "$T/sbom" 2>/dev/null
python3 - "$T/sbom/var/lib/db/sbom/libhello-dev-1.0-r0.spdx.json" "$sha" "$port" <<'PY' ||
import json, sys
d = json.load(open(sys.argv[1]))
src = [p for p in d["packages"] if p["SPDXID"] == "SPDXRef-Package-libhello-1.0-0"][0]
assert src["downloadLocation"] == "http://127.0.0.1:%s/libhello-1.0.tar.gz" % sys.argv[3], src
assert src["checksums"] == [{"algorithm": "SHA256", "checksumValue": sys.argv[2]}], src
assert src["externalRefs"][0]["referenceLocator"].startswith(
    "pkg:generic/libhello@1.0?checksum=sha256%3A" + sys.argv[2] + "&download_url=http%3A%2F%2F127.0.0.1%3A"), src
assert {"spdxElementId": "SPDXRef-Package-apk-libhello-dev-1.0-r0", "relationshipType": "GENERATED_FROM",
        "relatedSpdxElement": src["SPDXID"]} in d["relationships"], d["relationships"]
PY
	fail "the fetched source is not in libhello-dev's SBOM"

# Every apk, byte by byte: sections, checksums, signature, .PKGINFO.
python3 - "packages/$arch" local.rsa.pub <<'PY' > "$T/check" || fail "apk check: $(cat "$T/check")"
import hashlib, io, os, subprocess, sys, tarfile, zlib

def members(data):
    off, out = 0, []
    while off < len(data):
        d = zlib.decompressobj(16 + 15)
        raw = d.decompress(data[off:])
        used = len(data) - off - len(d.unused_data)
        out.append((data[off:off + used], raw))
        off += used
    return out

infos = {}
for f in sorted(os.listdir(sys.argv[1])):
    if not f.endswith(".apk"):
        continue
    ms = members(open(os.path.join(sys.argv[1], f), "rb").read())
    assert len(ms) == 3, (f, len(ms))
    (sigz, sig), (ctlz, ctl), (dataz, data) = ms
    st = tarfile.open(fileobj=io.BytesIO(sig + b"\0" * 1024))
    m = st.next()
    assert m.name == ".SIGN.RSA256.local.rsa.pub", m.name
    open("/tmp/ripple-sig", "wb").write(st.extractfile(m).read())
    open("/tmp/ripple-ctl", "wb").write(ctlz)
    r = subprocess.run(["openssl", "dgst", "-sha256", "-verify", sys.argv[2], "-signature",
                        "/tmp/ripple-sig", "/tmp/ripple-ctl"], capture_output=True, text=True)
    assert "Verified OK" in r.stdout, (f, r.stdout, r.stderr)
    assert not ctl.endswith(b"\0" * 1024), f + ": control section has end blocks"
    ct = tarfile.open(fileobj=io.BytesIO(ctl + b"\0" * 1024))
    info = ct.extractfile(ct.next()).read().decode()
    kv = {}
    for line in info.splitlines():
        if " = " in line:
            k, v = line.split(" = ", 1)
            kv.setdefault(k, []).append(v)
    assert kv["datahash"] == [hashlib.sha256(dataz).hexdigest()], f + ": datahash"
    dt = tarfile.open(fileobj=io.BytesIO(data))
    for e in dt:
        assert e.uid == 0 and e.gid == 0 and e.mtime == int(kv["builddate"][0]), (f, e.name)
        if e.isfile():
            body = dt.extractfile(e).read()
            assert e.pax_headers["APK-TOOLS.checksum.SHA1"] == hashlib.sha1(body).hexdigest(), e.name
        elif e.issym():
            assert e.pax_headers["APK-TOOLS.checksum.SHA1"] == hashlib.sha1(e.linkname.encode()).hexdigest()
    infos[kv["pkgname"][0]] = kv
h = infos["hello"]
assert "so:libhello.so.1" in h["depend"], h
assert "cmd:hello=1.0-r0" in h["provides"], h
assert infos["libhello"]["provides"] == ["so:libhello.so.1=1"], infos["libhello"]
assert infos["libhello-dev"]["depend"] == ["so:libhello.so.1"], infos["libhello-dev"]
assert infos["greeting"]["provides"] == ["cmd:greet=2.1-r3"], infos["greeting"]
assert infos["greeting"]["pkgver"] == ["2.1-r3"] and infos["greeting"]["license"] == ["Apache-2.0"]
assert infos["langs-fr"]["origin"] == ["langs"] and infos["langs-fr"]["pkgdesc"] == ["the fr word"]
print("ok", len(infos))
PY
grep -q '^ok 7$' "$T/check" || fail "$(cat "$T/check")"
gzip -dc "packages/$arch/APKINDEX.tar.gz" | tar -xOf - APKINDEX > "$T/index" 2>/dev/null
[ "$(grep -c '^P:' "$T/index")" = 7 ] || fail "index: $(cat "$T/index")"
gzip -dc "packages/$arch/APKINDEX.tar.gz" | tar -tf - 2>/dev/null | head -1 | grep -qx '.SIGN.RSA256.local.rsa.pub' ||
	fail "the index is not signed"

# The program runs, against the library from its own package.
mkdir -p "$T/root"
for p in hello-1.0-r0 libhello-1.0-r0; do
	gzip -dc "packages/$arch/$p.apk" | tar -xf - -C "$T/root" --exclude='.*' 2>/dev/null
done
[ "$(LD_LIBRARY_PATH=$T/root/usr/lib "$T/root/usr/bin/hello")" = "hello from libhello" ] ||
	fail "hello does not say hello"

# ---- the same inputs, the same bytes ----------------------------------------------------
sums() { (cd "packages/$arch" && sha256sum greeting-*.apk langs*.apk libhello*.apk); }
sums > "$T/sums1"
run 0 "$RIPPLE" build --runner native --all --force
expect_out '^done: 4 built'
sums > "$T/sums2"
cmp -s "$T/sums1" "$T/sums2" || fail "rebuilt packages differ: $(diff "$T/sums1" "$T/sums2")"

# ---- a wrong digest fails and caches nothing --------------------------------------------
ls .ripple/cache > "$T/cache1"
sed "s/$sha/$(echo "$sha" | tr 0-9a-f 1-9a-f0)/; s/name: libhello$/name: libhello2/" libhello.yaml |
	sed 's/libhello-dev$/libhello2-dev/' > libhello2.yaml
run 1 "$RIPPLE" build --runner native libhello2
expect_out "checksum mismatch: expected sha256 "
ls .ripple/cache > "$T/cache2"
cmp -s "$T/cache1" "$T/cache2" || fail "a bad download was cached: $(cat "$T/cache2")"
rm libhello2.yaml

# ---- no network inside the sandbox ---------------------------------------------------------
cat > online.yaml <<EOY
package:
  name: online
  version: 1
  epoch: 0
  description: tries the network
pipeline:
  - runs: python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$port/')"
EOY
run 1 "$RIPPLE" build --runner native online
expect_out 'FAILED online'
grep -q 'Connection refused\|unreachable\|Errno' .ripple/logs/*/$arch/online.log ||
	fail "online's log: $(cat .ripple/logs/*/$arch/online.log)"
rm online.yaml

# ---- git-checkout (libgit2, expected commit checked) and a patch from the source dir -------
# A local repository reaches a build only through a source mirror directory.
mkdir -p "$T/gitsrc" gitpkg
cp .ripple.yaml "$T/ripple.yaml.saved"
printf 'source-mirrors:\n  "https://git.example.com/": "%s/"\n' "$T" >> .ripple.yaml
(cd "$T/gitsrc" && git init -q && echo 'version one' > msg && git add msg &&
	git -c user.name=t -c user.email=t@t commit -qm one && git tag v1 &&
	echo 'version two' > msg && git -c user.name=t -c user.email=t@t commit -qam two)
v1=$(git -C "$T/gitsrc" rev-parse v1)
cat > gitpkg/fix.patch <<'EOP'
--- a/msg
+++ b/msg
@@ -1 +1 @@
-version one
+version one, patched
EOP
cat > gitpkg.yaml <<EOY
package:
  name: gitpkg
  version: 1
  epoch: 0
  description: from git, patched
pipeline:
  - uses: git-checkout
    with:
      repository: https://git.example.com/gitsrc
      tag: v1
      expected-commit: $v1
      destination: src
  - uses: patch
    with:
      patches: ../fix.patch
    working-directory: src
  - runs: install -Dm644 src/msg \${{targets.destdir}}/usr/share/gitpkg/msg
EOY
# libgit2 1.5's clone leaks (tests/lsan-libgit2.supp); only an ASan build reads this.
LSAN_OPTIONS=fast_unwind_on_malloc=0:suppressions=$RPL_SOURCE_DIR/tests/lsan-libgit2.supp
export LSAN_OPTIONS
run 0 "$RIPPLE" build --runner native gitpkg
grep -q "git-checkout: https://git.example.com/gitsrc at $v1" .ripple/logs/*/$arch/gitpkg.log ||
	fail "gitpkg's log: $(cat .ripple/logs/*/$arch/gitpkg.log)"
mkdir -p "$T/gitroot"
gzip -dc "packages/$arch/gitpkg-1-r0.apk" | tar -xf - -C "$T/gitroot" --exclude='.*' 2>/dev/null
[ "$(cat "$T/gitroot/usr/share/gitpkg/msg")" = "version one, patched" ] ||
	fail "gitpkg's message: $(cat "$T/gitroot/usr/share/gitpkg/msg")"
sed -i "s/expected-commit: $v1/expected-commit: $(git -C "$T/gitsrc" rev-parse HEAD)/" gitpkg.yaml
run 1 "$RIPPLE" build --runner native gitpkg
expect_out "FAILED gitpkg .*git-checkout https://git.example.com/gitsrc: expected commit [0-9a-f]{40}, got $v1"
# Not from the host's files directly, nor climbing out of the mirror.
sed -i "s|repository: .*|repository: file://$T/gitsrc|" gitpkg.yaml
run 1 "$RIPPLE" build --runner native gitpkg
expect_out "FAILED gitpkg .*only https, http and git repositories are cloned"
sed -i "s|repository: .*|repository: https://git.example.com/../gitsrc|" gitpkg.yaml
run 1 "$RIPPLE" build --runner native gitpkg
expect_out "FAILED gitpkg .*must not contain '..': refused"
rm -r gitpkg gitpkg.yaml
mv "$T/ripple.yaml.saved" .ripple.yaml
unset LSAN_OPTIONS

# ---- a foreign arch is refused, not built wrongly ------------------------------------------
other=aarch64
[ "$arch" = aarch64 ] && other=x86_64
# (No binfmt_misc handler runs it here: tests/e2e/0056-native-emulated.sh builds with one.)
mkdir "$T/nobinfmt"
echo enabled > "$T/nobinfmt/status"
run 2 env RIPPLE_BINFMT_DIR="$T/nobinfmt" "$RIPPLE" native-build greeting.yaml --arch $other
expect_err "cannot build for $other on this $arch machine: no binfmt_misc handler for $other"

# ---- the meson pipelines: configure, compile, install ------------------------------------
if command -v meson >/dev/null; then
	mkdir -p mesonpkg
	cat > mesonpkg/meson.build <<'EOM'
project('counter', 'c')
executable('counter', 'counter.c', install: true)
EOM
	printf '#include <stdio.h>\nint main(void) { printf("3 2 1\\n"); return 0; }\n' > mesonpkg/counter.c
	cat > mesonpkg.yaml <<'EOY'
package:
  name: mesonpkg
  version: 1
  epoch: 0
  description: built with meson
pipeline:
  - uses: meson/configure
  - uses: meson/compile
  - uses: meson/install
EOY
	run 0 "$RIPPLE" build --runner native mesonpkg
	mkdir -p "$T/mesonroot"
	gzip -dc "packages/$arch/mesonpkg-1-r0.apk" | tar -xf - -C "$T/mesonroot" --exclude='.*' 2>/dev/null
	[ "$("$T/mesonroot/usr/bin/counter")" = "3 2 1" ] || fail "meson's program: $(ls -R "$T/mesonroot")"
	rm -r mesonpkg mesonpkg.yaml
else
	echo "meson is not installed: the meson pipelines are not tested" >&2
fi

# ---- ripple index ------------------------------------------------------------------------
mkdir -p "$T/loose"
cp "packages/$arch/greeting-2.1-r3.apk" "packages/$arch/langs-0.5-r0.apk" "$T/loose/"
run 0 "$RIPPLE" index "$T/loose" --signing-key local.rsa
expect_out 'APKINDEX.tar.gz: 2 packages merged, signed'
run 0 "$RIPPLE" native-build --help
expect_out '^usage: ripple native-build FILE'

# ---- a failing step is named, with the pipeline it came from -----------------------------
mkdir -p pipelines
printf 'name: fails\npipeline:\n  - runs: |\n      echo about to fail\n      exit 3\n' > pipelines/fails.yaml
cat > failing.yaml <<'EOY'
package:
  name: failing
  version: 1
  epoch: 0
  description: fails
pipeline:
  - name: prepare
    runs: "true"
  - uses: fails
EOY
run 1 "$RIPPLE" native-build failing.yaml
expect_err "ripple: step 'echo about to fail' of the pipeline fails: the step exited with status 3$"
sed -i 's/- uses: fails/- name: compile\n    runs: exit 4/' failing.yaml
run 1 "$RIPPLE" native-build failing.yaml
expect_err "ripple: step compile: the step exited with status 4$"
! grep -q ': : ' "$T/err" || fail "an empty field in: $(cat "$T/err")"
rm -r failing.yaml pipelines/fails.yaml
