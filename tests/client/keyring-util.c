/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <string.h>

#include <gio/gio.h>

#include "keyring-util.h"

#define TIMEOUT_MS       20000
#define SECRETS_NAME     "org.freedesktop.secrets"
#define SECRETS_PATH     "/org/freedesktop/secrets"
#define SERVICE_IFACE    "org.freedesktop.Secret.Service"
#define LOGIN_COLLECTION "/org/freedesktop/secrets/collection/login"

static GDBusConnection *
session_bus (void)
{
  g_autoptr (GError) error = NULL;
  GDBusConnection *bus = g_bus_get_sync (G_BUS_TYPE_SESSION, NULL, &error);

  g_assert_no_error (error);
  return bus;
}

void
keyring_test_lock (void)
{
  g_autoptr (GDBusConnection) bus = session_bus ();
  g_autoptr (GError) error = NULL;
  g_autoptr (GVariant) reply = NULL;
  const char *objects[] = { LOGIN_COLLECTION, NULL };

  reply = g_dbus_connection_call_sync (bus, SECRETS_NAME, SECRETS_PATH, SERVICE_IFACE, "Lock",
                                       g_variant_new ("(^ao)", objects), G_VARIANT_TYPE ("(aoo)"),
                                       G_DBUS_CALL_FLAGS_NONE, TIMEOUT_MS, NULL, &error);
  g_assert_no_error (error);
}

void
keyring_test_unlock (void)
{
  g_autoptr (GDBusConnection) bus = session_bus ();
  g_autoptr (GError) error = NULL;
  g_autoptr (GVariant) session = NULL;
  g_autoptr (GVariant) reply = NULL;
  const char *password = g_getenv ("POSTERN_TEST_KEYRING_PASSWORD");
  const char *session_path = NULL;
  GVariant *secret;

  g_assert_nonnull (password);
  session = g_dbus_connection_call_sync (bus, SECRETS_NAME, SECRETS_PATH, SERVICE_IFACE, "OpenSession",
                                         g_variant_new ("(sv)", "plain", g_variant_new_string ("")),
                                         G_VARIANT_TYPE ("(vo)"), G_DBUS_CALL_FLAGS_NONE, TIMEOUT_MS,
                                         NULL, &error);
  g_assert_no_error (error);
  g_variant_get (session, "(v&o)", NULL, &session_path);

  secret = g_variant_new ("(o@ay@ays)", session_path,
                          g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE, "", 0, 1),
                          g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE, password, strlen (password), 1),
                          "text/plain");
  reply = g_dbus_connection_call_sync (bus, SECRETS_NAME, SECRETS_PATH,
                                       "org.gnome.keyring.InternalUnsupportedGuiltRiddenInterface",
                                       "UnlockWithMasterPassword",
                                       g_variant_new ("(o@(oayays))", LOGIN_COLLECTION, secret),
                                       NULL, G_DBUS_CALL_FLAGS_NONE, TIMEOUT_MS, NULL, &error);
  g_assert_no_error (error);
}
