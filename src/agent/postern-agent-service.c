/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <glib/gi18n.h>

#include "postern-agent-error.h"
#include "postern-agent-service.h"

/* Caps on what one caller may ask for in one call. */
#define LIST_EVENTS_MAX_LIMIT 10000
#define MAX_DEVICE_NAME       200 /* characters */

struct _PosternAgentService
{
  PosternDBusAgent1Skeleton parent_instance;

  PosternSyncEngine *engine;
  /* Invocations that arrived before the engine was ready, oldest first. */
  GQueue waiting;
  gboolean ready;
};

static void postern_agent_service_iface_init (PosternDBusAgent1Iface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (PosternAgentService, postern_agent_service, POSTERN_DBUS_TYPE_AGENT1_SKELETON, G_IMPLEMENT_INTERFACE (POSTERN_DBUS_TYPE_AGENT1, postern_agent_service_iface_init))

enum
{
  PROP_0,
  PROP_ENGINE,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

/* ---- helpers -------------------------------------------------------------- */

/* One method call waiting on an asynchronous operation: it owns the
 * invocation until the callback completes it (completing consumes it). */
typedef struct _PassThrough PassThrough;

typedef struct
{
  PosternAgentService *self;
  GDBusMethodInvocation *invocation;
  const PassThrough *method; /* for the calls passed through to the server */
} Call;

static Call *
call_new (PosternAgentService *self,
          GDBusMethodInvocation *invocation)
{
  Call *call = g_new0 (Call, 1);

  call->self = g_object_ref (self);
  call->invocation = invocation;
  return call;
}

static void
call_free (Call *call)
{
  g_clear_object (&call->self);
  g_clear_object (&call->invocation);
  g_free (call);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Call, call_free)

static void
return_error (GDBusMethodInvocation *invocation,
              const GError *error)
{
  g_autoptr (GError) mapped = postern_agent_error_from_error (error);

  g_dbus_method_invocation_return_gerror (invocation, mapped);
}

static void
return_new_error (GDBusMethodInvocation *invocation,
                  PosternAgentError code,
                  const char *message)
{
  g_dbus_method_invocation_return_error_literal (invocation, POSTERN_AGENT_ERROR, code, message);
}

/* Parks @invocation until the engine is ready; TRUE when parked. */
static gboolean
wait_until_ready (PosternAgentService *self,
                  GDBusMethodInvocation *invocation)
{
  if (self->ready)
    return FALSE;
  /* The queue takes over the reference the handler was given. */
  g_queue_push_tail (&self->waiting, invocation);
  return TRUE;
}

static char *
node_to_string (JsonNode *node)
{
  return postern_json_to_string (node, FALSE);
}

/* What the app reads beside the wire form (docs/app.md): which channels
 * have changes waiting for the server, when mail last came, and how many
 * of its alerts are unread. Built once per answer, not per channel. */
typedef struct
{
  GHashTable *pending;       /* channel id → NULL */
  GHashTable *last_activity; /* channel id → gint64 * (unix seconds) */
  GHashTable *unread;        /* channel id → GUINT_TO_POINTER (unread alerts) */
} Extras;

static void
extras_count_unread (Extras *extras,
                     PosternSyncEngine *engine,
                     PosternEvent *event)
{
  const char *channel_id = postern_event_get_channel_id (event);
  guint count;

  if (channel_id == NULL || !postern_sync_engine_is_alert_unread (engine, postern_event_get_id (event)))
    return;
  count = GPOINTER_TO_UINT (g_hash_table_lookup (extras->unread, channel_id));
  g_hash_table_insert (extras->unread, g_strdup (channel_id), GUINT_TO_POINTER (count + 1));
}

static void
extras_init (Extras *extras,
             PosternSyncEngine *engine)
{
  g_autoptr (GPtrArray) pending = postern_sync_engine_dup_pending (engine);
  g_autoptr (GPtrArray) events = postern_sync_engine_list_events (engine, NULL, 0);

  extras->pending = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  extras->last_activity = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  extras->unread = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  for (guint i = 0; i < pending->len; i++)
    {
      PosternMutation *mutation = g_ptr_array_index (pending, i);

      if (mutation->channel_id != NULL)
        g_hash_table_add (extras->pending, g_strdup (mutation->channel_id));
    }
  /* Newest first: the first event seen per channel is its last activity. */
  for (guint i = 0; i < events->len; i++)
    {
      PosternEvent *event = g_ptr_array_index (events, i);
      const char *channel_id = postern_event_get_channel_id (event);

      extras_count_unread (extras, engine, event);
      if (channel_id != NULL && !g_hash_table_contains (extras->last_activity, channel_id))
        {
          gint64 *when = g_new (gint64, 1);

          *when = postern_event_get_received_at (event);
          g_hash_table_insert (extras->last_activity, g_strdup (channel_id), when);
        }
    }
}

static void
extras_clear (Extras *extras)
{
  g_clear_pointer (&extras->pending, g_hash_table_unref);
  g_clear_pointer (&extras->last_activity, g_hash_table_unref);
  g_clear_pointer (&extras->unread, g_hash_table_unref);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Extras, extras_clear)

static JsonNode *
channel_to_node (PosternChannel *channel,
                 Extras *extras)
{
  JsonNode *node = postern_channel_to_json (channel);
  JsonObject *object = json_node_get_object (node);
  const char *id = postern_channel_get_id (channel);
  gint64 *last = g_hash_table_lookup (extras->last_activity, id);

  json_object_set_boolean_member (object, "pending", g_hash_table_contains (extras->pending, id));
  json_object_set_int_member (object, "unread_alerts", GPOINTER_TO_UINT (g_hash_table_lookup (extras->unread, id)));
  if (last != NULL)
    {
      g_autofree char *text = postern_json_format_time (*last);

      json_object_set_string_member (object, "last_activity_at", text);
    }
  else
    json_object_set_null_member (object, "last_activity_at");
  return node;
}

/* One channel (a reply or a signal): the same members, looked up for
 * this channel only. */
static char *
channel_to_string_with (PosternChannel *channel,
                        PosternSyncEngine *engine)
{
  g_autoptr (GPtrArray) pending = postern_sync_engine_dup_pending (engine);
  const char *id = postern_channel_get_id (channel);
  g_autoptr (GPtrArray) events = postern_sync_engine_list_events (engine, id, 0);
  g_auto (Extras) extras = {
    0,
  };
  g_autoptr (JsonNode) node = NULL;

  extras.pending = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  extras.last_activity = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  extras.unread = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  for (guint i = 0; i < pending->len; i++)
    {
      PosternMutation *mutation = g_ptr_array_index (pending, i);

      if (g_strcmp0 (mutation->channel_id, id) == 0)
        {
          g_hash_table_add (extras.pending, g_strdup (id));
          break;
        }
    }
  if (events->len > 0)
    {
      gint64 *when = g_new (gint64, 1);

      *when = postern_event_get_received_at (g_ptr_array_index (events, 0));
      g_hash_table_insert (extras.last_activity, g_strdup (id), when);
    }
  for (guint i = 0; i < events->len; i++)
    extras_count_unread (&extras, engine, g_ptr_array_index (events, i));
  node = channel_to_node (channel, &extras);
  return node_to_string (node);
}

static char *
event_to_string (PosternEvent *event)
{
  g_autoptr (JsonNode) node = postern_event_to_json (event);

  return node_to_string (node);
}

static PosternChannel *
lookup_channel (PosternAgentService *self,
                GDBusMethodInvocation *invocation,
                const char *id)
{
  PosternChannel *channel = postern_sync_engine_lookup_channel (self->engine, id);

  if (channel == NULL)
    return_new_error (invocation, POSTERN_AGENT_ERROR_NOT_FOUND, _ ("channel not found"));
  return channel;
}

static gboolean
require_paired (PosternAgentService *self,
                GDBusMethodInvocation *invocation)
{
  if (postern_sync_engine_get_paired (self->engine))
    return TRUE;
  return_new_error (invocation, POSTERN_AGENT_ERROR_NOT_PAIRED,
                    _ ("not paired with a server: run “posternctl pair” with the URI that “posternd pair” prints"));
  return FALSE;
}

GVariant *
postern_agent_service_build_status (PosternSyncEngine *engine)
{
  g_auto (GVariantBuilder) builder = G_VARIANT_BUILDER_INIT (G_VARIANT_TYPE_VARDICT);
  PosternSyncStatus status = postern_sync_engine_get_status (engine);
  const char *const *domains = postern_sync_engine_get_domains (engine);
  const char *const no_domains[] = { NULL };

  g_return_val_if_fail (POSTERN_IS_SYNC_ENGINE (engine), NULL);

#define DUP_OR_EMPTY(s) ((s) != NULL ? (s) : "")
  g_variant_builder_add (&builder, "{sv}", "paired", g_variant_new_boolean (postern_sync_engine_get_paired (engine)));
  g_variant_builder_add (&builder, "{sv}", "server", g_variant_new_string (DUP_OR_EMPTY (postern_sync_engine_get_server (engine))));
  g_variant_builder_add (&builder, "{sv}", "user", g_variant_new_string (DUP_OR_EMPTY (postern_sync_engine_get_user (engine))));
  g_variant_builder_add (&builder, "{sv}", "online", g_variant_new_boolean (status == POSTERN_SYNC_STATUS_ONLINE));
  g_variant_builder_add (&builder, "{sv}", "connection", g_variant_new_string (postern_sync_status_to_string (status)));
  g_variant_builder_add (&builder, "{sv}", "fingerprint", g_variant_new_string (DUP_OR_EMPTY (postern_sync_engine_get_fingerprint (engine))));
  g_variant_builder_add (&builder, "{sv}", "pending", g_variant_new_uint32 (postern_sync_engine_get_pending_count (engine)));
  g_variant_builder_add (&builder, "{sv}", "unread_alerts", g_variant_new_uint32 (postern_sync_engine_get_unread_alerts (engine)));
  g_variant_builder_add (&builder, "{sv}", "domains", g_variant_new_strv (domains != NULL ? domains : no_domains, -1));
  g_variant_builder_add (&builder, "{sv}", "last_sync", g_variant_new_int64 (postern_sync_engine_get_last_sync (engine)));
  g_variant_builder_add (&builder, "{sv}", "message", g_variant_new_string (DUP_OR_EMPTY (postern_sync_engine_get_status_message (engine))));
#undef DUP_OR_EMPTY

  return g_variant_builder_end (&builder);
}

/* ---- account -------------------------------------------------------------- */

static gboolean
handle_get_status (PosternDBusAgent1 *object,
                   GDBusMethodInvocation *invocation)
{
  PosternAgentService *self = POSTERN_AGENT_SERVICE (object);

  if (wait_until_ready (self, invocation))
    return TRUE;
  postern_dbus_agent1_complete_get_status (object, invocation, postern_agent_service_build_status (self->engine));
  return TRUE;
}

static void
probe_cb (GObject *source,
          GAsyncResult *result,
          gpointer user_data)
{
  g_autoptr (Call) call = user_data;
  GDBusMethodInvocation *invocation = g_steal_pointer (&call->invocation);
  g_autoptr (GError) error = NULL;
  g_autofree char *fingerprint = postern_api_client_probe_finish (result, &error);

  if (fingerprint == NULL)
    {
      return_error (invocation, error);
      return;
    }
  postern_dbus_agent1_complete_probe_server (POSTERN_DBUS_AGENT1 (call->self), invocation, fingerprint);
}

static gboolean
handle_probe_server (PosternDBusAgent1 *object,
                     GDBusMethodInvocation *invocation,
                     const char *url)
{
  PosternAgentService *self = POSTERN_AGENT_SERVICE (object);

  if (wait_until_ready (self, invocation))
    return TRUE;
  postern_api_client_probe_async (url, NULL, probe_cb, call_new (self, invocation));
  return TRUE;
}

static void
pair_cb (GObject *source,
         GAsyncResult *result,
         gpointer user_data)
{
  PosternSyncEngine *engine = POSTERN_SYNC_ENGINE (source);
  g_autoptr (Call) call = user_data;
  GDBusMethodInvocation *invocation = g_steal_pointer (&call->invocation);
  g_autoptr (GError) error = NULL;

  if (!postern_sync_engine_pair_finish (engine, result, &error))
    {
      g_message ("Pairing failed: %s", error->message);
      return_error (invocation, error);
      return;
    }
  g_message ("Paired with %s as %s", postern_sync_engine_get_server (engine), postern_sync_engine_get_user (engine));
  postern_dbus_agent1_complete_pair (POSTERN_DBUS_AGENT1 (call->self), invocation, postern_agent_service_build_status (engine));
}

static gboolean
handle_pair (PosternDBusAgent1 *object,
             GDBusMethodInvocation *invocation,
             const char *uri_or_url,
             const char *code,
             const char *fingerprint,
             const char *device_name)
{
  PosternAgentService *self = POSTERN_AGENT_SERVICE (object);

  if (wait_until_ready (self, invocation))
    return TRUE;
  if (g_utf8_strlen (device_name, -1) > MAX_DEVICE_NAME)
    {
      return_new_error (invocation, POSTERN_AGENT_ERROR_INVALID, _ ("the device name is too long"));
      return TRUE;
    }
  postern_sync_engine_pair_async (self->engine, uri_or_url,
                                  *code ? code : NULL,
                                  *fingerprint ? fingerprint : NULL,
                                  *device_name ? device_name : g_get_host_name (),
                                  NULL, pair_cb, call_new (self, invocation));
  return TRUE;
}

static void
unpair_cb (GObject *source,
           GAsyncResult *result,
           gpointer user_data)
{
  g_autoptr (Call) call = user_data;
  GDBusMethodInvocation *invocation = g_steal_pointer (&call->invocation);
  g_autoptr (GError) error = NULL;

  if (!postern_sync_engine_unpair_finish (POSTERN_SYNC_ENGINE (source), result, &error))
    {
      return_error (invocation, error);
      return;
    }
  postern_dbus_agent1_complete_unpair (POSTERN_DBUS_AGENT1 (call->self), invocation);
}

static gboolean
handle_unpair (PosternDBusAgent1 *object,
               GDBusMethodInvocation *invocation)
{
  PosternAgentService *self = POSTERN_AGENT_SERVICE (object);

  if (wait_until_ready (self, invocation))
    return TRUE;
  postern_sync_engine_unpair_async (self->engine, NULL, unpair_cb, call_new (self, invocation));
  return TRUE;
}

static gboolean
handle_sync_now (PosternDBusAgent1 *object,
                 GDBusMethodInvocation *invocation)
{
  PosternAgentService *self = POSTERN_AGENT_SERVICE (object);

  if (wait_until_ready (self, invocation))
    return TRUE;
  if (!require_paired (self, invocation))
    return TRUE;
  postern_sync_engine_sync_now (self->engine);
  postern_dbus_agent1_complete_sync_now (object, invocation);
  return TRUE;
}

/* ---- channels ------------------------------------------------------------- */

static gboolean
handle_list_channels (PosternDBusAgent1 *object,
                      GDBusMethodInvocation *invocation)
{
  PosternAgentService *self = POSTERN_AGENT_SERVICE (object);
  g_auto (Extras) extras = {
    0,
  };
  GListModel *channels;
  g_autoptr (JsonArray) array = NULL;
  g_autoptr (JsonNode) node = NULL;
  g_autofree char *text = NULL;
  guint n;

  if (wait_until_ready (self, invocation))
    return TRUE;

  /* Unpaired is not an error here: the list is simply empty. */
  channels = postern_sync_engine_get_channels (self->engine);
  n = g_list_model_get_n_items (channels);
  array = json_array_sized_new (n);
  extras_init (&extras, self->engine);
  for (guint i = 0; i < n; i++)
    {
      g_autoptr (PosternChannel) channel = g_list_model_get_item (channels, i);

      json_array_add_element (array, channel_to_node (channel, &extras));
    }
  node = json_node_init_array (json_node_alloc (), array);
  text = node_to_string (node);
  postern_dbus_agent1_complete_list_channels (object, invocation, text);
  return TRUE;
}

static gboolean
handle_get_channel (PosternDBusAgent1 *object,
                    GDBusMethodInvocation *invocation,
                    const char *id)
{
  PosternAgentService *self = POSTERN_AGENT_SERVICE (object);
  g_autofree char *text = NULL;
  PosternChannel *channel;

  if (wait_until_ready (self, invocation))
    return TRUE;
  if ((channel = lookup_channel (self, invocation, id)) == NULL)
    return TRUE;
  text = channel_to_string_with (channel, self->engine);
  postern_dbus_agent1_complete_get_channel (object, invocation, text);
  return TRUE;
}

static gboolean
option_string (GVariant *value,
               const char *key,
               const char **out,
               GError **error)
{
  if (!g_variant_is_of_type (value, G_VARIANT_TYPE_STRING))
    {
      g_set_error (error, POSTERN_AGENT_ERROR, POSTERN_AGENT_ERROR_INVALID,
                   _ ("%s: expected a string"), key);
      return FALSE;
    }
  *out = g_variant_get_string (value, NULL);
  return TRUE;
}

static gboolean
option_time (GVariant *value,
             const char *key,
             gint64 *out,
             GError **error)
{
  if (!g_variant_is_of_type (value, G_VARIANT_TYPE_INT64) || g_variant_get_int64 (value) < 0)
    {
      g_set_error (error, POSTERN_AGENT_ERROR, POSTERN_AGENT_ERROR_INVALID,
                   _ ("%s: expected unix seconds (x), 0 for never"), key);
      return FALSE;
    }
  *out = g_variant_get_int64 (value);
  return TRUE;
}

/* Builds the template of a new channel from CreateChannel's options. Unknown
 * keys are refused so that a typo in a caller is found at once. */
static PosternChannel *
template_from_options (GVariant *options,
                       PosternAddressStyle *out_style,
                       GError **error)
{
  g_autoptr (PosternChannel) channel = postern_channel_new ();
  GVariantIter iter;
  const char *key;
  GVariant *raw;

  *out_style = POSTERN_ADDRESS_STYLE_RANDOM;
  g_variant_iter_init (&iter, options);
  while (g_variant_iter_loop (&iter, "{&sv}", &key, &raw))
    {
      const char *text = NULL;
      gint64 seconds = 0;
      gboolean ok;

      if (g_str_equal (key, "expires_at"))
        {
          ok = option_time (raw, key, &seconds, error);
          if (ok)
            postern_channel_set_expires_at (channel, seconds);
        }
      else if (!option_string (raw, key, &text, error))
        ok = FALSE;
      else if (g_str_equal (key, "label"))
        ok = postern_channel_set_label (channel, text, error);
      else if (g_str_equal (key, "note"))
        ok = postern_channel_set_note (channel, text, error);
      else if (g_str_equal (key, "kind"))
        {
          PosternChannelKind kind;

          ok = postern_channel_kind_from_string (text, &kind, error);
          if (ok)
            postern_channel_set_kind (channel, kind);
        }
      else if (g_str_equal (key, "on_unexpected"))
        {
          PosternUnexpectedPolicy policy;

          ok = postern_unexpected_policy_from_string (text, &policy, error);
          if (ok)
            postern_channel_set_on_unexpected (channel, policy);
        }
      else if (g_str_equal (key, "style"))
        ok = postern_address_style_from_string (text, out_style, error);
      else if (g_str_equal (key, "expected_sender"))
        {
          g_autoptr (PosternSenderPattern) pattern = NULL;

          ok = *text == '\0' || ((pattern = postern_sender_pattern_parse (text, error)) != NULL && postern_channel_add_expected_sender (channel, pattern, error));
        }
      else
        {
          g_set_error (error, POSTERN_AGENT_ERROR, POSTERN_AGENT_ERROR_INVALID,
                       _ ("unknown option “%s”"), key);
          ok = FALSE;
        }

      if (!ok)
        {
          /* g_variant_iter_loop owns @key and @raw until the next turn. */
          g_variant_unref (raw);
          return NULL;
        }
    }

  return g_steal_pointer (&channel);
}

static gboolean
handle_create_channel (PosternDBusAgent1 *object,
                       GDBusMethodInvocation *invocation,
                       GVariant *options)
{
  PosternAgentService *self = POSTERN_AGENT_SERVICE (object);
  g_autoptr (PosternChannel) template_ = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *text = NULL;
  PosternAddressStyle style;
  PosternChannel *channel;

  if (wait_until_ready (self, invocation))
    return TRUE;
  if (!require_paired (self, invocation))
    return TRUE;
  if ((template_ = template_from_options (options, &style, &error)) == NULL)
    {
      return_error (invocation, error);
      return TRUE;
    }
  if ((channel = postern_sync_engine_create_channel (self->engine, template_, style, &error)) == NULL)
    {
      return_error (invocation, error);
      return TRUE;
    }
  text = channel_to_string_with (channel, self->engine);
  postern_dbus_agent1_complete_create_channel (object, invocation, text);
  return TRUE;
}

static gboolean
handle_update_channel (PosternDBusAgent1 *object,
                       GDBusMethodInvocation *invocation,
                       const char *id,
                       GVariant *changes)
{
  static const char *const string_members[] = {
    "label", "note", "on_unexpected", "farewell", "farewell_text", NULL
  };
  PosternAgentService *self = POSTERN_AGENT_SERVICE (object);
  g_autoptr (JsonObject) patch = json_object_new ();
  g_autoptr (GError) error = NULL;
  g_autofree char *text = NULL;
  PosternChannel *channel;
  GVariantIter iter;
  const char *key;
  GVariant *raw;

  if (wait_until_ready (self, invocation))
    return TRUE;
  if (!require_paired (self, invocation))
    return TRUE;
  if (lookup_channel (self, invocation, id) == NULL)
    return TRUE;

  g_variant_iter_init (&iter, changes);
  while (g_variant_iter_loop (&iter, "{&sv}", &key, &raw))
    {
      g_autofree char *time_text = NULL;
      const char *value = NULL;
      gint64 seconds = 0;

      if (g_str_equal (key, "expires_at") && option_time (raw, key, &seconds, &error))
        {
          if (seconds == 0)
            json_object_set_null_member (patch, key);
          else
            json_object_set_string_member (patch, key, time_text = postern_json_format_time (seconds));
        }
      else if (error == NULL && g_strv_contains (string_members, key) && option_string (raw, key, &value, &error))
        json_object_set_string_member (patch, key, value);
      else if (error == NULL)
        g_set_error (&error, POSTERN_AGENT_ERROR, POSTERN_AGENT_ERROR_INVALID,
                     _ ("“%s” cannot be changed"), key);

      if (error != NULL)
        {
          g_variant_unref (raw);
          return_error (invocation, error);
          return TRUE;
        }
    }

  if (!postern_sync_engine_update_channel (self->engine, id, patch, &error))
    {
      return_error (invocation, error);
      return TRUE;
    }
  channel = postern_sync_engine_lookup_channel (self->engine, id);
  text = channel_to_string_with (channel, self->engine);
  postern_dbus_agent1_complete_update_channel (object, invocation, text);
  return TRUE;
}

typedef gboolean (*StateFunc) (PosternSyncEngine *engine,
                               const char *channel_id,
                               GError **error);

/* Revoke, pause and resume: local at once, queued for the server. */
static gboolean
change_state (PosternAgentService *self,
              GDBusMethodInvocation *invocation,
              const char *id,
              StateFunc func)
{
  g_autoptr (GError) error = NULL;

  if (wait_until_ready (self, invocation))
    return FALSE;
  if (!require_paired (self, invocation))
    return FALSE;
  if (lookup_channel (self, invocation, id) == NULL)
    return FALSE;
  if (!func (self->engine, id, &error))
    {
      return_error (invocation, error);
      return FALSE;
    }
  return TRUE;
}

static gboolean
handle_revoke (PosternDBusAgent1 *object,
               GDBusMethodInvocation *invocation,
               const char *id)
{
  if (change_state (POSTERN_AGENT_SERVICE (object), invocation, id, postern_sync_engine_revoke))
    postern_dbus_agent1_complete_revoke (object, invocation);
  return TRUE;
}

static gboolean
handle_pause (PosternDBusAgent1 *object,
              GDBusMethodInvocation *invocation,
              const char *id)
{
  if (change_state (POSTERN_AGENT_SERVICE (object), invocation, id, postern_sync_engine_pause))
    postern_dbus_agent1_complete_pause (object, invocation);
  return TRUE;
}

static gboolean
handle_resume (PosternDBusAgent1 *object,
               GDBusMethodInvocation *invocation,
               const char *id)
{
  if (change_state (POSTERN_AGENT_SERVICE (object), invocation, id, postern_sync_engine_resume))
    postern_dbus_agent1_complete_resume (object, invocation);
  return TRUE;
}

typedef gboolean (*SenderFunc) (PosternSyncEngine *engine,
                                const char *channel_id,
                                const char *pattern,
                                GError **error);

static gboolean
change_sender (PosternAgentService *self,
               GDBusMethodInvocation *invocation,
               const char *id,
               const char *pattern,
               SenderFunc func)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PosternSenderPattern) parsed = NULL;

  if (wait_until_ready (self, invocation))
    return FALSE;
  if (!require_paired (self, invocation))
    return FALSE;
  if (lookup_channel (self, invocation, id) == NULL)
    return FALSE;
  if ((parsed = postern_sender_pattern_parse (pattern, &error)) == NULL || !func (self->engine, id, pattern, &error))
    {
      return_error (invocation, error);
      return FALSE;
    }
  return TRUE;
}

