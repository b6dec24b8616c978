/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

#include "postern-agent-dbus.h"
#include "postern-client.h"
#include "test-server.h"

G_BEGIN_DECLS

/*
 * Real parts for the agent and posternctl tests, inside the private session
 * of tests/desktop-session.sh (session bus + unlocked gnome-keyring): a real
 * postern-agent process and posternctl runs, beside the posternd, API and
 * SMTP helpers of tests/test-server.h. Paths come from the environment the
 * meson test sets: POSTERN_TEST_AGENT, POSTERN_TEST_CTL.
 *
 * Every wait is bounded; every process is stopped by its PID.
 */

/* ---- postern-agent --------------------------------------------------------- */

typedef struct
{
  GSubprocess *process;
  GDBusConnection *bus;
  PosternDBusAgent1 *proxy;
} TestAgent;

/* Starts postern-agent and waits until it answers GetStatus. */
TestAgent *test_agent_start (void);
/* SIGTERM, then waits; asserts a clean exit (status 0). */
void test_agent_stop (TestAgent *agent);
/* A proxy on the session bus without starting an agent. */
PosternDBusAgent1 *test_agent_proxy_new (GDBusConnection *bus);

/* The "connection" member of GetStatus. */
char *test_agent_get_connection (TestAgent *agent);
/* Waits until GetStatus's "connection" equals @state. */
gboolean test_agent_wait_connection (TestAgent *agent,
                                     const char *state,
                                     guint timeout_ms);

/* ---- one server and one agent ------------------------------------------------ */

/* The fixture of most agent and posternctl tests: posternd with the user
 * "alice" and an agent, both started. Teardown unpairs (leaving the
 * keyring empty for the next test) and stops the agent unless the test
 * did (set @agent to NULL), then the server. */
typedef struct
{
  TestServer *server;
  TestAgent *agent;
} TestFixture;

#define TEST_FIXTURE_USER "alice"

void test_fixture_set_up (TestFixture *fixture,
                          gconstpointer data);
void test_fixture_tear_down (TestFixture *fixture,
                             gconstpointer data);

/* ---- posternctl ------------------------------------------------------------ */

/* Runs posternctl with the arguments (NULL-terminated), @input on its stdin
 * (may be NULL), bounded in time. Returns the exit status; stdout and
 * stderr through the optional out parameters. */
int test_ctl (const char *input,
              char **out_stdout,
              char **out_stderr,
              const char *first_arg,
              ...) G_GNUC_NULL_TERMINATED;

/* The same with an argument vector and environment changes: "NAME=VALUE"
 * sets, "NAME" unsets. */
int test_ctl_full (const char *const *env,
                   const char *input,
                   char **out_stdout,
                   char **out_stderr,
                   const char *const *args);

/* Pairs the running agent with @server as @user through posternctl. */
void test_pair (TestServer *server,
                const char *user);

G_END_DECLS
