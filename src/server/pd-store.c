/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <errno.h>
#include <json-glib/json-glib.h>
#include <sys/resource.h>

#include "pd-spool.h"
#include "pd-store-db.h"
#include "pd-store-migrate.h"
#include "pd-store.h"

/* Limits of what the store accepts from its callers. */
#define USER_NAME_MAX        64
#define PATH_MAX_LENGTH      4096
#define LAST_ERROR_MAX       1000 /* octets of a delivery's last error */
#define WRITER_MAX_BATCH     512  /* messages per group commit */
#define SPOOL_ORPHAN_SECONDS (60 * 60)

/* The WAL holds every body until a checkpoint copies it into the database
 * file. SQLite's own autocheckpoint (1000 pages) runs inside the COMMIT
 * that crosses it, so the messages of that batch would wait for the copy
 * and its two flushes. The writer instead checkpoints (PASSIVE: it never
 * waits for readers or the main connection's writes) after it has handed
 * the batch's results to the main context, when the WAL holds
 * WAL_CHECKPOINT_PAGES (8 MiB of 4 KiB pages: ~150 bodies of 50 KiB);
 * messages arriving meanwhile make the next batch larger. The main
 * connection keeps an autocheckpoint only as a backstop, far above, for a
 * writer that cannot keep up. journal_size_limit truncates the WAL file
 * back to WAL_SIZE_LIMIT when it restarts after a burst. */
#define WAL_CHECKPOINT_PAGES 2048
#define WAL_BACKSTOP_PAGES   16384
#define WAL_SIZE_LIMIT       33554432 /* 32 MiB; a literal for the pragma */

/* clang-format would space the dashes, and the quark's name with them. */
// clang-format off
G_DEFINE_QUARK (pd-store-error-quark, pd_store_error)
// clang-format on

typedef struct
{
  PdStoreDb *db;
  GAsyncQueue *queue; /* of GTask, or the quit marker */
  GThread *thread;
  GMainContext *main_context;
  int wal_pages; /* WAL size after the writer's last commit (its wal hook) */
  GMutex stats_lock;
  guint64 batches;
  guint64 messages;
} PdStoreWriter;

struct _PdStore
{
  GObject parent_instance;

  char *state_dir;
  PdStoreDb *db; /* the main thread's connection */
  PdSpool *spool;
  GMainContext *main_context;
  PdStoreWriter *writer;
  int schema_version;
};

G_DEFINE_FINAL_TYPE (PdStore, pd_store, G_TYPE_OBJECT)

enum
{
  EVENT_ADDED,
  CHANNEL_CHANGED,
  CHANNEL_DELETED,
  DELIVERIES_QUEUED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

/* The writer thread runs this much nicer than the daemon. When it and the
 * SMTP thread want the same CPU, the SMTP thread (every session's next
 * turn) goes first, and the messages it finishes meanwhile join the
 * writer's next batch, whose cost is mostly per batch: on 2 CPUs at 16
 * sessions, 14 % more messages a second for 8 % less CPU each
 * (bench/smtp/README.md). With a CPU free it changes nothing; against a
 * busy nice-0 thread the writer still gets a quarter of a CPU, enough for
 * ~4,000 messages a second at its ~55 µs a message. */
#define WRITER_NICE 5

/* Pushed by dispose to stop the writer thread. */
static int writer_quit_marker;
#define WRITER_QUIT ((gpointer)&writer_quit_marker)

static gint64
now_seconds (void)
{
  return g_get_real_time () / G_USEC_PER_SEC;
}

/* ------------------------------------------------------------------ */
/* Text from outside                                                   */

/* Valid UTF-8, no longer than @max_octets (cut on a character boundary).
 * Untrusted header text goes through here before SQLite. */
static char *
sanitize_text (const char *text,
               gsize max_octets)
{
  char *valid;
  gsize length;

  if (text == NULL)
    return NULL;

  valid = g_utf8_make_valid (text, -1);
  length = strlen (valid);
  if (length > max_octets)
    {
      char *end = valid + max_octets;

      while (end > valid && ((guchar)*end & 0xC0) == 0x80)
        end--;
      *end = '\0';
    }

  return valid;
}

static gboolean
check_utf8 (const char *text,
            gsize max_octets,
            const char *field,
            GError **error)
{
  if (text == NULL)
    return TRUE;

  if (!g_utf8_validate (text, -1, NULL) || strlen (text) > max_octets)
    {
      g_set_error (error, PD_STORE_ERROR, PD_STORE_ERROR_INVALID,
                   "%s is not valid UTF-8 text of at most %" G_GSIZE_FORMAT " octets",
                   field, max_octets);
      return FALSE;
    }

  return TRUE;
}

static gboolean
user_name_is_valid (const char *name)
{
  gsize length = strlen (name);

  if (length == 0 || length > USER_NAME_MAX)
    return FALSE;

  for (const char *p = name; *p; p++)
    if (!(g_ascii_islower (*p) || g_ascii_isdigit (*p) || *p == '.' || *p == '_' || *p == '-'))
      return FALSE;

  return TRUE;
}

static const char *
empty_to_null (const char *text)
{
  return (text == NULL || *text == '\0') ? NULL : text;
}

static gboolean
check_user_targets (const char *maildir,
                    const char *forward_to,
                    GError **error)
{
  if (maildir != NULL && (!g_path_is_absolute (maildir) || !check_utf8 (maildir, PATH_MAX_LENGTH, "maildir", NULL)))
    {
      g_set_error (error, PD_STORE_ERROR, PD_STORE_ERROR_INVALID,
                   "The maildir must be an absolute path");
      return FALSE;
    }

  if (forward_to != NULL)
    {
      g_autoptr (PosternMailbox) mailbox = NULL;
      g_autoptr (GError) local_error = NULL;

      mailbox = postern_mailbox_parse (forward_to, -1, &local_error);
      if (mailbox == NULL)
        {
          g_set_error (error, PD_STORE_ERROR, PD_STORE_ERROR_INVALID,
                       "Cannot forward to this address: %s", local_error->message);
          return FALSE;
        }
    }

  return TRUE;
}

/* ------------------------------------------------------------------ */
/* Plain records                                                       */

void
pd_user_free (PdUser *user)
{
  if (user == NULL)
    return;

  g_free (user->name);
  g_free (user->maildir);
  g_free (user->forward_to);
  g_free (user);
}

void
pd_delivery_free (PdDelivery *delivery)
{
  if (delivery == NULL)
    return;

  g_free (delivery->message_key);
  g_free (delivery->target);
  g_free (delivery->channel_id);
  g_free (delivery->last_error);
  g_clear_object (&delivery->event);
  g_free (delivery);
}

static const char *const delivery_states[] = {
  [PD_DELIVERY_PENDING] = "pending",
  [PD_DELIVERY_HELD] = "held",
  [PD_DELIVERY_DONE] = "done",
  [PD_DELIVERY_FAILED] = "failed",
  [PD_DELIVERY_DROPPED] = "dropped",
};

const char *
pd_delivery_state_to_string (PdDeliveryState state)
{
  g_return_val_if_fail ((guint)state < G_N_ELEMENTS (delivery_states), NULL);

  return delivery_states[state];
}

static gboolean
delivery_state_from_string (const char *text,
                            PdDeliveryState *out)
{
  for (guint i = 0; i < G_N_ELEMENTS (delivery_states); i++)
    if (g_strcmp0 (text, delivery_states[i]) == 0)
      {
        *out = i;
        return TRUE;
      }

  return FALSE;
}

static void
recipient_verdict_clear (gpointer data)
{
  PdRecipientVerdict *recipient = data;

  g_clear_pointer (&recipient->channel_id, g_free);
}

PdMessage *
pd_message_new (void)
{
  PdMessage *self = g_new0 (PdMessage, 1);

  self->recipients = g_array_new (FALSE, TRUE, sizeof (PdRecipientVerdict));
  g_array_set_clear_func (self->recipients, recipient_verdict_clear);
  return self;
}

void
pd_message_add_recipient (PdMessage *self,
                          gint64 user_id,
                          const char *channel_id,
                          PosternVerdict verdict)
{
  PdRecipientVerdict recipient = { user_id, g_strdup (channel_id), verdict };

  g_return_if_fail (self != NULL);
  g_return_if_fail (channel_id != NULL);

  g_array_append_val (self->recipients, recipient);
}

void
pd_message_free (PdMessage *self)
{
  if (self == NULL)
    return;

  g_free (self->envelope_sender);
  g_free (self->header_from);
  g_free (self->subject);
  g_free (self->message_id);
  g_clear_pointer (&self->data, g_bytes_unref);
  g_clear_pointer (&self->recipients, g_array_unref);
  g_free (self);
}

/* The writer's own copy, with every text field made valid UTF-8 of bounded
 * length: the caller keeps its message. */
static PdMessage *
message_copy_sanitized (PdMessage *message)
{
  PdMessage *copy = pd_message_new ();

  copy->envelope_sender = sanitize_text (message->envelope_sender ? message->envelope_sender : "", POSTERN_EVENT_MAX_FIELD);
  copy->header_from = sanitize_text (message->header_from, POSTERN_EVENT_MAX_FIELD);
  copy->subject = sanitize_text (message->subject, POSTERN_EVENT_MAX_FIELD);
  copy->message_id = sanitize_text (message->message_id, POSTERN_EVENT_MAX_FIELD);
  copy->data = message->data ? g_bytes_ref (message->data) : NULL;
  /* The event's size is what the client sent, whether the message is kept
   * (with our trace fields added) or refused; a caller that did not say
   * gets the kept message's. */
  copy->size = message->size > 0 ? message->size : (message->data ? (gint64)g_bytes_get_size (message->data) : 0);
  copy->received_at = message->received_at > 0 ? message->received_at : now_seconds ();

  for (guint i = 0; i < message->recipients->len; i++)
    {
      PdRecipientVerdict *r = &g_array_index (message->recipients, PdRecipientVerdict, i);

      pd_message_add_recipient (copy, r->user_id, r->channel_id, r->verdict);
    }

  return copy;
}

/* ------------------------------------------------------------------ */
/* Rows to objects                                                     */

#define CHANNEL_COLUMNS "id, user_id, address, label, note, kind, state, on_unexpected, farewell, " \
                        "farewell_text, expected_senders, created_at, expires_at, revision, deleted"

#define EVENT_COLUMNS "id, channel_id, received_at, envelope_sender, header_from, subject, " \
                      "message_id, size, verdict"

/* A leased row reads as due at its lease end: the earliest moment anyone
 * may try it again (`queue list` shows it so). */
#define DELIVERY_COLUMNS "d.id, d.event_id, d.user_id, d.message_key, d.target, d.attempts, d.state, " \
                         "MAX(d.next_attempt_at, d.leased_until), d.created_at, d.last_error, "        \
                         "e.id, e.channel_id, e.received_at, e.envelope_sender, e.header_from, "       \
                         "e.subject, e.message_id, e.size, e.verdict"

static gboolean
corrupt_row (GError **error,
             const char *table,
             GError *cause)
{
  g_set_error (error, PD_STORE_ERROR, PD_STORE_ERROR_FAILED,
               "A row of %s does not load: %s", table, cause ? cause->message : "unknown value");
  return FALSE;
}

static char *
senders_to_json (PosternChannel *channel)
{
  GPtrArray *senders = postern_channel_get_expected_senders (channel);
  g_autoptr (JsonBuilder) builder = json_builder_new ();
  g_autoptr (JsonGenerator) generator = json_generator_new ();
  g_autoptr (JsonNode) root = NULL;

  json_builder_begin_array (builder);
  for (guint i = 0; senders != NULL && i < senders->len; i++)
    {
      g_autofree char *text = postern_sender_pattern_to_string (g_ptr_array_index (senders, i));

      json_builder_add_string_value (builder, text);
    }
  json_builder_end_array (builder);

  root = json_builder_get_root (builder);
  json_generator_set_root (generator, root);
  return json_generator_to_data (generator, NULL);
}

static gboolean
senders_from_json (PosternChannel *channel,
                   const char *json,
                   GError **error)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  JsonNode *root;
  JsonArray *array;

  if (!json_parser_load_from_data (parser, json, -1, error))
    return FALSE;

  root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_ARRAY (root))
    {
      g_set_error (error, PD_STORE_ERROR, PD_STORE_ERROR_FAILED, "expected_senders is not an array");
      return FALSE;
    }

  array = json_node_get_array (root);
  for (guint i = 0; i < json_array_get_length (array); i++)
    {
      const char *text = json_array_get_string_element (array, i);
      g_autoptr (PosternSenderPattern) pattern = NULL;

      if (text == NULL)
        {
          g_set_error (error, PD_STORE_ERROR, PD_STORE_ERROR_FAILED, "expected_senders holds a non-string");
          return FALSE;
        }
      pattern = postern_sender_pattern_parse (text, error);
      if (pattern == NULL || !postern_channel_add_expected_sender (channel, pattern, error))
        return FALSE;
    }

  return TRUE;
}

