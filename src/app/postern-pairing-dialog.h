/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <adwaita.h>
#include <json-glib/json-glib.h>

#include "postern-application.h"

G_BEGIN_DECLS

#define POSTERN_TYPE_PAIRING_DIALOG (postern_pairing_dialog_get_type ())

G_DECLARE_FINAL_TYPE (PosternPairingDialog, postern_pairing_dialog, POSTERN, PAIRING_DIALOG, AdwWindow)

/*
 * Pairing with a server: a postern://pair?server=…&code=…&fp=… link, or a
 * server and a code; then the server certificate's SHA-256 fingerprint for
 * the user to compare (and checked against the link's), and only then
 * Pair. Widget action: pairing.next.
 */
GtkWidget *postern_pairing_dialog_new (PosternApplication *application,
                                       GtkWindow *parent,
                                       const char *uri);

/* For tests: what the dialog shows, as members of the current object. */
void postern_pairing_dialog_dump_state (PosternPairingDialog *self,
                                        JsonBuilder *builder);

/* Parses a pairing link; the out strings are NULL when absent. */
gboolean postern_pairing_parse_uri (const char *uri,
                                    char **out_server,
                                    char **out_code,
                                    char **out_fingerprint,
                                    GError **error);
/* Compares fingerprints ignoring case and colons. */
gboolean postern_pairing_fingerprint_equal (const char *a,
                                            const char *b);

G_END_DECLS
