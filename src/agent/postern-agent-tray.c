/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <glib/gi18n.h>

#include "postern-agent-tray.h"
#include "postern-dbusmenu-exporter.h"

/* A long label would make the panel menu as wide as the screen. */
#define MAX_LABEL_CHARS 40

#define OFFLINE_OVERLAY_ICON "network-offline-symbolic"
#define ATTENTION_ICON       "mail-unread"

struct _PosternAgentTray
{
  GObject parent_instance;

  /* Not a reference: the application owns the tray and outlives it. */
  GApplication *application;

  PosternTrayItem *item;
  PosternDbusmenuExporter *exporter;
  GMenu *menu;
  GMenu *recent;
  GMenu *alerts_section;

  GListModel *channels;
  gulong channels_changed_id;
  char *recent_signature;

  guint unread_alerts;
  gboolean online;
  char *status_message;
};

G_DEFINE_FINAL_TYPE (PosternAgentTray, postern_agent_tray, G_TYPE_OBJECT)

/* A channel's label is the user's text: its underscores are not mnemonics. */
static char *
menu_label_for_text (const char *text)
{
  g_autoptr (GString) label = g_string_new (NULL);
  glong n_chars = g_utf8_strlen (text, -1);
  const char *end = n_chars > MAX_LABEL_CHARS ? g_utf8_offset_to_pointer (text, MAX_LABEL_CHARS - 1) : text + strlen (text);

  for (const char *p = text; p < end; p++)
    {
      if (*p == '_')
        g_string_append (label, "__");
      else if (*p == '\n' || *p == '\r' || *p == '\t')
        g_string_append_c (label, ' ');
      else
        g_string_append_c (label, *p);
    }
  if (n_chars > MAX_LABEL_CHARS)
    g_string_append (label, "…");
  return g_string_free (g_steal_pointer (&label), FALSE);
}

static const char *
channel_display_name (PosternChannel *channel)
{
  const char *label = postern_channel_get_label (channel);

  return label != NULL && label[0] != '\0' ? label : postern_channel_get_address (channel);
}

static GMenuItem *
channel_action_item (const char *label,
                     const char *action,
                     const char *channel_id)
{
  GMenuItem *item = g_menu_item_new (label, NULL);

  g_menu_item_set_action_and_target_value (item, action, g_variant_new_string (channel_id));
  return item;
}

static GMenuModel *
channel_menu (PosternChannel *channel)
{
  GMenu *menu = g_menu_new ();
  g_autoptr (GMenu) confirm = g_menu_new ();
  g_autoptr (GMenuItem) copy = NULL;
  g_autoptr (GMenuItem) qr = NULL;
  g_autoptr (GMenuItem) pause = NULL;
  g_autoptr (GMenuItem) revoke = NULL;
  g_autofree char *name = menu_label_for_text (channel_display_name (channel));
  /* TRANSLATORS: the confirmation inside the tray's Revoke submenu; %s is the channel's name */
  g_autofree char *confirm_label = g_strdup_printf (_ ("Revoke “%s” for Good"), name);
  const char *id = postern_channel_get_id (channel);

  copy = channel_action_item (_ ("_Copy Address"), "app.copy", id);
  g_menu_append_item (menu, copy);
  qr = channel_action_item (_ ("Show _QR Code"), "app.show-qr", id);
  g_menu_append_item (menu, qr);
  if (postern_channel_get_state (channel) == POSTERN_CHANNEL_STATE_PAUSED)
    {
      /* No action: shown insensitive, as a state. */
      g_menu_append (menu, _ ("Paused"), NULL);
    }
  else
    {
      pause = channel_action_item (_ ("_Pause"), "app.pause", id);
      g_menu_append_item (menu, pause);
    }

  /* A menu cannot show a dialog; revoking takes a second, deliberate
   * click in a submenu of its own. */
  revoke = channel_action_item (confirm_label, "app.revoke", id);
  g_menu_append_item (confirm, revoke);
  g_menu_append_submenu (menu, _ ("_Revoke…"), G_MENU_MODEL (confirm));
  return G_MENU_MODEL (menu);
}

