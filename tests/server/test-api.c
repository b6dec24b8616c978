/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <glib/gstdio.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <sys/stat.h>

#include "api-test-util.h"
#include "pd-tls.h"

#define UNKNOWN_TOKEN "0000000000000000000000000000000000000000000000000000000000000000"

/* ---- TLS ---- */

static void
test_tls_self_signed (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("postern-tls-XXXXXX", &error);
  g_autofree char *key_path = g_build_filename (dir, PD_TLS_SELF_SIGNED_KEY, NULL);
  g_autofree char *cert_path = g_build_filename (dir, PD_TLS_SELF_SIGNED_CERT, NULL);
  g_autoptr (GTlsCertificate) first = NULL;
  g_autoptr (GTlsCertificate) second = NULL;
  g_autofree char *fp1 = NULL;
  g_autofree char *fp2 = NULL;
  g_autofree char *pem = NULL;
  g_autoptr (GRegex) format = NULL;
  struct stat st;
  gnutls_x509_crt_t crt;
  gnutls_datum_t datum;
  gboolean saw_v4 = FALSE, saw_v6 = FALSE, saw_dns = FALSE;
  unsigned int bits = 0;

  g_assert_no_error (error);
  first = pd_tls_load_certificate (NULL, NULL, dir, "posternd.example", &error);
  g_assert_no_error (error);
  g_assert_cmpint (g_stat (key_path, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, 0600);

  /* Kept: the second start loads the same certificate. */
  second = pd_tls_load_certificate (NULL, NULL, dir, "other.example", &error);
  g_assert_no_error (error);
  fp1 = pd_tls_fingerprint (first);
  fp2 = pd_tls_fingerprint (second);
  g_assert_cmpstr (fp1, ==, fp2);
  format = g_regex_new ("^[0-9A-F]{2}(:[0-9A-F]{2}){31}$", 0, 0, NULL);
  g_assert_true (g_regex_match (format, fp1, 0, NULL));

  /* EC P-256 with the host name and both loopback addresses. */
  g_file_get_contents (cert_path, &pem, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (gnutls_x509_crt_init (&crt), ==, 0);
  datum.data = (unsigned char *)pem;
  datum.size = strlen (pem);
  g_assert_cmpint (gnutls_x509_crt_import (crt, &datum, GNUTLS_X509_FMT_PEM), ==, 0);
  g_assert_cmpint (gnutls_x509_crt_get_pk_algorithm (crt, &bits), ==, GNUTLS_PK_ECDSA);
  for (unsigned int i = 0;; i++)
    {
      char san[256];
      size_t size = sizeof san;
      int type = gnutls_x509_crt_get_subject_alt_name (crt, i, san, &size, NULL);

      if (type < 0)
        break;
      if (type == GNUTLS_SAN_DNSNAME && g_strcmp0 (san, "posternd.example") == 0)
        saw_dns = TRUE;
      if (type == GNUTLS_SAN_IPADDRESS && size == 4 && memcmp (san, "\x7f\0\0\x01", 4) == 0)
        saw_v4 = TRUE;
      if (type == GNUTLS_SAN_IPADDRESS && size == 16 && san[15] == 1)
        saw_v6 = TRUE;
    }
  gnutls_x509_crt_deinit (crt);
  g_assert_true (saw_dns);
  g_assert_true (saw_v4);
  g_assert_true (saw_v6);

  api_rm_rf (dir);
}

static void
test_tls_operator_files (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GTlsCertificate) certificate = NULL;

  certificate = pd_tls_load_certificate ("/nonexistent/cert.pem", NULL, "/nonexistent", NULL, &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_assert_null (certificate);
  g_clear_error (&error);
  certificate = pd_tls_load_certificate ("/nonexistent/cert.pem", "/nonexistent/key.pem", "/nonexistent", NULL, &error);
  g_assert_nonnull (error);
  g_assert_null (certificate);
}

static void
test_tls_wrong_pin (ApiFixture *f,
                    gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("postern-tls-XXXXXX", &error);
  g_autoptr (GTlsCertificate) other = pd_tls_load_certificate (NULL, NULL, dir, "localhost", &error);
  GTlsCertificate *pinned = f->certificate;
  g_autoptr (ApiResponse) response = NULL;

  g_assert_no_error (error);
  /* A client pinning another certificate must refuse the handshake (a new
   * session: the pin is checked once per connection). */
  g_clear_object (&f->session);
  f->session = soup_session_new ();
  f->certificate = other;
  response = api_request (f, "GET", "/api/v1/health", NULL, NULL, NULL);
  f->certificate = pinned;
  g_assert_error (response->error, G_TLS_ERROR, G_TLS_ERROR_BAD_CERTIFICATE);
  api_rm_rf (dir);
}

/* ---- health, pairing, authentication ---- */

static void
test_health (ApiFixture *f,
             gconstpointer data)
{
  g_autoptr (ApiResponse) response = api_request (f, "GET", "/api/v1/health", NULL, NULL, NULL);

  g_assert_no_error (response->error);
  g_assert_cmpuint (response->status, ==, 200);
  g_assert_cmpstr (response->content_type, ==, "application/json");
  g_assert_cmpstr (api_string (response, "status"), ==, "ok");
  g_assert_cmpstr (api_string (response, "version"), ==, PACKAGE_VERSION);
}

static void
test_pair_success (ApiFixture *f,
                   gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *code = pd_store_auth_create_pairing_code (f->auth, f->alice_id, g_get_real_time () / G_USEC_PER_SEC, 600, &error);
  g_autofree char *body = NULL;
  g_autofree char *lower = NULL;
  g_autoptr (ApiResponse) paired = NULL;
  g_autoptr (ApiResponse) account = NULL;
  JsonObject *server;
  const char *token;

  g_assert_no_error (error);
  g_assert_cmpuint (strlen (code), ==, 14);
  /* Case and dashes do not matter when typing the code. */
  lower = g_ascii_strdown (code, -1);
  lower[4] = ' ';
  body = g_strdup_printf ("{\"code\":\"%s\",\"device_name\":\"phone\",\"unknown\":[1,2]}", lower);
  paired = api_request (f, "POST", "/api/v1/pair", NULL, body, NULL);
  g_assert_cmpuint (paired->status, ==, 201);
  token = api_string (paired, "token");
  g_assert_cmpuint (strlen (token), ==, 64);
  g_assert_cmpstr (api_string (paired, "user"), ==, "alice");
  server = json_object_get_object_member (api_object (paired), "server");
  g_assert_cmpstr (json_object_get_string_member (server, "fingerprint"), ==, pd_api_server_get_fingerprint (f->server));
  g_assert_cmpstr (json_array_get_string_element (json_object_get_array_member (server, "domains"), 0), ==, "ch.example.org");

  account = api_request (f, "GET", "/api/v1/account", token, NULL, NULL);
  g_assert_cmpuint (account->status, ==, 200);
  g_assert_cmpstr (api_string (account, "user"), ==, "alice");
  g_assert_cmpint (api_int (account, "device_id"), ==, api_int (paired, "device_id"));
  g_assert_cmpstr (api_string (account, "default_style"), ==, "random");
}

static void
test_pair_reuse (ApiFixture *f,
                 gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *code = pd_store_auth_create_pairing_code (f->auth, f->alice_id, g_get_real_time () / G_USEC_PER_SEC, 600, &error);
  g_autofree char *body = g_strdup_printf ("{\"code\":\"%s\",\"device_name\":\"phone\"}", code);
  g_autoptr (ApiResponse) first = api_request (f, "POST", "/api/v1/pair", NULL, body, NULL);
  g_autoptr (ApiResponse) second = api_request (f, "POST", "/api/v1/pair", NULL, body, NULL);
  g_autoptr (ApiResponse) garbage = api_request (f, "POST", "/api/v1/pair", NULL, "{\"code\":\"nope\"}", NULL);

  g_assert_cmpuint (first->status, ==, 201);
  api_assert_problem (second, 401, NULL);
  g_assert_cmpstr (api_string (second, "type"), ==, "https://postern.invalid/problems/invalid-pairing-code");
  g_assert_null (json_object_get_member (api_object (second), "token"));
  api_assert_problem (garbage, 401, NULL);
}

static void
test_pair_expiry (ApiFixture *f,
                  gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;
  g_autofree char *code1 = pd_store_auth_create_pairing_code (f->auth, f->alice_id, now, PD_PAIRING_CODE_LIFETIME, &error);
  g_autofree char *code2 = pd_store_auth_create_pairing_code (f->auth, f->alice_id, now, PD_PAIRING_CODE_LIFETIME, &error);
  g_autofree char *body1 = g_strdup_printf ("{\"code\":\"%s\"}", code1);
  g_autofree char *body2 = g_strdup_printf ("{\"code\":\"%s\"}", code2);
  g_autoptr (ApiResponse) in_time = NULL;
  g_autoptr (ApiResponse) too_late = NULL;

  g_assert_no_error (error);
  f->clock_offset = PD_PAIRING_CODE_LIFETIME - 5;
  in_time = api_request (f, "POST", "/api/v1/pair", NULL, body1, NULL);
  g_assert_cmpuint (in_time->status, ==, 201);
  f->clock_offset = PD_PAIRING_CODE_LIFETIME + 1;
  too_late = api_request (f, "POST", "/api/v1/pair", NULL, body2, NULL);
  api_assert_problem (too_late, 401, NULL);
}

static void
test_pair_malformed (ApiFixture *f,
                     gconstpointer data)
{
  g_autoptr (ApiResponse) no_code = api_request (f, "POST", "/api/v1/pair", NULL, "{\"device_name\":\"x\"}", NULL);
  g_autoptr (ApiResponse) wrong_type = api_request (f, "POST", "/api/v1/pair", NULL, "{\"code\":12}", NULL);
  g_autoptr (ApiResponse) bad_name = api_request (f, "POST", "/api/v1/pair", NULL, "{\"code\":\"AAAA-BBBB-CCCC\",\"device_name\":\"\"}", NULL);

  api_assert_problem (no_code, 400, "code");
  api_assert_problem (wrong_type, 400, "code");
  api_assert_problem (bad_name, 400, "device_name");
}

static void
test_auth_failures (ApiFixture *f,
                    gconstpointer data)
{
  g_autoptr (ApiResponse) missing = api_request (f, "GET", "/api/v1/channels", NULL, NULL, NULL);
  g_autoptr (ApiResponse) wrong = api_request (f, "GET", "/api/v1/channels", UNKNOWN_TOKEN, NULL, NULL);
  g_autoptr (ApiResponse) malformed = api_request (f, "GET", "/api/v1/channels", "not a token", NULL, NULL);
  g_autoptr (ApiResponse) basic = NULL;
  g_autoptr (ApiResponse) devices = NULL;
  g_autoptr (ApiResponse) revoke = NULL;
  g_autoptr (ApiResponse) after = NULL;
  g_autoptr (ApiResponse) other = NULL;
  g_autofree char *phone = api_pair (f, f->alice_id, "phone");
  g_autofree char *path = NULL;
  JsonArray *list;
  gint64 phone_id = 0;

  api_assert_problem (missing, 401, NULL);
  g_assert_cmpstr (soup_message_headers_get_one (missing->headers, "WWW-Authenticate"), ==, "Bearer realm=\"posternd\"");
  api_assert_problem (wrong, 401, NULL);
  api_assert_problem (malformed, 401, NULL);
  basic = api_request (f, "GET", "/api/v1/channels", NULL, NULL, "Authorization", "Basic YWxpY2U6eA==", NULL);
  api_assert_problem (basic, 401, NULL);

  /* Revoked: the token stops working at once. */
  devices = api_request (f, "GET", "/api/v1/devices", f->alice_token, NULL, NULL);
  g_assert_cmpuint (devices->status, ==, 200);
  list = json_object_get_array_member (api_object (devices), "devices");
  g_assert_cmpuint (json_array_get_length (list), ==, 2);
  for (guint i = 0; i < json_array_get_length (list); i++)
    {
      JsonObject *device = json_array_get_object_element (list, i);

      if (g_str_equal (json_object_get_string_member (device, "name"), "phone"))
        {
          phone_id = json_object_get_int_member (device, "id");
          g_assert_false (json_object_get_boolean_member (device, "current"));
        }
      else
        g_assert_true (json_object_get_boolean_member (device, "current"));
    }
  g_assert_cmpint (phone_id, >, 0);
  path = g_strdup_printf ("/api/v1/devices/%" G_GINT64_FORMAT, phone_id);
  revoke = api_request (f, "DELETE", path, f->alice_token, NULL, NULL);
  g_assert_cmpuint (revoke->status, ==, 204);
  after = api_request (f, "GET", "/api/v1/channels", phone, NULL, NULL);
  api_assert_problem (after, 401, NULL);
  other = api_request (f, "GET", "/api/v1/channels", f->alice_token, NULL, NULL);
  g_assert_cmpuint (other->status, ==, 200);
}

static void
tweak_slow_auth (PdApiOptions *options)
{
  options->auth_failures_before_delay = 2;
  options->auth_failure_delay_ms = 600;
  options->auth_failures_before_refusing = 5;
}

static void
test_auth_slowing (ApiFixture *f,
                   gconstpointer data)
{
  gint64 elapsed[5];

  for (guint i = 0; i < 5; i++)
    {
      g_autoptr (ApiResponse) response = api_request (f, "GET", "/api/v1/account", UNKNOWN_TOKEN, NULL, NULL);

      api_assert_problem (response, 401, NULL);
      elapsed[i] = response->elapsed_ms;
    }
  /* Two free failures, then 600 ms, 1200 ms, 2400 ms. The free ones are
   * only checked against the first delay: a loaded machine is slow, never
   * fast. */
  g_assert_cmpint (elapsed[0], <, 600);
  g_assert_cmpint (elapsed[1], <, 600);
  g_assert_cmpint (elapsed[2], >=, 600);
  g_assert_cmpint (elapsed[3], >=, 1200);
  g_assert_cmpint (elapsed[4], >=, 2400);

  /* Past the refusal threshold even a good token is turned away. */
  {
    g_autoptr (ApiResponse) refused = api_request (f, "GET", "/api/v1/account", f->alice_token, NULL, NULL);
    g_autoptr (ApiResponse) pair = api_request (f, "POST", "/api/v1/pair", NULL, "{\"code\":\"AAAA-BBBB-CCCC\"}", NULL);
    g_autoptr (ApiResponse) health = api_request (f, "GET", "/api/v1/health", NULL, NULL, NULL);

    api_assert_problem (refused, 429, NULL);
    g_assert_cmpstr (soup_message_headers_get_one (refused->headers, "Retry-After"), ==, "900");
    api_assert_problem (pair, 429, NULL);
    g_assert_cmpuint (health->status, ==, 200);
  }
}

static void
test_devices_isolation (ApiFixture *f,
                        gconstpointer data)
{
  g_autoptr (ApiResponse) mine = api_request (f, "GET", "/api/v1/devices", f->alice_token, NULL, NULL);
  JsonArray *list = json_object_get_array_member (api_object (mine), "devices");
  gint64 alice_device = json_object_get_int_member (json_array_get_object_element (list, 0), "id");
  g_autofree char *path = g_strdup_printf ("/api/v1/devices/%" G_GINT64_FORMAT, alice_device);
  g_autoptr (ApiResponse) theirs = api_request (f, "GET", "/api/v1/devices", f->bob_token, NULL, NULL);
  g_autoptr (ApiResponse) revoke = api_request (f, "DELETE", path, f->bob_token, NULL, NULL);
  g_autoptr (ApiResponse) still = api_request (f, "GET", "/api/v1/account", f->alice_token, NULL, NULL);
  g_autoptr (ApiResponse) nonsense = api_request (f, "DELETE", "/api/v1/devices/abc", f->bob_token, NULL, NULL);

  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (api_object (theirs), "devices")), ==, 1);
  api_assert_problem (revoke, 404, NULL);
  g_assert_cmpuint (still->status, ==, 200);
  api_assert_problem (nonsense, 404, NULL);
}

