/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "menu-client.h"
#include "test-bus.h"

static GVariant *
get_layout (GDBusConnection *host,
            const char *bus_name)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GVariant) reply = NULL;
  GVariant *layout = NULL;

  reply = tray_call (host, bus_name, "/MenuBar", "com.canonical.dbusmenu", "GetLayout",
                     g_variant_new ("(ii^as)", 0, -1, (const char *const[]){ NULL }),
                     G_VARIANT_TYPE ("(u(ia{sv}av))"), &error);
  g_assert_no_error (error);
  g_variant_get (reply, "(u@(ia{sv}av))", NULL, &layout);
  return layout;
}

static void
describe (GVariant *layout,
          GString *out)
{
  g_autoptr (GVariant) props = NULL;
  g_autoptr (GVariant) children = NULL;
  const char *type = NULL;
  const char *label = NULL;
  gboolean enabled = TRUE;

  g_variant_get (layout, "(i@a{sv}@av)", NULL, &props, &children);
  if (g_variant_lookup (props, "type", "&s", &type) && g_str_equal (type, "separator"))
    g_string_append (out, "--");
  else if (g_variant_lookup (props, "label", "&s", &label))
    g_string_append (out, label);
  if (g_variant_lookup (props, "enabled", "b", &enabled) && !enabled)
    g_string_append (out, "!");
  if (g_variant_n_children (children) > 0)
    {
      g_string_append (out, "[");
      for (gsize i = 0; i < g_variant_n_children (children); i++)
        {
          g_autoptr (GVariant) boxed = g_variant_get_child_value (children, i);
          g_autoptr (GVariant) child = g_variant_get_variant (boxed);

          if (i > 0)
            g_string_append (out, "|");
          describe (child, out);
        }
      g_string_append (out, "]");
    }
}

char *
menu_client_describe (GDBusConnection *host,
                      const char *bus_name)
{
  g_autoptr (GVariant) layout = get_layout (host, bus_name);
  GString *out = g_string_new (NULL);

  describe (layout, out);
  return g_string_free (out, FALSE);
}

static int
find_item (GVariant *layout,
           const char *path,
           GVariant **props_out)
{
  g_auto (GStrv) parts = g_strsplit (path, "/", 2);
  g_autoptr (GVariant) children = NULL;

  g_variant_get_child (layout, 2, "@av", &children);
  for (gsize i = 0; i < g_variant_n_children (children); i++)
    {
      g_autoptr (GVariant) boxed = g_variant_get_child_value (children, i);
      g_autoptr (GVariant) child = g_variant_get_variant (boxed);
      g_autoptr (GVariant) props = NULL;
      const char *label = NULL;
      int id;

      g_variant_get (child, "(i@a{sv}@av)", &id, &props, NULL);
      if (!g_variant_lookup (props, "label", "&s", &label) || !g_str_equal (label, parts[0]))
        continue;
      if (parts[1] != NULL)
        return find_item (child, parts[1], props_out);
      if (props_out != NULL)
        *props_out = g_steal_pointer (&props);
      return id;
    }
  return -1;
}

int
menu_client_find (GDBusConnection *host,
                  const char *bus_name,
                  const char *path,
                  GVariant **props_out)
{
  g_autoptr (GVariant) layout = get_layout (host, bus_name);

  return find_item (layout, path, props_out);
}

void
menu_client_click (GDBusConnection *host,
                   const char *bus_name,
                   int id)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GVariant) reply = NULL;

  reply = tray_call (host, bus_name, "/MenuBar", "com.canonical.dbusmenu", "Event",
                     g_variant_new ("(isvu)", id, "clicked", g_variant_new_int32 (0), 0),
                     NULL, &error);
  g_assert_no_error (error);
}

void
menu_client_click_path (GDBusConnection *host,
                        const char *bus_name,
                        const char *path)
{
  for (guint attempt = 0; attempt < 5; attempt++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (GVariant) reply = NULL;
      int id = menu_client_find (host, bus_name, path, NULL);

      if (id < 0)
        g_error ("No menu item %s", path);
      reply = tray_call (host, bus_name, "/MenuBar", "com.canonical.dbusmenu", "Event",
                         g_variant_new ("(isvu)", id, "clicked", g_variant_new_int32 (0), 0),
                         NULL, &error);
      if (reply != NULL)
        return;
      g_assert_error (error, G_DBUS_ERROR, G_DBUS_ERROR_INVALID_ARGS);
      tray_spin_for (100);
    }
  g_error ("Menu item %s kept changing under the click", path);
}
