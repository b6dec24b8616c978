/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "postern-dbusmenu-exporter.h"
#include "postern-tray-item.h"
#include "fake-watcher.h"
#include "test-bus.h"

/*
 * The tray against a StatusNotifierWatcher and host written for the tests,
 * each on its own connection to a private bus: the item's side only sees
 * D-Bus, exactly as with a real panel.
 */

/* Fixture */

typedef struct
{
  TestBus *bus;
  GDBusConnection *agent;
  GDBusConnection *host;
  FakeWatcher *watcher;
  PosternTrayItem *item;
  gboolean registered_changed;
} Fixture;

static void
fixture_set_up (Fixture *f,
                gconstpointer data)
{
  f->bus = test_bus_start ();
  f->agent = test_bus_connect (f->bus);
  f->host = test_bus_connect (f->bus);
}

static void
fixture_tear_down (Fixture *f,
                   gconstpointer data)
{
  if (f->item != NULL)
    g_assert_finalize_object (g_steal_pointer (&f->item));
  fake_watcher_stop (f->watcher);
  test_bus_close (&f->host);
  test_bus_close (&f->agent);
  test_bus_stop (f->bus);
}

static void
registered_notify_cb (GObject *object,
                      GParamSpec *pspec,
                      gpointer user_data)
{
  Fixture *f = user_data;

  f->registered_changed = TRUE;
}

static void
create_item (Fixture *f)
{
  g_autoptr (GError) error = NULL;

  f->item = postern_tray_item_new (f->agent, "io.github.postern.Postern.Agent", "/MenuBar", &error);
  g_assert_no_error (error);
  g_assert_nonnull (f->item);
  g_signal_connect (f->item, "notify::registered", G_CALLBACK (registered_notify_cb), f);
  postern_tray_item_set_icon_name (f->item, "io.github.postern.Postern");
  postern_tray_item_set_title (f->item, "Postern");
  postern_tray_item_set_tooltip (f->item, "Postern", "12 channels");
}

static gboolean
wait_registered (Fixture *f)
{
  gint64 deadline = g_get_monotonic_time () + WAIT_MS * G_TIME_SPAN_MILLISECOND;

  while (!postern_tray_item_get_registered (f->item) && g_get_monotonic_time () < deadline)
    {
      f->registered_changed = FALSE;
      tray_spin_until (&f->registered_changed, 100);
    }
  return postern_tray_item_get_registered (f->item);
}

static GVariant *
get_item_property (Fixture *f,
                   const char *name)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GVariant) reply = NULL;
  GVariant *value = NULL;

  reply = tray_call (f->host, g_dbus_connection_get_unique_name (f->agent), "/StatusNotifierItem",
                     "org.freedesktop.DBus.Properties", "Get",
                     g_variant_new ("(ss)", "org.kde.StatusNotifierItem", name),
                     G_VARIANT_TYPE ("(v)"), &error);
  g_assert_no_error (error);
  g_variant_get (reply, "(v)", &value);
  return value;
}

/* Item: registration */

static void
test_item_register (Fixture *f,
                    gconstpointer data)
{
  g_autoptr (GVariant) id = NULL;
  g_autoptr (GVariant) menu = NULL;
  g_autoptr (GVariant) status = NULL;
  g_autoptr (GVariant) icon = NULL;
  g_autoptr (GVariant) item_is_menu = NULL;
  g_autoptr (GVariant) tooltip = NULL;
  g_autoptr (GVariant) category = NULL;
  const char *title = NULL;
  const char *body = NULL;

  f->watcher = fake_watcher_start (f->bus, TRUE);
  create_item (f);

  g_assert_true (wait_registered (f));
  g_assert_cmpuint (f->watcher->services->len, ==, 1);
  /* By unique name, at the default path. */
  g_assert_cmpstr (g_ptr_array_index (f->watcher->services, 0), ==,
                   g_dbus_connection_get_unique_name (f->agent));
  g_assert_cmpstr (g_ptr_array_index (f->watcher->senders, 0), ==,
                   g_dbus_connection_get_unique_name (f->agent));

  id = get_item_property (f, "Id");
  g_assert_cmpstr (g_variant_get_string (id, NULL), ==, "io.github.postern.Postern.Agent");
  menu = get_item_property (f, "Menu");
  g_assert_true (g_variant_is_of_type (menu, G_VARIANT_TYPE_OBJECT_PATH));
  g_assert_cmpstr (g_variant_get_string (menu, NULL), ==, "/MenuBar");
  status = get_item_property (f, "Status");
  g_assert_cmpstr (g_variant_get_string (status, NULL), ==, "Active");
  icon = get_item_property (f, "IconName");
  g_assert_cmpstr (g_variant_get_string (icon, NULL), ==, "io.github.postern.Postern");
  item_is_menu = get_item_property (f, "ItemIsMenu");
  g_assert_false (g_variant_get_boolean (item_is_menu));
  category = get_item_property (f, "Category");
  g_assert_cmpstr (g_variant_get_string (category, NULL), ==, "Communications");
  tooltip = get_item_property (f, "ToolTip");
  g_variant_get (tooltip, "(&s@a(iiay)&s&s)", NULL, NULL, &title, &body);
  g_assert_cmpstr (title, ==, "Postern");
  g_assert_cmpstr (body, ==, "12 channels");
}

static void
test_item_watcher_later (Fixture *f,
                         gconstpointer data)
{
  create_item (f);
  tray_spin_for (300);
  g_assert_false (postern_tray_item_get_registered (f->item));

  f->watcher = fake_watcher_start (f->bus, TRUE);
  g_assert_true (wait_registered (f));
  g_assert_cmpuint (f->watcher->services->len, ==, 1);
  g_assert_cmpstr (g_ptr_array_index (f->watcher->services, 0), ==,
                   g_dbus_connection_get_unique_name (f->agent));
}

static void
test_item_host_later (Fixture *f,
                      gconstpointer data)
{
  f->watcher = fake_watcher_start (f->bus, FALSE);
  create_item (f);

  /* A watcher without a host: no tray to show the item in, so no
   * registration yet. */
  tray_spin_for (300);
  g_assert_false (postern_tray_item_get_registered (f->item));
  g_assert_cmpuint (f->watcher->services->len, ==, 0);

  fake_watcher_host_appears (f->watcher);
  g_assert_true (wait_registered (f));
  g_assert_cmpuint (f->watcher->services->len, ==, 1);

  /* A panel restart: the next host registers and the item again. */
  f->watcher->got_registration = FALSE;
  fake_watcher_host_appears (f->watcher);
  g_assert_true (tray_spin_until (&f->watcher->got_registration, WAIT_MS));
  g_assert_cmpuint (f->watcher->services->len, ==, 2);
}