/* ---- connection limits ---- */

static void
tweak_connection_limits (PdApiOptions *options)
{
  options->max_connections_per_client = 2;
  options->request_header_timeout = 1;
}

/* Waits (iterating the server) until the peer closed @connection. */
static gboolean
wait_closed (GSocketConnection *connection,
             gint64 timeout_ms)
{
  GSocket *socket = g_socket_connection_get_socket (connection);
  gint64 deadline = g_get_monotonic_time () + timeout_ms * 1000;

  g_socket_set_blocking (socket, FALSE);
  while (g_get_monotonic_time () < deadline)
    {
      g_autoptr (GError) error = NULL;
      char buffer[64];
      gssize n = g_socket_receive (socket, buffer, sizeof buffer, NULL, &error);

      if (n == 0 || (n < 0 && !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK)))
        return TRUE;
      g_main_context_iteration (NULL, FALSE);
      g_usleep (1000);
    }
  return FALSE;
}

static void
test_connection_limits (ApiFixture *f,
                        gconstpointer data)
{
  g_autoptr (GSocketClient) client = g_socket_client_new ();
  g_autoptr (GUri) uri = g_uri_parse (f->url, G_URI_FLAGS_NONE, NULL);
  g_autoptr (GSocketConnection) first = NULL;
  g_autoptr (GSocketConnection) second = NULL;
  g_autoptr (GSocketConnection) third = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (ApiResponse) after = NULL;
  gint64 deadline;

  /* Start from no connection: drop the session that paired. */
  g_clear_object (&f->session);
  deadline = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;
  while (pd_api_server_get_n_connections (f->server) > 0 && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, FALSE);
  g_assert_cmpuint (pd_api_server_get_n_connections (f->server), ==, 0);

  /* Two silent clients from one address: the limit. */
  first = g_socket_client_connect_to_host (client, "127.0.0.1", g_uri_get_port (uri), NULL, &error);
  g_assert_no_error (error);
  second = g_socket_client_connect_to_host (client, "127.0.0.1", g_uri_get_port (uri), NULL, &error);
  g_assert_no_error (error);
  deadline = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;
  while (pd_api_server_get_n_connections (f->server) < 2 && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, FALSE);
  g_assert_cmpuint (pd_api_server_get_n_connections (f->server), ==, 2);

  /* A third is closed at once. */
  third = g_socket_client_connect_to_host (client, "127.0.0.1", g_uri_get_port (uri), NULL, &error);
  g_assert_no_error (error);
  g_assert_true (wait_closed (third, 900));
  g_assert_cmpuint (pd_api_server_get_n_connections (f->server), ==, 2);

  /* The silent ones lose their connection when the header deadline (1 s
   * here) passes: they never even finished the TLS handshake. */
  g_assert_true (wait_closed (first, 5000));
  g_assert_true (wait_closed (second, 5000));
  g_clear_object (&first);
  g_clear_object (&second);
  g_clear_object (&third);
  deadline = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;
  while (pd_api_server_get_n_connections (f->server) > 0 && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, FALSE);
  g_assert_cmpuint (pd_api_server_get_n_connections (f->server), ==, 0);

  /* And real clients are served again. Every answer closes its
   * connection (libsoup 3.2 would keep a keep-alive one that its client
   * closes), so none stays open to count against the limit. */
  f->session = soup_session_new ();
  for (guint i = 0; i < 6; i++)
    {
      g_autoptr (ApiResponse) again = api_request (f, "GET", "/api/v1/health", NULL, NULL, NULL);

      g_assert_cmpuint (again->status, ==, 200);
      g_assert_cmpstr (soup_message_headers_get_one (again->headers, "Connection"), ==, "close");
    }
  after = api_request (f, "GET", "/api/v1/nothing", NULL, NULL, NULL);
  g_assert_cmpuint (after->status, ==, 404);
  g_assert_cmpstr (soup_message_headers_get_one (after->headers, "Connection"), ==, "close");

  /* Clients that come and go, one connection each, faster than the idle
   * deadline: a closed one is reclaimed when the next arrives, so the
   * limit of two never turns them away. */
  for (guint i = 0; i < 5; i++)
    {
      g_autoptr (SoupSession) session = soup_session_new ();
      g_autoptr (ApiResponse) quick = NULL;

      g_object_unref (g_steal_pointer (&f->session));
      f->session = g_object_ref (session);
      quick = api_request (f, "GET", "/api/v1/health", NULL, NULL, NULL);
      g_assert_no_error (quick->error);
      g_assert_cmpuint (quick->status, ==, 200);
    }

  /* The client goes away between requests. libsoup alone would keep the
   * connection in CLOSE_WAIT for ever; the idle deadline (1 s) closes it. */
  g_clear_object (&f->session);
  deadline = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;
  while (pd_api_server_get_n_connections (f->server) > 0 && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, FALSE);
  g_assert_cmpuint (pd_api_server_get_n_connections (f->server), ==, 0);
}

