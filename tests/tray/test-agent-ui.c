/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "fake-notifications.h"
#include "fake-watcher.h"
#include "menu-client.h"
#include "postern-agent-alerts.h"
#include "postern-agent-tray.h"
#include "test-bus.h"

/*
 * The agent's tray menu and alert notifications, over a GApplication with
 * the agent's id and actions, on a private bus with a fake tray
 * (StatusNotifierWatcher + host) and a fake notification server. The
 * freedesktop GNotification backend is forced, as on a desktop without the
 * portal.
 *
 * One bus and one application serve the whole run: GApplication takes the
 * session bus once per process.
 */

#define AGENT_ID "io.github.postern.Postern.Agent"

static TestBus *bus;
static GApplication *app;
static FakeNotifications *notifications;
static GPtrArray *activations; /* "action target" */
static gboolean activated;

static void
record_cb (GSimpleAction *action,
           GVariant *parameter,
           gpointer user_data)
{
  g_autofree char *target = parameter ? g_variant_print (parameter, FALSE) : g_strdup ("-");

  g_ptr_array_add (activations, g_strdup_printf ("%s %s", g_action_get_name (G_ACTION (action)), target));
  activated = TRUE;
}

/* The agent's actions as postern-agent.h documents them. */
static const GActionEntry agent_actions[] = {
  { "open", record_cb, NULL, NULL, NULL },
  { "new-channel", record_cb, NULL, NULL, NULL },
  { "new-one-time-qr", record_cb, NULL, NULL, NULL },
  { "copy", record_cb, "s", NULL, NULL },
  { "show-qr", record_cb, "s", NULL, NULL },
  { "pause", record_cb, "s", NULL, NULL },
  { "revoke", record_cb, "s", NULL, NULL },
  { "trust", record_cb, "(ss)", NULL, NULL },
  { "quit", record_cb, NULL, NULL, NULL },
};

static void
reset (void)
{
  g_ptr_array_set_size (activations, 0);
  activated = FALSE;
  g_ptr_array_set_size (notifications->notifications, 0);
  g_array_set_size (notifications->closed, 0);
}

static gboolean
wait_activation (guint n)
{
  gint64 deadline = g_get_monotonic_time () + WAIT_MS * G_TIME_SPAN_MILLISECOND;

  while (activations->len < n && g_get_monotonic_time () < deadline)
    {
      activated = FALSE;
      tray_spin_until (&activated, 100);
    }
  return activations->len >= n;
}

static PosternChannel *
make_channel (const char *label,
              const char *address,
              PosternChannelState state)
{
  g_autoptr (PosternChannel) channel = postern_channel_new ();
  g_autoptr (GError) error = NULL;
  g_autofree char *id = postern_uuid_new ();

  postern_channel_set_id (channel, id, &error);
  g_assert_no_error (error);
  postern_channel_set_address (channel, address, &error);
  g_assert_no_error (error);
  postern_channel_set_label (channel, label, &error);
  g_assert_no_error (error);
  postern_channel_set_state (channel, state);
  return g_steal_pointer (&channel);
}

static PosternEvent *
make_event (PosternChannel *channel,
            gint64 id,
            const char *from,
            const char *subject)
{
  return postern_event_new (id, postern_channel_get_id (channel), g_get_real_time () / G_USEC_PER_SEC,
                            "bounce@spam.example", from, subject, "<m@spam.example>", 1200,
                            POSTERN_VERDICT_UNEXPECTED);
}

/* Alerts */

