/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "postern-core-error.h"

G_DEFINE_QUARK (postern - core - error - quark, postern_core_error)
