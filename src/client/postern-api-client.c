/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <string.h>

#include "postern-api-client.h"
#include "postern-client-error.h"
#include "postern-fingerprint.h"

#define READ_CHUNK           (64 * 1024)
#define PRESENTED_FP_KEY     "postern-presented-fingerprint"
#define TOKEN_HEX_LENGTH     64
#define MAX_PAIR_CODE_LENGTH 128
#define MAX_DEVICE_NAME      100 /* characters (docs/api.md) */

struct _PosternApiClient
{
  GObject parent_instance;

  char *base_url;
  char *host;
  char *fingerprint;
  char *token;
  char *user_agent;
  gboolean plain_http;

  SoupSession *session;
};

enum
{
  PROP_0,
  PROP_BASE_URL,
  PROP_FINGERPRINT,
  PROP_TOKEN,
  PROP_USER_AGENT,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

G_DEFINE_FINAL_TYPE (PosternApiClient, postern_api_client, G_TYPE_OBJECT)

/* ---- base URL ------------------------------------------------------------- */

static gboolean
host_is_loopback (const char *host)
{
  g_autoptr (GInetAddress) address = NULL;

  if (g_ascii_strcasecmp (host, "localhost") == 0)
    return TRUE;

  address = g_inet_address_new_from_string (host);
  return address != NULL && g_inet_address_get_is_loopback (address);
}

/* Validates @base_url; returns the normalised form (no trailing '/'). */
static char *
normalize_base_url (const char *base_url,
                    char **out_host,
                    gboolean *out_plain,
                    GError **error)
{
  g_autoptr (GUri) uri = NULL;
  const char *scheme;
  const char *host;
  const char *path;
  g_autofree char *text = NULL;
  gsize len;

  if (base_url == NULL || !g_utf8_validate (base_url, -1, NULL) || strlen (base_url) > 2048)
    {
      g_set_error_literal (error, POSTERN_CLIENT_ERROR, POSTERN_CLIENT_ERROR_INVALID,
                           "The server address is not a URL");
      return NULL;
    }

  uri = g_uri_parse (base_url, G_URI_FLAGS_NONE, NULL);
  if (uri == NULL)
    {
      g_set_error (error, POSTERN_CLIENT_ERROR, POSTERN_CLIENT_ERROR_INVALID,
                   "“%s” is not a URL (expected https://host[:port])", base_url);
      return NULL;
    }

  scheme = g_uri_get_scheme (uri);
  host = g_uri_get_host (uri);
  path = g_uri_get_path (uri);
  if (host == NULL || *host == '\0' || g_uri_get_query (uri) != NULL || g_uri_get_fragment (uri) != NULL || g_uri_get_userinfo (uri) != NULL)
    {
      g_set_error (error, POSTERN_CLIENT_ERROR, POSTERN_CLIENT_ERROR_INVALID,
                   "“%s” is not a server address (expected https://host[:port])", base_url);
      return NULL;
    }

  if (g_ascii_strcasecmp (scheme, "https") == 0)
    *out_plain = FALSE;
  else if (g_ascii_strcasecmp (scheme, "http") == 0 && host_is_loopback (host))
    *out_plain = TRUE;
  else
    {
      g_set_error (error, POSTERN_CLIENT_ERROR, POSTERN_CLIENT_ERROR_INVALID,
                   "The server address must start with https:// (plain http only on this computer's loopback)");
      return NULL;
    }

  text = g_uri_to_string (uri);
  len = strlen (text);
  while (len > 0 && text[len - 1] == '/')
    text[--len] = '\0';
  (void)path;

  *out_host = g_strdup (host);
  return g_steal_pointer (&text);
}

/* ---- certificate pinning -------------------------------------------------- */

static gboolean
accept_certificate_cb (SoupMessage *message,
                       GTlsCertificate *certificate,
                       GTlsCertificateFlags errors,
                       gpointer user_data)
{
  PosternApiClient *self = user_data;
  g_autofree char *presented = postern_fingerprint_for_certificate (certificate);

  if (self->fingerprint != NULL && presented != NULL && strcmp (presented, self->fingerprint) == 0)
    return TRUE;

  g_object_set_data_full (G_OBJECT (message), PRESENTED_FP_KEY,
                          g_strdup (presented != NULL ? presented : "?"), g_free);
  return FALSE;
}

static void
update_tls_database (PosternApiClient *self)
{
  if (self->session == NULL)
    return;

  /* With a pin, no CA store: every handshake then reaches the message's
   * accept-certificate handler, which compares fingerprints. Without one,
   * the system's CAs decide. */
  if (self->fingerprint != NULL)
    soup_session_set_tls_database (self->session, NULL);
  else
    {
      GTlsBackend *backend = g_tls_backend_get_default ();
      g_autoptr (GTlsDatabase) database = g_tls_backend_get_default_database (backend);

      soup_session_set_tls_database (self->session, database);
    }
}

/* ---- construction and properties ---------------------------------------- */

PosternApiClient *
postern_api_client_new (const char *base_url,
                        const char *fingerprint,
                        const char *token,
                        GError **error)
{
  g_autofree char *normalized = NULL;
  g_autofree char *canonical_fp = NULL;
  g_autofree char *host = NULL;
  gboolean plain = FALSE;
  PosternApiClient *self;

  normalized = normalize_base_url (base_url, &host, &plain, error);
  if (normalized == NULL)
    return NULL;

  if (fingerprint != NULL && *fingerprint != '\0')
    {
      canonical_fp = postern_fingerprint_normalize (fingerprint, error);
      if (canonical_fp == NULL)
        return NULL;
    }

  self = g_object_new (POSTERN_TYPE_API_CLIENT,
                       "base-url", normalized,
                       "token", token,
                       NULL);
  self->plain_http = plain;
  self->host = g_steal_pointer (&host);
  self->fingerprint = g_steal_pointer (&canonical_fp);
  update_tls_database (self);

  return self;
}

const char *
postern_api_client_get_base_url (PosternApiClient *self)
{
  g_return_val_if_fail (POSTERN_IS_API_CLIENT (self), NULL);
  return self->base_url;
}

const char *
postern_api_client_get_fingerprint (PosternApiClient *self)
{
  g_return_val_if_fail (POSTERN_IS_API_CLIENT (self), NULL);
  return self->fingerprint;
}

gboolean
postern_api_client_set_fingerprint (PosternApiClient *self,
                                    const char *fingerprint,
                                    GError **error)
{
  g_autofree char *canonical = NULL;

  g_return_val_if_fail (POSTERN_IS_API_CLIENT (self), FALSE);

  if (fingerprint != NULL && *fingerprint != '\0')
    {
      canonical = postern_fingerprint_normalize (fingerprint, error);
      if (canonical == NULL)
        return FALSE;
    }

  if (g_strcmp0 (canonical, self->fingerprint) == 0)
    return TRUE;

  g_free (self->fingerprint);
  self->fingerprint = g_steal_pointer (&canonical);
  update_tls_database (self);
  /* Connections made under the old pin must not be reused. */
  soup_session_abort (self->session);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_FINGERPRINT]);
  return TRUE;
}

const char *
postern_api_client_get_token (PosternApiClient *self)
{
  g_return_val_if_fail (POSTERN_IS_API_CLIENT (self), NULL);
  return self->token;
}

void
postern_api_client_set_token (PosternApiClient *self,
                              const char *token)
{
  g_return_if_fail (POSTERN_IS_API_CLIENT (self));

  if (token != NULL && *token == '\0')
    token = NULL;
  if (g_strcmp0 (token, self->token) == 0)
    return;

  g_free (self->token);
  self->token = g_strdup (token);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_TOKEN]);
}

gboolean
postern_api_client_has_token (PosternApiClient *self)
{
  g_return_val_if_fail (POSTERN_IS_API_CLIENT (self), FALSE);
  return self->token != NULL;
}

SoupSession *
postern_api_client_get_session (PosternApiClient *self)
{
  g_return_val_if_fail (POSTERN_IS_API_CLIENT (self), NULL);
  return self->session;
}

