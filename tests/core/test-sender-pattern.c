/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <string.h>

#include "postern-core.h"

static void
test_parse (void)
{
  static const struct
  {
    const char *input;
    PosternSenderPatternKind kind;
    const char *normalized;
  } cases[] = {
    { "jane@example.org", POSTERN_SENDER_PATTERN_ADDRESS, "jane@example.org" },
    { "  Jane@EXAMPLE.org \n", POSTERN_SENDER_PATTERN_ADDRESS, "Jane@example.org" },
    { "jane+news@example.org", POSTERN_SENDER_PATTERN_ADDRESS, "jane+news@example.org" },
    { "@example.org", POSTERN_SENDER_PATTERN_DOMAIN, "@example.org" },
    { "@Example.ORG.", POSTERN_SENDER_PATTERN_DOMAIN, "@example.org" },
    { "@.example.org", POSTERN_SENDER_PATTERN_SUBDOMAINS, "@.example.org" },
    { "@.b\xc3\xbc"
      "cher.example",
      POSTERN_SENDER_PATTERN_SUBDOMAINS, "@.xn--bcher-kva.example" },
    { "@.xyz", POSTERN_SENDER_PATTERN_SUBDOMAINS, "@.xyz" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (PosternSenderPattern) pattern = postern_sender_pattern_parse (cases[i].input, &error);
      g_autoptr (PosternSenderPattern) again = NULL;
      g_autofree char *text = NULL;

      g_test_message ("case %u: %s", i, cases[i].input);
      g_assert_no_error (error);
      g_assert_cmpint (postern_sender_pattern_get_kind (pattern), ==, cases[i].kind);
      text = postern_sender_pattern_to_string (pattern);
      g_assert_cmpstr (text, ==, cases[i].normalized);

      /* The text form parses back to an equal pattern. */
      again = postern_sender_pattern_parse (text, &error);
      g_assert_no_error (error);
      g_assert_true (postern_sender_pattern_equal (pattern, again));
    }
}

static void
test_parse_invalid (void)
{
  static const char *const cases[] = {
    "",
    "   ",
    "@",
    "@.",
    "@..example.org",
    "@xyz",
    "jane@localhost",
    "jane",
    "@@example.org",
    "\"jane\"@example.org",
    "a%b@example.org",
    "a!b@example.org",
    "@a,@b:u@d.example",
    "@[127.0.0.1]",
    "jane@[127.0.0.1]",
    "*@example.org",
    "@*.example.org",
    "j\xc3@example.org",
    "jane @example.org",
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (PosternSenderPattern) pattern = postern_sender_pattern_parse (cases[i], &error);

      g_test_message ("case %u", i);
      g_assert_null (pattern);
      g_assert_error (error, POSTERN_CORE_ERROR, POSTERN_CORE_ERROR_INVALID_PATTERN);
    }
}

static void
test_matches (void)
{
  static const struct
  {
    const char *pattern;
    const char *address;
    gboolean matches;
  } cases[] = {
    { "jane@example.org", "jane@example.org", TRUE },
    { "jane@example.org", "JANE@Example.Org", TRUE },
    { "Jane@example.org", "jane@example.org", TRUE },
    { "jane@example.org", "jane@example.org.", TRUE },
    { "jane@example.org", "john@example.org", FALSE },
    { "jane@example.org", "jane@sub.example.org", FALSE },
    { "jane@example.org", "jane@example.org.evil", FALSE },
    /* An untagged pattern matches any tag; a tagged one only its own. */
    { "jane@example.org", "jane+news@example.org", TRUE },
    { "jane@example.org", "Jane+News@example.org", TRUE },
    { "jane+news@example.org", "jane+news@example.org", TRUE },
    { "jane+news@example.org", "JANE+NEWS@example.org", TRUE },
    { "jane+news@example.org", "jane@example.org", FALSE },
    { "jane+news@example.org", "jane+spam@example.org", FALSE },
    { "jane@example.org", "janet@example.org", FALSE },
    { "jane@example.org", "jan@example.org", FALSE },
    { "@example.org", "anyone@example.org", TRUE },
    { "@example.org", "anyone@EXAMPLE.ORG", TRUE },
    { "@example.org", "anyone@mail.example.org", FALSE },
    { "@example.org", "anyone@badexample.org", FALSE },
    { "@.example.org", "anyone@example.org", TRUE },
    { "@.example.org", "anyone@mail.example.org", TRUE },
    { "@.example.org", "anyone@a.b.example.org", TRUE },
    { "@.example.org", "anyone@badexample.org", FALSE },
    { "@.example.org", "anyone@example.org.evil.net", FALSE },
    { "@.example.org", "anyone@org.example", FALSE },
    { "@.b\xc3\xbc"
      "cher.example",
      "x@shop.xn--bcher-kva.example", TRUE },
    { "@b\xc3\xbc"
      "cher.example",
      "x@B\xc3\x9c"
      "CHER.example",
      TRUE },
    { "@.xyz", "spam@anything.xyz", TRUE },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (PosternSenderPattern) pattern = postern_sender_pattern_parse (cases[i].pattern, &error);
      g_autoptr (PosternMailbox) mailbox = NULL;

      g_assert_no_error (error);
      mailbox = postern_mailbox_parse (cases[i].address, -1, &error);
      g_assert_no_error (error);

      if (postern_sender_pattern_matches (pattern, mailbox) != cases[i].matches)
        g_error ("%s should%s match %s", cases[i].pattern, cases[i].matches ? "" : " not", cases[i].address);
    }
}

static void
test_null_sender (void)
{
  g_autoptr (PosternSenderPattern) pattern = postern_sender_pattern_parse ("@.example.org", NULL);

  g_assert_false (postern_sender_pattern_matches (pattern, NULL));
}

static void
test_equal (void)
{
  g_autoptr (PosternSenderPattern) a = postern_sender_pattern_parse ("Jane@example.org", NULL);
  g_autoptr (PosternSenderPattern) b = postern_sender_pattern_parse ("jane@EXAMPLE.org", NULL);
  g_autoptr (PosternSenderPattern) domain = postern_sender_pattern_parse ("@example.org", NULL);
  g_autoptr (PosternSenderPattern) subdomains = postern_sender_pattern_parse ("@.example.org", NULL);
  g_autoptr (PosternSenderPattern) copy = postern_sender_pattern_copy (subdomains);

  g_assert_true (postern_sender_pattern_equal (a, b));
  g_assert_false (postern_sender_pattern_equal (a, domain));
  g_assert_false (postern_sender_pattern_equal (domain, subdomains));
  g_assert_true (postern_sender_pattern_equal (copy, subdomains));
  g_assert_cmpstr (postern_sender_pattern_get_domain (copy), ==, "example.org");
  g_assert_null (postern_sender_pattern_get_local_part (copy));
  g_assert_cmpstr (postern_sender_pattern_get_local_part (a), ==, "Jane");
}

static void
test_new_for_mailbox (void)
{
  g_autoptr (PosternMailbox) mailbox = postern_mailbox_parse ("jane+x@example.org", -1, NULL);
  g_autoptr (PosternSenderPattern) pattern = postern_sender_pattern_new_for_mailbox (mailbox);
  g_autofree char *text = postern_sender_pattern_to_string (pattern);

  g_assert_cmpint (postern_sender_pattern_get_kind (pattern), ==, POSTERN_SENDER_PATTERN_ADDRESS);
  g_assert_cmpstr (text, ==, "jane+x@example.org");
  g_assert_true (postern_sender_pattern_matches (pattern, mailbox));
}

int
main (int argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/postern/core/sender-pattern/parse", test_parse);
  g_test_add_func ("/postern/core/sender-pattern/parse-invalid", test_parse_invalid);
  g_test_add_func ("/postern/core/sender-pattern/matches", test_matches);
  g_test_add_func ("/postern/core/sender-pattern/null-sender", test_null_sender);
  g_test_add_func ("/postern/core/sender-pattern/equal", test_equal);
  g_test_add_func ("/postern/core/sender-pattern/new-for-mailbox", test_new_for_mailbox);

  return g_test_run ();
}
