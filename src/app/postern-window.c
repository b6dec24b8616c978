/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <glib/gi18n.h>

#include "postern-channel-detail.h"
#include "postern-channel-row.h"
#include "postern-fullscreen-qr.h"
#include "postern-pairing-dialog.h"
#include "postern-window.h"

struct _PosternWindow
{
  AdwApplicationWindow parent_instance;

  GtkWidget *toast_overlay;
  GtkWidget *leaflet;
  GtkWidget *search_bar;
  GtkWidget *search_button;
  GtkWidget *search_entry;
  GtkWidget *filter_dropdown;
  GtkWidget *offline_revealer;
  GtkWidget *offline_label;
  GtkWidget *list_stack;
  GtkWidget *list_view;
  GtkWidget *no_agent_page;
  GtkWidget *content_title;
  GtkWidget *channel_menu_button;
  GtkWidget *content_stack;
  GtkWidget *detail;

  GCancellable *cancellable;
  PosternChannelStore *store;
  GSettings *settings;
  GtkSingleSelection *selection;
  PosternChannelItem *current;
};

G_DEFINE_FINAL_TYPE (PosternWindow, postern_window, ADW_TYPE_APPLICATION_WINDOW)

static PosternApplication *
get_app (PosternWindow *self)
{
  return POSTERN_APPLICATION (gtk_window_get_application (GTK_WINDOW (self)));
}

void
postern_window_add_toast (PosternWindow *self,
                          const char *title)
{
  g_return_if_fail (POSTERN_IS_WINDOW (self));

  adw_toast_overlay_add_toast (ADW_TOAST_OVERLAY (self->toast_overlay), adw_toast_new (title));
}

static void
toast_error (PosternWindow *self,
             const char *what,
             const GError *error)
{
  g_autofree char *message = postern_channel_store_error_message (error);
  g_autofree char *title = g_strdup_printf ("%s: %s", what, message);

  postern_window_add_toast (self, title);
}

/* One function decides what the channel actions may do. */
static void
update_actions (PosternWindow *self)
{
  gboolean has = self->current != NULL && postern_channel_store_get_agent (self->store) != NULL;
  PosternChannelState state = has ? postern_channel_item_get_state (self->current) : POSTERN_CHANNEL_STATE_REVOKED;

  gtk_widget_action_set_enabled (GTK_WIDGET (self), "channel.copy-address", self->current != NULL);
  /* A revoked address is not handed out again, not even as a QR code. */
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "channel.show-qr",
                                 self->current != NULL && postern_channel_item_get_state (self->current) != POSTERN_CHANNEL_STATE_REVOKED);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "channel.pause", has && state == POSTERN_CHANNEL_STATE_ACTIVE);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "channel.resume", has && state == POSTERN_CHANNEL_STATE_PAUSED);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "channel.revoke", has && state != POSTERN_CHANNEL_STATE_REVOKED);
  gtk_widget_set_visible (self->channel_menu_button, self->current != NULL);
}

static void
update_title (PosternWindow *self)
{
  const char *label = "";
  const char *address = "";

  if (self->current != NULL)
    {
      label = postern_channel_item_get_label (self->current);
      address = postern_channel_item_get_address (self->current);
    }

  adw_window_title_set_title (ADW_WINDOW_TITLE (self->content_title), label != NULL ? label : "");
  adw_window_title_set_subtitle (ADW_WINDOW_TITLE (self->content_title), address != NULL ? address : "");
}

static void
current_changed_cb (PosternWindow *self)
{
  update_title (self);
  update_actions (self);
}

static void
set_current (PosternWindow *self,
             PosternChannelItem *item)
{
  if (self->current == item)
    return;

  if (self->current != NULL)
    g_signal_handlers_disconnect_by_data (self->current, self);
  g_set_object (&self->current, item);
  if (item != NULL)
    {
      g_signal_connect_object (item, "notify::label", G_CALLBACK (current_changed_cb), self, G_CONNECT_SWAPPED);
      g_signal_connect_object (item, "notify::state", G_CALLBACK (current_changed_cb), self, G_CONNECT_SWAPPED);
      /* Opening a channel reads its alerts. */
      postern_channel_store_mark_read (self->store, item);
    }

  postern_channel_detail_set_item (POSTERN_CHANNEL_DETAIL (self->detail), item);
  gtk_stack_set_visible_child_name (GTK_STACK (self->content_stack), item != NULL ? "detail" : "none");
  update_title (self);
  update_actions (self);
}

