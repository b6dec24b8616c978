/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define POSTERN_QR_QUIET_ZONE 4 /* modules, as ISO/IEC 18004 asks */

/**
 * PosternQrMatrix:
 * @size: modules per side, quiet zone included
 * @modules: @size × @size bytes, row-major, 1 = dark, 0 = light
 */
typedef struct
{
  guint size;
  guint8 *modules;
} PosternQrMatrix;

/* Encodes @payload (UTF-8, 8-bit mode, error correction level M) with a
 * quiet zone of POSTERN_QR_QUIET_ZONE light modules on each side. */
PosternQrMatrix *postern_qr_matrix_new (const char *payload, GError **error);
void postern_qr_matrix_free (PosternQrMatrix *self);
gboolean postern_qr_matrix_is_dark (const PosternQrMatrix *self, guint x, guint y);

/* Renders with Unicode half blocks (two modules per character row), dark
 * modules as spaces on a light background so it scans on dark terminals. */
char *postern_qr_matrix_to_terminal (const PosternQrMatrix *self);

/* `mailto:` URI for @address, percent-encoded per RFC 6068; @subject may be
 * NULL. */
char *postern_qr_build_mailto (const char *address, const char *subject);
/* A MECARD contact card; @name may be NULL. Special characters escaped. */
char *postern_qr_build_mecard (const char *name, const char *address);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PosternQrMatrix, postern_qr_matrix_free)

G_END_DECLS