static void
test_item_watcher_restart (Fixture *f,
                           gconstpointer data)
{
  f->watcher = fake_watcher_start (f->bus, TRUE);
  create_item (f);
  g_assert_true (wait_registered (f));

  g_clear_pointer (&f->watcher, fake_watcher_stop);
  f->registered_changed = FALSE;
  g_assert_true (tray_spin_until (&f->registered_changed, WAIT_MS));
  g_assert_false (postern_tray_item_get_registered (f->item));

  f->watcher = fake_watcher_start (f->bus, TRUE);
  g_assert_true (wait_registered (f));
  g_assert_cmpuint (f->watcher->services->len, ==, 1);
}

static void
test_item_no_watcher (Fixture *f,
                      gconstpointer data)
{
  g_autoptr (GVariant) id = NULL;

  /* Stock GNOME: nobody owns the watcher name. Nothing may warn (warnings
   * are fatal in this suite) and the object still answers. */
  create_item (f);
  postern_tray_item_set_status (f->item, POSTERN_TRAY_STATUS_NEEDS_ATTENTION);
  tray_spin_for (300);
  g_assert_false (postern_tray_item_get_registered (f->item));
  id = get_item_property (f, "Id");
  g_assert_cmpstr (g_variant_get_string (id, NULL), ==, "io.github.postern.Postern.Agent");
}

/* Item: signals and methods */

typedef struct
{
  GPtrArray *names; /* signal names, in order */
  GPtrArray *args;  /* GVariant * parameters */
  gboolean got_any;
} SignalLog;

static void
signal_log_cb (GDBusConnection *connection,
               const char *sender_name,
               const char *object_path,
               const char *interface_name,
               const char *signal_name,
               GVariant *parameters,
               gpointer user_data)
{
  SignalLog *log = user_data;

  g_ptr_array_add (log->names, g_strdup (signal_name));
  g_ptr_array_add (log->args, g_variant_ref (parameters));
  log->got_any = TRUE;
}

static void
signal_log_init (SignalLog *log)
{
  log->names = g_ptr_array_new_with_free_func (g_free);
  log->args = g_ptr_array_new_with_free_func ((GDestroyNotify)g_variant_unref);
  log->got_any = FALSE;
}

static void
signal_log_clear (SignalLog *log)
{
  g_ptr_array_set_size (log->names, 0);
  g_ptr_array_set_size (log->args, 0);
  log->got_any = FALSE;
}

static void
signal_log_free (SignalLog *log)
{
  g_ptr_array_unref (log->names);
  g_ptr_array_unref (log->args);
}

static int
signal_log_find (SignalLog *log,
                 const char *name)
{
  for (guint i = 0; i < log->names->len; i++)
    if (g_str_equal (g_ptr_array_index (log->names, i), name))
      return (int)i;
  return -1;
}

static guint
signal_log_count (SignalLog *log,
                  const char *name)
{
  guint n = 0;

  for (guint i = 0; i < log->names->len; i++)
    if (g_str_equal (g_ptr_array_index (log->names, i), name))
      n++;
  return n;
}

static void
wait_for_signal (SignalLog *log,
                 const char *name)
{
  gint64 deadline = g_get_monotonic_time () + WAIT_MS * G_TIME_SPAN_MILLISECOND;

  while (signal_log_find (log, name) < 0 && g_get_monotonic_time () < deadline)
    {
      log->got_any = FALSE;
      tray_spin_until (&log->got_any, 100);
    }
  if (signal_log_find (log, name) < 0)
    g_error ("No %s signal within %d ms", name, WAIT_MS);
}

static void
test_item_status (Fixture *f,
                  gconstpointer data)
{
  SignalLog log;
  guint sub;
  int index;
  const char *status = NULL;
  const char *interface = NULL;
  g_autoptr (GVariant) changed = NULL;
  g_autoptr (GVariant) overlay = NULL;
  g_autoptr (GVariant) tooltip = NULL;
  const char *body = NULL;

  f->watcher = fake_watcher_start (f->bus, TRUE);
  create_item (f);
  g_assert_true (wait_registered (f));

  signal_log_init (&log);
  sub = g_dbus_connection_signal_subscribe (f->host, g_dbus_connection_get_unique_name (f->agent),
                                            NULL, NULL, "/StatusNotifierItem", NULL,
                                            G_DBUS_SIGNAL_FLAGS_NONE, signal_log_cb, &log, NULL);
  /* A round trip, so the match rule is on the bus before anything is
   * emitted. */
  g_variant_unref (get_item_property (f, "Id"));

  postern_tray_item_set_status (f->item, POSTERN_TRAY_STATUS_NEEDS_ATTENTION);
  wait_for_signal (&log, "NewStatus");
  index = signal_log_find (&log, "NewStatus");
  g_variant_get (g_ptr_array_index (log.args, index), "(&s)", &status);
  g_assert_cmpstr (status, ==, "NeedsAttention");
  wait_for_signal (&log, "PropertiesChanged");
  index = signal_log_find (&log, "PropertiesChanged");
  g_variant_get (g_ptr_array_index (log.args, index), "(&s@a{sv}@as)", &interface, &changed, NULL);
  g_assert_cmpstr (interface, ==, "org.kde.StatusNotifierItem");
  g_assert_true (g_variant_lookup (changed, "Status", "&s", &status));
  g_assert_cmpstr (status, ==, "NeedsAttention");

  /* Setting the same value again says nothing. */
  signal_log_clear (&log);
  postern_tray_item_set_status (f->item, POSTERN_TRAY_STATUS_NEEDS_ATTENTION);
  postern_tray_item_set_overlay_icon_name (f->item, "network-offline-symbolic");
  wait_for_signal (&log, "NewOverlayIcon");
  g_assert_cmpint (signal_log_find (&log, "NewStatus"), <, 0);
  overlay = get_item_property (f, "OverlayIconName");
  g_assert_cmpstr (g_variant_get_string (overlay, NULL), ==, "network-offline-symbolic");

  signal_log_clear (&log);
  postern_tray_item_set_tooltip (f->item, "Postern", "3 unread alerts");
  wait_for_signal (&log, "NewToolTip");
  tooltip = get_item_property (f, "ToolTip");
  g_variant_get (tooltip, "(&s@a(iiay)&s&s)", NULL, NULL, NULL, &body);
  g_assert_cmpstr (body, ==, "3 unread alerts");

  signal_log_clear (&log);
  postern_tray_item_set_icon_name (f->item, "mail-unread-symbolic");
  wait_for_signal (&log, "NewIcon");
  signal_log_clear (&log);
  postern_tray_item_set_title (f->item, "Postern (offline)");
  wait_for_signal (&log, "NewTitle");

  g_dbus_connection_signal_unsubscribe (f->host, sub);
  signal_log_free (&log);
}

