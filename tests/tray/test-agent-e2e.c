/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <json-glib/json-glib.h>

#include "fake-notifications.h"
#include "fake-watcher.h"
#include "menu-client.h"
#include "test-bus.h"
#include "test-harness.h"

/*
 * The acceptance tests for the tray and the alerts: a real
 * postern-agent, a real posternd on loopback and a real gnome-keyring in
 * a private desktop session (tests/desktop-session.sh), plus a tray
 * (watcher + host), a notification server and the app's activation
 * interface written for the tests, all in this process.
 */

#define USER        "alice"
#define AGENT_NAME  "io.github.postern.Postern.Agent"
#define E2E_WAIT_MS 20000

/* The app, as the agent sees it: org.freedesktop.Application at APP_ID. */
typedef struct
{
  GDBusConnection *connection;
  guint registration_id;
  GPtrArray *calls;       /* "Activate", "copy 'ID'", … */
  char *activation_token; /* from the last call's platform data */
  gboolean got_call;
} FakeApp;

static const char app_xml[] = "<node>"
                              "  <interface name='org.freedesktop.Application'>"
                              "    <method name='Activate'><arg type='a{sv}' direction='in'/></method>"
                              "    <method name='Open'>"
                              "      <arg type='as' direction='in'/><arg type='a{sv}' direction='in'/>"
                              "    </method>"
                              "    <method name='ActivateAction'>"
                              "      <arg type='s' direction='in'/><arg type='av' direction='in'/>"
                              "      <arg type='a{sv}' direction='in'/>"
                              "    </method>"
                              "  </interface>"
                              "</node>";

static void
app_method_call_cb (GDBusConnection *connection,
                    const char *sender,
                    const char *object_path,
                    const char *interface_name,
                    const char *method_name,
                    GVariant *parameters,
                    GDBusMethodInvocation *invocation,
                    gpointer user_data)
{
  FakeApp *app = user_data;
  g_autoptr (GVariant) platform_data = g_variant_get_child_value (parameters, g_variant_n_children (parameters) - 1);

  if (g_str_equal (method_name, "ActivateAction"))
    {
      g_autoptr (GVariant) args = NULL;
      g_autofree char *printed = NULL;
      const char *action = NULL;

      g_variant_get (parameters, "(&s@av@a{sv})", &action, &args, NULL);
      printed = g_variant_print (args, FALSE);
      g_ptr_array_add (app->calls, g_strdup_printf ("%s %s", action, printed));
    }
  else
    {
      g_ptr_array_add (app->calls, g_strdup (method_name));
    }
  g_clear_pointer (&app->activation_token, g_free);
  g_variant_lookup (platform_data, "activation-token", "s", &app->activation_token);
  app->got_call = TRUE;
  g_dbus_method_invocation_return_value (invocation, NULL);
}

static const GDBusInterfaceVTable app_vtable = {
  .method_call = app_method_call_cb,
};

static FakeApp *
fake_app_start (TestBus *bus)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GDBusNodeInfo) info = g_dbus_node_info_new_for_xml (app_xml, &error);
  g_autoptr (GVariant) reply = NULL;
  g_autofree char *path = g_strconcat ("/", APP_ID, NULL);
  FakeApp *app = g_new0 (FakeApp, 1);

  g_assert_no_error (error);
  g_strdelimit (path, ".", '/');
  app->connection = test_bus_connect (bus);
  app->calls = g_ptr_array_new_with_free_func (g_free);
  app->registration_id = g_dbus_connection_register_object (app->connection, path, info->interfaces[0],
                                                            &app_vtable, app, NULL, &error);
  g_assert_no_error (error);
  reply = g_dbus_connection_call_sync (app->connection, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                       "org.freedesktop.DBus", "RequestName",
                                       g_variant_new ("(su)", APP_ID, 0x4), G_VARIANT_TYPE ("(u)"),
                                       G_DBUS_CALL_FLAGS_NONE, 5000, NULL, &error);
  g_assert_no_error (error);
  return app;
}

