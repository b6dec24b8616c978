/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <json-glib/json-glib.h>

#include "postern-block-entry.h"
#include "postern-channel.h"
#include "postern-event.h"

G_BEGIN_DECLS

/*
 * The wire form of the model (docs/api.md). Unknown members are ignored;
 * a member of the wrong type or an invalid value is refused with
 * %POSTERN_CORE_ERROR_INVALID_JSON and a message naming the member, e.g.
 * "kind: expected one of one-time, relationship, open".
 * Times are ISO 8601 UTC strings ("2026-11-28T10:47:33Z"), or null.
 */
JsonNode *postern_channel_to_json (PosternChannel *channel);
PosternChannel *postern_channel_new_from_json (JsonNode *node, GError **error);

JsonNode *postern_event_to_json (PosternEvent *event);
PosternEvent *postern_event_new_from_json (JsonNode *node, GError **error);

JsonNode *postern_block_entry_to_json (const PosternBlockEntry *entry);
PosternBlockEntry *postern_block_entry_new_from_json (JsonNode *node, GError **error);

/* Helpers shared by every JSON reader in Postern. */
char *postern_json_format_time (gint64 unix_seconds);
gboolean postern_json_parse_time (const char *text, gint64 *out_unix_seconds, GError **error);
char *postern_json_to_string (JsonNode *node, gboolean pretty);
JsonNode *postern_json_from_string (const char *text, gssize length, GError **error);

G_END_DECLS
