/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

#include "postern-client.h"
#include "postern-tray-item.h"

G_BEGIN_DECLS

#define POSTERN_AGENT_TRAY_MAX_RECENT 8

#define POSTERN_TYPE_AGENT_TRAY (postern_agent_tray_get_type ())

G_DECLARE_FINAL_TYPE (PosternAgentTray, postern_agent_tray, POSTERN, AGENT_TRAY, GObject)

/*
 * PosternAgentTray: the agent's tray icon and menu. The menu is one
 * GMenuModel over the application's actions (open, new-channel,
 * new-one-time-qr, copy, show-qr, pause, revoke, quit: see postern-agent.h),
 * exported as com.canonical.dbusmenu at /MenuBar next to a
 * StatusNotifierItem, both on the application's own bus connection. Where
 * no tray host exists the objects wait quietly.
 *
 * Fed either by postern_agent_tray_bind_engine() or, in tests, by the
 * setters.
 */
PosternAgentTray *postern_agent_tray_new (GApplication *application,
                                          GError **error);

void postern_agent_tray_bind_engine (PosternAgentTray *self,
                                     PosternSyncEngine *engine);

/* @channels: a list of PosternChannel, newest first (the engine's list). */
void postern_agent_tray_set_channels (PosternAgentTray *self,
                                      GListModel *channels);
/* Re-reads the channels (a label or state changed in place). */
void postern_agent_tray_refresh (PosternAgentTray *self);
void postern_agent_tray_set_unread_alerts (PosternAgentTray *self,
                                           guint unread_alerts);
void postern_agent_tray_set_online (PosternAgentTray *self,
                                    gboolean online,
                                    const char *status_message);

GMenuModel *postern_agent_tray_get_menu (PosternAgentTray *self);
PosternTrayItem *postern_agent_tray_get_item (PosternAgentTray *self);

G_END_DECLS
