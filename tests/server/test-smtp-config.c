/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <gio/gunixsocketaddress.h>

#include "pd-config.h"

static PdConfig *
load (const char *text,
      GError **error)
{
  return pd_config_load_from_data (text, -1, error);
}

static void
test_defaults (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PdConfig) config = load ("[server]\nstate_dir=/var/lib/x\ndomains=Ch.Example.ORG.;other.test\n", &error);

  g_assert_no_error (error);
  g_assert_cmpstr (config->state_dir, ==, "/var/lib/x");
  /* Normalised: case folded, trailing dot gone. */
  g_assert_cmpstr (config->domains[0], ==, "ch.example.org");
  g_assert_cmpstr (config->domains[1], ==, "other.test");
  g_assert_null (config->domains[2]);
  g_assert_true (pd_config_has_domain (config, "other.test"));
  g_assert_false (pd_config_has_domain (config, "example.org"));
  g_assert_cmpstr (config->hostname, ==, g_get_host_name ());
  g_assert_cmpstr (config->smtp_listen[0], ==, "127.0.0.1:2525");
  g_assert_null (config->lmtp_listen[0]);
  g_assert_null (config->tls_certificate);
  g_assert_cmpuint (config->limits.command_line_length, ==, PD_LIMIT_COMMAND_LINE_DEFAULT);
  g_assert_cmpuint (config->limits.text_line_length, ==, PD_LIMIT_TEXT_LINE_DEFAULT);
  g_assert_cmpuint (config->limits.message_size, ==, PD_LIMIT_MESSAGE_SIZE_DEFAULT);
  g_assert_cmpuint (config->limits.recipients, ==, PD_LIMIT_RECIPIENTS_DEFAULT);
  g_assert_cmpuint (config->limits.sessions_per_client, ==, PD_LIMIT_SESSIONS_PER_CLIENT_DEFAULT);
  g_assert_cmpuint (config->limits.sessions, ==, PD_LIMIT_SESSIONS_DEFAULT);
  g_assert_cmpuint (config->limits.idle_timeout, ==, PD_LIMIT_IDLE_TIMEOUT_DEFAULT);
  g_assert_cmpuint (config->limits.data_timeout, ==, PD_LIMIT_DATA_TIMEOUT_DEFAULT);
  g_assert_cmpuint (config->limits.errors, ==, PD_LIMIT_ERRORS_DEFAULT);
  g_assert_cmpuint (config->limits.received_headers, ==, PD_LIMIT_RECEIVED_HEADERS_DEFAULT);
  /* Other parts read their own groups from the key file. */
  g_assert_nonnull (config->keyfile);
}

static void
test_every_limit_is_configurable (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PdConfig) config = load ("[server]\nstate_dir=/s\ndomains=ch.test\n"
                                      "[limits]\ncommand_line_length=1024\ntext_line_length=2000\n"
                                      "message_size=1000000000\nrecipients=7\nsessions_per_client=3\n"
                                      "sessions=9\nidle_timeout=11\ndata_timeout=12\ntls_handshake_timeout=13\n"
                                      "errors=14\nreceived_headers=15\nheader_size=4096\n",
                                      &error);

  g_assert_no_error (error);
  g_assert_cmpuint (config->limits.command_line_length, ==, 1024);
  g_assert_cmpuint (config->limits.text_line_length, ==, 2000);
  g_assert_cmpuint (config->limits.message_size, ==, G_GUINT64_CONSTANT (1000000000));
  g_assert_cmpuint (config->limits.recipients, ==, 7);
  g_assert_cmpuint (config->limits.sessions_per_client, ==, 3);
  g_assert_cmpuint (config->limits.sessions, ==, 9);
  g_assert_cmpuint (config->limits.idle_timeout, ==, 11);
  g_assert_cmpuint (config->limits.data_timeout, ==, 12);
  g_assert_cmpuint (config->limits.tls_handshake_timeout, ==, 13);
  g_assert_cmpuint (config->limits.errors, ==, 14);
  g_assert_cmpuint (config->limits.received_headers, ==, 15);
  g_assert_cmpuint (config->limits.header_size, ==, 4096);
}

