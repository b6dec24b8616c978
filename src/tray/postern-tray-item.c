/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "postern-tray-item.h"

/*
 * A StatusNotifierItem on the caller's own connection, at the default path
 * /StatusNotifierItem, registered with the watcher by unique name (no
 * well-known name: in Flatpak every app would be PID 2). The object is
 * exported before the watcher is contacted, because hosts read Id and Menu
 * as soon as the registration reaches them. Without a watcher, or with a
 * watcher but no host, the item simply waits: there is nothing to warn about
 * on a desktop that has no tray.
 */

#define WATCHER_PATH      "/StatusNotifierWatcher"
#define WATCHER_INTERFACE "org.kde.StatusNotifierWatcher"
#define ITEM_INTERFACE    "org.kde.StatusNotifierItem"

struct _PosternTrayItem
{
  GObject parent_instance;

  GDBusConnection *connection;
  char *id;
  char *menu_path;
  char *title;
  char *icon_name;
  char *attention_icon_name;
  char *overlay_icon_name;
  char *icon_theme_path;
  char *tooltip_title;
  char *tooltip_body;
  char *activation_token;
  PosternTrayStatus status;

  guint registration_id;
  guint watch_id;
  guint host_registered_id;
  char *watcher_owner;
  GCancellable *watcher_cancellable;
  gboolean registered;
};

