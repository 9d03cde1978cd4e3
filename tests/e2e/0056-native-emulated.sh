#!/bin/sh
# The native builder and an arch that is not the host's.  Without a
# binfmt_misc handler for it (a binfmt directory of our own, through
# RIPPLE_BINFMT_DIR), or without a sysroot for it, `ripple native-build`
# and `ripple build` refuse it before anything starts: exit 2, the reason.
# With the machine's qemu-user handler and an aarch64 userland made by
# scripts/make-sysroot (Debian's arm64 busybox, libc and tcc), a library
# and a program that links it are built for x86_64 and aarch64 in one run:
# the aarch64 steps (and hello's test, --test) run aarch64 programs under
# qemu in the sysroot, and the packaged ELF files are AArch64 ones
# (readelf -h), which run in that userland and print what the library says.
. "$(dirname "$0")/lib.sh"
need_sandbox readelf
[ "$arch" = x86_64 ] || skip "this test emulates aarch64 on an x86_64 host, not on $arch"
other=aarch64

mkdir -p "$T/repo"
cd "$T/repo"
cat > libgreet.yaml <<'EOY'
package:
  name: libgreet
  version: 1.0
  epoch: 0
  description: a greeting library
pipeline:
  - runs: |
      printf 'const char *greet(void);\n' > greet.h
      printf 'const char *greet(void) { return "hello from libgreet"; }\n' > greet.c
      cc -shared -fPIC -o libgreet.so.1 -Wl,-soname,libgreet.so.1 greet.c
      mkdir -p ${{targets.destdir}}/usr/lib ${{targets.destdir}}/usr/include
      cp libgreet.so.1 ${{targets.destdir}}/usr/lib/
      ln -s libgreet.so.1 ${{targets.destdir}}/usr/lib/libgreet.so
      cp greet.h ${{targets.destdir}}/usr/include/
EOY
cat > hello.yaml <<'EOY'
package:
  name: hello
  version: 2.1
  epoch: 0
  description: says hello
environment:
  contents:
    packages:
      - libgreet
pipeline:
  - runs: |
      echo "the step runs on $(uname -m)"
      cat > hello.c <<'EOF'
      #include <stdio.h>
      #include <greet.h>
      int main(void) { printf("%s\n", greet()); return 0; }
      EOF
      cc -o hello hello.c -lgreet
      mkdir -p ${{targets.destdir}}/usr/bin
      cp hello ${{targets.destdir}}/usr/bin/hello
test:
  pipeline:
    - runs: |
        echo "the test runs on $(uname -m)"
        hello | grep -x 'hello from libgreet'
EOY
printf 'archs: [%s, %s]\nsigning-key: local.rsa\n' "$arch" "$other" > .ripple.yaml
run 0 "$RIPPLE" keygen local.rsa --bits 2048
git init -q
git add -A
git -c user.name=t -c user.email=t@t commit -qm init
export SOURCE_DATE_EPOCH=1700000000

# nothing_started: the refused run left no package, log or run behind.
nothing_started() {
	[ ! -e packages ] || fail "a refused build wrote packages/: $(find packages)"
	[ ! -e .ripple/logs ] || fail "a refused build started jobs: $(find .ripple/logs)"
	! grep -q '^start ' "$T/out" || fail "a refused build started a job: $(cat "$T/out")"
}

# ---- no handler: refused before starting, with the reason ----------------------------------
mkdir -p "$T/binfmt-none" "$T/binfmt-disabled"
echo enabled > "$T/binfmt-none/status"
echo enabled > "$T/binfmt-disabled/status"
printf 'disabled\ninterpreter /usr/libexec/qemu-binfmt/aarch64-binfmt-P\nflags: PF\noffset 0\nmagic 7f454c460201010000000000000000000200b700\nmask ffffffffffffff00fffffffffffffffffeffffff\n' \
	> "$T/binfmt-disabled/qemu-aarch64"
