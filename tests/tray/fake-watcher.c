/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "fake-watcher.h"

#include "postern-tray-item.h"

static const char watcher_xml[] = "<node>"
                                  "  <interface name='org.kde.StatusNotifierWatcher'>"
                                  "    <method name='RegisterStatusNotifierItem'>"
                                  "      <arg name='service' type='s' direction='in'/>"
                                  "    </method>"
                                  "    <method name='RegisterStatusNotifierHost'>"
                                  "      <arg name='service' type='s' direction='in'/>"
                                  "    </method>"
                                  "    <property name='RegisteredStatusNotifierItems' type='as' access='read'/>"
                                  "    <property name='IsStatusNotifierHostRegistered' type='b' access='read'/>"
                                  "    <property name='ProtocolVersion' type='i' access='read'/>"
                                  "    <signal name='StatusNotifierItemRegistered'><arg type='s'/></signal>"
                                  "    <signal name='StatusNotifierItemUnregistered'><arg type='s'/></signal>"
                                  "    <signal name='StatusNotifierHostRegistered'/>"
                                  "    <signal name='StatusNotifierHostUnregistered'/>"
                                  "  </interface>"
                                  "</node>";

static void
watcher_method_call_cb (GDBusConnection *connection,
                        const char *sender,
                        const char *object_path,
                        const char *interface_name,
                        const char *method_name,
                        GVariant *parameters,
                        GDBusMethodInvocation *invocation,
                        gpointer user_data)
{
  FakeWatcher *watcher = user_data;
  const char *service = NULL;

  g_variant_get (parameters, "(&s)", &service);
  if (g_str_equal (method_name, "RegisterStatusNotifierItem"))
    {
      g_ptr_array_add (watcher->services, g_strdup (service));
      g_ptr_array_add (watcher->senders, g_strdup (sender));
      watcher->got_registration = TRUE;
    }
  g_dbus_method_invocation_return_value (invocation, NULL);
}

static GVariant *
watcher_get_property_cb (GDBusConnection *connection,
                         const char *sender,
                         const char *object_path,
                         const char *interface_name,
                         const char *property_name,
                         GError **error,
                         gpointer user_data)
{
  FakeWatcher *watcher = user_data;

  if (g_str_equal (property_name, "IsStatusNotifierHostRegistered"))
    return g_variant_new_boolean (watcher->host_registered);
  if (g_str_equal (property_name, "ProtocolVersion"))
    return g_variant_new_int32 (0);
  return g_variant_new_strv ((const char *const *)watcher->services->pdata, watcher->services->len);
}

static const GDBusInterfaceVTable watcher_vtable = {
  .method_call = watcher_method_call_cb,
  .get_property = watcher_get_property_cb,
};

FakeWatcher *
fake_watcher_start (TestBus *bus,
                    gboolean host_registered)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GDBusNodeInfo) info = g_dbus_node_info_new_for_xml (watcher_xml, &error);
  g_autoptr (GVariant) reply = NULL;
  FakeWatcher *watcher = g_new0 (FakeWatcher, 1);

  g_assert_no_error (error);
  watcher->connection = test_bus_connect (bus);
  watcher->host_registered = host_registered;
  watcher->services = g_ptr_array_new_with_free_func (g_free);
  watcher->senders = g_ptr_array_new_with_free_func (g_free);
  watcher->registration_id = g_dbus_connection_register_object (watcher->connection, "/StatusNotifierWatcher",
                                                                info->interfaces[0], &watcher_vtable, watcher, NULL, &error);
  g_assert_no_error (error);

  /* The bus daemon answers this itself: a synchronous call is safe. */
  reply = g_dbus_connection_call_sync (watcher->connection, "org.freedesktop.DBus",
                                       "/org/freedesktop/DBus", "org.freedesktop.DBus",
                                       "RequestName",
                                       g_variant_new ("(su)", POSTERN_TRAY_WATCHER_NAME, 0x4),
                                       G_VARIANT_TYPE ("(u)"), G_DBUS_CALL_FLAGS_NONE, WAIT_MS,
                                       NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_variant_get_uint32 (g_variant_get_child_value (reply, 0)), ==, 1);
  return watcher;
}

void
fake_watcher_host_appears (FakeWatcher *watcher)
{
  watcher->host_registered = TRUE;
  g_dbus_connection_emit_signal (watcher->connection, NULL, "/StatusNotifierWatcher",
                                 "org.kde.StatusNotifierWatcher", "StatusNotifierHostRegistered",
                                 NULL, NULL);
}

void
fake_watcher_stop (FakeWatcher *watcher)
{
  if (watcher == NULL)
    return;
  g_dbus_connection_unregister_object (watcher->connection, watcher->registration_id);
  test_bus_close (&watcher->connection);
  g_ptr_array_unref (watcher->services);
  g_ptr_array_unref (watcher->senders);
  g_free (watcher);
}