SoupMessage *
postern_api_client_new_message (PosternApiClient *self,
                                const char *method,
                                const char *path)
{
  g_autofree char *url = NULL;
  SoupMessage *message;
  SoupMessageHeaders *headers;

  g_return_val_if_fail (POSTERN_IS_API_CLIENT (self), NULL);
  g_return_val_if_fail (method != NULL, NULL);
  g_return_val_if_fail (path != NULL && path[0] == '/', NULL);

  url = g_strconcat (self->base_url, path, NULL);
  message = soup_message_new (method, url);
  g_return_val_if_fail (message != NULL, NULL);

  g_signal_connect_object (message, "accept-certificate",
                           G_CALLBACK (accept_certificate_cb), self, 0);

  headers = soup_message_get_request_headers (message);
  soup_message_headers_replace (headers, "Accept", "application/json, application/problem+json");
  if (self->token != NULL)
    {
      g_autofree char *authorization = g_strconcat ("Bearer ", self->token, NULL);
      soup_message_headers_replace (headers, "Authorization", authorization);
    }

  return message;
}

static gboolean
is_network_error (const GError *error)
{
  return error->domain == G_IO_ERROR || error->domain == G_TLS_ERROR || error->domain == G_RESOLVER_ERROR || error->domain == SOUP_SESSION_ERROR;
}

GError *
postern_api_client_translate_error (PosternApiClient *self,
                                    SoupMessage *message,
                                    const GError *error)
{
  const char *presented = NULL;

  g_return_val_if_fail (POSTERN_IS_API_CLIENT (self), NULL);
  g_return_val_if_fail (error != NULL, NULL);

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED) || error->domain == POSTERN_CLIENT_ERROR)
    return g_error_copy (error);

  if (message != NULL)
    presented = g_object_get_data (G_OBJECT (message), PRESENTED_FP_KEY);

  if (presented != NULL)
    {
      if (self->fingerprint != NULL)
        return g_error_new (POSTERN_CLIENT_ERROR, POSTERN_CLIENT_ERROR_UNTRUSTED,
                            "The server's certificate changed (expected %s, got %s)",
                            self->fingerprint, presented);
      return g_error_new (POSTERN_CLIENT_ERROR, POSTERN_CLIENT_ERROR_UNTRUSTED,
                          "The server's certificate is not trusted (fingerprint %s): "
                          "compare it with the one the server shows and pair again",
                          presented);
    }

  if (is_network_error (error))
    return g_error_new (POSTERN_CLIENT_ERROR, POSTERN_CLIENT_ERROR_OFFLINE,
                        "Could not reach %s: %s", self->host, error->message);

  return g_error_new (POSTERN_CLIENT_ERROR, POSTERN_CLIENT_ERROR_FAILED,
                      "%s", error->message);
}

/* ---- the generic request ---------------------------------------------------- */

typedef struct
{
  SoupMessage *message;
  GInputStream *stream;
  GByteArray *body;
  guint status;
  gint64 etag;
} Request;

static void
request_free (Request *request)
{
  g_clear_object (&request->message);
  g_clear_object (&request->stream);
  g_clear_pointer (&request->body, g_byte_array_unref);
  g_free (request);
}

typedef struct
{
  JsonNode *root;
  guint status;
  gint64 etag;
} Response;

static void
response_free (Response *response)
{
  g_clear_pointer (&response->root, json_node_unref);
  g_free (response);
}

static gint64
parse_etag (const char *etag)
{
  gint64 value;
  char *end = NULL;

  if (etag == NULL)
    return 0;
  if (g_str_has_prefix (etag, "W/"))
    etag += 2;
  if (*etag == '"')
    etag++;
  value = g_ascii_strtoll (etag, &end, 10);
  if (end == etag || value < 0 || (*end != '"' && *end != '\0'))
    return 0;
  return value;
}

static gboolean
path_needs_token (const char *path)
{
  return !g_str_equal (path, "/api/v1/health") && !g_str_equal (path, "/api/v1/pair");
}

static void
request_finish_read (GTask *task)
{
  PosternApiClient *self = g_task_get_source_object (task);
  Request *request = g_task_get_task_data (task);
  SoupMessageHeaders *headers = soup_message_get_response_headers (request->message);
  const char *content_type = soup_message_headers_get_one (headers, "Content-Type");
  g_autoptr (GBytes) bytes = g_byte_array_free_to_bytes (g_steal_pointer (&request->body));
  Response *response;

  (void)self;
  request->status = soup_message_get_status (request->message);
  request->etag = parse_etag (soup_message_headers_get_one (headers, "ETag"));

  if (request->status < 200 || request->status >= 300)
    {
      g_task_return_error (task, postern_client_error_from_problem (MAX (request->status, 400),
                                                                    content_type, bytes));
      return;
    }

  response = g_new0 (Response, 1);
  response->status = request->status;
  response->etag = request->etag;

  if (g_bytes_get_size (bytes) > 0)
    {
      g_autoptr (GError) error = NULL;
      gsize len;
      const char *data = g_bytes_get_data (bytes, &len);

      response->root = postern_json_from_string (data, (gssize)len, &error);
      if (response->root == NULL)
        {
          response_free (response);
          g_task_return_new_error (task, POSTERN_CLIENT_ERROR, POSTERN_CLIENT_ERROR_PROTOCOL,
                                   "The server sent an unreadable answer: %s", error->message);
          return;
        }
    }

  g_task_return_pointer (task, response, (GDestroyNotify)response_free);
}

static void request_read_cb (GObject *source,
                             GAsyncResult *result,
                             gpointer user_data);

static void
request_read_more (GTask *task)
{
  Request *request = g_task_get_task_data (task);

  g_input_stream_read_bytes_async (request->stream, READ_CHUNK, G_PRIORITY_DEFAULT,
                                   g_task_get_cancellable (task), request_read_cb, task);
}

static void
request_read_cb (GObject *source,
                 GAsyncResult *result,
                 gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  PosternApiClient *self = g_task_get_source_object (task);
  Request *request = g_task_get_task_data (task);
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) chunk = g_input_stream_read_bytes_finish (G_INPUT_STREAM (source), result, &error);
  gsize len;
  const guint8 *data;

  if (chunk == NULL)
    {
      g_task_return_error (task, postern_api_client_translate_error (self, request->message, error));
      return;
    }

  data = g_bytes_get_data (chunk, &len);
  if (len == 0)
    {
      request_finish_read (task);
      return;
    }

  if (request->body->len + len > POSTERN_API_CLIENT_MAX_BODY)
    {
      g_task_return_new_error (task, POSTERN_CLIENT_ERROR, POSTERN_CLIENT_ERROR_PROTOCOL,
                               "The server's answer is larger than %d MiB",
                               POSTERN_API_CLIENT_MAX_BODY / (1024 * 1024));
      return;
    }

  g_byte_array_append (request->body, data, len);
  request_read_more (g_steal_pointer (&task));
}

static void
request_send_cb (GObject *source,
                 GAsyncResult *result,
                 gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  PosternApiClient *self = g_task_get_source_object (task);
  Request *request = g_task_get_task_data (task);
  g_autoptr (GError) error = NULL;
  goffset length;

  request->stream = soup_session_send_finish (SOUP_SESSION (source), result, &error);
  if (request->stream == NULL)
    {
      g_task_return_error (task, postern_api_client_translate_error (self, request->message, error));
      return;
    }

  length = soup_message_headers_get_content_length (soup_message_get_response_headers (request->message));
  if (length > POSTERN_API_CLIENT_MAX_BODY)
    {
      g_task_return_new_error (task, POSTERN_CLIENT_ERROR, POSTERN_CLIENT_ERROR_PROTOCOL,
                               "The server's answer is larger than %d MiB",
                               POSTERN_API_CLIENT_MAX_BODY / (1024 * 1024));
      return;
    }

  request->body = g_byte_array_new ();
  request_read_more (g_steal_pointer (&task));
}

