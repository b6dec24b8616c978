/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <string.h>

#include "pd-dsn.h"
#include "pd-forward.h"
#include "postern-core.h"

/* Octets of one unfolded header field we look at for the suppression
 * rules; longer ones are cut (the words we look for come first). */
#define FIELD_MAX 4096

char *
pd_dsn_format_date (gint64 unix_seconds)
{
  static const char *const days[] = { "Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun" };
  static const char *const months[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                        "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
  g_autoptr (GDateTime) when = g_date_time_new_from_unix_utc (unix_seconds);

  if (when == NULL)
    when = g_date_time_new_from_unix_utc (0);
  /* Names by hand: strftime's follow the locale. */
  return g_strdup_printf ("%s, %d %s %d %02d:%02d:%02d +0000",
                          days[g_date_time_get_day_of_week (when) - 1],
                          g_date_time_get_day_of_month (when),
                          months[g_date_time_get_month (when) - 1],
                          g_date_time_get_year (when),
                          g_date_time_get_hour (when),
                          g_date_time_get_minute (when),
                          g_date_time_get_second (when));
}

/* Calls @func for every header field of @section, unfolded, with its name
 * and value (both lower case, value trimmed). Stops when it returns
 * TRUE, and returns that. */
typedef gboolean (*FieldFunc) (const char *name, const char *value, gpointer user_data);

static gboolean
foreach_field (GBytes *section,
               FieldFunc func,
               gpointer user_data)
{
  gsize size;
  const char *data = g_bytes_get_data (section, &size);
  g_autoptr (GString) field = g_string_new (NULL);
  gsize at = 0;

  while (at <= size)
    {
      const char *nl = at < size ? memchr (data + at, '\n', size - at) : NULL;
      gsize end = nl != NULL ? (gsize)(nl - data) : size;
      gsize line_end = end > at && data[end - 1] == '\r' ? end - 1 : end;
      gboolean continuation = line_end > at && (data[at] == ' ' || data[at] == '\t');

      if (!continuation && field->len > 0)
        {
          char *colon = strchr (field->str, ':');

          if (colon != NULL)
            {
              g_autofree char *name = g_ascii_strdown (field->str, colon - field->str);
              g_autofree char *value = g_ascii_strdown (colon + 1, -1);

              g_strstrip (name);
              g_strstrip (value);
              if (func (name, value, user_data))
                return TRUE;
            }
          g_string_truncate (field, 0);
        }
      if (line_end == at)
        break; /* the empty line: end of the header section */
      if (field->len < FIELD_MAX)
        g_string_append_len (field, data + at, MIN (line_end - at, FIELD_MAX - field->len));
      if (nl == NULL)
        break;
      at = end + 1;
    }
  if (field->len > 0)
    {
      char *colon = strchr (field->str, ':');

      if (colon != NULL)
        {
          g_autofree char *name = g_ascii_strdown (field->str, colon - field->str);
          g_autofree char *value = g_ascii_strdown (colon + 1, -1);

          g_strstrip (name);
          g_strstrip (value);
          return func (name, value, user_data);
        }
    }
  return FALSE;
}

static gboolean
is_automatic_cb (const char *name,
                 const char *value,
                 gpointer user_data)
{
  const char **reason = user_data;

  /* RFC 3834: anything but "no" is automatic. */
  if (g_str_equal (name, "auto-submitted") && !g_str_has_prefix (value, "no") && *value != '\0')
    {
      *reason = "the message is automatic (Auto-Submitted)";
      return TRUE;
    }
  if (g_str_equal (name, "content-type") && g_str_has_prefix (value, "multipart/report"))
    {
      *reason = "the message is itself a report (multipart/report)";
      return TRUE;
    }
  return FALSE;
}

const char *
pd_dsn_suppress_reason (const char *envelope_sender,
                        GBytes *message,
                        const char *const *our_domains)
{
  g_autoptr (PosternMailbox) sender = NULL;
  g_autoptr (GBytes) section = NULL;
  g_autofree char *local = NULL;
  const char *reason = NULL;

  if (envelope_sender == NULL || *envelope_sender == '\0')
    return "the sender is the null sender <>";
  sender = postern_mailbox_parse (envelope_sender, -1, NULL);
  if (sender == NULL)
    return "the sender address is not valid";
  local = g_ascii_strdown (sender->local_part, -1);
  if (g_str_equal (local, "mailer-daemon"))
    return "the sender is MAILER-DAEMON";
  if (our_domains != NULL && g_strv_contains (our_domains, sender->domain))
    return "the sender is on one of our domains (a loop)";
  if (message != NULL)
    {
      section = pd_forward_get_header_section (message, PD_DSN_MAX_HEADERS);
      if (foreach_field (section, is_automatic_cb, &reason))
        return reason;
    }
  return NULL;
}

/* A value for a DSN field: printable ASCII only. */
static char *
ascii_field (const char *text)
{
  GString *out = g_string_new (NULL);

  for (const char *p = text != NULL ? text : ""; *p != '\0' && out->len < 900; p++)
    g_string_append_c (out, g_ascii_isprint (*p) ? *p : '?');
  return g_string_free (out, FALSE);
}

/* Length-aware: the returned header section may hold a NUL. */
static gboolean
ends_with (GString *text,
           const char *suffix)
{
  gsize n = strlen (suffix);

  return text->len >= n && memcmp (text->str + text->len - n, suffix, n) == 0;
}

GBytes *
pd_dsn_build (const PdDsnReport *report)
{
  GString *out = g_string_new (NULL);
  g_autofree char *now = NULL;
  g_autofree char *arrival = NULL;
  g_autofree char *last = NULL;
  g_autofree char *boundary = NULL;
  g_autofree char *sender = NULL;
  g_autofree char *recipient = NULL;
  g_autofree char *reason = NULL;
  g_autofree char *mta = NULL;
  g_autofree char *status = NULL;
  g_autoptr (GBytes) headers = NULL;
  gsize headers_size = 0;
  gconstpointer headers_data;
  const char *action_text;

  g_return_val_if_fail (report != NULL, NULL);
  g_return_val_if_fail (report->original_sender != NULL && report->final_recipient != NULL, NULL);
  g_return_val_if_fail (report->reporting_mta != NULL && report->from_domain != NULL, NULL);

  now = pd_dsn_format_date (g_get_real_time () / G_USEC_PER_SEC);
  arrival = pd_dsn_format_date (report->arrival_date);
  last = pd_dsn_format_date (report->last_attempt_date);
  boundary = g_strdup_printf ("%08x%08x.dsn.postern", g_random_int (), g_random_int ());
  sender = ascii_field (report->original_sender);
  recipient = ascii_field (report->final_recipient);
  reason = ascii_field (report->reason != NULL ? report->reason : "delivery failed");
  mta = ascii_field (report->reporting_mta);
  status = ascii_field (report->status != NULL ? report->status : "5.0.0");
  action_text = status[0] == '4' ? "could not be delivered in time" : "could not be delivered";

  g_string_append_printf (out, "From: Mail Delivery System <MAILER-DAEMON@%s>\r\n", report->from_domain);
  g_string_append_printf (out, "To: <%s>\r\n", sender);
  g_string_append (out, "Subject: Undelivered Mail Returned to Sender\r\n");
  g_string_append_printf (out, "Date: %s\r\n", now);
  g_string_append_printf (out, "Message-ID: <%s@%s>\r\n", boundary, mta);
  /* RFC 3834 5.1: a DSN is an automatic reply; nobody replies to it. */
  g_string_append (out, "Auto-Submitted: auto-replied\r\n");
  g_string_append (out, "MIME-Version: 1.0\r\n");
  g_string_append_printf (out, "Content-Type: multipart/report; report-type=delivery-status;\r\n"
                               "\tboundary=\"%s\"\r\n",
                          boundary);
  g_string_append (out, "\r\nThis is a MIME-encapsulated message.\r\n\r\n");

  /* 1: for people. */
  g_string_append_printf (out, "--%s\r\n", boundary);
  g_string_append (out, "Content-Type: text/plain; charset=us-ascii\r\n"
                        "Content-Description: Notification\r\n\r\n");
  g_string_append_printf (out, "This is the mail system at %s.\r\n\r\n"
                               "Your message to <%s> %s.\r\n"
                               "Reason: %s\r\n\r\n"
                               "The header of your message is attached.\r\n\r\n",
                          mta, recipient, action_text, reason);

  /* 2: for programs (RFC 3464 2.2 and 2.3). */
  g_string_append_printf (out, "--%s\r\n", boundary);
  g_string_append (out, "Content-Type: message/delivery-status\r\n"
                        "Content-Description: Delivery report\r\n\r\n");
  g_string_append_printf (out, "Reporting-MTA: dns; %s\r\n", mta);
  g_string_append_printf (out, "Arrival-Date: %s\r\n\r\n", arrival);
  g_string_append_printf (out, "Final-Recipient: rfc822; %s\r\n", recipient);
  g_string_append (out, "Action: failed\r\n");
  g_string_append_printf (out, "Status: %s\r\n", status);
  if (report->reply_code >= 200 && report->reply_code <= 599)
    g_string_append_printf (out, "Diagnostic-Code: smtp; %u %s\r\n", report->reply_code, status);
  g_string_append_printf (out, "Last-Attempt-Date: %s\r\n\r\n", last);

  /* 3: what was returned. */
  g_string_append_printf (out, "--%s\r\n", boundary);
  g_string_append (out, "Content-Type: text/rfc822-headers\r\n"
                        "Content-Description: Undelivered Message Headers\r\n\r\n");
  if (report->original != NULL)
    {
      headers = pd_forward_get_header_section (report->original, PD_DSN_MAX_HEADERS);
      headers_data = g_bytes_get_data (headers, &headers_size);
      if (headers_size > 0)
        g_string_append_len (out, headers_data, headers_size);
    }
  /* The CRLF before the closing delimiter belongs to the delimiter. */
  if (!ends_with (out, "\r\n\r\n"))
    g_string_append (out, ends_with (out, "\r\n") ? "\r\n" : "\r\n\r\n");
  g_string_append_printf (out, "--%s--\r\n", boundary);

  return g_string_free_to_bytes (out);
}