/* ---- routing and bodies ---- */

static void
test_routing (ApiFixture *f,
              gconstpointer data)
{
  g_autoptr (ApiResponse) unknown = api_request (f, "GET", "/api/v1/nothing", f->alice_token, NULL, NULL);
  g_autoptr (ApiResponse) method = api_request (f, "PUT", "/api/v1/channels", f->alice_token, "{}", NULL);
  g_autoptr (ApiResponse) outside = api_request (f, "GET", "/etc/passwd", NULL, NULL, NULL);

  api_assert_problem (unknown, 404, NULL);
  api_assert_problem (method, 405, NULL);
  g_assert_cmpstr (soup_message_headers_get_one (method->headers, "Allow"), ==, "GET, POST");
  g_assert_cmpuint (outside->status, ==, 404);
}

static void
test_body_limits (ApiFixture *f,
                  gconstpointer data)
{
  g_autofree char *huge = NULL;
  g_autoptr (GString) big = g_string_new ("{\"label\":\"");
  g_autoptr (ApiResponse) too_large = NULL;
  g_autoptr (ApiResponse) malformed = NULL;
  g_autoptr (ApiResponse) not_object = NULL;
  g_autoptr (ApiResponse) empty = NULL;
  g_autoptr (ApiResponse) bad_utf8 = NULL;
  g_autoptr (ApiResponse) list = NULL;

  for (guint i = 0; i < PD_API_MAX_BODY; i++)
    g_string_append_c (big, 'x');
  g_string_append (big, "\"}");
  too_large = api_request (f, "POST", "/api/v1/channels", f->alice_token, big->str, NULL);
  api_assert_problem (too_large, 413, NULL);

  malformed = api_request (f, "POST", "/api/v1/channels", f->alice_token, "{\"label\": ", NULL);
  api_assert_problem (malformed, 400, NULL);
  not_object = api_request (f, "POST", "/api/v1/channels", f->alice_token, "[1]", NULL);
  api_assert_problem (not_object, 400, NULL);
  empty = api_request (f, "POST", "/api/v1/channels", f->alice_token, NULL, NULL);
  api_assert_problem (empty, 400, NULL);
  bad_utf8 = api_request (f, "POST", "/api/v1/channels", f->alice_token, "{\"label\":\"\xff\xfe\"}", NULL);
  api_assert_problem (bad_utf8, 400, NULL);

  /* Nothing was created by any of them. */
  list = api_request (f, "GET", "/api/v1/channels", f->alice_token, NULL, NULL);
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (api_object (list), "channels")), ==, 0);
}

