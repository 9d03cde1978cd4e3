#!/bin/sh
# What the native builder writes besides the files, as melange writes it:
# .PKGINFO's commit (git HEAD, or the recipe's own commit, or none outside
# git; a dirty tree is said) and maintainer (the --namespace of
# .ripple.yaml's melange-args), the .melange.yaml control member (YAML that
# ripple reads back as the recipe), and the SPDX SBOM under
# var/lib/db/sbom/ of each package, in the shape of melange's (the golden
# apks' when ../shared is there).  Then an image over those packages: its
# SBOM holds theirs, skopeo still reads the layout, and the image index
# carries the annotations.  Everything is read with tar, python3 and skopeo.
. "$(dirname "$0")/lib.sh"
need_sandbox skopeo tar

mkdir -p "$T/repo"
cd "$T/repo"
printf 'archs: [%s]\nmelange-args: [--namespace, wolfi]\n' "$arch" > .ripple.yaml
cat > greeting.yaml <<'EOY'
package:
  name: greeting
  version: "2.10"
  epoch: 3
  description: a script
  copyright:
    - license: Apache-2.0
      attestation: (c) 2024 someone
pipeline:
  - name: the script
    runs: |
      mkdir -p ${{targets.destdir}}/usr/bin
      printf '#!/bin/sh\necho "greetings, $1"\n' > ${{targets.destdir}}/usr/bin/greet
      chmod 755 ${{targets.destdir}}/usr/bin/greet
subpackages:
  - name: greeting-doc
    description: the words
    pipeline:
      - runs: |
          mkdir -p ${{targets.subpkgdir}}/usr/share/doc/greeting
          echo 'greet NAME' > ${{targets.subpkgdir}}/usr/share/doc/greeting/README
EOY
cat > pinned.yaml <<'EOY'
package:
  name: pinned
  version: 1.0.0
  epoch: 0
  description: says which commit it is
  commit: 0123456789abcdef0123456789abcdef01234567
  copyright:
    - license: MIT
pipeline:
  - runs: mkdir -p ${{targets.destdir}}/usr/share/pinned && echo x > ${{targets.destdir}}/usr/share/pinned/x
EOY
cat > licensed.yaml <<'EOY'
package:
  name: licensed
  version: 1.0.0
  epoch: 0
  description: a license of its own
  copyright:
    - license: LicenseRef-own
      license-path: LICENSE.own
pipeline:
  - runs: mkdir -p ${{targets.destdir}}/usr/share/licensed && echo x > ${{targets.destdir}}/usr/share/licensed/x
EOY
mkdir -p licensed
printf 'You may do anything.\n' > licensed/LICENSE.own
cat > leaky.yaml <<'EOY'
package:
  name: leaky
  version: 1.0.0
  epoch: 0
  description: a license that is a link out
  copyright:
    - license: LicenseRef-own
      license-path: LICENSE
pipeline:
  - runs: ln -s /etc/passwd LICENSE
EOY
mkdir -p images
cat > images/greet.apko.yaml <<EOY
contents:
  packages:
    - greeting
    - greeting-doc
entrypoint:
  command: /usr/bin/greet
vcs-url: https://github.com/example/mono@0123abcd
annotations:
  org.opencontainers.image.title: greet
archs:
  - $arch
EOY
git init -q
git remote add origin https://github.com/example/mono.git
git add -A
git -c user.name=t -c user.email=t@t commit -qm init
head=$(git rev-parse HEAD)

# unpack DIR APK: the apk's three gzip members, one tar stream, with GNU tar.
unpack() {
	mkdir -p "$1"
	tar -xzf "$2" -C "$1" 2>"$T/tar.err" || fail "tar cannot read $2: $(cat "$T/tar.err")"
}
export SOURCE_DATE_EPOCH=1700000000
PATH_NO_APKO=$(printf '%s' "$PATH" | tr ':' '\n' | while read -r d; do [ -x "$d/apko" ] || printf '%s:' "$d"; done)
run 1 env PATH="$PATH_NO_APKO" "$RIPPLE" build --runner native -j 2 -k
expect_out '^done: 4 built, 1 failed, 0 skipped'
# --namespace is the one melange argument the native builder takes: no warning.
! grep -q "melange-args are not used" "$T/err" || fail "$(cat "$T/err")"
grep -q "leaky.yaml:7:7: license-path 'LICENSE': cannot read it: it goes through a symbolic link" \
	.ripple/logs/1/$arch/leaky.log || fail "leaky's log: $(cat .ripple/logs/1/$arch/leaky.log)"
