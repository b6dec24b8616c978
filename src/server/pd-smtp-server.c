/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gio/gunixsocketaddress.h>
#include <glib/gstdio.h>

#include "pd-acceptor.h"
#include "pd-poller.h"
#include "pd-smtp-server.h"

/* Octets read at a time: a few lines of pipelined commands or a good
 * piece of message text. */
#define READ_BUFFER_SIZE (16 * 1024)
/* Pending connections the kernel may hold for us: senders connect in
 * bursts, and a dropped SYN costs them a second. */
#define LISTEN_BACKLOG 1024

typedef struct _Connection Connection;

/* One listening address, and what is spoken there. */
typedef struct
{
  PdSmtpServer *server; /* not owned: the server frees its listeners */
  PdSmtpProtocol protocol;
  PdAcceptor *acceptor;
} Listener;

static void
listener_free (gpointer data)
{
  Listener *listener = data;

  pd_acceptor_free (listener->acceptor);
  g_free (listener);
}

struct _PdSmtpServer
{
  GObject parent_instance;

  char *hostname;
  GStrv domains;
  PdLimits limits;
  GStrv smtp_listen;
  GStrv lmtp_listen;
  GTlsCertificate *certificate;
  PdSmtpBackend backend;
  gpointer backend_data;

  GPtrArray *listeners;    /* of Listener */
  GPtrArray *unix_paths;   /* sockets we created, removed at stop */
  GHashTable *connections; /* Connection* set */
  GHashTable *per_client;  /* client address -> count */
  guint n_counted;         /* sessions counted against the limits */
  PdPoller *poller;        /* waits of the socket connections */
  gboolean poller_failed;  /* said once; GIO's sources serve instead */
  guint8 *receive_buffer;  /* READ_BUFFER_SIZE, for every watched socket */
};

G_DEFINE_FINAL_TYPE (PdSmtpServer, pd_smtp_server, G_TYPE_OBJECT)

/* A connection accepted by a listener is a bare descriptor until GIO is
 * needed: at STARTTLS, or for a reply the socket has no room for, the
 * descriptor goes to a GSocketConnection (connection_ensure_stream). Most
 * sessions never need one, and making one costs two objects and five
 * syscalls a connection. */
struct _Connection
{
  PdSmtpServer *server; /* not owned: the server closes its connections before it goes */
  int fd;               /* the socket; ours to close while stream is NULL */
  GIOStream *stream;    /* NULL, the plain connection, or the TLS one over it */
  GIOStream *base_stream;
  PdSmtpSession *session;
  char *client_key; /* counted in per_client; NULL when not counted */
  guint8 *buffer;   /* GIO's reads (TLS, other streams) */
  GCancellable *cancellable;
  GBytes *writing_bytes;
  PdPollerWatch *watch; /* a socket not under TLS: read, written and waited for directly */
  GSource *read_source; /* waiting for the client to send, otherwise */
  guint timeout_id;
  gint64 deadline; /* monotonic µs of the idle timeout; G_MAXINT64: none */
  gint64 timer_at; /* when the timer source fires */
  /* The request (a command line, a line of text) the client is sending:
   * its deadline runs from the first wait for it, not from each read, so
   * a client trickling octets cannot hold a session for ever. */
  gint64 request_deadline; /* 0: none yet */
  guint64 request_lines;   /* pd_smtp_session_get_lines() when it started */
  guint request_seconds;
  gulong ready_id;
  gboolean reading;
  gboolean writing;
  gboolean handshaking;
  gboolean closing;
  gboolean timed_out;
};

static void connection_pump (Connection *c);

/* The idle timer is one source per connection that is moved only when a
 * deadline comes earlier than it: every read and write just sets the
 * deadline, and the source checks it when it fires. */
static void connection_schedule_timer (Connection *c, gint64 at);

static void
connection_disarm_timer (Connection *c)
{
  c->deadline = G_MAXINT64;
}

/* Ends the operation under way early (its callback sees why: timed_out
 * or closing). A wait for input is a plain source, woken by making it
 * ready: a cancellable on it would cost a signal connection per wait. */
static void
connection_interrupt (Connection *c)
{
  if (c->watch != NULL && c->reading)
    pd_poller_wake (c->watch);
  else if (c->read_source != NULL)
    g_source_set_ready_time (c->read_source, 0);
  else
    g_cancellable_cancel (c->cancellable);
}

