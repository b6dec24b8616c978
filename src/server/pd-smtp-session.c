/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <string.h>

#include "pd-smtp-session.h"

/* Flags that refuse a message once its text has been read to the end. */
typedef enum
{
  DATA_TOO_BIG = 1 << 0,       /* over limits.message_size: 552 5.3.4 */
  DATA_BARE_LINE_END = 1 << 1, /* a bare CR or LF: 550 5.6.0 */
  DATA_LINE_TOO_LONG = 1 << 2, /* a text line over the limit: 500 5.5.2 */
} DataFlags;

/* Longest verb we look up; anything longer is unrecognised. */
#define MAX_VERB 16
/* Longest piece of client text we put in a log line. */
#define MAX_LOG_TEXT 160

struct _PdSmtpSession
{
  GObject parent_instance;

  PdSmtpProtocol protocol;
  char *hostname;
  char *id;
  char *client_address;
  GStrv domains;
  gboolean tls_available;
  PdLimits limits;
  PdSmtpBackend backend;
  gpointer backend_data;

  PdSmtpState state;
  gboolean waiting;    /* a backend answer is awaited */
  gboolean processing; /* inside process (): do not re-enter */
  gboolean tls;
  gboolean esmtp;
  char *helo;
  guint errors;
  guint n_messages;
  guint64 n_lines; /* whole lines taken, commands and text */

  GByteArray *input;
  gsize input_pos;
  gboolean discarding_line; /* a command line over the limit: dropping to LF */
  GString *output;

  /* The transaction. */
  char *mail_from; /* "" for <>; NULL outside a transaction */
  PosternMailbox *sender;
  GPtrArray *recipients; /* accepted, as given */
  char *pending_recipient;
  guint rcpt_attempts;
  gpointer transaction_data;
  GDestroyNotify transaction_destroy;

  /* DATA. */
  GByteArray *message;
  guint64 message_size;
  gboolean data_line_start; /* the previous line ended with CRLF */
  gboolean data_discarding; /* a text line over the limit: dropping to LF */
  char data_last_byte;      /* last octet dropped, to see a CRLF across reads */
  DataFlags data_flags;
};

G_DEFINE_FINAL_TYPE (PdSmtpSession, pd_smtp_session, G_TYPE_OBJECT)

