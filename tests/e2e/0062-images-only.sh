#!/bin/sh
# A monorepo of images only: no recipe, so packages/<arch>/ is never
# written, and every package comes from an external repository served over
# HTTP on 127.0.0.1 (apks made with `ripple native-build` and `ripple
# index`).  The missing local repository counts as empty, as for apko (a
# warning); one that is there but is not an APKINDEX is still an error.
# Both runners: ripple's own assembler, and the external one (the apko
# stand-in of tests/e2e/bin, which does not read repositories, so that part
# only shows that ripple's side of the run does not trip on the missing
# directory).
. "$(dirname "$0")/lib.sh"
need_sandbox

# ---- the external repository: two packages, one needing the other ----------------------
mkdir -p "$T/ext" "$T/www" "$T/repo"
cd "$T/ext"
run 0 "$RIPPLE" keygen ext.rsa --bits 2048
cat > greeting.yaml <<'EOY'
package:
  name: greeting
  version: 2.0
  epoch: 3
  description: words
  dependencies:
    runtime:
      - greeting-data
pipeline:
  - runs: mkdir -p ${{targets.destdir}}/usr/bin && printf '#!/bin/sh\necho hi\n' > ${{targets.destdir}}/usr/bin/greet
EOY
cat > greeting-data.yaml <<'EOY'
package:
  name: greeting-data
  version: 1
  epoch: 0
  description: the words themselves
pipeline:
  - runs: mkdir -p ${{targets.destdir}}/usr/share/greeting && echo hello > ${{targets.destdir}}/usr/share/greeting/words
EOY
for r in greeting greeting-data; do
	run 0 "$RIPPLE" native-build "$r.yaml" --arch "$arch" --out-dir "$T/www" --signing-key ext.rsa \
		--source-date-epoch 1700000000
done
run 0 "$RIPPLE" index "$T/www/$arch" --signing-key ext.rsa
expect_out '2 packages merged, signed'

port=$(free_port)
python3 -m http.server "$port" --bind 127.0.0.1 --directory "$T/www" >/dev/null 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; rm -rf "$T"' EXIT INT TERM
wait_port "$port" "the HTTP server"

# ---- the monorepo: one image, no recipes -------------------------------------------------
cd "$T/repo"
cp "$T/ext/ext.rsa.pub" .
printf 'archs: [%s]\n' "$arch" > .ripple.yaml
mkdir images
cat > images/app.apko.yaml <<EOY
contents:
  keyring:
    - ./ext.rsa.pub
  repositories:
    - http://127.0.0.1:$port
  packages:
    - greeting
entrypoint:
  command: /usr/bin/greet
archs:
  - $arch
EOY
git init -q
git add -A
git -c user.name=t -c user.email=t@t commit -qm init
export SOURCE_DATE_EPOCH=1700000000

# ---- ripple's assembler ------------------------------------------------------------------
run 0 "$RIPPLE" build --runner native
expect_out '^done: 1 built, 0 failed, 0 skipped'
[ ! -e packages ] || fail "an images-only build wrote packages/: $(find packages)"
log=$(ls .ripple/logs/*/"$arch"/app.log.image)
grep -q "warning: repository packages: no packages/$arch/APKINDEX.tar.gz, taken as empty" "$log" ||
	fail "no warning about the missing local repository: $(cat "$log")"
grep -q 'installed greeting-data-1-r0' "$log" || fail "greeting-data not installed: $(cat "$log")"
grep -q 'installed greeting-2.0-r3' "$log" || fail "greeting not installed: $(cat "$log")"
man=$(cat "images/app/$arch.manifest")
python3 - images/app "$man" <<'PY' || fail "the image's layer"
import json, sys, tarfile
d = sys.argv[1] + "/blobs/sha256/"
m = json.load(open(d + sys.argv[2].split(":")[1]))
t = tarfile.open(d + m["layers"][0]["digest"].split(":")[1], "r:gz")
names = set(t.getnames())
assert "usr/bin/greet" in names and "usr/share/greeting/words" in names, sorted(names)
inst = t.extractfile("usr/lib/apk/db/installed").read().decode()
assert "P:greeting\nV:2.0-r3\n" in inst and "P:greeting-data\nV:1-r0\n" in inst, inst
PY

# Run again: nothing to do.
run 0 "$RIPPLE" build --runner native
expect_out '^nothing to build: '

# A local repository that is there but is not an index is still an error.
mkdir -p "packages/$arch"
echo 'not a gzip' > "packages/$arch/APKINDEX.tar.gz"
run 1 "$RIPPLE" native-image images/app.apko.yaml --arch "$arch" --out-dir "$T/bad" \
	--repository-append packages
expect_err "packages/$arch/APKINDEX.tar.gz.*(not an APKINDEX|gzip|Unrecognized)"
[ ! -e "$T/bad/app/index.json" ] || fail "a failed image left an index"
rm -rf packages

# A missing local repository given on the command line: a warning, the image is made.
run 0 "$RIPPLE" native-image images/app.apko.yaml --arch "$arch" --out-dir "$T/again" \
	--repository-append "$T/nowhere"
expect_err "warning: repository $T/nowhere: no $T/nowhere/$arch/APKINDEX.tar.gz, taken as empty"
cmp -s "$T/again/app/$arch.manifest" "images/app/$arch.manifest" ||
	fail "the same image from native-image has another digest"

# ---- the external runner (the apko stand-in) --------------------------------------------
STANDIN_DIR=$T/standin
mkdir -p "$STANDIN_DIR"
export STANDIN_DIR
run 0 env PATH="$RPL_SOURCE_DIR/tests/e2e/bin:$PATH" "$RIPPLE" build --runner external --force
expect_out '^done: 1 built, 0 failed, 0 skipped'
[ -f "images/app/$arch.tar" ] || fail "no images/app/$arch.tar from the apko stand-in"
grep -q "^start app $arch " "$STANDIN_DIR/events" || fail "apko did not run: $(cat "$STANDIN_DIR/events")"
[ ! -e packages ] || fail "an images-only build wrote packages/"
exit 0
