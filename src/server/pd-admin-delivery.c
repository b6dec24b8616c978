/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <errno.h>

#include "pd-admin-delivery.h"
#include "pd-delivery.h"
#include "pd-store.h"

/* Rows `queue list` prints at most. */
#define QUEUE_LIST_MAX 10000

static int
fail (const char *what,
      const GError *error)
{
  g_printerr ("posternd: %s%s%s\n", what, error != NULL ? ": " : "", error != NULL ? error->message : "");
  return 1;
}

static int
usage (const char *text)
{
  g_printerr ("Usage: posternd %s\n", text);
  return 2;
}

static PdStore *
open_store (PdConfig *config)
{
  g_autoptr (GError) error = NULL;
  PdStore *store;

  if (g_mkdir_with_parents (config->state_dir, 0700) != 0)
    {
      g_printerr ("posternd: cannot create %s: %s\n", config->state_dir, g_strerror (errno));
      return NULL;
    }
  store = pd_store_open (config->state_dir, &error);
  if (store == NULL)
    fail ("cannot open the store", error);
  return store;
}

static char *
format_time (gint64 unix_seconds)
{
  g_autoptr (GDateTime) when = g_date_time_new_from_unix_utc (unix_seconds);

  return when != NULL ? g_date_time_format_iso8601 (when) : g_strdup ("-");
}

/* Client-written text on one line of tab-separated output. */
static char *
one_field (const char *text)
{
  char *out = g_strdup (text != NULL && *text != '\0' ? text : "-");

  for (char *p = out; *p != '\0'; p++)
    if (*p == '\t' || *p == '\n' || *p == '\r')
      *p = ' ';
  return out;
}

static int
held_list (PdStore *store,
           PdUser *user)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) held = pd_store_list_held (store, user->id, &error);

  if (held == NULL)
    return fail ("cannot list held mail", error);
  for (guint i = 0; i < held->len; i++)
    {
      PdDelivery *delivery = g_ptr_array_index (held, i);
      g_autoptr (PosternChannel) channel = pd_store_get_channel (store, user->id, delivery->channel_id, NULL);
      g_autofree char *when = format_time (postern_event_get_received_at (delivery->event));
      g_autofree char *sender = one_field (postern_event_get_envelope_sender (delivery->event));
      g_autofree char *from = one_field (postern_event_get_header_from (delivery->event));
      g_autofree char *subject = one_field (postern_event_get_subject (delivery->event));

      g_print ("%" G_GINT64_FORMAT "\t%s\t%s\t%s\t%s\t%s\n", delivery->id, when,
               channel != NULL ? postern_channel_get_address (channel) : delivery->channel_id, sender, from, subject);
    }
  return 0;
}

int
pd_admin_held (PdConfig *config,
               int argc,
               char **argv)
{
  g_autoptr (PdStore) store = NULL;
  g_autoptr (PdUser) user = NULL;
  g_autoptr (GError) error = NULL;
  const char *verb = argc > 1 ? argv[1] : "";
  gboolean list = g_str_equal (verb, "list");
  gboolean release = g_str_equal (verb, "release");
  gint64 id = 0;

  if ((list && argc != 3) || ((release || g_str_equal (verb, "drop")) && argc != 4) || (!list && !release && !g_str_equal (verb, "drop")))
    return usage ("held list USER | held release USER ID | held drop USER ID");
  if (!list && !g_ascii_string_to_signed (argv[3], 10, 1, G_MAXINT64, &id, NULL))
    return usage ("held release|drop USER ID (the ID that held list prints)");

  store = open_store (config);
  if (store == NULL)
    return 1;
  user = pd_store_lookup_user (store, argv[2], &error);
  if (user == NULL)
    return fail ("no such user", error);
  if (list)
    return held_list (store, user);

  if (release ? !pd_store_release_held (store, user->id, id, &error) : !pd_store_drop_held (store, user->id, id, &error))
    return fail (release ? "cannot release" : "cannot drop", error);
  if (release)
    {
      g_clear_error (&error);
      /* A running posternd watches this file: it delivers at once. */
      if (!pd_delivery_wake (config->state_dir, &error))
        g_printerr ("posternd: released, but could not wake the daemon (it delivers at its next run): %s\n", error->message);
    }
  g_print ("%s %" G_GINT64_FORMAT "\n", release ? "released" : "dropped", id);
  return 0;
}

int
pd_admin_queue (PdConfig *config,
                int argc,
                char **argv)
{
  g_autoptr (PdStore) store = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) rows = NULL;

  if (argc != 2 || (!g_str_equal (argv[1], "list") && !g_str_equal (argv[1], "flush")))
    return usage ("queue list | queue flush");
  store = open_store (config);
  if (store == NULL)
    return 1;
  if (g_str_equal (argv[1], "flush"))
    {
      gint64 moved = pd_store_reschedule_pending (store, g_get_real_time () / G_USEC_PER_SEC, &error);

      if (moved < 0)
        return fail ("cannot flush the queue", error);
      /* A running posternd watches this file: it tries them at once. */
      if (!pd_delivery_wake (config->state_dir, &error))
        g_printerr ("posternd: could not wake the daemon (it tries them at its next run): %s\n", error->message);
      g_print ("%" G_GINT64_FORMAT " deliveries due now\n", moved);
      return 0;
    }
  rows = pd_store_list_pending (store, QUEUE_LIST_MAX, &error);
  if (rows == NULL)
    return fail ("cannot list the queue", error);
  for (guint i = 0; i < rows->len; i++)
    {
      PdDelivery *delivery = g_ptr_array_index (rows, i);
      g_autoptr (PdUser) user = pd_store_get_user (store, delivery->user_id, NULL);
      g_autofree char *created = format_time (delivery->created_at);
      g_autofree char *next = format_time (delivery->next_attempt_at);
      g_autofree char *sender = one_field (postern_event_get_envelope_sender (delivery->event));
      g_autofree char *last_error = one_field (delivery->last_error);

      g_print ("%" G_GINT64_FORMAT "\t%s\t%s\t%s\t%d\t%s\t%" G_GINT64_FORMAT "\t%s\t%s\n", delivery->id,
               user != NULL ? user->name : "-", delivery->target, created, delivery->attempts, next,
               delivery->next_attempt_at, sender, last_error);
    }
  return 0;
}
