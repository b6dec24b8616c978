/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/*
 * Every limit of the SMTP/LMTP ingest, in one place. Each has a named
 * default here and a key in the [limits] group of the configuration file
 * (the key name is in the comment); docs/smtp.md says which reply each one
 * gives when it is reached.
 */

/* command_line_length: octets of one command line, CRLF included
 * (RFC 5321 4.5.3.1.4). Longer: 500 5.5.2. */
#define PD_LIMIT_COMMAND_LINE_DEFAULT 512
/* text_line_length: octets of one line of message text, CRLF included
 * (RFC 5321 4.5.3.1.6). Longer: the message is refused, 500 5.5.2. */
#define PD_LIMIT_TEXT_LINE_DEFAULT 1000
/* message_size: octets of message text as received (before our trace
 * header). SIZE= above it or more text: 552 5.3.4. */
#define PD_LIMIT_MESSAGE_SIZE_DEFAULT (10 * 1024 * 1024)
/* recipients: accepted RCPT per transaction. More: 452 4.5.3. */
#define PD_LIMIT_RECIPIENTS_DEFAULT 100
/* sessions_per_client: concurrent sessions from one client address.
 * More: 421 4.7.0 at connect. */
#define PD_LIMIT_SESSIONS_PER_CLIENT_DEFAULT 10
/* sessions: concurrent sessions in all. More: 421 4.3.2 at connect. */
#define PD_LIMIT_SESSIONS_DEFAULT 1000
/* idle_timeout: seconds for the next whole command line, from when the
 * server starts waiting for it (octets trickled in do not extend it).
 * Then: 421 4.4.2. */
#define PD_LIMIT_IDLE_TIMEOUT_DEFAULT 300
/* data_timeout: the same for each line of message text. */
#define PD_LIMIT_DATA_TIMEOUT_DEFAULT 180
/* tls_handshake_timeout: seconds for the STARTTLS handshake. */
#define PD_LIMIT_TLS_HANDSHAKE_TIMEOUT_DEFAULT 30
/* errors: error replies (4xx/5xx) in one session before it is closed with
 * 421 4.7.0. */
#define PD_LIMIT_ERRORS_DEFAULT 20
/* received_headers: Received: header fields a message may carry. More:
 * 554 5.4.6 (mail loop). */
#define PD_LIMIT_RECEIVED_HEADERS_DEFAULT 50
/* header_size: octets of the header section of a message. More: 552 5.3.4
 * (a parser bound; real header sections are a few KiB). */
#define PD_LIMIT_HEADER_SIZE_DEFAULT (256 * 1024)

typedef struct
{
  guint command_line_length;
  guint text_line_length;
  guint64 message_size;
  guint recipients;
  guint sessions_per_client;
  guint sessions;
  guint idle_timeout;
  guint data_timeout;
  guint tls_handshake_timeout;
  guint errors;
  guint received_headers;
  guint header_size;
} PdLimits;

static inline void
pd_limits_init (PdLimits *limits)
{
  limits->command_line_length = PD_LIMIT_COMMAND_LINE_DEFAULT;
  limits->text_line_length = PD_LIMIT_TEXT_LINE_DEFAULT;
  limits->message_size = PD_LIMIT_MESSAGE_SIZE_DEFAULT;
  limits->recipients = PD_LIMIT_RECIPIENTS_DEFAULT;
  limits->sessions_per_client = PD_LIMIT_SESSIONS_PER_CLIENT_DEFAULT;
  limits->sessions = PD_LIMIT_SESSIONS_DEFAULT;
  limits->idle_timeout = PD_LIMIT_IDLE_TIMEOUT_DEFAULT;
  limits->data_timeout = PD_LIMIT_DATA_TIMEOUT_DEFAULT;
  limits->tls_handshake_timeout = PD_LIMIT_TLS_HANDSHAKE_TIMEOUT_DEFAULT;
  limits->errors = PD_LIMIT_ERRORS_DEFAULT;
  limits->received_headers = PD_LIMIT_RECEIVED_HEADERS_DEFAULT;
  limits->header_size = PD_LIMIT_HEADER_SIZE_DEFAULT;
}

G_END_DECLS
