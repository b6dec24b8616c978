/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <string.h>

#include "postern-address-generator.h"
#include "postern-channel.h"
#include "postern-core-error.h"

struct _PosternChannel
{
  GObject parent_instance;

  char *id;
  char *address;
  char *label;
  char *note;
  PosternChannelKind kind;
  PosternChannelState state;
  PosternUnexpectedPolicy on_unexpected;
  PosternFarewell farewell;
  char *farewell_text;
  gint64 created_at;
  gint64 expires_at;
  gint64 revision;
  GPtrArray *expected_senders;
};

G_DEFINE_FINAL_TYPE (PosternChannel, postern_channel, G_TYPE_OBJECT)

enum
{
  PROP_0,
  PROP_ID,
  PROP_ADDRESS,
  PROP_LABEL,
  PROP_NOTE,
  PROP_KIND,
  PROP_STATE,
  PROP_ON_UNEXPECTED,
  PROP_FAREWELL,
  PROP_FAREWELL_TEXT,
  PROP_CREATED_AT,
  PROP_EXPIRES_AT,
  PROP_REVISION,
  N_PROPS
};

enum
{
  EXPECTED_SENDERS_CHANGED,
  N_SIGNALS
};

static GParamSpec *properties[N_PROPS];
static guint signals[N_SIGNALS];

static gboolean
invalid_value (GError **error,
               const char *field,
               const char *reason)
{
  g_set_error (error, POSTERN_CORE_ERROR, POSTERN_CORE_ERROR_INVALID_VALUE, "%s: %s", field, reason);
  return FALSE;
}

/* Validates free text the owner typed. Control characters are refused, not
 * stripped: a label is shown in notifications, menus and logs, and a
 * newline or an escape sequence there is never what the owner meant. The
 * note may hold line breaks and tabs. */
static gboolean
check_text (const char *field,
            const char *text,
            glong max_chars,
            gboolean multiline,
            GError **error)
{
  if (!g_utf8_validate (text, -1, NULL))
    return invalid_value (error, field, "not valid UTF-8");

  if (g_utf8_strlen (text, -1) > max_chars)
    {
      g_autofree char *reason = g_strdup_printf ("longer than %ld characters", max_chars);
      return invalid_value (error, field, reason);
    }

  for (const char *p = text; *p != '\0'; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);
      GUnicodeType type = g_unichar_type (c);

      if (multiline && (c == '\n' || c == '\t'))
        continue;
      if (type == G_UNICODE_CONTROL || type == G_UNICODE_LINE_SEPARATOR || type == G_UNICODE_PARAGRAPH_SEPARATOR)
        return invalid_value (error, field, "contains a control character");
    }

  return TRUE;
}

/* Replaces *@field with @value when they differ; "" is stored as NULL so
 * that an empty and an absent text compare equal. */
static gboolean
set_string (char **field,
            const char *value)
{
  if (value != NULL && value[0] == '\0')
    value = NULL;

  if (g_strcmp0 (*field, value) == 0)
    return FALSE;

  g_free (*field);
  *field = g_strdup (value);
  return TRUE;
}

static void
postern_channel_finalize (GObject *object)
{
  PosternChannel *self = (PosternChannel *)object;

  g_free (self->id);
  g_free (self->address);
  g_free (self->label);
  g_free (self->note);
  g_free (self->farewell_text);
  g_clear_pointer (&self->expected_senders, g_ptr_array_unref);

  G_OBJECT_CLASS (postern_channel_parent_class)->finalize (object);
}

