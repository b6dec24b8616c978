/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <glib/gi18n.h>

#include "postern-agent-alerts.h"

/* Sender and subject come from strangers: bounded before they reach the
 * desktop. */
#define MAX_TEXT_CHARS 120

typedef struct
{
  PosternAgentAlerts *self;
  char *channel_id;
  char *channel_name;
  char *last_sender;
  guint count;
  gint64 last_alert_us;
  guint summary_source;
} Burst;

struct _PosternAgentAlerts
{
  GObject parent_instance;

  /* Not a reference: the application owns this object and outlives it. */
  GApplication *application;
  GHashTable *bursts; /* channel id → Burst */
  guint burst_window_ms;
  guint summary_delay_ms;
  guint n_sent;
  /* The app's settings, when its schema is installed: its "Alert on
   * unexpected senders" switch. NULL means alerts are on. */
  GSettings *app_settings;

  /* Whether anyone would show a notification (see server_available()). */
  gboolean check_server;
  gboolean watching;
  guint fdo_watch;
  guint gtk_watch;
  gboolean fdo_owned;
  gboolean gtk_owned;
  gboolean fdo_activatable;
  gboolean activatable_known;
  gboolean told_no_server;
  GCancellable *cancellable;
};

G_DEFINE_FINAL_TYPE (PosternAgentAlerts, postern_agent_alerts, G_TYPE_OBJECT)

static void
burst_free (gpointer data)
{
  Burst *burst = data;

  g_clear_handle_id (&burst->summary_source, g_source_remove);
  g_free (burst->channel_id);
  g_free (burst->channel_name);
  g_free (burst->last_sender);
  g_free (burst);
}

static char *
notification_id (const char *channel_id)
{
  return g_strconcat ("alert-", channel_id, NULL);
}

/* One line, no control characters, at most MAX_TEXT_CHARS characters. */
static char *
clean_text (const char *text)
{
  g_autoptr (GString) out = g_string_new (NULL);
  guint n = 0;

  if (text == NULL || !g_utf8_validate (text, -1, NULL))
    return g_strdup ("");

  for (const char *p = text; *p != '\0' && n < MAX_TEXT_CHARS; p = g_utf8_next_char (p), n++)
    {
      gunichar c = g_utf8_get_char (p);

      if (g_unichar_iscntrl (c))
        g_string_append_c (out, ' ');
      else
        g_string_append_unichar (out, c);
    }
  if (*text != '\0' && g_utf8_strlen (text, -1) > MAX_TEXT_CHARS)
    g_string_append (out, "…");
  return g_string_free (g_steal_pointer (&out), FALSE);
}

/* The sender's bare address: the header From's if it parses (what a user
 * recognises and what expected senders match), else the envelope's. */
static char *
sender_address (PosternEvent *event)
{
  const char *candidates[] = {
    postern_event_get_header_from (event),
    postern_event_get_envelope_sender (event),
  };

  for (guint i = 0; i < G_N_ELEMENTS (candidates); i++)
    {
      g_autofree char *text = NULL;
      g_autoptr (PosternMailbox) mailbox = NULL;
      const char *open;
      const char *close;

      if (candidates[i] == NULL || candidates[i][0] == '\0')
        continue;
      /* "Name <local@domain>" → "local@domain" */
      open = strrchr (candidates[i], '<');
      close = open ? strchr (open, '>') : NULL;
      text = open && close ? g_strndup (open + 1, close - open - 1) : g_strstrip (g_strdup (candidates[i]));
      mailbox = postern_mailbox_parse (text, -1, NULL);
      if (mailbox != NULL)
        return postern_mailbox_to_string (mailbox);
    }
  return NULL;
}

static const char *
channel_name (PosternChannel *channel,
              const char *channel_id)
{
  const char *label;

  if (channel == NULL)
    return channel_id;
  label = postern_channel_get_label (channel);
  if (label != NULL && label[0] != '\0')
    return label;
  return postern_channel_get_address (channel);
}

/* Notification servers: outside a sandbox GLib uses org.gtk.Notifications
 * where GNOME Shell provides it, else org.freedesktop.Notifications, and
 * warns when that one is missing. A desktop without any (a bare window
 * manager) is a normal place for the agent to run: it then skips the
 * notification quietly and the tray carries the alert. */
static void
name_appeared_cb (GDBusConnection *connection,
                  const char *name,
                  const char *name_owner,
                  gpointer user_data)
{
  PosternAgentAlerts *self = user_data;

  if (g_str_equal (name, "org.gtk.Notifications"))
    self->gtk_owned = TRUE;
  else
    self->fdo_owned = TRUE;
}