enum
{
  SIGNAL_READY,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

typedef struct
{
  const char *name;
  /* Whether the command may run now; when not, it has replied. */
  gboolean (*check) (PdSmtpSession *self, const char *args);
  void (*proceed) (PdSmtpSession *self, const char *args);
} PdSmtpCommand;

char *
pd_smtp_escape_for_log (const char *text,
                        gssize length)
{
  GString *out;
  gsize i, n;

  if (text == NULL)
    return g_strdup ("(null)");
  n = length < 0 ? strlen (text) : (gsize)length;
  out = g_string_sized_new (MIN (n, MAX_LOG_TEXT) + 8);
  for (i = 0; i < n && out->len < MAX_LOG_TEXT; i++)
    {
      guchar c = (guchar)text[i];

      if (c == '\\' || c == '"')
        g_string_append_printf (out, "\\%c", c);
      else if (c >= 0x20 && c < 0x7f)
        g_string_append_c (out, (char)c);
      else
        g_string_append_printf (out, "\\x%02x", c);
    }
  if (i < n)
    g_string_append (out, "...");
  return g_string_free (out, FALSE);
}

static void
session_log (PdSmtpSession *self,
             const char *event,
             const char *format,
             ...) G_GNUC_PRINTF (3, 4);

static void
session_log (PdSmtpSession *self,
             const char *event,
             const char *format,
             ...)
{
  g_autofree char *detail = NULL;

  if (format != NULL)
    {
      va_list args;

      va_start (args, format);
      detail = g_strdup_vprintf (format, args);
      va_end (args);
    }
  g_message ("session=%s event=%s%s%s", self->id, event,
             detail != NULL ? " " : "", detail != NULL ? detail : "");
}

/* ---- replies ---- */

static void
append_reply_line (PdSmtpSession *self,
                   guint code,
                   gboolean more,
                   const char *enhanced,
                   const char *text)
{
  const char *p;

  g_string_append_printf (self->output, "%03u%c", code, more ? '-' : ' ');
  if (enhanced != NULL)
    {
      g_string_append (self->output, enhanced);
      if (text != NULL && *text != '\0')
        g_string_append_c (self->output, ' ');
    }
  /* Reply text is ours or the channel owner's farewell; keep it to
   * printable ASCII whatever it is, so no reply can be split. */
  for (p = text; p != NULL && *p != '\0' && p - text < 400; p++)
    {
      guchar c = (guchar)*p;

      g_string_append_c (self->output, (c >= 0x20 && c < 0x7f) ? (char)c : '?');
    }
  g_string_append (self->output, "\r\n");
}

static void close_session (PdSmtpSession *self);

static gboolean
is_error_reply (guint code)
{
  return code >= 400 && code != 421;
}

/* Counts an error reply just written; the one that reaches the limit
 * closes the session with a 421 after it. */
static void
count_error (PdSmtpSession *self)
{
  self->errors++;
  if (self->errors >= self->limits.errors)
    {
      g_autofree char *text421 = g_strdup_printf ("%s Too many errors, closing connection", self->hostname);

      session_log (self, "limit", "what=errors count=%u", self->errors);
      append_reply_line (self, 421, FALSE, "4.7.0", text421);
      close_session (self);
    }
}

/* Writes one reply; a 4xx or 5xx counts as an error when @count is TRUE. */
static void
reply_full (PdSmtpSession *self,
            guint code,
            const char *enhanced,
            const char *text,
            gboolean count)
{
  if (self->state == PD_SMTP_STATE_CLOSED)
    return;

  append_reply_line (self, code, FALSE, enhanced, text);
  if (count && is_error_reply (code))
    count_error (self);
}

static void
reply (PdSmtpSession *self,
       guint code,
       const char *enhanced,
       const char *text)
{
  reply_full (self, code, enhanced, text, TRUE);
}

/* ---- transaction ---- */

static void
reset_transaction (PdSmtpSession *self)
{
  gboolean had_transaction = self->mail_from != NULL;

  g_clear_pointer (&self->mail_from, g_free);
  g_clear_pointer (&self->sender, postern_mailbox_free);
  g_ptr_array_set_size (self->recipients, 0);
  g_clear_pointer (&self->pending_recipient, g_free);
  self->rcpt_attempts = 0;
  g_clear_pointer (&self->message, g_byte_array_unref);
  self->message_size = 0;
  self->data_flags = 0;
  self->data_discarding = FALSE;

  if (self->transaction_destroy != NULL && self->transaction_data != NULL)
    self->transaction_destroy (self->transaction_data);
  self->transaction_data = NULL;
  self->transaction_destroy = NULL;

  if (had_transaction && self->backend.reset != NULL)
    self->backend.reset (self, self->backend_data);
}

static void
close_session (PdSmtpSession *self)
{
  if (self->state == PD_SMTP_STATE_CLOSED)
    return;
  self->state = PD_SMTP_STATE_CLOSED;
  /* A message whose commit is under way keeps its transaction until the
   * backend answers; everything else goes now. */
  if (!self->waiting)
    reset_transaction (self);
  g_byte_array_set_size (self->input, 0);
  self->input_pos = 0;
  session_log (self, "close", "messages=%u errors=%u", self->n_messages, self->errors);
}

/* ---- argument parsing ---- */

static gboolean
is_ascii_printable (const char *text)
{
  for (; *text != '\0'; text++)
    if ((guchar)*text < 0x20 || (guchar)*text >= 0x7f)
      return FALSE;
  return TRUE;
}

/* Command lines may carry 8-bit text (which MAIL and RCPT then refuse
 * with a precise reply) but no control characters. */
static gboolean
has_no_controls (const char *text)
{
  for (; *text != '\0'; text++)
    if ((guchar)*text < 0x20 || (guchar)*text == 0x7f)
      return FALSE;
  return TRUE;
}

/* Parses `KEYWORD:<path> params` (MAIL FROM:, RCPT TO:). Tolerates spaces
 * after the colon as many senders write them. Sets @out_path to the text
 * between the angle brackets and @out_params to what follows. */
static gboolean
parse_path_argument (const char *args,
                     const char *keyword,
                     char **out_path,
                     char **out_params)
{
  gsize keyword_len = strlen (keyword);
  const char *p, *close;

  if (g_ascii_strncasecmp (args, keyword, keyword_len) != 0)
    return FALSE;
  p = args + keyword_len;
  while (*p == ' ')
    p++;
  if (*p != '<')
    return FALSE;
  p++;
  close = strchr (p, '>');
  if (close == NULL)
    return FALSE;
  *out_path = g_strndup (p, close - p);
  p = close + 1;
  if (*p != '\0' && *p != ' ')
    {
      g_clear_pointer (out_path, g_free);
      return FALSE;
    }
  while (*p == ' ')
    p++;
  *out_params = g_strdup (p);
  return TRUE;
}

static gboolean
parse_size (const char *text,
            guint64 *out)
{
  guint64 value = 0;

  if (*text == '\0' || strlen (text) > 20)
    return FALSE;
  for (; *text != '\0'; text++)
    {
      if (!g_ascii_isdigit (*text))
        return FALSE;
      if (value > (G_MAXUINT64 - 9) / 10)
        value = G_MAXUINT64; /* saturate: it is over any limit anyway */
      else
        value = value * 10 + (guint64)(*text - '0');
    }
  *out = value;
  return TRUE;
}

static gboolean
is_our_domain (PdSmtpSession *self,
               const char *domain)
{
  for (guint i = 0; self->domains != NULL && self->domains[i] != NULL; i++)
    if (g_strcmp0 (self->domains[i], domain) == 0)
      return TRUE;
  return FALSE;
}

/* ---- checks ---- */

static gboolean
check_smtp_hello (PdSmtpSession *self,
                  const char *args)
{
  if (self->protocol == PD_SMTP_PROTOCOL_LMTP)
    {
      reply (self, 500, "5.5.1", "This is LMTP: use LHLO");
      return FALSE;
    }
  return TRUE;
}

static gboolean
check_lmtp_hello (PdSmtpSession *self,
                  const char *args)
{
  if (self->protocol != PD_SMTP_PROTOCOL_LMTP)
    {
      reply (self, 500, "5.5.1", "Command unrecognized");
      return FALSE;
    }
  return TRUE;
}

static gboolean
check_greeted (PdSmtpSession *self,
               const char *args)
{
  if (self->state == PD_SMTP_STATE_CONNECTED)
    {
      reply (self, 503, "5.5.1",
             self->protocol == PD_SMTP_PROTOCOL_LMTP ? "Send LHLO first" : "Send EHLO or HELO first");
      return FALSE;
    }
  return TRUE;
}

static gboolean
check_no_args (PdSmtpSession *self,
               const char *args)
{
  if (*args != '\0')
    {
      reply (self, 501, "5.5.4", "Syntax error: no arguments allowed");
      return FALSE;
    }
  return TRUE;
}

static gboolean
check_mail (PdSmtpSession *self,
            const char *args)
{
  if (!check_greeted (self, args))
    return FALSE;
  if (self->state != PD_SMTP_STATE_READY)
    {
      reply (self, 503, "5.5.1", "Nested MAIL command");
      return FALSE;
    }
  return TRUE;
}

static gboolean
check_rcpt (PdSmtpSession *self,
            const char *args)
{
  if (!check_greeted (self, args))
    return FALSE;
  if (self->state != PD_SMTP_STATE_MAIL && self->state != PD_SMTP_STATE_RCPT)
    {
      reply (self, 503, "5.5.1", "Need MAIL before RCPT");
      return FALSE;
    }
  return TRUE;
}

static gboolean
check_data (PdSmtpSession *self,
            const char *args)
{
  if (!check_greeted (self, args))
    return FALSE;
  if (self->state == PD_SMTP_STATE_MAIL && self->rcpt_attempts > 0)
    {
      /* RFC 5321 3.3 allows 554 here; RFC 2033 4.2 requires 503. */
      reply (self, self->protocol == PD_SMTP_PROTOCOL_LMTP ? 503 : 554, "5.5.1", "No valid recipients");
      return FALSE;
    }
  if (self->state == PD_SMTP_STATE_MAIL)
    {
      reply (self, 503, "5.5.1", "Need RCPT before DATA");
      return FALSE;
    }
  if (self->state != PD_SMTP_STATE_RCPT)
    {
      reply (self, 503, "5.5.1", "Need MAIL before DATA");
      return FALSE;
    }
  return check_no_args (self, args);
}

static gboolean
check_starttls (PdSmtpSession *self,
                const char *args)
{
  if (!self->tls_available || self->tls)
    {
      reply (self, self->tls ? 503 : 502, "5.5.1",
             self->tls ? "TLS already active" : "STARTTLS not available");
      return FALSE;
    }
  if (!check_greeted (self, args))
    return FALSE;
  if (self->state != PD_SMTP_STATE_READY)
    {
      reply (self, 503, "5.5.1", "STARTTLS not allowed during a mail transaction");
      return FALSE;
    }
  return check_no_args (self, args);
}

/* ---- commands ---- */

static void
send_hello_reply (PdSmtpSession *self)
{
  g_autofree char *size = g_strdup_printf ("SIZE %" G_GUINT64_FORMAT, self->limits.message_size);
  const char *lines[8];
  guint n = 0;

  lines[n++] = self->hostname;
  lines[n++] = "PIPELINING";
  lines[n++] = size;
  lines[n++] = "8BITMIME";
  lines[n++] = "ENHANCEDSTATUSCODES";
  if (self->tls_available && !self->tls)
    lines[n++] = "STARTTLS";
  lines[n++] = "HELP";

  for (guint i = 0; i < n; i++)
    append_reply_line (self, 250, i + 1 < n, NULL, lines[i]);
}

static gboolean
take_hello_argument (PdSmtpSession *self,
                     const char *args,
                     const char *verb)
{
  if (*args == '\0' || strchr (args, ' ') != NULL || strlen (args) > 255 || !is_ascii_printable (args))
    {
      g_autofree char *text = g_strdup_printf ("Syntax: %s hostname", verb);

      reply (self, 501, "5.5.4", text);
      return FALSE;
    }
  reset_transaction (self);
  g_free (self->helo);
  self->helo = g_strdup (args);
  self->state = PD_SMTP_STATE_READY;
  return TRUE;
}

static void
proceed_ehlo (PdSmtpSession *self,
              const char *args)
{
  if (!take_hello_argument (self, args, "EHLO"))
    return;
  self->esmtp = TRUE;
  send_hello_reply (self);
}

static void
proceed_lhlo (PdSmtpSession *self,
              const char *args)
{
  if (!take_hello_argument (self, args, "LHLO"))
    return;
  self->esmtp = TRUE;
  send_hello_reply (self);
}

static void
proceed_helo (PdSmtpSession *self,
              const char *args)
{
  if (!take_hello_argument (self, args, "HELO"))
    return;
  self->esmtp = FALSE;
  append_reply_line (self, 250, FALSE, NULL, self->hostname);
}

static void
proceed_mail (PdSmtpSession *self,
              const char *args)
{
  g_autofree char *path = NULL;
  g_autofree char *params = NULL;
  g_auto (GStrv) tokens = NULL;
  g_autoptr (PosternMailbox) sender = NULL;

  if (!parse_path_argument (args, "FROM:", &path, &params))
    {
      reply (self, 501, "5.5.4", "Syntax: MAIL FROM:<address>");
      return;
    }
  if (!is_ascii_printable (path))
    {
      reply (self, 553, "5.6.7", "Non-ASCII addresses are not supported");
      return;
    }
  if (*path != '\0')
    {
      g_autoptr (GError) error = NULL;

      sender = postern_mailbox_parse (path, -1, &error);
      if (sender == NULL)
        {
          reply (self, 501, "5.1.7", "Bad sender address syntax");
          return;
        }
    }

  if (*params != '\0' && !self->esmtp)
    {
      reply (self, 555, "5.5.4", "MAIL parameters need EHLO");
      return;
    }
  tokens = g_strsplit (params, " ", 16);
  for (guint i = 0; tokens[i] != NULL; i++)
    {
      const char *token = tokens[i];

      if (*token == '\0')
        continue;
      if (g_ascii_strncasecmp (token, "SIZE=", 5) == 0)
        {
          guint64 size;

          if (!parse_size (token + 5, &size))
            {
              reply (self, 501, "5.5.4", "Bad SIZE parameter");
              return;
            }
          if (size > self->limits.message_size)
            {
              reply (self, 552, "5.3.4", "Message size exceeds fixed maximum message size");
              return;
            }
        }
      else if (g_ascii_strcasecmp (token, "BODY=7BIT") == 0 || g_ascii_strcasecmp (token, "BODY=8BITMIME") == 0)
        {
          /* 8BITMIME: we store octets as they come. */
        }
      else
        {
          reply (self, 555, "5.5.4", "Unsupported MAIL parameter");
          return;
        }
    }

  self->mail_from = sender != NULL ? postern_mailbox_to_string (sender) : g_strdup ("");
  self->sender = g_steal_pointer (&sender);
  self->state = PD_SMTP_STATE_MAIL;
  reply (self, 250, "2.1.0", "Sender OK");
}

static void
proceed_rcpt (PdSmtpSession *self,
              const char *args)
{
  g_autofree char *path = NULL;
  g_autofree char *params = NULL;
  g_autoptr (PosternMailbox) recipient = NULL;

  if (!parse_path_argument (args, "TO:", &path, &params))
    {
      reply (self, 501, "5.5.4", "Syntax: RCPT TO:<address>");
      return;
    }
  if (*params != '\0')
    {
      reply (self, 555, "5.5.4", "Unsupported RCPT parameter");
      return;
    }
  if (self->recipients->len >= self->limits.recipients)
    {
      session_log (self, "limit", "what=recipients count=%u", self->recipients->len);
      reply (self, 452, "4.5.3", "Too many recipients");
      return;
    }
  if (!is_ascii_printable (path))
    {
      reply (self, 553, "5.6.7", "Non-ASCII addresses are not supported");
      return;
    }

  self->rcpt_attempts++;

  /* The core's parser refuses every routing trick (source routes, %, !,
   * quoted local parts, IP literals) and normalises the domain (case,
   * trailing dot); what is left must be one of our domains. */
  recipient = postern_mailbox_parse (path, -1, NULL);
  if (recipient == NULL)
    {
      g_autofree char *escaped = pd_smtp_escape_for_log (path, -1);

      session_log (self, "rcpt-refused", "to=\"%s\" reason=syntax", escaped);
      reply (self, 501, "5.1.3", "Bad recipient address syntax");
      return;
    }
  if (!is_our_domain (self, recipient->domain))
    {
      g_autofree char *escaped = pd_smtp_escape_for_log (path, -1);

      session_log (self, "rcpt-refused", "to=\"%s\" reason=relay", escaped);
      reply (self, 550, "5.7.1", "Relaying denied");
      return;
    }

  self->pending_recipient = postern_mailbox_to_string (recipient);
  self->waiting = TRUE;
  self->backend.recipient (self, self->sender, recipient, self->backend_data);
}

static void
proceed_data (PdSmtpSession *self,
              const char *args)
{
  self->state = PD_SMTP_STATE_DATA;
  self->message = g_byte_array_new ();
  self->message_size = 0;
  self->data_flags = 0;
  self->data_line_start = TRUE;
  self->data_discarding = FALSE;
  reply (self, 354, NULL, "End data with <CR><LF>.<CR><LF>");
}

static void
proceed_rset (PdSmtpSession *self,
              const char *args)
{
  reset_transaction (self);
  if (self->state != PD_SMTP_STATE_CONNECTED)
    self->state = PD_SMTP_STATE_READY;
  reply (self, 250, "2.0.0", "OK");
}

static void
proceed_noop (PdSmtpSession *self,
              const char *args)
{
  reply (self, 250, "2.0.0", "OK");
}

static void
proceed_quit (PdSmtpSession *self,
              const char *args)
{
  g_autofree char *text = g_strdup_printf ("%s closing connection", self->hostname);

  reply (self, 221, "2.0.0", text);
  close_session (self);
}

static void
proceed_vrfy (PdSmtpSession *self,
              const char *args)
{
  if (*args == '\0')
    {
      reply (self, 501, "5.5.4", "Syntax: VRFY address");
      return;
    }
  reply (self, 252, "2.5.0", "Cannot VRFY user, but will accept the message and attempt delivery");
}

static void
proceed_help (PdSmtpSession *self,
              const char *args)
{
  /* STARTTLS only where EHLO offers it. */
  gboolean starttls = self->tls_available && !self->tls;

  if (self->protocol == PD_SMTP_PROTOCOL_LMTP)
    reply (self, 214, "2.0.0", starttls ? "Commands: LHLO MAIL RCPT DATA RSET NOOP QUIT VRFY HELP STARTTLS" : "Commands: LHLO MAIL RCPT DATA RSET NOOP QUIT VRFY HELP");
  else
    reply (self, 214, "2.0.0", starttls ? "Commands: EHLO HELO MAIL RCPT DATA RSET NOOP QUIT VRFY HELP STARTTLS" : "Commands: EHLO HELO MAIL RCPT DATA RSET NOOP QUIT VRFY HELP");
}

static void
proceed_not_implemented (PdSmtpSession *self,
                         const char *args)
{
  reply (self, 502, "5.5.1", "Command not implemented");
}

static void
proceed_starttls (PdSmtpSession *self,
                  const char *args)
{
  reply (self, 220, "2.0.0", "Ready to start TLS");
  reset_transaction (self);
  self->state = PD_SMTP_STATE_TLS;
  /* Anything the client sent after STARTTLS in the clear must not be
   * taken as if it came through TLS (CVE-2011-0411): drop it. */
  g_byte_array_set_size (self->input, 0);
  self->input_pos = 0;
}

static const PdSmtpCommand commands[] = {
  { "EHLO", check_smtp_hello, proceed_ehlo },
  { "HELO", check_smtp_hello, proceed_helo },
  { "LHLO", check_lmtp_hello, proceed_lhlo },
  { "MAIL", check_mail, proceed_mail },
  { "RCPT", check_rcpt, proceed_rcpt },
  { "DATA", check_data, proceed_data },
  { "RSET", check_no_args, proceed_rset },
  { "NOOP", NULL, proceed_noop },
  { "QUIT", check_no_args, proceed_quit },
  { "VRFY", NULL, proceed_vrfy },
  { "HELP", NULL, proceed_help },
  { "STARTTLS", check_starttls, proceed_starttls },
  { "EXPN", NULL, proceed_not_implemented },
  { "AUTH", NULL, proceed_not_implemented },
  { "BDAT", NULL, proceed_not_implemented },
  { "ETRN", NULL, proceed_not_implemented },
  { "TURN", NULL, proceed_not_implemented },
};

static void
handle_command (PdSmtpSession *self,
                const char *line)
{
  const char *space = strchr (line, ' ');
  gsize verb_len = space != NULL ? (gsize)(space - line) : strlen (line);
  const char *args = space != NULL ? space + 1 : "";

  if (verb_len > 0 && verb_len <= MAX_VERB)
    {
      for (guint i = 0; i < G_N_ELEMENTS (commands); i++)
        {
          const PdSmtpCommand *command = &commands[i];

          if (strlen (command->name) != verb_len || g_ascii_strncasecmp (command->name, line, verb_len) != 0)
            continue;
          if (command->check != NULL && !command->check (self, args))
            return;
          command->proceed (self, args);
          return;
        }
    }

  {
    /* Only the verb: an unknown command may carry a secret (AUTH data). */
    g_autofree char *verb = pd_smtp_escape_for_log (line, MIN (verb_len, MAX_VERB));

    session_log (self, "unknown-command", "verb=\"%s\"", verb);
  }
  reply (self, 500, "5.5.1", "Command unrecognized");
}

/* ---- input ---- */

/* One command line from the input; FALSE when a whole line is not there
 * yet. */
static gboolean
process_command_line (PdSmtpSession *self)
{
  const char *buf = (const char *)self->input->data + self->input_pos;
  gsize avail = self->input->len - self->input_pos;
  const char *lf = memchr (buf, '\n', avail);
  gsize line_len;
  g_autofree char *line = NULL;

  if (lf == NULL)
    {
      if (self->discarding_line || avail >= self->limits.command_line_length)
        {
          self->discarding_line = TRUE;
          self->input_pos = self->input->len;
        }
      return FALSE;
    }

  line_len = (gsize)(lf - buf) + 1;
  self->input_pos += line_len;

  if (self->discarding_line || line_len > self->limits.command_line_length)
    {
      self->discarding_line = FALSE;
      session_log (self, "limit", "what=command-line");
      reply (self, 500, "5.5.2", "Line too long");
      return TRUE;
    }
  if (line_len < 2 || buf[line_len - 2] != '\r')
    {
      reply (self, 500, "5.5.2", "Syntax error: command lines end with CRLF");
      return TRUE;
    }

  line = g_strndup (buf, line_len - 2);
  if (strlen (line) != line_len - 2 || !has_no_controls (line))
    {
      reply (self, 500, "5.5.2", "Syntax error: control character in command");
      return TRUE;
    }

  handle_command (self, line);
  return TRUE;
}

/* The replies to a message's end of data: one, or with LMTP one a
 * recipient (@replies has one for all, or one each). All are written
 * before the message counts as an error: a 421 for the error limit must
 * not cut off the replies of recipients whose copy is already stored, or
 * the LMTP client would send them again. */
static void
reply_end_of_data (PdSmtpSession *self,
                   const PdSmtpReply *replies,
                   guint n_replies)
{
  guint n = self->protocol == PD_SMTP_PROTOCOL_LMTP ? self->recipients->len : 1;
  gboolean failed = FALSE;

  for (guint i = 0; i < n; i++)
    {
      const PdSmtpReply *r = &replies[n_replies == n ? i : 0];

      reply_full (self, r->code, r->enhanced, r->text, FALSE);
      failed = failed || is_error_reply (r->code);
    }
  if (failed && self->state != PD_SMTP_STATE_CLOSED)
    count_error (self);
}

static void
finish_message_with_error (PdSmtpSession *self,
                           guint code,
                           const char *enhanced,
                           const char *text)
{
  PdSmtpReply reply = { code, enhanced, text };

  reply_end_of_data (self, &reply, 1);
  reset_transaction (self);
  if (self->state != PD_SMTP_STATE_CLOSED)
    self->state = PD_SMTP_STATE_READY;
}

static void
end_of_data (PdSmtpSession *self)
{
  g_autoptr (PdHeaders) headers = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) data = NULL;

