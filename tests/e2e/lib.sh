# Shared helpers for the end-to-end tests.  Each test is a POSIX sh script
# run by ctest with RIPPLE (the binary), RPL_SOURCE_DIR and RPL_SHARED set.
# A test makes its monorepo in a fresh temp dir, runs the real binary and
# checks files, exit codes and messages.  Exit 0 = pass, 77 = skipped.

set -eu

: "${RIPPLE:?RIPPLE must point at the ripple binary}"
RPL_SOURCE_DIR=${RPL_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
RPL_SHARED=${RPL_SHARED:-$RPL_SOURCE_DIR/../shared}

T=$(mktemp -d "${TMPDIR:-/tmp}/ripple-e2e.XXXXXX")
trap 'rm -rf "$T"' EXIT INT TERM

fail() {
	echo "FAIL: $*" >&2
	exit 1
}

skip() {
	echo "SKIP: $*" >&2
	exit 77
}

# run EXPECTED_STATUS CMD...: runs CMD, keeps stdout in $T/out and stderr in
# $T/err, and fails unless the exit status is EXPECTED_STATUS.
run() {
	want=$1
	shift
	set +e
	"$@" >"$T/out" 2>"$T/err"
	got=$?
	set -e
	if [ "$got" != "$want" ]; then
		echo "--- stdout" >&2
		cat "$T/out" >&2
		echo "--- stderr" >&2
		cat "$T/err" >&2
		fail "'$*' exited $got, expected $want"
	fi
}

# expect_err PATTERN: stderr of the last run matches the extended regex.
expect_err() {
	grep -Eq -- "$1" "$T/err" || {
		cat "$T/err" >&2
		fail "stderr does not match: $1"
	}
}

# expect_out PATTERN: stdout of the last run matches the extended regex.
expect_out() {
	grep -Eq -- "$1" "$T/out" || {
		cat "$T/out" >&2
		fail "stdout does not match: $1"
	}
}

# json_eq EXPR EXPECTED: a python3 expression over `d` (stdout parsed as JSON) equals EXPECTED.
json_eq() {
	got=$(python3 -c "import json,sys; d=json.load(open('$T/out')); print($1)") ||
		fail "cannot evaluate $1 on stdout"
	[ "$got" = "$2" ] || fail "$1 = '$got', expected '$2'"
}

# A minimal valid recipe: recipe NAME [VERSION] > file
recipe() {
	cat <<EOR
package:
  name: $1
  version: ${2:-1.0.0}
  epoch: 0
  description: test package $1
  copyright:
    - license: MIT
pipeline:
  - runs: |
      mkdir -p "\${{targets.destdir}}/usr/share/$1"
      echo $1 > "\${{targets.destdir}}/usr/share/$1/hello"
EOR
}

# A recipe that builds against NEEDS and has a NAME-dev subpackage:
# pkg NAME NEEDS... > file
pkg() {
	n=$1
	shift
	printf 'package:\n  name: %s\n  version: 1.0.0\nenvironment:\n  contents:\n    packages:\n' "$n"
	for d in "$@"; do printf '      - %s\n' "$d"; done
	printf 'subpackages:\n  - name: %s-dev\npipeline:\n  - runs: echo %s\n' "$n" "$n"
}

# ---- many cases in one test -------------------------------------------------

nfail=0

# only_err FILE_RE LINE_RE: stderr holds exactly one `FILE:L:C: ` line, it
# matches LINE_RE, and no other file:line:col line is there.
only_err() {
	n=$(grep -Ec -- "^$1:[0-9]+:[0-9]+: " "$T/err" || true)
	[ "$n" = 1 ] || { cat "$T/err" >&2; fail "want one '$1:L:C:' line on stderr, got $n"; }
	expect_err "$2"
	n=$(grep -Ec -- '^[^ ]+:[0-9]+:[0-9]+: ' "$T/err" || true)
	[ "$n" = 1 ] || { cat "$T/err" >&2; fail "want one file:line:col line on stderr, got $n"; }
}

# check_bad DIR FILE LOC MSG [SHOW]: the checks above for the monorepo DIR,
# where FILE is broken at LOC (line:col) with a message matching the ERE MSG,
# and SHOW (default bad) names what FILE defines.
check_bad() {
	f_re=$(printf '%s' "$2" | sed 's/[.]/\\./g')
	line="^$f_re:$3: .*($4)"

	run 2 "$RIPPLE" ls -C "$1"
	only_err "$f_re" "$line"
	expect_out '^package ok 1\.0\.0-r0 \[[a-z0-9_]+\] ok\.yaml$'
	[ "$(grep -c '' "$T/out")" = 1 ] || fail "$1: ls listed more than ok: $(cat "$T/out")"

	run 2 "$RIPPLE" ls -C "$1" --strict
	[ ! -s "$T/out" ] || fail "$1: ls --strict printed: $(cat "$T/out")"
	only_err "$f_re" "$line"

	run 2 "$RIPPLE" ls -C "$1" --json
	json_eq '[x["name"] for x in d]' "['ok']"

	run 2 "$RIPPLE" show -C "$1" "${5:-bad}"
	only_err "$f_re" "$line"

	run 0 "$RIPPLE" show -C "$1" ok
	expect_out '^package ok 1\.0\.0-r0$'
}

# try NAME CMD...: runs CMD in a subshell.  A failing case is counted and the
# next one still runs, so one run shows every wrong message.
try() {
	name=$1
	shift
	if ! ("$@"); then
		echo "^^^ case $name failed" >&2
		nfail=$((nfail + 1))
	fi
}

# bad_case NAME FILE LOC MSG [SHOW]: writes stdin to $T/NAME/FILE next to a
# valid ok.yaml and runs check_bad on it.
bad_case() {
	d=$T/$1
	mkdir -p "$d/$(dirname "$2")"
	[ -f "$d/ok.yaml" ] || recipe ok >"$d/ok.yaml"
	cat >"$d/$2"
	try "$1" check_bad "$d" "$2" "$3" "$4" "${5:-}"
}


# need_sandbox TOOL...: skips unless bubblewrap and the TOOLs are installed
# and bubblewrap can make a sandbox here; sets $arch (apk's name for this
# machine) and $ociarch.
need_sandbox() {
	for tool in bwrap "$@"; do
		command -v "$tool" >/dev/null || skip "$tool is not installed"
	done
	bwrap --ro-bind / / true 2>/dev/null || skip "bubblewrap cannot make a sandbox here"
	case $(uname -m) in
	x86_64) arch=x86_64 ociarch=amd64 ;;
	aarch64 | arm64) arch=aarch64 ociarch=arm64 ;;
	*) skip "no native arch mapping for $(uname -m)" ;;
	esac
}

