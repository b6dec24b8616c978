/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

/*
 * A blocking SMTP client for tests and bench/: run it on its own thread
 * while the server runs on the main context.
 */
typedef struct _ApiSmtpClient ApiSmtpClient;

ApiSmtpClient *api_smtp_connect (guint16 port, GError **error);
/* One transaction; TRUE when the server answered 250 after DATA. */
gboolean api_smtp_send (ApiSmtpClient *self, const char *from, const char *to, const char *message, GError **error);
void api_smtp_close (ApiSmtpClient *self);
