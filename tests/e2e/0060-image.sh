#!/bin/sh
# The native image assembler, for real: packages built by `ripple build
# --runner native` (a static C program, a script, a package the image does
# not want), two apko images over the local signed repository, assembled by
# ripple itself.  Checked: skopeo reads the OCI layout; umoci unpacks it and
# the entrypoint runs under bubblewrap; the tree has apko's database,
# accounts and paths; the same inputs give the same digests; a wrong
# keyring, a missing package and a conflict fail with clear messages; a push
# to a docker-registry on 127.0.0.1 gives the digest written locally.
. "$(dirname "$0")/lib.sh"
need_sandbox skopeo umoci cc
printf 'int main(void){return 0;}' > "$T/static.c"
cc -static -o "$T/static" "$T/static.c" 2>/dev/null || skip "no static libc to link with"

mkdir -p "$T/repo"
cd "$T/repo"
printf 'archs: [%s]\nsigning-key: local.rsa\n' "$arch" > .ripple.yaml
cat > hello.yaml <<'EOY'
package:
  name: hello
  version: 1.2
  epoch: 1
  description: a static hello
  copyright:
    - license: MIT
pipeline:
  - runs: |
      cat > hello.c <<'EOF'
      #include <stdio.h>
      #include <unistd.h>
      int main(int argc, char **argv)
      {
              printf("hello from the image, uid %d, %s\n", (int)getuid(), argc > 1 ? argv[1] : "no args");
              return 0;
      }
      EOF
      cc -static -O2 -o hello hello.c
      install -Dm755 hello ${{targets.destdir}}/usr/bin/hello
subpackages:
  - name: hello-doc
    description: words about hello
    pipeline:
      - runs: |
          mkdir -p ${{targets.subpkgdir}}/usr/share/doc/hello
          echo 'hello says hello' > ${{targets.subpkgdir}}/usr/share/doc/hello/README
EOY
cat > motd.yaml <<'EOY'
package:
  name: motd
  version: 3
  epoch: 0
  description: the message of the day
  copyright:
    - license: MIT
  dependencies:
    runtime:
      - hello
  scriptlets:
    post-install: |
      #!/bin/sh
      echo motd installed
    trigger:
      script: |
        #!/bin/sh
        echo motd triggered
      paths:
        - /usr/share/motd
pipeline:
  - runs: |
      mkdir -p ${{targets.destdir}}/etc
      echo 'welcome' > ${{targets.destdir}}/etc/motd
EOY
cat > unwanted.yaml <<'EOY'
package:
  name: unwanted
  version: 1
  epoch: 0
  description: no image wants this
pipeline:
  - runs: mkdir -p ${{targets.destdir}}/usr/share/unwanted && echo x > ${{targets.destdir}}/usr/share/unwanted/x
EOY
mkdir -p images
cat > images/base.apko.yaml <<EOY
contents:
  keyring:
    - ./local.rsa.pub
  packages:
    - hello-doc
accounts:
  groups:
    - groupname: nonroot
      gid: 65532
  users:
    - username: nonroot
      uid: 65532
      gid: 65532
  run-as: 65532
environment:
  GREETING: hi
archs:
  - $arch
EOY
cat > images/hello.apko.yaml <<EOY
include: base.apko.yaml
contents:
  packages:
    - motd
entrypoint:
  command: /usr/bin/hello
cmd: from-cmd
work-dir: /data
stop-signal: SIGTERM
annotations:
  org.opencontainers.image.title: hello
paths:
  - path: /data
    type: directory
    uid: 65532
    gid: 65532
    permissions: 0o750
  - path: /etc/motd
    type: permissions
    uid: 0
    gid: 0
    permissions: 0o600
  - path: /usr/bin/hi
    type: symlink
    source: /usr/bin/hello
EOY
run 0 "$RIPPLE" keygen local.rsa --bits 2048
git init -q
git add -A
git -c user.name=t -c user.email=t@t commit -qm init

