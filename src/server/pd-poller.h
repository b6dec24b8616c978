/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Waits for many sockets to become readable with one GSource and one
 * epoll set on a main context, so that a wait costs no source of its
 * own (see pd-poller.c for why). */
typedef struct _PdPoller PdPoller;
typedef struct _PdPollerWatch PdPollerWatch;

typedef void (*PdPollerFunc) (gpointer user_data);

PdPoller *pd_poller_new (GMainContext *context, GError **error);
/* The owner's hold goes; the poller itself stays until its last watch
 * is removed, so that wakes already asked for are still delivered. */
void pd_poller_free (PdPoller *self);

/* Watches @fd (a non-blocking socket) for input, end of input or error.
 * Remove the watch before closing @fd. */
PdPollerWatch *pd_poller_add (PdPoller *self, int fd, PdPollerFunc func, gpointer user_data, GError **error);
/* Stops watching and frees @watch; safe from inside any watch's
 * callback, its own included. */
void pd_poller_remove (PdPollerWatch *watch);
/* Calls the watch's function once, from the main loop, when the socket
 * next receives input (or is hung up). Edge-triggered: call it only
 * after a read said EAGAIN, or input already waiting goes unnoticed. */
void pd_poller_arm (PdPollerWatch *watch);
/* Calls an armed watch's function at the next main-loop round whether
 * or not there is input (a timeout, a close); nothing if not armed. */
void pd_poller_wake (PdPollerWatch *watch);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PdPoller, pd_poller_free)

G_END_DECLS
