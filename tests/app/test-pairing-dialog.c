/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <glib/gstdio.h>
#include <string.h>

#include "postern-pairing-dialog.h"
#include "postern-preferences-window.h"

static void
test_parse_uri (void)
{
  g_autofree char *server = NULL;
  g_autofree char *code = NULL;
  g_autofree char *fp = NULL;
  g_autoptr (GError) error = NULL;

  g_assert_true (postern_pairing_parse_uri ("postern://pair?server=https%3A%2F%2F127.0.0.1%3A8443&code=ABCD-1234&fp=AB%3ACD",
                                            &server, &code, &fp, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (server, ==, "https://127.0.0.1:8443");
  g_assert_cmpstr (code, ==, "ABCD-1234");
  g_assert_cmpstr (fp, ==, "AB:CD");
  g_clear_pointer (&server, g_free);
  g_clear_pointer (&code, g_free);
  g_clear_pointer (&fp, g_free);

  /* No fingerprint in the link: NULL, the user compares by eye. */
  g_assert_true (postern_pairing_parse_uri ("postern://pair?server=https://h.example&code=x", &server, &code, &fp, &error));
  g_assert_cmpstr (server, ==, "https://h.example");
  g_assert_null (fp);

  /* Not a pairing link. */
  g_assert_false (postern_pairing_parse_uri ("https://pair.example/?server=x&code=y", NULL, NULL, NULL, &error));
  g_assert_nonnull (error);
  g_clear_error (&error);
  g_assert_false (postern_pairing_parse_uri ("postern://pair?code=y", NULL, NULL, NULL, &error));
  g_assert_nonnull (error);
  g_clear_error (&error);
  g_assert_false (postern_pairing_parse_uri ("postern://pair?server=%zz", NULL, NULL, NULL, &error));
  g_assert_nonnull (error);
  g_clear_error (&error);
  g_assert_false (postern_pairing_parse_uri ("postern://pair?server=\xff\xfe", NULL, NULL, NULL, &error));
  g_assert_nonnull (error);
}

static void
test_fingerprint_equal (void)
{
  g_assert_true (postern_pairing_fingerprint_equal ("AB:CD:EF:01", "abcdef01"));
  g_assert_true (postern_pairing_fingerprint_equal ("ab cd ef 01", "AB:CD:EF:01"));
  g_assert_false (postern_pairing_fingerprint_equal ("AB:CD:EF:01", "AB:CD:EF:02"));
  g_assert_false (postern_pairing_fingerprint_equal ("", ""));
  g_assert_false (postern_pairing_fingerprint_equal (NULL, "AB"));
}

static void
test_autostart (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("postern-autostart-XXXXXX", &error);
  g_autofree char *path = NULL;
  g_autofree char *contents = NULL;
  g_autofree char *autostart_dir = NULL;

  g_assert_no_error (error);
  path = g_build_filename (dir, "autostart", AGENT_BUS_NAME ".desktop", NULL);
  autostart_dir = g_build_filename (dir, "autostart", NULL);

  g_assert_true (postern_preferences_set_autostart (dir, TRUE, &error));
  g_assert_no_error (error);
  g_assert_true (g_file_get_contents (path, &contents, NULL, &error));
  g_assert_nonnull (strstr (contents, "Hidden=false"));
  g_assert_nonnull (strstr (contents, "X-GNOME-Autostart-enabled=true"));
  g_clear_pointer (&contents, g_free);

  g_assert_true (postern_preferences_set_autostart (dir, FALSE, &error));
  g_assert_true (g_file_get_contents (path, &contents, NULL, &error));
  g_assert_nonnull (strstr (contents, "Hidden=true"));

  g_assert_cmpint (g_remove (path), ==, 0);
  g_assert_cmpint (g_rmdir (autostart_dir), ==, 0);
  g_assert_cmpint (g_rmdir (dir), ==, 0);
}

int
main (int argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/postern/app/pairing-dialog/parse-uri", test_parse_uri);
  g_test_add_func ("/postern/app/pairing-dialog/fingerprint-equal", test_fingerprint_equal);
  g_test_add_func ("/postern/app/preferences/autostart", test_autostart);

  return g_test_run ();
}
