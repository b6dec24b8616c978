/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <glib/gi18n.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "postern-application.h"
#include "postern-fullscreen-qr.h"
#include "postern-new-channel-dialog.h"
#include "postern-pairing-dialog.h"
#include "postern-preferences-window.h"
#include "postern-window.h"

struct _PosternApplication
{
  AdwApplication parent_instance;

  PosternChannelStore *store;
  GSettings *settings;
};

G_DEFINE_FINAL_TYPE (PosternApplication, postern_application, ADW_TYPE_APPLICATION)

PosternApplication *
postern_application_new (void)
{
  return g_object_new (POSTERN_TYPE_APPLICATION,
                       "application-id", APP_ID,
                       "flags", G_APPLICATION_HANDLES_OPEN,
                       "resource-base-path", "/io/github/postern/Postern",
                       NULL);
}

PosternChannelStore *
postern_application_get_store (PosternApplication *self)
{
  g_return_val_if_fail (POSTERN_IS_APPLICATION (self), NULL);

  return self->store;
}

GSettings *
postern_application_get_settings (PosternApplication *self)
{
  g_return_val_if_fail (POSTERN_IS_APPLICATION (self), NULL);

  return self->settings;
}

char *
postern_application_build_qr_payload (PosternApplication *self,
                                      const char *address)
{
  g_autofree char *style = NULL;
  g_autofree char *name = NULL;

  g_return_val_if_fail (POSTERN_IS_APPLICATION (self), NULL);
  g_return_val_if_fail (address != NULL, NULL);

  style = g_settings_get_string (self->settings, "qr-payload");
  if (g_strcmp0 (style, "contact") == 0)
    {
      name = g_settings_get_string (self->settings, "contact-name");
      g_strstrip (name);
      return postern_qr_build_mecard (*name != '\0' ? name : NULL, address);
    }

  return postern_qr_build_mailto (address, NULL);
}

static PosternWindow *
get_main_window (PosternApplication *self)
{
  for (GList *l = gtk_application_get_windows (GTK_APPLICATION (self)); l != NULL; l = l->next)
    if (POSTERN_IS_WINDOW (l->data))
      return l->data;

  return POSTERN_WINDOW (postern_window_new (self));
}

static PosternWindow *
present_main_window (PosternApplication *self)
{
  PosternWindow *window = get_main_window (self);

  gtk_window_present (GTK_WINDOW (window));
  return window;
}

/* Benchmarks (bench/app/): with POSTERN_BENCH set, print when the first
 * frame was drawn and when the list first shows channels, as
 * CLOCK_MONOTONIC microseconds so the caller can subtract its spawn time;
 * POSTERN_BENCH=quit then quits. */
/* Resident memory a moment after the list showed: what the app keeps,
 * not the parse's transient peak. */
static gboolean
bench_memory_cb (gpointer user_data)
{
  PosternApplication *self = user_data;
  g_autofree char *status = NULL;
  const char *rss = NULL;

  if (g_file_get_contents ("/proc/self/status", &status, NULL, NULL))
    rss = strstr (status, "VmRSS:");
  g_printerr ("postern-bench: rss-kib %ld\n", rss != NULL ? strtol (rss + 6, NULL, 10) : -1L);

  if (g_strcmp0 (g_getenv ("POSTERN_BENCH"), "quit") == 0)
    g_action_group_activate_action (G_ACTION_GROUP (self), "quit", NULL);

  return G_SOURCE_REMOVE;
}

static void
bench_items_changed_cb (PosternApplication *self)
{
  GListModel *model = postern_channel_store_get_model (self->store);
  guint n = g_list_model_get_n_items (model);

  if (n == 0)
    return;

  g_printerr ("postern-bench: channels-shown %" G_GINT64_FORMAT " %u\n", g_get_monotonic_time (), n);
  g_signal_handlers_disconnect_by_func (model, bench_items_changed_cb, self);
  g_timeout_add_full (G_PRIORITY_DEFAULT, 500, bench_memory_cb, g_object_ref (self), g_object_unref);
}

