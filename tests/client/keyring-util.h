/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Inside tests/desktop-session.sh: lock the login keyring through the
 * Secret Service, and unlock it again without a prompt (gnome-keyring's
 * internal master-password call with $POSTERN_TEST_KEYRING_PASSWORD). */
void keyring_test_lock (void);
void keyring_test_unlock (void);

G_END_DECLS
