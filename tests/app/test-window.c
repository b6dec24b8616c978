/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <errno.h>
#include <glib-unix.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <string.h>
#include <unistd.h>

#include "postern-core.h"
#include "test-harness.h"

/*
 * The real app in a real window: Xvfb, the private session bus and the
 * unlocked gnome-keyring of tests/desktop-session.sh, a real posternd on
 * loopback and a real postern-agent paired with it. The test drives the
 * window through the app's actions over D-Bus (org.gtk.Actions: what a
 * click or a shortcut triggers), reads what it shows through the test
 * hooks (POSTERN_TEST_HOOKS=1), takes screenshots with ImageMagick, decodes
 * the QR code in them with zbarimg and reads the clipboard with xclip.
 * Screenshots stay in the build directory (tests/app/screenshots/).
 */

#define USER          "alice"
#define WAIT_MS       20000
#define TOOL_TIMEOUT  15000
#define SHOT_DIR_NAME "screenshots"

typedef struct
{
  TestServer *server;
  TestAgent *agent;
  GSubprocess *xvfb;
  char *display;
  GSubprocess *app;
  GDBusConnection *bus;
  char *app_path;
  char *dir;
} Fixture;

static const char *
required_env (const char *name)
{
  const char *value = g_getenv (name);

  if (value == NULL || *value == '\0')
    g_error ("%s is not set: run this test through meson (tests/app/meson.build)", name);
  return value;
}

static void
require_tool (const char *tool)
{
  g_autofree char *path = g_find_program_in_path (tool);

  if (path == NULL)
    g_error ("%s is not installed; the window test needs it (see ../shared/notes/desktop-testing.md)", tool);
}

/* ---- processes ------------------------------------------------------------ */

typedef struct
{
  gboolean done;
  char *out;
  char *err;
  GError *error;
} Communicated;

static void
communicate_cb (GObject *source,
                GAsyncResult *result,
                gpointer user_data)
{
  Communicated *c = user_data;

  g_subprocess_communicate_utf8_finish (G_SUBPROCESS (source), result, &c->out, &c->err, &c->error);
  c->done = TRUE;
}

/* Runs @argv with DISPLAY set to the test's X server, bounded in time;
 * returns the exit status (-1 on timeout, after killing it). */
static int
run_tool (Fixture *fixture,
          const char *const *argv,
          char **out_stdout)
{
  g_autoptr (GSubprocessLauncher) launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE);
  g_autoptr (GSubprocess) process = NULL;
  g_autoptr (GError) error = NULL;
  Communicated c = { 0 };

  g_subprocess_launcher_setenv (launcher, "DISPLAY", fixture->display, TRUE);
  process = g_subprocess_launcher_spawnv (launcher, argv, &error);
  g_assert_no_error (error);

  g_subprocess_communicate_utf8_async (process, NULL, NULL, communicate_cb, &c);
  if (!test_spin_until (&c.done, TOOL_TIMEOUT))
    {
      g_subprocess_force_exit (process);
      test_spin_until (&c.done, TOOL_TIMEOUT);
      g_free (c.out);
      g_free (c.err);
      g_clear_error (&c.error);
      return -1;
    }

  g_assert_no_error (c.error);
  if (c.err != NULL && *c.err != '\0')
    g_test_message ("%s: %s", argv[0], c.err);
  if (out_stdout != NULL)
    *out_stdout = g_steal_pointer (&c.out);
  g_free (c.out);
  g_free (c.err);

  return g_subprocess_get_if_exited (process) ? g_subprocess_get_exit_status (process) : -1;
}

/* If the test dies on a failed assertion, what it started goes too (and
 * stops holding meson's output pipe). */
static void
die_with_parent_cb (gpointer user_data)
{
  prctl (PR_SET_PDEATHSIG, SIGTERM);
}

/* Starts Xvfb on a display it picks itself (-displayfd), so parallel tests
 * never collide. */
static void
start_xvfb (Fixture *fixture)
{
  g_autoptr (GSubprocessLauncher) launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDERR_SILENCE);
  g_autoptr (GError) error = NULL;
  const char *argv[] = { "Xvfb", "-displayfd", "3", "-screen", "0", "1024x768x24", "-nolisten", "tcp", NULL };
  int fds[2];
  char buffer[32] = { 0 };
  gsize got = 0;
  gint64 deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;

  g_assert_true (g_unix_open_pipe (fds, FD_CLOEXEC, &error));
  g_subprocess_launcher_take_fd (launcher, fds[1], 3);
  g_subprocess_launcher_set_child_setup (launcher, die_with_parent_cb, NULL, NULL);
  fixture->xvfb = g_subprocess_launcher_spawnv (launcher, argv, &error);
  g_assert_no_error (error);

  /* Xvfb writes the display number and a newline once it is ready. */
  while (got < sizeof buffer - 1 && strchr (buffer, '\n') == NULL)
    {
      struct pollfd pfd = { .fd = fds[0], .events = POLLIN };
      int remaining = (int)((deadline - g_get_monotonic_time ()) / 1000);
      gssize n;

      g_assert_cmpint (remaining, >, 0);
      if (poll (&pfd, 1, remaining) <= 0)
        continue;
      n = read (fds[0], buffer + got, sizeof buffer - 1 - got);
      g_assert_cmpint (n, >, 0);
      got += n;
    }
  close (fds[0]);

  g_strstrip (buffer);
  g_assert_true (g_ascii_isdigit (buffer[0]));
  fixture->display = g_strdup_printf (":%s", buffer);
}

static gboolean
app_on_bus (gpointer user_data)
{
  Fixture *fixture = user_data;
  g_autoptr (GVariant) reply = NULL;
  gboolean has = FALSE;

  reply = g_dbus_connection_call_sync (fixture->bus, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                       "org.freedesktop.DBus", "NameHasOwner", g_variant_new ("(s)", APP_ID),
                                       G_VARIANT_TYPE ("(b)"), G_DBUS_CALL_FLAGS_NONE, 5000, NULL, NULL);
  if (reply != NULL)
    g_variant_get (reply, "(b)", &has);
  return has;
}

static void
start_app (Fixture *fixture)
{
  g_autoptr (GSubprocessLauncher) launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_NONE);
  g_autoptr (GError) error = NULL;
  const char *argv[] = { required_env ("POSTERN_TEST_APP"), NULL };

  g_subprocess_launcher_setenv (launcher, "DISPLAY", fixture->display, TRUE);
  g_subprocess_launcher_setenv (launcher, "GDK_BACKEND", "x11", TRUE);
  g_subprocess_launcher_setenv (launcher, "GTK_A11Y", "none", TRUE);
  g_subprocess_launcher_setenv (launcher, "GSK_RENDERER", "cairo", TRUE);
  g_subprocess_launcher_setenv (launcher, "NO_AT_BRIDGE", "1", TRUE);
  g_subprocess_launcher_setenv (launcher, "GSETTINGS_BACKEND", "memory", TRUE);
  g_subprocess_launcher_setenv (launcher, "GSETTINGS_SCHEMA_DIR", required_env ("POSTERN_TEST_SCHEMA_DIR"), TRUE);
  g_subprocess_launcher_setenv (launcher, "POSTERN_TEST_HOOKS", "1", TRUE);
  g_subprocess_launcher_set_child_setup (launcher, die_with_parent_cb, NULL, NULL);
  g_subprocess_launcher_setenv (launcher, "LANGUAGE", "C", TRUE);
  g_subprocess_launcher_setenv (launcher, "LC_ALL", "C.UTF-8", TRUE);
  /* GDK 4.8 probes EGL when it opens an X11 display even with the cairo
   * renderer; Mesa then keeps allocations LeakSanitizer reports from a
   * dlclosed driver. The window needs no GL. */
  g_subprocess_launcher_setenv (launcher, "GDK_DEBUG", "gl-disable", TRUE);

  fixture->app = g_subprocess_launcher_spawnv (launcher, argv, &error);
  g_assert_no_error (error);
  g_assert_true (test_wait_for (app_on_bus, fixture, WAIT_MS));
}

