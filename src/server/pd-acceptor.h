/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* A listening socket on the thread-default main context. */
typedef struct _PdAcceptor PdAcceptor;

/* Called for each accepted connection, with the peer's address (NULL when
 * unknown); the callee takes its own refs. */
typedef void (*PdAcceptFunc) (GSocketConnection *connection, GSocketAddress *remote, gpointer user_data);

PdAcceptor *pd_acceptor_new (GSocketAddress *address, int backlog, PdAcceptFunc func, gpointer user_data, GSocketAddress **out_effective, GError **error);
/* Stops accepting and closes the listening socket. */
void pd_acceptor_free (PdAcceptor *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PdAcceptor, pd_acceptor_free)

G_END_DECLS
