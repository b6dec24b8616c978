/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The connection poller (pd-poller.c) on socket pairs and a private main
 * context: a watch is called once per arming, only for input that comes
 * after a read said EAGAIN, on a wake, on hang-up; removing watches from
 * inside callbacks is safe (ASan in CI), and wakes asked for before the
 * owner lets go are still delivered.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <glib.h>

#include "pd-poller.h"

typedef struct
{
  GMainContext *context;
  PdPoller *poller;
  int ours[2];   /* the "server" ends, watched */
  int theirs[2]; /* the "client" ends */
} Fixture;

typedef struct
{
  guint calls;
  PdPollerWatch **remove_first; /* removed from inside the callback */
  PdPollerWatch **remove_second;
} Counter;

static void
fixture_set_up (Fixture *f,
                gconstpointer data)
{
  f->context = g_main_context_new ();
  g_main_context_push_thread_default (f->context);
  f->poller = pd_poller_new (f->context, NULL);
  g_assert_nonnull (f->poller);
  for (guint i = 0; i < 2; i++)
    {
      int pair[2];

      g_assert_cmpint (socketpair (AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, pair), ==, 0);
      f->ours[i] = pair[0];
      f->theirs[i] = pair[1];
    }
}

static void
fixture_tear_down (Fixture *f,
                   gconstpointer data)
{
  g_clear_pointer (&f->poller, pd_poller_free);
  for (guint i = 0; i < 2; i++)
    {
      close (f->ours[i]);
      if (f->theirs[i] >= 0)
        close (f->theirs[i]);
    }
  g_main_context_pop_thread_default (f->context);
  g_main_context_unref (f->context);
}

static void
count_cb (gpointer user_data)
{
  Counter *counter = user_data;

  counter->calls++;
  if (counter->remove_first != NULL)
    g_clear_pointer (counter->remove_first, pd_poller_remove);
  if (counter->remove_second != NULL)
    g_clear_pointer (counter->remove_second, pd_poller_remove);
}

/* Runs the context until @counter reaches @expected calls (bounded: two
 * seconds) and then until nothing is pending, and checks it has exactly
 * @expected: no call the test did not ask for either. */
static void
expect_calls (Fixture *f,
              const Counter *counter,
              guint expected)
{
  gint64 end = g_get_monotonic_time () + 2 * G_USEC_PER_SEC;

  while (counter->calls < expected && g_get_monotonic_time () < end)
    g_main_context_iteration (f->context, FALSE);
  /* A source that stays ready (input waiting on a level-triggered set)
   * would keep the loop busy for ever. */
  for (guint rounds = 0; g_main_context_iteration (f->context, FALSE); rounds++)
    g_assert_cmpuint (rounds, <, 1000);
  g_assert_cmpuint (counter->calls, ==, expected);
}

static void
send_byte (int fd)
{
  g_assert_cmpint (write (fd, "x", 1), ==, 1);
}

static void
drain (int fd)
{
  char buffer[64];

  while (read (fd, buffer, sizeof buffer) > 0)
    ;
  g_assert_cmpint (errno, ==, EAGAIN);
}

static void
test_armed_input (Fixture *f,
                  gconstpointer data)
{
  Counter counter = { 0 };
  PdPollerWatch *watch = pd_poller_add (f->poller, f->ours[0], count_cb, &counter, NULL);

  g_assert_nonnull (watch);
  pd_poller_arm (watch);
  expect_calls (f, &counter, 0);

  send_byte (f->theirs[0]);
  expect_calls (f, &counter, 1);

  /* Once per arming: more input before the next arm calls nothing. */
  send_byte (f->theirs[0]);
  expect_calls (f, &counter, 1);

  drain (f->ours[0]);
  pd_poller_arm (watch);
  send_byte (f->theirs[0]);
  expect_calls (f, &counter, 2);
  pd_poller_remove (watch);
}

static void
test_input_while_unarmed (Fixture *f,
                          gconstpointer data)
{
  Counter counter = { 0 };
  PdPollerWatch *watch = pd_poller_add (f->poller, f->ours[0], count_cb, &counter, NULL);

  /* Input while the connection is not waiting (the store's turn). */
  send_byte (f->theirs[0]);
  expect_calls (f, &counter, 0);

  /* The pump reads it, then waits; input that comes between its EAGAIN
   * and the arming must not be missed. */
  drain (f->ours[0]);
  send_byte (f->theirs[0]);
  pd_poller_arm (watch);
  expect_calls (f, &counter, 1);
  pd_poller_remove (watch);
}

static void
test_wake (Fixture *f,
           gconstpointer data)
{
  Counter counter = { 0 };
  PdPollerWatch *watch = pd_poller_add (f->poller, f->ours[0], count_cb, &counter, NULL);

  /* Not armed: a wake does nothing, not even for an arming after it. */
  pd_poller_wake (watch);
  pd_poller_arm (watch);
  expect_calls (f, &counter, 0);

  /* Armed, no input: a wake (a timeout, a close) calls it once. */
  pd_poller_wake (watch);
  pd_poller_wake (watch);
  expect_calls (f, &counter, 1);
  expect_calls (f, &counter, 1);
  pd_poller_remove (watch);
}

