/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "pd-api-server.h"

#include "pd-api-guard.h"
#include "pd-api-private.h"
#include "pd-tls.h"

#define PROBLEM_BASE "https://postern.invalid/problems/"
#define API_PREFIX   "/api/v1"

typedef struct
{
  gint64 revision;
  GBytes *body;
} ListCacheEntry;

static void
list_cache_entry_free (gpointer data)
{
  ListCacheEntry *entry = data;

  g_bytes_unref (entry->body);
  g_free (entry);
}

typedef struct
{
  guint count;
  gint64 last_failure; /* monotonic seconds */
} FailureRecord;

struct _PdApiServer
{
  GObject parent_instance;

  PdStore *store;
  PdStoreAuth *auth;
  PdLive *live;
  PdApiOptions *options;
  SoupServer *soup;
  PdApiGuard *guard;
  char *fingerprint;
  GHashTable *failures;   /* client address -> FailureRecord */
  GHashTable *list_cache; /* user id -> ListCacheEntry */
  GCancellable *cancellable;

  PdApiClockFunc clock;
  gpointer clock_data;
};

G_DEFINE_FINAL_TYPE (PdApiServer, pd_api_server, G_TYPE_OBJECT)

/* ---- options ---- */

PdApiOptions *
pd_api_options_new (void)
{
  PdApiOptions *options = g_new0 (PdApiOptions, 1);

  options->listen = g_strdup (PD_API_DEFAULT_LISTEN);
  options->domains = g_new0 (char *, 1);
  options->address_style = POSTERN_ADDRESS_STYLE_RANDOM;
  options->max_body = PD_API_MAX_BODY;
  options->pairing_code_lifetime = PD_PAIRING_CODE_LIFETIME;
  options->auth_failures_before_delay = PD_API_AUTH_FAILURES_BEFORE_DELAY;
  options->auth_failure_delay_ms = PD_API_AUTH_FAILURE_DELAY_MS;
  options->auth_failures_before_refusing = PD_API_AUTH_FAILURES_BEFORE_REFUSING;
  options->live_ping_interval = PD_API_LIVE_PING_INTERVAL;
  options->max_connections = PD_API_MAX_CONNECTIONS;
  options->max_connections_per_client = PD_API_MAX_CONNECTIONS_PER_CLIENT;
  options->request_header_timeout = PD_API_REQUEST_HEADER_TIMEOUT;
  return options;
}

PdApiOptions *
pd_api_options_copy (const PdApiOptions *options)
{
  PdApiOptions *copy = g_new0 (PdApiOptions, 1);

  *copy = *options;
  copy->listen = g_strdup (options->listen);
  copy->certificate = options->certificate ? g_object_ref (options->certificate) : NULL;
  copy->domains = g_strdupv (options->domains);
  copy->public_url = g_strdup (options->public_url);
  return copy;
}

void
pd_api_options_free (PdApiOptions *options)
{
  if (options == NULL)
    return;
  g_free (options->listen);
  g_clear_object (&options->certificate);
  g_strfreev (options->domains);
  g_free (options->public_url);
  g_free (options);
}

static const char *const api_keys[] = {
  "listen", "allow_plain_http", "tls_certificate", "tls_key", "public_url",
  "address_style", "max_body", "pairing_code_lifetime", "max_connections",
  "max_connections_per_client", NULL
};

static gboolean
keyfile_get_uint (GKeyFile *keyfile,
                  const char *key,
                  guint64 min,
                  guint64 max,
                  guint64 *inout,
                  GError **error)
{
  g_autofree char *text = g_key_file_get_string (keyfile, "api", key, NULL);
  guint64 value;

  if (text == NULL)
    return TRUE;
  if (!g_ascii_string_to_unsigned (g_strstrip (text), 10, min, max, &value, NULL))
    {
      g_set_error (error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
                   "[api] %s: expected a number from %" G_GUINT64_FORMAT " to %" G_GUINT64_FORMAT,
                   key, min, max);
      return FALSE;
    }
  *inout = value;
  return TRUE;
}

static GSocketAddress *parse_listen (const char *listen, GError **error);

/* The [api] group but the certificate (which may be made, in state_dir). */
static PdApiOptions *
options_parse (GKeyFile *keyfile,
               const char *const *domains,
               GError **error)
{
  g_autoptr (PdApiOptions) options = pd_api_options_new ();
  g_autofree char *listen = NULL;
  g_autofree char *style = NULL;
  g_autoptr (GError) local_error = NULL;
  guint64 max_body = options->max_body;
  guint64 lifetime = options->pairing_code_lifetime;
  guint64 max_connections = options->max_connections;
  guint64 max_per_client = options->max_connections_per_client;

  if (g_key_file_has_group (keyfile, "api"))
    {
      g_auto (GStrv) keys = g_key_file_get_keys (keyfile, "api", NULL, NULL);

      for (guint i = 0; keys != NULL && keys[i] != NULL; i++)
        if (!g_strv_contains (api_keys, keys[i]))
          {
            g_set_error (error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_KEY_NOT_FOUND,
                         "[api] %s: unknown key", keys[i]);
            return NULL;
          }
    }

  listen = g_key_file_get_string (keyfile, "api", "listen", NULL);
  if (listen != NULL)
    {
      g_free (options->listen);
      options->listen = g_strdup (g_strstrip (listen));
    }
  options->allow_plain_http = g_key_file_get_boolean (keyfile, "api", "allow_plain_http", &local_error);
  if (local_error != NULL && !g_error_matches (local_error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_KEY_NOT_FOUND) && !g_error_matches (local_error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_GROUP_NOT_FOUND))
    {
      g_propagate_prefixed_error (error, g_steal_pointer (&local_error), "[api] allow_plain_http: ");
      return NULL;
    }
  g_clear_error (&local_error);
  options->public_url = g_key_file_get_string (keyfile, "api", "public_url", NULL);
  if (!keyfile_get_uint (keyfile, "max_body", 1024, 16 * 1024 * 1024, &max_body, error) || !keyfile_get_uint (keyfile, "pairing_code_lifetime", 10, 86400, &lifetime, error) || !keyfile_get_uint (keyfile, "max_connections", 1, 100000, &max_connections, error) || !keyfile_get_uint (keyfile, "max_connections_per_client", 1, 100000, &max_per_client, error))
    return NULL;
  options->max_connections = (guint)max_connections;
  options->max_connections_per_client = (guint)max_per_client;
  options->max_body = max_body;
  options->pairing_code_lifetime = (gint64)lifetime;

  style = g_key_file_get_string (keyfile, "api", "address_style", NULL);
  if (style != NULL && !postern_address_style_from_string (g_strstrip (style), &options->address_style, &local_error))
    {
      g_set_error (error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
                   "[api] address_style: %s", local_error->message);
      return NULL;
    }

  g_strfreev (options->domains);
  options->domains = g_strdupv ((char **)domains);
  return g_steal_pointer (&options);
}

