/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/*
 * Delivers @message into the Maildir @maildir (an absolute path), creating
 * it and its cur/, new/ and tmp/ (mode 0700) when missing.
 *
 * @prepend_headers (nullable) is written before the message: complete
 * header lines such as "X-Postern-Channel: ...\r\n". Line ends are stored
 * as LF, as Maildir readers expect; CRLF in the input becomes LF.
 *
 * The file is written in tmp/ under a unique name
 * (`SECONDS.MMICROSPPIDQCOUNTERRRANDOM.HOST`), fsync'd, linked into new/
 * (never replacing a file), and new/ is fsync'd: on return TRUE the message
 * is durable. @out_filename (nullable) receives the path of the file in new/.
 *
 * Thread-safe; blocking (call it from a worker thread).
 */
gboolean pd_maildir_deliver (const char *maildir, GBytes *message, const char *prepend_headers, char **out_filename, GError **error);

G_END_DECLS
