/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <string.h>

#include "postern-client-error.h"
#include "postern-fingerprint.h"

#define FINGERPRINT_BYTES 32
#define PAIR_URI_MAX      4096

static char *
format_digest (const guint8 *digest,
               gsize length)
{
  static const char hex[] = "0123456789ABCDEF";
  GString *out = g_string_sized_new (length * 3);

  for (gsize i = 0; i < length; i++)
    {
      if (i > 0)
        g_string_append_c (out, ':');
      g_string_append_c (out, hex[digest[i] >> 4]);
      g_string_append_c (out, hex[digest[i] & 0xf]);
    }

  return g_string_free (out, FALSE);
}

char *
postern_fingerprint_for_der (GBytes *der)
{
  g_autoptr (GChecksum) checksum = NULL;
  guint8 digest[FINGERPRINT_BYTES];
  gsize digest_len = sizeof digest;
  gsize len;
  const guint8 *data;

  g_return_val_if_fail (der != NULL, NULL);

  data = g_bytes_get_data (der, &len);
  checksum = g_checksum_new (G_CHECKSUM_SHA256);
  g_checksum_update (checksum, data, len);
  g_checksum_get_digest (checksum, digest, &digest_len);

  return format_digest (digest, digest_len);
}

char *
postern_fingerprint_for_certificate (GTlsCertificate *certificate)
{
  g_autoptr (GByteArray) der = NULL;
  g_autoptr (GBytes) bytes = NULL;

  g_return_val_if_fail (G_IS_TLS_CERTIFICATE (certificate), NULL);

  g_object_get (certificate, "certificate", &der, NULL);
  if (der == NULL)
    return NULL;

  bytes = g_bytes_new (der->data, der->len);
  return postern_fingerprint_for_der (bytes);
}

char *
postern_fingerprint_normalize (const char *text,
                               GError **error)
{
  static const char *const prefixes[] = {
    "sha256 fingerprint=",
    "sha256/",
    "sha256:",
    "sha256=",
    "sha-256:",
  };
  guint8 digest[FINGERPRINT_BYTES];
  gsize n = 0;
  const char *p;
  int high = -1;

  if (text == NULL)
    {
      g_set_error_literal (error, POSTERN_CLIENT_ERROR, POSTERN_CLIENT_ERROR_INVALID,
                           "The fingerprint must be 64 hexadecimal digits");
      return NULL;
    }

  while (g_ascii_isspace (*text))
    text++;
  for (gsize i = 0; i < G_N_ELEMENTS (prefixes); i++)
    if (g_ascii_strncasecmp (text, prefixes[i], strlen (prefixes[i])) == 0)
      {
        text += strlen (prefixes[i]);
        break;
      }

  for (p = text; *p != '\0'; p++)
    {
      int v = g_ascii_xdigit_value (*p);

      if (v >= 0)
        {
          if (n >= FINGERPRINT_BYTES)
            {
              n = FINGERPRINT_BYTES + 1;
              break;
            }
          if (high < 0)
            high = v;
          else
            {
              digest[n++] = (guint8)(high << 4 | v);
              high = -1;
            }
        }
      else if ((*p == ':' || *p == ' ' || *p == '-' || *p == '\t' || *p == '\n' || *p == '\r') && high < 0)
        continue;
      else
        {
          n = 0;
          break;
        }
    }

  if (n != FINGERPRINT_BYTES || high >= 0)
    {
      g_set_error_literal (error, POSTERN_CLIENT_ERROR, POSTERN_CLIENT_ERROR_INVALID,
                           "The fingerprint must be 64 hexadecimal digits");
      return NULL;
    }

  return format_digest (digest, n);
}

gboolean
postern_fingerprint_equal (const char *a,
                           const char *b)
{
  g_autofree char *na = postern_fingerprint_normalize (a, NULL);
  g_autofree char *nb = postern_fingerprint_normalize (b, NULL);

  return na != NULL && nb != NULL && strcmp (na, nb) == 0;
}

