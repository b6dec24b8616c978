/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <string.h>

#include "postern-client.h"
#include "test-loop.h"

/*
 * The replay of queued changes against a scripted server (a SoupServer on
 * 127.0.0.1, plain HTTP, which the client allows on loopback only): a 412
 * is resolved by refetching and re-applying; a second 412, or a refusal,
 * drops the change, restores the server's copy and reports it. Runs in
 * tests/desktop-session.sh (the engine keeps its account there).
 */

#define TIMEOUT_MS 20000
#define CHANNEL_ID "3f0c9a52-5c1e-4b7e-9a51-2f8f0a1b2c3d"
#define TOKEN      "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

typedef enum
{
  SCRIPT_CONFLICT_ONCE,   /* another device changes the channel just before our PATCH */
  SCRIPT_CONFLICT_ALWAYS, /* … before every PATCH */
  SCRIPT_REFUSE,          /* the PATCH is refused (422) */
  SCRIPT_MANY,            /* 10,000 channels */
  SCRIPT_FAIL_ONCE,       /* the first PATCH meets a 500 */
} Script;

typedef struct
{
  SoupServer *server;
  char *url;
  Script script;
  PosternChannel *channel;
  GPtrArray *many;
  guint patches;
  guint gets;
  GPtrArray *sockets;
} Fake;

static void
reply_json (SoupServerMessage *msg,
            guint status,
            JsonNode *node)
{
  g_autofree char *text = postern_json_to_string (node, FALSE);

  soup_server_message_set_status (msg, status, NULL);
  soup_server_message_set_response (msg, "application/json", SOUP_MEMORY_COPY, text, strlen (text));
}

static void
reply_problem (SoupServerMessage *msg,
               guint status,
               const char *detail)
{
  g_autofree char *text = g_strdup_printf ("{\"type\":\"about:blank\",\"title\":\"x\",\"status\":%u,\"detail\":\"%s\"}",
                                           status, detail);

  soup_server_message_set_status (msg, status, NULL);
  soup_server_message_set_response (msg, "application/problem+json", SOUP_MEMORY_COPY, text, strlen (text));
}

static void
reply_channel (SoupServerMessage *msg,
               PosternChannel *channel)
{
  g_autoptr (JsonNode) node = postern_channel_to_json (channel);
  g_autofree char *etag = g_strdup_printf ("\"%" G_GINT64_FORMAT "\"", postern_channel_get_revision (channel));

  soup_message_headers_replace (soup_server_message_get_response_headers (msg), "ETag", etag);
  reply_json (msg, 200, node);
}

/* Another device renames the channel. */
static void
concurrent_change (Fake *fake)
{
  g_autofree char *label = g_strdup_printf ("Renamed elsewhere %u", fake->patches);

  g_assert_true (postern_channel_set_label (fake->channel, label, NULL));
  postern_channel_set_revision (fake->channel, postern_channel_get_revision (fake->channel) + 1);
}