typedef struct
{
  gboolean activated;
  gboolean secondary;
  int x;
  int y;
} ActivateLog;

static void
activate_cb (PosternTrayItem *item,
             int x,
             int y,
             gpointer user_data)
{
  ActivateLog *log = user_data;

  log->activated = TRUE;
  log->x = x;
  log->y = y;
}

static void
secondary_activate_cb (PosternTrayItem *item,
                       int x,
                       int y,
                       gpointer user_data)
{
  ActivateLog *log = user_data;

  log->secondary = TRUE;
}

static void
test_item_activate (Fixture *f,
                    gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GVariant) reply = NULL;
  g_autofree char *token = NULL;
  ActivateLog log = { 0 };
  const char *item_name;

  create_item (f);
  item_name = g_dbus_connection_get_unique_name (f->agent);
  g_signal_connect (f->item, "activate", G_CALLBACK (activate_cb), &log);
  g_signal_connect (f->item, "secondary-activate", G_CALLBACK (secondary_activate_cb), &log);

  reply = tray_call (f->host, item_name, "/StatusNotifierItem", "org.kde.StatusNotifierItem",
                     "ProvideXdgActivationToken", g_variant_new ("(s)", "token-123"), NULL, &error);
  g_assert_no_error (error);
  g_clear_pointer (&reply, g_variant_unref);

  reply = tray_call (f->host, item_name, "/StatusNotifierItem", "org.kde.StatusNotifierItem",
                     "Activate", g_variant_new ("(ii)", 3, 4), NULL, &error);
  g_assert_no_error (error);
  g_clear_pointer (&reply, g_variant_unref);
  g_assert_true (tray_spin_until (&log.activated, WAIT_MS));
  g_assert_cmpint (log.x, ==, 3);
  g_assert_cmpint (log.y, ==, 4);
  token = postern_tray_item_take_activation_token (f->item);
  g_assert_cmpstr (token, ==, "token-123");
  g_clear_pointer (&token, g_free);
  token = postern_tray_item_take_activation_token (f->item);
  g_assert_null (token);

  reply = tray_call (f->host, item_name, "/StatusNotifierItem", "org.kde.StatusNotifierItem",
                     "SecondaryActivate", g_variant_new ("(ii)", 0, 0), NULL, &error);
  g_assert_no_error (error);
  g_clear_pointer (&reply, g_variant_unref);
  g_assert_true (tray_spin_until (&log.secondary, WAIT_MS));

  /* Hosts fall back to these; they must answer, and do nothing. */
  reply = tray_call (f->host, item_name, "/StatusNotifierItem", "org.kde.StatusNotifierItem",
                     "ContextMenu", g_variant_new ("(ii)", 0, 0), NULL, &error);
  g_assert_no_error (error);
  g_clear_pointer (&reply, g_variant_unref);
  reply = tray_call (f->host, item_name, "/StatusNotifierItem", "org.kde.StatusNotifierItem",
                     "Scroll", g_variant_new ("(is)", 1, "vertical"), NULL, &error);
  g_assert_no_error (error);
  g_clear_pointer (&reply, g_variant_unref);

  reply = tray_call (f->host, item_name, "/StatusNotifierItem", "org.kde.StatusNotifierItem",
                     "Explode", NULL, NULL, &error);
  g_assert_error (error, G_DBUS_ERROR, G_DBUS_ERROR_UNKNOWN_METHOD);
  g_assert_null (reply);
}

/* Menu */

typedef struct
{
  Fixture base;
  GMenu *menu;
  GMenu *actions_section;
  GMenu *recent;
  GSimpleActionGroup *actions;
  PosternDbusmenuExporter *exporter;
  GPtrArray *activations; /* "name target" strings */
  gboolean activated;
} MenuFixture;

static void
record_activation_cb (GSimpleAction *action,
                      GVariant *parameter,
                      gpointer user_data)
{
  MenuFixture *f = user_data;
  g_autofree char *target = parameter ? g_variant_print (parameter, FALSE) : g_strdup ("-");

  g_ptr_array_add (f->activations, g_strdup_printf ("%s %s", g_action_get_name (G_ACTION (action)), target));
  f->activated = TRUE;
}

static void
toggle_cb (GSimpleAction *action,
           GVariant *parameter,
           gpointer user_data)
{
  g_autoptr (GVariant) state = g_action_get_state (G_ACTION (action));

  g_simple_action_set_state (action, g_variant_new_boolean (!g_variant_get_boolean (state)));
  record_activation_cb (action, parameter, user_data);
}

static GMenu *
channel_submenu (const char *label,
                 const char *channel_id)
{
  g_autoptr (GMenu) channel = g_menu_new ();
  GMenu *wrapper = g_menu_new ();
  g_autoptr (GMenuItem) copy = g_menu_item_new ("_Copy address", NULL);
  g_autoptr (GMenuItem) revoke = g_menu_item_new ("_Revoke…", NULL);

  g_menu_item_set_action_and_target (copy, "app.copy", "s", channel_id);
  g_menu_item_set_action_and_target (revoke, "app.revoke", "s", channel_id);
  g_menu_append_item (channel, copy);
  g_menu_append_item (channel, revoke);
  g_menu_append_submenu (wrapper, label, G_MENU_MODEL (channel));
  return wrapper;
}

