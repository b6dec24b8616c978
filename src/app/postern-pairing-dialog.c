/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <glib/gi18n.h>
#include <string.h>

#include "postern-pairing-dialog.h"
#include "postern-window.h"

/* A pairing link is short; anything longer is not one. */
#define MAX_PAIRING_URI 2048

struct _PosternPairingDialog
{
  AdwWindow parent_instance;

  GtkWidget *next_button;
  GtkWidget *spinner;
  GtkWidget *stack;
  GtkWidget *uri_row;
  GtkWidget *server_row;
  GtkWidget *code_row;
  GtkWidget *error_label;
  GtkWidget *fingerprint_label;
  GtkWidget *match_label;

  GCancellable *cancellable;
  PosternApplication *application;
  char *server;
  char *code;
  char *link_fingerprint;
  char *fingerprint;
  gboolean busy;
};

G_DEFINE_FINAL_TYPE (PosternPairingDialog, postern_pairing_dialog, ADW_TYPE_WINDOW)

gboolean
postern_pairing_parse_uri (const char *uri,
                           char **out_server,
                           char **out_code,
                           char **out_fingerprint,
                           GError **error)
{
  g_autoptr (GUri) parsed = NULL;
  g_autoptr (GHashTable) params = NULL;
  const char *query;
  const char *server;

  g_return_val_if_fail (uri != NULL, FALSE);

  if (strlen (uri) > MAX_PAIRING_URI || !g_utf8_validate (uri, -1, NULL))
    {
      g_set_error_literal (error, G_URI_ERROR, G_URI_ERROR_FAILED, _ ("This is not a pairing link"));
      return FALSE;
    }

  parsed = g_uri_parse (uri, G_URI_FLAGS_NONE, error);
  if (parsed == NULL)
    return FALSE;

  if (g_strcmp0 (g_uri_get_scheme (parsed), "postern") != 0 || (g_strcmp0 (g_uri_get_host (parsed), "pair") != 0 && !g_str_has_prefix (g_uri_get_path (parsed), "pair")))
    {
      g_set_error_literal (error, G_URI_ERROR, G_URI_ERROR_FAILED, _ ("This is not a pairing link: it must start with postern://pair"));
      return FALSE;
    }

  query = g_uri_get_query (parsed);
  if (query != NULL)
    params = g_uri_parse_params (query, -1, "&", G_URI_PARAMS_NONE, error);
  if (query != NULL && params == NULL)
    return FALSE;

  server = params != NULL ? g_hash_table_lookup (params, "server") : NULL;
  if (server == NULL || *server == '\0')
    {
      g_set_error_literal (error, G_URI_ERROR, G_URI_ERROR_FAILED, _ ("The pairing link names no server"));
      return FALSE;
    }

  if (out_server != NULL)
    *out_server = g_strdup (server);
  if (out_code != NULL)
    *out_code = g_strdup (g_hash_table_lookup (params, "code"));
  if (out_fingerprint != NULL)
    *out_fingerprint = g_strdup (g_hash_table_lookup (params, "fp"));

  return TRUE;
}

static char *
normalise_fingerprint (const char *text)
{
  GString *out = g_string_new (NULL);

  for (const char *p = text; p != NULL && *p != '\0'; p++)
    if (g_ascii_isxdigit (*p))
      g_string_append_c (out, g_ascii_tolower (*p));

  return g_string_free (out, FALSE);
}

gboolean
postern_pairing_fingerprint_equal (const char *a,
                                   const char *b)
{
  g_autofree char *na = normalise_fingerprint (a);
  g_autofree char *nb = normalise_fingerprint (b);

  return *na != '\0' && g_str_equal (na, nb);
}

static void
show_error (PosternPairingDialog *self,
            const char *message)
{
  gtk_label_set_text (GTK_LABEL (self->error_label), message != NULL ? message : "");
  gtk_widget_set_visible (self->error_label, message != NULL);
}

static void
set_busy (PosternPairingDialog *self,
          gboolean busy)
{
  self->busy = busy;
  gtk_spinner_set_spinning (GTK_SPINNER (self->spinner), busy);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "pairing.next", !busy);
}

static void
changed_cb (PosternPairingDialog *self)
{
  show_error (self, NULL);
}

