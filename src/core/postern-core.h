/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include "postern-address-generator.h"
#include "postern-block-entry.h"
#include "postern-channel.h"
#include "postern-core-error.h"
#include "postern-enums.h"
#include "postern-event.h"
#include "postern-json.h"
#include "postern-mailbox.h"
#include "postern-qr.h"
#include "postern-sender-pattern.h"
#include "postern-verdict.h"