static void
menu_set_up (MenuFixture *f,
             gconstpointer data)
{
  static const GActionEntry entries[] = {
    { "open", record_activation_cb, NULL, NULL, NULL },
    { "new-address", record_activation_cb, NULL, NULL, NULL },
    { "new-qr", record_activation_cb, NULL, NULL, NULL },
    { "copy", record_activation_cb, "s", NULL, NULL },
    { "revoke", record_activation_cb, "s", NULL, NULL },
    { "alerts", record_activation_cb, NULL, NULL, NULL },
    { "notify", toggle_cb, NULL, "false", NULL },
    { "quit", record_activation_cb, NULL, NULL, NULL },
  };
  g_autoptr (GError) error = NULL;
  g_autoptr (GMenu) first = g_menu_new ();
  g_autoptr (GMenu) last = g_menu_new ();
  g_autoptr (GMenu) shop = channel_submenu ("Shop", "ch-shop");
  g_autoptr (GMenu) recruiter = channel_submenu ("Recruiter_2026", "ch-recruiter");

  fixture_set_up (&f->base, data);
  f->activations = g_ptr_array_new_with_free_func (g_free);
  f->actions = g_simple_action_group_new ();
  g_action_map_add_action_entries (G_ACTION_MAP (f->actions), entries, G_N_ELEMENTS (entries), f);
  g_simple_action_set_enabled (G_SIMPLE_ACTION (g_action_map_lookup_action (G_ACTION_MAP (f->actions), "alerts")), FALSE);

  /* The agent's menu, in shape: open first, then sections. */
  f->menu = g_menu_new ();
  g_menu_append (first, "Open _Postern", "app.open");
  g_menu_append_section (f->menu, NULL, G_MENU_MODEL (first));

  f->actions_section = g_menu_new ();
  g_menu_append (f->actions_section, "_New address", "app.new-address");
  g_menu_append (f->actions_section, "New one-time address as _QR", "app.new-qr");
  g_menu_append_section (f->menu, NULL, G_MENU_MODEL (f->actions_section));

  f->recent = g_menu_new ();
  g_menu_append_section (f->recent, NULL, G_MENU_MODEL (shop));
  g_menu_append_section (f->recent, NULL, G_MENU_MODEL (recruiter));
  g_menu_append_submenu (f->menu, "Recent _channels", G_MENU_MODEL (f->recent));

  g_menu_append (last, "Alerts (0)", "app.alerts");
  g_menu_append (last, "Notify on alerts", "app.notify");
  g_menu_append (last, "_Quit", "app.quit");
  g_menu_append_section (f->menu, NULL, G_MENU_MODEL (last));
  /* An empty section must not produce a stray separator. */
  {
    g_autoptr (GMenu) empty = g_menu_new ();
    g_menu_append_section (f->menu, NULL, G_MENU_MODEL (empty));
  }

  f->exporter = postern_dbusmenu_exporter_new (f->base.agent, "/MenuBar", G_MENU_MODEL (f->menu),
                                               G_ACTION_GROUP (f->actions), &error);
  g_assert_no_error (error);
}

static void
menu_tear_down (MenuFixture *f,
                gconstpointer data)
{
  g_assert_finalize_object (g_steal_pointer (&f->exporter));
  g_clear_object (&f->menu);
  g_clear_object (&f->actions_section);
  g_clear_object (&f->recent);
  g_clear_object (&f->actions);
  g_ptr_array_unref (f->activations);
  fixture_tear_down (&f->base, data);
}

static GVariant *
menu_call (MenuFixture *f,
           const char *method,
           GVariant *parameters,
           const char *reply_type,
           GError **error)
{
  return tray_call (f->base.host, g_dbus_connection_get_unique_name (f->base.agent), "/MenuBar",
                    "com.canonical.dbusmenu", method, parameters,
                    reply_type ? G_VARIANT_TYPE (reply_type) : NULL, error);
}

static GVariant *
get_layout (MenuFixture *f,
            int parent,
            int depth,
            const char *const *names,
            guint *revision)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GVariant) reply = NULL;
  GVariant *layout = NULL;

  reply = menu_call (f, "GetLayout",
                     g_variant_new ("(ii^as)", parent, depth, names ? names : (const char *const[]){ NULL }),
                     "(u(ia{sv}av))", &error);
  g_assert_no_error (error);
  g_variant_get (reply, "(u@(ia{sv}av))", revision, &layout);
  return layout;
}

/* "Label" for items, "--" for separators, children in brackets. */
static void
describe_layout (GVariant *layout,
                 GString *out);

static void
describe_layout_full (GVariant *layout,
                      GString *out,
                      gboolean filtered)
{
  g_autoptr (GVariant) props = NULL;
  g_autoptr (GVariant) children = NULL;
  const char *type = NULL;
  const char *label = NULL;
  int id;

  g_variant_get (layout, "(i@a{sv}@av)", &id, &props, &children);
  if (g_variant_lookup (props, "type", "&s", &type) && g_str_equal (type, "separator"))
    g_string_append (out, "--");
  else if (g_variant_lookup (props, "label", "&s", &label))
    g_string_append (out, label);
  if (g_variant_n_children (children) > 0)
    {
      const char *display = NULL;

      if (!filtered)
        {
          g_assert_true (g_variant_lookup (props, "children-display", "&s", &display));
          g_assert_cmpstr (display, ==, "submenu");
        }
      g_string_append (out, "[");
      for (gsize i = 0; i < g_variant_n_children (children); i++)
        {
          g_autoptr (GVariant) boxed = g_variant_get_child_value (children, i);
          g_autoptr (GVariant) child = g_variant_get_variant (boxed);

          if (i > 0)
            g_string_append (out, "|");
          describe_layout_full (child, out, filtered);
        }
      g_string_append (out, "]");
    }
}

static void
describe_layout (GVariant *layout,
                 GString *out)
{
  describe_layout_full (layout, out, FALSE);
}

static char *
describe (MenuFixture *f,
          guint *revision)
{
  g_autoptr (GVariant) layout = get_layout (f, 0, -1, NULL, revision);
  GString *out = g_string_new (NULL);

  describe_layout (layout, out);
  return g_string_free (out, FALSE);
}

/* Finds an item by its label path ("Recent _channels/Shop/_Revoke…"), as
 * a host's user would: ids are not stable. Returns its props too. */
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

static int
find_id (MenuFixture *f,
         const char *path,
         GVariant **props_out)
{
  guint revision;
  g_autoptr (GVariant) layout = get_layout (f, 0, -1, NULL, &revision);
  int id = find_item (layout, path, props_out);

  if (id < 0)
    g_error ("No menu item %s", path);
  return id;
}

static const char expected_menu[] = "[Open _Postern|--|_New address|New one-time address as _QR|--|"
                                    "Recent _channels[Shop[_Copy address|_Revoke…]|--|Recruiter_2026[_Copy address|_Revoke…]]|"
                                    "--|Alerts (0)|Notify on alerts|_Quit]";

