/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

#include "postern-api-client.h"
#include "postern-core.h"
#include "postern-mutation.h"

G_BEGIN_DECLS

#define POSTERN_SYNC_RECENT_EVENTS 500 /* events kept locally (keyring "events") */

/* Wire names are those of the agent's D-Bus "connection" status member. */
typedef enum
{
  POSTERN_SYNC_STATUS_UNPAIRED,       /* "unpaired": no account, or its token was refused */
  POSTERN_SYNC_STATUS_KEYRING_LOCKED, /* "keyring-locked": the keyring is locked or missing */
  POSTERN_SYNC_STATUS_OFFLINE,        /* "offline": paired, server unreachable (retrying) */
  POSTERN_SYNC_STATUS_CONNECTING,     /* "connecting": fetching changes / opening live */
  POSTERN_SYNC_STATUS_ONLINE,         /* "online": up to date, live connected */
} PosternSyncStatus;

const char *postern_sync_status_to_string (PosternSyncStatus status);

#define POSTERN_TYPE_SYNC_ENGINE (postern_sync_engine_get_type ())

G_DECLARE_FINAL_TYPE (PosternSyncEngine, postern_sync_engine, POSTERN, SYNC_ENGINE, GObject)

/*
 * PosternSyncEngine: owns the one paired account of this desktop user.
 *
 * - Start: finds the account in the keyring (PosternSecretStore), loads
 *   the channel snapshot, the pending queue and the recent events: all
 *   readable offline. Then syncs: the first sync fetches every channel,
 *   later ones ?since=REVISION; then one PosternLiveConnection carries
 *   events and channel changes. Each (re)connection fetches changes since
 *   the last revision and replays the queue. No polling while connected.
 * - Mutations (create, update, revoke, pause, resume, trust, untrust,
 *   block, share) apply to the local copy at once, are queued in the
 *   keyring ("pending") and sent in order when online; replay is
 *   idempotent (client-minted UUID and address for creation). A 412 is
 *   resolved by refetching the channel and re-applying the change once;
 *   if it still fails, or the server refuses a change, the change is
 *   dropped, the server's copy restored and "mutation-failed" emitted.
 * - Keyring writes are coalesced (PosternSecretStore); a locked keyring
 *   shows as status KEYRING_LOCKED with the message "Unlock the login
 *   keyring to sync channels", and nothing is lost.
 *
 * Signals:
 *   "channel-changed" (PosternChannel *channel)   added or changed
 *   "channel-removed" (const char *channel_id)     deleted on the server
 *   "event-added"     (PosternEvent *event)        a new event (live or caught up)
 *   "alert"           (PosternEvent *event, PosternChannel *channel)
 *                     a new event whose verdict postern_verdict_is_alert();
 *                     not emitted for the backlog fetched by the first sync
 *                     after pairing
 *   "status-changed"  ()  status, message, pending count, unread alerts or
 *                     last sync changed (read them with the getters)
 *   "mutation-failed" (PosternMutation *mutation, GError *error)
 *                     a queued change the server refused for good
 *
 * Properties (read-only, notify): "status", "status-message", "paired",
 * "server", "user", "fingerprint", "pending-count", "unread-alerts",
 * "last-sync".
 */
PosternSyncEngine *postern_sync_engine_new (void);

/*
 * Loads the account from the keyring and starts syncing. Completes once
 * the local copy is loaded (not when the server answered): TRUE also
 * when there is no account (status UNPAIRED). A locked or missing keyring
 * completes with the KEYRING_* error; the engine keeps watching and
 * continues by itself once the keyring is usable.
 */
void postern_sync_engine_start_async (PosternSyncEngine *self,
                                      GCancellable *cancellable,
                                      GAsyncReadyCallback callback,
                                      gpointer user_data);
gboolean postern_sync_engine_start_finish (PosternSyncEngine *self,
                                           GAsyncResult *result,
                                           GError **error);

/* Writes queued keyring changes and closes the live connection; call
 * before exiting. */
void postern_sync_engine_shutdown_async (PosternSyncEngine *self,
                                         GCancellable *cancellable,
                                         GAsyncReadyCallback callback,
                                         gpointer user_data);
gboolean postern_sync_engine_shutdown_finish (PosternSyncEngine *self,
                                              GAsyncResult *result,
                                              GError **error);

/*
 * Pairs this device: @uri_or_url is a postern://pair?… URI (then @code and
 * @fingerprint may be %NULL or "" and the URI's are used) or a server base
 * URL. @fingerprint is the one the user confirmed after
 * postern_api_client_probe_async(); the server must present exactly that
 * certificate (else %POSTERN_CLIENT_ERROR_UNTRUSTED). An existing account
 * is replaced (its keyring items removed). On success the token and the
 * pin are in the keyring (written, not just queued) and the first sync has
 * started.
 */
void postern_sync_engine_pair_async (PosternSyncEngine *self,
                                     const char *uri_or_url,
                                     const char *code,
                                     const char *fingerprint,
                                     const char *device_name,
                                     GCancellable *cancellable,
                                     GAsyncReadyCallback callback,
                                     gpointer user_data);
gboolean postern_sync_engine_pair_finish (PosternSyncEngine *self,
                                          GAsyncResult *result,
                                          GError **error);

/* Forgets the account: stops syncing and deletes its keyring items. The
 * pending queue is discarded. */
void postern_sync_engine_unpair_async (PosternSyncEngine *self,
                                       GCancellable *cancellable,
                                       GAsyncReadyCallback callback,
                                       gpointer user_data);
gboolean postern_sync_engine_unpair_finish (PosternSyncEngine *self,
                                            GAsyncResult *result,
                                            GError **error);

