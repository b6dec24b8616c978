/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <string.h>

#include "postern-core-error.h"
#include "postern-mailbox-private.h"
#include "postern-sender-pattern.h"

/*
 * Matching rules (docs/addresses.md):
 * - `name@domain` matches that address, local part without ASCII case. A
 *   pattern without a `+tag` also matches the tagged forms of the name
 *   (`jane@x` matches `jane+news@x`): the tag is the sender's own filing
 *   and says nothing about who is sending. A tagged pattern matches only
 *   that tag.
 * - `@domain` matches that exact domain.
 * - `@.domain` matches the domain itself and every subdomain of it, on label
 *   boundaries (`@.example.org` never matches `badexample.org`).
 */

struct _PosternSenderPattern
{
  PosternSenderPatternKind kind;
  char *local_part;
  char *domain;
};

G_DEFINE_BOXED_TYPE (PosternSenderPattern, postern_sender_pattern, postern_sender_pattern_copy, postern_sender_pattern_free)

static PosternSenderPattern *
pattern_new (PosternSenderPatternKind kind,
             const char *local_part,
             char *domain)
{
  PosternSenderPattern *self = g_new0 (PosternSenderPattern, 1);

  self->kind = kind;
  self->local_part = g_strdup (local_part);
  self->domain = domain;

  return self;
}

static void
propagate_as_pattern_error (GError **dest,
                            GError *src)
{
  g_autoptr (GError) owned = src;

  g_set_error (dest, POSTERN_CORE_ERROR, POSTERN_CORE_ERROR_INVALID_PATTERN,
               "invalid sender pattern: %s", owned->message);
}

