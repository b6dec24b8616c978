/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <glib/gi18n.h>
#include <locale.h>

#include "postern-cli.h"

static void
print_usage (void)
{
  const PosternCliCommand *commands;
  guint n_commands;

  commands = postern_cli_get_commands (&n_commands);
  g_print ("%s\n  posternctl %s\n\n%s\n", _ ("Usage:"), _ ("COMMAND [OPTION…]"), _ ("Commands:"));
  for (guint i = 0; i < n_commands; i++)
    g_print ("  %-13s %s\n", commands[i].name, _ (commands[i].summary));
  g_print ("\n%s\n", _ ("“posternctl COMMAND --help” describes each command's options."));
  g_print ("%s\n", _ ("Exit status: 0 success, 1 refused by the agent or server, 2 usage error, 3 agent not reachable or not paired."));
}

int
main (int argc,
      char *argv[])
{
  g_autoptr (PosternCli) cli = NULL;
  const PosternCliCommand *commands;
  guint n_commands;

  setlocale (LC_ALL, "");
  bindtextdomain (GETTEXT_PACKAGE, LOCALEDIR);
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
  textdomain (GETTEXT_PACKAGE);
  g_set_prgname ("posternctl");

  if (argc < 2)
    {
      print_usage ();
      return POSTERN_CLI_EXIT_USAGE;
    }
  if (g_str_equal (argv[1], "--help") || g_str_equal (argv[1], "-h") || g_str_equal (argv[1], "help"))
    {
      print_usage ();
      return POSTERN_CLI_EXIT_OK;
    }
  if (g_str_equal (argv[1], "--version"))
    {
      g_print ("posternctl %s\n", PACKAGE_VERSION);
      return POSTERN_CLI_EXIT_OK;
    }

  cli = postern_cli_new ();
  commands = postern_cli_get_commands (&n_commands);
  for (guint i = 0; i < n_commands; i++)
    {
      if (g_str_equal (argv[1], commands[i].name))
        return commands[i].run (cli, argc - 1, argv + 1);
    }

  return postern_cli_usage_error (NULL, _ ("unknown command “%s”"), argv[1]);
}
