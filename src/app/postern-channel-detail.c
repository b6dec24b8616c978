/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <glib/gi18n.h>
#include <string.h>

#include "postern-application.h"
#include "postern-channel-detail.h"
#include "postern-channel-row.h"
#include "postern-qr-view.h"
#include "postern-window.h"

/* The timeline shows the latest events; older ones stay in the agent. */
#define TIMELINE_EVENTS 100

struct _PosternChannelDetail
{
  AdwBin parent_instance;

  GtkWidget *address_label;
  GtkWidget *state_label;
  GtkWidget *qr_view;
  GtkWidget *events_list;
  GtkWidget *held_group;
  GtkWidget *held_list;
  GtkWidget *label_row;
  GtkWidget *note_row;
  GtkWidget *policy_row;
  GtkWidget *kind_row;
  GtkWidget *expires_row;
  GtkWidget *expiry_button;
  GtkWidget *senders_list;
  GtkWidget *add_sender_row;
  GtkWidget *sender_error;
  GtkWidget *pause_row;
  GtkWidget *resume_row;
  GtkWidget *revoke_row;

  GCancellable *cancellable; /* cancelled when the item changes */
  PosternChannelStore *store;
  PosternChannelItem *item;
  GPtrArray *sender_rows;
  guint n_held;
  guint n_shares;
  gboolean updating;
};

G_DEFINE_FINAL_TYPE (PosternChannelDetail, postern_channel_detail, ADW_TYPE_BIN)

static void load_events (PosternChannelDetail *self);

static PosternDBusAgent1 *
get_agent (PosternChannelDetail *self)
{
  return self->store != NULL ? postern_channel_store_get_agent (self->store) : NULL;
}

static void
toast (PosternChannelDetail *self,
       const char *title)
{
  GtkWidget *window = gtk_widget_get_ancestor (GTK_WIDGET (self), POSTERN_TYPE_WINDOW);

  if (window != NULL)
    postern_window_add_toast (POSTERN_WINDOW (window), title);
}

static void
toast_error (PosternChannelDetail *self,
             const GError *error)
{
  g_autofree char *message = NULL;

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;

  message = postern_channel_store_error_message (error);
  toast (self, message);
}

static const char *
verdict_text (PosternVerdict verdict)
{
  switch (verdict)
    {
      case POSTERN_VERDICT_EXPECTED:
        return _ ("Expected");
      case POSTERN_VERDICT_ACCEPTED:
        return _ ("Accepted");
      case POSTERN_VERDICT_UNEXPECTED:
        return _ ("Unexpected sender");
      case POSTERN_VERDICT_HELD:
        return _ ("Held");
      case POSTERN_VERDICT_REJECTED_UNEXPECTED:
        return _ ("Refused: unexpected sender");
      case POSTERN_VERDICT_REJECTED_REVOKED:
        return _ ("Refused: channel revoked");
      case POSTERN_VERDICT_DROPPED_REVOKED:
        return _ ("Dropped: channel revoked");
      case POSTERN_VERDICT_REJECTED_EXPIRED:
        return _ ("Refused: channel expired");
      case POSTERN_VERDICT_REJECTED_PAUSED:
        return _ ("Deferred: channel paused");
      case POSTERN_VERDICT_REJECTED_BLOCKED:
        return _ ("Refused: sender blocked");
      default:
        return "";
    }
}

static const char *
kind_text (PosternChannelKind kind)
{
  switch (kind)
    {
      case POSTERN_CHANNEL_KIND_ONE_TIME:
        return _ ("One-time: the first sender becomes the only expected one");
      case POSTERN_CHANNEL_KIND_RELATIONSHIP:
        return _ ("Relationship: only the expected senders");
      case POSTERN_CHANNEL_KIND_OPEN:
        return _ ("Open: anyone may write");
      default:
        return "";
    }
}

/* The sender an action on an event is about: the envelope sender, or the
 * header From's address for bounces. NULL when neither parses. */
static char *
event_sender (PosternEvent *event)
{
  g_autoptr (PosternMailbox) mailbox = NULL;
  const char *from = postern_event_get_header_from (event);
  const char *envelope = postern_event_get_envelope_sender (event);

  if (envelope != NULL && *envelope != '\0')
    mailbox = postern_mailbox_parse (envelope, -1, NULL);

  if (mailbox == NULL && from != NULL)
    {
      const char *open = strrchr (from, '<');
      const char *close = open != NULL ? strchr (open, '>') : NULL;

      if (open != NULL && close != NULL)
        mailbox = postern_mailbox_parse (open + 1, close - open - 1, NULL);
      else
        mailbox = postern_mailbox_parse (from, -1, NULL);
    }

  return mailbox != NULL ? postern_mailbox_to_string (mailbox) : NULL;
}

/* @with_actions: Trust and Block… on unexpected mail (not on held rows,
 * which get Release and Drop instead). */
