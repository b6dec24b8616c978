/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

#include "postern-client.h"

G_BEGIN_DECLS

/* A burst: alerts on one channel with less than this between them. */
#define POSTERN_AGENT_ALERTS_BURST_WINDOW_MS 60000
/* Within a burst, the summary is updated at most this often. */
#define POSTERN_AGENT_ALERTS_SUMMARY_DELAY_MS 3000

#define POSTERN_TYPE_AGENT_ALERTS (postern_agent_alerts_get_type ())

G_DECLARE_FINAL_TYPE (PosternAgentAlerts, postern_agent_alerts, POSTERN, AGENT_ALERTS, GObject)

/*
 * PosternAgentAlerts: desktop notifications for unexpected senders.
 *
 * The first alert on a channel is shown at once, naming the channel and
 * the sender, with the buttons Revoke Channel (app.revoke(s)) and Trust
 * Sender (app.trust((ss))) and Open (app.open) as the default action. More
 * alerts on the same channel within the burst window are not shown one by
 * one: the channel's notification is replaced by one summary ("37 messages
 * from strangers on “Shop”"), updated at most every summary delay. A
 * channel's notification is withdrawn once it is revoked.
 *
 * Notification ids: "alert-CHANNEL_ID".
 */
PosternAgentAlerts *postern_agent_alerts_new (GApplication *application);

void postern_agent_alerts_bind_engine (PosternAgentAlerts *self,
                                       PosternSyncEngine *engine);

void postern_agent_alerts_add (PosternAgentAlerts *self,
                               PosternEvent *event,
                               PosternChannel *channel);
/* Withdraws the channel's notification when it was revoked. */
void postern_agent_alerts_channel_changed (PosternAgentAlerts *self,
                                           PosternChannel *channel);

/* Notifications sent so far (individual and summaries), for tests and
 * benchmarks. */
guint postern_agent_alerts_get_n_sent (PosternAgentAlerts *self);

/* Tests: shorter windows than the defaults above. */
void postern_agent_alerts_set_timing (PosternAgentAlerts *self,
                                      guint burst_window_ms,
                                      guint summary_delay_ms);

G_END_DECLS
