#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""posternd's delivery queue against a test smarthost (smtp-sink.py) on
127.0.0.1: forwarded headers and byte-exact bodies, STARTTLS and AUTH,
retries while the smarthost is down (then exactly one copy), a 5xx that
ends in a DSN to the sender, restart and kill -9 with mail queued, held
mail released and dropped with the admin command, and bounces to the
signed envelope sender. TAP output; every wait bounded; every process
stopped by its PID."""

import email
import email.header
import email.policy
import os
import re
import shutil
import signal
import smtplib
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from smtp_harness import Raw, Server, case, fail_setup, message, run  # noqa: E402

SINK = os.path.join(HERE, "smtp-sink.py")
PYTHON = "/usr/bin/python3"
OWNER = "owner@real.test"
WAIT = 30  # seconds for anything the queue should do "soon"

if shutil.which("openssl") is None:
    fail_setup("openssl is needed to make the test certificates")


def wait_for(predicate, what, timeout=WAIT):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("timed out waiting for " + what)


class Sink:
    """The test smarthost: smtp-sink.py in its own process."""

    def __init__(self, tls=False, require_tls=False, auth=None):
        self.dir = tempfile.mkdtemp(prefix="postern-sink-test-")
        self.messages_dir = os.path.join(self.dir, "messages")
        self.port_file = os.path.join(self.dir, "port")
        self.control = os.path.join(self.dir, "control")
        self.proc = None
        self.port = 0
        self.args = ["--dir", self.messages_dir, "--control", self.control]
        if tls:
            self.cert = os.path.join(self.dir, "cert.pem")
            key = os.path.join(self.dir, "key.pem")
            subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                            "-nodes", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
                            "-days", "1", "-keyout", key, "-out", self.cert],
                           check=True, capture_output=True, timeout=60)
            self.args += ["--cert", self.cert, "--key", key]
        if require_tls:
            self.args.append("--require-tls")
        if auth:
            self.args += ["--auth", auth]

    def start(self):
        if os.path.exists(self.port_file):
            os.unlink(self.port_file)
        self.proc = subprocess.Popen([PYTHON, SINK, "--port", str(self.port), "--port-file", self.port_file] + self.args,
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        wait_for(lambda: os.path.exists(self.port_file) or self.proc.poll() is not None, "the sink to listen", 15)
        if self.proc.poll() is not None:
            raise AssertionError("smtp-sink died: " + self.proc.stderr.read().decode())
        with open(self.port_file) as f:
            self.port = int(f.read())

    def stop(self):
        if self.proc is not None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
            self.proc.stderr.close()
            self.proc = None

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def set_control(self, text):
        with open(self.control + ".tmp", "w") as f:
            f.write(text)
        os.rename(self.control + ".tmp", self.control)

    def messages(self):
        """[(envelope dict, bytes)] in arrival order."""
        import json
        out = []
        if not os.path.isdir(self.messages_dir):
            return out
        for name in sorted(os.listdir(self.messages_dir)):
            if name.endswith(".json"):
                base = os.path.join(self.messages_dir, name[:-5])
                with open(base + ".json") as f:
                    envelope = json.load(f)
                with open(base + ".eml", "rb") as f:
                    out.append((envelope, f.read()))
        return out


def delivery_config(sink, tls="none", extra=""):
    return ("[delivery]\npaused=false\nsmarthost=127.0.0.1\nport=%d\ntls=%s\nretry_base=1\nretry_max=2\nconcurrency=2\n%s"
            % (sink.port, tls, extra))


def setup(tls=False, require_tls=False, auth=None, posternd_tls="none", extra="", start_sink=True, label="Recruiter"):
    """A sink and a posternd forwarding alice's mail to it."""
    sink = Sink(tls=tls, require_tls=require_tls, auth=auth)
    sink.start()
    if not start_sink:
        sink.stop()  # keeps its port for a later start
    S = Server(extra=delivery_config(sink, posternd_tls, extra))
    S.admin("user", "add", "alice", "--forward-to", OWNER)
    ch = S.channel("alice", "rec", "--kind", "open", "--label", label)
    return S, sink, ch


def send(port, sender, rcpts, data):
    with smtplib.SMTP("127.0.0.1", port, timeout=20) as s:
        s.ehlo("client.test")
        refused = s.sendmail(sender, rcpts, data.encode() if isinstance(data, str) else data)
        assert not refused, refused


