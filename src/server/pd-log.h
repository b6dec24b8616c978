/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

void pd_log_install (void);

/* One line as the writer prints it (GLib's text format, local time of
 * @real_time, in µs since the epoch). */
char *pd_log_format_line (GLogLevelFlags level, const char *domain, const char *text, gint64 real_time);

G_END_DECLS
