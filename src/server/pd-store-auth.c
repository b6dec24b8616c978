/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "pd-store-auth.h"

#include <sqlite3.h>

/* Pairing codes use the address generator's alphabet idea: no 0/O, 1/I/L,
 * so a code read aloud or typed from a screen survives. */
static const char pairing_alphabet[] = "23456789ABCDEFGHJKMNPQRSTUVWXYZ";
#define PAIRING_ALPHABET_SIZE (sizeof pairing_alphabet - 1)

struct _PdStoreAuth
{
  GObject parent_instance;

  sqlite3 *db;
  GHashTable *statements; /* SQL text (static) -> sqlite3_stmt */
};

G_DEFINE_FINAL_TYPE (PdStoreAuth, pd_store_auth, G_TYPE_OBJECT)

/* A cached statement that is reset when it goes out of scope, so that no
 * read transaction outlives the call (WAL checkpoints need that). */
typedef sqlite3_stmt PdCachedStmt;

static void
pd_cached_stmt_release (PdCachedStmt *stmt)
{
  sqlite3_reset (stmt);
  sqlite3_clear_bindings (stmt);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PdCachedStmt, pd_cached_stmt_release)

void
pd_device_free (PdDevice *device)
{
  if (device == NULL)
    return;
  g_free (device->name);
  g_free (device);
}

void
pd_share_free (PdShare *share)
{
  if (share == NULL)
    return;
  g_free (share->channel_id);
  g_free (share->recipient);
  g_free (share);
}

static gboolean
set_sqlite_error (PdStoreAuth *self,
                  int rc,
                  const char *what,
                  GError **error)
{
  if (rc == SQLITE_CONSTRAINT)
    g_set_error (error, PD_STORE_ERROR, PD_STORE_ERROR_EXISTS, "%s: %s", what,
                 sqlite3_errmsg (self->db));
  else
    g_set_error (error, PD_STORE_ERROR, PD_STORE_ERROR_FAILED, "%s: %s", what,
                 sqlite3_errmsg (self->db));
  return FALSE;
}

static PdCachedStmt *
get_stmt (PdStoreAuth *self,
          const char *sql,
          GError **error)
{
  sqlite3_stmt *stmt = g_hash_table_lookup (self->statements, sql);
  int rc;

  if (stmt != NULL)
    return stmt;

  rc = sqlite3_prepare_v3 (self->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, NULL);
  if (rc != SQLITE_OK)
    {
      set_sqlite_error (self, rc, "prepare", error);
      return NULL;
    }
  g_hash_table_insert (self->statements, (gpointer)sql, stmt);
  return stmt;
}

static gboolean
exec_sql (PdStoreAuth *self,
          const char *sql,
          GError **error)
{
  int rc = sqlite3_exec (self->db, sql, NULL, NULL, NULL);

  if (rc != SQLITE_OK)
    return set_sqlite_error (self, rc, sql, error);
  return TRUE;
}

static void
finalize_stmt (gpointer stmt)
{
  sqlite3_finalize (stmt);
}

static void
pd_store_auth_finalize (GObject *object)
{
  PdStoreAuth *self = PD_STORE_AUTH (object);

  g_clear_pointer (&self->statements, g_hash_table_unref);
  if (self->db != NULL)
    sqlite3_close_v2 (self->db);

  G_OBJECT_CLASS (pd_store_auth_parent_class)->finalize (object);
}

static void
pd_store_auth_class_init (PdStoreAuthClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = pd_store_auth_finalize;
}

static void
pd_store_auth_init (PdStoreAuth *self)
{
  self->statements = g_hash_table_new_full (g_direct_hash, g_direct_equal, NULL,
                                            finalize_stmt);
}