static void
test_alert_single (void)
{
  g_autoptr (PosternAgentAlerts) alerts = postern_agent_alerts_new (app);
  g_autoptr (PosternChannel) shop = make_channel ("Shop", "k7q2mv9x@ch.postern.test", POSTERN_CHANNEL_STATE_ACTIVE);
  g_autoptr (PosternEvent) event = make_event (shop, 1, "Mallory <mallory@spam.example>", "Cheap <pills> & more");
  g_autofree char *trust_target = NULL;
  FakeNotification *shown;

  reset ();
  postern_agent_alerts_add (alerts, event, shop);
  g_assert_true (fake_notifications_wait (notifications, 1, WAIT_MS));
  shown = g_ptr_array_index (notifications->notifications, 0);

  /* Names the channel and the sender; the subject is escaped for servers
   * that read markup. */
  g_assert_nonnull (strstr (shown->summary, "“Shop”"));
  g_assert_nonnull (strstr (shown->body, "mallory@spam.example"));
  g_assert_nonnull (strstr (shown->body, "Cheap &lt;pills&gt; &amp; more"));
  g_assert_nonnull (fake_notification_action_key (shown, "Revoke Channel"));
  g_assert_nonnull (fake_notification_action_key (shown, "Trust Sender"));
  g_assert_nonnull (fake_notification_action_key (shown, "Open"));
  g_assert_nonnull (fake_notification_action_key (shown, "default"));
  g_assert_cmpuint (postern_agent_alerts_get_n_sent (alerts), ==, 1);

  /* Each button does what it says, through the agent's actions. A server
   * closes a notification once an action is invoked, so one action each. */
  fake_notifications_invoke (notifications, shown->id, fake_notification_action_key (shown, "Revoke Channel"));
  g_assert_true (wait_activation (1));
  {
    g_autofree char *expected = g_strdup_printf ("revoke '%s'", postern_channel_get_id (shop));
    g_assert_cmpstr (g_ptr_array_index (activations, 0), ==, expected);
  }

  {
    g_autoptr (PosternChannel) bank = make_channel ("Bank", "bank1234@ch.postern.test", POSTERN_CHANNEL_STATE_ACTIVE);
    g_autoptr (PosternEvent) phish = make_event (bank, 2, "Mallory <mallory@spam.example>", "Verify");

    postern_agent_alerts_add (alerts, phish, bank);
    g_assert_true (fake_notifications_wait (notifications, 2, WAIT_MS));
    shown = g_ptr_array_index (notifications->notifications, 1);
    fake_notifications_invoke (notifications, shown->id, fake_notification_action_key (shown, "Trust Sender"));
    g_assert_true (wait_activation (2));
    trust_target = g_strdup_printf ("trust ('%s', 'mallory@spam.example')", postern_channel_get_id (bank));
    g_assert_cmpstr (g_ptr_array_index (activations, 1), ==, trust_target);
  }

  {
    g_autoptr (PosternChannel) club = make_channel ("Club", "club1234@ch.postern.test", POSTERN_CHANNEL_STATE_ACTIVE);
    g_autoptr (PosternEvent) hello = make_event (club, 3, NULL, "");

    /* No header From: the envelope sender is named; no subject line. */
    postern_agent_alerts_add (alerts, hello, club);
    g_assert_true (fake_notifications_wait (notifications, 3, WAIT_MS));
    shown = g_ptr_array_index (notifications->notifications, 2);
    g_assert_cmpstr (shown->body, ==, "From bounce@spam.example");
    fake_notifications_invoke (notifications, shown->id, "default");
    g_assert_true (wait_activation (3));
    g_assert_cmpstr (g_ptr_array_index (activations, 2), ==, "open -");
  }
}

static void
test_alert_burst (void)
{
  g_autoptr (PosternAgentAlerts) alerts = postern_agent_alerts_new (app);
  g_autoptr (PosternChannel) leaky = make_channel ("Leaky", "leak1234@ch.postern.test", POSTERN_CHANNEL_STATE_ACTIVE);
  g_autoptr (PosternChannel) other = make_channel ("Other", "other123@ch.postern.test", POSTERN_CHANNEL_STATE_ACTIVE);
  FakeNotification *first;
  FakeNotification *summary;
  FakeNotification *other_shown;

  reset ();
  postern_agent_alerts_set_timing (alerts, 5000, 300);

  /* A leaked address gets 100 messages in a burst. */
  for (int i = 0; i < 100; i++)
    {
      g_autofree char *from = g_strdup_printf ("spammer%d@spam.example", i);
      g_autoptr (PosternEvent) event = make_event (leaky, 100 + i, from, "Offer");

      postern_agent_alerts_add (alerts, event, leaky);
      if (i % 10 == 0)
        tray_spin_for (5);
    }
  g_assert_true (fake_notifications_wait (notifications, 2, WAIT_MS));
  /* Room for any straggler that should not come. */
  tray_spin_for (700);
  g_assert_cmpuint (notifications->notifications->len, ==, 2);

  /* The first at once, then one summary that replaces it. */
  first = g_ptr_array_index (notifications->notifications, 0);
  summary = g_ptr_array_index (notifications->notifications, 1);
  g_assert_nonnull (strstr (first->body, "spammer0@spam.example"));
  g_assert_cmpuint (summary->replaces_id, ==, first->id);
  g_assert_cmpstr (summary->summary, ==, "100 messages from strangers on “Leaky”");
  g_assert_nonnull (strstr (summary->body, "spammer99@spam.example"));
  g_assert_nonnull (fake_notification_action_key (summary, "Revoke Channel"));
  g_assert_null (fake_notification_action_key (summary, "Trust Sender"));

  /* Another channel is news of its own. */
  {
    g_autoptr (PosternEvent) event = make_event (other, 300, "eve@elsewhere.example", "Hi");

    postern_agent_alerts_add (alerts, event, other);
  }
  g_assert_true (fake_notifications_wait (notifications, 3, WAIT_MS));
  other_shown = g_ptr_array_index (notifications->notifications, 2);
  g_assert_nonnull (strstr (other_shown->summary, "“Other”"));
  g_assert_cmpuint (other_shown->replaces_id, ==, 0);
}