/* Runs `postern URI` as a second instance, as a click on a postern: link
 * does (the desktop file's x-scheme-handler): it hands the URI to the
 * running app and exits. */
static void
open_uri (Fixture *fixture,
          const char *uri)
{
  g_autoptr (GSubprocessLauncher) launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_NONE);
  g_autoptr (GSubprocess) process = NULL;
  g_autoptr (GError) error = NULL;
  const char *argv[] = { required_env ("POSTERN_TEST_APP"), uri, NULL };

  g_subprocess_launcher_setenv (launcher, "DISPLAY", fixture->display, TRUE);
  g_subprocess_launcher_setenv (launcher, "GDK_BACKEND", "x11", TRUE);
  g_subprocess_launcher_setenv (launcher, "GDK_DEBUG", "gl-disable", TRUE);
  g_subprocess_launcher_setenv (launcher, "GSETTINGS_SCHEMA_DIR", required_env ("POSTERN_TEST_SCHEMA_DIR"), TRUE);
  process = g_subprocess_launcher_spawnv (launcher, argv, &error);
  g_assert_no_error (error);
  g_assert_cmpint (test_subprocess_wait (process, WAIT_MS), ==, 0);
}

/* ---- the app's actions and state ----------------------------------------- */

static void
app_action (Fixture *fixture,
            const char *name,
            GVariant *parameter)
{
  g_autoptr (GVariant) reply = NULL;
  g_autoptr (GError) error = NULL;
  GVariantBuilder params;

  g_variant_builder_init (&params, G_VARIANT_TYPE ("av"));
  if (parameter != NULL)
    g_variant_builder_add (&params, "v", parameter);

  reply = g_dbus_connection_call_sync (fixture->bus, APP_ID, fixture->app_path, "org.gtk.Actions", "Activate",
                                       g_variant_new ("(sava{sv})", name, &params, NULL),
                                       NULL, G_DBUS_CALL_FLAGS_NONE, WAIT_MS, NULL, &error);
  g_assert_no_error (error);
}

static JsonObject *
dump (Fixture *fixture)
{
  g_autofree char *path = g_build_filename (fixture->dir, "state.json", NULL);
  g_autofree char *text = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonNode) root = NULL;

  g_unlink (path);
  app_action (fixture, "test-dump", g_variant_new_string (path));
  g_assert_true (g_file_get_contents (path, &text, NULL, &error));
  root = json_from_string (text, &error);
  g_assert_no_error (error);
  g_assert_true (JSON_NODE_HOLDS_OBJECT (root));

  return json_object_ref (json_node_get_object (root));
}

/* The first window object of @type in a dump, or NULL. */
static JsonObject *
find_window (JsonObject *state,
             const char *type)
{
  JsonArray *windows = json_object_get_array_member (state, "windows");

  for (guint i = 0; i < json_array_get_length (windows); i++)
    {
      JsonObject *window = json_array_get_object_element (windows, i);

      if (g_str_equal (json_object_get_string_member (window, "type"), type))
        return window;
    }

  return NULL;
}

static JsonObject *
find_row (JsonObject *state,
          const char *id)
{
  JsonArray *rows = json_object_get_array_member (state, "rows");

  for (guint i = 0; i < json_array_get_length (rows); i++)
    {
      JsonObject *row = json_array_get_object_element (rows, i);

      if (g_str_equal (json_object_get_string_member (row, "id"), id))
        return row;
    }

  return NULL;
}

typedef gboolean (*StateCheck) (JsonObject *state,
                                gconstpointer data);

/* Dumps every 100 ms until @check holds; returns the last state. */
static JsonObject *
wait_state (Fixture *fixture,
            StateCheck check,
            gconstpointer data,
            const char *what)
{
  gint64 deadline = g_get_monotonic_time () + (gint64)WAIT_MS * 1000;

  for (;;)
    {
      JsonObject *state = dump (fixture);

      if (check (state, data))
        return state;
      if (g_get_monotonic_time () >= deadline)
        {
          g_autoptr (JsonNode) node = json_node_init_object (json_node_alloc (), state);
          g_autofree char *text = json_to_string (node, TRUE);

          json_object_unref (state);
          g_error ("Timed out waiting for %s; the app shows:\n%s", what, text);
        }
      json_object_unref (state);
      test_spin_for (100);
    }
}

/* @data: the agent's connection state to wait for. */
static gboolean
ready_check (JsonObject *state,
             gconstpointer data)
{
  JsonObject *window = find_window (state, "PosternWindow");

  if (!json_object_get_boolean_member (state, "loaded") || window == NULL)
    return FALSE;
  if (g_strcmp0 (json_object_get_string_member (state, "connection"), data) != 0)
    return FALSE;
  return g_strcmp0 (json_object_get_string_member (window, "list_page"), "loading") != 0;
}

static gboolean
created_check (JsonObject *state,
               gconstpointer data)
{
  JsonObject *dialog = find_window (state, "PosternNewChannelDialog");

  return dialog != NULL && g_strcmp0 (json_object_get_string_member (dialog, "page"), "done") == 0 && *json_object_get_string_member (dialog, "address") != '\0';
}

static gboolean
dialog_open_check (JsonObject *state,
                   gconstpointer data)
{
  return find_window (state, data) != NULL;
}

static gboolean
dialog_closed_check (JsonObject *state,
                     gconstpointer data)
{
  return find_window (state, data) == NULL;
}

static gboolean
current_check (JsonObject *state,
               gconstpointer id)
{
  JsonObject *window = find_window (state, "PosternWindow");

  return window != NULL && g_strcmp0 (json_object_get_string_member (window, "current"), id) == 0;
}

static gboolean
shares_check (JsonObject *state,
              gconstpointer data)
{
  JsonObject *window = find_window (state, "PosternWindow");

  return window != NULL && json_object_get_int_member (window, "detail_shares") >= 1;
}

static gboolean
revoked_check (JsonObject *state,
               gconstpointer id)
{
  JsonObject *row = find_row (state, id);

  return row != NULL && g_strcmp0 (json_object_get_string_member (row, "state"), "revoked") == 0;
}

static gboolean
pairing_page_check (JsonObject *state,
                    gconstpointer page)
{
  JsonObject *dialog = find_window (state, "PosternPairingDialog");

  return dialog != NULL && g_strcmp0 (json_object_get_string_member (dialog, "page"), page) == 0 && (!g_str_equal (page, "verify") || *json_object_get_string_member (dialog, "fingerprint") != '\0');
}

static gboolean
paired_check (JsonObject *state,
              gconstpointer data)
{
  JsonObject *window = find_window (state, "PosternWindow");

  return find_window (state, "PosternPairingDialog") == NULL && g_strcmp0 (json_object_get_string_member (state, "connection"), "online") == 0 && window != NULL && g_strcmp0 (json_object_get_string_member (window, "list_page"), "empty") == 0;
}

typedef struct
{
  const char *id;
  const char *state;
} RowState;

static gboolean
state_check (JsonObject *state,
             gconstpointer data)
{
  const RowState *want = data;
  JsonObject *row = find_row (state, want->id);

  return row != NULL && g_strcmp0 (json_object_get_string_member (row, "state"), want->state) == 0;
}

static gboolean
row_check (JsonObject *state,
           gconstpointer id)
{
  return find_row (state, id) != NULL;
}

static gboolean
alert_check (JsonObject *state,
             gconstpointer id)
{
  JsonObject *row = find_row (state, id);

  return row != NULL && json_object_get_int_member (row, "unread_alerts") >= 1;
}

/* ---- screen, QR, clipboard ----------------------------------------------- */

