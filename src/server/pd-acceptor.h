/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <sys/socket.h>

#include <gio/gio.h>

G_BEGIN_DECLS

/* A listening socket on the thread-default main context. */
typedef struct _PdAcceptor PdAcceptor;

/* Called for each accepted connection: its descriptor (non-blocking and
 * close-on-exec; the callee owns it) and the peer's address as accept(2)
 * gave it (@peer_length 0 when unknown). */
typedef void (*PdAcceptFunc) (int fd, const struct sockaddr *peer, socklen_t peer_length, gpointer user_data);

PdAcceptor *pd_acceptor_new (GSocketAddress *address, int backlog, PdAcceptFunc func, gpointer user_data, GSocketAddress **out_effective, GError **error);
/* Stops accepting and closes the listening socket. */
void pd_acceptor_free (PdAcceptor *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PdAcceptor, pd_acceptor_free)

G_END_DECLS
