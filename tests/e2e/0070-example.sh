#!/bin/sh
# The main job end to end on examples/monorepo, each scenario from a fresh
# copy of the example in a temp git repository, with ripple's own builder
# and assembler (no melange or apko): (1) `build --all` builds every package
# in dependency order and both images, and the images run; (2) editing the
# library's patch, `build --changed` rebuilds the library and both images
# and nothing else, then `--rebuild-dependents` adds exactly its dependents;
# (3) a no-op build does nothing and says so; (4) an installed post-commit
# hook builds a committed change, and does not block a commit when ripple is
# gone; (5) the nightly run with one broken recipe, then fixed; (6) SIGINT
# during a build, then a rerun finishes only the rest.
. "$(dirname "$0")/lib.sh"
need_sandbox skopeo umoci cc git
EXAMPLE=$RPL_SOURCE_DIR/examples/monorepo
[ -f "$EXAMPLE/libmsg.yaml" ] || fail "no example at $EXAMPLE"
# apko or melange on PATH would be used instead of ripple's own runners.
export PATH="$(printf '%s' "$PATH" | tr ':' '\n' | while read -r d; do
	[ -x "$d/apko" ] || [ -x "$d/melange" ] || printf '%s:' "$d"
done)"
export GIT_AUTHOR_NAME=t GIT_AUTHOR_EMAIL=t@t GIT_COMMITTER_NAME=t GIT_COMMITTER_EMAIL=t@t
# One signing key for every scenario: 4096-bit keys take a while to make.
"$RIPPLE" keygen "$T/key.rsa" --bits 2048 >/dev/null

# fresh NAME: a copy of the example as a new git repository; cd into it.
fresh() {
	rm -rf "$T/$1"
	mkdir -p "$T/$1"
	(cd "$EXAMPLE" && git ls-files -co --exclude-standard 2>/dev/null || find . -type f) |
		(cd "$EXAMPLE" && tar -cf - -T -) | tar -xf - -C "$T/$1"
	cd "$T/$1"
	cp "$T/key.rsa" local.rsa
	cp "$T/key.rsa.pub" local.rsa.pub
	git init -q
	git add -A
	git commit -qm "the example"
	# History, as a working repository has: --changed compares with HEAD~1.
	git commit -q --allow-empty -m "start"
}

# started FILE: the jobs an events file started, "name kind arch", sorted.
started() {
	python3 - "$1" <<'PY'
import json, sys
for l in sorted({"%s %s %s" % (e["name"], e["kind"], e["arch"]) for e in map(json.loads, open(sys.argv[1])) if e["event"] == "start"}):
    print(l)
PY
}

# expect_jobs FILE "name kind" ...: exactly these jobs started (for $arch).
expect_jobs() {
	f=$1
	shift
	printf '%s\n' "$@" | sed "s/\$/ $arch/" | sort > "$T/want"
	started "$f" > "$T/got"
	cmp -s "$T/want" "$T/got" || fail "jobs that ran:
$(cat "$T/got")
expected:
$(cat "$T/want")"
}

# run_image NAME ARGS...: unpacks images/NAME and runs ARGS in it under bubblewrap.
run_image() {
	img=$1
	shift
	rm -rf "$T/bundle"
	umoci unpack --rootless --image "images/$img:latest-$ociarch" "$T/bundle" >/dev/null 2>&1 ||
		fail "umoci cannot unpack images/$img"
	bwrap --bind "$T/bundle/rootfs" / --dev /dev --proc /proc --unshare-all \
		--uid 65532 --gid 65532 --chdir / "$@"
}

ALL_PKGS="libmsg package
hello package
banner package
runtime package
motd package
words package
greet package"

# ---- (1) build --all: every package, dependencies first, then both images ----------------
fresh s1
run 0 "$RIPPLE" build --all --test --events ev1.jsonl
expect_out '^run 1: 9 jobs \(7 packages, 2 images\)'
expect_out '^done: 9 built, 0 failed, 0 skipped'
for p in libmsg-1.0-r0 libmsg-dev-1.0-r0 hello-2.0-r0 banner-1.1-r0 runtime-1-r0 motd-3-r1 \
	words-0.4-r0 words-en-0.4-r0 words-fr-0.4-r0 words-de-0.4-r0 greet-0.3.1-r2; do
	[ -f "packages/$arch/$p.apk" ] || fail "no packages/$arch/$p.apk"
done
# The index lists all eleven and is signed with the repo's key.
gzip -dc "packages/$arch/APKINDEX.tar.gz" | tar -xOf - APKINDEX 2>/dev/null > "$T/index"
[ "$(grep -c '^P:' "$T/index")" = 11 ] || fail "index: $(grep '^P:' "$T/index")"
gzip -dc "packages/$arch/APKINDEX.tar.gz" | tar -tf - 2>/dev/null | head -1 |
	grep -qx '.SIGN.RSA256.local.rsa.pub' || fail "the index is not signed with local.rsa"
