/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <glib/gstdio.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <utime.h>

#include "pd-maildir.h"
#include "pd-spool.h"
#include "pd-store-migrate.h"
#include "pd-store.h"

#define N_CONCURRENT 200

typedef struct
{
  char *dir;
  PdStore *store;
  guint event_signals;
  guint channel_signals;
  guint deleted_signals;
  guint queued_signals;
  GArray *signalled_event_ids;
} Fixture;

static void
rm_rf (const char *path)
{
  GDir *dir = g_dir_open (path, 0, NULL);

  if (dir != NULL)
    {
      const char *name;

      while ((name = g_dir_read_name (dir)) != NULL)
        {
          g_autofree char *child = g_build_filename (path, name, NULL);

          if (g_file_test (child, G_FILE_TEST_IS_DIR) && !g_file_test (child, G_FILE_TEST_IS_SYMLINK))
            rm_rf (child);
          else
            g_unlink (child);
        }
      g_dir_close (dir);
    }
  g_rmdir (path);
}

static void
drain_main_context (void)
{
  for (guint i = 0; i < 1000 && g_main_context_iteration (NULL, FALSE); i++)
    ;
}

static void
event_added_cb (PdStore *store,
                gint64 user_id,
                PosternEvent *event,
                Fixture *fixture)
{
  gint64 id = postern_event_get_id (event);

  g_assert_cmpint (user_id, >, 0);
  fixture->event_signals++;
  g_array_append_val (fixture->signalled_event_ids, id);
}

static void
channel_changed_cb (PdStore *store,
                    gint64 user_id,
                    PosternChannel *channel,
                    Fixture *fixture)
{
  g_assert_true (POSTERN_IS_CHANNEL (channel));
  fixture->channel_signals++;
}

static void
channel_deleted_cb (PdStore *store,
                    gint64 user_id,
                    const char *channel_id,
                    gint64 revision,
                    Fixture *fixture)
{
  g_assert_nonnull (channel_id);
  fixture->deleted_signals++;
}

static void
deliveries_queued_cb (PdStore *store,
                      Fixture *fixture)
{
  fixture->queued_signals++;
}

static void
open_store (Fixture *fixture)
{
  g_autoptr (GError) error = NULL;

  fixture->store = pd_store_open (fixture->dir, &error);
  g_assert_no_error (error);
  g_assert_nonnull (fixture->store);
  g_signal_connect (fixture->store, "event-added", G_CALLBACK (event_added_cb), fixture);
  g_signal_connect (fixture->store, "channel-changed", G_CALLBACK (channel_changed_cb), fixture);
  g_signal_connect (fixture->store, "channel-deleted", G_CALLBACK (channel_deleted_cb), fixture);
  g_signal_connect (fixture->store, "deliveries-queued", G_CALLBACK (deliveries_queued_cb), fixture);
}

static void
close_store (Fixture *fixture)
{
  drain_main_context ();
  g_assert_finalize_object (g_steal_pointer (&fixture->store));
}

static void
fixture_set_up (Fixture *fixture,
                gconstpointer data)
{
  g_autoptr (GError) error = NULL;

  fixture->dir = g_dir_make_tmp ("postern-store-XXXXXX", &error);
  g_assert_no_error (error);
  fixture->signalled_event_ids = g_array_new (FALSE, FALSE, sizeof (gint64));
  open_store (fixture);
}

static void
fixture_tear_down (Fixture *fixture,
                   gconstpointer data)
{
  if (fixture->store != NULL)
    close_store (fixture);
  rm_rf (fixture->dir);
  g_free (fixture->dir);
  g_array_unref (fixture->signalled_event_ids);
}

static PdUser *
add_user (Fixture *fixture,
          const char *name,
          gboolean maildir,
          gboolean forward)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *maildir_path = maildir ? g_build_filename (fixture->dir, name, "Maildir", NULL) : NULL;
  g_autofree char *forward_to = forward ? g_strdup_printf ("%s@real.example.net", name) : NULL;
  PdUser *user;

  user = pd_store_add_user (fixture->store, name, maildir_path, forward_to, &error);
  g_assert_no_error (error);
  g_assert_nonnull (user);
  return user;
}

static PosternChannel *
new_channel (const char *address,
             PosternChannelKind kind)
{
  g_autoptr (PosternChannel) channel = postern_channel_new ();
  g_autofree char *id = postern_uuid_new ();
  g_autoptr (GError) error = NULL;

  g_assert_true (postern_channel_set_id (channel, id, &error));
  g_assert_true (postern_channel_set_address (channel, address, &error));
  g_assert_true (postern_channel_set_label (channel, "Jane at FOSDEM", &error));
  g_assert_no_error (error);
  postern_channel_set_kind (channel, kind);
  return g_steal_pointer (&channel);
}

static PosternChannel *
create_channel (Fixture *fixture,
                gint64 user_id,
                const char *address,
                PosternChannelKind kind)
{
  g_autoptr (PosternChannel) channel = new_channel (address, kind);
  g_autoptr (GError) error = NULL;
  PosternChannel *stored;

  stored = pd_store_create_channel (fixture->store, user_id, channel, &error);
  g_assert_no_error (error);
  g_assert_nonnull (stored);
  return stored;
}

static gint64
count_rows (Fixture *fixture,
            const char *sql)
{
  g_autofree char *path = g_build_filename (fixture->dir, "posternd.sqlite", NULL);
  sqlite3 *db = NULL;
  sqlite3_stmt *stmt = NULL;
  gint64 count;

  g_assert_cmpint (sqlite3_open_v2 (path, &db, SQLITE_OPEN_READONLY, NULL), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_prepare_v2 (db, sql, -1, &stmt, NULL), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_step (stmt), ==, SQLITE_ROW);
  count = sqlite3_column_int64 (stmt, 0);
  sqlite3_finalize (stmt);
  sqlite3_close (db);
  return count;
}

static char *
query_text (Fixture *fixture,
            const char *sql)
{
  g_autofree char *path = g_build_filename (fixture->dir, "posternd.sqlite", NULL);
  sqlite3 *db = NULL;
  sqlite3_stmt *stmt = NULL;
  char *text = NULL;

  g_assert_cmpint (sqlite3_open_v2 (path, &db, SQLITE_OPEN_READONLY, NULL), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_prepare_v2 (db, sql, -1, &stmt, NULL), ==, SQLITE_OK);
  if (sqlite3_step (stmt) == SQLITE_ROW)
    text = g_strdup ((const char *)sqlite3_column_text (stmt, 0));
  sqlite3_finalize (stmt);
  sqlite3_close (db);
  return text;
}

/* The body stored under @key in the messages table, read with a
 * connection of the test's own; NULL when there is none. */
static GBytes *
body_in_db (Fixture *fixture,
            const char *key)
{
  g_autofree char *path = g_build_filename (fixture->dir, "posternd.sqlite", NULL);
  sqlite3 *db = NULL;
  sqlite3_stmt *stmt = NULL;
  GBytes *body = NULL;

  g_assert_cmpint (sqlite3_open_v2 (path, &db, SQLITE_OPEN_READONLY, NULL), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_prepare_v2 (db, "SELECT data FROM messages WHERE key = ?1", -1, &stmt, NULL), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_bind_text (stmt, 1, key, -1, SQLITE_TRANSIENT), ==, SQLITE_OK);
  if (sqlite3_step (stmt) == SQLITE_ROW)
    {
      const void *data = sqlite3_column_blob (stmt, 0);
      int size = sqlite3_column_bytes (stmt, 0);

      body = g_bytes_new (data, size);
    }
  sqlite3_finalize (stmt);
  sqlite3_close (db);
  return body;
}

static gboolean
has_body_in_db (Fixture *fixture,
                const char *key)
{
  g_autoptr (GBytes) body = body_in_db (fixture, key);

  return body != NULL;
}

/* Runs @sql (with ?1 bound to @arg when not NULL) on a connection of the
 * test's own, beside the store's. */
static void
exec_sql (Fixture *fixture,
          const char *sql,
          const char *arg)
{
  g_autofree char *path = g_build_filename (fixture->dir, "posternd.sqlite", NULL);
  sqlite3 *db = NULL;
  sqlite3_stmt *stmt = NULL;

  g_assert_cmpint (sqlite3_open_v2 (path, &db, SQLITE_OPEN_READWRITE, NULL), ==, SQLITE_OK);
  sqlite3_busy_timeout (db, 10000);
  g_assert_cmpint (sqlite3_prepare_v2 (db, sql, -1, &stmt, NULL), ==, SQLITE_OK);
  if (arg != NULL)
    g_assert_cmpint (sqlite3_bind_text (stmt, 1, arg, -1, SQLITE_TRANSIENT), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_step (stmt), ==, SQLITE_DONE);
  sqlite3_finalize (stmt);
  sqlite3_close (db);
}

static guint
count_spool_files (Fixture *fixture)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GDir) dir = g_dir_open (pd_store_get_spool_dir (fixture->store), 0, &error);
  guint files = 0;

  g_assert_no_error (error);
  while (g_dir_read_name (dir) != NULL)
    files++;
  return files;
}

/* ---- commit helpers ---- */

typedef struct
{
  guint pending;
  GPtrArray *results; /* GArray of event ids, in completion order */
  GArray *order;      /* index of the call that completed, in completion order */
  GError *error;
} CommitState;

typedef struct
{
  CommitState *state;
  guint index;
} CommitCall;

static void
commit_done_cb (GObject *object,
                GAsyncResult *result,
                gpointer user_data)
{
  CommitCall *call = user_data;
  g_autoptr (GError) error = NULL;
  GArray *ids = pd_store_commit_message_finish (PD_STORE (object), result, &error);

  if (ids == NULL && call->state->error == NULL)
    call->state->error = g_steal_pointer (&error);
  if (ids != NULL)
    {
      g_ptr_array_add (call->state->results, ids);
      g_array_append_val (call->state->order, call->index);
    }
  call->state->pending--;
  g_free (call);
}

static void
commit_state_init (CommitState *state)
{
  state->results = g_ptr_array_new_with_free_func ((GDestroyNotify)g_array_unref);
  state->order = g_array_new (FALSE, FALSE, sizeof (guint));
}

static void
commit_state_clear (CommitState *state)
{
  g_ptr_array_unref (state->results);
  g_array_unref (state->order);
  g_clear_error (&state->error);
}

static void
commit_wait (CommitState *state)
{
  gint64 deadline = g_get_monotonic_time () + 30 * G_USEC_PER_SEC;

  while (state->pending > 0 && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, TRUE);
  g_assert_cmpuint (state->pending, ==, 0);
}

static void
commit_start (Fixture *fixture,
              PdMessage *message,
              CommitState *state,
              guint index)
{
  CommitCall *call = g_new0 (CommitCall, 1);

  call->state = state;
  call->index = index;
  state->pending++;
  pd_store_commit_message_async (fixture->store, message, NULL, commit_done_cb, call);
}

static GArray *
commit_one (Fixture *fixture,
            PdMessage *message,
            GError **error)
{
  CommitState state = { 0 };
  GArray *ids = NULL;

  commit_state_init (&state);
  commit_start (fixture, message, &state, 0);
  commit_wait (&state);
  if (state.error != NULL)
    g_propagate_error (error, g_steal_pointer (&state.error));
  else
    ids = g_array_ref (g_ptr_array_index (state.results, 0));
  commit_state_clear (&state);
  return ids;
}

static PdMessage *
new_message (const char *subject,
             GBytes *data)
{
  PdMessage *message = pd_message_new ();

  message->envelope_sender = g_strdup ("recruiter@jobs.example.com");
  message->header_from = g_strdup ("Recruiter <recruiter@jobs.example.com>");
  message->subject = g_strdup (subject);
  message->message_id = g_strdup ("<1@jobs.example.com>");
  message->data = data; /* transfer full */
  message->received_at = 1700000000;
  return message;
}

/* ------------------------------------------------------------------ */