static gboolean
connection_timeout_cb (gpointer user_data)
{
  Connection *c = user_data;

  c->timeout_id = 0;
  if (c->deadline == G_MAXINT64)
    return G_SOURCE_REMOVE;
  if (g_get_monotonic_time () < c->deadline)
    {
      connection_schedule_timer (c, c->deadline);
      return G_SOURCE_REMOVE;
    }
  c->timed_out = TRUE;
  /* Reading: the wait ends and the session says 421. Writing or
   * handshaking: the client is not listening; just close. */
  connection_interrupt (c);
  return G_SOURCE_REMOVE;
}

static void
connection_schedule_timer (Connection *c,
                           gint64 at)
{
  gint64 delay_ms = (at - g_get_monotonic_time ()) / 1000 + 1;

  g_clear_handle_id (&c->timeout_id, g_source_remove);
  c->timer_at = at;
  c->timeout_id = g_timeout_add ((guint)CLAMP (delay_ms, 1, G_MAXUINT), connection_timeout_cb, c);
}

static void
connection_set_deadline (Connection *c,
                         gint64 deadline)
{
  c->deadline = deadline;
  c->timed_out = FALSE;
  if (c->timeout_id == 0 || c->timer_at > c->deadline)
    connection_schedule_timer (c, c->deadline);
}

static void
connection_arm_timer (Connection *c,
                      guint seconds)
{
  connection_set_deadline (c, g_get_monotonic_time () + (gint64)seconds * G_USEC_PER_SEC);
}

/* Arms the timer for the client's current request: a new one when the
 * session has taken a whole line since (or changed its timeout: DATA,
 * the store's turn), the same deadline otherwise. */
static void
connection_arm_request_timer (Connection *c)
{
  guint64 lines = pd_smtp_session_get_lines (c->session);
  guint seconds = pd_smtp_session_get_timeout (c->session);

  if (c->request_deadline == 0 || lines != c->request_lines || seconds != c->request_seconds)
    {
      c->request_deadline = g_get_monotonic_time () + (gint64)seconds * G_USEC_PER_SEC;
      c->request_lines = lines;
      c->request_seconds = seconds;
    }
  connection_set_deadline (c, c->request_deadline);
}

static void
connection_free (Connection *c)
{
  g_clear_handle_id (&c->timeout_id, g_source_remove);
  g_clear_pointer (&c->watch, pd_poller_remove);
  if (c->read_source != NULL)
    {
      g_source_destroy (c->read_source);
      g_clear_pointer (&c->read_source, g_source_unref);
    }
  if (c->ready_id != 0)
    g_signal_handler_disconnect (c->session, c->ready_id);
  g_clear_object (&c->session);
  g_clear_object (&c->stream);
  g_clear_object (&c->base_stream);
  g_clear_object (&c->cancellable);
  g_clear_pointer (&c->writing_bytes, g_bytes_unref);
  g_free (c->client_key);
  g_free (c->buffer);
  g_free (c);
}

/* Takes @c out of the server's accounting. */
static void
connection_detach (Connection *c)
{
  PdSmtpServer *self = c->server;

  if (self == NULL)
    return;
  if (c->client_key != NULL)
    {
      guint count = GPOINTER_TO_UINT (g_hash_table_lookup (self->per_client, c->client_key));

      if (count <= 1)
        g_hash_table_remove (self->per_client, c->client_key);
      else
        g_hash_table_insert (self->per_client, g_strdup (c->client_key), GUINT_TO_POINTER (count - 1));
      self->n_counted--;
    }
  g_hash_table_remove (self->connections, c);
  c->server = NULL;
}

static void
connection_close_cb (GObject *source,
                     GAsyncResult *result,
                     gpointer user_data)
{
  Connection *c = user_data;

  g_io_stream_close_finish (G_IO_STREAM (source), result, NULL);
  connection_free (c);
}

/* Closes the socket and frees @c: a plain socket at once, TLS
 * asynchronously (its close_notify is I/O). */
static void
connection_finish_close (Connection *c)
{
  g_clear_pointer (&c->watch, pd_poller_remove);
  if (c->stream == NULL)
    {
      close (c->fd);
      connection_free (c);
      return;
    }
  if (c->base_stream == NULL)
    {
      g_io_stream_close (c->stream, NULL, NULL);
      connection_free (c);
      return;
    }
  g_io_stream_close_async (c->stream, G_PRIORITY_DEFAULT, NULL, connection_close_cb, c);
}