static void
fake_app_stop (FakeApp *app)
{
  g_dbus_connection_unregister_object (app->connection, app->registration_id);
  test_bus_close (&app->connection);
  g_ptr_array_unref (app->calls);
  g_free (app->activation_token);
  g_free (app);
}

/* Fixture */

typedef struct
{
  TestBus session; /* the desktop session's bus, not ours to stop */
  TestServer *server;
  TestAgent *agent;
  GDBusConnection *host;
  FakeWatcher *watcher;
  FakeNotifications *notifications;
  FakeApp *app;
} Fixture;

static void
fixture_set_up (Fixture *f,
                gconstpointer data)
{
  const char *address = g_getenv ("DBUS_SESSION_BUS_ADDRESS");

  if (address == NULL)
    g_error ("Run inside tests/desktop-session.sh: no session bus");
  f->session.address = g_strdup (address);
  f->server = test_server_new (USER);
  test_server_start (f->server);
  f->notifications = fake_notifications_start (&f->session);
  f->app = fake_app_start (&f->session);
  f->host = test_bus_connect (&f->session);
}

static void
fixture_tear_down (Fixture *f,
                   gconstpointer data)
{
  g_autoptr (GError) error = NULL;

  if (f->agent != NULL)
    {
      postern_dbus_agent1_call_unpair_sync (f->agent->proxy, NULL, &error);
      g_assert_no_error (error);
      test_agent_stop (f->agent);
    }
  if (f->watcher != NULL)
    fake_watcher_stop (f->watcher);
  fake_app_stop (f->app);
  fake_notifications_stop (f->notifications);
  test_bus_close (&f->host);
  test_server_free (f->server);
  g_free (f->session.address);
}

static char *
create_channel (Fixture *f,
                const char *label,
                const char *expected_sender,
                char **out_address)
{
  g_autoptr (GError) error = NULL;
  g_auto (GVariantBuilder) options = G_VARIANT_BUILDER_INIT (G_VARIANT_TYPE_VARDICT);
  g_autofree char *json = NULL;
  g_autoptr (JsonParser) parser = json_parser_new ();
  JsonObject *channel;

  g_variant_builder_add (&options, "{sv}", "label", g_variant_new_string (label));
  g_variant_builder_add (&options, "{sv}", "kind", g_variant_new_string ("relationship"));
  g_variant_builder_add (&options, "{sv}", "expected_sender", g_variant_new_string (expected_sender));
  postern_dbus_agent1_call_create_channel_sync (f->agent->proxy, g_variant_builder_end (&options),
                                                &json, NULL, &error);
  g_assert_no_error (error);
  json_parser_load_from_data (parser, json, -1, &error);
  g_assert_no_error (error);
  channel = json_node_get_object (json_parser_get_root (parser));
  *out_address = g_strdup (json_object_get_string_member (channel, "address"));
  return g_strdup (json_object_get_string_member (channel, "id"));
}

static gboolean
nothing_pending (gpointer user_data)
{
  Fixture *f = user_data;
  g_autoptr (GVariant) status = NULL;
  guint32 pending = G_MAXUINT32;

  if (!postern_dbus_agent1_call_get_status_sync (f->agent->proxy, &status, NULL, NULL))
    return FALSE;
  return g_variant_lookup (status, "pending", "u", &pending) && pending == 0;
}

/* The server refuses mail to @address with 550 (revoked), polled. */
static gboolean
wait_refused (Fixture *f,
              const char *address)
{
  gint64 deadline = g_get_monotonic_time () + E2E_WAIT_MS * G_TIME_SPAN_MILLISECOND;
  int code = 0;

  while (g_get_monotonic_time () < deadline)
    {
      code = test_smtp_send (f->server->smtp_port, "jane@acme.example", address, "Still there?");
      if (code == 550)
        return TRUE;
      tray_spin_for (200);
    }
  g_test_message ("last SMTP answer: %d", code);
  return FALSE;
}

