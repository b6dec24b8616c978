/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <glib/gstdio.h>
#include <signal.h>
#include <sys/wait.h>

#include "postern-client.h"
#include "test-harness.h"

/*
 * postern-agent against a real posternd and a real gnome-keyring, through
 * its D-Bus API only. Runs inside tests/desktop-session.sh.
 */

#define ERROR_PREFIX "io.github.postern.Postern.Error."
#define USER         TEST_FIXTURE_USER

static void
assert_remote_error (const GError *error,
                     const char *name)
{
  g_autofree char *remote = NULL;
  g_autofree char *expected = g_strconcat (ERROR_PREFIX, name, NULL);

  g_assert_nonnull (error);
  remote = g_dbus_error_get_remote_error (error);
  g_assert_cmpstr (remote, ==, expected);
}

static GVariant *
get_status (TestAgent *agent)
{
  g_autoptr (GError) error = NULL;
  GVariant *status = NULL;

  postern_dbus_agent1_call_get_status_sync (agent->proxy, &status, NULL, &error);
  g_assert_no_error (error);
  return status;
}

static guint
get_pending (TestAgent *agent)
{
  g_autoptr (GVariant) status = get_status (agent);
  guint32 pending = G_MAXUINT32;

  g_assert_true (g_variant_lookup (status, "pending", "u", &pending));
  return pending;
}

static JsonArray *
list_channels (TestAgent *agent)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *json = NULL;
  g_autoptr (JsonNode) node = NULL;

  postern_dbus_agent1_call_list_channels_sync (agent->proxy, &json, NULL, &error);
  g_assert_no_error (error);
  node = postern_json_from_string (json, -1, &error);
  g_assert_no_error (error);
  g_assert_true (JSON_NODE_HOLDS_ARRAY (node));
  return json_array_ref (json_node_get_array (node));
}

static JsonObject *
find_channel (JsonArray *channels,
              const char *id)
{
  for (guint i = 0; i < json_array_get_length (channels); i++)
    {
      JsonObject *channel = json_array_get_object_element (channels, i);

      if (g_strcmp0 (json_object_get_string_member (channel, "id"), id) == 0)
        return channel;
    }
  return NULL;
}

/* Pairs through D-Bus, the way the app does: probe, compare, pair. */
static void
pair_over_dbus (TestFixture *fixture)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GVariant) status = NULL;
  g_autofree char *uri = test_server_pair_uri (fixture->server, USER);
  gboolean paired = FALSE;

  postern_dbus_agent1_call_pair_sync (fixture->agent->proxy, uri, "", "", "test-laptop", &status, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (g_variant_lookup (status, "paired", "b", &paired));
  g_assert_true (paired);
  g_assert_true (test_agent_wait_connection (fixture->agent, "online", TEST_TIMEOUT_MS));
}

/* Creates a channel through the agent; returns its id. */
static char *
create_channel (TestAgent *agent,
                const char *label,
                const char *kind,
                const char *expected_sender,
                char **out_address)
{
  g_autoptr (GError) error = NULL;
  g_auto (GVariantBuilder) options = G_VARIANT_BUILDER_INIT (G_VARIANT_TYPE_VARDICT);
  g_autofree char *json = NULL;
  g_autoptr (JsonNode) node = NULL;
  JsonObject *channel;

  g_variant_builder_add (&options, "{sv}", "label", g_variant_new_string (label));
  if (kind != NULL)
    g_variant_builder_add (&options, "{sv}", "kind", g_variant_new_string (kind));
  if (expected_sender != NULL)
    g_variant_builder_add (&options, "{sv}", "expected_sender", g_variant_new_string (expected_sender));
  postern_dbus_agent1_call_create_channel_sync (agent->proxy, g_variant_builder_end (&options), &json, NULL, &error);
  g_assert_no_error (error);
  node = postern_json_from_string (json, -1, &error);
  g_assert_no_error (error);
  channel = json_node_get_object (node);
  g_assert_cmpstr (json_object_get_string_member (channel, "label"), ==, label);
  if (out_address != NULL)
    *out_address = g_strdup (json_object_get_string_member (channel, "address"));
  return g_strdup (json_object_get_string_member (channel, "id"));
}

static gboolean
nothing_pending (gpointer user_data)
{
  return get_pending (user_data) == 0;
}

/* ---- signals ---------------------------------------------------------------------- */

typedef struct
{
  GPtrArray *events;   /* JSON strings of EventAdded */
  GPtrArray *alerts;   /* JSON strings of Alert (event) */
  GPtrArray *channels; /* JSON strings of ChannelChanged */
  gint64 last_event_time;
} Signals;

static void
event_added_cb (PosternDBusAgent1 *proxy,
                const char *json,
                Signals *signals)
{
  signals->last_event_time = g_get_monotonic_time ();
  g_ptr_array_add (signals->events, g_strdup (json));
}

static void
alert_cb (PosternDBusAgent1 *proxy,
          const char *event_json,
          const char *channel_json,
          Signals *signals)
{
  g_ptr_array_add (signals->alerts, g_strdup (event_json));
}

static void
channel_changed_cb (PosternDBusAgent1 *proxy,
                    const char *json,
                    Signals *signals)
{
  g_ptr_array_add (signals->channels, g_strdup (json));
}

static void
signals_connect (Signals *signals,
                 TestAgent *agent)
{
  signals->events = g_ptr_array_new_with_free_func (g_free);
  signals->alerts = g_ptr_array_new_with_free_func (g_free);
  signals->channels = g_ptr_array_new_with_free_func (g_free);
  g_signal_connect (agent->proxy, "event-added", G_CALLBACK (event_added_cb), signals);
  g_signal_connect (agent->proxy, "alert", G_CALLBACK (alert_cb), signals);
  g_signal_connect (agent->proxy, "channel-changed", G_CALLBACK (channel_changed_cb), signals);
}

static void
signals_disconnect (Signals *signals,
                    TestAgent *agent)
{
  g_signal_handlers_disconnect_by_data (agent->proxy, signals);
  g_clear_pointer (&signals->events, g_ptr_array_unref);
  g_clear_pointer (&signals->alerts, g_ptr_array_unref);
  g_clear_pointer (&signals->channels, g_ptr_array_unref);
}

typedef struct
{
  GPtrArray *array;
  guint count;
} AtLeast;