static void
connection_close (Connection *c)
{
  if (c->closing)
    return;
  c->closing = TRUE;
  connection_disarm_timer (c);
  pd_smtp_session_eof (c->session);
  connection_detach (c);
  if (c->reading || c->writing || c->handshaking)
    {
      /* The callback of the operation under way finishes the close. */
      connection_interrupt (c);
      return;
    }
  connection_finish_close (c);
}

/* Called by every I/O callback once it has cleared its flag. Returns
 * TRUE when the connection is going away and the callback must stop. */
static gboolean
connection_finish_if_closing (Connection *c)
{
  if (!c->closing)
    return FALSE;
  if (!c->reading && !c->writing && !c->handshaking)
    connection_finish_close (c);
  return TRUE;
}

static void
connection_renew_cancellable (Connection *c)
{
  if (g_cancellable_is_cancelled (c->cancellable))
    {
      g_object_unref (c->cancellable);
      c->cancellable = g_cancellable_new ();
    }
}

static void
connection_read_cb (GObject *source,
                    GAsyncResult *result,
                    gpointer user_data)
{
  Connection *c = user_data;
  g_autoptr (GError) error = NULL;
  gssize n;

  n = g_input_stream_read_finish (G_INPUT_STREAM (source), result, &error);
  c->reading = FALSE;
  if (connection_finish_if_closing (c))
    return;

  if (n < 0 && c->timed_out)
    {
      connection_renew_cancellable (c);
      pd_smtp_session_timeout (c->session);
    }
  else if (n <= 0)
    {
      if (error != NULL)
        g_debug ("session=%s read: %s", pd_smtp_session_get_id (c->session), error->message);
      connection_close (c);
      return;
    }
  else
    pd_smtp_session_feed (c->session, (const char *)c->buffer, (gsize)n);

  connection_pump (c);
}

static void
connection_write_cb (GObject *source,
                     GAsyncResult *result,
                     gpointer user_data)
{
  Connection *c = user_data;
  g_autoptr (GError) error = NULL;

  g_output_stream_write_all_finish (G_OUTPUT_STREAM (source), result, NULL, &error);
  c->writing = FALSE;
  g_clear_pointer (&c->writing_bytes, g_bytes_unref);
  if (connection_finish_if_closing (c))
    return;
  if (error != NULL)
    {
      g_debug ("session=%s write: %s", pd_smtp_session_get_id (c->session), error->message);
      connection_close (c);
      return;
    }
  connection_pump (c);
}

static void
connection_handshake_cb (GObject *source,
                         GAsyncResult *result,
                         gpointer user_data)
{
  Connection *c = user_data;
  g_autoptr (GError) error = NULL;

  g_tls_connection_handshake_finish (G_TLS_CONNECTION (source), result, &error);
  c->handshaking = FALSE;
  if (connection_finish_if_closing (c))
    return;
  if (error != NULL)
    {
      g_autofree char *escaped = pd_smtp_escape_for_log (error->message, -1);

      g_message ("session=%s event=tls-failed error=\"%s\"", pd_smtp_session_get_id (c->session), escaped);
      connection_close (c);
      return;
    }
  pd_smtp_session_tls_established (c->session);
  connection_pump (c);
}

/* See struct _Connection. FALSE (said in the debug log) when the
 * descriptor cannot be a GSocket; it stays ours then. */
static gboolean
connection_ensure_stream (Connection *c)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GSocket) socket = NULL;

  if (c->stream != NULL)
    return TRUE;
  socket = g_socket_new_from_fd (c->fd, &error);
  if (socket == NULL)
    {
      g_debug ("session=%s socket: %s", pd_smtp_session_get_id (c->session), error->message);
      return FALSE;
    }
  c->stream = G_IO_STREAM (g_socket_connection_factory_create_connection (socket));
  return TRUE;
}

