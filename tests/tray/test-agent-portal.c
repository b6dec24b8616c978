/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "postern-agent-portal.h"
#include "test-bus.h"

/*
 * The agent's Background portal client against a fake
 * org.freedesktop.portal.Desktop on a private bus: what RequestBackground
 * is asked with, the Request's Response, SetStatus only on change and only
 * from version 2 on. A real sandbox is not available here;
 * POSTERN_FORCE_FLATPAK=1 stands for one.
 */

#define WAIT_MS 5000

static const char portal_xml[] = "<node>"
                                 "  <interface name='org.freedesktop.portal.Background'>"
                                 "    <method name='RequestBackground'>"
                                 "      <arg type='s' name='parent_window' direction='in'/>"
                                 "      <arg type='a{sv}' name='options' direction='in'/>"
                                 "      <arg type='o' name='handle' direction='out'/>"
                                 "    </method>"
                                 "    <method name='SetStatus'>"
                                 "      <arg type='a{sv}' name='options' direction='in'/>"
                                 "    </method>"
                                 "    <property name='version' type='u' access='read'/>"
                                 "  </interface>"
                                 "</node>";

typedef struct
{
  TestBus *bus;
  GDBusConnection *portal_connection;
  GDBusConnection *agent_connection;
  GDBusNodeInfo *info;
  guint registration;
  guint version;
  gboolean allow;
  GPtrArray *requests; /* GVariant a{sv} options */
  GPtrArray *statuses; /* char * messages */
  gboolean called;
} Fixture;

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
  Fixture *fixture = user_data;

  fixture->called = TRUE;
  if (g_str_equal (method_name, "RequestBackground"))
    {
      g_autoptr (GVariant) options = NULL;
      g_autofree char *unique = g_strdup (sender + 1);
      g_autofree char *handle = NULL;
      const char *token = "none";
      GVariantBuilder results;

      g_variant_get (parameters, "(&s@a{sv})", NULL, &options);
      g_variant_lookup (options, "handle_token", "&s", &token);
      g_strdelimit (unique, ".", '_');
      handle = g_strdup_printf ("/org/freedesktop/portal/desktop/request/%s/%s", unique, token);
      g_ptr_array_add (fixture->requests, g_variant_ref (options));
      g_dbus_method_invocation_return_value (invocation, g_variant_new ("(o)", handle));

      /* What the portal does once the user (or the policy) answered. */
      g_variant_builder_init (&results, G_VARIANT_TYPE_VARDICT);
      g_variant_builder_add (&results, "{sv}", "background", g_variant_new_boolean (fixture->allow));
      g_variant_builder_add (&results, "{sv}", "autostart", g_variant_new_boolean (fixture->allow));
      g_dbus_connection_emit_signal (connection, sender, handle, "org.freedesktop.portal.Request", "Response",
                                     g_variant_new ("(ua{sv})", fixture->allow ? 0 : 1, &results), NULL);
    }
  else if (g_str_equal (method_name, "SetStatus"))
    {
      g_autoptr (GVariant) options = NULL;
      const char *message = NULL;

      if (fixture->version < 2)
        {
          /* A version 1 portal has no such method. */
          g_dbus_method_invocation_return_error (invocation, G_DBUS_ERROR, G_DBUS_ERROR_UNKNOWN_METHOD, "No SetStatus in version 1");
          return;
        }
      g_variant_get (parameters, "(@a{sv})", &options);
      g_assert_true (g_variant_lookup (options, "message", "&s", &message));
      g_ptr_array_add (fixture->statuses, g_strdup (message));
      g_dbus_method_invocation_return_value (invocation, NULL);
    }
  else
    g_dbus_method_invocation_return_error (invocation, G_DBUS_ERROR, G_DBUS_ERROR_UNKNOWN_METHOD, "%s", method_name);
}

