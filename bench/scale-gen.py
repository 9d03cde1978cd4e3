#!/usr/bin/env python3
"""Makes a monorepo N times the size of a real one, with the same graph shape.

    bench/scale-gen.py SRC DST N NAMES.json

Copy 0 is SRC as it is.  Copy k (1 <= k < N) is every recipe of SRC with
its packages renamed "k<k>-<name>": the package's name (but where a
var-transform reads it), the names of its
subpackages (literal ones, and templated ones that do not start with
${{package.name}}, which the renamed package name covers), what it
provides, and every dependency on a name that SRC provides, wherever a
package list holds it (environment, runtime, needs, test).  Its source
directory is copied under the new name, as hard links.  So each copy's
recipes build against their own copy's packages, as the original's do, and
ripple sees N disjoint graphs of SRC's shape.

NAMES.json is `ripple ls --json` of SRC: the names of its packages and
subpackages.  Names under `provides:` are gathered from the recipes.

The renaming works on lines, not on parsed YAML: enough for melange's
layout, where every package list item is one scalar on its own line.
"""
import json
import os
import re
import shutil
import sys

OPS = re.compile(r"[=<>~]")
ITEM = re.compile(r"^(\s*-\s+)([\"']?)([^\s\"'#]+)([\"']?)(\s*(#.*)?)$")
NAME = re.compile(r"^(\s*(?:-\s+)?name:\s+)([\"']?)([^\"'#]+?)([\"']?)(\s*(#.*)?)$")
FROM = re.compile(r"^\s*-?\s*from:\s.*\$\{\{package\.name\}\}")
VIRTUAL = re.compile(r"^(\s*virtual-pkg-name:\s+)([\"']?)([^\"'#]+?)([\"']?)(\s*)$")


def link_or_copy(a, b):
    """Hard links where the file system allows it (the copies are many)."""
    try:
        os.link(a, b)
    except OSError:
        shutil.copy2(a, b)


def base(token):
    """The name part of a dependency: `foo>=1.2` -> `foo`, `!foo` -> `foo`."""
    token = token.lstrip("!")
    m = OPS.search(token)
    return token[: m.start()] if m else token


def renamed(token, prefix):
    """`foo>=1` -> `k1-foo>=1`; `so:libfoo.so.1` -> `so:k1-libfoo.so.1`."""
    bang = "!" if token.startswith("!") else ""
    token = token.lstrip("!")
    if ":" in token.split("=")[0]:
        kind, rest = token.split(":", 1)
        return f"{bang}{kind}:{prefix}{rest}"
    return f"{bang}{prefix}{token}"


def provided_names(src, recipes):
    """Every name listed under a `provides:` key of any recipe."""
    out = set()
    for r in recipes:
        indent = None
        with open(os.path.join(src, r), encoding="utf-8", errors="surrogateescape") as f:
            for line in f:
                stripped = line.lstrip()
                ind = len(line) - len(stripped)
                if stripped.startswith("provides:"):
                    indent = ind
                    continue
                if indent is not None:
                    if stripped.startswith("- ") and ind >= indent:
                        m = ITEM.match(line.rstrip("\n"))
                        if m:
                            out.add(base(m.group(3)))
                        continue
                    if stripped and not stripped.startswith("#"):
                        indent = None
    return out


def rename_recipe(text, names, prefix, origin):
    lines = []
    for line in text.split("\n"):
        if FROM.match(line):
            # A var-transform reads the package's name: it gets the name it
            # was written for, so its regex still matches.
            lines.append(line.replace("${{package.name}}", origin))
            continue
        m = NAME.match(line)
        if m:
            value = m.group(3).strip()
            if value in names or ("${{" in value and not value.startswith("${{package.name}}")):
                line = m.group(1) + m.group(2) + prefix + value + m.group(4) + m.group(5)
            lines.append(line)
            continue
        m = VIRTUAL.match(line)
        if m:
            lines.append(m.group(1) + m.group(2) + prefix + m.group(3) + m.group(4) + m.group(5))
            continue
        m = ITEM.match(line)
        if m and base(m.group(3)) in names:
            line = m.group(1) + m.group(2) + renamed(m.group(3), prefix) + m.group(4) + m.group(5)
        lines.append(line)
    return "\n".join(lines)


def main():
    src, dst, n, names_json = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    items = json.load(open(names_json))
    pkgs = [x for x in items if x["kind"] == "package"]
    names = set()
    for p in pkgs:
        names.add(p["name"])
        names.update(p.get("subpackages", []))
        names.update(base(x) for x in p.get("provides", []))
    origin = {p["file"]: p["name"] for p in pkgs}
    recipes = sorted(origin)
    names |= provided_names(src, recipes)

    shutil.copytree(src, dst, symlinks=True, copy_function=link_or_copy)
    made = 0
    for k in range(1, n):
        prefix = f"k{k}-"
        for r in recipes:
            with open(os.path.join(src, r), encoding="utf-8", errors="surrogateescape") as f:
                text = f.read()
            d, fname = os.path.split(r)
            out = os.path.join(dst, d, prefix + fname)
            with open(out, "w", encoding="utf-8", errors="surrogateescape") as f:
                f.write(rename_recipe(text, names, prefix, origin[r]))
            made += 1
            stem = fname[: -len(".yaml")]
            srcdir = os.path.join(src, d, stem)
            if os.path.isdir(srcdir):
                shutil.copytree(srcdir, os.path.join(dst, d, prefix + stem), symlinks=True,
                                copy_function=link_or_copy)
    print(f"scale-gen: {len(recipes)} recipes x {n} = {len(recipes) + made} in {dst}")


if __name__ == "__main__":
    main()
