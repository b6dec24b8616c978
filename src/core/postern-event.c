/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <string.h>

#include "postern-event.h"

struct _PosternEvent
{
  GObject parent_instance;

  gint64 id;
  char *channel_id;
  gint64 received_at;
  char *envelope_sender;
  char *header_from;
  char *subject;
  char *message_id;
  gint64 size;
  PosternVerdict verdict;
};

G_DEFINE_FINAL_TYPE (PosternEvent, postern_event, G_TYPE_OBJECT)

enum
{
  PROP_0,
  PROP_ID,
  PROP_CHANNEL_ID,
  PROP_RECEIVED_AT,
  PROP_ENVELOPE_SENDER,
  PROP_HEADER_FROM,
  PROP_SUBJECT,
  PROP_MESSAGE_ID,
  PROP_SIZE,
  PROP_VERDICT,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

/* The fields come from mail, i.e. from strangers, and go on to JSON,
 * notifications and logs: make them valid UTF-8, replace control
 * characters (a header cannot hold them legitimately once unfolded) and cap
 * the length at a character boundary. */
static char *
sanitize_field (const char *text)
{
  g_autofree char *valid = NULL;
  GString *out;

  if (text == NULL)
    return NULL;

  valid = g_utf8_make_valid (text, -1);
  out = g_string_sized_new (strlen (valid));

  for (const char *p = valid; *p != '\0'; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);
      char encoded[6];
      gsize n;

      if (g_unichar_type (c) == G_UNICODE_CONTROL)
        c = ' ';
      n = g_unichar_to_utf8 (c, encoded);
      if (out->len + n > POSTERN_EVENT_MAX_FIELD)
        break;
      g_string_append_len (out, encoded, n);
    }

  return g_string_free (out, FALSE);
}

static void
postern_event_finalize (GObject *object)
{
  PosternEvent *self = (PosternEvent *)object;

  g_free (self->channel_id);
  g_free (self->envelope_sender);
  g_free (self->header_from);
  g_free (self->subject);
  g_free (self->message_id);

  G_OBJECT_CLASS (postern_event_parent_class)->finalize (object);
}

