/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <libsoup/soup.h>

#include "api-test-util.h"
#include "pd-admin-pair.h"
#include "pd-tls.h"

static PdConfig *
load_config (const char *dir,
             const char *api_group)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *text = g_strdup_printf ("[server]\nstate_dir=%s\ndomains=ch.example.org\nhostname=posternd.example\n"
                                           "[smtp]\nlisten=127.0.0.1:0\n%s",
                                           dir, api_group ? api_group : "");
  PdConfig *config = pd_config_load_from_data (text, -1, &error);

  g_assert_no_error (error);
  return config;
}

static void
test_pair_describe (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("postern-admin-XXXXXX", &error);
  g_autoptr (PdConfig) config = load_config (dir, "[api]\nlisten=127.0.0.1:8443\n");
  g_autoptr (PdStore) store = pd_store_open (dir, &error);
  g_autoptr (PdUser) user = pd_store_add_user (store, "alice", NULL, NULL, &error);
  g_autoptr (PdStoreAuth) auth = NULL;
  g_autoptr (GTlsCertificate) certificate = NULL;
  g_autoptr (GHashTable) params = NULL;
  g_autofree char *text = NULL;
  g_autofree char *fingerprint = NULL;
  g_autofree char *token = NULL;
  g_autofree char *uri_line = NULL;
  g_autofree char *nobody = NULL;
  const char *uri;
  gint64 user_id = 0;

  g_assert_no_error (error);
  text = pd_admin_pair_describe (config, store, "alice", &error);
  g_assert_no_error (error);
  g_test_message ("%s", text);

  /* The certificate it made (first start) is the one named in the URI. */
  certificate = pd_tls_load_certificate (NULL, NULL, dir, NULL, &error);
  g_assert_no_error (error);
  fingerprint = pd_tls_fingerprint (certificate);
  g_assert_nonnull (strstr (text, fingerprint));

  uri = strstr (text, "postern://pair?");
  g_assert_nonnull (uri);
  uri_line = g_strndup (uri, strcspn (uri, "\n"));
  g_assert_true (g_str_has_prefix (uri_line, "postern://pair?server=https://127.0.0.1:8443&code="));
  params = g_uri_parse_params (strchr (uri_line, '?') + 1, -1, "&", G_URI_PARAMS_NONE, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (g_hash_table_lookup (params, "server"), ==, "https://127.0.0.1:8443");
  g_assert_cmpstr (g_hash_table_lookup (params, "fp"), ==, fingerprint);

  /* The terminal QR code is drawn with half blocks. */
  g_assert_nonnull (strstr (text, "\u2580") ? strstr (text, "\u2580") : strstr (text, "\u2584"));

  /* The code in the URI works once. */
  auth = pd_store_auth_open (dir, &error);
  g_assert_no_error (error);
  token = pd_store_auth_redeem_pairing_code (auth, g_hash_table_lookup (params, "code"), "laptop",
                                             g_get_real_time () / G_USEC_PER_SEC, &user_id, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (user_id, ==, user->id);
  g_assert_cmpuint (strlen (token), ==, PD_TOKEN_LENGTH);
  g_assert_null (pd_store_auth_redeem_pairing_code (auth, g_hash_table_lookup (params, "code"), "again",
                                                    g_get_real_time () / G_USEC_PER_SEC, NULL, NULL, &error));
  g_assert_error (error, PD_STORE_ERROR, PD_STORE_ERROR_NOT_FOUND);
  g_clear_error (&error);

  nobody = pd_admin_pair_describe (config, store, "nobody", &error);
  g_assert_null (nobody);
  g_assert_nonnull (error);

  g_clear_object (&auth);
  g_clear_object (&store);
  api_rm_rf (dir);
}

static void
test_pair_uri (void)
{
  g_autofree char *uri = pd_admin_pair_build_uri ("https://[::1]:8443", "AB&C-DEF", "AA:BB");
  g_autofree char *plain = pd_admin_pair_build_uri ("http://127.0.0.1:8080", "ABCD", NULL);

  g_assert_cmpstr (uri, ==, "postern://pair?server=https://%5B::1%5D:8443&code=AB%26C-DEF&fp=AA:BB");
  g_assert_cmpstr (plain, ==, "postern://pair?server=http://127.0.0.1:8080&code=ABCD");
}

static void
test_options_keyfile (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("postern-admin-XXXXXX", &error);
  const char *domains[] = { "ch.example.org", NULL };
  struct
  {
    const char *group;
    const char *error_part; /* NULL: accepted */
  } cases[] = {
    { "[api]\nlisten=127.0.0.1:9443\naddress_style=words\nmax_body=2048\npairing_code_lifetime=60\n", NULL },
    { "[api]\nlisen=127.0.0.1:9443\n", "lisen" },
    { "[api]\naddress_style=emoji\n", "address_style" },
    { "[api]\nmax_body=12\n", "max_body" },
    { "[api]\npairing_code_lifetime=forever\n", "pairing_code_lifetime" },
    { "[api]\nallow_plain_http=maybe\n", "allow_plain_http" },
    { "[api]\ntls_certificate=/nonexistent.pem\n", "together" },
  };

  g_assert_no_error (error);
  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GKeyFile) keyfile = g_key_file_new ();
      g_autoptr (PdApiOptions) options = NULL;
      g_autoptr (GError) local_error = NULL;

      g_assert_true (g_key_file_load_from_data (keyfile, cases[i].group, -1, 0, NULL));
      options = pd_api_options_new_from_keyfile (keyfile, dir, domains, "posternd.example", &local_error);
      g_test_message ("%s", cases[i].group);
      if (cases[i].error_part == NULL)
        {
          g_assert_no_error (local_error);
          g_assert_cmpstr (options->listen, ==, "127.0.0.1:9443");
          g_assert_cmpint (options->address_style, ==, POSTERN_ADDRESS_STYLE_WORDS);
          g_assert_cmpuint (options->max_body, ==, 2048);
          g_assert_cmpint (options->pairing_code_lifetime, ==, 60);
          g_assert_nonnull (options->certificate);
        }
      else
        {
          g_assert_null (options);
          g_assert_nonnull (local_error);
          g_assert_nonnull (strstr (local_error->message, cases[i].error_part));
        }
    }
  api_rm_rf (dir);
}

