/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <time.h>

#include "postern-channel-store.h"

/*
 * Time to filter N channels (default 10,000) on each keystroke, through the
 * app's own model (GListStore → GtkFilterListModel → GtkSortListModel),
 * plus the time to load them from the agent's JSON and the memory they
 * take. Target: a keystroke under 16 ms (one frame at 60 Hz).
 *
 *   bench-filter [N]
 */

#define ROUNDS 5

static const char *labels[] = { "Recruiter", "Bike shop", "Newsletter", "Dentist", "Landlord",
                                "Bank", "Gym", "Conference", "Airline", "Insurance" };

static const char *domains[] = { "acme", "velo", "news", "smile", "rent", "bank", "fit", "conf", "fly", "safe" };

static char *
make_json (guint n)
{
  GString *json = g_string_new ("[");

  for (guint i = 0; i < n; i++)
    {
      g_autofree char *uuid = postern_uuid_new ();

      g_string_append_printf (json,
                              "%s{\"id\":\"%s\",\"address\":\"c%08x%02u@ch.example.org\","
                              "\"label\":\"%s %u\",\"note\":\"\",\"kind\":\"relationship\","
                              "\"state\":\"%s\",\"on_unexpected\":\"alert\",\"farewell\":\"refuse\","
                              "\"farewell_text\":\"\",\"created_at\":\"2026-%02u-%02uT10:00:00Z\","
                              "\"expires_at\":null,\"revision\":%u,"
                              "\"expected_senders\":[\"contact%u@%s.example\"]}",
                              i == 0 ? "" : ",", uuid, g_random_int (), i % 100,
                              labels[i % G_N_ELEMENTS (labels)], i,
                              i % 10 == 0 ? "revoked" : (i % 7 == 0 ? "paused" : "active"),
                              1 + i % 11, 1 + i % 28, i + 1, i, domains[i % G_N_ELEMENTS (domains)]);
    }
  g_string_append_c (json, ']');

  return g_string_free (json, FALSE);
}

static long
rss_kib (void)
{
  g_autofree char *status = NULL;
  const char *line;

  if (!g_file_get_contents ("/proc/self/status", &status, NULL, NULL))
    return -1;
  line = strstr (status, "VmRSS:");
  return line != NULL ? strtol (line + 6, NULL, 10) : -1;
}

static int
compare_doubles (gconstpointer a,
                 gconstpointer b)
{
  double x = *(const double *)a, y = *(const double *)b;

  return x < y ? -1 : x > y;
}

/* Applies @search and touches what a list view would show: the count and
 * the first screenful of rows. */
/* CPU time of this thread, in ms: on a loaded machine wall time measures
 * the neighbours. */
static double
cpu_ms (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec * 1000.0 + ts.tv_nsec / 1e6;
}

static double
keystroke (PosternChannelStore *store,
           const char *search,
           double *wall_ms)
{
  GListModel *model = postern_channel_store_get_model (store);
  gint64 start = g_get_monotonic_time ();
  double cpu = cpu_ms ();
  guint n;

  postern_channel_store_set_search (store, search);
  n = g_list_model_get_n_items (model);
  for (guint i = 0; i < MIN (n, 20); i++)
    g_object_unref (g_list_model_get_item (model, i));

  *wall_ms = (g_get_monotonic_time () - start) / 1000.0;
  return cpu_ms () - cpu;
}

int
main (int argc,
      char *argv[])
{
  guint n = argc > 1 ? (guint)g_ascii_strtoull (argv[1], NULL, 10) : 10000;
  g_autoptr (PosternChannelStore) store = postern_channel_store_new ();
  g_autoptr (GError) error = NULL;
  g_autoptr (GArray) times = g_array_new (FALSE, FALSE, sizeof (double));
  g_autoptr (GArray) walls = g_array_new (FALSE, FALSE, sizeof (double));
  g_autofree char *json = make_json (n);
  const char *typed = "recruiter 12";
  long rss_before, rss_after;
  gint64 start;
  double load_ms;
  double worst_filter = 0;

  rss_before = rss_kib ();
  start = g_get_monotonic_time ();
  if (!postern_channel_store_load_channels (store, json, &error))
    g_error ("%s", error->message);
  /* The sorted model is what the list view reads. */
  g_assert_cmpuint (g_list_model_get_n_items (postern_channel_store_get_model (store)), ==, n);
  load_ms = (g_get_monotonic_time () - start) / 1000.0;
  g_clear_pointer (&json, g_free);
#ifdef __GLIBC__
  /* Count what the model keeps, not the freed parse tree. */
  malloc_trim (0);
#endif
  rss_after = rss_kib ();

  for (guint round = 0; round < ROUNDS; round++)
    {
      /* Type a search letter by letter, erase it, then a miss. */
      for (gsize len = 1; len <= strlen (typed); len++)
        {
          g_autofree char *prefix = g_strndup (typed, len);
          double wall;
          double ms = keystroke (store, prefix, &wall);

          g_array_append_val (times, ms);
          g_array_append_val (walls, wall);
        }
      for (gsize len = strlen (typed); len-- > 0;)
        {
          g_autofree char *prefix = g_strndup (typed, len);
          double wall;
          double ms = keystroke (store, prefix, &wall);

          g_array_append_val (times, ms);
          g_array_append_val (walls, wall);
        }
      for (guint f = POSTERN_CHANNEL_FILTER_ACTIVE; f <= POSTERN_CHANNEL_FILTER_ALERTS; f++)
        {
          double t = cpu_ms ();
          double ms;

          postern_channel_store_set_filter (store, f);
          g_list_model_get_n_items (postern_channel_store_get_model (store));
          ms = cpu_ms () - t;
          worst_filter = MAX (worst_filter, ms);
        }
      postern_channel_store_set_filter (store, POSTERN_CHANNEL_FILTER_ALL);
    }

  g_array_sort (times, compare_doubles);
  g_array_sort (walls, compare_doubles);
  g_print ("channels: %u\n", n);
  g_print ("load from agent JSON: %.1f ms\n", load_ms);
  g_print ("memory for the model: %ld KiB (RSS kept after loading)\n", rss_after - rss_before);
  g_print ("keystroke (search, %u samples), CPU time: median %.2f ms, p95 %.2f ms, max %.2f ms (target < 16 ms)\n",
           times->len,
           g_array_index (times, double, times->len / 2),
           g_array_index (times, double, times->len * 95 / 100),
           g_array_index (times, double, times->len - 1));
  g_print ("keystroke, wall time (machine load included): median %.2f ms, p95 %.2f ms, max %.2f ms\n",
           g_array_index (walls, double, walls->len / 2),
           g_array_index (walls, double, walls->len * 95 / 100),
           g_array_index (walls, double, walls->len - 1));
  g_print ("state filter switch, CPU time: max %.2f ms\n", worst_filter);

  return 0;
}
