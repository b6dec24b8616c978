/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "test-harness.h"

/*
 * postern-agent figures (not a test; bench/agent/run.sh runs it inside a
 * private desktop session against a release build):
 *   - time for the first sync of N channels after pairing, and the agent's
 *     resident memory after it;
 *   - time to load the same N channels from the keyring on restart;
 *   - SMTP 250 → EventAdded on the session bus, p50/p99 over M messages;
 *   - CPU time and context switches of the agent idle and connected.
 * Every wait is bounded.
 */

#define CREATE_IN_FLIGHT 16
#define SYNC_TIMEOUT_MS  (10 * 60 * 1000)
#define EVENT_TIMEOUT_MS 5000

static int opt_channels = 10000;
static int opt_messages = 1000;
static int opt_idle = 60;

/* ---- /proc ---------------------------------------------------------------------- */

static long
proc_status_value (const char *pid,
                   const char *task,
                   const char *key)
{
  g_autofree char *path = task != NULL ? g_strdup_printf ("/proc/%s/task/%s/status", pid, task)
                                       : g_strdup_printf ("/proc/%s/status", pid);
  g_autofree char *text = NULL;
  g_auto (GStrv) lines = NULL;

  if (!g_file_get_contents (path, &text, NULL, NULL))
    return -1;
  lines = g_strsplit (text, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    if (g_str_has_prefix (lines[i], key) && lines[i][strlen (key)] == ':')
      return strtol (lines[i] + strlen (key) + 1, NULL, 10);
  return -1;
}

static long
rss_kib (const char *pid)
{
  return proc_status_value (pid, NULL, "VmRSS");
}

/* Context switches of every thread: each is a wake-up (or a preemption). */
static long
context_switches (const char *pid)
{
  g_autofree char *dir_path = g_strdup_printf ("/proc/%s/task", pid);
  g_autoptr (GDir) dir = g_dir_open (dir_path, 0, NULL);
  const char *task;
  long total = 0;

  if (dir == NULL)
    return -1;
  while ((task = g_dir_read_name (dir)) != NULL)
    total += proc_status_value (pid, task, "voluntary_ctxt_switches") + proc_status_value (pid, task, "nonvoluntary_ctxt_switches");
  return total;
}

static double
cpu_seconds (const char *pid)
{
  g_autofree char *path = g_strdup_printf ("/proc/%s/stat", pid);
  g_autofree char *text = NULL;
  g_auto (GStrv) fields = NULL;
  const char *after_name;

  if (!g_file_get_contents (path, &text, NULL, NULL) || (after_name = strrchr (text, ')')) == NULL)
    return -1;
  /* Fields after the name start at 3 (state); utime and stime are 14, 15. */
  fields = g_strsplit (after_name + 2, " ", -1);
  if (g_strv_length (fields) < 13)
    return -1;
  return (double)(g_ascii_strtoull (fields[11], NULL, 10) + g_ascii_strtoull (fields[12], NULL, 10)) / sysconf (_SC_CLK_TCK);
}

/* ---- creating N channels on the server -------------------------------------------- */

typedef struct
{
  PosternApiClient *client;
  int started;
  int done;
  int total;
  GError *error;
} Bulk;

static void bulk_next (Bulk *bulk);

static void
bulk_created_cb (GObject *source,
                 GAsyncResult *result,
                 gpointer user_data)
{
  Bulk *bulk = user_data;
  g_autoptr (PosternChannel) channel = postern_api_client_create_channel_finish (POSTERN_API_CLIENT (source), result,
                                                                                 bulk->error == NULL ? &bulk->error : NULL);

  bulk->done++;
  if (channel != NULL)
    bulk_next (bulk);
}

static void
bulk_next (Bulk *bulk)
{
  g_autofree char *label = NULL;
  g_autoptr (PosternChannel) channel = NULL;

  if (bulk->started >= bulk->total || bulk->error != NULL)
    return;
  label = g_strdup_printf ("Bench channel %d", bulk->started);
  channel = test_api_channel_template (label);
  bulk->started++;
  postern_api_client_create_channel_async (bulk->client, channel, NULL, bulk_created_cb, bulk);
}

static gboolean
bulk_finished (gpointer user_data)
{
  Bulk *bulk = user_data;

  return bulk->error != NULL || bulk->done >= bulk->total;
}

static void
create_channels (PosternApiClient *client,
                 int n)
{
  Bulk bulk = { client, 0, 0, n, NULL };
  gint64 start = g_get_monotonic_time ();

  for (int i = 0; i < CREATE_IN_FLIGHT; i++)
    bulk_next (&bulk);
  if (!test_wait_for (bulk_finished, &bulk, SYNC_TIMEOUT_MS) || bulk.error != NULL)
    g_error ("creating channels on the server failed: %s", bulk.error ? bulk.error->message : "timeout");
  g_print ("setup: created %d channels through the API in %.1f s\n", n,
           (g_get_monotonic_time () - start) / 1e6);
}

/* ---- the agent's view ----------------------------------------------------------------- */

static guint
channel_count (TestAgent *agent)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *json = NULL;
  g_autoptr (JsonNode) node = NULL;

  postern_dbus_agent1_call_list_channels_sync (agent->proxy, &json, NULL, &error);
  g_assert_no_error (error);
  node = postern_json_from_string (json, -1, &error);
  g_assert_no_error (error);
  return json_array_get_length (json_node_get_array (node));
}

