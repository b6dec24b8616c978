/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>

#include "pd-config.h"
#include "pd-delivery.h"
#include "pd-dsn.h"
#include "pd-forward.h"

static GBytes *
test_secret (void)
{
  return g_bytes_new_static ("0123456789abcdef0123456789abcdef", 32);
}

static PosternMailbox *
mailbox (const char *text)
{
  g_autoptr (GError) error = NULL;
  PosternMailbox *mb = postern_mailbox_parse (text, -1, &error);

  g_assert_no_error (error);
  return mb;
}

/* ---- bounce addresses ---- */

static void
test_bounce_round_trip (void)
{
  g_autoptr (GBytes) secret = test_secret ();
  g_autofree char *address = pd_forward_bounce_address (secret, "ch.test", 42, 1700000000);
  g_autoptr (PosternMailbox) mb = mailbox (address);
  g_autoptr (PosternMailbox) upper = NULL;
  g_autofree char *upper_text = g_ascii_strup (address, -1);
  gint64 id = 0, timestamp = 0;

  g_assert_true (g_str_has_prefix (address, "bounce+42."));
  g_assert_true (g_str_has_suffix (address, "@ch.test"));
  g_assert_cmpuint (strchr (address, '@') - address, <=, POSTERN_MAILBOX_MAX_LOCAL_PART);
  g_assert_true (pd_forward_parse_bounce (secret, mb, 1700000100, 3600, &id, &timestamp));
  g_assert_cmpint (id, ==, 42);
  g_assert_cmpint (timestamp, ==, 1700000000);

  /* Some MTAs fold case: still ours. */
  upper = mailbox (upper_text);
  g_assert_true (pd_forward_parse_bounce (secret, upper, 1700000100, 3600, &id, NULL));
}

static void
test_bounce_refuses_forgeries (void)
{
  g_autoptr (GBytes) secret = test_secret ();
  g_autoptr (GBytes) other = g_bytes_new_static ("another secret of enough length!", 32);
  g_autofree char *address = pd_forward_bounce_address (secret, "ch.test", 42, 1700000000);
  g_autoptr (PosternMailbox) mb = mailbox (address);
  const char *const forged[] = {
    "bounce@ch.test",
    "bounce+42@ch.test",
    "bounce+42.0.00000000000000000000@ch.test",
    "bounce+042.0.00000000000000000000@ch.test",
    "other+42.1.00000000000000000000@ch.test",
    "bounce+x.y.z@ch.test",
  };
  g_autofree char *other_id = g_strdup (address);
  char *dot;

  /* Another secret, too old, from the future. */
  g_assert_false (pd_forward_parse_bounce (other, mb, 1700000100, 3600, NULL, NULL));
  g_assert_false (pd_forward_parse_bounce (secret, mb, 1700000000 + 3601, 3600, NULL, NULL));
  g_assert_false (pd_forward_parse_bounce (secret, mb, 1700000000 - 3600, 3600, NULL, NULL));

  for (guint i = 0; i < G_N_ELEMENTS (forged); i++)
    {
      g_autoptr (PosternMailbox) f = mailbox (forged[i]);

      g_assert_false (pd_forward_parse_bounce (secret, f, 1700000100, 3600, NULL, NULL));
    }

  /* The signature covers the id: change it and it fails. */
  dot = strchr (other_id, '.');
  dot[-1] = '3';
  {
    g_autoptr (PosternMailbox) f = mailbox (other_id);

    g_assert_false (pd_forward_parse_bounce (secret, f, 1700000100, 3600, NULL, NULL));
  }
}