PdStoreAuth *
pd_store_auth_open (const char *state_dir,
                    GError **error)
{
  g_autoptr (PdStoreAuth) self = NULL;
  g_autofree char *path = NULL;
  int rc;

  g_return_val_if_fail (state_dir != NULL, NULL);

  self = g_object_new (PD_TYPE_STORE_AUTH, NULL);
  path = g_build_filename (state_dir, "posternd.sqlite", NULL);
  /* No SQLITE_OPEN_CREATE: the store creates and migrates the database. */
  rc = sqlite3_open_v2 (path, &self->db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
  if (rc != SQLITE_OK)
    {
      g_set_error (error, PD_STORE_ERROR, PD_STORE_ERROR_FAILED,
                   "Cannot open %s: %s", path,
                   self->db != NULL ? sqlite3_errmsg (self->db) : sqlite3_errstr (rc));
      return NULL;
    }
  sqlite3_extended_result_codes (self->db, 0);
  if (!exec_sql (self, "PRAGMA busy_timeout = 5000; PRAGMA foreign_keys = ON;", error))
    return NULL;
  return g_steal_pointer (&self);
}

void
pd_store_auth_hash (const char *text,
                    guint8 out[32])
{
  g_autoptr (GChecksum) checksum = g_checksum_new (G_CHECKSUM_SHA256);
  gsize len = 32;

  g_checksum_update (checksum, (const guchar *)text, strlen (text));
  g_checksum_get_digest (checksum, out, &len);
}

/* Constant time: the comparison does not stop at the first difference. */
static gboolean
digest_equal (const guint8 *a,
              const guint8 *b,
              gsize length)
{
  guint8 diff = 0;

  for (gsize i = 0; i < length; i++)
    diff |= a[i] ^ b[i];
  return diff == 0;
}

/* Upper case, separators removed; NULL when it cannot be a code. */
static char *
normalize_pairing_code (const char *code)
{
  g_autoptr (GString) out = g_string_new (NULL);

  for (const char *p = code; *p != '\0'; p++)
    {
      char c = g_ascii_toupper (*p);

      if (c == '-' || c == ' ')
        continue;
      if (strchr (pairing_alphabet, c) == NULL || out->len >= PD_PAIRING_CODE_LENGTH)
        return NULL;
      g_string_append_c (out, c);
    }
  if (out->len != PD_PAIRING_CODE_LENGTH)
    return NULL;
  return g_string_free (g_steal_pointer (&out), FALSE);
}

char *
pd_store_auth_create_pairing_code (PdStoreAuth *self,
                                   gint64 user_id,
                                   gint64 now,
                                   gint64 lifetime,
                                   GError **error)
{
  char code[PD_PAIRING_CODE_LENGTH + 1];
  guint8 hash[32];
  guint n = 0;
  g_autoptr (PdCachedStmt) sweep = NULL;
  g_autoptr (PdCachedStmt) insert = NULL;
  int rc;

  g_return_val_if_fail (PD_IS_STORE_AUTH (self), NULL);
  g_return_val_if_fail (lifetime > 0, NULL);

  /* Rejection sampling keeps the symbols uniform. */
  while (n < PD_PAIRING_CODE_LENGTH)
    {
      guint8 buf[32];

      postern_random_bytes (buf, sizeof buf);
      for (gsize i = 0; i < sizeof buf && n < PD_PAIRING_CODE_LENGTH; i++)
        if (buf[i] < 256 - (256 % PAIRING_ALPHABET_SIZE))
          code[n++] = pairing_alphabet[buf[i] % PAIRING_ALPHABET_SIZE];
    }
  code[n] = '\0';
  pd_store_auth_hash (code, hash);

  sweep = get_stmt (self, "DELETE FROM pairing_codes WHERE expires_at <= ? OR used = 1", error);
  if (sweep == NULL)
    return NULL;
  sqlite3_bind_int64 (sweep, 1, now);
  rc = sqlite3_step (sweep);
  if (rc != SQLITE_DONE)
    {
      set_sqlite_error (self, rc, "sweep pairing codes", error);
      return NULL;
    }

  insert = get_stmt (self, "INSERT INTO pairing_codes (code_hash, user_id, expires_at) VALUES (?, ?, ?)", error);
  if (insert == NULL)
    return NULL;
  sqlite3_bind_blob (insert, 1, hash, sizeof hash, SQLITE_TRANSIENT);
  sqlite3_bind_int64 (insert, 2, user_id);
  sqlite3_bind_int64 (insert, 3, now + lifetime);
  rc = sqlite3_step (insert);
  if (rc != SQLITE_DONE)
    {
      set_sqlite_error (self, rc, "store pairing code", error);
      return NULL;
    }

  return g_strdup_printf ("%.4s-%.4s-%.4s", code, code + 4, code + 8);
}

static char *
new_token (void)
{
  guint8 raw[PD_TOKEN_BYTES];
  char *hex = g_malloc (PD_TOKEN_LENGTH + 1);

  postern_random_bytes (raw, sizeof raw);
  for (gsize i = 0; i < sizeof raw; i++)
    {
      hex[2 * i] = "0123456789abcdef"[raw[i] >> 4];
      hex[2 * i + 1] = "0123456789abcdef"[raw[i] & 0xf];
    }
  hex[PD_TOKEN_LENGTH] = '\0';
  memset (raw, 0, sizeof raw);
  return hex;
}

static gboolean
redeem_in_transaction (PdStoreAuth *self,
                       const guint8 *code_hash,
                       const char *device_name,
                       const guint8 *token_hash,
                       gint64 now,
                       gint64 *out_user_id,
                       gint64 *out_device_id,
                       GError **error)
{
  g_autoptr (PdCachedStmt) claim = NULL;
  g_autoptr (PdCachedStmt) insert = NULL;
  gint64 user_id;
  int rc;

  /* One statement claims the code: concurrent redemptions cannot both win. */
  claim = get_stmt (self,
                    "UPDATE pairing_codes SET used = 1 "
                    "WHERE code_hash = ? AND used = 0 AND expires_at > ? "
                    "RETURNING user_id",
                    error);
  if (claim == NULL)
    return FALSE;
  sqlite3_bind_blob (claim, 1, code_hash, 32, SQLITE_TRANSIENT);
  sqlite3_bind_int64 (claim, 2, now);
  rc = sqlite3_step (claim);
  if (rc == SQLITE_DONE)
    {
      g_set_error_literal (error, PD_STORE_ERROR, PD_STORE_ERROR_NOT_FOUND,
                           "The pairing code is unknown, used or expired");
      return FALSE;
    }
  if (rc != SQLITE_ROW)
    return set_sqlite_error (self, rc, "claim pairing code", error);
  user_id = sqlite3_column_int64 (claim, 0);
  rc = sqlite3_step (claim);
  if (rc != SQLITE_DONE)
    return set_sqlite_error (self, rc, "claim pairing code", error);

  insert = get_stmt (self,
                     "INSERT INTO devices (user_id, name, token_hash, created_at, last_seen_at) "
                     "VALUES (?, ?, ?, ?, ?)",
                     error);
  if (insert == NULL)
    return FALSE;
  sqlite3_bind_int64 (insert, 1, user_id);
  sqlite3_bind_text (insert, 2, device_name, -1, SQLITE_TRANSIENT);
  sqlite3_bind_blob (insert, 3, token_hash, 32, SQLITE_TRANSIENT);
  sqlite3_bind_int64 (insert, 4, now);
  sqlite3_bind_int64 (insert, 5, now);
  rc = sqlite3_step (insert);
  if (rc != SQLITE_DONE)
    return set_sqlite_error (self, rc, "add device", error);

  *out_user_id = user_id;
  *out_device_id = sqlite3_last_insert_rowid (self->db);
  return TRUE;
}

char *
pd_store_auth_redeem_pairing_code (PdStoreAuth *self,
                                   const char *code,
                                   const char *device_name,
                                   gint64 now,
                                   gint64 *out_user_id,
                                   gint64 *out_device_id,
                                   GError **error)
{
  g_autofree char *normalized = NULL;
  g_autofree char *token = NULL;
  guint8 code_hash[32];
  guint8 token_hash[32];
  gint64 user_id = 0, device_id = 0;

  g_return_val_if_fail (PD_IS_STORE_AUTH (self), NULL);
  g_return_val_if_fail (code != NULL, NULL);
  g_return_val_if_fail (device_name != NULL && g_utf8_validate (device_name, -1, NULL), NULL);

  normalized = normalize_pairing_code (code);
  if (normalized == NULL)
    {
      g_set_error_literal (error, PD_STORE_ERROR, PD_STORE_ERROR_NOT_FOUND,
                           "The pairing code is unknown, used or expired");
      return NULL;
    }
  pd_store_auth_hash (normalized, code_hash);
  token = new_token ();
  pd_store_auth_hash (token, token_hash);

  if (!exec_sql (self, "BEGIN IMMEDIATE", error))
    return NULL;
  if (!redeem_in_transaction (self, code_hash, device_name, token_hash, now,
                              &user_id, &device_id, error))
    {
      exec_sql (self, "ROLLBACK", NULL);
      return NULL;
    }
  if (!exec_sql (self, "COMMIT", error))
    {
      exec_sql (self, "ROLLBACK", NULL);
      return NULL;
    }

  if (out_user_id != NULL)
    *out_user_id = user_id;
  if (out_device_id != NULL)
    *out_device_id = device_id;
  return g_steal_pointer (&token);
}

static gboolean
token_is_well_formed (const char *token)
{
  gsize i;

  for (i = 0; token[i] != '\0'; i++)
    {
      if (i >= PD_TOKEN_LENGTH)
        return FALSE;
      if (!g_ascii_isdigit (token[i]) && !(token[i] >= 'a' && token[i] <= 'f'))
        return FALSE;
    }
  return i == PD_TOKEN_LENGTH;
}

gboolean
pd_store_auth_authenticate (PdStoreAuth *self,
                            const char *token,
                            gint64 now,
                            gint64 *out_user_id,
                            gint64 *out_device_id,
                            GError **error)
{
  guint8 hash[32];
  gint64 device_id, user_id, last_seen;
  g_autoptr (PdCachedStmt) lookup = NULL;
  int rc;

  g_return_val_if_fail (PD_IS_STORE_AUTH (self), FALSE);

  if (token == NULL || !token_is_well_formed (token))
    {
      g_set_error_literal (error, PD_STORE_ERROR, PD_STORE_ERROR_NOT_FOUND,
                           "Unknown or revoked token");
      return FALSE;
    }
  pd_store_auth_hash (token, hash);

  lookup = get_stmt (self,
                     "SELECT id, user_id, last_seen_at, token_hash FROM devices WHERE token_hash = ?",
                     error);
  if (lookup == NULL)
    return FALSE;
  sqlite3_bind_blob (lookup, 1, hash, sizeof hash, SQLITE_TRANSIENT);
  rc = sqlite3_step (lookup);
  if (rc == SQLITE_DONE || (rc == SQLITE_ROW && (sqlite3_column_bytes (lookup, 3) != sizeof hash || !digest_equal (sqlite3_column_blob (lookup, 3), hash, sizeof hash))))
    {
      g_set_error_literal (error, PD_STORE_ERROR, PD_STORE_ERROR_NOT_FOUND,
                           "Unknown or revoked token");
      return FALSE;
    }
  if (rc != SQLITE_ROW)
    return set_sqlite_error (self, rc, "look up token", error);

  device_id = sqlite3_column_int64 (lookup, 0);
  user_id = sqlite3_column_int64 (lookup, 1);
  last_seen = sqlite3_column_int64 (lookup, 2);
  g_clear_pointer (&lookup, pd_cached_stmt_release);

  if (now - last_seen >= PD_LAST_SEEN_GRANULARITY)
    {
      g_autoptr (PdCachedStmt) touch = get_stmt (self, "UPDATE devices SET last_seen_at = ? WHERE id = ?", NULL);

      /* Only bookkeeping: a failure here must not refuse the request. */
      if (touch != NULL)
        {
          sqlite3_bind_int64 (touch, 1, now);
          sqlite3_bind_int64 (touch, 2, device_id);
          if (sqlite3_step (touch) != SQLITE_DONE)
            g_debug ("Cannot record last_seen_at of device %" G_GINT64_FORMAT ": %s",
                     device_id, sqlite3_errmsg (self->db));
        }
    }

  if (out_user_id != NULL)
    *out_user_id = user_id;
  if (out_device_id != NULL)
    *out_device_id = device_id;
  return TRUE;
}

GPtrArray *
pd_store_auth_list_devices (PdStoreAuth *self,
                            gint64 user_id,
                            GError **error)
{
  g_autoptr (GPtrArray) devices = g_ptr_array_new_with_free_func ((GDestroyNotify)pd_device_free);
  g_autoptr (PdCachedStmt) stmt = NULL;
  int rc;

  g_return_val_if_fail (PD_IS_STORE_AUTH (self), NULL);

  stmt = get_stmt (self,
                   "SELECT id, name, created_at, last_seen_at FROM devices "
                   "WHERE user_id = ? ORDER BY id",
                   error);
  if (stmt == NULL)
    return NULL;
  sqlite3_bind_int64 (stmt, 1, user_id);
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      PdDevice *device = g_new0 (PdDevice, 1);

      device->id = sqlite3_column_int64 (stmt, 0);
      device->user_id = user_id;
      device->name = g_strdup ((const char *)sqlite3_column_text (stmt, 1));
      device->created_at = sqlite3_column_int64 (stmt, 2);
      device->last_seen_at = sqlite3_column_int64 (stmt, 3);
      g_ptr_array_add (devices, device);
    }
  if (rc != SQLITE_DONE)
    {
      set_sqlite_error (self, rc, "list devices", error);
      return NULL;
    }
  return g_steal_pointer (&devices);
}

