/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <string.h>

#include "postern-client-error.h"
#include "postern-fingerprint.h"
#include "postern-live-connection.h"
#include "postern-secret-store.h"
#include "postern-sync-engine.h"

#define SNAPSHOT_VERSION      1
#define SNAPSHOT_DELAY_MS     250  /* serialise the snapshot after this much quiet */
#define REPLAY_RETRY_MIN_MS   5000 /* first retry of a change the server failed (5xx) */
#define KEYRING_RETRY_SECONDS 5    /* looking for the account while the keyring is locked */
#define MAX_SNAPSHOT_CHANNELS 200000

/* A keyring document written a moment after the last change, so that a
 * burst of changes costs one serialisation and one write. */
typedef struct
{
  PosternSyncEngine *engine;
  PosternSecretKind kind;
  char *(*to_string) (PosternSyncEngine *self);
  guint source_id;
} DeferredSave;

struct _PosternSyncEngine
{
  GObject parent_instance;

  GCancellable *cancellable;

  /* The account. */
  char *server;
  char *user;
  char *fingerprint;
  GStrv domains;
  PosternSecretStore *store;
  PosternApiClient *client;
  PosternLiveConnection *live;
  gulong store_state_handler;

  /* The local copy. */
  GListStore *channels;
  GHashTable *by_id;         /* id → PosternChannel (the item in @channels) */
  GHashTable *server_copies; /* id → PosternChannel as the server last sent it */
  GPtrArray *pending;        /* PosternMutation, oldest first */
  GPtrArray *events;         /* PosternEvent, oldest first, ≤ POSTERN_SYNC_RECENT_EVENTS */
  GHashTable *unread;        /* event id (gint64 *) of unread alerts */
  GPtrArray *alerts_waiting; /* PosternEvent alerts whose channel is not here yet */
  gint64 revision;
  gint64 cursor;
  gint64 last_sync;

  /* Progress. */
  gboolean loaded;          /* the keyring copy is in memory */
  gboolean waiting_keyring; /* loading stopped on a locked/missing keyring */
  gboolean auth_refused;
  gboolean syncing;
  gboolean resync_again;
  gboolean last_sync_failed;
  PosternMutation *inflight; /* the mutation being replayed (owned by @pending) */
  gboolean refetched;        /* the in-flight mutation got one refetch after a 412 */
  GError *server_error;
  GError *keyring_error;
  DeferredSave snapshot_save; /* POSTERN_SECRET_CHANNELS */
  DeferredSave events_save;   /* POSTERN_SECRET_EVENTS */
  guint keyring_retry_id;
  guint replay_retry_id;
  guint replay_attempt;
  guint min_ms;
  guint max_ms;

  PosternSyncStatus status;
  char *status_message;
};

enum
{
  PROP_0,
  PROP_STATUS,
  PROP_STATUS_MESSAGE,
  PROP_PAIRED,
  PROP_SERVER,
  PROP_USER,
  PROP_FINGERPRINT,
  PROP_PENDING_COUNT,
  PROP_UNREAD_ALERTS,
  PROP_LAST_SYNC,
  N_PROPS
};

enum
{
  SIGNAL_CHANNEL_CHANGED,
  SIGNAL_CHANNEL_REMOVED,
  SIGNAL_EVENT_ADDED,
  SIGNAL_ALERT,
  SIGNAL_STATUS_CHANGED,
  SIGNAL_MUTATION_FAILED,
  N_SIGNALS
};

static GParamSpec *properties[N_PROPS];
static guint signals[N_SIGNALS];

G_DEFINE_FINAL_TYPE (PosternSyncEngine, postern_sync_engine, G_TYPE_OBJECT)

static void resync (PosternSyncEngine *self);
static void schedule_replay_retry (PosternSyncEngine *self);
static void emit_waiting_alerts (PosternSyncEngine *self,
                                 PosternChannel *channel);
static void replay_next (PosternSyncEngine *self);
static void update_status (PosternSyncEngine *self);
static void load_account (PosternSyncEngine *self,
                          GTask *task);

const char *
postern_sync_status_to_string (PosternSyncStatus status)
{
  switch (status)
    {
      case POSTERN_SYNC_STATUS_UNPAIRED:
        return "unpaired";
      case POSTERN_SYNC_STATUS_KEYRING_LOCKED:
        return "keyring-locked";
      case POSTERN_SYNC_STATUS_OFFLINE:
        return "offline";
      case POSTERN_SYNC_STATUS_CONNECTING:
        return "connecting";
      case POSTERN_SYNC_STATUS_ONLINE:
        return "online";
      default:
        return "invalid";
    }
}

/* ---- the channel list ----------------------------------------------------- */

static int
compare_channels (gconstpointer a,
                  gconstpointer b,
                  gpointer user_data)
{
  PosternChannel *ca = (PosternChannel *)a;
  PosternChannel *cb = (PosternChannel *)b;
  gint64 ta = postern_channel_get_created_at (ca);
  gint64 tb = postern_channel_get_created_at (cb);

  if (ta != tb)
    return ta > tb ? -1 : 1; /* newest first */
  return g_strcmp0 (postern_channel_get_id (ca), postern_channel_get_id (cb));
}

/* Puts @channel (a new object) in place of the one with the same id. */
static void
put_channel (PosternSyncEngine *self,
             PosternChannel *channel,
             gboolean emit)
{
  const char *id = postern_channel_get_id (channel);
  PosternChannel *old = g_hash_table_lookup (self->by_id, id);

  if (old != NULL)
    {
      guint position;

      if (postern_channel_equal (old, channel))
        return;
      if (g_list_store_find (self->channels, old, &position))
        g_list_store_remove (self->channels, position);
    }

  g_hash_table_replace (self->by_id, g_strdup (id), g_object_ref (channel));
  g_list_store_insert_sorted (self->channels, channel, compare_channels, NULL);

  if (emit)
    g_signal_emit (self, signals[SIGNAL_CHANNEL_CHANGED], 0, channel);
}

static void
remove_channel (PosternSyncEngine *self,
                const char *id)
{
  PosternChannel *old = g_hash_table_lookup (self->by_id, id);
  g_autofree char *owned_id = g_strdup (id);
  guint position;

  g_hash_table_remove (self->server_copies, owned_id);
  if (old == NULL)
    return;

  if (g_list_store_find (self->channels, old, &position))
    g_list_store_remove (self->channels, position);
  g_hash_table_remove (self->by_id, owned_id);
  g_signal_emit (self, signals[SIGNAL_CHANNEL_REMOVED], 0, owned_id);
}

/* The local view of a channel: the server's copy with our queued changes
 * applied on top. Channels in the list are never changed in place (a
 * change puts a new object), so a channel nothing is queued for shares the
 * server's copy instead of holding a second one: with 10,000 channels that
 * halves what the engine keeps. */
static PosternChannel *
overlay_pending (PosternSyncEngine *self,
                 PosternChannel *server_copy)
{
  const char *id = postern_channel_get_id (server_copy);
  PosternChannel *view = NULL;

  for (guint i = 0; i < self->pending->len; i++)
    {
      PosternMutation *mutation = g_ptr_array_index (self->pending, i);
      g_autoptr (GError) error = NULL;

      if (g_strcmp0 (mutation->channel_id, id) != 0)
        continue;
      if (view == NULL)
        view = postern_channel_copy (server_copy);
      if (!postern_mutation_apply (mutation, view, &error))
        g_debug ("sync: a queued %s no longer applies: %s",
                 postern_mutation_op_to_string (mutation->op), error->message);
    }

  return view != NULL ? view : g_object_ref (server_copy);
}

static void deferred_save_schedule (DeferredSave *save);

/* A channel as the server sent it. */
static void
apply_server_channel (PosternSyncEngine *self,
                      PosternChannel *channel)
{
  PosternChannel *known = g_hash_table_lookup (self->server_copies, postern_channel_get_id (channel));
  g_autoptr (PosternChannel) view = NULL;

  /* Out-of-order delivery (live push racing a fetch) never goes back. */
  if (known != NULL && postern_channel_get_revision (known) > postern_channel_get_revision (channel))
    return;

  /* Kept by reference, as the refetch after a 412 does: nobody changes a
   * channel the server sent. */
  g_hash_table_replace (self->server_copies, g_strdup (postern_channel_get_id (channel)),
                        g_object_ref (channel));
  view = overlay_pending (self, channel);
  put_channel (self, view, TRUE);
  deferred_save_schedule (&self->snapshot_save);
  if (self->alerts_waiting->len > 0)
    emit_waiting_alerts (self, g_hash_table_lookup (self->by_id, postern_channel_get_id (channel)));
}

/* ---- keyring documents ---------------------------------------------------- */

static char *
snapshot_to_string (PosternSyncEngine *self)
{
  g_autoptr (JsonBuilder) builder = json_builder_new ();
  g_autoptr (JsonNode) root = NULL;
  guint n = g_list_model_get_n_items (G_LIST_MODEL (self->channels));

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "version");
  json_builder_add_int_value (builder, SNAPSHOT_VERSION);
  json_builder_set_member_name (builder, "server");
  json_builder_add_string_value (builder, self->server);
  json_builder_set_member_name (builder, "user");
  json_builder_add_string_value (builder, self->user);
  json_builder_set_member_name (builder, "domains");
  json_builder_begin_array (builder);
  for (guint i = 0; self->domains != NULL && self->domains[i] != NULL; i++)
    json_builder_add_string_value (builder, self->domains[i]);
  json_builder_end_array (builder);
  json_builder_set_member_name (builder, "revision");
  json_builder_add_int_value (builder, self->revision);
  json_builder_set_member_name (builder, "last_sync");
  json_builder_add_int_value (builder, self->last_sync);
  /* The server's copies, so that a restart re-applies the queue on the
   * same base; channels only known locally (created offline) come from
   * the queue. */
  json_builder_set_member_name (builder, "channels");
  json_builder_begin_array (builder);
  for (guint i = 0; i < n; i++)
    {
      g_autoptr (PosternChannel) item = g_list_model_get_item (G_LIST_MODEL (self->channels), i);
      PosternChannel *server_copy = g_hash_table_lookup (self->server_copies, postern_channel_get_id (item));

      if (server_copy != NULL)
        json_builder_add_value (builder, postern_channel_to_json (server_copy));
    }
  json_builder_end_array (builder);
  json_builder_end_object (builder);

  root = json_builder_get_root (builder);
  return postern_json_to_string (root, FALSE);
}

static void
save_pending (PosternSyncEngine *self)
{
  g_autofree char *text = NULL;

  if (self->store == NULL)
    return;
  text = postern_mutation_queue_to_string (self->pending);
  postern_secret_store_save (self->store, POSTERN_SECRET_PENDING, text);
}

