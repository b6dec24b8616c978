#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""The Python peers of bench/smtp/run.sh: an aiosmtpd server writing each
message to SQLite WAL with synchronous=NORMAL (not durable per message).

  aiosmtpd-sqlite.py bare|simplelogin|simplelogin-orm PORT DATABASE

simplelogin-orm: SimpleLogin's design as it runs: email_handler.py's
forward path through SQLAlchemy's ORM (Debian's python3-sqlalchemy; SimpleLogin
uses it through Flask-SQLAlchemy, on PostgreSQL), without its SMTP relay,
spam check and DKIM signing: message_from_bytes, a session per message, the
Alias by address, its Mailbox and User (lazy loads, as alias.mailbox and
alias.user do there), the Contact by the header From (created on first
sight, with its reply address checked for uniqueness, and committed), the
forward headers set (X-SimpleLogin-Type; Reply-To and Sender removed), an
EmailLog row with the message as it would be forwarded, commit. Generous to
it: the connection is pooled (SimpleLogin's handler has, in some versions,
disposed of its engine after every message).

simplelogin: the same queries by hand with the sqlite3 module, no ORM and
no header edits: message_from_bytes, the Alias by address, the Contact by
the header From (created on first sight), an EmailLog row with the body,
commit. A Python handler leaner than SimpleLogin's. posternd does the work
of both per message (header parse, channel lookup, a verdict on the sender,
trace headers added, an event row with the body).

bare: no parsing and no lookup, one row of raw bytes per recipient; the
floor for any Python handler, not a design anyone runs.
"""

import asyncio
import email
import email.utils
import sqlite3
import sys
import time
import uuid

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


def orm_store(path):
    """The simplelogin-orm shape: a store function over SQLAlchemy's ORM."""
    from sqlalchemy import (Boolean, Column, Float, ForeignKey, Integer, LargeBinary, String, create_engine, event)
    from sqlalchemy.orm import declarative_base, relationship, sessionmaker
    from sqlalchemy.pool import QueuePool

    Base = declarative_base()

    class User(Base):
        __tablename__ = "users"
        id = Column(Integer, primary_key=True)
        email = Column(String, nullable=False, unique=True)

    class Mailbox(Base):
        __tablename__ = "mailbox"
        id = Column(Integer, primary_key=True)
        user_id = Column(ForeignKey("users.id"), nullable=False)
        email = Column(String, nullable=False)

    class Alias(Base):
        __tablename__ = "alias"
        id = Column(Integer, primary_key=True)
        user_id = Column(ForeignKey("users.id"), nullable=False)
        mailbox_id = Column(ForeignKey("mailbox.id"), nullable=False)
        email = Column(String, nullable=False, unique=True)
        enabled = Column(Boolean, nullable=False, default=True)
        user = relationship(User)
        mailbox = relationship(Mailbox)

    class Contact(Base):
        __tablename__ = "contact"
        id = Column(Integer, primary_key=True)
        user_id = Column(ForeignKey("users.id"), nullable=False)
        alias_id = Column(ForeignKey("alias.id"), nullable=False, index=True)
        website_email = Column(String, nullable=False)
        name = Column(String)
        reply_email = Column(String, nullable=False, unique=True)

    class EmailLog(Base):
        __tablename__ = "email_log"
        id = Column(Integer, primary_key=True)
        user_id = Column(ForeignKey("users.id"), nullable=False)
        contact_id = Column(ForeignKey("contact.id"), nullable=False)
        mail_from = Column(String)
        subject = Column(String)
        message_id = Column(String)
        size = Column(Integer)
        blocked = Column(Boolean, default=False)
        body = Column(LargeBinary)
        created_at = Column(Float)

    # SQLAlchemy 1.4 opens a new connection for every session on a SQLite
    # file unless told to pool them.
    engine = create_engine("sqlite:///" + path, poolclass=QueuePool, connect_args={"check_same_thread": False})

    @event.listens_for(engine, "connect")
    def wal(connection, record):
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=NORMAL")

    Base.metadata.create_all(engine)
    Session = sessionmaker(bind=engine)
    with Session() as session:
        if session.query(Alias).filter_by(email="bench@bench.test").first() is None:
            user = User(email="owner@real.test")
            session.add(user)
            session.flush()
            mailbox = Mailbox(user_id=user.id, email=user.email)
            session.add(mailbox)
            session.flush()
            session.add(Alias(user_id=user.id, mailbox_id=mailbox.id, email="bench@bench.test"))
            session.commit()

    def store(db, envelope):
        msg = email.message_from_bytes(envelope.original_content)
        status = "250 Message accepted for delivery"
        with Session() as session:
            for rcpt in envelope.rcpt_tos:
                alias = session.query(Alias).filter_by(email=rcpt.lower()).first()
                if alias is None:
                    status = "550 SL E3"
                    continue
                mailbox, user = alias.mailbox, alias.user
                if envelope.mail_from == mailbox.email:
                    status = "550 SL self-forward"
                    continue
                name, sender = email.utils.parseaddr(str(msg.get("From", "")))
                contact = session.query(Contact).filter_by(alias_id=alias.id, website_email=sender).first()
                if contact is None:
                    reply_email = "reply+%s@bench.test" % uuid.uuid4().hex
                    while session.query(Contact).filter_by(reply_email=reply_email).first() is not None:
                        reply_email = "reply+%s@bench.test" % uuid.uuid4().hex
                    contact = Contact(user_id=user.id, alias_id=alias.id, website_email=sender, name=name,
                                      reply_email=reply_email)
                    session.add(contact)
                    session.commit()
                del msg["X-SimpleLogin-Type"]
                msg["X-SimpleLogin-Type"] = "Forward"
                del msg["Reply-To"]
                del msg["Sender"]
                session.add(EmailLog(user_id=user.id, contact_id=contact.id, mail_from=envelope.mail_from,
                                     subject=str(msg.get("Subject", "")), message_id=str(msg.get("Message-ID", "")),
                                     size=len(envelope.original_content), blocked=not alias.enabled,
                                     body=msg.as_bytes(), created_at=time.time()))
                session.commit()
        return status

    return store


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
        if self.db is None:
            return self.store(None, envelope)
        self.db.execute("BEGIN")
        status = self.store(self.db, envelope)
        self.db.execute("COMMIT")
        return status


def main():
    shape, port, path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    if shape == "simplelogin-orm":
        db, store = None, orm_store(path)
    else:
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
