/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "pd-api-private.h"

/* Health, pairing, the account and its devices. */

static gboolean
text_is_clean (const char *text)
{
  for (const char *p = text; *p != '\0'; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);

      if (g_unichar_iscntrl (c))
        return FALSE;
    }
  return TRUE;
}

static void
add_domains (JsonBuilder *builder,
             const PdApiOptions *options)
{
  json_builder_set_member_name (builder, "domains");
  json_builder_begin_array (builder);
  for (guint i = 0; options->domains != NULL && options->domains[i] != NULL; i++)
    json_builder_add_string_value (builder, options->domains[i]);
  json_builder_end_array (builder);
}

void
pd_api_health (PdApiRequest *req)
{
  g_autoptr (JsonBuilder) builder = json_builder_new ();

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "status");
  json_builder_add_string_value (builder, "ok");
  json_builder_set_member_name (builder, "version");
  json_builder_add_string_value (builder, PACKAGE_VERSION);
  json_builder_end_object (builder);
  pd_api_reply_json (req, SOUP_STATUS_OK, json_builder_get_root (builder));
}

void
pd_api_pair (PdApiRequest *req)
{
  g_autoptr (JsonObject) body = NULL;
  g_autoptr (JsonBuilder) builder = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (PdUser) user = NULL;
  g_autofree char *token = NULL;
  const PdApiOptions *options = pd_api_server_get_options (req->server);
  const char *code = NULL;
  const char *device_name = "device";
  const char *fingerprint;
  gint64 user_id = 0, device_id = 0;

  if (pd_api_client_refused (req))
    return;
  body = pd_api_read_object (req);
  if (body == NULL || !pd_api_member_string (req, body, "code", PD_API_MEMBER_REQUIRED, &code, NULL) || !pd_api_member_string (req, body, "device_name", PD_API_MEMBER_NULLABLE, &device_name, NULL))
    return;
  if (*device_name == '\0' || g_utf8_strlen (device_name, -1) > PD_DEVICE_NAME_MAX || !text_is_clean (device_name))
    {
      pd_api_reply_problem (req, SOUP_STATUS_BAD_REQUEST, "invalid-field", "Invalid field",
                            "device_name", "device_name: 1 to %d printable characters",
                            PD_DEVICE_NAME_MAX);
      return;
    }

  token = pd_store_auth_redeem_pairing_code (pd_api_server_get_auth (req->server), code,
                                             device_name, req->now, &user_id, &device_id, &error);
  if (token == NULL)
    {
      if (g_error_matches (error, PD_STORE_ERROR, PD_STORE_ERROR_NOT_FOUND))
        pd_api_reply_auth_failure (req, "invalid-pairing-code", "Pairing code not accepted",
                                   "The pairing code is unknown, used or expired; run posternd pair again");
      else
        pd_api_reply_error (req, error);
      return;
    }

  user = pd_store_get_user (pd_api_server_get_store (req->server), user_id, &error);
  if (user == NULL)
    {
      pd_api_reply_error (req, error);
      return;
    }
  g_message ("API: paired device %" G_GINT64_FORMAT " of user %s", device_id, user->name);

  builder = json_builder_new ();
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "token");
  json_builder_add_string_value (builder, token);
  json_builder_set_member_name (builder, "device_id");
  json_builder_add_int_value (builder, device_id);
  json_builder_set_member_name (builder, "user");
  json_builder_add_string_value (builder, user->name);
  json_builder_set_member_name (builder, "server");
  json_builder_begin_object (builder);
  add_domains (builder, options);
  fingerprint = pd_api_server_get_fingerprint (req->server);
  json_builder_set_member_name (builder, "fingerprint");
  if (fingerprint != NULL)
    json_builder_add_string_value (builder, fingerprint);
  else
    json_builder_add_null_value (builder);
  json_builder_end_object (builder);
  json_builder_end_object (builder);
  pd_api_reply_json (req, SOUP_STATUS_CREATED, json_builder_get_root (builder));
  memset (token, 0, strlen (token));
}

