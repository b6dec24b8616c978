/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib-object.h>

#include "postern-mailbox.h"

G_BEGIN_DECLS

typedef enum
{
  POSTERN_SENDER_PATTERN_ADDRESS,    /* name@domain */
  POSTERN_SENDER_PATTERN_DOMAIN,     /* @domain: that domain only */
  POSTERN_SENDER_PATTERN_SUBDOMAINS, /* @.domain: the domain and any subdomain */
} PosternSenderPatternKind;

#define POSTERN_TYPE_SENDER_PATTERN (postern_sender_pattern_get_type ())

typedef struct _PosternSenderPattern PosternSenderPattern;

GType postern_sender_pattern_get_type (void) G_GNUC_CONST;

/* Parses `name@domain`, `@domain` or `@.domain`; surrounding whitespace is
 * ignored. Errors are %POSTERN_CORE_ERROR_INVALID_PATTERN. */
PosternSenderPattern *postern_sender_pattern_parse (const char *text, GError **error);
PosternSenderPattern *postern_sender_pattern_new_for_mailbox (const PosternMailbox *mailbox);
PosternSenderPattern *postern_sender_pattern_copy (const PosternSenderPattern *self);
void postern_sender_pattern_free (PosternSenderPattern *self);

PosternSenderPatternKind postern_sender_pattern_get_kind (const PosternSenderPattern *self);
/* The domain part, normalised. */
const char *postern_sender_pattern_get_domain (const PosternSenderPattern *self);
/* The local part for %POSTERN_SENDER_PATTERN_ADDRESS, else %NULL. */
const char *postern_sender_pattern_get_local_part (const PosternSenderPattern *self);

/* The normalised text form; parsing it again gives an equal pattern. */
char *postern_sender_pattern_to_string (const PosternSenderPattern *self);
gboolean postern_sender_pattern_equal (const PosternSenderPattern *a, const PosternSenderPattern *b);

/* %NULL @mailbox (the null sender `<>`) matches no pattern. */
gboolean postern_sender_pattern_matches (const PosternSenderPattern *self, const PosternMailbox *mailbox);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PosternSenderPattern, postern_sender_pattern_free)

G_END_DECLS
