/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

#include "postern-core.h"

G_BEGIN_DECLS

/*
 * The server's store: SQLite (WAL), message bodies included (the messages
 * table, schema 3); the spool directory only holds bodies kept by older
 * databases, still read and collected. One interface so that another
 * backend (PostgreSQL) is an addition.
 *
 * Every query that takes a @user_id is scoped to it: an object of another
 * user is PD_STORE_ERROR_NOT_FOUND, never visible.
 *
 * Threading: all functions are called from the thread that owns the main
 * context the store was created in. pd_store_commit_message_async() does
 * its disk work (the SQLite commit, bodies in it) on a writer thread and
 * batches every message waiting at that moment into one transaction
 * (group commit): one WAL fsync whatever the batch's size.
 *
 * Signals (emitted on the main context after the commit that caused them):
 *   "event-added"       (gint64 user_id, PosternEvent *event)
 *   "channel-changed"   (gint64 user_id, PosternChannel *channel)
 *   "channel-deleted"   (gint64 user_id, const char *channel_id, gint64 revision)
 *   "deliveries-queued" () : pending delivery rows were added or released;
 *                            the delivery queue may look again at once.
 */

#define PD_STORE_ERROR (pd_store_error_quark ())

typedef enum
{
  PD_STORE_ERROR_FAILED,    /* SQLite or I/O failure; the message says which */
  PD_STORE_ERROR_NOT_FOUND, /* no such object for this user */
  PD_STORE_ERROR_EXISTS,    /* unique constraint: same name, address, ... */
  PD_STORE_ERROR_CONFLICT,  /* revision mismatch (If-Match) */
  PD_STORE_ERROR_INVALID,   /* a value the model refuses */
  PD_STORE_ERROR_SCHEMA,    /* database newer than this program */
} PdStoreError;

GQuark pd_store_error_quark (void);

#define PD_TYPE_STORE (pd_store_get_type ())
G_DECLARE_FINAL_TYPE (PdStore, pd_store, PD, STORE, GObject)

/* Opens (creating if needed) @state_dir/posternd.sqlite and
 * @state_dir/spool/, applies pending migrations. */
PdStore *pd_store_open (const char *state_dir, GError **error);
int pd_store_get_schema_version (PdStore *self);
const char *pd_store_get_spool_dir (PdStore *self);

/* Group-commit counters (for tests and bench/): transactions the writer
 * thread committed, and messages they carried. */
guint64 pd_store_get_commit_batches (PdStore *self);
guint64 pd_store_get_committed_messages (PdStore *self);

/* ---- users ---- */

typedef struct
{
  gint64 id;
  char *name;
  char *maildir;    /* nullable */
  char *forward_to; /* nullable */
  gint64 created_at;
} PdUser;

void pd_user_free (PdUser *user);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PdUser, pd_user_free)

PdUser *pd_store_add_user (PdStore *self, const char *name, const char *maildir, const char *forward_to, GError **error);
PdUser *pd_store_lookup_user (PdStore *self, const char *name, GError **error);
PdUser *pd_store_get_user (PdStore *self, gint64 user_id, GError **error);
GPtrArray *pd_store_list_users (PdStore *self, GError **error); /* of PdUser */
gboolean pd_store_remove_user (PdStore *self, const char *name, GError **error);
gboolean pd_store_set_user_targets (PdStore *self, gint64 user_id, const char *maildir, const char *forward_to, GError **error);

/* ---- channels ---- */

/* Finds the channel for a recipient address (normalised local@domain, the
 * `+tag` already removed by the caller; compared without ASCII case, since
 * addresses are stored in lower case). NULL without error when none;
 * deleted channels are not found. */
PosternChannel *pd_store_lookup_channel (PdStore *self, const char *address, gint64 *out_user_id, GError **error);
PosternChannel *pd_store_get_channel (PdStore *self, gint64 user_id, const char *channel_id, GError **error);
/* What RCPT needs, read in one snapshot (one read transaction): the
 * channel of @address as pd_store_lookup_channel() finds it and, when
 * there is one, its owner's blocklist. */
PosternChannel *pd_store_lookup_recipient (PdStore *self, const char *address, gint64 *out_user_id, GPtrArray **out_blocks, GError **error);

/* Stores a new channel (id and address set by the caller). Assigns
 * created_at if 0 and the next revision. Creating an id that exists for the
 * same user with the same address returns the stored channel (idempotent);
 * any other clash is PD_STORE_ERROR_EXISTS. */
PosternChannel *pd_store_create_channel (PdStore *self, gint64 user_id, PosternChannel *channel, GError **error);