static gboolean
has_at_least (gpointer user_data)
{
  AtLeast *at_least = user_data;

  return at_least->array->len >= at_least->count;
}

/* ---- keyring ------------------------------------------------------------------------ */

#define SECRETS_NAME       "org.freedesktop.secrets"
#define SECRETS_PATH       "/org/freedesktop/secrets"
#define DEFAULT_COLLECTION "/org/freedesktop/secrets/aliases/default"

static void
keyring_lock (GDBusConnection *bus)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GVariant) reply = NULL;
  const char *objects[] = { DEFAULT_COLLECTION, NULL };

  reply = g_dbus_connection_call_sync (bus, SECRETS_NAME, SECRETS_PATH, "org.freedesktop.Secret.Service", "Lock",
                                       g_variant_new ("(^ao)", objects), G_VARIANT_TYPE ("(aoo)"),
                                       G_DBUS_CALL_FLAGS_NONE, TEST_TIMEOUT_MS, NULL, &error);
  g_assert_no_error (error);
}

/* gnome-keyring's own interface unlocks without a prompt (there is no
 * display to show one on). */
static void
keyring_unlock (GDBusConnection *bus)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GVariant) session = NULL;
  g_autoptr (GVariant) reply = NULL;
  const char *password = g_getenv ("POSTERN_TEST_KEYRING_PASSWORD");
  const char *session_path;
  GVariant *secret;

  g_assert_nonnull (password);
  session = g_dbus_connection_call_sync (bus, SECRETS_NAME, SECRETS_PATH, "org.freedesktop.Secret.Service", "OpenSession",
                                         g_variant_new ("(sv)", "plain", g_variant_new_string ("")),
                                         G_VARIANT_TYPE ("(vo)"), G_DBUS_CALL_FLAGS_NONE, TEST_TIMEOUT_MS, NULL, &error);
  g_assert_no_error (error);
  g_variant_get (session, "(v&o)", NULL, &session_path);
  secret = g_variant_new ("(o@ay@ays)", session_path,
                          g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE, "", 0, 1),
                          g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE, password, strlen (password), 1),
                          "text/plain");
  reply = g_dbus_connection_call_sync (bus, SECRETS_NAME, SECRETS_PATH,
                                       "org.gnome.keyring.InternalUnsupportedGuiltRiddenInterface",
                                       "UnlockWithMasterPassword",
                                       g_variant_new ("(o@(oayays))", "/org/freedesktop/secrets/collection/login", secret),
                                       NULL, G_DBUS_CALL_FLAGS_NONE, TEST_TIMEOUT_MS, NULL, &error);
  g_assert_no_error (error);
}

/* ---- tests ---------------------------------------------------------------------------- */

static void
test_unpaired (TestFixture *fixture,
               gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GVariant) status = get_status (fixture->agent);
  g_autoptr (JsonArray) channels = list_channels (fixture->agent);
  g_auto (GVariantBuilder) options = G_VARIANT_BUILDER_INIT (G_VARIANT_TYPE_VARDICT);
  g_autofree char *json = NULL;
  g_autofree char *message = NULL;
  const char *connection = NULL;
  gboolean paired = TRUE;

  g_assert_true (g_variant_lookup (status, "paired", "b", &paired));
  g_assert_false (paired);
  g_assert_true (g_variant_lookup (status, "connection", "&s", &connection));
  g_assert_cmpstr (connection, ==, "unpaired");
  g_assert_cmpuint (json_array_get_length (channels), ==, 0);

  g_variant_builder_add (&options, "{sv}", "label", g_variant_new_string ("Nobody"));
  postern_dbus_agent1_call_create_channel_sync (fixture->agent->proxy, g_variant_builder_end (&options), &json, NULL, &error);
  assert_remote_error (error, "NotPaired");
  g_clear_error (&error);

  postern_dbus_agent1_call_revoke_sync (fixture->agent->proxy, "0b9f7f64-8f1e-4d7c-9d55-0e8e4c1d1c11", NULL, &error);
  assert_remote_error (error, "NotPaired");
  g_clear_error (&error);

  postern_dbus_agent1_call_get_channel_sync (fixture->agent->proxy, "0b9f7f64-8f1e-4d7c-9d55-0e8e4c1d1c11", &json, NULL, &error);
  assert_remote_error (error, "NotFound");
}

static void
test_bad_arguments (TestFixture *fixture,
                    gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *json = NULL;

  pair_over_dbus (fixture);

  {
    g_auto (GVariantBuilder) options = G_VARIANT_BUILDER_INIT (G_VARIANT_TYPE_VARDICT);

    g_variant_builder_add (&options, "{sv}", "label", g_variant_new_string ("x"));
    g_variant_builder_add (&options, "{sv}", "kind", g_variant_new_string ("forever"));
    postern_dbus_agent1_call_create_channel_sync (fixture->agent->proxy, g_variant_builder_end (&options), &json, NULL, &error);
    assert_remote_error (error, "Invalid");
    g_assert_nonnull (strstr (error->message, "one-time"));
    g_clear_error (&error);
  }
  {
    g_auto (GVariantBuilder) options = G_VARIANT_BUILDER_INIT (G_VARIANT_TYPE_VARDICT);

    g_variant_builder_add (&options, "{sv}", "label", g_variant_new_string ("x"));
    g_variant_builder_add (&options, "{sv}", "colour", g_variant_new_string ("blue"));
    postern_dbus_agent1_call_create_channel_sync (fixture->agent->proxy, g_variant_builder_end (&options), &json, NULL, &error);
    assert_remote_error (error, "Invalid");
    g_clear_error (&error);
  }
  {
    g_auto (GVariantBuilder) options = G_VARIANT_BUILDER_INIT (G_VARIANT_TYPE_VARDICT);

    g_variant_builder_add (&options, "{sv}", "label", g_variant_new_int32 (7));
    postern_dbus_agent1_call_create_channel_sync (fixture->agent->proxy, g_variant_builder_end (&options), &json, NULL, &error);
    assert_remote_error (error, "Invalid");
    g_clear_error (&error);
  }

  postern_dbus_agent1_call_pause_sync (fixture->agent->proxy, "not-a-channel", NULL, &error);
  assert_remote_error (error, "NotFound");
  g_clear_error (&error);

  {
    g_autofree char *id = create_channel (fixture->agent, "Bad senders", NULL, NULL, NULL);

    postern_dbus_agent1_call_trust_sender_sync (fixture->agent->proxy, id, "not a pattern", NULL, &error);
    assert_remote_error (error, "Invalid");
  }
}