static gboolean
menu_has (Fixture *f,
          const char *text)
{
  gint64 deadline = g_get_monotonic_time () + E2E_WAIT_MS * G_TIME_SPAN_MILLISECOND;

  while (g_get_monotonic_time () < deadline)
    {
      g_autofree char *menu = menu_client_describe (f->host, AGENT_NAME);

      if (strstr (menu, text) != NULL)
        return TRUE;
      tray_spin_for (100);
    }
  return FALSE;
}

static void
test_tray (Fixture *f,
           gconstpointer data)
{
  g_autofree char *address = NULL;
  g_autofree char *id = NULL;
  g_autofree char *menu = NULL;
  gint64 deadline;

  /* No tray yet: the agent runs anyway. */
  f->agent = test_agent_start ();
  tray_spin_for (300);

  /* The watcher appears after the agent: the item registers. */
  f->watcher = fake_watcher_start (&f->session, TRUE);
  tray_spin_until (&f->watcher->got_registration, E2E_WAIT_MS);
  g_assert_true (f->watcher->got_registration);

  menu = menu_client_describe (f->host, AGENT_NAME);
  g_assert_true (g_str_has_prefix (menu, "[_Open Postern|--|_New Address|New One-Time Address as _QR|_Recent Channels["));
  g_assert_true (g_str_has_suffix (menu, "|--|_Quit]"));

  test_pair (f->server, USER);
  id = create_channel (f, "Shop", "jane@acme.example", &address);
  g_assert_true (test_wait_for (nothing_pending, f, E2E_WAIT_MS));
  g_assert_true (menu_has (f, "_Recent Channels[Shop["));

  /* New Address: the agent creates it and asks the app to copy it. */
  menu_client_click_path (f->host, AGENT_NAME, "_New Address");
  deadline = g_get_monotonic_time () + E2E_WAIT_MS * G_TIME_SPAN_MILLISECOND;
  while (f->app->calls->len == 0 && g_get_monotonic_time () < deadline)
    {
      f->app->got_call = FALSE;
      tray_spin_until (&f->app->got_call, 100);
    }
  g_assert_cmpuint (f->app->calls->len, ==, 1);
  /* Either the app makes the address (app.new-address) or the agent made
   * it and the app copies it (app.copy-address / app.copy): both end with
   * the app, the one allowed to set the clipboard. */
  {
    const char *call = g_ptr_array_index (f->app->calls, 0);

    if (!g_str_has_prefix (call, "new-address [<") && !g_str_has_prefix (call, "copy-address [<'") && !g_str_has_prefix (call, "copy [<'"))
      g_error ("New Address led to the app call “%s”", call);
  }

  /* Open from the icon: the host's activation token reaches the app, so
   * that the compositor lets its window take focus. */
  {
    g_autoptr (GError) error = NULL;
    g_autoptr (GVariant) reply = NULL;
    const char *item_name = g_ptr_array_index (f->watcher->senders, 0);

    f->app->got_call = FALSE;
    reply = tray_call (f->host, item_name, "/StatusNotifierItem", "org.kde.StatusNotifierItem",
                       "ProvideXdgActivationToken", g_variant_new ("(s)", "e2e-token"), NULL, &error);
    g_assert_no_error (error);
    g_clear_pointer (&reply, g_variant_unref);
    reply = tray_call (f->host, item_name, "/StatusNotifierItem", "org.kde.StatusNotifierItem",
                       "Activate", g_variant_new ("(ii)", 0, 0), NULL, &error);
    g_assert_no_error (error);
    g_assert_true (tray_spin_until (&f->app->got_call, E2E_WAIT_MS));
    g_assert_cmpstr (g_ptr_array_index (f->app->calls, f->app->calls->len - 1), ==, "Activate");
    g_assert_cmpstr (f->app->activation_token, ==, "e2e-token");
  }

  /* Revoke from the menu: the server then refuses mail to it. */
  menu_client_click_path (f->host, AGENT_NAME, "_Recent Channels/Shop/_Revoke…/Revoke “Shop” for Good");
  g_assert_true (wait_refused (f, address));
}

