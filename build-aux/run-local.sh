#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Try Postern on this machine in one command (the README's "Try it"):
# installs the dependencies, builds into _build/local, starts posternd on
# loopback, adds a local user, pairs the agent of your desktop session with
# it, opens the app and sends two demo messages so an alert shows at once.
#
#   build-aux/run-local.sh          start (again: reuses the state)
#   build-aux/run-local.sh status   what runs, where the logs are
#   build-aux/run-local.sh stop     stop what this script started
#
# Environment (all optional):
#   POSTERN_RUN_DIR     state, config, logs, PID files
#                       (default: ${XDG_STATE_HOME:-~/.local/state}/postern-dev)
#   POSTERN_USER        the posternd user (default: your login name)
#   POSTERN_SMTP_PORT   2525    POSTERN_LMTP_PORT  2424    POSTERN_API_PORT  8443
#   POSTERN_SKIP_DEPS=1 do not run build-aux/install-deps.sh
#
# Everything listens on 127.0.0.1 only. The agent keeps its token in your
# desktop's keyring (Secret Service), as an installed Postern would.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
build="$top/_build/local"
run_dir=${POSTERN_RUN_DIR:-"${XDG_STATE_HOME:-$HOME/.local/state}/postern-dev"}
smtp_port=${POSTERN_SMTP_PORT:-2525}
lmtp_port=${POSTERN_LMTP_PORT:-2424}
api_port=${POSTERN_API_PORT:-8443}
domain=postern.test
python=/usr/bin/python3

config="$run_dir/posternd.conf"
logs="$run_dir/logs"
pids="$run_dir/pids"
maildir="$run_dir/Maildir"

posternd="$build/src/server/posternd"
agent="$build/src/agent/postern-agent"
ctl="$build/src/cli/posternctl"
app="$build/src/app/postern"

AGENT_NAME=io.github.postern.Postern.Agent
APP_NAME=io.github.postern.Postern

say () {
  printf 'run-local: %s\n' "$*"
}

die () {
  printf 'run-local: %s\n' "$*" >&2
  exit 1
}

# ---- PID files -------------------------------------------------------------

# Prints the PID recorded for $1 if that process still runs.
running_pid () {
  file="$pids/$1.pid"
  [ -f "$file" ] || return 1
  pid=$(cat "$file")
  case "$pid" in '' | *[!0-9]*) return 1 ;; esac
  kill -0 "$pid" 2>/dev/null || return 1
  echo "$pid"
}

stop_one () {
  name=$1
  if pid=$(running_pid "$name"); then
    kill "$pid" 2>/dev/null || true
    i=0
    while kill -0 "$pid" 2>/dev/null && [ $i -lt 50 ]; do
      sleep 0.1
      i=$((i + 1))
    done
    if kill -0 "$pid" 2>/dev/null; then
      say "$name (PID $pid) did not stop within 5 s; sending SIGKILL"
      kill -9 "$pid" 2>/dev/null || true
    fi
    say "stopped $name (PID $pid)"
  fi
  rm -f "$pids/$name.pid"
}

cmd_stop () {
  # The app first: it talks to the agent, which talks to the server.
  for name in app agent posternd; do
    stop_one "$name"
  done
  say "state kept in $run_dir (delete it to start from scratch)"
}

cmd_status () {
  for name in posternd agent app; do
    if pid=$(running_pid "$name"); then
      say "$name: running, PID $pid, log $logs/$name.log"
    else
      say "$name: not running (started by this script)"
    fi
  done
  if [ -x "$ctl" ] && have_bus; then
    "$ctl" status 2>&1 | sed 's/^/  /' || true
  fi
}

# ---- session bus -----------------------------------------------------------

have_bus () {
  if [ -z "${DBUS_SESSION_BUS_ADDRESS:-}" ] && [ -n "${XDG_RUNTIME_DIR:-}" ] && [ -S "$XDG_RUNTIME_DIR/bus" ]; then
    DBUS_SESSION_BUS_ADDRESS="unix:path=$XDG_RUNTIME_DIR/bus"
    export DBUS_SESSION_BUS_ADDRESS
  fi
  [ -n "${DBUS_SESSION_BUS_ADDRESS:-}" ]
}

name_has_owner () {
  gdbus call --session --timeout 5 --dest org.freedesktop.DBus \
    --object-path /org/freedesktop/DBus --method org.freedesktop.DBus.NameHasOwner "$1" 2>/dev/null |
    grep -q true
}

# ---- steps -----------------------------------------------------------------

install_deps () {
  if [ "${POSTERN_SKIP_DEPS:-0}" = 1 ]; then
    return
  fi
  # It asks for sudo only when a package is missing.
  "$top/build-aux/install-deps.sh" ||
    die "installing the dependencies failed; run build-aux/install-deps.sh as root, then this again"
}

