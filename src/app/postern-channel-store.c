/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <gtk/gtk.h>
#include <string.h>

#include "postern-channel-store.h"

#define AGENT_OBJECT_PATH "/io/github/postern/Postern/Agent"
/* Events fetched at start to derive last activity and unread alerts. */
#define STARTUP_EVENTS 1000

struct _PosternChannelStore
{
  GObject parent_instance;

  GCancellable *cancellable;
  PosternDBusAgent1 *agent;

  GListStore *items;
  GHashTable *by_id; /* owned id → PosternChannelItem (borrowed from items) */
  GtkCustomFilter *filter;
  GtkFilterListModel *filtered;
  GtkCustomSorter *sorter;
  GtkSortListModel *sorted;

  char *search;
  char *folded_search;
  PosternChannelFilter filter_mode;

  gboolean loaded;
  gboolean paired;
  gboolean online;
  char *connection;
  char *server;
  char *user;
  char *fingerprint;
  char *message;
  guint pending;
  guint unread_alerts;
  /* The agent sends each channel's unread_alerts: nothing to guess. */
  gboolean agent_counts;
};

G_DEFINE_FINAL_TYPE (PosternChannelStore, postern_channel_store, G_TYPE_OBJECT)

enum
{
  PROP_0,
  PROP_MODEL,
  PROP_N_CHANNELS,
  PROP_SEARCH,
  PROP_FILTER,
  PROP_AGENT,
  PROP_AGENT_RUNNING,
  PROP_LOADED,
  PROP_PAIRED,
  PROP_ONLINE,
  PROP_CONNECTION,
  PROP_SERVER,
  PROP_USER,
  PROP_FINGERPRINT,
  PROP_MESSAGE,
  PROP_PENDING,
  PROP_UNREAD_ALERTS,
  N_PROPS
};

enum
{
  ALERT,
  N_SIGNALS
};

static GParamSpec *properties[N_PROPS];
static guint signals[N_SIGNALS];

static void reload (PosternChannelStore *self);
static void fetch_pending (PosternChannelStore *self);

static gboolean
filter_cb (gpointer object,
           gpointer user_data)
{
  PosternChannelStore *self = user_data;
  PosternChannelItem *item = object;

  switch (self->filter_mode)
    {
      case POSTERN_CHANNEL_FILTER_ACTIVE:
        if (postern_channel_item_get_state (item) != POSTERN_CHANNEL_STATE_ACTIVE)
          return FALSE;
        break;
      case POSTERN_CHANNEL_FILTER_PAUSED:
        if (postern_channel_item_get_state (item) != POSTERN_CHANNEL_STATE_PAUSED)
          return FALSE;
        break;
      case POSTERN_CHANNEL_FILTER_REVOKED:
        if (postern_channel_item_get_state (item) != POSTERN_CHANNEL_STATE_REVOKED)
          return FALSE;
        break;
      case POSTERN_CHANNEL_FILTER_ALERTS:
        if (postern_channel_item_get_unread_alerts (item) == 0)
          return FALSE;
        break;
      case POSTERN_CHANNEL_FILTER_ALL:
      default:
        break;
    }

  return postern_channel_item_matches (item, self->folded_search);
}

static int
sort_cb (gconstpointer a,
         gconstpointer b,
         gpointer user_data)
{
  PosternChannelItem *item_a = (PosternChannelItem *)a;
  PosternChannelItem *item_b = (PosternChannelItem *)b;
  gint64 activity_a = postern_channel_item_get_last_activity (item_a);
  gint64 activity_b = postern_channel_item_get_last_activity (item_b);

  /* Newest activity first; ties in a stable order. */
  if (activity_a != activity_b)
    return activity_a > activity_b ? -1 : 1;

  return g_strcmp0 (postern_channel_item_get_id (item_a), postern_channel_item_get_id (item_b));
}

static void
set_string (PosternChannelStore *self,
            char **field,
            const char *value,
            guint prop)
{
  if (g_strcmp0 (*field, value) == 0)
    return;

  g_free (*field);
  *field = g_strdup (value);
  g_object_notify_by_pspec (G_OBJECT (self), properties[prop]);
}

static void
set_boolean (PosternChannelStore *self,
             gboolean *field,
             gboolean value,
             guint prop)
{
  value = !!value;
  if (*field == value)
    return;

  *field = value;
  g_object_notify_by_pspec (G_OBJECT (self), properties[prop]);
}

static void
set_uint (PosternChannelStore *self,
          guint *field,
          guint value,
          guint prop)
{
  if (*field == value)
    return;

  *field = value;
  g_object_notify_by_pspec (G_OBJECT (self), properties[prop]);
}

static void
postern_channel_store_dispose (GObject *object)
{
  PosternChannelStore *self = POSTERN_CHANNEL_STORE (object);

  g_cancellable_cancel (self->cancellable);
  if (self->agent != NULL)
    g_signal_handlers_disconnect_by_data (self->agent, self);
  g_clear_object (&self->agent);
  g_clear_object (&self->cancellable);
  g_clear_object (&self->filtered);
  g_clear_object (&self->sorted);
  g_clear_pointer (&self->by_id, g_hash_table_unref);
  g_clear_object (&self->items);

  G_OBJECT_CLASS (postern_channel_store_parent_class)->dispose (object);
}