why_none="cannot build for $other on this $arch machine.*: no binfmt_misc handler for $other ELF programs is registered in $T/binfmt-none"
run 2 env RIPPLE_BINFMT_DIR="$T/binfmt-none" "$RIPPLE" native-build hello.yaml --arch $other
expect_err "^ripple: $why_none"
nothing_started
run 2 env RIPPLE_BINFMT_DIR="$T/binfmt-none" "$RIPPLE" build --runner native
expect_err "^ripple: $why_none"
[ "$(grep -c . "$T/err")" = 1 ] || fail "more than one line of error: $(cat "$T/err")"
nothing_started
run 2 env RIPPLE_BINFMT_DIR="$T/binfmt-none" "$RIPPLE" build --runner native --arch $other hello
expect_err "^ripple: $why_none"
nothing_started
run 2 env RIPPLE_BINFMT_DIR="$T/binfmt-disabled" "$RIPPLE" build --runner native --arch $other
expect_err "binfmt_misc handler $T/binfmt-disabled/qemu-aarch64 would run aarch64 programs, but it is disabled"
nothing_started
run 2 env RIPPLE_BINFMT_DIR="$T/nowhere" "$RIPPLE" build --runner native --arch $other
expect_err "binfmt_misc is not mounted at $T/nowhere"
nothing_started
# The host's arch alone needs no handler.
run 0 env RIPPLE_BINFMT_DIR="$T/binfmt-none" "$RIPPLE" build --runner native --arch "$arch"
expect_out '^done: 2 built, 0 failed'
rm -rf packages .ripple

# ---- the machine's handler and an aarch64 userland ---------------------------------------
sysroot=${RPL_SYSROOT_AARCH64:-/var/cache/ripple/sysroot/aarch64}
[ -x "$sysroot/bin/busybox" ] ||
	skip "no aarch64 userland at $sysroot (scripts/setup makes it; or scripts/make-sysroot aarch64 DIR and RPL_SYSROOT_AARCH64=DIR)"
# Its busybox runs here only through a registered binfmt handler for aarch64.
[ "$("$sysroot/bin/busybox" uname -m 2>/dev/null)" = aarch64 ] ||
	skip "no binfmt_misc handler runs aarch64 programs here (install qemu-user-static and binfmt-support)"

# A handler, but no sysroot: refused, saying what to set.
run 2 "$RIPPLE" build --runner native --arch $other
expect_err "cannot build for $other on this $arch machine with the native runner: .* runs aarch64 programs, but the steps need a userland of that arch: name a root filesystem for aarch64 with .sysroots: \{aarch64: DIR\}. in .ripple.yaml"
nothing_started
# A sysroot of the wrong arch, named in .ripple.yaml: refused at its position.
mkdir -p "$T/x86root/usr/local" "$T/x86root/bin"
cp /bin/true "$T/x86root/bin/sh"
printf 'sysroots:\n  arm64: %s\n' "$T/x86root" >> .ripple.yaml
run 2 "$RIPPLE" build --runner native --arch $other
expect_err "\.ripple\.yaml:4:10: the sysroot $T/x86root is for x86_64, not aarch64"
nothing_started

