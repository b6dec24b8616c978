/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <string.h>

#include "postern-core.h"

static void
test_round_trip (void)
{
  for (int v = POSTERN_VERDICT_EXPECTED; v <= POSTERN_VERDICT_REJECTED_BLOCKED; v++)
    {
      PosternVerdict out = -1;
      const char *name = postern_verdict_to_string (v);

      g_assert_nonnull (name);
      g_assert_true (postern_verdict_from_string (name, &out, NULL));
      g_assert_cmpint (out, ==, v);
    }

  for (int k = POSTERN_CHANNEL_KIND_ONE_TIME; k <= POSTERN_CHANNEL_KIND_OPEN; k++)
    {
      PosternChannelKind out = -1;

      g_assert_true (postern_channel_kind_from_string (postern_channel_kind_to_string (k), &out, NULL));
      g_assert_cmpint (out, ==, k);
    }
}

static void
test_wire_names (void)
{
  g_assert_cmpstr (postern_channel_kind_to_string (POSTERN_CHANNEL_KIND_ONE_TIME), ==, "one-time");
  g_assert_cmpstr (postern_channel_state_to_string (POSTERN_CHANNEL_STATE_PAUSED), ==, "paused");
  g_assert_cmpstr (postern_unexpected_policy_to_string (POSTERN_UNEXPECTED_HOLD), ==, "hold");
  g_assert_cmpstr (postern_farewell_to_string (POSTERN_FAREWELL_DROP), ==, "drop");
  g_assert_cmpstr (postern_verdict_to_string (POSTERN_VERDICT_REJECTED_UNEXPECTED), ==, "rejected-unexpected");
  g_assert_cmpstr (postern_verdict_to_string (POSTERN_VERDICT_DROPPED_REVOKED), ==, "dropped-revoked");
  g_assert_cmpstr (postern_address_style_to_string (POSTERN_ADDRESS_STYLE_WORDS), ==, "words");
  g_assert_cmpstr (postern_share_method_to_string (POSTERN_SHARE_QR), ==, "qr");
  g_assert_null (postern_channel_kind_to_string (42));
}

static void
test_invalid_lists_valid (void)
{
  g_autoptr (GError) error = NULL;
  PosternChannelKind kind = POSTERN_CHANNEL_KIND_OPEN;

  g_assert_false (postern_channel_kind_from_string ("One-Time", &kind, &error));
  g_assert_error (error, POSTERN_CORE_ERROR, POSTERN_CORE_ERROR_INVALID_VALUE);
  g_assert_cmpstr (error->message, ==, "expected one of one-time, relationship, open");
  g_assert_cmpint (kind, ==, POSTERN_CHANNEL_KIND_OPEN);
  g_clear_error (&error);

  g_assert_false (postern_unexpected_policy_from_string (NULL, &(PosternUnexpectedPolicy){ 0 }, &error));
  g_assert_error (error, POSTERN_CORE_ERROR, POSTERN_CORE_ERROR_INVALID_VALUE);
  g_assert_cmpstr (error->message, ==, "expected one of alert, hold, reject");
}

static void
test_gtypes (void)
{
  g_autoptr (GEnumClass) klass = g_type_class_ref (POSTERN_TYPE_VERDICT);
  GEnumValue *value = g_enum_get_value_by_nick (klass, "rejected-paused");

  g_assert_nonnull (value);
  g_assert_cmpint (value->value, ==, POSTERN_VERDICT_REJECTED_PAUSED);
  g_assert_true (G_TYPE_IS_ENUM (POSTERN_TYPE_CHANNEL_KIND));
  g_assert_true (G_TYPE_IS_ENUM (POSTERN_TYPE_CHANNEL_STATE));
  g_assert_true (G_TYPE_IS_ENUM (POSTERN_TYPE_UNEXPECTED_POLICY));
  g_assert_true (G_TYPE_IS_ENUM (POSTERN_TYPE_FAREWELL));
  g_assert_true (G_TYPE_IS_ENUM (POSTERN_TYPE_ADDRESS_STYLE));
  g_assert_true (G_TYPE_IS_ENUM (POSTERN_TYPE_SHARE_METHOD));
}

static void
test_verdict_classes (void)
{
  static const struct
  {
    PosternVerdict verdict;
    gboolean accepted;
    gboolean alert;
  } cases[] = {
    { POSTERN_VERDICT_EXPECTED, TRUE, FALSE },
    { POSTERN_VERDICT_ACCEPTED, TRUE, FALSE },
    { POSTERN_VERDICT_UNEXPECTED, TRUE, TRUE },
    { POSTERN_VERDICT_HELD, TRUE, TRUE },
    { POSTERN_VERDICT_REJECTED_UNEXPECTED, FALSE, FALSE },
    { POSTERN_VERDICT_REJECTED_REVOKED, FALSE, FALSE },
    { POSTERN_VERDICT_DROPPED_REVOKED, FALSE, FALSE },
    { POSTERN_VERDICT_REJECTED_EXPIRED, FALSE, FALSE },
    { POSTERN_VERDICT_REJECTED_PAUSED, FALSE, FALSE },
    { POSTERN_VERDICT_REJECTED_BLOCKED, FALSE, FALSE },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_assert_true (postern_verdict_is_accepted (cases[i].verdict) == cases[i].accepted);
      g_assert_true (postern_verdict_is_alert (cases[i].verdict) == cases[i].alert);
    }
}

int
main (int argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/postern/core/enums/round-trip", test_round_trip);
  g_test_add_func ("/postern/core/enums/wire-names", test_wire_names);
  g_test_add_func ("/postern/core/enums/invalid-lists-valid", test_invalid_lists_valid);
  g_test_add_func ("/postern/core/enums/gtypes", test_gtypes);
  g_test_add_func ("/postern/core/enums/verdict-classes", test_verdict_classes);

  return g_test_run ();
}
