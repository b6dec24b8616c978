/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <glib/gi18n.h>

#include "postern-agent-portal.h"

#define PORTAL_BUS_NAME     "org.freedesktop.portal.Desktop"
#define PORTAL_OBJECT_PATH  "/org/freedesktop/portal/desktop"
#define BACKGROUND_IFACE    "org.freedesktop.portal.Background"
#define REQUEST_IFACE       "org.freedesktop.portal.Request"
#define REQUEST_PATH_PREFIX "/org/freedesktop/portal/desktop/request/"
/* The portal refuses longer status messages. */
#define MAX_STATUS_CHARS 96

struct _PosternAgentPortal
{
  GObject parent_instance;

  GDBusConnection *connection;
  GCancellable *cancellable;

  gboolean requested;
  guint response_subscription;
  gboolean answered;
  gboolean background;

  guint version; /* 0 until read */
  gboolean version_known;
  char *wanted_status;
  char *sent_status;
};

G_DEFINE_FINAL_TYPE (PosternAgentPortal, postern_agent_portal, G_TYPE_OBJECT)

gboolean
postern_agent_portal_in_sandbox (void)
{
  /* Test-only override: there is no sandbox on the test machines. */
  if (g_strcmp0 (g_getenv ("POSTERN_FORCE_FLATPAK"), "1") == 0)
    return TRUE;
  return g_file_test ("/.flatpak-info", G_FILE_TEST_EXISTS);
}

const char *
postern_agent_portal_status_text (PosternSyncStatus status)
{
  switch (status)
    {
      case POSTERN_SYNC_STATUS_ONLINE:
        return _ ("Synced");
      case POSTERN_SYNC_STATUS_OFFLINE:
        return _ ("Offline");
      case POSTERN_SYNC_STATUS_KEYRING_LOCKED:
        return _ ("Keyring locked");
      case POSTERN_SYNC_STATUS_UNPAIRED:
        return _ ("Not set up");
      case POSTERN_SYNC_STATUS_CONNECTING:
      default:
        return NULL;
    }
}

/* ---- SetStatus ------------------------------------------------------------- */

static void
set_status_cb (GObject *source,
               GAsyncResult *result,
               gpointer user_data)
{
  g_autoptr (GVariant) reply = NULL;
  g_autoptr (GError) error = NULL;

  reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), result, &error);
  if (reply == NULL && !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    g_debug ("Background portal: SetStatus: %s", error->message);
}

static void
flush_status (PosternAgentPortal *self)
{
  GVariantBuilder options;

  if (!self->version_known || self->version < 2 || self->wanted_status == NULL)
    return;
  if (g_strcmp0 (self->wanted_status, self->sent_status) == 0)
    return;

  g_free (self->sent_status);
  self->sent_status = g_strdup (self->wanted_status);

  g_variant_builder_init (&options, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add (&options, "{sv}", "message", g_variant_new_string (self->sent_status));
  g_dbus_connection_call (self->connection, PORTAL_BUS_NAME, PORTAL_OBJECT_PATH, BACKGROUND_IFACE,
                          "SetStatus", g_variant_new ("(a{sv})", &options), NULL,
                          G_DBUS_CALL_FLAGS_NONE, -1, self->cancellable, set_status_cb, NULL);
}

static void
version_cb (GObject *source,
            GAsyncResult *result,
            gpointer user_data)
{
  PosternAgentPortal *self = user_data;
  g_autoptr (GVariant) reply = NULL;
  g_autoptr (GVariant) value = NULL;
  g_autoptr (GError) error = NULL;

  reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), result, &error);
  if (reply == NULL)
    {
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        return;
      /* No portal, or one without Background: nothing to set. */
      g_debug ("Background portal: no version: %s", error->message);
    }
  else
    {
      g_variant_get (reply, "(v)", &value);
      if (g_variant_is_of_type (value, G_VARIANT_TYPE_UINT32))
        self->version = g_variant_get_uint32 (value);
    }

  self->version_known = TRUE;
  g_debug ("Background portal version %u", self->version);
  flush_status (self);
}

void
postern_agent_portal_set_status (PosternAgentPortal *self,
                                 const char *message)
{
  g_return_if_fail (POSTERN_IS_AGENT_PORTAL (self));
  g_return_if_fail (message != NULL);

  g_free (self->wanted_status);
  self->wanted_status = g_utf8_substring (message, 0, MIN (g_utf8_strlen (message, -1), MAX_STATUS_CHARS));
  flush_status (self);
}

static void
engine_status_changed_cb (PosternAgentPortal *self,
                          PosternSyncEngine *engine)
{
  const char *text = postern_agent_portal_status_text (postern_sync_engine_get_status (engine));

  if (text != NULL)
    postern_agent_portal_set_status (self, text);
}

void
postern_agent_portal_bind_engine (PosternAgentPortal *self,
                                  PosternSyncEngine *engine)
{
  g_return_if_fail (POSTERN_IS_AGENT_PORTAL (self));
  g_return_if_fail (POSTERN_IS_SYNC_ENGINE (engine));

  g_signal_connect_object (engine, "status-changed", G_CALLBACK (engine_status_changed_cb), self, G_CONNECT_SWAPPED);
  engine_status_changed_cb (self, engine);
}

/* ---- RequestBackground ------------------------------------------------------ */

