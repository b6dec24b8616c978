/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <string.h>

#include "postern-client-error.h"
#include "postern-secret-store.h"

#define SECRETS_BUS_NAME       "org.freedesktop.secrets"
#define SECRETS_PATH           "/org/freedesktop/secrets"
#define SECRETS_SERVICE_IFACE  "org.freedesktop.Secret.Service"
#define SECRETS_COLLECT_IFACE  "org.freedesktop.Secret.Collection"
#define RETRY_WHILE_BLOCKED_MS (30 * 1000) /* fallback if no signal tells us */
#define DBUS_CALL_TIMEOUT_MS   (25 * 1000)
#define SECRET_MAX_VALUE       (64 * 1024 * 1024)

#define LOCKED_MESSAGE      "Unlock the login keyring to sync channels"
#define UNAVAILABLE_MESSAGE "No keyring service is running: start GNOME Keyring (or another Secret Service) to sync channels"
#define NO_DEFAULT_MESSAGE  "There is no default keyring: create one (for example the login keyring) to sync channels"

struct _PosternSecretStore
{
  GObject parent_instance;

  char *server;
  char *user;

  PosternSecretStoreState state;
  GError *error;

  /* Queued values (NULL with dirty = delete) and the one being written. */
  char *values[POSTERN_SECRET_N_KINDS];
  gboolean dirty[POSTERN_SECRET_N_KINDS];
  int inflight_kind; /* -1: none */
  char *inflight_value;
  gboolean writing;

  guint coalesce_id;
  guint retry_id;
  GList *flush_tasks;
  GList *clear_tasks; /* clears waiting for the write in flight */

  GCancellable *cancellable;
  GDBusConnection *bus;
  guint changed_signal_id;
  guint properties_signal_id;
  guint name_watch_id;
};

enum
{
  PROP_0,
  PROP_SERVER,
  PROP_USER,
  PROP_STATE,
  PROP_BUSY,
  N_PROPS
};

enum
{
  SIGNAL_ERROR,
  N_SIGNALS
};

static GParamSpec *properties[N_PROPS];
static guint signals[N_SIGNALS];

G_DEFINE_FINAL_TYPE (PosternSecretStore, postern_secret_store, G_TYPE_OBJECT)

static void write_next (PosternSecretStore *self);

static const char *const kind_names[] = {
  [POSTERN_SECRET_TOKEN] = "token",
  [POSTERN_SECRET_PIN] = "pin",
  [POSTERN_SECRET_CHANNELS] = "channels",
  [POSTERN_SECRET_PENDING] = "pending",
  [POSTERN_SECRET_EVENTS] = "events",
};

const SecretSchema *
postern_secret_schema_get (void)
{
  static const SecretSchema schema = {
    POSTERN_SECRET_SCHEMA_NAME,
    SECRET_SCHEMA_NONE,
    {
        { "server", SECRET_SCHEMA_ATTRIBUTE_STRING },
        { "user", SECRET_SCHEMA_ATTRIBUTE_STRING },
        { "kind", SECRET_SCHEMA_ATTRIBUTE_STRING },
        { NULL, 0 },
    }
  };

  return &schema;
}

const char *
postern_secret_kind_to_string (PosternSecretKind kind)
{
  g_return_val_if_fail ((guint)kind < POSTERN_SECRET_N_KINDS, NULL);
  return kind_names[kind];
}

const char *
postern_secret_store_state_to_string (PosternSecretStoreState state)
{
  switch (state)
    {
      case POSTERN_SECRET_STORE_UNKNOWN:
        return "unknown";
      case POSTERN_SECRET_STORE_READY:
        return "ready";
      case POSTERN_SECRET_STORE_LOCKED:
        return "locked";
      case POSTERN_SECRET_STORE_UNAVAILABLE:
        return "unavailable";
      default:
        return "invalid";
    }
}

/* Any libsecret/D-Bus failure, as one of our keyring errors. */
static GError *
classify_error (const GError *error)
{
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED) || error->domain == POSTERN_CLIENT_ERROR)
    return g_error_copy (error);

  if (g_error_matches (error, SECRET_ERROR, SECRET_ERROR_IS_LOCKED) || (error->message != NULL && strstr (error->message, "locked") != NULL))
    return g_error_new_literal (POSTERN_CLIENT_ERROR, POSTERN_CLIENT_ERROR_KEYRING_LOCKED,
                                LOCKED_MESSAGE);

  if (error->domain == G_DBUS_ERROR && (error->code == G_DBUS_ERROR_SERVICE_UNKNOWN || error->code == G_DBUS_ERROR_NAME_HAS_NO_OWNER || error->code == G_DBUS_ERROR_SPAWN_EXEC_FAILED || error->code == G_DBUS_ERROR_SPAWN_FORK_FAILED || error->code == G_DBUS_ERROR_SPAWN_CHILD_EXITED || error->code == G_DBUS_ERROR_SPAWN_SERVICE_NOT_FOUND || error->code == G_DBUS_ERROR_SPAWN_SERVICE_INVALID || error->code == G_DBUS_ERROR_SPAWN_FAILED || error->code == G_DBUS_ERROR_UNKNOWN_METHOD || error->code == G_DBUS_ERROR_UNKNOWN_OBJECT || error->code == G_DBUS_ERROR_DISCONNECTED))
    return g_error_new_literal (POSTERN_CLIENT_ERROR, POSTERN_CLIENT_ERROR_KEYRING_UNAVAILABLE,
                                UNAVAILABLE_MESSAGE);

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CLOSED))
    return g_error_new_literal (POSTERN_CLIENT_ERROR, POSTERN_CLIENT_ERROR_KEYRING_UNAVAILABLE,
                                UNAVAILABLE_MESSAGE);

  return g_error_new (POSTERN_CLIENT_ERROR, POSTERN_CLIENT_ERROR_FAILED,
                      "The keyring failed: %s", error->message);
}