  if (self->data_flags & DATA_TOO_BIG)
    {
      session_log (self, "limit", "what=message-size size=%" G_GUINT64_FORMAT, self->message_size);
      finish_message_with_error (self, 552, "5.3.4", "Message size exceeds fixed maximum message size");
      return;
    }
  if (self->data_flags & DATA_BARE_LINE_END)
    {
      session_log (self, "message-refused", "reason=bare-cr-or-lf");
      finish_message_with_error (self, 550, "5.6.0", "Message refused: bare CR or LF (only CRLF line ends are allowed)");
      return;
    }
  if (self->data_flags & DATA_LINE_TOO_LONG)
    {
      session_log (self, "limit", "what=text-line");
      finish_message_with_error (self, 500, "5.5.2", "Line too long (text lines are limited to 1000 octets)");
      return;
    }

  headers = pd_headers_parse ((const char *)self->message->data, self->message->len,
                              self->limits.header_size, &error);
  if (headers == NULL)
    {
      session_log (self, "limit", "what=header-size");
      finish_message_with_error (self, 552, "5.3.4", "Header section too big");
      return;
    }
  if (headers->n_received > self->limits.received_headers)
    {
      session_log (self, "message-refused", "reason=loop received=%u", headers->n_received);
      finish_message_with_error (self, 554, "5.4.6", "Too many hops: mail loop detected");
      return;
    }

