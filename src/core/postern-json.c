/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <string.h>

#include "postern-core-error.h"
#include "postern-json.h"

/*
 * Readers: each member is optional unless said otherwise, takes its
 * default when absent or null, and is refused when present with the wrong
 * type. The error message always starts with the member name, so a client
 * developer reading a problem+json can find it.
 */

static gboolean
json_error (GError **error,
            const char *member,
            const char *reason)
{
  g_set_error (error, POSTERN_CORE_ERROR, POSTERN_CORE_ERROR_INVALID_JSON, "%s: %s", member, reason);
  return FALSE;
}

/* Rewrites an error from a setter or parser into an INVALID_JSON error
 * naming @member. */
static gboolean
json_error_from (GError **error,
                 const char *member,
                 GError *cause)
{
  g_autoptr (GError) owned = cause;
  const char *message = owned->message;
  gsize member_length = strlen (member);

  /* Setters already prefix their field name; do not say it twice. */
  if (strncmp (message, member, member_length) == 0 && strncmp (message + member_length, ": ", 2) == 0)
    message += member_length + 2;

  return json_error (error, member, message);
}

static JsonNode *
get_member (JsonObject *object,
            const char *member)
{
  JsonNode *node = json_object_get_member (object, member);

  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    return NULL;

  return node;
}

static gboolean
read_string (JsonObject *object,
             const char *member,
             const char **out,
             GError **error)
{
  JsonNode *node = get_member (object, member);

  *out = NULL;
  if (node == NULL)
    return TRUE;

  if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_STRING)
    return json_error (error, member, "expected a string");

  *out = json_node_get_string (node);

  /* json-glib checks its input, but a JsonNode may have been built by
   * hand; nothing leaves here that is not UTF-8. */
  if (!g_utf8_validate (*out, -1, NULL))
    return json_error (error, member, "not valid UTF-8");

  return TRUE;
}

static gboolean
read_required_string (JsonObject *object,
                      const char *member,
                      const char **out,
                      GError **error)
{
  if (!read_string (object, member, out, error))
    return FALSE;
  if (*out == NULL)
    return json_error (error, member, "missing");
  return TRUE;
}

static gboolean
read_int (JsonObject *object,
          const char *member,
          gint64 *out,
          GError **error)
{
  JsonNode *node = get_member (object, member);

  *out = 0;
  if (node == NULL)
    return TRUE;

  if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_INT64)
    return json_error (error, member, "expected an integer");

  *out = json_node_get_int (node);
  if (*out < 0)
    return json_error (error, member, "expected a non-negative integer");

  return TRUE;
}

static gboolean
read_time (JsonObject *object,
           const char *member,
           gint64 *out,
           GError **error)
{
  const char *text;
  g_autoptr (GError) local_error = NULL;

  *out = 0;
  if (!read_string (object, member, &text, error))
    return FALSE;
  if (text == NULL)
    return TRUE;

  if (!postern_json_parse_time (text, out, &local_error))
    return json_error_from (error, member, g_steal_pointer (&local_error));

  return TRUE;
}

/* Reads an enum member by its wire name (the value nick); the error lists
 * the valid names, as the `_from_string` functions do. */
static gboolean
read_enum (JsonObject *object,
           const char *member,
           GType type,
           int *out,
           gboolean required,
           GError **error)
{
  g_autoptr (GEnumClass) klass = NULL;
  g_autoptr (GString) valid = NULL;
  const char *text;
  GEnumValue *value;

  if (!read_string (object, member, &text, error))
    return FALSE;
  if (text == NULL)
    return required ? json_error (error, member, "missing") : TRUE;

  klass = g_type_class_ref (type);
  value = g_enum_get_value_by_nick (klass, text);
  if (value != NULL)
    {
      *out = value->value;
      return TRUE;
    }

  valid = g_string_new ("expected one of ");
  for (guint i = 0; i < klass->n_values; i++)
    g_string_append_printf (valid, "%s%s", i > 0 ? ", " : "", klass->values[i].value_nick);

  return json_error (error, member, valid->str);
}

static JsonObject *
get_object (JsonNode *node,
            GError **error)
{
  if (node == NULL || !JSON_NODE_HOLDS_OBJECT (node))
    {
      g_set_error_literal (error, POSTERN_CORE_ERROR, POSTERN_CORE_ERROR_INVALID_JSON, "expected a JSON object");
      return NULL;
    }

  return json_node_get_object (node);
}

static void
add_time_member (JsonBuilder *builder,
                 const char *member,
                 gint64 unix_seconds)
{
  json_builder_set_member_name (builder, member);
  if (unix_seconds == 0)
    {
      json_builder_add_null_value (builder);
    }
  else
    {
      g_autofree char *text = postern_json_format_time (unix_seconds);
      json_builder_add_string_value (builder, text);
    }
}