static void
set_state (PosternSecretStore *self,
           PosternSecretStoreState state,
           const GError *error)
{
  g_clear_error (&self->error);
  if (error != NULL)
    self->error = g_error_copy (error);

  if (self->state != state)
    {
      g_debug ("secret store %s@%s: %s", self->user, self->server,
               postern_secret_store_state_to_string (state));
      self->state = state;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_STATE]);
    }
}

static gboolean
has_queued (PosternSecretStore *self)
{
  for (guint i = 0; i < POSTERN_SECRET_N_KINDS; i++)
    if (self->dirty[i])
      return TRUE;
  return FALSE;
}

static void
notify_busy (PosternSecretStore *self)
{
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_BUSY]);
}

static void
complete_flushes (PosternSecretStore *self,
                  const GError *error)
{
  GList *tasks = g_steal_pointer (&self->flush_tasks);

  for (GList *l = tasks; l != NULL; l = l->next)
    {
      g_autoptr (GTask) task = l->data;

      if (error != NULL)
        g_task_return_error (task, g_error_copy (error));
      else
        g_task_return_boolean (task, TRUE);
    }
  g_list_free (tasks);
}

static GHashTable *
account_attributes (PosternSecretStore *self,
                    int kind)
{
  GHashTable *attributes = g_hash_table_new (g_str_hash, g_str_equal);

  g_hash_table_insert (attributes, (char *)"server", self->server);
  g_hash_table_insert (attributes, (char *)"user", self->user);
  if (kind >= 0)
    g_hash_table_insert (attributes, (char *)"kind", (char *)kind_names[kind]);

  return attributes;
}

/* ---- watching for the keyring to become usable -------------------------- */

static void with_unlocked_service (PosternSecretStore *self,
                                   void (*func) (PosternSecretStore *, SecretService *, const GError *, gpointer),
                                   gpointer data);
static void note_failure (PosternSecretStore *self,
                          const GError *error);

static void
probe_unlocked_cb (PosternSecretStore *self,
                   SecretService *service,
                   const GError *error,
                   gpointer data)
{
  if (error != NULL)
    note_failure (self, error);
  else
    set_state (self, POSTERN_SECRET_STORE_READY, NULL);
}

static gboolean
retry_cb (gpointer user_data)
{
  PosternSecretStore *self = user_data;

  self->retry_id = 0;
  if (has_queued (self))
    write_next (self);
  else
    /* Nothing to write: just find out whether the keyring is usable again,
     * so that readers waiting on "state" can carry on. */
    with_unlocked_service (self, probe_unlocked_cb, NULL);
  return G_SOURCE_REMOVE;
}

static void
kick_retry (PosternSecretStore *self)
{
  if (self->state != POSTERN_SECRET_STORE_LOCKED && self->state != POSTERN_SECRET_STORE_UNAVAILABLE)
    return;

  g_clear_handle_id (&self->retry_id, g_source_remove);
  /* A short delay lets a burst of signals (unlock emits several) settle. */
  self->retry_id = g_timeout_add (100, retry_cb, self);
}

static void
keyring_signal_cb (GDBusConnection *connection,
                   const char *sender_name,
                   const char *object_path,
                   const char *interface_name,
                   const char *signal_name,
                   GVariant *parameters,
                   gpointer user_data)
{
  kick_retry (POSTERN_SECRET_STORE (user_data));
}

static void
name_appeared_cb (GDBusConnection *connection,
                  const char *name,
                  const char *name_owner,
                  gpointer user_data)
{
  kick_retry (POSTERN_SECRET_STORE (user_data));
}

static void
watch_keyring (PosternSecretStore *self)
{
  if (self->bus == NULL)
    return;

  if (self->changed_signal_id == 0)
    self->changed_signal_id = g_dbus_connection_signal_subscribe (self->bus, NULL, SECRETS_SERVICE_IFACE,
                                                                  "CollectionChanged", NULL, NULL,
                                                                  G_DBUS_SIGNAL_FLAGS_NONE,
                                                                  keyring_signal_cb, self, NULL);
  if (self->properties_signal_id == 0)
    self->properties_signal_id = g_dbus_connection_signal_subscribe (self->bus, NULL, "org.freedesktop.DBus.Properties",
                                                                     "PropertiesChanged", NULL, SECRETS_COLLECT_IFACE,
                                                                     G_DBUS_SIGNAL_FLAGS_MATCH_ARG0_NAMESPACE,
                                                                     keyring_signal_cb, self, NULL);
  if (self->name_watch_id == 0)
    self->name_watch_id = g_bus_watch_name_on_connection (self->bus, SECRETS_BUS_NAME,
                                                          G_BUS_NAME_WATCHER_FLAGS_NONE,
                                                          name_appeared_cb, NULL, self, NULL);
}

static void
schedule_fallback_retry (PosternSecretStore *self)
{
  g_clear_handle_id (&self->retry_id, g_source_remove);
  self->retry_id = g_timeout_add (RETRY_WHILE_BLOCKED_MS, retry_cb, self);
}

