/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib-object.h>

#include "postern-enums.h"
#include "postern-sender-pattern.h"

G_BEGIN_DECLS

#define POSTERN_CHANNEL_MAX_LABEL    200  /* UTF-8 characters */
#define POSTERN_CHANNEL_MAX_NOTE     4000 /* UTF-8 characters */
#define POSTERN_CHANNEL_MAX_FAREWELL 200  /* characters, printable ASCII: it goes into an SMTP reply */
#define POSTERN_CHANNEL_MAX_SENDERS  100

#define POSTERN_TYPE_CHANNEL (postern_channel_get_type ())

G_DECLARE_FINAL_TYPE (PosternChannel, postern_channel, POSTERN, CHANNEL, GObject)

/*
 * A channel: one address given to one relationship. Properties (all
 * read-write, notify only on change): "id" (UUID string), "address",
 * "label", "note", "kind", "state", "on-unexpected", "farewell",
 * "farewell-text", "created-at", "expires-at" (unix seconds, 0 = never),
 * "revision" (server-assigned; 0 = never stored).
 *
 * Setters that take user input validate it and return FALSE with a
 * %POSTERN_CORE_ERROR_INVALID_VALUE error naming the field.
 */
PosternChannel *postern_channel_new (void);
PosternChannel *postern_channel_copy (PosternChannel *self);

const char *postern_channel_get_id (PosternChannel *self);
gboolean postern_channel_set_id (PosternChannel *self, const char *uuid, GError **error);

/* The full address, `local@domain`, normalised. */
const char *postern_channel_get_address (PosternChannel *self);
gboolean postern_channel_set_address (PosternChannel *self, const char *address, GError **error);

const char *postern_channel_get_label (PosternChannel *self);
gboolean postern_channel_set_label (PosternChannel *self, const char *label, GError **error);

const char *postern_channel_get_note (PosternChannel *self);
gboolean postern_channel_set_note (PosternChannel *self, const char *note, GError **error);

PosternChannelKind postern_channel_get_kind (PosternChannel *self);
void postern_channel_set_kind (PosternChannel *self, PosternChannelKind kind);

PosternChannelState postern_channel_get_state (PosternChannel *self);
void postern_channel_set_state (PosternChannel *self, PosternChannelState state);

PosternUnexpectedPolicy postern_channel_get_on_unexpected (PosternChannel *self);
void postern_channel_set_on_unexpected (PosternChannel *self, PosternUnexpectedPolicy policy);

PosternFarewell postern_channel_get_farewell (PosternChannel *self);
void postern_channel_set_farewell (PosternChannel *self, PosternFarewell farewell);
/* The owner's words to senders after revocation; NULL or "" for none. */
const char *postern_channel_get_farewell_text (PosternChannel *self);
gboolean postern_channel_set_farewell_text (PosternChannel *self, const char *text, GError **error);

gint64 postern_channel_get_created_at (PosternChannel *self);
void postern_channel_set_created_at (PosternChannel *self, gint64 unix_seconds);
gint64 postern_channel_get_expires_at (PosternChannel *self);
void postern_channel_set_expires_at (PosternChannel *self, gint64 unix_seconds);
gboolean postern_channel_is_expired (PosternChannel *self, gint64 now_unix_seconds);
/* The same rule for an expires_at read elsewhere (a database row); 0 is
 * "never". */
gboolean postern_channel_expiry_has_passed (gint64 expires_at, gint64 now_unix_seconds);

gint64 postern_channel_get_revision (PosternChannel *self);
void postern_channel_set_revision (PosternChannel *self, gint64 revision);

/* Expected senders: an array of PosternSenderPattern, owned by the channel. */
GPtrArray *postern_channel_get_expected_senders (PosternChannel *self);
/* Adds @pattern unless an equal one is there; FALSE with an error past
 * %POSTERN_CHANNEL_MAX_SENDERS. */
gboolean postern_channel_add_expected_sender (PosternChannel *self, const PosternSenderPattern *pattern, GError **error);
gboolean postern_channel_remove_expected_sender (PosternChannel *self, const PosternSenderPattern *pattern);
void postern_channel_clear_expected_senders (PosternChannel *self);
/* TRUE when @sender matches an expected sender; NULL never matches. */
gboolean postern_channel_expects (PosternChannel *self, const PosternMailbox *sender);

/* Whether both describe the same channel state (every field). */
gboolean postern_channel_equal (PosternChannel *a, PosternChannel *b);

/* A new random (v4) UUID in lower case. */
char *postern_uuid_new (void);
gboolean postern_uuid_is_valid (const char *text);

G_END_DECLS
