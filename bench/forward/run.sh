#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Forwarding benchmark (not a test): end-to-end messages per second from
# an SMTP client, through posternd (durable ingest, delivery queue,
# libcurl to the smarthost), to a loopback sink (Postfix's smtp-sink,
# which discards), beside a private Postfix relaying the same load to the
# same sink in the same run (smtpd -> cleanup -> queue -> smtp client,
# fsync'd queue files: the same durability).
#
# End to end: the clock runs from the first connection of smtp-source to
# the moment the sink has counted every message, so the figure includes
# the queue and the retries of both. Also printed: the ingest rate alone
# (smtp-source done), and CPU seconds of each server (posternd: the
# process; Postfix: master, its live children and the reaped ones).
#
# Load: smtp-source, 16 sessions, one message per connection (as internet
# senders do), 1 KiB and 50 KiB; medians of RUNS runs, each bounded by a
# message count and a timeout.
#
# Needs (as root, bench only, never CI):
#   DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends postfix
# Usage: bench/forward/run.sh [POSTERND]
#   POSTERND defaults to a release build made in $BUILD (default
#   /var/tmp/postern-bench-build). RUNS=3, SESSIONS=16, WORKERS=16
#   (posternd [delivery] concurrency) and WORK (scratch folder on a real
#   disk, default under /var/tmp) may be set in the environment.
set -euo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
RUNS=${RUNS:-3}
SESSIONS=${SESSIONS:-16}
WORKERS=${WORKERS:-16}
RUN_TIMEOUT=${RUN_TIMEOUT:-300}
BUILD=${BUILD:-/var/tmp/postern-bench-build}
PY=/usr/bin/python3

PORT_SINK=2601
PORT_POSTFIX=2527
PORT_POSTERND=2626

die () { echo "bench: $*" >&2; exit 1; }

for tool in smtp-source smtp-sink postfix; do
  command -v "$tool" >/dev/null || die "$tool missing: apt-get install --no-install-recommends postfix"
done
[ "$(id -u)" = 0 ] || die "run as root (the private Postfix instance needs it)"

posternd=${1:-}
if [ -z "$posternd" ]; then
  if [ ! -f "$BUILD/build.ninja" ]; then
    meson setup "$BUILD" "$top" -Dbuildtype=release -Ddesktop=false >/dev/null
  fi
  ninja -C "$BUILD" src/server/posternd >/dev/null
  posternd=$BUILD/src/server/posternd
fi

