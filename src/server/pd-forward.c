/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <gmime/gmime.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pd-forward.h"

/* clang-format would space the dashes, and the quark name with them. */
// clang-format off
G_DEFINE_QUARK (pd-forward-error-quark, pd_forward_error)
// clang-format on

#define SECRET_MIN_SIZE    16
#define SECRET_MAX_SIZE    4096
#define SIGNATURE_HEX      20 /* 80 bits */
#define LABEL_MAX_CHARS    256
#define CLOCK_SKEW_SECONDS 60

static void
ensure_gmime (void)
{
  static gsize initialized = 0;

  if (g_once_init_enter (&initialized))
    {
      g_mime_init ();
      g_once_init_leave (&initialized, 1);
    }
}

static gboolean
secret_error (GError **error,
              const char *path,
              const char *why)
{
  g_set_error (error, PD_FORWARD_ERROR, PD_FORWARD_ERROR_SECRET, "Bounce secret %s: %s", path, why);
  return FALSE;
}

static gboolean
create_secret (const char *path,
               GError **error)
{
  guint8 secret[PD_BOUNCE_SECRET_SIZE];
  g_autofree char *tmp = g_strdup_printf ("%s.tmp", path);
  gsize done = 0;
  int fd;

  while (done < sizeof secret)
    {
      ssize_t n = getrandom (secret + done, sizeof secret - done, 0);

      if (n < 0 && errno != EINTR)
        return secret_error (error, path, g_strerror (errno));
      if (n > 0)
        done += (gsize)n;
    }

  g_unlink (tmp);
  fd = g_open (tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0)
    return secret_error (error, tmp, g_strerror (errno));
  if (write (fd, secret, sizeof secret) != (ssize_t)sizeof secret || fsync (fd) != 0)
    {
      int saved = errno;

      close (fd);
      g_unlink (tmp);
      return secret_error (error, tmp, g_strerror (saved));
    }
  close (fd);
  memset (secret, 0, sizeof secret);
  /* link() rather than rename(): a secret another process made first
   * wins, both then read the same one. */
  if (link (tmp, path) != 0 && errno != EEXIST)
    {
      int saved = errno;

      g_unlink (tmp);
      return secret_error (error, path, g_strerror (saved));
    }
  g_unlink (tmp);
  return TRUE;
}

GBytes *
pd_forward_load_secret (const char *path,
                        GError **error)
{
  struct stat st;
  g_autofree guint8 *data = NULL;
  ssize_t n;
  int fd;

  g_return_val_if_fail (path != NULL, NULL);

  if (g_lstat (path, &st) != 0)
    {
      if (errno != ENOENT)
        {
          secret_error (error, path, g_strerror (errno));
          return NULL;
        }
      if (!create_secret (path, error))
        return NULL;
    }

  fd = g_open (path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW, 0);
  if (fd < 0)
    {
      secret_error (error, path, g_strerror (errno));
      return NULL;
    }
  if (fstat (fd, &st) != 0 || !S_ISREG (st.st_mode))
    {
      close (fd);
      secret_error (error, path, "not a regular file");
      return NULL;
    }
  if ((st.st_mode & 0077) != 0)
    {
      close (fd);
      secret_error (error, path, "readable or writable by group or others (chmod 600 it)");
      return NULL;
    }
  data = g_malloc (SECRET_MAX_SIZE);
  n = read (fd, data, SECRET_MAX_SIZE);
  close (fd);
  if (n < SECRET_MIN_SIZE)
    {
      secret_error (error, path, n < 0 ? g_strerror (errno) : "too short (at least 16 octets)");
      return NULL;
    }
  return g_bytes_new_take (g_realloc (g_steal_pointer (&data), (gsize)n), (gsize)n);
}

