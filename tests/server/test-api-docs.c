/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

/*
 * Runs every example of docs/api.md against a real server, in document
 * order, and compares each response with the documented one.
 *
 * An example is a ```http block holding a request followed by a ```http
 * block holding its response. {name} in a request is replaced by a value
 * saved earlier. HTML comments steer the run:
 *   <!-- test: code USER -->              a pairing code for USER into {code}
 *   <!-- test: pair USER NAME VAR -->     pairs a device, token into {VAR},
 *                                         its id into {VAR_device}
 *   <!-- test: event VERDICT SENDER SUBJECT -->  commits mail on {channel_id}
 *   <!-- test: save VAR=PATH ... -->      saves a member of the last JSON
 *                                         response (PATH like a.b or a[0].b)
 *
 * tests/server/api-docs-splice.py writes the response blocks from a
 * POSTERN_DOCS_PRINT=1 run.
 *
 * Responses compare by structure: the same status, the documented headers,
 * the same members (no more, no fewer) with the same types, and the same
 * values except for those that differ per run (ids that are UUIDs,
 * addresses, tokens, fingerprints, times, details).
 *
 * POSTERN_DOCS_PRINT=1 prints each actual response in the document's
 * format instead of failing, to write the examples from.
 */

#include "api-test-util.h"

typedef struct
{
  ApiFixture fixture;
  GHashTable *vars; /* name -> value */
  JsonNode *last_json;
  gboolean print;
  guint examples;
} DocsRun;

static const char *const varying_members[] = {
  "address", "token", "fingerprint", "detail", "channel_id", "time", NULL
};

static gboolean
member_varies (const char *name)
{
  return name != NULL && (g_strv_contains (varying_members, name) || g_str_has_suffix (name, "_at"));
}

static char *
substitute (DocsRun *run,
            const char *text)
{
  GString *out = g_string_new (NULL);
  const char *p = text;

  while (*p != '\0')
    {
      const char *close;

      if (*p == '{' && (close = strchr (p, '}')) != NULL && close - p < 40 && strspn (p + 1, "abcdefghijklmnopqrstuvwxyz_") == (gsize)(close - p - 1) && close > p + 1)
        {
          g_autofree char *name = g_strndup (p + 1, close - p - 1);
          const char *value = g_hash_table_lookup (run->vars, name);

          if (value == NULL)
            g_error ("docs/api.md uses {%s} before it is saved", name);
          g_string_append (out, value);
          p = close + 1;
          continue;
        }
      g_string_append_c (out, *p++);
    }
  return g_string_free (out, FALSE);
}

static JsonNode *
lookup_path (JsonNode *node,
             const char *path)
{
  g_auto (GStrv) parts = g_strsplit (path, ".", -1);

  for (guint i = 0; parts[i] != NULL && node != NULL; i++)
    {
      char *bracket = strchr (parts[i], '[');
      guint64 index = 0;

      if (bracket != NULL)
        {
          g_autofree char *digits = g_strndup (bracket + 1, strcspn (bracket + 1, "]"));

          g_assert_true (g_ascii_string_to_unsigned (digits, 10, 0, 1000, &index, NULL));
          *bracket = '\0';
        }
      if (!JSON_NODE_HOLDS_OBJECT (node))
        return NULL;
      node = json_object_get_member (json_node_get_object (node), parts[i]);
      if (bracket != NULL && node != NULL)
        {
          if (!JSON_NODE_HOLDS_ARRAY (node) || index >= json_array_get_length (json_node_get_array (node)))
            return NULL;
          node = json_array_get_element (json_node_get_array (node), index);
        }
    }
  return node;
}

static char *
node_to_text (JsonNode *node)
{
  if (JSON_NODE_HOLDS_VALUE (node) && json_node_get_value_type (node) == G_TYPE_STRING)
    return g_strdup (json_node_get_string (node));
  return json_to_string (node, FALSE);
}

