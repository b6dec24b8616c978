/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <glib-unix.h>
#include <glib/gi18n.h>
#include <stdio.h>
#include <unistd.h>

#include "postern-cli.h"
#include "postern-core.h"

#define AGENT_OBJECT_PATH    "/io/github/postern/Postern/Agent"
#define EVENTS_DEFAULT_LIMIT 20
#define EVENTS_MAX_LIMIT     10000
#define CONFIRM_MAX_LINE     64

struct _PosternCli
{
  GDBusConnection *connection;
  PosternDBusAgent1 *agent;
};

PosternCli *
postern_cli_new (void)
{
  return g_new0 (PosternCli, 1);
}

void
postern_cli_free (PosternCli *cli)
{
  g_clear_object (&cli->agent);
  g_clear_object (&cli->connection);
  g_free (cli);
}

/* Connects to the agent on first use; the call that follows starts it
 * through D-Bus activation when it is not running. */
static PosternDBusAgent1 *
get_agent (PosternCli *cli,
           const char *what,
           int *exit_code)
{
  g_autoptr (GError) error = NULL;

  if (cli->agent != NULL)
    return cli->agent;

  cli->connection = g_bus_get_sync (G_BUS_TYPE_SESSION, NULL, &error);
  if (cli->connection == NULL)
    {
      g_printerr ("posternctl: %s: %s (%s)\n", what,
                  _ ("cannot connect to the session bus"), error->message);
      *exit_code = POSTERN_CLI_EXIT_UNAVAILABLE;
      return NULL;
    }

  cli->agent = postern_dbus_agent1_proxy_new_sync (cli->connection,
                                                   G_DBUS_PROXY_FLAGS_DO_NOT_LOAD_PROPERTIES,
                                                   AGENT_BUS_NAME,
                                                   AGENT_OBJECT_PATH,
                                                   NULL, &error);
  if (cli->agent == NULL)
    {
      *exit_code = postern_cli_report_error (what, error);
      return NULL;
    }
  g_dbus_proxy_set_default_timeout (G_DBUS_PROXY (cli->agent), POSTERN_CLI_CALL_TIMEOUT_MS);
  return cli->agent;
}

/* Parses @argv in place. Returns FALSE with *exit_code set on a usage
 * error. `--help` prints and exits 0, as GOption does everywhere. */
static gboolean
parse_options (const char *command,
               const char *parameters,
               const char *summary,
               const GOptionEntry *entries,
               int *argc,
               char ***argv,
               int *exit_code)
{
  g_autoptr (GOptionContext) context = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *prgname = g_strdup_printf ("posternctl %s", command);

  /* GOption prints "Usage: PRGNAME [OPTION…] PARAMETERS". */
  g_set_prgname (prgname);
  context = g_option_context_new (parameters);
  g_option_context_set_summary (context, summary);
  g_option_context_set_translation_domain (context, GETTEXT_PACKAGE);
  if (entries != NULL)
    g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);

  if (!g_option_context_parse (context, argc, argv, &error))
    {
      *exit_code = postern_cli_usage_error (command, "%s", error->message);
      return FALSE;
    }
  return TRUE;
}

/* The positional arguments after parsing: argv[0] is the command name. */
static gboolean
expect_arguments (const char *command,
                  int argc,
                  int min,
                  int max,
                  int *exit_code)
{
  int n = argc - 1;

  if (n < min)
    {
      *exit_code = postern_cli_usage_error (command, "%s", _ ("missing argument"));
      return FALSE;
    }
  if (n > max)
    {
      *exit_code = postern_cli_usage_error (command, "%s", _ ("too many arguments"));
      return FALSE;
    }
  return TRUE;
}

static JsonArray *
parse_array_reply (const char *what,
                   const char *text,
                   JsonNode **out_node,
                   int *exit_code)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonNode) node = postern_cli_parse_json (text, &error);

  if (node == NULL)
    {
      *exit_code = postern_cli_report_error (what, error);
      return NULL;
    }
  if (!JSON_NODE_HOLDS_ARRAY (node))
    {
      g_printerr ("posternctl: %s: %s\n", what, _ ("the agent sent a malformed reply"));
      *exit_code = POSTERN_CLI_EXIT_FAILED;
      return NULL;
    }
  *out_node = g_steal_pointer (&node);
  return json_node_get_array (*out_node);
}

/* A command that lists what one agent call answers as a JSON array:
 * --json prints the array as it came, otherwise one line per object. */
typedef struct
{
  const char *name;
  const char *summary; /* N_() */
  const char *what;    /* N_(): "cannot …" for error messages */
  gboolean (*call) (PosternDBusAgent1 *agent,
                    char **out_json,
                    GCancellable *cancellable,
                    GError **error);
  void (*print_row) (JsonObject *item);
} ListCommand;

static int
run_list_command (PosternCli *cli,
                  const ListCommand *command,
                  int argc,
                  char **argv)
{
  const char *what = _ (command->what);
  gboolean json = FALSE;
  const GOptionEntry entries[] = {
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, N_ ("Print JSON"), NULL },
    { NULL }
  };
  g_autoptr (GError) error = NULL;
  g_autofree char *text = NULL;
  g_autoptr (JsonNode) node = NULL;
  PosternDBusAgent1 *agent;
  JsonArray *items;
  int exit_code = POSTERN_CLI_EXIT_OK;

  if (!parse_options (command->name, "", _ (command->summary), entries, &argc, &argv, &exit_code))
    return exit_code;
  if (!expect_arguments (command->name, argc, 0, 0, &exit_code))
    return exit_code;
  if ((agent = get_agent (cli, what, &exit_code)) == NULL)
    return exit_code;
  if (!command->call (agent, &text, NULL, &error))
    return postern_cli_report_error (what, error);
  if ((items = parse_array_reply (what, text, &node, &exit_code)) == NULL)
    return exit_code;

  if (json)
    {
      postern_cli_print_json (node);
      return POSTERN_CLI_EXIT_OK;
    }
  for (guint i = 0; i < json_array_get_length (items); i++)
    {
      JsonNode *element = json_array_get_element (items, i);

      if (JSON_NODE_HOLDS_OBJECT (element))
        command->print_row (json_node_get_object (element));
    }
  return POSTERN_CLI_EXIT_OK;
}

