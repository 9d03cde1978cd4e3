#!/bin/sh
# One selection: `plan --json`, `build --dry-run` and `build` pick the same
# jobs for the same selectors, and the reasons are true.  For each selector
# mode (none, NAMEs, --all, --all --force, --changed, --since, --force,
# --rebuild-dependents) and each case that once disagreed -- --changed in a
# single-commit repository, `build NAME` where an image containing an
# up-to-date NAME is stale, `--since HEAD~1` after a README-only commit while
# a package is stale, and a plain rerun after Ctrl-C of `build --all --force`
# -- the three job sets are compared with each other and with the expected
# one.  Runners are the stand-ins of tests/e2e/bin (0040-build.sh).
. "$(dirname "$0")/lib.sh"

standin_repo
printf 'archs: [x86_64]\n' > .ripple.yaml
# a <- b (build dep), img contains b; c alone.
pkg a > a.yaml
pkg b a-dev > b.yaml
pkg c > c.yaml
printf 'contents:\n  packages:\n    - b\n' > img.apko.yaml
printf 'packages/\nimages/\n' > .gitignore
git init -q
git add -A
commit() { git -c user.name=t -c user.email=t@t commit -qam "$1"; }
git -c user.name=t -c user.email=t@t commit -qm init

# The job sets, one "name/arch" a line, sorted: of `plan --json` (stdout) ...
plan_set() {
	python3 -c 'import json,sys
for j in json.load(open(sys.argv[1]))["jobs"]: print("%s/%s" % (j["name"], j["arch"]))' "$1" |
		sort
}
# ... of `build --dry-run` (its job lines: two spaces, the name, the arch) ...
dry_set() {
	sed -n 's|^  \([^ $][^ ]*\)  *\([^ ]*\) .*|\1/\2|p' "$1" | sort
}
# ... and of what the stand-in runners were started for.
run_set() {
	sed -n 's|^start \([^ ]*\) \([^ ]*\) .*|\1/\2|p' "$STANDIN_DIR/events" | sort
}

# same_jobs CASE "WANT" SELECTORS...: the plan, the dry run and the build of
# SELECTORS all select WANT (space-separated name/arch, any order).
same_jobs() {
	what=$1
	expected=$(printf '%s\n' $2 | sed '/^$/d' | sort)
	shift 2
	run 0 "$RIPPLE" plan --json "$@"
	plan_set "$T/out" > "$T/plan.set"
	cp "$T/out" "$T/plan.json"
	run 0 "$RIPPLE" build --dry-run "$@"
	dry_set "$T/out" > "$T/dry.set"
	cp "$T/out" "$T/dry.out"
	: > "$STANDIN_DIR/events"
	run 0 "$RIPPLE" build "$@"
	run_set > "$T/run.set"
	cp "$T/out" "$T/build.out"
	printf '%s\n' "$expected" | sed '/^$/d' > "$T/want.set"
	for s in plan dry run; do
		cmp -s "$T/want.set" "$T/$s.set" || {
			echo "--- plan --json:" >&2; cat "$T/plan.json" >&2
			echo "--- build --dry-run:" >&2; cat "$T/dry.out" >&2
			echo "--- build:" >&2; cat "$T/build.out" >&2
			fail "$what: $s selects [$(tr '\n' ' ' < "$T/$s.set")], expected [$(tr '\n' ' ' < "$T/want.set")] ($*)"
		}
	done
}

# The first build of a single-commit repository: --changed has the empty tree
# as its base, and every job was never built.
same_jobs "first --changed" "a/x86_64 b/x86_64 c/x86_64 img/x86_64" --changed
# ---- case 1: still one commit; --changed, everything built -----------------------------
same_jobs "single commit --changed" "" --changed
run 0 "$RIPPLE" plan --changed
expect_out '^nothing to do: the 4 selected jobs are up to date$'
same_jobs "up to date" ""
same_jobs "up to date --all" ""
same_jobs "up to date NAMEs" "" a img
run 0 "$RIPPLE" plan a img
expect_out '^nothing to do: the 2 selected jobs are up to date$'
run 0 "$RIPPLE" why a --changed
expect_out '^  up to date: built from these same inputs$'

# ---- case 2: build NAME where an image containing NAME is stale ------------------------
printf '# v2\n' >> img.apko.yaml
# b is up to date and is not rebuilt; img, which contains it, is stale on
# its own account: it is built, and the reason says so (not "contains b").
run 0 "$RIPPLE" why img
expect_out '^  rebuild: img.apko.yaml changed$'
run 0 "$RIPPLE" plan --explain b
expect_out '^  img  .* img.apko.yaml changed$'
expect_out '^1 more selected job is up to date \(--force rebuilds it\)$'
grep -q 'contains b' "$T/out" && fail "a reason names b as rebuilt: $(cat "$T/out")"
same_jobs "NAME with a stale image containing it" "img/x86_64" b
grep -q 'contains b' "$T/dry.out" && fail "a reason names b as rebuilt: $(cat "$T/dry.out")"
grep -q '^nothing to build\|^run [0-9]*: 1 job .*, 1 already up to date' "$T/build.out" ||
	fail "build does not count b as up to date: $(cat "$T/build.out")"
