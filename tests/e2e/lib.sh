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
