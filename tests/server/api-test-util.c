/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "api-test-util.h"

#include <glib/gstdio.h>

#include "pd-tls.h"

void
api_rm_rf (const char *path)
{
  GDir *dir = g_dir_open (path, 0, NULL);

  if (dir != NULL)
    {
      const char *name;

      while ((name = g_dir_read_name (dir)) != NULL)
        {
          g_autofree char *child = g_build_filename (path, name, NULL);

          if (g_file_test (child, G_FILE_TEST_IS_DIR) && !g_file_test (child, G_FILE_TEST_IS_SYMLINK))
            api_rm_rf (child);
          else
            g_unlink (child);
        }
      g_dir_close (dir);
    }
  g_rmdir (path);
}

static gboolean
tick_cb (gpointer data)
{
  return G_SOURCE_CONTINUE;
}

void
api_iterate_until (gboolean *done)
{
  gint64 deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
  guint tick = g_timeout_add (50, tick_cb, NULL);

  while (!*done && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, TRUE);
  g_source_remove (tick);
  g_assert_true (*done);
}

void
api_drain (void)
{
  for (guint i = 0; i < 1000 && g_main_context_iteration (NULL, FALSE); i++)
    ;
}

void
api_response_free (ApiResponse *response)
{
  if (response == NULL)
    return;
  g_free (response->content_type);
  g_clear_pointer (&response->headers, soup_message_headers_unref);
  g_clear_pointer (&response->body, g_bytes_unref);
  g_clear_pointer (&response->json, json_node_unref);
  g_clear_error (&response->error);
  g_free (response);
}

gboolean
api_accept_certificate_cb (SoupMessage *msg,
                           GTlsCertificate *peer,
                           GTlsCertificateFlags errors,
                           gpointer data)
{
  GTlsCertificate *pinned = data;
  g_autofree char *want = pd_tls_fingerprint (pinned);
  g_autofree char *got = pd_tls_fingerprint (peer);

  return g_strcmp0 (want, got) == 0;
}

static gint64
fixture_clock (gpointer data)
{
  ApiFixture *f = data;

  return g_get_real_time () / G_USEC_PER_SEC + f->clock_offset;
}

void
api_fixture_set_up (ApiFixture *f,
                    gconstpointer data)
{
  api_fixture_start_with (f, data);
}

void
api_fixture_start_with (ApiFixture *f,
                        void (*tweak) (PdApiOptions *options))
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PdApiOptions) options = pd_api_options_new ();
  g_autoptr (PdUser) alice = NULL;
  g_autoptr (PdUser) bob = NULL;
  const char *domains[] = { "ch.example.org", "ch2.example.org", NULL };

  f->dir = g_dir_make_tmp ("postern-api-XXXXXX", &error);
  g_assert_no_error (error);
  f->store = pd_store_open (f->dir, &error);
  g_assert_no_error (error);
  f->auth = pd_store_auth_open (f->dir, &error);
  g_assert_no_error (error);

  {
    /* A delivery target, so that held mail gets its queue rows. */
    g_autofree char *maildir = g_build_filename (f->dir, "alice-maildir", NULL);

    alice = pd_store_add_user (f->store, "alice", maildir, NULL, &error);
  }
  g_assert_no_error (error);
  bob = pd_store_add_user (f->store, "bob", NULL, NULL, &error);
  g_assert_no_error (error);
  f->alice_id = alice->id;
  f->bob_id = bob->id;

  f->certificate = pd_tls_load_certificate (NULL, NULL, f->dir, "localhost", &error);
  g_assert_no_error (error);

  g_free (options->listen);
  options->listen = g_strdup ("127.0.0.1:0");
  options->certificate = g_object_ref (f->certificate);
  g_strfreev (options->domains);
  options->domains = g_strdupv ((char **)domains);
  /* Generous limits so that the auth tests, not the others, trip them. */
  options->auth_failures_before_delay = 100;
  options->auth_failures_before_refusing = 1000;
  if (tweak != NULL)
    tweak (options);

  f->server = pd_api_server_new (f->store, f->auth, options);
  pd_api_server_set_clock (f->server, fixture_clock, f);
  pd_api_server_listen (f->server, &error);
  g_assert_no_error (error);
  f->url = pd_api_server_get_url (f->server);
  g_assert_true (g_str_has_prefix (f->url, "https://127.0.0.1:"));

  f->session = soup_session_new_with_options ("timeout", 10, NULL);

  if (!f->no_pairing)
    {
      f->alice_token = api_pair (f, f->alice_id, "alice-laptop");
      f->bob_token = api_pair (f, f->bob_id, "bob-laptop");
    }
}

