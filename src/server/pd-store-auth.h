/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

#include "pd-store.h"
#include "postern-core.h"

G_BEGIN_DECLS

/*
 * The API side of the store: devices and their tokens, pairing codes and
 * shares (the tables `devices`, `pairing_codes` and `shares` of the first
 * migration). It keeps its own SQLite connection to the store's database
 * (WAL lets both work at once); open it after pd_store_open() has applied
 * the migrations. Errors are in PD_STORE_ERROR.
 *
 * Secrets are never stored: a device token (256 random bits, sent as 64
 * lower-case hex digits) and a pairing code are kept as the SHA-256 of
 * their text. Every function that takes a time takes it as @now (unix
 * seconds) so that tests can move the clock.
 */

#define PD_TOKEN_BYTES           32
#define PD_TOKEN_LENGTH          (2 * PD_TOKEN_BYTES)
#define PD_PAIRING_CODE_LENGTH   12  /* symbols, shown as XXXX-XXXX-XXXX */
#define PD_PAIRING_CODE_LIFETIME 600 /* seconds */
#define PD_DEVICE_NAME_MAX       100 /* UTF-8 characters */
#define PD_SHARE_RECIPIENT_MAX   200 /* UTF-8 characters */
#define PD_LAST_SEEN_GRANULARITY 60  /* seconds between last_seen writes */

typedef struct
{
  gint64 id;
  gint64 user_id;
  char *name;
  gint64 created_at;
  gint64 last_seen_at;
} PdDevice;

void pd_device_free (PdDevice *device);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PdDevice, pd_device_free)

typedef struct
{
  gint64 id;
  char *channel_id;
  PosternShareMethod method;
  char *recipient;
  gint64 shared_at;
} PdShare;

void pd_share_free (PdShare *share);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PdShare, pd_share_free)

#define PD_TYPE_STORE_AUTH (pd_store_auth_get_type ())
G_DECLARE_FINAL_TYPE (PdStoreAuth, pd_store_auth, PD, STORE_AUTH, GObject)

PdStoreAuth *pd_store_auth_open (const char *state_dir, GError **error);

/* A new single-use pairing code for @user_id, valid for @lifetime seconds
 * from @now, formatted XXXX-XXXX-XXXX. Expired codes are swept. */
char *pd_store_auth_create_pairing_code (PdStoreAuth *self,
                                         gint64 user_id,
                                         gint64 now,
                                         gint64 lifetime,
                                         GError **error);

/* Trades @code (case and dashes ignored) for a new device named
 * @device_name; returns its token. PD_STORE_ERROR_NOT_FOUND for a code
 * that is unknown, used or expired (one message for all three). */
char *pd_store_auth_redeem_pairing_code (PdStoreAuth *self,
                                         const char *code,
                                         const char *device_name,
                                         gint64 now,
                                         gint64 *out_user_id,
                                         gint64 *out_device_id,
                                         GError **error);

/* Looks up the device holding @token; PD_STORE_ERROR_NOT_FOUND when none
 * (malformed, unknown or revoked). Records last_seen_at at most once per
 * PD_LAST_SEEN_GRANULARITY. */
gboolean pd_store_auth_authenticate (PdStoreAuth *self,
                                     const char *token,
                                     gint64 now,
                                     gint64 *out_user_id,
                                     gint64 *out_device_id,
                                     GError **error);

/* Whether the device still exists (it may be revoked by another process,
 * `posternd device revoke`). FALSE on errors too. */
gboolean pd_store_auth_device_exists (PdStoreAuth *self, gint64 device_id);
GPtrArray *pd_store_auth_list_devices (PdStoreAuth *self, gint64 user_id, GError **error); /* of PdDevice */
gboolean pd_store_auth_revoke_device (PdStoreAuth *self, gint64 user_id, gint64 device_id, GError **error);

/* Records a share of @channel_id (the caller checked that it belongs to
 * @user_id). */
PdShare *pd_store_auth_add_share (PdStoreAuth *self,
                                  gint64 user_id,
                                  const char *channel_id,
                                  PosternShareMethod method,
                                  const char *recipient,
                                  gint64 shared_at,
                                  GError **error);
/* Shares of one channel, oldest first. */
GPtrArray *pd_store_auth_list_shares (PdStoreAuth *self, gint64 user_id, const char *channel_id, GError **error); /* of PdShare */

/* The highest channel revision of @user_id, deleted channels included
 * (0 when none): the sync point a channel list hands out. */
gint64 pd_store_auth_get_channel_revision (PdStoreAuth *self, gint64 user_id, GError **error);

/* SHA-256 of @text as 32 raw bytes in @out. */
void pd_store_auth_hash (const char *text, guint8 out[32]);

G_END_DECLS