/* Records a failed keyring operation: state, error, watchers. */
static void
note_failure (PosternSecretStore *self,
              const GError *error)
{
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;

  if (g_error_matches (error, POSTERN_CLIENT_ERROR, POSTERN_CLIENT_ERROR_KEYRING_LOCKED))
    set_state (self, POSTERN_SECRET_STORE_LOCKED, error);
  else if (g_error_matches (error, POSTERN_CLIENT_ERROR, POSTERN_CLIENT_ERROR_KEYRING_UNAVAILABLE))
    set_state (self, POSTERN_SECRET_STORE_UNAVAILABLE, error);
  else
    set_state (self, POSTERN_SECRET_STORE_READY, error);

  if (self->state != POSTERN_SECRET_STORE_READY)
    {
      watch_keyring (self);
      if (self->retry_id == 0)
        schedule_fallback_retry (self);
    }
}

/* ---- the connection and the default collection ------------------------- */

typedef void (*ServiceReadyFunc) (PosternSecretStore *self,
                                  SecretService *service,
                                  const GError *error,
                                  gpointer data);

typedef struct
{
  PosternSecretStore *self; /* strong */
  ServiceReadyFunc func;
  gpointer data;
  SecretService *service;
} ServiceOp;

static void
service_op_finish (ServiceOp *op,
                   const GError *error)
{
  op->func (op->self, op->service, error, op->data);
  g_clear_object (&op->service);
  g_object_unref (op->self);
  g_free (op);
}

static void
service_get_cb (GObject *source,
                GAsyncResult *result,
                gpointer user_data)
{
  ServiceOp *op = user_data;
  g_autoptr (GError) error = NULL;
  g_autoptr (GError) classified = NULL;

  op->service = secret_service_get_finish (result, &error);
  if (op->service == NULL)
    {
      classified = classify_error (error);
      service_op_finish (op, classified);
      return;
    }

  service_op_finish (op, NULL);
}

static void
bus_get_cb (GObject *source,
            GAsyncResult *result,
            gpointer user_data)
{
  ServiceOp *op = user_data;
  g_autoptr (GError) error = NULL;
  GDBusConnection *bus = g_bus_get_finish (result, &error);

  if (bus == NULL)
    {
      g_autoptr (GError) unavailable = g_error_new (POSTERN_CLIENT_ERROR, POSTERN_CLIENT_ERROR_KEYRING_UNAVAILABLE,
                                                    "No session bus, so no keyring: %s", error->message);
      service_op_finish (op, unavailable);
      return;
    }

  g_set_object (&op->self->bus, bus);
  g_object_unref (bus);

  secret_service_get (SECRET_SERVICE_OPEN_SESSION, op->self->cancellable, service_get_cb, op);
}

/* Calls @func with the Secret Service proxy (or the error why not). */
static void
with_service (PosternSecretStore *self,
              ServiceReadyFunc func,
              gpointer data)
{
  ServiceOp *op = g_new0 (ServiceOp, 1);

  op->self = g_object_ref (self);
  op->func = func;
  op->data = data;

  if (self->bus == NULL)
    g_bus_get (G_BUS_TYPE_SESSION, self->cancellable, bus_get_cb, op);
  else
    secret_service_get (SECRET_SERVICE_OPEN_SESSION, self->cancellable, service_get_cb, op);
}

typedef void (*LockedFunc) (PosternSecretStore *self,
                            SecretService *service,
                            const GError *error,
                            gpointer data);

typedef struct
{
  PosternSecretStore *self; /* strong */
  SecretService *service;
  LockedFunc func;
  gpointer data;
} LockCheck;

static void
lock_check_finish (LockCheck *check,
                   const GError *error)
{
  check->func (check->self, check->service, error, check->data);
  g_object_unref (check->service);
  g_object_unref (check->self);
  g_free (check);
}

static void
get_locked_cb (GObject *source,
               GAsyncResult *result,
               gpointer user_data)
{
  LockCheck *check = user_data;
  g_autoptr (GError) error = NULL;
  g_autoptr (GVariant) reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), result, &error);
  g_autoptr (GVariant) value = NULL;

  if (reply == NULL)
    {
      g_autoptr (GError) classified = classify_error (error);
      lock_check_finish (check, classified);
      return;
    }

  g_variant_get (reply, "(v)", &value);
  if (g_variant_is_of_type (value, G_VARIANT_TYPE_BOOLEAN) && g_variant_get_boolean (value))
    {
      g_autoptr (GError) locked = g_error_new_literal (POSTERN_CLIENT_ERROR,
                                                       POSTERN_CLIENT_ERROR_KEYRING_LOCKED,
                                                       LOCKED_MESSAGE);
      lock_check_finish (check, locked);
      return;
    }

  lock_check_finish (check, NULL);
}

static void
read_alias_cb (GObject *source,
               GAsyncResult *result,
               gpointer user_data)
{
  LockCheck *check = user_data;
  g_autoptr (GError) error = NULL;
  g_autoptr (GVariant) reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), result, &error);
  const char *path = NULL;

  if (reply == NULL)
    {
      g_autoptr (GError) classified = classify_error (error);
      lock_check_finish (check, classified);
      return;
    }

  g_variant_get (reply, "(&o)", &path);
  if (g_str_equal (path, "/"))
    {
      g_autoptr (GError) none = g_error_new_literal (POSTERN_CLIENT_ERROR,
                                                     POSTERN_CLIENT_ERROR_KEYRING_LOCKED,
                                                     NO_DEFAULT_MESSAGE);
      lock_check_finish (check, none);
      return;
    }

  g_dbus_connection_call (G_DBUS_CONNECTION (source), SECRETS_BUS_NAME, path,
                          "org.freedesktop.DBus.Properties", "Get",
                          g_variant_new ("(ss)", SECRETS_COLLECT_IFACE, "Locked"),
                          G_VARIANT_TYPE ("(v)"), G_DBUS_CALL_FLAGS_NONE,
                          DBUS_CALL_TIMEOUT_MS, check->self->cancellable,
                          get_locked_cb, check);
}

