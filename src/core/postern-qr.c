/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <errno.h>
#include <qrencode.h>
#include <string.h>

#include "postern-core-error.h"
#include "postern-qr.h"

G_DEFINE_AUTOPTR_CLEANUP_FUNC (QRcode, QRcode_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (QRinput, QRinput_free)

/* ECI assignment number of UTF-8. */
#define ECI_UTF8 26

static gboolean
is_ascii (const char *text)
{
  for (const char *p = text; *p != '\0'; p++)
    {
      if ((guchar)*p >= 0x80)
        return FALSE;
    }

  return TRUE;
}

/* 8-bit mode, level M, the smallest version that fits. Without an ECI
 * header, readers guess the character set of 8-bit data (zbar takes UTF-8
 * for Shift JIS), so non-ASCII payloads declare UTF-8; ASCII payloads, such
 * as every percent-encoded mailto: URI, leave it out for the oldest
 * readers' sake. */
static QRcode *
encode (const char *payload)
{
  g_autoptr (QRinput) input = QRinput_new2 (0, QR_ECLEVEL_M);

  if (input == NULL)
    return NULL;

  if (!is_ascii (payload) && QRinput_appendECIheader (input, ECI_UTF8) != 0)
    return NULL;

  if (QRinput_append (input, QR_MODE_8, (int)strlen (payload), (const unsigned char *)payload) != 0)
    return NULL;

  return QRcode_encodeInput (input);
}

PosternQrMatrix *
postern_qr_matrix_new (const char *payload,
                       GError **error)
{
  g_autoptr (QRcode) code = NULL;
  PosternQrMatrix *self;
  guint width;

  g_return_val_if_fail (payload != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (payload[0] == '\0')
    {
      g_set_error_literal (error, POSTERN_CORE_ERROR, POSTERN_CORE_ERROR_QR, "nothing to encode");
      return NULL;
    }
  if (!g_utf8_validate (payload, -1, NULL))
    {
      g_set_error_literal (error, POSTERN_CORE_ERROR, POSTERN_CORE_ERROR_QR, "payload is not valid UTF-8");
      return NULL;
    }

  code = encode (payload);
  if (code == NULL)
    {
      int saved_errno = errno;

      g_set_error (error, POSTERN_CORE_ERROR, POSTERN_CORE_ERROR_QR,
                   "cannot encode %" G_GSIZE_FORMAT " octets as a QR code: %s",
                   strlen (payload), saved_errno == ERANGE ? "too long" : g_strerror (saved_errno));
      return NULL;
    }

  width = (guint)code->width;
  self = g_new0 (PosternQrMatrix, 1);
  self->size = width + 2 * POSTERN_QR_QUIET_ZONE;
  self->modules = g_new0 (guint8, (gsize)self->size * self->size);

  /* libqrencode keeps other flags in the upper bits; bit 0 is the colour. */
  for (guint y = 0; y < width; y++)
    for (guint x = 0; x < width; x++)
      self->modules[(y + POSTERN_QR_QUIET_ZONE) * self->size + x + POSTERN_QR_QUIET_ZONE] = code->data[y * width + x] & 1;

  return self;
}

void
postern_qr_matrix_free (PosternQrMatrix *self)
{
  if (self == NULL)
    return;

  g_free (self->modules);
  g_free (self);
}

gboolean
postern_qr_matrix_is_dark (const PosternQrMatrix *self,
                           guint x,
                           guint y)
{
  g_return_val_if_fail (self != NULL, FALSE);

  if (x >= self->size || y >= self->size)
    return FALSE;

  return self->modules[y * self->size + x] != 0;
}

char *
postern_qr_matrix_to_terminal (const PosternQrMatrix *self)
{
  GString *out;

  g_return_val_if_fail (self != NULL, NULL);

  out = g_string_new (NULL);

  /* Light modules are drawn in the foreground colour and dark modules are
   * left as background. Most terminals draw light text on a dark
   * background, which gives the dark-on-light code a scanner expects;
   * the quiet zone is drawn too, so the code keeps its light border.
   * Below the last row (odd sizes) there is nothing, which shows as
   * background. */
  for (guint y = 0; y < self->size; y += 2)
    {
      for (guint x = 0; x < self->size; x++)
        {
          gboolean top_light = !postern_qr_matrix_is_dark (self, x, y);
          gboolean bottom_light = y + 1 < self->size && !postern_qr_matrix_is_dark (self, x, y + 1);

          if (top_light && bottom_light)
            g_string_append (out, "█");
          else if (top_light)
            g_string_append (out, "▀");
          else if (bottom_light)
            g_string_append (out, "▄");
          else
            g_string_append_c (out, ' ');
        }
      g_string_append_c (out, '\n');
    }

  return g_string_free (out, FALSE);
}

static void
append_uri_encoded (GString *out,
                    const char *text)
{
  /* RFC 6068: unreserved characters and the "some-delims" other than ','
   * (which separates addresses in `to`) stay as they are; everything else,
   * including '%', '&', '=', '?', '#' and every octet of non-ASCII UTF-8, is
   * percent-encoded with upper-case hex. Spaces become %20, never '+'. */
  for (const guchar *p = (const guchar *)text; *p != '\0'; p++)
    {
      if (g_ascii_isalnum (*p) || strchr ("-._~!$'()*+;:@", *p) != NULL)
        g_string_append_c (out, (char)*p);
      else
        g_string_append_printf (out, "%%%02X", *p);
    }
}

char *
postern_qr_build_mailto (const char *address,
                         const char *subject)
{
  GString *out;

  g_return_val_if_fail (address != NULL, NULL);

  out = g_string_new ("mailto:");
  append_uri_encoded (out, address);

  if (subject != NULL && subject[0] != '\0')
    {
      g_string_append (out, "?subject=");
      append_uri_encoded (out, subject);
    }

  return g_string_free (out, FALSE);
}

static void
append_mecard_escaped (GString *out,
                       const char *text)
{
  for (const char *p = text; *p != '\0'; p++)
    {
      if (strchr ("\\;,:", *p) != NULL)
        g_string_append_c (out, '\\');
      g_string_append_c (out, *p);
    }
}

char *
postern_qr_build_mecard (const char *name,
                         const char *address)
{
  GString *out;

  g_return_val_if_fail (address != NULL, NULL);

  out = g_string_new ("MECARD:");
  if (name != NULL && name[0] != '\0')
    {
      g_string_append (out, "N:");
      append_mecard_escaped (out, name);
      g_string_append_c (out, ';');
    }
  g_string_append (out, "EMAIL:");
  append_mecard_escaped (out, address);
  g_string_append (out, ";;");

  return g_string_free (out, FALSE);
}