void
postern_api_client_request_async (PosternApiClient *self,
                                  const char *method,
                                  const char *path,
                                  JsonNode *body,
                                  gint64 if_match,
                                  GCancellable *cancellable,
                                  GAsyncReadyCallback callback,
                                  gpointer user_data)
{
  g_autoptr (GTask) task = NULL;
  Request *request;
  SoupMessageHeaders *headers;

  g_return_if_fail (POSTERN_IS_API_CLIENT (self));
  g_return_if_fail (method != NULL);
  g_return_if_fail (path != NULL && path[0] == '/');

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, postern_api_client_request_async);

  if (self->token == NULL && path_needs_token (path))
    {
      g_task_return_new_error (task, POSTERN_CLIENT_ERROR, POSTERN_CLIENT_ERROR_NOT_PAIRED,
                               "This computer is not paired with a Postern server yet");
      return;
    }

  request = g_new0 (Request, 1);
  request->message = postern_api_client_new_message (self, method, path);
  g_task_set_task_data (task, request, (GDestroyNotify)request_free);

  headers = soup_message_get_request_headers (request->message);
  if (if_match > 0)
    {
      g_autofree char *value = g_strdup_printf ("\"%" G_GINT64_FORMAT "\"", if_match);
      soup_message_headers_replace (headers, "If-Match", value);
    }
  if (body != NULL)
    {
      char *text = postern_json_to_string (body, FALSE);
      g_autoptr (GBytes) bytes = g_bytes_new_take (text, strlen (text));

      soup_message_set_request_body_from_bytes (request->message, "application/json", bytes);
    }

  soup_session_send_async (self->session, request->message, G_PRIORITY_DEFAULT,
                           cancellable, request_send_cb, g_steal_pointer (&task));
}

JsonNode *
postern_api_client_request_finish (PosternApiClient *self,
                                   GAsyncResult *result,
                                   guint *out_status,
                                   gint64 *out_etag_revision,
                                   GError **error)
{
  Response *response;
  JsonNode *root;

  g_return_val_if_fail (g_task_is_valid (result, self), NULL);

  response = g_task_propagate_pointer (G_TASK (result), error);
  if (response == NULL)
    return NULL;

  if (out_status != NULL)
    *out_status = response->status;
  if (out_etag_revision != NULL)
    *out_etag_revision = response->etag;
  root = g_steal_pointer (&response->root);
  response_free (response);
  return root;
}

/* ---- typed calls ------------------------------------------------------------ */

typedef gpointer (*ParseFunc) (JsonNode *root,
                               gint64 etag,
                               GError **error);

/* What a call's answer becomes: @parse turns the body into a value freed
 * with @destroy; a call without @parse only reports success. */
typedef struct
{
  ParseFunc parse;
  GDestroyNotify destroy;
} Reply;

static const Reply reply_none = { NULL, NULL };

typedef struct
{
  const Reply *reply;
  char *refetch_channel_id; /* a call answered by a channel: refetch if the body is not one */
} Call;

static void
call_free (Call *call)
{
  g_free (call->refetch_channel_id);
  g_free (call);
}

static gboolean
protocol_error (GError **error,
                const char *what,
                GError *cause)
{
  if (cause != NULL)
    g_set_error (error, POSTERN_CLIENT_ERROR, POSTERN_CLIENT_ERROR_PROTOCOL,
                 "The server sent an unexpected %s: %s", what, cause->message);
  else
    g_set_error (error, POSTERN_CLIENT_ERROR, POSTERN_CLIENT_ERROR_PROTOCOL,
                 "The server sent an unexpected %s", what);
  g_clear_error (&cause);
  return FALSE;
}

static gboolean
looks_like_channel (JsonNode *root)
{
  JsonObject *object;

  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    return FALSE;
  object = json_node_get_object (root);
  return json_object_has_member (object, "id") && json_object_has_member (object, "address");
}

static gboolean
get_int_member (JsonObject *object,
                const char *name,
                gint64 *out)
{
  JsonNode *node = json_object_get_member (object, name);

  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    {
      *out = 0;
      return TRUE;
    }
  if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_INT64)
    return FALSE;
  *out = json_node_get_int (node);
  return *out >= 0;
}

/* An array either as the root or as the member @name of the root object. */
static JsonArray *
get_array (JsonNode *root,
           const char *name)
{
  JsonNode *member;

  if (root == NULL)
    return NULL;
  if (JSON_NODE_HOLDS_ARRAY (root))
    return json_node_get_array (root);
  if (!JSON_NODE_HOLDS_OBJECT (root))
    return NULL;
  member = json_object_get_member (json_node_get_object (root), name);
  if (member == NULL || !JSON_NODE_HOLDS_ARRAY (member))
    return NULL;
  return json_node_get_array (member);
}

static gpointer
parse_json (JsonNode *root,
            gint64 etag,
            GError **error)
{
  if (root == NULL)
    {
      protocol_error (error, "empty answer", NULL);
      return NULL;
    }
  return json_node_ref (root);
}

static const Reply reply_json = { parse_json, (GDestroyNotify)json_node_unref };

static gpointer
parse_channel (JsonNode *root,
               gint64 etag,
               GError **error)
{
  g_autoptr (GError) local_error = NULL;
  PosternChannel *channel;

  if (root == NULL)
    {
      protocol_error (error, "empty answer", NULL);
      return NULL;
    }

  channel = postern_channel_new_from_json (root, &local_error);
  if (channel == NULL)
    {
      protocol_error (error, "channel", g_steal_pointer (&local_error));
      return NULL;
    }
  if (postern_channel_get_revision (channel) == 0 && etag > 0)
    postern_channel_set_revision (channel, etag);
  return channel;
}

static const Reply reply_channel = { parse_channel, g_object_unref };

/* The array the server sends bare or as the member @name of an object,
 * as a new JSON array node. */
static gpointer
dup_array_node (JsonNode *root,
                const char *name,
                const char *what,
                GError **error)
{
  JsonArray *array = get_array (root, name);
  JsonNode *node;

  if (array == NULL)
    {
      protocol_error (error, what, NULL);
      return NULL;
    }
  node = json_node_new (JSON_NODE_ARRAY);
  json_node_set_array (node, array);
  return node;
}

static gpointer
parse_devices (JsonNode *root,
               gint64 etag,
               GError **error)
{
  return dup_array_node (root, "devices", "device list", error);
}

static const Reply reply_devices = { parse_devices, (GDestroyNotify)json_node_unref };

static gpointer
parse_held (JsonNode *root,
            gint64 etag,
            GError **error)
{
  return dup_array_node (root, "held", "list of held mail", error);
}

static const Reply reply_held = { parse_held, (GDestroyNotify)json_node_unref };

typedef struct
{
  GPtrArray *channels;
  GPtrArray *deleted;
  gint64 revision;
} ChannelList;

static void
channel_list_free (ChannelList *list)
{
  g_clear_pointer (&list->channels, g_ptr_array_unref);
  g_clear_pointer (&list->deleted, g_ptr_array_unref);
  g_free (list);
}

