#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Tray and alert benchmark (not a test): SMTP 250 → Notify on the session
# bus (p50/p90/p99/max over 1,000 messages, one stranger on each of 1,000
# channels) and postern-agent's VmRSS with the tray exported. Builds a
# release build (no sanitizers) in $BUILD and runs tray-bench inside
# tests/desktop-session.sh (private session bus, real gnome-keyring, real
# posternd on loopback), under a global timeout.
#
# Usage: bench/tray/run.sh [--messages N]
set -euo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${BUILD:-/var/tmp/postern-tray-bench-build}
TIMEOUT=${TIMEOUT:-900}

if [ ! -f "$BUILD/build.ninja" ]; then
  meson setup "$BUILD" "$top" -Dbuildtype=release -Dbenchmarks=true >/dev/null
fi
ninja -C "$BUILD" src/agent/postern-agent src/cli/posternctl src/server/posternd bench/tray/tray-bench >&2

# desktop-session.sh tears its session down on TERM; KILL only if it hangs.
exec timeout --kill-after=20 "$TIMEOUT" "$top/tests/desktop-session.sh" --agent "$BUILD/src/agent/postern-agent" \
  "POSTERN_TEST_CTL=$BUILD/src/cli/posternctl" \
  "POSTERN_TEST_POSTERND=$BUILD/src/server/posternd" \
  "$BUILD/bench/tray/tray-bench" "$@"