void
api_fixture_tear_down (ApiFixture *f,
                       gconstpointer data)
{
  pd_api_server_stop (f->server);
  api_drain ();
  g_clear_object (&f->session);
  g_assert_finalize_object (f->server);
  api_drain ();
  g_clear_object (&f->auth);
  g_clear_object (&f->store);
  g_clear_object (&f->certificate);
  api_rm_rf (f->dir);
  g_free (f->dir);
  g_free (f->url);
  g_free (f->alice_token);
  g_free (f->bob_token);
}

typedef struct
{
  gboolean done;
  GBytes *body;
  GError *error;
} SendState;

static void
send_done_cb (GObject *source,
              GAsyncResult *result,
              gpointer data)
{
  SendState *state = data;

  state->body = soup_session_send_and_read_finish (SOUP_SESSION (source), result, &state->error);
  state->done = TRUE;
}

ApiResponse *
api_request_bytes (ApiFixture *f,
                   const char *method,
                   const char *path,
                   const char *token,
                   GBytes *body,
                   const char *content_type,
                   GStrv headers)
{
  g_autofree char *uri = g_strconcat (f->url, path, NULL);
  g_autoptr (SoupMessage) msg = soup_message_new (method, uri);
  ApiResponse *response = g_new0 (ApiResponse, 1);
  SoupMessageHeaders *request_headers;
  SendState state = { 0 };
  gint64 start;

  g_assert_nonnull (msg);
  request_headers = soup_message_get_request_headers (msg);
  if (token != NULL)
    {
      g_autofree char *value = g_strconcat ("Bearer ", token, NULL);

      soup_message_headers_replace (request_headers, "Authorization", value);
    }
  for (guint i = 0; headers != NULL && headers[i] != NULL && headers[i + 1] != NULL; i += 2)
    soup_message_headers_replace (request_headers, headers[i], headers[i + 1]);
  if (body != NULL)
    soup_message_set_request_body_from_bytes (msg, content_type ? content_type : "application/json", body);
  g_signal_connect (msg, "accept-certificate", G_CALLBACK (api_accept_certificate_cb), f->certificate);

  start = g_get_monotonic_time ();
  soup_session_send_and_read_async (f->session, msg, G_PRIORITY_DEFAULT, NULL, send_done_cb, &state);
  api_iterate_until (&state.done);
  response->elapsed_ms = (g_get_monotonic_time () - start) / 1000;

  response->error = state.error;
  response->body = state.body;
  response->status = soup_message_get_status (msg);
  response->headers = soup_message_headers_ref (soup_message_get_response_headers (msg));
  response->content_type = g_strdup (soup_message_headers_get_content_type (response->headers, NULL));
  if (response->body != NULL && g_bytes_get_size (response->body) > 0 && response->content_type != NULL && strstr (response->content_type, "json") != NULL)
    {
      g_autoptr (JsonParser) parser = json_parser_new ();
      gsize length;
      const char *data = g_bytes_get_data (response->body, &length);

      if (json_parser_load_from_data (parser, data, length, NULL))
        response->json = json_node_ref (json_parser_get_root (parser));
    }
  return response;
}

ApiResponse *
api_request (ApiFixture *f,
             const char *method,
             const char *path,
             const char *token,
             const char *body,
             ...)
{
  g_autoptr (GBytes) bytes = body ? g_bytes_new (body, strlen (body)) : NULL;
  g_autoptr (GStrvBuilder) builder = g_strv_builder_new ();
  g_auto (GStrv) headers = NULL;
  const char *name;
  va_list args;

  va_start (args, body);
  while ((name = va_arg (args, const char *)) != NULL)
    {
      g_strv_builder_add (builder, name);
      g_strv_builder_add (builder, va_arg (args, const char *));
    }
  va_end (args);
  headers = g_strv_builder_end (builder);
  return api_request_bytes (f, method, path, token, bytes, NULL, headers);
}

