/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <signal.h>
#include <stdarg.h>
#include <sys/wait.h>

#include "postern-client.h"
#include "test-harness.h"

#define AGENT_BUS_NAME_ "io.github.postern.Postern.Agent"
#define AGENT_PATH_     "/io/github/postern/Postern/Agent"

/* ---- postern-agent --------------------------------------------------------- */

PosternDBusAgent1 *
test_agent_proxy_new (GDBusConnection *bus)
{
  g_autoptr (GError) error = NULL;
  PosternDBusAgent1 *proxy;

  proxy = postern_dbus_agent1_proxy_new_sync (bus,
                                              G_DBUS_PROXY_FLAGS_DO_NOT_LOAD_PROPERTIES | G_DBUS_PROXY_FLAGS_DO_NOT_AUTO_START,
                                              AGENT_BUS_NAME_, AGENT_PATH_, NULL, &error);
  g_assert_no_error (error);
  g_dbus_proxy_set_default_timeout (G_DBUS_PROXY (proxy), TEST_TIMEOUT_MS);
  return proxy;
}

static gboolean
agent_has_owner (gpointer user_data)
{
  TestAgent *agent = user_data;
  g_autofree char *owner = g_dbus_proxy_get_name_owner (G_DBUS_PROXY (agent->proxy));

  return owner != NULL;
}

TestAgent *
test_agent_start (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GVariant) status = NULL;
  const char *argv[] = { test_required_env ("POSTERN_TEST_AGENT"), NULL };
  TestAgent *agent = g_new0 (TestAgent, 1);

  agent->bus = g_bus_get_sync (G_BUS_TYPE_SESSION, NULL, &error);
  g_assert_no_error (error);
  agent->process = test_spawn (G_SUBPROCESS_FLAGS_NONE, argv);
  agent->proxy = test_agent_proxy_new (agent->bus);

  if (!test_wait_for (agent_has_owner, agent, TEST_TIMEOUT_MS))
    g_error ("postern-agent did not take its bus name within %d ms", TEST_TIMEOUT_MS);
  postern_dbus_agent1_call_get_status_sync (agent->proxy, &status, NULL, &error);
  g_assert_no_error (error);
  return agent;
}

void
test_agent_stop (TestAgent *agent)
{
  int status;

  g_subprocess_send_signal (agent->process, SIGTERM);
  status = test_subprocess_wait (agent->process, TEST_TIMEOUT_MS);
  /* A clean exit: flushed, no leak reported by the sanitizers. */
  g_assert_cmpint (status, !=, -1);
  g_assert_true (WIFEXITED (status));
  g_assert_cmpint (WEXITSTATUS (status), ==, 0);
  g_clear_object (&agent->proxy);
  g_clear_object (&agent->process);
  g_clear_object (&agent->bus);
  g_free (agent);
}

char *
test_agent_get_connection (TestAgent *agent)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GVariant) status = NULL;
  char *connection = NULL;

  postern_dbus_agent1_call_get_status_sync (agent->proxy, &status, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (g_variant_lookup (status, "connection", "s", &connection));
  return connection;
}

typedef struct
{
  TestAgent *agent;
  const char *state;
} ConnectionWait;

static gboolean
connection_is (gpointer user_data)
{
  ConnectionWait *wait = user_data;
  g_autofree char *connection = test_agent_get_connection (wait->agent);

  return g_strcmp0 (connection, wait->state) == 0;
}

gboolean
test_agent_wait_connection (TestAgent *agent,
                            const char *state,
                            guint timeout_ms)
{
  ConnectionWait wait = { agent, state };

  return test_wait_for (connection_is, &wait, timeout_ms);
}

/* ---- one server and one agent ------------------------------------------------ */

void
test_fixture_set_up (TestFixture *fixture,
                     gconstpointer data)
{
  fixture->server = test_server_new (TEST_FIXTURE_USER);
  test_server_start (fixture->server);
  fixture->agent = test_agent_start ();
}

void
test_fixture_tear_down (TestFixture *fixture,
                        gconstpointer data)
{
  g_autoptr (GError) error = NULL;

  if (fixture->agent != NULL)
    {
      postern_dbus_agent1_call_unpair_sync (fixture->agent->proxy, NULL, &error);
      g_assert_no_error (error);
      test_agent_stop (fixture->agent);
    }
  test_server_free (fixture->server);
}

/* ---- posternctl ---------------------------------------------------------------- */

int
test_ctl_full (const char *const *env,
               const char *input,
               char **out_stdout,
               char **out_stderr,
               const char *const *args)
{
  g_autoptr (GSubprocessLauncher) launcher = test_launcher_new (G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE);
  g_autoptr (GPtrArray) argv = g_ptr_array_new ();
  g_autofree char *joined = NULL;
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  int status;

  g_ptr_array_add (argv, (gpointer)test_required_env ("POSTERN_TEST_CTL"));
  for (guint i = 0; args[i] != NULL; i++)
    g_ptr_array_add (argv, (gpointer)args[i]);
  g_ptr_array_add (argv, NULL);

  /* English messages, whatever the machine's locale. */
  g_subprocess_launcher_setenv (launcher, "LC_ALL", "C.UTF-8", TRUE);
  for (guint i = 0; env != NULL && env[i] != NULL; i++)
    {
      g_auto (GStrv) pair = g_strsplit (env[i], "=", 2);

      if (pair[1] == NULL)
        g_subprocess_launcher_unsetenv (launcher, pair[0]);
      else
        g_subprocess_launcher_setenv (launcher, pair[0], pair[1], TRUE);
    }

  status = test_run_captured (launcher, (const char *const *)argv->pdata, input, &out, &err, 2 * TEST_TIMEOUT_MS);
  /* A pairing URI carries a one-time code: keep secrets out of test logs too. */
  joined = args[0] != NULL && g_str_equal (args[0], "pair") ? g_strdup ("pair (arguments not logged)") : g_strjoinv (" ", (char **)args);
  g_test_message ("posternctl %s → %d\n%s%s", joined, status, out, err);
  if (out_stdout != NULL)
    *out_stdout = g_steal_pointer (&out);
  if (out_stderr != NULL)
    *out_stderr = g_steal_pointer (&err);
  return status;
}

int
test_ctl (const char *input,
          char **out_stdout,
          char **out_stderr,
          const char *first_arg,
          ...)
{
  g_autoptr (GPtrArray) args = g_ptr_array_new ();
  va_list ap;

  va_start (ap, first_arg);
  for (const char *arg = first_arg; arg != NULL; arg = va_arg (ap, const char *))
    g_ptr_array_add (args, (gpointer)arg);
  va_end (ap);
  g_ptr_array_add (args, NULL);

  return test_ctl_full (NULL, input, out_stdout, out_stderr, (const char *const *)args->pdata);
}

void
test_pair (TestServer *server,
           const char *user)
{
  g_autofree char *uri = test_server_pair_uri (server, user);
  g_autofree char *out = NULL;

  g_assert_cmpint (test_ctl (NULL, &out, NULL, "pair", uri, NULL), ==, 0);
  g_assert_nonnull (strstr (out, "Paired with"));
}
