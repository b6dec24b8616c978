/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <glib/gstdio.h>
#include <signal.h>

#include "postern-client.h"
#include "test-harness.h"

/*
 * posternctl as a shell user runs it: exit codes, messages, JSON, the
 * terminal QR code, and changes that reach a real posternd through a real
 * postern-agent. Runs inside tests/desktop-session.sh.
 */

#define USER TEST_FIXTURE_USER

static gboolean
nothing_pending (gpointer user_data)
{
  TestAgent *agent = user_data;
  g_autoptr (GError) error = NULL;
  g_autoptr (GVariant) status = NULL;
  guint32 pending = G_MAXUINT32;

  postern_dbus_agent1_call_get_status_sync (agent->proxy, &status, NULL, &error);
  g_assert_no_error (error);
  g_variant_lookup (status, "pending", "u", &pending);
  return pending == 0;
}

static void
wait_synced (TestFixture *fixture)
{
  g_assert_true (test_wait_for (nothing_pending, fixture->agent, TEST_TIMEOUT_MS));
}

static JsonNode *
parse_json (const char *text)
{
  g_autoptr (GError) error = NULL;
  JsonNode *node = postern_json_from_string (text, -1, &error);

  g_assert_no_error (error);
  return node;
}

/* The verdicts of the events of @address's channel, oldest first, joined
 * by spaces, through `posternctl events --json`. */
static char *
verdicts (const char *address)
{
  g_autofree char *out = NULL;
  g_autoptr (JsonNode) node = NULL;
  g_autoptr (GString) text = g_string_new (NULL);
  JsonArray *events;

  g_assert_cmpint (test_ctl (NULL, &out, NULL, "events", "--channel", address, "--json", NULL), ==, 0);
  node = parse_json (out);
  events = json_node_get_array (node);
  for (guint i = json_array_get_length (events); i > 0; i--)
    {
      JsonObject *event = json_array_get_object_element (events, i - 1);

      if (text->len > 0)
        g_string_append_c (text, ' ');
      g_string_append (text, json_object_get_string_member (event, "verdict"));
    }
  return g_string_free (g_steal_pointer (&text), FALSE);
}

typedef struct
{
  const char *address;
  guint count;
} EventCount;

static gboolean
has_events (gpointer user_data)
{
  EventCount *wait = user_data;
  g_autofree char *text = verdicts (wait->address);
  g_auto (GStrv) words = g_strsplit (text, " ", -1);

  return *text != '\0' && g_strv_length (words) >= wait->count;
}

static void
wait_events (const char *address,
             guint count)
{
  EventCount wait = { address, count };

  g_assert_true (test_wait_for (has_events, &wait, TEST_TIMEOUT_MS));
}

/* ---- without a server ----------------------------------------------------------- */

static void
test_usage (void)
{
  g_autofree char *err = NULL;
  g_autofree char *out = NULL;

  {
    const char *no_args[] = { NULL };

    g_assert_cmpint (test_ctl_full (NULL, NULL, NULL, NULL, no_args), ==, 2);
  }
  g_assert_cmpint (test_ctl (NULL, &out, NULL, "--help", NULL), ==, 0);
  g_assert_nonnull (strstr (out, "revoke"));
  g_assert_cmpint (test_ctl (NULL, NULL, &err, "frobnicate", NULL), ==, 2);
  g_assert_nonnull (strstr (err, "unknown command"));
  g_clear_pointer (&err, g_free);

  g_assert_cmpint (test_ctl (NULL, NULL, &err, "new", NULL), ==, 2);
  g_assert_nonnull (strstr (err, "--label"));
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (test_ctl (NULL, NULL, &err, "new", "--label", "x", "--kind", "forever", NULL), ==, 2);
  g_assert_nonnull (strstr (err, "one-time"));
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (test_ctl (NULL, NULL, NULL, "new", "--label", "x", "--one-time", "--kind", "open", NULL), ==, 2);
  g_assert_cmpint (test_ctl (NULL, NULL, NULL, "new", "--label", "x", "--expect", "not a sender", NULL), ==, 2);
  g_assert_cmpint (test_ctl (NULL, NULL, NULL, "revoke", NULL), ==, 2);
  g_assert_cmpint (test_ctl (NULL, NULL, NULL, "revoke", "a", "b", NULL), ==, 2);
  g_assert_cmpint (test_ctl (NULL, NULL, NULL, "trust", "id", "@", NULL), ==, 2);
  g_assert_cmpint (test_ctl (NULL, NULL, NULL, "release", "twelve", NULL), ==, 2);
  g_assert_cmpint (test_ctl (NULL, NULL, NULL, "pair", NULL), ==, 2);
  g_assert_cmpint (test_ctl (NULL, NULL, NULL, "list", "--bogus", NULL), ==, 2);
}