static void
test_update (TestFixture *fixture,
             gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PosternApiClient) admin = NULL;
  g_autoptr (PosternChannel) on_server = NULL;
  g_autofree char *id = NULL;
  g_autofree char *json = NULL;
  g_autoptr (JsonNode) node = NULL;
  JsonObject *channel;

  pair_over_dbus (fixture);
  admin = test_api_device_new (fixture->server, USER);
  id = create_channel (fixture->agent, "Old label", NULL, NULL, NULL);

  {
    g_auto (GVariantBuilder) changes = G_VARIANT_BUILDER_INIT (G_VARIANT_TYPE_VARDICT);

    g_variant_builder_add (&changes, "{sv}", "label", g_variant_new_string ("New label"));
    g_variant_builder_add (&changes, "{sv}", "on_unexpected", g_variant_new_string ("reject"));
    g_variant_builder_add (&changes, "{sv}", "expires_at", g_variant_new_int64 (4102444800)); /* 2100-01-01 */
    postern_dbus_agent1_call_update_channel_sync (fixture->agent->proxy, id, g_variant_builder_end (&changes), &json, NULL, &error);
    g_assert_no_error (error);
  }
  node = postern_json_from_string (json, -1, &error);
  g_assert_no_error (error);
  channel = json_node_get_object (node);
  g_assert_cmpstr (json_object_get_string_member (channel, "label"), ==, "New label");
  g_assert_cmpstr (json_object_get_string_member (channel, "on_unexpected"), ==, "reject");
  g_assert_cmpstr (json_object_get_string_member (channel, "expires_at"), ==, "2100-01-01T00:00:00Z");

  /* The state is not a change: it has its own methods. */
  {
    g_auto (GVariantBuilder) changes = G_VARIANT_BUILDER_INIT (G_VARIANT_TYPE_VARDICT);
    g_autofree char *ignored = NULL;

    g_variant_builder_add (&changes, "{sv}", "state", g_variant_new_string ("active"));
    postern_dbus_agent1_call_update_channel_sync (fixture->agent->proxy, id, g_variant_builder_end (&changes), &ignored, NULL, &error);
    assert_remote_error (error, "Invalid");
    g_clear_error (&error);
  }

  g_assert_true (test_wait_for (nothing_pending, fixture->agent, TEST_TIMEOUT_MS));
  on_server = test_api_get_channel (admin, id);
  g_assert_cmpstr (postern_channel_get_label (on_server), ==, "New label");
  g_assert_cmpint (postern_channel_get_on_unexpected (on_server), ==, POSTERN_UNEXPECTED_REJECT);
  g_assert_cmpint (postern_channel_get_expires_at (on_server), ==, 4102444800);
}

static gboolean
timeline_has_event (gpointer user_data)
{
  TestFixture *fixture = ((gpointer *)user_data)[0];
  const char *id = ((gpointer *)user_data)[1];
  g_autoptr (GError) error = NULL;
  g_autofree char *json = NULL;
  g_autoptr (JsonNode) node = NULL;
  JsonArray *entries;

  postern_dbus_agent1_call_get_timeline_sync (fixture->agent->proxy, id, &json, NULL, &error);
  g_assert_no_error (error);
  node = postern_json_from_string (json, -1, &error);
  g_assert_no_error (error);
  entries = json_object_get_array_member (json_node_get_object (node), "entries");
  for (guint i = 0; i < json_array_get_length (entries); i++)
    if (g_strcmp0 (json_object_get_string_member (json_array_get_object_element (entries, i), "type"), "event") == 0)
      return TRUE;
  return FALSE;
}

static void
test_timeline_devices (TestFixture *fixture,
                       gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PosternApiClient) admin = NULL;
  g_autofree char *id = NULL;
  g_autofree char *address = NULL;
  g_autofree char *json = NULL;
  g_autoptr (JsonNode) node = NULL;
  JsonArray *entries;
  JsonArray *devices;
  gint64 other = 0;
  gboolean shared = FALSE;
  guint current = 0;
  gpointer wait[2];

  pair_over_dbus (fixture);
  admin = test_api_device_new (fixture->server, USER);
  id = create_channel (fixture->agent, "Timeline", "open", NULL, &address);
  postern_dbus_agent1_call_record_share_sync (fixture->agent->proxy, id, "qr", "Jane at FOSDEM", NULL, &error);
  g_assert_no_error (error);
  g_assert_true (test_wait_for (nothing_pending, fixture->agent, TEST_TIMEOUT_MS));
  g_assert_cmpint (test_smtp_send (fixture->server->smtp_port, "jane@acme.example", address, "Hi"), ==, 250);

  /* Given out by QR to Jane, then her mail: the server's history. */
  wait[0] = fixture;
  wait[1] = id;
  g_assert_true (test_wait_for (timeline_has_event, wait, TEST_TIMEOUT_MS));
  postern_dbus_agent1_call_get_timeline_sync (fixture->agent->proxy, id, &json, NULL, &error);
  g_assert_no_error (error);
  node = postern_json_from_string (json, -1, &error);
  g_assert_no_error (error);
  entries = json_object_get_array_member (json_node_get_object (node), "entries");
  for (guint i = 0; i < json_array_get_length (entries); i++)
    {
      JsonObject *entry = json_array_get_object_element (entries, i);

      if (g_strcmp0 (json_object_get_string_member (entry, "type"), "share") == 0)
        {
          JsonObject *share = json_object_get_object_member (entry, "share");

          g_assert_cmpstr (json_object_get_string_member (share, "method"), ==, "qr");
          g_assert_cmpstr (json_object_get_string_member (share, "recipient"), ==, "Jane at FOSDEM");
          shared = TRUE;
        }
    }
  g_assert_true (shared);
  g_clear_pointer (&json, g_free);
  g_clear_pointer (&node, json_node_unref);

  postern_dbus_agent1_call_get_timeline_sync (fixture->agent->proxy, "0b9f7f64-8f1e-4d7c-9d55-0e8e4c1d1c11", &json, NULL, &error);
  assert_remote_error (error, "NotFound");
  g_clear_error (&error);

  /* Two devices: this agent and the admin; revoking the admin ends it. */
  postern_dbus_agent1_call_list_devices_sync (fixture->agent->proxy, &json, NULL, &error);
  g_assert_no_error (error);
  node = postern_json_from_string (json, -1, &error);
  g_assert_no_error (error);
  devices = json_node_get_array (node);
  g_assert_cmpuint (json_array_get_length (devices), ==, 2);
  for (guint i = 0; i < json_array_get_length (devices); i++)
    {
      JsonObject *device = json_array_get_object_element (devices, i);

      if (json_object_get_boolean_member (device, "current"))
        {
          current++;
          g_assert_cmpstr (json_object_get_string_member (device, "name"), ==, "test-laptop");
        }
      else
        other = json_object_get_int_member (device, "id");
    }
  g_assert_cmpuint (current, ==, 1);
  g_assert_cmpint (other, >, 0);

  postern_dbus_agent1_call_revoke_device_sync (fixture->agent->proxy, other, NULL, &error);
  g_assert_no_error (error);
  g_clear_pointer (&json, g_free);
  g_clear_pointer (&node, json_node_unref);
  postern_dbus_agent1_call_list_devices_sync (fixture->agent->proxy, &json, NULL, &error);
  g_assert_no_error (error);
  node = postern_json_from_string (json, -1, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (json_array_get_length (json_node_get_array (node)), ==, 1);
}

