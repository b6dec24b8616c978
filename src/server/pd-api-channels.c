/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "pd-api-private.h"

/* Channels, their expected senders, shares and timeline. */

#define ADDRESS_ATTEMPTS    8
#define TIMELINE_MAX_EVENTS 1000

static gboolean
text_is_printable (const char *text)
{
  for (const char *p = text; *p != '\0'; p = g_utf8_next_char (p))
    if (g_unichar_iscntrl (g_utf8_get_char (p)))
      return FALSE;
  return TRUE;
}

static void
reply_channel (PdApiRequest *req,
               guint status,
               PosternChannel *channel)
{
  g_autofree char *etag = g_strdup_printf ("\"%" G_GINT64_FORMAT "\"", postern_channel_get_revision (channel));

  pd_api_reply_json (req, status, postern_channel_to_json (channel));
  soup_message_headers_replace (soup_server_message_get_response_headers (req->msg), "ETag", etag);
}

static gboolean
domain_is_ours (PdApiRequest *req,
                const char *domain)
{
  const PdApiOptions *options = pd_api_server_get_options (req->server);

  return options->domains != NULL && g_strv_contains ((const char *const *)options->domains, domain);
}

/* The enumerated members, set from their wire names. */
static gboolean
set_kind_from_text (PosternChannel *channel,
                    const char *text,
                    GError **error)
{
  PosternChannelKind kind;

  if (!postern_channel_kind_from_string (text, &kind, error))
    return FALSE;
  postern_channel_set_kind (channel, kind);
  return TRUE;
}

static gboolean
set_state_from_text (PosternChannel *channel,
                     const char *text,
                     GError **error)
{
  PosternChannelState state;

  if (!postern_channel_state_from_string (text, &state, error))
    return FALSE;
  postern_channel_set_state (channel, state);
  return TRUE;
}

static gboolean
set_on_unexpected_from_text (PosternChannel *channel,
                             const char *text,
                             GError **error)
{
  PosternUnexpectedPolicy policy;

  if (!postern_unexpected_policy_from_string (text, &policy, error))
    return FALSE;
  postern_channel_set_on_unexpected (channel, policy);
  return TRUE;
}

static gboolean
set_farewell_from_text (PosternChannel *channel,
                        const char *text,
                        GError **error)
{
  PosternFarewell farewell;

  if (!postern_farewell_from_string (text, &farewell, error))
    return FALSE;
  postern_channel_set_farewell (channel, farewell);
  return TRUE;
}

/* The optional string members, in the order they are checked (the first
 * invalid one is the one reported). */
static const struct
{
  const char *name;
  gboolean create_only;
  gboolean (*set) (PosternChannel *channel,
                   const char *text,
                   GError **error);
} text_members[] = {
  { "label", FALSE, postern_channel_set_label },
  { "note", FALSE, postern_channel_set_note },
  { "kind", TRUE, set_kind_from_text },
  { "state", FALSE, set_state_from_text },
  { "on_unexpected", FALSE, set_on_unexpected_from_text },
  { "farewell", FALSE, set_farewell_from_text },
};

/* Applies the mutable members present in @body to @channel; FALSE after
 * replying 400. @for_create also accepts kind. */
static gboolean
apply_members (PdApiRequest *req,
               JsonObject *body,
               PosternChannel *channel,
               gboolean for_create)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) senders = NULL;
  const char *text = NULL;
  gboolean present = FALSE;
  gint64 expires_at = 0;

