/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <json-glib/json-glib.h>

#include "postern-core.h"

G_BEGIN_DECLS

#define POSTERN_MUTATION_QUEUE_MAX 10000 /* queued changes; more is refused */

/*
 * A change the user made that the server has not acknowledged yet. The
 * sync engine applies it to its copy at once (optimistic), keeps it in the
 * persistent queue (keyring item kind "pending") and replays it, in order,
 * when the server is reachable. Every operation is idempotent on the
 * server: creation carries the client-minted UUID and address, revoke is
 * idempotent, pause/resume/update are PATCHes that set a value, trust and
 * untrust set membership.
 */
typedef enum
{
  POSTERN_MUTATION_CREATE,  /* "create": payload = the channel's wire JSON */
  POSTERN_MUTATION_UPDATE,  /* "update": payload = PATCH members (wire names) */
  POSTERN_MUTATION_REVOKE,  /* "revoke" */
  POSTERN_MUTATION_PAUSE,   /* "pause" */
  POSTERN_MUTATION_RESUME,  /* "resume" */
  POSTERN_MUTATION_TRUST,   /* "trust": pattern */
  POSTERN_MUTATION_UNTRUST, /* "untrust": pattern */
  POSTERN_MUTATION_BLOCK,   /* "block": pattern, channel_id may be NULL (all) */
  POSTERN_MUTATION_SHARE,   /* "share": payload = {"method","recipient"} */
} PosternMutationOp;

/**
 * PosternMutation:
 * @op: what to do
 * @id: a local UUID naming this queue entry
 * @channel_id: the channel (NULL only for a block on all channels)
 * @pattern: the sender pattern of trust/untrust/block, else NULL
 * @payload: see #PosternMutationOp, else NULL
 * @queued_at: unix seconds
 * @attempts: failed replays so far
 * @last_error: the message of the last failure, or NULL
 */
typedef struct
{
  PosternMutationOp op;
  char *id;
  char *channel_id;
  char *pattern;
  JsonNode *payload;
  gint64 queued_at;
  guint attempts;
  char *last_error;
} PosternMutation;

#define POSTERN_TYPE_MUTATION (postern_mutation_get_type ())
GType postern_mutation_get_type (void) G_GNUC_CONST;

/* A new entry with a fresh id and queued_at = now. */
PosternMutation *postern_mutation_new (PosternMutationOp op,
                                       const char *channel_id);
PosternMutation *postern_mutation_copy (const PosternMutation *self);
void postern_mutation_free (PosternMutation *self);

const char *postern_mutation_op_to_string (PosternMutationOp op);
gboolean postern_mutation_op_from_string (const char *text,
                                          PosternMutationOp *out,
                                          GError **error);

/*
 * Wire form (also what the agent's ListPending returns, as an array):
 * {"id","op","channel_id","pattern"?,"payload"?,"queued_at":ISO8601,
 *  "attempts","last_error"?}. Reading validates every member
 * (%POSTERN_CORE_ERROR_INVALID_JSON naming it).
 */
JsonNode *postern_mutation_to_json (const PosternMutation *self);
PosternMutation *postern_mutation_new_from_json (JsonNode *node,
                                                 GError **error);

/* The keyring document: {"version":1,"mutations":[…]}. */
char *postern_mutation_queue_to_string (GPtrArray *queue);
/* Returns an array of PosternMutation (owning). */
GPtrArray *postern_mutation_queue_from_string (const char *text,
                                               GError **error);

/*
 * Appends @mutation (taking ownership) to @queue, folding it with what is
 * already queued for the same channel where the end state is the same:
 * a repeated revoke/pause/resume/trust/untrust is dropped, pause then
 * resume (or resume then pause) cancel each other unless a revoke sits in
 * between, anything after a queued revoke other than share is dropped
 * (the channel is closed). Returns FALSE when the mutation was folded
 * away (nothing more to send).
 */
gboolean postern_mutation_queue_add (GPtrArray *queue,
                                     PosternMutation *mutation);

/*
 * Applies @self to @channel (the local optimistic copy, or a freshly
 * fetched copy when re-applying after a 412): revoke/pause/resume set the
 * state, trust/untrust add/remove the expected sender, update sets the
 * members of the payload. Create, block and share do not change an
 * existing channel. Returns FALSE with an error when the change is invalid.
 */
gboolean postern_mutation_apply (const PosternMutation *self,
                                 PosternChannel *channel,
                                 GError **error);

typedef enum
{
  POSTERN_REPLAY_DONE,        /* acknowledged (or moot): remove from the queue */
  POSTERN_REPLAY_RETRY_LATER, /* server unreachable/busy: keep, stop replaying */
  POSTERN_REPLAY_REFETCH,     /* 412: refetch the channel, re-apply, retry once */
  POSTERN_REPLAY_DROP,        /* refused for good: remove and report it */
  POSTERN_REPLAY_UNPAIRED,    /* token refused: keep, stop, status unpaired */
} PosternReplayAction;

/*
 * What the replay does after @self failed with @error: OFFLINE, FAILED
 * (5xx) and cancellation → RETRY_LATER; CONFLICT → REFETCH (for PATCHes;
 * a conflicting create is DROP); NOT_FOUND → DONE for revoke/untrust
 * (already gone), else DROP; INVALID, UNTRUSTED… → DROP / RETRY_LATER as
 * documented in the .c; AUTH → UNPAIRED.
 */
PosternReplayAction postern_mutation_action_for_error (const PosternMutation *self,
                                                       const GError *error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PosternMutation, postern_mutation_free)

G_END_DECLS
