/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <glib-unix.h>
#include <glib/gi18n.h>
#include <signal.h>

#include "postern-agent-alerts.h"
#include "postern-agent-portal.h"
#include "postern-agent-error.h"
#include "postern-agent-tray.h"
#include "postern-agent.h"

/* How long method calls may wait for the keyring copy before they are
 * answered from whatever is loaded: a keyring that never answers must not
 * hang every caller. */
#define READY_TIMEOUT_SECONDS 20
/* How long shutdown waits for the last keyring writes. */
#define SHUTDOWN_TIMEOUT_SECONDS 5

struct _PosternAgent
{
  GApplication parent_instance;

  PosternSyncEngine *engine;
  PosternAgentService *service;
  PosternAgentTray *tray;
  PosternAgentAlerts *alerts;
  PosternAgentPortal *portal; /* inside Flatpak only */
  GCancellable *cancellable;
  guint sigterm_source;
  guint sigint_source;
  guint ready_timeout;
};

G_DEFINE_FINAL_TYPE (PosternAgent, postern_agent, G_TYPE_APPLICATION)

/* ---- the app, over D-Bus ----------------------------------------------------- */

static char *
app_object_path (void)
{
  g_autofree char *path = g_strconcat ("/", APP_ID, NULL);

  g_strdelimit (path, ".", '/');
  return g_steal_pointer (&path);
}

static void
app_call_cb (GObject *source,
             GAsyncResult *result,
             gpointer user_data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GVariant) reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), result, &error);

  /* The app may not be installed (a server-only or CLI-only setup). */
  if (reply == NULL)
    g_message ("Cannot reach the Postern app: %s", error->message);
}

/* Activates the app (D-Bus activation starts it), or one of its actions
 * (docs/app.md): app.copy-address(s), app.show-qr(s) take a channel id,
 * app.new-address(s) and app.new-address-qr(s) a label ("" = default).
 * The XDG activation token the tray host gave us, if any, goes along as
 * platform data so that the compositor lets the app's window take focus. */
static void
activate_app (PosternAgent *self,
              const char *action,
              GVariant *parameter)
{
  GDBusConnection *connection = g_application_get_dbus_connection (G_APPLICATION (self));
  g_autofree char *path = app_object_path ();
  g_autofree char *token = NULL;
  g_auto (GVariantBuilder) platform_data = G_VARIANT_BUILDER_INIT (G_VARIANT_TYPE_VARDICT);
  g_auto (GVariantBuilder) parameters = G_VARIANT_BUILDER_INIT (G_VARIANT_TYPE ("av"));
  GVariant *args;

  /* A token is good for one activation: take it even if nothing is sent. */
  if (self->tray != NULL)
    token = postern_tray_item_take_activation_token (postern_agent_tray_get_item (self->tray));
  if (connection == NULL)
    return;

  if (token != NULL)
    g_variant_builder_add (&platform_data, "{sv}", "activation-token", g_variant_new_string (token));

  if (action == NULL)
    args = g_variant_new ("(a{sv})", &platform_data);
  else
    {
      if (parameter != NULL)
        g_variant_builder_add (&parameters, "v", parameter);
      args = g_variant_new ("(sava{sv})", action, &parameters, &platform_data);
    }

  g_dbus_connection_call (connection, APP_ID, path, "org.freedesktop.Application",
                          action == NULL ? "Activate" : "ActivateAction",
                          args, NULL, G_DBUS_CALL_FLAGS_NONE, -1,
                          self->cancellable, app_call_cb, NULL);
}

/* ---- actions ---------------------------------------------------------------- */

static void
report_action_error (const char *action,
                     const GError *error)
{
  /* Actions come from the tray or a notification: nobody waits for a
   * reply, so the log is where a failure goes. */
  g_message ("Action %s failed: %s", action, error->message);
}

static void
open_action_cb (GSimpleAction *action,
                GVariant *parameter,
                gpointer user_data)
{
  activate_app (POSTERN_AGENT (user_data), NULL, NULL);
}

static void
new_channel_action_cb (GSimpleAction *action,
                       GVariant *parameter,
                       gpointer user_data)
{
  /* The app makes it (with the user's defaults), copies it and shows it:
   * on Wayland only a focused window may set the clipboard. */
  activate_app (POSTERN_AGENT (user_data), "new-address", g_variant_new_string (""));
}