def deliveries(S):
    with S.db() as db:
        return [dict(r) for r in db.execute("SELECT * FROM deliveries ORDER BY id")]


def queue_list(S):
    out = S.admin("queue", "list").stdout
    return [line.split("\t") for line in out.splitlines() if line]


def header_value(data, name):
    msg = email.message_from_bytes(data, policy=email.policy.compat32)
    value = msg.get(name)
    if value is None:
        return None
    return str(email.header.make_header(email.header.decode_header(value)))


BODY = ("First line\r\n"
        ".A line that starts with a dot\r\n"
        "..two dots\r\n"
        "Trailing spaces   \r\n"
        "\tA tab\r\n"
        "\r\n"
        "Caf\xe9 8-bit: \xe4\xf6\xfc\r\n"
        "x" * 990 + "\r\n"
        ".\r\n"  # smtplib stuffs it; posternd must give it back as sent
        "Last line\r\n")


@case
def forwarded_mail_has_our_headers_and_the_exact_message():
    S, sink, ch = setup(label="Récruiter at FOSDEM — Jane")
    try:
        S.start()
        original = ("DKIM-Signature: v=1; a=rsa-sha256; d=shop.example; s=s1;\r\n"
                    "\th=from:to:subject; bh=abc=; b=def=\r\n"
                    "From: Bob <bob@shop.example>\r\nTo: rec@ch.test\r\nSubject: Hello there\r\n"
                    "Message-ID: <exact-1@shop.example>\r\n\r\n" + BODY).encode("latin-1")
        send(S.port, "bob@shop.example", [ch["address"]], original)
        got = wait_for(lambda: sink.messages(), "the forwarded message")
        assert len(got) == 1, len(got)
        envelope, data = got[0]
        assert envelope["rcpt_to"] == [OWNER], envelope
        assert envelope["helo"] == "mx.test", envelope
        assert re.fullmatch(r"bounce\+\d+\.[0-9a-z]+\.[0-9a-f]{20}@ch\.test", envelope["mail_from"]), envelope
        # Ours on top, then posternd's Received:, then the client's bytes.
        assert data.startswith(b"X-Postern-Channel: "), data[:200]
        assert header_value(data, "X-Postern-Channel") == "Récruiter at FOSDEM — Jane", header_value(data, "X-Postern-Channel")
        assert header_value(data, "X-Postern-Verdict") == "accepted"
        head = data[:data.index(b"DKIM-Signature:")]
        assert head.count(b"\r\nReceived: from client.test") == 1, head
        assert b"by mx.test (Postern)" in head and b"for <rec@ch.test>" in head, head
        assert all(b < 128 for b in head), "our header fields must be ASCII"
        assert b"\n" not in head.replace(b"\r\n", b""), "bare LF in our header fields"
        assert data.endswith(original), "the original message changed on the way"
        # Results are recorded in batches, a moment after the sink's 250.
        row = wait_for(lambda: deliveries(S)[0]["state"] == "done" and deliveries(S)[0], "the row done")
        assert row["attempts"] == 1, row
        assert S.stop() == 0
    finally:
        sink.cleanup()
        S.cleanup()


@case
def starttls_and_auth_with_the_smarthost():
    S, sink, ch = setup(tls=True, require_tls=True, auth="relay-user:s3cret pass", posternd_tls="required")
    try:
        password = os.path.join(S.dir, "password")
        with open(password, "w") as f:
            f.write("s3cret pass\n")
        os.chmod(password, 0o600)
        with open(S.conf, "a") as f:
            f.write("ca_file=%s\nusername=relay-user\npassword_file=%s\n" % (sink.cert, password))
        S.start()
        send(S.port, "bob@shop.example", [ch["address"]], message(subject="over TLS"))
        envelope, data = wait_for(lambda: sink.messages(), "the message over TLS")[0]
        assert envelope["tls"] is True, envelope
        assert envelope["auth"] == "relay-user", envelope
        assert header_value(data, "Subject") == "over TLS"
        assert not any("s3cret" in line for line in S.logs()), "the password reached the log"
        S.stop()

        # A password file others can read: posternd refuses to start.
        os.chmod(password, 0o644)
        r = subprocess.run([sys.argv[1], "--config", S.conf, "run"], capture_output=True, text=True, timeout=30)
        assert r.returncode != 0 and "password_file" in r.stderr, (r.returncode, r.stderr)
    finally:
        sink.cleanup()
        S.cleanup()


