/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

#include "postern-core.h"

G_BEGIN_DECLS

#define PD_HEADERS_ERROR (pd_headers_error_quark ())

typedef enum
{
  PD_HEADERS_ERROR_TOO_BIG, /* the header section is over the limit */
} PdHeadersError;

GQuark pd_headers_error_quark (void);

/* From: mailboxes kept for judging; a list longer than that is spam's. */
#define PD_HEADERS_MAX_AUTHORS 16

/*
 * What the ingest needs from a message's header section: the fields found
 * line by line, their values decoded by GMime (RFC 2047 encoded words,
 * address syntax; folded lines unfolded). Text fields are
 * valid UTF-8 and at most POSTERN_EVENT_MAX_FIELD octets; each is NULL when
 * the field is absent or empty.
 */
typedef struct
{
  /* The addr-spec of the first mailbox in From: (the first member of a
   * group), as written. */
  char *from_address;
  /* The same, parsed by the core (NULL when it is not a mailbox the core
   * accepts: such a From matches no expected sender). */
  PosternMailbox *from;
  /* Every mailbox of every From: field the core accepts, @from first;
   * at most PD_HEADERS_MAX_AUTHORS. A message with several authors (or,
   * against RFC 5322, several From: fields) is judged on all of them for
   * blocks. */
  GPtrArray *authors;
  char *subject;     /* decoded */
  char *message_id;  /* without the angle brackets */
  guint n_received;  /* Received: fields */
  gsize header_size; /* octets of the header section with its empty line */
} PdHeaders;

/* Parses the header section of @data (the message text with CRLF line
 * ends). A message without a body is all header. */
PdHeaders *pd_headers_parse (const char *data, gsize length, gsize max_header_size, GError **error);
void pd_headers_free (PdHeaders *headers);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PdHeaders, pd_headers_free)

G_END_DECLS