static void
test_body_fields (ApiFixture *f,
                  gconstpointer data)
{
  static const struct
  {
    const char *body;
    const char *field;
  } cases[] = {
    { "{\"label\":5}", "label" },
    { "{\"kind\":\"forever\"}", "kind" },
    { "{\"on_unexpected\":\"shrug\"}", "on_unexpected" },
    { "{\"farewell\":true}", "farewell" },
    { "{\"state\":\"revoked\"}", "state" },
    { "{\"expires_at\":\"tomorrow\"}", "expires_at" },
    { "{\"expected_senders\":\"jane@acme.example\"}", "expected_senders" },
    { "{\"expected_senders\":[\"not a pattern\"]}", "expected_senders[0]" },
    { "{\"id\":\"not-a-uuid\"}", "id" },
    { "{\"style\":\"fancy\"}", "style" },
    { "{\"domain\":\"elsewhere.example\"}", "domain" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (ApiResponse) response = api_request (f, "POST", "/api/v1/channels", f->alice_token, cases[i].body, NULL);

      g_test_message ("body %s", cases[i].body);
      api_assert_problem (response, 400, cases[i].field);
    }
}

/* ---- channels ---- */

static void
test_channels_create (ApiFixture *f,
                      gconstpointer data)
{
  g_autoptr (ApiResponse) created = NULL;
  g_autoptr (ApiResponse) words = NULL;
  g_autoptr (ApiResponse) fetched = NULL;
  g_autofree char *path = NULL;
  JsonObject *channel;
  const char *address;

  created = api_request (f, "POST", "/api/v1/channels", f->alice_token,
                         "{\"label\":\"Recruiter, FOSDEM\",\"kind\":\"one-time\",\"on_unexpected\":\"hold\","
                         "\"expected_senders\":[\"@acme.example\"],\"expires_at\":\"2030-01-01T00:00:00Z\","
                         "\"whatever\":{\"nested\":true}}",
                         NULL);
  g_assert_cmpuint (created->status, ==, 201);
  channel = api_object (created);
  address = json_object_get_string_member (channel, "address");
  g_assert_true (g_str_has_suffix (address, "@ch.example.org"));
  g_assert_cmpuint (strlen (address), ==, 11 + strlen ("@ch.example.org"));
  g_assert_cmpstr (json_object_get_string_member (channel, "label"), ==, "Recruiter, FOSDEM");
  g_assert_cmpstr (json_object_get_string_member (channel, "kind"), ==, "one-time");
  g_assert_cmpstr (json_object_get_string_member (channel, "state"), ==, "active");
  g_assert_cmpstr (json_object_get_string_member (channel, "on_unexpected"), ==, "hold");
  g_assert_cmpstr (json_object_get_string_member (channel, "expires_at"), ==, "2030-01-01T00:00:00Z");
  g_assert_cmpint (json_object_get_int_member (channel, "revision"), >, 0);
  g_assert_null (json_object_get_member (channel, "whatever"));
  path = g_strdup_printf ("/api/v1/channels/%s", json_object_get_string_member (channel, "id"));
  g_assert_cmpstr (soup_message_headers_get_one (created->headers, "Location"), ==, path);

  fetched = api_request (f, "GET", path, f->alice_token, NULL, NULL);
  g_assert_cmpuint (fetched->status, ==, 200);
  g_assert_cmpstr (api_string (fetched, "address"), ==, address);
  {
    g_autofree char *etag = g_strdup_printf ("\"%" G_GINT64_FORMAT "\"", api_int (fetched, "revision"));

    g_assert_cmpstr (soup_message_headers_get_one (fetched->headers, "ETag"), ==, etag);
  }

  words = api_request (f, "POST", "/api/v1/channels", f->alice_token,
                       "{\"label\":\"words\",\"style\":\"words\",\"domain\":\"ch2.example.org\"}", NULL);
  g_assert_cmpuint (words->status, ==, 201);
  g_assert_true (g_str_has_suffix (api_string (words, "address"), "@ch2.example.org"));
  g_assert_nonnull (strchr (api_string (words, "address"), '-'));
}

static void
test_channels_idempotent (ApiFixture *f,
                          gconstpointer data)
{
  const char *body = "{\"id\":\"3f0c5a4e-8a0b-4c1d-9e2f-112233445566\",\"label\":\"Once\"}";
  g_autoptr (ApiResponse) first = api_request (f, "POST", "/api/v1/channels", f->alice_token, body, NULL);
  g_autoptr (ApiResponse) second = api_request (f, "POST", "/api/v1/channels", f->alice_token, body, NULL);
  g_autoptr (ApiResponse) list = api_request (f, "GET", "/api/v1/channels", f->alice_token, NULL, NULL);
  g_autoptr (ApiResponse) other_user = api_request (f, "POST", "/api/v1/channels", f->bob_token, body, NULL);

  g_assert_cmpuint (first->status, ==, 201);
  g_assert_cmpuint (second->status, ==, 200);
  g_assert_cmpstr (api_string (first, "id"), ==, "3f0c5a4e-8a0b-4c1d-9e2f-112233445566");
  g_assert_cmpstr (api_string (first, "address"), ==, api_string (second, "address"));
  g_assert_cmpint (api_int (first, "revision"), ==, api_int (second, "revision"));
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (api_object (list), "channels")), ==, 1);
  /* Another user cannot take (or see) the id. */
  api_assert_problem (other_user, 409, NULL);
}

static void
test_channels_client_address (ApiFixture *f,
                              gconstpointer data)
{
  g_autoptr (ApiResponse) ok = api_request (f, "POST", "/api/v1/channels", f->alice_token,
                                            "{\"address\":\"Offline7Q2@CH.example.org\",\"label\":\"offline\"}", NULL);
  g_autoptr (ApiResponse) used = api_request (f, "POST", "/api/v1/channels", f->bob_token,
                                              "{\"address\":\"offline7q2@ch.example.org\"}", NULL);
  g_autoptr (ApiResponse) foreign = api_request (f, "POST", "/api/v1/channels", f->alice_token,
                                                 "{\"address\":\"abc@gmail.example\"}", NULL);
  g_autoptr (ApiResponse) invalid = api_request (f, "POST", "/api/v1/channels", f->alice_token,
                                                 "{\"address\":\"a..b@ch.example.org\"}", NULL);
  g_autoptr (ApiResponse) tagged = api_request (f, "POST", "/api/v1/channels", f->alice_token,
                                                "{\"address\":\"a+b@ch.example.org\"}", NULL);
  g_autoptr (ApiResponse) wrong_type = api_request (f, "POST", "/api/v1/channels", f->alice_token,
                                                    "{\"address\":42}", NULL);

  g_assert_cmpuint (ok->status, ==, 201);
  g_assert_cmpstr (api_string (ok, "address"), ==, "offline7q2@ch.example.org");
  api_assert_problem (used, 409, "address");
  api_assert_problem (foreign, 409, "address");
  api_assert_problem (invalid, 409, "address");
  api_assert_problem (tagged, 409, "address");
  api_assert_problem (wrong_type, 400, "address");
}

