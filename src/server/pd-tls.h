/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/*
 * The API's TLS identity: the operator's certificate and key when the
 * config names them, else a self-signed certificate generated at first
 * start (EC P-256, SAN = hostname, 127.0.0.1, ::1) and kept in the state
 * directory, the key readable only by the daemon user. Clients that do not
 * trust it through a CA pin its SHA-256 fingerprint (trust on first use).
 */

#define PD_TLS_SELF_SIGNED_CERT "api-cert.pem"
#define PD_TLS_SELF_SIGNED_KEY  "api-key.pem"
#define PD_TLS_VALIDITY_DAYS    (10 * 365)

/* Loads @cert_file/@key_file when both are set; otherwise loads (or
 * generates and stores) the self-signed pair in @state_dir. @hostname is
 * the DNS name put in the generated certificate (NULL: g_get_host_name()). */
GTlsCertificate *pd_tls_load_certificate (const char *cert_file,
                                          const char *key_file,
                                          const char *state_dir,
                                          const char *hostname,
                                          GError **error);

/* Generates a self-signed certificate and key as PEM text. */
gboolean pd_tls_generate_self_signed (const char *hostname,
                                      char **out_cert_pem,
                                      char **out_key_pem,
                                      GError **error);

/* SHA-256 of the certificate's DER, as upper-case hex pairs joined by ':'. */
char *pd_tls_fingerprint (GTlsCertificate *certificate);
/* The same for DER bytes (clients compare against this). */
char *pd_tls_fingerprint_der (const guint8 *der, gsize length);

G_END_DECLS