build () {
  if [ ! -f "$build/build.ninja" ]; then
    say "configuring $build"
    meson setup "$build" "$top" --buildtype=debugoptimized \
      -Db_sanitize=none -Ddevelopment=false >"$run_dir/meson-setup.log" 2>&1 ||
      { tail -n 30 "$run_dir/meson-setup.log" >&2; die "meson setup failed (log: $run_dir/meson-setup.log)"; }
  fi
  say "building (log: $run_dir/build.log)"
  meson compile -C "$build" >"$run_dir/build.log" 2>&1 ||
    { tail -n 30 "$run_dir/build.log" >&2; die "the build failed (log: $run_dir/build.log)"; }
}

# The ports of an existing configuration win over the environment.
read_ports () {
  for group in smtp lmtp api; do
    port=$(sed -n "/^\[$group\]/,/^\[/s/^listen=127\.0\.0\.1:\([0-9]*\).*/\1/p" "$config")
    [ -n "$port" ] || die "$config has no 127.0.0.1 listen address in [$group]; delete it to have it written again"
    eval "${group}_port=$port"
  done
}

write_config () {
  if [ -f "$config" ]; then
    read_ports
    return
  fi
  cat >"$config" <<EOF
# Written by build-aux/run-local.sh: a development posternd on loopback.
# See data/posternd.conf and docs/deploy.md for a real deployment.
[server]
state_dir=$run_dir/state
domains=$domain;
hostname=localhost

[smtp]
listen=127.0.0.1:$smtp_port;

[lmtp]
listen=127.0.0.1:$lmtp_port;

[api]
# No certificate given: posternd makes a self-signed one in state_dir at
# first start; the agent pins its fingerprint when it pairs.
listen=127.0.0.1:$api_port
EOF
}

# Waits until every TCP port given is accepting connections on 127.0.0.1.
wait_ports () {
  "$python" - "$@" <<'PY'
import socket, sys, time
deadline = time.monotonic() + 15
for port in map(int, sys.argv[1:]):
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if time.monotonic() > deadline:
                sys.exit(f"port {port} did not open within 15 s")
            time.sleep(0.1)
PY
}

port_busy () {
  "$python" - "$1" <<'PY'
import socket, sys
try:
    socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=1).close()
except OSError:
    sys.exit(1)
PY
}

start_posternd () {
  if pid=$(running_pid posternd); then
    say "posternd already runs (PID $pid)"
    return
  fi
  for port in "$smtp_port" "$lmtp_port" "$api_port"; do
    if port_busy "$port"; then
      die "127.0.0.1:$port is taken by another program; choose other ports with POSTERN_SMTP_PORT, POSTERN_LMTP_PORT, POSTERN_API_PORT (and delete $config)"
    fi
  done
  "$posternd" --config "$config" --check-config >/dev/null
  nohup "$posternd" --config "$config" run >>"$logs/posternd.log" 2>&1 </dev/null &
  echo $! >"$pids/posternd.pid"
  if ! wait_ports "$smtp_port" "$lmtp_port" "$api_port"; then
    tail -n 20 "$logs/posternd.log" >&2
    stop_one posternd
    die "posternd did not start (log: $logs/posternd.log)"
  fi
  say "started posternd (PID $(cat "$pids/posternd.pid"))"
}

add_user () {
  if "$posternd" --config "$config" user list 2>/dev/null | awk '{ print $1 }' | grep -qx "$user"; then
    return
  fi
  mkdir -p "$maildir"
  "$posternd" --config "$config" user add "$user" --maildir "$maildir" >/dev/null
  say "added the posternd user $user (mail goes to $maildir)"
}

start_agent () {
  if name_has_owner "$AGENT_NAME"; then
    if pid=$(running_pid agent); then
      say "postern-agent already runs (PID $pid)"
    else
      say "a postern-agent already runs on your session bus; using it"
    fi
    return
  fi
  nohup "$agent" >>"$logs/agent.log" 2>&1 </dev/null &
  echo $! >"$pids/agent.pid"
  gdbus wait --session --timeout 10 "$AGENT_NAME" ||
    { tail -n 20 "$logs/agent.log" >&2; die "postern-agent did not appear on the session bus (log: $logs/agent.log)"; }
  say "started postern-agent (PID $(cat "$pids/agent.pid"))"
}

pair_agent () {
  status=$("$ctl" status --json 2>/dev/null || true)
  # Paired with this server, as this user, and trusting its certificate
  # of now: a state directory deleted to start from scratch has a new one,
  # and the agent must pair again.
  if printf '%s' "$status" | "$python" -c '
import hashlib, json, ssl, sys
s = json.load(sys.stdin)
with open(sys.argv[3]) as f:
    der = ssl.PEM_cert_to_DER_cert(f.read())
now = ":".join("%02X" % b for b in hashlib.sha256(der).digest())
sys.exit(0 if s.get("paired") and s.get("server", "").rstrip("/") == sys.argv[1] and s.get("user") == sys.argv[2]
         and s.get("fingerprint", "").upper() == now else 1)
' "https://127.0.0.1:$api_port" "$user" "$state_dir/api-cert.pem" 2>/dev/null; then
    say "the agent is already paired with this posternd as $user"
    return
  fi
  uri=$("$posternd" --config "$config" pair "$user" | sed -n 's/^URI: //p')
  [ -n "$uri" ] || die "posternd pair printed no URI"
  if ! "$ctl" pair "$uri" --yes --device-name "run-local on $(hostname)" >"$run_dir/pair.log" 2>&1; then
    cat "$run_dir/pair.log" >&2
    die "pairing failed. Is your keyring (Secret Service, e.g. gnome-keyring) running and unlocked?"
  fi
  say "paired the agent with posternd as $user"
}