void
pd_api_account (PdApiRequest *req)
{
  g_autoptr (JsonBuilder) builder = json_builder_new ();
  g_autoptr (GError) error = NULL;
  g_autoptr (PdUser) user = NULL;
  const PdApiOptions *options = pd_api_server_get_options (req->server);
  PdStore *store = pd_api_server_get_store (req->server);

  user = pd_store_get_user (store, req->user_id, &error);
  if (user == NULL)
    {
      pd_api_reply_error (req, error);
      return;
    }

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "user");
  json_builder_add_string_value (builder, user->name);
  json_builder_set_member_name (builder, "device_id");
  json_builder_add_int_value (builder, req->device_id);
  add_domains (builder, options);
  json_builder_set_member_name (builder, "address_styles");
  json_builder_begin_array (builder);
  json_builder_add_string_value (builder, postern_address_style_to_string (POSTERN_ADDRESS_STYLE_RANDOM));
  json_builder_add_string_value (builder, postern_address_style_to_string (POSTERN_ADDRESS_STYLE_WORDS));
  json_builder_end_array (builder);
  json_builder_set_member_name (builder, "default_style");
  json_builder_add_string_value (builder, postern_address_style_to_string (options->address_style));
  json_builder_set_member_name (builder, "latest_event");
  json_builder_add_int_value (builder, pd_store_get_latest_event_id (store, req->user_id));
  json_builder_end_object (builder);
  pd_api_reply_json (req, SOUP_STATUS_OK, json_builder_get_root (builder));
}

void
pd_api_devices_list (PdApiRequest *req)
{
  g_autoptr (JsonBuilder) builder = json_builder_new ();
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) devices = NULL;

  devices = pd_store_auth_list_devices (pd_api_server_get_auth (req->server), req->user_id, &error);
  if (devices == NULL)
    {
      pd_api_reply_error (req, error);
      return;
    }

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "devices");
  json_builder_begin_array (builder);
  for (guint i = 0; i < devices->len; i++)
    {
      PdDevice *device = g_ptr_array_index (devices, i);
      g_autofree char *created = postern_json_format_time (device->created_at);
      g_autofree char *seen = device->last_seen_at ? postern_json_format_time (device->last_seen_at) : NULL;

      json_builder_begin_object (builder);
      json_builder_set_member_name (builder, "id");
      json_builder_add_int_value (builder, device->id);
      json_builder_set_member_name (builder, "name");
      json_builder_add_string_value (builder, device->name);
      json_builder_set_member_name (builder, "created_at");
      json_builder_add_string_value (builder, created);
      json_builder_set_member_name (builder, "last_seen_at");
      if (seen != NULL)
        json_builder_add_string_value (builder, seen);
      else
        json_builder_add_null_value (builder);
      json_builder_set_member_name (builder, "current");
      json_builder_add_boolean_value (builder, device->id == req->device_id);
      json_builder_end_object (builder);
    }
  json_builder_end_array (builder);
  json_builder_end_object (builder);
  pd_api_reply_json (req, SOUP_STATUS_OK, json_builder_get_root (builder));
}

void
pd_api_devices_revoke (PdApiRequest *req)
{
  g_autoptr (GError) error = NULL;
  gint64 device_id;

  if (!g_ascii_string_to_signed (req->segments[1], 10, 1, G_MAXINT64, &device_id, NULL))
    {
      pd_api_reply_not_found (req);
      return;
    }
  if (!pd_store_auth_revoke_device (pd_api_server_get_auth (req->server), req->user_id, device_id, &error))
    {
      pd_api_reply_error (req, error);
      return;
    }
  pd_live_close_device (pd_api_server_get_live (req->server), device_id);
  g_message ("API: device %" G_GINT64_FORMAT " revoked", device_id);
  pd_api_reply_empty (req, SOUP_STATUS_NO_CONTENT);
}
