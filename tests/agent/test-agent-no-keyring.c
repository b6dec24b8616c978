/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "test-harness.h"

/*
 * postern-agent on a desktop without any Secret Service (run by
 * tests/desktop-session.sh --no-keyring): it keeps running, says why it
 * cannot keep channels, and posternctl shows that sentence.
 */

static gboolean
keyring_missing (gpointer user_data)
{
  TestAgent *agent = user_data;
  g_autoptr (GError) error = NULL;
  g_autoptr (GVariant) status = NULL;
  const char *connection = "";

  postern_dbus_agent1_call_get_status_sync (agent->proxy, &status, NULL, &error);
  g_assert_no_error (error);
  g_variant_lookup (status, "connection", "&s", &connection);
  return g_str_equal (connection, "keyring-locked");
}

static void
test_no_secret_service (void)
{
  TestAgent *agent = test_agent_start ();
  g_autoptr (GError) error = NULL;
  g_autoptr (GVariant) status = NULL;
  g_autofree char *out = NULL;
  const char *message = NULL;
  gboolean paired = TRUE;

  g_assert_true (test_wait_for (keyring_missing, agent, TEST_TIMEOUT_MS));
  postern_dbus_agent1_call_get_status_sync (agent->proxy, &status, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (g_variant_lookup (status, "message", "&s", &message));
  g_assert_nonnull (strstr (message, "keyring"));
  g_assert_true (g_variant_lookup (status, "paired", "b", &paired));
  g_assert_false (paired);

  /* The same sentence reaches the command line. */
  g_assert_cmpint (test_ctl (NULL, &out, NULL, "status", NULL), ==, 3);
  g_assert_nonnull (strstr (out, message));

  test_agent_stop (agent);
}

int
main (int argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/postern/agent/no-keyring/status", test_no_secret_service);

  return g_test_run ();
}
