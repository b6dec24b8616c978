/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib-object.h>

#include "pd-smtp-session.h"
#include "pd-store.h"

G_BEGIN_DECLS

#define PD_TYPE_INGEST (pd_ingest_get_type ())
G_DECLARE_FINAL_TYPE (PdIngest, pd_ingest, PD, INGEST, GObject)

/*
 * The SMTP sessions' backend in production: finds the channel of each
 * recipient in the store, asks the core's postern_verdict_decide() (the
 * only place the rule lives) at RCPT and again after DATA with the header
 * From, binds one-time channels, and commits every message seen (refused
 * recipients too) through pd_store_commit_message_async(). A 250 after
 * DATA is only sent once that commit is on disk.
 */
PdIngest *pd_ingest_new (PdStore *store);

/* The backend functions; pass the PdIngest as their data. */
const PdSmtpBackend *pd_ingest_get_backend (void);

/* The Received: trace field we prepend to stored mail (exposed for
 * tests). @recipient is NULL when there are several. */
char *pd_ingest_format_received (PdSmtpSession *session, const char *recipient, GDateTime *when);

G_END_DECLS
