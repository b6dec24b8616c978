/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <string.h>
#include <sys/socket.h>

#include <gio/gio.h>
#include <glib/gstdio.h>

#include "pd-config.h"
#include "pd-smtp-server.h"
#include "pd-smtp-session.h"

/*
 * Golden transcripts: each tests/smtp/NAME.in is sent at once (so every
 * transcript also tests pipelining) through a socket pair to the real
 * connection driver and session machine; the replies must equal NAME.out.
 *
 * NAME.in syntax: every line is sent with CRLF appended. Inside a line,
 * {CR} and {LF} stand for a bare CR or LF, {NOEOL} at the end suppresses
 * the CRLF, and {C*N} repeats the character C N times. Leading lines
 * starting with "#!" are directives: "#! lmtp", "#! tls" (offer
 * STARTTLS), "#! limit KEY=VALUE" ([limits] keys), "#! keep-open" (the
 * client does not half-close after sending: the replies alone end it).
 *
 * The backend is a table keyed by the recipient's local part: "unknown"
 * 550 5.1.1, "closed" 550 5.1.1, "paused" 450 4.2.1, "blocked" 550 5.7.1,
 * anything else 250. Messages are answered with their size and the start
 * of their SHA-256, so the .out pins the exact bytes kept (dot-unstuffing).
 * LMTP answers per recipient; a local part starting "late" answers 452
 * after DATA.
 *
 * POSTERN_UPDATE_GOLDEN=1 rewrites the .out files (review the diff).
 */

#define TRANSCRIPT_TIMEOUT_SECONDS 20

static void
fake_recipient (PdSmtpSession *session,
                const PosternMailbox *sender,
                const PosternMailbox *recipient,
                gpointer user_data)
{
  PdSmtpReply reply = { 250, "2.1.5", "Recipient OK" };
  const char *local = recipient->local_part;

  if (g_str_has_prefix (local, "unknown"))
    reply = (PdSmtpReply){ 550, "5.1.1", "No such channel" };
  else if (g_str_has_prefix (local, "closed"))
    reply = (PdSmtpReply){ 550, "5.1.1", "Channel closed: bye" };
  else if (g_str_has_prefix (local, "paused"))
    reply = (PdSmtpReply){ 450, "4.2.1", "Channel paused, try again later" };
  else if (g_str_has_prefix (local, "blocked"))
    reply = (PdSmtpReply){ 550, "5.7.1", "Sender blocked" };
  pd_smtp_session_complete_recipient (session, &reply);
}

static void
fake_message (PdSmtpSession *session,
              GBytes *data,
              const PdHeaders *headers,
              gpointer user_data)
{
  g_autofree char *sum = g_compute_checksum_for_bytes (G_CHECKSUM_SHA256, data);
  g_autofree char *text = g_strdup_printf ("Queued: %" G_GSIZE_FORMAT " octets sha256 %.16s from=%s received=%u",
                                           g_bytes_get_size (data), sum,
                                           headers->from_address != NULL ? headers->from_address : "-",
                                           headers->n_received);
  GPtrArray *recipients = pd_smtp_session_get_recipients (session);
  g_autoptr (GArray) replies = g_array_new (FALSE, TRUE, sizeof (PdSmtpReply));

  if (pd_smtp_session_get_protocol (session) == PD_SMTP_PROTOCOL_LMTP)
    {
      for (guint i = 0; i < recipients->len; i++)
        {
          PdSmtpReply r = { 250, "2.0.0", text };

          if (g_str_has_prefix (g_ptr_array_index (recipients, i), "late"))
            r = (PdSmtpReply){ 452, "4.2.2", "Mailbox full" };
          g_array_append_val (replies, r);
        }
    }
  else
    {
      PdSmtpReply r = { 250, "2.0.0", text };

      g_array_append_val (replies, r);
    }
  pd_smtp_session_complete_message (session, (PdSmtpReply *)(gpointer)replies->data, replies->len);
}

static const PdSmtpBackend fake_backend = {
  fake_recipient,
  fake_message,
  NULL,
};

typedef struct
{
  gboolean lmtp;
  gboolean tls;
  gboolean keep_open;
} Directives;

