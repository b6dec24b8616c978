#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Runs COMMAND in a private session with a real, unlocked gnome-keyring:
#
#   with-keyring.sh [--no-keyring] COMMAND [ARG…]
#
# - a temporary HOME, XDG_RUNTIME_DIR (0700), XDG_CONFIG/DATA/CACHE_HOME and
#   TMPDIR, exported BEFORE the bus starts (services take the bus's
#   environment, so the keyring file lands in the temporary home);
# - DISPLAY, WAYLAND_DISPLAY and DBUS_SESSION_BUS_ADDRESS unset (a keyring
#   prompt on an invisible display would hang the test);
# - a private dbus-daemon whose only service directory is empty, so nothing
#   is bus-activated behind the test's back;
# - gnome-keyring-daemon --unlock with $POSTERN_TEST_KEYRING_PASSWORD
#   (default "postern-test", exported so tests can unlock again), awaited
#   with `gdbus wait`, stopped by its PID afterwards. --no-keyring leaves
#   the Secret Service out (tests of "no keyring at all").
#
# The daemon runs without the test environment's G_DEBUG=fatal-warnings and
# malloc checks: gnome-keyring logs harmless warnings (e.g. "asked to
# register item …, but it's already registered" after an unlock) that
# fatal-warnings turns into a crash of the keyring, not of the code under
# test. See ../shared/notes/desktop-testing.md for the other pitfalls.
set -eu

keyring=yes
if [ "${1:-}" = "--no-keyring" ]; then
  keyring=no
  shift
fi
if [ $# -eq 0 ]; then
  echo "usage: with-keyring.sh [--no-keyring] COMMAND [ARG…]" >&2
  exit 2
fi

for tool in dbus-run-session dbus-daemon gnome-keyring-daemon gdbus; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "with-keyring.sh: $tool is missing (apt install dbus-daemon gnome-keyring libglib2.0-bin)" >&2
    exit 1
  fi
done

base=$(mktemp -d "${TMPDIR:-/tmp}/postern-keyring-XXXXXX")
trap 'rm -rf "$base"' EXIT INT TERM

export HOME="$base/home"
export XDG_RUNTIME_DIR="$base/run"
export XDG_CONFIG_HOME="$base/config"
export XDG_DATA_HOME="$base/data"
export XDG_CACHE_HOME="$base/cache"
export TMPDIR="$base/tmp"
mkdir -p "$HOME" "$XDG_CONFIG_HOME" "$XDG_DATA_HOME" "$XDG_CACHE_HOME" "$TMPDIR" "$base/services"
mkdir -m 700 "$XDG_RUNTIME_DIR"
unset DBUS_SESSION_BUS_ADDRESS DISPLAY WAYLAND_DISPLAY
export POSTERN_TEST_KEYRING_PASSWORD="${POSTERN_TEST_KEYRING_PASSWORD:-postern-test}"
export POSTERN_TEST_KEYRING="$keyring"

cat > "$base/bus.conf" <<CONF
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:dir=$XDG_RUNTIME_DIR</listen>
  <auth>EXTERNAL</auth>
  <servicedir>$base/services</servicedir>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
CONF

cat > "$base/inner.sh" <<'INNER'
set -u
daemon=
if [ "$POSTERN_TEST_KEYRING" = yes ]; then
  printf '%s' "$POSTERN_TEST_KEYRING_PASSWORD" |
    env -u G_DEBUG -u MALLOC_PERTURB_ -u MALLOC_CHECK_ \
      gnome-keyring-daemon --foreground --unlock --components=secrets >"$TMPDIR/keyring.log" 2>&1 &
  daemon=$!
  if ! gdbus wait --session --timeout 10 org.freedesktop.secrets; then
    echo "with-keyring.sh: gnome-keyring did not appear on the bus" >&2
    cat "$TMPDIR/keyring.log" >&2
    kill "$daemon" 2>/dev/null
    exit 1
  fi
fi
"$@"
status=$?
if [ -n "$daemon" ]; then
  kill "$daemon" 2>/dev/null
  wait "$daemon" 2>/dev/null
fi
exit $status
INNER

# As root, dbus-daemon prints a harmless "Failed to set fd limit".
status=0
dbus-run-session --config-file="$base/bus.conf" -- sh "$base/inner.sh" "$@" || status=$?
exit $status
