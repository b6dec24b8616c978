/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <math.h>
#include <string.h>

#include "postern-core.h"

static void
assert_valid_local_part (const char *local)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PosternMailbox) mailbox = postern_mailbox_new (local, "ch.example.org", &error);

  g_assert_no_error (error);
  g_assert_nonnull (mailbox);
  g_assert_cmpuint (strlen (local), <=, POSTERN_MAILBOX_MAX_LOCAL_PART);
}

static void
test_random_style (void)
{
  g_autoptr (GHashTable) seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);

  for (guint i = 0; i < 2000; i++)
    {
      char *local = postern_address_generate_local_part (POSTERN_ADDRESS_STYLE_RANDOM);

      g_assert_cmpuint (strlen (local), ==, 11);
      for (const char *p = local; *p != '\0'; p++)
        {
          g_assert_true (g_ascii_islower (*p) || g_ascii_isdigit (*p));
          g_assert_null (strchr ("01oil", *p));
        }
      assert_valid_local_part (local);
      g_assert_true (g_hash_table_add (seen, local));
    }
}

static void
test_random_covers_alphabet (void)
{
  g_autoptr (GHashTable) symbols = g_hash_table_new (g_direct_hash, g_direct_equal);

  for (guint i = 0; i < 500; i++)
    {
      g_autofree char *local = postern_address_generate_local_part (POSTERN_ADDRESS_STYLE_RANDOM);

      for (const char *p = local; *p != '\0'; p++)
        g_hash_table_add (symbols, GINT_TO_POINTER (*p));
    }

  g_assert_cmpuint (g_hash_table_size (symbols), ==, 31);
}

static void
test_words_style (void)
{
  for (guint i = 0; i < 2000; i++)
    {
      g_autofree char *local = postern_address_generate_local_part (POSTERN_ADDRESS_STYLE_WORDS);
      g_auto (GStrv) parts = g_strsplit (local, "-", -1);

      g_assert_cmpuint (g_strv_length (parts), ==, 4);
      for (guint j = 0; j < 3; j++)
        {
          g_assert_cmpuint (strlen (parts[j]), >=, 3);
          for (const char *p = parts[j]; *p != '\0'; p++)
            g_assert_true (g_ascii_islower (*p));
        }
      g_assert_cmpuint (strlen (parts[3]), ==, 3);
      for (const char *p = parts[3]; *p != '\0'; p++)
        g_assert_true (g_ascii_isdigit (*p));
      assert_valid_local_part (local);
    }
}

static void
test_word_list (void)
{
  guint n_words = 0;
  const char *const *words = postern_address_get_words (&n_words);
  g_autoptr (GHashTable) seen = g_hash_table_new (g_str_hash, g_str_equal);

  g_assert_cmpuint (n_words, >=, 1024);
  g_assert_null (words[n_words]);

  for (guint i = 0; i < n_words; i++)
    {
      gsize length = strlen (words[i]);

      g_assert_cmpuint (length, >=, 3);
      g_assert_cmpuint (length, <=, 8);
      for (const char *p = words[i]; *p != '\0'; p++)
        g_assert_true (*p >= 'a' && *p <= 'z');
      if (!g_hash_table_add (seen, (gpointer)words[i]))
        g_error ("duplicate word %s", words[i]);
    }
}

static void
test_entropy (void)
{
  guint n_words = 0;
  double random_bits = postern_address_style_entropy_bits (POSTERN_ADDRESS_STYLE_RANDOM);
  double words_bits = postern_address_style_entropy_bits (POSTERN_ADDRESS_STYLE_WORDS);

  postern_address_get_words (&n_words);

  g_assert_cmpfloat_with_epsilon (random_bits, 11 * log2 (31), 1e-9);
  g_assert_cmpfloat (random_bits, >, 54.4);
  g_assert_cmpfloat_with_epsilon (words_bits, 3 * log2 (n_words) + log2 (1000), 1e-9);
  g_assert_cmpfloat (words_bits, >=, 40.0);
  g_test_message ("random: %.2f bits, words: %.2f bits (%u words)", random_bits, words_bits, n_words);
}

static void
test_uniform (void)
{
  /* With a bound of 2/3 of 2^32, `value % bound` would hit the lower half
   * of the range twice as often as the upper half. Rejection sampling keeps
   * the two halves even. */
  const guint32 bound = 0xaaaaaaabu;
  const guint n = 20000;
  guint low = 0;
  guint counts[7] = { 0 };

  for (guint i = 0; i < n; i++)
    {
      guint32 value = postern_random_uniform (bound);

      g_assert_cmpuint (value, <, bound);
      if (value < bound / 2)
        low++;
    }
  /* Biased sampling would give about 2/3 low; uniform gives 1/2. */
  g_assert_cmpuint (low, >, n * 45 / 100);
  g_assert_cmpuint (low, <, n * 55 / 100);

  for (guint i = 0; i < 7000; i++)
    counts[postern_random_uniform (7)]++;
  for (guint i = 0; i < 7; i++)
    {
      g_assert_cmpuint (counts[i], >, 800);
      g_assert_cmpuint (counts[i], <, 1200);
    }

  g_assert_cmpuint (postern_random_uniform (1), ==, 0);
}

static void
test_random_bytes (void)
{
  guint8 a[32] = { 0 };
  guint8 b[32] = { 0 };

  postern_random_bytes (a, sizeof a);
  postern_random_bytes (b, sizeof b);
  g_assert_false (memcmp (a, b, sizeof a) == 0);
  postern_random_bytes (NULL, 0);
}

int
main (int argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/postern/core/address-generator/random-style", test_random_style);
  g_test_add_func ("/postern/core/address-generator/random-covers-alphabet", test_random_covers_alphabet);
  g_test_add_func ("/postern/core/address-generator/words-style", test_words_style);
  g_test_add_func ("/postern/core/address-generator/word-list", test_word_list);
  g_test_add_func ("/postern/core/address-generator/entropy", test_entropy);
  g_test_add_func ("/postern/core/address-generator/uniform", test_uniform);
  g_test_add_func ("/postern/core/address-generator/random-bytes", test_random_bytes);

  return g_test_run ();
}
