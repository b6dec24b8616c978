/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

#include "postern-enums.h"

G_BEGIN_DECLS

/*
 * Channel local parts from the OS CSPRNG (getrandom(2)).
 *
 * RANDOM: 11 characters from a 31-symbol alphabet without confusables
 *   (no 0/o, 1/l/i), about 54.5 bits.
 * WORDS: words from an embedded list joined by '-' plus digits,
 *   at least 40 bits; the exact figure is postern_address_style_entropy_bits().
 *
 * Both are valid dot-atom local parts of at most 64 octets, lower case.
 */
char *postern_address_generate_local_part (PosternAddressStyle style);
double postern_address_style_entropy_bits (PosternAddressStyle style);

/* Fills @buffer from the OS CSPRNG; aborts only if the kernel cannot give
 * randomness at all (there is no safe fallback). */
void postern_random_bytes (void *buffer, gsize length);

/* A uniformly distributed integer in [0, @upper_bound) from the CSPRNG,
 * by rejection sampling (no modulo bias). @upper_bound must be > 0. */
guint32 postern_random_uniform (guint32 upper_bound);

/* The embedded word list of the WORDS style (lower-case a-z, unique). */
const char *const *postern_address_get_words (guint *n_words);

G_END_DECLS
