/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib-object.h>

G_BEGIN_DECLS

/* RFC 5321 limits, octets. */
#define POSTERN_MAILBOX_MAX_LOCAL_PART 64
#define POSTERN_MAILBOX_MAX_DOMAIN     253
#define POSTERN_MAILBOX_MAX_LENGTH     254

#define POSTERN_TYPE_MAILBOX (postern_mailbox_get_type ())

/**
 * PosternMailbox:
 * @local_part: the local part as written, unquoted (dot-atom form); never
 *   contains a quote, NUL or control character
 * @domain: the domain, lower-cased, IDNA (A-label) normalised, no trailing dot
 *
 * An envelope mailbox (RFC 5321 `Mailbox`, the addr-spec of RFC 5322 as it
 * is used on the envelope). This is the only parser of addresses in Postern.
 *
 * What is refused, with %POSTERN_CORE_ERROR_INVALID_ADDRESS and a message
 * that says why: empty parts, a local part over 64 octets or an address over
 * 254, bytes that are not UTF-8, NUL and control characters, quoted local
 * parts (refused explicitly: no channel or sender we handle needs them, and
 * they are the classic way around relay checks), source routes (`@a:b@c`),
 * `%` and `!` relay syntax in the local part, IP address literals
 * (`[192.0.2.1]`), and domains that are not valid host names.
 *
 * A single trailing dot on the domain (`example.org.`) is the root label and
 * is removed. Upper-case letters in the domain are folded; the local part
 * keeps its case, and postern_mailbox_equal() compares it without ASCII case
 * (see docs/addresses.md for why).
 */
typedef struct
{
  char *local_part;
  char *domain;
} PosternMailbox;

GType postern_mailbox_get_type (void) G_GNUC_CONST;

PosternMailbox *postern_mailbox_new (const char *local_part, const char *domain, GError **error);
PosternMailbox *postern_mailbox_parse (const char *text, gssize length, GError **error);
PosternMailbox *postern_mailbox_copy (const PosternMailbox *self);
void postern_mailbox_free (PosternMailbox *self);

char *postern_mailbox_to_string (const PosternMailbox *self);
gboolean postern_mailbox_equal (const PosternMailbox *a, const PosternMailbox *b);

/* The local part without a `+tag` subaddress (`shop+news` -> `shop`). */
char *postern_mailbox_get_base_local_part (const PosternMailbox *self);

/* Normalises a bare domain (lower case, IDNA, no trailing dot). */
char *postern_domain_normalize (const char *domain, GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PosternMailbox, postern_mailbox_free)

G_END_DECLS
