/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <string.h>

#include "postern-core.h"

#define UUID "6f1c2d3e-4b5a-4c6d-8e7f-0a1b2c3d4e5f"

static PosternChannel *
make_channel (void)
{
  PosternChannel *channel = postern_channel_new ();
  g_autoptr (PosternSenderPattern) a = postern_sender_pattern_parse ("jane@example.org", NULL);
  g_autoptr (PosternSenderPattern) b = postern_sender_pattern_parse ("@.b\xc3\xbc"
                                                                     "cher.example",
                                                                     NULL);

  g_assert_true (postern_channel_set_id (channel, UUID, NULL));
  g_assert_true (postern_channel_set_address (channel, "amber-otter-lemon-042@ch.example.org", NULL));
  g_assert_true (postern_channel_set_label (channel, "Recruiter \"Q\" \xf0\x9f\x93\x9a", NULL));
  g_assert_true (postern_channel_set_note (channel, "Met at the booth.\nBlue jacket.", NULL));
  postern_channel_set_kind (channel, POSTERN_CHANNEL_KIND_RELATIONSHIP);
  postern_channel_set_state (channel, POSTERN_CHANNEL_STATE_PAUSED);
  postern_channel_set_on_unexpected (channel, POSTERN_UNEXPECTED_REJECT);
  postern_channel_set_farewell (channel, POSTERN_FAREWELL_DROP);
  g_assert_true (postern_channel_set_farewell_text (channel, "Closed; write to jane@example.org", NULL));
  postern_channel_set_created_at (channel, 1764326853);
  postern_channel_set_expires_at (channel, 1795862853);
  postern_channel_set_revision (channel, 12);
  g_assert_true (postern_channel_add_expected_sender (channel, a, NULL));
  g_assert_true (postern_channel_add_expected_sender (channel, b, NULL));

  return channel;
}

static void
test_channel_round_trip (void)
{
  g_autoptr (PosternChannel) channel = make_channel ();
  g_autoptr (JsonNode) node = postern_channel_to_json (channel);
  g_autofree char *text = postern_json_to_string (node, FALSE);
  g_autoptr (JsonNode) parsed = NULL;
  g_autoptr (PosternChannel) back = NULL;
  g_autoptr (GError) error = NULL;

  g_assert_nonnull (strstr (text, "\"created_at\":\"2025-11-28T10:47:33Z\""));
  g_assert_nonnull (strstr (text, "\"kind\":\"relationship\""));
  g_assert_nonnull (strstr (text, "\"on_unexpected\":\"reject\""));
  g_assert_nonnull (strstr (text, "\"expected_senders\":[\"jane@example.org\",\"@.xn--bcher-kva.example\"]"));

  parsed = postern_json_from_string (text, -1, &error);
  g_assert_no_error (error);
  back = postern_channel_new_from_json (parsed, &error);
  g_assert_no_error (error);
  g_assert_true (postern_channel_equal (channel, back));

  g_assert_finalize_object (g_steal_pointer (&back));
}