#define FAIL_WITH(field)                                                                  \
  G_STMT_START                                                                            \
  {                                                                                       \
    pd_api_reply_problem (req, SOUP_STATUS_BAD_REQUEST, "invalid-field", "Invalid field", \
                          field, "%s: %s", field, error->message);                        \
    return FALSE;                                                                         \
  }                                                                                       \
  G_STMT_END

  for (guint i = 0; i < G_N_ELEMENTS (text_members); i++)
    {
      if (text_members[i].create_only && !for_create)
        continue;
      if (!pd_api_member_string (req, body, text_members[i].name, PD_API_MEMBER_OPTIONAL, &text, &present))
        return FALSE;
      if (present && !text_members[i].set (channel, text, &error))
        FAIL_WITH (text_members[i].name);
    }

  if (!pd_api_member_string (req, body, "farewell_text", PD_API_MEMBER_NULLABLE, &text, &present))
    return FALSE;
  if (present && !postern_channel_set_farewell_text (channel, text, &error))
    FAIL_WITH ("farewell_text");
  if (!present && json_object_has_member (body, "farewell_text"))
    postern_channel_set_farewell_text (channel, "", NULL);

  if (!pd_api_member_time (req, body, "expires_at", PD_API_MEMBER_NULLABLE, &expires_at, &present))
    return FALSE;
  if (present)
    postern_channel_set_expires_at (channel, expires_at);

  if (!pd_api_member_string_array (req, body, "expected_senders", PD_API_MEMBER_OPTIONAL, &senders, &present))
    return FALSE;
  if (present)
    {
      postern_channel_clear_expected_senders (channel);
      for (guint i = 0; i < senders->len; i++)
        {
          g_autoptr (PosternSenderPattern) pattern = postern_sender_pattern_parse (g_ptr_array_index (senders, i), &error);

          if (pattern == NULL || !postern_channel_add_expected_sender (channel, pattern, &error))
            {
              g_autofree char *field = g_strdup_printf ("expected_senders[%u]", i);

              FAIL_WITH (field);
            }
        }
    }

#undef FAIL_WITH
  return TRUE;
}

/* Picks or checks the address; FALSE after replying. */
static gboolean
assign_address (PdApiRequest *req,
                JsonObject *body,
                PosternChannel *channel)
{
  PdStore *store = pd_api_server_get_store (req->server);
  const PdApiOptions *options = pd_api_server_get_options (req->server);
  g_autoptr (GError) error = NULL;
  const char *address = NULL;
  const char *style_name = NULL;
  const char *domain = NULL;
  gboolean present = FALSE;
  PosternAddressStyle style = options->address_style;

  if (!pd_api_member_string (req, body, "address", PD_API_MEMBER_NULLABLE, &address, &present))
    return FALSE;
  if (present)
    {
      g_autoptr (PosternMailbox) mailbox = postern_mailbox_parse (address, -1, &error);
      g_autofree char *local = NULL;
      g_autofree char *normalized = NULL;
      g_autoptr (PosternChannel) existing = NULL;
      gint64 owner = 0;

      if (mailbox == NULL)
        {
          pd_api_reply_problem (req, SOUP_STATUS_CONFLICT, "address-unavailable", "Address unavailable",
                                "address", "address: %s", error->message);
          return FALSE;
        }
      if (!domain_is_ours (req, mailbox->domain))
        {
          pd_api_reply_problem (req, SOUP_STATUS_CONFLICT, "address-unavailable", "Address unavailable",
                                "address", "address: %s is not a channel domain of this server",
                                mailbox->domain);
          return FALSE;
        }
      /* '+' starts a subaddress that ingest strips: such a channel could
       * never receive mail. */
      if (strchr (mailbox->local_part, '+') != NULL)
        {
          pd_api_reply_problem (req, SOUP_STATUS_CONFLICT, "address-unavailable", "Address unavailable",
                                "address", "address: the local part may not contain '+'");
          return FALSE;
        }
      local = g_ascii_strdown (mailbox->local_part, -1);
      normalized = g_strdup_printf ("%s@%s", local, mailbox->domain);
      existing = pd_store_lookup_channel (store, normalized, &owner, &error);
      if (existing == NULL && error != NULL)
        {
          pd_api_reply_error (req, error);
          return FALSE;
        }
      if (existing != NULL)
        {
          pd_api_reply_problem (req, SOUP_STATUS_CONFLICT, "address-unavailable", "Address unavailable",
                                "address", "address: %s is already in use", normalized);
          return FALSE;
        }
      if (!postern_channel_set_address (channel, normalized, &error))
        {
          pd_api_reply_problem (req, SOUP_STATUS_CONFLICT, "address-unavailable", "Address unavailable",
                                "address", "address: %s", error->message);
          return FALSE;
        }
      return TRUE;
    }

  if (!pd_api_member_string (req, body, "style", PD_API_MEMBER_NULLABLE, &style_name, &present))
    return FALSE;
  if (present && !postern_address_style_from_string (style_name, &style, &error))
    {
      pd_api_reply_problem (req, SOUP_STATUS_BAD_REQUEST, "invalid-field", "Invalid field",
                            "style", "style: %s", error->message);
      return FALSE;
    }
  if (!pd_api_member_string (req, body, "domain", PD_API_MEMBER_NULLABLE, &domain, &present))
    return FALSE;
  if (present && !domain_is_ours (req, domain))
    {
      pd_api_reply_problem (req, SOUP_STATUS_BAD_REQUEST, "invalid-field", "Invalid field",
                            "domain", "domain: %s is not a channel domain of this server", domain);
      return FALSE;
    }
  if (!present)
    {
      if (options->domains == NULL || options->domains[0] == NULL)
        {
          pd_api_reply_problem (req, SOUP_STATUS_SERVICE_UNAVAILABLE, "no-domain", "No channel domain",
                                NULL, "The server has no channel domain configured");
          return FALSE;
        }
      domain = options->domains[0];
    }

  for (guint attempt = 0; attempt < ADDRESS_ATTEMPTS; attempt++)
    {
      g_autofree char *local = postern_address_generate_local_part (style);
      g_autofree char *candidate = g_strdup_printf ("%s@%s", local, domain);
      g_autoptr (PosternChannel) existing = NULL;
      gint64 owner = 0;

      existing = pd_store_lookup_channel (store, candidate, &owner, &error);
      if (existing == NULL && error != NULL)
        {
          pd_api_reply_error (req, error);
          return FALSE;
        }
      if (existing == NULL)
        {
          if (!postern_channel_set_address (channel, candidate, &error))
            {
              pd_api_reply_error (req, error);
              return FALSE;
            }
          return TRUE;
        }
    }
  pd_api_reply_problem (req, SOUP_STATUS_SERVICE_UNAVAILABLE, "address-space-exhausted",
                        "No free address", NULL, "Could not find an unused address; try again");
  return FALSE;
}