static void
test_secret_file (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("postern-secret-XXXXXX", &error);
  g_autofree char *path = g_build_filename (dir, "bounce.secret", NULL);
  g_autoptr (GBytes) first = NULL;
  g_autoptr (GBytes) again = NULL;
  g_autoptr (GBytes) refused = NULL;
  struct stat st;

  g_assert_no_error (error);
  first = pd_forward_load_secret (path, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_bytes_get_size (first), ==, PD_BOUNCE_SECRET_SIZE);
  g_assert_cmpint (g_stat (path, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, 0600);

  /* Made once, then read back. */
  again = pd_forward_load_secret (path, &error);
  g_assert_no_error (error);
  g_assert_true (g_bytes_equal (first, again));

  /* Readable by others: refused. */
  g_assert_cmpint (g_chmod (path, 0644), ==, 0);
  refused = pd_forward_load_secret (path, &error);
  g_assert_error (error, PD_FORWARD_ERROR, PD_FORWARD_ERROR_SECRET);
  g_assert_null (refused);

  g_unlink (path);
  g_rmdir (dir);
}

/* ---- forwarded message ---- */

static void
test_headers_plain_label (void)
{
  g_autofree char *headers = pd_forward_format_headers ("Recruiter", "k7q2@ch.test", POSTERN_VERDICT_UNEXPECTED);

  g_assert_cmpstr (headers, ==, "X-Postern-Channel: Recruiter\r\nX-Postern-Verdict: unexpected\r\n");
}

static void
test_headers_encoded_label (void)
{
  g_autofree char *headers = pd_forward_format_headers ("Récruiter — Jane", "k7q2@ch.test", POSTERN_VERDICT_EXPECTED);

  g_assert_true (g_str_has_prefix (headers, "X-Postern-Channel: =?"));
  g_assert_nonnull (strstr (headers, "?="));
  for (const char *p = headers; *p != '\0'; p++)
    g_assert_true ((guchar)*p < 128);
  g_assert_true (g_str_has_suffix (headers, "\r\nX-Postern-Verdict: expected\r\n"));
}

static void
test_headers_no_injection (void)
{
  g_autofree char *headers = pd_forward_format_headers ("Evil\r\nBcc: victim@example.org\nX: y", "k7q2@ch.test", POSTERN_VERDICT_ACCEPTED);
  g_auto (GStrv) lines = g_strsplit (headers, "\r\n", -1);

  /* Exactly two fields, no line that starts a third. */
  g_assert_cmpuint (g_strv_length (lines), ==, 3);
  g_assert_true (g_str_has_prefix (lines[0], "X-Postern-Channel: Evil"));
  g_assert_true (g_str_has_prefix (lines[1], "X-Postern-Verdict: "));
  g_assert_cmpstr (lines[2], ==, "");
  g_assert_null (strchr (lines[0], '\n'));
}

static void
test_headers_long_label_folds (void)
{
  g_autoptr (GString) label = g_string_new (NULL);
  g_autofree char *headers = NULL;
  g_auto (GStrv) lines = NULL;

  for (guint i = 0; i < 40; i++)
    g_string_append (label, "word ");
  headers = pd_forward_format_headers (label->str, "k7q2@ch.test", POSTERN_VERDICT_ACCEPTED);
  lines = g_strsplit (headers, "\r\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    {
      g_assert_cmpuint (strlen (lines[i]), <=, 998);
      if (i > 0 && lines[i][0] != '\0' && !g_str_has_prefix (lines[i], "X-Postern-Verdict"))
        g_assert_true (lines[i][0] == ' ' || lines[i][0] == '\t');
    }
}

static void
test_headers_empty_label_uses_address (void)
{
  g_autofree char *headers = pd_forward_format_headers ("", "k7q2@ch.test", POSTERN_VERDICT_HELD);

  g_assert_cmpstr (headers, ==, "X-Postern-Channel: k7q2@ch.test\r\nX-Postern-Verdict: held\r\n");
}

static void
test_build_message_is_byte_exact (void)
{
  static const char stored[] = "Received: from a\r\nDKIM-Signature: v=1; b=x\r\nSubject: s\r\n\r\n.body\r\n\x80\xff\r\n";
  g_autoptr (GBytes) in = g_bytes_new_static (stored, sizeof stored - 1);
  g_autoptr (GBytes) out = pd_forward_build_message (in, "X-A: b\r\n");
  gsize size;
  const char *data = g_bytes_get_data (out, &size);

  g_assert_cmpuint (size, ==, strlen ("X-A: b\r\n") + sizeof stored - 1);
  g_assert_cmpmem (data, 8, "X-A: b\r\n", 8);
  g_assert_cmpmem (data + 8, size - 8, stored, sizeof stored - 1);
}

static void
test_header_section (void)
{
  static const char message[] = "A: 1\r\nB: 2\r\n folded\r\n\r\nbody\r\n\r\nmore\r\n";
  g_autoptr (GBytes) in = g_bytes_new_static (message, sizeof message - 1);
  g_autoptr (GBytes) section = pd_forward_get_header_section (in, 1000);
  g_autoptr (GBytes) cut = pd_forward_get_header_section (in, 10);
  gsize size;
  const char *data = g_bytes_get_data (section, &size);

  g_assert_cmpmem (data, size, "A: 1\r\nB: 2\r\n folded\r\n\r\n", 23);
  /* Cut at a line end, never inside a line. */
  data = g_bytes_get_data (cut, &size);
  g_assert_cmpmem (data, size, "A: 1\r\n", 6);
}

/* ---- DSN ---- */

static const char original[] = "Received: from client.test\r\n\tby mx.test (Postern)\r\n"
                               "From: Bob <bob@shop.example>\r\nSubject: Hello\r\n"
                               "Message-ID: <m1@shop.example>\r\n\r\nSecret body text\r\n";

static void
test_dsn_build (void)
{
  g_autoptr (GBytes) message = g_bytes_new_static (original, sizeof original - 1);
  g_autoptr (GBytes) dsn = NULL;
  g_autofree char *text = NULL;
  PdDsnReport report = {
    .reporting_mta = "mx.test",
    .from_domain = "ch.test",
    .original_sender = "bob@shop.example",
    .final_recipient = "k7q2@ch.test",
    .arrival_date = 1700000000,
    .last_attempt_date = 1700000100,
    .status = "5.1.1",
    .reply_code = 550,
    .reason = "the channel owner's mail server refused the message (550 5.1.1)",
    .original = message,
  };
  const char *boundary;
  g_autofree char *closing = NULL;

  dsn = pd_dsn_build (&report);
  text = g_strndup (g_bytes_get_data (dsn, NULL), g_bytes_get_size (dsn));
  g_assert_nonnull (strstr (text, "\r\nTo: <bob@shop.example>\r\n"));
  g_assert_nonnull (strstr (text, "From: Mail Delivery System <MAILER-DAEMON@ch.test>\r\n"));
  g_assert_nonnull (strstr (text, "Auto-Submitted: auto-replied\r\n"));
  g_assert_nonnull (strstr (text, "Content-Type: multipart/report; report-type=delivery-status;"));
  g_assert_nonnull (strstr (text, "Content-Type: message/delivery-status\r\n"));
  g_assert_nonnull (strstr (text, "Reporting-MTA: dns; mx.test\r\n"));
  g_assert_nonnull (strstr (text, "Arrival-Date: Tue, 14 Nov 2023 22:13:20 +0000\r\n"));
  g_assert_nonnull (strstr (text, "\r\n\r\nFinal-Recipient: rfc822; k7q2@ch.test\r\nAction: failed\r\nStatus: 5.1.1\r\n"));
  g_assert_nonnull (strstr (text, "Diagnostic-Code: smtp; 550 5.1.1\r\n"));
  g_assert_nonnull (strstr (text, "Content-Type: text/rfc822-headers\r\n"));
  g_assert_nonnull (strstr (text, "Subject: Hello\r\nMessage-ID: <m1@shop.example>\r\n"));
  /* Headers only: the body stays private. */
  g_assert_null (strstr (text, "Secret body text"));
  /* Strict CRLF, and the last part closed. */
  for (const char *p = text; *p != '\0'; p++)
    if (*p == '\n')
      g_assert_true (p > text && p[-1] == '\r');
  boundary = strstr (text, "boundary=\"") + strlen ("boundary=\"");
  closing = g_strdup_printf ("\r\n--%.*s--\r\n", (int)(strchr (boundary, '"') - boundary), boundary);
  g_assert_true (g_str_has_suffix (text, closing));
}

static void
test_dsn_suppression (void)
{
  static const char automatic[] = "From: a@b.example\r\nAuto-Submitted: auto-replied\r\n\r\nx\r\n";
  static const char manual[] = "From: a@b.example\r\nAuto-Submitted: no\r\n\r\nx\r\n";
  static const char report[] = "From: a@b.example\r\nContent-Type: Multipart/Report;\r\n report-type=delivery-status\r\n\r\nx\r\n";
  static const char folded[] = "From: a@b.example\r\nAuto-Submitted:\r\n auto-generated\r\n\r\nx\r\n";
  const char *const ours[] = { "ch.test", NULL };
  g_autoptr (GBytes) a = g_bytes_new_static (automatic, sizeof automatic - 1);
  g_autoptr (GBytes) m = g_bytes_new_static (manual, sizeof manual - 1);
  g_autoptr (GBytes) r = g_bytes_new_static (report, sizeof report - 1);
  g_autoptr (GBytes) f = g_bytes_new_static (folded, sizeof folded - 1);

  g_assert_null (pd_dsn_suppress_reason ("bob@shop.example", m, ours));
  g_assert_nonnull (pd_dsn_suppress_reason ("", m, ours));
  g_assert_nonnull (pd_dsn_suppress_reason ("MAILER-DAEMON@shop.example", m, ours));
  g_assert_nonnull (pd_dsn_suppress_reason ("bounce+1.2.3@ch.test", m, ours));
  g_assert_nonnull (pd_dsn_suppress_reason ("bob@shop.example", a, ours));
  g_assert_nonnull (pd_dsn_suppress_reason ("bob@shop.example", r, ours));
  g_assert_nonnull (pd_dsn_suppress_reason ("bob@shop.example", f, ours));
}

/* ---- configuration ---- */

static PdDeliveryConfig *
load_delivery (const char *group,
               GError **error)
{
  g_autofree char *text = g_strdup_printf ("[server]\nstate_dir=/var/lib/postern\ndomains=ch.test;other.test\nhostname=mx.test\n%s", group);
  g_autoptr (PdConfig) config = pd_config_load_from_data (text, -1, error);

  g_assert_nonnull (config);
  return pd_delivery_config_load (config, error);
}

static void
test_config_defaults (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PdDeliveryConfig) config = load_delivery ("", &error);

  g_assert_no_error (error);
  g_assert_null (config->smarthost);
  g_assert_cmpuint (config->port, ==, 25);
  g_assert_cmpint (config->tls, ==, PD_DELIVERY_TLS_REQUIRED);
  g_assert_cmpint (config->max_lifetime, ==, 5 * 24 * 3600);
  g_assert_cmpstr (config->bounce_domain, ==, "ch.test");
  g_assert_cmpstr (config->bounce_secret_file, ==, "/var/lib/postern/bounce.secret");
  g_assert_cmpstr (config->helo, ==, "mx.test");
  g_assert_false (config->paused);
}