gboolean
pd_api_options_check_keyfile (GKeyFile *keyfile,
                              GError **error)
{
  g_autoptr (PdApiOptions) options = NULL;
  g_autoptr (GSocketAddress) address = NULL;

  g_return_val_if_fail (keyfile != NULL, FALSE);

  options = options_parse (keyfile, NULL, error);
  if (options == NULL)
    return FALSE;
  address = parse_listen (options->listen, error);
  return address != NULL;
}

PdApiOptions *
pd_api_options_new_from_keyfile (GKeyFile *keyfile,
                                 const char *state_dir,
                                 const char *const *domains,
                                 const char *hostname,
                                 GError **error)
{
  g_autoptr (PdApiOptions) options = NULL;
  g_autofree char *cert_file = NULL;
  g_autofree char *key_file = NULL;

  g_return_val_if_fail (keyfile != NULL, NULL);
  g_return_val_if_fail (state_dir != NULL, NULL);

  options = options_parse (keyfile, domains, error);
  if (options == NULL)
    return NULL;
  cert_file = g_key_file_get_string (keyfile, "api", "tls_certificate", NULL);
  key_file = g_key_file_get_string (keyfile, "api", "tls_key", NULL);
  if (!options->allow_plain_http)
    {
      options->certificate = pd_tls_load_certificate (cert_file, key_file, state_dir, hostname, error);
      if (options->certificate == NULL)
        return NULL;
    }
  return g_steal_pointer (&options);
}

char *
pd_api_options_get_public_url (const PdApiOptions *options,
                               const char *hostname)
{
  g_autoptr (GSocketConnectable) connectable = NULL;
  const char *host;
  const char *scheme = options->allow_plain_http ? "http" : "https";
  guint16 port;

  if (options->public_url != NULL && *options->public_url != '\0')
    return g_strdup (options->public_url);
  connectable = g_network_address_parse (options->listen, PD_API_DEFAULT_PORT, NULL);
  if (connectable == NULL)
    return g_strdup_printf ("%s://%s:%d", scheme, hostname, PD_API_DEFAULT_PORT);
  host = g_network_address_get_hostname (G_NETWORK_ADDRESS (connectable));
  port = g_network_address_get_port (G_NETWORK_ADDRESS (connectable));
  if (g_str_equal (host, "0.0.0.0") || g_str_equal (host, "::") || g_str_equal (host, "*"))
    host = hostname;
  if (strchr (host, ':') != NULL)
    return g_strdup_printf ("%s://[%s]:%u", scheme, host, port);
  return g_strdup_printf ("%s://%s:%u", scheme, host, port);
}

/* ---- replies ---- */

void
pd_api_reply_problem_msg (SoupServerMessage *msg,
                          guint status,
                          const char *slug,
                          const char *title,
                          const char *field,
                          const char *detail)
{
  g_autoptr (JsonBuilder) builder = json_builder_new ();
  g_autoptr (JsonNode) root = NULL;
  g_autofree char *type = g_strconcat (PROBLEM_BASE, slug, NULL);
  char *text;

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "type");
  json_builder_add_string_value (builder, type);
  json_builder_set_member_name (builder, "title");
  json_builder_add_string_value (builder, title);
  json_builder_set_member_name (builder, "status");
  json_builder_add_int_value (builder, status);
  if (detail != NULL)
    {
      json_builder_set_member_name (builder, "detail");
      json_builder_add_string_value (builder, detail);
    }
  if (field != NULL)
    {
      json_builder_set_member_name (builder, "field");
      json_builder_add_string_value (builder, field);
    }
  json_builder_end_object (builder);
  root = json_builder_get_root (builder);
  text = json_to_string (root, FALSE);

  soup_server_message_set_status (msg, status, NULL);
  soup_server_message_set_response (msg, "application/problem+json", SOUP_MEMORY_TAKE,
                                    text, strlen (text));
}

void
pd_api_reply_problem (PdApiRequest *req,
                      guint status,
                      const char *slug,
                      const char *title,
                      const char *field,
                      const char *detail_format,
                      ...)
{
  g_autofree char *detail = NULL;
  va_list args;

  if (detail_format != NULL)
    {
      va_start (args, detail_format);
      detail = g_strdup_vprintf (detail_format, args);
      va_end (args);
    }
  pd_api_reply_problem_msg (req->msg, status, slug, title, field, detail);
}

void
pd_api_reply_not_found (PdApiRequest *req)
{
  pd_api_reply_problem (req, SOUP_STATUS_NOT_FOUND, "not-found", "Not found", NULL,
                        "No such resource");
}

/* Core messages name the field first ("kind: expected one of ..."). */
static char *
field_of_message (const char *message)
{
  const char *colon = strchr (message, ':');

  if (colon == NULL || colon == message || colon - message > 40)
    return NULL;
  for (const char *p = message; p < colon; p++)
    if (!g_ascii_isalnum (*p) && *p != '_' && *p != '-' && *p != '.' && *p != '[' && *p != ']')
      return NULL;
  return g_strndup (message, colon - message);
}