static JsonObject *
parse_object_reply (const char *what,
                    const char *text,
                    JsonNode **out_node,
                    int *exit_code)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonNode) node = postern_cli_parse_json (text, &error);

  if (node == NULL)
    {
      *exit_code = postern_cli_report_error (what, error);
      return NULL;
    }
  if (!JSON_NODE_HOLDS_OBJECT (node))
    {
      g_printerr ("posternctl: %s: %s\n", what, _ ("the agent sent a malformed reply"));
      *exit_code = POSTERN_CLI_EXIT_FAILED;
      return NULL;
    }
  *out_node = g_steal_pointer (&node);
  return json_node_get_object (*out_node);
}

static const char *
object_string (JsonObject *object,
               const char *member)
{
  JsonNode *node = json_object_get_member (object, member);

  if (node == NULL || json_node_get_value_type (node) != G_TYPE_STRING)
    return NULL;
  return json_node_get_string (node);
}

/* Accepts a channel id or its address; addresses are looked up in the
 * agent's list (which works offline). */
static char *
resolve_channel (PosternCli *cli,
                 const char *what,
                 const char *id_or_address,
                 int *exit_code)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *json = NULL;
  g_autoptr (JsonNode) node = NULL;
  PosternDBusAgent1 *agent;
  JsonArray *channels;

  if (strchr (id_or_address, '@') == NULL)
    return g_strdup (id_or_address);

  if ((agent = get_agent (cli, what, exit_code)) == NULL)
    return NULL;
  if (!postern_dbus_agent1_call_list_channels_sync (agent, &json, NULL, &error))
    {
      *exit_code = postern_cli_report_error (what, error);
      return NULL;
    }
  if ((channels = parse_array_reply (what, json, &node, exit_code)) == NULL)
    return NULL;

  for (guint i = 0; i < json_array_get_length (channels); i++)
    {
      JsonNode *element = json_array_get_element (channels, i);
      const char *address;

      if (!JSON_NODE_HOLDS_OBJECT (element))
        continue;
      address = object_string (json_node_get_object (element), "address");
      if (address != NULL && g_ascii_strcasecmp (address, id_or_address) == 0)
        return g_strdup (object_string (json_node_get_object (element), "id"));
    }

  g_printerr ("posternctl: %s: %s\n", what, _ ("no channel has this address"));
  *exit_code = POSTERN_CLI_EXIT_FAILED;
  return NULL;
}

static void
record_share (PosternDBusAgent1 *agent,
              const char *channel_id,
              const char *method)
{
  g_autoptr (GError) error = NULL;

  /* The timeline is a convenience: a failure here does not undo the
   * share, so it is only reported. */
  if (channel_id != NULL && !postern_dbus_agent1_call_record_share_sync (agent, channel_id, method, "", NULL, &error))
    g_printerr ("posternctl: %s: %s\n", _ ("cannot record the share"), error->message);
}

/* new */

static int
cmd_new (PosternCli *cli,
         int argc,
         char **argv)
{
  const char *what = _ ("cannot create a channel");
  g_autofree char *label = NULL;
  g_autofree char *kind = NULL;
  g_autofree char *on_unexpected = NULL;
  g_autofree char *note = NULL;
  g_autofree char *style = NULL;
  g_auto (GStrv) expect = NULL;
  gboolean one_time = FALSE;
  gboolean copy = FALSE;
  gboolean qr = FALSE;
  gboolean json = FALSE;
  const GOptionEntry entries[] = {
    { "label", 'l', 0, G_OPTION_ARG_STRING, &label, N_ ("Who the address is for"), N_ ("LABEL") },
    { "one-time", '1', 0, G_OPTION_ARG_NONE, &one_time, N_ ("The first sender becomes the only expected sender"), NULL },
    { "kind", 'k', 0, G_OPTION_ARG_STRING, &kind, N_ ("one-time, relationship or open"), N_ ("KIND") },
    { "expect", 'e', 0, G_OPTION_ARG_STRING_ARRAY, &expect, N_ ("An expected sender: name@domain, @domain or @.domain (repeatable)"), N_ ("SENDER") },
    { "on-unexpected", 0, 0, G_OPTION_ARG_STRING, &on_unexpected, N_ ("alert, hold or reject"), N_ ("POLICY") },
    { "note", 0, 0, G_OPTION_ARG_STRING, &note, N_ ("A private note"), N_ ("TEXT") },
    { "style", 0, 0, G_OPTION_ARG_STRING, &style, N_ ("Address style: random or words"), N_ ("STYLE") },
    { "copy", 'c', 0, G_OPTION_ARG_NONE, &copy, N_ ("Copy the address to the clipboard"), NULL },
    { "qr", 'q', 0, G_OPTION_ARG_NONE, &qr, N_ ("Show the address as a QR code"), NULL },
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, N_ ("Print the channel as JSON"), NULL },
    { NULL }
  };
  g_auto (GVariantBuilder) options = G_VARIANT_BUILDER_INIT (G_VARIANT_TYPE_VARDICT);
  g_autoptr (GError) error = NULL;
  g_autofree char *channel_json = NULL;
  g_autoptr (JsonNode) node = NULL;
  PosternDBusAgent1 *agent;
  JsonObject *channel;
  const char *address;
  const char *id;
  PosternChannelKind parsed_kind;
  PosternUnexpectedPolicy parsed_policy;
  PosternAddressStyle parsed_style;
  int exit_code = POSTERN_CLI_EXIT_OK;

  if (!parse_options ("new", "", _ ("Create a channel: a new address for one relationship."),
                      entries, &argc, &argv, &exit_code))
    return exit_code;
  if (!expect_arguments ("new", argc, 0, 0, &exit_code))
    return exit_code;
  if (label == NULL || *label == '\0')
    return postern_cli_usage_error ("new", "%s", _ ("--label is required"));
  if (one_time && kind != NULL && g_strcmp0 (kind, "one-time") != 0)
    return postern_cli_usage_error ("new", "%s", _ ("--one-time and --kind disagree"));
  if (one_time && kind == NULL)
    kind = g_strdup ("one-time");
  /* Checked here too so that a typo is a usage error (2), not a failure. */
  if (kind != NULL && !postern_channel_kind_from_string (kind, &parsed_kind, &error))
    return postern_cli_usage_error ("new", "%s", error->message);
  if (on_unexpected != NULL && !postern_unexpected_policy_from_string (on_unexpected, &parsed_policy, &error))
    return postern_cli_usage_error ("new", "%s", error->message);
  if (style != NULL && !postern_address_style_from_string (style, &parsed_style, &error))
    return postern_cli_usage_error ("new", "%s", error->message);
  for (guint i = 0; expect != NULL && expect[i] != NULL; i++)
    {
      g_autoptr (PosternSenderPattern) pattern = postern_sender_pattern_parse (expect[i], &error);

      if (pattern == NULL)
        return postern_cli_usage_error ("new", "%s", error->message);
    }

  g_variant_builder_add (&options, "{sv}", "label", g_variant_new_string (label));
  if (kind != NULL)
    g_variant_builder_add (&options, "{sv}", "kind", g_variant_new_string (kind));
  else if (expect != NULL)
    g_variant_builder_add (&options, "{sv}", "kind", g_variant_new_string ("relationship"));
  if (expect != NULL)
    g_variant_builder_add (&options, "{sv}", "expected_sender", g_variant_new_string (expect[0]));
  if (on_unexpected != NULL)
    g_variant_builder_add (&options, "{sv}", "on_unexpected", g_variant_new_string (on_unexpected));
  if (note != NULL)
    g_variant_builder_add (&options, "{sv}", "note", g_variant_new_string (note));
  if (style != NULL)
    g_variant_builder_add (&options, "{sv}", "style", g_variant_new_string (style));

  if ((agent = get_agent (cli, what, &exit_code)) == NULL)
    return exit_code;
  if (!postern_dbus_agent1_call_create_channel_sync (agent, g_variant_builder_end (&options),
                                                     &channel_json, NULL, &error))
    return postern_cli_report_error (what, error);
  if ((channel = parse_object_reply (what, channel_json, &node, &exit_code)) == NULL)
    return exit_code;
  id = object_string (channel, "id");
  address = object_string (channel, "address");
  if (id == NULL || address == NULL)
    {
      g_printerr ("posternctl: %s: %s\n", what, _ ("the agent sent a malformed reply"));
      return POSTERN_CLI_EXIT_FAILED;
    }

  /* The first expected sender travelled with the creation; the others are
   * added one by one and queued like any change when offline. */
  for (guint i = 1; expect != NULL && expect[i] != NULL; i++)
    {
      if (!postern_dbus_agent1_call_trust_sender_sync (agent, id, expect[i], NULL, &error))
        return postern_cli_report_error (_ ("cannot add an expected sender"), error);
    }

  if (json)
    postern_cli_print_json (node);
  else
    g_print ("%s\n", address);

  if (qr)
    {
      if (!postern_cli_print_qr (address, &error))
        return postern_cli_report_error (_ ("cannot show the QR code"), error);
      record_share (agent, id, "qr");
    }

  if (copy)
    {
      /* The channel exists whatever happens to the clipboard: say so, but
       * do not fail the command. */
      if (postern_cli_copy_to_clipboard (address, &error))
        {
          g_printerr ("%s\n", _ ("Copied to the clipboard."));
          record_share (agent, id, "clipboard");
        }
      else
        g_printerr ("posternctl: %s: %s\n", _ ("cannot copy"), error->message);
    }

  return POSTERN_CLI_EXIT_OK;
}

