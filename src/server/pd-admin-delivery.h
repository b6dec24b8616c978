/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include "pd-admin.h"

G_BEGIN_DECLS

/* held list USER | release USER ID | drop USER ID: mail kept by the
 * `hold` policy. Release and drop wake a running posternd. */
int pd_admin_held (PdConfig *config, int argc, char **argv);
/* queue list: deliveries waiting for their next attempt; queue flush:
 * every one of them due now (wakes a running posternd). */
int pd_admin_queue (PdConfig *config, int argc, char **argv);

G_END_DECLS