static void
handler_cb (SoupServer *server,
            SoupServerMessage *msg,
            const char *path,
            GHashTable *query,
            gpointer user_data)
{
  Fake *fake = user_data;
  const char *method = soup_server_message_get_method (msg);
  SoupMessageHeaders *headers = soup_server_message_get_request_headers (msg);
  const char *authorization = soup_message_headers_get_one (headers, "Authorization");

  if (g_str_equal (path, "/api/v1/pair") && g_str_equal (method, "POST"))
    {
      g_autoptr (JsonNode) node = postern_json_from_string ("{\"token\":\"" TOKEN "\",\"user\":\"alice\","
                                                            "\"server\":{\"domains\":[\"ch.example.org\"]}}",
                                                            -1, NULL);
      reply_json (msg, 201, node);
      return;
    }

  if (g_strcmp0 (authorization, "Bearer " TOKEN) != 0)
    {
      reply_problem (msg, 401, "no token");
      return;
    }

  if (g_str_equal (path, "/api/v1/account"))
    {
      g_autoptr (JsonNode) node = postern_json_from_string ("{\"user\":\"alice\",\"domains\":[\"ch.example.org\"],"
                                                            "\"latest_event\":0,\"revision\":1}",
                                                            -1, NULL);
      reply_json (msg, 200, node);
    }
  else if (g_str_equal (path, "/api/v1/channels") && g_str_equal (method, "GET"))
    {
      g_autoptr (JsonBuilder) builder = json_builder_new ();
      g_autoptr (JsonNode) node = NULL;

      json_builder_begin_object (builder);
      json_builder_set_member_name (builder, "revision");
      json_builder_add_int_value (builder, postern_channel_get_revision (fake->channel));
      json_builder_set_member_name (builder, "channels");
      json_builder_begin_array (builder);
      json_builder_add_value (builder, postern_channel_to_json (fake->channel));
      for (guint i = 0; fake->many != NULL && i < fake->many->len; i++)
        json_builder_add_value (builder, postern_channel_to_json (g_ptr_array_index (fake->many, i)));
      json_builder_end_array (builder);
      json_builder_set_member_name (builder, "deleted");
      json_builder_begin_array (builder);
      json_builder_end_array (builder);
      json_builder_end_object (builder);
      node = json_builder_get_root (builder);
      reply_json (msg, 200, node);
    }
  else if (g_str_equal (path, "/api/v1/channels/" CHANNEL_ID) && g_str_equal (method, "GET"))
    {
      fake->gets++;
      reply_channel (msg, fake->channel);
    }
  else if (g_str_equal (path, "/api/v1/channels/" CHANNEL_ID) && g_str_equal (method, "PATCH"))
    {
      SoupMessageBody *body = soup_server_message_get_request_body (msg);
      g_autoptr (GBytes) bytes = soup_message_body_flatten (body);
      g_autoptr (JsonNode) changes = NULL;
      const char *if_match = soup_message_headers_get_one (headers, "If-Match");
      g_autofree char *current = NULL;
      const char *state;
      PosternChannelState value;

      fake->patches++;
      if (fake->script == SCRIPT_FAIL_ONCE && fake->patches == 1)
        {
          reply_problem (msg, 500, "database is busy");
          return;
        }
      if (fake->script == SCRIPT_REFUSE)
        {
          reply_problem (msg, 422, "state: this server refuses pausing");
          return;
        }
      if (fake->script == SCRIPT_CONFLICT_ALWAYS || (fake->script == SCRIPT_CONFLICT_ONCE && fake->patches == 1))
        concurrent_change (fake);

      current = g_strdup_printf ("\"%" G_GINT64_FORMAT "\"", postern_channel_get_revision (fake->channel));
      if (g_strcmp0 (if_match, current) != 0)
        {
          reply_problem (msg, 412, "The channel changed: fetch it again");
          return;
        }
      changes = postern_json_from_string (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes), NULL);
      g_assert_nonnull (changes);
      state = json_object_get_string_member_with_default (json_node_get_object (changes), "state", NULL);
      g_assert_true (postern_channel_state_from_string (state, &value, NULL));
      postern_channel_set_state (fake->channel, value);
      postern_channel_set_revision (fake->channel, postern_channel_get_revision (fake->channel) + 1);
      reply_channel (msg, fake->channel);
    }
  else
    reply_problem (msg, 404, "no such thing");
}

static void
live_cb (SoupServer *server,
         SoupServerMessage *msg,
         const char *path,
         SoupWebsocketConnection *connection,
         gpointer user_data)
{
  Fake *fake = user_data;

  g_ptr_array_add (fake->sockets, g_object_ref (connection));
  soup_websocket_connection_send_text (connection, "{\"type\":\"synced\",\"cursor\":0}");
}

