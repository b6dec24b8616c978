# SPDX-License-Identifier: GPL-3.0-or-later
"""Helpers for the real-client tests of posternd's SMTP/LMTP ingest.

Runs the real posternd binary on 127.0.0.1 (port 0: the kernel picks a
free port, read back from posternd's "listening on" log line) in a
temporary state directory, drives it with admin commands, and prints TAP so
meson counts every case. Every wait is bounded; every process started is
stopped by its PID; temporary directories are removed.
"""

import os
import re
import resource
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import traceback

POSTERND = os.environ.get("POSTERND") or (sys.argv[1] if len(sys.argv) > 1 else None)
START_TIMEOUT = 20  # seconds for posternd to say it listens
DOMAIN = "ch.test"


def fail_setup(message):
    print("Bail out! " + message)
    sys.exit(1)


if not POSTERND or not os.access(POSTERND, os.X_OK):
    fail_setup("POSTERND must name the posternd binary")


class Server:
    """One posternd with its own state directory and configuration."""

    def __init__(self, limits=None, tls=False, lmtp=True, extra="", nofile=None, env=None, listen="127.0.0.1:0"):
        self.dir = tempfile.mkdtemp(prefix="postern-smtp-test-")
        self.state = os.path.join(self.dir, "state")
        self.conf = os.path.join(self.dir, "posternd.conf")
        self.lmtp_path = os.path.join(self.dir, "lmtp.sock")
        self.proc = None
        self.port = None
        self.nofile = nofile  # RLIMIT_NOFILE of the daemon, when set
        self.env = env  # variables to set in the daemon's environment
        self.log = []
        self.log_lock = threading.Lock()
        lines = [
            "[server]",
            "state_dir=" + self.state,
            "domains=%s;other.test" % DOMAIN,
            "hostname=mx.test",
            "[smtp]",
            "listen=" + listen,  # the first must be 127.0.0.1:0 (self.port)
        ]
        if lmtp:
            lines += ["[lmtp]", "listen=unix:" + self.lmtp_path]
        if tls:
            self.cert = os.path.join(self.dir, "cert.pem")
            self.key = os.path.join(self.dir, "key.pem")
            make_certificate(self.cert, self.key)
            lines += ["[tls]", "certificate=" + self.cert, "key=" + self.key]
        # The HTTPS API starts with posternd: give it a free port too.
        lines += ["[api]", "listen=127.0.0.1:0"]
        # Ingest tests read the spool: keep the delivery queue from
        # delivering (and collecting) it. test-delivery sets paused=false.
        lines += ["[delivery]", "paused=true"]
        lines += ["[limits]"]
        for key, value in (limits or {}).items():
            lines.append("%s=%s" % (key, value))
        with open(self.conf, "w") as f:
            f.write("\n".join(lines) + "\n" + extra)

    # -- admin commands --

    def admin(self, *args, check=True, config=None):
        r = subprocess.run([POSTERND, "--config", config or self.conf] + list(args),
                           capture_output=True, text=True, timeout=30)
        if check and r.returncode != 0:
            raise AssertionError("posternd %s failed (%d): %s" % (" ".join(args), r.returncode, r.stderr))
        return r

    def channel(self, user, local, *options):
        out = self.admin("channel", "add", user, "--local-part", local, *options).stdout
        fields = out.strip().split("\t")
        return {"address": fields[0], "id": fields[1]}

    # -- process --

    def start(self):
        self.log = []
        limit = None
        if self.nofile is not None:
            def limit():
                resource.setrlimit(resource.RLIMIT_NOFILE, (self.nofile, self.nofile))
        self.proc = subprocess.Popen([POSTERND, "--config", self.conf, "run"],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, text=True, preexec_fn=limit,
                                     env=dict(os.environ, **(self.env or {})))
        ready = threading.Event()

        def reader(proc):
            for line in proc.stderr:
                with self.log_lock:
                    self.log.append(line.rstrip("\n"))
                m = re.search(r"smtp listening on 127\.0\.0\.1:(\d+)", line)
                if m:
                    self.port = int(m.group(1))
                if "ready (state in" in line:
                    ready.set()
            ready.set()

        threading.Thread(target=reader, args=(self.proc,), daemon=True).start()
        if not ready.wait(START_TIMEOUT) or self.proc.poll() is not None or self.port is None:
            self.stop()
            raise AssertionError("posternd did not start:\n" + "\n".join(self.log))

    def kill9(self):
        if self.proc is not None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
            self.proc = None

    def stop(self):
        if self.proc is not None:
            if self.proc.poll() is None:
                os.kill(self.proc.pid, signal.SIGTERM)
                try:
                    self.proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    os.kill(self.proc.pid, signal.SIGKILL)
                    self.proc.wait(timeout=10)
            status = self.proc.returncode
            self.proc = None
            return status
        return 0

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    # -- store --

    def db(self):
        conn = sqlite3.connect(os.path.join(self.state, "posternd.sqlite"), timeout=10)
        conn.row_factory = sqlite3.Row
        return conn

    def events(self, channel_id=None):
        with self.db() as conn:
            if channel_id is None:
                return conn.execute("SELECT * FROM events ORDER BY id").fetchall()
            return conn.execute("SELECT * FROM events WHERE channel_id = ? ORDER BY id", (channel_id,)).fetchall()

    def spool(self, key):
        """The body kept under key: from the messages table (schema 3), else
        from the spool file an older database kept. KeyError when gone."""
        with self.db() as conn:
            row = conn.execute("SELECT data FROM messages WHERE key = ?", (key,)).fetchone()
        if row is not None:
            return bytes(row[0])
        try:
            with open(os.path.join(self.state, "spool", key), "rb") as f:
                return f.read()
        except FileNotFoundError:
            raise KeyError(key) from None

    def has_body(self, key):
        try:
            self.spool(key)
        except KeyError:
            return False
        return True

    def spool_files(self):
        """Names in the spool directory (new bodies never go there)."""
        return os.listdir(os.path.join(self.state, "spool"))

    def logs(self):
        with self.log_lock:
            return list(self.log)


