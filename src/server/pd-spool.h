/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/*
 * The spool: one file per kept message, named by its key, in one flat
 * directory. A file is written to a temporary name, fdatasync'd and renamed
 * into place; pd_spool_sync_dir() then makes the renames durable (the store
 * calls it once per commit batch, before the COMMIT that makes rows point
 * at the files). Readers see whole files or nothing.
 *
 * Thread-safe: the functions only use the directory's file descriptor.
 */
typedef struct _PdSpool PdSpool;

/* Temporary files older than this are left-overs of a crash. */
#define PD_SPOOL_STALE_SECONDS (60 * 60)

PdSpool *pd_spool_new (const char *path, GError **error);
void pd_spool_free (PdSpool *self);
const char *pd_spool_get_path (PdSpool *self);

/* A new key: 32 lower-case hex digits, unique, in the order of creation
 * (the time in microseconds, then 64 random bits). */
char *pd_spool_new_key (void);
/* Whether @key has the form pd_spool_new_key() gives (so it names a file in
 * the spool and nothing else). */
gboolean pd_spool_key_is_valid (const char *key);

/* Writes @data under @key (a temporary file renamed into place; an existing
 * file under @key is an error). With @out_fd NULL the file is fdatasync'd
 * before returning; otherwise its open descriptor is returned there and the
 * caller passes it to pd_spool_sync_file(), which lets a batch write every
 * file before the first flush. Not durable until pd_spool_sync_dir(). */
gboolean pd_spool_write (PdSpool *self, const char *key, GBytes *data, int *out_fd, GError **error);
/* fdatasyncs and closes @fd (from pd_spool_write()). */
gboolean pd_spool_sync_file (PdSpool *self, const char *key, int fd, GError **error);
gboolean pd_spool_sync_dir (PdSpool *self, GError **error);
GBytes *pd_spool_read (PdSpool *self, const char *key, GError **error);
/* Removes the file; a missing file is not an error. */
gboolean pd_spool_remove (PdSpool *self, const char *key, GError **error);
gboolean pd_spool_exists (PdSpool *self, const char *key);

/* Calls @func for every key in the spool whose file is older than
 * @min_age_seconds, and removes temporary files older than
 * PD_SPOOL_STALE_SECONDS. */
void pd_spool_foreach_old (PdSpool *self, gint64 min_age_seconds, GFunc func, gpointer user_data);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PdSpool, pd_spool_free)

G_END_DECLS