void
pd_api_channels_create (PdApiRequest *req)
{
  PdStore *store = pd_api_server_get_store (req->server);
  g_autoptr (JsonObject) body = NULL;
  g_autoptr (PosternChannel) channel = postern_channel_new ();
  g_autoptr (PosternChannel) stored = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *id = NULL;
  g_autofree char *location = NULL;
  const char *client_id = NULL;
  gboolean present = FALSE;

  body = pd_api_read_object (req);
  if (body == NULL)
    return;
  if (!pd_api_member_string (req, body, "id", PD_API_MEMBER_NULLABLE, &client_id, &present))
    return;
  if (present)
    {
      if (!postern_uuid_is_valid (client_id))
        {
          pd_api_reply_problem (req, SOUP_STATUS_BAD_REQUEST, "invalid-field", "Invalid field",
                                "id", "id: expected a UUID");
          return;
        }
      id = g_ascii_strdown (client_id, -1);
      /* Idempotent creation: a retried request gets the stored channel. */
      stored = pd_store_get_channel (store, req->user_id, id, &error);
      if (stored != NULL)
        {
          reply_channel (req, SOUP_STATUS_OK, stored);
          return;
        }
      if (!g_error_matches (error, PD_STORE_ERROR, PD_STORE_ERROR_NOT_FOUND) && error != NULL)
        {
          pd_api_reply_error (req, error);
          return;
        }
      g_clear_error (&error);
    }
  else
    id = postern_uuid_new ();

  if (!postern_channel_set_id (channel, id, &error))
    {
      pd_api_reply_error (req, error);
      return;
    }
  if (!apply_members (req, body, channel, TRUE))
    return;
  if (postern_channel_get_state (channel) == POSTERN_CHANNEL_STATE_REVOKED)
    {
      pd_api_reply_problem (req, SOUP_STATUS_BAD_REQUEST, "invalid-field", "Invalid field",
                            "state", "state: a new channel is active or paused");
      return;
    }
  if (!assign_address (req, body, channel))
    return;
  postern_channel_set_created_at (channel, req->now);

  stored = pd_store_create_channel (store, req->user_id, channel, &error);
  if (stored == NULL)
    {
      if (g_error_matches (error, PD_STORE_ERROR, PD_STORE_ERROR_EXISTS))
        pd_api_reply_problem (req, SOUP_STATUS_CONFLICT, "exists", "Already exists", NULL,
                              "A channel with this id or address exists");
      else
        pd_api_reply_error (req, error);
      return;
    }

  reply_channel (req, SOUP_STATUS_CREATED, stored);
  location = g_strdup_printf ("/api/v1/channels/%s", postern_channel_get_id (stored));
  soup_message_headers_replace (soup_server_message_get_response_headers (req->msg), "Location", location);
}

