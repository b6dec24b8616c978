/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* write(2) until all of @data is written, retrying on EINTR. FALSE with
 * errno set when a write fails. */
gboolean pd_write_all (int fd, const void *data, gsize size);

G_END_DECLS