JsonObject *
api_object (ApiResponse *response)
{
  g_assert_nonnull (response->json);
  g_assert_true (JSON_NODE_HOLDS_OBJECT (response->json));
  return json_node_get_object (response->json);
}

const char *
api_string (ApiResponse *response,
            const char *member)
{
  return json_object_get_string_member (api_object (response), member);
}

gint64
api_int (ApiResponse *response,
         const char *member)
{
  return json_object_get_int_member (api_object (response), member);
}

void
api_assert_problem (ApiResponse *response,
                    guint status,
                    const char *field)
{
  JsonObject *object;

  g_assert_no_error (response->error);
  g_assert_cmpuint (response->status, ==, status);
  g_assert_cmpstr (response->content_type, ==, "application/problem+json");
  object = api_object (response);
  g_assert_cmpint (json_object_get_int_member (object, "status"), ==, status);
  g_assert_true (g_str_has_prefix (json_object_get_string_member (object, "type"), "https://"));
  g_assert_nonnull (json_object_get_string_member (object, "title"));
  if (field != NULL)
    {
      g_assert_cmpstr (json_object_get_string_member_with_default (object, "field", NULL), ==, field);
      g_assert_nonnull (strstr (json_object_get_string_member (object, "detail"), field));
    }
}

char *
api_pair (ApiFixture *f,
          gint64 user_id,
          const char *device_name)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *code = NULL;
  g_autofree char *body = NULL;
  g_autoptr (ApiResponse) response = NULL;

  code = pd_store_auth_create_pairing_code (f->auth, user_id, fixture_clock (f), PD_PAIRING_CODE_LIFETIME, &error);
  g_assert_no_error (error);
  body = g_strdup_printf ("{\"code\":\"%s\",\"device_name\":\"%s\"}", code, device_name);
  response = api_request (f, "POST", "/api/v1/pair", NULL, body, NULL);
  g_assert_no_error (response->error);
  g_assert_cmpuint (response->status, ==, 201);
  return g_strdup (api_string (response, "token"));
}

typedef struct
{
  gboolean done;
  GArray *ids;
  GError *error;
} CommitState;

static void
commit_done_cb (GObject *source,
                GAsyncResult *result,
                gpointer data)
{
  CommitState *state = data;

  state->ids = pd_store_commit_message_finish (PD_STORE (source), result, &state->error);
  state->done = TRUE;
}

gint64
api_commit_event (ApiFixture *f,
                  gint64 user_id,
                  const char *channel_id,
                  PosternVerdict verdict,
                  const char *sender,
                  const char *subject)
{
  g_autoptr (PdMessage) message = pd_message_new ();
  CommitState state = { 0 };
  g_autofree char *text = g_strdup_printf ("From: %s\r\nSubject: %s\r\n\r\nHello.\r\n", sender, subject);
  gint64 id;

  message->envelope_sender = g_strdup (sender);
  message->header_from = g_strdup (sender);
  message->subject = g_strdup (subject);
  message->message_id = g_strdup_printf ("<%s@test>", subject);
  message->data = g_bytes_new (text, strlen (text));
  message->size = strlen (text);
  message->received_at = fixture_clock (f);
  pd_message_add_recipient (message, user_id, channel_id, verdict);
  pd_store_commit_message_async (f->store, message, NULL, commit_done_cb, &state);
  api_iterate_until (&state.done);
  g_assert_no_error (state.error);
  g_assert_cmpuint (state.ids->len, ==, 1);
  id = g_array_index (state.ids, gint64, 0);
  g_array_unref (state.ids);
  return id;
}

char *
api_create_channel (ApiFixture *f,
                    const char *token,
                    const char *label)
{
  g_autofree char *body = g_strdup_printf ("{\"label\":\"%s\"}", label);
  g_autoptr (ApiResponse) response = api_request (f, "POST", "/api/v1/channels", token, body, NULL);

  g_assert_no_error (response->error);
  g_assert_cmpuint (response->status, ==, 201);
  return g_strdup (api_string (response, "id"));
}
