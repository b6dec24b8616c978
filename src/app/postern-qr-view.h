/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gtk/gtk.h>

#include "postern-qr-paintable.h"

G_BEGIN_DECLS

#define POSTERN_TYPE_QR_VIEW (postern_qr_view_get_type ())

G_DECLARE_FINAL_TYPE (PosternQrView, postern_qr_view, POSTERN, QR_VIEW, GtkWidget)

/*
 * Shows a QR code square and sharp, never smaller than 4 pixels per module
 * (phones misread smaller ones). Properties: "payload", "paintable"
 * (read-only).
 */
GtkWidget *postern_qr_view_new (void);

const char *postern_qr_view_get_payload (PosternQrView *self);
void postern_qr_view_set_payload (PosternQrView *self,
                                  const char *payload);
PosternQrPaintable *postern_qr_view_get_paintable (PosternQrView *self);

G_END_DECLS