static void
postern_channel_store_finalize (GObject *object)
{
  PosternChannelStore *self = POSTERN_CHANNEL_STORE (object);

  g_free (self->search);
  g_free (self->folded_search);
  g_free (self->connection);
  g_free (self->server);
  g_free (self->user);
  g_free (self->fingerprint);
  g_free (self->message);

  G_OBJECT_CLASS (postern_channel_store_parent_class)->finalize (object);
}

static void
postern_channel_store_get_property (GObject *object,
                                    guint prop_id,
                                    GValue *value,
                                    GParamSpec *pspec)
{
  PosternChannelStore *self = POSTERN_CHANNEL_STORE (object);

  switch (prop_id)
    {
      case PROP_MODEL:
        g_value_set_object (value, self->filtered);
        break;
      case PROP_N_CHANNELS:
        g_value_set_uint (value, g_list_model_get_n_items (G_LIST_MODEL (self->items)));
        break;
      case PROP_SEARCH:
        g_value_set_string (value, self->search);
        break;
      case PROP_FILTER:
        g_value_set_int (value, self->filter_mode);
        break;
      case PROP_AGENT:
        g_value_set_object (value, self->agent);
        break;
      case PROP_AGENT_RUNNING:
        {
          g_autofree char *owner = NULL;

          if (self->agent != NULL)
            owner = g_dbus_proxy_get_name_owner (G_DBUS_PROXY (self->agent));
          g_value_set_boolean (value, owner != NULL);
        }
        break;
      case PROP_LOADED:
        g_value_set_boolean (value, self->loaded);
        break;
      case PROP_PAIRED:
        g_value_set_boolean (value, self->paired);
        break;
      case PROP_ONLINE:
        g_value_set_boolean (value, self->online);
        break;
      case PROP_CONNECTION:
        g_value_set_string (value, self->connection);
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
      case PROP_MESSAGE:
        g_value_set_string (value, self->message);
        break;
      case PROP_PENDING:
        g_value_set_uint (value, self->pending);
        break;
      case PROP_UNREAD_ALERTS:
        g_value_set_uint (value, self->unread_alerts);
        break;
      default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
postern_channel_store_set_property (GObject *object,
                                    guint prop_id,
                                    const GValue *value,
                                    GParamSpec *pspec)
{
  PosternChannelStore *self = POSTERN_CHANNEL_STORE (object);

  switch (prop_id)
    {
      case PROP_SEARCH:
        postern_channel_store_set_search (self, g_value_get_string (value));
        break;
      case PROP_FILTER:
        postern_channel_store_set_filter (self, g_value_get_int (value));
        break;
      default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
postern_channel_store_class_init (PosternChannelStoreClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  const GParamFlags ro = G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS;
  const GParamFlags rw = G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS;

  object_class->dispose = postern_channel_store_dispose;
  object_class->finalize = postern_channel_store_finalize;
  object_class->get_property = postern_channel_store_get_property;
  object_class->set_property = postern_channel_store_set_property;

  properties[PROP_MODEL] = g_param_spec_object ("model", NULL, NULL, G_TYPE_LIST_MODEL, ro);
  properties[PROP_N_CHANNELS] = g_param_spec_uint ("n-channels", NULL, NULL, 0, G_MAXUINT, 0, ro);
  properties[PROP_SEARCH] = g_param_spec_string ("search", NULL, NULL, NULL, rw);
  properties[PROP_FILTER] = g_param_spec_int ("filter", NULL, NULL,
                                              POSTERN_CHANNEL_FILTER_ALL, POSTERN_CHANNEL_FILTER_ALERTS,
                                              POSTERN_CHANNEL_FILTER_ALL, rw);
  properties[PROP_AGENT] = g_param_spec_object ("agent", NULL, NULL, POSTERN_DBUS_TYPE_AGENT1, ro);
  properties[PROP_AGENT_RUNNING] = g_param_spec_boolean ("agent-running", NULL, NULL, FALSE, ro);
  properties[PROP_LOADED] = g_param_spec_boolean ("loaded", NULL, NULL, FALSE, ro);
  properties[PROP_PAIRED] = g_param_spec_boolean ("paired", NULL, NULL, FALSE, ro);
  properties[PROP_ONLINE] = g_param_spec_boolean ("online", NULL, NULL, FALSE, ro);
  properties[PROP_CONNECTION] = g_param_spec_string ("connection", NULL, NULL, NULL, ro);
  properties[PROP_SERVER] = g_param_spec_string ("server", NULL, NULL, NULL, ro);
  properties[PROP_USER] = g_param_spec_string ("user", NULL, NULL, NULL, ro);
  properties[PROP_FINGERPRINT] = g_param_spec_string ("fingerprint", NULL, NULL, NULL, ro);
  properties[PROP_MESSAGE] = g_param_spec_string ("message", NULL, NULL, NULL, ro);
  properties[PROP_PENDING] = g_param_spec_uint ("pending", NULL, NULL, 0, G_MAXUINT, 0, ro);
  properties[PROP_UNREAD_ALERTS] = g_param_spec_uint ("unread-alerts", NULL, NULL, 0, G_MAXUINT, 0, ro);

  g_object_class_install_properties (object_class, N_PROPS, properties);

  signals[ALERT] = g_signal_new ("alert", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                                 NULL, NULL, NULL, G_TYPE_NONE, 2,
                                 POSTERN_TYPE_CHANNEL_ITEM, POSTERN_TYPE_EVENT);
}

static void
postern_channel_store_init (PosternChannelStore *self)
{
  self->cancellable = g_cancellable_new ();
  self->items = g_list_store_new (POSTERN_TYPE_CHANNEL_ITEM);
  self->by_id = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  self->search = g_strdup ("");
  self->folded_search = g_strdup ("");
  self->connection = g_strdup ("connecting");

  /* Sort below the filter: a keystroke then only filters an already
   * sorted list instead of sorting what the filter let through. */
  self->sorter = gtk_custom_sorter_new (sort_cb, NULL, NULL);
  self->sorted = gtk_sort_list_model_new (g_object_ref (G_LIST_MODEL (self->items)),
                                          GTK_SORTER (self->sorter));
  self->filter = gtk_custom_filter_new (filter_cb, self, NULL);
  self->filtered = gtk_filter_list_model_new (g_object_ref (G_LIST_MODEL (self->sorted)),
                                              GTK_FILTER (self->filter));
}

PosternChannelStore *
postern_channel_store_new (void)
{
  return g_object_new (POSTERN_TYPE_CHANNEL_STORE, NULL);
}

PosternDBusAgent1 *
postern_channel_store_get_agent (PosternChannelStore *self)
{
  g_return_val_if_fail (POSTERN_IS_CHANNEL_STORE (self), NULL);

  return self->agent;
}

GListModel *
postern_channel_store_get_model (PosternChannelStore *self)
{
  g_return_val_if_fail (POSTERN_IS_CHANNEL_STORE (self), NULL);

  return G_LIST_MODEL (self->filtered);
}

GListModel *
postern_channel_store_get_items (PosternChannelStore *self)
{
  g_return_val_if_fail (POSTERN_IS_CHANNEL_STORE (self), NULL);

  return G_LIST_MODEL (self->items);
}

PosternChannelItem *
postern_channel_store_lookup (PosternChannelStore *self,
                              const char *id)
{
  g_return_val_if_fail (POSTERN_IS_CHANNEL_STORE (self), NULL);

  if (id == NULL)
    return NULL;

  return g_hash_table_lookup (self->by_id, id);
}

const char *
postern_channel_store_get_search (PosternChannelStore *self)
{
  g_return_val_if_fail (POSTERN_IS_CHANNEL_STORE (self), NULL);

  return self->search;
}

void
postern_channel_store_set_search (PosternChannelStore *self,
                                  const char *search)
{
  g_autofree char *folded = NULL;
  GtkFilterChange change = GTK_FILTER_CHANGE_DIFFERENT;

  g_return_if_fail (POSTERN_IS_CHANNEL_STORE (self));

  if (search == NULL || !g_utf8_validate (search, -1, NULL))
    search = "";
  if (g_strcmp0 (self->search, search) == 0)
    return;

  folded = g_utf8_casefold (search, -1);
  g_strstrip (folded);

  /* Typing one more character only narrows the list; telling the filter so
   * lets it look at the rows still shown instead of all of them. */
  if (strstr (folded, self->folded_search) != NULL)
    change = GTK_FILTER_CHANGE_MORE_STRICT;
  else if (strstr (self->folded_search, folded) != NULL)
    change = GTK_FILTER_CHANGE_LESS_STRICT;

  g_free (self->search);
  self->search = g_strdup (search);
  g_free (self->folded_search);
  self->folded_search = g_steal_pointer (&folded);

  gtk_filter_changed (GTK_FILTER (self->filter), change);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_SEARCH]);
}

PosternChannelFilter
postern_channel_store_get_filter (PosternChannelStore *self)
{
  g_return_val_if_fail (POSTERN_IS_CHANNEL_STORE (self), POSTERN_CHANNEL_FILTER_ALL);

  return self->filter_mode;
}

void
postern_channel_store_set_filter (PosternChannelStore *self,
                                  PosternChannelFilter filter)
{
  g_return_if_fail (POSTERN_IS_CHANNEL_STORE (self));
  g_return_if_fail (filter <= POSTERN_CHANNEL_FILTER_ALERTS);

  if (self->filter_mode == filter)
    return;

  self->filter_mode = filter;
  gtk_filter_changed (GTK_FILTER (self->filter), GTK_FILTER_CHANGE_DIFFERENT);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_FILTER]);
}