static void
test_alert (Fixture *f,
            gconstpointer data)
{
  g_autofree char *address = NULL;
  g_autofree char *id = NULL;
  FakeNotification *shown;
  gint64 sent;
  gint64 accepted;

  f->agent = test_agent_start ();
  test_pair (f->server, USER);
  id = create_channel (f, "Recruiter", "jane@acme.example", &address);
  g_assert_true (test_wait_for (nothing_pending, f, E2E_WAIT_MS));

  /* The expected sender: no notification. */
  g_assert_cmpint (test_smtp_send (f->server->smtp_port, "jane@acme.example", address, "Interview"), ==, 250);
  tray_spin_for (500);
  g_assert_cmpuint (f->notifications->notifications->len, ==, 0);

  /* A stranger: a notification naming the channel and the sender. */
  sent = g_get_monotonic_time ();
  g_assert_cmpint (test_smtp_send (f->server->smtp_port, "leak@bulk.example", address, "Offer"), ==, 250);
  accepted = g_get_monotonic_time ();
  g_assert_true (fake_notifications_wait (f->notifications, 1, E2E_WAIT_MS));
  shown = g_ptr_array_index (f->notifications->notifications, 0);
  /* The server's clock is this one: the bus delivered Notify while this
   * thread was in the SMTP session, so the figure is an upper bound that
   * includes the whole SMTP transaction. */
  g_test_message ("SMTP session start → Notify received: %" G_GINT64_FORMAT " µs (SMTP transaction %" G_GINT64_FORMAT " µs)",
                  shown->received_us - sent, accepted - sent);
  g_assert_cmpint (shown->received_us - sent, <, G_USEC_PER_SEC);
  g_assert_nonnull (strstr (shown->summary, "“Recruiter”"));
  g_assert_nonnull (strstr (shown->body, "leak@bulk.example"));
  g_assert_nonnull (fake_notification_action_key (shown, "Revoke Channel"));
  g_assert_nonnull (fake_notification_action_key (shown, "Trust Sender"));
  g_assert_nonnull (fake_notification_action_key (shown, "Open"));

  /* Revoke Channel, from the notification: the server refuses with 550. */
  tray_spin_for (200);
  fake_notifications_invoke (f->notifications, shown->id, fake_notification_action_key (shown, "Revoke Channel"));
  g_assert_true (wait_refused (f, address));
}

static void
test_burst (Fixture *f,
            gconstpointer data)
{
  g_autofree char *address = NULL;
  g_autofree char *id = NULL;
  FakeNotification *first;
  FakeNotification *last;
  gint64 deadline;

  f->agent = test_agent_start ();
  test_pair (f->server, USER);
  id = create_channel (f, "Leaky", "jane@acme.example", &address);
  g_assert_true (test_wait_for (nothing_pending, f, E2E_WAIT_MS));

  for (int i = 0; i < 100; i++)
    {
      g_autofree char *from = g_strdup_printf ("spam%d@bulk.example", i);

      g_assert_cmpint (test_smtp_send (f->server->smtp_port, from, address, "Offer"), ==, 250);
      tray_spin_for (1);
    }

  /* One notification on the desktop: the first, then summaries replacing
   * it, the last of which counts all 100. */
  deadline = g_get_monotonic_time () + E2E_WAIT_MS * G_TIME_SPAN_MILLISECOND;
  while (g_get_monotonic_time () < deadline)
    {
      if (f->notifications->notifications->len > 0)
        {
          last = g_ptr_array_index (f->notifications->notifications, f->notifications->notifications->len - 1);
          if (g_str_has_prefix (last->summary, "100 messages from strangers on “Leaky”"))
            break;
        }
      f->notifications->got_call = FALSE;
      tray_spin_until (&f->notifications->got_call, 200);
    }
  g_assert_cmpuint (f->notifications->notifications->len, >=, 2);
  first = g_ptr_array_index (f->notifications->notifications, 0);
  last = g_ptr_array_index (f->notifications->notifications, f->notifications->notifications->len - 1);
  g_assert_cmpstr (last->summary, ==, "100 messages from strangers on “Leaky”");
  g_test_message ("Notify calls for 100 messages: %u", f->notifications->notifications->len);
  /* Far fewer than 100, and never a second notification on screen. */
  g_assert_cmpuint (f->notifications->notifications->len, <=, 10);
  for (guint i = 1; i < f->notifications->notifications->len; i++)
    {
      FakeNotification *n = g_ptr_array_index (f->notifications->notifications, i);

      g_assert_cmpuint (n->replaces_id, ==, first->id);
    }
}

