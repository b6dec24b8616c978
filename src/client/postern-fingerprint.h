/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/*
 * Certificate fingerprints as users compare them: the SHA-256 of the
 * certificate's DER encoding, 32 bytes written as 64 upper-case hex digits
 * in pairs separated by colons ("AA:0F:…", 95 characters). This is the form
 * `openssl x509 -noout -fingerprint -sha256` prints after its "=".
 */

#define POSTERN_FINGERPRINT_LENGTH 95 /* characters, without the NUL */

/* The fingerprint of @certificate in the canonical form above. */
char *postern_fingerprint_for_certificate (GTlsCertificate *certificate);

/* The fingerprint of DER @der. */
char *postern_fingerprint_for_der (GBytes *der);

/*
 * Accepts a fingerprint as users type or paste it: upper or lower case,
 * with colons, spaces or nothing between the pairs, optionally prefixed by
 * "sha256/", "SHA256:" or "SHA256 Fingerprint=". Returns the canonical form,
 * or %NULL with %POSTERN_CLIENT_ERROR_INVALID ("The fingerprint must be 64
 * hexadecimal digits").
 */
char *postern_fingerprint_normalize (const char *text, GError **error);

/* TRUE when both normalise to the same fingerprint; FALSE if either is
 * %NULL or malformed. */
gboolean postern_fingerprint_equal (const char *a, const char *b);

/*
 * Parses a pairing URI as `posternd pair USER` prints it:
 *   postern://pair?server=https%3A%2F%2Fhost%3A8443&code=CODE&fp=AA:BB:…
 * @out_server receives the server's base URL (https://host:port), @out_code
 * the one-time code, @out_fingerprint the canonical fingerprint or %NULL
 * when the URI has none (a server with a CA-signed certificate). Errors are
 * %POSTERN_CLIENT_ERROR_INVALID naming what is wrong.
 */
gboolean postern_pair_uri_parse (const char *uri,
                                 char **out_server,
                                 char **out_code,
                                 char **out_fingerprint,
                                 GError **error);

G_END_DECLS
