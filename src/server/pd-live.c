/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "pd-live.h"

#include "postern-core.h"

typedef struct
{
  PdLive *live; /* not owned */
  SoupWebsocketConnection *connection;
  gint64 user_id;
  gint64 device_id;
  gint64 cursor;   /* last event id sent */
  gint64 revision; /* last channel revision sent */
  gboolean synced;
  gboolean closed;
  GSource *backlog;
} Subscriber;

struct _PdLive
{
  GObject parent_instance;

  PdStore *store;
  PdStoreAuth *auth;
  GSource *device_check;
  guint ping_interval;
  GPtrArray *subscribers; /* of Subscriber */
  GSource *prune;
  GMainContext *context;
};

G_DEFINE_FINAL_TYPE (PdLive, pd_live, G_TYPE_OBJECT)

static void
subscriber_free (Subscriber *sub)
{
  if (sub->backlog != NULL)
    {
      g_source_destroy (sub->backlog);
      g_source_unref (sub->backlog);
    }
  g_signal_handlers_disconnect_by_data (sub->connection, sub);
  if (soup_websocket_connection_get_state (sub->connection) == SOUP_WEBSOCKET_STATE_OPEN)
    soup_websocket_connection_close (sub->connection, SOUP_WEBSOCKET_CLOSE_GOING_AWAY, NULL);
  g_object_unref (sub->connection);
  g_free (sub);
}

static gboolean
prune_cb (gpointer data)
{
  PdLive *self = PD_LIVE (data);

  for (guint i = self->subscribers->len; i > 0; i--)
    {
      Subscriber *sub = g_ptr_array_index (self->subscribers, i - 1);

      if (sub->closed)
        g_ptr_array_remove_index_fast (self->subscribers, i - 1);
    }
  g_clear_pointer (&self->prune, g_source_unref);
  return G_SOURCE_REMOVE;
}

/* Subscribers are freed from an idle, never inside a loop over them (a
 * send can close a connection and re-enter). */
static void
schedule_prune (PdLive *self)
{
  if (self->prune != NULL)
    return;
  self->prune = g_idle_source_new ();
  g_source_set_callback (self->prune, prune_cb, self, NULL);
  g_source_attach (self->prune, self->context);
}

static void
send_node (Subscriber *sub,
           JsonNode *node)
{
  g_autofree char *text = json_to_string (node, FALSE);

  json_node_unref (node);
  if (sub->closed || soup_websocket_connection_get_state (sub->connection) != SOUP_WEBSOCKET_STATE_OPEN)
    return;
  soup_websocket_connection_send_text (sub->connection, text);
}

static JsonNode *
wrap (const char *type,
      const char *member,
      JsonNode *value)
{
  JsonObject *object = json_object_new ();
  JsonNode *node = json_node_new (JSON_NODE_OBJECT);

  json_object_set_string_member (object, "type", type);
  json_object_set_member (object, member, value);
  json_node_take_object (node, object);
  return node;
}

static void
send_event (Subscriber *sub,
            PosternEvent *event)
{
  send_node (sub, wrap ("event", "event", postern_event_to_json (event)));
  sub->cursor = postern_event_get_id (event);
}

static void
send_channel (Subscriber *sub,
              PosternChannel *channel)
{
  send_node (sub, wrap ("channel", "channel", postern_channel_to_json (channel)));
  sub->revision = MAX (sub->revision, postern_channel_get_revision (channel));
}

static void
send_deleted (Subscriber *sub,
              const char *channel_id,
              gint64 revision)
{
  JsonObject *object = json_object_new ();
  JsonNode *node = json_node_new (JSON_NODE_OBJECT);

  json_object_set_string_member (object, "type", "deleted");
  json_object_set_string_member (object, "id", channel_id);
  if (revision > 0)
    json_object_set_int_member (object, "revision", revision);
  json_node_take_object (node, object);
  send_node (sub, node);
  sub->revision = MAX (sub->revision, revision);
}

static void
send_synced (Subscriber *sub)
{
  JsonObject *object = json_object_new ();
  JsonNode *node = json_node_new (JSON_NODE_OBJECT);

  json_object_set_string_member (object, "type", "synced");
  json_object_set_int_member (object, "cursor", sub->cursor);
  json_object_set_int_member (object, "revision", sub->revision);
  json_node_take_object (node, object);
  send_node (sub, node);
}

static void
close_with_error (Subscriber *sub,
                  const GError *error)
{
  g_warning ("Live: cannot read the backlog for user %" G_GINT64_FORMAT ": %s", sub->user_id, error->message);
  soup_websocket_connection_close (sub->connection, SOUP_WEBSOCKET_CLOSE_SERVER_ERROR, "backlog unavailable");
}

/* One page of the event backlog per dispatch, so a client far behind does
 * not stall the server. Live events are not sent until the backlog has
 * caught up: the pages read them from the store anyway, in order. */
