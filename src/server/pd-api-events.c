/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "pd-api-private.h"

/* Events, the blocklist and held mail. */

#define EVENTS_DEFAULT_LIMIT 100

void
pd_api_events_list (PdApiRequest *req)
{
  PdStore *store = pd_api_server_get_store (req->server);
  g_autoptr (GPtrArray) events = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonBuilder) builder = json_builder_new ();
  g_autoptr (PosternChannel) channel = NULL;
  const char *order = pd_api_query (req, "order");
  const char *channel_id = pd_api_query (req, "channel");
  const char *verdict_name = pd_api_query (req, "verdict");
  gboolean newest_first = FALSE;
  gint64 since = 0, before = 0, limit = EVENTS_DEFAULT_LIMIT;
  gint64 cursor;
  int verdict = -1;

  if (!pd_api_query_int (req, "since", 0, G_MAXINT64, 0, &since) || !pd_api_query_int (req, "before", 0, G_MAXINT64, 0, &before) || !pd_api_query_int (req, "limit", 1, PD_API_MAX_EVENTS_PAGE, EVENTS_DEFAULT_LIMIT, &limit))
    return;
  if (order != NULL)
    {
      if (g_str_equal (order, "desc"))
        newest_first = TRUE;
      else if (!g_str_equal (order, "asc"))
        {
          pd_api_reply_problem (req, SOUP_STATUS_BAD_REQUEST, "invalid-field", "Invalid field",
                                "order", "order: expected one of asc, desc");
          return;
        }
    }
  if (verdict_name != NULL)
    {
      PosternVerdict value;

      if (!postern_verdict_from_string (verdict_name, &value, &error))
        {
          pd_api_reply_problem (req, SOUP_STATUS_BAD_REQUEST, "invalid-field", "Invalid field",
                                "verdict", "verdict: %s", error->message);
          return;
        }
      verdict = (int)value;
    }
  if (channel_id != NULL)
    {
      channel = pd_api_lookup_channel (req, channel_id);
      if (channel == NULL)
        return;
    }

  events = pd_store_list_events (store, req->user_id, newest_first ? 0 : since, newest_first ? before : 0,
                                 (guint)limit, newest_first, channel_id, verdict, &error);
  if (events == NULL)
    {
      pd_api_reply_error (req, error);
      return;
    }

  /* The cursor is what the client passes back: since= for asc, before=
   * for desc. */
  cursor = newest_first ? before : since;
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "events");
  json_builder_begin_array (builder);
  for (guint i = 0; i < events->len; i++)
    {
      PosternEvent *event = g_ptr_array_index (events, i);

      cursor = postern_event_get_id (event);
      json_builder_add_value (builder, postern_event_to_json (event));
    }
  json_builder_end_array (builder);
  json_builder_set_member_name (builder, "cursor");
  json_builder_add_int_value (builder, cursor);
  json_builder_set_member_name (builder, "latest");
  json_builder_add_int_value (builder, pd_store_get_latest_event_id (store, req->user_id));
  json_builder_end_object (builder);
  pd_api_reply_json (req, SOUP_STATUS_OK, json_builder_get_root (builder));
}

/* ---- blocklist ---- */

void
pd_api_blocks_list (PdApiRequest *req)
{
  g_autoptr (GPtrArray) blocks = NULL;
  g_autoptr (GError) error = NULL;

  blocks = pd_store_list_blocks (pd_api_server_get_store (req->server), req->user_id, &error);
  if (blocks == NULL)
    {
      pd_api_reply_error (req, error);
      return;
    }
  pd_api_reply_list (req, "blocks", blocks, (PdApiToJsonFunc)postern_block_entry_to_json);
}

