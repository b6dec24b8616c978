#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
#
# A/B of two posternd binaries (not a test): alternates them ROUNDS times,
# each round on a fresh state directory, under one smtp-source load, and
# prints each run and the medians of the rate and of posternd's CPU time
# per message. On a noisy machine, alternating is what makes two builds
# comparable; a single run of each is not.
#
# Usage: bench/smtp/ab.sh A_POSTERND B_POSTERND
#   ROUNDS=9 SESSIONS=16 COUNT=4000 SIZE=1024 (smtp-source -s/-m/-l),
#   A_ENV / B_ENV: "NAME=value" set for that side's daemon.
# Needs smtp-source (Debian's postfix package); port 2625 on 127.0.0.1.
set -euo pipefail

[ $# -eq 2 ] || { echo "usage: $0 A_POSTERND B_POSTERND" >&2; exit 2; }
command -v smtp-source >/dev/null || { echo "ab: smtp-source missing (apt-get install postfix)" >&2; exit 1; }
ROUNDS=${ROUNDS:-9}
SESSIONS=${SESSIONS:-16}
COUNT=${COUNT:-4000}
SIZE=${SIZE:-1024}
PORT=2625
. "$(dirname "$0")/posternd-state.sh"
work=$(mktemp -d "${WORK:-/var/tmp}/postern-ab-XXXXXX")
pid=
cleanup () {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

load () {
  timeout 300 smtp-source -s "$SESSIONS" -m "$1" -l "$SIZE" -f bench@source.test -t bench@bench.test 127.0.0.1:$PORT
}

# One run: prints "rate cpu_us_per_message".
run () {
  local binary=$1 env=$2 t0 t1 c0 c1
  posternd_fresh_state "$binary" "$work" $PORT || exit 1
  env $env "$binary" --config "$work/posternd.conf" run 2>"$work/log" &
  pid=$!
  for _ in $(seq 100); do
    grep -q "ready (state in" "$work/log" 2>/dev/null && break
    sleep 0.05
  done
  load 500 # warm-up
  c0=$(awk '{print $14 + $15}' "/proc/$pid/stat")
  t0=$(date +%s.%N)
  load "$COUNT"
  t1=$(date +%s.%N)
  c1=$(awk '{print $14 + $15}' "/proc/$pid/stat")
  kill "$pid"
  wait "$pid" 2>/dev/null || true
  pid=
  python3 -c "import sys, os; t = float(sys.argv[2]) - float(sys.argv[1]); print('%.0f %.0f' % (int(sys.argv[5]) / t, (float(sys.argv[4]) - float(sys.argv[3])) / os.sysconf('SC_CLK_TCK') * 1e6 / int(sys.argv[5])))" \
    "$t0" "$t1" "$c0" "$c1" "$COUNT"
}

median () { sort -n | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }

: > "$work/results"
for round in $(seq "$ROUNDS"); do
  for side in A B; do
    if [ "$side" = A ]; then binary=$1 env=${A_ENV:-}; else binary=$2 env=${B_ENV:-}; fi
    read -r rate cpu <<<"$(run "$binary" "$env")"
    echo "$side $rate $cpu" >> "$work/results"
    echo "round $round $side: $rate msg/s, $cpu us of posternd CPU a message"
  done
done
for side in A B; do
  echo "$side median: $(grep "^$side " "$work/results" | cut -d' ' -f2 | median) msg/s, $(grep "^$side " "$work/results" | cut -d' ' -f3 | median) us a message ($SESSIONS sessions, $COUNT x $SIZE octets, $ROUNDS rounds)"
done
