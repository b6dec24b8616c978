/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <signal.h>
#include <string.h>

#include "fake-notifications.h"
#include "fake-watcher.h"
#include "menu-client.h"
#include "postern-client.h"
#include "test-bus.h"
#include "test-harness.h"

/*
 * The whole user story with real processes only, inside the private
 * desktop session of tests/desktop-session.sh (session bus, unlocked
 * gnome-keyring):
 *
 *   posternd on loopback, forwarding to a test smarthost
 *   (tests/server/smtp-sink.py) → postern-agent paired with it →
 *   the GTK app under Xvfb; posternctl and swaks as the user's and the
 *   senders' tools; the tray tests' fake notification server and tray
 *   watcher (tests/tray) stand in for the desktop shell.
 *
 * Every wait is bounded; every process is stopped by its PID.
 */

#define USER        "erin"
#define OWNER       "erin@real.test"
#define AGENT_NAME  "io.github.postern.Postern.Agent"
#define E2E_WAIT_MS 20000
#define ALERT_MS    1000 /* the issue: an alert within a second */
#define PYTHON      "/usr/bin/python3"

typedef struct
{
  TestBus session; /* the desktop session's bus: not ours to stop */
  char *dir;       /* sink, screenshots, app dumps */
  GSubprocess *sink;
  char *sink_dir;
  TestServer *server;
  FakeNotifications *notifications;
  FakeWatcher *watcher;
  GDBusConnection *host; /* the tray host's connection */
  TestAgent *agent;
  GSubprocess *xvfb;
  char *display;
  GSubprocess *app;
} Fixture;

static const char *
env_or_die (const char *name)
{
  const char *value = g_getenv (name);

  if (value == NULL || *value == '\0')
    g_error ("%s is not set: run this test through meson (tests/e2e/meson.build)", name);
  return value;
}

/* ---- tools ----------------------------------------------------------------- */

typedef struct
{
  gboolean done;
  char *out;
  GError *error;
} ToolRun;

static void
tool_done_cb (GObject *source,
              GAsyncResult *result,
              gpointer user_data)
{
  ToolRun *run = user_data;

  g_subprocess_communicate_utf8_finish (G_SUBPROCESS (source), result, &run->out, NULL, &run->error);
  run->done = TRUE;
}

/* Runs a program (stdout and stderr merged into *@output) while the main
 * context keeps turning, so the fakes in this process answer the agent at
 * once. Returns the exit status. */
static int
run_tool (Fixture *f,
          const char *const *argv,
          char **output)
{
  g_autoptr (GSubprocess) process = test_spawn (G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_MERGE, argv);
  ToolRun run = { 0 };

  g_subprocess_communicate_utf8_async (process, NULL, NULL, tool_done_cb, &run);
  if (!test_spin_until (&run.done, E2E_WAIT_MS))
    {
      g_subprocess_force_exit (process);
      test_spin_until (&run.done, 5000);
      g_error ("%s did not finish within %d ms", argv[0], E2E_WAIT_MS);
    }
  g_assert_no_error (run.error);
  test_subprocess_wait (process, 5000);
  g_test_message ("%s → %d\n%s", argv[0], g_subprocess_get_exit_status (process), run.out);
  if (output != NULL)
    *output = g_steal_pointer (&run.out);
  g_free (run.out);
  return g_subprocess_get_if_exited (process) ? g_subprocess_get_exit_status (process) : -1;
}

/* One message through swaks, a real SMTP client; returns its transcript. */
static char *
swaks (Fixture *f,
       const char *from,
       const char *to,
       const char *subject)
{
  g_autofree char *server = g_strdup_printf ("127.0.0.1:%u", f->server->smtp_port);
  g_autofree char *header = g_strdup_printf ("Subject: %s", subject);
  const char *argv[] = { "swaks", "--server", server, "--helo", "client.postern.test", "--from", from,
                         "--to", to, "--header", header, "--timeout", "15", NULL };
  char *transcript = NULL;

  run_tool (f, argv, &transcript);
  return transcript;
}

