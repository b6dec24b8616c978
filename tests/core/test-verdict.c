/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "postern-core.h"

/*
 * Every row of docs/verdicts.md, and the orderings between them. Each row
 * builds a channel, a blocklist and the senders, and checks the verdict and
 * the sender a one-time channel binds.
 */

#define CHANNEL_ID "6f1c2d3e-4b5a-4c6d-8e7f-0a1b2c3d4e5f"
#define OTHER_ID   "0d9c8b7a-6f5e-4d3c-9b2a-1f0e9d8c7b6a"
#define NOW        1764326853

#define ONE_TIME     POSTERN_CHANNEL_KIND_ONE_TIME
#define RELATIONSHIP POSTERN_CHANNEL_KIND_RELATIONSHIP
#define OPEN         POSTERN_CHANNEL_KIND_OPEN
#define ACTIVE       POSTERN_CHANNEL_STATE_ACTIVE
#define PAUSED       POSTERN_CHANNEL_STATE_PAUSED
#define REVOKED      POSTERN_CHANNEL_STATE_REVOKED
#define ALERT        POSTERN_UNEXPECTED_ALERT
#define HOLD         POSTERN_UNEXPECTED_HOLD
#define REJECT       POSTERN_UNEXPECTED_REJECT
#define REFUSE       POSTERN_FAREWELL_REFUSE
#define DROP         POSTERN_FAREWELL_DROP
#define RCPT         POSTERN_VERDICT_STAGE_RCPT
#define DATA         POSTERN_VERDICT_STAGE_DATA

/* Expires in the past (expired) or the future (not yet). */
#define EXPIRED (NOW - 1)
#define LATER   (NOW + 3600)

typedef struct
{
  const char *name;
  PosternChannelKind kind;
  PosternChannelState state;
  PosternUnexpectedPolicy policy;
  PosternFarewell farewell;
  gint64 expires_at;
  const char *expected; /* space-separated patterns, NULL for none */
  const char *blocked;  /* space-separated patterns; "pattern=other" scopes to another channel */
  const char *envelope; /* NULL: the null sender */
  const char *from;     /* NULL: absent */
  PosternVerdictStage stage;
  PosternVerdict verdict;
  const char *bind; /* NULL: nothing binds */
} Row;

#define JANE     "jane@example.org"
#define STRANGER "x@spam.example"

