/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <signal.h>
#include <sys/prctl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "keyring-util.h"
#include "postern-client.h"
#include "test-loop.h"

/*
 * The sync engine and the API client against a real posternd on
 * 127.0.0.1 (real TLS with its self-signed certificate) and a real
 * gnome-keyring: run through tests/desktop-session.sh with
 * POSTERN_TEST_POSTERND naming the server binary (meson does both).
 * Every wait is bounded; every process is stopped by its PID.
 */

#define TIMEOUT_MS  20000
#define TEST_DOMAIN "ch.postern.test"
#define TEST_USER   "alice"

/* ---- main loop ------------------------------------------------------------- */

/* ---- posternd ------------------------------------------------------------------ */

typedef struct
{
  char *dir;
  char *config_path;
  char *url;
  guint16 api_port;
  guint16 smtp_port;
  GSubprocess *process;
} Server;

static const char *
posternd_path (void)
{
  const char *path = g_getenv ("POSTERN_TEST_POSTERND");

  if (path == NULL || !g_file_test (path, G_FILE_TEST_IS_EXECUTABLE))
    g_error ("POSTERN_TEST_POSTERND does not name the posternd binary: run this test through meson");
  return path;
}

static guint16
free_port (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GSocket) socket = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, &error);
  g_autoptr (GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr (GSocketAddress) any = g_inet_socket_address_new (loopback, 0);
  g_autoptr (GSocketAddress) bound = NULL;

  g_assert_no_error (error);
  g_socket_bind (socket, any, FALSE, &error);
  g_assert_no_error (error);
  bound = g_socket_get_local_address (socket, &error);
  g_assert_no_error (error);
  return g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
}

typedef struct
{
  gboolean done;
  char *out;
  char *err;
} Communicate;

static void
communicate_cb (GObject *source,
                GAsyncResult *result,
                gpointer user_data)
{
  Communicate *c = user_data;
  g_autoptr (GError) error = NULL;

  g_subprocess_communicate_utf8_finish (G_SUBPROCESS (source), result, &c->out, &c->err, &error);
  g_assert_no_error (error);
  c->done = TRUE;
}

static void
process_wait_cb (GObject *source,
                 GAsyncResult *result,
                 gpointer user_data)
{
  g_subprocess_wait_finish (G_SUBPROCESS (source), result, NULL);
  *(gboolean *)user_data = TRUE;
}

static void
process_wait (GSubprocess *process)
{
  gboolean done = FALSE;

  g_subprocess_wait_async (process, NULL, process_wait_cb, &done);
  if (!test_spin_until (&done, TIMEOUT_MS))
    {
      g_subprocess_force_exit (process);
      test_spin_until (&done, 5000);
      g_error ("%s did not exit in time", g_subprocess_get_identifier (process));
    }
}

static char *
server_admin (Server *server,
              const char *first_arg,
              ...)
{
  g_autoptr (GPtrArray) argv = g_ptr_array_new ();
  g_autoptr (GError) error = NULL;
  g_autoptr (GSubprocess) process = NULL;
  Communicate c = {
    0,
  };
  va_list args;

  g_ptr_array_add (argv, (gpointer)posternd_path ());
  g_ptr_array_add (argv, (gpointer) "--config");
  g_ptr_array_add (argv, server->config_path);
  va_start (args, first_arg);
  for (const char *arg = first_arg; arg != NULL; arg = va_arg (args, const char *))
    g_ptr_array_add (argv, (gpointer)arg);
  va_end (args);
  g_ptr_array_add (argv, NULL);

  process = g_subprocess_newv ((const char *const *)argv->pdata,
                               G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE, &error);
  g_assert_no_error (error);
  g_subprocess_communicate_utf8_async (process, NULL, NULL, communicate_cb, &c);
  g_assert_true (test_spin_until (&c.done, TIMEOUT_MS));
  process_wait (process);
  if (!g_subprocess_get_successful (process))
    g_error ("posternd %s failed: %s%s", first_arg, c.out, c.err);
  g_free (c.err);
  return c.out;
}

static Server *
server_new (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *state = NULL;
  g_autofree char *maildir = NULL;
  g_autofree char *config = NULL;
  g_autofree char *out = NULL;
  Server *server = g_new0 (Server, 1);

  server->dir = g_dir_make_tmp ("postern-client-test-XXXXXX", &error);
  g_assert_no_error (error);
  state = g_build_filename (server->dir, "state", NULL);
  server->api_port = free_port ();
  server->smtp_port = free_port ();
  server->url = g_strdup_printf ("https://127.0.0.1:%u", server->api_port);
  server->config_path = g_build_filename (server->dir, "posternd.conf", NULL);
  config = g_strdup_printf ("[server]\nstate_dir=%s\ndomains=" TEST_DOMAIN "\nhostname=mx.postern.test\n\n"
                            "[smtp]\nlisten=127.0.0.1:%u\n\n"
                            "[api]\nlisten=127.0.0.1:%u\npublic_url=%s\n",
                            state, server->smtp_port, server->api_port, server->url);
  g_file_set_contents (server->config_path, config, -1, &error);
  g_assert_no_error (error);

  maildir = g_build_filename (server->dir, "Maildir", NULL);
  out = server_admin (server, "user", "add", TEST_USER, "--maildir", maildir, NULL);
  return server;
}

static gboolean
port_open (guint16 port)
{
  g_autoptr (GSocketClient) client = g_socket_client_new ();
  g_autoptr (GSocketConnection) connection = NULL;

  g_socket_client_set_timeout (client, 1);
  connection = g_socket_client_connect_to_host (client, "127.0.0.1", port, NULL, NULL);
  return connection != NULL;
}

static gboolean
server_ready (gpointer user_data)
{
  Server *server = user_data;

  return port_open (server->api_port) && port_open (server->smtp_port);
}

/* A failed assertion aborts the test: the server must not outlive it. */
static void
die_with_parent (gpointer user_data)
{
  prctl (PR_SET_PDEATHSIG, SIGKILL);
}

