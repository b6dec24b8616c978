/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "postern-client-error.h"
#include "postern-mutation.h"

#define MUTATION_QUEUE_VERSION 1
#define MUTATION_MAX_ERROR     500

G_DEFINE_BOXED_TYPE (PosternMutation, postern_mutation, postern_mutation_copy, postern_mutation_free)

static const char *const op_names[] = {
  [POSTERN_MUTATION_CREATE] = "create",
  [POSTERN_MUTATION_UPDATE] = "update",
  [POSTERN_MUTATION_REVOKE] = "revoke",
  [POSTERN_MUTATION_PAUSE] = "pause",
  [POSTERN_MUTATION_RESUME] = "resume",
  [POSTERN_MUTATION_TRUST] = "trust",
  [POSTERN_MUTATION_UNTRUST] = "untrust",
  [POSTERN_MUTATION_BLOCK] = "block",
  [POSTERN_MUTATION_SHARE] = "share",
};

const char *
postern_mutation_op_to_string (PosternMutationOp op)
{
  g_return_val_if_fail ((guint)op < G_N_ELEMENTS (op_names), NULL);
  return op_names[op];
}

gboolean
postern_mutation_op_from_string (const char *text,
                                 PosternMutationOp *out,
                                 GError **error)
{
  for (guint i = 0; i < G_N_ELEMENTS (op_names); i++)
    if (g_strcmp0 (text, op_names[i]) == 0)
      {
        *out = (PosternMutationOp)i;
        return TRUE;
      }

  g_set_error (error, POSTERN_CORE_ERROR, POSTERN_CORE_ERROR_INVALID_JSON,
               "op: expected one of create, update, revoke, pause, resume, "
               "trust, untrust, block, share");
  return FALSE;
}

PosternMutation *
postern_mutation_new (PosternMutationOp op,
                      const char *channel_id)
{
  PosternMutation *self = g_new0 (PosternMutation, 1);

  self->op = op;
  self->id = postern_uuid_new ();
  self->channel_id = g_strdup (channel_id);
  self->queued_at = g_get_real_time () / G_USEC_PER_SEC;

  return self;
}

PosternMutation *
postern_mutation_copy (const PosternMutation *self)
{
  PosternMutation *copy;

  g_return_val_if_fail (self != NULL, NULL);

  copy = g_new0 (PosternMutation, 1);
  copy->op = self->op;
  copy->id = g_strdup (self->id);
  copy->channel_id = g_strdup (self->channel_id);
  copy->pattern = g_strdup (self->pattern);
  copy->payload = self->payload != NULL ? json_node_copy (self->payload) : NULL;
  copy->queued_at = self->queued_at;
  copy->attempts = self->attempts;
  copy->last_error = g_strdup (self->last_error);

  return copy;
}

void
postern_mutation_free (PosternMutation *self)
{
  if (self == NULL)
    return;

  g_free (self->id);
  g_free (self->channel_id);
  g_free (self->pattern);
  g_clear_pointer (&self->payload, json_node_unref);
  g_free (self->last_error);
  g_free (self);
}

JsonNode *
postern_mutation_to_json (const PosternMutation *self)
{
  g_autoptr (JsonBuilder) builder = json_builder_new ();
  g_autofree char *queued_at = NULL;

  g_return_val_if_fail (self != NULL, NULL);

  queued_at = postern_json_format_time (self->queued_at);

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "id");
  json_builder_add_string_value (builder, self->id);
  json_builder_set_member_name (builder, "op");
  json_builder_add_string_value (builder, postern_mutation_op_to_string (self->op));
  json_builder_set_member_name (builder, "channel_id");
  if (self->channel_id != NULL)
    json_builder_add_string_value (builder, self->channel_id);
  else
    json_builder_add_null_value (builder);
  if (self->pattern != NULL)
    {
      json_builder_set_member_name (builder, "pattern");
      json_builder_add_string_value (builder, self->pattern);
    }
  if (self->payload != NULL)
    {
      json_builder_set_member_name (builder, "payload");
      json_builder_add_value (builder, json_node_copy (self->payload));
    }
  json_builder_set_member_name (builder, "queued_at");
  json_builder_add_string_value (builder, queued_at);
  json_builder_set_member_name (builder, "attempts");
  json_builder_add_int_value (builder, self->attempts);
  if (self->last_error != NULL)
    {
      json_builder_set_member_name (builder, "last_error");
      json_builder_add_string_value (builder, self->last_error);
    }
  json_builder_end_object (builder);

  return json_builder_get_root (builder);
}

