/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <glib/gi18n.h>

#include "postern-application.h"
#include "postern-fullscreen-qr.h"
#include "postern-new-channel-dialog.h"
#include "postern-qr-view.h"

struct _PosternNewChannelDialog
{
  AdwWindow parent_instance;

  GtkWidget *toast_overlay;
  GtkWidget *cancel_button;
  GtkWidget *create_button;
  GtkWidget *done_button;
  GtkWidget *stack;
  GtkWidget *label_row;
  GtkWidget *kind_row;
  GtkWidget *sender_row;
  GtkWidget *expiry_row;
  GtkWidget *kind_hint;
  GtkWidget *error_label;
  GtkWidget *spinner;
  GtkWidget *done_label;
  GtkWidget *address_label;
  GtkWidget *qr_view;

  GCancellable *cancellable;
  PosternApplication *application;
  PosternChannelItem *item;
  PosternNewChannelFlags flags;
  gboolean busy;
  gboolean waiting_for_agent;
};

G_DEFINE_FINAL_TYPE (PosternNewChannelDialog, postern_new_channel_dialog, ADW_TYPE_WINDOW)

enum
{
  CREATED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

/* Expiry presets, in the order of the combo row. */
static const gint64 expiry_seconds[] = {
  0,
  24 * 3600,
  7 * 24 * 3600,
  30 * 24 * 3600,
  365 * 24 * 3600,
};

static PosternChannelKind
selected_kind (PosternNewChannelDialog *self)
{
  guint selected = adw_combo_row_get_selected (ADW_COMBO_ROW (self->kind_row));

  return selected <= POSTERN_CHANNEL_KIND_OPEN ? (PosternChannelKind)selected : POSTERN_CHANNEL_KIND_ONE_TIME;
}

/* One function decides what may be done. */
static void
update_actions (PosternNewChannelDialog *self)
{
  const char *label = gtk_editable_get_text (GTK_EDITABLE (self->label_row));
  g_autofree char *stripped = g_strstrip (g_strdup (label));

  gtk_widget_action_set_enabled (GTK_WIDGET (self), "new-channel.create",
                                 self->item == NULL && !self->busy && *stripped != '\0');
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "new-channel.copy", self->item != NULL);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "new-channel.fullscreen", self->item != NULL);
}

static void
show_error (PosternNewChannelDialog *self,
            const char *message)
{
  gtk_label_set_text (GTK_LABEL (self->error_label), message != NULL ? message : "");
  gtk_widget_set_visible (self->error_label, message != NULL);
}

static void
form_changed_cb (PosternNewChannelDialog *self)
{
  static const char *hints[] = {
    N_ ("The first sender becomes the only expected one; anyone else raises an alert."),
    N_ ("Only the expected senders you list; anyone else raises an alert."),
    N_ ("Anyone may write; every message is still counted."),
  };

  gtk_label_set_text (GTK_LABEL (self->kind_hint), _ (hints[selected_kind (self)]));
  gtk_widget_remove_css_class (self->label_row, "error");
  gtk_widget_remove_css_class (self->sender_row, "error");
  show_error (self, NULL);
  update_actions (self);
}

static void
copy_address (PosternNewChannelDialog *self)
{
  PosternChannelStore *store = postern_application_get_store (self->application);
  PosternDBusAgent1 *agent = postern_channel_store_get_agent (store);

  if (self->item == NULL)
    return;

  gdk_clipboard_set_text (gtk_widget_get_clipboard (GTK_WIDGET (self)), postern_channel_item_get_address (self->item));
  adw_toast_overlay_add_toast (ADW_TOAST_OVERLAY (self->toast_overlay), adw_toast_new (_ ("Address copied to the clipboard")));
  if (agent != NULL)
    postern_dbus_agent1_call_record_share (agent, postern_channel_item_get_id (self->item), "clipboard",
                                           postern_channel_item_get_label (self->item), NULL, NULL, NULL);
}

static void
show_fullscreen (PosternNewChannelDialog *self)
{
  PosternChannelStore *store = postern_application_get_store (self->application);
  PosternDBusAgent1 *agent = postern_channel_store_get_agent (store);
  GtkWidget *qr;

  if (self->item == NULL)
    return;

  qr = postern_fullscreen_qr_new (GTK_WINDOW (self), postern_qr_view_get_payload (POSTERN_QR_VIEW (self->qr_view)),
                                  postern_channel_item_get_address (self->item));
  gtk_window_present (GTK_WINDOW (qr));
  if (agent != NULL)
    postern_dbus_agent1_call_record_share (agent, postern_channel_item_get_id (self->item), "qr",
                                           postern_channel_item_get_label (self->item), NULL, NULL, NULL);
}