static void
run_directive (DocsRun *run,
               const char *directive)
{
  ApiFixture *f = &run->fixture;
  g_auto (GStrv) words = g_strsplit_set (directive, " \t", -1);
  g_autoptr (GError) error = NULL;
  guint n = g_strv_length (words);

  if (n >= 2 && g_str_equal (words[0], "code"))
    {
      gint64 user = g_str_equal (words[1], "bob") ? f->bob_id : f->alice_id;
      char *code = pd_store_auth_create_pairing_code (f->auth, user, g_get_real_time () / G_USEC_PER_SEC, 600, &error);

      g_assert_no_error (error);
      g_hash_table_replace (run->vars, g_strdup ("code"), code);
    }
  else if (n >= 4 && g_str_equal (words[0], "pair"))
    {
      gint64 user = g_str_equal (words[1], "bob") ? f->bob_id : f->alice_id;
      char *token = api_pair (f, user, words[2]);
      g_autoptr (ApiResponse) account = api_request (f, "GET", "/api/v1/account", token, NULL, NULL);

      g_hash_table_replace (run->vars, g_strdup (words[3]), token);
      g_hash_table_replace (run->vars, g_strconcat (words[3], "_device", NULL),
                            g_strdup_printf ("%" G_GINT64_FORMAT, api_int (account, "device_id")));
    }
  else if (n >= 4 && g_str_equal (words[0], "event"))
    {
      PosternVerdict verdict;
      const char *channel_id = g_hash_table_lookup (run->vars, "channel_id");

      g_assert_true (postern_verdict_from_string (words[1], &verdict, NULL));
      g_assert_nonnull (channel_id);
      api_commit_event (f, f->alice_id, channel_id, verdict, words[2], words[3]);
    }
  else if (n >= 2 && g_str_equal (words[0], "save"))
    {
      for (guint i = 1; i < n; i++)
        {
          g_auto (GStrv) pair = g_strsplit (words[i], "=", 2);
          JsonNode *node;

          if (pair[0] == NULL || pair[0][0] == '\0')
            continue;
          g_assert_nonnull (pair[1]);
          g_assert_nonnull (run->last_json);
          node = lookup_path (run->last_json, pair[1]);
          if (node == NULL)
            g_error ("docs/api.md: cannot save %s from %s", pair[0], pair[1]);
          g_hash_table_replace (run->vars, g_strdup (pair[0]), node_to_text (node));
        }
    }
  else
    g_error ("docs/api.md: unknown test directive \"%s\"", directive);
}

/* ---- comparing ---- */

static void
compare_nodes (const char *where,
               const char *name,
               JsonNode *documented,
               JsonNode *actual)
{
  JsonNodeType type = json_node_get_node_type (documented);

  if (json_node_get_node_type (actual) != type)
    g_error ("docs/api.md %s: %s has another JSON type in the response", where, name ? name : "(root)");

  switch (type)
    {
      case JSON_NODE_OBJECT:
        {
          JsonObject *doc = json_node_get_object (documented);
          JsonObject *act = json_node_get_object (actual);
          g_autoptr (GList) doc_members = json_object_get_members (doc);
          g_autoptr (GList) act_members = json_object_get_members (act);

          for (GList *l = doc_members; l != NULL; l = l->next)
            {
              if (!json_object_has_member (act, l->data))
                g_error ("docs/api.md %s: the response has no member \"%s\"", where, (char *)l->data);
              compare_nodes (where, l->data, json_object_get_member (doc, l->data), json_object_get_member (act, l->data));
            }
          for (GList *l = act_members; l != NULL; l = l->next)
            if (!json_object_has_member (doc, l->data))
              g_error ("docs/api.md %s: the response has an undocumented member \"%s\"", where, (char *)l->data);
        }
        break;
      case JSON_NODE_ARRAY:
        {
          JsonArray *doc = json_node_get_array (documented);
          JsonArray *act = json_node_get_array (actual);

          if (json_array_get_length (doc) != json_array_get_length (act))
            g_error ("docs/api.md %s: %s has %u elements, the response %u", where, name ? name : "(root)",
                     json_array_get_length (doc), json_array_get_length (act));
          for (guint i = 0; i < json_array_get_length (doc); i++)
            compare_nodes (where, name, json_array_get_element (doc, i), json_array_get_element (act, i));
        }
        break;
      case JSON_NODE_VALUE:
        if (json_node_get_value_type (documented) != json_node_get_value_type (actual))
          g_error ("docs/api.md %s: %s has another value type in the response", where, name);
        /* UUIDs are minted per run (but a documented UUID must stay one). */
        if (json_node_get_value_type (documented) == G_TYPE_STRING && (member_varies (name) || (postern_uuid_is_valid (json_node_get_string (documented)) && postern_uuid_is_valid (json_node_get_string (actual)))))
          break;
        if (!json_node_equal (documented, actual))
          {
            g_autofree char *want = json_to_string (documented, FALSE);
            g_autofree char *got = json_to_string (actual, FALSE);

            g_error ("docs/api.md %s: %s is %s, the response says %s", where, name, want, got);
          }
        break;
      case JSON_NODE_NULL:
      default:
        break;
    }
}