static gboolean
get_string_member (JsonObject *object,
                   const char *name,
                   gboolean required,
                   const char **out,
                   GError **error)
{
  JsonNode *node = json_object_get_member (object, name);

  *out = NULL;
  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    {
      if (!required)
        return TRUE;
      g_set_error (error, POSTERN_CORE_ERROR, POSTERN_CORE_ERROR_INVALID_JSON,
                   "%s: missing", name);
      return FALSE;
    }
  if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_STRING || !g_utf8_validate (json_node_get_string (node), -1, NULL))
    {
      g_set_error (error, POSTERN_CORE_ERROR, POSTERN_CORE_ERROR_INVALID_JSON,
                   "%s: expected a string", name);
      return FALSE;
    }
  *out = json_node_get_string (node);
  return TRUE;
}

static gboolean
op_needs_pattern (PosternMutationOp op)
{
  return op == POSTERN_MUTATION_TRUST || op == POSTERN_MUTATION_UNTRUST || op == POSTERN_MUTATION_BLOCK;
}

static gboolean
op_needs_payload (PosternMutationOp op)
{
  return op == POSTERN_MUTATION_CREATE || op == POSTERN_MUTATION_UPDATE || op == POSTERN_MUTATION_SHARE;
}

PosternMutation *
postern_mutation_new_from_json (JsonNode *node,
                                GError **error)
{
  g_autoptr (PosternMutation) self = NULL;
  JsonObject *object;
  JsonNode *member;
  const char *text;

  g_return_val_if_fail (node != NULL, NULL);

  if (!JSON_NODE_HOLDS_OBJECT (node))
    {
      g_set_error_literal (error, POSTERN_CORE_ERROR, POSTERN_CORE_ERROR_INVALID_JSON,
                           "mutation: expected an object");
      return NULL;
    }
  object = json_node_get_object (node);
  self = g_new0 (PosternMutation, 1);

  if (!get_string_member (object, "op", TRUE, &text, error) || !postern_mutation_op_from_string (text, &self->op, error))
    return NULL;

  if (!get_string_member (object, "id", TRUE, &text, error))
    return NULL;
  if (!postern_uuid_is_valid (text))
    {
      g_set_error_literal (error, POSTERN_CORE_ERROR, POSTERN_CORE_ERROR_INVALID_JSON,
                           "id: expected a UUID");
      return NULL;
    }
  self->id = g_strdup (text);

  if (!get_string_member (object, "channel_id", self->op != POSTERN_MUTATION_BLOCK, &text, error))
    return NULL;
  if (text != NULL && !postern_uuid_is_valid (text))
    {
      g_set_error_literal (error, POSTERN_CORE_ERROR, POSTERN_CORE_ERROR_INVALID_JSON,
                           "channel_id: expected a UUID");
      return NULL;
    }
  self->channel_id = g_strdup (text);

  if (!get_string_member (object, "pattern", op_needs_pattern (self->op), &text, error))
    return NULL;
  self->pattern = g_strdup (text);

  member = json_object_get_member (object, "payload");
  if (member != NULL && !JSON_NODE_HOLDS_NULL (member))
    {
      if (!JSON_NODE_HOLDS_OBJECT (member))
        {
          g_set_error_literal (error, POSTERN_CORE_ERROR, POSTERN_CORE_ERROR_INVALID_JSON,
                               "payload: expected an object");
          return NULL;
        }
      self->payload = json_node_copy (member);
    }
  else if (op_needs_payload (self->op))
    {
      g_set_error_literal (error, POSTERN_CORE_ERROR, POSTERN_CORE_ERROR_INVALID_JSON,
                           "payload: missing");
      return NULL;
    }

  if (!get_string_member (object, "queued_at", TRUE, &text, error))
    return NULL;
  if (!postern_json_parse_time (text, &self->queued_at, NULL))
    {
      g_set_error_literal (error, POSTERN_CORE_ERROR, POSTERN_CORE_ERROR_INVALID_JSON,
                           "queued_at: expected an ISO 8601 time");
      return NULL;
    }

  member = json_object_get_member (object, "attempts");
  if (member != NULL)
    {
      gint64 attempts;

      if (!JSON_NODE_HOLDS_VALUE (member) || json_node_get_value_type (member) != G_TYPE_INT64 || (attempts = json_node_get_int (member)) < 0 || attempts > G_MAXUINT)
        {
          g_set_error_literal (error, POSTERN_CORE_ERROR, POSTERN_CORE_ERROR_INVALID_JSON,
                               "attempts: expected a non-negative integer");
          return NULL;
        }
      self->attempts = (guint)attempts;
    }

  if (!get_string_member (object, "last_error", FALSE, &text, error))
    return NULL;
  self->last_error = g_strdup (text);

  return g_steal_pointer (&self);
}