void
pd_api_reply_error (PdApiRequest *req,
                    const GError *error)
{
  if (error->domain == PD_STORE_ERROR)
    {
      switch ((PdStoreError)error->code)
        {
          case PD_STORE_ERROR_NOT_FOUND:
            pd_api_reply_problem (req, SOUP_STATUS_NOT_FOUND, "not-found", "Not found", NULL, "%s", error->message);
            return;
          case PD_STORE_ERROR_EXISTS:
            pd_api_reply_problem (req, SOUP_STATUS_CONFLICT, "exists", "Already exists", NULL, "%s", error->message);
            return;
          case PD_STORE_ERROR_CONFLICT:
            pd_api_reply_problem (req, SOUP_STATUS_PRECONDITION_FAILED, "stale-revision",
                                  "The resource changed", NULL, "%s", error->message);
            return;
          case PD_STORE_ERROR_INVALID:
            {
              g_autofree char *field = field_of_message (error->message);

              pd_api_reply_problem (req, SOUP_STATUS_BAD_REQUEST, "invalid-field", "Invalid field",
                                    field, "%s", error->message);
              return;
            }
          case PD_STORE_ERROR_FAILED:
          case PD_STORE_ERROR_SCHEMA:
          default:
            break;
        }
    }
  else if (error->domain == POSTERN_CORE_ERROR)
    {
      g_autofree char *field = field_of_message (error->message);

      pd_api_reply_problem (req, SOUP_STATUS_BAD_REQUEST, "invalid-field", "Invalid field",
                            field, "%s", error->message);
      return;
    }

  g_warning ("API %s %s: %s", req->method,
             g_uri_get_path (soup_server_message_get_uri (req->msg)), error->message);
  pd_api_reply_problem (req, SOUP_STATUS_INTERNAL_SERVER_ERROR, "internal", "Internal error",
                        NULL, "The server could not complete the request; its log says why");
}

void
pd_api_reply_json (PdApiRequest *req,
                   guint status,
                   JsonNode *node)
{
  char *text = json_to_string (node, FALSE);

  json_node_unref (node);
  soup_server_message_set_status (req->msg, status, NULL);
  soup_server_message_set_response (req->msg, "application/json", SOUP_MEMORY_TAKE,
                                    text, strlen (text));
}

void
pd_api_reply_list (PdApiRequest *req,
                   const char *member,
                   GPtrArray *items,
                   PdApiToJsonFunc to_json)
{
  g_autoptr (JsonBuilder) builder = json_builder_new ();

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, member);
  json_builder_begin_array (builder);
  for (guint i = 0; i < items->len; i++)
    json_builder_add_value (builder, to_json (g_ptr_array_index (items, i)));
  json_builder_end_array (builder);
  json_builder_end_object (builder);
  pd_api_reply_json (req, SOUP_STATUS_OK, json_builder_get_root (builder));
}

void
pd_api_reply_json_bytes (PdApiRequest *req,
                         guint status,
                         GBytes *body)
{
  soup_server_message_set_status (req->msg, status, NULL);
  soup_message_headers_set_content_type (soup_server_message_get_response_headers (req->msg),
                                         "application/json", NULL);
  soup_message_body_append_bytes (soup_server_message_get_response_body (req->msg), body);
}

GBytes *
pd_api_server_lookup_list_cache (PdApiServer *self,
                                 gint64 user_id,
                                 gint64 revision)
{
  ListCacheEntry *entry = g_hash_table_lookup (self->list_cache, &user_id);

  if (self->options->no_list_cache || entry == NULL || entry->revision != revision)
    return NULL;
  return g_bytes_ref (entry->body);
}

void
pd_api_server_store_list_cache (PdApiServer *self,
                                gint64 user_id,
                                gint64 revision,
                                GBytes *body)
{
  ListCacheEntry *entry = g_new0 (ListCacheEntry, 1);

  /* Bounded crudely: a server with more active users than this starts
   * over rather than tracking recency. */
  if (g_hash_table_size (self->list_cache) >= PD_API_LIST_CACHE_USERS && !g_hash_table_contains (self->list_cache, &user_id))
    g_hash_table_remove_all (self->list_cache);
  entry->revision = revision;
  entry->body = g_bytes_ref (body);
  g_hash_table_replace (self->list_cache, g_memdup2 (&user_id, sizeof user_id), entry);
}

void
pd_api_reply_empty (PdApiRequest *req,
                    guint status)
{
  soup_server_message_set_status (req->msg, status, NULL);
}

/* ---- request bodies ---- */

JsonObject *
pd_api_read_object (PdApiRequest *req)
{
  SoupMessageBody *body = soup_server_message_get_request_body (req->msg);
  g_autoptr (GBytes) bytes = soup_message_body_flatten (body);
  g_autoptr (JsonParser) parser = json_parser_new_immutable ();
  g_autoptr (GError) error = NULL;
  gsize length;
  const char *data = g_bytes_get_data (bytes, &length);
  JsonNode *root;

  if (length > pd_api_server_get_options (req->server)->max_body)
    {
      pd_api_reply_problem (req, SOUP_STATUS_REQUEST_ENTITY_TOO_LARGE, "body-too-large",
                            "Request body too large", NULL, "The limit is %" G_GSIZE_FORMAT " octets",
                            pd_api_server_get_options (req->server)->max_body);
      return NULL;
    }
  if (length == 0)
    {
      pd_api_reply_problem (req, SOUP_STATUS_BAD_REQUEST, "malformed-json", "Malformed JSON",
                            NULL, "The request needs a JSON object body");
      return NULL;
    }
  if (!g_utf8_validate_len (data, length, NULL))
    {
      pd_api_reply_problem (req, SOUP_STATUS_BAD_REQUEST, "malformed-json", "Malformed JSON",
                            NULL, "The body is not valid UTF-8");
      return NULL;
    }
  if (!json_parser_load_from_data (parser, data, length, &error))
    {
      pd_api_reply_problem (req, SOUP_STATUS_BAD_REQUEST, "malformed-json", "Malformed JSON",
                            NULL, "%s", error->message);
      return NULL;
    }
  root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    {
      pd_api_reply_problem (req, SOUP_STATUS_BAD_REQUEST, "malformed-json", "Malformed JSON",
                            NULL, "The body must be a JSON object");
      return NULL;
    }
  return json_object_ref (json_node_get_object (root));
}