static void
test_menu_layout (MenuFixture *f,
                  gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GVariant) reply = NULL;
  g_autoptr (GVariant) version = NULL;
  g_autoptr (GVariant) layout = NULL;
  g_autoptr (GVariant) root_props = NULL;
  g_autoptr (GVariant) children = NULL;
  g_autofree char *text = NULL;
  guint revision = 0;
  const char *display = NULL;
  const char *const label_only[] = { "label", NULL };

  text = describe (f, &revision);
  g_assert_cmpstr (text, ==, expected_menu);
  g_assert_cmpuint (revision, ==, postern_dbusmenu_exporter_get_revision (f->exporter));

  /* The root, id 0, shows its children as a submenu. */
  layout = get_layout (f, 0, 0, NULL, &revision);
  g_variant_get (layout, "(i@a{sv}@av)", NULL, &root_props, &children);
  g_assert_true (g_variant_lookup (root_props, "children-display", "&s", &display));
  g_assert_cmpstr (display, ==, "submenu");
  g_assert_cmpuint (g_variant_n_children (children), ==, 0);
  g_clear_pointer (&layout, g_variant_unref);
  g_clear_pointer (&children, g_variant_unref);

  /* Depth 1: the submenu item is there, its children are not. */
  g_clear_pointer (&text, g_free);
  {
    g_autoptr (GString) out = g_string_new (NULL);

    layout = get_layout (f, 0, 1, NULL, &revision);
    describe_layout (layout, out);
    g_assert_cmpstr (out->str, ==,
                     "[Open _Postern|--|_New address|New one-time address as _QR|--|"
                     "Recent _channels|--|Alerts (0)|Notify on alerts|_Quit]");
    g_clear_pointer (&layout, g_variant_unref);
  }

  /* A subtree from its parent id, and the property filter. */
  {
    int recent = find_id (f, "Recent _channels", NULL);
    g_autoptr (GString) out = g_string_new (NULL);
    g_autoptr (GVariant) first_boxed = NULL;
    g_autoptr (GVariant) first = NULL;
    g_autoptr (GVariant) first_props = NULL;

    layout = get_layout (f, recent, -1, label_only, &revision);
    describe_layout_full (layout, out, TRUE);
    g_assert_cmpstr (out->str, ==,
                     "Recent _channels[Shop[_Copy address|_Revoke…]||Recruiter_2026[_Copy address|_Revoke…]]");
    g_variant_get_child (layout, 2, "@av", &children);
    first_boxed = g_variant_get_child_value (children, 0);
    first = g_variant_get_variant (first_boxed);
    g_variant_get (first, "(i@a{sv}@av)", NULL, &first_props, NULL);
    /* Only "label", though the item also has children-display (and the
     * separator above lost its type). */
    g_assert_cmpuint (g_variant_n_children (first_props), ==, 1);
    g_assert_true (g_variant_lookup (first_props, "label", "&s", NULL));
  }

  reply = menu_call (f, "GetLayout", g_variant_new ("(ii^as)", 4242, -1, (const char *const[]){ NULL }),
                     NULL, &error);
  g_assert_error (error, G_DBUS_ERROR, G_DBUS_ERROR_INVALID_ARGS);
  g_assert_null (reply);
  g_clear_error (&error);

  reply = tray_call (f->base.host, g_dbus_connection_get_unique_name (f->base.agent), "/MenuBar",
                     "org.freedesktop.DBus.Properties", "Get",
                     g_variant_new ("(ss)", "com.canonical.dbusmenu", "Version"),
                     G_VARIANT_TYPE ("(v)"), &error);
  g_assert_no_error (error);
  g_variant_get (reply, "(v)", &version);
  g_assert_cmpuint (g_variant_get_uint32 (version), ==, 3);
}

static void
test_menu_group_properties (MenuFixture *f,
                            gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GVariant) reply = NULL;
  g_autoptr (GVariant) items = NULL;
  g_autoptr (GVariant) value = NULL;
  g_autoptr (GVariant) alerts_props = NULL;
  g_autoptr (GVariant) notify_props = NULL;
  g_autoptr (GString) labels = g_string_new (NULL);
  int open = find_id (f, "Open _Postern", NULL);
  gboolean enabled = TRUE;
  const char *toggle_type = NULL;
  int toggle_state = -1;
  const char *const label_only[] = { "label", NULL };

  /* GNOME's extension reads all labels this way: empty ids = all items. */
  reply = menu_call (f, "GetGroupProperties",
                     g_variant_new ("(@ai^as)", g_variant_new_array (G_VARIANT_TYPE_INT32, NULL, 0),
                                    (const char *const[]){ NULL }),
                     "(a(ia{sv}))", &error);
  g_assert_no_error (error);
  g_variant_get (reply, "(@a(ia{sv}))", &items);
  for (gsize i = 0; i < g_variant_n_children (items); i++)
    {
      g_autoptr (GVariant) props = NULL;
      const char *label = NULL;

      g_variant_get_child (items, i, "(i@a{sv})", NULL, &props);
      if (g_variant_lookup (props, "label", "&s", &label))
        g_string_append_printf (labels, "%s;", label);
    }
  g_assert_cmpstr (labels->str, ==,
                   "Open _Postern;_New address;New one-time address as _QR;Recent _channels;"
                   "Shop;_Copy address;_Revoke…;Recruiter_2026;_Copy address;_Revoke…;"
                   "Alerts (0);Notify on alerts;_Quit;");
  g_clear_pointer (&reply, g_variant_unref);
  g_clear_pointer (&items, g_variant_unref);

  /* Chosen ids, unknown ones skipped, and the property filter. */
  {
    GVariantBuilder ids;
    g_autoptr (GVariant) props = NULL;
    const char *label = NULL;
    int id;

    g_variant_builder_init (&ids, G_VARIANT_TYPE ("ai"));
    g_variant_builder_add (&ids, "i", open);
    g_variant_builder_add (&ids, "i", 4242);
    reply = menu_call (f, "GetGroupProperties", g_variant_new ("(ai^as)", &ids, label_only),
                       "(a(ia{sv}))", &error);
    g_assert_no_error (error);
    g_variant_get (reply, "(@a(ia{sv}))", &items);
    g_assert_cmpuint (g_variant_n_children (items), ==, 1);
    g_variant_get_child (items, 0, "(i@a{sv})", &id, &props);
    g_assert_cmpint (id, ==, open);
    g_assert_true (g_variant_lookup (props, "label", "&s", &label));
    g_assert_cmpstr (label, ==, "Open _Postern");
    g_clear_pointer (&reply, g_variant_unref);
  }

  /* A disabled action: insensitive. A stateful boolean: a checkmark. */
  find_id (f, "Alerts (0)", &alerts_props);
  find_id (f, "Notify on alerts", &notify_props);
  g_assert_true (g_variant_lookup (alerts_props, "enabled", "b", &enabled));
  g_assert_false (enabled);
  g_assert_true (g_variant_lookup (notify_props, "toggle-type", "&s", &toggle_type));
  g_assert_cmpstr (toggle_type, ==, "checkmark");
  g_assert_true (g_variant_lookup (notify_props, "toggle-state", "i", &toggle_state));
  g_assert_cmpint (toggle_state, ==, 0);
  g_assert_false (g_variant_lookup (notify_props, "enabled", "b", NULL));

  reply = menu_call (f, "GetProperty", g_variant_new ("(is)", open, "label"), "(v)", &error);
  g_assert_no_error (error);
  g_variant_get (reply, "(v)", &value);
  g_assert_cmpstr (g_variant_get_string (value, NULL), ==, "Open _Postern");
  g_clear_pointer (&reply, g_variant_unref);
  g_clear_pointer (&value, g_variant_unref);

  /* Defaults are answered too. */
  reply = menu_call (f, "GetProperty", g_variant_new ("(is)", open, "enabled"), "(v)", &error);
  g_assert_no_error (error);
  g_variant_get (reply, "(v)", &value);
  g_assert_true (g_variant_get_boolean (value));
  g_clear_pointer (&reply, g_variant_unref);

  reply = menu_call (f, "GetProperty", g_variant_new ("(is)", 4242, "label"), "(v)", &error);
  g_assert_error (error, G_DBUS_ERROR, G_DBUS_ERROR_INVALID_ARGS);
  g_assert_null (reply);
}

