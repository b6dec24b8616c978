/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/**
 * PosternTrayStatus:
 * @POSTERN_TRAY_STATUS_PASSIVE: nothing to show; hosts may hide the icon
 * @POSTERN_TRAY_STATUS_ACTIVE: the normal state
 * @POSTERN_TRAY_STATUS_NEEDS_ATTENTION: unread alerts
 *
 * The StatusNotifierItem `Status` property.
 */
typedef enum
{
  POSTERN_TRAY_STATUS_PASSIVE,
  POSTERN_TRAY_STATUS_ACTIVE,
  POSTERN_TRAY_STATUS_NEEDS_ATTENTION,
} PosternTrayStatus;

#define POSTERN_TYPE_TRAY_STATUS (postern_tray_status_get_type ())
GType postern_tray_status_get_type (void);

#define POSTERN_TRAY_ITEM_OBJECT_PATH "/StatusNotifierItem"
#define POSTERN_TRAY_WATCHER_NAME     "org.kde.StatusNotifierWatcher"

#define POSTERN_TYPE_TRAY_ITEM (postern_tray_item_get_type ())
G_DECLARE_FINAL_TYPE (PosternTrayItem, postern_tray_item, POSTERN, TRAY_ITEM, GObject)

PosternTrayItem *postern_tray_item_new (GDBusConnection *connection,
                                        const char *id,
                                        const char *menu_path,
                                        GError **error);

GDBusConnection *postern_tray_item_get_connection (PosternTrayItem *self);
const char *postern_tray_item_get_id (PosternTrayItem *self);

const char *postern_tray_item_get_title (PosternTrayItem *self);
void postern_tray_item_set_title (PosternTrayItem *self,
                                  const char *title);

const char *postern_tray_item_get_icon_name (PosternTrayItem *self);
void postern_tray_item_set_icon_name (PosternTrayItem *self,
                                      const char *icon_name);

const char *postern_tray_item_get_attention_icon_name (PosternTrayItem *self);
void postern_tray_item_set_attention_icon_name (PosternTrayItem *self,
                                                const char *icon_name);

const char *postern_tray_item_get_overlay_icon_name (PosternTrayItem *self);
void postern_tray_item_set_overlay_icon_name (PosternTrayItem *self,
                                              const char *icon_name);

const char *postern_tray_item_get_icon_theme_path (PosternTrayItem *self);
void postern_tray_item_set_icon_theme_path (PosternTrayItem *self,
                                            const char *path);

PosternTrayStatus postern_tray_item_get_status (PosternTrayItem *self);
void postern_tray_item_set_status (PosternTrayItem *self,
                                   PosternTrayStatus status);

const char *postern_tray_item_get_tooltip_title (PosternTrayItem *self);
const char *postern_tray_item_get_tooltip_body (PosternTrayItem *self);
void postern_tray_item_set_tooltip (PosternTrayItem *self,
                                    const char *title,
                                    const char *body);

gboolean postern_tray_item_get_registered (PosternTrayItem *self);

char *postern_tray_item_take_activation_token (PosternTrayItem *self);

G_END_DECLS