static gboolean
member_lookup (PdApiRequest *req,
               JsonObject *object,
               const char *name,
               PdApiMemberFlags flags,
               const char *expected,
               JsonNode **out_node)
{
  JsonNode *node = json_object_get_member (object, name);

  *out_node = NULL;
  if (node == NULL || (JSON_NODE_HOLDS_NULL (node) && (flags & PD_API_MEMBER_NULLABLE)))
    {
      if (flags & PD_API_MEMBER_REQUIRED)
        {
          pd_api_reply_problem (req, SOUP_STATUS_BAD_REQUEST, "invalid-field", "Invalid field",
                                name, "%s: required", name);
          return FALSE;
        }
      return TRUE;
    }
  *out_node = node;
  (void)expected;
  return TRUE;
}

static gboolean
wrong_type (PdApiRequest *req,
            const char *name,
            const char *expected)
{
  pd_api_reply_problem (req, SOUP_STATUS_BAD_REQUEST, "invalid-field", "Invalid field",
                        name, "%s: expected %s", name, expected);
  return FALSE;
}

gboolean
pd_api_member_string (PdApiRequest *req,
                      JsonObject *object,
                      const char *name,
                      PdApiMemberFlags flags,
                      const char **out,
                      gboolean *out_present)
{
  JsonNode *node;
  const char *value;

  if (out_present != NULL)
    *out_present = FALSE;
  if (!member_lookup (req, object, name, flags, "a string", &node))
    return FALSE;
  if (node == NULL)
    return TRUE;
  if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_STRING)
    return wrong_type (req, name, (flags & PD_API_MEMBER_NULLABLE) ? "a string or null" : "a string");
  value = json_node_get_string (node);
  if (!g_utf8_validate (value, -1, NULL))
    return wrong_type (req, name, "valid UTF-8");
  *out = value;
  if (out_present != NULL)
    *out_present = TRUE;
  return TRUE;
}

gboolean
pd_api_member_int (PdApiRequest *req,
                   JsonObject *object,
                   const char *name,
                   PdApiMemberFlags flags,
                   gint64 *out,
                   gboolean *out_present)
{
  JsonNode *node;

  if (out_present != NULL)
    *out_present = FALSE;
  if (!member_lookup (req, object, name, flags, "an integer", &node))
    return FALSE;
  if (node == NULL)
    return TRUE;
  if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_INT64)
    return wrong_type (req, name, "an integer");
  *out = json_node_get_int (node);
  if (out_present != NULL)
    *out_present = TRUE;
  return TRUE;
}

gboolean
pd_api_member_time (PdApiRequest *req,
                    JsonObject *object,
                    const char *name,
                    PdApiMemberFlags flags,
                    gint64 *out,
                    gboolean *out_present)
{
  const char *text = NULL;
  gboolean present = FALSE;
  gint64 value;

  if (out_present != NULL)
    *out_present = FALSE;
  if (!pd_api_member_string (req, object, name, flags, &text, &present))
    return FALSE;
  if (!present)
    {
      /* An explicit null clears the time. */
      if ((flags & PD_API_MEMBER_NULLABLE) && json_object_has_member (object, name))
        {
          *out = 0;
          if (out_present != NULL)
            *out_present = TRUE;
        }
      return TRUE;
    }
  if (!postern_json_parse_time (text, &value, NULL))
    return wrong_type (req, name, "an ISO 8601 UTC time such as 2026-11-28T10:47:33Z");
  *out = value;
  if (out_present != NULL)
    *out_present = TRUE;
  return TRUE;
}

gboolean
pd_api_member_string_array (PdApiRequest *req,
                            JsonObject *object,
                            const char *name,
                            PdApiMemberFlags flags,
                            GPtrArray **out,
                            gboolean *out_present)
{
  JsonNode *node;
  JsonArray *array;
  g_autoptr (GPtrArray) strings = NULL;

  if (out_present != NULL)
    *out_present = FALSE;
  if (!member_lookup (req, object, name, flags, "an array of strings", &node))
    return FALSE;
  if (node == NULL)
    return TRUE;
  if (!JSON_NODE_HOLDS_ARRAY (node))
    return wrong_type (req, name, "an array of strings");
  array = json_node_get_array (node);
  strings = g_ptr_array_new_with_free_func (g_free);
  for (guint i = 0; i < json_array_get_length (array); i++)
    {
      JsonNode *element = json_array_get_element (array, i);

      if (!JSON_NODE_HOLDS_VALUE (element) || json_node_get_value_type (element) != G_TYPE_STRING || !g_utf8_validate (json_node_get_string (element), -1, NULL))
        return wrong_type (req, name, "an array of strings");
      g_ptr_array_add (strings, g_strdup (json_node_get_string (element)));
    }
  *out = g_steal_pointer (&strings);
  if (out_present != NULL)
    *out_present = TRUE;
  return TRUE;
}

const char *
pd_api_query (PdApiRequest *req,
              const char *name)
{
  if (req->query == NULL)
    return NULL;
  return g_hash_table_lookup (req->query, name);
}

gboolean
pd_api_query_int (PdApiRequest *req,
                  const char *name,
                  gint64 min,
                  gint64 max,
                  gint64 default_value,
                  gint64 *out)
{
  const char *text = pd_api_query (req, name);

  *out = default_value;
  if (text == NULL)
    return TRUE;
  if (!g_ascii_string_to_signed (text, 10, min, max, out, NULL))
    {
      pd_api_reply_problem (req, SOUP_STATUS_BAD_REQUEST, "invalid-field", "Invalid field", name,
                            "%s: expected an integer from %" G_GINT64_FORMAT " to %" G_GINT64_FORMAT,
                            name, min, max);
      return FALSE;
    }
  return TRUE;
}

PosternChannel *
pd_api_lookup_channel (PdApiRequest *req,
                       const char *id)
{
  g_autoptr (GError) error = NULL;
  PosternChannel *channel;

  if (!postern_uuid_is_valid (id))
    {
      pd_api_reply_not_found (req);
      return NULL;
    }
  channel = pd_store_get_channel (req->server->store, req->user_id, id, &error);
  if (channel == NULL)
    {
      if (error == NULL || g_error_matches (error, PD_STORE_ERROR, PD_STORE_ERROR_NOT_FOUND))
        pd_api_reply_not_found (req);
      else
        pd_api_reply_error (req, error);
      return NULL;
    }
  return channel;
}

/* ---- authentication and slowing down ---- */

static gint64
monotonic_seconds (void)
{
  return g_get_monotonic_time () / G_USEC_PER_SEC;
}

