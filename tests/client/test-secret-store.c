/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <string.h>

#include "keyring-util.h"
#include "postern-client.h"
#include "test-loop.h"

/*
 * The keyring store against a real gnome-keyring-daemon on a private
 * session bus: run through tests/desktop-session.sh (meson does), which
 * starts and unlocks the login keyring with $POSTERN_TEST_KEYRING_PASSWORD.
 */

#define TIMEOUT_MS 20000

static char *
load (PosternSecretStore *store,
      PosternSecretKind kind,
      GError **error)
{
  TestWait wait = {
    0,
  };
  char *value;

  postern_secret_store_load_async (store, kind, NULL, test_wait_cb, &wait);
  value = postern_secret_store_load_finish (store, test_wait_result (&wait), error);
  g_object_unref (wait.result);
  return value;
}

static gboolean
flush (PosternSecretStore *store,
       GError **error)
{
  TestWait wait = {
    0,
  };
  gboolean ok;

  postern_secret_store_flush_async (store, NULL, test_wait_cb, &wait);
  ok = postern_secret_store_flush_finish (store, test_wait_result (&wait), error);
  g_object_unref (wait.result);
  return ok;
}

static void
clear (PosternSecretStore *store)
{
  g_autoptr (GError) error = NULL;
  TestWait wait = {
    0,
  };

  postern_secret_store_clear_async (store, NULL, test_wait_cb, &wait);
  postern_secret_store_clear_finish (store, test_wait_result (&wait), &error);
  g_assert_no_error (error);
  g_object_unref (wait.result);
}