static void
check_default_collection_service_cb (PosternSecretStore *self,
                                     SecretService *service,
                                     const GError *error,
                                     gpointer data)
{
  LockCheck *check = data;

  if (error != NULL)
    {
      check->func (self, NULL, error, check->data);
      g_object_unref (check->self);
      g_free (check);
      return;
    }

  check->service = g_object_ref (service);
  /* Read fresh from the service rather than libsecret's cached proxy
   * property: we need to see an unlock that happened elsewhere. */
  g_dbus_connection_call (g_dbus_proxy_get_connection (G_DBUS_PROXY (service)),
                          SECRETS_BUS_NAME, SECRETS_PATH, SECRETS_SERVICE_IFACE, "ReadAlias",
                          g_variant_new ("(s)", "default"), G_VARIANT_TYPE ("(o)"),
                          G_DBUS_CALL_FLAGS_NONE, DBUS_CALL_TIMEOUT_MS, self->cancellable,
                          read_alias_cb, check);
}

/* Calls @func with the service when the default collection is unlocked,
 * else with KEYRING_LOCKED / KEYRING_UNAVAILABLE. */
static void
with_unlocked_service (PosternSecretStore *self,
                       void (*func) (PosternSecretStore *, SecretService *, const GError *, gpointer),
                       gpointer data)
{
  LockCheck *check = g_new0 (LockCheck, 1);

  check->self = g_object_ref (self);
  check->func = func;
  check->data = data;
  with_service (self, check_default_collection_service_cb, check);
}

/* ---- writing -------------------------------------------------------------- */

static void clear_unlocked_cb (PosternSecretStore *self,
                               SecretService *service,
                               const GError *error,
                               gpointer data);

/* A clear requested while a write was in flight runs once it is done, so
 * the write cannot land after the clear and resurrect an item. */
static gboolean
run_waiting_clear (PosternSecretStore *self)
{
  GList *first;

  if (self->clear_tasks == NULL)
    return FALSE;
  first = self->clear_tasks;
  self->clear_tasks = g_list_remove_link (self->clear_tasks, first);
  with_unlocked_service (self, clear_unlocked_cb, first->data);
  g_list_free_1 (first);
  return TRUE;
}

static void
write_failed (PosternSecretStore *self,
              const GError *error)
{
  self->writing = FALSE;

  /* Put the value back unless a newer one was queued meanwhile. */
  if (self->inflight_kind >= 0)
    {
      int kind = self->inflight_kind;

      if (!self->dirty[kind])
        {
          g_free (self->values[kind]);
          self->values[kind] = g_steal_pointer (&self->inflight_value);
          self->dirty[kind] = TRUE;
        }
      g_clear_pointer (&self->inflight_value, g_free);
      self->inflight_kind = -1;
    }

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      complete_flushes (self, error);
      return;
    }

  if (run_waiting_clear (self))
    {
      complete_flushes (self, error);
      return;
    }

  note_failure (self, error);
  g_debug ("secret store: write failed: %s", error->message);
  g_signal_emit (self, signals[SIGNAL_ERROR], 0, error);
  complete_flushes (self, error);
  schedule_fallback_retry (self);
}

static void
write_done (PosternSecretStore *self)
{
  self->writing = FALSE;
  self->inflight_kind = -1;
  g_clear_pointer (&self->inflight_value, g_free);
  set_state (self, POSTERN_SECRET_STORE_READY, NULL);
  g_clear_handle_id (&self->retry_id, g_source_remove);
  if (run_waiting_clear (self))
    {
      complete_flushes (self, NULL);
      return;
    }
  write_next (self);
}

static void
store_cb (GObject *source,
          GAsyncResult *result,
          gpointer user_data)
{
  g_autoptr (PosternSecretStore) self = user_data;
  g_autoptr (GError) error = NULL;

  if (!secret_service_store_finish (SECRET_SERVICE (source), result, &error))
    {
      g_autoptr (GError) classified = classify_error (error);
      write_failed (self, classified);
      return;
    }
  write_done (self);
}

static void
clear_cb (GObject *source,
          GAsyncResult *result,
          gpointer user_data)
{
  g_autoptr (PosternSecretStore) self = user_data;
  g_autoptr (GError) error = NULL;

  /* FALSE without error: there was nothing to delete. */
  if (!secret_service_clear_finish (SECRET_SERVICE (source), result, &error) && error != NULL)
    {
      g_autoptr (GError) classified = classify_error (error);
      write_failed (self, classified);
      return;
    }
  write_done (self);
}

static void
write_unlocked_cb (PosternSecretStore *self,
                   SecretService *service,
                   const GError *error,
                   gpointer data)
{
  g_autoptr (GHashTable) attributes = NULL;
  int kind = -1;

  if (error != NULL)
    {
      write_failed (self, error);
      return;
    }

  for (guint i = 0; i < POSTERN_SECRET_N_KINDS && kind < 0; i++)
    if (self->dirty[i])
      kind = (int)i;

  if (kind < 0)
    {
      write_done (self);
      return;
    }

  self->inflight_kind = kind;
  self->inflight_value = g_steal_pointer (&self->values[kind]);
  self->dirty[kind] = FALSE;
  attributes = account_attributes (self, kind);

  if (self->inflight_value != NULL)
    {
      g_autoptr (SecretValue) value = secret_value_new (self->inflight_value, -1, "text/plain");
      g_autofree char *label = g_strdup_printf ("Postern %s for %s on %s", kind_names[kind],
                                                self->user, self->server);

      secret_service_store (service, postern_secret_schema_get (), attributes,
                            SECRET_COLLECTION_DEFAULT, label, value, self->cancellable,
                            store_cb, g_object_ref (self));
    }
  else
    secret_service_clear (service, postern_secret_schema_get (), attributes,
                          self->cancellable, clear_cb, g_object_ref (self));
}

