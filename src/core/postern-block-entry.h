/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib-object.h>

#include "postern-sender-pattern.h"

G_BEGIN_DECLS

#define POSTERN_TYPE_BLOCK_ENTRY (postern_block_entry_get_type ())

/**
 * PosternBlockEntry:
 * @id: store id (0 when not stored)
 * @pattern: the blocked sender: an address, `@domain` or `@.domain`
 * @channel_id: the one channel it applies to, or %NULL for all of the
 *   user's channels
 * @created_at: unix seconds
 */
typedef struct
{
  gint64 id;
  PosternSenderPattern *pattern;
  char *channel_id;
  gint64 created_at;
} PosternBlockEntry;

GType postern_block_entry_get_type (void) G_GNUC_CONST;

PosternBlockEntry *postern_block_entry_new (const PosternSenderPattern *pattern, const char *channel_id);
PosternBlockEntry *postern_block_entry_copy (const PosternBlockEntry *self);
void postern_block_entry_free (PosternBlockEntry *self);

/* TRUE when the entry applies to @channel_id and matches @sender. */
gboolean postern_block_entry_blocks (const PosternBlockEntry *self, const char *channel_id, const PosternMailbox *sender);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PosternBlockEntry, postern_block_entry_free)

G_END_DECLS