static const Row rows[] = {
  /* Revoked comes first, whatever else is true. */
  { "revoked-refuse", RELATIONSHIP, REVOKED, ALERT, REFUSE, 0, JANE, NULL, JANE, NULL, RCPT, POSTERN_VERDICT_REJECTED_REVOKED, NULL },
  { "revoked-drop", RELATIONSHIP, REVOKED, ALERT, DROP, 0, JANE, NULL, JANE, NULL, RCPT, POSTERN_VERDICT_DROPPED_REVOKED, NULL },
  { "revoked-before-expired", RELATIONSHIP, REVOKED, ALERT, REFUSE, EXPIRED, NULL, NULL, JANE, NULL, RCPT, POSTERN_VERDICT_REJECTED_REVOKED, NULL },
  { "revoked-before-blocked", OPEN, REVOKED, ALERT, REFUSE, 0, NULL, STRANGER, STRANGER, NULL, RCPT, POSTERN_VERDICT_REJECTED_REVOKED, NULL },
  { "revoked-null-sender", ONE_TIME, REVOKED, ALERT, REFUSE, 0, NULL, NULL, NULL, NULL, RCPT, POSTERN_VERDICT_REJECTED_REVOKED, NULL },
  { "revoked-data", RELATIONSHIP, REVOKED, ALERT, DROP, 0, NULL, NULL, STRANGER, JANE, DATA, POSTERN_VERDICT_DROPPED_REVOKED, NULL },

  /* Expired is revoked: the farewell applies. */
  { "expired-refuse", RELATIONSHIP, ACTIVE, ALERT, REFUSE, EXPIRED, JANE, NULL, JANE, NULL, RCPT, POSTERN_VERDICT_REJECTED_EXPIRED, NULL },
  { "expired-drop", RELATIONSHIP, ACTIVE, ALERT, DROP, EXPIRED, JANE, NULL, JANE, NULL, RCPT, POSTERN_VERDICT_DROPPED_REVOKED, NULL },
  { "expired-at-now", OPEN, ACTIVE, ALERT, REFUSE, NOW, NULL, NULL, JANE, NULL, RCPT, POSTERN_VERDICT_REJECTED_EXPIRED, NULL },
  { "expired-before-paused", RELATIONSHIP, PAUSED, ALERT, REFUSE, EXPIRED, NULL, NULL, JANE, NULL, RCPT, POSTERN_VERDICT_REJECTED_EXPIRED, NULL },
  { "not-yet-expired", OPEN, ACTIVE, ALERT, REFUSE, LATER, NULL, NULL, JANE, NULL, RCPT, POSTERN_VERDICT_ACCEPTED, NULL },

  /* Paused, before blocked and before the kind. */
  { "paused", RELATIONSHIP, PAUSED, ALERT, REFUSE, 0, JANE, NULL, JANE, NULL, RCPT, POSTERN_VERDICT_REJECTED_PAUSED, NULL },
  { "paused-drop-farewell", RELATIONSHIP, PAUSED, ALERT, DROP, 0, JANE, NULL, JANE, NULL, DATA, POSTERN_VERDICT_REJECTED_PAUSED, NULL },
  { "paused-before-blocked", OPEN, PAUSED, ALERT, REFUSE, 0, NULL, STRANGER, STRANGER, NULL, RCPT, POSTERN_VERDICT_REJECTED_PAUSED, NULL },

  /* Blocked: envelope or header From, scope respected, before expected. */
  { "blocked-envelope", OPEN, ACTIVE, ALERT, REFUSE, 0, NULL, STRANGER, STRANGER, NULL, RCPT, POSTERN_VERDICT_REJECTED_BLOCKED, NULL },
  { "blocked-domain", RELATIONSHIP, ACTIVE, ALERT, REFUSE, 0, NULL, "@.spam.example", "y@mx.spam.example", NULL, RCPT, POSTERN_VERDICT_REJECTED_BLOCKED, NULL },
  { "blocked-header-from", OPEN, ACTIVE, ALERT, REFUSE, 0, NULL, STRANGER, JANE, STRANGER, DATA, POSTERN_VERDICT_REJECTED_BLOCKED, NULL },
  { "blocked-header-from-ignored-at-rcpt", OPEN, ACTIVE, ALERT, REFUSE, 0, NULL, STRANGER, JANE, STRANGER, RCPT, POSTERN_VERDICT_ACCEPTED, NULL },
  { "blocked-beats-expected", RELATIONSHIP, ACTIVE, ALERT, REFUSE, 0, JANE, JANE, JANE, NULL, RCPT, POSTERN_VERDICT_REJECTED_BLOCKED, NULL },
  { "blocked-beats-unbound", ONE_TIME, ACTIVE, ALERT, REFUSE, 0, NULL, STRANGER, STRANGER, NULL, DATA, POSTERN_VERDICT_REJECTED_BLOCKED, NULL },
  { "blocked-other-channel", OPEN, ACTIVE, ALERT, REFUSE, 0, NULL, STRANGER "=other", STRANGER, NULL, RCPT, POSTERN_VERDICT_ACCEPTED, NULL },
  { "blocked-this-channel", OPEN, ACTIVE, ALERT, REFUSE, 0, NULL, STRANGER "=this", STRANGER, NULL, RCPT, POSTERN_VERDICT_REJECTED_BLOCKED, NULL },
  { "blocklist-null-sender", OPEN, ACTIVE, ALERT, REFUSE, 0, NULL, "@.example", NULL, NULL, RCPT, POSTERN_VERDICT_ACCEPTED, NULL },

  /* Open: anyone, counted. */
  { "open", OPEN, ACTIVE, REJECT, REFUSE, 0, NULL, NULL, STRANGER, NULL, RCPT, POSTERN_VERDICT_ACCEPTED, NULL },
  { "open-null-sender", OPEN, ACTIVE, REJECT, REFUSE, 0, NULL, NULL, NULL, NULL, DATA, POSTERN_VERDICT_ACCEPTED, NULL },
  { "open-never-binds", OPEN, ACTIVE, ALERT, REFUSE, 0, NULL, NULL, JANE, JANE, DATA, POSTERN_VERDICT_ACCEPTED, NULL },

  /* One-time, unbound: the first sender binds, header From first. */
  { "unbound-rcpt", ONE_TIME, ACTIVE, REJECT, REFUSE, 0, NULL, NULL, JANE, NULL, RCPT, POSTERN_VERDICT_EXPECTED, JANE },
  { "unbound-data-from", ONE_TIME, ACTIVE, ALERT, REFUSE, 0, NULL, NULL, "bounce@esp.example", JANE, DATA, POSTERN_VERDICT_EXPECTED, JANE },
  { "unbound-data-no-from", ONE_TIME, ACTIVE, ALERT, REFUSE, 0, NULL, NULL, JANE, NULL, DATA, POSTERN_VERDICT_EXPECTED, JANE },
  { "unbound-rcpt-ignores-from", ONE_TIME, ACTIVE, ALERT, REFUSE, 0, NULL, NULL, "bounce@esp.example", JANE, RCPT, POSTERN_VERDICT_EXPECTED, "bounce@esp.example" },
  /* The null sender never binds: the policy applies. */
  { "unbound-null-alert", ONE_TIME, ACTIVE, ALERT, REFUSE, 0, NULL, NULL, NULL, NULL, RCPT, POSTERN_VERDICT_UNEXPECTED, NULL },
  { "unbound-null-hold", ONE_TIME, ACTIVE, HOLD, REFUSE, 0, NULL, NULL, NULL, NULL, DATA, POSTERN_VERDICT_HELD, NULL },
  { "unbound-null-reject-rcpt", ONE_TIME, ACTIVE, REJECT, REFUSE, 0, NULL, NULL, NULL, NULL, RCPT, POSTERN_VERDICT_REJECTED_UNEXPECTED, NULL },
  { "unbound-null-with-from", ONE_TIME, ACTIVE, REJECT, REFUSE, 0, NULL, NULL, NULL, "mailer-daemon@example.org", DATA, POSTERN_VERDICT_REJECTED_UNEXPECTED, NULL },
  { "unbound-null-with-from-alert", ONE_TIME, ACTIVE, ALERT, REFUSE, 0, NULL, NULL, NULL, JANE, DATA, POSTERN_VERDICT_UNEXPECTED, NULL },

  /* One-time, bound: behaves as a relationship. */
  { "bound-expected", ONE_TIME, ACTIVE, REJECT, REFUSE, 0, JANE, NULL, "JANE+x@Example.ORG", NULL, RCPT, POSTERN_VERDICT_EXPECTED, NULL },
  { "bound-stranger-alert", ONE_TIME, ACTIVE, ALERT, REFUSE, 0, JANE, NULL, STRANGER, NULL, DATA, POSTERN_VERDICT_UNEXPECTED, NULL },
  { "bound-stranger-hold", ONE_TIME, ACTIVE, HOLD, REFUSE, 0, JANE, NULL, STRANGER, NULL, DATA, POSTERN_VERDICT_HELD, NULL },
  { "bound-stranger-reject", ONE_TIME, ACTIVE, REJECT, REFUSE, 0, JANE, NULL, STRANGER, NULL, RCPT, POSTERN_VERDICT_REJECTED_UNEXPECTED, NULL },

  /* Relationship: envelope or header From. */
  { "rel-envelope", RELATIONSHIP, ACTIVE, ALERT, REFUSE, 0, JANE, NULL, JANE, NULL, RCPT, POSTERN_VERDICT_EXPECTED, NULL },
  { "rel-envelope-data", RELATIONSHIP, ACTIVE, ALERT, REFUSE, 0, JANE, NULL, JANE, STRANGER, DATA, POSTERN_VERDICT_EXPECTED, NULL },
  { "rel-from-data", RELATIONSHIP, ACTIVE, ALERT, REFUSE, 0, JANE, NULL, "bounce@esp.example", JANE, DATA, POSTERN_VERDICT_EXPECTED, NULL },
  { "rel-domain", RELATIONSHIP, ACTIVE, REJECT, REFUSE, 0, "@.example.org", NULL, "hr@mail.example.org", NULL, RCPT, POSTERN_VERDICT_EXPECTED, NULL },
  { "rel-no-senders", RELATIONSHIP, ACTIVE, ALERT, REFUSE, 0, NULL, NULL, JANE, NULL, RCPT, POSTERN_VERDICT_UNEXPECTED, NULL },
  { "rel-null-sender", RELATIONSHIP, ACTIVE, HOLD, REFUSE, 0, JANE, NULL, NULL, NULL, DATA, POSTERN_VERDICT_HELD, NULL },
  { "rel-null-sender-from", RELATIONSHIP, ACTIVE, ALERT, REFUSE, 0, JANE, NULL, NULL, JANE, DATA, POSTERN_VERDICT_EXPECTED, NULL },

  /* alert: provisional at RCPT, refined at DATA. */
  { "alert-rcpt", RELATIONSHIP, ACTIVE, ALERT, REFUSE, 0, JANE, NULL, "bounce@esp.example", NULL, RCPT, POSTERN_VERDICT_UNEXPECTED, NULL },
  { "alert-data-stranger", RELATIONSHIP, ACTIVE, ALERT, REFUSE, 0, JANE, NULL, "bounce@esp.example", STRANGER, DATA, POSTERN_VERDICT_UNEXPECTED, NULL },
  { "alert-data-no-from", RELATIONSHIP, ACTIVE, ALERT, REFUSE, 0, JANE, NULL, STRANGER, NULL, DATA, POSTERN_VERDICT_UNEXPECTED, NULL },

  /* hold: provisional at RCPT, refined at DATA. */
  { "hold-rcpt", RELATIONSHIP, ACTIVE, HOLD, REFUSE, 0, JANE, NULL, "bounce@esp.example", NULL, RCPT, POSTERN_VERDICT_HELD, NULL },
  { "hold-data-refined", RELATIONSHIP, ACTIVE, HOLD, REFUSE, 0, JANE, NULL, "bounce@esp.example", JANE, DATA, POSTERN_VERDICT_EXPECTED, NULL },
  { "hold-data-stranger", RELATIONSHIP, ACTIVE, HOLD, REFUSE, 0, JANE, NULL, STRANGER, STRANGER, DATA, POSTERN_VERDICT_HELD, NULL },

  /* reject: envelope alone at RCPT; the header From counts at DATA. */
  { "reject-rcpt-envelope", RELATIONSHIP, ACTIVE, REJECT, REFUSE, 0, JANE, NULL, "bounce@esp.example", NULL, RCPT, POSTERN_VERDICT_REJECTED_UNEXPECTED, NULL },
  { "reject-rcpt-ignores-from", RELATIONSHIP, ACTIVE, REJECT, REFUSE, 0, JANE, NULL, "bounce@esp.example", JANE, RCPT, POSTERN_VERDICT_REJECTED_UNEXPECTED, NULL },
  { "reject-data-from", RELATIONSHIP, ACTIVE, REJECT, REFUSE, 0, JANE, NULL, "bounce@esp.example", JANE, DATA, POSTERN_VERDICT_EXPECTED, NULL },
  { "reject-data-stranger", RELATIONSHIP, ACTIVE, REJECT, REFUSE, 0, JANE, NULL, STRANGER, STRANGER, DATA, POSTERN_VERDICT_REJECTED_UNEXPECTED, NULL },
  { "reject-rcpt-expected", RELATIONSHIP, ACTIVE, REJECT, REFUSE, 0, JANE, NULL, JANE, NULL, RCPT, POSTERN_VERDICT_EXPECTED, NULL },
  /* The farewell plays no part while the channel is alive. */
  { "drop-farewell-alive", RELATIONSHIP, ACTIVE, REJECT, DROP, LATER, JANE, NULL, STRANGER, NULL, RCPT, POSTERN_VERDICT_REJECTED_UNEXPECTED, NULL },
};