static void
write_next (PosternSecretStore *self)
{
  if (self->writing)
    return;

  g_clear_handle_id (&self->coalesce_id, g_source_remove);

  if (!has_queued (self))
    {
      complete_flushes (self, NULL);
      notify_busy (self);
      return;
    }

  self->writing = TRUE;
  with_unlocked_service (self, write_unlocked_cb, NULL);
}

static gboolean
coalesce_cb (gpointer user_data)
{
  PosternSecretStore *self = user_data;

  self->coalesce_id = 0;
  write_next (self);
  return G_SOURCE_REMOVE;
}

void
postern_secret_store_save (PosternSecretStore *self,
                           PosternSecretKind kind,
                           const char *value)
{
  gboolean was_busy;

  g_return_if_fail (POSTERN_IS_SECRET_STORE (self));
  g_return_if_fail ((guint)kind < POSTERN_SECRET_N_KINDS);
  g_return_if_fail (value == NULL || g_utf8_validate (value, -1, NULL));

  was_busy = postern_secret_store_get_busy (self);

  g_free (self->values[kind]);
  self->values[kind] = g_strdup (value);
  self->dirty[kind] = TRUE;

  /* While blocked (locked/unavailable) the watchers trigger the write. */
  if (self->state != POSTERN_SECRET_STORE_LOCKED && self->state != POSTERN_SECRET_STORE_UNAVAILABLE)
    {
      g_clear_handle_id (&self->coalesce_id, g_source_remove);
      self->coalesce_id = g_timeout_add (POSTERN_SECRET_COALESCE_MS, coalesce_cb, self);
    }

  if (!was_busy)
    notify_busy (self);
}

void
postern_secret_store_flush_async (PosternSecretStore *self,
                                  GCancellable *cancellable,
                                  GAsyncReadyCallback callback,
                                  gpointer user_data)
{
  g_autoptr (GTask) task = NULL;

  g_return_if_fail (POSTERN_IS_SECRET_STORE (self));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, postern_secret_store_flush_async);

  if (!has_queued (self) && !self->writing)
    {
      g_task_return_boolean (task, TRUE);
      return;
    }

  self->flush_tasks = g_list_append (self->flush_tasks, g_steal_pointer (&task));
  write_next (self);
}

gboolean
postern_secret_store_flush_finish (PosternSecretStore *self,
                                   GAsyncResult *result,
                                   GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

/* ---- reading -------------------------------------------------------------- */

static void
load_secret_cb (GObject *source,
                GAsyncResult *result,
                gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  PosternSecretStore *self = g_task_get_source_object (task);
  SecretItem *item = SECRET_ITEM (source);
  g_autoptr (GError) error = NULL;
  g_autoptr (SecretValue) value = NULL;
  const char *text;
  gsize length;

  if (!secret_item_load_secret_finish (item, result, &error))
    {
      g_autoptr (GError) classified = classify_error (error);
      note_failure (self, classified);
      g_task_return_error (task, g_steal_pointer (&classified));
      return;
    }

  value = secret_item_get_secret (item);
  if (value == NULL)
    {
      g_task_return_new_error (task, POSTERN_CLIENT_ERROR, POSTERN_CLIENT_ERROR_FAILED,
                               "The keyring returned no secret");
      return;
    }

  text = secret_value_get (value, &length);
  if (length > SECRET_MAX_VALUE || !g_utf8_validate (text, length, NULL) || memchr (text, '\0', length) != NULL)
    {
      g_task_return_new_error (task, POSTERN_CLIENT_ERROR, POSTERN_CLIENT_ERROR_FAILED,
                               "The keyring item is not text");
      return;
    }

  if (self->state != POSTERN_SECRET_STORE_READY)
    set_state (self, POSTERN_SECRET_STORE_READY, NULL);
  g_task_return_pointer (task, g_strndup (text, length), g_free);
}

static void
search_cb (GObject *source,
           GAsyncResult *result,
           gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  PosternSecretStore *self = g_task_get_source_object (task);
  g_autoptr (GError) error = NULL;
  GList *items;
  SecretItem *item;

  items = secret_service_search_finish (SECRET_SERVICE (source), result, &error);
  if (error != NULL)
    {
      g_autoptr (GError) classified = classify_error (error);
      note_failure (self, classified);
      g_task_return_error (task, g_steal_pointer (&classified));
      return;
    }

  if (items == NULL)
    {
      if (self->state == POSTERN_SECRET_STORE_UNKNOWN)
        set_state (self, POSTERN_SECRET_STORE_READY, NULL);
      g_task_return_pointer (task, NULL, NULL);
      return;
    }

  item = g_object_ref (items->data);
  g_list_free_full (items, g_object_unref);

  if (secret_item_get_locked (item))
    {
      g_autoptr (GError) locked = g_error_new_literal (POSTERN_CLIENT_ERROR,
                                                       POSTERN_CLIENT_ERROR_KEYRING_LOCKED,
                                                       LOCKED_MESSAGE);
      note_failure (self, locked);
      g_task_return_error (task, g_steal_pointer (&locked));
      g_object_unref (item);
      return;
    }

  {
    GCancellable *task_cancellable = g_task_get_cancellable (task);
    secret_item_load_secret (item, task_cancellable, load_secret_cb,
                             g_steal_pointer (&task));
  }
  g_object_unref (item);
}

static void
load_service_cb (PosternSecretStore *self,
                 SecretService *service,
                 const GError *error,
                 gpointer data)
{
  g_autoptr (GTask) task = data;
  g_autoptr (GHashTable) attributes = NULL;
  int kind;

  if (error != NULL)
    {
      note_failure (self, error);
      g_task_return_error (task, g_error_copy (error));
      return;
    }

  kind = GPOINTER_TO_INT (g_task_get_task_data (task));
  attributes = account_attributes (self, kind);
  /* No SECRET_SEARCH_UNLOCK: a locked item is reported, never prompted for. */
  {
    GCancellable *task_cancellable = g_task_get_cancellable (task);
    secret_service_search (service, postern_secret_schema_get (), attributes,
                           SECRET_SEARCH_NONE, task_cancellable,
                           search_cb, g_steal_pointer (&task));
  }
}

void
postern_secret_store_load_async (PosternSecretStore *self,
                                 PosternSecretKind kind,
                                 GCancellable *cancellable,
                                 GAsyncReadyCallback callback,
                                 gpointer user_data)
{
  g_autoptr (GTask) task = NULL;

  g_return_if_fail (POSTERN_IS_SECRET_STORE (self));
  g_return_if_fail ((guint)kind < POSTERN_SECRET_N_KINDS);

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, postern_secret_store_load_async);
  g_task_set_task_data (task, GINT_TO_POINTER (kind), NULL);

  if (self->dirty[kind])
    {
      g_task_return_pointer (task, g_strdup (self->values[kind]), g_free);
      return;
    }
  if (self->inflight_kind == (int)kind)
    {
      g_task_return_pointer (task, g_strdup (self->inflight_value), g_free);
      return;
    }

  with_service (self, load_service_cb, g_steal_pointer (&task));
}

