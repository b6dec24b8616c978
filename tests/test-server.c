/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <signal.h>
#include <stdarg.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include <glib/gstdio.h>

#include "postern-client.h"
#include "test-server.h"

#define TEST_DOMAIN    "ch.postern.test"
#define SMTP_MAX_LINES 100 /* lines of one multi-line reply */

const char *
test_required_env (const char *name)
{
  const char *value = g_getenv (name);

  if (value == NULL || *value == '\0')
    g_error ("%s is not set: run this test through meson", name);
  return value;
}

static void
wait_cb (GObject *source,
         GAsyncResult *result,
         gpointer user_data)
{
  g_subprocess_wait_finish (G_SUBPROCESS (source), result, NULL);
  *(gboolean *)user_data = TRUE;
}

int
test_subprocess_wait (GSubprocess *process,
                      guint timeout_ms)
{
  gboolean done = FALSE;

  g_subprocess_wait_async (process, NULL, wait_cb, &done);
  if (!test_spin_until (&done, timeout_ms))
    {
      g_test_message ("process %s did not exit within %u ms: killing it",
                      g_subprocess_get_identifier (process), timeout_ms);
      g_subprocess_force_exit (process);
      test_spin_until (&done, 5000);
      return -1;
    }
  return g_subprocess_get_status (process);
}

/* ---- processes ---------------------------------------------------------------- */

/* Children die with the test, even when an assertion aborts it: nothing is
 * left holding the test's output open. */
static void
die_with_parent_cb (gpointer user_data)
{
  prctl (PR_SET_PDEATHSIG, SIGKILL);
}

GSubprocessLauncher *
test_launcher_new (GSubprocessFlags flags)
{
  GSubprocessLauncher *launcher = g_subprocess_launcher_new (flags);

  g_subprocess_launcher_set_child_setup (launcher, die_with_parent_cb, NULL, NULL);
  return launcher;
}

GSubprocess *
test_spawn (GSubprocessFlags flags,
            const char *const *argv)
{
  g_autoptr (GSubprocessLauncher) launcher = test_launcher_new (flags);
  g_autoptr (GError) error = NULL;
  GSubprocess *process = g_subprocess_launcher_spawnv (launcher, argv, &error);

  g_assert_no_error (error);
  return process;
}

typedef struct
{
  gboolean done;
  char *out;
  char *err;
  GError *error;
} Communicate;

static void
communicate_cb (GObject *source,
                GAsyncResult *result,
                gpointer user_data)
{
  Communicate *c = user_data;

  g_subprocess_communicate_utf8_finish (G_SUBPROCESS (source), result, &c->out, &c->err, &c->error);
  c->done = TRUE;
}

int
test_run_captured (GSubprocessLauncher *launcher,
                   const char *const *argv,
                   const char *input,
                   char **out_stdout,
                   char **out_stderr,
                   guint timeout_ms)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GSubprocess) process = NULL;
  Communicate c = {
    0,
  };
  int status;

  process = g_subprocess_launcher_spawnv (launcher, argv, &error);
  g_assert_no_error (error);
  g_subprocess_communicate_utf8_async (process, input != NULL ? input : "", NULL, communicate_cb, &c);
  if (!test_spin_until (&c.done, timeout_ms))
    {
      g_test_message ("%s did not finish within %u ms", argv[0], timeout_ms);
      g_subprocess_force_exit (process);
      test_spin_until (&c.done, 5000);
      g_assert_not_reached ();
    }
  g_assert_no_error (c.error);
  test_subprocess_wait (process, 5000);
  status = g_subprocess_get_if_exited (process) ? g_subprocess_get_exit_status (process) : 128 + g_subprocess_get_term_sig (process);

  if (out_stdout != NULL)
    *out_stdout = g_steal_pointer (&c.out);
  if (out_stderr != NULL)
    *out_stderr = g_steal_pointer (&c.err);
  g_free (c.out);
  g_free (c.err);
  return status;
}

