/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <adwaita.h>

#include "postern-channel-store.h"

G_BEGIN_DECLS

#define POSTERN_TYPE_CHANNEL_DETAIL (postern_channel_detail_get_type ())

G_DECLARE_FINAL_TYPE (PosternChannelDetail, postern_channel_detail, POSTERN, CHANNEL_DETAIL, AdwBin)

/*
 * One channel: the address with its QR code, label and note, the policy for
 * strangers, expected senders, state, held mail and the activity timeline
 * with Trust / Block / Revoke on unexpected mail. Widget actions:
 * detail.trust-sender (s), detail.untrust-sender (s), detail.block ((ss):
 * pattern, channel id or "" for all), detail.release-held (x),
 * detail.drop-held (x). Channel-wide actions (copy, QR, pause, revoke) are
 * the window's channel.* actions.
 */
void postern_channel_detail_set_store (PosternChannelDetail *self,
                                       PosternChannelStore *store);
PosternChannelItem *postern_channel_detail_get_item (PosternChannelDetail *self);
void postern_channel_detail_set_item (PosternChannelDetail *self,
                                      PosternChannelItem *item);
/* Fetches the timeline and held mail again. */
void postern_channel_detail_reload (PosternChannelDetail *self);
/* What the QR code shows, "" for nothing. */
const char *postern_channel_detail_get_qr_payload (PosternChannelDetail *self);
/* How many held messages of the channel are shown. */
guint postern_channel_detail_get_n_held (PosternChannelDetail *self);
/* How many shares the timeline shows. */
guint postern_channel_detail_get_n_shares (PosternChannelDetail *self);
/* The address label, for the test hooks. */
GtkLabel *postern_channel_detail_get_address_label (PosternChannelDetail *self);

G_END_DECLS