static GVariant *
get_property_cb (GDBusConnection *connection,
                 const char *sender,
                 const char *object_path,
                 const char *interface_name,
                 const char *property_name,
                 GError **error,
                 gpointer user_data)
{
  Fixture *fixture = user_data;

  return g_variant_new_uint32 (fixture->version);
}

static const GDBusInterfaceVTable vtable = { method_call_cb, get_property_cb, NULL, { 0 } };

static void
fixture_set_up (Fixture *fixture,
                gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GVariant) reply = NULL;

  fixture->version = GPOINTER_TO_UINT (data);
  fixture->allow = TRUE;
  fixture->requests = g_ptr_array_new_with_free_func ((GDestroyNotify)g_variant_unref);
  fixture->statuses = g_ptr_array_new_with_free_func (g_free);
  fixture->bus = test_bus_start ();
  fixture->portal_connection = test_bus_connect (fixture->bus);
  fixture->agent_connection = test_bus_connect (fixture->bus);

  fixture->info = g_dbus_node_info_new_for_xml (portal_xml, &error);
  g_assert_no_error (error);
  fixture->registration = g_dbus_connection_register_object (fixture->portal_connection, "/org/freedesktop/portal/desktop",
                                                             fixture->info->interfaces[0], &vtable, fixture, NULL, &error);
  g_assert_no_error (error);
  reply = tray_call (fixture->portal_connection, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                     "RequestName", g_variant_new ("(su)", "org.freedesktop.portal.Desktop", 0x4),
                     G_VARIANT_TYPE ("(u)"), &error);
  g_assert_no_error (error);
}

static void
fixture_tear_down (Fixture *fixture,
                   gconstpointer data)
{
  g_dbus_connection_unregister_object (fixture->portal_connection, fixture->registration);
  test_bus_close (&fixture->agent_connection);
  test_bus_close (&fixture->portal_connection);
  test_bus_stop (fixture->bus);
  g_dbus_node_info_unref (fixture->info);
  g_ptr_array_unref (fixture->requests);
  g_ptr_array_unref (fixture->statuses);
}

static gboolean
wait_answer (PosternAgentPortal *portal,
             gboolean *out_background)
{
  gint64 deadline = g_get_monotonic_time () + WAIT_MS * G_TIME_SPAN_MILLISECOND;

  while (!postern_agent_portal_get_answered (portal, out_background) && g_get_monotonic_time () < deadline)
    tray_spin_for (20);
  return postern_agent_portal_get_answered (portal, out_background);
}

static void
wait_statuses (Fixture *fixture,
               guint n)
{
  gint64 deadline = g_get_monotonic_time () + WAIT_MS * G_TIME_SPAN_MILLISECOND;

  while (fixture->statuses->len < n && g_get_monotonic_time () < deadline)
    tray_spin_for (20);
  g_assert_cmpuint (fixture->statuses->len, ==, n);
}

static void
test_sandbox_check (void)
{
  g_unsetenv ("POSTERN_FORCE_FLATPAK");
  g_assert_cmpint (postern_agent_portal_in_sandbox (), ==, g_file_test ("/.flatpak-info", G_FILE_TEST_EXISTS));
  g_setenv ("POSTERN_FORCE_FLATPAK", "1", TRUE);
  g_assert_true (postern_agent_portal_in_sandbox ());
  g_unsetenv ("POSTERN_FORCE_FLATPAK");
}

static void
test_status_text (void)
{
  g_assert_cmpstr (postern_agent_portal_status_text (POSTERN_SYNC_STATUS_ONLINE), ==, "Synced");
  g_assert_cmpstr (postern_agent_portal_status_text (POSTERN_SYNC_STATUS_OFFLINE), ==, "Offline");
  /* Connecting alternates with offline on each retry: no flicker. */
  g_assert_null (postern_agent_portal_status_text (POSTERN_SYNC_STATUS_CONNECTING));
}

/* RequestBackground once, with what the agent needs; the Response is
 * followed. */