static char *
sign (GBytes *secret,
      gint64 delivery_id,
      const char *time_text)
{
  g_autoptr (GHmac) hmac = NULL;
  g_autofree char *payload = g_strdup_printf ("%" G_GINT64_FORMAT ".%s", delivery_id, time_text);
  gsize size;
  gconstpointer key = g_bytes_get_data (secret, &size);
  const char *digest;

  hmac = g_hmac_new (G_CHECKSUM_SHA256, key, size);
  g_hmac_update (hmac, (const guchar *)payload, -1);
  digest = g_hmac_get_string (hmac);
  return g_strndup (digest, SIGNATURE_HEX);
}

static char *
to_base36 (guint64 value)
{
  char buffer[16];
  int at = sizeof buffer - 1;

  buffer[at] = '\0';
  do
    {
      buffer[--at] = "0123456789abcdefghijklmnopqrstuvwxyz"[value % 36];
      value /= 36;
    }
  while (value > 0 && at > 0);
  return g_strdup (buffer + at);
}

char *
pd_forward_bounce_address (GBytes *secret,
                           const char *domain,
                           gint64 delivery_id,
                           gint64 timestamp)
{
  g_autofree char *time_text = NULL;
  g_autofree char *signature = NULL;

  g_return_val_if_fail (secret != NULL, NULL);
  g_return_val_if_fail (domain != NULL, NULL);
  g_return_val_if_fail (delivery_id > 0 && timestamp >= 0, NULL);

  time_text = to_base36 ((guint64)timestamp);
  signature = sign (secret, delivery_id, time_text);
  return g_strdup_printf (PD_BOUNCE_LOCAL_PART "+%" G_GINT64_FORMAT ".%s.%s@%s", delivery_id, time_text, signature, domain);
}

/* Compares in time independent of where the first difference is. */
static gboolean
equal_constant_time (const char *a,
                     const char *b,
                     gsize length)
{
  guchar diff = 0;

  for (gsize i = 0; i < length; i++)
    diff |= (guchar)a[i] ^ (guchar)b[i];
  return diff == 0;
}

gboolean
pd_forward_parse_bounce (GBytes *secret,
                         const PosternMailbox *recipient,
                         gint64 now,
                         gint64 max_age,
                         gint64 *out_delivery_id,
                         gint64 *out_timestamp)
{
  g_auto (GStrv) parts = NULL;
  g_autofree char *lower = NULL;
  g_autofree char *expected = NULL;
  const char *tag;
  guint64 id = 0, timestamp = 0;

  g_return_val_if_fail (secret != NULL, FALSE);
  g_return_val_if_fail (recipient != NULL && recipient->local_part != NULL, FALSE);

  /* Some MTAs fold the case of local parts: compare in lower case. */
  lower = g_ascii_strdown (recipient->local_part, -1);
  if (!g_str_has_prefix (lower, PD_BOUNCE_LOCAL_PART "+"))
    return FALSE;
  tag = lower + strlen (PD_BOUNCE_LOCAL_PART "+");
  parts = g_strsplit (tag, ".", 4);
  if (g_strv_length (parts) != 3 || strlen (parts[2]) != SIGNATURE_HEX || strlen (parts[1]) > 12)
    return FALSE;
  if (!g_ascii_string_to_unsigned (parts[0], 10, 1, G_MAXINT64, &id, NULL) || !g_ascii_string_to_unsigned (parts[1], 36, 0, G_MAXINT64, &timestamp, NULL))
    return FALSE;
  /* One spelling per value: no leading zeros, so the signed text is the
   * text we read. */
  if (parts[0][0] == '0' || (parts[1][0] == '0' && parts[1][1] != '\0'))
    return FALSE;

  expected = sign (secret, (gint64)id, parts[1]);
  if (!equal_constant_time (expected, parts[2], SIGNATURE_HEX))
    return FALSE;
  if ((gint64)timestamp > now + CLOCK_SKEW_SECONDS || now - (gint64)timestamp > max_age)
    return FALSE;

  if (out_delivery_id != NULL)
    *out_delivery_id = (gint64)id;
  if (out_timestamp != NULL)
    *out_timestamp = (gint64)timestamp;
  return TRUE;
}

