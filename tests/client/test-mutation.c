/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "postern-client.h"

#define CHANNEL_A "3f0c9a52-5c1e-4b7e-9a51-2f8f0a1b2c3d"
#define CHANNEL_B "7d1e2f30-4a5b-4c6d-8e9f-a0b1c2d3e4f5"

static PosternChannel *
make_channel (const char *id)
{
  g_autoptr (GError) error = NULL;
  PosternChannel *channel = postern_channel_new ();

  g_assert_true (postern_channel_set_id (channel, id, &error));
  g_assert_true (postern_channel_set_address (channel, "k7q2mv9xwe4@ch.example.org", &error));
  g_assert_true (postern_channel_set_label (channel, "Recruiter", &error));
  g_assert_no_error (error);
  return channel;
}

static PosternMutation *
make (PosternMutationOp op,
      const char *channel_id,
      const char *pattern)
{
  PosternMutation *mutation = postern_mutation_new (op, channel_id);

  mutation->pattern = g_strdup (pattern);
  return mutation;
}

static void
test_round_trip (void)
{
  g_autoptr (GPtrArray) queue = g_ptr_array_new_with_free_func ((GDestroyNotify)postern_mutation_free);
  g_autoptr (GPtrArray) back = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (PosternChannel) channel = make_channel (CHANNEL_A);
  g_autofree char *text = NULL;
  g_autofree char *again = NULL;
  PosternMutation *create;
  PosternMutation *share;
  PosternMutation *block;

  create = postern_mutation_new (POSTERN_MUTATION_CREATE, CHANNEL_A);
  create->payload = postern_channel_to_json (channel);
  g_ptr_array_add (queue, create);
  g_ptr_array_add (queue, make (POSTERN_MUTATION_TRUST, CHANNEL_A, "jane@acme.example"));
  block = make (POSTERN_MUTATION_BLOCK, NULL, "@bulk.example");
  g_ptr_array_add (queue, block);
  share = postern_mutation_new (POSTERN_MUTATION_SHARE, CHANNEL_A);
  share->payload = postern_json_from_string ("{\"method\":\"qr\",\"recipient\":\"Jane\"}", -1, &error);
  share->attempts = 3;
  share->last_error = g_strdup ("Could not reach host");
  g_ptr_array_add (queue, share);
  g_ptr_array_add (queue, make (POSTERN_MUTATION_REVOKE, CHANNEL_A, NULL));

  text = postern_mutation_queue_to_string (queue);
  back = postern_mutation_queue_from_string (text, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (back->len, ==, 5);

  for (guint i = 0; i < queue->len; i++)
    {
      PosternMutation *a = g_ptr_array_index (queue, i);
      PosternMutation *b = g_ptr_array_index (back, i);

      g_assert_cmpint (a->op, ==, b->op);
      g_assert_cmpstr (a->id, ==, b->id);
      g_assert_cmpstr (a->channel_id, ==, b->channel_id);
      g_assert_cmpstr (a->pattern, ==, b->pattern);
      g_assert_cmpint (a->queued_at, ==, b->queued_at);
      g_assert_cmpuint (a->attempts, ==, b->attempts);
      g_assert_cmpstr (a->last_error, ==, b->last_error);
      g_assert_true ((a->payload == NULL) == (b->payload == NULL));
      if (a->payload != NULL)
        g_assert_true (json_node_equal (a->payload, b->payload));
    }

  /* The created channel survives the trip intact. */
  {
    PosternMutation *b = g_ptr_array_index (back, 0);
    g_autoptr (PosternChannel) restored = postern_channel_new_from_json (b->payload, &error);
    g_assert_no_error (error);
    g_assert_true (postern_channel_equal (restored, channel));
  }

  again = postern_mutation_queue_to_string (back);
  g_assert_cmpstr (again, ==, text);
}

static void
test_refuses_bad_documents (void)
{
  static const char *const bad[] = {
    "",
    "[]",
    "{\"version\":2,\"mutations\":[]}",
    "{\"version\":1}",
    "{\"version\":1,\"mutations\":[{\"op\":\"explode\",\"id\":\"3f0c9a52-5c1e-4b7e-9a51-2f8f0a1b2c3d\","
    "\"channel_id\":\"3f0c9a52-5c1e-4b7e-9a51-2f8f0a1b2c3d\",\"queued_at\":\"2026-11-28T10:00:00Z\"}]}",
    /* trust without a pattern */
    "{\"version\":1,\"mutations\":[{\"op\":\"trust\",\"id\":\"3f0c9a52-5c1e-4b7e-9a51-2f8f0a1b2c3d\","
    "\"channel_id\":\"3f0c9a52-5c1e-4b7e-9a51-2f8f0a1b2c3d\",\"queued_at\":\"2026-11-28T10:00:00Z\"}]}",
    /* a channel id that could walk the URL path */
    "{\"version\":1,\"mutations\":[{\"op\":\"revoke\",\"id\":\"3f0c9a52-5c1e-4b7e-9a51-2f8f0a1b2c3d\","
    "\"channel_id\":\"../../devices/1\",\"queued_at\":\"2026-11-28T10:00:00Z\"}]}",
    /* create without its channel */
    "{\"version\":1,\"mutations\":[{\"op\":\"create\",\"id\":\"3f0c9a52-5c1e-4b7e-9a51-2f8f0a1b2c3d\","
    "\"channel_id\":\"3f0c9a52-5c1e-4b7e-9a51-2f8f0a1b2c3d\",\"queued_at\":\"2026-11-28T10:00:00Z\"}]}",
    "{\"version\":1,\"mutations\":[{\"op\":\"revoke\",\"id\":\"3f0c9a52-5c1e-4b7e-9a51-2f8f0a1b2c3d\","
    "\"channel_id\":\"3f0c9a52-5c1e-4b7e-9a51-2f8f0a1b2c3d\",\"queued_at\":\"yesterday\"}]}",
    "{\"version\":1,\"mutations\":[{\"op\":\"revoke\",\"id\":\"3f0c9a52-5c1e-4b7e-9a51-2f8f0a1b2c3d\","
    "\"channel_id\":\"3f0c9a52-5c1e-4b7e-9a51-2f8f0a1b2c3d\",\"queued_at\":\"2026-11-28T10:00:00Z\",\"attempts\":-1}]}",
  };

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (GPtrArray) queue = postern_mutation_queue_from_string (bad[i], &error);

      g_assert_null (queue);
      g_assert_nonnull (error);
    }
}