static void
test_request_background (Fixture *fixture,
                         gconstpointer data)
{
  g_autoptr (PosternAgentPortal) portal = postern_agent_portal_new (fixture->agent_connection);
  GVariant *options;
  g_autofree const char **commandline = NULL;
  const char *reason = NULL;
  gboolean autostart = FALSE;
  gboolean activatable = TRUE;
  gboolean background = FALSE;

  postern_agent_portal_request_background (portal, "Alerts");
  postern_agent_portal_request_background (portal, "Alerts");
  g_assert_true (wait_answer (portal, &background));
  g_assert_true (background);
  tray_spin_for (100);
  g_assert_cmpuint (fixture->requests->len, ==, 1);

  options = g_ptr_array_index (fixture->requests, 0);
  g_assert_true (g_variant_lookup (options, "reason", "&s", &reason));
  g_assert_cmpstr (reason, ==, "Alerts");
  g_assert_true (g_variant_lookup (options, "autostart", "b", &autostart));
  g_assert_true (autostart);
  g_assert_true (g_variant_lookup (options, "dbus-activatable", "b", &activatable));
  g_assert_false (activatable);
  g_assert_true (g_variant_lookup (options, "commandline", "^a&s", &commandline));
  g_assert_cmpstrv (commandline, ((const char *[]){ "postern-agent", NULL }));
}

static void
test_request_refused (Fixture *fixture,
                      gconstpointer data)
{
  g_autoptr (PosternAgentPortal) portal = postern_agent_portal_new (fixture->agent_connection);
  gboolean background = TRUE;

  fixture->allow = FALSE;
  postern_agent_portal_request_background (portal, "Alerts");
  g_assert_true (wait_answer (portal, &background));
  g_assert_false (background);
}

/* Version 2: SetStatus on each change only. */
static void
test_status (Fixture *fixture,
             gconstpointer data)
{
  g_autoptr (PosternAgentPortal) portal = postern_agent_portal_new (fixture->agent_connection);

  postern_agent_portal_set_status (portal, "Synced");
  wait_statuses (fixture, 1);
  postern_agent_portal_set_status (portal, "Synced");
  postern_agent_portal_set_status (portal, "Offline");
  wait_statuses (fixture, 2);
  tray_spin_for (200);
  g_assert_cmpuint (fixture->statuses->len, ==, 2);
  g_assert_cmpstr (g_ptr_array_index (fixture->statuses, 0), ==, "Synced");
  g_assert_cmpstr (g_ptr_array_index (fixture->statuses, 1), ==, "Offline");
}

/* Version 1 has no SetStatus: it is never called. */
static void
test_status_version_1 (Fixture *fixture,
                       gconstpointer data)
{
  g_autoptr (PosternAgentPortal) portal = postern_agent_portal_new (fixture->agent_connection);

  postern_agent_portal_set_status (portal, "Synced");
  postern_agent_portal_request_background (portal, "Alerts");
  g_assert_true (wait_answer (portal, NULL));
  tray_spin_for (300);
  g_assert_cmpuint (fixture->statuses->len, ==, 0);
  g_assert_cmpuint (fixture->requests->len, ==, 1);
}

int
main (int argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/postern/agent/portal/sandbox-check", test_sandbox_check);
  g_test_add_func ("/postern/agent/portal/status-text", test_status_text);
  g_test_add ("/postern/agent/portal/request-background", Fixture, GUINT_TO_POINTER (2),
              fixture_set_up, test_request_background, fixture_tear_down);
  g_test_add ("/postern/agent/portal/request-refused", Fixture, GUINT_TO_POINTER (2),
              fixture_set_up, test_request_refused, fixture_tear_down);
  g_test_add ("/postern/agent/portal/status", Fixture, GUINT_TO_POINTER (2),
              fixture_set_up, test_status, fixture_tear_down);
  g_test_add ("/postern/agent/portal/status-version-1", Fixture, GUINT_TO_POINTER (1),
              fixture_set_up, test_status_version_1, fixture_tear_down);

  return g_test_run ();
}
