/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <string.h>

#include "pd-headers.h"

static PdHeaders *
parse (const char *text,
       GError **error)
{
  return pd_headers_parse (text, strlen (text), 256 * 1024, error);
}

static void
test_fields (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PdHeaders) h = parse ("Received: from a by b; Sat, 28 Nov 2026 10:00:00 +0000\r\n"
                                   "received: from c\r\n by d; Sat, 28 Nov 2026 10:00:00 +0000\r\n"
                                   "From: =?UTF-8?B?w4lsaXNl?= <Elise@Shop.Example>\r\n"
                                   "Subject: =?UTF-8?Q?caf=C3=A9?=\r\n =?UTF-8?Q?_ouvert?=\r\n"
                                   "Message-ID: <abc@example.org>\r\n"
                                   "\r\n"
                                   "Received: in the body does not count\r\n",
                                   &error);

  g_assert_no_error (error);
  g_assert_cmpuint (h->n_received, ==, 2);
  g_assert_cmpstr (h->from_address, ==, "Elise@Shop.Example");
  g_assert_nonnull (h->from);
  g_assert_cmpstr (h->from->domain, ==, "shop.example");
  g_assert_cmpstr (h->subject, ==, "café ouvert");
  g_assert_cmpstr (h->message_id, ==, "abc@example.org");
}

static void
test_group_and_absent (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PdHeaders) group = parse ("From: Friends: a@one.example, b@two.example;\r\n\r\nx\r\n", &error);
  g_autoptr (PdHeaders) none = parse ("Subject: nothing else\r\n\r\nbody\r\n", &error);
  g_autoptr (PdHeaders) bad = parse ("From: not an address at all\r\n\r\n", &error);

  g_assert_no_error (error);
  g_assert_cmpstr (group->from_address, ==, "a@one.example");
  g_assert_null (none->from_address);
  g_assert_null (none->from);
  g_assert_null (none->message_id);
  g_assert_cmpuint (none->n_received, ==, 0);
  /* Whatever GMime makes of it, it is no mailbox the core accepts. */
  g_assert_null (bad->from);
}

static void
test_subject_is_clean_utf8 (void)
{
  g_autoptr (GError) error = NULL;
  /* Latin-1 octets, a control character and an encoded NUL. */
  g_autoptr (PdHeaders) h = parse ("Subject: caf\xe9 \x01 =?UTF-8?Q?a=00b?=\r\n\r\n", &error);

  g_assert_no_error (error);
  g_assert_nonnull (h->subject);
  g_assert_true (g_utf8_validate (h->subject, -1, NULL));
  for (const char *p = h->subject; *p != '\0'; p++)
    g_assert_cmpint ((guchar)*p, >=, 0x20);
}

static void
test_long_subject_is_truncated (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GString) text = g_string_new ("Subject: ");
  g_autoptr (PdHeaders) h = NULL;

  for (guint i = 0; i < 300; i++)
    g_string_append (text, "\xc3\xa9t\xc3\xa9 "); /* "été " */
  g_string_append (text, "\r\n\r\n");
  h = parse (text->str, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (strlen (h->subject), <=, POSTERN_EVENT_MAX_FIELD);
  g_assert_true (g_utf8_validate (h->subject, -1, NULL));
}

static void
test_header_limit (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GString) text = g_string_new (NULL);
  PdHeaders *h;

  for (guint i = 0; i < 100; i++)
    g_string_append (text, "X-Filler: 0123456789012345678901234567890123456789\r\n");
  g_string_append (text, "\r\nbody\r\n");
  h = pd_headers_parse (text->str, text->len, 1024, &error);
  g_assert_null (h);
  g_assert_error (error, PD_HEADERS_ERROR, PD_HEADERS_ERROR_TOO_BIG);
}

static void
test_empty_and_headerless (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PdHeaders) empty = pd_headers_parse ("", 0, 1024, &error);
  g_autoptr (PdHeaders) bodyonly = parse ("\r\njust a body\r\n", &error);

  g_assert_no_error (error);
  g_assert_cmpuint (empty->header_size, ==, 0);
  g_assert_cmpuint (bodyonly->header_size, ==, 2);
  g_assert_null (bodyonly->from);
}

int
main (int argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/postern/server/smtp-headers/fields", test_fields);
  g_test_add_func ("/postern/server/smtp-headers/group-and-absent", test_group_and_absent);
  g_test_add_func ("/postern/server/smtp-headers/subject-is-clean-utf8", test_subject_is_clean_utf8);
  g_test_add_func ("/postern/server/smtp-headers/long-subject-is-truncated", test_long_subject_is_truncated);
  g_test_add_func ("/postern/server/smtp-headers/header-limit", test_header_limit);
  g_test_add_func ("/postern/server/smtp-headers/empty-and-headerless", test_empty_and_headerless);

  return g_test_run ();
}
