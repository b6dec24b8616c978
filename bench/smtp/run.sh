#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
#
# SMTP ingest benchmark (not a test): messages per second and per-message
# latency of posternd beside, in the same run, Postfix's smtp-sink (the
# ceiling: stores nothing), a private Postfix smtpd -> discard: (disk queue,
# fsync) and three aiosmtpd handlers writing to SQLite WAL (synchronous=NORMAL,
# not durable per message): SimpleLogin's design (its forward path through
# SQLAlchemy's ORM: parses the message, looks up the alias, its mailbox and
# user and the sender's contact, logs the message with its body: the work
# posternd does per message), the same queries by hand with the sqlite3
# module (leaner than anything SimpleLogin runs), and a bare one that only
# inserts the raw bytes (a floor for any Python handler).
# posternd stores every message durably (body, event and delivery row in
# one SQLite synchronous=FULL commit, group commit) before its 250.
#
# Load: smtp-source from Debian's postfix package, 1 KiB and 50 KiB, 1/4/16
# sessions, one message per connection (as internet senders do) and, for
# 1 KiB/16 sessions, many per connection (-d). Medians of RUNS runs. Every
# run is bounded by a message count and a timeout.
#
# Needs (as root, bench only, not CI):
#   DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends postfix python3-aiosmtpd python3-sqlalchemy
# Usage: bench/smtp/run.sh [POSTERND]
#   POSTERND defaults to a release build made in $BUILD (default
#   /var/tmp/postern-bench-build). RUNS=3, PROBE=300 (latency probe
#   messages) and WORK (scratch folder on a real disk, default under
#   /var/tmp) may be set in the environment.
set -euo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
RUNS=${RUNS:-3}
PROBE=${PROBE:-300}
RUN_TIMEOUT=${RUN_TIMEOUT:-300}
BUILD=${BUILD:-/var/tmp/postern-bench-build}
PY=/usr/bin/python3

PORT_SINK=2600
PORT_POSTFIX=2526
PORT_POSTERND=2625
PORT_AIO=2700
PORT_AIO_SL=2701
PORT_AIO_ORM=2702

die () { echo "bench: $*" >&2; exit 1; }

for tool in smtp-source smtp-sink postfix; do
  command -v "$tool" >/dev/null || die "$tool missing: apt-get install --no-install-recommends postfix"
done
$PY -c 'import aiosmtpd' 2>/dev/null || die "python3-aiosmtpd missing (Debian's /usr/bin/python3)"
$PY -c 'import sqlalchemy' 2>/dev/null || die "python3-sqlalchemy missing (Debian's /usr/bin/python3)"
[ "$(id -u)" = 0 ] || die "run as root (the private Postfix instance needs it)"

posternd=${1:-}
if [ -z "$posternd" ]; then
  if [ ! -f "$BUILD/build.ninja" ]; then
    meson setup "$BUILD" "$top" -Dbuildtype=release -Ddesktop=false >/dev/null
  fi
  ninja -C "$BUILD" src/server/posternd >/dev/null
  posternd=$BUILD/src/server/posternd
fi

work=$(mktemp -d "${WORK:-/var/tmp}/postern-bench-XXXXXX")
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

# ---- posternd ----
. "$top/bench/smtp/posternd-state.sh"
pconf=$work/posternd/posternd.conf
posternd_pid=
# A fresh state for each configuration (see posternd-state.sh).
start_posternd () {
  if [ -n "$posternd_pid" ]; then
    kill "$posternd_pid" 2>/dev/null || true
    wait "$posternd_pid" 2>/dev/null || true
    grep 'posternd stopping' "$work/posternd/log" | sed 's/^.*stopping: /  posternd store: /' >&2 || true
  fi
  posternd_fresh_state "$posternd" "$work/posternd" $PORT_POSTERND || exit 1
  "$posternd" --config "$pconf" run 2>"$work/posternd/log" &
  posternd_pid=$!
  pids+=("$posternd_pid")
  wait_port $PORT_POSTERND
}
start_posternd

# ---- smtp-sink ----
smtp-sink -u nobody 127.0.0.1:$PORT_SINK 1024 &
pids+=($!)