static gboolean
handle_trust_sender (PosternDBusAgent1 *object,
                     GDBusMethodInvocation *invocation,
                     const char *id,
                     const char *pattern)
{
  if (change_sender (POSTERN_AGENT_SERVICE (object), invocation, id, pattern, postern_sync_engine_trust_sender))
    postern_dbus_agent1_complete_trust_sender (object, invocation);
  return TRUE;
}

static gboolean
handle_untrust_sender (PosternDBusAgent1 *object,
                       GDBusMethodInvocation *invocation,
                       const char *id,
                       const char *pattern)
{
  if (change_sender (POSTERN_AGENT_SERVICE (object), invocation, id, pattern, postern_sync_engine_untrust_sender))
    postern_dbus_agent1_complete_untrust_sender (object, invocation);
  return TRUE;
}

static gboolean
handle_block (PosternDBusAgent1 *object,
              GDBusMethodInvocation *invocation,
              const char *pattern,
              const char *channel_id)
{
  PosternAgentService *self = POSTERN_AGENT_SERVICE (object);
  g_autoptr (GError) error = NULL;
  g_autoptr (PosternSenderPattern) parsed = NULL;

  if (wait_until_ready (self, invocation))
    return TRUE;
  if (!require_paired (self, invocation))
    return TRUE;
  if (*channel_id != '\0' && lookup_channel (self, invocation, channel_id) == NULL)
    return TRUE;
  if ((parsed = postern_sender_pattern_parse (pattern, &error)) == NULL || !postern_sync_engine_block (self->engine, pattern, *channel_id ? channel_id : NULL, &error))
    {
      return_error (invocation, error);
      return TRUE;
    }
  postern_dbus_agent1_complete_block (object, invocation);
  return TRUE;
}

