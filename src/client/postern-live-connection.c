/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "postern-client-error.h"
#include "postern-live-connection.h"

#define STABLE_AFTER_US (60 * G_USEC_PER_SEC) /* a connection this old resets the backoff */

struct _PosternLiveConnection
{
  GObject parent_instance;

  PosternApiClient *client;
  PosternLiveState state;
  gint64 cursor;
  gint64 revision;
  gboolean started;

  SoupMessage *message;
  SoupWebsocketConnection *ws;
  GCancellable *cancellable;

  guint retry_id;
  guint dead_id;
  guint attempt;
  guint min_ms;
  guint max_ms;
  guint keepalive_s;
  guint dead_after_s;
  gint64 connected_at;
  gint64 last_frame_at;

  GNetworkMonitor *monitor;
  gulong monitor_handler;
};

enum
{
  PROP_0,
  PROP_CLIENT,
  PROP_STATE,
  PROP_CURSOR,
  N_PROPS
};

enum
{
  SIGNAL_EVENT,
  SIGNAL_CHANNEL,
  SIGNAL_DELETED,
  SIGNAL_SYNCED,
  SIGNAL_ERROR,
  N_SIGNALS
};

static GParamSpec *properties[N_PROPS];
static guint signals[N_SIGNALS];

G_DEFINE_FINAL_TYPE (PosternLiveConnection, postern_live_connection, G_TYPE_OBJECT)

static void open_socket (PosternLiveConnection *self);

const char *
postern_live_state_to_string (PosternLiveState state)
{
  switch (state)
    {
      case POSTERN_LIVE_STATE_STOPPED:
        return "stopped";
      case POSTERN_LIVE_STATE_CONNECTING:
        return "connecting";
      case POSTERN_LIVE_STATE_CONNECTED:
        return "connected";
      case POSTERN_LIVE_STATE_SYNCED:
        return "synced";
      case POSTERN_LIVE_STATE_WAITING:
        return "waiting";
      case POSTERN_LIVE_STATE_FAILED:
        return "failed";
      default:
        return "invalid";
    }
}

guint
postern_live_backoff_delay (guint attempt,
                            guint min_ms,
                            guint max_ms,
                            double jitter)
{
  double delay = min_ms;

  jitter = CLAMP (jitter, -1.0, 1.0);
  for (guint i = 0; i < attempt && delay < max_ms; i++)
    delay *= 2;
  delay = MIN (delay, (double)max_ms);
  delay *= 1.0 + 0.25 * jitter;
  return (guint)MAX (1.0, delay + 0.5);
}

static void
set_state (PosternLiveConnection *self,
           PosternLiveState state)
{
  if (self->state == state)
    return;

  g_debug ("live: %s → %s", postern_live_state_to_string (self->state),
           postern_live_state_to_string (state));
  self->state = state;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_STATE]);
}

static void
set_cursor (PosternLiveConnection *self,
            gint64 cursor)
{
  if (cursor <= self->cursor)
    return;
  self->cursor = cursor;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_CURSOR]);
}

/* Drops the socket without waiting for a closing handshake. */
static void
drop_socket (PosternLiveConnection *self)
{
  g_clear_handle_id (&self->dead_id, g_source_remove);

  if (self->ws != NULL)
    {
      g_signal_handlers_disconnect_by_data (self->ws, self);
      if (soup_websocket_connection_get_state (self->ws) == SOUP_WEBSOCKET_STATE_OPEN)
        soup_websocket_connection_close (self->ws, SOUP_WEBSOCKET_CLOSE_NORMAL, NULL);
      g_clear_object (&self->ws);
    }
  g_clear_object (&self->message);
}

static gboolean
retry_cb (gpointer user_data)
{
  PosternLiveConnection *self = user_data;

  self->retry_id = 0;
  open_socket (self);
  return G_SOURCE_REMOVE;
}