static void
postern_channel_get_property (GObject *object,
                              guint prop_id,
                              GValue *value,
                              GParamSpec *pspec)
{
  PosternChannel *self = POSTERN_CHANNEL (object);

  switch (prop_id)
    {
      case PROP_ID:
        g_value_set_string (value, self->id);
        break;
      case PROP_ADDRESS:
        g_value_set_string (value, self->address);
        break;
      case PROP_LABEL:
        g_value_set_string (value, self->label);
        break;
      case PROP_NOTE:
        g_value_set_string (value, self->note);
        break;
      case PROP_KIND:
        g_value_set_enum (value, self->kind);
        break;
      case PROP_STATE:
        g_value_set_enum (value, self->state);
        break;
      case PROP_ON_UNEXPECTED:
        g_value_set_enum (value, self->on_unexpected);
        break;
      case PROP_FAREWELL:
        g_value_set_enum (value, self->farewell);
        break;
      case PROP_FAREWELL_TEXT:
        g_value_set_string (value, self->farewell_text);
        break;
      case PROP_CREATED_AT:
        g_value_set_int64 (value, self->created_at);
        break;
      case PROP_EXPIRES_AT:
        g_value_set_int64 (value, self->expires_at);
        break;
      case PROP_REVISION:
        g_value_set_int64 (value, self->revision);
        break;
      default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
postern_channel_set_property (GObject *object,
                              guint prop_id,
                              const GValue *value,
                              GParamSpec *pspec)
{
  PosternChannel *self = POSTERN_CHANNEL (object);
  g_autoptr (GError) error = NULL;
  gboolean ok = TRUE;

  switch (prop_id)
    {
      case PROP_ID:
        ok = postern_channel_set_id (self, g_value_get_string (value), &error);
        break;
      case PROP_ADDRESS:
        ok = postern_channel_set_address (self, g_value_get_string (value), &error);
        break;
      case PROP_LABEL:
        ok = postern_channel_set_label (self, g_value_get_string (value), &error);
        break;
      case PROP_NOTE:
        ok = postern_channel_set_note (self, g_value_get_string (value), &error);
        break;
      case PROP_KIND:
        postern_channel_set_kind (self, g_value_get_enum (value));
        break;
      case PROP_STATE:
        postern_channel_set_state (self, g_value_get_enum (value));
        break;
      case PROP_ON_UNEXPECTED:
        postern_channel_set_on_unexpected (self, g_value_get_enum (value));
        break;
      case PROP_FAREWELL:
        postern_channel_set_farewell (self, g_value_get_enum (value));
        break;
      case PROP_FAREWELL_TEXT:
        ok = postern_channel_set_farewell_text (self, g_value_get_string (value), &error);
        break;
      case PROP_CREATED_AT:
        postern_channel_set_created_at (self, g_value_get_int64 (value));
        break;
      case PROP_EXPIRES_AT:
        postern_channel_set_expires_at (self, g_value_get_int64 (value));
        break;
      case PROP_REVISION:
        postern_channel_set_revision (self, g_value_get_int64 (value));
        break;
      default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }

  /* g_object_set() cannot report errors; code that handles user input uses
   * the setters, so this is a programming error. */
  if (!ok)
    g_warning ("PosternChannel: refused \"%s\": %s", pspec->name, error->message);
}

static void
postern_channel_class_init (PosternChannelClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GParamFlags flags = G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY;

  object_class->finalize = postern_channel_finalize;
  object_class->get_property = postern_channel_get_property;
  object_class->set_property = postern_channel_set_property;

  properties[PROP_ID] = g_param_spec_string ("id", NULL, NULL, NULL, flags);
  properties[PROP_ADDRESS] = g_param_spec_string ("address", NULL, NULL, NULL, flags);
  properties[PROP_LABEL] = g_param_spec_string ("label", NULL, NULL, NULL, flags);
  properties[PROP_NOTE] = g_param_spec_string ("note", NULL, NULL, NULL, flags);
  properties[PROP_KIND] = g_param_spec_enum ("kind", NULL, NULL, POSTERN_TYPE_CHANNEL_KIND,
                                             POSTERN_CHANNEL_KIND_ONE_TIME, flags);
  properties[PROP_STATE] = g_param_spec_enum ("state", NULL, NULL, POSTERN_TYPE_CHANNEL_STATE,
                                              POSTERN_CHANNEL_STATE_ACTIVE, flags);
  properties[PROP_ON_UNEXPECTED] = g_param_spec_enum ("on-unexpected", NULL, NULL, POSTERN_TYPE_UNEXPECTED_POLICY,
                                                      POSTERN_UNEXPECTED_ALERT, flags);
  properties[PROP_FAREWELL] = g_param_spec_enum ("farewell", NULL, NULL, POSTERN_TYPE_FAREWELL,
                                                 POSTERN_FAREWELL_REFUSE, flags);
  properties[PROP_FAREWELL_TEXT] = g_param_spec_string ("farewell-text", NULL, NULL, NULL, flags);
  properties[PROP_CREATED_AT] = g_param_spec_int64 ("created-at", NULL, NULL, 0, G_MAXINT64, 0, flags);
  properties[PROP_EXPIRES_AT] = g_param_spec_int64 ("expires-at", NULL, NULL, 0, G_MAXINT64, 0, flags);
  properties[PROP_REVISION] = g_param_spec_int64 ("revision", NULL, NULL, 0, G_MAXINT64, 0, flags);

  g_object_class_install_properties (object_class, N_PROPS, properties);

  /**
   * PosternChannel::expected-senders-changed:
   *
   * Emitted when a pattern is added to or removed from the expected senders.
   */
  signals[EXPECTED_SENDERS_CHANGED] = g_signal_new ("expected-senders-changed", G_TYPE_FROM_CLASS (klass),
                                                    G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL, G_TYPE_NONE, 0);
}

static void
postern_channel_init (PosternChannel *self)
{
  self->kind = POSTERN_CHANNEL_KIND_ONE_TIME;
  self->state = POSTERN_CHANNEL_STATE_ACTIVE;
  self->on_unexpected = POSTERN_UNEXPECTED_ALERT;
  self->farewell = POSTERN_FAREWELL_REFUSE;
  self->expected_senders = g_ptr_array_new_with_free_func ((GDestroyNotify)postern_sender_pattern_free);
}

PosternChannel *
postern_channel_new (void)
{
  return g_object_new (POSTERN_TYPE_CHANNEL, NULL);
}

PosternChannel *
postern_channel_copy (PosternChannel *self)
{
  PosternChannel *copy;

  g_return_val_if_fail (POSTERN_IS_CHANNEL (self), NULL);

  copy = postern_channel_new ();
  copy->id = g_strdup (self->id);
  copy->address = g_strdup (self->address);
  copy->label = g_strdup (self->label);
  copy->note = g_strdup (self->note);
  copy->kind = self->kind;
  copy->state = self->state;
  copy->on_unexpected = self->on_unexpected;
  copy->farewell = self->farewell;
  copy->farewell_text = g_strdup (self->farewell_text);
  copy->created_at = self->created_at;
  copy->expires_at = self->expires_at;
  copy->revision = self->revision;
  for (guint i = 0; i < self->expected_senders->len; i++)
    g_ptr_array_add (copy->expected_senders, postern_sender_pattern_copy (g_ptr_array_index (self->expected_senders, i)));

  return copy;
}

const char *
postern_channel_get_id (PosternChannel *self)
{
  g_return_val_if_fail (POSTERN_IS_CHANNEL (self), NULL);

  return self->id;
}

gboolean
postern_channel_set_id (PosternChannel *self,
                        const char *uuid,
                        GError **error)
{
  g_autofree char *lower = NULL;

  g_return_val_if_fail (POSTERN_IS_CHANNEL (self), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (uuid != NULL && uuid[0] != '\0')
    {
      if (!postern_uuid_is_valid (uuid))
        return invalid_value (error, "id", "not a UUID");
      lower = g_ascii_strdown (uuid, -1);
    }

  if (set_string (&self->id, lower))
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_ID]);

  return TRUE;
}

const char *
postern_channel_get_address (PosternChannel *self)
{
  g_return_val_if_fail (POSTERN_IS_CHANNEL (self), NULL);

  return self->address;
}

gboolean
postern_channel_set_address (PosternChannel *self,
                             const char *address,
                             GError **error)
{
  g_autofree char *normalized = NULL;

  g_return_val_if_fail (POSTERN_IS_CHANNEL (self), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (address != NULL && address[0] != '\0')
    {
      g_autoptr (GError) local_error = NULL;
      g_autoptr (PosternMailbox) mailbox = postern_mailbox_parse (address, -1, &local_error);

      if (mailbox == NULL)
        return invalid_value (error, "address", local_error->message);
      normalized = postern_mailbox_to_string (mailbox);
    }

  if (set_string (&self->address, normalized))
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_ADDRESS]);

  return TRUE;
}

