/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <errno.h>
#include <glib/gi18n.h>

#include "postern-preferences-window.h"

#define AGENT_AUTOSTART_FILE AGENT_BUS_NAME ".desktop"

struct _PosternPreferencesWindow
{
  AdwPreferencesWindow parent_instance;

  GtkWidget *kind_row;
  GtkWidget *style_row;
  GtkWidget *qr_row;
  GtkWidget *contact_name_row;
  GtkWidget *notifications_switch;
  GtkWidget *autostart_switch;
  GtkWidget *server_row;
  GtkWidget *user_row;
  GtkWidget *fingerprint_row;
  GtkWidget *status_row;
  GtkWidget *pair_button;
  GtkWidget *sign_out_button;
  GtkWidget *devices_group;
  GtkWidget *devices_list;

  PosternApplication *application;
  GSettings *settings;
  PosternChannelStore *store;
  GCancellable *cancellable;
  guint n_devices;
};

G_DEFINE_FINAL_TYPE (PosternPreferencesWindow, postern_preferences_window, ADW_TYPE_PREFERENCES_WINDOW)

gboolean
postern_preferences_set_autostart (const char *config_dir,
                                   gboolean enabled,
                                   GError **error)
{
  g_autofree char *dir = NULL;
  g_autofree char *path = NULL;
  g_autofree char *contents = NULL;

  g_return_val_if_fail (config_dir != NULL, FALSE);

  dir = g_build_filename (config_dir, "autostart", NULL);
  path = g_build_filename (dir, AGENT_AUTOSTART_FILE, NULL);

  if (g_mkdir_with_parents (dir, 0700) != 0)
    {
      int saved = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved), "%s: %s", dir, g_strerror (saved));
      return FALSE;
    }

  /* A user entry overrides a system one of the same name; Hidden=true
   * switches the agent off at login without touching system files. */
  contents = g_strdup_printf ("[Desktop Entry]\n"
                              "Type=Application\n"
                              "Name=Postern Agent\n"
                              "Exec=postern-agent\n"
                              "NoDisplay=true\n"
                              "X-GNOME-Autostart-enabled=%s\n"
                              "Hidden=%s\n",
                              enabled ? "true" : "false",
                              enabled ? "false" : "true");

  return g_file_set_contents (path, contents, -1, error);
}

static gboolean
get_mapping_cb (GValue *value,
                GVariant *variant,
                gpointer user_data)
{
  const char *const *choices = user_data;
  const char *text = g_variant_get_string (variant, NULL);

  for (guint i = 0; choices[i] != NULL; i++)
    if (g_str_equal (choices[i], text))
      {
        g_value_set_uint (value, i);
        return TRUE;
      }

  g_value_set_uint (value, 0);
  return TRUE;
}

static GVariant *
set_mapping_cb (const GValue *value,
                const GVariantType *expected_type,
                gpointer user_data)
{
  const char *const *choices = user_data;
  guint selected = g_value_get_uint (value);

  if (selected >= g_strv_length ((char **)choices))
    return NULL;

  return g_variant_new_string (choices[selected]);
}

static const char *const kind_choices[] = { "one-time", "relationship", "open", NULL };
static const char *const style_choices[] = { "random", "words", NULL };
static const char *const qr_choices[] = { "mailto", "contact", NULL };

static void
bind_combo (PosternPreferencesWindow *self,
            const char *key,
            GtkWidget *row,
            const char *const *choices)
{
  g_settings_bind_with_mapping (self->settings, key, row, "selected", G_SETTINGS_BIND_DEFAULT,
                                get_mapping_cb, set_mapping_cb, (gpointer)choices, NULL);
}

static void
autostart_changed_cb (PosternPreferencesWindow *self)
{
  g_autoptr (GError) error = NULL;

  if (!postern_preferences_set_autostart (g_get_user_config_dir (),
                                          g_settings_get_boolean (self->settings, "autostart"), &error))
    {
      g_autofree char *title = g_strdup_printf (_ ("Cannot change the start at login: %s"), error->message);

      adw_preferences_window_add_toast (ADW_PREFERENCES_WINDOW (self), adw_toast_new (title));
    }
}