  self->n_messages++;
  data = g_byte_array_free_to_bytes (g_steal_pointer (&self->message));
  self->waiting = TRUE;
  self->backend.message (self, data, headers, self->backend_data);
}

/* One line of message text; FALSE when a whole line is not there yet. */
static gboolean
process_data_line (PdSmtpSession *self)
{
  const char *buf = (const char *)self->input->data + self->input_pos;
  gsize avail = self->input->len - self->input_pos;
  const char *lf = memchr (buf, '\n', avail);
  gsize line_len, content_len;
  gboolean crlf;
  const char *text;
  gsize text_len;
  /* RFC 5321 4.5.3.1.6: the limit is on the text line, not counting the
   * dot a sender adds for transparency (removed below). */
  gboolean stuffed = self->data_line_start && avail > 0 && buf[0] == '.';
  gsize line_limit = self->limits.text_line_length + (stuffed ? 1 : 0);

  if (lf == NULL)
    {
      if (avail > 0 && (self->data_discarding || avail >= line_limit))
        {
          /* Over the limit: the message is refused, only its end matters.
           * Keep the last octet: it may be the CR of the CRLF. */
          self->data_flags |= DATA_LINE_TOO_LONG;
          self->data_discarding = TRUE;
          self->data_last_byte = buf[avail - 1];
          if (memchr (buf, '\r', avail - 1) != NULL)
            self->data_flags |= DATA_BARE_LINE_END;
          self->message_size += avail;
          self->input_pos = self->input->len;
        }
      return FALSE;
    }

  line_len = (gsize)(lf - buf) + 1;
  self->input_pos += line_len;

  if (self->data_discarding)
    {
      self->data_discarding = FALSE;
      if (self->data_last_byte == '\r' && line_len == 1)
        crlf = TRUE;
      else
        {
          if (self->data_last_byte == '\r')
            self->data_flags |= DATA_BARE_LINE_END;
          crlf = line_len >= 2 && buf[line_len - 2] == '\r';
        }
      content_len = crlf && line_len >= 2 ? line_len - 2 : line_len - 1;
      if (!crlf || memchr (buf, '\r', content_len) != NULL)
        self->data_flags |= DATA_BARE_LINE_END;
      self->message_size += line_len;
      self->data_line_start = crlf;
      return TRUE;
    }

  crlf = line_len >= 2 && buf[line_len - 2] == '\r';
  content_len = crlf ? line_len - 2 : line_len - 1;

  /* Only CRLF "." CRLF ends the text: a "." line after a bare LF, or
   * ended by one, is text (and refuses the message), so a message can never
   * end where a less strict server upstream thought it went on. */
  if (self->data_line_start && crlf && content_len == 1 && buf[0] == '.')
    {
      end_of_data (self);
      return TRUE;
    }

  if (!crlf || memchr (buf, '\r', content_len) != NULL)
    self->data_flags |= DATA_BARE_LINE_END;
  if (line_len > line_limit)
    self->data_flags |= DATA_LINE_TOO_LONG;

  text = buf;
  text_len = line_len;
  if (self->data_line_start && buf[0] == '.')
    {
      /* RFC 5321 4.5.2: remove the first of a line's leading dots. */
      text++;
      text_len--;
    }

  self->message_size += text_len;
  if (self->message_size > self->limits.message_size)
    self->data_flags |= DATA_TOO_BIG;

  if (self->data_flags == 0)
    g_byte_array_append (self->message, (const guint8 *)text, text_len);
  else if (self->message != NULL && self->message->len > 0)
    g_byte_array_set_size (self->message, 0); /* refused anyway: keep nothing */

  self->data_line_start = crlf;
  return TRUE;
}

