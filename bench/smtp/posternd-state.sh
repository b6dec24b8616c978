# SPDX-License-Identifier: GPL-3.0-or-later
# Sourced by bench/smtp/run.sh and ab.sh: the posternd those benches load.
#
# posternd_fresh_state POSTERND DIR PORT
#   Writes DIR/posternd.conf (SMTP on 127.0.0.1:PORT, domain bench.test),
#   empties DIR/state and DIR/Maildir, and adds the user and the open
#   channel bench@bench.test. Ingest is measured alone: the delivery queue
#   (a separate stage, with its own fsyncs into the Maildir) is paused.
#   A fresh state each time: nothing delivers here, and a database of tens
#   of thousands of kept bodies would measure its growth, not posternd.
posternd_fresh_state () {
  local binary=$1 dir=$2 port=$3
  mkdir -p "$dir"
  rm -rf "$dir/state" "$dir/Maildir"
  cat > "$dir/posternd.conf" <<CONF
[server]
state_dir=$dir/state
domains=bench.test
hostname=posternd.bench
[smtp]
listen=127.0.0.1:$port
[api]
listen=127.0.0.1:0
[limits]
sessions_per_client=200
[delivery]
paused=true
CONF
  if ! "$binary" --config "$dir/posternd.conf" user add bench --maildir "$dir/Maildir" >/dev/null 2>"$dir/admin.log" ||
     ! "$binary" --config "$dir/posternd.conf" channel add bench --kind open --local-part bench >/dev/null 2>>"$dir/admin.log"; then
    echo "bench: posternd setup failed:" >&2
    cat "$dir/admin.log" >&2
    return 1
  fi
}