static void
test_unreachable (void)
{
  const char *env[] = { "DBUS_SESSION_BUS_ADDRESS=unix:path=/nonexistent/postern-bus", NULL };
  const char *args[] = { "list", NULL };
  g_autofree char *err = NULL;

  g_assert_cmpint (test_ctl_full (env, NULL, NULL, &err, args), ==, 3);
  g_assert_true (g_str_has_prefix (err, "posternctl: cannot list channels: "));
}

/* ---- with the agent and a server --------------------------------------------------- */

static void
test_not_paired (TestFixture *fixture,
                 gconstpointer data)
{
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;

  g_assert_cmpint (test_ctl (NULL, &out, NULL, "status", NULL), ==, 3);
  g_assert_nonnull (strstr (out, "unpaired"));
  g_assert_cmpint (test_ctl (NULL, NULL, &err, "new", "--label", "Too early", NULL), ==, 3);
  g_assert_true (g_str_has_prefix (err, "posternctl: cannot create a channel: not paired"));
  g_clear_pointer (&out, g_free);
  g_assert_cmpint (test_ctl (NULL, &out, NULL, "list", NULL), ==, 0);
  g_assert_cmpstr (out, ==, "");
}

static void
test_pair_uri (TestFixture *fixture,
               gconstpointer data)
{
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autofree char *fingerprint = test_server_fingerprint (fixture->server);
  g_autoptr (JsonNode) node = NULL;
  g_autofree char *uri = test_server_pair_uri (fixture->server, USER);
  JsonObject *status;

  g_assert_cmpint (test_ctl (NULL, &out, &err, "pair", uri, NULL), ==, 0);
  g_assert_nonnull (strstr (out, "Paired with"));
  /* The URI's fingerprint matched: accepted without asking. */
  g_assert_nonnull (strstr (err, "matches"));
  g_clear_pointer (&out, g_free);

  g_assert_cmpint (test_ctl (NULL, &out, NULL, "status", "--json", NULL), ==, 0);
  node = parse_json (out);
  status = json_node_get_object (node);
  g_assert_true (json_object_get_boolean_member (status, "paired"));
  g_assert_cmpstr (json_object_get_string_member (status, "user"), ==, USER);
  g_assert_true (postern_fingerprint_equal (json_object_get_string_member (status, "fingerprint"), fingerprint));

  /* A used code is refused by the server: failure, not usage. */
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (test_ctl (NULL, NULL, &err, "pair", uri, NULL), ==, 1);
  g_assert_nonnull (strstr (err, "posternctl: cannot pair: "));
}