static void
process (PdSmtpSession *self)
{
  if (self->processing)
    return;
  self->processing = TRUE;

  while (!self->waiting && self->state != PD_SMTP_STATE_CLOSED && self->state != PD_SMTP_STATE_TLS)
    {
      gboolean progressed;

      if (self->input_pos >= self->input->len)
        break;
      if (self->state == PD_SMTP_STATE_DATA)
        progressed = process_data_line (self);
      else
        progressed = process_command_line (self);
      if (!progressed)
        break;
      self->n_lines++;
    }

  /* Drop what was consumed. */
  if (self->input_pos > 0)
    {
      g_byte_array_remove_range (self->input, 0, self->input_pos);
      self->input_pos = 0;
    }

  self->processing = FALSE;
}

/* Runs the input again after an asynchronous backend answer and tells the
 * connection there is output. */
static void
resume (PdSmtpSession *self)
{
  if (self->processing)
    return;
  /* A "ready" handler may drop the last other reference. */
  g_object_ref (self);
  process (self);
  g_signal_emit (self, signals[SIGNAL_READY], 0);
  g_object_unref (self);
}

/* ---- public ---- */

void
pd_smtp_session_start (PdSmtpSession *self,
                       const PdSmtpReply *refusal)
{
  g_autofree char *escaped = NULL;

  g_return_if_fail (PD_IS_SMTP_SESSION (self));

  escaped = pd_smtp_escape_for_log (self->client_address, -1);
  session_log (self, "connect", "client=%s protocol=%s", escaped,
               self->protocol == PD_SMTP_PROTOCOL_LMTP ? "lmtp" : "smtp");

  if (refusal != NULL)
    {
      g_autofree char *text = g_strdup_printf ("%s %s", self->hostname, refusal->text);

      session_log (self, "refused", "code=%u", refusal->code);
      append_reply_line (self, refusal->code, FALSE, refusal->enhanced, text);
      close_session (self);
      return;
    }

  {
    g_autofree char *text = g_strdup_printf ("%s %s Postern", self->hostname,
                                             self->protocol == PD_SMTP_PROTOCOL_LMTP ? "LMTP" : "ESMTP");

    append_reply_line (self, 220, FALSE, NULL, text);
  }
}