static void
connection_start_tls (Connection *c)
{
  g_autoptr (GError) error = NULL;
  GIOStream *tls;

  if (!connection_ensure_stream (c))
    {
      connection_close (c);
      return;
    }
  tls = g_tls_server_connection_new (c->stream, c->server != NULL ? c->server->certificate : NULL, &error);
  if (tls == NULL)
    {
      g_warning ("session=%s TLS unavailable: %s", pd_smtp_session_get_id (c->session), error->message);
      connection_close (c);
      return;
    }
  g_object_set (tls, "authentication-mode", G_TLS_AUTHENTICATION_NONE, NULL);
  /* GIO's TLS reads and waits on the socket with sources of its own. */
  g_clear_pointer (&c->watch, pd_poller_remove);
  if (c->buffer == NULL)
    c->buffer = g_malloc (READ_BUFFER_SIZE);
  c->base_stream = g_steal_pointer (&c->stream);
  c->stream = tls;
  c->handshaking = TRUE;
  connection_arm_timer (c, pd_smtp_session_get_timeout (c->session));
  g_tls_connection_handshake_async (G_TLS_CONNECTION (tls), G_PRIORITY_DEFAULT, c->cancellable,
                                    connection_handshake_cb, c);
}

/* Rounds of write-then-read one pump may do before it lets the main loop
 * serve other connections (a client that pipelines a lot). */
#define MAX_PUMP_ROUNDS 16

typedef enum
{
  READ_DATA,    /* fed to the session */
  READ_BLOCKED, /* nothing there yet */
  READ_CLOSED,  /* EOF or error: the connection is closing */
} ReadResult;

/* The wait for input is over: there is some, or the timer or a close
 * ended it. */
static void
connection_readable (Connection *c)
{
  c->reading = FALSE;
  if (connection_finish_if_closing (c))
    return;
  if (c->timed_out)
    {
      connection_renew_cancellable (c);
      pd_smtp_session_timeout (c->session);
    }
  connection_pump (c);
}

static void
connection_watch_cb (gpointer user_data)
{
  connection_readable (user_data);
}

static gboolean
connection_readable_cb (GObject *stream,
                        gpointer user_data)
{
  Connection *c = user_data;
  GSource *source = g_steal_pointer (&c->read_source);

  g_source_unref (source);
  connection_readable (c);
  return G_SOURCE_REMOVE;
}

static gboolean
can_poll_input (GInputStream *stream)
{
  return G_IS_POLLABLE_INPUT_STREAM (stream) && g_pollable_input_stream_can_poll (G_POLLABLE_INPUT_STREAM (stream));
}

static gboolean
can_poll_output (GOutputStream *stream)
{
  return G_IS_POLLABLE_OUTPUT_STREAM (stream) && g_pollable_output_stream_can_poll (G_POLLABLE_OUTPUT_STREAM (stream));
}

/* Waits until the client sends more, with the idle timer running. */
static void
connection_wait_readable (Connection *c)
{
  GInputStream *input;

  c->reading = TRUE;
  connection_arm_request_timer (c);
  if (c->watch != NULL)
    {
      pd_poller_arm (c->watch);
      return;
    }
  input = g_io_stream_get_input_stream (c->stream);
  if (can_poll_input (input))
    {
      c->read_source = g_pollable_input_stream_create_source (G_POLLABLE_INPUT_STREAM (input), NULL);
      g_source_set_callback (c->read_source, G_SOURCE_FUNC (connection_readable_cb), c, NULL);
      g_source_attach (c->read_source, g_main_context_get_thread_default ());
    }
  else
    g_input_stream_read_async (input, c->buffer, READ_BUFFER_SIZE, G_PRIORITY_DEFAULT, c->cancellable,
                               connection_read_cb, c);
}

/* A watched socket, read with recv(2): most reads find nothing (the
 * client has not answered yet), and GIO makes a GError of each EAGAIN.
 * (Skipping the read after a short one, as the socket is then empty,
 * measured no faster: the loop slept and woke more often.) */
static ReadResult
connection_receive (Connection *c,
                    guint8 *buffer)
{
  gssize n;

  do
    n = recv (c->fd, buffer, READ_BUFFER_SIZE, 0);
  while (n < 0 && errno == EINTR);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
    return READ_BLOCKED;
  if (n <= 0)
    {
      if (n < 0)
        g_debug ("session=%s read: %s", pd_smtp_session_get_id (c->session), g_strerror (errno));
      connection_close (c);
      return READ_CLOSED;
    }
  pd_smtp_session_feed (c->session, (const char *)buffer, (gsize)n);
  return READ_DATA;
}

/* Reads what is there without waiting (pollable streams: plain sockets
 * and TLS); saves the main loop a round trip per command. */