@case
def opportunistic_tls_encrypts_without_verifying():
    # A self-signed certificate and no ca_file: opportunistic TLS takes it.
    S, sink, ch = setup(tls=True, posternd_tls="opportunistic")
    try:
        S.start()
        send(S.port, "bob@shop.example", [ch["address"]], message(subject="opportunistic"))
        envelope, _ = wait_for(lambda: sink.messages(), "the message")[0]
        assert envelope["tls"] is True, envelope
        assert S.stop() == 0
    finally:
        sink.cleanup()
        S.cleanup()


@case
def stop_during_a_slow_transfer_keeps_the_message():
    S, sink, ch = setup()
    try:
        sink.set_control("data-delay=20\n")
        S.start()
        send(S.port, "bob@shop.example", [ch["address"]], message(message_id="<slow@test>"))
        # The attempt is under way (leased: next attempt 15 minutes out).
        wait_for(lambda: any(int(r[6]) > time.time() + 600 for r in queue_list(S)), "the attempt to start")
        time.sleep(1)
        t0 = time.monotonic()
        assert S.stop() == 0
        assert time.monotonic() - t0 < 10, "posternd took %.1f s to stop" % (time.monotonic() - t0)
        row = deliveries(S)[0]
        assert row["state"] == "pending" and "interrupted" in row["last_error"], row
        assert row["next_attempt_at"] <= time.time() + 1, row
        sink.set_control("")
        S.start()
        wait_for(lambda: deliveries(S)[0]["state"] == "done", "delivery after the restart")
        # At least once; the aborted attempt may have got through too.
        ids = [header_value(d, "Message-ID") for _, d in sink.messages()]
        assert 1 <= ids.count("<slow@test>") <= 2, ids
        assert S.stop() == 0
    finally:
        sink.cleanup()
        S.cleanup()


@case
def kill_9_during_a_slow_transfer_resumes_at_once_after_a_restart():
    # The lease of a killed posternd must not delay the retry: a restart
    # releases it, and the message arrives in seconds, not 15 minutes.
    S, sink, ch = setup()
    try:
        sink.set_control("data-delay=30\n")
        S.start()
        send(S.port, "bob@shop.example", [ch["address"]], message(message_id="<interrupted@test>"))
        # The attempt is under way: the row is leased (its lease ends in 15 minutes).
        wait_for(lambda: any(int(r[6]) > time.time() + 600 for r in queue_list(S)), "the attempt to start")
        time.sleep(1)  # the sink has the whole message and sits on its final dot
        S.kill9()
        row = deliveries(S)[0]
        assert row["state"] == "pending" and row["attempts"] == 0, row
        sink.set_control("")
        t0 = time.monotonic()
        S.start()
        # Well under the 15-minute lease.
        wait_for(lambda: deliveries(S)[0]["state"] == "done", "delivery after the restart", timeout=20)
        elapsed = time.monotonic() - t0
        ids = [header_value(d, "Message-ID") for _, d in sink.messages()]
        # Exactly the restarted attempt's copy so far: the interrupted
        # transfer is still in the sink's 30 s delay.
        assert ids.count("<interrupted@test>") == 1, ids
        assert elapsed < 20, "took %.1f s after the restart" % elapsed
        # Never more than twice: once from the restarted attempt, once more
        # if the sink completes the interrupted transfer (it had the whole
        # message when posternd died; at least once means it may repeat).
        time.sleep(2)
        ids = [header_value(d, "Message-ID") for _, d in sink.messages()]
        assert 1 <= ids.count("<interrupted@test>") <= 2, ids
        row = deliveries(S)[0]
        assert row["state"] == "done" and row["attempts"] == 1, row
        assert S.stop() == 0
    finally:
        sink.cleanup()
        S.cleanup()


@case
def required_tls_never_falls_back_to_clear_text():
    # The sink offers no STARTTLS: with tls=required nothing may be sent.
    S, sink, ch = setup(posternd_tls="required")
    try:
        S.start()
        send(S.port, "bob@shop.example", [ch["address"]], message(subject="must wait"))
        wait_for(lambda: any(int(r[4]) >= 2 for r in queue_list(S)), "two failed attempts")
        assert sink.messages() == [], "sent in clear text"
        row = queue_list(S)[0]
        assert row[2] == "smtp" and row[8] != "-", row
        assert S.stop() == 0
    finally:
        sink.cleanup()
        S.cleanup()