work=$(mktemp -d "${WORK:-/var/tmp}/postern-forward-bench-XXXXXX")
pids=()
postfix_conf=
cleanup () {
  for pid in "${pids[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${pids[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  if [ -n "$postfix_conf" ]; then
    postfix -c "$postfix_conf" stop >/dev/null 2>&1 || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

wait_port () {
  for _ in $(seq 100); do
    if $PY -c "import socket,sys; socket.create_connection(('127.0.0.1', $1), 1).close()" 2>/dev/null; then
      return 0
    fi
    sleep 0.1
  done
  die "nothing listens on port $1"
}

# ---- the sink: counts every message it is given ----
smtp-sink -c -u nobody 127.0.0.1:$PORT_SINK 1024 >"$work/sink.count" 2>"$work/sink.err" &
pids+=($!)
sink_count () { tail -c 200 "$work/sink.count" | tr '\r' '\n' | grep -o 'mesg=[0-9]*' | tail -1 | cut -d= -f2 || echo 0; }

# ---- posternd: forwards everything to the sink ----
mkdir -p "$work/posternd"
pconf=$work/posternd/posternd.conf
cat > "$pconf" <<EOF
[server]
state_dir=$work/posternd/state
domains=bench.test
hostname=posternd.bench
[smtp]
listen=127.0.0.1:$PORT_POSTERND
[api]
listen=127.0.0.1:0
[limits]
sessions_per_client=200
[delivery]
smarthost=127.0.0.1
port=$PORT_SINK
tls=none
concurrency=$WORKERS
EOF
"$posternd" --config "$pconf" user add bench --forward-to owner@sink.test >/dev/null
"$posternd" --config "$pconf" channel add bench --kind open --local-part bench --label Bench >/dev/null
"$posternd" --config "$pconf" run 2>"$work/posternd/log" &
posternd_pid=$!
pids+=("$posternd_pid")

# ---- private Postfix relaying bench.test to the sink ----
postfix_conf=$work/postfix/etc
mkdir -p "$postfix_conf" "$work/postfix/queue" "$work/postfix/data"
chmod 755 "$work"
chown postfix "$work/postfix/data"
cat > "$postfix_conf/main.cf" <<EOF
compatibility_level = 3.6
queue_directory = $work/postfix/queue
data_directory = $work/postfix/data
maillog_file = $work/postfix/maillog
inet_interfaces = loopback-only
inet_protocols = ipv4
myhostname = postfix.bench
mydestination =
relay_domains = bench.test
transport_maps = inline:{ bench.test=smtp:[127.0.0.1]:$PORT_SINK }
smtp_tls_security_level = none
smtpd_relay_restrictions = reject_unauth_destination
alias_maps =
alias_database =
local_recipient_maps =
smtpd_client_connection_count_limit = 0
smtpd_client_connection_rate_limit = 0
default_process_limit = 200
default_destination_concurrency_limit = $WORKERS
EOF
sed -e "s/^smtp[[:space:]]\+inet.*/127.0.0.1:$PORT_POSTFIX inet n - n - - smtpd/" \
    -e 's/^\([a-z]*\)[[:space:]]\+\(unix\|unix-dgram\|fifo\)[[:space:]]\+\([-ny]\)[[:space:]]\+\([-ny]\)[[:space:]]\+[-ny]/\1 \2 \3 \4 n/' \
    /etc/postfix/master.cf > "$postfix_conf/master.cf"
postfix -c "$postfix_conf" check || die "postfix check failed"
postfix -c "$postfix_conf" start >/dev/null 2>&1 || die "postfix did not start: $(tail -5 "$work/postfix/maillog" 2>/dev/null)"

for port in $PORT_SINK $PORT_POSTFIX $PORT_POSTERND; do
  wait_port $port
done
postfix_master=$(tr -d ' ' < "$work/postfix/queue/pid/master.pid")

# ---- measuring ----
hz=$(getconf CLK_TCK)
# posternd: its own ticks. Postfix: master with its reaped children
# (cutime, cstime) plus the children alive now.
cpu_posternd () { awk '{print $14 + $15}' "/proc/$posternd_pid/stat"; }
cpu_postfix () {
  local total
  total=$(awk '{print $14 + $15 + $16 + $17}' "/proc/$postfix_master/stat")
  for child in $(pgrep -P "$postfix_master" || true); do
    total=$((total + $(awk '{print $14 + $15}' "/proc/$child/stat" 2>/dev/null || echo 0)))
  done
  echo "$total"
}

# One run: prints "end_to_end_rate ingest_rate server_cpu_s".
one_run () {
  local target=$1 count=$2 size=$3 port cpu_fn before after start_count t0 t1 t2 deadline
  if [ "$target" = posternd ]; then port=$PORT_POSTERND; cpu_fn=cpu_posternd; else port=$PORT_POSTFIX; cpu_fn=cpu_postfix; fi
  start_count=$(sink_count)
  before=$($cpu_fn)
  t0=$(date +%s.%N)
  timeout "$RUN_TIMEOUT" smtp-source -s "$SESSIONS" -m "$count" -l "$size" \
    -f bench@source.test -t bench@bench.test 127.0.0.1:"$port" >/dev/null 2>"$work/source.err" \
    || echo "bench: smtp-source failed: $(tail -2 "$work/source.err")" >&2
  t1=$(date +%s.%N)
  deadline=$(( $(date +%s) + RUN_TIMEOUT ))
  while [ $(( $(sink_count) - start_count )) -lt "$count" ]; do
    [ "$(date +%s)" -lt "$deadline" ] || { echo "bench: $target delivered $(( $(sink_count) - start_count )) of $count" >&2; break; }
    sleep 0.01
  done
  t2=$(date +%s.%N)
  after=$($cpu_fn)
  $PY -c "
import sys
t0, t1, t2 = map(float, sys.argv[1:4])
n = float(sys.argv[4])
print('%.1f %.1f %.2f' % (n / (t2 - t0), n / (t1 - t0), (float(sys.argv[6]) - float(sys.argv[5])) / float(sys.argv[7])))
" "$t0" "$t1" "$t2" "$count" "$before" "$after" "$hz"
}

median () { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

configs=("1024 3000" "51200 1500")
echo "bench: $(nproc) CPUs, loopback, $SESSIONS sessions, 1 msg/conn, posternd $WORKERS delivery workers, Postfix destination concurrency $WORKERS; medians of $RUNS" >&2
echo "bench: load at start: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
declare -A result
for cfg in "${configs[@]}"; do
  read -r size count <<<"$cfg"
  for target in posternd postfix; do
    e2e=(); ingest=(); cpu=()
    for _ in $(seq "$RUNS"); do
      read -r e i c <<<"$(one_run "$target" "$count" "$size")"
      e2e+=("$e"); ingest+=("$i"); cpu+=("$c")
      sleep 1
    done
    result["$size/$target"]="$(printf '%s\n' "${e2e[@]}" | median) $(printf '%s\n' "${ingest[@]}" | median) $(printf '%s\n' "${cpu[@]}" | median)"
    echo "  ${size}B $target: e2e ingest cpu = ${result["$size/$target"]} (runs: ${e2e[*]})" >&2
  done
done

grep -c 'event=delivered' "$work/posternd/log" | sed 's/^/bench: posternd delivered: /' >&2 || true
grep -c 'event=deferred' "$work/posternd/log" | sed 's/^/bench: posternd deferred attempts: /' >&2 || true

echo
echo "| $SESSIONS sessions, 1 msg/conn (median of $RUNS) | posternd end-to-end msg/s | Postfix end-to-end msg/s | posternd ÷ Postfix | ingest alone: posternd / Postfix | server CPU s: posternd / Postfix |"
echo "|---|---|---|---|---|---|"
for cfg in "${configs[@]}"; do
  read -r size count <<<"$cfg"
  read -r pd_e pd_i pd_c <<<"${result["$size/posternd"]}"
  read -r pf_e pf_i pf_c <<<"${result["$size/postfix"]}"
  $PY -c "
import sys
label = sys.argv[1]
pd_e, pd_i, pd_c, pf_e, pf_i, pf_c = map(float, sys.argv[2:8])
print('| %s, %s msgs | %.0f | %.0f | %.2f× | %.0f / %.0f | %.2f / %.2f |' % (label, sys.argv[8], pd_e, pf_e, pd_e / pf_e, pd_i, pf_i, pd_c, pf_c))
" "$((size / 1024)) KiB" "$pd_e" "$pd_i" "$pd_c" "$pf_e" "$pf_i" "$pf_c" "$count"
done