static void
test_pair_mismatch (TestFixture *fixture,
                    gconstpointer data)
{
  g_autofree char *uri = test_server_pair_uri (fixture->server, USER);
  g_autofree char *err = NULL;
  g_autoptr (GString) wrong = g_string_new (uri);
  const char *fp = strstr (uri, "fp=");
  gsize at;

  g_assert_nonnull (fp);
  /* Flip one hex digit of the fingerprint in the URI. */
  at = (fp - uri) + 3;
  wrong->str[at] = wrong->str[at] == 'A' ? 'B' : 'A';

  g_assert_cmpint (test_ctl (NULL, NULL, &err, "pair", wrong->str, NULL), ==, 1);
  g_assert_nonnull (strstr (err, "does not match"));
  g_assert_cmpint (test_ctl (NULL, NULL, NULL, "status", NULL), ==, 3);
}

static void
test_pair_confirm (TestFixture *fixture,
                   gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *uri = test_server_pair_uri (fixture->server, USER);
  g_autofree char *url = NULL;
  g_autofree char *code = NULL;
  g_autofree char *fingerprint = NULL;
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;

  g_assert_true (postern_pair_uri_parse (uri, &url, &code, &fingerprint, &error));

  /* Shown, then refused by the user. */
  g_assert_cmpint (test_ctl ("n\n", &out, &err, "pair", url, code, NULL), ==, 1);
  g_assert_nonnull (strstr (out, fingerprint));
  g_assert_nonnull (strstr (err, "not confirmed"));
  g_assert_cmpint (test_ctl (NULL, NULL, NULL, "status", NULL), ==, 3);

  /* No answer at all (stdin closed) is no. */
  g_assert_cmpint (test_ctl (NULL, NULL, NULL, "pair", url, code, NULL), ==, 1);

  g_clear_pointer (&out, g_free);
  g_assert_cmpint (test_ctl ("y\n", &out, NULL, "pair", url, code, NULL), ==, 0);
  g_assert_nonnull (strstr (out, "Paired with"));
  g_assert_cmpint (test_ctl (NULL, NULL, NULL, "status", NULL), ==, 0);
}

static char *
new_channel (const char *first_arg,
             ...) G_GNUC_NULL_TERMINATED;

static char *
new_channel (const char *first_arg,
             ...)
{
  g_autoptr (GPtrArray) args = g_ptr_array_new ();
  g_autofree char *out = NULL;
  va_list ap;

  g_ptr_array_add (args, (gpointer) "new");
  va_start (ap, first_arg);
  for (const char *arg = first_arg; arg != NULL; arg = va_arg (ap, const char *))
    g_ptr_array_add (args, (gpointer)arg);
  va_end (ap);
  g_ptr_array_add (args, NULL);

  g_assert_cmpint (test_ctl_full (NULL, NULL, &out, NULL, (const char *const *)args->pdata), ==, 0);
  g_strstrip (out);
  g_assert_nonnull (strstr (out, "@ch.postern.test"));
  return g_steal_pointer (&out);
}

