/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <string.h>

#include "postern-client.h"
#include "test-loop.h"

/*
 * The live connection against a hand-made WebSocket server on 127.0.0.1
 * (plain HTTP, allowed on loopback): frames become signals, the cursor
 * advances and is used on reconnect, a silent server is detected as dead,
 * a refused token stops the retries.
 */

#define TIMEOUT_MS 10000
#define WS_GUID    "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

typedef enum
{
  MODE_FRAMES, /* send an event, a channel and "synced", then close */
  MODE_SILENT, /* complete the handshake, then never answer anything */
  MODE_REFUSE, /* 401 */
} Mode;

typedef struct
{
  GSocketService *service; /* a GThreadedSocketService */
  guint16 port;
  Mode mode;
  GMutex lock;            /* connections run in the service's threads */
  GPtrArray *connections; /* kept open */
  GPtrArray *request_lines;
} Fake;

static void
send_frame (GOutputStream *out,
            const char *text)
{
  gsize len = strlen (text);
  guint8 header[4];
  gsize header_len;

  header[0] = 0x81; /* FIN, text */
  if (len < 126)
    {
      header[1] = (guint8)len;
      header_len = 2;
    }
  else
    {
      g_assert_cmpuint (len, <, 65536);
      header[1] = 126;
      header[2] = (guint8)(len >> 8);
      header[3] = (guint8)(len & 0xff);
      header_len = 4;
    }
  g_assert_true (g_output_stream_write_all (out, header, header_len, NULL, NULL, NULL));
  g_assert_true (g_output_stream_write_all (out, text, len, NULL, NULL, NULL));
}

static gboolean
run_cb (GThreadedSocketService *service,
        GSocketConnection *connection,
        GObject *source,
        gpointer user_data)
{
  Fake *fake = user_data;
  g_autoptr (GDataInputStream) in = g_data_input_stream_new (g_io_stream_get_input_stream (G_IO_STREAM (connection)));
  GOutputStream *out = g_io_stream_get_output_stream (G_IO_STREAM (connection));
  g_autofree char *key = NULL;
  g_autofree char *request_line = NULL;
  g_autofree char *accept = NULL;
  g_autofree char *reply = NULL;
  gboolean first;

  /* A thread per connection: blocking reads are fine here. */
  g_data_input_stream_set_newline_type (in, G_DATA_STREAM_NEWLINE_TYPE_CR_LF);
  g_filter_input_stream_set_close_base_stream (G_FILTER_INPUT_STREAM (in), FALSE);
  request_line = g_data_input_stream_read_line (in, NULL, NULL, NULL);
  g_assert_nonnull (request_line);
  for (guint i = 0; i < 100; i++)
    {
      g_autofree char *line = g_data_input_stream_read_line (in, NULL, NULL, NULL);

      g_assert_nonnull (line);
      if (*line == '\0')
        break;
      if (g_ascii_strncasecmp (line, "Sec-WebSocket-Key:", 18) == 0)
        key = g_strstrip (g_strdup (line + 18));
    }

  g_mutex_lock (&fake->lock);
  g_ptr_array_add (fake->request_lines, g_strdup (request_line));
  first = fake->request_lines->len == 1;
  g_mutex_unlock (&fake->lock);

  if (fake->mode == MODE_REFUSE)
    {
      const char *refusal = "HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
      g_output_stream_write_all (out, refusal, strlen (refusal), NULL, NULL, NULL);
      g_io_stream_close (G_IO_STREAM (connection), NULL, NULL);
      return TRUE;
    }

  g_assert_nonnull (key);
  {
    g_autofree char *concat = g_strconcat (key, WS_GUID, NULL);
    g_autoptr (GChecksum) sha1 = g_checksum_new (G_CHECKSUM_SHA1);
    guint8 digest[20];
    gsize digest_len = sizeof digest;

    g_checksum_update (sha1, (const guchar *)concat, strlen (concat));
    g_checksum_get_digest (sha1, digest, &digest_len);
    accept = g_base64_encode (digest, digest_len);
  }
  reply = g_strdup_printf ("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                           "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n",
                           accept);
  g_assert_true (g_output_stream_write_all (out, reply, strlen (reply), NULL, NULL, NULL));

  if (fake->mode == MODE_FRAMES && first)
    {
      send_frame (out, "{\"type\":\"event\",\"event\":{\"id\":5,\"channel_id\":\"3f0c9a52-5c1e-4b7e-9a51-2f8f0a1b2c3d\","
                       "\"received_at\":\"2026-11-28T10:50:00Z\",\"envelope_sender\":\"spam@bulk.example\","
                       "\"header_from\":null,\"subject\":\"Offer\",\"message_id\":\"<x@bulk.example>\","
                       "\"size\":2048,\"verdict\":\"unexpected\"}}");
      send_frame (out, "{\"type\":\"channel\",\"channel\":{\"id\":\"3f0c9a52-5c1e-4b7e-9a51-2f8f0a1b2c3d\","
                       "\"address\":\"k7q2mv9xwe4@ch.example.org\",\"label\":\"Recruiter\",\"note\":\"\","
                       "\"kind\":\"one-time\",\"state\":\"active\",\"on_unexpected\":\"alert\","
                       "\"farewell\":\"refuse\",\"farewell_text\":\"\",\"created_at\":\"2026-11-28T10:47:33Z\","
                       "\"expires_at\":null,\"revision\":9,\"expected_senders\":[]}}");
      send_frame (out, "{\"type\":\"deleted\",\"id\":\"d9dd1699-863d-44f5-bbeb-b06990f08103\",\"revision\":10}");
      send_frame (out, "{\"type\":\"deleted\",\"id\":\"../../devices/1\"}");
      send_frame (out, "{\"type\":\"nonsense\"}");
      send_frame (out, "not json at all");
      send_frame (out, "{\"type\":\"synced\",\"cursor\":5,\"revision\":10}");
      /* A close frame (1001 going away): the client reconnects. */
      {
        static const guint8 close_frame[] = { 0x88, 0x02, 0x03, 0xe9 };
        g_output_stream_write_all (out, close_frame, sizeof close_frame, NULL, NULL, NULL);
      }
    }

  g_mutex_lock (&fake->lock);
  g_ptr_array_add (fake->connections, g_object_ref (connection));
  g_mutex_unlock (&fake->lock);
  return TRUE;
}

