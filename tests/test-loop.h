/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/*
 * Bounded waits on the default main context, shared by every test that
 * drives asynchronous code (tests/client, tests/agent and those that reuse
 * the agent's harness). Nothing here waits without a deadline.
 */

#define TEST_LOOP_TIMEOUT_MS 20000

/* Iterates the default main context until *@flag is TRUE or @timeout_ms
 * passed; returns *@flag. */
gboolean test_spin_until (const gboolean *flag,
                          guint timeout_ms);
void test_spin_for (guint ms);
/* Iterates until @check returns TRUE (polled every 20 ms) or timeout. */
gboolean test_wait_for (gboolean (*check) (gpointer user_data),
                        gpointer user_data,
                        guint timeout_ms);

/* One asynchronous call's result: pass test_wait_cb and a zeroed TestWait
 * as callback and user data, then take the result (the caller unrefs it)
 * from test_wait_result(), which asserts it came within
 * TEST_LOOP_TIMEOUT_MS. */
typedef struct
{
  gboolean done;
  GAsyncResult *result;
} TestWait;

void test_wait_cb (GObject *source,
                   GAsyncResult *result,
                   gpointer user_data);
GAsyncResult *test_wait_result (TestWait *wait);

G_END_DECLS