/* Reconnects now if waiting, else fetches changes and replays the queue. */
void postern_sync_engine_sync_now (PosternSyncEngine *self);

/* ---- state ---------------------------------------------------------------- */

PosternSyncStatus postern_sync_engine_get_status (PosternSyncEngine *self);
/* A sentence for the user: "Online", "Offline: retrying in 8 s (Could not
 * connect…)", "Unlock the login keyring to sync channels", … */
const char *postern_sync_engine_get_status_message (PosternSyncEngine *self);
gboolean postern_sync_engine_get_paired (PosternSyncEngine *self);
/* Connected: synced and the live connection open (TRUE also while the
 * status is KEYRING_LOCKED: the server is reachable, the keyring is not). */
gboolean postern_sync_engine_get_online (PosternSyncEngine *self);
const char *postern_sync_engine_get_server (PosternSyncEngine *self);
const char *postern_sync_engine_get_user (PosternSyncEngine *self);
const char *postern_sync_engine_get_fingerprint (PosternSyncEngine *self);
/* The server's channel domains (NULL-terminated, maybe empty). */
const char *const *postern_sync_engine_get_domains (PosternSyncEngine *self);
guint postern_sync_engine_get_pending_count (PosternSyncEngine *self);
guint postern_sync_engine_get_unread_alerts (PosternSyncEngine *self);
/* Whether the alert event @event_id (one of the recent events) is unread:
 * the agent counts them per channel for the app. */
gboolean postern_sync_engine_is_alert_unread (PosternSyncEngine *self,
                                              gint64 event_id);
/* Unix seconds of the last successful sync with the server, 0 = never. */
gint64 postern_sync_engine_get_last_sync (PosternSyncEngine *self);
/* The API client of the account (held mail, devices, timeline, older
 * events), or %NULL when unpaired. */
PosternApiClient *postern_sync_engine_get_api_client (PosternSyncEngine *self);

/* ---- channels and events -------------------------------------------------- */

/* The channels (PosternChannel items, newest created first). A changed
 * channel is a new item replacing the old one (items-changed, then
 * "channel-changed"); do not modify the items. */
GListModel *postern_sync_engine_get_channels (PosternSyncEngine *self);
/* The channel with @id, or %NULL. Transfer none, and valid only until the
 * channel next changes (a change replaces the object): take a reference,
 * or look it up again, to keep it across a return to the main loop. */
PosternChannel *postern_sync_engine_lookup_channel (PosternSyncEngine *self,
                                                    const char *channel_id);
/* Up to @limit (0 = all) locally known events, newest first, of
 * @channel_id (%NULL = all). Array of PosternEvent, owning. */
GPtrArray *postern_sync_engine_list_events (PosternSyncEngine *self,
                                            const char *channel_id,
                                            guint limit);
/* Marks the alerts of @channel_id (%NULL = all) as read. */
void postern_sync_engine_mark_alerts_read (PosternSyncEngine *self,
                                           const char *channel_id);
/* Copies of the queued mutations, oldest first (owning). */
GPtrArray *postern_sync_engine_dup_pending (PosternSyncEngine *self);
/* The same as a JSON array string (the agent's ListPending). */
char *postern_sync_engine_dup_pending_json (PosternSyncEngine *self);

/* ---- mutations (local at once, queued for the server) -------------------- */

/*
 * Creates a channel from @template (label, note, kind, on_unexpected,
 * farewell, expected senders, expires_at are used; id, address, state,
 * revision are not): mints the UUID and an address local part in @style
 * on the account's first domain. Returns the new channel (transfer none:
 * it is in the list), its revision 0 until the server stores it.
 * %POSTERN_CLIENT_ERROR_NOT_PAIRED without an account.
 */
PosternChannel *postern_sync_engine_create_channel (PosternSyncEngine *self,
                                                    PosternChannel *template_,
                                                    PosternAddressStyle style,
                                                    GError **error);
/* @changes: JSON object of PATCH members with wire names (label, note,
 * on_unexpected, farewell, farewell_text, expires_at). Validated locally
 * (INVALID naming the member). */
gboolean postern_sync_engine_update_channel (PosternSyncEngine *self,
                                             const char *channel_id,
                                             JsonObject *changes,
                                             GError **error);
gboolean postern_sync_engine_revoke (PosternSyncEngine *self,
                                     const char *channel_id,
                                     GError **error);
gboolean postern_sync_engine_pause (PosternSyncEngine *self,
                                    const char *channel_id,
                                    GError **error);
gboolean postern_sync_engine_resume (PosternSyncEngine *self,
                                     const char *channel_id,
                                     GError **error);
gboolean postern_sync_engine_trust_sender (PosternSyncEngine *self,
                                           const char *channel_id,
                                           const char *pattern,
                                           GError **error);
gboolean postern_sync_engine_untrust_sender (PosternSyncEngine *self,
                                             const char *channel_id,
                                             const char *pattern,
                                             GError **error);
/* @channel_id %NULL or "": all channels. */
gboolean postern_sync_engine_block (PosternSyncEngine *self,
                                    const char *pattern,
                                    const char *channel_id,
                                    GError **error);
gboolean postern_sync_engine_record_share (PosternSyncEngine *self,
                                           const char *channel_id,
                                           PosternShareMethod method,
                                           const char *recipient,
                                           GError **error);

/* ---- tests ---------------------------------------------------------------- */

/* Bounds of the reconnect backoff (default POSTERN_LIVE_BACKOFF_MIN/MAX). */
void postern_sync_engine_set_backoff (PosternSyncEngine *self,
                                      guint min_ms,
                                      guint max_ms);

G_END_DECLS
