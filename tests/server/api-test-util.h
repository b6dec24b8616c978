/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

/*
 * Shared by the API tests: a real posternd API server on 127.0.0.1 with a
 * self-signed certificate, and a libsoup client that pins it. Requests are
 * asynchronous and the test iterates the one main context, so the server
 * (same thread) answers them.
 */

#include <libsoup/soup.h>

#include "pd-api-server.h"
#include "pd-store-auth.h"
#include "pd-store.h"

typedef struct
{
  char *dir;
  PdStore *store;
  PdStoreAuth *auth;
  PdApiServer *server;
  SoupSession *session;
  GTlsCertificate *certificate;
  char *url;
  gint64 alice_id;
  gint64 bob_id;
  char *alice_token;
  char *bob_token;
  gint64 clock_offset;
  gboolean no_pairing; /* set before start: no tokens made */
} ApiFixture;

typedef struct
{
  guint status;
  char *content_type;
  SoupMessageHeaders *headers;
  GBytes *body;
  JsonNode *json; /* NULL unless the body parsed as JSON */
  GError *error;  /* transport error */
  gint64 elapsed_ms;
} ApiResponse;

void api_response_free (ApiResponse *response);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (ApiResponse, api_response_free)

void api_fixture_set_up (ApiFixture *f, gconstpointer data);
void api_fixture_tear_down (ApiFixture *f, gconstpointer data);

/* Options the fixture server uses; tests may change them before
 * api_fixture_start(). */
void api_fixture_start_with (ApiFixture *f, void (*tweak) (PdApiOptions *options));

/* One request; @token and @body nullable. Extra headers as name, value
 * pairs ending with NULL. */
ApiResponse *api_request (ApiFixture *f, const char *method, const char *path, const char *token, const char *body, ...) G_GNUC_NULL_TERMINATED;
ApiResponse *api_request_bytes (ApiFixture *f, const char *method, const char *path, const char *token, GBytes *body, const char *content_type, GStrv headers);

/* Pairs a device for @user_id through the API and returns its token. */
char *api_pair (ApiFixture *f, gint64 user_id, const char *device_name);

/* Member access on a JSON object response. */
JsonObject *api_object (ApiResponse *response);
const char *api_string (ApiResponse *response, const char *member);
gint64 api_int (ApiResponse *response, const char *member);

/* Asserts a problem+json response with @status (and @field when set). */
void api_assert_problem (ApiResponse *response, guint status, const char *field);

/* Commits one message through the store and waits; returns the event id. */
gint64 api_commit_event (ApiFixture *f, gint64 user_id, const char *channel_id, PosternVerdict verdict, const char *sender, const char *subject);

/* Creates a channel through the API for @token; returns its id. */
char *api_create_channel (ApiFixture *f, const char *token, const char *label);

/* Runs the main context until *done (max 10 s). */
void api_iterate_until (gboolean *done);
void api_drain (void);

gboolean api_accept_certificate_cb (SoupMessage *msg, GTlsCertificate *peer, GTlsCertificateFlags errors, gpointer data);
void api_rm_rf (const char *path);