PosternSenderPattern *
postern_sender_pattern_parse (const char *text,
                              GError **error)
{
  g_autofree char *copy = NULL;
  GError *local_error = NULL;
  const char *stripped;

  g_return_val_if_fail (text != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  copy = g_strdup (text);
  stripped = g_strstrip (copy);

  if (stripped[0] == '@')
    {
      PosternSenderPatternKind kind = POSTERN_SENDER_PATTERN_DOMAIN;
      const char *domain = stripped + 1;
      char *normalized;

      if (strchr (domain, ':') != NULL || strchr (domain, ',') != NULL)
        {
          g_set_error_literal (error, POSTERN_CORE_ERROR, POSTERN_CORE_ERROR_INVALID_PATTERN,
                               "invalid sender pattern: source routes are not accepted");
          return NULL;
        }

      if (domain[0] == '.')
        {
          kind = POSTERN_SENDER_PATTERN_SUBDOMAINS;
          domain++;
        }

      /* `@.tld` is allowed: blocking a whole top-level domain is a real use
       * of the blocklist. A bare `@tld` or `name@tld` is not, for the same
       * reason an envelope address may not use a single-label domain. */
      normalized = postern_domain_normalize_full (domain, strlen (domain),
                                                  kind == POSTERN_SENDER_PATTERN_SUBDOMAINS,
                                                  &local_error);
      if (normalized == NULL)
        {
          propagate_as_pattern_error (error, local_error);
          return NULL;
        }

      return pattern_new (kind, NULL, normalized);
    }
  else
    {
      g_autoptr (PosternMailbox) mailbox = NULL;

      /* `*` is a valid local part, but whoever writes `*@domain` means
       * the whole domain; say so rather than expect mail from `*`. */
      if (g_str_has_prefix (stripped, "*@"))
        {
          g_set_error (error, POSTERN_CORE_ERROR, POSTERN_CORE_ERROR_INVALID_PATTERN,
                       "invalid sender pattern: for every sender of a domain write %s", stripped + 1);
          return NULL;
        }

      mailbox = postern_mailbox_parse (stripped, -1, &local_error);

      if (mailbox == NULL)
        {
          propagate_as_pattern_error (error, local_error);
          return NULL;
        }

      return postern_sender_pattern_new_for_mailbox (mailbox);
    }
}

PosternSenderPattern *
postern_sender_pattern_new_for_mailbox (const PosternMailbox *mailbox)
{
  g_return_val_if_fail (mailbox != NULL, NULL);

  return pattern_new (POSTERN_SENDER_PATTERN_ADDRESS, mailbox->local_part, g_strdup (mailbox->domain));
}

PosternSenderPattern *
postern_sender_pattern_copy (const PosternSenderPattern *self)
{
  g_return_val_if_fail (self != NULL, NULL);

  return pattern_new (self->kind, self->local_part, g_strdup (self->domain));
}

void
postern_sender_pattern_free (PosternSenderPattern *self)
{
  if (self == NULL)
    return;

  g_free (self->local_part);
  g_free (self->domain);
  g_free (self);
}

PosternSenderPatternKind
postern_sender_pattern_get_kind (const PosternSenderPattern *self)
{
  g_return_val_if_fail (self != NULL, POSTERN_SENDER_PATTERN_ADDRESS);

  return self->kind;
}

const char *
postern_sender_pattern_get_domain (const PosternSenderPattern *self)
{
  g_return_val_if_fail (self != NULL, NULL);

  return self->domain;
}

const char *
postern_sender_pattern_get_local_part (const PosternSenderPattern *self)
{
  g_return_val_if_fail (self != NULL, NULL);

  return self->local_part;
}

char *
postern_sender_pattern_to_string (const PosternSenderPattern *self)
{
  g_return_val_if_fail (self != NULL, NULL);

  switch (self->kind)
    {
      case POSTERN_SENDER_PATTERN_ADDRESS:
        return g_strconcat (self->local_part, "@", self->domain, NULL);
      case POSTERN_SENDER_PATTERN_DOMAIN:
        return g_strconcat ("@", self->domain, NULL);
      case POSTERN_SENDER_PATTERN_SUBDOMAINS:
      default:
        return g_strconcat ("@.", self->domain, NULL);
    }
}

gboolean
postern_sender_pattern_equal (const PosternSenderPattern *a,
                              const PosternSenderPattern *b)
{
  if (a == NULL || b == NULL)
    return a == b;

  if (a->kind != b->kind || strcmp (a->domain, b->domain) != 0)
    return FALSE;

  if (a->kind != POSTERN_SENDER_PATTERN_ADDRESS)
    return TRUE;

  return postern_mailbox_local_part_equal (a->local_part, b->local_part);
}

static gboolean
local_part_matches (const char *pattern,
                    const char *local)
{
  gsize base_length;

  if (postern_mailbox_local_part_equal (pattern, local))
    return TRUE;

  /* An untagged pattern also matches the tagged forms of its name. */
  if (postern_mailbox_base_length (pattern) != strlen (pattern))
    return FALSE;

  base_length = postern_mailbox_base_length (local);

  return base_length == strlen (pattern) && g_ascii_strncasecmp (pattern, local, base_length) == 0;
}

gboolean
postern_sender_pattern_matches (const PosternSenderPattern *self,
                                const PosternMailbox *mailbox)
{
  gsize domain_length;
  gsize own_length;

  g_return_val_if_fail (self != NULL, FALSE);

  if (mailbox == NULL)
    return FALSE;

  switch (self->kind)
    {
      case POSTERN_SENDER_PATTERN_ADDRESS:
        return strcmp (self->domain, mailbox->domain) == 0 && local_part_matches (self->local_part, mailbox->local_part);

      case POSTERN_SENDER_PATTERN_DOMAIN:
        return strcmp (self->domain, mailbox->domain) == 0;

      case POSTERN_SENDER_PATTERN_SUBDOMAINS:
      default:
        domain_length = strlen (mailbox->domain);
        own_length = strlen (self->domain);

        if (domain_length == own_length)
          return strcmp (self->domain, mailbox->domain) == 0;

        return domain_length > own_length && mailbox->domain[domain_length - own_length - 1] == '.' && strcmp (mailbox->domain + domain_length - own_length, self->domain) == 0;
    }
}
