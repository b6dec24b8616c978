#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
#
# postern-agent benchmark (not a test): first sync of 10,000 channels and
# the agent's resident memory after it, reload from the keyring, SMTP 250 →
# D-Bus EventAdded latency (p50/p99 over 1,000 messages), CPU time and
# context switches idle and connected for 60 s. Builds a release build (no
# sanitizers) in $BUILD and runs agent-bench inside tests/desktop-session.sh
# (private session bus, real gnome-keyring, real posternd on loopback).
#
# Usage: bench/agent/run.sh [--channels N] [--messages N] [--idle S]
set -euo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${BUILD:-/var/tmp/postern-agent-bench-build}

if [ ! -f "$BUILD/build.ninja" ]; then
  meson setup "$BUILD" "$top" -Dbuildtype=release -Dbenchmarks=true >/dev/null
fi
ninja -C "$BUILD" src/agent/postern-agent src/cli/posternctl src/server/posternd bench/agent/agent-bench >&2

exec "$top/tests/desktop-session.sh" --agent "$BUILD/src/agent/postern-agent" \
  "POSTERN_TEST_CTL=$BUILD/src/cli/posternctl" \
  "POSTERN_TEST_POSTERND=$BUILD/src/server/posternd" \
  "$BUILD/bench/agent/agent-bench" "$@"
