/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "pd-api-guard.h"

#include <poll.h>

/* Linux reports a peer's shutdown as POLLRDHUP; <poll.h> declares it only
 * under _GNU_SOURCE. Elsewhere the bit is never set and idle connections
 * wait for their deadline. */
#ifndef POLLRDHUP
#ifdef __linux__
#define POLLRDHUP 0x2000
#else
#define POLLRDHUP 0
#endif
#endif

typedef struct
{
  GWeakRef socket;
  char *client;
} Tracked;

struct _PdApiGuard
{
  GObject parent_instance;

  SoupServer *server;     /* weak: the server owns its handlers */
  GPtrArray *tracked;     /* of Tracked */
  GHashTable *per_client; /* address -> count */
  guint max_connections;
  guint max_per_client;
  guint header_timeout;
};

G_DEFINE_FINAL_TYPE (PdApiGuard, pd_api_guard, G_TYPE_OBJECT)

static GQuark
deadline_quark (void)
{
  return g_quark_from_static_string ("pd-api-guard-deadline");
}

static GQuark
idle_quark (void)
{
  return g_quark_from_static_string ("pd-api-guard-idle");
}

static void
tracked_free (gpointer data)
{
  Tracked *tracked = data;

  g_weak_ref_clear (&tracked->socket);
  g_free (tracked->client);
  g_free (tracked);
}

static void
add_to_client (PdApiGuard *self,
               const char *client,
               int delta)
{
  guint count = GPOINTER_TO_UINT (g_hash_table_lookup (self->per_client, client));

  count = (guint)((int)count + delta);
  if (count == 0)
    g_hash_table_remove (self->per_client, client);
  else
    g_hash_table_replace (self->per_client, g_strdup (client), GUINT_TO_POINTER (count));
}

/* Whether the peer has closed (or half-closed) an idle connection: nothing
 * but a new request may arrive on one, and a client that shut down its
 * side sends none. */
static gboolean
peer_gone (GSocket *socket)
{
  struct pollfd pfd = { g_socket_get_fd (socket), POLLRDHUP, 0 };

  return poll (&pfd, 1, 0) == 1 && (pfd.revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0;
}

/* A connection counts while its socket is open. libsoup 3.2 keeps the
 * socket objects of finished connections alive (they are closed, but not
 * freed), so "closed" is what is checked, not "gone". */
static void
sweep (PdApiGuard *self)
{
  for (guint i = self->tracked->len; i > 0; i--)
    {
      Tracked *tracked = g_ptr_array_index (self->tracked, i - 1);
      g_autoptr (GSocket) socket = g_weak_ref_get (&tracked->socket);

      /* Reclaim at once what the idle deadline would close later. */
      if (socket != NULL && !g_socket_is_closed (socket) && g_object_get_qdata (G_OBJECT (socket), idle_quark ()) != NULL && peer_gone (socket))
        {
          g_debug ("API: closing a keep-alive connection its client closed");
          g_object_set_qdata (G_OBJECT (socket), idle_quark (), NULL);
          g_socket_close (socket, NULL);
        }
      if (socket == NULL || g_socket_is_closed (socket))
        {
          add_to_client (self, tracked->client, -1);
          g_ptr_array_remove_index_fast (self->tracked, i - 1);
        }
    }
}

static void
weak_ref_free (gpointer data)
{
  GWeakRef *ref = data;

  g_weak_ref_clear (ref);
  g_free (ref);
}

/* Holds the socket weakly: a deadline must not keep a connection alive. */
static gboolean
deadline_cb (gpointer data)
{
  g_autoptr (GSocket) socket = g_weak_ref_get (data);

  if (socket == NULL || g_socket_is_closed (socket))
    return G_SOURCE_REMOVE;
  g_debug ("API: closing a connection that sent no request headers in time");
  /* Shutting down (not closing) lets libsoup see the failure on its
   * pending read and clean up the connection itself. */
  g_socket_shutdown (socket, TRUE, TRUE, NULL);
  return G_SOURCE_REMOVE;
}

/* libsoup 3.2 does not watch a keep-alive connection between requests:
 * when the client closes it, it would stay in CLOSE_WAIT, descriptor and
 * all, until the server stops. Closing the socket after the deadline frees
 * the descriptor; libsoup, which is not reading it, never looks again. */
static gboolean
idle_deadline_cb (gpointer data)
{
  g_autoptr (GSocket) socket = g_weak_ref_get (data);

  if (socket == NULL || g_socket_is_closed (socket))
    return G_SOURCE_REMOVE;
  g_debug ("API: closing an idle keep-alive connection");
  g_socket_close (socket, NULL);
  return G_SOURCE_REMOVE;
}

static void
destroy_source (gpointer data)
{
  GSource *source = data;

  g_source_destroy (source);
  g_source_unref (source);
}

static void
got_headers_cb (SoupServerMessage *msg,
                gpointer data)
{
  g_object_set_qdata (G_OBJECT (msg), deadline_quark (), NULL);
}

static GSource *
weak_timeout_new (guint seconds,
                  GSocket *socket,
                  GSourceFunc callback)
{
  GSource *source = g_timeout_source_new_seconds (seconds);
  GWeakRef *ref = g_new0 (GWeakRef, 1);

  g_weak_ref_init (ref, socket);
  g_source_set_callback (source, callback, ref, weak_ref_free);
  g_source_attach (source, g_main_context_get_thread_default ());
  return source;
}

/* Between requests a keep-alive connection has no message: the deadline
 * runs on its socket until the next request starts. */
static void
request_done_cb (SoupServer *server,
                 SoupServerMessage *msg,
                 gpointer data)
{
  PdApiGuard *self = PD_API_GUARD (data);
  GSocket *socket = soup_server_message_get_socket (msg);

  if (socket == NULL || g_socket_is_closed (socket))
    return;
  g_object_set_qdata_full (G_OBJECT (socket), idle_quark (),
                           weak_timeout_new (self->header_timeout, socket, idle_deadline_cb),
                           destroy_source);
}

static gboolean
is_tracked (PdApiGuard *self,
            GSocket *socket)
{
  for (guint i = 0; i < self->tracked->len; i++)
    {
      Tracked *tracked = g_ptr_array_index (self->tracked, i);
      g_autoptr (GSocket) other = g_weak_ref_get (&tracked->socket);

      if (other == socket)
        return TRUE;
    }
  return FALSE;
}

static void
request_started_cb (SoupServer *server,
                    SoupServerMessage *msg,
                    gpointer data)
{
  PdApiGuard *self = PD_API_GUARD (data);
  GSocket *socket = soup_server_message_get_socket (msg);
  GSource *deadline;

  if (socket == NULL)
    return;

  if (!is_tracked (self, socket))
    {
      g_autoptr (GSocketAddress) remote = g_socket_get_remote_address (socket, NULL);
      g_autofree char *client = NULL;
      Tracked *tracked;

      if (remote != NULL && G_IS_INET_SOCKET_ADDRESS (remote))
        client = g_inet_address_to_string (g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (remote)));
      else
        client = g_strdup ("unknown");

      sweep (self);
      if (self->tracked->len >= self->max_connections || GPOINTER_TO_UINT (g_hash_table_lookup (self->per_client, client)) >= self->max_per_client)
        {
          g_message ("API: refused a connection from %s: connection limit", client);
          g_socket_shutdown (socket, TRUE, TRUE, NULL);
          return;
        }
      tracked = g_new0 (Tracked, 1);
      g_weak_ref_init (&tracked->socket, socket);
      tracked->client = g_strdup (client);
      g_ptr_array_add (self->tracked, tracked);
      add_to_client (self, client, +1);
    }

  /* No longer idle. */
  g_object_set_qdata (G_OBJECT (socket), idle_quark (), NULL);
  deadline = weak_timeout_new (self->header_timeout, socket, deadline_cb);
  /* Gone with the headers, or with the message. */
  g_object_set_qdata_full (G_OBJECT (msg), deadline_quark (), deadline, destroy_source);
  g_signal_connect (msg, "got-headers", G_CALLBACK (got_headers_cb), NULL);
}