static void
test_refusals (void)
{
  static const char *const bad[] = {
    "[server]\nstate_dir=/s\n",                                           /* no domain */
    "[server]\nstate_dir=relative\ndomains=ch.test\n",                    /* relative state */
    "[server]\nstate_dir=/s\ndomains=ch.test\ntypo=1\n",                  /* unknown key */
    "[server]\nstate_dir=/s\ndomains=bad domain!\n",                      /* invalid domain */
    "[server]\nstate_dir=/s\ndomains=ch.test\nhostname=h\xc3\xa9.test\n", /* non-ASCII hostname */
    "[server]\nstate_dir=/s\ndomains=ch.test\n[smtp]\nlisten=localhost:25\n",
    "[server]\nstate_dir=/s\ndomains=ch.test\n[smtp]\nlisten=127.0.0.1:70000\n",
    "[server]\nstate_dir=/s\ndomains=ch.test\n[smtp]\nlisten=127.0.0.1\n",
    "[server]\nstate_dir=/s\ndomains=ch.test\n[lmtp]\nlisten=unix:relative.sock\n",
    "[server]\nstate_dir=/s\ndomains=ch.test\n[limits]\ncommand_line_length=511\n", /* under RFC 5321 */
    "[server]\nstate_dir=/s\ndomains=ch.test\n[limits]\nrecipients=-1\n",
    "[server]\nstate_dir=/s\ndomains=ch.test\n[limits]\nrecipients=12abc\n",
    "[server]\nstate_dir=/s\ndomains=ch.test\n[limits]\nmystery=1\n",
    "[server]\nstate_dir=/s\ndomains=ch.test\n[tls]\nkey=/k.pem\n",           /* key without certificate */
    "[server]\nstate_dir=/s\ndomains=ch.test\n[limts]\nsessions=1\n",         /* misspelt group */
    "[server]\nstate_dir=/s\ndomains=ch.test\nhostname=mx.test\\r\\n554-x\n", /* line break in the hostname */
    "[server]\nstate_dir=/s\ndomains=ch.test\n[lmtp]\nlisten=unix:/run/postern/"
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.sock\n", /* over sun_path */
    "not a key file",
  };

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (PdConfig) config = load (bad[i], &error);

      g_test_message ("case %u", i);
      g_assert_null (config);
      g_assert_nonnull (error);
    }
}

static void
test_listen_addresses (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GSocketAddress) v4 = pd_config_parse_listen_address ("192.0.2.1:25", &error);
  g_autoptr (GSocketAddress) v6 = pd_config_parse_listen_address ("[::1]:2525", &error);
  g_autoptr (GSocketAddress) any = pd_config_parse_listen_address ("*:0", &error);
  g_autoptr (GSocketAddress) local = pd_config_parse_listen_address ("unix:/run/postern/lmtp.sock", &error);
  g_autofree char *v4_host = NULL;

  g_assert_no_error (error);
  v4_host = g_inet_address_to_string (g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (v4)));
  g_assert_cmpstr (v4_host, ==, "192.0.2.1");
  g_assert_cmpuint (g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (v4)), ==, 25);
  g_assert_cmpint (g_inet_address_get_family (g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (v6))), ==, G_SOCKET_FAMILY_IPV6);
  g_assert_cmpuint (g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (v6)), ==, 2525);
  g_assert_true (g_inet_address_get_is_any (g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (any))));
  g_assert_cmpstr (g_unix_socket_address_get_path (G_UNIX_SOCKET_ADDRESS (local)), ==, "/run/postern/lmtp.sock");
}

static void
test_lists (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PdConfig) config = load ("[server]\nstate_dir=/s\ndomains=ch.test;\nhostname=mx.test\n"
                                      "[smtp]\nlisten=127.0.0.1:25;[::1]:25;\n[lmtp]\nlisten=unix:/run/l.sock\n"
                                      "[api]\nlisten=127.0.0.1:8443\nanything=goes\n",
                                      &error);

  g_assert_no_error (error);
  g_assert_cmpuint (g_strv_length (config->smtp_listen), ==, 2);
  g_assert_cmpstr (config->smtp_listen[1], ==, "[::1]:25");
  g_assert_cmpstr (config->lmtp_listen[0], ==, "unix:/run/l.sock");
  g_assert_cmpstr (config->hostname, ==, "mx.test");
  /* [api] is not ours: left to its reader. */
  g_assert_true (g_key_file_has_key (config->keyfile, "api", "anything", NULL));
}

static void
test_missing_file (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PdConfig) config = pd_config_load ("/nonexistent/posternd.conf", &error);

  g_assert_null (config);
  g_assert_error (error, PD_CONFIG_ERROR, PD_CONFIG_ERROR_INVALID);
}

int
main (int argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/postern/server/smtp-config/defaults", test_defaults);
  g_test_add_func ("/postern/server/smtp-config/every-limit-is-configurable", test_every_limit_is_configurable);
  g_test_add_func ("/postern/server/smtp-config/refusals", test_refusals);
  g_test_add_func ("/postern/server/smtp-config/listen-addresses", test_listen_addresses);
  g_test_add_func ("/postern/server/smtp-config/lists", test_lists);
  g_test_add_func ("/postern/server/smtp-config/missing-file", test_missing_file);

  return g_test_run ();
}