/* list */

static int
cmd_list (PosternCli *cli,
          int argc,
          char **argv)
{
  const char *what = _ ("cannot list channels");
  gboolean json = FALSE;
  gboolean all = FALSE;
  const GOptionEntry entries[] = {
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, N_ ("Print JSON"), NULL },
    { "all", 'a', 0, G_OPTION_ARG_NONE, &all, N_ ("Include revoked channels"), NULL },
    { NULL }
  };
  g_autoptr (GError) error = NULL;
  g_autofree char *channels_json = NULL;
  g_autoptr (JsonNode) node = NULL;
  PosternDBusAgent1 *agent;
  JsonArray *channels;
  int exit_code = POSTERN_CLI_EXIT_OK;

  if (!parse_options ("list", "", _ ("List the channels."), entries, &argc, &argv, &exit_code))
    return exit_code;
  if (!expect_arguments ("list", argc, 0, 0, &exit_code))
    return exit_code;
  if ((agent = get_agent (cli, what, &exit_code)) == NULL)
    return exit_code;
  if (!postern_dbus_agent1_call_list_channels_sync (agent, &channels_json, NULL, &error))
    return postern_cli_report_error (what, error);
  if ((channels = parse_array_reply (what, channels_json, &node, &exit_code)) == NULL)
    return exit_code;

  if (json)
    {
      postern_cli_print_json (node);
      return POSTERN_CLI_EXIT_OK;
    }

  for (guint i = 0; i < json_array_get_length (channels); i++)
    {
      JsonNode *element = json_array_get_element (channels, i);
      JsonObject *channel;

      if (!JSON_NODE_HOLDS_OBJECT (element))
        continue;
      channel = json_node_get_object (element);
      if (!all && g_strcmp0 (object_string (channel, "state"), "revoked") == 0)
        continue;
      postern_cli_print_channel_row (channel);
    }
  return POSTERN_CLI_EXIT_OK;
}

/* show */

static int
cmd_show (PosternCli *cli,
          int argc,
          char **argv)
{
  const char *what = _ ("cannot show the channel");
  gboolean json = FALSE;
  gboolean qr = FALSE;
  const GOptionEntry entries[] = {
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, N_ ("Print JSON"), NULL },
    { "qr", 'q', 0, G_OPTION_ARG_NONE, &qr, N_ ("Show the address as a QR code"), NULL },
    { NULL }
  };
  g_autoptr (GError) error = NULL;
  g_autofree char *id = NULL;
  g_autofree char *channel_json = NULL;
  g_autoptr (JsonNode) node = NULL;
  PosternDBusAgent1 *agent;
  JsonObject *channel;
  int exit_code = POSTERN_CLI_EXIT_OK;

  if (!parse_options ("show", _ ("ID|ADDRESS"), _ ("Show one channel."), entries, &argc, &argv, &exit_code))
    return exit_code;
  if (!expect_arguments ("show", argc, 1, 1, &exit_code))
    return exit_code;
  if ((id = resolve_channel (cli, what, argv[1], &exit_code)) == NULL)
    return exit_code;
  if ((agent = get_agent (cli, what, &exit_code)) == NULL)
    return exit_code;
  if (!postern_dbus_agent1_call_get_channel_sync (agent, id, &channel_json, NULL, &error))
    return postern_cli_report_error (what, error);
  if ((channel = parse_object_reply (what, channel_json, &node, &exit_code)) == NULL)
    return exit_code;

  if (json)
    postern_cli_print_json (node);
  else
    postern_cli_print_channel_detail (channel);

  if (qr && object_string (channel, "address") != NULL)
    {
      if (!postern_cli_print_qr (object_string (channel, "address"), &error))
        return postern_cli_report_error (_ ("cannot show the QR code"), error);
      record_share (agent, id, "qr");
    }
  return POSTERN_CLI_EXIT_OK;
}