# ---- the build: packages, then the image over them ----------------------------------------
export SOURCE_DATE_EPOCH=1700000000
PATH_NO_APKO=$(printf '%s' "$PATH" | tr ':' '\n' | while read -r d; do [ -x "$d/apko" ] || printf '%s:' "$d"; done)
run 0 env PATH="$PATH_NO_APKO" "$RIPPLE" build --runner native -j 2
expect_out '^done: 5 built, 0 failed, 0 skipped'
expect_out '^\[[0-9]/5\] ok image hello '
expect_out '^\[[0-9]/5\] ok image base '
expect_out 'critical path .*: hello -> image hello$'
[ -f "images/hello/$arch.manifest" ] || fail "no images/hello/$arch.manifest"
ls images/hello/index.json images/hello/oci-layout >/dev/null || fail "no OCI layout"

# skopeo reads it, by the tag and by the per-arch tag.
run 0 skopeo inspect "oci:images/hello:latest-$ociarch"
python3 - "$T/out" "$arch" <<'PY' || fail "skopeo inspect: $(cat "$T/out")"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["Architecture"] == {"x86_64": "amd64", "aarch64": "arm64"}[sys.argv[2]], d
assert d["Os"] == "linux", d
assert d["Created"].startswith("2023-11-14T22:13:20"), d["Created"]
assert len(d["Layers"]) == 1, d
assert d["Labels"]["org.opencontainers.image.title"] == "hello", d["Labels"]
PY
run 0 skopeo inspect --raw oci:images/hello:latest
json_eq 'd["mediaType"]' application/vnd.oci.image.index.v1+json
json_eq 'd["manifests"][0]["platform"]["architecture"]' "$ociarch"
run 0 skopeo inspect --config oci:images/hello:latest-$ociarch
json_eq 'd["config"]["Entrypoint"]' "['/usr/bin/hello']"
json_eq 'd["config"]["Cmd"]' "['from-cmd']"
json_eq 'd["config"]["User"]' 65532
json_eq 'd["config"]["WorkingDir"]' /data
json_eq 'd["config"]["StopSignal"]' SIGTERM
json_eq '"GREETING=hi" in d["config"]["Env"]' True
json_eq 'd["rootfs"]["type"]' layers

# umoci unpacks it; the entrypoint runs under bubblewrap as the image's user.
run 0 umoci unpack --rootless --image "images/hello:latest-$ociarch" "$T/bundle"
R=$T/bundle/rootfs
run 0 bwrap --bind "$R" / --dev /dev --proc /proc --unshare-all --uid 65532 --gid 65532 \
	--chdir /data /usr/bin/hello from-cmd
expect_out '^hello from the image, uid 65532, from-cmd$'
run 0 bwrap --bind "$R" / --dev /dev --proc /proc --unshare-all /usr/bin/hi
expect_out '^hello from the image, uid 0, no args$'

# The tree: apko's database, world, repositories, keys, accounts, paths, apko.json.
# apko pins the world it resolved (apko's pkg/build/lock.go): name=version, sorted.
[ "$(cat "$R/etc/apk/world")" = "$(printf 'hello-doc=1.2-r1\nhello=1.2-r1\nmotd=3-r0')" ] ||
	fail "world: $(cat "$R/etc/apk/world")"
[ "$(cat "$R/etc/apk/arch")" = "$arch" ] || fail "arch: $(cat "$R/etc/apk/arch")"
grep -c '^P:' "$R/usr/lib/apk/db/installed" | grep -qx 3 ||
	fail "installed: $(grep '^P:' "$R/usr/lib/apk/db/installed")"
grep -q '^P:unwanted' "$R/usr/lib/apk/db/installed" && fail "unwanted was installed"
grep -qx 'nonroot:x:65532:65532:Account created by apko:/home/nonroot:/bin/sh' "$R/etc/passwd" || fail "passwd: $(cat "$R/etc/passwd")"
grep -qx 'nonroot:x:65532:' "$R/etc/group" || fail "group: $(cat "$R/etc/group")"
[ -f "$R/etc/apk/keys/local.rsa.pub" ] || fail "no key in /etc/apk/keys"
[ "$(cat "$R/usr/share/doc/hello/README")" = 'hello says hello' ] || fail "hello-doc not installed"
[ -L "$R/lib/apk" ] || [ -d "$R/lib/apk" ] || fail "no /lib/apk"
python3 - "$R/etc/apko.json" "$arch" <<'PY' ||
import json, sys
text = open(sys.argv[1]).read()
d = json.loads(text)
assert text.endswith("}\n"), "apko's encoder ends with a newline"
assert list(d) == ["contents", "entrypoint", "cmd", "stop-signal", "work-dir", "accounts", "archs",
                   "environment", "paths", "annotations"], list(d)