/* Replaces the mutable fields of the stored channel with @channel's when
 * the stored revision equals @if_revision (or @if_revision is 0); returns
 * the stored channel with its new revision. PD_STORE_ERROR_CONFLICT when
 * the revision moved on. */
PosternChannel *pd_store_update_channel (PdStore *self, gint64 user_id, PosternChannel *channel, gint64 if_revision, GError **error);

/* Channels of @user_id with revision > @since_revision (0 = all), in
 * revision order. Deleted channels appear in @out_tombstones (ids) when
 * non-NULL. */
GPtrArray *pd_store_list_channels (PdStore *self, gint64 user_id, gint64 since_revision, GPtrArray **out_tombstones, GError **error);
gboolean pd_store_delete_channel (PdStore *self, gint64 user_id, const char *channel_id, GError **error);

/* Atomically binds a one-time channel that has no expected sender yet to
 * @sender. TRUE if this call bound it; FALSE without error if another
 * message bound it first (re-read the channel and decide again). */
gboolean pd_store_bind_one_time (PdStore *self, const char *channel_id, const PosternMailbox *sender, GError **error);

/* ---- blocklist ---- */

GPtrArray *pd_store_list_blocks (PdStore *self, gint64 user_id, GError **error); /* of PosternBlockEntry */
PosternBlockEntry *pd_store_add_block (PdStore *self, gint64 user_id, const PosternSenderPattern *pattern, const char *channel_id, GError **error);
gboolean pd_store_remove_block (PdStore *self, gint64 user_id, gint64 block_id, GError **error);

/* ---- messages and events ---- */

typedef struct
{
  gint64 user_id;
  char *channel_id;
  PosternVerdict verdict;
} PdRecipientVerdict;

/* One message as received, with one verdict per recipient channel. */
typedef struct
{
  char *envelope_sender; /* "" for <> */
  char *header_from;     /* nullable; UTF-8 */
  char *subject;         /* nullable; UTF-8, decoded */
  char *message_id;      /* nullable */
  GBytes *data;          /* the message as it will be delivered, or NULL when nothing is kept */
  gint64 size;           /* octets received: the event's size (0: @data's) */
  gint64 received_at;
  GArray *recipients; /* of PdRecipientVerdict */
} PdMessage;

PdMessage *pd_message_new (void);
void pd_message_add_recipient (PdMessage *self, gint64 user_id, const char *channel_id, PosternVerdict verdict);
void pd_message_free (PdMessage *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PdMessage, pd_message_free)

/* Makes @message durable: stores the body (when @data is set and any
 * verdict is accepted), inserts one event per recipient and
 * one delivery row per accepted recipient and delivery target (state
 * 'held' for verdict held), all in one transaction. Completes only after
 * the commit is on disk; many concurrent calls share one fsync.
 *
 * @message is copied (the caller keeps it); its text fields are made valid
 * UTF-8 and cut to POSTERN_EVENT_MAX_FIELD octets. Targets: 'maildir' when
 * the user has a maildir, 'smtp' when it has forward_to; a user with
 * neither gets events only, and dropped-revoked never gets a delivery. One
 * body per message, shared by every row of every user that needs it.
 * Each recipient's channel must belong to its user_id, else the message
 * fails with PD_STORE_ERROR_NOT_FOUND (alone: others in the batch commit).
 * "event-added" is emitted for every event (rejected ones too) before the
 * callback runs; "deliveries-queued" when pending rows were added. */
void pd_store_commit_message_async (PdStore *self, PdMessage *message, GCancellable *cancellable, GAsyncReadyCallback callback, gpointer user_data);
/* Returns the event ids (gint64), one per recipient, in order. */
GArray *pd_store_commit_message_finish (PdStore *self, GAsyncResult *result, GError **error);

/* Events of @user_id with id > @since (oldest first) or id < @before
 * (newest first when @newest_first). @channel_id and @verdict filters
 * optional (NULL / -1). */
GPtrArray *pd_store_list_events (PdStore *self, gint64 user_id, gint64 since, gint64 before, guint limit, gboolean newest_first, const char *channel_id, int verdict, GError **error);
gint64 pd_store_get_latest_event_id (PdStore *self, gint64 user_id);

/* ---- delivery queue ---- */

typedef enum
{
  PD_DELIVERY_PENDING, /* "pending": due at next_attempt_at */
  PD_DELIVERY_HELD,    /* "held": waits for the owner (release or drop) */
  PD_DELIVERY_DONE,    /* "done": delivered */
  PD_DELIVERY_FAILED,  /* "failed": given up (a DSN was sent) */
  PD_DELIVERY_DROPPED, /* "dropped": the owner dropped held mail */
} PdDeliveryState;

const char *pd_delivery_state_to_string (PdDeliveryState state);

