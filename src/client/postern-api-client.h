/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>
#include <libsoup/soup.h>

#include "postern-core.h"

G_BEGIN_DECLS

#define POSTERN_API_CLIENT_MAX_BODY (64 * 1024 * 1024) /* octets read from any response: ~180,000 channels */
#define POSTERN_API_CLIENT_TIMEOUT  30                 /* seconds per request (I/O idle) */

#define POSTERN_TYPE_API_CLIENT (postern_api_client_get_type ())

G_DECLARE_FINAL_TYPE (PosternApiClient, postern_api_client, POSTERN, API_CLIENT, GObject)

/*
 * PosternApiClient: the HTTP side of docs/api.md for one server and one
 * device token, on its own SoupSession. All calls are asynchronous
 * (GTask); callbacks run in the thread-default main context of the caller
 * of _new().
 *
 * TLS: when a fingerprint is pinned, the server's certificate is accepted
 * if and only if its SHA-256 fingerprint equals the pin (CA validation is
 * not consulted: the session has no TLS database, so every message's
 * "accept-certificate" handler decides). A different certificate fails the
 * call with %POSTERN_CLIENT_ERROR_UNTRUSTED: "The server's certificate
 * changed (expected AA:…, got BB:…)". Without a pin, the system CA store
 * decides. Plain http:// is accepted only for loopback hosts (development
 * and tests; the server then needs `[api] allow_plain_http=true`).
 *
 * Errors: %POSTERN_CLIENT_ERROR codes (see postern-client-error.h); a
 * cancelled call fails with G_IO_ERROR_CANCELLED. Calls that need a token
 * fail with %POSTERN_CLIENT_ERROR_NOT_PAIRED when none is set.
 *
 * Properties: "base-url" (construct-only, string, e.g.
 * "https://postern.example.org:8443"; a trailing "/" is dropped),
 * "fingerprint" (read-write, canonical form or %NULL), "token" (write-only
 * in practice: never logged; readable for the secret store),
 * "user-agent" (read-write).
 */

/* Returns %NULL with %POSTERN_CLIENT_ERROR_INVALID when @base_url is not an
 * https URL (or http on a loopback host) or @fingerprint is malformed.
 * @fingerprint and @token may be %NULL. */
PosternApiClient *postern_api_client_new (const char *base_url,
                                          const char *fingerprint,
                                          const char *token,
                                          GError **error);

const char *postern_api_client_get_base_url (PosternApiClient *self);
const char *postern_api_client_get_fingerprint (PosternApiClient *self);
/* Accepts any form postern_fingerprint_normalize() accepts; %NULL unpins. */
gboolean postern_api_client_set_fingerprint (PosternApiClient *self,
                                             const char *fingerprint,
                                             GError **error);
const char *postern_api_client_get_token (PosternApiClient *self);
void postern_api_client_set_token (PosternApiClient *self,
                                   const char *token);
gboolean postern_api_client_has_token (PosternApiClient *self);

/* The session, for PosternLiveConnection (it uses the same TLS rules). */
SoupSession *postern_api_client_get_session (PosternApiClient *self);

/*
 * A new message for @method and @path ("/api/v1/…", may carry a query)
 * with the pin handler attached and, when a token is set, the
 * Authorization header. Used internally and by PosternLiveConnection;
 * @path must already be percent-encoded.
 */
SoupMessage *postern_api_client_new_message (PosternApiClient *self,
                                             const char *method,
                                             const char *path);

/*
 * After a message made by postern_api_client_new_message() failed with
 * @error, returns the error to report: a pin mismatch becomes
 * %POSTERN_CLIENT_ERROR_UNTRUSTED, network and TLS errors
 * %POSTERN_CLIENT_ERROR_OFFLINE, cancellation stays G_IO_ERROR_CANCELLED.
 */
GError *postern_api_client_translate_error (PosternApiClient *self,
                                            SoupMessage *message,
                                            const GError *error);

/* ---- generic request ---------------------------------------------------- */

/*
 * Sends @method @path with @body (a JSON node serialised as
 * application/json; %NULL for none) and @if_match (a revision > 0 sends
 * `If-Match: "REV"`). On a 2xx answer the finish function returns the
 * parsed JSON body (%NULL without error for an empty body, e.g. 204), and
 * the status and the ETag revision (0 when absent) through the optional out
 * parameters. Every other status is an error mapped from problem+json.
 */