/* The example configuration's [api] group is valid. */
static void
test_options_example (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("postern-admin-XXXXXX", &error);
  g_autofree char *path = g_test_build_filename (G_TEST_DIST, "..", "data", "posternd.conf", NULL);
  g_autoptr (GKeyFile) keyfile = g_key_file_new ();
  g_autoptr (PdApiOptions) options = NULL;
  const char *domains[] = { "ch.example.org", NULL };

  g_assert_no_error (error);
  g_assert_true (g_key_file_load_from_file (keyfile, path, G_KEY_FILE_NONE, &error));
  g_assert_no_error (error);
  g_assert_true (g_key_file_has_group (keyfile, "api"));
  options = pd_api_options_new_from_keyfile (keyfile, dir, domains, "posternd.example", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (options->listen, ==, PD_API_DEFAULT_LISTEN);
  api_rm_rf (dir);
}

static void
test_public_url (void)
{
  g_autoptr (PdApiOptions) options = pd_api_options_new ();
  g_autofree char *loopback = NULL;
  g_autofree char *wildcard = NULL;
  g_autofree char *v6 = NULL;
  g_autofree char *configured = NULL;

  loopback = pd_api_options_get_public_url (options, "host.example");
  g_assert_cmpstr (loopback, ==, "https://127.0.0.1:8443");
  g_free (options->listen);
  options->listen = g_strdup ("0.0.0.0:443");
  wildcard = pd_api_options_get_public_url (options, "host.example");
  g_assert_cmpstr (wildcard, ==, "https://host.example:443");
  g_free (options->listen);
  options->listen = g_strdup ("[::1]:8443");
  v6 = pd_api_options_get_public_url (options, "host.example");
  g_assert_cmpstr (v6, ==, "https://[::1]:8443");
  options->public_url = g_strdup ("https://postern.example.org");
  configured = pd_api_options_get_public_url (options, "host.example");
  g_assert_cmpstr (configured, ==, "https://postern.example.org");
}

typedef struct
{
  gboolean done;
  GBytes *body;
  GError *error;
} Fetch;

static void
fetch_cb (GObject *source,
          GAsyncResult *result,
          gpointer data)
{
  Fetch *fetch = data;

  fetch->body = soup_session_send_and_read_finish (SOUP_SESSION (source), result, &fetch->error);
  fetch->done = TRUE;
}

static void
test_plain_http (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("postern-admin-XXXXXX", &error);
  g_autoptr (PdStore) store = pd_store_open (dir, &error);
  g_autoptr (PdStoreAuth) auth = pd_store_auth_open (dir, &error);
  g_autoptr (PdApiOptions) options = pd_api_options_new ();
  g_autoptr (PdApiServer) refused = NULL;
  g_autoptr (PdApiServer) server = NULL;
  g_autoptr (SoupSession) session = soup_session_new ();
  g_autoptr (SoupMessage) msg = NULL;
  g_autofree char *url = NULL;
  g_autofree char *uri = NULL;
  Fetch fetch = { 0 };

  g_assert_no_error (error);
  options->allow_plain_http = TRUE;

  /* Never plain HTTP on a public address. */
  g_free (options->listen);
  options->listen = g_strdup ("0.0.0.0:0");
  refused = pd_api_server_new (store, auth, options);
  g_assert_false (pd_api_server_listen (refused, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);

  /* Without a certificate HTTPS cannot start. */
  {
    g_autoptr (PdApiOptions) no_cert = pd_api_options_new ();
    g_autoptr (PdApiServer) https = NULL;

    g_free (no_cert->listen);
    no_cert->listen = g_strdup ("127.0.0.1:0");
    https = pd_api_server_new (store, auth, no_cert);
    g_assert_false (pd_api_server_listen (https, &error));
    g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
    g_clear_error (&error);
  }

  g_free (options->listen);
  options->listen = g_strdup ("127.0.0.1:0");
  server = pd_api_server_new (store, auth, options);
  g_assert_true (pd_api_server_listen (server, &error));
  g_assert_no_error (error);
  g_assert_null (pd_api_server_get_fingerprint (server));
  url = pd_api_server_get_url (server);
  g_assert_true (g_str_has_prefix (url, "http://127.0.0.1:"));
  uri = g_strconcat (url, "/api/v1/health", NULL);
  msg = soup_message_new ("GET", uri);
  soup_session_send_and_read_async (session, msg, G_PRIORITY_DEFAULT, NULL, fetch_cb, &fetch);
  api_iterate_until (&fetch.done);
  g_assert_no_error (fetch.error);
  g_assert_cmpuint (soup_message_get_status (msg), ==, 200);
  g_bytes_unref (fetch.body);

  pd_api_server_stop (server);
  api_drain ();
  g_clear_object (&server);
  g_clear_object (&refused);
  g_clear_object (&auth);
  g_clear_object (&store);
  api_rm_rf (dir);
}

int
main (int argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/postern/server/api/admin/pair-describe", test_pair_describe);
  g_test_add_func ("/postern/server/api/admin/pair-uri", test_pair_uri);
  g_test_add_func ("/postern/server/api/options/keyfile", test_options_keyfile);
  g_test_add_func ("/postern/server/api/options/example", test_options_example);
  g_test_add_func ("/postern/server/api/options/public-url", test_public_url);
  g_test_add_func ("/postern/server/api/options/plain-http", test_plain_http);
  return g_test_run ();
}
