/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <libsoup/soup.h>

G_BEGIN_DECLS

/*
 * The API's TCP listener. SoupServer has no limits of its own on
 * connections, so this accepts them itself: at most @max_connections at
 * once and @max_per_client from one address (more are closed at once), the
 * TLS handshake done here under a deadline, and only then the connection
 * handed to the SoupServer (soup_server_accept_iostream). A connection
 * counts until its stream is gone, WebSocket upgrades included.
 */

#define PD_TYPE_API_LISTENER (pd_api_listener_get_type ())
G_DECLARE_FINAL_TYPE (PdApiListener, pd_api_listener, PD, API_LISTENER, GObject)

/* @certificate NULL: plain HTTP. */
PdApiListener *pd_api_listener_new (SoupServer *server,
                                    GTlsCertificate *certificate,
                                    guint max_connections,
                                    guint max_per_client,
                                    guint handshake_timeout);
/* Binds @address; returns the bound address (port 0 picks one). */
GSocketAddress *pd_api_listener_listen (PdApiListener *self, GSocketAddress *address, GError **error);
void pd_api_listener_stop (PdApiListener *self);
guint pd_api_listener_get_n_connections (PdApiListener *self);

G_END_DECLS