static void
test_channels_patch (ApiFixture *f,
                     gconstpointer data)
{
  g_autofree char *id = api_create_channel (f, f->alice_token, "before");
  g_autofree char *path = g_strdup_printf ("/api/v1/channels/%s", id);
  g_autoptr (ApiResponse) current = api_request (f, "GET", path, f->alice_token, NULL, NULL);
  g_autofree char *etag = g_strdup_printf ("\"%" G_GINT64_FORMAT "\"", api_int (current, "revision"));
  g_autoptr (ApiResponse) patched = NULL;
  g_autoptr (ApiResponse) stale = NULL;
  g_autoptr (ApiResponse) bad_field = NULL;
  g_autoptr (ApiResponse) bad_if_match = NULL;
  g_autoptr (ApiResponse) unconditional = NULL;
  g_autoptr (ApiResponse) cleared = NULL;

  patched = api_request (f, "PATCH", path, f->alice_token,
                         "{\"label\":\"after\",\"note\":\"met at booth 4\",\"state\":\"paused\","
                         "\"on_unexpected\":\"reject\",\"farewell\":\"drop\",\"farewell_text\":\"Gone\","
                         "\"expected_senders\":[\"jane@acme.example\",\"@.acme.example\"],"
                         "\"expires_at\":\"2031-05-01T12:00:00Z\",\"address\":\"ignored@ch.example.org\"}",
                         "If-Match", etag, NULL);
  g_assert_cmpuint (patched->status, ==, 200);
  g_assert_cmpstr (api_string (patched, "label"), ==, "after");
  g_assert_cmpstr (api_string (patched, "note"), ==, "met at booth 4");
  g_assert_cmpstr (api_string (patched, "state"), ==, "paused");
  g_assert_cmpstr (api_string (patched, "on_unexpected"), ==, "reject");
  g_assert_cmpstr (api_string (patched, "farewell"), ==, "drop");
  g_assert_cmpstr (api_string (patched, "farewell_text"), ==, "Gone");
  g_assert_cmpstr (api_string (patched, "address"), ==, api_string (current, "address"));
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (api_object (patched), "expected_senders")), ==, 2);
  g_assert_cmpint (api_int (patched, "revision"), >, api_int (current, "revision"));

  /* The old revision is stale now. */
  stale = api_request (f, "PATCH", path, f->alice_token, "{\"label\":\"lost update\"}", "If-Match", etag, NULL);
  api_assert_problem (stale, 412, NULL);

  bad_field = api_request (f, "PATCH", path, f->alice_token, "{\"state\":\"sleeping\"}", NULL);
  api_assert_problem (bad_field, 400, "state");
  bad_if_match = api_request (f, "PATCH", path, f->alice_token, "{\"label\":\"x\"}", "If-Match", "yesterday", NULL);
  api_assert_problem (bad_if_match, 400, "If-Match");

  unconditional = api_request (f, "PATCH", path, f->alice_token, "{\"label\":\"no if-match\"}", NULL);
  g_assert_cmpuint (unconditional->status, ==, 200);
  g_assert_cmpstr (api_string (unconditional, "label"), ==, "no if-match");

  cleared = api_request (f, "PATCH", path, f->alice_token, "{\"expires_at\":null}", NULL);
  g_assert_cmpuint (cleared->status, ==, 200);
  g_assert_true (json_object_get_null_member (api_object (cleared), "expires_at"));
}

static void
test_channels_revoke (ApiFixture *f,
                      gconstpointer data)
{
  g_autofree char *id = api_create_channel (f, f->alice_token, "leaky");
  g_autofree char *path = g_strdup_printf ("/api/v1/channels/%s/revoke", id);
  g_autofree char *channel_path = g_strdup_printf ("/api/v1/channels/%s", id);
  g_autoptr (ApiResponse) revoked = api_request (f, "POST", path, f->alice_token, NULL, NULL);
  g_autoptr (ApiResponse) again = api_request (f, "POST", path, f->alice_token, NULL, NULL);
  g_autoptr (ApiResponse) revive = api_request (f, "PATCH", channel_path, f->alice_token, "{\"state\":\"active\"}", NULL);

  g_assert_cmpuint (revoked->status, ==, 200);
  g_assert_cmpstr (api_string (revoked, "state"), ==, "revoked");
  g_assert_cmpuint (again->status, ==, 200);
  g_assert_cmpint (api_int (again, "revision"), ==, api_int (revoked, "revision"));
  api_assert_problem (revive, 409, "state");
}

static void
test_channels_list_since (ApiFixture *f,
                          gconstpointer data)
{
  g_autofree char *a = api_create_channel (f, f->alice_token, "a");
  g_autofree char *b = api_create_channel (f, f->alice_token, "b");
  g_autoptr (ApiResponse) all = api_request (f, "GET", "/api/v1/channels", f->alice_token, NULL, NULL);
  gint64 revision = api_int (all, "revision");
  g_autofree char *since_path = g_strdup_printf ("/api/v1/channels?since=%" G_GINT64_FORMAT, revision);
  g_autofree char *a_path = g_strdup_printf ("/api/v1/channels/%s", a);
  g_autofree char *b_path = g_strdup_printf ("/api/v1/channels/%s", b);
  g_autoptr (ApiResponse) nothing = api_request (f, "GET", since_path, f->alice_token, NULL, NULL);
  g_autoptr (ApiResponse) patch = api_request (f, "PATCH", a_path, f->alice_token, "{\"label\":\"a2\"}", NULL);
  g_autoptr (ApiResponse) deleted = api_request (f, "DELETE", b_path, f->alice_token, NULL, NULL);
  g_autoptr (ApiResponse) changes = api_request (f, "GET", since_path, f->alice_token, NULL, NULL);
  g_autoptr (ApiResponse) gone = api_request (f, "GET", b_path, f->alice_token, NULL, NULL);
  g_autoptr (ApiResponse) bad = api_request (f, "GET", "/api/v1/channels?since=-1", f->alice_token, NULL, NULL);
  g_autofree char *after_path = NULL;
  g_autoptr (ApiResponse) after = NULL;
  JsonArray *channels;
  JsonArray *tombstones;

  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (api_object (all), "channels")), ==, 2);
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (api_object (nothing), "channels")), ==, 0);
  g_assert_cmpint (api_int (nothing, "revision"), ==, revision);
  g_assert_cmpuint (patch->status, ==, 200);
  g_assert_cmpuint (deleted->status, ==, 204);

  channels = json_object_get_array_member (api_object (changes), "channels");
  tombstones = json_object_get_array_member (api_object (changes), "deleted");
  g_assert_cmpuint (json_array_get_length (channels), ==, 1);
  g_assert_cmpstr (json_object_get_string_member (json_array_get_object_element (channels, 0), "label"), ==, "a2");
  g_assert_cmpuint (json_array_get_length (tombstones), ==, 1);
  g_assert_cmpstr (json_array_get_string_element (tombstones, 0), ==, b);
  g_assert_cmpint (api_int (changes, "revision"), >, api_int (patch, "revision"));
  api_assert_problem (gone, 404, NULL);
  api_assert_problem (bad, 400, "since");

  /* The full list (served from a cache keyed by revision) shows the
   * changes too. */
  {
    g_autoptr (ApiResponse) full = api_request (f, "GET", "/api/v1/channels", f->alice_token, NULL, NULL);
    JsonArray *list = json_object_get_array_member (api_object (full), "channels");

    g_assert_cmpuint (json_array_get_length (list), ==, 1);
    g_assert_cmpstr (json_object_get_string_member (json_array_get_object_element (list, 0), "label"), ==, "a2");
    g_assert_cmpint (api_int (full, "revision"), ==, api_int (changes, "revision"));
  }

  /* The revision handed out covers the deletion: nothing comes again. */
  after_path = g_strdup_printf ("/api/v1/channels?since=%" G_GINT64_FORMAT, api_int (changes, "revision"));
  after = api_request (f, "GET", after_path, f->alice_token, NULL, NULL);
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (api_object (after), "channels")), ==, 0);
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (api_object (after), "deleted")), ==, 0);
}