const char *
postern_channel_get_label (PosternChannel *self)
{
  g_return_val_if_fail (POSTERN_IS_CHANNEL (self), NULL);

  return self->label;
}

gboolean
postern_channel_set_label (PosternChannel *self,
                           const char *label,
                           GError **error)
{
  g_return_val_if_fail (POSTERN_IS_CHANNEL (self), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (label != NULL && !check_text ("label", label, POSTERN_CHANNEL_MAX_LABEL, FALSE, error))
    return FALSE;

  if (set_string (&self->label, label))
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_LABEL]);

  return TRUE;
}

const char *
postern_channel_get_note (PosternChannel *self)
{
  g_return_val_if_fail (POSTERN_IS_CHANNEL (self), NULL);

  return self->note;
}

gboolean
postern_channel_set_note (PosternChannel *self,
                          const char *note,
                          GError **error)
{
  g_return_val_if_fail (POSTERN_IS_CHANNEL (self), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (note != NULL && !check_text ("note", note, POSTERN_CHANNEL_MAX_NOTE, TRUE, error))
    return FALSE;

  if (set_string (&self->note, note))
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_NOTE]);

  return TRUE;
}

PosternChannelKind
postern_channel_get_kind (PosternChannel *self)
{
  g_return_val_if_fail (POSTERN_IS_CHANNEL (self), POSTERN_CHANNEL_KIND_ONE_TIME);

  return self->kind;
}