static void
test_channel_lifecycle (TestFixture *fixture,
                        gconstpointer data)
{
  guint16 smtp = fixture->server->smtp_port;
  g_autofree char *address = NULL;
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autofree char *seen = NULL;

  test_pair (fixture->server, USER);
  address = new_channel ("--label", "Recruiter, FOSDEM", "--expect", "jane@acme.example", NULL);

  g_assert_cmpint (test_ctl (NULL, &out, NULL, "list", NULL), ==, 0);
  g_assert_nonnull (strstr (out, address));
  g_assert_nonnull (strstr (out, "Recruiter, FOSDEM"));
  g_clear_pointer (&out, g_free);
  g_assert_cmpint (test_ctl (NULL, &out, NULL, "show", address, NULL), ==, 0);
  g_assert_nonnull (strstr (out, "jane@acme.example"));
  g_assert_nonnull (strstr (out, "relationship"));
  g_clear_pointer (&out, g_free);

  /* Created through the agent: the server accepts mail for it. */
  wait_synced (fixture);
  g_assert_cmpint (test_smtp_send (smtp, "jane@acme.example", address, "Hello"), ==, 250);

  /* Paused: senders are told to retry later. */
  g_assert_cmpint (test_ctl (NULL, NULL, NULL, "pause", address, NULL), ==, 0);
  wait_synced (fixture);
  g_assert_cmpint (test_smtp_send (smtp, "jane@acme.example", address, "Paused"), ==, 450);
  g_assert_cmpint (test_ctl (NULL, NULL, NULL, "resume", address, NULL), ==, 0);
  wait_synced (fixture);

  /* A stranger, then trusted. */
  g_assert_cmpint (test_smtp_send (smtp, "bob@other.example", address, "Stranger"), ==, 250);
  g_assert_cmpint (test_ctl (NULL, NULL, NULL, "trust", address, "bob@other.example", NULL), ==, 0);
  wait_synced (fixture);
  g_assert_cmpint (test_smtp_send (smtp, "bob@other.example", address, "Now expected"), ==, 250);

  /* Blocked everywhere: refused. */
  g_assert_cmpint (test_ctl (NULL, NULL, NULL, "block", "@bulk.example", NULL), ==, 0);
  wait_synced (fixture);
  g_assert_cmpint (test_smtp_send (smtp, "spam@bulk.example", address, "Spam"), ==, 550);

  /* Revoked: closed for good. */
  g_assert_cmpint (test_ctl (NULL, NULL, NULL, "revoke", address, NULL), ==, 0);
  wait_synced (fixture);
  g_assert_cmpint (test_smtp_send (smtp, "jane@acme.example", address, "Too late"), ==, 550);

  wait_events (address, 6);
  seen = verdicts (address);
  g_assert_cmpstr (seen, ==, "expected rejected-paused unexpected expected rejected-blocked rejected-revoked");

  /* Revoked channels leave the default list, stay in --all. */
  g_assert_cmpint (test_ctl (NULL, &out, NULL, "list", NULL), ==, 0);
  g_assert_null (strstr (out, address));
  g_clear_pointer (&out, g_free);
  g_assert_cmpint (test_ctl (NULL, &out, NULL, "list", "--all", NULL), ==, 0);
  g_assert_nonnull (strstr (out, address));

  /* Unknown ids and addresses: exit 1 with the message a shell user reads. */
  g_assert_cmpint (test_ctl (NULL, NULL, &err, "revoke", "0b9f7f64-8f1e-4d7c-9d55-0e8e4c1d1c11", NULL), ==, 1);
  g_assert_cmpstr (err, ==, "posternctl: cannot revoke: channel not found\n");
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (test_ctl (NULL, NULL, &err, "pause", "nobody@ch.postern.test", NULL), ==, 1);
  g_assert_cmpstr (err, ==, "posternctl: cannot pause: no channel has this address\n");
}

static void
test_json (TestFixture *fixture,
           gconstpointer data)
{
  g_autofree char *out = NULL;
  g_autoptr (JsonNode) node = NULL;
  JsonObject *channel;
  JsonArray *channels;
  g_autofree char *id = NULL;
  gboolean found = FALSE;

  test_pair (fixture->server, USER);
  g_assert_cmpint (test_ctl (NULL, &out, NULL, "new", "--label", "Script", "--one-time", "--json", NULL), ==, 0);
  node = parse_json (out);
  channel = json_node_get_object (node);
  g_assert_cmpstr (json_object_get_string_member (channel, "kind"), ==, "one-time");
  g_assert_cmpstr (json_object_get_string_member (channel, "state"), ==, "active");
  id = g_strdup (json_object_get_string_member (channel, "id"));
  g_assert_true (postern_uuid_is_valid (id));
  g_clear_pointer (&node, json_node_unref);
  g_clear_pointer (&out, g_free);

  g_assert_cmpint (test_ctl (NULL, &out, NULL, "list", "--json", NULL), ==, 0);
  node = parse_json (out);
  channels = json_node_get_array (node);
  for (guint i = 0; i < json_array_get_length (channels); i++)
    found |= g_strcmp0 (json_object_get_string_member (json_array_get_object_element (channels, i), "id"), id) == 0;
  g_assert_true (found);
  g_clear_pointer (&node, json_node_unref);
  g_clear_pointer (&out, g_free);

  g_assert_cmpint (test_ctl (NULL, &out, NULL, "pending", "--json", NULL), ==, 0);
  node = parse_json (out);
  g_assert_true (JSON_NODE_HOLDS_ARRAY (node));
}