static Fake *
fake_new (Mode mode)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr (GSocketAddress) address = g_inet_socket_address_new (loopback, 0);
  g_autoptr (GSocketAddress) bound = NULL;
  Fake *fake = g_new0 (Fake, 1);

  fake->mode = mode;
  fake->connections = g_ptr_array_new_with_free_func (g_object_unref);
  fake->request_lines = g_ptr_array_new_with_free_func (g_free);
  g_mutex_init (&fake->lock);
  fake->service = g_threaded_socket_service_new (4);
  g_socket_listener_add_address (G_SOCKET_LISTENER (fake->service), address, G_SOCKET_TYPE_STREAM,
                                 G_SOCKET_PROTOCOL_TCP, NULL, &bound, &error);
  g_assert_no_error (error);
  fake->port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
  g_signal_connect (fake->service, "run", G_CALLBACK (run_cb), fake);
  g_socket_service_start (fake->service);
  return fake;
}

static void
fake_free (Fake *fake)
{
  g_socket_service_stop (fake->service);
  g_socket_listener_close (G_SOCKET_LISTENER (fake->service));
  g_clear_object (&fake->service);
  g_ptr_array_unref (fake->connections);
  g_ptr_array_unref (fake->request_lines);
  g_mutex_clear (&fake->lock);
  g_free (fake);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Fake, fake_free)

static PosternLiveConnection *
live_new (Fake *fake)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *url = g_strdup_printf ("http://127.0.0.1:%u", fake->port);
  g_autoptr (PosternApiClient) client = postern_api_client_new (url, NULL, "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", &error);
  PosternLiveConnection *live;

  g_assert_no_error (error);
  live = postern_live_connection_new (client);
  postern_live_connection_set_backoff (live, 50, 200);
  postern_live_connection_set_keepalive (live, 1, 2);
  return live;
}

typedef struct
{
  Fake *fake;
  guint want;
} Count;

static guint
n_requests (Fake *fake)
{
  guint n;

  g_mutex_lock (&fake->lock);
  n = fake->request_lines->len;
  g_mutex_unlock (&fake->lock);
  return n;
}

static gboolean
has_requests (gpointer data)
{
  Count *count = data;

  return n_requests (count->fake) >= count->want;
}

static void
event_cb (PosternLiveConnection *live,
          PosternEvent *event,
          gpointer user_data)
{
  g_ptr_array_add (user_data, g_object_ref (event));
}

static void
error_cb (PosternLiveConnection *live,
          GError *error,
          gpointer user_data)
{
  GError **out = user_data;

  g_clear_error (out);
  *out = g_error_copy (error);
}

static void
channel_cb (PosternLiveConnection *live,
            PosternChannel *channel,
            gpointer user_data)
{
  g_ptr_array_add (user_data, g_object_ref (channel));
}

static void
deleted_cb (PosternLiveConnection *live,
            const char *id,
            gpointer user_data)
{
  g_ptr_array_add (user_data, g_strdup (id));
}

static void
synced_cb (PosternLiveConnection *live,
           gint64 cursor,
           gpointer user_data)
{
  *(gint64 *)user_data = cursor;
}