static PosternChannel *
channel_from_row (PdStoreStmt *stmt,
                  gint64 *out_user_id,
                  gboolean *out_deleted,
                  GError **error)
{
  g_autoptr (PosternChannel) channel = postern_channel_new ();
  g_autoptr (GError) local_error = NULL;
  PosternChannelKind kind;
  PosternChannelState state;
  PosternUnexpectedPolicy policy;
  PosternFarewell farewell;

  if (!postern_channel_set_id (channel, pd_store_stmt_column_text (stmt, 0), &local_error) || !postern_channel_set_address (channel, pd_store_stmt_column_text (stmt, 2), &local_error) || !postern_channel_set_label (channel, pd_store_stmt_column_text (stmt, 3), &local_error) || !postern_channel_set_note (channel, pd_store_stmt_column_text (stmt, 4), &local_error) || !postern_channel_kind_from_string (pd_store_stmt_column_text (stmt, 5), &kind, &local_error) || !postern_channel_state_from_string (pd_store_stmt_column_text (stmt, 6), &state, &local_error) || !postern_unexpected_policy_from_string (pd_store_stmt_column_text (stmt, 7), &policy, &local_error) || !postern_farewell_from_string (pd_store_stmt_column_text (stmt, 8), &farewell, &local_error) || !postern_channel_set_farewell_text (channel, pd_store_stmt_column_text (stmt, 9), &local_error) || !senders_from_json (channel, pd_store_stmt_column_text (stmt, 10), &local_error))
    {
      corrupt_row (error, "channels", local_error);
      return NULL;
    }

  postern_channel_set_kind (channel, kind);
  postern_channel_set_state (channel, state);
  postern_channel_set_on_unexpected (channel, policy);
  postern_channel_set_farewell (channel, farewell);
  postern_channel_set_created_at (channel, sqlite3_column_int64 (stmt, 11));
  postern_channel_set_expires_at (channel, sqlite3_column_int64 (stmt, 12));
  postern_channel_set_revision (channel, sqlite3_column_int64 (stmt, 13));

  if (out_user_id != NULL)
    *out_user_id = sqlite3_column_int64 (stmt, 1);
  if (out_deleted != NULL)
    *out_deleted = sqlite3_column_int (stmt, 14) != 0;

  return g_steal_pointer (&channel);
}

/* Reads EVENT_COLUMNS starting at @first. */
static PosternEvent *
event_from_row (PdStoreStmt *stmt,
                int first,
                GError **error)
{
  g_autoptr (GError) local_error = NULL;
  PosternVerdict verdict;

  if (!postern_verdict_from_string (pd_store_stmt_column_text (stmt, first + 8), &verdict, &local_error))
    {
      corrupt_row (error, "events", local_error);
      return NULL;
    }

  return postern_event_new (sqlite3_column_int64 (stmt, first + 0),
                            pd_store_stmt_column_text (stmt, first + 1),
                            sqlite3_column_int64 (stmt, first + 2),
                            pd_store_stmt_column_text (stmt, first + 3),
                            pd_store_stmt_column_text (stmt, first + 4),
                            pd_store_stmt_column_text (stmt, first + 5),
                            pd_store_stmt_column_text (stmt, first + 6),
                            sqlite3_column_int64 (stmt, first + 7),
                            verdict);
}

static PdDelivery *
delivery_from_row (PdStoreStmt *stmt,
                   GError **error)
{
  g_autoptr (PdDelivery) delivery = g_new0 (PdDelivery, 1);

  delivery->id = sqlite3_column_int64 (stmt, 0);
  delivery->event_id = sqlite3_column_int64 (stmt, 1);
  delivery->user_id = sqlite3_column_int64 (stmt, 2);
  delivery->message_key = g_strdup (pd_store_stmt_column_text (stmt, 3));
  delivery->target = g_strdup (pd_store_stmt_column_text (stmt, 4));
  delivery->attempts = sqlite3_column_int (stmt, 5);
  if (!delivery_state_from_string (pd_store_stmt_column_text (stmt, 6), &delivery->state))
    {
      corrupt_row (error, "deliveries", NULL);
      return NULL;
    }
  delivery->next_attempt_at = sqlite3_column_int64 (stmt, 7);
  delivery->created_at = sqlite3_column_int64 (stmt, 8);
  delivery->last_error = g_strdup (pd_store_stmt_column_text (stmt, 9));

  delivery->event = event_from_row (stmt, 10, error);
  if (delivery->event == NULL)
    return NULL;
  delivery->channel_id = g_strdup (postern_event_get_channel_id (delivery->event));
  delivery->verdict = postern_event_get_verdict (delivery->event);

  return g_steal_pointer (&delivery);
}

static PdUser *
user_from_row (PdStoreStmt *stmt)
{
  PdUser *user = g_new0 (PdUser, 1);

  user->id = sqlite3_column_int64 (stmt, 0);
  user->name = g_strdup (pd_store_stmt_column_text (stmt, 1));
  user->maildir = g_strdup (pd_store_stmt_column_text (stmt, 2));
  user->forward_to = g_strdup (pd_store_stmt_column_text (stmt, 3));
  user->created_at = sqlite3_column_int64 (stmt, 4);
  return user;
}

/* ------------------------------------------------------------------ */
/* The writer thread: group commit                                     */

typedef struct
{
  GTask *task;
  PdMessage *message; /* the task's data */
  GArray *event_ids;  /* gint64, on success */
  GPtrArray *events;  /* PosternEvent, on success */
  GArray *user_ids;   /* gint64, parallel to @events */
  char *spool_key;    /* the body's key, when it is kept */
  gboolean queued;    /* pending deliveries were added */
  GError *error;
} CommitItem;

static void
commit_item_free (gpointer data)
{
  CommitItem *item = data;

  g_clear_object (&item->task);
  g_clear_pointer (&item->event_ids, g_array_unref);
  g_clear_pointer (&item->events, g_ptr_array_unref);
  g_clear_pointer (&item->user_ids, g_array_unref);
  g_free (item->spool_key);
  g_clear_error (&item->error);
  g_free (item);
}

static void
commit_item_fail (CommitItem *item,
                  const GError *error)
{
  if (item->error == NULL)
    item->error = g_error_copy (error);
  g_clear_pointer (&item->event_ids, g_array_unref);
  g_clear_pointer (&item->events, g_ptr_array_unref);
  g_clear_pointer (&item->user_ids, g_array_unref);
  item->queued = FALSE;
}

enum
{
  TARGET_MAILDIR = 1 << 0,
  TARGET_SMTP = 1 << 1,
};

/* Whether the channel was closed (revoked, deleted, expired) after its
 * recipient was judged at RCPT: the owner broke it while the message was
 * on its way, and it is then recorded as dropped, never delivered. A pause
 * in that time does not count: the message was accepted before it. */
static gboolean
channel_closed_since (sqlite3_stmt *stmt,
                      int state_column,
                      gint64 now)
{
  const char *state = (const char *)sqlite3_column_text (stmt, state_column);
  gboolean deleted = sqlite3_column_int64 (stmt, state_column + 1) != 0;
  gint64 expires_at = sqlite3_column_int64 (stmt, state_column + 2);

  return deleted || g_strcmp0 (state, postern_channel_state_to_string (POSTERN_CHANNEL_STATE_REVOKED)) == 0 || postern_channel_expiry_has_passed (expires_at, now);
}

static gboolean
writer_targets_for (PdStoreWriter *writer,
                    PdRecipientVerdict *recipient,
                    gint64 now,
                    guint *out_targets,
                    GError **error)
{
  g_autoptr (PdStoreStmt) stmt = NULL;
  gboolean row = FALSE;

  /* The recipient's channel must be the user's: the event is scoped by
   * user_id, and a mix-up here would show one user another's mail. */
  stmt = pd_store_db_prepare (writer->db,
                              "SELECT u.maildir, u.forward_to, c.state, c.deleted, c.expires_at FROM channels c "
                              "JOIN users u ON u.id = c.user_id "
                              "WHERE c.id = ?1 AND c.user_id = ?2",
                              error);
  if (stmt == NULL)
    return FALSE;

  pd_store_stmt_bind_text (stmt, 1, recipient->channel_id);
  sqlite3_bind_int64 (stmt, 2, recipient->user_id);
  if (!pd_store_db_step (writer->db, stmt, &row, error))
    return FALSE;
  if (!row)
    {
      g_set_error (error, PD_STORE_ERROR, PD_STORE_ERROR_NOT_FOUND,
                   "Channel %s of user %" G_GINT64_FORMAT " does not exist",
                   recipient->channel_id, recipient->user_id);
      return FALSE;
    }

  *out_targets = 0;
  if (!postern_verdict_is_accepted (recipient->verdict) || recipient->verdict == POSTERN_VERDICT_DROPPED_REVOKED)
    return TRUE;

  if (channel_closed_since (stmt, 2, now))
    {
      g_message ("Store: channel %s was closed while a message for it was received: dropped", recipient->channel_id);
      recipient->verdict = POSTERN_VERDICT_DROPPED_REVOKED;
      return TRUE;
    }

  if (sqlite3_column_type (stmt, 0) != SQLITE_NULL)
    *out_targets |= TARGET_MAILDIR;
  if (sqlite3_column_type (stmt, 1) != SQLITE_NULL)
    *out_targets |= TARGET_SMTP;

  return TRUE;
}

