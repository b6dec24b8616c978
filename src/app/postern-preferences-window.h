/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <adwaita.h>
#include <json-glib/json-glib.h>

#include "postern-application.h"

G_BEGIN_DECLS

#define POSTERN_TYPE_PREFERENCES_WINDOW (postern_preferences_window_get_type ())

G_DECLARE_FINAL_TYPE (PosternPreferencesWindow, postern_preferences_window, POSTERN, PREFERENCES_WINDOW, AdwPreferencesWindow)

/* Defaults for new channels, QR contents, notifications, start at login,
 * and the server account (with its certificate fingerprint, and sign out). */
GtkWidget *postern_preferences_window_new (PosternApplication *application);

/* For tests: what the window shows, as members of the current object. */
void postern_preferences_window_dump_state (PosternPreferencesWindow *self,
                                            JsonBuilder *builder);

/* Writes or hides the agent's XDG autostart entry in @config_dir. */
gboolean postern_preferences_set_autostart (const char *config_dir,
                                            gboolean enabled,
                                            GError **error);

G_END_DECLS
