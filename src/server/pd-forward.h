/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

#include "postern-core.h"

G_BEGIN_DECLS

/*
 * What forwarded mail looks like, and the bounce address it carries.
 *
 * The forwarded message is the stored copy (posternd's own Received: trace
 * field, written at ingest, then the client's bytes untouched) with two
 * header fields on top: X-Postern-Channel (the channel's label, RFC 2047
 * encoded when it is not ASCII; the address when there is no label) and
 * X-Postern-Verdict. Nothing below them changes, so DKIM signatures of the
 * original stay valid. Ours are always the first: filters should read the
 * first occurrence (a sender can write its own further down).
 *
 * The envelope sender is a signed bounce address on a channel domain,
 * `bounce+ID.TIME.SIG@DOMAIN`: ID the delivery row, TIME unix seconds in
 * base 36, SIG the first 80 bits of HMAC-SHA256(secret, "ID.TIME") in lower
 * case hex. Bounces come back to posternd, which checks the signature (and
 * its age) before it takes them and attributes them to that delivery.
 */

#define PD_FORWARD_ERROR (pd_forward_error_quark ())

typedef enum
{
  PD_FORWARD_ERROR_SECRET, /* the secret file is unsafe or unreadable */
} PdForwardError;

GQuark pd_forward_error_quark (void);

/* The local part of bounce addresses (before the '+'). */
#define PD_BOUNCE_LOCAL_PART "bounce"
/* Octets of the secret. */
#define PD_BOUNCE_SECRET_SIZE 32

/* Reads the bounce secret from @path, creating it (0600, random) when it
 * does not exist. Refuses a file that is not a regular file, is readable
 * or writable by group or others, or is shorter than 16 octets. */
GBytes *pd_forward_load_secret (const char *path, GError **error);

/* The signed envelope sender for @delivery_id sent at @timestamp. */
char *pd_forward_bounce_address (GBytes *secret, const char *domain, gint64 delivery_id, gint64 timestamp);

/* Whether @recipient is a bounce address we signed, no older than
 * @max_age seconds at @now (nor from the future beyond a minute). The
 * domain is not checked here (the SMTP session only passes ours). */
gboolean pd_forward_parse_bounce (GBytes *secret,
                                  const PosternMailbox *recipient,
                                  gint64 now,
                                  gint64 max_age,
                                  gint64 *out_delivery_id,
                                  gint64 *out_timestamp);

/* "X-Postern-Channel: ...\r\nX-Postern-Verdict: ...\r\n" (CRLF; folded
 * under 78 columns where it can be). @label may be NULL or empty, then
 * @address stands in. Control characters in the label are replaced. */
char *pd_forward_format_headers (const char *label, const char *address, PosternVerdict verdict);

/* @headers (from pd_forward_format_headers()) followed by @stored. */
GBytes *pd_forward_build_message (GBytes *stored, const char *headers);

/* The header section of @message (up to and including the empty line, or
 * all of it when there is none), at most @max octets cut at a line end. */
GBytes *pd_forward_get_header_section (GBytes *message, gsize max);

G_END_DECLS
