#!/bin/sh
# Malformed recipes, part 2: substitution, conditions, pipelines (`uses:`,
# `with:`, repo pipeline files) and errors that span files (duplicate package
# names, apko includes, .ripple.yaml).  Same checks as 0100: one
# `file:line:col: message` line per broken file, ls exits 2 and still lists
# the valid recipe ok (nothing with --strict, only ok with --json), `show` of
# the broken thing exits 2 with the message, `show ok` still works.
# Positions are 1-based; the comment above each case says which character
# they point at.  A bad ${{...}} reference is reported at the start of the
# scalar that holds it.
. "$(dirname "$0")/lib.sh"

# pipeline_file NAME PATH: writes stdin to $T/NAME/PATH (a repo pipeline or
# an included file) before bad_case writes the recipe that uses it.
pipeline_file() {
	mkdir -p "$(dirname "$T/$1/$2")"
	cat >"$T/$1/$2"
}

# --- parse-time substitution -------------------------------------------------

# provides is substituted strictly: "bad-virtual=..." at line 6, col 9.
bad_case provides-var bad.yaml 6:9 "variable 'vars\.nope' not defined" <<'EOF'
package:
  name: bad
  version: 1.0.0
  dependencies:
    provides:
      - bad-virtual=${{vars.nope}}
EOF

# A broken recipe whose name is known is not "missing": `show bad` must not
# claim there is no such package.
show_not_missing() {
	run 2 "$RIPPLE" show -C "$T/provides-var" bad
	if grep -q "no package or image named 'bad'" "$T/err"; then
		cat "$T/err" >&2
		fail "show calls the broken package bad missing"
	fi
}
try show-broken-not-missing show_not_missing

# var-transforms: the match value (line 8, col 12) does not compile.
bad_case transform-regex bad.yaml 8:12 "regex '\(unclosed'.*(compile|parenthes)" <<'EOF'
package:
  name: bad
  version: 1.0.0
vars:
  v: "1.2"
