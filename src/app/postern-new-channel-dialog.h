/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <adwaita.h>
#include <json-glib/json-glib.h>

#include "postern-application.h"

G_BEGIN_DECLS

typedef enum
{
  POSTERN_NEW_CHANNEL_ASK = 0,
  /* Create with the defaults at once (the tray's "New address"). */
  POSTERN_NEW_CHANNEL_CREATE_NOW = 1 << 0,
  /* Then show the QR code full screen (one-time kind). */
  POSTERN_NEW_CHANNEL_FULLSCREEN = 1 << 1,
} PosternNewChannelFlags;

#define POSTERN_TYPE_NEW_CHANNEL_DIALOG (postern_new_channel_dialog_get_type ())

G_DECLARE_FINAL_TYPE (PosternNewChannelDialog, postern_new_channel_dialog, POSTERN, NEW_CHANNEL_DIALOG, AdwWindow)

/*
 * Label, kind (one-time by default), an optional expected sender and an
 * expiry; Create asks the agent, then shows the address big, copies it to
 * the clipboard and shows its QR code. Widget actions: new-channel.create,
 * new-channel.copy, new-channel.fullscreen. Signal "created"
 * (PosternChannelItem *item).
 */
GtkWidget *postern_new_channel_dialog_new (PosternApplication *application,
                                           GtkWindow *parent,
                                           const char *label,
                                           PosternNewChannelFlags flags);

/* The channel created, or NULL before Create succeeded. */
PosternChannelItem *postern_new_channel_dialog_get_item (PosternNewChannelDialog *self);

void postern_new_channel_dialog_dump_state (PosternNewChannelDialog *self,
                                            JsonBuilder *builder);

G_END_DECLS