static void
new_one_time_qr_action_cb (GSimpleAction *action,
                           GVariant *parameter,
                           gpointer user_data)
{
  activate_app (POSTERN_AGENT (user_data), "new-address-qr", g_variant_new_string (""));
}

static void
copy_action_cb (GSimpleAction *action,
                GVariant *parameter,
                gpointer user_data)
{
  activate_app (POSTERN_AGENT (user_data), "copy-address", parameter);
}

static void
show_qr_action_cb (GSimpleAction *action,
                   GVariant *parameter,
                   gpointer user_data)
{
  activate_app (POSTERN_AGENT (user_data), "show-qr", parameter);
}

static void
pause_action_cb (GSimpleAction *action,
                 GVariant *parameter,
                 gpointer user_data)
{
  PosternAgent *self = POSTERN_AGENT (user_data);
  g_autoptr (GError) error = NULL;

  if (!postern_sync_engine_pause (self->engine, g_variant_get_string (parameter, NULL), &error))
    report_action_error ("pause", error);
}

static void
revoke_action_cb (GSimpleAction *action,
                  GVariant *parameter,
                  gpointer user_data)
{
  PosternAgent *self = POSTERN_AGENT (user_data);
  g_autoptr (GError) error = NULL;

  if (!postern_sync_engine_revoke (self->engine, g_variant_get_string (parameter, NULL), &error))
    report_action_error ("revoke", error);
}

static void
trust_action_cb (GSimpleAction *action,
                 GVariant *parameter,
                 gpointer user_data)
{
  PosternAgent *self = POSTERN_AGENT (user_data);
  g_autoptr (GError) error = NULL;
  const char *channel_id;
  const char *pattern;

  g_variant_get (parameter, "(&s&s)", &channel_id, &pattern);
  if (!postern_sync_engine_trust_sender (self->engine, channel_id, pattern, &error))
    report_action_error ("trust", error);
}

static void
quit_action_cb (GSimpleAction *action,
                GVariant *parameter,
                gpointer user_data)
{
  g_application_quit (G_APPLICATION (user_data));
}

static const GActionEntry action_entries[] = {
  { "open", open_action_cb },
  { "new-channel", new_channel_action_cb },
  { "new-one-time-qr", new_one_time_qr_action_cb },
  { "copy", copy_action_cb, "s" },
  { "show-qr", show_qr_action_cb, "s" },
  { "pause", pause_action_cb, "s" },
  { "revoke", revoke_action_cb, "s" },
  { "trust", trust_action_cb, "(ss)" },
  { "quit", quit_action_cb },
};

/* ---- life cycle -------------------------------------------------------------- */

static gboolean
quit_signal_cb (gpointer user_data)
{
  g_message ("Terminating on signal");
  g_application_quit (G_APPLICATION (user_data));
  return G_SOURCE_CONTINUE;
}

static void
set_ready (PosternAgent *self)
{
  g_clear_handle_id (&self->ready_timeout, g_source_remove);
  if (self->service != NULL)
    postern_agent_service_set_ready (self->service);
}

static gboolean
ready_timeout_cb (gpointer user_data)
{
  PosternAgent *self = POSTERN_AGENT (user_data);

  self->ready_timeout = 0;
  g_message ("The keyring has not answered after %d s; answering from what is loaded",
             READY_TIMEOUT_SECONDS);
  set_ready (self);
  return G_SOURCE_REMOVE;
}

static void
engine_start_cb (GObject *source,
                 GAsyncResult *result,
                 gpointer user_data)
{
  g_autoptr (PosternAgent) self = user_data;
  g_autoptr (GError) error = NULL;

  /* A locked keyring is not fatal: the engine waits for it and the status
   * says what to do. */
  if (!postern_sync_engine_start_finish (POSTERN_SYNC_ENGINE (source), result, &error))
    {
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        return;
      g_message ("Starting without the keyring copy: %s", error->message);
    }
  else
    g_debug ("Keyring copy loaded; status %s",
             postern_sync_status_to_string (postern_sync_engine_get_status (self->engine)));

  set_ready (self);
}