void
postern_channel_set_kind (PosternChannel *self,
                          PosternChannelKind kind)
{
  g_return_if_fail (POSTERN_IS_CHANNEL (self));
  g_return_if_fail (kind <= POSTERN_CHANNEL_KIND_OPEN);

  if (self->kind == kind)
    return;

  self->kind = kind;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_KIND]);
}

PosternChannelState
postern_channel_get_state (PosternChannel *self)
{
  g_return_val_if_fail (POSTERN_IS_CHANNEL (self), POSTERN_CHANNEL_STATE_ACTIVE);

  return self->state;
}

void
postern_channel_set_state (PosternChannel *self,
                           PosternChannelState state)
{
  g_return_if_fail (POSTERN_IS_CHANNEL (self));
  g_return_if_fail (state <= POSTERN_CHANNEL_STATE_REVOKED);

  if (self->state == state)
    return;

  self->state = state;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_STATE]);
}

PosternUnexpectedPolicy
postern_channel_get_on_unexpected (PosternChannel *self)
{
  g_return_val_if_fail (POSTERN_IS_CHANNEL (self), POSTERN_UNEXPECTED_ALERT);

  return self->on_unexpected;
}

void
postern_channel_set_on_unexpected (PosternChannel *self,
                                   PosternUnexpectedPolicy policy)
{
  g_return_if_fail (POSTERN_IS_CHANNEL (self));
  g_return_if_fail (policy <= POSTERN_UNEXPECTED_REJECT);

  if (self->on_unexpected == policy)
    return;

  self->on_unexpected = policy;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_ON_UNEXPECTED]);
}

PosternFarewell
postern_channel_get_farewell (PosternChannel *self)
{
  g_return_val_if_fail (POSTERN_IS_CHANNEL (self), POSTERN_FAREWELL_REFUSE);

  return self->farewell;
}

void
postern_channel_set_farewell (PosternChannel *self,
                              PosternFarewell farewell)
{
  g_return_if_fail (POSTERN_IS_CHANNEL (self));
  g_return_if_fail (farewell <= POSTERN_FAREWELL_DROP);

  if (self->farewell == farewell)
    return;

  self->farewell = farewell;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_FAREWELL]);
}

const char *
postern_channel_get_farewell_text (PosternChannel *self)
{
  g_return_val_if_fail (POSTERN_IS_CHANNEL (self), NULL);

  return self->farewell_text;
}

