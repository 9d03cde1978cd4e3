#!/bin/sh
# The native image assembler against hostile packages, for real: a local
# repository of apks written byte by byte (python3), indexed and signed by
# `ripple index`, and an image of each assembled by `ripple native-image`.
# Each is refused with its message, exit status 1, no image index written,
# in bounded time: a link that climbs out of the image with a file through
# it; a link in one apk and a file through it in another; a hard link
# outside the image and one to nothing; a device node; an apk without
# datahash whose data was swapped after indexing (and one with a datahash);
# a gzip bomb of 5 GiB of zeros (5 MiB on disk) and one whose bytes hide in
# extended headers, past --max-image-size; and over HTTP, an endless
# APKINDEX and an apk larger than the limit.  A good package next to them
# still makes an image.
. "$(dirname "$0")/lib.sh"
command -v python3 >/dev/null || skip "python3 is not installed"

R=$T/repo
mkdir -p "$R/x86_64"
cd "$T"
run 0 "$RIPPLE" keygen local.rsa --bits 2048

# write_apks DIR: the packages, as apk-tools lays them out (a control gzip
# member without end blocks holding .PKGINFO, then the data member).
python3 - "$R/x86_64" <<'EOF'
import gzip, hashlib, sys, tarfile, zlib

d = sys.argv[1]
ZERO = bytes(1 << 20)

def entry(kind, name, arg=None, mode=None):
    t = tarfile.TarInfo(name)
    t.mtime = 1700000000
    t.uname = t.gname = "root"
    t.mode = 0o755 if kind in "dl" else 0o644
    data = b""
    if kind == "d":
        t.type = tarfile.DIRTYPE
    elif kind == "f":
        data = arg.encode()
        t.size = len(data)
    elif kind == "l":
        t.type, t.linkname, t.mode = tarfile.SYMTYPE, arg, 0o777
    elif kind == "h":
        t.type, t.linkname = tarfile.LNKTYPE, arg
    elif kind == "c":
        t.type, t.devmajor, t.devminor = tarfile.CHRTYPE, 1, 1
    if mode is not None:
        t.mode = mode
    out = t.tobuf(format=tarfile.PAX_FORMAT)
    if data:
        out += data + bytes(-len(data) % 512)
    return out

def data_member(entries):
    return gzip.compress(b"".join(entry(*e) for e in entries) + bytes(1024), 9, mtime=0)

def control_member(name, data, depends=(), datahash=True):
    info = f"pkgname = {name}\npkgver = 1.0-r0\narch = x86_64\nsize = 1\n"
    info += f"origin = {name}\npkgdesc = {name}\nlicense = MIT\n"
    info += "".join(f"depend = {x}\n" for x in depends)
    if datahash:
        info += f"datahash = {hashlib.sha256(data).hexdigest()}\n"
    t = tarfile.TarInfo(".PKGINFO")
    t.size, t.mtime, t.uname, t.gname = len(info), 1700000000, "root", "root"
    body = t.tobuf(format=tarfile.USTAR_FORMAT) + info.encode() + bytes(-len(info) % 512)
    return gzip.compress(body, 9, mtime=0)

def write(name, entries, depends=(), datahash=True):
    data = data_member(entries)
    with open(f"{d}/{name}-1.0-r0.apk", "wb") as f:
        f.write(control_member(name, data, depends, datahash))
        f.write(data)

write("good", [("d", "usr"), ("d", "usr/share"), ("f", "usr/share/good", "fine\n"),
               ("l", "usr/share/also", "good")])
# A link whose relative target climbs out, then a file through it.
write("escape", [("d", "usr"), ("l", "usr/up", "../../../../.."),
                 ("d", "usr/up/etc"), ("f", "usr/up/etc/cron", "* * * * * evil\n")])
# The link in one package, the file through it in another that needs it.
write("linker", [("d", "usr"), ("l", "usr/local", "../../../..")])
write("writer", [("d", "usr"), ("d", "usr/local"), ("d", "usr/local/bin"),
                 ("f", "usr/local/bin/evil", "x\n")], depends=["linker"])