/* Turns the half-block rendering back into pixels as a dark-background
 * terminal shows it (4 px per module, a dark margin around), writes a PGM
 * and returns what zbarimg decodes from it. */
static char *
decode_terminal_qr (const char *text)
{
  g_autoptr (GError) error = NULL;
  g_auto (GStrv) lines = g_strsplit (text, "\n", -1);
  g_autoptr (GPtrArray) rows = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GString) image = g_string_new (NULL);
  g_autofree char *dir = g_dir_make_tmp ("postern-qr-XXXXXX", &error);
  g_autofree char *path = NULL;
  g_autofree char *out = NULL;
  const int scale = 4;
  const int margin = 8;
  guint width = 0;
  int status = 0;
  int pixels;

  g_assert_no_error (error);
  for (guint i = 0; lines[i] != NULL; i++)
    {
      glong n = g_utf8_strlen (lines[i], -1);
      gboolean is_qr = n > 20;
      guint8 *top;
      guint8 *bottom;
      const char *p = lines[i];

      for (const char *q = lines[i]; is_qr && *q; q = g_utf8_next_char (q))
        {
          gunichar c = g_utf8_get_char (q);

          is_qr = c == ' ' || c == 0x2588 || c == 0x2580 || c == 0x2584;
        }
      if (!is_qr)
        continue;
      width = MAX (width, (guint)n);
      top = g_new0 (guint8, n);
      bottom = g_new0 (guint8, n);
      for (glong x = 0; x < n; x++, p = g_utf8_next_char (p))
        {
          gunichar c = g_utf8_get_char (p);

          /* 1 = light: the foreground colour draws light modules. */
          top[x] = c == 0x2588 || c == 0x2580;
          bottom[x] = c == 0x2588 || c == 0x2584;
        }
      g_ptr_array_add (rows, top);
      g_ptr_array_add (rows, bottom);
    }
  g_assert_cmpuint (rows->len, >=, 21 + 2 * 4); /* version 1 and its quiet zone */

  pixels = (int)(MAX (width, rows->len) + 2 * margin) * scale;
  g_string_append_printf (image, "P5\n%d %d\n255\n", pixels, pixels);
  for (int y = 0; y < pixels; y++)
    for (int x = 0; x < pixels; x++)
      {
        int mx = x / scale - margin;
        int my = y / scale - margin;
        gboolean light = mx >= 0 && my >= 0 && (guint)mx < width && (guint)my < rows->len && ((guint8 *)g_ptr_array_index (rows, my))[mx];

        g_string_append_c (image, light ? (char)255 : 0);
      }
  path = g_build_filename (dir, "qr.pgm", NULL);
  g_file_set_contents (path, image->str, image->len, &error);
  g_assert_no_error (error);

  {
    const char *argv[] = { "zbarimg", "--nodbus", "-q", "--raw", path, NULL };

    if (!g_spawn_sync (NULL, (char **)argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, &out, NULL, &status, &error))
      g_error ("zbarimg is needed for this test (zbar-tools): %s", error->message);
  }
  g_unlink (path);
  g_rmdir (dir);
  g_assert_true (g_spawn_check_wait_status (status, NULL));
  return g_strstrip (g_steal_pointer (&out));
}