static void
rebuild_recent (PosternAgentTray *self)
{
  g_autoptr (GString) signature = g_string_new (NULL);
  g_autoptr (GPtrArray) shown = g_ptr_array_new_with_free_func (g_object_unref);
  guint n_channels = self->channels ? g_list_model_get_n_items (self->channels) : 0;

  for (guint i = 0; i < n_channels && shown->len < POSTERN_AGENT_TRAY_MAX_RECENT; i++)
    {
      g_autoptr (PosternChannel) channel = g_list_model_get_item (self->channels, i);

      if (postern_channel_get_state (channel) == POSTERN_CHANNEL_STATE_REVOKED)
        continue;
      g_string_append_printf (signature, "%s\x1f%s\x1f%d\x1e", postern_channel_get_id (channel),
                              channel_display_name (channel), postern_channel_get_state (channel));
      g_ptr_array_add (shown, g_steal_pointer (&channel));
    }

  /* The engine reports every change; the menu (and every host showing it)
   * is only rebuilt when what it shows changed. */
  if (self->recent_signature != NULL && g_str_equal (self->recent_signature, signature->str))
    return;
  g_free (self->recent_signature);
  self->recent_signature = g_strdup (signature->str);

  g_menu_remove_all (self->recent);
  for (guint i = 0; i < shown->len; i++)
    {
      PosternChannel *channel = g_ptr_array_index (shown, i);
      g_autofree char *name = menu_label_for_text (channel_display_name (channel));
      g_autoptr (GMenuModel) submenu = channel_menu (channel);

      g_menu_append_submenu (self->recent, name, submenu);
    }
  if (shown->len == 0)
    g_menu_append (self->recent, _ ("No Channels Yet"), NULL);
}

static void
update_alerts (PosternAgentTray *self)
{
  g_autofree char *label = NULL;

  g_menu_remove_all (self->alerts_section);
  if (self->unread_alerts > 0)
    {
      /* TRANSLATORS: tray menu item; %u is the number of unread alerts */
      label = g_strdup_printf (_ ("_Alerts (%u)"), self->unread_alerts);
      g_menu_append (self->alerts_section, label, "app.open");
    }
  else
    {
      g_menu_append (self->alerts_section, _ ("No Unread Alerts"), NULL);
    }
}

static void
update_item (PosternAgentTray *self)
{
  g_autoptr (GString) body = g_string_new (NULL);

  if (self->item == NULL)
    return;

  postern_tray_item_set_status (self->item, self->unread_alerts > 0 ? POSTERN_TRAY_STATUS_NEEDS_ATTENTION : POSTERN_TRAY_STATUS_ACTIVE);
  postern_tray_item_set_overlay_icon_name (self->item, self->online ? NULL : OFFLINE_OVERLAY_ICON);

  if (self->status_message != NULL && self->status_message[0] != '\0')
    g_string_append (body, self->status_message);
  else
    g_string_append (body, self->online ? _ ("Online") : _ ("Offline"));
  if (self->unread_alerts > 0)
    {
      g_string_append_c (body, '\n');
      g_string_append_printf (body,
                              /* TRANSLATORS: tray tooltip line */
                              ngettext ("%u unread alert", "%u unread alerts",
                                        self->unread_alerts),
                              self->unread_alerts);
    }
  postern_tray_item_set_tooltip (self->item, "Postern", body->str);
}

static void
item_activate_cb (PosternAgentTray *self,
                  int x,
                  int y,
                  PosternTrayItem *item)
{
  g_action_group_activate_action (G_ACTION_GROUP (self->application), "open", NULL);
}