# ---- private Postfix: smtpd -> discard: ----
postfix_conf=$work/postfix/etc
mkdir -p "$postfix_conf" "$work/postfix/queue" "$work/postfix/data"
# Postfix's daemons run as the postfix user: let them reach their folders.
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
transport_maps = inline:{ bench.test=discard: }
smtpd_relay_restrictions = reject_unauth_destination
alias_maps =
alias_database =
local_recipient_maps =
smtpd_client_connection_count_limit = 0
smtpd_client_connection_rate_limit = 0
default_process_limit = 200
EOF
sed -e "s/^smtp[[:space:]]\+inet.*/127.0.0.1:$PORT_POSTFIX inet n - n - - smtpd/" \
    -e 's/^\([a-z]*\)[[:space:]]\+\(unix\|unix-dgram\|fifo\)[[:space:]]\+\([-ny]\)[[:space:]]\+\([-ny]\)[[:space:]]\+[-ny]/\1 \2 \3 \4 n/' \
    /etc/postfix/master.cf > "$postfix_conf/master.cf"
postfix -c "$postfix_conf" check || die "postfix check failed"
postfix -c "$postfix_conf" start >/dev/null 2>&1 || die "postfix did not start: $(tail -5 "$work/postfix/maillog" 2>/dev/null)"

# ---- aiosmtpd + SQLite: SimpleLogin's design, its queries by hand, bare ----
$PY "$top/bench/smtp/aiosmtpd-sqlite.py" bare $PORT_AIO "$work/aio.sqlite" 2>"$work/aio.log" &
aio_pid=$!
pids+=("$aio_pid")
$PY "$top/bench/smtp/aiosmtpd-sqlite.py" simplelogin $PORT_AIO_SL "$work/aio-sl.sqlite" 2>"$work/aio-sl.log" &
aio_sl_pid=$!
pids+=("$aio_sl_pid")
$PY "$top/bench/smtp/aiosmtpd-sqlite.py" simplelogin-orm $PORT_AIO_ORM "$work/aio-orm.sqlite" 2>"$work/aio-orm.log" &
aio_orm_pid=$!
pids+=("$aio_orm_pid")

for port in $PORT_SINK $PORT_POSTFIX $PORT_POSTERND $PORT_AIO $PORT_AIO_SL $PORT_AIO_ORM; do
  wait_port $port
done

# ---- measuring ----
cpu_ticks () { awk '{print $14 + $15}' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)
stored () { grep -c 'event=stored' "$work/posternd/log" || true; }
# Rows a Python peer has logged: a peer that refused or lost messages
# would look fast.
peer_rows () { $PY -c "import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute(sys.argv[2]).fetchone()[0])" "$@"; }
peer_counts () {
  echo "$(peer_rows "$work/aio-orm.sqlite" 'SELECT count(*) FROM email_log') $(peer_rows "$work/aio-sl.sqlite" 'SELECT count(*) FROM email_log') $(peer_rows "$work/aio.sqlite" 'SELECT count(*) FROM events')"
}

# One run: prints "rate server_cpu_s client_cpu_s".
one_run () {
  local port=$1 sessions=$2 count=$3 size=$4 flags=$5 pid=$6
  local before after t0 t1 client
  before=0
  [ -n "$pid" ] && before=$(cpu_ticks "$pid")
  t0=$(date +%s.%N)
  /usr/bin/time -o "$work/time.out" -f '%U %S' timeout "$RUN_TIMEOUT" smtp-source $flags -s "$sessions" -m "$count" -l "$size" \
    -f bench@source.test -t bench@bench.test 127.0.0.1:"$port" >/dev/null 2>"$work/source.err" || echo "bench: smtp-source failed: $(tail -2 "$work/source.err")" >&2
  client=$(tail -1 "$work/time.out")
  t1=$(date +%s.%N)
  after=0
  [ -n "$pid" ] && after=$(cpu_ticks "$pid")
  $PY -c "
import sys
t = float(sys.argv[2]) - float(sys.argv[1])
u, s = (sys.argv[5].split() + ['0', '0'])[:2]
srv = (float(sys.argv[4]) - float(sys.argv[3])) / float(sys.argv[7]) if sys.argv[6] == '1' else float('nan')
print('%.1f %.2f %.2f' % (float(sys.argv[8]) / t, srv, float(u) + float(s)))
" "$t0" "$t1" "$before" "$after" "$client" "$([ -n "$pid" ] && echo 1 || echo 0)" "$hz" "$count"
}

median () { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

declare -A result rounds
targets=(sink postfix aiosmtpd-orm aiosmtpd-sl aiosmtpd posternd)
port_of () { case $1 in sink) echo $PORT_SINK;; postfix) echo $PORT_POSTFIX;; aiosmtpd) echo $PORT_AIO;; aiosmtpd-sl) echo $PORT_AIO_SL;; aiosmtpd-orm) echo $PORT_AIO_ORM;; posternd) echo $PORT_POSTERND;; esac; }
pid_of () { case $1 in posternd) echo "$posternd_pid";; aiosmtpd) echo "$aio_pid";; aiosmtpd-sl) echo "$aio_sl_pid";; aiosmtpd-orm) echo "$aio_orm_pid";; *) echo "";; esac; }

configs=("1024 1 -" "1024 4 -" "1024 16 -" "51200 1 -" "51200 4 -" "51200 16 -" "1024 16 -d")
count_for () {
  case "$1:$2" in
    1024:1) echo 600;; 1024:*) echo 3000;; 51200:1) echo 400;; *) echo 1500;;
  esac
}

echo "bench: $(nproc) CPUs, loopback, $RUNS runs each, medians; server and client CPU seconds per run" >&2
echo "bench: load at start: $(cut -d' ' -f1-3 /proc/loadavg) (other work on the machine skews every figure)" >&2
for cfg in "${configs[@]}"; do
  read -r size sessions mode <<<"$cfg"
  flags=""
  [ "$mode" = "-d" ] && flags="-d"
  count=$(count_for "$size" "$sessions")
  start_posternd
  before_stored=$(stored)
  read -r orm_before sl_before aio_before <<<"$(peer_counts)"
  # Round-robin: each run measures every server in turn, so that the
  # machine's drift (other tenants, frequency) lands on all of them and
  # the ratios stay comparable.
  declare -A rates=() scpu=() ccpu=()
  for _ in $(seq "$RUNS"); do
    for target in "${targets[@]}"; do
      read -r rate s c <<<"$(one_run "$(port_of "$target")" "$sessions" "$count" "$size" "$flags" "$(pid_of "$target")")"
      rates[$target]+="$rate "; scpu[$target]+="$s "; ccpu[$target]+="$c "
    done
  done
  got=$(( $(stored) - before_stored ))
  [ "$got" -eq $((count * RUNS)) ] || echo "bench: posternd stored $got of $((count * RUNS)) messages" >&2
  read -r orm_after sl_after aio_after <<<"$(peer_counts)"
  for peer in "aiosmtpd-orm $((orm_after - orm_before))" "aiosmtpd-sl $((sl_after - sl_before))" "aiosmtpd $((aio_after - aio_before))"; do
    read -r name rows <<<"$peer"
    [ "$rows" -eq $((count * RUNS)) ] || echo "bench: $name logged $rows of $((count * RUNS)) messages" >&2
  done
  for target in "${targets[@]}"; do
    result["$cfg/$target"]="$(printf '%s\n' ${rates[$target]} | median) $(printf '%s\n' ${scpu[$target]} | median) $(printf '%s\n' ${ccpu[$target]} | median)"
    rounds["$cfg/$target"]="${rates[$target]}"
    echo "  ${size}B s=$sessions ${mode/-/1/conn} $target: ${result["$cfg/$target"]} (runs: ${rates[$target]% })" >&2
  done
  unset rates scpu ccpu
done

# ---- latency: one message per connection, in sequence, alone and
# beside a 15-session smtp-source load ----
cat > "$work/probe.py" <<'EOF'
import socket, sys, time
port, n = int(sys.argv[1]), int(sys.argv[2])
body = b"From: probe@source.test\r\nSubject: probe\r\n\r\n" + b"x" * 900 + b"\r\n.\r\n"
def reply(s, buf):
    while True:
        while b"\r\n" not in buf[0]:
            chunk = s.recv(65536)
            if not chunk:
                raise EOFError
            buf[0] += chunk
        line, buf[0] = buf[0].split(b"\r\n", 1)
        if line[3:4] != b"-":
            return int(line[:3])
times = []
deadline = time.monotonic() + 120
for i in range(n):
    if time.monotonic() > deadline:
        break
    t0 = time.monotonic()
    s = socket.create_connection(("127.0.0.1", port), 10)
    buf = [b""]
    reply(s, buf)
    for cmd in (b"EHLO probe\r\n", b"MAIL FROM:<probe@source.test>\r\n", b"RCPT TO:<bench@bench.test>\r\n", b"DATA\r\n"):
        s.sendall(cmd)
        reply(s, buf)
    s.sendall(body)
    code = reply(s, buf)
    times.append(time.monotonic() - t0)
    s.sendall(b"QUIT\r\n")
    s.close()
    assert code == 250, code