void postern_api_client_request_async (PosternApiClient *self,
                                       const char *method,
                                       const char *path,
                                       JsonNode *body,
                                       gint64 if_match,
                                       GCancellable *cancellable,
                                       GAsyncReadyCallback callback,
                                       gpointer user_data);
JsonNode *postern_api_client_request_finish (PosternApiClient *self,
                                             GAsyncResult *result,
                                             guint *out_status,
                                             gint64 *out_etag_revision,
                                             GError **error);

/* ---- pairing -------------------------------------------------------------- */

/*
 * Connects to @base_url, completes the TLS handshake and returns the
 * fingerprint of the certificate the server presented, WITHOUT trusting it:
 * the connection is abandoned right after the handshake, nothing is sent.
 * For an http:// loopback URL the result is "" (no certificate) after a
 * successful GET /api/v1/health. A static function: no client exists yet.
 */
void postern_api_client_probe_async (const char *base_url,
                                     GCancellable *cancellable,
                                     GAsyncReadyCallback callback,
                                     gpointer user_data);
char *postern_api_client_probe_finish (GAsyncResult *result,
                                       GError **error);

/*
 * POST /api/v1/pair: trades the one-time @code for a device token named
 * @device_name. Needs the fingerprint pinned (unless the URL is plain
 * http). On success the token is also set on @self. @out_user receives the
 * user name, @out_domains the channel domains (NULL-terminated).
 * A wrong/used/expired code is %POSTERN_CLIENT_ERROR_AUTH.
 */
void postern_api_client_pair_async (PosternApiClient *self,
                                    const char *code,
                                    const char *device_name,
                                    GCancellable *cancellable,
                                    GAsyncReadyCallback callback,
                                    gpointer user_data);
char *postern_api_client_pair_finish (PosternApiClient *self,
                                      GAsyncResult *result,
                                      char **out_user,
                                      GStrv *out_domains,
                                      GError **error);

/* ---- account and devices ---------------------------------------------- */

/* GET /api/v1/health → the JSON object {"status","version"}. No token. */
void postern_api_client_health_async (PosternApiClient *self,
                                      GCancellable *cancellable,
                                      GAsyncReadyCallback callback,
                                      gpointer user_data);
JsonNode *postern_api_client_health_finish (PosternApiClient *self,
                                            GAsyncResult *result,
                                            GError **error);

/* GET /api/v1/account → the JSON object {"user","domains","address_styles",
 * "latest_event","revision"}. */
void postern_api_client_get_account_async (PosternApiClient *self,
                                           GCancellable *cancellable,
                                           GAsyncReadyCallback callback,
                                           gpointer user_data);
JsonNode *postern_api_client_get_account_finish (PosternApiClient *self,
                                                 GAsyncResult *result,
                                                 GError **error);

/* GET /api/v1/devices → the array of {"id","name","created_at",
 * "last_seen_at","current"} that the server wraps as {"devices":[…]}. */
void postern_api_client_list_devices_async (PosternApiClient *self,
                                            GCancellable *cancellable,
                                            GAsyncReadyCallback callback,
                                            gpointer user_data);
JsonNode *postern_api_client_list_devices_finish (PosternApiClient *self,
                                                  GAsyncResult *result,
                                                  GError **error);

/* DELETE /api/v1/devices/{id}. */
void postern_api_client_revoke_device_async (PosternApiClient *self,
                                             gint64 device_id,
                                             GCancellable *cancellable,
                                             GAsyncReadyCallback callback,
                                             gpointer user_data);
gboolean postern_api_client_revoke_device_finish (PosternApiClient *self,
                                                  GAsyncResult *result,
                                                  GError **error);

/* ---- channels ----------------------------------------------------------- */

/*
 * GET /api/v1/channels[?since=REVISION] (@since_revision 0 = everything).
 * Returns an array of PosternChannel (full element ownership), the
 * server's revision in @out_revision and, when non-NULL, the ids deleted
 * since @since_revision in @out_deleted (array of char*).
 */
void postern_api_client_list_channels_async (PosternApiClient *self,
                                             gint64 since_revision,
                                             GCancellable *cancellable,
                                             GAsyncReadyCallback callback,
                                             gpointer user_data);
