/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "pd-store-db.h"
#include "pd-store.h"

struct _PdStoreDb
{
  sqlite3 *handle;
  GHashTable *statements; /* const char *sql (a literal) -> sqlite3_stmt */
};

static void
finalize_statement (gpointer data)
{
  sqlite3_finalize (data);
}

void
pd_store_db_set_error (PdStoreDb *self,
                       GError **error,
                       const char *what)
{
  int code = sqlite3_extended_errcode (self->handle);

  if (code == SQLITE_CONSTRAINT_UNIQUE || code == SQLITE_CONSTRAINT_PRIMARYKEY)
    g_set_error (error, PD_STORE_ERROR, PD_STORE_ERROR_EXISTS,
                 "%s: %s", what, sqlite3_errmsg (self->handle));
  else
    g_set_error (error, PD_STORE_ERROR, PD_STORE_ERROR_FAILED,
                 "%s: %s", what, sqlite3_errmsg (self->handle));
}

PdStoreDb *
pd_store_db_open (const char *path,
                  GError **error)
{
  g_autoptr (PdStoreDb) self = g_new0 (PdStoreDb, 1);
  int rc;

  self->statements = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, finalize_statement);

  rc = sqlite3_open_v2 (path, &self->handle,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                        NULL);
  if (rc != SQLITE_OK)
    {
      g_set_error (error, PD_STORE_ERROR, PD_STORE_ERROR_FAILED,
                   "Cannot open %s: %s", path,
                   self->handle ? sqlite3_errmsg (self->handle) : sqlite3_errstr (rc));
      return NULL;
    }

  sqlite3_extended_result_codes (self->handle, 1);
  sqlite3_busy_timeout (self->handle, PD_STORE_DB_BUSY_TIMEOUT_MS);

  /* WAL lets the main thread read while the writer commits; FULL makes
   * every commit durable (the WAL is fsync'd at each COMMIT). */
  if (!pd_store_db_exec (self, "PRAGMA journal_mode = WAL", error) || !pd_store_db_exec (self, "PRAGMA synchronous = FULL", error) || !pd_store_db_exec (self, "PRAGMA foreign_keys = ON", error))
    return NULL;

  return g_steal_pointer (&self);
}

void
pd_store_db_close (PdStoreDb *self)
{
  if (self == NULL)
    return;

  g_clear_pointer (&self->statements, g_hash_table_unref);
  if (self->handle != NULL)
    sqlite3_close (self->handle);
  g_free (self);
}

sqlite3 *
pd_store_db_get_handle (PdStoreDb *self)
{
  return self->handle;
}

PdStoreStmt *
pd_store_db_prepare (PdStoreDb *self,
                     const char *sql,
                     GError **error)
{
  sqlite3_stmt *stmt = g_hash_table_lookup (self->statements, sql);

  if (stmt != NULL)
    return stmt;

  if (sqlite3_prepare_v3 (self->handle, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, NULL) != SQLITE_OK)
    {
      pd_store_db_set_error (self, error, "Cannot prepare a statement");
      return NULL;
    }

  g_hash_table_insert (self->statements, (gpointer)sql, stmt);
  return stmt;
}

void
pd_store_stmt_release (PdStoreStmt *stmt)
{
  if (stmt == NULL)
    return;

  sqlite3_reset (stmt);
  sqlite3_clear_bindings (stmt);
}

gboolean
pd_store_db_step (PdStoreDb *self,
                  PdStoreStmt *stmt,
                  gboolean *out_row,
                  GError **error)
{
  int rc = sqlite3_step (stmt);

  *out_row = (rc == SQLITE_ROW);
  if (rc == SQLITE_ROW || rc == SQLITE_DONE)
    return TRUE;

  pd_store_db_set_error (self, error, "Database error");
  return FALSE;
}

gboolean
pd_store_db_step_done (PdStoreDb *self,
                       PdStoreStmt *stmt,
                       GError **error)
{
  int rc;

  do
    rc = sqlite3_step (stmt);
  while (rc == SQLITE_ROW);

  if (rc == SQLITE_DONE)
    return TRUE;

  pd_store_db_set_error (self, error, "Database error");
  return FALSE;
}

gboolean
pd_store_db_exec (PdStoreDb *self,
                  const char *sql,
                  GError **error)
{
  g_autofree char *message = NULL;
  char *sqlite_message = NULL;

  if (sqlite3_exec (self->handle, sql, NULL, NULL, &sqlite_message) == SQLITE_OK)
    return TRUE;

  message = g_strdup (sqlite_message ? sqlite_message : sqlite3_errmsg (self->handle));
  sqlite3_free (sqlite_message);
  g_set_error (error, PD_STORE_ERROR, PD_STORE_ERROR_FAILED, "%s: %s", sql, message);
  return FALSE;
}

/* Transaction control, from the statement cache: sqlite3_exec would
 * parse the text again each time (on every RCPT, for the read). */
static gboolean
run_cached (PdStoreDb *self,
            const char *sql,
            GError **error)
{
  sqlite3_stmt *stmt = pd_store_db_prepare (self, sql, error);
  int rc;

  if (stmt == NULL)
    return FALSE;
  rc = sqlite3_step (stmt);
  if (rc != SQLITE_DONE)
    pd_store_db_set_error (self, error, sql);
  sqlite3_reset (stmt);
  return rc == SQLITE_DONE;
}

gboolean
pd_store_db_begin (PdStoreDb *self,
                   GError **error)
{
  /* IMMEDIATE takes the write lock now, so a transaction that reads then
   * writes never fails half-way with SQLITE_BUSY; busy_timeout waits. */
  return run_cached (self, "BEGIN IMMEDIATE", error);
}

/* A read transaction: the statements in it see one snapshot, and the
 * connection takes its WAL read lock once for all of them. */
gboolean
pd_store_db_begin_read (PdStoreDb *self,
                        GError **error)
{
  return run_cached (self, "BEGIN DEFERRED", error);
}

gboolean
pd_store_db_commit (PdStoreDb *self,
                    GError **error)
{
  if (run_cached (self, "COMMIT", error))
    return TRUE;

  pd_store_db_rollback (self);
  return FALSE;
}

void
pd_store_db_rollback (PdStoreDb *self)
{
  if (!sqlite3_get_autocommit (self->handle))
    run_cached (self, "ROLLBACK", NULL);
}

int
pd_store_stmt_bind_text (PdStoreStmt *stmt,
                         int index,
                         const char *text)
{
  if (text == NULL)
    return sqlite3_bind_null (stmt, index);
  return sqlite3_bind_text (stmt, index, text, -1, SQLITE_TRANSIENT);
}

const char *
pd_store_stmt_column_text (PdStoreStmt *stmt,
                           int column)
{
  return (const char *)sqlite3_column_text (stmt, column);
}