static void
server_start (Server *server)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GSubprocessLauncher) launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_NONE);
  const char *argv[] = { posternd_path (), "--config", server->config_path, "run", NULL };

  g_assert_null (server->process);
  g_subprocess_launcher_set_child_setup (launcher, die_with_parent, NULL, NULL);
  server->process = g_subprocess_launcher_spawnv (launcher, argv, &error);
  g_assert_no_error (error);
  if (!test_wait_for (server_ready, server, TIMEOUT_MS))
    g_error ("posternd did not open its ports in time");
}

static void
server_stop (Server *server)
{
  if (server->process == NULL)
    return;
  g_subprocess_send_signal (server->process, SIGTERM);
  process_wait (server->process);
  g_clear_object (&server->process);
}

static void
server_free (Server *server)
{
  g_autofree char *command = NULL;

  server_stop (server);
  command = g_strdup_printf ("rm -rf '%s'", server->dir);
  g_assert_cmpint (system (command), ==, 0);
  g_free (server->dir);
  g_free (server->config_path);
  g_free (server->url);
  g_free (server);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Server, server_free)

static char *
server_pair_uri (Server *server)
{
  g_autofree char *out = server_admin (server, "pair", TEST_USER, NULL);
  const char *start = strstr (out, "postern://pair?");

  if (start == NULL)
    g_error ("posternd pair printed no URI: %s", out);
  return g_strndup (start, strcspn (start, " \t\r\n"));
}

static char *
server_fingerprint (Server *server)
{
  g_autofree char *out = server_admin (server, "fingerprint", NULL);

  return g_strstrip (g_strdup (out));
}

/* One SMTP transaction; returns the code that ended it (250: accepted). */
static int
smtp_reply (GDataInputStream *in)
{
  for (guint i = 0; i < 100; i++)
    {
      g_autofree char *line = g_data_input_stream_read_line (in, NULL, NULL, NULL);

      if (line == NULL || strlen (line) < 4 || !g_ascii_isdigit (line[0]))
        return -1;
      if (line[3] != '-')
        return atoi (line);
    }
  return -1;
}

static int
smtp_send (Server *server,
           const char *from,
           const char *to,
           const char *subject)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GSocketClient) client = g_socket_client_new ();
  g_autoptr (GSocketConnection) connection = NULL;
  g_autoptr (GDataInputStream) in = NULL;
  g_autofree char *data = NULL;
  const char *steps[5];
  int expect[5] = { 250, 250, 250, 354, 250 };
  GOutputStream *out;
  g_autofree char *mail = g_strdup_printf ("MAIL FROM:<%s>\r\n", from);
  g_autofree char *rcpt = g_strdup_printf ("RCPT TO:<%s>\r\n", to);
  int code;

  data = g_strdup_printf ("From: <%s>\r\nTo: <%s>\r\nSubject: %s\r\nMessage-ID: <%u@test.example>\r\n\r\nHello.\r\n.\r\n",
                          from, to, subject, g_random_int ());
  steps[0] = "EHLO client.postern.test\r\n";
  steps[1] = mail;
  steps[2] = rcpt;
  steps[3] = "DATA\r\n";
  steps[4] = data;

  g_socket_client_set_timeout (client, 10);
  connection = g_socket_client_connect_to_host (client, "127.0.0.1", server->smtp_port, NULL, &error);
  g_assert_no_error (error);
  in = g_data_input_stream_new (g_io_stream_get_input_stream (G_IO_STREAM (connection)));
  g_data_input_stream_set_newline_type (in, G_DATA_STREAM_NEWLINE_TYPE_CR_LF);
  out = g_io_stream_get_output_stream (G_IO_STREAM (connection));

  if ((code = smtp_reply (in)) != 220)
    return code;
  for (guint i = 0; i < G_N_ELEMENTS (steps); i++)
    {
      g_assert_true (g_output_stream_write_all (out, steps[i], strlen (steps[i]), NULL, NULL, NULL));
      code = smtp_reply (in);
      if (code != expect[i])
        return code;
    }
  g_output_stream_write_all (out, "QUIT\r\n", 6, NULL, NULL, NULL);
  return code;
}

/* ---- the engine ---------------------------------------------------------------- */

static PosternSyncEngine *
engine_new (void)
{
  PosternSyncEngine *engine = postern_sync_engine_new ();

  postern_sync_engine_set_backoff (engine, 50, 400);
  return engine;
}

static void
engine_start (PosternSyncEngine *engine)
{
  g_autoptr (GError) error = NULL;
  TestWait wait = {
    0,
  };

  postern_sync_engine_start_async (engine, NULL, test_wait_cb, &wait);
  postern_sync_engine_start_finish (engine, test_wait_result (&wait), &error);
  g_assert_no_error (error);
  g_object_unref (wait.result);
}

static void
engine_shutdown (PosternSyncEngine *engine)
{
  g_autoptr (GError) error = NULL;
  TestWait wait = {
    0,
  };

  postern_sync_engine_shutdown_async (engine, NULL, test_wait_cb, &wait);
  postern_sync_engine_shutdown_finish (engine, test_wait_result (&wait), &error);
  g_assert_no_error (error);
  g_object_unref (wait.result);
}

static void
engine_unpair (PosternSyncEngine *engine)
{
  g_autoptr (GError) error = NULL;
  TestWait wait = {
    0,
  };

  postern_sync_engine_unpair_async (engine, NULL, test_wait_cb, &wait);
  postern_sync_engine_unpair_finish (engine, test_wait_result (&wait), &error);
  g_assert_no_error (error);
  g_object_unref (wait.result);
}

static gboolean
engine_pair (PosternSyncEngine *engine,
             const char *uri,
             const char *fingerprint,
             GError **error)
{
  TestWait wait = {
    0,
  };
  gboolean ok;

  postern_sync_engine_pair_async (engine, uri, NULL, fingerprint, "test-device", NULL, test_wait_cb, &wait);
  ok = postern_sync_engine_pair_finish (engine, test_wait_result (&wait), error);
  g_object_unref (wait.result);
  return ok;
}

