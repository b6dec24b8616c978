/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <string.h>

#include "postern-core-error.h"
#include "postern-mailbox-private.h"

/*
 * The one address parser. It works on octets with an explicit length so an
 * embedded NUL is seen rather than silently ending the string, and it
 * refuses rather than repairs: an address that needs repairing is an address
 * someone is trying to smuggle past a check.
 */

/* Longest input we look at before refusing; it bounds the work done on
 * hostile input. An IDN domain may be longer as UTF-8 than as A-labels, so
 * this is more generous than the 254-octet limit applied after
 * normalisation. */
#define MAX_INPUT_LENGTH 1024

G_DEFINE_BOXED_TYPE (PosternMailbox, postern_mailbox, postern_mailbox_copy, postern_mailbox_free)

static gboolean
is_ascii_atext (char c)
{
  /* RFC 5322 atext minus '%' and '!', which are checked first so that they
   * get their own message. */
  return g_ascii_isalnum (c) || (c != '\0' && strchr ("#$&'*+-/=?^_`{|}~", c) != NULL);
}

static gboolean invalid (GError **error,
                         const char *format,
                         ...) G_GNUC_PRINTF (2, 3);

static gboolean
invalid (GError **error,
         const char *format,
         ...)
{
  va_list args;

  if (error == NULL)
    return FALSE;

  va_start (args, format);
  g_propagate_error (error, g_error_new_valist (POSTERN_CORE_ERROR, POSTERN_CORE_ERROR_INVALID_ADDRESS, format, args));
  va_end (args);

  return FALSE;
}

/* Checks for octets that neither part may hold. */
static gboolean
check_octets (const char *text,
              gsize length,
              GError **error)
{
  const char *end = NULL;

  if (memchr (text, '\0', length) != NULL)
    return invalid (error, "address contains a NUL byte");

  if (!g_utf8_validate_len (text, length, &end))
    return invalid (error, "address is not valid UTF-8 (at octet %" G_GSIZE_FORMAT ")",
                    (gsize)(end - text));

  for (const char *p = text; p < text + length; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);

      if (c < 0x20 || c == 0x7f || (c >= 0x80 && c < 0xa0))
        return invalid (error, "address contains a control character");
      if (g_unichar_isspace (c))
        return invalid (error, "address contains white space");
    }

  return TRUE;
}

gboolean
postern_mailbox_check_local_part (const char *local,
                                  gsize length,
                                  GError **error)
{
  if (length == 0)
    return invalid (error, "local part is empty");
  if (local[0] == '"')
    return invalid (error, "quoted local parts are not accepted");
  if (length > POSTERN_MAILBOX_MAX_LOCAL_PART)
    return invalid (error, "local part is %" G_GSIZE_FORMAT " octets long, the limit is %d",
                    length, POSTERN_MAILBOX_MAX_LOCAL_PART);
  if (local[0] == '.')
    return invalid (error, "local part starts with a dot");
  if (local[length - 1] == '.')
    return invalid (error, "local part ends with a dot");

  for (const char *p = local; p < local + length; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);

      if (c == '.')
        {
          if (p + 1 < local + length && p[1] == '.')
            return invalid (error, "local part contains consecutive dots");
          continue;
        }
      if (c == '%' || c == '!')
        return invalid (error, "'%c' relay syntax is not accepted in the local part", (char)c);
      if (c == '"' || c == '\\')
        return invalid (error, "quoted local parts are not accepted");
      if (c == '@')
        return invalid (error, "local part contains '@'");
      if (c < 0x80)
        {
          if (!is_ascii_atext ((char)c))
            return invalid (error, "local part contains '%c', which needs quoting", (char)c);
          continue;
        }

      /* SMTPUTF8 (RFC 6531) local parts: any graphic character. That rules
       * out spaces, controls and format characters such as bidi overrides,
       * which would let an address display as something else. */
      if (!g_unichar_isgraph (c))
        return invalid (error, "local part contains the non-printable character U+%04X", c);
    }

  return TRUE;
}

static gboolean
check_label (const char *label,
             gsize length,
             GError **error)
{
  if (length == 0)
    return invalid (error, "domain has an empty label");
  if (length > 63)
    return invalid (error, "domain label is %" G_GSIZE_FORMAT " octets long, the limit is 63", length);
  if (label[0] == '-' || label[length - 1] == '-')
    return invalid (error, "domain label starts or ends with '-'");

  for (gsize i = 0; i < length; i++)
    {
      if (!g_ascii_isalnum (label[i]) && label[i] != '-')
        return invalid (error, "domain contains '%c', which is not allowed in a host name", label[i]);
    }

  return TRUE;
}

