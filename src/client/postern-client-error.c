/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <json-glib/json-glib.h>
#include <libsoup/soup.h>

#include "postern-client-error.h"

#define PROBLEM_MAX_BODY   (64 * 1024)
#define PROBLEM_MAX_DETAIL 1000

/* clang-format would space the dashes, and the quark name with them. */
// clang-format off
G_DEFINE_QUARK (postern-client-error-quark, postern_client_error)
// clang-format on

PosternClientError
postern_client_error_code_for_status (guint status)
{
  switch (status)
    {
      case 400:
      case 413:
      case 414:
      case 415:
      case 422:
        return POSTERN_CLIENT_ERROR_INVALID;
      case 401:
      case 403:
        return POSTERN_CLIENT_ERROR_AUTH;
      case 404:
      case 410:
        return POSTERN_CLIENT_ERROR_NOT_FOUND;
      case 409:
      case 412:
        return POSTERN_CLIENT_ERROR_CONFLICT;
      case 408:
      case 502:
      case 503:
      case 504:
        /* The server (or a proxy in front of it) is not there right now:
         * treated like a network failure, so queued changes wait. */
        return POSTERN_CLIENT_ERROR_OFFLINE;
      default:
        return POSTERN_CLIENT_ERROR_FAILED;
    }
}

const char *
postern_client_error_code_to_string (PosternClientError code)
{
  switch (code)
    {
      case POSTERN_CLIENT_ERROR_FAILED:
        return "failed";
      case POSTERN_CLIENT_ERROR_NOT_PAIRED:
        return "not-paired";
      case POSTERN_CLIENT_ERROR_OFFLINE:
        return "offline";
      case POSTERN_CLIENT_ERROR_UNTRUSTED:
        return "untrusted";
      case POSTERN_CLIENT_ERROR_NOT_FOUND:
        return "not-found";
      case POSTERN_CLIENT_ERROR_INVALID:
        return "invalid";
      case POSTERN_CLIENT_ERROR_CONFLICT:
        return "conflict";
      case POSTERN_CLIENT_ERROR_AUTH:
        return "auth";
      case POSTERN_CLIENT_ERROR_KEYRING_LOCKED:
        return "keyring-locked";
      case POSTERN_CLIENT_ERROR_KEYRING_UNAVAILABLE:
        return "keyring-unavailable";
      case POSTERN_CLIENT_ERROR_PROTOCOL:
        return "protocol";
      default:
        return "unknown";
    }
}

/* A member of the problem document fit to show: a valid UTF-8 string,
 * without control characters, cut at PROBLEM_MAX_DETAIL bytes on a
 * character boundary. */
static char *
dup_problem_member (JsonObject *object,
                    const char *name)
{
  JsonNode *node = json_object_get_member (object, name);
  const char *text;
  g_autoptr (GString) out = NULL;
  const char *p;

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_STRING)
    return NULL;

  text = json_node_get_string (node);
  if (text == NULL || *text == '\0' || !g_utf8_validate (text, -1, NULL))
    return NULL;

  out = g_string_new (NULL);
  for (p = text; *p != '\0'; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);
      if (out->len + 6 > PROBLEM_MAX_DETAIL)
        {
          g_string_append (out, "…");
          break;
        }
      if (g_unichar_iscntrl (c))
        g_string_append_c (out, ' ');
      else
        g_string_append_unichar (out, c);
    }

  return g_string_free (g_steal_pointer (&out), FALSE);
}

static gboolean
content_type_is_json (const char *content_type)
{
  g_autofree char *lower = NULL;

  if (content_type == NULL)
    return TRUE; /* be lenient: parse and see */

  lower = g_ascii_strdown (content_type, -1);
  return g_str_has_prefix (lower, "application/problem+json") || g_str_has_prefix (lower, "application/json");
}

GError *
postern_client_error_from_problem (guint status,
                                   const char *content_type,
                                   GBytes *body)
{
  PosternClientError code;
  g_autofree char *message = NULL;

  g_return_val_if_fail (status >= 400, NULL);

  code = postern_client_error_code_for_status (status);

  if (body != NULL && g_bytes_get_size (body) > 0 && g_bytes_get_size (body) <= PROBLEM_MAX_BODY && content_type_is_json (content_type))
    {
      g_autoptr (JsonParser) parser = json_parser_new_immutable ();
      gsize len;
      const char *data = g_bytes_get_data (body, &len);

      if (g_utf8_validate (data, len, NULL) && json_parser_load_from_data (parser, data, len, NULL))
        {
          JsonNode *root = json_parser_get_root (parser);

          if (root != NULL && JSON_NODE_HOLDS_OBJECT (root))
            {
              JsonObject *object = json_node_get_object (root);

              message = dup_problem_member (object, "detail");
              if (message == NULL)
                message = dup_problem_member (object, "title");
            }
        }
    }

  if (message == NULL)
    {
      const char *phrase = soup_status_get_phrase (status);
      message = g_strdup_printf ("The server answered %u %s", status,
                                 phrase != NULL ? phrase : "");
      g_strchomp (message);
    }

  return g_error_new_literal (POSTERN_CLIENT_ERROR, code, message);
}
