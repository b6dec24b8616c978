/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "pd-io.h"

#include <errno.h>
#include <unistd.h>

gboolean
pd_write_all (int fd,
              const void *data,
              gsize size)
{
  const char *p = data;

  while (size > 0)
    {
      gssize n = write (fd, p, size);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        return FALSE;
      p += n;
      size -= (gsize)n;
    }

  return TRUE;
}