static void
test_channels_senders (ApiFixture *f,
                       gconstpointer data)
{
  g_autofree char *id = api_create_channel (f, f->alice_token, "trust");
  g_autofree char *path = g_strdup_printf ("/api/v1/channels/%s/senders", id);
  g_autofree char *remove_path = g_strdup_printf ("/api/v1/channels/%s/senders/jane%%40acme.example", id);
  g_autoptr (ApiResponse) added = api_request (f, "POST", path, f->alice_token, "{\"pattern\":\"Jane@acme.example\"}", NULL);
  g_autoptr (ApiResponse) again = api_request (f, "POST", path, f->alice_token, "{\"pattern\":\"jane@acme.example\"}", NULL);
  g_autoptr (ApiResponse) domain = api_request (f, "POST", path, f->alice_token, "{\"pattern\":\"@.acme.example\"}", NULL);
  g_autoptr (ApiResponse) bad = api_request (f, "POST", path, f->alice_token, "{\"pattern\":\"@@\"}", NULL);
  g_autoptr (ApiResponse) removed = api_request (f, "DELETE", remove_path, f->alice_token, NULL, NULL);
  g_autoptr (ApiResponse) removed_again = api_request (f, "DELETE", remove_path, f->alice_token, NULL, NULL);
  JsonArray *senders;

  g_assert_cmpuint (added->status, ==, 200);
  senders = json_object_get_array_member (api_object (added), "expected_senders");
  g_assert_cmpuint (json_array_get_length (senders), ==, 1);
  g_assert_cmpuint (again->status, ==, 200);
  g_assert_cmpint (api_int (again, "revision"), ==, api_int (added, "revision"));
  g_assert_cmpuint (domain->status, ==, 200);
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (api_object (domain), "expected_senders")), ==, 2);
  api_assert_problem (bad, 400, "pattern");
  g_assert_cmpuint (removed->status, ==, 200);
  senders = json_object_get_array_member (api_object (removed), "expected_senders");
  g_assert_cmpuint (json_array_get_length (senders), ==, 1);
  g_assert_cmpstr (json_array_get_string_element (senders, 0), ==, "@.acme.example");
  api_assert_problem (removed_again, 404, NULL);
}

/* ---- shares, timeline, blocks, events, held ---- */

static void
test_shares_timeline (ApiFixture *f,
                      gconstpointer data)
{
  g_autofree char *id = api_create_channel (f, f->alice_token, "Jane");
  g_autofree char *shares_path = g_strdup_printf ("/api/v1/channels/%s/shares", id);
  g_autofree char *timeline_path = g_strdup_printf ("/api/v1/channels/%s/timeline", id);
  g_autofree char *csv_path = g_strdup_printf ("/api/v1/channels/%s/timeline?format=csv", id);
  g_autoptr (ApiResponse) share = NULL;
  g_autoptr (ApiResponse) bad_share = NULL;
  g_autoptr (ApiResponse) shares = NULL;
  g_autoptr (ApiResponse) timeline = NULL;
  g_autoptr (ApiResponse) csv = NULL;
  g_autoptr (ApiResponse) bad_format = NULL;
  JsonArray *entries;
  const char *text;

  share = api_request (f, "POST", shares_path, f->alice_token,
                       "{\"method\":\"qr\",\"recipient\":\"Jane at FOSDEM\"}", NULL);
  g_assert_cmpuint (share->status, ==, 201);
  g_assert_cmpstr (api_string (share, "method"), ==, "qr");
  g_assert_cmpstr (api_string (share, "recipient"), ==, "Jane at FOSDEM");
  bad_share = api_request (f, "POST", shares_path, f->alice_token, "{\"method\":\"pigeon\"}", NULL);
  api_assert_problem (bad_share, 400, "method");
  {
    g_autoptr (ApiResponse) bad_recipient = api_request (f, "POST", shares_path, f->alice_token,
                                                         "{\"method\":\"qr\",\"recipient\":\"Jane\\r\\nX-Evil: 1\"}", NULL);

    api_assert_problem (bad_recipient, 400, "recipient");
  }
  shares = api_request (f, "GET", shares_path, f->alice_token, NULL, NULL);
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (api_object (shares), "shares")), ==, 1);

  f->clock_offset = 60;
  api_commit_event (f, f->alice_id, id, POSTERN_VERDICT_EXPECTED, "jane@acme.example", "Hello");
  f->clock_offset = 120;
  api_commit_event (f, f->alice_id, id, POSTERN_VERDICT_UNEXPECTED, "=spam@bulk.example", "Offer");
  api_commit_event (f, f->alice_id, id, POSTERN_VERDICT_UNEXPECTED, "more@bulk.example", "Offer 2");

  timeline = api_request (f, "GET", timeline_path, f->alice_token, NULL, NULL);
  g_assert_cmpuint (timeline->status, ==, 200);
  entries = json_object_get_array_member (api_object (timeline), "entries");
  g_assert_cmpuint (json_array_get_length (entries), ==, 5);
  g_assert_cmpstr (json_object_get_string_member (json_array_get_object_element (entries, 0), "type"), ==, "created");
  g_assert_cmpstr (json_object_get_string_member (json_array_get_object_element (entries, 1), "type"), ==, "share");
  g_assert_cmpstr (json_object_get_string_member (json_array_get_object_element (entries, 2), "first"), ==, "expected");
  g_assert_cmpstr (json_object_get_string_member (json_array_get_object_element (entries, 3), "first"), ==, "stranger");
  g_assert_true (json_object_get_null_member (json_array_get_object_element (entries, 4), "first"));

  csv = api_request (f, "GET", csv_path, f->alice_token, NULL, NULL);
  g_assert_cmpuint (csv->status, ==, 200);
  g_assert_cmpstr (csv->content_type, ==, "text/csv");
  text = g_bytes_get_data (csv->body, NULL);
  g_assert_true (g_str_has_prefix (text, "time,type,first,method_or_verdict,who,subject\r\n"));
  g_assert_nonnull (strstr (text, "\"share\",\"\",\"qr\",\"Jane at FOSDEM\""));
  g_assert_nonnull (strstr (text, "\"event\",\"stranger\",\"unexpected\",\"'=spam@bulk.example\",\"Offer\""));
  bad_format = api_request (f, "GET", "/api/v1/channels/00000000-0000-4000-8000-000000000000/timeline?format=xml", f->alice_token, NULL, NULL);
  api_assert_problem (bad_format, 400, "format");
}

static void
test_blocks (ApiFixture *f,
             gconstpointer data)
{
  g_autofree char *id = api_create_channel (f, f->alice_token, "blocky");
  g_autofree char *scoped_body = g_strdup_printf ("{\"pattern\":\"spam@bulk.example\",\"channel_id\":\"%s\"}", id);
  g_autoptr (ApiResponse) global = api_request (f, "POST", "/api/v1/blocks", f->alice_token, "{\"pattern\":\"@bulk.example\",\"channel_id\":null}", NULL);
  g_autoptr (ApiResponse) scoped = api_request (f, "POST", "/api/v1/blocks", f->alice_token, scoped_body, NULL);
  g_autoptr (ApiResponse) duplicate = api_request (f, "POST", "/api/v1/blocks", f->alice_token, "{\"pattern\":\"@bulk.example\"}", NULL);
  g_autoptr (ApiResponse) bad = api_request (f, "POST", "/api/v1/blocks", f->alice_token, "{\"pattern\":\"bulk\"}", NULL);
  g_autoptr (ApiResponse) list = NULL;
  g_autoptr (ApiResponse) removed = NULL;
  g_autoptr (ApiResponse) removed_again = NULL;
  g_autoptr (ApiResponse) after = NULL;
  g_autofree char *path = NULL;

  g_assert_cmpuint (global->status, ==, 201);
  g_assert_true (json_object_get_null_member (api_object (global), "channel_id"));
  g_assert_cmpuint (scoped->status, ==, 201);
  g_assert_cmpstr (api_string (scoped, "channel_id"), ==, id);
  g_assert_cmpstr (api_string (scoped, "pattern"), ==, "spam@bulk.example");
  api_assert_problem (duplicate, 409, NULL);
  api_assert_problem (bad, 400, "pattern");

  list = api_request (f, "GET", "/api/v1/blocks", f->alice_token, NULL, NULL);
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (api_object (list), "blocks")), ==, 2);
  path = g_strdup_printf ("/api/v1/blocks/%" G_GINT64_FORMAT, api_int (global, "id"));
  removed = api_request (f, "DELETE", path, f->alice_token, NULL, NULL);
  g_assert_cmpuint (removed->status, ==, 204);
  removed_again = api_request (f, "DELETE", path, f->alice_token, NULL, NULL);
  api_assert_problem (removed_again, 404, NULL);
  after = api_request (f, "GET", "/api/v1/blocks", f->alice_token, NULL, NULL);
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (api_object (after), "blocks")), ==, 1);
}