assert d["contents"]["packages"] == ["hello-doc=1.2-r1", "hello=1.2-r1", "motd=3-r0"], d
assert d["accounts"] == {"run-as": "65532", "users": [{"username": "nonroot", "uid": 65532, "gid": 65532,
                                                    "homedir": "/home/nonroot"}],
                         "groups": [{"groupname": "nonroot", "gid": 65532}]}, d["accounts"]
assert d["paths"][0] == {"path": "/data", "type": "directory", "uid": 65532, "gid": 65532,
                         "permissions": 0o750}, d["paths"]
assert d["paths"][2] == {"path": "/usr/bin/hi", "type": "symlink", "source": "/usr/bin/hello"}
assert d["archs"] == [{"x86_64": "amd64", "aarch64": "arm64"}[sys.argv[2] if len(sys.argv) > 2 else "x86_64"]]
PY
	fail "apko.json: $(cat "$R/etc/apko.json")"

# The packages' scripts and triggers, as apk records them (not run).
python3 - "$R/usr/lib/apk/db/scripts.tar" "$R/usr/lib/apk/db/triggers" "$R/usr/lib/apk/db/installed" <<'PY' ||
import re, sys, tarfile
t = tarfile.open(sys.argv[1])
names = t.getnames()
inst = open(sys.argv[3]).read()
q1 = re.search(r"^P:motd\nV:3-r0\n(?:.*\n)*?C:(Q1\S+)", inst, re.M).group(1)
assert names == ["motd-3-r0.%s.post-install" % q1, "motd-3-r0.%s.trigger" % q1], names
m = t.getmember(names[0])
assert m.mode == 0o755 and m.mtime == 1700000000 and m.uname == "root", (oct(m.mode), m.mtime, m.uname)
assert t.extractfile(m).read() == b"#!/bin/sh\necho motd installed\n"
assert open(sys.argv[2]).read() == "%s /usr/share/motd\n" % q1, open(sys.argv[2]).read()
PY
	fail "scripts.tar or triggers"

# Modes and owners come from the layer itself, not from umoci's rootless mapping.
blob() { echo "images/hello/blobs/sha256/${1#sha256:}"; }
man=$(cat "images/hello/$arch.manifest")
layer=$(python3 -c "import json; print(json.load(open('$(blob "$man")'))['layers'][0]['digest'])")
python3 - "$(blob "$layer")" <<'PY' || fail "the layer"
import sys, tarfile
t = tarfile.open(sys.argv[1], "r:gz")
names = t.getnames()
# apko's walk: pre-order, each directory's children sorted bytewise.
assert names == sorted(names, key=lambda n: n.encode().split(b"/")), names
m = {e.name: e for e in t}
assert m["data"].isdir() and m["data"].uid == 65532 and m["data"].gid == 65532, m["data"].uid
assert m["data"].mode & 0o7777 == 0o750, oct(m["data"].mode)
assert m["data"].uname == "nonroot" and m["usr/bin/hello"].uname == "", m["data"].uname
assert m["etc/motd"].mode & 0o7777 == 0o600, oct(m["etc/motd"].mode)
assert m["usr/bin/hi"].issym() and m["usr/bin/hi"].linkname == "/usr/bin/hello"
assert m["usr/bin/hello"].uid == 0 and m["usr/bin/hello"].mode & 0o777 == 0o755
assert m["usr/bin/hello"].mtime == 1700000000, m["usr/bin/hello"].mtime
assert all(not n.startswith("/") and ".." not in n.split("/") for n in names)
PY

# ---- the same inputs, the same digests ---------------------------------------------------
digests() {
	(cd images/hello && cat index.json && find blobs -type f | sort | xargs sha256sum)
}
digests > "$T/d1"
run 0 env PATH="$PATH_NO_APKO" "$RIPPLE" build --runner native --force hello
expect_out '^done: 3 built'
digests > "$T/d2"
cmp -s "$T/d1" "$T/d2" || fail "the rebuilt image differs: $(diff "$T/d1" "$T/d2")"
run 0 "$RIPPLE" native-image images/hello.apko.yaml --arch "$arch" --out-dir "$T/again" \
	--repository-append packages --keyring-append local.rsa.pub
(cd "$T/again/hello" && cat index.json && find blobs -type f | sort | xargs sha256sum) > "$T/d3"
cmp -s "$T/d1" "$T/d3" || fail "native-image into another dir differs: $(diff "$T/d1" "$T/d3")"