gboolean
postern_channel_store_get_loaded (PosternChannelStore *self)
{
  g_return_val_if_fail (POSTERN_IS_CHANNEL_STORE (self), FALSE);
  return self->loaded;
}

gboolean
postern_channel_store_get_paired (PosternChannelStore *self)
{
  g_return_val_if_fail (POSTERN_IS_CHANNEL_STORE (self), FALSE);
  return self->paired;
}

gboolean
postern_channel_store_get_online (PosternChannelStore *self)
{
  g_return_val_if_fail (POSTERN_IS_CHANNEL_STORE (self), FALSE);
  return self->online;
}

const char *
postern_channel_store_get_connection (PosternChannelStore *self)
{
  g_return_val_if_fail (POSTERN_IS_CHANNEL_STORE (self), NULL);
  return self->connection;
}

const char *
postern_channel_store_get_server (PosternChannelStore *self)
{
  g_return_val_if_fail (POSTERN_IS_CHANNEL_STORE (self), NULL);
  return self->server;
}

const char *
postern_channel_store_get_user (PosternChannelStore *self)
{
  g_return_val_if_fail (POSTERN_IS_CHANNEL_STORE (self), NULL);
  return self->user;
}

const char *
postern_channel_store_get_fingerprint (PosternChannelStore *self)
{
  g_return_val_if_fail (POSTERN_IS_CHANNEL_STORE (self), NULL);
  return self->fingerprint;
}

