/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <string.h>

#include <gmime/gmime.h>

#include "pd-headers.h"

/* GMime 3.2 declares no autoptr cleanups of its own. */
G_DEFINE_AUTOPTR_CLEANUP_FUNC (InternetAddressList, g_object_unref)

/* clang-format would space the dashes, and the quark name with them. */
// clang-format off
G_DEFINE_QUARK (pd-headers-error-quark, pd_headers_error)
// clang-format on

static void
ensure_gmime (void)
{
  static gsize initialized = 0;

  if (g_once_init_enter (&initialized))
    {
      g_mime_init ();
      g_once_init_leave (&initialized, 1);
    }
}

/* Valid UTF-8, no control characters, at most POSTERN_EVENT_MAX_FIELD
 * octets cut at a character boundary; NULL for empty. */
static char *
clean_text (const char *text)
{
  g_autofree char *valid = NULL;
  GString *out;
  const char *p;

  if (text == NULL)
    return NULL;

  valid = g_utf8_make_valid (text, -1);
  out = g_string_new (NULL);
  for (p = valid; *p != '\0'; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);
      const char *next = g_utf8_next_char (p);

      if (out->len + (gsize)(next - p) > POSTERN_EVENT_MAX_FIELD)
        break;
      if (c < 0x20 || c == 0x7f)
        g_string_append_c (out, ' ');
      else
        g_string_append_len (out, p, next - p);
    }
  g_strstrip (out->str);
  out->len = strlen (out->str);
  if (out->len == 0)
    {
      g_string_free (out, TRUE);
      return NULL;
    }
  return g_string_free (out, FALSE);
}

/* Length of the header section: up to and including the first empty line,
 * or all of @data when there is none. */
static gsize
header_section_length (const char *data,
                       gsize length)
{
  const char *end;

  if (length == 0)
    return 0;
  if (length >= 2 && data[0] == '\r' && data[1] == '\n')
    return 2;
  end = g_strstr_len (data, length, "\r\n\r\n");
  if (end == NULL)
    return length;
  return (gsize)(end - data) + 4;
}

/* An addr-spec as GMime gives it, parsed by the core. A quoted local
 * part whose content is a plain dot-atom ("evil"@bad.example) is the same
 * mailbox as the unquoted one (RFC 5322 3.4.1), and is read as that: the
 * core refuses quoted local parts, and the From would otherwise escape
 * the blocklist. */
static PosternMailbox *
parse_author (const char *addr)
{
  PosternMailbox *mailbox = postern_mailbox_parse (addr, -1, NULL);
  const char *at;
  g_autoptr (GString) unquoted = NULL;

  if (mailbox != NULL || addr[0] != '"')
    return mailbox;
  at = strrchr (addr, '@');
  if (at == NULL || at - addr < 2 || at[-1] != '"')
    return NULL;
  unquoted = g_string_new (NULL);
  for (const char *p = addr + 1; p < at - 1; p++)
    {
      if (*p == '\\' && p + 1 < at - 1)
        p++;
      else if (*p == '"')
        return NULL;
      g_string_append_c (unquoted, *p);
    }
  g_string_append (unquoted, at);
  return postern_mailbox_parse (unquoted->str, (gssize)unquoted->len, NULL);
}

/* Adds the mailboxes of @list (groups' members included) to @headers:
 * the first is the message's From, every parseable one an author. */
static void
add_authors (PdHeaders *headers,
             InternetAddressList *list,
             guint depth)
{
  int n = list != NULL ? internet_address_list_length (list) : 0;

  for (int i = 0; i < n && depth < 2; i++)
    {
      InternetAddress *address = internet_address_list_get_address (list, i);

      if (INTERNET_ADDRESS_IS_MAILBOX (address))
        {
          const char *addr = internet_address_mailbox_get_addr (INTERNET_ADDRESS_MAILBOX (address));
          PosternMailbox *author;

          if (headers->from_address == NULL)
            headers->from_address = clean_text (addr);
          if (headers->authors->len >= PD_HEADERS_MAX_AUTHORS || addr == NULL)
            continue;
          author = parse_author (addr);
          if (author == NULL)
            continue;
          if (headers->from == NULL && headers->authors->len == 0 && g_strcmp0 (addr, headers->from_address) == 0)
            headers->from = postern_mailbox_copy (author);
          g_ptr_array_add (headers->authors, author);
        }
      else if (INTERNET_ADDRESS_IS_GROUP (address))
        {
          add_authors (headers, internet_address_group_get_members (INTERNET_ADDRESS_GROUP (address)), depth + 1);
        }
    }
}

/* An RFC 5322 field name: printable US-ASCII but the colon. */
static gboolean
is_field_name (const char *name,
               gsize length)
{
  if (length == 0)
    return FALSE;
  for (gsize i = 0; i < length; i++)
    if (name[i] < 33 || name[i] > 126 || name[i] == ':')
      return FALSE;
  return TRUE;
}

static gboolean
name_is (const char *name,
         gsize length,
         const char *wanted)
{
  return strlen (wanted) == length && g_ascii_strncasecmp (name, wanted, length) == 0;
}

/* The value of a field, unfolded (RFC 5322 2.2.3: a CRLF followed by
 * white space is removed, the white space kept). */