static void
update_account (PosternPreferencesWindow *self)
{
  const char *server = postern_channel_store_get_server (self->store);
  const char *user = postern_channel_store_get_user (self->store);
  const char *fingerprint = postern_channel_store_get_fingerprint (self->store);
  const char *connection = postern_channel_store_get_connection (self->store);
  gboolean paired = postern_channel_store_get_paired (self->store);
  guint pending = postern_channel_store_get_pending (self->store);
  g_autofree char *status = NULL;
  const char *state;

  if (g_strcmp0 (connection, "online") == 0)
    state = _ ("Online");
  else if (g_strcmp0 (connection, "connecting") == 0)
    state = _ ("Connecting…");
  else if (g_strcmp0 (connection, "keyring-locked") == 0)
    state = _ ("Keyring locked");
  else if (g_strcmp0 (connection, "unpaired") == 0 || !paired)
    state = _ ("Not paired");
  else if (g_strcmp0 (connection, "no-agent") == 0)
    state = _ ("Agent not running");
  else
    state = _ ("Offline");

  if (pending > 0)
    status = g_strdup_printf (g_dngettext (GETTEXT_PACKAGE, "%s · %u change waiting", "%s · %u changes waiting", pending),
                              state, pending);
  else
    status = g_strdup (state);

  adw_action_row_set_subtitle (ADW_ACTION_ROW (self->server_row), server != NULL && *server != '\0' ? server : "—");
  adw_action_row_set_subtitle (ADW_ACTION_ROW (self->user_row), user != NULL && *user != '\0' ? user : "—");
  adw_action_row_set_subtitle (ADW_ACTION_ROW (self->fingerprint_row), fingerprint != NULL && *fingerprint != '\0' ? fingerprint : "—");
  adw_action_row_set_subtitle (ADW_ACTION_ROW (self->status_row), status);
  gtk_widget_set_visible (self->pair_button, !paired);
  gtk_widget_set_visible (self->sign_out_button, paired);
}

static void
store_notify_cb (PosternPreferencesWindow *self)
{
  update_account (self);
}

static void
unpair_cb (GObject *object,
           GAsyncResult *result,
           gpointer user_data)
{
  PosternPreferencesWindow *self = user_data;
  g_autoptr (GError) error = NULL;

  if (!postern_dbus_agent1_call_unpair_finish (POSTERN_DBUS_AGENT1 (object), result, &error))
    {
      g_autofree char *message = NULL;

      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        return;
      message = postern_channel_store_error_message (error);
      adw_preferences_window_add_toast (ADW_PREFERENCES_WINDOW (self), adw_toast_new (message));
      return;
    }

  adw_preferences_window_add_toast (ADW_PREFERENCES_WINDOW (self), adw_toast_new (_ ("Signed out")));
}

static void
sign_out_response_cb (PosternPreferencesWindow *self,
                      const char *response)
{
  PosternDBusAgent1 *agent = postern_channel_store_get_agent (self->store);

  if (g_strcmp0 (response, "sign-out") != 0 || agent == NULL)
    return;

  /* Not a reference: a window kept alive past its transient parent (the
   * app quitting while the call is out) crashes GTK 4.8 when it goes. The
   * agent unpairs all the same once asked. */
  postern_dbus_agent1_call_unpair (agent, self->cancellable, unpair_cb, self);
}

static void
sign_out_action_cb (GtkWidget *widget,
                    const char *action_name,
                    GVariant *parameter)
{
  PosternPreferencesWindow *self = POSTERN_PREFERENCES_WINDOW (widget);
  GtkWidget *dialog;

  dialog = adw_message_dialog_new (GTK_WINDOW (self), _ ("Sign Out?"),
                                   _ ("This device forgets its token and its copy of your channels. The channels stay on the server and keep working."));
  adw_message_dialog_add_responses (ADW_MESSAGE_DIALOG (dialog),
                                    "cancel", _ ("_Cancel"),
                                    "sign-out", _ ("_Sign Out"),
                                    NULL);
  adw_message_dialog_set_response_appearance (ADW_MESSAGE_DIALOG (dialog), "sign-out", ADW_RESPONSE_DESTRUCTIVE);
  adw_message_dialog_set_close_response (ADW_MESSAGE_DIALOG (dialog), "cancel");
  gtk_window_set_application (GTK_WINDOW (dialog), gtk_window_get_application (GTK_WINDOW (self)));
  g_signal_connect_object (dialog, "response", G_CALLBACK (sign_out_response_cb), self, G_CONNECT_SWAPPED);
  gtk_window_present (GTK_WINDOW (dialog));
}

