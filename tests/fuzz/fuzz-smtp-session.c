/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <string.h>

#include "pd-smtp-session.h"

/*
 * libFuzzer target that plays whole sessions against the real SMTP/LMTP
 * state machine (pd-smtp-session.c, with GMime header parsing after DATA).
 * The first input octet picks SMTP or LMTP and how the rest is cut into
 * reads (protocol state must not depend on where reads end); STARTTLS
 * "succeeds" at once so the machine keeps going. Beyond "no crash", it
 * checks what the connection relies on: every reply is CRLF-terminated
 * lines of "DDD[ -]" printable text, replies stop once the session is
 * closed, and no reply comes from a session that is waiting.
 */

int LLVMFuzzerTestOneInput (const guint8 *data, size_t size);

static void
fuzz_recipient (PdSmtpSession *session,
                const PosternMailbox *sender,
                const PosternMailbox *recipient,
                gpointer user_data)
{
  static const PdSmtpReply answers[] = {
    { 250, "2.1.5", "OK" },
    { 550, "5.1.1", "No such channel" },
    { 450, "4.2.1", "Paused" },
    { 550, "5.7.1", "Blocked" },
  };
  guint h = g_str_hash (recipient->local_part);

  pd_smtp_session_complete_recipient (session, &answers[h % G_N_ELEMENTS (answers)]);
}

static void
fuzz_message (PdSmtpSession *session,
              GBytes *message,
              const PdHeaders *headers,
              gpointer user_data)
{
  PdSmtpReply replies[2] = { { 250, "2.0.0", "Queued" }, { 550, "5.7.1", "Refused" } };
  GPtrArray *recipients = pd_smtp_session_get_recipients (session);

  if (recipients->len == 0)
    g_error ("a message without an accepted recipient reached the backend");
  if (headers->subject != NULL && !g_utf8_validate (headers->subject, -1, NULL))
    g_error ("subject is not UTF-8");
  if (pd_smtp_session_get_protocol (session) == PD_SMTP_PROTOCOL_LMTP && recipients->len == 2)
    pd_smtp_session_complete_message (session, replies, 2);
  else
    pd_smtp_session_complete_message (session, replies, 1);
}

static const PdSmtpBackend fuzz_backend = { fuzz_recipient, fuzz_message, NULL };

static void
check_output (PdSmtpSession *session)
{
  g_autoptr (GBytes) out = pd_smtp_session_take_output (session);
  gsize len = 0;
  const char *p = out != NULL ? g_bytes_get_data (out, &len) : NULL;
  gsize i = 0;

  while (i < len)
    {
      const char *crlf = g_strstr_len (p + i, len - i, "\r\n");
      gsize line_len;

      if (crlf == NULL)
        g_error ("reply without CRLF");
      line_len = (gsize)(crlf - (p + i));
      if (line_len < 4 || !g_ascii_isdigit (p[i]) || !g_ascii_isdigit (p[i + 1]) || !g_ascii_isdigit (p[i + 2]) || (p[i + 3] != ' ' && p[i + 3] != '-'))
        g_error ("malformed reply line");
      for (gsize k = 0; k < line_len; k++)
        if ((guchar)p[i + k] < 0x20 || (guchar)p[i + k] >= 0x7f)
          g_error ("control or 8-bit octet in a reply");
      i += line_len + 2;
    }
}

static GLogWriterOutput
quiet_writer (GLogLevelFlags log_level,
              const GLogField *fields,
              gsize n_fields,
              gpointer user_data)
{
  if (log_level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING))
    return g_log_writer_standard_streams (log_level, fields, n_fields, user_data);
  return G_LOG_WRITER_HANDLED;
}

int
LLVMFuzzerTestOneInput (const guint8 *data,
                        size_t size)
{
  static gboolean initialized;
  static const char *const domains[] = { "ch.test", "other.test", NULL };
  g_autoptr (PdSmtpSession) session = NULL;
  PdLimits limits;
  PdSmtpSessionOptions options = { 0 };
  gsize pos = 1, chunk;

  if (!initialized)
    {
      g_log_set_writer_func (quiet_writer, NULL, NULL);
      /* Criticals (failed preconditions) are bugs here: abort on them. */
      g_log_set_always_fatal (G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING);
      initialized = TRUE;
    }
  if (size < 1)
    return 0;

  pd_limits_init (&limits);
  limits.message_size = 64 * 1024;
  limits.recipients = 5;
  limits.errors = 1000; /* keep going: the point is to reach every state */
  limits.received_headers = 3;

  options.protocol = (data[0] & 1) ? PD_SMTP_PROTOCOL_LMTP : PD_SMTP_PROTOCOL_SMTP;
  options.hostname = "mx.test";
  options.session_id = "fuzz";
  options.client_address = "192.0.2.1";
  options.domains = domains;
  options.tls_available = (data[0] & 2) != 0;
  options.limits = &limits;
  chunk = 1 + (data[0] >> 2) * 7; /* 1 .. 442 octets a read */

  session = pd_smtp_session_new (&options, &fuzz_backend, NULL);
  pd_smtp_session_start (session, NULL);
  check_output (session);

  while (pos < size && pd_smtp_session_get_state (session) != PD_SMTP_STATE_CLOSED)
    {
      gsize n = MIN (chunk, size - pos);

      if (pd_smtp_session_is_waiting (session))
        g_error ("session waits on a backend that always answers at once");
      pd_smtp_session_feed (session, (const char *)data + pos, n);
      pos += n;
      check_output (session);
      if (pd_smtp_session_get_state (session) == PD_SMTP_STATE_TLS)
        pd_smtp_session_tls_established (session);
    }
  if (pd_smtp_session_get_state (session) != PD_SMTP_STATE_CLOSED)
    {
      pd_smtp_session_eof (session);
      if (pd_smtp_session_has_output (session))
        g_error ("output after EOF");
    }
  else if (pd_smtp_session_has_output (session))
    g_error ("output left after close");
  return 0;
}
