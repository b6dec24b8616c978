-- SPDX-License-Identifier: GPL-3.0-or-later
-- posternd store, schema version 3: message bodies live in the database,
-- written in the commit batch's own transaction, so the one WAL fsync of
-- a group commit makes bodies, events and deliveries durable together (a
-- spool file per message cost one more device flush each, plus the
-- directory's). `key` is the spool key the events and deliveries name.
--
-- Bodies of databases older than this stay spool files: SQL cannot read
-- them here, and the store reads a key it does not find in this table
-- from the spool directory, and collects the file as before. New mail
-- never goes there.
CREATE TABLE messages (
  key         TEXT PRIMARY KEY,                -- pd_spool_new_key ()
  data        BLOB NOT NULL,                   -- the message as it will be delivered
  created_at  INTEGER NOT NULL
);