static void
update_list_page (PosternWindow *self)
{
  const char *connection = postern_channel_store_get_connection (self->store);
  GListModel *model = postern_channel_store_get_model (self->store);
  guint n_all = g_list_model_get_n_items (postern_channel_store_get_items (self->store));
  const char *page;

  if (!postern_channel_store_get_loaded (self->store))
    page = "loading";
  else if (n_all > 0)
    page = g_list_model_get_n_items (model) > 0 ? "list" : "no-results";
  else if (g_strcmp0 (connection, "no-agent") == 0)
    page = "no-agent";
  else if (!postern_channel_store_get_paired (self->store) || g_strcmp0 (connection, "unpaired") == 0)
    page = "unpaired";
  else
    page = "empty";

  gtk_stack_set_visible_child_name (GTK_STACK (self->list_stack), page);
}

static void
update_offline (PosternWindow *self)
{
  const char *connection = postern_channel_store_get_connection (self->store);
  const char *message = postern_channel_store_get_message (self->store);
  guint pending = postern_channel_store_get_pending (self->store);
  g_autofree char *text = NULL;
  gboolean offline;

  offline = g_strcmp0 (connection, "offline") == 0 || g_strcmp0 (connection, "keyring-locked") == 0 || (g_strcmp0 (connection, "no-agent") == 0 && g_list_model_get_n_items (postern_channel_store_get_items (self->store)) > 0);

  if (g_strcmp0 (connection, "keyring-locked") == 0)
    text = g_strdup (message != NULL && *message != '\0' ? message : _ ("The keyring is locked: unlock it to see your channels"));
  else if (offline && pending > 0)
    text = g_strdup_printf (g_dngettext (GETTEXT_PACKAGE,
                                         "Offline: %u change waiting to be sent",
                                         "Offline: %u changes waiting to be sent", pending),
                            pending);
  else if (offline)
    text = g_strdup (_ ("Offline: changes are sent when the server is back"));

  gtk_label_set_text (GTK_LABEL (self->offline_label), text != NULL ? text : "");
  gtk_revealer_set_reveal_child (GTK_REVEALER (self->offline_revealer), text != NULL);

  /* The D-Bus error says which name was missing; the user needs to know
   * what to do. */
  adw_status_page_set_description (ADW_STATUS_PAGE (self->no_agent_page),
                                   _ ("Start it with “postern-agent” or log in again"));
  if (message != NULL && *message != '\0')
    gtk_widget_set_tooltip_text (self->no_agent_page, message);
}

static void
store_changed_cb (PosternWindow *self)
{
  update_list_page (self);
  update_offline (self);
  update_actions (self);
}

static void
alert_cb (PosternWindow *self,
          PosternChannelItem *item,
          PosternEvent *event,
          PosternChannelStore *store)
{
  g_autofree char *title = NULL;
  const char *sender = postern_event_get_header_from (event);

  if (sender == NULL || *sender == '\0')
    sender = postern_event_get_envelope_sender (event);

  /* Translators: "Mail from stranger@example.org on Recruiter". */
  title = g_strdup_printf (_ ("Unexpected mail from %s on “%s”"), sender, postern_channel_item_get_label (item));
  postern_window_add_toast (self, title);

  /* The alert is read when its channel is open in front of the user. */
  if (item == self->current && gtk_window_is_active (GTK_WINDOW (self)))
    postern_channel_store_mark_read (self->store, item);
}

static void
selection_changed_cb (PosternWindow *self)
{
  PosternChannelItem *item = gtk_single_selection_get_selected_item (self->selection);

  /* Filtering may hide the open channel; keep showing it. */
  if (item != NULL)
    set_current (self, item);
}

static void
list_activate_cb (PosternWindow *self,
                  guint position)
{
  g_autoptr (PosternChannelItem) item = g_list_model_get_item (postern_channel_store_get_model (self->store), position);

  if (item == NULL)
    return;

  set_current (self, item);
  adw_leaflet_set_visible_child_name (ADW_LEAFLET (self->leaflet), "content");
}

