/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "postern-verdict.h"

/* docs/verdicts.md has this function as a table; keep the two in step. */

void
postern_verdict_result_clear (PosternVerdictResult *result)
{
  if (result == NULL)
    return;

  g_clear_pointer (&result->bind_sender, postern_mailbox_free);
  result->verdict = POSTERN_VERDICT_EXPECTED;
}

static gboolean
is_blocked (PosternChannel *channel,
            GPtrArray *blocklist,
            const PosternMailbox *sender)
{
  if (blocklist == NULL || sender == NULL)
    return FALSE;

  for (guint i = 0; i < blocklist->len; i++)
    {
      if (postern_block_entry_blocks (g_ptr_array_index (blocklist, i), postern_channel_get_id (channel), sender))
        return TRUE;
    }

  return FALSE;
}

static PosternVerdict
apply_policy (PosternUnexpectedPolicy policy)
{
  switch (policy)
    {
      case POSTERN_UNEXPECTED_HOLD:
        return POSTERN_VERDICT_HELD;
      case POSTERN_UNEXPECTED_REJECT:
        return POSTERN_VERDICT_REJECTED_UNEXPECTED;
      case POSTERN_UNEXPECTED_ALERT:
      default:
        return POSTERN_VERDICT_UNEXPECTED;
    }
}

void
postern_verdict_decide (PosternChannel *channel,
                        GPtrArray *blocklist,
                        const PosternMailbox *envelope_sender,
                        const PosternMailbox *header_from,
                        PosternVerdictStage stage,
                        gint64 now_unix_seconds,
                        PosternVerdictResult *result)
{
  gboolean revoked_drop;

  g_return_if_fail (POSTERN_IS_CHANNEL (channel));
  g_return_if_fail (result != NULL);

  result->verdict = POSTERN_VERDICT_EXPECTED;
  result->bind_sender = NULL;

  /* At RCPT time there is no header From; one passed anyway is ignored so
   * that the RCPT verdict depends on the envelope alone. */
  if (stage == POSTERN_VERDICT_STAGE_RCPT)
    header_from = NULL;

  revoked_drop = postern_channel_get_farewell (channel) == POSTERN_FAREWELL_DROP;

  if (postern_channel_get_state (channel) == POSTERN_CHANNEL_STATE_REVOKED)
    {
      result->verdict = revoked_drop ? POSTERN_VERDICT_DROPPED_REVOKED : POSTERN_VERDICT_REJECTED_REVOKED;
      return;
    }

  /* Expired is revoked, and the farewell applies the same way. */
  if (postern_channel_is_expired (channel, now_unix_seconds))
    {
      result->verdict = revoked_drop ? POSTERN_VERDICT_DROPPED_REVOKED : POSTERN_VERDICT_REJECTED_EXPIRED;
      return;
    }

  if (postern_channel_get_state (channel) == POSTERN_CHANNEL_STATE_PAUSED)
    {
      result->verdict = POSTERN_VERDICT_REJECTED_PAUSED;
      return;
    }

  if (is_blocked (channel, blocklist, envelope_sender) || is_blocked (channel, blocklist, header_from))
    {
      result->verdict = POSTERN_VERDICT_REJECTED_BLOCKED;
      return;
    }

  if (postern_channel_get_kind (channel) == POSTERN_CHANNEL_KIND_OPEN)
    {
      result->verdict = POSTERN_VERDICT_ACCEPTED;
      return;
    }

  /* An unbound one-time channel: the first real sender becomes the
   * expected one, without its +tag (a tag is the sender's own filing, and
   * an untagged pattern matches every tag: docs/addresses.md). The null
   * sender (bounces, DSNs, auto-replies) never binds a channel, whatever
   * its header From says. */
  if (postern_channel_get_kind (channel) == POSTERN_CHANNEL_KIND_ONE_TIME && postern_channel_get_expected_senders (channel)->len == 0 && envelope_sender != NULL)
    {
      const PosternMailbox *first = header_from != NULL ? header_from : envelope_sender;
      g_autofree char *base = postern_mailbox_get_base_local_part (first);

      result->verdict = POSTERN_VERDICT_EXPECTED;
      result->bind_sender = postern_mailbox_new (base, first->domain, NULL);
      if (result->bind_sender == NULL)
        result->bind_sender = postern_mailbox_copy (first);
      return;
    }

  if (postern_channel_expects (channel, envelope_sender) || postern_channel_expects (channel, header_from))
    {
      result->verdict = POSTERN_VERDICT_EXPECTED;
      return;
    }

  result->verdict = apply_policy (postern_channel_get_on_unexpected (channel));
}
