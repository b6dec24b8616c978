/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include "postern-mailbox.h"

G_BEGIN_DECLS

/* Shared with the sender pattern parser; not part of the public API. */
gboolean postern_mailbox_check_local_part (const char *local, gsize length, GError **error);
char *postern_domain_normalize_full (const char *domain, gsize length, gboolean allow_single_label, GError **error);
gboolean postern_mailbox_local_part_equal (const char *a, const char *b);
/* Octets of @local_part before a `+tag`. */
gsize postern_mailbox_base_length (const char *local_part);

G_END_DECLS
