/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <string.h>

#include "postern-client.h"

static GBytes *
bytes (const char *text)
{
  return g_bytes_new (text, strlen (text));
}

static void
test_problem_detail (void)
{
  g_autoptr (GBytes) body = bytes ("{\"type\":\"https://postern.invalid/problems/invalid-field\","
                                   "\"title\":\"Invalid field\",\"status\":400,"
                                   "\"detail\":\"kind: expected one of one-time, relationship, open\","
                                   "\"field\":\"kind\"}");
  g_autoptr (GError) error = postern_client_error_from_problem (400, "application/problem+json", body);

  g_assert_error (error, POSTERN_CLIENT_ERROR, POSTERN_CLIENT_ERROR_INVALID);
  g_assert_cmpstr (error->message, ==, "kind: expected one of one-time, relationship, open");
}

static void
test_status_codes (void)
{
  static const struct
  {
    guint status;
    PosternClientError code;
  } cases[] = {
    { 400, POSTERN_CLIENT_ERROR_INVALID },
    { 401, POSTERN_CLIENT_ERROR_AUTH },
    { 403, POSTERN_CLIENT_ERROR_AUTH },
    { 404, POSTERN_CLIENT_ERROR_NOT_FOUND },
    { 409, POSTERN_CLIENT_ERROR_CONFLICT },
    { 412, POSTERN_CLIENT_ERROR_CONFLICT },
    { 413, POSTERN_CLIENT_ERROR_INVALID },
    { 422, POSTERN_CLIENT_ERROR_INVALID },
    { 500, POSTERN_CLIENT_ERROR_FAILED },
    { 503, POSTERN_CLIENT_ERROR_OFFLINE },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GBytes) body = bytes ("{\"title\":\"Some title\",\"status\":1}");
      g_autoptr (GError) error = postern_client_error_from_problem (cases[i].status, "application/problem+json", body);

      g_assert_error (error, POSTERN_CLIENT_ERROR, (int)cases[i].code);
      /* no detail: the title */
      g_assert_cmpstr (error->message, ==, "Some title");
    }
}

static void
test_untrusted_bodies (void)
{
  g_autoptr (GError) no_body = postern_client_error_from_problem (412, NULL, NULL);
  g_autoptr (GBytes) html = bytes ("<html>Bad gateway</html>");
  g_autoptr (GError) html_error = postern_client_error_from_problem (502, "text/html", html);
  g_autoptr (GBytes) wrong_type = bytes ("{\"detail\":42,\"title\":[1]}");
  g_autoptr (GError) wrong_type_error = postern_client_error_from_problem (500, "application/json", wrong_type);
  g_autoptr (GBytes) control = bytes ("{\"detail\":\"line one\\nline two\\u001b[31m\"}");
  g_autoptr (GError) control_error = postern_client_error_from_problem (400, "application/problem+json", control);
  g_autoptr (GString) huge = g_string_new ("{\"detail\":\"");
  g_autoptr (GBytes) huge_bytes = NULL;
  g_autoptr (GError) huge_error = NULL;
  static const char invalid_utf8[] = "{\"detail\":\"\xff\xfe\"}";
  g_autoptr (GBytes) invalid = g_bytes_new (invalid_utf8, sizeof invalid_utf8 - 1);
  g_autoptr (GError) invalid_error = postern_client_error_from_problem (400, "application/json", invalid);

  g_assert_error (no_body, POSTERN_CLIENT_ERROR, POSTERN_CLIENT_ERROR_CONFLICT);
  g_assert_cmpstr (no_body->message, ==, "The server answered 412 Precondition Failed");

  g_assert_error (html_error, POSTERN_CLIENT_ERROR, POSTERN_CLIENT_ERROR_OFFLINE);
  g_assert_null (strstr (html_error->message, "<html>"));

  g_assert_error (wrong_type_error, POSTERN_CLIENT_ERROR, POSTERN_CLIENT_ERROR_FAILED);
  g_assert_cmpstr (wrong_type_error->message, ==, "The server answered 500 Internal Server Error");

  /* control characters never reach a terminal or a notification */
  g_assert_error (control_error, POSTERN_CLIENT_ERROR, POSTERN_CLIENT_ERROR_INVALID);
  for (const char *p = control_error->message; *p != '\0'; p++)
    g_assert_false (g_ascii_iscntrl (*p));

  for (guint i = 0; i < 5000; i++)
    g_string_append (huge, "é");
  g_string_append (huge, "\"}");
  huge_bytes = g_bytes_new (huge->str, huge->len);
  huge_error = postern_client_error_from_problem (400, "application/json", huge_bytes);
  g_assert_cmpuint (strlen (huge_error->message), <=, 1000);
  g_assert_true (g_utf8_validate (huge_error->message, -1, NULL));

  g_assert_error (invalid_error, POSTERN_CLIENT_ERROR, POSTERN_CLIENT_ERROR_INVALID);
  g_assert_true (g_utf8_validate (invalid_error->message, -1, NULL));
}

