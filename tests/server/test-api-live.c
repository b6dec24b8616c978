/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "api-smtp-client.h"
#include "api-test-util.h"
#include "pd-ingest.h"
#include "pd-smtp-server.h"

typedef struct
{
  SoupWebsocketConnection *connection;
  GPtrArray *messages; /* of JsonNode */
  gboolean done;
  gboolean closed;
  GError *error;
  guint handshake_status;
} LiveClient;

static void
live_message_cb (SoupWebsocketConnection *connection,
                 gint type,
                 GBytes *message,
                 gpointer data)
{
  LiveClient *client = data;
  g_autoptr (JsonParser) parser = json_parser_new ();
  gsize length;
  const char *text = g_bytes_get_data (message, &length);

  g_assert_cmpint (type, ==, SOUP_WEBSOCKET_DATA_TEXT);
  g_assert_true (json_parser_load_from_data (parser, text, length, NULL));
  g_ptr_array_add (client->messages, json_node_ref (json_parser_get_root (parser)));
}

static void
live_closed_cb (SoupWebsocketConnection *connection,
                gpointer data)
{
  LiveClient *client = data;

  client->closed = TRUE;
}

static void
live_connected_cb (GObject *source,
                   GAsyncResult *result,
                   gpointer data)
{
  LiveClient *client = data;

  client->connection = soup_session_websocket_connect_finish (SOUP_SESSION (source), result, &client->error);
  if (client->connection != NULL)
    {
      g_signal_connect (client->connection, "message", G_CALLBACK (live_message_cb), client);
      g_signal_connect (client->connection, "closed", G_CALLBACK (live_closed_cb), client);
    }
  client->done = TRUE;
}

static LiveClient *
live_connect (ApiFixture *f,
              const char *token,
              const char *query)
{
  LiveClient *client = g_new0 (LiveClient, 1);
  g_autofree char *uri = g_strdup_printf ("%s/api/v1/live%s", f->url, query ? query : "");
  g_autoptr (SoupMessage) msg = soup_message_new ("GET", uri);

  client->messages = g_ptr_array_new_with_free_func ((GDestroyNotify)json_node_unref);
  if (token != NULL)
    {
      g_autofree char *value = g_strconcat ("Bearer ", token, NULL);

      soup_message_headers_replace (soup_message_get_request_headers (msg), "Authorization", value);
    }
  g_signal_connect (msg, "accept-certificate", G_CALLBACK (api_accept_certificate_cb), f->certificate);
  soup_session_websocket_connect_async (f->session, msg, NULL, NULL, G_PRIORITY_DEFAULT, NULL,
                                        live_connected_cb, client);
  api_iterate_until (&client->done);
  client->handshake_status = soup_message_get_status (msg);
  return client;
}

