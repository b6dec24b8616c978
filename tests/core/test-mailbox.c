/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <string.h>

#include "postern-core.h"

typedef struct
{
  const char *input;
  gssize length; /* -1: NUL-terminated */
  const char *local_part;
  const char *domain;
} ValidCase;

static const ValidCase valid_cases[] = {
  { "jane@example.org", -1, "jane", "example.org" },
  { "Jane.Doe@Example.ORG", -1, "Jane.Doe", "example.org" },
  { "jane+news@example.org", -1, "jane+news", "example.org" },
  { "jane@example.org.", -1, "jane", "example.org" },
  { "j@b\xc3\xbc"
    "cher.example",
    -1, "j", "xn--bcher-kva.example" },
  { "j@B\xc3\x9c"
    "CHER.example",
    -1, "j", "xn--bcher-kva.example" },
  { "j@XN--BCHER-KVA.example", -1, "j", "xn--bcher-kva.example" },
  { "o'brien@example.org", -1, "o'brien", "example.org" },
  { "a#b$c&d*e/f=g?h^i_j`k{l|m}n~o-p@example.org", -1, "a#b$c&d*e/f=g?h^i_j`k{l|m}n~o-p", "example.org" },
  { "j\xc3\xb6rg@example.org", -1, "j\xc3\xb6rg", "example.org" },
  { "x@a-b.c-d.example", -1, "x", "a-b.c-d.example" },
  { "x@123.example", -1, "x", "123.example" },
  { "jane@example.orgGARBAGE", 16, "jane", "example.org" },
  /* 64 octets of local part is the limit. */
  { "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa@example.org", -1,
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "example.org" },
};

typedef struct
{
  const char *name;
  const char *input;
  gssize length;
  const char *message; /* a substring of the error message */
} InvalidCase;