static void
schedule_retry (PosternLiveConnection *self)
{
  guint delay;

  drop_socket (self);
  if (!self->started)
    return;

  if (self->connected_at != 0 && g_get_monotonic_time () - self->connected_at >= STABLE_AFTER_US)
    self->attempt = 0;
  self->connected_at = 0;

  delay = postern_live_backoff_delay (self->attempt, self->min_ms, self->max_ms,
                                      g_random_double_range (-1.0, 1.0));
  if (self->attempt < 32)
    self->attempt++;

  g_debug ("live: reconnecting in %u ms", delay);
  g_clear_handle_id (&self->retry_id, g_source_remove);
  self->retry_id = g_timeout_add (delay, retry_cb, self);
  set_state (self, POSTERN_LIVE_STATE_WAITING);
}

static void
fail (PosternLiveConnection *self,
      GError *error)
{
  drop_socket (self);
  g_clear_handle_id (&self->retry_id, g_source_remove);
  set_state (self, POSTERN_LIVE_STATE_FAILED);
  g_signal_emit (self, signals[SIGNAL_ERROR], 0, error);
}

/* ---- frames ------------------------------------------------------------------ */

/* A non-negative integer member, else 0. */
static gint64
get_int (JsonObject *object,
         const char *name)
{
  JsonNode *member = json_object_get_member (object, name);

  if (member == NULL || !JSON_NODE_HOLDS_VALUE (member) || json_node_get_value_type (member) != G_TYPE_INT64)
    return 0;
  return MAX (0, json_node_get_int (member));
}

static void
handle_frame (PosternLiveConnection *self,
              GBytes *message)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonNode) root = NULL;
  JsonObject *object;
  const char *type;
  gsize len;
  const char *data = g_bytes_get_data (message, &len);

  root = postern_json_from_string (data, (gssize)len, &error);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    {
      g_debug ("live: skipping an unreadable frame: %s", error != NULL ? error->message : "not an object");
      return;
    }
  object = json_node_get_object (root);
  type = json_object_get_string_member_with_default (object, "type", "");

  if (g_str_equal (type, "event"))
    {
      JsonNode *member = json_object_get_member (object, "event");
      g_autoptr (PosternEvent) event = NULL;

      if (member == NULL || (event = postern_event_new_from_json (member, &error)) == NULL)
        {
          g_debug ("live: skipping an event frame: %s", error != NULL ? error->message : "no event");
          return;
        }
      /* Replayed backlog can overlap what we saw: only newer ids count. */
      if (postern_event_get_id (event) <= self->cursor)
        return;
      set_cursor (self, postern_event_get_id (event));
      g_signal_emit (self, signals[SIGNAL_EVENT], 0, event);
    }
  else if (g_str_equal (type, "channel"))
    {
      JsonNode *member = json_object_get_member (object, "channel");
      g_autoptr (PosternChannel) channel = NULL;

      if (member == NULL || (channel = postern_channel_new_from_json (member, &error)) == NULL)
        {
          g_debug ("live: skipping a channel frame: %s", error != NULL ? error->message : "no channel");
          return;
        }
      /* Changes come in revision order: a reconnect asks for what
       * follows the newest one seen. */
      self->revision = MAX (self->revision, postern_channel_get_revision (channel));
      g_signal_emit (self, signals[SIGNAL_CHANNEL], 0, channel);
    }
  else if (g_str_equal (type, "deleted"))
    {
      const char *id = json_object_get_string_member_with_default (object, "id", NULL);

      if (id == NULL || !postern_uuid_is_valid (id))
        {
          g_debug ("live: skipping a deletion without a channel id");
          return;
        }
      self->revision = MAX (self->revision, get_int (object, "revision"));
      g_signal_emit (self, signals[SIGNAL_DELETED], 0, id);
    }
  else if (g_str_equal (type, "synced"))
    {
      set_cursor (self, get_int (object, "cursor"));
      self->revision = MAX (self->revision, get_int (object, "revision"));
      set_state (self, POSTERN_LIVE_STATE_SYNCED);
      g_signal_emit (self, signals[SIGNAL_SYNCED], 0, self->cursor);
    }
  else
    g_debug ("live: skipping a frame of unknown type");
}

static void
ws_message_cb (SoupWebsocketConnection *ws,
               SoupWebsocketDataType type,
               GBytes *message,
               gpointer user_data)
{
  PosternLiveConnection *self = user_data;

  self->last_frame_at = g_get_monotonic_time ();
  if (type != SOUP_WEBSOCKET_DATA_TEXT)
    return;

  g_object_ref (self);
  handle_frame (self, message);
  g_object_unref (self);
}