static GtkWidget *
build_event_row (PosternChannelDetail *self,
                 PosternEvent *event,
                 gboolean with_actions)
{
  GtkWidget *row;
  const char *from = postern_event_get_header_from (event);
  const char *subject = postern_event_get_subject (event);
  g_autofree char *when = postern_format_time (postern_event_get_received_at (event));
  g_autofree char *subtitle = NULL;
  g_autofree char *sender = event_sender (event);
  PosternVerdict verdict = postern_event_get_verdict (event);

  if (from == NULL || *from == '\0')
    from = postern_event_get_envelope_sender (event);
  if (from == NULL || *from == '\0')
    from = _ ("Unknown sender");

  /* Translators: "Subject · 14:05 · Expected". */
  subtitle = g_strdup_printf (_ ("%s · %s · %s"),
                              subject != NULL && *subject != '\0' ? subject : _ ("(no subject)"),
                              when, verdict_text (verdict));

  /* Senders and subjects come from strangers: never markup. */
  row = g_object_new (ADW_TYPE_ACTION_ROW,
                      "use-markup", FALSE,
                      "title", from,
                      "subtitle", subtitle,
                      "title-lines", 1,
                      "subtitle-lines", 2,
                      NULL);

  if (postern_verdict_is_alert (verdict))
    {
      gtk_widget_add_css_class (row, "unexpected-event");
      adw_action_row_add_prefix (ADW_ACTION_ROW (row), gtk_image_new_from_icon_name ("dialog-warning-symbolic"));
    }

  if (with_actions && postern_verdict_is_alert (verdict) && sender != NULL && self->item != NULL)
    {
      const char *id = postern_channel_item_get_id (self->item);
      const char *domain = strrchr (sender, '@');
      g_autofree char *domain_pattern = domain != NULL ? g_strdup (domain) : NULL;
      g_autoptr (GMenu) menu = g_menu_new ();
      g_autoptr (GMenuItem) item = NULL;
      GtkWidget *box = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 6);
      GtkWidget *trust;
      GtkWidget *block;

      trust = gtk_button_new_with_mnemonic (_ ("_Trust"));
      gtk_widget_set_tooltip_text (trust, _ ("Add this sender to the expected senders"));
      gtk_actionable_set_action_name (GTK_ACTIONABLE (trust), "detail.trust-sender");
      gtk_actionable_set_action_target (GTK_ACTIONABLE (trust), "s", sender);

      item = g_menu_item_new (_ ("Block Sender on This Channel"), NULL);
      g_menu_item_set_action_and_target_value (item, "detail.block", g_variant_new ("(ss)", sender, id));
      g_menu_append_item (menu, item);
      g_clear_object (&item);
      item = g_menu_item_new (_ ("Block Sender on All Channels"), NULL);
      g_menu_item_set_action_and_target_value (item, "detail.block", g_variant_new ("(ss)", sender, ""));
      g_menu_append_item (menu, item);
      g_clear_object (&item);
      if (domain_pattern != NULL)
        {
          g_autofree char *label = g_strdup_printf (_ ("Block All of %s"), domain_pattern + 1);

          item = g_menu_item_new (label, NULL);
          g_menu_item_set_action_and_target_value (item, "detail.block", g_variant_new ("(ss)", domain_pattern, ""));
          g_menu_append_item (menu, item);
          g_clear_object (&item);
        }
      item = g_menu_item_new (_ ("Revoke Channel…"), "channel.revoke");
      g_menu_append_item (menu, item);

      block = g_object_new (GTK_TYPE_MENU_BUTTON,
                            "label", _ ("Block…"),
                            "menu-model", menu,
                            "tooltip-text", _ ("Block this sender or revoke the channel"),
                            NULL);

      gtk_widget_set_valign (box, GTK_ALIGN_CENTER);
      gtk_box_append (GTK_BOX (box), trust);
      gtk_box_append (GTK_BOX (box), block);
      adw_action_row_add_suffix (ADW_ACTION_ROW (row), box);
    }

  return row;
}

static void
clear_list (GtkWidget *list)
{
  GtkWidget *child;

  while ((child = gtk_widget_get_first_child (list)) != NULL)
    gtk_list_box_remove (GTK_LIST_BOX (list), child);
}

static void
append_placeholder (PosternChannelDetail *self)
{
  GtkWidget *row = g_object_new (ADW_TYPE_ACTION_ROW,
                                 "title", _ ("No mail yet"),
                                 "subtitle", _ ("Mail to this address shows up here"),
                                 NULL);

  gtk_list_box_append (GTK_LIST_BOX (self->events_list), row);
}

static void
list_events_cb (GObject *object,
                GAsyncResult *result,
                gpointer user_data)
{
  PosternChannelDetail *self = user_data;
  g_autofree char *json = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonNode) root = NULL;
  JsonArray *array = NULL;
  guint shown = 0;

  if (!postern_dbus_agent1_call_list_events_finish (POSTERN_DBUS_AGENT1 (object), &json, result, &error))
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        g_debug ("ListEvents: %s", error->message);
      return;
    }

  root = postern_json_from_string (json, -1, NULL);
  if (root != NULL && JSON_NODE_HOLDS_ARRAY (root))
    array = json_node_get_array (root);
  else if (root != NULL && JSON_NODE_HOLDS_OBJECT (root) && json_object_has_member (json_node_get_object (root), "events"))
    array = json_object_get_array_member (json_node_get_object (root), "events");

  clear_list (self->events_list);
  for (guint i = 0; array != NULL && i < json_array_get_length (array) && shown < TIMELINE_EVENTS; i++)
    {
      g_autoptr (PosternEvent) event = postern_event_new_from_json (json_array_get_element (array, i), NULL);

      if (event == NULL || self->item == NULL || g_strcmp0 (postern_event_get_channel_id (event), postern_channel_item_get_id (self->item)) != 0)
        continue;

      gtk_list_box_append (GTK_LIST_BOX (self->events_list), build_event_row (self, event, TRUE));
      shown++;
    }

  if (shown == 0)
    append_placeholder (self);
}

