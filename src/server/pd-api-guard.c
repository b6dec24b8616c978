/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "pd-api-listener.h"

#include <netinet/in.h>
#include <netinet/tcp.h>

/* Shared with the weak references on accepted connections, which may
 * outlive the listener. */
typedef struct
{
  GMutex lock;
  guint total;
  GHashTable *per_client; /* address -> count */
} Counts;

typedef struct
{
  Counts *counts;
  char *client;
} Tracked;

struct _PdApiListener
{
  GObject parent_instance;

  SoupServer *server;
  GTlsCertificate *certificate;
  GSocketService *service;
  GCancellable *cancellable;
  Counts *counts;
  guint max_connections;
  guint max_per_client;
  guint handshake_timeout;
};

G_DEFINE_FINAL_TYPE (PdApiListener, pd_api_listener, G_TYPE_OBJECT)

static void
counts_free (Counts *counts)
{
  g_mutex_clear (&counts->lock);
  g_hash_table_unref (counts->per_client);
}

static Counts *
counts_new (void)
{
  Counts *counts = g_rc_box_new0 (Counts);

  g_mutex_init (&counts->lock);
  counts->per_client = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  return counts;
}

static void
counts_unref (Counts *counts)
{
  g_rc_box_release_full (counts, (GDestroyNotify)counts_free);
}

/* Counts one connection unless a limit is reached. */
static gboolean
counts_take (Counts *counts,
             const char *client,
             guint max_total,
             guint max_per_client)
{
  g_autoptr (GMutexLocker) locker = g_mutex_locker_new (&counts->lock);
  guint of_client = GPOINTER_TO_UINT (g_hash_table_lookup (counts->per_client, client));

  if (counts->total >= max_total || of_client >= max_per_client)
    return FALSE;
  counts->total++;
  g_hash_table_replace (counts->per_client, g_strdup (client), GUINT_TO_POINTER (of_client + 1));
  return TRUE;
}

static void
connection_gone_cb (gpointer data,
                    GObject *where_the_object_was)
{
  Tracked *tracked = data;

  {
    g_autoptr (GMutexLocker) locker = g_mutex_locker_new (&tracked->counts->lock);
    guint of_client = GPOINTER_TO_UINT (g_hash_table_lookup (tracked->counts->per_client, tracked->client));

    tracked->counts->total--;
    if (of_client <= 1)
      g_hash_table_remove (tracked->counts->per_client, tracked->client);
    else
      g_hash_table_replace (tracked->counts->per_client, g_strdup (tracked->client), GUINT_TO_POINTER (of_client - 1));
  }
  counts_unref (tracked->counts);
  g_free (tracked->client);
  g_free (tracked);
}

typedef struct
{
  PdApiListener *self;
  GIOStream *tls;
  GSocketConnection *connection;
  GCancellable *cancellable;
  GSource *timeout;
  gulong cancelled_id;
} Handshake;

static void
handshake_free (Handshake *hs)
{
  if (hs->timeout != NULL)
    {
      g_source_destroy (hs->timeout);
      g_source_unref (hs->timeout);
    }
  g_cancellable_disconnect (hs->self->cancellable, hs->cancelled_id);
  g_clear_object (&hs->cancellable);
  g_clear_object (&hs->tls);
  g_clear_object (&hs->connection);
  g_clear_object (&hs->self);
  g_free (hs);
}

static gboolean
handshake_timeout_cb (gpointer data)
{
  Handshake *hs = data;

  g_cancellable_cancel (hs->cancellable);
  return G_SOURCE_REMOVE;
}

static void
listener_cancelled_cb (GCancellable *cancellable,
                       gpointer data)
{
  GCancellable *handshake = data;

  g_cancellable_cancel (handshake);
}

static void
hand_over (PdApiListener *self,
           GIOStream *stream,
           GSocketConnection *connection)
{
  g_autoptr (GSocketAddress) local = g_socket_connection_get_local_address (connection, NULL);
  g_autoptr (GSocketAddress) remote = g_socket_connection_get_remote_address (connection, NULL);
  g_autoptr (GError) error = NULL;

  if (local == NULL || remote == NULL || !soup_server_accept_iostream (self->server, stream, local, remote, &error))
    {
      g_debug ("API: connection dropped: %s", error ? error->message : "no address");
      g_io_stream_close (stream, NULL, NULL);
    }
}

static void
handshake_done_cb (GObject *source,
                   GAsyncResult *result,
                   gpointer data)
{
  Handshake *hs = data;
  g_autoptr (GError) error = NULL;

  if (!g_tls_connection_handshake_finish (G_TLS_CONNECTION (source), result, &error))
    {
      g_debug ("API: TLS handshake failed: %s", error->message);
      g_io_stream_close (hs->tls, NULL, NULL);
    }
  else if (!g_cancellable_is_cancelled (hs->self->cancellable))
    hand_over (hs->self, hs->tls, hs->connection);
  handshake_free (hs);
}