# Dependency order: every job started after what it builds against finished.
python3 - ev1.jsonl <<'PY' || fail "order"
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1])]
seq = {}
for i, e in enumerate(ev):
    if e["event"] in ("start", "finish"):
        seq[(e["name"], e["kind"], e["event"])] = i
def before(a, b):
    assert seq[(a[0], a[1], "finish")] < seq[(b[0], b[1], "start")], (a, b)
P, I = "package", "image"
before(("libmsg", P), ("hello", P))
before(("hello", P), ("banner", P))
for p in ("libmsg", "runtime", "motd", "words"):
    before((p, P), ("base", I))
for p in ("libmsg", "runtime", "motd", "words", "hello", "banner", "greet"):
    before((p, P), ("hello", I))
PY
grep -q 'installed in the sandbox from packages/.* libmsg-dev-1.0-r0' .ripple/logs/1/$arch/hello.log ||
	fail "hello did not build against libmsg-dev: $(cat .ripple/logs/1/$arch/hello.log)"
grep -q 'fetch: https://sources.ripple.example/libmsg-1.0.tar.gz from the mirror' .ripple/logs/1/$arch/libmsg.log ||
	fail "libmsg's source: $(cat .ripple/logs/1/$arch/libmsg.log)"
grep -q 'patch: applying greeting.patch' .ripple/logs/1/$arch/libmsg.log || fail "no patch applied"
# --test: each package's test pipeline ran with the package installed, and passed.
grep -q '^ripple: test hello: passed$' .ripple/logs/1/$arch/hello.log || fail "hello's test: $(cat .ripple/logs/1/$arch/hello.log)"
grep -q '^ripple: test libmsg-dev: installed in the sandbox (under /usr/local): libmsg-dev-1.0-r0.apk libmsg-1.0-r0.apk$' .ripple/logs/1/$arch/libmsg.log ||
	fail "libmsg-dev's test: $(cat .ripple/logs/1/$arch/libmsg.log)"
grep -q '^ripple: test libmsg-dev: passed$' .ripple/logs/1/$arch/libmsg.log || fail "libmsg-dev's test did not pass"
# Both images: skopeo reads them, and they run.
for img in base hello; do
	run 0 skopeo inspect "oci:images/$img:latest"
	run 0 skopeo inspect "oci:images/$img:latest-$ociarch"
	json_eq 'd["Architecture"]' "$ociarch"
done
run 0 run_image hello /usr/bin/hello world
expect_out '^Hello from libmsg, world!$'
run 0 run_image hello /bin/sh -c 'cat() { while IFS= read -r l; do echo "$l"; done < "$1"; }; cat /usr/share/banner/welcome.txt; greet; motd'
expect_out '^Hello from libmsg, ripple users!$'
expect_out '^hello, world$'
expect_out '^Welcome to the ripple example image.$'
run 0 run_image base /usr/bin/motd
expect_out '^Welcome to the ripple example image.$'
[ ! -e "$T/bundle/rootfs/usr/bin/hello" ] || fail "hello is in the base image"
# A test that fails fails the job, and says which.
sed -i "s/grep -x 'Hello from libmsg, tester!'/grep -x 'Goodbye, tester!'/" hello.yaml
grep -q Goodbye hello.yaml || fail "the test was not broken"
run 1 "$RIPPLE" build hello --test
expect_out "FAILED hello $arch .*the test of hello failed"
git checkout -q hello.yaml

# ---- (2) the library's patch changes: the library and both images, nothing else ---------
sed -i 's/+static const char \*greeting = "Hello from libmsg";/+static const char *greeting = "Greetings from libmsg";/' libmsg/greeting.patch
grep -q Greetings libmsg/greeting.patch || fail "the patch was not edited"
run 0 "$RIPPLE" plan --changed --explain
expect_out 'libmsg/greeting.patch changed'
run 0 "$RIPPLE" build --changed --events ev2.jsonl
expect_jobs ev2.jsonl "libmsg package" "base image" "hello image"
run 0 run_image hello /usr/bin/hello again
expect_out '^Greetings from libmsg, again!$'
# --rebuild-dependents adds what builds against libmsg, transitively, and what contains them.
run 0 "$RIPPLE" build --changed --rebuild-dependents --events ev3.jsonl
expect_jobs ev3.jsonl "hello package" "banner package" "hello image"
run 0 run_image hello /bin/sh -c 'while IFS= read -r l; do echo "$l"; done < /usr/share/banner/welcome.txt'
expect_out '^Greetings from libmsg, ripple users!$'

