/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

#include "pd-config.h"

G_BEGIN_DECLS

/*
 * posternd's subcommands. main.c holds the table of PdCommand; each
 * handler gets the loaded configuration and its own arguments (argv[0] is
 * the command's name) and returns the process exit status. Output for
 * scripts goes to stdout, one record a line, fields separated by tabs;
 * errors go to stderr.
 */
typedef int (*PdCommandFunc) (PdConfig *config, int argc, char **argv);

typedef struct
{
  const char *name;
  const char *summary; /* one line for --help */
  PdCommandFunc handler;
} PdCommand;

/* Serves SMTP/LMTP (and what other parts start with it) until SIGTERM. */
int pd_admin_run (PdConfig *config, int argc, char **argv);
/* user add NAME [--maildir DIR] [--forward-to ADDRESS] | list | remove NAME */
int pd_admin_user (PdConfig *config, int argc, char **argv);
/* channel add USER [options] | list [USER] | pause|resume|revoke ADDRESS */
int pd_admin_channel (PdConfig *config, int argc, char **argv);
/* block add USER PATTERN [--channel ADDRESS] | list USER | remove USER ID */
int pd_admin_block (PdConfig *config, int argc, char **argv);

G_END_DECLS
