/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gtk/gtk.h>

G_BEGIN_DECLS

#define POSTERN_TYPE_QR_PAINTABLE (postern_qr_paintable_get_type ())

G_DECLARE_FINAL_TYPE (PosternQrPaintable, postern_qr_paintable, POSTERN, QR_PAINTABLE, GObject)

/*
 * A QR code as a GdkPaintable: dark modules on white, quiet zone included,
 * drawn at a whole number of pixels per module so edges stay sharp and
 * phones scan it. Property "payload" (the encoded text, NULL for none).
 */
PosternQrPaintable *postern_qr_paintable_new (void);

const char *postern_qr_paintable_get_payload (PosternQrPaintable *self);
/* Encodes @payload; on failure the paintable is left empty. */
gboolean postern_qr_paintable_set_payload (PosternQrPaintable *self,
                                           const char *payload,
                                           GError **error);

/* Modules per side with the quiet zone; 0 when empty. */
guint postern_qr_paintable_get_modules (PosternQrPaintable *self);

/* A texture at @pixels_per_module (≥ 1), for copying or saving. */
GdkTexture *postern_qr_paintable_to_texture (PosternQrPaintable *self,
                                             guint pixels_per_module);

G_END_DECLS