static ReadResult
connection_try_read (Connection *c)
{
  GInputStream *input;
  g_autoptr (GError) error = NULL;
  gssize n;

  /* The session copies what it is fed: one buffer serves every socket. */
  if (c->watch != NULL)
    return connection_receive (c, c->server->receive_buffer);
  input = g_io_stream_get_input_stream (c->stream);
  if (!can_poll_input (input))
    return READ_BLOCKED;
  n = g_pollable_input_stream_read_nonblocking (G_POLLABLE_INPUT_STREAM (input), c->buffer, READ_BUFFER_SIZE,
                                                NULL, &error);
  if (n < 0 && g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
    return READ_BLOCKED;
  if (n <= 0)
    {
      if (error != NULL)
        g_debug ("session=%s read: %s", pd_smtp_session_get_id (c->session), error->message);
      connection_close (c);
      return READ_CLOSED;
    }
  pd_smtp_session_feed (c->session, (const char *)c->buffer, (gsize)n);
  return READ_DATA;
}

/* Writes the session's replies: at once when the socket takes them,
 * else asynchronously. FALSE when the pump must stop (a write is under
 * way, or the connection is closing). */
static gboolean
connection_write_output (Connection *c)
{
  g_autoptr (GBytes) output = pd_smtp_session_take_output (c->session);
  GOutputStream *stream = NULL;
  gsize size, written = 0;
  gconstpointer data;

  if (output == NULL)
    return TRUE;
  data = g_bytes_get_data (output, &size);

  if (c->watch != NULL)
    {
      /* A last reply (221, 421) is held for the close that follows, so
       * that it and the FIN leave in one segment. */
      int flags = pd_smtp_session_get_state (c->session) == PD_SMTP_STATE_CLOSED ? MSG_NOSIGNAL | MSG_MORE : MSG_NOSIGNAL;
      gssize n;

      do
        n = send (c->fd, data, size, flags);
      while (n < 0 && errno == EINTR);
      if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
        {
          g_debug ("session=%s write: %s", pd_smtp_session_get_id (c->session), g_strerror (errno));
          connection_close (c);
          return FALSE;
        }
      written = n > 0 ? (gsize)n : 0;
      if (written == size)
        return TRUE;
    }
  else if (can_poll_output (stream = g_io_stream_get_output_stream (c->stream)))
    {
      g_autoptr (GError) error = NULL;
      gssize n = g_pollable_output_stream_write_nonblocking (G_POLLABLE_OUTPUT_STREAM (stream), data, size, NULL, &error);

      if (n < 0 && !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
        {
          g_debug ("session=%s write: %s", pd_smtp_session_get_id (c->session), error->message);
          connection_close (c);
          return FALSE;
        }
      written = n > 0 ? (gsize)n : 0;
      if (written == size)
        return TRUE;
    }

  /* No room: GIO waits for some and writes the rest. */
  if (!connection_ensure_stream (c))
    {
      connection_close (c);
      return FALSE;
    }
  if (stream == NULL)
    stream = g_io_stream_get_output_stream (c->stream);
  c->writing = TRUE;
  c->writing_bytes = g_bytes_new_from_bytes (output, written, size - written);
  connection_arm_timer (c, pd_smtp_session_get_timeout (c->session));
  data = g_bytes_get_data (c->writing_bytes, &size);
  g_output_stream_write_all_async (stream, data, size, G_PRIORITY_DEFAULT, c->cancellable, connection_write_cb, c);
  return FALSE;
}

/* Does the next thing the session needs: write its replies, close,
 * start TLS, wait for the backend, or read. */
static void
connection_pump (Connection *c)
{
  if (c->closing || c->reading || c->writing || c->handshaking)
    return;

  for (guint round = 0;; round++)
    {
      if (!connection_write_output (c))
        return;

      switch (pd_smtp_session_get_state (c->session))
        {
          case PD_SMTP_STATE_CLOSED:
            connection_close (c);
            return;
          case PD_SMTP_STATE_TLS:
            connection_start_tls (c);
            return;
          case PD_SMTP_STATE_CONNECTED:
          case PD_SMTP_STATE_READY:
          case PD_SMTP_STATE_MAIL:
          case PD_SMTP_STATE_RCPT:
          case PD_SMTP_STATE_DATA:
          default:
            break;
        }

      if (pd_smtp_session_is_waiting (c->session))
        {
          /* The store's turn, not the client's: no timer, and the
           * client's next request starts afresh. */
          connection_disarm_timer (c);
          c->request_deadline = 0;
          return;
        }

      if (round >= MAX_PUMP_ROUNDS)
        {
          connection_wait_readable (c);
          /* Input may be waiting already, and the poller reports only
           * new input: come back at the next round. */
          if (c->watch != NULL)
            pd_poller_wake (c->watch);
          return;
        }
      switch (connection_try_read (c))
        {
          case READ_DATA:
            continue;
          case READ_BLOCKED:
            connection_wait_readable (c);
            return;
          case READ_CLOSED:
          default:
            return;
        }
    }
}

static void
session_ready_cb (PdSmtpSession *session,
                  gpointer user_data)
{
  connection_pump (user_data);
}

/* Made before the first listener, so that in each main-loop round the
 * sessions under way (a client's close among them) are served before
 * new connections are accepted. */
static gboolean
server_ensure_poller (PdSmtpServer *self)
{
  g_autoptr (GError) error = NULL;

  if (self->poller != NULL)
    return TRUE;
  if (self->poller_failed)
    return FALSE;
  self->poller = pd_poller_new (g_main_context_get_thread_default (), &error);
  if (self->poller == NULL)
    {
      g_warning ("Sessions wait for input without a poller: %s", error->message);
      self->poller_failed = TRUE;
    }
  return self->poller != NULL;
}

/* A socket's waits go to the server's poller; other streams (and a
 * poller that could not be made) wait with GIO's pollable sources. */
static PdPollerWatch *
connection_watch_socket (PdSmtpServer *self,
                         Connection *c)
{
  g_autoptr (GError) error = NULL;
  PdPollerWatch *watch;

  if (c->fd < 0 || !server_ensure_poller (self))
    return NULL;
  watch = pd_poller_add (self->poller, c->fd, connection_watch_cb, c, &error);
  if (watch == NULL)
    g_warning ("session=%s waits without the poller: %s", pd_smtp_session_get_id (c->session), error->message);
  return watch;
}

/* @fd: an accepted socket, or -1 and @stream: a stream from elsewhere
 * (tests; a GSocketConnection's socket is still watched directly). */
static void
start_connection (PdSmtpServer *self,
                  int fd,
                  GIOStream *stream,
                  PdSmtpProtocol protocol,
                  const char *client_address,
                  gboolean count)
{
  Connection *c = g_new0 (Connection, 1);
  PdSmtpSessionOptions options = {
    .protocol = protocol,
    .hostname = self->hostname,
    .client_address = client_address,
    .domains = (const char *const *)self->domains,
    .tls_available = self->certificate != NULL,
    .limits = &self->limits,
  };
  PdSmtpReply refusal = { 421, NULL, NULL };

  /* Every session counts against `sessions`; only SMTP clients against
   * `sessions_per_client`: LMTP comes from our own MTA, which opens as
   * many connections as its concurrency allows. */
  gboolean refuse = FALSE;

  c->server = self;
  c->fd = fd;
  if (stream != NULL)
    {
      c->stream = g_object_ref (stream);
      if (G_IS_SOCKET_CONNECTION (stream))
        c->fd = g_socket_get_fd (g_socket_connection_get_socket (G_SOCKET_CONNECTION (stream)));
    }
  c->cancellable = g_cancellable_new ();
  c->session = pd_smtp_session_new (&options, &self->backend, self->backend_data);
  c->ready_id = g_signal_connect (c->session, "ready", G_CALLBACK (session_ready_cb), c);
  c->watch = connection_watch_socket (self, c);
  if (c->watch == NULL)
    {
      c->buffer = g_malloc (READ_BUFFER_SIZE);
      if (!connection_ensure_stream (c))
        {
          close (c->fd);
          connection_free (c);
          return;
        }
    }
  else if (self->receive_buffer == NULL)
    self->receive_buffer = g_malloc (READ_BUFFER_SIZE);
  g_hash_table_add (self->connections, c);

  if (count)
    {
      guint per_client = GPOINTER_TO_UINT (g_hash_table_lookup (self->per_client, client_address));

      if (self->n_counted >= self->limits.sessions)
        {
          refusal.enhanced = "4.3.2";
          refusal.text = "Too many sessions, try again later";
          refuse = TRUE;
        }
      else if (protocol == PD_SMTP_PROTOCOL_SMTP && per_client >= self->limits.sessions_per_client)
        {
          refusal.enhanced = "4.7.0";
          refusal.text = "Too many sessions from your address, try again later";
          refuse = TRUE;
        }
      else
        {
          c->client_key = g_strdup (client_address);
          g_hash_table_insert (self->per_client, g_strdup (client_address), GUINT_TO_POINTER (per_client + 1));
          self->n_counted++;
        }
    }

  pd_smtp_session_start (c->session, refuse ? &refusal : NULL);
  connection_pump (c);
}

static void
incoming_cb (int fd,
             const struct sockaddr *peer,
             socklen_t peer_length,
             gpointer user_data)
{
  Listener *listener = user_data;
  char client[INET6_ADDRSTRLEN] = "unix";
  int on = 1;

  if (peer_length >= sizeof (struct sockaddr_in) && peer->sa_family == AF_INET)
    {
      inet_ntop (AF_INET, &((const struct sockaddr_in *)peer)->sin_addr, client, sizeof client);
    }
  else if (peer_length >= sizeof (struct sockaddr_in6) && peer->sa_family == AF_INET6)
    {
      const struct in6_addr *address = &((const struct sockaddr_in6 *)peer)->sin6_addr;

      /* An IPv4 client on an IPv6 socket (::ffff:a.b.c.d) is the same
       * client as on an IPv4 one: one count for sessions_per_client, one
       * name in the log and the trace. */
      if (IN6_IS_ADDR_V4MAPPED (address))
        inet_ntop (AF_INET, &address->s6_addr[12], client, sizeof client);
      else
        inet_ntop (AF_INET6, address, client, sizeof client);
    }
  if (peer_length > 0 && (peer->sa_family == AF_INET || peer->sa_family == AF_INET6))
    {
      /* Replies are small and each batch is one write: send it now. */
      setsockopt (fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
    }

  start_connection (listener->server, fd, NULL, listener->protocol, client, TRUE);
}

GSocketAddress *
pd_smtp_server_add_listener (PdSmtpServer *self,
                             GSocketAddress *address,
                             PdSmtpProtocol protocol,
                             GError **error)
{
  Listener *listener;
  g_autoptr (GSocketAddress) effective = NULL;
  gboolean is_unix = G_IS_UNIX_SOCKET_ADDRESS (address);
  const char *path = NULL;

  g_return_val_if_fail (PD_IS_SMTP_SERVER (self), NULL);
  g_return_val_if_fail (G_IS_SOCKET_ADDRESS (address), NULL);

  if (is_unix)
    {
      GStatBuf st;

      path = g_unix_socket_address_get_path (G_UNIX_SOCKET_ADDRESS (address));
      /* A socket left by an earlier run would make bind fail. */
      if (g_lstat (path, &st) == 0 && S_ISSOCK (st.st_mode))
        g_unlink (path);
    }

  server_ensure_poller (self);
  listener = g_new0 (Listener, 1);
  listener->server = self;
  listener->protocol = protocol;
  listener->acceptor = pd_acceptor_new (address, LISTEN_BACKLOG, incoming_cb, listener, &effective, error);
  if (listener->acceptor == NULL)
    {
      g_free (listener);
      return NULL;
    }
  g_ptr_array_add (self->listeners, listener);
  if (is_unix)
    g_ptr_array_add (self->unix_paths, g_strdup (path));

  {
    g_autofree char *text = NULL;

    if (G_IS_INET_SOCKET_ADDRESS (effective))
      {
        g_autofree char *host = g_inet_address_to_string (g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (effective)));
        guint16 port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (effective));

        text = g_inet_address_get_family (g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (effective))) == G_SOCKET_FAMILY_IPV6
                   ? g_strdup_printf ("[%s]:%u", host, port)
                   : g_strdup_printf ("%s:%u", host, port);
      }
    else
      text = g_strdup_printf ("unix:%s", path);
    g_message ("%s listening on %s", protocol == PD_SMTP_PROTOCOL_LMTP ? "lmtp" : "smtp", text);
  }

  return g_steal_pointer (&effective);
}