static void
test_events (ApiFixture *f,
             gconstpointer data)
{
  g_autofree char *a = api_create_channel (f, f->alice_token, "a");
  g_autofree char *b = api_create_channel (f, f->alice_token, "b");
  gint64 ids[6];
  g_autoptr (ApiResponse) first_page = NULL;
  g_autoptr (ApiResponse) second_page = NULL;
  g_autoptr (ApiResponse) newest = NULL;
  g_autoptr (ApiResponse) older = NULL;
  g_autoptr (ApiResponse) by_channel = NULL;
  g_autoptr (ApiResponse) by_verdict = NULL;
  g_autoptr (ApiResponse) bad_verdict = NULL;
  g_autoptr (ApiResponse) bad_limit = NULL;
  g_autoptr (ApiResponse) bad_order = NULL;
  g_autofree char *path = NULL;
  JsonArray *events;

  for (guint i = 0; i < G_N_ELEMENTS (ids); i++)
    ids[i] = api_commit_event (f, f->alice_id, i % 2 ? b : a,
                               i == 5 ? POSTERN_VERDICT_UNEXPECTED : POSTERN_VERDICT_EXPECTED,
                               "jane@acme.example", "Subject");
  /* Bob's events never show up for Alice. */
  {
    g_autofree char *bobs = api_create_channel (f, f->bob_token, "bob");

    api_commit_event (f, f->bob_id, bobs, POSTERN_VERDICT_EXPECTED, "x@y.example", "not yours");
  }

  first_page = api_request (f, "GET", "/api/v1/events?limit=4", f->alice_token, NULL, NULL);
  events = json_object_get_array_member (api_object (first_page), "events");
  g_assert_cmpuint (json_array_get_length (events), ==, 4);
  g_assert_cmpint (json_object_get_int_member (json_array_get_object_element (events, 0), "id"), ==, ids[0]);
  g_assert_cmpint (api_int (first_page, "cursor"), ==, ids[3]);
  g_assert_cmpint (api_int (first_page, "latest"), ==, ids[5]);
  path = g_strdup_printf ("/api/v1/events?since=%" G_GINT64_FORMAT, api_int (first_page, "cursor"));
  second_page = api_request (f, "GET", path, f->alice_token, NULL, NULL);
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (api_object (second_page), "events")), ==, 2);
  g_assert_cmpint (api_int (second_page, "cursor"), ==, ids[5]);

  newest = api_request (f, "GET", "/api/v1/events?order=desc&limit=2", f->alice_token, NULL, NULL);
  events = json_object_get_array_member (api_object (newest), "events");
  g_assert_cmpint (json_object_get_int_member (json_array_get_object_element (events, 0), "id"), ==, ids[5]);
  g_assert_cmpint (api_int (newest, "cursor"), ==, ids[4]);
  g_free (path);
  path = g_strdup_printf ("/api/v1/events?order=desc&before=%" G_GINT64_FORMAT, api_int (newest, "cursor"));
  older = api_request (f, "GET", path, f->alice_token, NULL, NULL);
  events = json_object_get_array_member (api_object (older), "events");
  g_assert_cmpuint (json_array_get_length (events), ==, 4);
  g_assert_cmpint (json_object_get_int_member (json_array_get_object_element (events, 0), "id"), ==, ids[3]);

  g_free (path);
  path = g_strdup_printf ("/api/v1/events?channel=%s", b);
  by_channel = api_request (f, "GET", path, f->alice_token, NULL, NULL);
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (api_object (by_channel), "events")), ==, 3);
  by_verdict = api_request (f, "GET", "/api/v1/events?verdict=unexpected", f->alice_token, NULL, NULL);
  events = json_object_get_array_member (api_object (by_verdict), "events");
  g_assert_cmpuint (json_array_get_length (events), ==, 1);
  g_assert_cmpstr (json_object_get_string_member (json_array_get_object_element (events, 0), "verdict"), ==, "unexpected");

  bad_verdict = api_request (f, "GET", "/api/v1/events?verdict=spam", f->alice_token, NULL, NULL);
  api_assert_problem (bad_verdict, 400, "verdict");
  bad_limit = api_request (f, "GET", "/api/v1/events?limit=100000", f->alice_token, NULL, NULL);
  api_assert_problem (bad_limit, 400, "limit");
  bad_order = api_request (f, "GET", "/api/v1/events?order=random", f->alice_token, NULL, NULL);
  api_assert_problem (bad_order, 400, "order");
}

static void
test_held (ApiFixture *f,
           gconstpointer data)
{
  g_autofree char *id = api_create_channel (f, f->alice_token, "held");
  g_autoptr (ApiResponse) list = NULL;
  g_autoptr (ApiResponse) released = NULL;
  g_autoptr (ApiResponse) dropped = NULL;
  g_autoptr (ApiResponse) again = NULL;
  g_autoptr (ApiResponse) after = NULL;
  g_autofree char *release_path = NULL;
  g_autofree char *drop_path = NULL;
  JsonArray *held;
  gint64 event1, event2;

  event1 = api_commit_event (f, f->alice_id, id, POSTERN_VERDICT_HELD, "stranger@bulk.example", "One");
  event2 = api_commit_event (f, f->alice_id, id, POSTERN_VERDICT_HELD, "stranger@bulk.example", "Two");
  list = api_request (f, "GET", "/api/v1/held", f->alice_token, NULL, NULL);
  g_assert_cmpuint (list->status, ==, 200);
  held = json_object_get_array_member (api_object (list), "held");
  g_assert_cmpuint (json_array_get_length (held), ==, 2);
  g_assert_cmpint (json_object_get_int_member (json_object_get_object_member (json_array_get_object_element (held, 0), "event"), "id"), ==, event1);
  g_assert_cmpint (json_object_get_int_member (json_object_get_object_member (json_array_get_object_element (held, 1), "event"), "id"), ==, event2);

  release_path = g_strdup_printf ("/api/v1/held/%" G_GINT64_FORMAT "/release",
                                  json_object_get_int_member (json_array_get_object_element (held, 0), "id"));
  drop_path = g_strdup_printf ("/api/v1/held/%" G_GINT64_FORMAT "/drop",
                               json_object_get_int_member (json_array_get_object_element (held, 1), "id"));
  released = api_request (f, "POST", release_path, f->alice_token, NULL, NULL);
  g_assert_cmpuint (released->status, ==, 204);
  dropped = api_request (f, "POST", drop_path, f->alice_token, NULL, NULL);
  g_assert_cmpuint (dropped->status, ==, 204);
  again = api_request (f, "POST", release_path, f->alice_token, NULL, NULL);
  api_assert_problem (again, 404, NULL);
  after = api_request (f, "GET", "/api/v1/held", f->alice_token, NULL, NULL);
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (api_object (after), "held")), ==, 0);
}