void
pd_api_channels_list (PdApiRequest *req)
{
  PdStore *store = pd_api_server_get_store (req->server);
  g_autoptr (GPtrArray) channels = NULL;
  g_autoptr (GPtrArray) tombstones = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonBuilder) builder = json_builder_new ();
  gint64 since = 0;
  gint64 revision;

  if (!pd_api_query_int (req, "since", 0, G_MAXINT64, 0, &since))
    return;
  /* Read before the list: a change committed in between is in the list
   * and raises the revision below; deletions are covered by this read. */
  revision = pd_store_auth_get_channel_revision (pd_api_server_get_auth (req->server), req->user_id, &error);
  if (revision < 0)
    {
      pd_api_reply_error (req, error);
      return;
    }
  revision = MAX (revision, since);
  if (since == 0)
    {
      g_autoptr (GBytes) cached = pd_api_server_lookup_list_cache (req->server, req->user_id, revision);

      if (cached != NULL)
        {
          pd_api_reply_json_bytes (req, SOUP_STATUS_OK, cached);
          return;
        }
    }
  channels = pd_store_list_channels (store, req->user_id, since, &tombstones, &error);
  if (channels == NULL)
    {
      pd_api_reply_error (req, error);
      return;
    }

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "channels");
  json_builder_begin_array (builder);
  for (guint i = 0; i < channels->len; i++)
    {
      PosternChannel *channel = g_ptr_array_index (channels, i);

      revision = MAX (revision, postern_channel_get_revision (channel));
      json_builder_add_value (builder, postern_channel_to_json (channel));
    }
  json_builder_end_array (builder);
  json_builder_set_member_name (builder, "deleted");
  json_builder_begin_array (builder);
  for (guint i = 0; tombstones != NULL && i < tombstones->len; i++)
    json_builder_add_string_value (builder, g_ptr_array_index (tombstones, i));
  json_builder_end_array (builder);
  json_builder_set_member_name (builder, "revision");
  json_builder_add_int_value (builder, revision);
  json_builder_end_object (builder);
  if (since == 0)
    {
      g_autoptr (JsonNode) root = json_builder_get_root (builder);
      gsize length = 0;
      char *text = json_to_string (root, FALSE);
      g_autoptr (GBytes) body = NULL;

      length = strlen (text);
      body = g_bytes_new_take (text, length);
      /* Keyed by the revision read before the list: the body is at least
       * that new, never older. */
      pd_api_server_store_list_cache (req->server, req->user_id, revision, body);
      pd_api_reply_json_bytes (req, SOUP_STATUS_OK, body);
      return;
    }
  pd_api_reply_json (req, SOUP_STATUS_OK, json_builder_get_root (builder));
}

void
pd_api_channels_get (PdApiRequest *req)
{
  g_autoptr (PosternChannel) channel = pd_api_lookup_channel (req, req->segments[1]);

  if (channel != NULL)
    reply_channel (req, SOUP_STATUS_OK, channel);
}

/* The revision named by If-Match: 0 for none or "*"; -1 after replying. */
static gint64
if_match_revision (PdApiRequest *req)
{
  const char *header = soup_message_headers_get_one (soup_server_message_get_request_headers (req->msg), "If-Match");
  g_autofree char *text = NULL;
  gint64 revision;

  if (header == NULL)
    return 0;
  text = g_strstrip (g_strdup (header));
  if (g_str_equal (text, "*"))
    return 0;
  if (text[0] == '"' && strlen (text) >= 2 && text[strlen (text) - 1] == '"')
    {
      text[strlen (text) - 1] = '\0';
      memmove (text, text + 1, strlen (text));
    }
  if (!g_ascii_string_to_signed (text, 10, 1, G_MAXINT64, &revision, NULL))
    {
      pd_api_reply_problem (req, SOUP_STATUS_BAD_REQUEST, "invalid-field", "Invalid field",
                            "If-Match", "If-Match: expected a revision such as \"12\"");
      return -1;
    }
  return revision;
}

