/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * posternd's log writer (pd-log.c): GLib's text format, one line per
 * message, debug lines only when G_MESSAGES_DEBUG asks for them, and
 * warnings still written by GLib. Each case logs in a subprocess whose
 * stdout and stderr are pipes (not a terminal), where the writer is used.
 */
#include "config.h"

#undef G_LOG_DOMAIN
#define G_LOG_DOMAIN "posternd-test"

#include <glib.h>

#include "pd-log.h"

static void
test_format (void)
{
  if (g_test_subprocess ())
    {
      pd_log_install ();
      g_message ("session=%s event=%s", "abc", "stored");
      g_debug ("not shown without G_MESSAGES_DEBUG");
      return;
    }
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_passed ();
  /* Exactly one line: the debug one is dropped. */
  g_test_trap_assert_stderr ("posternd-test-Message: ??:??:??.???: session=abc event=stored\n");
  g_test_trap_assert_stdout ("");
}

static void
test_debug_enabled (void)
{
  if (g_test_subprocess ())
    {
      g_setenv ("G_MESSAGES_DEBUG", "posternd-test", TRUE);
      pd_log_install ();
      g_debug ("lease renewed");
      g_info ("queue idle");
      return;
    }
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_passed ();
  /* Where GLib writes them: info and debug on stdout. */
  g_test_trap_assert_stdout ("posternd-test-DEBUG: ??:??:??.???: lease renewed\nposternd-test-INFO: ??:??:??.???: queue idle\n");
  g_test_trap_assert_stderr ("");
}

static void
test_warning_unchanged (void)
{
  if (g_test_subprocess ())
    {
      pd_log_install ();
      g_warning ("disk full");
      return;
    }
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  /* GLib's own format (and g_test's fatal warnings). */
  g_test_trap_assert_stderr ("*posternd-test-WARNING **: *disk full*");
}

/* The clock in the line is the local time of day, to the millisecond,
 * as GDateTime computes it. */
static void
test_time (void)
{
  const gint64 instants[] = { 0, 1700000000123456, 1782000000999999, 1798761599500000 };

  for (guint i = 0; i < G_N_ELEMENTS (instants); i++)
    {
      g_autoptr (GDateTime) when = g_date_time_new_from_unix_local (instants[i] / G_USEC_PER_SEC);
      g_autofree char *clock = g_date_time_format (when, "%H:%M:%S");
      g_autofree char *expected = g_strdup_printf ("posternd-Message: %s.%03d: tick\n", clock, (int)(instants[i] / 1000 % 1000));
      g_autofree char *line = pd_log_format_line (G_LOG_LEVEL_MESSAGE, "posternd", "tick", instants[i]);

      g_assert_cmpstr (line, ==, expected);
    }
}

int
main (int argc,
      char *argv[])
{
  /* A zone with an offset and summer time (winter and summer instants
   * below), not the UTC of a CI machine. */
  g_setenv ("TZ", "Europe/Berlin", TRUE);
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/postern/server/log/format", test_format);
  g_test_add_func ("/postern/server/log/debug-enabled", test_debug_enabled);
  g_test_add_func ("/postern/server/log/warning-unchanged", test_warning_unchanged);
  g_test_add_func ("/postern/server/log/time", test_time);

  return g_test_run ();
}