static const char *
client_key (SoupServerMessage *msg)
{
  const char *host = soup_server_message_get_remote_host (msg);

  return host != NULL ? host : "unknown";
}

static FailureRecord *
failure_record (PdApiServer *self,
                const char *key)
{
  FailureRecord *record = g_hash_table_lookup (self->failures, key);

  if (record != NULL && monotonic_seconds () - record->last_failure > PD_API_AUTH_FAILURE_WINDOW)
    {
      g_hash_table_remove (self->failures, key);
      record = NULL;
    }
  return record;
}

static void
sweep_failures (PdApiServer *self)
{
  GHashTableIter iter;
  FailureRecord *record;
  gint64 now = monotonic_seconds ();

  g_hash_table_iter_init (&iter, self->failures);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *)&record))
    if (now - record->last_failure > PD_API_AUTH_FAILURE_WINDOW)
      g_hash_table_iter_remove (&iter);
}

/* Counts one failure; returns the delay in ms before answering it. */
static guint
record_failure (PdApiServer *self,
                const char *key)
{
  FailureRecord *record = failure_record (self, key);
  guint over;
  guint64 delay;

  if (record == NULL)
    {
      if (g_hash_table_size (self->failures) >= PD_API_MAX_TRACKED_CLIENTS)
        sweep_failures (self);
      /* Still full: every slot holds a recent attacker; slowing the next
       * one is not worth evicting those. */
      if (g_hash_table_size (self->failures) >= PD_API_MAX_TRACKED_CLIENTS)
        return self->options->auth_failure_delay_ms;
      record = g_new0 (FailureRecord, 1);
      g_hash_table_insert (self->failures, g_strdup (key), record);
    }
  record->count++;
  record->last_failure = monotonic_seconds ();

  if (record->count <= self->options->auth_failures_before_delay)
    return 0;
  over = MIN (record->count - self->options->auth_failures_before_delay - 1, 16);
  delay = (guint64)self->options->auth_failure_delay_ms << over;
  return (guint)MIN (delay, PD_API_AUTH_FAILURE_MAX_DELAY_MS);
}

static gboolean
client_is_refused (PdApiServer *self,
                   const char *key)
{
  FailureRecord *record = failure_record (self, key);

  return record != NULL && record->count >= self->options->auth_failures_before_refusing;
}

static gboolean
unpause_cb (gpointer data)
{
  SoupServerMessage *msg = data;

  soup_server_message_unpause (msg);
  return G_SOURCE_REMOVE;
}

/* Replies 401 (or 429) to an authentication failure, after the delay the
 * client's failures have earned. */
static void
reply_auth_failure (PdApiServer *self,
                    SoupServerMessage *msg,
                    const char *slug,
                    const char *title,
                    const char *detail,
                    gboolean may_delay)
{
  guint delay = record_failure (self, client_key (msg));

  g_message ("API: authentication failure from %s (%s)", client_key (msg), slug);
  pd_api_reply_problem_msg (msg, SOUP_STATUS_UNAUTHORIZED, slug, title, NULL, detail);
  soup_message_headers_replace (soup_server_message_get_response_headers (msg),
                                "WWW-Authenticate", "Bearer realm=\"posternd\"");
  if (delay > 0 && may_delay)
    {
      g_autoptr (GSource) source = g_timeout_source_new (delay);

      soup_server_message_pause (msg);
      g_source_set_callback (source, unpause_cb, g_object_ref (msg), g_object_unref);
      g_source_attach (source, g_main_context_get_thread_default ());
    }
}

static void
reply_refused (SoupServerMessage *msg)
{
  pd_api_reply_problem_msg (msg, 429 /* Too Many Requests */, "too-many-failures",
                            "Too many failed attempts", NULL,
                            "Too many failed authentication attempts from this address; try again later");
  soup_message_headers_replace (soup_server_message_get_response_headers (msg), "Retry-After", "900");
}

gboolean
pd_api_client_refused (PdApiRequest *req)
{
  if (!client_is_refused (req->server, client_key (req->msg)))
    return FALSE;
  reply_refused (req->msg);
  return TRUE;
}

void
pd_api_reply_auth_failure (PdApiRequest *req,
                           const char *slug,
                           const char *title,
                           const char *detail)
{
  reply_auth_failure (req->server, req->msg, slug, title, detail, TRUE);
}

/* TRUE with the user and device set; FALSE after replying. */
static gboolean
authenticate (PdApiServer *self,
              SoupServerMessage *msg,
              gboolean may_delay,
              gint64 *out_user_id,
              gint64 *out_device_id)
{
  SoupMessageHeaders *headers = soup_server_message_get_request_headers (msg);
  const char *authorization = soup_message_headers_get_one (headers, "Authorization");
  g_autoptr (GError) error = NULL;

  if (client_is_refused (self, client_key (msg)))
    {
      reply_refused (msg);
      return FALSE;
    }
  if (authorization == NULL)
    {
      reply_auth_failure (self, msg, "unauthorized", "Authentication required",
                          "Send the device token as Authorization: Bearer TOKEN", may_delay);
      return FALSE;
    }
  if (g_ascii_strncasecmp (authorization, "Bearer ", 7) != 0 || !pd_store_auth_authenticate (self->auth, authorization + 7, pd_api_server_now (self), out_user_id, out_device_id, &error))
    {
      if (error != NULL && !g_error_matches (error, PD_STORE_ERROR, PD_STORE_ERROR_NOT_FOUND))
        {
          g_warning ("API: cannot check a token: %s", error->message);
          pd_api_reply_problem_msg (msg, SOUP_STATUS_INTERNAL_SERVER_ERROR, "internal",
                                    "Internal error", NULL, "The server could not check the token");
          return FALSE;
        }
      reply_auth_failure (self, msg, "unauthorized", "Authentication required",
                          "The token is unknown or revoked", may_delay);
      return FALSE;
    }
  return TRUE;
}

/* ---- routing ---- */

typedef struct
{
  const char *method;
  const char *pattern; /* segments below /api/v1/, '*' matches one */
  gboolean needs_auth;
  PdApiHandler handler;
} Route;