/* swaks marks the server's replies "<-" and its refusals "<**". */
static gboolean
accepted (const char *transcript)
{
  return strstr (transcript, "<-  250 ") != NULL && strstr (transcript, "<** ") == NULL && strstr (transcript, "*** ") == NULL;
}

/* ---- JSON ------------------------------------------------------------------ */

static JsonObject *
parse_object (const char *text)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GError) error = NULL;

  json_parser_load_from_data (parser, text, -1, &error);
  g_assert_no_error (error);
  g_assert_true (JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)));
  return json_object_ref (json_node_get_object (json_parser_get_root (parser)));
}

/* `posternctl show ID --json`. */
static JsonObject *
ctl_show (const char *id)
{
  g_autofree char *out = NULL;

  g_assert_cmpint (test_ctl (NULL, &out, NULL, "show", id, "--json", NULL), ==, 0);
  return parse_object (out);
}

static gboolean
strv_has (JsonObject *object,
          const char *member,
          const char *value)
{
  JsonArray *array = json_object_has_member (object, member) ? json_object_get_array_member (object, member) : NULL;

  for (guint i = 0; array != NULL && i < json_array_get_length (array); i++)
    if (g_strcmp0 (json_array_get_string_element (array, i), value) == 0)
      return TRUE;
  return FALSE;
}

/* ---- the smarthost --------------------------------------------------------- */

static void
sink_start (Fixture *f)
{
  g_autofree char *port_file = g_build_filename (f->dir, "sink.port", NULL);
  g_autofree char *port_text = NULL;
  g_autofree char *delivery = NULL;
  g_autofree char *config = NULL;
  g_autoptr (GError) error = NULL;
  const char *argv[] = { PYTHON, env_or_die ("POSTERN_TEST_SINK"), "--port-file", port_file, "--dir", NULL, NULL };
  gint64 deadline = g_get_monotonic_time () + E2E_WAIT_MS * G_TIME_SPAN_MILLISECOND;

  f->sink_dir = g_build_filename (f->dir, "sink", NULL);
  g_assert_cmpint (g_mkdir_with_parents (f->sink_dir, 0700), ==, 0);
  argv[5] = f->sink_dir;
  f->sink = test_spawn (G_SUBPROCESS_FLAGS_NONE, argv);
  while (!g_file_get_contents (port_file, &port_text, NULL, NULL) || *g_strstrip (port_text) == '\0')
    {
      g_clear_pointer (&port_text, g_free);
      if (g_get_monotonic_time () > deadline)
        g_error ("smtp-sink.py wrote no port within %d ms", E2E_WAIT_MS);
      test_spin_for (50);
    }

  /* posternd forwards everything for USER to the sink, at once. */
  g_file_get_contents (f->server->config_path, &config, NULL, &error);
  g_assert_no_error (error);
  delivery = g_strdup_printf ("%s\n[delivery]\npaused=false\nsmarthost=127.0.0.1\nport=%s\ntls=none\nretry_base=1\nretry_max=2\n",
                              config, port_text);
  g_file_set_contents (f->server->config_path, delivery, -1, &error);
  g_assert_no_error (error);
  g_free (test_server_admin (f->server, "user", "add", USER, "--forward-to", OWNER, NULL));
}

/* The text of the @n-th message (1-based) the sink received, waiting for it. */
static char *
sink_message (Fixture *f,
              guint n)
{
  g_autofree char *name = g_strdup_printf ("%06u.eml", n);
  g_autofree char *path = g_build_filename (f->sink_dir, name, NULL);
  gint64 deadline = g_get_monotonic_time () + E2E_WAIT_MS * G_TIME_SPAN_MILLISECOND;
  char *text = NULL;

  while (!g_file_get_contents (path, &text, NULL, NULL))
    {
      if (g_get_monotonic_time () > deadline)
        g_error ("the smarthost got no message %u within %d ms", n, E2E_WAIT_MS);
      test_spin_for (50);
    }
  return text;
}