static void postern_tray_item_initable_iface_init (GInitableIface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (PosternTrayItem, postern_tray_item, G_TYPE_OBJECT, G_IMPLEMENT_INTERFACE (G_TYPE_INITABLE, postern_tray_item_initable_iface_init))

G_DEFINE_ENUM_TYPE (PosternTrayStatus, postern_tray_status, G_DEFINE_ENUM_VALUE (POSTERN_TRAY_STATUS_PASSIVE, "passive"), G_DEFINE_ENUM_VALUE (POSTERN_TRAY_STATUS_ACTIVE, "active"), G_DEFINE_ENUM_VALUE (POSTERN_TRAY_STATUS_NEEDS_ATTENTION, "needs-attention"))

enum
{
  PROP_0,
  PROP_CONNECTION,
  PROP_ID,
  PROP_MENU_PATH,
  PROP_TITLE,
  PROP_ICON_NAME,
  PROP_ATTENTION_ICON_NAME,
  PROP_OVERLAY_ICON_NAME,
  PROP_ICON_THEME_PATH,
  PROP_STATUS,
  PROP_TOOLTIP_TITLE,
  PROP_TOOLTIP_BODY,
  PROP_REGISTERED,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

enum
{
  SIGNAL_ACTIVATE,
  SIGNAL_SECONDARY_ACTIVATE,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

static const char item_xml[] = "<node>"
                               "  <interface name='org.kde.StatusNotifierItem'>"
                               "    <property name='Category' type='s' access='read'/>"
                               "    <property name='Id' type='s' access='read'/>"
                               "    <property name='Title' type='s' access='read'/>"
                               "    <property name='Status' type='s' access='read'/>"
                               "    <property name='WindowId' type='i' access='read'/>"
                               "    <property name='IconThemePath' type='s' access='read'/>"
                               "    <property name='Menu' type='o' access='read'/>"
                               "    <property name='ItemIsMenu' type='b' access='read'/>"
                               "    <property name='IconName' type='s' access='read'/>"
                               "    <property name='IconPixmap' type='a(iiay)' access='read'/>"
                               "    <property name='OverlayIconName' type='s' access='read'/>"
                               "    <property name='OverlayIconPixmap' type='a(iiay)' access='read'/>"
                               "    <property name='AttentionIconName' type='s' access='read'/>"
                               "    <property name='AttentionIconPixmap' type='a(iiay)' access='read'/>"
                               "    <property name='AttentionMovieName' type='s' access='read'/>"
                               "    <property name='ToolTip' type='(sa(iiay)ss)' access='read'/>"
                               "    <method name='ProvideXdgActivationToken'>"
                               "      <arg name='token' type='s' direction='in'/>"
                               "    </method>"
                               "    <method name='ContextMenu'>"
                               "      <arg name='x' type='i' direction='in'/>"
                               "      <arg name='y' type='i' direction='in'/>"
                               "    </method>"
                               "    <method name='Activate'>"
                               "      <arg name='x' type='i' direction='in'/>"
                               "      <arg name='y' type='i' direction='in'/>"
                               "    </method>"
                               "    <method name='SecondaryActivate'>"
                               "      <arg name='x' type='i' direction='in'/>"
                               "      <arg name='y' type='i' direction='in'/>"
                               "    </method>"
                               "    <method name='Scroll'>"
                               "      <arg name='delta' type='i' direction='in'/>"
                               "      <arg name='orientation' type='s' direction='in'/>"
                               "    </method>"
                               "    <signal name='NewTitle'/>"
                               "    <signal name='NewIcon'/>"
                               "    <signal name='NewAttentionIcon'/>"
                               "    <signal name='NewOverlayIcon'/>"
                               "    <signal name='NewMenu'/>"
                               "    <signal name='NewToolTip'/>"
                               "    <signal name='NewStatus'>"
                               "      <arg name='status' type='s'/>"
                               "    </signal>"
                               "    <signal name='NewIconThemePath'>"
                               "      <arg name='icon_theme_path' type='s'/>"
                               "    </signal>"
                               "  </interface>"
                               "</node>";

static GDBusInterfaceInfo *
get_interface_info (void)
{
  static GDBusNodeInfo *node_info;

  if (g_once_init_enter (&node_info))
    {
      g_autoptr (GError) error = NULL;
      GDBusNodeInfo *info = g_dbus_node_info_new_for_xml (item_xml, &error);

      /* The XML is a constant of this file: failing to parse it is a bug. */
      g_assert_no_error (error);
      g_once_init_leave (&node_info, info);
    }

  return node_info->interfaces[0];
}

static const char *
status_to_string (PosternTrayStatus status)
{
  switch (status)
    {
      case POSTERN_TRAY_STATUS_PASSIVE:
        return "Passive";
      case POSTERN_TRAY_STATUS_NEEDS_ATTENTION:
        return "NeedsAttention";
      case POSTERN_TRAY_STATUS_ACTIVE:
      default:
        return "Active";
    }
}

static GVariant *
empty_pixmaps (void)
{
  return g_variant_new_array (G_VARIANT_TYPE ("(iiay)"), NULL, 0);
}

static GVariant *
get_item_property (PosternTrayItem *self,
                   const char *name)
{
  if (g_str_equal (name, "Category"))
    return g_variant_new_string ("Communications");
  if (g_str_equal (name, "Id"))
    return g_variant_new_string (self->id);
  if (g_str_equal (name, "Title"))
    return g_variant_new_string (self->title ? self->title : "");
  if (g_str_equal (name, "Status"))
    return g_variant_new_string (status_to_string (self->status));
  if (g_str_equal (name, "WindowId"))
    return g_variant_new_int32 (0);
  if (g_str_equal (name, "IconThemePath"))
    return g_variant_new_string (self->icon_theme_path ? self->icon_theme_path : "");
  if (g_str_equal (name, "Menu"))
    return g_variant_new_object_path (self->menu_path);
  if (g_str_equal (name, "ItemIsMenu"))
    return g_variant_new_boolean (FALSE);
  if (g_str_equal (name, "IconName"))
    return g_variant_new_string (self->icon_name ? self->icon_name : "");
  if (g_str_equal (name, "OverlayIconName"))
    return g_variant_new_string (self->overlay_icon_name ? self->overlay_icon_name : "");
  if (g_str_equal (name, "AttentionIconName"))
    return g_variant_new_string (self->attention_icon_name ? self->attention_icon_name : "");
  if (g_str_equal (name, "AttentionMovieName"))
    return g_variant_new_string ("");
  if (g_str_equal (name, "IconPixmap") || g_str_equal (name, "OverlayIconPixmap") || g_str_equal (name, "AttentionIconPixmap"))
    return empty_pixmaps ();
  if (g_str_equal (name, "ToolTip"))
    return g_variant_new ("(s@a(iiay)ss)",
                          self->icon_name ? self->icon_name : "",
                          empty_pixmaps (),
                          self->tooltip_title ? self->tooltip_title : "",
                          self->tooltip_body ? self->tooltip_body : "");
  return NULL;
}

/* Emits the spec's New* signal and, for hosts that prefer it, the standard
 * PropertiesChanged carrying the new values. */
static void
emit_changed (PosternTrayItem *self,
              const char *signal_name,
              GVariant *signal_args,
              const char *property_name)
{
  g_autoptr (GVariant) args = signal_args ? g_variant_ref_sink (signal_args) : NULL;
  GVariantBuilder changed;

  if (self->registration_id == 0)
    return;

  g_dbus_connection_emit_signal (self->connection, NULL, POSTERN_TRAY_ITEM_OBJECT_PATH,
                                 ITEM_INTERFACE, signal_name, args, NULL);

  g_variant_builder_init (&changed, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add (&changed, "{sv}", property_name,
                         get_item_property (self, property_name));
  g_dbus_connection_emit_signal (self->connection, NULL, POSTERN_TRAY_ITEM_OBJECT_PATH,
                                 "org.freedesktop.DBus.Properties", "PropertiesChanged",
                                 g_variant_new ("(sa{sv}as)", ITEM_INTERFACE, &changed, NULL),
                                 NULL);
}

typedef struct
{
  PosternTrayItem *self;
  guint signal_id;
  int x;
  int y;
} PendingActivation;

static void
activation_flushed_cb (GObject *object,
                       GAsyncResult *result,
                       gpointer user_data)
{
  g_autofree PendingActivation *pending = user_data;
  g_autoptr (PosternTrayItem) self = pending->self;

  /* A failed flush means the connection closed; the program may still want
   * to act on the click (raise its window), so emit either way. */
  g_dbus_connection_flush_finish (G_DBUS_CONNECTION (object), result, NULL);
  g_signal_emit (self, pending->signal_id, 0, pending->x, pending->y);
}

/* The reply goes out first and the program hears of the click only once the
 * connection is flushed: a handler that quits the program must not leave the
 * host waiting for a reply that never comes. */
static void
queue_activation (PosternTrayItem *self,
                  guint signal_id,
                  int x,
                  int y)
{
  PendingActivation *pending = g_new0 (PendingActivation, 1);

  pending->self = g_object_ref (self);
  pending->signal_id = signal_id;
  pending->x = x;
  pending->y = y;
  g_dbus_connection_flush (self->connection, NULL, activation_flushed_cb, pending);
}

static void
item_method_call_cb (GDBusConnection *connection,
                     const char *sender,
                     const char *object_path,
                     const char *interface_name,
                     const char *method_name,
                     GVariant *parameters,
                     GDBusMethodInvocation *invocation,
                     gpointer user_data)
{
  PosternTrayItem *self = user_data;

  if (g_str_equal (method_name, "Activate") || g_str_equal (method_name, "SecondaryActivate"))
    {
      gboolean primary = g_str_equal (method_name, "Activate");
      int x = 0;
      int y = 0;

      g_variant_get (parameters, "(ii)", &x, &y);
      g_dbus_method_invocation_return_value (invocation, NULL);
      queue_activation (self, signals[primary ? SIGNAL_ACTIVATE : SIGNAL_SECONDARY_ACTIVATE], x, y);
    }
  else if (g_str_equal (method_name, "ProvideXdgActivationToken"))
    {
      const char *token = NULL;

      g_variant_get (parameters, "(&s)", &token);
      g_free (self->activation_token);
      self->activation_token = g_strdup (token);
      g_dbus_method_invocation_return_value (invocation, NULL);
    }
  else if (g_str_equal (method_name, "ContextMenu") || g_str_equal (method_name, "Scroll"))
    {
      /* Hosts show the dbusmenu; there is no menu of our own to pop up. */
      g_dbus_method_invocation_return_value (invocation, NULL);
    }
  else
    {
      g_dbus_method_invocation_return_error (invocation, G_DBUS_ERROR, G_DBUS_ERROR_UNKNOWN_METHOD,
                                             "Unknown method %s", method_name);
    }
}

static GVariant *
item_get_property_cb (GDBusConnection *connection,
                      const char *sender,
                      const char *object_path,
                      const char *interface_name,
                      const char *property_name,
                      GError **error,
                      gpointer user_data)
{
  PosternTrayItem *self = user_data;
  GVariant *value = get_item_property (self, property_name);

  if (value == NULL)
    g_set_error (error, G_DBUS_ERROR, G_DBUS_ERROR_UNKNOWN_PROPERTY,
                 "Unknown property %s", property_name);
  return value;
}

static const GDBusInterfaceVTable item_vtable = {
  .method_call = item_method_call_cb,
  .get_property = item_get_property_cb,
};

static void
set_registered (PosternTrayItem *self,
                gboolean registered)
{
  if (self->registered == registered)
    return;
  self->registered = registered;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_REGISTERED]);
}

static void
register_item_cb (GObject *object,
                  GAsyncResult *result,
                  gpointer user_data)
{
  PosternTrayItem *self = user_data;
  g_autoptr (GError) error = NULL;
  g_autoptr (GVariant) reply = NULL;

  reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (object), result, &error);
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  if (reply == NULL)
    {
      /* The watcher may have gone away meanwhile; it will be retried when a
       * watcher or host appears again. */
      g_debug ("StatusNotifierWatcher refused the item: %s", error->message);
      return;
    }

  g_debug ("Registered with the StatusNotifierWatcher as %s",
           g_dbus_connection_get_unique_name (self->connection));
  set_registered (self, TRUE);
}

static void
register_item (PosternTrayItem *self)
{
  const char *unique_name = g_dbus_connection_get_unique_name (self->connection);

  if (self->watcher_owner == NULL || unique_name == NULL)
    return;

  g_dbus_connection_call (self->connection, self->watcher_owner, WATCHER_PATH,
                          WATCHER_INTERFACE, "RegisterStatusNotifierItem",
                          g_variant_new ("(s)", unique_name), NULL,
                          G_DBUS_CALL_FLAGS_NO_AUTO_START, -1,
                          self->watcher_cancellable, register_item_cb, self);
}

static void
host_registered_cb (GDBusConnection *connection,
                    const char *sender_name,
                    const char *object_path,
                    const char *interface_name,
                    const char *signal_name,
                    GVariant *parameters,
                    gpointer user_data)
{
  PosternTrayItem *self = user_data;

  /* Also after a panel restart: a new host does not know us yet. */
  g_debug ("A StatusNotifierHost registered; registering the item");
  register_item (self);
}

static void
host_query_cb (GObject *object,
               GAsyncResult *result,
               gpointer user_data)
{
  PosternTrayItem *self = user_data;
  g_autoptr (GError) error = NULL;
  g_autoptr (GVariant) reply = NULL;
  g_autoptr (GVariant) value = NULL;

  reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (object), result, &error);
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  if (reply == NULL)
    {
      /* An old watcher without the property: register and let it decide. */
      g_debug ("Cannot read IsStatusNotifierHostRegistered: %s", error->message);
      register_item (self);
      return;
    }

  g_variant_get (reply, "(v)", &value);
  if (!g_variant_is_of_type (value, G_VARIANT_TYPE_BOOLEAN) || g_variant_get_boolean (value))
    register_item (self);
  else
    g_debug ("StatusNotifierWatcher has no host yet; waiting for one");
}

