/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

#include "postern-client.h"

G_BEGIN_DECLS

#define POSTERN_TYPE_AGENT_PORTAL (postern_agent_portal_get_type ())

G_DECLARE_FINAL_TYPE (PosternAgentPortal, postern_agent_portal, POSTERN, AGENT_PORTAL, GObject)

/*
 * PosternAgentPortal: the agent's use of the Background portal
 * (org.freedesktop.portal.Background on org.freedesktop.portal.Desktop)
 * inside Flatpak.
 *
 * - RequestBackground once: a reason, autostart=true, commandline
 *   ['postern-agent'], dbus-activatable=false. The answer (a
 *   org.freedesktop.portal.Request Response) is only logged: the agent
 *   runs either way while the session lasts.
 * - SetStatus({"message": …}) with a short status ("Synced", "Offline",
 *   …) when it changes, only where the portal's `version` property is 2
 *   or more (SetStatus appeared in version 2).
 */

/* Whether the agent runs inside Flatpak (/.flatpak-info exists). For tests
 * only, POSTERN_FORCE_FLATPAK=1 in the environment makes it TRUE. */
gboolean postern_agent_portal_in_sandbox (void);

/* The status shown for @status, or NULL to keep the last one (connecting
 * flips with offline on every retry and would only flicker). */
const char *postern_agent_portal_status_text (PosternSyncStatus status);

PosternAgentPortal *postern_agent_portal_new (GDBusConnection *connection);

/* Asks once; later calls do nothing. */
void postern_agent_portal_request_background (PosternAgentPortal *self,
                                              const char *reason);
/* Sent when it differs from the last one sent, once the portal's version
 * is known to have SetStatus. */
void postern_agent_portal_set_status (PosternAgentPortal *self,
                                      const char *message);
/* Follows the engine's status with postern_agent_portal_set_status(). */
void postern_agent_portal_bind_engine (PosternAgentPortal *self,
                                       PosternSyncEngine *engine);

/* For tests: whether the portal has answered RequestBackground, and
 * whether it allowed running in the background. */
gboolean postern_agent_portal_get_answered (PosternAgentPortal *self,
                                            gboolean *out_background);

G_END_DECLS
