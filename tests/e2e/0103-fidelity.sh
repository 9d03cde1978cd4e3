#!/bin/sh
# Reading what melange and apko read (issue 14): a repository whose recipe
# is `.melange.yaml` at the root (melange's default config; built from the
# root, its outputs not among its inputs) and images named `.apko.yaml`; a
# broken recipe that claims no name; target-architecture spellings melange
# would match to nothing; apko's own examples with `include:` (resolved from
# the root, then the image's directory); an entrypoint type other than
# service-bundle; a `uses:` step's own needs as build dependencies; and
# melange/apko options given to the native runner.
. "$(dirname "$0")/lib.sh"

# ---- .melange.yaml and .apko.yaml ----------------------------------------------------
mkdir -p "$T/proj/web" "$T/proj/pipelines"
cd "$T/proj" || fail "cannot enter $T/proj"
cat > .melange.yaml <<'EOY'
package:
  name: proj
  version: 1.0.0
  epoch: 0
  description: a project built from its own tree
  copyright:
    - license: MIT
pipeline:
  - runs: |
      mkdir -p "${{targets.destdir}}/usr/share/proj"
      cp main.txt "${{targets.destdir}}/usr/share/proj/main.txt"
EOY
echo one > main.txt
cat > web/.apko.yaml <<'EOY'
contents:
  packages:
    - proj
entrypoint:
  type: systemd
  command: /usr/bin/serve
EOY
run 0 "$RIPPLE" ls
expect_out '^package proj 1\.0\.0-r0 \[[a-z0-9_]+\] \.melange\.yaml$'
expect_out '^image web '
run 0 "$RIPPLE" show proj --json
python3 - "$T/out" <<'EOP' || fail "show proj: the root source dir's inputs are wrong"
import json, sys
d = json.load(open(sys.argv[1]))
ins = d["inputs"]
assert "main.txt" in ins and ".melange.yaml" in ins, ins
EOP

# ---- a broken recipe claims no name; arch spellings ------------------------------------
mkdir -p "$T/dup"
cd "$T/dup" || fail "cannot enter $T/dup"
recipe same > b-good.yaml
cat > a-broken.yaml <<'EOY'
package:
  name: same
  version: 1.0.0
pipeline:
  - uses: no/such/pipeline
EOY
run 2 "$RIPPLE" ls
expect_out '^package same 1\.0\.0-r0 .* b-good\.yaml$'
only_err 'a-broken\.yaml' "^a-broken\.yaml:5:11: unknown pipeline 'no/such/pipeline'"
grep -q 'already defined' "$T/err" && fail "a broken recipe claimed its name: $(cat "$T/err")"

mkdir -p "$T/arch"
cd "$T/arch" || fail "cannot enter $T/arch"
recipe ok > ok.yaml
cat > bad.yaml <<'EOY'
package:
  name: bad
  version: 1.0.0
  target-architecture:
    - amd64
EOY
run 2 "$RIPPLE" ls
only_err 'bad\.yaml' "^bad\.yaml:5:7: target-architecture: 'amd64' is not melange's name for an architecture .*write 'x86_64'$"
expect_out '^package ok '

# ---- apko's examples with includes ----------------------------------------------------
mkdir -p "$T/apko/examples"
cd "$T/apko" || fail "cannot enter $T/apko"
printf 'images: [examples/*.yaml]\n' > .ripple.yaml
cat > examples/alpine-base.yaml <<'EOY'
contents:
  packages:
    - alpine-baselayout
entrypoint:
  command: /bin/sh -l
EOY
printf 'include: examples/alpine-base.yaml\n' > examples/include.yaml
printf 'include: examples/alpine-base.yaml\n\ncontents:\n  packages:\n    - nano\n' \
	> examples/overlay.yaml
run 0 "$RIPPLE" show overlay --json
json_eq 'd["packages"]' "['alpine-baselayout', 'nano']"
json_eq 'd["inputs"]' "['examples/alpine-base.yaml', 'examples/overlay.yaml']"
run 0 "$RIPPLE" show include --json
json_eq 'd["entrypoint"]["command"]' "/bin/sh -l"

