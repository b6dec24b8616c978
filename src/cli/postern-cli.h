/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <json-glib/json-glib.h>

#include "postern-agent-dbus.h"

G_BEGIN_DECLS

/* Exit codes a shell user can rely on (docs/posternctl.md). */
typedef enum
{
  POSTERN_CLI_EXIT_OK = 0,
  POSTERN_CLI_EXIT_FAILED = 1,      /* the agent or the server refused */
  POSTERN_CLI_EXIT_USAGE = 2,       /* bad command line */
  POSTERN_CLI_EXIT_UNAVAILABLE = 3, /* agent not reachable, or not paired */
} PosternCliExit;

/* How long one D-Bus call may take: pairing and mutations may wait on the
 * network inside the agent, which has its own shorter timeouts. */
#define POSTERN_CLI_CALL_TIMEOUT_MS 60000

typedef struct _PosternCli PosternCli;

typedef int (*PosternCliCommandFunc) (PosternCli *cli,
                                      int argc,
                                      char **argv);

typedef struct
{
  const char *name;
  const char *args;    /* usage synopsis after the name */
  const char *summary; /* one line, translatable (N_) */
  PosternCliCommandFunc run;
} PosternCliCommand;

/* postern-cli-commands.c */
const PosternCliCommand *postern_cli_get_commands (guint *n_commands);
PosternCli *postern_cli_new (void);
void postern_cli_free (PosternCli *cli);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PosternCli, postern_cli_free)

/* postern-cli-output.c: printing and the helpers that talk to the desktop. */
int postern_cli_report_error (const char *what,
                              const GError *error);
int postern_cli_usage_error (const char *command,
                             const char *format,
                             ...) G_GNUC_PRINTF (2, 3);
JsonNode *postern_cli_parse_json (const char *text,
                                  GError **error);
void postern_cli_print_json (JsonNode *node);
void postern_cli_print_channel_row (JsonObject *channel);
void postern_cli_print_channel_detail (JsonObject *channel);
void postern_cli_print_event (JsonObject *event);
void postern_cli_print_status (GVariant *status);
gboolean postern_cli_print_qr (const char *address,
                               GError **error);
gboolean postern_cli_copy_to_clipboard (const char *text,
                                        GError **error);

G_END_DECLS