static void
test_activation (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GDBusConnection) bus = g_bus_get_sync (G_BUS_TYPE_SESSION, NULL, &error);
  g_autoptr (PosternDBusAgent1) proxy = NULL;
  g_autoptr (GVariant) status = NULL;
  g_autoptr (GVariant) reply = NULL;
  guint32 pid = 0;

  g_assert_no_error (error);
  /* Auto-start allowed: the bus starts the agent from its service file. */
  proxy = postern_dbus_agent1_proxy_new_sync (bus, G_DBUS_PROXY_FLAGS_DO_NOT_LOAD_PROPERTIES,
                                              "io.github.postern.Postern.Agent",
                                              "/io/github/postern/Postern/Agent", NULL, &error);
  g_assert_no_error (error);
  g_dbus_proxy_set_default_timeout (G_DBUS_PROXY (proxy), TEST_TIMEOUT_MS);
  postern_dbus_agent1_call_get_status_sync (proxy, &status, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (g_variant_lookup_value (status, "connection", G_VARIANT_TYPE_STRING) != NULL);

  /* Stop the activated agent by its PID and wait for it to leave. */
  reply = g_dbus_connection_call_sync (bus, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                                       "GetConnectionUnixProcessID",
                                       g_variant_new ("(s)", "io.github.postern.Postern.Agent"),
                                       G_VARIANT_TYPE ("(u)"), G_DBUS_CALL_FLAGS_NONE, TEST_TIMEOUT_MS, NULL, &error);
  g_assert_no_error (error);
  g_variant_get (reply, "(u)", &pid);
  g_assert_cmpuint (pid, >, 1);
  g_assert_cmpint (kill ((pid_t)pid, SIGTERM), ==, 0);
  for (guint i = 0; i < 500; i++)
    {
      g_autofree char *owner = g_dbus_proxy_get_name_owner (G_DBUS_PROXY (proxy));

      if (owner == NULL)
        break;
      test_spin_for (20);
    }
  {
    g_autofree char *owner = g_dbus_proxy_get_name_owner (G_DBUS_PROXY (proxy));

    g_assert_null (owner);
  }
}

static void
test_replace (void)
{
  g_autoptr (GError) error = NULL;
  TestAgent *first = test_agent_start ();
  const char *argv[] = { g_getenv ("POSTERN_TEST_AGENT"), "--replace", NULL };
  g_autoptr (GSubprocess) second = NULL;
  g_autoptr (GVariant) status = NULL;
  int wait_status;

  second = test_spawn (G_SUBPROCESS_FLAGS_NONE, argv);
  g_assert_no_error (error);

  /* The first agent hands over its name and exits cleanly. */
  wait_status = test_subprocess_wait (first->process, TEST_TIMEOUT_MS);
  g_assert_true (WIFEXITED (wait_status));
  g_assert_cmpint (WEXITSTATUS (wait_status), ==, 0);

  postern_dbus_agent1_call_get_status_sync (first->proxy, &status, NULL, &error);
  g_assert_no_error (error);

  g_subprocess_send_signal (second, SIGTERM);
  wait_status = test_subprocess_wait (second, TEST_TIMEOUT_MS);
  g_assert_true (WIFEXITED (wait_status));
  g_assert_cmpint (WEXITSTATUS (wait_status), ==, 0);

  g_clear_object (&first->proxy);
  g_clear_object (&first->process);
  g_clear_object (&first->bus);
  g_free (first);
}

static void
test_pair_uri (TestFixture *fixture,
               gconstpointer data)
{
  g_autoptr (GVariant) status = NULL;
  g_autofree char *expected = test_server_fingerprint (fixture->server);
  const char *fingerprint = NULL;
  const char *user = NULL;
  const char *server = NULL;
  const char *const *domains = NULL;

  pair_over_dbus (fixture);
  status = get_status (fixture->agent);
  g_assert_true (g_variant_lookup (status, "fingerprint", "&s", &fingerprint));
  g_assert_true (postern_fingerprint_equal (fingerprint, expected));
  g_assert_true (g_variant_lookup (status, "user", "&s", &user));
  g_assert_cmpstr (user, ==, USER);
  g_assert_true (g_variant_lookup (status, "server", "&s", &server));
  g_assert_cmpstr (server, ==, fixture->server->url);
  g_assert_true (g_variant_lookup (status, "domains", "^a&s", &domains));
  g_assert_true (g_strv_contains (domains, "ch.postern.test"));
  g_free ((gpointer)domains);
}

static void
test_pair_pin_mismatch (TestFixture *fixture,
                        gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GVariant) status = NULL;
  g_autofree char *uri = test_server_pair_uri (fixture->server, USER);
  g_autofree char *url = NULL;
  g_autofree char *code = NULL;
  g_autofree char *fingerprint = NULL;
  g_autofree char *wrong = NULL;
  gboolean paired = TRUE;

  g_assert_true (postern_pair_uri_parse (uri, &url, &code, &fingerprint, &error));
  /* Same length and form, one byte different: what an interceptor shows. */
  wrong = g_strdup (fingerprint);
  wrong[0] = wrong[0] == 'A' ? 'B' : 'A';

  postern_dbus_agent1_call_pair_sync (fixture->agent->proxy, url, code, wrong, "intercepted", &status, NULL, &error);
  assert_remote_error (error, "Untrusted");
  g_clear_error (&error);

  status = get_status (fixture->agent);
  g_assert_true (g_variant_lookup (status, "paired", "b", &paired));
  g_assert_false (paired);
}