# The real one: both archs in one run.
printf 'archs: [%s, %s]\nsigning-key: local.rsa\nsysroots:\n  arm64: %s\n' "$arch" "$other" "$sysroot" > .ripple.yaml
run 0 "$RIPPLE" build --runner native -j 2 --test
expect_out '^done: 4 built, 0 failed, 0 skipped'
log=$(ls .ripple/logs/*/$other/hello.log)
grep -q '^the step runs on aarch64$' "$log" || fail "the aarch64 step did not run on aarch64: $(cat "$log")"
grep -q '^the test runs on aarch64$' "$log" || fail "the aarch64 test did not run on aarch64: $(cat "$log")"
grep -q '^hello from libgreet$' "$log" || fail "the aarch64 test did not run hello: $(cat "$log")"
grep -q "aarch64 programs run under emulation (binfmt_misc .*), in the sysroot $sysroot" "$log" ||
	fail "the log does not say how the step ran: $(cat "$log")"
grep -q 'installed in the sandbox from packages/aarch64 (under /usr/local): libgreet-1.0-r0' "$log" ||
	fail "libgreet for aarch64 was not installed for hello: $(cat "$log")"
grep -q '^the step runs on x86_64$' .ripple/logs/*/"$arch"/hello.log || fail "the x86_64 step"

# unpack ARCH PKG: the apk's files in $T/x/ARCH/PKG.
unpack() {
	mkdir -p "$T/x/$1/$2"
	tar -xzf "packages/$1/$2.apk" -C "$T/x/$1/$2" 2>/dev/null || fail "cannot unpack packages/$1/$2.apk"
}
for a in "$arch" "$other"; do
	unpack "$a" hello-2.1-r0
	unpack "$a" libgreet-1.0-r0
	grep -qx "arch = $a" "$T/x/$a/hello-2.1-r0/.PKGINFO" || fail "hello's .PKGINFO for $a: $(cat "$T/x/$a/hello-2.1-r0/.PKGINFO")"
done
machine() { readelf -h "$1" | sed -n 's/^ *Machine: *//p'; }
[ "$(machine "$T/x/$other/hello-2.1-r0/usr/bin/hello")" = AArch64 ] ||
	fail "hello for aarch64 is $(machine "$T/x/$other/hello-2.1-r0/usr/bin/hello")"
[ "$(machine "$T/x/$other/libgreet-1.0-r0/usr/lib/libgreet.so.1")" = AArch64 ] ||
	fail "libgreet for aarch64 is $(machine "$T/x/$other/libgreet-1.0-r0/usr/lib/libgreet.so.1")"
[ "$(machine "$T/x/$arch/hello-2.1-r0/usr/bin/hello")" = "Advanced Micro Devices X86-64" ] ||
	fail "hello for x86_64 is $(machine "$T/x/$arch/hello-2.1-r0/usr/bin/hello")"
# The aarch64 package says what it needs from aarch64's libc.
grep -qx 'depend = so:ld-linux-aarch64.so.1' "$T/x/$other/hello-2.1-r0/.PKGINFO" ||
	fail "hello's .PKGINFO for aarch64 lacks the aarch64 loader: $(cat "$T/x/$other/hello-2.1-r0/.PKGINFO")"
# The program runs in the aarch64 userland, with its library.
run 0 bwrap --ro-bind "$sysroot/usr" /usr --ro-bind "$sysroot/lib" /lib --ro-bind "$sysroot/bin" /bin \
	--ro-bind "$T/x/$other/libgreet-1.0-r0/usr/lib" /greet \
	--ro-bind "$T/x/$other/hello-2.1-r0/usr/bin/hello" /hello --dev /dev --proc /proc \
	--unshare-all --setenv LD_LIBRARY_PATH /greet /hello
expect_out '^hello from libgreet$'
# native-build alone, its sysroot named by --sysroot (none in .ripple.yaml).
printf 'archs: [%s, %s]\n' "$arch" "$other" > .ripple.yaml
run 2 "$RIPPLE" native-build libgreet.yaml --arch $other --out-dir "$T/again"
expect_err 'but the steps need a userland of that arch'
run 0 "$RIPPLE" native-build libgreet.yaml --arch $other --out-dir "$T/again" --sysroot "$sysroot"
expect_out "aarch64 programs run under emulation .*, in the sysroot $sysroot"
[ -f "$T/again/$other/libgreet-1.0-r0.apk" ] || fail "native-build --sysroot wrote no apk"
# The index of aarch64 lists both.
run 0 python3 - "packages/$other/APKINDEX.tar.gz" <<'PY'
import sys, tarfile
t = tarfile.open(sys.argv[1], "r:gz")
text = t.extractfile("APKINDEX").read().decode()
recs = [dict(l.split(":", 1) for l in r.splitlines()) for r in text.strip().split("\n\n")]
assert sorted((r["P"], r["A"]) for r in recs) == [("hello", "aarch64"), ("libgreet", "aarch64")], recs
PY
exit 0