static void
bench_after_paint_cb (GdkFrameClock *clock,
                      PosternApplication *self)
{
  GListModel *model = postern_channel_store_get_model (self->store);

  struct timespec cpu;

  /* CPU time too: on a busy machine the wall clock measures the others. */
  clock_gettime (CLOCK_PROCESS_CPUTIME_ID, &cpu);
  g_printerr ("postern-bench: first-frame %" G_GINT64_FORMAT " cpu-ms %ld\n", g_get_monotonic_time (),
              (long)(cpu.tv_sec * 1000 + cpu.tv_nsec / 1000000));
  g_signal_handlers_disconnect_by_func (clock, bench_after_paint_cb, self);

  g_signal_connect_object (model, "items-changed", G_CALLBACK (bench_items_changed_cb), self, G_CONNECT_SWAPPED);
  bench_items_changed_cb (self);
}

static void
bench_realize_cb (GtkWidget *window,
                  PosternApplication *self)
{
  g_signal_connect_object (gtk_widget_get_frame_clock (window), "after-paint",
                           G_CALLBACK (bench_after_paint_cb), self, 0);
}

static void
postern_application_activate (GApplication *app)
{
  PosternApplication *self = POSTERN_APPLICATION (app);
  PosternWindow *window = get_main_window (self);

  if (g_getenv ("POSTERN_BENCH") != NULL && !gtk_widget_get_realized (GTK_WIDGET (window)))
    g_signal_connect_object (window, "realize", G_CALLBACK (bench_realize_cb), self, G_CONNECT_AFTER);

  gtk_window_present (GTK_WINDOW (window));
}

static void
postern_application_open (GApplication *app,
                          GFile **files,
                          int n_files,
                          const char *hint)
{
  PosternApplication *self = POSTERN_APPLICATION (app);
  PosternWindow *window = present_main_window (self);

  for (int i = 0; i < n_files; i++)
    {
      g_autofree char *uri = g_file_get_uri (files[i]);

      if (g_str_has_prefix (uri, "postern://pair") || g_str_has_prefix (uri, "postern:pair"))
        postern_window_pair (window, uri);
      else
        {
          g_autofree char *message = g_strdup_printf (_ ("Postern cannot open “%s”"), uri);

          g_message ("Cannot open %s: not a pairing link", uri);
          postern_window_add_toast (window, message);
        }
    }
}

static const char *
string_parameter (GVariant *parameter)
{
  if (parameter == NULL || !g_variant_is_of_type (parameter, G_VARIANT_TYPE_STRING))
    return "";

  return g_variant_get_string (parameter, NULL);
}

static void
new_channel_action_cb (GSimpleAction *action,
                       GVariant *parameter,
                       gpointer user_data)
{
  PosternWindow *window = present_main_window (user_data);

  postern_window_new_channel (window, string_parameter (parameter), POSTERN_NEW_CHANNEL_ASK);
}

static void
new_address_action_cb (GSimpleAction *action,
                       GVariant *parameter,
                       gpointer user_data)
{
  PosternWindow *window = present_main_window (user_data);

  postern_window_new_channel (window, string_parameter (parameter), POSTERN_NEW_CHANNEL_CREATE_NOW);
}

static void
new_address_qr_action_cb (GSimpleAction *action,
                          GVariant *parameter,
                          gpointer user_data)
{
  PosternWindow *window = present_main_window (user_data);

  postern_window_new_channel (window, string_parameter (parameter), POSTERN_NEW_CHANNEL_CREATE_NOW | POSTERN_NEW_CHANNEL_FULLSCREEN);
}

static void
show_channel_action_cb (GSimpleAction *action,
                        GVariant *parameter,
                        gpointer user_data)
{
  PosternWindow *window = present_main_window (user_data);

  postern_window_show_channel (window, string_parameter (parameter));
}

static void
show_qr_action_cb (GSimpleAction *action,
                   GVariant *parameter,
                   gpointer user_data)
{
  PosternWindow *window = present_main_window (user_data);

  if (postern_window_show_channel (window, string_parameter (parameter)))
    gtk_widget_activate_action (GTK_WIDGET (window), "channel.show-qr", NULL);
}