static void
add_string_member (JsonBuilder *builder,
                   const char *member,
                   const char *value)
{
  json_builder_set_member_name (builder, member);
  if (value == NULL)
    json_builder_add_null_value (builder);
  else
    json_builder_add_string_value (builder, value);
}

/* Free text the owner may leave empty is always a string on the wire
 * (docs/api.md), "" when empty; readers take null as "" too. */
static void
add_text_member (JsonBuilder *builder,
                 const char *member,
                 const char *value)
{
  add_string_member (builder, member, value != NULL ? value : "");
}

static void
add_int_member (JsonBuilder *builder,
                const char *member,
                gint64 value)
{
  json_builder_set_member_name (builder, member);
  json_builder_add_int_value (builder, value);
}

/* Channels. */

JsonNode *
postern_channel_to_json (PosternChannel *channel)
{
  g_autoptr (JsonBuilder) builder = json_builder_new ();
  GPtrArray *senders;

  g_return_val_if_fail (POSTERN_IS_CHANNEL (channel), NULL);

  json_builder_begin_object (builder);
  add_string_member (builder, "id", postern_channel_get_id (channel));
  add_string_member (builder, "address", postern_channel_get_address (channel));
  add_text_member (builder, "label", postern_channel_get_label (channel));
  add_text_member (builder, "note", postern_channel_get_note (channel));
  add_string_member (builder, "kind", postern_channel_kind_to_string (postern_channel_get_kind (channel)));
  add_string_member (builder, "state", postern_channel_state_to_string (postern_channel_get_state (channel)));
  add_string_member (builder, "on_unexpected", postern_unexpected_policy_to_string (postern_channel_get_on_unexpected (channel)));
  add_string_member (builder, "farewell", postern_farewell_to_string (postern_channel_get_farewell (channel)));
  add_text_member (builder, "farewell_text", postern_channel_get_farewell_text (channel));
  add_time_member (builder, "created_at", postern_channel_get_created_at (channel));
  add_time_member (builder, "expires_at", postern_channel_get_expires_at (channel));
  add_int_member (builder, "revision", postern_channel_get_revision (channel));

  json_builder_set_member_name (builder, "expected_senders");
  json_builder_begin_array (builder);
  senders = postern_channel_get_expected_senders (channel);
  for (guint i = 0; i < senders->len; i++)
    {
      g_autofree char *text = postern_sender_pattern_to_string (g_ptr_array_index (senders, i));
      json_builder_add_string_value (builder, text);
    }
  json_builder_end_array (builder);

  json_builder_end_object (builder);

  return json_builder_get_root (builder);
}

typedef gboolean (*ChannelStringSetter) (PosternChannel *self, const char *value, GError **error);

static gboolean
read_channel_string (JsonObject *object,
                     const char *member,
                     PosternChannel *channel,
                     ChannelStringSetter setter,
                     GError **error)
{
  const char *text;
  GError *local_error = NULL;

  if (!read_string (object, member, &text, error))
    return FALSE;
  if (!setter (channel, text, &local_error))
    return json_error_from (error, member, local_error);

  return TRUE;
}

static gboolean
read_expected_senders (JsonObject *object,
                       PosternChannel *channel,
                       GError **error)
{
  const char *member = "expected_senders";
  JsonNode *node = get_member (object, member);
  JsonArray *array;

  if (node == NULL)
    return TRUE;
  if (!JSON_NODE_HOLDS_ARRAY (node))
    return json_error (error, member, "expected an array of sender patterns");

  array = json_node_get_array (node);
  for (guint i = 0; i < json_array_get_length (array); i++)
    {
      JsonNode *element = json_array_get_element (array, i);
      g_autoptr (PosternSenderPattern) pattern = NULL;
      g_autoptr (GError) local_error = NULL;
      g_autofree char *where = g_strdup_printf ("%s[%u]", member, i);

      if (!JSON_NODE_HOLDS_VALUE (element) || json_node_get_value_type (element) != G_TYPE_STRING)
        return json_error (error, where, "expected a string");

      pattern = postern_sender_pattern_parse (json_node_get_string (element), &local_error);
      if (pattern == NULL)
        return json_error_from (error, where, g_steal_pointer (&local_error));

      if (!postern_channel_add_expected_sender (channel, pattern, &local_error))
        return json_error_from (error, member, g_steal_pointer (&local_error));
    }

  return TRUE;
}