char *
postern_secret_store_load_finish (PosternSecretStore *self,
                                  GAsyncResult *result,
                                  GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

/* ---- clearing ------------------------------------------------------------- */

static void
clear_all_cb (GObject *source,
              GAsyncResult *result,
              gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  PosternSecretStore *self = g_task_get_source_object (task);
  g_autoptr (GError) error = NULL;

  if (!secret_service_clear_finish (SECRET_SERVICE (source), result, &error) && error != NULL)
    {
      g_autoptr (GError) classified = classify_error (error);
      note_failure (self, classified);
      g_task_return_error (task, g_steal_pointer (&classified));
      return;
    }

  g_task_return_boolean (task, TRUE);
}

static void
clear_unlocked_cb (PosternSecretStore *self,
                   SecretService *service,
                   const GError *error,
                   gpointer data)
{
  g_autoptr (GTask) task = data;
  g_autoptr (GHashTable) attributes = NULL;

  if (error != NULL)
    {
      note_failure (self, error);
      g_task_return_error (task, g_error_copy (error));
      return;
    }

  attributes = account_attributes (self, -1);
  {
    GCancellable *task_cancellable = g_task_get_cancellable (task);
    secret_service_clear (service, postern_secret_schema_get (), attributes,
                          task_cancellable, clear_all_cb, g_steal_pointer (&task));
  }
}

void
postern_secret_store_clear_async (PosternSecretStore *self,
                                  GCancellable *cancellable,
                                  GAsyncReadyCallback callback,
                                  gpointer user_data)
{
  GTask *task;

  g_return_if_fail (POSTERN_IS_SECRET_STORE (self));

  for (guint i = 0; i < POSTERN_SECRET_N_KINDS; i++)
    {
      g_clear_pointer (&self->values[i], g_free);
      self->dirty[i] = FALSE;
    }
  g_clear_handle_id (&self->coalesce_id, g_source_remove);
  notify_busy (self);

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, postern_secret_store_clear_async);
  if (self->writing)
    {
      self->clear_tasks = g_list_append (self->clear_tasks, task);
      return;
    }
  with_unlocked_service (self, clear_unlocked_cb, task);
}

