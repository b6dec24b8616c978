/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define POSTERN_CLIENT_ERROR (postern_client_error_quark ())

/**
 * PosternClientError:
 * @POSTERN_CLIENT_ERROR_FAILED: anything else; the message says what
 *   (a 5xx from the server carries its problem+json detail)
 * @POSTERN_CLIENT_ERROR_NOT_PAIRED: no account yet: pair first
 * @POSTERN_CLIENT_ERROR_OFFLINE: the server cannot be reached (DNS, TCP,
 *   TLS handshake other than a pin mismatch, timeout)
 * @POSTERN_CLIENT_ERROR_UNTRUSTED: the server presented a certificate whose
 *   SHA-256 fingerprint is not the pinned one: "The server's certificate
 *   changed (expected AA:…, got BB:…)"
 * @POSTERN_CLIENT_ERROR_NOT_FOUND: 404: no such channel/event/… for this user
 * @POSTERN_CLIENT_ERROR_INVALID: 400/413/422: the request was refused; the
 *   message is the server's problem detail (e.g. "kind: expected one of …")
 * @POSTERN_CLIENT_ERROR_CONFLICT: 409/412: the object changed on the server
 *   (stale If-Match revision) or already exists differently
 * @POSTERN_CLIENT_ERROR_AUTH: 401/403: the device token was refused (the
 *   device was revoked, or the pairing code is wrong/used/expired)
 * @POSTERN_CLIENT_ERROR_KEYRING_LOCKED: the Secret Service collection is
 *   locked: "Unlock the login keyring to sync channels"; nothing is lost,
 *   writes are retried once it unlocks
 * @POSTERN_CLIENT_ERROR_KEYRING_UNAVAILABLE: no Secret Service on the session
 *   bus (no gnome-keyring/KWallet running)
 * @POSTERN_CLIENT_ERROR_PROTOCOL: the server answered something this client
 *   cannot read (bad JSON, a missing member)
 *
 * The error domain of src/client. The agent maps each code 1:1 onto the
 * D-Bus errors io.github.postern.Postern.Error.* (FAILED→Failed,
 * NOT_PAIRED→NotPaired, OFFLINE→Offline, UNTRUSTED→Untrusted,
 * NOT_FOUND→NotFound, INVALID→Invalid, CONFLICT→Conflict, AUTH→NotPaired,
 * KEYRING_*→Keyring, PROTOCOL→Failed). Messages are sentences fit to show a
 * user; they never contain a token.
 */
typedef enum
{
  POSTERN_CLIENT_ERROR_FAILED,
  POSTERN_CLIENT_ERROR_NOT_PAIRED,
  POSTERN_CLIENT_ERROR_OFFLINE,
  POSTERN_CLIENT_ERROR_UNTRUSTED,
  POSTERN_CLIENT_ERROR_NOT_FOUND,
  POSTERN_CLIENT_ERROR_INVALID,
  POSTERN_CLIENT_ERROR_CONFLICT,
  POSTERN_CLIENT_ERROR_AUTH,
  POSTERN_CLIENT_ERROR_KEYRING_LOCKED,
  POSTERN_CLIENT_ERROR_KEYRING_UNAVAILABLE,
  POSTERN_CLIENT_ERROR_PROTOCOL,
} PosternClientError;

GQuark postern_client_error_quark (void);

/*
 * Maps an HTTP error response onto a %POSTERN_CLIENT_ERROR: @status picks
 * the code (see above); the message is the problem+json "detail" when
 * @body is a problem document (@content_type application/problem+json or
 * application/json), else its "title", else the HTTP reason phrase for
 * @status. @body may be %NULL or malformed (never trusted: only valid UTF-8
 * strings of at most 1,000 bytes are used). Returns a new error; @status
 * must be >= 400.
 */
GError *postern_client_error_from_problem (guint status,
                                           const char *content_type,
                                           GBytes *body);

/* The %POSTERN_CLIENT_ERROR code for an HTTP @status (>= 400). */
PosternClientError postern_client_error_code_for_status (guint status);

/* A short stable name for @code ("offline", "untrusted", "keyring-locked",
 * …) for logs and JSON. */
const char *postern_client_error_code_to_string (PosternClientError code);

G_END_DECLS