static PosternMailbox *
parse_or_null (const char *text)
{
  g_autoptr (GError) error = NULL;
  PosternMailbox *mailbox;

  if (text == NULL)
    return NULL;

  mailbox = postern_mailbox_parse (text, -1, &error);
  g_assert_no_error (error);
  return mailbox;
}

static void
run_row (const Row *row)
{
  g_autoptr (PosternChannel) channel = postern_channel_new ();
  g_autoptr (GPtrArray) blocklist = g_ptr_array_new_with_free_func ((GDestroyNotify)postern_block_entry_free);
  g_autoptr (PosternMailbox) envelope = parse_or_null (row->envelope);
  g_autoptr (PosternMailbox) from = parse_or_null (row->from);
  g_auto (PosternVerdictResult) result = { 0 };

  g_assert_true (postern_channel_set_id (channel, CHANNEL_ID, NULL));
  postern_channel_set_kind (channel, row->kind);
  postern_channel_set_state (channel, row->state);
  postern_channel_set_on_unexpected (channel, row->policy);
  postern_channel_set_farewell (channel, row->farewell);
  postern_channel_set_expires_at (channel, row->expires_at);

  if (row->expected != NULL)
    {
      g_auto (GStrv) patterns = g_strsplit (row->expected, " ", -1);

      for (guint i = 0; patterns[i] != NULL; i++)
        {
          g_autoptr (PosternSenderPattern) pattern = postern_sender_pattern_parse (patterns[i], NULL);
          g_assert_true (postern_channel_add_expected_sender (channel, pattern, NULL));
        }
    }

  if (row->blocked != NULL)
    {
      g_auto (GStrv) entries = g_strsplit (row->blocked, " ", -1);

      for (guint i = 0; entries[i] != NULL; i++)
        {
          g_auto (GStrv) parts = g_strsplit (entries[i], "=", 2);
          g_autoptr (PosternSenderPattern) pattern = postern_sender_pattern_parse (parts[0], NULL);
          const char *scope = NULL;

          if (parts[1] != NULL)
            scope = g_str_equal (parts[1], "this") ? CHANNEL_ID : OTHER_ID;
          g_ptr_array_add (blocklist, postern_block_entry_new (pattern, scope));
        }
    }

  postern_verdict_decide (channel, blocklist, envelope, from, row->stage, NOW, &result);

  if (result.verdict != row->verdict)
    g_error ("row %s: verdict %s, expected %s", row->name,
             postern_verdict_to_string (result.verdict), postern_verdict_to_string (row->verdict));

  if (row->bind == NULL)
    {
      g_assert_null (result.bind_sender);
    }
  else
    {
      g_autoptr (PosternMailbox) bind = parse_or_null (row->bind);

      g_assert_nonnull (result.bind_sender);
      g_assert_true (postern_mailbox_equal (result.bind_sender, bind));
    }
}

