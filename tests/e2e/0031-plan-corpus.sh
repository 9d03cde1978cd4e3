#!/bin/sh
# plan on a git repository made from the Wolfi snapshot: a patch, a shared
# pipeline, an env file, --rebuild-dependents, a no-op, and a fresh clone
# with --since agreeing with the warm state store.
. "$(dirname "$0")/lib.sh"

corpus=$RPL_SHARED/corpus/wolfi-os
[ -d "$corpus" ] || skip "no corpus at $corpus"

repo=$T/wolfi
cp -r "$corpus" "$repo"
chmod -R u+w "$repo"
cd "$repo"
git init -q
git add -A
git -c user.name=t -c user.email=t@t commit -qm import
A="--arch x86_64"
names() { python3 -c "import json; print(' '.join(sorted(set(j['name'] for j in json.load(open('$T/out'))['jobs']))))"; }

run 0 "$RIPPLE" mark --all $A
expect_out '^recorded 3400 jobs as built$'
run 0 "$RIPPLE" plan $A
expect_out '^nothing to do: 3400 jobs up to date$'

# same_as_rescan ARGS...: the plan (from the snapshot) equals a full rescan's.
same_as_rescan() {
	run 0 "$RIPPLE" plan $A --explain "$@"
	expect_out '^from the snapshot of the last scan: '
	run 0 "$RIPPLE" plan $A --json "$@"
	cp "$T/out" "$T/snap.json"
	run 0 "$RIPPLE" plan $A --json --rescan "$@"
	cmp -s "$T/out" "$T/snap.json" || fail "$*: the snapshot's plan differs from a rescan's"
}

# A patch of one package: that package only.
patch=$(ls busybox/*.patch | head -1)
echo '# touched' >> "$patch"
run 0 "$RIPPLE" plan $A --json
[ "$(names)" = "busybox" ] || fail "patch: $(names)"
json_eq 'd["jobs"][0]["reasons"]' "['$patch changed']"
cp "$T/out" "$T/warm.json"
same_as_rescan
same_as_rescan --rebuild-dependents
run 0 "$RIPPLE" plan $A --since HEAD --json
[ "$(names)" = "busybox" ] || fail "patch --since: $(names)"

# --rebuild-dependents: busybox is in the toolchain cycle, which nearly
# everything builds against.
run 0 "$RIPPLE" plan $A --rebuild-dependents --json
json_eq 'len(d["jobs"]) > 3000' True
json_eq '"depends on busybox (rebuilt)" in [j["reasons"] for j in d["jobs"] if j["name"] == "7zip"][0]' True

# A fresh clone of the commit that made the change answers from git alone.
git -c user.name=t -c user.email=t@t commit -qam 'touch a busybox patch'
git clone -q "$repo" "$T/clone"
run 0 "$RIPPLE" -C "$T/clone" plan $A --since HEAD~1 --json
[ "$(names)" = "busybox" ] || fail "fresh clone: $(names)"
run 0 "$RIPPLE" plan $A --json
python3 -c "
import json
a = json.load(open('$T/warm.json'))['jobs']; b = json.load(open('$T/out'))['jobs']
assert a == b, (a, b)" || fail "warm state and fresh clone disagree"
run 0 "$RIPPLE" mark busybox $A

# A shared pipeline: exactly the recipes that reach it.
echo '# touched' >> pipelines/git/gnulib-bootstrap.yaml
run 0 "$RIPPLE" plan $A --json
python3 - "$T/out" "$corpus" <<'PY' || fail "pipeline edit selected the wrong set"
import json, sys, re, os
got = sorted(j["name"] for j in json.load(open(sys.argv[1]))["jobs"])
want = sorted(f[:-5] for f in os.listdir(sys.argv[2])
              if f.endswith(".yaml") and re.search(r"^\s*-?\s*uses:\s*git/gnulib-bootstrap\s*$",
                                                  open(os.path.join(sys.argv[2], f)).read(), re.M))
assert got == want and got, (got, want)
print(f"{len(got)} recipes reach pipelines/git/gnulib-bootstrap.yaml")
PY
git checkout -q pipelines/git/gnulib-bootstrap.yaml

# An env file: every recipe of that arch.
echo '# touched' >> build-x86_64.env
run 0 "$RIPPLE" plan $A --json
json_eq 'len(d["jobs"])' 3400
json_eq 'set(j["reasons"][0] for j in d["jobs"])' "{'build-x86_64.env changed'}"
same_as_rescan
git checkout -q build-x86_64.env

# A recipe's step edited: that recipe alone is parsed again.
sed -i 's/--datadir=\/usr\/share/--datadir=\/usr\/share --disable-nls/' gawk.yaml
git diff --quiet gawk.yaml && fail "gawk.yaml has no configure step to edit"
run 0 "$RIPPLE" plan $A --explain
expect_out '1 recipe parsed again$'
expect_out '^  gawk  '
same_as_rescan --since HEAD
git checkout -q gawk.yaml
run 0 "$RIPPLE" plan $A
expect_out '^nothing to do: 3400 jobs up to date$'