static void
build_menu (PosternAgentTray *self)
{
  g_autoptr (GMenu) open_section = g_menu_new ();
  g_autoptr (GMenu) new_section = g_menu_new ();
  g_autoptr (GMenu) quit_section = g_menu_new ();

  /* First: GNOME's extension opens the menu on a left click, so opening
   * the app must be one click away in the menu itself. */
  g_menu_append (open_section, _ ("_Open Postern"), "app.open");
  g_menu_append_section (self->menu, NULL, G_MENU_MODEL (open_section));

  g_menu_append (new_section, _ ("_New Address"), "app.new-channel");
  g_menu_append (new_section, _ ("New One-Time Address as _QR"), "app.new-one-time-qr");
  g_menu_append_submenu (new_section, _ ("_Recent Channels"), G_MENU_MODEL (self->recent));
  g_menu_append_section (self->menu, NULL, G_MENU_MODEL (new_section));

  g_menu_append_section (self->menu, NULL, G_MENU_MODEL (self->alerts_section));

  g_menu_append (quit_section, _ ("_Quit"), "app.quit");
  g_menu_append_section (self->menu, NULL, G_MENU_MODEL (quit_section));

  rebuild_recent (self);
  update_alerts (self);
}

static void
postern_agent_tray_dispose (GObject *object)
{
  PosternAgentTray *self = POSTERN_AGENT_TRAY (object);

  if (self->channels != NULL)
    g_clear_signal_handler (&self->channels_changed_id, self->channels);
  g_clear_object (&self->channels);
  g_clear_object (&self->item);
  g_clear_object (&self->exporter);

  G_OBJECT_CLASS (postern_agent_tray_parent_class)->dispose (object);
}

static void
postern_agent_tray_finalize (GObject *object)
{
  PosternAgentTray *self = POSTERN_AGENT_TRAY (object);

  g_clear_object (&self->menu);
  g_clear_object (&self->recent);
  g_clear_object (&self->alerts_section);
  g_free (self->recent_signature);
  g_free (self->status_message);

  G_OBJECT_CLASS (postern_agent_tray_parent_class)->finalize (object);
}

static void
postern_agent_tray_class_init (PosternAgentTrayClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = postern_agent_tray_dispose;
  object_class->finalize = postern_agent_tray_finalize;
}

static void
postern_agent_tray_init (PosternAgentTray *self)
{
  self->menu = g_menu_new ();
  self->recent = g_menu_new ();
  self->alerts_section = g_menu_new ();
  self->online = TRUE;
}

/**
 * postern_agent_tray_new:
 * @application: the registered agent; its actions back the menu
 * @error: return location for an error
 *
 * Exports the menu and the item on @application's bus connection. Fails
 * when the application has no connection or the paths are taken.
 */
PosternAgentTray *
postern_agent_tray_new (GApplication *application,
                        GError **error)
{
  g_autoptr (PosternAgentTray) self = NULL;
  GDBusConnection *connection;

  g_return_val_if_fail (G_IS_APPLICATION (application), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  connection = g_application_get_dbus_connection (application);
  if (connection == NULL)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_NOT_CONNECTED,
                           "The agent is not on the session bus");
      return NULL;
    }

  self = g_object_new (POSTERN_TYPE_AGENT_TRAY, NULL);
  self->application = application;
  build_menu (self);

  /* The menu first: hosts read the item's Menu property right away. */
  self->exporter = postern_dbusmenu_exporter_new (connection, POSTERN_DBUSMENU_OBJECT_PATH,
                                                  G_MENU_MODEL (self->menu),
                                                  G_ACTION_GROUP (application), error);
  if (self->exporter == NULL)
    return NULL;
  self->item = postern_tray_item_new (connection, g_application_get_application_id (application),
                                      POSTERN_DBUSMENU_OBJECT_PATH, error);
  if (self->item == NULL)
    return NULL;

  postern_tray_item_set_title (self->item, "Postern");
  postern_tray_item_set_icon_name (self->item, APP_ID);
  postern_tray_item_set_attention_icon_name (self->item, ATTENTION_ICON);
  g_signal_connect_object (self->item, "activate", G_CALLBACK (item_activate_cb), self, G_CONNECT_SWAPPED);
  update_item (self);
  return g_steal_pointer (&self);
}