static void
create_cb (GObject *object,
           GAsyncResult *result,
           gpointer user_data)
{
  g_autoptr (PosternNewChannelDialog) self = user_data;
  g_autofree char *json = NULL;
  g_autofree char *payload = NULL;
  g_autofree char *done = NULL;
  g_autoptr (GError) error = NULL;
  PosternChannelStore *store;
  PosternChannelItem *item;

  self->busy = FALSE;
  gtk_spinner_set_spinning (GTK_SPINNER (self->spinner), FALSE);
  gtk_widget_set_visible (self->spinner, FALSE);

  if (!postern_dbus_agent1_call_create_channel_finish (POSTERN_DBUS_AGENT1 (object), &json, result, &error))
    {
      g_autofree char *message = NULL;

      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        return;
      message = postern_channel_store_error_message (error);
      show_error (self, message);
      update_actions (self);
      return;
    }

  store = postern_application_get_store (self->application);
  item = postern_channel_store_load_channel (store, json, &error);
  if (item == NULL)
    {
      show_error (self, error->message);
      update_actions (self);
      return;
    }

  self->item = g_object_ref (item);

  payload = postern_application_build_qr_payload (self->application, postern_channel_item_get_address (item));
  postern_qr_view_set_payload (POSTERN_QR_VIEW (self->qr_view), payload);
  gtk_label_set_text (GTK_LABEL (self->address_label), postern_channel_item_get_address (item));
  /* Translators: the label of the new channel. */
  done = g_strdup_printf (_ ("New address for “%s”"), postern_channel_item_get_label (item));
  gtk_label_set_text (GTK_LABEL (self->done_label), done);
  gtk_stack_set_visible_child_name (GTK_STACK (self->stack), "done");
  gtk_widget_set_visible (self->create_button, FALSE);
  gtk_widget_set_visible (self->cancel_button, FALSE);
  gtk_widget_set_visible (self->done_button, TRUE);
  gtk_window_set_default_widget (GTK_WINDOW (self), self->done_button);
  gtk_window_set_title (GTK_WINDOW (self), _ ("Channel Created"));
  update_actions (self);

  g_signal_emit (self, signals[CREATED], 0, item);

  copy_address (self);
  if (self->flags & POSTERN_NEW_CHANNEL_FULLSCREEN)
    show_fullscreen (self);
}

static void
agent_ready_cb (PosternNewChannelDialog *self)
{
  PosternChannelStore *store = postern_application_get_store (self->application);

  if (!self->waiting_for_agent)
    return;

  self->waiting_for_agent = FALSE;
  g_signal_handlers_disconnect_by_func (store, agent_ready_cb, self);
  gtk_widget_set_visible (self->spinner, FALSE);
  gtk_widget_activate_action (GTK_WIDGET (self), "new-channel.create", NULL);
}