static void
copy_address_action_cb (GSimpleAction *action,
                        GVariant *parameter,
                        gpointer user_data)
{
  PosternWindow *window = present_main_window (user_data);

  if (postern_window_show_channel (window, string_parameter (parameter)))
    gtk_widget_activate_action (GTK_WIDGET (window), "channel.copy-address", NULL);
}

static void
revoke_channel_action_cb (GSimpleAction *action,
                          GVariant *parameter,
                          gpointer user_data)
{
  PosternWindow *window = present_main_window (user_data);

  if (postern_window_show_channel (window, string_parameter (parameter)))
    gtk_widget_activate_action (GTK_WIDGET (window), "channel.revoke", NULL);
}

/* The agent's notification actions (postern-agent-alerts.c): inside
 * Flatpak the notification portal sends them to the sandbox's app id,
 * which is this app, not the agent. They do what the agent's own actions
 * do, through its D-Bus API. */

static void
agent_call_done_cb (GObject *source,
                    GAsyncResult *result,
                    gpointer user_data)
{
  g_autoptr (GApplication) app = user_data;
  g_autoptr (GVariant) reply = NULL;
  g_autoptr (GError) error = NULL;

  reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), result, &error);
  if (reply == NULL)
    g_message ("The agent refused a notification's action: %s", error->message);
  g_application_release (app);
}

static void
call_agent (PosternApplication *self,
            const char *method,
            GVariant *parameters)
{
  GDBusConnection *connection = g_application_get_dbus_connection (G_APPLICATION (self));

  if (connection == NULL)
    {
      g_variant_unref (g_variant_ref_sink (parameters));
      g_message ("Not on the session bus: cannot reach the agent for %s", method);
      return;
    }

  /* Started only for this action, the app would exit before the reply. */
  g_application_hold (G_APPLICATION (self));
  g_dbus_connection_call (connection, AGENT_BUS_NAME, "/io/github/postern/Postern/Agent",
                          "io.github.postern.Postern.Agent1", method, parameters,
                          G_VARIANT_TYPE_UNIT, G_DBUS_CALL_FLAGS_NONE, -1, NULL,
                          agent_call_done_cb, g_object_ref (self));
}

static void
open_action_cb (GSimpleAction *action,
                GVariant *parameter,
                gpointer user_data)
{
  g_application_activate (G_APPLICATION (user_data));
}

/* The notification's Revoke Channel button is the confirmation. */
static void
revoke_action_cb (GSimpleAction *action,
                  GVariant *parameter,
                  gpointer user_data)
{
  call_agent (user_data, "Revoke", g_variant_new ("(s)", string_parameter (parameter)));
}

static void
trust_action_cb (GSimpleAction *action,
                 GVariant *parameter,
                 gpointer user_data)
{
  const char *channel_id;
  const char *pattern;

  g_variant_get (parameter, "(&s&s)", &channel_id, &pattern);
  call_agent (user_data, "TrustSender", g_variant_new ("(ss)", channel_id, pattern));
}

static void
pair_action_cb (GSimpleAction *action,
                GVariant *parameter,
                gpointer user_data)
{
  PosternWindow *window = present_main_window (user_data);

  postern_window_pair (window, string_parameter (parameter));
}

static void
preferences_action_cb (GSimpleAction *action,
                       GVariant *parameter,
                       gpointer user_data)
{
  PosternApplication *self = user_data;
  PosternWindow *window = present_main_window (self);
  GtkWindow *preferences = GTK_WINDOW (postern_preferences_window_new (self));

  gtk_window_set_transient_for (preferences, GTK_WINDOW (window));
  gtk_window_present (preferences);
}