static JsonNode *
parse_json (const char *text,
            const char *where)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GError) error = NULL;

  if (!json_parser_load_from_data (parser, text, -1, &error))
    g_error ("docs/api.md %s: the documented JSON does not parse: %s", where, error->message);
  return json_node_ref (json_parser_get_root (parser));
}

/* Splits an HTTP block into its first line, headers and body. */
static void
split_http (const char *block,
            char **out_first,
            GPtrArray *headers,
            char **out_body)
{
  const char *blank = strstr (block, "\n\n");
  g_autofree char *head = blank ? g_strndup (block, blank - block) : g_strdup (block);
  g_auto (GStrv) lines = g_strsplit (head, "\n", -1);

  *out_first = g_strdup (lines[0]);
  for (guint i = 1; lines[i] != NULL; i++)
    if (lines[i][0] != '\0')
      g_ptr_array_add (headers, g_strdup (lines[i]));
  *out_body = blank ? g_strstrip (g_strdup (blank + 2)) : g_strdup ("");
}

static const char *const compared_headers[] = {
  "Content-Type", "ETag", "Allow", "WWW-Authenticate", "Retry-After", NULL
};

static void
print_response (ApiResponse *response)
{
  static const char *const printed[] = {
    "Content-Type", "ETag", "Location", "Allow", "WWW-Authenticate", "Retry-After", "Content-Disposition", NULL
  };

  g_print ("```http\nHTTP/1.1 %u %s\n", response->status, soup_status_get_phrase (response->status));
  for (guint i = 0; printed[i] != NULL; i++)
    {
      const char *value = soup_message_headers_get_one (response->headers, printed[i]);

      if (value != NULL)
        g_print ("%s: %s\n", printed[i], value);
    }
  if (response->json != NULL)
    {
      g_autoptr (JsonGenerator) generator = json_generator_new ();
      g_autofree char *text = NULL;

      json_generator_set_pretty (generator, TRUE);
      json_generator_set_indent (generator, 2);
      json_generator_set_root (generator, response->json);
      text = json_generator_to_data (generator, NULL);
      g_print ("\n%s\n", text);
    }
  else if (response->body != NULL && g_bytes_get_size (response->body) > 0)
    g_print ("\n%.*s", (int)g_bytes_get_size (response->body), (const char *)g_bytes_get_data (response->body, NULL));
  g_print ("```\n\n");
}