/* ---- isolation ---- */

static void
test_isolation (ApiFixture *f,
                gconstpointer data)
{
  g_autofree char *id = api_create_channel (f, f->alice_token, "alice only");
  g_autoptr (ApiResponse) block = NULL;
  g_autoptr (ApiResponse) held = NULL;
  g_autoptr (ApiResponse) bob_list = NULL;
  g_autoptr (ApiResponse) bob_events = NULL;
  g_autoptr (ApiResponse) bob_blocks = NULL;
  g_autoptr (ApiResponse) alice_after = NULL;
  g_autofree char *block_path = NULL;
  g_autofree char *held_release = NULL;
  g_autofree char *held_drop = NULL;
  gint64 held_id;
  struct
  {
    const char *method;
    char *path;
    const char *body;
  } attempts[] = {
    { "GET", g_strdup_printf ("/api/v1/channels/%s", id), NULL },
    { "PATCH", g_strdup_printf ("/api/v1/channels/%s", id), "{\"label\":\"mine now\"}" },
    { "DELETE", g_strdup_printf ("/api/v1/channels/%s", id), NULL },
    { "POST", g_strdup_printf ("/api/v1/channels/%s/revoke", id), NULL },
    { "POST", g_strdup_printf ("/api/v1/channels/%s/senders", id), "{\"pattern\":\"bob@example.org\"}" },
    { "DELETE", g_strdup_printf ("/api/v1/channels/%s/senders/jane%%40acme.example", id), NULL },
    { "GET", g_strdup_printf ("/api/v1/channels/%s/shares", id), NULL },
    { "POST", g_strdup_printf ("/api/v1/channels/%s/shares", id), "{\"method\":\"qr\"}" },
    { "GET", g_strdup_printf ("/api/v1/channels/%s/timeline", id), NULL },
    { "GET", g_strdup_printf ("/api/v1/channels/%s/timeline?format=csv", id), NULL },
    { "GET", g_strdup_printf ("/api/v1/events?channel=%s", id), NULL },
    { "POST", g_strdup ("/api/v1/blocks"), NULL /* set below */ },
    { "DELETE", NULL, NULL },
    { "POST", NULL, NULL },
    { "POST", NULL, NULL },
  };
  g_autofree char *block_body = g_strdup_printf ("{\"pattern\":\"x@y.example\",\"channel_id\":\"%s\"}", id);

  {
    g_autofree char *sender_path = g_strdup_printf ("/api/v1/channels/%s/senders", id);
    g_autoptr (ApiResponse) trust = api_request (f, "POST", sender_path, f->alice_token, "{\"pattern\":\"jane@acme.example\"}", NULL);

    g_assert_cmpuint (trust->status, ==, 200);
  }
  api_commit_event (f, f->alice_id, id, POSTERN_VERDICT_UNEXPECTED, "spam@bulk.example", "Spam");
  api_commit_event (f, f->alice_id, id, POSTERN_VERDICT_HELD, "spam@bulk.example", "Held");
  block = api_request (f, "POST", "/api/v1/blocks", f->alice_token, "{\"pattern\":\"@bulk.example\"}", NULL);
  g_assert_cmpuint (block->status, ==, 201);
  held = api_request (f, "GET", "/api/v1/held", f->alice_token, NULL, NULL);
  held_id = json_object_get_int_member (json_array_get_object_element (json_object_get_array_member (api_object (held), "held"), 0), "id");

  attempts[11].body = block_body;
  block_path = g_strdup_printf ("/api/v1/blocks/%" G_GINT64_FORMAT, api_int (block, "id"));
  held_release = g_strdup_printf ("/api/v1/held/%" G_GINT64_FORMAT "/release", held_id);
  held_drop = g_strdup_printf ("/api/v1/held/%" G_GINT64_FORMAT "/drop", held_id);
  attempts[12].path = g_strdup (block_path);
  attempts[13].path = g_strdup (held_release);
  attempts[14].path = g_strdup (held_drop);

  for (gsize i = 0; i < G_N_ELEMENTS (attempts); i++)
    {
      g_autoptr (ApiResponse) response = api_request (f, attempts[i].method, attempts[i].path, f->bob_token, attempts[i].body, NULL);

      g_test_message ("bob: %s %s", attempts[i].method, attempts[i].path);
      api_assert_problem (response, 404, NULL);
      g_free (attempts[i].path);
    }

  /* What Bob can list holds nothing of Alice's. */
  bob_list = api_request (f, "GET", "/api/v1/channels", f->bob_token, NULL, NULL);
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (api_object (bob_list), "channels")), ==, 0);
  bob_events = api_request (f, "GET", "/api/v1/events", f->bob_token, NULL, NULL);
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (api_object (bob_events), "events")), ==, 0);
  bob_blocks = api_request (f, "GET", "/api/v1/blocks", f->bob_token, NULL, NULL);
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (api_object (bob_blocks), "blocks")), ==, 0);
  {
    g_autoptr (ApiResponse) bob_held = api_request (f, "GET", "/api/v1/held", f->bob_token, NULL, NULL);

    g_assert_cmpuint (json_array_get_length (json_object_get_array_member (api_object (bob_held), "held")), ==, 0);
  }

  /* And nothing of Alice's changed. */
  alice_after = api_request (f, "GET", "/api/v1/channels", f->alice_token, NULL, NULL);
  {
    JsonArray *channels = json_object_get_array_member (api_object (alice_after), "channels");
    JsonObject *channel = json_array_get_object_element (channels, 0);

    g_assert_cmpuint (json_array_get_length (channels), ==, 1);
    g_assert_cmpstr (json_object_get_string_member (channel, "label"), ==, "alice only");
    g_assert_cmpstr (json_object_get_string_member (channel, "state"), ==, "active");
    g_assert_cmpuint (json_array_get_length (json_object_get_array_member (channel, "expected_senders")), ==, 1);
  }
}

int
main (int argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

#define ADD(path, func)             g_test_add ("/postern/server/api/" path, ApiFixture, NULL, api_fixture_set_up, func, api_fixture_tear_down)
#define ADD_WITH(path, tweak, func) g_test_add ("/postern/server/api/" path, ApiFixture, (gconstpointer)tweak, api_fixture_set_up, func, api_fixture_tear_down)

  g_test_add_func ("/postern/server/api/tls/self-signed", test_tls_self_signed);
  g_test_add_func ("/postern/server/api/tls/operator-files", test_tls_operator_files);
  ADD ("tls/wrong-pin", test_tls_wrong_pin);
  ADD ("health", test_health);
  ADD ("pair/success", test_pair_success);
  ADD ("pair/reuse", test_pair_reuse);
  ADD ("pair/expiry", test_pair_expiry);
  ADD ("pair/malformed", test_pair_malformed);
  ADD ("auth/failures", test_auth_failures);
  ADD_WITH ("auth/slowing", tweak_slow_auth, test_auth_slowing);
  ADD ("devices/isolation", test_devices_isolation);
  ADD_WITH ("connections/limits", tweak_connection_limits, test_connection_limits);
  ADD ("routing", test_routing);
  ADD ("body/limits", test_body_limits);
  ADD ("body/fields", test_body_fields);
  ADD ("channels/create", test_channels_create);
  ADD ("channels/idempotent", test_channels_idempotent);
  ADD ("channels/client-address", test_channels_client_address);
  ADD ("channels/patch", test_channels_patch);
  ADD ("channels/revoke", test_channels_revoke);
  ADD ("channels/list-since", test_channels_list_since);
  ADD ("channels/senders", test_channels_senders);
  ADD ("shares-timeline", test_shares_timeline);
  ADD ("blocks", test_blocks);
  ADD ("events", test_events);
  ADD ("held", test_held);
  ADD ("isolation", test_isolation);

  return g_test_run ();
}
