/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <string.h>

#include "keyring-util.h"
#include "postern-client.h"
#include "test-server.h"

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

/* ---- posternd (tests/test-server.h) ---------------------------------------------- */

/* What `posternd fingerprint` prints: the tests check that a probe of the
 * certificate sees the same. */
static char *
admin_fingerprint (TestServer *server)
{
  g_autofree char *out = test_server_admin (server, "fingerprint", NULL);

  return g_strstrip (g_strdup (out));
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

/* ---- tests ----------------------------------------------------------------------- */

static void
test_pair_and_sync (void)
{
  g_autoptr (TestServer) server = test_server_new (TEST_USER);
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

  out = test_server_admin (server, "channel", "add", TEST_USER, "--label", "Made by the admin", NULL);
  test_server_start (server);
  fingerprint = admin_fingerprint (server);

  /* Probe: the certificate's fingerprint, without trusting it. */
  postern_api_client_probe_async (server->url, NULL, test_wait_cb, &wait);
  probed = postern_api_client_probe_finish (test_wait_result (&wait), &error);
  g_assert_no_error (error);
  g_clear_object (&wait.result);
  g_assert_cmpstr (probed, ==, fingerprint);

  engine_start (engine);
  g_assert_cmpint (postern_sync_engine_get_status (engine), ==, POSTERN_SYNC_STATUS_UNPAIRED);

  uri = test_server_pair_uri (server, TEST_USER);
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
  other = test_api_device_new (server, TEST_USER);
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
  g_autoptr (TestServer) server = test_server_new (TEST_USER);
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

  test_server_start (server);
  fingerprint = admin_fingerprint (server);

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
  uri = test_server_pair_uri (server, TEST_USER);
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
  g_autoptr (TestServer) server = test_server_new (TEST_USER);
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

  test_server_start (server);
  engine_start (engine);
  uri = test_server_pair_uri (server, TEST_USER);
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
  g_assert_cmpint (test_smtp_send (server->smtp_port, "jane@acme.example", address, "Hello"), ==, 250);
  sent_at = g_get_monotonic_time ();
  g_assert_cmpint (test_smtp_send (server->smtp_port, "spam@bulk.example", address, "Offer"), ==, 250);
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
  g_autoptr (TestServer) server = test_server_new (TEST_USER);
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

  test_server_start (server);
  fingerprint = admin_fingerprint (server);
  engine_start (engine);
  uri = test_server_pair_uri (server, TEST_USER);
  g_assert_true (engine_pair (engine, uri, NULL, &error));
  assert_status_within (engine, POSTERN_SYNC_STATUS_ONLINE, TIMEOUT_MS);

  g_assert_true (postern_channel_set_label (template_, "To be revoked offline", NULL));
  channel = postern_sync_engine_create_channel (engine, template_, POSTERN_ADDRESS_STYLE_WORDS, &error);
  g_assert_no_error (error);
  kept_id = g_strdup (postern_channel_get_id (channel));
  g_assert_true (test_wait_for (nothing_pending, engine, TIMEOUT_MS));

  other = test_api_device_new (server, TEST_USER);
  before = test_api_get_channel (other, kept_id);
  g_assert_cmpint (postern_channel_get_state (before), ==, POSTERN_CHANNEL_STATE_ACTIVE);

  /* The server goes away. */
  test_server_stop (server);
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
  test_server_start (server);
  g_assert_true (test_wait_for (nothing_pending, restarted, TIMEOUT_MS));
  assert_status_within (restarted, POSTERN_SYNC_STATUS_ONLINE, TIMEOUT_MS);

  /* Exactly once: revoked with one revision step, created with our id and
   * address. */
  after = test_api_get_channel (other, kept_id);
  g_assert_cmpint (postern_channel_get_state (after), ==, POSTERN_CHANNEL_STATE_REVOKED);
  g_assert_cmpint (postern_channel_get_revision (after), ==, postern_channel_get_revision (before) + 1);
  created = test_api_get_channel (other, offline_id);
  g_assert_cmpstr (postern_channel_get_address (created), ==, offline_address);

  /* Another restart with the server up replays nothing more. */
  engine_shutdown (restarted);
  g_clear_object (&restarted);
  third = engine_new ();
  engine_start (third);
  g_assert_cmpuint (postern_sync_engine_get_pending_count (third), ==, 0);
  assert_status_within (third, POSTERN_SYNC_STATUS_ONLINE, TIMEOUT_MS);
  again = test_api_get_channel (other, kept_id);
  g_assert_cmpint (postern_channel_get_revision (again), ==, postern_channel_get_revision (after));

  engine_unpair (third);
}

static void
test_keyring_locked (void)
{
  g_autoptr (TestServer) server = test_server_new (TEST_USER);
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

  test_server_start (server);
  engine_start (engine);
  uri = test_server_pair_uri (server, TEST_USER);
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
  g_autoptr (TestServer) server = test_server_new (TEST_USER);
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

  test_server_start (server);
  fingerprint = admin_fingerprint (server);
  engine_start (engine);
  uri = test_server_pair_uri (server, TEST_USER);
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
  g_assert_cmpint (test_smtp_send (server->smtp_port, "stranger@else.example", address, "Hold me"), ==, 250);
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
  other = test_api_device_new (server, TEST_USER);
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
  g_autoptr (TestServer) server = test_server_new (TEST_USER);
  g_autoptr (PosternSyncEngine) engine = engine_new ();
  g_autoptr (PosternApiClient) other = NULL;
  g_autoptr (JsonNode) devices = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *uri = NULL;
  g_autofree char *fingerprint = NULL;
  gboolean ok = FALSE;
  gint64 engine_device = 0;

  test_server_start (server);
  fingerprint = admin_fingerprint (server);
  engine_start (engine);
  uri = test_server_pair_uri (server, TEST_USER);
  g_assert_true (engine_pair (engine, uri, NULL, &error));
  assert_status_within (engine, POSTERN_SYNC_STATUS_ONLINE, TIMEOUT_MS);

  /* The user removes this computer from another device. */
  other = test_api_device_new (server, TEST_USER);
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
  test_required_env ("POSTERN_TEST_POSTERND");

  g_test_add_func ("/postern/client/sync/pair-and-sync", test_pair_and_sync);
  g_test_add_func ("/postern/client/sync/pin-mismatch", test_pin_mismatch);
  g_test_add_func ("/postern/client/sync/live-event", test_live_event);
  g_test_add_func ("/postern/client/sync/offline-queue", test_offline_queue);
  g_test_add_func ("/postern/client/sync/keyring-locked", test_keyring_locked);
  g_test_add_func ("/postern/client/sync/every-endpoint", test_every_endpoint);
  g_test_add_func ("/postern/client/sync/device-revoked", test_device_revoked);

  return g_test_run ();
}