@case
def smarthost_down_mail_waits_then_arrives_exactly_once():
    S, sink, ch = setup(start_sink=False)
    try:
        S.start()
        for n in range(3):
            send(S.port, "bob@shop.example", [ch["address"]], message(message_id="<down-%d@test>" % n))
        # Tried and deferred while the smarthost is down.
        wait_for(lambda: len(queue_list(S)) == 3 and all(int(r[4]) >= 2 for r in queue_list(S)),
                 "every message tried twice")
        assert sink.messages() == []
        assert all(r["state"] == "pending" for r in deliveries(S))
        sink.start()
        wait_for(lambda: len(sink.messages()) >= 3, "the queued messages")
        wait_for(lambda: all(r["state"] == "done" for r in deliveries(S)), "every row done")
        time.sleep(3)  # longer than retry_max: a duplicate would show by now
        ids = sorted(header_value(d, "Message-ID") for _, d in sink.messages())
        assert ids == ["<down-0@test>", "<down-1@test>", "<down-2@test>"], ids
        assert queue_list(S) == []
        assert S.stop() == 0
    finally:
        sink.cleanup()
        S.cleanup()


@case
def permanent_failure_sends_a_dsn_to_the_sender():
    S, sink, ch = setup()
    try:
        sink.set_control("rcpt:%s=550 5.1.1 <%s>: Recipient address rejected: User unknown\n" % (OWNER, OWNER))
        S.start()
        original = message(subject="Will bounce", message_id="<bounce-me@shop.example>")
        send(S.port, "bob@shop.example", [ch["address"]], original)
        envelope, data = wait_for(lambda: sink.messages(), "the DSN")[0]
        assert envelope["mail_from"] == "", envelope
        assert envelope["rcpt_to"] == ["bob@shop.example"], envelope
        dsn = email.message_from_bytes(data, policy=email.policy.compat32)
        assert dsn.get_content_type() == "multipart/report", dsn.get_content_type()
        assert dsn.get_param("report-type") == "delivery-status"
        assert dsn["To"] == "<bob@shop.example>" and dsn["Auto-Submitted"] == "auto-replied"
        parts = dsn.get_payload()
        assert [p.get_content_type() for p in parts] == ["text/plain", "message/delivery-status", "text/rfc822-headers"], \
            [p.get_content_type() for p in parts]
        status = data.decode()
        assert "Final-Recipient: rfc822; %s" % ch["address"] in status, status
        assert "Action: failed" in status and "Status: 5.1.1" in status, status
        assert "Diagnostic-Code: smtp; 550 5.1.1" in status, status
        headers = parts[2].get_payload()
        assert "Subject: Will bounce" in headers and "Message-ID: <bounce-me@shop.example>" in headers, headers
        # The owner's real address is Postern's secret: not in the DSN.
        assert OWNER not in status, "the DSN reveals the owner's mailbox"
        row = wait_for(lambda: [r for r in deliveries(S) if r["state"] == "failed"], "the failed row")[0]
        assert "DSN sent" in row["last_error"], row
        time.sleep(2)
        assert len(sink.messages()) == 1, "more than one DSN"
        assert S.stop() == 0
    finally:
        sink.cleanup()
        S.cleanup()


@case
def no_dsn_to_the_null_sender_or_for_automatic_mail():
    S, sink, ch = setup()
    try:
        sink.set_control("rcpt:%s=550 5.1.1 User unknown\n" % OWNER)
        S.start()
        send(S.port, "", [ch["address"]], message(subject="a bounce itself"))
        send(S.port, "robot@shop.example", [ch["address"]],
             message(subject="vacation", extra="Auto-Submitted: auto-replied\r\n"))
        send(S.port, "bob@ch.test", [ch["address"]], message(subject="from our own domain"))
        rows = wait_for(lambda: len([r for r in deliveries(S) if r["state"] == "failed"]) == 3 and deliveries(S),
                        "three failed rows")
        reasons = sorted(r["last_error"].split("no DSN: ")[-1] for r in rows)
        assert any("null sender" in r for r in reasons), reasons
        assert any("Auto-Submitted" in r for r in reasons), reasons
        assert any("our domains" in r for r in reasons), reasons
        time.sleep(1)
        assert sink.messages() == [], "a DSN went out"
        assert S.stop() == 0
    finally:
        sink.cleanup()
        S.cleanup()