static void
channels_changed_cb (PosternAgentTray *self,
                     guint position,
                     guint removed,
                     guint added,
                     GListModel *channels)
{
  rebuild_recent (self);
}

void
postern_agent_tray_set_channels (PosternAgentTray *self,
                                 GListModel *channels)
{
  g_return_if_fail (POSTERN_IS_AGENT_TRAY (self));
  g_return_if_fail (channels == NULL || G_IS_LIST_MODEL (channels));

  if (self->channels == channels)
    return;
  if (self->channels != NULL)
    g_clear_signal_handler (&self->channels_changed_id, self->channels);
  g_set_object (&self->channels, channels);
  if (channels != NULL)
    self->channels_changed_id = g_signal_connect_object (channels, "items-changed",
                                                         G_CALLBACK (channels_changed_cb),
                                                         self, G_CONNECT_SWAPPED);
  rebuild_recent (self);
}

void
postern_agent_tray_refresh (PosternAgentTray *self)
{
  g_return_if_fail (POSTERN_IS_AGENT_TRAY (self));
  rebuild_recent (self);
}

void
postern_agent_tray_set_unread_alerts (PosternAgentTray *self,
                                      guint unread_alerts)
{
  g_return_if_fail (POSTERN_IS_AGENT_TRAY (self));

  if (self->unread_alerts == unread_alerts)
    return;
  self->unread_alerts = unread_alerts;
  update_alerts (self);
  update_item (self);
}

void
postern_agent_tray_set_online (PosternAgentTray *self,
                               gboolean online,
                               const char *status_message)
{
  g_return_if_fail (POSTERN_IS_AGENT_TRAY (self));

  online = !!online;
  if (self->online == online && g_strcmp0 (self->status_message, status_message) == 0)
    return;
  self->online = online;
  g_free (self->status_message);
  self->status_message = g_strdup (status_message);
  update_item (self);
}

static void
engine_channel_changed_cb (PosternAgentTray *self)
{
  rebuild_recent (self);
}

static void
engine_status_changed_cb (PosternAgentTray *self,
                          PosternSyncEngine *engine)
{
  postern_agent_tray_set_unread_alerts (self, postern_sync_engine_get_unread_alerts (engine));
  postern_agent_tray_set_online (self,
                                 postern_sync_engine_get_status (engine) == POSTERN_SYNC_STATUS_ONLINE,
                                 postern_sync_engine_get_status_message (engine));
}

/**
 * postern_agent_tray_bind_engine:
 *
 * Follows @engine's channels, unread alerts and connection state for the
 * lifetime of the tray.
 */
void
postern_agent_tray_bind_engine (PosternAgentTray *self,
                                PosternSyncEngine *engine)
{
  g_return_if_fail (POSTERN_IS_AGENT_TRAY (self));
  g_return_if_fail (POSTERN_IS_SYNC_ENGINE (engine));

  postern_agent_tray_set_channels (self, postern_sync_engine_get_channels (engine));
  g_signal_connect_object (engine, "channel-changed", G_CALLBACK (engine_channel_changed_cb),
                           self, G_CONNECT_SWAPPED);
  g_signal_connect_object (engine, "channel-removed", G_CALLBACK (engine_channel_changed_cb),
                           self, G_CONNECT_SWAPPED);
  g_signal_connect_object (engine, "status-changed", G_CALLBACK (engine_status_changed_cb),
                           self, G_CONNECT_SWAPPED);
  engine_status_changed_cb (self, engine);
}

GMenuModel *
postern_agent_tray_get_menu (PosternAgentTray *self)
{
  g_return_val_if_fail (POSTERN_IS_AGENT_TRAY (self), NULL);
  return G_MENU_MODEL (self->menu);
}

PosternTrayItem *
postern_agent_tray_get_item (PosternAgentTray *self)
{
  g_return_val_if_fail (POSTERN_IS_AGENT_TRAY (self), NULL);
  return self->item;
}