static void
test_fingerprint_format (void)
{
  static const guint8 der_data[] = { 0x30, 0x03, 0x02, 0x01, 0x01 };
  g_autoptr (GBytes) der = g_bytes_new_static (der_data, sizeof der_data);
  g_autofree char *fp = postern_fingerprint_for_der (der);
  g_autofree char *expected = NULL;
  g_autofree char *from_lower = NULL;
  g_autofree char *from_bare = NULL;
  g_autofree char *from_openssl = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *hex = g_compute_checksum_for_data (G_CHECKSUM_SHA256, der_data, sizeof der_data);
  g_autoptr (GString) colons = g_string_new (NULL);

  for (guint i = 0; i < 64; i += 2)
    {
      if (i > 0)
        g_string_append_c (colons, ':');
      g_string_append_c (colons, g_ascii_toupper (hex[i]));
      g_string_append_c (colons, g_ascii_toupper (hex[i + 1]));
    }
  g_assert_cmpstr (fp, ==, colons->str);
  g_assert_cmpuint (strlen (fp), ==, POSTERN_FINGERPRINT_LENGTH);

  {
    g_autofree char *lower = g_ascii_strdown (colons->str, -1);
    from_lower = postern_fingerprint_normalize (lower, &error);
  }
  g_assert_no_error (error);
  g_assert_cmpstr (from_lower, ==, fp);
  from_bare = postern_fingerprint_normalize (hex, &error);
  g_assert_cmpstr (from_bare, ==, fp);
  expected = g_strconcat ("SHA256 Fingerprint=", colons->str, NULL);
  from_openssl = postern_fingerprint_normalize (expected, &error);
  g_assert_cmpstr (from_openssl, ==, fp);
  g_assert_true (postern_fingerprint_equal (hex, fp));
  g_assert_false (postern_fingerprint_equal (hex, NULL));

  g_assert_null (postern_fingerprint_normalize ("AA:BB", &error));
  g_assert_error (error, POSTERN_CLIENT_ERROR, POSTERN_CLIENT_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_null (postern_fingerprint_normalize ("ZZ", &error));
  g_clear_error (&error);
  /* 33 bytes */
  {
    g_autofree char *too_long = g_strconcat (hex, "00", NULL);
    g_assert_null (postern_fingerprint_normalize (too_long, &error));
    g_clear_error (&error);
  }
  /* a half byte */
  {
    g_autofree char *odd = g_strndup (hex, 63);
    g_assert_null (postern_fingerprint_normalize (odd, &error));
    g_clear_error (&error);
  }
}

static void
test_pair_uri (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *server = NULL;
  g_autofree char *code = NULL;
  g_autofree char *fp = NULL;
  const char *hex = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
  g_autofree char *uri = g_strdup_printf ("postern://pair?server=https%%3A%%2F%%2Fpostern.example.org%%3A8443%%2F&code=ABCD-1234&fp=%s", hex);

  g_assert_true (postern_pair_uri_parse (uri, &server, &code, &fp, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (server, ==, "https://postern.example.org:8443");
  g_assert_cmpstr (code, ==, "ABCD-1234");
  g_assert_true (g_str_has_prefix (fp, "01:23:45:67:89:AB:CD:EF"));
  g_clear_pointer (&server, g_free);
  g_clear_pointer (&code, g_free);
  g_clear_pointer (&fp, g_free);

  /* no fingerprint: a CA-signed server */
  g_assert_true (postern_pair_uri_parse ("postern://pair?server=https://p.example&code=X", &server, &code, &fp, &error));
  g_assert_null (fp);

  g_assert_false (postern_pair_uri_parse ("https://pair?server=https://p.example&code=X", NULL, NULL, NULL, &error));
  g_clear_error (&error);
  g_assert_false (postern_pair_uri_parse ("postern://pair?code=X", NULL, NULL, NULL, &error));
  g_clear_error (&error);
  g_assert_false (postern_pair_uri_parse ("postern://pair?server=ftp://p.example&code=X", NULL, NULL, NULL, &error));
  g_clear_error (&error);
  g_assert_false (postern_pair_uri_parse ("postern://pair?server=https://p.example", NULL, NULL, NULL, &error));
  g_clear_error (&error);
  g_assert_false (postern_pair_uri_parse ("postern://pair?server=https://p.example&code=X&fp=12:34", NULL, NULL, NULL, &error));
  g_assert_error (error, POSTERN_CLIENT_ERROR, POSTERN_CLIENT_ERROR_INVALID);
}

static void
test_base_url (void)
{
  static const char *const good[] = {
    "https://postern.example.org",
    "https://postern.example.org:8443/",
    "http://127.0.0.1:8080",
    "http://[::1]:8080",
    "http://localhost:1",
  };
  static const char *const bad[] = {
    "http://postern.example.org",
    "ftp://x",
    "https://",
    "https://x/?a=b",
    "not a url",
    "https://user:pw@x.example",
  };

  for (guint i = 0; i < G_N_ELEMENTS (good); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (PosternApiClient) client = postern_api_client_new (good[i], NULL, NULL, &error);

      g_assert_no_error (error);
      g_assert_false (g_str_has_suffix (postern_api_client_get_base_url (client), "/"));
    }
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (PosternApiClient) client = postern_api_client_new (bad[i], NULL, NULL, &error);

      g_assert_null (client);
      g_assert_error (error, POSTERN_CLIENT_ERROR, POSTERN_CLIENT_ERROR_INVALID);
    }
}

static void
test_backoff (void)
{
  g_assert_cmpuint (postern_live_backoff_delay (0, 1000, 300000, 0.0), ==, 1000);
  g_assert_cmpuint (postern_live_backoff_delay (1, 1000, 300000, 0.0), ==, 2000);
  g_assert_cmpuint (postern_live_backoff_delay (3, 1000, 300000, 0.0), ==, 8000);
  g_assert_cmpuint (postern_live_backoff_delay (30, 1000, 300000, 0.0), ==, 300000);
  g_assert_cmpuint (postern_live_backoff_delay (200, 1000, 300000, 0.0), ==, 300000);
  g_assert_cmpuint (postern_live_backoff_delay (0, 1000, 300000, 1.0), ==, 1250);
  g_assert_cmpuint (postern_live_backoff_delay (0, 1000, 300000, -1.0), ==, 750);
  g_assert_cmpuint (postern_live_backoff_delay (2, 1000, 300000, 7.0), ==, 5000);
}

int
main (int argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/postern/client/client-error/problem-detail", test_problem_detail);
  g_test_add_func ("/postern/client/client-error/status-codes", test_status_codes);
  g_test_add_func ("/postern/client/client-error/untrusted-bodies", test_untrusted_bodies);
  g_test_add_func ("/postern/client/fingerprint/format", test_fingerprint_format);
  g_test_add_func ("/postern/client/fingerprint/pair-uri", test_pair_uri);
  g_test_add_func ("/postern/client/api-client/base-url", test_base_url);
  g_test_add_func ("/postern/client/live-connection/backoff", test_backoff);

  return g_test_run ();
}