static gboolean
handle_record_share (PosternDBusAgent1 *object,
                     GDBusMethodInvocation *invocation,
                     const char *id,
                     const char *method,
                     const char *recipient)
{
  PosternAgentService *self = POSTERN_AGENT_SERVICE (object);
  g_autoptr (GError) error = NULL;
  PosternShareMethod share;

  if (wait_until_ready (self, invocation))
    return TRUE;
  if (!require_paired (self, invocation))
    return TRUE;
  if (lookup_channel (self, invocation, id) == NULL)
    return TRUE;
  if (!postern_share_method_from_string (method, &share, &error) || !postern_sync_engine_record_share (self->engine, id, share, *recipient ? recipient : NULL, &error))
    {
      return_error (invocation, error);
      return TRUE;
    }
  postern_dbus_agent1_complete_record_share (object, invocation);
  return TRUE;
}

/* ---- events, held mail, queue -------------------------------------------- */

static gboolean
handle_list_events (PosternDBusAgent1 *object,
                    GDBusMethodInvocation *invocation,
                    const char *channel_id,
                    guint limit)
{
  PosternAgentService *self = POSTERN_AGENT_SERVICE (object);
  g_autoptr (GPtrArray) events = NULL;
  g_autoptr (JsonArray) array = NULL;
  g_autoptr (JsonNode) node = NULL;
  g_autofree char *text = NULL;

  if (wait_until_ready (self, invocation))
    return TRUE;
  if (*channel_id != '\0' && lookup_channel (self, invocation, channel_id) == NULL)
    return TRUE;

  if (limit == 0 || limit > LIST_EVENTS_MAX_LIMIT)
    limit = LIST_EVENTS_MAX_LIMIT;
  events = postern_sync_engine_list_events (self->engine, *channel_id ? channel_id : NULL, limit);
  array = json_array_sized_new (events->len);
  for (guint i = 0; i < events->len; i++)
    json_array_add_element (array, postern_event_to_json (g_ptr_array_index (events, i)));
  node = json_node_init_array (json_node_alloc (), array);
  text = node_to_string (node);
  postern_dbus_agent1_complete_list_events (object, invocation, text);
  return TRUE;
}