/* The value of header field @name in the header section of @message. */
static char *
header_value (const char *message,
              const char *name)
{
  g_autofree char *head = g_strndup (message, strstr (message, "\r\n\r\n") != NULL ? (gsize)(strstr (message, "\r\n\r\n") - message) : strlen (message));
  g_auto (GStrv) lines = g_strsplit (head, "\r\n", -1);
  gsize length = strlen (name);

  for (guint i = 0; lines[i] != NULL; i++)
    if (g_ascii_strncasecmp (lines[i], name, length) == 0 && lines[i][length] == ':')
      return g_strstrip (g_strdup (lines[i] + length + 1));
  return NULL;
}

/* ---- the app under Xvfb ---------------------------------------------------- */

static void
display_line_cb (GObject *source,
                 GAsyncResult *result,
                 gpointer user_data)
{
  Fixture *f = user_data;
  g_autofree char *line = g_data_input_stream_read_line_finish (G_DATA_INPUT_STREAM (source), result, NULL, NULL);

  f->display = g_strdup_printf (":%s", line != NULL ? g_strstrip (line) : "");
}

/* Xvfb picks a free display and prints its number on -displayfd. */
static void
xvfb_start (Fixture *f)
{
  g_autoptr (GDataInputStream) in = NULL;
  const char *argv[] = { "Xvfb", "-displayfd", "1", "-screen", "0", "1024x768x24", "-nolisten", "tcp", NULL };

  f->xvfb = test_spawn (G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_SILENCE, argv);
  in = g_data_input_stream_new (g_subprocess_get_stdout_pipe (f->xvfb));
  g_data_input_stream_read_line_async (in, G_PRIORITY_DEFAULT, NULL, display_line_cb, f);
  for (gint64 deadline = g_get_monotonic_time () + E2E_WAIT_MS * G_TIME_SPAN_MILLISECOND;
       f->display == NULL && g_get_monotonic_time () < deadline;)
    test_spin_for (20);
  g_assert_nonnull (f->display);
  g_assert_true (g_ascii_isdigit (f->display[1]));
}

static GVariant *
app_action (Fixture *f,
            const char *name,
            GVariant *parameter)
{
  g_autoptr (GError) error = NULL;
  GVariant *reply;
  g_autofree char *path = g_strconcat ("/", APP_ID, NULL);

  g_strdelimit (path, ".", '/');
  reply = g_dbus_connection_call_sync (f->host, APP_ID, path, "org.gtk.Actions", "Activate",
                                       g_variant_new_parsed ("(%s, %@av, @a{sv} {})", name,
                                                             parameter != NULL ? g_variant_new_parsed ("[<%@*>]", parameter)
                                                                               : g_variant_new_array (G_VARIANT_TYPE_VARIANT, NULL, 0)),
                                       NULL, G_DBUS_CALL_FLAGS_NONE, E2E_WAIT_MS, NULL, &error);
  g_assert_no_error (error);
  return reply;
}

/* What the app shows, through its test hook (POSTERN_TEST_HOOKS=1). */
static JsonObject *
app_state (Fixture *f)
{
  g_autofree char *path = g_build_filename (f->dir, "app-state.json", NULL);
  g_autofree char *text = NULL;
  g_autoptr (GError) error = NULL;

  g_remove (path);
  g_variant_unref (app_action (f, "test-dump", g_variant_new_string (path)));
  g_file_get_contents (path, &text, NULL, &error);
  g_assert_no_error (error);
  return parse_object (text);
}