static gboolean
check_domain (const char *ascii,
              gboolean allow_single_label,
              GError **error)
{
  g_auto (GStrv) labels = NULL;
  guint n_labels;
  gboolean all_digits = TRUE;

  /* g_hostname_to_ascii() maps ideographic full stops to '.', so look for
   * an empty or a root label again. */
  if (ascii[0] == '\0' || g_str_has_suffix (ascii, "."))
    return invalid (error, "domain has an empty label");
  if (strlen (ascii) > POSTERN_MAILBOX_MAX_DOMAIN)
    return invalid (error, "domain is %" G_GSIZE_FORMAT " octets long, the limit is %d",
                    strlen (ascii), POSTERN_MAILBOX_MAX_DOMAIN);

  labels = g_strsplit (ascii, ".", -1);
  n_labels = g_strv_length (labels);
  for (guint i = 0; i < n_labels; i++)
    {
      if (!check_label (labels[i], strlen (labels[i]), error))
        return FALSE;

      /* An A-label must decode, or it is not IDNA at all. */
      if (g_str_has_prefix (labels[i], "xn--"))
        {
          g_autofree char *unicode = g_hostname_to_unicode (labels[i]);

          if (unicode == NULL || g_hostname_is_ascii_encoded (unicode))
            return invalid (error, "domain label '%s' is not a valid IDNA A-label", labels[i]);
        }
    }

  for (const char *p = labels[n_labels - 1]; *p != '\0'; p++)
    all_digits = all_digits && g_ascii_isdigit (*p);
  if (all_digits)
    return invalid (error, "IP addresses are not accepted as domains");

  if (n_labels < 2 && !allow_single_label)
    return invalid (error, "domain '%s' has a single label; a fully qualified domain is needed", ascii);

  return TRUE;
}

char *
postern_domain_normalize_full (const char *domain,
                               gsize length,
                               gboolean allow_single_label,
                               GError **error)
{
  g_autofree char *copy = NULL;
  g_autofree char *idna = NULL;
  g_autofree char *ascii = NULL;

  if (length > MAX_INPUT_LENGTH)
    {
      invalid (error, "domain is too long");
      return NULL;
    }
  if (!check_octets (domain, length, error))
    return NULL;
  if (length > 0 && domain[length - 1] == '.')
    length--; /* the root label */
  if (length == 0)
    {
      invalid (error, "domain is empty");
      return NULL;
    }
  if (domain[0] == '[')
    {
      invalid (error, "IP address literals are not accepted");
      return NULL;
    }

  copy = g_strndup (domain, length);
  idna = g_hostname_to_ascii (copy);
  if (idna == NULL)
    {
      invalid (error, "domain is not a valid host name");
      return NULL;
    }
  ascii = g_ascii_strdown (idna, -1);

  if (!check_domain (ascii, allow_single_label, error))
    return NULL;

  return g_steal_pointer (&ascii);
}

