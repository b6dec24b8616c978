/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

#include "postern-client.h"
#include "test-loop.h"

G_BEGIN_DECLS

/*
 * A real posternd on 127.0.0.1 (real TLS with its self-signed certificate)
 * for the client, agent and posternctl tests: its configuration, admin
 * commands, a second device straight on the API and SMTP sessions.
 * POSTERN_TEST_POSTERND names the binary (the meson test sets it).
 *
 * Every wait is bounded; every process is stopped by its PID.
 */

#define TEST_TIMEOUT_MS 15000

/* The value of the environment variable @name; fails the test when it is
 * unset ("run this test through meson"). */
const char *test_required_env (const char *name);

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
G_DEFINE_AUTOPTR_CLEANUP_FUNC (TestServer, test_server_free)
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

/* A launcher whose children die with the test, even when an assertion
 * aborts it. */
GSubprocessLauncher *test_launcher_new (GSubprocessFlags flags);
/* Runs @argv to completion within @timeout_ms with @input on its stdin;
 * returns the wait status, the output through the optional out
 * parameters. */
int test_run_captured (GSubprocessLauncher *launcher,
                       const char *const *argv,
                       const char *input,
                       char **out_stdout,
                       char **out_stderr,
                       guint timeout_ms);

G_END_DECLS