@case
def temporary_failures_until_the_lifetime_end_in_a_dsn():
    S, sink, ch = setup(extra="max_lifetime=60\n")
    try:
        sink.set_control("rcpt:%s=451 4.2.0 Try again later\n" % OWNER)
        S.start()
        send(S.port, "bob@shop.example", [ch["address"]], message(subject="will expire"))
        wait_for(lambda: any(int(r[4]) >= 2 for r in queue_list(S)), "two deferred attempts")
        # Age the row past its lifetime rather than waiting a minute.
        with S.db() as db:
            db.execute("UPDATE deliveries SET created_at = created_at - 120")
        envelope, data = wait_for(lambda: sink.messages(), "the DSN after the lifetime", timeout=WAIT)[0]
        assert envelope["mail_from"] == "" and envelope["rcpt_to"] == ["bob@shop.example"], envelope
        assert b"Status: 4.2.0" in data, data
        assert S.stop() == 0
    finally:
        sink.cleanup()
        S.cleanup()


def between_attempts(S):
    """Every row tried and waiting, none due in the next 2 s nor leased
    (a lease puts next_attempt_at 15 minutes out): no attempt is under
    way now, nor starts before we act."""
    rows = queue_list(S)
    now = time.time()
    return len(rows) == 5 and all(int(r[4]) >= 1 and now + 2 < int(r[6]) < now + 60 for r in rows)


def kill_or_restart(hard):
    S, sink, ch = setup(start_sink=False)
    try:
        # Retries 4 to 8 s apart: there are moments when none is near.
        with open(S.conf) as f:
            conf = f.read().replace("retry_base=1\nretry_max=2", "retry_base=8\nretry_max=8")
        with open(S.conf, "w") as f:
            f.write(conf)
        S.start()
        for n in range(5):
            send(S.port, "bob@shop.example", [ch["address"]], message(message_id="<queued-%d@test>" % n))
        wait_for(lambda: between_attempts(S), "five deferred rows between attempts", timeout=60)
        if hard:
            S.kill9()
        else:
            assert S.stop() == 0
        sink.start()
        time.sleep(1)
        assert sink.messages() == [], "delivered while posternd was down?"
        S.start()
        wait_for(lambda: len(sink.messages()) >= 5, "the queued messages after the restart")
        wait_for(lambda: all(r["state"] == "done" for r in deliveries(S)), "every row done")
        time.sleep(2)
        ids = sorted(header_value(d, "Message-ID") for _, d in sink.messages())
        assert ids == ["<queued-%d@test>" % n for n in range(5)], ids
        assert S.stop() == 0
    finally:
        sink.cleanup()
        S.cleanup()


@case
def restart_with_mail_in_the_queue():
    kill_or_restart(hard=False)


@case
def kill_9_with_mail_in_the_queue():
    kill_or_restart(hard=True)


@case
def held_mail_is_released_and_dropped_by_the_admin_command():
    S, sink, ch = setup()
    try:
        held = S.channel("alice", "careful", "--expect", "@friends.test", "--on-unexpected", "hold")
        S.start()
        send(S.port, "stranger@else.test", [held["address"]], message(subject="keep", sender="stranger@else.test"))
        send(S.port, "stranger@else.test", [held["address"]], message(subject="toss", sender="stranger@else.test"))
        lines = wait_for(lambda: S.admin("held", "list", "alice").stdout.splitlines() if
                         len(S.admin("held", "list", "alice").stdout.splitlines()) == 2 else None, "two held messages")
        rows = [line.split("\t") for line in lines]
        by_subject = {r[5]: r[0] for r in rows}
        assert set(by_subject) == {"keep", "toss"}, rows
        assert rows[0][2] == held["address"] and rows[0][3] == "stranger@else.test", rows
        time.sleep(1)
        assert sink.messages() == [], "held mail was delivered"

        S.admin("held", "release", "alice", by_subject["keep"])
        envelope, data = wait_for(lambda: sink.messages(), "the released message")[0]
        assert header_value(data, "Subject") == "keep"
        assert header_value(data, "X-Postern-Verdict") == "held"

        S.admin("held", "drop", "alice", by_subject["toss"])
        assert S.admin("held", "list", "alice").stdout == ""
        r = S.admin("held", "release", "alice", by_subject["toss"], check=False)
        assert r.returncode != 0, "released a dropped message"
        wait_for(lambda: sorted(r["state"] for r in deliveries(S)) == ["done", "dropped"], "done and dropped rows")
        keys = {r["message_key"] for r in deliveries(S)}
        wait_for(lambda: not any(S.has_body(k) for k in keys), "the bodies to go")
        time.sleep(1)
        assert len(sink.messages()) == 1
        assert S.stop() == 0
    finally:
        sink.cleanup()
        S.cleanup()