# ---- (3) a no-op build does nothing and says so ------------------------------------------
run 0 "$RIPPLE" build
expect_out '^nothing to build: no job.s inputs changed since its last successful build$'
sleep 1.1 # past the second in which a no-op is not memoised
run 0 "$RIPPLE" build
run 0 "$RIPPLE" build # from the memo of the last no-op
expect_out '^nothing to build: no job.s inputs changed since its last successful build$'
run 0 "$RIPPLE" build words
expect_out '^nothing to build: the 3 selected jobs are up to date$'
run 0 "$RIPPLE" build --changed
expect_out '^nothing to build: the 3 selected jobs are up to date$'
[ "$(ls .ripple/logs | wc -l)" = 4 ] || fail "no-op builds made runs: $(ls .ripple/logs)"
run 0 "$RIPPLE" history
expect_out '^  4 '
if grep -q '^  5 ' "$T/out"; then fail "a no-op build was recorded as a run"; fi
# The memo never hides a change.
echo '# an edit' >> motd.yaml
run 0 "$RIPPLE" build
expect_out '^run 5: 3 jobs \(1 package, 2 images\)'
git checkout -q motd.yaml

# ---- (4) a post-commit hook builds what a commit changed -----------------------------------
fresh s4
run 0 "$RIPPLE" build --all
run 0 "$RIPPLE" hook install
expect_out "^installed .*/\\.git/hooks/post-commit: builds what each commit changed"
run 2 "$RIPPLE" hook install --force --post-commit --pre-push
sed -i 's/fr: bonjour/fr: salut/' words.yaml
git commit -qam "words: salut" > "$T/commit.out" 2>&1 || fail "the commit failed: $(cat "$T/commit.out")"
grep -q '^run 2: 3 jobs (1 package, 2 images)' "$T/commit.out" || fail "the hook: $(cat "$T/commit.out")"
gzip -dc "packages/$arch/words-fr-0.4-r0.apk" | tar -xOf - usr/share/words/fr 2>/dev/null | grep -qx salut ||
	fail "words-fr was not rebuilt by the hook"
# A plan-only hook plans; a hook whose ripple is gone never blocks a commit.
mkdir -p "$T/bin"
cp "$RIPPLE" "$T/bin/ripple"
run 0 "$T/bin/ripple" hook install --plan-only
echo '# unchanged output' >> motd.yaml
git commit -qam "motd: a comment" > "$T/commit.out" 2>&1 || fail "commit: $(cat "$T/commit.out")"
grep -q 'motd .* motd.yaml changed' "$T/commit.out" || fail "the plan-only hook: $(cat "$T/commit.out")"
[ "$(ls .ripple/logs | wc -l)" = 2 ] || fail "a plan-only hook built something: $(ls .ripple/logs)"
rm "$T/bin/ripple"
echo '# again' >> motd.yaml
git commit -qam "motd: again" > "$T/commit.out" 2>&1 || fail "a hook without ripple blocked the commit"
grep -q 'ripple is not installed; nothing was built' "$T/commit.out" || fail "$(cat "$T/commit.out")"
# A hook ripple did not write is neither replaced nor removed.
run 0 "$RIPPLE" hook uninstall
expect_out 'removed .*post-commit'
printf '#!/bin/sh\necho mine\n' > .git/hooks/post-commit
run 2 "$RIPPLE" hook install
expect_err 'post-commit exists and ripple did not write it; --force replaces it'
run 0 "$RIPPLE" hook uninstall
expect_out 'left .*post-commit alone'
[ "$(cat .git/hooks/post-commit | tail -1)" = "echo mine" ] || fail "the user's hook was touched"
rm .git/hooks/post-commit
# A linked worktree's hooks are the repository's; a hooksPath outside the repository is refused.
git worktree add -q "$T/s4-wt"
run 0 "$RIPPLE" hook install -C "$T/s4-wt"
expect_out "^installed $T/s4/\\.git/hooks/post-commit: "
run 0 "$RIPPLE" hook uninstall -C "$T/s4-wt"
git config core.hooksPath "$T/shared-hooks"
run 2 "$RIPPLE" hook install
expect_err 'core.hooksPath is .*/shared-hooks, outside this repository'
[ ! -e "$T/shared-hooks/post-commit" ] || fail "installed into a shared hooks path"
git config core.hooksPath .githooks
run 0 "$RIPPLE" hook install
expect_out "^installed $T/s4/\\.githooks/post-commit: "
git config --unset core.hooksPath
run 2 "$RIPPLE" hook
expect_err '^usage: ripple hook'
run 0 "$RIPPLE" hook --help
expect_out '^usage: ripple hook install'