static void
create_action_cb (GtkWidget *widget,
                  const char *action_name,
                  GVariant *parameter)
{
  PosternNewChannelDialog *self = POSTERN_NEW_CHANNEL_DIALOG (widget);
  PosternChannelStore *store = postern_application_get_store (self->application);
  PosternDBusAgent1 *agent = postern_channel_store_get_agent (store);
  GSettings *settings = postern_application_get_settings (self->application);
  g_auto (GVariantBuilder) options = G_VARIANT_BUILDER_INIT (G_VARIANT_TYPE_VARDICT);
  g_autoptr (PosternChannel) scratch = postern_channel_new ();
  g_autoptr (GError) error = NULL;
  g_autofree char *label = g_strstrip (g_strdup (gtk_editable_get_text (GTK_EDITABLE (self->label_row))));
  g_autofree char *sender = g_strstrip (g_strdup (gtk_editable_get_text (GTK_EDITABLE (self->sender_row))));
  g_autofree char *style = g_settings_get_string (settings, "address-style");
  guint expiry = adw_combo_row_get_selected (ADW_COMBO_ROW (self->expiry_row));

  if (self->busy || self->item != NULL)
    return;

  /* Validate here so errors show next to the field that caused them. */
  if (!postern_channel_set_label (scratch, label, &error))
    {
      gtk_widget_add_css_class (self->label_row, "error");
      gtk_widget_grab_focus (self->label_row);
      show_error (self, error->message);
      return;
    }

  if (*sender != '\0')
    {
      g_autoptr (PosternSenderPattern) pattern = postern_sender_pattern_parse (sender, &error);

      if (pattern == NULL)
        {
          gtk_widget_add_css_class (self->sender_row, "error");
          gtk_widget_grab_focus (self->sender_row);
          show_error (self, error->message);
          return;
        }
      g_free (sender);
      sender = postern_sender_pattern_to_string (pattern);
    }

  if (agent == NULL)
    {
      /* Just started (from the tray): the proxy is on its way. */
      if (!self->waiting_for_agent && !postern_channel_store_get_loaded (store))
        {
          self->waiting_for_agent = TRUE;
          g_signal_connect_object (store, "notify::agent", G_CALLBACK (agent_ready_cb), self, G_CONNECT_SWAPPED);
          g_signal_connect_object (store, "notify::loaded", G_CALLBACK (agent_ready_cb), self, G_CONNECT_SWAPPED);
          gtk_widget_set_visible (self->spinner, TRUE);
          gtk_spinner_set_spinning (GTK_SPINNER (self->spinner), TRUE);
          return;
        }
      show_error (self, _ ("The Postern agent is not running"));
      return;
    }

  g_variant_builder_add (&options, "{sv}", "label", g_variant_new_string (label));
  g_variant_builder_add (&options, "{sv}", "kind", g_variant_new_string (postern_channel_kind_to_string (selected_kind (self))));
  if (*sender != '\0')
    g_variant_builder_add (&options, "{sv}", "expected_sender", g_variant_new_string (sender));
  if (expiry > 0 && expiry < G_N_ELEMENTS (expiry_seconds))
    g_variant_builder_add (&options, "{sv}", "expires_at",
                           g_variant_new_int64 (g_get_real_time () / G_USEC_PER_SEC + expiry_seconds[expiry]));
  g_variant_builder_add (&options, "{sv}", "style", g_variant_new_string (style));

  self->busy = TRUE;
  show_error (self, NULL);
  gtk_widget_set_visible (self->spinner, TRUE);
  gtk_spinner_set_spinning (GTK_SPINNER (self->spinner), TRUE);
  update_actions (self);

  postern_dbus_agent1_call_create_channel (agent, g_variant_builder_end (&options), self->cancellable,
                                           create_cb, g_object_ref (self));
}

static void
copy_action_cb (GtkWidget *widget,
                const char *action_name,
                GVariant *parameter)
{
  copy_address (POSTERN_NEW_CHANNEL_DIALOG (widget));
}

static void
fullscreen_action_cb (GtkWidget *widget,
                      const char *action_name,
                      GVariant *parameter)
{
  show_fullscreen (POSTERN_NEW_CHANNEL_DIALOG (widget));
}

static void
postern_new_channel_dialog_dispose (GObject *object)
{
  PosternNewChannelDialog *self = POSTERN_NEW_CHANNEL_DIALOG (object);

  g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->item);
  gtk_widget_dispose_template (GTK_WIDGET (self), POSTERN_TYPE_NEW_CHANNEL_DIALOG);

  G_OBJECT_CLASS (postern_new_channel_dialog_parent_class)->dispose (object);
}

static void
postern_new_channel_dialog_finalize (GObject *object)
{
  PosternNewChannelDialog *self = POSTERN_NEW_CHANNEL_DIALOG (object);

  g_clear_object (&self->cancellable);
  g_clear_object (&self->application);

  G_OBJECT_CLASS (postern_new_channel_dialog_parent_class)->finalize (object);
}

static void
postern_new_channel_dialog_class_init (PosternNewChannelDialogClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = postern_new_channel_dialog_dispose;
  object_class->finalize = postern_new_channel_dialog_finalize;

  signals[CREATED] = g_signal_new ("created", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                                   NULL, NULL, NULL, G_TYPE_NONE, 1, POSTERN_TYPE_CHANNEL_ITEM);

  g_type_ensure (POSTERN_TYPE_QR_VIEW);

  gtk_widget_class_set_template_from_resource (widget_class, "/io/github/postern/Postern/ui/postern-new-channel-dialog.ui");
  gtk_widget_class_bind_template_child (widget_class, PosternNewChannelDialog, toast_overlay);
  gtk_widget_class_bind_template_child (widget_class, PosternNewChannelDialog, cancel_button);
  gtk_widget_class_bind_template_child (widget_class, PosternNewChannelDialog, create_button);
  gtk_widget_class_bind_template_child (widget_class, PosternNewChannelDialog, done_button);
  gtk_widget_class_bind_template_child (widget_class, PosternNewChannelDialog, stack);
  gtk_widget_class_bind_template_child (widget_class, PosternNewChannelDialog, label_row);
  gtk_widget_class_bind_template_child (widget_class, PosternNewChannelDialog, kind_row);
  gtk_widget_class_bind_template_child (widget_class, PosternNewChannelDialog, sender_row);
  gtk_widget_class_bind_template_child (widget_class, PosternNewChannelDialog, expiry_row);
  gtk_widget_class_bind_template_child (widget_class, PosternNewChannelDialog, kind_hint);
  gtk_widget_class_bind_template_child (widget_class, PosternNewChannelDialog, error_label);
  gtk_widget_class_bind_template_child (widget_class, PosternNewChannelDialog, spinner);
  gtk_widget_class_bind_template_child (widget_class, PosternNewChannelDialog, done_label);
  gtk_widget_class_bind_template_child (widget_class, PosternNewChannelDialog, address_label);
  gtk_widget_class_bind_template_child (widget_class, PosternNewChannelDialog, qr_view);
  gtk_widget_class_bind_template_callback (widget_class, form_changed_cb);

  gtk_widget_class_install_action (widget_class, "new-channel.create", NULL, create_action_cb);
  gtk_widget_class_install_action (widget_class, "new-channel.copy", NULL, copy_action_cb);
  gtk_widget_class_install_action (widget_class, "new-channel.fullscreen", NULL, fullscreen_action_cb);

  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_Escape, 0, "window.close", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_F11, 0, "new-channel.fullscreen", NULL);
}

