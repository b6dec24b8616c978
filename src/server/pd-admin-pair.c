/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "pd-admin-pair.h"

#include <errno.h>

#include "pd-api-server.h"
#include "pd-store-auth.h"
#include "pd-tls.h"

static int
fail (const char *what,
      const GError *error)
{
  g_printerr ("posternd: %s%s%s\n", what, error != NULL ? ": " : "", error != NULL ? error->message : "");
  return 1;
}

static int
usage (const char *text)
{
  g_printerr ("Usage: posternd %s\n", text);
  return 2;
}

static PdApiOptions *
load_options (PdConfig *config,
              GError **error)
{
  if (g_mkdir_with_parents (config->state_dir, 0700) != 0)
    {
      int saved_errno = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno),
                   "cannot create %s: %s", config->state_dir, g_strerror (saved_errno));
      return NULL;
    }
  return pd_api_options_new_from_keyfile (config->keyfile, config->state_dir,
                                          (const char *const *)config->domains,
                                          config->hostname, error);
}

char *
pd_admin_pair_build_uri (const char *server_url,
                         const char *code,
                         const char *fingerprint)
{
  /* ':' and '/' may stand unescaped in a query (RFC 3986 3.4); keeping
   * them makes the QR code markedly smaller. */
  g_autofree char *server = g_uri_escape_string (server_url, ":/", FALSE);
  g_autofree char *escaped_code = g_uri_escape_string (code, NULL, FALSE);
  g_autofree char *fp = fingerprint ? g_uri_escape_string (fingerprint, ":", FALSE) : NULL;

  if (fp == NULL)
    return g_strdup_printf ("postern://pair?server=%s&code=%s", server, escaped_code);
  return g_strdup_printf ("postern://pair?server=%s&code=%s&fp=%s", server, escaped_code, fp);
}

char *
pd_admin_pair_describe (PdConfig *config,
                        PdStore *store,
                        const char *user_name,
                        GError **error)
{
  g_autoptr (PdApiOptions) options = NULL;
  g_autoptr (PdStoreAuth) auth = NULL;
  g_autoptr (PdUser) user = NULL;
  g_autoptr (PosternQrMatrix) qr = NULL;
  g_autofree char *code = NULL;
  g_autofree char *fingerprint = NULL;
  g_autofree char *url = NULL;
  g_autofree char *uri = NULL;
  g_autofree char *drawing = NULL;
  g_autofree char *expiry = NULL;
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;

  options = load_options (config, error);
  if (options == NULL)
    return NULL;
  user = pd_store_lookup_user (store, user_name, error);
  if (user == NULL)
    {
      if (error != NULL && *error == NULL)
        g_set_error (error, PD_STORE_ERROR, PD_STORE_ERROR_NOT_FOUND, "no user %s", user_name);
      return NULL;
    }
  auth = pd_store_auth_open (config->state_dir, error);
  if (auth == NULL)
    return NULL;
  code = pd_store_auth_create_pairing_code (auth, user->id, now, options->pairing_code_lifetime, error);
  if (code == NULL)
    return NULL;

  if (options->certificate != NULL)
    fingerprint = pd_tls_fingerprint (options->certificate);
  url = pd_api_options_get_public_url (options, config->hostname);
  uri = pd_admin_pair_build_uri (url, code, fingerprint);
  qr = postern_qr_matrix_new (uri, error);
  if (qr == NULL)
    return NULL;
  drawing = postern_qr_matrix_to_terminal (qr);
  expiry = postern_json_format_time (now + options->pairing_code_lifetime);

  return g_strdup_printf ("Pairing code for %s: %s (single use, valid until %s)\n"
                          "Server: %s\n"
                          "Certificate SHA-256: %s\n"
                          "URI: %s\n"
                          "\n%s",
                          user->name, code, expiry, url,
                          fingerprint != NULL ? fingerprint : "(plain HTTP)",
                          uri, drawing);
}

static PdStore *
open_store (PdConfig *config)
{
  g_autoptr (GError) error = NULL;
  PdStore *store;

  if (g_mkdir_with_parents (config->state_dir, 0700) != 0)
    {
      g_printerr ("posternd: cannot create %s: %s\n", config->state_dir, g_strerror (errno));
      return NULL;
    }
  store = pd_store_open (config->state_dir, &error);
  if (store == NULL)
    fail ("cannot open the store", error);
  return store;
}

int
pd_admin_pair (PdConfig *config,
               int argc,
               char **argv)
{
  g_autoptr (PdStore) store = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *text = NULL;

  if (argc != 2)
    return usage ("pair USER");
  store = open_store (config);
  if (store == NULL)
    return 1;
  text = pd_admin_pair_describe (config, store, argv[1], &error);
  if (text == NULL)
    return fail ("cannot make a pairing code", error);
  g_print ("%s", text);
  return 0;
}

int
pd_admin_fingerprint (PdConfig *config,
                      int argc,
                      char **argv)
{
  g_autoptr (PdApiOptions) options = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *fingerprint = NULL;

  if (argc != 1)
    return usage ("fingerprint");
  options = load_options (config, &error);
  if (options == NULL)
    return fail ("cannot load the API certificate", error);
  if (options->certificate == NULL)
    return fail ("the API serves plain HTTP ([api] allow_plain_http): no certificate", NULL);
  fingerprint = pd_tls_fingerprint (options->certificate);
  g_print ("%s\n", fingerprint);
  return 0;
}

static int
device_list (PdStore *store,
             PdStoreAuth *auth,
             gint64 user_id)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) devices = pd_store_auth_list_devices (auth, user_id, &error);

  if (devices == NULL)
    return fail ("cannot list devices", error);
  for (guint i = 0; i < devices->len; i++)
    {
      PdDevice *device = g_ptr_array_index (devices, i);
      g_autofree char *created = postern_json_format_time (device->created_at);
      g_autofree char *seen = device->last_seen_at ? postern_json_format_time (device->last_seen_at) : g_strdup ("-");
      g_autofree char *name = g_strescape (device->name, NULL);

      g_print ("%" G_GINT64_FORMAT "\t%s\t%s\t%s\n", device->id, name, created, seen);
    }
  return 0;
}

int
pd_admin_device (PdConfig *config,
                 int argc,
                 char **argv)
{
  g_autoptr (PdStore) store = NULL;
  g_autoptr (PdStoreAuth) auth = NULL;
  g_autoptr (PdUser) user = NULL;
  g_autoptr (GError) error = NULL;
  gint64 device_id;

  if (argc < 3 || (!g_str_equal (argv[1], "list") && !g_str_equal (argv[1], "revoke")) || (g_str_equal (argv[1], "list") && argc != 3) || (g_str_equal (argv[1], "revoke") && argc != 4))
    return usage ("device list USER | device revoke USER ID");

  store = open_store (config);
  if (store == NULL)
    return 1;
  user = pd_store_lookup_user (store, argv[2], &error);
  if (user == NULL)
    return fail ("no such user", error);
  auth = pd_store_auth_open (config->state_dir, &error);
  if (auth == NULL)
    return fail ("cannot open the store", error);

  if (g_str_equal (argv[1], "list"))
    return device_list (store, auth, user->id);

  if (!g_ascii_string_to_signed (argv[3], 10, 1, G_MAXINT64, &device_id, NULL))
    return usage ("device revoke USER ID");
  if (!pd_store_auth_revoke_device (auth, user->id, device_id, &error))
    return fail ("cannot revoke the device", error);
  g_print ("revoked device %" G_GINT64_FORMAT " of %s\n", device_id, user->name);
  return 0;
}
