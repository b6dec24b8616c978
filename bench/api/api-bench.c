/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

/*
 * posternd API benchmark (not a test). Prints two figures:
 *
 * 1. Authenticated GET /api/v1/channels per second for a user with 1,000
 *    channels (about 330 KB of JSON per response), over HTTPS on
 *    loopback, at several client concurrencies; beside it the same
 *    without the server's list cache (every list read and serialized),
 *    for ?since=LATEST (an empty delta: what a syncing client asks) and
 *    for /api/v1/health (no auth, no store: the TLS + HTTP floor).
 * 2. Push latency: an SMTP client sends N messages to a channel one after
 *    the other; a WebSocket client on /api/v1/live receives each event.
 *    Latency is from the client reading the SMTP 250 (and, second figure,
 *    from the client sending the end of DATA) to the event frame arriving.
 *
 * The server (store, API, SMTP ingest) runs on its own thread and main
 * context, as in posternd; clients run on the main thread (HTTP,
 * WebSocket) and one more thread (SMTP, blocking). Everything is bounded
 * by counts and a deadline.
 *
 * Usage: api-bench [--dir DIR] [--seconds S] [--messages N]
 */

#include <glib/gstdio.h>
#include <libsoup/soup.h>

#include "api-smtp-client.h"
#include "pd-api-server.h"
#include "pd-config.h"
#include "pd-ingest.h"
#include "pd-smtp-server.h"
#include "pd-store-auth.h"
#include "pd-store.h"
#include "pd-tls.h"

#define N_CHANNELS 1000

typedef struct
{
  char *dir;
  GMainContext *context;
  GMainLoop *loop;
  GMutex lock;
  GCond ready_cond;
  gboolean ready;
  GError *error;

  /* Set by the server thread. */
  PdStore *store;
  PdApiServer *api;
  PdApiServer *api_uncached; /* the same without the list cache */
  char *url_uncached;
  PdSmtpServer *smtp;
  PdIngest *ingest;
  GTlsCertificate *certificate;
  char *url;
  char *token;
  char *channel_address;
  guint16 smtp_port;
} Server;