static gboolean
reports_changed_certificate (gpointer user_data)
{
  TestAgent *agent = user_data;
  g_autoptr (GVariant) status = get_status (agent);
  const char *message = "";
  const char *connection = "";

  g_variant_lookup (status, "message", "&s", &message);
  g_variant_lookup (status, "connection", "&s", &connection);
  return strstr (message, "certificate") != NULL && g_strcmp0 (connection, "online") != 0;
}

/* Trust on first use, like SSH: a different certificate later is refused,
 * whatever it is signed by. */
static void
test_pair_certificate_changed (TestFixture *fixture,
                               gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *state = g_build_filename (fixture->server->dir, "state", NULL);
  g_autofree char *cert = g_build_filename (state, "api-cert.pem", NULL);
  g_autofree char *key = g_build_filename (state, "api-key.pem", NULL);
  g_autofree char *held = NULL;

  pair_over_dbus (fixture);
  test_server_stop (fixture->server);
  g_assert_cmpint (g_unlink (cert), ==, 0);
  g_assert_cmpint (g_unlink (key), ==, 0);
  /* posternd makes itself a new self-signed certificate at start. */
  test_server_start (fixture->server);
  postern_dbus_agent1_call_sync_now_sync (fixture->agent->proxy, NULL, &error);
  g_assert_no_error (error);

  g_assert_true (test_wait_for (reports_changed_certificate, fixture->agent, TEST_TIMEOUT_MS));
  postern_dbus_agent1_call_list_held_sync (fixture->agent->proxy, &held, NULL, &error);
  assert_remote_error (error, "Untrusted");
}

static void
test_server_channels_sync (TestFixture *fixture,
                           gconstpointer data)
{
  g_autoptr (PosternApiClient) admin = NULL;
  g_autoptr (PosternChannel) before = NULL;
  g_autoptr (PosternChannel) live = NULL;
  g_autoptr (JsonArray) channels = NULL;
  Signals signals = {
    0,
  };
  AtLeast at_least;

  admin = test_api_device_new (fixture->server, USER);
  /* Made before pairing: the first sync fetches it. */
  before = test_api_create_channel (admin, "Made before pairing");
  pair_over_dbus (fixture);
  channels = list_channels (fixture->agent);
  g_assert_nonnull (find_channel (channels, postern_channel_get_id (before)));
  g_clear_pointer (&channels, json_array_unref);

  /* Made while connected: pushed live. */
  signals_connect (&signals, fixture->agent);
  live = test_api_create_channel (admin, "Made while online");
  at_least = (AtLeast){ signals.channels, 1 };
  g_assert_true (test_wait_for (has_at_least, &at_least, TEST_TIMEOUT_MS));
  channels = list_channels (fixture->agent);
  g_assert_nonnull (find_channel (channels, postern_channel_get_id (live)));
  g_assert_cmpstr (json_object_get_string_member (find_channel (channels, postern_channel_get_id (live)), "label"), ==,
                   "Made while online");
  signals_disconnect (&signals, fixture->agent);
}

static void
test_live_event (TestFixture *fixture,
                 gconstpointer data)
{
  g_autofree char *address = NULL;
  g_autofree char *id = NULL;
  g_autoptr (JsonNode) event = NULL;
  Signals signals = {
    0,
  };
  AtLeast at_least;
  gint64 accepted;
  int code;

  pair_over_dbus (fixture);
  id = create_channel (fixture->agent, "Recruiter", "relationship", "jane@acme.example", &address);
  g_assert_true (test_wait_for (nothing_pending, fixture->agent, TEST_TIMEOUT_MS));
  signals_connect (&signals, fixture->agent);

  code = test_smtp_send (fixture->server->smtp_port, "jane@acme.example", address, "Interview");
  accepted = g_get_monotonic_time ();
  g_assert_cmpint (code, ==, 250);
  at_least = (AtLeast){ signals.events, 1 };
  g_assert_true (test_wait_for (has_at_least, &at_least, TEST_TIMEOUT_MS));
  g_test_message ("SMTP 250 → EventAdded: %" G_GINT64_FORMAT " µs", signals.last_event_time - accepted);
  /* The bar: within a second of the 250. */
  g_assert_cmpint (signals.last_event_time - accepted, <, G_USEC_PER_SEC);
  event = postern_json_from_string (g_ptr_array_index (signals.events, 0), -1, NULL);
  g_assert_cmpstr (json_object_get_string_member (json_node_get_object (event), "channel_id"), ==, id);
  g_assert_cmpstr (json_object_get_string_member (json_node_get_object (event), "verdict"), ==, "expected");
  g_assert_cmpuint (signals.alerts->len, ==, 0);
  {
    g_autoptr (JsonArray) channels = list_channels (fixture->agent);

    g_assert_cmpstr (json_object_get_string_member (find_channel (channels, id), "last_activity_at"), ==,
                     json_object_get_string_member (json_node_get_object (event), "received_at"));
  }

  /* A stranger: delivered, tagged, and an Alert. */
  code = test_smtp_send (fixture->server->smtp_port, "leak@bulk.example", address, "Offer");
  g_assert_cmpint (code, ==, 250);
  at_least = (AtLeast){ signals.alerts, 1 };
  g_assert_true (test_wait_for (has_at_least, &at_least, TEST_TIMEOUT_MS));
  g_clear_pointer (&event, json_node_unref);
  event = postern_json_from_string (g_ptr_array_index (signals.alerts, 0), -1, NULL);
  g_assert_cmpstr (json_object_get_string_member (json_node_get_object (event), "verdict"), ==, "unexpected");
  g_assert_cmpstr (json_object_get_string_member (json_node_get_object (event), "envelope_sender"), ==, "leak@bulk.example");

  signals_disconnect (&signals, fixture->agent);
}