/* The app's row for channel @id, or NULL. */
static JsonObject *
app_row (JsonObject *state,
         const char *id)
{
  JsonArray *rows = json_object_get_array_member (state, "rows");

  for (guint i = 0; i < json_array_get_length (rows); i++)
    if (g_strcmp0 (json_object_get_string_member (json_array_get_object_element (rows, i), "id"), id) == 0)
      return json_array_get_object_element (rows, i);
  return NULL;
}

typedef gboolean (*AppCheck) (JsonObject *state,
                              const char *arg);

/* Polls the app until @check holds; returns its last state. */
static JsonObject *
app_wait (Fixture *f,
          AppCheck check,
          const char *arg,
          const char *what)
{
  gint64 deadline = g_get_monotonic_time () + E2E_WAIT_MS * G_TIME_SPAN_MILLISECOND;

  for (;;)
    {
      g_autoptr (JsonObject) state = app_state (f);
      g_autoptr (JsonNode) node = NULL;
      g_autofree char *text = NULL;

      if (check (state, arg))
        return g_steal_pointer (&state);
      if (g_get_monotonic_time () > deadline)
        {
          node = json_node_init_object (json_node_alloc (), state);
          text = json_to_string (node, TRUE);
          g_error ("the app never showed %s; it shows:\n%s", what, text);
        }
      test_spin_for (100);
    }
}

static gboolean
app_online (JsonObject *state,
            const char *unused)
{
  return json_object_get_boolean_member (state, "loaded") && g_strcmp0 (json_object_get_string_member (state, "connection"), "online") == 0;
}

static gboolean
app_channel_alerted (JsonObject *state,
                     const char *id)
{
  JsonObject *row = app_row (state, id);

  return row != NULL && json_object_get_int_member (row, "unread_alerts") >= 1;
}

/* @arg is "ID STATE". */
static gboolean
app_channel_in (JsonObject *state,
                const char *arg)
{
  g_auto (GStrv) parts = g_strsplit (arg, " ", 2);
  JsonObject *row = app_row (state, parts[0]);

  return row != NULL && g_strcmp0 (json_object_get_string_member (row, "state"), parts[1]) == 0;
}

static void
app_start (Fixture *f)
{
  const char *argv[] = { env_or_die ("POSTERN_TEST_APP"), NULL };
  const char *env[][2] = {
    { "DISPLAY", f->display },
    { "GDK_BACKEND", "x11" },
    { "GSK_RENDERER", "cairo" },
    { "GTK_A11Y", "none" },
    { "NO_AT_BRIDGE", "1" },
    { "GSETTINGS_BACKEND", "memory" },
    { "GSETTINGS_SCHEMA_DIR", env_or_die ("POSTERN_TEST_SCHEMA_DIR") },
    { "POSTERN_TEST_HOOKS", "1" },
    { "LANGUAGE", "C" },
    { "LC_ALL", "C.UTF-8" },
  };
  g_autoptr (JsonObject) state = NULL;

  /* Children inherit it: the tools (import, xclip) need DISPLAY too. The
   * agent, started before, has none, so no keyring prompt can open. */
  for (guint i = 0; i < G_N_ELEMENTS (env); i++)
    g_setenv (env[i][0], env[i][1], TRUE);
  f->app = test_spawn (G_SUBPROCESS_FLAGS_NONE, argv);
  for (gint64 deadline = g_get_monotonic_time () + E2E_WAIT_MS * G_TIME_SPAN_MILLISECOND;; test_spin_for (50))
    {
      g_autoptr (GVariant) owner = g_dbus_connection_call_sync (f->host, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                                                "org.freedesktop.DBus", "NameHasOwner",
                                                                g_variant_new ("(s)", APP_ID), G_VARIANT_TYPE ("(b)"),
                                                                G_DBUS_CALL_FLAGS_NONE, 5000, NULL, NULL);
      gboolean has = FALSE;

      if (owner != NULL)
        g_variant_get (owner, "(b)", &has);
      if (has)
        break;
      if (g_get_monotonic_time () > deadline)
        g_error ("the app did not take its bus name within %d ms", E2E_WAIT_MS);
    }
  state = app_wait (f, app_online, NULL, "its channels, online");
}

