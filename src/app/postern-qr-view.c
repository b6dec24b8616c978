/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <glib/gi18n.h>

#include "postern-qr-view.h"

/* 2 px per module is the decoding minimum on a screenshot; a phone held at
 * arm's length needs more. */
#define MIN_PIXELS_PER_MODULE     4
#define NATURAL_PIXELS_PER_MODULE 6

struct _PosternQrView
{
  GtkWidget parent_instance;

  PosternQrPaintable *paintable;
};

G_DEFINE_FINAL_TYPE (PosternQrView, postern_qr_view, GTK_TYPE_WIDGET)

enum
{
  PROP_0,
  PROP_PAYLOAD,
  PROP_PAINTABLE,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static void
contents_changed_cb (PosternQrView *self)
{
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

static void
size_changed_cb (PosternQrView *self)
{
  gtk_widget_queue_resize (GTK_WIDGET (self));
}

static GtkSizeRequestMode
postern_qr_view_get_request_mode (GtkWidget *widget)
{
  return GTK_SIZE_REQUEST_CONSTANT_SIZE;
}

static void
postern_qr_view_measure (GtkWidget *widget,
                         GtkOrientation orientation,
                         int for_size,
                         int *minimum,
                         int *natural,
                         int *minimum_baseline,
                         int *natural_baseline)
{
  PosternQrView *self = POSTERN_QR_VIEW (widget);
  guint modules = postern_qr_paintable_get_modules (self->paintable);

  *minimum = (int)modules * MIN_PIXELS_PER_MODULE;
  *natural = (int)modules * NATURAL_PIXELS_PER_MODULE;
}

static void
postern_qr_view_snapshot (GtkWidget *widget,
                          GtkSnapshot *snapshot)
{
  PosternQrView *self = POSTERN_QR_VIEW (widget);

  gdk_paintable_snapshot (GDK_PAINTABLE (self->paintable), snapshot,
                          gtk_widget_get_width (widget), gtk_widget_get_height (widget));
}

static void
postern_qr_view_dispose (GObject *object)
{
  PosternQrView *self = POSTERN_QR_VIEW (object);

  if (self->paintable != NULL)
    g_signal_handlers_disconnect_by_data (self->paintable, self);
  g_clear_object (&self->paintable);

  G_OBJECT_CLASS (postern_qr_view_parent_class)->dispose (object);
}

static void
postern_qr_view_get_property (GObject *object,
                              guint prop_id,
                              GValue *value,
                              GParamSpec *pspec)
{
  PosternQrView *self = POSTERN_QR_VIEW (object);

  switch (prop_id)
    {
      case PROP_PAYLOAD:
        g_value_set_string (value, postern_qr_view_get_payload (self));
        break;
      case PROP_PAINTABLE:
        g_value_set_object (value, self->paintable);
        break;
      default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
postern_qr_view_set_property (GObject *object,
                              guint prop_id,
                              const GValue *value,
                              GParamSpec *pspec)
{
  PosternQrView *self = POSTERN_QR_VIEW (object);

  switch (prop_id)
    {
      case PROP_PAYLOAD:
        postern_qr_view_set_payload (self, g_value_get_string (value));
        break;
      default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
postern_qr_view_class_init (PosternQrViewClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = postern_qr_view_dispose;
  object_class->get_property = postern_qr_view_get_property;
  object_class->set_property = postern_qr_view_set_property;

  widget_class->get_request_mode = postern_qr_view_get_request_mode;
  widget_class->measure = postern_qr_view_measure;
  widget_class->snapshot = postern_qr_view_snapshot;

  properties[PROP_PAYLOAD] = g_param_spec_string ("payload", NULL, NULL, NULL,
                                                  G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_PAINTABLE] = g_param_spec_object ("paintable", NULL, NULL, POSTERN_TYPE_QR_PAINTABLE,
                                                    G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);

  g_object_class_install_properties (object_class, N_PROPS, properties);

  gtk_widget_class_set_css_name (widget_class, "qrcode");
  gtk_widget_class_set_accessible_role (widget_class, GTK_ACCESSIBLE_ROLE_IMG);
}

static void
postern_qr_view_init (PosternQrView *self)
{
  self->paintable = postern_qr_paintable_new ();
  g_signal_connect_swapped (self->paintable, "invalidate-contents", G_CALLBACK (contents_changed_cb), self);
  g_signal_connect_swapped (self->paintable, "invalidate-size", G_CALLBACK (size_changed_cb), self);
  gtk_widget_set_halign (GTK_WIDGET (self), GTK_ALIGN_CENTER);
  gtk_widget_set_valign (GTK_WIDGET (self), GTK_ALIGN_CENTER);
}

GtkWidget *
postern_qr_view_new (void)
{
  return g_object_new (POSTERN_TYPE_QR_VIEW, NULL);
}

const char *
postern_qr_view_get_payload (PosternQrView *self)
{
  g_return_val_if_fail (POSTERN_IS_QR_VIEW (self), NULL);

  return postern_qr_paintable_get_payload (self->paintable);
}

void
postern_qr_view_set_payload (PosternQrView *self,
                             const char *payload)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *description = NULL;

  g_return_if_fail (POSTERN_IS_QR_VIEW (self));

  if (g_strcmp0 (payload, postern_qr_view_get_payload (self)) == 0)
    return;

  if (!postern_qr_paintable_set_payload (self->paintable, payload, &error))
    g_warning ("Cannot show a QR code: %s", error->message);

  /* Screen readers say what the code holds. */
  description = g_strdup_printf (_ ("QR code: %s"), payload != NULL ? payload : "");
  gtk_accessible_update_property (GTK_ACCESSIBLE (self), GTK_ACCESSIBLE_PROPERTY_LABEL, description, -1);

  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_PAYLOAD]);
}

PosternQrPaintable *
postern_qr_view_get_paintable (PosternQrView *self)
{
  g_return_val_if_fail (POSTERN_IS_QR_VIEW (self), NULL);

  return self->paintable;
}
