/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

#include "pd-store-db.h"

G_BEGIN_DECLS

/* The schema version this program writes (the last migration). */
int pd_store_migrate_get_latest_version (void);

/*
 * Brings the database to the latest schema: each pending migration runs in
 * its own transaction together with `PRAGMA user_version = N`, so a crash
 * leaves the database at a version boundary. A database whose user_version
 * is newer than this program knows is refused with PD_STORE_ERROR_SCHEMA and
 * left untouched. @out_version receives the version on success.
 */
gboolean pd_store_migrate (PdStoreDb *db, int *out_version, GError **error);

G_END_DECLS
