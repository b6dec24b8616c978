/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <gio/gio.h>

#include "pd-resources.h"
#include "pd-store-migrate.h"
#include "pd-store.h"

#define MIGRATIONS_PATH "/io/github/postern/posternd/migrations/"

/* Index + 1 is the schema version a migration produces. Never edit or
 * reorder a released migration: add the next one. */
static const char *const migrations[] = {
  MIGRATIONS_PATH "0001-initial.sql",
  MIGRATIONS_PATH "0002-delivery-indexes.sql",
  MIGRATIONS_PATH "0003-message-bodies.sql",
  MIGRATIONS_PATH "0004-delivery-leases.sql",
};

int
pd_store_migrate_get_latest_version (void)
{
  return G_N_ELEMENTS (migrations);
}

static gboolean
read_user_version (PdStoreDb *db,
                   int *out_version,
                   GError **error)
{
  g_autoptr (PdStoreStmt) stmt = pd_store_db_prepare (db, "PRAGMA user_version", error);
  gboolean row = FALSE;

  if (stmt == NULL || !pd_store_db_step (db, stmt, &row, error))
    return FALSE;

  *out_version = row ? sqlite3_column_int (stmt, 0) : 0;
  return TRUE;
}

static gboolean
apply_migration (PdStoreDb *db,
                 int version,
                 GError **error)
{
  g_autoptr (GBytes) bytes = NULL;
  g_autofree char *sql = NULL;
  g_autofree char *set_version = NULL;
  g_autoptr (GError) local_error = NULL;
  int current = 0;

  /* Looked up in our own resource rather than the global registry: the
   * static library's resource object (and the constructor that would
   * register it) is only linked in when something names it. */
  bytes = g_resource_lookup_data (pd_get_resource (), migrations[version - 1],
                                  G_RESOURCE_LOOKUP_FLAGS_NONE, &local_error);
  if (bytes == NULL)
    {
      g_set_error (error, PD_STORE_ERROR, PD_STORE_ERROR_FAILED,
                   "Migration %d is missing: %s", version, local_error->message);
      return FALSE;
    }
  sql = g_strndup (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes));

  if (!pd_store_db_begin (db, error))
    return FALSE;

  /* Another process may have migrated while we waited for the lock. */
  if (!read_user_version (db, &current, error))
    {
      pd_store_db_rollback (db);
      return FALSE;
    }
  if (current >= version)
    return pd_store_db_commit (db, error);

  /* The pragma takes no parameter; the version is our own integer. */
  set_version = g_strdup_printf ("PRAGMA user_version = %d", version);
  if (!pd_store_db_exec (db, sql, error) || !pd_store_db_exec (db, set_version, error))
    {
      g_prefix_error (error, "Migration %d: ", version);
      pd_store_db_rollback (db);
      return FALSE;
    }

  if (!pd_store_db_commit (db, error))
    return FALSE;

  g_message ("Store migrated to schema version %d", version);
  return TRUE;
}

gboolean
pd_store_migrate (PdStoreDb *db,
                  int *out_version,
                  GError **error)
{
  int latest = pd_store_migrate_get_latest_version ();
  int version = 0;

  if (!read_user_version (db, &version, error))
    return FALSE;

  if (version > latest)
    {
      g_set_error (error, PD_STORE_ERROR, PD_STORE_ERROR_SCHEMA,
                   "The database has schema version %d; this posternd knows up to %d. "
                   "Run a newer posternd or restore a backup",
                   version, latest);
      return FALSE;
    }

  for (int v = version + 1; v <= latest; v++)
    if (!apply_migration (db, v, error))
      return FALSE;

  if (out_version != NULL)
    *out_version = latest;
  return TRUE;
}