/* Stores @channel (a modified copy of @stored) and replies. */
static void
store_update (PdApiRequest *req,
              PosternChannel *stored,
              PosternChannel *channel,
              gint64 if_revision)
{
  g_autoptr (PosternChannel) updated = NULL;
  g_autoptr (GError) error = NULL;

  if (postern_channel_get_state (stored) == POSTERN_CHANNEL_STATE_REVOKED && postern_channel_get_state (channel) != POSTERN_CHANNEL_STATE_REVOKED)
    {
      pd_api_reply_problem (req, SOUP_STATUS_CONFLICT, "channel-revoked", "Channel revoked",
                            "state", "state: a revoked channel stays revoked");
      return;
    }
  if (if_revision != 0 && if_revision != postern_channel_get_revision (stored))
    {
      pd_api_reply_problem (req, SOUP_STATUS_PRECONDITION_FAILED, "stale-revision",
                            "The resource changed", NULL,
                            "The channel is at revision %" G_GINT64_FORMAT ", not %" G_GINT64_FORMAT,
                            postern_channel_get_revision (stored), if_revision);
      return;
    }
  if (postern_channel_equal (stored, channel))
    {
      reply_channel (req, SOUP_STATUS_OK, stored);
      return;
    }
  updated = pd_store_update_channel (pd_api_server_get_store (req->server), req->user_id, channel,
                                     if_revision, &error);
  if (updated == NULL)
    {
      pd_api_reply_error (req, error);
      return;
    }
  reply_channel (req, SOUP_STATUS_OK, updated);
}

void
pd_api_channels_patch (PdApiRequest *req)
{
  g_autoptr (PosternChannel) stored = NULL;
  g_autoptr (PosternChannel) channel = NULL;
  g_autoptr (JsonObject) body = NULL;
  gint64 if_revision;

  stored = pd_api_lookup_channel (req, req->segments[1]);
  if (stored == NULL)
    return;
  if_revision = if_match_revision (req);
  if (if_revision < 0)
    return;
  body = pd_api_read_object (req);
  if (body == NULL)
    return;
  channel = postern_channel_copy (stored);
  if (!apply_members (req, body, channel, FALSE))
    return;
  store_update (req, stored, channel, if_revision);
}

void
pd_api_channels_revoke (PdApiRequest *req)
{
  g_autoptr (PosternChannel) stored = NULL;
  g_autoptr (PosternChannel) channel = NULL;
  gint64 if_revision;

  stored = pd_api_lookup_channel (req, req->segments[1]);
  if (stored == NULL)
    return;
  if_revision = if_match_revision (req);
  if (if_revision < 0)
    return;
  channel = postern_channel_copy (stored);
  postern_channel_set_state (channel, POSTERN_CHANNEL_STATE_REVOKED);
  store_update (req, stored, channel, if_revision);
}

void
pd_api_channels_delete (PdApiRequest *req)
{
  g_autoptr (PosternChannel) stored = NULL;
  g_autoptr (GError) error = NULL;

  stored = pd_api_lookup_channel (req, req->segments[1]);
  if (stored == NULL)
    return;
  if (!pd_store_delete_channel (pd_api_server_get_store (req->server), req->user_id,
                                postern_channel_get_id (stored), &error))
    {
      pd_api_reply_error (req, error);
      return;
    }
  pd_api_reply_empty (req, SOUP_STATUS_NO_CONTENT);
}

void
pd_api_channels_add_sender (PdApiRequest *req)
{
  g_autoptr (PosternChannel) stored = NULL;
  g_autoptr (PosternChannel) channel = NULL;
  g_autoptr (PosternSenderPattern) pattern = NULL;
  g_autoptr (JsonObject) body = NULL;
  g_autoptr (GError) error = NULL;
  const char *text = NULL;
  gint64 if_revision;

  stored = pd_api_lookup_channel (req, req->segments[1]);
  if (stored == NULL)
    return;
  if_revision = if_match_revision (req);
  if (if_revision < 0)
    return;
  body = pd_api_read_object (req);
  if (body == NULL || !pd_api_member_string (req, body, "pattern", PD_API_MEMBER_REQUIRED, &text, NULL))
    return;
  pattern = postern_sender_pattern_parse (text, &error);
  if (pattern == NULL)
    {
      pd_api_reply_problem (req, SOUP_STATUS_BAD_REQUEST, "invalid-field", "Invalid field",
                            "pattern", "pattern: %s", error->message);
      return;
    }
  channel = postern_channel_copy (stored);
  if (!postern_channel_add_expected_sender (channel, pattern, &error))
    {
      pd_api_reply_problem (req, SOUP_STATUS_CONFLICT, "too-many-senders", "Too many expected senders",
                            "pattern", "pattern: %s", error->message);
      return;
    }
  store_update (req, stored, channel, if_revision);
}