static GtkWidget *
build_share_row (JsonObject *share,
                 gint64 when)
{
  const char *method = json_object_get_string_member_with_default (share, "method", "other");
  const char *recipient = json_object_get_string_member_with_default (share, "recipient", "");
  g_autofree char *time = postern_format_time (when);
  g_autofree char *subtitle = NULL;
  const char *title;
  GtkWidget *row;

  if (g_strcmp0 (method, "clipboard") == 0)
    title = _ ("Address copied");
  else if (g_strcmp0 (method, "qr") == 0)
    title = _ ("Address shown as a QR code");
  else
    title = _ ("Address given out");

  /* Translators: "Jane at FOSDEM · 14:05". */
  subtitle = recipient != NULL && *recipient != '\0' ? g_strdup_printf (_ ("%s · %s"), recipient, time) : g_strdup (time);
  row = g_object_new (ADW_TYPE_ACTION_ROW, "use-markup", FALSE, "title", title, "subtitle", subtitle, NULL);
  adw_action_row_add_prefix (ADW_ACTION_ROW (row), gtk_image_new_from_icon_name ("emblem-shared-symbolic"));

  return row;
}

/* Shares and events from the server, newest first; the agent's events
 * alone when the server cannot be asked. */
static void
timeline_cb (GObject *object,
             GAsyncResult *result,
             gpointer user_data)
{
  PosternChannelDetail *self = user_data;
  g_autofree char *json = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonNode) root = NULL;
  JsonArray *entries = NULL;
  guint shown = 0;

  if (!postern_dbus_agent1_call_get_timeline_finish (POSTERN_DBUS_AGENT1 (object), &json, result, &error))
    {
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        return;
      g_debug ("GetTimeline: %s", error->message);
      if (self->item != NULL)
        postern_dbus_agent1_call_list_events (POSTERN_DBUS_AGENT1 (object), postern_channel_item_get_id (self->item),
                                              TIMELINE_EVENTS, self->cancellable, list_events_cb, self);
      return;
    }

  root = postern_json_from_string (json, -1, NULL);
  if (root != NULL && JSON_NODE_HOLDS_OBJECT (root) && json_object_has_member (json_node_get_object (root), "entries"))
    entries = json_object_get_array_member (json_node_get_object (root), "entries");

  clear_list (self->events_list);
  self->n_shares = 0;
  for (guint i = entries != NULL ? json_array_get_length (entries) : 0; i-- > 0 && shown < TIMELINE_EVENTS;)
    {
      JsonNode *node = json_array_get_element (entries, i);
      JsonObject *entry;
      const char *type;
      const char *first;
      gint64 when = 0;

      if (!JSON_NODE_HOLDS_OBJECT (node))
        continue;
      entry = json_node_get_object (node);
      type = json_object_get_string_member_with_default (entry, "type", "");
      postern_json_parse_time (json_object_get_string_member_with_default (entry, "time", ""), &when, NULL);

      if (g_str_equal (type, "event") && json_object_has_member (entry, "event"))
        {
          g_autoptr (PosternEvent) event = postern_event_new_from_json (json_object_get_member (entry, "event"), NULL);
          GtkWidget *row;

          if (event == NULL)
            continue;
          row = build_event_row (self, event, TRUE);
          first = json_object_get_string_member_with_default (entry, "first", NULL);
          if (g_strcmp0 (first, "expected") == 0 || g_strcmp0 (first, "stranger") == 0)
            {
              g_autofree char *subtitle = g_strdup_printf ("%s · %s", adw_action_row_get_subtitle (ADW_ACTION_ROW (row)),
                                                           g_str_equal (first, "expected") ? _ ("first expected mail") : _ ("first stranger"));

              adw_action_row_set_subtitle (ADW_ACTION_ROW (row), subtitle);
            }
          gtk_list_box_append (GTK_LIST_BOX (self->events_list), row);
        }
      else if (g_str_equal (type, "share") && json_object_has_member (entry, "share") && JSON_NODE_HOLDS_OBJECT (json_object_get_member (entry, "share")))
        {
          gtk_list_box_append (GTK_LIST_BOX (self->events_list),
                               build_share_row (json_object_get_object_member (entry, "share"), when));
          self->n_shares++;
        }
      else if (g_str_equal (type, "created"))
        {
          g_autofree char *time = postern_format_time (when);
          GtkWidget *row = g_object_new (ADW_TYPE_ACTION_ROW, "title", _ ("Channel created"), "subtitle", time, NULL);

          gtk_list_box_append (GTK_LIST_BOX (self->events_list), row);
        }
      else
        continue;

      shown++;
    }

  if (shown == 0)
    append_placeholder (self);
}

