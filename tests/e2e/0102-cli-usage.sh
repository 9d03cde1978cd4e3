#!/bin/sh
# Command-line usage: help and version go to stdout with status 0; every
# usage error exits 2 with nothing on stdout and a message naming the
# problem (prefixed with the command it came from) on stderr.
. "$(dirname "$0")/lib.sh"

# cli_check STATUS OUT ERR ARGS...: `ripple ARGS` exits STATUS; stdout matches
# the ERE OUT and stderr the ERE ERR, where "-" means "is empty".
cli_check() {
	want=$1 out_re=$2 err_re=$3
	shift 3
	run "$want" "$RIPPLE" "$@"
	if [ "$out_re" = - ]; then
		[ ! -s "$T/out" ] || fail "ripple $*: stdout is not empty: $(cat "$T/out")"
	else
		expect_out "$out_re"
	fi
	if [ "$err_re" = - ]; then
		[ ! -s "$T/err" ] || fail "ripple $*: stderr is not empty: $(cat "$T/err")"
	else
		expect_err "$err_re"
	fi
}

# cli STATUS OUT ERR ARGS...: cli_check as a case named after its command line.
cli() {
	c_status=$1 c_out=$2 c_err=$3
	shift 3
	try "ripple $*" cli_check "$c_status" "$c_out" "$c_err" "$@"
}

mkdir -p "$T/repo" "$T/empty"
recipe ok >"$T/repo/ok.yaml"
cd "$T/repo" || fail "cannot enter $T/repo"

# --- help and version --------------------------------------------------------
cli 0 '^ripple [0-9]+\.[0-9]+\.[0-9]+$' - --version
cli 0 '^usage: ripple ' - --help
cli 0 '^  ls ' - --help
cli 0 '^  show ' - --help
cli 0 '^usage: ripple ' - -h
cli 0 '^usage: ripple ls ' - ls --help
cli 0 '^usage: ripple ls ' - ls -h
cli 0 '^usage: ripple show ' - show --help
cli 0 '^usage: ripple show ' - show -h

# --- the command -------------------------------------------------------------
cli 2 - '^usage: ripple '
cli 2 - "^ripple: unknown command 'frobnicate'" frobnicate
cli 2 - "^ripple: unknown option '--frob'" --frob ls
# -C without its directory is a missing argument, not an unknown option.
cli 2 - "^ripple: .*'?-C'?.*requires an argument" -C

# --- ls and show options -----------------------------------------------------
# getopt's messages carry the command's full name, like ripple's own.
cli 2 - "^ripple ls: .*'?--frob'?" ls --frob
cli 2 - '^usage: ripple ls ' ls --frob
cli 2 - "^ripple ls: .*'?--json'?" ls --json=1
cli 2 - "^ripple ls: .*requires an argument" ls --arch
cli 2 - "^ripple ls: unexpected argument 'extra'" ls extra
cli 2 - "^ripple show: .*'?--frob'?" show --frob ok
cli 2 - "^ripple show: .*NAME" show
cli 2 - '^usage: ripple show ' show
cli 2 - "^ripple show: .*NAME" show ok other

# --- architectures -----------------------------------------------------------
cli 2 - "unknown architecture 'bogus'" ls --arch bogus
cli 2 - "unknown architecture 'bogus'" ls --arch x86_64,bogus
cli 2 - "unknown architecture 'bogus'" show --arch bogus ok
# An empty list is a mistake (an unset variable, say), not "the default".
cli 2 - 'architecture' ls --arch ''
# show evaluates one architecture; a list is an error, not its first entry.
cli 2 - 'architecture' show --arch x86_64,aarch64 ok
# apko's names are accepted and printed as apk's.
cli 0 '^package ok 1\.0\.0-r0 \[x86_64\] ok\.yaml$' - ls --arch amd64
cli 0 '^package ok 1\.0\.0-r0 \[x86_64,aarch64\] ok\.yaml$' - ls --arch x86_64,aarch64

# --- -C ----------------------------------------------------------------------
cli 2 - "cannot enter '$T/nope'" ls -C "$T/nope"
cli 2 - "cannot enter '$T/nope'" -C "$T/nope" ls
cli 2 - "cannot enter '$T/nope'" show -C "$T/nope" ok
cli 2 - "cannot enter '$T/repo/ok\.yaml'" -C "$T/repo/ok.yaml" ls
cli 0 '^package ok ' - -C"$T/repo" ls
cli 0 - - ls -C "$T/empty"
cli 0 '^\[\]$' - ls -C "$T/empty" --json

[ "$nfail" = 0 ] || fail "$nfail case(s) failed"