static void
name_vanished_cb (GDBusConnection *connection,
                  const char *name,
                  gpointer user_data)
{
  PosternAgentAlerts *self = user_data;

  if (g_str_equal (name, "org.gtk.Notifications"))
    self->gtk_owned = FALSE;
  else
    self->fdo_owned = FALSE;
}

static void
list_activatable_cb (GObject *object,
                     GAsyncResult *result,
                     gpointer user_data)
{
  PosternAgentAlerts *self = user_data;
  g_autoptr (GError) error = NULL;
  g_autoptr (GVariant) reply = NULL;
  g_autofree const char **names = NULL;

  reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (object), result, &error);
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  self->activatable_known = TRUE;
  if (reply == NULL)
    {
      /* Unknown: let GLib try. */
      self->fdo_activatable = TRUE;
      return;
    }
  g_variant_get (reply, "(^a&s)", &names);
  self->fdo_activatable = g_strv_contains (names, "org.freedesktop.Notifications");
}

static void
ensure_watching (PosternAgentAlerts *self)
{
  GDBusConnection *connection;

  if (!self->check_server || self->watching)
    return;
  connection = g_application_get_dbus_connection (self->application);
  if (connection == NULL)
    return;

  self->watching = TRUE;
  self->fdo_watch = g_bus_watch_name_on_connection (connection, "org.freedesktop.Notifications",
                                                    G_BUS_NAME_WATCHER_FLAGS_NONE,
                                                    name_appeared_cb, name_vanished_cb, self, NULL);
  self->gtk_watch = g_bus_watch_name_on_connection (connection, "org.gtk.Notifications",
                                                    G_BUS_NAME_WATCHER_FLAGS_NONE,
                                                    name_appeared_cb, name_vanished_cb, self, NULL);
  g_dbus_connection_call (connection, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                          "org.freedesktop.DBus", "ListActivatableNames", NULL,
                          G_VARIANT_TYPE ("(as)"), G_DBUS_CALL_FLAGS_NONE, -1,
                          self->cancellable, list_activatable_cb, self);
}

static gboolean
server_available (PosternAgentAlerts *self)
{
  if (!self->check_server)
    return TRUE;
  ensure_watching (self);
  /* Until the bus has answered, assume a desktop as usual. */
  if (!self->activatable_known)
    return TRUE;
  return self->fdo_owned || self->gtk_owned || self->fdo_activatable;
}

static void
send (PosternAgentAlerts *self,
      const char *channel_id,
      GNotification *notification)
{
  g_autofree char *id = notification_id (channel_id);

  if (!g_application_get_is_registered (self->application))
    {
      g_debug ("Not on the bus; alert for channel %s not shown", channel_id);
      return;
    }
  /* Read at each alert, so the switch takes effect at once. The Alert
   * D-Bus signal and the tray's count do not depend on it. */
  if (self->app_settings != NULL && !g_settings_get_boolean (self->app_settings, "notifications"))
    {
      g_debug ("Alerts are switched off in the app; alert for channel %s not shown", channel_id);
      return;
    }
  if (!server_available (self))
    {
      if (!self->told_no_server)
        g_message ("No notification server on the session bus; alerts are shown in the tray only");
      self->told_no_server = TRUE;
      return;
    }
  g_application_send_notification (self->application, id, notification);
  self->n_sent++;
}

static void
add_common_actions (GNotification *notification,
                    const char *channel_id)
{
  g_notification_set_default_action (notification, "app.open");
  g_notification_set_category (notification, "email.arrived");
  g_notification_add_button_with_target_value (notification, _ ("Revoke Channel"), "app.revoke",
                                               g_variant_new_string (channel_id));
}

static void
send_single (PosternAgentAlerts *self,
             PosternEvent *event,
             Burst *burst)
{
  g_autoptr (GNotification) notification = NULL;
  g_autofree char *name = clean_text (burst->channel_name);
  g_autofree char *title = NULL;
  g_autofree char *subject = clean_text (postern_event_get_subject (event));
  g_autofree char *body = NULL;
  const char *sender = burst->last_sender;

  /* TRANSLATORS: notification title; %s is the channel's label */
  title = g_strdup_printf (_ ("Unexpected sender on “%s”"), name);
  notification = g_notification_new (title);

  {
    g_autofree char *shown_sender = clean_text (sender ? sender : _ ("an unknown sender"));
    g_autofree char *plain = NULL;

    if (subject[0] != '\0')
      /* TRANSLATORS: notification body; the sender's address, then the subject */
      plain = g_strdup_printf (_ ("From %s\n“%s”"), shown_sender, subject);
    else
      plain = g_strdup_printf (_ ("From %s"), shown_sender);
    /* Servers with body-markup would take "<" in a subject for a tag. */
    body = g_markup_escape_text (plain, -1);
  }
  g_notification_set_body (notification, body);

  add_common_actions (notification, burst->channel_id);
  if (sender != NULL)
    g_notification_add_button_with_target_value (notification, _ ("Trust Sender"), "app.trust",
                                                 g_variant_new ("(ss)", burst->channel_id, sender));
  g_notification_add_button (notification, _ ("Open"), "app.open");
  send (self, burst->channel_id, notification);
}

