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
 *   new-channel          app.new-address: create, copy and show an address
 *   new-one-time-qr      app.new-address-qr: a one-time address as a QR code
 *   copy (s)             app.copy-address: copy the channel's address
 *   show-qr (s)          app.show-qr: the channel's QR code full screen
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