typedef struct
{
  PosternSyncEngine *engine;
  PosternSyncStatus status;
} StatusWait;

static gboolean
has_status (gpointer user_data)
{
  StatusWait *w = user_data;

  return postern_sync_engine_get_status (w->engine) == w->status;
}

static void
assert_status_within (PosternSyncEngine *engine,
                      PosternSyncStatus status,
                      guint timeout_ms)
{
  StatusWait w = { engine, status };

  if (!test_wait_for (has_status, &w, timeout_ms))
    g_error ("status %s expected, still %s (%s)", postern_sync_status_to_string (status),
             postern_sync_status_to_string (postern_sync_engine_get_status (engine)),
             postern_sync_engine_get_status_message (engine));
}

static gboolean
nothing_pending (gpointer user_data)
{
  return postern_sync_engine_get_pending_count (user_data) == 0;
}

static PosternChannel *
find_by_label (PosternSyncEngine *engine,
               const char *label)
{
  GListModel *model = postern_sync_engine_get_channels (engine);

  for (guint i = 0; i < g_list_model_get_n_items (model); i++)
    {
      g_autoptr (PosternChannel) channel = g_list_model_get_item (model, i);

      if (g_strcmp0 (postern_channel_get_label (channel), label) == 0)
        return postern_sync_engine_lookup_channel (engine, postern_channel_get_id (channel));
    }
  return NULL;
}

typedef struct
{
  PosternSyncEngine *engine;
  const char *label;
} LabelWait;

static gboolean
has_label (gpointer user_data)
{
  LabelWait *w = user_data;

  return find_by_label (w->engine, w->label) != NULL;
}

typedef struct
{
  PosternSyncEngine *engine;
  const char *id;
} RemovedWait;

static gboolean
is_removed (gpointer user_data)
{
  RemovedWait *w = user_data;

  return postern_sync_engine_lookup_channel (w->engine, w->id) == NULL;
}

static PosternApiClient *
second_device (Server *server,
               const char *fingerprint)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *uri = server_pair_uri (server);
  g_autofree char *url = NULL;
  g_autofree char *code = NULL;
  g_autofree char *token = NULL;
  PosternApiClient *client;
  TestWait wait = {
    0,
  };

  g_assert_true (postern_pair_uri_parse (uri, &url, &code, NULL, &error));
  client = postern_api_client_new (url, fingerprint, NULL, &error);
  g_assert_no_error (error);
  postern_api_client_pair_async (client, code, "second device", NULL, test_wait_cb, &wait);
  token = postern_api_client_pair_finish (client, test_wait_result (&wait), NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (token);
  g_object_unref (wait.result);
  return client;
}

static PosternChannel *
api_get_channel (PosternApiClient *client,
                 const char *id)
{
  g_autoptr (GError) error = NULL;
  PosternChannel *channel;
  TestWait wait = {
    0,
  };

  postern_api_client_get_channel_async (client, id, NULL, test_wait_cb, &wait);
  channel = postern_api_client_get_channel_finish (client, test_wait_result (&wait), &error);
  g_assert_no_error (error);
  g_object_unref (wait.result);
  return channel;
}

/* ---- tests ----------------------------------------------------------------------- */