typedef struct
{
  TestAgent *agent;
  guint count;
} CountWait;

static gboolean
synced (gpointer user_data)
{
  CountWait *wait = user_data;
  g_autoptr (GError) error = NULL;
  g_autoptr (GVariant) status = NULL;
  gint64 last_sync = 0;

  /* GetStatus is cheap; the full list is read once the sync says done. */
  postern_dbus_agent1_call_get_status_sync (wait->agent->proxy, &status, NULL, &error);
  g_assert_no_error (error);
  g_variant_lookup (status, "last_sync", "x", &last_sync);
  return last_sync > 0;
}

static gboolean
has_channels (gpointer user_data)
{
  CountWait *wait = user_data;

  return channel_count (wait->agent) >= wait->count;
}

static void
settle (TestAgent *agent)
{
  /* Coalesced keyring writes and their buffers come and go: let them. */
  test_spin_for (3000);
}

/* ---- SMTP → D-Bus latency ------------------------------------------------------------ */

/* Timestamped in GDBus's worker thread, as the message arrives from the
 * socket, not when this thread gets round to it. */
static GMutex arrival_lock;
static gint64 arrival_time;
static guint arrivals;

static GDBusMessage *
arrival_filter (GDBusConnection *connection,
                GDBusMessage *message,
                gboolean incoming,
                gpointer user_data)
{
  if (incoming && g_dbus_message_get_message_type (message) == G_DBUS_MESSAGE_TYPE_SIGNAL && g_strcmp0 (g_dbus_message_get_member (message), "EventAdded") == 0)
    {
      g_mutex_lock (&arrival_lock);
      arrival_time = g_get_monotonic_time ();
      arrivals++;
      g_mutex_unlock (&arrival_lock);
    }
  return message;
}

static gboolean
arrived (gpointer user_data)
{
  guint expected = GPOINTER_TO_UINT (user_data);
  gboolean done;

  g_mutex_lock (&arrival_lock);
  done = arrivals >= expected;
  g_mutex_unlock (&arrival_lock);
  return done;
}

static int
compare_int64 (gconstpointer a,
               gconstpointer b)
{
  gint64 x = *(const gint64 *)a;
  gint64 y = *(const gint64 *)b;

  return (x > y) - (x < y);
}

static void
measure_latency (TestServer *server,
                 TestAgent *agent,
                 int messages)
{
  g_autoptr (GError) error = NULL;
  g_auto (GVariantBuilder) options = G_VARIANT_BUILDER_INIT (G_VARIANT_TYPE_VARDICT);
  g_autofree char *json = NULL;
  g_autoptr (JsonNode) node = NULL;
  g_autoptr (GArray) samples = g_array_sized_new (FALSE, FALSE, sizeof (gint64), messages);
  const char *address;
  guint filter;
  gint64 sum = 0;

  g_variant_builder_add (&options, "{sv}", "label", g_variant_new_string ("Latency"));
  g_variant_builder_add (&options, "{sv}", "kind", g_variant_new_string ("open"));
  postern_dbus_agent1_call_create_channel_sync (agent->proxy, g_variant_builder_end (&options), &json, NULL, &error);
  g_assert_no_error (error);
  node = postern_json_from_string (json, -1, &error);
  g_assert_no_error (error);
  address = json_object_get_string_member (json_node_get_object (node), "address");
  test_spin_for (2000); /* the creation reaches the server */

  /* The proxy's own match rule routes EventAdded to this connection. */
  filter = g_dbus_connection_add_filter (agent->bus, arrival_filter, NULL, NULL);

  for (int i = 0; i < messages; i++)
    {
      g_autofree char *subject = g_strdup_printf ("bench %d", i);
      gint64 accepted = 0;
      int code = test_smtp_send_timed (server->smtp_port, "sender@bench.example", address, subject, &accepted);
      gint64 delta;

      if (code != 250)
        g_error ("SMTP message %d got %d", i, code);
      if (!test_wait_for (arrived, GUINT_TO_POINTER ((guint)(i + 1)), EVENT_TIMEOUT_MS))
        g_error ("no EventAdded for message %d within %d ms", i, EVENT_TIMEOUT_MS);
      g_mutex_lock (&arrival_lock);
      delta = arrival_time - accepted;
      g_mutex_unlock (&arrival_lock);
      g_array_append_val (samples, delta);
      sum += delta;
    }
  g_dbus_connection_remove_filter (agent->bus, filter);

  g_array_sort (samples, compare_int64);
  g_print ("SMTP 250 -> D-Bus EventAdded over %d messages: p50 %.2f ms, p99 %.2f ms, max %.2f ms, mean %.2f ms\n",
           messages,
           g_array_index (samples, gint64, samples->len / 2) / 1000.0,
           g_array_index (samples, gint64, (samples->len * 99) / 100) / 1000.0,
           g_array_index (samples, gint64, samples->len - 1) / 1000.0,
           (double)sum / samples->len / 1000.0);
}

