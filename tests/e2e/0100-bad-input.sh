#!/bin/sh
# Malformed recipes, part 1: YAML syntax and the melange schema.  Each case is
# a tiny monorepo holding the valid recipe ok.yaml plus one broken file.  The
# broken file must get exactly one `file:line:col: message` line on stderr,
# ls must exit 2 and still list ok (nothing with --strict, only ok with
# --json), `show bad` must exit 2 with the same message, and `show ok` must
# still work.  Positions are 1-based; the comment above each case says which
# character it points at.
. "$(dirname "$0")/lib.sh"

# --- YAML syntax -------------------------------------------------------------

# A key indented one space too far turns "bad" into a multi-line scalar; the
# parser trips on the ':' after "version" (col 11).
bad_case yaml-indent bad.yaml 3:11 'mapping values are not allowed' <<'EOF'
package:
  name: bad
   version: 1.0.0
EOF

# A key indented one space too little: "version" at col 2.
bad_case yaml-dedent bad.yaml 3:2 'did not find expected key' <<'EOF'
package:
  name: bad
 version: 1.0.0
EOF

# An unclosed double quote swallows the rest of the file; the error belongs
# where the quote opens (line 4, col 16), not at the end of the file.
bad_case yaml-quote bad.yaml 4:16 'quoted scalar' <<'EOF'
package:
  name: bad
  version: 1.0.0
  description: "never closed
  epoch: 0
pipeline:
  - runs: true
EOF

