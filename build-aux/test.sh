#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Runs every test: formatting, data validators, then the whole meson suite
# built with AddressSanitizer and UBSan and -Werror. Needs the packages of
# build-aux/install-deps.sh. Usage: build-aux/test.sh [BUILDDIR]
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
builddir=${1:-"$top/_build/test"}

"$top/build-aux/check-format.sh"

if [ ! -f "$builddir/build.ninja" ]; then
  meson setup "$builddir" "$top" \
    -Db_sanitize=address,undefined -Db_lundef=false -Dwerror=true
fi
meson compile -C "$builddir"

set +e
meson test -C "$builddir" --print-errorlogs --num-processes 2 --timeout-multiplier 3
status=$?
set -e

# meson's own summary is above; this line is the plain form CI reads.
python3 - "$builddir/meson-logs/testlog.json" <<'PY'
import json, sys
counts = {"OK": 0, "FAIL": 0, "SKIP": 0, "TIMEOUT": 0, "ERROR": 0, "EXPECTEDFAIL": 0, "UNEXPECTEDPASS": 0}
with open(sys.argv[1]) as f:
    for line in f:
        line = line.strip()
        if line:
            r = json.loads(line)["result"]
            counts[r] = counts.get(r, 0) + 1
failed = counts["FAIL"] + counts["TIMEOUT"] + counts["ERROR"] + counts["UNEXPECTEDPASS"]
print(f"tests: {counts['OK'] + counts['EXPECTEDFAIL']} passed, {failed} failed, {counts['SKIP']} skipped")
PY
exit $status