write("hardout", [("d", "usr"), ("h", "usr/shadow", "../../etc/shadow")])
write("hardnone", [("d", "usr"), ("h", "usr/copy", "usr/nothing")])
write("device", [("d", "usr"), ("c", "usr/mem")])
write("nohash", [("d", "usr"), ("f", "usr/x", "honest\n")], datahash=False)
write("swapped", [("d", "usr"), ("f", "usr/x", "honest\n")])

# The bomb: a 5 GiB file of zeros in 5 MiB.  Its data section is gzip
# members one after the other, which gzip, libarchive and ripple read as
# one stream: the headers, then 80 times one member of 64 MiB of zeros
# (compressed once, fed to zlib a MiB at a time; nothing of GiBs is ever
# held or written), then the end blocks.
def stream_member(chunks):
    z = zlib.compressobj(9, zlib.DEFLATED, 31)
    return b"".join(z.compress(c) for c in chunks) + z.flush()

def bomb(name, head, member, n):
    data = gzip.compress(head, 9, mtime=0) + member * n + gzip.compress(bytes(1024), 9, mtime=0)
    with open(f"{d}/{name}-1.0-r0.apk", "wb") as f:
        f.write(control_member(name, data))
        f.write(data)

t = tarfile.TarInfo("usr/bomb")
t.size, t.mtime, t.uname, t.gname = 5 << 30, 1700000000, "root", "root"
zeros64 = stream_member(ZERO for _ in range(64))
bomb("bomb", entry("d", "usr") + t.tobuf(format=tarfile.GNU_FORMAT), zeros64, 80)

