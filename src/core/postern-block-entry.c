/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "postern-block-entry.h"

G_DEFINE_BOXED_TYPE (PosternBlockEntry, postern_block_entry, postern_block_entry_copy, postern_block_entry_free)

PosternBlockEntry *
postern_block_entry_new (const PosternSenderPattern *pattern,
                         const char *channel_id)
{
  PosternBlockEntry *self;

  g_return_val_if_fail (pattern != NULL, NULL);

  self = g_new0 (PosternBlockEntry, 1);
  self->pattern = postern_sender_pattern_copy (pattern);
  self->channel_id = g_strdup (channel_id);

  return self;
}

PosternBlockEntry *
postern_block_entry_copy (const PosternBlockEntry *self)
{
  PosternBlockEntry *copy;

  g_return_val_if_fail (self != NULL, NULL);

  copy = postern_block_entry_new (self->pattern, self->channel_id);
  copy->id = self->id;
  copy->created_at = self->created_at;

  return copy;
}

void
postern_block_entry_free (PosternBlockEntry *self)
{
  if (self == NULL)
    return;

  g_clear_pointer (&self->pattern, postern_sender_pattern_free);
  g_free (self->channel_id);
  g_free (self);
}

gboolean
postern_block_entry_blocks (const PosternBlockEntry *self,
                            const char *channel_id,
                            const PosternMailbox *sender)
{
  g_return_val_if_fail (self != NULL, FALSE);

  if (sender == NULL)
    return FALSE;

  /* Channel ids are UUIDs stored in lower case, so plain comparison is
   * right; an entry scoped to a channel never applies to a channel whose
   * id is not known. */
  if (self->channel_id != NULL && g_strcmp0 (self->channel_id, channel_id) != 0)
    return FALSE;

  return postern_sender_pattern_matches (self->pattern, sender);
}
