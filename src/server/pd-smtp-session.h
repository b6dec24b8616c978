/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib-object.h>

#include "pd-headers.h"
#include "pd-limits.h"
#include "postern-core.h"

G_BEGIN_DECLS

/*
 * One SMTP or LMTP session as a state machine that does no I/O: the
 * connection (pd-smtp-server.c), the golden transcript test and the fuzzer
 * feed it the bytes a client sent and write out the replies it produced.
 *
 * The protocol lives here: command syntax, states and their order, limits,
 * DATA framing (only CRLF.CRLF ends it; bare CR or LF refuses the message),
 * dot-unstuffing, the relay check against the channel domains and the loop
 * check. What a recipient or a message *means* is asked of a backend
 * (PdSmtpBackend: the store and the verdict in production, a table in the
 * tests), which may answer at once or later; while it has not answered the
 * session reads no further input, so pipelined commands keep their order.
 */

typedef enum
{
  PD_SMTP_PROTOCOL_SMTP,
  PD_SMTP_PROTOCOL_LMTP,
} PdSmtpProtocol;

typedef enum
{
  PD_SMTP_STATE_CONNECTED, /* greeting sent; EHLO/HELO/LHLO expected */
  PD_SMTP_STATE_READY,     /* greeted, no transaction */
  PD_SMTP_STATE_MAIL,      /* MAIL accepted, no recipient accepted yet */
  PD_SMTP_STATE_RCPT,      /* at least one recipient accepted */
  PD_SMTP_STATE_DATA,      /* reading message text */
  PD_SMTP_STATE_TLS,       /* STARTTLS answered: the connection must now do the handshake */
  PD_SMTP_STATE_CLOSED,    /* the connection must be closed once the output is written */
} PdSmtpState;

typedef struct
{
  guint code;           /* 250, 550, ... */
  const char *enhanced; /* "2.1.5", or NULL */
  const char *text;     /* one line, printable ASCII */
} PdSmtpReply;

#define PD_TYPE_SMTP_SESSION (pd_smtp_session_get_type ())
G_DECLARE_FINAL_TYPE (PdSmtpSession, pd_smtp_session, PD, SMTP_SESSION, GObject)

typedef struct
{
  /* A RCPT passed syntax and the domain check. Answer with
   * pd_smtp_session_complete_recipient(), now or later. @sender is NULL
   * for the null sender <>. */
  void (*recipient) (PdSmtpSession *session,
                     const PosternMailbox *sender,
                     const PosternMailbox *recipient,
                     gpointer user_data);
  /* The message text passed every check (size, line ends, loop). @data is
   * exactly what the client meant (dot-unstuffed, CRLF line ends). Answer
   * with pd_smtp_session_complete_message(), now or later. */
  void (*message) (PdSmtpSession *session,
                   GBytes *data,
                   const PdHeaders *headers,
                   gpointer user_data);
  /* The transaction ended (RSET, MAIL done, EHLO, QUIT, close): forget
   * what was kept for it. Optional. */
  void (*reset) (PdSmtpSession *session,
                 gpointer user_data);
} PdSmtpBackend;

typedef struct
{
  PdSmtpProtocol protocol;
  const char *hostname;       /* ours, for the greeting and EHLO */
  const char *session_id;     /* for logs and the Received: header; NULL: random */
  const char *client_address; /* "192.0.2.1", "2001:db8::1" or "unix" */
  const char *const *domains; /* channel domains, normalised: the only recipients we take */
  gboolean tls_available;     /* offer STARTTLS */
  const PdLimits *limits;     /* NULL: the defaults */
} PdSmtpSessionOptions;

PdSmtpSession *pd_smtp_session_new (const PdSmtpSessionOptions *options,
                                    const PdSmtpBackend *backend,
                                    gpointer backend_data);

/* Produces the greeting (220), or, when @refusal is non-NULL, that reply
 * (a 421 for a connection limit) and closes. */
void pd_smtp_session_start (PdSmtpSession *self, const PdSmtpReply *refusal);

/* Hands over bytes the client sent. The session consumes what it can now
 * and keeps the rest (bounded by the limits) until the backend answers. */
void pd_smtp_session_feed (PdSmtpSession *self, const char *data, gsize length);

/* The client closed its side. */
void pd_smtp_session_eof (PdSmtpSession *self);

/* The connection's idle timer fired: 421 4.4.2 and close. */
void pd_smtp_session_timeout (PdSmtpSession *self);

/* The STARTTLS handshake succeeded: the session starts over (RFC 3207),
 * knowing it is encrypted. */
void pd_smtp_session_tls_established (PdSmtpSession *self);

/* Replies produced so far, removed from the session; NULL when none. */
GBytes *pd_smtp_session_take_output (PdSmtpSession *self);
gboolean pd_smtp_session_has_output (PdSmtpSession *self);

PdSmtpState pd_smtp_session_get_state (PdSmtpSession *self);
/* TRUE while a backend answer is awaited (do not read more input). */
gboolean pd_smtp_session_is_waiting (PdSmtpSession *self);
/* Seconds of idleness allowed in the current state. */
guint pd_smtp_session_get_timeout (PdSmtpSession *self);
/* Whole lines (commands and message text) the session has taken so far:
 * a wait for input that started at the same count is still the same
 * request, however many octets of it came meanwhile. */
guint64 pd_smtp_session_get_lines (PdSmtpSession *self);

/* The backend's answers. For a message: SMTP takes one reply; LMTP one per
 * accepted recipient in RCPT order (a single reply is used for all). */
void pd_smtp_session_complete_recipient (PdSmtpSession *self, const PdSmtpReply *reply);
void pd_smtp_session_complete_message (PdSmtpSession *self, const PdSmtpReply *replies, guint n_replies);

/* What the backend may want to know. */
PdSmtpProtocol pd_smtp_session_get_protocol (PdSmtpSession *self);
const char *pd_smtp_session_get_id (PdSmtpSession *self);
const char *pd_smtp_session_get_hostname (PdSmtpSession *self);
const char *pd_smtp_session_get_client_address (PdSmtpSession *self);
const char *pd_smtp_session_get_helo (PdSmtpSession *self);
gboolean pd_smtp_session_get_esmtp (PdSmtpSession *self);
gboolean pd_smtp_session_get_tls (PdSmtpSession *self);
/* The envelope sender as given ("" for <>), NULL outside a transaction. */
const char *pd_smtp_session_get_mail_from (PdSmtpSession *self);
/* Accepted recipients of the current transaction (strings, as given). */
GPtrArray *pd_smtp_session_get_recipients (PdSmtpSession *self);
/* Per-transaction data owned by the backend; dropped at reset. */
void pd_smtp_session_set_transaction_data (PdSmtpSession *self, gpointer data, GDestroyNotify destroy);
gpointer pd_smtp_session_get_transaction_data (PdSmtpSession *self);

/* Escapes client-supplied text for a log line (bounded length). */
char *pd_smtp_escape_for_log (const char *text, gssize length);

G_END_DECLS