static char *
unfold (const char *value,
        gsize length)
{
  GString *out = g_string_sized_new (length);

  for (gsize i = 0; i < length; i++)
    {
      if (value[i] == '\r' && i + 1 < length && value[i + 1] == '\n')
        {
          i++;
          continue;
        }
      if (value[i] == '\n')
        continue;
      g_string_append_c (out, value[i]);
    }
  return g_string_free (out, FALSE);
}

typedef struct
{
  const char *name;
  gsize name_length;
  const char *value; /* after the colon, folds included */
  gsize value_length;
} Field;

/* The next field of the header section at *@pos, or FALSE at its end.
 * Lines that start no field (no colon, a name that is not one, white
 * space where no field is open) are skipped. */
static gboolean
next_field (const char *data,
            gsize length,
            gsize *pos,
            Field *field)
{
  while (*pos < length)
    {
      const char *line = data + *pos;
      const char *eol = memchr (line, '\n', length - *pos);
      gsize line_length = eol != NULL ? (gsize)(eol - line) + 1 : length - *pos;
      const char *colon;
      gsize name_length, end;

      *pos += line_length;
      if (line[0] == '\r' || line[0] == '\n')
        return FALSE; /* the empty line: the body follows */
      if (line[0] == ' ' || line[0] == '\t')
        continue;

      colon = memchr (line, ':', line_length);
      if (colon == NULL)
        continue;
      name_length = (gsize)(colon - line);
      /* "Subject : x" is Subject (obsolete syntax, RFC 5322 4.5.8). */
      while (name_length > 0 && (line[name_length - 1] == ' ' || line[name_length - 1] == '\t'))
        name_length--;
      if (!is_field_name (line, name_length))
        continue;

      /* Continuation lines belong to the field. */
      end = *pos;
      while (end < length && (data[end] == ' ' || data[end] == '\t'))
        {
          const char *next = memchr (data + end, '\n', length - end);

          end = next != NULL ? (gsize)(next - data) + 1 : length;
        }
      *pos = end;

      field->name = line;
      field->name_length = name_length;
      field->value = colon + 1;
      field->value_length = (gsize)(data + end - (colon + 1));
      while (field->value_length > 0 && (field->value[field->value_length - 1] == '\n' || field->value[field->value_length - 1] == '\r'))
        field->value_length--;
      return TRUE;
    }
  return FALSE;
}

/*
 * The fields are found here, line by line, and only the values needed are
 * handed to GMime to decode (RFC 2047 encoded words, address syntax, the
 * fallback charsets of raw 8-bit text): building a whole GMimeMessage
 * for four fields cost ~13 µs a message, most of it GObject set-up, on
 * the path every message takes. The results are GMime's own wherever
 * GMime makes a message of the header (test-smtp-headers compares the
 * two on generated headers): the first mailbox of the From fields, the
 * last Subject and Message-ID. Where GMime makes none (a line that starts
 * with white space, a field name with a control character), the lines
 * that are fields still count here.
 */
PdHeaders *
pd_headers_parse (const char *data,
                  gsize length,
                  gsize max_header_size,
                  GError **error)
{
  g_autoptr (PdHeaders) headers = NULL;
  GMimeParserOptions *options;
  const char *subject = NULL, *message_id = NULL;
  gsize subject_length = 0, message_id_length = 0;
  gsize header_length, pos = 0;
  Field field;

  g_return_val_if_fail (data != NULL || length == 0, NULL);

  ensure_gmime ();
  options = g_mime_parser_options_get_default ();

  header_length = header_section_length (data, length);
  if (header_length > max_header_size)
    {
      g_set_error (error, PD_HEADERS_ERROR, PD_HEADERS_ERROR_TOO_BIG,
                   "Header section of %" G_GSIZE_FORMAT " octets is over the limit of %" G_GSIZE_FORMAT,
                   header_length, max_header_size);
      return NULL;
    }

  headers = g_new0 (PdHeaders, 1);
  headers->header_size = header_length;
  headers->authors = g_ptr_array_new_with_free_func ((GDestroyNotify)postern_mailbox_free);

  while (next_field (data, header_length, &pos, &field))
    {
      if (name_is (field.name, field.name_length, "Received"))
        headers->n_received++;
      else if (name_is (field.name, field.name_length, "Subject"))
        {
          subject = field.value;
          subject_length = field.value_length;
        }
      else if (name_is (field.name, field.name_length, "Message-ID"))
        {
          message_id = field.value;
          message_id_length = field.value_length;
        }
      else if (name_is (field.name, field.name_length, "From"))
        {
          g_autofree char *value = unfold (field.value, field.value_length);
          g_autoptr (InternetAddressList) list = internet_address_list_parse (options, value);

          add_authors (headers, list, 0);
        }
    }

  if (subject != NULL)
    {
      g_autofree char *value = unfold (subject, subject_length);
      g_autofree char *decoded = g_mime_utils_header_decode_text (options, value);

      headers->subject = clean_text (decoded);
    }
  if (message_id != NULL)
    {
      g_autofree char *value = unfold (message_id, message_id_length);
      g_autofree char *decoded = g_mime_utils_decode_message_id (value);

      headers->message_id = clean_text (decoded);
    }

  return g_steal_pointer (&headers);
}

void
pd_headers_free (PdHeaders *headers)
{
  if (headers == NULL)
    return;
  g_free (headers->from_address);
  g_clear_pointer (&headers->from, postern_mailbox_free);
  g_clear_pointer (&headers->authors, g_ptr_array_unref);
  g_free (headers->subject);
  g_free (headers->message_id);
  g_free (headers);
}