var-transforms:
  - from: ${{vars.v}}
    match: (unclosed
    replace: x
    to: w
EOF

# var-transforms: from (line 5, col 11) names an undefined var.
bad_case transform-from bad.yaml 5:11 "variable 'vars\.v' not defined" <<'EOF'
package:
  name: bad
  version: 1.0.0
var-transforms:
  - from: ${{vars.v}}
    match: a
    replace: b
    to: w
EOF

# var-transforms without 'to': the entry's mapping (line 5, col 5).
bad_case transform-no-to bad.yaml 5:5 "'to' is required" <<'EOF'
package:
  name: bad
  version: 1.0.0
var-transforms:
  - from: x
    match: x
    replace: y
EOF

# range naming data that does not exist: the range value (line 5, col 12).
bad_case range-missing bad.yaml 5:12 'undefined range.*"nope"' <<'EOF'
package:
  name: bad
  version: 1.0.0
subpackages:
  - range: nope
    name: bad-${{range.key}}
EOF

# --- compile-time substitution -----------------------------------------------

# The runs value starts at line 5, col 11.
bad_case runs-var bad.yaml 5:11 "variable 'targets\.nope' not defined" <<'EOF'
package:
  name: bad
  version: 1.0.0
pipeline:
  - runs: echo ${{targets.nope}}
EOF

# targets.subpkgdir exists only in a subpackage's pipeline.
bad_case runs-subpkgdir bad.yaml 5:11 "variable 'targets\.subpkgdir' not defined" <<'EOF'
package:
  name: bad
  version: 1.0.0
pipeline:
  - runs: mkdir -p ${{targets.subpkgdir}}
EOF

# Inside a subpackage's pipeline: the runs value at line 7, col 15.
bad_case runs-var-subpkg bad.yaml 7:15 "variable 'targets\.nope' not defined" <<'EOF'
package:
  name: bad
  version: 1.0.0
subpackages:
  - name: bad-doc
    pipeline:
      - runs: echo ${{targets.nope}}
EOF

# No whitespace-separated words inside ${{ }}: the runs value at line 5, col 11.
bad_case runs-malformed bad.yaml 5:11 "malformed substitution '\\$\{\{ foo bar \}\}'" <<'EOF'
package:
  name: bad
  version: 1.0.0
pipeline:
  - runs: echo ${{ foo bar }}
EOF

# A with value is substituted too: the uri value at line 7, col 12.
bad_case with-var bad.yaml 7:12 "variable 'vars\.nope' not defined" <<'EOF'
package:
  name: bad
  version: 1.0.0
pipeline:
  - uses: fetch
    with:
      uri: https://example.com/bad-${{vars.nope}}.tar.gz
      expected-none: "true"
EOF

# --- conditions --------------------------------------------------------------

# '=' is not an operator (== and != are): the if value at line 6, col 9.
bad_case if-step bad.yaml 6:9 'condition' <<'EOF'
package:
  name: bad
  version: 1.0.0
pipeline:
  - runs: echo hi
    if: ${{build.arch}} = 'x86_64'
EOF

# The same on a subpackage: the if value at line 6, col 9.
bad_case if-subpkg bad.yaml 6:9 'condition' <<'EOF'
package:
  name: bad
  version: 1.0.0
subpackages:
  - name: bad-doc
    if: ${{build.arch}} = 'x86_64'
EOF

# --- uses / with -------------------------------------------------------------

# The uses value at line 5, col 11.
bad_case uses-unknown bad.yaml 5:11 "unknown pipeline 'nope/nope'" <<'EOF'
package:
  name: bad
  version: 1.0.0
pipeline:
  - uses: nope/nope
EOF

bad_case uses-dotdot bad.yaml 5:11 "invalid pipeline name '\.\./evil'" <<'EOF'
package:
  name: bad
  version: 1.0.0
pipeline:
  - uses: ../evil
EOF

# fetch declares no input 'bogus': the key at line 9, col 7.
bad_case with-undeclared bad.yaml 9:7 "undefined input 'bogus'.*'fetch'" <<'EOF'
package:
  name: bad
  version: 1.0.0
pipeline:
  - uses: fetch
    with:
      uri: https://example.com/bad-1.0.0.tar.gz
      expected-sha256: 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
      bogus: 1
EOF

# git-checkout requires repository: reported at the uses value (line 5, col 11).
bad_case with-required bad.yaml 5:11 "required input 'repository'.*'git-checkout'" <<'EOF'
package:
  name: bad
  version: 1.0.0
pipeline:
  - uses: git-checkout
    with:
      branch: main
EOF

# Digest lengths: the value at line 8, col 24.
bad_case sha256-length bad.yaml 8:24 'expected-sha256.*64' <<'EOF'
package:
  name: bad
  version: 1.0.0
pipeline:
  - uses: fetch
    with:
      uri: https://example.com/bad-1.0.0.tar.gz
      expected-sha256: 0123456789abcdef
EOF

bad_case commit-length bad.yaml 8:24 'expected-commit.*40' <<'EOF'
package:
  name: bad
  version: 1.0.0
pipeline:
  - uses: git-checkout
    with:
      repository: https://example.com/bad.git
      expected-commit: 0123abc
EOF

# --- repo pipeline files: reported at the recipe's uses value (line 5,
# col 11), naming the pipeline file and the position inside it -------------

pipeline_file pipe-yaml pipelines/x.yaml <<'EOF'
pipeline:
  - runs: echo hi
   - runs: echo bye
EOF
bad_case pipe-yaml bad.yaml 5:11 'pipelines/x\.yaml:3:4: ' <<'EOF'
package:
  name: bad
  version: 1.0.0
pipeline:
  - uses: x
EOF

# pipelines/x.yaml uses an unknown pipeline at its line 2, col 11.
pipeline_file pipe-nested pipelines/x.yaml <<'EOF'
pipeline:
  - uses: nope
EOF
bad_case pipe-nested bad.yaml 5:11 "pipelines/x\.yaml:2:11: .*unknown pipeline 'nope'" <<'EOF'
package:
  name: bad
  version: 1.0.0
pipeline:
  - uses: x
EOF

# A pipeline that uses itself (its line 2, col 11) never ends.
pipeline_file pipe-cycle pipelines/x.yaml <<'EOF'
pipeline:
  - uses: x
EOF
bad_case pipe-cycle bad.yaml 5:11 "pipelines/x\.yaml:2:11: .*(cycle|deep)" <<'EOF'
package:
  name: bad
  version: 1.0.0
pipeline:
  - uses: x
EOF

# package.description is a parse-time variable only; in a pipeline file it is
# undefined (runs value at its line 2, col 11).  Here uses is on line 6.
pipeline_file pipe-var pipelines/x.yaml <<'EOF'
pipeline:
  - runs: echo ${{package.description}}
EOF
bad_case pipe-var bad.yaml 6:11 "pipelines/x\.yaml:2:11: .*'package\.description' not defined" <<'EOF'
package:
  name: bad
  version: 1.0.0
  description: a description
pipeline:
  - uses: x
EOF

# --- images ------------------------------------------------------------------

bad_case apko-key img.apko.yaml 4:1 "unknown key 'frobnicate'" img <<'EOF'
contents:
  packages:
    - ok
frobnicate: 1
EOF

# The include value at line 4, col 10.
bad_case apko-include-missing img.apko.yaml 4:10 "cannot read include 'nope\.apko\.yaml'" img <<'EOF'
contents:
  packages:
    - ok
include: nope.apko.yaml
EOF

# a includes b (line 4, col 10), b includes a (line 1, col 10): both files are
# broken, each reported once, with paths as the other messages spell them.
check_cycle() {
	d=$T/apko-cycle
	mkdir -p "$d"
	recipe ok >"$d/ok.yaml"
	cat >"$d/a.apko.yaml" <<'EOF'
contents:
  packages:
    - ok
include: b.apko.yaml
EOF
	cat >"$d/b.apko.yaml" <<'EOF'
include: a.apko.yaml
EOF
	run 2 "$RIPPLE" ls -C "$d"
	[ "$(grep -c '' "$T/out")" = 1 ] || fail "ls listed more than ok: $(cat "$T/out")"
	expect_out '^package ok '
	[ "$(grep -Ec '^a\.apko\.yaml:4:10: include cycle' "$T/err")" = 1 ] ||
		{ cat "$T/err" >&2; fail "want one a.apko.yaml:4:10 include cycle line"; }
	[ "$(grep -Ec '^b\.apko\.yaml:1:10: include cycle' "$T/err")" = 1 ] ||
		{ cat "$T/err" >&2; fail "want one b.apko.yaml:1:10 include cycle line"; }
	expect_err 'include cycle: (a\.apko\.yaml -> b\.apko\.yaml -> a|b\.apko\.yaml -> a\.apko\.yaml -> b)\.apko\.yaml$'
	if grep -q '\./' "$T/err"; then cat "$T/err" >&2; fail "paths spelled with ./"; fi

	run 2 "$RIPPLE" ls -C "$d" --strict
	[ ! -s "$T/out" ] || fail "ls --strict printed: $(cat "$T/out")"
	run 2 "$RIPPLE" ls -C "$d" --json
	json_eq '[x["name"] for x in d]' "['ok']"
	run 2 "$RIPPLE" show -C "$d" a
	expect_err 'include cycle'
}
try apko-cycle check_cycle

# --- across recipes ----------------------------------------------------------

# Two recipes named x: the second one's name (b.yaml line 2, col 9) is the
# error; the first one is still listed.
check_dup_name() {
	d=$T/dup-name
	mkdir -p "$d"
	recipe ok >"$d/ok.yaml"
	recipe x >"$d/a.yaml"
	recipe x 2.0.0 >"$d/b.yaml"
	run 2 "$RIPPLE" ls -C "$d"
	only_err 'b\.yaml' "^b\.yaml:2:9: package 'x' is already defined in a\.yaml$"
	expect_out '^package ok 1\.0\.0-r0 \[[a-z0-9_]+\] ok\.yaml$'
	expect_out '^package x 1\.0\.0-r0 \[[a-z0-9_]+\] a\.yaml$'
	[ "$(grep -c '' "$T/out")" = 2 ] || fail "ls listed: $(cat "$T/out")"

	run 2 "$RIPPLE" ls -C "$d" --strict
	[ ! -s "$T/out" ] || fail "ls --strict printed: $(cat "$T/out")"
	run 2 "$RIPPLE" ls -C "$d" --json
	json_eq 'sorted((x["name"], x["file"]) for x in d)' "[('ok', 'ok.yaml'), ('x', 'a.yaml')]"
	run 0 "$RIPPLE" show -C "$d" x
	expect_out '^file: a\.yaml$'
}
try dup-name check_dup_name

# .ripple.yaml is read before anything else: an error there fails the whole
# command, with no listing at all.
check_repoconfig() {
	d=$T/$1
	mkdir -p "$d"
	recipe ok >"$d/ok.yaml"
	cat >"$d/.ripple.yaml"
	for args in "ls" "ls --json" "show ok"; do
		# shellcheck disable=SC2086
		run 2 "$RIPPLE" -C "$d" $args
		[ ! -s "$T/out" ] || fail "ripple $args printed: $(cat "$T/out")"
		expect_err "^(ripple: )?\.ripple\.yaml:$2: .*$3"
		[ "$(grep -c '' "$T/err")" = 1 ] || { cat "$T/err" >&2; fail "want one line on stderr"; }
	done
}
try repoconfig-key check_repoconfig repoconfig-key 2:1 "unknown key 'frobnicate'" <<'EOF'
archs: [x86_64]
frobnicate: 1
EOF
try repoconfig-arch check_repoconfig repoconfig-arch 1:17 "unknown architecture 'bogus'" <<'EOF'
archs: [x86_64, bogus]
EOF

[ "$nfail" = 0 ] || fail "$nfail case(s) failed"