@case
def bounces_to_the_signed_address_are_taken_and_attributed():
    S, sink, ch = setup()
    try:
        S.start()
        send(S.port, "bob@shop.example", [ch["address"]], message(subject="relayed"))
        envelope, _ = wait_for(lambda: sink.messages(), "the forwarded message")[0]
        bounce_address = envelope["mail_from"]
        wait_for(lambda: deliveries(S)[0]["state"] == "done", "the row done")

        # A forged or altered signature is no address of ours.
        forged = re.sub(r"\.([0-9a-f]{20})@", lambda m: "." + ("0" * 20) + "@", bounce_address)
        with smtplib.SMTP("127.0.0.1", S.port, timeout=20) as s:
            s.ehlo("mx.real.test")
            s.mail("<>")
            assert s.rcpt(forged)[0] == 550
        report = ("From: MAILER-DAEMON@real.test\r\nTo: %s\r\nSubject: Undelivered\r\n"
                  "MIME-Version: 1.0\r\n"
                  "Content-Type: multipart/report; report-type=delivery-status; boundary=\"b\"\r\n\r\n"
                  "--b\r\nContent-Type: text/plain\r\n\r\nMailbox full\r\n"
                  "--b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; real.test\r\n\r\n"
                  "Final-Recipient: rfc822; %s\r\nAction: failed\r\nStatus: 5.2.2\r\n--b--\r\n"
                  % (bounce_address, OWNER))
        send(S.port, "", [bounce_address], report)
        row = wait_for(lambda: [r for r in deliveries(S) if r["state"] == "failed"], "the attributed bounce")[0]
        assert "bounced after relay" in row["last_error"] and "5.2.2" in row["last_error"], row
        # No new event, no DSN: a bounce is not mail for a channel.
        assert len(S.events()) == 1
        time.sleep(1)
        assert len(sink.messages()) == 1
        assert S.stop() == 0
    finally:
        sink.cleanup()
        S.cleanup()


@case
def bounces_come_alone_and_per_recipient_over_lmtp():
    S, sink, ch = setup()
    try:
        S.start()
        for n in range(2):
            send(S.port, "bob@shop.example", [ch["address"]], message(message_id="<two-%d@test>" % n))
        got = wait_for(lambda: len(sink.messages()) == 2 and sink.messages(), "two forwarded messages")
        bounces = [env["mail_from"] for env, _ in got]
        wait_for(lambda: all(r["state"] == "done" for r in deliveries(S)), "both rows done")
        report = ("From: MAILER-DAEMON@real.test\r\nSubject: failed\r\nMIME-Version: 1.0\r\n"
                  "Content-Type: multipart/report; report-type=delivery-status; boundary=b\r\n\r\n"
                  "--b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; real.test\r\n\r\n"
                  "Final-Recipient: rfc822; %s\r\nAction: failed\r\nStatus: 5.1.1\r\n--b--\r\n.\r\n" % OWNER)
        c = Raw(path=S.lmtp_path)
        c.reply()
        # A channel recipient and a bounce address: not in one transaction.
        c.send("LHLO mx.real.test\r\nMAIL FROM:<>\r\nRCPT TO:<%s>\r\nRCPT TO:<%s>\r\nRSET\r\n"
               % (ch["address"], bounces[0]))
        assert [r[0] for r in c.replies(5)] == [250, 250, 250, 452, 250]
        # Two bounces in one transaction: one LMTP reply each.
        c.send("MAIL FROM:<>\r\nRCPT TO:<%s>\r\nRCPT TO:<%s>\r\nDATA\r\n" % (bounces[0], bounces[1]))
        assert [r[0] for r in c.replies(4)] == [250, 250, 250, 354]
        c.send(report + "QUIT\r\n")
        assert [r[0] for r in c.replies(3)] == [250, 250, 221]
        c.close()
        rows = deliveries(S)
        assert all(r["state"] == "failed" and "5.1.1" in r["last_error"] for r in rows), rows
        assert S.stop() == 0
    finally:
        sink.cleanup()
        S.cleanup()


