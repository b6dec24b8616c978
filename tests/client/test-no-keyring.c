/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <signal.h>
#include <string.h>
#include <sys/prctl.h>

#include "postern-client.h"
#include "test-loop.h"

/*
 * No Secret Service at all: run through `tests/desktop-session.sh
 * --no-keyring` (a private bus where nothing is activatable). The store
 * reports the clear error, keeps the value, and writes it by itself once a
 * keyring appears on the bus.
 */

#define TIMEOUT_MS 20000

static void
die_with_parent (gpointer user_data)
{
  prctl (PR_SET_PDEATHSIG, SIGKILL);
}

static void
process_wait_cb (GObject *source,
                 GAsyncResult *result,
                 gpointer user_data)
{
  g_subprocess_wait_finish (G_SUBPROCESS (source), result, NULL);
  *(gboolean *)user_data = TRUE;
}

static void
test_unavailable_then_appears (void)
{
  g_autoptr (PosternSecretStore) store = postern_secret_store_new ("https://d.example", "frank");
  g_autoptr (PosternSecretStore) reader = NULL;
  g_autoptr (GSubprocessLauncher) launcher = NULL;
  g_autoptr (GSubprocess) daemon = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *value = NULL;
  g_auto (GStrv) servers = NULL;
  const char *password = g_getenv ("POSTERN_TEST_KEYRING_PASSWORD");
  const char *argv[] = { "gnome-keyring-daemon", "--foreground", "--unlock", "--components=secrets", NULL };
  TestWait wait = {
    0,
  };
  gboolean exited = FALSE;
  gint64 deadline;

  /* Account discovery says why it cannot look. */
  postern_secret_store_find_accounts_async (NULL, test_wait_cb, &wait);
  g_assert_true (test_spin_until (&wait.done, TIMEOUT_MS));
  g_assert_false (postern_secret_store_find_accounts_finish (wait.result, &servers, NULL, &error));
  g_assert_error (error, POSTERN_CLIENT_ERROR, POSTERN_CLIENT_ERROR_KEYRING_UNAVAILABLE);
  g_clear_error (&error);
  g_clear_object (&wait.result);

  postern_secret_store_save (store, POSTERN_SECRET_TOKEN, "dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd");
  wait.done = FALSE;
  postern_secret_store_flush_async (store, NULL, test_wait_cb, &wait);
  g_assert_true (test_spin_until (&wait.done, TIMEOUT_MS));
  g_assert_false (postern_secret_store_flush_finish (store, wait.result, &error));
  g_clear_object (&wait.result);
  g_assert_error (error, POSTERN_CLIENT_ERROR, POSTERN_CLIENT_ERROR_KEYRING_UNAVAILABLE);
  g_assert_nonnull (strstr (error->message, "No keyring service is running"));
  g_clear_error (&error);
  g_assert_cmpint (postern_secret_store_get_state (store), ==, POSTERN_SECRET_STORE_UNAVAILABLE);
  g_assert_true (postern_secret_store_get_busy (store));

  /* A keyring starts (the user logs in to a session that has one). */
  launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_SILENCE | G_SUBPROCESS_FLAGS_STDERR_SILENCE);
  g_subprocess_launcher_unsetenv (launcher, "G_DEBUG");
  g_subprocess_launcher_unsetenv (launcher, "MALLOC_PERTURB_");
  g_subprocess_launcher_unsetenv (launcher, "MALLOC_CHECK_");
  g_subprocess_launcher_set_child_setup (launcher, die_with_parent, NULL, NULL);
  daemon = g_subprocess_launcher_spawnv (launcher, argv, &error);
  g_assert_no_error (error);
  g_assert_true (g_output_stream_write_all (g_subprocess_get_stdin_pipe (daemon), password, strlen (password),
                                            NULL, NULL, &error));
  g_output_stream_close (g_subprocess_get_stdin_pipe (daemon), NULL, NULL);

  /* The store notices the name appear and writes what it kept. */
  deadline = g_get_monotonic_time () + 15 * G_USEC_PER_SEC;
  while ((postern_secret_store_get_busy (store) || postern_secret_store_get_state (store) != POSTERN_SECRET_STORE_READY) && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, TRUE);
  g_assert_cmpint (postern_secret_store_get_state (store), ==, POSTERN_SECRET_STORE_READY);
  g_assert_false (postern_secret_store_get_busy (store));

  reader = postern_secret_store_new ("https://d.example", "frank");
  wait.done = FALSE;
  postern_secret_store_load_async (reader, POSTERN_SECRET_TOKEN, NULL, test_wait_cb, &wait);
  g_assert_true (test_spin_until (&wait.done, TIMEOUT_MS));
  value = postern_secret_store_load_finish (reader, wait.result, &error);
  g_clear_object (&wait.result);
  g_assert_no_error (error);
  g_assert_cmpstr (value, ==, "dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd");

  g_subprocess_send_signal (daemon, SIGTERM);
  g_subprocess_wait_async (daemon, NULL, process_wait_cb, &exited);
  g_assert_true (test_spin_until (&exited, TIMEOUT_MS));
}

int
main (int argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  if (g_strcmp0 (g_getenv ("POSTERN_TEST_KEYRING"), "no") != 0)
    {
      g_printerr ("Run this test through tests/desktop-session.sh --no-keyring (meson test does)\n");
      return 1;
    }

  g_test_add_func ("/postern/client/secret-store/unavailable-then-appears", test_unavailable_then_appears);

  return g_test_run ();
}
