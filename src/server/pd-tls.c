/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "pd-tls.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include "postern-core.h"

static void
clear_datum (gnutls_datum_t *datum)
{
  gnutls_free (datum->data);
  datum->data = NULL;
  datum->size = 0;
}

static gboolean
check_gnutls (int ret,
              const char *what,
              GError **error)
{
  if (ret >= 0)
    return TRUE;
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
               "Cannot generate the TLS certificate (%s): %s", what,
               gnutls_strerror (ret));
  return FALSE;
}

gboolean
pd_tls_generate_self_signed (const char *hostname,
                             char **out_cert_pem,
                             char **out_key_pem,
                             GError **error)
{
  static const guint8 ipv4_loopback[4] = { 127, 0, 0, 1 };
  static const guint8 ipv6_loopback[16] = { 0, 0, 0, 0, 0, 0, 0, 0,
                                            0, 0, 0, 0, 0, 0, 0, 1 };
  gnutls_x509_privkey_t key = NULL;
  gnutls_x509_crt_t crt = NULL;
  gnutls_datum_t cert_pem = { NULL, 0 };
  gnutls_datum_t key_pem = { NULL, 0 };
  guint8 serial[16];
  guint8 key_id[64];
  size_t key_id_size = sizeof key_id;
  time_t now = time (NULL);
  gboolean ok;

  g_return_val_if_fail (hostname != NULL && *hostname != '\0', FALSE);
  g_return_val_if_fail (out_cert_pem != NULL && out_key_pem != NULL, FALSE);

  postern_random_bytes (serial, sizeof serial);
  serial[0] &= 0x7f; /* a positive INTEGER */
  serial[0] |= 0x01; /* never a leading zero octet */

  ok = check_gnutls (gnutls_x509_privkey_init (&key), "key", error) && check_gnutls (gnutls_x509_privkey_generate (key, GNUTLS_PK_ECDSA, GNUTLS_CURVE_TO_BITS (GNUTLS_ECC_CURVE_SECP256R1), 0), "key", error) && check_gnutls (gnutls_x509_crt_init (&crt), "certificate", error) && check_gnutls (gnutls_x509_crt_set_version (crt, 3), "version", error) && check_gnutls (gnutls_x509_crt_set_serial (crt, serial, sizeof serial), "serial", error) && check_gnutls (gnutls_x509_crt_set_activation_time (crt, now - 3600), "activation", error) && check_gnutls (gnutls_x509_crt_set_expiration_time (crt, now + (time_t)PD_TLS_VALIDITY_DAYS * 86400), "expiration", error) && check_gnutls (gnutls_x509_crt_set_dn_by_oid (crt, GNUTLS_OID_X520_COMMON_NAME, 0, hostname, strlen (hostname)), "subject", error) && check_gnutls (gnutls_x509_crt_set_subject_alt_name (crt, GNUTLS_SAN_DNSNAME, hostname, strlen (hostname), GNUTLS_FSAN_APPEND), "DNS name", error) && check_gnutls (gnutls_x509_crt_set_subject_alt_name (crt, GNUTLS_SAN_IPADDRESS, ipv4_loopback, sizeof ipv4_loopback, GNUTLS_FSAN_APPEND), "IPv4 address", error) && check_gnutls (gnutls_x509_crt_set_subject_alt_name (crt, GNUTLS_SAN_IPADDRESS, ipv6_loopback, sizeof ipv6_loopback, GNUTLS_FSAN_APPEND), "IPv6 address", error) && check_gnutls (gnutls_x509_crt_set_key (crt, key), "public key", error) && check_gnutls (gnutls_x509_crt_set_basic_constraints (crt, 0, -1), "constraints", error) && check_gnutls (gnutls_x509_crt_set_key_usage (crt, GNUTLS_KEY_DIGITAL_SIGNATURE), "key usage", error) && check_gnutls (gnutls_x509_crt_set_key_purpose_oid (crt, GNUTLS_KP_TLS_WWW_SERVER, 0), "purpose", error) && check_gnutls (gnutls_x509_crt_get_key_id (crt, 0, key_id, &key_id_size), "key id", error) && check_gnutls (gnutls_x509_crt_set_subject_key_id (crt, key_id, key_id_size), "key id", error) && check_gnutls (gnutls_x509_crt_sign2 (crt, crt, key, GNUTLS_DIG_SHA256, 0), "signature", error) && check_gnutls (gnutls_x509_crt_export2 (crt, GNUTLS_X509_FMT_PEM, &cert_pem), "export", error) && check_gnutls (gnutls_x509_privkey_export2_pkcs8 (key, GNUTLS_X509_FMT_PEM, NULL, GNUTLS_PKCS_PLAIN, &key_pem), "key export", error);

  if (ok)
    {
      *out_cert_pem = g_strndup ((const char *)cert_pem.data, cert_pem.size);
      *out_key_pem = g_strndup ((const char *)key_pem.data, key_pem.size);
    }

  if (key_pem.data != NULL)
    gnutls_memset (key_pem.data, 0, key_pem.size);
  clear_datum (&key_pem);
  clear_datum (&cert_pem);
  if (crt != NULL)
    gnutls_x509_crt_deinit (crt);
  if (key != NULL)
    gnutls_x509_privkey_deinit (key);
  return ok;
}