static void
test_config_values (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PdDeliveryConfig) config = load_delivery ("[delivery]\nsmarthost=smtp.example.org\nport=587\ntls=opportunistic\n"
                                                       "max_lifetime=2d\nretry_base=5m\nretry_max=4h\nbounce_domain=Other.Test\n",
                                                       &error);

  g_assert_no_error (error);
  g_assert_cmpstr (config->smarthost, ==, "smtp.example.org");
  g_assert_cmpuint (config->port, ==, 587);
  g_assert_cmpint (config->tls, ==, PD_DELIVERY_TLS_OPPORTUNISTIC);
  g_assert_cmpint (config->max_lifetime, ==, 2 * 24 * 3600);
  g_assert_cmpint (config->retry_base, ==, 300);
  g_assert_cmpint (config->retry_max, ==, 4 * 3600);
  g_assert_cmpstr (config->bounce_domain, ==, "other.test");
}

static void
test_config_refusals (void)
{
  const char *const bad[] = {
    "[delivery]\ntypo=1\n",
    "[delivery]\ntls=sometimes\n",
    "[delivery]\nport=0\n",
    "[delivery]\nmax_lifetime=5 days\n",
    "[delivery]\nretry_base=1h\nretry_max=1m\n",
    "[delivery]\nbounce_domain=elsewhere.example\n",
    "[delivery]\nsmarthost=a/b\n",
    "[delivery]\nusername=u\n",
    "[delivery]\nca_file=relative.pem\n",
    "[delivery]\npaused=maybe\n",
  };

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (PdDeliveryConfig) config = load_delivery (bad[i], &error);

      g_assert_null (config);
      g_assert_error (error, PD_DELIVERY_ERROR, PD_DELIVERY_ERROR_CONFIG);
    }
}