[ ! -e "packages/$arch/leaky-1.0.0-r0.apk" ] || fail "leaky was written"
unpack "$T/l" "packages/$arch/licensed-1.0.0-r0.apk"
python3 - "$T/l/var/lib/db/sbom/licensed-1.0.0-r0.spdx.json" <<'PY' || fail "no licensing info"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["hasExtractedLicensingInfos"] == [{"licenseId": "LicenseRef-own",
                                            "extractedText": "You may do anything.\n"}], d
PY

unpack "$T/g" "packages/$arch/greeting-2.10-r3.apk"
unpack "$T/d" "packages/$arch/greeting-doc-2.10-r3.apk"
unpack "$T/p" "packages/$arch/pinned-1.0.0-r0.apk"

# .PKGINFO: melange's commit and maintainer lines.
grep -qx "commit = $head" "$T/g/.PKGINFO" || fail "greeting's commit is not HEAD: $(cat "$T/g/.PKGINFO")"
grep -qx "commit = $head" "$T/d/.PKGINFO" || fail "greeting-doc's commit is not HEAD"
grep -qx 'maintainer = wolfi' "$T/g/.PKGINFO" || fail "no maintainer: $(cat "$T/g/.PKGINFO")"
grep -qx 'commit = 0123456789abcdef0123456789abcdef01234567' "$T/p/.PKGINFO" ||
	fail "pinned's own commit is not kept: $(cat "$T/p/.PKGINFO")"
# ...which the index carries (c: and m:).
python3 - "packages/$arch/APKINDEX.tar.gz" "$head" <<'PY' || fail "the index lacks c:/m:"
import sys, tarfile
t = tarfile.open(sys.argv[1])
text = t.extractfile("APKINDEX").read().decode()
rec = [r for r in text.split("\n\n") if "\nP:greeting\n" in "\n" + r + "\n"][0]
assert "c:" + sys.argv[2] in rec.split("\n"), rec
assert "m:wolfi" in rec.split("\n"), rec
PY

# .melange.yaml: the control member, YAML of the recipe as built.
python3 - "$T/g/.melange.yaml" "$head" <<'PY' || fail "not the recipe: $(cat "$T/g/.melange.yaml")"
import sys, yaml
d = yaml.safe_load(open(sys.argv[1]))
p = d["package"]
assert p["name"] == "greeting" and p["version"] == "2.10" and p["epoch"] == 3, p
assert p["commit"] == sys.argv[2], p
assert p["copyright"] == [{"attestation": "(c) 2024 someone", "license": "Apache-2.0"}], p
assert "mkdir -p /home/build/melange-out/greeting/usr/bin" in d["pipeline"][0]["runs"], d["pipeline"]
assert [s["name"] for s in d["subpackages"]] == ["greeting-doc"], d["subpackages"]
PY
cmp -s "$T/g/.melange.yaml" "$T/d/.melange.yaml" || fail "the subpackage carries another .melange.yaml"
mkdir -p "$T/back"
cp "$T/g/.melange.yaml" "$T/back/greeting.yaml"
run 0 "$RIPPLE" show -C "$T/back" greeting.yaml
expect_out '^package greeting 2.10-r3$'

# The SBOMs, one per package under its own name.
for f in "$T/g/var/lib/db/sbom/greeting-2.10-r3.spdx.json" "$T/d/var/lib/db/sbom/greeting-doc-2.10-r3.spdx.json"; do
	[ -f "$f" ] || fail "no $f: $(cd "$T" && find g d -path '*sbom*')"