static void
check_response (DocsRun *run,
                const char *where,
                ApiResponse *response,
                const char *documented)
{
  g_autoptr (GPtrArray) headers = g_ptr_array_new_with_free_func (g_free);
  g_autofree char *status_line = NULL;
  g_autofree char *body = NULL;
  guint64 status;

  if (run->print)
    {
      print_response (response);
      return;
    }

  split_http (documented, &status_line, headers, &body);
  if (strlen (status_line) > 12)
    status_line[12] = '\0';
  if (!g_str_has_prefix (status_line, "HTTP/1.1 ") || !g_ascii_string_to_unsigned (status_line + 9, 10, 100, 599, &status, NULL))
    g_error ("docs/api.md %s: the response block must start with HTTP/1.1 STATUS", where);
  if (response->status != status)
    g_error ("docs/api.md %s: documented status %u, the server answered %u", where, (guint)status, response->status);

  for (guint i = 0; i < headers->len; i++)
    {
      const char *line = g_ptr_array_index (headers, i);
      const char *colon = strchr (line, ':');
      g_autofree char *name = colon ? g_strndup (line, colon - line) : NULL;
      const char *value;
      const char *want;

      g_assert_nonnull (name);
      want = colon + 1 + strspn (colon + 1, " ");
      value = soup_message_headers_get_one (response->headers, name);
      if (value == NULL)
        g_error ("docs/api.md %s: the response has no %s header", where, name);
      if (g_strv_contains (compared_headers, name) && g_strcmp0 (value, want) != 0)
        g_error ("docs/api.md %s: %s is \"%s\", the response says \"%s\"", where, name, want, value);
    }

  if (body[0] == '\0')
    {
      if (response->body != NULL && g_bytes_get_size (response->body) > 0)
        g_error ("docs/api.md %s: the response has a body the example does not show", where);
      return;
    }
  if (response->json != NULL)
    {
      g_autoptr (JsonNode) doc = parse_json (body, where);

      compare_nodes (where, NULL, doc, response->json);
      return;
    }

  /* CSV: the same header line, rows and row types. */
  {
    g_autofree char *actual = g_strndup (g_bytes_get_data (response->body, NULL), g_bytes_get_size (response->body));
    g_auto (GStrv) want_lines = g_strsplit (body, "\n", -1);
    g_auto (GStrv) got_lines = NULL;
    g_autofree char *normalized = NULL;
    g_autoptr (GRegex) crlf = g_regex_new ("\r\n", 0, 0, NULL);

    normalized = g_regex_replace_literal (crlf, g_strstrip (actual), -1, 0, "\n", 0, NULL);
    got_lines = g_strsplit (normalized, "\n", -1);
    if (g_strv_length (want_lines) != g_strv_length (got_lines))
      g_error ("docs/api.md %s: %u lines documented, %u returned", where, g_strv_length (want_lines), g_strv_length (got_lines));
    g_assert_cmpstr (want_lines[0], ==, got_lines[0]);
    for (guint i = 1; want_lines[i] != NULL; i++)
      {
        g_auto (GStrv) want_cells = g_strsplit (want_lines[i], ",", 3);
        g_auto (GStrv) got_cells = g_strsplit (got_lines[i], ",", 3);

        g_assert_cmpstr (want_cells[1], ==, got_cells[1]);
      }
  }
}

/* ---- live ---- */

typedef struct
{
  SoupWebsocketConnection *connection;
  GPtrArray *frames;
  gboolean done;
  GError *error;
} LiveState;

static void
live_message_cb (SoupWebsocketConnection *connection,
                 gint type,
                 GBytes *message,
                 gpointer data)
{
  LiveState *state = data;

  g_ptr_array_add (state->frames, g_strndup (g_bytes_get_data (message, NULL), g_bytes_get_size (message)));
}

static void
live_connected_cb (GObject *source,
                   GAsyncResult *result,
                   gpointer data)
{
  LiveState *state = data;

  state->connection = soup_session_websocket_connect_finish (SOUP_SESSION (source), result, &state->error);
  if (state->connection != NULL)
    g_signal_connect (state->connection, "message", G_CALLBACK (live_message_cb), state);
  state->done = TRUE;
}

static gboolean
tick_cb (gpointer data)
{
  return G_SOURCE_CONTINUE;
}

static gboolean
has_synced (GPtrArray *frames)
{
  for (guint i = 0; i < frames->len; i++)
    if (strstr (g_ptr_array_index (frames, i), "\"type\":\"synced\"") != NULL)
      return TRUE;
  return FALSE;
}