static gboolean
make_world (Server *s,
            GError **error)
{
  g_autoptr (PdStoreAuth) auth = NULL;
  g_autoptr (PdApiOptions) options = pd_api_options_new ();
  g_autoptr (PdUser) user = NULL;
  g_autoptr (PdConfig) config = NULL;
  g_autoptr (GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr (GSocketAddress) any = g_inet_socket_address_new (loopback, 0);
  g_autoptr (GSocketAddress) bound = NULL;
  g_autofree char *code = NULL;
  g_autofree char *config_text = NULL;
  const char *domains[] = { "ch.example.org", NULL };
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;

  s->store = pd_store_open (s->dir, error);
  if (s->store == NULL)
    return FALSE;
  auth = pd_store_auth_open (s->dir, error);
  if (auth == NULL)
    return FALSE;
  user = pd_store_add_user (s->store, "bench", NULL, NULL, error);
  if (user == NULL)
    return FALSE;
  for (guint i = 0; i < N_CHANNELS; i++)
    {
      g_autoptr (PosternChannel) channel = postern_channel_new ();
      g_autoptr (PosternChannel) stored = NULL;
      g_autofree char *id = postern_uuid_new ();
      g_autofree char *local = postern_address_generate_local_part (POSTERN_ADDRESS_STYLE_RANDOM);
      g_autofree char *address = g_strdup_printf ("%s@ch.example.org", local);
      g_autofree char *label = g_strdup_printf ("Channel %u, given out at a conference", i);

      postern_channel_set_id (channel, id, NULL);
      postern_channel_set_address (channel, address, NULL);
      postern_channel_set_label (channel, label, NULL);
      postern_channel_set_kind (channel, POSTERN_CHANNEL_KIND_OPEN);
      postern_channel_set_created_at (channel, now);
      stored = pd_store_create_channel (s->store, user->id, channel, error);
      if (stored == NULL)
        return FALSE;
      if (i == 0)
        s->channel_address = g_strdup (address);
    }
  code = pd_store_auth_create_pairing_code (auth, user->id, now, 600, error);
  if (code == NULL)
    return FALSE;
  s->token = pd_store_auth_redeem_pairing_code (auth, code, "bench", now, NULL, NULL, error);
  if (s->token == NULL)
    return FALSE;

  s->certificate = pd_tls_load_certificate (NULL, NULL, s->dir, "localhost", error);
  if (s->certificate == NULL)
    return FALSE;
  g_free (options->listen);
  options->listen = g_strdup ("127.0.0.1:0");
  options->certificate = g_object_ref (s->certificate);
  g_strfreev (options->domains);
  options->domains = g_strdupv ((char **)domains);
  s->api = pd_api_server_new (s->store, auth, options);
  options->no_list_cache = TRUE;
  s->api_uncached = pd_api_server_new (s->store, auth, options);
  if (!pd_api_server_listen (s->api_uncached, error))
    return FALSE;
  s->url_uncached = pd_api_server_get_url (s->api_uncached);
  if (!pd_api_server_listen (s->api, error))
    return FALSE;
  s->url = pd_api_server_get_url (s->api);

  config_text = g_strdup_printf ("[server]\nstate_dir=%s\ndomains=ch.example.org\n[smtp]\nlisten=127.0.0.1:0\n", s->dir);
  config = pd_config_load_from_data (config_text, -1, error);
  if (config == NULL)
    return FALSE;
  s->ingest = pd_ingest_new (s->store);
  s->smtp = pd_smtp_server_new (config, NULL, pd_ingest_get_backend (), s->ingest);
  bound = pd_smtp_server_add_listener (s->smtp, any, PD_SMTP_PROTOCOL_SMTP, error);
  if (bound == NULL)
    return FALSE;
  s->smtp_port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
  return TRUE;
}

static gpointer
server_thread (gpointer data)
{
  Server *s = data;

  g_main_context_push_thread_default (s->context);
  {
    gboolean ok = make_world (s, &s->error);

    g_mutex_lock (&s->lock);
    s->ready = TRUE;
    g_cond_signal (&s->ready_cond);
    g_mutex_unlock (&s->lock);
    if (ok)
      g_main_loop_run (s->loop);
  }
  if (s->smtp != NULL)
    pd_smtp_server_stop (s->smtp);
  if (s->api != NULL)
    pd_api_server_stop (s->api);
  if (s->api_uncached != NULL)
    pd_api_server_stop (s->api_uncached);
  for (guint i = 0; i < 1000 && g_main_context_iteration (s->context, FALSE); i++)
    ;
  g_clear_object (&s->smtp);
  g_clear_object (&s->ingest);
  g_clear_object (&s->api);
  g_clear_object (&s->api_uncached);
  g_clear_object (&s->store);
  g_main_context_pop_thread_default (s->context);
  return NULL;
}

/* ---- HTTP load ---- */

typedef struct
{
  SoupSession *session;
  Server *server;
  const char *url;
  const char *path;
  const char *token;
  gint64 deadline;
  guint in_flight;
  guint64 done;
  guint64 failed;
  guint64 bytes;
} Load;

static void issue (Load *load);

static gboolean
accept_cb (SoupMessage *msg,
           GTlsCertificate *peer,
           GTlsCertificateFlags errors,
           gpointer data)
{
  return g_tls_certificate_is_same (peer, data);
}

static void
load_done_cb (GObject *source,
              GAsyncResult *result,
              gpointer data)
{
  Load *load = data;
  SoupMessage *msg = soup_session_get_async_result_message (SOUP_SESSION (source), result);
  g_autoptr (GBytes) body = soup_session_send_and_read_finish (SOUP_SESSION (source), result, NULL);

  load->in_flight--;
  if (body != NULL && soup_message_get_status (msg) == 200)
    {
      load->done++;
      load->bytes += g_bytes_get_size (body);
    }
  else
    load->failed++;
  if (g_get_monotonic_time () < load->deadline)
    issue (load);
}

static void
issue (Load *load)
{
  g_autofree char *uri = g_strconcat (load->url, load->path, NULL);
  g_autoptr (SoupMessage) msg = soup_message_new ("GET", uri);

  if (load->token != NULL)
    {
      g_autofree char *value = g_strconcat ("Bearer ", load->token, NULL);

      soup_message_headers_replace (soup_message_get_request_headers (msg), "Authorization", value);
    }
  g_signal_connect (msg, "accept-certificate", G_CALLBACK (accept_cb), load->server->certificate);
  load->in_flight++;
  soup_session_send_and_read_async (load->session, msg, G_PRIORITY_DEFAULT, NULL, load_done_cb, load);
}

static void
run_load (Server *s,
          const char *url,
          const char *label,
          const char *path,
          const char *token,
          guint concurrency,
          double seconds)
{
  g_autoptr (SoupSession) session = soup_session_new_with_options ("max-conns", concurrency + 2,
                                                                   "max-conns-per-host", concurrency,
                                                                   "timeout", 30, NULL);

  /* The client trusts exactly the server's certificate: with the system
   * database, parsing the CA store for every new connection costs the
   * client more than the whole request costs the server. */
  {
    g_autofree char *path = g_build_filename (s->dir, "api-cert.pem", NULL);
    g_autoptr (GTlsDatabase) database = g_tls_file_database_new (path, NULL);

    soup_session_set_tls_database (session, database);
  }
  Load load = { session, s, url, path, token, 0, 0, 0, 0, 0 };
  gint64 start, end, hard_deadline;

  /* Warm up: connections and TLS sessions. */
  load.deadline = g_get_monotonic_time () + 300 * 1000;
  for (guint i = 0; i < concurrency; i++)
    issue (&load);
  while (load.in_flight > 0)
    g_main_context_iteration (NULL, TRUE);

  load.done = load.failed = load.bytes = 0;
  start = g_get_monotonic_time ();
  load.deadline = start + (gint64)(seconds * G_USEC_PER_SEC);
  hard_deadline = load.deadline + 30 * G_USEC_PER_SEC;
  for (guint i = 0; i < concurrency; i++)
    issue (&load);
  while (load.in_flight > 0 && g_get_monotonic_time () < hard_deadline)
    g_main_context_iteration (NULL, TRUE);
  end = g_get_monotonic_time ();

  g_print ("  %-34s c=%-3u %8.0f req/s  %7.1f MB/s  (%" G_GUINT64_FORMAT " ok, %" G_GUINT64_FORMAT " failed)\n",
           label, concurrency, load.done / ((end - start) / 1e6),
           load.bytes / ((end - start) / 1e6) / 1e6, load.done, load.failed);
}

/* ---- push latency ---- */

typedef struct
{
  Server *server;
  guint n;
  gint64 *t_sent;  /* end of DATA written */
  gint64 *t_250;   /* 250 read */
  gint64 *t_event; /* frame arrived */
  gint finished;
  GError *error;
} Push;

static gpointer
smtp_sender_thread (gpointer data)
{
  Push *push = data;
  ApiSmtpClient *client = api_smtp_connect (push->server->smtp_port, &push->error);

  for (guint i = 0; client != NULL && i < push->n; i++)
    {
      g_autofree char *message = g_strdup_printf ("From: <sender@acme.example>\r\nSubject: bench %u\r\n"
                                                  "Message-ID: <bench%u@acme.example>\r\n\r\nHello %u.",
                                                  i, i, i);

      push->t_sent[i] = g_get_monotonic_time ();
      if (!api_smtp_send (client, "sender@acme.example", push->server->channel_address, message, &push->error))
        break;
      push->t_250[i] = g_get_monotonic_time ();
    }
  api_smtp_close (client);
  g_atomic_int_set (&push->finished, 1);
  return NULL;
}

static void
frame_cb (SoupWebsocketConnection *connection,
          gint type,
          GBytes *message,
          gpointer data)
{
  Push *push = data;
  gint64 now = g_get_monotonic_time ();
  g_autoptr (JsonParser) parser = json_parser_new ();
  JsonObject *object, *event;
  const char *subject;
  guint64 index;

  if (!json_parser_load_from_data (parser, g_bytes_get_data (message, NULL), g_bytes_get_size (message), NULL))
    return;
  object = json_node_get_object (json_parser_get_root (parser));
  if (g_strcmp0 (json_object_get_string_member_with_default (object, "type", ""), "event") != 0)
    return;
  event = json_object_get_object_member (object, "event");
  subject = json_object_get_string_member_with_default (event, "subject", "");
  if (g_str_has_prefix (subject, "bench ") && g_ascii_string_to_unsigned (subject + 6, 10, 0, push->n - 1, &index, NULL))
    push->t_event[index] = now;
}

typedef struct
{
  SoupWebsocketConnection *connection;
  gboolean done;
  GError *error;
} Connect;

static void
connected_cb (GObject *source,
              GAsyncResult *result,
              gpointer data)
{
  Connect *c = data;

  c->connection = soup_session_websocket_connect_finish (SOUP_SESSION (source), result, &c->error);
  c->done = TRUE;
}

static int
compare_gint64 (gconstpointer a,
                gconstpointer b)
{
  gint64 x = *(const gint64 *)a, y = *(const gint64 *)b;

  return x < y ? -1 : x > y;
}

static void
print_percentiles (const char *label,
                   GArray *values)
{
  gint64 *v = (gint64 *)values->data;
  guint n = values->len;

  g_array_sort (values, compare_gint64);
  g_print ("  %-30s n=%u  p50 %.2f ms  p90 %.2f ms  p99 %.2f ms  max %.2f ms\n", label, n,
           v[n / 2] / 1000.0, v[(n * 90) / 100] / 1000.0, v[MIN (n - 1, (n * 99) / 100)] / 1000.0, v[n - 1] / 1000.0);
}

static gboolean
run_push (Server *s,
          guint n)
{
  g_autoptr (SoupSession) session = soup_session_new ();
  /* No event exists yet (cursor 0); a revision past every channel skips
   * the channel backlog. */
  g_autofree char *uri = g_strdup_printf ("%s/api/v1/live?cursor=0&revision=%d", s->url, G_MAXINT32);
  g_autoptr (SoupMessage) msg = soup_message_new ("GET", uri);
  g_autofree char *auth = g_strconcat ("Bearer ", s->token, NULL);
  g_autoptr (GArray) from_250 = g_array_new (FALSE, FALSE, sizeof (gint64));
  g_autoptr (GArray) from_data = g_array_new (FALSE, FALSE, sizeof (gint64));
  g_autoptr (GThread) thread = NULL;
  Connect c = { 0 };
  Push push = { 0 };
  gint64 deadline;
  guint early = 0, missing = 0;

  soup_message_headers_replace (soup_message_get_request_headers (msg), "Authorization", auth);
  g_signal_connect (msg, "accept-certificate", G_CALLBACK (accept_cb), s->certificate);
  soup_session_websocket_connect_async (session, msg, NULL, NULL, G_PRIORITY_DEFAULT, NULL, connected_cb, &c);
  deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
  while (!c.done && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, TRUE);
  if (c.connection == NULL)
    {
      g_printerr ("api-bench: live: %s\n", c.error ? c.error->message : "timeout");
      return FALSE;
    }

  push.server = s;
  push.n = n;
  push.t_sent = g_new0 (gint64, n);
  push.t_250 = g_new0 (gint64, n);
  push.t_event = g_new0 (gint64, n);
  g_signal_connect (c.connection, "message", G_CALLBACK (frame_cb), &push);

  thread = g_thread_new ("smtp-sender", smtp_sender_thread, &push);
  deadline = g_get_monotonic_time () + 300 * G_USEC_PER_SEC;
  while (g_get_monotonic_time () < deadline)
    {
      g_main_context_iteration (NULL, FALSE);
      if (g_atomic_int_get (&push.finished) && (n == 0 || push.t_event[n - 1] != 0))
        break;
      g_usleep (50);
    }
  /* Stragglers. */
  for (gint64 until = g_get_monotonic_time () + 500 * 1000; g_get_monotonic_time () < until;)
    g_main_context_iteration (NULL, FALSE);
  g_thread_join (g_steal_pointer (&thread));
  if (push.error != NULL)
    g_printerr ("api-bench: smtp: %s\n", push.error->message);

  for (guint i = 0; i < n; i++)
    {
      gint64 a, b;

      if (push.t_event[i] == 0 || push.t_250[i] == 0)
        {
          missing++;
          continue;
        }
      a = push.t_event[i] - push.t_250[i];
      b = push.t_event[i] - push.t_sent[i];
      if (a < 0)
        early++;
      a = MAX (a, 0);
      g_array_append_val (from_250, a);
      g_array_append_val (from_data, b);
    }
  g_print ("Push latency, %u messages over one SMTP session, one WebSocket:\n", n);
  if (from_250->len > 0)
    {
      print_percentiles ("SMTP 250 -> event frame", from_250);
      print_percentiles ("end of DATA -> event frame", from_data);
    }
  g_print ("  %u events arrived before the client read the 250 (counted as 0 ms); %u missing\n", early, missing);

  soup_websocket_connection_close (c.connection, SOUP_WEBSOCKET_CLOSE_NORMAL, NULL);
  for (guint i = 0; i < 100 && g_main_context_iteration (NULL, FALSE); i++)
    ;
  g_object_unref (c.connection);
  g_free (push.t_sent);
  g_free (push.t_250);
  g_free (push.t_event);
  return missing == 0;
}

static void
rm_rf (const char *path)
{
  GDir *dir = g_dir_open (path, 0, NULL);

  if (dir != NULL)
    {
      const char *name;

      while ((name = g_dir_read_name (dir)) != NULL)
        {
          g_autofree char *child = g_build_filename (path, name, NULL);

          if (g_file_test (child, G_FILE_TEST_IS_DIR) && !g_file_test (child, G_FILE_TEST_IS_SYMLINK))
            rm_rf (child);
          else
            g_unlink (child);
        }
      g_dir_close (dir);
    }
  g_rmdir (path);
}

static void
quiet_log_cb (const char *domain,
              GLogLevelFlags level,
              const char *message,
              gpointer data)
{
}

static gboolean
quit_cb (gpointer data)
{
  g_main_loop_quit (data);
  return G_SOURCE_REMOVE;
}

int
main (int argc,
      char **argv)
{
  g_autofree char *parent = NULL;
  double seconds = 5;
  int messages = 1000;
  g_autoptr (GOptionContext) options = g_option_context_new (NULL);
  g_autoptr (GError) error = NULL;
  GOptionEntry entries[] = {
    { "dir", 0, 0, G_OPTION_ARG_FILENAME, &parent, "Scratch folder on a real disk (default /var/tmp)", "DIR" },
    { "seconds", 0, 0, G_OPTION_ARG_DOUBLE, &seconds, "Seconds per request-rate run (default 5)", "S" },
    { "messages", 0, 0, G_OPTION_ARG_INT, &messages, "Messages for the push latency (default 1000)", "N" },
    { NULL }
  };
  g_autoptr (GThread) thread = NULL;
  Server s = { 0 };
  gboolean ok;

  g_option_context_add_main_entries (options, entries, NULL);
  if (!g_option_context_parse (options, &argc, &argv, &error))
    {
      g_printerr ("api-bench: %s\n", error->message);
      return 2;
    }
  if (messages < 1 || messages > 1000000 || seconds <= 0 || seconds > 600)
    {
      g_printerr ("api-bench: --messages 1..1000000, --seconds up to 600\n");
      return 2;
    }
  /* The server's own log lines would only disturb the figures. */
  g_log_set_handler ("posternd", G_LOG_LEVEL_MESSAGE | G_LOG_LEVEL_INFO | G_LOG_LEVEL_DEBUG, quiet_log_cb, NULL);

  s.dir = g_build_filename (parent ? parent : "/var/tmp", "postern-api-bench-XXXXXX", NULL);
  if (g_mkdtemp (s.dir) == NULL)
    {
      g_printerr ("api-bench: cannot create %s\n", s.dir);
      return 1;
    }
  s.context = g_main_context_new ();
  s.loop = g_main_loop_new (s.context, FALSE);
  g_mutex_init (&s.lock);
  g_cond_init (&s.ready_cond);
  thread = g_thread_new ("server", server_thread, &s);
  g_mutex_lock (&s.lock);
  while (!s.ready)
    g_cond_wait (&s.ready_cond, &s.lock);
  g_mutex_unlock (&s.lock);
  if (s.error != NULL)
    {
      g_printerr ("api-bench: %s\n", s.error->message);
      return 1;
    }

  g_print ("posternd API benchmark: %s, %d channels, state in %s, %u CPUs\n", s.url, N_CHANNELS, s.dir,
           g_get_num_processors ());
  g_print ("Authenticated GET /api/v1/channels (full list, %d channels):\n", N_CHANNELS);
  for (guint c = 1; c <= 16; c *= 4)
    run_load (&s, s.url, "GET /api/v1/channels", "/api/v1/channels", s.token, c, seconds);
  g_print ("For comparison:\n");
  for (guint c = 1; c <= 16; c *= 4)
    run_load (&s, s.url_uncached, "GET /api/v1/channels, no cache", "/api/v1/channels", s.token, c, seconds);
  {
    g_autofree char *since = g_strdup_printf ("/api/v1/channels?since=%d", N_CHANNELS);

    for (guint c = 1; c <= 16; c *= 4)
      run_load (&s, s.url, "GET /api/v1/channels?since=LATEST", since, s.token, c, seconds);
  }
  for (guint c = 1; c <= 16; c *= 4)
    run_load (&s, s.url, "GET /api/v1/health (no auth)", "/api/v1/health", NULL, c, seconds);

  ok = run_push (&s, (guint)messages);

  g_main_context_invoke (s.context, quit_cb, s.loop);
  g_thread_join (g_steal_pointer (&thread));
  g_main_loop_unref (s.loop);
  g_main_context_unref (s.context);
  g_clear_object (&s.certificate);
  rm_rf (s.dir);
  g_free (s.dir);
  g_free (s.url);
  g_free (s.url_uncached);
  g_free (s.token);
  g_free (s.channel_address);
  return ok ? 0 : 1;
}
