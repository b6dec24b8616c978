/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <glib/gi18n.h>
#include <stdio.h>

#include "postern-cli.h"
#include "postern-core.h"

#define POSTERN_ERROR_PREFIX "io.github.postern.Postern.Error."

/* Whether @error means nobody answers for the agent's name, or the agent
 * there does not speak our interface. */
static gboolean
is_unreachable (const GError *error)
{
  if (error->domain == G_DBUS_ERROR)
    {
      switch (error->code)
        {
          case G_DBUS_ERROR_SERVICE_UNKNOWN:
          case G_DBUS_ERROR_NAME_HAS_NO_OWNER:
          case G_DBUS_ERROR_UNKNOWN_OBJECT:
          case G_DBUS_ERROR_UNKNOWN_INTERFACE:
          case G_DBUS_ERROR_SPAWN_EXEC_FAILED:
          case G_DBUS_ERROR_SPAWN_FORK_FAILED:
          case G_DBUS_ERROR_SPAWN_CHILD_EXITED:
          case G_DBUS_ERROR_SPAWN_CHILD_SIGNALED:
          case G_DBUS_ERROR_SPAWN_FAILED:
          case G_DBUS_ERROR_SPAWN_SETUP_FAILED:
          case G_DBUS_ERROR_SPAWN_CONFIG_INVALID:
          case G_DBUS_ERROR_SPAWN_SERVICE_INVALID:
          case G_DBUS_ERROR_SPAWN_SERVICE_NOT_FOUND:
          case G_DBUS_ERROR_SPAWN_PERMISSIONS_INVALID:
          case G_DBUS_ERROR_SPAWN_FILE_INVALID:
          case G_DBUS_ERROR_SPAWN_NO_MEMORY:
            return TRUE;
          default:
            return FALSE;
        }
    }
  /* The connection to the bus itself closed under us. */
  return g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CLOSED);
}

int
postern_cli_report_error (const char *what,
                          const GError *error)
{
  g_autoptr (GError) local = g_error_copy (error);
  g_autofree char *remote = g_dbus_error_get_remote_error (error);
  int code = POSTERN_CLI_EXIT_FAILED;

  g_dbus_error_strip_remote_error (local);

  if (remote != NULL && g_str_equal (remote, POSTERN_ERROR_PREFIX "NotPaired"))
    code = POSTERN_CLI_EXIT_UNAVAILABLE;
  else if (is_unreachable (error))
    {
      g_printerr ("posternctl: %s: %s (%s)\n", what,
                  _ ("the Postern agent is not reachable on the session bus"),
                  local->message);
      return POSTERN_CLI_EXIT_UNAVAILABLE;
    }

  g_printerr ("posternctl: %s: %s\n", what, local->message);
  return code;
}

int
postern_cli_usage_error (const char *command,
                         const char *format,
                         ...)
{
  g_autofree char *message = NULL;
  va_list args;

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);

  if (command != NULL)
    {
      g_printerr ("posternctl %s: %s\n", command, message);
      g_printerr (_ ("Try “posternctl %s --help” for more information.\n"), command);
    }
  else
    {
      g_printerr ("posternctl: %s\n", message);
      g_printerr ("%s\n", _ ("Try “posternctl --help” for more information."));
    }
  return POSTERN_CLI_EXIT_USAGE;
}

JsonNode *
postern_cli_parse_json (const char *text,
                        GError **error)
{
  /* The agent is trusted, but its answer is still checked: a bad reply is
   * reported, never dereferenced. */
  return postern_json_from_string (text, -1, error);
}

void
postern_cli_print_json (JsonNode *node)
{
  g_autofree char *text = postern_json_to_string (node, TRUE);

  g_print ("%s\n", text);
}

static const char *
member_string (JsonObject *object,
               const char *name)
{
  JsonNode *node = json_object_get_member (object, name);

  if (node == NULL || JSON_NODE_HOLDS_NULL (node) || json_node_get_value_type (node) != G_TYPE_STRING)
    return "";
  return json_node_get_string (node);
}

static gint64
member_int (JsonObject *object,
            const char *name)
{
  JsonNode *node = json_object_get_member (object, name);

  if (node == NULL || json_node_get_value_type (node) != G_TYPE_INT64)
    return 0;
  return json_node_get_int (node);
}

void
postern_cli_print_channel_row (JsonObject *channel)
{
  g_print ("%-40s %-8s %-12s %s\n",
           member_string (channel, "address"),
           member_string (channel, "state"),
           member_string (channel, "kind"),
           member_string (channel, "label"));
}

void
postern_cli_print_channel_detail (JsonObject *channel)
{
  JsonNode *senders = json_object_get_member (channel, "expected_senders");
  const char *expires = member_string (channel, "expires_at");
  const char *note = member_string (channel, "note");

  g_print ("%-15s %s\n", _ ("Address:"), member_string (channel, "address"));
  g_print ("%-15s %s\n", _ ("Label:"), member_string (channel, "label"));
  g_print ("%-15s %s\n", _ ("ID:"), member_string (channel, "id"));
  g_print ("%-15s %s\n", _ ("Kind:"), member_string (channel, "kind"));
  g_print ("%-15s %s\n", _ ("State:"), member_string (channel, "state"));
  g_print ("%-15s %s\n", _ ("Unexpected:"), member_string (channel, "on_unexpected"));
  g_print ("%-15s %s\n", _ ("Created:"), member_string (channel, "created_at"));
  g_print ("%-15s %s\n", _ ("Expires:"), *expires ? expires : _ ("never"));
  if (*note)
    g_print ("%-15s %s\n", _ ("Note:"), note);
  g_print ("%-15s %" G_GINT64_FORMAT "\n", _ ("Revision:"), member_int (channel, "revision"));

  g_print ("%s\n", _ ("Expected senders:"));
  if (senders != NULL && JSON_NODE_HOLDS_ARRAY (senders) && json_array_get_length (json_node_get_array (senders)) > 0)
    {
      JsonArray *array = json_node_get_array (senders);

      for (guint i = 0; i < json_array_get_length (array); i++)
        {
          JsonNode *element = json_array_get_element (array, i);

          if (json_node_get_value_type (element) == G_TYPE_STRING)
            g_print ("  %s\n", json_node_get_string (element));
        }
    }
  else
    g_print ("  %s\n", _ ("(none)"));
}