static void
about_action_cb (GSimpleAction *action,
                 GVariant *parameter,
                 gpointer user_data)
{
  PosternApplication *self = user_data;
  PosternWindow *window = present_main_window (self);
  static const char *developers[] = { "The Postern contributors", NULL };
  GtkWidget *about;

  about = g_object_new (ADW_TYPE_ABOUT_WINDOW,
                        "transient-for", window,
                        "application-name", _ ("Postern"),
                        "application-icon", APP_ID,
                        "developer-name", _ ("The Postern contributors"),
                        "version", PACKAGE_VERSION,
                        "comments", _ ("One e-mail address per relationship: see who leaked it, and close it with one click."),
                        "website", "https://github.com/postern/postern",
                        "issue-url", "https://github.com/postern/postern/issues",
                        "license-type", GTK_LICENSE_GPL_3_0,
                        "copyright", "© 2026 The Postern contributors",
                        "developers", developers,
                        /* Translators: put your names here, one per line. */
                        "translator-credits", _ ("translator-credits"),
                        NULL);
  gtk_window_set_application (GTK_WINDOW (about), GTK_APPLICATION (self));
  gtk_window_present (GTK_WINDOW (about));
}

static void
quit_action_cb (GSimpleAction *action,
                GVariant *parameter,
                gpointer user_data)
{
  PosternApplication *self = user_data;
  GList *windows = gtk_application_get_windows (GTK_APPLICATION (self));

  /* Close the windows so they save their state, then quit. */
  while (windows != NULL)
    {
      gtk_window_destroy (windows->data);
      windows = gtk_application_get_windows (GTK_APPLICATION (self));
    }
  g_application_quit (G_APPLICATION (self));
}

/* Test hooks. A test drives the real window through the same widget
 * actions a click would trigger; it cannot reach them over D-Bus (only app
 * and win GActionMaps are exported), so these forward them. */

/* Depth first: an action resolves from a widget up to its window, so the
 * first widget that knows it is the one a click there would reach. */
static gboolean
activate_in_tree (GtkWidget *widget,
                  const char *name,
                  GVariant *target)
{
  if (gtk_widget_activate_action_variant (widget, name, target))
    return TRUE;

  for (GtkWidget *child = gtk_widget_get_first_child (widget); child != NULL; child = gtk_widget_get_next_sibling (child))
    if (activate_in_tree (child, name, target))
      return TRUE;

  return FALSE;
}

static void
test_activate_action_cb (GSimpleAction *action,
                         GVariant *parameter,
                         gpointer user_data)
{
  g_autofree char *name = NULL;
  g_autoptr (GVariant) target = NULL;
  g_autoptr (GError) error = NULL;
  GListModel *toplevels;

  if (!g_action_parse_detailed_name (string_parameter (parameter), &name, &target, &error))
    {
      g_message ("test-activate: %s", error->message);
      return;
    }

  /* Newest window first: a dialog before the window it belongs to; in
   * each, the widget that installed the action (window, detail, …). */
  toplevels = gtk_window_get_toplevels ();
  for (guint i = g_list_model_get_n_items (toplevels); i-- > 0;)
    {
      g_autoptr (GtkWidget) window = g_list_model_get_item (toplevels, i);

      if (gtk_widget_get_visible (window) && activate_in_tree (window, name, target))
        return;
    }

  g_message ("test-activate: no window has the action %s", name);
}

static void
test_respond_action_cb (GSimpleAction *action,
                        GVariant *parameter,
                        gpointer user_data)
{
  PosternApplication *self = user_data;

  for (GList *l = gtk_application_get_windows (GTK_APPLICATION (self)); l != NULL; l = l->next)
    if (ADW_IS_MESSAGE_DIALOG (l->data) && adw_message_dialog_has_response (l->data, string_parameter (parameter)))
      {
        /* What a click on the response's button does: respond, close. */
        adw_message_dialog_response (l->data, string_parameter (parameter));
        gtk_window_close (l->data);
        return;
      }

  g_message ("test-respond: no dialog has the response %s", string_parameter (parameter));
}

