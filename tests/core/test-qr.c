/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

#include "postern-core.h"

/* Pixels per module in the images handed to zbarimg. */
#define SCALE 4
/* Dark terminal background drawn around the rendering, in modules. */
#define BORDER 4

static void
test_matrix (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PosternQrMatrix) matrix = postern_qr_matrix_new ("mailto:k7q2mv9xwe4@ch.example.org", &error);

  g_assert_no_error (error);
  g_assert_nonnull (matrix);
  /* Versions give 21 + 4k modules, plus the quiet zone on both sides. */
  g_assert_cmpuint ((matrix->size - 2 * POSTERN_QR_QUIET_ZONE - 21) % 4, ==, 0);

  /* The quiet zone is light. */
  for (guint i = 0; i < matrix->size; i++)
    for (guint q = 0; q < POSTERN_QR_QUIET_ZONE; q++)
      {
        g_assert_false (postern_qr_matrix_is_dark (matrix, i, q));
        g_assert_false (postern_qr_matrix_is_dark (matrix, q, i));
        g_assert_false (postern_qr_matrix_is_dark (matrix, i, matrix->size - 1 - q));
        g_assert_false (postern_qr_matrix_is_dark (matrix, matrix->size - 1 - q, i));
      }

  /* The top-left finder pattern: a dark 7×7 ring. */
  for (guint i = 0; i < 7; i++)
    {
      g_assert_true (postern_qr_matrix_is_dark (matrix, POSTERN_QR_QUIET_ZONE + i, POSTERN_QR_QUIET_ZONE));
      g_assert_true (postern_qr_matrix_is_dark (matrix, POSTERN_QR_QUIET_ZONE, POSTERN_QR_QUIET_ZONE + i));
    }
  g_assert_false (postern_qr_matrix_is_dark (matrix, POSTERN_QR_QUIET_ZONE + 1, POSTERN_QR_QUIET_ZONE + 1));

  /* Outside the matrix is light. */
  g_assert_false (postern_qr_matrix_is_dark (matrix, matrix->size, 0));
}

static void
test_matrix_errors (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GString) huge = g_string_new (NULL);
  g_autoptr (PosternQrMatrix) empty = postern_qr_matrix_new ("", &error);
  g_autoptr (PosternQrMatrix) bad = NULL;
  g_autoptr (PosternQrMatrix) too_big = NULL;

  g_assert_null (empty);
  g_assert_error (error, POSTERN_CORE_ERROR, POSTERN_CORE_ERROR_QR);
  g_clear_error (&error);

  bad = postern_qr_matrix_new ("\xff", &error);
  g_assert_null (bad);
  g_assert_error (error, POSTERN_CORE_ERROR, POSTERN_CORE_ERROR_QR);
  g_clear_error (&error);

  /* Version 40-M holds 2331 octets. */
  for (guint i = 0; i < 3000; i++)
    g_string_append_c (huge, 'x');
  too_big = postern_qr_matrix_new (huge->str, &error);
  g_assert_null (too_big);
  g_assert_error (error, POSTERN_CORE_ERROR, POSTERN_CORE_ERROR_QR);
}

/* Turns the half-block rendering back into modules: TRUE = drawn in the
 * foreground (light on a dark terminal). */
static guint8 *
terminal_to_light (const char *text,
                   guint *width,
                   guint *height)
{
  g_auto (GStrv) lines = g_strsplit (text, "\n", -1);
  guint n_lines = 0;
  guint8 *light;

  while (lines[n_lines] != NULL && lines[n_lines][0] != '\0')
    n_lines++;
  g_assert_cmpuint (n_lines, >, 0);

  *width = g_utf8_strlen (lines[0], -1);
  *height = 2 * n_lines;
  light = g_new0 (guint8, (gsize)*width * *height);

  for (guint y = 0; y < n_lines; y++)
    {
      const char *p = lines[y];

      g_assert_cmpuint (g_utf8_strlen (p, -1), ==, *width);
      for (guint x = 0; x < *width; x++, p = g_utf8_next_char (p))
        {
          gunichar c = g_utf8_get_char (p);
          gboolean top = c == 0x2588 || c == 0x2580;    /* █ ▀ */
          gboolean bottom = c == 0x2588 || c == 0x2584; /* █ ▄ */

          g_assert_true (c == ' ' || c == 0x2588 || c == 0x2580 || c == 0x2584);
          light[(2 * y) * *width + x] = top;
          light[(2 * y + 1) * *width + x] = bottom;
        }
    }

  return light;
}

/* Writes a binary PGM of the modules, light drawn white, with a border of
 * dark "terminal background" around it. */
static char *
write_pgm (const guint8 *light,
           guint width,
           guint height)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *path = NULL;
  guint image_width = (width + 2 * BORDER) * SCALE;
  guint image_height = (height + 2 * BORDER) * SCALE;
  g_autoptr (GString) image = g_string_new (NULL);
  int fd;

  g_string_append_printf (image, "P5\n%u %u\n255\n", image_width, image_height);
  for (guint py = 0; py < image_height; py++)
    for (guint px = 0; px < image_width; px++)
      {
        gint mx = (gint)(px / SCALE) - BORDER;
        gint my = (gint)(py / SCALE) - BORDER;
        gboolean is_light = mx >= 0 && my >= 0 && (guint)mx < width && (guint)my < height && light[my * width + mx];

        g_string_append_c (image, is_light ? (char)0xff : 0);
      }

  fd = g_file_open_tmp ("postern-qr-XXXXXX.pgm", &path, &error);
  g_assert_no_error (error);
  close (fd);
  g_file_set_contents (path, image->str, image->len, &error);
  g_assert_no_error (error);

  return g_steal_pointer (&path);
}