static void
test_alert_window (void)
{
  g_autoptr (PosternAgentAlerts) alerts = postern_agent_alerts_new (app);
  g_autoptr (PosternChannel) shop = make_channel ("Shop", "k7q2mv9x@ch.postern.test", POSTERN_CHANNEL_STATE_ACTIVE);
  g_autoptr (PosternEvent) first = make_event (shop, 1, "a@spam.example", "One");
  g_autoptr (PosternEvent) later = make_event (shop, 2, "b@spam.example", "Two");
  FakeNotification *shown;

  reset ();
  postern_agent_alerts_set_timing (alerts, 200, 100);
  postern_agent_alerts_add (alerts, first, shop);
  g_assert_true (fake_notifications_wait (notifications, 1, WAIT_MS));

  /* After a quiet window, a stranger is news again, not a summary. */
  tray_spin_for (400);
  postern_agent_alerts_add (alerts, later, shop);
  g_assert_true (fake_notifications_wait (notifications, 2, WAIT_MS));
  shown = g_ptr_array_index (notifications->notifications, 1);
  g_assert_nonnull (strstr (shown->body, "b@spam.example"));
  g_assert_nonnull (fake_notification_action_key (shown, "Trust Sender"));
}

static void
test_alert_withdrawn_on_revoke (void)
{
  g_autoptr (PosternAgentAlerts) alerts = postern_agent_alerts_new (app);
  g_autoptr (PosternChannel) shop = make_channel ("Shop", "k7q2mv9x@ch.postern.test", POSTERN_CHANNEL_STATE_ACTIVE);
  g_autoptr (PosternEvent) event = make_event (shop, 1, "a@spam.example", "One");
  FakeNotification *shown;

  reset ();
  postern_agent_alerts_add (alerts, event, shop);
  g_assert_true (fake_notifications_wait (notifications, 1, WAIT_MS));
  shown = g_ptr_array_index (notifications->notifications, 0);
  /* GLib can close only a notification whose Notify reply it has read. */
  tray_spin_for (100);

  postern_channel_set_state (shop, POSTERN_CHANNEL_STATE_REVOKED);
  postern_agent_alerts_channel_changed (alerts, shop);
  {
    gint64 deadline = g_get_monotonic_time () + WAIT_MS * G_TIME_SPAN_MILLISECOND;

    while (notifications->closed->len == 0 && g_get_monotonic_time () < deadline)
      {
        notifications->got_call = FALSE;
        tray_spin_until (&notifications->got_call, 100);
      }
  }
  g_assert_cmpuint (notifications->closed->len, ==, 1);
  g_assert_cmpuint (g_array_index (notifications->closed, guint32, 0), ==, shown->id);
}

/* A bare window manager: nobody shows notifications. GLib would warn (and
 * warnings are fatal here); the agent skips the notification instead. */
