#!/bin/sh
# The Wolfi snapshot in ../shared: every recipe reads with zero errors and the
# subpackage total matches an independent count made over the same snapshot
# (3,401 recipes; 7,765 subpackages after range expansion).  A handful of
# recipes are checked against what melange evaluates.
. "$(dirname "$0")/lib.sh"

corpus=$RPL_SHARED/corpus/wolfi-os
[ -d "$corpus" ] || skip "no corpus at $corpus"

run 0 "$RIPPLE" ls -C "$corpus" --json --arch x86_64
json_eq 'len(d)' 3401
json_eq 'sum(1 for x in d if x["kind"]=="package")' 3401
json_eq 'sum(len(x["subpackages"]) for x in d)' 7765
json_eq 'sum(1 for x in d if x["name"] + ".yaml" == x["file"])' 3401
[ ! -s "$T/err" ] || fail "stderr is not empty: $(head -3 "$T/err")"
json_eq 'sum(1 for x in d if x["archs"] == ["x86_64"])' 3400

# target-architecture: 4 recipes are x86_64-only and 1 is aarch64-only.
run 0 "$RIPPLE" ls -C "$corpus" --json --arch aarch64
json_eq 'sum(1 for x in d if x["archs"] == ["aarch64"])' 3397

# range: py3-requests expands py-versions (keys sorted) with provider-priority per item.
run 0 "$RIPPLE" show -C "$corpus" --json --arch x86_64 py3-requests
json_eq 'd["subpackages"]' "['py3.10-requests', 'py3.11-requests', 'py3.12-requests', 'py3.13-requests', 'py3-supported-requests']"
json_eq '[s["dependencies"]["provider-priority"] for s in d["subpackage_details"][:4]]' "['310', '311', '312', '313']"
json_eq 'd["subpackage_details"][0]["pipeline"][0]["with"]["python"]' 'python3.10'
json_eq 'd["subpackage_details"][0]["pipeline"][0]["with"]["dest"]' '/home/build/melange-out/py3.10-requests'
json_eq 'd["pipeline_files"]' "['pipelines/py/pip-build-install.yaml']"

# var-transforms: 7zip turns version 2602 into 26.02 for the git tag.
run 0 "$RIPPLE" show -C "$corpus" --json --arch x86_64 7zip
json_eq 'd["vars"]["real-package-version"]' '26.02'
json_eq 'd["pipeline"][0]["with"]["tag"]' '26.02'
json_eq '[n["name"] for n in d["build_deps"] if n["via"] == "git-checkout"]' "['git']"
json_eq '"build-x86_64.env" in d["inputs"] and "build-common.env" in d["inputs"]' True

# A repo pipeline (pipelines/git/gnulib-bootstrap.yaml) between built-ins; its
# needs count and its file is an input; subpackage needs name the subpackage.
run 0 "$RIPPLE" show -C "$corpus" --json --arch x86_64 bison
json_eq '[n["name"] for n in d["build_deps"] if n["via"] == "git/gnulib-bootstrap"]' "['git', 'gnulib']"
json_eq 'd["pipeline_files"]' "['pipelines/git/gnulib-bootstrap.yaml']"
json_eq '[(n["name"], n["subpackage"]) for n in d["build_deps"] if n.get("subpackage")]' "[('busybox', 'bison-doc'), ('busybox', 'bison-doc'), ('busybox', 'bison-lang')]"
json_eq 'd["build_deps"][0]' "{'name': 'autoconf', 'via': 'environment'}"