static gpointer
parse_channel_list (JsonNode *root,
                    gint64 etag,
                    GError **error)
{
  g_autoptr (GPtrArray) channels = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr (GPtrArray) deleted = g_ptr_array_new_with_free_func (g_free);
  JsonObject *object;
  JsonArray *array;
  gint64 revision = 0;
  ChannelList *list;

  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    {
      protocol_error (error, "channel list", NULL);
      return NULL;
    }
  object = json_node_get_object (root);

  if (!get_int_member (object, "revision", &revision))
    {
      protocol_error (error, "channel list (revision)", NULL);
      return NULL;
    }

  array = get_array (root, "channels");
  if (array == NULL)
    {
      protocol_error (error, "channel list (channels)", NULL);
      return NULL;
    }
  for (guint i = 0; i < json_array_get_length (array); i++)
    {
      g_autoptr (GError) local_error = NULL;
      PosternChannel *channel = postern_channel_new_from_json (json_array_get_element (array, i), &local_error);

      if (channel == NULL)
        {
          protocol_error (error, "channel", g_steal_pointer (&local_error));
          return NULL;
        }
      revision = MAX (revision, postern_channel_get_revision (channel));
      g_ptr_array_add (channels, channel);
    }

  array = get_array (root, "deleted");
  if (array != NULL)
    for (guint i = 0; i < json_array_get_length (array); i++)
      {
        const char *id = json_array_get_string_element (array, i);

        if (id == NULL || !postern_uuid_is_valid (id))
          {
            protocol_error (error, "channel list (deleted)", NULL);
            return NULL;
          }
        g_ptr_array_add (deleted, g_strdup (id));
      }

  list = g_new0 (ChannelList, 1);
  list->channels = g_steal_pointer (&channels);
  list->deleted = g_steal_pointer (&deleted);
  list->revision = revision;
  return list;
}

static const Reply reply_channel_list = { parse_channel_list, (GDestroyNotify)channel_list_free };

typedef struct
{
  GPtrArray *events;
  gint64 cursor;
} EventList;

static void
event_list_free (EventList *list)
{
  g_clear_pointer (&list->events, g_ptr_array_unref);
  g_free (list);
}

static gpointer
parse_event_list (JsonNode *root,
                  gint64 etag,
                  GError **error)
{
  g_autoptr (GPtrArray) events = g_ptr_array_new_with_free_func (g_object_unref);
  JsonArray *array = get_array (root, "events");
  gint64 cursor = 0;
  gboolean has_cursor = FALSE;
  EventList *list;

  if (array == NULL)
    {
      protocol_error (error, "event list", NULL);
      return NULL;
    }
  if (JSON_NODE_HOLDS_OBJECT (root))
    {
      if (!get_int_member (json_node_get_object (root), "cursor", &cursor))
        {
          protocol_error (error, "event list (cursor)", NULL);
          return NULL;
        }
      has_cursor = json_object_has_member (json_node_get_object (root), "cursor");
    }

  for (guint i = 0; i < json_array_get_length (array); i++)
    {
      g_autoptr (GError) local_error = NULL;
      PosternEvent *event = postern_event_new_from_json (json_array_get_element (array, i), &local_error);

      if (event == NULL)
        {
          protocol_error (error, "event", g_steal_pointer (&local_error));
          return NULL;
        }
      if (!has_cursor)
        cursor = MAX (cursor, postern_event_get_id (event));
      g_ptr_array_add (events, event);
    }

  list = g_new0 (EventList, 1);
  list->events = g_steal_pointer (&events);
  list->cursor = cursor;
  return list;
}

static const Reply reply_event_list = { parse_event_list, (GDestroyNotify)event_list_free };

static gpointer
parse_block (JsonNode *root,
             gint64 etag,
             GError **error)
{
  g_autoptr (GError) local_error = NULL;
  PosternBlockEntry *entry;

  if (root == NULL)
    {
      protocol_error (error, "empty answer", NULL);
      return NULL;
    }
  entry = postern_block_entry_new_from_json (root, &local_error);
  if (entry == NULL)
    protocol_error (error, "block entry", g_steal_pointer (&local_error));
  return entry;
}

static const Reply reply_block = { parse_block, (GDestroyNotify)postern_block_entry_free };

static gpointer
parse_block_list (JsonNode *root,
                  gint64 etag,
                  GError **error)
{
  g_autoptr (GPtrArray) entries = g_ptr_array_new_with_free_func ((GDestroyNotify)postern_block_entry_free);
  JsonArray *array = get_array (root, "blocks");

  if (array == NULL)
    {
      protocol_error (error, "block list", NULL);
      return NULL;
    }
  for (guint i = 0; i < json_array_get_length (array); i++)
    {
      g_autoptr (GError) local_error = NULL;
      PosternBlockEntry *entry = postern_block_entry_new_from_json (json_array_get_element (array, i), &local_error);

      if (entry == NULL)
        {
          protocol_error (error, "block entry", g_steal_pointer (&local_error));
          return NULL;
        }
      g_ptr_array_add (entries, entry);
    }
  return g_steal_pointer (&entries);
}

static const Reply reply_block_list = { parse_block_list, (GDestroyNotify)g_ptr_array_unref };

static void call_refetch_cb (GObject *source,
                             GAsyncResult *result,
                             gpointer user_data);

static void
call_cb (GObject *source,
         GAsyncResult *result,
         gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  PosternApiClient *self = POSTERN_API_CLIENT (source);
  Call *call = g_task_get_task_data (task);
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonNode) root = NULL;
  gint64 etag = 0;
  gpointer value;

  root = postern_api_client_request_finish (self, result, NULL, &etag, &error);
  if (error != NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }

  if (call->refetch_channel_id != NULL && !looks_like_channel (root))
    {
      GCancellable *task_cancellable = g_task_get_cancellable (task);

      postern_api_client_get_channel_async (self, call->refetch_channel_id, task_cancellable,
                                            call_refetch_cb, g_steal_pointer (&task));
      return;
    }

  if (call->reply->parse == NULL)
    {
      g_task_return_boolean (task, TRUE);
      return;
    }

  value = call->reply->parse (root, etag, &error);
  if (value == NULL)
    g_task_return_error (task, g_steal_pointer (&error));
  else
    g_task_return_pointer (task, value, call->reply->destroy);
}

static void
call_refetch_cb (GObject *source,
                 GAsyncResult *result,
                 gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  g_autoptr (GError) error = NULL;
  PosternChannel *channel;

  channel = postern_api_client_get_channel_finish (POSTERN_API_CLIENT (source), result, &error);
  if (channel == NULL)
    g_task_return_error (task, g_steal_pointer (&error));
  else
    g_task_return_pointer (task, channel, g_object_unref);
}

static void
call (PosternApiClient *self,
      const char *method,
      const char *path,
      JsonNode *body,
      gint64 if_match,
      const Reply *reply,
      const char *refetch_channel_id,
      gpointer source_tag,
      GCancellable *cancellable,
      GAsyncReadyCallback callback,
      gpointer user_data)
{
  GTask *task = g_task_new (self, cancellable, callback, user_data);
  Call *data = g_new0 (Call, 1);

  data->reply = reply;
  data->refetch_channel_id = g_strdup (refetch_channel_id);
  g_task_set_source_tag (task, source_tag);
  g_task_set_task_data (task, data, (GDestroyNotify)call_free);

  postern_api_client_request_async (self, method, path, body, if_match, cancellable, call_cb, task);
}

/* Fails @task-to-be at once (e.g. an invalid id): no request is made. */
static void
fail_early (PosternApiClient *self,
            gpointer source_tag,
            GCancellable *cancellable,
            GAsyncReadyCallback callback,
            gpointer user_data,
            const char *message)
{
  g_autoptr (GTask) task = g_task_new (self, cancellable, callback, user_data);

  g_task_set_source_tag (task, source_tag);
  g_task_return_new_error (task, POSTERN_CLIENT_ERROR, POSTERN_CLIENT_ERROR_INVALID, "%s", message);
}