/* A label fit for one header field: valid UTF-8, no control characters
 * (a CR or LF would start a header field of the sender's choosing),
 * bounded. */
static char *
clean_label (const char *label)
{
  g_autofree char *valid = g_utf8_make_valid (label, -1);
  GString *out = g_string_new (NULL);
  guint chars = 0;

  for (const char *p = valid; *p != '\0' && chars < LABEL_MAX_CHARS; p = g_utf8_next_char (p), chars++)
    {
      gunichar c = g_utf8_get_char (p);

      if (g_unichar_iscntrl (c) || c == 0x2028 || c == 0x2029)
        g_string_append_c (out, ' ');
      else
        g_string_append_unichar (out, c);
    }
  g_strstrip (out->str);
  out->len = strlen (out->str);
  return g_string_free (out, FALSE);
}

static void
append_field (GString *out,
              GMimeFormatOptions *format,
              const char *name,
              const char *value)
{
  g_autofree char *encoded = g_mime_utils_header_encode_text (format, value, "utf-8");
  g_autofree char *field = g_strdup_printf ("%s: %s", name, encoded);
  g_autofree char *folded = g_mime_utils_unstructured_header_fold (NULL, format, field);
  gsize length = strlen (folded);

  /* GMime folds with LF (whatever @format says) and may end with one:
   * the message is CRLF throughout. */
  while (length > 0 && (folded[length - 1] == '\n' || folded[length - 1] == '\r'))
    length--;
  for (gsize i = 0; i < length; i++)
    {
      if (folded[i] == '\r')
        continue;
      if (folded[i] == '\n')
        g_string_append_c (out, '\r');
      g_string_append_c (out, folded[i]);
    }
  g_string_append (out, "\r\n");
}

char *
pd_forward_format_headers (const char *label,
                           const char *address,
                           PosternVerdict verdict)
{
  g_autoptr (GString) out = g_string_new (NULL);
  g_autofree char *clean = clean_label (label != NULL ? label : "");
  GMimeFormatOptions *format;

  g_return_val_if_fail (address != NULL, NULL);

  ensure_gmime ();
  format = g_mime_format_options_new ();
  g_mime_format_options_set_newline_format (format, GMIME_NEWLINE_FORMAT_DOS);
  if (*clean == '\0')
    {
      g_free (clean);
      clean = clean_label (address);
    }
  append_field (out, format, "X-Postern-Channel", clean);
  append_field (out, format, "X-Postern-Verdict", postern_verdict_to_string (verdict));
  g_mime_format_options_free (format);
  return g_string_free (g_steal_pointer (&out), FALSE);
}

GBytes *
pd_forward_build_message (GBytes *stored,
                          const char *headers)
{
  gsize size;
  gconstpointer data;
  gsize header_length;
  GByteArray *out;

  g_return_val_if_fail (stored != NULL, NULL);
  g_return_val_if_fail (headers != NULL, NULL);

  data = g_bytes_get_data (stored, &size);
  header_length = strlen (headers);
  out = g_byte_array_sized_new (header_length + size);
  g_byte_array_append (out, (const guint8 *)headers, header_length);
  if (size > 0)
    g_byte_array_append (out, data, size);
  return g_byte_array_free_to_bytes (out);
}

GBytes *
pd_forward_get_header_section (GBytes *message,
                               gsize max)
{
  gsize size;
  const char *data;
  gsize end = 0;

  g_return_val_if_fail (message != NULL, NULL);

  data = g_bytes_get_data (message, &size);
  /* Line by line: the section ends after the first empty line. */
  while (end < size)
    {
      const char *nl = memchr (data + end, '\n', size - end);
      gsize next = nl != NULL ? (gsize)(nl - data) + 1 : size;
      gboolean empty = next - end == 1 || (next - end == 2 && data[end] == '\r');

      if (next > max)
        break;
      end = next;
      if (empty)
        break;
    }
  return g_bytes_new_from_bytes (message, 0, end);
}
