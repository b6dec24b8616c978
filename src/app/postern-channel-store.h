/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

#include "postern-agent-dbus.h"
#include "postern-channel-item.h"
#include "postern-core.h"

G_BEGIN_DECLS

typedef enum
{
  POSTERN_CHANNEL_FILTER_ALL,
  POSTERN_CHANNEL_FILTER_ACTIVE,
  POSTERN_CHANNEL_FILTER_PAUSED,
  POSTERN_CHANNEL_FILTER_REVOKED,
  POSTERN_CHANNEL_FILTER_ALERTS,
} PosternChannelFilter;

#define POSTERN_TYPE_CHANNEL_STORE (postern_channel_store_get_type ())

G_DECLARE_FINAL_TYPE (PosternChannelStore, postern_channel_store, POSTERN, CHANNEL_STORE, GObject)

/*
 * The app's view of the agent: every channel as a PosternChannelItem in a
 * GListStore, a filtered and sorted model over it for the list (search on
 * label, address and senders; a state filter; newest activity first), and
 * the agent's status. It holds no state of its own: everything comes from
 * the agent's D-Bus API and is replaced when the agent says so.
 *
 * Without an agent (postern_channel_store_new() and the _load_ functions)
 * it serves tests and benchmarks.
 *
 * Properties: "model" (GListModel of PosternChannelItem, filtered and
 * sorted), "n-channels", "search", "filter", "agent" (the proxy or NULL),
 * "agent-running", "loaded", "paired", "online", "connection", "server",
 * "user", "fingerprint", "message", "pending", "unread-alerts".
 * Signals: "alert" (PosternChannelItem *item, PosternEvent *event) when an
 * unexpected sender reached a channel.
 */
PosternChannelStore *postern_channel_store_new (void);

/* Starts talking to the agent on the session bus (activating it). */
void postern_channel_store_connect (PosternChannelStore *self);

PosternDBusAgent1 *postern_channel_store_get_agent (PosternChannelStore *self);
GListModel *postern_channel_store_get_model (PosternChannelStore *self);
GListModel *postern_channel_store_get_items (PosternChannelStore *self);
PosternChannelItem *postern_channel_store_lookup (PosternChannelStore *self,
                                                  const char *id);

const char *postern_channel_store_get_search (PosternChannelStore *self);
void postern_channel_store_set_search (PosternChannelStore *self,
                                       const char *search);
PosternChannelFilter postern_channel_store_get_filter (PosternChannelStore *self);
void postern_channel_store_set_filter (PosternChannelStore *self,
                                       PosternChannelFilter filter);

gboolean postern_channel_store_get_loaded (PosternChannelStore *self);
gboolean postern_channel_store_get_paired (PosternChannelStore *self);
gboolean postern_channel_store_get_online (PosternChannelStore *self);
const char *postern_channel_store_get_connection (PosternChannelStore *self);
const char *postern_channel_store_get_server (PosternChannelStore *self);
const char *postern_channel_store_get_user (PosternChannelStore *self);
const char *postern_channel_store_get_fingerprint (PosternChannelStore *self);
const char *postern_channel_store_get_message (PosternChannelStore *self);
guint postern_channel_store_get_pending (PosternChannelStore *self);

/* Replaces every channel with those in @json (the agent's ListChannels
 * answer: an array of channels, or an object with a "channels" array). */
gboolean postern_channel_store_load_channels (PosternChannelStore *self,
                                              const char *json,
                                              GError **error);
/* Adds or replaces one channel (a ChannelChanged signal); returns its item. */
PosternChannelItem *postern_channel_store_load_channel (PosternChannelStore *self,
                                                        const char *json,
                                                        GError **error);
/* Applies events (ListEvents, newest first: an array or {"events": [...]})
 * to last activity and seen senders, and counts the newest @max_alerts
 * alert events as unread (0: none, G_MAXUINT: all). */
gboolean postern_channel_store_load_events (PosternChannelStore *self,
                                            const char *json,
                                            guint max_alerts,
                                            GError **error);
/* Marks channels named in the pending queue (ListPending). */
gboolean postern_channel_store_load_pending (PosternChannelStore *self,
                                             const char *json,
                                             GError **error);
/* Applies a status dictionary (GetStatus / StatusChanged). */
void postern_channel_store_load_status (PosternChannelStore *self,
                                        GVariant *status);

/* Clears a channel's unread alerts here and in the agent. */
void postern_channel_store_mark_read (PosternChannelStore *self,
                                      PosternChannelItem *item);

/* The message of a D-Bus error without its remote prefix, for the user. */
char *postern_channel_store_error_message (const GError *error);

G_END_DECLS