static char *
events_to_string (PosternSyncEngine *self)
{
  g_autoptr (JsonBuilder) builder = json_builder_new ();
  g_autoptr (JsonNode) root = NULL;
  GHashTableIter iter;
  gpointer key;

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "version");
  json_builder_add_int_value (builder, SNAPSHOT_VERSION);
  json_builder_set_member_name (builder, "cursor");
  json_builder_add_int_value (builder, self->cursor);
  json_builder_set_member_name (builder, "events");
  json_builder_begin_array (builder);
  for (guint i = 0; i < self->events->len; i++)
    json_builder_add_value (builder, postern_event_to_json (g_ptr_array_index (self->events, i)));
  json_builder_end_array (builder);
  json_builder_set_member_name (builder, "unread");
  json_builder_begin_array (builder);
  g_hash_table_iter_init (&iter, self->unread);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    json_builder_add_int_value (builder, *(gint64 *)key);
  json_builder_end_array (builder);
  json_builder_end_object (builder);

  root = json_builder_get_root (builder);
  return postern_json_to_string (root, FALSE);
}

static gboolean
deferred_save_cb (gpointer user_data)
{
  DeferredSave *save = user_data;
  PosternSyncEngine *self = save->engine;
  g_autofree char *text = NULL;

  save->source_id = 0;
  if (self->store == NULL)
    return G_SOURCE_REMOVE;
  text = save->to_string (self);
  postern_secret_store_save (self->store, save->kind, text);
  return G_SOURCE_REMOVE;
}

static void
deferred_save_schedule (DeferredSave *save)
{
  if (save->engine->store == NULL || save->source_id != 0)
    return;
  save->source_id = g_timeout_add (SNAPSHOT_DELAY_MS, deferred_save_cb, save);
}

/* Writes now what was scheduled, if anything. */
static void
deferred_save_flush (DeferredSave *save)
{
  if (save->source_id != 0)
    {
      g_clear_handle_id (&save->source_id, g_source_remove);
      deferred_save_cb (save);
    }
}

static void
deferred_save_cancel (DeferredSave *save)
{
  g_clear_handle_id (&save->source_id, g_source_remove);
}

static void
deferred_save_init (DeferredSave *save,
                    PosternSyncEngine *engine,
                    PosternSecretKind kind,
                    char *(*to_string) (PosternSyncEngine *self))
{
  save->engine = engine;
  save->kind = kind;
  save->to_string = to_string;
  save->source_id = 0;
}

static gboolean
parse_snapshot (PosternSyncEngine *self,
                const char *text,
                GError **error)
{
  g_autoptr (JsonNode) root = postern_json_from_string (text, -1, error);
  g_autoptr (GPtrArray) channels = NULL;
  JsonObject *object;
  JsonNode *member;
  JsonArray *array;

  if (root == NULL)
    return FALSE;
  if (!JSON_NODE_HOLDS_OBJECT (root))
    {
      g_set_error_literal (error, POSTERN_CORE_ERROR, POSTERN_CORE_ERROR_INVALID_JSON,
                           "snapshot: expected an object");
      return FALSE;
    }
  object = json_node_get_object (root);
  if (json_object_get_int_member_with_default (object, "version", 0) != SNAPSHOT_VERSION)
    {
      g_set_error_literal (error, POSTERN_CORE_ERROR, POSTERN_CORE_ERROR_INVALID_JSON,
                           "version: expected 1");
      return FALSE;
    }

  member = json_object_get_member (object, "channels");
  if (member == NULL || !JSON_NODE_HOLDS_ARRAY (member) || json_array_get_length (json_node_get_array (member)) > MAX_SNAPSHOT_CHANNELS)
    {
      g_set_error_literal (error, POSTERN_CORE_ERROR, POSTERN_CORE_ERROR_INVALID_JSON,
                           "channels: expected an array");
      return FALSE;
    }
  array = json_node_get_array (member);
  channels = g_ptr_array_new_full (json_array_get_length (array), g_object_unref);
  for (guint i = 0; i < json_array_get_length (array); i++)
    {
      PosternChannel *channel = postern_channel_new_from_json (json_array_get_element (array, i), error);

      if (channel == NULL)
        {
          g_prefix_error (error, "channels[%u].", i);
          return FALSE;
        }
      g_ptr_array_add (channels, channel);
    }

  member = json_object_get_member (object, "domains");
  if (member != NULL && JSON_NODE_HOLDS_ARRAY (member) && (self->domains == NULL || self->domains[0] == NULL))
    {
      g_autoptr (GStrvBuilder) builder = g_strv_builder_new ();
      JsonArray *domains = json_node_get_array (member);

      for (guint i = 0; i < json_array_get_length (domains); i++)
        {
          const char *domain = json_array_get_string_element (domains, i);
          if (domain != NULL && g_utf8_validate (domain, -1, NULL))
            g_strv_builder_add (builder, domain);
        }
      g_strfreev (self->domains);
      self->domains = g_strv_builder_end (builder);
    }

  self->revision = MAX (0, json_object_get_int_member_with_default (object, "revision", 0));
  self->last_sync = MAX (0, json_object_get_int_member_with_default (object, "last_sync", 0));

  for (guint i = 0; i < channels->len; i++)
    {
      PosternChannel *channel = g_ptr_array_index (channels, i);
      g_hash_table_replace (self->server_copies, g_strdup (postern_channel_get_id (channel)),
                            g_object_ref (channel));
    }
  return TRUE;
}

static gboolean
parse_events (PosternSyncEngine *self,
              const char *text,
              GError **error)
{
  g_autoptr (JsonNode) root = postern_json_from_string (text, -1, error);
  JsonObject *object;
  JsonNode *member;

  if (root == NULL)
    return FALSE;
  if (!JSON_NODE_HOLDS_OBJECT (root))
    {
      g_set_error_literal (error, POSTERN_CORE_ERROR, POSTERN_CORE_ERROR_INVALID_JSON,
                           "events: expected an object");
      return FALSE;
    }
  object = json_node_get_object (root);
  self->cursor = MAX (0, json_object_get_int_member_with_default (object, "cursor", 0));

  member = json_object_get_member (object, "events");
  if (member != NULL && JSON_NODE_HOLDS_ARRAY (member))
    {
      JsonArray *array = json_node_get_array (member);
      guint n = json_array_get_length (array);
      guint first = n > POSTERN_SYNC_RECENT_EVENTS ? n - POSTERN_SYNC_RECENT_EVENTS : 0;

      for (guint i = first; i < n; i++)
        {
          g_autoptr (GError) local_error = NULL;
          PosternEvent *event = postern_event_new_from_json (json_array_get_element (array, i), &local_error);

          if (event == NULL)
            g_debug ("sync: skipping a stored event: %s", local_error->message);
          else
            g_ptr_array_add (self->events, event);
        }
    }

  member = json_object_get_member (object, "unread");
  if (member != NULL && JSON_NODE_HOLDS_ARRAY (member))
    {
      JsonArray *array = json_node_get_array (member);

      for (guint i = 0; i < json_array_get_length (array); i++)
        {
          gint64 id = json_array_get_int_element (array, i);
          g_hash_table_add (self->unread, g_memdup2 (&id, sizeof id));
        }
    }
  return TRUE;
}

/* Builds the list from the server copies plus the queue. */
static void
rebuild_view (PosternSyncEngine *self)
{
  g_autoptr (GPtrArray) items = g_ptr_array_new_with_free_func (g_object_unref);
  GHashTableIter iter;
  gpointer value;

  g_hash_table_remove_all (self->by_id);
  g_list_store_remove_all (self->channels);

  g_hash_table_iter_init (&iter, self->server_copies);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    g_ptr_array_add (items, overlay_pending (self, value));

  /* Channels created offline exist only in the queue. */
  for (guint i = 0; i < self->pending->len; i++)
    {
      PosternMutation *mutation = g_ptr_array_index (self->pending, i);
      g_autoptr (PosternChannel) channel = NULL;
      g_autoptr (PosternChannel) view = NULL;
      g_autoptr (GError) error = NULL;

      if (mutation->op != POSTERN_MUTATION_CREATE || g_hash_table_contains (self->server_copies, mutation->channel_id))
        continue;
      channel = postern_channel_new_from_json (mutation->payload, &error);
      if (channel == NULL)
        {
          g_debug ("sync: a queued creation is unreadable: %s", error->message);
          continue;
        }
      view = overlay_pending (self, channel);
      g_ptr_array_add (items, g_steal_pointer (&view));
    }

  for (guint i = 0; i < items->len; i++)
    {
      PosternChannel *channel = g_ptr_array_index (items, i);
      g_hash_table_replace (self->by_id, g_strdup (postern_channel_get_id (channel)),
                            g_object_ref (channel));
    }
  g_list_store_splice (self->channels, 0, 0, items->pdata, items->len);
  g_list_store_sort (self->channels, compare_channels, NULL);
}

/* ---- status ------------------------------------------------------------------- */

static gboolean
live_is_up (PosternSyncEngine *self)
{
  PosternLiveState state;

  if (self->live == NULL)
    return FALSE;
  state = postern_live_connection_get_state (self->live);
  return state == POSTERN_LIVE_STATE_CONNECTED || state == POSTERN_LIVE_STATE_SYNCED;
}

static void
update_status (PosternSyncEngine *self)
{
  PosternSyncStatus status;
  g_autofree char *message = NULL;
  gboolean changed = FALSE;

  if (self->waiting_keyring && !self->loaded)
    {
      status = POSTERN_SYNC_STATUS_KEYRING_LOCKED;
      message = g_strdup (self->keyring_error != NULL ? self->keyring_error->message
                                                      : "Unlock the login keyring to sync channels");
    }
  else if (self->server == NULL)
    {
      status = POSTERN_SYNC_STATUS_UNPAIRED;
      message = g_strdup ("Not paired with a Postern server");
    }
  else if (self->auth_refused)
    {
      status = POSTERN_SYNC_STATUS_UNPAIRED;
      message = g_strdup ("The server no longer accepts this device: pair it again");
    }
  else if (self->store != NULL && (postern_secret_store_get_state (self->store) == POSTERN_SECRET_STORE_LOCKED || postern_secret_store_get_state (self->store) == POSTERN_SECRET_STORE_UNAVAILABLE))
    {
      const GError *error = postern_secret_store_get_error (self->store);

      status = POSTERN_SYNC_STATUS_KEYRING_LOCKED;
      message = g_strdup (error != NULL ? error->message : "Unlock the login keyring to sync channels");
    }
  else if (live_is_up (self) && !self->last_sync_failed && !self->syncing)
    {
      status = POSTERN_SYNC_STATUS_ONLINE;
      message = g_strdup ("Online");
    }
  else if (self->server_error != NULL)
    {
      status = POSTERN_SYNC_STATUS_OFFLINE;
      message = g_strdup_printf ("Offline: %s", self->server_error->message);
    }
  else if (self->live != NULL || self->syncing)
    {
      status = POSTERN_SYNC_STATUS_CONNECTING;
      message = g_strdup ("Connecting");
    }
  else
    {
      status = POSTERN_SYNC_STATUS_OFFLINE;
      message = g_strdup ("Offline");
    }

  g_object_freeze_notify (G_OBJECT (self));
  if (status != self->status)
    {
      self->status = status;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_STATUS]);
      changed = TRUE;
    }
  if (g_strcmp0 (message, self->status_message) != 0)
    {
      g_free (self->status_message);
      self->status_message = g_steal_pointer (&message);
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_STATUS_MESSAGE]);
      changed = TRUE;
    }
  g_object_thaw_notify (G_OBJECT (self));

  if (changed)
    g_signal_emit (self, signals[SIGNAL_STATUS_CHANGED], 0);
}

