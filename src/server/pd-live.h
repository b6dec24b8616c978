/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <libsoup/soup.h>

#include "pd-store-auth.h"
#include "pd-store.h"

G_BEGIN_DECLS

/*
 * Live push over WebSocket (/api/v1/live). A subscriber connects with the
 * last event id (cursor) and channel revision it has; it first receives
 * every channel with a newer revision, then every event after the cursor
 * (in pages, oldest first), then {"type":"synced"}, then new events and
 * channel changes as the store commits them. Events carry their id, so a
 * client that reconnects with the last id it saw misses and repeats
 * nothing.
 */

#define PD_LIVE_MAX_SUBSCRIBERS          1024
#define PD_LIVE_MAX_SUBSCRIBERS_PER_USER 16
#define PD_LIVE_BACKLOG_PAGE             200
#define PD_LIVE_MAX_INCOMING_PAYLOAD     4096

#define PD_TYPE_LIVE (pd_live_get_type ())
G_DECLARE_FINAL_TYPE (PdLive, pd_live, PD, LIVE, GObject)

/* @auth (nullable): every @ping_interval seconds the subscribers' devices
 * are checked and the connections of revoked ones closed, which catches
 * revocations made outside this process (`posternd device revoke`). */
PdLive *pd_live_new (PdStore *store, PdStoreAuth *auth, guint ping_interval);

/* FALSE (and nothing taken) when the limits are reached. */
gboolean pd_live_can_add (PdLive *self, gint64 user_id);
void pd_live_add (PdLive *self,
                  SoupWebsocketConnection *connection,
                  gint64 user_id,
                  gint64 device_id,
                  gint64 cursor,
                  gint64 revision);
/* Closes the connections of a revoked device. */
void pd_live_close_device (PdLive *self, gint64 device_id);
void pd_live_close_all (PdLive *self);
guint pd_live_get_n_subscribers (PdLive *self);

G_END_DECLS
