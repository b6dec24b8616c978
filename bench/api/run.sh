#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
#
# posternd API benchmark (not a test): authenticated GET /api/v1/channels
# per second with 1,000 channels, and the push latency from the SMTP 250
# to the event arriving on /api/v1/live (p50/p99 over 1,000 messages).
# Builds a release build (no sanitizers) in $BUILD and runs api-bench.
#
# Usage: bench/api/run.sh [api-bench options: --seconds S --messages N --dir DIR]
set -euo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${BUILD:-/var/tmp/postern-api-bench-build}

if [ ! -f "$BUILD/build.ninja" ]; then
  meson setup "$BUILD" "$top" -Dbuildtype=release -Ddesktop=false -Dbenchmarks=true >/dev/null
fi
ninja -C "$BUILD" bench/api/api-bench >&2
exec "$BUILD/bench/api/api-bench" "$@"