static void
test_offline_queue (TestFixture *fixture,
                    gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PosternApiClient) admin = NULL;
  g_autoptr (PosternChannel) on_server = NULL;
  g_autoptr (PosternChannel) after = NULL;
  g_autoptr (JsonArray) channels = NULL;
  g_autofree char *address = NULL;
  g_autofree char *id = NULL;
  g_autofree char *pending = NULL;
  g_autoptr (JsonNode) pending_node = NULL;
  gint64 revision_before;

  pair_over_dbus (fixture);
  admin = test_api_device_new (fixture->server, USER);
  id = create_channel (fixture->agent, "Shop", "open", NULL, &address);
  g_assert_true (test_wait_for (nothing_pending, fixture->agent, TEST_TIMEOUT_MS));
  on_server = test_api_get_channel (admin, id);
  revision_before = postern_channel_get_revision (on_server);

  test_server_stop (fixture->server);
  g_assert_true (test_agent_wait_connection (fixture->agent, "offline", TEST_TIMEOUT_MS));

  /* Revoked while the server is down: applied locally, queued. */
  postern_dbus_agent1_call_revoke_sync (fixture->agent->proxy, id, NULL, &error);
  g_assert_no_error (error);
  channels = list_channels (fixture->agent);
  g_assert_cmpstr (json_object_get_string_member (find_channel (channels, id), "state"), ==, "revoked");
  /* The app shows which channels wait for the server. */
  g_assert_true (json_object_get_boolean_member (find_channel (channels, id), "pending"));
  g_assert_cmpuint (get_pending (fixture->agent), ==, 1);
  postern_dbus_agent1_call_list_pending_sync (fixture->agent->proxy, &pending, NULL, &error);
  g_assert_no_error (error);
  pending_node = postern_json_from_string (pending, -1, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (json_array_get_length (json_node_get_array (pending_node)), ==, 1);
  g_assert_cmpstr (json_object_get_string_member (json_array_get_object_element (json_node_get_array (pending_node), 0), "op"), ==, "revoke");

  test_server_start (fixture->server);
  postern_dbus_agent1_call_sync_now_sync (fixture->agent->proxy, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (test_wait_for (nothing_pending, fixture->agent, TEST_TIMEOUT_MS));
  g_assert_true (test_agent_wait_connection (fixture->agent, "online", TEST_TIMEOUT_MS));

  g_clear_pointer (&channels, json_array_unref);
  channels = list_channels (fixture->agent);
  g_assert_false (json_object_get_boolean_member (find_channel (channels, id), "pending"));

  /* Landed, exactly once: one revision step, and senders now get 550. */
  after = test_api_get_channel (admin, id);
  g_assert_cmpint (postern_channel_get_state (after), ==, POSTERN_CHANNEL_STATE_REVOKED);
  g_assert_cmpint (postern_channel_get_revision (after), ==, revision_before + 1);
  g_assert_cmpint (test_smtp_send (fixture->server->smtp_port, "someone@example.org", address, "Late"), ==, 550);

  /* Nothing replays it again later. */
  postern_dbus_agent1_call_sync_now_sync (fixture->agent->proxy, NULL, &error);
  g_assert_no_error (error);
  test_spin_for (500);
  g_clear_object (&after);
  after = test_api_get_channel (admin, id);
  g_assert_cmpint (postern_channel_get_revision (after), ==, revision_before + 1);
}

static void
revoke_done_cb (GObject *source,
                GAsyncResult *result,
                gpointer user_data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PosternChannel) channel = postern_api_client_revoke_channel_finish (POSTERN_API_CLIENT (source), result, &error);

  g_assert_no_error (error);
  *(gboolean *)user_data = TRUE;
}

static void
mutation_failed_cb (GDBusConnection *connection,
                    const char *sender,
                    const char *path,
                    const char *interface,
                    const char *signal,
                    GVariant *parameters,
                    gpointer user_data)
{
  g_ptr_array_add (user_data, g_variant_print (parameters, FALSE));
}

/* A change queued offline that the server refuses for good (the channel was
 * revoked elsewhere meanwhile): dropped, the server's copy kept, and the
 * app told through MutationFailed. */
static void
test_refused_change (TestFixture *fixture,
                     gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GDBusConnection) bus = NULL;
  g_autoptr (PosternApiClient) admin = NULL;
  g_autoptr (GPtrArray) failures = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (JsonArray) channels = NULL;
  g_autofree char *id = NULL;
  const char *failure;
  gboolean revoked = FALSE;
  AtLeast at_least = { failures, 1 };
  guint subscription;

  pair_over_dbus (fixture);
  bus = g_object_ref (fixture->agent->bus);
  admin = test_api_device_new (fixture->server, USER);
  id = create_channel (fixture->agent, "Contested", NULL, NULL, NULL);
  g_assert_true (test_wait_for (nothing_pending, fixture->agent, TEST_TIMEOUT_MS));

  /* Paused here while the server is away; the queue outlives the agent. */
  test_server_stop (fixture->server);
  postern_dbus_agent1_call_pause_sync (fixture->agent->proxy, id, NULL, &error);
  g_assert_no_error (error);
  test_agent_stop (fixture->agent);
  fixture->agent = NULL;

  /* Revoked from another device meanwhile. */
  test_server_start (fixture->server);
  postern_api_client_revoke_channel_async (admin, id, NULL, revoke_done_cb, &revoked);
  g_assert_true (test_spin_until (&revoked, TEST_TIMEOUT_MS));

  subscription = g_dbus_connection_signal_subscribe (bus, NULL, "io.github.postern.Postern.Agent1", "MutationFailed",
                                                     "/io/github/postern/Postern/Agent", NULL, G_DBUS_SIGNAL_FLAGS_NONE,
                                                     mutation_failed_cb, failures, NULL);
  fixture->agent = test_agent_start ();
  g_assert_true (test_wait_for (has_at_least, &at_least, TEST_TIMEOUT_MS));
  g_dbus_connection_signal_unsubscribe (bus, subscription);

  failure = g_ptr_array_index (failures, 0);
  g_assert_nonnull (strstr (failure, "\"op\":\"pause\""));
  g_assert_nonnull (strstr (failure, id));
  g_assert_nonnull (strstr (failure, "io.github.postern.Postern.Error."));
  g_assert_true (test_wait_for (nothing_pending, fixture->agent, TEST_TIMEOUT_MS));
  channels = list_channels (fixture->agent);
  g_assert_cmpstr (json_object_get_string_member (find_channel (channels, id), "state"), ==, "revoked");
}

