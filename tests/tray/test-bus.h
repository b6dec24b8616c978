/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* A private dbus-daemon for one test, with no service activation, so no
 * real tray, notification server or keyring on the machine can answer. */
typedef struct
{
  char *tmpdir;
  char *address;
  GPid pid;
} TestBus;

TestBus *test_bus_start (void);
void test_bus_stop (TestBus *bus);
GDBusConnection *test_bus_connect (TestBus *bus);
void test_bus_close (GDBusConnection **connection);

gboolean tray_spin_until (gboolean *flag,
                          guint timeout_ms);
void tray_spin_for (guint ms);
GVariant *tray_call (GDBusConnection *connection,
                     const char *bus_name,
                     const char *object_path,
                     const char *interface_name,
                     const char *method_name,
                     GVariant *parameters,
                     const GVariantType *reply_type,
                     GError **error);

G_END_DECLS