static void
send_summary (PosternAgentAlerts *self,
              Burst *burst)
{
  g_autoptr (GNotification) notification = NULL;
  g_autofree char *name = clean_text (burst->channel_name);
  g_autofree char *title = NULL;

  title = g_strdup_printf (ngettext ("%u message from strangers on “%s”",
                                     "%u messages from strangers on “%s”", burst->count),
                           burst->count, name);
  notification = g_notification_new (title);
  if (burst->last_sender != NULL)
    {
      g_autofree char *sender = clean_text (burst->last_sender);
      g_autofree char *plain = g_strdup_printf (_ ("Latest from %s"), sender);
      g_autofree char *body = g_markup_escape_text (plain, -1);

      g_notification_set_body (notification, body);
    }
  /* Several senders: trusting one of them is for the app, not a button. */
  add_common_actions (notification, burst->channel_id);
  g_notification_add_button (notification, _ ("Open"), "app.open");
  send (self, burst->channel_id, notification);
}

static gboolean
summary_cb (gpointer user_data)
{
  Burst *burst = user_data;

  burst->summary_source = 0;
  send_summary (burst->self, burst);
  return G_SOURCE_REMOVE;
}

static void
prune_bursts (PosternAgentAlerts *self,
              gint64 now)
{
  GHashTableIter iter;
  Burst *burst;

  g_hash_table_iter_init (&iter, self->bursts);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *)&burst))
    {
      if (burst->summary_source == 0 && now - burst->last_alert_us > (gint64)self->burst_window_ms * 1000)
        g_hash_table_iter_remove (&iter);
    }
}

/**
 * postern_agent_alerts_add:
 * @event: the unexpected event
 * @channel: (nullable): its channel, if known
 *
 * Shows @event, or counts it into its channel's burst.
 */
void
postern_agent_alerts_add (PosternAgentAlerts *self,
                          PosternEvent *event,
                          PosternChannel *channel)
{
  gint64 now = g_get_monotonic_time ();
  const char *channel_id;
  Burst *burst;

  g_return_if_fail (POSTERN_IS_AGENT_ALERTS (self));
  g_return_if_fail (POSTERN_IS_EVENT (event));
  g_return_if_fail (channel == NULL || POSTERN_IS_CHANNEL (channel));

  channel_id = channel ? postern_channel_get_id (channel) : postern_event_get_channel_id (event);
  if (channel_id == NULL)
    return;

  prune_bursts (self, now);
  burst = g_hash_table_lookup (self->bursts, channel_id);
  if (burst == NULL)
    {
      burst = g_new0 (Burst, 1);
      burst->self = self;
      burst->channel_id = g_strdup (channel_id);
      g_hash_table_insert (self->bursts, burst->channel_id, burst);
    }
  else if (now - burst->last_alert_us > (gint64)self->burst_window_ms * 1000)
    {
      burst->count = 0;
    }

  burst->count++;
  burst->last_alert_us = now;
  g_free (burst->channel_name);
  burst->channel_name = g_strdup (channel_name (channel, channel_id));
  g_free (burst->last_sender);
  burst->last_sender = sender_address (event);

  /* The first stranger is news and shown at once; the rest of a burst is
   * one summary replacing it, never a notification per message. */
  if (burst->count == 1)
    send_single (self, event, burst);
  else if (burst->summary_source == 0)
    burst->summary_source = g_timeout_add (self->summary_delay_ms, summary_cb, burst);
}

void
postern_agent_alerts_channel_changed (PosternAgentAlerts *self,
                                      PosternChannel *channel)
{
  g_autofree char *id = NULL;

  g_return_if_fail (POSTERN_IS_AGENT_ALERTS (self));
  g_return_if_fail (POSTERN_IS_CHANNEL (channel));

  if (postern_channel_get_state (channel) != POSTERN_CHANNEL_STATE_REVOKED)
    return;

  /* The alert asked whether to revoke; that is answered now. */
  id = notification_id (postern_channel_get_id (channel));
  g_hash_table_remove (self->bursts, postern_channel_get_id (channel));
  if (g_application_get_is_registered (self->application))
    g_application_withdraw_notification (self->application, id);
}

