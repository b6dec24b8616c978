#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Runs a command inside a private desktop session: a temporary HOME and XDG
# directories, a private session bus and an unlocked gnome-keyring, all torn
# down afterwards. See ../shared/notes/desktop-testing.md for the why.
#
#   desktop-session.sh [--no-keyring] [--agent PATH] [NAME=VALUE…] COMMAND [ARG…]
#
# --no-keyring leaves the Secret Service out (nothing owns
# org.freedesktop.secrets and nothing can activate it).
# --agent PATH makes PATH activatable as io.github.postern.Postern.Agent and
# exports it as POSTERN_TEST_AGENT; NAME=VALUE pairs are exported too.
#
# Environment:
#   POSTERN_TEST_KEYRING_PASSWORD  the login keyring's password (default:
#                       "postern-test"); tests use it to unlock again
set -eu

keyring=yes
if [ "${1:-}" = "--no-keyring" ]; then
  keyring=no
  shift
fi
if [ "${1:-}" = "--agent" ]; then
  export POSTERN_TEST_AGENT="$2"
  shift 2
fi
while [ $# -gt 0 ]; do
  case "$1" in
    [A-Za-z_]*=*) export "$1"; shift ;;
    *) break ;;
  esac
done
if [ $# -eq 0 ]; then
  echo "usage: desktop-session.sh [--no-keyring] [--agent PATH] [NAME=VALUE…] COMMAND [ARG…]" >&2
  exit 2
fi

for tool in dbus-daemon dbus-run-session gnome-keyring-daemon gdbus; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "desktop-session.sh: $tool is missing (build-aux/install-deps.sh installs it)" >&2
    exit 1
  fi
done

base=$(mktemp -d "${TMPDIR:-/tmp}/postern-session-XXXXXX")
cleanup () {
  rm -rf "$base"
}
trap cleanup EXIT INT TERM

# Exported before dbus-run-session: services the bus starts take the bus's
# environment, so the keyring and the agent land in the private home.
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
# GLib would otherwise try the portal for notifications.
export GNOTIFICATION_BACKEND=freedesktop

if [ -n "${POSTERN_TEST_AGENT:-}" ]; then
  cat > "$base/services/io.github.postern.Postern.Agent.service" <<SERVICE
[D-BUS Service]
Name=io.github.postern.Postern.Agent
Exec=$POSTERN_TEST_AGENT
SERVICE
fi

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

# Inside the bus: start and unlock the keyring before anything touches the
# Secret Service, probe it, run the command, stop the keyring by its PID.
cat > "$base/inner.sh" <<'INNER'
set -u
if [ "$POSTERN_TEST_KEYRING" = no ]; then
  exec "$@"
fi
# The keyring is not ours: our test settings (fatal warnings, malloc
# checks, sanitizer options) would turn its own harmless warnings into
# crashes mid-test.
printf '%s' "$POSTERN_TEST_KEYRING_PASSWORD" |
  env -u G_DEBUG -u MALLOC_CHECK_ -u MALLOC_PERTURB_ -u G_MESSAGES_DEBUG \
  gnome-keyring-daemon --foreground --unlock --components=secrets >"$TMPDIR/keyring.log" 2>&1 &
keyring=$!
if ! gdbus wait --session --timeout 10 org.freedesktop.secrets; then
  echo "desktop-session.sh: gnome-keyring did not appear on the bus" >&2
  cat "$TMPDIR/keyring.log" >&2
  kill "$keyring" 2>/dev/null
  exit 1
fi
"$@"
status=$?
if ! kill -0 "$keyring" 2>/dev/null; then
  echo "desktop-session.sh: gnome-keyring-daemon died during the test:" >&2
  cat "$TMPDIR/keyring.log" >&2
fi
kill "$keyring" 2>/dev/null
wait "$keyring" 2>/dev/null
exit $status
INNER

# As root, dbus-daemon prints a harmless "Failed to set fd limit".
status=0
dbus-run-session --config-file="$base/bus.conf" -- sh "$base/inner.sh" "$@" || status=$?
exit $status
