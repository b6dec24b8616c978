#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""The Python peers of bench/smtp/run.sh: an aiosmtpd server writing each
message to SQLite WAL with synchronous=NORMAL (not durable per message).

  aiosmtpd-sqlite.py bare|simplelogin PORT DATABASE

simplelogin: shaped like SimpleLogin's email_handler.py on its forward path,
without its SMTP relay and DKIM signing: message_from_bytes, the Alias by
address, the Contact by the header From (created on first sight), an
EmailLog row with the body, commit. posternd does the same work per message
(header parse, channel lookup, a verdict on the sender, an event row with
the body).

bare: no parsing and no lookup, one row of raw bytes per recipient; the
floor for any Python handler, not a design anyone runs.
"""

import asyncio
import email
import email.utils
import sqlite3
import sys
import time

from aiosmtpd.controller import Controller

SCHEMA = """
CREATE TABLE IF NOT EXISTS events (id INTEGER PRIMARY KEY, t REAL, sender TEXT, rcpt TEXT, size INTEGER, body BLOB);
CREATE TABLE IF NOT EXISTS alias (id INTEGER PRIMARY KEY, email TEXT NOT NULL UNIQUE, user_id INTEGER NOT NULL,
                                  enabled INTEGER NOT NULL DEFAULT 1);
CREATE TABLE IF NOT EXISTS contact (id INTEGER PRIMARY KEY, alias_id INTEGER NOT NULL, website_email TEXT NOT NULL,
                                    name TEXT, UNIQUE (alias_id, website_email));
CREATE TABLE IF NOT EXISTS email_log (id INTEGER PRIMARY KEY, user_id INTEGER, alias_id INTEGER, contact_id INTEGER,
                                      mail_from TEXT, subject TEXT, message_id TEXT, size INTEGER, blocked INTEGER,
                                      body BLOB, created_at REAL);
INSERT OR IGNORE INTO alias (email, user_id) VALUES ('bench@bench.test', 1);
"""


def store_bare(db, envelope):
    for rcpt in envelope.rcpt_tos:
        db.execute("INSERT INTO events (t, sender, rcpt, size, body) VALUES (?, ?, ?, ?, ?)",
                   (time.time(), envelope.mail_from, rcpt, len(envelope.content), envelope.content))
    return "250 OK"


def store_simplelogin(db, envelope):
    msg = email.message_from_bytes(envelope.original_content)
    name, sender = email.utils.parseaddr(str(msg.get("From", "")))
    status = "250 Message accepted for delivery"
    for rcpt in envelope.rcpt_tos:
        alias = db.execute("SELECT id, user_id, enabled FROM alias WHERE email = ?", (rcpt.lower(),)).fetchone()
        if alias is None:
            status = "550 5.1.1 Unknown alias"
            continue
        row = db.execute("SELECT id FROM contact WHERE alias_id = ? AND website_email = ?", (alias[0], sender)).fetchone()
        contact = row[0] if row else db.execute("INSERT INTO contact (alias_id, website_email, name) VALUES (?, ?, ?)",
                                                (alias[0], sender, name)).lastrowid
        db.execute("INSERT INTO email_log (user_id, alias_id, contact_id, mail_from, subject, message_id, size, blocked,"
                   " body, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                   (alias[1], alias[0], contact, envelope.mail_from, str(msg.get("Subject", "")),
                    str(msg.get("Message-ID", "")), len(envelope.original_content), 0 if alias[2] else 1,
                    envelope.original_content, time.time()))
    return status


class Handler:
    def __init__(self, db, store):
        self.db = db
        self.store = store

    async def handle_RCPT(self, server, session, envelope, address, options):
        if not address.lower().endswith("@bench.test"):
            return "550 5.7.1 Relaying denied"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.db.execute("BEGIN")
        status = self.store(self.db, envelope)
        self.db.execute("COMMIT")
        return status


def main():
    shape, port, path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    store = {"bare": store_bare, "simplelogin": store_simplelogin}[shape]
    db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.executescript(SCHEMA)
    controller = Controller(Handler(db, store), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        asyncio.get_event_loop().run_forever()
    except KeyboardInterrupt:
        pass
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
