/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include "postern-agent-dbus.h"
#include "postern-client.h"

G_BEGIN_DECLS

#define POSTERN_AGENT_OBJECT_PATH "/io/github/postern/Postern/Agent"

#define POSTERN_TYPE_AGENT_SERVICE (postern_agent_service_get_type ())

G_DECLARE_FINAL_TYPE (PosternAgentService, postern_agent_service, POSTERN, AGENT_SERVICE, PosternDBusAgent1Skeleton)

/*
 * PosternAgentService: the io.github.postern.Postern.Agent1 object. Answers
 * the methods from @engine and forwards the engine's signals.
 *
 * Until postern_agent_service_set_ready() is called (the engine has loaded
 * the keyring copy), method calls wait in a queue instead of being answered
 * from an empty list: D-Bus activation by `posternctl list` must not print
 * nothing.
 */
PosternAgentService *postern_agent_service_new (PosternSyncEngine *engine);
PosternSyncEngine *postern_agent_service_get_engine (PosternAgentService *self);

void postern_agent_service_set_ready (PosternAgentService *self);
gboolean postern_agent_service_get_ready (PosternAgentService *self);

/* The a{sv} of GetStatus and StatusChanged (floating). */
GVariant *postern_agent_service_build_status (PosternSyncEngine *engine);

G_END_DECLS