static gpointer
finish_pointer (PosternApiClient *self,
                GAsyncResult *result,
                gpointer source_tag,
                GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == source_tag, NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

static gboolean
finish_boolean (PosternApiClient *self,
                GAsyncResult *result,
                gpointer source_tag,
                GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == source_tag, FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

#define CHECK_CHANNEL_ID(id, tag)                                \
  G_STMT_START                                                   \
  {                                                              \
    if ((id) == NULL || !postern_uuid_is_valid (id))             \
      {                                                          \
        fail_early (self, tag, cancellable, callback, user_data, \
                    "The channel id is not a UUID");             \
        return;                                                  \
      }                                                          \
  }                                                              \
  G_STMT_END

/* A call on /api/v1/channels/@channel_id@suffix. With @refetch, an answer
 * that is not the channel is followed by a GET of it, so that every call
 * answered by a channel gives one. */
static void
call_channel (PosternApiClient *self,
              const char *method,
              const char *channel_id,
              const char *suffix,
              JsonNode *body,
              gint64 if_match,
              const Reply *reply,
              gboolean refetch,
              gpointer source_tag,
              GCancellable *cancellable,
              GAsyncReadyCallback callback,
              gpointer user_data)
{
  g_autofree char *path = NULL;

  CHECK_CHANNEL_ID (channel_id, source_tag);

  path = g_strconcat ("/api/v1/channels/", channel_id, suffix, NULL);
  call (self, method, path, body, if_match, reply, refetch ? channel_id : NULL,
        source_tag, cancellable, callback, user_data);
}

/* ---- pairing ---------------------------------------------------------------- */

typedef struct
{
  SoupSession *session;
  SoupMessage *message;
  char *presented;
  gboolean plain;
} Probe;

static void
probe_free (Probe *probe)
{
  g_clear_object (&probe->session);
  g_clear_object (&probe->message);
  g_free (probe->presented);
  g_free (probe);
}

static gboolean
probe_accept_certificate_cb (SoupMessage *message,
                             GTlsCertificate *certificate,
                             GTlsCertificateFlags errors,
                             gpointer user_data)
{
  Probe *probe = user_data;

  g_free (probe->presented);
  probe->presented = postern_fingerprint_for_certificate (certificate);
  /* Refuse: the probe only looks at the certificate, it trusts nothing. */
  return FALSE;
}

static void
probe_cb (GObject *source,
          GAsyncResult *result,
          gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  Probe *probe = g_task_get_task_data (task);
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) body = soup_session_send_and_read_finish (SOUP_SESSION (source), result, &error);

  if (probe->presented != NULL)
    {
      g_task_return_pointer (task, g_strdup (probe->presented), g_free);
      return;
    }

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }

  if (body == NULL)
    {
      g_autoptr (GUri) uri = g_uri_ref (soup_message_get_uri (probe->message));
      g_task_return_new_error (task, POSTERN_CLIENT_ERROR, POSTERN_CLIENT_ERROR_OFFLINE,
                               "Could not reach %s: %s", g_uri_get_host (uri), error->message);
      return;
    }

  if (probe->plain && soup_message_get_status (probe->message) == SOUP_STATUS_OK)
    {
      g_task_return_pointer (task, g_strdup (""), g_free);
      return;
    }

  g_task_return_new_error (task, POSTERN_CLIENT_ERROR, POSTERN_CLIENT_ERROR_PROTOCOL,
                           "The server did not present a certificate (HTTP %u)",
                           soup_message_get_status (probe->message));
}

void
postern_api_client_probe_async (const char *base_url,
                                GCancellable *cancellable,
                                GAsyncReadyCallback callback,
                                gpointer user_data)
{
  g_autoptr (GTask) task = g_task_new (NULL, cancellable, callback, user_data);
  g_autoptr (GError) error = NULL;
  g_autofree char *normalized = NULL;
  g_autofree char *host = NULL;
  g_autofree char *url = NULL;
  gboolean plain = FALSE;
  Probe *probe;

  g_task_set_source_tag (task, postern_api_client_probe_async);

  normalized = normalize_base_url (base_url, &host, &plain, &error);
  if (normalized == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }

  probe = g_new0 (Probe, 1);
  probe->plain = plain;
  probe->session = soup_session_new_with_options ("timeout", POSTERN_API_CLIENT_TIMEOUT,
                                                  "user-agent", PACKAGE_NAME "/" PACKAGE_VERSION,
                                                  NULL);
  /* No CA store: even a CA-signed certificate reaches the handler below. */
  soup_session_set_tls_database (probe->session, NULL);
  url = g_strconcat (normalized, "/api/v1/health", NULL);
  probe->message = soup_message_new ("GET", url);
  g_task_set_task_data (task, probe, (GDestroyNotify)probe_free);
  g_signal_connect (probe->message, "accept-certificate",
                    G_CALLBACK (probe_accept_certificate_cb), probe);

  soup_session_send_and_read_async (probe->session, probe->message, G_PRIORITY_DEFAULT,
                                    cancellable, probe_cb, g_steal_pointer (&task));
}

char *
postern_api_client_probe_finish (GAsyncResult *result,
                                 GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

typedef struct
{
  char *token;
  char *user;
  GStrv domains;
} PairResult;

static void
pair_result_free (PairResult *pair)
{
  g_free (pair->token);
  g_free (pair->user);
  g_strfreev (pair->domains);
  g_free (pair);
}

static gboolean
token_is_valid (const char *token)
{
  if (token == NULL || strlen (token) != TOKEN_HEX_LENGTH)
    return FALSE;
  for (const char *p = token; *p != '\0'; p++)
    if (!g_ascii_isxdigit (*p) || g_ascii_isupper (*p))
      return FALSE;
  return TRUE;
}

static gpointer
parse_pair (JsonNode *root,
            gint64 etag,
            GError **error)
{
  g_autoptr (GPtrArray) domains = g_ptr_array_new_with_free_func (g_free);
  JsonObject *object;
  JsonNode *server;
  const char *token;
  const char *user;
  PairResult *pair;

  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    {
      protocol_error (error, "pairing answer", NULL);
      return NULL;
    }
  object = json_node_get_object (root);
  token = json_object_get_string_member_with_default (object, "token", NULL);
  user = json_object_get_string_member_with_default (object, "user", NULL);
  if (!token_is_valid (token) || user == NULL || *user == '\0' || !g_utf8_validate (user, -1, NULL))
    {
      protocol_error (error, "pairing answer (token, user)", NULL);
      return NULL;
    }

  server = json_object_get_member (object, "server");
  if (server != NULL && JSON_NODE_HOLDS_OBJECT (server))
    {
      JsonArray *array = get_array (server, "domains");

      if (array != NULL)
        for (guint i = 0; i < json_array_get_length (array); i++)
          {
            const char *domain = json_array_get_string_element (array, i);
            if (domain != NULL && g_utf8_validate (domain, -1, NULL))
              g_ptr_array_add (domains, g_strdup (domain));
          }
    }
  g_ptr_array_add (domains, NULL);

  pair = g_new0 (PairResult, 1);
  pair->token = g_strdup (token);
  pair->user = g_strdup (user);
  pair->domains = (GStrv)g_ptr_array_free (g_steal_pointer (&domains), FALSE);
  return pair;
}

static const Reply reply_pair = { parse_pair, (GDestroyNotify)pair_result_free };

void
postern_api_client_pair_async (PosternApiClient *self,
                               const char *code,
                               const char *device_name,
                               GCancellable *cancellable,
                               GAsyncReadyCallback callback,
                               gpointer user_data)
{
  g_autoptr (JsonBuilder) builder = NULL;
  g_autoptr (JsonNode) body = NULL;

  g_return_if_fail (POSTERN_IS_API_CLIENT (self));

  if (code == NULL || *code == '\0' || strlen (code) > MAX_PAIR_CODE_LENGTH || !g_utf8_validate (code, -1, NULL))
    {
      fail_early (self, postern_api_client_pair_async, cancellable, callback, user_data,
                  "The pairing code is missing or too long");
      return;
    }
  if (device_name == NULL || *device_name == '\0')
    device_name = g_get_host_name ();
  if (!g_utf8_validate (device_name, -1, NULL) || g_utf8_strlen (device_name, -1) > MAX_DEVICE_NAME)
    {
      fail_early (self, postern_api_client_pair_async, cancellable, callback, user_data,
                  "The device name is too long");
      return;
    }

  builder = json_builder_new ();
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "code");
  json_builder_add_string_value (builder, code);
  json_builder_set_member_name (builder, "device_name");
  json_builder_add_string_value (builder, device_name);
  json_builder_end_object (builder);
  body = json_builder_get_root (builder);

  call (self, "POST", "/api/v1/pair", body, 0, &reply_pair, NULL, postern_api_client_pair_async, cancellable, callback, user_data);
}