static gboolean
backlog_page (Subscriber *sub)
{
  g_autoptr (GPtrArray) events = NULL;
  g_autoptr (GError) error = NULL;

  if (sub->closed)
    return FALSE;
  events = pd_store_list_events (sub->live->store, sub->user_id, sub->cursor, 0,
                                 PD_LIVE_BACKLOG_PAGE, FALSE, NULL, -1, &error);
  if (events == NULL)
    {
      close_with_error (sub, error);
      return FALSE;
    }
  for (guint i = 0; i < events->len; i++)
    send_event (sub, g_ptr_array_index (events, i));
  if (events->len == PD_LIVE_BACKLOG_PAGE)
    return TRUE;

  sub->synced = TRUE;
  send_synced (sub);
  return FALSE;
}

static gboolean
backlog_cb (gpointer data)
{
  Subscriber *sub = data;

  if (backlog_page (sub))
    return G_SOURCE_CONTINUE;
  g_clear_pointer (&sub->backlog, g_source_unref);
  return G_SOURCE_REMOVE;
}

static void
closed_cb (SoupWebsocketConnection *connection,
           gpointer data)
{
  Subscriber *sub = data;

  g_debug ("Live: connection of device %" G_GINT64_FORMAT " closed", sub->device_id);
  sub->closed = TRUE;
  schedule_prune (sub->live);
}

static void
message_cb (SoupWebsocketConnection *connection,
            gint type,
            GBytes *message,
            gpointer data)
{
  /* Clients have nothing to say yet; their messages are ignored. */
}

static void
event_added_cb (PdStore *store,
                gint64 user_id,
                PosternEvent *event,
                gpointer data)
{
  PdLive *self = PD_LIVE (data);

  for (guint i = 0; i < self->subscribers->len; i++)
    {
      Subscriber *sub = g_ptr_array_index (self->subscribers, i);

      if (sub->user_id != user_id || !sub->synced || sub->closed)
        continue;
      if (postern_event_get_id (event) <= sub->cursor)
        continue;
      send_event (sub, event);
    }
}

static void
channel_changed_cb (PdStore *store,
                    gint64 user_id,
                    PosternChannel *channel,
                    gpointer data)
{
  PdLive *self = PD_LIVE (data);

  for (guint i = 0; i < self->subscribers->len; i++)
    {
      Subscriber *sub = g_ptr_array_index (self->subscribers, i);

      if (sub->user_id != user_id || sub->closed)
        continue;
      if (postern_channel_get_revision (channel) <= sub->revision)
        continue;
      send_channel (sub, channel);
    }
}

static void
channel_deleted_cb (PdStore *store,
                    gint64 user_id,
                    const char *channel_id,
                    gint64 revision,
                    gpointer data)
{
  PdLive *self = PD_LIVE (data);

  for (guint i = 0; i < self->subscribers->len; i++)
    {
      Subscriber *sub = g_ptr_array_index (self->subscribers, i);

      if (sub->user_id != user_id || sub->closed || revision <= sub->revision)
        continue;
      send_deleted (sub, channel_id, revision);
    }
}

static gboolean
device_check_cb (gpointer data)
{
  PdLive *self = PD_LIVE (data);

  for (guint i = 0; i < self->subscribers->len; i++)
    {
      Subscriber *sub = g_ptr_array_index (self->subscribers, i);

      if (sub->closed || soup_websocket_connection_get_state (sub->connection) != SOUP_WEBSOCKET_STATE_OPEN)
        continue;
      if (!pd_store_auth_device_exists (self->auth, sub->device_id))
        {
          g_message ("Live: closing the connection of revoked device %" G_GINT64_FORMAT, sub->device_id);
          soup_websocket_connection_close (sub->connection, SOUP_WEBSOCKET_CLOSE_POLICY_VIOLATION, "device revoked");
        }
    }
  return G_SOURCE_CONTINUE;
}

static void
pd_live_dispose (GObject *object)
{
  PdLive *self = PD_LIVE (object);

  if (self->device_check != NULL)
    {
      g_source_destroy (self->device_check);
      g_clear_pointer (&self->device_check, g_source_unref);
    }
  g_clear_object (&self->auth);

  if (self->store != NULL)
    g_signal_handlers_disconnect_by_data (self->store, self);
  if (self->prune != NULL)
    {
      g_source_destroy (self->prune);
      g_clear_pointer (&self->prune, g_source_unref);
    }
  if (self->subscribers != NULL)
    g_ptr_array_set_size (self->subscribers, 0);
  g_clear_object (&self->store);

  G_OBJECT_CLASS (pd_live_parent_class)->dispose (object);
}

static void
pd_live_finalize (GObject *object)
{
  PdLive *self = PD_LIVE (object);

  g_clear_pointer (&self->subscribers, g_ptr_array_unref);
  g_clear_pointer (&self->context, g_main_context_unref);

  G_OBJECT_CLASS (pd_live_parent_class)->finalize (object);
}

static void
pd_live_class_init (PdLiveClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = pd_live_dispose;
  object_class->finalize = pd_live_finalize;
}

static void
pd_live_init (PdLive *self)
{
  self->subscribers = g_ptr_array_new_with_free_func ((GDestroyNotify)subscriber_free);
  self->context = g_main_context_ref_thread_default ();
}

