/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pd-io.h"
#include "pd-maildir.h"

#define NAME_ATTEMPTS 8

static gint delivery_counter;

static gboolean
set_errno_error (GError **error,
                 int saved_errno,
                 const char *what,
                 const char *path)
{
  g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno),
               "Maildir: %s %s: %s", what, path, g_strerror (saved_errno));
  return FALSE;
}

/* The host name with '/' and ':' escaped, as the Maildir spec asks. */
static char *
escaped_host_name (void)
{
  const char *host = g_get_host_name ();
  GString *escaped = g_string_new (NULL);

  for (const char *p = host; *p; p++)
    {
      if (*p == '/')
        g_string_append (escaped, "\\057");
      else if (*p == ':')
        g_string_append (escaped, "\\072");
      else if (g_ascii_isgraph (*p))
        g_string_append_c (escaped, *p);
    }

  if (escaped->len == 0)
    g_string_append (escaped, "localhost");

  return g_string_free (escaped, FALSE);
}

static char *
unique_name (void)
{
  gint64 now = g_get_real_time ();
  g_autofree char *host = escaped_host_name ();

  return g_strdup_printf ("%" G_GINT64_FORMAT ".M%06" G_GINT64_FORMAT "P%dQ%dR%08x.%s",
                          now / G_USEC_PER_SEC, now % G_USEC_PER_SEC, (int)getpid (),
                          g_atomic_int_add (&delivery_counter, 1) + 1, g_random_int (), host);
}

static gboolean
ensure_maildir (const char *maildir,
                GError **error)
{
  static const char *const subdirs[] = { "cur", "new", "tmp" };

  for (guint i = 0; i < G_N_ELEMENTS (subdirs); i++)
    {
      g_autofree char *path = g_build_filename (maildir, subdirs[i], NULL);

      if (g_mkdir_with_parents (path, 0700) != 0)
        return set_errno_error (error, errno, "cannot create", path);
    }

  return TRUE;
}

/* Writes @data with every CRLF turned into LF. A CR at the end of @data
 * that may begin a CRLF split across two calls is carried in *@pending_cr. */
static gboolean
write_lf (int fd,
          const char *data,
          gsize size,
          gboolean *pending_cr)
{
  char buffer[16384];
  gsize fill = 0;

  for (gsize i = 0; i < size; i++)
    {
      char c = data[i];

      if (*pending_cr)
        {
          *pending_cr = FALSE;
          if (c != '\n')
            buffer[fill++] = '\r';
        }

      if (c == '\r')
        *pending_cr = TRUE;
      else
        buffer[fill++] = c;

      if (fill >= sizeof buffer - 1)
        {
          if (!pd_write_all (fd, buffer, fill))
            return FALSE;
          fill = 0;
        }
    }

  return pd_write_all (fd, buffer, fill);
}

static gboolean
fsync_dir (const char *path,
           GError **error)
{
  int fd = open (path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

  if (fd < 0)
    return set_errno_error (error, errno, "cannot open", path);

  if (fsync (fd) != 0)
    {
      int saved_errno = errno;

      close (fd);
      return set_errno_error (error, saved_errno, "cannot sync", path);
    }

  close (fd);
  return TRUE;
}

static gboolean
write_tmp_file (const char *tmp_path,
                GBytes *message,
                const char *prepend_headers,
                GError **error)
{
  gboolean pending_cr = FALSE;
  const char *data;
  gsize size = 0;
  int saved_errno;
  int fd;

  fd = open (tmp_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0)
    return set_errno_error (error, errno, "cannot create", tmp_path);

  data = g_bytes_get_data (message, &size);
  if ((prepend_headers != NULL && !write_lf (fd, prepend_headers, strlen (prepend_headers), &pending_cr)) || !write_lf (fd, data, size, &pending_cr) || (pending_cr && !pd_write_all (fd, "\r", 1)) || fsync (fd) != 0)
    {
      saved_errno = errno;
      close (fd);
      g_unlink (tmp_path);
      return set_errno_error (error, saved_errno, "cannot write", tmp_path);
    }

  if (close (fd) != 0)
    {
      saved_errno = errno;
      g_unlink (tmp_path);
      return set_errno_error (error, saved_errno, "cannot close", tmp_path);
    }

  return TRUE;
}

gboolean
pd_maildir_deliver (const char *maildir,
                    GBytes *message,
                    const char *prepend_headers,
                    char **out_filename,
                    GError **error)
{
  g_autofree char *new_dir = NULL;

  g_return_val_if_fail (maildir != NULL, FALSE);
  g_return_val_if_fail (message != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!g_path_is_absolute (maildir))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   "Maildir: %s is not an absolute path", maildir);
      return FALSE;
    }

  if (!ensure_maildir (maildir, error))
    return FALSE;

  new_dir = g_build_filename (maildir, "new", NULL);

  /* The name is unique by time, pid, counter and randomness; link()
   * refuses an existing name, so a clash only costs another try. */
  for (guint attempt = 0; attempt < NAME_ATTEMPTS; attempt++)
    {
      g_autofree char *name = unique_name ();
      g_autofree char *tmp_path = g_build_filename (maildir, "tmp", name, NULL);
      g_autofree char *new_path = g_build_filename (new_dir, name, NULL);
      g_autoptr (GError) local_error = NULL;
      int saved_errno;

      if (!write_tmp_file (tmp_path, message, prepend_headers, &local_error))
        {
          if (g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_EXISTS))
            continue;
          g_propagate_error (error, g_steal_pointer (&local_error));
          return FALSE;
        }

      if (link (tmp_path, new_path) != 0)
        {
          saved_errno = errno;
          g_unlink (tmp_path);
          if (saved_errno == EEXIST)
            continue;
          return set_errno_error (error, saved_errno, "cannot link", new_path);
        }
      g_unlink (tmp_path);

      if (!fsync_dir (new_dir, error))
        return FALSE;

      if (out_filename != NULL)
        *out_filename = g_steal_pointer (&new_path);
      return TRUE;
    }

  g_set_error (error, G_IO_ERROR, G_IO_ERROR_EXISTS,
               "Maildir: no unique file name in %s after %d attempts", maildir, NAME_ATTEMPTS);
  return FALSE;
}