char *
postern_api_client_pair_finish (PosternApiClient *self,
                                GAsyncResult *result,
                                char **out_user,
                                GStrv *out_domains,
                                GError **error)
{
  PairResult *pair = finish_pointer (self, result, postern_api_client_pair_async, error);
  char *token;

  if (pair == NULL)
    return NULL;

  postern_api_client_set_token (self, pair->token);
  token = g_steal_pointer (&pair->token);
  if (out_user != NULL)
    *out_user = g_steal_pointer (&pair->user);
  if (out_domains != NULL)
    *out_domains = g_steal_pointer (&pair->domains);
  pair_result_free (pair);
  return token;
}

/* ---- account and devices ---------------------------------------------- */

void
postern_api_client_health_async (PosternApiClient *self,
                                 GCancellable *cancellable,
                                 GAsyncReadyCallback callback,
                                 gpointer user_data)
{
  g_return_if_fail (POSTERN_IS_API_CLIENT (self));
  call (self, "GET", "/api/v1/health", NULL, 0, &reply_json,
        NULL, postern_api_client_health_async, cancellable, callback, user_data);
}

JsonNode *
postern_api_client_health_finish (PosternApiClient *self,
                                  GAsyncResult *result,
                                  GError **error)
{
  return finish_pointer (self, result, postern_api_client_health_async, error);
}

void
postern_api_client_get_account_async (PosternApiClient *self,
                                      GCancellable *cancellable,
                                      GAsyncReadyCallback callback,
                                      gpointer user_data)
{
  g_return_if_fail (POSTERN_IS_API_CLIENT (self));
  call (self, "GET", "/api/v1/account", NULL, 0, &reply_json,
        NULL, postern_api_client_get_account_async, cancellable, callback, user_data);
}

JsonNode *
postern_api_client_get_account_finish (PosternApiClient *self,
                                       GAsyncResult *result,
                                       GError **error)
{
  return finish_pointer (self, result, postern_api_client_get_account_async, error);
}

void
postern_api_client_list_devices_async (PosternApiClient *self,
                                       GCancellable *cancellable,
                                       GAsyncReadyCallback callback,
                                       gpointer user_data)
{
  g_return_if_fail (POSTERN_IS_API_CLIENT (self));
  call (self, "GET", "/api/v1/devices", NULL, 0, &reply_devices,
        NULL, postern_api_client_list_devices_async, cancellable, callback, user_data);
}

JsonNode *
postern_api_client_list_devices_finish (PosternApiClient *self,
                                        GAsyncResult *result,
                                        GError **error)
{
  return finish_pointer (self, result, postern_api_client_list_devices_async, error);
}

void
postern_api_client_revoke_device_async (PosternApiClient *self,
                                        gint64 device_id,
                                        GCancellable *cancellable,
                                        GAsyncReadyCallback callback,
                                        gpointer user_data)
{
  g_autofree char *path = g_strdup_printf ("/api/v1/devices/%" G_GINT64_FORMAT, device_id);

  g_return_if_fail (POSTERN_IS_API_CLIENT (self));
  call (self, "DELETE", path, NULL, 0, &reply_none, NULL,
        postern_api_client_revoke_device_async, cancellable, callback, user_data);
}

gboolean
postern_api_client_revoke_device_finish (PosternApiClient *self,
                                         GAsyncResult *result,
                                         GError **error)
{
  return finish_boolean (self, result, postern_api_client_revoke_device_async, error);
}

/* ---- channels ------------------------------------------------------------- */

void
postern_api_client_list_channels_async (PosternApiClient *self,
                                        gint64 since_revision,
                                        GCancellable *cancellable,
                                        GAsyncReadyCallback callback,
                                        gpointer user_data)
{
  g_autofree char *path = NULL;

  g_return_if_fail (POSTERN_IS_API_CLIENT (self));

  if (since_revision > 0)
    path = g_strdup_printf ("/api/v1/channels?since=%" G_GINT64_FORMAT, since_revision);
  else
    path = g_strdup ("/api/v1/channels");
  call (self, "GET", path, NULL, 0, &reply_channel_list,
        NULL, postern_api_client_list_channels_async, cancellable, callback, user_data);
}

GPtrArray *
postern_api_client_list_channels_finish (PosternApiClient *self,
                                         GAsyncResult *result,
                                         gint64 *out_revision,
                                         GPtrArray **out_deleted,
                                         GError **error)
{
  ChannelList *list = finish_pointer (self, result, postern_api_client_list_channels_async, error);
  GPtrArray *channels;

  if (list == NULL)
    return NULL;

  if (out_revision != NULL)
    *out_revision = list->revision;
  if (out_deleted != NULL)
    *out_deleted = g_steal_pointer (&list->deleted);
  channels = g_steal_pointer (&list->channels);
  channel_list_free (list);
  return channels;
}

void
postern_api_client_create_channel_async (PosternApiClient *self,
                                         PosternChannel *channel,
                                         GCancellable *cancellable,
                                         GAsyncReadyCallback callback,
                                         gpointer user_data)
{
  g_autoptr (JsonNode) body = NULL;
  JsonObject *object;

  g_return_if_fail (POSTERN_IS_API_CLIENT (self));
  g_return_if_fail (POSTERN_IS_CHANNEL (channel));
  CHECK_CHANNEL_ID (postern_channel_get_id (channel), postern_api_client_create_channel_async);

  body = postern_channel_to_json (channel);
  object = json_node_get_object (body);
  /* Server-assigned members are not ours to send. */
  json_object_remove_member (object, "revision");
  json_object_remove_member (object, "created_at");
  json_object_remove_member (object, "state");

  call (self, "POST", "/api/v1/channels", body, 0, &reply_channel, NULL,
        postern_api_client_create_channel_async, cancellable, callback, user_data);
}

PosternChannel *
postern_api_client_create_channel_finish (PosternApiClient *self,
                                          GAsyncResult *result,
                                          GError **error)
{
  return finish_pointer (self, result, postern_api_client_create_channel_async, error);
}

void
postern_api_client_get_channel_async (PosternApiClient *self,
                                      const char *channel_id,
                                      GCancellable *cancellable,
                                      GAsyncReadyCallback callback,
                                      gpointer user_data)
{
  g_return_if_fail (POSTERN_IS_API_CLIENT (self));
  call_channel (self, "GET", channel_id, "", NULL, 0, &reply_channel, FALSE,
                postern_api_client_get_channel_async, cancellable, callback, user_data);
}

PosternChannel *
postern_api_client_get_channel_finish (PosternApiClient *self,
                                       GAsyncResult *result,
                                       GError **error)
{
  return finish_pointer (self, result, postern_api_client_get_channel_async, error);
}

void
postern_api_client_update_channel_async (PosternApiClient *self,
                                         const char *channel_id,
                                         gint64 if_revision,
                                         JsonObject *changes,
                                         GCancellable *cancellable,
                                         GAsyncReadyCallback callback,
                                         gpointer user_data)
{
  g_autoptr (JsonNode) body = NULL;

  g_return_if_fail (POSTERN_IS_API_CLIENT (self));
  g_return_if_fail (changes != NULL);

  body = json_node_new (JSON_NODE_OBJECT);
  json_node_set_object (body, changes);
  call_channel (self, "PATCH", channel_id, "", body, if_revision, &reply_channel, TRUE,
                postern_api_client_update_channel_async, cancellable, callback, user_data);
}

PosternChannel *
postern_api_client_update_channel_finish (PosternApiClient *self,
                                          GAsyncResult *result,
                                          GError **error)
{
  return finish_pointer (self, result, postern_api_client_update_channel_async, error);
}