/* revoke, pause, resume */

typedef enum
{
  STATE_CHANGE_REVOKE,
  STATE_CHANGE_PAUSE,
  STATE_CHANGE_RESUME,
} StateChange;

static int
change_state (PosternCli *cli,
              int argc,
              char **argv,
              StateChange change)
{
  static const char *names[] = { "revoke", "pause", "resume" };
  const char *what = NULL;
  const char *summary = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *id = NULL;
  PosternDBusAgent1 *agent;
  gboolean ok = FALSE;
  int exit_code = POSTERN_CLI_EXIT_OK;

  switch (change)
    {
      case STATE_CHANGE_REVOKE:
        what = _ ("cannot revoke");
        summary = _ ("Close a channel for good: senders get 550 “channel closed”.");
        break;
      case STATE_CHANGE_PAUSE:
        what = _ ("cannot pause");
        summary = _ ("Pause a channel: senders get 450 and retry later.");
        break;
      case STATE_CHANGE_RESUME:
        what = _ ("cannot resume");
        summary = _ ("Resume a paused channel.");
        break;
      default:
        g_assert_not_reached ();
    }

  if (!parse_options (names[change], _ ("ID|ADDRESS"), summary, NULL, &argc, &argv, &exit_code))
    return exit_code;
  if (!expect_arguments (names[change], argc, 1, 1, &exit_code))
    return exit_code;
  if ((id = resolve_channel (cli, what, argv[1], &exit_code)) == NULL)
    return exit_code;
  if ((agent = get_agent (cli, what, &exit_code)) == NULL)
    return exit_code;

  switch (change)
    {
      case STATE_CHANGE_REVOKE:
        ok = postern_dbus_agent1_call_revoke_sync (agent, id, NULL, &error);
        break;
      case STATE_CHANGE_PAUSE:
        ok = postern_dbus_agent1_call_pause_sync (agent, id, NULL, &error);
        break;
      case STATE_CHANGE_RESUME:
        ok = postern_dbus_agent1_call_resume_sync (agent, id, NULL, &error);
        break;
      default:
        g_assert_not_reached ();
    }
  if (!ok)
    return postern_cli_report_error (what, error);
  return POSTERN_CLI_EXIT_OK;
}

static int
cmd_revoke (PosternCli *cli,
            int argc,
            char **argv)
{
  return change_state (cli, argc, argv, STATE_CHANGE_REVOKE);
}

static int
cmd_pause (PosternCli *cli,
           int argc,
           char **argv)
{
  return change_state (cli, argc, argv, STATE_CHANGE_PAUSE);
}

static int
cmd_resume (PosternCli *cli,
            int argc,
            char **argv)
{
  return change_state (cli, argc, argv, STATE_CHANGE_RESUME);
}

/* trust, untrust */

static int
change_trust (PosternCli *cli,
              int argc,
              char **argv,
              gboolean trust)
{
  const char *command = trust ? "trust" : "untrust";
  const char *what = trust ? _ ("cannot trust the sender") : _ ("cannot untrust the sender");
  g_autoptr (GError) error = NULL;
  g_autoptr (PosternSenderPattern) pattern = NULL;
  g_autofree char *id = NULL;
  PosternDBusAgent1 *agent;
  gboolean ok;
  int exit_code = POSTERN_CLI_EXIT_OK;

  if (!parse_options (command, _ ("ID|ADDRESS SENDER"),
                      trust ? _ ("Add an expected sender (name@domain, @domain or @.domain).")
                            : _ ("Remove an expected sender."),
                      NULL, &argc, &argv, &exit_code))
    return exit_code;
  if (!expect_arguments (command, argc, 2, 2, &exit_code))
    return exit_code;
  if ((pattern = postern_sender_pattern_parse (argv[2], &error)) == NULL)
    return postern_cli_usage_error (command, "%s", error->message);
  if ((id = resolve_channel (cli, what, argv[1], &exit_code)) == NULL)
    return exit_code;
  if ((agent = get_agent (cli, what, &exit_code)) == NULL)
    return exit_code;

  if (trust)
    ok = postern_dbus_agent1_call_trust_sender_sync (agent, id, argv[2], NULL, &error);
  else
    ok = postern_dbus_agent1_call_untrust_sender_sync (agent, id, argv[2], NULL, &error);
  if (!ok)
    return postern_cli_report_error (what, error);
  return POSTERN_CLI_EXIT_OK;
}

static int
cmd_trust (PosternCli *cli,
           int argc,
           char **argv)
{
  return change_trust (cli, argc, argv, TRUE);
}

static int
cmd_untrust (PosternCli *cli,
             int argc,
             char **argv)
{
  return change_trust (cli, argc, argv, FALSE);
}

/* block */

static int
cmd_block (PosternCli *cli,
           int argc,
           char **argv)
{
  const char *what = _ ("cannot block");
  g_autofree char *channel = NULL;
  const GOptionEntry entries[] = {
    { "channel", 0, 0, G_OPTION_ARG_STRING, &channel, N_ ("Block on this channel only"), N_ ("ID|ADDRESS") },
    { NULL }
  };
  g_autoptr (GError) error = NULL;
  g_autoptr (PosternSenderPattern) pattern = NULL;
  g_autofree char *id = NULL;
  PosternDBusAgent1 *agent;
  int exit_code = POSTERN_CLI_EXIT_OK;

  if (!parse_options ("block", _ ("SENDER"), _ ("Refuse a sender or a domain (550 5.7.1) on all channels or one."),
                      entries, &argc, &argv, &exit_code))
    return exit_code;
  if (!expect_arguments ("block", argc, 1, 1, &exit_code))
    return exit_code;
  if ((pattern = postern_sender_pattern_parse (argv[1], &error)) == NULL)
    return postern_cli_usage_error ("block", "%s", error->message);
  if (channel != NULL && (id = resolve_channel (cli, what, channel, &exit_code)) == NULL)
    return exit_code;
  if ((agent = get_agent (cli, what, &exit_code)) == NULL)
    return exit_code;
  if (!postern_dbus_agent1_call_block_sync (agent, argv[1], id != NULL ? id : "", NULL, &error))
    return postern_cli_report_error (what, error);
  return POSTERN_CLI_EXIT_OK;
}

/* events */