void
pd_api_channels_remove_sender (PdApiRequest *req)
{
  g_autoptr (PosternChannel) stored = NULL;
  g_autoptr (PosternChannel) channel = NULL;
  g_autoptr (PosternSenderPattern) pattern = NULL;
  gint64 if_revision;

  stored = pd_api_lookup_channel (req, req->segments[1]);
  if (stored == NULL)
    return;
  if_revision = if_match_revision (req);
  if (if_revision < 0)
    return;
  pattern = postern_sender_pattern_parse (req->segments[3], NULL);
  channel = postern_channel_copy (stored);
  if (pattern == NULL || !postern_channel_remove_expected_sender (channel, pattern))
    {
      pd_api_reply_problem (req, SOUP_STATUS_NOT_FOUND, "not-found", "Not found", NULL,
                            "The channel has no such expected sender");
      return;
    }
  store_update (req, stored, channel, if_revision);
}

/* ---- shares and the timeline ---- */

static JsonNode *
share_to_json (const PdShare *share)
{
  g_autoptr (JsonBuilder) builder = json_builder_new ();
  g_autofree char *time = postern_json_format_time (share->shared_at);

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "id");
  json_builder_add_int_value (builder, share->id);
  json_builder_set_member_name (builder, "channel_id");
  json_builder_add_string_value (builder, share->channel_id);
  json_builder_set_member_name (builder, "method");
  json_builder_add_string_value (builder, postern_share_method_to_string (share->method));
  json_builder_set_member_name (builder, "recipient");
  json_builder_add_string_value (builder, share->recipient);
  json_builder_set_member_name (builder, "shared_at");
  json_builder_add_string_value (builder, time);
  json_builder_end_object (builder);
  return json_builder_get_root (builder);
}

void
pd_api_channels_add_share (PdApiRequest *req)
{
  g_autoptr (PosternChannel) channel = NULL;
  g_autoptr (JsonObject) body = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (PdShare) share = NULL;
  const char *method_name = NULL;
  const char *recipient = "";
  PosternShareMethod method;
  gint64 shared_at = req->now;

  channel = pd_api_lookup_channel (req, req->segments[1]);
  if (channel == NULL)
    return;
  body = pd_api_read_object (req);
  if (body == NULL || !pd_api_member_string (req, body, "method", PD_API_MEMBER_REQUIRED, &method_name, NULL) || !pd_api_member_string (req, body, "recipient", PD_API_MEMBER_NULLABLE, &recipient, NULL) || !pd_api_member_time (req, body, "shared_at", PD_API_MEMBER_NULLABLE, &shared_at, NULL))
    return;
  if (!postern_share_method_from_string (method_name, &method, &error))
    {
      pd_api_reply_problem (req, SOUP_STATUS_BAD_REQUEST, "invalid-field", "Invalid field",
                            "method", "method: %s", error->message);
      return;
    }
  if (g_utf8_strlen (recipient, -1) > PD_SHARE_RECIPIENT_MAX || !text_is_printable (recipient))
    {
      pd_api_reply_problem (req, SOUP_STATUS_BAD_REQUEST, "invalid-field", "Invalid field",
                            "recipient", "recipient: at most %d printable characters", PD_SHARE_RECIPIENT_MAX);
      return;
    }
  if (shared_at == 0)
    shared_at = req->now;

  share = pd_store_auth_add_share (pd_api_server_get_auth (req->server), req->user_id,
                                   postern_channel_get_id (channel), method, recipient, shared_at, &error);
  if (share == NULL)
    {
      pd_api_reply_error (req, error);
      return;
    }
  pd_api_reply_json (req, SOUP_STATUS_CREATED, share_to_json (share));
}

void
pd_api_channels_list_shares (PdApiRequest *req)
{
  g_autoptr (PosternChannel) channel = NULL;
  g_autoptr (GPtrArray) shares = NULL;
  g_autoptr (GError) error = NULL;

  channel = pd_api_lookup_channel (req, req->segments[1]);
  if (channel == NULL)
    return;
  shares = pd_store_auth_list_shares (pd_api_server_get_auth (req->server), req->user_id,
                                      postern_channel_get_id (channel), &error);
  if (shares == NULL)
    {
      pd_api_reply_error (req, error);
      return;
    }
  pd_api_reply_list (req, "shares", shares, (PdApiToJsonFunc)share_to_json);
}