PosternChannel *
postern_channel_new_from_json (JsonNode *node,
                               GError **error)
{
  g_autoptr (PosternChannel) channel = NULL;
  JsonObject *object;
  int kind = POSTERN_CHANNEL_KIND_ONE_TIME;
  int state = POSTERN_CHANNEL_STATE_ACTIVE;
  int policy = POSTERN_UNEXPECTED_ALERT;
  int farewell = POSTERN_FAREWELL_REFUSE;
  gint64 created_at = 0, expires_at = 0, revision = 0;

  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  object = get_object (node, error);
  if (object == NULL)
    return NULL;

  channel = postern_channel_new ();

  if (!read_channel_string (object, "id", channel, postern_channel_set_id, error) || !read_channel_string (object, "address", channel, postern_channel_set_address, error) || !read_channel_string (object, "label", channel, postern_channel_set_label, error) || !read_channel_string (object, "note", channel, postern_channel_set_note, error) || !read_enum (object, "kind", POSTERN_TYPE_CHANNEL_KIND, &kind, FALSE, error) || !read_enum (object, "state", POSTERN_TYPE_CHANNEL_STATE, &state, FALSE, error) || !read_enum (object, "on_unexpected", POSTERN_TYPE_UNEXPECTED_POLICY, &policy, FALSE, error) || !read_enum (object, "farewell", POSTERN_TYPE_FAREWELL, &farewell, FALSE, error) || !read_channel_string (object, "farewell_text", channel, postern_channel_set_farewell_text, error) || !read_time (object, "created_at", &created_at, error) || !read_time (object, "expires_at", &expires_at, error) || !read_int (object, "revision", &revision, error) || !read_expected_senders (object, channel, error))
    return NULL;

  postern_channel_set_kind (channel, kind);
  postern_channel_set_state (channel, state);
  postern_channel_set_on_unexpected (channel, policy);
  postern_channel_set_farewell (channel, farewell);
  postern_channel_set_created_at (channel, created_at);
  postern_channel_set_expires_at (channel, expires_at);
  postern_channel_set_revision (channel, revision);

  return g_steal_pointer (&channel);
}

/* Events. */

JsonNode *
postern_event_to_json (PosternEvent *event)
{
  g_autoptr (JsonBuilder) builder = json_builder_new ();

  g_return_val_if_fail (POSTERN_IS_EVENT (event), NULL);

  json_builder_begin_object (builder);
  add_int_member (builder, "id", postern_event_get_id (event));
  add_string_member (builder, "channel_id", postern_event_get_channel_id (event));
  add_time_member (builder, "received_at", postern_event_get_received_at (event));
  add_string_member (builder, "envelope_sender", postern_event_get_envelope_sender (event));
  add_string_member (builder, "header_from", postern_event_get_header_from (event));
  add_string_member (builder, "subject", postern_event_get_subject (event));
  add_string_member (builder, "message_id", postern_event_get_message_id (event));
  add_int_member (builder, "size", postern_event_get_size (event));
  add_string_member (builder, "verdict", postern_verdict_to_string (postern_event_get_verdict (event)));
  json_builder_end_object (builder);

  return json_builder_get_root (builder);
}

PosternEvent *
postern_event_new_from_json (JsonNode *node,
                             GError **error)
{
  JsonObject *object;
  gint64 id = 0, received_at = 0, size = 0;
  const char *channel_id = NULL, *envelope_sender = NULL, *header_from = NULL;
  const char *subject = NULL, *message_id = NULL;
  int verdict = POSTERN_VERDICT_EXPECTED;

  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  object = get_object (node, error);
  if (object == NULL)
    return NULL;

  /* The channel and the verdict are what an event is about; without them
   * it cannot be shown or counted. The rest may be missing in mail. */
  if (!read_int (object, "id", &id, error) || !read_required_string (object, "channel_id", &channel_id, error) || !read_time (object, "received_at", &received_at, error) || !read_string (object, "envelope_sender", &envelope_sender, error) || !read_string (object, "header_from", &header_from, error) || !read_string (object, "subject", &subject, error) || !read_string (object, "message_id", &message_id, error) || !read_int (object, "size", &size, error) || !read_enum (object, "verdict", POSTERN_TYPE_VERDICT, &verdict, TRUE, error))
    return NULL;

  if (!postern_uuid_is_valid (channel_id))
    {
      json_error (error, "channel_id", "not a UUID");
      return NULL;
    }

  return postern_event_new (id, channel_id, received_at, envelope_sender, header_from, subject, message_id, size, verdict);
}

/* Block entries. */

JsonNode *
postern_block_entry_to_json (const PosternBlockEntry *entry)
{
  g_autoptr (JsonBuilder) builder = json_builder_new ();
  g_autofree char *pattern = NULL;

  g_return_val_if_fail (entry != NULL, NULL);

  pattern = postern_sender_pattern_to_string (entry->pattern);

  json_builder_begin_object (builder);
  add_int_member (builder, "id", entry->id);
  add_string_member (builder, "pattern", pattern);
  add_string_member (builder, "channel_id", entry->channel_id);
  add_time_member (builder, "created_at", entry->created_at);
  json_builder_end_object (builder);

  return json_builder_get_root (builder);
}