static void
pair_cb (GObject *object,
         GAsyncResult *result,
         gpointer user_data)
{
  g_autoptr (PosternPairingDialog) self = user_data;
  g_autoptr (GVariant) status = NULL;
  g_autoptr (GError) error = NULL;
  GtkWindow *parent;

  set_busy (self, FALSE);

  if (!postern_dbus_agent1_call_pair_finish (POSTERN_DBUS_AGENT1 (object), &status, result, &error))
    {
      g_autofree char *message = NULL;

      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        return;
      message = postern_channel_store_error_message (error);
      gtk_stack_set_visible_child_name (GTK_STACK (self->stack), "enter");
      gtk_button_set_label (GTK_BUTTON (self->next_button), _ ("C_ontinue"));
      show_error (self, message);
      return;
    }

  postern_channel_store_load_status (postern_application_get_store (self->application), status);
  parent = gtk_window_get_transient_for (GTK_WINDOW (self));
  if (POSTERN_IS_WINDOW (parent))
    postern_window_add_toast (POSTERN_WINDOW (parent), _ ("Paired: your channels are on their way"));
  gtk_window_close (GTK_WINDOW (self));
}

static void
probe_cb (GObject *object,
          GAsyncResult *result,
          gpointer user_data)
{
  g_autoptr (PosternPairingDialog) self = user_data;
  g_autofree char *fingerprint = NULL;
  g_autoptr (GError) error = NULL;
  gboolean matches = TRUE;

  set_busy (self, FALSE);

  if (!postern_dbus_agent1_call_probe_server_finish (POSTERN_DBUS_AGENT1 (object), &fingerprint, result, &error))
    {
      g_autofree char *message = NULL;

      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        return;
      message = postern_channel_store_error_message (error);
      show_error (self, message);
      return;
    }

  g_free (self->fingerprint);
  self->fingerprint = g_steal_pointer (&fingerprint);
  gtk_label_set_text (GTK_LABEL (self->fingerprint_label), self->fingerprint);

  gtk_widget_remove_css_class (self->match_label, "error");
  gtk_widget_remove_css_class (self->match_label, "success");
  if (self->link_fingerprint != NULL && *self->link_fingerprint != '\0')
    {
      matches = postern_pairing_fingerprint_equal (self->link_fingerprint, self->fingerprint);
      gtk_label_set_text (GTK_LABEL (self->match_label),
                          matches ? _ ("It matches the fingerprint in the pairing link.")
                                  : _ ("It does not match the fingerprint in the pairing link. Someone may be intercepting the connection: do not continue."));
      gtk_widget_add_css_class (self->match_label, matches ? "success" : "error");
    }
  else
    gtk_label_set_text (GTK_LABEL (self->match_label), _ ("Compare every pair of digits."));

  gtk_button_set_label (GTK_BUTTON (self->next_button), _ ("_Trust and Pair"));
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "pairing.next", matches);
  gtk_stack_set_visible_child_name (GTK_STACK (self->stack), "verify");
}

static void
next_action_cb (GtkWidget *widget,
                const char *action_name,
                GVariant *parameter)
{
  PosternPairingDialog *self = POSTERN_PAIRING_DIALOG (widget);
  PosternDBusAgent1 *agent = postern_channel_store_get_agent (postern_application_get_store (self->application));
  const char *page = gtk_stack_get_visible_child_name (GTK_STACK (self->stack));

  if (self->busy)
    return;

  if (agent == NULL)
    {
      show_error (self, _ ("The Postern agent is not running"));
      return;
    }

  if (g_strcmp0 (page, "enter") == 0)
    {
      g_autofree char *uri = g_strstrip (g_strdup (gtk_editable_get_text (GTK_EDITABLE (self->uri_row))));
      g_autoptr (GError) error = NULL;

      g_clear_pointer (&self->server, g_free);
      g_clear_pointer (&self->code, g_free);
      g_clear_pointer (&self->link_fingerprint, g_free);

      if (*uri != '\0')
        {
          if (!postern_pairing_parse_uri (uri, &self->server, &self->code, &self->link_fingerprint, &error))
            {
              show_error (self, error->message);
              return;
            }
        }
      else
        {
          self->server = g_strstrip (g_strdup (gtk_editable_get_text (GTK_EDITABLE (self->server_row))));
          self->code = g_strstrip (g_strdup (gtk_editable_get_text (GTK_EDITABLE (self->code_row))));
        }

      if (self->server == NULL || *self->server == '\0' || self->code == NULL || *self->code == '\0')
        {
          show_error (self, _ ("Paste the pairing link, or type the server and the code"));
          return;
        }

      set_busy (self, TRUE);
      postern_dbus_agent1_call_probe_server (agent, self->server, self->cancellable, probe_cb, g_object_ref (self));
    }
  else
    {
      set_busy (self, TRUE);
      postern_dbus_agent1_call_pair (agent, self->server, self->code, self->fingerprint, g_get_host_name (),
                                     self->cancellable, pair_cb, g_object_ref (self));
    }
}