static void
live_client_free (LiveClient *client)
{
  if (client->connection != NULL)
    {
      g_signal_handlers_disconnect_by_data (client->connection, client);
      if (soup_websocket_connection_get_state (client->connection) == SOUP_WEBSOCKET_STATE_OPEN)
        soup_websocket_connection_close (client->connection, SOUP_WEBSOCKET_CLOSE_NORMAL, NULL);
      g_object_unref (client->connection);
    }
  g_ptr_array_unref (client->messages);
  g_clear_error (&client->error);
  g_free (client);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (LiveClient, live_client_free)

static gboolean
tick_cb (gpointer data)
{
  return G_SOURCE_CONTINUE;
}

static gboolean
has_message (LiveClient *client,
             guint index)
{
  return client->messages->len > index;
}

/* The message at @index, waiting up to 10 s for it. */
static JsonObject *
live_message (LiveClient *client,
              guint index)
{
  gint64 deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
  guint tick = g_timeout_add (50, tick_cb, NULL);

  while (!has_message (client, index) && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, TRUE);
  g_source_remove (tick);
  g_assert_cmpuint (client->messages->len, >, index);
  return json_node_get_object (g_ptr_array_index (client->messages, index));
}

static const char *
message_type (JsonObject *message)
{
  return json_object_get_string_member (message, "type");
}

static gint64
message_event_id (JsonObject *message)
{
  g_assert_cmpstr (message_type (message), ==, "event");
  return json_object_get_int_member (json_object_get_object_member (message, "event"), "id");
}

/* Index of the "synced" message, waiting for it. */
static guint
live_wait_synced (LiveClient *client)
{
  for (guint i = 0; i < 10000; i++)
    if (g_str_equal (message_type (live_message (client, i)), "synced"))
      return i;
  g_assert_not_reached ();
}

/* Lets the server see every pending frame, then checks nothing more came. */
static void
assert_quiet (LiveClient *client,
              guint expected_count)
{
  gint64 until = g_get_monotonic_time () + 200 * 1000;

  while (g_get_monotonic_time () < until)
    g_main_context_iteration (NULL, FALSE);
  g_assert_cmpuint (client->messages->len, ==, expected_count);
}

static void
test_live_push (ApiFixture *f,
                gconstpointer data)
{
  g_autofree char *id = api_create_channel (f, f->alice_token, "pushed");
  g_autofree char *bob_channel = api_create_channel (f, f->bob_token, "bob's");
  g_autofree char *path = g_strdup_printf ("/api/v1/channels/%s", id);
  g_autoptr (LiveClient) client = live_connect (f, f->alice_token, NULL);
  g_autoptr (ApiResponse) patched = NULL;
  g_autoptr (ApiResponse) deleted = NULL;
  JsonObject *message;
  guint synced;
  gint64 event_id;

  g_assert_no_error (client->error);
  message = live_message (client, 0);
  g_assert_cmpstr (message_type (message), ==, "channel");
  g_assert_cmpstr (json_object_get_string_member (json_object_get_object_member (message, "channel"), "id"), ==, id);
  synced = live_wait_synced (client);
  g_assert_cmpuint (synced, ==, 1);
  g_assert_cmpint (json_object_get_int_member (live_message (client, 1), "cursor"), ==, 0);
  g_assert_cmpuint (pd_api_server_get_n_live (f->server), ==, 1);

  /* Bob's mail is not pushed to Alice. */
  api_commit_event (f, f->bob_id, bob_channel, POSTERN_VERDICT_EXPECTED, "x@y.example", "for bob");
  event_id = api_commit_event (f, f->alice_id, id, POSTERN_VERDICT_UNEXPECTED, "spam@bulk.example", "Offer");
  message = live_message (client, 2);
  g_assert_cmpint (message_event_id (message), ==, event_id);
  g_assert_cmpstr (json_object_get_string_member (json_object_get_object_member (message, "event"), "verdict"), ==, "unexpected");

  patched = api_request (f, "PATCH", path, f->alice_token, "{\"label\":\"renamed\"}", NULL);
  message = live_message (client, 3);
  g_assert_cmpstr (message_type (message), ==, "channel");
  g_assert_cmpstr (json_object_get_string_member (json_object_get_object_member (message, "channel"), "label"), ==, "renamed");

  deleted = api_request (f, "DELETE", path, f->alice_token, NULL, NULL);
  g_assert_cmpuint (deleted->status, ==, 204);
  message = live_message (client, 4);
  g_assert_cmpstr (message_type (message), ==, "deleted");
  g_assert_cmpstr (json_object_get_string_member (message, "id"), ==, id);
  assert_quiet (client, 5);
}

static void
test_live_reconnect (ApiFixture *f,
                     gconstpointer data)
{
  g_autofree char *id = api_create_channel (f, f->alice_token, "flaky network");
  g_autoptr (LiveClient) first = live_connect (f, f->alice_token, NULL);
  g_autoptr (LiveClient) second = NULL;
  g_autofree char *query = NULL;
  gint64 e1, e2, e3, e4, revision;
  guint synced;
  JsonObject *message;

  synced = live_wait_synced (first);
  revision = json_object_get_int_member (live_message (first, synced), "revision");
  g_assert_cmpint (revision, >, 0);
  e1 = api_commit_event (f, f->alice_id, id, POSTERN_VERDICT_EXPECTED, "jane@acme.example", "one");
  g_assert_cmpint (message_event_id (live_message (first, synced + 1)), ==, e1);

  /* Disconnect; mail keeps coming. */
  soup_websocket_connection_close (first->connection, SOUP_WEBSOCKET_CLOSE_NORMAL, NULL);
  api_iterate_until (&first->closed);
  for (guint i = 0; i < 100 && pd_api_server_get_n_live (f->server) > 0; i++)
    g_main_context_iteration (NULL, TRUE);
  g_assert_cmpuint (pd_api_server_get_n_live (f->server), ==, 0);
  e2 = api_commit_event (f, f->alice_id, id, POSTERN_VERDICT_EXPECTED, "jane@acme.example", "two");
  e3 = api_commit_event (f, f->alice_id, id, POSTERN_VERDICT_UNEXPECTED, "spam@bulk.example", "three");

  query = g_strdup_printf ("?cursor=%" G_GINT64_FORMAT "&revision=%" G_GINT64_FORMAT, e1, revision);
  second = live_connect (f, f->alice_token, query);
  g_assert_no_error (second->error);
  /* Exactly the missed ones, in order, then synced; no channel repeats. */
  g_assert_cmpint (message_event_id (live_message (second, 0)), ==, e2);
  g_assert_cmpint (message_event_id (live_message (second, 1)), ==, e3);
  message = live_message (second, 2);
  g_assert_cmpstr (message_type (message), ==, "synced");
  g_assert_cmpint (json_object_get_int_member (message, "cursor"), ==, e3);

  e4 = api_commit_event (f, f->alice_id, id, POSTERN_VERDICT_EXPECTED, "jane@acme.example", "four");
  g_assert_cmpint (message_event_id (live_message (second, 3)), ==, e4);
  assert_quiet (second, 4);
}

typedef struct
{
  guint pending;
  GError *error;
} BatchState;

static void
batch_done_cb (GObject *source,
               GAsyncResult *result,
               gpointer data)
{
  BatchState *state = data;
  g_autoptr (GArray) ids = pd_store_commit_message_finish (PD_STORE (source), result, &state->error);

  state->pending--;
}

static void
test_live_backlog (ApiFixture *f,
                   gconstpointer data)
{
  g_autofree char *id = api_create_channel (f, f->alice_token, "busy");
  g_autoptr (LiveClient) client = NULL;
  BatchState state = { 0 };
  gint64 deadline;
  guint n = 2 * 200 + 50; /* more than two backlog pages */
  guint synced;
  gint64 previous = 0;

  for (guint i = 0; i < n; i++)
    {
      g_autoptr (PdMessage) message = pd_message_new ();

      message->envelope_sender = g_strdup ("jane@acme.example");
      message->size = 100;
      message->received_at = g_get_real_time () / G_USEC_PER_SEC;
      pd_message_add_recipient (message, f->alice_id, id, POSTERN_VERDICT_EXPECTED);
      pd_store_commit_message_async (f->store, message, NULL, batch_done_cb, &state);
      state.pending++;
    }
  deadline = g_get_monotonic_time () + 60 * G_USEC_PER_SEC;
  while (state.pending > 0 && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, TRUE);
  g_assert_cmpuint (state.pending, ==, 0);
  g_assert_no_error (state.error);

  client = live_connect (f, f->alice_token, "?cursor=0");
  synced = live_wait_synced (client);
  /* One channel, then every event once, oldest first. */
  g_assert_cmpuint (synced, ==, 1 + n);
  for (guint i = 1; i <= n; i++)
    {
      gint64 event_id = message_event_id (live_message (client, i));

      g_assert_cmpint (event_id, >, previous);
      previous = event_id;
    }
  g_assert_cmpint (json_object_get_int_member (live_message (client, synced), "cursor"), ==, previous);
}

static void
test_live_auth (ApiFixture *f,
                gconstpointer data)
{
  g_autoptr (LiveClient) anonymous = live_connect (f, NULL, NULL);
  g_autoptr (LiveClient) wrong = live_connect (f, "0123456789012345678901234567890123456789012345678901234567890123", NULL);
  g_autoptr (LiveClient) bad_cursor = live_connect (f, f->alice_token, "?cursor=yesterday");
  g_autofree char *phone = api_pair (f, f->alice_id, "phone");
  g_autoptr (LiveClient) client = live_connect (f, phone, NULL);
  g_autoptr (ApiResponse) devices = NULL;
  g_autoptr (ApiResponse) revoke = NULL;
  g_autofree char *path = NULL;
  JsonArray *list;

  g_assert_null (anonymous->connection);
  g_assert_cmpuint (anonymous->handshake_status, ==, 401);
  g_assert_null (wrong->connection);
  g_assert_cmpuint (wrong->handshake_status, ==, 401);
  g_assert_null (bad_cursor->connection);
  g_assert_cmpuint (bad_cursor->handshake_status, ==, 400);

  g_assert_no_error (client->error);
  live_wait_synced (client);
  devices = api_request (f, "GET", "/api/v1/devices", f->alice_token, NULL, NULL);
  list = json_object_get_array_member (api_object (devices), "devices");
  for (guint i = 0; i < json_array_get_length (list); i++)
    if (g_str_equal (json_object_get_string_member (json_array_get_object_element (list, i), "name"), "phone"))
      path = g_strdup_printf ("/api/v1/devices/%" G_GINT64_FORMAT,
                              json_object_get_int_member (json_array_get_object_element (list, i), "id"));
  g_assert_nonnull (path);
  revoke = api_request (f, "DELETE", path, f->alice_token, NULL, NULL);
  g_assert_cmpuint (revoke->status, ==, 204);
  /* The revoked device's live connection is closed at once. */
  api_iterate_until (&client->closed);
  g_assert_cmpuint (soup_websocket_connection_get_close_code (client->connection), ==, SOUP_WEBSOCKET_CLOSE_POLICY_VIOLATION);
}

static void
tweak_fast_ping (PdApiOptions *options)
{
  options->live_ping_interval = 1;
}

static gboolean
accept_any_cb (GTlsConnection *connection,
               GTlsCertificate *peer,
               GTlsCertificateFlags errors,
               gpointer data)
{
  return g_tls_certificate_is_same (peer, data);
}

static void
test_live_revoked_elsewhere (ApiFixture *f,
                             gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PdStoreAuth) other = pd_store_auth_open (f->dir, &error);
  g_autofree char *phone = api_pair (f, f->alice_id, "phone");
  g_autoptr (LiveClient) client = live_connect (f, phone, NULL);
  g_autoptr (ApiResponse) account = api_request (f, "GET", "/api/v1/account", phone, NULL, NULL);

  g_assert_no_error (error);
  g_assert_no_error (client->error);
  live_wait_synced (client);
  /* Another process (posternd device revoke) has its own connection to
   * the database: the server hears nothing, but checks every ping
   * interval (1 s here). */
  g_assert_true (pd_store_auth_revoke_device (other, f->alice_id, api_int (account, "device_id"), &error));
  g_assert_no_error (error);
  api_iterate_until (&client->closed);
  g_assert_cmpuint (soup_websocket_connection_get_close_code (client->connection), ==, SOUP_WEBSOCKET_CLOSE_POLICY_VIOLATION);
}