char *
postern_mutation_queue_to_string (GPtrArray *queue)
{
  g_autoptr (JsonBuilder) builder = json_builder_new ();
  g_autoptr (JsonNode) root = NULL;

  g_return_val_if_fail (queue != NULL, NULL);

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "version");
  json_builder_add_int_value (builder, MUTATION_QUEUE_VERSION);
  json_builder_set_member_name (builder, "mutations");
  json_builder_begin_array (builder);
  for (guint i = 0; i < queue->len; i++)
    json_builder_add_value (builder, postern_mutation_to_json (g_ptr_array_index (queue, i)));
  json_builder_end_array (builder);
  json_builder_end_object (builder);

  root = json_builder_get_root (builder);
  return postern_json_to_string (root, FALSE);
}

GPtrArray *
postern_mutation_queue_from_string (const char *text,
                                    GError **error)
{
  g_autoptr (JsonNode) root = NULL;
  g_autoptr (GPtrArray) queue = NULL;
  JsonObject *object;
  JsonNode *member;
  JsonArray *array;

  g_return_val_if_fail (text != NULL, NULL);

  root = postern_json_from_string (text, -1, error);
  if (root == NULL)
    return NULL;

  if (!JSON_NODE_HOLDS_OBJECT (root))
    {
      g_set_error_literal (error, POSTERN_CORE_ERROR, POSTERN_CORE_ERROR_INVALID_JSON,
                           "queue: expected an object");
      return NULL;
    }
  object = json_node_get_object (root);

  member = json_object_get_member (object, "version");
  if (member == NULL || !JSON_NODE_HOLDS_VALUE (member) || json_node_get_value_type (member) != G_TYPE_INT64 || json_node_get_int (member) != MUTATION_QUEUE_VERSION)
    {
      g_set_error_literal (error, POSTERN_CORE_ERROR, POSTERN_CORE_ERROR_INVALID_JSON,
                           "version: expected 1");
      return NULL;
    }

  member = json_object_get_member (object, "mutations");
  if (member == NULL || !JSON_NODE_HOLDS_ARRAY (member))
    {
      g_set_error_literal (error, POSTERN_CORE_ERROR, POSTERN_CORE_ERROR_INVALID_JSON,
                           "mutations: expected an array");
      return NULL;
    }
  array = json_node_get_array (member);
  if (json_array_get_length (array) > POSTERN_MUTATION_QUEUE_MAX)
    {
      g_set_error_literal (error, POSTERN_CORE_ERROR, POSTERN_CORE_ERROR_INVALID_JSON,
                           "mutations: too many");
      return NULL;
    }

  queue = g_ptr_array_new_with_free_func ((GDestroyNotify)postern_mutation_free);
  for (guint i = 0; i < json_array_get_length (array); i++)
    {
      PosternMutation *mutation = postern_mutation_new_from_json (json_array_get_element (array, i), error);

      if (mutation == NULL)
        {
          g_prefix_error (error, "mutations[%u].", i);
          return NULL;
        }
      g_ptr_array_add (queue, mutation);
    }

  return g_steal_pointer (&queue);
}