PdLive *
pd_live_new (PdStore *store,
             PdStoreAuth *auth,
             guint ping_interval)
{
  PdLive *self;

  g_return_val_if_fail (PD_IS_STORE (store), NULL);

  self = g_object_new (PD_TYPE_LIVE, NULL);
  self->store = g_object_ref (store);
  self->ping_interval = ping_interval;
  if (auth != NULL && ping_interval > 0)
    {
      self->auth = g_object_ref (auth);
      self->device_check = g_timeout_source_new_seconds (ping_interval);
      g_source_set_callback (self->device_check, device_check_cb, self, NULL);
      g_source_attach (self->device_check, self->context);
    }
  g_signal_connect (store, "event-added", G_CALLBACK (event_added_cb), self);
  g_signal_connect (store, "channel-changed", G_CALLBACK (channel_changed_cb), self);
  g_signal_connect (store, "channel-deleted", G_CALLBACK (channel_deleted_cb), self);
  return self;
}

gboolean
pd_live_can_add (PdLive *self,
                 gint64 user_id)
{
  guint total = 0, of_user = 0;

  g_return_val_if_fail (PD_IS_LIVE (self), FALSE);

  for (guint i = 0; i < self->subscribers->len; i++)
    {
      Subscriber *sub = g_ptr_array_index (self->subscribers, i);

      if (sub->closed)
        continue;
      total++;
      if (sub->user_id == user_id)
        of_user++;
    }
  return total < PD_LIVE_MAX_SUBSCRIBERS && of_user < PD_LIVE_MAX_SUBSCRIBERS_PER_USER;
}

void
pd_live_add (PdLive *self,
             SoupWebsocketConnection *connection,
             gint64 user_id,
             gint64 device_id,
             gint64 cursor,
             gint64 revision)
{
  Subscriber *sub;
  g_autoptr (GPtrArray) channels = NULL;
  g_autoptr (GPtrArray) tombstones = NULL;
  g_autoptr (GError) error = NULL;

  g_return_if_fail (PD_IS_LIVE (self));
  g_return_if_fail (SOUP_IS_WEBSOCKET_CONNECTION (connection));

  sub = g_new0 (Subscriber, 1);
  sub->live = self;
  sub->connection = g_object_ref (connection);
  sub->user_id = user_id;
  sub->device_id = device_id;
  sub->cursor = cursor;
  sub->revision = revision;
  g_ptr_array_add (self->subscribers, sub);

  soup_websocket_connection_set_keepalive_interval (connection, self->ping_interval);
  soup_websocket_connection_set_max_incoming_payload_size (connection, PD_LIVE_MAX_INCOMING_PAYLOAD);
  g_signal_connect (connection, "closed", G_CALLBACK (closed_cb), sub);
  g_signal_connect (connection, "message", G_CALLBACK (message_cb), sub);
  g_debug ("Live: device %" G_GINT64_FORMAT " subscribed from event %" G_GINT64_FORMAT, device_id, cursor);

  /* Channel changes first, all at once: a user has few enough channels. */
  channels = pd_store_list_channels (self->store, user_id, revision, &tombstones, &error);
  if (channels == NULL)
    {
      close_with_error (sub, error);
      return;
    }
  for (guint i = 0; i < channels->len; i++)
    send_channel (sub, g_ptr_array_index (channels, i));
  for (guint i = 0; tombstones != NULL && i < tombstones->len; i++)
    send_deleted (sub, g_ptr_array_index (tombstones, i), 0);

  sub->backlog = g_idle_source_new ();
  g_source_set_callback (sub->backlog, backlog_cb, sub, NULL);
  g_source_attach (sub->backlog, self->context);
}

void
pd_live_close_device (PdLive *self,
                      gint64 device_id)
{
  g_return_if_fail (PD_IS_LIVE (self));

  for (guint i = 0; i < self->subscribers->len; i++)
    {
      Subscriber *sub = g_ptr_array_index (self->subscribers, i);

      if (sub->device_id == device_id && !sub->closed && soup_websocket_connection_get_state (sub->connection) == SOUP_WEBSOCKET_STATE_OPEN)
        soup_websocket_connection_close (sub->connection, SOUP_WEBSOCKET_CLOSE_POLICY_VIOLATION,
                                         "device revoked");
    }
}

void
pd_live_close_all (PdLive *self)
{
  g_return_if_fail (PD_IS_LIVE (self));

  for (guint i = 0; i < self->subscribers->len; i++)
    {
      Subscriber *sub = g_ptr_array_index (self->subscribers, i);

      if (!sub->closed && soup_websocket_connection_get_state (sub->connection) == SOUP_WEBSOCKET_STATE_OPEN)
        soup_websocket_connection_close (sub->connection, SOUP_WEBSOCKET_CLOSE_GOING_AWAY, "server stopping");
    }
}

guint
pd_live_get_n_subscribers (PdLive *self)
{
  guint n = 0;

  g_return_val_if_fail (PD_IS_LIVE (self), 0);

  for (guint i = 0; i < self->subscribers->len; i++)
    if (!((Subscriber *)g_ptr_array_index (self->subscribers, i))->closed)
      n++;
  return n;
}