# An unclosed '[' (line 5, col 14); the parser only notices two lines later.
bad_case yaml-bracket bad.yaml 5:14 "flow sequence|']'" <<'EOF'
package:
  name: bad
  version: 1.0.0
  dependencies:
    runtime: [busybox, glibc
pipeline:
  - runs: true
EOF

# Tabs cannot indent YAML: the first tab is line 2, col 1, and the message
# must say it is a tab (libyaml's "cannot start any token" does not).
tab=$(printf '\t')
bad_case yaml-tab bad.yaml 2:1 '[Tt]ab' <<EOF
package:
${tab}name: bad
${tab}version: 1.0.0
EOF

# The second "name" key (line 4, col 3).
bad_case yaml-dup-key bad.yaml 4:3 'key "name" already defined at line 2' <<'EOF'
package:
  name: bad
  version: 1.0.0
  name: bad2
EOF

# An alias to an anchor that does not exist: '*' at line 4, col 16.
bad_case yaml-alias bad.yaml 4:16 "unknown anchor 'nope'" <<'EOF'
package:
  name: bad
  version: 1.0.0
  description: *nope
EOF

# --- document shape ----------------------------------------------------------

# A recipe wrapped in a list: the sequence starts at line 2, col 1.
bad_case top-sequence bad.yaml 2:1 'expected a mapping, found a sequence' <<'EOF'
# a recipe pasted as a list item
- package:
    name: bad
    version: 1.0.0
EOF

# No package section: the document's mapping starts at line 2, col 1.
bad_case no-package bad.yaml 2:1 "no 'package'" <<'EOF'
# only a pipeline
pipeline:
  - runs: true
EOF

# package is a scalar: "bad" at line 1, col 10.
bad_case package-scalar bad.yaml 1:10 'expected a mapping, found a scalar' <<'EOF'
package: bad
pipeline:
  - runs: true
EOF

# --- package -----------------------------------------------------------------

# package.name missing: the package mapping (line 3, col 3) is at fault, not
# the top of the file.
bad_case name-missing bad.yaml 3:3 'package\.name is required' <<'EOF'
# a package without a name
package:
  version: 1.0.0
  epoch: 0
EOF

# The name value at line 2, col 9.
bad_case name-invalid bad.yaml 2:9 "package name 'bad/name' is invalid" <<'EOF'
package:
  name: bad/name
  version: 1.0.0
EOF

# package.version missing: the package mapping starts at line 2, col 3.
bad_case version-missing bad.yaml 2:3 'package\.version is required' <<'EOF'
package:
  name: bad
  epoch: 0
EOF

# apk versions have no '-' (that separates the epoch) and no leading 'v':
# the value at line 3, col 12.
bad_case version-dash bad.yaml 3:12 "version '1\.0-beta' is not a valid apk version" <<'EOF'
package:
  name: bad
  version: 1.0-beta
EOF
bad_case version-v bad.yaml 3:12 "version 'v1\.2' is not a valid apk version" <<'EOF'
package:
  name: bad
  version: v1.2
EOF

# epoch is a uint64: the value at line 4, col 10.
bad_case epoch-word bad.yaml 4:10 'unsigned integer.*"one"' <<'EOF'
package:
  name: bad
  version: 1.0.0
  epoch: one
EOF
bad_case epoch-negative bad.yaml 4:10 'unsigned integer.*"-1"' <<'EOF'
package:
  name: bad
  version: 1.0.0
  epoch: -1
EOF
# yaml.v3 does not decode a quoted string (!!str) into a uint64.
bad_case epoch-quoted bad.yaml 4:10 'unsigned integer.*"3"' <<'EOF'
package:
  name: bad
  version: 1.0.0
  epoch: "3"
EOF

# A scalar where a list belongs: "busybox" at line 5, col 14.
bad_case string-for-list bad.yaml 5:14 'expected a list' <<'EOF'
package:
  name: bad
  version: 1.0.0
  dependencies:
    runtime: busybox
EOF

# A list where a string belongs: the sequence at line 5, col 5.
bad_case list-for-string bad.yaml 5:5 'expected a string, found a sequence' <<'EOF'
package:
  name: bad
  version: 1.0.0
  description:
    - a list
EOF

# A mapping where a string belongs (vars values are strings): line 6, col 5.
bad_case map-for-string bad.yaml 6:5 'expected a string, found a mapping' <<'EOF'
package:
  name: bad
  version: 1.0.0
vars:
  nested:
    a: b
EOF

# provider-priority must pass Atoi: the value at line 5, col 24.
bad_case provider-priority bad.yaml 5:24 "provider-priority 'high' is not an integer" <<'EOF'
package:
  name: bad
  version: 1.0.0
  dependencies:
    provider-priority: high
EOF
bad_case replaces-priority bad.yaml 5:24 "replaces-priority '1\.5' is not an integer" <<'EOF'
package:
  name: bad
  version: 1.0.0
  dependencies:
    replaces-priority: 1.5
EOF

# timeout is a Go duration; yaml.v3 rejects a bare number of seconds: the
# value at line 4, col 12.
bad_case timeout-seconds bad.yaml 4:12 "timeout '90' is not a duration" <<'EOF'
package:
  name: bad
  version: 1.0.0
  timeout: 90
EOF
bad_case timeout-word bad.yaml 4:12 "timeout 'soon' is not a duration" <<'EOF'
package:
  name: bad
  version: 1.0.0
  timeout: soon
EOF

# setcap without reason: the setcap entry's mapping (line 5, col 7).
bad_case setcap-no-reason bad.yaml 5:7 "setcap: 'reason' is required" <<'EOF'
package:
  name: bad
  version: 1.0.0
  setcap:
    - path: /usr/bin/ping
      add:
        cap_net_raw: +ep
EOF

# A capability melange does not allow: the key at line 7, col 9.
bad_case setcap-cap bad.yaml 7:9 "capability 'cap_sys_time' is not allowed" <<'EOF'
package:
  name: bad
  version: 1.0.0
  setcap:
    - path: /usr/bin/date
      add:
        cap_sys_time: +ep
      reason: sets the clock
EOF

# copyright entry without license: the entry's mapping (line 5, col 7).
bad_case copyright-no-license bad.yaml 5:7 "'license' is required" <<'EOF'
package:
  name: bad
  version: 1.0.0
  copyright:
    - paths:
        - "*"
EOF

# --- unknown keys (melange decodes with KnownFields) ---------------------------

bad_case unknown-top bad.yaml 4:1 "unknown key 'frobnicate'" <<'EOF'
package:
  name: bad
  version: 1.0.0
frobnicate: 1
EOF

bad_case unknown-package bad.yaml 4:3 "unknown key 'frobnicate' in package" <<'EOF'
package:
  name: bad
  version: 1.0.0
  frobnicate: 1
EOF

bad_case unknown-step bad.yaml 6:5 "unknown key 'frobnicate' in pipeline step" <<'EOF'
package:
  name: bad
  version: 1.0.0
pipeline:
  - runs: true
    frobnicate: 1
EOF

bad_case unknown-subpackage bad.yaml 6:5 "unknown key 'frobnicate' in subpackage" <<'EOF'
package:
  name: bad
  version: 1.0.0
subpackages:
  - name: bad-doc
    frobnicate: 1
EOF

bad_case unknown-contents bad.yaml 7:5 "unknown key 'frobnicate' in contents" <<'EOF'
package:
  name: bad
  version: 1.0.0
environment:
  contents:
    packages: [busybox]
    frobnicate: 1
EOF

# A nested *.melange.yaml recipe is named by its path from the root.
bad_case nested-melange sub/bad.melange.yaml 4:3 "unknown key 'frobnicate' in package" <<'EOF'
package:
  name: bad
  version: 1.0.0
  frobnicate: 1
EOF

# --- subpackages and steps ---------------------------------------------------

# The subpackage name value at line 5, col 11.
bad_case subpkg-main-name bad.yaml 5:11 "subpackage name 'bad' is the same as the package name" <<'EOF'
package:
  name: bad
  version: 1.0.0
subpackages:
  - name: bad
EOF

bad_case subpkg-invalid-name bad.yaml 5:11 "subpackage name 'bad doc' is invalid" <<'EOF'
package:
  name: bad
  version: 1.0.0
subpackages:
  - name: bad doc
EOF

# The second bad-doc (line 7, col 11).
bad_case subpkg-dup bad.yaml 7:11 "subpackage name 'bad-doc' is used more than once \(also at line 5\)" <<'EOF'
package:
  name: bad
  version: 1.0.0
subpackages:
  - name: bad-doc
  - name: bad-dev
  - name: bad-doc
EOF

# range expansion makes a second bad-doc out of the name at line 11, col 11.
bad_case subpkg-dup-range bad.yaml 11:11 "subpackage name 'bad-doc' is used more than once \(also at line 9\)" <<'EOF'
package:
  name: bad
  version: 1.0.0
data:
  - name: parts
    items:
      doc: documentation
subpackages:
  - name: bad-doc
  - range: parts
    name: bad-${{range.key}}
EOF

# data items must be a mapping: the sequence at line 6, col 12.
bad_case data-items bad.yaml 6:12 'expected a mapping' <<'EOF'
package:
  name: bad
  version: 1.0.0
data:
  - name: parts
    items: [doc, dev]
EOF

# uses + runs on one step: reported at the uses value (line 5, col 11).
bad_case step-uses-runs bad.yaml 5:11 "both 'uses' and 'runs'" <<'EOF'
package:
  name: bad
  version: 1.0.0
pipeline:
  - uses: autoconf/make
    runs: make
EOF

# with but no uses: the step (line 5, col 5).
bad_case step-with-no-uses bad.yaml 5:5 "'with' but no 'uses'" <<'EOF'
package:
  name: bad
  version: 1.0.0
pipeline:
  - runs: make
    with:
      opts: -j1
EOF

[ "$nfail" = 0 ] || fail "$nfail case(s) failed"
