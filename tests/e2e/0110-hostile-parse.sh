#!/bin/sh
# Hostile input must not exhaust the machine or confuse outputs.  Each case
# is a tiny monorepo holding the valid recipe ok.yaml plus one hostile
# thing: YAML alias bombs (in a recipe, in a pipeline a recipe uses),
# expansion without aliases (pipelines that use pipelines, vars of vars,
# chained var-transforms, big ranges), files that are not regular (a FIFO,
# a link to /dev/zero) or that lead outside the repository, a package name
# too long for a file name, an image whose name is not text.  `ripple ls`
# (or `ripple plan`, for a job's inputs) must exit 2 with one clear
# message, still list ok, and finish at once: every run has `timeout 10`
# and, where the binary allows it, 2 GB of address space, so a regression
# fails the test instead of hanging CI or eating the machine.
. "$(dirname "$0")/lib.sh"

# limited CMD...: CMD under timeout 10, and under ulimit -v 2 GB unless the
# binary cannot run so (ASan reserves terabytes of address space).
if (ulimit -v 2000000 && "$RIPPLE" --help) >/dev/null 2>&1; then
	limited() { (ulimit -v 2000000 && exec timeout 10 "$@"); }
else
	limited() { timeout 10 "$@"; }
fi

# repo NAME: a fresh monorepo $T/NAME holding ok.yaml; its path in $d.
repo() {
	d=$T/$1
	mkdir -p "$d"
	recipe ok >"$d/ok.yaml"
}

# ls_bad DIR MSG: `ripple ls` exits 2 with one message matching the ERE MSG
# (and no other), and ok is listed.
ls_bad() {
	run 2 limited "$RIPPLE" ls -C "$1"
	expect_err "$2"
	n=$(grep -Evc '^ripple: [0-9]+ of [0-9]+ files have errors$' "$T/err" || true)
	[ "$n" = 1 ] || { cat "$T/err" >&2; fail "$1: want one message on stderr, got $n lines"; }
	expect_out '^package ok 1\.0\.0-r0 '
}

# plan_bad DIR MSG: `ripple plan` exits 2 with a message matching MSG.
plan_bad() {
	run 2 limited "$RIPPLE" plan -C "$1"
	expect_err "$2"
}

# bomb INDENT: ten levels of steps, each level a list of ten aliases of the
# one before: 10^9 steps when expanded.
bomb() {
	printf '%s- &p0 {runs: lol}\n' "$1"
	k=1
	while [ $k -le 9 ]; do
		p="*p$((k - 1))"
		printf '%s- &p%d {pipeline: [%s, %s, %s, %s, %s, %s, %s, %s, %s, %s]}\n' "$1" $k \
			"$p" "$p" "$p" "$p" "$p" "$p" "$p" "$p" "$p" "$p"
		k=$((k + 1))
	done
}

# --- YAML alias expansion ----------------------------------------------------

# A step {runs: lol} is 3 nodes, {pipeline: [ten of those]} 33, and so on:
# lines 6-9 alias 37,020 nodes, each *p4 on line 10 adds 33,333, so the
# second one (col 21 + 5) passes 100,000.
repo alias-recipe
{ printf 'package:\n  name: bomb\n  version: 1.0.0\npipeline:\n'; bomb '  '; } >"$d/bomb.yaml"
try alias-recipe ls_bad "$d" \
	'^bomb\.yaml:10:26: aliases expand to more than 100000 nodes in this document$'

# A pipeline file is read leniently, but as bounded; the recipe using it
# gets the error, at its `uses:`.
repo alias-pipeline
mkdir -p "$d/pipelines"
{ printf 'name: boom\npipeline:\n'; bomb '  '; } >"$d/pipelines/boom.yaml"
printf 'package:\n  name: user\n  version: 1.0.0\npipeline:\n  - uses: boom\n' >"$d/user.yaml"
try alias-pipeline ls_bad "$d" \
	"^user\.yaml:5:11: pipeline 'boom' is invalid: pipelines/boom\.yaml:8:26: aliases expand to more than 100000 nodes"

# --- expansion without aliases -----------------------------------------------

# Pipelines that use pipelines: p1 is ten uses of p2, ... p9: 10^8 steps.
repo uses-fanout
mkdir -p "$d/pipelines"
k=1
while [ $k -le 8 ]; do
	{
		echo 'pipeline:'
		i=0
		while [ $i -lt 10 ]; do echo "  - uses: p$((k + 1))"; i=$((i + 1)); done
	} >"$d/pipelines/p$k.yaml"
	k=$((k + 1))
done
echo 'runs: echo leaf' >"$d/pipelines/p9.yaml"
printf 'package:\n  name: fan\n  version: 1.0.0\npipeline:\n  - uses: p1\n' >"$d/fan.yaml"
try uses-fanout ls_bad "$d" \
	"^fan\.yaml:5:11: in pipelines/p[0-9]\.yaml:[0-9]+:[0-9]+: more than 20000 steps to compile for one arch"

# Vars that use vars: v9 would be 10^10 bytes.
repo vars-chain
{
	printf 'package:\n  name: chain\n  version: 1.0.0\nvars:\n  v0: xxxxxxxxxx\n'
	k=1
	while [ $k -le 9 ]; do
		p="\${{vars.v$((k - 1))}}"
		echo "  v$k: \"$p$p$p$p$p$p$p$p$p$p\""
		k=$((k + 1))
	done
	printf 'pipeline:\n  - runs: echo ${{vars.v9}}\n'
} >"$d/chain.yaml"
try vars-chain ls_bad "$d" "^chain\.yaml:11:7: vars\.v6: substituting makes a string longer than 1 MiB$"

