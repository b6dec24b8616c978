/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "postern-core.h"
#include "postern-qr-paintable.h"

#define NATURAL_PIXELS_PER_MODULE 6

struct _PosternQrPaintable
{
  GObject parent_instance;

  char *payload;
  PosternQrMatrix *matrix;
};

static void paintable_iface_init (GdkPaintableInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (PosternQrPaintable, postern_qr_paintable, G_TYPE_OBJECT, G_IMPLEMENT_INTERFACE (GDK_TYPE_PAINTABLE, paintable_iface_init))

enum
{
  PROP_0,
  PROP_PAYLOAD,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static void
postern_qr_paintable_snapshot (GdkPaintable *paintable,
                               GdkSnapshot *snapshot,
                               double width,
                               double height)
{
  PosternQrPaintable *self = POSTERN_QR_PAINTABLE (paintable);
  static const GdkRGBA white = { 1, 1, 1, 1 };
  static const GdkRGBA black = { 0, 0, 0, 1 };
  double side = MIN (width, height);
  double module;
  double x0, y0;
  guint size;

  if (self->matrix == NULL || self->matrix->size == 0)
    return;

  size = self->matrix->size;
  /* Whole pixels per module when there is room: fractional modules blur
   * into grey seams that scanners read as noise. */
  module = side / size;
  if (module >= 1)
    module = (double)(guint)module;
  x0 = (width - module * size) / 2;
  y0 = (height - module * size) / 2;
  x0 = (double)(gint64)x0;
  y0 = (double)(gint64)y0;

  gtk_snapshot_append_color (snapshot, &white, &GRAPHENE_RECT_INIT (x0, y0, module * size, module * size));

  for (guint y = 0; y < size; y++)
    {
      guint x = 0;

      /* One rectangle per run of dark modules keeps the node count low. */
      while (x < size)
        {
          guint start;

          if (!postern_qr_matrix_is_dark (self->matrix, x, y))
            {
              x++;
              continue;
            }

          start = x;
          while (x < size && postern_qr_matrix_is_dark (self->matrix, x, y))
            x++;

          gtk_snapshot_append_color (snapshot, &black,
                                     &GRAPHENE_RECT_INIT (x0 + start * module, y0 + y * module,
                                                          (x - start) * module, module));
        }
    }
}

static int
postern_qr_paintable_get_intrinsic_width (GdkPaintable *paintable)
{
  PosternQrPaintable *self = POSTERN_QR_PAINTABLE (paintable);

  return (int)postern_qr_paintable_get_modules (self) * NATURAL_PIXELS_PER_MODULE;
}

static double
postern_qr_paintable_get_intrinsic_aspect_ratio (GdkPaintable *paintable)
{
  return 1.0;
}

static void
paintable_iface_init (GdkPaintableInterface *iface)
{
  iface->snapshot = postern_qr_paintable_snapshot;
  iface->get_intrinsic_width = postern_qr_paintable_get_intrinsic_width;
  iface->get_intrinsic_height = postern_qr_paintable_get_intrinsic_width;
  iface->get_intrinsic_aspect_ratio = postern_qr_paintable_get_intrinsic_aspect_ratio;
}

static void
postern_qr_paintable_finalize (GObject *object)
{
  PosternQrPaintable *self = POSTERN_QR_PAINTABLE (object);

  g_clear_pointer (&self->payload, g_free);
  g_clear_pointer (&self->matrix, postern_qr_matrix_free);

  G_OBJECT_CLASS (postern_qr_paintable_parent_class)->finalize (object);
}

static void
postern_qr_paintable_get_property (GObject *object,
                                   guint prop_id,
                                   GValue *value,
                                   GParamSpec *pspec)
{
  PosternQrPaintable *self = POSTERN_QR_PAINTABLE (object);

  switch (prop_id)
    {
      case PROP_PAYLOAD:
        g_value_set_string (value, self->payload);
        break;
      default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
postern_qr_paintable_set_property (GObject *object,
                                   guint prop_id,
                                   const GValue *value,
                                   GParamSpec *pspec)
{
  PosternQrPaintable *self = POSTERN_QR_PAINTABLE (object);

  switch (prop_id)
    {
      case PROP_PAYLOAD:
        {
          g_autoptr (GError) error = NULL;

          if (!postern_qr_paintable_set_payload (self, g_value_get_string (value), &error))
            g_warning ("Cannot show a QR code: %s", error->message);
        }
        break;
      default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
postern_qr_paintable_class_init (PosternQrPaintableClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = postern_qr_paintable_finalize;
  object_class->get_property = postern_qr_paintable_get_property;
  object_class->set_property = postern_qr_paintable_set_property;

  properties[PROP_PAYLOAD] = g_param_spec_string ("payload", NULL, NULL, NULL,
                                                  G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
postern_qr_paintable_init (PosternQrPaintable *self)
{
}

PosternQrPaintable *
postern_qr_paintable_new (void)
{
  return g_object_new (POSTERN_TYPE_QR_PAINTABLE, NULL);
}

const char *
postern_qr_paintable_get_payload (PosternQrPaintable *self)
{
  g_return_val_if_fail (POSTERN_IS_QR_PAINTABLE (self), NULL);

  return self->payload;
}

gboolean
postern_qr_paintable_set_payload (PosternQrPaintable *self,
                                  const char *payload,
                                  GError **error)
{
  g_autoptr (PosternQrMatrix) matrix = NULL;
  gboolean ok = TRUE;
  guint old_size;

  g_return_val_if_fail (POSTERN_IS_QR_PAINTABLE (self), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (payload != NULL && *payload == '\0')
    payload = NULL;
  if (g_strcmp0 (self->payload, payload) == 0)
    return TRUE;

  if (payload != NULL)
    {
      matrix = postern_qr_matrix_new (payload, error);
      if (matrix == NULL)
        {
          ok = FALSE;
          payload = NULL;
        }
    }

  old_size = postern_qr_paintable_get_modules (self);
  g_free (self->payload);
  self->payload = g_strdup (payload);
  g_clear_pointer (&self->matrix, postern_qr_matrix_free);
  self->matrix = g_steal_pointer (&matrix);

  if (old_size != postern_qr_paintable_get_modules (self))
    gdk_paintable_invalidate_size (GDK_PAINTABLE (self));
  gdk_paintable_invalidate_contents (GDK_PAINTABLE (self));
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_PAYLOAD]);

  return ok;
}

guint
postern_qr_paintable_get_modules (PosternQrPaintable *self)
{
  g_return_val_if_fail (POSTERN_IS_QR_PAINTABLE (self), 0);

  return self->matrix != NULL ? self->matrix->size : 0;
}

GdkTexture *
postern_qr_paintable_to_texture (PosternQrPaintable *self,
                                 guint pixels_per_module)
{
  g_autoptr (GBytes) bytes = NULL;
  guint8 *pixels;
  gsize side;
  gsize stride;

  g_return_val_if_fail (POSTERN_IS_QR_PAINTABLE (self), NULL);
  g_return_val_if_fail (pixels_per_module >= 1 && pixels_per_module <= 64, NULL);

  if (self->matrix == NULL)
    return NULL;

  side = (gsize)self->matrix->size * pixels_per_module;
  stride = side * 3;
  pixels = g_malloc (stride * side);

  for (gsize y = 0; y < side; y++)
    for (gsize x = 0; x < side; x++)
      {
        gboolean dark = postern_qr_matrix_is_dark (self->matrix, x / pixels_per_module, y / pixels_per_module);
        guint8 *p = pixels + y * stride + x * 3;

        p[0] = p[1] = p[2] = dark ? 0x00 : 0xff;
      }

  bytes = g_bytes_new_take (pixels, stride * side);

  return gdk_memory_texture_new (side, side, GDK_MEMORY_R8G8B8, bytes, stride);
}