void
pd_smtp_session_feed (PdSmtpSession *self,
                      const char *data,
                      gsize length)
{
  g_return_if_fail (PD_IS_SMTP_SESSION (self));
  g_return_if_fail (data != NULL || length == 0);

  if (self->state == PD_SMTP_STATE_CLOSED || self->state == PD_SMTP_STATE_TLS)
    return;
  g_byte_array_append (self->input, (const guint8 *)data, length);
  process (self);
}

void
pd_smtp_session_eof (PdSmtpSession *self)
{
  g_return_if_fail (PD_IS_SMTP_SESSION (self));

  if (self->state == PD_SMTP_STATE_CLOSED)
    return;
  session_log (self, "eof", "state=%d", self->state);
  close_session (self);
}

void
pd_smtp_session_timeout (PdSmtpSession *self)
{
  g_autofree char *text = NULL;

  g_return_if_fail (PD_IS_SMTP_SESSION (self));

  if (self->state == PD_SMTP_STATE_CLOSED)
    return;
  session_log (self, "limit", "what=timeout state=%d", self->state);
  text = g_strdup_printf ("%s Idle timeout, closing connection", self->hostname);
  append_reply_line (self, 421, FALSE, "4.4.2", text);
  close_session (self);
}

void
pd_smtp_session_tls_established (PdSmtpSession *self)
{
  g_return_if_fail (PD_IS_SMTP_SESSION (self));
  g_return_if_fail (self->state == PD_SMTP_STATE_TLS);

  session_log (self, "tls", NULL);
  self->tls = TRUE;
  self->esmtp = FALSE;
  g_clear_pointer (&self->helo, g_free);
  g_byte_array_set_size (self->input, 0);
  self->input_pos = 0;
  self->state = PD_SMTP_STATE_CONNECTED;
}