static void
folded_changed_cb (PosternWindow *self)
{
  /* Folded with nothing to show: stay on the list. */
  if (adw_leaflet_get_folded (ADW_LEAFLET (self->leaflet)) && self->current == NULL)
    adw_leaflet_set_visible_child_name (ADW_LEAFLET (self->leaflet), "sidebar");
}

static void
back_clicked_cb (PosternWindow *self)
{
  adw_leaflet_navigate (ADW_LEAFLET (self->leaflet), ADW_NAVIGATION_DIRECTION_BACK);
}

static void
search_changed_cb (PosternWindow *self)
{
  postern_channel_store_set_search (self->store, gtk_editable_get_text (GTK_EDITABLE (self->search_entry)));
}

static void
stop_search_cb (PosternWindow *self)
{
  gtk_editable_set_text (GTK_EDITABLE (self->search_entry), "");
  gtk_search_bar_set_search_mode (GTK_SEARCH_BAR (self->search_bar), FALSE);
}

static void
filter_changed_cb (PosternWindow *self)
{
  guint selected = gtk_drop_down_get_selected (GTK_DROP_DOWN (self->filter_dropdown));

  if (selected > POSTERN_CHANNEL_FILTER_ALERTS)
    selected = POSTERN_CHANNEL_FILTER_ALL;
  postern_channel_store_set_filter (self->store, selected);
}

gboolean
postern_window_show_channel (PosternWindow *self,
                             const char *id)
{
  PosternChannelItem *item;
  GListModel *model;
  guint n;

  g_return_val_if_fail (POSTERN_IS_WINDOW (self), FALSE);

  item = postern_channel_store_lookup (self->store, id);
  if (item == NULL)
    return FALSE;

  model = postern_channel_store_get_model (self->store);
  n = g_list_model_get_n_items (model);
  for (guint i = 0; i < n; i++)
    {
      g_autoptr (PosternChannelItem) candidate = g_list_model_get_item (model, i);

      if (candidate == item)
        {
          gtk_single_selection_set_selected (self->selection, i);
          gtk_widget_activate_action (self->list_view, "list.scroll-to-item", "u", i);
          break;
        }
    }

  set_current (self, item);
  adw_leaflet_set_visible_child_name (ADW_LEAFLET (self->leaflet), "content");

  return TRUE;
}

static void
created_cb (PosternWindow *self,
            PosternChannelItem *item)
{
  postern_window_show_channel (self, postern_channel_item_get_id (item));
}

void
postern_window_new_channel (PosternWindow *self,
                            const char *label,
                            PosternNewChannelFlags flags)
{
  GtkWidget *dialog;

  g_return_if_fail (POSTERN_IS_WINDOW (self));

  dialog = postern_new_channel_dialog_new (get_app (self), GTK_WINDOW (self), label, flags);
  g_signal_connect_object (dialog, "created", G_CALLBACK (created_cb), self, G_CONNECT_SWAPPED);
  gtk_window_present (GTK_WINDOW (dialog));
}

void
postern_window_pair (PosternWindow *self,
                     const char *uri)
{
  GtkWidget *dialog;

  g_return_if_fail (POSTERN_IS_WINDOW (self));

  dialog = postern_pairing_dialog_new (get_app (self), GTK_WINDOW (self), uri);
  gtk_window_present (GTK_WINDOW (dialog));
}

static void
record_share_cb (GObject *object,
                 GAsyncResult *result,
                 gpointer user_data)
{
  g_autoptr (PosternWindow) self = user_data;
  g_autoptr (GError) error = NULL;

  if (!postern_dbus_agent1_call_record_share_finish (POSTERN_DBUS_AGENT1 (object), result, &error))
    {
      g_debug ("RecordShare: %s", error->message);
      return;
    }

  /* The timeline now has the share. */
  postern_channel_detail_reload (POSTERN_CHANNEL_DETAIL (self->detail));
}

static void
record_share (PosternWindow *self,
              PosternChannelItem *item,
              const char *method)
{
  PosternDBusAgent1 *agent = postern_channel_store_get_agent (self->store);

  /* A share is a note in the channel's timeline; failing to record one
   * must not stop the user from handing out the address. */
  if (agent != NULL)
    postern_dbus_agent1_call_record_share (agent, postern_channel_item_get_id (item), method, "",
                                           self->cancellable, record_share_cb, g_object_ref (self));
}

