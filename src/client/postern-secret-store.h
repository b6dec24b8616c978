/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>
#include <libsecret/secret.h>

G_BEGIN_DECLS

/*
 * The keyring schema (docs/keyring.md): io.github.postern.Postern.Account
 *   server  (string) the server's base URL, e.g. https://postern.example.org:8443
 *   user    (string) the account's user name on that server
 *   kind    (string) token | pin | channels | pending | events
 *
 * One item per (server, user, kind): a few items per account, never one
 * per channel (gnome-keyring rewrites its whole file on every change).
 * Values: token = the 64-hex device token; pin = the canonical certificate
 * fingerprint (or "" for a CA-trusted server); channels, pending, events =
 * UTF-8 JSON documents owned by PosternSyncEngine.
 */
#define POSTERN_SECRET_SCHEMA_NAME "io.github.postern.Postern.Account"
#define POSTERN_SECRET_COALESCE_MS 500 /* idle time before a queued write */

typedef enum
{
  POSTERN_SECRET_TOKEN,    /* "token" */
  POSTERN_SECRET_PIN,      /* "pin" */
  POSTERN_SECRET_CHANNELS, /* "channels" */
  POSTERN_SECRET_PENDING,  /* "pending" */
  POSTERN_SECRET_EVENTS,   /* "events" */
} PosternSecretKind;

#define POSTERN_SECRET_N_KINDS 5

typedef enum
{
  POSTERN_SECRET_STORE_UNKNOWN,     /* nothing tried yet */
  POSTERN_SECRET_STORE_READY,       /* the last operation worked */
  POSTERN_SECRET_STORE_LOCKED,      /* the collection is locked: waiting for unlock */
  POSTERN_SECRET_STORE_UNAVAILABLE, /* no Secret Service on the bus: waiting for one */
} PosternSecretStoreState;

const SecretSchema *postern_secret_schema_get (void);
const char *postern_secret_kind_to_string (PosternSecretKind kind);
const char *postern_secret_store_state_to_string (PosternSecretStoreState state);

#define POSTERN_TYPE_SECRET_STORE (postern_secret_store_get_type ())

G_DECLARE_FINAL_TYPE (PosternSecretStore, postern_secret_store, POSTERN, SECRET_STORE, GObject)

/*
 * PosternSecretStore: the Secret Service items of one account.
 *
 * Reads are async lookups. Writes go through postern_secret_store_save():
 * the value is kept in memory at once and written after
 * POSTERN_SECRET_COALESCE_MS of quiet (a later save of the same kind
 * replaces an unwritten earlier one), so a burst of changes costs one
 * keyring write. When the collection is locked or the service is missing,
 * unwritten values stay in memory, "state" says why (LOCKED, UNAVAILABLE),
 * "error" carries the actionable message (%POSTERN_CLIENT_ERROR_KEYRING_LOCKED:
 * "Unlock the login keyring to sync channels"), and the writes are retried
 * when the collection unlocks or the service appears (both watched). Nothing
 * is lost while the process lives.
 *
 * Locked collections are never unlocked implicitly (no surprise prompts);
 * postern_secret_store_unlock_async() asks the user explicitly.
 *
 * Properties: "server", "user" (construct-only), "state" (read-only,
 * notifies), "busy" (TRUE while writes are queued or in flight).
 * Signal "error" (GError *) when a write fails.
 */
PosternSecretStore *postern_secret_store_new (const char *server,
                                              const char *user);

const char *postern_secret_store_get_server (PosternSecretStore *self);
const char *postern_secret_store_get_user (PosternSecretStore *self);
PosternSecretStoreState postern_secret_store_get_state (PosternSecretStore *self);
/* The last error (KEYRING_LOCKED, KEYRING_UNAVAILABLE, FAILED) or %NULL
 * when READY. */
const GError *postern_secret_store_get_error (PosternSecretStore *self);
gboolean postern_secret_store_get_busy (PosternSecretStore *self);

/*
 * Reads the item of @kind. An unwritten value saved through this instance
 * wins (read-your-writes). Returns %NULL without error when there is no
 * such item; KEYRING_LOCKED when the item exists but its collection is
 * locked; KEYRING_UNAVAILABLE without a Secret Service.
 */
void postern_secret_store_load_async (PosternSecretStore *self,
                                      PosternSecretKind kind,
                                      GCancellable *cancellable,
                                      GAsyncReadyCallback callback,
                                      gpointer user_data);
char *postern_secret_store_load_finish (PosternSecretStore *self,
                                        GAsyncResult *result,
                                        GError **error);

/* Queues @value (UTF-8) for @kind; %NULL deletes the item. Coalesced. */
void postern_secret_store_save (PosternSecretStore *self,
                                PosternSecretKind kind,
                                const char *value);

/* Writes every queued value now; completes when they are written (TRUE)
 * or with the error that stopped them (they stay queued). */
void postern_secret_store_flush_async (PosternSecretStore *self,
                                       GCancellable *cancellable,
                                       GAsyncReadyCallback callback,
                                       gpointer user_data);
gboolean postern_secret_store_flush_finish (PosternSecretStore *self,
                                            GAsyncResult *result,
                                            GError **error);

/* Deletes every item of this account (unpairing) and drops queued writes. */
void postern_secret_store_clear_async (PosternSecretStore *self,
                                       GCancellable *cancellable,
                                       GAsyncReadyCallback callback,
                                       gpointer user_data);
gboolean postern_secret_store_clear_finish (PosternSecretStore *self,
                                            GAsyncResult *result,
                                            GError **error);

/* Asks the Secret Service to unlock the default collection (the keyring
 * shows its own prompt). Queued writes follow on success. */
void postern_secret_store_unlock_async (PosternSecretStore *self,
                                        GCancellable *cancellable,
                                        GAsyncReadyCallback callback,
                                        gpointer user_data);
gboolean postern_secret_store_unlock_finish (PosternSecretStore *self,
                                             GAsyncResult *result,
                                             GError **error);

/*
 * Finds the accounts that have a token item: on success @out_servers and
 * @out_users (NULL-terminated, same length, possibly empty) name them.
 * Locked items are reported too (their attributes are readable), so a
 * locked keyring still tells which account exists.
 */
void postern_secret_store_find_accounts_async (GCancellable *cancellable,
                                               GAsyncReadyCallback callback,
                                               gpointer user_data);
gboolean postern_secret_store_find_accounts_finish (GAsyncResult *result,
                                                    GStrv *out_servers,
                                                    GStrv *out_users,
                                                    GError **error);

G_END_DECLS