static void
forget_watcher (PosternTrayItem *self)
{
  g_cancellable_cancel (self->watcher_cancellable);
  g_clear_object (&self->watcher_cancellable);
  if (self->host_registered_id != 0)
    {
      g_dbus_connection_signal_unsubscribe (self->connection, self->host_registered_id);
      self->host_registered_id = 0;
    }
  g_clear_pointer (&self->watcher_owner, g_free);
}

static void
watcher_appeared_cb (GDBusConnection *connection,
                     const char *name,
                     const char *name_owner,
                     gpointer user_data)
{
  PosternTrayItem *self = user_data;

  forget_watcher (self);
  set_registered (self, FALSE);

  self->watcher_owner = g_strdup (name_owner);
  self->watcher_cancellable = g_cancellable_new ();
  /* Match on the owner's unique name: a signal from anyone else claiming to
   * be the watcher is ignored. */
  self->host_registered_id = g_dbus_connection_signal_subscribe (connection, name_owner, WATCHER_INTERFACE,
                                                                 "StatusNotifierHostRegistered", WATCHER_PATH,
                                                                 NULL, G_DBUS_SIGNAL_FLAGS_NONE,
                                                                 host_registered_cb, self, NULL);

  g_dbus_connection_call (connection, name_owner, WATCHER_PATH,
                          "org.freedesktop.DBus.Properties", "Get",
                          g_variant_new ("(ss)", WATCHER_INTERFACE,
                                         "IsStatusNotifierHostRegistered"),
                          G_VARIANT_TYPE ("(v)"), G_DBUS_CALL_FLAGS_NO_AUTO_START, -1,
                          self->watcher_cancellable, host_query_cb, self);
}

