/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <glib/gi18n.h>

#include "postern-fullscreen-qr.h"
#include "postern-qr-view.h"

struct _PosternFullscreenQr
{
  AdwWindow parent_instance;

  GtkWidget *qr_view;
  GtkWidget *address_label;
};

G_DEFINE_FINAL_TYPE (PosternFullscreenQr, postern_fullscreen_qr, ADW_TYPE_WINDOW)

static void
pressed_cb (PosternFullscreenQr *self)
{
  gtk_window_close (GTK_WINDOW (self));
}

static void
postern_fullscreen_qr_class_init (PosternFullscreenQrClass *klass)
{
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_Escape, 0, "window.close", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_F11, 0, "window.close", NULL);
}

static void
postern_fullscreen_qr_init (PosternFullscreenQr *self)
{
  GtkWidget *box = gtk_box_new (GTK_ORIENTATION_VERTICAL, 24);
  GtkWidget *hint = gtk_label_new (_ ("Scan with a phone camera · Esc to close"));
  GtkGesture *click = gtk_gesture_click_new ();

  gtk_window_set_title (GTK_WINDOW (self), _ ("QR Code"));
  gtk_window_set_default_size (GTK_WINDOW (self), 800, 700);
  gtk_widget_add_css_class (GTK_WIDGET (self), "fullscreen-qr");

  self->qr_view = postern_qr_view_new ();
  gtk_widget_set_hexpand (self->qr_view, TRUE);
  gtk_widget_set_vexpand (self->qr_view, TRUE);
  gtk_widget_set_halign (self->qr_view, GTK_ALIGN_FILL);
  gtk_widget_set_valign (self->qr_view, GTK_ALIGN_FILL);

  self->address_label = gtk_label_new (NULL);
  gtk_label_set_wrap (GTK_LABEL (self->address_label), TRUE);
  gtk_label_set_wrap_mode (GTK_LABEL (self->address_label), PANGO_WRAP_CHAR);
  gtk_label_set_justify (GTK_LABEL (self->address_label), GTK_JUSTIFY_CENTER);
  gtk_widget_add_css_class (self->address_label, "fullscreen-address");
  gtk_widget_add_css_class (hint, "fullscreen-hint");

  gtk_widget_set_margin_top (box, 32);
  gtk_widget_set_margin_bottom (box, 32);
  gtk_widget_set_margin_start (box, 32);
  gtk_widget_set_margin_end (box, 32);
  gtk_box_append (GTK_BOX (box), self->qr_view);
  gtk_box_append (GTK_BOX (box), self->address_label);
  gtk_box_append (GTK_BOX (box), hint);
  adw_window_set_content (ADW_WINDOW (self), box);

  g_signal_connect_swapped (click, "pressed", G_CALLBACK (pressed_cb), self);
  gtk_widget_add_controller (self->qr_view, GTK_EVENT_CONTROLLER (click));
}

GtkWidget *
postern_fullscreen_qr_new (GtkWindow *parent,
                           const char *payload,
                           const char *address)
{
  PosternFullscreenQr *self;

  self = g_object_new (POSTERN_TYPE_FULLSCREEN_QR,
                       "transient-for", parent,
                       "modal", TRUE,
                       "application", parent != NULL ? gtk_window_get_application (parent) : NULL,
                       NULL);
  postern_qr_view_set_payload (POSTERN_QR_VIEW (self->qr_view), payload);
  gtk_label_set_text (GTK_LABEL (self->address_label), address != NULL ? address : "");
  gtk_window_fullscreen (GTK_WINDOW (self));

  return GTK_WIDGET (self);
}

const char *
postern_fullscreen_qr_get_payload (PosternFullscreenQr *self)
{
  g_return_val_if_fail (POSTERN_IS_FULLSCREEN_QR (self), NULL);

  return postern_qr_view_get_payload (POSTERN_QR_VIEW (self->qr_view));
}