typedef struct
{
  GMainLoop *loop;
  const char *channel_id;
  gint64 last_id;
  gboolean json;
  int remaining; /* events left to print before stopping; -1 = no limit */
  int exit_code;
} FollowState;

static void
print_event_node (JsonNode *node,
                  gboolean json)
{
  if (json)
    {
      g_autofree char *text = postern_json_to_string (node, FALSE);

      /* One object per line, so `--follow --json` feeds line readers. */
      g_print ("%s\n", text);
    }
  else
    postern_cli_print_event (json_node_get_object (node));
  fflush (stdout);
}

static void
event_added_cb (PosternDBusAgent1 *agent,
                const char *event_json,
                FollowState *state)
{
  g_autoptr (JsonNode) node = postern_cli_parse_json (event_json, NULL);
  JsonObject *event;
  gint64 id;

  if (node == NULL || !JSON_NODE_HOLDS_OBJECT (node))
    return;
  event = json_node_get_object (node);
  if (state->channel_id != NULL && g_strcmp0 (object_string (event, "channel_id"), state->channel_id) != 0)
    return;

  /* The backlog and the live signal overlap; ids are monotonic. */
  id = json_object_get_int_member_with_default (event, "id", 0);
  if (id != 0 && id <= state->last_id)
    return;
  state->last_id = MAX (state->last_id, id);

  print_event_node (node, state->json);
  if (state->remaining > 0 && --state->remaining == 0)
    g_main_loop_quit (state->loop);
}

static void
name_owner_cb (GObject *object,
               GParamSpec *pspec,
               FollowState *state)
{
  g_autofree char *owner = g_dbus_proxy_get_name_owner (G_DBUS_PROXY (object));

  if (owner == NULL)
    {
      g_printerr ("posternctl: %s\n", _ ("the Postern agent went away"));
      state->exit_code = POSTERN_CLI_EXIT_UNAVAILABLE;
      g_main_loop_quit (state->loop);
    }
}

static gboolean
quit_loop_cb (gpointer user_data)
{
  FollowState *state = user_data;

  g_main_loop_quit (state->loop);
  return G_SOURCE_CONTINUE;
}

static int
cmd_events (PosternCli *cli,
            int argc,
            char **argv)
{
  const char *what = _ ("cannot list events");
  g_autofree char *channel = NULL;
  gboolean follow = FALSE;
  gboolean json = FALSE;
  int limit = EVENTS_DEFAULT_LIMIT;
  int count = 0;
  const GOptionEntry entries[] = {
    { "channel", 0, 0, G_OPTION_ARG_STRING, &channel, N_ ("Only this channel"), N_ ("ID|ADDRESS") },
    { "follow", 'f', 0, G_OPTION_ARG_NONE, &follow, N_ ("Keep printing events as they arrive"), NULL },
    { "limit", 'n', 0, G_OPTION_ARG_INT, &limit, N_ ("How many past events to print (default 20)"), N_ ("N") },
    { "count", 0, 0, G_OPTION_ARG_INT, &count, N_ ("With --follow, stop after N new events"), N_ ("N") },
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, N_ ("Print JSON (one object per line with --follow)"), NULL },
    { NULL }
  };
  g_autoptr (GError) error = NULL;
  g_autofree char *id = NULL;
  g_autofree char *events_json = NULL;
  g_autoptr (JsonNode) node = NULL;
  g_autoptr (GMainLoop) loop = NULL;
  PosternDBusAgent1 *agent;
  JsonArray *events;
  FollowState state = {
    0,
  };
  gulong event_handler = 0;
  gulong owner_handler = 0;
  int exit_code = POSTERN_CLI_EXIT_OK;

  if (!parse_options ("events", "", _ ("Show the mail seen on the channels, newest last."),
                      entries, &argc, &argv, &exit_code))
    return exit_code;
  if (!expect_arguments ("events", argc, 0, 0, &exit_code))
    return exit_code;
  if (limit < 0 || limit > EVENTS_MAX_LIMIT)
    return postern_cli_usage_error ("events", _ ("--limit must be between 0 and %d"), EVENTS_MAX_LIMIT);
  if (count < 0)
    return postern_cli_usage_error ("events", "%s", _ ("--count must not be negative"));
  if (channel != NULL && (id = resolve_channel (cli, what, channel, &exit_code)) == NULL)
    return exit_code;
  if ((agent = get_agent (cli, what, &exit_code)) == NULL)
    return exit_code;

  loop = g_main_loop_new (NULL, FALSE);
  state.loop = loop;
  state.channel_id = id;
  state.json = json;
  state.remaining = count > 0 ? count : -1;
  state.exit_code = POSTERN_CLI_EXIT_OK;

  /* Subscribe before reading the backlog so nothing falls in between. */
  if (follow)
    {
      event_handler = g_signal_connect (agent, "event-added", G_CALLBACK (event_added_cb), &state);
      owner_handler = g_signal_connect (agent, "notify::g-name-owner", G_CALLBACK (name_owner_cb), &state);
    }

  /* --limit 0: only what arrives from now on. */
  if (limit > 0 && !postern_dbus_agent1_call_list_events_sync (agent, id != NULL ? id : "", (guint)limit, &events_json, NULL, &error))
    {
      g_clear_signal_handler (&event_handler, agent);
      g_clear_signal_handler (&owner_handler, agent);
      return postern_cli_report_error (what, error);
    }
  if ((events = parse_array_reply (what, events_json != NULL ? events_json : "[]", &node, &exit_code)) == NULL)
    {
      g_clear_signal_handler (&event_handler, agent);
      g_clear_signal_handler (&owner_handler, agent);
      return exit_code;
    }

  if (json && !follow)
    postern_cli_print_json (node);
  else
    {
      /* The agent answers newest first; a terminal reads oldest first. */
      for (guint i = json_array_get_length (events); i > 0; i--)
        {
          JsonNode *element = json_array_get_element (events, i - 1);

          if (!JSON_NODE_HOLDS_OBJECT (element))
            continue;
          state.last_id = MAX (state.last_id, json_object_get_int_member_with_default (json_node_get_object (element), "id", 0));
          print_event_node (element, json);
        }
    }

  if (follow)
    {
      guint sigint = g_unix_signal_add (SIGINT, quit_loop_cb, &state);
      guint sigterm = g_unix_signal_add (SIGTERM, quit_loop_cb, &state);

      g_main_loop_run (loop);
      g_source_remove (sigint);
      g_source_remove (sigterm);
      g_clear_signal_handler (&event_handler, agent);
      g_clear_signal_handler (&owner_handler, agent);
    }
  return state.exit_code;
}