# ---- a docker-archive for `docker load`, read by skopeo ------------------------------------
run 0 "$RIPPLE" native-image images/hello.apko.yaml --arch "$arch" --out-dir "$T/again" \
	--repository-append packages --keyring-append local.rsa.pub --docker-archive "$T/hello.tar"
expect_out "docker-archive $T/hello.tar: hello:latest for $ociarch"
run 0 skopeo inspect --config "docker-archive:$T/hello.tar:hello:latest"
layer_diff=$(python3 -c "import json; print(json.load(open('$(blob "$(python3 -c "import json; print(json.load(open('$(blob "$man")'))['config']['digest'])")")'))['rootfs']['diff_ids'][0])")
json_eq 'd["rootfs"]["diff_ids"][0]' "$layer_diff"
json_eq 'd["config"]["Entrypoint"]' "['/usr/bin/hello']"
run 0 skopeo copy "docker-archive:$T/hello.tar:hello:latest" "oci:$T/fromdocker:x"
run 0 umoci unpack --rootless --image "$T/fromdocker:x" "$T/bundle2"
cmp -s "$T/bundle2/rootfs/usr/bin/hello" "$R/usr/bin/hello" || fail "the docker-archive's hello differs"

# ---- apko.lock.json: written, then read back instead of resolving ---------------------------
run 0 "$RIPPLE" native-image images/hello.apko.yaml --arch "$arch" --out-dir "$T/locked" \
	--repository-append packages --keyring-append local.rsa.pub --lock images/hello.lock.json
expect_out "locked 3 packages for $arch in images/hello.lock.json"
python3 - images/hello.lock.json "$arch" <<'PY' || fail "the lock file: $(cat images/hello.lock.json)"
import base64, hashlib, json, sys
text = open(sys.argv[1]).read()
d = json.loads(text)
assert text.endswith("}\n") and text.startswith('{\n  "version": "v1",'), text[:40]
assert list(d) == ["version", "config", "contents"], list(d)
assert d["config"]["name"] == "hello.apko.yaml"
want = hashlib.sha256(open("images/hello.apko.yaml", "rb").read() + open("images/base.apko.yaml", "rb").read()).digest()
assert d["config"]["checksum"] == "sha256-" + base64.b64encode(want).decode(), d["config"]
assert [k["name"] for k in d["contents"]["keyring"]] == ["./local.rsa.pub", "local.rsa.pub"], d["contents"]["keyring"]
assert d["contents"]["keyring"][0]["content"] == open("local.rsa.pub").read()
assert d["contents"]["repositories"] == [{"name": "packages/" + sys.argv[2], "url": "packages/%s/APKINDEX.tar.gz" % sys.argv[2], "architecture": sys.argv[2]}]
pk = d["contents"]["packages"]
assert [p["name"] for p in pk] == ["hello-doc", "hello", "motd"], pk
for p in pk:
    assert list(p) == ["name", "url", "version", "architecture", "signature", "control", "data", "checksum"], list(p)
    raw = open(p["url"], "rb").read()
    parts = {}
    for sec, algo in (("signature", "sha1"), ("control", "sha1"), ("data", "sha256")):
        a, b = map(int, p[sec]["range"][len("bytes="):].split("-"))
        blob = raw[a:b + 1]
        assert p[sec]["checksum"] == algo + "-" + base64.b64encode(hashlib.new(algo, blob).digest()).decode(), (p["name"], sec)
        parts[sec] = (a, b)
    assert parts["signature"][0] == 0 and parts["data"][1] == len(raw) - 1
    assert parts["control"][0] == parts["signature"][1] + 1 and parts["data"][0] == parts["control"][1] + 1
    assert p["checksum"] == "Q1" + p["control"]["checksum"][len("sha1-"):]
PY
git add images/hello.lock.json
git -c user.name=t -c user.email=t@t commit -qm lock
# motd 4 is built; the image resolves it, the lock file keeps motd 3.
sed -i 's/^  version: 3$/  version: 4/' motd.yaml
run 0 env PATH="$PATH_NO_APKO" "$RIPPLE" build --runner native motd
[ -f "packages/$arch/motd-4-r0.apk" ] && [ -f "packages/$arch/motd-3-r0.apk" ] || fail "motd 3 and 4 are not both kept"
run 0 "$RIPPLE" native-image images/hello.apko.yaml --arch "$arch" --out-dir "$T/fromlock" \
	--lockfile images/hello.lock.json