same_jobs "--force NAME" "b/x86_64 img/x86_64" --force b
grep -q 'b .* up to date, rebuilt as --force asks' "$T/dry.out" || fail "no --force reason: $(cat "$T/dry.out")"
grep -q 'img .* contains b (rebuilt)' "$T/dry.out" || fail "img's reason: $(cat "$T/dry.out")"
same_jobs "after --force" ""
printf '# v3\n' >> img.apko.yaml
same_jobs "a stale image by NAME" "img/x86_64" img
printf '# v2\n' >> a.yaml
# Named with what it builds against: b follows a, and img follows b.
same_jobs "a stale NAME and its dependent" "a/x86_64 b/x86_64 img/x86_64" a b
grep -q '^  a  .* a.yaml changed' "$T/dry.out" || fail "a's reason: $(cat "$T/dry.out")"
grep -q '^  b  .* depends on a (rebuilt)' "$T/dry.out" || fail "b's reason: $(cat "$T/dry.out")"
printf '# v2.1\n' >> a.yaml
same_jobs "a stale NAME" "a/x86_64" a
# b was built against the a before: named, it is not built from exactly
# these inputs any more (the default selection leaves it: its own are).
same_jobs "after a alone, the default" ""
same_jobs "after a alone, b" "b/x86_64 img/x86_64" b
grep -q '^  b  .* its dependencies changed since its last build' "$T/dry.out" ||
	fail "b's reason: $(cat "$T/dry.out")"
printf '# v3\n' >> a.yaml
same_jobs "--rebuild-dependents" "a/x86_64 b/x86_64 img/x86_64" --rebuild-dependents
commit "a, img"

# ---- case 3: --since HEAD~1 after a README-only commit while a package is stale -------
printf '# v2\n' >> c.yaml
commit "c"
echo "read me" > README
git add README
commit "readme"
run 0 "$RIPPLE" plan --since HEAD~1
expect_out '^nothing to do: no job reads a file changed since HEAD~1 \(1 job is stale: see .ripple plan.\)$'
grep -q 'up to date' "$T/out" && fail "the plan calls stale jobs up to date: $(cat "$T/out")"
run 0 "$RIPPLE" plan --since HEAD~1 --rescan
expect_out '^nothing to do: no job reads a file changed since HEAD~1 \(1 job is stale: see .ripple plan.\)$'
run 0 "$RIPPLE" why c --since HEAD~1
expect_out '^  not selected: it reads no file changed since HEAD~1$'
expect_out '^  stale: c.yaml changed$'
grep -q 'up to date' "$T/out" && fail "why calls c up to date: $(cat "$T/out")"
same_jobs "--since HEAD~1 after README" "" --since HEAD~1
same_jobs "--since HEAD~2" "c/x86_64" --since HEAD~2
same_jobs "--changed, c built" "" --changed

# ---- case 4: Ctrl-C of build --all --force; a plain rerun finishes it ------------------
# c dawdles (by the stand-in's file, not its recipe: its inputs stay as they
# are); a, b and img finish, then the run is interrupted.
echo 30 > "$STANDIN_DIR/sleep-c"
: > "$STANDIN_DIR/events"
set +e
"$RIPPLE" build --all --force -j 2 > "$T/int.out" 2>&1 &
pid=$!
i=0
until grep -q '^end img ' "$STANDIN_DIR/events" 2>/dev/null; do
	i=$((i + 1))
	[ $i -lt 300 ] || { kill $pid; fail "img never finished: $(cat "$T/int.out")"; }
	sleep 0.1
done
grep -q '^start c ' "$STANDIN_DIR/events" || fail "c is not running: $(cat "$STANDIN_DIR/events")"
kill -INT $pid
wait $pid
code=$?
set -e
[ $code = 130 ] || fail "the interrupted build exited $code: $(cat "$T/int.out")"
# Every job the forced run did not finish, and nothing else.
unfinished=$(python3 - "$STANDIN_DIR/events" <<'PY'
import sys
ev = [l.split() for l in open(sys.argv[1])]
ended = {e[1] for e in ev if e[0] == "end"}
print(" ".join("%s/x86_64" % n for n in ("a", "b", "c", "img") if n not in ended))
PY
)
[ "$unfinished" = "c/x86_64" ] || fail "unfinished: '$unfinished', expected c alone"
rm "$STANDIN_DIR/sleep-c"
run 0 "$RIPPLE" plan --explain
expect_out "^  c  .* forced by run [0-9]+, which did not finish it$"
same_jobs "rerun --all after Ctrl-C of --all --force" "$unfinished" --all
same_jobs "after the rerun" "" --all
same_jobs "after the rerun, --all --force" "a/x86_64 b/x86_64 c/x86_64 img/x86_64" --all --force
same_jobs "--all --force, finished" ""

exit 0
