#!/bin/sh
# A fresh clone of the example monorepo satisfied from the artifact cache,
# against building it, in the same run (docs/distributed.md#the-artifact-cache).
#
#   bench/cache.sh            (RUNS=3)
#
# One clone builds examples/monorepo with ripple's own builder and
# assembler and stores every job in a docker-registry on 127.0.0.1 (the
# `cache:` of its .ripple.yaml).  Then, each from a new `git clone` in a
# new directory with the signing key already in place (key generation is
# not what is measured):
#
#   anchor:   ripple build --all --no-cache         every job built
#   remote:   ripple build --all                    every job fetched from the registry
#   local:    ripple build --all, .ripple/cache copied in beforehand
#
# and prints each mean, and the remote and local times as a fraction of the
# anchor's.  hyperfine runs each RUNS times.
set -eu
cd "$(dirname "$0")/.."
ripple=$(pwd)/${RIPPLE:-build/ripple}
[ -x "$ripple" ] || { echo "bench: build ripple first (cmake --build build)" >&2; exit 2; }
for t in hyperfine docker-registry git bwrap python3; do
	command -v $t >/dev/null || { echo "bench: $t is missing (scripts/setup)" >&2; exit 2; }
done
example=$(pwd)/examples/monorepo
work=$(mktemp -d)
registry=
trap '[ -z "$registry" ] || kill $registry 2>/dev/null; rm -rf "$work"' EXIT
# ripple's own runners, whatever else is installed.
PATH=$(printf '%s' "$PATH" | tr ':' '\n' | while read -r d; do
	[ -x "$d/apko" ] || [ -x "$d/melange" ] || printf '%s:' "$d"
done)
export PATH GIT_AUTHOR_NAME=b GIT_AUTHOR_EMAIL=b@b GIT_COMMITTER_NAME=b GIT_COMMITTER_EMAIL=b@b
export DOCKER_CONFIG="$work/docker"

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat > "$work/registry.yml" <<EOC
version: 0.1
log:
  level: error
storage:
  filesystem:
    rootdirectory: $work/registry
http:
  addr: 127.0.0.1:$port
EOC
docker-registry serve "$work/registry.yml" >"$work/registry.log" 2>&1 &
registry=$!
i=0
until python3 -c "import socket; socket.create_connection(('127.0.0.1', $port)).close()" 2>/dev/null; do
	i=$((i + 1))
	[ $i -lt 100 ] || { echo "bench: docker-registry did not start" >&2; exit 1; }
	sleep 0.1
done

mkdir "$work/origin"
(cd "$example" && git ls-files -co --exclude-standard) | (cd "$example" && tar -cf - -T -) |
	tar -xf - -C "$work/origin"
printf 'cache: 127.0.0.1:%s/bench/cache\n' "$port" >> "$work/origin/.ripple.yaml"
(cd "$work/origin" && git init -q && git add -A && git commit -qm example)
"$ripple" keygen "$work/key.rsa" --bits 2048 >/dev/null

# clone DIR: a new clone of the origin at DIR, with the key.
cat > "$work/clone" <<EOF
#!/bin/sh
set -e
rm -rf "\$1"
git clone -q "$work/origin" "\$1"
cp "$work/key.rsa" "\$1/local.rsa"
cp "$work/key.rsa.pub" "\$1/local.rsa.pub"
[ -z "\${2:-}" ] || { mkdir -p "\$1/.ripple" && cp -r "\$2" "\$1/.ripple/cache"; }
EOF
chmod +x "$work/clone"

# The clone that fills the cache.
"$work/clone" "$work/first"
"$ripple" -C "$work/first" build --all >"$work/first.log" || { cat "$work/first.log" >&2; exit 1; }
grep -q '^done: 9 built' "$work/first.log" || { cat "$work/first.log" >&2; exit 1; }

hyperfine -N -w 1 -r "${RUNS:-3}" --export-json "$work/h.json" \
	--prepare "$work/clone $work/c" \
	-n "fresh clone, build --all --no-cache (anchor)" "$ripple -C $work/c build --all --no-cache" \
	--prepare "$work/clone $work/c" \
	-n "fresh clone, build --all from the registry" "$ripple -C $work/c build --all" \
	--prepare "$work/clone $work/c $work/first/.ripple/cache" \
	-n "fresh clone, build --all from .ripple/cache" "$ripple -C $work/c build --all" >/dev/null
# The last run of each kind did what its name says.
"$work/clone" "$work/check"
"$ripple" -C "$work/check" build --all >"$work/check.log"
grep -q '^done: 0 built, 9 from cache' "$work/check.log" || { cat "$work/check.log" >&2; exit 1; }

python3 - "$work/h.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["results"]
anchor = r[0]["mean"]
for x in r:
    print("%-48s %8.1f ms ± %5.1f   %.2f× anchor" % (x["command"], x["mean"] * 1e3, x["stddev"] * 1e3, x["mean"] / anchor))
PY