static void
app_stop (Fixture *f)
{
  if (f->app == NULL)
    return;
  g_variant_unref (app_action (f, "quit", NULL));
  if (test_subprocess_wait (f->app, E2E_WAIT_MS) == -1)
    g_test_message ("the app did not quit within %d ms: killed", E2E_WAIT_MS);
  g_clear_object (&f->app);
}

/* ---- fixture --------------------------------------------------------------- */

static void
require_tools (void)
{
  const char *tools[] = { "swaks", "Xvfb", "import", "zbarimg", "xclip" };

  for (guint i = 0; i < G_N_ELEMENTS (tools); i++)
    {
      g_autofree char *path = g_find_program_in_path (tools[i]);

      if (path == NULL)
        g_error ("%s is not installed; the end-to-end test needs it (build-aux/install-deps.sh)", tools[i]);
    }
}

static void
fixture_set_up (Fixture *f,
                gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  const char *address = g_getenv ("DBUS_SESSION_BUS_ADDRESS");

  if (address == NULL)
    g_error ("no session bus: run inside tests/desktop-session.sh (meson test --suite e2e)");
  require_tools ();
  f->session.address = g_strdup (address);
  f->dir = g_dir_make_tmp ("postern-e2e-XXXXXX", &error);
  g_assert_no_error (error);

  f->server = test_server_new ("bystander");
  sink_start (f);
  test_server_start (f->server);

  /* The desktop shell: a notification server and a tray, before the agent. */
  f->notifications = fake_notifications_start (&f->session);
  f->watcher = fake_watcher_start (&f->session, TRUE);
  f->host = test_bus_connect (&f->session);

  f->agent = test_agent_start ();
  test_pair (f->server, USER);
  g_assert_true (test_agent_wait_connection (f->agent, "online", E2E_WAIT_MS));

  xvfb_start (f);
  app_start (f);
}

static void
fixture_tear_down (Fixture *f,
                   gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *command = NULL;

  app_stop (f);
  g_subprocess_force_exit (f->xvfb);
  test_subprocess_wait (f->xvfb, E2E_WAIT_MS);
  g_clear_object (&f->xvfb);
  g_unsetenv ("DISPLAY");

  /* Leave the keyring empty for the next test, after coalesced writes. */
  test_spin_for (POSTERN_SECRET_COALESCE_MS + 500);
  postern_dbus_agent1_call_unpair_sync (f->agent->proxy, NULL, &error);
  g_assert_no_error (error);
  test_agent_stop (f->agent);

  fake_watcher_stop (f->watcher);
  fake_notifications_stop (f->notifications);
  test_bus_close (&f->host);
  test_server_free (f->server);

  g_subprocess_send_signal (f->sink, SIGTERM);
  test_subprocess_wait (f->sink, E2E_WAIT_MS);
  g_clear_object (&f->sink);

  command = g_strdup_printf ("rm -rf '%s'", f->dir);
  g_assert_cmpint (system (command), ==, 0);
  g_free (f->dir);
  g_free (f->sink_dir);
  g_free (f->display);
  g_free (f->session.address);
}

/* ---- steps shared by the paths --------------------------------------------- */

/* `posternctl new ARGS… --json`: the new channel's id and address. */
static char *
ctl_new (const char *label,
         const char *kind,
         char **out_address)
{
  g_autofree char *out = NULL;
  g_autoptr (JsonObject) channel = NULL;

  g_assert_cmpint (test_ctl (NULL, &out, NULL, "new", "--label", label, "--kind", kind, "--json", NULL), ==, 0);
  channel = parse_object (out);
  *out_address = g_strdup (json_object_get_string_member (channel, "address"));
  return g_strdup (json_object_get_string_member (channel, "id"));
}

