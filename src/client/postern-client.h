/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

/* The client library: everything the agent needs to talk to posternd and
 * keep the account in the keyring. */

#include "postern-api-client.h"
#include "postern-client-error.h"
#include "postern-fingerprint.h"
#include "postern-live-connection.h"
#include "postern-mutation.h"
#include "postern-secret-store.h"
#include "postern-sync-engine.h"