static void
counts_changed (PosternSyncEngine *self,
                GParamSpec *pspec)
{
  g_object_notify_by_pspec (G_OBJECT (self), pspec);
  g_signal_emit (self, signals[SIGNAL_STATUS_CHANGED], 0);
}

static void
set_server_error (PosternSyncEngine *self,
                  const GError *error)
{
  g_clear_error (&self->server_error);
  if (error != NULL)
    self->server_error = g_error_copy (error);
}

/* ---- events ------------------------------------------------------------------- */

static void
add_event (PosternSyncEngine *self,
           PosternEvent *event,
           gboolean may_alert)
{
  gint64 id = postern_event_get_id (event);
  PosternChannel *channel;

  for (guint i = self->events->len; i > 0; i--)
    {
      PosternEvent *known = g_ptr_array_index (self->events, i - 1);
      if (postern_event_get_id (known) == id)
        return;
      if (postern_event_get_id (known) < id)
        break;
    }

  g_ptr_array_add (self->events, g_object_ref (event));
  while (self->events->len > POSTERN_SYNC_RECENT_EVENTS)
    {
      PosternEvent *oldest = g_ptr_array_index (self->events, 0);
      gint64 oldest_id = postern_event_get_id (oldest);

      g_hash_table_remove (self->unread, &oldest_id);
      g_ptr_array_remove_index (self->events, 0);
    }
  self->cursor = MAX (self->cursor, id);
  deferred_save_schedule (&self->events_save);

  g_signal_emit (self, signals[SIGNAL_EVENT_ADDED], 0, event);

  channel = g_hash_table_lookup (self->by_id, postern_event_get_channel_id (event));
  if (may_alert && postern_verdict_is_alert (postern_event_get_verdict (event)))
    {
      g_hash_table_add (self->unread, g_memdup2 (&id, sizeof id));
      counts_changed (self, properties[PROP_UNREAD_ALERTS]);
      if (channel != NULL)
        g_signal_emit (self, signals[SIGNAL_ALERT], 0, event, channel);
      else
        {
          /* Mail for a channel made elsewhere that we have not fetched yet:
           * fetch it, and alert once it is here. */
          if (self->alerts_waiting->len < POSTERN_SYNC_RECENT_EVENTS)
            g_ptr_array_add (self->alerts_waiting, g_object_ref (event));
          resync (self);
        }
    }
}

/* Alerts that waited for their channel to arrive. */
static void
emit_waiting_alerts (PosternSyncEngine *self,
                     PosternChannel *channel)
{
  const char *id = postern_channel_get_id (channel);

  for (guint i = 0; i < self->alerts_waiting->len;)
    {
      PosternEvent *event = g_ptr_array_index (self->alerts_waiting, i);

      if (g_strcmp0 (postern_event_get_channel_id (event), id) == 0)
        {
          g_autoptr (PosternEvent) owned = g_ptr_array_steal_index (self->alerts_waiting, i);
          g_signal_emit (self, signals[SIGNAL_ALERT], 0, owned, channel);
        }
      else
        i++;
    }
}

/* ---- the live connection ------------------------------------------------- */

static void
live_event_cb (PosternLiveConnection *live,
               PosternEvent *event,
               gpointer user_data)
{
  add_event (POSTERN_SYNC_ENGINE (user_data), event, TRUE);
}

static void
live_channel_cb (PosternLiveConnection *live,
                 PosternChannel *channel,
                 gpointer user_data)
{
  apply_server_channel (POSTERN_SYNC_ENGINE (user_data), channel);
}

static void
live_deleted_cb (PosternLiveConnection *live,
                 const char *channel_id,
                 gpointer user_data)
{
  PosternSyncEngine *self = user_data;

  remove_channel (self, channel_id);
  deferred_save_schedule (&self->snapshot_save);
}

static void
live_synced_cb (PosternLiveConnection *live,
                gint64 cursor,
                gpointer user_data)
{
  PosternSyncEngine *self = user_data;

  /* Every change up to the socket's revision has been applied. */
  if (postern_live_connection_get_revision (live) > self->revision)
    {
      self->revision = postern_live_connection_get_revision (live);
      deferred_save_schedule (&self->snapshot_save);
    }
  update_status (self);
}

static void
live_state_cb (PosternLiveConnection *live,
               GParamSpec *pspec,
               gpointer user_data)
{
  PosternSyncEngine *self = user_data;

  /* Each new connection: fetch what changed meanwhile, send the queue. */
  if (postern_live_connection_get_state (live) == POSTERN_LIVE_STATE_CONNECTED)
    {
      set_server_error (self, NULL);
      resync (self);
    }
  update_status (self);
}

static void
live_error_cb (PosternLiveConnection *live,
               GError *error,
               gpointer user_data)
{
  PosternSyncEngine *self = user_data;

  if (g_error_matches (error, POSTERN_CLIENT_ERROR, POSTERN_CLIENT_ERROR_AUTH))
    self->auth_refused = TRUE;
  set_server_error (self, error);

  /* While the socket cannot be opened, the REST side is retried on the
   * socket's backoff: the queue still goes out if only /live is broken. */
  if (self->last_sync_failed && !g_error_matches (error, POSTERN_CLIENT_ERROR, POSTERN_CLIENT_ERROR_UNTRUSTED))
    resync (self);
  update_status (self);
}

static void
start_live (PosternSyncEngine *self)
{
  if (self->client == NULL || self->auth_refused)
    return;

  if (self->live == NULL)
    {
      self->live = postern_live_connection_new (self->client);
      if (self->min_ms > 0)
        postern_live_connection_set_backoff (self->live, self->min_ms, self->max_ms);
      g_signal_connect (self->live, "event", G_CALLBACK (live_event_cb), self);
      g_signal_connect (self->live, "channel", G_CALLBACK (live_channel_cb), self);
      g_signal_connect (self->live, "deleted", G_CALLBACK (live_deleted_cb), self);
      g_signal_connect (self->live, "synced", G_CALLBACK (live_synced_cb), self);
      g_signal_connect (self->live, "notify::state", G_CALLBACK (live_state_cb), self);
      g_signal_connect (self->live, "error", G_CALLBACK (live_error_cb), self);
    }

  postern_live_connection_set_revision (self->live, self->revision);
  if (postern_live_connection_get_state (self->live) == POSTERN_LIVE_STATE_STOPPED || postern_live_connection_get_state (self->live) == POSTERN_LIVE_STATE_FAILED)
    postern_live_connection_start (self->live, self->cursor);
}

static void
stop_live (PosternSyncEngine *self)
{
  if (self->live == NULL)
    return;
  g_signal_handlers_disconnect_by_data (self->live, self);
  postern_live_connection_stop (self->live);
  g_clear_object (&self->live);
}

/* ---- fetching changes ----------------------------------------------------- */

static void
sync_done (PosternSyncEngine *self,
           const GError *error)
{
  self->syncing = FALSE;

  if (error != NULL)
    {
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        return;
      self->last_sync_failed = TRUE;
      if (g_error_matches (error, POSTERN_CLIENT_ERROR, POSTERN_CLIENT_ERROR_AUTH))
        {
          self->auth_refused = TRUE;
          stop_live (self);
        }
      set_server_error (self, error);
      g_debug ("sync: failed: %s", error->message);
      if (!self->auth_refused)
        schedule_replay_retry (self);
    }
  else
    {
      self->last_sync_failed = FALSE;
      set_server_error (self, NULL);
      self->last_sync = g_get_real_time () / G_USEC_PER_SEC;
      counts_changed (self, properties[PROP_LAST_SYNC]);
      deferred_save_schedule (&self->snapshot_save);
    }

  update_status (self);

  /* After a failure too: the socket's backoff then drives the retries
   * (live_error_cb() resyncs on each failed attempt). */
  start_live (self);
  if (error == NULL)
    replay_next (self);

  if (self->resync_again)
    {
      self->resync_again = FALSE;
      resync (self);
    }
}

static void
list_channels_cb (GObject *source,
                  GAsyncResult *result,
                  gpointer user_data)
{
  g_autoptr (PosternSyncEngine) self = user_data;
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) deleted = NULL;
  g_autoptr (GPtrArray) channels = NULL;
  gint64 revision = 0;

  channels = postern_api_client_list_channels_finish (POSTERN_API_CLIENT (source), result,
                                                      &revision, &deleted, &error);
  if (self->client == NULL || POSTERN_API_CLIENT (source) != self->client)
    return; /* unpaired meanwhile */
  if (channels == NULL)
    {
      sync_done (self, error);
      return;
    }

  for (guint i = 0; i < channels->len; i++)
    apply_server_channel (self, g_ptr_array_index (channels, i));
  for (guint i = 0; deleted != NULL && i < deleted->len; i++)
    remove_channel (self, g_ptr_array_index (deleted, i));

  /* On a first sync, channels we hold that the server does not know and
   * that are not queued creations were deleted while we looked away. */
  if (self->revision == 0)
    {
      g_autoptr (GHashTable) seen = g_hash_table_new (g_str_hash, g_str_equal);
      g_autoptr (GPtrArray) gone = g_ptr_array_new_with_free_func (g_free);
      GHashTableIter iter;
      gpointer key;

      for (guint i = 0; i < channels->len; i++)
        g_hash_table_add (seen, (gpointer)postern_channel_get_id (g_ptr_array_index (channels, i)));
      g_hash_table_iter_init (&iter, self->server_copies);
      while (g_hash_table_iter_next (&iter, &key, NULL))
        if (!g_hash_table_contains (seen, key))
          g_ptr_array_add (gone, g_strdup (key));
      for (guint i = 0; i < gone->len; i++)
        remove_channel (self, g_ptr_array_index (gone, i));
    }

  self->revision = MAX (self->revision, revision);
  sync_done (self, NULL);
}

static void
resync (PosternSyncEngine *self)
{
  if (self->client == NULL || self->auth_refused || !self->loaded)
    return;
  if (self->syncing)
    {
      self->resync_again = TRUE;
      return;
    }

  self->syncing = TRUE;
  update_status (self);
  postern_api_client_list_channels_async (self->client, self->revision, self->cancellable,
                                          list_channels_cb, g_object_ref (self));
}

/* ---- replaying the queue ---------------------------------------------------- */

static void
pending_changed (PosternSyncEngine *self)
{
  save_pending (self);
  counts_changed (self, properties[PROP_PENDING_COUNT]);
}

static gboolean
replay_retry_cb (gpointer user_data)
{
  PosternSyncEngine *self = user_data;

  self->replay_retry_id = 0;
  resync (self);
  return G_SOURCE_REMOVE;
}

