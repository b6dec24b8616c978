/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

#include "postern-api-client.h"
#include "postern-core.h"

G_BEGIN_DECLS

#define POSTERN_LIVE_KEEPALIVE_INTERVAL 25   /* seconds between our pings */
#define POSTERN_LIVE_DEAD_AFTER         70   /* seconds without any frame or pong: reconnect */
#define POSTERN_LIVE_BACKOFF_MIN_MS     1000 /* first retry delay */
#define POSTERN_LIVE_BACKOFF_MAX_MS     (5 * 60 * 1000)
#define POSTERN_LIVE_MAX_FRAME          (1024 * 1024) /* octets per incoming message */

typedef enum
{
  POSTERN_LIVE_STATE_STOPPED,    /* not started, or stopped */
  POSTERN_LIVE_STATE_CONNECTING, /* handshake in progress */
  POSTERN_LIVE_STATE_CONNECTED,  /* open; backlog being replayed */
  POSTERN_LIVE_STATE_SYNCED,     /* open and caught up ("synced" received) */
  POSTERN_LIVE_STATE_WAITING,    /* closed; a reconnect is scheduled */
  POSTERN_LIVE_STATE_FAILED,     /* gave up: untrusted certificate or token refused */
} PosternLiveState;

#define POSTERN_TYPE_LIVE_CONNECTION (postern_live_connection_get_type ())

G_DECLARE_FINAL_TYPE (PosternLiveConnection, postern_live_connection, POSTERN, LIVE_CONNECTION, GObject)

/*
 * PosternLiveConnection: the one WebSocket to GET /api/v1/live?cursor=N of
 * @client's server. Incoming frames become signals:
 *
 *   "event"   (PosternEvent *event)       {"type":"event","event":{…}}
 *   "channel" (PosternChannel *channel)   {"type":"channel","channel":{…}}
 *   "deleted" (const char *channel_id)    {"type":"deleted","id":"…"}
 *   "synced"  (gint64 cursor)             {"type":"synced","cursor":N}
 *   "error"   (GError *error)             a failure worth showing: the
 *             connection could not be made (OFFLINE, retried), or it will
 *             not be retried (UNTRUSTED, AUTH: state FAILED)
 *
 * The socket is opened as /api/v1/live?cursor=C&revision=R: the server
 * first replays channel changes after R and events after C, then says
 * "synced". The cursor advances with each event and the revision with each
 * channel change, so a reconnect resumes where the last one stopped
 * ("cursor" property, read-write before start; the revision through
 * postern_live_connection_set_revision()). Frames that fail to parse are
 * logged with g_debug and skipped.
 *
 * Reconnection: after a close or failure, waits a jittered exponential
 * delay (min … max, doubling, ±25 % jitter; reset after a connection that
 * lasted 60 s) then retries; when GNetworkMonitor reports the network
 * back, retries at once; while the network is down, does not try. Keepalive:
 * pings every POSTERN_LIVE_KEEPALIVE_INTERVAL; no frame or pong for
 * POSTERN_LIVE_DEAD_AFTER seconds closes and reconnects. Nothing is polled
 * while connected.
 *
 * Properties: "client" (construct-only), "state" (PosternLiveState,
 * read-only, notifies), "cursor" (gint64).
 */
PosternLiveConnection *postern_live_connection_new (PosternApiClient *client);

/* Opens the socket from @cursor (the id of the last event already seen; 0
 * = the server's choice of backlog). Calling start while started restarts. */
void postern_live_connection_start (PosternLiveConnection *self,
                                    gint64 cursor);
/* Closes the socket (code 1000) and cancels any pending reconnect. */
void postern_live_connection_stop (PosternLiveConnection *self);
/* Skips the wait of a scheduled reconnect (e.g. "Sync now"). */
void postern_live_connection_reconnect_now (PosternLiveConnection *self);

PosternLiveState postern_live_connection_get_state (PosternLiveConnection *self);
gint64 postern_live_connection_get_cursor (PosternLiveConnection *self);

/* Raises the channel revision the next connection asks to resume from
 * (the engine's, after a fetch); never lowers it. */
void postern_live_connection_set_revision (PosternLiveConnection *self,
                                           gint64 revision);
gint64 postern_live_connection_get_revision (PosternLiveConnection *self);

/* Overrides the backoff bounds (tests use a few milliseconds). */
void postern_live_connection_set_backoff (PosternLiveConnection *self,
                                          guint min_ms,
                                          guint max_ms);

/* Overrides the keep-alive: a ping every @interval_s seconds, and a
 * reconnect after @dead_after_s seconds without any frame or pong (tests
 * use a few seconds). Applies to the next connection. */
void postern_live_connection_set_keepalive (PosternLiveConnection *self,
                                            guint interval_s,
                                            guint dead_after_s);

/* The delay before retry @attempt (0-based) with jitter @jitter in
 * [-1.0, 1.0]: min(@max_ms, @min_ms * 2^attempt) * (1 + 0.25 * @jitter).
 * Exposed for unit tests. */
guint postern_live_backoff_delay (guint attempt,
                                  guint min_ms,
                                  guint max_ms,
                                  double jitter);

const char *postern_live_state_to_string (PosternLiveState state);

G_END_DECLS