static void
test_channel_nulls_and_defaults (void)
{
  g_autoptr (PosternChannel) channel = postern_channel_new ();
  g_autoptr (JsonNode) node = postern_channel_to_json (channel);
  g_autofree char *text = postern_json_to_string (node, FALSE);
  g_autoptr (PosternChannel) back = NULL;
  g_autoptr (JsonNode) minimal = NULL;
  g_autoptr (GError) error = NULL;

  g_assert_nonnull (strstr (text, "\"expires_at\":null"));
  g_assert_nonnull (strstr (text, "\"label\":\"\""));
  g_assert_nonnull (strstr (text, "\"id\":null"));
  back = postern_channel_new_from_json (node, &error);
  g_assert_no_error (error);
  g_assert_true (postern_channel_equal (channel, back));
  g_clear_object (&back);

  /* Unknown members are ignored; absent ones take their defaults. */
  minimal = postern_json_from_string ("{\"id\":\"" UUID "\",\"colour\":\"blue\",\"future\":{\"x\":[1,2]}}", -1, &error);
  g_assert_no_error (error);
  back = postern_channel_new_from_json (minimal, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (postern_channel_get_id (back), ==, UUID);
  g_assert_cmpint (postern_channel_get_kind (back), ==, POSTERN_CHANNEL_KIND_ONE_TIME);
  g_assert_cmpint (postern_channel_get_expires_at (back), ==, 0);
}

static void
test_channel_invalid (void)
{
  static const struct
  {
    const char *json;
    const char *message; /* the whole error message */
  } cases[] = {
    { "[]", "expected a JSON object" },
    { "\"channel\"", "expected a JSON object" },
    { "{\"id\":42}", "id: expected a string" },
    { "{\"id\":\"nope\"}", "id: not a UUID" },
    { "{\"address\":\"a%b@example.org\"}", "address: '%' relay syntax is not accepted in the local part" },
    { "{\"label\":[\"x\"]}", "label: expected a string" },
    { "{\"label\":\"a\\u0007b\"}", "label: contains a control character" },
    { "{\"kind\":\"forever\"}", "kind: expected one of one-time, relationship, open" },
    { "{\"kind\":1}", "kind: expected a string" },
    { "{\"state\":\"closed\"}", "state: expected one of active, paused, revoked" },
    { "{\"on_unexpected\":\"ignore\"}", "on_unexpected: expected one of alert, hold, reject" },
    { "{\"farewell\":\"wave\"}", "farewell: expected one of refuse, drop" },
    { "{\"farewell_text\":\"Tsch\xc3\xbc"
      "ss\"}",
      "farewell_text: only printable ASCII characters are allowed" },
    { "{\"created_at\":1764326853}", "created_at: expected a string" },
    { "{\"expires_at\":\"tomorrow\"}", "expires_at: expected an ISO 8601 time with a time zone, such as 2026-11-28T10:47:33Z" },
    { "{\"expires_at\":\"2026-11-28T10:47:33\"}", "expires_at: expected an ISO 8601 time with a time zone, such as 2026-11-28T10:47:33Z" },
    { "{\"revision\":\"12\"}", "revision: expected an integer" },
    { "{\"revision\":1.5}", "revision: expected an integer" },
    { "{\"revision\":-1}", "revision: expected a non-negative integer" },
    { "{\"revision\":true}", "revision: expected an integer" },
    { "{\"expected_senders\":\"jane@example.org\"}", "expected_senders: expected an array of sender patterns" },
    { "{\"expected_senders\":[\"jane@example.org\",7]}", "expected_senders[1]: expected a string" },
    { "{\"expected_senders\":[\"@localhost\"]}", "expected_senders[0]: invalid sender pattern: domain 'localhost' has a single label; a fully qualified domain is needed" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (JsonNode) node = postern_json_from_string (cases[i].json, -1, &error);
      g_autoptr (PosternChannel) channel = NULL;

      g_assert_no_error (error);
      channel = postern_channel_new_from_json (node, &error);
      g_assert_null (channel);
      g_assert_error (error, POSTERN_CORE_ERROR, POSTERN_CORE_ERROR_INVALID_JSON);
      g_assert_cmpstr (error->message, ==, cases[i].message);
    }
}

static void
test_event_round_trip (void)
{
  g_autoptr (PosternEvent) event = postern_event_new (99, UUID, 1764326853, "", "Jane <jane@example.org>",
                                                      "Caf\xc3\xa9 \"menu\"", NULL, 4096,
                                                      POSTERN_VERDICT_REJECTED_UNEXPECTED);
  g_autoptr (JsonNode) node = postern_event_to_json (event);
  g_autofree char *text = postern_json_to_string (node, TRUE);
  g_autoptr (JsonNode) parsed = NULL;
  g_autoptr (PosternEvent) back = NULL;
  g_autoptr (GError) error = NULL;

  g_assert_nonnull (strstr (text, "\"verdict\" : \"rejected-unexpected\""));
  parsed = postern_json_from_string (text, -1, &error);
  g_assert_no_error (error);
  back = postern_event_new_from_json (parsed, &error);
  g_assert_no_error (error);

  g_assert_cmpint (postern_event_get_id (back), ==, 99);
  g_assert_cmpstr (postern_event_get_channel_id (back), ==, UUID);
  g_assert_cmpint (postern_event_get_received_at (back), ==, 1764326853);
  g_assert_cmpstr (postern_event_get_envelope_sender (back), ==, "");
  g_assert_cmpstr (postern_event_get_header_from (back), ==, "Jane <jane@example.org>");
  g_assert_cmpstr (postern_event_get_subject (back), ==, "Caf\xc3\xa9 \"menu\"");
  g_assert_null (postern_event_get_message_id (back));
  g_assert_cmpint (postern_event_get_size (back), ==, 4096);
  g_assert_cmpint (postern_event_get_verdict (back), ==, POSTERN_VERDICT_REJECTED_UNEXPECTED);

  g_assert_finalize_object (g_steal_pointer (&back));
}

static void
test_event_invalid (void)
{
  static const struct
  {
    const char *json;
    const char *message;
  } cases[] = {
    { "{\"channel_id\":\"" UUID "\"}", "verdict: missing" },
    { "{\"verdict\":\"expected\"}", "channel_id: missing" },
    { "{\"channel_id\":\"x\",\"verdict\":\"expected\"}", "channel_id: not a UUID" },
    { "{\"channel_id\":\"" UUID "\",\"verdict\":\"maybe\"}",
      "verdict: expected one of expected, accepted, unexpected, held, rejected-unexpected, rejected-revoked, "
      "dropped-revoked, rejected-expired, rejected-paused, rejected-blocked" },
    { "{\"channel_id\":\"" UUID "\",\"verdict\":\"held\",\"size\":\"big\"}", "size: expected an integer" },
    { "{\"channel_id\":\"" UUID "\",\"verdict\":\"held\",\"subject\":{}}", "subject: expected a string" },
    { "{\"channel_id\":\"" UUID "\",\"verdict\":\"held\",\"received_at\":\"1969-12-31T23:59:59Z\"}", "received_at: time is before 1970" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (JsonNode) node = postern_json_from_string (cases[i].json, -1, &error);
      g_autoptr (PosternEvent) event = NULL;

      g_assert_no_error (error);
      event = postern_event_new_from_json (node, &error);
      g_assert_null (event);
      g_assert_error (error, POSTERN_CORE_ERROR, POSTERN_CORE_ERROR_INVALID_JSON);
      g_assert_cmpstr (error->message, ==, cases[i].message);
    }
}

static void
test_block_entry_round_trip (void)
{
  static const char *const scopes[] = { NULL, UUID };

  for (guint i = 0; i < G_N_ELEMENTS (scopes); i++)
    {
      g_autoptr (PosternSenderPattern) pattern = postern_sender_pattern_parse ("@.spam.example", NULL);
      g_autoptr (PosternBlockEntry) entry = postern_block_entry_new (pattern, scopes[i]);
      g_autoptr (JsonNode) node = NULL;
      g_autoptr (PosternBlockEntry) back = NULL;
      g_autoptr (GError) error = NULL;
      g_autofree char *text = NULL;

      entry->id = 5;
      entry->created_at = 1764326853;
      node = postern_block_entry_to_json (entry);
      text = postern_json_to_string (node, FALSE);
      if (scopes[i] == NULL)
        g_assert_nonnull (strstr (text, "\"channel_id\":null"));

      back = postern_block_entry_new_from_json (node, &error);
      g_assert_no_error (error);
      g_assert_cmpint (back->id, ==, 5);
      g_assert_cmpint (back->created_at, ==, 1764326853);
      g_assert_cmpstr (back->channel_id, ==, scopes[i]);
      g_assert_true (postern_sender_pattern_equal (back->pattern, entry->pattern));
    }
}

static void
test_block_entry_invalid (void)
{
  static const struct
  {
    const char *json;
    const char *message;
  } cases[] = {
    { "{}", "pattern: missing" },
    { "{\"pattern\":null}", "pattern: missing" },
    { "{\"pattern\":\"*@spam.example\"}", "pattern: invalid sender pattern: for every sender of a domain write @spam.example" },
    { "{\"pattern\":\"@spam.example\",\"channel_id\":\"all\"}", "channel_id: not a UUID" },
    { "{\"pattern\":\"@spam.example\",\"id\":\"1\"}", "id: expected an integer" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (JsonNode) node = postern_json_from_string (cases[i].json, -1, &error);
      g_autoptr (PosternBlockEntry) entry = NULL;

      g_assert_no_error (error);
      entry = postern_block_entry_new_from_json (node, &error);
      g_assert_null (entry);
      g_assert_error (error, POSTERN_CORE_ERROR, POSTERN_CORE_ERROR_INVALID_JSON);
      g_assert_cmpstr (error->message, ==, cases[i].message);
    }
}

static void
test_time (void)
{
  static const struct
  {
    const char *text;
    gint64 seconds; /* -1: refused */
  } cases[] = {
    { "2025-11-28T10:47:33Z", 1764326853 },
    { "2025-11-28T11:47:33+01:00", 1764326853 },
    { "2025-11-28T10:47:33.999Z", 1764326853 },
    { "1970-01-01T00:00:00Z", 0 },
    { "2025-11-28T10:47:33", -1 },
    { "2025-11-28", -1 },
    { "", -1 },
    { "yesterday", -1 },
  };
  g_autofree char *formatted = postern_json_format_time (1764326853);

  g_assert_cmpstr (formatted, ==, "2025-11-28T10:47:33Z");

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GError) error = NULL;
      gint64 seconds = -1;
      gboolean ok = postern_json_parse_time (cases[i].text, &seconds, &error);

      g_test_message ("case %s", cases[i].text);
      if (cases[i].seconds < 0)
        {
          g_assert_false (ok);
          g_assert_error (error, POSTERN_CORE_ERROR, POSTERN_CORE_ERROR_INVALID_JSON);
        }
      else
        {
          g_assert_no_error (error);
          g_assert_cmpint (seconds, ==, cases[i].seconds);
        }
    }
}

static void
test_from_string (void)
{
  static const struct
  {
    const char *text;
    gssize length;
  } bad[] = {
    { "", -1 },
    { "   ", -1 },
    { "{", -1 },
    { "{\"a\":1,}", -1 },
    { "{\"a\":\"\xff\"}", -1 },
    { "{\"a\":\"\xc3\"}", -1 },
    { "{\"a\":1}\0{}", 10 },
  };

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (JsonNode) node = postern_json_from_string (bad[i].text, bad[i].length, &error);

      g_test_message ("case %u", i);
      g_assert_null (node);
      g_assert_error (error, POSTERN_CORE_ERROR, POSTERN_CORE_ERROR_INVALID_JSON);
    }
}

int
main (int argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/postern/core/json/channel-round-trip", test_channel_round_trip);
  g_test_add_func ("/postern/core/json/channel-nulls-and-defaults", test_channel_nulls_and_defaults);
  g_test_add_func ("/postern/core/json/channel-invalid", test_channel_invalid);
  g_test_add_func ("/postern/core/json/event-round-trip", test_event_round_trip);
  g_test_add_func ("/postern/core/json/event-invalid", test_event_invalid);
  g_test_add_func ("/postern/core/json/block-entry-round-trip", test_block_entry_round_trip);
  g_test_add_func ("/postern/core/json/block-entry-invalid", test_block_entry_invalid);
  g_test_add_func ("/postern/core/json/time", test_time);
  g_test_add_func ("/postern/core/json/from-string", test_from_string);

  return g_test_run ();
}
