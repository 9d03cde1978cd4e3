#!/bin/sh
# ripple ls lists recipes and images of a small monorepo, as text and JSON.
. "$(dirname "$0")/lib.sh"

mkdir -p "$T/repo/pipelines" "$T/repo/foo"
cd "$T/repo"
recipe foo 1.2.3 > foo.yaml
echo 'patch' > foo/fix.patch
cat > bar.yaml <<'EOY'
package:
  name: bar
  version: 2.0_rc1
  epoch: 3
  dependencies:
    provides:
      - bar-virtual=${{package.full-version}}
data:
  - name: flavours
    items:
      b: two
      a: one
subpackages:
  - range: flavours
    name: bar-${{range.key}}
    description: ${{range.value}}
  - name: bar-doc
pipeline:
  - uses: local/hello
    with:
      who: world
EOY
mkdir -p pipelines/local
cat > pipelines/local/hello.yaml <<'EOY'
needs:
  packages:
    - busybox
inputs:
  who:
    required: true
pipeline:
  - runs: echo hello ${{inputs.who}}
EOY
cat > base.apko.yaml <<'EOY'
contents:
  packages:
    - foo
entrypoint:
  command: /bin/sh
archs: [x86_64]
EOY
cat > ci.yaml <<'EOY'
on: push
jobs: {}
EOY

run 0 "$RIPPLE" ls --arch x86_64
expect_out '^package bar 2.0_rc1-r3 \(\+3 subpackages\) \[x86_64\] bar.yaml$'
expect_out '^package foo 1.2.3-r0 \[x86_64\] foo.yaml$'
expect_out '^image base base.apko.yaml$'
if grep -q ci.yaml "$T/out"; then fail "ci.yaml is not a recipe"; fi

run 0 "$RIPPLE" -C "$T/repo" ls --json --arch x86_64
json_eq 'len(d)' 3
json_eq '[x["name"] for x in d if x["kind"]=="package"]' "['bar', 'foo']"
json_eq '[x for x in d if x["name"]=="bar"][0]["subpackages"]' "['bar-a', 'bar-b', 'bar-doc']"
json_eq '[x for x in d if x["name"]=="bar"][0]["provides"]' "['bar-virtual=2.0_rc1-r3']"
json_eq '[x for x in d if x["name"]=="bar"][0]["epoch"]' 3

run 0 "$RIPPLE" show -C "$T/repo" --json --arch x86_64 bar
json_eq '[(n["name"], n["via"]) for n in d["build_deps"]]' "[('busybox', 'local/hello')]"
json_eq 'd["pipeline_files"]' "['pipelines/local/hello.yaml']"
json_eq 'd["pipeline"][0]["pipeline"][0]["runs"]' "echo hello world"
json_eq 'd["inputs"]' "['bar.yaml', 'pipelines/local/hello.yaml']"

run 0 "$RIPPLE" show -C "$T/repo" --json foo
json_eq 'd["inputs"]' "['foo.yaml', 'foo/fix.patch']"

run 2 "$RIPPLE" show -C "$T/repo" nosuch
expect_err "no package or image named 'nosuch'"

run 0 "$RIPPLE" ls --help
expect_out '^usage: ripple ls'
run 0 "$RIPPLE" show --help
run 0 "$RIPPLE" --help
run 2 "$RIPPLE" frobnicate
expect_err "unknown command 'frobnicate'"