static char *
screenshot (Fixture *fixture,
            const char *name)
{
  g_autofree char *dir = g_build_filename (g_getenv ("G_TEST_BUILDDIR") != NULL ? g_getenv ("G_TEST_BUILDDIR") : ".",
                                           "app", SHOT_DIR_NAME, NULL);
  g_autofree char *file = g_strdup_printf ("%s.png", name);
  char *path = g_build_filename (dir, file, NULL);
  const char *argv[] = { "import", "-window", "root", path, NULL };

  g_assert_cmpint (g_mkdir_with_parents (dir, 0755), ==, 0);
  /* Let the last frame reach the X server. */
  test_spin_for (400);
  g_assert_cmpint (run_tool (fixture, argv, NULL), ==, 0);
  g_test_message ("screenshot: %s", path);

  return path;
}

/* The distinct payloads zbarimg finds in @path. */
static char **
decode_qr (Fixture *fixture,
           const char *path)
{
  const char *argv[] = { "zbarimg", "--nodbus", "-q", "--raw", path, NULL };
  g_autofree char *out = NULL;

  /* zbarimg exits 4 when it finds nothing. */
  run_tool (fixture, argv, &out);
  g_strstrip (out);

  return g_strsplit (out, "\n", -1);
}

static char *
read_clipboard (Fixture *fixture)
{
  const char *argv[] = { "xclip", "-o", "-selection", "clipboard", NULL };
  char *out = NULL;

  g_assert_cmpint (run_tool (fixture, argv, &out), ==, 0);
  return out;
}

/* ---- agent helpers ---------------------------------------------------------- */

static guint
agent_pending (Fixture *fixture)
{
  g_autoptr (GVariant) status = NULL;
  g_autoptr (GError) error = NULL;
  guint32 pending = 0;

  postern_dbus_agent1_call_get_status_sync (fixture->agent->proxy, &status, NULL, &error);
  g_assert_no_error (error);
  g_variant_lookup (status, "pending", "u", &pending);
  return pending;
}

static gboolean
synced_check (gpointer user_data)
{
  return agent_pending (user_data) == 0;
}

/* Pairs through the agent's D-Bus API, as the app's pairing dialog does. */
static void
pair (Fixture *fixture)
{
  g_autofree char *uri = test_server_pair_uri (fixture->server, USER);
  g_autoptr (GVariant) status = NULL;
  g_autoptr (GError) error = NULL;

  g_dbus_proxy_set_default_timeout (G_DBUS_PROXY (fixture->agent->proxy), WAIT_MS);
  postern_dbus_agent1_call_pair_sync (fixture->agent->proxy, uri, "", "", "test-window", &status, NULL, &error);
  g_assert_no_error (error);
}

static gboolean
read_check (JsonObject *state,
            gconstpointer id)
{
  JsonObject *row = find_row (state, id);

  return current_check (state, id) && row != NULL && json_object_get_int_member (row, "unread_alerts") == 0;
}

typedef struct
{
  Fixture *fixture;
  const char *id;
  const char *sender;
} ExpectsCheck;

/* Whether the agent's copy of the channel expects the sender. */
static gboolean
expects_check (gpointer user_data)
{
  ExpectsCheck *check = user_data;
  g_autofree char *json = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonNode) node = NULL;
  g_autoptr (PosternChannel) channel = NULL;
  g_autoptr (PosternMailbox) sender = postern_mailbox_parse (check->sender, -1, NULL);

  postern_dbus_agent1_call_get_channel_sync (check->fixture->agent->proxy, check->id, &json, NULL, &error);
  g_assert_no_error (error);
  node = postern_json_from_string (json, -1, &error);
  g_assert_no_error (error);
  channel = postern_channel_new_from_json (node, &error);
  g_assert_no_error (error);
  return postern_channel_expects (channel, sender);
}

/* Whether the agent's copy of the channel expires in about a day. */
static gboolean
expires_check (gpointer user_data)
{
  ExpectsCheck *check = user_data;
  g_autofree char *json = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonNode) node = NULL;
  g_autoptr (PosternChannel) channel = NULL;
  gint64 in_a_day = g_get_real_time () / G_USEC_PER_SEC + 86400;

  postern_dbus_agent1_call_get_channel_sync (check->fixture->agent->proxy, check->id, &json, NULL, &error);
  g_assert_no_error (error);
  node = postern_json_from_string (json, -1, &error);
  g_assert_no_error (error);
  channel = postern_channel_new_from_json (node, &error);
  g_assert_no_error (error);
  return ABS (postern_channel_get_expires_at (channel) - in_a_day) < 120;
}

static gboolean
not_expects_check (gpointer user_data)
{
  return !expects_check (user_data);
}

typedef struct
{
  Fixture *fixture;
  const char *id;
  const char *verdict;
} VerdictCheck;

/* Whether the channel's newest event has the verdict. */
static gboolean
latest_verdict_check (gpointer user_data)
{
  VerdictCheck *check = user_data;
  g_autofree char *json = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonNode) node = NULL;
  g_autoptr (PosternEvent) event = NULL;
  JsonArray *events;

  postern_dbus_agent1_call_list_events_sync (check->fixture->agent->proxy, check->id, 1, &json, NULL, &error);
  g_assert_no_error (error);
  node = postern_json_from_string (json, -1, &error);
  g_assert_no_error (error);
  events = json_node_get_array (node);
  if (json_array_get_length (events) == 0)
    return FALSE;
  event = postern_event_new_from_json (json_array_get_element (events, 0), &error);
  g_assert_no_error (error);
  return g_strcmp0 (postern_verdict_to_string (postern_event_get_verdict (event)), check->verdict) == 0 && g_strcmp0 (postern_event_get_subject (event), "Now expected") == 0;
}

/* ---- fixture ----------------------------------------------------------------- */

static void
fixture_setup (Fixture *fixture,
               gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  JsonObject *state;

  require_tool ("Xvfb");
  require_tool ("import");
  require_tool ("zbarimg");
  require_tool ("xclip");

  fixture->dir = g_dir_make_tmp ("postern-app-test-XXXXXX", &error);
  g_assert_no_error (error);
  fixture->bus = g_bus_get_sync (G_BUS_TYPE_SESSION, NULL, &error);
  g_assert_no_error (error);
  fixture->app_path = g_strdelimit (g_strdup_printf ("/%s", APP_ID), ".", '/');

  fixture->server = test_server_new (USER);
  test_server_start (fixture->server);
  fixture->agent = test_agent_start ();
  if (data == NULL)
    {
      pair (fixture);
      g_assert_true (test_agent_wait_connection (fixture->agent, "online", WAIT_MS));
    }
  else
    {
      /* The keyring outlives each test: forget an earlier test's pairing. */
      postern_dbus_agent1_call_unpair_sync (fixture->agent->proxy, NULL, &error);
      g_assert_no_error (error);
      g_assert_true (test_agent_wait_connection (fixture->agent, data, WAIT_MS));
    }

  start_xvfb (fixture);
  start_app (fixture);
  state = wait_state (fixture, ready_check, data != NULL ? data : "online", "the app to show the agent's state");
  json_object_unref (state);
}

static void
fixture_teardown (Fixture *fixture,
                  gconstpointer data)
{
  if (fixture->app != NULL)
    {
      /* Quit through the app's own action: a clean exit (status 0) also
       * means no leak report from LeakSanitizer. */
      app_action (fixture, "quit", NULL);
      g_assert_cmpint (test_subprocess_wait (fixture->app, WAIT_MS), ==, 0);
      g_clear_object (&fixture->app);
    }
  if (fixture->xvfb != NULL)
    {
      g_subprocess_send_signal (fixture->xvfb, SIGTERM);
      test_subprocess_wait (fixture->xvfb, WAIT_MS);
      g_clear_object (&fixture->xvfb);
    }
  g_clear_pointer (&fixture->agent, test_agent_stop);
  if (fixture->server != NULL)
    {
      test_server_stop (fixture->server);
      g_clear_pointer (&fixture->server, test_server_free);
    }
  g_clear_object (&fixture->bus);
  if (fixture->dir != NULL)
    {
      g_autofree char *state = g_build_filename (fixture->dir, "state.json", NULL);

      g_unlink (state);
      g_rmdir (fixture->dir);
    }
  g_free (fixture->dir);
  g_free (fixture->display);
  g_free (fixture->app_path);
}

