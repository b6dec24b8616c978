/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <string.h>

#include "postern-channel-item.h"

/* Senders seen in events are kept for search; a leaked address can hear
 * from thousands of strangers, so only the most recent few are kept. */
#define MAX_SEEN_SENDERS 32

struct _PosternChannelItem
{
  GObject parent_instance;

  PosternChannel *channel;
  GPtrArray *seen_senders;
  /* Case-folded label, address and senders, built when they change:
   * filtering 10,000 rows on a keystroke must not fold 10,000 strings. */
  char *search_key;
  guint unread_alerts;
  gint64 last_activity;
  gboolean pending;
};

G_DEFINE_FINAL_TYPE (PosternChannelItem, postern_channel_item, G_TYPE_OBJECT)

static char *build_search_key (PosternChannelItem *self);

enum
{
  PROP_0,
  PROP_CHANNEL,
  PROP_ID,
  PROP_LABEL,
  PROP_ADDRESS,
  PROP_STATE,
  PROP_UNREAD_ALERTS,
  PROP_LAST_ACTIVITY,
  PROP_PENDING,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static void
postern_channel_item_finalize (GObject *object)
{
  PosternChannelItem *self = POSTERN_CHANNEL_ITEM (object);

  g_clear_object (&self->channel);
  g_clear_pointer (&self->seen_senders, g_ptr_array_unref);
  g_clear_pointer (&self->search_key, g_free);

  G_OBJECT_CLASS (postern_channel_item_parent_class)->finalize (object);
}

static void
postern_channel_item_get_property (GObject *object,
                                   guint prop_id,
                                   GValue *value,
                                   GParamSpec *pspec)
{
  PosternChannelItem *self = POSTERN_CHANNEL_ITEM (object);

  switch (prop_id)
    {
      case PROP_CHANNEL:
        g_value_set_object (value, self->channel);
        break;
      case PROP_ID:
        g_value_set_string (value, postern_channel_item_get_id (self));
        break;
      case PROP_LABEL:
        g_value_set_string (value, postern_channel_item_get_label (self));
        break;
      case PROP_ADDRESS:
        g_value_set_string (value, postern_channel_item_get_address (self));
        break;
      case PROP_STATE:
        g_value_set_enum (value, postern_channel_item_get_state (self));
        break;
      case PROP_UNREAD_ALERTS:
        g_value_set_uint (value, self->unread_alerts);
        break;
      case PROP_LAST_ACTIVITY:
        g_value_set_int64 (value, self->last_activity);
        break;
      case PROP_PENDING:
        g_value_set_boolean (value, self->pending);
        break;
      default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
postern_channel_item_class_init (PosternChannelItemClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = postern_channel_item_finalize;
  object_class->get_property = postern_channel_item_get_property;

  properties[PROP_CHANNEL] = g_param_spec_object ("channel", NULL, NULL, POSTERN_TYPE_CHANNEL,
                                                  G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_ID] = g_param_spec_string ("id", NULL, NULL, NULL,
                                             G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  properties[PROP_LABEL] = g_param_spec_string ("label", NULL, NULL, NULL,
                                                G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_ADDRESS] = g_param_spec_string ("address", NULL, NULL, NULL,
                                                  G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_STATE] = g_param_spec_enum ("state", NULL, NULL, POSTERN_TYPE_CHANNEL_STATE, POSTERN_CHANNEL_STATE_ACTIVE,
                                              G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_UNREAD_ALERTS] = g_param_spec_uint ("unread-alerts", NULL, NULL, 0, G_MAXUINT, 0,
                                                      G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_LAST_ACTIVITY] = g_param_spec_int64 ("last-activity", NULL, NULL, 0, G_MAXINT64, 0,
                                                       G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_PENDING] = g_param_spec_boolean ("pending", NULL, NULL, FALSE,
                                                   G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
postern_channel_item_init (PosternChannelItem *self)
{
  self->seen_senders = g_ptr_array_new_with_free_func (g_free);
}

PosternChannelItem *
postern_channel_item_new (PosternChannel *channel)
{
  PosternChannelItem *self;

  g_return_val_if_fail (POSTERN_IS_CHANNEL (channel), NULL);

  self = g_object_new (POSTERN_TYPE_CHANNEL_ITEM, NULL);
  self->channel = g_object_ref (channel);
  self->last_activity = MAX (postern_channel_get_created_at (channel), 0);
  self->search_key = build_search_key (self);

  return self;
}

PosternChannel *
postern_channel_item_get_channel (PosternChannelItem *self)
{
  g_return_val_if_fail (POSTERN_IS_CHANNEL_ITEM (self), NULL);

  return self->channel;
}

void
postern_channel_item_set_channel (PosternChannelItem *self,
                                  PosternChannel *channel)
{
  g_autoptr (PosternChannel) old = NULL;
  gboolean label_changed;
  gboolean address_changed;
  gboolean state_changed;

  g_return_if_fail (POSTERN_IS_CHANNEL_ITEM (self));
  g_return_if_fail (POSTERN_IS_CHANNEL (channel));

  if (channel == self->channel)
    return;

  old = g_steal_pointer (&self->channel);
  self->channel = g_object_ref (channel);
  g_free (self->search_key);
  self->search_key = build_search_key (self);

  label_changed = g_strcmp0 (postern_channel_get_label (old), postern_channel_get_label (channel)) != 0;
  address_changed = g_strcmp0 (postern_channel_get_address (old), postern_channel_get_address (channel)) != 0;
  state_changed = postern_channel_get_state (old) != postern_channel_get_state (channel);

  g_object_freeze_notify (G_OBJECT (self));
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_CHANNEL]);
  if (label_changed)
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_LABEL]);
  if (address_changed)
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_ADDRESS]);
  if (state_changed)
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_STATE]);
  postern_channel_item_touch (self, postern_channel_get_created_at (channel));
  g_object_thaw_notify (G_OBJECT (self));
}

