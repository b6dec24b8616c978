/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib-object.h>

#include "postern-enums.h"

G_BEGIN_DECLS

#define POSTERN_EVENT_MAX_FIELD 998 /* octets, like a header line */

#define POSTERN_TYPE_EVENT (postern_event_get_type ())

G_DECLARE_FINAL_TYPE (PosternEvent, postern_event, POSTERN, EVENT, GObject)

/*
 * One message seen on a channel. Read-only properties set at construction
 * through postern_event_new(): "id" (the cursor: server-assigned, monotonic
 * per user), "channel-id", "received-at" (unix seconds), "envelope-sender"
 * ("" for `<>`), "header-from" (NULL when absent), "subject", "message-id",
 * "size" (octets), "verdict". Text fields are valid UTF-8, truncated to
 * POSTERN_EVENT_MAX_FIELD.
 */
PosternEvent *postern_event_new (gint64 id,
                                 const char *channel_id,
                                 gint64 received_at,
                                 const char *envelope_sender,
                                 const char *header_from,
                                 const char *subject,
                                 const char *message_id,
                                 gint64 size,
                                 PosternVerdict verdict);

gint64 postern_event_get_id (PosternEvent *self);
const char *postern_event_get_channel_id (PosternEvent *self);
gint64 postern_event_get_received_at (PosternEvent *self);
const char *postern_event_get_envelope_sender (PosternEvent *self);
const char *postern_event_get_header_from (PosternEvent *self);
const char *postern_event_get_subject (PosternEvent *self);
const char *postern_event_get_message_id (PosternEvent *self);
gint64 postern_event_get_size (PosternEvent *self);
PosternVerdict postern_event_get_verdict (PosternEvent *self);

G_END_DECLS