static void
test_qr (TestFixture *fixture,
         gconstpointer data)
{
  g_autofree char *out = NULL;
  g_autofree char *decoded = NULL;
  g_autofree char *expected = NULL;
  g_autofree char *address = NULL;
  const char *newline;

  test_pair (fixture->server, USER);
  g_assert_cmpint (test_ctl (NULL, &out, NULL, "new", "--label", "Booth", "--one-time", "--qr", NULL), ==, 0);
  newline = strchr (out, '\n');
  g_assert_nonnull (newline);
  address = g_strndup (out, newline - out);
  decoded = decode_terminal_qr (newline + 1);
  expected = g_strconcat ("mailto:", address, NULL);
  g_assert_cmpstr (decoded, ==, expected);
}

static void
test_copy_without_tool (TestFixture *fixture,
                        gconstpointer data)
{
  const char *env[] = { "DISPLAY", "WAYLAND_DISPLAY", NULL };
  const char *args[] = { "new", "--label", "Clipboard", "--copy", NULL };
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;

  test_pair (fixture->server, USER);
  /* No display: the channel is made, the address printed, and the user
   * told why it is not on the clipboard. */
  g_assert_cmpint (test_ctl_full (env, NULL, &out, &err, args), ==, 0);
  g_assert_nonnull (strstr (out, "@ch.postern.test"));
  g_assert_nonnull (strstr (err, "no clipboard tool"));
}

typedef struct
{
  gboolean done;
  char *line;
} Line;

static void
read_line_cb (GObject *source,
              GAsyncResult *result,
              gpointer user_data)
{
  Line *line = user_data;
  g_autoptr (GError) error = NULL;

  line->line = g_data_input_stream_read_line_finish_utf8 (G_DATA_INPUT_STREAM (source), result, NULL, &error);
  g_assert_no_error (error);
  line->done = TRUE;
}

static char *
read_line (GDataInputStream *stream)
{
  Line line = {
    0,
  };

  g_data_input_stream_read_line_async (stream, G_PRIORITY_DEFAULT, NULL, read_line_cb, &line);
  g_assert_true (test_spin_until (&line.done, TEST_TIMEOUT_MS));
  g_assert_nonnull (line.line);
  return line.line;
}

/* A real X server and xclip: the address lands on the CLIPBOARD selection
 * and the share is recorded. xclip stays behind as the selection owner
 * until the X server goes, which this test stops by its PID. */
static void
test_copy_xclip (TestFixture *fixture,
                 gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GSubprocess) xvfb = NULL;
  g_autoptr (GDataInputStream) display_out = NULL;
  g_autofree char *display_number = NULL;
  g_autofree char *display_env = NULL;
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autofree char *pasted = NULL;
  g_autofree char *address = NULL;
  const char *xvfb_argv[] = { "Xvfb", "-displayfd", "1", "-screen", "0", "640x480x24", "-nolisten", "tcp", NULL };
  const char *args[] = { "new", "--label", "Copied", "--copy", NULL };
  const char *env[] = { NULL, "WAYLAND_DISPLAY", NULL };
  g_autofree char *xvfb_path = g_find_program_in_path ("Xvfb");
  g_autofree char *xclip_path = g_find_program_in_path ("xclip");
  int status = 0;

  if (xvfb_path == NULL || xclip_path == NULL)
    g_error ("this test needs Xvfb and xclip (build-aux/install-deps.sh installs them)");

  test_pair (fixture->server, USER);
  xvfb = test_spawn (G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_SILENCE, xvfb_argv);
  display_out = g_data_input_stream_new (g_subprocess_get_stdout_pipe (xvfb));
  display_number = read_line (display_out);
  display_env = g_strdup_printf ("DISPLAY=:%s", display_number);
  env[0] = display_env;

  g_assert_cmpint (test_ctl_full (env, NULL, &out, &err, args), ==, 0);
  address = g_strstrip (g_strdup (out));
  g_assert_nonnull (strstr (err, "Copied to the clipboard"));

  {
    const char *xclip_argv[] = { "xclip", "-o", "-selection", "clipboard", NULL };
    g_auto (GStrv) xclip_env = g_environ_setenv (g_get_environ (), "DISPLAY", display_env + strlen ("DISPLAY="), TRUE);

    g_spawn_sync (NULL, (char **)xclip_argv, xclip_env, G_SPAWN_SEARCH_PATH, NULL, NULL, &pasted, NULL, &status, &error);
    g_assert_no_error (error);
    g_assert_true (g_spawn_check_wait_status (status, NULL));
  }
  g_assert_cmpstr (pasted, ==, address);

  g_subprocess_send_signal (xvfb, SIGTERM);
  g_assert_cmpint (test_subprocess_wait (xvfb, TEST_TIMEOUT_MS), !=, -1);
}