static void
run_live (DocsRun *run,
          const char *where,
          const char *path,
          GPtrArray *request_headers,
          const char *documented)
{
  ApiFixture *f = &run->fixture;
  g_autofree char *uri = g_strconcat (f->url, path, NULL);
  g_autoptr (SoupMessage) msg = soup_message_new ("GET", uri);
  g_autoptr (GPtrArray) doc_headers = g_ptr_array_new_with_free_func (g_free);
  g_autofree char *status_line = NULL;
  g_autofree char *body = NULL;
  g_auto (GStrv) frames = NULL;
  LiveState state = { 0 };
  gint64 deadline;
  guint tick;
  guint expected;

  state.frames = g_ptr_array_new_with_free_func (g_free);
  for (guint i = 0; i < request_headers->len; i++)
    {
      const char *line = g_ptr_array_index (request_headers, i);

      if (g_str_has_prefix (line, "Authorization: "))
        soup_message_headers_replace (soup_message_get_request_headers (msg), "Authorization", line + strlen ("Authorization: "));
    }
  g_signal_connect (msg, "accept-certificate", G_CALLBACK (api_accept_certificate_cb), f->certificate);
  soup_session_websocket_connect_async (f->session, msg, NULL, NULL, G_PRIORITY_DEFAULT, NULL, live_connected_cb, &state);
  api_iterate_until (&state.done);
  g_assert_no_error (state.error);

  split_http (documented, &status_line, doc_headers, &body);
  g_assert_cmpstr (status_line, ==, "HTTP/1.1 101 Switching Protocols");
  frames = g_strsplit (body, "\n", -1);
  expected = g_strv_length (frames);

  deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
  tick = g_timeout_add (50, tick_cb, NULL);
  /* Printing: everything up to "synced", however many frames that is. */
  while ((run->print ? !has_synced (state.frames) : state.frames->len < expected) && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, TRUE);
  g_source_remove (tick);

  if (run->print)
    {
      g_print ("```http\nHTTP/1.1 101 Switching Protocols\nUpgrade: websocket\n\n");
      for (guint i = 0; i < state.frames->len; i++)
        g_print ("%s\n", (char *)g_ptr_array_index (state.frames, i));
      g_print ("```\n\n");
    }
  else
    {
      g_assert_cmpuint (state.frames->len, ==, expected);
      for (guint i = 0; i < expected; i++)
        {
          g_autoptr (JsonNode) doc = parse_json (frames[i], where);
          g_autoptr (JsonNode) got = parse_json (g_ptr_array_index (state.frames, i), where);

          compare_nodes (where, NULL, doc, got);
        }
    }
  soup_websocket_connection_close (state.connection, SOUP_WEBSOCKET_CLOSE_NORMAL, NULL);
  api_drain ();
  g_clear_object (&state.connection);
  g_ptr_array_unref (state.frames);
}

/* ---- the run ---- */

