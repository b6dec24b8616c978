/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define POSTERN_CORE_ERROR (postern_core_error_quark ())

/**
 * PosternCoreError:
 * @POSTERN_CORE_ERROR_INVALID_ADDRESS: a mailbox failed to parse
 * @POSTERN_CORE_ERROR_INVALID_PATTERN: a sender pattern failed to parse
 * @POSTERN_CORE_ERROR_INVALID_VALUE: a field holds a value it may not hold
 * @POSTERN_CORE_ERROR_INVALID_JSON: JSON is malformed or has a wrong type;
 *   the message names the member
 * @POSTERN_CORE_ERROR_QR: the QR payload cannot be encoded
 */
typedef enum
{
  POSTERN_CORE_ERROR_INVALID_ADDRESS,
  POSTERN_CORE_ERROR_INVALID_PATTERN,
  POSTERN_CORE_ERROR_INVALID_VALUE,
  POSTERN_CORE_ERROR_INVALID_JSON,
  POSTERN_CORE_ERROR_QR,
} PosternCoreError;

GQuark postern_core_error_quark (void);

G_END_DECLS