guint
postern_label_count_lines (GtkLabel *label,
                           guint *out_hyphens)
{
  g_autoptr (PangoLayout) layout = NULL;
  guint hyphens = 0;

  g_return_val_if_fail (GTK_IS_LABEL (label), 0);

  /* The label's own layout keeps the width of its last size request,
   * which may be the narrowest; lay it out at the allocated width. */
  layout = pango_layout_copy (gtk_label_get_layout (label));
  pango_layout_set_width (layout, gtk_widget_get_width (GTK_WIDGET (label)) * PANGO_SCALE);
  for (GSList *l = pango_layout_get_lines_readonly (layout); l != NULL; l = l->next)
    {
      PangoLayoutLine *line = l->data;

      /* Pango marks the item a hyphen is shaped into. */
      for (GSList *r = line->runs; r != NULL; r = r->next)
        {
          PangoGlyphItem *run = r->data;

          if (run->item->analysis.flags & PANGO_ANALYSIS_FLAG_NEED_HYPHEN)
            hyphens++;
        }
    }

  if (out_hyphens != NULL)
    *out_hyphens = hyphens;
  return (guint)pango_layout_get_line_count (layout);
}

static void
dump_item (JsonBuilder *builder,
           PosternChannelItem *item)
{
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "id");
  json_builder_add_string_value (builder, postern_channel_item_get_id (item));
  json_builder_set_member_name (builder, "label");
  json_builder_add_string_value (builder, postern_channel_item_get_label (item));
  json_builder_set_member_name (builder, "address");
  json_builder_add_string_value (builder, postern_channel_item_get_address (item));
  json_builder_set_member_name (builder, "state");
  json_builder_add_string_value (builder, postern_channel_state_to_string (postern_channel_item_get_state (item)));
  json_builder_set_member_name (builder, "unread_alerts");
  json_builder_add_int_value (builder, postern_channel_item_get_unread_alerts (item));
  json_builder_set_member_name (builder, "pending");
  json_builder_add_boolean_value (builder, postern_channel_item_get_pending (item));
  json_builder_end_object (builder);
}

static void
test_dump_action_cb (GSimpleAction *action,
                     GVariant *parameter,
                     gpointer user_data)
{
  PosternApplication *self = user_data;
  g_autoptr (JsonBuilder) builder = json_builder_new ();
  g_autoptr (JsonNode) root = NULL;
  g_autofree char *text = NULL;
  g_autoptr (GError) error = NULL;
  GListModel *model = postern_channel_store_get_model (self->store);
  GListModel *toplevels;

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "connection");
  json_builder_add_string_value (builder, postern_channel_store_get_connection (self->store));
  json_builder_set_member_name (builder, "loaded");
  json_builder_add_boolean_value (builder, postern_channel_store_get_loaded (self->store));

  json_builder_set_member_name (builder, "rows");
  json_builder_begin_array (builder);
  for (guint i = 0; i < g_list_model_get_n_items (model); i++)
    {
      g_autoptr (PosternChannelItem) item = g_list_model_get_item (model, i);

      dump_item (builder, item);
    }
  json_builder_end_array (builder);

  json_builder_set_member_name (builder, "windows");
  json_builder_begin_array (builder);
  /* Every toplevel, not only the application's: the About and shortcuts
   * windows belong to no application. Newest first, like the app's list. */
  toplevels = gtk_window_get_toplevels ();
  for (guint i = g_list_model_get_n_items (toplevels); i-- > 0;)
    {
      g_autoptr (GtkWindow) window = g_list_model_get_item (toplevels, i);

      json_builder_begin_object (builder);
      json_builder_set_member_name (builder, "type");
      json_builder_add_string_value (builder, G_OBJECT_TYPE_NAME (window));
      json_builder_set_member_name (builder, "visible");
      json_builder_add_boolean_value (builder, gtk_widget_get_visible (GTK_WIDGET (window)));
      if (POSTERN_IS_WINDOW (window))
        postern_window_dump_state (POSTERN_WINDOW (window), builder);
      else if (POSTERN_IS_NEW_CHANNEL_DIALOG (window))
        postern_new_channel_dialog_dump_state (POSTERN_NEW_CHANNEL_DIALOG (window), builder);
      else if (POSTERN_IS_PREFERENCES_WINDOW (window))
        postern_preferences_window_dump_state (POSTERN_PREFERENCES_WINDOW (window), builder);
      else if (POSTERN_IS_PAIRING_DIALOG (window))
        postern_pairing_dialog_dump_state (POSTERN_PAIRING_DIALOG (window), builder);
      else if (POSTERN_IS_FULLSCREEN_QR (window))
        {
          json_builder_set_member_name (builder, "qr");
          json_builder_add_string_value (builder, postern_fullscreen_qr_get_payload (POSTERN_FULLSCREEN_QR (window)));
        }
      else if (ADW_IS_MESSAGE_DIALOG (window))
        {
          json_builder_set_member_name (builder, "heading");
          json_builder_add_string_value (builder, adw_message_dialog_get_heading (ADW_MESSAGE_DIALOG (window)));
        }
      json_builder_end_object (builder);
    }
  json_builder_end_array (builder);
  json_builder_end_object (builder);

  root = json_builder_get_root (builder);
  text = postern_json_to_string (root, TRUE);
  if (!g_file_set_contents (string_parameter (parameter), text, -1, &error))
    g_message ("test-dump: %s", error->message);
}