void
postern_cli_print_event (JsonObject *event)
{
  const char *sender = member_string (event, "envelope_sender");

  g_print ("%s  %-20s %-30s %s\n",
           member_string (event, "received_at"),
           member_string (event, "verdict"),
           *sender ? sender : "<>",
           member_string (event, "subject"));
}

static void
print_status_line (GVariantDict *dict,
                   const char *key,
                   const char *title)
{
  g_autoptr (GVariant) value = g_variant_dict_lookup_value (dict, key, NULL);
  g_autofree char *text = NULL;

  if (value == NULL)
    return;

  if (g_variant_is_of_type (value, G_VARIANT_TYPE_STRING))
    text = g_variant_dup_string (value, NULL);
  else if (g_variant_is_of_type (value, G_VARIANT_TYPE_BOOLEAN))
    text = g_strdup (g_variant_get_boolean (value) ? _ ("yes") : _ ("no"));
  else if (g_variant_is_of_type (value, G_VARIANT_TYPE_UINT32))
    text = g_strdup_printf ("%u", g_variant_get_uint32 (value));
  else if (g_variant_is_of_type (value, G_VARIANT_TYPE_INT64))
    {
      gint64 seconds = g_variant_get_int64 (value);

      text = seconds > 0 ? postern_json_format_time (seconds) : g_strdup (_ ("never"));
    }
  else if (g_variant_is_of_type (value, G_VARIANT_TYPE_STRING_ARRAY))
    {
      g_autofree const char **strv = g_variant_get_strv (value, NULL);

      text = g_strjoinv (", ", (char **)strv);
    }
  else
    text = g_variant_print (value, FALSE);

  if (*text == '\0')
    return;
  g_print ("%-15s %s\n", title, text);
}

void
postern_cli_print_status (GVariant *status)
{
  g_auto (GVariantDict) dict = G_VARIANT_DICT_INIT (status);

  print_status_line (&dict, "connection", _ ("Connection:"));
  print_status_line (&dict, "server", _ ("Server:"));
  print_status_line (&dict, "user", _ ("User:"));
  print_status_line (&dict, "domains", _ ("Domains:"));
  print_status_line (&dict, "fingerprint", _ ("Fingerprint:"));
  print_status_line (&dict, "pending", _ ("Pending:"));
  print_status_line (&dict, "unread_alerts", _ ("Unread alerts:"));
  print_status_line (&dict, "last_sync", _ ("Last sync:"));
  print_status_line (&dict, "message", _ ("Message:"));
}

gboolean
postern_cli_print_qr (const char *address,
                      GError **error)
{
  g_autofree char *uri = postern_qr_build_mailto (address, NULL);
  g_autoptr (PosternQrMatrix) matrix = postern_qr_matrix_new (uri, error);
  g_autofree char *text = NULL;

  if (matrix == NULL)
    return FALSE;

  text = postern_qr_matrix_to_terminal (matrix);
  fputs (text, stdout);
  fflush (stdout);
  return TRUE;
}

gboolean
postern_cli_copy_to_clipboard (const char *text,
                               GError **error)
{
  g_autoptr (GSubprocessLauncher) launcher = NULL;
  g_autoptr (GSubprocess) process = NULL;
  g_autoptr (GBytes) input = NULL;
  g_autofree char *program = NULL;
  const char *argv[4] = {
    NULL,
  };

  /* A command-line program owns no window, so on Wayland it cannot set the
   * clipboard itself: wl-copy and xclip stay behind as the owner. */
  if (g_getenv ("WAYLAND_DISPLAY") != NULL && (program = g_find_program_in_path ("wl-copy")) != NULL)
    {
      argv[0] = program;
      argv[1] = "--trim-newline";
    }
  else if (g_getenv ("DISPLAY") != NULL && (program = g_find_program_in_path ("xclip")) != NULL)
    {
      argv[0] = program;
      argv[1] = "-selection";
      argv[2] = "clipboard";
    }
  else
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                           _ ("no clipboard tool found: install wl-copy (Wayland) or xclip (X11), or copy the address above"));
      return FALSE;
    }

  /* The helper forks and keeps the selection; it must not keep our stdout
   * open, or `$(posternctl new --copy)` would never finish. */
  launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_SILENCE | G_SUBPROCESS_FLAGS_STDERR_SILENCE);
  process = g_subprocess_launcher_spawnv (launcher, argv, error);
  if (process == NULL)
    return FALSE;

  input = g_bytes_new (text, strlen (text));
  if (!g_subprocess_communicate (process, input, NULL, NULL, NULL, error))
    return FALSE;
  if (!g_subprocess_get_successful (process))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                   _ ("%s failed to take the clipboard"), argv[0]);
      return FALSE;
    }
  return TRUE;
}