gboolean
pd_smtp_server_listen (PdSmtpServer *self,
                       GError **error)
{
  g_return_val_if_fail (PD_IS_SMTP_SERVER (self), FALSE);

  for (guint pass = 0; pass < 2; pass++)
    {
      GStrv list = pass == 0 ? self->smtp_listen : self->lmtp_listen;
      PdSmtpProtocol protocol = pass == 0 ? PD_SMTP_PROTOCOL_SMTP : PD_SMTP_PROTOCOL_LMTP;

      for (guint i = 0; list != NULL && list[i] != NULL; i++)
        {
          g_autoptr (GSocketAddress) address = pd_config_parse_listen_address (list[i], error);
          g_autoptr (GSocketAddress) bound = NULL;

          if (address == NULL)
            return FALSE;
          bound = pd_smtp_server_add_listener (self, address, protocol, error);
          if (bound == NULL)
            {
              g_prefix_error (error, "%s: ", list[i]);
              return FALSE;
            }
        }
    }
  return TRUE;
}

void
pd_smtp_server_handle_stream (PdSmtpServer *self,
                              GIOStream *stream,
                              PdSmtpProtocol protocol,
                              const char *client_address)
{
  g_return_if_fail (PD_IS_SMTP_SERVER (self));
  g_return_if_fail (G_IS_IO_STREAM (stream));

  start_connection (self, -1, stream, protocol, client_address != NULL ? client_address : "unknown", TRUE);
}

