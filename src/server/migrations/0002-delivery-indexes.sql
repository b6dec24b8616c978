-- SPDX-License-Identifier: GPL-3.0-or-later
-- posternd store, schema version 2: the delivery queue looks up a spool
-- file's rows after every delivery (is the file still needed? which events
-- point at it?). Without these, both are scans of tables that only grow.
CREATE INDEX deliveries_message_key ON deliveries (message_key);
CREATE INDEX events_message_key ON events (message_key) WHERE message_key IS NOT NULL;