static void
click (MenuFixture *f,
       int id,
       const char *event)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GVariant) reply = NULL;

  reply = menu_call (f, "Event",
                     g_variant_new ("(isvu)", id, event, g_variant_new_int32 (0), 0), NULL, &error);
  g_assert_no_error (error);
}

static void
test_menu_click (MenuFixture *f,
                 gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GVariant) reply = NULL;
  g_autoptr (GVariant) notify_props = NULL;
  gboolean need_update = TRUE;
  int revoke = find_id (f, "Recent _channels/Recruiter_2026/_Revoke…", NULL);
  int open = find_id (f, "Open _Postern", NULL);
  int alerts = find_id (f, "Alerts (0)", NULL);
  int notify = find_id (f, "Notify on alerts", NULL);
  int toggle_state = -1;

  /* Hover, open and close do nothing. */
  click (f, revoke, "hovered");
  click (f, revoke, "opened");
  click (f, revoke, "closed");
  tray_spin_for (100);
  g_assert_cmpuint (f->activations->len, ==, 0);

  click (f, revoke, "clicked");
  g_assert_true (tray_spin_until (&f->activated, WAIT_MS));
  g_assert_cmpuint (f->activations->len, ==, 1);
  g_assert_cmpstr (g_ptr_array_index (f->activations, 0), ==, "revoke 'ch-recruiter'");

  /* A disabled action is not activated. */
  click (f, alerts, "clicked");
  tray_spin_for (100);
  g_assert_cmpuint (f->activations->len, ==, 1);

  /* A toggle flips, and the menu follows. */
  f->activated = FALSE;
  click (f, notify, "clicked");
  g_assert_true (tray_spin_until (&f->activated, WAIT_MS));
  g_assert_cmpstr (g_ptr_array_index (f->activations, 1), ==, "notify -");
  tray_spin_for (50);
  find_id (f, "Notify on alerts", &notify_props);
  g_assert_true (g_variant_lookup (notify_props, "toggle-state", "i", &toggle_state));
  g_assert_cmpint (toggle_state, ==, 1);

  /* Unknown ids are errors. */
  reply = menu_call (f, "Event", g_variant_new ("(isvu)", 4242, "clicked", g_variant_new_int32 (0), 0),
                     NULL, &error);
  g_assert_error (error, G_DBUS_ERROR, G_DBUS_ERROR_INVALID_ARGS);
  g_clear_error (&error);

  /* EventGroup: errors only for the unknown ids, unless all are. */
  {
    GVariantBuilder events;
    g_autoptr (GVariant) errors = NULL;

    f->activated = FALSE;
    g_variant_builder_init (&events, G_VARIANT_TYPE ("a(isvu)"));
    g_variant_builder_add (&events, "(isvu)", open, "clicked", g_variant_new_int32 (0), 0);
    g_variant_builder_add (&events, "(isvu)", 4242, "clicked", g_variant_new_int32 (0), 0);
    reply = menu_call (f, "EventGroup", g_variant_new ("(a(isvu))", &events), "(ai)", &error);
    g_assert_no_error (error);
    g_variant_get (reply, "(@ai)", &errors);
    g_assert_cmpuint (g_variant_n_children (errors), ==, 1);
    g_clear_pointer (&reply, g_variant_unref);
    g_assert_true (tray_spin_until (&f->activated, WAIT_MS));
    g_assert_cmpstr (g_ptr_array_index (f->activations, 2), ==, "open -");

    g_variant_builder_init (&events, G_VARIANT_TYPE ("a(isvu)"));
    g_variant_builder_add (&events, "(isvu)", 4242, "clicked", g_variant_new_int32 (0), 0);
    reply = menu_call (f, "EventGroup", g_variant_new ("(a(isvu))", &events), "(ai)", &error);
    g_assert_error (error, G_DBUS_ERROR, G_DBUS_ERROR_INVALID_ARGS);
    g_clear_error (&error);
  }

  reply = menu_call (f, "AboutToShow", g_variant_new ("(i)", 0), "(b)", &error);
  g_assert_no_error (error);
  g_variant_get (reply, "(b)", &need_update);
  g_assert_false (need_update);
  g_clear_pointer (&reply, g_variant_unref);

  {
    GVariantBuilder ids;
    g_autoptr (GVariant) updates = NULL;
    g_autoptr (GVariant) errors = NULL;
    gint32 bad = 0;

    g_variant_builder_init (&ids, G_VARIANT_TYPE ("ai"));
    g_variant_builder_add (&ids, "i", 0);
    g_variant_builder_add (&ids, "i", 4242);
    reply = menu_call (f, "AboutToShowGroup", g_variant_new ("(ai)", &ids), "(aiai)", &error);
    g_assert_no_error (error);
    g_variant_get (reply, "(@ai@ai)", &updates, &errors);
    g_assert_cmpuint (g_variant_n_children (updates), ==, 0);
    g_assert_cmpuint (g_variant_n_children (errors), ==, 1);
    g_variant_get_child (errors, 0, "i", &bad);
    g_assert_cmpint (bad, ==, 4242);
  }
}

