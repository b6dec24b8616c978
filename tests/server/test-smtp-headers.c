/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <string.h>

#include <gmime/gmime.h>

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

/* Every author, in every From field, for the blocklist; quoted local
 * parts that are dot-atoms read as such; @from stays the first. */
static void
test_authors (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PdHeaders) two = parse ("From: a@one.example, \"b.c\"@Two.Example\r\n"
                                     "From: Friends: d@three.example;\r\n"
                                     "From: \"not an atom\"@four.example\r\n\r\n",
                                     &error);
  g_autoptr (PdHeaders) quoted = parse ("From: \"x\"@spam.example\r\n\r\n", &error);

  g_assert_no_error (error);
  g_assert_cmpstr (two->from_address, ==, "a@one.example");
  g_assert_cmpstr (two->from->local_part, ==, "a");
  g_assert_cmpuint (two->authors->len, ==, 3);
  g_assert_cmpstr (((PosternMailbox *)g_ptr_array_index (two->authors, 1))->local_part, ==, "b.c");
  g_assert_cmpstr (((PosternMailbox *)g_ptr_array_index (two->authors, 1))->domain, ==, "two.example");
  g_assert_cmpstr (((PosternMailbox *)g_ptr_array_index (two->authors, 2))->domain, ==, "three.example");
  g_assert_nonnull (quoted->from);
  g_assert_cmpstr (quoted->from->local_part, ==, "x");
  g_assert_cmpuint (quoted->authors->len, ==, 1);
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

/* ---- pd_headers_parse against GMime's own message parser ---- */

/* The oracle: a GMimeMessage made of the same text, as pd-headers.c did
 * before it looked for the four fields itself. Control characters made
 * spaces, values stripped, empty ones NULL (what clean_text does to the
 * plain text generated below). */
typedef struct
{
  char *from_address;
  char *subject;
  char *message_id;
  guint n_received;
} Oracle;

static char *
stripped_or_null (const char *text)
{
  char *copy;

  if (text == NULL)
    return NULL;
  copy = g_strdup (text);
  for (char *p = copy; *p != '\0'; p++)
    if ((guchar)*p < 0x20 || *p == 0x7f)
      *p = ' ';
  g_strstrip (copy);
  if (*copy == '\0')
    g_clear_pointer (&copy, g_free);
  return copy;
}

static InternetAddressMailbox *
oracle_first_mailbox (InternetAddressList *list)
{
  for (int i = 0; list != NULL && i < internet_address_list_length (list); i++)
    {
      InternetAddress *address = internet_address_list_get_address (list, i);

      if (INTERNET_ADDRESS_IS_MAILBOX (address))
        return INTERNET_ADDRESS_MAILBOX (address);
      if (INTERNET_ADDRESS_IS_GROUP (address))
        {
          InternetAddressMailbox *member = oracle_first_mailbox (internet_address_group_get_members (INTERNET_ADDRESS_GROUP (address)));

          if (member != NULL)
            return member;
        }
    }
  return NULL;
}

static gboolean
oracle_parse (const char *text,
              Oracle *oracle)
{
  GMimeStream *stream = g_mime_stream_mem_new_with_buffer (text, strlen (text));
  GMimeParser *parser = g_mime_parser_new_with_stream (stream);
  GMimeMessage *message;
  GMimeHeaderList *list;
  InternetAddressMailbox *mailbox;

  g_mime_parser_set_format (parser, GMIME_FORMAT_MESSAGE);
  message = g_mime_parser_construct_message (parser, NULL);
  g_object_unref (parser);
  g_object_unref (stream);
  if (message == NULL)
    return FALSE;

  list = g_mime_object_get_header_list (GMIME_OBJECT (message));
  for (int i = 0; i < g_mime_header_list_get_count (list); i++)
    if (g_ascii_strcasecmp (g_mime_header_get_name (g_mime_header_list_get_header_at (list, i)), "Received") == 0)
      oracle->n_received++;
  mailbox = oracle_first_mailbox (g_mime_message_get_from (message));
  oracle->from_address = mailbox != NULL ? stripped_or_null (internet_address_mailbox_get_addr (mailbox)) : NULL;
  oracle->subject = stripped_or_null (g_mime_message_get_subject (message));
  oracle->message_id = stripped_or_null (g_mime_message_get_message_id (message));
  g_object_unref (message);
  return TRUE;
}