void
postern_api_client_revoke_channel_async (PosternApiClient *self,
                                         const char *channel_id,
                                         GCancellable *cancellable,
                                         GAsyncReadyCallback callback,
                                         gpointer user_data)
{
  g_return_if_fail (POSTERN_IS_API_CLIENT (self));
  call_channel (self, "POST", channel_id, "/revoke", NULL, 0, &reply_channel, TRUE,
                postern_api_client_revoke_channel_async, cancellable, callback, user_data);
}

PosternChannel *
postern_api_client_revoke_channel_finish (PosternApiClient *self,
                                          GAsyncResult *result,
                                          GError **error)
{
  return finish_pointer (self, result, postern_api_client_revoke_channel_async, error);
}

void
postern_api_client_delete_channel_async (PosternApiClient *self,
                                         const char *channel_id,
                                         GCancellable *cancellable,
                                         GAsyncReadyCallback callback,
                                         gpointer user_data)
{
  g_return_if_fail (POSTERN_IS_API_CLIENT (self));
  call_channel (self, "DELETE", channel_id, "", NULL, 0, &reply_none, FALSE,
                postern_api_client_delete_channel_async, cancellable, callback, user_data);
}

gboolean
postern_api_client_delete_channel_finish (PosternApiClient *self,
                                          GAsyncResult *result,
                                          GError **error)
{
  return finish_boolean (self, result, postern_api_client_delete_channel_async, error);
}

static JsonNode *
single_member_object (const char *name,
                      const char *value)
{
  g_autoptr (JsonBuilder) builder = json_builder_new ();

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, name);
  json_builder_add_string_value (builder, value);
  json_builder_end_object (builder);
  return json_builder_get_root (builder);
}

void
postern_api_client_add_sender_async (PosternApiClient *self,
                                     const char *channel_id,
                                     const char *pattern,
                                     GCancellable *cancellable,
                                     GAsyncReadyCallback callback,
                                     gpointer user_data)
{
  g_autoptr (JsonNode) body = NULL;

  g_return_if_fail (POSTERN_IS_API_CLIENT (self));
  g_return_if_fail (pattern != NULL);

  body = single_member_object ("pattern", pattern);
  call_channel (self, "POST", channel_id, "/senders", body, 0, &reply_channel, TRUE,
                postern_api_client_add_sender_async, cancellable, callback, user_data);
}

PosternChannel *
postern_api_client_add_sender_finish (PosternApiClient *self,
                                      GAsyncResult *result,
                                      GError **error)
{
  return finish_pointer (self, result, postern_api_client_add_sender_async, error);
}

void
postern_api_client_remove_sender_async (PosternApiClient *self,
                                        const char *channel_id,
                                        const char *pattern,
                                        GCancellable *cancellable,
                                        GAsyncReadyCallback callback,
                                        gpointer user_data)
{
  g_autofree char *escaped = NULL;
  g_autofree char *suffix = NULL;

  g_return_if_fail (POSTERN_IS_API_CLIENT (self));
  g_return_if_fail (pattern != NULL);

  escaped = g_uri_escape_string (pattern, NULL, FALSE);
  suffix = g_strconcat ("/senders/", escaped, NULL);
  call_channel (self, "DELETE", channel_id, suffix, NULL, 0, &reply_channel, TRUE,
                postern_api_client_remove_sender_async, cancellable, callback, user_data);
}

PosternChannel *
postern_api_client_remove_sender_finish (PosternApiClient *self,
                                         GAsyncResult *result,
                                         GError **error)
{
  return finish_pointer (self, result, postern_api_client_remove_sender_async, error);
}

void
postern_api_client_get_timeline_async (PosternApiClient *self,
                                       const char *channel_id,
                                       GCancellable *cancellable,
                                       GAsyncReadyCallback callback,
                                       gpointer user_data)
{
  g_return_if_fail (POSTERN_IS_API_CLIENT (self));
  call_channel (self, "GET", channel_id, "/timeline", NULL, 0, &reply_json, FALSE,
                postern_api_client_get_timeline_async, cancellable, callback, user_data);
}

JsonNode *
postern_api_client_get_timeline_finish (PosternApiClient *self,
                                        GAsyncResult *result,
                                        GError **error)
{
  return finish_pointer (self, result, postern_api_client_get_timeline_async, error);
}

void
postern_api_client_record_share_async (PosternApiClient *self,
                                       const char *channel_id,
                                       PosternShareMethod method,
                                       const char *recipient,
                                       GCancellable *cancellable,
                                       GAsyncReadyCallback callback,
                                       gpointer user_data)
{
  g_autoptr (JsonBuilder) builder = NULL;
  g_autoptr (JsonNode) body = NULL;

  g_return_if_fail (POSTERN_IS_API_CLIENT (self));

  builder = json_builder_new ();
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "method");
  json_builder_add_string_value (builder, postern_share_method_to_string (method));
  json_builder_set_member_name (builder, "recipient");
  if (recipient != NULL && *recipient != '\0')
    json_builder_add_string_value (builder, recipient);
  else
    json_builder_add_null_value (builder);
  json_builder_end_object (builder);
  body = json_builder_get_root (builder);

  call_channel (self, "POST", channel_id, "/shares", body, 0, &reply_none, FALSE,
                postern_api_client_record_share_async, cancellable, callback, user_data);
}

gboolean
postern_api_client_record_share_finish (PosternApiClient *self,
                                        GAsyncResult *result,
                                        GError **error)
{
  return finish_boolean (self, result, postern_api_client_record_share_async, error);
}

/* ---- blocks ------------------------------------------------------------------ */

void
postern_api_client_list_blocks_async (PosternApiClient *self,
                                      GCancellable *cancellable,
                                      GAsyncReadyCallback callback,
                                      gpointer user_data)
{
  g_return_if_fail (POSTERN_IS_API_CLIENT (self));
  call (self, "GET", "/api/v1/blocks", NULL, 0, &reply_block_list,
        NULL, postern_api_client_list_blocks_async, cancellable, callback, user_data);
}

GPtrArray *
postern_api_client_list_blocks_finish (PosternApiClient *self,
                                       GAsyncResult *result,
                                       GError **error)
{
  return finish_pointer (self, result, postern_api_client_list_blocks_async, error);
}

void
postern_api_client_add_block_async (PosternApiClient *self,
                                    const char *pattern,
                                    const char *channel_id,
                                    GCancellable *cancellable,
                                    GAsyncReadyCallback callback,
                                    gpointer user_data)
{
  g_autoptr (JsonBuilder) builder = NULL;
  g_autoptr (JsonNode) body = NULL;

  g_return_if_fail (POSTERN_IS_API_CLIENT (self));
  g_return_if_fail (pattern != NULL);
  if (channel_id != NULL && *channel_id == '\0')
    channel_id = NULL;
  if (channel_id != NULL)
    CHECK_CHANNEL_ID (channel_id, postern_api_client_add_block_async);

  builder = json_builder_new ();
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "pattern");
  json_builder_add_string_value (builder, pattern);
  json_builder_set_member_name (builder, "channel_id");
  if (channel_id != NULL)
    json_builder_add_string_value (builder, channel_id);
  else
    json_builder_add_null_value (builder);
  json_builder_end_object (builder);
  body = json_builder_get_root (builder);

  call (self, "POST", "/api/v1/blocks", body, 0, &reply_block, NULL,
        postern_api_client_add_block_async, cancellable, callback, user_data);
}

PosternBlockEntry *
postern_api_client_add_block_finish (PosternApiClient *self,
                                     GAsyncResult *result,
                                     GError **error)
{
  return finish_pointer (self, result, postern_api_client_add_block_async, error);
}

void
postern_api_client_remove_block_async (PosternApiClient *self,
                                       gint64 block_id,
                                       GCancellable *cancellable,
                                       GAsyncReadyCallback callback,
                                       gpointer user_data)
{
  g_autofree char *path = g_strdup_printf ("/api/v1/blocks/%" G_GINT64_FORMAT, block_id);

  g_return_if_fail (POSTERN_IS_API_CLIENT (self));
  call (self, "DELETE", path, NULL, 0, &reply_none, NULL,
        postern_api_client_remove_block_async, cancellable, callback, user_data);
}