static void
ws_pong_cb (SoupWebsocketConnection *ws,
            GBytes *message,
            gpointer user_data)
{
  PosternLiveConnection *self = user_data;

  self->last_frame_at = g_get_monotonic_time ();
}

static void
ws_closed_cb (SoupWebsocketConnection *ws,
              gpointer user_data)
{
  PosternLiveConnection *self = user_data;

  g_debug ("live: closed by the server (code %u)", soup_websocket_connection_get_close_code (ws));
  schedule_retry (self);
}

static void
ws_error_cb (SoupWebsocketConnection *ws,
             GError *error,
             gpointer user_data)
{
  g_debug ("live: socket error: %s", error->message);
  /* "closed" follows. */
}

static gboolean
dead_check_cb (gpointer user_data)
{
  PosternLiveConnection *self = user_data;

  if (g_get_monotonic_time () - self->last_frame_at > (gint64)self->dead_after_s * G_USEC_PER_SEC)
    {
      g_debug ("live: no frame for %u s: reconnecting", self->dead_after_s);
      self->dead_id = 0;
      schedule_retry (self);
      return G_SOURCE_REMOVE;
    }
  return G_SOURCE_CONTINUE;
}

/* ---- connecting -------------------------------------------------------------- */

static void
connect_cb (GObject *source,
            GAsyncResult *result,
            gpointer user_data)
{
  g_autoptr (PosternLiveConnection) self = user_data;
  g_autoptr (GError) error = NULL;
  SoupWebsocketConnection *ws;
  guint status;

  ws = soup_session_websocket_connect_finish (SOUP_SESSION (source), result, &error);
  if (ws == NULL)
    {
      g_autoptr (GError) translated = NULL;

      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        return;

      status = self->message != NULL ? soup_message_get_status (self->message) : 0;
      if (status >= 400)
        translated = postern_client_error_from_problem (status, NULL, NULL);
      else
        translated = postern_api_client_translate_error (self->client, self->message, error);

      if (g_error_matches (translated, POSTERN_CLIENT_ERROR, POSTERN_CLIENT_ERROR_UNTRUSTED) || g_error_matches (translated, POSTERN_CLIENT_ERROR, POSTERN_CLIENT_ERROR_AUTH))
        {
          fail (self, translated);
          return;
        }

      g_signal_emit (self, signals[SIGNAL_ERROR], 0, translated);
      if (self->state == POSTERN_LIVE_STATE_CONNECTING)
        schedule_retry (self);
      return;
    }

  self->ws = ws;
  soup_websocket_connection_set_max_incoming_payload_size (ws, POSTERN_LIVE_MAX_FRAME);
  soup_websocket_connection_set_keepalive_interval (ws, self->keepalive_s);
  g_signal_connect (ws, "message", G_CALLBACK (ws_message_cb), self);
  g_signal_connect (ws, "pong", G_CALLBACK (ws_pong_cb), self);
  g_signal_connect (ws, "closed", G_CALLBACK (ws_closed_cb), self);
  g_signal_connect (ws, "error", G_CALLBACK (ws_error_cb), self);

  self->connected_at = self->last_frame_at = g_get_monotonic_time ();
  self->dead_id = g_timeout_add_seconds (self->keepalive_s, dead_check_cb, self);
  set_state (self, POSTERN_LIVE_STATE_CONNECTED);
}

static void
open_socket (PosternLiveConnection *self)
{
  g_autofree char *path = NULL;

  drop_socket (self);
  g_clear_handle_id (&self->retry_id, g_source_remove);
  if (!self->started)
    return;

  g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  self->cancellable = g_cancellable_new ();

  path = g_strdup_printf ("/api/v1/live?cursor=%" G_GINT64_FORMAT "&revision=%" G_GINT64_FORMAT,
                          self->cursor, self->revision);
  self->message = postern_api_client_new_message (self->client, "GET", path);
  set_state (self, POSTERN_LIVE_STATE_CONNECTING);

  soup_session_websocket_connect_async (postern_api_client_get_session (self->client),
                                        self->message, NULL, NULL, G_PRIORITY_DEFAULT,
                                        self->cancellable, connect_cb, g_object_ref (self));
}