static const GActionEntry app_entries[] = {
  { "new-channel", new_channel_action_cb, "s" },
  { "new-address", new_address_action_cb, "s" },
  { "new-address-qr", new_address_qr_action_cb, "s" },
  { "show-channel", show_channel_action_cb, "s" },
  { "show-qr", show_qr_action_cb, "s" },
  { "copy-address", copy_address_action_cb, "s" },
  { "revoke-channel", revoke_channel_action_cb, "s" },
  /* The agent's notification actions, under the agent's names. */
  { "open", open_action_cb },
  { "revoke", revoke_action_cb, "s" },
  { "trust", trust_action_cb, "(ss)" },
  { "pair", pair_action_cb, "s" },
  { "preferences", preferences_action_cb },
  { "about", about_action_cb },
  { "quit", quit_action_cb },
};

static const GActionEntry test_entries[] = {
  { "test-activate", test_activate_action_cb, "s" },
  { "test-respond", test_respond_action_cb, "s" },
  { "test-dump", test_dump_action_cb, "s" },
};

static void
postern_application_startup (GApplication *app)
{
  PosternApplication *self = POSTERN_APPLICATION (app);
  static const char *new_channel_accels[] = { "<Control>n", NULL };
  static const char *preferences_accels[] = { "<Control>comma", NULL };
  static const char *quit_accels[] = { "<Control>q", NULL };

  G_APPLICATION_CLASS (postern_application_parent_class)->startup (app);

  g_action_map_add_action_entries (G_ACTION_MAP (self), app_entries, G_N_ELEMENTS (app_entries), self);
  if (g_strcmp0 (g_getenv ("POSTERN_TEST_HOOKS"), "1") == 0)
    g_action_map_add_action_entries (G_ACTION_MAP (self), test_entries, G_N_ELEMENTS (test_entries), self);

  gtk_application_set_accels_for_action (GTK_APPLICATION (self), "app.new-channel('')", new_channel_accels);
  gtk_application_set_accels_for_action (GTK_APPLICATION (self), "app.preferences", preferences_accels);
  gtk_application_set_accels_for_action (GTK_APPLICATION (self), "app.quit", quit_accels);

  self->settings = g_settings_new (APP_ID);
  self->store = postern_channel_store_new ();
  postern_channel_store_connect (self->store);
}

static void
postern_application_shutdown (GApplication *app)
{
  PosternApplication *self = POSTERN_APPLICATION (app);

  g_clear_object (&self->store);
  g_clear_object (&self->settings);

  G_APPLICATION_CLASS (postern_application_parent_class)->shutdown (app);
}

static void
postern_application_class_init (PosternApplicationClass *klass)
{
  GApplicationClass *app_class = G_APPLICATION_CLASS (klass);

  app_class->startup = postern_application_startup;
  app_class->shutdown = postern_application_shutdown;
  app_class->activate = postern_application_activate;
  app_class->open = postern_application_open;
}

static void
postern_application_init (PosternApplication *self)
{
}