/* Expands the .in syntax into the bytes to send. */
static GByteArray *
expand_input (const char *text,
              GString *config_limits,
              Directives *directives)
{
  g_auto (GStrv) lines = g_strsplit (text, "\n", -1);
  GByteArray *out = g_byte_array_new ();
  guint i = 0;
  guint n = g_strv_length (lines);

  /* A trailing newline leaves one empty last element: not a line. */
  if (n > 0 && *lines[n - 1] == '\0')
    n--;

  for (; i < n && g_str_has_prefix (lines[i], "#!"); i++)
    {
      const char *directive = lines[i] + 2;

      while (*directive == ' ')
        directive++;
      if (g_str_equal (directive, "lmtp"))
        directives->lmtp = TRUE;
      else if (g_str_equal (directive, "tls"))
        directives->tls = TRUE;
      else if (g_str_equal (directive, "keep-open"))
        directives->keep_open = TRUE;
      else if (g_str_has_prefix (directive, "limit "))
        g_string_append_printf (config_limits, "%s\n", directive + strlen ("limit "));
      else
        g_error ("unknown directive %s", directive);
    }

  for (; i < n; i++)
    {
      const char *p = lines[i];
      gboolean eol = TRUE;

      while (*p != '\0')
        {
          if (g_str_has_prefix (p, "{CR}"))
            {
              g_byte_array_append (out, (const guint8 *)"\r", 1);
              p += 4;
            }
          else if (g_str_has_prefix (p, "{LF}"))
            {
              g_byte_array_append (out, (const guint8 *)"\n", 1);
              p += 4;
            }
          else if (g_str_has_prefix (p, "{NOEOL}"))
            {
              eol = FALSE;
              p += 7;
            }
          else if (p[0] == '{' && p[1] != '\0' && p[2] == '*' && strchr (p, '}') != NULL)
            {
              guint64 count = g_ascii_strtoull (p + 3, NULL, 10);

              for (guint64 k = 0; k < count; k++)
                g_byte_array_append (out, (const guint8 *)&p[1], 1);
              p = strchr (p, '}') + 1;
            }
          else
            {
              g_byte_array_append (out, (const guint8 *)p, 1);
              p++;
            }
        }
      if (eol)
        g_byte_array_append (out, (const guint8 *)"\r\n", 2);
    }
  return out;
}

typedef struct
{
  GMainLoop *loop;
  GSocket *socket;
  GString *received;
  guint8 buffer[4096];
  gboolean keep_open;
  gboolean done;
  gboolean timed_out;
} Client;

static void
client_read_cb (GObject *source,
                GAsyncResult *result,
                gpointer user_data)
{
  Client *client = user_data;
  gssize n = g_input_stream_read_finish (G_INPUT_STREAM (source), result, NULL);

  if (n <= 0)
    {
      client->done = TRUE;
      g_main_loop_quit (client->loop);
      return;
    }
  g_string_append_len (client->received, (const char *)client->buffer, n);
  g_input_stream_read_async (G_INPUT_STREAM (source), client->buffer, sizeof client->buffer,
                             G_PRIORITY_DEFAULT, NULL, client_read_cb, client);
}

static void
client_write_cb (GObject *source,
                 GAsyncResult *result,
                 gpointer user_data)
{
  /* The server may close first (421): a failed write is part of the test,
   * the replies tell what happened. */
  Client *client = user_data;

  g_output_stream_write_all_finish (G_OUTPUT_STREAM (source), result, NULL, NULL);
  /* End of the transcript: the server sees EOF once it has read it all. */
  if (!client->keep_open)
    g_socket_shutdown (client->socket, FALSE, TRUE, NULL);
}

static gboolean
client_timeout_cb (gpointer user_data)
{
  Client *client = user_data;

  client->timed_out = TRUE;
  g_main_loop_quit (client->loop);
  return G_SOURCE_REMOVE;
}

static char *cert_dir;