static const InvalidCase invalid_cases[] = {
  { "empty", "", -1, "empty" },
  { "null-sender", "<>", -1, "null sender" },
  { "angle-brackets", "<jane@example.org>", -1, "angle brackets" },
  { "no-at", "jane.example.org", -1, "no '@'" },
  { "empty-local", "@example.org", -1, "local part is empty" },
  { "empty-domain", "jane@", -1, "domain is empty" },
  { "root-only-domain", "jane@.", -1, "domain is empty" },
  { "two-trailing-dots", "jane@example.org..", -1, "empty label" },
  { "leading-dot-domain", "jane@.example.org", -1, "empty label" },
  { "double-dot-domain", "jane@example..org", -1, "empty label" },
  { "quoted", "\"jane doe\"@example.org", -1, "quoted" },
  { "quoted-at", "\"a@b\"@example.org", -1, "quoted" },
  { "backslash", "a\\b@example.org", -1, "quoted" },
  { "percent", "a%b@c.example", -1, "'%' relay" },
  { "bang", "a!b@c.example", -1, "'!' relay" },
  { "source-route", "@a,@b:u@d.example", -1, "source route" },
  { "source-route-one", "@a.example:u@d.example", -1, "source route" },
  { "ip-literal", "jane@[127.0.0.1]", -1, "IP address literals" },
  { "ipv6-literal", "jane@[IPv6:::1]", -1, "IP address literals" },
  { "bare-ip", "jane@127.0.0.1", -1, "IP addresses" },
  { "leading-dot", ".jane@example.org", -1, "starts with a dot" },
  { "trailing-dot", "jane.@example.org", -1, "ends with a dot" },
  { "double-dot", "ja..ne@example.org", -1, "consecutive dots" },
  { "two-ats", "a@b@example.org", -1, "contains '@'" },
  { "space-inside", "ja ne@example.org", -1, "white space" },
  { "leading-space", " jane@example.org", -1, "white space" },
  { "trailing-space", "jane@example.org ", -1, "white space" },
  { "tab", "jane@example.org\t", -1, "control" },
  { "crlf", "jane@example.org\r\n", -1, "control" },
  { "nbsp", "ja\xc2\xa0ne@example.org", -1, "white space" },
  { "nul-inside", "jane\0evil@example.org", 21, "NUL" },
  { "nul-in-domain", "jane@example.org\0.evil", 23, "NUL" },
  { "invalid-utf8", "j\xc3@example.org", -1, "UTF-8" },
  { "overlong-utf8", "j\xc0\xaf@example.org", -1, "UTF-8" },
  { "latin1", "j\xf6rg@example.org", -1, "UTF-8" },
  { "c1-control", "j\xc2\x85@example.org", -1, "control" },
  { "bidi-override", "j\xe2\x80\xae"
                     "gro@example.org",
    -1, "non-printable" },
  { "comma", "a,b@example.org", -1, "needs quoting" },
  { "paren-comment", "jane(x)@example.org", -1, "needs quoting" },
  { "single-label", "jane@localhost", -1, "single label" },
  { "underscore-domain", "jane@ex_ample.org", -1, "not allowed in a host name" },
  { "hyphen-start", "jane@-example.org", -1, "starts or ends with '-'" },
  { "hyphen-end", "jane@example-.org", -1, "starts or ends with '-'" },
  { "bad-a-label", "jane@xn--zz.example", -1, "A-label" },
  { "label-64", "j@aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.example", -1, "limit is 63" },
  { "local-65", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa@example.org", -1, "limit is 64" },
};

static void
test_valid (void)
{
  for (guint i = 0; i < G_N_ELEMENTS (valid_cases); i++)
    {
      const ValidCase *c = &valid_cases[i];
      g_autoptr (GError) error = NULL;
      g_autoptr (PosternMailbox) mailbox = NULL;

      g_test_message ("valid case %u: %s", i, c->input);
      mailbox = postern_mailbox_parse (c->input, c->length, &error);
      g_assert_no_error (error);
      g_assert_nonnull (mailbox);
      g_assert_cmpstr (mailbox->local_part, ==, c->local_part);
      g_assert_cmpstr (mailbox->domain, ==, c->domain);
    }
}

static void
test_invalid (void)
{
  for (guint i = 0; i < G_N_ELEMENTS (invalid_cases); i++)
    {
      const InvalidCase *c = &invalid_cases[i];
      g_autoptr (GError) error = NULL;
      g_autoptr (PosternMailbox) mailbox = NULL;

      g_test_message ("invalid case %s", c->name);
      mailbox = postern_mailbox_parse (c->input, c->length, &error);
      g_assert_null (mailbox);
      g_assert_error (error, POSTERN_CORE_ERROR, POSTERN_CORE_ERROR_INVALID_ADDRESS);
      if (strstr (error->message, c->message) == NULL)
        g_error ("case %s: message \"%s\" does not mention \"%s\"", c->name, error->message, c->message);
    }
}

static char *
make_address (gsize local_length,
              gsize total_length)
{
  GString *s = g_string_new (NULL);
  gsize domain_length = total_length - local_length - 1;
  gsize remaining;

  for (gsize i = 0; i < local_length; i++)
    g_string_append_c (s, 'l');
  g_string_append_c (s, '@');

  /* Labels of up to 63 octets, ending in ".org". */
  remaining = domain_length - 4;
  while (remaining > 0)
    {
      gsize label = MIN (remaining, 63);

      if (remaining - label == 1)
        label--; /* never leave a label of length 0 */
      for (gsize i = 0; i < label; i++)
        g_string_append_c (s, 'd');
      remaining -= label;
      if (remaining > 0)
        {
          g_string_append_c (s, '.');
          remaining--;
        }
    }
  g_string_append (s, ".org");

  g_assert_cmpuint (s->len, ==, total_length);
  return g_string_free (s, FALSE);
}

static void
test_lengths (void)
{
  g_autofree char *at_limit = make_address (64, 254);
  g_autofree char *over_limit = make_address (64, 255);
  g_autofree char *domain_over = make_address (1, 255);
  g_autoptr (PosternMailbox) ok = NULL;
  g_autoptr (PosternMailbox) too_long = NULL;
  g_autoptr (PosternMailbox) too_long_domain = NULL;
  g_autoptr (GError) error = NULL;

  ok = postern_mailbox_parse (at_limit, -1, &error);
  g_assert_no_error (error);
  g_assert_nonnull (ok);

  too_long = postern_mailbox_parse (over_limit, -1, &error);
  g_assert_null (too_long);
  g_assert_error (error, POSTERN_CORE_ERROR, POSTERN_CORE_ERROR_INVALID_ADDRESS);
  g_assert_nonnull (strstr (error->message, "limit is 254"));
  g_clear_error (&error);

  /* A 253-octet domain is allowed on its own, but not with a local part
   * that brings the whole past 254. */
  too_long_domain = postern_mailbox_parse (domain_over, -1, &error);
  g_assert_null (too_long_domain);
  g_assert_error (error, POSTERN_CORE_ERROR, POSTERN_CORE_ERROR_INVALID_ADDRESS);
}

static void
test_idn_length_counts_a_labels (void)
{
  /* 60 ü as U-label are 120 octets of UTF-8 but a longer A-label; the
   * limit applies to what goes on the wire. */
  GString *domain = g_string_new ("x@");
  g_autoptr (PosternMailbox) mailbox = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *text = NULL;

  for (guint i = 0; i < 60; i++)
    g_string_append (domain, "\xc3\xbc");
  g_string_append (domain, ".example");
  text = g_string_free (domain, FALSE);

  mailbox = postern_mailbox_parse (text, -1, &error);
  g_assert_null (mailbox);
  g_assert_error (error, POSTERN_CORE_ERROR, POSTERN_CORE_ERROR_INVALID_ADDRESS);
}

static void
test_new (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PosternMailbox) mailbox = postern_mailbox_new ("Jane", "Example.ORG.", &error);
  g_autoptr (PosternMailbox) bad = NULL;
  g_autofree char *text = NULL;

  g_assert_no_error (error);
  text = postern_mailbox_to_string (mailbox);
  g_assert_cmpstr (text, ==, "Jane@example.org");

  bad = postern_mailbox_new ("a@b", "example.org", &error);
  g_assert_null (bad);
  g_assert_error (error, POSTERN_CORE_ERROR, POSTERN_CORE_ERROR_INVALID_ADDRESS);
}