static GtkWidget *
build_held_row (PosternChannelDetail *self,
                gint64 held_id,
                PosternEvent *event)
{
  GtkWidget *row = build_event_row (self, event, FALSE);
  GtkWidget *box = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 6);
  GtkWidget *release = gtk_button_new_with_mnemonic (_ ("_Release"));
  GtkWidget *drop = gtk_button_new_with_mnemonic (_ ("_Drop"));

  gtk_actionable_set_action_name (GTK_ACTIONABLE (release), "detail.release-held");
  gtk_actionable_set_action_target (GTK_ACTIONABLE (release), "x", held_id);
  gtk_widget_set_tooltip_text (release, _ ("Deliver it to your mailbox"));
  gtk_actionable_set_action_name (GTK_ACTIONABLE (drop), "detail.drop-held");
  gtk_actionable_set_action_target (GTK_ACTIONABLE (drop), "x", held_id);
  gtk_widget_set_tooltip_text (drop, _ ("Delete it from the server"));
  gtk_widget_add_css_class (drop, "destructive-action");
  gtk_widget_set_valign (box, GTK_ALIGN_CENTER);
  gtk_box_append (GTK_BOX (box), release);
  gtk_box_append (GTK_BOX (box), drop);
  adw_action_row_add_suffix (ADW_ACTION_ROW (row), box);

  return row;
}

static void
list_held_cb (GObject *object,
              GAsyncResult *result,
              gpointer user_data)
{
  PosternChannelDetail *self = user_data;
  g_autofree char *json = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonNode) root = NULL;
  JsonArray *array = NULL;
  guint shown = 0;

  if (!postern_dbus_agent1_call_list_held_finish (POSTERN_DBUS_AGENT1 (object), &json, result, &error))
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        g_debug ("ListHeld: %s", error->message);
      return;
    }

  root = postern_json_from_string (json, -1, NULL);
  if (root != NULL && JSON_NODE_HOLDS_ARRAY (root))
    array = json_node_get_array (root);
  else if (root != NULL && JSON_NODE_HOLDS_OBJECT (root) && json_object_has_member (json_node_get_object (root), "held"))
    array = json_object_get_array_member (json_node_get_object (root), "held");

  clear_list (self->held_list);
  for (guint i = 0; array != NULL && i < json_array_get_length (array); i++)
    {
      JsonNode *node = json_array_get_element (array, i);
      JsonObject *held;
      JsonNode *event_node;
      g_autoptr (PosternEvent) event = NULL;

      if (!JSON_NODE_HOLDS_OBJECT (node))
        continue;
      held = json_node_get_object (node);
      event_node = json_object_get_member (held, "event");
      if (event_node == NULL || !json_object_has_member (held, "id"))
        continue;
      event = postern_event_new_from_json (event_node, NULL);
      if (event == NULL || self->item == NULL || g_strcmp0 (postern_event_get_channel_id (event), postern_channel_item_get_id (self->item)) != 0)
        continue;

      gtk_list_box_append (GTK_LIST_BOX (self->held_list),
                           build_held_row (self, json_object_get_int_member (held, "id"), event));
      shown++;
    }

  self->n_held = shown;
  gtk_widget_set_visible (self->held_group, shown > 0);
}

static void
load_events (PosternChannelDetail *self)
{
  PosternDBusAgent1 *agent = get_agent (self);

  if (agent == NULL || self->item == NULL)
    return;

  postern_dbus_agent1_call_get_timeline (agent, postern_channel_item_get_id (self->item),
                                         self->cancellable, timeline_cb, self);
  postern_dbus_agent1_call_list_held (agent, self->cancellable, list_held_cb, self);
}

static void
remove_sender_rows (PosternChannelDetail *self)
{
  for (guint i = 0; i < self->sender_rows->len; i++)
    gtk_list_box_remove (GTK_LIST_BOX (self->senders_list), g_ptr_array_index (self->sender_rows, i));
  g_ptr_array_set_size (self->sender_rows, 0);
}

static void
update_senders (PosternChannelDetail *self,
                PosternChannel *channel)
{
  GPtrArray *senders = postern_channel_get_expected_senders (channel);

  remove_sender_rows (self);

  for (guint i = 0; senders != NULL && i < senders->len; i++)
    {
      g_autofree char *pattern = postern_sender_pattern_to_string (g_ptr_array_index (senders, i));
      GtkWidget *row = g_object_new (ADW_TYPE_ACTION_ROW, "use-markup", FALSE, "title", pattern, NULL);
      GtkWidget *remove = gtk_button_new_from_icon_name ("user-trash-symbolic");
      g_autofree char *tooltip = g_strdup_printf (_ ("Remove %s"), pattern);

      gtk_widget_set_valign (remove, GTK_ALIGN_CENTER);
      gtk_widget_add_css_class (remove, "flat");
      gtk_widget_set_tooltip_text (remove, tooltip);
      gtk_accessible_update_property (GTK_ACCESSIBLE (remove), GTK_ACCESSIBLE_PROPERTY_LABEL, tooltip, -1);
      gtk_actionable_set_action_name (GTK_ACTIONABLE (remove), "detail.untrust-sender");
      gtk_actionable_set_action_target (GTK_ACTIONABLE (remove), "s", pattern);
      adw_action_row_add_suffix (ADW_ACTION_ROW (row), remove);

      /* Before the entry row, which stays last. */
      gtk_list_box_insert (GTK_LIST_BOX (self->senders_list), row, (int)i);
      g_ptr_array_add (self->sender_rows, row);
    }
}