static void
pd_api_guard_dispose (GObject *object)
{
  PdApiGuard *self = PD_API_GUARD (object);

  if (self->server != NULL)
    {
      g_signal_handlers_disconnect_by_data (self->server, self);
      g_object_remove_weak_pointer (G_OBJECT (self->server), (gpointer *)&self->server);
      self->server = NULL;
    }

  G_OBJECT_CLASS (pd_api_guard_parent_class)->dispose (object);
}

static void
pd_api_guard_finalize (GObject *object)
{
  PdApiGuard *self = PD_API_GUARD (object);

  g_clear_pointer (&self->tracked, g_ptr_array_unref);
  g_clear_pointer (&self->per_client, g_hash_table_unref);

  G_OBJECT_CLASS (pd_api_guard_parent_class)->finalize (object);
}

static void
pd_api_guard_class_init (PdApiGuardClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = pd_api_guard_dispose;
  object_class->finalize = pd_api_guard_finalize;
}

static void
pd_api_guard_init (PdApiGuard *self)
{
  self->tracked = g_ptr_array_new_with_free_func (tracked_free);
  self->per_client = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
}

PdApiGuard *
pd_api_guard_new (SoupServer *server,
                  guint max_connections,
                  guint max_per_client,
                  guint header_timeout)
{
  PdApiGuard *self;

  g_return_val_if_fail (SOUP_IS_SERVER (server), NULL);
  g_return_val_if_fail (max_connections > 0 && max_per_client > 0 && header_timeout > 0, NULL);

  self = g_object_new (PD_TYPE_API_GUARD, NULL);
  self->server = server;
  g_object_add_weak_pointer (G_OBJECT (server), (gpointer *)&self->server);
  self->max_connections = max_connections;
  self->max_per_client = max_per_client;
  self->header_timeout = header_timeout;
  g_signal_connect (server, "request-started", G_CALLBACK (request_started_cb), self);
  g_signal_connect (server, "request-finished", G_CALLBACK (request_done_cb), self);
  g_signal_connect (server, "request-aborted", G_CALLBACK (request_done_cb), self);
  return self;
}

guint
pd_api_guard_get_n_connections (PdApiGuard *self)
{
  g_return_val_if_fail (PD_IS_API_GUARD (self), 0);

  sweep (self);
  return self->tracked->len;
}
