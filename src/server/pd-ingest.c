/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <string.h>

#include "pd-ingest.h"

/* How often a one-time channel is re-read when another message bound it
 * between our read and our bind; one retry settles it, the rest is
 * margin. */
#define MAX_BIND_ATTEMPTS 4

struct _PdIngest
{
  GObject parent_instance;

  PdStore *store;
  GTimeZone *zone; /* for Received: dates; looked up once, not per message */
};

G_DEFINE_FINAL_TYPE (PdIngest, pd_ingest, G_TYPE_OBJECT)

/* One accepted RCPT (2xx), in the order the session keeps them. */
typedef struct
{
  char *address; /* normalised, without +tag */
  gint64 user_id;
  PosternChannel *channel;
  GPtrArray *blocks;
  PosternVerdict verdict; /* at RCPT; replaced after DATA */
} Recipient;

typedef struct
{
  GPtrArray *recipients; /* of Recipient */
} Transaction;

static void
recipient_free (Recipient *r)
{
  g_free (r->address);
  g_clear_object (&r->channel);
  g_clear_pointer (&r->blocks, g_ptr_array_unref);
  g_free (r);
}

static void
transaction_free (Transaction *t)
{
  g_ptr_array_unref (t->recipients);
  g_free (t);
}

static Transaction *
get_transaction (PdSmtpSession *session)
{
  Transaction *t = pd_smtp_session_get_transaction_data (session);

  if (t == NULL)
    {
      t = g_new0 (Transaction, 1);
      t->recipients = g_ptr_array_new_with_free_func ((GDestroyNotify)recipient_free);
      pd_smtp_session_set_transaction_data (session, t, (GDestroyNotify)transaction_free);
    }
  return t;
}

static gint64
now_seconds (void)
{
  return g_get_real_time () / G_USEC_PER_SEC;
}

/* ---- Received: ---- */

static void
append_sanitised (GString *out,
                  const char *text,
                  gsize max)
{
  /* Client text in a header: keep it to atom-ish printable ASCII. */
  for (gsize i = 0; text != NULL && text[i] != '\0' && i < max; i++)
    {
      guchar c = (guchar)text[i];

      g_string_append_c (out, (g_ascii_isalnum (c) || strchr (".-_:[]@+=", c) != NULL) ? (char)c : '_');
    }
}

