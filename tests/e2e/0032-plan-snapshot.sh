#!/bin/sh
# The plan snapshot: after a plan from a full scan, the next plans after an
# edit are made from what it kept.  Every case here checks which way the
# plan was made (--explain says) and that it equals a plan from a full
# rescan, for the staleness, --rebuild-dependents and --since selections:
# edits, additions and removals of inputs make a plan from the snapshot;
# anything that shapes the scan (recipes, pipelines, image includes, an env
# file appearing, .ripple.yaml) makes a new scan.
. "$(dirname "$0")/lib.sh"

mkdir -p "$T/repo/pipelines/local" "$T/repo/zlib" "$T/repo/sub/deeper" "$T/repo/inc" \
	"$T/repo/docs"
cd "$T/repo"
cat > .ripple.yaml <<'EOY'
archs: [x86_64, aarch64]
EOY
pkg zlib > zlib.yaml
echo 'fix' > zlib/fix.patch
pkg openssl zlib-dev > openssl.yaml
pkg curl openssl-dev > curl.yaml
{ pkg tool; printf '  - uses: local/helper\n'; } > tool.yaml
pkg nested zlib > sub/x.melange.yaml
echo data > sub/data.txt
cat > pipelines/local/helper.yaml <<'EOY'
pipeline:
  - runs: echo helping
EOY
cat > inc/common.yaml <<'EOY'
contents:
  packages:
    - zlib
EOY
cat > base.apko.yaml <<'EOY'
include: inc/common.yaml
EOY
cat > web.apko.yaml <<'EOY'
contents:
  packages:
    - curl
EOY
echo 'CFLAGS=-O2' > build-x86_64.env
echo 'a monorepo' > README
git init -q
git add -A
git -c user.name=t -c user.email=t@t commit -qm init
run 0 "$RIPPLE" mark --all
expect_out '^recorded 14 jobs as built$'

# check WAY [PLAN ARGS...]: the next plan is made WAY ("snapshot", or the
# reason of a new scan), and it equals a full rescan's, for the default
# selection, --rebuild-dependents and --since HEAD.
check() {
	way=$1
	shift
	run 0 "$RIPPLE" plan --explain "$@"
	case $way in
	snapshot) expect_out '^from the snapshot of the last scan: ' ;;
	*) expect_out "^scanned every recipe: $way\$" ;;
	esac
	for sel in "" --rebuild-dependents "--since HEAD"; do
		# shellcheck disable=SC2086 # $sel is zero or two words
		run 0 "$RIPPLE" plan --json $sel "$@"
		cp "$T/out" "$T/snap.json"
		# shellcheck disable=SC2086
		run 0 "$RIPPLE" plan --json --rescan $sel "$@"
		cmp -s "$T/out" "$T/snap.json" || {
			diff "$T/snap.json" "$T/out" >&2 || true
			fail "$way ($*${sel:+ $sel}): the snapshot's plan differs from a rescan's"
		}
	done
	# The last rescan saved a snapshot again: the next plan uses it.
	run 0 "$RIPPLE" plan --explain "$@"
	expect_out '^from the snapshot of the last scan: '
}
jobs() { python3 -c "import json; print(' '.join(j['name'] + '/' + j['arch'] for j in json.load(open('$T/out'))['jobs']))"; }

# The first plan has nothing to go on.
run 0 "$RIPPLE" plan --explain
expect_out '^scanned every recipe: no snapshot yet$'
expect_out '^nothing to do: 14 jobs up to date$'

# An edited patch: one input of zlib's two jobs.
echo 'fix 2' > zlib/fix.patch
run 0 "$RIPPLE" plan --explain
expect_out '^from the snapshot of the last scan: 1 input file changed, 2 jobs hashed again, 0 recipes parsed again$'
check snapshot
run 0 "$RIPPLE" plan --json
[ "$(jobs)" = "zlib/x86_64 zlib/aarch64 base/x86_64 base/aarch64" ] || fail "patch: $(jobs)"

# A file added to and removed from a source dir; a nested recipe's dir.
echo 'more' > zlib/more.patch
check snapshot
run 0 "$RIPPLE" plan --json
json_eq 'd["jobs"][0]["reasons"]' "['zlib/fix.patch changed', 'zlib/more.patch added']"
rm zlib/more.patch
check snapshot
echo 'new' > sub/deeper/new.txt
check snapshot
run 0 "$RIPPLE" why nested --arch x86_64
expect_out 'sub/deeper/new.txt added'
echo 'data 2' > sub/data.txt
check snapshot

# An env file edited: every recipe of its arch.
echo 'CFLAGS=-O3' > build-x86_64.env
check snapshot
run 0 "$RIPPLE" plan --json
json_eq 'sorted(j["name"] for j in d["jobs"] if j["arch"] == "x86_64" and j["kind"] == "package")' \
	"['curl', 'nested', 'openssl', 'tool', 'zlib']"

# Files that are no one's input, hidden files, a touched recipe.
echo 'more words' >> README
echo 'notes' > docs/notes.txt
echo 'swap' > zlib/.fix.patch.swp
touch -d '2001-01-01' curl.yaml
check snapshot

# What shapes the scan: a new scan, whose plan is right.
echo 'CFLAGS=-O1' > build-aarch64.env
check 'build-aarch64.env appeared'
# A recipe edited where planning does not look (a comment, a step's
# script): parsed again alone, and the plan still comes from the snapshot.
printf '# a comment\n' >> curl.yaml
run 0 "$RIPPLE" plan --explain
expect_out '^from the snapshot of the last scan: 1 input file changed, 2 jobs hashed again, 1 recipe parsed again$'
check snapshot
sed -i 's/echo zlib/echo zlib --verbose/' zlib.yaml
check snapshot
run 0 "$RIPPLE" plan --json
json_eq '"zlib.yaml changed" in [j["reasons"] for j in d["jobs"] if j["name"] == "zlib"][0]' True
# ... and where it does: a new version, a dependency, a broken recipe.
sed -i 's/version: 1.0.0/version: 1.0.1/' curl.yaml
check 'curl.yaml changed'
sed -i 's/      - openssl-dev/      - zlib-dev/' curl.yaml
check 'curl.yaml changed'
echo '  - runs: echo more' >> pipelines/local/helper.yaml
check 'pipelines/local/helper.yaml changed'
printf '    - curl\n' >> inc/common.yaml
check 'inc/common.yaml changed'
pkg extra > extra.yaml
check 'extra.yaml was added'
rm tool.yaml
check 'tool.yaml was removed'
echo 'pipeline-dirs: [pipelines]' >> .ripple.yaml
check '.ripple.yaml changed'

# Another arch selection or runner is another snapshot.
check 'the snapshot was made for other archs, another runner or ripple' --arch x86_64
check 'the snapshot was made for other archs, another runner or ripple'

# A damaged snapshot is set aside, never trusted.
python3 - <<'PY'
data = open(".ripple/snapshot", "rb").read()
open(".ripple/snapshot", "wb").write(data[: len(data) // 2])
PY
check 'the snapshot is damaged'

# --rescan: a scan, whatever the snapshot.
run 0 "$RIPPLE" plan --explain --rescan
expect_out '^scanned every recipe: --rescan$'