static void
watcher_vanished_cb (GDBusConnection *connection,
                     const char *name,
                     gpointer user_data)
{
  PosternTrayItem *self = user_data;

  /* Keep the watch and the exported object: registration resumes when a
   * watcher appears again. */
  forget_watcher (self);
  set_registered (self, FALSE);
}

static gboolean
postern_tray_item_initable_init (GInitable *initable,
                                 GCancellable *cancellable,
                                 GError **error)
{
  PosternTrayItem *self = POSTERN_TRAY_ITEM (initable);

  g_return_val_if_fail (G_IS_DBUS_CONNECTION (self->connection), FALSE);

  if (self->registration_id != 0)
    return TRUE;

  self->registration_id = g_dbus_connection_register_object (self->connection, POSTERN_TRAY_ITEM_OBJECT_PATH,
                                                             get_interface_info (), &item_vtable,
                                                             self, NULL, error);
  if (self->registration_id == 0)
    return FALSE;

  self->watch_id = g_bus_watch_name_on_connection (self->connection, POSTERN_TRAY_WATCHER_NAME,
                                                   G_BUS_NAME_WATCHER_FLAGS_NONE,
                                                   watcher_appeared_cb, watcher_vanished_cb,
                                                   self, NULL);
  return TRUE;
}

static void
postern_tray_item_initable_iface_init (GInitableIface *iface)
{
  iface->init = postern_tray_item_initable_init;
}