typedef struct
{
  guint16 port;
  char *token;
  GTlsCertificate *certificate;
  gint done;
  gboolean saw_ping;
  char *error;
} PingJob;

/* A bare WebSocket client on its own thread: reads frames until a ping
 * (opcode 0x9) comes. */
static gpointer
ping_thread (gpointer data)
{
  PingJob *job = data;
  g_autoptr (GSocketClient) client = g_socket_client_new ();
  g_autoptr (GSocketConnection) tcp = NULL;
  g_autoptr (GIOStream) tls = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (GDataInputStream) in = NULL;
  g_autofree char *request = NULL;
  GOutputStream *out;
  gint64 deadline = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;

  g_socket_client_set_timeout (client, 5);
  tcp = g_socket_client_connect_to_host (client, "127.0.0.1", job->port, NULL, &error);
  if (tcp != NULL)
    tls = g_tls_client_connection_new (G_IO_STREAM (tcp), NULL, &error);
  if (tls != NULL)
    {
      g_signal_connect (tls, "accept-certificate", G_CALLBACK (accept_any_cb), job->certificate);
      request = g_strdup_printf ("GET /api/v1/live HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                                 "Authorization: Bearer %s\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
                                 "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
                                 job->token);
      out = g_io_stream_get_output_stream (tls);
      if (g_output_stream_write_all (out, request, strlen (request), NULL, NULL, &error))
        {
          in = g_data_input_stream_new (g_io_stream_get_input_stream (tls));
          g_data_input_stream_set_newline_type (in, G_DATA_STREAM_NEWLINE_TYPE_CR_LF);
          /* The 101 and its headers. */
          for (guint i = 0; i < 50; i++)
            {
              g_autofree char *line = g_data_input_stream_read_line (in, NULL, NULL, &error);

              if (line == NULL || line[0] == '\0')
                break;
              if (i == 0 && !g_str_has_prefix (line, "HTTP/1.1 101"))
                job->error = g_strdup (line);
            }
          /* Frames: 2-byte header (server frames are not masked). */
          while (job->error == NULL && error == NULL && g_get_monotonic_time () < deadline)
            {
              guint8 head[2];
              guint64 length;
              g_autofree guint8 *payload = NULL;

              if (!g_input_stream_read_all (G_INPUT_STREAM (in), head, 2, NULL, NULL, &error))
                break;
              length = head[1] & 0x7f;
              if (length == 126)
                {
                  guint8 ext[2];

                  if (!g_input_stream_read_all (G_INPUT_STREAM (in), ext, 2, NULL, NULL, &error))
                    break;
                  length = (ext[0] << 8) | ext[1];
                }
              else if (length == 127)
                {
                  job->error = g_strdup ("unexpectedly long frame");
                  break;
                }
              payload = g_malloc (length + 1);
              if (!g_input_stream_read_all (G_INPUT_STREAM (in), payload, length, NULL, NULL, &error))
                break;
              if ((head[0] & 0x0f) == 0x9)
                {
                  job->saw_ping = TRUE;
                  break;
                }
            }
        }
    }
  if (error != NULL && job->error == NULL)
    job->error = g_strdup (error->message);
  if (tls != NULL)
    g_io_stream_close (tls, NULL, NULL);
  g_atomic_int_set (&job->done, 1);
  return NULL;
}