static void
response_cb (GDBusConnection *connection,
             const char *sender_name,
             const char *object_path,
             const char *interface_name,
             const char *signal_name,
             GVariant *parameters,
             gpointer user_data)
{
  PosternAgentPortal *self = user_data;
  g_autoptr (GVariant) results = NULL;
  guint32 response = 2;
  gboolean background = FALSE;
  gboolean autostart = FALSE;

  if (!g_variant_is_of_type (parameters, G_VARIANT_TYPE ("(ua{sv})")))
    return;

  g_variant_get (parameters, "(u@a{sv})", &response, &results);
  g_variant_lookup (results, "background", "b", &background);
  g_variant_lookup (results, "autostart", "b", &autostart);

  self->answered = TRUE;
  self->background = response == 0 && background;
  if (self->background)
    g_debug ("Background portal: allowed in the background (autostart %s)", autostart ? "yes" : "no");
  else
    g_message ("The desktop does not let Postern run in the background: alerts stop when it closes it");

  g_dbus_connection_signal_unsubscribe (connection, self->response_subscription);
  self->response_subscription = 0;
}

static void
request_background_cb (GObject *source,
                       GAsyncResult *result,
                       gpointer user_data)
{
  g_autoptr (GVariant) reply = NULL;
  g_autoptr (GError) error = NULL;

  reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), result, &error);
  if (reply == NULL && !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    g_message ("Could not ask the desktop to run Postern in the background: %s", error->message);
}

void
postern_agent_portal_request_background (PosternAgentPortal *self,
                                         const char *reason)
{
  g_autofree char *token = NULL;
  g_autofree char *sender = NULL;
  g_autofree char *handle = NULL;
  const char *commandline[] = { "postern-agent", NULL };
  GVariantBuilder options;

  g_return_if_fail (POSTERN_IS_AGENT_PORTAL (self));
  g_return_if_fail (reason != NULL);

  if (self->requested)
    return;
  self->requested = TRUE;

  /* The Request object's path is known in advance (the portal's
   * handle_token convention): subscribe before calling, so the Response
   * cannot come first. */
  token = g_strdup_printf ("postern%u", g_random_int ());
  sender = g_strdup (g_dbus_connection_get_unique_name (self->connection) + 1);
  g_strdelimit (sender, ".", '_');
  handle = g_strconcat (REQUEST_PATH_PREFIX, sender, "/", token, NULL);
  self->response_subscription = g_dbus_connection_signal_subscribe (self->connection, PORTAL_BUS_NAME, REQUEST_IFACE,
                                                                    "Response", handle, NULL,
                                                                    G_DBUS_SIGNAL_FLAGS_NONE,
                                                                    response_cb, self, NULL);

  g_variant_builder_init (&options, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add (&options, "{sv}", "handle_token", g_variant_new_string (token));
  g_variant_builder_add (&options, "{sv}", "reason", g_variant_new_string (reason));
  g_variant_builder_add (&options, "{sv}", "autostart", g_variant_new_boolean (TRUE));
  g_variant_builder_add (&options, "{sv}", "commandline", g_variant_new_strv (commandline, -1));
  g_variant_builder_add (&options, "{sv}", "dbus-activatable", g_variant_new_boolean (FALSE));
  g_dbus_connection_call (self->connection, PORTAL_BUS_NAME, PORTAL_OBJECT_PATH, BACKGROUND_IFACE,
                          "RequestBackground", g_variant_new ("(sa{sv})", "", &options),
                          G_VARIANT_TYPE ("(o)"), G_DBUS_CALL_FLAGS_NONE, -1, self->cancellable,
                          request_background_cb, NULL);
}

gboolean
postern_agent_portal_get_answered (PosternAgentPortal *self,
                                   gboolean *out_background)
{
  g_return_val_if_fail (POSTERN_IS_AGENT_PORTAL (self), FALSE);

  if (out_background != NULL)
    *out_background = self->background;
  return self->answered;
}

/* ---- object ------------------------------------------------------------------ */

static void
postern_agent_portal_dispose (GObject *object)
{
  PosternAgentPortal *self = POSTERN_AGENT_PORTAL (object);

  g_cancellable_cancel (self->cancellable);
  if (self->response_subscription != 0)
    {
      g_dbus_connection_signal_unsubscribe (self->connection, self->response_subscription);
      self->response_subscription = 0;
    }

  G_OBJECT_CLASS (postern_agent_portal_parent_class)->dispose (object);
}

static void
postern_agent_portal_finalize (GObject *object)
{
  PosternAgentPortal *self = POSTERN_AGENT_PORTAL (object);

  g_clear_object (&self->connection);
  g_clear_object (&self->cancellable);
  g_free (self->wanted_status);
  g_free (self->sent_status);

  G_OBJECT_CLASS (postern_agent_portal_parent_class)->finalize (object);
}

static void
postern_agent_portal_class_init (PosternAgentPortalClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = postern_agent_portal_dispose;
  object_class->finalize = postern_agent_portal_finalize;
}

static void
postern_agent_portal_init (PosternAgentPortal *self)
{
  self->cancellable = g_cancellable_new ();
}

PosternAgentPortal *
postern_agent_portal_new (GDBusConnection *connection)
{
  PosternAgentPortal *self;

  g_return_val_if_fail (G_IS_DBUS_CONNECTION (connection), NULL);

  self = g_object_new (POSTERN_TYPE_AGENT_PORTAL, NULL);
  self->connection = g_object_ref (connection);
  /* SetStatus exists from version 2 of the interface on. */
  g_dbus_connection_call (connection, PORTAL_BUS_NAME, PORTAL_OBJECT_PATH, "org.freedesktop.DBus.Properties",
                          "Get", g_variant_new ("(ss)", BACKGROUND_IFACE, "version"), G_VARIANT_TYPE ("(v)"),
                          G_DBUS_CALL_FLAGS_NONE, -1, self->cancellable, version_cb, self);
  return self;
}