done
python3 - "$T/g/var/lib/db/sbom/greeting-2.10-r3.spdx.json" "$T/d/var/lib/db/sbom/greeting-doc-2.10-r3.spdx.json" "$head" "$arch" <<'PY' || fail "not melange's SBOM"
import json, sys
g, d, head, arch = sys.argv[1:]
doc = json.load(open(g))
assert doc["spdxVersion"] == "SPDX-2.3" and doc["creationInfo"]["created"] == "2023-11-14T22:13:20Z", doc
assert doc["documentDescribes"] == ["SPDXRef-Package-apk-greeting-2.10-r3"], doc
pk = {p["SPDXID"]: p for p in doc["packages"]}
apk = pk["SPDXRef-Package-apk-greeting-2.10-r3"]
assert apk["externalRefs"][0]["referenceLocator"] == "pkg:apk/wolfi/greeting@2.10-r3?arch=" + arch, apk
assert apk["supplier"] == "Organization: Wolfi" and apk["licenseDeclared"] == "Apache-2.0", apk
assert apk["copyrightText"] == "(c) 2024 someone\n", apk
cfg = pk["SPDXRef-Package-Melange-greeting.yaml-" + head]
assert cfg["externalRefs"][0]["referenceLocator"] == "pkg:github/example/mono@%s#greeting.yaml" % head, cfg
assert doc["relationships"] == [{"spdxElementId": apk["SPDXID"], "relationshipType": "DESCRIBED_BY",
                                 "relatedSpdxElement": cfg["SPDXID"]}], doc["relationships"]
sub = json.load(open(d))
assert sub["documentDescribes"] == ["SPDXRef-Package-apk-greeting-doc-2.10-r3"], sub
# melange's namespace: FNV-128a of apk-<namespace>-<version>, the same for both.
assert sub["documentNamespace"] == doc["documentNamespace"], (sub["documentNamespace"], doc["documentNamespace"])
PY
# The same shape as the SBOM in melange's own apks: keys, in order, element by element.
G=$RPL_SHARED/conformance/apko-golden/packages/x86_64/replayout-1.0.0-r0.apk
if [ -f "$G" ]; then
	unpack "$T/golden" "$G"
	python3 - "$T/golden/var/lib/db/sbom/replayout-1.0.0-r0.spdx.json" "$T/g/var/lib/db/sbom/greeting-2.10-r3.spdx.json" <<'PY' || fail "not the shape of melange's SBOM"
import json, sys
a, b = (json.load(open(f)) for f in sys.argv[1:])
assert list(a) == list(b), (list(a), list(b))
assert list(a["creationInfo"]) == list(b["creationInfo"])
assert len(a["packages"]) == len(b["packages"])
for x, y in zip(a["packages"], b["packages"]):
    assert list(x) == list(y), (list(x), list(y))
    assert x["SPDXID"].split("-")[:3] == y["SPDXID"].split("-")[:3], (x["SPDXID"], y["SPDXID"])
    assert x.get("primaryPackagePurpose") == y.get("primaryPackagePurpose")
assert a["documentNamespace"].rsplit("/", 1)[0] == b["documentNamespace"].rsplit("/", 1)[0]
PY
fi

# The same inputs, the same bytes; a dirty tree is said, and HEAD still recorded.
for i in 1 2; do
	run 0 "$RIPPLE" native-build greeting.yaml --out-dir "$T/again$i"
done
cmp "$T/again1/$arch/greeting-2.10-r3.apk" "$T/again2/$arch/greeting-2.10-r3.apk" ||
	fail "two builds of greeting differ"
! grep -q 'uncommitted' "$T/out" || fail "a clean tree said to be dirty: $(cat "$T/out")"
echo '# edited' >> greeting.yaml
run 0 "$RIPPLE" native-build greeting.yaml --out-dir "$T/dirty"
expect_out "greeting.yaml has uncommitted changes: the packages record HEAD $head"
unpack "$T/dg" "$T/dirty/$arch/greeting-2.10-r3.apk"
grep -qx "commit = $head" "$T/dg/.PKGINFO" || fail "a dirty build records no HEAD"
git checkout -q greeting.yaml
# --namespace wins over .ripple.yaml.
run 0 "$RIPPLE" native-build greeting.yaml --out-dir "$T/ns" --namespace Alpine
unpack "$T/ns1" "$T/ns/$arch/greeting-2.10-r3.apk"
grep -qx 'maintainer = Alpine' "$T/ns1/.PKGINFO" || fail "--namespace is not the maintainer"
grep -q '"pkg:apk/Alpine/greeting@2.10-r3' "$T/ns1/var/lib/db/sbom/greeting-2.10-r3.spdx.json" ||
	fail "--namespace is not the purl's"