static gboolean
handle_mark_alerts_read (PosternDBusAgent1 *object,
                         GDBusMethodInvocation *invocation,
                         const char *channel_id)
{
  PosternAgentService *self = POSTERN_AGENT_SERVICE (object);
  PosternChannel *channel;

  if (wait_until_ready (self, invocation))
    return TRUE;
  postern_sync_engine_mark_alerts_read (self->engine, *channel_id ? channel_id : NULL);
  postern_dbus_agent1_complete_mark_alerts_read (object, invocation);
  /* The channel's unread_alerts went to 0: tell every window. */
  channel = postern_sync_engine_lookup_channel (self->engine, channel_id);
  if (channel != NULL)
    {
      g_autofree char *text = channel_to_string_with (channel, self->engine);

      postern_dbus_agent1_emit_channel_changed (object, text);
    }
  return TRUE;
}

/* Held mail lives only on the server: these calls need it online. */
static PosternApiClient *
require_api_client (PosternAgentService *self,
                    GDBusMethodInvocation *invocation)
{
  PosternApiClient *client;

  if (!require_paired (self, invocation))
    return NULL;
  client = postern_sync_engine_get_api_client (self->engine);
  if (client == NULL)
    return_new_error (invocation, POSTERN_AGENT_ERROR_NOT_PAIRED, _ ("not paired with a server"));
  return client;
}