/* A throwaway self-signed certificate made with openssl for this run. */
static GTlsCertificate *
make_certificate (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *cert = NULL;
  g_autofree char *key = NULL;
  GTlsCertificate *certificate;

  if (cert_dir == NULL)
    {
      int status = 0;

      cert_dir = g_dir_make_tmp ("postern-golden-XXXXXX", &error);
      g_assert_no_error (error);
      cert = g_build_filename (cert_dir, "cert.pem", NULL);
      key = g_build_filename (cert_dir, "key.pem", NULL);
      {
        const char *argv[] = { "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                               "-nodes", "-subj", "/CN=mx.test", "-days", "1", "-keyout", key, "-out", cert, NULL };

        if (!g_spawn_sync (NULL, (char **)argv, NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL | G_SPAWN_STDERR_TO_DEV_NULL,
                           NULL, NULL, NULL, NULL, &status, &error))
          g_error ("openssl is needed to make a test certificate: %s", error->message);
        g_assert_true (g_spawn_check_wait_status (status, NULL));
      }
    }
  g_clear_pointer (&cert, g_free);
  g_clear_pointer (&key, g_free);
  cert = g_build_filename (cert_dir, "cert.pem", NULL);
  key = g_build_filename (cert_dir, "key.pem", NULL);
  certificate = g_tls_certificate_new_from_files (cert, key, &error);
  g_assert_no_error (error);
  return certificate;
}

static void
remove_cert_dir (void)
{
  const char *names[] = { "cert.pem", "key.pem" };

  if (cert_dir == NULL)
    return;
  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    {
      g_autofree char *path = g_build_filename (cert_dir, names[i], NULL);

      g_remove (path);
    }
  g_rmdir (cert_dir);
  g_clear_pointer (&cert_dir, g_free);
}

static GSocketConnection *
connection_from_fd (int fd)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GSocket) socket = g_socket_new_from_fd (fd, &error);

  g_assert_no_error (error);
  return g_socket_connection_factory_create_connection (socket);
}

/* Converts CRLF to LF for comparison with the .out file; a bare LF in a
 * reply is a bug and shows up as "{LF}". */
static char *
normalise_replies (const GString *replies)
{
  GString *out = g_string_new (NULL);

  for (gsize i = 0; i < replies->len; i++)
    {
      char c = replies->str[i];

      if (c == '\r' && i + 1 < replies->len && replies->str[i + 1] == '\n')
        {
          g_string_append_c (out, '\n');
          i++;
        }
      else if (c == '\n')
        g_string_append (out, "{LF}");
      else if (c == '\r')
        g_string_append (out, "{CR}");
      else
        g_string_append_c (out, c);
    }
  return g_string_free (out, FALSE);
}

