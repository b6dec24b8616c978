/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

#include "postern-block-entry.h"
#include "postern-channel.h"
#include "postern-enums.h"

G_BEGIN_DECLS

typedef enum
{
  /* RCPT time: only the envelope sender is known. */
  POSTERN_VERDICT_STAGE_RCPT,
  /* After DATA: the header From is known (it may still be absent). */
  POSTERN_VERDICT_STAGE_DATA,
} PosternVerdictStage;

typedef struct
{
  PosternVerdict verdict;
  /* For a one-time channel that has no sender yet and whose message is
   * accepted: the sender this message binds (header From when present,
   * else the envelope sender). %NULL otherwise. Owned by the result. */
  PosternMailbox *bind_sender;
} PosternVerdictResult;

void postern_verdict_result_clear (PosternVerdictResult *result);

/*
 * The one rule every message goes through. Pure: no clock, no store.
 *
 * @blocklist holds the user's PosternBlockEntry items (any scope).
 * @envelope_sender is %NULL for the null sender `<>`.
 * @header_from is %NULL when absent or not yet known (RCPT stage).
 *
 * Order: revoked, expired, paused, blocked (envelope sender or header From),
 * then the kind's rule. A sender is expected when the envelope sender or the
 * header From matches an expected sender. At the RCPT stage a `reject`
 * policy is decided on the envelope sender alone (docs/verdicts.md says why);
 * `alert` and `hold` give a provisional verdict that the DATA stage refines.
 */
void postern_verdict_decide (PosternChannel *channel,
                             GPtrArray *blocklist,
                             const PosternMailbox *envelope_sender,
                             const PosternMailbox *header_from,
                             PosternVerdictStage stage,
                             gint64 now_unix_seconds,
                             PosternVerdictResult *result);

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (PosternVerdictResult, postern_verdict_result_clear)

G_END_DECLS