static void
test_live_ping (ApiFixture *f,
                gconstpointer data)
{
  g_autoptr (GUri) uri = g_uri_parse (f->url, G_URI_FLAGS_NONE, NULL);
  g_autoptr (GThread) thread = NULL;
  PingJob job = { 0 };
  gint64 deadline;

  job.port = g_uri_get_port (uri);
  job.token = f->alice_token;
  job.certificate = f->certificate;
  thread = g_thread_new ("ping-client", ping_thread, &job);
  deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
  while (!g_atomic_int_get (&job.done) && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, FALSE);
  g_thread_join (g_steal_pointer (&thread));
  g_assert_cmpstr (job.error, ==, NULL);
  /* The interval is 1 s here (30 s by default). */
  g_assert_true (job.saw_ping);
  g_free (job.error);
}

typedef struct
{
  guint16 port;
  char *to;
  gint done;
  GError *error;
} SmtpJob;

static gpointer
smtp_thread (gpointer data)
{
  SmtpJob *job = data;
  ApiSmtpClient *client = api_smtp_connect (job->port, &job->error);

  if (client != NULL)
    {
      api_smtp_send (client, "recruiter@acme.example", job->to,
                     "From: Recruiter <recruiter@acme.example>\r\nTo: <x@ch.example.org>\r\n"
                     "Subject: A job for you\r\nMessage-ID: <job1@acme.example>\r\n\r\nHello.",
                     &job->error);
      api_smtp_close (client);
    }
  g_atomic_int_set (&job->done, 1);
  return NULL;
}

