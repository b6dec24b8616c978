/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "fake-notifications.h"

static const char notifications_xml[] = "<node>"
                                        "  <interface name='org.freedesktop.Notifications'>"
                                        "    <method name='Notify'>"
                                        "      <arg type='s' direction='in'/>"
                                        "      <arg type='u' direction='in'/>"
                                        "      <arg type='s' direction='in'/>"
                                        "      <arg type='s' direction='in'/>"
                                        "      <arg type='s' direction='in'/>"
                                        "      <arg type='as' direction='in'/>"
                                        "      <arg type='a{sv}' direction='in'/>"
                                        "      <arg type='i' direction='in'/>"
                                        "      <arg type='u' direction='out'/>"
                                        "    </method>"
                                        "    <method name='CloseNotification'>"
                                        "      <arg type='u' direction='in'/>"
                                        "    </method>"
                                        "    <method name='GetCapabilities'>"
                                        "      <arg type='as' direction='out'/>"
                                        "    </method>"
                                        "    <method name='GetServerInformation'>"
                                        "      <arg type='s' direction='out'/>"
                                        "      <arg type='s' direction='out'/>"
                                        "      <arg type='s' direction='out'/>"
                                        "      <arg type='s' direction='out'/>"
                                        "    </method>"
                                        "    <signal name='NotificationClosed'>"
                                        "      <arg type='u'/>"
                                        "      <arg type='u'/>"
                                        "    </signal>"
                                        "    <signal name='ActionInvoked'>"
                                        "      <arg type='u'/>"
                                        "      <arg type='s'/>"
                                        "    </signal>"
                                        "  </interface>"
                                        "</node>";

static void
fake_notification_free (gpointer data)
{
  FakeNotification *notification = data;

  g_free (notification->app_name);
  g_free (notification->summary);
  g_free (notification->body);
  g_strfreev (notification->actions);
  g_free (notification);
}

static void
method_call_cb (GDBusConnection *connection,
                const char *sender,
                const char *object_path,
                const char *interface_name,
                const char *method_name,
                GVariant *parameters,
                GDBusMethodInvocation *invocation,
                gpointer user_data)
{
  FakeNotifications *server = user_data;

  if (g_str_equal (method_name, "Notify"))
    {
      FakeNotification *notification = g_new0 (FakeNotification, 1);

      g_variant_get (parameters, "(su&sss^as@a{sv}i)", &notification->app_name,
                     &notification->replaces_id, NULL, &notification->summary,
                     &notification->body, &notification->actions, NULL, NULL);
      notification->received_us = g_get_monotonic_time ();
      notification->id = notification->replaces_id != 0 ? notification->replaces_id : ++server->last_id;
      g_ptr_array_add (server->notifications, notification);
      server->got_call = TRUE;
      g_dbus_method_invocation_return_value (invocation, g_variant_new ("(u)", notification->id));
    }
  else if (g_str_equal (method_name, "CloseNotification"))
    {
      guint32 id;

      g_variant_get (parameters, "(u)", &id);
      g_array_append_val (server->closed, id);
      server->got_call = TRUE;
      g_dbus_method_invocation_return_value (invocation, NULL);
      g_dbus_connection_emit_signal (connection, NULL, "/org/freedesktop/Notifications",
                                     "org.freedesktop.Notifications", "NotificationClosed",
                                     g_variant_new ("(uu)", id, 3), NULL);
    }
  else if (g_str_equal (method_name, "GetCapabilities"))
    {
      const char *caps[] = { "actions", "body", "body-markup", NULL };

      g_dbus_method_invocation_return_value (invocation, g_variant_new ("(^as)", caps));
    }
  else
    {
      g_dbus_method_invocation_return_value (invocation,
                                             g_variant_new ("(ssss)", "fake", "postern-tests", "1", "1.2"));
    }
}

static const GDBusInterfaceVTable vtable = {
  .method_call = method_call_cb,
};

FakeNotifications *
fake_notifications_start (TestBus *bus)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GDBusNodeInfo) info = g_dbus_node_info_new_for_xml (notifications_xml, &error);
  g_autoptr (GVariant) reply = NULL;
  FakeNotifications *server = g_new0 (FakeNotifications, 1);
  guint32 result = 0;

  g_assert_no_error (error);
  server->connection = test_bus_connect (bus);
  server->notifications = g_ptr_array_new_with_free_func (fake_notification_free);
  server->closed = g_array_new (FALSE, FALSE, sizeof (guint32));
  server->registration_id = g_dbus_connection_register_object (server->connection, "/org/freedesktop/Notifications",
                                                               info->interfaces[0], &vtable, server, NULL, &error);
  g_assert_no_error (error);

  reply = g_dbus_connection_call_sync (server->connection, "org.freedesktop.DBus",
                                       "/org/freedesktop/DBus", "org.freedesktop.DBus",
                                       "RequestName",
                                       g_variant_new ("(su)", "org.freedesktop.Notifications", 0x4),
                                       G_VARIANT_TYPE ("(u)"), G_DBUS_CALL_FLAGS_NONE, 5000,
                                       NULL, &error);
  g_assert_no_error (error);
  g_variant_get (reply, "(u)", &result);
  g_assert_cmpuint (result, ==, 1);
  return server;
}

void
fake_notifications_stop (FakeNotifications *server)
{
  if (server == NULL)
    return;
  g_dbus_connection_unregister_object (server->connection, server->registration_id);
  test_bus_close (&server->connection);
  g_ptr_array_unref (server->notifications);
  g_array_unref (server->closed);
  g_free (server);
}

const char *
fake_notification_action_key (FakeNotification *notification,
                              const char *label)
{
  for (guint i = 0; notification->actions[i] != NULL && notification->actions[i + 1] != NULL; i += 2)
    {
      if (g_str_equal (notification->actions[i + 1], label) || (g_str_equal (label, "default") && g_str_equal (notification->actions[i], "default")))
        return notification->actions[i];
    }
  return NULL;
}

void
fake_notifications_invoke (FakeNotifications *server,
                           guint32 id,
                           const char *action_key)
{
  g_dbus_connection_emit_signal (server->connection, NULL, "/org/freedesktop/Notifications",
                                 "org.freedesktop.Notifications", "ActionInvoked",
                                 g_variant_new ("(us)", id, action_key), NULL);
}

gboolean
fake_notifications_wait (FakeNotifications *server,
                         guint n,
                         guint timeout_ms)
{
  gint64 deadline = g_get_monotonic_time () + timeout_ms * G_TIME_SPAN_MILLISECOND;

  while (server->notifications->len < n && g_get_monotonic_time () < deadline)
    {
      server->got_call = FALSE;
      tray_spin_until (&server->got_call, 100);
    }
  return server->notifications->len >= n;
}
