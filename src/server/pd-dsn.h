/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/*
 * Delivery status notifications (RFC 3464): what the original sender gets
 * when posternd gives up forwarding a message to the channel's owner.
 *
 * The report names the channel address as the final recipient, never the
 * owner's real mailbox (that address is what Postern keeps private), and
 * carries the remote reply's codes but not its text (which usually quotes
 * the real address). The third part is the original header section
 * (text/rfc822-headers), bounded.
 */

/* Octets of the original header section a DSN carries at most. */
#define PD_DSN_MAX_HEADERS (64 * 1024)

typedef struct
{
  const char *reporting_mta;   /* our host name */
  const char *from_domain;     /* header From: MAILER-DAEMON@from_domain */
  const char *original_sender; /* the envelope sender: the DSN goes there */
  const char *final_recipient; /* the channel address */
  gint64 arrival_date;         /* unix seconds the message came in */
  gint64 last_attempt_date;    /* unix seconds of the last attempt */
  const char *status;          /* enhanced status code, "5.1.1" */
  guint reply_code;            /* the remote reply (550), or 0 when there was none */
  const char *reason;          /* one line for people: why it failed */
  GBytes *original;            /* the message as it was stored */
} PdDsnReport;

/* NULL when a DSN may go to @envelope_sender about @message; else why
 * not (a static string for the log): the null sender, MAILER-DAEMON, an
 * address on one of @our_domains (a bounce address of ours or a channel:
 * a loop), or a message that is itself a DSN or automatic
 * (Auto-Submitted other than "no", multipart/report). */
const char *pd_dsn_suppress_reason (const char *envelope_sender, GBytes *message, const char *const *our_domains);

/* The DSN as a complete message (CRLF line ends). */
GBytes *pd_dsn_build (const PdDsnReport *report);

/* RFC 5322 date-time in UTC for @unix_seconds, independent of the
 * locale ("Sat, 28 Nov 2026 11:15:59 +0000"). */
char *pd_dsn_format_date (gint64 unix_seconds);

G_END_DECLS