/* Sends until the server refuses in the session; returns the transcript. */
static char *
wait_refused (Fixture *f,
              const char *address)
{
  gint64 deadline = g_get_monotonic_time () + E2E_WAIT_MS * G_TIME_SPAN_MILLISECOND;

  for (;;)
    {
      g_autofree char *transcript = swaks (f, "jane@acme.example", address, "Still there?");

      if (strstr (transcript, "<** ") != NULL)
        return g_steal_pointer (&transcript);
      if (g_get_monotonic_time () > deadline)
        g_error ("posternd still accepts mail to %s:\n%s", address, transcript);
      test_spin_for (200);
    }
}

/* A revoked channel: 550 5.1.1 in the SMTP session, and posternctl and
 * the app both say so. */
static void
assert_revoked_everywhere (Fixture *f,
                           const char *id,
                           const char *address)
{
  g_autofree char *refusal = wait_refused (f, address);
  g_autofree char *in_state = g_strdup_printf ("%s revoked", id);
  g_autoptr (JsonObject) channel = NULL;
  g_autoptr (JsonObject) state = NULL;
  JsonObject *row;

  g_assert_nonnull (strstr (refusal, "<** 550 5.1.1 "));
  channel = ctl_show (id);
  g_assert_cmpstr (json_object_get_string_member (channel, "state"), ==, "revoked");
  state = app_wait (f, app_channel_in, in_state, in_state);
  row = app_row (state, id);
  g_assert_cmpstr (json_object_get_string_member (row, "address"), ==, json_object_get_string_member (channel, "address"));
  g_assert_cmpstr (json_object_get_string_member (row, "label"), ==, json_object_get_string_member (channel, "label"));
}

/* ---- path 1: one-time channel, stranger, Revoke from the alert ------------- */

static gboolean
bound_to (gpointer user_data)
{
  const char *const *id_sender = user_data;
  g_autoptr (JsonObject) channel = ctl_show (id_sender[0]);

  return strv_has (channel, "expected_senders", id_sender[1]);
}

static void
test_alert_revoke (Fixture *f,
                   gconstpointer data)
{
  g_autofree char *address = NULL;
  g_autofree char *id = ctl_new ("Recruiter at FOSDEM", "one-time", &address);
  g_autofree char *first = NULL;
  g_autofree char *stranger = NULL;
  g_autofree char *delivered = NULL;
  g_autofree char *channel_header = NULL;
  g_autofree char *verdict = NULL;
  const char *id_sender[] = { id, "jane@acme.example" };
  g_autoptr (JsonObject) state = NULL;
  FakeNotification *alert;
  gint64 sent;

  /* The first sender: delivered to the owner with our headers, and the
   * channel is bound to it. */
  first = swaks (f, "jane@acme.example", address, "Interview on Monday");
  g_assert_true (accepted (first));
  delivered = sink_message (f, 1);
  channel_header = header_value (delivered, "X-Postern-Channel");
  verdict = header_value (delivered, "X-Postern-Verdict");
  g_assert_cmpstr (channel_header, ==, "Recruiter at FOSDEM");
  g_assert_cmpstr (verdict, ==, "expected");
  g_assert_nonnull (strstr (delivered, "Subject: Interview on Monday"));
  g_assert_true (test_wait_for (bound_to, id_sender, E2E_WAIT_MS));
  g_assert_cmpuint (f->notifications->notifications->len, ==, 0);

  /* A second sender: an alert within a second, with its three actions. */
  sent = g_get_monotonic_time ();
  stranger = swaks (f, "leak@bulk.example", address, "An offer you cannot refuse");
  g_assert_true (accepted (stranger));
  g_assert_true (fake_notifications_wait (f->notifications, 1, E2E_WAIT_MS));
  alert = g_ptr_array_index (f->notifications->notifications, 0);
  g_test_message ("swaks start → Notify: %.1f ms (includes starting swaks and the whole SMTP session)",
                  (alert->received_us - sent) / 1000.0);
  g_assert_cmpint (alert->received_us - sent, <, ALERT_MS * G_TIME_SPAN_MILLISECOND);
  g_assert_nonnull (strstr (alert->body, "leak@bulk.example"));
  g_assert_nonnull (fake_notification_action_key (alert, "Revoke Channel"));
  g_assert_nonnull (fake_notification_action_key (alert, "Trust Sender"));
  g_assert_nonnull (fake_notification_action_key (alert, "Open"));
  g_free (verdict);
  g_free (delivered);
  delivered = sink_message (f, 2);
  verdict = header_value (delivered, "X-Postern-Verdict");
  g_assert_cmpstr (verdict, ==, "unexpected");
  /* The app counts it as an unread alert on that channel. */
  state = app_wait (f, app_channel_alerted, id, "an unread alert on the channel");

  /* Revoke Channel, clicked on the notification. */
  fake_notifications_invoke (f->notifications, alert->id, fake_notification_action_key (alert, "Revoke Channel"));
  assert_revoked_everywhere (f, id, address);
}