static const Route routes[] = {
  { "GET", "health", FALSE, pd_api_health },
  { "POST", "pair", FALSE, pd_api_pair },
  { "GET", "account", TRUE, pd_api_account },
  { "GET", "devices", TRUE, pd_api_devices_list },
  { "DELETE", "devices/*", TRUE, pd_api_devices_revoke },
  { "GET", "channels", TRUE, pd_api_channels_list },
  { "POST", "channels", TRUE, pd_api_channels_create },
  { "GET", "channels/*", TRUE, pd_api_channels_get },
  { "PATCH", "channels/*", TRUE, pd_api_channels_patch },
  { "DELETE", "channels/*", TRUE, pd_api_channels_delete },
  { "POST", "channels/*/revoke", TRUE, pd_api_channels_revoke },
  { "POST", "channels/*/senders", TRUE, pd_api_channels_add_sender },
  { "DELETE", "channels/*/senders/*", TRUE, pd_api_channels_remove_sender },
  { "GET", "channels/*/shares", TRUE, pd_api_channels_list_shares },
  { "POST", "channels/*/shares", TRUE, pd_api_channels_add_share },
  { "GET", "channels/*/timeline", TRUE, pd_api_channels_timeline },
  { "GET", "blocks", TRUE, pd_api_blocks_list },
  { "POST", "blocks", TRUE, pd_api_blocks_add },
  { "DELETE", "blocks/*", TRUE, pd_api_blocks_remove },
  { "GET", "events", TRUE, pd_api_events_list },
  { "GET", "held", TRUE, pd_api_held_list },
  { "POST", "held/*/release", TRUE, pd_api_held_release },
  { "POST", "held/*/drop", TRUE, pd_api_held_drop },
};

static gboolean
route_matches_path (const Route *route,
                    char **segments)
{
  g_auto (GStrv) parts = g_strsplit (route->pattern, "/", -1);
  guint n = g_strv_length (parts);

  if (n != g_strv_length (segments))
    return FALSE;
  for (guint i = 0; i < n; i++)
    if (g_strcmp0 (parts[i], "*") != 0 && g_strcmp0 (parts[i], segments[i]) != 0)
      return FALSE;
  return TRUE;
}

/* Splits the raw path below /api/v1/ into decoded segments; NULL when it
 * is not under the prefix or a segment does not decode to clean UTF-8. */
static char **
split_path (const char *raw_path)
{
  g_autoptr (GStrvBuilder) builder = g_strv_builder_new ();
  g_auto (GStrv) raw = NULL;
  const char *rest;

  if (!g_str_has_prefix (raw_path, API_PREFIX "/"))
    return NULL;
  rest = raw_path + strlen (API_PREFIX "/");
  raw = g_strsplit (rest, "/", 16);
  for (guint i = 0; raw[i] != NULL; i++)
    {
      g_autofree char *decoded = g_uri_unescape_string (raw[i], NULL);

      /* A trailing slash names the same resource. */
      if (raw[i][0] == '\0' && raw[i + 1] == NULL && i > 0)
        break;
      if (decoded == NULL || decoded[0] == '\0' || !g_utf8_validate (decoded, -1, NULL))
        return NULL;
      for (const char *p = decoded; *p != '\0'; p++)
        if ((guchar)*p < 0x20 || *p == 0x7f)
          return NULL;
      g_strv_builder_add (builder, decoded);
    }
  return g_strv_builder_end (builder);
}

static void
api_handler_cb (SoupServer *server,
                SoupServerMessage *msg,
                const char *path,
                GHashTable *query,
                gpointer user_data)
{
  PdApiServer *self = PD_API_SERVER (user_data);
  const char *method = soup_server_message_get_method (msg);
  g_auto (GStrv) segments = NULL;
  const Route *route = NULL;
  g_autoptr (GString) allowed = g_string_new (NULL);
  PdApiRequest req = { 0 };

  /* No keep-alive: libsoup 3.2 keeps every keep-alive connection that its
   * client closes between requests (about 24 KB with TLS, and until the
   * guard closes it, its descriptor). A connection it closes itself after
   * the response is freed. */
  soup_message_headers_replace (soup_server_message_get_response_headers (msg), "Connection", "close");

  req.server = self;
  req.msg = msg;
  req.method = method;
  req.query = query;
  req.now = pd_api_server_now (self);

  segments = split_path (path);
  if (segments == NULL)
    {
      pd_api_reply_not_found (&req);
      return;
    }
  req.segments = segments;

  for (gsize i = 0; i < G_N_ELEMENTS (routes); i++)
    {
      if (!route_matches_path (&routes[i], segments))
        continue;
      if (g_strcmp0 (routes[i].method, method) == 0)
        {
          route = &routes[i];
          break;
        }
      g_string_append_printf (allowed, "%s%s", allowed->len ? ", " : "", routes[i].method);
    }

  if (route == NULL && allowed->len > 0)
    {
      pd_api_reply_problem (&req, SOUP_STATUS_METHOD_NOT_ALLOWED, "method-not-allowed",
                            "Method not allowed", NULL, "Allowed: %s", allowed->str);
      soup_message_headers_replace (soup_server_message_get_response_headers (msg), "Allow", allowed->str);
      return;
    }
  if (route == NULL)
    {
      pd_api_reply_not_found (&req);
      return;
    }

  if (route->needs_auth && !authenticate (self, msg, TRUE, &req.user_id, &req.device_id))
    return;

  route->handler (&req);
  g_debug ("API %s %s -> %u", method, path, soup_server_message_get_status (msg));
}

/* Before the body is read: refuse what is too large, and bodies without a
 * length (chunked), whose size is only known after reading them. */
static void
early_handler_cb (SoupServer *server,
                  SoupServerMessage *msg,
                  const char *path,
                  GHashTable *query,
                  gpointer user_data)
{
  PdApiServer *self = PD_API_SERVER (user_data);
  SoupMessageHeaders *headers = soup_server_message_get_request_headers (msg);
  SoupEncoding encoding = soup_message_headers_get_encoding (headers);

  if (encoding == SOUP_ENCODING_CONTENT_LENGTH && (guint64)soup_message_headers_get_content_length (headers) > self->options->max_body)
    {
      g_autofree char *detail = g_strdup_printf ("The limit is %" G_GSIZE_FORMAT " octets", self->options->max_body);

      pd_api_reply_problem_msg (msg, SOUP_STATUS_REQUEST_ENTITY_TOO_LARGE, "body-too-large",
                                "Request body too large", NULL, detail);
      soup_message_headers_replace (soup_server_message_get_response_headers (msg), "Connection", "close");
    }
  else if (encoding == SOUP_ENCODING_CHUNKED || encoding == SOUP_ENCODING_EOF)
    {
      pd_api_reply_problem_msg (msg, SOUP_STATUS_LENGTH_REQUIRED, "length-required",
                                "Length required", NULL, "Send request bodies with Content-Length");
      soup_message_headers_replace (soup_server_message_get_response_headers (msg), "Connection", "close");
    }
}