/* A method the agent passes through to the server: the client call's
 * finish function and the D-Bus completion. An answer in JSON goes to the
 * caller as text; the others only report success. */
struct _PassThrough
{
  JsonNode *(*finish_json) (PosternApiClient *client,
                            GAsyncResult *result,
                            GError **error);
  void (*complete_json) (PosternDBusAgent1 *object,
                         GDBusMethodInvocation *invocation,
                         const char *text);
  gboolean (*finish) (PosternApiClient *client,
                      GAsyncResult *result,
                      GError **error);
  void (*complete) (PosternDBusAgent1 *object,
                    GDBusMethodInvocation *invocation);
};

static const PassThrough list_held_method = {
  .finish_json = postern_api_client_list_held_finish,
  .complete_json = postern_dbus_agent1_complete_list_held,
};
static const PassThrough release_held_method = {
  .finish = postern_api_client_release_held_finish,
  .complete = postern_dbus_agent1_complete_release_held,
};
static const PassThrough drop_held_method = {
  .finish = postern_api_client_drop_held_finish,
  .complete = postern_dbus_agent1_complete_drop_held,
};
static const PassThrough get_timeline_method = {
  .finish_json = postern_api_client_get_timeline_finish,
  .complete_json = postern_dbus_agent1_complete_get_timeline,
};
static const PassThrough list_devices_method = {
  .finish_json = postern_api_client_list_devices_finish,
  .complete_json = postern_dbus_agent1_complete_list_devices,
};
static const PassThrough revoke_device_method = {
  .finish = postern_api_client_revoke_device_finish,
  .complete = postern_dbus_agent1_complete_revoke_device,
};

