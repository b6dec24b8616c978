/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "test-loop.h"

static gboolean
set_flag_cb (gpointer user_data)
{
  *(gboolean *)user_data = TRUE;
  return G_SOURCE_REMOVE;
}

gboolean
test_spin_until (const gboolean *flag,
                 guint timeout_ms)
{
  gboolean timed_out = FALSE;
  guint source = g_timeout_add (timeout_ms, set_flag_cb, &timed_out);

  while (!*flag && !timed_out)
    g_main_context_iteration (NULL, TRUE);
  if (!timed_out)
    g_source_remove (source);
  return *flag;
}

void
test_spin_for (guint ms)
{
  gboolean never = FALSE;

  test_spin_until (&never, ms);
}

gboolean
test_wait_for (gboolean (*check) (gpointer user_data),
               gpointer user_data,
               guint timeout_ms)
{
  gint64 deadline = g_get_monotonic_time () + (gint64)timeout_ms * 1000;

  while (!check (user_data))
    {
      if (g_get_monotonic_time () >= deadline)
        return FALSE;
      test_spin_for (20);
    }
  return TRUE;
}

void
test_wait_cb (GObject *source,
              GAsyncResult *result,
              gpointer user_data)
{
  TestWait *wait = user_data;

  wait->result = g_object_ref (result);
  wait->done = TRUE;
}

GAsyncResult *
test_wait_result (TestWait *wait)
{
  g_assert_true (test_spin_until (&wait->done, TEST_LOOP_TIMEOUT_MS));
  return wait->result;
}