static gboolean
same_channel (const PosternMutation *a,
              const PosternMutation *b)
{
  return g_strcmp0 (a->channel_id, b->channel_id) == 0;
}

static gboolean
is_state_op (PosternMutationOp op)
{
  return op == POSTERN_MUTATION_PAUSE || op == POSTERN_MUTATION_RESUME;
}

gboolean
postern_mutation_queue_add (GPtrArray *queue,
                            PosternMutation *mutation)
{
  g_autoptr (PosternMutation) owned = mutation;

  g_return_val_if_fail (queue != NULL, FALSE);
  g_return_val_if_fail (mutation != NULL, FALSE);

  if (mutation->op != POSTERN_MUTATION_BLOCK && mutation->channel_id != NULL)
    {
      /* Walk back over what is queued for the same channel: the newest
       * entry decides whether this one changes anything. */
      for (guint i = queue->len; i > 0; i--)
        {
          PosternMutation *queued = g_ptr_array_index (queue, i - 1);

          if (!same_channel (queued, mutation) || queued->op == POSTERN_MUTATION_BLOCK)
            continue;

          /* Anything but a share after a revoke is moot: the channel is
           * closed for good. */
          if (queued->op == POSTERN_MUTATION_REVOKE && mutation->op != POSTERN_MUTATION_SHARE)
            return FALSE;

          if (mutation->op == POSTERN_MUTATION_REVOKE || mutation->op == POSTERN_MUTATION_SHARE || mutation->op == POSTERN_MUTATION_UPDATE || mutation->op == POSTERN_MUTATION_CREATE)
            break;

          if (is_state_op (mutation->op) && is_state_op (queued->op))
            {
              if (queued->op == mutation->op)
                return FALSE; /* pause, pause */
              /* pause then resume: both cancel out; the server never needs
               * to hear of either. */
              g_ptr_array_remove_index (queue, i - 1);
              return FALSE;
            }

          if ((mutation->op == POSTERN_MUTATION_TRUST || mutation->op == POSTERN_MUTATION_UNTRUST) && (queued->op == POSTERN_MUTATION_TRUST || queued->op == POSTERN_MUTATION_UNTRUST) && g_strcmp0 (queued->pattern, mutation->pattern) == 0)
            {
              if (queued->op == mutation->op)
                return FALSE;
              /* trust then untrust the same pattern: cancel out. */
              g_ptr_array_remove_index (queue, i - 1);
              return FALSE;
            }
        }
    }

  g_ptr_array_add (queue, g_steal_pointer (&owned));
  return TRUE;
}