/* A change the server could not take right now (5xx, a dropped
 * connection) while the live socket stays up: nothing else would retry it,
 * so try again after a growing delay. When the socket is down, its own
 * reconnects retry. */
static void
schedule_replay_retry (PosternSyncEngine *self)
{
  guint delay;

  if (self->replay_retry_id != 0 || !live_is_up (self))
    return;
  delay = postern_live_backoff_delay (self->replay_attempt, self->min_ms > 0 ? self->min_ms : REPLAY_RETRY_MIN_MS,
                                      self->max_ms > 0 ? self->max_ms : POSTERN_LIVE_BACKOFF_MAX_MS,
                                      g_random_double_range (-1.0, 1.0));
  if (self->replay_attempt < 32)
    self->replay_attempt++;
  self->replay_retry_id = g_timeout_add (delay, replay_retry_cb, self);
}

static void
remove_inflight (PosternSyncEngine *self)
{
  self->replay_attempt = 0;
  if (self->inflight != NULL)
    g_ptr_array_remove (self->pending, self->inflight);
  self->inflight = NULL;
  self->refetched = FALSE;
  pending_changed (self);
}

static void replay_done (PosternSyncEngine *self,
                         PosternChannel *channel,
                         const GError *error);

static void
replay_refetch_cb (GObject *source,
                   GAsyncResult *result,
                   gpointer user_data)
{
  g_autoptr (PosternSyncEngine) self = user_data;
  g_autoptr (GError) error = NULL;
  g_autoptr (PosternChannel) channel = NULL;

  channel = postern_api_client_get_channel_finish (POSTERN_API_CLIENT (source), result, &error);
  if (self->inflight == NULL)
    return;
  if (channel == NULL)
    {
      replay_done (self, NULL, error);
      return;
    }

  /* The server's newer copy is the base; the same change goes again with
   * its revision. */
  g_hash_table_replace (self->server_copies, g_strdup (postern_channel_get_id (channel)),
                        g_object_ref (channel));
  self->inflight = NULL;
  replay_next (self);
  /* replay_next() picked the same mutation again; one more 412 drops it. */
  self->refetched = TRUE;
}

static void
restore_server_view (PosternSyncEngine *self,
                     const char *channel_id)
{
  PosternChannel *server_copy;

  if (channel_id == NULL)
    return;
  server_copy = g_hash_table_lookup (self->server_copies, channel_id);
  if (server_copy != NULL)
    {
      g_autoptr (PosternChannel) view = overlay_pending (self, server_copy);
      put_channel (self, view, TRUE);
    }
}

static void
replay_done (PosternSyncEngine *self,
             PosternChannel *channel,
             const GError *error)
{
  PosternMutation *mutation = self->inflight;
  PosternReplayAction action;
  g_autofree char *channel_id = NULL;

  if (mutation == NULL)
    return;
  channel_id = g_strdup (mutation->channel_id);

  if (error == NULL)
    {
      remove_inflight (self);
      if (channel != NULL)
        apply_server_channel (self, channel);
      replay_next (self);
      return;
    }

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      self->inflight = NULL;
      return;
    }

  action = postern_mutation_action_for_error (mutation, error);
  if (action == POSTERN_REPLAY_REFETCH && self->refetched)
    action = POSTERN_REPLAY_DROP;

  switch (action)
    {
      case POSTERN_REPLAY_DONE:
        remove_inflight (self);
        replay_next (self);
        break;

      case POSTERN_REPLAY_REFETCH:
        postern_api_client_get_channel_async (self->client, channel_id, self->cancellable,
                                              replay_refetch_cb, g_object_ref (self));
        break;

      case POSTERN_REPLAY_DROP:
        {
          g_autoptr (PosternMutation) dropped = postern_mutation_copy (mutation);

          g_message ("A queued change was refused by the server: %s %s",
                     postern_mutation_op_to_string (mutation->op), error->message);
          remove_inflight (self);
          if (dropped->op == POSTERN_MUTATION_CREATE && !g_hash_table_contains (self->server_copies, channel_id))
            remove_channel (self, channel_id);
          else
            restore_server_view (self, channel_id);
          deferred_save_schedule (&self->snapshot_save);
          g_signal_emit (self, signals[SIGNAL_MUTATION_FAILED], 0, dropped, error);
          replay_next (self);
        }
        break;

      case POSTERN_REPLAY_UNPAIRED:
        self->inflight = NULL;
        self->auth_refused = TRUE;
        stop_live (self);
        update_status (self);
        break;

      case POSTERN_REPLAY_RETRY_LATER:
      default:
        mutation->attempts++;
        g_free (mutation->last_error);
        mutation->last_error = g_strdup (error->message);
        self->inflight = NULL;
        self->refetched = FALSE;
        save_pending (self);
        set_server_error (self, error);
        self->last_sync_failed = TRUE;
        update_status (self);
        schedule_replay_retry (self);
        break;
    }
}

static void
replay_channel_cb (GObject *source,
                   GAsyncResult *result,
                   gpointer user_data)
{
  g_autoptr (PosternSyncEngine) self = user_data;
  g_autoptr (GError) error = NULL;
  g_autoptr (PosternChannel) channel = NULL;
  PosternApiClient *client = POSTERN_API_CLIENT (source);
  GTask *task = G_TASK (result);
  gpointer tag = g_task_get_source_tag (task);

  if (tag == postern_api_client_create_channel_async)
    channel = postern_api_client_create_channel_finish (client, result, &error);
  else if (tag == postern_api_client_update_channel_async)
    channel = postern_api_client_update_channel_finish (client, result, &error);
  else if (tag == postern_api_client_revoke_channel_async)
    channel = postern_api_client_revoke_channel_finish (client, result, &error);
  else if (tag == postern_api_client_add_sender_async)
    channel = postern_api_client_add_sender_finish (client, result, &error);
  else if (tag == postern_api_client_remove_sender_async)
    channel = postern_api_client_remove_sender_finish (client, result, &error);
  else
    g_assert_not_reached ();

  replay_done (self, channel, error);
}

static void
replay_block_cb (GObject *source,
                 GAsyncResult *result,
                 gpointer user_data)
{
  g_autoptr (PosternSyncEngine) self = user_data;
  g_autoptr (GError) error = NULL;
  g_autoptr (PosternBlockEntry) entry = NULL;

  entry = postern_api_client_add_block_finish (POSTERN_API_CLIENT (source), result, &error);
  replay_done (self, NULL, error);
}

static void
replay_share_cb (GObject *source,
                 GAsyncResult *result,
                 gpointer user_data)
{
  g_autoptr (PosternSyncEngine) self = user_data;
  g_autoptr (GError) error = NULL;

  postern_api_client_record_share_finish (POSTERN_API_CLIENT (source), result, &error);
  replay_done (self, NULL, error);
}

static gint64
known_revision (PosternSyncEngine *self,
                const char *channel_id)
{
  PosternChannel *server_copy = g_hash_table_lookup (self->server_copies, channel_id);
  return server_copy != NULL ? postern_channel_get_revision (server_copy) : 0;
}

static void
replay_next (PosternSyncEngine *self)
{
  PosternMutation *mutation;

  if (self->inflight != NULL || self->pending->len == 0 || self->client == NULL || self->auth_refused || self->syncing || self->last_sync_failed)
    return;

  mutation = g_ptr_array_index (self->pending, 0);
  self->inflight = mutation;

  switch (mutation->op)
    {
      case POSTERN_MUTATION_CREATE:
        {
          g_autoptr (GError) error = NULL;
          g_autoptr (PosternChannel) channel = postern_channel_new_from_json (mutation->payload, &error);

          if (channel == NULL)
            {
              g_autoptr (GError) invalid = g_error_new (POSTERN_CLIENT_ERROR, POSTERN_CLIENT_ERROR_INVALID,
                                                        "The queued channel is unreadable: %s", error->message);
              replay_done (self, NULL, invalid);
              return;
            }
          postern_api_client_create_channel_async (self->client, channel, self->cancellable,
                                                   replay_channel_cb, g_object_ref (self));
        }
        break;

      case POSTERN_MUTATION_UPDATE:
        postern_api_client_update_channel_async (self->client, mutation->channel_id,
                                                 known_revision (self, mutation->channel_id),
                                                 json_node_get_object (mutation->payload),
                                                 self->cancellable, replay_channel_cb,
                                                 g_object_ref (self));
        break;

      case POSTERN_MUTATION_PAUSE:
      case POSTERN_MUTATION_RESUME:
        {
          g_autoptr (JsonObject) changes = json_object_new ();

          json_object_set_string_member (changes, "state",
                                         postern_channel_state_to_string (mutation->op == POSTERN_MUTATION_PAUSE
                                                                              ? POSTERN_CHANNEL_STATE_PAUSED
                                                                              : POSTERN_CHANNEL_STATE_ACTIVE));
          postern_api_client_update_channel_async (self->client, mutation->channel_id,
                                                   known_revision (self, mutation->channel_id),
                                                   changes, self->cancellable, replay_channel_cb,
                                                   g_object_ref (self));
        }
        break;

      case POSTERN_MUTATION_REVOKE:
        postern_api_client_revoke_channel_async (self->client, mutation->channel_id, self->cancellable,
                                                 replay_channel_cb, g_object_ref (self));
        break;

      case POSTERN_MUTATION_TRUST:
        postern_api_client_add_sender_async (self->client, mutation->channel_id, mutation->pattern,
                                             self->cancellable, replay_channel_cb, g_object_ref (self));
        break;

      case POSTERN_MUTATION_UNTRUST:
        postern_api_client_remove_sender_async (self->client, mutation->channel_id, mutation->pattern,
                                                self->cancellable, replay_channel_cb, g_object_ref (self));
        break;

      case POSTERN_MUTATION_BLOCK:
        postern_api_client_add_block_async (self->client, mutation->pattern, mutation->channel_id,
                                            self->cancellable, replay_block_cb, g_object_ref (self));
        break;

      case POSTERN_MUTATION_SHARE:
        {
          JsonObject *payload = json_node_get_object (mutation->payload);
          PosternShareMethod method = POSTERN_SHARE_OTHER;

          postern_share_method_from_string (json_object_get_string_member_with_default (payload, "method", "other"),
                                            &method, NULL);
          postern_api_client_record_share_async (self->client, mutation->channel_id, method,
                                                 json_object_get_string_member_with_default (payload, "recipient", NULL),
                                                 self->cancellable, replay_share_cb, g_object_ref (self));
        }
        break;

      default:
        g_assert_not_reached ();
    }
}

/* Queues @mutation (owned) without folding it into the one in flight. */
static gboolean
enqueue (PosternSyncEngine *self,
         PosternMutation *mutation,
         GError **error)
{
  PosternMutation *inflight = NULL;
  gboolean added;

  if (self->pending->len >= POSTERN_MUTATION_QUEUE_MAX)
    {
      postern_mutation_free (mutation);
      g_set_error (error, POSTERN_CLIENT_ERROR, POSTERN_CLIENT_ERROR_FAILED,
                   "Too many changes are waiting for the server (%d)", POSTERN_MUTATION_QUEUE_MAX);
      return FALSE;
    }

  if (self->inflight != NULL)
    inflight = g_ptr_array_steal_index (self->pending, 0);
  added = postern_mutation_queue_add (self->pending, mutation);
  if (inflight != NULL)
    g_ptr_array_insert (self->pending, 0, inflight);
  (void)added;

  pending_changed (self);
  replay_next (self);
  return TRUE;
}