static gboolean
postern_agent_dbus_register (GApplication *application,
                             GDBusConnection *connection,
                             const char *object_path,
                             GError **error)
{
  PosternAgent *self = POSTERN_AGENT (application);

  if (!G_APPLICATION_CLASS (postern_agent_parent_class)->dbus_register (application, connection, object_path, error))
    return FALSE;

  /* Exported before the bus name is requested, so an activating caller
   * never finds the name without the object; calls wait until the keyring
   * copy is loaded (see PosternAgentService). */
  self->service = postern_agent_service_new (self->engine);
  if (!g_dbus_interface_skeleton_export (G_DBUS_INTERFACE_SKELETON (self->service), connection,
                                         POSTERN_AGENT_OBJECT_PATH, error))
    {
      g_clear_object (&self->service);
      return FALSE;
    }
  return TRUE;
}

static void
postern_agent_dbus_unregister (GApplication *application,
                               GDBusConnection *connection,
                               const char *object_path)
{
  PosternAgent *self = POSTERN_AGENT (application);

  if (self->service != NULL)
    {
      g_dbus_interface_skeleton_unexport (G_DBUS_INTERFACE_SKELETON (self->service));
      g_clear_object (&self->service);
    }

  G_APPLICATION_CLASS (postern_agent_parent_class)->dbus_unregister (application, connection, object_path);
}

static void
postern_agent_startup (GApplication *application)
{
  PosternAgent *self = POSTERN_AGENT (application);

  G_APPLICATION_CLASS (postern_agent_parent_class)->startup (application);

  /* A service with nothing to show: it lives until asked to quit. */
  g_application_hold (application);

  g_action_map_add_action_entries (G_ACTION_MAP (self), action_entries, G_N_ELEMENTS (action_entries), self);

  /* Alerts and the tray follow the engine; without a tray host the icon
   * waits quietly and the notifications carry the alerts. */
  self->alerts = postern_agent_alerts_new (application);
  postern_agent_alerts_bind_engine (self->alerts, self->engine);
  {
    g_autoptr (GError) tray_error = NULL;

    self->tray = postern_agent_tray_new (application, &tray_error);
    if (self->tray != NULL)
      postern_agent_tray_bind_engine (self->tray, self->engine);
    else
      g_message ("No tray icon: %s", tray_error->message);
  }

  /* Inside Flatpak the desktop may stop apps without a window; the
   * Background portal lets the agent stay, start at login, and show its
   * status in the desktop's list of background apps. */
  if (postern_agent_portal_in_sandbox () && g_application_get_dbus_connection (application) != NULL)
    {
      self->portal = postern_agent_portal_new (g_application_get_dbus_connection (application));
      postern_agent_portal_request_background (self->portal, _ ("Postern shows alerts when a stranger writes to one of your addresses"));
      postern_agent_portal_bind_engine (self->portal, self->engine);
    }

  self->sigterm_source = g_unix_signal_add (SIGTERM, quit_signal_cb, self);
  self->sigint_source = g_unix_signal_add (SIGINT, quit_signal_cb, self);

  self->ready_timeout = g_timeout_add_seconds (READY_TIMEOUT_SECONDS, ready_timeout_cb, self);
  postern_sync_engine_start_async (self->engine, self->cancellable, engine_start_cb, g_object_ref (self));
}

static void
shutdown_cb (GObject *source,
             GAsyncResult *result,
             gpointer user_data)
{
  gboolean *done = user_data;
  g_autoptr (GError) error = NULL;

  if (!postern_sync_engine_shutdown_finish (POSTERN_SYNC_ENGINE (source), result, &error))
    g_message ("Keyring writes not finished at exit: %s", error->message);
  *done = TRUE;
}

static gboolean
shutdown_timeout_cb (gpointer user_data)
{
  gboolean *timed_out = user_data;

  *timed_out = TRUE;
  return G_SOURCE_REMOVE;
}

