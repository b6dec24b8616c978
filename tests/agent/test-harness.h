/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

#include "postern-agent-dbus.h"
#include "postern-client.h"
#include "test-loop.h"

G_BEGIN_DECLS

/*
 * Real parts for the agent and posternctl tests, inside the private session
 * of tests/desktop-session.sh (session bus + unlocked gnome-keyring): a real
 * posternd on 127.0.0.1, a real postern-agent process, posternctl runs and
 * SMTP sessions. Paths come from the environment the meson test sets:
 * POSTERN_TEST_AGENT, POSTERN_TEST_CTL, POSTERN_TEST_POSTERND.
 *
 * Every wait is bounded; every process is stopped by its PID.
 */

#define TEST_TIMEOUT_MS 15000

/* Spawns @argv; the child is killed if the test process dies. */
GSubprocess *test_spawn (GSubprocessFlags flags,
                         const char *const *argv);

/* Waits for @process to exit (bounded); returns the wait status, or -1
 * after killing it on timeout. */
int test_subprocess_wait (GSubprocess *process,
                          guint timeout_ms);

/* ---- posternd ---------------------------------------------------------------- */

typedef struct
{
  char *dir;
  char *config_path;
  char *domain;
  char *url; /* https://127.0.0.1:PORT */
  guint16 api_port;
  guint16 smtp_port;
  GSubprocess *process;
} TestServer;

/* Writes a configuration in a new temporary directory (loopback ports,
 * channel domain "ch.postern.test", Maildir delivery) and adds @user. */
TestServer *test_server_new (const char *user);
void test_server_start (TestServer *server);
void test_server_stop (TestServer *server);
void test_server_free (TestServer *server);
/* Runs `posternd --config FILE ARGS…` to completion; asserts success and
 * returns its standard output. */
char *test_server_admin (TestServer *server,
                         const char *first_arg,
                         ...) G_GNUC_NULL_TERMINATED;
/* A fresh pairing URI for @user (postern://pair?…). */
char *test_server_pair_uri (TestServer *server,
                            const char *user);
/* The SHA-256 fingerprint of the server's certificate, canonical form. */
char *test_server_fingerprint (TestServer *server);

/* A second device of @user, paired straight on the API (an "admin" for
 * making changes on the server behind the agent's back). */
PosternApiClient *test_api_device_new (TestServer *server,
                                       const char *user);
/* A new open channel with a client-minted id and address, not stored. */
PosternChannel *test_api_channel_template (const char *label);
PosternChannel *test_api_create_channel (PosternApiClient *client,
                                         const char *label);
PosternChannel *test_api_get_channel (PosternApiClient *client,
                                      const char *id);

/* One SMTP transaction to 127.0.0.1:@port; returns the reply code of the
 * first refused step, or of the end of DATA (250 when accepted). @subject
 * goes into the message. */
int test_smtp_send (guint16 port,
                    const char *from,
                    const char *to,
                    const char *subject);
/* The same; @out_accepted_at gets the monotonic time at which the reply to
 * the end of DATA was read. */
int test_smtp_send_timed (guint16 port,
                          const char *from,
                          const char *to,
                          const char *subject,
                          gint64 *out_accepted_at);

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