/* Devices. */

static GtkWidget *
build_device_row (JsonObject *device)
{
  const char *name = json_object_get_string_member_with_default (device, "name", "");
  gboolean current = json_object_get_boolean_member_with_default (device, "current", FALSE);
  gint64 id = json_object_get_int_member_with_default (device, "id", 0);
  gint64 last_seen = 0;
  g_autofree char *subtitle = NULL;
  GtkWidget *row;

  postern_json_parse_time (json_object_get_string_member_with_default (device, "last_seen_at", ""), &last_seen, NULL);
  if (current)
    subtitle = g_strdup (_ ("This device"));
  else if (last_seen > 0)
    {
      g_autoptr (GDateTime) when = g_date_time_new_from_unix_local (last_seen);
      g_autofree char *date = g_date_time_format (when, "%x %H:%M");

      /* Translators: when a paired device last talked to the server. */
      subtitle = g_strdup_printf (_ ("Last seen %s"), date);
    }

  row = g_object_new (ADW_TYPE_ACTION_ROW, "use-markup", FALSE, "title", name, "subtitle", subtitle, NULL);
  if (!current && id > 0)
    {
      GtkWidget *revoke = gtk_button_new_with_mnemonic (_ ("_Revoke…"));

      gtk_widget_set_valign (revoke, GTK_ALIGN_CENTER);
      gtk_widget_add_css_class (revoke, "destructive-action");
      gtk_actionable_set_action_name (GTK_ACTIONABLE (revoke), "preferences.revoke-device");
      gtk_actionable_set_action_target (GTK_ACTIONABLE (revoke), "x", id);
      g_object_set_data_full (G_OBJECT (revoke), "device-name", g_strdup (name), g_free);
      adw_action_row_add_suffix (ADW_ACTION_ROW (row), revoke);
    }
  g_object_set_data_full (G_OBJECT (row), "device-name", g_strdup (name), g_free);
  g_object_set_data (G_OBJECT (row), "device-id", GINT_TO_POINTER ((int)id));

  return row;
}

static void
list_devices_cb (GObject *object,
                 GAsyncResult *result,
                 gpointer user_data)
{
  PosternPreferencesWindow *self = user_data;
  g_autofree char *json = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonNode) root = NULL;
  JsonArray *devices = NULL;
  GtkWidget *child;

  if (!postern_dbus_agent1_call_list_devices_finish (POSTERN_DBUS_AGENT1 (object), &json, result, &error))
    {
      /* Offline or not paired: there is nothing to show. */
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        gtk_widget_set_visible (self->devices_group, FALSE);
      return;
    }

  root = postern_json_from_string (json, -1, NULL);
  if (root != NULL && JSON_NODE_HOLDS_ARRAY (root))
    devices = json_node_get_array (root);
  else if (root != NULL && JSON_NODE_HOLDS_OBJECT (root) && json_object_has_member (json_node_get_object (root), "devices"))
    devices = json_object_get_array_member (json_node_get_object (root), "devices");

  while ((child = gtk_widget_get_first_child (self->devices_list)) != NULL)
    gtk_list_box_remove (GTK_LIST_BOX (self->devices_list), child);
  self->n_devices = 0;

  for (guint i = 0; devices != NULL && i < json_array_get_length (devices); i++)
    {
      JsonNode *node = json_array_get_element (devices, i);

      if (!JSON_NODE_HOLDS_OBJECT (node))
        continue;
      gtk_list_box_append (GTK_LIST_BOX (self->devices_list), build_device_row (json_node_get_object (node)));
      self->n_devices++;
    }

  gtk_widget_set_visible (self->devices_group, self->n_devices > 0);
}