times.sort()
print("%.2f %.2f" % (times[len(times) // 2] * 1000, times[min(len(times) - 1, int(len(times) * 0.99))] * 1000))
EOF
declare -A latency
start_posternd
for target in "${targets[@]}"; do
  port=$(port_of "$target")
  idle=$($PY "$work/probe.py" "$port" "$PROBE")
  timeout 120 smtp-source -s 15 -m 100000 -l 1024 -f bench@source.test -t bench@bench.test 127.0.0.1:"$port" >/dev/null 2>&1 &
  load=$!
  sleep 0.5
  busy=$($PY "$work/probe.py" "$port" "$PROBE")
  kill "$load" 2>/dev/null || true
  wait "$load" 2>/dev/null || true
  latency[$target]="$idle $busy"
  sleep 1
done

# ---- the table ----
echo
echo "| msg/s (median of $RUNS; server CPU s) | smtp-sink | Postfix smtpd→discard | aiosmtpd, SimpleLogin's design (ORM) | aiosmtpd, its queries by hand | aiosmtpd, bare insert | posternd | ÷ Postfix | ÷ SimpleLogin's design | ÷ its queries by hand | ÷ bare | ÷ sink |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|"
for cfg in "${configs[@]}"; do
  read -r size sessions mode <<<"$cfg"
  label="$((size / 1024)) KiB, $sessions sess, $([ "$mode" = "-d" ] && echo "many msg/conn" || echo "1 msg/conn")"
  read -r sink _ <<<"${result["$cfg/sink"]}"
  read -r pf _ <<<"${result["$cfg/postfix"]}"
  read -r aio aio_cpu _ <<<"${result["$cfg/aiosmtpd"]}"
  read -r sl sl_cpu _ <<<"${result["$cfg/aiosmtpd-sl"]}"
  read -r orm orm_cpu _ <<<"${result["$cfg/aiosmtpd-orm"]}"
  read -r pd pd_cpu _ <<<"${result["$cfg/posternd"]}"
  $PY -c "
import sys
sink, pf, orm, orm_cpu, sl, sl_cpu, aio, aio_cpu, pd, pd_cpu = map(float, sys.argv[2:12])
print('| %s | %.0f | %.0f | %.0f (%.2f) | %.0f (%.2f) | %.0f (%.2f) | %.0f (%.2f) | %.1f× | %.1f× | %.1f× | %.1f× | %.0f%% |' % (sys.argv[1], sink, pf, orm, orm_cpu, sl, sl_cpu, aio, aio_cpu, pd, pd_cpu, pd / pf, pd / orm, pd / sl, pd / aio, 100 * pd / sink))
" "$label" "$sink" "$pf" "$orm" "$orm_cpu" "$sl" "$sl_cpu" "$aio" "$aio_cpu" "$pd" "$pd_cpu"
done
# The targets' configuration, round by round: a median ratio can hide a
# round that missed.
$PY -c "
import sys
pd, pf, orm, sl = ([float(x) for x in a.split()] for a in sys.argv[1:5])
ratios = lambda peer: ' '.join('%.1f×' % (a / b) for a, b in zip(pd, peer))
print()
print('1 KiB, 16 sessions, 1 msg/conn, round by round: posternd ÷ Postfix %s; ÷ SimpleLogin\'s design %s; ÷ its queries by hand %s' % (
    ratios(pf), ratios(orm), ratios(sl)))
" "${rounds["1024 16 -/posternd"]}" "${rounds["1024 16 -/postfix"]}" "${rounds["1024 16 -/aiosmtpd-orm"]}" "${rounds["1024 16 -/aiosmtpd-sl"]}"
echo
echo "| latency, 1 KiB, ms (p50 / p99) | alone | beside 15 loading sessions |"
echo "|---|---|---|"
for target in "${targets[@]}"; do
  read -r a50 a99 b50 b99 <<<"${latency[$target]}"
  echo "| $target | $a50 / $a99 | $b50 / $b99 |"
done
echo
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) CPUs"
echo "posternd: every message's body, event and delivery row committed (SQLite WAL, synchronous=FULL) before 250; group commit. aiosmtpd: synchronous=NORMAL (not durable per message)."