static Fake *
fake_new (Script script)
{
  g_autoptr (GError) error = NULL;
  GSList *uris;
  Fake *fake = g_new0 (Fake, 1);

  fake->script = script;
  fake->sockets = g_ptr_array_new_with_free_func (g_object_unref);
  fake->channel = postern_channel_new ();
  g_assert_true (postern_channel_set_id (fake->channel, CHANNEL_ID, NULL));
  g_assert_true (postern_channel_set_address (fake->channel, "k7q2mv9xwe4@ch.example.org", NULL));
  g_assert_true (postern_channel_set_label (fake->channel, "Recruiter", NULL));
  postern_channel_set_created_at (fake->channel, 1795000000);
  postern_channel_set_revision (fake->channel, 1);

  if (script == SCRIPT_MANY)
    {
      fake->many = g_ptr_array_new_with_free_func (g_object_unref);
      for (guint i = 1; i < 10000; i++)
        {
          PosternChannel *channel = postern_channel_new ();
          g_autofree char *id = postern_uuid_new ();
          g_autofree char *address = g_strdup_printf ("c%05u@ch.example.org", i);
          g_autofree char *label = g_strdup_printf ("Channel number %u, handed out at a conference", i);

          g_assert_true (postern_channel_set_id (channel, id, NULL));
          g_assert_true (postern_channel_set_address (channel, address, NULL));
          g_assert_true (postern_channel_set_label (channel, label, NULL));
          postern_channel_set_created_at (channel, 1795000000 + i);
          postern_channel_set_revision (channel, 1 + i);
          g_ptr_array_add (fake->many, channel);
        }
      postern_channel_set_revision (fake->channel, 10001);
    }

  fake->server = soup_server_new (NULL, NULL);
  soup_server_add_websocket_handler (fake->server, "/api/v1/live", NULL, NULL, live_cb, fake, NULL);
  soup_server_add_handler (fake->server, "/api/v1", handler_cb, fake, NULL);
  soup_server_listen_local (fake->server, 0, SOUP_SERVER_LISTEN_IPV4_ONLY, &error);
  g_assert_no_error (error);
  uris = soup_server_get_uris (fake->server);
  fake->url = g_strdup_printf ("http://127.0.0.1:%d", g_uri_get_port (uris->data));
  g_slist_free_full (uris, (GDestroyNotify)g_uri_unref);
  return fake;
}

static void
fake_free (Fake *fake)
{
  soup_server_disconnect (fake->server);
  g_clear_object (&fake->server);
  g_ptr_array_unref (fake->sockets);
  g_clear_pointer (&fake->many, g_ptr_array_unref);
  g_object_unref (fake->channel);
  g_free (fake->url);
  g_free (fake);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Fake, fake_free)

/* ---- helpers -------------------------------------------------------------- */

static gboolean
is_online (gpointer data)
{
  return postern_sync_engine_get_status (data) == POSTERN_SYNC_STATUS_ONLINE;
}

static gboolean
nothing_pending (gpointer data)
{
  return postern_sync_engine_get_pending_count (data) == 0;
}

static PosternSyncEngine *
paired_engine (Fake *fake)
{
  g_autoptr (GError) error = NULL;
  PosternSyncEngine *engine = postern_sync_engine_new ();
  TestWait wait = {
    0,
  };

  postern_sync_engine_set_backoff (engine, 50, 400);
  postern_sync_engine_start_async (engine, NULL, test_wait_cb, &wait);
  postern_sync_engine_start_finish (engine, test_wait_result (&wait), &error);
  g_assert_no_error (error);
  g_clear_object (&wait.result);

  wait.done = FALSE;
  postern_sync_engine_pair_async (engine, fake->url, "CODE", NULL, "test", NULL, test_wait_cb, &wait);
  g_assert_true (postern_sync_engine_pair_finish (engine, test_wait_result (&wait), &error));
  g_assert_no_error (error);
  g_clear_object (&wait.result);
  g_assert_true (test_wait_for (is_online, engine, TIMEOUT_MS));
  g_assert_nonnull (postern_sync_engine_lookup_channel (engine, CHANNEL_ID));
  return engine;
}

static void
unpair (PosternSyncEngine *engine)
{
  g_autoptr (GError) error = NULL;
  TestWait wait = {
    0,
  };

  postern_sync_engine_unpair_async (engine, NULL, test_wait_cb, &wait);
  postern_sync_engine_unpair_finish (engine, test_wait_result (&wait), &error);
  g_assert_no_error (error);
  g_clear_object (&wait.result);
}

static void
mutation_failed_cb (PosternSyncEngine *engine,
                    PosternMutation *mutation,
                    GError *error,
                    gpointer user_data)
{
  GError **out = user_data;

  g_assert_null (*out);
  *out = g_error_copy (error);
}

/* ---- tests ---------------------------------------------------------------- */