/* ---- tests ------------------------------------------------------------------- */

static void
test_new_channel_qr_clipboard_revoke (Fixture *fixture,
                                      gconstpointer data)
{
  JsonObject *state;
  JsonObject *dialog;
  g_autofree char *address = NULL;
  g_autofree char *id = NULL;
  g_autofree char *mailto = NULL;
  g_autofree char *shot = NULL;
  g_autofree char *clipboard = NULL;
  g_auto (GStrv) codes = NULL;
  gboolean found = FALSE;

  /* Ctrl+N's action, with the label a user would type. */
  app_action (fixture, "new-channel", g_variant_new_string ("Recruiter at FOSDEM"));
  state = wait_state (fixture, dialog_open_check, "PosternNewChannelDialog", "the new-channel dialog");
  json_object_unref (state);

  /* The dialog's Create button. */
  app_action (fixture, "test-activate", g_variant_new_string ("new-channel.create"));
  state = wait_state (fixture, created_check, NULL, "the created address");
  dialog = find_window (state, "PosternNewChannelDialog");
  address = g_strdup (json_object_get_string_member (dialog, "address"));
  id = g_strdup (json_object_get_string_member (dialog, "id"));
  mailto = postern_qr_build_mailto (address, NULL);
  g_assert_cmpstr (json_object_get_string_member (dialog, "qr"), ==, mailto);
  g_assert_true (g_str_has_suffix (address, "@ch.postern.test"));
  /* The big address wraps, but an address never gets a hyphen Pango put
   * in: "ch.postern.t-est" is a different domain. */
  g_test_message ("new-channel address: %" G_GINT64_FORMAT " lines", json_object_get_int_member (dialog, "address_lines"));
  g_assert_cmpint (json_object_get_int_member (dialog, "address_lines"), >=, 2);
  g_assert_cmpint (json_object_get_int_member (dialog, "address_hyphens"), ==, 0);
  json_object_unref (state);

  /* What the screen shows decodes to the new address's mailto: URI, and
   * nothing else does. */
  shot = screenshot (fixture, "new-channel");
  codes = decode_qr (fixture, shot);
  for (guint i = 0; codes[i] != NULL; i++)
    {
      if (*codes[i] == '\0')
        continue;
      g_assert_cmpstr (codes[i], ==, mailto);
      found = TRUE;
    }
  g_assert_true (found);

  /* Create copied the address. */
  clipboard = read_clipboard (fixture);
  g_assert_cmpstr (clipboard, ==, address);

  /* Done closes the dialog; the window shows the new channel. */
  app_action (fixture, "test-activate", g_variant_new_string ("window.close"));
  state = wait_state (fixture, dialog_closed_check, "PosternNewChannelDialog", "the dialog to close");
  json_object_unref (state);
  state = wait_state (fixture, current_check, id, "the new channel in the window");
  g_assert_nonnull (find_row (state, id));
  g_assert_cmpstr (json_object_get_string_member (find_window (state, "PosternWindow"), "detail_qr"), ==, mailto);
  g_assert_cmpint (json_object_get_int_member (find_window (state, "PosternWindow"), "detail_address_hyphens"), ==, 0);
  json_object_unref (state);
  g_free (screenshot (fixture, "main-window"));

  /* Copying it from the window records a share in its timeline. */
  app_action (fixture, "copy-address", g_variant_new_string (id));
  state = wait_state (fixture, shares_check, NULL, "the share in the timeline");
  json_object_unref (state);
  g_free (clipboard);
  clipboard = read_clipboard (fixture);
  g_assert_cmpstr (clipboard, ==, address);

  /* Mail from the recruiter arrives once the server has the channel. */
  g_assert_true (test_wait_for (synced_check, fixture, WAIT_MS));
  g_assert_cmpint (test_smtp_send (fixture->server->smtp_port, "jane@recruit.example", address, "Hello"), ==, 250);

  /* Pause (Ctrl+P): senders are told to retry later; Resume. */
  app_action (fixture, "test-activate", g_variant_new_string ("channel.pause"));
  state = wait_state (fixture, state_check, &(RowState){ id, "paused" }, "the channel to show as paused");
  json_object_unref (state);
  g_assert_true (test_wait_for (synced_check, fixture, WAIT_MS));
  g_assert_cmpint (test_smtp_send (fixture->server->smtp_port, "jane@recruit.example", address, "Paused?"), ==, 450);
  app_action (fixture, "test-activate", g_variant_new_string ("channel.resume"));
  state = wait_state (fixture, state_check, &(RowState){ id, "active" }, "the channel to show as active");
  json_object_unref (state);
  g_assert_true (test_wait_for (synced_check, fixture, WAIT_MS));
  g_assert_cmpint (test_smtp_send (fixture->server->smtp_port, "jane@recruit.example", address, "Resumed"), ==, 250);

  /* Revoke through the window: the destructive confirmation first. */
  app_action (fixture, "test-activate", g_variant_new_string ("channel.revoke"));
  state = wait_state (fixture, dialog_open_check, "AdwMessageDialog", "the revoke confirmation");
  g_assert_cmpstr (json_object_get_string_member (find_window (state, "AdwMessageDialog"), "heading"), ==, "Revoke Channel?");
  json_object_unref (state);
  g_free (screenshot (fixture, "revoke-confirmation"));
  app_action (fixture, "test-respond", g_variant_new_string ("revoke"));
  state = wait_state (fixture, revoked_check, id, "the channel to show as revoked");
  json_object_unref (state);

  /* The server now refuses mail to it in the SMTP session. */
  g_assert_true (test_wait_for (synced_check, fixture, WAIT_MS));
  g_assert_cmpint (test_smtp_send (fixture->server->smtp_port, "jane@recruit.example", address, "Again"), ==, 550);
  g_free (screenshot (fixture, "revoked"));
}