gboolean
postern_channel_set_farewell_text (PosternChannel *self,
                                   const char *text,
                                   GError **error)
{
  g_return_val_if_fail (POSTERN_IS_CHANNEL (self), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (text != NULL)
    {
      gsize length = strlen (text);

      /* The text ends up in an SMTP reply line (RFC 5321 textstring):
       * printable ASCII only, so no CR/LF can split the reply and no
       * 8-bit octet reaches a client that did not ask for SMTPUTF8. */
      if (length > POSTERN_CHANNEL_MAX_FAREWELL)
        return invalid_value (error, "farewell_text", "longer than 200 characters");
      for (gsize i = 0; i < length; i++)
        {
          if ((guchar)text[i] < 0x20 || (guchar)text[i] > 0x7e)
            return invalid_value (error, "farewell_text", "only printable ASCII characters are allowed");
        }
    }

  if (set_string (&self->farewell_text, text))
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_FAREWELL_TEXT]);

  return TRUE;
}

gint64
postern_channel_get_created_at (PosternChannel *self)
{
  g_return_val_if_fail (POSTERN_IS_CHANNEL (self), 0);

  return self->created_at;
}

void
postern_channel_set_created_at (PosternChannel *self,
                                gint64 unix_seconds)
{
  g_return_if_fail (POSTERN_IS_CHANNEL (self));
  g_return_if_fail (unix_seconds >= 0);

  if (self->created_at == unix_seconds)
    return;

  self->created_at = unix_seconds;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_CREATED_AT]);
}

gint64
postern_channel_get_expires_at (PosternChannel *self)
{
  g_return_val_if_fail (POSTERN_IS_CHANNEL (self), 0);

  return self->expires_at;
}

void
postern_channel_set_expires_at (PosternChannel *self,
                                gint64 unix_seconds)
{
  g_return_if_fail (POSTERN_IS_CHANNEL (self));
  g_return_if_fail (unix_seconds >= 0);

  if (self->expires_at == unix_seconds)
    return;

  self->expires_at = unix_seconds;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_EXPIRES_AT]);
}

gboolean
postern_channel_is_expired (PosternChannel *self,
                            gint64 now_unix_seconds)
{
  g_return_val_if_fail (POSTERN_IS_CHANNEL (self), FALSE);

  return postern_channel_expiry_has_passed (self->expires_at, now_unix_seconds);
}

gboolean
postern_channel_expiry_has_passed (gint64 expires_at,
                                   gint64 now_unix_seconds)
{
  /* Expiry is inclusive: at the second it expires, it has expired. */
  return expires_at != 0 && now_unix_seconds >= expires_at;
}

gint64
postern_channel_get_revision (PosternChannel *self)
{
  g_return_val_if_fail (POSTERN_IS_CHANNEL (self), 0);

  return self->revision;
}

void
postern_channel_set_revision (PosternChannel *self,
                              gint64 revision)
{
  g_return_if_fail (POSTERN_IS_CHANNEL (self));
  g_return_if_fail (revision >= 0);

  if (self->revision == revision)
    return;

  self->revision = revision;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_REVISION]);
}

GPtrArray *
postern_channel_get_expected_senders (PosternChannel *self)
{
  g_return_val_if_fail (POSTERN_IS_CHANNEL (self), NULL);

  return self->expected_senders;
}

static gboolean
find_pattern (PosternChannel *self,
              const PosternSenderPattern *pattern,
              guint *index)
{
  for (guint i = 0; i < self->expected_senders->len; i++)
    {
      if (postern_sender_pattern_equal (g_ptr_array_index (self->expected_senders, i), pattern))
        {
          if (index != NULL)
            *index = i;
          return TRUE;
        }
    }

  return FALSE;
}