static void
test_migrate_empty (Fixture *fixture,
                    gconstpointer data)
{
  g_autoptr (GPtrArray) users = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *spool = g_build_filename (fixture->dir, "spool", NULL);

  g_assert_cmpint (pd_store_get_schema_version (fixture->store), ==, pd_store_migrate_get_latest_version ());
  g_assert_cmpint (count_rows (fixture, "PRAGMA user_version"), ==, pd_store_migrate_get_latest_version ());
  g_assert_cmpint (count_rows (fixture, "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name IN "
                                        "('users', 'channels', 'blocks', 'events', 'deliveries', 'devices', "
                                        "'pairing_codes', 'shares', 'messages')"),
                   ==, 9);
  g_assert_cmpstr (pd_store_get_spool_dir (fixture->store), ==, spool);
  g_assert_true (g_file_test (spool, G_FILE_TEST_IS_DIR));

  users = pd_store_list_users (fixture->store, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (users->len, ==, 0);

  /* A second open of a migrated database applies nothing. */
  close_store (fixture);
  open_store (fixture);
  g_assert_cmpint (pd_store_get_schema_version (fixture->store), ==, pd_store_migrate_get_latest_version ());
}

static void
test_reopen (Fixture *fixture,
             gconstpointer data)
{
  g_autoptr (PdUser) alice = add_user (fixture, "alice", TRUE, FALSE);
  g_autoptr (PosternChannel) channel = create_channel (fixture, alice->id, "k7q2mv9x@ch.example.org",
                                                       POSTERN_CHANNEL_KIND_RELATIONSHIP);
  g_autoptr (PdMessage) message = new_message ("Hello", NULL);
  g_autoptr (PdUser) again = NULL;
  g_autoptr (PosternChannel) found = NULL;
  g_autoptr (GPtrArray) events = NULL;
  g_autoptr (GArray) ids = NULL;
  g_autoptr (GError) error = NULL;
  gint64 user_id = 0;

  pd_message_add_recipient (message, alice->id, postern_channel_get_id (channel), POSTERN_VERDICT_EXPECTED);
  ids = commit_one (fixture, message, &error);
  g_assert_no_error (error);

  close_store (fixture);
  open_store (fixture);

  again = pd_store_lookup_user (fixture->store, "alice", &error);
  g_assert_no_error (error);
  g_assert_cmpint (again->id, ==, alice->id);
  g_assert_cmpstr (again->maildir, ==, alice->maildir);

  found = pd_store_lookup_channel (fixture->store, "K7Q2MV9X@ch.example.org", &user_id, &error);
  g_assert_no_error (error);
  g_assert_nonnull (found);
  g_assert_cmpint (user_id, ==, alice->id);
  g_assert_true (postern_channel_equal (found, channel));

  events = pd_store_list_events (fixture->store, alice->id, 0, 0, 0, FALSE, NULL, -1, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (events->len, ==, 1);
  g_assert_cmpint (postern_event_get_id (g_ptr_array_index (events, 0)), ==, g_array_index (ids, gint64, 0));
  g_assert_cmpstr (postern_event_get_subject (g_ptr_array_index (events, 0)), ==, "Hello");
}

static void
test_users (Fixture *fixture,
            gconstpointer data)
{
  g_autoptr (PdUser) alice = NULL;
  g_autoptr (PdUser) found = NULL;
  g_autoptr (PdUser) by_id = NULL;
  g_autoptr (PdUser) dup = NULL;
  g_autoptr (PdUser) bad = NULL;
  g_autoptr (GPtrArray) users = NULL;
  g_autoptr (GError) error = NULL;

  alice = pd_store_add_user (fixture->store, "alice", "/home/alice/Maildir", "alice@real.example.net", &error);
  g_assert_no_error (error);
  g_assert_cmpint (alice->id, >, 0);
  g_assert_cmpstr (alice->name, ==, "alice");
  g_assert_cmpstr (alice->forward_to, ==, "alice@real.example.net");
  g_assert_cmpint (alice->created_at, >, 0);

  dup = pd_store_add_user (fixture->store, "alice", NULL, NULL, &error);
  g_assert_error (error, PD_STORE_ERROR, PD_STORE_ERROR_EXISTS);
  g_assert_null (dup);
  g_clear_error (&error);

  bad = pd_store_add_user (fixture->store, "Alice Smith", NULL, NULL, &error);
  g_assert_error (error, PD_STORE_ERROR, PD_STORE_ERROR_INVALID);
  g_clear_error (&error);
  bad = pd_store_add_user (fixture->store, "bob", "relative/Maildir", NULL, &error);
  g_assert_error (error, PD_STORE_ERROR, PD_STORE_ERROR_INVALID);
  g_clear_error (&error);
  bad = pd_store_add_user (fixture->store, "bob", NULL, "not an address", &error);
  g_assert_error (error, PD_STORE_ERROR, PD_STORE_ERROR_INVALID);
  g_clear_error (&error);

  found = pd_store_lookup_user (fixture->store, "alice", &error);
  g_assert_no_error (error);
  g_assert_cmpint (found->id, ==, alice->id);
  by_id = pd_store_get_user (fixture->store, alice->id, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (by_id->name, ==, "alice");

  g_assert_true (pd_store_set_user_targets (fixture->store, alice->id, NULL, "a2@real.example.net", &error));
  g_assert_no_error (error);
  g_clear_pointer (&by_id, pd_user_free);
  by_id = pd_store_get_user (fixture->store, alice->id, &error);
  g_assert_null (by_id->maildir);
  g_assert_cmpstr (by_id->forward_to, ==, "a2@real.example.net");
  g_assert_false (pd_store_set_user_targets (fixture->store, 9999, NULL, NULL, &error));
  g_assert_error (error, PD_STORE_ERROR, PD_STORE_ERROR_NOT_FOUND);
  g_clear_error (&error);

  g_clear_pointer (&dup, pd_user_free);
  dup = add_user (fixture, "bob", FALSE, FALSE);
  users = pd_store_list_users (fixture->store, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (users->len, ==, 2);
  g_assert_cmpstr (((PdUser *)g_ptr_array_index (users, 0))->name, ==, "alice");
  g_assert_cmpstr (((PdUser *)g_ptr_array_index (users, 1))->name, ==, "bob");

  g_assert_true (pd_store_remove_user (fixture->store, "alice", &error));
  g_assert_no_error (error);
  g_clear_pointer (&found, pd_user_free);
  found = pd_store_lookup_user (fixture->store, "alice", &error);
  g_assert_error (error, PD_STORE_ERROR, PD_STORE_ERROR_NOT_FOUND);
  g_assert_null (found);
  g_clear_error (&error);
  g_assert_false (pd_store_remove_user (fixture->store, "alice", &error));
  g_assert_error (error, PD_STORE_ERROR, PD_STORE_ERROR_NOT_FOUND);
}

static void
test_channels (Fixture *fixture,
               gconstpointer data)
{
  g_autoptr (PdUser) alice = add_user (fixture, "alice", FALSE, FALSE);
  g_autoptr (PosternChannel) draft = new_channel ("shop@ch.example.org", POSTERN_CHANNEL_KIND_RELATIONSHIP);
  g_autoptr (PosternChannel) first = NULL;
  g_autoptr (PosternChannel) again = NULL;
  g_autoptr (PosternChannel) clash = NULL;
  g_autoptr (PosternChannel) other = NULL;
  g_autoptr (PosternChannel) third = NULL;
  g_autoptr (PosternChannel) edit = NULL;
  g_autoptr (PosternChannel) updated = NULL;
  g_autoptr (PosternChannel) stale = NULL;
  g_autoptr (PosternChannel) forced = NULL;
  g_autoptr (PosternSenderPattern) pattern = NULL;
  g_autoptr (GPtrArray) all = NULL;
  g_autoptr (GPtrArray) since = NULL;
  g_autoptr (GPtrArray) tombstones = NULL;
  g_autoptr (GError) error = NULL;
  gint64 revision;

  first = pd_store_create_channel (fixture->store, alice->id, draft, &error);
  g_assert_no_error (error);
  g_assert_cmpint (postern_channel_get_revision (first), ==, 1);
  g_assert_cmpint (postern_channel_get_created_at (first), >, 0);
  g_assert_cmpstr (postern_channel_get_id (first), ==, postern_channel_get_id (draft));
  g_assert_cmpuint (fixture->channel_signals, ==, 1);

  /* Idempotent: the same id, user and address give the stored channel. */
  again = pd_store_create_channel (fixture->store, alice->id, draft, &error);
  g_assert_no_error (error);
  g_assert_true (postern_channel_equal (again, first));
  g_assert_cmpuint (fixture->channel_signals, ==, 1);

  /* The same id with another address, or the same address with another
   * id, is a clash. */
  edit = postern_channel_copy (draft);
  g_assert_true (postern_channel_set_address (edit, "other@ch.example.org", &error));
  clash = pd_store_create_channel (fixture->store, alice->id, edit, &error);
  g_assert_error (error, PD_STORE_ERROR, PD_STORE_ERROR_EXISTS);
  g_assert_null (clash);
  g_clear_error (&error);
  g_clear_object (&edit);
  edit = new_channel ("shop@ch.example.org", POSTERN_CHANNEL_KIND_OPEN);
  clash = pd_store_create_channel (fixture->store, alice->id, edit, &error);
  g_assert_error (error, PD_STORE_ERROR, PD_STORE_ERROR_EXISTS);
  g_clear_error (&error);
  g_clear_object (&edit);

  other = create_channel (fixture, alice->id, "news@ch.example.org", POSTERN_CHANNEL_KIND_OPEN);
  g_assert_cmpint (postern_channel_get_revision (other), ==, 2);

  /* Update with the right revision. */
  edit = postern_channel_copy (first);
  g_assert_true (postern_channel_set_label (edit, "Shop (renamed)", &error));
  postern_channel_set_state (edit, POSTERN_CHANNEL_STATE_PAUSED);
  pattern = postern_sender_pattern_parse ("@.shop.example.com", &error);
  g_assert_no_error (error);
  g_assert_true (postern_channel_add_expected_sender (edit, pattern, &error));
  updated = pd_store_update_channel (fixture->store, alice->id, edit, 1, &error);
  g_assert_no_error (error);
  g_assert_cmpint (postern_channel_get_revision (updated), ==, 3);
  g_assert_cmpstr (postern_channel_get_label (updated), ==, "Shop (renamed)");
  g_assert_cmpint (postern_channel_get_state (updated), ==, POSTERN_CHANNEL_STATE_PAUSED);
  g_assert_cmpuint (postern_channel_get_expected_senders (updated)->len, ==, 1);
  g_assert_cmpstr (postern_channel_get_address (updated), ==, "shop@ch.example.org");
  g_assert_cmpuint (fixture->channel_signals, ==, 3);

  /* A stale If-Match conflicts and changes nothing. */
  g_assert_true (postern_channel_set_label (edit, "Lost update", &error));
  stale = pd_store_update_channel (fixture->store, alice->id, edit, 1, &error);
  g_assert_error (error, PD_STORE_ERROR, PD_STORE_ERROR_CONFLICT);
  g_assert_null (stale);
  g_clear_error (&error);
  g_clear_object (&again);
  again = pd_store_get_channel (fixture->store, alice->id, postern_channel_get_id (first), &error);
  g_assert_no_error (error);
  g_assert_cmpstr (postern_channel_get_label (again), ==, "Shop (renamed)");
  g_assert_cmpint (postern_channel_get_revision (again), ==, 3);

  /* Without If-Match (0) the update goes through. */
  forced = pd_store_update_channel (fixture->store, alice->id, edit, 0, &error);
  g_assert_no_error (error);
  g_assert_cmpint (postern_channel_get_revision (forced), ==, 4);

  /* A list since a revision has what changed after it, in order. */
  all = pd_store_list_channels (fixture->store, alice->id, 0, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (all->len, ==, 2);
  g_assert_cmpint (postern_channel_get_revision (g_ptr_array_index (all, 0)), ==, 2);
  g_assert_cmpint (postern_channel_get_revision (g_ptr_array_index (all, 1)), ==, 4);

  third = create_channel (fixture, alice->id, "bank@ch.example.org", POSTERN_CHANNEL_KIND_RELATIONSHIP);
  g_assert_true (pd_store_delete_channel (fixture->store, alice->id, postern_channel_get_id (other), &error));
  g_assert_no_error (error);
  g_assert_cmpuint (fixture->deleted_signals, ==, 1);
  g_assert_false (pd_store_delete_channel (fixture->store, alice->id, postern_channel_get_id (other), &error));
  g_assert_error (error, PD_STORE_ERROR, PD_STORE_ERROR_NOT_FOUND);
  g_clear_error (&error);

  since = pd_store_list_channels (fixture->store, alice->id, 4, &tombstones, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (since->len, ==, 1);
  g_assert_cmpstr (postern_channel_get_id (g_ptr_array_index (since, 0)), ==, postern_channel_get_id (third));
  g_assert_cmpuint (tombstones->len, ==, 1);
  g_assert_cmpstr (g_ptr_array_index (tombstones, 0), ==, postern_channel_get_id (other));

  /* A deleted channel is gone for lookups and gets. */
  g_clear_object (&again);
  again = pd_store_lookup_channel (fixture->store, "news@ch.example.org", NULL, &error);
  g_assert_no_error (error);
  g_assert_null (again);
  again = pd_store_get_channel (fixture->store, alice->id, postern_channel_get_id (other), &error);
  g_assert_error (error, PD_STORE_ERROR, PD_STORE_ERROR_NOT_FOUND);
  g_clear_error (&error);

  /* Its id and address are not handed out again. */
  clash = pd_store_create_channel (fixture->store, alice->id, other, &error);
  g_assert_error (error, PD_STORE_ERROR, PD_STORE_ERROR_EXISTS);
  g_clear_error (&error);

  g_assert_cmpint (count_rows (fixture, "SELECT revision FROM users WHERE name = 'alice'"), ==, 6);
  revision = postern_channel_get_revision (third);
  g_assert_cmpint (revision, ==, 5);
}

static void
test_isolation (Fixture *fixture,
                gconstpointer data)
{
  g_autoptr (PdUser) alice = add_user (fixture, "alice", TRUE, FALSE);
  g_autoptr (PdUser) bob = add_user (fixture, "bob", TRUE, FALSE);
  g_autoptr (PosternChannel) mine = create_channel (fixture, alice->id, "alice1@ch.example.org",
                                                    POSTERN_CHANNEL_KIND_RELATIONSHIP);
  g_autoptr (PosternChannel) theirs = create_channel (fixture, bob->id, "bob1@ch.example.org",
                                                      POSTERN_CHANNEL_KIND_RELATIONSHIP);
  g_autoptr (PosternChannel) result = NULL;
  g_autoptr (PosternChannel) edit = NULL;
  g_autoptr (PosternSenderPattern) pattern = NULL;
  g_autoptr (PosternBlockEntry) block = NULL;
  g_autoptr (PosternBlockEntry) stolen = NULL;
  g_autoptr (GPtrArray) list = NULL;
  g_autoptr (PdMessage) message = new_message ("held for alice", g_bytes_new_static ("x\r\n", 3));
  g_autoptr (PdMessage) forged = new_message ("forged", NULL);
  g_autoptr (GArray) ids = NULL;
  g_autoptr (GError) error = NULL;
  const char *alice_channel = postern_channel_get_id (mine);

  /* get / update / delete another user's channel: not found. */
  result = pd_store_get_channel (fixture->store, bob->id, alice_channel, &error);
  g_assert_error (error, PD_STORE_ERROR, PD_STORE_ERROR_NOT_FOUND);
  g_assert_null (result);
  g_clear_error (&error);

  edit = postern_channel_copy (mine);
  g_assert_true (postern_channel_set_label (edit, "hijacked", &error));
  result = pd_store_update_channel (fixture->store, bob->id, edit, 0, &error);
  g_assert_error (error, PD_STORE_ERROR, PD_STORE_ERROR_NOT_FOUND);
  g_clear_error (&error);

  g_assert_false (pd_store_delete_channel (fixture->store, bob->id, alice_channel, &error));
  g_assert_error (error, PD_STORE_ERROR, PD_STORE_ERROR_NOT_FOUND);
  g_clear_error (&error);

  /* Creating alice's id as bob is a clash, not a way to read it. */
  result = pd_store_create_channel (fixture->store, bob->id, mine, &error);
  g_assert_error (error, PD_STORE_ERROR, PD_STORE_ERROR_EXISTS);
  g_assert_null (result);
  g_clear_error (&error);

  list = pd_store_list_channels (fixture->store, bob->id, 0, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (list->len, ==, 1);
  g_assert_cmpstr (postern_channel_get_id (g_ptr_array_index (list, 0)), ==, postern_channel_get_id (theirs));
  g_clear_pointer (&list, g_ptr_array_unref);

  /* Blocks. */
  pattern = postern_sender_pattern_parse ("spam@example.com", &error);
  g_assert_no_error (error);
  block = pd_store_add_block (fixture->store, alice->id, pattern, alice_channel, &error);
  g_assert_no_error (error);
  stolen = pd_store_add_block (fixture->store, bob->id, pattern, alice_channel, &error);
  g_assert_error (error, PD_STORE_ERROR, PD_STORE_ERROR_NOT_FOUND);
  g_assert_null (stolen);
  g_clear_error (&error);
  g_assert_false (pd_store_remove_block (fixture->store, bob->id, block->id, &error));
  g_assert_error (error, PD_STORE_ERROR, PD_STORE_ERROR_NOT_FOUND);
  g_clear_error (&error);
  list = pd_store_list_blocks (fixture->store, bob->id, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (list->len, ==, 0);
  g_clear_pointer (&list, g_ptr_array_unref);

  /* Events and held mail. */
  pd_message_add_recipient (message, alice->id, alice_channel, POSTERN_VERDICT_HELD);
  ids = commit_one (fixture, message, &error);
  g_assert_no_error (error);

  list = pd_store_list_events (fixture->store, bob->id, 0, 0, 0, FALSE, NULL, -1, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (list->len, ==, 0);
  g_clear_pointer (&list, g_ptr_array_unref);
  list = pd_store_list_events (fixture->store, bob->id, 0, 0, 0, FALSE, alice_channel, -1, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (list->len, ==, 0);
  g_clear_pointer (&list, g_ptr_array_unref);
  g_assert_cmpint (pd_store_get_latest_event_id (fixture->store, bob->id), ==, 0);
  g_assert_cmpint (pd_store_get_latest_event_id (fixture->store, alice->id), ==, g_array_index (ids, gint64, 0));

  list = pd_store_list_held (fixture->store, bob->id, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (list->len, ==, 0);
  g_clear_pointer (&list, g_ptr_array_unref);
  list = pd_store_list_held (fixture->store, alice->id, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (list->len, ==, 1);
  {
    PdDelivery *held = g_ptr_array_index (list, 0);

    g_assert_false (pd_store_release_held (fixture->store, bob->id, held->id, &error));
    g_assert_error (error, PD_STORE_ERROR, PD_STORE_ERROR_NOT_FOUND);
    g_clear_error (&error);
    g_assert_false (pd_store_drop_held (fixture->store, bob->id, held->id, &error));
    g_assert_error (error, PD_STORE_ERROR, PD_STORE_ERROR_NOT_FOUND);
    g_clear_error (&error);
    g_assert_cmpuint (strlen (held->message_key), ==, 32);
  }

  /* A message may not file an event for bob on alice's channel. */
  pd_message_add_recipient (forged, bob->id, alice_channel, POSTERN_VERDICT_EXPECTED);
  g_clear_pointer (&ids, g_array_unref);
  ids = commit_one (fixture, forged, &error);
  g_assert_error (error, PD_STORE_ERROR, PD_STORE_ERROR_NOT_FOUND);
  g_assert_null (ids);
  g_assert_cmpint (count_rows (fixture, "SELECT count(*) FROM events"), ==, 1);
}

typedef struct
{
  char *dir;
  const char *channel_id;
  const char *sender;
  gint *ready;
  gboolean bound;
  GError *error;
} BindRace;

static gpointer
bind_thread_func (gpointer data)
{
  BindRace *race = data;
  g_autoptr (GMainContext) context = g_main_context_new ();
  g_autoptr (PdStore) store = NULL;
  g_autoptr (PosternMailbox) sender = NULL;
  gint64 deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;

  /* Each thread has its own store (connection) and context, as two
   * posternd processes would. */
  g_main_context_push_thread_default (context);
  store = pd_store_open (race->dir, &race->error);
  if (store != NULL)
    {
      sender = postern_mailbox_parse (race->sender, -1, NULL);

      /* Start together: both see the channel unbound. */
      g_atomic_int_inc (race->ready);
      while (g_atomic_int_get (race->ready) < 2 && g_get_monotonic_time () < deadline)
        g_thread_yield ();

      race->bound = pd_store_bind_one_time (store, race->channel_id, sender, &race->error);
    }
  g_clear_object (&store);
  g_main_context_pop_thread_default (context);
  return NULL;
}

static void
test_bind_one_time (Fixture *fixture,
                    gconstpointer data)
{
  g_autoptr (PdUser) alice = add_user (fixture, "alice", FALSE, FALSE);
  gint ready = 0;

  for (guint round = 0; round < 10; round++)
    {
      g_autofree char *address = g_strdup_printf ("once%u@ch.example.org", round);
      g_autoptr (PosternChannel) channel = create_channel (fixture, alice->id, address, POSTERN_CHANNEL_KIND_ONE_TIME);
      g_autoptr (PosternChannel) stored = NULL;
      g_autoptr (PosternMailbox) winner = NULL;
      g_autoptr (GError) error = NULL;
      BindRace races[2] = {
        { fixture->dir, postern_channel_get_id (channel), "first@one.example.com", &ready, FALSE, NULL },
        { fixture->dir, postern_channel_get_id (channel), "second@two.example.com", &ready, FALSE, NULL },
      };
      GThread *threads[2];
      GPtrArray *senders;

      g_atomic_int_set (&ready, 0);
      for (guint i = 0; i < 2; i++)
        threads[i] = g_thread_new ("bind", bind_thread_func, &races[i]);
      for (guint i = 0; i < 2; i++)
        g_thread_join (threads[i]);

      g_assert_no_error (races[0].error);
      g_assert_no_error (races[1].error);
      /* Exactly one wins. */
      g_assert_cmpint (races[0].bound + races[1].bound, ==, 1);

      stored = pd_store_get_channel (fixture->store, alice->id, postern_channel_get_id (channel), &error);
      g_assert_no_error (error);
      senders = postern_channel_get_expected_senders (stored);
      g_assert_cmpuint (senders->len, ==, 1);
      winner = postern_mailbox_parse (races[0].bound ? races[0].sender : races[1].sender, -1, NULL);
      g_assert_true (postern_channel_expects (stored, winner));
      g_assert_cmpint (postern_channel_get_revision (stored), >, postern_channel_get_revision (channel));

      /* Bound now: a third try loses without an error. */
      g_assert_false (pd_store_bind_one_time (fixture->store, postern_channel_get_id (channel), winner, &error));
      g_assert_no_error (error);
    }

  /* Only one-time channels bind. */
  {
    g_autoptr (PosternChannel) open = create_channel (fixture, alice->id, "open@ch.example.org", POSTERN_CHANNEL_KIND_OPEN);
    g_autoptr (PosternMailbox) sender = postern_mailbox_parse ("x@y.example", -1, NULL);
    g_autoptr (GError) error = NULL;
    guint before = fixture->channel_signals;

    g_assert_false (pd_store_bind_one_time (fixture->store, postern_channel_get_id (open), sender, &error));
    g_assert_no_error (error);
    g_assert_cmpuint (fixture->channel_signals, ==, before);
  }
}

static void
test_commit_concurrent (Fixture *fixture,
                        gconstpointer data)
{
  /* alice: Maildir and forwarding (two targets); bob: forwarding only;
   * carol: no target at all. */
  g_autoptr (PdUser) alice = add_user (fixture, "alice", TRUE, TRUE);
  g_autoptr (PdUser) bob = add_user (fixture, "bob", FALSE, TRUE);
  g_autoptr (PdUser) carol = add_user (fixture, "carol", FALSE, FALSE);
  g_autoptr (PosternChannel) a = create_channel (fixture, alice->id, "a@ch.example.org", POSTERN_CHANNEL_KIND_OPEN);
  g_autoptr (PosternChannel) b = create_channel (fixture, bob->id, "b@ch.example.org", POSTERN_CHANNEL_KIND_OPEN);
  g_autoptr (PosternChannel) c = create_channel (fixture, carol->id, "c@ch.example.org", POSTERN_CHANNEL_KIND_OPEN);
  g_autoptr (GPtrArray) events = NULL;
  g_autoptr (GError) error = NULL;
  CommitState state = { 0 };
  guint64 batches_before = pd_store_get_commit_batches (fixture->store);
  guint64 batches;
  gint64 start = g_get_monotonic_time ();
  gint64 previous = 0;
  guint expected_events = 0;

  commit_state_init (&state);

  /* Every message: alice gets a verdict that cycles through expected,
   * held, dropped-revoked and rejected; bob always expected; carol
   * unexpected. */
  for (guint i = 0; i < N_CONCURRENT; i++)
    {
      static const PosternVerdict cycle[] = {
        POSTERN_VERDICT_EXPECTED,
        POSTERN_VERDICT_HELD,
        POSTERN_VERDICT_DROPPED_REVOKED,
        POSTERN_VERDICT_REJECTED_UNEXPECTED,
      };
      g_autofree char *subject = g_strdup_printf ("message %u", i);
      char *body = g_strdup_printf ("Subject: message %u\r\n\r\nbody %u\r\n", i, i);
      gsize body_length = strlen (body);
      g_autoptr (PdMessage) message = new_message (subject, g_bytes_new_take (body, body_length));

      pd_message_add_recipient (message, alice->id, postern_channel_get_id (a), cycle[i % 4]);
      pd_message_add_recipient (message, bob->id, postern_channel_get_id (b), POSTERN_VERDICT_EXPECTED);
      pd_message_add_recipient (message, carol->id, postern_channel_get_id (c), POSTERN_VERDICT_UNEXPECTED);
      expected_events += 3;
      commit_start (fixture, message, &state, i);
    }
  commit_wait (&state);
  g_assert_no_error (state.error);

  batches = pd_store_get_commit_batches (fixture->store) - batches_before;
  g_test_message ("%d concurrent commits in %" G_GUINT64_FORMAT " batches, %.1f ms",
                  N_CONCURRENT, batches, (g_get_monotonic_time () - start) / 1000.0);
  if (g_getenv ("PD_STORE_REPORT") != NULL)
    g_printerr ("%d concurrent commits in %" G_GUINT64_FORMAT " batches, %.1f ms\n",
                N_CONCURRENT, batches, (g_get_monotonic_time () - start) / 1000.0);
  g_assert_cmpuint (batches, >=, 1);
  g_assert_cmpuint (batches, <, N_CONCURRENT);
  g_assert_cmpuint (state.results->len, ==, N_CONCURRENT);
  g_assert_cmpuint (fixture->event_signals, ==, expected_events);

  /* Completed in call order, with increasing event ids in recipient order. */
  for (guint i = 0; i < N_CONCURRENT; i++)
    {
      GArray *ids = g_ptr_array_index (state.results, i);

      g_assert_cmpuint (g_array_index (state.order, guint, i), ==, i);
      g_assert_cmpuint (ids->len, ==, 3);
      for (guint j = 0; j < 3; j++)
        {
          g_assert_cmpint (g_array_index (ids, gint64, j), >, previous);
          previous = g_array_index (ids, gint64, j);
        }
    }
  /* event-added came in the same order. */
  for (guint i = 1; i < fixture->signalled_event_ids->len; i++)
    g_assert_cmpint (g_array_index (fixture->signalled_event_ids, gint64, i), >,
                     g_array_index (fixture->signalled_event_ids, gint64, i - 1));
  g_assert_cmpuint (fixture->queued_signals, >=, 1);

  events = pd_store_list_events (fixture->store, alice->id, 0, 0, 0, FALSE, NULL, -1, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (events->len, ==, N_CONCURRENT);
  for (guint i = 0; i < N_CONCURRENT; i++)
    {
      g_autofree char *subject = g_strdup_printf ("message %u", i);

      g_assert_cmpstr (postern_event_get_subject (g_ptr_array_index (events, i)), ==, subject);
    }

  /* Deliveries: alice expected -> maildir + smtp pending; held -> two
   * held rows; dropped and rejected -> none. bob -> one smtp row per
   * message. carol has no target -> none. */
  g_assert_cmpint (count_rows (fixture, "SELECT count(*) FROM deliveries WHERE user_id = 1 AND state = 'pending'"), ==, N_CONCURRENT / 4 * 2);
  g_assert_cmpint (count_rows (fixture, "SELECT count(*) FROM deliveries WHERE user_id = 1 AND state = 'held'"), ==, N_CONCURRENT / 4 * 2);
  g_assert_cmpint (count_rows (fixture, "SELECT count(*) FROM deliveries d JOIN events e ON e.id = d.event_id "
                                        "WHERE d.user_id = 1 AND e.verdict IN ('dropped-revoked', 'rejected-unexpected')"),
                   ==, 0);
  g_assert_cmpint (count_rows (fixture, "SELECT count(*) FROM deliveries WHERE user_id = 1 AND target = 'maildir'"), ==, N_CONCURRENT / 2);
  g_assert_cmpint (count_rows (fixture, "SELECT count(*) FROM deliveries WHERE user_id = 2 AND target = 'smtp' AND state = 'pending'"), ==, N_CONCURRENT);
  g_assert_cmpint (count_rows (fixture, "SELECT count(*) FROM deliveries WHERE user_id = 2"), ==, N_CONCURRENT);
  g_assert_cmpint (count_rows (fixture, "SELECT count(*) FROM deliveries WHERE user_id = 3"), ==, 0);
  /* One body per message (every message goes to bob), shared by its rows,
   * in the database: no spool file. */
  g_assert_cmpint (count_rows (fixture, "SELECT count(DISTINCT message_key) FROM deliveries"), ==, N_CONCURRENT);
  g_assert_cmpint (count_rows (fixture, "SELECT count(*) FROM events WHERE user_id = 3 AND message_key IS NOT NULL"), ==, 0);
  g_assert_cmpint (count_rows (fixture, "SELECT count(*) FROM messages"), ==, N_CONCURRENT);
  g_assert_cmpint (count_rows (fixture, "SELECT count(*) FROM messages WHERE key IN (SELECT message_key FROM deliveries)"), ==, N_CONCURRENT);
  g_assert_cmpuint (count_spool_files (fixture), ==, 0);

  commit_state_clear (&state);
}

static void
test_spool_exact (Fixture *fixture,
                  gconstpointer data)
{
  static const guint8 raw[] = "Subject: =?utf-8?q?caf=C3=A9?=\r\nX-Bin: \x01\xff\xfe\r\n\r\n\0bin\0ary.\r\n..dot\r\n";
  g_autoptr (PdUser) alice = add_user (fixture, "alice", TRUE, TRUE);
  g_autoptr (PosternChannel) a = create_channel (fixture, alice->id, "a@ch.example.org", POSTERN_CHANNEL_KIND_OPEN);
  g_autoptr (PdMessage) message = new_message ("caf\xc3\xa9 \xff\xfe broken", g_bytes_new_static (raw, sizeof raw));
  g_autoptr (GBytes) read_back = NULL;
  g_autoptr (GBytes) expected = g_bytes_new_static (raw, sizeof raw);
  g_autoptr (GPtrArray) due = NULL;
  g_autoptr (GPtrArray) again = NULL;
  g_autoptr (GPtrArray) events = NULL;
  g_autoptr (GArray) ids = NULL;
  g_autoptr (GBytes) stored = NULL;
  g_autoptr (GError) error = NULL;
  PdDelivery *first;
  PdDelivery *second;
  const char *subject;

  g_free (message->header_from);
  message->header_from = g_strdup ("Bad \xc0\x80 <x@y.example>");
  pd_message_add_recipient (message, alice->id, postern_channel_get_id (a), POSTERN_VERDICT_ACCEPTED);
  ids = commit_one (fixture, message, &error);
  g_assert_no_error (error);

  due = pd_store_next_due_deliveries (fixture->store, g_get_real_time () / G_USEC_PER_SEC, 10, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (due->len, ==, 2);
  first = g_ptr_array_index (due, 0);
  second = g_ptr_array_index (due, 1);
  g_assert_cmpstr (first->message_key, ==, second->message_key);
  g_assert_cmpint (first->event_id, ==, g_array_index (ids, gint64, 0));
  g_assert_cmpstr (first->channel_id, ==, postern_channel_get_id (a));
  g_assert_cmpint (first->verdict, ==, POSTERN_VERDICT_ACCEPTED);
  g_assert_cmpint (first->attempts, ==, 0);
  g_assert_cmpstr (postern_event_get_envelope_sender (first->event), ==, "recruiter@jobs.example.com");

  /* Byte-exact, through the API and in the database. */
  read_back = pd_store_open_spool (fixture->store, first->message_key, &error);
  g_assert_no_error (error);
  g_assert_true (g_bytes_equal (read_back, expected));
  stored = body_in_db (fixture, first->message_key);
  g_assert_nonnull (stored);
  g_assert_cmpmem (g_bytes_get_data (stored, NULL), g_bytes_get_size (stored), raw, sizeof raw);
  g_assert_cmpuint (count_spool_files (fixture), ==, 0);

  /* Untrusted header text became valid UTF-8 before SQLite. */
  events = pd_store_list_events (fixture->store, alice->id, 0, 0, 0, FALSE, NULL, -1, &error);
  g_assert_no_error (error);
  subject = postern_event_get_subject (g_ptr_array_index (events, 0));
  g_assert_true (g_utf8_validate (subject, -1, NULL));
  g_assert_true (g_str_has_prefix (subject, "caf\xc3\xa9 "));
  g_assert_true (g_utf8_validate (postern_event_get_header_from (g_ptr_array_index (events, 0)), -1, NULL));
  g_assert_cmpint (postern_event_get_size (g_ptr_array_index (events, 0)), ==, sizeof raw);

  /* Leased: not handed out twice. */
  again = pd_store_next_due_deliveries (fixture->store, g_get_real_time () / G_USEC_PER_SEC, 10, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (again->len, ==, 0);
  g_clear_pointer (&again, g_ptr_array_unref);

  /* Not a key: refused, whatever it names. */
  g_clear_pointer (&read_back, g_bytes_unref);
  read_back = pd_store_open_spool (fixture->store, "../posternd.sqlite", &error);
  g_assert_error (error, PD_STORE_ERROR, PD_STORE_ERROR_INVALID);
  g_clear_error (&error);

  /* A failed attempt retries later; the body stays while a row needs it. */
  g_assert_true (pd_store_finish_delivery (fixture->store, first->id, PD_DELIVERY_PENDING, 100, "451 4.3.0 try \xff later", &error));
  g_assert_no_error (error);
  g_assert_true (pd_store_finish_delivery (fixture->store, second->id, PD_DELIVERY_DONE, 0, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (has_body_in_db (fixture, first->message_key));
  again = pd_store_next_due_deliveries (fixture->store, 100, 10, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (again->len, ==, 1);
  g_assert_cmpint (((PdDelivery *)g_ptr_array_index (again, 0))->id, ==, first->id);
  g_assert_cmpint (((PdDelivery *)g_ptr_array_index (again, 0))->attempts, ==, 1);
  g_assert_true (g_utf8_validate (((PdDelivery *)g_ptr_array_index (again, 0))->last_error, -1, NULL));

  /* The last row done: the body goes, and the events no longer name it. */
  g_assert_true (pd_store_finish_delivery (fixture->store, first->id, PD_DELIVERY_FAILED, 0, "550 5.1.1 no such user", &error));
  g_assert_no_error (error);
  g_assert_false (has_body_in_db (fixture, first->message_key));
  g_assert_cmpint (count_rows (fixture, "SELECT count(*) FROM messages"), ==, 0);
  g_assert_cmpint (count_rows (fixture, "SELECT count(*) FROM events WHERE message_key IS NOT NULL"), ==, 0);
  g_clear_pointer (&read_back, g_bytes_unref);
  read_back = pd_store_open_spool (fixture->store, first->message_key, &error);
  g_assert_error (error, PD_STORE_ERROR, PD_STORE_ERROR_NOT_FOUND);
  g_clear_error (&error);

  g_assert_false (pd_store_finish_delivery (fixture->store, 9999, PD_DELIVERY_DONE, 0, NULL, &error));
  g_assert_error (error, PD_STORE_ERROR, PD_STORE_ERROR_NOT_FOUND);
}

/* A lease is not a backoff: a leased row is handed out once; released
 * (a restarted posternd), it is due at once, while a row waiting for its
 * backoff still waits. Opening the store (an admin command next to a
 * running posternd) leaves leases alone. */
static void
test_leases (Fixture *fixture,
             gconstpointer data)
{
  g_autoptr (PdUser) alice = add_user (fixture, "alice", TRUE, TRUE);
  g_autoptr (PosternChannel) a = create_channel (fixture, alice->id, "a@ch.example.org", POSTERN_CHANNEL_KIND_OPEN);
  g_autoptr (PdMessage) message = new_message ("lease", g_bytes_new_static ("Subject: x\r\n\r\nx\r\n", 16));
  g_autoptr (PdStore) admin = NULL;
  g_autoptr (GPtrArray) due = NULL;
  g_autoptr (GPtrArray) again = NULL;
  g_autoptr (GPtrArray) pending = NULL;
  g_autoptr (GArray) ids = NULL;
  g_autoptr (GError) error = NULL;
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;
  gint64 next_at = 0;
  PdDelivery *backoff;
  PdDelivery *leased;

  pd_message_add_recipient (message, alice->id, postern_channel_get_id (a), POSTERN_VERDICT_ACCEPTED);
  ids = commit_one (fixture, message, &error);
  g_assert_no_error (error);

  due = pd_store_next_due_deliveries (fixture->store, now, 10, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (due->len, ==, 2);
  backoff = g_ptr_array_index (due, 0);
  leased = g_ptr_array_index (due, 1);
  g_assert_cmpint (leased->next_attempt_at, ==, now + PD_DELIVERY_LEASE_SECONDS);

  /* Leased: not handed out twice, up to the lease's last second. */
  again = pd_store_next_due_deliveries (fixture->store, now + PD_DELIVERY_LEASE_SECONDS - 1, 10, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (again->len, ==, 0);
  g_clear_pointer (&again, g_ptr_array_unref);

  /* One attempt fails and waits 10 minutes; the other stays under way. */
  g_assert_true (pd_store_finish_delivery (fixture->store, backoff->id, PD_DELIVERY_PENDING, now + 600, "451 4.3.0 later", &error));
  g_assert_no_error (error);
  g_assert_true (pd_store_get_next_delivery_at (fixture->store, &next_at, &error));
  g_assert_no_error (error);
  g_assert_cmpint (next_at, ==, now + 600);
  pending = pd_store_list_pending (fixture->store, 10, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (pending->len, ==, 2);
  g_assert_cmpint (((PdDelivery *)g_ptr_array_index (pending, 1))->next_attempt_at, ==, now + PD_DELIVERY_LEASE_SECONDS);

  /* Another handle on the same database: no lease is released. */
  admin = pd_store_open (fixture->dir, &error);
  g_assert_no_error (error);
  again = pd_store_next_due_deliveries (fixture->store, now, 10, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (again->len, ==, 0);
  g_clear_pointer (&again, g_ptr_array_unref);

  /* A new run: only the leased row comes back, and at once. */
  g_assert_cmpint (pd_store_release_leases (fixture->store, &error), ==, 1);
  g_assert_no_error (error);
  g_assert_true (pd_store_get_next_delivery_at (fixture->store, &next_at, &error));
  g_assert_cmpint (next_at, <=, now);
  again = pd_store_next_due_deliveries (fixture->store, now, 10, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (again->len, ==, 1);
  g_assert_cmpint (((PdDelivery *)g_ptr_array_index (again, 0))->id, ==, leased->id);
  g_assert_cmpint (((PdDelivery *)g_ptr_array_index (again, 0))->attempts, ==, 0);
  g_clear_pointer (&again, g_ptr_array_unref);

  /* The backoff is kept: due at its time, not before. */
  again = pd_store_next_due_deliveries (fixture->store, now + 599, 10, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (again->len, ==, 0);
  g_clear_pointer (&again, g_ptr_array_unref);
  again = pd_store_next_due_deliveries (fixture->store, now + 600, 10, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (again->len, ==, 1);
  g_assert_cmpint (((PdDelivery *)g_ptr_array_index (again, 0))->id, ==, backoff->id);
  g_assert_cmpint (((PdDelivery *)g_ptr_array_index (again, 0))->attempts, ==, 1);
  g_clear_pointer (&again, g_ptr_array_unref);

  /* Finished rows hold no lease. */
  g_assert_true (pd_store_finish_delivery (fixture->store, leased->id, PD_DELIVERY_DONE, 0, NULL, &error));
  g_assert_true (pd_store_finish_delivery (fixture->store, backoff->id, PD_DELIVERY_DONE, 0, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpint (count_rows (fixture, "SELECT count(*) FROM deliveries WHERE leased_until != 0"), ==, 0);
  g_assert_cmpint (pd_store_release_leases (fixture->store, &error), ==, 0);
  g_assert_no_error (error);
}

static void
test_held (Fixture *fixture,
           gconstpointer data)
{
  g_autoptr (PdUser) alice = add_user (fixture, "alice", TRUE, FALSE);
  g_autoptr (PosternChannel) a = create_channel (fixture, alice->id, "a@ch.example.org", POSTERN_CHANNEL_KIND_RELATIONSHIP);
  g_autoptr (GPtrArray) held = NULL;
  g_autoptr (GPtrArray) due = NULL;
  g_autoptr (GError) error = NULL;
  PdDelivery *keep;
  PdDelivery *drop;
  guint queued;

  for (guint i = 0; i < 2; i++)
    {
      g_autoptr (PdMessage) message = new_message ("held", g_bytes_new_static ("Subject: held\r\n\r\nx\r\n", 21));
      g_autoptr (GArray) ids = NULL;

      pd_message_add_recipient (message, alice->id, postern_channel_get_id (a), POSTERN_VERDICT_HELD);
      ids = commit_one (fixture, message, &error);
      g_assert_no_error (error);
    }

  /* Held rows are not due. */
  due = pd_store_next_due_deliveries (fixture->store, G_MAXINT64 / 2, 10, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (due->len, ==, 0);
  g_clear_pointer (&due, g_ptr_array_unref);

  held = pd_store_list_held (fixture->store, alice->id, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (held->len, ==, 2);
  keep = g_ptr_array_index (held, 0);
  drop = g_ptr_array_index (held, 1);
  g_assert_cmpint (keep->state, ==, PD_DELIVERY_HELD);
  g_assert_cmpint (keep->verdict, ==, POSTERN_VERDICT_HELD);
  g_assert_true (has_body_in_db (fixture, keep->message_key));
  g_assert_true (has_body_in_db (fixture, drop->message_key));

  queued = fixture->queued_signals;
  g_assert_true (pd_store_release_held (fixture->store, alice->id, keep->id, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (fixture->queued_signals, ==, queued + 1);
  g_assert_false (pd_store_release_held (fixture->store, alice->id, keep->id, &error));
  g_assert_error (error, PD_STORE_ERROR, PD_STORE_ERROR_NOT_FOUND);
  g_clear_error (&error);

  g_assert_true (pd_store_drop_held (fixture->store, alice->id, drop->id, &error));
  g_assert_no_error (error);
  g_assert_false (has_body_in_db (fixture, drop->message_key));
  g_assert_true (has_body_in_db (fixture, keep->message_key));

  due = pd_store_next_due_deliveries (fixture->store, g_get_real_time () / G_USEC_PER_SEC, 10, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (due->len, ==, 1);
  g_assert_cmpint (((PdDelivery *)g_ptr_array_index (due, 0))->id, ==, keep->id);
  g_assert_cmpstr (((PdDelivery *)g_ptr_array_index (due, 0))->target, ==, "maildir");

  g_clear_pointer (&held, g_ptr_array_unref);
  held = pd_store_list_held (fixture->store, alice->id, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (held->len, ==, 0);
}

static void
test_blocks_and_events (Fixture *fixture,
                        gconstpointer data)
{
  g_autoptr (PdUser) alice = add_user (fixture, "alice", FALSE, FALSE);
  g_autoptr (PosternChannel) a = create_channel (fixture, alice->id, "a@ch.example.org", POSTERN_CHANNEL_KIND_OPEN);
  g_autoptr (PosternChannel) b = create_channel (fixture, alice->id, "b@ch.example.org", POSTERN_CHANNEL_KIND_OPEN);
  g_autoptr (PosternSenderPattern) pattern = postern_sender_pattern_parse ("@.spam.example", NULL);
  g_autoptr (PosternBlockEntry) everywhere = NULL;
  g_autoptr (PosternBlockEntry) one = NULL;
  g_autoptr (PosternBlockEntry) dup = NULL;
  g_autoptr (GPtrArray) blocks = NULL;
  g_autoptr (GPtrArray) list = NULL;
  g_autoptr (GError) error = NULL;
  gint64 ids[6];

  everywhere = pd_store_add_block (fixture->store, alice->id, pattern, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (everywhere->id, >, 0);
  dup = pd_store_add_block (fixture->store, alice->id, pattern, NULL, &error);
  g_assert_error (error, PD_STORE_ERROR, PD_STORE_ERROR_EXISTS);
  g_clear_error (&error);
  one = pd_store_add_block (fixture->store, alice->id, pattern, postern_channel_get_id (a), &error);
  g_assert_no_error (error);
  blocks = pd_store_list_blocks (fixture->store, alice->id, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (blocks->len, ==, 2);
  g_assert_null (((PosternBlockEntry *)g_ptr_array_index (blocks, 0))->channel_id);
  g_assert_cmpstr (((PosternBlockEntry *)g_ptr_array_index (blocks, 1))->channel_id, ==, postern_channel_get_id (a));
  g_assert_true (pd_store_remove_block (fixture->store, alice->id, everywhere->id, &error));
  g_assert_no_error (error);

  /* Events: cursors, order and filters. Nothing is kept (no target). */
  for (guint i = 0; i < 6; i++)
    {
      g_autoptr (PdMessage) message = new_message ("e", g_bytes_new_static ("x", 1));
      g_autoptr (GArray) event_ids = NULL;

      pd_message_add_recipient (message, alice->id, postern_channel_get_id (i % 2 ? b : a),
                                i < 3 ? POSTERN_VERDICT_ACCEPTED : POSTERN_VERDICT_REJECTED_BLOCKED);
      event_ids = commit_one (fixture, message, &error);
      g_assert_no_error (error);
      ids[i] = g_array_index (event_ids, gint64, 0);
    }
  g_assert_cmpint (count_rows (fixture, "SELECT count(*) FROM deliveries"), ==, 0);

  list = pd_store_list_events (fixture->store, alice->id, ids[1], 0, 2, FALSE, NULL, -1, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (list->len, ==, 2);
  g_assert_cmpint (postern_event_get_id (g_ptr_array_index (list, 0)), ==, ids[2]);
  g_clear_pointer (&list, g_ptr_array_unref);

  list = pd_store_list_events (fixture->store, alice->id, 0, ids[5], 0, TRUE, NULL, -1, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (list->len, ==, 5);
  g_assert_cmpint (postern_event_get_id (g_ptr_array_index (list, 0)), ==, ids[4]);
  g_clear_pointer (&list, g_ptr_array_unref);

  list = pd_store_list_events (fixture->store, alice->id, 0, 0, 0, FALSE, postern_channel_get_id (b),
                               POSTERN_VERDICT_REJECTED_BLOCKED, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (list->len, ==, 2);
  g_assert_cmpint (postern_event_get_id (g_ptr_array_index (list, 0)), ==, ids[3]);
  g_assert_cmpint (postern_event_get_id (g_ptr_array_index (list, 1)), ==, ids[5]);
  g_assert_cmpint (pd_store_get_latest_event_id (fixture->store, alice->id), ==, ids[5]);
}

static void
test_spool_collect (Fixture *fixture,
                    gconstpointer data)
{
  static const char orphan_key[] = "0123456789abcdef0123456789abcdef";
  g_autoptr (PdUser) alice = add_user (fixture, "alice", TRUE, FALSE);
  g_autoptr (PdUser) bob = add_user (fixture, "bob", TRUE, FALSE);
  g_autoptr (PosternChannel) a = create_channel (fixture, alice->id, "a@ch.example.org", POSTERN_CHANNEL_KIND_OPEN);
  g_autoptr (PosternChannel) b = create_channel (fixture, bob->id, "b@ch.example.org", POSTERN_CHANNEL_KIND_OPEN);
  g_autoptr (PdMessage) both = new_message ("both", g_bytes_new_static ("to both\r\n", 9));
  g_autoptr (PdMessage) alone = new_message ("alone", g_bytes_new_static ("alice only\r\n", 12));
  g_autoptr (GArray) both_ids = NULL;
  g_autoptr (GArray) alone_ids = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *orphan = g_build_filename (pd_store_get_spool_dir (fixture->store), orphan_key, NULL);
  g_autofree char *tmp = g_build_filename (pd_store_get_spool_dir (fixture->store), "tmp.0123", NULL);
  g_autofree char *fresh = g_build_filename (pd_store_get_spool_dir (fixture->store), "fedcba9876543210fedcba9876543210", NULL);
  g_autofree char *both_key = NULL;
  g_autofree char *alone_key = NULL;
  struct utimbuf old = { 0 };

  pd_message_add_recipient (both, alice->id, postern_channel_get_id (a), POSTERN_VERDICT_EXPECTED);
  pd_message_add_recipient (both, bob->id, postern_channel_get_id (b), POSTERN_VERDICT_EXPECTED);
  both_ids = commit_one (fixture, both, &error);
  g_assert_no_error (error);
  pd_message_add_recipient (alone, alice->id, postern_channel_get_id (a), POSTERN_VERDICT_EXPECTED);
  alone_ids = commit_one (fixture, alone, &error);
  g_assert_no_error (error);

  both_key = query_text (fixture, "SELECT message_key FROM deliveries WHERE user_id = 2");
  alone_key = query_text (fixture, "SELECT message_key FROM deliveries WHERE user_id = 1 ORDER BY id DESC");
  g_assert_cmpstr (both_key, !=, alone_key);
  g_assert_true (has_body_in_db (fixture, both_key));
  g_assert_true (has_body_in_db (fixture, alone_key));

  /* Removing alice removes the body only she needed; the shared one stays
   * for bob. */
  g_assert_true (pd_store_remove_user (fixture->store, "alice", &error));
  g_assert_no_error (error);
  g_assert_false (has_body_in_db (fixture, alone_key));
  g_assert_true (has_body_in_db (fixture, both_key));

  /* A body no row needs, left by a crash between a delivery's last commit
   * and the body's removal: it goes at the next open. */
  exec_sql (fixture, "INSERT INTO messages (key, data, created_at) VALUES (?1, x'6f727068616e', 0)", "00000000000000000000000000000001");
  g_assert_true (has_body_in_db (fixture, "00000000000000000000000000000001"));

  /* Spool files of an older database that no row needs, left by a crash:
   * old ones go at the next open, recent ones (a commit of another process
   * may be on its way) stay. */
  g_assert_true (g_file_set_contents (orphan, "orphan", -1, &error));
  g_assert_true (g_file_set_contents (tmp, "partial", -1, &error));
  g_assert_true (g_file_set_contents (fresh, "fresh", -1, &error));
  old.actime = old.modtime = time (NULL) - 2 * 60 * 60;
  g_assert_cmpint (g_utime (orphan, &old), ==, 0);
  g_assert_cmpint (g_utime (tmp, &old), ==, 0);

  close_store (fixture);
  open_store (fixture);
  g_assert_false (g_file_test (orphan, G_FILE_TEST_EXISTS));
  g_assert_false (g_file_test (tmp, G_FILE_TEST_EXISTS));
  g_assert_true (g_file_test (fresh, G_FILE_TEST_EXISTS));
  g_assert_false (has_body_in_db (fixture, "00000000000000000000000000000001"));
  g_assert_true (has_body_in_db (fixture, both_key));
}

static void
set_channel_state (Fixture *fixture,
                   gint64 user_id,
                   PosternChannel *channel,
                   PosternChannelState state)
{
  g_autoptr (PosternChannel) edit = postern_channel_copy (channel);
  g_autoptr (PosternChannel) updated = NULL;
  g_autoptr (GError) error = NULL;

  postern_channel_set_state (edit, state);
  updated = pd_store_update_channel (fixture->store, user_id, edit, 0, &error);
  g_assert_no_error (error);
  g_assert_nonnull (updated);
}

/* A channel the owner closes while a message for it is being received
 * (judged accepted at RCPT, committed after) gets the message recorded as
 * dropped, with no delivery and no body kept: revoked, deleted, expired.
 * A pause in that time does not stop it: it was accepted before. */
static void
test_closed_before_commit (Fixture *fixture,
                           gconstpointer data)
{
  g_autoptr (PdUser) alice = add_user (fixture, "alice", TRUE, FALSE);
  g_autoptr (PosternChannel) revoked = create_channel (fixture, alice->id, "revoked@ch.example.org", POSTERN_CHANNEL_KIND_OPEN);
  g_autoptr (PosternChannel) deleted = create_channel (fixture, alice->id, "deleted@ch.example.org", POSTERN_CHANNEL_KIND_OPEN);
  g_autoptr (PosternChannel) paused = create_channel (fixture, alice->id, "paused@ch.example.org", POSTERN_CHANNEL_KIND_OPEN);
  g_autoptr (PdMessage) message = new_message ("in flight", g_bytes_new_static ("body\r\n", 6));
  g_autoptr (GArray) ids = NULL;
  g_autoptr (GError) error = NULL;

  pd_message_add_recipient (message, alice->id, postern_channel_get_id (revoked), POSTERN_VERDICT_ACCEPTED);
  pd_message_add_recipient (message, alice->id, postern_channel_get_id (deleted), POSTERN_VERDICT_ACCEPTED);
  pd_message_add_recipient (message, alice->id, postern_channel_get_id (paused), POSTERN_VERDICT_ACCEPTED);

  /* Between RCPT and the end of DATA. */
  set_channel_state (fixture, alice->id, revoked, POSTERN_CHANNEL_STATE_REVOKED);
  g_assert_true (pd_store_delete_channel (fixture->store, alice->id, postern_channel_get_id (deleted), &error));
  g_assert_no_error (error);
  set_channel_state (fixture, alice->id, paused, POSTERN_CHANNEL_STATE_PAUSED);

  ids = commit_one (fixture, message, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (ids->len, ==, 3);
  g_assert_cmpint (count_rows (fixture, "SELECT count(*) FROM events e JOIN channels c ON c.id = e.channel_id "
                                        "WHERE c.address IN ('revoked@ch.example.org', 'deleted@ch.example.org') "
                                        "AND e.verdict = 'dropped-revoked' AND e.message_key IS NULL"),
                   ==, 2);
  g_assert_cmpint (count_rows (fixture, "SELECT count(*) FROM events e JOIN channels c ON c.id = e.channel_id "
                                        "WHERE c.address = 'paused@ch.example.org' AND e.verdict = 'accepted'"),
                   ==, 1);
  /* One delivery, the paused channel's; its body is kept. */
  g_assert_cmpint (count_rows (fixture, "SELECT count(*) FROM deliveries"), ==, 1);
  g_assert_cmpint (count_rows (fixture, "SELECT count(*) FROM messages"), ==, 1);
}

static gint64
file_size (Fixture *fixture,
           const char *name)
{
  g_autofree char *path = g_build_filename (fixture->dir, name, NULL);
  struct stat st;

  return stat (path, &st) == 0 ? st.st_size : 0;
}

/* The disk fills in the middle of a batch that is being retried message by
 * message (one of its messages failed): SQLite then rolls the whole
 * transaction back. Whatever each message is told must be true: a message
 * answered stored has its event, one answered failed has none (a failed
 * one that was stored anyway would be sent again and stored twice). The
 * file size limit (RLIMIT_FSIZE) stands in for a full disk. */
static void
test_disk_full_mid_batch (Fixture *fixture,
                          gconstpointer data)
{
  g_autoptr (PdUser) alice = add_user (fixture, "alice", TRUE, FALSE);
  g_autoptr (PosternChannel) a = create_channel (fixture, alice->id, "a@ch.example.org", POSTERN_CHANNEL_KIND_OPEN);
  g_autoptr (GPtrArray) subjects = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GArray) first = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (PdMessage) warm = new_message ("warm", g_bytes_new_static ("x\r\n", 3));
  CommitState state = { 0 };
  struct rlimit old_limit, limit;
  guint stored = 0;
  void (*old_handler) (int);
  GLogLevelFlags old_fatal;

  /* The WAL exists and has been written once. */
  pd_message_add_recipient (warm, alice->id, postern_channel_get_id (a), POSTERN_VERDICT_ACCEPTED);
  first = commit_one (fixture, warm, &error);
  g_assert_no_error (error);

  /* The store warns of each failed batch: expected here. */
  old_fatal = g_log_set_always_fatal (G_LOG_FATAL_MASK);
  old_handler = signal (SIGXFSZ, SIG_IGN);
  g_assert_cmpint (getrlimit (RLIMIT_FSIZE, &old_limit), ==, 0);
  limit = old_limit;
  limit.rlim_cur = (rlim_t)MAX (file_size (fixture, "posternd.sqlite"), file_size (fixture, "posternd.sqlite-wal")) + 1024 * 1024;
  g_assert_cmpint (setrlimit (RLIMIT_FSIZE, &limit), ==, 0);

  commit_state_init (&state);
  for (guint i = 0; i < 16; i++)
    {
      gsize size = 400 * 1024;
      g_autofree guint8 *raw = g_malloc (size);
      g_autofree char *subject = g_strdup_printf ("full %u", i);
      g_autoptr (PdMessage) message = NULL;

      memset (raw, 'a' + (int)i, size);
      message = new_message (subject, g_bytes_new (raw, size));
      /* The first names no channel: the batch is retried one by one. */
      pd_message_add_recipient (message, alice->id, i == 0 ? "00000000-0000-4000-8000-000000000000" : postern_channel_get_id (a),
                                POSTERN_VERDICT_ACCEPTED);
      g_ptr_array_add (subjects, g_steal_pointer (&subject));
      commit_start (fixture, message, &state, i);
    }
  commit_wait (&state);
  g_assert_cmpint (setrlimit (RLIMIT_FSIZE, &old_limit), ==, 0);
  signal (SIGXFSZ, old_handler);
  g_log_set_always_fatal (old_fatal);

  for (guint i = 0; i < subjects->len; i++)
    {
      g_autofree char *sql = g_strdup_printf ("SELECT count(*) FROM events WHERE subject = '%s'", (char *)g_ptr_array_index (subjects, i));
      gboolean told_stored = FALSE;

      for (guint k = 0; k < state.order->len; k++)
        told_stored |= g_array_index (state.order, guint, k) == i;
      g_assert_cmpint (count_rows (fixture, sql), ==, told_stored ? 1 : 0);
      stored += told_stored;
    }
  g_test_message ("%u of %u told stored", stored, subjects->len);
  commit_state_clear (&state);
}

/* Bodies are keyed in the order they arrive, so the indexes on
 * message_key grow at their right edge (a batch dirties one leaf of each,
 * not a random page per message): with 64 messages committed one after
 * another, the keys sorted are the keys in event order. Random keys would
 * be in event order once in 64! tries. */
static void
test_keys_in_arrival_order (Fixture *fixture,
                            gconstpointer data)
{
  g_autoptr (PdUser) alice = add_user (fixture, "alice", TRUE, FALSE);
  g_autoptr (PosternChannel) a = create_channel (fixture, alice->id, "a@ch.example.org", POSTERN_CHANNEL_KIND_OPEN);
  g_autofree char *previous = NULL;

  for (guint i = 0; i < 64; i++)
    {
      g_autoptr (PdMessage) message = new_message ("order", g_bytes_new_static ("body\r\n", 6));
      g_autoptr (GArray) ids = NULL;
      g_autoptr (GError) error = NULL;
      g_autofree char *sql = NULL;
      g_autofree char *key = NULL;

      pd_message_add_recipient (message, alice->id, postern_channel_get_id (a), POSTERN_VERDICT_ACCEPTED);
      ids = commit_one (fixture, message, &error);
      g_assert_no_error (error);
      sql = g_strdup_printf ("SELECT message_key FROM events WHERE id = %" G_GINT64_FORMAT, g_array_index (ids, gint64, 0));
      key = query_text (fixture, sql);
      g_assert_nonnull (key);
      g_assert_true (pd_spool_key_is_valid (key));
      if (previous != NULL)
        g_assert_cmpstr (previous, <, key);
      g_free (previous);
      previous = g_steal_pointer (&key);
    }
}

/* Bodies go into the batch's transaction, not into files: a commit of
 * many messages leaves the spool directory empty and every body, byte for
 * byte, in the messages table. */
static void
test_bodies_in_database (Fixture *fixture,
                         gconstpointer data)
{
  g_autoptr (PdUser) alice = add_user (fixture, "alice", TRUE, FALSE);
  g_autoptr (PosternChannel) a = create_channel (fixture, alice->id, "a@ch.example.org", POSTERN_CHANNEL_KIND_OPEN);
  g_autoptr (GPtrArray) bodies = g_ptr_array_new_with_free_func ((GDestroyNotify)g_bytes_unref);
  g_autoptr (GPtrArray) due = NULL;
  g_autoptr (GError) error = NULL;
  CommitState state = { 0 };
  guint64 batches = pd_store_get_commit_batches (fixture->store);

  commit_state_init (&state);
  for (guint i = 0; i < 32; i++)
    {
      /* 50 KiB and empty bodies too: overflow pages, and a blob of size 0. */
      gsize size = i == 0 ? 0 : (i % 2 ? 50 * 1024 : 1024);
      g_autofree guint8 *raw = g_malloc (MAX (size, 1));
      g_autoptr (PdMessage) message = NULL;

      for (gsize j = 0; j < size; j++)
        raw[j] = (guint8)(i * 31 + j * 7);
      g_ptr_array_add (bodies, g_bytes_new (raw, size));
      message = new_message ("body", g_bytes_new (raw, size));
      pd_message_add_recipient (message, alice->id, postern_channel_get_id (a), POSTERN_VERDICT_ACCEPTED);
      commit_start (fixture, message, &state, i);
    }
  commit_wait (&state);
  g_assert_no_error (state.error);
  g_assert_cmpuint (pd_store_get_commit_batches (fixture->store) - batches, <, 32);

  g_assert_cmpuint (count_spool_files (fixture), ==, 0);
  g_assert_cmpint (count_rows (fixture, "SELECT count(*) FROM messages"), ==, 32);
  for (guint i = 0; i < 32; i++)
    {
      g_autofree char *sql = NULL;
      g_autofree char *key = NULL;
      g_autoptr (GBytes) stored = NULL;
      g_autoptr (GBytes) read_back = NULL;
      GArray *ids = g_ptr_array_index (state.results, i);

      /* Results come in completion order: find the body by its event. */
      sql = g_strdup_printf ("SELECT message_key FROM events WHERE id = %" G_GINT64_FORMAT, g_array_index (ids, gint64, 0));
      key = query_text (fixture, sql);
      g_assert_nonnull (key);
      stored = body_in_db (fixture, key);
      g_assert_nonnull (stored);
      read_back = pd_store_open_spool (fixture->store, key, &error);
      g_assert_no_error (error);
      g_assert_true (g_bytes_equal (read_back, stored));
    }
  /* Every body sent is one of those committed, byte for byte. */
  due = pd_store_next_due_deliveries (fixture->store, G_MAXINT64 / 2, 100, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (due->len, ==, 32);
  for (guint j = 0; j < bodies->len; j++)
    {
      gboolean found = FALSE;

      for (guint k = 0; k < due->len && !found; k++)
        {
          g_autoptr (GBytes) body = pd_store_open_spool (fixture->store, ((PdDelivery *)g_ptr_array_index (due, k))->message_key, &error);

          g_assert_no_error (error);
          found = g_bytes_equal (body, g_ptr_array_index (bodies, j));
        }
      g_assert_true (found);
    }

  commit_state_clear (&state);
}

/* The delivery queue records its results in batches: once the last row of
 * a message is final, its body leaves the database; a body another row
 * still needs stays. */
static void
test_body_collected (Fixture *fixture,
                     gconstpointer data)
{
  g_autoptr (PdUser) alice = add_user (fixture, "alice", TRUE, TRUE);
  g_autoptr (PosternChannel) a = create_channel (fixture, alice->id, "a@ch.example.org", POSTERN_CHANNEL_KIND_OPEN);
  g_autoptr (GPtrArray) due = NULL;
  g_autoptr (GBytes) gone = NULL;
  g_autoptr (GError) error = NULL;
  PdDeliveryFinish finish[3] = { { 0 } };
  const char *key[2];

  for (guint i = 0; i < 2; i++)
    {
      static const char raw[] = "Subject: gc\r\n\r\nx\r\n";
      g_autoptr (PdMessage) message = new_message ("gc", g_bytes_new_static (raw, strlen (raw)));
      g_autoptr (GArray) ids = NULL;

      pd_message_add_recipient (message, alice->id, postern_channel_get_id (a), POSTERN_VERDICT_ACCEPTED);
      ids = commit_one (fixture, message, &error);
      g_assert_no_error (error);
    }

  /* Two messages, two rows each (maildir and smtp). */
  due = pd_store_next_due_deliveries (fixture->store, G_MAXINT64 / 2, 10, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (due->len, ==, 4);
  key[0] = ((PdDelivery *)g_ptr_array_index (due, 0))->message_key;
  key[1] = ((PdDelivery *)g_ptr_array_index (due, 2))->message_key;
  g_assert_cmpstr (key[0], ==, ((PdDelivery *)g_ptr_array_index (due, 1))->message_key);
  g_assert_cmpstr (key[1], ==, ((PdDelivery *)g_ptr_array_index (due, 3))->message_key);
  g_assert_cmpstr (key[0], !=, key[1]);
  g_assert_true (has_body_in_db (fixture, key[0]));
  g_assert_true (has_body_in_db (fixture, key[1]));

  /* The first message's two rows done and failed; the second's maildir
   * row done, its smtp row to retry. */
  for (guint i = 0; i < 3; i++)
    finish[i].delivery_id = ((PdDelivery *)g_ptr_array_index (due, i))->id;
  finish[0].state = PD_DELIVERY_DONE;
  finish[1].state = PD_DELIVERY_FAILED;
  finish[1].last_error = "550 5.1.1 no";
  finish[2].state = PD_DELIVERY_DONE;
  g_assert_true (pd_store_finish_deliveries (fixture->store, finish, 3, &error));
  g_assert_no_error (error);
  g_assert_false (has_body_in_db (fixture, key[0]));
  g_assert_true (has_body_in_db (fixture, key[1]));
  gone = pd_store_open_spool (fixture->store, key[0], &error);
  g_assert_error (error, PD_STORE_ERROR, PD_STORE_ERROR_NOT_FOUND);
  g_assert_null (gone);
  g_clear_error (&error);

  /* The second message's last row final: its body goes too. */
  finish[0].delivery_id = ((PdDelivery *)g_ptr_array_index (due, 3))->id;
  finish[0].state = PD_DELIVERY_DONE;
  g_assert_true (pd_store_finish_deliveries (fixture->store, finish, 1, &error));
  g_assert_no_error (error);
  g_assert_false (has_body_in_db (fixture, key[1]));
  g_assert_cmpint (count_rows (fixture, "SELECT count(*) FROM messages"), ==, 0);
  g_assert_cmpint (count_rows (fixture, "SELECT count(*) FROM events WHERE message_key IS NOT NULL"), ==, 0);
  g_assert_cmpuint (count_spool_files (fixture), ==, 0);
}

/* A database from before the messages table kept its bodies as spool
 * files: they are still read, and collected when their rows are done. */
static void
test_legacy_spool (Fixture *fixture,
                   gconstpointer data)
{
  static const char raw[] = "Subject: old\r\n\r\nkept as a file\r\n";
  g_autoptr (PdUser) alice = add_user (fixture, "alice", TRUE, FALSE);
  g_autoptr (PosternChannel) a = create_channel (fixture, alice->id, "a@ch.example.org", POSTERN_CHANNEL_KIND_OPEN);
  g_autoptr (PdMessage) message = new_message ("old", g_bytes_new_static (raw, strlen (raw)));
  g_autoptr (GArray) ids = NULL;
  g_autoptr (GPtrArray) due = NULL;
  g_autoptr (GBytes) read_back = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *path = NULL;
  PdDelivery *delivery;

  pd_message_add_recipient (message, alice->id, postern_channel_get_id (a), POSTERN_VERDICT_ACCEPTED);
  ids = commit_one (fixture, message, &error);
  g_assert_no_error (error);
  due = pd_store_next_due_deliveries (fixture->store, G_MAXINT64 / 2, 10, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (due->len, ==, 1);
  delivery = g_ptr_array_index (due, 0);

  /* Make it what schema 2 left: the body in a spool file, not in the table. */
  path = g_build_filename (pd_store_get_spool_dir (fixture->store), delivery->message_key, NULL);
  g_assert_true (g_file_set_contents (path, raw, strlen (raw), &error));
  g_assert_no_error (error);
  exec_sql (fixture, "DELETE FROM messages WHERE key = ?1", delivery->message_key);
  g_assert_false (has_body_in_db (fixture, delivery->message_key));

  read_back = pd_store_open_spool (fixture->store, delivery->message_key, &error);
  g_assert_no_error (error);
  g_assert_cmpmem (g_bytes_get_data (read_back, NULL), g_bytes_get_size (read_back), raw, strlen (raw));

  g_assert_true (pd_store_finish_delivery (fixture->store, delivery->id, PD_DELIVERY_DONE, 0, NULL, &error));
  g_assert_no_error (error);
  g_assert_false (g_file_test (path, G_FILE_TEST_EXISTS));
  g_assert_cmpint (count_rows (fixture, "SELECT count(*) FROM events WHERE message_key IS NOT NULL"), ==, 0);
}

/* ---- kill -9 ---- */

#define CHILD_MAX_COMMITS 20000
#define CHILD_IN_FLIGHT   16
#define CHILD_SECONDS     20
#define KILL_ROUNDS       3

typedef struct
{
  PdStore *store;
  gint64 user_id;
  const char *channel_id;
  guint started;
  guint in_flight;
  gboolean failed;
} Child;

static void child_start_one (Child *child);

static void
child_committed_cb (GObject *object,
                    GAsyncResult *result,
                    gpointer user_data)
{
  Child *child = user_data;
  g_autoptr (GError) error = NULL;
  g_autoptr (GArray) ids = pd_store_commit_message_finish (PD_STORE (object), result, &error);

  child->in_flight--;
  if (ids == NULL)
    {
      g_printerr ("child: %s\n", error->message);
      child->failed = TRUE;
      return;
    }

  /* Reported only once the commit completed: the parent checks that every
   * reported event survived the kill. */
  fprintf (stdout, "%" G_GINT64_FORMAT "\n", g_array_index (ids, gint64, 0));
  fflush (stdout);
  child_start_one (child);
}

static void
child_start_one (Child *child)
{
  g_autofree char *subject = NULL;
  g_autofree char *body = NULL;
  g_autoptr (PdMessage) message = NULL;
  gsize length;

  if (child->started >= CHILD_MAX_COMMITS || child->failed)
    return;

  subject = g_strdup_printf ("kill %u", child->started++);
  body = g_strdup_printf ("Subject: %s\r\n\r\nbody\r\n", subject);
  length = strlen (body);
  message = new_message (subject, g_bytes_new_take (g_steal_pointer (&body), length));
  pd_message_add_recipient (message, child->user_id, child->channel_id, POSTERN_VERDICT_EXPECTED);
  child->in_flight++;
  pd_store_commit_message_async (child->store, message, NULL, child_committed_cb, child);
}

/* The child side of test_kill_9: commits as fast as it can until killed. */
static int
run_commit_child (const char *dir,
                  const char *user_id,
                  const char *channel_id)
{
  g_autoptr (GError) error = NULL;
  gint64 deadline = g_get_monotonic_time () + CHILD_SECONDS * G_USEC_PER_SEC;
  Child child = { 0 };

  child.store = pd_store_open (dir, &error);
  if (child.store == NULL)
    {
      g_printerr ("child: %s\n", error->message);
      return 1;
    }
  child.user_id = g_ascii_strtoll (user_id, NULL, 10);
  child.channel_id = channel_id;

  for (guint i = 0; i < CHILD_IN_FLIGHT; i++)
    child_start_one (&child);
  while (child.in_flight > 0 && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, TRUE);

  g_object_unref (child.store);
  return child.failed ? 1 : 0;
}

typedef struct
{
  GDataInputStream *input;
  GArray *ids;
  gboolean reading;
  gboolean eof;
} ChildReader;

static void
child_line_cb (GObject *object,
               GAsyncResult *result,
               gpointer user_data)
{
  ChildReader *reader = user_data;
  g_autofree char *line = g_data_input_stream_read_line_finish (G_DATA_INPUT_STREAM (object), result, NULL, NULL);
  gint64 id;

  reader->reading = FALSE;
  if (line == NULL)
    {
      reader->eof = TRUE;
      return;
    }
  if (g_ascii_string_to_signed (line, 10, 1, G_MAXINT64, &id, NULL))
    g_array_append_val (reader->ids, id);
}

static void
test_kill_9 (Fixture *fixture,
             gconstpointer data)
{
  g_autoptr (PdUser) alice = add_user (fixture, "alice", FALSE, TRUE);
  g_autoptr (PosternChannel) channel = create_channel (fixture, alice->id, "k@ch.example.org", POSTERN_CHANNEL_KIND_OPEN);
  g_autofree char *self_exe = g_file_read_link ("/proc/self/exe", NULL);
  g_autofree char *user_id = g_strdup_printf ("%" G_GINT64_FORMAT, alice->id);
  g_autoptr (GArray) all_ids = g_array_new (FALSE, FALSE, sizeof (gint64));

  g_assert_nonnull (self_exe);
  close_store (fixture);

  for (guint round = 0; round < KILL_ROUNDS; round++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (GSubprocess) process = NULL;
      g_autoptr (GDataInputStream) input = NULL;
      g_autoptr (GArray) ids = g_array_new (FALSE, FALSE, sizeof (gint64));
      gint64 deadline = g_get_monotonic_time () + 15 * G_USEC_PER_SEC;
      guint kill_after = g_test_rand_int_range (20, 300);
      gboolean killed = FALSE;
      ChildReader reader = { 0 };

      process = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE, &error,
                                  self_exe, "--commit-child", fixture->dir, user_id,
                                  postern_channel_get_id (channel), NULL);
      g_assert_no_error (error);
      input = g_data_input_stream_new (g_subprocess_get_stdout_pipe (process));
      reader.input = input;
      reader.ids = ids;

      while (!reader.eof && g_get_monotonic_time () < deadline)
        {
          if (!reader.reading)
            {
              reader.reading = TRUE;
              g_data_input_stream_read_line_async (input, G_PRIORITY_DEFAULT, NULL, child_line_cb, &reader);
            }
          g_main_context_iteration (NULL, TRUE);
          if (!killed && ids->len >= kill_after)
            {
              /* SIGKILL, in the middle of the stream of commits. */
              g_subprocess_force_exit (process);
              killed = TRUE;
            }
        }
      /* The last read finishes with EOF once the pipe closes. */
      while (reader.reading && g_get_monotonic_time () < deadline)
        g_main_context_iteration (NULL, TRUE);

      g_assert_true (reader.eof);
      g_assert_true (killed);
      g_assert_true (g_subprocess_wait (process, NULL, &error));
      g_assert_no_error (error);
      g_assert_true (g_subprocess_get_if_signaled (process));
      g_assert_cmpuint (ids->len, >=, kill_after);
      g_test_message ("round %u: killed after %u reported commits", round, ids->len);
      g_array_append_vals (all_ids, ids->data, ids->len);
    }

  /* Every commit reported complete is there, with its delivery row and a
   * spool file that holds its message. */
  open_store (fixture);
  for (guint i = 0; i < all_ids->len; i++)
    {
      gint64 id = g_array_index (all_ids, gint64, i);
      g_autoptr (GPtrArray) events = NULL;
      g_autoptr (GError) error = NULL;
      g_autoptr (GBytes) spool = NULL;
      g_autofree char *sql = g_strdup_printf ("SELECT message_key FROM deliveries WHERE event_id = %" G_GINT64_FORMAT, id);
      g_autofree char *expected = NULL;
      g_autofree char *key = NULL;
      PosternEvent *event;

      events = pd_store_list_events (fixture->store, alice->id, id - 1, id + 1, 1, FALSE, NULL, -1, &error);
      g_assert_no_error (error);
      g_assert_cmpuint (events->len, ==, 1);
      event = g_ptr_array_index (events, 0);
      g_assert_cmpint (postern_event_get_id (event), ==, id);

      key = query_text (fixture, sql);
      g_assert_nonnull (key);
      spool = pd_store_open_spool (fixture->store, key, &error);
      g_assert_no_error (error);
      expected = g_strdup_printf ("Subject: %s\r\n\r\nbody\r\n", postern_event_get_subject (event));
      g_assert_cmpmem (g_bytes_get_data (spool, NULL), g_bytes_get_size (spool), expected, strlen (expected));
    }
}

static void
test_schema_newer (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("postern-store-XXXXXX", &error);
  g_autofree char *path = g_build_filename (dir, "posternd.sqlite", NULL);
  g_autoptr (PdStore) store = NULL;
  sqlite3 *db = NULL;

  g_assert_no_error (error);
  g_assert_cmpint (sqlite3_open (path, &db), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_exec (db, "CREATE TABLE future (x); PRAGMA user_version = 99", NULL, NULL, NULL), ==, SQLITE_OK);
  sqlite3_close (db);

  store = pd_store_open (dir, &error);
  g_assert_error (error, PD_STORE_ERROR, PD_STORE_ERROR_SCHEMA);
  g_assert_null (store);
  g_clear_error (&error);

  /* Untouched: still 99, no table of ours. */
  g_assert_cmpint (sqlite3_open (path, &db), ==, SQLITE_OK);
  {
    sqlite3_stmt *stmt = NULL;

    g_assert_cmpint (sqlite3_prepare_v2 (db, "SELECT (SELECT user_version FROM pragma_user_version), "
                                             "(SELECT count(*) FROM sqlite_schema WHERE name = 'users')",
                                         -1, &stmt, NULL),
                     ==, SQLITE_OK);
    g_assert_cmpint (sqlite3_step (stmt), ==, SQLITE_ROW);
    g_assert_cmpint (sqlite3_column_int (stmt, 0), ==, 99);
    g_assert_cmpint (sqlite3_column_int (stmt, 1), ==, 0);
    sqlite3_finalize (stmt);
  }
  sqlite3_close (db);
  rm_rf (dir);
}

static void
test_maildir_deliver (void)
{
  static const char message_text[] = "From: a@b.example\r\nSubject: hi\r\n\r\nline one\r\nbare\rcr\r\n";
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("postern-maildir-XXXXXX", &error);
  g_autofree char *maildir = g_build_filename (dir, "deep", "Maildir", NULL);
  g_autoptr (GBytes) message = g_bytes_new_static (message_text, sizeof message_text - 1);
  g_autofree char *first = NULL;
  g_autofree char *second = NULL;
  g_autofree char *contents = NULL;
  g_autofree char *tmp_dir = NULL;
  g_autoptr (GDir) tmp = NULL;
  const char *expected = "X-Postern-Channel: a@ch.example.org\nX-Postern-Verdict: expected\n"
                         "From: a@b.example\nSubject: hi\n\nline one\nbare\rcr\n";
  gsize length = 0;

  g_assert_no_error (error);

  g_assert_true (pd_maildir_deliver (maildir, message,
                                     "X-Postern-Channel: a@ch.example.org\r\nX-Postern-Verdict: expected\r\n",
                                     &first, &error));
  g_assert_no_error (error);
  g_assert_true (pd_maildir_deliver (maildir, message, NULL, &second, &error));
  g_assert_no_error (error);

  for (guint i = 0; i < 3; i++)
    {
      static const char *const subdirs[] = { "cur", "new", "tmp" };
      g_autofree char *sub = g_build_filename (maildir, subdirs[i], NULL);
      struct stat st;

      g_assert_cmpint (g_stat (sub, &st), ==, 0);
      g_assert_true (S_ISDIR (st.st_mode));
      g_assert_cmpint (st.st_mode & 0777, ==, 0700);
    }

  g_assert_cmpstr (first, !=, second);
  g_assert_true (g_str_has_prefix (first, maildir));
  g_assert_nonnull (strstr (first, "/new/"));
  g_assert_true (g_file_get_contents (first, &contents, &length, &error));
  g_assert_cmpstr (contents, ==, expected);
  g_clear_pointer (&contents, g_free);
  g_assert_true (g_file_get_contents (second, &contents, &length, &error));
  g_assert_cmpstr (contents, ==, "From: a@b.example\nSubject: hi\n\nline one\nbare\rcr\n");

  /* Nothing is left in tmp/. */
  tmp_dir = g_build_filename (maildir, "tmp", NULL);
  tmp = g_dir_open (tmp_dir, 0, &error);
  g_assert_no_error (error);
  g_assert_null (g_dir_read_name (tmp));

  g_assert_false (pd_maildir_deliver ("relative/Maildir", message, NULL, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);

  rm_rf (dir);
}

/* One message of a batch that cannot be stored (its channel is not its
 * user's) fails alone: the others of the same transaction are committed,
 * with their events and bodies, and nothing of the bad one is. The batch
 * is made certain by holding the database's write lock from another
 * connection while the commits queue up. */
#define N_BATCH   40
#define BAD_INDEX 17

static void
test_batch_one_fails (Fixture *fixture,
                      gconstpointer data)
{
  g_autoptr (PdUser) alice = add_user (fixture, "alice", TRUE, FALSE);
  g_autoptr (PdUser) bob = add_user (fixture, "bob", TRUE, FALSE);
  g_autoptr (PosternChannel) a = create_channel (fixture, alice->id, "a@ch.example.org", POSTERN_CHANNEL_KIND_OPEN);
  g_autofree char *path = g_build_filename (fixture->dir, "posternd.sqlite", NULL);
  guint64 batches_before = pd_store_get_commit_batches (fixture->store);
  CommitState state = { 0 };
  sqlite3 *lock = NULL;

  g_assert_cmpint (sqlite3_open_v2 (path, &lock, SQLITE_OPEN_READWRITE, NULL), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_exec (lock, "BEGIN IMMEDIATE", NULL, NULL, NULL), ==, SQLITE_OK);

  commit_state_init (&state);
  for (guint i = 0; i < N_BATCH; i++)
    {
      g_autofree char *subject = g_strdup_printf ("message %u", i);
      char *body = g_strdup_printf ("Subject: message %u\r\n\r\nbody %u\r\n", i, i);
      gsize body_length = strlen (body);
      g_autoptr (PdMessage) message = new_message (subject, g_bytes_new_take (body, body_length));

      /* The bad one names alice's channel as bob's. */
      pd_message_add_recipient (message, i == BAD_INDEX ? bob->id : alice->id, postern_channel_get_id (a),
                                POSTERN_VERDICT_EXPECTED);
      commit_start (fixture, message, &state, i);
      if (i == 0)
        g_usleep (50 * 1000); /* the writer takes the first and waits for the lock */
    }
  g_usleep (50 * 1000);
  g_assert_cmpint (sqlite3_exec (lock, "COMMIT", NULL, NULL, NULL), ==, SQLITE_OK);
  sqlite3_close (lock);
  commit_wait (&state);

  /* At most two transactions ([0], [1..]) or one: the bad message was in
   * a batch with good ones. */
  g_assert_cmpuint (pd_store_get_commit_batches (fixture->store) - batches_before, <=, 2);
  g_assert_error (state.error, PD_STORE_ERROR, PD_STORE_ERROR_NOT_FOUND);
  g_assert_cmpuint (state.results->len, ==, N_BATCH - 1);
  for (guint i = 0; i < state.order->len; i++)
    g_assert_cmpuint (g_array_index (state.order, guint, i), !=, BAD_INDEX);
  g_assert_cmpint (count_rows (fixture, "SELECT count(*) FROM events"), ==, N_BATCH - 1);
  g_assert_cmpint (count_rows (fixture, "SELECT count(*) FROM events WHERE subject = 'message 17'"), ==, 0);
  g_assert_cmpint (count_rows (fixture, "SELECT count(*) FROM deliveries"), ==, N_BATCH - 1);
  g_assert_cmpint (count_rows (fixture, "SELECT count(*) FROM messages"), ==, N_BATCH - 1);
  g_assert_cmpint (count_rows (fixture, "SELECT count(*) FROM messages WHERE CAST (data AS TEXT) LIKE '%message 17%'"), ==, 0);
  g_assert_cmpuint (fixture->event_signals, ==, N_BATCH - 1);
  commit_state_clear (&state);
}

/* The nice value of this process's thread named @name; FALSE if none. */
static gboolean
thread_nice (const char *name,
             int *out_nice)
{
  g_autoptr (GDir) dir = g_dir_open ("/proc/self/task", 0, NULL);
  const char *tid;

  g_assert_nonnull (dir);
  while ((tid = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *comm_path = g_build_filename ("/proc/self/task", tid, "comm", NULL);
      g_autofree char *stat_path = g_build_filename ("/proc/self/task", tid, "stat", NULL);
      g_autofree char *comm = NULL;
      g_autofree char *stat = NULL;
      g_auto (GStrv) fields = NULL;

      if (!g_file_get_contents (comm_path, &comm, NULL, NULL) || !g_str_equal (g_strchomp (comm), name) || !g_file_get_contents (stat_path, &stat, NULL, NULL))
        continue;
      /* After the command in parentheses: state is field 3, nice 19. */
      fields = g_strsplit (strrchr (stat, ')') + 2, " ", -1);
      g_assert_cmpuint (g_strv_length (fields), >, 16);
      *out_nice = atoi (fields[16]);
      return TRUE;
    }
  return FALSE;
}

/* The writer yields the CPU to the SMTP thread (WRITER_NICE, 5). */
static void
test_writer_priority (Fixture *fixture,
                      gconstpointer data)
{
  int writer_nice = 0;
  int own;

  errno = 0;
  own = getpriority (PRIO_PROCESS, 0);
  g_assert_cmpint (errno, ==, 0);
  /* The thread names itself and lowers its priority once it runs. */
  for (guint tries = 0; tries < 200; tries++)
    {
      if (thread_nice ("pd-store-writer", &writer_nice) && writer_nice != own)
        break;
      g_usleep (10 * 1000);
    }
  g_assert_cmpint (writer_nice, ==, MIN (own + 5, 19));
}

/* RCPT's lookup: the channel and its owner's blocklist in one snapshot,
 * and nothing for an unknown address; the read transaction it takes is
 * over when it returns (a write on the same connection still works). */
static void
test_lookup_recipient (Fixture *fixture,
                       gconstpointer data)
{
  g_autoptr (PdUser) alice = add_user (fixture, "alice", FALSE, FALSE);
  g_autoptr (PdUser) bob = add_user (fixture, "bob", FALSE, FALSE);
  g_autoptr (PosternChannel) a = create_channel (fixture, alice->id, "a@ch.example.org", POSTERN_CHANNEL_KIND_OPEN);
  g_autoptr (PosternSenderPattern) pattern = postern_sender_pattern_parse ("@spam.example", NULL);
  g_autoptr (PosternSenderPattern) other = postern_sender_pattern_parse ("@bob.example", NULL);
  g_autoptr (PosternBlockEntry) block = NULL;
  g_autoptr (PosternBlockEntry) bobs = NULL;
  g_autoptr (PosternChannel) found = NULL;
  g_autoptr (PosternChannel) missing = NULL;
  g_autoptr (PosternChannel) b = NULL;
  g_autoptr (GPtrArray) blocks = NULL;
  g_autoptr (GError) error = NULL;
  gint64 user_id = 0;

  block = pd_store_add_block (fixture->store, alice->id, pattern, NULL, &error);
  g_assert_no_error (error);
  bobs = pd_store_add_block (fixture->store, bob->id, other, NULL, &error);
  g_assert_no_error (error);

  found = pd_store_lookup_recipient (fixture->store, "A@CH.example.org", &user_id, &blocks, &error);
  g_assert_no_error (error);
  g_assert_nonnull (found);
  g_assert_cmpstr (postern_channel_get_id (found), ==, postern_channel_get_id (a));
  g_assert_cmpint (user_id, ==, alice->id);
  g_assert_nonnull (blocks);
  g_assert_cmpuint (blocks->len, ==, 1); /* alice's only, never bob's */
  g_assert_cmpint (((PosternBlockEntry *)g_ptr_array_index (blocks, 0))->id, ==, block->id);
  g_clear_pointer (&blocks, g_ptr_array_unref);

  missing = pd_store_lookup_recipient (fixture->store, "nobody@ch.example.org", &user_id, &blocks, &error);
  g_assert_no_error (error);
  g_assert_null (missing);
  g_assert_null (blocks);

  /* The snapshot was released: a write and a fresh read see the change. */
  b = create_channel (fixture, alice->id, "b@ch.example.org", POSTERN_CHANNEL_KIND_OPEN);
  g_clear_object (&found);
  found = pd_store_lookup_recipient (fixture->store, "b@ch.example.org", &user_id, &blocks, &error);
  g_assert_no_error (error);
  g_assert_nonnull (found);
  g_assert_cmpstr (postern_channel_get_id (found), ==, postern_channel_get_id (b));
}

int
main (int argc,
      char *argv[])
{
  if (argc == 5 && g_str_equal (argv[1], "--commit-child"))
    return run_commit_child (argv[2], argv[3], argv[4]);

  g_test_init (&argc, &argv, NULL);

#define ADD(path, func) g_test_add (path, Fixture, NULL, fixture_set_up, func, fixture_tear_down)
  ADD ("/postern/server/store/migrate-empty", test_migrate_empty);
  ADD ("/postern/server/store/reopen", test_reopen);
  ADD ("/postern/server/store/users", test_users);
  ADD ("/postern/server/store/channels", test_channels);
  ADD ("/postern/server/store/isolation", test_isolation);
  ADD ("/postern/server/store/bind-one-time", test_bind_one_time);
  ADD ("/postern/server/store/commit-concurrent", test_commit_concurrent);
  ADD ("/postern/server/store/spool-exact", test_spool_exact);
  ADD ("/postern/server/store/leases", test_leases);
  ADD ("/postern/server/store/held", test_held);
  ADD ("/postern/server/store/blocks-and-events", test_blocks_and_events);
  ADD ("/postern/server/store/lookup-recipient", test_lookup_recipient);
  ADD ("/postern/server/store/batch-one-fails", test_batch_one_fails);
  ADD ("/postern/server/store/writer-priority", test_writer_priority);
  ADD ("/postern/server/store/spool-collect", test_spool_collect);
  ADD ("/postern/server/store/bodies-in-database", test_bodies_in_database);
  ADD ("/postern/server/store/keys-in-arrival-order", test_keys_in_arrival_order);
  ADD ("/postern/server/store/closed-before-commit", test_closed_before_commit);
  ADD ("/postern/server/store/disk-full-mid-batch", test_disk_full_mid_batch);
  ADD ("/postern/server/store/body-collected", test_body_collected);
  ADD ("/postern/server/store/legacy-spool", test_legacy_spool);
  ADD ("/postern/server/store/kill-9", test_kill_9);
#undef ADD
  g_test_add_func ("/postern/server/store/schema-newer", test_schema_newer);
  g_test_add_func ("/postern/server/maildir/deliver", test_maildir_deliver);

  return g_test_run ();
}