static void
test_equal (void)
{
  static const struct
  {
    const char *a;
    const char *b;
    gboolean equal;
  } cases[] = {
    { "jane@example.org", "JANE@EXAMPLE.ORG", TRUE },
    { "jane@example.org", "jane@example.org.", TRUE },
    { "j@b\xc3\xbc"
      "cher.example",
      "j@xn--bcher-kva.example", TRUE },
    { "jane@example.org", "jane+x@example.org", FALSE },
    { "jane@example.org", "jane@example.com", FALSE },
    { "j\xc3\xb6rg@example.org", "J\xc3\xb6RG@example.org", TRUE },
    /* Non-ASCII is not case folded. */
    { "j\xc3\xb6rg@example.org", "j\xc3\x96rg@example.org", FALSE },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (PosternMailbox) a = postern_mailbox_parse (cases[i].a, -1, NULL);
      g_autoptr (PosternMailbox) b = postern_mailbox_parse (cases[i].b, -1, NULL);

      g_assert_nonnull (a);
      g_assert_nonnull (b);
      g_assert_true (postern_mailbox_equal (a, b) == cases[i].equal);
      g_assert_true (postern_mailbox_equal (b, a) == cases[i].equal);
    }

  g_assert_true (postern_mailbox_equal (NULL, NULL));
}

static void
test_base_local_part (void)
{
  static const struct
  {
    const char *address;
    const char *base;
  } cases[] = {
    { "shop+news@example.org", "shop" },
    { "shop@example.org", "shop" },
    { "shop+a+b@example.org", "shop" },
    { "+shop@example.org", "+shop" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (PosternMailbox) mailbox = postern_mailbox_parse (cases[i].address, -1, NULL);
      g_autofree char *base = postern_mailbox_get_base_local_part (mailbox);

      g_assert_cmpstr (base, ==, cases[i].base);
    }
}

static void
test_domain_normalize (void)
{
  static const struct
  {
    const char *input;
    const char *output; /* NULL: refused */
  } cases[] = {
    { "Example.ORG", "example.org" },
    { "example.org.", "example.org" },
    { "b\xc3\xbc"
      "cher.example",
      "xn--bcher-kva.example" },
    { "ch.example.org", "ch.example.org" },
    { "localhost", NULL },
    { "", NULL },
    { ".", NULL },
    { "[192.0.2.1]", NULL },
    { "192.0.2.1", NULL },
    { "exa mple.org", NULL },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autofree char *domain = postern_domain_normalize (cases[i].input, &error);

      g_assert_cmpstr (domain, ==, cases[i].output);
      if (cases[i].output == NULL)
        g_assert_error (error, POSTERN_CORE_ERROR, POSTERN_CORE_ERROR_INVALID_ADDRESS);
      else
        g_assert_no_error (error);
    }
}

static void
test_boxed (void)
{
  g_autoptr (PosternMailbox) mailbox = postern_mailbox_parse ("jane@example.org", -1, NULL);
  g_autoptr (PosternMailbox) copy = g_boxed_copy (POSTERN_TYPE_MAILBOX, mailbox);

  g_assert_true (copy != mailbox);
  g_assert_true (postern_mailbox_equal (copy, mailbox));
}

int
main (int argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/postern/core/mailbox/valid", test_valid);
  g_test_add_func ("/postern/core/mailbox/invalid", test_invalid);
  g_test_add_func ("/postern/core/mailbox/lengths", test_lengths);
  g_test_add_func ("/postern/core/mailbox/idn-length", test_idn_length_counts_a_labels);
  g_test_add_func ("/postern/core/mailbox/new", test_new);
  g_test_add_func ("/postern/core/mailbox/equal", test_equal);
  g_test_add_func ("/postern/core/mailbox/base-local-part", test_base_local_part);
  g_test_add_func ("/postern/core/mailbox/domain-normalize", test_domain_normalize);
  g_test_add_func ("/postern/core/mailbox/boxed", test_boxed);

  return g_test_run ();
}