# ...and ripple build's --runner-arg reaches the native builder too.
run 0 env PATH="$PATH_NO_APKO" "$RIPPLE" build --runner native --force --runner-arg=--namespace=Cli pinned
unpack "$T/cli" "packages/$arch/pinned-1.0.0-r0.apk"
grep -qx 'maintainer = Cli' "$T/cli/.PKGINFO" || fail "--runner-arg --namespace is not the maintainer"
run 2 "$RIPPLE" native-build greeting.yaml --namespace ''
expect_err "namespace wants a name"

# Outside git: no commit, and melange's defaults (unknown) in the SBOM.
mkdir -p "$T/nogit"
cp greeting.yaml "$T/nogit/"
(cd "$T/nogit" && "$RIPPLE" native-build greeting.yaml >"$T/out" 2>"$T/err") ||
	fail "outside git: $(cat "$T/err")"
unpack "$T/ng" "$T/nogit/packages/$arch/greeting-2.10-r3.apk"
grep -qx 'commit = ' "$T/ng/.PKGINFO" || fail "outside git, a commit: $(cat "$T/ng/.PKGINFO")"
grep -qx 'maintainer = unknown' "$T/ng/.PKGINFO" || fail "outside git, not melange's default maintainer"
grep -q '"pkg:github/https:/%2Funknown%2Funknown%2Funknown@unknown#greeting.yaml"' \
	"$T/ng/var/lib/db/sbom/greeting-2.10-r3.spdx.json" || fail "not melange's unknown purl"
! grep -q '^commit:' "$T/ng/.melange.yaml" || fail "outside git, .melange.yaml names a commit"

# The image over them: its SBOM holds the packages', its index the annotations.
[ -f "images/greet/sboms/sbom-$arch.spdx.json" ] || fail "no image SBOM: $(ls images/greet)"
run 0 skopeo inspect "oci:images/greet:latest-$ociarch"
python3 - images/greet "$arch" "$head" <<'PY' || fail "the image's SBOM or index"
import json, sys
layout, arch, head = sys.argv[1:]
outer = json.load(open(layout + "/index.json"))
ref = lambda m: m.get("annotations", {}).get("org.opencontainers.image.ref.name")
d = [m["digest"] for m in outer["manifests"] if ref(m) == "latest"][0]
idx = json.load(open("%s/blobs/sha256/%s" % (layout, d[7:])))
assert idx["annotations"] == {"org.opencontainers.image.created": "2023-11-14T22:13:20Z",
                              "org.opencontainers.image.revision": "0123abcd",
                              "org.opencontainers.image.source": "https://github.com/example/mono",
                              "org.opencontainers.image.title": "greet"}, idx["annotations"]
doc = json.load(open("%s/sboms/sbom-%s.spdx.json" % (layout, arch)))
ids = [p["SPDXID"] for p in doc["packages"]]
for want in ("SPDXRef-Package-apk-greeting-2.10-r3", "SPDXRef-Package-apk-greeting-doc-2.10-r3",
             "SPDXRef-Package-Melange-greeting.yaml-" + head):
    assert want in ids, (want, ids)
assert ids.count("SPDXRef-Package-Melange-greeting.yaml-" + head) == 1, ids
root = doc["documentDescribes"][0]
rels = {(r["spdxElementId"], r["relationshipType"], r["relatedSpdxElement"]) for r in doc["relationships"]}
assert (root, "CONTAINS", "SPDXRef-Package-apk-greeting-2.10-r3") in rels, rels
vcs = "SPDXRef-Package-https-C47C47github.comC47exampleC47monoC640123abcd"
assert (root, "GENERATED_FROM", vcs) in rels, rels
src = [p for p in doc["packages"] if p["SPDXID"] == vcs][0]
assert src["externalRefs"][0]["referenceLocator"] == "pkg:github/example/mono@0123abcd", src
ix = json.load(open(layout + "/sboms/sbom-index.spdx.json"))
assert ix["name"] == "sbom-" + d, (ix["name"], d)
PY