static void
test_alert_in_list (Fixture *fixture,
                    gconstpointer data)
{
  g_auto (GVariantBuilder) options = G_VARIANT_BUILDER_INIT (G_VARIANT_TYPE_VARDICT);
  g_autofree char *json = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonNode) node = NULL;
  g_autoptr (PosternChannel) channel = NULL;
  g_autofree char *trust = NULL;
  g_autofree char *untrust = NULL;
  g_autofree char *block = NULL;
  JsonObject *state;
  const char *id;

  /* A channel that expects one sender, made elsewhere (posternctl, tray). */
  g_variant_builder_add (&options, "{sv}", "label", g_variant_new_string ("Bike shop"));
  g_variant_builder_add (&options, "{sv}", "kind", g_variant_new_string ("relationship"));
  g_variant_builder_add (&options, "{sv}", "expected_sender", g_variant_new_string ("shop@velo.example"));
  postern_dbus_agent1_call_create_channel_sync (fixture->agent->proxy, g_variant_builder_end (&options), &json, NULL, &error);
  g_assert_no_error (error);
  node = postern_json_from_string (json, -1, &error);
  g_assert_no_error (error);
  channel = postern_channel_new_from_json (node, &error);
  g_assert_no_error (error);
  id = postern_channel_get_id (channel);

  state = wait_state (fixture, row_check, id, "the channel in the list");
  g_assert_cmpint (json_object_get_int_member (find_row (state, id), "unread_alerts"), ==, 0);
  json_object_unref (state);
  g_assert_true (test_wait_for (synced_check, fixture, WAIT_MS));

  /* The expected sender raises nothing; a stranger raises an alert. */
  g_assert_cmpint (test_smtp_send (fixture->server->smtp_port, "shop@velo.example", postern_channel_get_address (channel), "Your bike"), ==, 250);
  g_assert_cmpint (test_smtp_send (fixture->server->smtp_port, "leak@spam.example", postern_channel_get_address (channel), "Cheap watches"), ==, 250);

  state = wait_state (fixture, alert_check, id, "an alert on the channel's row");
  g_assert_cmpint (json_object_get_int_member (find_row (state, id), "unread_alerts"), ==, 1);
  json_object_unref (state);
  g_free (screenshot (fixture, "alert"));

  /* Opening the channel reads its alert; the timeline offers Trust. */
  app_action (fixture, "show-channel", g_variant_new_string (id));
  state = wait_state (fixture, read_check, id, "the alert to be read");
  json_object_unref (state);
  g_free (screenshot (fixture, "alert-detail"));

  /* Trust sender, from the unexpected event's row: the stranger becomes
   * expected, and its next message raises nothing. */
  trust = g_strdup_printf ("detail.trust-sender('%s')", "leak@spam.example");
  app_action (fixture, "test-activate", g_variant_new_string (trust));
  g_assert_true (test_wait_for (expects_check, &(ExpectsCheck){ fixture, id, "leak@spam.example" }, WAIT_MS));
  g_assert_true (test_wait_for (synced_check, fixture, WAIT_MS));
  g_assert_cmpint (test_smtp_send (fixture->server->smtp_port, "leak@spam.example", postern_channel_get_address (channel), "Now expected"), ==, 250);
  g_assert_true (test_wait_for (latest_verdict_check, &(VerdictCheck){ fixture, id, "expected" }, WAIT_MS));

  /* Its row in Expected Senders removes it again. */
  untrust = g_strdup_printf ("detail.untrust-sender('%s')", "leak@spam.example");
  app_action (fixture, "test-activate", g_variant_new_string (untrust));
  g_assert_true (test_wait_for (not_expects_check, &(ExpectsCheck){ fixture, id, "leak@spam.example" }, WAIT_MS));

  /* Block sender on this channel: refused in the SMTP session. */
  block = g_strdup_printf ("detail.block(('%s', '%s'))", "pest@spam.example", id);
  app_action (fixture, "test-activate", g_variant_new_string (block));
  test_spin_for (500);
  g_assert_true (test_wait_for (synced_check, fixture, WAIT_MS));
  g_assert_cmpint (test_smtp_send (fixture->server->smtp_port, "pest@spam.example", postern_channel_get_address (channel), "Blocked"), ==, 550);

  /* Expiry presets: in a day. */
  app_action (fixture, "test-activate", g_variant_new_string ("detail.set-expiry(int64 86400)"));
  g_assert_true (test_wait_for (expires_check, &(ExpectsCheck){ fixture, id, NULL }, WAIT_MS));
}

static PosternChannel *
create_channel (Fixture *fixture,
                const char *label,
                const char *expected_sender)
{
  g_auto (GVariantBuilder) options = G_VARIANT_BUILDER_INIT (G_VARIANT_TYPE_VARDICT);
  g_autofree char *json = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonNode) node = NULL;
  PosternChannel *channel;

  g_variant_builder_add (&options, "{sv}", "label", g_variant_new_string (label));
  g_variant_builder_add (&options, "{sv}", "kind", g_variant_new_string ("relationship"));
  g_variant_builder_add (&options, "{sv}", "expected_sender", g_variant_new_string (expected_sender));
  postern_dbus_agent1_call_create_channel_sync (fixture->agent->proxy, g_variant_builder_end (&options), &json, NULL, &error);
  g_assert_no_error (error);
  node = postern_json_from_string (json, -1, &error);
  g_assert_no_error (error);
  channel = postern_channel_new_from_json (node, &error);
  g_assert_no_error (error);
  return channel;
}

typedef struct
{
  const char *a;
  gint64 a_unread;
  const char *b;
  gint64 b_unread;
} UnreadCheck;

static gboolean
unread_check (JsonObject *state,
              gconstpointer data)
{
  const UnreadCheck *check = data;
  JsonObject *a = find_row (state, check->a);
  JsonObject *b = find_row (state, check->b);

  return a != NULL && b != NULL && json_object_get_int_member (a, "unread_alerts") == check->a_unread && json_object_get_int_member (b, "unread_alerts") == check->b_unread;
}

/* Unread alerts are counted per channel by the agent, not guessed by the
 * app from the account's count: they stay on the right channel when
 * another channel's alert is read, also after the app restarts. */
static void
test_unread_per_channel (Fixture *fixture,
                         gconstpointer data)
{
  g_autoptr (PosternChannel) shop = create_channel (fixture, "Shop", "shop@velo.example");
  g_autoptr (PosternChannel) bank = create_channel (fixture, "Bank", "bank@money.example");
  const char *shop_id = postern_channel_get_id (shop);
  const char *bank_id = postern_channel_get_id (bank);
  JsonObject *state;

  state = wait_state (fixture, unread_check, &(UnreadCheck){ shop_id, 0, bank_id, 0 }, "both channels, no alerts");
  json_object_unref (state);
  g_assert_true (test_wait_for (synced_check, fixture, WAIT_MS));

  /* A stranger mails the shop: only the shop's row shows it. */
  g_assert_cmpint (test_smtp_send (fixture->server->smtp_port, "leak@spam.example", postern_channel_get_address (shop), "Cheap watches"), ==, 250);
  state = wait_state (fixture, unread_check, &(UnreadCheck){ shop_id, 1, bank_id, 0 }, "one alert on the shop only");
  json_object_unref (state);

  /* Then the bank, and the bank's alert is read by opening it. */
  g_assert_cmpint (test_smtp_send (fixture->server->smtp_port, "leak@spam.example", postern_channel_get_address (bank), "Your account"), ==, 250);
  state = wait_state (fixture, unread_check, &(UnreadCheck){ shop_id, 1, bank_id, 1 }, "an alert on each channel");
  json_object_unref (state);
  app_action (fixture, "show-channel", g_variant_new_string (bank_id));
  state = wait_state (fixture, unread_check, &(UnreadCheck){ shop_id, 1, bank_id, 0 }, "the bank's alert read");
  json_object_unref (state);
  g_free (screenshot (fixture, "unread-per-channel"));

  /* A new app asks the agent: the shop's alert is still the unread one
   * (the newest alert, the bank's, is not). */
  app_action (fixture, "quit", NULL);
  g_assert_cmpint (test_subprocess_wait (fixture->app, WAIT_MS), ==, 0);
  g_clear_object (&fixture->app);
  start_app (fixture);
  state = wait_state (fixture, ready_check, "online", "the restarted app");
  json_object_unref (state);
  state = wait_state (fixture, unread_check, &(UnreadCheck){ shop_id, 1, bank_id, 0 }, "the shop's alert still unread after a restart");
  json_object_unref (state);
}

/* What the notification portal does with a notification's button inside
 * Flatpak: org.freedesktop.Application.ActivateAction on the sandbox's app
 * id, which is the app's, not the agent's. */
static void
portal_action (Fixture *fixture,
               const char *name,
               GVariant *parameter)
{
  g_autoptr (GVariant) reply = NULL;
  g_autoptr (GError) error = NULL;
  GVariantBuilder params;

  g_variant_builder_init (&params, G_VARIANT_TYPE ("av"));
  if (parameter != NULL)
    g_variant_builder_add (&params, "v", parameter);
  reply = g_dbus_connection_call_sync (fixture->bus, APP_ID, fixture->app_path, "org.freedesktop.Application", "ActivateAction",
                                       g_variant_new ("(sava{sv})", name, &params, NULL),
                                       NULL, G_DBUS_CALL_FLAGS_NONE, WAIT_MS, NULL, &error);
  g_assert_no_error (error);
}