static void
test_table (gconstpointer data)
{
  run_row (data);
}

static void
test_no_blocklist (void)
{
  g_autoptr (PosternChannel) channel = postern_channel_new ();
  g_autoptr (PosternMailbox) jane = parse_or_null (JANE);
  g_auto (PosternVerdictResult) result = { 0 };

  postern_channel_set_kind (channel, POSTERN_CHANNEL_KIND_OPEN);
  postern_verdict_decide (channel, NULL, jane, NULL, POSTERN_VERDICT_STAGE_RCPT, NOW, &result);
  g_assert_cmpint (result.verdict, ==, POSTERN_VERDICT_ACCEPTED);
}

/* A one-time channel binds its first sender without the +tag, so that
 * the same sender filing its next mail under another tag is expected. */
static void
test_bind_drops_tag (void)
{
  g_autoptr (PosternChannel) channel = postern_channel_new ();
  g_autoptr (PosternMailbox) tagged = parse_or_null ("Orders+123@Shop.Example");
  g_autoptr (PosternMailbox) base = parse_or_null ("orders@shop.example");
  g_auto (PosternVerdictResult) result = { 0 };

  postern_channel_set_kind (channel, POSTERN_CHANNEL_KIND_ONE_TIME);
  postern_verdict_decide (channel, NULL, tagged, NULL, POSTERN_VERDICT_STAGE_DATA, NOW, &result);
  g_assert_nonnull (result.bind_sender);
  g_assert_true (postern_mailbox_equal (result.bind_sender, base));
  g_assert_cmpstr (result.bind_sender->local_part, ==, "Orders");
}

static void
test_result_clear (void)
{
  g_autoptr (PosternChannel) channel = postern_channel_new ();
  g_autoptr (PosternMailbox) jane = parse_or_null (JANE);
  PosternVerdictResult result = { 0 };

  postern_verdict_decide (channel, NULL, jane, NULL, POSTERN_VERDICT_STAGE_DATA, NOW, &result);
  g_assert_nonnull (result.bind_sender);
  postern_verdict_result_clear (&result);
  g_assert_null (result.bind_sender);
  postern_verdict_result_clear (&result);
}

int
main (int argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  for (guint i = 0; i < G_N_ELEMENTS (rows); i++)
    {
      g_autofree char *path = g_strdup_printf ("/postern/core/verdict/table/%s", rows[i].name);
      g_test_add_data_func (path, &rows[i], test_table);
    }
  g_test_add_func ("/postern/core/verdict/no-blocklist", test_no_blocklist);
  g_test_add_func ("/postern/core/verdict/bind-drops-tag", test_bind_drops_tag);
  g_test_add_func ("/postern/core/verdict/result-clear", test_result_clear);

  return g_test_run ();
}
