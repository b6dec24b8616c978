-- SPDX-License-Identifier: GPL-3.0-or-later
-- posternd store, schema version 4: a delivery under way is leased in a
-- column of its own, not by moving next_attempt_at 15 minutes out, so a
-- lease is no longer mistaken for a backoff. Leases belong to the process
-- that took them: posternd's `run` releases them all when its delivery
-- queue starts (only one posternd runs per state_dir), and rows a killed
-- process was transferring are due at once, not after the lease.
ALTER TABLE deliveries ADD COLUMN leased_until INTEGER NOT NULL DEFAULT 0; -- unix seconds, 0 = not leased