const char *
postern_channel_store_get_message (PosternChannelStore *self)
{
  g_return_val_if_fail (POSTERN_IS_CHANNEL_STORE (self), NULL);
  return self->message;
}

guint
postern_channel_store_get_pending (PosternChannelStore *self)
{
  g_return_val_if_fail (POSTERN_IS_CHANNEL_STORE (self), 0);
  return self->pending;
}

/* The agent answers with a bare array or an object holding one under
 * @member; accept both so the app does not break on a wrapper. */
static JsonArray *
parse_array (const char *json,
             const char *member,
             JsonNode **out_root,
             GError **error)
{
  g_autoptr (JsonNode) root = NULL;
  JsonArray *array = NULL;

  root = postern_json_from_string (json, -1, error);
  if (root == NULL)
    return NULL;

  if (JSON_NODE_HOLDS_ARRAY (root))
    array = json_node_get_array (root);
  else if (JSON_NODE_HOLDS_OBJECT (root))
    {
      JsonNode *node = json_object_get_member (json_node_get_object (root), member);

      if (node != NULL && JSON_NODE_HOLDS_ARRAY (node))
        array = json_node_get_array (node);
    }

  if (array == NULL)
    {
      g_set_error (error, POSTERN_CORE_ERROR, POSTERN_CORE_ERROR_INVALID_JSON,
                   "%s: expected an array", member);
      return NULL;
    }

  *out_root = g_steal_pointer (&root);
  return array;
}

/* Members the agent may add to a channel beyond the wire form. */
static void
apply_agent_members (PosternChannelStore *self,
                     PosternChannelItem *item,
                     JsonNode *node)
{
  JsonObject *object = json_node_get_object (node);
  JsonNode *member;

  member = json_object_get_member (object, "unread_alerts");
  if (member != NULL && JSON_NODE_HOLDS_VALUE (member) && json_node_get_value_type (member) == G_TYPE_INT64)
    {
      postern_channel_item_set_unread_alerts (item, (guint)CLAMP (json_node_get_int (member), 0, G_MAXUINT));
      self->agent_counts = TRUE;
    }

  member = json_object_get_member (object, "last_activity_at");
  if (member != NULL && JSON_NODE_HOLDS_VALUE (member) && json_node_get_value_type (member) == G_TYPE_STRING)
    {
      gint64 when = 0;

      if (postern_json_parse_time (json_node_get_string (member), &when, NULL))
        postern_channel_item_touch (item, when);
    }

  member = json_object_get_member (object, "pending");
  if (member != NULL && JSON_NODE_HOLDS_VALUE (member) && json_node_get_value_type (member) == G_TYPE_BOOLEAN)
    postern_channel_item_set_pending (item, json_node_get_boolean (member));
}

static void
resort (PosternChannelStore *self)
{
  gtk_sorter_changed (GTK_SORTER (self->sorter), GTK_SORTER_CHANGE_DIFFERENT);
}

static void
refilter (PosternChannelStore *self)
{
  gtk_filter_changed (GTK_FILTER (self->filter), GTK_FILTER_CHANGE_DIFFERENT);
}

/* A channel list parsed off the main thread: the channels, and the JSON
 * node of each for the members only the agent adds. */
typedef struct
{
  GPtrArray *channels;
  GPtrArray *nodes;
  guint n;
  guint n_bad;
  GError *first_error;
} ParsedChannels;

