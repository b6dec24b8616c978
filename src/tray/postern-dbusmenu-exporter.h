/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define POSTERN_DBUSMENU_OBJECT_PATH "/MenuBar"

#define POSTERN_TYPE_DBUSMENU_EXPORTER (postern_dbusmenu_exporter_get_type ())
G_DECLARE_FINAL_TYPE (PosternDbusmenuExporter, postern_dbusmenu_exporter, POSTERN, DBUSMENU_EXPORTER, GObject)

PosternDbusmenuExporter *postern_dbusmenu_exporter_new (GDBusConnection *connection,
                                                        const char *object_path,
                                                        GMenuModel *model,
                                                        GActionGroup *actions,
                                                        GError **error);

const char *postern_dbusmenu_exporter_get_object_path (PosternDbusmenuExporter *self);
GMenuModel *postern_dbusmenu_exporter_get_model (PosternDbusmenuExporter *self);
GActionGroup *postern_dbusmenu_exporter_get_actions (PosternDbusmenuExporter *self);
guint postern_dbusmenu_exporter_get_revision (PosternDbusmenuExporter *self);

const char *postern_dbusmenu_exporter_get_status (PosternDbusmenuExporter *self);
void postern_dbusmenu_exporter_set_status (PosternDbusmenuExporter *self,
                                           const char *status);

const char *postern_dbusmenu_exporter_get_text_direction (PosternDbusmenuExporter *self);
void postern_dbusmenu_exporter_set_text_direction (PosternDbusmenuExporter *self,
                                                   const char *text_direction);

G_END_DECLS
