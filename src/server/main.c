/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

/* Placeholder until the SMTP ingest lands its main.c. */
int
main (void)
{
  return 0;
}