static void
update (PosternChannelDetail *self)
{
  PosternChannel *channel;
  PosternChannelState state;
  g_autofree char *payload = NULL;
  g_autofree char *state_text = NULL;
  g_autofree char *expires = NULL;
  const char *state_name;
  gint64 expires_at;

  if (self->item == NULL)
    {
      postern_qr_view_set_payload (POSTERN_QR_VIEW (self->qr_view), NULL);
      return;
    }

  channel = postern_channel_item_get_channel (self->item);
  state = postern_channel_get_state (channel);
  self->updating = TRUE;

  gtk_label_set_text (GTK_LABEL (self->address_label), postern_channel_get_address (channel));
  if (POSTERN_IS_APPLICATION (g_application_get_default ()))
    payload = postern_application_build_qr_payload (POSTERN_APPLICATION (g_application_get_default ()),
                                                    postern_channel_get_address (channel));
  else
    payload = postern_qr_build_mailto (postern_channel_get_address (channel), NULL);
  /* A revoked address must not be handed out again by scanning it. */
  postern_qr_view_set_payload (POSTERN_QR_VIEW (self->qr_view), state == POSTERN_CHANNEL_STATE_REVOKED ? NULL : payload);
  gtk_widget_set_visible (self->qr_view, state != POSTERN_CHANNEL_STATE_REVOKED);

  switch (state)
    {
      case POSTERN_CHANNEL_STATE_PAUSED:
        state_name = _ ("Paused: senders are asked to retry later");
        break;
      case POSTERN_CHANNEL_STATE_REVOKED:
        state_name = _ ("Revoked: mail is refused");
        break;
      case POSTERN_CHANNEL_STATE_ACTIVE:
      default:
        state_name = _ ("Active");
        break;
    }
  if (postern_channel_item_get_pending (self->item))
    state_text = g_strdup_printf (_ ("%s · changes waiting to be sent"), state_name);
  else
    state_text = g_strdup (state_name);
  gtk_label_set_text (GTK_LABEL (self->state_label), state_text);

  gtk_editable_set_text (GTK_EDITABLE (self->label_row), postern_channel_get_label (channel));
  gtk_editable_set_text (GTK_EDITABLE (self->note_row), postern_channel_get_note (channel) != NULL ? postern_channel_get_note (channel) : "");
  adw_combo_row_set_selected (ADW_COMBO_ROW (self->policy_row), postern_channel_get_on_unexpected (channel));
  adw_action_row_set_subtitle (ADW_ACTION_ROW (self->kind_row), kind_text (postern_channel_get_kind (channel)));

  expires_at = postern_channel_get_expires_at (channel);
  if (expires_at > 0)
    {
      g_autoptr (GDateTime) when = g_date_time_new_from_unix_local (expires_at);

      expires = when != NULL ? g_date_time_format (when, "%x %H:%M") : NULL;
    }
  adw_action_row_set_subtitle (ADW_ACTION_ROW (self->expires_row), expires != NULL ? expires : _ ("Never"));

  gtk_widget_set_visible (self->pause_row, state == POSTERN_CHANNEL_STATE_ACTIVE);
  gtk_widget_set_visible (self->resume_row, state == POSTERN_CHANNEL_STATE_PAUSED);
  gtk_widget_set_visible (self->revoke_row, state != POSTERN_CHANNEL_STATE_REVOKED);
  gtk_widget_set_sensitive (self->label_row, state != POSTERN_CHANNEL_STATE_REVOKED);
  gtk_widget_set_sensitive (self->policy_row, state != POSTERN_CHANNEL_STATE_REVOKED);
  gtk_widget_set_sensitive (self->expiry_button, state != POSTERN_CHANNEL_STATE_REVOKED);
  gtk_widget_set_sensitive (self->senders_list, state != POSTERN_CHANNEL_STATE_REVOKED);

  update_senders (self, channel);
  self->updating = FALSE;
}

static void
channel_notify_cb (PosternChannelDetail *self)
{
  update (self);
  /* A new verdict may have changed which events are alerts. */
  load_events (self);
}

static void
pending_notify_cb (PosternChannelDetail *self)
{
  update (self);
}

static void
event_added_cb (PosternChannelDetail *self,
                const char *event_json)
{
  if (self->item != NULL && event_json != NULL && strstr (event_json, postern_channel_item_get_id (self->item)) != NULL)
    load_events (self);
}

void
postern_channel_detail_set_store (PosternChannelDetail *self,
                                  PosternChannelStore *store)
{
  g_return_if_fail (POSTERN_IS_CHANNEL_DETAIL (self));

  g_set_object (&self->store, store);
}

PosternChannelItem *
postern_channel_detail_get_item (PosternChannelDetail *self)
{
  g_return_val_if_fail (POSTERN_IS_CHANNEL_DETAIL (self), NULL);

  return self->item;
}

