/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

#include "pd-config.h"
#include "pd-smtp-session.h"

G_BEGIN_DECLS

#define PD_TYPE_SMTP_SERVER (pd_smtp_server_get_type ())
G_DECLARE_FINAL_TYPE (PdSmtpServer, pd_smtp_server, PD, SMTP_SERVER, GObject)

/*
 * The SMTP and LMTP listeners: one PdAcceptor (a GSocket watched by one
 * source for its life) per configured address, every connection driven
 * asynchronously on the main context (no thread per session) through a
 * PdSmtpSession. The connection does the I/O the session
 * asks for: replies, reads, the STARTTLS handshake (GTlsServerConnection)
 * and the idle timers.
 */
PdSmtpServer *pd_smtp_server_new (PdConfig *config,
                                  GTlsCertificate *certificate,
                                  const PdSmtpBackend *backend,
                                  gpointer backend_data);

/* Binds every [smtp] and [lmtp] listen address of the configuration. */
gboolean pd_smtp_server_listen (PdSmtpServer *self, GError **error);

/* Binds one more address (port 0 picks a free one). Returns the bound
 * address. */
GSocketAddress *pd_smtp_server_add_listener (PdSmtpServer *self,
                                             GSocketAddress *address,
                                             PdSmtpProtocol protocol,
                                             GError **error);

/* Runs one session over a connected stream, as for an accepted
 * connection; the tests hand it one end of a socket pair. */
void pd_smtp_server_handle_stream (PdSmtpServer *self,
                                   GIOStream *stream,
                                   PdSmtpProtocol protocol,
                                   const char *client_address);

/* Stops listening and closes every session. */
void pd_smtp_server_stop (PdSmtpServer *self);

guint pd_smtp_server_get_n_sessions (PdSmtpServer *self);

G_END_DECLS