typedef enum
{
  ENTRY_CREATED,
  ENTRY_SHARE,
  ENTRY_EVENT,
} EntryKind;

typedef struct
{
  gint64 time;
  EntryKind kind;
  gint64 order; /* id, to keep equal times stable */
  const PdShare *share;
  PosternEvent *event;
  const char *first; /* "expected", "stranger" or NULL */
} TimelineEntry;

static int
compare_entries (gconstpointer a,
                 gconstpointer b)
{
  const TimelineEntry *x = a, *y = b;

  if (x->time != y->time)
    return x->time < y->time ? -1 : 1;
  if (x->kind != y->kind)
    return x->kind < y->kind ? -1 : 1;
  return x->order < y->order ? -1 : x->order > y->order;
}

static gboolean
verdict_is_stranger (PosternVerdict verdict)
{
  return verdict == POSTERN_VERDICT_UNEXPECTED || verdict == POSTERN_VERDICT_HELD || verdict == POSTERN_VERDICT_REJECTED_UNEXPECTED || verdict == POSTERN_VERDICT_REJECTED_BLOCKED;
}

/* One CSV cell (RFC 4180 quoting). A leading = + - @ is prefixed with '
 * so that spreadsheets do not run sender-controlled text as a formula. */
static void
csv_cell (GString *out,
          const char *text,
          gboolean last)
{
  if (text == NULL)
    text = "";
  g_string_append_c (out, '"');
  if (text[0] == '=' || text[0] == '+' || text[0] == '-' || text[0] == '@')
    g_string_append_c (out, '\'');
  for (const char *p = text; *p != '\0'; p++)
    {
      if (*p == '"')
        g_string_append_c (out, '"');
      g_string_append_c (out, *p);
    }
  g_string_append_c (out, '"');
  g_string_append (out, last ? "\r\n" : ",");
}