static void
parsed_channels_free (ParsedChannels *parsed)
{
  g_clear_pointer (&parsed->channels, g_ptr_array_unref);
  g_clear_pointer (&parsed->nodes, g_ptr_array_unref);
  g_clear_error (&parsed->first_error);
  g_free (parsed);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (ParsedChannels, parsed_channels_free)

/* Thread-safe: touches nothing but what it creates. */
static ParsedChannels *
parse_channels (const char *json,
                GError **error)
{
  g_autoptr (JsonNode) root = NULL;
  g_autoptr (ParsedChannels) parsed = g_new0 (ParsedChannels, 1);
  JsonArray *array;

  array = parse_array (json, "channels", &root, error);
  if (array == NULL)
    return NULL;

  parsed->n = json_array_get_length (array);
  parsed->channels = g_ptr_array_new_full (parsed->n, g_object_unref);
  parsed->nodes = g_ptr_array_new_full (parsed->n, (GDestroyNotify)json_node_unref);

  for (guint i = 0; i < parsed->n; i++)
    {
      JsonNode *node = json_array_get_element (array, i);
      g_autoptr (PosternChannel) channel = NULL;
      g_autoptr (GError) local_error = NULL;

      channel = postern_channel_new_from_json (node, &local_error);
      if (channel == NULL)
        {
          /* One bad record must not hide every other channel; one warning
           * is enough for many. */
          if (parsed->first_error == NULL)
            parsed->first_error = g_steal_pointer (&local_error);
          parsed->n_bad++;
          continue;
        }

      g_ptr_array_add (parsed->channels, g_steal_pointer (&channel));
      g_ptr_array_add (parsed->nodes, json_node_ref (node));
    }

  return g_steal_pointer (&parsed);
}

static void
apply_parsed_channels (PosternChannelStore *self,
                       ParsedChannels *parsed)
{
  g_autoptr (GPtrArray) items = g_ptr_array_new_full (parsed->channels->len, g_object_unref);
  g_autoptr (GHashTable) by_id = NULL;

  /* Keys are copies: an item's id string goes away when the agent sends a
   * newer snapshot of its channel. */
  by_id = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);

  for (guint i = 0; i < parsed->channels->len; i++)
    {
      PosternChannel *channel = g_ptr_array_index (parsed->channels, i);
      PosternChannelItem *item;

      if (g_hash_table_contains (by_id, postern_channel_get_id (channel)))
        continue;

      /* Keep the existing item so rows, selection and derived state stay. */
      item = g_hash_table_lookup (self->by_id, postern_channel_get_id (channel));
      if (item != NULL)
        {
          postern_channel_item_set_channel (item, channel);
          g_object_ref (item);
        }
      else
        item = postern_channel_item_new (channel);

      apply_agent_members (self, item, g_ptr_array_index (parsed->nodes, i));
      g_hash_table_insert (by_id, g_strdup (postern_channel_item_get_id (item)), item);
      g_ptr_array_add (items, item);
    }

  if (parsed->n_bad > 0)
    g_warning ("Ignoring a channel the agent sent (%u of %u): %s",
               parsed->n_bad, parsed->n, parsed->first_error->message);

  g_hash_table_unref (self->by_id);
  self->by_id = g_steal_pointer (&by_id);

  /* Replacing everything makes the sort model sort it all once. */
  g_list_store_splice (self->items, 0, g_list_model_get_n_items (G_LIST_MODEL (self->items)),
                       items->pdata, items->len);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_N_CHANNELS]);
}

gboolean
postern_channel_store_load_channels (PosternChannelStore *self,
                                     const char *json,
                                     GError **error)
{
  g_autoptr (ParsedChannels) parsed = NULL;

  g_return_val_if_fail (POSTERN_IS_CHANNEL_STORE (self), FALSE);
  g_return_val_if_fail (json != NULL, FALSE);

  parsed = parse_channels (json, error);
  if (parsed == NULL)
    return FALSE;

  apply_parsed_channels (self, parsed);
  return TRUE;
}

static PosternChannelItem *
upsert_node (PosternChannelStore *self,
             JsonNode *node,
             GError **error)
{
  g_autoptr (PosternChannel) channel = NULL;
  PosternChannelItem *item;

  channel = postern_channel_new_from_json (node, error);
  if (channel == NULL)
    return NULL;

  item = g_hash_table_lookup (self->by_id, postern_channel_get_id (channel));
  if (item != NULL)
    {
      postern_channel_item_set_channel (item, channel);
      apply_agent_members (self, item, node);
      /* State or label may now put it in or out of the filter. */
      refilter (self);
      resort (self);
      return item;
    }

  item = postern_channel_item_new (channel);
  apply_agent_members (self, item, node);
  g_hash_table_insert (self->by_id, g_strdup (postern_channel_item_get_id (item)), item);
  g_list_store_append (self->items, item);
  g_object_unref (item);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_N_CHANNELS]);

  return item;
}

PosternChannelItem *
postern_channel_store_load_channel (PosternChannelStore *self,
                                    const char *json,
                                    GError **error)
{
  g_autoptr (JsonNode) root = NULL;

  g_return_val_if_fail (POSTERN_IS_CHANNEL_STORE (self), NULL);
  g_return_val_if_fail (json != NULL, NULL);

  root = postern_json_from_string (json, -1, error);
  if (root == NULL)
    return NULL;

  return upsert_node (self, root, error);
}

/* Returns the item the event belongs to, or NULL. */
static PosternChannelItem *
apply_event (PosternChannelStore *self,
             PosternEvent *event,
             gboolean count_alert)
{
  PosternChannelItem *item;
  const char *sender;

  item = g_hash_table_lookup (self->by_id, postern_event_get_channel_id (event));
  if (item == NULL)
    return NULL;

  postern_channel_item_touch (item, postern_event_get_received_at (event));
  sender = postern_event_get_header_from (event);
  postern_channel_item_add_seen_sender (item, postern_event_get_envelope_sender (event));
  if (sender != NULL)
    postern_channel_item_add_seen_sender (item, sender);

  if (count_alert && postern_verdict_is_alert (postern_event_get_verdict (event)))
    postern_channel_item_set_unread_alerts (item, postern_channel_item_get_unread_alerts (item) + 1);

  return item;
}