/* Clicks run in the order they came, also when several are in flight. */
static void
test_menu_click_order (MenuFixture *f,
                       gconstpointer data)
{
  const char *paths[] = {
    "Recent _channels/Recruiter_2026/_Revoke…",
    "Open _Postern",
    "Recent _channels/Shop/_Copy address",
    "_New address",
    "Recent _channels/Shop/_Revoke…",
    "_Quit",
  };
  const char *expected[] = {
    "revoke 'ch-recruiter'",
    "open -",
    "copy 'ch-shop'",
    "new-address -",
    "revoke 'ch-shop'",
    "quit -",
  };
  g_autoptr (GError) error = NULL;
  g_autoptr (GVariant) reply = NULL;
  GVariantBuilder events;
  gint64 deadline;

  g_variant_builder_init (&events, G_VARIANT_TYPE ("a(isvu)"));
  for (guint i = 0; i < G_N_ELEMENTS (paths); i++)
    g_variant_builder_add (&events, "(isvu)", find_id (f, paths[i], NULL), "clicked",
                           g_variant_new_int32 (0), 0);
  reply = menu_call (f, "EventGroup", g_variant_new ("(a(isvu))", &events), "(ai)", &error);
  g_assert_no_error (error);

  /* And single clicks sent back to back, without waiting for replies. */
  for (guint i = 0; i < G_N_ELEMENTS (paths); i++)
    g_dbus_connection_call (f->base.host, g_dbus_connection_get_unique_name (f->base.agent), "/MenuBar",
                            "com.canonical.dbusmenu", "Event",
                            g_variant_new ("(isvu)", find_id (f, paths[i], NULL), "clicked",
                                           g_variant_new_int32 (0), 0),
                            NULL, G_DBUS_CALL_FLAGS_NONE, -1, NULL, NULL, NULL);

  deadline = g_get_monotonic_time () + WAIT_MS * G_TIME_SPAN_MILLISECOND;
  while (f->activations->len < 2 * G_N_ELEMENTS (paths) && g_get_monotonic_time () < deadline)
    {
      f->activated = FALSE;
      tray_spin_until (&f->activated, 100);
    }
  g_assert_cmpuint (f->activations->len, ==, 2 * G_N_ELEMENTS (paths));
  for (guint i = 0; i < 2 * G_N_ELEMENTS (paths); i++)
    g_assert_cmpstr (g_ptr_array_index (f->activations, i), ==, expected[i % G_N_ELEMENTS (paths)]);
}

static void
quit_action_cb (GSimpleAction *action,
                GVariant *parameter,
                gpointer user_data)
{
  MenuFixture *f = user_data;

  /* What exiting does to the connection: anything not yet written is lost. */
  g_dbus_connection_close_sync (f->base.agent, NULL, NULL);
  f->activated = TRUE;
}

/* An action that ends the program may run only once the host has its
 * reply; otherwise the host sees NoReply. */