static void
test_frames_and_resume (void)
{
  g_autoptr (Fake) fake = fake_new (MODE_FRAMES);
  g_autoptr (PosternLiveConnection) live = live_new (fake);
  g_autoptr (GPtrArray) events = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr (GPtrArray) channels = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr (GPtrArray) deleted = g_ptr_array_new_with_free_func (g_free);
  gint64 synced = -1;
  Count count = { fake, 2 };

  g_signal_connect (live, "event", G_CALLBACK (event_cb), events);
  g_signal_connect (live, "synced", G_CALLBACK (synced_cb), &synced);
  g_signal_connect (live, "channel", G_CALLBACK (channel_cb), channels);
  g_signal_connect (live, "deleted", G_CALLBACK (deleted_cb), deleted);
  postern_live_connection_set_revision (live, 7);
  postern_live_connection_start (live, 3);

  /* Unreadable frames are skipped; the event and "synced" arrive; the
   * server's close brings a reconnect from the new cursor. */
  g_assert_true (test_wait_for (has_requests, &count, TIMEOUT_MS));
  g_assert_cmpuint (events->len, ==, 1);
  g_assert_cmpint (postern_event_get_id (g_ptr_array_index (events, 0)), ==, 5);
  g_assert_cmpint (synced, ==, 5);
  g_assert_cmpint (postern_live_connection_get_cursor (live), ==, 5);
  g_assert_cmpuint (channels->len, ==, 1);
  g_assert_cmpint (postern_channel_get_revision (g_ptr_array_index (channels, 0)), ==, 9);
  g_assert_cmpuint (deleted->len, ==, 1);
  g_assert_cmpstr (g_ptr_array_index (deleted, 0), ==, "d9dd1699-863d-44f5-bbeb-b06990f08103");
  g_assert_cmpint (postern_live_connection_get_revision (live), ==, 10);
  g_assert_true (g_str_has_prefix (g_ptr_array_index (fake->request_lines, 0), "GET /api/v1/live?cursor=3&revision=7 "));
  g_assert_true (g_str_has_prefix (g_ptr_array_index (fake->request_lines, 1), "GET /api/v1/live?cursor=5&revision=10 "));

  postern_live_connection_stop (live);
  g_assert_cmpint (postern_live_connection_get_state (live), ==, POSTERN_LIVE_STATE_STOPPED);
  g_signal_handlers_disconnect_by_data (live, events);
  g_signal_handlers_disconnect_by_data (live, &synced);
  g_signal_handlers_disconnect_by_data (live, channels);
  g_signal_handlers_disconnect_by_data (live, deleted);
}

static void
test_dead_connection (void)
{
  g_autoptr (Fake) fake = fake_new (MODE_SILENT);
  g_autoptr (PosternLiveConnection) live = live_new (fake);
  Count count = { fake, 2 };
  gint64 start = g_get_monotonic_time ();

  postern_live_connection_start (live, 0);
  count.want = 1;
  g_assert_true (test_wait_for (has_requests, &count, TIMEOUT_MS));
  test_spin_for (200);
  g_assert_cmpint (postern_live_connection_get_state (live), ==, POSTERN_LIVE_STATE_CONNECTED);

  /* No pong, no frame: after dead_after (2 s) a new connection. */
  count.want = 2;
  g_assert_true (test_wait_for (has_requests, &count, TIMEOUT_MS));
  g_assert_cmpint (g_get_monotonic_time () - start, >=, 2 * G_USEC_PER_SEC);
  postern_live_connection_stop (live);
}

static void
test_refused (void)
{
  g_autoptr (Fake) fake = fake_new (MODE_REFUSE);
  g_autoptr (PosternLiveConnection) live = live_new (fake);
  g_autoptr (GError) error = NULL;
  Count count = { fake, 1 };

  g_signal_connect (live, "error", G_CALLBACK (error_cb), &error);
  postern_live_connection_start (live, 0);
  g_assert_true (test_wait_for (has_requests, &count, TIMEOUT_MS));
  test_spin_for (1000);
  g_assert_error (error, POSTERN_CLIENT_ERROR, POSTERN_CLIENT_ERROR_AUTH);
  g_assert_cmpint (postern_live_connection_get_state (live), ==, POSTERN_LIVE_STATE_FAILED);
  /* No retry loop against a refused token. */
  g_assert_cmpuint (n_requests (fake), ==, 1);
  g_signal_handlers_disconnect_by_data (live, &error);
}

int
main (int argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/postern/client/live-connection/frames-and-resume", test_frames_and_resume);
  g_test_add_func ("/postern/client/live-connection/dead-connection", test_dead_connection);
  g_test_add_func ("/postern/client/live-connection/refused", test_refused);

  return g_test_run ();
}