static void
test_pair_and_sync (void)
{
  g_autoptr (Server) server = server_new ();
  g_autoptr (PosternSyncEngine) engine = engine_new ();
  g_autoptr (PosternApiClient) other = NULL;
  g_autoptr (PosternSecretStore) store = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *fingerprint = NULL;
  g_autofree char *probed = NULL;
  g_autofree char *uri = NULL;
  g_autofree char *out = NULL;
  g_autofree char *token = NULL;
  g_autofree char *pin = NULL;
  g_autoptr (JsonObject) changes = json_object_new ();
  TestWait wait = {
    0,
  };
  LabelWait label_wait;
  RemovedWait removed_wait;
  g_autofree char *id = NULL;
  PosternChannel *from_admin;

  out = server_admin (server, "channel", "add", TEST_USER, "--label", "Made by the admin", NULL);
  server_start (server);
  fingerprint = server_fingerprint (server);

  /* Probe: the certificate's fingerprint, without trusting it. */
  postern_api_client_probe_async (server->url, NULL, test_wait_cb, &wait);
  probed = postern_api_client_probe_finish (test_wait_result (&wait), &error);
  g_assert_no_error (error);
  g_clear_object (&wait.result);
  g_assert_cmpstr (probed, ==, fingerprint);

  engine_start (engine);
  g_assert_cmpint (postern_sync_engine_get_status (engine), ==, POSTERN_SYNC_STATUS_UNPAIRED);

  uri = server_pair_uri (server);
  g_assert_true (engine_pair (engine, uri, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (postern_sync_engine_get_user (engine), ==, TEST_USER);
  g_assert_cmpstr (postern_sync_engine_get_server (engine), ==, server->url);
  g_assert_cmpstr (postern_sync_engine_get_fingerprint (engine), ==, fingerprint);
  g_assert_cmpstr (postern_sync_engine_get_domains (engine)[0], ==, TEST_DOMAIN);
  assert_status_within (engine, POSTERN_SYNC_STATUS_ONLINE, TIMEOUT_MS);

  /* The channel the admin made is here. */
  from_admin = find_by_label (engine, "Made by the admin");
  g_assert_nonnull (from_admin);
  g_assert_cmpint (postern_channel_get_revision (from_admin), >, 0);
  g_assert_true (g_str_has_suffix (postern_channel_get_address (from_admin), "@" TEST_DOMAIN));

  /* The token and the pin are in the keyring, written. */
  store = postern_secret_store_new (server->url, TEST_USER);
  postern_secret_store_load_async (store, POSTERN_SECRET_TOKEN, NULL, test_wait_cb, &wait);
  wait.done = FALSE;
  token = postern_secret_store_load_finish (store, test_wait_result (&wait), &error);
  g_assert_no_error (error);
  g_clear_object (&wait.result);
  g_assert_cmpuint (strlen (token), ==, 64);
  wait.done = FALSE;
  postern_secret_store_load_async (store, POSTERN_SECRET_PIN, NULL, test_wait_cb, &wait);
  pin = postern_secret_store_load_finish (store, test_wait_result (&wait), &error);
  g_clear_object (&wait.result);
  g_assert_cmpstr (pin, ==, fingerprint);

  /* Another device changes the channel: the live push brings it, no poll. */
  other = second_device (server, fingerprint);
  /* from_admin is replaced by the engine once the change arrives. */
  id = g_strdup (postern_channel_get_id (from_admin));
  json_object_set_string_member (changes, "label", "Renamed elsewhere");
  wait.done = FALSE;
  postern_api_client_update_channel_async (other, postern_channel_get_id (from_admin), 0, changes,
                                           NULL, test_wait_cb, &wait);
  {
    g_autoptr (PosternChannel) updated = postern_api_client_update_channel_finish (other, test_wait_result (&wait), &error);
    g_assert_no_error (error);
    g_assert_cmpstr (postern_channel_get_label (updated), ==, "Renamed elsewhere");
  }
  g_clear_object (&wait.result);
  label_wait.engine = engine;
  label_wait.label = "Renamed elsewhere";
  g_assert_true (test_wait_for (has_label, &label_wait, 5000));

  /* … and a deletion elsewhere removes it here. */
  {
    gboolean deleted = FALSE;

    wait.done = FALSE;
    postern_api_client_delete_channel_async (other, id, NULL, test_wait_cb, &wait);
    deleted = postern_api_client_delete_channel_finish (other, test_wait_result (&wait), &error);
    g_assert_no_error (error);
    g_assert_true (deleted);
    g_clear_object (&wait.result);
    removed_wait.engine = engine;
    removed_wait.id = id;
    g_assert_true (test_wait_for (is_removed, &removed_wait, 5000));
  }

  engine_unpair (engine);
  g_assert_cmpint (postern_sync_engine_get_status (engine), ==, POSTERN_SYNC_STATUS_UNPAIRED);
  g_assert_cmpuint (g_list_model_get_n_items (postern_sync_engine_get_channels (engine)), ==, 0);
}

static void
test_pin_mismatch (void)
{
  g_autoptr (Server) server = server_new ();
  g_autoptr (PosternSyncEngine) engine = engine_new ();
  g_autoptr (PosternApiClient) client = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonNode) health = NULL;
  g_autofree char *fingerprint = NULL;
  g_autofree char *expected = NULL;
  g_autofree char *uri = NULL;
  const char *wrong = "00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF";
  TestWait wait = {
    0,
  };

  server_start (server);
  fingerprint = server_fingerprint (server);

  client = postern_api_client_new (server->url, wrong, NULL, &error);
  g_assert_no_error (error);
  postern_api_client_health_async (client, NULL, test_wait_cb, &wait);
  health = postern_api_client_health_finish (client, test_wait_result (&wait), &error);
  g_clear_object (&wait.result);
  g_assert_null (health);
  g_assert_error (error, POSTERN_CLIENT_ERROR, POSTERN_CLIENT_ERROR_UNTRUSTED);
  expected = g_strdup_printf ("The server's certificate changed (expected %s, got %s)", wrong, fingerprint);
  g_assert_cmpstr (error->message, ==, expected);
  g_clear_error (&error);

  /* The right pin works over the same client. */
  g_assert_true (postern_api_client_set_fingerprint (client, fingerprint, &error));
  wait.done = FALSE;
  postern_api_client_health_async (client, NULL, test_wait_cb, &wait);
  health = postern_api_client_health_finish (client, test_wait_result (&wait), &error);
  g_clear_object (&wait.result);
  g_assert_no_error (error);
  g_assert_nonnull (health);

  /* Pairing with a fingerprint the server does not present is refused,
   * and the code is not spent: pairing with the right one still works. */
  engine_start (engine);
  uri = server_pair_uri (server);
  g_assert_false (engine_pair (engine, uri, wrong, &error));
  g_assert_error (error, POSTERN_CLIENT_ERROR, POSTERN_CLIENT_ERROR_UNTRUSTED);
  g_clear_error (&error);
  g_assert_false (postern_sync_engine_get_paired (engine));
  g_assert_cmpint (postern_sync_engine_get_status (engine), ==, POSTERN_SYNC_STATUS_UNPAIRED);
  g_assert_true (engine_pair (engine, uri, NULL, &error));
  g_assert_no_error (error);
  engine_unpair (engine);
}

typedef struct
{
  GPtrArray *alerts;
  gint64 first_alert_at;
} Alerts;

static void
alert_cb (PosternSyncEngine *engine,
          PosternEvent *event,
          PosternChannel *channel,
          gpointer user_data)
{
  Alerts *alerts = user_data;

  if (alerts->alerts->len == 0)
    alerts->first_alert_at = g_get_monotonic_time ();
  g_ptr_array_add (alerts->alerts, g_object_ref (event));
}

static gboolean
has_alert (gpointer user_data)
{
  return ((Alerts *)user_data)->alerts->len > 0;
}

static void
test_live_event (void)
{
  g_autoptr (Server) server = server_new ();
  g_autoptr (PosternSyncEngine) engine = engine_new ();
  g_autoptr (PosternChannel) template_ = postern_channel_new ();
  g_autoptr (PosternSenderPattern) jane = postern_sender_pattern_parse ("jane@acme.example", NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) events = NULL;
  g_autofree char *uri = NULL;
  g_autofree char *address = NULL;
  Alerts alerts = { g_ptr_array_new_with_free_func (g_object_unref), 0 };
  PosternChannel *channel;
  PosternEvent *event;
  gint64 sent_at;

  server_start (server);
  engine_start (engine);
  uri = server_pair_uri (server);
  g_assert_true (engine_pair (engine, uri, NULL, &error));
  assert_status_within (engine, POSTERN_SYNC_STATUS_ONLINE, TIMEOUT_MS);

  /* A relationship channel made on this device (client-minted id and
   * address), expecting Jane. */
  g_assert_true (postern_channel_set_label (template_, "Jane at FOSDEM", NULL));
  postern_channel_set_kind (template_, POSTERN_CHANNEL_KIND_RELATIONSHIP);
  g_assert_true (postern_channel_add_expected_sender (template_, jane, NULL));
  channel = postern_sync_engine_create_channel (engine, template_, POSTERN_ADDRESS_STYLE_RANDOM, &error);
  g_assert_no_error (error);
  address = g_strdup (postern_channel_get_address (channel));
  g_assert_true (test_wait_for (nothing_pending, engine, TIMEOUT_MS));
  channel = find_by_label (engine, "Jane at FOSDEM");
  g_assert_cmpint (postern_channel_get_revision (channel), >, 0);
  g_assert_cmpstr (postern_channel_get_address (channel), ==, address);

  g_signal_connect (engine, "alert", G_CALLBACK (alert_cb), &alerts);

  /* Jane: expected, no alert. A stranger: an alert, pushed. */
  g_assert_cmpint (smtp_send (server, "jane@acme.example", address, "Hello"), ==, 250);
  sent_at = g_get_monotonic_time ();
  g_assert_cmpint (smtp_send (server, "spam@bulk.example", address, "Offer"), ==, 250);
  g_assert_true (test_wait_for (has_alert, &alerts, 5000));
  g_test_message ("FIGURE alert latency (SMTP 250 to the engine's alert signal): %.1f ms",
                  (alerts.first_alert_at - sent_at) / 1000.0);
  g_assert_cmpuint (alerts.alerts->len, ==, 1);
  event = g_ptr_array_index (alerts.alerts, 0);
  g_assert_cmpstr (postern_event_get_envelope_sender (event), ==, "spam@bulk.example");
  g_assert_cmpstr (postern_event_get_subject (event), ==, "Offer");
  g_assert_cmpint (postern_event_get_verdict (event), ==, POSTERN_VERDICT_UNEXPECTED);
  g_assert_cmpuint (postern_sync_engine_get_unread_alerts (engine), ==, 1);

  events = postern_sync_engine_list_events (engine, postern_channel_get_id (channel), 0);
  g_assert_cmpuint (events->len, ==, 2);
  g_assert_cmpstr (postern_event_get_envelope_sender (g_ptr_array_index (events, 0)), ==, "spam@bulk.example");

  postern_sync_engine_mark_alerts_read (engine, NULL);
  g_assert_cmpuint (postern_sync_engine_get_unread_alerts (engine), ==, 0);

  g_signal_handlers_disconnect_by_data (engine, &alerts);
  g_ptr_array_unref (alerts.alerts);
  engine_unpair (engine);
}

static void
test_offline_queue (void)
{
  g_autoptr (Server) server = server_new ();
  g_autoptr (PosternSyncEngine) engine = engine_new ();
  g_autoptr (PosternSyncEngine) restarted = NULL;
  g_autoptr (PosternSyncEngine) third = NULL;
  g_autoptr (PosternChannel) template_ = postern_channel_new ();
  g_autoptr (PosternChannel) before = NULL;
  g_autoptr (PosternChannel) after = NULL;
  g_autoptr (PosternChannel) created = NULL;
  g_autoptr (PosternChannel) again = NULL;
  g_autoptr (PosternApiClient) other = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *uri = NULL;
  g_autofree char *fingerprint = NULL;
  g_autofree char *kept_id = NULL;
  g_autofree char *offline_id = NULL;
  g_autofree char *offline_address = NULL;
  PosternChannel *channel;

  server_start (server);
  fingerprint = server_fingerprint (server);
  engine_start (engine);
  uri = server_pair_uri (server);
  g_assert_true (engine_pair (engine, uri, NULL, &error));
  assert_status_within (engine, POSTERN_SYNC_STATUS_ONLINE, TIMEOUT_MS);

  g_assert_true (postern_channel_set_label (template_, "To be revoked offline", NULL));
  channel = postern_sync_engine_create_channel (engine, template_, POSTERN_ADDRESS_STYLE_WORDS, &error);
  g_assert_no_error (error);
  kept_id = g_strdup (postern_channel_get_id (channel));
  g_assert_true (test_wait_for (nothing_pending, engine, TIMEOUT_MS));

  other = second_device (server, fingerprint);
  before = api_get_channel (other, kept_id);
  g_assert_cmpint (postern_channel_get_state (before), ==, POSTERN_CHANNEL_STATE_ACTIVE);

  /* The server goes away. */
  server_stop (server);
  assert_status_within (engine, POSTERN_SYNC_STATUS_OFFLINE, TIMEOUT_MS);

  /* Offline: revoke one, create another; both apply locally at once. */
  g_assert_true (postern_sync_engine_revoke (engine, kept_id, &error));
  g_assert_no_error (error);
  g_assert_cmpint (postern_channel_get_state (postern_sync_engine_lookup_channel (engine, kept_id)), ==,
                   POSTERN_CHANNEL_STATE_REVOKED);
  g_assert_true (postern_channel_set_label (template_, "Made offline", NULL));
  channel = postern_sync_engine_create_channel (engine, template_, POSTERN_ADDRESS_STYLE_RANDOM, &error);
  g_assert_no_error (error);
  offline_id = g_strdup (postern_channel_get_id (channel));
  offline_address = g_strdup (postern_channel_get_address (channel));
  g_assert_cmpuint (postern_sync_engine_get_pending_count (engine), ==, 2);
  {
    g_autofree char *pending = postern_sync_engine_dup_pending_json (engine);
    g_assert_nonnull (strstr (pending, "\"op\":\"revoke\""));
    g_assert_nonnull (strstr (pending, "\"op\":\"create\""));
  }

  /* The agent restarts while the server is down: everything is read back
   * from the keyring. */
  engine_shutdown (engine);
  g_clear_object (&engine);
  restarted = engine_new ();
  engine_start (restarted);
  g_assert_true (postern_sync_engine_get_paired (restarted));
  g_assert_cmpuint (postern_sync_engine_get_pending_count (restarted), ==, 2);
  g_assert_nonnull (find_by_label (restarted, "Made offline"));
  g_assert_cmpint (postern_channel_get_state (postern_sync_engine_lookup_channel (restarted, kept_id)), ==,
                   POSTERN_CHANNEL_STATE_REVOKED);
  assert_status_within (restarted, POSTERN_SYNC_STATUS_OFFLINE, TIMEOUT_MS);

  /* The server comes back: the queue drains. */
  server_start (server);
  g_assert_true (test_wait_for (nothing_pending, restarted, TIMEOUT_MS));
  assert_status_within (restarted, POSTERN_SYNC_STATUS_ONLINE, TIMEOUT_MS);

  /* Exactly once: revoked with one revision step, created with our id and
   * address. */
  after = api_get_channel (other, kept_id);
  g_assert_cmpint (postern_channel_get_state (after), ==, POSTERN_CHANNEL_STATE_REVOKED);
  g_assert_cmpint (postern_channel_get_revision (after), ==, postern_channel_get_revision (before) + 1);
  created = api_get_channel (other, offline_id);
  g_assert_cmpstr (postern_channel_get_address (created), ==, offline_address);

  /* Another restart with the server up replays nothing more. */
  engine_shutdown (restarted);
  g_clear_object (&restarted);
  third = engine_new ();
  engine_start (third);
  g_assert_cmpuint (postern_sync_engine_get_pending_count (third), ==, 0);
  assert_status_within (third, POSTERN_SYNC_STATUS_ONLINE, TIMEOUT_MS);
  again = api_get_channel (other, kept_id);
  g_assert_cmpint (postern_channel_get_revision (again), ==, postern_channel_get_revision (after));

  engine_unpair (third);
}

static void
test_keyring_locked (void)
{
  g_autoptr (Server) server = server_new ();
  g_autoptr (PosternSyncEngine) engine = engine_new ();
  g_autoptr (PosternSyncEngine) restarted = NULL;
  g_autoptr (PosternChannel) template_ = postern_channel_new ();
  g_autoptr (GError) error = NULL;
  g_autofree char *uri = NULL;
  g_autofree char *id = NULL;
  PosternChannel *channel;
  TestWait wait = {
    0,
  };

  server_start (server);
  engine_start (engine);
  uri = server_pair_uri (server);
  g_assert_true (engine_pair (engine, uri, NULL, &error));
  assert_status_within (engine, POSTERN_SYNC_STATUS_ONLINE, TIMEOUT_MS);
  g_assert_true (postern_channel_set_label (template_, "Before the lock", NULL));
  channel = postern_sync_engine_create_channel (engine, template_, POSTERN_ADDRESS_STYLE_RANDOM, &error);
  g_assert_no_error (error);
  id = g_strdup (postern_channel_get_id (channel));
  g_assert_true (test_wait_for (nothing_pending, engine, TIMEOUT_MS));
  engine_shutdown (engine);
  g_clear_object (&engine);

  /* The agent starts while the keyring is locked: the clear message, no
   * prompt, and it carries on by itself once the keyring is unlocked. */
  keyring_test_lock ();
  restarted = engine_new ();
  postern_sync_engine_start_async (restarted, NULL, test_wait_cb, &wait);
  postern_sync_engine_start_finish (restarted, test_wait_result (&wait), &error);
  g_clear_object (&wait.result);
  g_assert_error (error, POSTERN_CLIENT_ERROR, POSTERN_CLIENT_ERROR_KEYRING_LOCKED);
  g_clear_error (&error);
  g_assert_cmpint (postern_sync_engine_get_status (restarted), ==, POSTERN_SYNC_STATUS_KEYRING_LOCKED);
  g_assert_cmpstr (postern_sync_engine_get_status_message (restarted), ==, "Unlock the login keyring to sync channels");

  keyring_test_unlock ();
  assert_status_within (restarted, POSTERN_SYNC_STATUS_ONLINE, TIMEOUT_MS);
  g_assert_nonnull (postern_sync_engine_lookup_channel (restarted, id));

  /* Locked while running: changes still apply and queue; the status says
   * why they are not saved; nothing is lost once it unlocks. */
  keyring_test_lock ();
  g_assert_true (postern_sync_engine_pause (restarted, id, &error));
  g_assert_no_error (error);
  assert_status_within (restarted, POSTERN_SYNC_STATUS_KEYRING_LOCKED, TIMEOUT_MS);
  keyring_test_unlock ();
  assert_status_within (restarted, POSTERN_SYNC_STATUS_ONLINE, TIMEOUT_MS);
  g_assert_true (test_wait_for (nothing_pending, restarted, TIMEOUT_MS));
  g_assert_cmpint (postern_channel_get_state (postern_sync_engine_lookup_channel (restarted, id)), ==,
                   POSTERN_CHANNEL_STATE_PAUSED);

  engine_unpair (restarted);
}

/* Runs one asynchronous call of the API client to completion. */
#define CALL(result_var, finish_expr_with_RESULT, start_expr) \
  G_STMT_START                                                \
  {                                                           \
    TestWait wait_ = {                                        \
      0,                                                      \
    };                                                        \
    GAsyncResult *RESULT;                                     \
    start_expr;                                               \
    RESULT = test_wait_result (&wait_);                       \
    result_var = finish_expr_with_RESULT;                     \
    g_object_unref (RESULT);                                  \
  }                                                           \
  G_STMT_END

static void
test_every_endpoint (void)
{
  g_autoptr (Server) server = server_new ();
  g_autoptr (PosternSyncEngine) engine = engine_new ();
  g_autoptr (PosternChannel) template_ = postern_channel_new ();
  g_autoptr (PosternApiClient) other = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonNode) health = NULL;
  g_autoptr (JsonNode) account = NULL;
  g_autoptr (JsonNode) devices = NULL;
  g_autoptr (JsonNode) timeline = NULL;
  g_autoptr (JsonNode) held = NULL;
  g_autoptr (JsonNode) other_account = NULL;
  g_autoptr (PosternChannel) with_sender = NULL;
  g_autoptr (PosternChannel) without_sender = NULL;
  g_autoptr (PosternBlockEntry) block = NULL;
  g_autoptr (GPtrArray) blocks = NULL;
  g_autoptr (GPtrArray) events = NULL;
  g_autofree char *uri = NULL;
  g_autofree char *fingerprint = NULL;
  g_autofree char *id = NULL;
  g_autofree char *address = NULL;
  PosternApiClient *client;
  PosternChannel *channel;
  gboolean ok = FALSE;
  gint64 cursor = 0;
  gint64 held_id = 0;
  gint64 other_device = 0;

  server_start (server);
  fingerprint = server_fingerprint (server);
  engine_start (engine);
  uri = server_pair_uri (server);
  g_assert_true (engine_pair (engine, uri, NULL, &error));
  assert_status_within (engine, POSTERN_SYNC_STATUS_ONLINE, TIMEOUT_MS);
  client = postern_sync_engine_get_api_client (engine);

  CALL (health, postern_api_client_health_finish (client, RESULT, &error),
        postern_api_client_health_async (client, NULL, test_wait_cb, &wait_));
  g_assert_no_error (error);
  g_assert_cmpstr (json_object_get_string_member (json_node_get_object (health), "status"), ==, "ok");

  CALL (account, postern_api_client_get_account_finish (client, RESULT, &error),
        postern_api_client_get_account_async (client, NULL, test_wait_cb, &wait_));
  g_assert_no_error (error);
  g_assert_cmpstr (json_object_get_string_member (json_node_get_object (account), "user"), ==, TEST_USER);

  /* A channel that holds mail from strangers. */
  g_assert_true (postern_channel_set_label (template_, "Holding", NULL));
  postern_channel_set_kind (template_, POSTERN_CHANNEL_KIND_RELATIONSHIP);
  postern_channel_set_on_unexpected (template_, POSTERN_UNEXPECTED_HOLD);
  channel = postern_sync_engine_create_channel (engine, template_, POSTERN_ADDRESS_STYLE_RANDOM, &error);
  g_assert_no_error (error);
  id = g_strdup (postern_channel_get_id (channel));
  address = g_strdup (postern_channel_get_address (channel));
  g_assert_true (test_wait_for (nothing_pending, engine, TIMEOUT_MS));

  CALL (with_sender, postern_api_client_add_sender_finish (client, RESULT, &error),
        postern_api_client_add_sender_async (client, id, "jane@acme.example", NULL, test_wait_cb, &wait_));
  g_assert_no_error (error);
  g_assert_cmpuint (postern_channel_get_expected_senders (with_sender)->len, ==, 1);
  CALL (without_sender, postern_api_client_remove_sender_finish (client, RESULT, &error),
        postern_api_client_remove_sender_async (client, id, "jane@acme.example", NULL, test_wait_cb, &wait_));
  g_assert_no_error (error);
  g_assert_cmpuint (postern_channel_get_expected_senders (without_sender)->len, ==, 0);
  g_assert_cmpint (postern_channel_get_revision (without_sender), >, postern_channel_get_revision (with_sender));

  CALL (ok, postern_api_client_record_share_finish (client, RESULT, &error),
        postern_api_client_record_share_async (client, id, POSTERN_SHARE_QR, "Jane at FOSDEM", NULL, test_wait_cb, &wait_));
  g_assert_no_error (error);
  g_assert_true (ok);
  CALL (timeline, postern_api_client_get_timeline_finish (client, RESULT, &error),
        postern_api_client_get_timeline_async (client, id, NULL, test_wait_cb, &wait_));
  g_assert_no_error (error);
  g_assert_nonnull (timeline);

  CALL (block, postern_api_client_add_block_finish (client, RESULT, &error),
        postern_api_client_add_block_async (client, "@bulk.example", NULL, NULL, test_wait_cb, &wait_));
  g_assert_no_error (error);
  g_assert_cmpint (block->id, >, 0);
  g_assert_null (block->channel_id);
  CALL (blocks, postern_api_client_list_blocks_finish (client, RESULT, &error),
        postern_api_client_list_blocks_async (client, NULL, test_wait_cb, &wait_));
  g_assert_no_error (error);
  g_assert_cmpuint (blocks->len, ==, 1);
  g_clear_pointer (&blocks, g_ptr_array_unref);
  CALL (ok, postern_api_client_remove_block_finish (client, RESULT, &error),
        postern_api_client_remove_block_async (client, block->id, NULL, test_wait_cb, &wait_));
  g_assert_no_error (error);
  CALL (blocks, postern_api_client_list_blocks_finish (client, RESULT, &error),
        postern_api_client_list_blocks_async (client, NULL, test_wait_cb, &wait_));
  g_assert_cmpuint (blocks->len, ==, 0);
  g_clear_pointer (&blocks, g_ptr_array_unref);

  /* Held mail: listed, then dropped. */
  g_assert_cmpint (smtp_send (server, "stranger@else.example", address, "Hold me"), ==, 250);
  for (guint attempt = 0; attempt < 50; attempt++)
    {
      g_clear_pointer (&held, json_node_unref);
      CALL (held, postern_api_client_list_held_finish (client, RESULT, &error),
            postern_api_client_list_held_async (client, NULL, test_wait_cb, &wait_));
      g_assert_no_error (error);
      g_assert_true (JSON_NODE_HOLDS_ARRAY (held));
      if (json_array_get_length (json_node_get_array (held)) > 0)
        break;
      test_spin_for (100);
    }
  g_assert_cmpuint (json_array_get_length (json_node_get_array (held)), ==, 1);
  held_id = json_object_get_int_member (json_array_get_object_element (json_node_get_array (held), 0), "id");
  g_clear_pointer (&held, json_node_unref);
  CALL (ok, postern_api_client_drop_held_finish (client, RESULT, &error),
        postern_api_client_drop_held_async (client, held_id, NULL, test_wait_cb, &wait_));
  g_assert_no_error (error);
  CALL (held, postern_api_client_list_held_finish (client, RESULT, &error),
        postern_api_client_list_held_async (client, NULL, test_wait_cb, &wait_));
  g_assert_cmpuint (json_array_get_length (json_node_get_array (held)), ==, 0);

  CALL (events, postern_api_client_list_events_finish (client, RESULT, &cursor, &error),
        postern_api_client_list_events_async (client, 0, 10, TRUE, id, NULL, NULL, test_wait_cb, &wait_));
  g_assert_no_error (error);
  g_assert_cmpuint (events->len, ==, 1);
  g_assert_cmpint (postern_event_get_verdict (g_ptr_array_index (events, 0)), ==, POSTERN_VERDICT_HELD);
  g_assert_cmpint (cursor, >=, postern_event_get_id (g_ptr_array_index (events, 0)));

  /* Queued through the engine: a block and a share reach the server. */
  g_assert_true (postern_sync_engine_block (engine, "spam@bulk.example", id, &error));
  g_assert_true (postern_sync_engine_record_share (engine, id, POSTERN_SHARE_CLIPBOARD, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (test_wait_for (nothing_pending, engine, TIMEOUT_MS));
  CALL (blocks, postern_api_client_list_blocks_finish (client, RESULT, &error),
        postern_api_client_list_blocks_async (client, NULL, test_wait_cb, &wait_));
  g_assert_cmpuint (blocks->len, ==, 1);
  g_assert_cmpstr (((PosternBlockEntry *)g_ptr_array_index (blocks, 0))->channel_id, ==, id);

  /* Devices: a second one, revoked from the first; its token stops working. */
  other = second_device (server, fingerprint);
  CALL (devices, postern_api_client_list_devices_finish (client, RESULT, &error),
        postern_api_client_list_devices_async (client, NULL, test_wait_cb, &wait_));
  g_assert_no_error (error);
  g_assert_true (JSON_NODE_HOLDS_ARRAY (devices));
  g_assert_cmpuint (json_array_get_length (json_node_get_array (devices)), ==, 2);
  for (guint i = 0; i < 2; i++)
    {
      JsonObject *device = json_array_get_object_element (json_node_get_array (devices), i);
      if (!json_object_get_boolean_member (device, "current"))
        other_device = json_object_get_int_member (device, "id");
    }
  g_assert_cmpint (other_device, >, 0);
  CALL (ok, postern_api_client_revoke_device_finish (client, RESULT, &error),
        postern_api_client_revoke_device_async (client, other_device, NULL, test_wait_cb, &wait_));
  g_assert_no_error (error);
  CALL (other_account, postern_api_client_get_account_finish (other, RESULT, &error),
        postern_api_client_get_account_async (other, NULL, test_wait_cb, &wait_));
  g_assert_null (other_account);
  g_assert_error (error, POSTERN_CLIENT_ERROR, POSTERN_CLIENT_ERROR_AUTH);
  g_clear_error (&error);

  engine_unpair (engine);
}

static void
test_device_revoked (void)
{
  g_autoptr (Server) server = server_new ();
  g_autoptr (PosternSyncEngine) engine = engine_new ();
  g_autoptr (PosternApiClient) other = NULL;
  g_autoptr (JsonNode) devices = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *uri = NULL;
  g_autofree char *fingerprint = NULL;
  gboolean ok = FALSE;
  gint64 engine_device = 0;

  server_start (server);
  fingerprint = server_fingerprint (server);
  engine_start (engine);
  uri = server_pair_uri (server);
  g_assert_true (engine_pair (engine, uri, NULL, &error));
  assert_status_within (engine, POSTERN_SYNC_STATUS_ONLINE, TIMEOUT_MS);

  /* The user removes this computer from another device. */
  other = second_device (server, fingerprint);
  CALL (devices, postern_api_client_list_devices_finish (other, RESULT, &error),
        postern_api_client_list_devices_async (other, NULL, test_wait_cb, &wait_));
  g_assert_no_error (error);
  for (guint i = 0; i < json_array_get_length (json_node_get_array (devices)); i++)
    {
      JsonObject *device = json_array_get_object_element (json_node_get_array (devices), i);
      if (!json_object_get_boolean_member (device, "current"))
        engine_device = json_object_get_int_member (device, "id");
    }
  g_assert_cmpint (engine_device, >, 0);
  CALL (ok, postern_api_client_revoke_device_finish (other, RESULT, &error),
        postern_api_client_revoke_device_async (other, engine_device, NULL, test_wait_cb, &wait_));
  g_assert_no_error (error);
  g_assert_true (ok);

  /* The live socket closes; the reconnect is refused; the engine says so
   * and stops trying. */
  assert_status_within (engine, POSTERN_SYNC_STATUS_UNPAIRED, TIMEOUT_MS);
  g_assert_cmpstr (postern_sync_engine_get_status_message (engine), ==,
                   "The server no longer accepts this device: pair it again");
  g_assert_false (postern_sync_engine_get_online (engine));

  engine_unpair (engine);
}

int
main (int argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  if (g_getenv ("POSTERN_TEST_KEYRING_PASSWORD") == NULL)
    {
      g_printerr ("Run this test through tests/desktop-session.sh (meson test does)\n");
      return 1;
    }
  posternd_path ();

  g_test_add_func ("/postern/client/sync/pair-and-sync", test_pair_and_sync);
  g_test_add_func ("/postern/client/sync/pin-mismatch", test_pin_mismatch);
  g_test_add_func ("/postern/client/sync/live-event", test_live_event);
  g_test_add_func ("/postern/client/sync/offline-queue", test_offline_queue);
  g_test_add_func ("/postern/client/sync/keyring-locked", test_keyring_locked);
  g_test_add_func ("/postern/client/sync/every-endpoint", test_every_endpoint);
  g_test_add_func ("/postern/client/sync/device-revoked", test_device_revoked);

  return g_test_run ();
}