# standin_repo: the stand-in melange and apko (tests/e2e/bin) first on PATH,
# their record in $STANDIN_DIR, and the monorepo $T/repo made and entered.
standin_repo() {
	STANDIN_DIR=$T/standin
	mkdir -p "$STANDIN_DIR" "$T/repo"
	export STANDIN_DIR
	PATH=$RPL_SOURCE_DIR/tests/e2e/bin:$PATH
	export PATH
	cd "$T/repo"
}

# free_port: a TCP port on 127.0.0.1 nothing listens on (now).
free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# registry_start: a real docker-registry on 127.0.0.1:$port, its storage in
# $T/registry, its pid in $registry (killed at exit).
registry_start() {
	port=$(free_port)
	cat > "$T/registry.yml" <<EOC
version: 0.1
log:
  level: error
storage:
  filesystem:
    rootdirectory: $T/registry
http:
  addr: 127.0.0.1:$port
EOC
	docker-registry serve "$T/registry.yml" >"$T/registry.log" 2>&1 &
	registry=$!
	trap 'kill $registry 2>/dev/null || true; rm -rf "$T"' EXIT INT TERM
	wait_port "$port" docker-registry
}

# wait_port PORT WHAT: waits up to 10 s for a server on 127.0.0.1:PORT.
wait_port() {
	i=0
	until python3 -c "import socket; socket.create_connection(('127.0.0.1', $1)).close()" 2>/dev/null; do
		i=$((i + 1))
		[ $i -lt 100 ] || fail "$2 did not start on 127.0.0.1:$1"
		sleep 0.1
	done
}
