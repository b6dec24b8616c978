/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gtk/gtk.h>

#include "postern-channel-item.h"

G_BEGIN_DECLS

#define POSTERN_TYPE_CHANNEL_ROW (postern_channel_row_get_type ())

G_DECLARE_FINAL_TYPE (PosternChannelRow, postern_channel_row, POSTERN, CHANNEL_ROW, GtkBox)

/* One channel in the list: label, address, state, unread alerts (they
 * stand out), pending changes and the time of the last activity. Rows are
 * recycled: postern_channel_row_set_item() rebinds. */
GtkWidget *postern_channel_row_new (void);

PosternChannelItem *postern_channel_row_get_item (PosternChannelRow *self);
void postern_channel_row_set_item (PosternChannelRow *self,
                                   PosternChannelItem *item);

/* "14:05" today, "Yesterday", else a short date; for rows and timelines. */
char *postern_format_time (gint64 unix_seconds);

G_END_DECLS