static void
test_restart_offline (TestFixture *fixture,
                      gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonArray) channels = NULL;
  g_autoptr (PosternApiClient) admin = NULL;
  g_autoptr (PosternChannel) on_server = NULL;
  g_autofree char *first = NULL;
  g_autofree char *second = NULL;
  g_autofree char *offline = NULL;

  pair_over_dbus (fixture);
  admin = test_api_device_new (fixture->server, USER);
  first = create_channel (fixture->agent, "Dentist", NULL, NULL, NULL);
  second = create_channel (fixture->agent, "Landlord", NULL, NULL, NULL);
  g_assert_true (test_wait_for (nothing_pending, fixture->agent, TEST_TIMEOUT_MS));

  test_agent_stop (fixture->agent);
  test_server_stop (fixture->server);
  fixture->agent = test_agent_start ();

  /* Read from the keyring copy with the server down. */
  channels = list_channels (fixture->agent);
  g_assert_nonnull (find_channel (channels, first));
  g_assert_nonnull (find_channel (channels, second));
  g_assert_true (test_agent_wait_connection (fixture->agent, "offline", TEST_TIMEOUT_MS));

  /* Created offline: the agent mints id and address, queues it. */
  offline = create_channel (fixture->agent, "Made offline", NULL, NULL, NULL);
  g_assert_cmpuint (get_pending (fixture->agent), ==, 1);

  test_server_start (fixture->server);
  postern_dbus_agent1_call_sync_now_sync (fixture->agent->proxy, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (test_wait_for (nothing_pending, fixture->agent, TEST_TIMEOUT_MS));
  on_server = test_api_get_channel (admin, offline);
  g_assert_cmpstr (postern_channel_get_label (on_server), ==, "Made offline");
}

static gboolean
not_keyring_locked (gpointer user_data)
{
  TestAgent *agent = user_data;
  g_autofree char *connection = test_agent_get_connection (agent);

  return g_strcmp0 (connection, "keyring-locked") != 0;
}

static void
test_keyring_locked (TestFixture *fixture,
                     gconstpointer data)
{
  g_autoptr (GDBusConnection) bus = NULL;
  g_autoptr (JsonArray) channels = NULL;
  g_autoptr (GVariant) status = NULL;
  g_autofree char *id = NULL;
  g_autofree char *later = NULL;
  const char *message = NULL;

  pair_over_dbus (fixture);
  bus = g_object_ref (fixture->agent->bus);
  id = create_channel (fixture->agent, "Kept in the keyring", NULL, NULL, NULL);
  g_assert_true (test_wait_for (nothing_pending, fixture->agent, TEST_TIMEOUT_MS));

  /* Locked before the agent starts: it says what to do. */
  test_agent_stop (fixture->agent);
  keyring_lock (bus);
  fixture->agent = test_agent_start ();
  g_assert_true (test_agent_wait_connection (fixture->agent, "keyring-locked", TEST_TIMEOUT_MS));
  status = get_status (fixture->agent);
  g_assert_true (g_variant_lookup (status, "message", "&s", &message));
  g_assert_nonnull (strstr (message, "Unlock"));

  /* Unlocked: the agent carries on by itself and nothing was lost. */
  keyring_unlock (bus);
  g_assert_true (test_agent_wait_connection (fixture->agent, "online", TEST_TIMEOUT_MS));
  channels = list_channels (fixture->agent);
  g_assert_nonnull (find_channel (channels, id));
  g_clear_pointer (&channels, json_array_unref);

  /* Locked while running: a change is kept and written after unlocking. */
  keyring_lock (bus);
  later = create_channel (fixture->agent, "Written after unlocking", NULL, NULL, NULL);
  g_assert_true (test_agent_wait_connection (fixture->agent, "keyring-locked", TEST_TIMEOUT_MS));
  keyring_unlock (bus);
  g_assert_true (test_wait_for (not_keyring_locked, fixture->agent, TEST_TIMEOUT_MS));
  g_assert_true (test_wait_for (nothing_pending, fixture->agent, TEST_TIMEOUT_MS));

  test_agent_stop (fixture->agent);
  fixture->agent = test_agent_start ();
  channels = list_channels (fixture->agent);
  g_assert_nonnull (find_channel (channels, later));
  g_assert_nonnull (find_channel (channels, id));
}

/* ---- actions (tray and notifications) ------------------------------------------ */

static const char fake_app_xml[] = "<node>"
                                   "  <interface name='org.freedesktop.Application'>"
                                   "    <method name='Activate'><arg type='a{sv}' direction='in'/></method>"
                                   "    <method name='Open'><arg type='as' direction='in'/><arg type='a{sv}' direction='in'/></method>"
                                   "    <method name='ActivateAction'><arg type='s' direction='in'/><arg type='av' direction='in'/>"
                                   "      <arg type='a{sv}' direction='in'/></method>"
                                   "  </interface>"
                                   "</node>";

static void
fake_app_method_cb (GDBusConnection *connection,
                    const char *sender,
                    const char *object_path,
                    const char *interface_name,
                    const char *method_name,
                    GVariant *parameters,
                    GDBusMethodInvocation *invocation,
                    gpointer user_data)
{
  GPtrArray *calls = user_data;

  if (g_str_equal (method_name, "ActivateAction"))
    {
      g_autoptr (GVariant) args = g_variant_get_child_value (parameters, 1);
      g_autofree char *printed = g_variant_print (args, FALSE);
      const char *name;

      g_variant_get_child (parameters, 0, "&s", &name);
      g_ptr_array_add (calls, g_strdup_printf ("%s %s", name, printed));
    }
  else
    g_ptr_array_add (calls, g_strdup (method_name));
  g_dbus_method_invocation_return_value (invocation, NULL);
}

static void
activate_agent_action (TestAgent *agent,
                       const char *name,
                       GVariant *parameter)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GVariant) reply = NULL;
  g_auto (GVariantBuilder) params = G_VARIANT_BUILDER_INIT (G_VARIANT_TYPE ("av"));

  if (parameter != NULL)
    g_variant_builder_add (&params, "v", parameter);
  reply = g_dbus_connection_call_sync (agent->bus, "io.github.postern.Postern.Agent", "/io/github/postern/Postern/Agent",
                                       "org.gtk.Actions", "Activate",
                                       g_variant_new ("(sava{sv})", name, &params, NULL),
                                       NULL, G_DBUS_CALL_FLAGS_NONE, TEST_TIMEOUT_MS, NULL, &error);
  g_assert_no_error (error);
}