/* ---- mutations ---------------------------------------------------------------- */

static gboolean
check_paired (PosternSyncEngine *self,
              GError **error)
{
  if (self->server == NULL)
    {
      g_set_error_literal (error, POSTERN_CLIENT_ERROR, POSTERN_CLIENT_ERROR_NOT_PAIRED,
                           "This computer is not paired with a Postern server yet");
      return FALSE;
    }
  return TRUE;
}

static PosternChannel *
find_channel (PosternSyncEngine *self,
              const char *channel_id,
              GError **error)
{
  PosternChannel *channel;

  if (!check_paired (self, error))
    return NULL;
  channel = channel_id != NULL ? g_hash_table_lookup (self->by_id, channel_id) : NULL;
  if (channel == NULL)
    g_set_error (error, POSTERN_CLIENT_ERROR, POSTERN_CLIENT_ERROR_NOT_FOUND,
                 "No channel with id “%s”", channel_id != NULL ? channel_id : "");
  return channel;
}

/* Applies @mutation (owned) to the local copy of its channel and queues
 * it when it changes anything. */
static gboolean
mutate_channel (PosternSyncEngine *self,
                PosternMutation *mutation,
                GError **error)
{
  g_autoptr (PosternMutation) owned = mutation;
  g_autoptr (PosternChannel) view = NULL;
  PosternChannel *channel = find_channel (self, mutation->channel_id, error);

  if (channel == NULL)
    return FALSE;

  view = postern_channel_copy (channel);
  if (!postern_mutation_apply (mutation, view, error))
    return FALSE;

  if (postern_channel_equal (view, channel))
    return TRUE; /* already so: nothing to tell the server */

  put_channel (self, view, TRUE);
  deferred_save_schedule (&self->snapshot_save);
  return enqueue (self, g_steal_pointer (&owned), error);
}

PosternChannel *
postern_sync_engine_create_channel (PosternSyncEngine *self,
                                    PosternChannel *template_,
                                    PosternAddressStyle style,
                                    GError **error)
{
  g_autoptr (PosternChannel) channel = NULL;
  g_autofree char *id = NULL;
  g_autofree char *local = NULL;
  g_autofree char *address = NULL;
  PosternMutation *mutation;

  g_return_val_if_fail (POSTERN_IS_SYNC_ENGINE (self), NULL);
  g_return_val_if_fail (POSTERN_IS_CHANNEL (template_), NULL);

  if (!check_paired (self, error))
    return NULL;
  if (self->domains == NULL || self->domains[0] == NULL)
    {
      g_set_error_literal (error, POSTERN_CLIENT_ERROR, POSTERN_CLIENT_ERROR_NOT_PAIRED,
                           "The server has not told this computer its channel domain yet: sync first");
      return NULL;
    }

  channel = postern_channel_copy (template_);
  id = postern_uuid_new ();
  local = postern_address_generate_local_part (style);
  address = g_strconcat (local, "@", self->domains[0], NULL);
  if (!postern_channel_set_id (channel, id, error) || !postern_channel_set_address (channel, address, error))
    return NULL;
  postern_channel_set_state (channel, POSTERN_CHANNEL_STATE_ACTIVE);
  postern_channel_set_revision (channel, 0);
  postern_channel_set_created_at (channel, g_get_real_time () / G_USEC_PER_SEC);

  mutation = postern_mutation_new (POSTERN_MUTATION_CREATE, id);
  mutation->payload = postern_channel_to_json (channel);

  put_channel (self, channel, TRUE);
  if (!enqueue (self, mutation, error))
    {
      remove_channel (self, id);
      return NULL;
    }
  return g_hash_table_lookup (self->by_id, id);
}

gboolean
postern_sync_engine_update_channel (PosternSyncEngine *self,
                                    const char *channel_id,
                                    JsonObject *changes,
                                    GError **error)
{
  static const char *const allowed[] = {
    "label", "note", "on_unexpected", "farewell", "farewell_text", "expires_at", NULL
  };
  g_autoptr (GList) members = NULL;
  PosternMutation *mutation;

  g_return_val_if_fail (POSTERN_IS_SYNC_ENGINE (self), FALSE);
  g_return_val_if_fail (changes != NULL, FALSE);

  members = json_object_get_members (changes);
  if (members == NULL)
    return find_channel (self, channel_id, error) != NULL;
  for (GList *l = members; l != NULL; l = l->next)
    if (!g_strv_contains (allowed, l->data))
      {
        g_set_error (error, POSTERN_CLIENT_ERROR, POSTERN_CLIENT_ERROR_INVALID,
                     "%s: not a member that can be changed here", (const char *)l->data);
        return FALSE;
      }

  mutation = postern_mutation_new (POSTERN_MUTATION_UPDATE, channel_id);
  mutation->payload = json_node_new (JSON_NODE_OBJECT);
  json_node_set_object (mutation->payload, changes);
  {
    /* A private copy: the caller may reuse @changes. */
    JsonNode *copy = json_node_copy (mutation->payload);
    json_node_unref (mutation->payload);
    mutation->payload = copy;
  }
  return mutate_channel (self, mutation, error);
}

static gboolean
simple_mutation (PosternSyncEngine *self,
                 PosternMutationOp op,
                 const char *channel_id,
                 GError **error)
{
  g_return_val_if_fail (POSTERN_IS_SYNC_ENGINE (self), FALSE);
  return mutate_channel (self, postern_mutation_new (op, channel_id), error);
}

gboolean
postern_sync_engine_revoke (PosternSyncEngine *self,
                            const char *channel_id,
                            GError **error)
{
  return simple_mutation (self, POSTERN_MUTATION_REVOKE, channel_id, error);
}

gboolean
postern_sync_engine_pause (PosternSyncEngine *self,
                           const char *channel_id,
                           GError **error)
{
  return simple_mutation (self, POSTERN_MUTATION_PAUSE, channel_id, error);
}

gboolean
postern_sync_engine_resume (PosternSyncEngine *self,
                            const char *channel_id,
                            GError **error)
{
  return simple_mutation (self, POSTERN_MUTATION_RESUME, channel_id, error);
}

static char *
normalize_pattern (const char *text,
                   GError **error)
{
  g_autoptr (PosternSenderPattern) pattern = NULL;
  g_autoptr (GError) local_error = NULL;

  pattern = text != NULL ? postern_sender_pattern_parse (text, &local_error) : NULL;
  if (pattern == NULL)
    {
      g_set_error (error, POSTERN_CLIENT_ERROR, POSTERN_CLIENT_ERROR_INVALID, "%s",
                   local_error != NULL ? local_error->message : "No sender pattern given");
      return NULL;
    }
  return postern_sender_pattern_to_string (pattern);
}

static gboolean
sender_mutation (PosternSyncEngine *self,
                 PosternMutationOp op,
                 const char *channel_id,
                 const char *pattern,
                 GError **error)
{
  PosternMutation *mutation;
  g_autofree char *normalized = NULL;

  g_return_val_if_fail (POSTERN_IS_SYNC_ENGINE (self), FALSE);

  normalized = normalize_pattern (pattern, error);
  if (normalized == NULL)
    return FALSE;
  mutation = postern_mutation_new (op, channel_id);
  mutation->pattern = g_steal_pointer (&normalized);
  return mutate_channel (self, mutation, error);
}

gboolean
postern_sync_engine_trust_sender (PosternSyncEngine *self,
                                  const char *channel_id,
                                  const char *pattern,
                                  GError **error)
{
  return sender_mutation (self, POSTERN_MUTATION_TRUST, channel_id, pattern, error);
}

gboolean
postern_sync_engine_untrust_sender (PosternSyncEngine *self,
                                    const char *channel_id,
                                    const char *pattern,
                                    GError **error)
{
  return sender_mutation (self, POSTERN_MUTATION_UNTRUST, channel_id, pattern, error);
}

gboolean
postern_sync_engine_block (PosternSyncEngine *self,
                           const char *pattern,
                           const char *channel_id,
                           GError **error)
{
  PosternMutation *mutation;
  g_autofree char *normalized = NULL;

  g_return_val_if_fail (POSTERN_IS_SYNC_ENGINE (self), FALSE);

  if (channel_id != NULL && *channel_id == '\0')
    channel_id = NULL;
  if (!check_paired (self, error))
    return FALSE;
  if (channel_id != NULL && find_channel (self, channel_id, error) == NULL)
    return FALSE;
  normalized = normalize_pattern (pattern, error);
  if (normalized == NULL)
    return FALSE;

  mutation = postern_mutation_new (POSTERN_MUTATION_BLOCK, channel_id);
  mutation->pattern = g_steal_pointer (&normalized);
  return enqueue (self, mutation, error);
}

gboolean
postern_sync_engine_record_share (PosternSyncEngine *self,
                                  const char *channel_id,
                                  PosternShareMethod method,
                                  const char *recipient,
                                  GError **error)
{
  PosternMutation *mutation;
  JsonObject *payload;

  g_return_val_if_fail (POSTERN_IS_SYNC_ENGINE (self), FALSE);

  if (find_channel (self, channel_id, error) == NULL)
    return FALSE;
  if (recipient != NULL && (!g_utf8_validate (recipient, -1, NULL) || strlen (recipient) > 200))
    {
      g_set_error_literal (error, POSTERN_CLIENT_ERROR, POSTERN_CLIENT_ERROR_INVALID,
                           "recipient: at most 200 bytes of text");
      return FALSE;
    }

  mutation = postern_mutation_new (POSTERN_MUTATION_SHARE, channel_id);
  payload = json_object_new ();
  json_object_set_string_member (payload, "method", postern_share_method_to_string (method));
  if (recipient != NULL && *recipient != '\0')
    json_object_set_string_member (payload, "recipient", recipient);
  mutation->payload = json_node_new (JSON_NODE_OBJECT);
  json_node_take_object (mutation->payload, payload);
  return enqueue (self, mutation, error);
}

/* ---- loading the account from the keyring -------------------------------- */

typedef struct
{
  PosternSyncEngine *self; /* strong */
  GTask *task;             /* nullable: a retry after the keyring unlocked */
  guint next;
  char *values[POSTERN_SECRET_N_KINDS];
} LoadOp;

static void
load_op_free (LoadOp *op)
{
  g_object_unref (op->self);
  g_clear_object (&op->task);
  for (guint i = 0; i < POSTERN_SECRET_N_KINDS; i++)
    g_free (op->values[i]);
  g_free (op);
}