static void
test_config_password_file (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("postern-password-XXXXXX", &error);
  g_autofree char *path = g_build_filename (dir, "password", NULL);
  g_autofree char *remote = NULL;
  g_autofree char *local = NULL;
  g_autoptr (PdDeliveryConfig) config = NULL;

  g_assert_no_error (error);
  g_assert_true (g_file_set_contents_full (path, "p4ss word\nignored\n", -1, G_FILE_SET_CONTENTS_NONE, 0600, &error));
  remote = g_strdup_printf ("[delivery]\nsmarthost=smtp.example.org\nusername=u\npassword_file=%s\n", path);
  config = load_delivery (remote, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (config->password, ==, "p4ss word");
  g_clear_pointer (&config, pd_delivery_config_free);

  /* No password in clear over the network... */
  local = g_strdup_printf ("[delivery]\nsmarthost=smtp.example.org\ntls=opportunistic\nusername=u\npassword_file=%s\n", path);
  config = load_delivery (local, &error);
  g_assert_error (error, PD_DELIVERY_ERROR, PD_DELIVERY_ERROR_CONFIG);
  g_clear_error (&error);

  /* ...and no password file others can read. */
  g_assert_cmpint (g_chmod (path, 0640), ==, 0);
  config = load_delivery (remote, &error);
  g_assert_null (config);
  g_assert_error (error, PD_DELIVERY_ERROR, PD_DELIVERY_ERROR_CONFIG);

  g_unlink (path);
  g_rmdir (dir);
}

static void
test_durations (void)
{
  gint64 s = 0;

  g_assert_true (pd_delivery_parse_duration ("300", &s) && s == 300);
  g_assert_true (pd_delivery_parse_duration ("30s", &s) && s == 30);
  g_assert_true (pd_delivery_parse_duration ("5m", &s) && s == 300);
  g_assert_true (pd_delivery_parse_duration ("4h", &s) && s == 14400);
  g_assert_true (pd_delivery_parse_duration ("5d", &s) && s == 432000);
  g_assert_false (pd_delivery_parse_duration ("", &s));
  g_assert_false (pd_delivery_parse_duration ("-5", &s));
  g_assert_false (pd_delivery_parse_duration ("5w", &s));
  g_assert_false (pd_delivery_parse_duration ("5mm", &s));
  g_assert_false (pd_delivery_parse_duration ("99999999999", &s));
}

int
main (int argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/postern/server/delivery-forward/bounce-round-trip", test_bounce_round_trip);
  g_test_add_func ("/postern/server/delivery-forward/bounce-refuses-forgeries", test_bounce_refuses_forgeries);
  g_test_add_func ("/postern/server/delivery-forward/secret-file", test_secret_file);
  g_test_add_func ("/postern/server/delivery-forward/headers-plain-label", test_headers_plain_label);
  g_test_add_func ("/postern/server/delivery-forward/headers-encoded-label", test_headers_encoded_label);
  g_test_add_func ("/postern/server/delivery-forward/headers-no-injection", test_headers_no_injection);
  g_test_add_func ("/postern/server/delivery-forward/headers-long-label-folds", test_headers_long_label_folds);
  g_test_add_func ("/postern/server/delivery-forward/headers-empty-label-uses-address", test_headers_empty_label_uses_address);
  g_test_add_func ("/postern/server/delivery-forward/build-message-is-byte-exact", test_build_message_is_byte_exact);
  g_test_add_func ("/postern/server/delivery-forward/header-section", test_header_section);
  g_test_add_func ("/postern/server/delivery-forward/dsn-build", test_dsn_build);
  g_test_add_func ("/postern/server/delivery-forward/dsn-suppression", test_dsn_suppression);
  g_test_add_func ("/postern/server/delivery-forward/config-defaults", test_config_defaults);
  g_test_add_func ("/postern/server/delivery-forward/config-values", test_config_values);
  g_test_add_func ("/postern/server/delivery-forward/config-refusals", test_config_refusals);
  g_test_add_func ("/postern/server/delivery-forward/config-password-file", test_config_password_file);
  g_test_add_func ("/postern/server/delivery-forward/durations", test_durations);

  return g_test_run ();
}