static void
network_changed_cb (GNetworkMonitor *monitor,
                    gboolean available,
                    gpointer user_data)
{
  PosternLiveConnection *self = user_data;

  /* Only a hint: some systems report "unavailable" while loopback or a
   * VPN works, so we never refuse to try; we just try sooner. */
  if (available && self->started && self->state == POSTERN_LIVE_STATE_WAITING)
    {
      self->attempt = 0;
      open_socket (self);
    }
}

/* ---- public API ------------------------------------------------------------ */

PosternLiveConnection *
postern_live_connection_new (PosternApiClient *client)
{
  g_return_val_if_fail (POSTERN_IS_API_CLIENT (client), NULL);
  return g_object_new (POSTERN_TYPE_LIVE_CONNECTION, "client", client, NULL);
}

void
postern_live_connection_start (PosternLiveConnection *self,
                               gint64 cursor)
{
  g_return_if_fail (POSTERN_IS_LIVE_CONNECTION (self));

  self->started = TRUE;
  self->attempt = 0;
  if (cursor != self->cursor)
    {
      self->cursor = MAX (cursor, 0);
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_CURSOR]);
    }
  open_socket (self);
}

void
postern_live_connection_stop (PosternLiveConnection *self)
{
  g_return_if_fail (POSTERN_IS_LIVE_CONNECTION (self));

  self->started = FALSE;
  g_cancellable_cancel (self->cancellable);
  g_clear_handle_id (&self->retry_id, g_source_remove);
  drop_socket (self);
  set_state (self, POSTERN_LIVE_STATE_STOPPED);
}

void
postern_live_connection_reconnect_now (PosternLiveConnection *self)
{
  g_return_if_fail (POSTERN_IS_LIVE_CONNECTION (self));

  if (!self->started)
    return;
  if (self->state == POSTERN_LIVE_STATE_WAITING || self->state == POSTERN_LIVE_STATE_FAILED)
    {
      self->attempt = 0;
      open_socket (self);
    }
}

PosternLiveState
postern_live_connection_get_state (PosternLiveConnection *self)
{
  g_return_val_if_fail (POSTERN_IS_LIVE_CONNECTION (self), POSTERN_LIVE_STATE_STOPPED);
  return self->state;
}

gint64
postern_live_connection_get_cursor (PosternLiveConnection *self)
{
  g_return_val_if_fail (POSTERN_IS_LIVE_CONNECTION (self), 0);
  return self->cursor;
}

void
postern_live_connection_set_backoff (PosternLiveConnection *self,
                                     guint min_ms,
                                     guint max_ms)
{
  g_return_if_fail (POSTERN_IS_LIVE_CONNECTION (self));
  g_return_if_fail (min_ms > 0 && min_ms <= max_ms);

  self->min_ms = min_ms;
  self->max_ms = max_ms;
}

void
postern_live_connection_set_revision (PosternLiveConnection *self,
                                      gint64 revision)
{
  g_return_if_fail (POSTERN_IS_LIVE_CONNECTION (self));

  self->revision = MAX (self->revision, revision);
}

gint64
postern_live_connection_get_revision (PosternLiveConnection *self)
{
  g_return_val_if_fail (POSTERN_IS_LIVE_CONNECTION (self), 0);
  return self->revision;
}

void
postern_live_connection_set_keepalive (PosternLiveConnection *self,
                                       guint interval_s,
                                       guint dead_after_s)
{
  g_return_if_fail (POSTERN_IS_LIVE_CONNECTION (self));
  g_return_if_fail (interval_s > 0 && interval_s < dead_after_s);

  self->keepalive_s = interval_s;
  self->dead_after_s = dead_after_s;
}

/* ---- GObject ------------------------------------------------------------ */

static void
postern_live_connection_constructed (GObject *object)
{
  PosternLiveConnection *self = POSTERN_LIVE_CONNECTION (object);

  G_OBJECT_CLASS (postern_live_connection_parent_class)->constructed (object);

  self->monitor = g_object_ref (g_network_monitor_get_default ());
  self->monitor_handler = g_signal_connect (self->monitor, "network-changed",
                                            G_CALLBACK (network_changed_cb), self);
}

