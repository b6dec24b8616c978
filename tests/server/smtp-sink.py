#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""A small SMTP server for posternd's delivery tests: the smarthost.

Standard library only (CI has no aiosmtpd). Listens on 127.0.0.1, writes
its port to --port-file once it listens, and records every message it
accepts as two files in --dir: N.eml (the message text as received,
dot-unstuffed) and N.json (envelope, TLS, AUTH user), each written under a
temporary name and renamed, so a reader never sees half a message.

STARTTLS with --cert/--key; --require-tls refuses MAIL before it.
AUTH PLAIN and LOGIN with --auth USER:PASSWORD (offered after STARTTLS
when TLS is available); then MAIL needs a successful AUTH.

Its answers can be changed while it runs: --control names a file read at
every command, lines `STAGE=REPLY` with STAGE one of connect, mail, rcpt,
rcpt:ADDRESS (that recipient only), data (after the final dot), for example
`rcpt:owner@real.test=550 5.1.1 No such user`; `data-delay=SECONDS` waits
that long before answering the final dot (a slow smarthost).
A missing file or stage means the usual 2xx.
"""

import argparse
import base64
import json
import os
import socket
import socketserver
import ssl
import sys
import threading
import time

MAX_LINE = 4096
MAX_MESSAGE = 64 * 1024 * 1024
IDLE_TIMEOUT = 60


class Sink(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, args):
        self.args = args
        self.counter = 0
        self.lock = threading.Lock()
        self.tls = None
        if args.cert:
            self.tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            self.tls.load_cert_chain(args.cert, args.key)
        super().__init__(("127.0.0.1", args.port), Session)

    def control(self, stage):
        if not self.args.control:
            return None
        try:
            with open(self.args.control) as f:
                for line in f:
                    key, _, value = line.strip().partition("=")
                    if key == stage and value:
                        return value
        except FileNotFoundError:
            pass
        return None

    def record(self, envelope, data):
        with self.lock:
            self.counter += 1
            n = self.counter
        base = os.path.join(self.args.dir, "%06d" % n)
        for suffix, content in ((".eml", data), (".json", json.dumps(envelope).encode())):
            tmp = base + suffix + ".tmp"
            with open(tmp, "wb") as f:
                f.write(content)
            os.rename(tmp, base + suffix)
        return n


class Session(socketserver.StreamRequestHandler):
    timeout = IDLE_TIMEOUT

    def reply(self, text):
        self.wfile.write((text + "\r\n").encode())
        self.wfile.flush()

    def readline(self):
        line = self.rfile.readline(MAX_LINE + 1)
        if not line:
            raise EOFError()
        if len(line) > MAX_LINE:
            raise EOFError()
        return line.rstrip(b"\r\n").decode("utf-8", "replace")

    def handle(self):
        try:
            self.run()
        except (EOFError, ConnectionError, ssl.SSLError, socket.timeout, OSError):
            pass

    def run(self):
        sink = self.server
        self.tls_active = False
        self.user = None
        self.reset()
        forced = sink.control("connect")
        if forced:
            self.reply(forced)
            return
        self.reply("220 sink.test ESMTP test sink")
        while True:
            line = self.readline()
            verb, _, arg = line.partition(" ")
            verb = verb.upper()
            if verb in ("EHLO", "HELO"):
                self.reset()
                self.helo = arg
                if verb == "HELO":
                    self.reply("250 sink.test")
                    continue
                ext = ["sink.test", "PIPELINING", "SIZE %d" % MAX_MESSAGE, "8BITMIME"]
                if sink.tls is not None and not self.tls_active:
                    ext.append("STARTTLS")
                if sink.args.auth and (self.tls_active or sink.tls is None):
                    ext.append("AUTH PLAIN LOGIN")
                for e in ext[:-1]:
                    self.reply("250-" + e)
                self.reply("250 " + ext[-1])
            elif verb == "STARTTLS":
                if sink.tls is None or self.tls_active:
                    self.reply("502 5.5.1 STARTTLS not available")
                    continue
                self.reply("220 2.0.0 Ready to start TLS")
                self.request = sink.tls.wrap_socket(self.connection, server_side=True)
                self.connection = self.request
                self.rfile = self.connection.makefile("rb")
                self.wfile = self.connection.makefile("wb")
                self.tls_active = True
                self.reset()
            elif verb == "AUTH":
                self.auth(arg)
            elif verb == "MAIL":
                if sink.args.require_tls and not self.tls_active:
                    self.reply("530 5.7.0 Must issue a STARTTLS command first")
                    continue
                if sink.args.auth and self.user is None:
                    self.reply("530 5.7.0 Authentication required")
                    continue
                forced = sink.control("mail")
                if forced:
                    self.reply(forced)
                    continue
                self.mail_from = addr(arg[5:] if arg.upper().startswith("FROM:") else arg)
                self.rcpts = []
                self.reply("250 2.1.0 OK")
            elif verb == "RCPT":
                if self.mail_from is None:
                    self.reply("503 5.5.1 Need MAIL")
                    continue
                rcpt = addr(arg[3:] if arg.upper().startswith("TO:") else arg)
                forced = sink.control("rcpt:" + rcpt) or sink.control("rcpt")
                if forced:
                    self.reply(forced)
                    continue
                self.rcpts.append(rcpt)
                self.reply("250 2.1.5 OK")
            elif verb == "DATA":
                if not self.rcpts:
                    self.reply("503 5.5.1 Need RCPT")
                    continue
                self.reply("354 End data with <CR><LF>.<CR><LF>")
                data = self.read_data()
                delay = sink.control("data-delay")
                if delay:
                    time.sleep(min(float(delay), IDLE_TIMEOUT))
                forced = sink.control("data")
                if forced:
                    self.reply(forced)
                else:
                    envelope = {"mail_from": self.mail_from, "rcpt_to": self.rcpts, "helo": self.helo,
                                "tls": self.tls_active, "auth": self.user}
                    n = sink.record(envelope, data)
                    self.reply("250 2.0.0 OK queued as %d" % n)
                self.reset()
            elif verb == "RSET":
                self.reset()
                self.reply("250 2.0.0 OK")
            elif verb == "NOOP":
                self.reply("250 2.0.0 OK")
            elif verb == "QUIT":
                self.reply("221 2.0.0 Bye")
                return
            else:
                self.reply("502 5.5.1 Command not implemented")

    def reset(self):
        self.mail_from = None
        self.rcpts = []
        if not hasattr(self, "helo"):
            self.helo = None

    def read_data(self):
        out = bytearray()
        while True:
            line = self.rfile.readline(MAX_LINE * 16)
            if not line:
                raise EOFError()
            if line == b".\r\n":
                return bytes(out)
            if line.startswith(b"."):
                line = line[1:]
            out += line
            if len(out) > MAX_MESSAGE:
                raise EOFError()

    def auth(self, arg):
        sink = self.server
        if not sink.args.auth or (sink.tls is not None and not self.tls_active):
            self.reply("503 5.5.1 AUTH not available")
            return
        want_user, _, want_password = sink.args.auth.partition(":")
        mech, _, initial = arg.partition(" ")
        mech = mech.upper()
        try:
            if mech == "PLAIN":
                if not initial:
                    self.reply("334 ")
                    initial = self.readline()
                _, user, password = base64.b64decode(initial).decode().split("\0")
            elif mech == "LOGIN":
                if initial:
                    user = base64.b64decode(initial).decode()
                else:
                    self.reply("334 " + base64.b64encode(b"Username:").decode())
                    user = base64.b64decode(self.readline()).decode()
                self.reply("334 " + base64.b64encode(b"Password:").decode())
                password = base64.b64decode(self.readline()).decode()
            else:
                self.reply("504 5.5.4 Unrecognized authentication type")
                return
        except (ValueError, UnicodeDecodeError):
            self.reply("501 5.5.2 Cannot decode")
            return
        if user == want_user and password == want_password:
            self.user = user
            self.mech = mech
            self.reply("235 2.7.0 Authentication successful")
        else:
            self.reply("535 5.7.8 Authentication credentials invalid")


def addr(text):
    text = text.strip()
    if text.startswith("<"):
        return text[1:text.index(">")] if ">" in text else text[1:]
    return text.split(" ")[0]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--port-file", required=True)
    p.add_argument("--dir", required=True)
    p.add_argument("--cert")
    p.add_argument("--key")
    p.add_argument("--require-tls", action="store_true")
    p.add_argument("--auth")
    p.add_argument("--control")
    args = p.parse_args()
    os.makedirs(args.dir, exist_ok=True)
    server = Sink(args)
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % server.server_address[1])
    os.rename(tmp, args.port_file)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