static void
test_conflict_resolved (void)
{
  g_autoptr (Fake) fake = fake_new (SCRIPT_CONFLICT_ONCE);
  g_autoptr (PosternSyncEngine) engine = paired_engine (fake);
  g_autoptr (GError) error = NULL;
  g_autoptr (GError) failed = NULL;
  PosternChannel *channel;

  g_signal_connect (engine, "mutation-failed", G_CALLBACK (mutation_failed_cb), &failed);
  g_assert_true (postern_sync_engine_pause (engine, CHANNEL_ID, &error));
  g_assert_no_error (error);
  g_assert_true (test_wait_for (nothing_pending, engine, TIMEOUT_MS));

  /* 412, refetch, the same change again with the new revision. */
  g_assert_cmpuint (fake->patches, ==, 2);
  g_assert_cmpuint (fake->gets, ==, 1);
  g_assert_null (failed);
  g_assert_cmpint (postern_channel_get_state (fake->channel), ==, POSTERN_CHANNEL_STATE_PAUSED);
  channel = postern_sync_engine_lookup_channel (engine, CHANNEL_ID);
  g_assert_cmpint (postern_channel_get_state (channel), ==, POSTERN_CHANNEL_STATE_PAUSED);
  /* The other device's change is kept, not overwritten. */
  g_assert_cmpstr (postern_channel_get_label (channel), ==, "Renamed elsewhere 1");
  g_assert_cmpint (postern_channel_get_revision (channel), ==, postern_channel_get_revision (fake->channel));

  g_signal_handlers_disconnect_by_data (engine, &failed);
  unpair (engine);
}

static void
test_conflict_reported (void)
{
  g_autoptr (Fake) fake = fake_new (SCRIPT_CONFLICT_ALWAYS);
  g_autoptr (PosternSyncEngine) engine = paired_engine (fake);
  g_autoptr (GError) error = NULL;
  g_autoptr (GError) failed = NULL;
  PosternChannel *channel;

  g_signal_connect (engine, "mutation-failed", G_CALLBACK (mutation_failed_cb), &failed);
  g_assert_true (postern_sync_engine_pause (engine, CHANNEL_ID, &error));
  g_assert_true (test_wait_for (nothing_pending, engine, TIMEOUT_MS));

  /* One retry after the refetch, then reported; the server's copy wins. */
  g_assert_cmpuint (fake->patches, ==, 2);
  g_assert_error (failed, POSTERN_CLIENT_ERROR, POSTERN_CLIENT_ERROR_CONFLICT);
  channel = postern_sync_engine_lookup_channel (engine, CHANNEL_ID);
  g_assert_cmpint (postern_channel_get_state (channel), ==, POSTERN_CHANNEL_STATE_ACTIVE);

  g_signal_handlers_disconnect_by_data (engine, &failed);
  unpair (engine);
}

static void
test_refusal_reported (void)
{
  g_autoptr (Fake) fake = fake_new (SCRIPT_REFUSE);
  g_autoptr (PosternSyncEngine) engine = paired_engine (fake);
  g_autoptr (GError) error = NULL;
  g_autoptr (GError) failed = NULL;

  g_signal_connect (engine, "mutation-failed", G_CALLBACK (mutation_failed_cb), &failed);
  g_assert_true (postern_sync_engine_pause (engine, CHANNEL_ID, &error));
  g_assert_cmpint (postern_channel_get_state (postern_sync_engine_lookup_channel (engine, CHANNEL_ID)), ==,
                   POSTERN_CHANNEL_STATE_PAUSED);
  g_assert_true (test_wait_for (nothing_pending, engine, TIMEOUT_MS));

  g_assert_cmpuint (fake->patches, ==, 1);
  g_assert_error (failed, POSTERN_CLIENT_ERROR, POSTERN_CLIENT_ERROR_INVALID);
  g_assert_cmpstr (failed->message, ==, "state: this server refuses pausing");
  g_assert_cmpint (postern_channel_get_state (postern_sync_engine_lookup_channel (engine, CHANNEL_ID)), ==,
                   POSTERN_CHANNEL_STATE_ACTIVE);

  g_signal_handlers_disconnect_by_data (engine, &failed);
  unpair (engine);
}