gboolean
postern_secret_store_clear_finish (PosternSecretStore *self,
                                   GAsyncResult *result,
                                   GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

/* ---- unlocking ---------------------------------------------------------- */

static void
unlock_cb (GObject *source,
           GAsyncResult *result,
           gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  PosternSecretStore *self = g_task_get_source_object (task);
  g_autoptr (GError) error = NULL;

  if (secret_service_unlock_finish (SECRET_SERVICE (source), result, NULL, &error) < 0 || error != NULL)
    {
      g_autoptr (GError) classified = classify_error (error);
      g_task_return_error (task, g_steal_pointer (&classified));
      return;
    }

  kick_retry (self);
  g_task_return_boolean (task, TRUE);
}

static void
collection_for_alias_cb (GObject *source,
                         GAsyncResult *result,
                         gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  g_autoptr (GError) error = NULL;
  g_autoptr (SecretCollection) collection = secret_collection_for_alias_finish (result, &error);
  GList *objects;

  if (collection == NULL)
    {
      if (error != NULL)
        g_task_return_error (task, classify_error (error));
      else
        g_task_return_new_error (task, POSTERN_CLIENT_ERROR, POSTERN_CLIENT_ERROR_KEYRING_UNAVAILABLE,
                                 NO_DEFAULT_MESSAGE);
      return;
    }

  objects = g_list_append (NULL, collection);
  {
    GCancellable *task_cancellable = g_task_get_cancellable (task);
    secret_service_unlock (secret_collection_get_service (collection), objects,
                           task_cancellable, unlock_cb, g_steal_pointer (&task));
  }
  g_list_free (objects);
}

static void
unlock_service_cb (PosternSecretStore *self,
                   SecretService *service,
                   const GError *error,
                   gpointer data)
{
  g_autoptr (GTask) task = data;

  if (error != NULL)
    {
      g_task_return_error (task, g_error_copy (error));
      return;
    }

  {
    GCancellable *task_cancellable = g_task_get_cancellable (task);
    secret_collection_for_alias (service, SECRET_COLLECTION_DEFAULT, SECRET_COLLECTION_NONE,
                                 task_cancellable, collection_for_alias_cb,
                                 g_steal_pointer (&task));
  }
}

void
postern_secret_store_unlock_async (PosternSecretStore *self,
                                   GCancellable *cancellable,
                                   GAsyncReadyCallback callback,
                                   gpointer user_data)
{
  GTask *task;

  g_return_if_fail (POSTERN_IS_SECRET_STORE (self));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, postern_secret_store_unlock_async);
  with_service (self, unlock_service_cb, task);
}

gboolean
postern_secret_store_unlock_finish (PosternSecretStore *self,
                                    GAsyncResult *result,
                                    GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

/* ---- finding accounts --------------------------------------------------- */

static void
find_search_cb (GObject *source,
                GAsyncResult *result,
                gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) servers = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GPtrArray) users = g_ptr_array_new_with_free_func (g_free);
  GList *items;
  GStrv *pair;

  items = secret_service_search_finish (SECRET_SERVICE (source), result, &error);
  if (error != NULL)
    {
      g_task_return_error (task, classify_error (error));
      return;
    }

  for (GList *l = items; l != NULL; l = l->next)
    {
      g_autoptr (GHashTable) attributes = secret_item_get_attributes (l->data);
      const char *server = g_hash_table_lookup (attributes, "server");
      const char *user = g_hash_table_lookup (attributes, "user");

      if (server != NULL && user != NULL && g_utf8_validate (server, -1, NULL) && g_utf8_validate (user, -1, NULL))
        {
          g_ptr_array_add (servers, g_strdup (server));
          g_ptr_array_add (users, g_strdup (user));
        }
    }
  g_list_free_full (items, g_object_unref);

  g_ptr_array_add (servers, NULL);
  g_ptr_array_add (users, NULL);
  pair = g_new0 (GStrv, 2);
  pair[0] = (GStrv)g_ptr_array_free (g_steal_pointer (&servers), FALSE);
  pair[1] = (GStrv)g_ptr_array_free (g_steal_pointer (&users), FALSE);
  g_task_return_pointer (task, pair, NULL);
}

static void
find_service_cb (GObject *source,
                 GAsyncResult *result,
                 gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  g_autoptr (GError) error = NULL;
  g_autoptr (SecretService) service = secret_service_get_finish (result, &error);
  g_autoptr (GHashTable) attributes = NULL;

  if (service == NULL)
    {
      g_task_return_error (task, classify_error (error));
      return;
    }

  attributes = g_hash_table_new (g_str_hash, g_str_equal);
  g_hash_table_insert (attributes, (char *)"kind", (char *)kind_names[POSTERN_SECRET_TOKEN]);
  {
    GCancellable *task_cancellable = g_task_get_cancellable (task);
    secret_service_search (service, postern_secret_schema_get (), attributes,
                           SECRET_SEARCH_ALL, task_cancellable,
                           find_search_cb, g_steal_pointer (&task));
  }
}

static void
find_bus_cb (GObject *source,
             GAsyncResult *result,
             gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  g_autoptr (GError) error = NULL;
  g_autoptr (GDBusConnection) bus = g_bus_get_finish (result, &error);

  if (bus == NULL)
    {
      g_task_return_new_error (task, POSTERN_CLIENT_ERROR, POSTERN_CLIENT_ERROR_KEYRING_UNAVAILABLE,
                               "No session bus, so no keyring: %s", error->message);
      return;
    }

  {
    GCancellable *task_cancellable = g_task_get_cancellable (task);
    secret_service_get (SECRET_SERVICE_OPEN_SESSION, task_cancellable,
                        find_service_cb, g_steal_pointer (&task));
  }
}

static void
free_account_pair (gpointer data)
{
  GStrv *pair = data;

  g_strfreev (pair[0]);
  g_strfreev (pair[1]);
  g_free (pair);
}

void
postern_secret_store_find_accounts_async (GCancellable *cancellable,
                                          GAsyncReadyCallback callback,
                                          gpointer user_data)
{
  GTask *task = g_task_new (NULL, cancellable, callback, user_data);

  g_task_set_source_tag (task, postern_secret_store_find_accounts_async);
  g_bus_get (G_BUS_TYPE_SESSION, cancellable, find_bus_cb, task);
}

gboolean
postern_secret_store_find_accounts_finish (GAsyncResult *result,
                                           GStrv *out_servers,
                                           GStrv *out_users,
                                           GError **error)
{
  GStrv *pair;

  g_return_val_if_fail (g_task_is_valid (result, NULL), FALSE);

  pair = g_task_propagate_pointer (G_TASK (result), error);
  if (pair == NULL)
    return FALSE;

  if (out_servers != NULL)
    *out_servers = g_steal_pointer (&pair[0]);
  if (out_users != NULL)
    *out_users = g_steal_pointer (&pair[1]);
  free_account_pair (pair);
  return TRUE;
}

