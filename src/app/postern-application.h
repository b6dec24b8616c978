/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <adwaita.h>

#include "postern-channel-store.h"

G_BEGIN_DECLS

#define POSTERN_TYPE_APPLICATION (postern_application_get_type ())

G_DECLARE_FINAL_TYPE (PosternApplication, postern_application, POSTERN, APPLICATION, AdwApplication)

/*
 * The app: one channel store fed by the agent, shared by every window, and
 * the app-wide actions (also used by the agent's tray and notifications):
 *
 *   app.new-channel (s: label to prefill)    Ctrl+N
 *   app.new-address (s: label)               create at once, copy, show
 *   app.new-address-qr (s: label)            one-time, shown as a full-screen QR
 *   app.show-channel (s: channel id)
 *   app.show-qr (s: channel id)
 *   app.copy-address (s: channel id)
 *   app.revoke-channel (s: channel id)       asks for confirmation
 *   app.pair (s: postern://pair URI or "")
 *   app.preferences                          Ctrl+,
 *   app.about
 *   app.quit                                 Ctrl+Q
 *
 * and the agent's notification actions, which the notification portal
 * sends to this app inside Flatpak; they go to the agent's D-Bus API:
 *
 *   app.open                                 shows the window
 *   app.revoke (s: channel id)               Revoke, without asking again
 *   app.trust ((ss): channel id, sender)     TrustSender
 *
 * postern: URIs (postern://pair?server=…&code=…&fp=…) open the pairing
 * dialog. With POSTERN_TEST_HOOKS=1 in the environment, the test-only
 * actions app.test-activate (s), app.test-respond (s) and app.test-dump (s)
 * are added: see tests/app/.
 */
PosternApplication *postern_application_new (void);

PosternChannelStore *postern_application_get_store (PosternApplication *self);
GSettings *postern_application_get_settings (PosternApplication *self);

/* What a QR code for @address holds: a mailto: URI, or a contact card with
 * the owner's display name when the preferences ask for one. */
char *postern_application_build_qr_payload (PosternApplication *self,
                                            const char *address);

/* For the test hooks: how many lines @label's text takes, and how many of
 * them end in a hyphen Pango inserted (addresses must never get one). */
guint postern_label_count_lines (GtkLabel *label,
                                 guint *out_hyphens);

G_END_DECLS