static void
clear_local_copy (PosternSyncEngine *self)
{
  g_hash_table_remove_all (self->by_id);
  g_hash_table_remove_all (self->server_copies);
  g_list_store_remove_all (self->channels);
  g_ptr_array_set_size (self->pending, 0);
  g_ptr_array_set_size (self->events, 0);
  g_ptr_array_set_size (self->alerts_waiting, 0);
  g_hash_table_remove_all (self->unread);
  self->inflight = NULL;
  self->refetched = FALSE;
  self->revision = 0;
  self->cursor = 0;
  self->last_sync = 0;
}

static void
forget_account (PosternSyncEngine *self)
{
  stop_live (self);
  g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  self->cancellable = g_cancellable_new ();

  deferred_save_cancel (&self->snapshot_save);
  deferred_save_cancel (&self->events_save);
  g_clear_handle_id (&self->keyring_retry_id, g_source_remove);
  g_clear_handle_id (&self->replay_retry_id, g_source_remove);
  self->replay_attempt = 0;
  if (self->store != NULL)
    g_clear_signal_handler (&self->store_state_handler, self->store);
  g_clear_object (&self->store);
  g_clear_object (&self->client);
  g_clear_pointer (&self->server, g_free);
  g_clear_pointer (&self->user, g_free);
  g_clear_pointer (&self->fingerprint, g_free);
  g_clear_pointer (&self->domains, g_strfreev);
  g_clear_error (&self->server_error);
  g_clear_error (&self->keyring_error);
  self->loaded = FALSE;
  self->waiting_keyring = FALSE;
  self->auth_refused = FALSE;
  self->syncing = FALSE;
  self->resync_again = FALSE;
  self->last_sync_failed = FALSE;
  clear_local_copy (self);
}

static void
notify_account (PosternSyncEngine *self)
{
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_PAIRED]);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_SERVER]);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_USER]);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_FINGERPRINT]);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_PENDING_COUNT]);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_UNREAD_ALERTS]);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_LAST_SYNC]);
}

static void
store_state_cb (PosternSecretStore *store,
                GParamSpec *pspec,
                gpointer user_data)
{
  PosternSyncEngine *self = user_data;

  if (postern_secret_store_get_state (store) == POSTERN_SECRET_STORE_READY && self->waiting_keyring && !self->loaded)
    load_account (self, NULL);
  update_status (self);
}

static void
use_store (PosternSyncEngine *self,
           PosternSecretStore *store)
{
  self->store = store;
  self->store_state_handler = g_signal_connect (store, "notify::state",
                                                G_CALLBACK (store_state_cb), self);
}

static void load_next (LoadOp *op);

static void
load_finished (LoadOp *op)
{
  PosternSyncEngine *self = op->self;
  const char *token = op->values[POSTERN_SECRET_TOKEN];
  const char *pin = op->values[POSTERN_SECRET_PIN];
  g_autoptr (GError) error = NULL;

  if (token == NULL)
    {
      /* Half an account (token item deleted by hand): nothing to sync with. */
      g_message ("The keyring holds no device token for %s on %s: pair again", self->user, self->server);
      forget_account (self);
      notify_account (self);
      update_status (self);
      if (op->task != NULL)
        g_task_return_boolean (op->task, TRUE);
      load_op_free (op);
      return;
    }

  clear_local_copy (self);
  if (op->values[POSTERN_SECRET_CHANNELS] != NULL && !parse_snapshot (self, op->values[POSTERN_SECRET_CHANNELS], &error))
    {
      g_warning ("The stored channel list is unreadable and will be fetched again: %s", error->message);
      g_clear_error (&error);
      g_hash_table_remove_all (self->server_copies);
      self->revision = 0;
    }
  if (op->values[POSTERN_SECRET_PENDING] != NULL)
    {
      g_autoptr (GPtrArray) queue = postern_mutation_queue_from_string (op->values[POSTERN_SECRET_PENDING], &error);

      if (queue == NULL)
        {
          g_warning ("The stored queue of changes is unreadable: %s", error->message);
          g_clear_error (&error);
        }
      else
        for (guint i = 0; i < queue->len; i++)
          g_ptr_array_add (self->pending, postern_mutation_copy (g_ptr_array_index (queue, i)));
    }
  if (op->values[POSTERN_SECRET_EVENTS] != NULL && !parse_events (self, op->values[POSTERN_SECRET_EVENTS], &error))
    {
      g_debug ("sync: stored events unreadable: %s", error->message);
      g_clear_error (&error);
    }

  g_free (self->fingerprint);
  self->fingerprint = pin != NULL && *pin != '\0' ? g_strdup (pin) : NULL;
  g_clear_object (&self->client);
  self->client = postern_api_client_new (self->server, self->fingerprint, token, &error);
  if (self->client == NULL)
    g_warning ("The stored account is unusable: %s", error->message);

  rebuild_view (self);
  self->loaded = TRUE;
  self->waiting_keyring = FALSE;
  g_clear_error (&self->keyring_error);
  notify_account (self);
  update_status (self);

  if (op->task != NULL)
    g_task_return_boolean (op->task, TRUE);
  load_op_free (op);

  resync (self);
}

static void
load_item_cb (GObject *source,
              GAsyncResult *result,
              gpointer user_data)
{
  LoadOp *op = user_data;
  PosternSyncEngine *self = op->self;
  g_autoptr (GError) error = NULL;
  char *value;

  value = postern_secret_store_load_finish (POSTERN_SECRET_STORE (source), result, &error);
  if (POSTERN_SECRET_STORE (source) != self->store)
    {
      /* Unpaired or re-paired meanwhile. */
      if (op->task != NULL)
        g_task_return_new_error (op->task, G_IO_ERROR, G_IO_ERROR_CANCELLED, "The account changed");
      g_free (value);
      load_op_free (op);
      return;
    }
  if (error != NULL)
    {
      self->waiting_keyring = TRUE;
      g_clear_error (&self->keyring_error);
      self->keyring_error = g_error_copy (error);
      update_status (self);
      if (op->task != NULL)
        g_task_return_error (op->task, g_steal_pointer (&error));
      load_op_free (op);
      return;
    }

  op->values[op->next++] = value;
  load_next (op);
}

static void
load_next (LoadOp *op)
{
  if (op->next >= POSTERN_SECRET_N_KINDS)
    {
      load_finished (op);
      return;
    }
  postern_secret_store_load_async (op->self->store, (PosternSecretKind)op->next,
                                   op->self->cancellable, load_item_cb, op);
}

static void
load_account (PosternSyncEngine *self,
              GTask *task)
{
  LoadOp *op = g_new0 (LoadOp, 1);

  op->self = g_object_ref (self);
  op->task = task != NULL ? g_object_ref (task) : NULL;
  load_next (op);
}

static void find_accounts (PosternSyncEngine *self,
                           GTask *task);

static gboolean
keyring_retry_cb (gpointer user_data)
{
  PosternSyncEngine *self = user_data;

  self->keyring_retry_id = 0;
  find_accounts (self, NULL);
  return G_SOURCE_REMOVE;
}

typedef struct
{
  PosternSyncEngine *self; /* strong */
  GTask *task;             /* nullable */
} FindOp;

static void
find_accounts_cb (GObject *source,
                  GAsyncResult *result,
                  gpointer user_data)
{
  FindOp *op = user_data;
  g_autoptr (PosternSyncEngine) self = op->self;
  g_autoptr (GTask) task = op->task;
  g_autoptr (GError) error = NULL;
  g_auto (GStrv) servers = NULL;
  g_auto (GStrv) users = NULL;

  g_free (op);

  if (self->server != NULL)
    {
      /* Paired while we looked. */
      if (task != NULL)
        g_task_return_boolean (task, TRUE);
      return;
    }

  if (!postern_secret_store_find_accounts_finish (result, &servers, &users, &error))
    {
      self->waiting_keyring = TRUE;
      g_clear_error (&self->keyring_error);
      self->keyring_error = g_error_copy (error);
      update_status (self);
      self->keyring_retry_id = g_timeout_add_seconds (KEYRING_RETRY_SECONDS, keyring_retry_cb, self);
      if (task != NULL)
        g_task_return_error (task, g_steal_pointer (&error));
      return;
    }

  self->waiting_keyring = FALSE;
  g_clear_error (&self->keyring_error);

  if (servers[0] == NULL)
    {
      update_status (self);
      if (task != NULL)
        g_task_return_boolean (task, TRUE);
      return;
    }
  if (servers[1] != NULL)
    g_message ("The keyring holds several Postern accounts; using %s on %s", users[0], servers[0]);

  self->server = g_strdup (servers[0]);
  self->user = g_strdup (users[0]);
  use_store (self, postern_secret_store_new (self->server, self->user));
  load_account (self, task);
}

static void
find_accounts (PosternSyncEngine *self,
               GTask *task)
{
  FindOp *op = g_new0 (FindOp, 1);

  op->self = g_object_ref (self);
  op->task = task != NULL ? g_object_ref (task) : NULL;
  postern_secret_store_find_accounts_async (self->cancellable, find_accounts_cb, op);
}

void
postern_sync_engine_start_async (PosternSyncEngine *self,
                                 GCancellable *cancellable,
                                 GAsyncReadyCallback callback,
                                 gpointer user_data)
{
  g_autoptr (GTask) task = NULL;

  g_return_if_fail (POSTERN_IS_SYNC_ENGINE (self));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, postern_sync_engine_start_async);
  find_accounts (self, task);
}