const char *
postern_channel_item_get_id (PosternChannelItem *self)
{
  g_return_val_if_fail (POSTERN_IS_CHANNEL_ITEM (self), NULL);

  return postern_channel_get_id (self->channel);
}

const char *
postern_channel_item_get_label (PosternChannelItem *self)
{
  g_return_val_if_fail (POSTERN_IS_CHANNEL_ITEM (self), NULL);

  return postern_channel_get_label (self->channel);
}

const char *
postern_channel_item_get_address (PosternChannelItem *self)
{
  g_return_val_if_fail (POSTERN_IS_CHANNEL_ITEM (self), NULL);

  return postern_channel_get_address (self->channel);
}

PosternChannelState
postern_channel_item_get_state (PosternChannelItem *self)
{
  g_return_val_if_fail (POSTERN_IS_CHANNEL_ITEM (self), POSTERN_CHANNEL_STATE_ACTIVE);

  return postern_channel_get_state (self->channel);
}

guint
postern_channel_item_get_unread_alerts (PosternChannelItem *self)
{
  g_return_val_if_fail (POSTERN_IS_CHANNEL_ITEM (self), 0);

  return self->unread_alerts;
}

void
postern_channel_item_set_unread_alerts (PosternChannelItem *self,
                                        guint unread_alerts)
{
  g_return_if_fail (POSTERN_IS_CHANNEL_ITEM (self));

  if (self->unread_alerts == unread_alerts)
    return;

  self->unread_alerts = unread_alerts;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_UNREAD_ALERTS]);
}

gint64
postern_channel_item_get_last_activity (PosternChannelItem *self)
{
  g_return_val_if_fail (POSTERN_IS_CHANNEL_ITEM (self), 0);

  return self->last_activity;
}

void
postern_channel_item_touch (PosternChannelItem *self,
                            gint64 unix_seconds)
{
  g_return_if_fail (POSTERN_IS_CHANNEL_ITEM (self));

  if (unix_seconds <= self->last_activity)
    return;

  self->last_activity = unix_seconds;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_LAST_ACTIVITY]);
}

gboolean
postern_channel_item_get_pending (PosternChannelItem *self)
{
  g_return_val_if_fail (POSTERN_IS_CHANNEL_ITEM (self), FALSE);

  return self->pending;
}

void
postern_channel_item_set_pending (PosternChannelItem *self,
                                  gboolean pending)
{
  g_return_if_fail (POSTERN_IS_CHANNEL_ITEM (self));

  pending = !!pending;
  if (self->pending == pending)
    return;

  self->pending = pending;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_PENDING]);
}

void
postern_channel_item_add_seen_sender (PosternChannelItem *self,
                                      const char *sender)
{
  g_return_if_fail (POSTERN_IS_CHANNEL_ITEM (self));

  if (sender == NULL || *sender == '\0' || !g_utf8_validate (sender, -1, NULL))
    return;

  for (guint i = 0; i < self->seen_senders->len; i++)
    if (g_str_equal (g_ptr_array_index (self->seen_senders, i), sender))
      return;

  if (self->seen_senders->len >= MAX_SEEN_SENDERS)
    g_ptr_array_remove_index (self->seen_senders, 0);
  g_ptr_array_add (self->seen_senders, g_strdup (sender));
  g_free (self->search_key);
  self->search_key = build_search_key (self);
}

static char *
build_search_key (PosternChannelItem *self)
{
  g_autoptr (GString) text = g_string_new (NULL);
  GPtrArray *expected = postern_channel_get_expected_senders (self->channel);
  const char *label = postern_channel_get_label (self->channel);
  const char *address = postern_channel_get_address (self->channel);

  /* A newline separates the fields so a needle never matches across two. */
  g_string_append (text, label != NULL ? label : "");
  g_string_append_c (text, '\n');
  g_string_append (text, address != NULL ? address : "");

  for (guint i = 0; expected != NULL && i < expected->len; i++)
    {
      g_autofree char *pattern = postern_sender_pattern_to_string (g_ptr_array_index (expected, i));

      g_string_append_c (text, '\n');
      g_string_append (text, pattern);
    }

  for (guint i = 0; i < self->seen_senders->len; i++)
    {
      g_string_append_c (text, '\n');
      g_string_append (text, g_ptr_array_index (self->seen_senders, i));
    }

  return g_utf8_casefold (text->str, text->len);
}

gboolean
postern_channel_item_matches (PosternChannelItem *self,
                              const char *folded_needle)
{
  g_return_val_if_fail (POSTERN_IS_CHANNEL_ITEM (self), FALSE);

  if (folded_needle == NULL || *folded_needle == '\0')
    return TRUE;

  return strstr (self->search_key, folded_needle) != NULL;
}