static void
test_fold (void)
{
  g_autoptr (GPtrArray) queue = g_ptr_array_new_with_free_func ((GDestroyNotify)postern_mutation_free);

  /* pause then resume: nothing left to send */
  g_assert_true (postern_mutation_queue_add (queue, make (POSTERN_MUTATION_PAUSE, CHANNEL_A, NULL)));
  g_assert_false (postern_mutation_queue_add (queue, make (POSTERN_MUTATION_RESUME, CHANNEL_A, NULL)));
  g_assert_cmpuint (queue->len, ==, 0);

  /* a repeated pause is one pause */
  g_assert_true (postern_mutation_queue_add (queue, make (POSTERN_MUTATION_PAUSE, CHANNEL_A, NULL)));
  g_assert_false (postern_mutation_queue_add (queue, make (POSTERN_MUTATION_PAUSE, CHANNEL_A, NULL)));
  g_assert_cmpuint (queue->len, ==, 1);

  /* another channel is independent */
  g_assert_true (postern_mutation_queue_add (queue, make (POSTERN_MUTATION_RESUME, CHANNEL_B, NULL)));
  g_assert_cmpuint (queue->len, ==, 2);

  /* trust then untrust the same pattern cancel; a different one does not */
  g_assert_true (postern_mutation_queue_add (queue, make (POSTERN_MUTATION_TRUST, CHANNEL_A, "jane@acme.example")));
  g_assert_true (postern_mutation_queue_add (queue, make (POSTERN_MUTATION_TRUST, CHANNEL_A, "@acme.example")));
  g_assert_false (postern_mutation_queue_add (queue, make (POSTERN_MUTATION_UNTRUST, CHANNEL_A, "jane@acme.example")));
  g_assert_cmpuint (queue->len, ==, 3);

  /* revoke, twice: once; nothing but a share after it */
  g_assert_true (postern_mutation_queue_add (queue, make (POSTERN_MUTATION_REVOKE, CHANNEL_A, NULL)));
  g_assert_false (postern_mutation_queue_add (queue, make (POSTERN_MUTATION_REVOKE, CHANNEL_A, NULL)));
  g_assert_false (postern_mutation_queue_add (queue, make (POSTERN_MUTATION_RESUME, CHANNEL_A, NULL)));
  g_assert_false (postern_mutation_queue_add (queue, make (POSTERN_MUTATION_TRUST, CHANNEL_A, "x@y.example")));
  g_assert_cmpuint (queue->len, ==, 4);
  {
    PosternMutation *share = postern_mutation_new (POSTERN_MUTATION_SHARE, CHANNEL_A);
    share->payload = postern_json_from_string ("{\"method\":\"clipboard\"}", -1, NULL);
    g_assert_true (postern_mutation_queue_add (queue, share));
  }
  g_assert_cmpuint (queue->len, ==, 5);

  /* order is kept */
  g_assert_cmpint (((PosternMutation *)g_ptr_array_index (queue, 0))->op, ==, POSTERN_MUTATION_PAUSE);
  g_assert_cmpint (((PosternMutation *)g_ptr_array_index (queue, 3))->op, ==, POSTERN_MUTATION_REVOKE);
}