expect_out "lock file images/hello.lock.json: 3 packages for $arch"
expect_out 'installed motd-3-r0'
(cd "$T/fromlock/hello" && cat index.json && find blobs -type f | sort | xargs sha256sum) > "$T/d4"
cmp -s "$T/d1" "$T/d4" || fail "the image from the lock file differs: $(diff "$T/d1" "$T/d4")"
run 0 "$RIPPLE" native-image images/hello.apko.yaml --arch "$arch" --out-dir "$T/unlocked" \
	--repository-append packages --keyring-append local.rsa.pub
expect_out 'installed motd-4-r0'
# A lock file from another config, or with a checksum that is not the apk's, is refused.
python3 - images/hello.lock.json "$T/bad.lock.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
d["contents"]["packages"][0]["checksum"] = "Q1" + "A" * 27 + "="
json.dump(d, open(sys.argv[2], "w"))
PY
run 1 "$RIPPLE" native-image images/hello.apko.yaml --arch "$arch" --out-dir "$T/bad" --lockfile "$T/bad.lock.json"
expect_err 'the control section does not match the lock file'
echo '# changed' >> images/base.apko.yaml
run 1 "$RIPPLE" native-image images/hello.apko.yaml --arch "$arch" --out-dir "$T/bad" --lockfile images/hello.lock.json
expect_err 'images/hello.lock.json was made from another version of images/hello.apko.yaml .*lock it again'
git checkout -q images/base.apko.yaml
run 2 "$RIPPLE" native-image images/hello.apko.yaml --lock a.json --lockfile images/hello.lock.json
expect_err 'give one'

# ---- bad inputs fail clearly, leaving nothing half-written ----------------------------------
run 0 "$RIPPLE" keygen other.rsa --bits 2048
printf 'contents:\n  keyring: [./other.rsa.pub]\n  packages: [motd]\n' > images/otherkey.apko.yaml
run 1 "$RIPPLE" native-image images/otherkey.apko.yaml --arch "$arch" --out-dir "$T/bad" \
	--repository-append packages
expect_err 'APKINDEX.tar.gz.*(signature|signed)'
[ ! -e "$T/bad/otherkey/index.json" ] || fail "a failed image left an index"
sed 's/- motd/- nosuchpkg/' images/hello.apko.yaml > images/missing.apko.yaml
run 1 "$RIPPLE" native-image images/missing.apko.yaml --arch "$arch" --out-dir "$T/bad" \
	--repository-append packages --keyring-append local.rsa.pub
expect_err 'nosuchpkg'
sed 's/- motd/- motd\n    - "!hello"/' images/hello.apko.yaml > images/conflict.apko.yaml
run 1 "$RIPPLE" native-image images/conflict.apko.yaml --arch "$arch" --out-dir "$T/bad" \
	--repository-append packages --keyring-append local.rsa.pub
expect_err 'hello'
rm images/missing.apko.yaml images/conflict.apko.yaml images/otherkey.apko.yaml