/* ---- path 2: Revoke from the tray menu ------------------------------------- */

static gboolean
in_menu (gpointer user_data)
{
  Fixture *f = ((gpointer *)user_data)[0];
  g_autofree char *menu = menu_client_describe (f->host, AGENT_NAME);

  return strstr (menu, ((gpointer *)user_data)[1]) != NULL;
}

static void
test_tray_revoke (Fixture *f,
                  gconstpointer data)
{
  g_autofree char *address = NULL;
  g_autofree char *id = ctl_new ("Bookshop", "relationship", &address);
  g_autofree char *mail = NULL;
  gpointer menu_wait[] = { f, "_Recent Channels[Bookshop[" };
  int item;

  g_assert_true (f->watcher->got_registration);
  mail = swaks (f, "orders@bookshop.example", address, "Your order");
  g_assert_true (accepted (mail));
  g_assert_true (test_wait_for (in_menu, menu_wait, E2E_WAIT_MS));

  item = menu_client_find (f->host, AGENT_NAME, "_Recent Channels/Bookshop/_Revoke…/Revoke “Bookshop” for Good", NULL);
  g_assert_cmpint (item, >, 0);
  menu_client_click (f->host, AGENT_NAME, item);
  assert_revoked_everywhere (f, id, address);
}

/* ---- path 3: the QR of a new address ---------------------------------------- */

static gboolean
app_shows_qr (JsonObject *state,
              const char *unused)
{
  JsonArray *windows = json_object_get_array_member (state, "windows");

  for (guint i = 0; i < json_array_get_length (windows); i++)
    {
      JsonObject *window = json_array_get_object_element (windows, i);

      if (json_object_has_member (window, "qr") && *json_object_get_string_member (window, "qr") != '\0')
        return TRUE;
    }
  return FALSE;
}

