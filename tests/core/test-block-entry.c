/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "postern-core.h"

#define CHANNEL_A "6f1c2d3e-4b5a-4c6d-8e7f-0a1b2c3d4e5f"
#define CHANNEL_B "0d9c8b7a-6f5e-4d3c-9b2a-1f0e9d8c7b6a"

static void
test_blocks (void)
{
  static const struct
  {
    const char *pattern;
    const char *scope; /* NULL: every channel */
    const char *channel;
    const char *sender; /* NULL: the null sender */
    gboolean blocks;
  } cases[] = {
    { "spam@example.org", NULL, CHANNEL_A, "spam@example.org", TRUE },
    { "spam@example.org", NULL, CHANNEL_B, "SPAM@example.org", TRUE },
    { "spam@example.org", NULL, NULL, "spam@example.org", TRUE },
    { "spam@example.org", CHANNEL_A, CHANNEL_A, "spam@example.org", TRUE },
    { "spam@example.org", CHANNEL_A, CHANNEL_B, "spam@example.org", FALSE },
    { "spam@example.org", CHANNEL_A, NULL, "spam@example.org", FALSE },
    { "spam@example.org", NULL, CHANNEL_A, "ham@example.org", FALSE },
    { "spam@example.org", NULL, CHANNEL_A, "spam+x@example.org", TRUE },
    { "@example.org", NULL, CHANNEL_A, "anyone@example.org", TRUE },
    { "@.example.org", CHANNEL_B, CHANNEL_B, "x@mail.example.org", TRUE },
    { "@.example.org", NULL, CHANNEL_A, NULL, FALSE },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (PosternSenderPattern) pattern = postern_sender_pattern_parse (cases[i].pattern, NULL);
      g_autoptr (PosternBlockEntry) entry = postern_block_entry_new (pattern, cases[i].scope);
      g_autoptr (PosternMailbox) sender = NULL;

      if (cases[i].sender != NULL)
        sender = postern_mailbox_parse (cases[i].sender, -1, NULL);

      g_test_message ("case %u", i);
      g_assert_true (postern_block_entry_blocks (entry, cases[i].channel, sender) == cases[i].blocks);
    }
}

static void
test_copy (void)
{
  g_autoptr (PosternSenderPattern) pattern = postern_sender_pattern_parse ("@example.org", NULL);
  g_autoptr (PosternBlockEntry) entry = postern_block_entry_new (pattern, CHANNEL_A);
  g_autoptr (PosternBlockEntry) copy = NULL;

  entry->id = 42;
  entry->created_at = 1764326853;
  copy = g_boxed_copy (POSTERN_TYPE_BLOCK_ENTRY, entry);

  g_assert_cmpint (copy->id, ==, 42);
  g_assert_cmpint (copy->created_at, ==, 1764326853);
  g_assert_cmpstr (copy->channel_id, ==, CHANNEL_A);
  g_assert_true (copy->pattern != entry->pattern);
  g_assert_true (postern_sender_pattern_equal (copy->pattern, entry->pattern));
}

int
main (int argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/postern/core/block-entry/blocks", test_blocks);
  g_test_add_func ("/postern/core/block-entry/copy", test_copy);

  return g_test_run ();
}