gboolean
postern_channel_store_load_events (PosternChannelStore *self,
                                   const char *json,
                                   guint max_alerts,
                                   GError **error)
{
  g_autoptr (JsonNode) root = NULL;
  JsonArray *array;

  g_return_val_if_fail (POSTERN_IS_CHANNEL_STORE (self), FALSE);
  g_return_val_if_fail (json != NULL, FALSE);

  array = parse_array (json, "events", &root, error);
  if (array == NULL)
    return FALSE;

  for (guint i = 0; i < json_array_get_length (array); i++)
    {
      g_autoptr (PosternEvent) event = NULL;

      event = postern_event_new_from_json (json_array_get_element (array, i), NULL);
      if (event == NULL)
        continue;
      if (apply_event (self, event, max_alerts > 0) != NULL && postern_verdict_is_alert (postern_event_get_verdict (event)) && max_alerts > 0)
        max_alerts--;
    }

  refilter (self);
  resort (self);

  return TRUE;
}

gboolean
postern_channel_store_load_pending (PosternChannelStore *self,
                                    const char *json,
                                    GError **error)
{
  g_autoptr (JsonNode) root = NULL;
  g_autoptr (GHashTable) pending = NULL;
  GHashTableIter iter;
  gpointer value;
  JsonArray *array;

  g_return_val_if_fail (POSTERN_IS_CHANNEL_STORE (self), FALSE);
  g_return_val_if_fail (json != NULL, FALSE);

  array = parse_array (json, "pending", &root, error);
  if (array == NULL)
    return FALSE;

  pending = g_hash_table_new (g_str_hash, g_str_equal);
  for (guint i = 0; i < json_array_get_length (array); i++)
    {
      JsonNode *node = json_array_get_element (array, i);
      const char *id;

      if (!JSON_NODE_HOLDS_OBJECT (node))
        continue;
      id = json_object_get_string_member_with_default (json_node_get_object (node), "channel_id", NULL);
      if (id != NULL)
        g_hash_table_add (pending, (gpointer)id);
    }

  g_hash_table_iter_init (&iter, self->by_id);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      PosternChannelItem *item = value;

      postern_channel_item_set_pending (item, g_hash_table_contains (pending, postern_channel_item_get_id (item)));
    }

  return TRUE;
}

void
postern_channel_store_load_status (PosternChannelStore *self,
                                   GVariant *status)
{
  GVariantDict dict;
  const char *text;
  gboolean flag;
  guint32 count;
  guint old_pending = self->pending;

  g_return_if_fail (POSTERN_IS_CHANNEL_STORE (self));
  g_return_if_fail (status != NULL && g_variant_is_of_type (status, G_VARIANT_TYPE_VARDICT));

  g_object_freeze_notify (G_OBJECT (self));
  g_variant_dict_init (&dict, status);

  if (g_variant_dict_lookup (&dict, "paired", "b", &flag))
    set_boolean (self, &self->paired, flag, PROP_PAIRED);
  if (g_variant_dict_lookup (&dict, "online", "b", &flag))
    set_boolean (self, &self->online, flag, PROP_ONLINE);
  if (g_variant_dict_lookup (&dict, "connection", "&s", &text))
    set_string (self, &self->connection, text, PROP_CONNECTION);
  if (g_variant_dict_lookup (&dict, "server", "&s", &text))
    set_string (self, &self->server, text, PROP_SERVER);
  if (g_variant_dict_lookup (&dict, "user", "&s", &text))
    set_string (self, &self->user, text, PROP_USER);
  if (g_variant_dict_lookup (&dict, "fingerprint", "&s", &text))
    set_string (self, &self->fingerprint, text, PROP_FINGERPRINT);
  if (g_variant_dict_lookup (&dict, "message", "&s", &text))
    set_string (self, &self->message, text, PROP_MESSAGE);
  if (g_variant_dict_lookup (&dict, "pending", "u", &count))
    set_uint (self, &self->pending, count, PROP_PENDING);
  if (g_variant_dict_lookup (&dict, "unread_alerts", "u", &count))
    set_uint (self, &self->unread_alerts, count, PROP_UNREAD_ALERTS);

  g_variant_dict_clear (&dict);
  g_object_thaw_notify (G_OBJECT (self));

  /* The queue moved: fetch which channels are still waiting. */
  if (old_pending != self->pending)
    fetch_pending (self);
}

void
postern_channel_store_mark_read (PosternChannelStore *self,
                                 PosternChannelItem *item)
{
  g_return_if_fail (POSTERN_IS_CHANNEL_STORE (self));
  g_return_if_fail (POSTERN_IS_CHANNEL_ITEM (item));

  if (postern_channel_item_get_unread_alerts (item) == 0)
    return;

  postern_channel_item_set_unread_alerts (item, 0);
  if (self->filter_mode == POSTERN_CHANNEL_FILTER_ALERTS)
    refilter (self);
  if (self->agent != NULL)
    postern_dbus_agent1_call_mark_alerts_read (self->agent, postern_channel_item_get_id (item),
                                               self->cancellable, NULL, NULL);
}

char *
postern_channel_store_error_message (const GError *error)
{
  g_autoptr (GError) copy = NULL;

  g_return_val_if_fail (error != NULL, NULL);

  copy = g_error_copy (error);
  if (g_dbus_error_is_remote_error (copy))
    g_dbus_error_strip_remote_error (copy);

  return g_strdup (copy->message);
}