/* How long pd_store_next_due_deliveries() leases the rows it returns: they
 * are not returned again before this, unless finished (which ends the
 * lease). The lease is kept apart from next_attempt_at (the backoff), so
 * that pd_store_release_leases() can end the leases of a killed process
 * without touching anyone's backoff. */
#define PD_DELIVERY_LEASE_SECONDS (15 * 60)

typedef struct
{
  gint64 id;
  gint64 event_id;
  gint64 user_id;
  char *message_key; /* spool key: pd_store_open_spool() */
  char *target;      /* "maildir" | "smtp" */
  int attempts;      /* attempts finished so far */
  char *channel_id;
  PosternVerdict verdict;
  PdDeliveryState state;
  gint64 next_attempt_at;
  gint64 created_at;
  char *last_error;    /* nullable */
  PosternEvent *event; /* the event it delivers (envelope sender, subject, ...) */
} PdDelivery;

void pd_delivery_free (PdDelivery *delivery);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PdDelivery, pd_delivery_free)

/* Up to @limit pending rows due at @now (next_attempt_at <= @now) and not
 * leased, oldest first, leased for PD_DELIVERY_LEASE_SECONDS (their
 * next_attempt_at reads as the lease end, as in every PdDelivery of a
 * leased row). Not scoped to a user: this is
 * the delivery engine's view. Array of PdDelivery. */
GPtrArray *pd_store_next_due_deliveries (PdStore *self, gint64 now, guint limit, GError **error);

/* Records an attempt: PENDING retries at @next_attempt_at; DONE, FAILED
 * and DROPPED are final. Counts one attempt (not for DROPPED). @last_error
 * is nullable. Removes the body when no row still needs it. */
gboolean pd_store_finish_delivery (PdStore *self, gint64 delivery_id, PdDeliveryState state, gint64 next_attempt_at, const char *last_error, GError **error);

typedef struct
{
  gint64 delivery_id;
  PdDeliveryState state;
  gint64 next_attempt_at;
  const char *last_error; /* nullable */
} PdDeliveryFinish;

/* pd_store_finish_delivery() for many rows in one transaction (the
 * delivery queue records its results in batches: one commit, one wait
 * for the write lock). A row that no longer exists is skipped. Emits
 * "deliveries-queued" once when any row stays pending. */
gboolean pd_store_finish_deliveries (PdStore *self, const PdDeliveryFinish *items, guint n_items, GError **error);

/* Held mail of @user_id, oldest first: one PdDelivery per held message
 * (when the user has two targets, the message's first row stands for both). */
GPtrArray *pd_store_list_held (PdStore *self, gint64 user_id, GError **error);
/* Release (deliver now) or drop the held message that @delivery_id belongs
 * to: every held row of that message. PD_STORE_ERROR_NOT_FOUND when it is
 * not a held delivery of @user_id. */
gboolean pd_store_release_held (PdStore *self, gint64 user_id, gint64 delivery_id, GError **error);
gboolean pd_store_drop_held (PdStore *self, gint64 user_id, gint64 delivery_id, GError **error);

/* The earliest time a pending row is due (a leased row at its lease end):
 * FALSE without error when nothing is pending. The delivery queue arms
 * its timer with it instead of polling. */
gboolean pd_store_get_next_delivery_at (PdStore *self, gint64 *out_at, GError **error);
/* Up to @limit pending rows, soonest first, without leasing them (for
 * `posternd queue list`). Array of PdDelivery. */
GPtrArray *pd_store_list_pending (PdStore *self, guint limit, GError **error);

/* Makes every pending row due at @when at the latest (`posternd queue
 * flush`: the smarthost is back, do not wait for the backoff). Rows under
 * way in a running posternd are not started twice: it knows them. Returns
 * how many rows moved, -1 on error. */
gint64 pd_store_reschedule_pending (PdStore *self, gint64 when, GError **error);

/* Ends every lease: the rows a previous process was delivering when it
 * died are due at once (at their next_attempt_at, if later: a backoff
 * stays). Only for the one process that runs the delivery queue of this
 * state_dir, when it starts; never from an admin command, which would take
 * a running posternd's rows from under it. Returns how many rows were
 * leased, -1 on error. */
gint64 pd_store_release_leases (PdStore *self, GError **error);

/* The body of a kept message, read whole (messages are bounded by the SMTP
 * size limit): from the messages table, else from the spool file an older
 * database kept. PD_STORE_ERROR_NOT_FOUND once it is gone,
 * PD_STORE_ERROR_INVALID when @message_key is not a key. */
GBytes *pd_store_open_spool (PdStore *self, const char *message_key, GError **error);

G_END_DECLS