/* ---- GObject ------------------------------------------------------------ */

PosternSecretStore *
postern_secret_store_new (const char *server,
                          const char *user)
{
  g_return_val_if_fail (server != NULL && g_utf8_validate (server, -1, NULL), NULL);
  g_return_val_if_fail (user != NULL && g_utf8_validate (user, -1, NULL), NULL);

  return g_object_new (POSTERN_TYPE_SECRET_STORE, "server", server, "user", user, NULL);
}

const char *
postern_secret_store_get_server (PosternSecretStore *self)
{
  g_return_val_if_fail (POSTERN_IS_SECRET_STORE (self), NULL);
  return self->server;
}

const char *
postern_secret_store_get_user (PosternSecretStore *self)
{
  g_return_val_if_fail (POSTERN_IS_SECRET_STORE (self), NULL);
  return self->user;
}

PosternSecretStoreState
postern_secret_store_get_state (PosternSecretStore *self)
{
  g_return_val_if_fail (POSTERN_IS_SECRET_STORE (self), POSTERN_SECRET_STORE_UNKNOWN);
  return self->state;
}

const GError *
postern_secret_store_get_error (PosternSecretStore *self)
{
  g_return_val_if_fail (POSTERN_IS_SECRET_STORE (self), NULL);
  return self->error;
}

gboolean
postern_secret_store_get_busy (PosternSecretStore *self)
{
  g_return_val_if_fail (POSTERN_IS_SECRET_STORE (self), FALSE);
  return self->writing || has_queued (self);
}

static void
postern_secret_store_dispose (GObject *object)
{
  PosternSecretStore *self = POSTERN_SECRET_STORE (object);

  if (has_queued (self))
    g_debug ("secret store %s@%s: disposed with unwritten changes", self->user, self->server);

  g_cancellable_cancel (self->cancellable);
  g_clear_handle_id (&self->coalesce_id, g_source_remove);
  g_clear_handle_id (&self->retry_id, g_source_remove);
  if (self->bus != NULL)
    {
      if (self->changed_signal_id != 0)
        g_dbus_connection_signal_unsubscribe (self->bus, self->changed_signal_id);
      if (self->properties_signal_id != 0)
        g_dbus_connection_signal_unsubscribe (self->bus, self->properties_signal_id);
      self->changed_signal_id = self->properties_signal_id = 0;
    }
  g_clear_handle_id (&self->name_watch_id, g_bus_unwatch_name);
  g_clear_object (&self->bus);

  G_OBJECT_CLASS (postern_secret_store_parent_class)->dispose (object);
}

static void
postern_secret_store_finalize (GObject *object)
{
  PosternSecretStore *self = POSTERN_SECRET_STORE (object);

  g_free (self->server);
  g_free (self->user);
  g_clear_error (&self->error);
  for (guint i = 0; i < POSTERN_SECRET_N_KINDS; i++)
    g_free (self->values[i]);
  g_free (self->inflight_value);
  g_clear_object (&self->cancellable);

  G_OBJECT_CLASS (postern_secret_store_parent_class)->finalize (object);
}

static void
postern_secret_store_get_property (GObject *object,
                                   guint prop_id,
                                   GValue *value,
                                   GParamSpec *pspec)
{
  PosternSecretStore *self = POSTERN_SECRET_STORE (object);

  switch (prop_id)
    {
      case PROP_SERVER:
        g_value_set_string (value, self->server);
        break;
      case PROP_USER:
        g_value_set_string (value, self->user);
        break;
      case PROP_STATE:
        g_value_set_int (value, self->state);
        break;
      case PROP_BUSY:
        g_value_set_boolean (value, postern_secret_store_get_busy (self));
        break;
      default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
postern_secret_store_set_property (GObject *object,
                                   guint prop_id,
                                   const GValue *value,
                                   GParamSpec *pspec)
{
  PosternSecretStore *self = POSTERN_SECRET_STORE (object);

  switch (prop_id)
    {
      case PROP_SERVER:
        self->server = g_value_dup_string (value);
        break;
      case PROP_USER:
        self->user = g_value_dup_string (value);
        break;
      default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
postern_secret_store_class_init (PosternSecretStoreClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = postern_secret_store_dispose;
  object_class->finalize = postern_secret_store_finalize;
  object_class->get_property = postern_secret_store_get_property;
  object_class->set_property = postern_secret_store_set_property;

  properties[PROP_SERVER] = g_param_spec_string ("server", NULL, NULL, NULL,
                                                 G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  properties[PROP_USER] = g_param_spec_string ("user", NULL, NULL, NULL,
                                               G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  /* An int rather than a registered enum: PosternSecretStoreState values. */
  properties[PROP_STATE] = g_param_spec_int ("state", NULL, NULL,
                                             POSTERN_SECRET_STORE_UNKNOWN, POSTERN_SECRET_STORE_UNAVAILABLE,
                                             POSTERN_SECRET_STORE_UNKNOWN,
                                             G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_BUSY] = g_param_spec_boolean ("busy", NULL, NULL, FALSE,
                                                G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  signals[SIGNAL_ERROR] = g_signal_new ("error", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                                        NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_ERROR);
}

static void
postern_secret_store_init (PosternSecretStore *self)
{
  self->inflight_kind = -1;
  self->cancellable = g_cancellable_new ();
}