void
postern_channel_detail_set_item (PosternChannelDetail *self,
                                 PosternChannelItem *item)
{
  PosternDBusAgent1 *agent;

  g_return_if_fail (POSTERN_IS_CHANNEL_DETAIL (self));

  if (self->item == item)
    return;

  g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  self->cancellable = g_cancellable_new ();

  if (self->item != NULL)
    g_signal_handlers_disconnect_by_data (self->item, self);
  g_set_object (&self->item, item);

  agent = get_agent (self);
  if (agent != NULL)
    {
      g_signal_handlers_disconnect_by_func (agent, event_added_cb, self);
      if (item != NULL)
        g_signal_connect_object (agent, "event-added", G_CALLBACK (event_added_cb), self, G_CONNECT_SWAPPED);
    }

  gtk_editable_set_text (GTK_EDITABLE (self->add_sender_row), "");
  gtk_widget_set_visible (self->sender_error, FALSE);
  clear_list (self->events_list);
  clear_list (self->held_list);
  self->n_held = 0;
  self->n_shares = 0;
  gtk_widget_set_visible (self->held_group, FALSE);

  if (item != NULL)
    {
      g_signal_connect_object (item, "notify::channel", G_CALLBACK (channel_notify_cb), self, G_CONNECT_SWAPPED);
      g_signal_connect_object (item, "notify::pending", G_CALLBACK (pending_notify_cb), self, G_CONNECT_SWAPPED);
    }

  update (self);
  load_events (self);
}

const char *
postern_channel_detail_get_qr_payload (PosternChannelDetail *self)
{
  const char *payload;

  g_return_val_if_fail (POSTERN_IS_CHANNEL_DETAIL (self), NULL);

  payload = postern_qr_view_get_payload (POSTERN_QR_VIEW (self->qr_view));
  return payload != NULL ? payload : "";
}

/* Updates and actions. */

static void
update_channel_cb (GObject *object,
                   GAsyncResult *result,
                   gpointer user_data)
{
  g_autoptr (PosternChannelDetail) self = user_data;
  g_autofree char *json = NULL;
  g_autoptr (GError) error = NULL;

  if (!postern_dbus_agent1_call_update_channel_finish (POSTERN_DBUS_AGENT1 (object), &json, result, &error))
    {
      toast_error (self, error);
      /* Show what the channel really holds again. */
      update (self);
      return;
    }

  if (self->store != NULL)
    postern_channel_store_load_channel (self->store, json, NULL);
}

static void
update_channel (PosternChannelDetail *self,
                const char *key,
                GVariant *value)
{
  PosternDBusAgent1 *agent = get_agent (self);
  g_auto (GVariantBuilder) builder = G_VARIANT_BUILDER_INIT (G_VARIANT_TYPE_VARDICT);

  if (agent == NULL || self->item == NULL)
    {
      g_variant_unref (g_variant_ref_sink (value));
      return;
    }

  g_variant_builder_add (&builder, "{sv}", key, value);
  postern_dbus_agent1_call_update_channel (agent, postern_channel_item_get_id (self->item),
                                           g_variant_builder_end (&builder),
                                           self->cancellable, update_channel_cb, g_object_ref (self));
}

static void
label_apply_cb (PosternChannelDetail *self)
{
  g_autoptr (PosternChannel) scratch = postern_channel_new ();
  g_autoptr (GError) error = NULL;
  const char *text = gtk_editable_get_text (GTK_EDITABLE (self->label_row));

  /* Check here so the error shows at the row, not as a D-Bus error. */
  if (!postern_channel_set_label (scratch, text, &error))
    {
      gtk_widget_add_css_class (self->label_row, "error");
      toast (self, error->message);
      return;
    }

  gtk_widget_remove_css_class (self->label_row, "error");
  update_channel (self, "label", g_variant_new_string (text));
}

static void
note_apply_cb (PosternChannelDetail *self)
{
  g_autoptr (PosternChannel) scratch = postern_channel_new ();
  g_autoptr (GError) error = NULL;
  const char *text = gtk_editable_get_text (GTK_EDITABLE (self->note_row));

  if (!postern_channel_set_note (scratch, text, &error))
    {
      gtk_widget_add_css_class (self->note_row, "error");
      toast (self, error->message);
      return;
    }

  gtk_widget_remove_css_class (self->note_row, "error");
  update_channel (self, "note", g_variant_new_string (text));
}

static void
policy_changed_cb (PosternChannelDetail *self)
{
  guint selected = adw_combo_row_get_selected (ADW_COMBO_ROW (self->policy_row));

  if (self->updating || self->item == NULL || selected > POSTERN_UNEXPECTED_REJECT)
    return;
  if (selected == postern_channel_get_on_unexpected (postern_channel_item_get_channel (self->item)))
    return;

  update_channel (self, "on_unexpected", g_variant_new_string (postern_unexpected_policy_to_string (selected)));
}

static void
add_sender_changed_cb (PosternChannelDetail *self)
{
  gtk_widget_remove_css_class (self->add_sender_row, "error");
  gtk_widget_set_visible (self->sender_error, FALSE);
}