open_app () {
  if [ -z "${DISPLAY:-}" ] && [ -z "${WAYLAND_DISPLAY:-}" ]; then
    say "no DISPLAY or WAYLAND_DISPLAY: not opening the app (posternctl works without it)"
    return
  fi
  if pid=$(running_pid app); then
    say "the app already runs (PID $pid)"
    return
  fi
  if name_has_owner "$APP_NAME"; then
    say "a Postern app already runs on your session bus; using it"
    return
  fi
  GSETTINGS_SCHEMA_DIR="$build/data${GSETTINGS_SCHEMA_DIR:+:$GSETTINGS_SCHEMA_DIR}" \
    nohup "$app" >>"$logs/app.log" 2>&1 </dev/null &
  echo $! >"$pids/app.pid"
  say "opened the app (PID $(cat "$pids/app.pid"))"
}

# The demo channel is made once and reused while it is active.
demo_channel () {
  address=""
  if [ -f "$run_dir/demo-channel" ]; then
    address=$(cat "$run_dir/demo-channel")
    state=$("$ctl" show --json "$address" 2>/dev/null |
      "$python" -c 'import json, sys; print(json.load(sys.stdin).get("state", ""))' 2>/dev/null || true)
    [ "$state" = active ] || address=""
  fi
  if [ -z "$address" ]; then
    address=$("$ctl" new --one-time --label "Demo shop" --json |
      "$python" -c 'import json, sys; print(json.load(sys.stdin)["address"])')
    echo "$address" >"$run_dir/demo-channel"
    say "created the one-time demo channel $address"
  fi
}

send_demo_mail () {
  "$python" - "$smtp_port" "$address" <<'PY'
import smtplib, sys
from email.message import EmailMessage

port, to = int(sys.argv[1]), sys.argv[2]
for sender, subject, text in (
    ("orders@demo-shop.test", "Your order #1042",
     "Thanks for your order. This channel now expects mail from demo-shop.test only."),
    ("deals@list-broker.test", "You have been selected!",
     "A stranger who got the address from somewhere: Postern raises an alert."),
):
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = sender, to, subject
    msg.set_content(text)
    with smtplib.SMTP("127.0.0.1", port, timeout=15) as smtp:
        try:
            smtp.send_message(msg)
            print(f"run-local: sent mail from {sender}: accepted")
        except smtplib.SMTPException as e:
            print(f"run-local: sent mail from {sender}: refused ({e})")
PY
}

summary () {
  cat <<EOF

Postern runs on this machine:
  posternd       PID $(running_pid posternd || echo -), SMTP 127.0.0.1:$smtp_port, LMTP 127.0.0.1:$lmtp_port, API https://127.0.0.1:$api_port
                 config $config, store $run_dir/state
  postern-agent  PID $(running_pid agent || echo "- (not started by this script)"), paired as $user
  postern (app)  PID $(running_pid app || echo "- (not started by this script)")
  Mail for $user lands in $maildir (new/).
  The stranger's message raised an alert: a notification with Revoke channel,
  Trust sender and Open, and a red count beside "Demo shop" in the app.
  Logs: $logs/ (posternd.log, agent.log, app.log)

Try:
  $ctl list
  $ctl events
  $ctl new --label "Someone" --qr
  swaks --server 127.0.0.1:$smtp_port --to $address --from someone@else.test

Stop it:     build-aux/run-local.sh stop
Start again: build-aux/run-local.sh   (reuses $run_dir)
EOF
}

cmd_start () {
  user=${POSTERN_USER:-$(id -un)}
  install_deps
  mkdir -p "$run_dir" "$logs" "$pids"
  chmod 700 "$run_dir"
  build
  write_config
  start_posternd
  add_user

  if ! have_bus; then
    cat >&2 <<EOF
run-local: posternd runs, but there is no session bus (DBUS_SESSION_BUS_ADDRESS
is unset and \$XDG_RUNTIME_DIR/bus does not exist), so the agent, the app and
your keyring cannot be reached. Run this script again from a terminal inside
your desktop session. Without a desktop, try it in a private session:
  dbus-run-session -- sh -c 'printf demo | gnome-keyring-daemon --daemonize --unlock --components=secrets >/dev/null; build-aux/run-local.sh; \$SHELL'
(the agent and the app live as long as that shell).
Stop posternd with: build-aux/run-local.sh stop
EOF
    exit 1
  fi
  start_agent
  pair_agent
  open_app
  demo_channel
  send_demo_mail
  summary
}

case "${1:-start}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  -h | --help) awk 'NR > 3 && !/^#/ { exit } NR > 3 { sub(/^# ?/, ""); print }' "$0" ;;
  *) die "unknown command \"$1\" (start, status, stop)" ;;
esac