# ---- a uses: step's own needs are build dependencies -------------------------------------
mkdir -p "$T/needs/pipelines"
cd "$T/needs" || fail "cannot enter $T/needs"
printf 'runs: echo plain\n' > pipelines/plain.yaml
recipe tool > tool.yaml
cat > app.yaml <<'EOY'
package:
  name: app
  version: 1.0.0
pipeline:
  - uses: plain
    needs:
      packages:
        - tool
EOY
run 0 "$RIPPLE" graph --json
python3 - "$T/out" <<'EOP' || fail "app's own step needs are not a build edge to tool: $(cat "$T/out")"
import json, sys
g = json.load(open(sys.argv[1]))
g = g[0] if isinstance(g, list) else g
edges = [(e["from"], e["to"]) for e in g["edges"] if e["kind"] == "build"]
assert ("app", "tool") in edges, edges
EOP

# ---- melange and apko options with the native runner ---------------------------------------
cd "$T/proj" || fail "cannot enter $T/proj"
run 2 "$RIPPLE" build --runner native --container-runner docker --dry-run
expect_err "^ripple: --container-runner is an option for melange: --runner native builds packages without it$"
run 2 "$RIPPLE" build --runner native --runner-arg=--debug --dry-run
expect_err "^ripple: --runner-arg is an option for melange"
run 2 "$RIPPLE" build --runner native --apko-arg=--debug --dry-run
expect_err "^ripple: --apko-arg is an option for apko: --runner native assembles images without it$"
if ! command -v melange >/dev/null && ! command -v apko >/dev/null; then
	# --runner auto picks the native builders here: the options are not used, and said so.
	run 0 "$RIPPLE" build --container-runner docker --apko-arg=--debug --dry-run
	expect_err "warning: --container-runner is not used: melange is not on PATH"
	expect_err "warning: --apko-arg is not used: apko is not on PATH"
fi

# ---- building from the root: the outputs are not inputs --------------------------------------
need_sandbox
cd "$T/proj" || fail "cannot enter $T/proj"
printf 'archs: [%s]\n' "$arch" > .ripple.yaml
run 0 "$RIPPLE" build --runner native
expect_out '^done: 2 built, 0 failed, 0 skipped'
tar -xzOf "packages/$arch/proj-1.0.0-r0.apk" usr/share/proj/main.txt 2>/dev/null | grep -qx one ||
	fail "the package does not hold main.txt from the root"
# The image with entrypoint type systemd is assembled, its command the entrypoint.
grep -rlqF '"Entrypoint":["/usr/bin/serve"]' images/web/blobs/sha256 ||
	fail "images/web has no config with the entrypoint /usr/bin/serve"
# No signing key, so packages/ has an unsigned index: apko would refuse it,
# the native assembler uses it and warns.
grep -rq "warning: packages/$arch/APKINDEX.tar.gz is not signed (apko would refuse it)" .ripple/logs/1 ||
	fail "no warning about the unsigned index in .ripple/logs/1: $(cat .ripple/logs/1/*/* 2>/dev/null)"
run 0 "$RIPPLE" show proj --json
python3 - "$T/out" <<'EOP' || fail "ripple's outputs became the root recipe's inputs"
import json, sys
ins = json.load(open(sys.argv[1]))["inputs"]
assert not [i for i in ins if i.startswith(("packages/", "images/"))], ins
EOP
run 0 "$RIPPLE" build --runner native
expect_out '^nothing to build'
echo two > main.txt
run 0 "$RIPPLE" build --runner native
expect_out '^done: 2 built, 0 failed, 0 skipped'
tar -xzOf "packages/$arch/proj-1.0.0-r0.apk" usr/share/proj/main.txt 2>/dev/null | grep -qx two ||
	fail "the rebuilt package does not hold the new main.txt"
exit 0