static void
load_devices (PosternPreferencesWindow *self)
{
  PosternDBusAgent1 *agent = postern_channel_store_get_agent (self->store);

  if (agent == NULL || !postern_channel_store_get_paired (self->store))
    {
      gtk_widget_set_visible (self->devices_group, FALSE);
      return;
    }

  postern_dbus_agent1_call_list_devices (agent, self->cancellable, list_devices_cb, self);
}

static void
paired_notify_cb (PosternPreferencesWindow *self)
{
  load_devices (self);
}

static void
revoke_device_cb (GObject *object,
                  GAsyncResult *result,
                  gpointer user_data)
{
  PosternPreferencesWindow *self = user_data;
  g_autoptr (GError) error = NULL;

  if (!postern_dbus_agent1_call_revoke_device_finish (POSTERN_DBUS_AGENT1 (object), result, &error))
    {
      g_autofree char *message = NULL;

      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        return;
      message = postern_channel_store_error_message (error);
      adw_preferences_window_add_toast (ADW_PREFERENCES_WINDOW (self), adw_toast_new (message));
      return;
    }

  load_devices (self);
}

static void
revoke_device_response_cb (PosternPreferencesWindow *self,
                           const char *response,
                           AdwMessageDialog *dialog)
{
  PosternDBusAgent1 *agent = postern_channel_store_get_agent (self->store);
  gint64 *id = g_object_get_data (G_OBJECT (dialog), "device-id");

  if (g_strcmp0 (response, "revoke") != 0 || agent == NULL || id == NULL)
    return;

  /* Not a reference, as for Unpair: the cancellable guards the window. */
  postern_dbus_agent1_call_revoke_device (agent, *id, self->cancellable, revoke_device_cb, self);
}

static void
revoke_device_action_cb (GtkWidget *widget,
                         const char *action_name,
                         GVariant *parameter)
{
  PosternPreferencesWindow *self = POSTERN_PREFERENCES_WINDOW (widget);
  gint64 *id = g_new (gint64, 1);
  const char *name = "";
  GtkWidget *dialog;

  *id = g_variant_get_int64 (parameter);
  for (GtkWidget *row = gtk_widget_get_first_child (self->devices_list); row != NULL; row = gtk_widget_get_next_sibling (row))
    if (GPOINTER_TO_INT (g_object_get_data (G_OBJECT (row), "device-id")) == (int)*id)
      name = g_object_get_data (G_OBJECT (row), "device-name");

  dialog = adw_message_dialog_new (GTK_WINDOW (self), NULL,
                                   _ ("Its token stops working at once; it has to pair again to see your channels."));
  adw_message_dialog_format_heading (ADW_MESSAGE_DIALOG (dialog), _ ("Revoke “%s”?"), name);
  adw_message_dialog_add_responses (ADW_MESSAGE_DIALOG (dialog),
                                    "cancel", _ ("_Cancel"),
                                    "revoke", _ ("_Revoke"),
                                    NULL);
  adw_message_dialog_set_response_appearance (ADW_MESSAGE_DIALOG (dialog), "revoke", ADW_RESPONSE_DESTRUCTIVE);
  adw_message_dialog_set_default_response (ADW_MESSAGE_DIALOG (dialog), "cancel");
  adw_message_dialog_set_close_response (ADW_MESSAGE_DIALOG (dialog), "cancel");
  gtk_window_set_application (GTK_WINDOW (dialog), gtk_window_get_application (GTK_WINDOW (self)));
  g_object_set_data_full (G_OBJECT (dialog), "device-id", id, g_free);
  g_signal_connect_object (dialog, "response", G_CALLBACK (revoke_device_response_cb), self, G_CONNECT_SWAPPED);
  gtk_window_present (GTK_WINDOW (dialog));
}

void
postern_preferences_window_dump_state (PosternPreferencesWindow *self,
                                       JsonBuilder *builder)
{
  g_return_if_fail (POSTERN_IS_PREFERENCES_WINDOW (self));

  json_builder_set_member_name (builder, "devices");
  json_builder_add_int_value (builder, self->n_devices);
}