static void
postern_live_connection_dispose (GObject *object)
{
  PosternLiveConnection *self = POSTERN_LIVE_CONNECTION (object);

  self->started = FALSE;
  g_cancellable_cancel (self->cancellable);
  g_clear_handle_id (&self->retry_id, g_source_remove);
  drop_socket (self);
  g_clear_signal_handler (&self->monitor_handler, self->monitor);
  g_clear_object (&self->monitor);
  g_clear_object (&self->client);

  G_OBJECT_CLASS (postern_live_connection_parent_class)->dispose (object);
}

static void
postern_live_connection_finalize (GObject *object)
{
  PosternLiveConnection *self = POSTERN_LIVE_CONNECTION (object);

  g_clear_object (&self->cancellable);

  G_OBJECT_CLASS (postern_live_connection_parent_class)->finalize (object);
}

static void
postern_live_connection_get_property (GObject *object,
                                      guint prop_id,
                                      GValue *value,
                                      GParamSpec *pspec)
{
  PosternLiveConnection *self = POSTERN_LIVE_CONNECTION (object);

  switch (prop_id)
    {
      case PROP_CLIENT:
        g_value_set_object (value, self->client);
        break;
      case PROP_STATE:
        g_value_set_int (value, self->state);
        break;
      case PROP_CURSOR:
        g_value_set_int64 (value, self->cursor);
        break;
      default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
postern_live_connection_set_property (GObject *object,
                                      guint prop_id,
                                      const GValue *value,
                                      GParamSpec *pspec)
{
  PosternLiveConnection *self = POSTERN_LIVE_CONNECTION (object);

  switch (prop_id)
    {
      case PROP_CLIENT:
        self->client = g_value_dup_object (value);
        break;
      case PROP_CURSOR:
        if (self->cursor != g_value_get_int64 (value))
          {
            self->cursor = g_value_get_int64 (value);
            g_object_notify_by_pspec (object, pspec);
          }
        break;
      default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
postern_live_connection_class_init (PosternLiveConnectionClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->constructed = postern_live_connection_constructed;
  object_class->dispose = postern_live_connection_dispose;
  object_class->finalize = postern_live_connection_finalize;
  object_class->get_property = postern_live_connection_get_property;
  object_class->set_property = postern_live_connection_set_property;

  properties[PROP_CLIENT] = g_param_spec_object ("client", NULL, NULL, POSTERN_TYPE_API_CLIENT,
                                                 G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  properties[PROP_STATE] = g_param_spec_int ("state", NULL, NULL,
                                             POSTERN_LIVE_STATE_STOPPED, POSTERN_LIVE_STATE_FAILED,
                                             POSTERN_LIVE_STATE_STOPPED,
                                             G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_CURSOR] = g_param_spec_int64 ("cursor", NULL, NULL, 0, G_MAXINT64, 0,
                                                G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  signals[SIGNAL_EVENT] = g_signal_new ("event", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                                        NULL, NULL, NULL, G_TYPE_NONE, 1, POSTERN_TYPE_EVENT);
  signals[SIGNAL_CHANNEL] = g_signal_new ("channel", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                                          NULL, NULL, NULL, G_TYPE_NONE, 1, POSTERN_TYPE_CHANNEL);
  signals[SIGNAL_DELETED] = g_signal_new ("deleted", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                                          NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_STRING);
  signals[SIGNAL_SYNCED] = g_signal_new ("synced", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                                         NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_INT64);
  signals[SIGNAL_ERROR] = g_signal_new ("error", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                                        NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_ERROR);
}

static void
postern_live_connection_init (PosternLiveConnection *self)
{
  self->min_ms = POSTERN_LIVE_BACKOFF_MIN_MS;
  self->keepalive_s = POSTERN_LIVE_KEEPALIVE_INTERVAL;
  self->dead_after_s = POSTERN_LIVE_DEAD_AFTER;
  self->max_ms = POSTERN_LIVE_BACKOFF_MAX_MS;
}