/* Agent signals and calls. */

static void
channel_changed_cb (PosternChannelStore *self,
                    const char *channel_json,
                    PosternDBusAgent1 *agent)
{
  g_autoptr (GError) error = NULL;

  if (postern_channel_store_load_channel (self, channel_json, &error) == NULL)
    g_warning ("Ignoring a channel change from the agent: %s", error->message);
}

static void
event_added_cb (PosternChannelStore *self,
                const char *event_json,
                PosternDBusAgent1 *agent)
{
  g_autoptr (JsonNode) root = NULL;
  g_autoptr (PosternEvent) event = NULL;
  g_autoptr (GError) error = NULL;

  root = postern_json_from_string (event_json, -1, &error);
  if (root != NULL)
    event = postern_event_new_from_json (root, &error);
  if (event == NULL)
    {
      g_warning ("Ignoring an event from the agent: %s", error->message);
      return;
    }

  /* Alerts are counted when the Alert signal arrives, not twice. */
  if (apply_event (self, event, FALSE) != NULL)
    resort (self);
}

static void
alert_cb (PosternChannelStore *self,
          const char *event_json,
          const char *channel_json,
          PosternDBusAgent1 *agent)
{
  g_autoptr (JsonNode) root = NULL;
  g_autoptr (PosternEvent) event = NULL;
  g_autoptr (GError) error = NULL;
  PosternChannelItem *item;

  if (channel_json != NULL && *channel_json != '\0')
    postern_channel_store_load_channel (self, channel_json, NULL);

  root = postern_json_from_string (event_json, -1, &error);
  if (root != NULL)
    event = postern_event_new_from_json (root, &error);
  if (event == NULL)
    {
      g_warning ("Ignoring an alert from the agent: %s", error->message);
      return;
    }

  item = g_hash_table_lookup (self->by_id, postern_event_get_channel_id (event));
  if (item == NULL)
    return;

  postern_channel_item_touch (item, postern_event_get_received_at (event));
  postern_channel_item_add_seen_sender (item, postern_event_get_envelope_sender (event));
  /* The channel above already carries the agent's count, this alert in. */
  if (!self->agent_counts)
    postern_channel_item_set_unread_alerts (item, postern_channel_item_get_unread_alerts (item) + 1);
  refilter (self);
  resort (self);

  g_signal_emit (self, signals[ALERT], 0, item, event);
}

static void
status_changed_cb (PosternChannelStore *self,
                   GVariant *status,
                   PosternDBusAgent1 *agent)
{
  gboolean was_paired = self->paired;

  postern_channel_store_load_status (self, status);

  /* Just paired (or re-paired): the channel list is new. */
  if (!was_paired && self->paired)
    reload (self);
}

static void
list_pending_cb (GObject *object,
                 GAsyncResult *result,
                 gpointer user_data)
{
  g_autoptr (PosternChannelStore) self = user_data;
  g_autofree char *json = NULL;
  g_autoptr (GError) error = NULL;

  if (!postern_dbus_agent1_call_list_pending_finish (POSTERN_DBUS_AGENT1 (object), &json, result, &error))
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        g_debug ("ListPending: %s", error->message);
      return;
    }

  if (!postern_channel_store_load_pending (self, json, &error))
    g_warning ("Ignoring the agent's pending queue: %s", error->message);
}

static void
fetch_pending (PosternChannelStore *self)
{
  if (self->agent == NULL)
    return;

  postern_dbus_agent1_call_list_pending (self->agent, self->cancellable,
                                         list_pending_cb, g_object_ref (self));
}

static void
list_events_cb (GObject *object,
                GAsyncResult *result,
                gpointer user_data)
{
  g_autoptr (PosternChannelStore) self = user_data;
  g_autofree char *json = NULL;
  g_autoptr (GError) error = NULL;

  if (!postern_dbus_agent1_call_list_events_finish (POSTERN_DBUS_AGENT1 (object), &json, result, &error))
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        g_debug ("ListEvents: %s", error->message);
      return;
    }

  /* An agent that does not send per-channel counts ("unread_alerts") only
   * counts unread alerts for the whole account: then the newest that many
   * alert events are taken as the unread ones. */
  if (!postern_channel_store_load_events (self, json, self->agent_counts ? 0 : self->unread_alerts, &error))
    g_warning ("Ignoring the agent's events: %s", error->message);
}

static void
parse_channels_thread_cb (GTask *task,
                          gpointer source_object,
                          gpointer task_data,
                          GCancellable *cancellable)
{
  GError *error = NULL;
  ParsedChannels *parsed = parse_channels (task_data, &error);

  if (parsed == NULL)
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, parsed, (GDestroyNotify)parsed_channels_free);
}