static void
test_events_follow (TestFixture *fixture,
                    gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GSubprocess) follow = NULL;
  g_autoptr (GDataInputStream) lines = NULL;
  g_autofree char *address = NULL;
  g_autofree char *first = NULL;
  g_autofree char *second = NULL;
  g_autoptr (JsonNode) event = NULL;
  g_autoptr (JsonNode) backlog = NULL;
  const char *argv[] = { g_getenv ("POSTERN_TEST_CTL"), "events", "--follow", "--json", "--limit", "1", "--count", "1", NULL };
  int status;

  test_pair (fixture->server, USER);
  address = new_channel ("--label", "Followed", "--kind", "open", NULL);
  wait_synced (fixture);
  g_assert_cmpint (test_smtp_send (fixture->server->smtp_port, "a@example.org", address, "Before"), ==, 250);
  wait_events (address, 1);

  follow = test_spawn (G_SUBPROCESS_FLAGS_STDOUT_PIPE, argv);
  g_assert_no_error (error);
  lines = g_data_input_stream_new (g_subprocess_get_stdout_pipe (follow));

  /* The backlog line proves it is subscribed (it subscribes first). */
  first = read_line (lines);
  backlog = parse_json (first);
  g_assert_cmpstr (json_object_get_string_member (json_node_get_object (backlog), "subject"), ==, "Before");

  g_assert_cmpint (test_smtp_send (fixture->server->smtp_port, "b@example.org", address, "After"), ==, 250);
  second = read_line (lines);
  event = parse_json (second);
  g_assert_cmpstr (json_object_get_string_member (json_node_get_object (event), "envelope_sender"), ==, "b@example.org");

  /* --count 1: it stops by itself after the new event. */
  status = test_subprocess_wait (follow, TEST_TIMEOUT_MS);
  g_assert_cmpint (status, ==, 0);
}

static gboolean
has_held (gpointer user_data)
{
  g_autofree char *out = NULL;
  g_autoptr (JsonNode) node = NULL;

  g_assert_cmpint (test_ctl (NULL, &out, NULL, "held", "--json", NULL), ==, 0);
  node = parse_json (out);
  return json_array_get_length (json_node_get_array (node)) > 0;
}

static void
test_held (TestFixture *fixture,
           gconstpointer data)
{
  g_autofree char *address = NULL;
  g_autofree char *out = NULL;
  g_autoptr (JsonNode) node = NULL;
  g_autofree char *id = NULL;
  JsonArray *held;

  test_pair (fixture->server, USER);
  address = new_channel ("--label", "Careful", "--expect", "jane@acme.example", "--on-unexpected", "hold", NULL);
  wait_synced (fixture);
  g_assert_cmpint (test_smtp_send (fixture->server->smtp_port, "stranger@example.org", address, "Held"), ==, 250);

  /* Held mail is listed once the server has filed it. */
  g_assert_true (test_wait_for (has_held, NULL, TEST_TIMEOUT_MS));
  g_assert_cmpint (test_ctl (NULL, &out, NULL, "held", "--json", NULL), ==, 0);
  node = parse_json (out);
  held = json_node_get_array (node);
  g_assert_cmpuint (json_array_get_length (held), ==, 1);
  id = g_strdup_printf ("%" G_GINT64_FORMAT, json_object_get_int_member (json_array_get_object_element (held, 0), "id"));

  g_assert_cmpint (test_ctl (NULL, NULL, NULL, "drop", id, NULL), ==, 0);
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&node, json_node_unref);
  g_assert_cmpint (test_ctl (NULL, &out, NULL, "held", "--json", NULL), ==, 0);
  node = parse_json (out);
  g_assert_cmpuint (json_array_get_length (json_node_get_array (node)), ==, 0);

  /* Gone: the server says so. */
  g_assert_cmpint (test_ctl (NULL, NULL, NULL, "release", id, NULL), ==, 1);
}

