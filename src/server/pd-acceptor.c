/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Accepting connections for the SMTP/LMTP listeners.
 *
 * GSocketService accepts one connection per main-loop round, each time
 * with a new GTask, a new source (two wake-ups of the loop) and an
 * "incoming" signal emission. With one connection per message, as
 * internet senders do, that is per message. An acceptor keeps a single
 * source on its listening socket for its whole life and, each time the
 * socket is readable, accepts every connection already waiting (up to
 * ACCEPT_BATCH, so one burst cannot starve the sessions under way). It
 * hands over the bare descriptor: a GSocket for it costs five syscalls
 * and two objects, and most sessions never need one (see
 * pd-smtp-server.c).
 */
/* accept4 */
#define _GNU_SOURCE
#include "config.h"

#include "pd-acceptor.h"

#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gio/gunixsocketaddress.h>

/* Connections accepted per wake-up, at most. */
#define ACCEPT_BATCH 64
/* After an error other than "nothing waiting" (EMFILE, ENFILE, ENOBUFS):
 * the socket stays readable, so pause instead of spinning. */
#define ACCEPT_PAUSE_MS 100

struct _PdAcceptor
{
  GSocket *socket;
  GSource *source; /* NULL while paused */
  guint resume_id;
  PdAcceptFunc func;
  gpointer user_data;
  gboolean warned; /* in a run of failures, said once */
};

static void acceptor_watch (PdAcceptor *self);

static gboolean
resume_cb (gpointer data)
{
  PdAcceptor *self = data;

  self->resume_id = 0;
  acceptor_watch (self);
  return G_SOURCE_REMOVE;
}

static void
acceptor_pause (PdAcceptor *self)
{
  g_source_destroy (self->source);
  g_clear_pointer (&self->source, g_source_unref);
  self->resume_id = g_timeout_add (ACCEPT_PAUSE_MS, resume_cb, self);
}

static gboolean
readable_cb (GSocket *socket,
             GIOCondition condition,
             gpointer data)
{
  PdAcceptor *self = data;

  for (guint i = 0; i < ACCEPT_BATCH; i++)
    {
      struct sockaddr_storage peer;
      socklen_t peer_length = sizeof peer;
      int fd;

      /* accept4: non-blocking and close-on-exec from the start, and the
       * peer's address with it (g_socket_accept makes three more
       * syscalls for those). */
      fd = accept4 (g_socket_get_fd (socket), (struct sockaddr *)&peer, &peer_length, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0)
        {
          int saved = errno;

          if (saved == EAGAIN || saved == EWOULDBLOCK)
            break;
          /* The client gave up before we took it: the next one. */
          if (saved == EINTR || saved == ECONNABORTED || saved == EPROTO)
            continue;
          if (!self->warned)
            g_warning ("Cannot accept a connection: %s (pausing %d ms at a time until it works again)", g_strerror (saved), ACCEPT_PAUSE_MS);
          self->warned = TRUE;
          acceptor_pause (self);
          return G_SOURCE_REMOVE;
        }

      if (self->warned)
        {
          g_message ("Accepting connections again");
          self->warned = FALSE;
        }
      self->func (fd, (const struct sockaddr *)&peer, peer_length, self->user_data);
    }
  return G_SOURCE_CONTINUE;
}

static void
acceptor_watch (PdAcceptor *self)
{
  self->source = g_socket_create_source (self->socket, G_IO_IN, NULL);
  g_source_set_callback (self->source, G_SOURCE_FUNC (readable_cb), self, NULL);
  g_source_set_static_name (self->source, "[posternd] accept");
  /* Dispatching it then leaves its descriptor in the poll set, instead
   * of taking it out and back (each a wake-up of the loop). */
  g_source_set_can_recurse (self->source, TRUE);
  g_source_attach (self->source, g_main_context_get_thread_default ());
}

PdAcceptor *
pd_acceptor_new (GSocketAddress *address,
                 int backlog,
                 PdAcceptFunc func,
                 gpointer user_data,
                 GSocketAddress **out_effective,
                 GError **error)
{
  g_autoptr (GSocket) socket = NULL;
  gboolean is_unix;
  PdAcceptor *self;

  g_return_val_if_fail (G_IS_SOCKET_ADDRESS (address), NULL);
  g_return_val_if_fail (func != NULL, NULL);

  is_unix = G_IS_UNIX_SOCKET_ADDRESS (address);
  socket = g_socket_new (g_socket_address_get_family (address), G_SOCKET_TYPE_STREAM,
                         is_unix ? G_SOCKET_PROTOCOL_DEFAULT : G_SOCKET_PROTOCOL_TCP, error);
  if (socket == NULL)
    return NULL;
  g_socket_set_blocking (socket, FALSE);
  g_socket_set_listen_backlog (socket, backlog);
  /* [::] is IPv6 only, so that it can sit beside *:PORT (the documented
   * listen=*:25;[::]:25) instead of failing with EADDRINUSE: Linux makes
   * it dual-stack by default. (The tests listen on loopback only, so no
   * test binds the any-address.) */
  if (G_IS_INET_SOCKET_ADDRESS (address))
    {
      GInetAddress *host = g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (address));

      if (g_inet_address_get_family (host) == G_SOCKET_FAMILY_IPV6 && g_inet_address_get_is_any (host) && !g_socket_set_option (socket, IPPROTO_IPV6, IPV6_V6ONLY, 1, error))
        return NULL;
    }
  /* As GSocketListener does: address reuse for TCP (a restart must not
   * wait out TIME_WAIT), never for unix sockets. */
  if (!g_socket_bind (socket, address, !is_unix, error) || !g_socket_listen (socket, error))
    return NULL;
  if (out_effective != NULL && (*out_effective = g_socket_get_local_address (socket, error)) == NULL)
    return NULL;

  self = g_new0 (PdAcceptor, 1);
  self->socket = g_steal_pointer (&socket);
  self->func = func;
  self->user_data = user_data;
  acceptor_watch (self);
  return self;
}

void
pd_acceptor_free (PdAcceptor *self)
{
  if (self == NULL)
    return;

  g_clear_handle_id (&self->resume_id, g_source_remove);
  if (self->source != NULL)
    {
      g_source_destroy (self->source);
      g_source_unref (self->source);
    }
  g_socket_close (self->socket, NULL);
  g_object_unref (self->socket);
  g_free (self);
}