/* @prefix (NULL-terminated) then the variable arguments. */
static GPtrArray *
collect_args (const char *const *prefix,
              const char *first_arg,
              va_list args)
{
  GPtrArray *argv = g_ptr_array_new ();

  for (guint i = 0; prefix[i] != NULL; i++)
    g_ptr_array_add (argv, (gpointer)prefix[i]);
  for (const char *arg = first_arg; arg != NULL; arg = va_arg (args, const char *))
    g_ptr_array_add (argv, (gpointer)arg);
  g_ptr_array_add (argv, NULL);
  return argv;
}

/* ---- posternd ---------------------------------------------------------------- */

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

TestServer *
test_server_new (const char *user)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *config = NULL;
  g_autofree char *state = NULL;
  g_autofree char *maildir = NULL;
  g_autofree char *out = NULL;
  TestServer *server = g_new0 (TestServer, 1);

  server->dir = g_dir_make_tmp ("postern-server-XXXXXX", &error);
  g_assert_no_error (error);
  state = g_build_filename (server->dir, "state", NULL);
  maildir = g_build_filename (server->dir, "Maildir", NULL);
  g_assert_cmpint (g_mkdir_with_parents (state, 0700), ==, 0);
  server->domain = g_strdup (TEST_DOMAIN);
  server->api_port = free_port ();
  server->smtp_port = free_port ();
  server->url = g_strdup_printf ("https://127.0.0.1:%u", server->api_port);
  server->config_path = g_build_filename (server->dir, "posternd.conf", NULL);

  config = g_strdup_printf ("[server]\n"
                            "state_dir=%s\n"
                            "domains=%s\n"
                            "hostname=mx.postern.test\n"
                            "\n"
                            "[smtp]\n"
                            "listen=127.0.0.1:%u\n"
                            "\n"
                            "[api]\n"
                            "listen=127.0.0.1:%u\n",
                            state, TEST_DOMAIN, server->smtp_port, server->api_port);
  g_file_set_contents (server->config_path, config, -1, &error);
  g_assert_no_error (error);

  /* A Maildir target: held mail is a delivery kept back, so the user
   * needs somewhere to deliver to. */
  out = test_server_admin (server, "user", "add", user, "--maildir", maildir, NULL);
  return server;
}

char *
test_server_admin (TestServer *server,
                   const char *first_arg,
                   ...)
{
  g_autoptr (GSubprocessLauncher) launcher = test_launcher_new (G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE);
  g_autoptr (GPtrArray) argv = NULL;
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  va_list args;
  int status;

  const char *prefix[] = { test_required_env ("POSTERN_TEST_POSTERND"), "--config", server->config_path, NULL };

  va_start (args, first_arg);
  argv = collect_args (prefix, first_arg, args);
  va_end (args);

  status = test_run_captured (launcher, (const char *const *)argv->pdata, NULL, &out, &err, TEST_TIMEOUT_MS);
  if (status != 0)
    g_error ("posternd %s failed (%d): %s%s", first_arg, status, out, err);
  return g_steal_pointer (&out);
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
  TestServer *server = user_data;

  return port_open (server->api_port) && port_open (server->smtp_port);
}

void
test_server_start (TestServer *server)
{
  g_autoptr (GError) error = NULL;
  const char *argv[] = { test_required_env ("POSTERN_TEST_POSTERND"), "--config", server->config_path, "run", NULL };

  g_assert_null (server->process);
  server->process = test_spawn (G_SUBPROCESS_FLAGS_NONE, argv);
  if (!test_wait_for (server_ready, server, TEST_TIMEOUT_MS))
    g_error ("posternd did not open its ports within %d ms", TEST_TIMEOUT_MS);
}

void
test_server_stop (TestServer *server)
{
  int status;

  if (server->process == NULL)
    return;
  g_subprocess_send_signal (server->process, SIGTERM);
  status = test_subprocess_wait (server->process, TEST_TIMEOUT_MS);
  g_clear_object (&server->process);
  g_assert_cmpint (status, !=, -1);
}

void
test_server_free (TestServer *server)
{
  g_autofree char *command = NULL;

  test_server_stop (server);
  /* The directory holds only what this test made. */
  command = g_strdup_printf ("rm -rf '%s'", server->dir);
  g_assert_cmpint (system (command), ==, 0);
  g_free (server->dir);
  g_free (server->config_path);
  g_free (server->domain);
  g_free (server->url);
  g_free (server);
}