static char *
zbar_decode (const char *path)
{
  g_autofree char *zbarimg = g_find_program_in_path ("zbarimg");
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autoptr (GError) error = NULL;
  int status = 0;
  const char *argv[] = { NULL, "--nodbus", "-q", "--raw", path, NULL };

  argv[0] = zbarimg;
  g_spawn_sync (NULL, (char **)argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, &out, &err, &status, &error);
  g_assert_no_error (error);
  if (!g_spawn_check_wait_status (status, NULL))
    g_test_message ("zbarimg failed: %s", err);

  return g_steal_pointer (&out);
}

static gboolean
have_zbarimg (void)
{
  g_autofree char *zbarimg = g_find_program_in_path ("zbarimg");

  if (zbarimg != NULL)
    return TRUE;

  /* In CI a missing scanner must not pass as a skipped test. */
  if (g_getenv ("CI") != NULL)
    {
      g_test_message ("zbarimg (zbar-tools) is not installed; CI must install it");
      g_test_fail ();
    }
  else
    {
      g_test_skip ("zbarimg (zbar-tools) is not installed");
    }

  return FALSE;
}

static void
test_terminal_scans (void)
{
  static const char *const payloads[] = {
    "mailto:k7q2mv9xwe4@ch.example.org",
    "mailto:amber-otter-lemon-042@ch.example.org?subject=Hello%20from%20FOSDEM",
    "MECARD:N:M\xc3\xbcller\\, Jane;EMAIL:jane@example.org;;",
  };

  if (!have_zbarimg ())
    return;

  for (guint i = 0; i < G_N_ELEMENTS (payloads); i++)
    {
      g_autoptr (PosternQrMatrix) matrix = postern_qr_matrix_new (payloads[i], NULL);
      g_autofree char *text = postern_qr_matrix_to_terminal (matrix);
      g_autofree guint8 *light = NULL;
      g_autofree char *path = NULL;
      g_autofree char *decoded = NULL;
      g_autofree char *expected = g_strconcat (payloads[i], "\n", NULL);
      guint width, height;

      light = terminal_to_light (text, &width, &height);
      g_assert_cmpuint (width, ==, matrix->size);
      g_assert_cmpuint (height, ==, matrix->size + 1); /* odd sizes round up */

      path = write_pgm (light, width, height);
      decoded = zbar_decode (path);
      g_unlink (path);

      g_assert_cmpstr (decoded, ==, expected);
    }
}

static void
test_terminal_characters (void)
{
  g_autoptr (PosternQrMatrix) matrix = postern_qr_matrix_new ("x", NULL);
  g_autofree char *text = postern_qr_matrix_to_terminal (matrix);
  g_auto (GStrv) lines = g_strsplit (text, "\n", -1);

  g_assert_true (g_utf8_validate (text, -1, NULL));
  g_assert_cmpuint (g_strv_length (lines), ==, (matrix->size + 1) / 2 + 1);
  /* The first two rows are quiet zone: light, so full blocks. */
  g_assert_true (g_str_has_prefix (lines[0], "████"));
  /* Odd size: the last line's lower half is background. */
  g_assert_true (g_str_has_prefix (lines[(matrix->size + 1) / 2 - 1], "▀▀▀▀"));
}

static void
test_mailto (void)
{
  static const struct
  {
    const char *address;
    const char *subject;
    const char *uri;
  } cases[] = {
    { "k7q2mv9xwe4@ch.example.org", NULL, "mailto:k7q2mv9xwe4@ch.example.org" },
    { "k7q2mv9xwe4@ch.example.org", "", "mailto:k7q2mv9xwe4@ch.example.org" },
    { "jane@example.org", "Hello there", "mailto:jane@example.org?subject=Hello%20there" },
    { "jane@example.org", "a&b=c?d#e%f+g", "mailto:jane@example.org?subject=a%26b%3Dc%3Fd%23e%25f+g" },
    { "a+tag@example.org", "Caf\xc3\xa9", "mailto:a+tag@example.org?subject=Caf%C3%A9" },
    { "o'brien/x@example.org", NULL, "mailto:o'brien%2Fx@example.org" },
    { "j\xc3\xb6rg@example.org", NULL, "mailto:j%C3%B6rg@example.org" },
    { "a@example.org", "1,2", "mailto:a@example.org?subject=1%2C2" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *uri = postern_qr_build_mailto (cases[i].address, cases[i].subject);
      g_assert_cmpstr (uri, ==, cases[i].uri);
    }
}

static void
test_mecard (void)
{
  static const struct
  {
    const char *name;
    const char *address;
    const char *card;
  } cases[] = {
    { NULL, "jane@example.org", "MECARD:EMAIL:jane@example.org;;" },
    { "Jane", "jane@example.org", "MECARD:N:Jane;EMAIL:jane@example.org;;" },
    { "Doe, Jane", "jane@example.org", "MECARD:N:Doe\\, Jane;EMAIL:jane@example.org;;" },
    { "a\\b;c:d", "x@example.org", "MECARD:N:a\\\\b\\;c\\:d;EMAIL:x@example.org;;" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *card = postern_qr_build_mecard (cases[i].name, cases[i].address);
      g_assert_cmpstr (card, ==, cases[i].card);
    }
}

int
main (int argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/postern/core/qr/matrix", test_matrix);
  g_test_add_func ("/postern/core/qr/matrix-errors", test_matrix_errors);
  g_test_add_func ("/postern/core/qr/terminal-scans", test_terminal_scans);
  g_test_add_func ("/postern/core/qr/terminal-characters", test_terminal_characters);
  g_test_add_func ("/postern/core/qr/mailto", test_mailto);
  g_test_add_func ("/postern/core/qr/mecard", test_mecard);

  return g_test_run ();
}
