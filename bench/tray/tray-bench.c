/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <json-glib/json-glib.h>
#include <stdlib.h>
#include <unistd.h>

#include "fake-notifications.h"
#include "fake-watcher.h"
#include "test-bus.h"
#include "test-harness.h"

/*
 * Tray and alert figures (not a test; bench/tray/run.sh runs it inside a
 * private desktop session against a release build):
 *   - SMTP 250 → Notify received by the notification server on the
 *     session bus, p50/p90/p99/max over N messages;
 *   - postern-agent's VmRSS with the tray exported, after the run.
 *
 * Alerts coalesce per channel (a 60 s window per channel id, see
 * src/agent/postern-agent-alerts.c): the first stranger on a channel is
 * notified at once, the next ones within the window become one summary.
 * So each of the N measured messages goes to a channel of its own: N
 * relationship channels, one stranger message each, every one a Notify
 * of its own.
 *
 * Real parts: posternd on loopback, postern-agent (D-Bus activated on the
 * private session bus) with its tray item registered on a fake
 * StatusNotifierWatcher that has a host, the tray tests' fake
 * org.freedesktop.Notifications, and SMTP sessions on 127.0.0.1, one
 * connection per message. Every wait is bounded; alarm() bounds the whole.
 */

#define USER            "alice"
#define SETUP_WAIT_MS   (10 * 60 * 1000)
#define NOTIFY_WAIT_MS  5000
#define SENDER_EXPECTED "jane@acme.example"
#define SENDER_STRANGER "leak@bulk.example"

static int opt_messages = 1000;
static int opt_timeout = 1200;

/* ---- Notify arrivals ---------------------------------------------------------- */

/* Timestamped in GDBus's worker thread as the call arrives from the
 * socket, not when the main thread gets round to dispatching it. */
static GMutex arrival_lock;
static gint64 arrival_time;
static guint arrivals;

static GDBusMessage *
arrival_filter (GDBusConnection *connection,
                GDBusMessage *message,
                gboolean incoming,
                gpointer user_data)
{
  if (incoming && g_dbus_message_get_message_type (message) == G_DBUS_MESSAGE_TYPE_METHOD_CALL && g_strcmp0 (g_dbus_message_get_interface (message), "org.freedesktop.Notifications") == 0 && g_strcmp0 (g_dbus_message_get_member (message), "Notify") == 0)
    {
      g_mutex_lock (&arrival_lock);
      arrival_time = g_get_monotonic_time ();
      arrivals++;
      g_mutex_unlock (&arrival_lock);
    }
  return message;
}

static int
compare_int64 (gconstpointer a,
               gconstpointer b)
{
  gint64 x = *(const gint64 *)a;
  gint64 y = *(const gint64 *)b;

  return (x > y) - (x < y);
}

/* The nearest-rank percentile of sorted @samples. */
static double
percentile_ms (GArray *samples,
               guint percent)
{
  guint rank = (samples->len * percent + 99) / 100;

  return g_array_index (samples, gint64, MAX (rank, 1) - 1) / 1000.0;
}

/* ---- the agent ---------------------------------------------------------------- */

static long
rss_kib (TestAgent *agent)
{
  g_autofree char *path = g_strdup_printf ("/proc/%s/status", g_subprocess_get_identifier (agent->process));
  g_autofree char *status = NULL;
  const char *line;

  if (!g_file_get_contents (path, &status, NULL, NULL) || (line = strstr (status, "VmRSS:")) == NULL)
    return -1;
  return strtol (line + strlen ("VmRSS:"), NULL, 10);
}

static char *
create_channel (TestAgent *agent,
                const char *label)
{
  g_autoptr (GError) error = NULL;
  g_auto (GVariantBuilder) options = G_VARIANT_BUILDER_INIT (G_VARIANT_TYPE_VARDICT);
  g_autofree char *json = NULL;
  g_autoptr (JsonParser) parser = json_parser_new ();

  g_variant_builder_add (&options, "{sv}", "label", g_variant_new_string (label));
  g_variant_builder_add (&options, "{sv}", "kind", g_variant_new_string ("relationship"));
  g_variant_builder_add (&options, "{sv}", "expected_sender", g_variant_new_string (SENDER_EXPECTED));
  if (!postern_dbus_agent1_call_create_channel_sync (agent->proxy, g_variant_builder_end (&options), &json, NULL, &error) || !json_parser_load_from_data (parser, json, -1, &error))
    g_error ("CreateChannel “%s”: %s", label, error->message);
  return g_strdup (json_object_get_string_member (json_node_get_object (json_parser_get_root (parser)), "address"));
}

static gboolean
nothing_pending (gpointer user_data)
{
  TestAgent *agent = user_data;
  g_autoptr (GVariant) status = NULL;
  guint32 pending = G_MAXUINT32;

  if (!postern_dbus_agent1_call_get_status_sync (agent->proxy, &status, NULL, NULL))
    return FALSE;
  return g_variant_lookup (status, "pending", "u", &pending) && pending == 0;
}

/* ---- main ------------------------------------------------------------------------ */