static void
engine_alert_cb (PosternAgentAlerts *self,
                 PosternEvent *event,
                 PosternChannel *channel,
                 PosternSyncEngine *engine)
{
  postern_agent_alerts_add (self, event, channel);
}

static void
engine_channel_changed_cb (PosternAgentAlerts *self,
                           PosternChannel *channel,
                           PosternSyncEngine *engine)
{
  postern_agent_alerts_channel_changed (self, channel);
}

void
postern_agent_alerts_bind_engine (PosternAgentAlerts *self,
                                  PosternSyncEngine *engine)
{
  g_return_if_fail (POSTERN_IS_AGENT_ALERTS (self));
  g_return_if_fail (POSTERN_IS_SYNC_ENGINE (engine));

  g_signal_connect_object (engine, "alert", G_CALLBACK (engine_alert_cb), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (engine, "channel-changed", G_CALLBACK (engine_channel_changed_cb),
                           self, G_CONNECT_SWAPPED);
}

guint
postern_agent_alerts_get_n_sent (PosternAgentAlerts *self)
{
  g_return_val_if_fail (POSTERN_IS_AGENT_ALERTS (self), 0);
  return self->n_sent;
}

void
postern_agent_alerts_set_timing (PosternAgentAlerts *self,
                                 guint burst_window_ms,
                                 guint summary_delay_ms)
{
  g_return_if_fail (POSTERN_IS_AGENT_ALERTS (self));

  self->burst_window_ms = burst_window_ms;
  self->summary_delay_ms = summary_delay_ms;
}

static void
postern_agent_alerts_dispose (GObject *object)
{
  PosternAgentAlerts *self = POSTERN_AGENT_ALERTS (object);

  /* Pending summaries point at this object. */
  g_hash_table_remove_all (self->bursts);
  g_cancellable_cancel (self->cancellable);
  g_clear_handle_id (&self->fdo_watch, g_bus_unwatch_name);
  g_clear_handle_id (&self->gtk_watch, g_bus_unwatch_name);
  g_clear_object (&self->app_settings);

  G_OBJECT_CLASS (postern_agent_alerts_parent_class)->dispose (object);
}

static void
postern_agent_alerts_finalize (GObject *object)
{
  PosternAgentAlerts *self = POSTERN_AGENT_ALERTS (object);

  g_hash_table_unref (self->bursts);
  g_clear_object (&self->cancellable);

  G_OBJECT_CLASS (postern_agent_alerts_parent_class)->finalize (object);
}

static void
postern_agent_alerts_class_init (PosternAgentAlertsClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = postern_agent_alerts_dispose;
  object_class->finalize = postern_agent_alerts_finalize;
}

static void
postern_agent_alerts_init (PosternAgentAlerts *self)
{
  self->bursts = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, burst_free);
  self->burst_window_ms = POSTERN_AGENT_ALERTS_BURST_WINDOW_MS;
  self->summary_delay_ms = POSTERN_AGENT_ALERTS_SUMMARY_DELAY_MS;
  self->cancellable = g_cancellable_new ();
}

PosternAgentAlerts *
postern_agent_alerts_new (GApplication *application)
{
  PosternAgentAlerts *self;
  GSettingsSchemaSource *source;
  g_autoptr (GSettingsSchema) schema = NULL;

  g_return_val_if_fail (G_IS_APPLICATION (application), NULL);

  self = g_object_new (POSTERN_TYPE_AGENT_ALERTS, NULL);
  self->application = application;
  /* The agent may be installed without the app (and so without its
   * schema): g_settings_new() would abort then; alerts stay on. */
  source = g_settings_schema_source_get_default ();
  if (source != NULL)
    schema = g_settings_schema_source_lookup (source, APP_ID, TRUE);
  if (schema != NULL && g_settings_schema_has_key (schema, "notifications"))
    self->app_settings = g_settings_new_full (schema, NULL, NULL);
  else
    g_debug ("No %s settings schema; alerts are always shown", APP_ID);
  /* In a sandbox the portal shows notifications; a backend chosen by hand
   * is the chooser's business. */
  self->check_server = !g_file_test ("/.flatpak-info", G_FILE_TEST_EXISTS) && (g_getenv ("GNOTIFICATION_BACKEND") == NULL || g_str_equal (g_getenv ("GNOTIFICATION_BACKEND"), "freedesktop"));
  ensure_watching (self);
  return self;
}