void
pd_api_channels_timeline (PdApiRequest *req)
{
  g_autoptr (PosternChannel) channel = NULL;
  g_autoptr (GPtrArray) shares = NULL;
  g_autoptr (GPtrArray) events = NULL;
  g_autoptr (GArray) entries = g_array_new (FALSE, TRUE, sizeof (TimelineEntry));
  g_autoptr (GError) error = NULL;
  const char *format = pd_api_query (req, "format");
  gboolean seen_expected = FALSE, seen_stranger = FALSE;
  TimelineEntry created = { 0 };

  if (format != NULL && !g_str_equal (format, "json") && !g_str_equal (format, "csv"))
    {
      pd_api_reply_problem (req, SOUP_STATUS_BAD_REQUEST, "invalid-field", "Invalid field",
                            "format", "format: expected one of json, csv");
      return;
    }
  channel = pd_api_lookup_channel (req, req->segments[1]);
  if (channel == NULL)
    return;
  shares = pd_store_auth_list_shares (pd_api_server_get_auth (req->server), req->user_id,
                                      postern_channel_get_id (channel), &error);
  if (shares == NULL)
    {
      pd_api_reply_error (req, error);
      return;
    }
  events = pd_store_list_events (pd_api_server_get_store (req->server), req->user_id, 0, 0,
                                 TIMELINE_MAX_EVENTS, FALSE, postern_channel_get_id (channel), -1, &error);
  if (events == NULL)
    {
      pd_api_reply_error (req, error);
      return;
    }

  created.time = postern_channel_get_created_at (channel);
  created.kind = ENTRY_CREATED;
  g_array_append_val (entries, created);
  for (guint i = 0; i < shares->len; i++)
    {
      const PdShare *share = g_ptr_array_index (shares, i);
      TimelineEntry entry = { share->shared_at, ENTRY_SHARE, share->id, share, NULL, NULL };

      g_array_append_val (entries, entry);
    }
  for (guint i = 0; i < events->len; i++)
    {
      PosternEvent *event = g_ptr_array_index (events, i);
      PosternVerdict verdict = postern_event_get_verdict (event);
      TimelineEntry entry = { postern_event_get_received_at (event), ENTRY_EVENT,
                              postern_event_get_id (event), NULL, event, NULL };

      /* Events come oldest first, so the first match is the first one. */
      if (!seen_expected && verdict == POSTERN_VERDICT_EXPECTED)
        {
          entry.first = "expected";
          seen_expected = TRUE;
        }
      else if (!seen_stranger && verdict_is_stranger (verdict))
        {
          entry.first = "stranger";
          seen_stranger = TRUE;
        }
      g_array_append_val (entries, entry);
    }
  g_array_sort (entries, compare_entries);

  if (format != NULL && g_str_equal (format, "csv"))
    {
      GString *csv = g_string_new ("time,type,first,method_or_verdict,who,subject\r\n");
      g_autofree char *disposition = NULL;
      gsize length;

      for (guint i = 0; i < entries->len; i++)
        {
          const TimelineEntry *entry = &g_array_index (entries, TimelineEntry, i);
          g_autofree char *time = postern_json_format_time (entry->time);

          csv_cell (csv, time, FALSE);
          switch (entry->kind)
            {
              case ENTRY_CREATED:
                csv_cell (csv, "created", FALSE);
                csv_cell (csv, "", FALSE);
                csv_cell (csv, "", FALSE);
                csv_cell (csv, postern_channel_get_label (channel), FALSE);
                csv_cell (csv, "", TRUE);
                break;
              case ENTRY_SHARE:
                csv_cell (csv, "share", FALSE);
                csv_cell (csv, "", FALSE);
                csv_cell (csv, postern_share_method_to_string (entry->share->method), FALSE);
                csv_cell (csv, entry->share->recipient, FALSE);
                csv_cell (csv, "", TRUE);
                break;
              case ENTRY_EVENT:
              default:
                csv_cell (csv, "event", FALSE);
                csv_cell (csv, entry->first, FALSE);
                csv_cell (csv, postern_verdict_to_string (postern_event_get_verdict (entry->event)), FALSE);
                csv_cell (csv, postern_event_get_header_from (entry->event) ? postern_event_get_header_from (entry->event) : postern_event_get_envelope_sender (entry->event), FALSE);
                csv_cell (csv, postern_event_get_subject (entry->event), TRUE);
                break;
            }
        }
      length = csv->len;
      soup_server_message_set_status (req->msg, SOUP_STATUS_OK, NULL);
      soup_server_message_set_response (req->msg, "text/csv; charset=utf-8", SOUP_MEMORY_TAKE,
                                        g_string_free (csv, FALSE), length);
      disposition = g_strdup_printf ("attachment; filename=\"timeline-%s.csv\"", postern_channel_get_id (channel));
      soup_message_headers_replace (soup_server_message_get_response_headers (req->msg),
                                    "Content-Disposition", disposition);
      return;
    }

  {
    g_autoptr (JsonBuilder) builder = json_builder_new ();

    json_builder_begin_object (builder);
    json_builder_set_member_name (builder, "channel");
    json_builder_add_value (builder, postern_channel_to_json (channel));
    json_builder_set_member_name (builder, "entries");
    json_builder_begin_array (builder);
    for (guint i = 0; i < entries->len; i++)
      {
        const TimelineEntry *entry = &g_array_index (entries, TimelineEntry, i);
        g_autofree char *time = postern_json_format_time (entry->time);

        json_builder_begin_object (builder);
        json_builder_set_member_name (builder, "time");
        json_builder_add_string_value (builder, time);
        json_builder_set_member_name (builder, "type");
        switch (entry->kind)
          {
            case ENTRY_CREATED:
              json_builder_add_string_value (builder, "created");
              break;
            case ENTRY_SHARE:
              json_builder_add_string_value (builder, "share");
              json_builder_set_member_name (builder, "share");
              json_builder_add_value (builder, share_to_json (entry->share));
              break;
            case ENTRY_EVENT:
            default:
              json_builder_add_string_value (builder, "event");
              json_builder_set_member_name (builder, "first");
              if (entry->first != NULL)
                json_builder_add_string_value (builder, entry->first);
              else
                json_builder_add_null_value (builder);
              json_builder_set_member_name (builder, "event");
              json_builder_add_value (builder, postern_event_to_json (entry->event));
              break;
          }
        json_builder_end_object (builder);
      }
    json_builder_end_array (builder);
    json_builder_end_object (builder);
    pd_api_reply_json (req, SOUP_STATUS_OK, json_builder_get_root (builder));
  }
}
