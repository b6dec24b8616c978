/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib-object.h>

#include "postern-core.h"

G_BEGIN_DECLS

#define POSTERN_TYPE_CHANNEL_ITEM (postern_channel_item_get_type ())

G_DECLARE_FINAL_TYPE (PosternChannelItem, postern_channel_item, POSTERN, CHANNEL_ITEM, GObject)

/*
 * One row of the channel list: the channel as the agent last reported it,
 * plus what the app derives from events (last activity, unread alerts,
 * senders seen) and whether a change to it is still queued in the agent.
 * Properties: "channel", "id", "label", "address", "state", "unread-alerts",
 * "last-activity" (unix seconds), "pending".
 */
PosternChannelItem *postern_channel_item_new (PosternChannel *channel);

PosternChannel *postern_channel_item_get_channel (PosternChannelItem *self);
/* Replaces the channel snapshot; notifies the derived properties that
 * changed. */
void postern_channel_item_set_channel (PosternChannelItem *self,
                                       PosternChannel *channel);

const char *postern_channel_item_get_id (PosternChannelItem *self);
const char *postern_channel_item_get_label (PosternChannelItem *self);
const char *postern_channel_item_get_address (PosternChannelItem *self);
PosternChannelState postern_channel_item_get_state (PosternChannelItem *self);

guint postern_channel_item_get_unread_alerts (PosternChannelItem *self);
void postern_channel_item_set_unread_alerts (PosternChannelItem *self,
                                             guint unread_alerts);

gint64 postern_channel_item_get_last_activity (PosternChannelItem *self);
/* Moves last activity forward to @unix_seconds; never backwards. */
void postern_channel_item_touch (PosternChannelItem *self,
                                 gint64 unix_seconds);

gboolean postern_channel_item_get_pending (PosternChannelItem *self);
void postern_channel_item_set_pending (PosternChannelItem *self,
                                       gboolean pending);

/* Records a sender seen on this channel so that search finds it. */
void postern_channel_item_add_seen_sender (PosternChannelItem *self,
                                           const char *sender);

/* Whether label, address, an expected sender or a seen sender contains
 * @folded_needle, which must already be case-folded (g_utf8_casefold). */
gboolean postern_channel_item_matches (PosternChannelItem *self,
                                       const char *folded_needle);

G_END_DECLS