void
pd_smtp_server_stop (PdSmtpServer *self)
{
  g_autoptr (GPtrArray) open = g_ptr_array_new ();
  GHashTableIter iter;
  gpointer key;

  g_return_if_fail (PD_IS_SMTP_SERVER (self));

  g_ptr_array_set_size (self->listeners, 0);
  for (guint i = 0; i < self->unix_paths->len; i++)
    g_unlink (g_ptr_array_index (self->unix_paths, i));
  g_ptr_array_set_size (self->unix_paths, 0);

  g_hash_table_iter_init (&iter, self->connections);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    g_ptr_array_add (open, key);
  for (guint i = 0; i < open->len; i++)
    connection_close (g_ptr_array_index (open, i));
}

guint
pd_smtp_server_get_n_sessions (PdSmtpServer *self)
{
  g_return_val_if_fail (PD_IS_SMTP_SERVER (self), 0);
  return g_hash_table_size (self->connections);
}

static void
pd_smtp_server_dispose (GObject *object)
{
  PdSmtpServer *self = PD_SMTP_SERVER (object);

  if (self->listeners != NULL)
    pd_smtp_server_stop (self);

  G_OBJECT_CLASS (pd_smtp_server_parent_class)->dispose (object);
}

static void
pd_smtp_server_finalize (GObject *object)
{
  PdSmtpServer *self = PD_SMTP_SERVER (object);

  g_free (self->hostname);
  g_strfreev (self->domains);
  g_strfreev (self->smtp_listen);
  g_strfreev (self->lmtp_listen);
  g_clear_object (&self->certificate);
  g_clear_pointer (&self->listeners, g_ptr_array_unref);
  g_clear_pointer (&self->unix_paths, g_ptr_array_unref);
  g_clear_pointer (&self->connections, g_hash_table_unref);
  g_clear_pointer (&self->per_client, g_hash_table_unref);
  g_clear_pointer (&self->poller, pd_poller_free);
  g_clear_pointer (&self->receive_buffer, g_free);

  G_OBJECT_CLASS (pd_smtp_server_parent_class)->finalize (object);
}