char *
postern_domain_normalize (const char *domain,
                          GError **error)
{
  g_return_val_if_fail (domain != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  return postern_domain_normalize_full (domain, strlen (domain), FALSE, error);
}

static PosternMailbox *
mailbox_new_checked (const char *local,
                     gsize local_length,
                     const char *domain,
                     gsize domain_length,
                     GError **error)
{
  g_autoptr (PosternMailbox) self = NULL;
  g_autofree char *normalized = NULL;
  gsize total;

  if (local_length > MAX_INPUT_LENGTH)
    {
      invalid (error, "address is too long");
      return NULL;
    }
  if (!check_octets (local, local_length, error) || !postern_mailbox_check_local_part (local, local_length, error))
    return NULL;

  normalized = postern_domain_normalize_full (domain, domain_length, FALSE, error);
  if (normalized == NULL)
    return NULL;

  total = local_length + 1 + strlen (normalized);
  if (total > POSTERN_MAILBOX_MAX_LENGTH)
    {
      invalid (error, "address is %" G_GSIZE_FORMAT " octets long, the limit is %d",
               total, POSTERN_MAILBOX_MAX_LENGTH);
      return NULL;
    }

  self = g_new0 (PosternMailbox, 1);
  self->local_part = g_strndup (local, local_length);
  self->domain = g_steal_pointer (&normalized);

  return g_steal_pointer (&self);
}

PosternMailbox *
postern_mailbox_new (const char *local_part,
                     const char *domain,
                     GError **error)
{
  g_return_val_if_fail (local_part != NULL, NULL);
  g_return_val_if_fail (domain != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  return mailbox_new_checked (local_part, strlen (local_part), domain, strlen (domain), error);
}

/* Refusals that come before the split, so the message names the real
 * problem rather than a symptom of it. */
static gboolean
check_shape (const char *text,
             gsize len,
             GError **error)
{
  if (text[0] == '<' || text[len - 1] == '>')
    {
      if (len == 2 && text[0] == '<' && text[1] == '>')
        return invalid (error, "the null sender <> is not a mailbox");
      return invalid (error, "angle brackets belong to the SMTP path, not to the address");
    }
  if (text[0] == '@' && memchr (text, ':', len) != NULL)
    return invalid (error, "source routes are not accepted");
  if (text[0] == '"')
    return invalid (error, "quoted local parts are not accepted");

  return TRUE;
}

PosternMailbox *
postern_mailbox_parse (const char *text,
                       gssize length,
                       GError **error)
{
  const char *at;
  gsize len;

  g_return_val_if_fail (text != NULL || length == 0, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  len = length < 0 ? strlen (text) : (gsize)length;
  if (len == 0)
    {
      invalid (error, "address is empty");
      return NULL;
    }
  if (len > MAX_INPUT_LENGTH)
    {
      invalid (error, "address is too long");
      return NULL;
    }
  if (!check_shape (text, len, error) || !check_octets (text, len, error))
    return NULL;

  /* A dot-atom local part holds no '@', so the address splits at the last
   * one and anything left of it is checked as a local part. */
  at = g_strrstr_len (text, len, "@");
  if (at == NULL)
    {
      invalid (error, "address has no '@'");
      return NULL;
    }
  if (at == text)
    {
      invalid (error, "local part is empty");
      return NULL;
    }
  if (at == text + len - 1)
    {
      invalid (error, "domain is empty");
      return NULL;
    }

  return mailbox_new_checked (text, at - text, at + 1, text + len - (at + 1), error);
}

PosternMailbox *
postern_mailbox_copy (const PosternMailbox *self)
{
  PosternMailbox *copy;

  g_return_val_if_fail (self != NULL, NULL);

  copy = g_new0 (PosternMailbox, 1);
  copy->local_part = g_strdup (self->local_part);
  copy->domain = g_strdup (self->domain);

  return copy;
}

void
postern_mailbox_free (PosternMailbox *self)
{
  if (self == NULL)
    return;

  g_free (self->local_part);
  g_free (self->domain);
  g_free (self);
}

char *
postern_mailbox_to_string (const PosternMailbox *self)
{
  g_return_val_if_fail (self != NULL, NULL);

  return g_strconcat (self->local_part, "@", self->domain, NULL);
}

gboolean
postern_mailbox_local_part_equal (const char *a,
                                  const char *b)
{
  /* ASCII case only: RFC 5321 lets the receiving host decide whether local
   * parts are case-sensitive, and in practice no mail host treats `Jane` and
   * `jane` as different people. Non-ASCII is compared octet by octet;
   * Unicode case folding is not something hosts agree on. */
  return g_ascii_strcasecmp (a, b) == 0;
}

gboolean
postern_mailbox_equal (const PosternMailbox *a,
                       const PosternMailbox *b)
{
  if (a == NULL || b == NULL)
    return a == b;

  return strcmp (a->domain, b->domain) == 0 && postern_mailbox_local_part_equal (a->local_part, b->local_part);
}

gsize
postern_mailbox_base_length (const char *local_part)
{
  const char *plus = strchr (local_part, '+');

  /* A leading '+' is the whole name, not an empty name with a tag. */
  if (plus == NULL || plus == local_part)
    return strlen (local_part);

  return plus - local_part;
}

char *
postern_mailbox_get_base_local_part (const PosternMailbox *self)
{
  g_return_val_if_fail (self != NULL, NULL);

  return g_strndup (self->local_part, postern_mailbox_base_length (self->local_part));
}