static void
postern_pairing_dialog_dispose (GObject *object)
{
  PosternPairingDialog *self = POSTERN_PAIRING_DIALOG (object);

  g_cancellable_cancel (self->cancellable);
  gtk_widget_dispose_template (GTK_WIDGET (self), POSTERN_TYPE_PAIRING_DIALOG);

  G_OBJECT_CLASS (postern_pairing_dialog_parent_class)->dispose (object);
}

static void
postern_pairing_dialog_finalize (GObject *object)
{
  PosternPairingDialog *self = POSTERN_PAIRING_DIALOG (object);

  g_clear_object (&self->cancellable);
  g_clear_object (&self->application);
  g_free (self->server);
  g_free (self->code);
  g_free (self->link_fingerprint);
  g_free (self->fingerprint);

  G_OBJECT_CLASS (postern_pairing_dialog_parent_class)->finalize (object);
}

static void
postern_pairing_dialog_class_init (PosternPairingDialogClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = postern_pairing_dialog_dispose;
  object_class->finalize = postern_pairing_dialog_finalize;

  gtk_widget_class_set_template_from_resource (widget_class, "/io/github/postern/Postern/ui/postern-pairing-dialog.ui");
  gtk_widget_class_bind_template_child (widget_class, PosternPairingDialog, next_button);
  gtk_widget_class_bind_template_child (widget_class, PosternPairingDialog, spinner);
  gtk_widget_class_bind_template_child (widget_class, PosternPairingDialog, stack);
  gtk_widget_class_bind_template_child (widget_class, PosternPairingDialog, uri_row);
  gtk_widget_class_bind_template_child (widget_class, PosternPairingDialog, server_row);
  gtk_widget_class_bind_template_child (widget_class, PosternPairingDialog, code_row);
  gtk_widget_class_bind_template_child (widget_class, PosternPairingDialog, error_label);
  gtk_widget_class_bind_template_child (widget_class, PosternPairingDialog, fingerprint_label);
  gtk_widget_class_bind_template_child (widget_class, PosternPairingDialog, match_label);
  gtk_widget_class_bind_template_callback (widget_class, changed_cb);

  gtk_widget_class_install_action (widget_class, "pairing.next", NULL, next_action_cb);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_Escape, 0, "window.close", NULL);
}

static void
postern_pairing_dialog_init (PosternPairingDialog *self)
{
  self->cancellable = g_cancellable_new ();
  gtk_widget_init_template (GTK_WIDGET (self));
}

GtkWidget *
postern_pairing_dialog_new (PosternApplication *application,
                            GtkWindow *parent,
                            const char *uri)
{
  PosternPairingDialog *self;

  g_return_val_if_fail (POSTERN_IS_APPLICATION (application), NULL);

  self = g_object_new (POSTERN_TYPE_PAIRING_DIALOG,
                       "application", application,
                       "transient-for", parent,
                       NULL);
  self->application = g_object_ref (application);
  if (uri != NULL)
    gtk_editable_set_text (GTK_EDITABLE (self->uri_row), uri);

  return GTK_WIDGET (self);
}

void
postern_pairing_dialog_dump_state (PosternPairingDialog *self,
                                   JsonBuilder *builder)
{
  g_return_if_fail (POSTERN_IS_PAIRING_DIALOG (self));

  json_builder_set_member_name (builder, "page");
  json_builder_add_string_value (builder, gtk_stack_get_visible_child_name (GTK_STACK (self->stack)));
  json_builder_set_member_name (builder, "fingerprint");
  json_builder_add_string_value (builder, self->fingerprint != NULL ? self->fingerprint : "");
  json_builder_set_member_name (builder, "match");
  json_builder_add_string_value (builder, gtk_label_get_text (GTK_LABEL (self->match_label)));
  json_builder_set_member_name (builder, "can_continue");
  json_builder_add_boolean_value (builder, !self->busy && gtk_widget_is_sensitive (self->next_button));
  json_builder_set_member_name (builder, "error");
  json_builder_add_string_value (builder, gtk_widget_get_visible (self->error_label) ? gtk_label_get_text (GTK_LABEL (self->error_label)) : "");
}
