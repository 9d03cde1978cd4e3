#!/bin/sh
# The graph commands on a small monorepo with a cycle, a subpackage, an
# image and names only an external APKINDEX provides (read from a local dir
# and over HTTP from a server on 127.0.0.1).
. "$(dirname "$0")/lib.sh"

mkdir -p "$T/repo"
cd "$T/repo"
pkg() { # pkg NAME VERSION NEEDS...
	n=$1 v=$2
	shift 2
	printf 'package:\n  name: %s\n  version: %s\nenvironment:\n  contents:\n    packages:\n' "$n" "$v"
	for d in "$@"; do printf '      - %s\n' "$d"; done
	printf 'subpackages:\n  - name: %s-dev\n' "$n"
}
pkg zlib 1.3.1 make > zlib.yaml
pkg make 4.4 busybox > make.yaml
pkg busybox 1.37.0 make-dev > busybox.yaml
pkg app 2.0 zlib-dev 'toolchain>=2' > app.yaml
cat > app-image.apko.yaml <<'EOY'
contents:
  packages:
    - app
EOY

# A 2-cycle: either order has one back edge; ties go by name.
run 0 "$RIPPLE" cycles --json --arch x86_64
json_eq '[c["members"] for c in d]' "[['busybox', 'make']]"
json_eq '[(e["from"], e["to"], e["back"]) for e in d[0]["edges"]]' \
	"[('busybox', 'make', True), ('make', 'busybox', False)]"
json_eq 'd[0]["back_edges"]' 1
run 0 "$RIPPLE" cycles --arch x86_64
expect_out '^cycle 1: 2 packages, 2 edges within, 1 back edge$'
expect_out '^  busybox  \[back: make\]$'
expect_out '^  make -> busybox$'
expect_out '^1 cycle, 2 packages, 1 back edge$'

run 0 "$RIPPLE" text -t name --arch x86_64
[ "$(tr '\n' ' ' < "$T/out")" = "busybox make zlib app " ] || fail "order: $(tr '\n' ' ' < "$T/out")"
run 0 "$RIPPLE" text --arch x86_64
expect_out '^make packages/x86_64/app-2.0-r0.apk$'
run 0 "$RIPPLE" text -t makefile --arch x86_64
expect_out '^\$\(eval \$\(call build-package,zlib,1.3.1-0\)\)$'
run 2 "$RIPPLE" text -t bogus
expect_err "unknown text type 'bogus'"

run 0 "$RIPPLE" graph --format json --arch x86_64
json_eq 'sorted((n["name"], n["kind"]) for n in d["nodes"])' "[('app', 'package'), ('app-image', 'image'), ('busybox', 'package'), ('make', 'package'), ('toolchain', 'external'), ('zlib', 'package')]"
json_eq '[(e["from"], e["to"], e["kind"]) for e in d["edges"] if e["from"] == "app"]' "[('app', 'zlib', 'build'), ('app', 'toolchain', 'build')]"
json_eq '[n["source"] for n in d["nodes"] if n["name"] == "toolchain"]' '[None]'
json_eq 'len(set(n["scc"] for n in d["nodes"] if n["name"] in ("make", "busybox")))' 1

run 0 "$RIPPLE" graph --format dot --arch x86_64 app --deps --depth 1
expect_out '"app" -> "zlib";'
if grep -q '"zlib" -> "make"' "$T/out"; then fail "--depth 1 went further"; fi

run 0 "$RIPPLE" deps app --arch x86_64
[ "$(tr '\n' ' ' < "$T/out")" = "busybox make toolchain (external, unresolved) zlib " ] || fail "deps: $(tr '\n' ' ' < "$T/out")"
run 0 "$RIPPLE" rdeps make-dev --arch x86_64
[ "$(tr '\n' ' ' < "$T/out")" = "busybox zlib app app-image (image) " ] || fail "rdeps: $(tr '\n' ' ' < "$T/out")"
run 0 "$RIPPLE" rdeps zlib --arch x86_64 --json
json_eq '[x["name"] for x in d]' "['app', 'app-image']"
run 2 "$RIPPLE" deps nosuch
expect_err "no package or image named 'nosuch'"

# An external index resolves `toolchain`, from a dir and over HTTP.
mkdir -p "$T/ext/x86_64"
python3 - "$T/ext/x86_64/APKINDEX.tar.gz" <<'PY'
import io, sys, tarfile
text = b"C:Q1AAAAAAAAAAAAAAAAAAAAAAAAAAA=\nP:toolchain\nV:2.5-r0\nA:x86_64\nS:1\nI:1\nT:t\no:toolchain\n\n"
with tarfile.open(sys.argv[1], "w:gz", format=tarfile.USTAR_FORMAT) as t:
    info = tarfile.TarInfo("APKINDEX"); info.size = len(text)
    t.addfile(info, io.BytesIO(text))
PY
run 0 "$RIPPLE" graph --format json --arch x86_64 -r "$T/ext"
json_eq '[(n["version"], n["source"]) for n in d["nodes"] if n["name"] == "toolchain"]' "[('2.5-r0', '$T/ext/x86_64/APKINDEX.tar.gz')]"

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
(cd "$T/ext" && exec python3 -m http.server --bind 127.0.0.1 "$port") >/dev/null 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; rm -rf "$T"' EXIT INT TERM
for i in 1 2 3 4 5 6 7 8 9 10; do
	python3 -c "import socket; socket.create_connection(('127.0.0.1', $port), 1)" 2>/dev/null && break
	sleep 0.3
done
run 0 "$RIPPLE" deps app --arch x86_64 -r "http://127.0.0.1:$port"
expect_out '^toolchain \(external\)$'
run 2 "$RIPPLE" deps app --arch x86_64 -r "http://127.0.0.1:$port/missing"
expect_err "HTTP 404"

run 0 "$RIPPLE" vercmp 1.0_rc1-r0 1.0-r0
expect_out '^<$'
run 0 "$RIPPLE" vercmp 1.10 1.9
expect_out '^>$'
run 0 "$RIPPLE" vercmp 2.0-r0 2.0-r0
expect_out '^=$'
run 2 "$RIPPLE" vercmp 1.0 v1
expect_err "'v1' is not a valid apk version"
for c in text graph deps rdeps cycles vercmp; do
	run 0 "$RIPPLE" $c --help
	expect_out "^usage: ripple $c"
done