GBytes *
pd_smtp_session_take_output (PdSmtpSession *self)
{
  GBytes *bytes;

  g_return_val_if_fail (PD_IS_SMTP_SESSION (self), NULL);

  if (self->output->len == 0)
    return NULL;
  bytes = g_bytes_new (self->output->str, self->output->len);
  g_string_truncate (self->output, 0);
  return bytes;
}

gboolean
pd_smtp_session_has_output (PdSmtpSession *self)
{
  g_return_val_if_fail (PD_IS_SMTP_SESSION (self), FALSE);
  return self->output->len > 0;
}

PdSmtpState
pd_smtp_session_get_state (PdSmtpSession *self)
{
  g_return_val_if_fail (PD_IS_SMTP_SESSION (self), PD_SMTP_STATE_CLOSED);
  return self->state;
}

gboolean
pd_smtp_session_is_waiting (PdSmtpSession *self)
{
  g_return_val_if_fail (PD_IS_SMTP_SESSION (self), FALSE);
  return self->waiting;
}

guint
pd_smtp_session_get_timeout (PdSmtpSession *self)
{
  g_return_val_if_fail (PD_IS_SMTP_SESSION (self), 0);
  if (self->state == PD_SMTP_STATE_DATA)
    return self->limits.data_timeout;
  if (self->state == PD_SMTP_STATE_TLS)
    return self->limits.tls_handshake_timeout;
  return self->limits.idle_timeout;
}

guint64
pd_smtp_session_get_lines (PdSmtpSession *self)
{
  g_return_val_if_fail (PD_IS_SMTP_SESSION (self), 0);
  return self->n_lines;
}

void
pd_smtp_session_complete_recipient (PdSmtpSession *self,
                                    const PdSmtpReply *answer)
{
  g_return_if_fail (PD_IS_SMTP_SESSION (self));
  g_return_if_fail (answer != NULL);
  g_return_if_fail (self->waiting && self->pending_recipient != NULL);

  self->waiting = FALSE;
  if (answer->code >= 200 && answer->code < 300)
    {
      g_ptr_array_add (self->recipients, g_steal_pointer (&self->pending_recipient));
      if (self->state == PD_SMTP_STATE_MAIL)
        self->state = PD_SMTP_STATE_RCPT;
    }
  g_clear_pointer (&self->pending_recipient, g_free);
  reply (self, answer->code, answer->enhanced, answer->text);
  resume (self);
}