static gboolean
agent_revoked_check (gpointer user_data)
{
  ExpectsCheck *check = user_data;
  g_autofree char *json = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonNode) node = NULL;
  g_autoptr (PosternChannel) channel = NULL;

  postern_dbus_agent1_call_get_channel_sync (check->fixture->agent->proxy, check->id, &json, NULL, &error);
  g_assert_no_error (error);
  node = postern_json_from_string (json, -1, &error);
  g_assert_no_error (error);
  channel = postern_channel_new_from_json (node, &error);
  g_assert_no_error (error);
  return postern_channel_get_state (channel) == POSTERN_CHANNEL_STATE_REVOKED;
}

/* The agent's alert buttons (app.trust, app.revoke, app.open) work when
 * the app receives them. */
static void
test_notification_actions (Fixture *fixture,
                           gconstpointer data)
{
  g_autoptr (PosternChannel) shop = create_channel (fixture, "Shop", "shop@velo.example");
  const char *id = postern_channel_get_id (shop);
  const char *address = postern_channel_get_address (shop);
  JsonObject *state;

  state = wait_state (fixture, row_check, id, "the channel in the list");
  json_object_unref (state);
  g_assert_true (test_wait_for (synced_check, fixture, WAIT_MS));
  g_assert_cmpint (test_smtp_send (fixture->server->smtp_port, "leak@spam.example", address, "Hello"), ==, 250);
  state = wait_state (fixture, alert_check, id, "the stranger's alert");
  json_object_unref (state);

  /* Trust Sender: the stranger is expected from now on. */
  portal_action (fixture, "trust", g_variant_new ("(ss)", id, "leak@spam.example"));
  g_assert_true (test_wait_for (expects_check, &(ExpectsCheck){ fixture, id, "leak@spam.example" }, WAIT_MS));
  g_assert_true (test_wait_for (synced_check, fixture, WAIT_MS));
  g_assert_cmpint (test_smtp_send (fixture->server->smtp_port, "leak@spam.example", address, "Now expected"), ==, 250);
  g_assert_true (test_wait_for (latest_verdict_check, &(VerdictCheck){ fixture, id, "expected" }, WAIT_MS));

  /* Open: the window comes up. */
  portal_action (fixture, "open", NULL);
  state = wait_state (fixture, dialog_open_check, "PosternWindow", "the window");
  json_object_unref (state);

  /* Revoke Channel: revoked at once (the button was the choice), and the
   * server refuses mail to it. */
  portal_action (fixture, "revoke", g_variant_new_string (id));
  g_assert_true (test_wait_for (agent_revoked_check, &(ExpectsCheck){ fixture, id, NULL }, WAIT_MS));
  g_assert_true (test_wait_for (synced_check, fixture, WAIT_MS));
  g_assert_cmpint (test_smtp_send (fixture->server->smtp_port, "leak@spam.example", address, "Again"), ==, 550);
}

static gboolean
fullscreen_check (JsonObject *state,
                  gconstpointer data)
{
  JsonObject *qr = find_window (state, "PosternFullscreenQr");

  return qr != NULL && *json_object_get_string_member (qr, "qr") != '\0';
}

/* The tray's "New one-time address as QR": the agent calls the app's
 * action through org.freedesktop.Application, as here. */
static void
test_new_address_qr_fullscreen (Fixture *fixture,
                                gconstpointer data)
{
  g_autoptr (GVariant) reply = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonNode) node = NULL;
  g_autoptr (PosternChannel) channel = NULL;
  g_autofree char *json = NULL;
  g_autofree char *shot = NULL;
  g_autofree char *id = NULL;
  g_autofree char *mailto = NULL;
  g_auto (GStrv) codes = NULL;
  GVariantBuilder params;
  JsonObject *state;
  guint decoded = 0;

  g_variant_builder_init (&params, G_VARIANT_TYPE ("av"));
  g_variant_builder_add (&params, "v", g_variant_new_string (""));
  reply = g_dbus_connection_call_sync (fixture->bus, APP_ID, fixture->app_path, "org.freedesktop.Application",
                                       "ActivateAction", g_variant_new ("(sava{sv})", "new-address-qr", &params, NULL),
                                       NULL, G_DBUS_CALL_FLAGS_NONE, WAIT_MS, NULL, &error);
  g_assert_no_error (error);

  state = wait_state (fixture, fullscreen_check, NULL, "the full-screen QR code");
  id = g_strdup (json_object_get_string_member (find_window (state, "PosternNewChannelDialog"), "id"));
  mailto = g_strdup (json_object_get_string_member (find_window (state, "PosternFullscreenQr"), "qr"));
  json_object_unref (state);

  /* A one-time channel, made at once with the default label. */
  postern_dbus_agent1_call_get_channel_sync (fixture->agent->proxy, id, &json, NULL, &error);
  g_assert_no_error (error);
  node = postern_json_from_string (json, -1, &error);
  g_assert_no_error (error);
  channel = postern_channel_new_from_json (node, &error);
  g_assert_no_error (error);
  g_assert_cmpint (postern_channel_get_kind (channel), ==, POSTERN_CHANNEL_KIND_ONE_TIME);
  g_assert_cmpstr (postern_channel_get_label (channel), ==, "Quick address");
  g_free (json);
  json = postern_qr_build_mailto (postern_channel_get_address (channel), NULL);
  g_assert_cmpstr (json, ==, mailto);

  /* The big code on screen decodes to that address. */
  shot = screenshot (fixture, "fullscreen-qr");
  codes = decode_qr (fixture, shot);
  for (guint i = 0; codes[i] != NULL; i++)
    if (*codes[i] != '\0')
      {
        g_assert_cmpstr (codes[i], ==, mailto);
        decoded++;
      }
  g_assert_cmpuint (decoded, >=, 1);

  /* Escape closes it. */
  app_action (fixture, "test-activate", g_variant_new_string ("window.close"));
  state = wait_state (fixture, dialog_closed_check, "PosternFullscreenQr", "the full-screen QR code to close");
  json_object_unref (state);
}

static gboolean
offline_check (JsonObject *state,
               gconstpointer data)
{
  JsonObject *window = find_window (state, "PosternWindow");

  return g_strcmp0 (json_object_get_string_member (state, "connection"), "offline") == 0 && window != NULL && *json_object_get_string_member (window, "offline_banner") != '\0';
}

static gboolean
pending_revoked_check (JsonObject *state,
                       gconstpointer id)
{
  JsonObject *row = find_row (state, id);

  return revoked_check (state, id) && json_object_get_boolean_member (row, "pending") && strstr (json_object_get_string_member (find_window (state, "PosternWindow"), "offline_banner"), "1 change") != NULL;
}

static gboolean
back_online_check (JsonObject *state,
                   gconstpointer id)
{
  JsonObject *row = find_row (state, id);

  return revoked_check (state, id) && !json_object_get_boolean_member (row, "pending") && g_strcmp0 (json_object_get_string_member (state, "connection"), "online") == 0 && *json_object_get_string_member (find_window (state, "PosternWindow"), "offline_banner") == '\0';
}

/* With the server down the window says so, a revocation is applied at
 * once and marked as waiting, and it lands when the server is back. */