/* pair */

/* Fingerprints compare without case or separators. */
static char *
normalize_fingerprint (const char *fingerprint)
{
  GString *out = g_string_new (NULL);

  for (const char *p = fingerprint; *p; p++)
    if (g_ascii_isxdigit (*p))
      g_string_append_c (out, g_ascii_tolower (*p));
  return g_string_free (out, FALSE);
}

static gboolean
ask_confirmation (const char *question)
{
  char line[CONFIRM_MAX_LINE];

  g_print ("%s ", question);
  fflush (stdout);
  if (fgets (line, sizeof line, stdin) == NULL)
    return FALSE;
  g_strstrip (line);
  /* TRANSLATORS: the answers accepted as yes to a [y/N] question, separated by '|'. */
  {
    g_auto (GStrv) yes = g_strsplit (_ ("y|yes"), "|", -1);

    return g_ascii_strcasecmp (line, "y") == 0 || g_ascii_strcasecmp (line, "yes") == 0 || g_strv_contains ((const char *const *)yes, line);
  }
}

static int
cmd_pair (PosternCli *cli,
          int argc,
          char **argv)
{
  const char *what = _ ("cannot pair");
  gboolean yes = FALSE;
  gboolean json = FALSE;
  g_autofree char *device_name = NULL;
  const GOptionEntry entries[] = {
    { "yes", 'y', 0, G_OPTION_ARG_NONE, &yes, N_ ("Accept the server's certificate fingerprint without asking"), NULL },
    { "device-name", 0, 0, G_OPTION_ARG_STRING, &device_name, N_ ("How this device appears on the server (default: the host name)"), N_ ("NAME") },
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, N_ ("Print the resulting status as JSON"), NULL },
    { NULL }
  };
  g_autoptr (GError) error = NULL;
  g_autoptr (GVariant) status = NULL;
  g_autofree char *server = NULL;
  g_autofree char *code = NULL;
  g_autofree char *uri_fingerprint = NULL;
  g_autofree char *fingerprint = NULL;
  PosternDBusAgent1 *agent;
  gboolean is_uri;
  int exit_code = POSTERN_CLI_EXIT_OK;

  if (!parse_options ("pair", _ ("URI | SERVER CODE"),
                      _ ("Pair with a server: from the postern://pair URI that “posternd pair” prints, or its URL and one-time code."),
                      entries, &argc, &argv, &exit_code))
    return exit_code;
  if (!expect_arguments ("pair", argc, 1, 2, &exit_code))
    return exit_code;

  is_uri = g_str_has_prefix (argv[1], "postern:");
  if (is_uri)
    {
      g_autoptr (GUri) uri = NULL;
      g_autoptr (GHashTable) params = NULL;

      if (argc != 2)
        return postern_cli_usage_error ("pair", "%s", _ ("a pairing URI carries its own code"));
      uri = g_uri_parse (argv[1], G_URI_FLAGS_NONE, &error);
      if (uri == NULL || g_uri_get_query (uri) == NULL)
        return postern_cli_usage_error ("pair", _ ("not a pairing URI: %s"), argv[1]);
      params = g_uri_parse_params (g_uri_get_query (uri), -1, "&", G_URI_PARAMS_NONE, &error);
      if (params == NULL)
        return postern_cli_usage_error ("pair", "%s", error->message);
      server = g_strdup (g_hash_table_lookup (params, "server"));
      uri_fingerprint = g_strdup (g_hash_table_lookup (params, "fp"));
      if (server == NULL || g_hash_table_lookup (params, "code") == NULL)
        return postern_cli_usage_error ("pair", "%s", _ ("the pairing URI lacks the server or the code"));
    }
  else
    {
      if (argc != 3)
        return postern_cli_usage_error ("pair", "%s", _ ("give the server URL and the pairing code"));
      server = g_strdup (argv[1]);
      code = g_strdup (argv[2]);
    }
  if (device_name == NULL)
    device_name = g_strdup (g_get_host_name ());

  if ((agent = get_agent (cli, what, &exit_code)) == NULL)
    return exit_code;
  if (!postern_dbus_agent1_call_probe_server_sync (agent, server, &fingerprint, NULL, &error))
    return postern_cli_report_error (what, error);

  if (*fingerprint == '\0')
    g_printerr ("%s\n", _ ("Warning: the server does not use TLS; there is no certificate to compare."));
  else if (uri_fingerprint != NULL && *uri_fingerprint != '\0')
    {
      g_autofree char *a = normalize_fingerprint (fingerprint);
      g_autofree char *b = normalize_fingerprint (uri_fingerprint);

      /* The URI came from the server's operator: a different certificate
       * now means someone is in between. */
      if (g_strcmp0 (a, b) != 0)
        {
          g_printerr ("posternctl: %s: %s\n  %s %s\n  %s %s\n", what,
                      _ ("the server's certificate does not match the pairing URI"),
                      _ ("expected:"), uri_fingerprint, _ ("presented:"), fingerprint);
          return POSTERN_CLI_EXIT_FAILED;
        }
      g_printerr (_ ("Certificate fingerprint matches the pairing URI: %s\n"), fingerprint);
    }
  else
    {
      g_print (_ ("Server certificate fingerprint (SHA-256):\n  %s\n"), fingerprint);
      if (!yes && !ask_confirmation (_ ("Does it match the one “posternd pair” printed? [y/N]")))
        {
          g_printerr ("posternctl: %s: %s\n", what, _ ("the fingerprint was not confirmed"));
          return POSTERN_CLI_EXIT_FAILED;
        }
    }

  if (!postern_dbus_agent1_call_pair_sync (agent, is_uri ? argv[1] : server, code != NULL ? code : "",
                                           fingerprint, device_name, &status, NULL, &error))
    {
      /* A refused code maps to NotPaired; here that is the server saying
       * no (1), not the agent being unpaired (3). */
      exit_code = postern_cli_report_error (what, error);
      return exit_code == POSTERN_CLI_EXIT_UNAVAILABLE && g_dbus_error_is_remote_error (error) ? POSTERN_CLI_EXIT_FAILED : exit_code;
    }

  if (json)
    {
      g_autoptr (JsonNode) node = json_gvariant_serialize (status);

      postern_cli_print_json (node);
    }
  else
    {
      const char *user = NULL;
      const char *server_url = NULL;

      g_variant_lookup (status, "user", "&s", &user);
      g_variant_lookup (status, "server", "&s", &server_url);
      g_print (_ ("Paired with %s as %s.\n"), server_url != NULL ? server_url : server, user != NULL ? user : "?");
    }
  return POSTERN_CLI_EXIT_OK;
}