GPtrArray *postern_api_client_list_channels_finish (PosternApiClient *self,
                                                    GAsyncResult *result,
                                                    gint64 *out_revision,
                                                    GPtrArray **out_deleted,
                                                    GError **error);

/*
 * POST /api/v1/channels with @channel's wire form (id, address, label,
 * note, kind, on_unexpected, farewell, farewell_text, expected_senders,
 * expires_at): the client mints the UUID and the address, so replaying the
 * same creation is idempotent (the server answers 200 with the stored
 * channel). @channel must have an id. Returns the stored channel.
 */
void postern_api_client_create_channel_async (PosternApiClient *self,
                                              PosternChannel *channel,
                                              GCancellable *cancellable,
                                              GAsyncReadyCallback callback,
                                              gpointer user_data);
PosternChannel *postern_api_client_create_channel_finish (PosternApiClient *self,
                                                          GAsyncResult *result,
                                                          GError **error);

/* GET /api/v1/channels/{id}. The revision comes from the body (and the
 * ETag). */
void postern_api_client_get_channel_async (PosternApiClient *self,
                                           const char *channel_id,
                                           GCancellable *cancellable,
                                           GAsyncReadyCallback callback,
                                           gpointer user_data);
PosternChannel *postern_api_client_get_channel_finish (PosternApiClient *self,
                                                       GAsyncResult *result,
                                                       GError **error);

/*
 * PATCH /api/v1/channels/{id} with `If-Match: "@if_revision"` (0: no
 * If-Match) and @changes, a JSON object with wire member names (label,
 * note, state, on_unexpected, farewell, farewell_text, expected_senders,
 * expires_at). A stale revision is %POSTERN_CLIENT_ERROR_CONFLICT.
 */
void postern_api_client_update_channel_async (PosternApiClient *self,
                                              const char *channel_id,
                                              gint64 if_revision,
                                              JsonObject *changes,
                                              GCancellable *cancellable,
                                              GAsyncReadyCallback callback,
                                              gpointer user_data);
PosternChannel *postern_api_client_update_channel_finish (PosternApiClient *self,
                                                          GAsyncResult *result,
                                                          GError **error);

/* POST /api/v1/channels/{id}/revoke (idempotent). Returns the channel as
 * stored after the call. */
void postern_api_client_revoke_channel_async (PosternApiClient *self,
                                              const char *channel_id,
                                              GCancellable *cancellable,
                                              GAsyncReadyCallback callback,
                                              gpointer user_data);
PosternChannel *postern_api_client_revoke_channel_finish (PosternApiClient *self,
                                                          GAsyncResult *result,
                                                          GError **error);

/* DELETE /api/v1/channels/{id}: gone for good (a tombstone tells other
 * devices, through ?since= and the live "deleted" frame). Revoking is what
 * users normally want: a deleted channel's address is unknown to the server. */
void postern_api_client_delete_channel_async (PosternApiClient *self,
                                              const char *channel_id,
                                              GCancellable *cancellable,
                                              GAsyncReadyCallback callback,
                                              gpointer user_data);
gboolean postern_api_client_delete_channel_finish (PosternApiClient *self,
                                                   GAsyncResult *result,
                                                   GError **error);

/* POST /api/v1/channels/{id}/senders {"pattern"} (trust a sender);
 * returns the channel after the call. */
void postern_api_client_add_sender_async (PosternApiClient *self,
                                          const char *channel_id,
                                          const char *pattern,
                                          GCancellable *cancellable,
                                          GAsyncReadyCallback callback,
                                          gpointer user_data);
PosternChannel *postern_api_client_add_sender_finish (PosternApiClient *self,
                                                      GAsyncResult *result,
                                                      GError **error);

/* DELETE /api/v1/channels/{id}/senders/{pattern} (@pattern is
 * percent-encoded here); returns the channel after the call. */
void postern_api_client_remove_sender_async (PosternApiClient *self,
                                             const char *channel_id,
                                             const char *pattern,
                                             GCancellable *cancellable,
                                             GAsyncReadyCallback callback,
                                             gpointer user_data);
PosternChannel *postern_api_client_remove_sender_finish (PosternApiClient *self,
                                                         GAsyncResult *result,
                                                         GError **error);

/* GET /api/v1/channels/{id}/timeline → the JSON as the server sends it. */
void postern_api_client_get_timeline_async (PosternApiClient *self,
                                            const char *channel_id,
                                            GCancellable *cancellable,
                                            GAsyncReadyCallback callback,
                                            gpointer user_data);