gboolean
postern_sync_engine_start_finish (PosternSyncEngine *self,
                                  GAsyncResult *result,
                                  GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

/* ---- pairing ---------------------------------------------------------------- */

typedef struct
{
  char *server;
  char *code;
  char *fingerprint;
  char *device_name;
  PosternApiClient *client;
  char *token;
  char *user;
  GStrv domains;
  gint64 latest_event;
} PairOp;

static void
pair_op_free (PairOp *op)
{
  g_free (op->server);
  g_free (op->code);
  g_free (op->fingerprint);
  g_free (op->device_name);
  g_clear_object (&op->client);
  g_free (op->token);
  g_free (op->user);
  g_strfreev (op->domains);
  g_free (op);
}

static void
pair_flush_cb (GObject *source,
               GAsyncResult *result,
               gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  g_autoptr (GError) error = NULL;

  /* A locked keyring does not undo the pairing: the values stay queued
   * and are written once it unlocks; the status says so. */
  g_debug ("pair: keyring flushed");
  if (!postern_secret_store_flush_finish (POSTERN_SECRET_STORE (source), result, &error))
    g_message ("Paired, but the keyring could not be written yet: %s", error->message);
  g_task_return_boolean (task, TRUE);
}

static void
pair_install (GTask *task)
{
  PosternSyncEngine *self = g_task_get_source_object (task);
  PairOp *op = g_task_get_task_data (task);
  g_autofree char *snapshot = NULL;

  forget_account (self);

  self->server = g_strdup (op->server);
  self->user = g_strdup (op->user);
  self->fingerprint = g_strdup (op->fingerprint);
  self->domains = g_strdupv (op->domains);
  self->client = g_object_ref (op->client);
  self->cursor = op->latest_event; /* no alerts for mail that came before this device */
  self->loaded = TRUE;
  use_store (self, postern_secret_store_new (self->server, self->user));

  postern_secret_store_save (self->store, POSTERN_SECRET_TOKEN, op->token);
  postern_secret_store_save (self->store, POSTERN_SECRET_PIN, op->fingerprint != NULL ? op->fingerprint : "");
  snapshot = snapshot_to_string (self);
  postern_secret_store_save (self->store, POSTERN_SECRET_CHANNELS, snapshot);
  save_pending (self);
  deferred_save_cb (&self->events_save);

  notify_account (self);
  update_status (self);
  resync (self);

  postern_secret_store_flush_async (self->store, NULL, pair_flush_cb, g_object_ref (task));
}

static void
pair_clear_old_cb (GObject *source,
                   GAsyncResult *result,
                   gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  g_autoptr (GError) error = NULL;

  if (!postern_secret_store_clear_finish (POSTERN_SECRET_STORE (source), result, &error))
    g_message ("The previous account's keyring items could not be removed: %s", error->message);
  pair_install (task);
}

static void
pair_account_cb (GObject *source,
                 GAsyncResult *result,
                 gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  PosternSyncEngine *self = g_task_get_source_object (task);
  PairOp *op = g_task_get_task_data (task);
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonNode) account = NULL;

  account = postern_api_client_get_account_finish (POSTERN_API_CLIENT (source), result, &error);
  g_debug ("pair: account %s", account != NULL ? "received" : error->message);
  if (account != NULL && JSON_NODE_HOLDS_OBJECT (account))
    {
      JsonObject *object = json_node_get_object (account);
      JsonNode *domains = json_object_get_member (object, "domains");

      op->latest_event = MAX (0, json_object_get_int_member_with_default (object, "latest_event", 0));
      if (domains != NULL && JSON_NODE_HOLDS_ARRAY (domains))
        {
          g_autoptr (GStrvBuilder) builder = g_strv_builder_new ();
          JsonArray *array = json_node_get_array (domains);

          for (guint i = 0; i < json_array_get_length (array); i++)
            {
              const char *domain = json_array_get_string_element (array, i);
              if (domain != NULL && g_utf8_validate (domain, -1, NULL))
                g_strv_builder_add (builder, domain);
            }
          g_strfreev (op->domains);
          op->domains = g_strv_builder_end (builder);
        }
    }
  else if (error != NULL)
    /* The token works (pairing just succeeded): carry on with what the
     * pairing answer said; the next sync fills in the rest. */
    g_debug ("sync: account details unavailable after pairing: %s", error->message);

  if (self->store != NULL)
    {
      PosternSecretStore *old = g_object_ref (self->store);
      postern_secret_store_clear_async (old, NULL, pair_clear_old_cb, g_steal_pointer (&task));
      g_object_unref (old);
      return;
    }
  pair_install (g_steal_pointer (&task));
}

static void
pair_cb (GObject *source,
         GAsyncResult *result,
         gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  PairOp *op = g_task_get_task_data (task);
  g_autoptr (GError) error = NULL;

  op->token = postern_api_client_pair_finish (POSTERN_API_CLIENT (source), result,
                                              &op->user, &op->domains, &error);
  g_debug ("pair: token %s", op->token != NULL ? "received" : error->message);
  if (op->token == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }

  {
    GCancellable *task_cancellable = g_task_get_cancellable (task);
    postern_api_client_get_account_async (op->client, task_cancellable,
                                          pair_account_cb, g_steal_pointer (&task));
  }
}

void
postern_sync_engine_pair_async (PosternSyncEngine *self,
                                const char *uri_or_url,
                                const char *code,
                                const char *fingerprint,
                                const char *device_name,
                                GCancellable *cancellable,
                                GAsyncReadyCallback callback,
                                gpointer user_data)
{
  g_autoptr (GTask) task = NULL;
  g_autoptr (GError) error = NULL;
  PairOp *op;

  g_return_if_fail (POSTERN_IS_SYNC_ENGINE (self));
  g_return_if_fail (uri_or_url != NULL);

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, postern_sync_engine_pair_async);
  op = g_new0 (PairOp, 1);
  g_task_set_task_data (task, op, (GDestroyNotify)pair_op_free);

  if (g_str_has_prefix (uri_or_url, "postern:"))
    {
      g_autofree char *uri_code = NULL;
      g_autofree char *uri_fp = NULL;

      if (!postern_pair_uri_parse (uri_or_url, &op->server, &uri_code, &uri_fp, &error))
        {
          g_task_return_error (task, g_steal_pointer (&error));
          return;
        }
      op->code = g_strdup (code != NULL && *code != '\0' ? code : uri_code);
      op->fingerprint = g_strdup (fingerprint != NULL && *fingerprint != '\0' ? fingerprint : uri_fp);
    }
  else
    {
      op->server = g_strdup (uri_or_url);
      op->code = g_strdup (code);
      op->fingerprint = g_strdup (fingerprint != NULL && *fingerprint != '\0' ? fingerprint : NULL);
    }
  op->device_name = g_strdup (device_name);

  if (op->fingerprint != NULL)
    {
      char *canonical = postern_fingerprint_normalize (op->fingerprint, &error);

      if (canonical == NULL)
        {
          g_task_return_error (task, g_steal_pointer (&error));
          return;
        }
      g_free (op->fingerprint);
      op->fingerprint = canonical;
    }

  op->client = postern_api_client_new (op->server, op->fingerprint, NULL, &error);
  if (op->client == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  /* Keep the normalised URL: it names the account in the keyring. */
  g_free (op->server);
  op->server = g_strdup (postern_api_client_get_base_url (op->client));

  postern_api_client_pair_async (op->client, op->code, op->device_name, cancellable,
                                 pair_cb, g_steal_pointer (&task));
}

gboolean
postern_sync_engine_pair_finish (PosternSyncEngine *self,
                                 GAsyncResult *result,
                                 GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

static void
unpair_clear_cb (GObject *source,
                 GAsyncResult *result,
                 gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  g_autoptr (GError) error = NULL;

  if (!postern_secret_store_clear_finish (POSTERN_SECRET_STORE (source), result, &error))
    g_task_return_error (task, g_steal_pointer (&error));
  else
    g_task_return_boolean (task, TRUE);
}

void
postern_sync_engine_unpair_async (PosternSyncEngine *self,
                                  GCancellable *cancellable,
                                  GAsyncReadyCallback callback,
                                  gpointer user_data)
{
  g_autoptr (GTask) task = NULL;
  g_autoptr (PosternSecretStore) store = NULL;

  g_return_if_fail (POSTERN_IS_SYNC_ENGINE (self));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, postern_sync_engine_unpair_async);

  store = self->store != NULL ? g_object_ref (self->store) : NULL;
  forget_account (self);
  notify_account (self);
  update_status (self);

  if (store == NULL)
    {
      g_task_return_boolean (task, TRUE);
      return;
    }
  postern_secret_store_clear_async (store, cancellable, unpair_clear_cb, g_steal_pointer (&task));
}

gboolean
postern_sync_engine_unpair_finish (PosternSyncEngine *self,
                                   GAsyncResult *result,
                                   GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

static void
shutdown_flush_cb (GObject *source,
                   GAsyncResult *result,
                   gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  g_autoptr (GError) error = NULL;

  if (!postern_secret_store_flush_finish (POSTERN_SECRET_STORE (source), result, &error))
    g_task_return_error (task, g_steal_pointer (&error));
  else
    g_task_return_boolean (task, TRUE);
}

void
postern_sync_engine_shutdown_async (PosternSyncEngine *self,
                                    GCancellable *cancellable,
                                    GAsyncReadyCallback callback,
                                    gpointer user_data)
{
  g_autoptr (GTask) task = NULL;

  g_return_if_fail (POSTERN_IS_SYNC_ENGINE (self));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, postern_sync_engine_shutdown_async);

  stop_live (self);
  update_status (self);
  if (self->store == NULL)
    {
      g_task_return_boolean (task, TRUE);
      return;
    }

  deferred_save_flush (&self->snapshot_save);
  deferred_save_flush (&self->events_save);
  postern_secret_store_flush_async (self->store, cancellable, shutdown_flush_cb, g_steal_pointer (&task));
}