static void
channels_parsed_cb (GObject *object,
                    GAsyncResult *result,
                    gpointer user_data)
{
  PosternChannelStore *self = POSTERN_CHANNEL_STORE (object);
  g_autoptr (ParsedChannels) parsed = NULL;
  g_autoptr (GError) error = NULL;

  parsed = g_task_propagate_pointer (G_TASK (result), &error);
  if (parsed == NULL)
    {
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        return;
      g_warning ("Ignoring the agent's channel list: %s", error->message);
    }
  else
    apply_parsed_channels (self, parsed);

  if (!self->loaded)
    {
      self->loaded = TRUE;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_LOADED]);
    }

  postern_dbus_agent1_call_list_events (self->agent, "", STARTUP_EVENTS, self->cancellable,
                                        list_events_cb, g_object_ref (self));
  fetch_pending (self);
}

static void
list_channels_cb (GObject *object,
                  GAsyncResult *result,
                  gpointer user_data)
{
  g_autoptr (PosternChannelStore) self = user_data;
  g_autoptr (GTask) task = NULL;
  g_autoptr (GError) error = NULL;
  char *json = NULL;

  if (!postern_dbus_agent1_call_list_channels_finish (POSTERN_DBUS_AGENT1 (object), &json, result, &error))
    {
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        return;
      g_debug ("ListChannels: %s", error->message);
      if (!self->loaded)
        {
          self->loaded = TRUE;
          g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_LOADED]);
        }
      return;
    }

  /* 10,000 channels take a few hundred milliseconds to parse: not on the
   * thread that draws the window. */
  task = g_task_new (self, self->cancellable, channels_parsed_cb, NULL);
  g_task_set_source_tag (task, list_channels_cb);
  g_task_set_task_data (task, json, g_free);
  g_task_run_in_thread (task, parse_channels_thread_cb);
}

static void
get_status_cb (GObject *object,
               GAsyncResult *result,
               gpointer user_data)
{
  g_autoptr (PosternChannelStore) self = user_data;
  g_autoptr (GVariant) status = NULL;
  g_autoptr (GError) error = NULL;

  if (!postern_dbus_agent1_call_get_status_finish (POSTERN_DBUS_AGENT1 (object), &status, result, &error))
    {
      g_autofree char *message = NULL;

      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        return;
      message = postern_channel_store_error_message (error);
      set_string (self, &self->connection, "no-agent", PROP_CONNECTION);
      set_string (self, &self->message, message, PROP_MESSAGE);
      if (!self->loaded)
        {
          self->loaded = TRUE;
          g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_LOADED]);
        }
      return;
    }

  postern_channel_store_load_status (self, status);
}

static void
reload (PosternChannelStore *self)
{
  if (self->agent == NULL)
    return;

  postern_dbus_agent1_call_get_status (self->agent, self->cancellable, get_status_cb, g_object_ref (self));
  postern_dbus_agent1_call_list_channels (self->agent, self->cancellable, list_channels_cb, g_object_ref (self));
}

static void
name_owner_cb (PosternChannelStore *self,
               GParamSpec *pspec,
               PosternDBusAgent1 *agent)
{
  g_autofree char *owner = g_dbus_proxy_get_name_owner (G_DBUS_PROXY (agent));

  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_AGENT_RUNNING]);

  if (owner != NULL)
    reload (self);
  else
    {
      set_string (self, &self->connection, "no-agent", PROP_CONNECTION);
      set_boolean (self, &self->online, FALSE, PROP_ONLINE);
    }
}

static void
proxy_ready_cb (GObject *object,
                GAsyncResult *result,
                gpointer user_data)
{
  g_autoptr (PosternChannelStore) self = user_data;
  g_autoptr (GError) error = NULL;
  PosternDBusAgent1 *agent;

  agent = postern_dbus_agent1_proxy_new_for_bus_finish (result, &error);
  if (agent == NULL)
    {
      g_autofree char *message = NULL;

      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        return;
      message = postern_channel_store_error_message (error);
      g_warning ("Cannot reach the Postern agent: %s", message);
      set_string (self, &self->connection, "no-agent", PROP_CONNECTION);
      set_string (self, &self->message, message, PROP_MESSAGE);
      self->loaded = TRUE;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_LOADED]);
      return;
    }

  self->agent = agent;
  /* Calls can wait for a sync with the server; the user sees a spinner. */
  g_dbus_proxy_set_default_timeout (G_DBUS_PROXY (agent), 60 * 1000);

  g_signal_connect_object (agent, "channel-changed", G_CALLBACK (channel_changed_cb), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (agent, "event-added", G_CALLBACK (event_added_cb), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (agent, "alert", G_CALLBACK (alert_cb), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (agent, "status-changed", G_CALLBACK (status_changed_cb), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (agent, "notify::g-name-owner", G_CALLBACK (name_owner_cb), self, G_CONNECT_SWAPPED);

  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_AGENT]);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_AGENT_RUNNING]);

  /* The first call activates the agent when it is not running yet. */
  reload (self);
}

void
postern_channel_store_connect (PosternChannelStore *self)
{
  g_return_if_fail (POSTERN_IS_CHANNEL_STORE (self));
  g_return_if_fail (self->agent == NULL);

  postern_dbus_agent1_proxy_new_for_bus (G_BUS_TYPE_SESSION,
                                         G_DBUS_PROXY_FLAGS_DO_NOT_AUTO_START_AT_CONSTRUCTION,
                                         AGENT_BUS_NAME,
                                         AGENT_OBJECT_PATH,
                                         self->cancellable,
                                         proxy_ready_cb,
                                         g_object_ref (self));
}