static void
sender_call_cb (GObject *object,
                GAsyncResult *result,
                gpointer user_data)
{
  g_autoptr (PosternChannelDetail) self = user_data;
  g_autoptr (GVariant) reply = NULL;
  g_autoptr (GError) error = NULL;

  reply = g_dbus_proxy_call_finish (G_DBUS_PROXY (object), result, &error);
  if (reply == NULL)
    toast_error (self, error);
}

static void
trust_sender (PosternChannelDetail *self,
              const char *text,
              gboolean from_entry)
{
  g_autoptr (PosternSenderPattern) pattern = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *normalised = NULL;
  PosternDBusAgent1 *agent = get_agent (self);

  pattern = postern_sender_pattern_parse (text, &error);
  if (pattern == NULL)
    {
      if (from_entry)
        {
          gtk_widget_add_css_class (self->add_sender_row, "error");
          gtk_label_set_text (GTK_LABEL (self->sender_error), error->message);
          gtk_widget_set_visible (self->sender_error, TRUE);
        }
      else
        toast (self, error->message);
      return;
    }

  if (agent == NULL || self->item == NULL)
    return;

  normalised = postern_sender_pattern_to_string (pattern);
  postern_dbus_agent1_call_trust_sender (agent, postern_channel_item_get_id (self->item), normalised,
                                         self->cancellable, sender_call_cb, g_object_ref (self));
  if (from_entry)
    gtk_editable_set_text (GTK_EDITABLE (self->add_sender_row), "");
}

static void
add_sender_apply_cb (PosternChannelDetail *self)
{
  trust_sender (self, gtk_editable_get_text (GTK_EDITABLE (self->add_sender_row)), TRUE);
}

static void
trust_sender_action_cb (GtkWidget *widget,
                        const char *action_name,
                        GVariant *parameter)
{
  PosternChannelDetail *self = POSTERN_CHANNEL_DETAIL (widget);
  g_autofree char *title = NULL;

  trust_sender (self, g_variant_get_string (parameter, NULL), FALSE);
  title = g_strdup_printf (_ ("%s is now expected"), g_variant_get_string (parameter, NULL));
  toast (self, title);
}

static void
untrust_sender_action_cb (GtkWidget *widget,
                          const char *action_name,
                          GVariant *parameter)
{
  PosternChannelDetail *self = POSTERN_CHANNEL_DETAIL (widget);
  PosternDBusAgent1 *agent = get_agent (self);

  if (agent == NULL || self->item == NULL)
    return;

  postern_dbus_agent1_call_untrust_sender (agent, postern_channel_item_get_id (self->item),
                                           g_variant_get_string (parameter, NULL),
                                           self->cancellable, sender_call_cb, g_object_ref (self));
}

static void
block_action_cb (GtkWidget *widget,
                 const char *action_name,
                 GVariant *parameter)
{
  PosternChannelDetail *self = POSTERN_CHANNEL_DETAIL (widget);
  PosternDBusAgent1 *agent = get_agent (self);
  const char *pattern;
  const char *channel_id;
  g_autofree char *title = NULL;

  if (agent == NULL)
    return;

  g_variant_get (parameter, "(&s&s)", &pattern, &channel_id);
  postern_dbus_agent1_call_block (agent, pattern, channel_id, self->cancellable, sender_call_cb, g_object_ref (self));
  title = g_strdup_printf (_ ("%s is blocked"), pattern);
  toast (self, title);
}

/* @parameter: seconds from now, 0 for never. */
static void
set_expiry_action_cb (GtkWidget *widget,
                      const char *action_name,
                      GVariant *parameter)
{
  PosternChannelDetail *self = POSTERN_CHANNEL_DETAIL (widget);
  gint64 from_now = g_variant_get_int64 (parameter);
  gint64 expires_at = 0;

  if (from_now < 0)
    return;
  if (from_now > 0)
    expires_at = g_get_real_time () / G_USEC_PER_SEC + from_now;

  update_channel (self, "expires_at", g_variant_new_int64 (expires_at));
}

static void
held_call_cb (GObject *object,
              GAsyncResult *result,
              gpointer user_data)
{
  g_autoptr (PosternChannelDetail) self = user_data;
  g_autoptr (GVariant) reply = NULL;
  g_autoptr (GError) error = NULL;

  reply = g_dbus_proxy_call_finish (G_DBUS_PROXY (object), result, &error);
  if (reply == NULL)
    toast_error (self, error);
  else
    load_events (self);
}

static void
held_action_cb (GtkWidget *widget,
                const char *action_name,
                GVariant *parameter)
{
  PosternChannelDetail *self = POSTERN_CHANNEL_DETAIL (widget);
  PosternDBusAgent1 *agent = get_agent (self);
  const char *method = g_str_equal (action_name, "detail.release-held") ? "ReleaseHeld" : "DropHeld";

  if (agent == NULL)
    return;

  g_dbus_proxy_call (G_DBUS_PROXY (agent), method, g_variant_new ("(x)", g_variant_get_int64 (parameter)),
                     G_DBUS_CALL_FLAGS_NONE, -1, self->cancellable, held_call_cb, g_object_ref (self));
}