static void
test_apply (void)
{
  g_autoptr (PosternChannel) channel = make_channel (CHANNEL_A);
  g_autoptr (PosternMutation) pause = make (POSTERN_MUTATION_PAUSE, CHANNEL_A, NULL);
  g_autoptr (PosternMutation) resume = make (POSTERN_MUTATION_RESUME, CHANNEL_A, NULL);
  g_autoptr (PosternMutation) revoke = make (POSTERN_MUTATION_REVOKE, CHANNEL_A, NULL);
  g_autoptr (PosternMutation) trust = make (POSTERN_MUTATION_TRUST, CHANNEL_A, "Jane@ACME.example");
  g_autoptr (PosternMutation) untrust = make (POSTERN_MUTATION_UNTRUST, CHANNEL_A, "jane@acme.example");
  g_autoptr (PosternMutation) bad_trust = make (POSTERN_MUTATION_TRUST, CHANNEL_A, "not a pattern");
  g_autoptr (PosternMutation) update = postern_mutation_new (POSTERN_MUTATION_UPDATE, CHANNEL_A);
  g_autoptr (PosternMutation) bad_update = postern_mutation_new (POSTERN_MUTATION_UPDATE, CHANNEL_A);
  g_autoptr (PosternMailbox) jane = NULL;
  g_autoptr (GError) error = NULL;

  g_assert_true (postern_mutation_apply (pause, channel, &error));
  g_assert_cmpint (postern_channel_get_state (channel), ==, POSTERN_CHANNEL_STATE_PAUSED);
  g_assert_true (postern_mutation_apply (resume, channel, &error));
  g_assert_cmpint (postern_channel_get_state (channel), ==, POSTERN_CHANNEL_STATE_ACTIVE);

  jane = postern_mailbox_parse ("jane@acme.example", -1, &error);
  g_assert_no_error (error);
  g_assert_false (postern_channel_expects (channel, jane));
  g_assert_true (postern_mutation_apply (trust, channel, &error));
  g_assert_true (postern_channel_expects (channel, jane));
  g_assert_true (postern_mutation_apply (untrust, channel, &error));
  g_assert_false (postern_channel_expects (channel, jane));
  g_assert_false (postern_mutation_apply (bad_trust, channel, &error));
  g_assert_nonnull (error);
  g_clear_error (&error);

  update->payload = postern_json_from_string ("{\"label\":\"Jane at FOSDEM\",\"on_unexpected\":\"hold\","
                                              "\"expires_at\":\"2027-01-01T00:00:00Z\",\"note\":null}",
                                              -1, &error);
  g_assert_no_error (error);
  g_assert_true (postern_mutation_apply (update, channel, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (postern_channel_get_label (channel), ==, "Jane at FOSDEM");
  g_assert_cmpint (postern_channel_get_on_unexpected (channel), ==, POSTERN_UNEXPECTED_HOLD);
  g_assert_cmpint (postern_channel_get_expires_at (channel), ==, 1798761600);

  bad_update->payload = postern_json_from_string ("{\"on_unexpected\":\"explode\"}", -1, NULL);
  g_assert_false (postern_mutation_apply (bad_update, channel, &error));
  g_assert_nonnull (error);
  g_clear_error (&error);

  g_assert_true (postern_mutation_apply (revoke, channel, &error));
  g_assert_cmpint (postern_channel_get_state (channel), ==, POSTERN_CHANNEL_STATE_REVOKED);
  /* a revoked channel cannot be paused or resumed again */
  g_assert_false (postern_mutation_apply (resume, channel, &error));
  g_assert_error (error, POSTERN_CLIENT_ERROR, POSTERN_CLIENT_ERROR_INVALID);
}

static void
test_replay_actions (void)
{
  static const struct
  {
    PosternMutationOp op;
    int code; /* -1: G_IO_ERROR_CANCELLED */
    PosternReplayAction action;
  } cases[] = {
    { POSTERN_MUTATION_REVOKE, POSTERN_CLIENT_ERROR_OFFLINE, POSTERN_REPLAY_RETRY_LATER },
    { POSTERN_MUTATION_REVOKE, POSTERN_CLIENT_ERROR_FAILED, POSTERN_REPLAY_RETRY_LATER },
    { POSTERN_MUTATION_REVOKE, POSTERN_CLIENT_ERROR_UNTRUSTED, POSTERN_REPLAY_RETRY_LATER },
    { POSTERN_MUTATION_REVOKE, POSTERN_CLIENT_ERROR_NOT_FOUND, POSTERN_REPLAY_DONE },
    { POSTERN_MUTATION_UNTRUST, POSTERN_CLIENT_ERROR_NOT_FOUND, POSTERN_REPLAY_DONE },
    { POSTERN_MUTATION_PAUSE, POSTERN_CLIENT_ERROR_NOT_FOUND, POSTERN_REPLAY_DROP },
    { POSTERN_MUTATION_PAUSE, POSTERN_CLIENT_ERROR_CONFLICT, POSTERN_REPLAY_REFETCH },
    { POSTERN_MUTATION_UPDATE, POSTERN_CLIENT_ERROR_CONFLICT, POSTERN_REPLAY_REFETCH },
    { POSTERN_MUTATION_TRUST, POSTERN_CLIENT_ERROR_CONFLICT, POSTERN_REPLAY_DONE },
    { POSTERN_MUTATION_CREATE, POSTERN_CLIENT_ERROR_CONFLICT, POSTERN_REPLAY_DROP },
    { POSTERN_MUTATION_CREATE, POSTERN_CLIENT_ERROR_INVALID, POSTERN_REPLAY_DROP },
    { POSTERN_MUTATION_CREATE, POSTERN_CLIENT_ERROR_AUTH, POSTERN_REPLAY_UNPAIRED },
    { POSTERN_MUTATION_SHARE, -1, POSTERN_REPLAY_RETRY_LATER },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (PosternMutation) mutation = make (cases[i].op, CHANNEL_A, "a@b.example");
      g_autoptr (GError) error = NULL;

      if (cases[i].code < 0)
        error = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CANCELLED, "cancelled");
      else
        error = g_error_new_literal (POSTERN_CLIENT_ERROR, cases[i].code, "x");
      g_assert_cmpint (postern_mutation_action_for_error (mutation, error), ==, cases[i].action);
    }
}

int
main (int argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/postern/client/mutation/round-trip", test_round_trip);
  g_test_add_func ("/postern/client/mutation/refuses-bad-documents", test_refuses_bad_documents);
  g_test_add_func ("/postern/client/mutation/fold", test_fold);
  g_test_add_func ("/postern/client/mutation/apply", test_apply);
  g_test_add_func ("/postern/client/mutation/replay-actions", test_replay_actions);

  return g_test_run ();
}