JsonNode *postern_api_client_get_timeline_finish (PosternApiClient *self,
                                                  GAsyncResult *result,
                                                  GError **error);

/* POST /api/v1/channels/{id}/shares {"method","recipient"}; @recipient
 * may be %NULL. */
void postern_api_client_record_share_async (PosternApiClient *self,
                                            const char *channel_id,
                                            PosternShareMethod method,
                                            const char *recipient,
                                            GCancellable *cancellable,
                                            GAsyncReadyCallback callback,
                                            gpointer user_data);
gboolean postern_api_client_record_share_finish (PosternApiClient *self,
                                                 GAsyncResult *result,
                                                 GError **error);

/* ---- blocks --------------------------------------------------------------- */

/* GET /api/v1/blocks → array of PosternBlockEntry. */
void postern_api_client_list_blocks_async (PosternApiClient *self,
                                           GCancellable *cancellable,
                                           GAsyncReadyCallback callback,
                                           gpointer user_data);
GPtrArray *postern_api_client_list_blocks_finish (PosternApiClient *self,
                                                  GAsyncResult *result,
                                                  GError **error);

/* POST /api/v1/blocks {"pattern","channel_id"} (@channel_id %NULL: all
 * channels) → the stored entry. */
void postern_api_client_add_block_async (PosternApiClient *self,
                                         const char *pattern,
                                         const char *channel_id,
                                         GCancellable *cancellable,
                                         GAsyncReadyCallback callback,
                                         gpointer user_data);
PosternBlockEntry *postern_api_client_add_block_finish (PosternApiClient *self,
                                                        GAsyncResult *result,
                                                        GError **error);

/* DELETE /api/v1/blocks/{id}. */
void postern_api_client_remove_block_async (PosternApiClient *self,
                                            gint64 block_id,
                                            GCancellable *cancellable,
                                            GAsyncReadyCallback callback,
                                            gpointer user_data);
gboolean postern_api_client_remove_block_finish (PosternApiClient *self,
                                                 GAsyncResult *result,
                                                 GError **error);

/* ---- events and held mail ------------------------------------------------ */

/*
 * GET /api/v1/events?since=@since_cursor&limit=@limit&order=asc|desc
 * [&channel=@channel_id][&verdict=@verdict]. @limit 0 lets the server
 * choose; @channel_id and @verdict may be %NULL. Returns an array of
 * PosternEvent and the server's cursor in @out_cursor (for the next page:
 * the last id returned in ascending order, the oldest in descending
 * order).
 */
void postern_api_client_list_events_async (PosternApiClient *self,
                                           gint64 since_cursor,
                                           guint limit,
                                           gboolean newest_first,
                                           const char *channel_id,
                                           const char *verdict,
                                           GCancellable *cancellable,
                                           GAsyncReadyCallback callback,
                                           gpointer user_data);
GPtrArray *postern_api_client_list_events_finish (PosternApiClient *self,
                                                  GAsyncResult *result,
                                                  gint64 *out_cursor,
                                                  GError **error);

/* GET /api/v1/held → the array [{"id":N,"event":{…}}, …] that the server
 * wraps as {"held":[…]}. */
void postern_api_client_list_held_async (PosternApiClient *self,
                                         GCancellable *cancellable,
                                         GAsyncReadyCallback callback,
                                         gpointer user_data);
JsonNode *postern_api_client_list_held_finish (PosternApiClient *self,
                                               GAsyncResult *result,
                                               GError **error);

/* POST /api/v1/held/{id}/release (deliver now). */
void postern_api_client_release_held_async (PosternApiClient *self,
                                            gint64 held_id,
                                            GCancellable *cancellable,
                                            GAsyncReadyCallback callback,
                                            gpointer user_data);
gboolean postern_api_client_release_held_finish (PosternApiClient *self,
                                                 GAsyncResult *result,
                                                 GError **error);

/* POST /api/v1/held/{id}/drop (delete). */
void postern_api_client_drop_held_async (PosternApiClient *self,
                                         gint64 held_id,
                                         GCancellable *cancellable,
                                         GAsyncReadyCallback callback,
                                         gpointer user_data);
gboolean postern_api_client_drop_held_finish (PosternApiClient *self,
                                              GAsyncResult *result,
                                              GError **error);

G_END_DECLS