static void
test_alert_no_server (void)
{
  g_autoptr (PosternAgentAlerts) alerts = postern_agent_alerts_new (app);
  g_autoptr (PosternChannel) shop = make_channel ("Shop", "k7q2mv9x@ch.postern.test", POSTERN_CHANNEL_STATE_ACTIVE);
  g_autoptr (PosternChannel) bank = make_channel ("Bank", "bank1234@ch.postern.test", POSTERN_CHANNEL_STATE_ACTIVE);
  g_autoptr (PosternEvent) unseen = make_event (shop, 1, "a@spam.example", "One");
  g_autoptr (PosternEvent) seen = make_event (bank, 2, "b@spam.example", "Two");

  g_clear_pointer (&notifications, fake_notifications_stop);
  tray_spin_for (300);
  postern_agent_alerts_add (alerts, unseen, shop);
  tray_spin_for (300);
  g_assert_cmpuint (postern_agent_alerts_get_n_sent (alerts), ==, 0);

  /* A notification daemon starts later: alerts show again. */
  notifications = fake_notifications_start (bus);
  tray_spin_for (300);
  postern_agent_alerts_add (alerts, seen, bank);
  g_assert_true (fake_notifications_wait (notifications, 1, WAIT_MS));
  g_assert_nonnull (strstr (((FakeNotification *)g_ptr_array_index (notifications->notifications, 0))->summary, "“Bank”"));
  g_assert_cmpuint (postern_agent_alerts_get_n_sent (alerts), ==, 1);
}

#ifdef POSTERN_TEST_SCHEMA_DIR
/* The app's "Alert on unexpected senders" switch (the notifications key of
 * its schema, read through the default GSettings backend as the agent
 * does): off, alerts are not shown; on again, they are. */
static void
test_alert_setting_off (void)
{
  g_autoptr (GSettings) settings = g_settings_new (APP_ID);
  g_autoptr (PosternAgentAlerts) alerts = postern_agent_alerts_new (app);
  g_autoptr (PosternChannel) shop = make_channel ("Shop", "k7q2mv9x@ch.postern.test", POSTERN_CHANNEL_STATE_ACTIVE);
  g_autoptr (PosternChannel) bank = make_channel ("Bank", "bank1234@ch.postern.test", POSTERN_CHANNEL_STATE_ACTIVE);
  g_autoptr (PosternEvent) muted = make_event (shop, 1, "a@spam.example", "One");
  g_autoptr (PosternEvent) shown = make_event (bank, 2, "b@spam.example", "Two");

  reset ();
  g_settings_set_boolean (settings, "notifications", FALSE);
  postern_agent_alerts_add (alerts, muted, shop);
  tray_spin_for (500);
  g_assert_cmpuint (notifications->notifications->len, ==, 0);
  g_assert_cmpuint (postern_agent_alerts_get_n_sent (alerts), ==, 0);

  g_settings_set_boolean (settings, "notifications", TRUE);
  postern_agent_alerts_add (alerts, shown, bank);
  g_assert_true (fake_notifications_wait (notifications, 1, WAIT_MS));
  g_assert_nonnull (strstr (((FakeNotification *)g_ptr_array_index (notifications->notifications, 0))->summary, "“Bank”"));
  g_settings_reset (settings, "notifications");
}
#endif

/* Tray */

typedef struct
{
  GDBusConnection *host;
  FakeWatcher *watcher;
  PosternAgentTray *tray;
  GListStore *channels;
  PosternChannel *shop;
  PosternChannel *recruiter;
  const char *agent_name;
} TrayFixture;

static void
tray_set_up (TrayFixture *f,
             gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PosternChannel) revoked = make_channel ("Old", "old12345@ch.postern.test", POSTERN_CHANNEL_STATE_REVOKED);

  reset ();
  f->host = test_bus_connect (bus);
  f->watcher = fake_watcher_start (bus, TRUE);
  f->tray = postern_agent_tray_new (app, &error);
  g_assert_no_error (error);
  f->agent_name = g_dbus_connection_get_unique_name (g_application_get_dbus_connection (app));

  f->channels = g_list_store_new (POSTERN_TYPE_CHANNEL);
  f->shop = make_channel ("Shop", "k7q2mv9x@ch.postern.test", POSTERN_CHANNEL_STATE_ACTIVE);
  f->recruiter = make_channel ("Recruiter_2026", "r2d2c3po@ch.postern.test", POSTERN_CHANNEL_STATE_PAUSED);
  g_list_store_append (f->channels, f->shop);
  g_list_store_append (f->channels, revoked);
  g_list_store_append (f->channels, f->recruiter);
}

static void
tray_tear_down (TrayFixture *f,
                gconstpointer data)
{
  g_assert_finalize_object (g_steal_pointer (&f->tray));
  g_clear_object (&f->channels);
  g_clear_object (&f->shop);
  g_clear_object (&f->recruiter);
  fake_watcher_stop (f->watcher);
  test_bus_close (&f->host);
}