static void
postern_event_get_property (GObject *object,
                            guint prop_id,
                            GValue *value,
                            GParamSpec *pspec)
{
  PosternEvent *self = POSTERN_EVENT (object);

  switch (prop_id)
    {
      case PROP_ID:
        g_value_set_int64 (value, self->id);
        break;
      case PROP_CHANNEL_ID:
        g_value_set_string (value, self->channel_id);
        break;
      case PROP_RECEIVED_AT:
        g_value_set_int64 (value, self->received_at);
        break;
      case PROP_ENVELOPE_SENDER:
        g_value_set_string (value, self->envelope_sender);
        break;
      case PROP_HEADER_FROM:
        g_value_set_string (value, self->header_from);
        break;
      case PROP_SUBJECT:
        g_value_set_string (value, self->subject);
        break;
      case PROP_MESSAGE_ID:
        g_value_set_string (value, self->message_id);
        break;
      case PROP_SIZE:
        g_value_set_int64 (value, self->size);
        break;
      case PROP_VERDICT:
        g_value_set_enum (value, self->verdict);
        break;
      default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
postern_event_set_property (GObject *object,
                            guint prop_id,
                            const GValue *value,
                            GParamSpec *pspec)
{
  PosternEvent *self = POSTERN_EVENT (object);

  /* Construct-only: each is set exactly once, before anyone can watch. */
  switch (prop_id)
    {
      case PROP_ID:
        self->id = g_value_get_int64 (value);
        break;
      case PROP_CHANNEL_ID:
        self->channel_id = sanitize_field (g_value_get_string (value));
        break;
      case PROP_RECEIVED_AT:
        self->received_at = g_value_get_int64 (value);
        break;
      case PROP_ENVELOPE_SENDER:
        self->envelope_sender = sanitize_field (g_value_get_string (value));
        if (self->envelope_sender == NULL)
          self->envelope_sender = g_strdup ("");
        break;
      case PROP_HEADER_FROM:
        self->header_from = sanitize_field (g_value_get_string (value));
        break;
      case PROP_SUBJECT:
        self->subject = sanitize_field (g_value_get_string (value));
        break;
      case PROP_MESSAGE_ID:
        self->message_id = sanitize_field (g_value_get_string (value));
        break;
      case PROP_SIZE:
        self->size = g_value_get_int64 (value);
        break;
      case PROP_VERDICT:
        self->verdict = g_value_get_enum (value);
        break;
      default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
postern_event_class_init (PosternEventClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GParamFlags flags = G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS;

  object_class->finalize = postern_event_finalize;
  object_class->get_property = postern_event_get_property;
  object_class->set_property = postern_event_set_property;

  properties[PROP_ID] = g_param_spec_int64 ("id", NULL, NULL, 0, G_MAXINT64, 0, flags);
  properties[PROP_CHANNEL_ID] = g_param_spec_string ("channel-id", NULL, NULL, NULL, flags);
  properties[PROP_RECEIVED_AT] = g_param_spec_int64 ("received-at", NULL, NULL, 0, G_MAXINT64, 0, flags);
  properties[PROP_ENVELOPE_SENDER] = g_param_spec_string ("envelope-sender", NULL, NULL, "", flags);
  properties[PROP_HEADER_FROM] = g_param_spec_string ("header-from", NULL, NULL, NULL, flags);
  properties[PROP_SUBJECT] = g_param_spec_string ("subject", NULL, NULL, NULL, flags);
  properties[PROP_MESSAGE_ID] = g_param_spec_string ("message-id", NULL, NULL, NULL, flags);
  properties[PROP_SIZE] = g_param_spec_int64 ("size", NULL, NULL, 0, G_MAXINT64, 0, flags);
  properties[PROP_VERDICT] = g_param_spec_enum ("verdict", NULL, NULL, POSTERN_TYPE_VERDICT,
                                                POSTERN_VERDICT_EXPECTED, flags);

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
postern_event_init (PosternEvent *self)
{
}

PosternEvent *
postern_event_new (gint64 id,
                   const char *channel_id,
                   gint64 received_at,
                   const char *envelope_sender,
                   const char *header_from,
                   const char *subject,
                   const char *message_id,
                   gint64 size,
                   PosternVerdict verdict)
{
  g_return_val_if_fail (id >= 0, NULL);
  g_return_val_if_fail (received_at >= 0, NULL);
  g_return_val_if_fail (size >= 0, NULL);

  return g_object_new (POSTERN_TYPE_EVENT,
                       "id", id,
                       "channel-id", channel_id,
                       "received-at", received_at,
                       "envelope-sender", envelope_sender,
                       "header-from", header_from,
                       "subject", subject,
                       "message-id", message_id,
                       "size", size,
                       "verdict", verdict,
                       NULL);
}

gint64
postern_event_get_id (PosternEvent *self)
{
  g_return_val_if_fail (POSTERN_IS_EVENT (self), 0);
  return self->id;
}

const char *
postern_event_get_channel_id (PosternEvent *self)
{
  g_return_val_if_fail (POSTERN_IS_EVENT (self), NULL);
  return self->channel_id;
}

gint64
postern_event_get_received_at (PosternEvent *self)
{
  g_return_val_if_fail (POSTERN_IS_EVENT (self), 0);
  return self->received_at;
}

const char *
postern_event_get_envelope_sender (PosternEvent *self)
{
  g_return_val_if_fail (POSTERN_IS_EVENT (self), NULL);
  return self->envelope_sender;
}

const char *
postern_event_get_header_from (PosternEvent *self)
{
  g_return_val_if_fail (POSTERN_IS_EVENT (self), NULL);
  return self->header_from;
}

const char *
postern_event_get_subject (PosternEvent *self)
{
  g_return_val_if_fail (POSTERN_IS_EVENT (self), NULL);
  return self->subject;
}

const char *
postern_event_get_message_id (PosternEvent *self)
{
  g_return_val_if_fail (POSTERN_IS_EVENT (self), NULL);
  return self->message_id;
}

gint64
postern_event_get_size (PosternEvent *self)
{
  g_return_val_if_fail (POSTERN_IS_EVENT (self), 0);
  return self->size;
}

PosternVerdict
postern_event_get_verdict (PosternEvent *self)
{
  g_return_val_if_fail (POSTERN_IS_EVENT (self), POSTERN_VERDICT_EXPECTED);
  return self->verdict;
}
