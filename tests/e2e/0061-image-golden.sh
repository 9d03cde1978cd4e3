#!/bin/sh
# ripple's image assembler against apko's own golden output
# (../shared/conformance/apko-golden: apko's internal/cli/testdata).  From
# the same config and the same melange-built apks, for x86_64 and aarch64:
# the uncompressed layer (diff_id) is byte for byte apko's; the config is
# apko's but for its author; `--lock` writes apko's apko.lock.json byte for
# byte; `--lockfile` with apko's own lock file gives the same layers.
. "$(dirname "$0")/lib.sh"

G=$RPL_SHARED/conformance/apko-golden
[ -d "$G/golden" ] || skip "no conformance data at $G"

# apko's test ran in a dir where ./testdata is this folder's packages and key.
mkdir -p "$T/w/testdata"
cd "$T/w"
ln -s "$G/packages" testdata/packages
ln -s "$G/packages/melange.rsa.pub" testdata/melange.rsa.pub
cp "$G/apko.yaml" apko.yaml
unset SOURCE_DATE_EPOCH
for a in x86_64 aarch64; do
	run 0 "$RIPPLE" native-image apko.yaml --arch $a --out-dir out --lock apko.lock.json \
		--annotations org.opencontainers.image.title:Title \
		--annotations org.opencontainers.image.vendor:Vendor
done
cmp apko.lock.json "$G/apko.lock.json" ||
	fail "the lock file is not apko's: $(diff apko.lock.json "$G/apko.lock.json")"
# Two archs locking into one file at once both keep their packages.
mkdir -p both
for a in x86_64 aarch64; do
	"$RIPPLE" native-image apko.yaml --arch $a --out-dir "out-$a" --lock both/apko.lock.json >/dev/null &
done
wait
python3 -c "
import json, collections
d = json.load(open('both/apko.lock.json'))
c = collections.Counter(p['architecture'] for p in d['contents']['packages'])
assert c == {'x86_64': 2, 'aarch64': 2}, c
" || fail "concurrent locks lost an arch: $(cat both/apko.lock.json)"
[ "$(ls both)" = apko.lock.json ] || fail "locking left files behind: $(ls both)"

# golden-vs-ours: per arch, the diff_id and the config without its author.
compare() {
	python3 - "$G/golden" "$1" <<'PY'
import json, sys

def images(layout, nested):
    blob = lambda d: open("%s/blobs/sha256/%s" % (layout, d.split(":")[1]), "rb").read()
    index = json.load(open(layout + "/index.json"))
    if nested:  # ripple's layout: index.json names the image index by tag
        index = json.loads(blob([m["digest"] for m in index["manifests"]
                                 if m["annotations"]["org.opencontainers.image.ref.name"] == "latest"][0]))
    out = {}
    for m in index["manifests"]:
        man = json.loads(blob(m["digest"]))
        out[m["platform"]["architecture"]] = (man, json.loads(blob(man["config"]["digest"])))
    return out

golden, ours = images(sys.argv[1], False), images(sys.argv[2], True)
assert sorted(golden) == sorted(ours) == ["amd64", "arm64"], (sorted(golden), sorted(ours))
for arch in golden:
    (gm, gc), (om, oc) = golden[arch], ours[arch]
    assert gc["rootfs"] == oc["rootfs"], (arch, gc["rootfs"], oc["rootfs"])
    assert gm["annotations"] == om["annotations"], (arch, om["annotations"])
    oc["author"] = gc["author"]
    for h in oc["history"]:
        h["author"] = h["created_by"] = "apko"
    assert gc == oc, (arch, gc, oc)
    print(arch, oc["rootfs"]["diff_ids"][0])
PY
}
compare out/apko > "$T/cmp" || fail "not apko's image: $(cat "$T/cmp")"
grep -q '^amd64 sha256:20f698463c2755b6dc42b7d07e959ed7455a06e7367d507e829a315898f21a01$' "$T/cmp" ||
	fail "$(cat "$T/cmp")"

# The image index and the SBOMs are apko's, once apko's digests are
# replaced by ours: the index byte for byte but for ggcr's artifactType (its
# annotations, `created` the latest arch's), the SBOMs element for element but
# for the tool, the purl's name (apko's test tagged the image golden:latest)
# and the index's supplier (apko names its own organisation).
python3 - "$G/golden" out/apko <<'PY' > "$T/sbom" || fail "not apko's index or SBOMs: $(cat "$T/sbom")"
import json, sys
g, o = sys.argv[1], sys.argv[2]
blob = lambda l, d: open("%s/blobs/sha256/%s" % (l, d.split(":")[1])).read()
outer = json.load(open(o + "/index.json"))
idx = [m["digest"] for m in outer["manifests"]
       if m["annotations"]["org.opencontainers.image.ref.name"] == "latest"][0]
gtext, otext = open(g + "/index.json").read(), blob(o, idx)
subst = {"b5f05e6fc882c97d61c1daee566954ae6fc09924f8e152293e2b97a06092069f": idx[7:]}
for gm, om in zip(json.loads(gtext)["manifests"], json.loads(otext)["manifests"]):
    subst[gm["digest"][7:]] = om["digest"][7:]
    gl = json.loads(blob(g, gm["digest"]))["layers"][0]["digest"]
    subst[gl[7:]] = json.loads(blob(o, om["digest"]))["layers"][0]["digest"][7:]
def ours(t):
    for a, b in subst.items():
        t = t.replace(a, b)
    return t
# ggcr's artifactType is left out: skopeo 1.9 rewrites an index that has it.
gtext = gtext.replace(',"artifactType":"application/vnd.oci.image.config.v1+json"', "")
assert ours(gtext) == otext, (ours(gtext), otext)
def norm(t):
    d = json.loads(ours(t).replace("pkg:oci/golden@", "pkg:oci/apko@"))
    d["creationInfo"]["creators"] = None
    for p in d["packages"]:
        p.pop("sourceInfo", None)
        if p.get("supplier") == "Organization: Chainguard, Inc.":
            p["supplier"] = "Organization: Replaces"
    return json.dumps(d, indent=1)
for f in ("sbom-x86_64", "sbom-aarch64", "sbom-index"):
    a, b = (norm(open("%s/sboms/%s.spdx.json" % (d, f)).read()) for d in (g, o))
    assert a == b, (f, a, b)
    print(f, "ok")
PY
[ "$(grep -c ' ok$' "$T/sbom")" = 3 ] || fail "$(cat "$T/sbom")"
grep -q '"creators": \[' out/apko/sboms/sbom-x86_64.spdx.json &&
	grep -q '"Tool: ripple (' out/apko/sboms/sbom-x86_64.spdx.json || fail "the SBOM names no tool"

# apko's own lock file drives the same install.
for a in x86_64 aarch64; do
	run 0 "$RIPPLE" native-image apko.yaml --arch $a --out-dir fromlock --lockfile "$G/apko.lock.json" \
		--annotations org.opencontainers.image.title:Title \
		--annotations org.opencontainers.image.vendor:Vendor
	expect_out "lock file .*: 2 packages for $a"
done
compare fromlock/apko > "$T/cmp" || fail "not apko's image from apko's lock: $(cat "$T/cmp")"

run 2 "$RIPPLE" native-image apko.yaml --annotations novalue
expect_err '--annotations wants KEY:VALUE'