static void
test_store_and_load (void)
{
  g_autoptr (PosternSecretStore) store = postern_secret_store_new ("https://a.example:8443", "alice");
  g_autoptr (PosternSecretStore) other = postern_secret_store_new ("https://a.example:8443", "bob");
  g_autoptr (GError) error = NULL;
  g_autofree char *token = NULL;
  g_autofree char *missing = NULL;
  g_autofree char *pending = NULL;
  const char *queue = "{\"version\":1,\"mutations\":[]}";

  missing = load (store, POSTERN_SECRET_TOKEN, &error);
  g_assert_no_error (error);
  g_assert_null (missing);

  /* A burst of saves: the last one wins, read-your-writes before the write. */
  postern_secret_store_save (store, POSTERN_SECRET_TOKEN, "0000000000000000000000000000000000000000000000000000000000000000");
  postern_secret_store_save (store, POSTERN_SECRET_TOKEN, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
  postern_secret_store_save (store, POSTERN_SECRET_PENDING, queue);
  g_assert_true (postern_secret_store_get_busy (store));
  token = load (store, POSTERN_SECRET_TOKEN, &error);
  g_assert_cmpstr (token, ==, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
  g_clear_pointer (&token, g_free);

  g_assert_true (flush (store, &error));
  g_assert_no_error (error);
  g_assert_false (postern_secret_store_get_busy (store));
  g_assert_cmpint (postern_secret_store_get_state (store), ==, POSTERN_SECRET_STORE_READY);

  /* A new instance (a restarted agent) reads what was written. */
  g_clear_object (&store);
  store = postern_secret_store_new ("https://a.example:8443", "alice");
  token = load (store, POSTERN_SECRET_TOKEN, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (token, ==, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
  pending = load (store, POSTERN_SECRET_PENDING, &error);
  g_assert_cmpstr (pending, ==, queue);

  /* Accounts do not see each other's items. */
  g_clear_pointer (&missing, g_free);
  missing = load (other, POSTERN_SECRET_TOKEN, &error);
  g_assert_no_error (error);
  g_assert_null (missing);

  /* Saving NULL deletes. */
  postern_secret_store_save (store, POSTERN_SECRET_PENDING, NULL);
  g_assert_true (flush (store, &error));
  g_clear_object (&store);
  store = postern_secret_store_new ("https://a.example:8443", "alice");
  g_clear_pointer (&pending, g_free);
  pending = load (store, POSTERN_SECRET_PENDING, &error);
  g_assert_no_error (error);
  g_assert_null (pending);

  clear (store);
}

static void
test_find_accounts (void)
{
  g_autoptr (PosternSecretStore) store = postern_secret_store_new ("https://b.example", "carol");
  g_autoptr (GError) error = NULL;
  g_auto (GStrv) servers = NULL;
  g_auto (GStrv) users = NULL;
  TestWait wait = {
    0,
  };
  gboolean found = FALSE;

  postern_secret_store_save (store, POSTERN_SECRET_TOKEN, "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb");
  postern_secret_store_save (store, POSTERN_SECRET_CHANNELS, "{}");
  g_assert_true (flush (store, &error));

  postern_secret_store_find_accounts_async (NULL, test_wait_cb, &wait);
  g_assert_true (postern_secret_store_find_accounts_finish (test_wait_result (&wait), &servers, &users, &error));
  g_assert_no_error (error);
  g_object_unref (wait.result);
  g_assert_cmpuint (g_strv_length (servers), ==, g_strv_length (users));
  for (guint i = 0; servers[i] != NULL; i++)
    if (g_str_equal (servers[i], "https://b.example") && g_str_equal (users[i], "carol"))
      found = TRUE;
  g_assert_true (found);

  clear (store);
}

static void
test_snapshot_figures (void)
{
  g_autoptr (PosternSecretStore) store = postern_secret_store_new ("https://big.example", "dave");
  g_autoptr (JsonArray) array = json_array_new ();
  g_autoptr (JsonNode) root = json_node_new (JSON_NODE_ARRAY);
  g_autoptr (GError) error = NULL;
  g_autofree char *text = NULL;
  g_autofree char *back = NULL;
  g_autoptr (JsonNode) parsed = NULL;
  gint64 start, serialized, stored, read, decoded;

  for (guint i = 0; i < 10000; i++)
    {
      g_autoptr (PosternChannel) channel = postern_channel_new ();
      g_autofree char *id = postern_uuid_new ();
      g_autofree char *local = postern_address_generate_local_part (POSTERN_ADDRESS_STYLE_RANDOM);
      g_autofree char *address = g_strconcat (local, "@ch.example.org", NULL);
      g_autofree char *label = g_strdup_printf ("Channel number %u, handed out at a conference", i);
      g_autoptr (PosternSenderPattern) pattern = postern_sender_pattern_parse ("jane@acme.example", NULL);

      g_assert_true (postern_channel_set_id (channel, id, NULL));
      g_assert_true (postern_channel_set_address (channel, address, NULL));
      g_assert_true (postern_channel_set_label (channel, label, NULL));
      g_assert_true (postern_channel_add_expected_sender (channel, pattern, NULL));
      postern_channel_set_created_at (channel, 1795000000 + i);
      postern_channel_set_revision (channel, i + 1);
      json_array_add_element (array, postern_channel_to_json (channel));
    }
  json_node_set_array (root, array);

  start = g_get_monotonic_time ();
  text = postern_json_to_string (root, FALSE);
  serialized = g_get_monotonic_time ();
  postern_secret_store_save (store, POSTERN_SECRET_CHANNELS, text);
  g_assert_true (flush (store, &error));
  g_assert_no_error (error);
  stored = g_get_monotonic_time ();

  g_clear_object (&store);
  store = postern_secret_store_new ("https://big.example", "dave");
  read = g_get_monotonic_time ();
  back = load (store, POSTERN_SECRET_CHANNELS, &error);
  g_assert_no_error (error);
  decoded = g_get_monotonic_time ();
  g_assert_cmpstr (back, ==, text);
  read = decoded - read;
  {
    gint64 t0 = g_get_monotonic_time ();
    parsed = postern_json_from_string (back, -1, &error);
    g_assert_no_error (error);
    for (guint i = 0; i < json_array_get_length (json_node_get_array (parsed)); i++)
      {
        g_autoptr (PosternChannel) channel = postern_channel_new_from_json (json_array_get_element (json_node_get_array (parsed), i), &error);
        g_assert_no_error (error);
      }
    decoded = g_get_monotonic_time () - t0;
  }

  /* The figures docs/keyring.md quotes. */
  g_test_message ("FIGURE 10000-channel snapshot: %zu bytes; serialise %.1f ms; "
                  "keyring store (incl. flush) %.1f ms; keyring read %.1f ms; parse to objects %.1f ms",
                  strlen (text), (serialized - start) / 1000.0, (stored - serialized) / 1000.0,
                  read / 1000.0, decoded / 1000.0);
  g_assert_cmpuint (json_array_get_length (json_node_get_array (parsed)), ==, 10000);

  clear (store);
}

static void
state_notify_cb (GObject *object,
                 GParamSpec *pspec,
                 gpointer user_data)
{
  PosternSecretStoreState *seen = user_data;

  *seen = postern_secret_store_get_state (POSTERN_SECRET_STORE (object));
}

static gboolean
store_idle_ready (gpointer user_data)
{
  PosternSecretStore *store = user_data;

  return !postern_secret_store_get_busy (store) && postern_secret_store_get_state (store) == POSTERN_SECRET_STORE_READY;
}

static void
test_locked (void)
{
  g_autoptr (PosternSecretStore) store = postern_secret_store_new ("https://c.example", "erin");
  g_autoptr (PosternSecretStore) reader = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *value = NULL;
  PosternSecretStoreState seen = POSTERN_SECRET_STORE_UNKNOWN;
  gint64 deadline;

  postern_secret_store_save (store, POSTERN_SECRET_TOKEN, "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc");
  postern_secret_store_save (store, POSTERN_SECRET_CHANNELS, "{\"before\":true}");
  g_assert_true (flush (store, &error));
  g_assert_no_error (error);
  g_signal_connect (store, "notify::state", G_CALLBACK (state_notify_cb), &seen);

  keyring_test_lock ();

  /* A write while locked: the clear, actionable error, value kept. */
  postern_secret_store_save (store, POSTERN_SECRET_CHANNELS, "{\"during\":true}");
  g_assert_false (flush (store, &error));
  g_assert_error (error, POSTERN_CLIENT_ERROR, POSTERN_CLIENT_ERROR_KEYRING_LOCKED);
  g_assert_cmpstr (error->message, ==, "Unlock the login keyring to sync channels");
  g_clear_error (&error);
  g_assert_cmpint (postern_secret_store_get_state (store), ==, POSTERN_SECRET_STORE_LOCKED);
  g_assert_cmpint (seen, ==, POSTERN_SECRET_STORE_LOCKED);
  g_assert_error (postern_secret_store_get_error (store), POSTERN_CLIENT_ERROR, POSTERN_CLIENT_ERROR_KEYRING_LOCKED);
  g_assert_true (postern_secret_store_get_busy (store));

  /* This instance still answers from memory … */
  value = load (store, POSTERN_SECRET_CHANNELS, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (value, ==, "{\"during\":true}");
  g_clear_pointer (&value, g_free);

  /* … another one gets the clear error for the locked item, no prompt. */
  reader = postern_secret_store_new ("https://c.example", "erin");
  value = load (reader, POSTERN_SECRET_TOKEN, &error);
  g_assert_error (error, POSTERN_CLIENT_ERROR, POSTERN_CLIENT_ERROR_KEYRING_LOCKED);
  g_assert_null (value);
  g_clear_error (&error);
  g_clear_object (&reader);

  /* Unlock elsewhere: the store notices by itself (no flush call) and
   * writes what it kept. */
  keyring_test_unlock ();
  deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
  while (!store_idle_ready (store) && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, TRUE);
  g_assert_true (store_idle_ready (store));
  g_assert_cmpint (seen, ==, POSTERN_SECRET_STORE_READY);
  g_assert_null (postern_secret_store_get_error (store));

  reader = postern_secret_store_new ("https://c.example", "erin");
  value = load (reader, POSTERN_SECRET_CHANNELS, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (value, ==, "{\"during\":true}");
  g_clear_pointer (&value, g_free);
  value = load (reader, POSTERN_SECRET_TOKEN, &error);
  g_assert_cmpstr (value, ==, "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc");

  g_signal_handlers_disconnect_by_data (store, &seen);
  clear (store);
}

static void
test_clear_after_save (void)
{
  g_autoptr (PosternSecretStore) store = postern_secret_store_new ("https://e.example", "gina");
  g_autoptr (PosternSecretStore) reader = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *value = NULL;
  TestWait flushed = {
    0,
  };
  TestWait cleared = {
    0,
  };

  /* Unpairing right after a change (a write queued and one in flight)
   * leaves no item behind. */
  for (guint round = 0; round < 5; round++)
    {
      postern_secret_store_save (store, POSTERN_SECRET_TOKEN, "eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee");
      postern_secret_store_save (store, POSTERN_SECRET_CHANNELS, "{\"big\":true}");
      flushed.done = cleared.done = FALSE;
      postern_secret_store_flush_async (store, NULL, test_wait_cb, &flushed);
      postern_secret_store_clear_async (store, NULL, test_wait_cb, &cleared);
      postern_secret_store_flush_finish (store, test_wait_result (&flushed), NULL);
      g_assert_true (postern_secret_store_clear_finish (store, test_wait_result (&cleared), &error));
      g_assert_no_error (error);
      g_clear_object (&flushed.result);
      g_clear_object (&cleared.result);

      reader = postern_secret_store_new ("https://e.example", "gina");
      value = load (reader, POSTERN_SECRET_TOKEN, &error);
      g_assert_no_error (error);
      g_assert_null (value);
      value = load (reader, POSTERN_SECRET_CHANNELS, &error);
      g_assert_null (value);
      g_clear_object (&reader);
    }
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

  g_test_add_func ("/postern/client/secret-store/store-and-load", test_store_and_load);
  g_test_add_func ("/postern/client/secret-store/find-accounts", test_find_accounts);
  g_test_add_func ("/postern/client/secret-store/snapshot-figures", test_snapshot_figures);
  g_test_add_func ("/postern/client/secret-store/locked", test_locked);
  g_test_add_func ("/postern/client/secret-store/clear-after-save", test_clear_after_save);

  return g_test_run ();
}