char *
pd_ingest_format_received (PdSmtpSession *session,
                           const char *recipient,
                           GDateTime *when)
{
  static const char *const days[] = { "Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun" };
  static const char *const months[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                        "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
  GString *out = g_string_new ("Received: from ");
  const char *with;
  gint64 offset_minutes;
  char sign;

  g_return_val_if_fail (PD_IS_SMTP_SESSION (session), NULL);
  g_return_val_if_fail (when != NULL, NULL);

  append_sanitised (out, pd_smtp_session_get_helo (session) != NULL ? pd_smtp_session_get_helo (session) : "unknown", 255);
  g_string_append (out, " (");
  if (g_strcmp0 (pd_smtp_session_get_client_address (session), "unix") == 0)
    g_string_append (out, "local");
  else
    {
      /* RFC 5321 address literals: [192.0.2.1], [IPv6:2001:db8::1]. */
      g_string_append (out, strchr (pd_smtp_session_get_client_address (session), ':') != NULL ? "[IPv6:" : "[");
      append_sanitised (out, pd_smtp_session_get_client_address (session), 64);
      g_string_append_c (out, ']');
    }
  g_string_append (out, ")\r\n\tby ");
  g_string_append (out, pd_smtp_session_get_hostname (session));

  /* RFC 3848 protocol types. */
  if (pd_smtp_session_get_protocol (session) == PD_SMTP_PROTOCOL_LMTP)
    with = pd_smtp_session_get_tls (session) ? "LMTPS" : "LMTP";
  else if (!pd_smtp_session_get_esmtp (session))
    with = "SMTP";
  else
    with = pd_smtp_session_get_tls (session) ? "ESMTPS" : "ESMTP";
  g_string_append_printf (out, " (Postern) with %s id %s", with, pd_smtp_session_get_id (session));
  if (recipient != NULL)
    {
      g_string_append (out, "\r\n\tfor <");
      append_sanitised (out, recipient, 254);
      g_string_append_c (out, '>');
    }

  offset_minutes = g_date_time_get_utc_offset (when) / G_TIME_SPAN_MINUTE;
  sign = offset_minutes < 0 ? '-' : '+';
  offset_minutes = ABS (offset_minutes);
  /* Day and month names by hand: strftime's follow the locale. */
  g_string_append_printf (out, "; %s, %d %s %d %02d:%02d:%02d %c%02d%02d\r\n",
                          days[g_date_time_get_day_of_week (when) - 1],
                          g_date_time_get_day_of_month (when),
                          months[g_date_time_get_month (when) - 1],
                          g_date_time_get_year (when),
                          g_date_time_get_hour (when),
                          g_date_time_get_minute (when),
                          g_date_time_get_second (when),
                          sign, (int)(offset_minutes / 60), (int)(offset_minutes % 60));
  return g_string_free (out, FALSE);
}

/* ---- RCPT ---- */

typedef struct
{
  PdSmtpSession *session;
  guint code;
  char *enhanced;
  char *text;
} PendingReply;

static void
pending_reply_free (PendingReply *pending)
{
  g_object_unref (pending->session);
  g_free (pending->enhanced);
  g_free (pending->text);
  g_free (pending);
}

static void
refusal_committed_cb (GObject *source,
                      GAsyncResult *result,
                      gpointer user_data)
{
  PendingReply *pending = user_data;
  g_autoptr (GError) error = NULL;
  g_autoptr (GArray) ids = pd_store_commit_message_finish (PD_STORE (source), result, &error);
  PdSmtpReply reply = { pending->code, pending->enhanced, pending->text };

  /* The refusal stands whether or not its event could be written. */
  if (ids == NULL)
    g_warning ("session=%s event=store-error what=refusal error=\"%s\"",
               pd_smtp_session_get_id (pending->session), error->message);
  pd_smtp_session_complete_recipient (pending->session, &reply);
  pending_reply_free (pending);
}

/* The reply that refuses @verdict (one that is not accepted) for
 * @channel, at RCPT or after DATA: code and enhanced code in @out, the
 * text returned (@out->text points at it). */
static char *
refusal_for (PosternChannel *channel,
             PosternVerdict verdict,
             PdSmtpReply *out)
{
  const char *farewell = postern_channel_get_farewell_text (channel);
  char *text;

  switch (verdict)
    {
      case POSTERN_VERDICT_REJECTED_REVOKED:
      case POSTERN_VERDICT_REJECTED_EXPIRED:
        *out = (PdSmtpReply){ 550, "5.1.1", NULL };
        if (farewell != NULL && *farewell != '\0')
          text = g_strdup_printf ("This channel was closed by its owner: %s", farewell);
        else
          text = g_strdup ("This channel was closed by its owner");
        break;
      case POSTERN_VERDICT_REJECTED_PAUSED:
        *out = (PdSmtpReply){ 450, "4.2.1", NULL };
        text = g_strdup ("This channel is paused, try again later");
        break;
      case POSTERN_VERDICT_REJECTED_UNEXPECTED:
        *out = (PdSmtpReply){ 550, "5.7.1", NULL };
        text = g_strdup ("This channel does not take mail from this sender");
        break;
      case POSTERN_VERDICT_REJECTED_BLOCKED:
      case POSTERN_VERDICT_EXPECTED:
      case POSTERN_VERDICT_ACCEPTED:
      case POSTERN_VERDICT_UNEXPECTED:
      case POSTERN_VERDICT_HELD:
      case POSTERN_VERDICT_DROPPED_REVOKED:
      default:
        *out = (PdSmtpReply){ 550, "5.7.1", NULL };
        text = g_strdup ("Sender blocked by the recipient");
        break;
    }
  out->text = text;
  return text;
}

static void
refuse_recipient (PdIngest *self,
                  PdSmtpSession *session,
                  gint64 user_id,
                  PosternChannel *channel,
                  PosternVerdict verdict,
                  guint code,
                  const char *enhanced,
                  const char *text)
{
  g_autoptr (PdMessage) message = pd_message_new ();
  PendingReply *pending = g_new0 (PendingReply, 1);
  g_autofree char *escaped = NULL;

  escaped = pd_smtp_escape_for_log (postern_channel_get_address (channel), -1);
  g_message ("session=%s event=rcpt to=\"%s\" verdict=%s reply=%u", pd_smtp_session_get_id (session),
             escaped, postern_verdict_to_string (verdict), code);

  /* A refused recipient is an event too (the owner sees who knocked);
   * it carries no message. */
  message->envelope_sender = g_strdup (pd_smtp_session_get_mail_from (session));
  message->received_at = now_seconds ();
  pd_message_add_recipient (message, user_id, postern_channel_get_id (channel), verdict);

  pending->session = g_object_ref (session);
  pending->code = code;
  pending->enhanced = g_strdup (enhanced);
  pending->text = g_strdup (text);
  pd_store_commit_message_async (self->store, message, NULL, refusal_committed_cb, pending);
}

static void
answer_recipient (PdSmtpSession *session,
                  guint code,
                  const char *enhanced,
                  const char *text)
{
  PdSmtpReply reply = { code, enhanced, text };

  pd_smtp_session_complete_recipient (session, &reply);
}

static void
ingest_recipient (PdSmtpSession *session,
                  const PosternMailbox *sender,
                  const PosternMailbox *recipient,
                  gpointer user_data)
{
  PdIngest *self = user_data;
  g_autoptr (GError) error = NULL;
  g_autofree char *base = postern_mailbox_get_base_local_part (recipient);
  g_autofree char *local = g_ascii_strdown (base, -1);
  g_autofree char *address = g_strdup_printf ("%s@%s", local, recipient->domain);
  g_autoptr (PosternChannel) channel = NULL;
  g_autoptr (GPtrArray) blocks = NULL;
  g_auto (PosternVerdictResult) result = { 0 };
  gint64 user_id = 0;
  Recipient *r;

  channel = pd_store_lookup_recipient (self->store, address, &user_id, &blocks, &error);
  if (channel == NULL && error != NULL)
    {
      g_warning ("session=%s event=store-error what=lookup error=\"%s\"", pd_smtp_session_get_id (session), error->message);
      answer_recipient (session, 451, "4.3.0", "Temporary lookup failure, try again later");
      return;
    }
  if (channel == NULL)
    {
      g_autofree char *escaped = pd_smtp_escape_for_log (address, -1);

      g_message ("session=%s event=rcpt to=\"%s\" verdict=unknown reply=550", pd_smtp_session_get_id (session), escaped);
      answer_recipient (session, 550, "5.1.1", "No such channel here");
      return;
    }

  postern_verdict_decide (channel, blocks, sender, NULL, POSTERN_VERDICT_STAGE_RCPT, now_seconds (), &result);

  if (!postern_verdict_is_accepted (result.verdict) && result.verdict != POSTERN_VERDICT_DROPPED_REVOKED)
    {
      PdSmtpReply refusal;
      g_autofree char *text = refusal_for (channel, result.verdict, &refusal);

      refuse_recipient (self, session, user_id, channel, result.verdict, refusal.code, refusal.enhanced, text);
      return;
    }

  /* Accepted for now (a drop is answered 250 too: the sender must not
   * learn the channel is gone); DATA decides for good. A one-time channel
   * is bound only by a message that arrives, not at RCPT. */
  r = g_new0 (Recipient, 1);
  r->address = g_steal_pointer (&address);
  r->user_id = user_id;
  r->channel = g_steal_pointer (&channel);
  r->blocks = g_steal_pointer (&blocks);
  r->verdict = result.verdict;
  g_ptr_array_add (get_transaction (session)->recipients, r);
  answer_recipient (session, 250, "2.1.5", "Recipient OK");
}

/* ---- DATA ---- */

typedef struct
{
  PdIngest *self;
  PdSmtpSession *session;
  Transaction *transaction; /* owned by the session until it resets */
  gint64 size;
  char *verdicts; /* for the log line */
} Commit;

/* Whether an author of the message other than its From (several in one
 * From field, or several From fields) is blocked: any blocked author
 * refuses the message; the From alone decides the rest. The rule is still
 * the core's, asked once for each. */
static gboolean
other_author_blocked (Recipient *r,
                      const PosternMailbox *sender,
                      const PdHeaders *headers)
{
  for (guint i = 0; i < headers->authors->len; i++)
    {
      const PosternMailbox *author = g_ptr_array_index (headers->authors, i);
      g_auto (PosternVerdictResult) result = { 0 };

      if (headers->from != NULL && postern_mailbox_equal (author, headers->from))
        continue;
      postern_verdict_decide (r->channel, r->blocks, sender, author, POSTERN_VERDICT_STAGE_DATA, now_seconds (), &result);
      if (result.verdict == POSTERN_VERDICT_REJECTED_BLOCKED)
        return TRUE;
    }
  return FALSE;
}

/* Decides the final verdict of @r with the header From, binding a
 * one-time channel when this message is its first. */
static gboolean
decide_after_data (PdIngest *self,
                   PdSmtpSession *session,
                   Recipient *r,
                   const PosternMailbox *sender,
                   const PdHeaders *headers,
                   GError **error)
{
  for (guint attempt = 0; attempt < MAX_BIND_ATTEMPTS; attempt++)
    {
      g_auto (PosternVerdictResult) result = { 0 };
      PosternChannel *fresh;

      postern_verdict_decide (r->channel, r->blocks, sender, headers->from, POSTERN_VERDICT_STAGE_DATA,
                              now_seconds (), &result);
      r->verdict = result.verdict;
      if (postern_verdict_is_accepted (r->verdict) && r->verdict != POSTERN_VERDICT_DROPPED_REVOKED && headers->authors->len > (headers->from != NULL ? 1u : 0u) && other_author_blocked (r, sender, headers))
        {
          r->verdict = POSTERN_VERDICT_REJECTED_BLOCKED;
          return TRUE;
        }
      if (result.bind_sender == NULL)
        return TRUE;

      if (pd_store_bind_one_time (self->store, postern_channel_get_id (r->channel), result.bind_sender, error))
        {
          g_autofree char *who = postern_mailbox_to_string (result.bind_sender);
          g_autofree char *escaped = pd_smtp_escape_for_log (who, -1);

          g_message ("session=%s event=bind channel=%s sender=\"%s\"", pd_smtp_session_get_id (session),
                     postern_channel_get_id (r->channel), escaped);
          return TRUE;
        }
      if (error != NULL && *error != NULL)
        return FALSE;

      /* Another message bound it first: decide again against its
       * sender. */
      fresh = pd_store_get_channel (self->store, r->user_id, postern_channel_get_id (r->channel), error);
      if (fresh == NULL)
        return FALSE;
      g_object_unref (r->channel);
      r->channel = fresh;
    }
  g_set_error (error, PD_STORE_ERROR, PD_STORE_ERROR_CONFLICT, "One-time channel kept changing");
  return FALSE;
}

static void
finish_message (Commit *commit,
                gboolean stored,
                const char *queue_id)
{
  PdSmtpSession *session = commit->session;
  GPtrArray *recipients = commit->transaction->recipients;
  g_autoptr (GArray) replies = g_array_new (FALSE, TRUE, sizeof (PdSmtpReply));
  g_autoptr (GPtrArray) texts = g_ptr_array_new_with_free_func (g_free);
  g_autofree char *ok_text = g_strdup_printf ("OK: queued as %s", queue_id != NULL ? queue_id : "-");
  gboolean any_taken = FALSE;
  PdSmtpReply refused = { 550, "5.7.1", "Sender blocked by the recipient" };
  gboolean any_refused = FALSE;
  PdSmtpReply failed = { 451, "4.3.0", "Local error: message not stored, try again later" };
  PdSmtpReply ok = { 250, "2.0.0", ok_text };

  for (guint i = 0; i < recipients->len; i++)
    {
      Recipient *r = g_ptr_array_index (recipients, i);
      gboolean taken = postern_verdict_is_accepted (r->verdict) || r->verdict == POSTERN_VERDICT_DROPPED_REVOKED;

      any_taken |= taken;
      if (!stored)
        {
          g_array_append_val (replies, failed);
        }
      else if (taken)
        {
          g_array_append_val (replies, ok);
        }
      else
        {
          /* The refusal RCPT would have given (a channel that expired
           * meanwhile says so, with its farewell); the first one is
           * SMTP's one reply when nobody took the message. */
          PdSmtpReply refusal;

          g_ptr_array_add (texts, refusal_for (r->channel, r->verdict, &refusal));
          g_array_append_val (replies, refusal);
          if (!any_refused)
            refused = refusal;
          any_refused = TRUE;
        }
    }

  if (pd_smtp_session_get_protocol (session) == PD_SMTP_PROTOCOL_SMTP || replies->len == 0)
    {
      /* One reply for all: 250 when any recipient took it (the others'
       * refusals are recorded as events). */
      PdSmtpReply *one = !stored ? &failed : any_taken ? &ok
                                                       : &refused;

      pd_smtp_session_complete_message (session, one, 1);
    }
  else
    pd_smtp_session_complete_message (session, (PdSmtpReply *)(gpointer)replies->data, replies->len);
}

static void
message_committed_cb (GObject *source,
                      GAsyncResult *result,
                      gpointer user_data)
{
  Commit *commit = user_data;
  g_autoptr (GError) error = NULL;
  g_autoptr (GArray) ids = pd_store_commit_message_finish (PD_STORE (source), result, &error);
  g_autofree char *queue_id = NULL;

  if (ids == NULL)
    {
      g_warning ("session=%s event=store-error what=commit error=\"%s\"",
                 pd_smtp_session_get_id (commit->session), error->message);
      finish_message (commit, FALSE, NULL);
    }
  else
    {
      gint64 first = ids->len > 0 ? g_array_index (ids, gint64, 0) : 0;

      queue_id = g_strdup_printf ("E%" G_GINT64_FORMAT, first);
      g_message ("session=%s event=stored id=%s size=%" G_GINT64_FORMAT " verdicts=%s",
                 pd_smtp_session_get_id (commit->session), queue_id, commit->size, commit->verdicts);
      finish_message (commit, TRUE, queue_id);
    }
  g_object_unref (commit->session);
  g_object_unref (commit->self);
  g_free (commit->verdicts);
  g_free (commit);
}

static void
ingest_message (PdSmtpSession *session,
                GBytes *data,
                const PdHeaders *headers,
                gpointer user_data)
{
  PdIngest *self = user_data;
  Transaction *transaction = get_transaction (session);
  g_autoptr (PdMessage) message = pd_message_new ();
  g_autoptr (PosternMailbox) sender = NULL;
  g_autoptr (GHashTable) seen = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr (GError) error = NULL;
  g_autoptr (GString) verdicts = g_string_new (NULL);
  const char *mail_from = pd_smtp_session_get_mail_from (session);
  gboolean keep = FALSE;
  Commit *commit;

  if (mail_from != NULL && *mail_from != '\0')
    sender = postern_mailbox_parse (mail_from, -1, NULL);

  message->envelope_sender = g_strdup (mail_from != NULL ? mail_from : "");
  message->header_from = g_strdup (headers->from_address);
  message->subject = g_strdup (headers->subject);
  message->message_id = g_strdup (headers->message_id);
  message->received_at = now_seconds ();
  message->size = (gint64)g_bytes_get_size (data);

  for (guint i = 0; i < transaction->recipients->len; i++)
    {
      Recipient *r = g_ptr_array_index (transaction->recipients, i);
      const char *channel_id = postern_channel_get_id (r->channel);

      /* shop@ and shop+news@ are one channel: one verdict, one event. */
      if (g_hash_table_contains (seen, channel_id))
        {
          Recipient *first = g_hash_table_lookup (seen, channel_id);

          r->verdict = first->verdict;
          continue;
        }
      if (!decide_after_data (self, session, r, sender, headers, &error))
        {
          PdSmtpReply failed = { 451, "4.3.0", "Local error: message not stored, try again later" };

          g_warning ("session=%s event=store-error what=bind error=\"%s\"", pd_smtp_session_get_id (session), error->message);
          pd_smtp_session_complete_message (session, &failed, 1);
          return;
        }
      /* The channel may have been re-read: take its id again. */
      channel_id = postern_channel_get_id (r->channel);
      g_hash_table_insert (seen, (gpointer)channel_id, r);
      pd_message_add_recipient (message, r->user_id, channel_id, r->verdict);
      g_string_append_printf (verdicts, "%s%s", verdicts->len > 0 ? "," : "", postern_verdict_to_string (r->verdict));
      keep |= postern_verdict_is_accepted (r->verdict);
    }

  if (keep)
    {
      /* Our trace field on top, the client's bytes untouched below. */
      g_autoptr (GDateTime) now = g_date_time_new_now (self->zone);
      GPtrArray *accepted = pd_smtp_session_get_recipients (session);
      g_autofree char *received = pd_ingest_format_received (session, accepted->len == 1 ? g_ptr_array_index (accepted, 0) : NULL, now);
      gsize size;
      gconstpointer bytes = g_bytes_get_data (data, &size);
      GByteArray *stored = g_byte_array_sized_new (strlen (received) + size);

      g_byte_array_append (stored, (const guint8 *)received, strlen (received));
      g_byte_array_append (stored, bytes, size);
      message->data = g_byte_array_free_to_bytes (stored);
    }

  commit = g_new0 (Commit, 1);
  commit->self = g_object_ref (self);
  commit->session = g_object_ref (session);
  commit->transaction = transaction;
  commit->size = message->size;
  commit->verdicts = g_string_free (g_steal_pointer (&verdicts), FALSE);
  pd_store_commit_message_async (self->store, message, NULL, message_committed_cb, commit);
}

static const PdSmtpBackend ingest_backend = {
  ingest_recipient,
  ingest_message,
  NULL,
};

const PdSmtpBackend *
pd_ingest_get_backend (void)
{
  return &ingest_backend;
}

static void
pd_ingest_finalize (GObject *object)
{
  PdIngest *self = PD_INGEST (object);

  g_clear_object (&self->store);
  g_clear_pointer (&self->zone, g_time_zone_unref);

  G_OBJECT_CLASS (pd_ingest_parent_class)->finalize (object);
}

static void
pd_ingest_class_init (PdIngestClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = pd_ingest_finalize;
}

static void
pd_ingest_init (PdIngest *self)
{
}

PdIngest *
pd_ingest_new (PdStore *store)
{
  PdIngest *self;

  g_return_val_if_fail (PD_IS_STORE (store), NULL);

  self = g_object_new (PD_TYPE_INGEST, NULL);
  self->store = g_object_ref (store);
  self->zone = g_time_zone_new_local ();
  return self;
}