char *
test_server_pair_uri (TestServer *server,
                      const char *user)
{
  g_autofree char *out = test_server_admin (server, "pair", user, NULL);
  const char *start = strstr (out, "postern://pair?");
  size_t length;

  if (start == NULL)
    g_error ("posternd pair printed no URI: %s", out);
  length = strcspn (start, " \t\r\n");
  return g_strndup (start, length);
}

typedef struct
{
  gboolean done;
  char *fingerprint;
} Probe;

static void
probe_cb (GObject *source,
          GAsyncResult *result,
          gpointer user_data)
{
  Probe *probe = user_data;
  g_autoptr (GError) error = NULL;

  probe->fingerprint = postern_api_client_probe_finish (result, &error);
  g_assert_no_error (error);
  probe->done = TRUE;
}

char *
test_server_fingerprint (TestServer *server)
{
  Probe probe = {
    0,
  };

  postern_api_client_probe_async (server->url, NULL, probe_cb, &probe);
  g_assert_true (test_spin_until (&probe.done, TEST_TIMEOUT_MS));
  g_assert_nonnull (probe.fingerprint);
  return probe.fingerprint;
}

/* ---- a second device, straight on the API ------------------------------------ */

typedef struct
{
  gboolean done;
  GObject *object;
  char *text;
  GError *error;
} ApiResult;

static void
api_pair_cb (GObject *source,
             GAsyncResult *result,
             gpointer user_data)
{
  ApiResult *r = user_data;

  r->text = postern_api_client_pair_finish (POSTERN_API_CLIENT (source), result, NULL, NULL, &r->error);
  r->done = TRUE;
}

PosternApiClient *
test_api_device_new (TestServer *server,
                     const char *user)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *uri = test_server_pair_uri (server, user);
  g_autofree char *url = NULL;
  g_autofree char *code = NULL;
  g_autofree char *fingerprint = NULL;
  g_autoptr (PosternApiClient) client = NULL;
  ApiResult r = {
    0,
  };

  g_assert_true (postern_pair_uri_parse (uri, &url, &code, &fingerprint, &error));
  g_assert_no_error (error);
  client = postern_api_client_new (url, fingerprint, NULL, &error);
  g_assert_no_error (error);
  postern_api_client_pair_async (client, code, "test-admin", NULL, api_pair_cb, &r);
  g_assert_true (test_spin_until (&r.done, TEST_TIMEOUT_MS));
  g_assert_no_error (r.error);
  g_free (r.text);
  return g_steal_pointer (&client);
}

PosternChannel *
test_api_channel_template (const char *label)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PosternChannel) channel = postern_channel_new ();
  g_autofree char *id = postern_uuid_new ();
  g_autofree char *local = postern_address_generate_local_part (POSTERN_ADDRESS_STYLE_RANDOM);
  g_autofree char *address = g_strconcat (local, "@" TEST_DOMAIN, NULL);

  g_assert_true (postern_channel_set_id (channel, id, &error));
  g_assert_true (postern_channel_set_address (channel, address, &error));
  g_assert_true (postern_channel_set_label (channel, label, &error));
  g_assert_no_error (error);
  postern_channel_set_kind (channel, POSTERN_CHANNEL_KIND_OPEN);
  return g_steal_pointer (&channel);
}

static void
api_channel_cb (GObject *source,
                GAsyncResult *result,
                gpointer user_data)
{
  ApiResult *r = user_data;

  r->object = G_OBJECT (postern_api_client_create_channel_finish (POSTERN_API_CLIENT (source), result, &r->error));
  r->done = TRUE;
}

static void
api_get_channel_cb (GObject *source,
                    GAsyncResult *result,
                    gpointer user_data)
{
  ApiResult *r = user_data;

  r->object = G_OBJECT (postern_api_client_get_channel_finish (POSTERN_API_CLIENT (source), result, &r->error));
  r->done = TRUE;
}