static void
test_offline_pending (Fixture *fixture,
                      gconstpointer data)
{
  g_auto (GVariantBuilder) options = G_VARIANT_BUILDER_INIT (G_VARIANT_TYPE_VARDICT);
  g_autofree char *json = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonNode) node = NULL;
  g_autoptr (PosternChannel) channel = NULL;
  JsonObject *state;
  const char *id;

  g_variant_builder_add (&options, "{sv}", "label", g_variant_new_string ("Newsletter"));
  g_variant_builder_add (&options, "{sv}", "kind", g_variant_new_string ("open"));
  postern_dbus_agent1_call_create_channel_sync (fixture->agent->proxy, g_variant_builder_end (&options), &json, NULL, &error);
  g_assert_no_error (error);
  node = postern_json_from_string (json, -1, &error);
  g_assert_no_error (error);
  channel = postern_channel_new_from_json (node, &error);
  g_assert_no_error (error);
  id = postern_channel_get_id (channel);
  g_assert_true (test_wait_for (synced_check, fixture, WAIT_MS));
  state = wait_state (fixture, row_check, id, "the channel in the list");
  json_object_unref (state);
  app_action (fixture, "show-channel", g_variant_new_string (id));
  state = wait_state (fixture, current_check, id, "the channel in the window");
  json_object_unref (state);

  test_server_stop (fixture->server);
  state = wait_state (fixture, offline_check, NULL, "the window to show it is offline");
  json_object_unref (state);

  app_action (fixture, "test-activate", g_variant_new_string ("channel.revoke"));
  state = wait_state (fixture, dialog_open_check, "AdwMessageDialog", "the revoke confirmation");
  json_object_unref (state);
  app_action (fixture, "test-respond", g_variant_new_string ("revoke"));
  state = wait_state (fixture, pending_revoked_check, id, "the revocation, marked as waiting");
  json_object_unref (state);
  g_free (screenshot (fixture, "offline-pending"));

  test_server_start (fixture->server);
  postern_dbus_agent1_call_sync_now_sync (fixture->agent->proxy, NULL, &error);
  g_assert_no_error (error);
  state = wait_state (fixture, back_online_check, id, "the revocation to land");
  json_object_unref (state);
  g_assert_cmpint (test_smtp_send (fixture->server->smtp_port, "news@lwn.example", postern_channel_get_address (channel), "Weekly"), ==, 550);
}

static gboolean
held_check (JsonObject *state,
            gconstpointer n)
{
  JsonObject *window = find_window (state, "PosternWindow");

  return window != NULL && json_object_get_int_member (window, "detail_held") == GPOINTER_TO_INT (n);
}

/* The id of the only held message, from the agent; -1 for none. */
static gint64
held_id (Fixture *fixture)
{
  g_autofree char *json = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonNode) node = NULL;
  JsonArray *held;

  postern_dbus_agent1_call_list_held_sync (fixture->agent->proxy, &json, NULL, &error);
  g_assert_no_error (error);
  node = postern_json_from_string (json, -1, &error);
  g_assert_no_error (error);
  held = json_node_get_array (node);
  if (json_array_get_length (held) == 0)
    return -1;
  g_assert_cmpuint (json_array_get_length (held), ==, 1);
  return json_object_get_int_member (json_array_get_object_element (held, 0), "id");
}

/* A channel that holds strangers' mail: the detail lists it with Release,
 * and releasing it empties the server's hold. */
static void
test_held_mail (Fixture *fixture,
                gconstpointer data)
{
  g_auto (GVariantBuilder) options = G_VARIANT_BUILDER_INIT (G_VARIANT_TYPE_VARDICT);
  g_autofree char *json = NULL;
  g_autofree char *release = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonNode) node = NULL;
  g_autoptr (PosternChannel) channel = NULL;
  JsonObject *state;
  const char *id;
  gint64 held;

  g_variant_builder_add (&options, "{sv}", "label", g_variant_new_string ("Landlord"));
  g_variant_builder_add (&options, "{sv}", "kind", g_variant_new_string ("relationship"));
  g_variant_builder_add (&options, "{sv}", "expected_sender", g_variant_new_string ("@rent.example"));
  g_variant_builder_add (&options, "{sv}", "on_unexpected", g_variant_new_string ("hold"));
  postern_dbus_agent1_call_create_channel_sync (fixture->agent->proxy, g_variant_builder_end (&options), &json, NULL, &error);
  g_assert_no_error (error);
  node = postern_json_from_string (json, -1, &error);
  g_assert_no_error (error);
  channel = postern_channel_new_from_json (node, &error);
  g_assert_no_error (error);
  id = postern_channel_get_id (channel);
  g_assert_true (test_wait_for (synced_check, fixture, WAIT_MS));

  state = wait_state (fixture, row_check, id, "the channel in the list");
  json_object_unref (state);
  app_action (fixture, "show-channel", g_variant_new_string (id));
  state = wait_state (fixture, current_check, id, "the channel in the window");
  json_object_unref (state);

  g_assert_cmpint (test_smtp_send (fixture->server->smtp_port, "agent@letting.example", postern_channel_get_address (channel), "Viewing"), ==, 250);
  state = wait_state (fixture, held_check, GINT_TO_POINTER (1), "the held message in the detail");
  json_object_unref (state);
  g_free (screenshot (fixture, "held-mail"));

  held = held_id (fixture);
  g_assert_cmpint (held, >, 0);
  release = g_strdup_printf ("detail.release-held(int64 %" G_GINT64_FORMAT ")", held);
  app_action (fixture, "test-activate", g_variant_new_string (release));
  state = wait_state (fixture, held_check, GINT_TO_POINTER (0), "the released message to leave the detail");
  json_object_unref (state);
  g_assert_cmpint (held_id (fixture), ==, -1);
}

static gboolean
shown_check (JsonObject *state,
             gconstpointer type)
{
  JsonObject *window = find_window (state, type);

  return window != NULL && json_object_get_boolean_member (window, "visible");
}

static gboolean
hidden_check (JsonObject *state,
              gconstpointer type)
{
  return !shown_check (state, type);
}

static gboolean
signed_out_check (JsonObject *state,
                  gconstpointer data)
{
  JsonObject *window = find_window (state, "PosternWindow");

  return g_strcmp0 (json_object_get_string_member (state, "connection"), "unpaired") == 0 && window != NULL && g_strcmp0 (json_object_get_string_member (window, "list_page"), "unpaired") == 0;
}

/* The About and shortcuts windows open and close (any GTK warning would
 * abort the app: G_DEBUG=fatal-warnings); Preferences signs out after a
 * confirmation. */
static gboolean
devices_check (JsonObject *state,
               gconstpointer n)
{
  JsonObject *window = find_window (state, "PosternPreferencesWindow");

  return window != NULL && json_object_get_int_member (window, "devices") == GPOINTER_TO_INT (n);
}

/* The id of the account's device that is not this one. */
static gint64
other_device_id (Fixture *fixture)
{
  g_autofree char *json = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonNode) node = NULL;
  JsonArray *devices;

  postern_dbus_agent1_call_list_devices_sync (fixture->agent->proxy, &json, NULL, &error);
  g_assert_no_error (error);
  node = postern_json_from_string (json, -1, &error);
  g_assert_no_error (error);
  devices = JSON_NODE_HOLDS_ARRAY (node) ? json_node_get_array (node)
                                         : json_object_get_array_member (json_node_get_object (node), "devices");
  for (guint i = 0; i < json_array_get_length (devices); i++)
    {
      JsonObject *device = json_array_get_object_element (devices, i);

      if (!json_object_get_boolean_member_with_default (device, "current", FALSE))
        return json_object_get_int_member (device, "id");
    }

  g_assert_not_reached ();
}