static void
test_live_smtp (ApiFixture *f,
                gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *config_text = g_strdup_printf ("[server]\nstate_dir=%s\ndomains=ch.example.org\n"
                                                  "[smtp]\nlisten=127.0.0.1:0\n",
                                                  f->dir);
  g_autoptr (PdConfig) config = pd_config_load_from_data (config_text, -1, &error);
  g_autoptr (PdIngest) ingest = NULL;
  g_autoptr (PdSmtpServer) smtp = NULL;
  g_autoptr (GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr (GSocketAddress) any_port = g_inet_socket_address_new (loopback, 0);
  g_autoptr (GSocketAddress) bound = NULL;
  g_autoptr (ApiResponse) created = NULL;
  g_autoptr (LiveClient) client = NULL;
  g_autoptr (GThread) thread = NULL;
  SmtpJob job = { 0 };
  JsonObject *event;
  guint synced;
  gint64 deadline;

  g_assert_no_error (error);
  ingest = pd_ingest_new (f->store);
  smtp = pd_smtp_server_new (config, NULL, pd_ingest_get_backend (), ingest);
  bound = pd_smtp_server_add_listener (smtp, any_port, PD_SMTP_PROTOCOL_SMTP, &error);
  g_assert_no_error (error);

  created = api_request (f, "POST", "/api/v1/channels", f->alice_token, "{\"label\":\"Recruiter\",\"kind\":\"open\"}", NULL);
  g_assert_cmpuint (created->status, ==, 201);
  client = live_connect (f, f->alice_token, NULL);
  synced = live_wait_synced (client);

  job.port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
  job.to = g_strdup (api_string (created, "address"));
  thread = g_thread_new ("smtp-client", smtp_thread, &job);
  deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
  while (!g_atomic_int_get (&job.done) && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, FALSE);
  g_thread_join (g_steal_pointer (&thread));
  g_assert_no_error (job.error);

  /* The 250 came after the commit; the push follows the commit. */
  event = json_object_get_object_member (live_message (client, synced + 1), "event");
  g_assert_cmpstr (json_object_get_string_member (event, "channel_id"), ==, api_string (created, "id"));
  g_assert_cmpstr (json_object_get_string_member (event, "subject"), ==, "A job for you");
  g_assert_cmpstr (json_object_get_string_member (event, "envelope_sender"), ==, "recruiter@acme.example");
  g_assert_cmpstr (json_object_get_string_member (event, "verdict"), ==, "accepted");

  pd_smtp_server_stop (smtp);
  api_drain ();
  g_free (job.to);
}

int
main (int argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

#define ADD(path, func) g_test_add ("/postern/server/api/live/" path, ApiFixture, NULL, api_fixture_set_up, func, api_fixture_tear_down)

  ADD ("push", test_live_push);
  ADD ("reconnect", test_live_reconnect);
  ADD ("backlog", test_live_backlog);
  ADD ("auth", test_live_auth);
  ADD ("smtp", test_live_smtp);
  g_test_add ("/postern/server/api/live/ping", ApiFixture, (gconstpointer)tweak_fast_ping, api_fixture_set_up,
              test_live_ping, api_fixture_tear_down);
  g_test_add ("/postern/server/api/live/revoked-elsewhere", ApiFixture, (gconstpointer)tweak_fast_ping,
              api_fixture_set_up, test_live_revoked_elsewhere, api_fixture_tear_down);

  return g_test_run ();
}