static gboolean
apply_update (JsonObject *changes,
              PosternChannel *channel,
              GError **error)
{
  g_autoptr (GList) members = json_object_get_members (changes);

  for (GList *l = members; l != NULL; l = l->next)
    {
      const char *name = l->data;
      JsonNode *node = json_object_get_member (changes, name);
      const char *text = NULL;

      if (g_str_equal (name, "expected_senders"))
        {
          JsonArray *array;

          if (!JSON_NODE_HOLDS_ARRAY (node))
            {
              g_set_error_literal (error, POSTERN_CLIENT_ERROR, POSTERN_CLIENT_ERROR_INVALID,
                                   "expected_senders: expected an array");
              return FALSE;
            }
          array = json_node_get_array (node);
          postern_channel_clear_expected_senders (channel);
          for (guint i = 0; i < json_array_get_length (array); i++)
            {
              const char *s = json_array_get_string_element (array, i);
              g_autoptr (PosternSenderPattern) pattern = NULL;

              if (s == NULL || (pattern = postern_sender_pattern_parse (s, error)) == NULL || !postern_channel_add_expected_sender (channel, pattern, error))
                {
                  if (error != NULL && *error == NULL)
                    g_set_error_literal (error, POSTERN_CLIENT_ERROR, POSTERN_CLIENT_ERROR_INVALID,
                                         "expected_senders: expected strings");
                  return FALSE;
                }
            }
          continue;
        }

      if (g_str_equal (name, "expires_at"))
        {
          gint64 when = 0;

          if (!JSON_NODE_HOLDS_NULL (node))
            {
              if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_STRING || !postern_json_parse_time (json_node_get_string (node), &when, NULL))
                {
                  g_set_error_literal (error, POSTERN_CLIENT_ERROR, POSTERN_CLIENT_ERROR_INVALID,
                                       "expires_at: expected an ISO 8601 time or null");
                  return FALSE;
                }
            }
          postern_channel_set_expires_at (channel, when);
          continue;
        }

      if (JSON_NODE_HOLDS_NULL (node) && (g_str_equal (name, "note") || g_str_equal (name, "farewell_text")))
        text = "";
      else if (JSON_NODE_HOLDS_VALUE (node) && json_node_get_value_type (node) == G_TYPE_STRING)
        text = json_node_get_string (node);
      else
        {
          g_set_error (error, POSTERN_CLIENT_ERROR, POSTERN_CLIENT_ERROR_INVALID,
                       "%s: expected a string", name);
          return FALSE;
        }

      if (g_str_equal (name, "label"))
        {
          if (!postern_channel_set_label (channel, text, error))
            return FALSE;
        }
      else if (g_str_equal (name, "note"))
        {
          if (!postern_channel_set_note (channel, text, error))
            return FALSE;
        }
      else if (g_str_equal (name, "farewell_text"))
        {
          if (!postern_channel_set_farewell_text (channel, text, error))
            return FALSE;
        }
      else if (g_str_equal (name, "state"))
        {
          PosternChannelState state;
          if (!postern_channel_state_from_string (text, &state, error))
            return FALSE;
          postern_channel_set_state (channel, state);
        }
      else if (g_str_equal (name, "on_unexpected"))
        {
          PosternUnexpectedPolicy policy;
          if (!postern_unexpected_policy_from_string (text, &policy, error))
            return FALSE;
          postern_channel_set_on_unexpected (channel, policy);
        }
      else if (g_str_equal (name, "farewell"))
        {
          PosternFarewell farewell;
          if (!postern_farewell_from_string (text, &farewell, error))
            return FALSE;
          postern_channel_set_farewell (channel, farewell);
        }
      else
        {
          g_set_error (error, POSTERN_CLIENT_ERROR, POSTERN_CLIENT_ERROR_INVALID,
                       "%s: not a member that can be changed", name);
          return FALSE;
        }
    }

  return TRUE;
}

