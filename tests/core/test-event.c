/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <string.h>

#include "postern-core.h"

#define UUID "6f1c2d3e-4b5a-4c6d-8e7f-0a1b2c3d4e5f"

static void
test_new (void)
{
  PosternEvent *event = postern_event_new (17, UUID, 1764326853, "jane@example.org", "Jane <jane@example.org>",
                                           "Hello", "<abc@example.org>", 2048, POSTERN_VERDICT_UNEXPECTED);
  PosternVerdict verdict;
  gint64 size;

  g_assert_cmpint (postern_event_get_id (event), ==, 17);
  g_assert_cmpstr (postern_event_get_channel_id (event), ==, UUID);
  g_assert_cmpint (postern_event_get_received_at (event), ==, 1764326853);
  g_assert_cmpstr (postern_event_get_envelope_sender (event), ==, "jane@example.org");
  g_assert_cmpstr (postern_event_get_header_from (event), ==, "Jane <jane@example.org>");
  g_assert_cmpstr (postern_event_get_subject (event), ==, "Hello");
  g_assert_cmpstr (postern_event_get_message_id (event), ==, "<abc@example.org>");
  g_assert_cmpint (postern_event_get_size (event), ==, 2048);
  g_assert_cmpint (postern_event_get_verdict (event), ==, POSTERN_VERDICT_UNEXPECTED);

  g_object_get (event, "verdict", &verdict, "size", &size, NULL);
  g_assert_cmpint (verdict, ==, POSTERN_VERDICT_UNEXPECTED);
  g_assert_cmpint (size, ==, 2048);

  g_assert_finalize_object (event);
}

static void
test_null_sender (void)
{
  PosternEvent *event = postern_event_new (1, UUID, 1, NULL, NULL, NULL, NULL, 0, POSTERN_VERDICT_REJECTED_UNEXPECTED);

  g_assert_cmpstr (postern_event_get_envelope_sender (event), ==, "");
  g_assert_null (postern_event_get_header_from (event));
  g_assert_null (postern_event_get_subject (event));

  g_assert_finalize_object (event);
}

static void
test_sanitized (void)
{
  g_autoptr (GString) long_subject = g_string_new (NULL);
  PosternEvent *event = NULL;
  const char *subject;

  /* 997 ASCII octets then a 2-octet character: the cut must not split it. */
  for (guint i = 0; i < POSTERN_EVENT_MAX_FIELD - 1; i++)
    g_string_append_c (long_subject, 'a');
  g_string_append (long_subject, "\xc3\xbc");

  event = postern_event_new (1, UUID, 1, "x@example.org", "bad \xff utf8", long_subject->str,
                             "line\r\nbreak\x1b", 0, POSTERN_VERDICT_EXPECTED);

  g_assert_true (g_utf8_validate (postern_event_get_header_from (event), -1, NULL));
  g_assert_cmpstr (postern_event_get_message_id (event), ==, "line  break ");

  subject = postern_event_get_subject (event);
  g_assert_cmpuint (strlen (subject), ==, POSTERN_EVENT_MAX_FIELD - 1);
  g_assert_true (g_utf8_validate (subject, -1, NULL));

  g_assert_finalize_object (event);
}

static void
test_read_only (void)
{
  PosternEvent *event = postern_event_new (1, UUID, 1, "x@example.org", NULL, NULL, NULL, 0, POSTERN_VERDICT_EXPECTED);
  GParamSpec *pspec = g_object_class_find_property (G_OBJECT_GET_CLASS (event), "verdict");

  g_assert_nonnull (pspec);
  g_assert_true (pspec->flags & G_PARAM_CONSTRUCT_ONLY);

  g_assert_finalize_object (event);
}

int
main (int argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/postern/core/event/new", test_new);
  g_test_add_func ("/postern/core/event/null-sender", test_null_sender);
  g_test_add_func ("/postern/core/event/sanitized", test_sanitized);
  g_test_add_func ("/postern/core/event/read-only", test_read_only);

  return g_test_run ();
}