PosternChannel *
test_api_create_channel (PosternApiClient *client,
                         const char *label)
{
  g_autoptr (PosternChannel) channel = test_api_channel_template (label);
  ApiResult r = {
    0,
  };

  postern_api_client_create_channel_async (client, channel, NULL, api_channel_cb, &r);
  g_assert_true (test_spin_until (&r.done, TEST_TIMEOUT_MS));
  g_assert_no_error (r.error);
  return POSTERN_CHANNEL (r.object);
}

PosternChannel *
test_api_get_channel (PosternApiClient *client,
                      const char *id)
{
  ApiResult r = {
    0,
  };

  postern_api_client_get_channel_async (client, id, NULL, api_get_channel_cb, &r);
  g_assert_true (test_spin_until (&r.done, TEST_TIMEOUT_MS));
  g_assert_no_error (r.error);
  return POSTERN_CHANNEL (r.object);
}

/* ---- SMTP ---------------------------------------------------------------------- */

static int
smtp_reply (GDataInputStream *in)
{
  for (guint i = 0; i < SMTP_MAX_LINES; i++)
    {
      g_autoptr (GError) error = NULL;
      g_autofree char *line = g_data_input_stream_read_line (in, NULL, NULL, &error);

      if (line == NULL || strlen (line) < 3 || !g_ascii_isdigit (line[0]))
        return -1;
      if (line[3] != '-')
        return atoi (line);
    }
  return -1;
}

static gboolean
smtp_send_line (GOutputStream *out,
                const char *line)
{
  g_autofree char *with_crlf = g_strconcat (line, "\r\n", NULL);

  return g_output_stream_write_all (out, with_crlf, strlen (with_crlf), NULL, NULL, NULL);
}

int
test_smtp_send (guint16 port,
                const char *from,
                const char *to,
                const char *subject)
{
  return test_smtp_send_timed (port, from, to, subject, NULL);
}

int
test_smtp_send_timed (guint16 port,
                      const char *from,
                      const char *to,
                      const char *subject,
                      gint64 *out_accepted_at)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GSocketClient) client = g_socket_client_new ();
  g_autoptr (GSocketConnection) connection = NULL;
  g_autoptr (GDataInputStream) in = NULL;
  g_autofree char *mail = g_strdup_printf ("MAIL FROM:<%s>", from);
  g_autofree char *rcpt = g_strdup_printf ("RCPT TO:<%s>", to);
  g_autofree char *message = NULL;
  GOutputStream *out;
  int code;

  g_socket_client_set_timeout (client, 10);
  connection = g_socket_client_connect_to_host (client, "127.0.0.1", port, NULL, &error);
  g_assert_no_error (error);
  in = g_data_input_stream_new (g_io_stream_get_input_stream (G_IO_STREAM (connection)));
  g_data_input_stream_set_newline_type (in, G_DATA_STREAM_NEWLINE_TYPE_CR_LF);
  out = g_io_stream_get_output_stream (G_IO_STREAM (connection));

  if ((code = smtp_reply (in)) != 220)
    return code;
  if (!smtp_send_line (out, "EHLO client.postern.test") || (code = smtp_reply (in)) != 250)
    return code;
  if (!smtp_send_line (out, mail) || (code = smtp_reply (in)) != 250)
    return code;
  if (!smtp_send_line (out, rcpt) || ((code = smtp_reply (in)) != 250 && code != 251))
    return code;
  if (!smtp_send_line (out, "DATA") || (code = smtp_reply (in)) != 354)
    return code;

  message = g_strdup_printf ("From: <%s>\r\n"
                             "To: <%s>\r\n"
                             "Subject: %s\r\n"
                             "Message-ID: <%u.%" G_GINT64_FORMAT "@client.postern.test>\r\n"
                             "\r\n"
                             "Hello from the Postern tests.\r\n"
                             ".",
                             from, to, subject, g_random_int (), g_get_real_time ());
  if (!smtp_send_line (out, message))
    return -1;
  code = smtp_reply (in);
  if (out_accepted_at != NULL)
    *out_accepted_at = g_get_monotonic_time ();
  smtp_send_line (out, "QUIT");
  smtp_reply (in);
  return code;
}