# ---- push with credentials: a registry that wants a bearer token ---------------------------
# A small registry on 127.0.0.1 that answers 401 with a Harbor-style challenge
# (its realm URL contains "service"), hands out a token for the Basic
# credentials of $DOCKER_CONFIG/config.json, and stores what it is given.
cat > "$T/tokenreg.py" <<'PY'
import base64, hashlib, http.server, json, sys, urllib.parse
port, out = int(sys.argv[1]), sys.argv[2]
TOKEN, CREDS = "t0k3n", base64.b64encode(b"robot:s3cret").decode()
state = {"blobs": {}, "manifests": {}, "token_requests": []}
class H(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def reply(self, code, body=b"", headers=()):
        self.send_response(code)
        for k, v in headers: self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD": self.wfile.write(body)
    def authed(self):
        if self.headers.get("Authorization") == "Bearer " + TOKEN: return True
        self.reply(401, b"", [("WWW-Authenticate", 'Bearer realm="http://127.0.0.1:%d/service/token",service="harbor-registry"' % port)])
        return False
    def save(self):
        json.dump(state, open(out, "w"))
    def do_GET(self):
        u = urllib.parse.urlparse(self.path)
        if u.path == "/service/token":
            q = dict(urllib.parse.parse_qsl(u.query))
            state["token_requests"].append([q, self.headers.get("Authorization")]); self.save()
            if self.headers.get("Authorization") != "Basic " + CREDS: return self.reply(401)
            return self.reply(200, json.dumps({"token": TOKEN}).encode())
        self.reply(404)
    def do_HEAD(self):
        if not self.authed(): return
        d = self.path.rsplit("/", 1)[1]
        self.reply(200 if d in state["blobs"] else 404)
    def do_POST(self):
        if not self.authed(): return
        self.reply(202, b"", [("Location", "/upload/1")])
    def do_PUT(self):
        if not self.authed(): return
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        u = urllib.parse.urlparse(self.path)
        d = "sha256:" + hashlib.sha256(body).hexdigest()
        if u.path.startswith("/upload/"):
            want = dict(urllib.parse.parse_qsl(u.query)).get("digest")
            if want != d: return self.reply(400)
            state["blobs"][d] = len(body)
        else:
            state["manifests"][u.path.rsplit("/", 1)[1]] = d
        self.save()
        self.reply(201, b"", [("Docker-Content-Digest", d)])
http.server.HTTPServer(("127.0.0.1", port), H).serve_forever()
PY
tport=$(free_port)
python3 "$T/tokenreg.py" "$tport" "$T/tokenreg.json" &
tokenreg=$!
wait_port "$tport" "the token registry"
mkdir -p "$T/docker"
printf '{"auths": {"127.0.0.1:%s": {"auth": "%s"}}}\n' "$tport" "$(printf robot:s3cret | base64)" > "$T/docker/config.json"
run 1 env DOCKER_CONFIG="$T/nowhere" "$RIPPLE" push images/hello "127.0.0.1:$tport/ripple/hello:v1"
expect_err 'refused a token \(HTTP 401\): no credentials for this registry'
run 0 env DOCKER_CONFIG="$T/docker" "$RIPPLE" push images/hello "127.0.0.1:$tport/ripple/hello:v1"
kill $tokenreg
python3 - "$T/tokenreg.json" "$(cat images/hello/index.json)" <<'PY' || fail "the token registry: $(cat "$T/tokenreg.json")"
import json, sys
s = json.load(open(sys.argv[1]))
idx = json.loads(sys.argv[2])
latest = [m["digest"] for m in idx["manifests"] if m["annotations"]["org.opencontainers.image.ref.name"] == "latest"][0]
assert s["manifests"]["v1"] == latest, s["manifests"]
q, auth = s["token_requests"][-1]
assert q == {"scope": "repository:ripple/hello:pull,push", "service": "harbor-registry"}, q
assert auth.startswith("Basic "), auth
assert len(s["blobs"]) == 2, s["blobs"]   # the config and the layer
PY

# ---- push to a registry on 127.0.0.1 ------------------------------------------------------
command -v docker-registry >/dev/null || {
	echo "docker-registry is not installed: push not tested" >&2
	exit 0
}
registry_start
local_digest=$(python3 -c "import json; print([m['digest'] for m in json.load(open('images/hello/index.json'))['manifests'] if m['annotations']['org.opencontainers.image.ref.name'] == 'latest'][0])")
run 0 "$RIPPLE" push images/hello "127.0.0.1:$port/ripple/hello:v1"
expect_out "^pushed 127.0.0.1:$port/ripple/hello:v1@$local_digest\$"
run 0 skopeo inspect --tls-verify=false --raw "docker://127.0.0.1:$port/ripple/hello:v1"
got=$(sha256sum "$T/out" | cut -d' ' -f1)
[ "sha256:$got" = "$local_digest" ] || fail "the registry's index is sha256:$got, locally $local_digest"
run 0 skopeo inspect --tls-verify=false "docker://127.0.0.1:$port/ripple/hello:v1"
json_eq 'd["Digest"]' "$local_digest"
# Pushing again finds every blob there already and gives the same digest.
run 0 "$RIPPLE" push images/hello "127.0.0.1:$port/ripple/hello:v1"
expect_out "@$local_digest\$"
# skopeo copies the pushed image back out, and it is the same image.
run 0 skopeo copy --src-tls-verify=false --all "docker://127.0.0.1:$port/ripple/hello:v1" "oci:$T/copied:v1"
run 0 skopeo inspect --raw "oci:$T/copied:v1"
[ "sha256:$(sha256sum "$T/out" | cut -d' ' -f1)" = "$local_digest" ] || fail "the copy differs: $(cat "$T/out")"
# A per-arch tag names one arch's manifest: pushed as a manifest, not an index.
arch_digest=$(python3 -c "import json; print([m['digest'] for m in json.load(open('images/hello/index.json'))['manifests'] if m['annotations']['org.opencontainers.image.ref.name'] == 'latest-$ociarch'][0])")
run 0 "$RIPPLE" push images/hello "127.0.0.1:$port/ripple/hello" --tag "latest-$ociarch"
expect_out "^pushed 127.0.0.1:$port/ripple/hello:latest-$ociarch@$arch_digest\$"
run 0 skopeo inspect --tls-verify=false --raw "docker://127.0.0.1:$port/ripple/hello:latest-$ociarch"
[ "sha256:$(sha256sum "$T/out" | cut -d' ' -f1)" = "$arch_digest" ] || fail "the per-arch manifest differs"
json_eq 'd["mediaType"]' "application/vnd.oci.image.manifest.v1+json"
# apko's layout: index.json itself is the image index, with no tags.
golden=$RPL_SHARED/conformance/apko-golden/golden
if [ -f "$golden/index.json" ]; then
	cp -r "$golden" "$T/apko-layout"
	gdigest=sha256:$(sha256sum "$T/apko-layout/index.json" | cut -d' ' -f1)
	run 0 "$RIPPLE" push "$T/apko-layout" "127.0.0.1:$port/ripple/golden:v1"
	expect_out "^pushed 127.0.0.1:$port/ripple/golden:v1@$gdigest\$"
	run 0 skopeo inspect --tls-verify=false --raw "docker://127.0.0.1:$port/ripple/golden:v1"
	cmp -s "$T/out" "$T/apko-layout/index.json" || fail "the registry's golden index differs"
	run 0 skopeo copy --src-tls-verify=false --all "docker://127.0.0.1:$port/ripple/golden:v1" "oci:$T/golden-copy:v1"
else
	# Everything else still runs; the test then reports itself skipped.
	golden_missing=1
fi
# native-image --push: assembled and pushed in one go.
run 0 "$RIPPLE" native-image images/hello.apko.yaml --arch "$arch" --out-dir "$T/direct" \
	--repository-append packages --keyring-append local.rsa.pub --tag v2 --push "127.0.0.1:$port/ripple/direct"
direct=$(python3 -c "import json; print(json.load(open('$T/direct/hello/index.json'))['manifests'][0]['digest'])")
expect_out "^ripple: pushed 127.0.0.1:$port/ripple/direct@$direct\$"
run 0 skopeo inspect --tls-verify=false "docker://127.0.0.1:$port/ripple/direct:v2"
json_eq 'd["Digest"]' "$direct"
# ripple build --push: every image built is pushed under the prefix.
run 0 env PATH="$PATH_NO_APKO" "$RIPPLE" build --runner native --force hello --push "127.0.0.1:$port/built"
expect_out '^done: 3 built'
for img in hello base; do
	pushed=$(python3 -c "import json; print([m['digest'] for m in json.load(open('images/$img/index.json'))['manifests'] if m['annotations']['org.opencontainers.image.ref.name'] == 'latest'][0])")
	run 0 skopeo inspect --tls-verify=false "docker://127.0.0.1:$port/built/$img:latest"
	json_eq 'd["Digest"]' "$pushed"
done
grep -q "pushed 127.0.0.1:$port/built/hello@sha256:" .ripple/logs/*/$arch/hello.log.image ||
	fail "the image job's log does not say it pushed"
# A tag the layout lacks, and a registry that is not there.
run 1 "$RIPPLE" push images/hello "127.0.0.1:$port/ripple/hello" --tag nosuchtag
expect_err 'no image tagged nosuchtag'
kill $registry
wait $registry 2>/dev/null || true
run 1 "$RIPPLE" push images/hello "127.0.0.1:$port/ripple/hello:v1"
expect_err "push: .*127.0.0.1:$port"
run 0 "$RIPPLE" push --help
expect_out '^usage: ripple push LAYOUT'
[ -z "${golden_missing:-}" ] || skip "no conformance data at $golden: apko's layout shape not pushed"