static void
test_about_shortcuts_preferences (Fixture *fixture,
                                  gconstpointer data)
{
  g_autoptr (PosternApiClient) phone = NULL;
  g_autofree char *revoke = NULL;
  JsonObject *state;

  app_action (fixture, "about", NULL);
  state = wait_state (fixture, shown_check, "AdwAboutWindow", "the About window");
  json_object_unref (state);
  g_free (screenshot (fixture, "about"));
  app_action (fixture, "test-activate", g_variant_new_string ("window.close"));
  state = wait_state (fixture, hidden_check, "AdwAboutWindow", "the About window to close");
  json_object_unref (state);

  /* Ctrl+? */
  app_action (fixture, "test-activate", g_variant_new_string ("win.show-help-overlay"));
  state = wait_state (fixture, shown_check, "GtkShortcutsWindow", "the shortcuts window");
  json_object_unref (state);
  g_free (screenshot (fixture, "shortcuts"));
  app_action (fixture, "test-activate", g_variant_new_string ("window.close"));
  state = wait_state (fixture, hidden_check, "GtkShortcutsWindow", "the shortcuts window to close");
  json_object_unref (state);

  /* Ctrl+, with the account's devices: this one and a phone. */
  phone = test_api_device_new (fixture->server, USER);
  app_action (fixture, "preferences", NULL);
  state = wait_state (fixture, devices_check, GINT_TO_POINTER (2), "both devices in the preferences");
  json_object_unref (state);
  g_free (screenshot (fixture, "preferences"));

  /* Revoke… the phone, confirmed: one device left. */
  revoke = g_strdup_printf ("preferences.revoke-device(int64 %" G_GINT64_FORMAT ")", other_device_id (fixture));
  app_action (fixture, "test-activate", g_variant_new_string (revoke));
  state = wait_state (fixture, dialog_open_check, "AdwMessageDialog", "the revoke-device confirmation");
  json_object_unref (state);
  app_action (fixture, "test-respond", g_variant_new_string ("revoke"));
  state = wait_state (fixture, devices_check, GINT_TO_POINTER (1), "the phone to be gone");
  json_object_unref (state);

  /* Then Sign Out…, confirmed. */
  app_action (fixture, "test-activate", g_variant_new_string ("preferences.sign-out"));
  state = wait_state (fixture, dialog_open_check, "AdwMessageDialog", "the sign-out confirmation");
  g_assert_cmpstr (json_object_get_string_member (find_window (state, "AdwMessageDialog"), "heading"), ==, "Sign Out?");
  json_object_unref (state);
  app_action (fixture, "test-respond", g_variant_new_string ("sign-out"));
  state = wait_state (fixture, signed_out_check, NULL, "the app to show it is not paired");
  json_object_unref (state);
  g_assert_true (test_agent_wait_connection (fixture->agent, "unpaired", WAIT_MS));
}

/* Compares fingerprints ignoring case and separators. */
static gboolean
same_fingerprint (const char *a,
                  const char *b)
{
  g_autoptr (GString) na = g_string_new (NULL);
  g_autoptr (GString) nb = g_string_new (NULL);

  for (const char *p = a; *p != '\0'; p++)
    if (g_ascii_isxdigit (*p))
      g_string_append_c (na, g_ascii_tolower (*p));
  for (const char *p = b; *p != '\0'; p++)
    if (g_ascii_isxdigit (*p))
      g_string_append_c (nb, g_ascii_tolower (*p));

  return na->len == 64 && g_str_equal (na->str, nb->str);
}

static void
test_pair_from_link (Fixture *fixture,
                     gconstpointer data)
{
  g_autofree char *uri = test_server_pair_uri (fixture->server, USER);
  g_autofree char *expected = test_server_fingerprint (fixture->server);
  JsonObject *state;
  JsonObject *dialog;

  /* First run: the window asks to pair. */
  state = dump (fixture);
  g_assert_cmpstr (json_object_get_string_member (find_window (state, "PosternWindow"), "list_page"), ==, "unpaired");
  json_object_unref (state);
  g_free (screenshot (fixture, "first-run"));

  /* A click on the postern://pair link opens the dialog with it. */
  open_uri (fixture, uri);
  state = wait_state (fixture, pairing_page_check, "enter", "the pairing dialog");
  json_object_unref (state);

  /* Continue: the server's certificate fingerprint, to compare, and it
   * matches the one in the link. */
  app_action (fixture, "test-activate", g_variant_new_string ("pairing.next"));
  state = wait_state (fixture, pairing_page_check, "verify", "the fingerprint to compare");
  dialog = find_window (state, "PosternPairingDialog");
  g_assert_true (same_fingerprint (json_object_get_string_member (dialog, "fingerprint"), expected));
  g_assert_nonnull (strstr (json_object_get_string_member (dialog, "match"), "matches"));
  g_assert_true (json_object_get_boolean_member (dialog, "can_continue"));
  json_object_unref (state);
  g_free (screenshot (fixture, "pairing-fingerprint"));

  /* Trust and Pair: the agent is paired and online, the list empty. */
  app_action (fixture, "test-activate", g_variant_new_string ("pairing.next"));
  state = wait_state (fixture, paired_check, NULL, "the app to show the paired agent");
  json_object_unref (state);
  g_assert_true (test_agent_wait_connection (fixture->agent, "online", WAIT_MS));
}

static void
test_pair_fingerprint_mismatch (Fixture *fixture,
                                gconstpointer data)
{
  g_autofree char *uri = test_server_pair_uri (fixture->server, USER);
  g_autofree char *forged = NULL;
  g_autofree char *connection = NULL;
  g_autoptr (GString) wrong = g_string_new (NULL);
  const char *fp = strstr (uri, "fp=");
  JsonObject *state;
  JsonObject *dialog;

  /* The link carries a fingerprint; the server shows another one. */
  g_assert_nonnull (fp);
  for (guint i = 0; i < 32; i++)
    g_string_append (wrong, i == 0 ? "00" : "%3A00");
  forged = g_strdup_printf ("%.*sfp=%s", (int)(fp - uri), uri, wrong->str);

  open_uri (fixture, forged);
  state = wait_state (fixture, pairing_page_check, "enter", "the pairing dialog");
  json_object_unref (state);
  app_action (fixture, "test-activate", g_variant_new_string ("pairing.next"));
  state = wait_state (fixture, pairing_page_check, "verify", "the fingerprint to compare");
  dialog = find_window (state, "PosternPairingDialog");
  g_assert_nonnull (strstr (json_object_get_string_member (dialog, "match"), "does not match"));
  g_assert_false (json_object_get_boolean_member (dialog, "can_continue"));
  json_object_unref (state);
  g_free (screenshot (fixture, "pairing-mismatch"));

  /* Continue is disabled: activating it anyway pairs nothing. */
  app_action (fixture, "test-activate", g_variant_new_string ("pairing.next"));
  test_spin_for (1000);
  connection = test_agent_get_connection (fixture->agent);
  g_assert_cmpstr (connection, ==, "unpaired");
}

int
main (int argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add ("/postern/app/window/new-channel-qr-clipboard-revoke", Fixture, NULL,
              fixture_setup, test_new_channel_qr_clipboard_revoke, fixture_teardown);
  g_test_add ("/postern/app/window/alert-in-list", Fixture, NULL,
              fixture_setup, test_alert_in_list, fixture_teardown);
  g_test_add ("/postern/app/window/unread-per-channel", Fixture, NULL,
              fixture_setup, test_unread_per_channel, fixture_teardown);
  g_test_add ("/postern/app/window/notification-actions", Fixture, NULL,
              fixture_setup, test_notification_actions, fixture_teardown);
  g_test_add ("/postern/app/window/new-address-qr-fullscreen", Fixture, NULL,
              fixture_setup, test_new_address_qr_fullscreen, fixture_teardown);
  g_test_add ("/postern/app/window/held-mail", Fixture, NULL,
              fixture_setup, test_held_mail, fixture_teardown);
  g_test_add ("/postern/app/window/offline-pending", Fixture, NULL,
              fixture_setup, test_offline_pending, fixture_teardown);
  g_test_add ("/postern/app/window/about-shortcuts-preferences", Fixture, NULL,
              fixture_setup, test_about_shortcuts_preferences, fixture_teardown);
  g_test_add ("/postern/app/window/pair-from-link", Fixture, "unpaired",
              fixture_setup, test_pair_from_link, fixture_teardown);
  g_test_add ("/postern/app/window/pair-fingerprint-mismatch", Fixture, "unpaired",
              fixture_setup, test_pair_fingerprint_mismatch, fixture_teardown);

  return g_test_run ();
}