@case
def maildir_and_forward_both_delivered_then_spool_collected():
    S, sink, ch = setup()
    try:
        maildir = os.path.join(S.dir, "Maildir")
        S.admin("user", "add", "dora", "--maildir", maildir, "--forward-to", "dora@real.test")
        both = S.channel("dora", "both", "--kind", "open")
        S.start()
        send(S.port, "bob@shop.example", [both["address"], ch["address"]], message(subject="to two owners"))
        wait_for(lambda: len(sink.messages()) == 2, "two forwarded copies")
        new = os.path.join(maildir, "new")
        wait_for(lambda: os.path.isdir(new) and len(os.listdir(new)) == 1, "the Maildir copy")
        rows = wait_for(lambda: all(r["state"] == "done" for r in deliveries(S)) and deliveries(S), "three rows done")
        assert sorted(r["target"] for r in rows) == ["maildir", "smtp", "smtp"], rows
        assert len({r["message_key"] for r in rows}) == 1, "one body for every row"
        key = rows[0]["message_key"]
        wait_for(lambda: not S.has_body(key), "the body to go")
        assert S.spool_files() == [], "a body was written as a spool file"
        assert sorted(env["rcpt_to"][0] for env, _ in sink.messages()) == ["dora@real.test", OWNER]
        assert S.stop() == 0
    finally:
        sink.cleanup()
        S.cleanup()


def delivery_thread_switches(S):
    """Voluntary context switches of posternd's delivery thread so far."""
    for tid in os.listdir("/proc/%d/task" % S.proc.pid):
        with open("/proc/%d/task/%s/comm" % (S.proc.pid, tid)) as f:
            if f.read().strip() != "pd-delivery":
                continue
        with open("/proc/%d/task/%s/status" % (S.proc.pid, tid)) as f:
            for line in f:
                if line.startswith("voluntary_ctxt_switches:"):
                    return int(line.split()[1])
    raise AssertionError("no pd-delivery thread in posternd")


@case
def an_idle_queue_sleeps_until_the_next_attempt_or_a_flush():
    S, sink, ch = setup(start_sink=False)
    try:
        with open(S.conf) as f:
            conf = f.read().replace("retry_base=1\nretry_max=2", "retry_base=1h\nretry_max=1h")
        with open(S.conf, "w") as f:
            f.write(conf)
        S.start()
        time.sleep(1)
        before = delivery_thread_switches(S)
        time.sleep(3)
        assert delivery_thread_switches(S) == before, "the delivery thread woke up with nothing to do"
        # A row that failed once waits for its retry, half an hour to an
        # hour out: the thread sleeps until then rather than polling.
        send(S.port, "bob@shop.example", [ch["address"]], message(message_id="<flushed@test>"))
        wait_for(lambda: any(int(r[4]) == 1 and int(r[6]) > time.time() + 1000 for r in queue_list(S)) and
                 all(int(r[6]) < time.time() + 3700 for r in queue_list(S)), "the deferred row")
        time.sleep(1)
        before = delivery_thread_switches(S)
        time.sleep(3)
        assert delivery_thread_switches(S) == before, "the delivery thread polls while it waits"
        # The smarthost is back: `queue flush` rather than an hour's wait.
        sink.start()
        assert S.admin("queue", "flush").stdout.strip() == "1 deliveries due now"
        envelope, data = wait_for(lambda: sink.messages(), "the flushed message")[0]
        assert header_value(data, "Message-ID") == "<flushed@test>"
        assert S.stop() == 0
    finally:
        sink.cleanup()
        S.cleanup()


@case
def maildir_target_gets_our_headers():
    S, sink, ch = setup()
    try:
        maildir = os.path.join(S.dir, "Maildir")
        S.admin("user", "add", "carol", "--maildir", maildir)
        mine = S.channel("carol", "local", "--kind", "open", "--label", "Shop")
        S.start()
        send(S.port, "bob@shop.example", [mine["address"]], message(subject="to the maildir"))
        new = os.path.join(maildir, "new")
        files = wait_for(lambda: os.path.isdir(new) and os.listdir(new), "the Maildir file")
        with open(os.path.join(new, files[0]), "rb") as f:
            data = f.read()
        assert data.startswith(b"X-Postern-Channel: Shop\nX-Postern-Verdict: accepted\nReceived: "), data[:120]
        assert sink.messages() == []
        assert S.stop() == 0
    finally:
        sink.cleanup()
        S.cleanup()


if __name__ == "__main__":
    sys.exit(run("delivery"))