/* The client unwraps the server's {"held":[…]} and {"devices":[…]}
 * envelopes, so a list reaches the caller as the bare array. */
static void
pass_through_cb (GObject *source,
                 GAsyncResult *result,
                 gpointer user_data)
{
  g_autoptr (Call) call = user_data;
  const PassThrough *method = call->method;
  PosternApiClient *client = POSTERN_API_CLIENT (source);
  GDBusMethodInvocation *invocation = g_steal_pointer (&call->invocation);
  g_autoptr (GError) error = NULL;

  if (method->finish_json != NULL)
    {
      g_autoptr (JsonNode) node = method->finish_json (client, result, &error);
      g_autofree char *text = NULL;

      if (node == NULL)
        {
          return_error (invocation, error);
          return;
        }
      text = node_to_string (node);
      method->complete_json (POSTERN_DBUS_AGENT1 (call->self), invocation, text);
      return;
    }

  if (!method->finish (client, result, &error))
    {
      return_error (invocation, error);
      return;
    }
  method->complete (POSTERN_DBUS_AGENT1 (call->self), invocation);
}

/* The client for a pass-through call, or NULL when @invocation was parked
 * until the engine is ready or answered with an error. */
static PosternApiClient *
ready_api_client (PosternAgentService *self,
                  GDBusMethodInvocation *invocation)
{
  if (wait_until_ready (self, invocation))
    return NULL;
  return require_api_client (self, invocation);
}

static Call *
pass_through_new (PosternAgentService *self,
                  GDBusMethodInvocation *invocation,
                  const PassThrough *method)
{
  Call *call = call_new (self, invocation);

  call->method = method;
  return call;
}

