/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <libsoup/soup.h>

G_BEGIN_DECLS

/*
 * Limits SoupServer does not have: at most @max_connections connections at
 * once and @max_per_client from one address (more are shut down as they
 * arrive), and a deadline of @header_timeout seconds for a request's
 * headers once the connection is ready for it (bounding the TLS handshake,
 * as the first request starts before it, and slow headers) and for a
 * keep-alive connection's wait between requests.
 *
 * The idle deadline matters beyond slow clients: libsoup 3.2 does not
 * notice a client closing a keep-alive connection between requests, which
 * would otherwise stay in CLOSE_WAIT until the server stops. (The API also
 * answers with Connection: close, as libsoup keeps such a connection's
 * objects even once its socket is closed.)
 *
 * It watches SoupServer::request-started (for a connection's first message
 * before its TLS handshake, then for each later one) and ::request-finished.
 * A connection counts until its socket is closed, WebSocket upgrades
 * included. The guard runs on the server's main context only.
 */

#define PD_TYPE_API_GUARD (pd_api_guard_get_type ())
G_DECLARE_FINAL_TYPE (PdApiGuard, pd_api_guard, PD, API_GUARD, GObject)

PdApiGuard *pd_api_guard_new (SoupServer *server,
                              guint max_connections,
                              guint max_per_client,
                              guint header_timeout);
guint pd_api_guard_get_n_connections (PdApiGuard *self);

G_END_DECLS