static void
postern_agent_shutdown (GApplication *application)
{
  PosternAgent *self = POSTERN_AGENT (application);
  gboolean done = FALSE;
  gboolean timed_out = FALSE;
  guint timeout;

  g_clear_handle_id (&self->sigterm_source, g_source_remove);
  g_clear_handle_id (&self->sigint_source, g_source_remove);
  g_clear_handle_id (&self->ready_timeout, g_source_remove);
  /* The tray's menu holds the application (its actions): let go here. */
  g_clear_object (&self->tray);
  g_clear_object (&self->alerts);
  g_clear_object (&self->portal);

  /* The main loop has stopped; the last keyring writes still need the
   * main context, so it is iterated here, bounded in time. */
  postern_sync_engine_shutdown_async (self->engine, NULL, shutdown_cb, &done);
  timeout = g_timeout_add_seconds (SHUTDOWN_TIMEOUT_SECONDS, shutdown_timeout_cb, &timed_out);
  while (!done && !timed_out)
    g_main_context_iteration (NULL, TRUE);
  if (timed_out)
    g_message ("Gave up waiting for the keyring after %d s", SHUTDOWN_TIMEOUT_SECONDS);
  else
    g_source_remove (timeout);

  g_cancellable_cancel (self->cancellable);

  G_APPLICATION_CLASS (postern_agent_parent_class)->shutdown (application);
}

static int
postern_agent_handle_local_options (GApplication *application,
                                    GVariantDict *options)
{
  if (g_variant_dict_contains (options, "version"))
    {
      g_print ("postern-agent %s\n", PACKAGE_VERSION);
      return 0;
    }
  if (g_variant_dict_contains (options, "replace"))
    g_application_set_flags (application, g_application_get_flags (application) | G_APPLICATION_REPLACE);
  return -1;
}

static void
postern_agent_activate (GApplication *application)
{
  /* Started by hand (not by the bus): nothing to show; the app is the
   * window onto the agent. */
}

static void
postern_agent_dispose (GObject *object)
{
  PosternAgent *self = POSTERN_AGENT (object);

  g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->service);
  g_clear_object (&self->tray);
  g_clear_object (&self->alerts);
  g_clear_object (&self->portal);

  G_OBJECT_CLASS (postern_agent_parent_class)->dispose (object);
}

static void
postern_agent_finalize (GObject *object)
{
  PosternAgent *self = POSTERN_AGENT (object);

  g_clear_object (&self->engine);
  g_clear_object (&self->cancellable);

  G_OBJECT_CLASS (postern_agent_parent_class)->finalize (object);
}

static void
postern_agent_class_init (PosternAgentClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GApplicationClass *application_class = G_APPLICATION_CLASS (klass);

  object_class->dispose = postern_agent_dispose;
  object_class->finalize = postern_agent_finalize;

  application_class->dbus_register = postern_agent_dbus_register;
  application_class->dbus_unregister = postern_agent_dbus_unregister;
  application_class->startup = postern_agent_startup;
  application_class->shutdown = postern_agent_shutdown;
  application_class->activate = postern_agent_activate;
  application_class->handle_local_options = postern_agent_handle_local_options;
}

static void
postern_agent_init (PosternAgent *self)
{
  static const GOptionEntry options[] = {
    { "replace", 'r', 0, G_OPTION_ARG_NONE, NULL, N_ ("Replace a running agent"), NULL },
    { "version", 0, 0, G_OPTION_ARG_NONE, NULL, N_ ("Print the version and exit"), NULL },
    { NULL }
  };

  self->cancellable = g_cancellable_new ();
  self->engine = postern_sync_engine_new ();
  g_application_add_main_option_entries (G_APPLICATION (self), options);
}

PosternAgent *
postern_agent_new (void)
{
  return g_object_new (POSTERN_TYPE_AGENT,
                       "application-id", AGENT_BUS_NAME,
                       "flags", G_APPLICATION_IS_SERVICE | G_APPLICATION_ALLOW_REPLACEMENT,
                       NULL);
}

PosternSyncEngine *
postern_agent_get_sync_engine (PosternAgent *self)
{
  g_return_val_if_fail (POSTERN_IS_AGENT (self), NULL);
  return self->engine;
}

PosternAgentService *
postern_agent_get_service (PosternAgent *self)
{
  g_return_val_if_fail (POSTERN_IS_AGENT (self), NULL);
  return self->service;
}