gboolean
postern_channel_add_expected_sender (PosternChannel *self,
                                     const PosternSenderPattern *pattern,
                                     GError **error)
{
  g_return_val_if_fail (POSTERN_IS_CHANNEL (self), FALSE);
  g_return_val_if_fail (pattern != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (find_pattern (self, pattern, NULL))
    return TRUE;

  if (self->expected_senders->len >= POSTERN_CHANNEL_MAX_SENDERS)
    {
      g_set_error (error, POSTERN_CORE_ERROR, POSTERN_CORE_ERROR_INVALID_VALUE,
                   "expected_senders: a channel holds at most %d expected senders",
                   POSTERN_CHANNEL_MAX_SENDERS);
      return FALSE;
    }

  g_ptr_array_add (self->expected_senders, postern_sender_pattern_copy (pattern));
  g_signal_emit (self, signals[EXPECTED_SENDERS_CHANGED], 0);

  return TRUE;
}

gboolean
postern_channel_remove_expected_sender (PosternChannel *self,
                                        const PosternSenderPattern *pattern)
{
  guint index;

  g_return_val_if_fail (POSTERN_IS_CHANNEL (self), FALSE);
  g_return_val_if_fail (pattern != NULL, FALSE);

  if (!find_pattern (self, pattern, &index))
    return FALSE;

  g_ptr_array_remove_index (self->expected_senders, index);
  g_signal_emit (self, signals[EXPECTED_SENDERS_CHANGED], 0);

  return TRUE;
}

void
postern_channel_clear_expected_senders (PosternChannel *self)
{
  g_return_if_fail (POSTERN_IS_CHANNEL (self));

  if (self->expected_senders->len == 0)
    return;

  g_ptr_array_set_size (self->expected_senders, 0);
  g_signal_emit (self, signals[EXPECTED_SENDERS_CHANGED], 0);
}

gboolean
postern_channel_expects (PosternChannel *self,
                         const PosternMailbox *sender)
{
  g_return_val_if_fail (POSTERN_IS_CHANNEL (self), FALSE);

  if (sender == NULL)
    return FALSE;

  for (guint i = 0; i < self->expected_senders->len; i++)
    {
      if (postern_sender_pattern_matches (g_ptr_array_index (self->expected_senders, i), sender))
        return TRUE;
    }

  return FALSE;
}

gboolean
postern_channel_equal (PosternChannel *a,
                       PosternChannel *b)
{
  g_return_val_if_fail (POSTERN_IS_CHANNEL (a), FALSE);
  g_return_val_if_fail (POSTERN_IS_CHANNEL (b), FALSE);

  if (a == b)
    return TRUE;

  if (g_strcmp0 (a->id, b->id) != 0 || g_strcmp0 (a->address, b->address) != 0 || g_strcmp0 (a->label, b->label) != 0 || g_strcmp0 (a->note, b->note) != 0 || a->kind != b->kind || a->state != b->state || a->on_unexpected != b->on_unexpected || a->farewell != b->farewell || g_strcmp0 (a->farewell_text, b->farewell_text) != 0 || a->created_at != b->created_at || a->expires_at != b->expires_at || a->revision != b->revision)
    return FALSE;

  /* The expected senders are a set: order does not matter, and adding
   * keeps them free of duplicates, so equal lengths plus inclusion is
   * equality. */
  if (a->expected_senders->len != b->expected_senders->len)
    return FALSE;

  for (guint i = 0; i < a->expected_senders->len; i++)
    {
      if (!find_pattern (b, g_ptr_array_index (a->expected_senders, i), NULL))
        return FALSE;
    }

  return TRUE;
}

char *
postern_uuid_new (void)
{
  guint8 bytes[16];

  /* Ids are minted by clients and are visible to the server, so they come
   * from the CSPRNG rather than GRand like g_uuid_string_random(). */
  postern_random_bytes (bytes, sizeof bytes);
  bytes[6] = (bytes[6] & 0x0f) | 0x40; /* version 4 */
  bytes[8] = (bytes[8] & 0x3f) | 0x80; /* RFC 4122 variant */

  return g_strdup_printf ("%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
                          bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7],
                          bytes[8], bytes[9], bytes[10], bytes[11], bytes[12], bytes[13], bytes[14], bytes[15]);
}

gboolean
postern_uuid_is_valid (const char *text)
{
  if (text == NULL)
    return FALSE;

  return g_uuid_string_is_valid (text);
}
