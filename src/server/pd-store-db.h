/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>
#include <sqlite3.h>

G_BEGIN_DECLS

/*
 * One SQLite connection and its cache of prepared statements. Internal to
 * the store: a PdStoreDb is used by exactly one thread (the main thread's
 * connection, or the writer thread's).
 *
 * Statements are keyed by their SQL text, which is always a string literal
 * in the store, so the cache never sees data: every value is bound.
 */
typedef struct _PdStoreDb PdStoreDb;

/* A statement borrowed from the cache; releasing it resets it and clears its
 * bindings, it stays prepared. */
typedef sqlite3_stmt PdStoreStmt;

#define PD_STORE_DB_BUSY_TIMEOUT_MS 10000

PdStoreDb *pd_store_db_open (const char *path, GError **error);
void pd_store_db_close (PdStoreDb *self);
sqlite3 *pd_store_db_get_handle (PdStoreDb *self);

PdStoreStmt *pd_store_db_prepare (PdStoreDb *self, const char *sql, GError **error);
void pd_store_stmt_release (PdStoreStmt *stmt);

/* Runs a statement without results (sqlite3_step until done). */
gboolean pd_store_db_step_done (PdStoreDb *self, PdStoreStmt *stmt, GError **error);
/* Steps once: TRUE with *out_row set when a row is there, TRUE with
 * *out_row FALSE when done, FALSE on error. */
gboolean pd_store_db_step (PdStoreDb *self, PdStoreStmt *stmt, gboolean *out_row, GError **error);

/* Constant SQL without parameters only (transactions, pragmas). */
gboolean pd_store_db_exec (PdStoreDb *self, const char *sql, GError **error);
gboolean pd_store_db_begin (PdStoreDb *self, GError **error);
gboolean pd_store_db_begin_read (PdStoreDb *self, GError **error);
gboolean pd_store_db_commit (PdStoreDb *self, GError **error);
void pd_store_db_rollback (PdStoreDb *self);

/* Sets @error from the connection's last error, mapping unique and
 * primary-key constraint failures to PD_STORE_ERROR_EXISTS. */
void pd_store_db_set_error (PdStoreDb *self, GError **error, const char *what);

/* Binds @text, or NULL when @text is NULL. */
int pd_store_stmt_bind_text (PdStoreStmt *stmt, int index, const char *text);
const char *pd_store_stmt_column_text (PdStoreStmt *stmt, int column);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PdStoreStmt, pd_store_stmt_release)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PdStoreDb, pd_store_db_close)

G_END_DECLS