void
pd_api_blocks_add (PdApiRequest *req)
{
  g_autoptr (JsonObject) body = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (PosternSenderPattern) pattern = NULL;
  g_autoptr (PosternChannel) channel = NULL;
  g_autoptr (PosternBlockEntry) entry = NULL;
  const char *text = NULL;
  const char *channel_id = NULL;
  gboolean present = FALSE;

  body = pd_api_read_object (req);
  if (body == NULL || !pd_api_member_string (req, body, "pattern", PD_API_MEMBER_REQUIRED, &text, NULL) || !pd_api_member_string (req, body, "channel_id", PD_API_MEMBER_NULLABLE, &channel_id, &present))
    return;
  pattern = postern_sender_pattern_parse (text, &error);
  if (pattern == NULL)
    {
      pd_api_reply_problem (req, SOUP_STATUS_BAD_REQUEST, "invalid-field", "Invalid field",
                            "pattern", "pattern: %s", error->message);
      return;
    }
  if (present)
    {
      if (!postern_uuid_is_valid (channel_id))
        {
          pd_api_reply_problem (req, SOUP_STATUS_BAD_REQUEST, "invalid-field", "Invalid field",
                                "channel_id", "channel_id: expected a UUID or null");
          return;
        }
      channel = pd_api_lookup_channel (req, channel_id);
      if (channel == NULL)
        return;
    }

  entry = pd_store_add_block (pd_api_server_get_store (req->server), req->user_id, pattern,
                              channel != NULL ? postern_channel_get_id (channel) : NULL, &error);
  if (entry == NULL)
    {
      pd_api_reply_error (req, error);
      return;
    }
  pd_api_reply_json (req, SOUP_STATUS_CREATED, postern_block_entry_to_json (entry));
}

void
pd_api_blocks_remove (PdApiRequest *req)
{
  g_autoptr (GError) error = NULL;
  gint64 block_id;

  if (!g_ascii_string_to_signed (req->segments[1], 10, 1, G_MAXINT64, &block_id, NULL))
    {
      pd_api_reply_not_found (req);
      return;
    }
  if (!pd_store_remove_block (pd_api_server_get_store (req->server), req->user_id, block_id, &error))
    {
      pd_api_reply_error (req, error);
      return;
    }
  pd_api_reply_empty (req, SOUP_STATUS_NO_CONTENT);
}

/* ---- held mail ---- */

static JsonNode *
held_to_json (const PdDelivery *delivery)
{
  g_autoptr (JsonBuilder) builder = json_builder_new ();
  g_autofree char *held_at = postern_json_format_time (delivery->created_at);

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "id");
  json_builder_add_int_value (builder, delivery->id);
  json_builder_set_member_name (builder, "channel_id");
  json_builder_add_string_value (builder, delivery->channel_id);
  json_builder_set_member_name (builder, "held_at");
  json_builder_add_string_value (builder, held_at);
  json_builder_set_member_name (builder, "event");
  if (delivery->event != NULL)
    json_builder_add_value (builder, postern_event_to_json (delivery->event));
  else
    json_builder_add_null_value (builder);
  json_builder_end_object (builder);
  return json_builder_get_root (builder);
}

void
pd_api_held_list (PdApiRequest *req)
{
  g_autoptr (GPtrArray) held = NULL;
  g_autoptr (GError) error = NULL;

  held = pd_store_list_held (pd_api_server_get_store (req->server), req->user_id, &error);
  if (held == NULL)
    {
      pd_api_reply_error (req, error);
      return;
    }
  pd_api_reply_list (req, "held", held, (PdApiToJsonFunc)held_to_json);
}

static void
resolve_held (PdApiRequest *req,
              gboolean release)
{
  PdStore *store = pd_api_server_get_store (req->server);
  g_autoptr (GError) error = NULL;
  gint64 delivery_id;
  gboolean ok;

  if (!g_ascii_string_to_signed (req->segments[1], 10, 1, G_MAXINT64, &delivery_id, NULL))
    {
      pd_api_reply_not_found (req);
      return;
    }
  if (release)
    ok = pd_store_release_held (store, req->user_id, delivery_id, &error);
  else
    ok = pd_store_drop_held (store, req->user_id, delivery_id, &error);
  if (!ok)
    {
      pd_api_reply_error (req, error);
      return;
    }
  pd_api_reply_empty (req, SOUP_STATUS_NO_CONTENT);
}

void
pd_api_held_release (PdApiRequest *req)
{
  resolve_held (req, TRUE);
}

void
pd_api_held_drop (PdApiRequest *req)
{
  resolve_held (req, FALSE);
}