static void
postern_tray_item_dispose (GObject *object)
{
  PosternTrayItem *self = POSTERN_TRAY_ITEM (object);

  if (self->watch_id != 0)
    {
      g_bus_unwatch_name (self->watch_id);
      self->watch_id = 0;
    }
  forget_watcher (self);
  if (self->registration_id != 0)
    {
      g_dbus_connection_unregister_object (self->connection, self->registration_id);
      self->registration_id = 0;
    }

  G_OBJECT_CLASS (postern_tray_item_parent_class)->dispose (object);
}

static void
postern_tray_item_finalize (GObject *object)
{
  PosternTrayItem *self = POSTERN_TRAY_ITEM (object);

  g_clear_object (&self->connection);
  g_free (self->id);
  g_free (self->menu_path);
  g_free (self->title);
  g_free (self->icon_name);
  g_free (self->attention_icon_name);
  g_free (self->overlay_icon_name);
  g_free (self->icon_theme_path);
  g_free (self->tooltip_title);
  g_free (self->tooltip_body);
  g_free (self->activation_token);

  G_OBJECT_CLASS (postern_tray_item_parent_class)->finalize (object);
}

static void
postern_tray_item_get_property (GObject *object,
                                guint prop_id,
                                GValue *value,
                                GParamSpec *pspec)
{
  PosternTrayItem *self = POSTERN_TRAY_ITEM (object);

  switch (prop_id)
    {
      case PROP_CONNECTION:
        g_value_set_object (value, self->connection);
        break;
      case PROP_ID:
        g_value_set_string (value, self->id);
        break;
      case PROP_MENU_PATH:
        g_value_set_string (value, self->menu_path);
        break;
      case PROP_TITLE:
        g_value_set_string (value, self->title);
        break;
      case PROP_ICON_NAME:
        g_value_set_string (value, self->icon_name);
        break;
      case PROP_ATTENTION_ICON_NAME:
        g_value_set_string (value, self->attention_icon_name);
        break;
      case PROP_OVERLAY_ICON_NAME:
        g_value_set_string (value, self->overlay_icon_name);
        break;
      case PROP_ICON_THEME_PATH:
        g_value_set_string (value, self->icon_theme_path);
        break;
      case PROP_STATUS:
        g_value_set_enum (value, self->status);
        break;
      case PROP_TOOLTIP_TITLE:
        g_value_set_string (value, self->tooltip_title);
        break;
      case PROP_TOOLTIP_BODY:
        g_value_set_string (value, self->tooltip_body);
        break;
      case PROP_REGISTERED:
        g_value_set_boolean (value, self->registered);
        break;
      default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
postern_tray_item_set_property (GObject *object,
                                guint prop_id,
                                const GValue *value,
                                GParamSpec *pspec)
{
  PosternTrayItem *self = POSTERN_TRAY_ITEM (object);

  switch (prop_id)
    {
      case PROP_CONNECTION:
        self->connection = g_value_dup_object (value);
        break;
      case PROP_ID:
        self->id = g_value_dup_string (value);
        break;
      case PROP_MENU_PATH:
        self->menu_path = g_value_dup_string (value);
        break;
      case PROP_TITLE:
        postern_tray_item_set_title (self, g_value_get_string (value));
        break;
      case PROP_ICON_NAME:
        postern_tray_item_set_icon_name (self, g_value_get_string (value));
        break;
      case PROP_ATTENTION_ICON_NAME:
        postern_tray_item_set_attention_icon_name (self, g_value_get_string (value));
        break;
      case PROP_OVERLAY_ICON_NAME:
        postern_tray_item_set_overlay_icon_name (self, g_value_get_string (value));
        break;
      case PROP_ICON_THEME_PATH:
        postern_tray_item_set_icon_theme_path (self, g_value_get_string (value));
        break;
      case PROP_STATUS:
        postern_tray_item_set_status (self, g_value_get_enum (value));
        break;
      case PROP_TOOLTIP_TITLE:
        postern_tray_item_set_tooltip (self, g_value_get_string (value), self->tooltip_body);
        break;
      case PROP_TOOLTIP_BODY:
        postern_tray_item_set_tooltip (self, self->tooltip_title, g_value_get_string (value));
        break;
      default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
postern_tray_item_constructed (GObject *object)
{
  PosternTrayItem *self = POSTERN_TRAY_ITEM (object);

  G_OBJECT_CLASS (postern_tray_item_parent_class)->constructed (object);

  if (self->id == NULL)
    self->id = g_strdup (g_get_prgname () ? g_get_prgname () : "postern");
  if (self->menu_path == NULL || !g_variant_is_object_path (self->menu_path))
    {
      g_free (self->menu_path);
      self->menu_path = g_strdup ("/NO_DBUSMENU");
    }
}

static void
postern_tray_item_class_init (PosternTrayItemClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->constructed = postern_tray_item_constructed;
  object_class->dispose = postern_tray_item_dispose;
  object_class->finalize = postern_tray_item_finalize;
  object_class->get_property = postern_tray_item_get_property;
  object_class->set_property = postern_tray_item_set_property;

  properties[PROP_CONNECTION] = g_param_spec_object ("connection", NULL, NULL, G_TYPE_DBUS_CONNECTION,
                                                     G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  properties[PROP_ID] = g_param_spec_string ("id", NULL, NULL, NULL,
                                             G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  properties[PROP_MENU_PATH] = g_param_spec_string ("menu-path", NULL, NULL, NULL,
                                                    G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  properties[PROP_TITLE] = g_param_spec_string ("title", NULL, NULL, NULL,
                                                G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_ICON_NAME] = g_param_spec_string ("icon-name", NULL, NULL, NULL,
                                                    G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_ATTENTION_ICON_NAME] = g_param_spec_string ("attention-icon-name", NULL, NULL, NULL,
                                                              G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_OVERLAY_ICON_NAME] = g_param_spec_string ("overlay-icon-name", NULL, NULL, NULL,
                                                            G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_ICON_THEME_PATH] = g_param_spec_string ("icon-theme-path", NULL, NULL, NULL,
                                                          G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_STATUS] = g_param_spec_enum ("status", NULL, NULL, POSTERN_TYPE_TRAY_STATUS,
                                               POSTERN_TRAY_STATUS_ACTIVE,
                                               G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_TOOLTIP_TITLE] = g_param_spec_string ("tooltip-title", NULL, NULL, NULL,
                                                        G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_TOOLTIP_BODY] = g_param_spec_string ("tooltip-body", NULL, NULL, NULL,
                                                       G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_REGISTERED] = g_param_spec_boolean ("registered", NULL, NULL, FALSE,
                                                      G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  /**
   * PosternTrayItem::activate:
   * @x: pointer position the host reported, or 0
   * @y: pointer position the host reported, or 0
   *
   * The host asked to open the program (KDE: left click; GNOME: double
   * click). Emitted after the reply has been flushed.
   */
  signals[SIGNAL_ACTIVATE] = g_signal_new ("activate", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                           0, NULL, NULL, NULL, G_TYPE_NONE, 2, G_TYPE_INT, G_TYPE_INT);

  /**
   * PosternTrayItem::secondary-activate:
   * @x: pointer position the host reported, or 0
   * @y: pointer position the host reported, or 0
   *
   * Middle click on most hosts.
   */
  signals[SIGNAL_SECONDARY_ACTIVATE] = g_signal_new ("secondary-activate", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                                     0, NULL, NULL, NULL, G_TYPE_NONE, 2, G_TYPE_INT, G_TYPE_INT);
}

static void
postern_tray_item_init (PosternTrayItem *self)
{
  self->status = POSTERN_TRAY_STATUS_ACTIVE;
}

/**
 * postern_tray_item_new:
 * @connection: the session bus connection to export on
 * @id: stable item id (the application id)
 * @menu_path: (nullable): object path of the dbusmenu, e.g. "/MenuBar"
 * @error: return location for an error
 *
 * Exports /StatusNotifierItem on @connection, then starts watching for
 * org.kde.StatusNotifierWatcher. Fails only if the object cannot be
 * exported (the path is taken).
 *
 * Returns: (transfer full): the item, or %NULL with @error set
 */
PosternTrayItem *
postern_tray_item_new (GDBusConnection *connection,
                       const char *id,
                       const char *menu_path,
                       GError **error)
{
  g_return_val_if_fail (G_IS_DBUS_CONNECTION (connection), NULL);
  g_return_val_if_fail (id != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  return g_initable_new (POSTERN_TYPE_TRAY_ITEM, NULL, error,
                         "connection", connection,
                         "id", id,
                         "menu-path", menu_path,
                         NULL);
}

GDBusConnection *
postern_tray_item_get_connection (PosternTrayItem *self)
{
  g_return_val_if_fail (POSTERN_IS_TRAY_ITEM (self), NULL);
  return self->connection;
}

const char *
postern_tray_item_get_id (PosternTrayItem *self)
{
  g_return_val_if_fail (POSTERN_IS_TRAY_ITEM (self), NULL);
  return self->id;
}

static gboolean
replace_string (char **field,
                const char *value)
{
  if (g_strcmp0 (*field, value) == 0)
    return FALSE;
  g_free (*field);
  *field = g_strdup (value);
  return TRUE;
}

const char *
postern_tray_item_get_title (PosternTrayItem *self)
{
  g_return_val_if_fail (POSTERN_IS_TRAY_ITEM (self), NULL);
  return self->title;
}

void
postern_tray_item_set_title (PosternTrayItem *self,
                             const char *title)
{
  g_return_if_fail (POSTERN_IS_TRAY_ITEM (self));

  if (!replace_string (&self->title, title))
    return;
  emit_changed (self, "NewTitle", NULL, "Title");
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_TITLE]);
}

const char *
postern_tray_item_get_icon_name (PosternTrayItem *self)
{
  g_return_val_if_fail (POSTERN_IS_TRAY_ITEM (self), NULL);
  return self->icon_name;
}

void
postern_tray_item_set_icon_name (PosternTrayItem *self,
                                 const char *icon_name)
{
  g_return_if_fail (POSTERN_IS_TRAY_ITEM (self));

  if (!replace_string (&self->icon_name, icon_name))
    return;
  emit_changed (self, "NewIcon", NULL, "IconName");
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_ICON_NAME]);
}

const char *
postern_tray_item_get_attention_icon_name (PosternTrayItem *self)
{
  g_return_val_if_fail (POSTERN_IS_TRAY_ITEM (self), NULL);
  return self->attention_icon_name;
}

void
postern_tray_item_set_attention_icon_name (PosternTrayItem *self,
                                           const char *icon_name)
{
  g_return_if_fail (POSTERN_IS_TRAY_ITEM (self));

  if (!replace_string (&self->attention_icon_name, icon_name))
    return;
  emit_changed (self, "NewAttentionIcon", NULL, "AttentionIconName");
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_ATTENTION_ICON_NAME]);
}

const char *
postern_tray_item_get_overlay_icon_name (PosternTrayItem *self)
{
  g_return_val_if_fail (POSTERN_IS_TRAY_ITEM (self), NULL);
  return self->overlay_icon_name;
}

void
postern_tray_item_set_overlay_icon_name (PosternTrayItem *self,
                                         const char *icon_name)
{
  g_return_if_fail (POSTERN_IS_TRAY_ITEM (self));

  if (!replace_string (&self->overlay_icon_name, icon_name))
    return;
  emit_changed (self, "NewOverlayIcon", NULL, "OverlayIconName");
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_OVERLAY_ICON_NAME]);
}

const char *
postern_tray_item_get_icon_theme_path (PosternTrayItem *self)
{
  g_return_val_if_fail (POSTERN_IS_TRAY_ITEM (self), NULL);
  return self->icon_theme_path;
}

void
postern_tray_item_set_icon_theme_path (PosternTrayItem *self,
                                       const char *path)
{
  g_return_if_fail (POSTERN_IS_TRAY_ITEM (self));

  if (!replace_string (&self->icon_theme_path, path))
    return;
  emit_changed (self, "NewIconThemePath",
                g_variant_new ("(s)", path ? path : ""), "IconThemePath");
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_ICON_THEME_PATH]);
}

