/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <locale.h>
#include <string.h>

#include <gio/gio.h>

#include "pd-admin.h"
#include "pd-admin-delivery.h"
#include "pd-admin-pair.h"
#include "pd-api-server.h"
#include "pd-config.h"
#include "pd-delivery.h"
#include "pd-log.h"

/* posternd's subcommands. Add an entry (and its handler) to extend it. */
static const PdCommand commands[] = {
  { "run", "Serve SMTP/LMTP (the default)", pd_admin_run },
  { "user", "add NAME [--maildir DIR] [--forward-to ADDRESS] | list | remove NAME", pd_admin_user },
  { "channel", "add USER [options] | list [USER] | pause|resume|revoke ADDRESS", pd_admin_channel },
  { "block", "add USER PATTERN [--channel ADDRESS] | list USER | remove USER ID", pd_admin_block },
  { "pair", "USER: print a one-time pairing code, its URI and QR", pd_admin_pair },
  { "fingerprint", "print the SHA-256 fingerprint of the API certificate", pd_admin_fingerprint },
  { "device", "list USER | revoke USER ID", pd_admin_device },
  { "held", "list USER | release USER ID | drop USER ID", pd_admin_held },
  { "queue", "list | flush: deliveries waiting for their next attempt; try them now", pd_admin_queue },
};

static char *
describe_commands (void)
{
  GString *text = g_string_new ("Commands:\n");

  for (guint i = 0; i < G_N_ELEMENTS (commands); i++)
    g_string_append_printf (text, "  %-8s %s\n", commands[i].name, commands[i].summary);
  return g_string_free (text, FALSE);
}

/* Everything --check-config can verify without binding a port. */
static int
check_config (PdConfig *config)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GTlsCertificate) certificate = NULL;
  g_autofree char *domains = NULL;
  g_autoptr (PdDeliveryConfig) delivery = NULL;

  certificate = pd_config_load_tls_certificate (config, &error);
  if (certificate == NULL && error != NULL)
    {
      g_printerr ("posternd: %s\n", error->message);
      return 1;
    }
  if (config->smtp_listen[0] == NULL && config->lmtp_listen[0] == NULL)
    {
      g_printerr ("posternd: neither [smtp] nor [lmtp] has a listen address\n");
      return 1;
    }
  if (g_file_test (config->state_dir, G_FILE_TEST_EXISTS) && !g_file_test (config->state_dir, G_FILE_TEST_IS_DIR))
    {
      g_printerr ("posternd: [server] state_dir %s is not a directory\n", config->state_dir);
      return 1;
    }
  delivery = pd_delivery_config_load (config, &error);
  if (delivery == NULL || !pd_api_options_check_keyfile (config->keyfile, &error))
    {
      g_printerr ("posternd: %s\n", error->message);
      return 1;
    }
  domains = g_strjoinv (",", config->domains);
  g_print ("%s: configuration OK (domains: %s; smtp: %s; lmtp: %s; STARTTLS: %s)\n",
           config->path != NULL ? config->path : "defaults",
           domains,
           config->smtp_listen[0] != NULL ? config->smtp_listen[0] : "-",
           config->lmtp_listen[0] != NULL ? config->lmtp_listen[0] : "-",
           certificate != NULL ? "yes" : "no");
  return 0;
}

int
main (int argc,
      char **argv)
{
  g_autofree char *config_path = NULL;
  g_autofree char *commands_text = NULL;
  gboolean check = FALSE;
  gboolean version = FALSE;
  g_autoptr (GOptionContext) context = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (PdConfig) config = NULL;
  const char *name;
  GOptionEntry entries[] = {
    { "config", 'c', 0, G_OPTION_ARG_FILENAME, &config_path, "Configuration file (default " PD_CONFIG_DEFAULT_PATH ")", "FILE" },
    { "check-config", 0, 0, G_OPTION_ARG_NONE, &check, "Check the configuration and exit", NULL },
    { "version", 0, 0, G_OPTION_ARG_NONE, &version, "Print the version and exit", NULL },
    { NULL }
  };

  setlocale (LC_ALL, "");
  pd_log_install ();

  commands_text = describe_commands ();
  context = g_option_context_new ("[COMMAND [ARGUMENTS...]]");
  g_option_context_set_summary (context, "Postern channel server");
  g_option_context_set_description (context, commands_text);
  g_option_context_add_main_entries (context, entries, NULL);
  /* Stop at the command: its own options are its own. */
  g_option_context_set_strict_posix (context, TRUE);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      g_printerr ("posternd: %s\n", error->message);
      return 2;
    }
  if (version)
    {
      g_print ("posternd %s\n", PACKAGE_VERSION);
      return 0;
    }

  config = pd_config_load (config_path != NULL ? config_path : PD_CONFIG_DEFAULT_PATH, &error);
  if (config == NULL)
    {
      g_printerr ("posternd: %s\n", error->message);
      return 1;
    }
  if (check)
    return check_config (config);

  name = argc > 1 ? argv[1] : "run";
  for (guint i = 0; i < G_N_ELEMENTS (commands); i++)
    {
      if (g_str_equal (commands[i].name, name))
        return argc > 1 ? commands[i].handler (config, argc - 1, argv + 1)
                        : commands[i].handler (config, 1, (char *[]){ (char *)"run", NULL });
    }
  g_printerr ("posternd: unknown command \"%s\"\n%s", name, commands_text);
  return 2;
}