static void
pd_smtp_server_class_init (PdSmtpServerClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = pd_smtp_server_dispose;
  object_class->finalize = pd_smtp_server_finalize;
}

static void
pd_smtp_server_init (PdSmtpServer *self)
{
  self->listeners = g_ptr_array_new_with_free_func (listener_free);
  self->unix_paths = g_ptr_array_new_with_free_func (g_free);
  self->connections = g_hash_table_new (NULL, NULL);
  self->per_client = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
}

PdSmtpServer *
pd_smtp_server_new (PdConfig *config,
                    GTlsCertificate *certificate,
                    const PdSmtpBackend *backend,
                    gpointer backend_data)
{
  PdSmtpServer *self;

  g_return_val_if_fail (config != NULL, NULL);
  g_return_val_if_fail (certificate == NULL || G_IS_TLS_CERTIFICATE (certificate), NULL);
  g_return_val_if_fail (backend != NULL, NULL);

  self = g_object_new (PD_TYPE_SMTP_SERVER, NULL);
  self->hostname = g_strdup (config->hostname);
  self->domains = g_strdupv (config->domains);
  self->limits = config->limits;
  self->smtp_listen = g_strdupv (config->smtp_listen);
  self->lmtp_listen = g_strdupv (config->lmtp_listen);
  self->certificate = certificate != NULL ? g_object_ref (certificate) : NULL;
  self->backend = *backend;
  self->backend_data = backend_data;
  return self;
}
