/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <adwaita.h>

G_BEGIN_DECLS

#define POSTERN_TYPE_FULLSCREEN_QR (postern_fullscreen_qr_get_type ())

G_DECLARE_FINAL_TYPE (PosternFullscreenQr, postern_fullscreen_qr, POSTERN, FULLSCREEN_QR, AdwWindow)

/* A QR code alone, as large as the screen allows, black on white whatever
 * the theme, for someone to scan with a phone across a booth table. Escape
 * or a click closes it. */
GtkWidget *postern_fullscreen_qr_new (GtkWindow *parent,
                                      const char *payload,
                                      const char *address);

const char *postern_fullscreen_qr_get_payload (PosternFullscreenQr *self);

G_END_DECLS