static void
test_hang_up (Fixture *f,
              gconstpointer data)
{
  Counter counter = { 0 };
  PdPollerWatch *watch = pd_poller_add (f->poller, f->ours[0], count_cb, &counter, NULL);

  pd_poller_arm (watch);
  close (f->theirs[0]);
  f->theirs[0] = -1;
  expect_calls (f, &counter, 1);
  pd_poller_remove (watch);
}

static void
test_remove_in_callback (Fixture *f,
                         gconstpointer data)
{
  Counter counter = { 0 };
  PdPollerWatch *first = pd_poller_add (f->poller, f->ours[0], count_cb, &counter, NULL);
  PdPollerWatch *second = pd_poller_add (f->poller, f->ours[1], count_cb, &counter, NULL);

  /* Both ready in one round: whichever is called first removes both
   * (itself included); the other must not be called. */
  counter.remove_first = &first;
  counter.remove_second = &second;
  pd_poller_arm (first);
  pd_poller_arm (second);
  send_byte (f->theirs[0]);
  send_byte (f->theirs[1]);
  expect_calls (f, &counter, 1);
  g_assert_null (first);
  g_assert_null (second);
}

static void
test_remove_woken (Fixture *f,
                   gconstpointer data)
{
  Counter counter = { 0 };
  PdPollerWatch *watch = pd_poller_add (f->poller, f->ours[0], count_cb, &counter, NULL);

  pd_poller_arm (watch);
  pd_poller_wake (watch);
  pd_poller_remove (watch);
  expect_calls (f, &counter, 0);
}

typedef struct
{
  Counter counter;
  PdPollerWatch *watch;
} Pump;

/* What a connection's pump does: at its first call it read its 16 rounds
 * and comes back at the next (arm and wake); at its second it reads to
 * QUIT and closes (removes its watch). */
static void
pump_cb (gpointer user_data)
{
  Pump *pump = user_data;

  pump->counter.calls++;
  if (pump->counter.calls == 1)
    {
      pd_poller_arm (pump->watch);
      pd_poller_wake (pump->watch);
    }
  else
    {
      g_clear_pointer (&pump->watch, pd_poller_remove);
    }
}

/* Woken again from its wake, then called for new input in the same round
 * and removed there: the watch is on the next round's wake list, and must
 * outlive it (ASan: a use-after-free at the next round without that). A
 * client sending a long line then QUIT did this over TCP. */
static void
test_rewoken_then_removed (Fixture *f,
                           gconstpointer data)
{
  Pump pump = { 0 };

  pump.watch = pd_poller_add (f->poller, f->ours[0], pump_cb, &pump, NULL);
  pd_poller_arm (pump.watch);
  pd_poller_wake (pump.watch);
  send_byte (f->theirs[0]);
  expect_calls (f, &pump.counter, 2);
  g_assert_null (pump.watch);
  /* The rounds after it: nothing left to call. */
  for (guint i = 0; i < 3; i++)
    g_main_context_iteration (f->context, FALSE);
  g_assert_cmpuint (pump.counter.calls, ==, 2);
}

static void
test_outlives_owner (Fixture *f,
                     gconstpointer data)
{
  Counter counter = { 0 };
  PdPollerWatch *watch = pd_poller_add (f->poller, f->ours[0], count_cb, &counter, NULL);

  /* A server closing its connections wakes their waits, then goes. */
  pd_poller_arm (watch);
  pd_poller_wake (watch);
  g_clear_pointer (&f->poller, pd_poller_free);
  expect_calls (f, &counter, 1);

  /* Input still reaches a watch of an orphaned poller. */
  pd_poller_arm (watch);
  send_byte (f->theirs[0]);
  expect_calls (f, &counter, 2);
  pd_poller_remove (watch);
  g_assert_false (g_main_context_pending (f->context));
}

static void
test_bad_descriptor (Fixture *f,
                     gconstpointer data)
{
  Counter counter = { 0 };
  g_autoptr (GError) error = NULL;
  int fd = open ("/dev/null", O_RDONLY | O_CLOEXEC);

  /* epoll refuses regular files and devices like /dev/null. */
  g_assert_null (pd_poller_add (f->poller, fd, count_cb, &counter, &error));
  g_assert_nonnull (error);
  close (fd);
}

int
main (int argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

#define ADD(path, func) g_test_add (path, Fixture, NULL, fixture_set_up, func, fixture_tear_down)
  ADD ("/poller/armed-input", test_armed_input);
  ADD ("/poller/input-while-unarmed", test_input_while_unarmed);
  ADD ("/poller/wake", test_wake);
  ADD ("/poller/hang-up", test_hang_up);
  ADD ("/poller/remove-in-callback", test_remove_in_callback);
  ADD ("/poller/remove-woken", test_remove_woken);
  ADD ("/poller/rewoken-then-removed", test_rewoken_then_removed);
  ADD ("/poller/outlives-owner", test_outlives_owner);
  ADD ("/poller/bad-descriptor", test_bad_descriptor);
#undef ADD

  return g_test_run ();
}