/* status */

static int
cmd_status (PosternCli *cli,
            int argc,
            char **argv)
{
  const char *what = _ ("cannot get the status");
  gboolean json = FALSE;
  const GOptionEntry entries[] = {
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, N_ ("Print JSON"), NULL },
    { NULL }
  };
  g_autoptr (GError) error = NULL;
  g_autoptr (GVariant) status = NULL;
  PosternDBusAgent1 *agent;
  gboolean paired = FALSE;
  int exit_code = POSTERN_CLI_EXIT_OK;

  if (!parse_options ("status", "", _ ("Show the account and the connection. Exits 3 when not paired."),
                      entries, &argc, &argv, &exit_code))
    return exit_code;
  if (!expect_arguments ("status", argc, 0, 0, &exit_code))
    return exit_code;
  if ((agent = get_agent (cli, what, &exit_code)) == NULL)
    return exit_code;
  if (!postern_dbus_agent1_call_get_status_sync (agent, &status, NULL, &error))
    return postern_cli_report_error (what, error);

  if (json)
    {
      g_autoptr (JsonNode) node = json_gvariant_serialize (status);

      postern_cli_print_json (node);
    }
  else
    postern_cli_print_status (status);

  g_variant_lookup (status, "paired", "b", &paired);
  return paired ? POSTERN_CLI_EXIT_OK : POSTERN_CLI_EXIT_UNAVAILABLE;
}

/* held, release, drop */

static void
print_held_row (JsonObject *item)
{
  JsonNode *event = json_object_get_member (item, "event");

  g_print ("%-8" G_GINT64_FORMAT " ", json_object_get_int_member_with_default (item, "id", 0));
  if (event != NULL && JSON_NODE_HOLDS_OBJECT (event))
    postern_cli_print_event (json_node_get_object (event));
  else
    g_print ("\n");
}

static const ListCommand held_command = {
  "held",
  N_ ("List mail held on the server from unexpected senders."),
  N_ ("cannot list held mail"),
  postern_dbus_agent1_call_list_held_sync,
  print_held_row,
};

static int
cmd_held (PosternCli *cli,
          int argc,
          char **argv)
{
  return run_list_command (cli, &held_command, argc, argv);
}

static int
held_action (PosternCli *cli,
             int argc,
             char **argv,
             gboolean release)
{
  const char *command = release ? "release" : "drop";
  const char *what = release ? _ ("cannot release") : _ ("cannot drop");
  g_autoptr (GError) error = NULL;
  PosternDBusAgent1 *agent;
  gint64 id = 0;
  gboolean ok;
  int exit_code = POSTERN_CLI_EXIT_OK;

  if (!parse_options (command, _ ("ID"),
                      release ? _ ("Deliver a held message.") : _ ("Delete a held message."),
                      NULL, &argc, &argv, &exit_code))
    return exit_code;
  if (!expect_arguments (command, argc, 1, 1, &exit_code))
    return exit_code;
  if (!g_ascii_string_to_signed (argv[1], 10, 1, G_MAXINT64, &id, &error))
    return postern_cli_usage_error (command, "%s", error->message);
  if ((agent = get_agent (cli, what, &exit_code)) == NULL)
    return exit_code;

  if (release)
    ok = postern_dbus_agent1_call_release_held_sync (agent, id, NULL, &error);
  else
    ok = postern_dbus_agent1_call_drop_held_sync (agent, id, NULL, &error);
  if (!ok)
    return postern_cli_report_error (what, error);
  return POSTERN_CLI_EXIT_OK;
}

static int
cmd_release (PosternCli *cli,
             int argc,
             char **argv)
{
  return held_action (cli, argc, argv, TRUE);
}

static int
cmd_drop (PosternCli *cli,
          int argc,
          char **argv)
{
  return held_action (cli, argc, argv, FALSE);
}

/* timeline, devices */

static int
cmd_timeline (PosternCli *cli,
              int argc,
              char **argv)
{
  const char *what = _ ("cannot show the timeline");
  gboolean json = FALSE;
  const GOptionEntry entries[] = {
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, N_ ("Print JSON"), NULL },
    { NULL }
  };
  g_autoptr (GError) error = NULL;
  g_autofree char *id = NULL;
  g_autofree char *timeline_json = NULL;
  g_autoptr (JsonNode) node = NULL;
  PosternDBusAgent1 *agent;
  JsonObject *timeline;
  JsonNode *items;
  int exit_code = POSTERN_CLI_EXIT_OK;

  if (!parse_options ("timeline", _ ("ID|ADDRESS"), _ ("Show when the address was given out and what mail came, oldest first."),
                      entries, &argc, &argv, &exit_code))
    return exit_code;
  if (!expect_arguments ("timeline", argc, 1, 1, &exit_code))
    return exit_code;
  if ((id = resolve_channel (cli, what, argv[1], &exit_code)) == NULL)
    return exit_code;
  if ((agent = get_agent (cli, what, &exit_code)) == NULL)
    return exit_code;
  if (!postern_dbus_agent1_call_get_timeline_sync (agent, id, &timeline_json, NULL, &error))
    return postern_cli_report_error (what, error);
  if ((timeline = parse_object_reply (what, timeline_json, &node, &exit_code)) == NULL)
    return exit_code;

  if (json)
    {
      postern_cli_print_json (node);
      return POSTERN_CLI_EXIT_OK;
    }
  items = json_object_get_member (timeline, "entries");
  if (items == NULL || !JSON_NODE_HOLDS_ARRAY (items))
    return POSTERN_CLI_EXIT_OK;
  for (guint i = 0; i < json_array_get_length (json_node_get_array (items)); i++)
    {
      JsonNode *element = json_array_get_element (json_node_get_array (items), i);
      JsonObject *entry;
      JsonObject *detail = NULL;
      JsonNode *member;
      const char *type;

      if (!JSON_NODE_HOLDS_OBJECT (element))
        continue;
      entry = json_node_get_object (element);
      type = object_string (entry, "type");
      if (type != NULL && (member = json_object_get_member (entry, type)) != NULL && JSON_NODE_HOLDS_OBJECT (member))
        detail = json_node_get_object (member);

      g_print ("%s  %-8s", object_string (entry, "time") ? object_string (entry, "time") : "", type ? type : "");
      if (g_strcmp0 (type, "share") == 0 && detail != NULL)
        {
          const char *method = object_string (detail, "method");
          const char *recipient = object_string (detail, "recipient");

          g_print (" %s%s%s", method ? method : "", recipient && *recipient ? " → " : "",
                   recipient && *recipient ? recipient : "");
        }
      else if (g_strcmp0 (type, "event") == 0 && detail != NULL)
        {
          const char *verdict = object_string (detail, "verdict");
          const char *sender = object_string (detail, "envelope_sender");
          const char *subject = object_string (detail, "subject");

          g_print (" %-20s %s  %s", verdict ? verdict : "", sender && *sender ? sender : "<>", subject ? subject : "");
        }
      g_print ("\n");
    }
  return POSTERN_CLI_EXIT_OK;
}