/* /api/v1/live before the WebSocket handshake: authentication and limits.
 * Setting a status here stops the upgrade. */
static void
live_handler_cb (SoupServer *server,
                 SoupServerMessage *msg,
                 const char *path,
                 GHashTable *query,
                 gpointer user_data)
{
  PdApiServer *self = PD_API_SERVER (user_data);
  gint64 user_id = 0, device_id = 0;
  gint64 cursor = 0, revision = 0;
  const char *text;

  /* Refusals close the connection (see api_handler_cb); an accepted
   * upgrade sets its own Connection header. */
  soup_message_headers_replace (soup_server_message_get_response_headers (msg), "Connection", "close");
  if (g_strcmp0 (soup_server_message_get_method (msg), "GET") != 0)
    {
      pd_api_reply_problem_msg (msg, SOUP_STATUS_METHOD_NOT_ALLOWED, "method-not-allowed",
                                "Method not allowed", NULL, "Allowed: GET");
      soup_message_headers_replace (soup_server_message_get_response_headers (msg), "Allow", "GET");
      return;
    }
  /* No delay here: the handshake cannot wait; past the refusal threshold
   * the address gets 429 like everywhere else. */
  if (!authenticate (self, msg, FALSE, &user_id, &device_id))
    return;

  text = query != NULL ? g_hash_table_lookup (query, "cursor") : NULL;
  if (text != NULL && !g_ascii_string_to_signed (text, 10, 0, G_MAXINT64, &cursor, NULL))
    {
      pd_api_reply_problem_msg (msg, SOUP_STATUS_BAD_REQUEST, "invalid-field", "Invalid field",
                                "cursor", "cursor: expected a non-negative integer");
      return;
    }
  text = query != NULL ? g_hash_table_lookup (query, "revision") : NULL;
  if (text != NULL && !g_ascii_string_to_signed (text, 10, 0, G_MAXINT64, &revision, NULL))
    {
      pd_api_reply_problem_msg (msg, SOUP_STATUS_BAD_REQUEST, "invalid-field", "Invalid field",
                                "revision", "revision: expected a non-negative integer");
      return;
    }
  if (!pd_live_can_add (self->live, user_id))
    {
      pd_api_reply_problem_msg (msg, SOUP_STATUS_SERVICE_UNAVAILABLE, "too-many-subscribers",
                                "Too many live connections", NULL,
                                "Close another live connection of this account first");
      return;
    }

  soup_message_headers_remove (soup_server_message_get_response_headers (msg), "Connection");
  g_object_set_data_full (G_OBJECT (msg), "pd-live-ids",
                          g_memdup2 ((gint64[]){ user_id, device_id, cursor, revision }, 4 * sizeof (gint64)),
                          g_free);
}

static void
live_websocket_cb (SoupServer *server,
                   SoupServerMessage *msg,
                   const char *path,
                   SoupWebsocketConnection *connection,
                   gpointer user_data)
{
  PdApiServer *self = PD_API_SERVER (user_data);
  const gint64 *ids = g_object_get_data (G_OBJECT (msg), "pd-live-ids");

  if (ids == NULL)
    {
      soup_websocket_connection_close (connection, SOUP_WEBSOCKET_CLOSE_POLICY_VIOLATION, NULL);
      return;
    }
  pd_live_add (self->live, connection, ids[0], ids[1], ids[2], ids[3]);
}

/* ---- object ---- */

static void
pd_api_server_dispose (GObject *object)
{
  PdApiServer *self = PD_API_SERVER (object);

  pd_api_server_stop (self);
  g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->live);
  g_clear_object (&self->guard);
  g_clear_object (&self->soup);

  G_OBJECT_CLASS (pd_api_server_parent_class)->dispose (object);
}

static void
pd_api_server_finalize (GObject *object)
{
  PdApiServer *self = PD_API_SERVER (object);

  g_clear_object (&self->store);
  g_clear_object (&self->auth);
  g_clear_object (&self->cancellable);
  g_clear_pointer (&self->options, pd_api_options_free);
  g_clear_pointer (&self->failures, g_hash_table_unref);
  g_clear_pointer (&self->list_cache, g_hash_table_unref);
  g_free (self->fingerprint);

  G_OBJECT_CLASS (pd_api_server_parent_class)->finalize (object);
}

static void
pd_api_server_class_init (PdApiServerClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = pd_api_server_dispose;
  object_class->finalize = pd_api_server_finalize;
}

static void
pd_api_server_init (PdApiServer *self)
{
  self->failures = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  self->list_cache = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, list_cache_entry_free);
  self->cancellable = g_cancellable_new ();
}

PdApiServer *
pd_api_server_new (PdStore *store,
                   PdStoreAuth *auth,
                   const PdApiOptions *options)
{
  PdApiServer *self;

  g_return_val_if_fail (PD_IS_STORE (store), NULL);
  g_return_val_if_fail (PD_IS_STORE_AUTH (auth), NULL);
  g_return_val_if_fail (options != NULL, NULL);

  self = g_object_new (PD_TYPE_API_SERVER, NULL);
  self->store = g_object_ref (store);
  self->auth = g_object_ref (auth);
  self->options = pd_api_options_copy (options);
  self->live = pd_live_new (store, auth, options->live_ping_interval);
  if (options->certificate != NULL)
    self->fingerprint = pd_tls_fingerprint (options->certificate);
  return self;
}

