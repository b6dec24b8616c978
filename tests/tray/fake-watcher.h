/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include "test-bus.h"

G_BEGIN_DECLS

#define WAIT_MS 5000

/* A fake org.kde.StatusNotifierWatcher (with or without a host) on its own
 * connection: records RegisterStatusNotifierItem calls. */
typedef struct
{
  GDBusConnection *connection;
  guint registration_id;
  gboolean host_registered;
  GPtrArray *services; /* what RegisterStatusNotifierItem got */
  GPtrArray *senders;  /* who sent it */
  gboolean got_registration;
} FakeWatcher;

FakeWatcher *fake_watcher_start (TestBus *bus,
                                 gboolean host_registered);
/* A host registers: the property turns TRUE and the signal is emitted. */
void fake_watcher_host_appears (FakeWatcher *watcher);
void fake_watcher_stop (FakeWatcher *watcher);

G_END_DECLS