/* ---- main -------------------------------------------------------------------------------- */

int
main (int argc,
      char *argv[])
{
  const GOptionEntry entries[] = {
    { "channels", 0, 0, G_OPTION_ARG_INT, &opt_channels, "Channels to sync (default 10000)", "N" },
    { "messages", 0, 0, G_OPTION_ARG_INT, &opt_messages, "Messages for the latency (default 1000)", "N" },
    { "idle", 0, 0, G_OPTION_ARG_INT, &opt_idle, "Seconds idle and connected (default 60)", "S" },
    { NULL }
  };
  g_autoptr (GOptionContext) context = g_option_context_new ("- postern-agent figures");
  g_autoptr (GError) error = NULL;
  g_autoptr (PosternApiClient) admin = NULL;
  g_autoptr (GVariant) status = NULL;
  g_autofree char *uri = NULL;
  TestServer *server;
  TestAgent *agent;
  CountWait wait;
  const char *pid;
  gint64 start;
  double cpu_before;
  long switches_before;

  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      g_printerr ("%s\n", error->message);
      return 2;
    }
  if (opt_channels < 1 || opt_messages < 1 || opt_idle < 1 || opt_channels > 1000000 || opt_messages > 100000 || opt_idle > 3600)
    {
      g_printerr ("out-of-range option\n");
      return 2;
    }

  server = test_server_new ("alice");
  test_server_start (server);
  admin = test_api_device_new (server, "alice");
  create_channels (admin, opt_channels);

  agent = test_agent_start ();
  pid = g_subprocess_get_identifier (agent->process);
  g_print ("agent RSS unpaired: %ld KiB\n", rss_kib (pid));

  /* First sync: pairing, then every channel fetched and stored. */
  uri = test_server_pair_uri (server, "alice");
  start = g_get_monotonic_time ();
  postern_dbus_agent1_call_pair_sync (agent->proxy, uri, "", "", "bench", &status, NULL, &error);
  g_assert_no_error (error);
  wait = (CountWait){ agent, (guint)opt_channels };
  if (!test_wait_for (synced, &wait, SYNC_TIMEOUT_MS) || !test_wait_for (has_channels, &wait, SYNC_TIMEOUT_MS))
    g_error ("the first sync did not finish");
  g_print ("first sync of %d channels (Pair call to all listed): %.2f s\n", opt_channels,
           (g_get_monotonic_time () - start) / 1e6);
  settle (agent);
  g_print ("agent RSS after syncing %d channels: %ld KiB\n", opt_channels, rss_kib (pid));

  /* Restart: the channels come back from the keyring. */
  test_agent_stop (agent);
  start = g_get_monotonic_time ();
  agent = test_agent_start ();
  pid = g_subprocess_get_identifier (agent->process);
  if (!test_wait_for (has_channels, &wait, SYNC_TIMEOUT_MS))
    g_error ("the channels did not come back from the keyring");
  g_print ("restart: %d channels listed from the keyring after %.2f s\n", opt_channels,
           (g_get_monotonic_time () - start) / 1e6);
  if (!test_agent_wait_connection (agent, "online", SYNC_TIMEOUT_MS))
    g_error ("the agent did not come online");
  settle (agent);
  g_print ("agent RSS after restart, online: %ld KiB\n", rss_kib (pid));

  measure_latency (server, agent, opt_messages);
  settle (agent);
  g_print ("agent RSS after %d events: %ld KiB\n", opt_messages, rss_kib (pid));

  /* Idle and connected: only the WebSocket keep-alive should wake it. */
  cpu_before = cpu_seconds (pid);
  switches_before = context_switches (pid);
  test_spin_for ((guint)opt_idle * 1000);
  g_print ("idle and connected for %d s: CPU %.3f s, %ld context switches (all threads)\n", opt_idle,
           cpu_seconds (pid) - cpu_before, context_switches (pid) - switches_before);

  test_agent_stop (agent);
  test_server_free (server);
  return 0;
}
