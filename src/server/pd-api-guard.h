/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <libsoup/soup.h>

G_BEGIN_DECLS

/*
 * Limits SoupServer does not have: at most @max_connections connections at
 * once and @max_per_client from one address (more are shut down as they
 * arrive), and a deadline: a request must have sent its headers within
 * @header_timeout seconds of the connection being ready for it, which
 * bounds the TLS handshake (the first request starts before it) and slow
 * headers.
 *
 * It watches SoupServer::request-started, which fires for a connection's
 * first message before its TLS handshake and for each later one. A
 * connection counts until its socket is closed, WebSocket upgrades
 * included. The guard runs on the server's main context only.
 *
 * Idle keep-alive connections are not bounded here: libsoup 3.2 does not
 * notice a client closing one (it stays in CLOSE_WAIT until the server
 * stops), so the API answers every plain request with Connection: close.
 */

#define PD_TYPE_API_GUARD (pd_api_guard_get_type ())
G_DECLARE_FINAL_TYPE (PdApiGuard, pd_api_guard, PD, API_GUARD, GObject)

PdApiGuard *pd_api_guard_new (SoupServer *server,
                              guint max_connections,
                              guint max_per_client,
                              guint header_timeout);
guint pd_api_guard_get_n_connections (PdApiGuard *self);

G_END_DECLS