static gboolean
writer_insert_event (PdStoreWriter *writer,
                     PdMessage *message,
                     const PdRecipientVerdict *recipient,
                     const char *message_key,
                     gint64 *out_id,
                     GError **error)
{
  g_autoptr (PdStoreStmt) stmt = NULL;

  stmt = pd_store_db_prepare (writer->db,
                              "INSERT INTO events (user_id, channel_id, received_at, envelope_sender, "
                              "header_from, subject, message_id, size, verdict, message_key) "
                              "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                              error);
  if (stmt == NULL)
    return FALSE;

  sqlite3_bind_int64 (stmt, 1, recipient->user_id);
  pd_store_stmt_bind_text (stmt, 2, recipient->channel_id);
  sqlite3_bind_int64 (stmt, 3, message->received_at);
  pd_store_stmt_bind_text (stmt, 4, message->envelope_sender);
  pd_store_stmt_bind_text (stmt, 5, message->header_from);
  pd_store_stmt_bind_text (stmt, 6, message->subject);
  pd_store_stmt_bind_text (stmt, 7, message->message_id);
  sqlite3_bind_int64 (stmt, 8, message->size);
  pd_store_stmt_bind_text (stmt, 9, postern_verdict_to_string (recipient->verdict));
  pd_store_stmt_bind_text (stmt, 10, message_key);

  if (!pd_store_db_step_done (writer->db, stmt, error))
    return FALSE;

  *out_id = sqlite3_last_insert_rowid (pd_store_db_get_handle (writer->db));
  return TRUE;
}

static gboolean
writer_insert_delivery (PdStoreWriter *writer,
                        gint64 event_id,
                        const PdRecipientVerdict *recipient,
                        const char *message_key,
                        const char *target,
                        gint64 now,
                        GError **error)
{
  g_autoptr (PdStoreStmt) stmt = NULL;
  PdDeliveryState state = recipient->verdict == POSTERN_VERDICT_HELD ? PD_DELIVERY_HELD : PD_DELIVERY_PENDING;

  stmt = pd_store_db_prepare (writer->db,
                              "INSERT INTO deliveries (event_id, user_id, message_key, target, state, "
                              "next_attempt_at, created_at, updated_at) "
                              "VALUES (?1, ?2, ?3, ?4, ?5, 0, ?6, ?6)",
                              error);
  if (stmt == NULL)
    return FALSE;

  sqlite3_bind_int64 (stmt, 1, event_id);
  sqlite3_bind_int64 (stmt, 2, recipient->user_id);
  pd_store_stmt_bind_text (stmt, 3, message_key);
  pd_store_stmt_bind_text (stmt, 4, target);
  pd_store_stmt_bind_text (stmt, 5, pd_delivery_state_to_string (state));
  sqlite3_bind_int64 (stmt, 6, now);

  return pd_store_db_step_done (writer->db, stmt, error);
}

/* The body, bound in place (the task holds @data until the batch is
 * done, and releasing the statement clears the binding). */
static gboolean
writer_insert_body (PdStoreWriter *writer,
                    const char *key,
                    GBytes *data,
                    gint64 now,
                    GError **error)
{
  g_autoptr (PdStoreStmt) stmt = NULL;
  gsize size = 0;
  const void *bytes = g_bytes_get_data (data, &size);

  stmt = pd_store_db_prepare (writer->db,
                              "INSERT INTO messages (key, data, created_at) VALUES (?1, ?2, ?3)",
                              error);
  if (stmt == NULL)
    return FALSE;

  pd_store_stmt_bind_text (stmt, 1, key);
  /* An empty GBytes may have no data pointer, which SQLite would bind as
   * NULL; the column takes an empty blob. */
  sqlite3_bind_blob64 (stmt, 2, bytes != NULL ? bytes : "", size, SQLITE_STATIC);
  sqlite3_bind_int64 (stmt, 3, now);

  return pd_store_db_step_done (writer->db, stmt, error);
}

/* Inside the batch transaction and a savepoint: the events and deliveries
 * of one message, and its body in the messages table (made durable by the
 * batch's one COMMIT, with the rows that point at it). */
static gboolean
writer_insert_message (PdStoreWriter *writer,
                       CommitItem *item,
                       gint64 now,
                       GError **error)
{
  PdMessage *message = item->message;
  GArray *recipients = message->recipients;
  g_autofree guint *targets = g_new0 (guint, recipients->len);
  gboolean keep = FALSE;

  for (guint i = 0; i < recipients->len; i++)
    {
      if (!writer_targets_for (writer, &g_array_index (recipients, PdRecipientVerdict, i), now, &targets[i], error))
        return FALSE;
      keep |= targets[i] != 0;
    }

  /* Nothing to deliver or hold: the body is not kept. */
  if (message->data == NULL)
    keep = FALSE;
  if (keep)
    item->spool_key = pd_spool_new_key ();

  item->event_ids = g_array_sized_new (FALSE, FALSE, sizeof (gint64), recipients->len);
  item->events = g_ptr_array_new_with_free_func (g_object_unref);
  item->user_ids = g_array_sized_new (FALSE, FALSE, sizeof (gint64), recipients->len);

  for (guint i = 0; i < recipients->len; i++)
    {
      const PdRecipientVerdict *recipient = &g_array_index (recipients, PdRecipientVerdict, i);
      const char *key = (keep && targets[i] != 0) ? item->spool_key : NULL;
      gint64 event_id = 0;

      if (!writer_insert_event (writer, message, recipient, key, &event_id, error))
        return FALSE;

      if (key != NULL && (targets[i] & TARGET_MAILDIR) != 0 && !writer_insert_delivery (writer, event_id, recipient, key, "maildir", now, error))
        return FALSE;
      if (key != NULL && (targets[i] & TARGET_SMTP) != 0 && !writer_insert_delivery (writer, event_id, recipient, key, "smtp", now, error))
        return FALSE;
      if (key != NULL && recipient->verdict != POSTERN_VERDICT_HELD)
        item->queued = TRUE;

      g_array_append_val (item->event_ids, event_id);
      g_array_append_val (item->user_ids, recipient->user_id);
      g_ptr_array_add (item->events,
                       postern_event_new (event_id, recipient->channel_id, message->received_at,
                                          message->envelope_sender, message->header_from,
                                          message->subject, message->message_id, message->size,
                                          recipient->verdict));
    }

  if (keep && !writer_insert_body (writer, item->spool_key, message->data, now, error))
    return FALSE;

  return TRUE;
}

static int
writer_wal_hook_cb (void *data,
                    sqlite3 *handle,
                    const char *name,
                    int pages)
{
  PdStoreWriter *writer = data;

  writer->wal_pages = pages;
  return SQLITE_OK;
}

/* See WAL_CHECKPOINT_PAGES. A checkpoint that cannot finish (a reader
 * still needs old frames) leaves the rest for the next one. */
static void
writer_checkpoint (PdStoreWriter *writer)
{
  int wal_frames = 0;
  int copied = 0;
  int rc;

  if (writer->wal_pages < WAL_CHECKPOINT_PAGES)
    return;

  writer->wal_pages = 0;
  rc = sqlite3_wal_checkpoint_v2 (pd_store_db_get_handle (writer->db), NULL,
                                  SQLITE_CHECKPOINT_PASSIVE, &wal_frames, &copied);
  if (rc == SQLITE_OK)
    g_debug ("Store: checkpoint copied %d of %d WAL frames", copied, wal_frames);
  else if (rc != SQLITE_BUSY && rc != SQLITE_LOCKED)
    g_warning ("Store: WAL checkpoint failed: %s", sqlite3_errstr (rc));
}

static void
writer_fail_all (GPtrArray *items,
                 const GError *error)
{
  for (guint i = 0; i < items->len; i++)
    commit_item_fail (g_ptr_array_index (items, i), error);
}

static gboolean complete_batch_cb (gpointer data);

/* Undoes what writer_insert_message() noted in @item, after a rollback. */
static void
commit_item_reset (CommitItem *item)
{
  g_clear_pointer (&item->spool_key, g_free);
  g_clear_pointer (&item->event_ids, g_array_unref);
  g_clear_pointer (&item->events, g_ptr_array_unref);
  g_clear_pointer (&item->user_ids, g_array_unref);
  item->queued = FALSE;
}

/* Inserts every item that has not failed, inside the open transaction.
 *
 * Without @isolated, the first item that fails stops the pass: FALSE,
 * and the caller rolls the whole transaction back. That is the common
 * case made cheap: a savepoint per message costs a copy of every page
 * it touches (a sub-journal, spilled to a temporary file past 64 KiB).
 * With @isolated, each message has its own savepoint and one that fails
 * (its channel deleted meanwhile, a full disk) fails alone. */
static gboolean
writer_insert_items (PdStoreWriter *writer,
                     GPtrArray *items,
                     gint64 now,
                     gboolean isolated,
                     guint *out_inserted,
                     GError **error)
{
  *out_inserted = 0;
  for (guint i = 0; i < items->len; i++)
    {
      CommitItem *item = g_ptr_array_index (items, i);
      g_autoptr (GError) item_error = NULL;

      if (item->error != NULL)
        continue;

      if (!isolated)
        {
          if (!writer_insert_message (writer, item, now, &item_error))
            return FALSE;
          (*out_inserted)++;
          continue;
        }

      if (!pd_store_db_exec (writer->db, "SAVEPOINT message", &item_error))
        {
          commit_item_fail (item, item_error);
          continue;
        }
      if (writer_insert_message (writer, item, now, &item_error))
        {
          pd_store_db_exec (writer->db, "RELEASE message", NULL);
          (*out_inserted)++;
          continue;
        }
      /* On a full disk or an I/O error SQLite may have rolled the whole
       * transaction back, the messages before this one included; a
       * SAVEPOINT now would open a transaction of its own, and its RELEASE
       * commit a message that the batch's failure then reports as not
       * stored. Stop: the caller fails the batch. */
      if (sqlite3_get_autocommit (pd_store_db_get_handle (writer->db)))
        {
          g_propagate_error (error, g_steal_pointer (&item_error));
          return FALSE;
        }
      pd_store_db_exec (writer->db, "ROLLBACK TO message", NULL);
      pd_store_db_exec (writer->db, "RELEASE message", NULL);
      commit_item_reset (item);
      commit_item_fail (item, item_error);
    }
  return TRUE;
}

/* Takes @items: they (and the tasks, which hold the store) must be
 * released on the main context, never on this thread, or the last
 * reference to the store could be dropped here and its dispose would join
 * this very thread. */
static void
writer_process_batch (PdStoreWriter *writer,
                      GPtrArray *items)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GSource) source = NULL;
  gint64 now = now_seconds ();
  guint committed = 0;

  for (guint i = 0; i < items->len; i++)
    {
      CommitItem *item = g_ptr_array_index (items, i);
      GCancellable *cancellable = g_task_get_cancellable (item->task);

      g_cancellable_set_error_if_cancelled (cancellable, &item->error);
    }

  if (!pd_store_db_begin (writer->db, &error))
    {
      writer_fail_all (items, error);
    }
  else
    {
      if (!writer_insert_items (writer, items, now, FALSE, &committed, NULL))
        {
          /* Someone's message failed: again, each in its own savepoint. */
          pd_store_db_rollback (writer->db);
          for (guint i = 0; i < items->len; i++)
            commit_item_reset (g_ptr_array_index (items, i));
          if (!pd_store_db_begin (writer->db, &error))
            {
              writer_fail_all (items, error);
            }
          else if (!writer_insert_items (writer, items, now, TRUE, &committed, &error))
            {
              /* The transaction is gone: nothing of the batch is stored. */
              pd_store_db_rollback (writer->db);
              for (guint i = 0; i < items->len; i++)
                commit_item_reset (g_ptr_array_index (items, i));
              writer_fail_all (items, error);
              committed = 0;
            }
        }

      /* One WAL fsync (synchronous=FULL) for the whole batch: bodies,
       * events and deliveries alike. */
      if (error == NULL && !pd_store_db_commit (writer->db, &error))
        {
          writer_fail_all (items, error);
          committed = 0;
        }
    }

  if (error != NULL)
    g_warning ("Store: a commit batch of %u messages failed: %s", items->len, error->message);

  g_mutex_lock (&writer->stats_lock);
  if (committed > 0)
    writer->batches++;
  writer->messages += committed;
  g_mutex_unlock (&writer->stats_lock);

  /* Signals and completions on the main context, in order. */
  source = g_idle_source_new ();
  g_source_set_priority (source, G_PRIORITY_DEFAULT);
  g_source_set_callback (source, complete_batch_cb, items, (GDestroyNotify)g_ptr_array_unref);
  g_source_set_static_name (source, "[posternd] store commit");
  g_source_attach (source, writer->main_context);

  /* After the results are on their way: the checkpoint delays only the
   * next batch, which grows meanwhile. */
  writer_checkpoint (writer);
}

/* See WRITER_NICE. On Linux the nice value is the thread's own, and
 * PRIO_PROCESS 0 names the calling thread. */
static void
writer_yield_to_sessions (void)
{
  int nice_now;

  errno = 0;
  nice_now = getpriority (PRIO_PROCESS, 0);
  if (errno != 0 || setpriority (PRIO_PROCESS, 0, MIN (nice_now + WRITER_NICE, 19)) != 0)
    g_debug ("Store: the writer keeps the daemon's priority: %s", g_strerror (errno));
}

static gpointer
writer_thread_func (gpointer data)
{
  PdStoreWriter *writer = data;
  gboolean quit = FALSE;

  writer_yield_to_sessions ();

  while (!quit)
    {
      GPtrArray *items = g_ptr_array_new_with_free_func (commit_item_free);
      gpointer next = g_async_queue_pop (writer->queue);

      /* Everything queued at this moment goes into one transaction. */
      while (next != NULL)
        {
          CommitItem *item;

          if (next == WRITER_QUIT)
            {
              quit = TRUE;
              break;
            }

          item = g_new0 (CommitItem, 1);
          item->task = next;
          item->message = g_task_get_task_data (item->task);
          g_ptr_array_add (items, item);

          next = items->len < WRITER_MAX_BATCH ? g_async_queue_try_pop (writer->queue) : NULL;
        }

      if (items->len > 0)
        writer_process_batch (writer, g_steal_pointer (&items));
      else
        g_ptr_array_unref (items);
    }

  return NULL;
}

static PdStoreWriter *
writer_new (const char *db_path,
            GMainContext *main_context,
            GError **error)
{
  PdStoreWriter *writer;
  PdStoreDb *db;

  db = pd_store_db_open (db_path, error);
  /* temp_store: the savepoints of a batch that needs them (see
   * writer_insert_items) keep their sub-journals in memory. */
  if (db == NULL || !pd_store_db_exec (db, "PRAGMA journal_size_limit = " G_STRINGIFY (WAL_SIZE_LIMIT), error) || !pd_store_db_exec (db, "PRAGMA temp_store = MEMORY", error))
    {
      g_clear_pointer (&db, pd_store_db_close);
      return NULL;
    }

  writer = g_new0 (PdStoreWriter, 1);
  writer->db = db;
  /* Replaces SQLite's autocheckpoint on this connection: see
   * WAL_CHECKPOINT_PAGES. */
  sqlite3_wal_hook (pd_store_db_get_handle (db), writer_wal_hook_cb, writer);
  writer->main_context = g_main_context_ref (main_context);
  writer->queue = g_async_queue_new ();
  g_mutex_init (&writer->stats_lock);
  writer->thread = g_thread_new ("pd-store-writer", writer_thread_func, writer);
  return writer;
}

static void
writer_free (PdStoreWriter *writer)
{
  if (writer == NULL)
    return;

  g_async_queue_push (writer->queue, WRITER_QUIT);
  g_thread_join (writer->thread);
  g_async_queue_unref (writer->queue);
  pd_store_db_close (writer->db);
  g_main_context_unref (writer->main_context);
  g_mutex_clear (&writer->stats_lock);
  g_free (writer);
}

static gboolean
complete_batch_cb (gpointer data)
{
  GPtrArray *items = data;
  g_autoptr (PdStore) self = NULL;
  gboolean queued = FALSE;

  if (items->len == 0)
    return G_SOURCE_REMOVE;

  self = g_object_ref (g_task_get_source_object (((CommitItem *)g_ptr_array_index (items, 0))->task));

  for (guint i = 0; i < items->len; i++)
    {
      CommitItem *item = g_ptr_array_index (items, i);

      if (item->error != NULL)
        continue;
      for (guint j = 0; j < item->events->len; j++)
        g_signal_emit (self, signals[EVENT_ADDED], 0,
                       g_array_index (item->user_ids, gint64, j),
                       g_ptr_array_index (item->events, j));
      queued |= item->queued;
    }

  for (guint i = 0; i < items->len; i++)
    {
      CommitItem *item = g_ptr_array_index (items, i);

      if (item->error != NULL)
        g_task_return_error (item->task, g_steal_pointer (&item->error));
      else
        g_task_return_pointer (item->task, g_steal_pointer (&item->event_ids),
                               (GDestroyNotify)g_array_unref);
    }

  if (queued)
    g_signal_emit (self, signals[DELIVERIES_QUEUED], 0);

  return G_SOURCE_REMOVE;
}