# ---- (5) the nightly run: one broken recipe ----------------------------------------------
fresh s5
sed -i 's|^  - uses: strip$|  - uses: strip\n  - name: a step that cannot work\n    runs: cc -o /dev/null no-such-file.c|' hello.yaml
grep -q 'no-such-file.c' hello.yaml || fail "hello was not broken"
git commit -qam "hello: broken"
run 1 "$RIPPLE" build --all --keep-going --rebuild-dependents --report report.json --junit junit.xml
expect_out "FAILED hello $arch .*: .*exit"
expect_out "\\.ripple/logs/1/$arch/hello\\.log"
expect_out '^done: 6 built, 1 failed, 2 skipped'
expect_out "^2 skipped: 2 waiting on hello \\($arch\\) failed \\(-v lists them\\)\$"
python3 - report.json junit.xml "$arch" <<'PY' || fail "report: $(cat report.json)"
import json, sys, xml.etree.ElementTree as ET
r = json.load(open(sys.argv[1]))
by = {(j["name"], j["kind"]): j for j in r["jobs"]}
assert by[("hello", "package")]["status"] == "failed", by[("hello", "package")]
assert by[("hello", "package")]["log"] == ".ripple/logs/1/%s/hello.log" % sys.argv[3]
for k in (("banner", "package"), ("hello", "image")):
    assert by[k]["status"] == "skipped", by[k]
for k in (("libmsg", "package"), ("runtime", "package"), ("motd", "package"), ("words", "package"), ("greet", "package"), ("base", "image")):
    assert by[k]["status"] == "ok", by[k]
s = ET.parse(sys.argv[2]).getroot()
s = s if s.tag == "testsuite" else s.find("testsuite")
cases = {(c.get("classname"), c.get("name")): c for c in s.iter("testcase")}
a = sys.argv[3]
assert cases[("package." + a, "hello")].find("failure") is not None, cases
assert cases[("package." + a, "banner")].find("skipped") is not None
assert cases[("image." + a, "hello")].find("skipped") is not None
assert cases[("image." + a, "base")].find("failure") is None
PY
grep -q 'no-such-file.c' .ripple/logs/1/$arch/hello.log || fail "hello's log"
git checkout -q HEAD~1 -- hello.yaml
git commit -qm "hello: fixed"
run 0 "$RIPPLE" build --all --keep-going --rebuild-dependents --events ev5.jsonl
expect_jobs ev5.jsonl "hello package" "banner package" "hello image"

# ---- (6) SIGINT during a build, then a rerun finishes only the rest ---------------------
fresh s6
# A slow step in words, so that the interrupt finds it running.
sed -i 's|      echo "languages: de en fr" >|      sleep 30\n      echo "languages: de en fr" >|' words.yaml
git commit -qam "words: slow"
"$RIPPLE" build --all -j 2 --events ev6.jsonl > "$T/s6.out" 2>&1 &
pid=$!
i=0
until grep -q '"event": *"start".*"name": *"words"\|"name": *"words".*"event": *"start"' ev6.jsonl 2>/dev/null; do
	i=$((i + 1))
	[ $i -lt 300 ] || { kill $pid; fail "words never started: $(cat "$T/s6.out")"; }
	sleep 0.1
done
kill -INT $pid
set +e
wait $pid
status=$?
set -e
[ $status = 130 ] || fail "interrupted build exited $status: $(cat "$T/s6.out")"
grep -q '^interrupted: ' "$T/s6.out" || fail "$(cat "$T/s6.out")"
python3 - ev6.jsonl <<'PY' > "$T/unfinished"
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1])]
plan = [j for e in ev if e["event"] == "plan" for j in e["jobs"]]
done = {(e["name"], e["kind"]) for e in ev if e["event"] == "finish" and e.get("status") == "ok"}
for j in plan:
    if (j["name"], j["kind"]) not in done:
        print(j["name"], j["kind"])
PY
grep -q '^words package$' "$T/unfinished" || fail "words finished before the interrupt"
sed -i 's|^      sleep 30$|      sleep 0|' words.yaml
git commit -qam "words: quick"
run 0 "$RIPPLE" build --all --events ev6b.jsonl
# What ran now is exactly what had not finished (words among them).
sed "s/\$/ $arch/" "$T/unfinished" | sort > "$T/want"
started ev6b.jsonl > "$T/got"
cmp -s "$T/want" "$T/got" || fail "the rerun ran:
$(cat "$T/got")
not what was unfinished:
$(cat "$T/want")"
[ "$(wc -l < "$T/want")" -lt 9 ] || fail "nothing had finished before the interrupt"