static void
name_acquired_cb (GDBusConnection *connection,
                  const char *name,
                  gpointer user_data)
{
  *(gboolean *)user_data = TRUE;
}

static gboolean
has_calls (gpointer user_data)
{
  AtLeast *at_least = user_data;

  return at_least->array->len >= at_least->count;
}

static void
test_actions (TestFixture *fixture,
              gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GDBusNodeInfo) info = g_dbus_node_info_new_for_xml (fake_app_xml, &error);
  g_autoptr (GPtrArray) calls = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (JsonArray) channels = NULL;
  g_autofree char *app_path = g_strdelimit (g_strconcat ("/", APP_ID, NULL), ".", '/');
  g_autofree char *id = NULL;
  g_autofree char *expected = NULL;
  const GDBusInterfaceVTable vtable = { fake_app_method_cb, NULL, NULL, { 0 } };
  AtLeast at_least = { calls, 0 };
  JsonArray *senders;
  gboolean acquired = FALSE;
  guint registration;
  guint owner;

  g_assert_no_error (error);
  pair_over_dbus (fixture);
  id = create_channel (fixture->agent, "From the tray", "relationship", NULL, NULL);

  /* Channel actions act on the agent's own engine. */
  activate_agent_action (fixture->agent, "trust", g_variant_new ("(ss)", id, "@partner.example"));
  activate_agent_action (fixture->agent, "pause", g_variant_new_string (id));
  channels = list_channels (fixture->agent);
  g_assert_cmpstr (json_object_get_string_member (find_channel (channels, id), "state"), ==, "paused");
  senders = json_object_get_array_member (find_channel (channels, id), "expected_senders");
  g_assert_cmpuint (json_array_get_length (senders), ==, 1);
  g_assert_cmpstr (json_array_get_string_element (senders, 0), ==, "@partner.example");
  g_clear_pointer (&channels, json_array_unref);
  activate_agent_action (fixture->agent, "revoke", g_variant_new_string (id));
  channels = list_channels (fixture->agent);
  g_assert_cmpstr (json_object_get_string_member (find_channel (channels, id), "state"), ==, "revoked");

  /* The others go to the app: a stand-in owns its name here. */
  registration = g_dbus_connection_register_object (fixture->agent->bus, app_path, info->interfaces[0], &vtable,
                                                    calls, NULL, &error);
  g_assert_no_error (error);
  owner = g_bus_own_name_on_connection (fixture->agent->bus, APP_ID, G_BUS_NAME_OWNER_FLAGS_NONE,
                                        name_acquired_cb, NULL, &acquired, NULL);
  g_assert_true (test_spin_until (&acquired, TEST_TIMEOUT_MS));

  activate_agent_action (fixture->agent, "open", NULL);
  activate_agent_action (fixture->agent, "copy", g_variant_new_string (id));
  activate_agent_action (fixture->agent, "show-qr", g_variant_new_string (id));
  activate_agent_action (fixture->agent, "new-channel", NULL);
  activate_agent_action (fixture->agent, "new-one-time-qr", NULL);
  at_least.count = 5;
  g_assert_true (test_wait_for (has_calls, &at_least, TEST_TIMEOUT_MS));
  g_assert_cmpstr (g_ptr_array_index (calls, 0), ==, "Activate");
  expected = g_strdup_printf ("copy-address [<'%s'>]", id);
  g_assert_cmpstr (g_ptr_array_index (calls, 1), ==, expected);
  g_free (expected);
  expected = g_strdup_printf ("show-qr [<'%s'>]", id);
  g_assert_cmpstr (g_ptr_array_index (calls, 2), ==, expected);
  g_assert_cmpstr (g_ptr_array_index (calls, 3), ==, "new-address [<''>]");
  g_assert_cmpstr (g_ptr_array_index (calls, 4), ==, "new-address-qr [<''>]");

  g_bus_unown_name (owner);
  g_dbus_connection_unregister_object (fixture->agent->bus, registration);
}

int
main (int argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add ("/postern/agent/service/unpaired", TestFixture, NULL, test_fixture_set_up, test_unpaired, test_fixture_tear_down);
  g_test_add ("/postern/agent/service/bad-arguments", TestFixture, NULL, test_fixture_set_up, test_bad_arguments, test_fixture_tear_down);
  g_test_add ("/postern/agent/service/update", TestFixture, NULL, test_fixture_set_up, test_update, test_fixture_tear_down);
  g_test_add ("/postern/agent/service/timeline-devices", TestFixture, NULL, test_fixture_set_up, test_timeline_devices, test_fixture_tear_down);
  g_test_add_func ("/postern/agent/service/activation", test_activation);
  g_test_add_func ("/postern/agent/service/replace", test_replace);
  g_test_add ("/postern/agent/pair/uri", TestFixture, NULL, test_fixture_set_up, test_pair_uri, test_fixture_tear_down);
  g_test_add ("/postern/agent/pair/pin-mismatch", TestFixture, NULL, test_fixture_set_up, test_pair_pin_mismatch, test_fixture_tear_down);
  g_test_add ("/postern/agent/pair/certificate-changed", TestFixture, NULL, test_fixture_set_up, test_pair_certificate_changed, test_fixture_tear_down);
  g_test_add ("/postern/agent/sync/server-channels", TestFixture, NULL, test_fixture_set_up, test_server_channels_sync, test_fixture_tear_down);
  g_test_add ("/postern/agent/sync/live-event", TestFixture, NULL, test_fixture_set_up, test_live_event, test_fixture_tear_down);
  g_test_add ("/postern/agent/sync/offline-queue", TestFixture, NULL, test_fixture_set_up, test_offline_queue, test_fixture_tear_down);
  g_test_add ("/postern/agent/sync/refused-change", TestFixture, NULL, test_fixture_set_up, test_refused_change, test_fixture_tear_down);
  g_test_add ("/postern/agent/sync/restart-offline", TestFixture, NULL, test_fixture_set_up, test_restart_offline, test_fixture_tear_down);
  g_test_add ("/postern/agent/actions/tray", TestFixture, NULL, test_fixture_set_up, test_actions, test_fixture_tear_down);
  g_test_add ("/postern/agent/keyring/locked", TestFixture, NULL, test_fixture_set_up, test_keyring_locked, test_fixture_tear_down);

  return g_test_run ();
}