void
pd_store_commit_message_async (PdStore *self,
                               PdMessage *message,
                               GCancellable *cancellable,
                               GAsyncReadyCallback callback,
                               gpointer user_data)
{
  g_autoptr (GTask) task = NULL;

  g_return_if_fail (PD_IS_STORE (self));
  g_return_if_fail (message != NULL);
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, pd_store_commit_message_async);

  if (message->recipients == NULL || message->recipients->len == 0)
    {
      g_task_return_new_error (task, PD_STORE_ERROR, PD_STORE_ERROR_INVALID,
                               "A message needs at least one recipient");
      return;
    }

  g_task_set_task_data (task, message_copy_sanitized (message), (GDestroyNotify)pd_message_free);
  g_async_queue_push (self->writer->queue, g_steal_pointer (&task));
}

GArray *
pd_store_commit_message_finish (PdStore *self,
                                GAsyncResult *result,
                                GError **error)
{
  g_return_val_if_fail (PD_IS_STORE (self), NULL);
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

guint64
pd_store_get_commit_batches (PdStore *self)
{
  guint64 batches;

  g_return_val_if_fail (PD_IS_STORE (self), 0);

  g_mutex_lock (&self->writer->stats_lock);
  batches = self->writer->batches;
  g_mutex_unlock (&self->writer->stats_lock);
  return batches;
}

guint64
pd_store_get_committed_messages (PdStore *self)
{
  guint64 messages;

  g_return_val_if_fail (PD_IS_STORE (self), 0);

  g_mutex_lock (&self->writer->stats_lock);
  messages = self->writer->messages;
  g_mutex_unlock (&self->writer->stats_lock);
  return messages;
}

/* ------------------------------------------------------------------ */
/* The object                                                          */

static void
pd_store_dispose (GObject *object)
{
  PdStore *self = PD_STORE (object);

  g_clear_pointer (&self->writer, writer_free);

  G_OBJECT_CLASS (pd_store_parent_class)->dispose (object);
}

static void
pd_store_finalize (GObject *object)
{
  PdStore *self = PD_STORE (object);

  g_clear_pointer (&self->db, pd_store_db_close);
  g_clear_pointer (&self->spool, pd_spool_free);
  g_clear_pointer (&self->main_context, g_main_context_unref);
  g_free (self->state_dir);

  G_OBJECT_CLASS (pd_store_parent_class)->finalize (object);
}

static void
pd_store_class_init (PdStoreClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = pd_store_dispose;
  object_class->finalize = pd_store_finalize;

  signals[EVENT_ADDED] = g_signal_new ("event-added", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                       0, NULL, NULL, NULL, G_TYPE_NONE, 2, G_TYPE_INT64, POSTERN_TYPE_EVENT);
  signals[CHANNEL_CHANGED] = g_signal_new ("channel-changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                           0, NULL, NULL, NULL, G_TYPE_NONE, 2, G_TYPE_INT64, POSTERN_TYPE_CHANNEL);
  signals[CHANNEL_DELETED] = g_signal_new ("channel-deleted", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                           0, NULL, NULL, NULL, G_TYPE_NONE, 3, G_TYPE_INT64, G_TYPE_STRING, G_TYPE_INT64);
  signals[DELIVERIES_QUEUED] = g_signal_new ("deliveries-queued", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                             0, NULL, NULL, NULL, G_TYPE_NONE, 0);
}

static void
pd_store_init (PdStore *self)
{
}

static gboolean key_is_needed (PdStore *self, const char *key, gboolean *out_needed, GError **error);

static void
collect_orphan_cb (gpointer data,
                   gpointer user_data)
{
  const char *key = data;
  PdStore *self = user_data;
  g_autoptr (GError) error = NULL;
  gboolean needed = TRUE;

  if (!key_is_needed (self, key, &needed, &error))
    g_warning ("Store: cannot check spool file %s: %s", key, error->message);
  else if (!needed && !pd_spool_remove (self->spool, key, &error))
    g_warning ("%s", error->message);
  else if (!needed)
    g_debug ("Store: removed orphan spool file %s", key);
}

static void
collect_orphan_bodies (PdStore *self)
{
  g_autoptr (PdStoreStmt) stmt = NULL;
  g_autoptr (GError) error = NULL;

  stmt = pd_store_db_prepare (self->db,
                              "DELETE FROM messages WHERE NOT EXISTS "
                              "(SELECT 1 FROM deliveries d WHERE d.message_key = messages.key "
                              "AND d.state IN ('pending', 'held'))",
                              &error);
  if (stmt == NULL || !pd_store_db_step_done (self->db, stmt, &error))
    g_warning ("Store: cannot collect unneeded message bodies: %s", error->message);
  else if (sqlite3_changes (pd_store_db_get_handle (self->db)) > 0)
    g_debug ("Store: removed %d unneeded message bodies", sqlite3_changes (pd_store_db_get_handle (self->db)));
}

PdStore *
pd_store_open (const char *state_dir,
               GError **error)
{
  g_autoptr (PdStore) self = NULL;
  g_autofree char *db_path = NULL;
  g_autofree char *spool_path = NULL;

  g_return_val_if_fail (state_dir != NULL, NULL);

  if (g_mkdir_with_parents (state_dir, 0700) != 0)
    {
      int saved_errno = errno;

      g_set_error (error, PD_STORE_ERROR, PD_STORE_ERROR_FAILED,
                   "Cannot create %s: %s", state_dir, g_strerror (saved_errno));
      return NULL;
    }

  self = g_object_new (PD_TYPE_STORE, NULL);
  self->state_dir = g_strdup (state_dir);
  self->main_context = g_main_context_ref_thread_default ();

  spool_path = g_build_filename (state_dir, "spool", NULL);
  self->spool = pd_spool_new (spool_path, error);
  if (self->spool == NULL)
    return NULL;

  db_path = g_build_filename (state_dir, "posternd.sqlite", NULL);
  self->db = pd_store_db_open (db_path, error);
  if (self->db == NULL || !pd_store_migrate (self->db, &self->schema_version, error))
    return NULL;

  if (!pd_store_db_exec (self->db, "PRAGMA journal_size_limit = " G_STRINGIFY (WAL_SIZE_LIMIT), error) || !pd_store_db_exec (self->db, "PRAGMA wal_autocheckpoint = " G_STRINGIFY (WAL_BACKSTOP_PAGES), error))
    return NULL;

  self->writer = writer_new (db_path, self->main_context, error);
  if (self->writer == NULL)
    return NULL;

  /* Bodies whose last row became final or was removed, when a crash came
   * between that commit and the body's removal. */
  collect_orphan_bodies (self);

  /* Spool files (of a database older than the messages table) no row
   * needs any more: left by a crash, or by a failed clean-up. Old enough
   * that no commit of another process of an older posternd can still be
   * on its way for them. */
  pd_spool_foreach_old (self->spool, SPOOL_ORPHAN_SECONDS, collect_orphan_cb, self);

  return g_steal_pointer (&self);
}

int
pd_store_get_schema_version (PdStore *self)
{
  g_return_val_if_fail (PD_IS_STORE (self), 0);

  return self->schema_version;
}

const char *
pd_store_get_spool_dir (PdStore *self)
{
  g_return_val_if_fail (PD_IS_STORE (self), NULL);

  return pd_spool_get_path (self->spool);
}

/* Runs @func inside BEGIN IMMEDIATE ... COMMIT on the main connection. */
typedef gboolean (*TransactionFunc) (PdStore *self, gpointer data, GError **error);

static gboolean
in_transaction (PdStore *self,
                TransactionFunc func,
                gpointer data,
                GError **error)
{
  if (!pd_store_db_begin (self->db, error))
    return FALSE;

  if (!func (self, data, error))
    {
      pd_store_db_rollback (self->db);
      return FALSE;
    }

  return pd_store_db_commit (self->db, error);
}

static gboolean
not_found (GError **error,
           const char *what)
{
  g_set_error (error, PD_STORE_ERROR, PD_STORE_ERROR_NOT_FOUND, "No such %s", what);
  return FALSE;
}

/* ------------------------------------------------------------------ */
/* Users                                                               */

#define USER_COLUMNS "id, name, maildir, forward_to, created_at"

static PdUser *
get_user_by (PdStore *self,
             const char *sql,
             const char *name,
             gint64 id,
             GError **error)
{
  g_autoptr (PdStoreStmt) stmt = pd_store_db_prepare (self->db, sql, error);
  gboolean row = FALSE;

  if (stmt == NULL)
    return NULL;

  if (name != NULL)
    pd_store_stmt_bind_text (stmt, 1, name);
  else
    sqlite3_bind_int64 (stmt, 1, id);

  if (!pd_store_db_step (self->db, stmt, &row, error))
    return NULL;
  if (!row)
    {
      not_found (error, "user");
      return NULL;
    }

  return user_from_row (stmt);
}

PdUser *
pd_store_add_user (PdStore *self,
                   const char *name,
                   const char *maildir,
                   const char *forward_to,
                   GError **error)
{
  g_autoptr (PdStoreStmt) stmt = NULL;
  gint64 id;

  g_return_val_if_fail (PD_IS_STORE (self), NULL);
  g_return_val_if_fail (name != NULL, NULL);

  maildir = empty_to_null (maildir);
  forward_to = empty_to_null (forward_to);

  if (!user_name_is_valid (name))
    {
      g_set_error (error, PD_STORE_ERROR, PD_STORE_ERROR_INVALID,
                   "A user name is 1 to %d characters of a-z, 0-9, '.', '_' and '-'", USER_NAME_MAX);
      return NULL;
    }
  if (!check_user_targets (maildir, forward_to, error))
    return NULL;

  stmt = pd_store_db_prepare (self->db,
                              "INSERT INTO users (name, maildir, forward_to, created_at) VALUES (?1, ?2, ?3, ?4)",
                              error);
  if (stmt == NULL)
    return NULL;

  pd_store_stmt_bind_text (stmt, 1, name);
  pd_store_stmt_bind_text (stmt, 2, maildir);
  pd_store_stmt_bind_text (stmt, 3, forward_to);
  sqlite3_bind_int64 (stmt, 4, now_seconds ());
  if (!pd_store_db_step_done (self->db, stmt, error))
    {
      g_prefix_error (error, "User %s: ", name);
      return NULL;
    }

  id = sqlite3_last_insert_rowid (pd_store_db_get_handle (self->db));
  return pd_store_get_user (self, id, error);
}

PdUser *
pd_store_lookup_user (PdStore *self,
                      const char *name,
                      GError **error)
{
  g_return_val_if_fail (PD_IS_STORE (self), NULL);
  g_return_val_if_fail (name != NULL, NULL);

  return get_user_by (self, "SELECT " USER_COLUMNS " FROM users WHERE name = ?1", name, 0, error);
}

PdUser *
pd_store_get_user (PdStore *self,
                   gint64 user_id,
                   GError **error)
{
  g_return_val_if_fail (PD_IS_STORE (self), NULL);

  return get_user_by (self, "SELECT " USER_COLUMNS " FROM users WHERE id = ?1", NULL, user_id, error);
}

GPtrArray *
pd_store_list_users (PdStore *self,
                     GError **error)
{
  g_autoptr (PdStoreStmt) stmt = NULL;
  g_autoptr (GPtrArray) users = g_ptr_array_new_with_free_func ((GDestroyNotify)pd_user_free);

  g_return_val_if_fail (PD_IS_STORE (self), NULL);

  stmt = pd_store_db_prepare (self->db, "SELECT " USER_COLUMNS " FROM users ORDER BY name", error);
  if (stmt == NULL)
    return NULL;

  for (;;)
    {
      gboolean row = FALSE;

      if (!pd_store_db_step (self->db, stmt, &row, error))
        return NULL;
      if (!row)
        break;
      g_ptr_array_add (users, user_from_row (stmt));
    }

  return g_steal_pointer (&users);
}

/* Keys of spool files that rows of @user_id still need. */
static GPtrArray *
live_keys_of_user (PdStore *self,
                   gint64 user_id,
                   GError **error)
{
  g_autoptr (PdStoreStmt) stmt = NULL;
  g_autoptr (GPtrArray) keys = g_ptr_array_new_with_free_func (g_free);

  stmt = pd_store_db_prepare (self->db,
                              "SELECT DISTINCT message_key FROM deliveries "
                              "WHERE user_id = ?1 AND state IN ('pending', 'held')",
                              error);
  if (stmt == NULL)
    return NULL;

  sqlite3_bind_int64 (stmt, 1, user_id);
  for (;;)
    {
      gboolean row = FALSE;

      if (!pd_store_db_step (self->db, stmt, &row, error))
        return NULL;
      if (!row)
        break;
      g_ptr_array_add (keys, g_strdup (pd_store_stmt_column_text (stmt, 0)));
    }

  return g_steal_pointer (&keys);
}

static gboolean
key_is_needed (PdStore *self,
               const char *key,
               gboolean *out_needed,
               GError **error)
{
  g_autoptr (PdStoreStmt) stmt = NULL;

  stmt = pd_store_db_prepare (self->db,
                              "SELECT 1 FROM deliveries WHERE message_key = ?1 "
                              "AND state IN ('pending', 'held') LIMIT 1",
                              error);
  if (stmt == NULL)
    return FALSE;

  pd_store_stmt_bind_text (stmt, 1, key);
  return pd_store_db_step (self->db, stmt, out_needed, error);
}

/* Inside a transaction: when no delivery row still needs @key, removes
 * its body from the messages table and unlinks the events from it.
 * *out_legacy_file is TRUE when the body was not in the table, so it can
 * only be a spool file of an older database, to remove after the commit. */
static gboolean
forget_body_if_unneeded (PdStore *self,
                         const char *key,
                         gboolean *out_legacy_file,
                         GError **error)
{
  g_autoptr (PdStoreStmt) delete_body = NULL;
  g_autoptr (PdStoreStmt) unlink_events = NULL;
  gboolean needed = TRUE;

  *out_legacy_file = FALSE;
  if (!key_is_needed (self, key, &needed, error))
    return FALSE;
  if (needed)
    return TRUE;

  delete_body = pd_store_db_prepare (self->db, "DELETE FROM messages WHERE key = ?1", error);
  if (delete_body == NULL)
    return FALSE;
  pd_store_stmt_bind_text (delete_body, 1, key);
  if (!pd_store_db_step_done (self->db, delete_body, error))
    return FALSE;
  *out_legacy_file = sqlite3_changes (pd_store_db_get_handle (self->db)) == 0;

  /* The events no longer have a body to point to. */
  unlink_events = pd_store_db_prepare (self->db, "UPDATE events SET message_key = NULL WHERE message_key = ?1", error);
  if (unlink_events == NULL)
    return FALSE;
  pd_store_stmt_bind_text (unlink_events, 1, key);
  return pd_store_db_step_done (self->db, unlink_events, error);
}

typedef struct
{
  const char *key;
  gboolean legacy_file;
} CollectOp;

static gboolean
collect_body_txn (PdStore *self,
                  gpointer data,
                  GError **error)
{
  CollectOp *op = data;

  return forget_body_if_unneeded (self, op->key, &op->legacy_file, error);
}

/* Removes the body of @key when no delivery row still needs it. Failures
 * are logged: a left-over body is collected at the next start. */
static void
collect_spool_file (PdStore *self,
                    const char *key)
{
  g_autoptr (GError) error = NULL;
  CollectOp op = { key, FALSE };

  if (key == NULL || !pd_spool_key_is_valid (key))
    return;

  if (!in_transaction (self, collect_body_txn, &op, &error))
    {
      g_warning ("Store: cannot collect message body %s: %s", key, error->message);
      return;
    }

  /* After the commit, as before the messages table: a crash here leaves
   * a file that the next start collects. */
  if (op.legacy_file && !pd_spool_remove (self->spool, key, &error))
    g_warning ("%s", error->message);
}

static gboolean
delete_user_row (PdStore *self,
                 const char *name,
                 GError **error)
{
  g_autoptr (PdStoreStmt) stmt = NULL;

  stmt = pd_store_db_prepare (self->db, "DELETE FROM users WHERE name = ?1", error);
  if (stmt == NULL)
    return FALSE;

  pd_store_stmt_bind_text (stmt, 1, name);
  if (!pd_store_db_step_done (self->db, stmt, error))
    return FALSE;
  if (sqlite3_changes (pd_store_db_get_handle (self->db)) == 0)
    return not_found (error, "user");

  return TRUE;
}

gboolean
pd_store_remove_user (PdStore *self,
                      const char *name,
                      GError **error)
{
  g_autoptr (PdUser) user = NULL;
  g_autoptr (GPtrArray) keys = NULL;

  g_return_val_if_fail (PD_IS_STORE (self), FALSE);
  g_return_val_if_fail (name != NULL, FALSE);

  user = pd_store_lookup_user (self, name, error);
  if (user == NULL)
    return FALSE;

  keys = live_keys_of_user (self, user->id, error);
  if (keys == NULL)
    return FALSE;

  /* Cascades to channels, events, deliveries, devices, ... */
  if (!delete_user_row (self, name, error))
    return FALSE;

  for (guint i = 0; i < keys->len; i++)
    collect_spool_file (self, g_ptr_array_index (keys, i));

  return TRUE;
}

gboolean
pd_store_set_user_targets (PdStore *self,
                           gint64 user_id,
                           const char *maildir,
                           const char *forward_to,
                           GError **error)
{
  g_autoptr (PdStoreStmt) stmt = NULL;

  g_return_val_if_fail (PD_IS_STORE (self), FALSE);

  maildir = empty_to_null (maildir);
  forward_to = empty_to_null (forward_to);
  if (!check_user_targets (maildir, forward_to, error))
    return FALSE;

  stmt = pd_store_db_prepare (self->db, "UPDATE users SET maildir = ?2, forward_to = ?3 WHERE id = ?1", error);
  if (stmt == NULL)
    return FALSE;

  sqlite3_bind_int64 (stmt, 1, user_id);
  pd_store_stmt_bind_text (stmt, 2, maildir);
  pd_store_stmt_bind_text (stmt, 3, forward_to);
  if (!pd_store_db_step_done (self->db, stmt, error))
    return FALSE;
  if (sqlite3_changes (pd_store_db_get_handle (self->db)) == 0)
    return not_found (error, "user");

  return TRUE;
}

/* ------------------------------------------------------------------ */
/* Channels                                                            */

static gboolean
bump_revision (PdStore *self,
               gint64 user_id,
               gint64 *out_revision,
               GError **error)
{
  g_autoptr (PdStoreStmt) stmt = NULL;
  gboolean row = FALSE;

  stmt = pd_store_db_prepare (self->db,
                              "UPDATE users SET revision = revision + 1 WHERE id = ?1 RETURNING revision",
                              error);
  if (stmt == NULL)
    return FALSE;

  sqlite3_bind_int64 (stmt, 1, user_id);
  if (!pd_store_db_step (self->db, stmt, &row, error))
    return FALSE;
  if (!row)
    return not_found (error, "user");

  *out_revision = sqlite3_column_int64 (stmt, 0);
  return TRUE;
}

/* Any channel row with @channel_id, deleted or not, of any user. */
static PosternChannel *
load_channel (PdStore *self,
              const char *channel_id,
              gint64 *out_user_id,
              gboolean *out_deleted,
              GError **error)
{
  g_autoptr (PdStoreStmt) stmt = NULL;
  gboolean row = FALSE;

  stmt = pd_store_db_prepare (self->db, "SELECT " CHANNEL_COLUMNS " FROM channels WHERE id = ?1", error);
  if (stmt == NULL)
    return NULL;

  pd_store_stmt_bind_text (stmt, 1, channel_id);
  if (!pd_store_db_step (self->db, stmt, &row, error))
    return NULL;
  if (!row)
    return NULL;

  return channel_from_row (stmt, out_user_id, out_deleted, error);
}

/* The channel of @user_id, not deleted; NOT_FOUND otherwise. */
static PosternChannel *
load_user_channel (PdStore *self,
                   gint64 user_id,
                   const char *channel_id,
                   GError **error)
{
  g_autoptr (PosternChannel) channel = NULL;
  g_autoptr (GError) local_error = NULL;
  gint64 owner = 0;
  gboolean deleted = FALSE;

  channel = load_channel (self, channel_id, &owner, &deleted, &local_error);
  if (local_error != NULL)
    {
      g_propagate_error (error, g_steal_pointer (&local_error));
      return NULL;
    }
  if (channel == NULL || owner != user_id || deleted)
    {
      not_found (error, "channel");
      return NULL;
    }

  return g_steal_pointer (&channel);
}

PosternChannel *
pd_store_lookup_channel (PdStore *self,
                         const char *address,
                         gint64 *out_user_id,
                         GError **error)
{
  g_autoptr (PdStoreStmt) stmt = NULL;
  g_autofree char *folded = NULL;
  gboolean row = FALSE;

  g_return_val_if_fail (PD_IS_STORE (self), NULL);
  g_return_val_if_fail (address != NULL, NULL);

  if (!g_utf8_validate (address, -1, NULL))
    return NULL;

  folded = g_ascii_strdown (address, -1);
  stmt = pd_store_db_prepare (self->db,
                              "SELECT " CHANNEL_COLUMNS " FROM channels WHERE address = ?1 AND deleted = 0",
                              error);
  if (stmt == NULL)
    return NULL;

  pd_store_stmt_bind_text (stmt, 1, folded);
  if (!pd_store_db_step (self->db, stmt, &row, error) || !row)
    return NULL;

  return channel_from_row (stmt, out_user_id, NULL, error);
}

PosternChannel *
pd_store_lookup_recipient (PdStore *self,
                           const char *address,
                           gint64 *out_user_id,
                           GPtrArray **out_blocks,
                           GError **error)
{
  g_autoptr (PosternChannel) channel = NULL;
  g_autoptr (GError) local_error = NULL;
  gint64 user_id = 0;

  g_return_val_if_fail (PD_IS_STORE (self), NULL);
  g_return_val_if_fail (address != NULL, NULL);
  g_return_val_if_fail (out_blocks != NULL, NULL);

  *out_blocks = NULL;
  if (!pd_store_db_begin_read (self->db, error))
    return NULL;

  channel = pd_store_lookup_channel (self, address, &user_id, &local_error);
  if (channel != NULL)
    *out_blocks = pd_store_list_blocks (self, user_id, &local_error);

  /* Nothing was written: ending the transaction only drops the snapshot. */
  pd_store_db_rollback (self->db);

  if (local_error != NULL)
    {
      g_clear_pointer (out_blocks, g_ptr_array_unref);
      g_propagate_error (error, g_steal_pointer (&local_error));
      return NULL;
    }
  if (out_user_id != NULL)
    *out_user_id = user_id;
  return g_steal_pointer (&channel);
}

PosternChannel *
pd_store_get_channel (PdStore *self,
                      gint64 user_id,
                      const char *channel_id,
                      GError **error)
{
  g_return_val_if_fail (PD_IS_STORE (self), NULL);
  g_return_val_if_fail (channel_id != NULL, NULL);

  return load_user_channel (self, user_id, channel_id, error);
}

static gboolean
check_channel (PosternChannel *channel,
               GError **error)
{
  const char *id = postern_channel_get_id (channel);
  const char *address = postern_channel_get_address (channel);

  if (id == NULL || !postern_uuid_is_valid (id))
    {
      g_set_error (error, PD_STORE_ERROR, PD_STORE_ERROR_INVALID, "A channel needs a UUID");
      return FALSE;
    }
  if (address == NULL || *address == '\0' || strchr (address, '@') == NULL || !check_utf8 (address, POSTERN_MAILBOX_MAX_LENGTH, "address", error))
    {
      g_clear_error (error);
      g_set_error (error, PD_STORE_ERROR, PD_STORE_ERROR_INVALID, "A channel needs an address");
      return FALSE;
    }

  /* The channel's setters validated these; a store is a boundary, so we
   * check again rather than trust every caller built it that way. */
  return check_utf8 (postern_channel_get_label (channel), POSTERN_CHANNEL_MAX_LABEL * 4, "label", error) && check_utf8 (postern_channel_get_note (channel), POSTERN_CHANNEL_MAX_NOTE * 4, "note", error) && check_utf8 (postern_channel_get_farewell_text (channel), POSTERN_CHANNEL_MAX_FAREWELL * 4, "farewell text", error);
}

/* An address a new channel may take: one ingest can find. Its local part
 * is ASCII (posternd does not offer SMTPUTF8, so RCPT refuses others) and
 * has no '+' (ingest strips a subaddress before the lookup). */
static gboolean
check_new_address (const char *address,
                   GError **error)
{
  const char *at = strrchr (address, '@');

  for (const char *p = address; p < at; p++)
    {
      if (*p == '+' || (guchar)*p >= 0x80)
        {
          g_set_error (error, PD_STORE_ERROR, PD_STORE_ERROR_INVALID,
                       "A channel's local part is ASCII without '+' (mail could never reach %s)", address);
          return FALSE;
        }
    }
  return TRUE;
}

/* Binds the mutable fields as ?3 .. ?11 (see the INSERT and UPDATE). */
static void
bind_channel_fields (PdStoreStmt *stmt,
                     PosternChannel *channel)
{
  g_autofree char *senders = senders_to_json (channel);
  const char *label = postern_channel_get_label (channel);
  const char *note = postern_channel_get_note (channel);
  const char *farewell_text = postern_channel_get_farewell_text (channel);

  pd_store_stmt_bind_text (stmt, 3, label ? label : "");
  pd_store_stmt_bind_text (stmt, 4, note ? note : "");
  pd_store_stmt_bind_text (stmt, 5, postern_channel_kind_to_string (postern_channel_get_kind (channel)));
  pd_store_stmt_bind_text (stmt, 6, postern_channel_state_to_string (postern_channel_get_state (channel)));
  pd_store_stmt_bind_text (stmt, 7, postern_unexpected_policy_to_string (postern_channel_get_on_unexpected (channel)));
  pd_store_stmt_bind_text (stmt, 8, postern_farewell_to_string (postern_channel_get_farewell (channel)));
  pd_store_stmt_bind_text (stmt, 9, farewell_text ? farewell_text : "");
  pd_store_stmt_bind_text (stmt, 10, senders);
  sqlite3_bind_int64 (stmt, 11, postern_channel_get_expires_at (channel));
}

typedef struct
{
  gint64 user_id;
  PosternChannel *channel; /* the caller's */
  PosternChannel *result;  /* stored */
  gboolean existed;        /* idempotent create */
  gint64 if_revision;
  char *address; /* folded */
} ChannelOp;

static gboolean
create_channel_txn (PdStore *self,
                    gpointer data,
                    GError **error)
{
  ChannelOp *op = data;
  g_autoptr (PdStoreStmt) stmt = NULL;
  g_autoptr (PosternChannel) existing = NULL;
  g_autoptr (GError) local_error = NULL;
  const char *id = postern_channel_get_id (op->channel);
  gint64 owner = 0;
  gboolean deleted = FALSE;
  gint64 revision = 0;
  gint64 created_at;

  existing = load_channel (self, id, &owner, &deleted, &local_error);
  if (local_error != NULL)
    {
      g_propagate_error (error, g_steal_pointer (&local_error));
      return FALSE;
    }
  if (existing != NULL)
    {
      if (owner == op->user_id && !deleted && g_strcmp0 (postern_channel_get_address (existing), op->address) == 0)
        {
          op->result = g_steal_pointer (&existing);
          op->existed = TRUE;
          return TRUE;
        }
      g_set_error (error, PD_STORE_ERROR, PD_STORE_ERROR_EXISTS, "Channel %s exists", id);
      return FALSE;
    }

  if (!bump_revision (self, op->user_id, &revision, error))
    return FALSE;

  created_at = postern_channel_get_created_at (op->channel);
  stmt = pd_store_db_prepare (self->db,
                              "INSERT INTO channels (id, address, label, note, kind, state, on_unexpected, "
                              "farewell, farewell_text, expected_senders, expires_at, user_id, created_at, revision) "
                              "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
                              error);
  if (stmt == NULL)
    return FALSE;

  pd_store_stmt_bind_text (stmt, 1, id);
  pd_store_stmt_bind_text (stmt, 2, op->address);
  bind_channel_fields (stmt, op->channel);
  sqlite3_bind_int64 (stmt, 12, op->user_id);
  sqlite3_bind_int64 (stmt, 13, created_at > 0 ? created_at : now_seconds ());
  sqlite3_bind_int64 (stmt, 14, revision);
  if (!pd_store_db_step_done (self->db, stmt, error))
    {
      g_prefix_error (error, "Address %s: ", op->address);
      return FALSE;
    }

  op->result = load_user_channel (self, op->user_id, id, error);
  return op->result != NULL;
}

PosternChannel *
pd_store_create_channel (PdStore *self,
                         gint64 user_id,
                         PosternChannel *channel,
                         GError **error)
{
  g_autofree char *address = NULL;
  ChannelOp op = { 0 };

  g_return_val_if_fail (PD_IS_STORE (self), NULL);
  g_return_val_if_fail (POSTERN_IS_CHANNEL (channel), NULL);

  if (!check_channel (channel, error) || !check_new_address (postern_channel_get_address (channel), error))
    return NULL;

  address = g_ascii_strdown (postern_channel_get_address (channel), -1);
  op.user_id = user_id;
  op.channel = channel;
  op.address = address;

  if (!in_transaction (self, create_channel_txn, &op, error))
    {
      g_clear_object (&op.result);
      return NULL;
    }

  if (!op.existed)
    g_signal_emit (self, signals[CHANNEL_CHANGED], 0, user_id, op.result);

  return op.result;
}

static gboolean
update_channel_txn (PdStore *self,
                    gpointer data,
                    GError **error)
{
  ChannelOp *op = data;
  g_autoptr (PdStoreStmt) stmt = NULL;
  g_autoptr (PosternChannel) stored = NULL;
  const char *id = postern_channel_get_id (op->channel);
  gint64 revision = 0;

  stored = load_user_channel (self, op->user_id, id, error);
  if (stored == NULL)
    return FALSE;

  if (op->if_revision != 0 && postern_channel_get_revision (stored) != op->if_revision)
    {
      g_set_error (error, PD_STORE_ERROR, PD_STORE_ERROR_CONFLICT,
                   "Channel %s is at revision %" G_GINT64_FORMAT ", not %" G_GINT64_FORMAT,
                   id, postern_channel_get_revision (stored), op->if_revision);
      return FALSE;
    }
  /* Revoking is for good (DESIGN.md), whoever asks: API, CLI, sync. */
  if (postern_channel_get_state (stored) == POSTERN_CHANNEL_STATE_REVOKED && postern_channel_get_state (op->channel) != POSTERN_CHANNEL_STATE_REVOKED)
    {
      g_set_error (error, PD_STORE_ERROR, PD_STORE_ERROR_INVALID, "Channel %s is revoked, and stays revoked", id);
      return FALSE;
    }

  if (!bump_revision (self, op->user_id, &revision, error))
    return FALSE;

  stmt = pd_store_db_prepare (self->db,
                              "UPDATE channels SET label = ?3, note = ?4, kind = ?5, state = ?6, "
                              "on_unexpected = ?7, farewell = ?8, farewell_text = ?9, "
                              "expected_senders = ?10, expires_at = ?11, revision = ?12 "
                              "WHERE id = ?1 AND user_id = ?2 AND deleted = 0",
                              error);
  if (stmt == NULL)
    return FALSE;

  pd_store_stmt_bind_text (stmt, 1, id);
  sqlite3_bind_int64 (stmt, 2, op->user_id);
  bind_channel_fields (stmt, op->channel);
  sqlite3_bind_int64 (stmt, 12, revision);
  if (!pd_store_db_step_done (self->db, stmt, error))
    return FALSE;

  op->result = load_user_channel (self, op->user_id, id, error);
  return op->result != NULL;
}

PosternChannel *
pd_store_update_channel (PdStore *self,
                         gint64 user_id,
                         PosternChannel *channel,
                         gint64 if_revision,
                         GError **error)
{
  ChannelOp op = { 0 };

  g_return_val_if_fail (PD_IS_STORE (self), NULL);
  g_return_val_if_fail (POSTERN_IS_CHANNEL (channel), NULL);

  if (!check_channel (channel, error))
    return NULL;

  op.user_id = user_id;
  op.channel = channel;
  op.if_revision = if_revision;

  if (!in_transaction (self, update_channel_txn, &op, error))
    {
      g_clear_object (&op.result);
      return NULL;
    }

  g_signal_emit (self, signals[CHANNEL_CHANGED], 0, user_id, op.result);
  return op.result;
}

GPtrArray *
pd_store_list_channels (PdStore *self,
                        gint64 user_id,
                        gint64 since_revision,
                        GPtrArray **out_tombstones,
                        GError **error)
{
  g_autoptr (PdStoreStmt) stmt = NULL;
  g_autoptr (GPtrArray) channels = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr (GPtrArray) tombstones = g_ptr_array_new_with_free_func (g_free);

  g_return_val_if_fail (PD_IS_STORE (self), NULL);

  stmt = pd_store_db_prepare (self->db,
                              "SELECT " CHANNEL_COLUMNS " FROM channels "
                              "WHERE user_id = ?1 AND revision > ?2 ORDER BY revision",
                              error);
  if (stmt == NULL)
    return NULL;

  sqlite3_bind_int64 (stmt, 1, user_id);
  sqlite3_bind_int64 (stmt, 2, since_revision);
  for (;;)
    {
      g_autoptr (PosternChannel) channel = NULL;
      gboolean row = FALSE;

      if (!pd_store_db_step (self->db, stmt, &row, error))
        return NULL;
      if (!row)
        break;

      if (sqlite3_column_int (stmt, 14) != 0)
        {
          g_ptr_array_add (tombstones, g_strdup (pd_store_stmt_column_text (stmt, 0)));
          continue;
        }

      channel = channel_from_row (stmt, NULL, NULL, error);
      if (channel == NULL)
        return NULL;
      g_ptr_array_add (channels, g_steal_pointer (&channel));
    }

  if (out_tombstones != NULL)
    *out_tombstones = g_steal_pointer (&tombstones);

  return g_steal_pointer (&channels);
}

static gboolean
delete_channel_txn (PdStore *self,
                    gpointer data,
                    GError **error)
{
  ChannelOp *op = data;
  g_autoptr (PosternChannel) stored = NULL;
  g_autoptr (PdStoreStmt) stmt = NULL;
  const char *id = op->address; /* the channel id, for this operation */

  stored = load_user_channel (self, op->user_id, id, error);
  if (stored == NULL || !bump_revision (self, op->user_id, &op->if_revision, error))
    return FALSE;

  stmt = pd_store_db_prepare (self->db,
                              "UPDATE channels SET deleted = 1, revision = ?3 WHERE id = ?1 AND user_id = ?2",
                              error);
  if (stmt == NULL)
    return FALSE;

  pd_store_stmt_bind_text (stmt, 1, id);
  sqlite3_bind_int64 (stmt, 2, op->user_id);
  sqlite3_bind_int64 (stmt, 3, op->if_revision);
  return pd_store_db_step_done (self->db, stmt, error);
}

gboolean
pd_store_delete_channel (PdStore *self,
                         gint64 user_id,
                         const char *channel_id,
                         GError **error)
{
  ChannelOp op = { 0 };

  g_return_val_if_fail (PD_IS_STORE (self), FALSE);
  g_return_val_if_fail (channel_id != NULL, FALSE);

  op.user_id = user_id;
  op.address = (char *)channel_id;
  if (!in_transaction (self, delete_channel_txn, &op, error))
    return FALSE;

  g_signal_emit (self, signals[CHANNEL_DELETED], 0, user_id, channel_id, op.if_revision);
  return TRUE;
}

typedef struct
{
  const char *channel_id;
  const char *senders;
  gboolean bound;
  gint64 user_id;
} BindOp;

static gboolean
bind_one_time_txn (PdStore *self,
                   gpointer data,
                   GError **error)
{
  BindOp *op = data;
  g_autoptr (PdStoreStmt) stmt = NULL;
  g_autoptr (PdStoreStmt) owner = NULL;
  gint64 revision = 0;
  gboolean row = FALSE;

  /* The WHERE clause is the lock: of two messages racing for a fresh
   * one-time channel, only one UPDATE changes a row. */
  stmt = pd_store_db_prepare (self->db,
                              "UPDATE channels SET expected_senders = ?2 "
                              "WHERE id = ?1 AND kind = 'one-time' AND expected_senders = '[]' AND deleted = 0",
                              error);
  if (stmt == NULL)
    return FALSE;

  pd_store_stmt_bind_text (stmt, 1, op->channel_id);
  pd_store_stmt_bind_text (stmt, 2, op->senders);
  if (!pd_store_db_step_done (self->db, stmt, error))
    return FALSE;
  if (sqlite3_changes (pd_store_db_get_handle (self->db)) != 1)
    return TRUE;

  owner = pd_store_db_prepare (self->db, "SELECT user_id FROM channels WHERE id = ?1", error);
  if (owner == NULL)
    return FALSE;
  pd_store_stmt_bind_text (owner, 1, op->channel_id);
  if (!pd_store_db_step (self->db, owner, &row, error))
    return FALSE;
  if (!row)
    return not_found (error, "channel");
  op->user_id = sqlite3_column_int64 (owner, 0);

  if (!bump_revision (self, op->user_id, &revision, error))
    return FALSE;

  g_clear_pointer (&stmt, pd_store_stmt_release);
  stmt = pd_store_db_prepare (self->db, "UPDATE channels SET revision = ?2 WHERE id = ?1", error);
  if (stmt == NULL)
    return FALSE;
  pd_store_stmt_bind_text (stmt, 1, op->channel_id);
  sqlite3_bind_int64 (stmt, 2, revision);
  if (!pd_store_db_step_done (self->db, stmt, error))
    return FALSE;

  op->bound = TRUE;
  return TRUE;
}

gboolean
pd_store_bind_one_time (PdStore *self,
                        const char *channel_id,
                        const PosternMailbox *sender,
                        GError **error)
{
  g_autoptr (PosternSenderPattern) pattern = NULL;
  g_autoptr (PosternChannel) channel = NULL;
  g_autoptr (JsonBuilder) builder = json_builder_new ();
  g_autoptr (JsonGenerator) generator = json_generator_new ();
  g_autoptr (JsonNode) root = NULL;
  g_autofree char *pattern_text = NULL;
  g_autofree char *senders = NULL;
  BindOp op = { 0 };

  g_return_val_if_fail (PD_IS_STORE (self), FALSE);
  g_return_val_if_fail (channel_id != NULL, FALSE);
  g_return_val_if_fail (sender != NULL, FALSE);

  pattern = postern_sender_pattern_new_for_mailbox (sender);
  pattern_text = postern_sender_pattern_to_string (pattern);

  json_builder_begin_array (builder);
  json_builder_add_string_value (builder, pattern_text);
  json_builder_end_array (builder);
  root = json_builder_get_root (builder);
  json_generator_set_root (generator, root);
  senders = json_generator_to_data (generator, NULL);

  op.channel_id = channel_id;
  op.senders = senders;
  if (!in_transaction (self, bind_one_time_txn, &op, error))
    return FALSE;
  if (!op.bound)
    return FALSE;

  channel = load_user_channel (self, op.user_id, channel_id, NULL);
  if (channel != NULL)
    g_signal_emit (self, signals[CHANNEL_CHANGED], 0, op.user_id, channel);

  return TRUE;
}

/* ------------------------------------------------------------------ */
/* Blocklist                                                           */

GPtrArray *
pd_store_list_blocks (PdStore *self,
                      gint64 user_id,
                      GError **error)
{
  g_autoptr (PdStoreStmt) stmt = NULL;
  g_autoptr (GPtrArray) blocks = g_ptr_array_new_with_free_func ((GDestroyNotify)postern_block_entry_free);

  g_return_val_if_fail (PD_IS_STORE (self), NULL);

  stmt = pd_store_db_prepare (self->db,
                              "SELECT id, pattern, channel_id, created_at FROM blocks WHERE user_id = ?1 ORDER BY id",
                              error);
  if (stmt == NULL)
    return NULL;

  sqlite3_bind_int64 (stmt, 1, user_id);
  for (;;)
    {
      g_autoptr (PosternSenderPattern) pattern = NULL;
      g_autoptr (GError) local_error = NULL;
      PosternBlockEntry *entry;
      gboolean row = FALSE;

      if (!pd_store_db_step (self->db, stmt, &row, error))
        return NULL;
      if (!row)
        break;

      pattern = postern_sender_pattern_parse (pd_store_stmt_column_text (stmt, 1), &local_error);
      if (pattern == NULL)
        {
          corrupt_row (error, "blocks", local_error);
          return NULL;
        }
      entry = postern_block_entry_new (pattern, pd_store_stmt_column_text (stmt, 2));
      entry->id = sqlite3_column_int64 (stmt, 0);
      entry->created_at = sqlite3_column_int64 (stmt, 3);
      g_ptr_array_add (blocks, entry);
    }

  return g_steal_pointer (&blocks);
}

typedef struct
{
  gint64 user_id;
  const char *pattern;
  const char *channel_id;
  gint64 created_at;
  gint64 id;
} BlockOp;

static gboolean
add_block_txn (PdStore *self,
               gpointer data,
               GError **error)
{
  BlockOp *op = data;
  g_autoptr (PdStoreStmt) stmt = NULL;
  g_autoptr (PdStoreStmt) insert = NULL;
  gboolean row = FALSE;

  if (op->channel_id != NULL)
    {
      g_autoptr (PosternChannel) channel = load_user_channel (self, op->user_id, op->channel_id, error);

      if (channel == NULL)
        return FALSE;
    }
  else
    {
      g_autoptr (PdUser) user = pd_store_get_user (self, op->user_id, error);

      if (user == NULL)
        return FALSE;
    }

  /* UNIQUE does not see two NULL channel ids as equal; IS does. */
  stmt = pd_store_db_prepare (self->db,
                              "SELECT 1 FROM blocks WHERE user_id = ?1 AND pattern = ?2 AND channel_id IS ?3",
                              error);
  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_int64 (stmt, 1, op->user_id);
  pd_store_stmt_bind_text (stmt, 2, op->pattern);
  pd_store_stmt_bind_text (stmt, 3, op->channel_id);
  if (!pd_store_db_step (self->db, stmt, &row, error))
    return FALSE;
  if (row)
    {
      g_set_error (error, PD_STORE_ERROR, PD_STORE_ERROR_EXISTS, "%s is already blocked", op->pattern);
      return FALSE;
    }

  insert = pd_store_db_prepare (self->db,
                                "INSERT INTO blocks (user_id, pattern, channel_id, created_at) VALUES (?1, ?2, ?3, ?4)",
                                error);
  if (insert == NULL)
    return FALSE;
  sqlite3_bind_int64 (insert, 1, op->user_id);
  pd_store_stmt_bind_text (insert, 2, op->pattern);
  pd_store_stmt_bind_text (insert, 3, op->channel_id);
  sqlite3_bind_int64 (insert, 4, op->created_at);
  if (!pd_store_db_step_done (self->db, insert, error))
    return FALSE;

  op->id = sqlite3_last_insert_rowid (pd_store_db_get_handle (self->db));
  return TRUE;
}

PosternBlockEntry *
pd_store_add_block (PdStore *self,
                    gint64 user_id,
                    const PosternSenderPattern *pattern,
                    const char *channel_id,
                    GError **error)
{
  g_autofree char *text = NULL;
  PosternBlockEntry *entry;
  BlockOp op = { 0 };

  g_return_val_if_fail (PD_IS_STORE (self), NULL);
  g_return_val_if_fail (pattern != NULL, NULL);

  text = postern_sender_pattern_to_string (pattern);
  op.user_id = user_id;
  op.pattern = text;
  op.channel_id = channel_id;
  op.created_at = now_seconds ();
  if (!in_transaction (self, add_block_txn, &op, error))
    return NULL;

  entry = postern_block_entry_new (pattern, channel_id);
  entry->id = op.id;
  entry->created_at = op.created_at;
  return entry;
}

gboolean
pd_store_remove_block (PdStore *self,
                       gint64 user_id,
                       gint64 block_id,
                       GError **error)
{
  g_autoptr (PdStoreStmt) stmt = NULL;

  g_return_val_if_fail (PD_IS_STORE (self), FALSE);

  stmt = pd_store_db_prepare (self->db, "DELETE FROM blocks WHERE id = ?1 AND user_id = ?2", error);
  if (stmt == NULL)
    return FALSE;

  sqlite3_bind_int64 (stmt, 1, block_id);
  sqlite3_bind_int64 (stmt, 2, user_id);
  if (!pd_store_db_step_done (self->db, stmt, error))
    return FALSE;
  if (sqlite3_changes (pd_store_db_get_handle (self->db)) == 0)
    return not_found (error, "block");

  return TRUE;
}

/* ------------------------------------------------------------------ */
/* Events                                                              */

GPtrArray *
pd_store_list_events (PdStore *self,
                      gint64 user_id,
                      gint64 since,
                      gint64 before,
                      guint limit,
                      gboolean newest_first,
                      const char *channel_id,
                      int verdict,
                      GError **error)
{
  g_autoptr (PdStoreStmt) stmt = NULL;
  g_autoptr (GPtrArray) events = g_ptr_array_new_with_free_func (g_object_unref);

  g_return_val_if_fail (PD_IS_STORE (self), NULL);

  if (newest_first)
    stmt = pd_store_db_prepare (self->db,
                                "SELECT " EVENT_COLUMNS " FROM events "
                                "WHERE user_id = ?1 AND id > ?2 AND (?3 <= 0 OR id < ?3) "
                                "AND (?4 IS NULL OR channel_id = ?4) AND (?5 IS NULL OR verdict = ?5) "
                                "ORDER BY id DESC LIMIT ?6",
                                error);
  else
    stmt = pd_store_db_prepare (self->db,
                                "SELECT " EVENT_COLUMNS " FROM events "
                                "WHERE user_id = ?1 AND id > ?2 AND (?3 <= 0 OR id < ?3) "
                                "AND (?4 IS NULL OR channel_id = ?4) AND (?5 IS NULL OR verdict = ?5) "
                                "ORDER BY id ASC LIMIT ?6",
                                error);
  if (stmt == NULL)
    return NULL;

  sqlite3_bind_int64 (stmt, 1, user_id);
  sqlite3_bind_int64 (stmt, 2, since);
  sqlite3_bind_int64 (stmt, 3, before);
  pd_store_stmt_bind_text (stmt, 4, channel_id);
  pd_store_stmt_bind_text (stmt, 5, verdict >= 0 ? postern_verdict_to_string (verdict) : NULL);
  sqlite3_bind_int64 (stmt, 6, limit > 0 ? (gint64)limit : -1);

  for (;;)
    {
      PosternEvent *event;
      gboolean row = FALSE;

      if (!pd_store_db_step (self->db, stmt, &row, error))
        return NULL;
      if (!row)
        break;
      event = event_from_row (stmt, 0, error);
      if (event == NULL)
        return NULL;
      g_ptr_array_add (events, event);
    }

  return g_steal_pointer (&events);
}

gint64
pd_store_get_latest_event_id (PdStore *self,
                              gint64 user_id)
{
  g_autoptr (PdStoreStmt) stmt = NULL;
  g_autoptr (GError) error = NULL;
  gboolean row = FALSE;

  g_return_val_if_fail (PD_IS_STORE (self), 0);

  stmt = pd_store_db_prepare (self->db, "SELECT COALESCE(MAX(id), 0) FROM events WHERE user_id = ?1", &error);
  if (stmt != NULL)
    {
      sqlite3_bind_int64 (stmt, 1, user_id);
      if (pd_store_db_step (self->db, stmt, &row, &error) && row)
        return sqlite3_column_int64 (stmt, 0);
    }

  if (error != NULL)
    g_warning ("Store: %s", error->message);
  return 0;
}

/* ------------------------------------------------------------------ */
/* Delivery queue                                                      */

static GPtrArray *
collect_deliveries (PdStore *self,
                    PdStoreStmt *stmt,
                    GError **error)
{
  g_autoptr (GPtrArray) deliveries = g_ptr_array_new_with_free_func ((GDestroyNotify)pd_delivery_free);

  for (;;)
    {
      PdDelivery *delivery;
      gboolean row = FALSE;

      if (!pd_store_db_step (self->db, stmt, &row, error))
        return NULL;
      if (!row)
        break;
      delivery = delivery_from_row (stmt, error);
      if (delivery == NULL)
        return NULL;
      g_ptr_array_add (deliveries, delivery);
    }

  return g_steal_pointer (&deliveries);
}

typedef struct
{
  gint64 now;
  guint limit;
  GPtrArray *result;
} DueOp;

static gboolean
next_due_txn (PdStore *self,
              gpointer data,
              GError **error)
{
  DueOp *op = data;
  g_autoptr (PdStoreStmt) select = NULL;
  g_autoptr (PdStoreStmt) lease = NULL;
  gint64 until = op->now + PD_DELIVERY_LEASE_SECONDS;

  select = pd_store_db_prepare (self->db,
                                "SELECT " DELIVERY_COLUMNS " FROM deliveries d "
                                "JOIN events e ON e.id = d.event_id "
                                "WHERE d.state = 'pending' AND d.next_attempt_at <= ?1 AND d.leased_until <= ?1 "
                                "ORDER BY d.next_attempt_at, d.id LIMIT ?2",
                                error);
  if (select == NULL)
    return FALSE;

  sqlite3_bind_int64 (select, 1, op->now);
  sqlite3_bind_int64 (select, 2, op->limit);
  op->result = collect_deliveries (self, select, error);
  if (op->result == NULL)
    return FALSE;

  lease = pd_store_db_prepare (self->db, "UPDATE deliveries SET leased_until = ?2 WHERE id = ?1", error);
  if (lease == NULL)
    return FALSE;

  for (guint i = 0; i < op->result->len; i++)
    {
      PdDelivery *delivery = g_ptr_array_index (op->result, i);

      sqlite3_reset (lease);
      sqlite3_bind_int64 (lease, 1, delivery->id);
      sqlite3_bind_int64 (lease, 2, until);
      if (!pd_store_db_step_done (self->db, lease, error))
        return FALSE;
      delivery->next_attempt_at = until;
    }

  return TRUE;
}

GPtrArray *
pd_store_next_due_deliveries (PdStore *self,
                              gint64 now,
                              guint limit,
                              GError **error)
{
  DueOp op = { now, limit, NULL };

  g_return_val_if_fail (PD_IS_STORE (self), NULL);
  g_return_val_if_fail (limit > 0, NULL);

  if (!in_transaction (self, next_due_txn, &op, error))
    {
      g_clear_pointer (&op.result, g_ptr_array_unref);
      return NULL;
    }

  return op.result;
}

typedef struct
{
  gint64 id;
  gint64 user_id; /* 0: any (the delivery engine) */
  PdDeliveryState state;
  gint64 next_attempt_at;
  const char *last_error;
  char *message_key;
} FinishOp;

static gboolean
finish_delivery_txn (PdStore *self,
                     gpointer data,
                     GError **error)
{
  FinishOp *op = data;
  g_autoptr (PdStoreStmt) select = NULL;
  g_autoptr (PdStoreStmt) update = NULL;
  gboolean row = FALSE;

  select = pd_store_db_prepare (self->db, "SELECT message_key FROM deliveries WHERE id = ?1", error);
  if (select == NULL)
    return FALSE;
  sqlite3_bind_int64 (select, 1, op->id);
  if (!pd_store_db_step (self->db, select, &row, error))
    return FALSE;
  if (!row)
    return not_found (error, "delivery");
  op->message_key = g_strdup (pd_store_stmt_column_text (select, 0));

  update = pd_store_db_prepare (self->db,
                                "UPDATE deliveries SET state = ?2, attempts = attempts + ?3, "
                                "next_attempt_at = ?4, last_error = ?5, updated_at = ?6, leased_until = 0 WHERE id = ?1",
                                error);
  if (update == NULL)
    return FALSE;
  sqlite3_bind_int64 (update, 1, op->id);
  pd_store_stmt_bind_text (update, 2, pd_delivery_state_to_string (op->state));
  sqlite3_bind_int (update, 3, op->state == PD_DELIVERY_DROPPED ? 0 : 1);
  sqlite3_bind_int64 (update, 4, op->next_attempt_at);
  pd_store_stmt_bind_text (update, 5, op->last_error);
  sqlite3_bind_int64 (update, 6, now_seconds ());
  return pd_store_db_step_done (self->db, update, error);
}

gboolean
pd_store_finish_delivery (PdStore *self,
                          gint64 delivery_id,
                          PdDeliveryState state,
                          gint64 next_attempt_at,
                          const char *last_error,
                          GError **error)
{
  g_autofree char *clean_error = NULL;
  g_autofree char *key = NULL;
  FinishOp op = { 0 };

  g_return_val_if_fail (PD_IS_STORE (self), FALSE);
  g_return_val_if_fail ((guint)state < G_N_ELEMENTS (delivery_states), FALSE);

  if (state == PD_DELIVERY_HELD)
    {
      g_set_error (error, PD_STORE_ERROR, PD_STORE_ERROR_INVALID, "A delivery attempt cannot end held");
      return FALSE;
    }

  /* Remote servers write these: untrusted text. */
  clean_error = sanitize_text (last_error, LAST_ERROR_MAX);
  op.id = delivery_id;
  op.state = state;
  op.next_attempt_at = next_attempt_at;
  op.last_error = clean_error;
  if (!in_transaction (self, finish_delivery_txn, &op, error))
    {
      g_free (op.message_key);
      return FALSE;
    }

  key = op.message_key;
  if (state != PD_DELIVERY_PENDING)
    collect_spool_file (self, key);
  else
    g_signal_emit (self, signals[DELIVERIES_QUEUED], 0);

  return TRUE;
}

typedef struct
{
  const PdDeliveryFinish *items;
  guint n_items;
  GPtrArray *unneeded; /* spool files no row needs any more: remove after the commit */
} FinishManyOp;

static gboolean
finish_many_txn (PdStore *self,
                 gpointer data,
                 GError **error)
{
  FinishManyOp *op = data;
  g_autoptr (PdStoreStmt) select = NULL;
  g_autoptr (PdStoreStmt) update = NULL;
  g_autoptr (GHashTable) final_keys = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  GHashTableIter iter;
  gpointer key;
  gint64 now = now_seconds ();

  select = pd_store_db_prepare (self->db, "SELECT message_key FROM deliveries WHERE id = ?1", error);
  update = select == NULL ? NULL
                          : pd_store_db_prepare (self->db,
                                                 "UPDATE deliveries SET state = ?2, attempts = attempts + ?3, "
                                                 "next_attempt_at = ?4, last_error = ?5, updated_at = ?6, leased_until = 0 WHERE id = ?1",
                                                 error);
  if (update == NULL)
    return FALSE;

  for (guint i = 0; i < op->n_items; i++)
    {
      const PdDeliveryFinish *item = &op->items[i];
      g_autofree char *clean_error = sanitize_text (item->last_error, LAST_ERROR_MAX);
      gboolean row = FALSE;

      sqlite3_reset (select);
      sqlite3_bind_int64 (select, 1, item->delivery_id);
      if (!pd_store_db_step (self->db, select, &row, error))
        return FALSE;
      if (!row)
        continue; /* removed with its user meanwhile: nothing to record */
      if (item->state != PD_DELIVERY_PENDING)
        g_hash_table_add (final_keys, g_strdup (pd_store_stmt_column_text (select, 0)));

      sqlite3_reset (update);
      sqlite3_bind_int64 (update, 1, item->delivery_id);
      pd_store_stmt_bind_text (update, 2, pd_delivery_state_to_string (item->state));
      sqlite3_bind_int (update, 3, item->state == PD_DELIVERY_DROPPED ? 0 : 1);
      sqlite3_bind_int64 (update, 4, item->next_attempt_at);
      pd_store_stmt_bind_text (update, 5, clean_error);
      sqlite3_bind_int64 (update, 6, now);
      if (!pd_store_db_step_done (self->db, update, error))
        return FALSE;
    }

  /* In the same transaction, not one autocommit per message: the body of
   * a message whose last row is final goes, and its events no longer
   * point to it. */
  g_hash_table_iter_init (&iter, final_keys);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    {
      gboolean legacy_file = FALSE;

      if (!pd_spool_key_is_valid (key))
        continue;
      if (!forget_body_if_unneeded (self, key, &legacy_file, error))
        return FALSE;
      if (legacy_file)
        g_ptr_array_add (op->unneeded, g_strdup (key));
    }
  return TRUE;
}

gboolean
pd_store_finish_deliveries (PdStore *self,
                            const PdDeliveryFinish *items,
                            guint n_items,
                            GError **error)
{
  FinishManyOp op = { items, n_items, NULL };
  gboolean queued = FALSE;

  g_return_val_if_fail (PD_IS_STORE (self), FALSE);
  g_return_val_if_fail (items != NULL || n_items == 0, FALSE);

  for (guint i = 0; i < n_items; i++)
    {
      if (items[i].state == PD_DELIVERY_HELD || (guint)items[i].state >= G_N_ELEMENTS (delivery_states))
        {
          g_set_error (error, PD_STORE_ERROR, PD_STORE_ERROR_INVALID, "A delivery attempt cannot end held");
          return FALSE;
        }
    }
  if (n_items == 0)
    return TRUE;

  op.unneeded = g_ptr_array_new_with_free_func (g_free);
  if (!in_transaction (self, finish_many_txn, &op, error))
    {
      g_ptr_array_unref (op.unneeded);
      return FALSE;
    }

  /* After the commit: a file removed before it could be needed again by
   * a rollback. One left behind by a crash here is collected at open. */
  for (guint i = 0; i < op.unneeded->len; i++)
    {
      g_autoptr (GError) local_error = NULL;

      if (!pd_spool_remove (self->spool, g_ptr_array_index (op.unneeded, i), &local_error))
        g_warning ("%s", local_error->message);
    }
  g_ptr_array_unref (op.unneeded);
  for (guint i = 0; i < n_items; i++)
    queued |= items[i].state == PD_DELIVERY_PENDING;
  if (queued)
    g_signal_emit (self, signals[DELIVERIES_QUEUED], 0);

  return TRUE;
}

GPtrArray *
pd_store_list_held (PdStore *self,
                    gint64 user_id,
                    GError **error)
{
  g_autoptr (PdStoreStmt) stmt = NULL;

  g_return_val_if_fail (PD_IS_STORE (self), NULL);

  stmt = pd_store_db_prepare (self->db,
                              "SELECT " DELIVERY_COLUMNS " FROM deliveries d "
                              "JOIN events e ON e.id = d.event_id "
                              "WHERE d.user_id = ?1 AND d.state = 'held' AND d.id = "
                              "(SELECT MIN(d2.id) FROM deliveries d2 WHERE d2.event_id = d.event_id AND d2.state = 'held') "
                              "ORDER BY d.id",
                              error);
  if (stmt == NULL)
    return NULL;

  sqlite3_bind_int64 (stmt, 1, user_id);
  return collect_deliveries (self, stmt, error);
}

static gboolean
resolve_held_txn (PdStore *self,
                  gpointer data,
                  GError **error)
{
  FinishOp *op = data;
  g_autoptr (PdStoreStmt) select = NULL;
  g_autoptr (PdStoreStmt) update = NULL;
  gboolean row = FALSE;
  gint64 event_id;

  select = pd_store_db_prepare (self->db,
                                "SELECT event_id, message_key FROM deliveries "
                                "WHERE id = ?1 AND user_id = ?2 AND state = 'held'",
                                error);
  if (select == NULL)
    return FALSE;
  sqlite3_bind_int64 (select, 1, op->id);
  sqlite3_bind_int64 (select, 2, op->user_id);
  if (!pd_store_db_step (self->db, select, &row, error))
    return FALSE;
  if (!row)
    return not_found (error, "held message");
  event_id = sqlite3_column_int64 (select, 0);
  op->message_key = g_strdup (pd_store_stmt_column_text (select, 1));

  update = pd_store_db_prepare (self->db,
                                "UPDATE deliveries SET state = ?3, next_attempt_at = 0, updated_at = ?4 "
                                "WHERE event_id = ?1 AND user_id = ?2 AND state = 'held'",
                                error);
  if (update == NULL)
    return FALSE;
  sqlite3_bind_int64 (update, 1, event_id);
  sqlite3_bind_int64 (update, 2, op->user_id);
  pd_store_stmt_bind_text (update, 3, pd_delivery_state_to_string (op->state));
  sqlite3_bind_int64 (update, 4, now_seconds ());
  return pd_store_db_step_done (self->db, update, error);
}

static gboolean
resolve_held (PdStore *self,
              gint64 user_id,
              gint64 delivery_id,
              PdDeliveryState state,
              GError **error)
{
  g_autofree char *key = NULL;
  FinishOp op = { 0 };

  op.id = delivery_id;
  op.user_id = user_id;
  op.state = state;
  if (!in_transaction (self, resolve_held_txn, &op, error))
    {
      g_free (op.message_key);
      return FALSE;
    }

  key = op.message_key;
  if (state == PD_DELIVERY_PENDING)
    g_signal_emit (self, signals[DELIVERIES_QUEUED], 0);
  else
    collect_spool_file (self, key);

  return TRUE;
}

gboolean
pd_store_release_held (PdStore *self,
                       gint64 user_id,
                       gint64 delivery_id,
                       GError **error)
{
  g_return_val_if_fail (PD_IS_STORE (self), FALSE);

  return resolve_held (self, user_id, delivery_id, PD_DELIVERY_PENDING, error);
}

gboolean
pd_store_drop_held (PdStore *self,
                    gint64 user_id,
                    gint64 delivery_id,
                    GError **error)
{
  g_return_val_if_fail (PD_IS_STORE (self), FALSE);

  return resolve_held (self, user_id, delivery_id, PD_DELIVERY_DROPPED, error);
}

gboolean
pd_store_get_next_delivery_at (PdStore *self,
                               gint64 *out_at,
                               GError **error)
{
  g_autoptr (PdStoreStmt) stmt = NULL;
  gboolean row = FALSE;

  g_return_val_if_fail (PD_IS_STORE (self), FALSE);
  g_return_val_if_fail (out_at != NULL, FALSE);

  stmt = pd_store_db_prepare (self->db,
                              "SELECT MIN(MAX(next_attempt_at, leased_until)) FROM deliveries WHERE state = 'pending'",
                              error);
  if (stmt == NULL || !pd_store_db_step (self->db, stmt, &row, error))
    return FALSE;
  if (!row || sqlite3_column_type (stmt, 0) == SQLITE_NULL)
    return FALSE;
  *out_at = sqlite3_column_int64 (stmt, 0);
  return TRUE;
}

GPtrArray *
pd_store_list_pending (PdStore *self,
                       guint limit,
                       GError **error)
{
  g_autoptr (PdStoreStmt) stmt = NULL;

  g_return_val_if_fail (PD_IS_STORE (self), NULL);
  g_return_val_if_fail (limit > 0, NULL);

  stmt = pd_store_db_prepare (self->db,
                              "SELECT " DELIVERY_COLUMNS " FROM deliveries d "
                              "JOIN events e ON e.id = d.event_id "
                              "WHERE d.state = 'pending' "
                              "ORDER BY MAX(d.next_attempt_at, d.leased_until), d.id LIMIT ?1",
                              error);
  if (stmt == NULL)
    return NULL;
  sqlite3_bind_int64 (stmt, 1, limit);
  return collect_deliveries (self, stmt, error);
}

gint64
pd_store_reschedule_pending (PdStore *self,
                             gint64 when,
                             GError **error)
{
  g_autoptr (PdStoreStmt) stmt = NULL;

  g_return_val_if_fail (PD_IS_STORE (self), -1);

  stmt = pd_store_db_prepare (self->db,
                              "UPDATE deliveries SET next_attempt_at = ?1 "
                              "WHERE state = 'pending' AND next_attempt_at > ?1",
                              error);
  if (stmt == NULL)
    return -1;
  sqlite3_bind_int64 (stmt, 1, when);
  if (!pd_store_db_step_done (self->db, stmt, error))
    return -1;
  g_signal_emit (self, signals[DELIVERIES_QUEUED], 0);
  return sqlite3_changes (pd_store_db_get_handle (self->db));
}

gint64
pd_store_release_leases (PdStore *self,
                         GError **error)
{
  g_autoptr (PdStoreStmt) stmt = NULL;

  g_return_val_if_fail (PD_IS_STORE (self), -1);

  stmt = pd_store_db_prepare (self->db, "UPDATE deliveries SET leased_until = 0 WHERE leased_until != 0", error);
  if (stmt == NULL || !pd_store_db_step_done (self->db, stmt, error))
    return -1;
  return sqlite3_changes (pd_store_db_get_handle (self->db));
}

GBytes *
pd_store_open_spool (PdStore *self,
                     const char *message_key,
                     GError **error)
{
  g_autoptr (PdStoreStmt) stmt = NULL;
  gboolean row = FALSE;

  g_return_val_if_fail (PD_IS_STORE (self), NULL);
  g_return_val_if_fail (message_key != NULL, NULL);

  if (!pd_spool_key_is_valid (message_key))
    {
      g_set_error (error, PD_STORE_ERROR, PD_STORE_ERROR_INVALID, "Not a spool key");
      return NULL;
    }

  stmt = pd_store_db_prepare (self->db, "SELECT data FROM messages WHERE key = ?1", error);
  if (stmt == NULL)
    return NULL;
  pd_store_stmt_bind_text (stmt, 1, message_key);
  if (!pd_store_db_step (self->db, stmt, &row, error))
    return NULL;
  if (row)
    {
      /* In this order: _bytes() after _blob() (SQLite's rule). */
      const void *data = sqlite3_column_blob (stmt, 0);
      int size = sqlite3_column_bytes (stmt, 0);

      return g_bytes_new (data, size);
    }

  /* A body kept before the messages table, or gone (NOT_FOUND). */
  return pd_spool_read (self->spool, message_key, error);
}