static int
compare_gint64 (gconstpointer a,
                gconstpointer b)
{
  gint64 x = *(const gint64 *)a;
  gint64 y = *(const gint64 *)b;

  return x < y ? -1 : x > y;
}

static guint64
agent_rss_kib (Fixture *f)
{
  g_autofree char *path = g_strdup_printf ("/proc/%s/status", g_subprocess_get_identifier (f->agent->process));
  g_autofree char *status = NULL;
  const char *line;

  if (!g_file_get_contents (path, &status, NULL, NULL) || (line = strstr (status, "VmRSS:")) == NULL)
    return 0;
  return g_ascii_strtoull (line + strlen ("VmRSS:"), NULL, 10);
}

/* The figure: SMTP 250 to the notification on the bus, each on a
 * channel of its own (a burst on one channel is coalesced by design). */
static void
test_latency (Fixture *f,
              gconstpointer data)
{
  enum
  {
    N_CHANNELS = 40
  };
  g_autoptr (GArray) latencies = g_array_new (FALSE, FALSE, sizeof (gint64));
  g_auto (GStrv) addresses = g_new0 (char *, N_CHANNELS + 1);
  gint64 p50;
  gint64 p99;

  f->agent = test_agent_start ();
  f->watcher = fake_watcher_start (&f->session, TRUE);
  test_pair (f->server, USER);
  for (guint i = 0; i < N_CHANNELS; i++)
    {
      g_autofree char *label = g_strdup_printf ("Bench %u", i);
      g_autofree char *id = create_channel (f, label, "jane@acme.example", &addresses[i]);
    }
  g_assert_true (test_wait_for (nothing_pending, f, E2E_WAIT_MS));

  for (guint i = 0; i < N_CHANNELS; i++)
    {
      gint64 sent = g_get_monotonic_time ();
      FakeNotification *shown;
      gint64 latency;

      g_assert_cmpint (test_smtp_send (f->server->smtp_port, "leak@bulk.example", addresses[i], "Offer"), ==, 250);
      g_assert_true (fake_notifications_wait (f->notifications, i + 1, E2E_WAIT_MS));
      shown = g_ptr_array_index (f->notifications->notifications, i);
      latency = shown->received_us - sent;
      g_array_append_val (latencies, latency);
    }
  g_array_sort (latencies, compare_gint64);
  p50 = g_array_index (latencies, gint64, N_CHANNELS / 2);
  p99 = g_array_index (latencies, gint64, (N_CHANNELS * 99) / 100);
  g_test_message ("SMTP session start → Notify over %d channels: p50 %.1f ms, p99 %.1f ms (upper bounds: include the SMTP transaction)",
                  N_CHANNELS, p50 / 1000.0, p99 / 1000.0);
  g_test_message ("agent VmRSS with the tray exported and %d channels: %" G_GUINT64_FORMAT " KiB",
                  N_CHANNELS, agent_rss_kib (f));
  g_assert_cmpint (p99, <, 250 * G_TIME_SPAN_MILLISECOND);
}

int
main (int argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add ("/postern/agent/e2e/tray", Fixture, NULL, fixture_set_up, test_tray, fixture_tear_down);
  g_test_add ("/postern/agent/e2e/alert", Fixture, NULL, fixture_set_up, test_alert, fixture_tear_down);
  g_test_add ("/postern/agent/e2e/burst", Fixture, NULL, fixture_set_up, test_burst, fixture_tear_down);
  g_test_add ("/postern/agent/e2e/latency", Fixture, NULL, fixture_set_up, test_latency, fixture_tear_down);

  return g_test_run ();
}