static void
copy_address_action_cb (GtkWidget *widget,
                        const char *action_name,
                        GVariant *parameter)
{
  PosternWindow *self = POSTERN_WINDOW (widget);

  if (self->current == NULL)
    return;

  gdk_clipboard_set_text (gtk_widget_get_clipboard (widget), postern_channel_item_get_address (self->current));
  record_share (self, self->current, "clipboard");
  postern_window_add_toast (self, _ ("Address copied"));
}

static void
show_qr_action_cb (GtkWidget *widget,
                   const char *action_name,
                   GVariant *parameter)
{
  PosternWindow *self = POSTERN_WINDOW (widget);
  g_autofree char *payload = NULL;
  GtkWidget *qr;

  if (self->current == NULL)
    return;

  payload = postern_application_build_qr_payload (get_app (self), postern_channel_item_get_address (self->current));
  qr = postern_fullscreen_qr_new (GTK_WINDOW (self), payload, postern_channel_item_get_address (self->current));
  gtk_window_present (GTK_WINDOW (qr));
  record_share (self, self->current, "qr");
}

typedef struct
{
  PosternWindow *self;
  char *what;
} CallData;

static void
call_data_free (CallData *data)
{
  g_object_unref (data->self);
  g_free (data->what);
  g_free (data);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (CallData, call_data_free)

static CallData *
call_data_new (PosternWindow *self,
               const char *what)
{
  CallData *data = g_new0 (CallData, 1);

  data->self = g_object_ref (self);
  data->what = g_strdup (what);
  return data;
}

static void
state_call_cb (GObject *object,
               GAsyncResult *result,
               gpointer user_data)
{
  g_autoptr (CallData) data = user_data;
  g_autoptr (GVariant) reply = NULL;
  g_autoptr (GError) error = NULL;

  reply = g_dbus_proxy_call_finish (G_DBUS_PROXY (object), result, &error);
  if (reply == NULL && !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    toast_error (data->self, data->what, error);
}

/* Pause, Resume and Revoke all take the channel id and answer nothing. */
static void
call_state_method (PosternWindow *self,
                   const char *id,
                   const char *method,
                   const char *what)
{
  PosternDBusAgent1 *agent = postern_channel_store_get_agent (self->store);

  if (agent == NULL)
    return;

  g_dbus_proxy_call (G_DBUS_PROXY (agent), method, g_variant_new ("(s)", id),
                     G_DBUS_CALL_FLAGS_NONE, -1, self->cancellable,
                     state_call_cb, call_data_new (self, what));
}

static void
pause_action_cb (GtkWidget *widget,
                 const char *action_name,
                 GVariant *parameter)
{
  PosternWindow *self = POSTERN_WINDOW (widget);

  if (self->current != NULL)
    call_state_method (self, postern_channel_item_get_id (self->current), "Pause", _ ("Cannot pause the channel"));
}

static void
resume_action_cb (GtkWidget *widget,
                  const char *action_name,
                  GVariant *parameter)
{
  PosternWindow *self = POSTERN_WINDOW (widget);

  if (self->current != NULL)
    call_state_method (self, postern_channel_item_get_id (self->current), "Resume", _ ("Cannot resume the channel"));
}

static void
revoke_response_cb (PosternWindow *self,
                    const char *response,
                    AdwMessageDialog *dialog)
{
  const char *id = g_object_get_data (G_OBJECT (dialog), "channel-id");

  if (g_strcmp0 (response, "revoke") != 0 || id == NULL)
    return;

  call_state_method (self, id, "Revoke", _ ("Cannot revoke the channel"));
  /* Offline, the agent queues it: say when it takes effect. */
  if (g_strcmp0 (postern_channel_store_get_connection (self->store), "online") == 0)
    postern_window_add_toast (self, _ ("Channel revoked: its mail is refused from now on"));
  else
    postern_window_add_toast (self, _ ("Channel revoked: its mail is refused once the server has the change"));
}

static void
revoke_action_cb (GtkWidget *widget,
                  const char *action_name,
                  GVariant *parameter)
{
  PosternWindow *self = POSTERN_WINDOW (widget);
  GtkWidget *dialog;

  if (self->current == NULL)
    return;

  dialog = adw_message_dialog_new (GTK_WINDOW (self), _ ("Revoke Channel?"), NULL);
  adw_message_dialog_format_body (ADW_MESSAGE_DIALOG (dialog),
                                  _ ("Mail sent to %s will be refused from now on, from everyone. This cannot be undone."),
                                  postern_channel_item_get_address (self->current));
  adw_message_dialog_add_responses (ADW_MESSAGE_DIALOG (dialog),
                                    "cancel", _ ("_Cancel"),
                                    "revoke", _ ("_Revoke"),
                                    NULL);
  adw_message_dialog_set_response_appearance (ADW_MESSAGE_DIALOG (dialog), "revoke", ADW_RESPONSE_DESTRUCTIVE);
  adw_message_dialog_set_default_response (ADW_MESSAGE_DIALOG (dialog), "cancel");
  adw_message_dialog_set_close_response (ADW_MESSAGE_DIALOG (dialog), "cancel");
  /* In the application's window list: tests and the tray find it there. */
  gtk_window_set_application (GTK_WINDOW (dialog), gtk_window_get_application (GTK_WINDOW (self)));
  g_object_set_data_full (G_OBJECT (dialog), "channel-id",
                          g_strdup (postern_channel_item_get_id (self->current)), g_free);
  g_signal_connect_object (dialog, "response", G_CALLBACK (revoke_response_cb), self, G_CONNECT_SWAPPED);
  gtk_window_present (GTK_WINDOW (dialog));
}

static void
search_action_cb (GtkWidget *widget,
                  const char *action_name,
                  GVariant *parameter)
{
  PosternWindow *self = POSTERN_WINDOW (widget);

  adw_leaflet_set_visible_child_name (ADW_LEAFLET (self->leaflet), "sidebar");
  gtk_search_bar_set_search_mode (GTK_SEARCH_BAR (self->search_bar), TRUE);
  gtk_widget_grab_focus (self->search_entry);
}

static void
setup_row_cb (GtkSignalListItemFactory *factory,
              GtkListItem *list_item,
              gpointer user_data)
{
  gtk_list_item_set_child (list_item, postern_channel_row_new ());
}

static void
bind_row_cb (GtkSignalListItemFactory *factory,
             GtkListItem *list_item,
             gpointer user_data)
{
  postern_channel_row_set_item (POSTERN_CHANNEL_ROW (gtk_list_item_get_child (list_item)),
                                gtk_list_item_get_item (list_item));
}

static void
unbind_row_cb (GtkSignalListItemFactory *factory,
               GtkListItem *list_item,
               gpointer user_data)
{
  postern_channel_row_set_item (POSTERN_CHANNEL_ROW (gtk_list_item_get_child (list_item)), NULL);
}

static void
save_window_state (PosternWindow *self)
{
  int width, height;

  gtk_window_get_default_size (GTK_WINDOW (self), &width, &height);
  g_settings_set (self->settings, "window-size", "(ii)", width, height);
  g_settings_set_boolean (self->settings, "window-maximized", gtk_window_is_maximized (GTK_WINDOW (self)));
}

static gboolean
postern_window_close_request (GtkWindow *window)
{
  save_window_state (POSTERN_WINDOW (window));

  return GTK_WINDOW_CLASS (postern_window_parent_class)->close_request (window);
}

/* The window needs its application, which GtkWindow sets only after
 * construction; postern_window_new() calls this. */
static void
setup (PosternWindow *self,
       PosternApplication *app)
{
  g_autoptr (GtkListItemFactory) factory = NULL;
  int width, height;

  self->store = g_object_ref (postern_application_get_store (app));
  self->settings = g_object_ref (postern_application_get_settings (app));

  g_settings_get (self->settings, "window-size", "(ii)", &width, &height);
  gtk_window_set_default_size (GTK_WINDOW (self), width, height);
  if (g_settings_get_boolean (self->settings, "window-maximized"))
    gtk_window_maximize (GTK_WINDOW (self));

  self->selection = gtk_single_selection_new (g_object_ref (postern_channel_store_get_model (self->store)));
  gtk_single_selection_set_autoselect (self->selection, FALSE);
  gtk_single_selection_set_can_unselect (self->selection, TRUE);
  gtk_single_selection_set_selected (self->selection, GTK_INVALID_LIST_POSITION);
  g_signal_connect_object (self->selection, "notify::selected-item", G_CALLBACK (selection_changed_cb), self, G_CONNECT_SWAPPED);

  factory = gtk_signal_list_item_factory_new ();
  g_signal_connect (factory, "setup", G_CALLBACK (setup_row_cb), NULL);
  g_signal_connect (factory, "bind", G_CALLBACK (bind_row_cb), NULL);
  g_signal_connect (factory, "unbind", G_CALLBACK (unbind_row_cb), NULL);
  gtk_list_view_set_factory (GTK_LIST_VIEW (self->list_view), factory);
  gtk_list_view_set_model (GTK_LIST_VIEW (self->list_view), GTK_SELECTION_MODEL (self->selection));

  postern_channel_detail_set_store (POSTERN_CHANNEL_DETAIL (self->detail), self->store);

  g_signal_connect_object (self->store, "notify", G_CALLBACK (store_changed_cb), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (postern_channel_store_get_model (self->store), "items-changed",
                           G_CALLBACK (store_changed_cb), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (self->store, "alert", G_CALLBACK (alert_cb), self, G_CONNECT_SWAPPED);

  gtk_search_bar_set_key_capture_widget (GTK_SEARCH_BAR (self->search_bar), GTK_WIDGET (self));

#ifdef DEVELOPMENT
  gtk_widget_add_css_class (GTK_WIDGET (self), "devel");
#endif

  store_changed_cb (self);
  set_current (self, NULL);
}

static void
postern_window_dispose (GObject *object)
{
  PosternWindow *self = POSTERN_WINDOW (object);

  g_cancellable_cancel (self->cancellable);
  if (self->current != NULL)
    g_signal_handlers_disconnect_by_data (self->current, self);
  g_clear_object (&self->current);
  if (self->list_view != NULL)
    gtk_list_view_set_model (GTK_LIST_VIEW (self->list_view), NULL);
  g_clear_object (&self->selection);
  gtk_widget_dispose_template (GTK_WIDGET (self), POSTERN_TYPE_WINDOW);

  G_OBJECT_CLASS (postern_window_parent_class)->dispose (object);
}

static void
postern_window_finalize (GObject *object)
{
  PosternWindow *self = POSTERN_WINDOW (object);

  g_clear_object (&self->cancellable);
  g_clear_object (&self->store);
  g_clear_object (&self->settings);

  G_OBJECT_CLASS (postern_window_parent_class)->finalize (object);
}

static void
postern_window_class_init (PosternWindowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);
  GtkWindowClass *window_class = GTK_WINDOW_CLASS (klass);

  object_class->dispose = postern_window_dispose;
  object_class->finalize = postern_window_finalize;
  window_class->close_request = postern_window_close_request;

  g_type_ensure (POSTERN_TYPE_CHANNEL_DETAIL);

  gtk_widget_class_set_template_from_resource (widget_class, "/io/github/postern/Postern/ui/postern-window.ui");
  gtk_widget_class_bind_template_child (widget_class, PosternWindow, toast_overlay);
  gtk_widget_class_bind_template_child (widget_class, PosternWindow, leaflet);
  gtk_widget_class_bind_template_child (widget_class, PosternWindow, search_bar);
  gtk_widget_class_bind_template_child (widget_class, PosternWindow, search_button);
  gtk_widget_class_bind_template_child (widget_class, PosternWindow, search_entry);
  gtk_widget_class_bind_template_child (widget_class, PosternWindow, filter_dropdown);
  gtk_widget_class_bind_template_child (widget_class, PosternWindow, offline_revealer);
  gtk_widget_class_bind_template_child (widget_class, PosternWindow, offline_label);
  gtk_widget_class_bind_template_child (widget_class, PosternWindow, list_stack);
  gtk_widget_class_bind_template_child (widget_class, PosternWindow, list_view);
  gtk_widget_class_bind_template_child (widget_class, PosternWindow, no_agent_page);
  gtk_widget_class_bind_template_child (widget_class, PosternWindow, content_title);
  gtk_widget_class_bind_template_child (widget_class, PosternWindow, channel_menu_button);
  gtk_widget_class_bind_template_child (widget_class, PosternWindow, content_stack);
  gtk_widget_class_bind_template_child (widget_class, PosternWindow, detail);
  gtk_widget_class_bind_template_callback (widget_class, folded_changed_cb);
  gtk_widget_class_bind_template_callback (widget_class, back_clicked_cb);
  gtk_widget_class_bind_template_callback (widget_class, search_changed_cb);
  gtk_widget_class_bind_template_callback (widget_class, stop_search_cb);
  gtk_widget_class_bind_template_callback (widget_class, filter_changed_cb);
  gtk_widget_class_bind_template_callback (widget_class, list_activate_cb);

  gtk_widget_class_install_action (widget_class, "channel.copy-address", NULL, copy_address_action_cb);
  gtk_widget_class_install_action (widget_class, "channel.show-qr", NULL, show_qr_action_cb);
  gtk_widget_class_install_action (widget_class, "channel.pause", NULL, pause_action_cb);
  gtk_widget_class_install_action (widget_class, "channel.resume", NULL, resume_action_cb);
  gtk_widget_class_install_action (widget_class, "channel.revoke", NULL, revoke_action_cb);
  gtk_widget_class_install_action (widget_class, "list.search", NULL, search_action_cb);

  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_f, GDK_CONTROL_MASK, "list.search", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_c, GDK_CONTROL_MASK | GDK_SHIFT_MASK, "channel.copy-address", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_F11, 0, "channel.show-qr", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_p, GDK_CONTROL_MASK, "channel.pause", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_Delete, GDK_CONTROL_MASK, "channel.revoke", NULL);
}

static void
postern_window_init (PosternWindow *self)
{
  self->cancellable = g_cancellable_new ();
  gtk_widget_init_template (GTK_WIDGET (self));
}

GtkWidget *
postern_window_new (PosternApplication *application)
{
  PosternWindow *self;

  g_return_val_if_fail (POSTERN_IS_APPLICATION (application), NULL);

  self = g_object_new (POSTERN_TYPE_WINDOW, "application", application, NULL);
  setup (self, application);

  return GTK_WIDGET (self);
}

void
postern_window_dump_state (PosternWindow *self,
                           JsonBuilder *builder)
{
  g_return_if_fail (POSTERN_IS_WINDOW (self));

  json_builder_set_member_name (builder, "list_page");
  json_builder_add_string_value (builder, gtk_stack_get_visible_child_name (GTK_STACK (self->list_stack)));
  json_builder_set_member_name (builder, "offline_banner");
  json_builder_add_string_value (builder, gtk_revealer_get_reveal_child (GTK_REVEALER (self->offline_revealer))
                                              ? gtk_label_get_text (GTK_LABEL (self->offline_label))
                                              : "");
  json_builder_set_member_name (builder, "current");
  json_builder_add_string_value (builder, self->current != NULL ? postern_channel_item_get_id (self->current) : "");
  json_builder_set_member_name (builder, "detail_qr");
  json_builder_add_string_value (builder, postern_channel_detail_get_qr_payload (POSTERN_CHANNEL_DETAIL (self->detail)));
  json_builder_set_member_name (builder, "detail_shares");
  json_builder_add_int_value (builder, postern_channel_detail_get_n_shares (POSTERN_CHANNEL_DETAIL (self->detail)));
  json_builder_set_member_name (builder, "detail_held");
  json_builder_add_int_value (builder, postern_channel_detail_get_n_held (POSTERN_CHANNEL_DETAIL (self->detail)));
  {
    guint hyphens = 0;
    guint lines = postern_label_count_lines (postern_channel_detail_get_address_label (POSTERN_CHANNEL_DETAIL (self->detail)), &hyphens);

    json_builder_set_member_name (builder, "detail_address_lines");
    json_builder_add_int_value (builder, lines);
    json_builder_set_member_name (builder, "detail_address_hyphens");
    json_builder_add_int_value (builder, hyphens);
  }
  json_builder_set_member_name (builder, "folded");
  json_builder_add_boolean_value (builder, adw_leaflet_get_folded (ADW_LEAFLET (self->leaflet)));
}