static void
postern_new_channel_dialog_init (PosternNewChannelDialog *self)
{
  self->cancellable = g_cancellable_new ();
  gtk_widget_init_template (GTK_WIDGET (self));
}

GtkWidget *
postern_new_channel_dialog_new (PosternApplication *application,
                                GtkWindow *parent,
                                const char *label,
                                PosternNewChannelFlags flags)
{
  PosternNewChannelDialog *self;
  g_autofree char *kind = NULL;
  PosternChannelKind default_kind = POSTERN_CHANNEL_KIND_ONE_TIME;

  g_return_val_if_fail (POSTERN_IS_APPLICATION (application), NULL);

  self = g_object_new (POSTERN_TYPE_NEW_CHANNEL_DIALOG,
                       "application", application,
                       "transient-for", parent,
                       NULL);
  self->application = g_object_ref (application);
  self->flags = flags;

  kind = g_settings_get_string (postern_application_get_settings (application), "default-kind");
  if (!(flags & POSTERN_NEW_CHANNEL_FULLSCREEN))
    postern_channel_kind_from_string (kind, &default_kind, NULL);
  adw_combo_row_set_selected (ADW_COMBO_ROW (self->kind_row), default_kind);

  if (label == NULL || *label == '\0')
    label = (flags & POSTERN_NEW_CHANNEL_CREATE_NOW) ? _ ("Quick address") : "";
  gtk_editable_set_text (GTK_EDITABLE (self->label_row), label);
  form_changed_cb (self);

  if (flags & POSTERN_NEW_CHANNEL_CREATE_NOW)
    gtk_widget_activate_action (GTK_WIDGET (self), "new-channel.create", NULL);

  return GTK_WIDGET (self);
}

PosternChannelItem *
postern_new_channel_dialog_get_item (PosternNewChannelDialog *self)
{
  g_return_val_if_fail (POSTERN_IS_NEW_CHANNEL_DIALOG (self), NULL);

  return self->item;
}

void
postern_new_channel_dialog_dump_state (PosternNewChannelDialog *self,
                                       JsonBuilder *builder)
{
  const char *payload;
  guint lines;
  guint hyphens = 0;

  g_return_if_fail (POSTERN_IS_NEW_CHANNEL_DIALOG (self));

  payload = postern_qr_view_get_payload (POSTERN_QR_VIEW (self->qr_view));
  json_builder_set_member_name (builder, "page");
  json_builder_add_string_value (builder, gtk_stack_get_visible_child_name (GTK_STACK (self->stack)));
  json_builder_set_member_name (builder, "address");
  json_builder_add_string_value (builder, self->item != NULL ? postern_channel_item_get_address (self->item) : "");
  lines = postern_label_count_lines (GTK_LABEL (self->address_label), &hyphens);
  json_builder_set_member_name (builder, "address_lines");
  json_builder_add_int_value (builder, lines);
  json_builder_set_member_name (builder, "address_hyphens");
  json_builder_add_int_value (builder, hyphens);
  json_builder_set_member_name (builder, "id");
  json_builder_add_string_value (builder, self->item != NULL ? postern_channel_item_get_id (self->item) : "");
  json_builder_set_member_name (builder, "qr");
  json_builder_add_string_value (builder, payload != NULL ? payload : "");
  json_builder_set_member_name (builder, "error");
  json_builder_add_string_value (builder, gtk_widget_get_visible (self->error_label) ? gtk_label_get_text (GTK_LABEL (self->error_label)) : "");
}