static gboolean
handle_list_held (PosternDBusAgent1 *object,
                  GDBusMethodInvocation *invocation)
{
  PosternAgentService *self = POSTERN_AGENT_SERVICE (object);
  PosternApiClient *client = ready_api_client (self, invocation);

  if (client != NULL)
    postern_api_client_list_held_async (client, NULL, pass_through_cb,
                                        pass_through_new (self, invocation, &list_held_method));
  return TRUE;
}

static gboolean
handle_release_held (PosternDBusAgent1 *object,
                     GDBusMethodInvocation *invocation,
                     gint64 id)
{
  PosternAgentService *self = POSTERN_AGENT_SERVICE (object);
  PosternApiClient *client = ready_api_client (self, invocation);

  if (client != NULL)
    postern_api_client_release_held_async (client, id, NULL, pass_through_cb,
                                           pass_through_new (self, invocation, &release_held_method));
  return TRUE;
}

static gboolean
handle_drop_held (PosternDBusAgent1 *object,
                  GDBusMethodInvocation *invocation,
                  gint64 id)
{
  PosternAgentService *self = POSTERN_AGENT_SERVICE (object);
  PosternApiClient *client = ready_api_client (self, invocation);

  if (client != NULL)
    postern_api_client_drop_held_async (client, id, NULL, pass_through_cb,
                                        pass_through_new (self, invocation, &drop_held_method));
  return TRUE;
}

static gboolean
handle_get_timeline (PosternDBusAgent1 *object,
                     GDBusMethodInvocation *invocation,
                     const char *id)
{
  PosternAgentService *self = POSTERN_AGENT_SERVICE (object);
  PosternApiClient *client = ready_api_client (self, invocation);

  if (client != NULL && lookup_channel (self, invocation, id) != NULL)
    postern_api_client_get_timeline_async (client, id, NULL, pass_through_cb,
                                           pass_through_new (self, invocation, &get_timeline_method));
  return TRUE;
}

static gboolean
handle_list_devices (PosternDBusAgent1 *object,
                     GDBusMethodInvocation *invocation)
{
  PosternAgentService *self = POSTERN_AGENT_SERVICE (object);
  PosternApiClient *client = ready_api_client (self, invocation);

  if (client != NULL)
    postern_api_client_list_devices_async (client, NULL, pass_through_cb,
                                           pass_through_new (self, invocation, &list_devices_method));
  return TRUE;
}

static gboolean
handle_revoke_device (PosternDBusAgent1 *object,
                      GDBusMethodInvocation *invocation,
                      gint64 id)
{
  PosternAgentService *self = POSTERN_AGENT_SERVICE (object);
  PosternApiClient *client = ready_api_client (self, invocation);

  if (client != NULL)
    postern_api_client_revoke_device_async (client, id, NULL, pass_through_cb,
                                            pass_through_new (self, invocation, &revoke_device_method));
  return TRUE;
}

static gboolean
handle_list_pending (PosternDBusAgent1 *object,
                     GDBusMethodInvocation *invocation)
{
  PosternAgentService *self = POSTERN_AGENT_SERVICE (object);
  g_autofree char *text = NULL;

  if (wait_until_ready (self, invocation))
    return TRUE;
  text = postern_sync_engine_dup_pending_json (self->engine);
  postern_dbus_agent1_complete_list_pending (object, invocation, text);
  return TRUE;
}

/* ---- engine signals -------------------------------------------------------- */

static void
channel_changed_cb (PosternAgentService *self,
                    PosternChannel *channel)
{
  g_autofree char *text = channel_to_string_with (channel, self->engine);

  postern_dbus_agent1_emit_channel_changed (POSTERN_DBUS_AGENT1 (self), text);
}

static void
channel_removed_cb (PosternAgentService *self,
                    const char *channel_id)
{
  postern_dbus_agent1_emit_channel_removed (POSTERN_DBUS_AGENT1 (self), channel_id);
}

static void
event_added_cb (PosternAgentService *self,
                PosternEvent *event)
{
  g_autofree char *text = event_to_string (event);

  postern_dbus_agent1_emit_event_added (POSTERN_DBUS_AGENT1 (self), text);
}

static void
alert_cb (PosternAgentService *self,
          PosternEvent *event,
          PosternChannel *channel)
{
  g_autofree char *event_text = event_to_string (event);
  g_autofree char *channel_text = channel_to_string_with (channel, self->engine);

  postern_dbus_agent1_emit_alert (POSTERN_DBUS_AGENT1 (self), event_text, channel_text);
}

static void
status_changed_cb (PosternAgentService *self)
{
  postern_dbus_agent1_emit_status_changed (POSTERN_DBUS_AGENT1 (self),
                                           postern_agent_service_build_status (self->engine));
}

static void
mutation_failed_cb (PosternAgentService *self,
                    PosternMutation *mutation,
                    GError *error)
{
  g_autoptr (JsonNode) node = postern_mutation_to_json (mutation);
  g_autofree char *text = node_to_string (node);
  g_autoptr (GError) mapped = postern_agent_error_from_error (error);
  g_autofree char *name = g_dbus_error_encode_gerror (mapped);

  g_message ("The server refused a queued change (%s): %s",
             postern_mutation_op_to_string (mutation->op), error->message);
  postern_dbus_agent1_emit_mutation_failed (POSTERN_DBUS_AGENT1 (self), text, name, mapped->message);
}

/* ---- object ----------------------------------------------------------------- */

