/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <string.h>

#include "postern-core.h"

/*
 * libFuzzer target for the two parsers that see addresses from strangers:
 * postern_mailbox_parse() (with the raw length, so embedded NULs reach it)
 * and postern_sender_pattern_parse(). Beyond "no crash", it checks the
 * promises the rest of Postern relies on: what parses is bounded, clean
 * UTF-8 without controls, and normalised (parsing the output again gives
 * the same thing).
 */

int LLVMFuzzerTestOneInput (const guint8 *data, size_t size);

static void
check_mailbox (const PosternMailbox *mailbox)
{
  g_autofree char *text = postern_mailbox_to_string (mailbox);
  g_autoptr (PosternMailbox) again = NULL;
  g_autoptr (PosternSenderPattern) pattern = NULL;

  if (strlen (mailbox->local_part) > POSTERN_MAILBOX_MAX_LOCAL_PART || strlen (text) > POSTERN_MAILBOX_MAX_LENGTH || !g_utf8_validate (text, -1, NULL) || strpbrk (text, "\"\\%! \t\r\n[]") != NULL)
    g_error ("parsed address breaks its promises: %s", text);

  for (const char *p = mailbox->domain; *p != '\0'; p++)
    {
      if (!(g_ascii_islower (*p) || g_ascii_isdigit (*p) || *p == '-' || *p == '.'))
        g_error ("domain not normalised: %s", mailbox->domain);
    }

  again = postern_mailbox_parse (text, -1, NULL);
  if (again == NULL || !postern_mailbox_equal (mailbox, again) || strcmp (again->local_part, mailbox->local_part) != 0)
    g_error ("address does not round-trip: %s", text);

  pattern = postern_sender_pattern_new_for_mailbox (mailbox);
  if (!postern_sender_pattern_matches (pattern, mailbox))
    g_error ("address does not match its own pattern: %s", text);
}

static void
check_pattern (const PosternSenderPattern *pattern)
{
  g_autofree char *text = postern_sender_pattern_to_string (pattern);
  g_autoptr (PosternSenderPattern) again = postern_sender_pattern_parse (text, NULL);

  if (again == NULL || !postern_sender_pattern_equal (pattern, again))
    g_error ("pattern does not round-trip: %s", text);
}

int
LLVMFuzzerTestOneInput (const guint8 *data,
                        size_t size)
{
  g_autoptr (PosternMailbox) mailbox = NULL;
  g_autoptr (PosternSenderPattern) pattern = NULL;
  g_autofree char *text = NULL;

  mailbox = postern_mailbox_parse ((const char *)data, (gssize)size, NULL);
  if (mailbox != NULL)
    check_mailbox (mailbox);

  /* The pattern parser takes a C string: give it the input up to the
   * first NUL, as a caller with a C string would. */
  text = g_strndup ((const char *)data, size);
  pattern = postern_sender_pattern_parse (text, NULL);
  if (pattern != NULL)
    {
      check_pattern (pattern);
      if (mailbox != NULL)
        (void)postern_sender_pattern_matches (pattern, mailbox);
    }

  return 0;
}