static void
run_request (DocsRun *run,
             const char *where,
             const char *request_block,
             const char *response_block)
{
  ApiFixture *f = &run->fixture;
  g_autofree char *request = substitute (run, request_block);
  g_autoptr (GPtrArray) headers = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GStrvBuilder) extra = g_strv_builder_new ();
  g_auto (GStrv) extra_headers = NULL;
  g_autoptr (ApiResponse) response = NULL;
  g_autoptr (GBytes) body_bytes = NULL;
  g_autofree char *first = NULL;
  g_autofree char *body = NULL;
  g_auto (GStrv) words = NULL;
  gboolean websocket = FALSE;

  split_http (request, &first, headers, &body);
  words = g_strsplit (first, " ", 3);
  if (g_strv_length (words) != 3 || !g_str_equal (words[2], "HTTP/1.1"))
    g_error ("docs/api.md %s: a request block starts with METHOD PATH HTTP/1.1", where);

  for (guint i = 0; i < headers->len; i++)
    {
      const char *line = g_ptr_array_index (headers, i);
      const char *colon = strchr (line, ':');

      g_assert_nonnull (colon);
      if (g_str_has_prefix (line, "Upgrade: websocket"))
        websocket = TRUE;
      if (g_str_has_prefix (line, "Content-Type:") || g_str_has_prefix (line, "Content-Length:") || g_str_has_prefix (line, "Host:"))
        continue;
      {
        g_autofree char *name = g_strndup (line, colon - line);

        g_strv_builder_add (extra, name);
        g_strv_builder_add (extra, colon + 1 + strspn (colon + 1, " "));
      }
    }
  if (websocket)
    {
      run_live (run, where, words[1], headers, response_block);
      return;
    }
  extra_headers = g_strv_builder_end (extra);
  if (body[0] != '\0')
    body_bytes = g_bytes_new (body, strlen (body));
  response = api_request_bytes (f, words[0], words[1], NULL, body_bytes, NULL, extra_headers);
  g_assert_no_error (response->error);
  if (run->print)
    g_print ("<!-- %s -->\n", where);
  check_response (run, where, response, response_block);
  g_clear_pointer (&run->last_json, json_node_unref);
  if (response->json != NULL)
    run->last_json = json_node_ref (response->json);
}

static void
test_docs_examples (void)
{
  g_autofree char *path = g_test_build_filename (G_TEST_DIST, "..", "docs", "api.md", NULL);
  g_autofree char *text = NULL;
  g_autoptr (GError) error = NULL;
  g_auto (GStrv) lines = NULL;
  g_autofree char *pending_request = NULL;
  g_autofree char *pending_where = NULL;
  DocsRun run = { 0 };
  GString *block = NULL;
  guint block_start = 0;

  g_file_get_contents (path, &text, NULL, &error);
  g_assert_no_error (error);

  run.fixture.no_pairing = TRUE;
  api_fixture_start_with (&run.fixture, NULL);
  run.vars = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  run.print = g_getenv ("POSTERN_DOCS_PRINT") != NULL;

  lines = g_strsplit (text, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    {
      const char *line = lines[i];

      if (block != NULL)
        {
          if (g_str_equal (line, "```"))
            {
              g_autofree char *content = g_string_free (g_steal_pointer (&block), FALSE);
              g_autofree char *where = g_strdup_printf ("line %u", block_start);

              if (g_str_has_prefix (content, "HTTP/1.1 "))
                {
                  if (pending_request == NULL)
                    g_error ("docs/api.md %s: a response without a request", where);
                  run_request (&run, pending_where, pending_request, content);
                  g_clear_pointer (&pending_request, g_free);
                  g_clear_pointer (&pending_where, g_free);
                  run.examples++;
                }
              else
                {
                  if (pending_request != NULL)
                    g_error ("docs/api.md %s: the request has no response block", pending_where);
                  pending_request = g_steal_pointer (&content);
                  pending_where = g_steal_pointer (&where);
                }
            }
          else
            g_string_append_printf (block, "%s%s", block->len ? "\n" : "", line);
          continue;
        }
      if (g_str_equal (line, "```http"))
        {
          block = g_string_new (NULL);
          block_start = i + 1;
        }
      else if (g_str_has_prefix (line, "<!-- test: ") && g_str_has_suffix (line, " -->"))
        {
          g_autofree char *directive = g_strndup (line + strlen ("<!-- test: "), strlen (line) - strlen ("<!-- test: ") - strlen (" -->"));

          run_directive (&run, directive);
        }
    }
  g_assert_null (block);
  g_assert_null (pending_request);
  g_test_message ("%u documented examples checked", run.examples);
  /* Every endpoint has at least one example. */
  g_assert_cmpuint (run.examples, >=, 26);

  g_clear_pointer (&run.last_json, json_node_unref);
  g_hash_table_unref (run.vars);
  api_fixture_tear_down (&run.fixture, NULL);
}

int
main (int argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/postern/server/api/docs/examples", test_docs_examples);
  return g_test_run ();
}