static GTlsCertificate *
load_or_create_self_signed (const char *state_dir,
                            const char *hostname,
                            GError **error)
{
  g_autofree char *cert_path = g_build_filename (state_dir, PD_TLS_SELF_SIGNED_CERT, NULL);
  g_autofree char *key_path = g_build_filename (state_dir, PD_TLS_SELF_SIGNED_KEY, NULL);
  g_autofree char *cert_pem = NULL;
  g_autofree char *key_pem = NULL;
  GTlsCertificate *certificate;

  if (g_file_test (cert_path, G_FILE_TEST_EXISTS) && g_file_test (key_path, G_FILE_TEST_EXISTS))
    return g_tls_certificate_new_from_files (cert_path, key_path, error);

  if (g_mkdir_with_parents (state_dir, 0700) != 0)
    {
      int saved_errno = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno),
                   "Cannot create %s: %s", state_dir, g_strerror (saved_errno));
      return NULL;
    }

  if (hostname == NULL || *hostname == '\0')
    hostname = g_get_host_name ();

  if (!pd_tls_generate_self_signed (hostname, &cert_pem, &key_pem, error))
    return NULL;

  /* The key first, created 0600: a crash in between leaves no certificate
   * without its key, and the key is never readable by others. */
  if (!g_file_set_contents_full (key_path, key_pem, -1,
                                 G_FILE_SET_CONTENTS_CONSISTENT, 0600, error)
      || !g_file_set_contents_full (cert_path, cert_pem, -1,
                                    G_FILE_SET_CONTENTS_CONSISTENT, 0644, error))
    {
      memset (key_pem, 0, strlen (key_pem));
      return NULL;
    }

  certificate = g_tls_certificate_new_from_pem (cert_pem, -1, error);
  if (certificate != NULL)
    {
      g_clear_object (&certificate);
      certificate = g_tls_certificate_new_from_files (cert_path, key_path, error);
    }
  memset (key_pem, 0, strlen (key_pem));
  if (certificate != NULL)
    g_message ("Generated a self-signed API certificate in %s", cert_path);
  return certificate;
}

GTlsCertificate *
pd_tls_load_certificate (const char *cert_file,
                         const char *key_file,
                         const char *state_dir,
                         const char *hostname,
                         GError **error)
{
  gboolean have_cert = cert_file != NULL && *cert_file != '\0';
  gboolean have_key = key_file != NULL && *key_file != '\0';

  if (have_cert != have_key)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                           "[api] tls_certificate and tls_key must be set together");
      return NULL;
    }
  if (have_cert)
    return g_tls_certificate_new_from_files (cert_file, key_file, error);

  g_return_val_if_fail (state_dir != NULL, NULL);
  return load_or_create_self_signed (state_dir, hostname, error);
}

char *
pd_tls_fingerprint_der (const guint8 *der,
                        gsize length)
{
  g_autoptr (GChecksum) checksum = g_checksum_new (G_CHECKSUM_SHA256);
  guint8 digest[32];
  gsize digest_len = sizeof digest;
  GString *out = g_string_sized_new (3 * sizeof digest);

  g_checksum_update (checksum, der, length);
  g_checksum_get_digest (checksum, digest, &digest_len);
  for (gsize i = 0; i < digest_len; i++)
    g_string_append_printf (out, i == 0 ? "%02X" : ":%02X", digest[i]);
  return g_string_free (out, FALSE);
}

char *
pd_tls_fingerprint (GTlsCertificate *certificate)
{
  g_autoptr (GByteArray) der = NULL;

  g_return_val_if_fail (G_IS_TLS_CERTIFICATE (certificate), NULL);

  g_object_get (certificate, "certificate", &der, NULL);
  if (der == NULL)
    return NULL;
  return pd_tls_fingerprint_der (der->data, der->len);
}