static void
oracle_clear (Oracle *oracle)
{
  g_free (oracle->from_address);
  g_free (oracle->subject);
  g_free (oracle->message_id);
}

static const char *
pick (GRand *rand,
      const char *const *choices,
      guint n)
{
  return choices[g_rand_int_range (rand, 0, (gint32)n)];
}

#define PICK(rand, array) pick (rand, array, G_N_ELEMENTS (array))

/* A value with some of its spaces turned into folds. */
static void
append_folded (GString *out,
               GRand *rand,
               const char *value)
{
  for (const char *p = value; *p != '\0'; p++)
    {
      if (*p == ' ' && g_rand_int_range (rand, 0, 3) == 0)
        g_string_append (out, g_rand_boolean (rand) ? "\r\n " : "\r\n\t");
      else
        g_string_append_c (out, *p);
    }
}

static char *
generate_header (GRand *rand)
{
  static const char *const names[] = {
    "From",
    "FROM",
    "from",
    "Subject",
    "SUBJECT",
    "Message-ID",
    "Message-Id",
    "Received",
    "received",
    "To",
    "Cc",
    "Date",
    "Reply-To",
    "Sender",
    "X-Mailer",
    "Content-Type",
    "MIME-Version",
  };
  static const char *const froms[] = {
    "a@x.test",
    "<b@y.test>",
    "\"Some Name\" <c@z.test>",
    "=?utf-8?b?w4lsaXNl?= <e@x.test>",
    "Team: a@x.test, b@y.test;",
    "Undisclosed recipients:;",
    "a@x.test, b@y.test",
    "Name <d@w.test> (a comment)",
    "=?iso-8859-1?q?J=F6rg?= <j@x.test>",
    "Jane.Doe+tag@Example.ORG",
    "\"Doe, Jane\" <jane@example.org>",
  };
  static const char *const subjects[] = {
    "hello",
    "=?UTF-8?Q?caf=C3=A9?= ouvert",
    "two  spaces inside",
    "=?utf-8?b?w6k=?=",
    "a =?utf-8?q?b?= =?utf-8?q?c?= d",
    "",
    "Re: [list] the =?ISO-8859-1?Q?r=E9union?= on Monday",
    "[ticket #42] done",
  };
  static const char *const ids[] = {
    "<1@x>",
    "<abc.def@example.org>",
    "<with-space@x> ",
    "<a@b> <c@d>",
    "<20261128.1.2@mail.example.com>",
  };
  static const char *const others[] = {
    "whatever",
    "text/plain; charset=utf-8",
    "1.0",
    "Sat, 28 Nov 2026 10:00:00 +0000",
    "x@y.test, z@w.test",
  };
  GString *out = g_string_new (NULL);
  guint n = (guint)g_rand_int_range (rand, 0, 9);

  for (guint i = 0; i < n; i++)
    {
      const char *name = PICK (rand, names);
      const char *value;

      if (g_ascii_strcasecmp (name, "From") == 0)
        value = PICK (rand, froms);
      else if (g_ascii_strcasecmp (name, "Subject") == 0)
        value = PICK (rand, subjects);
      else if (g_ascii_strcasecmp (name, "Message-ID") == 0)
        value = PICK (rand, ids);
      else if (g_ascii_strcasecmp (name, "Received") == 0)
        value = "from a.example by b.example with ESMTP id 1; Sat, 28 Nov 2026 10:00:00 +0000";
      else
        value = PICK (rand, others);

      g_string_append (out, name);
      /* The obsolete "Name :" form, now and then. */
      g_string_append (out, g_rand_int_range (rand, 0, 10) == 0 ? " :" : ":");
      g_string_append (out, g_rand_int_range (rand, 0, 8) == 0 ? "\t" : " ");
      append_folded (out, rand, value);
      g_string_append (out, "\r\n");
    }
  g_string_append (out, "\r\nThe body. From: not@a.header\r\n");
  return g_string_free (out, FALSE);
}