gboolean
postern_sync_engine_shutdown_finish (PosternSyncEngine *self,
                                     GAsyncResult *result,
                                     GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

void
postern_sync_engine_sync_now (PosternSyncEngine *self)
{
  g_return_if_fail (POSTERN_IS_SYNC_ENGINE (self));

  if (self->client == NULL)
    return;
  self->auth_refused = FALSE;
  if (self->live == NULL)
    {
      resync (self);
      return;
    }
  switch (postern_live_connection_get_state (self->live))
    {
      case POSTERN_LIVE_STATE_WAITING:
      case POSTERN_LIVE_STATE_FAILED:
        postern_live_connection_reconnect_now (self->live);
        break;
      default:
        resync (self);
        break;
    }
}

/* ---- getters ---------------------------------------------------------------- */

PosternSyncStatus
postern_sync_engine_get_status (PosternSyncEngine *self)
{
  g_return_val_if_fail (POSTERN_IS_SYNC_ENGINE (self), POSTERN_SYNC_STATUS_UNPAIRED);
  return self->status;
}

const char *
postern_sync_engine_get_status_message (PosternSyncEngine *self)
{
  g_return_val_if_fail (POSTERN_IS_SYNC_ENGINE (self), NULL);
  return self->status_message;
}

gboolean
postern_sync_engine_get_paired (PosternSyncEngine *self)
{
  g_return_val_if_fail (POSTERN_IS_SYNC_ENGINE (self), FALSE);
  return self->server != NULL && self->loaded;
}

gboolean
postern_sync_engine_get_online (PosternSyncEngine *self)
{
  g_return_val_if_fail (POSTERN_IS_SYNC_ENGINE (self), FALSE);
  /* Connected and in step with the server, whatever the keyring's state. */
  return self->client != NULL && !self->auth_refused && live_is_up (self) && !self->last_sync_failed && !self->syncing;
}

const char *
postern_sync_engine_get_server (PosternSyncEngine *self)
{
  g_return_val_if_fail (POSTERN_IS_SYNC_ENGINE (self), NULL);
  return self->server;
}

const char *
postern_sync_engine_get_user (PosternSyncEngine *self)
{
  g_return_val_if_fail (POSTERN_IS_SYNC_ENGINE (self), NULL);
  return self->user;
}

const char *
postern_sync_engine_get_fingerprint (PosternSyncEngine *self)
{
  g_return_val_if_fail (POSTERN_IS_SYNC_ENGINE (self), NULL);
  return self->fingerprint;
}

const char *const *
postern_sync_engine_get_domains (PosternSyncEngine *self)
{
  static const char *const none[] = { NULL };

  g_return_val_if_fail (POSTERN_IS_SYNC_ENGINE (self), none);
  return self->domains != NULL ? (const char *const *)self->domains : none;
}

guint
postern_sync_engine_get_pending_count (PosternSyncEngine *self)
{
  g_return_val_if_fail (POSTERN_IS_SYNC_ENGINE (self), 0);
  return self->pending->len;
}

guint
postern_sync_engine_get_unread_alerts (PosternSyncEngine *self)
{
  g_return_val_if_fail (POSTERN_IS_SYNC_ENGINE (self), 0);
  return g_hash_table_size (self->unread);
}

gboolean
postern_sync_engine_is_alert_unread (PosternSyncEngine *self,
                                     gint64 event_id)
{
  g_return_val_if_fail (POSTERN_IS_SYNC_ENGINE (self), FALSE);
  return g_hash_table_contains (self->unread, &event_id);
}

gint64
postern_sync_engine_get_last_sync (PosternSyncEngine *self)
{
  g_return_val_if_fail (POSTERN_IS_SYNC_ENGINE (self), 0);
  return self->last_sync;
}

PosternApiClient *
postern_sync_engine_get_api_client (PosternSyncEngine *self)
{
  g_return_val_if_fail (POSTERN_IS_SYNC_ENGINE (self), NULL);
  return self->client;
}

GListModel *
postern_sync_engine_get_channels (PosternSyncEngine *self)
{
  g_return_val_if_fail (POSTERN_IS_SYNC_ENGINE (self), NULL);
  return G_LIST_MODEL (self->channels);
}

PosternChannel *
postern_sync_engine_lookup_channel (PosternSyncEngine *self,
                                    const char *channel_id)
{
  g_return_val_if_fail (POSTERN_IS_SYNC_ENGINE (self), NULL);
  if (channel_id == NULL)
    return NULL;
  return g_hash_table_lookup (self->by_id, channel_id);
}

GPtrArray *
postern_sync_engine_list_events (PosternSyncEngine *self,
                                 const char *channel_id,
                                 guint limit)
{
  GPtrArray *events;

  g_return_val_if_fail (POSTERN_IS_SYNC_ENGINE (self), NULL);

  if (channel_id != NULL && *channel_id == '\0')
    channel_id = NULL;
  events = g_ptr_array_new_with_free_func (g_object_unref);
  for (guint i = self->events->len; i > 0 && (limit == 0 || events->len < limit); i--)
    {
      PosternEvent *event = g_ptr_array_index (self->events, i - 1);

      if (channel_id == NULL || g_strcmp0 (postern_event_get_channel_id (event), channel_id) == 0)
        g_ptr_array_add (events, g_object_ref (event));
    }
  return events;
}

void
postern_sync_engine_mark_alerts_read (PosternSyncEngine *self,
                                      const char *channel_id)
{
  guint before;

  g_return_if_fail (POSTERN_IS_SYNC_ENGINE (self));

  if (channel_id != NULL && *channel_id == '\0')
    channel_id = NULL;
  before = g_hash_table_size (self->unread);
  if (channel_id == NULL)
    g_hash_table_remove_all (self->unread);
  else
    for (guint i = 0; i < self->events->len; i++)
      {
        PosternEvent *event = g_ptr_array_index (self->events, i);
        gint64 id = postern_event_get_id (event);

        if (g_strcmp0 (postern_event_get_channel_id (event), channel_id) == 0)
          g_hash_table_remove (self->unread, &id);
      }

  if (g_hash_table_size (self->unread) != before)
    {
      deferred_save_schedule (&self->events_save);
      counts_changed (self, properties[PROP_UNREAD_ALERTS]);
    }
}

GPtrArray *
postern_sync_engine_dup_pending (PosternSyncEngine *self)
{
  GPtrArray *copy;

  g_return_val_if_fail (POSTERN_IS_SYNC_ENGINE (self), NULL);

  copy = g_ptr_array_new_with_free_func ((GDestroyNotify)postern_mutation_free);
  for (guint i = 0; i < self->pending->len; i++)
    g_ptr_array_add (copy, postern_mutation_copy (g_ptr_array_index (self->pending, i)));
  return copy;
}

char *
postern_sync_engine_dup_pending_json (PosternSyncEngine *self)
{
  g_autoptr (JsonNode) root = NULL;
  JsonArray *array;

  g_return_val_if_fail (POSTERN_IS_SYNC_ENGINE (self), NULL);

  array = json_array_sized_new (self->pending->len);
  for (guint i = 0; i < self->pending->len; i++)
    json_array_add_element (array, postern_mutation_to_json (g_ptr_array_index (self->pending, i)));
  root = json_node_new (JSON_NODE_ARRAY);
  json_node_take_array (root, array);
  return postern_json_to_string (root, FALSE);
}

void
postern_sync_engine_set_backoff (PosternSyncEngine *self,
                                 guint min_ms,
                                 guint max_ms)
{
  g_return_if_fail (POSTERN_IS_SYNC_ENGINE (self));
  g_return_if_fail (min_ms > 0 && min_ms <= max_ms);

  self->min_ms = min_ms;
  self->max_ms = max_ms;
  if (self->live != NULL)
    postern_live_connection_set_backoff (self->live, min_ms, max_ms);
}

/* ---- GObject ------------------------------------------------------------ */

PosternSyncEngine *
postern_sync_engine_new (void)
{
  return g_object_new (POSTERN_TYPE_SYNC_ENGINE, NULL);
}

static void
postern_sync_engine_dispose (GObject *object)
{
  PosternSyncEngine *self = POSTERN_SYNC_ENGINE (object);

  forget_account (self);
  g_cancellable_cancel (self->cancellable);

  G_OBJECT_CLASS (postern_sync_engine_parent_class)->dispose (object);
}

static void
postern_sync_engine_finalize (GObject *object)
{
  PosternSyncEngine *self = POSTERN_SYNC_ENGINE (object);

  g_clear_object (&self->cancellable);
  g_clear_object (&self->channels);
  g_clear_pointer (&self->by_id, g_hash_table_unref);
  g_clear_pointer (&self->server_copies, g_hash_table_unref);
  g_clear_pointer (&self->pending, g_ptr_array_unref);
  g_clear_pointer (&self->events, g_ptr_array_unref);
  g_clear_pointer (&self->alerts_waiting, g_ptr_array_unref);
  g_clear_pointer (&self->unread, g_hash_table_unref);
  g_free (self->status_message);

  G_OBJECT_CLASS (postern_sync_engine_parent_class)->finalize (object);
}

static void
postern_sync_engine_get_property (GObject *object,
                                  guint prop_id,
                                  GValue *value,
                                  GParamSpec *pspec)
{
  PosternSyncEngine *self = POSTERN_SYNC_ENGINE (object);

  switch (prop_id)
    {
      case PROP_STATUS:
        g_value_set_int (value, self->status);
        break;
      case PROP_STATUS_MESSAGE:
        g_value_set_string (value, self->status_message);
        break;
      case PROP_PAIRED:
        g_value_set_boolean (value, postern_sync_engine_get_paired (self));
        break;
      case PROP_SERVER:
        g_value_set_string (value, self->server);
        break;
      case PROP_USER:
        g_value_set_string (value, self->user);
        break;
      case PROP_FINGERPRINT:
        g_value_set_string (value, self->fingerprint);
        break;
      case PROP_PENDING_COUNT:
        g_value_set_uint (value, self->pending->len);
        break;
      case PROP_UNREAD_ALERTS:
        g_value_set_uint (value, g_hash_table_size (self->unread));
        break;
      case PROP_LAST_SYNC:
        g_value_set_int64 (value, self->last_sync);
        break;
      default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
postern_sync_engine_class_init (PosternSyncEngineClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = postern_sync_engine_dispose;
  object_class->finalize = postern_sync_engine_finalize;
  object_class->get_property = postern_sync_engine_get_property;

  properties[PROP_STATUS] = g_param_spec_int ("status", NULL, NULL,
                                              POSTERN_SYNC_STATUS_UNPAIRED, POSTERN_SYNC_STATUS_ONLINE,
                                              POSTERN_SYNC_STATUS_UNPAIRED,
                                              G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_STATUS_MESSAGE] = g_param_spec_string ("status-message", NULL, NULL, NULL,
                                                         G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_PAIRED] = g_param_spec_boolean ("paired", NULL, NULL, FALSE,
                                                  G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_SERVER] = g_param_spec_string ("server", NULL, NULL, NULL,
                                                 G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_USER] = g_param_spec_string ("user", NULL, NULL, NULL,
                                               G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_FINGERPRINT] = g_param_spec_string ("fingerprint", NULL, NULL, NULL,
                                                      G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_PENDING_COUNT] = g_param_spec_uint ("pending-count", NULL, NULL, 0, G_MAXUINT, 0,
                                                      G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_UNREAD_ALERTS] = g_param_spec_uint ("unread-alerts", NULL, NULL, 0, G_MAXUINT, 0,
                                                      G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_LAST_SYNC] = g_param_spec_int64 ("last-sync", NULL, NULL, 0, G_MAXINT64, 0,
                                                   G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  signals[SIGNAL_CHANNEL_CHANGED] = g_signal_new ("channel-changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                                                  NULL, NULL, NULL, G_TYPE_NONE, 1, POSTERN_TYPE_CHANNEL);
  signals[SIGNAL_CHANNEL_REMOVED] = g_signal_new ("channel-removed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                                                  NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_STRING);
  signals[SIGNAL_EVENT_ADDED] = g_signal_new ("event-added", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                                              NULL, NULL, NULL, G_TYPE_NONE, 1, POSTERN_TYPE_EVENT);
  signals[SIGNAL_ALERT] = g_signal_new ("alert", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                                        NULL, NULL, NULL, G_TYPE_NONE, 2, POSTERN_TYPE_EVENT, POSTERN_TYPE_CHANNEL);
  signals[SIGNAL_STATUS_CHANGED] = g_signal_new ("status-changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                                                 NULL, NULL, NULL, G_TYPE_NONE, 0);
  signals[SIGNAL_MUTATION_FAILED] = g_signal_new ("mutation-failed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                                                  NULL, NULL, NULL, G_TYPE_NONE, 2, POSTERN_TYPE_MUTATION, G_TYPE_ERROR);
}

static void
postern_sync_engine_init (PosternSyncEngine *self)
{
  self->cancellable = g_cancellable_new ();
  self->channels = g_list_store_new (POSTERN_TYPE_CHANNEL);
  self->by_id = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_object_unref);
  self->server_copies = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_object_unref);
  self->pending = g_ptr_array_new_with_free_func ((GDestroyNotify)postern_mutation_free);
  self->events = g_ptr_array_new_with_free_func (g_object_unref);
  self->alerts_waiting = g_ptr_array_new_with_free_func (g_object_unref);
  self->unread = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, NULL);
  self->status = POSTERN_SYNC_STATUS_UNPAIRED;
  self->status_message = g_strdup ("Not paired with a Postern server");
  deferred_save_init (&self->snapshot_save, self, POSTERN_SECRET_CHANNELS, snapshot_to_string);
  deferred_save_init (&self->events_save, self, POSTERN_SECRET_EVENTS, events_to_string);
}
