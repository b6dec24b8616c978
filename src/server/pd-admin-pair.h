/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include "pd-admin.h"
#include "pd-store.h"

G_BEGIN_DECLS

/* pair USER: a one-time pairing code, the postern://pair URI and its QR */
int pd_admin_pair (PdConfig *config, int argc, char **argv);
/* fingerprint: the SHA-256 fingerprint of the API certificate */
int pd_admin_fingerprint (PdConfig *config, int argc, char **argv);
/* device list USER | revoke USER ID */
int pd_admin_device (PdConfig *config, int argc, char **argv);

/* What `posternd pair` prints (for tests): the code, the URI and the QR. */
char *pd_admin_pair_describe (PdConfig *config, PdStore *store, const char *user_name, GError **error);
/* postern://pair?server=URL&code=CODE&fp=FINGERPRINT (fp omitted when NULL). */
char *pd_admin_pair_build_uri (const char *server_url, const char *code, const char *fingerprint);

G_END_DECLS