PosternTrayStatus
postern_tray_item_get_status (PosternTrayItem *self)
{
  g_return_val_if_fail (POSTERN_IS_TRAY_ITEM (self), POSTERN_TRAY_STATUS_ACTIVE);
  return self->status;
}

void
postern_tray_item_set_status (PosternTrayItem *self,
                              PosternTrayStatus status)
{
  g_return_if_fail (POSTERN_IS_TRAY_ITEM (self));
  g_return_if_fail (status <= POSTERN_TRAY_STATUS_NEEDS_ATTENTION);

  if (self->status == status)
    return;
  self->status = status;
  emit_changed (self, "NewStatus",
                g_variant_new ("(s)", status_to_string (status)), "Status");
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_STATUS]);
}

const char *
postern_tray_item_get_tooltip_title (PosternTrayItem *self)
{
  g_return_val_if_fail (POSTERN_IS_TRAY_ITEM (self), NULL);
  return self->tooltip_title;
}

const char *
postern_tray_item_get_tooltip_body (PosternTrayItem *self)
{
  g_return_val_if_fail (POSTERN_IS_TRAY_ITEM (self), NULL);
  return self->tooltip_body;
}

void
postern_tray_item_set_tooltip (PosternTrayItem *self,
                               const char *title,
                               const char *body)
{
  g_autofree char *old_body = NULL;
  gboolean title_changed;
  gboolean body_changed;

  g_return_if_fail (POSTERN_IS_TRAY_ITEM (self));

  /* @title or @body may point at the current values. */
  old_body = g_strdup (body);
  title_changed = replace_string (&self->tooltip_title, title);
  body_changed = replace_string (&self->tooltip_body, old_body);
  if (!title_changed && !body_changed)
    return;

  emit_changed (self, "NewToolTip", NULL, "ToolTip");
  if (title_changed)
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_TOOLTIP_TITLE]);
  if (body_changed)
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_TOOLTIP_BODY]);
}

/**
 * postern_tray_item_get_registered:
 *
 * Returns: whether a StatusNotifierWatcher accepted the item, i.e. a tray
 *   exists. Programs use this to decide whether "close to tray" makes sense.
 */
gboolean
postern_tray_item_get_registered (PosternTrayItem *self)
{
  g_return_val_if_fail (POSTERN_IS_TRAY_ITEM (self), FALSE);
  return self->registered;
}

/**
 * postern_tray_item_take_activation_token:
 *
 * Returns: (transfer full) (nullable): the XDG activation token the host
 *   provided before the last activation, cleared by this call
 */
char *
postern_tray_item_take_activation_token (PosternTrayItem *self)
{
  g_return_val_if_fail (POSTERN_IS_TRAY_ITEM (self), NULL);
  return g_steal_pointer (&self->activation_token);
}