PosternBlockEntry *
postern_block_entry_new_from_json (JsonNode *node,
                                   GError **error)
{
  JsonObject *object;
  gint64 id = 0, created_at = 0;
  const char *pattern_text = NULL, *channel_id = NULL;
  g_autoptr (PosternSenderPattern) pattern = NULL;
  g_autoptr (GError) local_error = NULL;
  PosternBlockEntry *entry;

  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  object = get_object (node, error);
  if (object == NULL)
    return NULL;

  if (!read_int (object, "id", &id, error) || !read_required_string (object, "pattern", &pattern_text, error) || !read_string (object, "channel_id", &channel_id, error) || !read_time (object, "created_at", &created_at, error))
    return NULL;

  pattern = postern_sender_pattern_parse (pattern_text, &local_error);
  if (pattern == NULL)
    {
      json_error_from (error, "pattern", g_steal_pointer (&local_error));
      return NULL;
    }

  if (channel_id != NULL && !postern_uuid_is_valid (channel_id))
    {
      json_error (error, "channel_id", "not a UUID");
      return NULL;
    }

  entry = postern_block_entry_new (pattern, NULL);
  entry->id = id;
  entry->channel_id = channel_id != NULL ? g_ascii_strdown (channel_id, -1) : NULL;
  entry->created_at = created_at;

  return entry;
}

/* Shared helpers. */

char *
postern_json_format_time (gint64 unix_seconds)
{
  g_autoptr (GDateTime) time = g_date_time_new_from_unix_utc (unix_seconds);

  g_return_val_if_fail (time != NULL, NULL);

  return g_date_time_format (time, "%Y-%m-%dT%H:%M:%SZ");
}

gboolean
postern_json_parse_time (const char *text,
                         gint64 *out_unix_seconds,
                         GError **error)
{
  g_autoptr (GDateTime) time = NULL;

  g_return_val_if_fail (text != NULL, FALSE);
  g_return_val_if_fail (out_unix_seconds != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  /* No default time zone: a time without an explicit offset is refused
   * rather than guessed. Offsets other than Z are accepted and
   * converted. */
  time = g_date_time_new_from_iso8601 (text, NULL);
  if (time == NULL)
    {
      g_set_error (error, POSTERN_CORE_ERROR, POSTERN_CORE_ERROR_INVALID_JSON,
                   "expected an ISO 8601 time with a time zone, such as 2026-11-28T10:47:33Z");
      return FALSE;
    }

  *out_unix_seconds = g_date_time_to_unix (time);
  if (*out_unix_seconds < 0)
    {
      g_set_error (error, POSTERN_CORE_ERROR, POSTERN_CORE_ERROR_INVALID_JSON, "time is before 1970");
      return FALSE;
    }

  return TRUE;
}

char *
postern_json_to_string (JsonNode *node,
                        gboolean pretty)
{
  g_autoptr (JsonGenerator) generator = NULL;

  g_return_val_if_fail (node != NULL, NULL);

  generator = json_generator_new ();
  json_generator_set_root (generator, node);
  json_generator_set_pretty (generator, pretty);

  return json_generator_to_data (generator, NULL);
}

JsonNode *
postern_json_from_string (const char *text,
                          gssize length,
                          GError **error)
{
  g_autoptr (JsonParser) parser = NULL;
  g_autoptr (GError) local_error = NULL;
  gsize len;

  g_return_val_if_fail (text != NULL || length == 0, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  len = length < 0 ? strlen (text) : (gsize)length;
  if (len > 0 && memchr (text, '\0', len) != NULL)
    {
      g_set_error_literal (error, POSTERN_CORE_ERROR, POSTERN_CORE_ERROR_INVALID_JSON, "contains a NUL byte");
      return NULL;
    }
  if (!g_utf8_validate_len (text, len, NULL))
    {
      g_set_error_literal (error, POSTERN_CORE_ERROR, POSTERN_CORE_ERROR_INVALID_JSON, "not valid UTF-8");
      return NULL;
    }

  parser = json_parser_new ();
  if (!json_parser_load_from_data (parser, text != NULL ? text : "", (gssize)len, &local_error))
    {
      g_set_error (error, POSTERN_CORE_ERROR, POSTERN_CORE_ERROR_INVALID_JSON, "malformed JSON: %s", local_error->message);
      return NULL;
    }

  if (json_parser_get_root (parser) == NULL)
    {
      g_set_error_literal (error, POSTERN_CORE_ERROR, POSTERN_CORE_ERROR_INVALID_JSON, "empty JSON document");
      return NULL;
    }

  return json_parser_steal_root (parser);
}