void
postern_agent_service_set_ready (PosternAgentService *self)
{
  GDBusInterfaceSkeleton *skeleton = G_DBUS_INTERFACE_SKELETON (self);
  GDBusInterfaceVTable *vtable;
  GDBusMethodInvocation *invocation;

  g_return_if_fail (POSTERN_IS_AGENT_SERVICE (self));

  if (self->ready)
    return;
  self->ready = TRUE;

  /* Replays each parked call through the skeleton's own dispatch, which
   * unpacks the arguments again and reaches the handlers above. */
  vtable = g_dbus_interface_skeleton_get_vtable (skeleton);
  while ((invocation = g_queue_pop_head (&self->waiting)) != NULL)
    {
      vtable->method_call (g_dbus_method_invocation_get_connection (invocation),
                           g_dbus_method_invocation_get_sender (invocation),
                           g_dbus_method_invocation_get_object_path (invocation),
                           g_dbus_method_invocation_get_interface_name (invocation),
                           g_dbus_method_invocation_get_method_name (invocation),
                           g_dbus_method_invocation_get_parameters (invocation),
                           invocation, /* transfer full */
                           self);
    }
}

gboolean
postern_agent_service_get_ready (PosternAgentService *self)
{
  g_return_val_if_fail (POSTERN_IS_AGENT_SERVICE (self), FALSE);
  return self->ready;
}

PosternSyncEngine *
postern_agent_service_get_engine (PosternAgentService *self)
{
  g_return_val_if_fail (POSTERN_IS_AGENT_SERVICE (self), NULL);
  return self->engine;
}

PosternAgentService *
postern_agent_service_new (PosternSyncEngine *engine)
{
  g_return_val_if_fail (POSTERN_IS_SYNC_ENGINE (engine), NULL);
  return g_object_new (POSTERN_TYPE_AGENT_SERVICE, "engine", engine, NULL);
}

static void
postern_agent_service_constructed (GObject *object)
{
  PosternAgentService *self = POSTERN_AGENT_SERVICE (object);

  G_OBJECT_CLASS (postern_agent_service_parent_class)->constructed (object);

  g_signal_connect_object (self->engine, "channel-changed", G_CALLBACK (channel_changed_cb), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (self->engine, "channel-removed", G_CALLBACK (channel_removed_cb), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (self->engine, "event-added", G_CALLBACK (event_added_cb), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (self->engine, "alert", G_CALLBACK (alert_cb), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (self->engine, "status-changed", G_CALLBACK (status_changed_cb), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (self->engine, "mutation-failed", G_CALLBACK (mutation_failed_cb), self, G_CONNECT_SWAPPED);
}

static void
postern_agent_service_dispose (GObject *object)
{
  PosternAgentService *self = POSTERN_AGENT_SERVICE (object);
  GDBusMethodInvocation *invocation;

  /* Nobody will answer these any more: say so rather than leave the
   * callers waiting for their timeout. */
  while ((invocation = g_queue_pop_head (&self->waiting)) != NULL)
    g_dbus_method_invocation_return_error_literal (invocation, POSTERN_AGENT_ERROR, POSTERN_AGENT_ERROR_FAILED,
                                                   _ ("the agent is shutting down"));

  G_OBJECT_CLASS (postern_agent_service_parent_class)->dispose (object);
}

static void
postern_agent_service_finalize (GObject *object)
{
  PosternAgentService *self = POSTERN_AGENT_SERVICE (object);

  g_clear_object (&self->engine);

  G_OBJECT_CLASS (postern_agent_service_parent_class)->finalize (object);
}

static void
postern_agent_service_get_property (GObject *object,
                                    guint prop_id,
                                    GValue *value,
                                    GParamSpec *pspec)
{
  PosternAgentService *self = POSTERN_AGENT_SERVICE (object);

  switch (prop_id)
    {
      case PROP_ENGINE:
        g_value_set_object (value, self->engine);
        break;
      default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
postern_agent_service_set_property (GObject *object,
                                    guint prop_id,
                                    const GValue *value,
                                    GParamSpec *pspec)
{
  PosternAgentService *self = POSTERN_AGENT_SERVICE (object);

  switch (prop_id)
    {
      case PROP_ENGINE:
        self->engine = g_value_dup_object (value);
        break;
      default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
postern_agent_service_class_init (PosternAgentServiceClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->constructed = postern_agent_service_constructed;
  object_class->dispose = postern_agent_service_dispose;
  object_class->finalize = postern_agent_service_finalize;
  object_class->get_property = postern_agent_service_get_property;
  object_class->set_property = postern_agent_service_set_property;

  properties[PROP_ENGINE] = g_param_spec_object ("engine", NULL, NULL,
                                                 POSTERN_TYPE_SYNC_ENGINE,
                                                 G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  /* Registers the io.github.postern.Postern.Error.* names with GDBus. */
  postern_agent_error_quark ();
}

static void
postern_agent_service_iface_init (PosternDBusAgent1Iface *iface)
{
  iface->handle_get_status = handle_get_status;
  iface->handle_probe_server = handle_probe_server;
  iface->handle_pair = handle_pair;
  iface->handle_unpair = handle_unpair;
  iface->handle_sync_now = handle_sync_now;
  iface->handle_list_channels = handle_list_channels;
  iface->handle_get_channel = handle_get_channel;
  iface->handle_create_channel = handle_create_channel;
  iface->handle_update_channel = handle_update_channel;
  iface->handle_revoke = handle_revoke;
  iface->handle_pause = handle_pause;
  iface->handle_resume = handle_resume;
  iface->handle_trust_sender = handle_trust_sender;
  iface->handle_untrust_sender = handle_untrust_sender;
  iface->handle_block = handle_block;
  iface->handle_record_share = handle_record_share;
  iface->handle_list_events = handle_list_events;
  iface->handle_mark_alerts_read = handle_mark_alerts_read;
  iface->handle_list_held = handle_list_held;
  iface->handle_release_held = handle_release_held;
  iface->handle_drop_held = handle_drop_held;
  iface->handle_list_pending = handle_list_pending;
  iface->handle_get_timeline = handle_get_timeline;
  iface->handle_list_devices = handle_list_devices;
  iface->handle_revoke_device = handle_revoke_device;
}

static void
postern_agent_service_init (PosternAgentService *self)
{
  g_queue_init (&self->waiting);
}