# The other bomb: 512 KiB PAX headers (a comment each, which libarchive
# reads and drops) before tiny entries, so that no entry's size says much:
# 2 GiB of them in a few MiB.
rec = 512 << 10
pax = tarfile.TarInfo("PaxHeaders/usr")
pax.type, pax.size, pax.mtime = tarfile.XHDTYPE, rec, 1700000000
one = pax.tobuf(format=tarfile.USTAR_FORMAT)
one += f"{rec} comment=".encode() + b"z" * (rec - len(str(rec)) - 10) + b"\n" + bytes(-rec % 512)
one += entry("d", "usr")
bomb("paxbomb", b"", stream_member([one]), (2 << 30) // len(one))
EOF
run 0 "$RIPPLE" index "$R/x86_64" --signing-key local.rsa
expect_out 'packages merged, signed'

# After indexing: the data of two packages swapped, the control sections
# (and so the index's C:) untouched.
python3 - "$R/x86_64" <<'EOF'
import gzip, sys, tarfile, zlib
d = sys.argv[1]
for name in ("nohash", "swapped"):
    p = f"{d}/{name}-1.0-r0.apk"
    apk = open(p, "rb").read()
    z = zlib.decompressobj(31)
    z.decompress(apk)
    control = apk[: len(apk) - len(z.unused_data)]
    usr, x = tarfile.TarInfo("usr"), tarfile.TarInfo("usr/x")
    usr.type, usr.mode, usr.mtime = tarfile.DIRTYPE, 0o755, 1700000000
    evil = b"evil\n"
    x.size, x.mtime = len(evil), 1700000000
    tar = usr.tobuf() + x.tobuf() + evil + bytes(-len(evil) % 512) + bytes(1024)
    open(p, "wb").write(control + gzip.compress(tar, 9, mtime=0))
EOF

# image NAME PACKAGE: an apko config that wants PACKAGE.
image() {
	printf 'contents:\n  packages:\n    - %s\n' "$2" > "$T/$1.apko.yaml"
}

# refused NAME PACKAGE MESSAGE [FLAGS...]: the image of PACKAGE from the
# repository $repo is refused with MESSAGE (an ERE), exit status 1, within
# 120 s, and leaves no image index behind.
repo=$R
refused() {
	name=$1 pkg=$2 msg=$3
	shift 3
	image "$name" "$pkg"
	start=$(date +%s)
	run 1 timeout 120 "$RIPPLE" native-image "$T/$name.apko.yaml" --arch x86_64 \
		--out-dir "$T/out-$name" --repository-append "$repo" --keyring-append local.rsa.pub "$@"
	expect_err "$msg"
	[ ! -e "$T/out-$name/$name/index.json" ] || fail "$name: refused, but an image index was written"
	echo "$name: refused in $(($(date +%s) - start)) s" >&2
}

image good good
run 0 timeout 120 "$RIPPLE" native-image "$T/good.apko.yaml" --arch x86_64 --out-dir "$T/out-good" \
	--repository-append "$R" --keyring-append local.rsa.pub
[ -f "$T/out-good/good/index.json" ] || fail "the good image has no index"

try escape refused escape escape \
	'escape-1.0-r0.apk: /usr/up/etc: the link /usr/up points to \.\./\.\./\.\./\.\./\.\., which climbs out of the image'
try across refused across writer \
	'writer-1.0-r0.apk: /usr/local: the link /usr/local points to \.\./\.\./\.\./\.\., which climbs out of the image'
try hardout refused hardout hardout \
	'hardout-1.0-r0.apk: /usr/shadow: the hard link points to \.\./\.\./etc/shadow, outside the image'
try hardnone refused hardnone hardnone \
	'hardnone-1.0-r0.apk: /usr/copy: the hard link points to usr/nothing, which is not in the image'
try device refused device device \
	'device-1.0-r0.apk: /usr/mem: a character device; an apk may hold only directories, files, symlinks and hard links'
try nohash refused nohash nohash \
	'nohash-1.0-r0.apk: its \.PKGINFO has no datahash, so no checksum of the index covers its data section'
try swapped refused swapped swapped \
	'swapped-1.0-r0.apk: the data section does not match its datahash'
try bomb refused bomb bomb \
	'bomb-1.0-r0.apk: /usr/bomb \(5 GiB\) would take the image past 4 GiB, the most its packages may unpack to'
try paxbomb refused paxbomb paxbomb \
	'paxbomb-1.0-r0.apk: its data section inflates past 1 GiB, the most the image.s packages may unpack to' \
	--max-image-size 1G
[ "$nfail" = 0 ] || fail "$nfail case(s) failed"

# Over HTTP: a server that streams an endless APKINDEX (no length said)
# and serves the repository as it is.
port=$(free_port)
python3 - "$R" "$port" <<'EOF' &
import http.server, os, sys
root, port = sys.argv[1], int(sys.argv[2])
class H(http.server.SimpleHTTPRequestHandler):
    protocol_version = "HTTP/1.0"
    def __init__(self, *a, **k):
        super().__init__(*a, directory=root, **k)
    def log_message(self, *a):
        pass
    def do_GET(self):
        if self.path.startswith("/endless/"):
            self.send_response(200)
            self.end_headers()
            z = bytes(1 << 20)
            try:
                while True:
                    self.wfile.write(z)
            except OSError:
                return
        if self.path.startswith("/repo/"):
            self.path = self.path[5:]
        return super().do_GET()
class S(http.server.ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        pass  # a client that hangs up on a refused download
S(("127.0.0.1", port), H).serve_forever()
EOF
server=$!
trap 'kill $server 2>/dev/null; rm -rf "$T"' EXIT INT TERM
wait_port "$port" "the HTTP server"

repo=http://127.0.0.1:$port/endless
try endless refused endless good \
	"cannot fetch $repo/x86_64/APKINDEX.tar.gz: it is larger than 256 MiB, the most an APKINDEX may be here"
repo=http://127.0.0.1:$port/repo
try http-big refused http-big bomb \
	"cannot fetch $repo/x86_64/bomb-1.0-r0.apk: it is larger than 1 MiB, the most an apk may be here" \
	--max-image-size 1M
try http-bomb refused http-bomb bomb \
	'bomb-1.0-r0.apk: /usr/bomb \(5 GiB\) would take the image past 4 GiB'
[ -z "$(find "$T/.ripple/cache" -name '.download.*')" ] || fail "a refused download was left in the cache"
# The good package over HTTP still makes an image.
image http-good good
run 0 timeout 120 "$RIPPLE" native-image "$T/http-good.apko.yaml" --arch x86_64 --out-dir "$T/out-http-good" \
	--repository-append "http://127.0.0.1:$port/repo" --keyring-append local.rsa.pub
[ -f "$T/out-http-good/http-good/index.json" ] || fail "the good image over HTTP has no index"
[ "$nfail" = 0 ] || fail "$nfail case(s) failed"