/* On 3000 generated header sections (fixed seed): the same four values as
 * GMime's message parser gives. */
static void
test_same_as_gmime (void)
{
  g_autoptr (GRand) rand = g_rand_new_with_seed (20261128);

  for (guint i = 0; i < 3000; i++)
    {
      g_autofree char *text = generate_header (rand);
      g_autoptr (PdHeaders) h = parse (text, NULL);
      Oracle oracle = { 0 };

      g_assert_true (oracle_parse (text, &oracle));
      if (g_strcmp0 (h->from_address, oracle.from_address) != 0 || g_strcmp0 (h->subject, oracle.subject) != 0 || g_strcmp0 (h->message_id, oracle.message_id) != 0 || h->n_received != oracle.n_received)
        g_error ("case %u differs from GMime's message parser:\n%s\nours: from=%s subject=%s id=%s received=%u\n"
                 "GMime: from=%s subject=%s id=%s received=%u",
                 i, text, h->from_address, h->subject, h->message_id, h->n_received,
                 oracle.from_address, oracle.subject, oracle.message_id, oracle.n_received);
      oracle_clear (&oracle);
    }
}

/* Where GMime makes no message of the header at all, the lines that are
 * fields still count here; lines that are no field are skipped. */
static void
test_malformed_lines (void)
{
  g_autoptr (PdHeaders) leading = parse (" stray continuation\r\nFrom: a@x.test\r\nReceived: x\r\n\r\n", NULL);
  g_autoptr (PdHeaders) control = parse ("Sub\x01ject: s\r\nFrom: b@y.test\r\n\r\n", NULL);
  g_autoptr (PdHeaders) nocolon = parse ("Subject: kept\r\nno colon on this line\r\nFrom: c@z.test\r\n\r\n", NULL);
  g_autoptr (PdHeaders) noend = parse ("Subject: no empty line\r\nFrom: d@w.test", NULL);

  g_assert_cmpstr (leading->from_address, ==, "a@x.test");
  g_assert_cmpuint (leading->n_received, ==, 1);
  g_assert_cmpstr (control->from_address, ==, "b@y.test");
  g_assert_null (control->subject);
  g_assert_cmpstr (nocolon->subject, ==, "kept");
  g_assert_cmpstr (nocolon->from_address, ==, "c@z.test");
  g_assert_cmpstr (noend->subject, ==, "no empty line");
  g_assert_cmpstr (noend->from_address, ==, "d@w.test");
}

int
main (int argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/postern/server/smtp-headers/fields", test_fields);
  g_test_add_func ("/postern/server/smtp-headers/group-and-absent", test_group_and_absent);
  g_test_add_func ("/postern/server/smtp-headers/authors", test_authors);
  g_test_add_func ("/postern/server/smtp-headers/subject-is-clean-utf8", test_subject_is_clean_utf8);
  g_test_add_func ("/postern/server/smtp-headers/long-subject-is-truncated", test_long_subject_is_truncated);
  g_test_add_func ("/postern/server/smtp-headers/header-limit", test_header_limit);
  g_test_add_func ("/postern/server/smtp-headers/empty-and-headerless", test_empty_and_headerless);
  g_test_add_func ("/postern/server/smtp-headers/same-as-gmime", test_same_as_gmime);
  g_test_add_func ("/postern/server/smtp-headers/malformed-lines", test_malformed_lines);

  return g_test_run ();
}
