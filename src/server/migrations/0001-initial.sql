-- SPDX-License-Identifier: GPL-3.0-or-later
-- posternd store, schema version 1. Applied in one transaction by
-- pd-store-migrate.c; never edit a released migration, add the next one.

CREATE TABLE users (
  id            INTEGER PRIMARY KEY,
  name          TEXT NOT NULL UNIQUE,         -- login name, [a-z0-9._-]{1,64}
  maildir       TEXT,                         -- absolute path or NULL
  forward_to    TEXT,                         -- real mailbox address or NULL
  created_at    INTEGER NOT NULL,             -- unix seconds
  revision      INTEGER NOT NULL DEFAULT 0    -- last channel revision handed out
);

CREATE TABLE channels (
  id              TEXT PRIMARY KEY,           -- UUID
  user_id         INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  address         TEXT NOT NULL UNIQUE,       -- normalised local@domain, lower case
  label           TEXT NOT NULL DEFAULT '',
  note            TEXT NOT NULL DEFAULT '',
  kind            TEXT NOT NULL,              -- postern_channel_kind_to_string ()
  state           TEXT NOT NULL,
  on_unexpected   TEXT NOT NULL,
  farewell        TEXT NOT NULL,
  farewell_text   TEXT NOT NULL DEFAULT '',
  expected_senders TEXT NOT NULL DEFAULT '[]', -- JSON array of pattern strings
  created_at      INTEGER NOT NULL,
  expires_at      INTEGER NOT NULL DEFAULT 0,
  revision        INTEGER NOT NULL,           -- per-user monotonic
  deleted         INTEGER NOT NULL DEFAULT 0  -- tombstone for ?since=
);
CREATE INDEX channels_user_revision ON channels (user_id, revision);

CREATE TABLE blocks (
  id          INTEGER PRIMARY KEY,
  user_id     INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  pattern     TEXT NOT NULL,                  -- normalised sender pattern
  channel_id  TEXT REFERENCES channels (id) ON DELETE CASCADE, -- NULL = all
  created_at  INTEGER NOT NULL,
  UNIQUE (user_id, pattern, channel_id)
);

-- One row per message per channel seen (accepted or refused). The id is the
-- cursor clients sync from.
CREATE TABLE events (
  id              INTEGER PRIMARY KEY AUTOINCREMENT,
  user_id         INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  channel_id      TEXT NOT NULL,
  received_at     INTEGER NOT NULL,
  envelope_sender TEXT NOT NULL,               -- '' for <>
  header_from     TEXT,
  subject         TEXT,
  message_id      TEXT,
  size            INTEGER NOT NULL,
  verdict         TEXT NOT NULL,
  message_key     TEXT                         -- spool file name, when kept
);
CREATE INDEX events_user_id ON events (user_id, id);
CREATE INDEX events_channel ON events (channel_id, id);

-- Accepted messages waiting for (or done with) delivery. One row per
-- message per user per target; the spool file is shared by its rows.
CREATE TABLE deliveries (
  id              INTEGER PRIMARY KEY,
  event_id        INTEGER NOT NULL REFERENCES events (id) ON DELETE CASCADE,
  user_id         INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  message_key     TEXT NOT NULL,               -- spool file name
  target          TEXT NOT NULL,               -- 'maildir' | 'smtp'
  state           TEXT NOT NULL,               -- 'pending' | 'held' | 'done' | 'failed' | 'dropped'
  attempts        INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER NOT NULL DEFAULT 0,
  last_error      TEXT,
  created_at      INTEGER NOT NULL,
  updated_at      INTEGER NOT NULL
);
CREATE INDEX deliveries_due ON deliveries (state, next_attempt_at);

-- API side.
CREATE TABLE devices (
  id            INTEGER PRIMARY KEY,
  user_id       INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  name          TEXT NOT NULL,
  token_hash    BLOB NOT NULL UNIQUE,          -- SHA-256 of the 256-bit token
  created_at    INTEGER NOT NULL,
  last_seen_at  INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE pairing_codes (
  code_hash     BLOB PRIMARY KEY,              -- SHA-256 of the code
  user_id       INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  expires_at    INTEGER NOT NULL,
  used          INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE shares (
  id            INTEGER PRIMARY KEY,
  user_id       INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  channel_id    TEXT NOT NULL REFERENCES channels (id) ON DELETE CASCADE,
  method        TEXT NOT NULL,                 -- postern_share_method_to_string ()
  recipient     TEXT NOT NULL DEFAULT '',      -- "Jane at FOSDEM"
  shared_at     INTEGER NOT NULL
);
CREATE INDEX shares_channel ON shares (channel_id, shared_at);
