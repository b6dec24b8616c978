/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <adwaita.h>
#include <json-glib/json-glib.h>

#include "postern-application.h"
#include "postern-new-channel-dialog.h"

G_BEGIN_DECLS

#define POSTERN_TYPE_WINDOW (postern_window_get_type ())

G_DECLARE_FINAL_TYPE (PosternWindow, postern_window, POSTERN, WINDOW, AdwApplicationWindow)

/*
 * The main window: channel list (search, filter) and the selected
 * channel's detail in an AdwLeaflet that folds at phone width. Widget
 * actions on the selected channel: channel.copy-address, channel.show-qr,
 * channel.pause, channel.resume, channel.revoke (asks first).
 */
GtkWidget *postern_window_new (PosternApplication *application);

/* Selects and shows the channel; FALSE when the store does not know it. */
gboolean postern_window_show_channel (PosternWindow *self,
                                      const char *id);
void postern_window_new_channel (PosternWindow *self,
                                 const char *label,
                                 PosternNewChannelFlags flags);
void postern_window_pair (PosternWindow *self,
                          const char *uri);
void postern_window_add_toast (PosternWindow *self,
                               const char *title);

/* For tests: what the window shows, as members of the current object. */
void postern_window_dump_state (PosternWindow *self,
                                JsonBuilder *builder);

G_END_DECLS