# var-transforms that each repeat every character ten times, chained.
repo transform-chain
{
	printf 'package:\n  name: vt\n  version: 1.0.0\nvar-transforms:\n'
	printf "  - {from: xxxxxxxxxx, match: '(.)', replace: '\$1\$1\$1\$1\$1\$1\$1\$1\$1\$1', to: t1}\n"
	k=2
	while [ $k -le 9 ]; do
		printf "  - {from: '\${{vars.t%d}}', match: '(.)', replace: '\$1\$1\$1\$1\$1\$1\$1\$1\$1\$1', to: t%d}\n" $((k - 1)) $k
		k=$((k + 1))
	done
} >"$d/vt.yaml"
try transform-chain ls_bad "$d" \
	"^vt\.yaml:10:35: var-transforms 'match': regex '\(\.\)': the replacement is longer than 1 MiB$"

# A range of 4,000 items over a subpackage of 400 steps: 1.6 million steps.
repo range-copies
python3 -c '
print("package:\n  name: rg\n  version: 1.0.0\ndata:\n  - name: d\n    items:")
for i in range(4000):
    print("      i%d: v" % i)
print("subpackages:\n  - range: d\n    name: rg-${{range.key}}\n    pipeline:")
for i in range(400):
    print("      - runs: echo %d" % i)
' >"$d/rg.yaml"
try range-copies ls_bad "$d" \
	"^rg\.yaml:4008:12: substitution and range expansion make more than 16 MiB of text$"

# 100,000 vars, the last one used: a hash lookup, not 10^10 compares.
repo many-vars
python3 -c '
print("package:\n  name: mv\n  version: 1.0.0\nvars:")
for i in range(100000):
    print("  v%d: x" % i)
print("pipeline:\n  - runs: echo ${{vars.v99999}}")
' >"$d/mv.yaml"
many_vars_ok() {
	run 0 limited "$RIPPLE" ls -C "$d"
	expect_out '^package mv 1\.0\.0-r0 '
}
try many-vars many_vars_ok

# --- files that must not be read ---------------------------------------------

repo fifo-recipe
mkfifo "$d/fifo.yaml"
try fifo-recipe ls_bad "$d" "^cannot read 'fifo\.yaml': it is a FIFO, not a regular file$"

repo zero-recipe
ln -s /dev/zero "$d/zero.yaml"
try zero-recipe ls_bad "$d" "^'zero\.yaml' leads to '/dev/zero', outside the repository$"

repo outside-recipe
mkdir -p "$T/elsewhere"
recipe evil >"$T/elsewhere/evil.yaml"
ln -s "$T/elsewhere/evil.yaml" "$d/evil.yaml"
try outside-recipe ls_bad "$d" "^'evil\.yaml' leads to '.*/elsewhere/evil\.yaml', outside the repository$"

# Two links to "." in a pipeline dir: not followed (2^depth walks if they were).
repo pipeline-loops
mkdir -p "$d/pipelines"
ln -s . "$d/pipelines/a"
ln -s . "$d/pipelines/b"
try pipeline-loops run 0 limited "$RIPPLE" ls -C "$d"

# A job's inputs: everything under <name>/.  ls does not read them; plan
# hashes them and must refuse, not block on the FIFO or read /dev/zero on.
repo input-fifo
recipe src >"$d/src.yaml"
mkdir -p "$d/src"
mkfifo "$d/src/fifo"
try input-fifo plan_bad "$d" "^ripple: package src: cannot read 'src/fifo': it is a FIFO, not a regular file$"

repo input-zero
recipe src >"$d/src.yaml"
mkdir -p "$d/src"
ln -s /dev/zero "$d/src/zero"
try input-zero plan_bad "$d" \
	"^ripple: package src: cannot read 'src/zero': it is a character device, not a regular file$"

# --- names -------------------------------------------------------------------

long=$(python3 -c 'print("a" * 300)')
repo long-name
recipe "$long" >"$d/long.yaml"
try long-name ls_bad "$d" \
	"^long\.yaml:2:9: package name 'a{32}\.\.\.' \(300 bytes\) makes its file name 313 bytes long, more than the 255 a file name may have$"

repo image-name
mkdir -p "$d/images"
printf 'contents:\n  packages: [ok]\n' >"$d/images/bad$(printf '\377').apko.yaml"
printf 'contents:\n  packages: [ok]\n' >"$d/images/good.apko.yaml"
try image-name ls_bad "$d" \
	"^images/bad.xff\.apko\.yaml:1:1: image name 'bad.xff' is not valid UTF-8 \(an image is named after its file\)$"
image_json() {
	run 2 limited "$RIPPLE" ls -C "$d" --json
	json_eq 'sorted(x["name"] for x in d)' "['good', 'ok']"
}
try image-json image_json

# --- size --------------------------------------------------------------------

# Duplicate keys are checked by hashing: 200,000 annotations parse at once
# (comparing every pair took minutes).
repo big-mapping
python3 -c '
print("package:\n  name: big\n  version: 1.0.0\n  annotations:")
for i in range(200000):
    print("    k%d: v" % i)
' >"$d/big.yaml"
big_ok() {
	run 0 limited "$RIPPLE" ls -C "$d"
	expect_out '^package big 1\.0\.0-r0 '
}
try big-mapping big_ok

# A recipe past RPL_YAML_MAX_FILE is not read (a sparse file: no disk used).
repo huge-file
: >"$d/huge.yaml"
python3 -c "import os; os.truncate('$d/huge.yaml', (16 << 20) + 1)"
try huge-file ls_bad "$d" "^cannot read 'huge\.yaml': larger than 16 MiB$"

[ "$nfail" = 0 ] || fail "$nfail case(s) failed"
