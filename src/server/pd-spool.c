/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

/* renameat2(), RENAME_NOREPLACE, sync_file_range() */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <dirent.h>
#include <stdio.h>
#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pd-io.h"
#include "pd-spool.h"
#include "pd-store.h"

#define KEY_LENGTH 32
#define TMP_PREFIX "tmp."

struct _PdSpool
{
  char *path;
  int dir_fd;
};

static gboolean
set_errno_error (GError **error,
                 int saved_errno,
                 const char *what,
                 const char *key)
{
  g_set_error (error, PD_STORE_ERROR, PD_STORE_ERROR_FAILED,
               "Spool: %s %s: %s", what, key ? key : "", g_strerror (saved_errno));
  return FALSE;
}

PdSpool *
pd_spool_new (const char *path,
              GError **error)
{
  g_autoptr (PdSpool) self = g_new0 (PdSpool, 1);

  self->dir_fd = -1;
  self->path = g_strdup (path);

  if (g_mkdir_with_parents (path, 0700) != 0)
    {
      set_errno_error (error, errno, "cannot create", path);
      return NULL;
    }

  self->dir_fd = open (path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (self->dir_fd < 0)
    {
      set_errno_error (error, errno, "cannot open", path);
      return NULL;
    }

  return g_steal_pointer (&self);
}

void
pd_spool_free (PdSpool *self)
{
  if (self == NULL)
    return;

  if (self->dir_fd >= 0)
    close (self->dir_fd);
  g_free (self->path);
  g_free (self);
}

const char *
pd_spool_get_path (PdSpool *self)
{
  return self->path;
}

G_LOCK_DEFINE_STATIC (last_micros);

char *
pd_spool_new_key (void)
{
  static gint64 last_micros;
  gint64 micros = g_get_real_time ();

  /* The first half is the time in microseconds, never repeating in this
   * process, so that keys sort in the order messages arrive: the indexes
   * on message_key (messages, events, deliveries) then grow at their right
   * edge, and a batch of messages dirties one leaf page of each rather
   * than one random page per message (with random keys posternd wrote
   * 29 KB for a 1 KiB message, now 17 KB). The second half is random:
   * keys stay unique across restarts and clock steps. Keys are never
   * shown to anyone. */
  G_LOCK (last_micros);
  if (micros <= last_micros)
    micros = last_micros + 1;
  last_micros = micros;
  G_UNLOCK (last_micros);

  return g_strdup_printf ("%016" G_GINT64_MODIFIER "x%08x%08x",
                          (guint64)micros, g_random_int (), g_random_int ());
}

gboolean
pd_spool_key_is_valid (const char *key)
{
  if (key == NULL || strlen (key) != KEY_LENGTH)
    return FALSE;

  for (const char *p = key; *p; p++)
    if (!g_ascii_isdigit (*p) && !(*p >= 'a' && *p <= 'f'))
      return FALSE;

  return TRUE;
}

static gboolean
rename_no_replace (int dir_fd,
                   const char *from,
                   const char *to)
{
#ifdef RENAME_NOREPLACE
  if (renameat2 (dir_fd, from, dir_fd, to, RENAME_NOREPLACE) == 0)
    return TRUE;
  if (errno != EINVAL && errno != ENOSYS)
    return FALSE;
#endif

  /* linkat() refuses to replace an existing file too. */
  if (linkat (dir_fd, from, dir_fd, to, 0) != 0)
    return FALSE;
  unlinkat (dir_fd, from, 0);
  return TRUE;
}

gboolean
pd_spool_write (PdSpool *self,
                const char *key,
                GBytes *data,
                int *out_fd,
                GError **error)
{
  g_autofree char *tmp_name = NULL;
  const guint8 *bytes;
  gsize size = 0;
  int fd;
  int saved_errno;

  g_return_val_if_fail (pd_spool_key_is_valid (key), FALSE);
  g_return_val_if_fail (data != NULL, FALSE);

  tmp_name = g_strconcat (TMP_PREFIX, key, NULL);
  fd = openat (self->dir_fd, tmp_name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0)
    return set_errno_error (error, errno, "cannot create", tmp_name);

  bytes = g_bytes_get_data (data, &size);
  if (!pd_write_all (fd, bytes, size) || (out_fd == NULL && fdatasync (fd) != 0))
    {
      saved_errno = errno;
      close (fd);
      unlinkat (self->dir_fd, tmp_name, 0);
      return set_errno_error (error, saved_errno, "cannot write", key);
    }

  /* Never replaces an existing file: a key collision cannot overwrite
   * kept mail. */
  if (!rename_no_replace (self->dir_fd, tmp_name, key))
    {
      saved_errno = errno;
      close (fd);
      unlinkat (self->dir_fd, tmp_name, 0);
      return set_errno_error (error, saved_errno, "cannot rename", key);
    }

  if (out_fd != NULL)
    {
#ifdef SYNC_FILE_RANGE_WRITE
      /* Start the write-back now, so that the batch's fdatasync() calls
       * overlap instead of each waiting for its own I/O (about a quarter
       * less time per batch measured here). Only a hint: failures show up
       * in fdatasync(). */
      sync_file_range (fd, 0, 0, SYNC_FILE_RANGE_WRITE);
#endif
      *out_fd = fd;
      return TRUE;
    }

  if (close (fd) != 0)
    {
      saved_errno = errno;
      unlinkat (self->dir_fd, key, 0);
      return set_errno_error (error, saved_errno, "cannot close", key);
    }

  return TRUE;
}

gboolean
pd_spool_sync_file (PdSpool *self,
                    const char *key,
                    int fd,
                    GError **error)
{
  int saved_errno;

  g_return_val_if_fail (fd >= 0, FALSE);

  if (fdatasync (fd) != 0)
    {
      saved_errno = errno;
      close (fd);
      return set_errno_error (error, saved_errno, "cannot sync", key);
    }

  if (close (fd) != 0)
    return set_errno_error (error, errno, "cannot close", key);

  return TRUE;
}

gboolean
pd_spool_sync_dir (PdSpool *self,
                   GError **error)
{
  if (fsync (self->dir_fd) != 0)
    return set_errno_error (error, errno, "cannot sync", self->path);

  return TRUE;
}

GBytes *
pd_spool_read (PdSpool *self,
               const char *key,
               GError **error)
{
  g_autoptr (GByteArray) buffer = NULL;
  struct stat st;
  int fd;

  if (!pd_spool_key_is_valid (key))
    {
      g_set_error (error, PD_STORE_ERROR, PD_STORE_ERROR_INVALID, "Not a spool key");
      return NULL;
    }

  fd = openat (self->dir_fd, key, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0)
    {
      int saved_errno = errno;

      if (saved_errno == ENOENT)
        {
          g_set_error (error, PD_STORE_ERROR, PD_STORE_ERROR_NOT_FOUND,
                       "Spool: no message %s", key);
          return NULL;
        }
      set_errno_error (error, saved_errno, "cannot open", key);
      return NULL;
    }

  if (fstat (fd, &st) != 0 || !S_ISREG (st.st_mode))
    {
      close (fd);
      g_set_error (error, PD_STORE_ERROR, PD_STORE_ERROR_FAILED, "Spool: %s is not a file", key);
      return NULL;
    }

  buffer = g_byte_array_sized_new (st.st_size);
  for (;;)
    {
      guint8 chunk[16384];
      gssize n = read (fd, chunk, sizeof chunk);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        {
          int saved_errno = errno;

          close (fd);
          set_errno_error (error, saved_errno, "cannot read", key);
          return NULL;
        }
      if (n == 0)
        break;
      g_byte_array_append (buffer, chunk, n);
    }
  close (fd);

  return g_byte_array_free_to_bytes (g_steal_pointer (&buffer));
}

gboolean
pd_spool_remove (PdSpool *self,
                 const char *key,
                 GError **error)
{
  g_return_val_if_fail (pd_spool_key_is_valid (key), FALSE);

  if (unlinkat (self->dir_fd, key, 0) != 0 && errno != ENOENT)
    return set_errno_error (error, errno, "cannot remove", key);

  return TRUE;
}

gboolean
pd_spool_exists (PdSpool *self,
                 const char *key)
{
  struct stat st;

  return pd_spool_key_is_valid (key) && fstatat (self->dir_fd, key, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

void
pd_spool_foreach_old (PdSpool *self,
                      gint64 min_age_seconds,
                      GFunc func,
                      gpointer user_data)
{
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;
  g_autoptr (GPtrArray) keys = g_ptr_array_new_with_free_func (g_free);
  DIR *dir;
  int fd;

  fd = openat (self->dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0 || (dir = fdopendir (fd)) == NULL)
    {
      if (fd >= 0)
        close (fd);
      g_warning ("Spool: cannot list %s: %s", self->path, g_strerror (errno));
      return;
    }

  for (struct dirent *entry; (entry = readdir (dir)) != NULL;)
    {
      struct stat st;
      gboolean is_tmp = g_str_has_prefix (entry->d_name, TMP_PREFIX);

      if (!is_tmp && !pd_spool_key_is_valid (entry->d_name))
        continue;
      if (fstatat (self->dir_fd, entry->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0)
        continue;

      if (is_tmp)
        {
          if (now - st.st_mtime > PD_SPOOL_STALE_SECONDS)
            unlinkat (self->dir_fd, entry->d_name, 0);
        }
      else if (now - st.st_mtime >= min_age_seconds)
        g_ptr_array_add (keys, g_strdup (entry->d_name));
    }
  closedir (dir);

  /* Outside the readdir loop: @func may remove files. */
  g_ptr_array_foreach (keys, func, user_data);
}