static void
test_server_error_retried (void)
{
  g_autoptr (Fake) fake = fake_new (SCRIPT_FAIL_ONCE);
  g_autoptr (PosternSyncEngine) engine = paired_engine (fake);
  g_autoptr (GError) error = NULL;
  g_autoptr (GError) failed = NULL;

  g_signal_connect (engine, "mutation-failed", G_CALLBACK (mutation_failed_cb), &failed);
  g_assert_true (postern_sync_engine_pause (engine, CHANNEL_ID, &error));
  g_assert_no_error (error);

  /* The live socket stays up: the engine itself tries again later. */
  g_assert_true (test_wait_for (nothing_pending, engine, TIMEOUT_MS));
  g_assert_cmpuint (fake->patches, ==, 2);
  g_assert_null (failed);
  g_assert_cmpint (postern_channel_get_state (fake->channel), ==, POSTERN_CHANNEL_STATE_PAUSED);
  g_assert_true (test_wait_for (is_online, engine, TIMEOUT_MS));

  g_signal_handlers_disconnect_by_data (engine, &failed);
  unpair (engine);
}

static void
changed_cb (PosternSyncEngine *engine,
            PosternChannel *channel,
            gpointer user_data)
{
  (*(guint *)user_data)++;
}

static void
test_ten_thousand (void)
{
  g_autoptr (Fake) fake = fake_new (SCRIPT_MANY);
  g_autoptr (PosternSyncEngine) engine = postern_sync_engine_new ();
  g_autoptr (PosternSyncEngine) restarted = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (PosternChannel) first = NULL;
  TestWait wait = {
    0,
  };
  guint changed = 0;
  gint64 start, online, loaded;

  postern_sync_engine_start_async (engine, NULL, test_wait_cb, &wait);
  postern_sync_engine_start_finish (engine, test_wait_result (&wait), &error);
  g_clear_object (&wait.result);
  g_signal_connect (engine, "channel-changed", G_CALLBACK (changed_cb), &changed);

  start = g_get_monotonic_time ();
  wait.done = FALSE;
  postern_sync_engine_pair_async (engine, fake->url, "CODE", NULL, "test", NULL, test_wait_cb, &wait);
  g_assert_true (postern_sync_engine_pair_finish (engine, test_wait_result (&wait), &error));
  g_clear_object (&wait.result);
  g_assert_true (test_wait_for (is_online, engine, TIMEOUT_MS));
  online = g_get_monotonic_time ();
  g_assert_cmpuint (g_list_model_get_n_items (postern_sync_engine_get_channels (engine)), ==, 10000);
  g_assert_cmpuint (changed, ==, 10000);
  /* newest first */
  first = g_list_model_get_item (postern_sync_engine_get_channels (engine), 0);
  g_assert_cmpstr (postern_channel_get_address (first), ==, "c09999@ch.example.org");

  /* Written to the keyring; a restarted agent reads them offline. */
  wait.done = FALSE;
  postern_sync_engine_shutdown_async (engine, NULL, test_wait_cb, &wait);
  g_assert_true (postern_sync_engine_shutdown_finish (engine, test_wait_result (&wait), &error));
  g_clear_object (&wait.result);
  g_signal_handlers_disconnect_by_data (engine, &changed);
  g_clear_object (&engine);

  soup_server_disconnect (fake->server);
  restarted = postern_sync_engine_new ();
  loaded = g_get_monotonic_time ();
  wait.done = FALSE;
  postern_sync_engine_start_async (restarted, NULL, test_wait_cb, &wait);
  g_assert_true (postern_sync_engine_start_finish (restarted, test_wait_result (&wait), &error));
  g_clear_object (&wait.result);
  loaded = g_get_monotonic_time () - loaded;
  g_assert_cmpuint (g_list_model_get_n_items (postern_sync_engine_get_channels (restarted)), ==, 10000);

  g_test_message ("FIGURE engine, 10000 channels: pair + first sync until online %.0f ms; "
                  "start from the keyring (offline) %.0f ms",
                  (online - start) / 1000.0, loaded / 1000.0);
  unpair (restarted);
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

  g_test_add_func ("/postern/client/replay/conflict-resolved", test_conflict_resolved);
  g_test_add_func ("/postern/client/replay/conflict-reported", test_conflict_reported);
  g_test_add_func ("/postern/client/replay/refusal-reported", test_refusal_reported);
  g_test_add_func ("/postern/client/replay/server-error-retried", test_server_error_retried);
  g_test_add_func ("/postern/client/replay/ten-thousand-channels", test_ten_thousand);

  return g_test_run ();
}
