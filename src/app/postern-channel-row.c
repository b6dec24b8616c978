/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <glib/gi18n.h>

#include "postern-channel-row.h"

struct _PosternChannelRow
{
  GtkBox parent_instance;

  GtkWidget *state_icon;
  GtkWidget *label_label;
  GtkWidget *address_label;
  GtkWidget *pending_icon;
  GtkWidget *alert_badge;
  GtkWidget *time_label;

  PosternChannelItem *item;
};

G_DEFINE_FINAL_TYPE (PosternChannelRow, postern_channel_row, GTK_TYPE_BOX)

char *
postern_format_time (gint64 unix_seconds)
{
  g_autoptr (GDateTime) when = NULL;
  g_autoptr (GDateTime) now = NULL;
  gint year, month, day;
  gint now_year, now_month, now_day;

  if (unix_seconds <= 0)
    return g_strdup ("");

  when = g_date_time_new_from_unix_local (unix_seconds);
  now = g_date_time_new_now_local ();
  if (when == NULL || now == NULL)
    return g_strdup ("");

  g_date_time_get_ymd (when, &year, &month, &day);
  g_date_time_get_ymd (now, &now_year, &now_month, &now_day);

  if (year == now_year && month == now_month && day == now_day)
    return g_date_time_format (when, "%H:%M");

  if (g_date_time_difference (now, when) < 2 * G_TIME_SPAN_DAY && g_date_time_get_day_of_year (now) - g_date_time_get_day_of_year (when) == 1)
    return g_strdup (_ ("Yesterday"));

  if (year == now_year)
    /* Translators: a date in this year, see g_date_time_format(). */
    return g_date_time_format (when, _ ("%e %b"));

  /* Translators: a date in another year, see g_date_time_format(). */
  return g_date_time_format (when, _ ("%e %b %Y"));
}

static void
update (PosternChannelRow *self)
{
  PosternChannelItem *item = self->item;
  const char *icon = "mail-unread-symbolic";
  const char *state_text = _ ("Active");
  g_autofree char *time_text = NULL;
  g_autofree char *badge = NULL;
  guint alerts;

  if (item == NULL)
    return;

  switch (postern_channel_item_get_state (item))
    {
      case POSTERN_CHANNEL_STATE_PAUSED:
        icon = "media-playback-pause-symbolic";
        state_text = _ ("Paused");
        break;
      case POSTERN_CHANNEL_STATE_REVOKED:
        icon = "action-unavailable-symbolic";
        state_text = _ ("Revoked");
        break;
      case POSTERN_CHANNEL_STATE_ACTIVE:
      default:
        break;
    }

  gtk_image_set_from_icon_name (GTK_IMAGE (self->state_icon), icon);
  gtk_widget_set_tooltip_text (self->state_icon, state_text);
  gtk_label_set_text (GTK_LABEL (self->label_label), postern_channel_item_get_label (item));
  gtk_label_set_text (GTK_LABEL (self->address_label), postern_channel_item_get_address (item));
  gtk_widget_set_visible (self->pending_icon, postern_channel_item_get_pending (item));

  alerts = postern_channel_item_get_unread_alerts (item);
  gtk_widget_set_visible (self->alert_badge, alerts > 0);
  if (alerts > 0)
    {
      g_autofree char *tooltip = NULL;

      badge = alerts > 99 ? g_strdup ("99+") : g_strdup_printf ("%u", alerts);
      tooltip = g_strdup_printf (g_dngettext (GETTEXT_PACKAGE, "%u unread alert", "%u unread alerts", alerts), alerts);
      gtk_label_set_text (GTK_LABEL (self->alert_badge), badge);
      gtk_widget_set_tooltip_text (self->alert_badge, tooltip);
    }

  if (postern_channel_item_get_state (item) == POSTERN_CHANNEL_STATE_REVOKED)
    gtk_widget_add_css_class (GTK_WIDGET (self), "revoked");
  else
    gtk_widget_remove_css_class (GTK_WIDGET (self), "revoked");
  if (alerts > 0)
    gtk_widget_add_css_class (GTK_WIDGET (self), "has-alerts");
  else
    gtk_widget_remove_css_class (GTK_WIDGET (self), "has-alerts");

  time_text = postern_format_time (postern_channel_item_get_last_activity (item));
  gtk_label_set_text (GTK_LABEL (self->time_label), time_text);
}

static void
item_notify_cb (PosternChannelRow *self)
{
  update (self);
}

static void
postern_channel_row_dispose (GObject *object)
{
  PosternChannelRow *self = POSTERN_CHANNEL_ROW (object);

  postern_channel_row_set_item (self, NULL);
  gtk_widget_dispose_template (GTK_WIDGET (self), POSTERN_TYPE_CHANNEL_ROW);

  G_OBJECT_CLASS (postern_channel_row_parent_class)->dispose (object);
}

static void
postern_channel_row_class_init (PosternChannelRowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = postern_channel_row_dispose;

  gtk_widget_class_set_template_from_resource (widget_class, "/io/github/postern/Postern/ui/postern-channel-row.ui");
  gtk_widget_class_bind_template_child (widget_class, PosternChannelRow, state_icon);
  gtk_widget_class_bind_template_child (widget_class, PosternChannelRow, label_label);
  gtk_widget_class_bind_template_child (widget_class, PosternChannelRow, address_label);
  gtk_widget_class_bind_template_child (widget_class, PosternChannelRow, pending_icon);
  gtk_widget_class_bind_template_child (widget_class, PosternChannelRow, alert_badge);
  gtk_widget_class_bind_template_child (widget_class, PosternChannelRow, time_label);
}

static void
postern_channel_row_init (PosternChannelRow *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
}

GtkWidget *
postern_channel_row_new (void)
{
  return g_object_new (POSTERN_TYPE_CHANNEL_ROW, NULL);
}

PosternChannelItem *
postern_channel_row_get_item (PosternChannelRow *self)
{
  g_return_val_if_fail (POSTERN_IS_CHANNEL_ROW (self), NULL);

  return self->item;
}

void
postern_channel_row_set_item (PosternChannelRow *self,
                              PosternChannelItem *item)
{
  g_return_if_fail (POSTERN_IS_CHANNEL_ROW (self));

  if (self->item == item)
    return;

  if (self->item != NULL)
    g_signal_handlers_disconnect_by_data (self->item, self);
  g_set_object (&self->item, item);
  if (item != NULL)
    {
      g_signal_connect_object (item, "notify", G_CALLBACK (item_notify_cb), self, G_CONNECT_SWAPPED);
      update (self);
    }
}