gboolean
postern_api_client_remove_block_finish (PosternApiClient *self,
                                        GAsyncResult *result,
                                        GError **error)
{
  return finish_boolean (self, result, postern_api_client_remove_block_async, error);
}

/* ---- events and held mail ------------------------------------------------ */

void
postern_api_client_list_events_async (PosternApiClient *self,
                                      gint64 since_cursor,
                                      guint limit,
                                      gboolean newest_first,
                                      const char *channel_id,
                                      const char *verdict,
                                      GCancellable *cancellable,
                                      GAsyncReadyCallback callback,
                                      gpointer user_data)
{
  g_autoptr (GString) path = g_string_new ("/api/v1/events?since=");

  g_return_if_fail (POSTERN_IS_API_CLIENT (self));

  g_string_append_printf (path, "%" G_GINT64_FORMAT, MAX (since_cursor, 0));
  if (limit > 0)
    g_string_append_printf (path, "&limit=%u", limit);
  g_string_append (path, newest_first ? "&order=desc" : "&order=asc");
  if (channel_id != NULL && *channel_id != '\0')
    {
      CHECK_CHANNEL_ID (channel_id, postern_api_client_list_events_async);
      g_string_append_printf (path, "&channel=%s", channel_id);
    }
  if (verdict != NULL && *verdict != '\0')
    {
      g_autofree char *escaped = g_uri_escape_string (verdict, NULL, FALSE);
      g_string_append_printf (path, "&verdict=%s", escaped);
    }

  call (self, "GET", path->str, NULL, 0, &reply_event_list,
        NULL, postern_api_client_list_events_async, cancellable, callback, user_data);
}

GPtrArray *
postern_api_client_list_events_finish (PosternApiClient *self,
                                       GAsyncResult *result,
                                       gint64 *out_cursor,
                                       GError **error)
{
  EventList *list = finish_pointer (self, result, postern_api_client_list_events_async, error);
  GPtrArray *events;

  if (list == NULL)
    return NULL;
  if (out_cursor != NULL)
    *out_cursor = list->cursor;
  events = g_steal_pointer (&list->events);
  event_list_free (list);
  return events;
}

void
postern_api_client_list_held_async (PosternApiClient *self,
                                    GCancellable *cancellable,
                                    GAsyncReadyCallback callback,
                                    gpointer user_data)
{
  g_return_if_fail (POSTERN_IS_API_CLIENT (self));
  call (self, "GET", "/api/v1/held", NULL, 0, &reply_held,
        NULL, postern_api_client_list_held_async, cancellable, callback, user_data);
}

JsonNode *
postern_api_client_list_held_finish (PosternApiClient *self,
                                     GAsyncResult *result,
                                     GError **error)
{
  return finish_pointer (self, result, postern_api_client_list_held_async, error);
}

void
postern_api_client_release_held_async (PosternApiClient *self,
                                       gint64 held_id,
                                       GCancellable *cancellable,
                                       GAsyncReadyCallback callback,
                                       gpointer user_data)
{
  g_autofree char *path = g_strdup_printf ("/api/v1/held/%" G_GINT64_FORMAT "/release", held_id);

  g_return_if_fail (POSTERN_IS_API_CLIENT (self));
  call (self, "POST", path, NULL, 0, &reply_none, NULL,
        postern_api_client_release_held_async, cancellable, callback, user_data);
}

gboolean
postern_api_client_release_held_finish (PosternApiClient *self,
                                        GAsyncResult *result,
                                        GError **error)
{
  return finish_boolean (self, result, postern_api_client_release_held_async, error);
}

void
postern_api_client_drop_held_async (PosternApiClient *self,
                                    gint64 held_id,
                                    GCancellable *cancellable,
                                    GAsyncReadyCallback callback,
                                    gpointer user_data)
{
  g_autofree char *path = g_strdup_printf ("/api/v1/held/%" G_GINT64_FORMAT "/drop", held_id);

  g_return_if_fail (POSTERN_IS_API_CLIENT (self));
  call (self, "POST", path, NULL, 0, &reply_none, NULL,
        postern_api_client_drop_held_async, cancellable, callback, user_data);
}

gboolean
postern_api_client_drop_held_finish (PosternApiClient *self,
                                     GAsyncResult *result,
                                     GError **error)
{
  return finish_boolean (self, result, postern_api_client_drop_held_async, error);
}

/* ---- GObject ------------------------------------------------------------ */

static void
postern_api_client_dispose (GObject *object)
{
  PosternApiClient *self = POSTERN_API_CLIENT (object);

  if (self->session != NULL)
    soup_session_abort (self->session);
  g_clear_object (&self->session);

  G_OBJECT_CLASS (postern_api_client_parent_class)->dispose (object);
}

static void
postern_api_client_finalize (GObject *object)
{
  PosternApiClient *self = POSTERN_API_CLIENT (object);

  g_free (self->base_url);
  g_free (self->host);
  g_free (self->fingerprint);
  if (self->token != NULL)
    memset (self->token, 0, strlen (self->token));
  g_free (self->token);
  g_free (self->user_agent);

  G_OBJECT_CLASS (postern_api_client_parent_class)->finalize (object);
}

static void
postern_api_client_get_property (GObject *object,
                                 guint prop_id,
                                 GValue *value,
                                 GParamSpec *pspec)
{
  PosternApiClient *self = POSTERN_API_CLIENT (object);

  switch (prop_id)
    {
      case PROP_BASE_URL:
        g_value_set_string (value, self->base_url);
        break;
      case PROP_FINGERPRINT:
        g_value_set_string (value, self->fingerprint);
        break;
      case PROP_TOKEN:
        g_value_set_string (value, self->token);
        break;
      case PROP_USER_AGENT:
        g_value_set_string (value, self->user_agent);
        break;
      default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
postern_api_client_set_property (GObject *object,
                                 guint prop_id,
                                 const GValue *value,
                                 GParamSpec *pspec)
{
  PosternApiClient *self = POSTERN_API_CLIENT (object);

  switch (prop_id)
    {
      case PROP_BASE_URL:
        self->base_url = g_value_dup_string (value);
        break;
      case PROP_FINGERPRINT:
        postern_api_client_set_fingerprint (self, g_value_get_string (value), NULL);
        break;
      case PROP_TOKEN:
        postern_api_client_set_token (self, g_value_get_string (value));
        break;
      case PROP_USER_AGENT:
        if (g_strcmp0 (self->user_agent, g_value_get_string (value)) != 0)
          {
            g_free (self->user_agent);
            self->user_agent = g_value_dup_string (value);
            if (self->session != NULL)
              soup_session_set_user_agent (self->session, self->user_agent);
            g_object_notify_by_pspec (object, pspec);
          }
        break;
      default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
postern_api_client_class_init (PosternApiClientClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = postern_api_client_dispose;
  object_class->finalize = postern_api_client_finalize;
  object_class->get_property = postern_api_client_get_property;
  object_class->set_property = postern_api_client_set_property;

  properties[PROP_BASE_URL] = g_param_spec_string ("base-url", NULL, NULL, NULL,
                                                   G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  properties[PROP_FINGERPRINT] = g_param_spec_string ("fingerprint", NULL, NULL, NULL,
                                                      G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_TOKEN] = g_param_spec_string ("token", NULL, NULL, NULL,
                                                G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_USER_AGENT] = g_param_spec_string ("user-agent", NULL, NULL, PACKAGE_NAME "/" PACKAGE_VERSION,
                                                     G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
postern_api_client_init (PosternApiClient *self)
{
  self->user_agent = g_strdup (PACKAGE_NAME "/" PACKAGE_VERSION);
  self->session = soup_session_new_with_options ("timeout", POSTERN_API_CLIENT_TIMEOUT,
                                                 "idle-timeout", 10, /* posternd drops idle connections after 15 s */
                                                 "user-agent", self->user_agent,
                                                 NULL);
}