def make_certificate(cert, key):
    if shutil.which("openssl") is None:
        fail_setup("openssl is needed to make the test certificate")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-subj", "/CN=mx.test", "-days", "1", "-keyout", key, "-out", cert],
                   check=True, capture_output=True, timeout=60)


class Raw:
    """A plain socket client for what smtplib will not send (bare LF,
    pipelined batches, over-long lines, LMTP replies per recipient)."""

    def __init__(self, port=None, path=None, timeout=15, rcvbuf=None):
        """rcvbuf: a receive buffer (TCP: window) set before connecting."""
        if path is not None:
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        else:
            self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf is not None:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(timeout)
        self.sock.connect(path if path is not None else ("127.0.0.1", port))
        self.buf = b""

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def reply(self):
        """One whole reply (all its lines); returns (code, text)."""
        lines = []
        while True:
            while b"\r\n" not in self.buf:
                chunk = self.sock.recv(65536)
                if not chunk:
                    raise EOFError("connection closed; got %r" % (lines,))
                self.buf += chunk
            line, self.buf = self.buf.split(b"\r\n", 1)
            lines.append(line.decode("ascii", "replace"))
            if len(line) < 4 or line[3:4] != b"-":
                return int(lines[-1][:3]), "\n".join(lines)

    def replies(self, n):
        return [self.reply() for _ in range(n)]

    def closed(self):
        """True when the server closed the connection (after what is buffered)."""
        try:
            chunk = self.sock.recv(1)
        except (ConnectionResetError, socket.timeout):
            return False
        return chunk == b""

    def close(self):
        self.sock.close()


def message(subject="test", sender="bob@shop.example", body="Hello.\r\n", message_id=None, extra=""):
    mid = message_id or "<%s@test>" % time.monotonic_ns()
    return ("From: %s\r\nTo: someone\r\nSubject: %s\r\nMessage-ID: %s\r\n%s\r\n%s"
            % (sender, subject, mid, extra, body))


# -- TAP --

_tests = []


def case(fn):
    _tests.append(fn)
    return fn


def run(unit):
    print("1..%d" % len(_tests))
    failed = 0
    for n, fn in enumerate(_tests, 1):
        name = "/postern/server/%s/%s" % (unit, fn.__name__.replace("_", "-"))
        try:
            start = time.monotonic()
            fn()
            print("ok %d %s # %.1fs" % (n, name, time.monotonic() - start))
        except Exception:
            failed += 1
            print("not ok %d %s" % (n, name))
            for line in traceback.format_exc().splitlines():
                print("# " + line)
        sys.stdout.flush()
    return 1 if failed else 0