static void
test_timeline_devices (TestFixture *fixture,
                       gconstpointer data)
{
  g_autofree char *address = NULL;
  g_autofree char *out = NULL;

  test_pair (fixture->server, USER);
  g_assert_cmpint (test_ctl (NULL, &out, NULL, "new", "--label", "Shown", "--kind", "open", "--qr", NULL), ==, 0);
  address = g_strndup (out, strcspn (out, "\n"));
  wait_synced (fixture);
  g_clear_pointer (&out, g_free);

  g_assert_cmpint (test_ctl (NULL, &out, NULL, "timeline", address, NULL), ==, 0);
  g_assert_nonnull (strstr (out, "share"));
  g_assert_nonnull (strstr (out, "qr"));
  g_clear_pointer (&out, g_free);

  g_assert_cmpint (test_ctl (NULL, &out, NULL, "devices", NULL), ==, 0);
  g_assert_nonnull (strstr (out, "(this device)"));
  g_assert_cmpint (test_ctl (NULL, NULL, NULL, "revoke-device", "me", NULL), ==, 2);
  g_assert_cmpint (test_ctl (NULL, NULL, NULL, "revoke-device", "999999", NULL), ==, 1);
}

int
main (int argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/postern/cli/usage", test_usage);
  g_test_add_func ("/postern/cli/unreachable", test_unreachable);
  g_test_add ("/postern/cli/not-paired", TestFixture, NULL, test_fixture_set_up, test_not_paired, test_fixture_tear_down);
  g_test_add ("/postern/cli/pair/uri", TestFixture, NULL, test_fixture_set_up, test_pair_uri, test_fixture_tear_down);
  g_test_add ("/postern/cli/pair/mismatch", TestFixture, NULL, test_fixture_set_up, test_pair_mismatch, test_fixture_tear_down);
  g_test_add ("/postern/cli/pair/confirm", TestFixture, NULL, test_fixture_set_up, test_pair_confirm, test_fixture_tear_down);
  g_test_add ("/postern/cli/channel/lifecycle", TestFixture, NULL, test_fixture_set_up, test_channel_lifecycle, test_fixture_tear_down);
  g_test_add ("/postern/cli/channel/json", TestFixture, NULL, test_fixture_set_up, test_json, test_fixture_tear_down);
  g_test_add ("/postern/cli/channel/qr", TestFixture, NULL, test_fixture_set_up, test_qr, test_fixture_tear_down);
  g_test_add ("/postern/cli/channel/copy-without-tool", TestFixture, NULL, test_fixture_set_up, test_copy_without_tool, test_fixture_tear_down);
  g_test_add ("/postern/cli/channel/copy-xclip", TestFixture, NULL, test_fixture_set_up, test_copy_xclip, test_fixture_tear_down);
  g_test_add ("/postern/cli/events/follow", TestFixture, NULL, test_fixture_set_up, test_events_follow, test_fixture_tear_down);
  g_test_add ("/postern/cli/timeline-devices", TestFixture, NULL, test_fixture_set_up, test_timeline_devices, test_fixture_tear_down);
  g_test_add ("/postern/cli/held", TestFixture, NULL, test_fixture_set_up, test_held, test_fixture_tear_down);

  return g_test_run ();
}
