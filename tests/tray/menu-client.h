/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* What a tray host does with a com.canonical.dbusmenu at /MenuBar of
 * @bus_name: GetLayout, find items by label path, send clicks. */

/* The whole menu as text: labels, "--" for separators, children in
 * brackets, "|" between siblings; "!" after an insensitive item. */
char *menu_client_describe (GDBusConnection *host,
                            const char *bus_name);
/* The id of the item at @path ("_Recent Channels/Shop/_Revoke…"), or -1;
 * @props_out receives its properties. */
int menu_client_find (GDBusConnection *host,
                      const char *bus_name,
                      const char *path,
                      GVariant **props_out);
void menu_client_click (GDBusConnection *host,
                        const char *bus_name,
                        int id);
/* Finds @path and clicks it, as a host does; when the menu changed in
 * between (the id is gone), fetches it again, a bounded number of times. */
void menu_client_click_path (GDBusConnection *host,
                             const char *bus_name,
                             const char *path);

G_END_DECLS
