#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Fails when a tracked C file is not formatted by the project's .clang-format.
set -eu
cd "$(dirname "$0")/.."

status=0
for f in $(git ls-files '*.c' '*.h'); do
  if ! clang-format --dry-run --Werror "$f" >/dev/null 2>&1; then
    echo "check-format: $f is not formatted (run: clang-format -i $f)"
    status=1
  fi
done
[ $status -eq 0 ] && echo "check-format: every C file is formatted"
exit $status