void
pd_smtp_session_complete_message (PdSmtpSession *self,
                                  const PdSmtpReply *replies,
                                  guint n_replies)
{
  g_return_if_fail (PD_IS_SMTP_SESSION (self));
  g_return_if_fail (replies != NULL && n_replies > 0);
  g_return_if_fail (self->waiting);

  self->waiting = FALSE;
  reply_end_of_data (self, replies, n_replies);
  reset_transaction (self);
  if (self->state != PD_SMTP_STATE_CLOSED)
    self->state = PD_SMTP_STATE_READY;
  resume (self);
}

PdSmtpProtocol
pd_smtp_session_get_protocol (PdSmtpSession *self)
{
  g_return_val_if_fail (PD_IS_SMTP_SESSION (self), PD_SMTP_PROTOCOL_SMTP);
  return self->protocol;
}

const char *
pd_smtp_session_get_id (PdSmtpSession *self)
{
  g_return_val_if_fail (PD_IS_SMTP_SESSION (self), NULL);
  return self->id;
}

const char *
pd_smtp_session_get_hostname (PdSmtpSession *self)
{
  g_return_val_if_fail (PD_IS_SMTP_SESSION (self), NULL);
  return self->hostname;
}

const char *
pd_smtp_session_get_client_address (PdSmtpSession *self)
{
  g_return_val_if_fail (PD_IS_SMTP_SESSION (self), NULL);
  return self->client_address;
}

const char *
pd_smtp_session_get_helo (PdSmtpSession *self)
{
  g_return_val_if_fail (PD_IS_SMTP_SESSION (self), NULL);
  return self->helo;
}

gboolean
pd_smtp_session_get_esmtp (PdSmtpSession *self)
{
  g_return_val_if_fail (PD_IS_SMTP_SESSION (self), FALSE);
  return self->esmtp;
}

gboolean
pd_smtp_session_get_tls (PdSmtpSession *self)
{
  g_return_val_if_fail (PD_IS_SMTP_SESSION (self), FALSE);
  return self->tls;
}

const char *
pd_smtp_session_get_mail_from (PdSmtpSession *self)
{
  g_return_val_if_fail (PD_IS_SMTP_SESSION (self), NULL);
  return self->mail_from;
}

GPtrArray *
pd_smtp_session_get_recipients (PdSmtpSession *self)
{
  g_return_val_if_fail (PD_IS_SMTP_SESSION (self), NULL);
  return self->recipients;
}

void
pd_smtp_session_set_transaction_data (PdSmtpSession *self,
                                      gpointer data,
                                      GDestroyNotify destroy)
{
  g_return_if_fail (PD_IS_SMTP_SESSION (self));

  if (self->transaction_destroy != NULL && self->transaction_data != NULL)
    self->transaction_destroy (self->transaction_data);
  self->transaction_data = data;
  self->transaction_destroy = destroy;
}

gpointer
pd_smtp_session_get_transaction_data (PdSmtpSession *self)
{
  g_return_val_if_fail (PD_IS_SMTP_SESSION (self), NULL);
  return self->transaction_data;
}

static void
pd_smtp_session_finalize (GObject *object)
{
  PdSmtpSession *self = PD_SMTP_SESSION (object);

  self->waiting = FALSE;
  reset_transaction (self);
  g_free (self->hostname);
  g_free (self->id);
  g_free (self->client_address);
  g_strfreev (self->domains);
  g_free (self->helo);
  g_byte_array_unref (self->input);
  g_string_free (self->output, TRUE);
  g_ptr_array_unref (self->recipients);

  G_OBJECT_CLASS (pd_smtp_session_parent_class)->finalize (object);
}

static void
pd_smtp_session_class_init (PdSmtpSessionClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = pd_smtp_session_finalize;

  /**
   * PdSmtpSession::ready:
   *
   * The backend answered after the call that asked it returned: there is
   * output to write, and input may be read again.
   */
  signals[SIGNAL_READY] = g_signal_new ("ready", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                        0, NULL, NULL, NULL, G_TYPE_NONE, 0);
}

static void
pd_smtp_session_init (PdSmtpSession *self)
{
  self->input = g_byte_array_new ();
  self->output = g_string_new (NULL);
  self->recipients = g_ptr_array_new_with_free_func (g_free);
  self->state = PD_SMTP_STATE_CONNECTED;
}

PdSmtpSession *
pd_smtp_session_new (const PdSmtpSessionOptions *options,
                     const PdSmtpBackend *backend,
                     gpointer backend_data)
{
  PdSmtpSession *self;

  g_return_val_if_fail (options != NULL, NULL);
  g_return_val_if_fail (options->hostname != NULL, NULL);
  g_return_val_if_fail (backend != NULL && backend->recipient != NULL && backend->message != NULL, NULL);

  self = g_object_new (PD_TYPE_SMTP_SESSION, NULL);
  self->protocol = options->protocol;
  self->hostname = g_strdup (options->hostname);
  if (options->session_id != NULL)
    self->id = g_strdup (options->session_id);
  else
    {
      guint8 random[8];

      postern_random_bytes (random, sizeof random);
      self->id = g_strdup_printf ("%02x%02x%02x%02x%02x%02x%02x%02x", random[0], random[1], random[2],
                                  random[3], random[4], random[5], random[6], random[7]);
    }
  self->client_address = g_strdup (options->client_address != NULL ? options->client_address : "unknown");
  self->domains = g_strdupv ((GStrv)options->domains);
  self->tls_available = options->tls_available;
  if (options->limits != NULL)
    self->limits = *options->limits;
  else
    pd_limits_init (&self->limits);
  self->backend = *backend;
  self->backend_data = backend_data;

  return self;
}