static void
print_device_row (JsonObject *device)
{
  const char *name = object_string (device, "name");
  const char *last_seen = object_string (device, "last_seen_at");

  g_print ("%-6" G_GINT64_FORMAT " %-30s %s %s\n",
           json_object_get_int_member_with_default (device, "id", 0),
           name ? name : "", last_seen ? last_seen : "-",
           json_object_get_boolean_member_with_default (device, "current", FALSE) ? _ ("(this device)") : "");
}

static const ListCommand devices_command = {
  "devices",
  N_ ("List the devices paired with the account."),
  N_ ("cannot list devices"),
  postern_dbus_agent1_call_list_devices_sync,
  print_device_row,
};

static int
cmd_devices (PosternCli *cli,
             int argc,
             char **argv)
{
  return run_list_command (cli, &devices_command, argc, argv);
}

static int
cmd_revoke_device (PosternCli *cli,
                   int argc,
                   char **argv)
{
  const char *what = _ ("cannot revoke the device");
  g_autoptr (GError) error = NULL;
  PosternDBusAgent1 *agent;
  gint64 id = 0;
  int exit_code = POSTERN_CLI_EXIT_OK;

  if (!parse_options ("revoke-device", _ ("ID"), _ ("Revoke another device of the account: its token stops working at once."),
                      NULL, &argc, &argv, &exit_code))
    return exit_code;
  if (!expect_arguments ("revoke-device", argc, 1, 1, &exit_code))
    return exit_code;
  if (!g_ascii_string_to_signed (argv[1], 10, 1, G_MAXINT64, &id, &error))
    return postern_cli_usage_error ("revoke-device", "%s", error->message);
  if ((agent = get_agent (cli, what, &exit_code)) == NULL)
    return exit_code;
  if (!postern_dbus_agent1_call_revoke_device_sync (agent, id, NULL, &error))
    return postern_cli_report_error (what, error);
  return POSTERN_CLI_EXIT_OK;
}

/* pending, sync */

static void
print_pending_row (JsonObject *item)
{
  g_print ("%s  %-8s %s\n",
           object_string (item, "queued_at") ? object_string (item, "queued_at") : "",
           object_string (item, "op") ? object_string (item, "op") : "",
           object_string (item, "channel_id") ? object_string (item, "channel_id") : "");
}

static const ListCommand pending_command = {
  "pending",
  N_ ("List changes queued while the server was out of reach."),
  N_ ("cannot list pending changes"),
  postern_dbus_agent1_call_list_pending_sync,
  print_pending_row,
};

static int
cmd_pending (PosternCli *cli,
             int argc,
             char **argv)
{
  return run_list_command (cli, &pending_command, argc, argv);
}

static int
cmd_sync (PosternCli *cli,
          int argc,
          char **argv)
{
  const char *what = _ ("cannot sync");
  g_autoptr (GError) error = NULL;
  PosternDBusAgent1 *agent;
  int exit_code = POSTERN_CLI_EXIT_OK;

  if (!parse_options ("sync", "", _ ("Sync with the server now and send queued changes."),
                      NULL, &argc, &argv, &exit_code))
    return exit_code;
  if (!expect_arguments ("sync", argc, 0, 0, &exit_code))
    return exit_code;
  if ((agent = get_agent (cli, what, &exit_code)) == NULL)
    return exit_code;
  if (!postern_dbus_agent1_call_sync_now_sync (agent, NULL, &error))
    return postern_cli_report_error (what, error);
  return POSTERN_CLI_EXIT_OK;
}

static const PosternCliCommand commands[] = {
  { "new", "--label LABEL [--one-time|--kind KIND] [--expect SENDER] [--copy] [--qr]", N_ ("Create a channel and print its address"), cmd_new },
  { "list", "[--json] [--all]", N_ ("List channels"), cmd_list },
  { "show", "ID|ADDRESS [--json] [--qr]", N_ ("Show one channel"), cmd_show },
  { "revoke", "ID|ADDRESS", N_ ("Close a channel for good"), cmd_revoke },
  { "pause", "ID|ADDRESS", N_ ("Pause a channel (senders retry later)"), cmd_pause },
  { "resume", "ID|ADDRESS", N_ ("Resume a paused channel"), cmd_resume },
  { "trust", "ID|ADDRESS SENDER", N_ ("Add an expected sender"), cmd_trust },
  { "untrust", "ID|ADDRESS SENDER", N_ ("Remove an expected sender"), cmd_untrust },
  { "block", "SENDER [--channel ID]", N_ ("Refuse a sender or domain"), cmd_block },
  { "events", "[--channel ID] [--follow] [--json]", N_ ("Show mail seen on the channels"), cmd_events },
  { "pair", "URI | SERVER CODE [--yes]", N_ ("Pair with a server"), cmd_pair },
  { "status", "[--json]", N_ ("Show the account and connection"), cmd_status },
  { "held", "[--json]", N_ ("List held mail"), cmd_held },
  { "release", "ID", N_ ("Deliver a held message"), cmd_release },
  { "drop", "ID", N_ ("Delete a held message"), cmd_drop },
  { "timeline", "ID|ADDRESS [--json]", N_ ("Show when an address was given out and what came"), cmd_timeline },
  { "devices", "[--json]", N_ ("List the account's devices"), cmd_devices },
  { "revoke-device", "ID", N_ ("Revoke another device"), cmd_revoke_device },
  { "pending", "[--json]", N_ ("List changes waiting for the server"), cmd_pending },
  { "sync", "", N_ ("Sync now"), cmd_sync },
};

const PosternCliCommand *
postern_cli_get_commands (guint *n_commands)
{
  *n_commands = G_N_ELEMENTS (commands);
  return commands;
}