gboolean
pd_store_auth_device_exists (PdStoreAuth *self,
                             gint64 device_id)
{
  g_autoptr (PdCachedStmt) stmt = NULL;

  g_return_val_if_fail (PD_IS_STORE_AUTH (self), FALSE);

  stmt = get_stmt (self, "SELECT 1 FROM devices WHERE id = ?", NULL);
  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_int64 (stmt, 1, device_id);
  return sqlite3_step (stmt) == SQLITE_ROW;
}

gboolean
pd_store_auth_revoke_device (PdStoreAuth *self,
                             gint64 user_id,
                             gint64 device_id,
                             GError **error)
{
  g_autoptr (PdCachedStmt) stmt = NULL;
  int rc;

  g_return_val_if_fail (PD_IS_STORE_AUTH (self), FALSE);

  stmt = get_stmt (self, "DELETE FROM devices WHERE id = ? AND user_id = ?", error);
  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_int64 (stmt, 1, device_id);
  sqlite3_bind_int64 (stmt, 2, user_id);
  rc = sqlite3_step (stmt);
  if (rc != SQLITE_DONE)
    return set_sqlite_error (self, rc, "revoke device", error);
  if (sqlite3_changes (self->db) == 0)
    {
      g_set_error (error, PD_STORE_ERROR, PD_STORE_ERROR_NOT_FOUND,
                   "No device %" G_GINT64_FORMAT, device_id);
      return FALSE;
    }
  return TRUE;
}

