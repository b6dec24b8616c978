#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# The app's benchmarks. Build without sanitizers first:
#   meson setup BUILD -Dbenchmarks=true -Dbuildtype=release -Dserver=false
#   ninja -C BUILD && bench/app/run.sh BUILD
set -eu
build=$(cd "$1" && pwd)
here=$(cd "$(dirname "$0")" && pwd)

"$build/bench/app/bench-filter" 10000

# Cold start under Xvfb and a private session bus.
unset DBUS_SESSION_BUS_ADDRESS DISPLAY WAYLAND_DISPLAY
tmp=$(mktemp -d)
trap 'kill "$xvfb" 2>/dev/null; rm -rf "$tmp"' EXIT
exec 3>"$tmp/display"
Xvfb -displayfd 3 -screen 0 1024x768x24 -nolisten tcp 2>/dev/null &
xvfb=$!
for _ in $(seq 50); do [ -s "$tmp/display" ] && break; sleep 0.1; done
DISPLAY=":$(cat "$tmp/display")"
export DISPLAY
dbus-run-session -- /usr/bin/python3 "$here/bench-startup.py" "$build" 2>&1 | grep -v "fd limit"