static gboolean
incoming_cb (GSocketService *service,
             GSocketConnection *connection,
             GObject *source_object,
             gpointer data)
{
  PdApiListener *self = PD_API_LISTENER (data);
  g_autoptr (GSocketAddress) remote = g_socket_connection_get_remote_address (connection, NULL);
  g_autofree char *client = NULL;
  g_autoptr (GError) error = NULL;
  GSocket *socket = g_socket_connection_get_socket (connection);
  Tracked *tracked;
  Handshake *hs;

  if (remote != NULL && G_IS_INET_SOCKET_ADDRESS (remote))
    client = g_inet_address_to_string (g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (remote)));
  else
    client = g_strdup ("unknown");

  if (!counts_take (self->counts, client, self->max_connections, self->max_per_client))
    {
      g_message ("API: refused a connection from %s: connection limit", client);
      g_io_stream_close (G_IO_STREAM (connection), NULL, NULL);
      return TRUE;
    }
  tracked = g_new0 (Tracked, 1);
  tracked->counts = g_rc_box_acquire (self->counts);
  tracked->client = g_steal_pointer (&client);
  g_object_weak_ref (G_OBJECT (connection), connection_gone_cb, tracked);
  g_socket_set_option (socket, IPPROTO_TCP, TCP_NODELAY, TRUE, NULL);

  if (self->certificate == NULL)
    {
      hand_over (self, G_IO_STREAM (connection), connection);
      return TRUE;
    }

  hs = g_new0 (Handshake, 1);
  hs->self = g_object_ref (self);
  hs->connection = g_object_ref (connection);
  hs->tls = g_tls_server_connection_new (G_IO_STREAM (connection), self->certificate, &error);
  if (hs->tls == NULL)
    {
      g_warning ("API: cannot start TLS: %s", error->message);
      g_io_stream_close (G_IO_STREAM (connection), NULL, NULL);
      handshake_free (hs);
      return TRUE;
    }
  g_object_set (hs->tls, "require-close-notify", FALSE, NULL);
  g_tls_connection_set_advertised_protocols (G_TLS_CONNECTION (hs->tls), (const char *const[]){ "http/1.1", NULL });
  hs->cancellable = g_cancellable_new ();
  hs->cancelled_id = g_cancellable_connect (self->cancellable, G_CALLBACK (listener_cancelled_cb),
                                            g_object_ref (hs->cancellable), g_object_unref);
  hs->timeout = g_timeout_source_new_seconds (self->handshake_timeout);
  g_source_set_callback (hs->timeout, handshake_timeout_cb, hs, NULL);
  g_source_attach (hs->timeout, g_main_context_get_thread_default ());
  g_tls_connection_handshake_async (G_TLS_CONNECTION (hs->tls), G_PRIORITY_DEFAULT, hs->cancellable,
                                    handshake_done_cb, hs);
  return TRUE;
}

static void
pd_api_listener_dispose (GObject *object)
{
  PdApiListener *self = PD_API_LISTENER (object);

  pd_api_listener_stop (self);
  g_clear_object (&self->service);
  g_clear_object (&self->server);
  g_clear_object (&self->certificate);

  G_OBJECT_CLASS (pd_api_listener_parent_class)->dispose (object);
}

static void
pd_api_listener_finalize (GObject *object)
{
  PdApiListener *self = PD_API_LISTENER (object);

  g_clear_object (&self->cancellable);
  g_clear_pointer (&self->counts, counts_unref);

  G_OBJECT_CLASS (pd_api_listener_parent_class)->finalize (object);
}

static void
pd_api_listener_class_init (PdApiListenerClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = pd_api_listener_dispose;
  object_class->finalize = pd_api_listener_finalize;
}

static void
pd_api_listener_init (PdApiListener *self)
{
  self->cancellable = g_cancellable_new ();
  self->counts = counts_new ();
}

PdApiListener *
pd_api_listener_new (SoupServer *server,
                     GTlsCertificate *certificate,
                     guint max_connections,
                     guint max_per_client,
                     guint handshake_timeout)
{
  PdApiListener *self;

  g_return_val_if_fail (SOUP_IS_SERVER (server), NULL);
  g_return_val_if_fail (certificate == NULL || G_IS_TLS_CERTIFICATE (certificate), NULL);
  g_return_val_if_fail (max_connections > 0 && max_per_client > 0 && handshake_timeout > 0, NULL);

  self = g_object_new (PD_TYPE_API_LISTENER, NULL);
  self->server = g_object_ref (server);
  self->certificate = certificate ? g_object_ref (certificate) : NULL;
  self->max_connections = max_connections;
  self->max_per_client = max_per_client;
  self->handshake_timeout = handshake_timeout;
  return self;
}

GSocketAddress *
pd_api_listener_listen (PdApiListener *self,
                        GSocketAddress *address,
                        GError **error)
{
  GSocketAddress *effective = NULL;

  g_return_val_if_fail (PD_IS_API_LISTENER (self), NULL);
  g_return_val_if_fail (self->service == NULL, NULL);

  self->service = g_socket_service_new ();
  if (!g_socket_listener_add_address (G_SOCKET_LISTENER (self->service), address, G_SOCKET_TYPE_STREAM,
                                      G_SOCKET_PROTOCOL_TCP, NULL, &effective, error))
    {
      g_clear_object (&self->service);
      return NULL;
    }
  g_signal_connect (self->service, "incoming", G_CALLBACK (incoming_cb), self);
  g_socket_service_start (self->service);
  return effective;
}

void
pd_api_listener_stop (PdApiListener *self)
{
  g_return_if_fail (PD_IS_API_LISTENER (self));

  g_cancellable_cancel (self->cancellable);
  if (self->service != NULL)
    {
      g_signal_handlers_disconnect_by_data (self->service, self);
      g_socket_service_stop (self->service);
      g_socket_listener_close (G_SOCKET_LISTENER (self->service));
    }
}

guint
pd_api_listener_get_n_connections (PdApiListener *self)
{
  g_autoptr (GMutexLocker) locker = NULL;

  g_return_val_if_fail (PD_IS_API_LISTENER (self), 0);

  locker = g_mutex_locker_new (&self->counts->lock);
  return self->counts->total;
}