static void
test_new_address_qr (Fixture *f,
                     gconstpointer data)
{
  g_autofree char *shot = g_build_filename (f->dir, "qr.png", NULL);
  g_autofree char *decoded = NULL;
  g_autofree char *out = NULL;
  g_autofree char *wrapped = NULL;
  g_autofree char *mailto = NULL;
  g_autoptr (JsonObject) state = NULL;
  g_autoptr (JsonObject) list = NULL;
  const char *import[] = { "import", "-window", "root", shot, NULL };
  const char *zbarimg[] = { "zbarimg", "--nodbus", "-q", "--raw", shot, NULL };
  int item;
  JsonArray *channels;
  const char *address = NULL;

  /* New One-Time Address as QR, from the tray: the agent makes the
   * channel and has the app show it. */
  item = menu_client_find (f->host, AGENT_NAME, "New One-Time Address as _QR", NULL);
  g_assert_cmpint (item, >, 0);
  menu_client_click (f->host, AGENT_NAME, item);
  state = app_wait (f, app_shows_qr, NULL, "a QR code");

  /* The one new channel, as posternctl knows it. */
  g_assert_cmpint (test_ctl (NULL, &out, NULL, "list", "--json", NULL), ==, 0);
  wrapped = g_strdup_printf ("{\"channels\": %s}", out);
  list = parse_object (wrapped);
  channels = json_object_get_array_member (list, "channels");
  g_assert_cmpuint (json_array_get_length (channels), ==, 1);
  address = json_object_get_string_member (json_array_get_object_element (channels, 0), "address");
  g_assert_cmpstr (json_object_get_string_member (json_array_get_object_element (channels, 0), "kind"), ==, "one-time");
  mailto = g_strconcat ("mailto:", address, NULL);

  /* What is on the screen decodes to that address's mailto:. */
  test_spin_for (500); /* the last frame reaches the X server */
  g_assert_cmpint (run_tool (f, import, NULL), ==, 0);
  g_assert_cmpint (run_tool (f, zbarimg, &decoded), ==, 0);
  g_assert_cmpstr (g_strstrip (decoded), ==, mailto);
}

/* ---- path 4: New Address from the tray lands on the clipboard ------------ */

static void
test_new_address_copy (Fixture *f,
                       gconstpointer data)
{
  g_autofree char *out = NULL;
  g_autofree char *wrapped = NULL;
  g_autoptr (JsonObject) list = NULL;
  const char *xclip[] = { "xclip", "-o", "-selection", "clipboard", NULL };
  const char *address;
  JsonArray *channels;
  gint64 deadline;
  int item;

  /* On Wayland only a focused window may set the clipboard, so the agent
   * makes the channel and asks the app to copy it. */
  item = menu_client_find (f->host, AGENT_NAME, "_New Address", NULL);
  g_assert_cmpint (item, >, 0);
  menu_client_click (f->host, AGENT_NAME, item);

  deadline = g_get_monotonic_time () + E2E_WAIT_MS * G_TIME_SPAN_MILLISECOND;
  do
    {
      g_clear_pointer (&out, g_free);
      g_clear_pointer (&wrapped, g_free);
      g_clear_pointer (&list, json_object_unref);
      test_spin_for (100);
      g_assert_cmpint (test_ctl (NULL, &out, NULL, "list", "--json", NULL), ==, 0);
      wrapped = g_strdup_printf ("{\"channels\": %s}", out);
      list = parse_object (wrapped);
      channels = json_object_get_array_member (list, "channels");
    }
  while (json_array_get_length (channels) == 0 && g_get_monotonic_time () < deadline);
  g_assert_cmpuint (json_array_get_length (channels), ==, 1);
  address = json_object_get_string_member (json_array_get_object_element (channels, 0), "address");

  /* The app put it on the clipboard. */
  for (;;)
    {
      g_autofree char *clipboard = NULL;

      run_tool (f, xclip, &clipboard);
      if (g_strcmp0 (g_strstrip (clipboard), address) == 0)
        break;
      if (g_get_monotonic_time () > deadline)
        g_error ("the clipboard holds \"%s\", not the new address %s", clipboard, address);
      test_spin_for (200);
    }
}

int
main (int argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add ("/postern/e2e/alert-revoke", Fixture, NULL, fixture_set_up, test_alert_revoke, fixture_tear_down);
  g_test_add ("/postern/e2e/tray-revoke", Fixture, NULL, fixture_set_up, test_tray_revoke, fixture_tear_down);
  g_test_add ("/postern/e2e/new-address-qr", Fixture, NULL, fixture_set_up, test_new_address_qr, fixture_tear_down);
  g_test_add ("/postern/e2e/new-address-copy", Fixture, NULL, fixture_set_up, test_new_address_copy, fixture_tear_down);

  return g_test_run ();
}