static void
postern_channel_detail_dispose (GObject *object)
{
  PosternChannelDetail *self = POSTERN_CHANNEL_DETAIL (object);

  g_cancellable_cancel (self->cancellable);
  if (self->item != NULL)
    g_signal_handlers_disconnect_by_data (self->item, self);
  g_clear_object (&self->item);
  g_clear_object (&self->store);
  g_clear_pointer (&self->sender_rows, g_ptr_array_unref);
  gtk_widget_dispose_template (GTK_WIDGET (self), POSTERN_TYPE_CHANNEL_DETAIL);

  G_OBJECT_CLASS (postern_channel_detail_parent_class)->dispose (object);
}

static void
postern_channel_detail_finalize (GObject *object)
{
  PosternChannelDetail *self = POSTERN_CHANNEL_DETAIL (object);

  g_clear_object (&self->cancellable);

  G_OBJECT_CLASS (postern_channel_detail_parent_class)->finalize (object);
}

static void
postern_channel_detail_class_init (PosternChannelDetailClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = postern_channel_detail_dispose;
  object_class->finalize = postern_channel_detail_finalize;

  g_type_ensure (POSTERN_TYPE_QR_VIEW);

  gtk_widget_class_set_template_from_resource (widget_class, "/io/github/postern/Postern/ui/postern-channel-detail.ui");
  gtk_widget_class_bind_template_child (widget_class, PosternChannelDetail, address_label);
  gtk_widget_class_bind_template_child (widget_class, PosternChannelDetail, state_label);
  gtk_widget_class_bind_template_child (widget_class, PosternChannelDetail, qr_view);
  gtk_widget_class_bind_template_child (widget_class, PosternChannelDetail, events_list);
  gtk_widget_class_bind_template_child (widget_class, PosternChannelDetail, held_group);
  gtk_widget_class_bind_template_child (widget_class, PosternChannelDetail, held_list);
  gtk_widget_class_bind_template_child (widget_class, PosternChannelDetail, label_row);
  gtk_widget_class_bind_template_child (widget_class, PosternChannelDetail, note_row);
  gtk_widget_class_bind_template_child (widget_class, PosternChannelDetail, policy_row);
  gtk_widget_class_bind_template_child (widget_class, PosternChannelDetail, kind_row);
  gtk_widget_class_bind_template_child (widget_class, PosternChannelDetail, expires_row);
  gtk_widget_class_bind_template_child (widget_class, PosternChannelDetail, expiry_button);
  gtk_widget_class_bind_template_child (widget_class, PosternChannelDetail, senders_list);
  gtk_widget_class_bind_template_child (widget_class, PosternChannelDetail, add_sender_row);
  gtk_widget_class_bind_template_child (widget_class, PosternChannelDetail, sender_error);
  gtk_widget_class_bind_template_child (widget_class, PosternChannelDetail, pause_row);
  gtk_widget_class_bind_template_child (widget_class, PosternChannelDetail, resume_row);
  gtk_widget_class_bind_template_child (widget_class, PosternChannelDetail, revoke_row);
  gtk_widget_class_bind_template_callback (widget_class, label_apply_cb);
  gtk_widget_class_bind_template_callback (widget_class, note_apply_cb);
  gtk_widget_class_bind_template_callback (widget_class, policy_changed_cb);
  gtk_widget_class_bind_template_callback (widget_class, add_sender_apply_cb);
  gtk_widget_class_bind_template_callback (widget_class, add_sender_changed_cb);

  gtk_widget_class_install_action (widget_class, "detail.trust-sender", "s", trust_sender_action_cb);
  gtk_widget_class_install_action (widget_class, "detail.untrust-sender", "s", untrust_sender_action_cb);
  gtk_widget_class_install_action (widget_class, "detail.block", "(ss)", block_action_cb);
  gtk_widget_class_install_action (widget_class, "detail.set-expiry", "x", set_expiry_action_cb);
  gtk_widget_class_install_action (widget_class, "detail.release-held", "x", held_action_cb);
  gtk_widget_class_install_action (widget_class, "detail.drop-held", "x", held_action_cb);
}

static void
postern_channel_detail_init (PosternChannelDetail *self)
{
  self->cancellable = g_cancellable_new ();
  self->sender_rows = g_ptr_array_new ();
  gtk_widget_init_template (GTK_WIDGET (self));
}

guint
postern_channel_detail_get_n_held (PosternChannelDetail *self)
{
  g_return_val_if_fail (POSTERN_IS_CHANNEL_DETAIL (self), 0);

  return self->n_held;
}

guint
postern_channel_detail_get_n_shares (PosternChannelDetail *self)
{
  g_return_val_if_fail (POSTERN_IS_CHANNEL_DETAIL (self), 0);

  return self->n_shares;
}

GtkLabel *
postern_channel_detail_get_address_label (PosternChannelDetail *self)
{
  g_return_val_if_fail (POSTERN_IS_CHANNEL_DETAIL (self), NULL);

  return GTK_LABEL (self->address_label);
}

void
postern_channel_detail_reload (PosternChannelDetail *self)
{
  g_return_if_fail (POSTERN_IS_CHANNEL_DETAIL (self));

  load_events (self);
}
