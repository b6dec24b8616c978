/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * posternd's log writer. GLib's default writer looks up, for every line,
 * whether stderr is a terminal (an ioctl) and the local time zone (a stat
 * of /etc/localtime): three syscalls a line, three lines a message on the
 * ingest path. This writer keeps GLib's text format for messages, info
 * and debug lines written to a file or pipe, with the terminal check and
 * the time zone done once, and one write(2) per line. Warnings and worse,
 * a terminal, and the journal go to GLib's own writer unchanged.
 */
#include "config.h"

#include "pd-log.h"

#include "pd-io.h"

#include <string.h>
#include <unistd.h>

static const char *
level_name (GLogLevelFlags level)
{
  if (level & G_LOG_LEVEL_MESSAGE)
    return "Message";
  if (level & G_LOG_LEVEL_INFO)
    return "INFO";
  return "DEBUG";
}

static GTimeZone *
get_local_zone (void)
{
  static GTimeZone *zone;

  if (g_once_init_enter (&zone))
    g_once_init_leave (&zone, g_time_zone_new_local ());
  return zone;
}

char *
pd_log_format_line (GLogLevelFlags level,
                    const char *domain,
                    const char *text,
                    gint64 real_time)
{
  GTimeZone *zone = get_local_zone ();
  gint64 seconds = real_time / G_USEC_PER_SEC;
  gint64 local = seconds + g_time_zone_get_offset (zone, g_time_zone_find_interval (zone, G_TIME_TYPE_UNIVERSAL, seconds));

  local %= 24 * 60 * 60;
  if (local < 0)
    local += 24 * 60 * 60;
  return g_strdup_printf ("%s%s%s: %02d:%02d:%02d.%03d: %s\n",
                          domain != NULL ? domain : "** ", domain != NULL ? "-" : "", level_name (level),
                          (int)(local / 3600), (int)(local / 60 % 60), (int)(local % 60),
                          (int)(real_time / 1000 % 1000), text != NULL ? text : "(NULL) message");
}

static GLogWriterOutput
pd_log_writer (GLogLevelFlags level,
               const GLogField *fields,
               gsize n_fields,
               gpointer user_data)
{
  const char *domain = NULL;
  const char *text = NULL;
  g_autofree char *line = NULL;

  if ((level & (G_LOG_LEVEL_MESSAGE | G_LOG_LEVEL_INFO | G_LOG_LEVEL_DEBUG)) == 0 || (level & G_LOG_FLAG_FATAL) != 0)
    return g_log_writer_default (level, fields, n_fields, user_data);

  for (gsize i = 0; i < n_fields; i++)
    {
      if (g_str_equal (fields[i].key, "GLIB_DOMAIN"))
        domain = fields[i].value;
      else if (g_str_equal (fields[i].key, "MESSAGE"))
        text = fields[i].value;
    }
  if (g_log_writer_default_would_drop (level, domain))
    return G_LOG_WRITER_HANDLED;

  line = pd_log_format_line (level, domain, text, g_get_real_time ());
  /* Where GLib puts them: messages on stderr, info and debug on stdout. */
  pd_write_all (level & G_LOG_LEVEL_MESSAGE ? STDERR_FILENO : STDOUT_FILENO, line, strlen (line));
  return G_LOG_WRITER_HANDLED;
}

/* Call once, before any thread logs. */
void
pd_log_install (void)
{
  if (isatty (STDERR_FILENO) || isatty (STDOUT_FILENO) || g_log_writer_is_journald (STDERR_FILENO))
    return;
  /* The zone is read once: a changed /etc/localtime needs a restart. */
  get_local_zone ();
  g_log_set_writer_func (pd_log_writer, NULL, NULL);
}
