/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "postern-core.h"
#include "postern-qr-paintable.h"

static void
test_texture_matches_matrix (void)
{
  g_autoptr (PosternQrPaintable) paintable = postern_qr_paintable_new ();
  g_autoptr (PosternQrMatrix) matrix = NULL;
  g_autoptr (GdkTexture) texture = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree guint8 *pixels = NULL;
  const char *payload = "mailto:k7q2mv9x@ch.example.org";
  const guint ppm = 4;
  guint modules;
  gsize stride;

  g_assert_true (postern_qr_paintable_set_payload (paintable, payload, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (postern_qr_paintable_get_payload (paintable), ==, payload);

  matrix = postern_qr_matrix_new (payload, &error);
  g_assert_no_error (error);
  modules = postern_qr_paintable_get_modules (paintable);
  g_assert_cmpuint (modules, ==, matrix->size);
  g_assert_cmpint (gdk_paintable_get_intrinsic_width (GDK_PAINTABLE (paintable)), >=, (int)modules * 4);
  g_assert_cmpfloat (gdk_paintable_get_intrinsic_aspect_ratio (GDK_PAINTABLE (paintable)), ==, 1.0);

  texture = postern_qr_paintable_to_texture (paintable, ppm);
  g_assert_nonnull (texture);
  g_assert_cmpint (gdk_texture_get_width (texture), ==, (int)(modules * ppm));
  g_assert_cmpint (gdk_texture_get_height (texture), ==, (int)(modules * ppm));

  stride = (gsize)gdk_texture_get_width (texture) * 4;
  pixels = g_malloc (stride * gdk_texture_get_height (texture));
  gdk_texture_download (texture, pixels, stride);

  /* Every pixel of every module has the module's colour; the quiet zone
   * (POSTERN_QR_QUIET_ZONE modules) is white. */
  for (guint y = 0; y < modules * ppm; y++)
    for (guint x = 0; x < modules * ppm; x++)
      {
        const guint8 *p = pixels + y * stride + x * 4;
        gboolean dark = postern_qr_matrix_is_dark (matrix, x / ppm, y / ppm);

        g_assert_cmpuint (p[0], ==, dark ? 0x00 : 0xff);
        g_assert_cmpuint (p[1], ==, p[0]);
        g_assert_cmpuint (p[2], ==, p[0]);
        if (x / ppm < POSTERN_QR_QUIET_ZONE || y / ppm < POSTERN_QR_QUIET_ZONE)
          g_assert_false (dark);
      }

  /* The finder pattern's corner right after the quiet zone is dark. */
  g_assert_true (postern_qr_matrix_is_dark (matrix, POSTERN_QR_QUIET_ZONE, POSTERN_QR_QUIET_ZONE));

  g_assert_finalize_object (g_steal_pointer (&paintable));
}

static void
test_empty_and_too_long (void)
{
  g_autoptr (PosternQrPaintable) paintable = postern_qr_paintable_new ();
  g_autoptr (GError) error = NULL;
  g_autofree char *huge = g_strnfill (8000, 'x');

  g_assert_cmpuint (postern_qr_paintable_get_modules (paintable), ==, 0);
  g_assert_null (postern_qr_paintable_to_texture (paintable, 4));
  g_assert_cmpint (gdk_paintable_get_intrinsic_width (GDK_PAINTABLE (paintable)), ==, 0);

  g_assert_true (postern_qr_paintable_set_payload (paintable, "mailto:a@b.example", &error));
  g_assert_cmpuint (postern_qr_paintable_get_modules (paintable), >, 0);

  /* More than a QR code holds: refused, and the paintable is empty rather
   * than showing the previous address. */
  g_assert_false (postern_qr_paintable_set_payload (paintable, huge, &error));
  g_assert_error (error, POSTERN_CORE_ERROR, POSTERN_CORE_ERROR_QR);
  g_assert_null (postern_qr_paintable_get_payload (paintable));
  g_assert_cmpuint (postern_qr_paintable_get_modules (paintable), ==, 0);

  g_assert_finalize_object (g_steal_pointer (&paintable));
}

int
main (int argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/postern/app/qr-paintable/texture-matches-matrix", test_texture_matches_matrix);
  g_test_add_func ("/postern/app/qr-paintable/empty-and-too-long", test_empty_and_too_long);

  return g_test_run ();
}