gboolean
postern_pair_uri_parse (const char *uri,
                        char **out_server,
                        char **out_code,
                        char **out_fingerprint,
                        GError **error)
{
  g_autoptr (GUri) parsed = NULL;
  g_autoptr (GHashTable) params = NULL;
  g_autoptr (GUri) server_uri = NULL;
  g_autoptr (GError) local_error = NULL;
  g_autofree char *fingerprint = NULL;
  const char *server;
  const char *code;
  const char *fp;
  const char *query;

  g_return_val_if_fail (uri != NULL, FALSE);

  if (strlen (uri) > PAIR_URI_MAX || !g_utf8_validate (uri, -1, NULL))
    {
      g_set_error_literal (error, POSTERN_CLIENT_ERROR, POSTERN_CLIENT_ERROR_INVALID,
                           "The pairing link is too long or not text");
      return FALSE;
    }

  parsed = g_uri_parse (uri, G_URI_FLAGS_ENCODED_QUERY, &local_error);
  if (parsed == NULL || g_strcmp0 (g_uri_get_scheme (parsed), "postern") != 0 || (g_strcmp0 (g_uri_get_host (parsed), "pair") != 0 && g_strcmp0 (g_uri_get_path (parsed), "pair") != 0))
    {
      g_set_error_literal (error, POSTERN_CLIENT_ERROR, POSTERN_CLIENT_ERROR_INVALID,
                           "A pairing link starts with postern://pair?");
      return FALSE;
    }

  query = g_uri_get_query (parsed);
  if (query == NULL)
    {
      g_set_error_literal (error, POSTERN_CLIENT_ERROR, POSTERN_CLIENT_ERROR_INVALID,
                           "The pairing link has no server and code");
      return FALSE;
    }

  params = g_uri_parse_params (query, -1, "&", G_URI_PARAMS_NONE, &local_error);
  if (params == NULL)
    {
      g_set_error (error, POSTERN_CLIENT_ERROR, POSTERN_CLIENT_ERROR_INVALID,
                   "The pairing link is malformed: %s", local_error->message);
      return FALSE;
    }

  server = g_hash_table_lookup (params, "server");
  code = g_hash_table_lookup (params, "code");
  fp = g_hash_table_lookup (params, "fp");

  if (server == NULL || *server == '\0')
    {
      g_set_error_literal (error, POSTERN_CLIENT_ERROR, POSTERN_CLIENT_ERROR_INVALID,
                           "The pairing link names no server");
      return FALSE;
    }
  server_uri = g_uri_parse (server, G_URI_FLAGS_NONE, NULL);
  if (server_uri == NULL || (g_strcmp0 (g_uri_get_scheme (server_uri), "https") != 0 && g_strcmp0 (g_uri_get_scheme (server_uri), "http") != 0) || g_uri_get_host (server_uri) == NULL || *g_uri_get_host (server_uri) == '\0')
    {
      g_set_error_literal (error, POSTERN_CLIENT_ERROR, POSTERN_CLIENT_ERROR_INVALID,
                           "The pairing link's server is not an https:// URL");
      return FALSE;
    }
  if (code == NULL || *code == '\0' || strlen (code) > 128)
    {
      g_set_error_literal (error, POSTERN_CLIENT_ERROR, POSTERN_CLIENT_ERROR_INVALID,
                           "The pairing link has no code");
      return FALSE;
    }
  if (fp != NULL && *fp != '\0')
    {
      fingerprint = postern_fingerprint_normalize (fp, error);
      if (fingerprint == NULL)
        return FALSE;
    }

  if (out_server != NULL)
    {
      char *s = g_strdup (server);
      gsize len = strlen (s);
      while (len > 0 && s[len - 1] == '/')
        s[--len] = '\0';
      *out_server = s;
    }
  if (out_code != NULL)
    *out_code = g_strdup (code);
  if (out_fingerprint != NULL)
    *out_fingerprint = g_steal_pointer (&fingerprint);

  return TRUE;
}