static void
postern_preferences_window_dispose (GObject *object)
{
  PosternPreferencesWindow *self = POSTERN_PREFERENCES_WINDOW (object);

  g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  gtk_widget_dispose_template (GTK_WIDGET (self), POSTERN_TYPE_PREFERENCES_WINDOW);
  g_clear_object (&self->store);
  g_clear_object (&self->settings);
  g_clear_object (&self->application);

  G_OBJECT_CLASS (postern_preferences_window_parent_class)->dispose (object);
}

static void
postern_preferences_window_class_init (PosternPreferencesWindowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = postern_preferences_window_dispose;

  gtk_widget_class_set_template_from_resource (widget_class, "/io/github/postern/Postern/ui/postern-preferences-window.ui");
  gtk_widget_class_bind_template_child (widget_class, PosternPreferencesWindow, kind_row);
  gtk_widget_class_bind_template_child (widget_class, PosternPreferencesWindow, style_row);
  gtk_widget_class_bind_template_child (widget_class, PosternPreferencesWindow, qr_row);
  gtk_widget_class_bind_template_child (widget_class, PosternPreferencesWindow, contact_name_row);
  gtk_widget_class_bind_template_child (widget_class, PosternPreferencesWindow, notifications_switch);
  gtk_widget_class_bind_template_child (widget_class, PosternPreferencesWindow, autostart_switch);
  gtk_widget_class_bind_template_child (widget_class, PosternPreferencesWindow, server_row);
  gtk_widget_class_bind_template_child (widget_class, PosternPreferencesWindow, user_row);
  gtk_widget_class_bind_template_child (widget_class, PosternPreferencesWindow, fingerprint_row);
  gtk_widget_class_bind_template_child (widget_class, PosternPreferencesWindow, status_row);
  gtk_widget_class_bind_template_child (widget_class, PosternPreferencesWindow, pair_button);
  gtk_widget_class_bind_template_child (widget_class, PosternPreferencesWindow, sign_out_button);
  gtk_widget_class_bind_template_child (widget_class, PosternPreferencesWindow, devices_group);
  gtk_widget_class_bind_template_child (widget_class, PosternPreferencesWindow, devices_list);

  gtk_widget_class_install_action (widget_class, "preferences.sign-out", NULL, sign_out_action_cb);
  gtk_widget_class_install_action (widget_class, "preferences.revoke-device", "x", revoke_device_action_cb);
}

static void
postern_preferences_window_init (PosternPreferencesWindow *self)
{
  self->cancellable = g_cancellable_new ();
  gtk_widget_init_template (GTK_WIDGET (self));
}

GtkWidget *
postern_preferences_window_new (PosternApplication *application)
{
  PosternPreferencesWindow *self;

  g_return_val_if_fail (POSTERN_IS_APPLICATION (application), NULL);

  self = g_object_new (POSTERN_TYPE_PREFERENCES_WINDOW, "application", application, NULL);
  self->application = g_object_ref (application);
  self->settings = g_object_ref (postern_application_get_settings (application));
  self->store = g_object_ref (postern_application_get_store (application));

  bind_combo (self, "default-kind", self->kind_row, kind_choices);
  bind_combo (self, "address-style", self->style_row, style_choices);
  bind_combo (self, "qr-payload", self->qr_row, qr_choices);
  g_settings_bind (self->settings, "contact-name", self->contact_name_row, "text", G_SETTINGS_BIND_DEFAULT);
  g_settings_bind (self->settings, "notifications", self->notifications_switch, "active", G_SETTINGS_BIND_DEFAULT);
  g_settings_bind (self->settings, "autostart", self->autostart_switch, "active", G_SETTINGS_BIND_DEFAULT);
  g_signal_connect_object (self->settings, "changed::autostart", G_CALLBACK (autostart_changed_cb), self, G_CONNECT_SWAPPED);

  g_signal_connect_object (self->store, "notify", G_CALLBACK (store_notify_cb), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (self->store, "notify::paired", G_CALLBACK (paired_notify_cb), self, G_CONNECT_SWAPPED);
  update_account (self);
  load_devices (self);

  return GTK_WIDGET (self);
}