static GSocketAddress *
parse_listen (const char *listen,
              GError **error)
{
  g_autoptr (GSocketConnectable) connectable = NULL;
  g_autoptr (GInetAddress) address = NULL;
  const char *host;
  guint16 port;

  connectable = g_network_address_parse (listen, PD_API_DEFAULT_PORT, error);
  if (connectable == NULL)
    {
      g_prefix_error (error, "[api] listen: ");
      return NULL;
    }
  host = g_network_address_get_hostname (G_NETWORK_ADDRESS (connectable));
  port = g_network_address_get_port (G_NETWORK_ADDRESS (connectable));
  address = g_inet_address_new_from_string (host);
  if (address == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   "[api] listen: %s is not an IP address", host);
      return NULL;
    }
  return g_inet_socket_address_new (address, port);
}

gboolean
pd_api_server_listen (PdApiServer *self,
                      GError **error)
{
  g_autoptr (GSocketAddress) address = NULL;
  g_autofree char *server_header = g_strdup_printf ("posternd/%s", PACKAGE_VERSION);
  g_autofree char *url = NULL;
  SoupServerListenOptions listen_options = 0;

  g_return_val_if_fail (PD_IS_API_SERVER (self), FALSE);
  g_return_val_if_fail (self->soup == NULL, FALSE);

  address = parse_listen (self->options->listen, error);
  if (address == NULL)
    return FALSE;

  if (self->options->allow_plain_http && !g_inet_address_get_is_loopback (g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (address))))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   "[api] allow_plain_http needs a loopback listen address, not %s",
                   self->options->listen);
      return FALSE;
    }
  if (!self->options->allow_plain_http && self->options->certificate == NULL)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                           "The API needs a TLS certificate");
      return FALSE;
    }

  if (self->options->allow_plain_http)
    self->soup = soup_server_new ("server-header", server_header, "raw-paths", TRUE, NULL);
  else
    {
      self->soup = soup_server_new ("server-header", server_header, "raw-paths", TRUE,
                                    "tls-certificate", self->options->certificate, NULL);
      listen_options |= SOUP_SERVER_LISTEN_HTTPS;
    }
  self->guard = pd_api_guard_new (self->soup, self->options->max_connections,
                                  self->options->max_connections_per_client,
                                  self->options->request_header_timeout);
  soup_server_add_early_handler (self->soup, API_PREFIX, early_handler_cb, self, NULL);
  soup_server_add_handler (self->soup, API_PREFIX, api_handler_cb, self, NULL);
  soup_server_add_early_handler (self->soup, API_PREFIX "/live", early_handler_cb, self, NULL);
  soup_server_add_handler (self->soup, API_PREFIX "/live", live_handler_cb, self, NULL);
  soup_server_add_websocket_handler (self->soup, API_PREFIX "/live", NULL, NULL,
                                     live_websocket_cb, self, NULL);

  if (!soup_server_listen (self->soup, address, listen_options, error))
    {
      g_clear_object (&self->guard);
      g_clear_object (&self->soup);
      return FALSE;
    }

  url = pd_api_server_get_url (self);
  g_message ("API listening on %s%s%s", url,
             self->fingerprint ? ", certificate SHA-256 " : " (plain HTTP, loopback only)",
             self->fingerprint ? self->fingerprint : "");
  return TRUE;
}

void
pd_api_server_stop (PdApiServer *self)
{
  g_return_if_fail (PD_IS_API_SERVER (self));

  if (self->live != NULL)
    pd_live_close_all (self->live);
  if (self->soup != NULL)
    soup_server_disconnect (self->soup);
}

char *
pd_api_server_get_url (PdApiServer *self)
{
  g_autoslist (GUri) uris = NULL;
  const char *host;

  g_return_val_if_fail (PD_IS_API_SERVER (self), NULL);

  if (self->soup == NULL)
    return NULL;
  uris = soup_server_get_uris (self->soup);
  if (uris == NULL)
    return NULL;
  host = g_uri_get_host (uris->data);
  return g_strdup_printf ("%s://%s%s%s:%d", g_uri_get_scheme (uris->data), strchr (host, ':') ? "[" : "",
                          host, strchr (host, ':') ? "]" : "", g_uri_get_port (uris->data));
}

guint
pd_api_server_get_n_connections (PdApiServer *self)
{
  g_return_val_if_fail (PD_IS_API_SERVER (self), 0);

  return self->guard ? pd_api_guard_get_n_connections (self->guard) : 0;
}

const char *
pd_api_server_get_fingerprint (PdApiServer *self)
{
  g_return_val_if_fail (PD_IS_API_SERVER (self), NULL);
  return self->fingerprint;
}

void
pd_api_server_set_clock (PdApiServer *self,
                         PdApiClockFunc func,
                         gpointer user_data)
{
  g_return_if_fail (PD_IS_API_SERVER (self));
  self->clock = func;
  self->clock_data = user_data;
}

gint64
pd_api_server_now (PdApiServer *self)
{
  if (self->clock != NULL)
    return self->clock (self->clock_data);
  return g_get_real_time () / G_USEC_PER_SEC;
}

PdApiServer *
pd_api_server_start (PdConfig *config,
                     PdStore *store,
                     GError **error)
{
  g_autoptr (PdApiOptions) options = NULL;
  g_autoptr (PdStoreAuth) auth = NULL;
  g_autoptr (PdApiServer) self = NULL;

  g_return_val_if_fail (config != NULL, NULL);
  g_return_val_if_fail (PD_IS_STORE (store), NULL);

  options = pd_api_options_new_from_keyfile (config->keyfile, config->state_dir,
                                             (const char *const *)config->domains,
                                             config->hostname, error);
  if (options == NULL)
    return NULL;
  auth = pd_store_auth_open (config->state_dir, error);
  if (auth == NULL)
    return NULL;
  self = pd_api_server_new (store, auth, options);
  if (!pd_api_server_listen (self, error))
    return NULL;
  return g_steal_pointer (&self);
}

PdStore *
pd_api_server_get_store (PdApiServer *self)
{
  return self->store;
}

PdStoreAuth *
pd_api_server_get_auth (PdApiServer *self)
{
  return self->auth;
}

PdLive *
pd_api_server_get_live (PdApiServer *self)
{
  return self->live;
}

const PdApiOptions *
pd_api_server_get_options (PdApiServer *self)
{
  return self->options;
}

guint
pd_api_server_get_n_live (PdApiServer *self)
{
  return pd_live_get_n_subscribers (self->live);
}