gboolean
postern_mutation_apply (const PosternMutation *self,
                        PosternChannel *channel,
                        GError **error)
{
  g_return_val_if_fail (self != NULL, FALSE);
  g_return_val_if_fail (POSTERN_IS_CHANNEL (channel), FALSE);

  switch (self->op)
    {
      case POSTERN_MUTATION_REVOKE:
        postern_channel_set_state (channel, POSTERN_CHANNEL_STATE_REVOKED);
        return TRUE;

      case POSTERN_MUTATION_PAUSE:
      case POSTERN_MUTATION_RESUME:
        if (postern_channel_get_state (channel) == POSTERN_CHANNEL_STATE_REVOKED)
          {
            g_set_error_literal (error, POSTERN_CLIENT_ERROR, POSTERN_CLIENT_ERROR_INVALID,
                                 "The channel is revoked: it cannot be paused or resumed");
            return FALSE;
          }
        postern_channel_set_state (channel, self->op == POSTERN_MUTATION_PAUSE ? POSTERN_CHANNEL_STATE_PAUSED : POSTERN_CHANNEL_STATE_ACTIVE);
        return TRUE;

      case POSTERN_MUTATION_TRUST:
      case POSTERN_MUTATION_UNTRUST:
        {
          g_autoptr (PosternSenderPattern) pattern = postern_sender_pattern_parse (self->pattern, error);

          if (pattern == NULL)
            return FALSE;
          if (self->op == POSTERN_MUTATION_TRUST)
            return postern_channel_add_expected_sender (channel, pattern, error);
          postern_channel_remove_expected_sender (channel, pattern);
          return TRUE;
        }

      case POSTERN_MUTATION_UPDATE:
        if (self->payload == NULL || !JSON_NODE_HOLDS_OBJECT (self->payload))
          {
            g_set_error_literal (error, POSTERN_CLIENT_ERROR, POSTERN_CLIENT_ERROR_INVALID,
                                 "The change has no members");
            return FALSE;
          }
        return apply_update (json_node_get_object (self->payload), channel, error);

      case POSTERN_MUTATION_CREATE:
      case POSTERN_MUTATION_BLOCK:
      case POSTERN_MUTATION_SHARE:
      default:
        return TRUE;
    }
}

PosternReplayAction
postern_mutation_action_for_error (const PosternMutation *self,
                                   const GError *error)
{
  g_return_val_if_fail (self != NULL, POSTERN_REPLAY_RETRY_LATER);
  g_return_val_if_fail (error != NULL, POSTERN_REPLAY_RETRY_LATER);

  if (error->domain != POSTERN_CLIENT_ERROR)
    return POSTERN_REPLAY_RETRY_LATER; /* cancelled, or an I/O surprise */

  switch ((PosternClientError)error->code)
    {
      case POSTERN_CLIENT_ERROR_OFFLINE:
      case POSTERN_CLIENT_ERROR_FAILED:
      case POSTERN_CLIENT_ERROR_UNTRUSTED:
      case POSTERN_CLIENT_ERROR_KEYRING_LOCKED:
      case POSTERN_CLIENT_ERROR_KEYRING_UNAVAILABLE:
        /* Server trouble (5xx), no network, or a certificate the user must
         * look at: the change is still wanted, keep it. */
        return POSTERN_REPLAY_RETRY_LATER;

      case POSTERN_CLIENT_ERROR_AUTH:
      case POSTERN_CLIENT_ERROR_NOT_PAIRED:
        return POSTERN_REPLAY_UNPAIRED;

      case POSTERN_CLIENT_ERROR_CONFLICT:
        switch (self->op)
          {
            case POSTERN_MUTATION_UPDATE:
            case POSTERN_MUTATION_PAUSE:
            case POSTERN_MUTATION_RESUME:
              return POSTERN_REPLAY_REFETCH;
            case POSTERN_MUTATION_TRUST:
            case POSTERN_MUTATION_BLOCK:
              /* Already there: the end state is what the user asked for. */
              return POSTERN_REPLAY_DONE;
            default:
              return POSTERN_REPLAY_DROP;
          }

      case POSTERN_CLIENT_ERROR_NOT_FOUND:
        /* Revoking or untrusting what no longer exists achieves the goal. */
        if (self->op == POSTERN_MUTATION_REVOKE || self->op == POSTERN_MUTATION_UNTRUST)
          return POSTERN_REPLAY_DONE;
        return POSTERN_REPLAY_DROP;

      case POSTERN_CLIENT_ERROR_INVALID:
      case POSTERN_CLIENT_ERROR_PROTOCOL:
      default:
        return POSTERN_REPLAY_DROP;
    }
}
