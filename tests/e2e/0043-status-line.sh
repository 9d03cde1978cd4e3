#!/bin/sh
# The build's status line in a real terminal: a tmux pane of 80 columns,
# a 20-job build (stand-in melange, tests/e2e/bin) whose running jobs have
# names too long to list more than one in 80 columns.  The screen is captured over
# and over while it runs: the status line is there, never wraps (in tmux's capture that
# joins wrapped lines, it is never over 80 columns), stays one line (never more than one
# status line on the screen: it is redrawn in place), carries the elapsed
# time and an ETA, and is gone at the end, when the 20 "[n/20] ok" lines
# are on the screen in its place.  Skipped when tmux is not installed.
. "$(dirname "$0")/lib.sh"

command -v tmux >/dev/null || skip "tmux is not installed (scripts/setup installs it)"

STANDIN_DIR=$T/standin
mkdir -p "$STANDIN_DIR" "$T/repo"
cd "$T/repo"
for i in $(seq -w 1 20); do
	{ recipe "pkg-with-a-long-name-$i"; printf '# standin-sleep: 0.6\n'; } > "p$i.yaml"
done
git init -q
git add -A
git -c user.name=t -c user.email=t@t commit -qm init

# A tmux server of this test's own, without the user's configuration.
tm() { tmux -L "ripple-e2e-$$" -f /dev/null "$@"; }
trap 'tm kill-server 2>/dev/null; rm -rf "$T"' EXIT INT TERM
tm new-session -d -s b -x 80 -y 40 "env PATH='$RPL_SOURCE_DIR/tests/e2e/bin:$PATH' \
STANDIN_DIR='$STANDIN_DIR' '$RIPPLE' build --arch x86_64 -j 4; echo \$? > '$T/rc'; sleep 60"
[ "$(tm display -p -t b '#{pane_width}')" = 80 ] || fail "the pane is not 80 columns wide"

# A status line: "[done/20 elapsed ...] N running: ...".
status_re='^\[[0-9]+/20 [0-9.]+s'
n=0 seen=0
while [ ! -e "$T/rc" ]; do
	n=$((n + 1))
	[ $n -lt 300 ] || fail "the build did not end: $(tm capture-pane -p -t b)"
	# -J joins the lines that wrapped (and keeps trailing spaces, dropped
	# here): a line of more than 80 columns wrapped.  Other lines may (the
	# last one names the critical path); the status line never does.
	tm capture-pane -p -J -t b | sed 's/ *$//' > "$T/screen"
	long=$(awk 'length > 80' "$T/screen" | grep -E "$status_re" || true)
	[ -z "$long" ] || fail "the status line wrapped: $long"
	k=$(grep -Ec "$status_re" "$T/screen" || true)
	[ "$k" -le 1 ] || fail "$k status lines on the screen: $(cat "$T/screen")"
	if [ "$k" = 1 ]; then
		line=$(grep -E "$status_re" "$T/screen")
		[ ${#line} -le 79 ] || fail "status line of ${#line} columns: $line"
		case $line in
		*" running: pkg-with-a-long-name-"*" +"[0-9]*" more") seen=$((seen + 1)) ;;
		*" running"*) ;;
		*) fail "not a status line: $line" ;;
		esac
		echo "$line" | grep -Eq "$status_re( ETA [0-9hms.]+)?\] [0-9] running" ||
			fail "no elapsed time or ETA: $line"
	fi
	sleep 0.1
done
[ "$(cat "$T/rc")" = 0 ] || fail "build exited $(cat "$T/rc"): $(tm capture-pane -p -t b)"
[ $seen -ge 3 ] || fail "the elided status line was seen $seen times"
tm capture-pane -p -t b > "$T/screen"
grep -Eq "$status_re" "$T/screen" && fail "a status line stayed: $(cat "$T/screen")"
[ "$(grep -Ec '^\[[0-9]+/20\] ok pkg-with-a-long-name-[0-9]+ x86_64' "$T/screen")" = 20 ] ||
	fail "not 20 ok lines: $(cat "$T/screen")"
grep -q '^done: 20 built, 0 failed, 0 skipped' "$T/screen" || fail "no end: $(cat "$T/screen")"
grep -q '^start ' "$T/screen" && fail "plain start lines on a terminal: $(cat "$T/screen")"
echo "status line seen elided in $seen of $n captures"
