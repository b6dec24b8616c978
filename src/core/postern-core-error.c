/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "postern-core-error.h"

/* clang-format would space the dashes, and the quark name with them. */
// clang-format off
G_DEFINE_QUARK (postern-core-error-quark, postern_core_error)
// clang-format on