int
main (int argc,
      char *argv[])
{
  const GOptionEntry entries[] = {
    { "messages", 0, 0, G_OPTION_ARG_INT, &opt_messages, "Messages, one channel each (default 1000)", "N" },
    { "timeout", 0, 0, G_OPTION_ARG_INT, &opt_timeout, "Global timeout in seconds (default 1200)", "S" },
    { NULL }
  };
  g_autoptr (GOptionContext) context = g_option_context_new ("- tray and alert figures");
  g_autoptr (GError) error = NULL;
  g_autoptr (GArray) samples = NULL;
  g_auto (GStrv) addresses = NULL;
  TestBus session = { 0 };
  TestServer *server;
  TestAgent *agent;
  FakeWatcher *watcher;
  FakeNotifications *notifications;
  const char *address;
  guint filter;
  gint64 start;
  guint early = 0;

  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      g_printerr ("%s\n", error->message);
      return 2;
    }
  if (opt_messages < 1 || opt_messages > 10000 || opt_timeout < 10 || opt_timeout > 7200)
    {
      g_printerr ("out-of-range option\n");
      return 2;
    }
  address = g_getenv ("DBUS_SESSION_BUS_ADDRESS");
  if (address == NULL)
    {
      g_printerr ("Run inside tests/desktop-session.sh (bench/tray/run.sh): no session bus\n");
      return 2;
    }
  /* The whole run is bounded: SIGALRM ends this process, and every child
   * spawned through the harness dies with it (PR_SET_PDEATHSIG). */
  alarm ((unsigned)opt_timeout);

  session.address = g_strdup (address);
  server = test_server_new (USER);
  test_server_start (server);
  notifications = fake_notifications_start (&session);
  agent = test_agent_start ();
  watcher = fake_watcher_start (&session, TRUE);
  if (!tray_spin_until (&watcher->got_registration, NOTIFY_WAIT_MS))
    g_error ("the agent's tray item did not register with the watcher");
  g_print ("agent VmRSS with the tray exported, unpaired: %ld KiB\n", rss_kib (agent));

  test_pair (server, USER);
  addresses = g_new0 (char *, opt_messages + 1);
  start = g_get_monotonic_time ();
  for (int i = 0; i < opt_messages; i++)
    {
      g_autofree char *label = g_strdup_printf ("Bench %d", i);

      addresses[i] = create_channel (agent, label);
    }
  if (!test_wait_for (nothing_pending, agent, SETUP_WAIT_MS))
    g_error ("the agent still has changes pending for the server");
  g_print ("setup: %d relationship channels created through the agent in %.1f s\n", opt_messages,
           (g_get_monotonic_time () - start) / 1e6);
  tray_spin_for (2000);
  if (notifications->notifications->len != 0)
    g_error ("%u notifications before any mail", notifications->notifications->len);

  filter = g_dbus_connection_add_filter (notifications->connection, arrival_filter, NULL, NULL);
  samples = g_array_sized_new (FALSE, FALSE, sizeof (gint64), opt_messages);
  start = g_get_monotonic_time ();
  for (int i = 0; i < opt_messages; i++)
    {
      g_autofree char *subject = g_strdup_printf ("Offer %d", i);
      g_autofree char *label = g_strdup_printf ("“Bench %d”", i);
      FakeNotification *shown;
      gint64 accepted = 0;
      gint64 delta;
      int code;

      code = test_smtp_send_timed (server->smtp_port, SENDER_STRANGER, addresses[i], subject, &accepted);
      if (code != 250)
        g_error ("SMTP message %d got %d", i, code);
      if (!fake_notifications_wait (notifications, (guint)i + 1, NOTIFY_WAIT_MS))
        g_error ("no Notify for message %d within %d ms", i, NOTIFY_WAIT_MS);
      shown = g_ptr_array_index (notifications->notifications, i);
      /* A single alert naming this channel, not a summary of another. */
      if (shown->replaces_id != 0 || strstr (shown->summary, label) == NULL || strstr (shown->body, SENDER_STRANGER) == NULL)
        g_error ("message %d: unexpected notification “%s” (replaces %u)", i, shown->summary, shown->replaces_id);
      g_mutex_lock (&arrival_lock);
      if (arrivals != (guint)i + 1)
        g_error ("message %d: %u Notify calls seen by the filter", i, arrivals);
      delta = arrival_time - accepted;
      g_mutex_unlock (&arrival_lock);
      /* The agent can hear of the message before the client has read the
       * 250: such samples are counted, and kept (negative). */
      if (delta < 0)
        early++;
      g_array_append_val (samples, delta);
    }
  g_dbus_connection_remove_filter (notifications->connection, filter);
  g_print ("sent %d messages in %.1f s (sequential, one SMTP connection each)\n", opt_messages,
           (g_get_monotonic_time () - start) / 1e6);

  g_array_sort (samples, compare_int64);
  g_print ("SMTP 250 -> Notify on the bus over %d messages (one channel each): p50 %.2f ms, p90 %.2f ms, p99 %.2f ms, max %.2f ms (min %.2f ms, %u before the 250 was read)\n",
           opt_messages, percentile_ms (samples, 50), percentile_ms (samples, 90), percentile_ms (samples, 99),
           g_array_index (samples, gint64, samples->len - 1) / 1000.0, g_array_index (samples, gint64, 0) / 1000.0, early);
  if (notifications->notifications->len != (guint)opt_messages)
    g_print ("warning: %u Notify calls for %d messages\n", notifications->notifications->len, opt_messages);
  tray_spin_for (3000);
  g_print ("agent VmRSS with the tray exported, %d channels, after the run: %ld KiB\n", opt_messages, rss_kib (agent));

  if (!postern_dbus_agent1_call_unpair_sync (agent->proxy, NULL, &error))
    g_printerr ("Unpair: %s\n", error->message);
  test_agent_stop (agent);
  fake_watcher_stop (watcher);
  fake_notifications_stop (notifications);
  test_server_free (server);
  g_free (session.address);
  return 0;
}
