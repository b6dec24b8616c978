/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include "test-bus.h"

G_BEGIN_DECLS

/* One Notify call as the server saw it. */
typedef struct
{
  char *app_name;
  guint32 replaces_id;
  guint32 id;
  char *summary;
  char *body;
  char **actions;     /* key, label, key, label, … */
  gint64 received_us; /* monotonic time the server got it */
} FakeNotification;

/* A fake org.freedesktop.Notifications on its own connection. */
typedef struct
{
  GDBusConnection *connection;
  guint registration_id;
  GPtrArray *notifications; /* FakeNotification *, in arrival order */
  GArray *closed;           /* guint32 ids from CloseNotification */
  guint32 last_id;
  gboolean got_call;
} FakeNotifications;

FakeNotifications *fake_notifications_start (TestBus *bus);
void fake_notifications_stop (FakeNotifications *server);
/* The action key of the button labelled @label ("default" for the body). */
const char *fake_notification_action_key (FakeNotification *notification,
                                          const char *label);
/* Emits ActionInvoked, as when the user clicks. */
void fake_notifications_invoke (FakeNotifications *server,
                                guint32 id,
                                const char *action_key);
/* Waits until @n Notify calls arrived in total. */
gboolean fake_notifications_wait (FakeNotifications *server,
                                  guint n,
                                  guint timeout_ms);

G_END_DECLS