static void
test_menu_click_replies_first (MenuFixture *f,
                               gconstpointer data)
{
  g_autoptr (GSimpleAction) quit = g_simple_action_new ("really-quit", NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (GVariant) reply = NULL;
  int id;

  g_action_map_add_action (G_ACTION_MAP (f->actions), G_ACTION (quit));
  g_signal_connect (quit, "activate", G_CALLBACK (quit_action_cb), f);
  g_menu_append (f->actions_section, "Really quit", "app.really-quit");
  tray_spin_for (50);
  id = find_id (f, "Really quit", NULL);

  reply = menu_call (f, "Event", g_variant_new ("(isvu)", id, "clicked", g_variant_new_int32 (0), 0),
                     NULL, &error);
  g_assert_no_error (error);
  g_assert_true (tray_spin_until (&f->activated, WAIT_MS));
}

static void
test_menu_layout_updated (MenuFixture *f,
                          gconstpointer data)
{
  SignalLog log;
  guint sub;
  guint revision = 0;
  guint new_revision = 0;
  int index;
  g_autofree char *text = NULL;
  g_autoptr (GVariant) updated = NULL;
  g_autoptr (GVariant) removed = NULL;
  int alerts;
  gboolean found = FALSE;

  g_free (describe (f, &revision));
  signal_log_init (&log);
  sub = g_dbus_connection_signal_subscribe (f->base.host, g_dbus_connection_get_unique_name (f->base.agent),
                                            "com.canonical.dbusmenu", NULL, "/MenuBar", NULL,
                                            G_DBUS_SIGNAL_FLAGS_NONE, signal_log_cb, &log, NULL);
  g_free (describe (f, &revision)); /* the match rule is in place */

  /* A burst of five changes: one LayoutUpdated. */
  for (int i = 0; i < 5; i++)
    {
      g_autofree char *label = g_strdup_printf ("Extra %d", i);
      g_menu_append (f->actions_section, label, "app.new-address");
    }
  wait_for_signal (&log, "LayoutUpdated");
  tray_spin_for (200);
  g_assert_cmpuint (signal_log_count (&log, "LayoutUpdated"), ==, 1);
  index = signal_log_find (&log, "LayoutUpdated");
  {
    int parent = -1;

    g_variant_get (g_ptr_array_index (log.args, index), "(ui)", &new_revision, &parent);
    g_assert_cmpint (parent, ==, 0);
  }
  g_assert_cmpuint (new_revision, ==, revision + 1);
  text = describe (f, &revision);
  g_assert_cmpuint (revision, ==, new_revision);
  g_assert_nonnull (strstr (text, "New one-time address as _QR|Extra 0|Extra 1|Extra 2|Extra 3|Extra 4|--|Recent"));
  g_clear_pointer (&text, g_free);

  /* A change deep inside a submenu's section counts too. */
  signal_log_clear (&log);
  {
    g_autoptr (GMenu) bank = channel_submenu ("Bank", "ch-bank");
    g_menu_prepend_section (f->recent, NULL, G_MENU_MODEL (bank));
  }
  wait_for_signal (&log, "LayoutUpdated");
  text = describe (f, &revision);
  g_assert_nonnull (strstr (text, "Recent _channels[Bank[_Copy address|_Revoke…]|--|Shop["));
  g_clear_pointer (&text, g_free);

  /* An action's enabled state: the item's properties are restated. */
  signal_log_clear (&log);
  alerts = find_id (f, "Alerts (0)", NULL);
  g_simple_action_set_enabled (G_SIMPLE_ACTION (g_action_map_lookup_action (G_ACTION_MAP (f->actions), "alerts")), TRUE);
  wait_for_signal (&log, "LayoutUpdated");
  index = signal_log_find (&log, "ItemsPropertiesUpdated");
  g_assert_cmpint (index, >=, 0);
  g_variant_get (g_ptr_array_index (log.args, index), "(@a(ia{sv})@a(ias))", &updated, &removed);
  for (gsize i = 0; i < g_variant_n_children (updated); i++)
    {
      g_autoptr (GVariant) props = NULL;
      gboolean enabled = FALSE;
      int id;

      g_variant_get_child (updated, i, "(i@a{sv})", &id, &props);
      if (id != alerts)
        continue;
      found = TRUE;
      /* Back to the default, so said explicitly. */
      g_assert_true (g_variant_lookup (props, "enabled", "b", &enabled));
      g_assert_true (enabled);
    }
  g_assert_true (found);
  /* The same item keeps its id when only its state changed. */
  g_assert_cmpint (find_id (f, "Alerts (0)", NULL), ==, alerts);

  /* Nothing visible changes: nothing is sent. */
  signal_log_clear (&log);
  g_simple_action_set_enabled (G_SIMPLE_ACTION (g_action_map_lookup_action (G_ACTION_MAP (f->actions), "alerts")), TRUE);
  {
    g_autoptr (GSimpleAction) unrelated = g_simple_action_new ("unrelated", NULL);
    g_action_map_add_action (G_ACTION_MAP (f->actions), G_ACTION (unrelated));
  }
  tray_spin_for (200);
  g_assert_cmpuint (signal_log_count (&log, "LayoutUpdated"), ==, 0);

  /* Ids follow what an item shows and does, not the GMenu holding it: a
   * submenu rebuilt with the same items, or an item put before them,
   * leaves their ids alone. */
  {
    int shop_copy = find_id (f, "Recent _channels/Shop/_Copy address", NULL);
    int bank_revoke = find_id (f, "Recent _channels/Bank/_Revoke…", NULL);
    g_autoptr (GMenu) shop = channel_submenu ("Shop", "ch-shop");
    g_autoptr (GMenu) newcomer = channel_submenu ("Newcomer", "ch-new");

    signal_log_clear (&log);
    g_menu_remove (f->recent, 1);
    g_menu_insert_section (f->recent, 1, NULL, G_MENU_MODEL (shop));
    g_menu_prepend_section (f->recent, NULL, G_MENU_MODEL (newcomer));
    wait_for_signal (&log, "LayoutUpdated");
    g_assert_cmpint (find_id (f, "Recent _channels/Shop/_Copy address", NULL), ==, shop_copy);
    g_assert_cmpint (find_id (f, "Recent _channels/Bank/_Revoke…", NULL), ==, bank_revoke);
    g_assert_cmpint (find_id (f, "Recent _channels/Newcomer/_Copy address", NULL), !=, shop_copy);
  }

  /* A label change (the alert count) replaces the item. */
  signal_log_clear (&log);
  g_menu_remove (f->actions_section, 2);
  wait_for_signal (&log, "LayoutUpdated");
  text = describe (f, &revision);
  g_assert_null (strstr (text, "Extra 0"));
  g_clear_pointer (&text, g_free);

  g_dbus_connection_signal_unsubscribe (f->base.host, sub);
  signal_log_free (&log);
}

static void
test_menu_status (MenuFixture *f,
                  gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GVariant) reply = NULL;
  g_autoptr (GVariant) all = NULL;
  const char *status = NULL;
  const char *direction = NULL;
  guint version = 0;

  postern_dbusmenu_exporter_set_status (f->exporter, "notice");
  reply = tray_call (f->base.host, g_dbus_connection_get_unique_name (f->base.agent), "/MenuBar",
                     "org.freedesktop.DBus.Properties", "GetAll",
                     g_variant_new ("(s)", "com.canonical.dbusmenu"),
                     G_VARIANT_TYPE ("(a{sv})"), &error);
  g_assert_no_error (error);
  g_variant_get (reply, "(@a{sv})", &all);
  g_assert_true (g_variant_lookup (all, "Status", "&s", &status));
  g_assert_cmpstr (status, ==, "notice");
  g_assert_true (g_variant_lookup (all, "TextDirection", "&s", &direction));
  g_assert_cmpstr (direction, ==, "ltr");
  g_assert_true (g_variant_lookup (all, "Version", "u", &version));
  g_assert_cmpuint (version, ==, 3);
  g_assert_true (g_variant_lookup (all, "IconThemePath", "as", NULL));
}

int
main (int argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  /* Nothing may reach a real session: the tests make their own bus. */
  g_unsetenv ("DBUS_SESSION_BUS_ADDRESS");
  g_unsetenv ("DISPLAY");
  g_unsetenv ("WAYLAND_DISPLAY");

#define ADD_ITEM_TEST(name, func) \
  g_test_add ("/postern/tray/item/" name, Fixture, NULL, fixture_set_up, func, fixture_tear_down)
#define ADD_MENU_TEST(name, func) \
  g_test_add ("/postern/tray/menu/" name, MenuFixture, NULL, menu_set_up, func, menu_tear_down)

  ADD_ITEM_TEST ("register", test_item_register);
  ADD_ITEM_TEST ("watcher-later", test_item_watcher_later);
  ADD_ITEM_TEST ("host-later", test_item_host_later);
  ADD_ITEM_TEST ("watcher-restart", test_item_watcher_restart);
  ADD_ITEM_TEST ("no-watcher", test_item_no_watcher);
  ADD_ITEM_TEST ("status", test_item_status);
  ADD_ITEM_TEST ("activate", test_item_activate);
  ADD_MENU_TEST ("layout", test_menu_layout);
  ADD_MENU_TEST ("group-properties", test_menu_group_properties);
  ADD_MENU_TEST ("click", test_menu_click);
  ADD_MENU_TEST ("click-replies-first", test_menu_click_replies_first);
  ADD_MENU_TEST ("click-order", test_menu_click_order);
  ADD_MENU_TEST ("layout-updated", test_menu_layout_updated);
  ADD_MENU_TEST ("status", test_menu_status);

  return g_test_run ();
}