static void
test_transcript (gconstpointer data)
{
  const char *name = data;
  g_autofree char *in_path = g_test_build_filename (G_TEST_DIST, "smtp", name, NULL);
  g_autofree char *base = g_strndup (in_path, strlen (in_path) - 3);
  g_autofree char *out_path = g_strconcat (base, ".out", NULL);
  g_autofree char *in_text = NULL;
  g_autofree char *expected = NULL;
  g_autofree char *actual = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (GString) limits = g_string_new ("[server]\nstate_dir=/nonexistent\ndomains=ch.test;Other.TEST\nhostname=mx.test\n[limits]\n");
  g_autoptr (GByteArray) input = NULL;
  g_autoptr (PdConfig) config = NULL;
  g_autoptr (PdSmtpServer) server = NULL;
  g_autoptr (GSocketConnection) server_end = NULL;
  g_autoptr (GSocketConnection) client_end = NULL;
  g_autoptr (GTlsCertificate) certificate = NULL;
  Directives directives = { 0 };
  Client client = { 0 };
  int fds[2];
  guint timeout_id;

  g_assert_true (g_file_get_contents (in_path, &in_text, NULL, &error));
  g_assert_no_error (error);
  input = expand_input (in_text, limits, &directives);

  config = pd_config_load_from_data (limits->str, -1, &error);
  g_assert_no_error (error);
  g_assert_nonnull (config);

  if (directives.tls)
    certificate = make_certificate ();

  server = pd_smtp_server_new (config, certificate, &fake_backend, NULL);

  g_assert_cmpint (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), ==, 0);
  {
    /* Room for a whole transcript in the socket before the server reads
     * any of it: long-pipeline.in is more than one pump's worth. */
    int size = 1024 * 1024;

    g_assert_cmpint (setsockopt (fds[1], SOL_SOCKET, SO_SNDBUF, &size, sizeof size), ==, 0);
  }
  server_end = connection_from_fd (fds[0]);
  client_end = connection_from_fd (fds[1]);

  pd_smtp_server_handle_stream (server, G_IO_STREAM (server_end), directives.lmtp ? PD_SMTP_PROTOCOL_LMTP : PD_SMTP_PROTOCOL_SMTP,
                                "192.0.2.1");

  client.loop = g_main_loop_new (NULL, FALSE);
  client.keep_open = directives.keep_open;
  client.received = g_string_new (NULL);
  client.socket = g_socket_connection_get_socket (client_end);
  g_output_stream_write_all_async (g_io_stream_get_output_stream (G_IO_STREAM (client_end)), input->data, input->len,
                                   G_PRIORITY_DEFAULT, NULL, client_write_cb, &client);
  g_input_stream_read_async (g_io_stream_get_input_stream (G_IO_STREAM (client_end)), client.buffer,
                             sizeof client.buffer, G_PRIORITY_DEFAULT, NULL, client_read_cb, &client);
  timeout_id = g_timeout_add_seconds (TRANSCRIPT_TIMEOUT_SECONDS, client_timeout_cb, &client);
  g_main_loop_run (client.loop);
  if (!client.timed_out)
    g_source_remove (timeout_id);
  g_assert_false (client.timed_out);
  g_assert_true (client.done);

  actual = normalise_replies (client.received);
  g_string_free (client.received, TRUE);
  g_main_loop_unref (client.loop);

  if (g_getenv ("POSTERN_UPDATE_GOLDEN") != NULL)
    {
      g_assert_true (g_file_set_contents (out_path, actual, -1, &error));
      g_assert_no_error (error);
    }
  g_assert_true (g_file_get_contents (out_path, &expected, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (actual, ==, expected);

  /* Everything was closed: the server holds no session. */
  pd_smtp_server_stop (server);
  {
    g_autoptr (GMainContext) context = g_main_context_ref_thread_default ();

    for (guint spins = 0; spins < 1000 && pd_smtp_server_get_n_sessions (server) > 0; spins++)
      g_main_context_iteration (context, FALSE);
    while (g_main_context_iteration (context, FALSE))
      ;
  }
  g_assert_cmpuint (pd_smtp_server_get_n_sessions (server), ==, 0);
}

static void
discard_log_cb (const char *log_domain,
                GLogLevelFlags log_level,
                const char *message,
                gpointer user_data)
{
  /* Session event lines (g_message) are for operators; keep the test
   * output to what failed. Warnings still abort (G_DEBUG=fatal-warnings). */
}

static int
compare_names (gconstpointer a,
               gconstpointer b)
{
  return g_strcmp0 (*(const char *const *)a, *(const char *const *)b);
}

int
main (int argc,
      char **argv)
{
  g_autofree char *dir_path = NULL;
  g_autoptr (GDir) dir = NULL;
  g_autoptr (GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  const char *entry;

  g_test_init (&argc, &argv, NULL);
  g_log_set_handler ("posternd", G_LOG_LEVEL_MESSAGE | G_LOG_LEVEL_INFO | G_LOG_LEVEL_DEBUG, discard_log_cb, NULL);

  dir_path = g_test_build_filename (G_TEST_DIST, "smtp", NULL);
  dir = g_dir_open (dir_path, 0, NULL);
  g_assert_nonnull (dir);
  while ((entry = g_dir_read_name (dir)) != NULL)
    if (g_str_has_suffix (entry, ".in"))
      g_ptr_array_add (names, g_strdup (entry));
  g_ptr_array_sort (names, compare_names);
  /* An empty directory would pass vacuously. */
  g_assert_cmpuint (names->len, >=, 10);

  for (guint i = 0; i < names->len; i++)
    {
      const char *name = g_ptr_array_index (names, i);
      g_autofree char *stem = g_strndup (name, strlen (name) - 3);
      g_autofree char *path = g_strdup_printf ("/postern/server/smtp-golden/%s", stem);

      g_test_add_data_func (path, name, test_transcript);
    }

  {
    int status = g_test_run ();

    remove_cert_dir ();
    return status;
  }
}
