#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""The crash test: kill -9 posternd during a burst of messages over several
sessions, restart it, and account for every message the clients saw
accepted: each is in the store exactly once, with its body and its
delivery row; no event is duplicated. TAP output."""

import os
import smtplib
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from smtp_harness import Raw, Server, case, message, run  # noqa: E402

SESSIONS = 8
PER_SESSION = 125          # 1,000 messages offered in the burst
KILL_AFTER_ACCEPTED = 500  # kill -9 once this many have been answered 250
BURST_TIMEOUT = 120        # seconds


def burst(server, address, accepted, lock, stop):
    def worker(t):
        s = None
        for n in range(PER_SESSION):
            if stop.is_set():
                return
            mid = "<crash-%d-%d@test>" % (t, n)
            try:
                # Half the sessions reconnect for every message (as internet
                # senders do), half send many per connection.
                if s is None or t % 2 == 0:
                    if s is not None:
                        s.quit()
                    s = smtplib.SMTP("127.0.0.1", server.port, timeout=20)
                    s.ehlo("burst%d" % t)
                s.sendmail("bob@shop.example", [address], message(message_id=mid, body="n=%d\r\n" % n))
            except (OSError, smtplib.SMTPException):
                return  # the server died: this message was not acknowledged
            with lock:
                accepted.append(mid.strip("<>"))

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(SESSIONS)]
    for th in threads:
        th.start()
    return threads


@case
def kill_9_during_burst_loses_and_duplicates_nothing():
    S = Server(limits={"sessions_per_client": 50})
    try:
        S.admin("user", "add", "alice", "--maildir", os.path.join(S.dir, "Maildir"))
        ch = S.channel("alice", "crash", "--kind", "open")
        S.start()

        accepted, lock, stop = [], threading.Lock(), threading.Event()
        threads = burst(S, ch["address"], accepted, lock, stop)
        deadline = time.monotonic() + BURST_TIMEOUT
        while time.monotonic() < deadline:
            with lock:
                if len(accepted) >= KILL_AFTER_ACCEPTED:
                    break
            time.sleep(0.005)
        with lock:
            at_kill = len(accepted)
        assert at_kill >= KILL_AFTER_ACCEPTED, "burst too slow: %d accepted" % at_kill
        S.kill9()
        stop.set()
        for th in threads:
            th.join(30)
        assert not any(th.is_alive() for th in threads)
        with lock:
            acked = list(accepted)
        # The kill really came in the middle of the burst.
        assert KILL_AFTER_ACCEPTED <= len(acked) < SESSIONS * PER_SESSION, len(acked)

        # Restart on the same state: recovery must not lose or repeat.
        S.start()
        events = S.events(ch["id"])
        ids = [e["message_id"] for e in events]
        assert len(ids) == len(set(ids)), "duplicated events: %d rows, %d distinct" % (len(ids), len(set(ids)))
        stored = set(ids)
        missing = [m for m in acked if m not in stored]
        assert not missing, "acknowledged but lost: %r" % missing[:5]
        by_id = {e["message_id"]: e for e in events}
        with S.db() as db:
            for mid in acked:
                ev = by_id[mid]
                assert ev["verdict"] == "accepted"
                data = S.spool(ev["message_key"])
                assert ("Message-ID: <%s>" % mid).encode() in data
                n = db.execute("SELECT count(*) FROM deliveries WHERE event_id = ?", (ev["id"],)).fetchone()[0]
                assert n == 1, (mid, n)
        # The bodies are in the database, not in files.
        assert S.spool_files() == [], S.spool_files()[:5]
        # Events beyond the acknowledged ones were committed just before the
        # kill, their 250 lost on the way: at most one per session.
        assert len(stored) - len(acked) <= SESSIONS, (len(stored), len(acked))

        # And the restarted server takes mail.
        c = Raw(S.port)
        c.reply()
        c.send("EHLO c\r\nMAIL FROM:<bob@shop.example>\r\nRCPT TO:<%s>\r\nDATA\r\n" % ch["address"])
        assert [r[0] for r in c.replies(4)] == [250, 250, 250, 354]
        c.send(message(message_id="<after@test>") + ".\r\nQUIT\r\n")
        assert [r[0] for r in c.replies(2)] == [250, 221]
        c.close()
        print("# acknowledged before kill: %d; in store after restart: %d" % (len(acked), len(stored)))
        assert S.stop() == 0
    finally:
        S.cleanup()


if __name__ == "__main__":
    sys.exit(run("smtp-crash"))