static void
test_tray_registers (TrayFixture *f,
                     gconstpointer data)
{
  PosternTrayItem *item = postern_agent_tray_get_item (f->tray);
  gint64 deadline = g_get_monotonic_time () + WAIT_MS * G_TIME_SPAN_MILLISECOND;

  while (!f->watcher->got_registration && g_get_monotonic_time () < deadline)
    tray_spin_until (&f->watcher->got_registration, 100);
  g_assert_true (f->watcher->got_registration);
  g_assert_cmpstr (g_ptr_array_index (f->watcher->services, 0), ==, f->agent_name);
  g_assert_cmpstr (postern_tray_item_get_id (item), ==, AGENT_ID);
}

static void
test_tray_menu (TrayFixture *f,
                gconstpointer data)
{
  g_autofree char *text = NULL;

  text = menu_client_describe (f->host, f->agent_name);
  g_assert_cmpstr (text, ==,
                   "[_Open Postern|--|_New Address|New One-Time Address as _QR|"
                   "_Recent Channels[No Channels Yet!]|--|No Unread Alerts!|--|_Quit]");
  g_clear_pointer (&text, g_free);

  /* Revoked channels are not offered; a label's underscore is not a
   * mnemonic; a paused channel cannot be paused again. */
  postern_agent_tray_set_channels (f->tray, G_LIST_MODEL (f->channels));
  tray_spin_for (50);
  text = menu_client_describe (f->host, f->agent_name);
  g_assert_cmpstr (text, ==,
                   "[_Open Postern|--|_New Address|New One-Time Address as _QR|"
                   "_Recent Channels["
                   "Shop[_Copy Address|Show _QR Code|_Pause|_Revoke…[Revoke “Shop” for Good]]|"
                   "Recruiter__2026[_Copy Address|Show _QR Code|Paused!|_Revoke…[Revoke “Recruiter__2026” for Good]]]|"
                   "--|No Unread Alerts!|--|_Quit]");
}

static void
test_tray_clicks (TrayFixture *f,
                  gconstpointer data)
{
  g_autofree char *revoke = NULL;
  g_autofree char *copy = NULL;
  int id;

  postern_agent_tray_set_channels (f->tray, G_LIST_MODEL (f->channels));
  tray_spin_for (50);

  id = menu_client_find (f->host, f->agent_name, "_New Address", NULL);
  g_assert_cmpint (id, >, 0);
  menu_client_click (f->host, f->agent_name, id);
  g_assert_true (wait_activation (1));
  g_assert_cmpstr (g_ptr_array_index (activations, 0), ==, "new-channel -");

  id = menu_client_find (f->host, f->agent_name, "_Recent Channels/Shop/_Copy Address", NULL);
  g_assert_cmpint (id, >, 0);
  menu_client_click (f->host, f->agent_name, id);
  g_assert_true (wait_activation (2));
  copy = g_strdup_printf ("copy '%s'", postern_channel_get_id (f->shop));
  g_assert_cmpstr (g_ptr_array_index (activations, 1), ==, copy);

  id = menu_client_find (f->host, f->agent_name, "_Recent Channels/Shop/_Revoke…/Revoke “Shop” for Good", NULL);
  g_assert_cmpint (id, >, 0);
  menu_client_click (f->host, f->agent_name, id);
  g_assert_true (wait_activation (3));
  revoke = g_strdup_printf ("revoke '%s'", postern_channel_get_id (f->shop));
  g_assert_cmpstr (g_ptr_array_index (activations, 2), ==, revoke);

  id = menu_client_find (f->host, f->agent_name, "_Open Postern", NULL);
  menu_client_click (f->host, f->agent_name, id);
  g_assert_true (wait_activation (4));
  g_assert_cmpstr (g_ptr_array_index (activations, 3), ==, "open -");

  /* The icon's own activation opens the app too. */
  {
    g_autoptr (GError) error = NULL;
    g_autoptr (GVariant) reply = NULL;

    reply = tray_call (f->host, f->agent_name, "/StatusNotifierItem", "org.kde.StatusNotifierItem",
                       "Activate", g_variant_new ("(ii)", 0, 0), NULL, &error);
    g_assert_no_error (error);
    g_assert_true (wait_activation (5));
    g_assert_cmpstr (g_ptr_array_index (activations, 4), ==, "open -");
  }
}

