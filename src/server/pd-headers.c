/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <string.h>

#include <gmime/gmime.h>

#include "pd-headers.h"

/* GMime 3.2 declares no autoptr cleanups of its own. */
G_DEFINE_AUTOPTR_CLEANUP_FUNC (GMimeStream, g_object_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (GMimeParser, g_object_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (GMimeMessage, g_object_unref)

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

static InternetAddressMailbox *
first_mailbox (InternetAddressList *list)
{
  int i, n;

  if (list == NULL)
    return NULL;
  n = internet_address_list_length (list);
  for (i = 0; i < n; i++)
    {
      InternetAddress *address = internet_address_list_get_address (list, i);

      if (INTERNET_ADDRESS_IS_MAILBOX (address))
        return INTERNET_ADDRESS_MAILBOX (address);
      if (INTERNET_ADDRESS_IS_GROUP (address))
        {
          InternetAddressMailbox *member;

          member = first_mailbox (internet_address_group_get_members (INTERNET_ADDRESS_GROUP (address)));
          if (member != NULL)
            return member;
        }
    }
  return NULL;
}

PdHeaders *
pd_headers_parse (const char *data,
                  gsize length,
                  gsize max_header_size,
                  GError **error)
{
  g_autoptr (PdHeaders) headers = NULL;
  g_autoptr (GMimeStream) stream = NULL;
  g_autoptr (GMimeParser) parser = NULL;
  g_autoptr (GMimeMessage) message = NULL;
  GMimeHeaderList *list;
  InternetAddressMailbox *mailbox;
  gsize header_length;
  int i, n;

  g_return_val_if_fail (data != NULL || length == 0, NULL);

  ensure_gmime ();

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
  if (header_length == 0)
    return g_steal_pointer (&headers); /* an empty message */

  /* GMime copies nothing out of a buffer stream it does not own; the
   * header section alone is enough and keeps big bodies out of the
   * parser. */
  stream = g_mime_stream_mem_new_with_buffer (data, header_length);
  parser = g_mime_parser_new_with_stream (stream);
  g_mime_parser_set_format (parser, GMIME_FORMAT_MESSAGE);
  message = g_mime_parser_construct_message (parser, NULL);
  if (message == NULL)
    {
      /* Not even a header GMime understands: nothing to learn from it,
       * which is not the client's fault to be told about. */
      return g_steal_pointer (&headers);
    }

  list = g_mime_object_get_header_list (GMIME_OBJECT (message));
  n = g_mime_header_list_get_count (list);
  for (i = 0; i < n; i++)
    {
      GMimeHeader *header = g_mime_header_list_get_header_at (list, i);
      const char *name = g_mime_header_get_name (header);

      if (name != NULL && g_ascii_strcasecmp (name, "Received") == 0)
        headers->n_received++;
    }

  mailbox = first_mailbox (g_mime_message_get_from (message));
  if (mailbox != NULL)
    {
      const char *addr = internet_address_mailbox_get_addr (mailbox);

      headers->from_address = clean_text (addr);
      if (headers->from_address != NULL)
        headers->from = postern_mailbox_parse (headers->from_address, -1, NULL);
    }
  headers->subject = clean_text (g_mime_message_get_subject (message));
  headers->message_id = clean_text (g_mime_message_get_message_id (message));

  return g_steal_pointer (&headers);
}

void
pd_headers_free (PdHeaders *headers)
{
  if (headers == NULL)
    return;
  g_free (headers->from_address);
  g_clear_pointer (&headers->from, postern_mailbox_free);
  g_free (headers->subject);
  g_free (headers->message_id);
  g_free (headers);
}
