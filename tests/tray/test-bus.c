/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "test-bus.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib/gstdio.h>

#define BUS_START_TIMEOUT_MS 10000
#define CALL_TIMEOUT_MS      5000

static const char bus_config[] = "<!DOCTYPE busconfig PUBLIC \"-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN\"\n"
                                 " \"http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd\">\n"
                                 "<busconfig>\n"
                                 "  <type>session</type>\n"
                                 "  <listen>unix:dir=%s</listen>\n"
                                 "  <auth>EXTERNAL</auth>\n"
                                 "  <policy context=\"default\">\n"
                                 "    <allow send_destination=\"*\" eavesdrop=\"true\"/>\n"
                                 "    <allow eavesdrop=\"true\"/>\n"
                                 "    <allow own=\"*\"/>\n"
                                 "  </policy>\n"
                                 "</busconfig>\n";

/* Reads the address line dbus-daemon prints, bounded in time and size. */
static char *
read_address (int fd)
{
  g_autoptr (GString) line = g_string_new (NULL);
  gint64 deadline = g_get_monotonic_time () + BUS_START_TIMEOUT_MS * G_TIME_SPAN_MILLISECOND;

  while (line->len < 4096)
    {
      struct pollfd pfd = { fd, POLLIN, 0 };
      int timeout = (int)((deadline - g_get_monotonic_time ()) / 1000);
      char c;
      ssize_t n;

      if (timeout <= 0 || poll (&pfd, 1, timeout) <= 0)
        return NULL;
      n = read (fd, &c, 1);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        return NULL;
      if (c == '\n')
        return g_string_free (g_steal_pointer (&line), FALSE);
      g_string_append_c (line, c);
    }
  return NULL;
}

/* If the test dies (a failed assertion aborts), the daemon goes with it
 * instead of holding the test's output open until the harness times out. */
static void
child_setup_cb (gpointer user_data)
{
  prctl (PR_SET_PDEATHSIG, SIGTERM);
}

TestBus *
test_bus_start (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *config_path = NULL;
  g_autofree char *config = NULL;
  g_autofree char *config_arg = NULL;
  TestBus *bus = g_new0 (TestBus, 1);
  int out_fd = -1;
  const char *argv[] = { "dbus-daemon", NULL, "--nofork", "--print-address=1", NULL };

  bus->tmpdir = g_dir_make_tmp ("postern-tray-XXXXXX", &error);
  g_assert_no_error (error);
  config_path = g_build_filename (bus->tmpdir, "bus.conf", NULL);
  config = g_strdup_printf (bus_config, bus->tmpdir);
  g_file_set_contents (config_path, config, -1, &error);
  g_assert_no_error (error);
  config_arg = g_strconcat ("--config-file=", config_path, NULL);
  argv[1] = config_arg;

  if (!g_spawn_async_with_pipes (NULL, (char **)argv, NULL,
                                 G_SPAWN_SEARCH_PATH | G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_STDERR_TO_DEV_NULL,
                                 child_setup_cb, NULL, &bus->pid, NULL, &out_fd, NULL, &error))
    g_error ("dbus-daemon is needed for the tray tests (apt install dbus-daemon): %s",
             error->message);

  bus->address = read_address (out_fd);
  close (out_fd);
  if (bus->address == NULL)
    g_error ("dbus-daemon printed no address within %d ms", BUS_START_TIMEOUT_MS);
  return bus;
}

void
test_bus_stop (TestBus *bus)
{
  g_autofree char *config_path = g_build_filename (bus->tmpdir, "bus.conf", NULL);
  g_autoptr (GDir) dir = NULL;
  const char *name;

  kill (bus->pid, SIGTERM);
  waitpid (bus->pid, NULL, 0);
  g_spawn_close_pid (bus->pid);

  /* The socket and the config are all the directory holds. */
  dir = g_dir_open (bus->tmpdir, 0, NULL);
  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *path = g_build_filename (bus->tmpdir, name, NULL);
      g_unlink (path);
    }
  g_rmdir (bus->tmpdir);

  g_free (bus->tmpdir);
  g_free (bus->address);
  g_free (bus);
}

GDBusConnection *
test_bus_connect (TestBus *bus)
{
  g_autoptr (GError) error = NULL;
  GDBusConnection *connection;

  connection = g_dbus_connection_new_for_address_sync (bus->address,
                                                       G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT | G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
                                                       NULL, NULL, &error);
  g_assert_no_error (error);
  g_dbus_connection_set_exit_on_close (connection, FALSE);
  return connection;
}

void
test_bus_close (GDBusConnection **connection)
{
  if (*connection == NULL)
    return;
  g_dbus_connection_close_sync (*connection, NULL, NULL);
  g_clear_object (connection);
}

static gboolean
tick_cb (gpointer user_data)
{
  return G_SOURCE_CONTINUE;
}

/* Runs the main context until *flag is set or @timeout_ms passed. */
gboolean
tray_spin_until (gboolean *flag,
                 guint timeout_ms)
{
  gint64 deadline = g_get_monotonic_time () + timeout_ms * G_TIME_SPAN_MILLISECOND;
  guint tick = g_timeout_add (10, tick_cb, NULL);

  while (!*flag && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, TRUE);
  g_source_remove (tick);
  return *flag;
}

void
tray_spin_for (guint ms)
{
  gboolean never = FALSE;

  tray_spin_until (&never, ms);
}

typedef struct
{
  gboolean done;
  GVariant *reply;
  GError *error;
} CallData;

static void
call_done_cb (GObject *object,
              GAsyncResult *result,
              gpointer user_data)
{
  CallData *data = user_data;

  data->reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (object), result, &data->error);
  data->done = TRUE;
}

/* An asynchronous call waited for in the default main context: the callee
 * may live in this very process and needs the context to answer. */
GVariant *
tray_call (GDBusConnection *connection,
           const char *bus_name,
           const char *object_path,
           const char *interface_name,
           const char *method_name,
           GVariant *parameters,
           const GVariantType *reply_type,
           GError **error)
{
  CallData data = { FALSE, NULL, NULL };

  g_dbus_connection_call (connection, bus_name, object_path, interface_name, method_name,
                          parameters, reply_type, G_DBUS_CALL_FLAGS_NO_AUTO_START,
                          CALL_TIMEOUT_MS, NULL, call_done_cb, &data);
  /* The call itself times out after CALL_TIMEOUT_MS; wait a little longer. */
  tray_spin_until (&data.done, CALL_TIMEOUT_MS + 1000);
  g_assert_true (data.done);
  if (data.error != NULL)
    g_propagate_error (error, data.error);
  return data.reply;
}