static void
test_tray_state (TrayFixture *f,
                 gconstpointer data)
{
  PosternTrayItem *item = postern_agent_tray_get_item (f->tray);
  g_autofree char *text = NULL;
  int id;

  g_assert_cmpint (postern_tray_item_get_status (item), ==, POSTERN_TRAY_STATUS_ACTIVE);
  g_assert_null (postern_tray_item_get_overlay_icon_name (item));

  postern_agent_tray_set_unread_alerts (f->tray, 3);
  postern_agent_tray_set_online (f->tray, FALSE, "Offline: retrying in 8 s");
  tray_spin_for (50);
  g_assert_cmpint (postern_tray_item_get_status (item), ==, POSTERN_TRAY_STATUS_NEEDS_ATTENTION);
  g_assert_cmpstr (postern_tray_item_get_overlay_icon_name (item), ==, "network-offline-symbolic");
  g_assert_cmpstr (postern_tray_item_get_tooltip_body (item), ==, "Offline: retrying in 8 s\n3 unread alerts");

  text = menu_client_describe (f->host, f->agent_name);
  g_assert_nonnull (strstr (text, "|--|_Alerts (3)|--|_Quit]"));
  id = menu_client_find (f->host, f->agent_name, "_Alerts (3)", NULL);
  menu_client_click (f->host, f->agent_name, id);
  g_assert_true (wait_activation (1));
  g_assert_cmpstr (g_ptr_array_index (activations, 0), ==, "open -");

  postern_agent_tray_set_unread_alerts (f->tray, 0);
  postern_agent_tray_set_online (f->tray, TRUE, "Online");
  g_assert_cmpint (postern_tray_item_get_status (item), ==, POSTERN_TRAY_STATUS_ACTIVE);
  g_assert_null (postern_tray_item_get_overlay_icon_name (item));
}

int
main (int argc,
      char *argv[])
{
  g_autoptr (GError) error = NULL;
  int status;

  g_test_init (&argc, &argv, NULL);

#ifdef POSTERN_TEST_SCHEMA_DIR
  /* The app's schema, as installed next to the agent. */
  g_setenv ("GSETTINGS_SCHEMA_DIR", POSTERN_TEST_SCHEMA_DIR, TRUE);
#endif
  g_unsetenv ("DISPLAY");
  g_unsetenv ("WAYLAND_DISPLAY");
  g_setenv ("GNOTIFICATION_BACKEND", "freedesktop", TRUE);
  bus = test_bus_start ();
  g_setenv ("DBUS_SESSION_BUS_ADDRESS", bus->address, TRUE);
  notifications = fake_notifications_start (bus);

  activations = g_ptr_array_new_with_free_func (g_free);
  app = g_application_new (AGENT_ID, G_APPLICATION_DEFAULT_FLAGS);
  g_action_map_add_action_entries (G_ACTION_MAP (app), agent_actions, G_N_ELEMENTS (agent_actions), NULL);
  g_application_register (app, NULL, &error);
  g_assert_no_error (error);

  g_test_add_func ("/postern/agent/alerts/single", test_alert_single);
  g_test_add_func ("/postern/agent/alerts/burst", test_alert_burst);
  g_test_add_func ("/postern/agent/alerts/window", test_alert_window);
  g_test_add_func ("/postern/agent/alerts/withdrawn-on-revoke", test_alert_withdrawn_on_revoke);
  g_test_add_func ("/postern/agent/alerts/no-server", test_alert_no_server);
#ifdef POSTERN_TEST_SCHEMA_DIR
  g_test_add_func ("/postern/agent/alerts/setting-off", test_alert_setting_off);
#endif
  g_test_add ("/postern/agent/tray/registers", TrayFixture, NULL, tray_set_up, test_tray_registers, tray_tear_down);
  g_test_add ("/postern/agent/tray/menu", TrayFixture, NULL, tray_set_up, test_tray_menu, tray_tear_down);
  g_test_add ("/postern/agent/tray/clicks", TrayFixture, NULL, tray_set_up, test_tray_clicks, tray_tear_down);
  g_test_add ("/postern/agent/tray/state", TrayFixture, NULL, tray_set_up, test_tray_state, tray_tear_down);

  status = g_test_run ();

  g_clear_object (&app);
  fake_notifications_stop (notifications);
  g_ptr_array_unref (activations);
  test_bus_stop (bus);
  return status;
}