PdShare *
pd_store_auth_add_share (PdStoreAuth *self,
                         gint64 user_id,
                         const char *channel_id,
                         PosternShareMethod method,
                         const char *recipient,
                         gint64 shared_at,
                         GError **error)
{
  g_autoptr (PdCachedStmt) stmt = NULL;
  PdShare *share;
  int rc;

  g_return_val_if_fail (PD_IS_STORE_AUTH (self), NULL);
  g_return_val_if_fail (channel_id != NULL, NULL);

  if (recipient == NULL)
    recipient = "";
  g_return_val_if_fail (g_utf8_validate (recipient, -1, NULL), NULL);

  stmt = get_stmt (self,
                   "INSERT INTO shares (user_id, channel_id, method, recipient, shared_at) "
                   "VALUES (?, ?, ?, ?, ?)",
                   error);
  if (stmt == NULL)
    return NULL;
  sqlite3_bind_int64 (stmt, 1, user_id);
  sqlite3_bind_text (stmt, 2, channel_id, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text (stmt, 3, postern_share_method_to_string (method), -1, SQLITE_STATIC);
  sqlite3_bind_text (stmt, 4, recipient, -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64 (stmt, 5, shared_at);
  rc = sqlite3_step (stmt);
  if (rc != SQLITE_DONE)
    {
      set_sqlite_error (self, rc, "add share", error);
      return NULL;
    }

  share = g_new0 (PdShare, 1);
  share->id = sqlite3_last_insert_rowid (self->db);
  share->channel_id = g_strdup (channel_id);
  share->method = method;
  share->recipient = g_strdup (recipient);
  share->shared_at = shared_at;
  return share;
}

GPtrArray *
pd_store_auth_list_shares (PdStoreAuth *self,
                           gint64 user_id,
                           const char *channel_id,
                           GError **error)
{
  g_autoptr (GPtrArray) shares = g_ptr_array_new_with_free_func ((GDestroyNotify)pd_share_free);
  g_autoptr (PdCachedStmt) stmt = NULL;
  int rc;

  g_return_val_if_fail (PD_IS_STORE_AUTH (self), NULL);
  g_return_val_if_fail (channel_id != NULL, NULL);

  stmt = get_stmt (self,
                   "SELECT id, method, recipient, shared_at FROM shares "
                   "WHERE user_id = ? AND channel_id = ? ORDER BY shared_at, id",
                   error);
  if (stmt == NULL)
    return NULL;
  sqlite3_bind_int64 (stmt, 1, user_id);
  sqlite3_bind_text (stmt, 2, channel_id, -1, SQLITE_TRANSIENT);
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      PdShare *share = g_new0 (PdShare, 1);
      PosternShareMethod method = POSTERN_SHARE_OTHER;

      /* A method this version does not know reads as "other". */
      postern_share_method_from_string ((const char *)sqlite3_column_text (stmt, 1), &method, NULL);
      share->id = sqlite3_column_int64 (stmt, 0);
      share->channel_id = g_strdup (channel_id);
      share->method = method;
      share->recipient = g_strdup ((const char *)sqlite3_column_text (stmt, 2));
      share->shared_at = sqlite3_column_int64 (stmt, 3);
      g_ptr_array_add (shares, share);
    }
  if (rc != SQLITE_DONE)
    {
      set_sqlite_error (self, rc, "list shares", error);
      return NULL;
    }
  return g_steal_pointer (&shares);
}

gint64
pd_store_auth_get_channel_revision (PdStoreAuth *self,
                                    gint64 user_id,
                                    GError **error)
{
  g_autoptr (PdCachedStmt) stmt = NULL;
  gint64 revision;
  int rc;

  g_return_val_if_fail (PD_IS_STORE_AUTH (self), -1);

  stmt = get_stmt (self, "SELECT COALESCE (MAX (revision), 0) FROM channels WHERE user_id = ?", error);
  if (stmt == NULL)
    return -1;
  sqlite3_bind_int64 (stmt, 1, user_id);
  rc = sqlite3_step (stmt);
  if (rc != SQLITE_ROW)
    {
      set_sqlite_error (self, rc, "channel revision", error);
      return -1;
    }
  revision = sqlite3_column_int64 (stmt, 0);
  return revision;
}
