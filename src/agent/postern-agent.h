/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

#include "postern-agent-service.h"
#include "postern-client.h"

G_BEGIN_DECLS

#define POSTERN_TYPE_AGENT (postern_agent_get_type ())

G_DECLARE_FINAL_TYPE (PosternAgent, postern_agent, POSTERN, AGENT, GApplication)

/*
 * PosternAgent: the postern-agent process (application id
 * io.github.postern.Postern.Agent, a D-Bus activatable service). It owns
 * the sync engine and exports PosternAgentService.
 *
 * Actions (its GActionGroup, also exported by GApplication as org.gtk.Actions
 * and used by the tray menu and notification buttons; docs/agent.md):
 *   open                 show the app
 *   new-channel          create a channel and let the app copy/show it
 *   new-one-time-qr      create a one-time channel and show its QR in the app
 *   copy (s)             ask the app to copy the channel's address
 *   show-qr (s)          ask the app to show the channel's QR code
 *   pause (s)            pause the channel with this id
 *   revoke (s)           revoke the channel with this id
 *   trust ((ss))         (channel id, sender pattern): trust that sender
 *   quit                 stop the agent (keyring writes are flushed first)
 *
 * The tray and notification code hook in with postern_agent_get_sync_engine()
 * (its signals: "alert", "status-changed", …) and these actions.
 */
PosternAgent *postern_agent_new (void);

PosternSyncEngine *postern_agent_get_sync_engine (PosternAgent *self);
/* %NULL until the agent is registered on the bus. */
PosternAgentService *postern_agent_get_service (PosternAgent *self);

G_END_DECLS
